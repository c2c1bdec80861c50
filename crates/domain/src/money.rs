//! Exact money: integer minor units and an ISO-4217 currency. No floats anywhere.

use crate::error::Invalid;
use serde::{Deserialize, Serialize};
use std::fmt;

/// An active ISO-4217 currency and the number of minor-unit digits it uses. Ordered by code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Currency {
    code: &'static str,
    exponent: u8,
}

/// Active ISO-4217 codes with their exponents (JPY and KRW have none; BHD, KWD, JOD, OMR, TND,
/// LYD, IQD have three). Sorted by code for binary search.
#[rustfmt::skip]
const CURRENCIES: &[(&str, u8)] = &[
    ("AED", 2), ("AFN", 2), ("ALL", 2), ("AMD", 2), ("ANG", 2), ("AOA", 2), ("ARS", 2),
    ("AUD", 2), ("AWG", 2), ("AZN", 2), ("BAM", 2), ("BBD", 2), ("BDT", 2), ("BGN", 2),
    ("BHD", 3), ("BIF", 0), ("BMD", 2), ("BND", 2), ("BOB", 2), ("BRL", 2), ("BSD", 2),
    ("BTN", 2), ("BWP", 2), ("BYN", 2), ("BZD", 2), ("CAD", 2), ("CDF", 2), ("CHF", 2),
    ("CLP", 0), ("CNY", 2), ("COP", 2), ("CRC", 2), ("CUP", 2), ("CVE", 2), ("CZK", 2),
    ("DJF", 0), ("DKK", 2), ("DOP", 2), ("DZD", 2), ("EGP", 2), ("ERN", 2), ("ETB", 2),
    ("EUR", 2), ("FJD", 2), ("FKP", 2), ("GBP", 2), ("GEL", 2), ("GHS", 2), ("GIP", 2),
    ("GMD", 2), ("GNF", 0), ("GTQ", 2), ("GYD", 2), ("HKD", 2), ("HNL", 2), ("HTG", 2),
    ("HUF", 2), ("IDR", 2), ("ILS", 2), ("INR", 2), ("IQD", 3), ("IRR", 2), ("ISK", 0),
    ("JMD", 2), ("JOD", 3), ("JPY", 0), ("KES", 2), ("KGS", 2), ("KHR", 2), ("KMF", 0),
    ("KPW", 2), ("KRW", 0), ("KWD", 3), ("KYD", 2), ("KZT", 2), ("LAK", 2), ("LBP", 2),
    ("LKR", 2), ("LRD", 2), ("LSL", 2), ("LYD", 3), ("MAD", 2), ("MDL", 2), ("MGA", 2),
    ("MKD", 2), ("MMK", 2), ("MNT", 2), ("MOP", 2), ("MRU", 2), ("MUR", 2), ("MVR", 2),
    ("MWK", 2), ("MXN", 2), ("MYR", 2), ("MZN", 2), ("NAD", 2), ("NGN", 2), ("NIO", 2),
    ("NOK", 2), ("NPR", 2), ("NZD", 2), ("OMR", 3), ("PAB", 2), ("PEN", 2), ("PGK", 2),
    ("PHP", 2), ("PKR", 2), ("PLN", 2), ("PYG", 0), ("QAR", 2), ("RON", 2), ("RSD", 2),
    ("RUB", 2), ("RWF", 0), ("SAR", 2), ("SBD", 2), ("SCR", 2), ("SDG", 2), ("SEK", 2),
    ("SGD", 2), ("SHP", 2), ("SLE", 2), ("SOS", 2), ("SRD", 2), ("SSP", 2), ("STN", 2),
    ("SVC", 2), ("SYP", 2), ("SZL", 2), ("THB", 2), ("TJS", 2), ("TMT", 2), ("TND", 3),
    ("TOP", 2), ("TRY", 2), ("TTD", 2), ("TWD", 2), ("TZS", 2), ("UAH", 2), ("UGX", 0),
    ("USD", 2), ("UYU", 2), ("UZS", 2), ("VES", 2), ("VND", 0), ("VUV", 0), ("WST", 2),
    ("XAF", 0), ("XCD", 2), ("XOF", 0), ("XPF", 0), ("YER", 2), ("ZAR", 2), ("ZMW", 2),
    ("ZWG", 2),
];

/// The largest amount Souk accepts for one price, in minor units: 10^13, which leaves room for
/// quantity × price × many lines inside an `i64` when later rules multiply with checked maths.
pub const MAX_PRICE_MINOR: i64 = 10_000_000_000_000;

/// The largest single top-up, in minor units.
pub const MAX_TOP_UP_MINOR: i64 = 1_000_000_000_000;

impl Currency {
    /// Looks up an ISO-4217 code; only upper-case, active codes are accepted.
    pub fn from_code(code: &str) -> Option<Currency> {
        CURRENCIES
            .binary_search_by(|(c, _)| (*c).cmp(code))
            .ok()
            .map(|i| Currency { code: CURRENCIES[i].0, exponent: CURRENCIES[i].1 })
    }

    pub fn parse(code: &str, field: &str) -> Result<Currency, Invalid> {
        Currency::from_code(code).ok_or_else(|| {
            Invalid::new(
                "unknown_currency",
                field,
                format!("'{}' is not an active ISO-4217 currency code", truncate(code, 16)),
            )
        })
    }

    pub fn code(&self) -> &'static str {
        self.code
    }

    /// Digits after the decimal point in this currency's major unit (JPY: 0, USD: 2, KWD: 3).
    pub fn exponent(&self) -> u8 {
        self.exponent
    }

    pub fn all() -> impl Iterator<Item = Currency> {
        CURRENCIES.iter().map(|&(code, exponent)| Currency { code, exponent })
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code)
    }
}

/// An amount in minor units of one currency, serialised as `{"amount": 1999, "currency": "USD"}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Money {
    pub amount: i64,
    pub currency: Currency,
}

impl Money {
    pub fn new(amount: i64, currency: Currency) -> Self {
        Self { amount, currency }
    }

    /// Parses a price given in major units as text ("19.99") into exact minor units. More
    /// fraction digits than the currency has is an error, never a rounding.
    pub fn parse_major(text: &str, currency: Currency) -> Result<Money, String> {
        let text = text.trim();
        let (whole, frac) = match text.split_once('.') {
            Some((w, f)) => (w, f),
            None => (text, ""),
        };
        if let Some((w, f)) = text.split_once(',').filter(|_| !text.contains('.')) {
            if !w.is_empty() && w.bytes().all(|b| b.is_ascii_digit()) && f.bytes().all(|b| b.is_ascii_digit()) {
                return Err(format!(
                    "write decimals with a point: '{}', not '{}'",
                    truncate(&text.replace(',', "."), 32),
                    truncate(text, 32)
                ));
            }
        }
        if whole.is_empty() || !whole.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!("'{}' is not a non-negative decimal number", truncate(text, 32)));
        }
        if text.contains('.') && frac.is_empty() || !frac.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!("'{}' is not a non-negative decimal number", truncate(text, 32)));
        }
        let exp = currency.exponent as usize;
        if frac.len() > exp {
            return Err(format!(
                "{} allows at most {exp} decimal place{}, got '{}'",
                currency.code,
                if exp == 1 { "" } else { "s" },
                truncate(text, 32)
            ));
        }
        let too_large = || format!("'{}' is larger than the maximum price", truncate(text, 32));
        let mut amount: i64 = 0;
        for b in whole.bytes().chain(frac.bytes()).chain(std::iter::repeat_n(b'0', exp - frac.len())) {
            amount = amount.checked_mul(10).and_then(|a| a.checked_add(i64::from(b - b'0'))).ok_or_else(too_large)?;
        }
        if amount > MAX_PRICE_MINOR {
            return Err(too_large());
        }
        Ok(Money { amount, currency })
    }

    /// Formats in major units with exactly the currency's digits ("19.99", "1500" for JPY).
    pub fn format_major(&self) -> String {
        let exp = u32::from(self.currency.exponent);
        let sign = if self.amount < 0 { "-" } else { "" };
        let abs = self.amount.unsigned_abs();
        if exp == 0 {
            return format!("{sign}{abs}");
        }
        let scale = 10u64.pow(exp);
        format!("{sign}{}.{:0width$}", abs / scale, abs % scale, width = exp as usize)
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.format_major(), self.currency)
    }
}

#[derive(Serialize, Deserialize)]
struct MoneyRepr {
    amount: i64,
    currency: String,
}

impl Serialize for Money {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        MoneyRepr { amount: self.amount, currency: self.currency.code.to_string() }.serialize(s)
    }
}

impl<'de> Deserialize<'de> for Money {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let repr = MoneyRepr::deserialize(d)?;
        let currency = Currency::from_code(&repr.currency)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown currency '{}'", truncate(&repr.currency, 16))))?;
        Ok(Money { amount: repr.amount, currency })
    }
}

impl Serialize for Currency {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.code)
    }
}

#[cfg(feature = "openapi")]
impl utoipa::PartialSchema for Money {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, Type};
        ObjectBuilder::new()
            .property(
                "amount",
                ObjectBuilder::new()
                    .schema_type(Type::Integer)
                    .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(utoipa::openapi::KnownFormat::Int64)))
                    .description(Some("Integer minor units (cents; yen for JPY).")),
            )
            .required("amount")
            .property("currency", ObjectBuilder::new().schema_type(Type::String).description(Some("ISO-4217 code.")))
            .required("currency")
            .into()
    }
}

#[cfg(feature = "openapi")]
impl utoipa::ToSchema for Money {}

/// Cuts user text for use inside an error message.
pub fn truncate(s: &str, max_chars: usize) -> String {
    match s.char_indices().nth(max_chars) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn usd() -> Currency {
        Currency::from_code("USD").unwrap()
    }

    #[test]
    fn table_is_sorted_so_lookup_works() {
        assert!(CURRENCIES.windows(2).all(|w| w[0].0 < w[1].0));
        assert_eq!(Currency::from_code("JPY").unwrap().exponent(), 0);
        assert_eq!(Currency::from_code("KWD").unwrap().exponent(), 3);
        assert!(Currency::from_code("usd").is_none());
        assert!(Currency::from_code("XXX").is_none());
    }

    #[test]
    fn parses_major_units_exactly() {
        let check = |text: &str, code: &str, expected: Result<i64, ()>| {
            let c = Currency::from_code(code).unwrap();
            assert_eq!(Money::parse_major(text, c).map(|m| m.amount).map_err(|_| ()), expected, "{text} {code}");
        };
        check("19.99", "USD", Ok(1999));
        check("19.9", "USD", Ok(1990));
        check("19", "USD", Ok(1900));
        check("0.01", "USD", Ok(1));
        check(" 7 ", "USD", Ok(700));
        check("1500", "JPY", Ok(1500));
        check("1500.5", "JPY", Err(()));
        check("1.234", "KWD", Ok(1234));
        check("19.999", "USD", Err(()));
        check("-1", "USD", Err(()));
        check("1e3", "USD", Err(()));
        check("", "USD", Err(()));
        check(".5", "USD", Err(()));
        check("5.", "USD", Err(()));
        check("0x10", "USD", Err(()));
        check("99999999999999999999999", "USD", Err(()));
        check("100000000000", "USD", Ok(MAX_PRICE_MINOR));
        check("100000000000.01", "USD", Err(()));
        check("12,5", "USD", Err(()));
        let comma = Money::parse_major("12,5", usd()).unwrap_err();
        assert!(comma.contains("point") && comma.contains("'12.5'"), "a decimal comma is explained: {comma}");
        assert!(Money::parse_major("1,000.50", usd()).unwrap_err().contains("not a non-negative decimal"));
    }

    #[test]
    fn formats_with_currency_digits() {
        assert_eq!(Money::new(1999, usd()).format_major(), "19.99");
        assert_eq!(Money::new(5, usd()).format_major(), "0.05");
        assert_eq!(Money::new(-5, usd()).format_major(), "-0.05");
        assert_eq!(Money::new(1500, Currency::from_code("JPY").unwrap()).to_string(), "1500 JPY");
    }

    #[test]
    fn serialises_as_amount_and_currency() {
        let json = serde_json::to_string(&Money::new(1999, usd())).unwrap();
        assert_eq!(json, r#"{"amount":1999,"currency":"USD"}"#);
        let back: Money = serde_json::from_str(&json).unwrap();
        assert_eq!(back, Money::new(1999, usd()));
        assert!(serde_json::from_str::<Money>(r#"{"amount":1,"currency":"ABC"}"#).is_err());
        assert!(serde_json::from_str::<Money>(r#"{"amount":1.5,"currency":"USD"}"#).is_err());
    }

    proptest! {
        #[test]
        fn format_then_parse_round_trips(amount in 0i64..=MAX_PRICE_MINOR, idx in 0usize..CURRENCIES.len()) {
            let c = Currency::all().nth(idx).unwrap();
            let m = Money::new(amount, c);
            prop_assert_eq!(Money::parse_major(&m.format_major(), c).unwrap(), m);
        }

        #[test]
        fn parse_never_panics(s in "\\PC{0,40}") {
            let _ = Money::parse_major(&s, usd());
        }
    }
}
