//! Conversations between a buyer and a store, blocks, and offers negotiated in them. Only the
//! two parties see a conversation; anyone else gets 404, as if it did not exist.

use crate::error::{AppError, AppResult, OrNotFound};
use crate::extract::{ApiJson, ApiQuery, Authed, PageQuery};
use crate::idempotency::Idem;
use crate::App;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;
use serde::{Deserialize, Serialize};
use souk_app::access::find_store;
use souk_app::chat as chat_app;
use souk_app::chat::{accept_in, answerable, party, readable, terms, OfferAccepted};
use souk_app::views::Page;
use souk_app::views::User;
use souk_app::views::{ConversationView, MessageView, OfferView};
use souk_domain::chat::{self, OfferAnswer};
use souk_domain::{Invalid, Money};

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConversationInput {
    /// The store (id or slug) a buyer writes to; implied by `product_id` or `order_id`.
    pub store: Option<String>,
    /// The product it is about.
    pub product_id: Option<String>,
    /// The order it is about; its buyer or its seller may open it.
    pub order_id: Option<String>,
}

/// Opens the conversation between the caller (as buyer) and a store, about a product or an
/// order if given; the same parties and subject always get the same conversation back. The
/// seller of an order may open its conversation too.
#[utoipa::path(post, path = "/api/v1/conversations", tag = "chat", security(("bearer" = [])), request_body = ConversationInput,
    params(crate::openapi::IdempotencyKey),
    responses((status = 200, body = ConversationView), (status = 403, body = crate::error::ErrorBody),
              (status = 404, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)))]
pub async fn open_conversation(
    State(app): State<App>,
    Authed(user): Authed,
    idem: Idem,
    ApiJson(input): ApiJson<ConversationInput>,
) -> AppResult<Response> {
    let (buyer_id, store_id) = if let Some(order_id) = &input.order_id {
        let side = souk_app::access::side(&app, &user, order_id).await?;
        let order = app.order(order_id).await.or_not_found("order")?;
        if side == souk_app::access::Side::Staff {
            return Err(AppError::forbidden("only the order's buyer and seller talk about it"));
        }
        (order.buyer_id, order.store_id)
    } else if let Some(product_id) = &input.product_id {
        let product = souk_app::access::visible_product(&app, Some(&user), product_id).await?;
        (user.id.clone(), product.store_id)
    } else {
        let store_ref = input
            .store
            .as_deref()
            .ok_or_else(|| Invalid::new("required", "store", "the store to write to (or a product_id or order_id)"))?;
        (user.id.clone(), find_store(&app, store_ref).await?.id)
    };
    if let Some(store_ref) = &input.store {
        if find_store(&app, store_ref).await?.id != store_id {
            return Err(Invalid::new("mismatch", "store", "the product or order belongs to another store").into());
        }
    }
    let mut tx = app.begin().await?;
    let c = chat_app::open(&app, &mut tx, &buyer_id, &store_id, input.product_id.as_deref(), input.order_id.as_deref())
        .await?;
    let id = c.id.clone();
    souk_app::commit(tx).await?;
    let view = app.conversation_view(&id, &user.id).await?;
    let tx = app.begin().await?;
    idem.finish(tx, StatusCode::OK, &view).await
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Conversations {
    pub items: Vec<ConversationView>,
    pub next_cursor: Option<String>,
    /// Unread messages across all the caller's conversations.
    pub unread_total: i64,
}

/// The caller's conversations, as buyer and as seller, most recent first, with unread counts.
#[utoipa::path(get, path = "/api/v1/conversations", tag = "chat", security(("bearer" = [])), params(PageQuery),
    responses((status = 200, body = Conversations)))]
pub async fn conversations(
    State(app): State<App>,
    Authed(user): Authed,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> AppResult<Json<Conversations>> {
    let found = app.conversations(&user.id, page.cursor(), page.limit()?).await?;
    let unread_total = app.unread_total(&user.id).await?;
    Ok(Json(Conversations { items: found.items, next_cursor: found.next_cursor, unread_total }))
}

/// One conversation, to its two parties.
#[utoipa::path(get, path = "/api/v1/conversations/{id}", tag = "chat", security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, body = ConversationView), (status = 404, body = crate::error::ErrorBody)))]
pub async fn conversation(
    State(app): State<App>,
    Authed(user): Authed,
    Path(id): Path<String>,
) -> AppResult<Json<ConversationView>> {
    readable(&app, &user, &id).await?;
    Ok(Json(app.conversation_view(&id, &user.id).await?))
}

/// A conversation's messages, newest first; `cursor` pages back in time.
#[utoipa::path(get, path = "/api/v1/conversations/{id}/messages", tag = "chat", security(("bearer" = [])),
    params(("id" = String, Path), PageQuery),
    responses((status = 200, body = Page<MessageView>), (status = 404, body = crate::error::ErrorBody)))]
pub async fn messages(
    State(app): State<App>,
    Authed(user): Authed,
    Path(id): Path<String>,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> AppResult<Json<Page<MessageView>>> {
    readable(&app, &user, &id).await?;
    let before = match page.cursor() {
        Some(c) => Some(c.parse::<i64>().map_err(|_| Invalid::new("invalid", "cursor", "a cursor from next_cursor"))?),
        None => None,
    };
    Ok(Json(app.messages(&id, before, page.limit()?).await?))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MessageInput {
    /// At most 2,000 characters; may be empty when images are sent.
    #[serde(default)]
    pub text: String,
    /// Up to 4 http(s) image URLs.
    #[serde(default)]
    pub images: Vec<String>,
}

/// Sends a message; both parties' devices receive it live. At most 30 messages a minute per
/// sender; 403 `blocked` when either party blocked the other.
#[utoipa::path(post, path = "/api/v1/conversations/{id}/messages", tag = "chat", security(("bearer" = [])), request_body = MessageInput,
    params(("id" = String, Path), crate::openapi::IdempotencyKey),
    responses((status = 201, body = MessageView), (status = 403, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody),
              (status = 422, body = crate::error::ErrorBody), (status = 429, body = crate::error::ErrorBody)))]
pub async fn send_message(
    State(app): State<App>,
    Authed(user): Authed,
    Path(id): Path<String>,
    idem: Idem,
    ApiJson(input): ApiJson<MessageInput>,
) -> AppResult<Response> {
    let draft = chat::message(&input.text, &input.images)?;
    let (c, side) = party(&app, &user, &id).await?;
    let mut tx = app.begin().await?;
    let message = chat_app::send(&app, &mut tx, &user, &c, side, &draft).await?;
    idem.finish(tx, StatusCode::CREATED, &message).await
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReadInput {
    /// The newest message number the caller has seen.
    pub seq: i64,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ReadMark {
    pub read_seq: i64,
}

/// Marks the conversation read up to `seq`; the other party gets a read receipt. The mark never
/// moves back.
#[utoipa::path(post, path = "/api/v1/conversations/{id}/read", tag = "chat", security(("bearer" = [])), request_body = ReadInput,
    params(("id" = String, Path), crate::openapi::IdempotencyKey),
    responses((status = 200, body = ReadMark), (status = 404, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)))]
pub async fn mark_read(
    State(app): State<App>,
    Authed(user): Authed,
    Path(id): Path<String>,
    idem: Idem,
    ApiJson(input): ApiJson<ReadInput>,
) -> AppResult<Response> {
    let (c, side) = party(&app, &user, &id).await?;
    let mut tx = app.begin().await?;
    let read_seq = chat_app::mark_read(&mut tx, &c, side, input.seq).await?;
    idem.finish(tx, StatusCode::OK, &ReadMark { read_seq }).await
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct BlockState {
    pub user_id: String,
    pub blocked: bool,
}

async fn set_block(app: &App, user: &User, other: &str, idem: Idem, blocked: bool) -> AppResult<Response> {
    let mut tx = app.begin().await?;
    chat_app::set_block(app, &mut tx, user, other, blocked).await?;
    idem.finish(tx, StatusCode::OK, &BlockState { user_id: other.to_string(), blocked }).await
}

/// Blocks a user: neither of you can write to the other until it is lifted.
#[utoipa::path(post, path = "/api/v1/users/{id}/block", tag = "chat", security(("bearer" = [])),
    params(("id" = String, Path), crate::openapi::IdempotencyKey),
    responses((status = 200, body = BlockState), (status = 404, body = crate::error::ErrorBody)))]
pub async fn block(
    State(app): State<App>,
    Authed(user): Authed,
    Path(id): Path<String>,
    idem: Idem,
) -> AppResult<Response> {
    set_block(&app, &user, &id, idem, true).await
}

/// Lifts the caller's block of a user.
#[utoipa::path(delete, path = "/api/v1/users/{id}/block", tag = "chat", security(("bearer" = [])),
    params(("id" = String, Path), crate::openapi::IdempotencyKey),
    responses((status = 200, body = BlockState), (status = 404, body = crate::error::ErrorBody)))]
pub async fn unblock(
    State(app): State<App>,
    Authed(user): Authed,
    Path(id): Path<String>,
    idem: Idem,
) -> AppResult<Response> {
    set_block(&app, &user, &id, idem, false).await
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OfferInput {
    /// The store's SKU offered.
    pub sku_id: String,
    pub quantity: i64,
    pub unit_price: Money,
    /// RFC 3339; at most 30 days ahead.
    pub valid_until: String,
    /// The country it ships to; the buyer names it when countering or accepting if absent.
    pub ship_to: Option<String>,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CounterInput {
    pub quantity: i64,
    pub unit_price: Money,
    pub valid_until: String,
    pub ship_to: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct OfferMade {
    pub offer: OfferView,
    /// The chat message announcing it.
    pub message: MessageView,
}

/// The seller offers a SKU, quantity and unit price, valid until a time. It replaces the
/// seller's open offer in the conversation, and counters the buyer's, if there is one.
#[utoipa::path(post, path = "/api/v1/conversations/{id}/offers", tag = "chat", security(("bearer" = [])), request_body = OfferInput,
    params(("id" = String, Path), crate::openapi::IdempotencyKey),
    responses((status = 201, body = OfferMade), (status = 403, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody),
              (status = 422, body = crate::error::ErrorBody)))]
pub async fn make_offer(
    State(app): State<App>,
    Authed(user): Authed,
    Path(id): Path<String>,
    idem: Idem,
    ApiJson(input): ApiJson<OfferInput>,
) -> AppResult<Response> {
    let (c, side) = party(&app, &user, &id).await?;
    let terms = terms(&app, input.sku_id, input.quantity, input.unit_price, &input.valid_until, input.ship_to)?;
    let mut tx = app.begin().await?;
    let (offer, message) = chat_app::offer(&app, &mut tx, &c, side, &terms, None).await?;
    idem.finish(tx, StatusCode::CREATED, &OfferMade { offer: offer.view, message }).await
}

/// A conversation's offers and counter-offers, newest first.
#[utoipa::path(get, path = "/api/v1/conversations/{id}/offers", tag = "chat", security(("bearer" = [])),
    params(("id" = String, Path), PageQuery),
    responses((status = 200, body = Page<OfferView>), (status = 404, body = crate::error::ErrorBody)))]
pub async fn offers(
    State(app): State<App>,
    Authed(user): Authed,
    Path(id): Path<String>,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> AppResult<Json<Page<OfferView>>> {
    readable(&app, &user, &id).await?;
    Ok(Json(app.offers(&id, page.cursor(), page.limit()?).await?))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AcceptInput {
    /// Where the order ships; required when the offer does not say.
    pub ship_to: Option<String>,
}

/// Accepts the other party's open offer: an order for the buyer alone at the agreed unit price,
/// its stock reserved now, through the escrow flow. An expired, superseded or answered offer is
/// 409.
#[utoipa::path(post, path = "/api/v1/offers/{id}/accept", tag = "chat", security(("bearer" = [])), request_body = AcceptInput,
    params(("id" = String, Path), crate::openapi::IdempotencyKey),
    responses((status = 201, body = OfferAccepted), (status = 403, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody),
              (status = 409, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)))]
pub async fn accept_offer(
    State(app): State<App>,
    Authed(user): Authed,
    Path(id): Path<String>,
    idem: Idem,
    ApiJson(input): ApiJson<AcceptInput>,
) -> AppResult<Response> {
    let (offer, c, side) = answerable(&app, &user, &id, OfferAnswer::Accept).await?;
    let mut tx = app.begin().await?;
    let (offer, order) = accept_in(&app, &mut tx, &offer, &c, side, input.ship_to).await?;
    idem.finish(tx, StatusCode::CREATED, &OfferAccepted { offer: offer.view, order }).await
}

/// Declines the other party's open offer.
#[utoipa::path(post, path = "/api/v1/offers/{id}/decline", tag = "chat", security(("bearer" = [])),
    params(("id" = String, Path), crate::openapi::IdempotencyKey),
    responses((status = 200, body = OfferView), (status = 403, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody),
              (status = 409, body = crate::error::ErrorBody)))]
pub async fn decline_offer(
    State(app): State<App>,
    Authed(user): Authed,
    Path(id): Path<String>,
    idem: Idem,
) -> AppResult<Response> {
    let (offer, _, _) = answerable(&app, &user, &id, OfferAnswer::Decline).await?;
    let mut tx = app.begin().await?;
    let closed = chat_app::decline(&mut tx, &offer).await?;
    idem.finish(tx, StatusCode::OK, &closed.view).await
}

/// Answers the other party's open offer with new terms for the same SKU; counter-offers
/// alternate until one is accepted or declined.
#[utoipa::path(post, path = "/api/v1/offers/{id}/counter", tag = "chat", security(("bearer" = [])), request_body = CounterInput,
    params(("id" = String, Path), crate::openapi::IdempotencyKey),
    responses((status = 201, body = OfferMade), (status = 403, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody),
              (status = 409, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)))]
pub async fn counter_offer(
    State(app): State<App>,
    Authed(user): Authed,
    Path(id): Path<String>,
    idem: Idem,
    ApiJson(input): ApiJson<CounterInput>,
) -> AppResult<Response> {
    let (offer, c, side) = answerable(&app, &user, &id, OfferAnswer::Counter).await?;
    let ship_to = input.ship_to.or(offer.terms.ship_to.clone());
    let terms = terms(&app, offer.terms.sku_id.clone(), input.quantity, input.unit_price, &input.valid_until, ship_to)?;
    let mut tx = app.begin().await?;
    let (made, message) = chat_app::offer(&app, &mut tx, &c, side, &terms, Some(&offer)).await?;
    idem.finish(tx, StatusCode::CREATED, &OfferMade { offer: made.view, message }).await
}
