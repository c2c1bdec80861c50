//! The search ranking formula. Text relevance (BM25) picks the candidates; this composite
//! re-ranks them. Every feature is a number in 0..=1 where 0.5 is the neutral prior: a signal
//! Souk has no data for yet (a seller without a trust score, a product nobody has viewed, a
//! category with too few peers to compare prices) scores exactly 0.5 and so neither helps nor
//! hurts. The score is the weighted mean of the features:
//!
//! ```text
//! score = Σ weightᵢ · featureᵢ / Σ weightᵢ
//!
//! text        bm25 / best bm25 among the candidates           (0.5 without a query)
//! trust       seller trust score / 100                        (unscored seller: 50)
//! conversion  r / (r + p)   with r = (purchases + M·p) / (views + M), M = 50 pseudo-views,
//!             p = the marketplace's own conversion rate       (0.5 until it is known)
//! delivery    D / (D + days), D = 5: days from shipping to delivery, median for the seller
//! price       1 / (1 + price / median price of its peers)     (peers: same category and
//!             currency among the candidates; 0.5 with fewer than PRICE_PEERS of them)
//! stock       1 when at least the minimum order quantity is available, else 0
//! ```
//!
//! Floats are fine here: these are scores, never money.

use serde::{Deserialize, Serialize};

/// Unscored sellers rank as if their trust score were this (the middle of 0..=100).
pub const NEUTRAL_TRUST: f64 = 50.0;
/// Pseudo-views of Bayesian smoothing: a product's own rate counts fully only once it has
/// many more views than this.
pub const CONVERSION_PSEUDO_VIEWS: f64 = 50.0;
/// Delivery time, in days, that scores 0.5.
pub const TYPICAL_DELIVERY_DAYS: f64 = 5.0;
/// Fewest products (besides itself) to compare a price against.
pub const PRICE_PEERS: usize = 3;

/// How much each feature counts. Configuration; only the ratios matter.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Weights {
    pub text: f64,
    pub trust: f64,
    pub conversion: f64,
    pub delivery: f64,
    pub price: f64,
    pub stock: f64,
}

impl Default for Weights {
    fn default() -> Self {
        Weights { text: 0.45, trust: 0.2, conversion: 0.1, delivery: 0.05, price: 0.1, stock: 0.1 }
    }
}

impl Weights {
    fn each(&self) -> [(&'static str, f64); 6] {
        [
            ("text", self.text),
            ("trust", self.trust),
            ("conversion", self.conversion),
            ("delivery", self.delivery),
            ("price", self.price),
            ("stock", self.stock),
        ]
    }

    /// Weights must be finite, non-negative and not all zero.
    pub fn validate(&self) -> Result<(), String> {
        validate_weights("ranking", &self.each())
    }

    fn total(&self) -> f64 {
        self.text + self.trust + self.conversion + self.delivery + self.price + self.stock
    }
}

/// Weights of a weighted mean (`kind` names them in errors) must be finite, non-negative and
/// not all zero.
pub fn validate_weights(kind: &str, weights: &[(&str, f64)]) -> Result<(), String> {
    if let Some((name, w)) = weights.iter().find(|(_, w)| !w.is_finite() || *w < 0.0) {
        return Err(format!("{kind} weight {name} must be a non-negative number, not {w}"));
    }
    if weights.iter().map(|(_, w)| w).sum::<f64>() <= 0.0 {
        return Err(format!("at least one {kind} weight must be above zero"));
    }
    Ok(())
}

/// What the ranking knows about one candidate.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Inputs {
    /// The candidate's BM25 and the best among all candidates; `None` without a query.
    pub bm25: Option<(f32, f32)>,
    /// The seller's trust score, 0..=100, once it has one.
    pub trust_score: Option<f64>,
    pub views: u64,
    pub purchases: u64,
    /// Purchases per view across the marketplace, once there is enough traffic to know it.
    pub marketplace_conversion: Option<f64>,
    /// The seller's median days from shipping to delivery, once known.
    pub delivery_days: Option<f64>,
    pub price_minor: i64,
    /// Median price of comparable products, when there are enough of them.
    pub peer_median_minor: Option<i64>,
    pub available: u64,
    pub moq: u64,
}

/// Feature values, or their weighted contributions to the score.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Features {
    pub text: f64,
    pub trust: f64,
    pub conversion: f64,
    pub delivery: f64,
    pub price: f64,
    pub stock: f64,
}

/// A candidate's score with its features and their contributions (which sum to the score).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Explained {
    pub score: f64,
    pub features: Features,
    pub contributions: Features,
}

fn unit(x: f64) -> f64 {
    if x.is_finite() {
        x.clamp(0.0, 1.0)
    } else {
        0.5
    }
}

pub fn features(i: &Inputs) -> Features {
    let text = match i.bm25 {
        Some((s, best)) if best > 0.0 => unit(f64::from(s) / f64::from(best)),
        Some(_) => 0.0,
        None => 0.5,
    };
    let trust = unit(i.trust_score.unwrap_or(NEUTRAL_TRUST) / 100.0);
    let conversion = match i.marketplace_conversion {
        Some(p) if p > 0.0 => {
            // rate / (rate + p) with rate = (purchases + k·p) / (views + k), in one division.
            let smoothed = i.purchases as f64 + CONVERSION_PSEUDO_VIEWS * p;
            unit(smoothed / (smoothed + p * (i.views as f64 + CONVERSION_PSEUDO_VIEWS)))
        }
        _ => 0.5,
    };
    let delivery = match i.delivery_days {
        Some(d) if d >= 0.0 => unit(TYPICAL_DELIVERY_DAYS / (TYPICAL_DELIVERY_DAYS + d)),
        _ => 0.5,
    };
    let price = match i.peer_median_minor {
        Some(m) if m > 0 && i.price_minor > 0 => unit(1.0 / (1.0 + i.price_minor as f64 / m as f64)),
        _ => 0.5,
    };
    let stock = if i.available >= i.moq.max(1) { 1.0 } else { 0.0 };
    Features { text, trust, conversion, delivery, price, stock }
}

pub fn explain(f: Features, w: &Weights) -> Explained {
    let total = w.total();
    // One division per product, not one per feature: this runs for every match of a search.
    let scale = if total > 0.0 { 1.0 / total } else { 0.0 };
    let part = |weight: f64, value: f64| weight * value * scale;
    let contributions = Features {
        text: part(w.text, f.text),
        trust: part(w.trust, f.trust),
        conversion: part(w.conversion, f.conversion),
        delivery: part(w.delivery, f.delivery),
        price: part(w.price, f.price),
        stock: part(w.stock, f.stock),
    };
    let c = contributions;
    let score = c.text + c.trust + c.conversion + c.delivery + c.price + c.stock;
    Explained { score, features: f, contributions }
}

pub fn score(i: &Inputs, w: &Weights) -> f64 {
    explain(features(i), w).score
}

/// The median of some prices (the lower middle for an even count); `None` when empty.
pub fn median(prices: &mut [i64]) -> Option<i64> {
    if prices.is_empty() {
        return None;
    }
    let mid = (prices.len() - 1) / 2;
    Some(*prices.select_nth_unstable(mid).1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn base() -> Inputs {
        Inputs { bm25: Some((4.0, 8.0)), price_minor: 1000, available: 5, moq: 1, ..Default::default() }
    }

    #[test]
    fn missing_signals_are_neutral_not_zero() {
        let f = features(&Inputs { bm25: None, available: 1, moq: 1, ..Default::default() });
        assert_eq!((f.text, f.trust, f.conversion, f.delivery, f.price), (0.5, 0.5, 0.5, 0.5, 0.5));
        assert_eq!(f.stock, 1.0);
        let weights = Weights::default();
        let e = explain(f, &weights);
        let sum = e.contributions.text
            + e.contributions.trust
            + e.contributions.conversion
            + e.contributions.delivery
            + e.contributions.price
            + e.contributions.stock;
        assert!((e.score - sum).abs() < 1e-12, "contributions add up to the score");
    }

    #[test]
    fn a_trusted_seller_outranks_an_equally_relevant_untrusted_one() {
        let w = Weights::default();
        let trusted = Inputs { trust_score: Some(90.0), ..base() };
        let untrusted = Inputs { trust_score: Some(20.0), ..base() };
        assert!(score(&trusted, &w) > score(&untrusted, &w));
        assert!(score(&Inputs { trust_score: None, ..base() }, &w) > score(&untrusted, &w));
    }

    #[test]
    fn conversion_is_smoothed_towards_the_marketplace_rate() {
        let p = Some(0.02);
        let one_lucky = features(&Inputs { views: 1, purchases: 1, marketplace_conversion: p, ..base() });
        let proven = features(&Inputs { views: 10_000, purchases: 1_000, marketplace_conversion: p, ..base() });
        let average = features(&Inputs { views: 10_000, purchases: 200, marketplace_conversion: p, ..base() });
        assert!(one_lucky.conversion < proven.conversion, "one sale in one view proves little");
        assert!((average.conversion - 0.5).abs() < 1e-9, "the marketplace's own rate is neutral");
    }

    #[test]
    fn cheaper_than_peers_scores_higher_and_stock_matters() {
        let cheap = features(&Inputs { price_minor: 500, peer_median_minor: Some(1000), ..base() });
        let dear = features(&Inputs { price_minor: 2000, peer_median_minor: Some(1000), ..base() });
        assert!(cheap.price > 0.5 && dear.price < 0.5);
        assert_eq!(features(&Inputs { available: 2, moq: 3, ..base() }).stock, 0.0);
        assert_eq!(median(&mut [5, 1, 3, 9]), Some(3));
        assert_eq!(median(&mut []), None);
    }

    #[test]
    fn weights_are_validated() {
        assert!(Weights::default().validate().is_ok());
        assert!(Weights { trust: -1.0, ..Weights::default() }.validate().unwrap_err().contains("trust"));
        let zero = Weights { text: 0.0, trust: 0.0, conversion: 0.0, delivery: 0.0, price: 0.0, stock: 0.0 };
        assert!(zero.validate().is_err());
        assert!(Weights { text: f64::NAN, ..Weights::default() }.validate().is_err());
    }

    fn inputs() -> impl Strategy<Value = Inputs> {
        (
            proptest::option::of((0.0f32..50.0, 0.0f32..50.0)),
            proptest::option::of(0.0f64..=100.0),
            0u64..100_000,
            0u64..100_000,
            proptest::option::of(0.0001f64..1.0),
            proptest::option::of(0.0f64..60.0),
            1i64..10_000_000,
            proptest::option::of(1i64..10_000_000),
            (0u64..1000, 1u64..100),
        )
            .prop_map(
                |(bm25, trust_score, views, purchases, conv, delivery_days, price, peer, (available, moq))| Inputs {
                    bm25: bm25.map(|(a, b)| (a.min(b), a.max(b))),
                    trust_score,
                    views,
                    purchases,
                    marketplace_conversion: conv,
                    delivery_days,
                    price_minor: price,
                    peer_median_minor: peer,
                    available,
                    moq,
                },
            )
    }

    proptest! {
        #[test]
        fn scores_stay_in_range_and_follow_trust(i in inputs(), extra in 0.0f64..=100.0) {
            let w = Weights::default();
            let s = score(&i, &w);
            prop_assert!((0.0..=1.0).contains(&s));
            let f = features(&i);
            for v in [f.text, f.trust, f.conversion, f.delivery, f.price, f.stock] {
                prop_assert!((0.0..=1.0).contains(&v));
            }
            let base = i.trust_score.unwrap_or(NEUTRAL_TRUST);
            let more = Inputs { trust_score: Some((base + extra).min(100.0)), ..i.clone() };
            prop_assert!(score(&more, &w) >= s, "more trust never ranks lower");
            let faster = Inputs { delivery_days: Some(0.0), ..i.clone() };
            prop_assert!(score(&faster, &w) >= s, "faster delivery never ranks lower");
        }
    }
}
