//! Who may act on which object: stores and their owners, products and their stores, orders and
//! their parties. Every check here only reads; one that finds no right answers as if the object
//! did not exist where that hides it (404), and says "not yours" where the caller may know it.

use crate::error::{Error, OrNotFound, Result};
use crate::App;
use souk_domain::account::{Role, StoreProfile};
use souk_domain::catalog::{Product, ProductStatus};
use souk_domain::id::{self, Kind};
use souk_store::accounts::User;
use souk_store::StoreError;

/// A store named by id (`sto_...`) or slug.
pub async fn find_store(app: &App, store_ref: &str) -> Result<StoreProfile> {
    let found = if store_ref.starts_with("sto_") {
        if !id::is_valid(Kind::Store, store_ref) {
            return Err(Error::not_found("store"));
        }
        app.store.store_by_id(store_ref).await
    } else {
        app.store.store_by_slug(store_ref).await
    };
    found.or_not_found("store")
}

/// A store the user owns (admins act on any): 404 if absent, 403 if someone else's.
pub async fn owned_store(app: &App, user: &User, store_ref: &str) -> Result<StoreProfile> {
    let store = find_store(app, store_ref).await?;
    if store.owner_id != user.id && !user.has(Role::Admin) {
        return Err(Error::forbidden("only the store's owner may do this"));
    }
    Ok(store)
}

/// The user's own store; 403 when they have not opened one.
pub async fn seller_store(app: &App, user: &User) -> Result<StoreProfile> {
    match app.store.store_by_owner(&user.id).await {
        Ok(s) => Ok(s),
        Err(StoreError::NotFound) => Err(Error::forbidden("open a store first")),
        Err(e) => Err(e.into()),
    }
}

/// True when `user` may see and change products of `store_id`.
pub async fn manages(app: &App, user: Option<&User>, store_id: &str) -> Result<bool> {
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
pub async fn visible_product(app: &App, user: Option<&User>, product_id: &str) -> Result<Product> {
    if !id::is_valid(Kind::Product, product_id) {
        return Err(Error::not_found("product"));
    }
    let product = app.store.product(product_id).await.or_not_found("product")?;
    if product.status != ProductStatus::Active && !manages(app, user, &product.store_id).await? {
        return Err(Error::not_found("product"));
    }
    Ok(product)
}

/// A product the user may change: 404 if they cannot see it, 403 if they see but do not own it.
pub async fn owned_product(app: &App, user: &User, product_id: &str) -> Result<Product> {
    let product = visible_product(app, Some(user), product_id).await?;
    if !manages(app, Some(user), &product.store_id).await? {
        return Err(Error::forbidden("only the product's store may change it"));
    }
    Ok(product)
}
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Buyer,
    Seller,
    Staff,
}

/// The caller's side of an order; someone with none gets 404, as if it did not exist.
pub async fn side(app: &App, user: &User, order_id: &str) -> Result<Side> {
    if !id::is_valid(Kind::Order, order_id) {
        return Err(Error::not_found("order"));
    }
    let (buyer, seller) = app.store.order_parties(order_id).await.or_not_found("order")?;
    let side = if user.id == buyer {
        Side::Buyer
    } else if user.id == seller {
        Side::Seller
    } else if user.has(Role::Admin) || user.has(Role::Mediator) {
        Side::Staff
    } else {
        return Err(Error::not_found("order"));
    };
    // Decided without a write; the caller, a party, may now use the order whole.
    app.whole_order(order_id).await?;
    Ok(side)
}
