//! Trust and safety: reports from anyone signed in, and the moderation queue and actions of
//! mediators and admins.

use crate::error::AppResult;
use crate::extract::{ApiJson, ApiQuery, Authed};
use crate::idempotency::Idem;
use crate::App;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;
use serde::{Deserialize, Serialize};
use souk_app::moderation;
use souk_app::moderation::{ActionRow, ReportRow};
use souk_app::views::Page;
use souk_domain::moderation::{Action, Reason, Target};
use souk_domain::time::Timestamp;

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReportInput {
    pub target: Target,
    /// The listing's, store's, review's or message's id.
    pub target_id: String,
    pub reason: Reason,
    /// In the reporter's words, up to 2000 characters.
    #[serde(default)]
    pub details: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ReportView {
    pub id: String,
    pub reporter_id: String,
    pub target: Target,
    pub target_id: String,
    pub reason: Reason,
    pub details: String,
    /// `open`, `actioned` or `dismissed`.
    pub state: String,
    pub created_at: Timestamp,
    pub handled_by: Option<String>,
    pub handled_at: Option<Timestamp>,
    /// The operator's reason when it was handled.
    pub note: Option<String>,
}

impl From<ReportRow> for ReportView {
    fn from(r: ReportRow) -> Self {
        ReportView {
            id: r.id,
            reporter_id: r.reporter_id,
            target: r.target,
            target_id: r.target_id,
            reason: r.reason,
            details: r.details,
            state: r.state,
            created_at: Timestamp(r.created_at),
            handled_by: r.handled_by,
            handled_at: r.handled_at.map(Timestamp),
            note: r.note,
        }
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ActionView {
    pub id: String,
    pub action: Action,
    /// The listing, store or user acted on.
    pub target_id: String,
    pub reason: String,
    pub actor_id: String,
    pub created_at: Timestamp,
    pub reversed_at: Option<Timestamp>,
    pub reversed_by: Option<String>,
    pub reversal_reason: Option<String>,
    /// The appeal of the person concerned, once, and the operators' answer when they kept it.
    pub appeal: Option<String>,
    pub appealed_at: Option<Timestamp>,
    pub appeal_answer: Option<String>,
}

impl From<ActionRow> for ActionView {
    fn from(a: ActionRow) -> Self {
        ActionView {
            id: a.id,
            action: a.action,
            target_id: a.target_id,
            reason: a.reason,
            actor_id: a.actor_id,
            created_at: Timestamp(a.created_at),
            reversed_at: a.reversed_at.map(Timestamp),
            reversed_by: a.reversed_by,
            reversal_reason: a.reversal_reason,
            appeal: a.appeal,
            appealed_at: a.appealed_at.map(Timestamp),
            appeal_answer: a.appeal_answer,
        }
    }
}

/// Reports a listing, a store, a review or a message (a message only by the two people of its
/// conversation). Operators see it in their queue.
#[utoipa::path(post, path = "/api/v1/reports", tag = "moderation", security(("bearer" = [])), request_body = ReportInput,
    params(crate::openapi::IdempotencyKey),
    responses((status = 201, body = ReportView), (status = 404, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)))]
pub async fn create_report(
    State(app): State<App>,
    Authed(user): Authed,
    idem: Idem,
    ApiJson(input): ApiJson<ReportInput>,
) -> AppResult<Response> {
    let mut tx = app.begin().await?;
    let r =
        moderation::report(&app, &mut tx, &user, input.target, &input.target_id, input.reason, &input.details).await?;
    idem.finish(tx, StatusCode::CREATED, &ReportView::from(r)).await
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct QueueQuery {
    /// `open` (the queue), `actioned` or `dismissed`; all when left out.
    pub state: Option<String>,
    pub cursor: Option<String>,
    pub limit: Option<usize>,
}

/// Reports, oldest first: `?state=open` is the queue (mediators and admins).
#[utoipa::path(get, path = "/api/v1/moderation/reports", tag = "moderation", security(("bearer" = [])), params(QueueQuery),
    responses((status = 200, body = Page<ReportView>), (status = 403, body = crate::error::ErrorBody)))]
pub async fn reports(
    State(app): State<App>,
    Authed(user): Authed,
    ApiQuery(q): ApiQuery<QueueQuery>,
) -> AppResult<Json<Page<ReportView>>> {
    let page = crate::extract::PageQuery { cursor: q.cursor, limit: q.limit };
    let state = q.state.as_deref().filter(|s| !s.is_empty());
    let found = moderation::queue(&app, &user, state, page.cursor(), page.limit()?).await?;
    Ok(Json(Page { items: found.items.into_iter().map(ReportView::from).collect(), next_cursor: found.next_cursor }))
}

/// What a report is about, as an operator decides on it.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ReportedThing {
    /// A listing's title, a store's name, a review's or message's text.
    pub text: String,
    /// The user it concerns (seller, or author).
    pub owner_id: String,
    /// The page that shows it.
    pub link: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ReportDetail {
    pub report: ReportView,
    /// None when the thing is gone.
    pub target: Option<ReportedThing>,
    /// Every report about the same thing, newest first.
    pub reports_on_target: Vec<ReportView>,
    /// What operators did to it (or to its author), newest first.
    pub actions: Vec<ActionView>,
    /// The reporter's reports, newest first.
    pub reporter_reports: Vec<ReportView>,
}

/// One report, with the thing reported, its history and the reporter's other reports.
#[utoipa::path(get, path = "/api/v1/moderation/reports/{id}", tag = "moderation", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = ReportDetail), (status = 403, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody)))]
pub async fn report(
    State(app): State<App>,
    Authed(user): Authed,
    Path(id): Path<String>,
) -> AppResult<Json<ReportDetail>> {
    let item = moderation::item(&app, &user, &id).await?;
    Ok(Json(ReportDetail {
        report: item.report.into(),
        target: item.target.map(|t| ReportedThing { text: t.text, owner_id: t.owner_id, link: t.link }),
        reports_on_target: item.reports_on_target.into_iter().map(ReportView::from).collect(),
        actions: item.actions.into_iter().map(ActionView::from).collect(),
        reporter_reports: item.reporter_reports.into_iter().map(ReportView::from).collect(),
    }))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReasonInput {
    /// Read by the person concerned: 5 to 2000 characters.
    pub reason: String,
}

/// Closes a report (and the other open ones about the same thing) without action.
#[utoipa::path(post, path = "/api/v1/moderation/reports/{id}/dismiss", tag = "moderation", security(("bearer" = [])),
    request_body = ReasonInput, params(("id" = String, Path), crate::openapi::IdempotencyKey),
    responses((status = 204), (status = 409, body = crate::error::ErrorBody)))]
pub async fn dismiss(
    State(app): State<App>,
    Authed(user): Authed,
    Path(id): Path<String>,
    idem: Idem,
    ApiJson(input): ApiJson<ReasonInput>,
) -> AppResult<Response> {
    let item = moderation::item(&app, &user, &id).await?;
    let mut tx = app.begin().await?;
    moderation::dismiss(&mut tx, &user, &item.report, &input.reason).await?;
    idem.finish_empty(tx).await
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ActionInput {
    pub action: Action,
    /// A product for `take_down`, a store for `suspend_store`, a user for `ban_user`.
    pub target_id: String,
    /// Read by the person concerned: 5 to 2000 characters.
    pub reason: String,
    /// The report that led here: it and the other open reports about its thing are closed.
    #[serde(default)]
    pub report_id: Option<String>,
}

/// Acts: takes a listing down, suspends a store (mediators and admins) or bans a user (admins).
/// Audited, and the seller is notified.
#[utoipa::path(post, path = "/api/v1/moderation/actions", tag = "moderation", security(("bearer" = [])), request_body = ActionInput,
    params(crate::openapi::IdempotencyKey),
    responses((status = 201, body = ActionView), (status = 403, body = crate::error::ErrorBody), (status = 409, description = "in force already", body = crate::error::ErrorBody)))]
pub async fn act(
    State(app): State<App>,
    Authed(user): Authed,
    idem: Idem,
    ApiJson(input): ApiJson<ActionInput>,
) -> AppResult<Response> {
    let report = match input.report_id.as_deref() {
        Some(id) => Some(moderation::item(&app, &user, id).await?.report),
        None => None,
    };
    let mut tx = app.begin().await?;
    let row =
        moderation::act(&app, &mut tx, &user, input.action, &input.target_id, &input.reason, report.as_ref()).await?;
    let res = idem.finish(tx, StatusCode::CREATED, &ActionView::from(row)).await;
    app.catalog_changed();
    res
}

/// Reverses an action: listings come back on sale as they were, a store opens again, a user may
/// sign in again.
#[utoipa::path(post, path = "/api/v1/moderation/actions/{id}/reverse", tag = "moderation", security(("bearer" = [])),
    request_body = ReasonInput, params(("id" = String, Path), crate::openapi::IdempotencyKey),
    responses((status = 200, body = ActionView), (status = 409, body = crate::error::ErrorBody)))]
pub async fn reverse(
    State(app): State<App>,
    Authed(user): Authed,
    Path(id): Path<String>,
    idem: Idem,
    ApiJson(input): ApiJson<ReasonInput>,
) -> AppResult<Response> {
    let mut tx = app.begin().await?;
    let row = moderation::reverse(&app, &mut tx, &user, &id, &input.reason).await?;
    let res = idem.finish(tx, StatusCode::OK, &ActionView::from(row)).await;
    app.catalog_changed();
    res
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AppealInput {
    /// Why the action is wrong, 5 to 2000 characters.
    pub text: String,
}

/// The seller (or author, or user) an action concerns appeals it, once. Operators see it in
/// their queue and reverse the action or keep it, answering why.
#[utoipa::path(post, path = "/api/v1/moderation/actions/{id}/appeal", tag = "moderation", security(("bearer" = [])),
    request_body = AppealInput, params(("id" = String, Path), crate::openapi::IdempotencyKey),
    responses((status = 200, body = ActionView), (status = 404, body = crate::error::ErrorBody), (status = 409, body = crate::error::ErrorBody)))]
pub async fn appeal(
    State(app): State<App>,
    Authed(user): Authed,
    Path(id): Path<String>,
    idem: Idem,
    ApiJson(input): ApiJson<AppealInput>,
) -> AppResult<Response> {
    let mut tx = app.begin().await?;
    let row = moderation::appeal(&app, &mut tx, &user, &id, &input.text).await?;
    idem.finish(tx, StatusCode::OK, &ActionView::from(row)).await
}

/// Keeps an appealed action in force, answering the appeal (the person concerned is told).
#[utoipa::path(post, path = "/api/v1/moderation/actions/{id}/uphold", tag = "moderation", security(("bearer" = [])),
    request_body = ReasonInput, params(("id" = String, Path), crate::openapi::IdempotencyKey),
    responses((status = 200, body = ActionView), (status = 409, body = crate::error::ErrorBody)))]
pub async fn uphold(
    State(app): State<App>,
    Authed(user): Authed,
    Path(id): Path<String>,
    idem: Idem,
    ApiJson(input): ApiJson<ReasonInput>,
) -> AppResult<Response> {
    let mut tx = app.begin().await?;
    let row = moderation::uphold(&app, &mut tx, &user, &id, &input.reason).await?;
    idem.finish(tx, StatusCode::OK, &ActionView::from(row)).await
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Pending {
    /// Actions in force with an unanswered appeal, oldest appeal first.
    pub appeals: Vec<ActionView>,
    /// New listings held for review (reverse to approve; take down to refuse).
    pub awaiting_review: Vec<ActionView>,
}

/// What waits for operators besides reports: appeals, and listings held for review.
#[utoipa::path(get, path = "/api/v1/moderation/pending", tag = "moderation", security(("bearer" = [])),
    responses((status = 200, body = Pending), (status = 403, body = crate::error::ErrorBody)))]
pub async fn pending(State(app): State<App>, Authed(user): Authed) -> AppResult<Json<Pending>> {
    let (appeals, held) = moderation::pending(&app, &user).await?;
    Ok(Json(Pending {
        appeals: appeals.into_iter().map(ActionView::from).collect(),
        awaiting_review: held.into_iter().map(ActionView::from).collect(),
    }))
}

#[derive(Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// New listings of stores below identity verification wait, off sale, for an operator.
    pub listing_review: bool,
}

/// The marketplace's moderation settings.
#[utoipa::path(get, path = "/api/v1/moderation/settings", tag = "moderation", security(("bearer" = [])),
    responses((status = 200, body = Settings), (status = 403, body = crate::error::ErrorBody)))]
pub async fn settings(State(app): State<App>, Authed(user): Authed) -> AppResult<Json<Settings>> {
    moderation::pending(&app, &user).await?;
    Ok(Json(Settings { listing_review: moderation::listing_review(&app).await? }))
}

/// Changes the moderation settings (admins), audited.
#[utoipa::path(put, path = "/api/v1/moderation/settings", tag = "moderation", security(("bearer" = [])), request_body = Settings,
    params(crate::openapi::IdempotencyKey),
    responses((status = 200, body = Settings), (status = 403, body = crate::error::ErrorBody)))]
pub async fn change_settings(
    State(app): State<App>,
    Authed(user): Authed,
    idem: Idem,
    ApiJson(input): ApiJson<Settings>,
) -> AppResult<Response> {
    let mut tx = app.begin().await?;
    moderation::set_listing_review(&mut tx, &user, input.listing_review).await?;
    idem.finish(tx, StatusCode::OK, &input).await
}
