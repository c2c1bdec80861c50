//! Stores and their products, as sellers write them: the input rules are `domain`'s
//! (`StoreInput`, `ProductInput`), the ownership checks `access`'s. After a write commits, its
//! caller wakes the search index (`App::catalog_changed`).

use crate::error::{Error, Result};
use souk_domain::account::{StoreInput, StorePatch, StoreProfile, VerificationInput, VerificationRequest};
use souk_domain::catalog::{Product, ProductInput, ProductPatch, SkuInput, SkuPatch};
use souk_store::accounts::User;
use souk_store::Tx;

/// Opens the user's store (one per user).
pub async fn open_store(tx: &mut Tx, user: &User, input: &StoreInput) -> Result<StoreProfile> {
    Ok(tx.create_store(&user.id, &input.validate()?).await?)
}

/// The store's owner submits identity documents for an admin to decide; an admin acting on
/// the store may not submit them for its owner.
pub async fn submit_verification(
    tx: &mut Tx,
    user: &User,
    store: &StoreProfile,
    input: &VerificationInput,
) -> Result<VerificationRequest> {
    if store.owner_id != user.id {
        return Err(Error::forbidden("only the store's owner may submit its documents"));
    }
    Ok(tx.submit_verification(&store.id, input).await?)
}

/// Lists a new product in `store` (found with `access::seller_store`).
/// A suspended store lists nothing new.
pub async fn create_product(tx: &mut Tx, store: &StoreProfile, input: ProductInput) -> Result<Product> {
    crate::moderation::refuse_if_held(tx, &store.id, None).await?;
    let product = tx.create_product(&store.id, &input.validate()?).await?;
    crate::moderation::hold_if_reviewed(tx, store, &product.id).await?;
    Ok(product)
}

/// Changes the product's own fields; absent fields keep their values. A listing an operator took
/// down, or of a suspended store, is not put back on sale by its seller.
pub async fn update_product(tx: &mut Tx, product: &Product, patch: &ProductPatch) -> Result<Product> {
    if patch.status.is_some_and(|s| s != souk_domain::catalog::ProductStatus::Archived) {
        crate::moderation::refuse_if_held(tx, &product.store_id, Some(&product.id)).await?;
    }
    Ok(tx.update_product(&product.id, patch).await?)
}

/// Adds a variant, priced in the product's currency.
pub async fn add_sku(tx: &mut Tx, product: &Product, input: &SkuInput) -> Result<Product> {
    Ok(tx.add_sku(&product.id, input).await?)
}

/// Changes one of the product's variants.
pub async fn update_sku(tx: &mut Tx, product: &Product, sku_id: &str, patch: &SkuPatch) -> Result<Product> {
    if !product.skus.iter().any(|s| s.id == sku_id) {
        return Err(Error::not_found("SKU"));
    }
    Ok(tx.update_sku(&product.id, sku_id, patch).await?)
}

/// Sets what can still be bought of one of the product's SKUs (units reserved by unpaid orders
/// stay theirs), as the seller sees it on their product page.
pub async fn set_available(tx: &mut Tx, product: &Product, sku_id: &str, available: i64) -> Result<()> {
    if !product.skus.iter().any(|s| s.id == sku_id) {
        return Err(Error::not_found("SKU"));
    }
    Ok(tx.set_available(sku_id, available).await?)
}

/// Edits a store's profile (its owner checked beforehand); the slug never changes.
pub async fn update_store(tx: &mut Tx, store: &StoreProfile, patch: &StorePatch) -> Result<StoreProfile> {
    Ok(tx.update_store(&store.id, patch).await?)
}

/// Deletes a product with its SKUs and stock (its store checked beforehand).
pub async fn delete_product(tx: &mut Tx, product: &Product) -> Result<()> {
    Ok(tx.delete_product(&product.id).await?)
}
