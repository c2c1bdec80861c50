//! Product search and autocomplete over the embedded index. Parameters are checked here, so the
//! index only ever sees values that exist: an unknown category, country, currency, store or sort
//! is invalid input naming the parameter.

use crate::error::{Error, Result};
use crate::App;
use serde::{Deserialize, Serialize};
use souk_domain::category::Category;
use souk_domain::geo::parse_country;
use souk_domain::Currency;
use souk_search::query::{Facets, Request, CANDIDATES, MAX_OFFSET};
use souk_search::{Hit, Sort, Suggestion};

/// Longest query accepted, in characters.
const MAX_QUERY_CHARS: usize = 200;
const DEFAULT_LIMIT: usize = 20;

#[derive(Deserialize, Default, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchQuery {
    /// Words to look for (English and Chinese; case, accents and plurals do not matter, and
    /// words of five or more letters forgive one typo). Punctuation and query syntax are plain
    /// text. Empty or absent: every product, ranked by the trust and commerce signals.
    pub q: Option<String>,
    /// A category id; its subcategories are included.
    pub category: Option<String>,
    /// ISO country code: only products that ship there.
    pub ships_to: Option<String>,
    /// Only products of which at least the minimum order quantity can be bought now.
    pub in_stock: Option<bool>,
    /// Lowest price, in minor units of `currency` (which is then required).
    pub price_min: Option<i64>,
    /// Highest price, in minor units of `currency` (which is then required).
    pub price_max: Option<i64>,
    /// ISO-4217 code: only products priced in it.
    pub currency: Option<String>,
    /// 0 to 100: only sellers whose trust score is at least this (unscored sellers count as 50).
    pub min_seller_rating: Option<f64>,
    /// A store id or slug.
    pub store: Option<String>,
    /// relevance (default), price_asc, price_desc, newest or rating (the seller's).
    pub sort: Option<String>,
    /// Opaque cursor from the previous page's `next_cursor`.
    pub cursor: Option<String>,
    /// 1 to 100 (larger values are capped), default 20.
    pub limit: Option<usize>,
    /// Adds each hit's ranking features and their contributions.
    pub explain: Option<bool>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct SearchResults {
    pub hits: Vec<Hit>,
    /// Every product matching the query and filters.
    pub total: usize,
    /// The next page, while there is one. Relevance and rating orders reach the best 1,000
    /// matches; price and date orders the first 10,000.
    pub next_cursor: Option<String>,
    /// False when no product had every word, so products with any of them are shown.
    pub matched_all_words: bool,
    pub facets: Facets,
}

fn invalid(field: &str, code: &str, message: impl Into<String>) -> Error {
    Error::invalid(code, message).with_field(field)
}

fn parse_sort(s: Option<&str>) -> Result<Sort> {
    Ok(match s.unwrap_or("relevance") {
        "relevance" => Sort::Relevance,
        "price_asc" => Sort::PriceAsc,
        "price_desc" => Sort::PriceDesc,
        "newest" => Sort::Newest,
        "rating" => Sort::Rating,
        other => {
            return Err(invalid(
                "sort",
                "unknown_sort",
                format!(
                    "'{}' is not a sort; use relevance, price_asc, price_desc, newest or rating",
                    souk_domain::money::truncate(other, 32)
                ),
            ))
        }
    })
}

fn parse_cursor(cursor: Option<&str>) -> Result<usize> {
    match cursor.filter(|c| !c.is_empty()) {
        None => Ok(0),
        Some(c) => c
            .parse::<usize>()
            .ok()
            .filter(|n| *n <= MAX_OFFSET.max(CANDIDATES))
            .ok_or_else(|| invalid("cursor", "invalid_cursor", "use the next_cursor of a previous page")),
    }
}

async fn validate(app: &App, q: SearchQuery) -> Result<Request> {
    let text = q.q.unwrap_or_default();
    if text.chars().count() > MAX_QUERY_CHARS {
        return Err(invalid("q", "too_long", format!("at most {MAX_QUERY_CHARS} characters")));
    }
    let category = match q.category.filter(|c| !c.is_empty()) {
        Some(c) => Some(
            Category::by_id(&c)
                .ok_or_else(|| invalid("category", "unknown_category", "no such category; see /api/v1/categories"))?
                .id
                .to_string(),
        ),
        None => None,
    };
    let ships_to = match q.ships_to.filter(|c| !c.is_empty()) {
        Some(c) => Some(parse_country(&c.to_ascii_uppercase(), "ships_to")?),
        None => None,
    };
    let currency = match q.currency.filter(|c| !c.is_empty()) {
        Some(c) => Some(Currency::parse(&c.to_ascii_uppercase(), "currency")?.code().to_string()),
        None => None,
    };
    let price = |v: Option<i64>, field: &str| -> Result<Option<u64>> {
        match v {
            Some(n) if n < 0 => Err(invalid(field, "out_of_range", "prices are not negative")),
            Some(_) if currency.is_none() => {
                Err(invalid("currency", "required", "a price filter needs the currency its amounts are in"))
            }
            v => Ok(v.map(|n| n as u64)),
        }
    };
    let (price_min, price_max) = (price(q.price_min, "price_min")?, price(q.price_max, "price_max")?);
    if let (Some(lo), Some(hi)) = (price_min, price_max) {
        if lo > hi {
            return Err(invalid("price_max", "out_of_range", "price_max is below price_min"));
        }
    }
    if let Some(r) = q.min_seller_rating {
        if !(0.0..=100.0).contains(&r) {
            return Err(invalid("min_seller_rating", "out_of_range", "a trust score is 0 to 100"));
        }
    }
    let store = match q.store.filter(|s| !s.is_empty()) {
        Some(s) => {
            let found =
                if s.starts_with("sto_") { app.store.store_by_id(&s).await } else { app.store.store_by_slug(&s).await };
            match found {
                Ok(store) => Some(store.id),
                Err(souk_store::StoreError::NotFound) => {
                    return Err(invalid("store", "unknown_store", "no store has this id or slug"))
                }
                Err(e) => return Err(e.into()),
            }
        }
        None => None,
    };
    let limit = match q.limit {
        Some(0) => return Err(invalid("limit", "out_of_range", "limit must be at least 1")),
        Some(n) => n.min(souk_search::MAX_LIMIT),
        None => DEFAULT_LIMIT,
    };
    Ok(Request {
        q: text,
        category,
        ships_to,
        in_stock: q.in_stock.unwrap_or(false),
        currency,
        price_min,
        price_max,
        min_seller_rating: q.min_seller_rating,
        store,
        sort: parse_sort(q.sort.as_deref())?,
        offset: parse_cursor(q.cursor.as_deref())?,
        limit,
        explain: q.explain.unwrap_or(false),
        weights: app.config.ranking,
        no_cache: false,
    })
}

/// Validates and runs a search, counting an impression for each hit: the API and the pages
/// share it.
pub async fn run(app: &App, q: SearchQuery) -> Result<SearchResults> {
    let request = validate(app, q).await?;
    let index = app.search.clone();
    let started = std::time::Instant::now();
    let results = tokio::task::spawn_blocking(move || index.search(&request))
        .await
        .map_err(|e| Error::internal("search task", e))?
        .map_err(|e| Error::internal("search", e))?;
    app.metrics.observe_search(started.elapsed());
    for hit in &results.hits {
        app.traffic.add(&hit.id, 1, 0);
    }
    Ok(SearchResults {
        hits: results.hits,
        total: results.total,
        next_cursor: results.next_offset.map(|n| n.to_string()),
        matched_all_words: results.matched_all_words,
        facets: results.facets,
    })
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SuggestQuery {
    /// What the searcher has typed so far.
    pub q: Option<String>,
    /// 1 to 20, default 8.
    pub limit: Option<usize>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Suggestions {
    pub suggestions: Vec<Suggestion>,
}

/// Completions for a search box: categories whose name has a word starting with the text, then
/// product titles containing its words, the last one as a prefix.
pub async fn suggest(app: &App, q: SuggestQuery) -> Result<Suggestions> {
    let text = q.q.unwrap_or_default();
    if text.chars().count() > MAX_QUERY_CHARS {
        return Err(invalid("q", "too_long", format!("at most {MAX_QUERY_CHARS} characters")));
    }
    let limit = q.limit.unwrap_or(8);
    if limit == 0 {
        return Err(invalid("limit", "out_of_range", "limit must be at least 1"));
    }
    let index = app.search.clone();
    let suggestions = tokio::task::spawn_blocking(move || index.suggest(&text, limit))
        .await
        .map_err(|e| Error::internal("suggest task", e))?
        .map_err(|e| Error::internal("suggest", e))?;
    Ok(Suggestions { suggestions })
}
