//! Product search over the tantivy index.

use crate::error::{AppError, AppResult};
use crate::extract::ApiQuery;
use crate::App;
use axum::extract::State;
use axum::Json;
use serde::{Deserialize, Serialize};
use souk_domain::catalog::Product;

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchQuery {
    /// Words to look for in titles (which count double), descriptions, attributes and category
    /// paths. Punctuation and query syntax are treated as plain text.
    pub q: String,
    /// 1 to 100, default 20.
    pub limit: Option<usize>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct SearchHit {
    pub product: Product,
    /// Text relevance (BM25); higher is better.
    pub score: f32,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct SearchResults {
    pub hits: Vec<SearchHit>,
    /// How many active products match in all.
    pub total: usize,
}

/// Active products matching the words of `q`, most relevant first.
#[utoipa::path(get, path = "/api/v1/search", tag = "catalog", params(SearchQuery),
    responses((status = 200, body = SearchResults), (status = 422, body = crate::error::ErrorBody)))]
pub async fn search(State(app): State<App>, ApiQuery(q): ApiQuery<SearchQuery>) -> AppResult<Json<SearchResults>> {
    if q.q.chars().count() > 200 {
        return Err(AppError::unprocessable("too_long", "at most 200 characters").with_field("q"));
    }
    let limit = crate::extract::PageQuery { cursor: None, limit: q.limit }.limit()?;
    let index = app.search.clone();
    let text = q.q.clone();
    let (hits, total) = tokio::task::spawn_blocking(move || index.search(&text, limit))
        .await
        .map_err(|e| AppError::internal("search task", e))?
        .map_err(|e| AppError::internal("search", e))?;
    let ids: Vec<String> = hits.iter().map(|h| h.id.clone()).collect();
    let products = app.store.products_by_ids(&ids).await?;
    let hits = hits
        .into_iter()
        .filter_map(|h| {
            products.iter().find(|p| p.id == h.id).map(|p| SearchHit { product: p.clone(), score: h.score })
        })
        .collect();
    Ok(Json(SearchResults { hits, total }))
}
