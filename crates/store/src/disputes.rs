//! Disputes and their evidence. Every step is decided by `domain::dispute::step` and written with
//! a guarded state change (`... WHERE id = $1 AND state = <the state decided from>`), so of two
//! concurrent steps (two mediators deciding, a seller answering as the deadline fires) exactly one
//! applies; an outcome settles the order's escrow in the same transaction.

use crate::{Conflict, Page, Result, Store, StoreError, Tx};
use souk_domain::dispute::{self, Dispute, DisputeRefusal, Next, Outcome, Reason, Shipment, State, Step};
use souk_domain::id::Kind;
use souk_domain::order::{Action, DeadlineKind, OrderState, Policy};
use souk_domain::time::rfc3339;
use souk_domain::time::Timestamp;
use souk_domain::Invalid;
use sqlx::any::AnyRow;
use sqlx::Row;

#[derive(Debug, Clone, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DisputeView {
    pub id: String,
    pub order_id: String,
    pub buyer_id: String,
    pub store_id: String,
    /// not_received, not_as_described, damaged, wrong_item or other.
    pub reason: String,
    pub description: String,
    /// awaiting_seller, refund_offered, return_requested, return_shipped, rejected, mediation
    /// or resolved.
    pub state: String,
    /// The partial refund the seller offered, in the order's minor units.
    pub offered: Option<i64>,
    pub return_carrier: Option<String>,
    pub return_tracking: Option<String>,
    /// refund, partial_refund or release, once resolved.
    pub outcome: Option<String>,
    /// What went back to the buyer, in the order's minor units.
    pub refund: Option<i64>,
    /// `system` for automatic rules and deadlines, else the deciding user's id.
    pub decided_by: Option<String>,
    pub decision_reason: Option<String>,
    pub opened_at: Timestamp,
    pub escalated_at: Option<String>,
    pub resolved_at: Option<String>,
}

#[derive(Debug, Clone, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EvidenceView {
    pub id: String,
    /// Absent for what the automatic rules recorded.
    pub author_id: Option<String>,
    /// buyer, seller, mediator or system.
    pub role: String,
    /// What the entry records: opened, answer, evidence, return, decision, ...
    pub kind: String,
    pub text: String,
    pub images: Vec<String>,
    pub created_at: Timestamp,
}

/// A dispute with what its rules read.
#[derive(Debug, Clone)]
pub struct DisputeRow {
    pub view: DisputeView,
    pub rules: Dispute,
    pub seller_id: String,
}

/// Evidence to record with a step.
#[derive(Debug, Clone, Default)]
pub struct Evidence {
    pub text: String,
    pub images: Vec<String>,
}

/// Who takes a step: the rules say what happens; this says who did it.
#[derive(Debug, Clone)]
pub enum Actor {
    Buyer(String),
    Seller(String),
    Mediator(String),
    System,
}

impl Actor {
    fn id(&self) -> &str {
        match self {
            Actor::Buyer(id) | Actor::Seller(id) | Actor::Mediator(id) => id,
            Actor::System => "system",
        }
    }

    fn role(&self) -> &'static str {
        match self {
            Actor::Buyer(_) => "buyer",
            Actor::Seller(_) => "seller",
            Actor::Mediator(_) => "mediator",
            Actor::System => "system",
        }
    }

    /// The user behind the step; none for the automatic rules.
    fn user(&self) -> Option<&str> {
        match self {
            Actor::System => None,
            other => Some(other.id()),
        }
    }
}

const COLUMNS: &str = "d.id, d.order_id, d.buyer_id, d.store_id, d.reason, d.description, d.state, d.offered, \
     d.return_carrier, d.return_tracking, d.outcome, d.refund, d.decided_by, d.decision_reason, d.opened_at, \
     d.escalated_at, d.resolved_at, o.total, s.owner_id";

const FROM: &str = "disputes d JOIN orders o ON o.id = d.order_id JOIN stores s ON s.id = d.store_id";

fn protocol(what: &str) -> StoreError {
    StoreError::broken(format!("unknown dispute {what}"))
}

fn from_row(row: &AnyRow) -> Result<DisputeRow> {
    let time = |i: usize| -> Result<Option<String>> { Ok(row.try_get::<Option<i64>, _>(i)?.map(rfc3339)) };
    let reason: String = row.try_get(4)?;
    let state: String = row.try_get(6)?;
    let opened_at: i64 = row.try_get(14)?;
    let offered: Option<i64> = row.try_get(7)?;
    let rules = Dispute {
        state: State::parse(&state).ok_or_else(|| protocol("state"))?,
        reason: Reason::parse(&reason).ok_or_else(|| protocol("reason"))?,
        opened_at_ms: opened_at,
        total: row.try_get(17)?,
        offered,
    };
    Ok(DisputeRow {
        view: DisputeView {
            id: row.try_get(0)?,
            order_id: row.try_get(1)?,
            buyer_id: row.try_get(2)?,
            store_id: row.try_get(3)?,
            reason,
            description: row.try_get(5)?,
            state,
            offered,
            return_carrier: row.try_get(8)?,
            return_tracking: row.try_get(9)?,
            outcome: row.try_get(10)?,
            refund: row.try_get(11)?,
            decided_by: row.try_get(12)?,
            decision_reason: row.try_get(13)?,
            opened_at: Timestamp(opened_at),
            escalated_at: time(15)?,
            resolved_at: time(16)?,
        },
        rules,
        seller_id: row.try_get(18)?,
    })
}

impl Store {
    pub async fn dispute(&self, id: &str) -> Result<DisputeRow> {
        let sql = format!("SELECT {COLUMNS} FROM {FROM} WHERE d.id = $1");
        let row =
            sqlx::query(&sql).bind(id).fetch_optional(&mut *self.reader().await?).await?.ok_or(StoreError::NotFound)?;
        from_row(&row)
    }

    pub async fn dispute_of_order(&self, order_id: &str) -> Result<DisputeRow> {
        let sql = format!("SELECT {COLUMNS} FROM {FROM} WHERE d.order_id = $1");
        let row = sqlx::query(&sql)
            .bind(order_id)
            .fetch_optional(&mut *self.reader().await?)
            .await?
            .ok_or(StoreError::NotFound)?;
        from_row(&row)
    }

    pub async fn evidence(&self, dispute_id: &str) -> Result<Vec<EvidenceView>> {
        let rows = sqlx::query(
            "SELECT id, author_id, role, kind, body, images, created_at FROM dispute_evidence WHERE dispute_id = $1 \
             ORDER BY created_at, id",
        )
        .bind(dispute_id)
        .fetch_all(&mut *self.reader().await?)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(EvidenceView {
                    id: r.try_get(0)?,
                    author_id: r.try_get(1)?,
                    role: r.try_get(2)?,
                    kind: r.try_get(3)?,
                    text: r.try_get(4)?,
                    images: serde_json::from_str(&r.try_get::<String, _>(5)?)?,
                    created_at: Timestamp(r.try_get(6)?),
                })
            })
            .collect()
    }

    /// Disputes by state (the mediation queue: oldest escalation first), or the user's own as
    /// buyer or seller (newest first) when `party` is given.
    pub async fn disputes(
        &self,
        state: Option<&str>,
        party: Option<&str>,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Page<DisputeView>> {
        let (order, after) = if party.is_some() { ("d.id DESC", "d.id < $3") } else { ("d.id", "d.id > $3") };
        let sql = format!(
            "SELECT {COLUMNS} FROM {FROM} WHERE ($1 = '' OR d.state = $1) AND ($2 = '' OR d.buyer_id = $2 OR s.owner_id = $2) \
             AND ($3 = '' OR {after}) ORDER BY {order} LIMIT {}",
            limit + 1
        );
        let rows = sqlx::query(&sql)
            .bind(state.unwrap_or(""))
            .bind(party.unwrap_or(""))
            .bind(cursor.unwrap_or(""))
            .fetch_all(&mut *self.reader().await?)
            .await?;
        let items = rows.iter().map(|r| Ok(from_row(r)?.view)).collect::<Result<Vec<_>>>()?;
        Ok(Page::from_rows(items, limit, |d| d.id.clone()))
    }
}

/// The conflict for a step the dispute's state does not allow.
fn refused(r: DisputeRefusal) -> StoreError {
    match r {
        DisputeRefusal::InvalidState(s) => StoreError::Conflict {
            kind: Conflict::InvalidState,
            message: format!("the dispute is {}; that is not possible now", s.as_str()),
        },
        DisputeRefusal::TooEarly { allowed_from_ms } => StoreError::Conflict {
            kind: Conflict::TooEarly,
            message: format!("mediation can be asked for from {}", rfc3339(allowed_from_ms)),
        },
        DisputeRefusal::BadAmount => {
            Invalid::new("out_of_range", "amount", "more than nothing and less than the order's total").into()
        }
    }
}

impl Tx {
    pub async fn dispute(&mut self, id: &str) -> Result<DisputeRow> {
        let sql = format!("SELECT {COLUMNS} FROM {FROM} WHERE d.id = $1");
        let row = sqlx::query(&sql).bind(id).fetch_optional(self.conn()).await?.ok_or(StoreError::NotFound)?;
        from_row(&row)
    }

    async fn add_evidence(&mut self, dispute_id: &str, actor: &Actor, kind: &str, e: &Evidence) -> Result<()> {
        if e.text.is_empty() && e.images.is_empty() {
            return Ok(());
        }
        let (id, now) = (self.store().new_id(Kind::Evidence), self.store().now_ms());
        sqlx::query(
            "INSERT INTO dispute_evidence (id, dispute_id, author_id, role, kind, body, images, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&id)
        .bind(dispute_id)
        .bind(actor.user())
        .bind(actor.role())
        .bind(kind)
        .bind(&e.text)
        .bind(serde_json::to_string(&e.images)?)
        .bind(now)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// Opens the buyer's dispute on a paid, shipped or delivered order: the order becomes
    /// disputed (its deadlines stop), the automatic rules apply, and the dispute's own deadlines
    /// are scheduled. The caller has checked the buyer.
    pub async fn open_dispute(
        &mut self,
        order_id: &str,
        reason: Reason,
        description: &str,
        evidence: &Evidence,
        policy: &Policy,
    ) -> Result<DisputeRow> {
        let order = self.act(order_id, Action::OpenDispute, policy).await?;
        let now = self.store().now_ms();
        let events = sqlx::query("SELECT type FROM tracking_events WHERE order_id = $1")
            .bind(order_id)
            .fetch_all(self.conn())
            .await?
            .iter()
            .map(|r| r.try_get::<String, _>(0))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        let shipment = Shipment {
            shipped_at_ms: order.shipped_at.map(|t| t.ms()),
            carrier_events: !events.is_empty(),
            delivered: order.delivered_at.is_some() || events.iter().any(|e| e == "delivered"),
        };
        let opening = dispute::open(reason, shipment, now, policy);
        let id = self.store().new_id(Kind::Dispute);
        let first = match opening.next {
            Next::Moves(s) => s,
            _ => State::AwaitingSeller,
        };
        sqlx::query(
            "INSERT INTO disputes (id, order_id, buyer_id, store_id, reason, description, state, opened_at, escalated_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $8)",
        )
        .bind(&id)
        .bind(order_id)
        .bind(&order.buyer_id)
        .bind(&order.store_id)
        .bind(reason.as_str())
        .bind(description)
        .bind(first.as_str())
        .bind(now)
        .bind((first == State::Mediation).then_some(now))
        .execute(self.conn())
        .await?;
        let buyer = Actor::Buyer(order.buyer_id.clone());
        self.add_evidence(&id, &buyer, "opened", evidence).await?;
        for (kind, due) in &opening.deadlines {
            self.schedule(order_id, *kind, *due).await?;
        }
        let row = self.dispute(&id).await?;
        self.announce(&row, "dispute.opened").await?;
        if let Next::Resolves(outcome) = opening.next {
            let reason = "no carrier event within 7 days of shipping";
            return self.resolve(&row, outcome, &Actor::System, reason).await;
        }
        Ok(row)
    }

    /// Takes `step` on the dispute as `actor`, recording `evidence` (and `detail`: the partial
    /// amount's offer, a return's carrier and tracking, a decision's reason).
    pub async fn dispute_step(
        &mut self,
        id: &str,
        step: Step,
        actor: &Actor,
        evidence: &Evidence,
        return_tracking: Option<(&str, &str)>,
        policy: &Policy,
    ) -> Result<DisputeRow> {
        let row = self.dispute(id).await?;
        let now = self.store().now_ms();
        let next = dispute::step(&row.rules, step, now, policy).map_err(refused)?;
        let kind = match step {
            Step::SellerRefunds | Step::SellerOffersPartial(_) | Step::SellerRequestsReturn | Step::SellerRejects => {
                "answer"
            }
            Step::BuyerShipsReturn => "return",
            Step::Decide(_) => "decision",
            _ => "note",
        };
        self.add_evidence(id, actor, kind, evidence).await?;
        if let Step::Decide(outcome) = step {
            let outcome = match outcome {
                dispute::Outcome::Refund => serde_json::json!({"outcome": "refund"}),
                dispute::Outcome::PartialRefund(a) => serde_json::json!({"outcome": "partial_refund", "amount": a}),
                dispute::Outcome::Release => serde_json::json!({"outcome": "release"}),
            };
            let detail =
                serde_json::json!({"order_id": row.view.order_id, "decision": outcome, "reason": evidence.text});
            self.audit(actor.id(), "dispute.decided", id, detail).await?;
        }
        match next {
            Next::Stays => Ok(row),
            Next::Resolves(outcome) => {
                let why = if evidence.text.is_empty() { step_reason(step) } else { evidence.text.as_str() };
                self.resolve(&row, outcome, actor, why).await
            }
            Next::Moves(to) => {
                let offered = if let Step::SellerOffersPartial(a) = step { Some(a) } else { row.rules.offered };
                let (carrier, tracking) = return_tracking.map_or((None, None), |(c, t)| (Some(c), Some(t)));
                let moved = sqlx::query(
                    "UPDATE disputes SET state = $1, offered = $2, return_carrier = COALESCE($3, return_carrier), \
                     return_tracking = COALESCE($4, return_tracking), escalated_at = CASE WHEN $1 = 'mediation' THEN $5 \
                     ELSE escalated_at END, updated_at = $5 WHERE id = $6 AND state = $7",
                )
                .bind(to.as_str())
                .bind(offered)
                .bind(carrier)
                .bind(tracking)
                .bind(now)
                .bind(id)
                .bind(row.rules.state.as_str())
                .execute(self.conn())
                .await?;
                if moved.rows_affected() != 1 {
                    return Err(refused(DisputeRefusal::InvalidState(self.dispute(id).await?.rules.state)));
                }
                let row = self.dispute(id).await?;
                self.announce(&row, &format!("dispute.{}", to.as_str())).await?;
                Ok(row)
            }
        }
    }

    /// Ends the dispute with `outcome` and settles the order, guarded on the dispute's state.
    async fn resolve(&mut self, row: &DisputeRow, outcome: Outcome, actor: &Actor, reason: &str) -> Result<DisputeRow> {
        let now = self.store().now_ms();
        let refund = outcome.refund_of(row.rules.total);
        let done = sqlx::query(
            "UPDATE disputes SET state = 'resolved', outcome = $1, refund = $2, decided_by = $3, decision_reason = $4, \
             resolved_at = $5, updated_at = $5 WHERE id = $6 AND state = $7",
        )
        .bind(outcome.name())
        .bind(refund)
        .bind(actor.id())
        .bind(reason)
        .bind(now)
        .bind(&row.view.id)
        .bind(row.rules.state.as_str())
        .execute(self.conn())
        .await?;
        if done.rows_affected() != 1 {
            return Err(refused(DisputeRefusal::InvalidState(self.dispute(&row.view.id).await?.rules.state)));
        }
        self.settle_disputed(&row.view.order_id, outcome).await?;
        let row = self.dispute(&row.view.id).await?;
        self.announce(&row, "dispute.resolved").await?;
        Ok(row)
    }

    async fn announce(&mut self, row: &DisputeRow, kind: &str) -> Result<()> {
        let payload = serde_json::to_value(&row.view)?;
        self.emit(&[&row.view.buyer_id, &row.seller_id], kind, Some(&row.view.order_id), &payload).await
    }

    /// A dispute's deadline fell due: the seller's response time ran out, the dispute goes to
    /// mediation, or the `not_received` rule checks for carrier events. Returns whether anything
    /// changed.
    pub(crate) async fn run_dispute_deadline(
        &mut self,
        order_id: &str,
        kind: DeadlineKind,
        policy: &Policy,
    ) -> Result<bool> {
        let Some(id) = sqlx::query("SELECT id FROM disputes WHERE order_id = $1")
            .bind(order_id)
            .fetch_optional(self.conn())
            .await?
            .map(|r| r.try_get::<String, _>(0))
            .transpose()?
        else {
            return Ok(false);
        };
        let step = match kind {
            DeadlineKind::DisputeResponse => Step::ResponseExpired,
            DeadlineKind::DisputeEscalation => Step::EscalationDue,
            _ => {
                let seen = sqlx::query("SELECT 1 FROM tracking_events WHERE order_id = $1")
                    .bind(order_id)
                    .fetch_optional(self.conn())
                    .await?;
                Step::NoTrackingDue { carrier_events: seen.is_some() }
            }
        };
        let before = self.dispute(&id).await?.rules.state;
        match self.dispute_step(&id, step, &Actor::System, &Evidence::default(), None, policy).await {
            Ok(after) => Ok(after.rules.state != before),
            Err(StoreError::Conflict { kind: Conflict::InvalidState, .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// A carrier's event about a return parcel (one a buyer shipped back under a dispute): when
    /// it is delivered to the seller, the refund follows. Returns the orders whose returns
    /// travel under that number (empty when it is no return's).
    pub async fn return_parcel_event(
        &mut self,
        carrier: &str,
        tracking: &str,
        delivered: bool,
        policy: &Policy,
    ) -> Result<Vec<String>> {
        let rows =
            sqlx::query("SELECT id, order_id, state FROM disputes WHERE return_carrier = $1 AND return_tracking = $2")
                .bind(carrier)
                .bind(tracking)
                .fetch_all(self.conn())
                .await?;
        let mut orders = Vec::with_capacity(rows.len());
        for r in &rows {
            let (id, order_id, state): (String, String, String) = (r.try_get(0)?, r.try_get(1)?, r.try_get(2)?);
            if delivered && state == State::ReturnShipped.as_str() {
                let note = Evidence { text: format!("{carrier} delivered the return {tracking}"), images: Vec::new() };
                self.dispute_step(&id, Step::ReturnDelivered, &Actor::System, &note, None, policy).await?;
            }
            orders.push(order_id);
        }
        Ok(orders)
    }

    /// Adds evidence to an unresolved dispute.
    pub async fn add_dispute_evidence(&mut self, id: &str, actor: &Actor, e: &Evidence) -> Result<()> {
        let row = self.dispute(id).await?;
        if row.rules.state == State::Resolved {
            return Err(refused(DisputeRefusal::InvalidState(State::Resolved)));
        }
        self.add_evidence(id, actor, "evidence", e).await
    }
}

fn step_reason(step: Step) -> &'static str {
    match step {
        Step::SellerRefunds => "the seller refunded",
        Step::BuyerAccepts => "the buyer accepted the seller's partial refund",
        Step::SellerReceivedReturn => "the seller received the return",
        Step::ReturnDelivered => "the carrier delivered the return",
        Step::ResponseExpired => "the seller did not answer in time",
        Step::NoTrackingDue { .. } => "no carrier event within 7 days of shipping",
        _ => "decided",
    }
}

/// Whether an order state may be disputed.
pub fn disputable(state: &str) -> bool {
    matches!(OrderState::parse(state), Some(OrderState::Paid | OrderState::Shipped | OrderState::Delivered))
}
