//! Conversations between a buyer and a store, blocks, and offers negotiated in them. Only the
//! two parties see a conversation; anyone else gets "not found", as if it did not exist.

use crate::error::{Error, ErrorKind, OrNotFound, Result};
use crate::App;
use serde::Serialize;
use souk_domain::account::Role;
use souk_domain::chat::MessageDraft;
use souk_domain::chat::{self, OfferAnswer, OfferRefusal, OfferState, Side};
use souk_domain::checkout::Item;
use souk_domain::geo::parse_country;
use souk_domain::id::{self, Kind};
use souk_domain::order::OrderView;
use souk_domain::time::{parse_rfc3339, MINUTE_MS};
use souk_domain::{Invalid, Money};
use souk_store::accounts::User;
use souk_store::chat::{offer_not_open, Conversation, MessageView, Offer, OfferTerms, OfferView};
use souk_store::{StoreError, Tx};

/// The conversation and the caller's side of it; 404 for anyone else.
pub async fn party(app: &App, user: &User, id: &str) -> Result<(Conversation, Side)> {
    if !id::is_valid(Kind::Conversation, id) {
        return Err(Error::not_found("conversation"));
    }
    let c = app.store.conversation(id).await.or_not_found("conversation")?;
    let side = c.side_of(&user.id).ok_or_else(|| Error::not_found("conversation"))?;
    Ok((c, side))
}

/// The conversation, for reading: its parties, and mediators once the buyer has disputed an
/// order from the store (they decide from the conversation).
pub async fn readable(app: &App, user: &User, id: &str) -> Result<Conversation> {
    match party(app, user, id).await {
        Ok((c, _)) => Ok(c),
        Err(e) if user.has(Role::Mediator) || user.has(Role::Admin) => {
            let c = app.store.conversation(id).await.or_not_found("conversation")?;
            if app.store.disputed_between(&c.buyer_id, &c.store_id).await? {
                Ok(c)
            } else {
                Err(e)
            }
        }
        Err(e) => Err(e),
    }
}

pub async fn refuse_if_blocked(app: &App, c: &Conversation) -> Result<()> {
    if app.store.blocked_between(&c.buyer_id, &c.seller_id).await? {
        return Err(Error::new(ErrorKind::Forbidden, "blocked", "one of you has blocked the other"));
    }
    Ok(())
}

/// Opens (or finds) the buyer's conversation with a store, about a product or an order; nobody
/// opens one with their own store.
pub async fn open(
    app: &App,
    tx: &mut Tx,
    buyer_id: &str,
    store_id: &str,
    product_id: Option<&str>,
    order_id: Option<&str>,
) -> Result<Conversation> {
    let owner = app.store.store_by_id(store_id).await.or_not_found("store")?.owner_id;
    if owner == buyer_id {
        return Err(Invalid::new("own_store", "store", "you cannot open a conversation with your own store").into());
    }
    Ok(tx.open_conversation(buyer_id, store_id, product_id, order_id).await?)
}

/// Posts a message from the caller on `side` of the conversation: not between parties one of
/// whom blocked the other, and within the sender's allowance per minute.
pub async fn send(
    app: &App,
    tx: &mut Tx,
    user: &User,
    c: &Conversation,
    side: Side,
    draft: &MessageDraft,
) -> Result<MessageView> {
    refuse_if_blocked(app, c).await?;
    rate_limit(app, tx, user).await?;
    Ok(tx.post_message(c, side, draft, None).await?)
}

/// Counts one message against the sender's per-minute allowance; too many past it.
pub async fn rate_limit(app: &App, tx: &mut Tx, user: &User) -> Result<()> {
    let key = format!("message:{}", user.id);
    let now = app.store.now_ms();
    if let Some(wait_s) = crate::limiter::blocked_for(app, &key, chat::MESSAGES_PER_MINUTE, MINUTE_MS, now).await? {
        return Err(Error::rate_limited(wait_s));
    }
    crate::limiter::hit_in(tx, &key, MINUTE_MS, now).await
}

pub fn terms(
    app: &App,
    sku_id: String,
    quantity: i64,
    unit_price: Money,
    valid_until: &str,
    ship_to: Option<String>,
) -> Result<OfferTerms> {
    let valid_until_ms =
        parse_rfc3339(valid_until).ok_or_else(|| Invalid::new("invalid_time", "valid_until", "an RFC 3339 time"))?;
    chat::offer_terms(quantity, unit_price.amount, valid_until_ms, app.store.now_ms())?;
    let ship_to = ship_to.map(|c| parse_country(&c, "ship_to")).transpose()?;
    Ok(OfferTerms { sku_id, quantity, unit_price, valid_until_ms, ship_to })
}

/// The offer, its conversation, and the caller's side, with the domain's verdict on `answer`.
pub async fn answerable(app: &App, user: &User, id: &str, answer: OfferAnswer) -> Result<(Offer, Conversation, Side)> {
    if !id::is_valid(Kind::Offer, id) {
        return Err(Error::not_found("offer"));
    }
    let offer = app.store.offer(id).await.or_not_found("offer")?;
    let (c, side) = party(app, user, &offer.view.conversation_id).await.map_err(|_| Error::not_found("offer"))?;
    match chat::answer(offer.state, offer.made_by, side, answer) {
        Ok(_) => Ok((offer, c, side)),
        Err(OfferRefusal::OwnOffer) => Err(Error::forbidden("the other party answers an offer")),
        Err(OfferRefusal::NotOpen(state)) => Err(offer_not_open(state).into()),
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct OfferAccepted {
    pub offer: OfferView,
    /// The order at the agreed price, awaiting the buyer's payment (`POST /orders/{id}/pay`).
    pub order: OrderView,
}

/// Makes an offer in the conversation, or, with `counters`, answers the other party's open
/// offer with new terms: the seller makes offers, either party counters.
pub async fn offer(
    app: &App,
    tx: &mut Tx,
    c: &Conversation,
    side: Side,
    terms: &OfferTerms,
    counters: Option<&Offer>,
) -> Result<(Offer, MessageView)> {
    if counters.is_none() && side != Side::Seller {
        return Err(Error::forbidden("the seller makes offers; a buyer counters them"));
    }
    refuse_if_blocked(app, c).await?;
    Ok(tx.make_offer(c, side, terms, counters.map(|o| o.view.id.as_str())).await?)
}

/// Declines the other party's open offer (from [`answerable`]).
pub async fn decline(tx: &mut Tx, offer: &Offer) -> Result<Offer> {
    Ok(tx.close_offer(offer, OfferState::Declined, None).await?)
}

/// Accepts `offer` in `tx` for the party on `side` (the caller has checked it may): an order at
/// the agreed price shipped to `ship_to` (or the offer's country), the guarded `open → accepted`
/// change, and a note in the conversation. The API and the pages share it.
pub async fn accept_in(
    app: &App,
    tx: &mut Tx,
    offer: &Offer,
    c: &Conversation,
    side: Side,
    ship_to: Option<String>,
) -> Result<(Offer, OrderView)> {
    refuse_if_blocked(app, c).await?;
    let country = match ship_to.filter(|s| !s.trim().is_empty()).or(offer.terms.ship_to.clone()) {
        Some(c) => parse_country(c.trim().to_ascii_uppercase().as_str(), "ship_to")?,
        None => return Err(Invalid::new("required", "ship_to", "where the order ships").into()),
    };
    let item = Item { sku_id: offer.terms.sku_id.clone(), quantity: offer.terms.quantity };
    let order = tx
        .checkout_agreed(&c.buyer_id, &country, &item, offer.terms.unit_price, &app.config.policy)
        .await
        .map_err(|e| match e {
            // The line's field names mean nothing here: name the offer's.
            StoreError::Invalid(mut i) => {
                i.field = i.field.map(|f| f.rsplit('.').next().unwrap_or(&f).replace("sku_id", "offer"));
                StoreError::Invalid(i)
            }
            e => e,
        })?;
    let closed = tx.close_offer(offer, OfferState::Accepted, Some(&order.id)).await?;
    let note = chat::MessageDraft { text: format!("Accepted the offer: order {}", order.id), images: Vec::new() };
    tx.post_message(c, side, &note, Some(&offer.view.id)).await?;
    Ok((closed, order))
}

/// Marks the conversation read up to message `seq` for the user's side; the mark never moves
/// back. Answers the mark.
pub async fn mark_read(tx: &mut Tx, c: &Conversation, side: Side, seq: i64) -> Result<i64> {
    if seq < 0 {
        return Err(Invalid::new("out_of_range", "seq", "a message number, 0 or more").into());
    }
    Ok(tx.mark_read(c, side, seq).await?)
}

/// Blocks (or unblocks) another user: a blocked user cannot message the one who blocked them.
pub async fn set_block(app: &App, tx: &mut Tx, user: &User, other: &str, blocked: bool) -> Result<()> {
    if !id::is_valid(Kind::User, other) {
        return Err(Error::not_found("user"));
    }
    app.store.user_by_id(other).await.or_not_found("user")?;
    if other == user.id {
        return Err(Invalid::new("self", "id", "you cannot block yourself").into());
    }
    if blocked {
        tx.block(&user.id, other).await?;
    } else {
        tx.unblock(&user.id, other).await?;
    }
    Ok(())
}
