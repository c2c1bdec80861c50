//! Products and their SKUs. Anyone may read active products; only the owning store writes.

use crate::error::{AppError, AppResult};
use crate::extract::{ApiJson, ApiQuery, Authed, MaybeAuthed, PageQuery};
use crate::idempotency::Idem;
use crate::App;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;
use serde::{Deserialize, Serialize};
use souk_app::access::{owned_product, seller_store, visible_product};
use souk_app::catalog;
use souk_app::views::Page;
use souk_app::views::ProductFilter;
use souk_app::views::{RatingSummary, ReviewScope};
use souk_domain::catalog::{Product, ProductInput, ProductPatch, ProductStatus, SkuInput, SkuPatch};
use souk_domain::category::Category;

/// A product as its page shows it: the product and what its buyers thought of it.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ProductDetail {
    #[serde(flatten)]
    pub product: Product,
    /// Its reviews' count, mean and histogram; the reviews page at `/products/{id}/reviews`.
    pub rating: RatingSummary,
}

/// Lists a new product in the caller's store.
#[utoipa::path(post, path = "/api/v1/products", tag = "catalog", request_body = ProductInput, security(("bearer" = [])),
    params(crate::openapi::IdempotencyKey),
    responses((status = 201, body = Product), (status = 401, body = crate::error::ErrorBody),
              (status = 403, description = "no store", body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)))]
pub async fn create_product(
    State(app): State<App>,
    Authed(user): Authed,
    idem: Idem,
    ApiJson(input): ApiJson<ProductInput>,
) -> AppResult<Response> {
    let store = seller_store(&app, &user).await?;
    let mut tx = app.begin().await?;
    let product = catalog::create_product(&mut tx, &store, input).await?;
    let res = idem.finish(tx, StatusCode::CREATED, &product).await?;
    app.catalog_changed();
    Ok(res)
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ProductsQuery {
    pub cursor: Option<String>,
    pub limit: Option<usize>,
    /// A store id.
    pub store: Option<String>,
    /// A category id; products in its subcategories match too.
    pub category: Option<String>,
}

/// Active products, newest first.
#[utoipa::path(get, path = "/api/v1/products", tag = "catalog", params(ProductsQuery),
    responses((status = 200, body = Page<Product>), (status = 422, body = crate::error::ErrorBody)))]
pub async fn list_products(
    State(app): State<App>,
    ApiQuery(q): ApiQuery<ProductsQuery>,
) -> AppResult<Json<Page<Product>>> {
    let category = match q.category.as_deref().filter(|c| !c.is_empty()) {
        Some(c) => Some(
            Category::by_id(c)
                .ok_or_else(|| AppError::unprocessable("unknown_category", "no such category").with_field("category"))?
                .id
                .to_string(),
        ),
        None => None,
    };
    let page = PageQuery { cursor: q.cursor, limit: q.limit };
    let filter = ProductFilter {
        store_id: q.store.filter(|s| !s.is_empty()),
        status: Some(ProductStatus::Active),
        category,
        title: None,
    };
    Ok(Json(app.list_products(&filter, page.cursor(), page.limit()?).await?))
}

/// One product with its rating summary. Drafts and archived products are visible only to
/// their store.
#[utoipa::path(get, path = "/api/v1/products/{id}", tag = "catalog", params(("id" = String, Path)),
    responses((status = 200, body = ProductDetail), (status = 404, body = crate::error::ErrorBody)))]
pub async fn get_product(
    State(app): State<App>,
    MaybeAuthed(user): MaybeAuthed,
    Path(id): Path<String>,
) -> AppResult<Json<ProductDetail>> {
    let product = visible_product(&app, user.as_ref(), &id).await?;
    // A view is a visit by anyone but the seller's staff: what conversion is measured against.
    let staff = match &user {
        Some(_) => souk_app::access::manages(&app, user.as_ref(), &product.store_id).await?,
        None => false,
    };
    if product.status == ProductStatus::Active && !staff {
        app.traffic.add(&product.id, 0, 1);
    }
    let rating = app.rating_summary(ReviewScope::Product(&product.id)).await?;
    Ok(Json(ProductDetail { product, rating }))
}

/// Changes the product's own fields; absent fields keep their values.
#[utoipa::path(patch, path = "/api/v1/products/{id}", tag = "catalog", request_body = ProductPatch, security(("bearer" = [])),
    params(("id" = String, Path), crate::openapi::IdempotencyKey),
    responses((status = 200, body = Product), (status = 403, body = crate::error::ErrorBody),
              (status = 404, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)))]
pub async fn update_product(
    State(app): State<App>,
    Authed(user): Authed,
    Path(id): Path<String>,
    idem: Idem,
    ApiJson(patch): ApiJson<ProductPatch>,
) -> AppResult<Response> {
    let product = owned_product(&app, &user, &id).await?;
    let mut tx = app.begin().await?;
    let updated = catalog::update_product(&mut tx, &product, &patch).await?;
    let res = idem.finish(tx, StatusCode::OK, &updated).await?;
    app.catalog_changed();
    Ok(res)
}

/// Deletes the product with its SKUs and stock.
#[utoipa::path(delete, path = "/api/v1/products/{id}", tag = "catalog", security(("bearer" = [])),
    params(("id" = String, Path), crate::openapi::IdempotencyKey),
    responses((status = 204), (status = 403, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody)))]
pub async fn delete_product(
    State(app): State<App>,
    Authed(user): Authed,
    Path(id): Path<String>,
    idem: Idem,
) -> AppResult<Response> {
    let product = owned_product(&app, &user, &id).await?;
    let mut tx = app.begin().await?;
    souk_app::catalog::delete_product(&mut tx, &product).await?;
    let res = idem.finish_empty(tx).await?;
    app.catalog_changed();
    Ok(res)
}

/// Adds a variant; its price is in the product's currency.
#[utoipa::path(post, path = "/api/v1/products/{id}/skus", tag = "catalog", request_body = SkuInput, security(("bearer" = [])),
    params(("id" = String, Path), crate::openapi::IdempotencyKey),
    responses((status = 201, body = Product), (status = 403, body = crate::error::ErrorBody),
              (status = 409, description = "SKU code taken", body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)))]
pub async fn add_sku(
    State(app): State<App>,
    Authed(user): Authed,
    Path(id): Path<String>,
    idem: Idem,
    ApiJson(input): ApiJson<SkuInput>,
) -> AppResult<Response> {
    let product = owned_product(&app, &user, &id).await?;
    let mut tx = app.begin().await?;
    let updated = catalog::add_sku(&mut tx, &product, &input).await?;
    let res = idem.finish(tx, StatusCode::CREATED, &updated).await?;
    app.catalog_changed();
    Ok(res)
}

/// Changes a variant's price, tiers, options or units on hand.
#[utoipa::path(patch, path = "/api/v1/products/{id}/skus/{sku_id}", tag = "catalog", request_body = SkuPatch,
    security(("bearer" = [])), params(("id" = String, Path), ("sku_id" = String, Path), crate::openapi::IdempotencyKey),
    responses((status = 200, body = Product), (status = 403, body = crate::error::ErrorBody),
              (status = 404, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)))]
pub async fn update_sku(
    State(app): State<App>,
    Authed(user): Authed,
    Path((id, sku_id)): Path<(String, String)>,
    idem: Idem,
    ApiJson(patch): ApiJson<SkuPatch>,
) -> AppResult<Response> {
    let product = owned_product(&app, &user, &id).await?;
    let mut tx = app.begin().await?;
    let updated = catalog::update_sku(&mut tx, &product, &sku_id, &patch).await?;
    let res = idem.finish(tx, StatusCode::OK, &updated).await?;
    app.catalog_changed();
    Ok(res)
}
