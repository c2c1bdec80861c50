//! Trust and safety: what people report, and what operators do about it. Every action names
//! its reason, is audited and can be reversed.

use crate::Invalid;
use serde::{Deserialize, Serialize};

/// What can be reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Target {
    Product,
    Store,
    Review,
    Message,
}

impl Target {
    pub const ALL: [Target; 4] = [Target::Product, Target::Store, Target::Review, Target::Message];

    pub fn as_str(self) -> &'static str {
        match self {
            Target::Product => "product",
            Target::Store => "store",
            Target::Review => "review",
            Target::Message => "message",
        }
    }

    pub fn parse(s: &str) -> Option<Target> {
        Target::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

/// Why something is reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    Fraud,
    Counterfeit,
    Prohibited,
    FakeReview,
    Abuse,
    Spam,
    Other,
}

impl Reason {
    pub const ALL: [Reason; 7] = [
        Reason::Fraud,
        Reason::Counterfeit,
        Reason::Prohibited,
        Reason::FakeReview,
        Reason::Abuse,
        Reason::Spam,
        Reason::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Fraud => "fraud",
            Reason::Counterfeit => "counterfeit",
            Reason::Prohibited => "prohibited",
            Reason::FakeReview => "fake_review",
            Reason::Abuse => "abuse",
            Reason::Spam => "spam",
            Reason::Other => "other",
        }
    }

    pub fn parse(s: &str) -> Option<Reason> {
        Reason::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

/// What an operator does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// A listing leaves search, store pages, carts and checkout; its seller may appeal.
    TakeDown,
    /// A store's listings are hidden and it takes no new orders; its payouts wait. Open orders
    /// keep their escrow and deadlines.
    SuspendStore,
    /// Every session ends and signing in is refused.
    BanUser,
    /// A review counts in no rating and no trust score, and is not shown.
    HideReview,
    /// A new listing of a store below identity verification waits, off sale, for an operator.
    HoldForReview,
}

impl Action {
    pub const ALL: [Action; 5] =
        [Action::TakeDown, Action::SuspendStore, Action::BanUser, Action::HideReview, Action::HoldForReview];

    pub fn as_str(self) -> &'static str {
        match self {
            Action::TakeDown => "take_down",
            Action::SuspendStore => "suspend_store",
            Action::BanUser => "ban_user",
            Action::HideReview => "hide_review",
            Action::HoldForReview => "hold_for_review",
        }
    }

    pub fn parse(s: &str) -> Option<Action> {
        Action::ALL.into_iter().find(|a| a.as_str() == s)
    }
}

pub const MAX_TEXT_CHARS: usize = 2000;

/// A report's own words, up to 2000 characters (may be empty: the reason can say enough).
pub fn validate_details(text: &str) -> Result<String, Invalid> {
    let t = text.trim();
    if t.chars().count() > MAX_TEXT_CHARS || t.chars().any(|c| c.is_control() && c != '\n') {
        return Err(Invalid::new("invalid", "details", "at most 2000 characters, no control characters"));
    }
    Ok(t.to_string())
}

/// The reason an operator gives for an action or its reversal: required, since the person it
/// concerns reads it.
pub fn validate_reason(text: &str) -> Result<String, Invalid> {
    let t = text.trim();
    if t.chars().count() < 5 || t.chars().count() > MAX_TEXT_CHARS {
        return Err(Invalid::new("required", "reason", "a reason the person concerned can read, 5 to 2000 characters"));
    }
    Ok(t.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_reasons_are_required() {
        for t in Target::ALL {
            assert_eq!(Target::parse(t.as_str()), Some(t));
        }
        for r in Reason::ALL {
            assert_eq!(Reason::parse(r.as_str()), Some(r));
        }
        for a in Action::ALL {
            assert_eq!(Action::parse(a.as_str()), Some(a));
        }
        assert!(validate_reason("  bad ").is_err());
        assert_eq!(validate_reason(" Sells replicas as originals ").unwrap(), "Sells replicas as originals");
        assert!(validate_details(&"x".repeat(2001)).is_err());
        assert_eq!(validate_details("").unwrap(), "");
    }
}
