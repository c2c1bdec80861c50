//! Conversations, messages, read receipts, blocks, the seller's response times, and offers.
//! Each message and each offer decision writes outbox events for both parties in its own
//! transaction, which is what the live socket delivers.

use crate::{placeholders, Conflict, Page, Result, Store, StoreError, Tx};
use souk_domain::chat::{self, MessageDraft, OfferState, Side};
use souk_domain::id::Kind;
use souk_domain::time::rfc3339;
use souk_domain::time::Timestamp;
use souk_domain::{Invalid, Money};
use sqlx::any::AnyRow;
use sqlx::Row;
use std::collections::HashMap;

/// A conversation as one of its parties sees it.
#[derive(Debug, Clone, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ConversationView {
    pub id: String,
    pub buyer_id: String,
    pub buyer_name: String,
    pub store_id: String,
    pub store_name: String,
    /// The product or order it is about, if any.
    pub product_id: Option<String>,
    pub order_id: Option<String>,
    /// The number of the newest message (messages count 1, 2, ...).
    pub last_seq: i64,
    pub last_message_at: Timestamp,
    /// How far each side has read.
    pub buyer_read_seq: i64,
    pub seller_read_seq: i64,
    /// Messages from the other side that the caller has not read.
    pub unread: i64,
    /// The start of the newest message, for a list (at most 120 characters); absent when it
    /// is an offer (`last_offer_id`), whose terms its own view shows.
    pub last_message_preview: Option<String>,
    pub last_offer_id: Option<String>,
    pub created_at: Timestamp,
}

/// A conversation's parties and state, for checks before writing.
#[derive(Debug, Clone)]
pub struct Conversation {
    pub id: String,
    pub buyer_id: String,
    pub store_id: String,
    pub seller_id: String,
    pub order_id: Option<String>,
    pub last_seq: i64,
}

impl Conversation {
    /// The caller's side, if they are a party.
    pub fn side_of(&self, user_id: &str) -> Option<Side> {
        if user_id == self.buyer_id {
            Some(Side::Buyer)
        } else if user_id == self.seller_id {
            Some(Side::Seller)
        } else {
            None
        }
    }

    pub fn party(&self, side: Side) -> &str {
        match side {
            Side::Buyer => &self.buyer_id,
            Side::Seller => &self.seller_id,
        }
    }
}

#[derive(Debug, Clone, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MessageView {
    pub id: String,
    pub conversation_id: String,
    /// 1, 2, ... within the conversation.
    pub seq: i64,
    pub sender_id: String,
    /// buyer or seller.
    pub side: String,
    pub text: String,
    pub images: Vec<String>,
    /// Set when the message announces an offer.
    pub offer_id: Option<String>,
    pub created_at: Timestamp,
}

#[derive(Debug, Clone, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OfferView {
    pub id: String,
    pub conversation_id: String,
    pub sku_id: String,
    pub product_id: String,
    pub title: String,
    pub quantity: i64,
    pub unit_price: Money,
    pub total: Money,
    pub ship_to: Option<String>,
    pub valid_until: Timestamp,
    /// buyer or seller.
    pub made_by: String,
    /// open, accepted, declined, countered, superseded or expired.
    pub state: String,
    /// The offer this one counters.
    pub counters: Option<String>,
    /// The order created when it was accepted.
    pub order_id: Option<String>,
    pub created_at: Timestamp,
    pub decided_at: Option<String>,
}

/// An offer's terms as proposed.
#[derive(Debug, Clone)]
pub struct OfferTerms {
    pub sku_id: String,
    pub quantity: i64,
    pub unit_price: Money,
    pub valid_until_ms: i64,
    pub ship_to: Option<String>,
}

/// An offer with what deciding it needs.
#[derive(Debug, Clone)]
pub struct Offer {
    pub view: OfferView,
    pub state: OfferState,
    pub made_by: Side,
    pub terms: OfferTerms,
}

const CONVERSATION_COLUMNS: &str = "c.id, c.buyer_id, u.display_name, c.store_id, s.name, c.product_id, c.order_id, \
     c.last_seq, c.last_message_at, c.buyer_read_seq, c.seller_read_seq, c.created_at, s.owner_id, \
     (SELECT m.body FROM messages m WHERE m.conversation_id = c.id AND m.seq = c.last_seq) AS last_body, \
     (SELECT m.offer_id FROM messages m WHERE m.conversation_id = c.id AND m.seq = c.last_seq) AS last_offer";

fn conversation_view(row: &AnyRow, viewer: &str) -> Result<ConversationView> {
    let non_empty =
        |i: usize| -> Result<Option<String>> { Ok(Some(row.try_get::<String, _>(i)?).filter(|s| !s.is_empty())) };
    let buyer_id: String = row.try_get(1)?;
    let last_seq: i64 = row.try_get(7)?;
    let buyer_read: i64 = row.try_get(9)?;
    let seller_read: i64 = row.try_get(10)?;
    let unread: i64 = row.try_get("unread")?;
    Ok(ConversationView {
        id: row.try_get(0)?,
        unread: if viewer == buyer_id || viewer == row.try_get::<String, _>(12)? { unread } else { 0 },
        buyer_id,
        buyer_name: row.try_get(2)?,
        store_id: row.try_get(3)?,
        store_name: row.try_get(4)?,
        product_id: non_empty(5)?,
        order_id: non_empty(6)?,
        last_seq,
        last_message_at: Timestamp(row.try_get(8)?),
        last_message_preview: match row.try_get::<Option<String>, _>("last_offer")? {
            Some(_) => None,
            None => row
                .try_get::<Option<String>, _>("last_body")?
                .map(|b| souk_domain::money::truncate(b.trim(), 120))
                .filter(|b| !b.is_empty()),
        },
        last_offer_id: row.try_get::<Option<String>, _>("last_offer")?.filter(|o| !o.is_empty()),
        buyer_read_seq: buyer_read,
        seller_read_seq: seller_read,
        created_at: Timestamp(row.try_get(11)?),
    })
}

/// Counts the messages from the other side past the viewer's read mark; `$1` is the viewer.
const UNREAD: &str = "(SELECT COUNT(*) FROM messages m WHERE m.conversation_id = c.id AND \
     ((c.buyer_id = $1 AND m.side = 'seller' AND m.seq > c.buyer_read_seq) OR \
      (s.owner_id = $1 AND m.side = 'buyer' AND m.seq > c.seller_read_seq))) AS unread";

fn message_view(row: &AnyRow) -> Result<MessageView> {
    Ok(MessageView {
        id: row.try_get(0)?,
        conversation_id: row.try_get(1)?,
        seq: row.try_get(2)?,
        sender_id: row.try_get(3)?,
        side: row.try_get(4)?,
        text: row.try_get(5)?,
        images: serde_json::from_str(&row.try_get::<String, _>(6)?)?,
        offer_id: row.try_get(7)?,
        created_at: Timestamp(row.try_get(8)?),
    })
}

const MESSAGE_COLUMNS: &str = "id, conversation_id, seq, sender_id, side, body, images, offer_id, created_at";

const OFFER_COLUMNS: &str = "o.id, o.conversation_id, o.sku_id, k.product_id, p.title, o.quantity, o.unit_price, \
     o.currency, o.ship_to, o.valid_until, o.made_by, o.state, o.counters, o.order_id, o.created_at, o.decided_at";

fn offer_from_row(row: &AnyRow, now_ms: i64) -> Result<Offer> {
    let code: String = row.try_get(7)?;
    let currency = crate::currency(&code)?;
    let quantity: i64 = row.try_get(5)?;
    let unit_price = Money::new(row.try_get(6)?, currency);
    let valid_until_ms: i64 = row.try_get(9)?;
    let stored =
        OfferState::parse(&row.try_get::<String, _>(11)?).ok_or_else(|| StoreError::broken("unknown offer state"))?;
    let state = stored.at(valid_until_ms, now_ms);
    let made_by =
        Side::parse(&row.try_get::<String, _>(10)?).ok_or_else(|| StoreError::broken("unknown offer side"))?;
    let ship_to: Option<String> = row.try_get(8)?;
    let sku_id: String = row.try_get(2)?;
    Ok(Offer {
        view: OfferView {
            id: row.try_get(0)?,
            conversation_id: row.try_get(1)?,
            sku_id: sku_id.clone(),
            product_id: row.try_get(3)?,
            title: row.try_get(4)?,
            quantity,
            unit_price,
            total: Money::new(unit_price.amount.saturating_mul(quantity), currency),
            ship_to: ship_to.clone(),
            valid_until: Timestamp(valid_until_ms),
            made_by: made_by.as_str().to_string(),
            state: state.as_str().to_string(),
            counters: row.try_get(12)?,
            order_id: row.try_get(13)?,
            created_at: Timestamp(row.try_get(14)?),
            decided_at: row.try_get::<Option<i64>, _>(15)?.map(rfc3339),
        },
        state,
        made_by,
        terms: OfferTerms { sku_id, quantity, unit_price, valid_until_ms, ship_to },
    })
}

/// The conversations of user `$1`, as buyer or as the owner of their store: both sides by an
/// index of `conversations` (a condition on the joined store's owner read every conversation).
const MINE: &str = "(c.buyer_id = $1 OR c.store_id IN (SELECT id FROM stores WHERE owner_id = $1))";

impl Store {
    /// A conversation's parties, or `NotFound`.
    pub async fn conversation(&self, id: &str) -> Result<Conversation> {
        conversation(&mut *self.reader().await?, id).await
    }

    /// One conversation as `viewer` sees it.
    pub async fn conversation_view(&self, id: &str, viewer: &str) -> Result<ConversationView> {
        let sql = format!(
            "SELECT {CONVERSATION_COLUMNS}, {UNREAD} FROM conversations c JOIN users u ON u.id = c.buyer_id \
             JOIN stores s ON s.id = c.store_id WHERE c.id = $2"
        );
        let row = sqlx::query(&sql)
            .bind(viewer)
            .bind(id)
            .fetch_optional(&mut *self.reader().await?)
            .await?
            .ok_or(StoreError::NotFound)?;
        conversation_view(&row, viewer)
    }

    /// The user's conversations (as buyer, or as the owner of a store), most recent first. The
    /// cursor is the last item's `last_message_at` and id.
    pub async fn conversations(
        &self,
        user_id: &str,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Page<ConversationView>> {
        let (before_ms, before_id) = match cursor.and_then(|c| c.split_once('.')) {
            Some((ms, id)) => (ms.parse::<i64>().unwrap_or(i64::MAX), id.to_string()),
            None => (i64::MAX, String::new()),
        };
        let sql = format!(
            "SELECT {CONVERSATION_COLUMNS}, {UNREAD} FROM conversations c JOIN users u ON u.id = c.buyer_id \
             JOIN stores s ON s.id = c.store_id WHERE {MINE} \
             AND (c.last_message_at < $2 OR (c.last_message_at = $2 AND ($3 = '' OR c.id < $3))) \
             ORDER BY c.last_message_at DESC, c.id DESC LIMIT {}",
            limit + 1
        );
        let rows = sqlx::query(&sql)
            .bind(user_id)
            .bind(before_ms)
            .bind(&before_id)
            .fetch_all(&mut *self.reader().await?)
            .await?;
        let items = rows.iter().map(|r| conversation_view(r, user_id)).collect::<Result<Vec<_>>>()?;
        Ok(Page::from_rows(items, limit, |c| format!("{}.{}", c.last_message_at.ms(), c.id)))
    }

    /// The ids of a buyer's conversations with a store, on any subject.
    pub async fn conversations_between(&self, buyer_id: &str, store_id: &str) -> Result<Vec<String>> {
        let rows = sqlx::query("SELECT id FROM conversations WHERE buyer_id = $1 AND store_id = $2 ORDER BY id")
            .bind(buyer_id)
            .bind(store_id)
            .fetch_all(&mut *self.reader().await?)
            .await?;
        rows.iter().map(|r| Ok(r.try_get(0)?)).collect()
    }

    /// Whether the buyer has ever disputed an order from the store: mediators may then read
    /// their conversations.
    pub async fn disputed_between(&self, buyer_id: &str, store_id: &str) -> Result<bool> {
        let row = sqlx::query("SELECT 1 FROM disputes WHERE buyer_id = $1 AND store_id = $2")
            .bind(buyer_id)
            .bind(store_id)
            .fetch_optional(&mut *self.reader().await?)
            .await?;
        Ok(row.is_some())
    }

    /// Messages the user has not read, across their conversations.
    pub async fn unread_total(&self, user_id: &str) -> Result<i64> {
        let sql = format!(
            "SELECT CAST(COALESCE(SUM(unread), 0) AS BIGINT) FROM (SELECT {UNREAD} FROM conversations c \
             JOIN stores s ON s.id = c.store_id WHERE {MINE}) t"
        );
        Ok(sqlx::query(&sql).bind(user_id).fetch_one(&mut *self.reader().await?).await?.try_get(0)?)
    }

    /// A page of a conversation's messages, newest first, before `before_seq` when given.
    pub async fn messages(
        &self,
        conversation_id: &str,
        before_seq: Option<i64>,
        limit: usize,
    ) -> Result<Page<MessageView>> {
        let sql = format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages WHERE conversation_id = $1 AND seq < $2 ORDER BY seq DESC LIMIT {}",
            limit + 1
        );
        let rows = sqlx::query(&sql)
            .bind(conversation_id)
            .bind(before_seq.unwrap_or(i64::MAX))
            .fetch_all(&mut *self.reader().await?)
            .await?;
        let items = rows.iter().map(message_view).collect::<Result<Vec<_>>>()?;
        Ok(Page::from_rows(items, limit, |m| m.seq.to_string()))
    }

    /// Whether either user has blocked the other.
    pub async fn blocked_between(&self, a: &str, b: &str) -> Result<bool> {
        let row = sqlx::query(
            "SELECT 1 FROM blocks WHERE (blocker_id = $1 AND blocked_id = $2) OR (blocker_id = $2 AND blocked_id = $1)",
        )
        .bind(a)
        .bind(b)
        .fetch_optional(&mut *self.reader().await?)
        .await?;
        Ok(row.is_some())
    }

    /// Each store's median time to answer a buyer, over its newest samples.
    pub async fn response_medians(&self, store_ids: &[String]) -> Result<HashMap<String, u64>> {
        if store_ids.is_empty() {
            return Ok(HashMap::new());
        }
        let sql = format!(
            "SELECT store_id, response_ms FROM response_times WHERE store_id IN ({})",
            placeholders(0, store_ids.len())
        );
        let mut q = sqlx::query(&sql);
        for id in store_ids {
            q = q.bind(id);
        }
        let mut samples: HashMap<String, Vec<i64>> = HashMap::new();
        for row in q.fetch_all(&mut *self.reader().await?).await? {
            samples.entry(row.try_get(0)?).or_default().push(row.try_get(1)?);
        }
        Ok(samples.into_iter().filter_map(|(k, mut v)| chat::median_ms(&mut v).map(|m| (k, m))).collect())
    }

    pub async fn offer(&self, id: &str) -> Result<Offer> {
        offer(&mut *self.reader().await?, id, self.now_ms()).await
    }

    /// A conversation's offers, newest first.
    pub async fn offers(&self, conversation_id: &str, cursor: Option<&str>, limit: usize) -> Result<Page<OfferView>> {
        self.offers_where("o.conversation_id = $1", conversation_id, cursor, limit).await
    }

    /// Every offer in a store's conversations, either side's, newest first.
    pub async fn store_offers(&self, store_id: &str, cursor: Option<&str>, limit: usize) -> Result<Page<OfferView>> {
        let clause = "o.conversation_id IN (SELECT id FROM conversations WHERE store_id = $1)";
        self.offers_where(clause, store_id, cursor, limit).await
    }

    async fn offers_where(
        &self,
        clause: &str,
        value: &str,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Page<OfferView>> {
        let sql = format!(
            "SELECT {OFFER_COLUMNS} FROM offers o JOIN skus k ON k.id = o.sku_id JOIN products p ON p.id = k.product_id \
             WHERE {clause} AND ($2 = '' OR o.id < $2) ORDER BY o.id DESC LIMIT {}",
            limit + 1
        );
        let now = self.now_ms();
        let rows =
            sqlx::query(&sql).bind(value).bind(cursor.unwrap_or("")).fetch_all(&mut *self.reader().await?).await?;
        let items = rows.iter().map(|r| Ok(offer_from_row(r, now)?.view)).collect::<Result<Vec<_>>>()?;
        Ok(Page::from_rows(items, limit, |o| o.id.clone()))
    }
}

async fn conversation(conn: &mut sqlx::AnyConnection, id: &str) -> Result<Conversation> {
    let row = sqlx::query(
        "SELECT c.id, c.buyer_id, c.store_id, s.owner_id, c.order_id, c.last_seq FROM conversations c \
         JOIN stores s ON s.id = c.store_id WHERE c.id = $1",
    )
    .bind(id)
    .fetch_optional(conn)
    .await?
    .ok_or(StoreError::NotFound)?;
    Ok(Conversation {
        id: row.try_get(0)?,
        buyer_id: row.try_get(1)?,
        store_id: row.try_get(2)?,
        seller_id: row.try_get(3)?,
        order_id: Some(row.try_get::<String, _>(4)?).filter(|s| !s.is_empty()),
        last_seq: row.try_get(5)?,
    })
}

async fn offer(conn: &mut sqlx::AnyConnection, id: &str, now_ms: i64) -> Result<Offer> {
    let sql = format!(
        "SELECT {OFFER_COLUMNS} FROM offers o JOIN skus k ON k.id = o.sku_id JOIN products p ON p.id = k.product_id \
         WHERE o.id = $1"
    );
    let row = sqlx::query(&sql).bind(id).fetch_optional(conn).await?.ok_or(StoreError::NotFound)?;
    offer_from_row(&row, now_ms)
}

/// Text announcing an offer in the conversation.
fn offer_text(verb: &str, o: &OfferView) -> String {
    format!(
        "{verb}: {} × {} at {} {} each, {} {} in all, valid until {}",
        o.quantity,
        o.title,
        o.unit_price.format_major(),
        o.unit_price.currency.code(),
        o.total.format_major(),
        o.total.currency.code(),
        o.valid_until
    )
}

impl Tx {
    pub async fn conversation(&mut self, id: &str) -> Result<Conversation> {
        conversation(self.conn(), id).await
    }

    /// The conversation between the buyer and the store about the subject, created on first use.
    pub async fn open_conversation(
        &mut self,
        buyer_id: &str,
        store_id: &str,
        product_id: Option<&str>,
        order_id: Option<&str>,
    ) -> Result<Conversation> {
        let now = self.store().now_ms();
        let id = self.store().new_id(Kind::Conversation);
        sqlx::query(
            "INSERT INTO conversations (id, buyer_id, store_id, product_id, order_id, created_at, last_message_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $6) ON CONFLICT (buyer_id, store_id, product_id, order_id) DO NOTHING",
        )
        .bind(&id)
        .bind(buyer_id)
        .bind(store_id)
        .bind(product_id.unwrap_or(""))
        .bind(order_id.unwrap_or(""))
        .bind(now)
        .execute(self.conn())
        .await?;
        let row = sqlx::query(
            "SELECT id FROM conversations WHERE buyer_id = $1 AND store_id = $2 AND product_id = $3 AND order_id = $4",
        )
        .bind(buyer_id)
        .bind(store_id)
        .bind(product_id.unwrap_or(""))
        .bind(order_id.unwrap_or(""))
        .fetch_one(self.conn())
        .await?;
        let id: String = row.try_get(0)?;
        self.conversation(&id).await
    }

    /// Appends a message from `side` and tells both parties. A seller's message answering a
    /// waiting buyer records one response-time sample for the store.
    pub async fn post_message(
        &mut self,
        c: &Conversation,
        side: Side,
        draft: &MessageDraft,
        offer_id: Option<&str>,
    ) -> Result<MessageView> {
        let now = self.store().now_ms();
        // The first write locks the conversation row on PostgreSQL, so concurrent messages
        // number themselves one after another.
        let read_column = match side {
            Side::Buyer => "buyer_read_seq",
            Side::Seller => "seller_read_seq",
        };
        let row = sqlx::query(&format!(
            "UPDATE conversations SET last_seq = last_seq + 1, last_message_at = $1, {read_column} = last_seq + 1 \
             WHERE id = $2 RETURNING last_seq, awaiting_since"
        ))
        .bind(now)
        .bind(&c.id)
        .fetch_one(self.conn())
        .await?;
        let seq: i64 = row.try_get(0)?;
        let (awaiting, sample) = chat::response_clock(row.try_get(1)?, side, now);
        sqlx::query("UPDATE conversations SET awaiting_since = $1 WHERE id = $2")
            .bind(awaiting)
            .bind(&c.id)
            .execute(self.conn())
            .await?;
        if let Some(ms) = sample {
            self.record_response(&c.store_id, &c.id, now, ms).await?;
        }
        let id = self.store().new_id(Kind::Message);
        sqlx::query(
            "INSERT INTO messages (id, conversation_id, seq, sender_id, side, body, images, offer_id, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(&id)
        .bind(&c.id)
        .bind(seq)
        .bind(c.party(side))
        .bind(side.as_str())
        .bind(&draft.text)
        .bind(serde_json::to_string(&draft.images)?)
        .bind(offer_id)
        .bind(now)
        .execute(self.conn())
        .await?;
        let view = MessageView {
            id,
            conversation_id: c.id.clone(),
            seq,
            sender_id: c.party(side).to_string(),
            side: side.as_str().to_string(),
            text: draft.text.clone(),
            images: draft.images.clone(),
            offer_id: offer_id.map(str::to_string),
            created_at: Timestamp(now),
        };
        self.emit(
            &[&c.buyer_id, &c.seller_id],
            "message.created",
            c.order_id.as_deref(),
            &serde_json::to_value(&view)?,
        )
        .await?;
        Ok(view)
    }

    /// Keeps the store's newest `RESPONSE_SAMPLES` response times.
    async fn record_response(&mut self, store_id: &str, conversation_id: &str, now: i64, ms: i64) -> Result<()> {
        sqlx::query(
            "INSERT INTO response_times (store_id, answered_at, response_ms, conversation_id) VALUES ($1, $2, $3, $4)",
        )
        .bind(store_id)
        .bind(now)
        .bind(ms)
        .bind(conversation_id)
        .execute(self.conn())
        .await?;
        let cutoff = sqlx::query(&format!(
            "SELECT answered_at FROM response_times WHERE store_id = $1 ORDER BY answered_at DESC LIMIT 1 OFFSET {}",
            chat::RESPONSE_SAMPLES
        ))
        .bind(store_id)
        .fetch_optional(self.conn())
        .await?;
        if let Some(cutoff) = cutoff {
            sqlx::query("DELETE FROM response_times WHERE store_id = $1 AND answered_at <= $2")
                .bind(store_id)
                .bind(cutoff.try_get::<i64, _>(0)?)
                .execute(self.conn())
                .await?;
        }
        // The trust score reads the samples; a store change re-ranks its products in search.
        sqlx::query("INSERT INTO catalog_changes (store_id) VALUES ($1)").bind(store_id).execute(self.conn()).await?;
        Ok(())
    }

    /// Marks the conversation read by `side` up to `seq` (never backwards, never past the
    /// newest message) and sends the other party a read receipt. Returns the read mark.
    pub async fn mark_read(&mut self, c: &Conversation, side: Side, seq: i64) -> Result<i64> {
        let column = match side {
            Side::Buyer => "buyer_read_seq",
            Side::Seller => "seller_read_seq",
        };
        let moved = sqlx::query(&format!(
            "UPDATE conversations SET {column} = CASE WHEN $1 > last_seq THEN last_seq ELSE $1 END \
             WHERE id = $2 AND {column} < $1 AND {column} < last_seq"
        ))
        .bind(seq)
        .bind(&c.id)
        .execute(self.conn())
        .await?;
        let row = sqlx::query(&format!("SELECT {column} FROM conversations WHERE id = $1"))
            .bind(&c.id)
            .fetch_one(self.conn())
            .await?;
        let read: i64 = row.try_get(0)?;
        if moved.rows_affected() == 1 {
            let payload = serde_json::json!({"conversation_id": c.id, "side": side.as_str(), "read_seq": read});
            self.emit(&[&c.buyer_id, &c.seller_id], "conversation.read", c.order_id.as_deref(), &payload).await?;
        }
        Ok(read)
    }

    pub async fn block(&mut self, blocker: &str, blocked: &str) -> Result<()> {
        let now = self.store().now_ms();
        sqlx::query(
            "INSERT INTO blocks (blocker_id, blocked_id, created_at) VALUES ($1, $2, $3) ON CONFLICT (blocker_id, blocked_id) DO NOTHING",
        )
        .bind(blocker)
        .bind(blocked)
        .bind(now)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    pub async fn unblock(&mut self, blocker: &str, blocked: &str) -> Result<()> {
        sqlx::query("DELETE FROM blocks WHERE blocker_id = $1 AND blocked_id = $2")
            .bind(blocker)
            .bind(blocked)
            .execute(self.conn())
            .await?;
        Ok(())
    }

    pub async fn offer(&mut self, id: &str) -> Result<Offer> {
        let now = self.store().now_ms();
        offer(self.conn(), id, now).await
    }

    /// Makes an offer in the conversation: `side`'s own open offer is superseded, and the other
    /// side's open offer, if any, is countered by it; `answering` names the offer that must be
    /// the one countered (a counter-offer), else it is `offer_not_open`. The SKU must be the
    /// store's, for sale, priced in `terms.unit_price`'s currency, and the quantity at least its
    /// MOQ. The offer is announced by a message.
    pub async fn make_offer(
        &mut self,
        c: &Conversation,
        side: Side,
        terms: &OfferTerms,
        answering: Option<&str>,
    ) -> Result<(Offer, MessageView)> {
        let now = self.store().now_ms();
        let sku = crate::orders::sku_for_sale(self.conn(), &terms.sku_id).await.map_err(|e| match e {
            StoreError::NotFound => Invalid::new("unknown_sku", "sku_id", "no such SKU").into(),
            e => e,
        })?;
        if sku.store_id != c.store_id {
            return Err(Invalid::new("unknown_sku", "sku_id", "the SKU is not this store's").into());
        }
        if sku.status != souk_domain::catalog::ProductStatus::Active {
            return Err(Invalid::new("unavailable", "sku_id", "this product is not for sale").into());
        }
        if terms.unit_price.currency != sku.price.currency {
            return Err(Invalid::new(
                "currency_mismatch",
                "unit_price.currency",
                format!("the SKU is priced in {}", sku.price.currency.code()),
            )
            .into());
        }
        if terms.quantity < sku.moq {
            return Err(
                Invalid::new("below_moq", "quantity", format!("the minimum order quantity is {}", sku.moq)).into()
            );
        }
        let superseded = sqlx::query(
            "UPDATE offers SET state = 'superseded', decided_at = $1 WHERE conversation_id = $2 AND state = 'open' AND made_by = $3",
        )
        .bind(now)
        .bind(&c.id)
        .bind(side.as_str())
        .execute(self.conn())
        .await?;
        let countered = sqlx::query(
            "UPDATE offers SET state = 'countered', decided_at = $1 WHERE conversation_id = $2 AND state = 'open' \
             AND made_by = $3 AND valid_until > $1 RETURNING id",
        )
        .bind(now)
        .bind(&c.id)
        .bind(side.other().as_str())
        .fetch_optional(self.conn())
        .await?;
        // An expired open offer of the other side is closed too (it stays "expired" when read).
        sqlx::query(
            "UPDATE offers SET state = 'superseded', decided_at = $1 WHERE conversation_id = $2 AND state = 'open' AND made_by = $3",
        )
        .bind(now)
        .bind(&c.id)
        .bind(side.other().as_str())
        .execute(self.conn())
        .await?;
        let counters: Option<String> = countered.map(|r| r.try_get(0)).transpose()?;
        if let Some(answering) = answering {
            if counters.as_deref() != Some(answering) {
                let current = self.offer(answering).await?;
                return Err(offer_not_open(current.state));
            }
        }
        let id = self.store().new_id(Kind::Offer);
        sqlx::query(
            "INSERT INTO offers (id, conversation_id, sku_id, quantity, unit_price, currency, ship_to, valid_until, made_by, \
             state, counters, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'open', $10, $11)",
        )
        .bind(&id)
        .bind(&c.id)
        .bind(&terms.sku_id)
        .bind(terms.quantity)
        .bind(terms.unit_price.amount)
        .bind(terms.unit_price.currency.code())
        .bind(&terms.ship_to)
        .bind(terms.valid_until_ms)
        .bind(side.as_str())
        .bind(&counters)
        .bind(now)
        .execute(self.conn())
        .await?;
        let made = self.offer(&id).await?;
        let verb = match (&counters, superseded.rows_affected()) {
            (Some(_), _) => "Counter-offer",
            (None, 0) => "Offer",
            (None, _) => "New offer",
        };
        let draft = MessageDraft { text: offer_text(verb, &made.view), images: Vec::new() };
        let message = self.post_message(c, side, &draft, Some(&id)).await?;
        self.emit(
            &[&c.buyer_id, &c.seller_id],
            "offer.created",
            c.order_id.as_deref(),
            &serde_json::to_value(&made.view)?,
        )
        .await?;
        Ok((made, message))
    }

    /// Closes an open offer as `to` (accepted, declined or countered), guarded on it still being
    /// open and unexpired, so two answers cannot both apply. `order_id` is the order an
    /// acceptance created.
    pub async fn close_offer(&mut self, o: &Offer, to: OfferState, order_id: Option<&str>) -> Result<Offer> {
        let now = self.store().now_ms();
        let done = sqlx::query(
            "UPDATE offers SET state = $1, decided_at = $2, order_id = $3 WHERE id = $4 AND state = 'open' AND valid_until > $2",
        )
        .bind(to.as_str())
        .bind(now)
        .bind(order_id)
        .bind(&o.view.id)
        .execute(self.conn())
        .await?;
        if done.rows_affected() != 1 {
            let current = self.offer(&o.view.id).await?;
            return Err(offer_not_open(current.state));
        }
        let closed = self.offer(&o.view.id).await?;
        let c = self.conversation(&o.view.conversation_id).await?;
        let kind = format!("offer.{}", to.as_str());
        self.emit(&[&c.buyer_id, &c.seller_id], &kind, order_id, &serde_json::to_value(&closed.view)?).await?;
        Ok(closed)
    }
}

/// The conflict for answering an offer that is no longer open.
pub fn offer_not_open(state: OfferState) -> StoreError {
    let kind = if state == OfferState::Expired { Conflict::OfferExpired } else { Conflict::OfferNotOpen };
    StoreError::Conflict { kind, message: format!("the offer is {}; it can no longer be answered", state.as_str()) }
}
