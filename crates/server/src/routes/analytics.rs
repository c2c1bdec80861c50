//! Sellers' analytics: sales, views, conversion and disputes per day, and the best products.

use crate::error::AppResult;
use crate::extract::{ApiQuery, Authed};
use crate::App;
use axum::extract::{Path, State};
use axum::Json;
use serde::Deserialize;
use souk_app::access::owned_store;
use souk_app::analytics::{analytics_of, Analytics};

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AnalyticsQuery {
    /// 7, 30 (the default) or 90 days, ending today.
    pub days: Option<i64>,
}

/// The store's analytics, for its owner: GMV, orders, units, views, conversion rate, average
/// order value and disputes per day, and the ten best products by units.
#[utoipa::path(get, path = "/api/v1/stores/{store}/analytics", tag = "stores", security(("bearer" = [])),
    params(("store" = String, Path, description = "id or slug"), AnalyticsQuery),
    responses((status = 200, body = Analytics), (status = 403, body = crate::error::ErrorBody),
              (status = 404, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)))]
pub async fn store_analytics(
    State(app): State<App>,
    Authed(user): Authed,
    Path(store_ref): Path<String>,
    ApiQuery(q): ApiQuery<AnalyticsQuery>,
) -> AppResult<Json<Analytics>> {
    let store = owned_store(&app, &user, &store_ref).await?;
    Ok(Json(analytics_of(&app, &store, q.days).await?))
}
