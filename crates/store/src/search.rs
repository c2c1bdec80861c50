//! What search reads from the store: the catalog's change feed (written by triggers, see the
//! `0003_search` migrations) and product traffic.

use crate::{placeholders, Result, Store, Tx};
use sqlx::Row;
use std::collections::HashMap;

/// One row of the change feed: look again at this product or store.
#[derive(Debug, Clone, PartialEq)]
pub struct CatalogChange {
    pub seq: i64,
    pub product_id: Option<String>,
    pub store_id: Option<String>,
}

/// Traffic to add to a product's counters.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Traffic {
    pub impressions: i64,
    pub views: i64,
}

/// A product's counters.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ProductStats {
    pub impressions: u64,
    pub views: u64,
    pub purchases: u64,
}

impl Store {
    /// Changes after `after`, oldest first.
    pub async fn catalog_changes(&self, after: i64, limit: usize) -> Result<Vec<CatalogChange>> {
        let rows =
            sqlx::query("SELECT seq, product_id, store_id FROM catalog_changes WHERE seq > $1 ORDER BY seq LIMIT $2")
                .bind(after)
                .bind(limit as i64)
                .fetch_all(&mut *self.reader().await?)
                .await?;
        rows.iter()
            .map(|r| {
                Ok(CatalogChange {
                    seq: r.try_get("seq")?,
                    product_id: r.try_get("product_id")?,
                    store_id: r.try_get("store_id")?,
                })
            })
            .collect()
    }

    /// The newest change's sequence number (0 for none).
    pub async fn catalog_head(&self) -> Result<i64> {
        let row = sqlx::query("SELECT COALESCE(MAX(seq), 0) AS head FROM catalog_changes")
            .fetch_one(&mut *self.reader().await?)
            .await?;
        Ok(row.try_get("head")?)
    }

    /// Forgets the oldest changes beyond the newest `keep`, at most `batch` of them, so one call
    /// never holds the writer long. An index further behind than `keep` rebuilds instead.
    pub async fn trim_catalog_changes(&self, keep: i64, batch: i64) -> Result<u64> {
        let head = self.catalog_head().await?;
        let mut tx = self.begin().await?;
        let res = sqlx::query(
            "DELETE FROM catalog_changes WHERE seq IN \
             (SELECT seq FROM catalog_changes WHERE seq <= $1 ORDER BY seq LIMIT $2)",
        )
        .bind(head - keep)
        .bind(batch)
        .execute(tx.conn())
        .await?;
        tx.commit().await?;
        Ok(res.rows_affected())
    }

    /// Adds buffered impressions and views in one transaction.
    pub async fn record_traffic(&self, traffic: &HashMap<String, Traffic>) -> Result<()> {
        if traffic.is_empty() {
            return Ok(());
        }
        let mut tx = self.begin().await?;
        for (id, t) in traffic {
            // Separate statements keep an impression-only update from touching `views`, whose
            // trigger re-indexes the product.
            if t.views > 0 {
                tx.add_traffic(id, t.impressions, t.views).await?;
            } else if t.impressions > 0 {
                sqlx::query(
                    "INSERT INTO product_stats (product_id, impressions) VALUES ($1, $2) \
                     ON CONFLICT (product_id) DO UPDATE SET impressions = product_stats.impressions + excluded.impressions",
                )
                .bind(id)
                .bind(t.impressions)
                .execute(tx.conn())
                .await?;
            }
        }
        tx.commit().await
    }

    /// Counters of these products; those without traffic are absent.
    pub async fn product_stats(&self, ids: &[String]) -> Result<HashMap<String, ProductStats>> {
        let mut out = HashMap::new();
        for chunk in ids.chunks(500) {
            let sql = format!(
                "SELECT product_id, impressions, views, purchases FROM product_stats WHERE product_id IN ({})",
                placeholders(0, chunk.len())
            );
            let mut q = sqlx::query(&sql);
            for id in chunk {
                q = q.bind(id);
            }
            for r in q.fetch_all(&mut *self.reader().await?).await? {
                let n = |c: &str| r.try_get::<i64, _>(c).map(|v| v.max(0) as u64);
                out.insert(
                    r.try_get("product_id")?,
                    ProductStats { impressions: n("impressions")?, views: n("views")?, purchases: n("purchases")? },
                );
            }
        }
        Ok(out)
    }

    /// Views and purchases across the marketplace.
    pub async fn traffic_totals(&self) -> Result<(i64, i64)> {
        let row = sqlx::query(
            // PostgreSQL sums BIGINT to NUMERIC; the cast brings it back.
            "SELECT CAST(COALESCE(SUM(views), 0) AS BIGINT) AS views, \
             CAST(COALESCE(SUM(purchases), 0) AS BIGINT) AS purchases FROM product_stats",
        )
        .fetch_one(&mut *self.reader().await?)
        .await?;
        Ok((row.try_get("views")?, row.try_get("purchases")?))
    }
}

impl Tx {
    /// Counts a paid order as one purchase of each product in it.
    pub(crate) async fn count_purchase(&mut self, order_id: &str) -> Result<()> {
        sqlx::query(
            "INSERT INTO product_stats (product_id, purchases) SELECT DISTINCT product_id, 1 FROM order_lines \
             WHERE order_id = $1 ON CONFLICT (product_id) DO UPDATE SET purchases = product_stats.purchases + 1",
        )
        .bind(order_id)
        .execute(self.conn())
        .await?;
        Ok(())
    }
}

impl crate::Tx {
    /// Counts `impressions` and `views` (at least one) of a product on the clock's day: what
    /// the traffic buffer writes, and the demo's past browsing.
    pub async fn add_traffic(&mut self, product_id: &str, impressions: i64, views: i64) -> Result<()> {
        let day = self.store().now_ms().div_euclid(souk_domain::time::DAY_MS);
        sqlx::query(
            "INSERT INTO product_stats (product_id, impressions, views) VALUES ($1, $2, $3) \
             ON CONFLICT (product_id) DO UPDATE SET impressions = product_stats.impressions + excluded.impressions, \
             views = product_stats.views + excluded.views",
        )
        .bind(product_id)
        .bind(impressions)
        .bind(views)
        .execute(self.conn())
        .await?;
        sqlx::query(
            "INSERT INTO product_views_daily (product_id, store_id, day, views) \
             SELECT id, store_id, $2, $3 FROM products WHERE id = $1 \
             ON CONFLICT (product_id, day) DO UPDATE SET views = product_views_daily.views + excluded.views",
        )
        .bind(product_id)
        .bind(day)
        .bind(views)
        .execute(self.conn())
        .await?;
        Ok(())
    }
}
