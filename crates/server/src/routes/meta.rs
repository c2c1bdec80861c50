//! Health, the category tree and the OpenAPI document.

use crate::App;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Serialize;
use souk_domain::category::CategoryNode;

#[derive(Serialize, utoipa::ToSchema)]
pub struct Health {
    pub status: String,
    pub database: String,
}

/// 200 when the database answers, 503 when it does not.
#[utoipa::path(get, path = "/healthz", tag = "meta",
    responses((status = 200, body = Health), (status = 503, body = Health)))]
pub async fn healthz(State(app): State<App>) -> (StatusCode, Json<Health>) {
    let db_ok = app.store.ping().await;
    let status = if db_ok { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    let health = Health {
        status: if db_ok { "ok" } else { "unavailable" }.into(),
        database: format!("{:?}", app.store.backend()).to_lowercase(),
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
