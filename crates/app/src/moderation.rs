//! Trust and safety: anyone signed in reports a listing, a store, a review or a message; mediators
//! and admins work the queue and act, each action with a reason the person concerned reads,
//! audited, notified and reversible.

use crate::error::{Error, ErrorKind, Result};
use crate::App;
use serde_json::json;
use souk_domain::account::Role;
use souk_domain::moderation::{validate_details, validate_reason, Action, Reason, Target};
use souk_store::accounts::User;
pub use souk_store::moderation::{ActionRow, ReportRow, TargetSummary};
use souk_store::{Page, StoreError, Tx};

impl App {
    /// The action that holds a store, or one of its listings, off sale, if one does: shown to
    /// its seller with its reason, and appealed from there.
    pub async fn held(&self, store_id: &str, product_id: Option<&str>) -> Result<Option<ActionRow>> {
        if let Some(a) = self.store.action_in_force(Action::SuspendStore, store_id).await? {
            return Ok(Some(a));
        }
        let Some(p) = product_id else { return Ok(None) };
        for action in [Action::TakeDown, Action::HoldForReview] {
            if let Some(a) = self.store.action_in_force(action, p).await? {
                return Ok(Some(a));
            }
        }
        Ok(None)
    }

    /// Whether the buyer has reviewed the order, and the action that hides their review, if any.
    pub async fn order_review_state(&self, order_id: &str) -> Result<(bool, Option<ActionRow>)> {
        let reviews = self.store.order_reviews(order_id).await?;
        for (id, hidden) in &reviews {
            if *hidden {
                return Ok((true, self.store.action_in_force(Action::HideReview, id).await?));
            }
        }
        Ok((!reviews.is_empty(), None))
    }

    /// What a reported thing is (see [`TargetSummary`]).
    pub async fn target_summary(&self, target: Target, id: &str) -> Result<TargetSummary> {
        match self.store.target_summary(target, id).await {
            Err(StoreError::NotFound) => Err(Error::not_found(target.as_str())),
            found => Ok(found?),
        }
    }
}

fn staff(user: &User) -> bool {
    user.has(Role::Mediator) || user.has(Role::Admin)
}

/// Files a report. A message may be reported only by the two people of its conversation; a
/// thing that does not exist (or a message of others) is not found.
pub async fn report(
    app: &App,
    tx: &mut Tx,
    user: &User,
    target: Target,
    id: &str,
    reason: Reason,
    details: &str,
) -> Result<ReportRow> {
    let details = validate_details(details)?;
    let summary = match app.store.target_summary(target, id).await {
        Ok(s) => s,
        Err(StoreError::NotFound) => return Err(Error::not_found(target.as_str())),
        Err(e) => return Err(e.into()),
    };
    if let Some((buyer, seller)) = &summary.parties {
        if buyer != &user.id && seller != &user.id {
            return Err(Error::not_found(target.as_str()));
        }
    }
    Ok(tx.create_report(&user.id, target, id, reason, &details).await?)
}

/// A report as the queue shows it: the report, what it is about, the thing's other reports and
/// the actions on it, and the reporter's other reports.
pub struct QueueItem {
    pub report: ReportRow,
    pub target: Option<TargetSummary>,
    pub reports_on_target: Vec<ReportRow>,
    pub actions: Vec<ActionRow>,
    pub reporter_reports: Vec<ReportRow>,
}

/// The reports in `state` (`open` first in the queue), for mediators and admins.
pub async fn queue(
    app: &App,
    user: &User,
    state: Option<&str>,
    cursor: Option<&str>,
    limit: usize,
) -> Result<Page<ReportRow>> {
    if !staff(user) {
        return Err(Error::forbidden("only mediators and admins see reports"));
    }
    Ok(app.store.reports(state, cursor, limit.clamp(1, 100)).await?)
}

/// One report with everything an operator needs to decide.
pub async fn item(app: &App, user: &User, id: &str) -> Result<QueueItem> {
    if !staff(user) {
        return Err(Error::forbidden("only mediators and admins see reports"));
    }
    let report = match app.store.report(id).await {
        Err(StoreError::NotFound) => return Err(Error::not_found("report")),
        found => found?,
    };
    let target = app.store.target_summary(report.target, &report.target_id).await.ok();
    // Actions are on listings, stores and users: a review's or message's author is the user.
    let acted_on = match (&report.target, &target) {
        (Target::Review | Target::Message, Some(t)) => t.owner_id.clone(),
        _ => report.target_id.clone(),
    };
    Ok(QueueItem {
        reports_on_target: app.store.reports_on(report.target, &report.target_id).await?,
        actions: app.store.actions_on(&acted_on).await?,
        reporter_reports: app.store.reports_by(&report.reporter_id).await?,
        target,
        report,
    })
}

/// Takes `action` on `target_id` (a listing, a store, a user), closing the open reports about it
/// (`report`'s target, if one led here). Mediators take listings down and suspend stores; only
/// admins ban.
pub async fn act(
    app: &App,
    tx: &mut Tx,
    user: &User,
    action: Action,
    target_id: &str,
    reason: &str,
    report: Option<&ReportRow>,
) -> Result<ActionRow> {
    if !staff(user) || (action == Action::BanUser && !user.has(Role::Admin)) {
        return Err(Error::forbidden("this action is for operators (banning, for admins)"));
    }
    let reason = validate_reason(reason)?;
    let not_found = |e: StoreError| match e {
        StoreError::NotFound => Error::not_found("target"),
        e => e.into(),
    };
    let (row, concerned, event) = match action {
        Action::TakeDown => {
            let product = app.store.product(target_id).await.map_err(not_found)?;
            let owner = app.store.store_by_id(&product.store_id).await?.owner_id;
            (tx.take_down(target_id, &reason, &user.id).await.map_err(not_found)?, owner, "moderation.taken_down")
        }
        Action::SuspendStore => {
            let owner = app.store.store_by_id(target_id).await.map_err(not_found)?.owner_id;
            (
                tx.suspend_store(target_id, &reason, &user.id).await.map_err(not_found)?,
                owner,
                "moderation.store_suspended",
            )
        }
        Action::BanUser => {
            if target_id == user.id {
                return Err(Error::conflict("self", "you cannot ban yourself"));
            }
            (tx.ban_user(target_id, &reason, &user.id).await.map_err(not_found)?, target_id.to_string(), "")
        }
        Action::HideReview => {
            let author = app.store.target_summary(Target::Review, target_id).await.map_err(not_found)?.owner_id;
            (tx.hide_review(target_id, &reason, &user.id).await.map_err(not_found)?, author, "moderation.review_hidden")
        }
        Action::HoldForReview => {
            return Err(Error::conflict(
                "invalid_state",
                "new listings are held for review by the marketplace's setting",
            ))
        }
    };
    if let Some(r) = report {
        tx.close_reports(r.target, &r.target_id, "actioned", &user.id, &reason).await?;
    }
    let acted_on = match action {
        Action::TakeDown => Some(Target::Product),
        Action::SuspendStore => Some(Target::Store),
        Action::HideReview => Some(Target::Review),
        Action::BanUser | Action::HoldForReview => None,
    };
    if let Some(kind) = acted_on {
        tx.close_reports(kind, target_id, "actioned", &user.id, &reason).await?;
    }
    tx.audit(
        &user.id,
        &format!("moderation.{}", action.as_str()),
        target_id,
        json!({"reason": reason, "action": row.id}),
    )
    .await?;
    if !event.is_empty() {
        tx.emit(&[concerned.as_str()], event, None, &json!({"target": target_id, "reason": reason})).await?;
    } else {
        // A banned person cannot sign in to read a notification: they are told by email.
        tell_by_email(app, &concerned, &reason, true).await?;
    }
    Ok(row)
}

/// Closes a report without action, saying why.
pub async fn dismiss(tx: &mut Tx, user: &User, report: &ReportRow, note: &str) -> Result<()> {
    if !staff(user) {
        return Err(Error::forbidden("only mediators and admins handle reports"));
    }
    let note = validate_reason(note)?;
    if report.state != "open" {
        return Err(Error::conflict("invalid_state", "this report is closed already"));
    }
    tx.close_reports(report.target, &report.target_id, "dismissed", &user.id, &note).await?;
    tx.audit(&user.id, "moderation.dismiss", &report.id, json!({"reason": note})).await?;
    Ok(())
}

/// Reverses an action, saying why: listings come back, a store opens again, a user may sign in.
pub async fn reverse(app: &App, tx: &mut Tx, user: &User, action_id: &str, reason: &str) -> Result<ActionRow> {
    let action = match app.store.action(action_id).await {
        Err(StoreError::NotFound) => return Err(Error::not_found("action")),
        found => found?,
    };
    if !staff(user) || (action.action == Action::BanUser && !user.has(Role::Admin)) {
        return Err(Error::forbidden("this action is for operators (lifting a ban, for admins)"));
    }
    let reason = validate_reason(reason)?;
    let row = match tx.reverse_action(action_id, &reason, &user.id).await {
        Err(StoreError::NotFound) => return Err(Error::conflict("invalid_state", "this action was reversed already")),
        found => found?,
    };
    let concerned = concerned(app, &action).await?;
    tx.audit(&user.id, "moderation.reverse", &action.target_id, json!({"reason": reason, "action": action_id})).await?;
    if action.action == Action::BanUser {
        tell_by_email(app, &concerned, &reason, false).await?;
    }
    tx.emit(&[concerned.as_str()], "moderation.reversed", None, &json!({"target": action.target_id, "reason": reason}))
        .await?;
    Ok(row)
}

/// Emails a person that their account is suspended (`banned`) or open again, and why, in their
/// language.
async fn tell_by_email(app: &App, user_id: &str, reason: &str, banned: bool) -> Result<()> {
    let user = app.store.user_by_id(user_id).await?;
    let zh = user.locale.as_deref() == Some("zh");
    let (subject, body) = match (banned, zh) {
        (true, false) => (
            "Your Souk account is suspended".to_string(),
            format!("Hello {},\n\nAn operator has suspended your Souk account, for this reason:\n\n{reason}\n\nYou cannot sign in while it lasts; an operator may lift it, and you are told by email if one does.\n", user.display_name),
        ),
        (true, true) => (
            "您的 Souk 账户已被封禁".to_string(),
            format!("{}，您好：\n\n运营人员封禁了您的 Souk 账户，原因如下：\n\n{reason}\n\n封禁期间无法登录；运营人员如解除封禁，会通过邮件通知您。\n", user.display_name),
        ),
        (false, false) => (
            "Your Souk account is open again".to_string(),
            format!("Hello {},\n\nAn operator has lifted the suspension of your Souk account:\n\n{reason}\n\nYou can sign in again.\n", user.display_name),
        ),
        (false, true) => (
            "您的 Souk 账户已恢复".to_string(),
            format!("{}，您好：\n\n运营人员解除了对您 Souk 账户的封禁：\n\n{reason}\n\n您可以重新登录了。\n", user.display_name),
        ),
    };
    app.send_mail(&user.email, &subject, &body).await.map_err(|e| Error::internal("sending mail", e))
}

/// The person an action concerns: a listing's or store's seller, a review's author, a user.
async fn concerned(app: &App, action: &ActionRow) -> Result<String> {
    Ok(match action.action {
        Action::TakeDown | Action::HoldForReview => {
            let product = app.store.product(&action.target_id).await?;
            app.store.store_by_id(&product.store_id).await?.owner_id
        }
        Action::SuspendStore => app.store.store_by_id(&action.target_id).await?.owner_id,
        Action::HideReview => app.store.target_summary(Target::Review, &action.target_id).await?.owner_id,
        Action::BanUser => action.target_id.clone(),
    })
}

/// The person an action concerns appeals it, once, in their words.
pub async fn appeal(app: &App, tx: &mut Tx, user: &User, action_id: &str, text: &str) -> Result<ActionRow> {
    let action = match app.store.action(action_id).await {
        Err(StoreError::NotFound) => return Err(Error::not_found("action")),
        found => found?,
    };
    if concerned(app, &action).await? != user.id {
        return Err(Error::not_found("action"));
    }
    let text = validate_reason(text).map_err(|e| souk_domain::Invalid::new(e.code, "text", e.message))?;
    Ok(tx.appeal(action_id, &text).await?)
}

/// An operator keeps an appealed action in force, answering why; the person concerned is told.
pub async fn uphold(app: &App, tx: &mut Tx, user: &User, action_id: &str, answer: &str) -> Result<ActionRow> {
    if !staff(user) {
        return Err(Error::forbidden("only mediators and admins answer appeals"));
    }
    let answer = validate_reason(answer)?;
    let row = tx.answer_appeal(action_id, &answer).await?;
    let concerned = concerned(app, &row).await?;
    tx.audit(&user.id, "moderation.uphold", &row.target_id, json!({"reason": answer, "action": action_id})).await?;
    tx.emit(
        &[concerned.as_str()],
        "moderation.appeal_answered",
        None,
        &json!({"target": row.target_id, "reason": answer}),
    )
    .await?;
    Ok(row)
}

/// Appeals waiting for an answer, and listings waiting for review (operators).
pub async fn pending(app: &App, user: &User) -> Result<(Vec<ActionRow>, Vec<ActionRow>)> {
    if !staff(user) {
        return Err(Error::forbidden("only mediators and admins see this"));
    }
    Ok((app.store.pending_appeals().await?, app.store.actions_in_force(Action::HoldForReview).await?))
}

/// The setting that holds new listings of stores below identity verification for review.
pub const LISTING_REVIEW: &str = "listing_review";

/// Whether new listings of stores below identity verification wait for review.
pub async fn listing_review(app: &App) -> Result<bool> {
    Ok(app.store.setting(LISTING_REVIEW).await?.as_deref() == Some("on"))
}

/// Turns the listing review on or off (admins), audited.
pub async fn set_listing_review(tx: &mut Tx, user: &User, on: bool) -> Result<()> {
    if !user.has(Role::Admin) {
        return Err(Error::forbidden("only admins change the marketplace's settings"));
    }
    tx.set_setting(LISTING_REVIEW, if on { "on" } else { "off" }).await?;
    tx.audit(&user.id, "settings.listing_review", LISTING_REVIEW, json!({"on": on})).await?;
    Ok(())
}

/// Holds a new listing for review when the marketplace asks for it and its store is below
/// identity verification; the seller is told.
pub async fn hold_if_reviewed(tx: &mut Tx, store: &souk_domain::account::StoreProfile, product_id: &str) -> Result<()> {
    let on = tx.setting(LISTING_REVIEW).await?.as_deref() == Some("on");
    if !on || store.verification == souk_domain::account::Verification::Identity {
        return Ok(());
    }
    let reason = "new listings of stores without identity verification are reviewed before they are public";
    tx.hold_for_review(product_id, reason, souk_store::audit::SYSTEM_ACTOR).await?;
    tx.emit(&[store.owner_id.as_str()], "moderation.held_for_review", None, &json!({"target": product_id})).await?;
    Ok(())
}

/// Refuses what a suspended store may not do (new listings, putting listings on sale, payouts),
/// and putting a taken-down listing back on sale.
pub async fn refuse_if_held(tx: &mut Tx, store_id: &str, product_id: Option<&str>) -> Result<()> {
    if let Some(a) = tx.action_in_force(Action::SuspendStore, store_id).await? {
        let message = format!("an operator suspended this store: {}", a.reason);
        return Err(Error::new(ErrorKind::Conflict, "store_suspended", message));
    }
    if let Some(product) = product_id {
        if let Some(a) = tx.action_in_force(Action::TakeDown, product).await? {
            let message = format!("an operator took this listing down: {}", a.reason);
            return Err(Error::new(ErrorKind::Conflict, "taken_down", message));
        }
        if tx.action_in_force(Action::HoldForReview, product).await?.is_some() {
            let message = "this listing waits for an operator's review before it is public";
            return Err(Error::new(ErrorKind::Conflict, "awaiting_review", message));
        }
    }
    Ok(())
}
