//! An everyday marketplace to measure the ordinary order path with: sellers, each with a store
//! and products in stock, and buyers with funded wallets, everyone with a session. Written
//! straight to the store, so `souk bench orders` seeds thousands of buyers in seconds.

use souk_domain::account::StoreInput;
use souk_domain::catalog::{ProductInput, SkuInput};
use souk_domain::order::Policy;
use souk_domain::{Currency, Money};
use souk_store::{Store, StoreError};

pub struct MarketSpec {
    /// Makes e-mails and slugs unique, for several markets in one database.
    pub tag: String,
    pub sellers: usize,
    pub products_per_seller: usize,
    pub buyers: usize,
    /// Each buyer's wallet, in CNY fen.
    pub funds: i64,
}

/// Someone who can call the API: their user id and session token, and a seller's store slug.
pub struct Party {
    pub user_id: String,
    pub token: String,
    pub store: Option<String>,
}

pub use souk_store::history::{history_len, Listed};

pub struct Market {
    pub sellers: Vec<Party>,
    pub buyers: Vec<Party>,
    pub products: Vec<Listed>,
}

/// Sessions last a day: longer than any benchmark run.
const SESSION_MS: i64 = 86_400_000;

pub async fn everyday_market(store: &Store, spec: &MarketSpec) -> Result<Market, StoreError> {
    let cny = Currency::from_code("CNY").ok_or(StoreError::NotFound)?;
    let tag = &spec.tag;
    let mut tx = store.begin().await?;
    let (mut sellers, mut products) = (Vec::new(), Vec::new());
    for s in 0..spec.sellers {
        let email = format!("seller{s}-{tag}@market.souk");
        let (user_id, token) =
            (tx.create_user(&email, &email, "x", &format!("Seller {s}")).await?.id, crate::accounts::random_token());
        tx.create_session(&user_id, &crate::accounts::token_hash(&token), SESSION_MS, "souk bench").await?;
        let shop = StoreInput {
            name: format!("Market {s}"),
            slug: format!("market-{s}-{}", tag.to_ascii_lowercase()),
            country: "CN".into(),
            currency: "CNY".into(),
            description: String::new(),
        };
        let shop = tx.create_store(&user_id, &shop.validate()?).await?;
        for p in 0..spec.products_per_seller {
            let price = Money::new(1_999 + (p as i64 % 7) * 100, cny);
            let input = one_sku_product(&format!("Everyday item {s}-{p}"), "home/kitchen", price, 1_000_000_000);
            let product = tx.create_product(&shop.id, &input.validate()?).await?;
            products.push(Listed {
                sku_id: product.skus[0].id.clone(),
                product_id: product.id,
                store_id: shop.id.clone(),
                seller_id: user_id.clone(),
                title: product.title,
                price: price.amount,
            });
        }
        sellers.push(Party { user_id, token, store: Some(shop.slug) });
    }
    let mut buyers = Vec::with_capacity(spec.buyers);
    for b in 0..spec.buyers {
        let email = format!("buyer{b}-{tag}@market.souk");
        let (user_id, token) =
            (tx.create_user(&email, &email, "x", &format!("Buyer {b}")).await?.id, crate::accounts::random_token());
        tx.create_session(&user_id, &crate::accounts::token_hash(&token), SESSION_MS, "souk bench").await?;
        let top_up = tx.create_top_up(&user_id, Money::new(spec.funds, cny), "sandbox", "4242").await?;
        tx.settle_top_up(&top_up.id, true, None).await?;
        buyers.push(Party { user_id, token, store: None });
    }
    tx.commit().await?;
    Ok(Market { sellers, buyers, products })
}

/// A product with one SKU, shipped anywhere, with `stock` units at `price`.
pub(crate) fn one_sku_product(title: &str, category: &str, price: Money, stock: i64) -> ProductInput {
    ProductInput {
        title: title.to_string(),
        description: String::new(),
        category: Some(category.to_string()),
        attributes: Default::default(),
        images: Vec::new(),
        ships_to: vec!["*".into()],
        moq: None,
        status: None,
        skus: vec![SkuInput { sku: None, options: Default::default(), price, stock, price_tiers: Vec::new() }],
    }
}

/// Writes the marketplace's history in bulk (`souk_store::history::fill_history`): the
/// market's buyers buy its products.
pub async fn fill_history(
    store: &Store,
    market: &Market,
    from: u64,
    past: u64,
    open: u64,
    policy: &Policy,
    progress: impl FnMut(u64),
) -> Result<(), StoreError> {
    let buyers: Vec<String> = market.buyers.iter().map(|b| b.user_id.clone()).collect();
    souk_store::history::fill_history(store, &buyers, &market.products, (from, past, open), policy, progress).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use souk_store::SystemClock;
    use std::sync::Arc;

    /// A filled history is a past the books agree with: every order's money moved through the
    /// ledger, the open orders' payments still in escrow, the completed ones paid out.
    #[tokio::test]
    async fn a_filled_history_keeps_the_books() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_sqlite(dir.path(), Arc::new(SystemClock)).await.unwrap();
        let spec = MarketSpec { tag: "h".into(), sellers: 2, products_per_seller: 3, buyers: 5, funds: 10_000_000 };
        let market = everyday_market(&store, &spec).await.unwrap();
        fill_history(&store, &market, 0, 30, 10, &Policy::default(), |_| {}).await.unwrap();
        assert_eq!(history_len(&store).await.unwrap(), 40);
        let books = store.ledger_check().await.unwrap();
        assert!(books.sound, "{:?}", books.problems);
        let mut conn = store.reader().await.unwrap();
        let sql = "SELECT kind, COUNT(*) FROM ledger_transfers WHERE order_id IS NOT NULL GROUP BY kind ORDER BY kind";
        let kinds: Vec<(String, i64)> = sqlx::query_as(sql).fetch_all(&mut *conn).await.unwrap();
        let expected = [("commission", 30), ("payment", 40), ("release", 30)];
        assert_eq!(kinds, expected.map(|(k, n)| (k.to_string(), n)).to_vec());
        let sql = "SELECT COUNT(*) FROM ledger_accounts WHERE kind = 'escrow' AND balance > 0";
        let holding: i64 = sqlx::query_scalar(sql).fetch_one(&mut *conn).await.unwrap();
        assert_eq!(holding, 10, "the open orders' payments wait in escrow");
        let sql = "SELECT COUNT(*) FROM ledger_transfers WHERE id >= 'trf_01'";
        let recent: i64 = sqlx::query_scalar(sql).fetch_one(&mut *conn).await.unwrap();
        assert_eq!(recent, 5, "only the buyers' top-ups are of today: the history sorts before them");
    }
}
