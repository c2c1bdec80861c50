//! Products, SKUs and their rules: what a seller may list, validated before anything is stored.

use crate::category::Category;
use crate::error::Invalid;
use crate::geo::ShipsTo;
use crate::money::{truncate, Currency, Money, MAX_PRICE_MINOR};
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub const MAX_TITLE_CHARS: usize = 200;
pub const MAX_DESCRIPTION_CHARS: usize = 20_000;
pub const MAX_SKUS: usize = 100;
pub const MAX_ATTRIBUTES: usize = 50;
pub const MAX_ATTRIBUTE_KEY_CHARS: usize = 64;
pub const MAX_ATTRIBUTE_VALUE_CHARS: usize = 500;
pub const MAX_IMAGES: usize = 20;
pub const MAX_URL_CHARS: usize = 2048;
pub const MAX_TIERS: usize = 10;
pub const MAX_STOCK: i64 = 1_000_000_000;
pub const MAX_MOQ: i64 = 1_000_000;
pub const MAX_SKU_CODE_CHARS: usize = 64;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum ProductStatus {
    Draft,
    Active,
    Archived,
}

impl ProductStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ProductStatus::Draft => "draft",
            ProductStatus::Active => "active",
            ProductStatus::Archived => "archived",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "draft" => Some(Self::Draft),
            "active" => Some(Self::Active),
            "archived" => Some(Self::Archived),
            _ => None,
        }
    }
}

/// A quantity price break: buying `min_qty` or more costs `price` per unit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PriceTier {
    pub min_qty: i64,
    pub price: Money,
}

/// One variant as a seller submits it.
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SkuInput {
    /// The seller's own SKU code; unique within the store. Imports match on it.
    #[serde(default)]
    pub sku: Option<String>,
    /// Variant options such as `{"color": "red", "size": "M"}`.
    #[serde(default)]
    pub options: BTreeMap<String, String>,
    pub price: Money,
    pub stock: i64,
    #[serde(default)]
    pub price_tiers: Vec<PriceTier>,
}

/// A product as a seller submits it.
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ProductInput {
    pub title: String,
    #[serde(default)]
    pub description: String,
    /// Category id (`electronics/phones`) or path (`Electronics > Phones`).
    #[serde(default)]
    pub category: Option<String>,
    #[serde(default)]
    pub attributes: BTreeMap<String, String>,
    #[serde(default)]
    pub images: Vec<String>,
    /// Country codes, or `["*"]` for everywhere.
    pub ships_to: Vec<String>,
    /// Minimum order quantity; 1 when absent.
    #[serde(default)]
    pub moq: Option<i64>,
    #[serde(default)]
    pub status: Option<ProductStatus>,
    pub skus: Vec<SkuInput>,
}

/// Changes to a product's own fields; absent fields stay as they are.
#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ProductPatch {
    pub title: Option<String>,
    pub description: Option<String>,
    pub category: Option<String>,
    pub attributes: Option<BTreeMap<String, String>>,
    pub images: Option<Vec<String>>,
    pub ships_to: Option<Vec<String>>,
    pub moq: Option<i64>,
    pub status: Option<ProductStatus>,
}

/// Changes to one SKU; absent fields stay as they are. `stock` sets the units on hand.
#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SkuPatch {
    pub options: Option<BTreeMap<String, String>>,
    pub price: Option<Money>,
    pub stock: Option<i64>,
    pub price_tiers: Option<Vec<PriceTier>>,
}

/// A validated SKU, ready to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkuDraft {
    pub code: Option<String>,
    pub options: BTreeMap<String, String>,
    pub price: Money,
    pub stock: i64,
    pub tiers: Vec<PriceTier>,
}

/// A validated product, ready to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductDraft {
    pub title: String,
    pub description: String,
    pub category: Option<Category>,
    pub attributes: BTreeMap<String, String>,
    pub images: Vec<String>,
    pub ships_to: ShipsTo,
    pub moq: i64,
    pub status: ProductStatus,
    pub currency: Currency,
    pub skus: Vec<SkuDraft>,
}

/// A product as the API shows it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Product {
    pub id: String,
    pub store_id: String,
    pub title: String,
    pub description: String,
    pub category: Option<CategoryRef>,
    pub attributes: BTreeMap<String, String>,
    pub images: Vec<String>,
    pub ships_to: Vec<String>,
    pub moq: i64,
    pub status: ProductStatus,
    pub currency: String,
    pub skus: Vec<Sku>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CategoryRef {
    pub id: String,
    pub path: String,
}

impl From<Category> for CategoryRef {
    fn from(c: Category) -> Self {
        CategoryRef { id: c.id.to_string(), path: c.path() }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Sku {
    pub id: String,
    pub sku: Option<String>,
    pub options: BTreeMap<String, String>,
    pub price: Money,
    pub price_tiers: Vec<PriceTier>,
    /// Units that can still be bought: on hand minus reserved.
    pub stock: i64,
}

/// The unit price for buying `qty`: the best tier whose threshold `qty` reaches, else the base.
pub fn unit_price(base: Money, tiers: &[PriceTier], qty: i64) -> Money {
    tiers.iter().filter(|t| qty >= t.min_qty).map(|t| t.price).min_by_key(|p| p.amount).unwrap_or(base)
}

pub fn validate_title(title: &str, field: &str) -> Result<String, Invalid> {
    let t = title.trim();
    if t.is_empty() {
        return Err(Invalid::new("required", field, "must not be empty"));
    }
    text_limit(t, MAX_TITLE_CHARS, field)?;
    if t.chars().any(char::is_control) {
        return Err(Invalid::new("invalid", field, "must not contain control characters"));
    }
    Ok(t.to_string())
}

pub fn validate_description(d: &str, field: &str) -> Result<String, Invalid> {
    text_limit(d, MAX_DESCRIPTION_CHARS, field)?;
    Ok(d.trim().to_string())
}

fn text_limit(s: &str, max_chars: usize, field: &str) -> Result<(), Invalid> {
    // Byte length bounds char count from above, so most strings skip the count.
    if s.len() > max_chars && s.chars().count() > max_chars {
        return Err(Invalid::new("too_long", field, format!("must be at most {max_chars} characters")));
    }
    Ok(())
}

pub fn validate_category(c: Option<&str>, field: &str) -> Result<Option<Category>, Invalid> {
    match c.map(str::trim).filter(|c| !c.is_empty()) {
        None => Ok(None),
        Some(text) => Category::resolve(text).map(Some).ok_or_else(|| {
            Invalid::new(
                "unknown_category",
                field,
                format!("no category '{}'; see GET /api/v1/categories", truncate(text, 64)),
            )
        }),
    }
}

fn validate_map(map: &BTreeMap<String, String>, max: usize, field: &str) -> Result<(), Invalid> {
    if map.len() > max {
        return Err(Invalid::new("too_many", field, format!("at most {max} entries")));
    }
    for (k, v) in map {
        let f = format!("{field}.{}", truncate(k, 32));
        if k.trim().is_empty() {
            return Err(Invalid::new("invalid", field, "keys must not be empty"));
        }
        text_limit(k, MAX_ATTRIBUTE_KEY_CHARS, &f)?;
        text_limit(v, MAX_ATTRIBUTE_VALUE_CHARS, &f)?;
    }
    Ok(())
}

pub fn validate_attributes(map: &BTreeMap<String, String>, field: &str) -> Result<(), Invalid> {
    validate_map(map, MAX_ATTRIBUTES, field)
}

pub fn validate_options(map: &BTreeMap<String, String>, field: &str) -> Result<(), Invalid> {
    validate_map(map, 10, field)
}

pub fn validate_images(images: &[String], field: &str) -> Result<(), Invalid> {
    if images.len() > MAX_IMAGES {
        return Err(Invalid::new("too_many", field, format!("at most {MAX_IMAGES} images")));
    }
    for (i, url) in images.iter().enumerate() {
        if !crate::media::is_image_link(url, MAX_URL_CHARS) {
            return Err(Invalid::new(
                "invalid_url",
                format!("{field}[{i}]"),
                "must be an http(s) URL without spaces, or the link of an uploaded image",
            ));
        }
    }
    Ok(())
}

pub fn validate_moq(moq: i64, field: &str) -> Result<i64, Invalid> {
    if !(1..=MAX_MOQ).contains(&moq) {
        return Err(Invalid::new("out_of_range", field, format!("must be between 1 and {MAX_MOQ}")));
    }
    Ok(moq)
}

pub fn validate_stock(stock: i64, field: &str) -> Result<i64, Invalid> {
    if !(0..=MAX_STOCK).contains(&stock) {
        return Err(Invalid::new("out_of_range", field, format!("must be between 0 and {MAX_STOCK}")));
    }
    Ok(stock)
}

pub fn validate_price(price: Money, currency: Currency, field: &str) -> Result<Money, Invalid> {
    if price.currency != currency {
        return Err(Invalid::new(
            "currency_mismatch",
            format!("{field}.currency"),
            format!("all prices of a product use one currency ({currency}); got {}", price.currency),
        ));
    }
    if price.amount <= 0 || price.amount > MAX_PRICE_MINOR {
        return Err(Invalid::new(
            "out_of_range",
            format!("{field}.amount"),
            format!("must be between 1 and {MAX_PRICE_MINOR} minor units"),
        ));
    }
    Ok(price)
}

/// Tiers must raise the threshold and lower the price at each step, all below the base price.
pub fn validate_tiers(tiers: &[PriceTier], base: Money, field: &str) -> Result<Vec<PriceTier>, Invalid> {
    if tiers.len() > MAX_TIERS {
        return Err(Invalid::new("too_many", field, format!("at most {MAX_TIERS} price tiers")));
    }
    let mut sorted = tiers.to_vec();
    sorted.sort_by_key(|t| t.min_qty);
    let mut last_price = base.amount;
    let mut last_qty = 1;
    for (i, t) in sorted.iter().enumerate() {
        let f = format!("{field}[{i}]");
        validate_price(t.price, base.currency, &format!("{f}.price"))?;
        if t.min_qty <= last_qty || t.min_qty > MAX_STOCK {
            return Err(Invalid::new(
                "invalid_tier",
                format!("{f}.min_qty"),
                "each tier needs a larger quantity than the one before (at least 2)",
            ));
        }
        if t.price.amount >= last_price {
            return Err(Invalid::new(
                "invalid_tier",
                format!("{f}.price"),
                "each tier must be cheaper than the base price and the tier before",
            ));
        }
        last_qty = t.min_qty;
        last_price = t.price.amount;
    }
    Ok(sorted)
}

pub fn validate_sku_code(code: Option<&str>, field: &str) -> Result<Option<String>, Invalid> {
    let Some(code) = code.map(str::trim).filter(|c| !c.is_empty()) else { return Ok(None) };
    let ok = code.len() <= MAX_SKU_CODE_CHARS
        && code.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'/'));
    if !ok {
        return Err(Invalid::new(
            "invalid_sku",
            field,
            format!("at most {MAX_SKU_CODE_CHARS} characters of A-Z, a-z, 0-9, '-', '_', '.', '/'"),
        ));
    }
    Ok(Some(code.to_string()))
}

impl SkuInput {
    pub fn validate(&self, currency: Currency) -> Result<SkuDraft, Invalid> {
        let price = validate_price(self.price, currency, "price")?;
        validate_options(&self.options, "options")?;
        Ok(SkuDraft {
            code: validate_sku_code(self.sku.as_deref(), "sku")?,
            options: self.options.clone(),
            price,
            stock: validate_stock(self.stock, "stock")?,
            tiers: validate_tiers(&self.price_tiers, price, "price_tiers")?,
        })
    }
}

impl ProductInput {
    /// Validates everything; the product's currency is that of its first SKU.
    pub fn validate(&self) -> Result<ProductDraft, Invalid> {
        let title = validate_title(&self.title, "title")?;
        let description = validate_description(&self.description, "description")?;
        let category = validate_category(self.category.as_deref(), "category")?;
        validate_attributes(&self.attributes, "attributes")?;
        validate_images(&self.images, "images")?;
        let ships_to = ShipsTo::from_list(&self.ships_to, "ships_to")?;
        let moq = validate_moq(self.moq.unwrap_or(1), "moq")?;
        if self.skus.is_empty() {
            return Err(Invalid::new("required", "skus", "a product needs at least one SKU"));
        }
        if self.skus.len() > MAX_SKUS {
            return Err(Invalid::new("too_many", "skus", format!("at most {MAX_SKUS} SKUs")));
        }
        let currency = self.skus[0].price.currency;
        let skus = self
            .skus
            .iter()
            .enumerate()
            .map(|(i, s)| s.validate(currency).map_err(|e| e.within(&format!("skus[{i}]"))))
            .collect::<Result<Vec<_>, _>>()?;
        check_unique_codes(&skus)?;
        Ok(ProductDraft {
            title,
            description,
            category,
            attributes: self.attributes.clone(),
            images: self.images.clone(),
            ships_to,
            moq,
            status: self.status.unwrap_or(ProductStatus::Active),
            currency,
            skus,
        })
    }
}

fn check_unique_codes(skus: &[SkuDraft]) -> Result<(), Invalid> {
    for (i, s) in skus.iter().enumerate() {
        if let Some(code) = &s.code {
            if skus[..i].iter().any(|o| o.code.as_ref() == Some(code)) {
                return Err(Invalid::new("duplicate_sku", format!("skus[{i}].sku"), "SKU codes must be unique"));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usd(amount: i64) -> Money {
        Money::new(amount, Currency::from_code("USD").unwrap())
    }

    fn input() -> ProductInput {
        serde_json::from_value(serde_json::json!({
            "title": "  Phone case ",
            "ships_to": ["US", "de"],
            "skus": [{"sku": "PC-1", "price": {"amount": 1999, "currency": "USD"}, "stock": 5,
                      "price_tiers": [{"min_qty": 50, "price": {"amount": 1500, "currency": "USD"}},
                                      {"min_qty": 10, "price": {"amount": 1800, "currency": "USD"}}]}]
        }))
        .unwrap()
    }

    fn field_of(p: ProductInput) -> Option<String> {
        p.validate().unwrap_err().field
    }

    #[test]
    fn accepts_a_good_product_and_normalises_it() {
        let mut p = input();
        p.ships_to = vec!["US".into(), "DE".into()];
        let d = p.validate().unwrap();
        assert_eq!(d.title, "Phone case");
        assert_eq!(d.moq, 1);
        assert_eq!(d.status, ProductStatus::Active);
        assert_eq!(d.ships_to.to_text(), "DE;US");
        assert_eq!(d.skus[0].tiers.iter().map(|t| t.min_qty).collect::<Vec<_>>(), vec![10, 50]);
    }

    #[test]
    fn names_the_field_that_is_wrong() {
        let mut p = input();
        p.title = "x".repeat(MAX_TITLE_CHARS + 1);
        assert_eq!(field_of(p), Some("title".into()));
        let mut p = input();
        p.ships_to = vec!["US".into()];
        p.skus[0].price = usd(-1);
        assert_eq!(field_of(p), Some("skus[0].price.amount".into()));
        let mut p = input();
        p.ships_to = vec!["US".into(), "ZZ".into()];
        assert_eq!(field_of(p), Some("ships_to[1]".into()));
        let mut p = input();
        p.ships_to = vec!["US".into()];
        p.skus[0].price_tiers[0].price = usd(2500);
        assert_eq!(field_of(p), Some("skus[0].price_tiers[1].price".into()));
        let mut p = input();
        p.ships_to = vec!["US".into()];
        p.skus.push(p.skus[0].clone());
        assert_eq!(field_of(p), Some("skus[1].sku".into()));
        let mut p = input();
        p.ships_to = vec!["US".into()];
        p.skus[0].stock = -3;
        assert_eq!(field_of(p), Some("skus[0].stock".into()));
        let mut p = input();
        p.ships_to = vec!["US".into()];
        p.category = Some("Nope > Nothing".into());
        assert_eq!(field_of(p), Some("category".into()));
        let mut p = input();
        p.ships_to = vec!["US".into()];
        p.images = vec!["javascript:alert(1)".into()];
        assert_eq!(field_of(p), Some("images[0]".into()));
    }

    #[test]
    fn tier_prices_apply_by_quantity() {
        let tiers = vec![PriceTier { min_qty: 10, price: usd(1800) }, PriceTier { min_qty: 50, price: usd(1500) }];
        assert_eq!(unit_price(usd(1999), &tiers, 1), usd(1999));
        assert_eq!(unit_price(usd(1999), &tiers, 10), usd(1800));
        assert_eq!(unit_price(usd(1999), &tiers, 49), usd(1800));
        assert_eq!(unit_price(usd(1999), &tiers, 500), usd(1500));
    }

    proptest::proptest! {
        /// Whatever tiers pass validation, buying more never raises the unit price, and no tier
        /// is dearer than the base price.
        #[test]
        fn validated_tiers_never_raise_the_unit_price(
            base in 1i64..1_000_000,
            raw in proptest::collection::vec((2i64..10_000, 1i64..1_000_000), 0..6),
            a in 1i64..20_000,
            b in 1i64..20_000,
        ) {
            let tiers: Vec<PriceTier> = raw.iter().map(|&(q, p)| PriceTier { min_qty: q, price: usd(p) }).collect();
            if let Ok(tiers) = validate_tiers(&tiers, usd(base), "t") {
                let (lo, hi) = (a.min(b), a.max(b));
                let p_lo = unit_price(usd(base), &tiers, lo).amount;
                let p_hi = unit_price(usd(base), &tiers, hi).amount;
                proptest::prop_assert!(p_hi <= p_lo && p_lo <= base);
            }
        }
    }

    #[test]
    fn unicode_titles_count_characters_not_bytes() {
        let t = "连衣裙".repeat(MAX_TITLE_CHARS / 3);
        assert!(validate_title(&t, "title").is_ok());
        assert!(validate_title(&format!("{t}裙裙裙"), "title").is_err());
    }
}
