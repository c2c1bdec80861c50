//! Checkout rules: whether a buyer may buy a quantity of a SKU, shipped to a country, and at
//! what unit price.

use crate::catalog::{unit_price, PriceTier, ProductStatus};
use crate::error::Invalid;
use crate::geo::ShipsTo;
use crate::money::Money;
use crate::order::Line;
use serde::{Deserialize, Serialize};

/// Most units of one SKU in one checkout.
pub const MAX_LINE_QUANTITY: i64 = 1_000_000;
/// Most lines in one checkout.
pub const MAX_ITEMS: usize = 100;

/// A SKU as checkout sees it: price, tiers and its product's terms.
#[derive(Debug, Clone)]
pub struct SkuForSale {
    pub sku_id: String,
    pub product_id: String,
    pub title: String,
    pub store_id: String,
    pub seller_id: String,
    pub status: ProductStatus,
    pub price: Money,
    pub tiers: Vec<PriceTier>,
    pub moq: i64,
    pub ships_to: ShipsTo,
    pub category: Option<String>,
}

/// One requested item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Item {
    pub sku_id: String,
    pub quantity: i64,
}

/// Prices one line for `buyer_id` shipping to `country`, or says why it cannot be bought.
/// `field` names the item in error messages (`items[2]`).
pub fn price_line(
    sku: &SkuForSale,
    quantity: i64,
    country: &str,
    buyer_id: &str,
    commission_bps: i64,
    field: &str,
) -> Result<Line, Invalid> {
    if sku.status != ProductStatus::Active {
        return Err(Invalid::new("unavailable", format!("{field}.sku_id"), "this product is not for sale"));
    }
    if sku.seller_id == buyer_id {
        return Err(Invalid::new("own_product", format!("{field}.sku_id"), "you cannot buy from your own store"));
    }
    if !(1..=MAX_LINE_QUANTITY).contains(&quantity) {
        return Err(Invalid::new(
            "out_of_range",
            format!("{field}.quantity"),
            format!("must be between 1 and {MAX_LINE_QUANTITY}"),
        ));
    }
    if quantity < sku.moq {
        return Err(Invalid::new(
            "below_moq",
            format!("{field}.quantity"),
            format!("the minimum order quantity is {}", sku.moq),
        ));
    }
    if !sku.ships_to.ships_to(country) {
        return Err(Invalid::new(
            "not_shipped_there",
            format!("{field}.sku_id"),
            format!("'{}' does not ship to {country}", sku.title),
        ));
    }
    Ok(Line {
        sku_id: sku.sku_id.clone(),
        quantity,
        unit_price: unit_price(sku.price, &sku.tiers, quantity),
        commission_bps,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Currency;

    fn sku() -> SkuForSale {
        let usd = Currency::from_code("USD").unwrap();
        SkuForSale {
            sku_id: "sku_1".into(),
            product_id: "prd_1".into(),
            title: "Tea".into(),
            store_id: "sto_1".into(),
            seller_id: "usr_s".into(),
            status: ProductStatus::Active,
            price: Money::new(1000, usd),
            tiers: vec![PriceTier { min_qty: 10, price: Money::new(900, usd) }],
            moq: 2,
            ships_to: ShipsTo::Countries(vec!["DE".into(), "US".into()]),
            category: None,
        }
    }

    #[test]
    fn prices_with_tiers_and_refuses_what_cannot_be_bought() {
        let line = price_line(&sku(), 10, "US", "usr_b", 200, "items[0]").unwrap();
        assert_eq!(line.unit_price.amount, 900);
        assert_eq!(price_line(&sku(), 2, "US", "usr_b", 200, "i").unwrap().unit_price.amount, 1000);
        let code =
            |qty: i64, country: &str, buyer: &str| price_line(&sku(), qty, country, buyer, 200, "i").unwrap_err().code;
        assert_eq!(code(1, "US", "usr_b"), "below_moq");
        assert_eq!(code(0, "US", "usr_b"), "out_of_range");
        assert_eq!(code(5, "CN", "usr_b"), "not_shipped_there");
        assert_eq!(code(5, "US", "usr_s"), "own_product");
        let mut draft = sku();
        draft.status = ProductStatus::Draft;
        assert_eq!(price_line(&draft, 5, "US", "usr_b", 200, "i").unwrap_err().code, "unavailable");
    }
}
