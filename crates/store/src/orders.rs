//! Carts, checkout and the order lifecycle in SQL. The store loads an order, the domain decides,
//! and [`Tx::apply_decision`] writes the decision (state, postings, stock, deadlines, events) in
//! the caller's one transaction.

use crate::bulk::{decode, json_agg_ordered};
use crate::{currency, placeholders, Backend, Conflict, Page, Result, Store, StoreError, Tx};
use souk_domain::catalog::{PriceTier, ProductStatus};
use souk_domain::checkout::{price_line, Item, SkuForSale, MAX_ITEMS};
use souk_domain::dispute::{self, Outcome};
use souk_domain::geo::ShipsTo;
use souk_domain::id::{self, Kind};
use souk_domain::order::{
    decide, place, Action, DeadlineKind, DeadlineView, Decision, Line, Order, OrderLineView, OrderState, OrderView,
    Policy, Refusal, StockChange,
};
use souk_domain::time::Timestamp;
use souk_domain::{Currency, Invalid, Money};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

/// A line of a cart with what it costs now.
#[derive(Debug, Clone, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CartLine {
    pub sku_id: String,
    pub product_id: String,
    pub store_id: String,
    pub title: String,
    pub quantity: i64,
    pub unit_price: Money,
    pub available: i64,
}

/// An event from the outbox, as its recipient sees it.
#[derive(Debug, Clone, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EventView {
    pub id: String,
    /// `order.paid`, `order.shipped`, ...
    #[serde(rename = "type")]
    pub kind: String,
    pub order_id: Option<String>,
    pub payload: serde_json::Value,
    pub created_at: Timestamp,
    /// Pass as `cursor` to list what came after this event.
    pub cursor: String,
}

/// Checkout groups lines into one order per store and currency.
type StoreCurrency = (String, Currency);
type PricedLine = (SkuForSale, Line);

fn invalid_state(state: OrderState) -> StoreError {
    StoreError::Conflict {
        kind: Conflict::InvalidState,
        message: format!("the order is {}; that is not possible now", state.as_str()),
    }
}

pub(crate) async fn sku_for_sale(conn: &mut AnyConnection, sku_id: &str) -> Result<SkuForSale> {
    let row = sqlx::query(
        "SELECT s.id, s.product_id, s.price_minor, s.currency, s.tiers, p.title, p.status, p.moq, p.ships_to, p.category, \
                p.store_id, st.owner_id \
         FROM skus s JOIN products p ON p.id = s.product_id JOIN stores st ON st.id = p.store_id WHERE s.id = $1",
    )
    .bind(sku_id)
    .fetch_optional(conn)
    .await?
    .ok_or(StoreError::NotFound)?;
    let c = currency(&row.try_get::<String, _>("currency")?)?;
    let tiers: String = row.try_get("tiers")?;
    let status: String = row.try_get("status")?;
    let ships_to: String = row.try_get("ships_to")?;
    Ok(SkuForSale {
        sku_id: row.try_get("id")?,
        product_id: row.try_get("product_id")?,
        title: row.try_get("title")?,
        store_id: row.try_get("store_id")?,
        seller_id: row.try_get("owner_id")?,
        status: ProductStatus::parse(&status).unwrap_or(ProductStatus::Draft),
        price: Money::new(row.try_get("price_minor")?, c),
        tiers: serde_json::from_str::<Vec<PriceTier>>(&tiers)?,
        moq: row.try_get("moq")?,
        ships_to: ShipsTo::parse(&ships_to, "ships_to").unwrap_or(ShipsTo::Countries(Vec::new())),
        category: row.try_get("category")?,
    })
}

const ORDER_COLUMNS: &str =
    "id, checkout_id, buyer_id, store_id, seller_id, currency, total, commission, state, ship_country, \
     carrier, tracking_number, confirmation_extended, confirm_by, cancel_reason, created_at, updated_at, \
     paid_at, shipped_at, delivered_at, completed_at";

struct OrderRow {
    order: Order,
    view: OrderView,
}

/// Whole orders in one statement: the order's columns, then its lines (by position) and its
/// pending deadlines (soonest first, reminders left out) as JSON arrays. Each is found by the
/// order's key, so reading an order costs the same however many jobs are pending.
fn order_select(backend: Backend) -> String {
    let lines = json_agg_ordered(
        backend,
        &["l.sku_id", "l.product_id", "l.title", "l.quantity", "l.unit_price", "l.commission_bps"],
        Some("l.position"),
    );
    let deadlines = json_agg_ordered(backend, &["j.kind", "j.due_at"], Some("j.due_at"));
    format!(
        "SELECT {ORDER_COLUMNS}, (SELECT {lines} FROM order_lines l WHERE l.order_id = orders.id) AS lines_json, \
         (SELECT {deadlines} FROM jobs j WHERE j.order_id = orders.id AND j.state = 'pending' \
         AND j.kind NOT LIKE '%reminder') AS deadlines_json FROM orders"
    )
}

async fn load(conn: &mut AnyConnection, backend: Backend, id: &str) -> Result<OrderRow> {
    let sql = format!("{} WHERE id = $1", order_select(backend));
    let row = sqlx::query(&sql).bind(id).fetch_optional(&mut *conn).await?.ok_or(StoreError::NotFound)?;
    let mut rows = assemble(vec![row])?;
    Ok(rows.remove(0))
}

/// A line as [`order_select`] aggregates it: SKU, product, title, quantity, unit price,
/// commission.
type LineJson = (String, String, String, i64, i64, i64);

/// Builds orders (domain and API forms) from rows of [`order_select`].
fn assemble(rows: Vec<AnyRow>) -> Result<Vec<OrderRow>> {
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let id: String = row.try_get("id")?;
        let c = currency(&row.try_get::<String, _>("currency")?)?;
        let state_text: String = row.try_get("state")?;
        let state = OrderState::parse(&state_text)
            .ok_or_else(|| StoreError::broken(format!("unknown order state {state_text}")))?;
        let lines: Vec<LineJson> = decode(&row.try_get::<String, _>("lines_json")?)?;
        let jobs: Vec<(String, i64)> = decode(&row.try_get::<String, _>("deadlines_json")?)?;
        let mut domain_lines = Vec::with_capacity(lines.len());
        let mut line_views = Vec::with_capacity(lines.len());
        for (sku_id, product_id, title, quantity, unit, commission_bps) in lines {
            domain_lines.push(Line {
                sku_id: sku_id.clone(),
                quantity,
                unit_price: Money::new(unit, c),
                commission_bps,
            });
            line_views.push(OrderLineView {
                sku_id,
                product_id,
                title,
                quantity,
                unit_price: Money::new(unit, c),
                total: Money::new(unit * quantity, c),
            });
        }
        let deadlines =
            jobs.into_iter().map(|(kind, due_at)| DeadlineView { kind, due_at: Timestamp(due_at) }).collect();
        let confirm_by: Option<i64> = row.try_get("confirm_by")?;
        let extended = row.try_get::<i64, _>("confirmation_extended")? != 0;
        let order = Order {
            id: id.clone(),
            buyer_id: row.try_get("buyer_id")?,
            seller_id: row.try_get("seller_id")?,
            currency: c,
            lines: domain_lines,
            state,
            confirmation_extended: extended,
            confirm_by_ms: confirm_by,
            shipped_at_ms: row.try_get("shipped_at")?,
        };
        let at =
            |column: &str| -> Result<Option<Timestamp>> { Ok(row.try_get::<Option<i64>, _>(column)?.map(Timestamp)) };
        let view = OrderView {
            id,
            checkout_id: row.try_get("checkout_id")?,
            buyer_id: order.buyer_id.clone(),
            store_id: row.try_get("store_id")?,
            state,
            total: Money::new(row.try_get("total")?, c),
            commission: Money::new(row.try_get("commission")?, c),
            lines: line_views,
            ship_country: row.try_get("ship_country")?,
            carrier: row.try_get("carrier")?,
            tracking_number: row.try_get("tracking_number")?,
            confirmation_extended: extended,
            deadlines,
            cancel_reason: row.try_get("cancel_reason")?,
            created_at: Timestamp(row.try_get("created_at")?),
            updated_at: Timestamp(row.try_get("updated_at")?),
            paid_at: at("paid_at")?,
            shipped_at: at("shipped_at")?,
            delivered_at: at("delivered_at")?,
            completed_at: at("completed_at")?,
        };
        out.push(OrderRow { order, view });
    }
    Ok(out)
}

/// Which orders a listing shows.
#[derive(Debug, Clone)]
pub enum OrderScope<'a> {
    Buyer(&'a str),
    Store(&'a str),
    /// A store's orders in one state.
    StoreIn(&'a str, OrderState),
    Checkout(&'a str),
}

impl Store {
    pub async fn order(&self, id: &str) -> Result<OrderView> {
        Ok(load(&mut *self.reader().await?, self.backend(), id).await?.view)
    }

    /// The buyer and seller of an order, for authorization: read only, a flash order still in
    /// the engine's journal (committed, not yet written out) included.
    pub async fn order_parties(&self, id: &str) -> Result<(String, String)> {
        let row = sqlx::query(
            "SELECT buyer_id, seller_id FROM orders WHERE id = $1 \
             UNION ALL SELECT f.buyer_id, st.owner_id FROM flash_orders f \
             JOIN promotions pr ON pr.id = f.promotion_id JOIN stores st ON st.id = pr.store_id WHERE f.order_id = $1",
        )
        .bind(id)
        .fetch_optional(&mut *self.reader().await?)
        .await?
        .ok_or(StoreError::NotFound)?;
        Ok((row.try_get("buyer_id")?, row.try_get("seller_id")?))
    }

    /// Orders newest first, after the cursor (an order id).
    pub async fn list_orders(
        &self,
        scope: OrderScope<'_>,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Page<OrderView>> {
        let (filter, value, state) = match scope {
            OrderScope::Buyer(v) => ("buyer_id = $1", v, None),
            OrderScope::Store(v) => ("store_id = $1", v, None),
            OrderScope::StoreIn(v, state) => ("store_id = $1 AND state = $4", v, Some(state)),
            OrderScope::Checkout(v) => ("checkout_id = $1", v, None),
        };
        let sql = format!(
            "{} WHERE {filter} AND ($2 = '' OR id < $2) ORDER BY id DESC LIMIT $3",
            order_select(self.backend())
        );
        let mut conn = self.reader().await?;
        let mut query = sqlx::query(&sql).bind(value).bind(cursor.unwrap_or("")).bind(limit as i64 + 1);
        if let Some(state) = state {
            query = query.bind(state.as_str());
        }
        let rows = query.fetch_all(&mut *conn).await?;
        let items = assemble(rows)?.into_iter().map(|r| r.view).collect();
        Ok(Page::from_rows(items, limit, |o: &OrderView| o.id.clone()))
    }

    pub async fn cart(&self, user_id: &str) -> Result<Vec<CartLine>> {
        cart_of(&mut *self.reader().await?, user_id).await
    }

    /// Who has outbox events after `after` (a sequence number), and the newest sequence number
    /// seen: for waking live sockets when another process shares a SQLite file. (On SQLite
    /// commits are serial, so sequence numbers become visible in order.)
    pub async fn outbox_after(&self, after: i64, limit: usize) -> Result<(Vec<String>, i64)> {
        let rows = sqlx::query("SELECT seq, user_id FROM events WHERE seq > $1 ORDER BY seq LIMIT $2")
            .bind(after)
            .bind(limit as i64)
            .fetch_all(&mut *self.reader().await?)
            .await?;
        let mut newest = after;
        let mut users = Vec::with_capacity(rows.len());
        for r in &rows {
            newest = newest.max(r.try_get::<i64, _>(0)?);
            users.push(r.try_get::<String, _>(1)?);
        }
        users.sort_unstable();
        users.dedup();
        Ok((users, newest))
    }

    /// The newest sequence number of the user's outbox: a live socket opened with it sends only
    /// what comes next.
    pub async fn latest_event(&self, user_id: &str) -> Result<i64> {
        let row = sqlx::query("SELECT CAST(COALESCE(MAX(seq), 0) AS BIGINT) FROM events WHERE user_id = $1")
            .bind(user_id)
            .fetch_one(&mut *self.reader().await?)
            .await?;
        Ok(row.try_get(0)?)
    }

    /// The newest outbox sequence number.
    pub async fn outbox_head(&self) -> Result<i64> {
        let row = sqlx::query("SELECT CAST(COALESCE(MAX(seq), 0) AS BIGINT) FROM events")
            .fetch_one(&mut *self.reader().await?)
            .await?;
        Ok(row.try_get(0)?)
    }

    /// The user's events after `cursor` (a sequence number), oldest first.
    pub async fn events(&self, user_id: &str, cursor: Option<i64>, limit: usize) -> Result<Page<EventView>> {
        let rows = sqlx::query(
            "SELECT seq, id, type, order_id, payload, created_at FROM events WHERE user_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
        )
        .bind(user_id)
        .bind(cursor.unwrap_or(0))
        .bind(limit as i64 + 1)
        .fetch_all(&mut *self.reader().await?)
        .await?;
        let items = rows
            .iter()
            .map(|r| {
                Ok(EventView {
                    id: r.try_get("id")?,
                    kind: r.try_get("type")?,
                    order_id: r.try_get("order_id")?,
                    payload: serde_json::from_str(&r.try_get::<String, _>("payload")?)?,
                    created_at: Timestamp(r.try_get("created_at")?),
                    cursor: r.try_get::<i64, _>("seq")?.to_string(),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Page::from_rows(items, limit, |e: &EventView| e.cursor.clone()))
    }
}

impl Tx {
    /// Puts `quantity` of a SKU in the cart (replacing what was there); 0 removes it.
    /// The user's cart as this transaction sees it.
    pub async fn cart(&mut self, user_id: &str) -> Result<Vec<CartLine>> {
        cart_of(self.conn(), user_id).await
    }

    pub async fn set_cart_item(&mut self, user_id: &str, sku_id: &str, quantity: i64) -> Result<()> {
        if quantity == 0 {
            sqlx::query("DELETE FROM cart_items WHERE user_id = $1 AND sku_id = $2")
                .bind(user_id)
                .bind(sku_id)
                .execute(self.conn())
                .await?;
            return Ok(());
        }
        if !(1..=souk_domain::checkout::MAX_LINE_QUANTITY).contains(&quantity) {
            return Err(Invalid::new("out_of_range", "quantity", "must be between 0 and 1000000").into());
        }
        // Only what is on sale goes in a cart: a draft's or an archived product's SKU is as
        // unknown as one that never existed.
        let exists = sqlx::query(
            "SELECT s.id FROM skus s JOIN products p ON p.id = s.product_id WHERE s.id = $1 AND p.status = 'active'",
        )
        .bind(sku_id)
        .fetch_optional(self.conn())
        .await?;
        if exists.is_none() {
            return Err(Invalid::new("unknown_sku", "sku_id", "no such SKU").into());
        }
        let count: i64 = sqlx::query("SELECT COUNT(*) AS n FROM cart_items WHERE user_id = $1")
            .bind(user_id)
            .fetch_one(self.conn())
            .await?
            .try_get("n")?;
        if count >= MAX_ITEMS as i64 {
            return Err(Invalid::new("too_many", "sku_id", format!("a cart holds at most {MAX_ITEMS} SKUs")).into());
        }
        sqlx::query(
            "INSERT INTO cart_items (user_id, sku_id, quantity, added_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (user_id, sku_id) DO UPDATE SET quantity = excluded.quantity",
        )
        .bind(user_id)
        .bind(sku_id)
        .bind(quantity)
        .bind(self.store().now_ms())
        .execute(self.conn())
        .await?;
        Ok(())
    }

    pub async fn cart_items(&mut self, user_id: &str) -> Result<Vec<Item>> {
        let rows = sqlx::query("SELECT sku_id, quantity FROM cart_items WHERE user_id = $1 ORDER BY added_at, sku_id")
            .bind(user_id)
            .fetch_all(self.conn())
            .await?;
        rows.iter().map(|r| Ok(Item { sku_id: r.try_get("sku_id")?, quantity: r.try_get("quantity")? })).collect()
    }

    /// Creates one order per store (and currency) from `items`, reserving their stock, all or
    /// nothing. Items bought are removed from the buyer's cart.
    pub async fn checkout(
        &mut self,
        buyer_id: &str,
        country: &str,
        items: &[Item],
        policy: &Policy,
    ) -> Result<(String, Vec<OrderView>)> {
        let (checkout_id, views) = self.place_orders(buyer_id, country, items, None, policy).await?;
        let bought: Vec<&str> = items.iter().map(|i| i.sku_id.as_str()).collect();
        let sql =
            format!("DELETE FROM cart_items WHERE user_id = $1 AND sku_id IN ({})", placeholders(1, bought.len()));
        let mut q = sqlx::query(&sql).bind(buyer_id);
        for s in bought {
            q = q.bind(s);
        }
        q.execute(self.conn()).await?;
        Ok((checkout_id, views))
    }

    /// One order for one SKU at a unit price the buyer and seller agreed (an accepted offer or
    /// quote), reserving its stock; every other checkout rule applies. The cart is untouched.
    pub async fn checkout_agreed(
        &mut self,
        buyer_id: &str,
        country: &str,
        item: &Item,
        unit_price: Money,
        policy: &Policy,
    ) -> Result<OrderView> {
        let (_, mut views) =
            self.place_orders(buyer_id, country, std::slice::from_ref(item), Some(unit_price), policy).await?;
        Ok(views.remove(0))
    }

    async fn place_orders(
        &mut self,
        buyer_id: &str,
        country: &str,
        items: &[Item],
        agreed_unit_price: Option<Money>,
        policy: &Policy,
    ) -> Result<(String, Vec<OrderView>)> {
        if items.is_empty() {
            return Err(Invalid::new("required", "items", "nothing to check out: the cart is empty").into());
        }
        if items.len() > MAX_ITEMS {
            return Err(Invalid::new("too_many", "items", format!("at most {MAX_ITEMS} items")).into());
        }
        let mut priced: Vec<(SkuForSale, Line)> = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let field = format!("items[{i}]");
            if items[..i].iter().any(|o| o.sku_id == item.sku_id) {
                return Err(Invalid::new(
                    "duplicate_item",
                    format!("{field}.sku_id"),
                    "each SKU once; set its quantity instead",
                )
                .into());
            }
            if !id::is_valid(Kind::Sku, &item.sku_id) {
                return Err(Invalid::new("unknown_sku", format!("{field}.sku_id"), "no such SKU").into());
            }
            let sku = match sku_for_sale(self.conn(), &item.sku_id).await {
                Err(StoreError::NotFound) => {
                    return Err(Invalid::new("unknown_sku", format!("{field}.sku_id"), "no such SKU").into())
                }
                other => other?,
            };
            let bps = policy.commission_bps_for(sku.category.as_deref());
            let mut line = price_line(&sku, item.quantity, country, buyer_id, bps, &field)?;
            if let Some(price) = agreed_unit_price {
                line.unit_price = price;
            }
            priced.push((sku, line));
        }
        // One order per store and currency, in the order the items came.
        let mut groups: Vec<(StoreCurrency, Vec<PricedLine>)> = Vec::new();
        for (sku, line) in priced {
            let key = (sku.store_id.clone(), sku.price.currency);
            match groups.iter_mut().find(|(k, _)| *k == key) {
                Some((_, g)) => g.push((sku, line)),
                None => groups.push((key, vec![(sku, line)])),
            }
        }
        let checkout_id = self.store().new_id(Kind::Checkout);
        let now = self.store().now_ms();
        let mut views = Vec::new();
        for ((store_id, cur), group) in groups {
            let order_id = self.store().new_id(Kind::Order);
            let order = Order {
                id: order_id.clone(),
                buyer_id: buyer_id.to_string(),
                seller_id: group[0].0.seller_id.clone(),
                currency: cur,
                lines: group.iter().map(|(_, l)| l.clone()).collect(),
                state: OrderState::PendingPayment,
                confirmation_extended: false,
                confirm_by_ms: None,
                shipped_at_ms: None,
            };
            let decision = place(&order, now, policy)
                .map_err(|_| Invalid::new("out_of_range", "items", "the order total is too large"))?;
            sqlx::query(
                "INSERT INTO orders (id, checkout_id, buyer_id, store_id, seller_id, currency, total, commission, state, ship_country, \
                 created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11)",
            )
            .bind(&order_id)
            .bind(&checkout_id)
            .bind(buyer_id)
            .bind(&store_id)
            .bind(&order.seller_id)
            .bind(cur.code())
            .bind(order.total().amount)
            .bind(order.commission())
            .bind(OrderState::PendingPayment.as_str())
            .bind(country)
            .bind(now)
            .execute(self.conn())
            .await?;
            // Every line of the order in one statement.
            let rows: Vec<String> = (0..group.len())
                .map(|i| {
                    let b = 6 * i + 1;
                    format!("($1, {i}, ${}, ${}, ${}, ${}, ${}, ${})", b + 1, b + 2, b + 3, b + 4, b + 5, b + 6)
                })
                .collect();
            let sql = format!(
                "INSERT INTO order_lines (order_id, position, sku_id, product_id, title, quantity, unit_price, commission_bps) \
                 VALUES {}",
                rows.join(", ")
            );
            let mut q = sqlx::query(&sql).bind(&order_id);
            for (sku, line) in &group {
                q = q
                    .bind(&line.sku_id)
                    .bind(&sku.product_id)
                    .bind(&sku.title)
                    .bind(line.quantity)
                    .bind(line.unit_price.amount)
                    .bind(line.commission_bps);
            }
            q.execute(self.conn()).await?;
            self.write_effects(&order, &decision).await?;
            views.push(self.load(&order_id).await?.view);
        }
        Ok((checkout_id, views))
    }

    pub async fn order(&mut self, id: &str) -> Result<OrderView> {
        Ok(self.load(id).await?.view)
    }

    async fn load(&mut self, id: &str) -> Result<OrderRow> {
        let backend = self.store().backend();
        load(self.conn(), backend, id).await
    }

    /// Takes `action` on the order: decides it in the domain and writes the decision. An
    /// action the order's state does not allow is `invalid_state`.
    pub async fn act(&mut self, order_id: &str, action: Action, policy: &Policy) -> Result<OrderView> {
        self.act_at(order_id, action, None, policy).await
    }

    /// Like [`Tx::act`], for an action that happened earlier than now: a carrier's delivery
    /// scan reaches Souk after the parcel arrived. The time is clamped between the order's
    /// shipping (or last change) and now, so a carrier's clock cannot move milestones out of order.
    pub async fn act_at(
        &mut self,
        order_id: &str,
        action: Action,
        happened_at_ms: Option<i64>,
        policy: &Policy,
    ) -> Result<OrderView> {
        let row = self.load(order_id).await?;
        let now = self.store().now_ms();
        let floor = row.order.shipped_at_ms.unwrap_or(now).min(now);
        let at = happened_at_ms.map_or(now, |t| t.clamp(floor, now));
        let decision = decide(&row.order, action, at, policy).map_err(|r| match r {
            Refusal::InvalidState(s) => invalid_state(s),
            Refusal::Overflow => Invalid::new("out_of_range", "total", "the order total is too large").into(),
        })?;
        // The guarded state change comes first: on PostgreSQL it takes the row lock, so a
        // concurrent action on the same order waits, then finds the state moved and stops. The
        // milestone's time, a cancellation's reason and an extension go in the same statement.
        let stamp = crate::trust::milestone_column(decision.state).filter(|_| decision.state != row.order.state);
        let reason = action.cancel_reason();
        let mut set = String::from("state = $3, updated_at = $4");
        if let Some(column) = stamp {
            set.push_str(&format!(", {column} = $5"));
        }
        if reason.is_some() {
            set.push_str(if stamp.is_some() { ", cancel_reason = $6" } else { ", cancel_reason = $5" });
        }
        if action == Action::ExtendConfirmation {
            set.push_str(", confirmation_extended = 1");
        }
        let sql = format!("UPDATE orders SET {set} WHERE id = $1 AND state = $2");
        let mut q =
            sqlx::query(&sql).bind(order_id).bind(row.order.state.as_str()).bind(decision.state.as_str()).bind(now);
        if stamp.is_some() {
            q = q.bind(at);
        }
        if let Some(reason) = reason {
            q = q.bind(reason);
        }
        let moved = q.execute(self.conn()).await?;
        if moved.rows_affected() != 1 {
            let current = self.load(order_id).await?;
            return Err(invalid_state(current.order.state));
        }
        self.record_milestones(&row.order, action, decision.state, at, policy).await?;
        self.write_effects(&row.order, &decision).await?;
        self.order(order_id).await
    }

    /// Records the carrier and tracking number of a shipment.
    pub async fn set_tracking(&mut self, order_id: &str, carrier: &str, tracking: &str) -> Result<()> {
        sqlx::query("UPDATE orders SET carrier = $1, tracking_number = $2 WHERE id = $3")
            .bind(carrier)
            .bind(tracking)
            .bind(order_id)
            .execute(self.conn())
            .await?;
        Ok(())
    }

    /// Settles a disputed order with `outcome` (`dispute::settle`): its escrow goes to the buyer,
    /// the seller and the platform in one set of postings, guarded on the order still being
    /// disputed, and the store's trust totals count the outcome.
    pub async fn settle_disputed(&mut self, order_id: &str, outcome: Outcome) -> Result<OrderView> {
        let row = self.load(order_id).await?;
        let decision = dispute::settle(&row.order, outcome).map_err(|r| match r {
            Refusal::InvalidState(s) => invalid_state(s),
            Refusal::Overflow => Invalid::new("out_of_range", "amount", "more than the order's total").into(),
        })?;
        let now = self.store().now_ms();
        let moved = sqlx::query("UPDATE orders SET state = $1, updated_at = $2 WHERE id = $3 AND state = 'disputed'")
            .bind(decision.state.as_str())
            .bind(now)
            .bind(order_id)
            .execute(self.conn())
            .await?;
        if moved.rows_affected() != 1 {
            return Err(invalid_state(self.load(order_id).await?.order.state));
        }
        self.record_settlement(&row.order, outcome, decision.state).await?;
        self.write_effects(&row.order, &decision).await?;
        self.order(order_id).await
    }

    /// Writes a decision's postings, stock changes, deadlines and events.
    async fn write_effects(&mut self, order: &Order, d: &Decision) -> Result<()> {
        self.apply_postings(&d.postings, Some(&order.id), None).await?;
        if d.state == OrderState::Paid && order.state != OrderState::Paid {
            self.count_purchase(&order.id).await?;
        }
        for change in &d.stock {
            let (sql, sku, qty) = match change {
                StockChange::Reserve { sku_id, quantity } => {
                    ("UPDATE stock SET reserved = reserved + $1 WHERE sku_id = $2 AND on_hand - reserved >= $1", sku_id, quantity)
                }
                StockChange::Release { sku_id, quantity } => {
                    ("UPDATE stock SET reserved = reserved - $1 WHERE sku_id = $2 AND reserved >= $1", sku_id, quantity)
                }
                StockChange::Sell { sku_id, quantity } => (
                    "UPDATE stock SET on_hand = on_hand - $1, reserved = reserved - $1 WHERE sku_id = $2 AND reserved >= $1",
                    sku_id,
                    quantity,
                ),
                StockChange::Restock { sku_id, quantity } => ("UPDATE stock SET on_hand = on_hand + $1 WHERE sku_id = $2", sku_id, quantity),
            };
            let res = sqlx::query(sql).bind(*qty).bind(sku).execute(self.conn()).await?;
            if res.rows_affected() != 1 {
                return Err(match change {
                    StockChange::Reserve { .. } => StoreError::Conflict {
                        kind: Conflict::OutOfStock,
                        message: format!("not enough stock of {sku} for {qty} more"),
                    },
                    // A SKU deleted since checkout: the units have nowhere to go back to.
                    StockChange::Restock { .. } | StockChange::Release { .. } => continue,
                    StockChange::Sell { .. } => StoreError::Conflict {
                        kind: Conflict::OutOfStock,
                        message: format!("the reserved units of {sku} are gone"),
                    },
                });
            }
        }
        let cancelled: Vec<DeadlineKind> =
            d.cancel_deadlines.iter().flat_map(|kind| std::iter::once(*kind).chain(kind.reminder())).collect();
        self.cancel_jobs(&order.id, &cancelled).await?;
        for (kind, due_at) in &d.deadlines {
            self.schedule(&order.id, *kind, *due_at).await?;
            if *kind == DeadlineKind::ConfirmBy {
                sqlx::query("UPDATE orders SET confirm_by = $1 WHERE id = $2")
                    .bind(*due_at)
                    .bind(&order.id)
                    .execute(self.conn())
                    .await?;
            }
        }
        for event in &d.events {
            let payload = serde_json::json!({"order_id": order.id, "state": d.state.as_str(), "total": order.total()});
            self.emit(&[&order.buyer_id, &order.seller_id], event, Some(&order.id), &payload).await?;
        }
        Ok(())
    }
}

/// The user's cart, with each line's unit price at its quantity; only what is on sale.
async fn cart_of(conn: &mut AnyConnection, user_id: &str) -> Result<Vec<CartLine>> {
    let rows = sqlx::query(
        "SELECT c.sku_id, c.quantity, s.product_id, s.price_minor, s.currency, s.tiers, p.title, p.store_id, \
                k.on_hand - k.reserved AS available \
         FROM cart_items c JOIN skus s ON s.id = c.sku_id JOIN products p ON p.id = s.product_id \
         JOIN stock k ON k.sku_id = s.id WHERE c.user_id = $1 AND p.status = 'active' \
         ORDER BY c.added_at, c.sku_id",
    )
    .bind(user_id)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|r| {
            let c = currency(&r.try_get::<String, _>("currency")?)?;
            let tiers: Vec<PriceTier> = serde_json::from_str(&r.try_get::<String, _>("tiers")?)?;
            let quantity: i64 = r.try_get("quantity")?;
            let base = Money::new(r.try_get("price_minor")?, c);
            Ok(CartLine {
                sku_id: r.try_get("sku_id")?,
                product_id: r.try_get("product_id")?,
                store_id: r.try_get("store_id")?,
                title: r.try_get("title")?,
                quantity,
                unit_price: souk_domain::catalog::unit_price(base, &tiers, quantity),
                available: r.try_get("available")?,
            })
        })
        .collect()
}
