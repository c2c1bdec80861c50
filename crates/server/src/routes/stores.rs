//! Stores: opening one, editing it, identity verification, and its catalog import.

use crate::error::{AppError, AppResult};
use crate::extract::{ApiJson, ApiQuery, Authed, MaybeAuthed, PageQuery};
use crate::idempotency::Idem;
use crate::App;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::Response;
use axum::Json;
use serde::{Deserialize, Serialize};
use souk_app::access::{find_store, owned_store};
use souk_app::catalog;
use souk_app::import::ImportReport;
use souk_app::views::Page;
use souk_app::views::ProductFilter;
use souk_app::views::{RatingSummary, ReviewScope};
use souk_domain::account::{Role, StoreInput, StorePatch, StoreProfile, VerificationInput, VerificationRequest};
use souk_domain::catalog::{Product, ProductStatus};

/// A store as its page shows it: the profile, its trust score and its buyers' ratings.
#[derive(Serialize, utoipa::ToSchema)]
pub struct StoreDetail {
    #[serde(flatten)]
    pub store: StoreProfile,
    /// 0 to 100 (a new seller starts at 50); the breakdown is at `/stores/{store}/trust`.
    pub trust_score: f64,
    /// Reviews across its products; they page at `/stores/{store}/reviews`.
    pub rating: RatingSummary,
}

/// Opens the caller's store (one per user) and makes them a seller.
#[utoipa::path(post, path = "/api/v1/stores", tag = "stores", request_body = StoreInput, security(("bearer" = [])),
    params(crate::openapi::IdempotencyKey),
    responses((status = 201, body = StoreProfile), (status = 409, description = "slug taken or store exists", body = crate::error::ErrorBody),
              (status = 422, body = crate::error::ErrorBody)))]
pub async fn create_store(
    State(app): State<App>,
    Authed(user): Authed,
    idem: Idem,
    ApiJson(input): ApiJson<StoreInput>,
) -> AppResult<Response> {
    let mut tx = app.begin().await?;
    let store = catalog::open_store(&mut tx, &user, &input).await?;
    idem.finish(tx, StatusCode::CREATED, &store).await
}

/// All stores, oldest first.
#[utoipa::path(get, path = "/api/v1/stores", tag = "stores", params(PageQuery), responses((status = 200, body = Page<StoreProfile>)))]
pub async fn list_stores(
    State(app): State<App>,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> AppResult<Json<Page<StoreProfile>>> {
    Ok(Json(app.list_stores(page.cursor(), page.limit()?).await?))
}

/// One store, by id or slug.
#[utoipa::path(get, path = "/api/v1/stores/{store}", tag = "stores", params(("store" = String, Path, description = "id or slug")),
    responses((status = 200, body = StoreDetail), (status = 404, body = crate::error::ErrorBody)))]
pub async fn get_store(State(app): State<App>, Path(store_ref): Path<String>) -> AppResult<Json<StoreDetail>> {
    let store = find_store(&app, &store_ref).await?;
    let trust_score = souk_app::trust::trust_of(&app, &store.id).await?.score;
    let rating = app.rating_summary(ReviewScope::Store(&store.id)).await?;
    Ok(Json(StoreDetail { store, trust_score, rating }))
}

/// Edits the caller's store. The slug never changes.
#[utoipa::path(patch, path = "/api/v1/stores/{store}", tag = "stores", request_body = StorePatch, security(("bearer" = [])),
    params(("store" = String, Path, description = "id or slug"), crate::openapi::IdempotencyKey),
    responses((status = 200, body = StoreProfile), (status = 403, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)))]
pub async fn update_store(
    State(app): State<App>,
    Authed(user): Authed,
    Path(store_ref): Path<String>,
    idem: Idem,
    ApiJson(patch): ApiJson<StorePatch>,
) -> AppResult<Response> {
    let store = owned_store(&app, &user, &store_ref).await?;
    let mut tx = app.begin().await?;
    let updated = souk_app::catalog::update_store(&mut tx, &store, &patch).await?;
    idem.finish(tx, StatusCode::OK, &updated).await
}

/// Submits identity documents (KYC) for an admin to approve or reject.
#[utoipa::path(post, path = "/api/v1/stores/{store}/verification", tag = "stores", request_body = VerificationInput,
    security(("bearer" = [])), params(("store" = String, Path, description = "id or slug"), crate::openapi::IdempotencyKey),
    responses((status = 201, body = VerificationRequest), (status = 409, description = "one is already pending", body = crate::error::ErrorBody),
              (status = 422, body = crate::error::ErrorBody)))]
pub async fn submit_verification(
    State(app): State<App>,
    Authed(user): Authed,
    Path(store_ref): Path<String>,
    idem: Idem,
    ApiJson(input): ApiJson<VerificationInput>,
) -> AppResult<Response> {
    let store = owned_store(&app, &user, &store_ref).await?;
    let mut tx = app.begin().await?;
    let request = catalog::submit_verification(&mut tx, &user, &store, &input).await?;
    idem.finish(tx, StatusCode::CREATED, &request).await
}

/// The store's verification requests and their decisions (owner and admins).
#[utoipa::path(get, path = "/api/v1/stores/{store}/verification", tag = "stores", security(("bearer" = [])),
    params(("store" = String, Path, description = "id or slug"), PageQuery),
    responses((status = 200, body = Page<VerificationRequest>), (status = 403, body = crate::error::ErrorBody)))]
pub async fn list_store_verifications(
    State(app): State<App>,
    Authed(user): Authed,
    Path(store_ref): Path<String>,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> AppResult<Json<Page<VerificationRequest>>> {
    let store = owned_store(&app, &user, &store_ref).await?;
    Ok(Json(app.list_verifications(None, Some(&store.id), page.cursor(), page.limit()?).await?))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StoreProductsQuery {
    pub cursor: Option<String>,
    pub limit: Option<usize>,
    /// Only the store's owner sees `draft` and `archived`; others always get `active`.
    pub status: Option<ProductStatus>,
    /// Words the title contains, in any case.
    pub title: Option<String>,
}

/// The store's products, newest first.
#[utoipa::path(get, path = "/api/v1/stores/{store}/products", tag = "stores",
    params(("store" = String, Path, description = "id or slug"), StoreProductsQuery),
    responses((status = 200, body = Page<Product>), (status = 404, body = crate::error::ErrorBody)))]
pub async fn store_products(
    State(app): State<App>,
    MaybeAuthed(user): MaybeAuthed,
    Path(store_ref): Path<String>,
    ApiQuery(q): ApiQuery<StoreProductsQuery>,
) -> AppResult<Json<Page<Product>>> {
    let store = find_store(&app, &store_ref).await?;
    let is_manager = souk_app::access::manages(&app, user.as_ref(), &store.id).await?;
    let status = if is_manager { q.status } else { Some(ProductStatus::Active) };
    let page = PageQuery { cursor: q.cursor, limit: q.limit };
    let filter = ProductFilter { store_id: Some(store.id), status, title: q.title, ..Default::default() };
    Ok(Json(app.list_products(&filter, page.cursor(), page.limit()?).await?))
}

/// Imports products from CSV (`Content-Type: text/csv`). Header
/// `title,description,category,price,currency,stock,ships_to`, optionally
/// `sku,attributes,image_url,moq`. Good rows are imported, each bad row is reported with its
/// line number, and a re-run updates instead of duplicating (matching on `sku`, else title).
#[utoipa::path(post, path = "/api/v1/stores/{store}/imports", tag = "stores", security(("bearer" = [])),
    params(("store" = String, Path, description = "id or slug"), crate::openapi::IdempotencyKey),
    request_body(content = String, content_type = "text/csv"),
    responses((status = 200, body = ImportReport), (status = 403, body = crate::error::ErrorBody),
              (status = 413, body = crate::error::ErrorBody), (status = 422, description = "bad header", body = crate::error::ErrorBody)))]
pub async fn import_products(
    State(app): State<App>,
    Authed(user): Authed,
    Path(store_ref): Path<String>,
    headers: HeaderMap,
    body: axum::body::Body,
) -> AppResult<Json<ImportReport>> {
    let store = owned_store(&app, &user, &store_ref).await?;
    let ct = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    if !ct.starts_with("text/csv") {
        return Err(AppError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send the file with Content-Type: text/csv",
        ));
    }
    if !user.has(Role::Seller) && !user.has(Role::Admin) {
        return Err(AppError::forbidden("only sellers import products"));
    }
    let body = crate::extract::read_body(body, crate::IMPORT_BODY_LIMIT_BYTES).await?;
    let report = app.import_csv(&store.id, &body[..], |_| {}).await?;
    app.catalog_changed();
    Ok(Json(report))
}
