//! Product search and autocomplete (`souk_app::search` checks the parameters and runs them).

use crate::error::AppResult;
use crate::extract::ApiQuery;
use crate::App;
use axum::extract::State;
use axum::Json;
use souk_app::search::{self, SearchQuery, SearchResults, SuggestQuery, Suggestions};

/// Searches active products: BM25 over titles (counted double), descriptions, attributes and
/// category names picks up to 1,000 candidates; the ranking composite (text relevance, seller
/// trust, conversion, delivery speed, price against peers, stock) orders them. Facets count
/// every match.
#[utoipa::path(get, path = "/api/v1/search", tag = "search", params(SearchQuery),
    responses((status = 200, body = SearchResults), (status = 422, body = crate::error::ErrorBody)))]
pub async fn search(State(app): State<App>, ApiQuery(q): ApiQuery<SearchQuery>) -> AppResult<Json<SearchResults>> {
    Ok(Json(search::run(&app, q).await?))
}

/// Completions for a search box: categories whose name has a word starting with the text, then
/// product titles containing its words, the last one as a prefix.
#[utoipa::path(get, path = "/api/v1/search/suggest", tag = "search", params(SuggestQuery),
    responses((status = 200, body = Suggestions), (status = 422, body = crate::error::ErrorBody)))]
pub async fn suggest(State(app): State<App>, ApiQuery(q): ApiQuery<SuggestQuery>) -> AppResult<Json<Suggestions>> {
    Ok(Json(search::suggest(&app, q).await?))
}
