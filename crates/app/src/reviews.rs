//! Reviews of completed orders: who may review, and when (the rules are `domain::review`'s).

use crate::access::Side;
use crate::error::{Error, OrNotFound, Result};
use crate::App;
use souk_domain::id::{self, Kind};
use souk_domain::order::OrderView;
use souk_domain::review::{self, Review};
use souk_store::trust::{ReviewDraft, ReviewView};
use souk_store::{Conflict, StoreError, Tx};

/// Whether a caller on `side` of the order may review it now: its buyer, once it is completed,
/// within the review window.
pub fn may_review(app: &App, side: Side, order: &OrderView) -> Result<()> {
    if side != Side::Buyer {
        return Err(Error::forbidden("only the order's buyer may review it"));
    }
    let completed = order.completed_at.map(|t| t.ms());
    Ok(review::reviewable(order.state, completed, app.store.now_ms())?)
}

/// Reviews one line of the order (counted from 0).
pub async fn review_line(tx: &mut Tx, user_id: &str, order_id: &str, line: i64, review: Review) -> Result<ReviewView> {
    Ok(tx.create_review(user_id, &ReviewDraft::of(order_id, line, review)).await?)
}

/// Gives every line of the order not reviewed yet the same review; answers how many it
/// reviewed, and refuses when there was none left.
pub async fn review_order(tx: &mut Tx, user_id: &str, order: &OrderView, review: Review) -> Result<usize> {
    let mut posted = 0;
    for line in 0..order.lines.len() as i64 {
        match tx.create_review(user_id, &ReviewDraft::of(&order.id, line, review.clone())).await {
            Ok(_) => posted += 1,
            Err(StoreError::Conflict { kind: Conflict::AlreadyReviewed, .. }) => {}
            Err(e) => return Err(e.into()),
        }
    }
    if posted == 0 {
        return Err(StoreError::Conflict {
            kind: Conflict::AlreadyReviewed,
            message: "you have reviewed this order already".into(),
        }
        .into());
    }
    Ok(posted)
}

/// The store's owner answers a review of the store, once.
pub async fn reply(app: &App, tx: &mut Tx, user_id: &str, review_id: &str, text: &str) -> Result<ReviewView> {
    let text = review::reply_text(text)?;
    if !id::is_valid(Kind::Review, review_id) {
        return Err(Error::not_found("review"));
    }
    let review = tx.review(review_id).await.or_not_found("review")?;
    let store = app.store.store_by_id(&review.store_id).await.or_not_found("store")?;
    if store.owner_id != user_id {
        return Err(Error::forbidden("only the store's owner may reply"));
    }
    Ok(tx.reply_to_review(review_id, &text).await?)
}
