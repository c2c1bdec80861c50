//! Disputes: while one is open the order's money stays in escrow; it ends in exactly one
//! outcome (a full refund, a partial refund, or release to the seller), settled in one ledger
//! transaction.
//!
//! ```text
//! awaiting_seller ─ seller refunds ──────────────────────────────▶ resolved (refund)
//!   │  ├─ seller offers a partial refund ─▶ refund_offered ─ buyer accepts ─▶ resolved (partial)
//!   │  ├─ seller asks for a return ─▶ return_requested ─ buyer ships ─▶ return_shipped
//!   │  │        seller confirms receipt, or the carrier delivers it back ──▶ resolved (refund)
//!   │  ├─ seller rejects ─▶ rejected
//!   │  └─ no answer by the response deadline ────────────────────▶ resolved (refund)
//!   └─ the buyer escalates (from the escalation day), or the dispute is still open on the
//!      auto-escalation day ─▶ mediation ─ a mediator decides ─▶ resolved (any outcome)
//! ```
//!
//! Automatic rules before a person: `not_received` with no carrier event by 7 days after
//! shipping is refunded; `not_received` for a parcel the carrier reports delivered goes straight
//! to mediation.

use crate::ledger::{Account, Posting, TransferKind};
use crate::money::Money;
use crate::order::{DeadlineKind, Decision, Order, OrderState, Policy, Refusal};
use crate::Invalid;

/// The longest a written statement in a dispute may be: the buyer's description, a
/// mediator's reason.
pub const MAX_STATEMENT_CHARS: usize = 4000;

/// A dispute as the buyer opens it: a reason from [`Reason::ALL`] and a description.
pub fn opening(reason: &str, description: &str) -> Result<(Reason, String), Invalid> {
    let reason = Reason::parse(reason).ok_or_else(|| {
        Invalid::new("invalid", "reason", "not_received, not_as_described, damaged, wrong_item or other")
    })?;
    Ok((reason, crate::text::trimmed_between(description, "description", 1, MAX_STATEMENT_CHARS)?))
}

/// A mediator's written reason for a decision.
pub fn decision_reason(reason: &str) -> Result<String, Invalid> {
    crate::text::trimmed_between(reason, "reason", 1, MAX_STATEMENT_CHARS).map_err(|_| {
        Invalid::new("required", "reason", format!("a written reason, up to {MAX_STATEMENT_CHARS} characters"))
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    NotReceived,
    NotAsDescribed,
    Damaged,
    WrongItem,
    Other,
}

impl Reason {
    pub const ALL: [Reason; 5] =
        [Reason::NotReceived, Reason::NotAsDescribed, Reason::Damaged, Reason::WrongItem, Reason::Other];

    pub fn as_str(self) -> &'static str {
        match self {
            Reason::NotReceived => "not_received",
            Reason::NotAsDescribed => "not_as_described",
            Reason::Damaged => "damaged",
            Reason::WrongItem => "wrong_item",
            Reason::Other => "other",
        }
    }

    pub fn parse(s: &str) -> Option<Reason> {
        Self::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    AwaitingSeller,
    RefundOffered,
    ReturnRequested,
    ReturnShipped,
    Rejected,
    Mediation,
    Resolved,
}

impl State {
    pub const ALL: [State; 7] = [
        State::AwaitingSeller,
        State::RefundOffered,
        State::ReturnRequested,
        State::ReturnShipped,
        State::Rejected,
        State::Mediation,
        State::Resolved,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            State::AwaitingSeller => "awaiting_seller",
            State::RefundOffered => "refund_offered",
            State::ReturnRequested => "return_requested",
            State::ReturnShipped => "return_shipped",
            State::Rejected => "rejected",
            State::Mediation => "mediation",
            State::Resolved => "resolved",
        }
    }

    pub fn parse(s: &str) -> Option<State> {
        Self::ALL.into_iter().find(|x| x.as_str() == s)
    }
}

/// How a dispute ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Everything back to the buyer.
    Refund,
    /// This many minor units back to the buyer; the rest to the seller, less commission on it.
    PartialRefund(i64),
    /// Everything to the seller, less commission, as if the buyer had confirmed.
    Release,
}

impl Outcome {
    pub fn name(self) -> &'static str {
        match self {
            Outcome::Refund => "refund",
            Outcome::PartialRefund(_) => "partial_refund",
            Outcome::Release => "release",
        }
    }

    /// Minor units returned to the buyer of an order of `total`.
    pub fn refund_of(self, total: i64) -> i64 {
        match self {
            Outcome::Refund => total,
            Outcome::PartialRefund(r) => r,
            Outcome::Release => 0,
        }
    }

    /// Whether the seller lost: the buyer got money back.
    pub fn seller_lost(self) -> bool {
        !matches!(self, Outcome::Release)
    }
}

/// What happens to a dispute; who may make each step happen is the caller's check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    SellerRefunds,
    SellerOffersPartial(i64),
    SellerRequestsReturn,
    SellerRejects,
    BuyerAccepts,
    BuyerEscalates,
    BuyerShipsReturn,
    SellerReceivedReturn,
    /// The carrier reports the return delivered to the seller.
    ReturnDelivered,
    ResponseExpired,
    EscalationDue,
    /// Seven days after shipping: whether the carrier has reported anything since.
    NoTrackingDue {
        carrier_events: bool,
    },
    Decide(Outcome),
}

/// A dispute as the rules read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dispute {
    pub state: State,
    pub reason: Reason,
    pub opened_at_ms: i64,
    /// The order's total, in minor units.
    pub total: i64,
    /// The partial refund the seller offered, while `RefundOffered`.
    pub offered: Option<i64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    Moves(State),
    Resolves(Outcome),
    /// The step changes nothing (an automatic rule whose condition no longer holds).
    Stays,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DisputeRefusal {
    /// The step is not possible in the dispute's state.
    InvalidState(State),
    /// The buyer may escalate only from the escalation day on.
    TooEarly { allowed_from_ms: i64 },
    /// A partial refund is more than nothing and less than everything.
    BadAmount,
}

/// Decides `step` on `d` at `now_ms`.
pub fn step(d: &Dispute, s: Step, now_ms: i64, policy: &Policy) -> Result<Next, DisputeRefusal> {
    use State::*;
    let refuse = Err(DisputeRefusal::InvalidState(d.state));
    if d.state == Resolved {
        return refuse;
    }
    Ok(match (d.state, s) {
        (AwaitingSeller, Step::SellerRefunds) => Next::Resolves(Outcome::Refund),
        (AwaitingSeller, Step::SellerOffersPartial(amount)) => {
            if amount <= 0 || amount >= d.total {
                return Err(DisputeRefusal::BadAmount);
            }
            Next::Moves(RefundOffered)
        }
        (AwaitingSeller, Step::SellerRequestsReturn) => Next::Moves(ReturnRequested),
        (AwaitingSeller, Step::SellerRejects) => Next::Moves(Rejected),
        (AwaitingSeller, Step::ResponseExpired) => Next::Resolves(Outcome::Refund),
        (_, Step::ResponseExpired) => Next::Stays,
        (RefundOffered, Step::BuyerAccepts) => match d.offered {
            Some(amount) => Next::Resolves(Outcome::PartialRefund(amount)),
            None => return refuse,
        },
        (ReturnRequested, Step::BuyerShipsReturn) => Next::Moves(ReturnShipped),
        (ReturnShipped, Step::SellerReceivedReturn | Step::ReturnDelivered) => Next::Resolves(Outcome::Refund),
        (AwaitingSeller | RefundOffered | ReturnRequested | ReturnShipped | Rejected, Step::BuyerEscalates) => {
            let allowed_from_ms = d.opened_at_ms + policy.dispute_buyer_escalation_ms;
            if now_ms < allowed_from_ms {
                return Err(DisputeRefusal::TooEarly { allowed_from_ms });
            }
            Next::Moves(Mediation)
        }
        (Mediation, Step::EscalationDue) => Next::Stays,
        (_, Step::EscalationDue) => Next::Moves(Mediation),
        (_, Step::NoTrackingDue { carrier_events }) => {
            if d.reason == Reason::NotReceived && !carrier_events && d.state != Mediation {
                Next::Resolves(Outcome::Refund)
            } else {
                Next::Stays
            }
        }
        (Mediation, Step::Decide(outcome)) => {
            if let Outcome::PartialRefund(amount) = outcome {
                if amount <= 0 || amount >= d.total {
                    return Err(DisputeRefusal::BadAmount);
                }
            }
            Next::Resolves(outcome)
        }
        _ => return refuse,
    })
}

/// What the shipment says when a dispute opens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shipment {
    pub shipped_at_ms: Option<i64>,
    /// Whether the carrier has reported any event.
    pub carrier_events: bool,
    /// Whether the carrier reported the parcel delivered.
    pub delivered: bool,
}

/// How a new dispute starts: its first state (or an immediate outcome), and its deadlines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opening {
    pub next: Next,
    pub deadlines: Vec<(DeadlineKind, i64)>,
}

/// Opens a dispute for `reason` at `now_ms`, applying the automatic rules.
pub fn open(reason: Reason, shipment: Shipment, now_ms: i64, policy: &Policy) -> Opening {
    let mut deadlines = vec![
        (DeadlineKind::DisputeResponse, now_ms + policy.dispute_response_ms),
        (DeadlineKind::DisputeEscalation, now_ms + policy.dispute_auto_escalation_ms),
    ];
    let next = match (reason, shipment.shipped_at_ms) {
        (Reason::NotReceived, Some(_)) if shipment.delivered => Next::Moves(State::Mediation),
        (Reason::NotReceived, Some(shipped)) if !shipment.carrier_events => {
            let check_at = shipped + policy.dispute_no_tracking_ms;
            if now_ms >= check_at {
                Next::Resolves(Outcome::Refund)
            } else {
                deadlines.push((DeadlineKind::DisputeNoTracking, check_at));
                Next::Moves(State::AwaitingSeller)
            }
        }
        _ => Next::Moves(State::AwaitingSeller),
    };
    if !matches!(next, Next::Moves(State::AwaitingSeller)) {
        deadlines.clear();
    }
    Opening { next, deadlines }
}

/// The settlement of a disputed order: one set of postings that empties its escrow exactly.
/// The buyer gets the refund; the seller the rest less commission, which is charged only on
/// what the seller receives (the order's commission scaled down, rounded down), so no minor
/// unit is lost.
pub fn settle(order: &Order, outcome: Outcome) -> Result<Decision, Refusal> {
    if order.state != OrderState::Disputed {
        return Err(Refusal::InvalidState(order.state));
    }
    let total = order.total().amount;
    let refund = outcome.refund_of(total);
    if !(0..=total).contains(&refund) {
        return Err(Refusal::Overflow);
    }
    let to_seller_gross = total - refund;
    let commission = (order.commission() as i128 * to_seller_gross as i128 / total.max(1) as i128) as i64;
    let escrow = Account::Escrow { order_id: order.id.clone(), currency: order.currency };
    let mut postings = Vec::new();
    let mut post = |to: Account, amount: i64, kind: TransferKind| {
        if amount > 0 {
            postings.push(Posting { from: escrow.clone(), to, amount: Money::new(amount, order.currency), kind });
        }
    };
    let wallet = |user: &str| Account::Wallet { user_id: user.to_string(), currency: order.currency };
    post(wallet(&order.buyer_id), refund, TransferKind::Refund);
    post(wallet(&order.seller_id), to_seller_gross - commission, TransferKind::Release);
    post(Account::Revenue { currency: order.currency }, commission, TransferKind::Commission);
    let (state, event) = match outcome {
        Outcome::Refund => (OrderState::Refunded, "order.refunded"),
        Outcome::PartialRefund(_) => (OrderState::Completed, "order.partially_refunded"),
        Outcome::Release => (OrderState::Completed, "order.completed"),
    };
    Ok(Decision {
        state,
        postings,
        stock: Vec::new(),
        events: vec![event],
        cancel_deadlines: vec![
            DeadlineKind::DisputeResponse,
            DeadlineKind::DisputeEscalation,
            DeadlineKind::DisputeNoTracking,
        ],
        deadlines: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::Balances;
    use crate::order::Line;

    #[test]
    fn a_dispute_opens_with_a_known_reason_and_a_description_of_bounded_length() {
        let (reason, text) = opening("damaged", "  The lid is cracked ").unwrap();
        assert_eq!((reason, text.as_str()), (Reason::Damaged, "The lid is cracked"));
        assert_eq!(opening("broken", "x").unwrap_err().field.as_deref(), Some("reason"));
        assert_eq!(opening("other", "   ").unwrap_err().code, "invalid_length");
        assert!(opening("other", &"裂".repeat(MAX_STATEMENT_CHARS)).is_ok(), "characters, not bytes");
        assert_eq!(opening("other", &"x".repeat(MAX_STATEMENT_CHARS + 1)).unwrap_err().code, "invalid_length");
        assert_eq!(decision_reason(" ").unwrap_err().code, "required");
        assert_eq!(decision_reason(" Photos show it ").unwrap(), "Photos show it");
    }
    use crate::time::DAY_MS;
    use crate::Currency;
    use proptest::prelude::*;

    const T0: i64 = 100 * DAY_MS;

    fn dispute(state: State) -> Dispute {
        Dispute { state, reason: Reason::Damaged, opened_at_ms: T0, total: 1000, offered: Some(300) }
    }

    fn order(amounts: &[(i64, i64, i64)]) -> Order {
        let usd = Currency::from_code("USD").unwrap();
        Order {
            id: "ord_1".into(),
            buyer_id: "usr_b".into(),
            seller_id: "usr_s".into(),
            currency: usd,
            lines: amounts
                .iter()
                .enumerate()
                .map(|(i, (price, qty, bps))| Line {
                    sku_id: format!("sku_{i}"),
                    quantity: *qty,
                    unit_price: Money::new(*price, usd),
                    commission_bps: *bps,
                })
                .collect(),
            state: OrderState::Disputed,
            confirmation_extended: false,
            confirm_by_ms: None,
            shipped_at_ms: Some(0),
        }
    }

    #[test]
    fn the_seller_answers_within_the_response_window() {
        let p = Policy::default();
        let d = dispute(State::AwaitingSeller);
        assert_eq!(step(&d, Step::SellerRefunds, T0, &p), Ok(Next::Resolves(Outcome::Refund)));
        assert_eq!(step(&d, Step::SellerOffersPartial(300), T0, &p), Ok(Next::Moves(State::RefundOffered)));
        assert_eq!(step(&d, Step::SellerOffersPartial(1000), T0, &p), Err(DisputeRefusal::BadAmount));
        assert_eq!(step(&d, Step::SellerOffersPartial(0), T0, &p), Err(DisputeRefusal::BadAmount));
        assert_eq!(step(&d, Step::SellerRequestsReturn, T0, &p), Ok(Next::Moves(State::ReturnRequested)));
        assert_eq!(step(&d, Step::SellerRejects, T0, &p), Ok(Next::Moves(State::Rejected)));
        assert_eq!(step(&d, Step::ResponseExpired, T0, &p), Ok(Next::Resolves(Outcome::Refund)), "silence refunds");
        assert_eq!(step(&dispute(State::Rejected), Step::ResponseExpired, T0, &p), Ok(Next::Stays));
        assert!(step(&dispute(State::Rejected), Step::SellerRefunds, T0, &p).is_err(), "one answer");
    }

    #[test]
    fn the_buyer_accepts_or_escalates_from_day_four() {
        let p = Policy::default();
        let offered = dispute(State::RefundOffered);
        assert_eq!(step(&offered, Step::BuyerAccepts, T0, &p), Ok(Next::Resolves(Outcome::PartialRefund(300))));
        let early = step(&offered, Step::BuyerEscalates, T0 + 2 * DAY_MS, &p);
        assert_eq!(early, Err(DisputeRefusal::TooEarly { allowed_from_ms: T0 + 3 * DAY_MS }));
        assert_eq!(step(&offered, Step::BuyerEscalates, T0 + 3 * DAY_MS, &p), Ok(Next::Moves(State::Mediation)));
        assert_eq!(step(&dispute(State::Rejected), Step::EscalationDue, T0, &p), Ok(Next::Moves(State::Mediation)));
        assert_eq!(step(&dispute(State::Mediation), Step::EscalationDue, T0, &p), Ok(Next::Stays));
        assert!(step(&dispute(State::Mediation), Step::BuyerAccepts, T0, &p).is_err());
    }

    #[test]
    fn returns_refund_when_the_seller_has_the_goods_back() {
        let p = Policy::default();
        let requested = dispute(State::ReturnRequested);
        assert_eq!(step(&requested, Step::BuyerShipsReturn, T0, &p), Ok(Next::Moves(State::ReturnShipped)));
        assert!(step(&requested, Step::SellerReceivedReturn, T0, &p).is_err(), "not before it is shipped");
        let shipped = dispute(State::ReturnShipped);
        assert_eq!(step(&shipped, Step::SellerReceivedReturn, T0, &p), Ok(Next::Resolves(Outcome::Refund)));
        assert_eq!(step(&shipped, Step::ReturnDelivered, T0, &p), Ok(Next::Resolves(Outcome::Refund)));
    }

    #[test]
    fn mediators_decide_and_nothing_resolves_twice() {
        let p = Policy::default();
        let m = dispute(State::Mediation);
        assert_eq!(step(&m, Step::Decide(Outcome::Release), T0, &p), Ok(Next::Resolves(Outcome::Release)));
        assert_eq!(step(&m, Step::Decide(Outcome::PartialRefund(1000)), T0, &p), Err(DisputeRefusal::BadAmount));
        assert!(step(&dispute(State::AwaitingSeller), Step::Decide(Outcome::Release), T0, &p).is_err());
        for s in [Step::Decide(Outcome::Refund), Step::SellerRefunds, Step::BuyerAccepts, Step::EscalationDue] {
            assert!(step(&dispute(State::Resolved), s, T0, &p).is_err(), "{s:?}");
        }
    }

    #[test]
    fn automatic_rules_apply_before_a_person() {
        let p = Policy::default();
        let shipped = |carrier_events, delivered| Shipment { shipped_at_ms: Some(T0), carrier_events, delivered };
        let late = open(Reason::NotReceived, shipped(false, false), T0 + 7 * DAY_MS, &p);
        assert_eq!(late.next, Next::Resolves(Outcome::Refund), "no carrier event in 7 days");
        let early = open(Reason::NotReceived, shipped(false, false), T0 + DAY_MS, &p);
        assert_eq!(early.next, Next::Moves(State::AwaitingSeller));
        assert!(early.deadlines.contains(&(DeadlineKind::DisputeNoTracking, T0 + 7 * DAY_MS)));
        let delivered = open(Reason::NotReceived, shipped(true, true), T0 + DAY_MS, &p);
        assert_eq!(delivered.next, Next::Moves(State::Mediation), "tracking says delivered: a person decides");
        let damaged = open(Reason::Damaged, shipped(false, false), T0 + 9 * DAY_MS, &p);
        assert_eq!(damaged.next, Next::Moves(State::AwaitingSeller), "the rule is only for not_received");
        assert_eq!(damaged.deadlines.len(), 2);
        let d = Dispute { reason: Reason::NotReceived, ..dispute(State::Rejected) };
        assert_eq!(
            step(&d, Step::NoTrackingDue { carrier_events: false }, T0, &p),
            Ok(Next::Resolves(Outcome::Refund))
        );
        assert_eq!(step(&d, Step::NoTrackingDue { carrier_events: true }, T0, &p), Ok(Next::Stays));
    }

    #[test]
    fn settlement_charges_commission_only_on_what_the_seller_keeps() {
        let o = order(&[(1000, 1, 200)]); // total 1000, commission 20
        let amounts = |d: &Decision| d.postings.iter().map(|p| (p.kind, p.amount.amount)).collect::<Vec<_>>();
        let full = settle(&o, Outcome::Refund).unwrap();
        assert_eq!((full.state, amounts(&full)), (OrderState::Refunded, vec![(TransferKind::Refund, 1000)]));
        let release = settle(&o, Outcome::Release).unwrap();
        assert_eq!(amounts(&release), vec![(TransferKind::Release, 980), (TransferKind::Commission, 20)]);
        let half = settle(&o, Outcome::PartialRefund(500)).unwrap();
        assert_eq!(
            amounts(&half),
            vec![(TransferKind::Refund, 500), (TransferKind::Release, 490), (TransferKind::Commission, 10)]
        );
        assert!(settle(&Order { state: OrderState::Shipped, ..o }, Outcome::Refund).is_err());
    }

    proptest! {
        /// Any settlement empties the escrow exactly, pays no one a negative amount, and charges
        /// no more commission than on a full release.
        #[test]
        fn settlement_conserves_money(
            lines in proptest::collection::vec((1i64..100_000, 1i64..50, 0i64..3_000), 1..5),
            refund_permille in 0i64..=1000,
        ) {
            let o = order(&lines);
            let total = o.total().amount;
            let refund = total * refund_permille / 1000;
            let outcome = match refund {
                0 => Outcome::Release,
                r if r == total => Outcome::Refund,
                r => Outcome::PartialRefund(r),
            };
            let d = settle(&o, outcome).unwrap();
            let mut books = Balances::default();
            let escrow = Account::Escrow { order_id: o.id.clone(), currency: o.currency };
            let provider = Account::Provider { provider: "test".into(), currency: o.currency };
            books.apply(&[Posting { from: provider, to: escrow.clone(), amount: o.total(), kind: TransferKind::Payment }]).unwrap();
            books.apply(&d.postings).unwrap();
            prop_assert_eq!(books.get(&escrow), 0);
            let buyer = books.get(&Account::Wallet { user_id: o.buyer_id.clone(), currency: o.currency });
            prop_assert_eq!(buyer, refund);
            let revenue = books.get(&Account::Revenue { currency: o.currency });
            prop_assert!(revenue <= o.commission());
        }
    }
}
