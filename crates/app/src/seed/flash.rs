//! A flash sale to measure or test the order engine with: one seller whose `skus` products are
//! each on a live promotion, and buyers with funded wallets. Written straight to the store:
//! `souk bench flash-sale` seeds thousands of buyers this way in a second.

use souk_domain::account::StoreInput;
use souk_domain::flash::PromotionDraft;
use souk_domain::{Currency, Money};
use souk_store::{Store, StoreError};

pub struct SaleSpec {
    /// Makes e-mails and the store's slug unique, for several sales in one database.
    pub tag: String,
    pub skus: usize,
    /// Promotion units per SKU (the SKU holds as many).
    pub stock: i64,
    pub per_buyer_limit: i64,
    /// The promotion price in CNY fen; the list price is twice that.
    pub price: i64,
    /// One buyer per entry, with that much in their wallet.
    pub funds: Vec<i64>,
}

pub struct Sale {
    pub promotions: Vec<String>,
    pub buyers: Vec<String>,
}

pub async fn flash_sale(store: &Store, spec: &SaleSpec) -> Result<Sale, StoreError> {
    let cny = Currency::from_code("CNY").ok_or(StoreError::NotFound)?;
    let tag = &spec.tag;
    let mut tx = store.begin().await?;
    let email = format!("seller-{tag}@flash.souk");
    let seller = tx.create_user(&email, &email, "x", "Flash seller").await?;
    let shop = StoreInput {
        name: format!("Flash {tag}"),
        slug: format!("flash-{}", tag.to_ascii_lowercase()),
        country: "CN".into(),
        currency: "CNY".into(),
        description: String::new(),
    };
    let shop = tx.create_store(&seller.id, &shop.validate()?).await?;
    let now = store.now_ms();
    let mut promotions = Vec::new();
    for i in 0..spec.skus {
        let price = Money::new(spec.price * 2, cny);
        let input = super::market::one_sku_product(&format!("Hot item {i}"), "electronics/phones", price, spec.stock);
        let product = tx.create_product(&shop.id, &input.validate()?).await?;
        let terms = PromotionDraft {
            sku_id: product.skus[0].id.clone(),
            starts_ms: now,
            ends_ms: now + 3_600_000,
            price: Money::new(spec.price, cny),
            stock: spec.stock,
            per_buyer_limit: spec.per_buyer_limit,
        };
        promotions.push(tx.create_promotion(&shop.id, &terms).await?.id);
    }
    let mut buyers = Vec::with_capacity(spec.funds.len());
    for (i, funds) in spec.funds.iter().enumerate() {
        let email = format!("buyer{i}-{tag}@flash.souk");
        let user = tx.create_user(&email, &email, "x", "Flash buyer").await?;
        if *funds > 0 {
            let top_up = tx.create_top_up(&user.id, Money::new(*funds, cny), "sandbox", "4242").await?;
            tx.settle_top_up(&top_up.id, true, None).await?;
        }
        buyers.push(user.id);
    }
    tx.commit().await?;
    Ok(Sale { promotions, buyers })
}

/// The demo's flash sale: the demo seller's best-stocked product at half price for three days,
/// so the product page's countdown and buy form are there to try.
pub async fn demo_flash_sale(store: &Store, store_id: &str) -> Result<(), StoreError> {
    let filter = souk_store::catalog::ProductFilter {
        store_id: Some(store_id.to_string()),
        status: Some(souk_domain::catalog::ProductStatus::Active),
        ..Default::default()
    };
    let products = store.list_products(&filter, None, 100).await?.items;
    let Some((sku, _)) = products
        .iter()
        .flat_map(|p| p.skus.iter().map(move |s| (s, p)))
        .filter(|(s, p)| s.stock >= 20 && p.moq <= 1 && s.price.amount >= 2)
        .max_by_key(|(s, _)| s.stock)
    else {
        return Ok(());
    };
    let now = store.now_ms();
    let terms = PromotionDraft {
        sku_id: sku.id.clone(),
        starts_ms: now,
        ends_ms: now + 3 * souk_domain::time::DAY_MS,
        price: Money::new(sku.price.amount / 2, sku.price.currency),
        stock: (sku.stock / 2).min(50),
        per_buyer_limit: 2,
    };
    let mut tx = store.begin().await?;
    tx.create_promotion(store_id, &terms).await?;
    tx.commit().await
}
