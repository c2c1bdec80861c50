//! Reports and what operators did about them. A listing taken down, or the listings of a store
//! suspended, are archived (so search, store pages, carts and checkout leave them out as they do
//! any archived listing) and the action keeps the status each had, to give it back when the
//! action is reversed.

use crate::{Page, Result, Store, StoreError, Tx};
use souk_domain::id::Kind;
use souk_domain::moderation::{Action, Reason, Target};
use sqlx::Row;

#[derive(Debug, Clone)]
pub struct ReportRow {
    pub id: String,
    pub reporter_id: String,
    pub target: Target,
    pub target_id: String,
    pub reason: Reason,
    pub details: String,
    pub state: String,
    pub created_at: i64,
    pub handled_by: Option<String>,
    pub handled_at: Option<i64>,
    pub note: Option<String>,
}

const REPORT_COLUMNS: &str =
    "id, reporter_id, target_kind, target_id, reason, details, state, created_at, handled_by, handled_at, note";

fn report_from(r: &sqlx::any::AnyRow) -> Result<ReportRow> {
    let kind: String = r.try_get("target_kind")?;
    let reason: String = r.try_get("reason")?;
    Ok(ReportRow {
        id: r.try_get("id")?,
        reporter_id: r.try_get("reporter_id")?,
        target: Target::parse(&kind).unwrap_or(Target::Product),
        target_id: r.try_get("target_id")?,
        reason: Reason::parse(&reason).unwrap_or(Reason::Other),
        details: r.try_get("details")?,
        state: r.try_get("state")?,
        created_at: r.try_get("created_at")?,
        handled_by: r.try_get("handled_by")?,
        handled_at: r.try_get("handled_at")?,
        note: r.try_get("note")?,
    })
}

#[derive(Debug, Clone)]
pub struct ActionRow {
    pub id: String,
    pub action: Action,
    pub target_id: String,
    pub reason: String,
    pub actor_id: String,
    pub created_at: i64,
    pub reversed_at: Option<i64>,
    pub reversed_by: Option<String>,
    pub reversal_reason: Option<String>,
    /// What the person concerned answered, once, and the operator's answer to that.
    pub appeal: Option<String>,
    pub appealed_at: Option<i64>,
    pub appeal_answer: Option<String>,
}

const ACTION_COLUMNS: &str = "id, kind, target_id, reason, actor_id, created_at, reversed_at, reversed_by, \
                              reversal_reason, appeal, appealed_at, appeal_answer";

fn action_from(r: &sqlx::any::AnyRow) -> Result<ActionRow> {
    let kind: String = r.try_get("kind")?;
    Ok(ActionRow {
        id: r.try_get("id")?,
        action: Action::parse(&kind).unwrap_or(Action::TakeDown),
        target_id: r.try_get("target_id")?,
        reason: r.try_get("reason")?,
        actor_id: r.try_get("actor_id")?,
        created_at: r.try_get("created_at")?,
        reversed_at: r.try_get("reversed_at")?,
        reversed_by: r.try_get("reversed_by")?,
        reversal_reason: r.try_get("reversal_reason")?,
        appeal: r.try_get("appeal")?,
        appealed_at: r.try_get("appealed_at")?,
        appeal_answer: r.try_get("appeal_answer")?,
    })
}

/// What a reported thing is, as the queue shows it: its words, whose it is, and where to see it.
#[derive(Debug, Clone)]
pub struct TargetSummary {
    /// A listing's title, a store's name, a review's or a message's text.
    pub text: String,
    /// The user it concerns: the seller of a listing or store, the author of a review or message.
    pub owner_id: String,
    /// The page that shows it (a product page for a review, a conversation for a message).
    pub link: String,
    /// For a message: the two people of its conversation (buyer, seller), who alone may report it.
    pub parties: Option<(String, String)>,
}

impl Store {
    /// The reported thing, or `NotFound`.
    pub async fn target_summary(&self, target: Target, id: &str) -> Result<TargetSummary> {
        let sql = match target {
            Target::Product => {
                "SELECT p.title, s.owner_id, '/products/' || p.id, NULL, NULL FROM products p JOIN stores s ON s.id = p.store_id WHERE p.id = $1"
            }
            Target::Store => "SELECT name, owner_id, '/stores/' || slug, NULL, NULL FROM stores WHERE id = $1",
            Target::Review => "SELECT body, buyer_id, '/products/' || product_id, NULL, NULL FROM reviews WHERE id = $1",
            Target::Message => {
                "SELECT m.body, m.sender_id, '/messages/' || m.conversation_id, c.buyer_id, s.owner_id \
                 FROM messages m JOIN conversations c ON c.id = m.conversation_id JOIN stores s ON s.id = c.store_id WHERE m.id = $1"
            }
        };
        let row =
            sqlx::query(sql).bind(id).fetch_optional(&mut *self.reader().await?).await?.ok_or(StoreError::NotFound)?;
        let buyer: Option<String> = row.try_get(3)?;
        let seller: Option<String> = row.try_get(4)?;
        Ok(TargetSummary {
            text: row.try_get(0)?,
            owner_id: row.try_get(1)?,
            link: row.try_get(2)?,
            parties: buyer.zip(seller),
        })
    }

    /// Reports in `state` (all when `None`), oldest first: the queue reads from the front.
    pub async fn reports(&self, state: Option<&str>, cursor: Option<&str>, limit: usize) -> Result<Page<ReportRow>> {
        let sql = format!(
            "SELECT {REPORT_COLUMNS} FROM reports WHERE ($1 = '' OR state = $1) AND id > $2 ORDER BY id LIMIT $3"
        );
        let rows = sqlx::query(&sql)
            .bind(state.unwrap_or(""))
            .bind(cursor.unwrap_or(""))
            .bind(limit as i64 + 1)
            .fetch_all(&mut *self.reader().await?)
            .await?;
        let rows = rows.iter().map(report_from).collect::<Result<Vec<_>>>()?;
        Ok(Page::from_rows(rows, limit, |r| r.id.clone()))
    }

    pub async fn report(&self, id: &str) -> Result<ReportRow> {
        let sql = format!("SELECT {REPORT_COLUMNS} FROM reports WHERE id = $1");
        let row = sqlx::query(&sql).bind(id).fetch_optional(&mut *self.reader().await?).await?;
        report_from(&row.ok_or(StoreError::NotFound)?)
    }

    /// Every report about one thing, newest first: what the queue shows as its history.
    pub async fn reports_on(&self, target: Target, target_id: &str) -> Result<Vec<ReportRow>> {
        let sql = format!(
            "SELECT {REPORT_COLUMNS} FROM reports WHERE target_kind = $1 AND target_id = $2 ORDER BY id DESC LIMIT 50"
        );
        let rows =
            sqlx::query(&sql).bind(target.as_str()).bind(target_id).fetch_all(&mut *self.reader().await?).await?;
        rows.iter().map(report_from).collect()
    }

    /// A reporter's reports, newest first (at most 50).
    pub async fn reports_by(&self, reporter_id: &str) -> Result<Vec<ReportRow>> {
        let sql = format!("SELECT {REPORT_COLUMNS} FROM reports WHERE reporter_id = $1 ORDER BY id DESC LIMIT 50");
        let rows = sqlx::query(&sql).bind(reporter_id).fetch_all(&mut *self.reader().await?).await?;
        rows.iter().map(report_from).collect()
    }

    /// What operators did to one thing (a listing, store or user), newest first.
    pub async fn actions_on(&self, target_id: &str) -> Result<Vec<ActionRow>> {
        let sql = format!("SELECT {ACTION_COLUMNS} FROM moderation_actions WHERE target_id = $1 ORDER BY id DESC");
        let rows = sqlx::query(&sql).bind(target_id).fetch_all(&mut *self.reader().await?).await?;
        rows.iter().map(action_from).collect()
    }

    /// The action of `kind` in force on a target, if any.
    pub async fn action_in_force(&self, action: Action, target_id: &str) -> Result<Option<ActionRow>> {
        in_force(&mut *self.reader().await?, action, target_id).await
    }

    /// Actions in force with an appeal not yet answered, oldest appeal first.
    pub async fn pending_appeals(&self) -> Result<Vec<ActionRow>> {
        let sql = format!(
            "SELECT {ACTION_COLUMNS} FROM moderation_actions \
             WHERE appeal IS NOT NULL AND appeal_answer IS NULL AND reversed_at IS NULL ORDER BY appealed_at LIMIT 100"
        );
        let rows = sqlx::query(&sql).fetch_all(&mut *self.reader().await?).await?;
        rows.iter().map(action_from).collect()
    }

    /// Actions of `kind` in force, oldest first (the listings waiting for review).
    pub async fn actions_in_force(&self, action: Action) -> Result<Vec<ActionRow>> {
        let sql = format!(
            "SELECT {ACTION_COLUMNS} FROM moderation_actions WHERE kind = $1 AND reversed_at IS NULL ORDER BY id LIMIT 100"
        );
        let rows = sqlx::query(&sql).bind(action.as_str()).fetch_all(&mut *self.reader().await?).await?;
        rows.iter().map(action_from).collect()
    }

    /// The reviews of an order: their ids, and whether an operator hid each.
    pub async fn order_reviews(&self, order_id: &str) -> Result<Vec<(String, bool)>> {
        let rows = sqlx::query("SELECT id, hidden_at FROM reviews WHERE order_id = $1 ORDER BY position")
            .bind(order_id)
            .fetch_all(&mut *self.reader().await?)
            .await?;
        rows.iter().map(|r| Ok((r.try_get(0)?, r.try_get::<Option<i64>, _>(1)?.is_some()))).collect()
    }

    /// A marketplace setting, if set.
    pub async fn setting(&self, key: &str) -> Result<Option<String>> {
        let row = sqlx::query("SELECT value FROM settings WHERE key = $1")
            .bind(key)
            .fetch_optional(&mut *self.reader().await?)
            .await?;
        row.map(|r| r.try_get(0)).transpose().map_err(Into::into)
    }

    pub async fn action(&self, id: &str) -> Result<ActionRow> {
        let sql = format!("SELECT {ACTION_COLUMNS} FROM moderation_actions WHERE id = $1");
        let row = sqlx::query(&sql).bind(id).fetch_optional(&mut *self.reader().await?).await?;
        action_from(&row.ok_or(StoreError::NotFound)?)
    }
}

async fn in_force(conn: &mut sqlx::AnyConnection, action: Action, target_id: &str) -> Result<Option<ActionRow>> {
    let sql = format!(
        "SELECT {ACTION_COLUMNS} FROM moderation_actions WHERE kind = $1 AND target_id = $2 AND reversed_at IS NULL"
    );
    let row = sqlx::query(&sql).bind(action.as_str()).bind(target_id).fetch_optional(conn).await?;
    row.as_ref().map(action_from).transpose()
}

impl Tx {
    /// The action of `kind` in force on a target, read in this transaction.
    pub async fn action_in_force(&mut self, action: Action, target_id: &str) -> Result<Option<ActionRow>> {
        in_force(self.conn(), action, target_id).await
    }

    pub async fn create_report(
        &mut self,
        reporter_id: &str,
        target: Target,
        target_id: &str,
        reason: Reason,
        details: &str,
    ) -> Result<ReportRow> {
        let id = self.store().new_id(Kind::Report);
        let now = self.store().now_ms();
        sqlx::query(
            "INSERT INTO reports (id, reporter_id, target_kind, target_id, reason, details, state, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, 'open', $7)",
        )
        .bind(&id)
        .bind(reporter_id)
        .bind(target.as_str())
        .bind(target_id)
        .bind(reason.as_str())
        .bind(details)
        .bind(now)
        .execute(self.conn())
        .await?;
        let sql = format!("SELECT {REPORT_COLUMNS} FROM reports WHERE id = $1");
        report_from(&sqlx::query(&sql).bind(&id).fetch_one(self.conn()).await?)
    }

    /// Closes the open reports about a target as `state` (`actioned`, `dismissed`); how many.
    pub async fn close_reports(
        &mut self,
        target: Target,
        target_id: &str,
        state: &str,
        by: &str,
        note: &str,
    ) -> Result<u64> {
        let now = self.store().now_ms();
        let done = sqlx::query(
            "UPDATE reports SET state = $1, handled_by = $2, handled_at = $3, note = $4 \
             WHERE target_kind = $5 AND target_id = $6 AND state = 'open'",
        )
        .bind(state)
        .bind(by)
        .bind(now)
        .bind(note)
        .bind(target.as_str())
        .bind(target_id)
        .execute(self.conn())
        .await?;
        Ok(done.rows_affected())
    }

    /// Archives `products` that are not archived yet; the `id=status` lines to give them back.
    async fn hide_products(&mut self, products: &[(String, String)]) -> Result<String> {
        let now = self.store().now_ms();
        let mut restore = String::new();
        for (id, status) in products.iter().filter(|(_, s)| s != "archived") {
            sqlx::query("UPDATE products SET status = 'archived', updated_at = $1 WHERE id = $2")
                .bind(now)
                .bind(id)
                .execute(self.conn())
                .await?;
            restore.push_str(&format!("{id}={status}\n"));
        }
        Ok(restore)
    }

    /// Records an action in force; a second of its kind on the same target is a conflict.
    async fn record_action(
        &mut self,
        action: Action,
        target_id: &str,
        reason: &str,
        actor: &str,
        restore: &str,
    ) -> Result<ActionRow> {
        let id = self.store().new_id(Kind::Moderation);
        let now = self.store().now_ms();
        let res = sqlx::query(
            "INSERT INTO moderation_actions (id, kind, target_id, reason, actor_id, created_at, restore) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&id)
        .bind(action.as_str())
        .bind(target_id)
        .bind(reason)
        .bind(actor)
        .bind(now)
        .bind(restore)
        .execute(self.conn())
        .await;
        match res {
            Err(e) if crate::is_unique_violation(&e) => {
                return Err(StoreError::Conflict {
                    kind: crate::Conflict::InvalidState,
                    message: "this is in force already".into(),
                })
            }
            Err(e) => return Err(e.into()),
            Ok(_) => {}
        }
        let sql = format!("SELECT {ACTION_COLUMNS} FROM moderation_actions WHERE id = $1");
        action_from(&sqlx::query(&sql).bind(&id).fetch_one(self.conn()).await?)
    }

    async fn products_where(&mut self, column: &str, value: &str) -> Result<Vec<(String, String)>> {
        let sql = format!("SELECT id, status FROM products WHERE {column} = $1 ORDER BY id");
        let rows = sqlx::query(&sql).bind(value).fetch_all(self.conn()).await?;
        rows.iter().map(|r| Ok((r.try_get(0)?, r.try_get(1)?))).collect()
    }

    /// Takes a listing down.
    pub async fn take_down(&mut self, product_id: &str, reason: &str, actor: &str) -> Result<ActionRow> {
        let products = self.products_where("id", product_id).await?;
        if products.is_empty() {
            return Err(StoreError::NotFound);
        }
        let restore = self.hide_products(&products).await?;
        self.record_action(Action::TakeDown, product_id, reason, actor, &restore).await
    }

    /// Suspends a store: its listings hidden, marked suspended (no new listings, payouts held).
    pub async fn suspend_store(&mut self, store_id: &str, reason: &str, actor: &str) -> Result<ActionRow> {
        let now = self.store().now_ms();
        let found = sqlx::query("UPDATE stores SET suspended_at = $1, updated_at = $1 WHERE id = $2")
            .bind(now)
            .bind(store_id)
            .execute(self.conn())
            .await?;
        if found.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        let products = self.products_where("store_id", store_id).await?;
        let restore = self.hide_products(&products).await?;
        self.record_action(Action::SuspendStore, store_id, reason, actor, &restore).await
    }

    /// Holds a new listing off sale until an operator has looked at it.
    pub async fn hold_for_review(&mut self, product_id: &str, reason: &str, actor: &str) -> Result<ActionRow> {
        let products = self.products_where("id", product_id).await?;
        let restore = self.hide_products(&products).await?;
        self.record_action(Action::HoldForReview, product_id, reason, actor, &restore).await
    }

    /// Hides a review: out of the listing's and the store's ratings and the store's trust totals.
    pub async fn hide_review(&mut self, review_id: &str, reason: &str, actor: &str) -> Result<ActionRow> {
        self.review_counts(review_id, true).await?;
        self.record_action(Action::HideReview, review_id, reason, actor, "").await
    }

    /// Hides (`hide`) or shows again a review, moving its store's totals with it.
    async fn review_counts(&mut self, review_id: &str, hide: bool) -> Result<()> {
        let now = self.store().now_ms();
        let returning = "RETURNING order_id, stars, described, communication, shipping";
        let query = if hide {
            let sql = format!("UPDATE reviews SET hidden_at = $1 WHERE id = $2 AND hidden_at IS NULL {returning}");
            sqlx::query(&sql).bind(now).bind(review_id).fetch_optional(self.conn()).await?
        } else {
            let sql =
                format!("UPDATE reviews SET hidden_at = NULL WHERE id = $1 AND hidden_at IS NOT NULL {returning}");
            sqlx::query(&sql).bind(review_id).fetch_optional(self.conn()).await?
        };
        let Some(row) = query else { return Err(StoreError::NotFound) };
        let sign = if hide { -1 } else { 1 };
        let order_id: String = row.try_get(0)?;
        let columns = [
            ("reviews", sign),
            ("stars_sum", sign * row.try_get::<i64, _>(1)?),
            ("described_sum", sign * row.try_get::<i64, _>(2)?),
            ("communication_sum", sign * row.try_get::<i64, _>(3)?),
            ("shipping_sum", sign * row.try_get::<i64, _>(4)?),
        ];
        crate::trust::add_stats(self, &order_id, &columns).await
    }

    /// The person concerned appeals an action in force, once.
    pub async fn appeal(&mut self, id: &str, text: &str) -> Result<ActionRow> {
        let now = self.store().now_ms();
        let done = sqlx::query(
            "UPDATE moderation_actions SET appeal = $1, appealed_at = $2 WHERE id = $3 AND appeal IS NULL AND reversed_at IS NULL",
        )
        .bind(text)
        .bind(now)
        .bind(id)
        .execute(self.conn())
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::Conflict {
                kind: crate::Conflict::InvalidState,
                message: "this was appealed already, or is over".into(),
            });
        }
        let sql = format!("SELECT {ACTION_COLUMNS} FROM moderation_actions WHERE id = $1");
        action_from(&sqlx::query(&sql).bind(id).fetch_one(self.conn()).await?)
    }

    /// An operator keeps an appealed action in force, answering the appeal.
    pub async fn answer_appeal(&mut self, id: &str, answer: &str) -> Result<ActionRow> {
        let done = sqlx::query(
            "UPDATE moderation_actions SET appeal_answer = $1 \
             WHERE id = $2 AND appeal IS NOT NULL AND appeal_answer IS NULL AND reversed_at IS NULL",
        )
        .bind(answer)
        .bind(id)
        .execute(self.conn())
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::Conflict {
                kind: crate::Conflict::InvalidState,
                message: "there is no appeal to answer".into(),
            });
        }
        let sql = format!("SELECT {ACTION_COLUMNS} FROM moderation_actions WHERE id = $1");
        action_from(&sqlx::query(&sql).bind(id).fetch_one(self.conn()).await?)
    }

    /// A marketplace setting, read in this transaction.
    pub async fn setting(&mut self, key: &str) -> Result<Option<String>> {
        let row =
            sqlx::query("SELECT value FROM settings WHERE key = $1").bind(key).fetch_optional(self.conn()).await?;
        row.map(|r| r.try_get(0)).transpose().map_err(Into::into)
    }

    pub async fn set_setting(&mut self, key: &str, value: &str) -> Result<()> {
        sqlx::query(
            "INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        )
        .bind(key)
        .bind(value)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// Bans a user: signing in refused, every session ended.
    pub async fn ban_user(&mut self, user_id: &str, reason: &str, actor: &str) -> Result<ActionRow> {
        let now = self.store().now_ms();
        let found = sqlx::query("UPDATE users SET banned_at = $1 WHERE id = $2")
            .bind(now)
            .bind(user_id)
            .execute(self.conn())
            .await?;
        if found.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        sqlx::query("DELETE FROM sessions WHERE user_id = $1").bind(user_id).execute(self.conn()).await?;
        self.users_changed = true;
        self.record_action(Action::BanUser, user_id, reason, actor, "").await
    }

    /// Reverses an action in force: listings it hid get their status back (those still archived),
    /// a store is open again, a user may sign in again.
    pub async fn reverse_action(&mut self, id: &str, reason: &str, actor: &str) -> Result<ActionRow> {
        let now = self.store().now_ms();
        let row = sqlx::query(
            "UPDATE moderation_actions SET reversed_at = $1, reversed_by = $2, reversal_reason = $3 \
             WHERE id = $4 AND reversed_at IS NULL RETURNING kind, target_id, restore",
        )
        .bind(now)
        .bind(actor)
        .bind(reason)
        .bind(id)
        .fetch_optional(self.conn())
        .await?
        .ok_or(StoreError::NotFound)?;
        let (kind, target, restore): (String, String, String) = (row.try_get(0)?, row.try_get(1)?, row.try_get(2)?);
        // A listing a store suspension hid stays hidden while a take-down of its own is in force.
        for (product, status) in restore.lines().filter_map(|l| l.split_once('=')) {
            sqlx::query(
                "UPDATE products SET status = $1, updated_at = $2 WHERE id = $3 AND status = 'archived' \
                 AND NOT EXISTS (SELECT 1 FROM moderation_actions m WHERE m.reversed_at IS NULL AND \
                   ((m.kind IN ('take_down', 'hold_for_review') AND m.target_id = products.id) \
                    OR (m.kind = 'suspend_store' AND m.target_id = products.store_id)))",
            )
            .bind(status)
            .bind(now)
            .bind(product)
            .execute(self.conn())
            .await?;
        }
        match Action::parse(&kind) {
            Some(Action::SuspendStore) => {
                sqlx::query("UPDATE stores SET suspended_at = NULL, updated_at = $1 WHERE id = $2")
                    .bind(now)
                    .bind(&target)
                    .execute(self.conn())
                    .await?;
            }
            Some(Action::BanUser) => {
                sqlx::query("UPDATE users SET banned_at = NULL WHERE id = $1")
                    .bind(&target)
                    .execute(self.conn())
                    .await?;
                self.users_changed = true;
            }
            Some(Action::HideReview) => self.review_counts(&target, false).await?,
            _ => {}
        }
        let sql = format!("SELECT {ACTION_COLUMNS} FROM moderation_actions WHERE id = $1");
        action_from(&sqlx::query(&sql).bind(id).fetch_one(self.conn()).await?)
    }

    /// Whether the user is banned, read in this transaction.
    pub async fn is_banned(&mut self, user_id: &str) -> Result<bool> {
        let row =
            sqlx::query("SELECT banned_at FROM users WHERE id = $1").bind(user_id).fetch_optional(self.conn()).await?;
        Ok(row.map(|r| r.try_get::<Option<i64>, _>(0)).transpose()?.flatten().is_some())
    }
}
