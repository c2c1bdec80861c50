//! The buyer's purchase pages: cart, checkout, wallet with sandbox top-ups, and orders with
//! their timeline, tracking and actions (pay, confirm, extend, cancel, dispute, review).
//!
//! Every form acts once (`forms::once!`).

use super::forms::{form_key, once, to_login};
use super::{money, Ctx};
use crate::App;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Form;
use maud::{html, Markup};
use serde::Deserialize;
use souk_app::access::Side;
use souk_app::orders;
use souk_app::views::OrderScope;
use souk_app::views::{DisputeView, EvidenceView, User};
use souk_domain::dispute::Reason;
use souk_domain::order::{Action, OrderState, OrderView};
use souk_domain::time::Timestamp;
use souk_domain::Money;

#[derive(Deserialize)]
pub struct CartForm {
    sku_id: String,
    quantity: i64,
    #[serde(default)]
    _csrf: String,
    #[serde(default)]
    _key: String,
}

pub async fn add_to_cart(State(app): State<App>, ctx: Ctx, Form(f): Form<CartForm>) -> Response {
    let Some(user) = ctx.user.clone() else { return to_login("/cart") };
    if !ctx.csrf_ok(&f._csrf) {
        return ctx.expired_form();
    }
    once!(app, ctx, user, f._key, |tx| {
        orders::set_cart_item(&mut tx, &user.id, &f.sku_id, f.quantity).await?;
        "/cart".to_string()
    })
}

/// The cart's total in each of its currencies: "129.00 CNY + 19.99 USD".
fn cart_totals(lines: &[souk_app::views::CartLine]) -> String {
    let mut totals: Vec<Money> = Vec::new();
    for l in lines {
        let line = l.unit_price.amount.saturating_mul(l.quantity);
        match totals.iter_mut().find(|t| t.currency == l.unit_price.currency) {
            Some(t) => t.amount = t.amount.saturating_add(line),
            None => totals.push(Money::new(line, l.unit_price.currency)),
        }
    }
    totals.iter().map(money).collect::<Vec<_>>().join(" + ")
}

#[derive(Deserialize)]
pub struct QuantityForm {
    #[serde(default)]
    quantity: i64,
    #[serde(default)]
    _csrf: String,
    #[serde(default)]
    _key: String,
}

/// Changes a cart line's quantity (at least one; removing is its own button).
pub async fn edit_cart(
    State(app): State<App>,
    ctx: Ctx,
    Path(sku): Path<String>,
    Form(f): Form<QuantityForm>,
) -> Response {
    let quantity = f.quantity.max(1);
    set_cart_line(app, ctx, sku, quantity, f).await
}

/// Takes a line out of the cart.
pub async fn remove_from_cart(
    State(app): State<App>,
    ctx: Ctx,
    Path(sku): Path<String>,
    Form(f): Form<QuantityForm>,
) -> Response {
    set_cart_line(app, ctx, sku, 0, f).await
}

async fn set_cart_line(app: App, ctx: Ctx, sku: String, quantity: i64, f: QuantityForm) -> Response {
    let user = match ctx.poster(&f._csrf, "/cart") {
        Ok(u) => u,
        Err(r) => return *r,
    };
    once!(app, ctx, user, f._key, |tx| {
        orders::set_cart_item(&mut tx, &user.id, &sku, quantity).await?;
        "/cart".to_string()
    })
}

pub async fn cart(State(app): State<App>, ctx: Ctx) -> Response {
    let Some(user) = ctx.user.clone() else { return to_login("/cart") };
    let Ok(lines) = app.cart(&user.id).await else { return ctx.error() };
    let body = html! {
        h1 { (ctx.t("Cart")) }
        @if lines.is_empty() {
            p.notice { (ctx.t("Your cart is empty.")) }
        } @else {
            table.skus.cart {
                @for l in &lines {
                    tr {
                        td { a href=(format!("/products/{}", l.product_id)) { (l.title) } }
                        td {
                            form.inline.quantity method="post" action=(format!("/cart/items/{}", l.sku_id)) {
                                (ctx.csrf_field()) (form_key())
                                input type="number" name="quantity" min="1" max="100000" value=(l.quantity) aria-label=(ctx.t("Quantity")) size="4";
                                " × " (money(&l.unit_price)) " "
                                button.link type="submit" { (ctx.t("Update")) }
                            }
                        }
                        td.price { (money(&Money::new(l.unit_price.amount.saturating_mul(l.quantity), l.unit_price.currency))) }
                        td {
                            form.inline method="post" action=(format!("/cart/items/{}/remove", l.sku_id)) {
                                (ctx.csrf_field()) (form_key())
                                button.link type="submit" aria-label=(format!("{} {}", ctx.t("Remove"), l.title)) { (ctx.t("Remove")) }
                            }
                        }
                    }
                }
            }
            p.total { (ctx.t("Total")) ": " (cart_totals(&lines)) }
            form.checkout method="post" action="/checkout" {
                (ctx.csrf_field())
                (form_key())
                label { (ctx.t("Ship to (country code)")) input name="ship_to" required maxlength="2" size="3" placeholder="DE"; }
                button type="submit" { (ctx.t("Check out and pay")) }
            }
        }
    };
    ctx.page(StatusCode::OK, ctx.t("Cart"), body)
}

#[derive(Deserialize)]
pub struct CheckoutForm {
    ship_to: String,
    #[serde(default)]
    _csrf: String,
    #[serde(default)]
    _key: String,
}

/// Checks the cart out (one order per store) and pays every order the wallet covers, in one
/// transaction; what it cannot cover waits on the orders page with its payment window.
pub async fn checkout(State(app): State<App>, ctx: Ctx, Form(f): Form<CheckoutForm>) -> Response {
    let Some(user) = ctx.user.clone() else { return to_login("/cart") };
    if !ctx.csrf_ok(&f._csrf) {
        return ctx.expired_form();
    }
    once!(app, ctx, user, f._key, |tx| {
        let placed = orders::checkout_and_pay_covered(&app, &mut tx, &user.id, &f.ship_to).await?;
        match placed.as_slice() {
            [one] => format!("/orders/{}", one.id),
            _ => "/orders".to_string(),
        }
    })
}

/// The balances, and the top-ups still waiting for the card's provider: while any waits, the
/// block asks again every two seconds (htmx) and shows the credited balance once it is in.
fn balances(ctx: &Ctx, balances: &[souk_domain::ledger::WalletBalance], pending: &[souk_app::views::TopUp]) -> Markup {
    html! {
        div #balances hx-get=[(!pending.is_empty()).then_some("/wallet/balances")] hx-trigger=[(!pending.is_empty()).then_some("every 2s")]
            hx-swap="outerHTML" aria-live="polite" {
            table.skus {
                tr { th { } th { (ctx.t("Available")) } th { (ctx.t("In escrow for purchases")) } th { (ctx.t("Incoming from sales")) } }
                @for b in balances {
                    tr { td { (b.currency) } td.price { (money(&b.available)) } td { (money(&b.held)) } td { (money(&b.incoming)) } }
                }
            }
            @for t in pending {
                p.notice.pending { (ctx.t("Top-up pending")) ": " strong { (money(&t.amount)) } " · " (ctx.t("card ending")) " " (t.card_last4)
                    " · " (ctx.t("waiting for the card's provider to confirm; this updates by itself.")) }
            }
        }
    }
}

/// The wallet's balances block alone, for the page to refresh while a top-up is pending.
pub async fn wallet_balances(State(app): State<App>, ctx: Ctx) -> Response {
    let Some(user) = ctx.user.clone() else { return to_login("/wallet") };
    let (Ok(b), Ok(pending)) = (app.wallet(&user.id).await, app.pending_top_ups_of(&user.id).await) else {
        return ctx.error();
    };
    let mut res = ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], balances(&ctx, &b, &pending).into_string())
        .into_response();
    if pending.is_empty() {
        // The top-up is settled: the whole page comes again, its history too, saying so once.
        res.headers_mut().insert("HX-Refresh", HeaderValue::from_static("true"));
        let done = format!("{}=settled; Path=/; Max-Age=60; HttpOnly; SameSite=Lax", super::forms::DONE_COOKIE);
        if let Ok(v) = HeaderValue::from_str(&done) {
            res.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    res
}

pub async fn wallet(State(app): State<App>, ctx: Ctx) -> Response {
    let Some(user) = ctx.user.clone() else { return to_login("/wallet") };
    let (Ok(b), Ok(pending), Ok(history)) = (
        app.wallet(&user.id).await,
        app.pending_top_ups_of(&user.id).await,
        app.wallet_transactions(&user.id, None, 30).await,
    ) else {
        return ctx.error();
    };
    let balances_currency = b.first().map_or("CNY", |b| b.currency.as_str()).to_string();
    let body = html! {
        h1 { (ctx.t("Wallet")) }
        (balances(&ctx, &b, &pending))
        h2 { (ctx.t("Top up")) }
        form.topup method="post" action="/wallet/top-up" {
            (ctx.csrf_field())
            (form_key())
            label { (ctx.t("Amount")) input name="amount" required inputmode="decimal" placeholder="500.00"; }
            label { (ctx.t("Currency")) input name="currency" required maxlength="3" size="4" value=(ctx.typing_currency()); }
            label { (ctx.t("Card number")) input name="card_number" required inputmode="numeric" value="4242424242424242"; }
            button type="submit" { (ctx.t("Top up")) }
            p.hint { (ctx.t("Sandbox: 4242424242424242 succeeds, 4000000000000002 is declined.")) }
        }
        h2 { (ctx.t("Pay out")) }
        form.payout method="post" action="/wallet/payout" data-confirm=(ctx.t("Pay this amount out to the bank account? It leaves your wallet now."))
            onsubmit="return confirm(this.dataset.confirm)" {
            (ctx.csrf_field())
            (form_key())
            label { (ctx.t("Amount")) input name="amount" required inputmode="decimal"; }
            label { (ctx.t("Currency")) input name="currency" required maxlength="3" size="4" value=(balances_currency); }
            label { (ctx.t("Bank account")) input name="destination" required maxlength="200"; }
            button type="submit" { (ctx.t("Pay out")) }
        }
        h2 { (ctx.t("History")) }
        table.history {
            @for t in &history.items {
                tr { td { (ctx.when(t.created_at)) } td { (ctx.code(&t.kind)) } td.price { (money(&t.amount)) }
                    td { @if let Some(o) = &t.order_id { a href=(format!("/orders/{o}")) { code { (o) } } } } }
            }
        }
    };
    ctx.page(StatusCode::OK, ctx.t("Wallet"), body)
}

#[derive(Deserialize)]
pub struct TopUpForm {
    amount: String,
    currency: String,
    card_number: String,
    #[serde(default)]
    _csrf: String,
    #[serde(default)]
    _key: String,
}

pub async fn top_up(State(app): State<App>, ctx: Ctx, Form(f): Form<TopUpForm>) -> Response {
    let Some(user) = ctx.user.clone() else { return to_login("/wallet") };
    if !ctx.csrf_ok(&f._csrf) {
        return ctx.expired_form();
    }
    once!(app, ctx, user, f._key, |tx| {
        let amount = super::forms::major(&f.amount, super::forms::currency(&f.currency)?, "amount")?;
        // A decline is kept in the history and shown on the form's page.
        (tx, _) = souk_app::wallet::top_up(&app, tx, &user.id, amount, &f.card_number).await?;
        "/wallet".to_string()
    })
}

#[derive(Deserialize, Default)]
pub struct ListForm {
    #[serde(default)]
    pub cursor: String,
}

/// Orders per list page.
const ORDERS_PAGE: usize = 30;

pub async fn orders(State(app): State<App>, ctx: Ctx, Query(f): Query<ListForm>) -> Response {
    let Some(user) = ctx.user.clone() else { return to_login("/orders") };
    let cursor = Some(f.cursor.as_str()).filter(|c| !c.is_empty());
    let Ok(page) = app.list_orders(OrderScope::Buyer(&user.id), cursor, ORDERS_PAGE).await else { return ctx.error() };
    let body = html! {
        h1 { (ctx.t("My orders")) }
        @if page.items.is_empty() { p.notice { (ctx.t("No orders yet.")) } }
        (order_list(&ctx, &page.items, false))
        @if let Some(next) = &page.next_cursor {
            a.next href=(format!("/orders?cursor={}", super::pages::encode(next))) { (ctx.t("Older orders")) " →" }
        }
    };
    ctx.page(StatusCode::OK, ctx.t("My orders"), body)
}

/// Orders as a list: what was bought, when, the total and the state; a seller also sees where
/// it goes.
pub(crate) fn order_list(ctx: &Ctx, orders: &[OrderView], seller: bool) -> Markup {
    html! {
        ul.orders {
            @for o in orders {
                li {
                    a href=(format!("/orders/{}", o.id)) {
                        (o.lines.first().map(|l| l.title.as_str()).unwrap_or(""))
                        @if o.lines.len() > 1 { " " (ctx.t("and")) " " (ctx.count(o.lines.len() as i64 - 1, "more item", "more items")) }
                    }
                    span.meta {
                        (ctx.when(o.created_at)) " · " (money(&o.total)) " · " span.state { (ctx.t(state_key(o.state))) }
                        @if seller { " · " (ctx.t("to")) " " (o.ship_country) }
                        " · " span.order-id { (o.id) }
                    }
                }
            }
        }
    }
}

/// The i18n key of an order state.
pub(crate) fn state_key(state: OrderState) -> &'static str {
    match state {
        OrderState::PendingPayment => "awaiting payment",
        // The other states' keys are their names.
        other => other.as_str(),
    }
}

fn action_button(ctx: &Ctx, order: &str, action: &str, label: &'static str) -> Markup {
    // What cannot be taken back is asked once more, saying what will happen.
    let confirm = match action {
        "confirm" => Some("Confirm receipt? The payment goes to the seller and cannot come back."),
        "cancel" => Some("Cancel this order? A paid order is refunded to your wallet."),
        _ => None,
    };
    html! {
        form.inline method="post" action=(format!("/orders/{order}/{action}"))
            data-confirm=[confirm.map(|c| ctx.t(c))] onsubmit=[confirm.map(|_| "return confirm(this.dataset.confirm)")] {
            (ctx.csrf_field()) (form_key())
            button type="submit" { (ctx.t(label)) }
        }
    }
}

fn timeline(ctx: &Ctx, o: &OrderView) -> Markup {
    let steps: [(&'static str, Option<Timestamp>); 5] = [
        ("ordered", Some(o.created_at)),
        ("paid", o.paid_at),
        ("shipped", o.shipped_at),
        ("delivered", o.delivered_at),
        ("completed", o.completed_at),
    ];
    // An order that ended early shows the steps it reached, then how it ended.
    let ended = matches!(o.state, OrderState::Cancelled | OrderState::Refunded);
    html! {
        ol.timeline {
            @for (label, at) in steps {
                @if !ended || at.is_some() {
                    li.done[at.is_some()] { span { (ctx.t(label)) } @if let Some(t) = at { " " (ctx.when(t)) } }
                }
            }
            @if ended { li.ended { span { (ctx.t(state_key(o.state))) } " " (ctx.when(o.updated_at)) } }
        }
    }
}

pub async fn order(State(app): State<App>, ctx: Ctx, Path(id): Path<String>) -> Response {
    let Some(user) = ctx.user.clone() else { return to_login(&format!("/orders/{id}")) };
    // Its buyer acts on it; its seller sees it too, and ships it from here.
    let buyer = match souk_app::access::side(&app, &user, &id).await {
        Ok(side @ (Side::Buyer | Side::Seller)) => side == Side::Buyer,
        Err(e) if e.kind.is_ours() => return ctx.error(),
        _ => return ctx.not_found(),
    };
    let Ok(o) = app.order(&id).await else { return ctx.not_found() };
    let Ok(tracking) = app.tracking(&id).await else { return ctx.error() };
    let review_state = app.order_review_state(&id).await.ok();
    let dispute = match app.dispute_of_order(&id).await {
        Ok(d) => match app.evidence(&d.view.id).await {
            Ok(evidence) => {
                // When the buyer may ask for a mediator, as the dispute's rules say.
                use souk_domain::dispute::{step, DisputeRefusal, Step};
                let escalation = match step(&d.rules, Step::BuyerEscalates, app.now_ms(), &app.config.policy) {
                    Ok(_) => Some(None),
                    Err(DisputeRefusal::TooEarly { allowed_from_ms }) => Some(Some(Timestamp(allowed_from_ms))),
                    Err(_) => None,
                };
                Some((d, evidence, escalation))
            }
            Err(_) => return ctx.error(),
        },
        Err(e) if e.kind == souk_app::error::ErrorKind::NotFound => None,
        Err(_) => return ctx.error(),
    };
    let state = Some(o.state);
    let body = html! {
        h1 { (ctx.t("Order")) " " code { (o.id) } }
        p { span.state { (ctx.t(state_key(o.state))) } " · " (money(&o.total)) }
        (timeline(&ctx, &o))
        table.skus {
            @for l in &o.lines { tr { td { (l.title) } td { (l.quantity) " × " (money(&l.unit_price)) } } }
        }
        @if let Some(t) = &o.tracking_number {
            h2 { (ctx.t("Tracking")) }
            p { (o.carrier.as_deref().map(|c| ctx.t(super::work::carrier_label(c))).unwrap_or("")) " " code { (t) } }
            ul { @for e in &tracking { li { (ctx.when(e.occurred_at)) " · " (ctx.code(&e.kind)) @if let Some(d) = &e.description { " · " (d) } } } }
        }
        @if let Some((d, evidence, escalation)) = &dispute { (dispute_panel(&ctx, &o, &d.view, evidence, buyer, *escalation)) }
        @if !buyer {
            @if state == Some(OrderState::Paid) { (super::work::ship_form(&ctx, &o.id)) }
        } @else {
        div.actions {
            @match state {
                Some(OrderState::PendingPayment) => {
                    (action_button(&ctx, &o.id, "pay", "Pay from wallet"))
                    (action_button(&ctx, &o.id, "cancel", "Cancel"))
                }
                Some(OrderState::Paid) => { (action_button(&ctx, &o.id, "cancel", "Cancel")) }
                Some(OrderState::Shipped | OrderState::Delivered) => {
                    (action_button(&ctx, &o.id, "confirm", "Confirm receipt"))
                    @if !o.confirmation_extended { (action_button(&ctx, &o.id, "extend", "Extend confirmation")) }
                }
                _ => {}
            }
        }
        @if matches!(state, Some(OrderState::Paid | OrderState::Shipped | OrderState::Delivered)) {
            details.dispute {
                summary { (ctx.t("Open a dispute")) }
                form method="post" action=(format!("/orders/{}/dispute", o.id)) {
                    (ctx.csrf_field()) (form_key())
                    select name="reason" aria-label=(ctx.t("Reason")) { @for r in Reason::ALL { option value=(r.as_str()) { (ctx.code(r.as_str())) } } }
                    textarea name="description" required maxlength=(souk_domain::dispute::MAX_STATEMENT_CHARS) {}
                    button type="submit" { (ctx.t("Open a dispute")) }
                }
            }
        }
        @if let (true, Some((_, Some(hidden)))) = (buyer, &review_state) {
            (super::moderation::held_notice(&ctx, hidden))
        } @else if buyer && review_state.as_ref().is_some_and(|(done, _)| *done) {
            p.hint { (ctx.t("You have reviewed this order. Thank you.")) }
        } @else if state == Some(OrderState::Completed) {
            h2 { (ctx.t("Review")) }
            form.review method="post" action=(format!("/orders/{}/review", o.id)) {
                (ctx.csrf_field()) (form_key())
                label { (ctx.t("Stars")) select name="stars" { @for n in (1..=5).rev() { option value=(n) { (n) } } } }
                textarea name="text" maxlength=(souk_domain::review::MAX_REVIEW_CHARS) aria-label=(ctx.t("Review")) {}
                input type="hidden" name="images";
                (super::forms::upload_field(&ctx, "Add photos", "images"))
                button type="submit" { (ctx.t("Post review")) }
            }
        }
        }
    };
    ctx.page(StatusCode::OK, ctx.t("Order"), body)
}

/// An order's dispute as its parties follow it: where it stands, what each side put on record,
/// and what the caller may do next.
/// `escalation`: the buyer may ask for a mediator now (`Some(None)`), from a moment on, or not.
fn dispute_panel(
    ctx: &Ctx,
    o: &OrderView,
    d: &DisputeView,
    evidence: &[EvidenceView],
    buyer: bool,
    escalation: Option<Option<Timestamp>>,
) -> Markup {
    let step = |name: &str, label: &'static str, confirm: &'static str| {
        html! {
            form.inline method="post" action=(format!("/disputes/{}/{name}", d.id)) data-confirm=(ctx.t(confirm)) onsubmit="return confirm(this.dataset.confirm)" {
                (ctx.csrf_field()) (form_key())
                button type="submit" { (ctx.t(label)) }
            }
        }
    };
    let amount = |minor: i64| money(&Money::new(minor, o.total.currency));
    html! {
        section.dispute {
            h2 { (ctx.t("Dispute")) }
            p { span.state { (ctx.code(&d.state)) } " · " (ctx.code(&d.reason)) " · " (ctx.t("opened")) " " (ctx.when(d.opened_at)) }
            p.statement { (d.description) }
            @if let Some(offered) = d.offered.filter(|_| d.state == "refund_offered") {
                p.notice { (ctx.t("The seller offers a partial refund of")) " " strong { (amount(offered)) } }
            }
            @if d.state == "return_requested" {
                p.notice { (ctx.t("The seller asks for the goods back; the refund follows once they arrive.")) }
            }
            @if let (Some(carrier), Some(t)) = (&d.return_carrier, &d.return_tracking) {
                p { (ctx.t("Return")) ": " (ctx.t(super::work::carrier_label(carrier))) " " code { (t) } }
            }
            @if let Some(outcome) = &d.outcome {
                @let words = match outcome.as_str() {
                    "refund" => "Refunded in full",
                    "partial_refund" => "Partly refunded",
                    _ => "Released to the seller",
                };
                p.ok { (ctx.t(words)) @if let Some(r) = d.refund.filter(|r| *r > 0) { ": " (amount(r)) " " (ctx.t("back to the buyer")) } }
            }
            ol.evidence {
                @for e in evidence {
                    li { strong { (ctx.code(&e.role)) } " · " (ctx.code(&e.kind)) " · " (ctx.when(e.created_at)) @if !e.text.is_empty() { br; (e.text) }
                        @if !e.images.is_empty() { span.photos { @for i in &e.images { (super::photo_link(i)) } } } }
                }
            }
            @if d.state != "resolved" {
                div.actions {
                    @if buyer {
                        @if d.state == "refund_offered" { (step("accept", "Accept the partial refund", "Accept the partial refund? The dispute ends with it.")) }
                        @match escalation {
                            Some(None) => { (step("escalate", "Ask for a mediator", "Ask Souk's mediators to decide?")) }
                            Some(Some(from)) => { p.hint { (ctx.t("You can ask for a mediator from")) " " (ctx.when(from)) } }
                            None => {}
                        }
                    } @else if d.state == "return_shipped" {
                        (step("received", "The return arrived", "Confirm the return arrived? The buyer is refunded."))
                    }
                }
                @if buyer && d.state == "return_requested" {
                    form.return method="post" action=(format!("/disputes/{}/return", d.id)) {
                        (ctx.csrf_field()) (form_key())
                        select name="carrier" aria-label=(ctx.t("Carrier")) {
                            @for c in souk_domain::shipping::CARRIERS { option value=(c) { (ctx.t(super::work::carrier_label(c))) } }
                        }
                        input name="tracking_number" required placeholder=(ctx.t("Tracking number"));
                        button type="submit" { (ctx.t("Send the return")) }
                    }
                }
                form.evidence method="post" action=(format!("/disputes/{}/evidence", d.id)) {
                    (ctx.csrf_field()) (form_key())
                    textarea name="text" maxlength="2000" aria-label=(ctx.t("Evidence")) placeholder=(ctx.t("Add to the record")) {}
                    input type="hidden" name="images";
                    (super::forms::upload_field(ctx, "Add photos", "images"))
                    button type="submit" { (ctx.t("Add")) }
                }
            }
        }
    }
}

#[derive(Deserialize)]
pub struct DisputeStepForm {
    #[serde(default)]
    text: String,
    /// Links of uploaded photos, one per line.
    #[serde(default)]
    images: String,
    #[serde(default)]
    carrier: String,
    #[serde(default)]
    tracking_number: String,
    #[serde(default)]
    _csrf: String,
    #[serde(default)]
    _key: String,
}

/// A party's step in a dispute from the order page: accept, escalate, ship the return, confirm
/// it arrived, or add to the record. The rules of who may take which step are the API's.
pub async fn dispute_step(
    State(app): State<App>,
    ctx: Ctx,
    Path((id, step)): Path<(String, String)>,
    Form(f): Form<DisputeStepForm>,
) -> Response {
    use souk_app::disputes;
    use souk_domain::dispute::Step;
    let user = match ctx.poster(&f._csrf, "/orders") {
        Ok(u) => u,
        Err(res) => return *res,
    };
    let Ok((row, actor)) = disputes::dispute_for(&app, &user, &id).await else { return ctx.not_found() };
    let step = match step.as_str() {
        "accept" => Some(Step::BuyerAccepts),
        "escalate" => Some(Step::BuyerEscalates),
        "return" => Some(Step::BuyerShipsReturn),
        "received" => Some(Step::SellerReceivedReturn),
        "evidence" => None,
        _ => return ctx.not_found(),
    };
    let back = format!("/orders/{}", row.view.order_id);
    once!(app, ctx, user, f._key, |tx| {
        match step {
            Some(Step::BuyerShipsReturn) => {
                let (carrier, tracking, note) = disputes::return_parcel(&f.carrier, &f.tracking_number)?;
                let parcel = Some((carrier.as_str(), tracking.as_str()));
                disputes::take_step(&app, &mut tx, &id, Step::BuyerShipsReturn, &actor, &note, parcel).await?;
            }
            Some(step) => {
                let nothing = souk_app::views::Evidence::default();
                disputes::take_step(&app, &mut tx, &id, step, &actor, &nothing, None).await?;
            }
            None => {
                let images = f.images.lines().map(str::trim).filter(|l| !l.is_empty()).map(str::to_string).collect();
                let input = disputes::EvidenceInput { text: f.text.clone(), images };
                disputes::add_evidence(&mut tx, &id, &actor, &disputes::more_evidence(&input)?).await?;
            }
        }
        back.clone()
    })
}

/// Whether a buyer's order form may act.
enum Gate {
    Open(User, Box<OrderView>),
    Closed(Response),
}

/// The logged-in buyer's own order, for a form with a valid CSRF token.
async fn buyers_order(app: &App, ctx: &Ctx, id: &str, csrf: &str) -> Gate {
    let Some(user) = ctx.user.clone() else { return Gate::Closed(to_login(&format!("/orders/{id}"))) };
    if !ctx.csrf_ok(csrf) {
        return Gate::Closed(ctx.expired_form());
    }
    match souk_app::access::side(app, &user, id).await {
        Ok(Side::Buyer) => {}
        Err(e) if e.kind.is_ours() => return Gate::Closed(ctx.error()),
        _ => return Gate::Closed(ctx.not_found()),
    }
    match app.order(id).await {
        Ok(o) if o.buyer_id == user.id => Gate::Open(user, Box::new(o)),
        _ => Gate::Closed(ctx.not_found()),
    }
}

#[derive(Deserialize)]
pub struct KeyForm {
    #[serde(default)]
    _csrf: String,
    #[serde(default)]
    _key: String,
}

/// The buyer's order actions: pay, confirm, extend, cancel.
pub async fn order_action(
    State(app): State<App>,
    ctx: Ctx,
    Path((id, action)): Path<(String, String)>,
    Form(f): Form<KeyForm>,
) -> Response {
    let action = match action.as_str() {
        "pay" => Action::Pay,
        "confirm" => Action::Confirm,
        "extend" => Action::ExtendConfirmation,
        "cancel" => Action::BuyerCancel,
        _ => return ctx.not_found(),
    };
    let user = match buyers_order(&app, &ctx, &id, &f._csrf).await {
        Gate::Open(user, _) => user,
        Gate::Closed(page) => return page,
    };
    once!(app, ctx, user, f._key, |tx| {
        orders::act(&app, &mut tx, Side::Buyer, &id, action).await?;
        format!("/orders/{id}")
    })
}

#[derive(Deserialize)]
pub struct DisputeForm {
    reason: String,
    description: String,
    #[serde(default)]
    _csrf: String,
    #[serde(default)]
    _key: String,
}

pub async fn dispute(State(app): State<App>, ctx: Ctx, Path(id): Path<String>, Form(f): Form<DisputeForm>) -> Response {
    let (user, _) = match buyers_order(&app, &ctx, &id, &f._csrf).await {
        Gate::Open(user, order) => (user, *order),
        Gate::Closed(page) => return page,
    };
    once!(app, ctx, user, f._key, |tx| {
        let opening = souk_app::disputes::Opening::check(&f.reason, &f.description, None)?;
        souk_app::disputes::open(&app, &mut tx, Side::Buyer, &id, &opening).await?;
        format!("/orders/{id}")
    })
}

#[derive(Deserialize)]
pub struct ReviewForm {
    stars: i64,
    #[serde(default)]
    text: String,
    /// Links of uploaded photos, one per line.
    #[serde(default)]
    images: String,
    #[serde(default)]
    _csrf: String,
    #[serde(default)]
    _key: String,
}

/// The buyer reviews every line of a completed order with one set of stars.
pub async fn review(State(app): State<App>, ctx: Ctx, Path(id): Path<String>, Form(f): Form<ReviewForm>) -> Response {
    let (user, o) = match buyers_order(&app, &ctx, &id, &f._csrf).await {
        Gate::Open(user, order) => (user, *order),
        Gate::Closed(page) => return page,
    };
    let reviewable = souk_app::reviews::may_review(&app, Side::Buyer, &o);
    once!(app, ctx, user, f._key, |tx| {
        reviewable?;
        // The page asks one set of stars for the whole order.
        let checked = souk_domain::review::ReviewInput {
            stars: f.stars,
            item_as_described: f.stars,
            communication: f.stars,
            shipping_speed: f.stars,
            text: Some(f.text.clone()),
            images: f.images.lines().map(str::trim).filter(|l| !l.is_empty()).map(str::to_string).collect(),
        }
        .check()?;
        souk_app::reviews::review_order(&mut tx, &user.id, &o, checked).await?;
        format!("/orders/{id}")
    })
}

#[derive(Deserialize)]
pub struct PayoutForm {
    amount: String,
    currency: String,
    destination: String,
    #[serde(default)]
    _csrf: String,
    #[serde(default)]
    _key: String,
}

/// Money out of the wallet to a bank account, through the payment provider.
pub async fn payout(State(app): State<App>, ctx: Ctx, Form(f): Form<PayoutForm>) -> Response {
    let user = match ctx.poster(&f._csrf, "/wallet") {
        Ok(u) => u,
        Err(r) => return *r,
    };
    once!(app, ctx, user, f._key, |tx| {
        let amount = super::forms::major(&f.amount, super::forms::currency(&f.currency)?, "amount")?;
        let input = souk_app::wallet::PayoutInput { amount, destination: f.destination.clone() };
        souk_app::wallet::payout(&app, &mut tx, &user.id, input).await?;
        "/wallet".to_string()
    })
}

/// The signed-in user's notifications, newest first, with a form that marks them all read.
pub async fn notifications(State(app): State<App>, ctx: Ctx) -> Response {
    let Some(user) = ctx.user.clone() else { return to_login("/notifications") };
    let Ok(rows) = app.notifications(&user.id, None, 100).await else { return ctx.error() };
    let body = html! {
        h1 { (ctx.t("Notifications")) }
        @if ctx.unread > 0 {
            form.inline method="post" action="/notifications/read" {
                (ctx.csrf_field()) (form_key())
                button type="submit" { (ctx.t("Mark all read")) }
            }
        }
        @if rows.is_empty() { p.notice { (ctx.t("Nothing yet.")) } }
        ul.notifications {
            @for r in &rows {
                @if let Some(text) = ctx.lang.notification(&r.kind, r.side, &app.config.policy) {
                    li class=(if r.read { "read" } else { "unread" }) {
                        @match &r.order_id {
                            Some(order) => { a href=(format!("/orders/{order}")) { (text) } }
                            None => { a href="/messages" { (text) } }
                        }
                        " " small { (ctx.when(r.created_at)) }
                    }
                }
            }
        }
    };
    ctx.page(StatusCode::OK, ctx.t("Notifications"), body)
}

#[derive(Deserialize)]
pub struct ReadForm {
    #[serde(default)]
    _csrf: String,
    #[serde(default)]
    _key: String,
}

pub async fn read_notifications(State(app): State<App>, ctx: Ctx, Form(f): Form<ReadForm>) -> Response {
    let Some(user) = ctx.user.clone() else { return to_login("/notifications") };
    if !ctx.csrf_ok(&f._csrf) {
        return ctx.expired_form();
    }
    once!(app, ctx, user, f._key, |tx| {
        souk_app::notifications::mark_read(&mut tx, &user.id, None).await?;
        "/notifications".to_string()
    })
}
