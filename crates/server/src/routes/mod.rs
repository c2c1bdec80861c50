//! HTTP handlers, one module per resource. Handlers check who may act on which object; the
//! domain validates input; the store writes.

pub mod accounts;
pub mod admin;
pub mod analytics;
pub mod api_keys;
pub mod chat;
pub mod disputes;
pub mod flash;
pub mod meta;
pub mod notifications;
pub mod orders;
pub mod products;
pub mod rfq;
pub mod search;
pub mod stores;
pub mod trust;
pub mod wallet;
pub mod webhooks;

use crate::error::{AppError, AppResult, OrNotFound};
use crate::App;
use souk_domain::account::{Role, StoreProfile};
use souk_domain::catalog::{Product, ProductStatus};
use souk_domain::id::{self, Kind};
use souk_store::accounts::User;
use souk_store::StoreError;

/// A store named by id (`sto_...`) or slug.
pub async fn find_store(app: &App, store_ref: &str) -> AppResult<StoreProfile> {
    let found = if store_ref.starts_with("sto_") {
        if !id::is_valid(Kind::Store, store_ref) {
            return Err(AppError::not_found("store"));
        }
        app.store.store_by_id(store_ref).await
    } else {
        app.store.store_by_slug(store_ref).await
    };
    Ok(found.or_not_found("store")?)
}

/// A store the user owns (admins act on any): 404 if absent, 403 if someone else's.
pub async fn owned_store(app: &App, user: &User, store_ref: &str) -> AppResult<StoreProfile> {
    let store = find_store(app, store_ref).await?;
    if store.owner_id != user.id && !user.has(Role::Admin) {
        return Err(AppError::forbidden("only the store's owner may do this"));
    }
    Ok(store)
}

/// The user's own store; 403 when they have not opened one.
pub async fn seller_store(app: &App, user: &User) -> AppResult<StoreProfile> {
    match app.store.store_by_owner(&user.id).await {
        Ok(s) => Ok(s),
        Err(StoreError::NotFound) => Err(AppError::forbidden("open a store first: POST /api/v1/stores")),
        Err(e) => Err(e.into()),
    }
}

/// True when `user` may see and change products of `store_id`.
pub async fn manages(app: &App, user: Option<&User>, store_id: &str) -> AppResult<bool> {
    let Some(user) = user else { return Ok(false) };
    if user.has(Role::Admin) {
        return Ok(true);
    }
    match app.store.store_by_owner(&user.id).await {
        Ok(s) => Ok(s.id == store_id),
        Err(StoreError::NotFound) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// A product as `user` may see it: drafts and archived products only to their store.
pub async fn visible_product(app: &App, user: Option<&User>, product_id: &str) -> AppResult<Product> {
    if !id::is_valid(Kind::Product, product_id) {
        return Err(AppError::not_found("product"));
    }
    let product = app.store.product(product_id).await.or_not_found("product")?;
    if product.status != ProductStatus::Active && !manages(app, user, &product.store_id).await? {
        return Err(AppError::not_found("product"));
    }
    Ok(product)
}

/// A product the user may change: 404 if they cannot see it, 403 if they see but do not own it.
pub async fn owned_product(app: &App, user: &User, product_id: &str) -> AppResult<Product> {
    let product = visible_product(app, Some(user), product_id).await?;
    if !manages(app, Some(user), &product.store_id).await? {
        return Err(AppError::forbidden("only the product's store may change it"));
    }
    Ok(product)
}
