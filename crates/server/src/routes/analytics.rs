//! Sellers' analytics: sales, views, conversion and disputes per day, and the best products.

use super::owned_store;
use crate::error::AppResult;
use crate::extract::{ApiQuery, Authed};
use crate::App;
use axum::extract::{Path, State};
use axum::Json;
use serde::{Deserialize, Serialize};
use souk_domain::account::StoreProfile;
use souk_domain::analytics::{self, Day, Totals, WINDOWS_DAYS};
use souk_domain::Invalid;
use souk_store::analytics::TopProduct;

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AnalyticsQuery {
    /// 7, 30 (the default) or 90 days, ending today.
    pub days: Option<i64>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Analytics {
    pub store_id: String,
    /// Money below is in minor units of this currency (the store's).
    pub currency: String,
    pub days: i64,
    /// One entry per day of the window, oldest first.
    pub series: Vec<Day>,
    pub totals: Totals,
    pub top_products: Vec<TopProduct>,
}

/// Figures of `store` over the last `days` days.
pub async fn analytics_of(app: &App, store: &StoreProfile, days: Option<i64>) -> AppResult<Analytics> {
    let days = days.unwrap_or(30);
    if !WINDOWS_DAYS.contains(&days) {
        return Err(Invalid::new("invalid", "days", "7, 30 or 90").into());
    }
    let now = app.store.now_ms();
    let from_day = analytics::day_of(now) - days + 1;
    let rows = app.store.store_days(&store.id, &store.currency, from_day).await?;
    let series = analytics::series(&rows, days, now);
    Ok(Analytics {
        store_id: store.id.clone(),
        currency: store.currency.clone(),
        days,
        totals: analytics::totals(&series),
        top_products: app.store.top_products(&store.id, &store.currency, from_day, 10).await?,
        series,
    })
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
