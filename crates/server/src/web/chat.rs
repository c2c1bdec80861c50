//! Messages between buyers and stores: the inbox, and a conversation that updates live over the
//! WebSocket (`assets/chat.js`); sending is an ordinary form, so it works without JavaScript.

use super::forms::{form_key, once, to_login};
use super::Ctx;
use crate::App;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Form;
use maud::html;
use serde::Deserialize;
use souk_domain::chat::Side;
use souk_domain::id::{self, Kind};
use souk_domain::moderation::Target;

#[derive(Deserialize)]
pub struct InboxQuery {
    #[serde(default, rename = "as")]
    role: String,
}

/// The user's conversations; `?as=store` keeps those with the user's store's customers (the
/// seller center's inbox), `?as=buyer` those the user started as a buyer.
pub async fn inbox(State(app): State<App>, ctx: Ctx, Query(q): Query<InboxQuery>) -> Response {
    let Some(user) = ctx.user.clone() else { return to_login("/messages") };
    let Ok(mut page) = app.conversations(&user.id, None, 100).await else { return ctx.error() };
    match q.role.as_str() {
        "store" => page.items.retain(|c| c.buyer_id != user.id),
        "buyer" => page.items.retain(|c| c.buyer_id == user.id),
        _ => {}
    }
    let body = html! {
        h1 { @if q.role == "store" { (ctx.t("Customer messages")) } @else { (ctx.t("Messages")) } }
        p.windows {
            a.current[q.role.is_empty()] href="/messages" { (ctx.t("All")) } " "
            a.current[q.role == "buyer"] href="/messages?as=buyer" { (ctx.t("As a buyer")) } " "
            a.current[q.role == "store"] href="/messages?as=store" { (ctx.t("My store's customers")) }
        }
        @if page.items.is_empty() { p.notice { (ctx.t("No conversations yet.")) } }
        ul.orders {
            @for c in &page.items {
                li {
                    a href=(format!("/messages/{}", c.id)) {
                        @if c.buyer_id == user.id { (c.store_name) } @else { (c.buyer_name) }
                    }
                    @if c.unread > 0 { " " span.unread { (c.unread) } }
                    " · " (ctx.when(c.last_message_at))
                    @if let Some(p) = &c.last_message_preview { span.preview { (p) } }
                    @else if c.last_offer_id.is_some() { span.preview { (ctx.t("An offer: open the conversation to answer it.")) } }
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
    let Ok(product) = souk_app::access::visible_product(&app, Some(&user), &f.product_id).await else {
        return ctx.not_found();
    };
    once!(app, ctx, user, f._key, |tx| {
        let c = souk_app::chat::open(&app, &mut tx, &user.id, &product.store_id, Some(&product.id), None).await?;
        format!("/messages/{}", c.id)
    })
}

pub async fn conversation(State(app): State<App>, ctx: Ctx, Path(id): Path<String>) -> Response {
    let Some(user) = ctx.user.clone() else { return to_login(&format!("/messages/{id}")) };
    if !id::is_valid(Kind::Conversation, &id) {
        return ctx.not_found();
    }
    let Ok(c) = app.conversation(&id).await else { return ctx.not_found() };
    let Some(side) = c.side_of(&user.id) else { return ctx.not_found() };
    let (Ok(view), Ok(page), Ok(cursor)) = (
        app.conversation_view(&id, &user.id).await,
        app.messages(&id, None, 50).await,
        app.latest_event(&user.id).await,
    ) else {
        return ctx.error();
    };
    let offers = super::deals::offers_panel(&app, &ctx, &c.id, &c.store_id, side).await;
    // Opening the conversation reads it: the other side gets the read receipt.
    if let Some(newest) = page.items.first() {
        if let Ok(mut tx) = app.begin().await {
            if souk_app::chat::mark_read(&mut tx, &c, side, newest.seq).await.is_ok() {
                let _ = souk_app::commit(tx).await;
            }
        }
    }
    let other = if side == Side::Buyer { view.store_name.clone() } else { view.buyer_name.clone() };
    // An offer's message is drawn from the offer itself, in the page's words and time.
    let offer_of: std::collections::HashMap<String, souk_app::views::OfferView> = app
        .offers(&c.id, None, 50)
        .await
        .map(|p| p.items)
        .unwrap_or_default()
        .into_iter()
        .map(|o| (o.id.clone(), o))
        .collect();
    let body = html! {
        h1 { (ctx.t("Messages")) ": " (other) }
        @if let Some(p) = &view.product_id { p { a href=(format!("/products/{p}")) { (ctx.t("About this product")) } } }
        ol #messages.chat data-conversation=(c.id) data-side=(side.as_str()) data-cursor=(cursor) {
            @for m in page.items.iter().rev() {
                li data-seq=(m.seq) class=(if m.side == side.as_str() { "mine" } else { "theirs" }) {
                    @match m.offer_id.as_ref().and_then(|id| offer_of.get(id)) {
                        Some(o) => {
                            strong { (ctx.t(if o.counters.is_some() { "Counter-offer" } else { "Offer" })) } ": "
                            (o.quantity) " × " (o.title) " · " (super::money(&o.unit_price)) " " (ctx.t("each")) " · "
                            (super::money(&o.total)) " " (ctx.t("in all")) " · " (ctx.t("valid until")) " " (ctx.when(o.valid_until))
                        }
                        None => {
                            (m.text)
                            @if m.side != side.as_str() { " " (super::moderation::report_link(&ctx, Target::Message, &m.id)) }
                        }
                    }
                }
            }
        }
        p #typing.hint data-text=(ctx.t("typing…")) {}
        form.send method="post" action=(format!("/messages/{}", c.id)) {
            (ctx.csrf_field()) (form_key())
            textarea name="text" required maxlength="2000" aria-label=(ctx.t("Message")) {}
            button type="submit" { (ctx.t("Send")) }
        }
        (offers)
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
    let Ok(c) = app.conversation(&id).await else { return ctx.not_found() };
    let Some(side) = c.side_of(&user.id) else { return ctx.not_found() };
    once!(app, ctx, user, f._key, |tx| {
        let draft = souk_domain::chat::message(&f.text, &[])?;
        souk_app::chat::send(&app, &mut tx, &user, &c, side, &draft).await?;
        format!("/messages/{id}")
    })
}
