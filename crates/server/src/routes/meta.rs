//! Health, the category tree and the OpenAPI document.

use crate::App;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Serialize;
use souk_domain::category::CategoryNode;

#[derive(Serialize, utoipa::ToSchema)]
pub struct Health {
    /// `ok` when reads and writes both work, else `unavailable`.
    pub status: String,
    /// `sqlite` or `postgres`.
    pub database: String,
    /// Whether a read answered: `ok` or `failed`.
    pub reads: String,
    /// Whether a write transaction could begin and end in time: `ok` or `failed`.
    pub writes: String,
}

/// How long the write probe may take before the node counts as unable to write.
const WRITE_PROBE_LIMIT: std::time::Duration = std::time::Duration::from_secs(2);

/// 200 when the database answers reads and a write transaction begins and ends within 2 s
/// (nothing is written; on SQLite it takes the write lock), 503 otherwise: a load balancer
/// takes a node that cannot write out of service.
#[utoipa::path(get, path = "/healthz", tag = "meta",
    responses((status = 200, body = Health), (status = 503, body = Health)))]
pub async fn healthz(State(app): State<App>) -> (StatusCode, Json<Health>) {
    let (reads, writes) = app.health(WRITE_PROBE_LIMIT).await;
    let word = |ok: bool| if ok { "ok" } else { "failed" }.to_string();
    let status = if reads && writes { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    let health = Health {
        status: if reads && writes { "ok" } else { "unavailable" }.into(),
        database: format!("{:?}", app.backend()).to_lowercase(),
        reads: word(reads),
        writes: word(writes),
    };
    (status, Json(health))
}

/// The built-in category tree, in English and Chinese.
#[utoipa::path(get, path = "/api/v1/categories", tag = "catalog", responses((status = 200, body = Vec<CategoryNode>)))]
pub async fn categories() -> Json<Vec<CategoryNode>> {
    Json(CategoryNode::tree())
}

/// This document: every endpoint of the API, generated from the code.
#[utoipa::path(get, path = "/api/v1/openapi.json", tag = "meta", responses((status = 200, description = "OpenAPI 3.1 document")))]
pub async fn openapi() -> Json<&'static utoipa::openapi::OpenApi> {
    Json(crate::openapi::document())
}
