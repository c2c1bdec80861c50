//! Disputes, returns and mediation. Only the buyer opens a dispute, only the seller answers it,
//! only mediators decide; the order's buyer and seller and mediators see it, nobody else. Each
//! step writes in the caller's transaction.

use crate::access::Side;
use crate::error::{Error, OrNotFound, Result};
use crate::App;
use serde::Deserialize;
use souk_domain::account::Role;
use souk_domain::chat;
use souk_domain::dispute::{self, Outcome, Reason, Step};
use souk_domain::id::{self, Kind};
use souk_domain::Invalid;
use souk_store::accounts::User;
use souk_store::disputes::{Actor, DisputeRow, Evidence};
use souk_store::Tx;

pub fn is_staff(user: &User) -> bool {
    user.has(Role::Mediator) || user.has(Role::Admin)
}

/// The dispute and who the caller is to it; not found for anyone who may not see it.
pub async fn dispute_for(app: &App, user: &User, id: &str) -> Result<(DisputeRow, Actor)> {
    if !id::is_valid(Kind::Dispute, id) {
        return Err(Error::not_found("dispute"));
    }
    let row = app.store.dispute(id).await.or_not_found("dispute")?;
    let actor = if user.id == row.view.buyer_id {
        Actor::Buyer(user.id.clone())
    } else if user.id == row.seller_id {
        Actor::Seller(user.id.clone())
    } else if is_staff(user) {
        Actor::Mediator(user.id.clone())
    } else {
        return Err(Error::not_found("dispute"));
    };
    Ok((row, actor))
}

#[derive(Deserialize, utoipa::ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct EvidenceInput {
    #[serde(default)]
    pub text: String,
    /// Up to 4 http(s) image URLs.
    #[serde(default)]
    pub images: Vec<String>,
}

pub fn evidence(input: Option<EvidenceInput>, field: &str) -> Result<Evidence> {
    let Some(e) = input else { return Ok(Evidence::default()) };
    if e.text.trim().is_empty() && e.images.is_empty() {
        return Ok(Evidence::default());
    }
    let checked = chat::message(&e.text, &e.images).map_err(|i| i.within(field))?;
    Ok(Evidence { text: checked.text, images: checked.images })
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DisputeInput {
    /// not_received, not_as_described, damaged, wrong_item or other.
    pub reason: String,
    /// What went wrong, up to 4,000 characters.
    pub description: String,
    pub evidence: Option<EvidenceInput>,
}

/// A dispute as the buyer opens it, checked before anything about the order.
pub struct Opening {
    reason: Reason,
    description: String,
    evidence: Evidence,
}

impl Opening {
    pub fn check(reason: &str, description: &str, evidence: Option<EvidenceInput>) -> Result<Opening> {
        let (reason, description) = dispute::opening(reason, description)?;
        Ok(Opening { reason, description, evidence: self::evidence(evidence, "evidence")? })
    }
}

/// The buyer disputes a paid, shipped or delivered order: its money stays in escrow and its
/// deadlines stop until the dispute ends.
pub async fn open(app: &App, tx: &mut Tx, side: Side, order_id: &str, opening: &Opening) -> Result<DisputeRow> {
    if side != Side::Buyer {
        return Err(Error::forbidden("only the order's buyer opens a dispute"));
    }
    let Opening { reason, description, evidence } = opening;
    Ok(tx.open_dispute(order_id, *reason, description, evidence, &app.config.policy).await?)
}

/// The seller's answer: `refund` (in full), `partial_refund` (of `amount` minor units),
/// `return` (the buyer sends it back, then the refund follows) or `reject`, which says why.
pub fn answer(action: &str, amount: Option<i64>, evidence: &Evidence) -> Result<Step> {
    let step = match (action, amount) {
        ("refund", _) => Step::SellerRefunds,
        ("partial_refund", Some(amount)) => Step::SellerOffersPartial(amount),
        ("partial_refund", None) => return Err(Invalid::new("required", "amount", "the partial refund").into()),
        ("return", _) => Step::SellerRequestsReturn,
        ("reject", _) => Step::SellerRejects,
        _ => return Err(Invalid::new("invalid", "action", "refund, partial_refund, return or reject").into()),
    };
    if step == Step::SellerRejects && evidence.text.is_empty() && evidence.images.is_empty() {
        return Err(Invalid::new("required", "evidence", "a rejection says why, with evidence").into());
    }
    Ok(step)
}

/// A mediator's decision: `refund`, `partial_refund` (of `amount` minor units) or `release`.
pub fn outcome(outcome: &str, amount: Option<i64>) -> Result<Outcome> {
    Ok(match (outcome, amount) {
        ("refund", _) => Outcome::Refund,
        ("release", _) => Outcome::Release,
        ("partial_refund", Some(amount)) => Outcome::PartialRefund(amount),
        ("partial_refund", None) => return Err(Invalid::new("required", "amount", "the partial refund").into()),
        _ => return Err(Invalid::new("invalid", "outcome", "refund, partial_refund or release").into()),
    })
}

/// Who takes a step, and what anyone else is told.
fn refused(step: Step, actor: &Actor) -> Option<&'static str> {
    let (allowed, why) = match step {
        Step::SellerRefunds | Step::SellerOffersPartial(_) | Step::SellerRequestsReturn | Step::SellerRejects => {
            (matches!(actor, Actor::Seller(_)), "only the seller answers a dispute")
        }
        Step::SellerReceivedReturn => (matches!(actor, Actor::Seller(_)), "only the seller confirms the return"),
        Step::BuyerShipsReturn => (matches!(actor, Actor::Buyer(_)), "only the buyer ships the return"),
        Step::Decide(_) => (matches!(actor, Actor::Mediator(_)), "only mediators decide disputes"),
        Step::BuyerAccepts | Step::BuyerEscalates => (matches!(actor, Actor::Buyer(_)), "only the buyer does this"),
        // Deadlines and carriers take these, never a person.
        _ => (false, "this step is taken by Souk itself"),
    };
    (!allowed).then_some(why)
}

/// Takes `step` for `actor` (from [`dispute_for`]), with what they put on record.
pub async fn take_step(
    app: &App,
    tx: &mut Tx,
    id: &str,
    step: Step,
    actor: &Actor,
    evidence: &Evidence,
    return_tracking: Option<(&str, &str)>,
) -> Result<DisputeRow> {
    if let Some(why) = refused(step, actor) {
        return Err(Error::forbidden(why));
    }
    Ok(tx.dispute_step(id, step, actor, evidence, return_tracking, &app.config.policy).await?)
}

/// A return the buyer ships back: the carrier and tracking number as the rules read them, and
/// the note put on record with the step.
pub fn return_parcel(carrier: &str, tracking_number: &str) -> Result<(String, String, Evidence)> {
    let carrier = souk_domain::shipping::normalize_carrier(carrier)?;
    let tracking = souk_domain::shipping::tracking_number(&carrier, tracking_number)?;
    let note = Evidence { text: format!("returned with {carrier}, tracking {tracking}"), images: Vec::new() };
    Ok((carrier, tracking, note))
}

/// More evidence, as put on record after the dispute opened: some text or images, checked as a
/// chat message is.
pub fn more_evidence(input: &EvidenceInput) -> Result<Evidence> {
    let e = chat::message(&input.text, &input.images)?;
    Ok(Evidence { text: e.text, images: e.images })
}

/// Either party, or a mediator, puts more on record while the dispute is open.
pub async fn add_evidence(tx: &mut Tx, id: &str, actor: &Actor, evidence: &Evidence) -> Result<DisputeRow> {
    tx.add_dispute_evidence(id, actor, evidence).await?;
    Ok(tx.dispute(id).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_step_is_taken_by_one_party_only() {
        let (buyer, seller, mediator) =
            (Actor::Buyer("b".into()), Actor::Seller("s".into()), Actor::Mediator("m".into()));
        let cases = [
            (Step::SellerRefunds, 1),
            (Step::SellerOffersPartial(5), 1),
            (Step::SellerRequestsReturn, 1),
            (Step::SellerRejects, 1),
            (Step::SellerReceivedReturn, 1),
            (Step::BuyerAccepts, 0),
            (Step::BuyerEscalates, 0),
            (Step::BuyerShipsReturn, 0),
            (Step::Decide(Outcome::Refund), 2),
        ];
        for (step, who) in cases {
            for (i, actor) in [&buyer, &seller, &mediator].into_iter().enumerate() {
                assert_eq!(refused(step, actor).is_none(), i == who, "{step:?} by {actor:?}");
            }
        }
        for actor in [&buyer, &seller, &mediator] {
            assert!(refused(Step::ResponseExpired, actor).is_some(), "deadlines are Souk's");
        }
    }

    #[test]
    fn a_rejection_needs_evidence_and_a_partial_refund_an_amount() {
        let none = Evidence::default();
        let said = Evidence { text: "it was as described".into(), images: Vec::new() };
        assert_eq!(answer("reject", None, &none).unwrap_err().field.as_deref(), Some("evidence"));
        assert_eq!(answer("reject", None, &said).unwrap(), Step::SellerRejects);
        assert_eq!(answer("partial_refund", None, &none).unwrap_err().field.as_deref(), Some("amount"));
        assert_eq!(answer("partial_refund", Some(300), &none).unwrap(), Step::SellerOffersPartial(300));
        assert_eq!(answer("shrug", None, &said).unwrap_err().field.as_deref(), Some("action"));
        assert_eq!(outcome("partial_refund", None).unwrap_err().field.as_deref(), Some("amount"));
        assert_eq!(outcome("release", Some(1)).unwrap(), Outcome::Release);
    }
}
