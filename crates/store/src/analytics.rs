//! What sellers' analytics read: per-day sales, views and disputes of a store, and its best
//! products. Orders count from the day they were paid, unless cancelled or refunded since.

use crate::{Result, Store};
use souk_domain::analytics::Day;
use souk_domain::time::DAY_MS;
use sqlx::Row;
use std::collections::BTreeMap;

/// States of orders that count as sold.
const SOLD: &str = "o.state NOT IN ('pending_payment', 'cancelled', 'refunded')";

#[derive(Debug, Clone, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TopProduct {
    pub product_id: String,
    pub title: String,
    pub units: i64,
    /// In minor units of `currency`, the product's.
    pub gmv: i64,
    pub currency: String,
}

/// A store's sales in one currency over a window.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CurrencySales {
    pub currency: String,
    pub orders: i64,
    /// In minor units of `currency`.
    pub gmv: i64,
}

impl Store {
    /// The store's figures per day from `from_day` on: orders and units in every currency,
    /// GMV of the orders in `currency` (the others are in [`Store::sales_by_currency`]).
    pub async fn store_days(&self, store_id: &str, currency: &str, from_day: i64) -> Result<Vec<Day>> {
        let from_ms = from_day * DAY_MS;
        let mut days: BTreeMap<i64, Day> = BTreeMap::new();
        let mut conn = self.reader().await?;
        let orders = sqlx::query(&format!(
            "SELECT CAST(o.paid_at / {DAY_MS} AS BIGINT), CAST(COUNT(*) AS BIGINT), \
             CAST(COALESCE(SUM(CASE WHEN o.currency = $2 THEN o.total ELSE 0 END), 0) AS BIGINT), \
             CAST(COALESCE(SUM((SELECT SUM(l.quantity) FROM order_lines l WHERE l.order_id = o.id)), 0) AS BIGINT) \
             FROM orders o WHERE o.store_id = $1 AND o.paid_at >= $3 AND {SOLD} \
             GROUP BY o.paid_at / {DAY_MS}"
        ))
        .bind(store_id)
        .bind(currency)
        .bind(from_ms)
        .fetch_all(&mut *conn)
        .await?;
        for r in &orders {
            let d = days.entry(r.try_get(0)?).or_default();
            d.orders += r.try_get::<i64, _>(1)?;
            d.gmv += r.try_get::<i64, _>(2)?;
            d.units += r.try_get::<i64, _>(3)?;
        }
        let views = sqlx::query(
            "SELECT day, CAST(COALESCE(SUM(views), 0) AS BIGINT) FROM product_views_daily WHERE store_id = $1 AND day >= $2 \
             GROUP BY day",
        )
        .bind(store_id)
        .bind(from_day)
        .fetch_all(&mut *conn)
        .await?;
        for r in &views {
            days.entry(r.try_get(0)?).or_default().views += r.try_get::<i64, _>(1)?;
        }
        let disputes = sqlx::query(&format!(
            "SELECT CAST(opened_at / {DAY_MS} AS BIGINT), CAST(COUNT(*) AS BIGINT) FROM disputes \
             WHERE store_id = $1 AND opened_at >= $2 GROUP BY opened_at / {DAY_MS}"
        ))
        .bind(store_id)
        .bind(from_ms)
        .fetch_all(&mut *conn)
        .await?;
        for r in &disputes {
            days.entry(r.try_get(0)?).or_default().disputes += r.try_get::<i64, _>(1)?;
        }
        Ok(days.into_iter().map(|(day, d)| Day { day, ..d }).collect())
    }

    /// The store's sales since `from_day` per currency, the most orders first.
    pub async fn sales_by_currency(&self, store_id: &str, from_day: i64) -> Result<Vec<CurrencySales>> {
        let rows = sqlx::query(&format!(
            "SELECT o.currency, CAST(COUNT(*) AS BIGINT), CAST(COALESCE(SUM(o.total), 0) AS BIGINT) FROM orders o \
             WHERE o.store_id = $1 AND o.paid_at >= $2 AND {SOLD} GROUP BY o.currency ORDER BY 2 DESC, 1"
        ))
        .bind(store_id)
        .bind(from_day * DAY_MS)
        .fetch_all(&mut *self.reader().await?)
        .await?;
        rows.iter()
            .map(|r| Ok(CurrencySales { currency: r.try_get(0)?, orders: r.try_get(1)?, gmv: r.try_get(2)? }))
            .collect()
    }

    /// The store's best sellers by units since `from_day`, in every currency.
    pub async fn top_products(&self, store_id: &str, from_day: i64, limit: usize) -> Result<Vec<TopProduct>> {
        let rows = sqlx::query(&format!(
            "SELECT l.product_id, MAX(l.title), CAST(SUM(l.quantity) AS BIGINT), CAST(SUM(l.quantity * l.unit_price) AS BIGINT), \
             MAX(o.currency) FROM order_lines l JOIN orders o ON o.id = l.order_id \
             WHERE o.store_id = $1 AND o.paid_at >= $2 AND {SOLD} \
             GROUP BY l.product_id ORDER BY 3 DESC, 4 DESC LIMIT {limit}"
        ))
        .bind(store_id)
        .bind(from_day * DAY_MS)
        .fetch_all(&mut *self.reader().await?)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(TopProduct {
                    product_id: r.try_get(0)?,
                    title: r.try_get(1)?,
                    units: r.try_get(2)?,
                    gmv: r.try_get(3)?,
                    currency: r.try_get(4)?,
                })
            })
            .collect()
    }
}
