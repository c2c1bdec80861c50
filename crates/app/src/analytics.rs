//! Sellers' analytics: sales, views, conversion and disputes per day, and the best products.

use crate::error::Result;
use crate::App;
use serde::Serialize;
use souk_domain::account::StoreProfile;
use souk_domain::analytics::{self, Day, Totals, WINDOWS_DAYS};
use souk_domain::Invalid;
use souk_store::analytics::{CurrencySales, TopProduct};

#[derive(Serialize, utoipa::ToSchema)]
pub struct Analytics {
    pub store_id: String,
    /// GMV in `series` and `totals` is in minor units of this currency (the store's); orders
    /// and units count every currency.
    pub currency: String,
    pub days: i64,
    /// One entry per day of the window, oldest first.
    pub series: Vec<Day>,
    /// The average order value is of the orders in the store's currency.
    pub totals: Totals,
    /// Sales in each currency the store sold in over the window, the most orders first.
    pub by_currency: Vec<CurrencySales>,
    pub top_products: Vec<TopProduct>,
}

/// Figures of `store` over the last `days` days.
pub async fn analytics_of(app: &App, store: &StoreProfile, days: Option<i64>) -> Result<Analytics> {
    let days = days.unwrap_or(30);
    if !WINDOWS_DAYS.contains(&days) {
        return Err(Invalid::new("invalid", "days", "7, 30 or 90").into());
    }
    let now = app.store.now_ms();
    let from_day = analytics::day_of(now) - days + 1;
    let rows = app.store.store_days(&store.id, &store.currency, from_day).await?;
    let series = analytics::series(&rows, days, now);
    let by_currency = app.store.sales_by_currency(&store.id, from_day).await?;
    let mut totals = analytics::totals(&series);
    let home = by_currency.iter().find(|c| c.currency == store.currency);
    totals.average_order_value = home.filter(|c| c.orders > 0).map(|c| c.gmv / c.orders);
    Ok(Analytics {
        store_id: store.id.clone(),
        currency: store.currency.clone(),
        days,
        totals,
        by_currency,
        top_products: app.store.top_products(&store.id, from_day, 10).await?,
        series,
    })
}
