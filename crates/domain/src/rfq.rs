//! Requests for quotation: a buyer asks for a quantity of something in a category, shipped to a
//! country, by a deadline; matching sellers each quote once (and may revise once); the buyer
//! accepts one quote, which becomes an order at the quoted price.

use crate::catalog::validate_category;
use crate::error::Invalid;
use crate::geo::parse_country;
use crate::money::Money;
use crate::time::DAY_MS;

/// An RFQ takes no more quotes than this.
pub const MAX_QUOTES: i64 = 10;
/// The furthest deadline a buyer may set.
pub const MAX_DEADLINE_MS: i64 = 60 * DAY_MS;
/// The earliest: sellers need time to see it.
pub const MIN_DEADLINE_MS: i64 = crate::time::HOUR_MS;
/// How long after the RFQ's deadline its quotes may still be accepted.
pub const QUOTE_VALIDITY_MS: i64 = 14 * DAY_MS;
pub const MAX_TITLE_CHARS: usize = 200;
pub const MAX_DETAILS_CHARS: usize = 4000;
pub const MAX_NOTE_CHARS: usize = 1000;
/// The longest lead time a quote may promise.
pub const MAX_LEAD_TIME_DAYS: i64 = 365;

/// An RFQ as the buyer wrote it, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RfqDraft {
    pub title: String,
    pub details: String,
    /// A category id; its subcategories match too.
    pub category: String,
    pub quantity: i64,
    pub target_unit_price: Option<Money>,
    pub ship_to: String,
    pub deadline_ms: i64,
}

#[allow(clippy::too_many_arguments)]
pub fn draft(
    title: &str,
    details: &str,
    category: &str,
    quantity: i64,
    target_unit_price: Option<Money>,
    ship_to: &str,
    deadline_ms: i64,
    now_ms: i64,
) -> Result<RfqDraft, Invalid> {
    let title = crate::text::trimmed_between(title, "title", 3, MAX_TITLE_CHARS)?;
    let details = crate::text::trimmed_between(details, "details", 0, MAX_DETAILS_CHARS)?;
    let category = validate_category(Some(category), "category")?
        .ok_or_else(|| Invalid::new("required", "category", "what kind of thing is needed"))?;
    if !(1..=crate::checkout::MAX_LINE_QUANTITY).contains(&quantity) {
        return Err(Invalid::new("out_of_range", "quantity", "between 1 and 1000000"));
    }
    if let Some(p) = target_unit_price {
        if !(1..=crate::money::MAX_PRICE_MINOR).contains(&p.amount) {
            return Err(Invalid::new("out_of_range", "target_unit_price.amount", "a positive price"));
        }
    }
    let ship_to = parse_country(ship_to, "ship_to")?;
    if deadline_ms < now_ms + MIN_DEADLINE_MS || deadline_ms > now_ms + MAX_DEADLINE_MS {
        return Err(Invalid::new("out_of_range", "deadline", "between one hour and 60 days from now"));
    }
    Ok(RfqDraft {
        title,
        details,
        category: category.id.to_string(),
        quantity,
        target_unit_price,
        ship_to,
        deadline_ms,
    })
}

/// Where an RFQ stands. Only `Open`, `Awarded` and `Cancelled` are stored; `Closed` is an
/// open RFQ past its deadline or with all its quotes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Taking quotes.
    Open,
    /// No more quotes; the buyer may still accept one.
    Closed,
    /// A quote was accepted.
    Awarded,
    Cancelled,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Open => "open",
            Status::Closed => "closed",
            Status::Awarded => "awarded",
            Status::Cancelled => "cancelled",
        }
    }

    /// The status of an RFQ stored as `stored` with `quotes` quotes, at `now_ms`.
    pub fn of(stored: &str, quotes: i64, deadline_ms: i64, now_ms: i64) -> Status {
        match stored {
            "awarded" => Status::Awarded,
            "cancelled" => Status::Cancelled,
            _ if quotes >= MAX_QUOTES || now_ms >= deadline_ms => Status::Closed,
            _ => Status::Open,
        }
    }
}

/// A quote as a seller wrote it, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuoteDraft {
    pub sku_id: String,
    pub unit_price: Money,
    pub moq: i64,
    pub lead_time_days: i64,
    pub note: String,
}

pub fn quote(
    sku_id: &str,
    unit_price: Money,
    moq: i64,
    lead_time_days: i64,
    note: &str,
) -> Result<QuoteDraft, Invalid> {
    if !(1..=crate::money::MAX_PRICE_MINOR).contains(&unit_price.amount) {
        return Err(Invalid::new("out_of_range", "unit_price.amount", "a positive price"));
    }
    if !(1..=crate::checkout::MAX_LINE_QUANTITY).contains(&moq) {
        return Err(Invalid::new("out_of_range", "moq", "between 1 and 1000000"));
    }
    if !(0..=MAX_LEAD_TIME_DAYS).contains(&lead_time_days) {
        return Err(Invalid::new("out_of_range", "lead_time_days", "0 to 365 days"));
    }
    let note = crate::text::trimmed_between(note, "note", 0, MAX_NOTE_CHARS)?;
    Ok(QuoteDraft { sku_id: sku_id.trim().to_string(), unit_price, moq, lead_time_days, note })
}

/// Units ordered when a quote is accepted: what the buyer asked for, or the quote's minimum if
/// that is more.
pub fn order_quantity(requested: i64, quote_moq: i64) -> i64 {
    requested.max(quote_moq)
}

/// Whether a quote may still be accepted: the RFQ is open or closed (not awarded or
/// cancelled), and its deadline passed less than `QUOTE_VALIDITY_MS` ago.
pub fn acceptable(status: Status, deadline_ms: i64, now_ms: i64) -> Result<(), &'static str> {
    match status {
        Status::Awarded => Err("rfq_awarded"),
        Status::Cancelled => Err("rfq_cancelled"),
        _ if now_ms >= deadline_ms + QUOTE_VALIDITY_MS => Err("quote_expired"),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Currency;

    const NOW: i64 = 1_000 * DAY_MS;

    fn cny(amount: i64) -> Money {
        Money::new(amount, Currency::from_code("CNY").unwrap())
    }

    fn field(r: Result<RfqDraft, Invalid>) -> String {
        r.unwrap_err().field.unwrap_or_default()
    }

    #[test]
    fn rfqs_are_checked() {
        let ok = draft("Bamboo cutting boards", "", "home", 500, Some(cny(1200)), "DE", NOW + DAY_MS, NOW).unwrap();
        assert_eq!((ok.category.as_str(), ok.ship_to.as_str()), ("home", "DE"));
        assert_eq!(field(draft("ab", "", "home", 5, None, "DE", NOW + DAY_MS, NOW)), "title");
        assert_eq!(field(draft("Boards", "", "nope", 5, None, "DE", NOW + DAY_MS, NOW)), "category");
        assert_eq!(field(draft("Boards", "", "home", 0, None, "DE", NOW + DAY_MS, NOW)), "quantity");
        assert_eq!(
            field(draft("Boards", "", "home", 5, Some(cny(0)), "DE", NOW + DAY_MS, NOW)),
            "target_unit_price.amount"
        );
        assert_eq!(field(draft("Boards", "", "home", 5, None, "XX", NOW + DAY_MS, NOW)), "ship_to");
        assert_eq!(field(draft("Boards", "", "home", 5, None, "DE", NOW + 60_000, NOW)), "deadline");
        assert_eq!(field(draft("Boards", "", "home", 5, None, "DE", NOW + 61 * DAY_MS, NOW)), "deadline");
        assert_eq!(field(draft("Boards", &"x".repeat(4001), "home", 5, None, "DE", NOW + DAY_MS, NOW)), "details");
    }

    #[test]
    fn status_follows_deadline_quotes_and_award() {
        assert_eq!(Status::of("open", 0, NOW + 1, NOW), Status::Open);
        assert_eq!(Status::of("open", 9, NOW + 1, NOW), Status::Open);
        assert_eq!(Status::of("open", 10, NOW + 1, NOW), Status::Closed, "ten quotes close it");
        assert_eq!(Status::of("open", 0, NOW, NOW), Status::Closed, "so does the deadline");
        assert_eq!(Status::of("awarded", 3, NOW + 1, NOW), Status::Awarded);
        assert_eq!(Status::of("cancelled", 0, NOW + 1, NOW), Status::Cancelled);
    }

    #[test]
    fn quotes_are_checked_and_accepted_in_time() {
        assert!(quote("sku_1", cny(100), 50, 7, "FOB Ningbo").is_ok());
        assert_eq!(quote("sku_1", cny(0), 50, 7, "").unwrap_err().field.as_deref(), Some("unit_price.amount"));
        assert_eq!(quote("sku_1", cny(1), 0, 7, "").unwrap_err().field.as_deref(), Some("moq"));
        assert_eq!(quote("sku_1", cny(1), 1, 366, "").unwrap_err().field.as_deref(), Some("lead_time_days"));
        assert_eq!(order_quantity(300, 500), 500);
        assert_eq!(order_quantity(300, 1), 300);
        assert_eq!(acceptable(Status::Closed, NOW, NOW + DAY_MS), Ok(()));
        assert_eq!(acceptable(Status::Closed, NOW, NOW + QUOTE_VALIDITY_MS), Err("quote_expired"));
        assert_eq!(acceptable(Status::Awarded, NOW, NOW), Err("rfq_awarded"));
        assert_eq!(acceptable(Status::Cancelled, NOW, NOW), Err("rfq_cancelled"));
    }
}
