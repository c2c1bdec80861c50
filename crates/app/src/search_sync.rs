//! Keeps this process's search index in step with the store by following the catalog's change
//! feed (the `catalog_changes` table, written by triggers in the same transaction as each
//! change). Every process does the same with its own index, so several processes on one
//! PostgreSQL database all see every change; a local write also wakes the follower at once.
//!
//! The database is the source of truth: an index update that fails is logged and retried on the
//! next round, never an API error. Product traffic (impressions and views) is buffered in
//! memory and added to the store every few seconds, so recording it never slows a request.

use crate::error::{Error, Result};
use crate::App;
use souk_domain::account::StoreProfile;
use souk_domain::catalog::ProductStatus;
use souk_domain::trust::{TrustInputs, TrustWeights};
use souk_search::{IndexDoc, SearchIndex, StoreInfo};
use souk_store::catalog::ProductFilter;
use souk_store::search::{CatalogChange, Traffic};
use souk_store::Store;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Products read per page while rebuilding.
const REBUILD_PAGE: usize = 1000;
/// Changes read per round.
const FEED_BATCH: usize = 5000;
/// An index this many changes behind rebuilds instead of replaying them.
pub const REBUILD_BACKLOG: i64 = 50_000;
/// Changes kept in the feed; more than the backlog, so a lagging index rebuilds in time.
const KEEP_CHANGES: i64 = 200_000;
/// Most changes forgotten per trim.
const TRIM_BATCH: i64 = 10_000;
/// How long a missing sequence number may still appear: on PostgreSQL, a transaction that took
/// its number before a later one committed. After this it is taken as rolled back.
const GAP_GRACE: Duration = Duration::from_secs(10);
/// How often the follower looks for changes written by other processes.
const POLL: Duration = Duration::from_millis(200);
/// The least time between two rounds that change the index.
const INDEX_SPACING: Duration = Duration::from_millis(250);
/// The same while the flash-sale engine is busy: its batches move stock by the hundred a
/// second, and indexing them four times a second took a tenth of the server's time in a sale.
const BUSY_INDEX_SPACING: Duration = Duration::from_secs(2);
/// How often buffered traffic is written, and the marketplace conversion rate refreshed.
const TRAFFIC_FLUSH: Duration = Duration::from_secs(2);
/// Views needed before the marketplace's own conversion rate is trusted as the prior.
const MIN_VIEWS_FOR_PRIOR: i64 = 1000;

/// Where this process is in the change feed.
#[derive(Debug, Default)]
pub struct FeedCursor {
    /// Every change up to here is in the index.
    low: i64,
    /// The highest sequence number read.
    read_to: i64,
    /// Numbers between `low` and `read_to` not yet seen, with when they were first missed.
    gaps: BTreeMap<i64, Instant>,
}

impl FeedCursor {
    pub fn at(position: i64) -> FeedCursor {
        FeedCursor { low: position, read_to: position, gaps: BTreeMap::new() }
    }

    pub fn position(&self) -> i64 {
        self.low
    }

    /// Takes in a round's rows (new ones and late gap fillers) and moves `low` as far as is safe.
    fn advance(&mut self, rows: &[CatalogChange], now: Instant) {
        let seen: BTreeSet<i64> = rows.iter().map(|r| r.seq).collect();
        for seq in &seen {
            self.gaps.remove(seq);
        }
        if let Some(&max) = seen.last() {
            if max > self.read_to {
                for missing in (self.read_to + 1..max).filter(|s| !seen.contains(s)) {
                    self.gaps.insert(missing, now);
                }
                self.read_to = max;
            }
        }
        self.gaps.retain(|_, first| now.duration_since(*first) < GAP_GRACE);
        self.low = self.gaps.keys().next().map(|g| g - 1).unwrap_or(self.read_to);
    }
}

/// Impressions and views not yet written to the store.
#[derive(Default)]
pub struct TrafficBuffer(Mutex<HashMap<String, Traffic>>);

impl TrafficBuffer {
    pub fn add(&self, product_id: &str, impressions: i64, views: i64) {
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let t = map.entry(product_id.to_string()).or_default();
        t.impressions += impressions;
        t.views += views;
    }

    fn take(&self) -> HashMap<String, Traffic> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|p| p.into_inner()))
    }

    fn put_back(&self, traffic: HashMap<String, Traffic>) {
        for (id, t) in traffic {
            self.add(&id, t.impressions, t.views);
        }
    }
}

/// What search knows of a store: its trust score (a new seller's is the neutral 50) and its
/// mean delivery time once anything was delivered.
pub fn store_info(s: &StoreProfile, trust: Option<&TrustInputs>, weights: &TrustWeights) -> StoreInfo {
    StoreInfo {
        id: s.id.clone(),
        name: s.name.clone(),
        slug: s.slug.clone(),
        country: s.country.clone(),
        verification: s.verification.as_str().to_string(),
        trust_score: trust.map(|t| souk_domain::trust::score(t, weights).score),
        delivery_days: trust.and_then(TrustInputs::delivery_days),
    }
}

async fn store_infos(store: &Store, stores: &[StoreProfile], weights: &TrustWeights) -> Result<Vec<StoreInfo>> {
    let ids: Vec<String> = stores.iter().map(|s| s.id.clone()).collect();
    let trust = store.trust_inputs(&ids).await?;
    Ok(stores.iter().map(|s| store_info(s, trust.get(&s.id), weights)).collect())
}

/// Reads products with their traffic, ready to index.
pub async fn index_docs(store: &Store, products: Vec<souk_domain::catalog::Product>) -> Result<Vec<IndexDoc>> {
    let ids: Vec<String> = products.iter().map(|p| p.id.clone()).collect();
    let stats = store.product_stats(&ids).await?;
    Ok(products
        .into_iter()
        .map(|p| {
            let s = stats.get(&p.id).copied().unwrap_or_default();
            IndexDoc { product: p, views: s.views, purchases: s.purchases }
        })
        .collect())
}

/// Loads every store's search signals into the index.
pub async fn load_stores(store: &Store, index: &SearchIndex, weights: &TrustWeights) -> Result<()> {
    let mut all = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let page = store.list_stores(cursor.as_deref(), 100).await?;
        all.extend(store_infos(store, &page.items, weights).await?);
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    index.set_stores(all);
    Ok(())
}

/// Sets the conversion prior from the marketplace's traffic.
pub async fn refresh_conversion_prior(store: &Store, index: &SearchIndex) -> Result<()> {
    let (views, purchases) = store.traffic_totals().await?;
    let prior = (views >= MIN_VIEWS_FOR_PRIOR).then(|| purchases.max(1) as f64 / views as f64);
    index.set_conversion_prior(prior);
    Ok(())
}

/// Rebuilds the index from every active product; `progress(indexed)` after each page. The
/// feed position recorded is the head before the rebuild began, so changes made meanwhile are
/// replayed afterwards (replaying is harmless: it re-reads current state).
pub async fn rebuild(
    store: &Store,
    index: &Arc<SearchIndex>,
    trust: &TrustWeights,
    mut progress: impl FnMut(u64),
) -> Result<u64> {
    let head = store.catalog_head().await?;
    let clear = index.clone();
    run_blocking(move || clear.clear()).await?;
    load_stores(store, index, trust).await?;
    let filter = ProductFilter { status: Some(ProductStatus::Active), ..Default::default() };
    let mut cursor: Option<String> = None;
    let mut done = 0u64;
    loop {
        let page = store.list_products(&filter, cursor.as_deref(), REBUILD_PAGE).await?;
        done += page.items.len() as u64;
        let docs = index_docs(store, page.items).await?;
        let batch = index.clone();
        run_blocking(move || batch.append(&docs)).await?;
        progress(done);
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    let commit = index.clone();
    run_blocking(move || commit.apply(&[], &[], Some(head))).await?;
    Ok(done)
}

/// Makes the index current at start: rebuilt when it is new, of an old schema, never followed
/// the feed, or too far behind; otherwise the follower replays what it missed.
pub async fn prepare(store: &Store, index: &Arc<SearchIndex>, trust: &TrustWeights, fresh: bool) -> Result<FeedCursor> {
    let head = store.catalog_head().await?;
    let position = index.position().filter(|_| !fresh);
    let cursor = match position {
        Some(p) if head - p <= REBUILD_BACKLOG && p <= head => {
            load_stores(store, index, trust).await?;
            FeedCursor::at(p)
        }
        _ => {
            let started = Instant::now();
            let n = rebuild(store, index, trust, |_| {}).await?;
            tracing::info!(products = n, seconds = started.elapsed().as_secs_f64(), "search index built");
            FeedCursor::at(index.position().unwrap_or(0))
        }
    };
    refresh_conversion_prior(store, index).await?;
    Ok(cursor)
}

impl App {
    /// Tells the follower that this process changed the catalog, so it looks now.
    pub fn catalog_changed(&self) {
        self.feed_wakeup.notify_one();
    }

    /// Applies the changes after the cursor; returns how many rows it read.
    pub async fn follow_feed_once(&self, cursor: &mut FeedCursor) -> Result<usize> {
        let mut rows = self.store.catalog_changes(cursor.read_to, FEED_BATCH).await?;
        if !cursor.gaps.is_empty() {
            let late = self.store.catalog_changes(cursor.low, FEED_BATCH).await?;
            rows.extend(late.into_iter().filter(|r| cursor.gaps.contains_key(&r.seq)));
        }
        if rows.is_empty() && cursor.gaps.is_empty() {
            return Ok(0);
        }
        let mut products: BTreeSet<String> = BTreeSet::new();
        let mut stores: BTreeSet<String> = BTreeSet::new();
        for r in &rows {
            products.extend(r.product_id.clone());
            stores.extend(r.store_id.clone());
        }
        let mut profiles = Vec::new();
        for id in &stores {
            match self.store.store_by_id(id).await {
                Ok(s) => profiles.push(s),
                Err(souk_store::StoreError::NotFound) => {}
                Err(e) => return Err(e.into()),
            }
        }
        self.search.upsert_stores(store_infos(&self.store, &profiles, &self.config.trust).await?);
        let ids: Vec<String> = products.into_iter().collect();
        let mut docs = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(500) {
            docs.extend(index_docs(&self.store, self.store.products_by_ids(chunk).await?).await?);
        }
        let found: BTreeSet<&str> = docs.iter().map(|d| d.product.id.as_str()).collect();
        let deleted: Vec<String> = ids.iter().filter(|id| !found.contains(id.as_str())).cloned().collect();
        let before = cursor.position();
        cursor.advance(&rows, Instant::now());
        let position = cursor.position();
        if !docs.is_empty() || !deleted.is_empty() || position != before {
            let index = self.search.clone();
            run_blocking(move || index.apply(&docs, &deleted, Some(position))).await?;
        }
        Ok(rows.len())
    }

    /// Writes buffered traffic; on failure it goes back into the buffer for the next try.
    pub async fn flush_traffic(&self) -> Result<()> {
        let traffic = self.traffic.take();
        if let Err(e) = self.store.record_traffic(&traffic).await {
            self.traffic.put_back(traffic);
            return Err(e.into());
        }
        Ok(())
    }
}

/// Follows the feed until the process ends; also flushes traffic and trims the feed.
pub async fn follow_forever(app: App, mut cursor: FeedCursor) {
    let mut last_flush = Instant::now();
    let mut last_stores = Instant::now();
    loop {
        match app.follow_feed_once(&mut cursor).await {
            // A full batch means more is waiting.
            Ok(n) if n >= FEED_BATCH => continue,
            // Changes can come by the hundred a second (every flash-sale batch moves stock):
            // each round commits the index, so rounds are spaced to gather what comes meanwhile.
            Ok(n) if n > 0 => {
                tokio::time::sleep(if app.flash_busy() { BUSY_INDEX_SPACING } else { INDEX_SPACING }).await
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e.message, "following the catalog feed failed; retrying"),
        }
        if last_flush.elapsed() >= TRAFFIC_FLUSH {
            last_flush = Instant::now();
            if let Err(e) = app.flush_traffic().await {
                tracing::warn!(error = %e.message, "recording product traffic failed; kept for the next try");
            }
            if let Err(e) = refresh_conversion_prior(&app.store, &app.search).await {
                tracing::warn!(error = %e.message, "refreshing the conversion prior failed");
            }
            if let Err(e) = app.store.trim_catalog_changes(KEEP_CHANGES, TRIM_BATCH).await {
                tracing::warn!(error = %e, "trimming the catalog feed failed");
            }
        }
        // Tenure grows with no change to the store, so scores are recomputed now and then.
        if last_stores.elapsed() >= STORES_REFRESH {
            last_stores = Instant::now();
            if let Err(e) = load_stores(&app.store, &app.search, &app.config.trust).await {
                tracing::warn!(error = %e.message, "refreshing the stores' trust scores failed");
            }
        }
        let _ = tokio::time::timeout(POLL, app.feed_wakeup.notified()).await;
    }
}

/// How often every store's trust score is recomputed for search.
const STORES_REFRESH: Duration = Duration::from_secs(3600);

async fn run_blocking(f: impl FnOnce() -> Result<(), souk_search::SearchError> + Send + 'static) -> Result<()> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Error::internal("search task", e))?
        .map_err(|e| Error::internal("search index", e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(seqs: &[i64]) -> Vec<CatalogChange> {
        seqs.iter().map(|&seq| CatalogChange { seq, product_id: None, store_id: None }).collect()
    }

    #[test]
    fn the_cursor_waits_for_late_commits_then_gives_up_on_them() {
        let t0 = Instant::now();
        let mut c = FeedCursor::at(10);
        c.advance(&rows(&[11, 12, 14, 15]), t0);
        assert_eq!(c.position(), 12, "13 may still commit");
        c.advance(&rows(&[16]), t0 + Duration::from_secs(1));
        assert_eq!(c.position(), 12);
        c.advance(&rows(&[13]), t0 + Duration::from_secs(2));
        assert_eq!(c.position(), 16, "the late change arrived");
        c.advance(&rows(&[18]), t0 + Duration::from_secs(3));
        assert_eq!(c.position(), 16);
        c.advance(&[], t0 + Duration::from_secs(3) + GAP_GRACE);
        assert_eq!(c.position(), 18, "17 was rolled back");
    }
}
