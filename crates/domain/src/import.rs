//! Bulk import rows: the CSV columns sellers use to move a catalog in, turned into products.
//!
//! Required columns: `title,description,category,price,currency,stock,ships_to`; optional:
//! `sku,attributes,image_url,moq`. `price` is in major units as text ("19.99"); `ships_to` is
//! `;`-separated codes or `*`; `attributes` is `key=value;key=value`; `image_url` is one URL or
//! several separated by spaces; `category` may be empty.

use crate::catalog::{
    validate_category, validate_description, validate_images, validate_moq, validate_sku_code, validate_stock,
    validate_title, ProductDraft, ProductStatus, SkuDraft,
};
use crate::error::Invalid;
use crate::geo::ShipsTo;
use crate::money::{Currency, Money, MAX_PRICE_MINOR};
use std::collections::BTreeMap;

pub const REQUIRED_COLUMNS: [&str; 7] = ["title", "description", "category", "price", "currency", "stock", "ships_to"];
pub const OPTIONAL_COLUMNS: [&str; 4] = ["sku", "attributes", "image_url", "moq"];
/// Rows per file: an import is one request, so it has a bound.
pub const MAX_ROWS: usize = 100_000;

/// Where each known column sits in the file's header.
#[derive(Debug, Clone)]
pub struct Columns {
    index: BTreeMap<&'static str, usize>,
}

impl Columns {
    /// Checks a header: every required column once, nothing unknown.
    pub fn from_header<'a>(header: impl IntoIterator<Item = &'a str>) -> Result<Columns, String> {
        let mut index = BTreeMap::new();
        for (i, name) in header.into_iter().enumerate() {
            let name = name.trim().trim_start_matches('\u{feff}').to_ascii_lowercase();
            let known = REQUIRED_COLUMNS.iter().chain(OPTIONAL_COLUMNS.iter()).find(|c| **c == name);
            let Some(col) = known else {
                return Err(format!("unknown column '{name}'"));
            };
            if index.insert(*col, i).is_some() {
                return Err(format!("column '{name}' appears twice"));
            }
        }
        let missing: Vec<&str> = REQUIRED_COLUMNS.iter().filter(|c| !index.contains_key(*c)).copied().collect();
        if !missing.is_empty() {
            return Err(format!("missing column{} {}", if missing.len() > 1 { "s" } else { "" }, missing.join(", ")));
        }
        Ok(Columns { index })
    }

    fn get<'r>(&self, row: &[&'r str], col: &str) -> &'r str {
        self.index.get(col).and_then(|&i| row.get(i)).copied().unwrap_or("").trim()
    }

    /// Turns one row into a product with a single SKU, or says what is wrong with it.
    pub fn parse_row(&self, row: &[&str]) -> Result<ProductDraft, String> {
        let why = |e: Invalid| e.to_string();
        let currency_text = self.get(row, "currency").to_ascii_uppercase();
        let currency = Currency::parse(&currency_text, "currency").map_err(why)?;
        let price = Money::parse_major(self.get(row, "price"), currency).map_err(|m| format!("price: {m}"))?;
        if price.amount == 0 || price.amount > MAX_PRICE_MINOR {
            return Err("price: must be greater than zero".into());
        }
        let stock_text = self.get(row, "stock");
        let stock = stock_text
            .parse::<i64>()
            .map_err(|_| format!("stock: '{}' is not a whole number", crate::money::truncate(stock_text, 20)))?;
        let moq = match self.get(row, "moq") {
            "" => 1,
            t => t.parse::<i64>().map_err(|_| "moq: not a whole number".to_string())?,
        };
        let images: Vec<String> = self.get(row, "image_url").split_whitespace().map(str::to_string).collect();
        validate_images(&images, "image_url").map_err(why)?;
        Ok(ProductDraft {
            title: validate_title(self.get(row, "title"), "title").map_err(why)?,
            description: validate_description(self.get(row, "description"), "description").map_err(why)?,
            category: validate_category(Some(self.get(row, "category")), "category").map_err(why)?,
            attributes: parse_attributes(self.get(row, "attributes"))?,
            images,
            ships_to: ShipsTo::parse(self.get(row, "ships_to"), "ships_to").map_err(why)?,
            moq: validate_moq(moq, "moq").map_err(why)?,
            status: ProductStatus::Active,
            currency,
            skus: vec![SkuDraft {
                code: validate_sku_code(Some(self.get(row, "sku")), "sku").map_err(why)?,
                options: BTreeMap::new(),
                price,
                stock: validate_stock(stock, "stock").map_err(why)?,
                tiers: Vec::new(),
            }],
        })
    }
}

fn parse_attributes(text: &str) -> Result<BTreeMap<String, String>, String> {
    let mut map = BTreeMap::new();
    for pair in text.split(';').map(str::trim).filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').ok_or_else(|| format!("attributes: '{pair}' is not key=value"))?;
        let (k, v) = (k.trim(), v.trim());
        if k.is_empty() || k.chars().count() > crate::catalog::MAX_ATTRIBUTE_KEY_CHARS {
            return Err("attributes: keys must be 1 to 64 characters".into());
        }
        if v.chars().count() > crate::catalog::MAX_ATTRIBUTE_VALUE_CHARS {
            return Err("attributes: values must be at most 500 characters".into());
        }
        map.insert(k.to_string(), v.to_string());
    }
    if map.len() > crate::catalog::MAX_ATTRIBUTES {
        return Err("attributes: at most 50".into());
    }
    Ok(map)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cols() -> Columns {
        Columns::from_header("title,description,category,price,currency,stock,ships_to,sku,attributes,moq".split(','))
            .unwrap()
    }

    fn parse(line: &str) -> Result<ProductDraft, String> {
        cols().parse_row(&line.split(',').collect::<Vec<_>>())
    }

    #[test]
    fn header_must_have_required_and_only_known_columns() {
        assert!(Columns::from_header(["title", "price"]).unwrap_err().contains("missing columns"));
        let mut h: Vec<&str> = REQUIRED_COLUMNS.to_vec();
        h.push("colour");
        assert!(Columns::from_header(h).unwrap_err().contains("unknown column 'colour'"));
        let mut h: Vec<&str> = REQUIRED_COLUMNS.to_vec();
        h.push("title");
        assert!(Columns::from_header(h).unwrap_err().contains("twice"));
    }

    #[test]
    fn parses_a_good_row() {
        let d = parse("Case,Nice,Electronics > Phones,19.99,usd,5,US;DE,C-1,color=red; size = M,3").unwrap();
        assert_eq!(d.skus[0].price.amount, 1999);
        assert_eq!(d.skus[0].code.as_deref(), Some("C-1"));
        assert_eq!(d.category.unwrap().id, "electronics/phones");
        assert_eq!(d.attributes.get("size").map(String::as_str), Some("M"));
        assert_eq!(d.moq, 3);
        let jpy = parse("Tea,,,1500,JPY,1,*,,,").unwrap();
        assert_eq!(jpy.skus[0].price.amount, 1500);
        assert!(jpy.category.is_none());
    }

    #[test]
    fn explains_bad_rows() {
        let err = |line: &str| parse(line).unwrap_err();
        assert!(err("Case,,,19.999,USD,5,US,,,").contains("at most 2 decimal places"));
        assert!(err("Case,,,1500.5,JPY,5,US,,,").contains("at most 0 decimal places"));
        assert!(err("Case,,,-1,USD,5,US,,,").contains("price"));
        assert!(err("Case,,,0,USD,5,US,,,").contains("price"));
        assert!(err("Case,,,1,XYZ,5,US,,,").contains("currency"));
        assert!(err("Case,,,1,USD,many,US,,,").contains("stock"));
        assert!(err("Case,,,1,USD,5,Mars,,,").contains("ships_to"));
        assert!(err(",,,1,USD,5,US,,,").contains("title"));
        assert!(err("Case,,Nowhere,1,USD,5,US,,,").contains("category"));
        assert!(err("Case,,,1,USD,5,US,,color,").contains("attributes"));
    }
}
