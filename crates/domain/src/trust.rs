//! The seller trust score: 0 to 100, the weighted mean of components in 0..=1 where 0.5 is
//! the neutral prior. A seller Souk knows nothing about scores exactly 50; every component
//! starts at 0.5 and moves only with evidence, and the rates are Bayesian-smoothed so that a
//! handful of orders cannot swing them.
//!
//! ```text
//! score = 100 · Σ weightᵢ · componentᵢ / Σ weightᵢ
//!
//! volume        0.5 + 0.5 · min(1, ln(1 + completed) / ln(1 + 1000))
//! rating        (s̄ − 1) / 4, s̄ = (Σ stars + 5 · 3) / (reviews + 5)        overall stars, 1..=5
//! detailed      the same for item-as-described, communication and shipping speed, averaged
//! on_time       (on time + 5 · 0.5) / (shipped + 5)      shipped within the ship-by policy
//! delivery      D / (D + d̄), D = 5, d̄ = (Σ days + 5 · D) / (delivered + 5)  shipping → delivery
//! disputes      r₀ / (r₀ + r), r = (disputes lost + 5 · r₀) / (completed + 5), r₀ = 2 %
//! refunds       the same with refunds
//! response      R / (R + median hours to the first reply), R = 4       (0.5 without chats)
//! verification  none 0.5, email 0.75, identity 1
//! tenure        0.5 + 0.5 · min(1, days since opening / 365)
//! ```
//!
//! Volume, verification and tenure only ever add to the neutral 0.5: being new is not a fault.
//! A lost dispute is one that gave the buyer money back (a refund, in full or in part); a
//! dispute the seller won counts as a completed order.

use crate::time::DAY_MS;
use serde::{Deserialize, Serialize};

/// Pseudo-observations of every smoothed rate.
pub const PSEUDO: f64 = 5.0;
/// Star rating that is neutral (the middle of 1..=5).
pub const NEUTRAL_STARS: f64 = 3.0;
/// Completed orders at which volume is full.
pub const FULL_VOLUME: f64 = 1000.0;
/// Delivery days that score 0.5.
pub const TYPICAL_DELIVERY_DAYS: f64 = 5.0;
/// First-reply hours that score 0.5.
pub const TYPICAL_RESPONSE_HOURS: f64 = 4.0;
/// Days of tenure at which tenure is full.
pub const FULL_TENURE_DAYS: f64 = 365.0;
/// The dispute and refund rates that are neutral: a seller at the marketplace norm.
pub const NORMAL_PROBLEM_RATE: f64 = 0.02;

/// What the score is computed from; counts since the store opened.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TrustInputs {
    pub completed_orders: u64,
    pub reviews: u64,
    /// Sums of stars (1..=5) over all reviews.
    pub stars_sum: u64,
    pub described_sum: u64,
    pub communication_sum: u64,
    pub shipping_sum: u64,
    pub shipped_orders: u64,
    /// Shipped within the ship-by policy.
    pub shipped_on_time: u64,
    pub delivered_orders: u64,
    /// Sum over delivered orders of the time from shipping to delivery.
    pub delivery_ms_sum: u64,
    pub disputes_lost: u64,
    pub refunds: u64,
    /// Median time from a buyer's first unanswered message to the seller's reply, once known.
    pub response_ms_median: Option<u64>,
    /// none, email or identity.
    pub verification: String,
    pub tenure_ms: i64,
}

impl TrustInputs {
    /// Mean days from shipping to delivery, once anything was delivered.
    pub fn delivery_days(&self) -> Option<f64> {
        (self.delivered_orders > 0).then(|| self.delivery_ms_sum as f64 / self.delivered_orders as f64 / DAY_MS as f64)
    }
}

/// How much each component counts. Only the ratios matter.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrustWeights {
    pub volume: f64,
    pub rating: f64,
    pub detailed: f64,
    pub on_time: f64,
    pub delivery: f64,
    pub disputes: f64,
    pub refunds: f64,
    pub response: f64,
    pub verification: f64,
    pub tenure: f64,
}

impl Default for TrustWeights {
    fn default() -> Self {
        TrustWeights {
            volume: 0.15,
            rating: 0.25,
            detailed: 0.15,
            on_time: 0.15,
            delivery: 0.10,
            disputes: 0.10,
            refunds: 0.05,
            response: 0.05,
            verification: 0.10,
            tenure: 0.05,
        }
    }
}

impl TrustWeights {
    fn each(&self) -> [(&'static str, f64); 10] {
        [
            ("volume", self.volume),
            ("rating", self.rating),
            ("detailed", self.detailed),
            ("on_time", self.on_time),
            ("delivery", self.delivery),
            ("disputes", self.disputes),
            ("refunds", self.refunds),
            ("response", self.response),
            ("verification", self.verification),
            ("tenure", self.tenure),
        ]
    }

    /// Weights must be finite, non-negative and not all zero.
    pub fn validate(&self) -> Result<(), String> {
        crate::ranking::validate_weights("trust", &self.each())
    }
}

/// One component of the score.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Component {
    pub name: &'static str,
    /// 0 to 1; 0.5 is neutral.
    pub value: f64,
    pub weight: f64,
    /// Points of the 0..=100 score this component gives.
    pub points: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TrustScore {
    /// 0 to 100, rounded to one decimal.
    pub score: f64,
    pub components: Vec<Component>,
}

fn smoothed(hits: f64, n: f64, prior: f64) -> f64 {
    (hits + PSEUDO * prior) / (n + PSEUDO)
}

fn stars(sum: u64, n: u64) -> f64 {
    (smoothed(sum as f64, n as f64, NEUTRAL_STARS) - 1.0) / 4.0
}

/// 0.5 at the marketplace's normal rate, falling towards 0 as problems become common and rising
/// towards 1 as they become rare.
fn problem_component(problems: u64, orders: u64) -> f64 {
    let rate = smoothed(problems as f64, orders as f64, NORMAL_PROBLEM_RATE);
    NORMAL_PROBLEM_RATE / (NORMAL_PROBLEM_RATE + rate)
}

/// The components' values in 0..=1, by name.
pub fn components(i: &TrustInputs) -> [(&'static str, f64); 10] {
    let volume = 0.5 + 0.5 * ((1.0 + i.completed_orders as f64).ln() / (1.0 + FULL_VOLUME).ln()).min(1.0);
    let detailed =
        (stars(i.described_sum, i.reviews) + stars(i.communication_sum, i.reviews) + stars(i.shipping_sum, i.reviews))
            / 3.0;
    let delivery_days =
        smoothed(i.delivery_ms_sum as f64 / DAY_MS as f64, i.delivered_orders as f64, TYPICAL_DELIVERY_DAYS);
    let response = match i.response_ms_median {
        Some(ms) => {
            let hours = ms as f64 / 3_600_000.0;
            TYPICAL_RESPONSE_HOURS / (TYPICAL_RESPONSE_HOURS + hours)
        }
        None => 0.5,
    };
    let verification = match i.verification.as_str() {
        "identity" => 1.0,
        "email" => 0.75,
        _ => 0.5,
    };
    let tenure_days = i.tenure_ms.max(0) as f64 / DAY_MS as f64;
    [
        ("volume", volume),
        ("rating", stars(i.stars_sum, i.reviews)),
        ("detailed", detailed),
        ("on_time", smoothed(i.shipped_on_time as f64, i.shipped_orders as f64, 0.5)),
        ("delivery", TYPICAL_DELIVERY_DAYS / (TYPICAL_DELIVERY_DAYS + delivery_days)),
        ("disputes", problem_component(i.disputes_lost, i.completed_orders)),
        ("refunds", problem_component(i.refunds, i.completed_orders)),
        ("response", response),
        ("verification", verification),
        ("tenure", 0.5 + 0.5 * (tenure_days / FULL_TENURE_DAYS).min(1.0)),
    ]
    .map(|(name, v)| (name, if v.is_finite() { v.clamp(0.0, 1.0) } else { 0.5 }))
}

pub fn score(i: &TrustInputs, w: &TrustWeights) -> TrustScore {
    let weights = w.each();
    let total: f64 = weights.iter().map(|(_, w)| w).sum();
    let scale = if total > 0.0 { 100.0 / total } else { 0.0 };
    let components: Vec<Component> = components(i)
        .into_iter()
        .zip(weights)
        .map(|((name, value), (_, weight))| Component { name, value, weight, points: weight * value * scale })
        .collect();
    let raw: f64 = components.iter().map(|c| c.points).sum();
    TrustScore { score: (raw * 10.0).round() / 10.0, components }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn new_seller() -> TrustInputs {
        TrustInputs { verification: "none".into(), ..Default::default() }
    }

    #[test]
    fn a_new_seller_starts_neutral() {
        let s = score(&new_seller(), &TrustWeights::default());
        assert_eq!(s.score, 50.0);
        assert!(s.components.iter().all(|c| c.value == 0.5), "{:?}", s.components);
        let points: f64 = s.components.iter().map(|c| c.points).sum();
        assert!((points - 50.0).abs() < 1e-9);
    }

    #[test]
    fn a_proven_seller_scores_high_and_a_poor_one_low() {
        let w = TrustWeights::default();
        let good = TrustInputs {
            completed_orders: 500,
            reviews: 300,
            stars_sum: 300 * 5,
            described_sum: 300 * 5,
            communication_sum: 290 * 5 + 10 * 4,
            shipping_sum: 300 * 5,
            shipped_orders: 520,
            shipped_on_time: 515,
            delivered_orders: 500,
            delivery_ms_sum: 500 * 2 * DAY_MS as u64,
            verification: "identity".into(),
            tenure_ms: 400 * DAY_MS,
            ..Default::default()
        };
        let poor = TrustInputs {
            completed_orders: 40,
            reviews: 30,
            stars_sum: 30 * 2,
            described_sum: 30,
            communication_sum: 30 * 2,
            shipping_sum: 30,
            shipped_orders: 50,
            shipped_on_time: 20,
            delivered_orders: 40,
            delivery_ms_sum: 40 * 15 * DAY_MS as u64,
            disputes_lost: 6,
            refunds: 8,
            verification: "none".into(),
            ..Default::default()
        };
        assert!(score(&good, &w).score > 85.0, "{:?}", score(&good, &w));
        assert!(score(&poor, &w).score < 40.0, "{:?}", score(&poor, &w));
        assert_eq!(good.delivery_days(), Some(2.0));
    }

    #[test]
    fn one_review_cannot_swing_the_rating() {
        let one_star = TrustInputs { reviews: 1, stars_sum: 1, ..new_seller() };
        let rating = components(&one_star)[1].1;
        assert!(rating > 0.35, "one 1-star review moves the rating a little: {rating}");
    }

    #[test]
    fn weights_must_be_sane() {
        assert!(TrustWeights::default().validate().is_ok());
        assert!(TrustWeights { rating: -1.0, ..Default::default() }.validate().is_err());
        let zero = TrustWeights {
            volume: 0.0,
            rating: 0.0,
            detailed: 0.0,
            on_time: 0.0,
            delivery: 0.0,
            disputes: 0.0,
            refunds: 0.0,
            response: 0.0,
            verification: 0.0,
            tenure: 0.0,
        };
        assert!(zero.validate().is_err());
    }

    fn inputs() -> impl Strategy<Value = TrustInputs> {
        (0u64..5000, 0u64..3000, 0u64..5000, 0u64..5000, 0u64..500, 0u64..200, 0i64..(3 * 365 * DAY_MS))
            .prop_flat_map(|(completed, reviews, shipped, delivered, lost, refunds, tenure)| {
                (
                    Just((completed, reviews, shipped, delivered, lost, refunds, tenure)),
                    reviews..=reviews * 5,
                    reviews..=reviews * 5,
                    0..=shipped,
                    0..=delivered * 30 * DAY_MS as u64,
                    prop::sample::select(vec!["none", "email", "identity"]),
                )
            })
            .prop_map(
                |((completed, reviews, shipped, delivered, lost, refunds, tenure), stars, detail, on_time, ms, v)| {
                    TrustInputs {
                        completed_orders: completed,
                        reviews,
                        stars_sum: stars,
                        described_sum: detail,
                        communication_sum: detail,
                        shipping_sum: detail,
                        shipped_orders: shipped,
                        shipped_on_time: on_time,
                        delivered_orders: delivered,
                        delivery_ms_sum: ms,
                        disputes_lost: lost,
                        refunds,
                        response_ms_median: None,
                        verification: v.into(),
                        tenure_ms: tenure,
                    }
                },
            )
    }

    fn raw(i: &TrustInputs, w: &TrustWeights) -> f64 {
        score(i, w).components.iter().map(|c| c.points).sum()
    }

    proptest! {
        #[test]
        fn the_score_stays_in_range(i in inputs()) {
            let s = score(&i, &TrustWeights::default());
            prop_assert!((0.0..=100.0).contains(&s.score));
            prop_assert!(s.components.iter().all(|c| (0.0..=1.0).contains(&c.value)));
        }

        #[test]
        fn more_on_time_completed_orders_never_lower_it(i in inputs()) {
            let w = TrustWeights::default();
            let more = TrustInputs {
                completed_orders: i.completed_orders + 1,
                shipped_orders: i.shipped_orders + 1,
                shipped_on_time: i.shipped_on_time + 1,
                ..i.clone()
            };
            prop_assert!(raw(&more, &w) >= raw(&i, &w) - 1e-9);
        }

        #[test]
        fn a_lost_dispute_never_raises_it(i in inputs(), disputes_weight in 0.0f64..1.0) {
            let w = TrustWeights { disputes: disputes_weight, ..Default::default() };
            let lost = TrustInputs { disputes_lost: i.disputes_lost + 1, ..i.clone() };
            prop_assert!(raw(&lost, &w) <= raw(&i, &w) + 1e-9);
        }

        #[test]
        fn a_better_review_never_lowers_it(i in inputs(), stars in 1u64..=4) {
            let w = TrustWeights::default();
            let worse = TrustInputs { reviews: i.reviews + 1, stars_sum: i.stars_sum + stars, ..i.clone() };
            let better = TrustInputs { stars_sum: worse.stars_sum + 1, ..worse.clone() };
            prop_assert!(raw(&better, &w) >= raw(&worse, &w));
        }
    }
}
