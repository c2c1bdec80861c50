//! Messages between buyers and stores: the inbox, and a conversation that updates live over the
//! WebSocket (`assets/chat.js`); sending is an ordinary form, so it works without JavaScript.

use super::forms::{form_key, once, to_login};
use super::Ctx;
use crate::App;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Form;
use maud::html;
use serde::Deserialize;
use souk_domain::chat::Side;
use souk_domain::id::{self, Kind};
use souk_domain::Invalid;

pub async fn inbox(State(app): State<App>, ctx: Ctx) -> Response {
    let Some(user) = ctx.user.clone() else { return to_login("/messages") };
    let Ok(page) = app.store.conversations(&user.id, None, 100).await else { return ctx.error() };
    let body = html! {
        h1 { (ctx.t("Messages")) }
        @if page.items.is_empty() { p.notice { (ctx.t("No conversations yet.")) } }
        ul.orders {
            @for c in &page.items {
                li {
                    a href=(format!("/messages/{}", c.id)) {
                        @if c.buyer_id == user.id { (c.store_name) } @else { (c.buyer_name) }
                    }
                    @if c.unread > 0 { " " span.unread { (c.unread) } }
                    " · " time { (c.last_message_at) }
                }
            }
        }
    };
    ctx.page(StatusCode::OK, ctx.t("Messages"), body)
}

#[derive(Deserialize)]
pub struct StartForm {
    product_id: String,
    #[serde(default)]
    _csrf: String,
    #[serde(default)]
    _key: String,
}

/// "Contact the seller" from a product page: the buyer's conversation about that product.
pub async fn start(State(app): State<App>, ctx: Ctx, Form(f): Form<StartForm>) -> Response {
    let Some(user) = ctx.user.clone() else { return to_login(&format!("/products/{}", f.product_id)) };
    if !ctx.csrf_ok(&f._csrf) {
        return ctx.expired_form();
    }
    let Ok(product) = crate::routes::visible_product(&app, Some(&user), &f.product_id).await else {
        return ctx.not_found();
    };
    once!(app, ctx, user, f._key, |tx| {
        let owner = tx.store().store_by_id(&product.store_id).await?.owner_id;
        if owner == user.id {
            return Err(Invalid::new("own_store", "store", "you cannot open a conversation with your own store").into());
        }
        let c = tx.open_conversation(&user.id, &product.store_id, Some(&product.id), None).await?;
        format!("/messages/{}", c.id)
    })
}

pub async fn conversation(State(app): State<App>, ctx: Ctx, Path(id): Path<String>) -> Response {
    let Some(user) = ctx.user.clone() else { return to_login(&format!("/messages/{id}")) };
    if !id::is_valid(Kind::Conversation, &id) {
        return ctx.not_found();
    }
    let Ok(c) = app.store.conversation(&id).await else { return ctx.not_found() };
    let Some(side) = c.side_of(&user.id) else { return ctx.not_found() };
    let (Ok(view), Ok(page), Ok(cursor), Ok(offers)) = (
        app.store.conversation_view(&id, &user.id).await,
        app.store.messages(&id, None, 50).await,
        app.store.latest_event(&user.id).await,
        app.store.offers(&id, None, 20).await,
    ) else {
        return ctx.error();
    };
    let open: Vec<_> = offers.items.iter().filter(|o| o.state == "open" && o.made_by != side.as_str()).collect();
    // Opening the conversation reads it: the other side gets the read receipt.
    if let Some(newest) = page.items.first() {
        if let Ok(mut tx) = app.store.begin().await {
            if tx.mark_read(&c, side, newest.seq).await.is_ok() {
                let _ = tx.commit().await;
            }
        }
    }
    let other = if side == Side::Buyer { view.store_name.clone() } else { view.buyer_name.clone() };
    let body = html! {
        h1 { (ctx.t("Messages")) ": " (other) }
        @if let Some(p) = &view.product_id { p { a href=(format!("/products/{p}")) { (ctx.t("About this product")) } } }
        ol #messages.chat data-conversation=(c.id) data-side=(side.as_str()) data-cursor=(cursor) {
            @for m in page.items.iter().rev() {
                li data-seq=(m.seq) class=(if m.side == side.as_str() { "mine" } else { "theirs" }) { (m.text) }
            }
        }
        p #typing.hint data-text=(ctx.t("typing…")) {}
        @for o in &open {
            div.work.offer {
                p { strong { (ctx.t("Offer")) } ": " (o.quantity) " × " (o.title) " · " (super::money(&o.unit_price)) " · "
                    (ctx.t("valid until")) " " time { (o.valid_until) } }
                @if side == Side::Buyer {
                    form.accept method="post" action=(format!("/messages/{}/offers/{}/accept", c.id, o.id)) {
                        (ctx.csrf_field()) (form_key())
                        input name="ship_to" maxlength="2" size="3" value=(o.ship_to.as_deref().unwrap_or("")) placeholder="DE"
                            aria-label=(ctx.t("Ship to (country code)"));
                        button type="submit" { (ctx.t("Accept the offer")) }
                    }
                }
            }
        }
        form.send method="post" action=(format!("/messages/{}", c.id)) {
            (ctx.csrf_field()) (form_key())
            textarea name="text" required maxlength="2000" aria-label=(ctx.t("Message")) {}
            button type="submit" { (ctx.t("Send")) }
        }
        script src="/assets/chat.js" defer {}
    };
    ctx.page(StatusCode::OK, ctx.t("Messages"), body)
}

#[derive(Deserialize)]
pub struct SendForm {
    text: String,
    #[serde(default)]
    _csrf: String,
    #[serde(default)]
    _key: String,
}

pub async fn send(State(app): State<App>, ctx: Ctx, Path(id): Path<String>, Form(f): Form<SendForm>) -> Response {
    let Some(user) = ctx.user.clone() else { return to_login(&format!("/messages/{id}")) };
    if !ctx.csrf_ok(&f._csrf) {
        return ctx.expired_form();
    }
    let Ok(c) = app.store.conversation(&id).await else { return ctx.not_found() };
    let Some(side) = c.side_of(&user.id) else { return ctx.not_found() };
    once!(app, ctx, user, f._key, |tx| {
        let draft = souk_domain::chat::message(&f.text, &[])?;
        if app.store.blocked_between(&c.buyer_id, &c.seller_id).await? {
            return Err(crate::error::AppError::forbidden("one of you has blocked the other"));
        }
        tx.post_message(&c, side, &draft, None).await?;
        format!("/messages/{id}")
    })
}

#[derive(Deserialize)]
pub struct AcceptForm {
    #[serde(default)]
    ship_to: String,
    #[serde(default)]
    _csrf: String,
    #[serde(default)]
    _key: String,
}

/// The buyer accepts the seller's open offer: an order at the agreed price, then its page.
pub async fn accept(
    State(app): State<App>,
    ctx: Ctx,
    Path((id, offer_id)): Path<(String, String)>,
    Form(f): Form<AcceptForm>,
) -> Response {
    let Some(user) = ctx.user.clone() else { return to_login(&format!("/messages/{id}")) };
    if !ctx.csrf_ok(&f._csrf) {
        return ctx.expired_form();
    }
    let (Ok(c), Ok(offer)) = (app.store.conversation(&id).await, app.store.offer(&offer_id).await) else {
        return ctx.not_found();
    };
    if offer.view.conversation_id != c.id || c.side_of(&user.id) != Some(Side::Buyer) {
        return ctx.not_found();
    }
    once!(app, ctx, user, f._key, |tx| {
        if let Err(refusal) =
            souk_domain::chat::answer(offer.state, offer.made_by, Side::Buyer, souk_domain::chat::OfferAnswer::Accept)
        {
            return Err(match refusal {
                souk_domain::chat::OfferRefusal::NotOpen(state) => souk_store::chat::offer_not_open(state).into(),
                souk_domain::chat::OfferRefusal::OwnOffer => {
                    crate::error::AppError::forbidden("the other party answers an offer")
                }
            });
        }
        crate::routes::chat::refuse_if_blocked(&app, &c).await?;
        let ship_to = Some(f.ship_to.clone());
        let (_, order) = crate::routes::chat::accept_in(&app, &mut tx, &offer, &c, Side::Buyer, ship_to).await?;
        format!("/orders/{}", order.id)
    })
}
