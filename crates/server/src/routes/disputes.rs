//! Disputes, returns and mediation. Only the buyer opens a dispute, only the seller answers it,
//! only mediators decide; the order's buyer and seller and mediators see it, nobody else.

use crate::error::{AppError, AppResult, OrNotFound};
use crate::extract::{ApiJson, ApiQuery, Authed, PageQuery};
use crate::idempotency::Idem;
use crate::App;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;
use serde::{Deserialize, Serialize};
use souk_app::access::side;
use souk_app::disputes::{self, dispute_for, is_staff, DisputeInput, EvidenceInput, Opening};
use souk_app::views::MessageView;
use souk_app::views::Page;
use souk_app::views::TrackingEventView;
use souk_app::views::User;
use souk_app::views::{Actor, DisputeView, Evidence, EvidenceView};
use souk_domain::dispute::{self, Step};
use souk_domain::order::OrderView;
use souk_domain::Invalid;

/// Chat messages a mediator's view shows, newest first.
const CHAT_IN_VIEW: usize = 100;

/// The buyer disputes a paid, shipped or delivered order: its money stays in escrow and its
/// deadlines stop until the dispute ends. `not_received` with no carrier event 7 days after
/// shipping is refunded at once; `not_received` for a parcel the carrier delivered goes to
/// mediation.
#[utoipa::path(post, path = "/api/v1/orders/{id}/disputes", tag = "disputes", security(("bearer" = [])), request_body = DisputeInput,
    params(("id" = String, Path), crate::openapi::IdempotencyKey),
    responses((status = 201, body = DisputeView), (status = 403, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody),
              (status = 409, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)))]
pub async fn open_dispute(
    State(app): State<App>,
    Authed(user): Authed,
    Path(order_id): Path<String>,
    idem: Idem,
    ApiJson(input): ApiJson<DisputeInput>,
) -> AppResult<Response> {
    let opening = Opening::check(&input.reason, &input.description, input.evidence)?;
    let side = side(&app, &user, &order_id).await?;
    let mut tx = app.begin().await?;
    let row = disputes::open(&app, &mut tx, side, &order_id, &opening).await?;
    idem.finish(tx, StatusCode::CREATED, &row.view).await
}

/// The caller's disputes, as buyer or seller, newest first.
#[utoipa::path(get, path = "/api/v1/disputes", tag = "disputes", security(("bearer" = [])), params(PageQuery),
    responses((status = 200, body = Page<DisputeView>)))]
pub async fn my_disputes(
    State(app): State<App>,
    Authed(user): Authed,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> AppResult<Json<Page<DisputeView>>> {
    Ok(Json(app.disputes(None, Some(&user.id), page.cursor(), page.limit()?).await?))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct QueueQuery {
    /// Which disputes: `mediation` (the default), or any other dispute state.
    pub state: Option<String>,
    pub cursor: Option<String>,
    pub limit: Option<usize>,
}

/// The mediators' queue: disputes awaiting a decision, oldest escalation first.
#[utoipa::path(get, path = "/api/v1/mediation/disputes", tag = "disputes", security(("bearer" = [])), params(QueueQuery),
    responses((status = 200, body = Page<DisputeView>), (status = 403, body = crate::error::ErrorBody)))]
pub async fn queue(
    State(app): State<App>,
    Authed(user): Authed,
    ApiQuery(q): ApiQuery<QueueQuery>,
) -> AppResult<Json<Page<DisputeView>>> {
    if !is_staff(&user) {
        return Err(AppError::forbidden("the mediation queue is for mediators"));
    }
    let state = q.state.unwrap_or_else(|| "mediation".into());
    if souk_domain::dispute::State::parse(&state).is_none() {
        return Err(Invalid::new("invalid", "state", "a dispute state such as mediation").into());
    }
    let page = PageQuery { cursor: q.cursor, limit: q.limit };
    Ok(Json(app.disputes(Some(&state), None, page.cursor(), page.limit()?).await?))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct DisputeDetail {
    pub dispute: DisputeView,
    /// Everything put on record, oldest first.
    pub evidence: Vec<EvidenceView>,
    pub order: OrderView,
    pub tracking: Vec<TrackingEventView>,
    /// The buyer's conversations with the store, newest messages first.
    pub chat: Vec<MessageView>,
}

/// One dispute with the order, its tracking, the evidence and the parties' chat: everything a
/// mediator decides from.
#[utoipa::path(get, path = "/api/v1/disputes/{id}", tag = "disputes", security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, body = DisputeDetail), (status = 404, body = crate::error::ErrorBody)))]
pub async fn get_dispute(
    State(app): State<App>,
    Authed(user): Authed,
    Path(id): Path<String>,
) -> AppResult<Json<DisputeDetail>> {
    let (row, _) = dispute_for(&app, &user, &id).await?;
    let order = app.order(&row.view.order_id).await.or_not_found("order")?;
    let mut chat = Vec::new();
    for conversation in app.conversations_between(&row.view.buyer_id, &row.view.store_id).await? {
        chat.extend(app.messages(&conversation, None, CHAT_IN_VIEW).await?.items);
    }
    chat.sort_by_key(|m| std::cmp::Reverse(m.created_at));
    chat.truncate(CHAT_IN_VIEW);
    Ok(Json(DisputeDetail {
        evidence: app.evidence(&id).await?,
        tracking: app.tracking(&row.view.order_id).await?,
        dispute: row.view,
        order,
        chat,
    }))
}

async fn take_step(
    app: &App,
    idem: Idem,
    id: &str,
    step: Step,
    actor: &Actor,
    evidence: &Evidence,
    return_tracking: Option<(&str, &str)>,
) -> AppResult<Response> {
    let mut tx = app.begin().await?;
    let row = disputes::take_step(app, &mut tx, id, step, actor, evidence, return_tracking).await?;
    idem.finish(tx, StatusCode::OK, &row.view).await
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AnswerInput {
    /// refund (in full), partial_refund (with `amount`), return (the buyer sends it back, then
    /// the refund follows) or reject (with evidence).
    pub action: String,
    /// The partial refund in the order's minor units.
    pub amount: Option<i64>,
    pub evidence: Option<EvidenceInput>,
}

/// The seller answers a dispute, within the response window (3 days by default; silence
/// refunds the buyer).
#[utoipa::path(post, path = "/api/v1/disputes/{id}/answer", tag = "disputes", security(("bearer" = [])), request_body = AnswerInput,
    params(("id" = String, Path), crate::openapi::IdempotencyKey),
    responses((status = 200, body = DisputeView), (status = 403, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody),
              (status = 409, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)))]
pub async fn answer(
    State(app): State<App>,
    Authed(user): Authed,
    Path(id): Path<String>,
    idem: Idem,
    ApiJson(input): ApiJson<AnswerInput>,
) -> AppResult<Response> {
    let evidence = disputes::evidence(input.evidence, "evidence")?;
    let step = disputes::answer(&input.action, input.amount, &evidence)?;
    let (_, actor) = dispute_for(&app, &user, &id).await?;
    take_step(&app, idem, &id, step, &actor, &evidence, None).await
}

/// A buyer-only step with no body: accepting the seller's partial refund, or escalating.
async fn buyer_step(app: &App, user: &User, idem: Idem, id: &str, step: Step) -> AppResult<Response> {
    let (_, actor) = dispute_for(app, user, id).await?;
    take_step(app, idem, id, step, &actor, &Evidence::default(), None).await
}

/// The buyer accepts the seller's partial refund: the dispute ends with it.
#[utoipa::path(post, path = "/api/v1/disputes/{id}/accept", tag = "disputes", security(("bearer" = [])),
    params(("id" = String, Path), crate::openapi::IdempotencyKey),
    responses((status = 200, body = DisputeView), (status = 403, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody),
              (status = 409, body = crate::error::ErrorBody)))]
pub async fn accept(
    State(app): State<App>,
    Authed(user): Authed,
    Path(id): Path<String>,
    idem: Idem,
) -> AppResult<Response> {
    buyer_step(&app, &user, idem, &id, Step::BuyerAccepts).await
}

/// The buyer asks for a mediator, from the escalation day on (day 4 by default).
#[utoipa::path(post, path = "/api/v1/disputes/{id}/escalate", tag = "disputes", security(("bearer" = [])),
    params(("id" = String, Path), crate::openapi::IdempotencyKey),
    responses((status = 200, body = DisputeView), (status = 403, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody),
              (status = 409, body = crate::error::ErrorBody)))]
pub async fn escalate(
    State(app): State<App>,
    Authed(user): Authed,
    Path(id): Path<String>,
    idem: Idem,
) -> AppResult<Response> {
    buyer_step(&app, &user, idem, &id, Step::BuyerEscalates).await
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReturnInput {
    pub carrier: String,
    pub tracking_number: String,
}

/// The buyer ships the goods back, with tracking; the refund follows when the seller confirms
/// receipt or the carrier reports the return delivered.
#[utoipa::path(post, path = "/api/v1/disputes/{id}/return", tag = "disputes", security(("bearer" = [])), request_body = ReturnInput,
    params(("id" = String, Path), crate::openapi::IdempotencyKey),
    responses((status = 200, body = DisputeView), (status = 403, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody),
              (status = 409, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)))]
pub async fn ship_return(
    State(app): State<App>,
    Authed(user): Authed,
    Path(id): Path<String>,
    idem: Idem,
    ApiJson(input): ApiJson<ReturnInput>,
) -> AppResult<Response> {
    let (carrier, tracking, note) = souk_app::disputes::return_parcel(&input.carrier, &input.tracking_number)?;
    let (_, actor) = dispute_for(&app, &user, &id).await?;
    take_step(&app, idem, &id, Step::BuyerShipsReturn, &actor, &note, Some((&carrier, &tracking))).await
}

/// The seller confirms the return arrived: the buyer is refunded.
#[utoipa::path(post, path = "/api/v1/disputes/{id}/return-received", tag = "disputes", security(("bearer" = [])),
    params(("id" = String, Path), crate::openapi::IdempotencyKey),
    responses((status = 200, body = DisputeView), (status = 403, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody),
              (status = 409, body = crate::error::ErrorBody)))]
pub async fn return_received(
    State(app): State<App>,
    Authed(user): Authed,
    Path(id): Path<String>,
    idem: Idem,
) -> AppResult<Response> {
    let (_, actor) = dispute_for(&app, &user, &id).await?;
    take_step(&app, idem, &id, Step::SellerReceivedReturn, &actor, &Evidence::default(), None).await
}

/// Either party (or a mediator) adds evidence while the dispute is open.
#[utoipa::path(post, path = "/api/v1/disputes/{id}/evidence", tag = "disputes", security(("bearer" = [])), request_body = EvidenceInput,
    params(("id" = String, Path), crate::openapi::IdempotencyKey),
    responses((status = 200, body = DisputeView), (status = 404, body = crate::error::ErrorBody),
              (status = 409, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)))]
pub async fn add_evidence(
    State(app): State<App>,
    Authed(user): Authed,
    Path(id): Path<String>,
    idem: Idem,
    ApiJson(input): ApiJson<EvidenceInput>,
) -> AppResult<Response> {
    let evidence = disputes::more_evidence(&input)?;
    let (_, actor) = dispute_for(&app, &user, &id).await?;
    let mut tx = app.begin().await?;
    let row = disputes::add_evidence(&mut tx, &id, &actor, &evidence).await?;
    idem.finish(tx, StatusCode::OK, &row.view).await
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DecisionInput {
    /// refund, partial_refund (with `amount`) or release.
    pub outcome: String,
    /// The partial refund in the order's minor units: more than 0, less than the total.
    pub amount: Option<i64>,
    /// Why: the parties read it.
    pub reason: String,
}

/// A mediator decides a dispute in mediation: a full refund, a partial refund, or release to
/// the seller. One ledger transaction settles the order; a second decision is 409.
#[utoipa::path(post, path = "/api/v1/disputes/{id}/decide", tag = "disputes", security(("bearer" = [])), request_body = DecisionInput,
    params(("id" = String, Path), crate::openapi::IdempotencyKey),
    responses((status = 200, body = DisputeView), (status = 403, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody),
              (status = 409, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)))]
pub async fn decide(
    State(app): State<App>,
    Authed(user): Authed,
    Path(id): Path<String>,
    idem: Idem,
    ApiJson(input): ApiJson<DecisionInput>,
) -> AppResult<Response> {
    let outcome = disputes::outcome(&input.outcome, input.amount)?;
    let reason = dispute::decision_reason(&input.reason)?;
    let (_, actor) = dispute_for(&app, &user, &id).await?;
    take_step(&app, idem, &id, Step::Decide(outcome), &actor, &Evidence { text: reason, images: Vec::new() }, None)
        .await
}
