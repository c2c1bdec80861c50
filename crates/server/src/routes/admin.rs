//! Operator endpoints: identity-verification decisions and role grants. Admins only.

use crate::error::{AppError, AppResult};
use crate::extract::{ApiJson, ApiQuery, Authed};
use crate::idempotency::Idem;
use crate::App;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;
use serde::Deserialize;
use souk_app::admin::{self, Granted};
use souk_app::views::AuditEntry;
use souk_app::views::Page;
use souk_domain::account::{Role, VerificationRequest, VerificationStatus};

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct VerificationQuery {
    pub status: Option<VerificationStatus>,
    pub cursor: Option<String>,
    pub limit: Option<usize>,
}

/// Verification requests, oldest first; `?status=pending` is the review queue.
#[utoipa::path(get, path = "/api/v1/admin/verifications", tag = "admin", security(("bearer" = [])), params(VerificationQuery),
    responses((status = 200, body = Page<VerificationRequest>), (status = 403, body = crate::error::ErrorBody)))]
pub async fn list_verifications(
    State(app): State<App>,
    user: Authed,
    ApiQuery(q): ApiQuery<VerificationQuery>,
) -> AppResult<Json<Page<VerificationRequest>>> {
    user.require(Role::Admin)?;
    let page = crate::extract::PageQuery { cursor: q.cursor, limit: q.limit };
    Ok(Json(app.list_verifications(q.status, None, page.cursor(), page.limit()?).await?))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    /// Only this action: role.granted, verification.approved, verification.rejected,
    /// dispute.decided or payout.made.
    pub action: Option<String>,
    pub cursor: Option<String>,
    pub limit: Option<usize>,
}

/// The audit log of privileged actions, newest first (admins). Append-only: entries are
/// written with the action they record and never changed.
#[utoipa::path(get, path = "/api/v1/admin/audit", tag = "admin", security(("bearer" = [])), params(AuditQuery),
    responses((status = 200, body = Page<AuditEntry>), (status = 403, body = crate::error::ErrorBody)))]
pub async fn audit_log(
    State(app): State<App>,
    user: Authed,
    ApiQuery(q): ApiQuery<AuditQuery>,
) -> AppResult<Json<Page<AuditEntry>>> {
    user.require(Role::Admin)?;
    let page = crate::extract::PageQuery { cursor: q.cursor, limit: q.limit };
    let action = q.action.as_deref().filter(|a| !a.is_empty());
    Ok(Json(app.audit_log(action, page.cursor(), page.limit()?).await?))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Decision {
    /// Required to reject: what the seller must fix. Optional note on approval.
    #[serde(default)]
    pub reason: Option<String>,
}

/// Approves a pending request: the store becomes `identity`-verified.
#[utoipa::path(post, path = "/api/v1/admin/verifications/{id}/approve", tag = "admin", security(("bearer" = [])),
    request_body = Decision, params(("id" = String, Path), crate::openapi::IdempotencyKey),
    responses((status = 200, body = VerificationRequest), (status = 403, body = crate::error::ErrorBody),
              (status = 409, description = "already decided", body = crate::error::ErrorBody)))]
pub async fn approve(
    State(app): State<App>,
    user: Authed,
    Path(id): Path<String>,
    idem: Idem,
    ApiJson(d): ApiJson<Decision>,
) -> AppResult<Response> {
    decide(app, user, id, idem, true, d).await
}

/// Rejects a pending request with a reason the seller can act on.
#[utoipa::path(post, path = "/api/v1/admin/verifications/{id}/reject", tag = "admin", security(("bearer" = [])),
    request_body = Decision, params(("id" = String, Path), crate::openapi::IdempotencyKey),
    responses((status = 200, body = VerificationRequest), (status = 403, body = crate::error::ErrorBody),
              (status = 409, description = "already decided", body = crate::error::ErrorBody),
              (status = 422, description = "no reason", body = crate::error::ErrorBody)))]
pub async fn reject(
    State(app): State<App>,
    user: Authed,
    Path(id): Path<String>,
    idem: Idem,
    ApiJson(d): ApiJson<Decision>,
) -> AppResult<Response> {
    decide(app, user, id, idem, false, d).await
}

async fn decide(app: App, user: Authed, id: String, idem: Idem, approve: bool, d: Decision) -> AppResult<Response> {
    let mut tx = app.begin().await?;
    let decided = admin::decide_verification(&mut tx, &user.0, &id, approve, d.reason.as_deref()).await?;
    idem.finish(tx, StatusCode::OK, &decided).await
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GrantInput {
    pub role: Role,
}

/// Grants a role (`mediator`, `admin`, `seller`) to a user.
#[utoipa::path(post, path = "/api/v1/admin/users/{id}/roles", tag = "admin", security(("bearer" = [])),
    request_body = GrantInput, params(("id" = String, Path), crate::openapi::IdempotencyKey),
    responses((status = 200, body = Granted), (status = 403, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody)))]
pub async fn grant_role(
    State(app): State<App>,
    user: Authed,
    Path(id): Path<String>,
    idem: Idem,
    ApiJson(g): ApiJson<GrantInput>,
) -> AppResult<Response> {
    let mut tx = app.begin().await?;
    let granted = admin::grant_role(&mut tx, &user.0, &id, g.role).await?;
    idem.finish(tx, StatusCode::OK, &granted).await
}

/// Revokes the `mediator` or `admin` role (an admin cannot revoke their own admin role).
#[utoipa::path(delete, path = "/api/v1/admin/users/{id}/roles/{role}", tag = "admin", security(("bearer" = [])),
    params(("id" = String, Path), ("role" = Role, Path), crate::openapi::IdempotencyKey),
    responses((status = 200, body = Granted), (status = 403, body = crate::error::ErrorBody),
        (status = 404, body = crate::error::ErrorBody), (status = 409, body = crate::error::ErrorBody),
        (status = 422, body = crate::error::ErrorBody)))]
pub async fn revoke_role(
    State(app): State<App>,
    user: Authed,
    Path((id, role)): Path<(String, String)>,
    idem: Idem,
) -> AppResult<Response> {
    let role = Role::parse(&role)
        .ok_or_else(|| AppError::unprocessable("invalid", "role is mediator or admin").with_field("role"))?;
    let mut tx = app.begin().await?;
    let revoked = admin::revoke_role(&mut tx, &user.0, &id, role).await?;
    idem.finish(tx, StatusCode::OK, &revoked).await
}
