//! Keeps the search index in step with the catalog. The database is the source of truth: an
//! index update that fails is logged and repaired by the next rebuild, never an API error.

use crate::error::{AppError, AppResult};
use crate::App;
use souk_domain::catalog::ProductStatus;
use souk_search::SearchIndex;
use souk_store::catalog::ProductFilter;
use souk_store::Store;
use std::sync::Arc;

/// Products read per page while rebuilding.
const REBUILD_PAGE: usize = 1000;

impl App {
    /// Re-reads these products from the store and (re)indexes or removes them.
    pub async fn sync_search(&self, ids: &[String]) {
        let found = match self.store.products_by_ids(ids).await {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(error = %e, "search sync: reading products failed");
                return;
            }
        };
        let missing: Vec<String> = ids.iter().filter(|id| !found.iter().any(|p| &p.id == *id)).cloned().collect();
        let index = self.search.clone();
        let res = tokio::task::spawn_blocking(move || {
            for id in &missing {
                index.delete(id)?;
            }
            index.upsert(&found)
        })
        .await;
        match res {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "search sync failed"),
            Err(e) => tracing::warn!(error = %e, "search sync task failed"),
        }
    }
}

/// Rebuilds the index from every active product; `progress(indexed)` after each page.
pub async fn rebuild(store: &Store, index: &Arc<SearchIndex>, mut progress: impl FnMut(u64)) -> AppResult<u64> {
    let clear = index.clone();
    run_blocking(move || clear.clear()).await?;
    let filter = ProductFilter { status: Some(ProductStatus::Active), ..Default::default() };
    let mut cursor: Option<String> = None;
    let mut done = 0u64;
    loop {
        let page = store.list_products(&filter, cursor.as_deref(), REBUILD_PAGE).await?;
        done += page.items.len() as u64;
        let batch = index.clone();
        let items = page.items;
        run_blocking(move || batch.append(&items)).await?;
        progress(done);
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    let commit = index.clone();
    run_blocking(move || commit.commit()).await?;
    Ok(done)
}

async fn run_blocking(f: impl FnOnce() -> Result<(), souk_search::SearchError> + Send + 'static) -> AppResult<()> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| AppError::internal("search task", e))?
        .map_err(|e| AppError::internal("search index", e))
}
