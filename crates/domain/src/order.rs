//! The order and escrow state machine. Each decision is a pure function of the state it reads,
//! returning everything that must change together: the new state, ledger postings, stock
//! changes, outbox events and deadlines. The store applies a decision in one transaction, so
//! deciding many orders and committing them together is a change to the store, not to the rules.

use crate::ledger::{Account, Posting, TransferKind};
use crate::money::Money;
use crate::time::{Timestamp, DAY_MS, HOUR_MS, MINUTE_MS};
use crate::Currency;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum OrderState {
    PendingPayment,
    Paid,
    Shipped,
    /// The carrier delivered it; the buyer's confirmation window is shorter from here.
    Delivered,
    /// The buyer disputed it: the escrow stays frozen and the order's deadlines stop until the
    /// dispute ends in an outcome.
    Disputed,
    Completed,
    Cancelled,
    /// A dispute gave the buyer everything back.
    Refunded,
}

impl OrderState {
    pub fn as_str(self) -> &'static str {
        match self {
            OrderState::PendingPayment => "pending_payment",
            OrderState::Paid => "paid",
            OrderState::Shipped => "shipped",
            OrderState::Delivered => "delivered",
            OrderState::Disputed => "disputed",
            OrderState::Completed => "completed",
            OrderState::Cancelled => "cancelled",
            OrderState::Refunded => "refunded",
        }
    }

    /// Whether an order in this state holds its whole total in escrow: paid and not yet
    /// released or refunded.
    pub fn holds_escrow(self) -> bool {
        matches!(self, OrderState::Paid | OrderState::Shipped | OrderState::Delivered | OrderState::Disputed)
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::PendingPayment,
            Self::Paid,
            Self::Shipped,
            Self::Delivered,
            Self::Disputed,
            Self::Completed,
            Self::Cancelled,
            Self::Refunded,
        ]
        .into_iter()
        .find(|x| x.as_str() == s)
    }
}

/// What can happen to an order, by a person or by a deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    Pay,
    BuyerCancel,
    SellerCancel,
    PaymentExpired,
    Ship,
    ShipByExpired,
    /// The carrier reports delivery.
    Deliver,
    Confirm,
    ConfirmationExpired,
    ExtendConfirmation,
    /// The buyer opens a dispute; its settlement is `dispute::settle`.
    OpenDispute,
}

/// The transition table: the only place that says which action is allowed in which state.
pub const TRANSITIONS: &[(OrderState, Action, OrderState)] = {
    use Action::*;
    use OrderState::*;
    &[
        (PendingPayment, Pay, Paid),
        (PendingPayment, BuyerCancel, Cancelled),
        (PendingPayment, PaymentExpired, Cancelled),
        (Paid, Ship, Shipped),
        (Paid, BuyerCancel, Cancelled),
        (Paid, SellerCancel, Cancelled),
        (Paid, ShipByExpired, Cancelled),
        (Shipped, Deliver, Delivered),
        (Shipped, Confirm, Completed),
        (Shipped, ConfirmationExpired, Completed),
        (Shipped, ExtendConfirmation, Shipped),
        (Delivered, Confirm, Completed),
        (Delivered, ConfirmationExpired, Completed),
        (Delivered, ExtendConfirmation, Delivered),
        (Paid, OpenDispute, Disputed),
        (Shipped, OpenDispute, Disputed),
        (Delivered, OpenDispute, Disputed),
    ]
};

pub fn next_state(state: OrderState, action: Action) -> Option<OrderState> {
    TRANSITIONS.iter().find(|(s, a, _)| *s == state && *a == action).map(|(_, _, n)| *n)
}

/// Durations and rates; the defaults are the marketplace's standard terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    pub payment_window_ms: i64,
    pub ship_by_ms: i64,
    pub confirm_window_ms: i64,
    /// Once delivered, the buyer has at most this long to confirm (never beyond the window
    /// that shipping started).
    pub delivered_confirm_ms: i64,
    /// How much one extension adds to the confirmation window.
    pub extension_ms: i64,
    /// The longest escrow may hold money after shipping, extension included.
    pub escrow_expiry_ms: i64,
    /// Commission in basis points (1/100 of a percent) unless a category overrides it.
    pub commission_bps: i64,
    /// How long the seller has to answer a dispute before it is refunded.
    pub dispute_response_ms: i64,
    /// From when after opening the buyer may escalate a dispute to mediation.
    pub dispute_buyer_escalation_ms: i64,
    /// When after opening a dispute still open goes to mediation by itself.
    pub dispute_auto_escalation_ms: i64,
    /// After shipping, when a `not_received` dispute without any carrier event is refunded.
    pub dispute_no_tracking_ms: i64,
    /// Category id → basis points; a category inherits its nearest ancestor's override.
    pub category_commission_bps: Vec<(String, i64)>,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            payment_window_ms: 30 * MINUTE_MS,
            ship_by_ms: 72 * HOUR_MS,
            confirm_window_ms: 10 * DAY_MS,
            delivered_confirm_ms: 3 * DAY_MS,
            extension_ms: 5 * DAY_MS,
            escrow_expiry_ms: 15 * DAY_MS,
            commission_bps: 200,
            dispute_response_ms: 3 * DAY_MS,
            dispute_buyer_escalation_ms: 3 * DAY_MS,
            dispute_auto_escalation_ms: 7 * DAY_MS,
            dispute_no_tracking_ms: 7 * DAY_MS,
            category_commission_bps: Vec::new(),
        }
    }
}

impl Policy {
    pub fn commission_bps_for(&self, category: Option<&str>) -> i64 {
        let Some(mut c) = category else { return self.commission_bps };
        loop {
            if let Some((_, bps)) = self.category_commission_bps.iter().find(|(id, _)| id == c) {
                return *bps;
            }
            match c.rsplit_once('/') {
                Some((parent, _)) => c = parent,
                None => return self.commission_bps,
            }
        }
    }
}

/// One line of an order, with the price fixed at checkout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub sku_id: String,
    pub quantity: i64,
    pub unit_price: Money,
    pub commission_bps: i64,
}

impl Line {
    pub fn total(&self) -> Option<i64> {
        self.unit_price.amount.checked_mul(self.quantity)
    }

    /// Rounded down, so the platform never takes a fraction it does not have.
    pub fn commission(&self) -> Option<i64> {
        Some(self.total()?.checked_mul(self.commission_bps)? / 10_000)
    }
}

/// What a decision reads about an order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Order {
    pub id: String,
    pub buyer_id: String,
    pub seller_id: String,
    pub currency: Currency,
    pub lines: Vec<Line>,
    pub state: OrderState,
    pub confirmation_extended: bool,
    /// When the buyer's confirmation window ends, once shipped.
    pub confirm_by_ms: Option<i64>,
    pub shipped_at_ms: Option<i64>,
}

impl Order {
    pub fn total(&self) -> Money {
        Money::new(self.lines.iter().filter_map(Line::total).sum(), self.currency)
    }

    pub fn commission(&self) -> i64 {
        self.lines.iter().filter_map(Line::commission).sum()
    }

    fn escrow(&self) -> Account {
        Account::Escrow { order_id: self.id.clone(), currency: self.currency }
    }

    fn wallet(&self, user_id: &str) -> Account {
        Account::Wallet { user_id: user_id.to_string(), currency: self.currency }
    }
}

/// A stock movement for one SKU.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StockChange {
    /// Hold units for an unpaid order: `reserved += qty` (only if available).
    Reserve { sku_id: String, quantity: i64 },
    /// Give held units back: `reserved -= qty`.
    Release { sku_id: String, quantity: i64 },
    /// Held units are sold: `on_hand -= qty`, `reserved -= qty`.
    Sell { sku_id: String, quantity: i64 },
    /// Sold units come back (a paid order was cancelled before shipping): `on_hand += qty`.
    Restock { sku_id: String, quantity: i64 },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeadlineKind {
    PaymentDue,
    ShipBy,
    ConfirmBy,
    /// The seller's time to answer a dispute.
    DisputeResponse,
    /// A dispute still open goes to mediation.
    DisputeEscalation,
    /// A `not_received` dispute with no carrier event is refunded.
    DisputeNoTracking,
    /// A day before `ShipBy`: the seller is reminded.
    ShipByReminder,
    /// A day before `ConfirmBy`: the buyer is reminded.
    ConfirmByReminder,
    /// A day before `DisputeResponse`: the seller is reminded to answer.
    DisputeResponseReminder,
}

/// How long before a deadline its reminder comes.
pub const REMINDER_LEAD_MS: i64 = crate::time::DAY_MS;

impl DeadlineKind {
    pub fn as_str(self) -> &'static str {
        match self {
            DeadlineKind::PaymentDue => "payment_due",
            DeadlineKind::ShipBy => "ship_by",
            DeadlineKind::ConfirmBy => "confirm_by",
            DeadlineKind::DisputeResponse => "dispute_response",
            DeadlineKind::DisputeEscalation => "dispute_escalation",
            DeadlineKind::DisputeNoTracking => "dispute_no_tracking",
            DeadlineKind::ShipByReminder => "ship_by_reminder",
            DeadlineKind::ConfirmByReminder => "confirm_by_reminder",
            DeadlineKind::DisputeResponseReminder => "dispute_response_reminder",
        }
    }

    /// The reminder that comes before this deadline, if it has one.
    pub fn reminder(self) -> Option<DeadlineKind> {
        match self {
            DeadlineKind::ShipBy => Some(DeadlineKind::ShipByReminder),
            DeadlineKind::ConfirmBy => Some(DeadlineKind::ConfirmByReminder),
            DeadlineKind::DisputeResponse => Some(DeadlineKind::DisputeResponseReminder),
            _ => None,
        }
    }

    /// For a reminder: the deadline it is about, and the event that tells of it.
    pub fn reminds(self) -> Option<(DeadlineKind, &'static str)> {
        match self {
            DeadlineKind::ShipByReminder => Some((DeadlineKind::ShipBy, "order.ship_reminder")),
            DeadlineKind::ConfirmByReminder => Some((DeadlineKind::ConfirmBy, "order.confirm_reminder")),
            DeadlineKind::DisputeResponseReminder => Some((DeadlineKind::DisputeResponse, "dispute.response_reminder")),
            _ => None,
        }
    }

    /// The order action a deadline performs when it falls due; `None` for a dispute's
    /// deadlines, which step the dispute instead.
    pub fn action(self) -> Option<Action> {
        match self {
            DeadlineKind::PaymentDue => Some(Action::PaymentExpired),
            DeadlineKind::ShipBy => Some(Action::ShipByExpired),
            DeadlineKind::ConfirmBy => Some(Action::ConfirmationExpired),
            _ => None,
        }
    }
}

/// Everything one transition changes, applied together or not at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub state: OrderState,
    pub postings: Vec<Posting>,
    pub stock: Vec<StockChange>,
    /// Outbox event names, e.g. `order.paid`.
    pub events: Vec<&'static str>,
    /// Deadlines of this order that stop applying.
    pub cancel_deadlines: Vec<DeadlineKind>,
    /// Deadlines to schedule (or move) at these times.
    pub deadlines: Vec<(DeadlineKind, i64)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The action is not allowed in the order's state.
    InvalidState(OrderState),
    /// The order's total does not fit in an `i64`.
    Overflow,
}

/// The checkout decision for a new order: hold its stock and start the payment clock.
pub fn place(order: &Order, now_ms: i64, policy: &Policy) -> Result<Decision, Refusal> {
    if order.lines.iter().any(|l| l.total().is_none() || l.commission().is_none())
        || order.lines.iter().try_fold(0i64, |acc, l| acc.checked_add(l.total()?)).is_none()
    {
        return Err(Refusal::Overflow);
    }
    Ok(Decision {
        state: OrderState::PendingPayment,
        postings: Vec::new(),
        stock: order
            .lines
            .iter()
            .map(|l| StockChange::Reserve { sku_id: l.sku_id.clone(), quantity: l.quantity })
            .collect(),
        events: vec!["order.created"],
        cancel_deadlines: Vec::new(),
        deadlines: vec![(DeadlineKind::PaymentDue, now_ms + policy.payment_window_ms)],
    })
}

/// Decides `action` on `order` at `now_ms`. Whether the actor may take the action (only the
/// buyer pays, only the seller ships) is the caller's check; this decides what happens.
pub fn decide(order: &Order, action: Action, now_ms: i64, policy: &Policy) -> Result<Decision, Refusal> {
    let state = next_state(order.state, action).ok_or(Refusal::InvalidState(order.state))?;
    let total = order.total();
    let mut d = Decision {
        state,
        postings: Vec::new(),
        stock: Vec::new(),
        events: Vec::new(),
        cancel_deadlines: Vec::new(),
        deadlines: Vec::new(),
    };
    let lines = |make: fn(String, i64) -> StockChange| -> Vec<StockChange> {
        order.lines.iter().map(|l| make(l.sku_id.clone(), l.quantity)).collect()
    };
    match (order.state, action) {
        (OrderState::PendingPayment, Action::Pay) => {
            d.postings.push(Posting {
                from: order.wallet(&order.buyer_id),
                to: order.escrow(),
                amount: total,
                kind: TransferKind::Payment,
            });
            d.stock = lines(|sku_id, quantity| StockChange::Sell { sku_id, quantity });
            d.events.push("order.paid");
            d.cancel_deadlines.push(DeadlineKind::PaymentDue);
            d.deadlines.push((DeadlineKind::ShipBy, now_ms + policy.ship_by_ms));
        }
        (OrderState::PendingPayment, _) => {
            d.stock = lines(|sku_id, quantity| StockChange::Release { sku_id, quantity });
            d.events.push("order.cancelled");
            d.cancel_deadlines.push(DeadlineKind::PaymentDue);
        }
        (_, Action::OpenDispute) => {
            d.events.push("order.disputed");
            d.cancel_deadlines.extend([DeadlineKind::ShipBy, DeadlineKind::ConfirmBy]);
        }
        (OrderState::Paid, Action::Ship) => {
            d.events.push("order.shipped");
            d.cancel_deadlines.push(DeadlineKind::ShipBy);
            d.deadlines.push((DeadlineKind::ConfirmBy, now_ms + policy.confirm_window_ms));
        }
        (OrderState::Paid, _) => {
            d.postings.push(Posting {
                from: order.escrow(),
                to: order.wallet(&order.buyer_id),
                amount: total,
                kind: TransferKind::Refund,
            });
            d.stock = lines(|sku_id, quantity| StockChange::Restock { sku_id, quantity });
            d.events.push("order.cancelled");
            d.events.push("order.refunded");
            d.cancel_deadlines.push(DeadlineKind::ShipBy);
        }
        (OrderState::Shipped, Action::Deliver) => {
            d.events.push("order.delivered");
            let confirm_by = order.confirm_by_ms.unwrap_or(now_ms + policy.confirm_window_ms);
            d.deadlines.push((DeadlineKind::ConfirmBy, confirm_by.min(now_ms + policy.delivered_confirm_ms)));
        }
        (OrderState::Shipped | OrderState::Delivered, Action::ExtendConfirmation) => {
            if order.confirmation_extended {
                return Err(Refusal::InvalidState(order.state));
            }
            d.events.push("order.confirmation_extended");
            let confirm_by = order.confirm_by_ms.unwrap_or(now_ms + policy.confirm_window_ms);
            let shipped_at = order.shipped_at_ms.unwrap_or(confirm_by - policy.confirm_window_ms);
            let extended = (confirm_by + policy.extension_ms).min(shipped_at + policy.escrow_expiry_ms);
            d.deadlines.push((DeadlineKind::ConfirmBy, extended.max(confirm_by)));
        }
        (OrderState::Shipped | OrderState::Delivered, _) => {
            let commission = order.commission();
            let to_seller = total.amount - commission;
            if to_seller > 0 {
                d.postings.push(Posting {
                    from: order.escrow(),
                    to: order.wallet(&order.seller_id),
                    amount: Money::new(to_seller, order.currency),
                    kind: TransferKind::Release,
                });
            }
            if commission > 0 {
                d.postings.push(Posting {
                    from: order.escrow(),
                    to: Account::Revenue { currency: order.currency },
                    amount: Money::new(commission, order.currency),
                    kind: TransferKind::Commission,
                });
            }
            d.events.push("order.completed");
            d.cancel_deadlines.push(DeadlineKind::ConfirmBy);
        }
        (s, _) => return Err(Refusal::InvalidState(s)),
    }
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::Balances;
    use std::collections::HashMap;

    fn usd() -> Currency {
        Currency::from_code("USD").unwrap()
    }

    fn order(state: OrderState) -> Order {
        Order {
            id: "ord_1".into(),
            buyer_id: "usr_b".into(),
            seller_id: "usr_s".into(),
            currency: usd(),
            lines: vec![
                Line { sku_id: "sku_1".into(), quantity: 3, unit_price: Money::new(333, usd()), commission_bps: 200 },
                Line { sku_id: "sku_2".into(), quantity: 1, unit_price: Money::new(1, usd()), commission_bps: 200 },
            ],
            state,
            confirmation_extended: false,
            confirm_by_ms: None,
            shipped_at_ms: None,
        }
    }

    #[test]
    fn the_table_refuses_impossible_transitions() {
        let policy = Policy::default();
        for (state, action) in [
            (OrderState::PendingPayment, Action::Ship),
            (OrderState::Paid, Action::Pay),
            (OrderState::Shipped, Action::BuyerCancel),
            (OrderState::Completed, Action::Confirm),
            (OrderState::Cancelled, Action::Pay),
        ] {
            assert_eq!(
                decide(&order(state), action, 0, &policy),
                Err(Refusal::InvalidState(state)),
                "{state:?} {action:?}"
            );
        }
        let mut shipped = order(OrderState::Shipped);
        shipped.confirm_by_ms = Some(1_000);
        let d = decide(&shipped, Action::ExtendConfirmation, 10, &policy).unwrap();
        assert_eq!(d.deadlines, vec![(DeadlineKind::ConfirmBy, 1_000 + policy.extension_ms)]);
        let capped = Policy { escrow_expiry_ms: policy.confirm_window_ms + 7, ..policy.clone() };
        let d = decide(&shipped, Action::ExtendConfirmation, 10, &capped).unwrap();
        assert_eq!(d.deadlines, vec![(DeadlineKind::ConfirmBy, 1_007)], "never past the escrow expiry");
        shipped.confirmation_extended = true;
        assert!(decide(&shipped, Action::ExtendConfirmation, 0, &policy).is_err(), "one extension only");
    }

    #[test]
    fn delivery_shortens_the_confirmation_window_but_never_lengthens_it() {
        let policy = Policy::default();
        let mut shipped = order(OrderState::Shipped);
        shipped.shipped_at_ms = Some(0);
        shipped.confirm_by_ms = Some(policy.confirm_window_ms);
        let d = decide(&shipped, Action::Deliver, DAY_MS, &policy).unwrap();
        assert_eq!(d.state, OrderState::Delivered);
        assert_eq!(d.deadlines, vec![(DeadlineKind::ConfirmBy, DAY_MS + policy.delivered_confirm_ms)]);
        let late = decide(&shipped, Action::Deliver, 9 * DAY_MS, &policy).unwrap();
        assert_eq!(late.deadlines, vec![(DeadlineKind::ConfirmBy, policy.confirm_window_ms)], "capped");
        let mut delivered = shipped.clone();
        delivered.state = OrderState::Delivered;
        delivered.confirm_by_ms = Some(4 * DAY_MS);
        let d = decide(&delivered, Action::ExtendConfirmation, 2 * DAY_MS, &policy).unwrap();
        assert_eq!(d.deadlines, vec![(DeadlineKind::ConfirmBy, 9 * DAY_MS)]);
        assert_eq!(decide(&delivered, Action::Confirm, 0, &policy).unwrap().state, OrderState::Completed);
        assert!(decide(&delivered, Action::Deliver, 0, &policy).is_err(), "delivered once");
    }

    #[test]
    fn completion_splits_escrow_exactly() {
        let d = decide(&order(OrderState::Shipped), Action::Confirm, 0, &Policy::default()).unwrap();
        // 1000 total; 2% of 999 is 19.98, rounded down to 19; 2% of 1 is 0.
        let amounts: Vec<(TransferKind, i64)> = d.postings.iter().map(|p| (p.kind, p.amount.amount)).collect();
        assert_eq!(amounts, vec![(TransferKind::Release, 981), (TransferKind::Commission, 19)]);
        assert_eq!(d.state, OrderState::Completed);
    }

    #[test]
    fn category_overrides_inherit_down_the_tree() {
        let policy = Policy { category_commission_bps: vec![("electronics".into(), 500)], ..Policy::default() };
        assert_eq!(policy.commission_bps_for(Some("electronics/phones")), 500);
        assert_eq!(policy.commission_bps_for(Some("fashion/shoes")), 200);
        assert_eq!(policy.commission_bps_for(None), 200);
    }

    /// An in-memory world applying decisions the way the store must.
    #[derive(Default)]
    struct World {
        balances: Balances,
        on_hand: HashMap<String, i64>,
        reserved: HashMap<String, i64>,
        sold: HashMap<String, i64>,
    }

    impl World {
        fn apply(&mut self, o: &mut Order, d: &Decision) -> bool {
            let mut on_hand = self.on_hand.clone();
            let mut reserved = self.reserved.clone();
            let mut sold = self.sold.clone();
            for c in &d.stock {
                match c {
                    StockChange::Reserve { sku_id, quantity } => {
                        let r = reserved.entry(sku_id.clone()).or_default();
                        if on_hand[sku_id] - *r < *quantity {
                            return false;
                        }
                        *r += quantity;
                    }
                    StockChange::Release { sku_id, quantity } => *reserved.get_mut(sku_id).unwrap() -= quantity,
                    StockChange::Sell { sku_id, quantity } => {
                        *reserved.get_mut(sku_id).unwrap() -= quantity;
                        *on_hand.get_mut(sku_id).unwrap() -= quantity;
                        *sold.entry(sku_id.clone()).or_default() += quantity;
                    }
                    StockChange::Restock { sku_id, quantity } => {
                        *on_hand.get_mut(sku_id).unwrap() += quantity;
                        *sold.get_mut(sku_id).unwrap() -= quantity;
                    }
                }
            }
            if self.balances.apply(&d.postings).is_err() {
                return false;
            }
            self.on_hand = on_hand;
            self.reserved = reserved;
            self.sold = sold;
            if d.events.contains(&"order.confirmation_extended") {
                o.confirmation_extended = true;
            }
            o.state = d.state;
            true
        }
    }

    proptest::proptest! {
        /// Random actions on random orders: after every step the books balance, no wallet is
        /// negative, escrow holds exactly the paid-but-unsettled totals, stock = initial − sold −
        /// reserved, and each settled order's money sits in exactly one place.
        #[test]
        fn random_order_lives_keep_every_invariant(
            seed_orders in proptest::collection::vec((1i64..5, 1i64..2000, 0usize..2), 1..8),
            steps in proptest::collection::vec((0usize..8, 0usize..9), 1..80),
        ) {
            let policy = Policy::default();
            let provider = Account::Provider { provider: "sandbox".into(), currency: usd() };
            let mut w = World::default();
            for sku in ["sku_0", "sku_1"] {
                w.on_hand.insert(sku.into(), 10);
            }
            let buyer = Account::Wallet { user_id: "usr_b".into(), currency: usd() };
            w.balances.apply(&[Posting { from: provider.clone(), to: buyer, amount: Money::new(20_000, usd()), kind: TransferKind::TopUp }]).unwrap();
            let mut orders: Vec<Order> = Vec::new();
            for (i, (qty, price, sku)) in seed_orders.into_iter().enumerate() {
                let mut o = order(OrderState::PendingPayment);
                o.id = format!("ord_{i}");
                o.lines = vec![Line { sku_id: format!("sku_{sku}"), quantity: qty, unit_price: Money::new(price, usd()), commission_bps: 250 }];
                let d = place(&o, 0, &policy).unwrap();
                if w.apply(&mut o, &d) {
                    orders.push(o);
                }
            }
            let actions = [Action::Pay, Action::BuyerCancel, Action::SellerCancel, Action::PaymentExpired, Action::Ship,
                Action::ShipByExpired, Action::Deliver, Action::Confirm, Action::ConfirmationExpired,
                Action::ExtendConfirmation];
            for (oi, ai) in steps {
                if orders.is_empty() { break; }
                let idx = oi % orders.len();
                let mut o = orders[idx].clone();
                if let Ok(d) = decide(&o, actions[ai], 0, &policy) {
                    w.apply(&mut o, &d);
                    orders[idx] = o;
                }
                proptest::prop_assert_eq!(w.balances.net_by_currency().values().sum::<i64>(), 0);
                for (account, balance) in w.balances.iter() {
                    proptest::prop_assert!(account.may_go_negative() || *balance >= 0);
                }
                for sku in ["sku_0", "sku_1"] {
                    let reserved = w.reserved.get(sku).copied().unwrap_or(0);
                    let sold = w.sold.get(sku).copied().unwrap_or(0);
                    proptest::prop_assert_eq!(w.on_hand[sku], 10 - sold);
                    proptest::prop_assert!(reserved >= 0 && reserved <= w.on_hand[sku]);
                    let open_reserved: i64 = orders.iter().filter(|o| o.state == OrderState::PendingPayment)
                        .flat_map(|o| o.lines.iter()).filter(|l| l.sku_id == sku).map(|l| l.quantity).sum();
                    proptest::prop_assert_eq!(reserved, open_reserved);
                }
                for o in &orders {
                    let held = w.balances.get(&o.escrow());
                    let expected = if o.state.holds_escrow() { o.total().amount } else { 0 };
                    proptest::prop_assert_eq!(held, expected, "escrow of {} in {:?}", o.id, o.state);
                }
            }
        }
    }
}

/// An order as the API shows it.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OrderView {
    pub id: String,
    pub checkout_id: String,
    pub buyer_id: String,
    pub store_id: String,
    pub state: OrderState,
    pub total: Money,
    /// The platform's commission, taken from the total when the escrow is released.
    pub commission: Money,
    pub lines: Vec<OrderLineView>,
    pub ship_country: String,
    pub carrier: Option<String>,
    pub tracking_number: Option<String>,
    pub confirmation_extended: bool,
    /// Pending deadlines: what happens by itself, and when.
    pub deadlines: Vec<DeadlineView>,
    pub cancel_reason: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub paid_at: Option<Timestamp>,
    pub shipped_at: Option<Timestamp>,
    pub delivered_at: Option<Timestamp>,
    pub completed_at: Option<Timestamp>,
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OrderLineView {
    pub sku_id: String,
    pub product_id: String,
    pub title: String,
    pub quantity: i64,
    pub unit_price: Money,
    pub total: Money,
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeadlineView {
    /// payment_due, ship_by or confirm_by.
    pub kind: String,
    pub due_at: Timestamp,
}

impl Action {
    /// The reason recorded when this action cancels an order.
    pub fn cancel_reason(self) -> Option<&'static str> {
        match self {
            Action::BuyerCancel => Some("cancelled by the buyer"),
            Action::SellerCancel => Some("cancelled by the seller"),
            Action::PaymentExpired => Some("not paid within the payment window"),
            Action::ShipByExpired => Some("not shipped by the ship-by deadline"),
            _ => None,
        }
    }
}

impl DeadlineKind {
    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::PaymentDue,
            Self::ShipBy,
            Self::ConfirmBy,
            Self::DisputeResponse,
            Self::DisputeEscalation,
            Self::DisputeNoTracking,
            Self::ShipByReminder,
            Self::ConfirmByReminder,
            Self::DisputeResponseReminder,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }
}
