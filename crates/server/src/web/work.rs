//! The pages people work in: the seller center (orders to ship, disputes to answer; analytics
//! are in `analytics`) and the operator console (the mediation queue with its decision view, and the ledger's health).

use super::forms::{form_key, once, to_login};
use super::{money, Ctx};
use crate::error::AppError;
use crate::App;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::response::Response;
use axum::Form;
use maud::{html, Markup};
use serde::Deserialize;
use souk_app::access::Side;
use souk_app::disputes::{self, is_staff};
use souk_app::views::OrderScope;
use souk_app::views::User;
use souk_app::views::{Actor, Evidence};
use souk_domain::account::{Role, VerificationStatus};
use souk_domain::dispute::Step;
use souk_domain::order::OrderState;
use souk_domain::Invalid;

fn hidden(ctx: &Ctx) -> Markup {
    html! { (ctx.csrf_field()) (form_key()) }
}

/// The seller's form to ship a paid order with its carrier and tracking number.
/// A carrier as people name it (a key of `web::i18n`); an unknown code as it is.
pub(crate) fn carrier_label(code: &str) -> &'static str {
    match code {
        "ups" => "UPS",
        "usps" => "USPS",
        "fedex" => "FedEx",
        "dhl" => "DHL",
        "sf_express" => "SF Express",
        "china_post" => "China Post",
        "sandbox" => "Sandbox carrier",
        _ => "Other carrier",
    }
}

pub(crate) fn ship_form(ctx: &Ctx, order_id: &str) -> Markup {
    html! {
        form.ship method="post" action=(format!("/seller/orders/{order_id}/ship")) {
            (hidden(ctx))
            select name="carrier" aria-label=(ctx.t("Carrier")) {
                @for c in souk_domain::shipping::CARRIERS { option value=(c) { (ctx.t(carrier_label(c))) } }
            }
            input name="tracking_number" required placeholder=(ctx.t("Tracking number"));
            button type="submit" { (ctx.t("Ship")) }
        }
    }
}

pub async fn seller(State(app): State<App>, ctx: Ctx) -> Response {
    let Some(user) = ctx.user.clone() else { return to_login("/seller") };
    let store = match app.store_by_owner(&user.id).await {
        Ok(s) => s,
        Err(e) if e.kind == souk_app::error::ErrorKind::NotFound => {
            let body = html! { h1 { (ctx.t("Seller center")) } p.notice { (ctx.t("Open a store to sell.")) } (super::selling::open_store_form(&ctx)) };
            return ctx.page(StatusCode::OK, ctx.t("Seller center"), body);
        }
        Err(_) => return ctx.error(),
    };
    let (Ok(to_ship), Ok(disputes), Ok(verifications)) = (
        app.list_orders(OrderScope::StoreIn(&store.id, OrderState::Paid), None, 50).await,
        app.disputes(Some("awaiting_seller"), Some(&user.id), None, 100).await,
        app.list_verifications(None, Some(&store.id), None, 1).await,
    ) else {
        return ctx.error();
    };
    let suspended = app.held(&store.id, None).await.ok().flatten();
    let body = html! {
        h1 { (ctx.t("Seller center")) ": " (store.name) }
        @if let Some(action) = &suspended { (super::moderation::held_notice(&ctx, action)) }
        nav.sub {
            a href="/seller/orders" { (ctx.t("All orders")) }
            a href="/seller/products" { (ctx.t("Products")) }
            a href="/seller/import" { (ctx.t("Import from CSV")) }
            a href="/messages?as=store" { (ctx.t("Customer messages")) }
            a href="/seller/deals" { (ctx.t("Offers and quotes")) }
            a href="/seller/promotions" { (ctx.t("Flash sales")) }
            a href="/wallet" { (ctx.t("Wallet and payouts")) }
            a href="/seller/analytics" { (ctx.t("Analytics")) }
            a href=(format!("/stores/{}", store.slug)) { (ctx.t("Store page")) }
        }
        section {
            h2 { (ctx.t("Orders to ship")) " (" (to_ship.items.len()) @if to_ship.next_cursor.is_some() { "+" } ")" }
            @for o in &to_ship.items {
                div.work {
                    p {
                        a href=(format!("/orders/{}", o.id)) { (o.lines.first().map(|l| l.title.as_str()).unwrap_or("")) }
                        " · " (money(&o.total)) " · " (ctx.t("to")) " " (o.ship_country)
                        " · " span.order-id { (o.id) }
                        @if let Some(d) = o.deadlines.iter().find(|d| d.kind == "ship_by") { " · " (ctx.t("ship by")) " " (ctx.when(d.due_at)) }
                    }
                    (ship_form(&ctx, &o.id))
                }
            }
            @if to_ship.next_cursor.is_some() { a href="/seller/orders?state=paid" { (ctx.t("All orders to ship")) " →" } }
        }
        section {
            h2 { (ctx.t("Disputes to answer")) " (" (disputes.items.len()) ")" }
            @for d in &disputes.items {
                div.work {
                    p { code { (d.order_id) } " · " (ctx.code(&d.reason)) " · " (d.description) }
                    form.answer method="post" action=(format!("/seller/disputes/{}/answer", d.id)) {
                        (hidden(&ctx))
                        select name="action" aria-label=(ctx.t("Answer")) {
                            option value="refund" { (ctx.t("Refund in full")) }
                            option value="partial_refund" { (ctx.t("Offer a partial refund")) }
                            option value="return" { (ctx.t("Ask for a return")) }
                            option value="reject" { (ctx.t("Reject, with evidence")) }
                        }
                        input name="amount" inputmode="decimal" placeholder=(ctx.t("Amount"));
                        textarea name="text" maxlength="2000" placeholder=(ctx.t("Evidence")) {}
                        button type="submit" { (ctx.t("Answer")) }
                    }
                }
            }
        }
        (super::selling::verification_panel(&ctx, verifications.items.first()))
    };
    ctx.page(StatusCode::OK, ctx.t("Seller center"), body)
}

/// The order states a seller filters by, with their tab labels.
const ORDER_TABS: [(&str, &str); 7] = [
    ("", "All"),
    ("paid", "To ship"),
    ("shipped", "shipped"),
    ("delivered", "delivered"),
    ("disputed", "disputed"),
    ("completed", "completed"),
    ("cancelled", "cancelled"),
];

#[derive(Deserialize, Default)]
pub struct SellerOrdersForm {
    #[serde(default)]
    state: String,
    #[serde(default)]
    cursor: String,
    /// An order number to go to.
    #[serde(default)]
    find: String,
}

/// Every order of the seller's store, by state, newest first, a page at a time; an order
/// number typed in the box opens that order.
pub async fn seller_orders(
    State(app): State<App>,
    ctx: Ctx,
    axum::extract::Query(f): axum::extract::Query<SellerOrdersForm>,
) -> Response {
    let Some(user) = ctx.user.clone() else { return to_login("/seller/orders") };
    let Ok(store) = app.store_by_owner(&user.id).await else {
        return axum::response::Redirect::to("/seller").into_response();
    };
    let find = f.find.trim();
    let mut missing = false;
    if !find.is_empty() {
        match app.order(find).await {
            Ok(o) if o.store_id == store.id => {
                return axum::response::Redirect::to(&format!("/orders/{}", o.id)).into_response()
            }
            _ => missing = true,
        }
    }
    let Ok(scope) = souk_app::orders::store_scope(&store.id, Some(&f.state)) else { return ctx.not_found() };
    let cursor = Some(f.cursor.as_str()).filter(|c| !c.is_empty());
    let Ok(page) = app.list_orders(scope, cursor, 30).await else { return ctx.error() };
    let body = html! {
        h1 { (ctx.t("Orders")) ": " (store.name) }
        nav.sub.tabs {
            @for (state, label) in ORDER_TABS {
                a href=(if state.is_empty() { "/seller/orders".to_string() } else { format!("/seller/orders?state={state}") })
                    class=[(state == f.state).then_some("current")] aria-current=[(state == f.state).then_some("page")] { (ctx.t(label)) }
            }
        }
        form.find method="get" action="/seller/orders" {
            label { (ctx.t("Order number")) " "
                input name="find" value=(find) placeholder="ord_…" required; }
            button type="submit" { (ctx.t("Open")) }
            @if missing { p.error role="alert" { (ctx.t("Your store has no order with this number.")) } }
        }
        @if page.items.is_empty() { p.notice { (ctx.t("No orders here.")) } }
        (super::buying::order_list(&ctx, &page.items, true))
        @if let Some(next) = &page.next_cursor {
            a.next href=(format!("/seller/orders?state={}&cursor={}", f.state, super::pages::encode(next))) { (ctx.t("Older orders")) " →" }
        }
    };
    ctx.page(StatusCode::OK, ctx.t("Orders"), body)
}

#[derive(Deserialize)]
pub struct ShipForm {
    carrier: String,
    tracking_number: String,
    #[serde(default)]
    _csrf: String,
    #[serde(default)]
    _key: String,
}

/// The seller of the order, or the page to show instead.
async fn sellers_order(app: &App, ctx: &Ctx, id: &str, csrf: &str) -> Option<User> {
    let user = ctx.user.clone()?;
    if !ctx.csrf_ok(csrf) {
        return None;
    }
    match souk_app::access::side(app, &user, id).await {
        Ok(Side::Seller) => Some(user),
        _ => None,
    }
}

pub async fn ship(State(app): State<App>, ctx: Ctx, Path(id): Path<String>, Form(f): Form<ShipForm>) -> Response {
    let Some(user) = sellers_order(&app, &ctx, &id, &f._csrf).await else { return ctx.not_found() };
    once!(app, ctx, user, f._key, |tx| {
        let shipment = souk_app::orders::Shipment::check(&f.carrier, &f.tracking_number)?;
        souk_app::orders::ship(&app, &mut tx, Side::Seller, &id, &shipment).await?;
        "/seller".to_string()
    })
}

#[derive(Deserialize)]
pub struct AnswerForm {
    action: String,
    #[serde(default)]
    amount: String,
    #[serde(default)]
    text: String,
    #[serde(default)]
    _csrf: String,
    #[serde(default)]
    _key: String,
}

/// Minor units of a decimal amount in the order's currency.
async fn amount_of(app: &App, order_id: &str, text: &str) -> Result<i64, AppError> {
    let order = app.order(order_id).await?;
    Ok(super::forms::major(text, order.total.currency, "amount")?.amount)
}

pub async fn answer(State(app): State<App>, ctx: Ctx, Path(id): Path<String>, Form(f): Form<AnswerForm>) -> Response {
    let Some(user) = ctx.user.clone() else { return to_login("/seller") };
    let Ok((d, actor @ Actor::Seller(_))) = disputes::dispute_for(&app, &user, &id).await else {
        return ctx.not_found();
    };
    if !ctx.csrf_ok(&f._csrf) {
        return ctx.not_found();
    }
    once!(app, ctx, user, f._key, |tx| {
        let amount = match f.action.as_str() {
            "partial_refund" => Some(amount_of(&app, &d.view.order_id, &f.amount).await?),
            _ => None,
        };
        let evidence = Evidence { text: f.text.trim().to_string(), images: Vec::new() };
        let step = disputes::answer(&f.action, amount, &evidence)?;
        disputes::take_step(&app, &mut tx, &id, step, &actor, &evidence, None).await?;
        "/seller".to_string()
    })
}

pub async fn console(State(app): State<App>, ctx: Ctx) -> Response {
    let Some(user) = ctx.user.clone() else { return to_login("/console") };
    if !user.held_back.is_empty() {
        let title = ctx.t("Operator console");
        return ctx.page(
            StatusCode::OK,
            title,
            html! { h1 { (title) } (super::two_factor::held_back_notice(&ctx, &user)) },
        );
    }
    if !is_staff(&user) {
        return ctx.not_found();
    }
    let (Ok(queue), Ok(books), Ok(pending)) = (
        app.disputes(Some("mediation"), None, None, 100).await,
        app.ledger_check().await,
        app.list_verifications(Some(VerificationStatus::Pending), None, None, 50).await,
    ) else {
        return ctx.error();
    };
    let admin = user.has(Role::Admin);
    let body = html! {
        h1 { (ctx.t("Operator console")) }
        nav.sub {
            a href="/console/reports" { (ctx.t("Reports")) } a href="/console/users" { (ctx.t("Users")) } a href="/console/stores" { (ctx.t("Stores")) }
            @if user.has(Role::Admin) { a href="/console/audit" { (ctx.t("Audit log")) } }
        }
        section {
            h2 { (ctx.t("Ledger health")) }
            @if books.sound {
                p.ok { (ctx.t("The books balance.")) }
            } @else {
                p.error role="alert" { (ctx.t("The books do not balance: the ledger needs an engineer before more money moves.")) }
                ul.error { @for p in &books.problems { li { (p) } } }
            }
            p.hint { (ctx.t("Each of the ledger's accounts (wallets, escrows, the platform's revenue and the payment provider's) must equal the sum of the transfers into and out of it, every order's escrow must hold what its state says, and in each currency the accounts must add up to zero: money is only ever moved, never created or lost.")) }
            dl.kpis {
                div { dt { (ctx.t("Accounts")) } dd { (books.accounts) } }
                div { dt { (ctx.t("Transfers")) } dd { (books.transfers) } }
            }
            @if !books.currencies.is_empty() {
                table.skus {
                    tr { th { (ctx.t("Currency")) } th { (ctx.t("Money moved")) } th { (ctx.t("Sum of all balances")) } }
                    @for (code, c) in &books.currencies {
                        @let cur = souk_domain::Currency::from_code(code);
                        @let show = |v: i64| cur.map_or(v.to_string(), |c| money(&souk_domain::Money::new(v, c)));
                        tr { td { (code) } td { (show(c.total_debits)) } td.ok[c.net_balance == 0].bad[c.net_balance != 0] { (show(c.net_balance)) } }
                    }
                }
            }
        }
        @if admin {
            section {
                h2 { (ctx.t("Verifications to review")) " (" (pending.items.len()) ")" }
                @for v in &pending.items {
                    div.work {
                        p { (v.legal_name) " · " (ctx.t(super::selling::document_label(v.document_type))) " " code { (v.document_number) } " · " (ctx.when(v.submitted_at))
                            @for u in &v.document_urls { " " (super::photo_link(u)) } }
                        form.verify method="post" action=(format!("/console/verifications/{}", v.id)) {
                            (hidden(&ctx))
                            select name="decision" aria-label=(ctx.t("Decision")) {
                                option value="approve" { (ctx.t("Approve")) }
                                option value="reject" { (ctx.t("Reject")) }
                            }
                            input name="reason" placeholder=(ctx.t("Reason"));
                            button type="submit" { (ctx.t("Decide")) }
                        }
                    }
                }
            }
        }
        section {
            h2 { (ctx.t("Disputes awaiting a decision")) " (" (queue.items.len()) ")" }
            ul.orders {
                @for d in &queue.items {
                    li { a href=(format!("/console/disputes/{}", d.id)) { (ctx.code(&d.reason)) " · " code { (d.order_id) } } " · " (ctx.when(d.opened_at)) }
                }
            }
        }
    };
    ctx.page(StatusCode::OK, ctx.t("Operator console"), body)
}

pub async fn console_dispute(State(app): State<App>, ctx: Ctx, Path(id): Path<String>) -> Response {
    let Some(user) = ctx.user.clone() else { return to_login(&format!("/console/disputes/{id}")) };
    if !is_staff(&user) {
        return ctx.not_found();
    }
    let Ok(d) = app.dispute(&id).await else { return ctx.not_found() };
    let (Ok(order), Ok(evidence), Ok(tracking), Ok(conversations), Ok(buyer), Ok(shop)) = (
        app.order(&d.view.order_id).await,
        app.evidence(&id).await,
        app.tracking(&d.view.order_id).await,
        app.conversations_between(&d.view.buyer_id, &d.view.store_id).await,
        app.user_by_id(&d.view.buyer_id).await,
        app.store_by_id(&d.view.store_id).await,
    ) else {
        return ctx.error();
    };
    let mut chat = Vec::new();
    for c in &conversations {
        if let Ok(page) = app.messages(c, None, 50).await {
            chat.extend(page.items);
        }
    }
    let body = html! {
        h1 { (ctx.t("Dispute")) " " code { (d.view.id) } }
        p { span.state { (ctx.code(&d.view.state)) } " · " (ctx.code(&d.view.reason)) " · " (money(&order.total)) }
        dl.parties {
            div { dt { (ctx.t("Buyer")) } dd { (buyer.display_name) " · " (buyer.email) } }
            div { dt { (ctx.t("Seller")) } dd { a href=(format!("/stores/{}", shop.slug)) { (shop.name) } } }
            div { dt { (ctx.t("Dispute opened")) } dd { (ctx.when(d.view.opened_at)) } }
        }
        p { (d.view.description) }
        h2 { (ctx.t("Order")) " " code { (order.id) } }
        table.skus { @for l in &order.lines { tr {
            td { a href=(format!("/products/{}", l.product_id)) { (l.title) } }
            td { (l.quantity) " × " (money(&l.unit_price)) }
        } } }
        h2 { (ctx.t("Tracking")) }
        @if let (Some(c), Some(t)) = (&order.carrier, &order.tracking_number) {
            p { (ctx.t(carrier_label(c))) " · " code { (t) } }
        } @else { p.hint { (ctx.t("Not shipped.")) } }
        ul { @for e in &tracking { li { (ctx.when(e.occurred_at)) " · " (ctx.code(&e.kind)) @if let Some(text) = &e.description { " · " (text) } } } }
        h2 { (ctx.t("Evidence")) }
        ul { @for e in &evidence { li { strong { (ctx.code(&e.role)) } " · " (ctx.code(&e.kind)) " · " (ctx.when(e.created_at)) ": " (e.text)
            @for i in &e.images { " " (super::photo_link(i)) } } } }
        h2 { (ctx.t("Chat")) }
        ul { @for m in &chat { li { strong { (ctx.code(&m.side)) } ": " (m.text) } } }
        @if d.view.state == "mediation" {
            h2 { (ctx.t("Decide")) }
            form.decide method="post" action=(format!("/console/disputes/{}/decide", d.view.id)) {
                (hidden(&ctx))
                select name="outcome" aria-label=(ctx.t("Decision")) {
                    option value="refund" { (ctx.t("Refund in full")) }
                    option value="partial_refund" { (ctx.t("Partial refund")) }
                    option value="release" { (ctx.t("Release to the seller")) }
                }
                input name="amount" inputmode="decimal" placeholder=(ctx.t("Amount"));
                textarea name="reason" required maxlength=(souk_domain::dispute::MAX_STATEMENT_CHARS) placeholder=(ctx.t("Reason")) {}
                button type="submit" { (ctx.t("Decide")) }
            }
        } @else if let Some(outcome) = &d.view.outcome {
            p.ok { (ctx.code(outcome)) " · " (d.view.decision_reason.as_deref().unwrap_or("")) }
        }
    };
    ctx.page(StatusCode::OK, ctx.t("Dispute"), body)
}

#[derive(Deserialize)]
pub struct DecideForm {
    outcome: String,
    #[serde(default)]
    amount: String,
    reason: String,
    #[serde(default)]
    _csrf: String,
    #[serde(default)]
    _key: String,
}

pub async fn decide(State(app): State<App>, ctx: Ctx, Path(id): Path<String>, Form(f): Form<DecideForm>) -> Response {
    let Some(user) = ctx.user.clone().filter(is_staff) else { return ctx.not_found() };
    if !ctx.csrf_ok(&f._csrf) {
        return ctx.expired_form();
    }
    let Ok((d, actor)) = disputes::dispute_for(&app, &user, &id).await else { return ctx.not_found() };
    once!(app, ctx, user, f._key, |tx| {
        let amount = match f.outcome.as_str() {
            "partial_refund" => Some(amount_of(&app, &d.view.order_id, &f.amount).await?),
            _ => None,
        };
        let outcome = disputes::outcome(&f.outcome, amount)?;
        let note = Evidence { text: souk_domain::dispute::decision_reason(&f.reason)?, images: Vec::new() };
        disputes::take_step(&app, &mut tx, &id, Step::Decide(outcome), &actor, &note, None).await?;
        format!("/console/disputes/{id}")
    })
}

#[derive(Deserialize)]
pub struct VerifyForm {
    decision: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    _csrf: String,
    #[serde(default)]
    _key: String,
}

/// An admin approves or rejects (with a reason) a store's identity verification.
pub async fn verify(State(app): State<App>, ctx: Ctx, Path(id): Path<String>, Form(f): Form<VerifyForm>) -> Response {
    let Some(user) = ctx.user.clone().filter(|u| u.has(Role::Admin)) else { return ctx.not_found() };
    if !ctx.csrf_ok(&f._csrf) {
        return ctx.expired_form();
    }
    once!(app, ctx, user, f._key, |tx| {
        let approve = match f.decision.as_str() {
            "approve" => true,
            "reject" => false,
            _ => return Err(Invalid::new("invalid", "decision", "approve or reject").into()),
        };
        souk_app::admin::decide_verification(&mut tx, &user, &id, approve, Some(&f.reason)).await?;
        "/console".to_string()
    })
}

#[derive(Deserialize)]
pub struct CursorQuery {
    cursor: Option<String>,
}

fn next_link(path: &str, next: Option<&String>, ctx: &Ctx) -> Markup {
    html! { @if let Some(c) = next { p { a rel="next" href=(format!("{path}?cursor={}", super::pages::encode(c))) { (ctx.t("Next page")) } } } }
}

/// Users with their roles (staff); admins grant roles here.
pub async fn users(
    State(app): State<App>,
    ctx: Ctx,
    axum::extract::Query(q): axum::extract::Query<CursorQuery>,
) -> Response {
    let Some(user) = ctx.user.clone() else { return to_login("/console/users") };
    if !is_staff(&user) {
        return ctx.not_found();
    }
    let Ok(page) = app.list_users(q.cursor.as_deref(), 100).await else { return ctx.error() };
    let admin = user.has(Role::Admin);
    let body = html! {
        h1 { (ctx.t("Users")) }
        table.users {
            tr { th { (ctx.t("Name")) } th { (ctx.t("Email")) } th { (ctx.t("Roles")) } th {} }
            @for u in &page.items {
                tr {
                    td { (u.display_name) } td { (u.email) @if u.email_verified { " ✓" } }
                    td.roles { @for r in &u.roles {
                        span.role {
                            (ctx.code(r.as_str()))
                            @if admin && matches!(r, Role::Mediator | Role::Admin) && !(*r == Role::Admin && u.id == user.id) {
                                form.inline method="post" action=(format!("/console/users/{}/roles/{}/revoke", u.id, r.as_str()))
                                    data-confirm=(ctx.t("Take this role away? The user loses its pages and powers at once."))
                                    onsubmit="return confirm(this.dataset.confirm)" {
                                    (hidden(&ctx))
                                    button.link type="submit" aria-label=(format!("{} {}", ctx.t("Revoke"), ctx.code(r.as_str()))) title=(ctx.t("Revoke")) { "×" }
                                }
                            }
                        }
                        " "
                    } }
                    td { @if admin {
                        form.grant method="post" action=(format!("/console/users/{}/roles", u.id)) {
                            (hidden(&ctx))
                            select name="role" aria-label=(ctx.t("Role")) {
                                @for r in [Role::Mediator, Role::Admin, Role::Seller] {
                                    @if !u.roles.contains(&r) { option value=(r.as_str()) { (ctx.code(r.as_str())) } }
                                }
                            }
                            button type="submit" { (ctx.t("Grant")) }
                        }
                    } }
                }
            }
        }
        (next_link("/console/users", page.next_cursor.as_ref(), &ctx))
    };
    ctx.page(StatusCode::OK, ctx.t("Users"), body)
}

#[derive(Deserialize)]
pub struct GrantForm {
    role: String,
    #[serde(default)]
    _csrf: String,
    #[serde(default)]
    _key: String,
}

pub async fn grant(State(app): State<App>, ctx: Ctx, Path(id): Path<String>, Form(f): Form<GrantForm>) -> Response {
    let Some(user) = ctx.user.clone().filter(|u| u.has(Role::Admin)) else { return ctx.not_found() };
    if !ctx.csrf_ok(&f._csrf) {
        return ctx.expired_form();
    }
    once!(app, ctx, user, f._key, |tx| {
        let role = Role::parse(&f.role).ok_or_else(|| Invalid::new("invalid", "role", "mediator, admin or seller"))?;
        souk_app::admin::grant_role(&mut tx, &user, &id, role).await?;
        "/console/users".to_string()
    })
}

#[derive(Deserialize)]
pub struct RevokeForm {
    #[serde(default)]
    _csrf: String,
    #[serde(default)]
    _key: String,
}

pub async fn revoke(
    State(app): State<App>,
    ctx: Ctx,
    Path((id, role)): Path<(String, String)>,
    Form(f): Form<RevokeForm>,
) -> Response {
    let Some(user) = ctx.user.clone().filter(|u| u.has(Role::Admin)) else { return ctx.not_found() };
    if !ctx.csrf_ok(&f._csrf) {
        return ctx.expired_form();
    }
    once!(app, ctx, user, f._key, |tx| {
        let role = Role::parse(&role).ok_or_else(|| Invalid::new("invalid", "role", "mediator or admin"))?;
        souk_app::admin::revoke_role(&mut tx, &user, &id, role).await?;
        "/console/users".to_string()
    })
}

/// Every store with its verification level and trust score (staff).
pub async fn stores(
    State(app): State<App>,
    ctx: Ctx,
    axum::extract::Query(q): axum::extract::Query<CursorQuery>,
) -> Response {
    let Some(user) = ctx.user.clone() else { return to_login("/console/stores") };
    if !is_staff(&user) {
        return ctx.not_found();
    }
    let Ok(page) = app.list_stores(q.cursor.as_deref(), 100).await else { return ctx.error() };
    let mut scores = Vec::with_capacity(page.items.len());
    for s in &page.items {
        scores.push(souk_app::trust::trust_of(&app, &s.id).await.map(|t| t.score).ok());
    }
    let body = html! {
        h1 { (ctx.t("Stores")) }
        table.stores {
            tr { th { (ctx.t("Store")) } th { (ctx.t("Country")) } th { (ctx.t("Verification")) } th { (ctx.t("Trust score")) } th { (ctx.t("Opened")) } }
            @for (s, score) in page.items.iter().zip(&scores) {
                tr {
                    td { a href=(format!("/stores/{}", s.slug)) { (s.name) } }
                    td { (s.country) } td { span.state { (s.verification.as_str()) } }
                    td { (score.map_or("–".to_string(), |v| format!("{v:.0}"))) } td { (s.tenure_days) " " (ctx.t("days")) }
                }
            }
        }
        (next_link("/console/stores", page.next_cursor.as_ref(), &ctx))
    };
    ctx.page(StatusCode::OK, ctx.t("Stores"), body)
}

/// The audit log of privileged actions, newest first (admins).
/// An audit entry's detail as labelled lines: money as money, codes in words, nested
/// records indented; never the JSON.
fn detail(ctx: &Ctx, value: &serde_json::Value) -> Markup {
    use serde_json::Value;
    fn label<'a>(ctx: &Ctx, key: &'a str) -> &'a str {
        match key {
            "role" => ctx.t("Role"),
            "order_id" => ctx.t("Order"),
            "store_id" => ctx.t("Store"),
            "decision" => ctx.t("Decision"),
            "outcome" => ctx.t("Outcome"),
            "amount" => ctx.t("Amount"),
            "reason" => ctx.t("Reason"),
            "provider" => ctx.t("Provider"),
            "destination" => ctx.t("Destination"),
            other => ctx.code(other),
        }
    }
    let money_of = |v: &Value| -> Option<String> {
        let amount = v.get("amount")?.as_i64()?;
        let currency = souk_domain::Currency::from_code(v.get("currency")?.as_str()?)?;
        Some(money(&souk_domain::Money::new(amount, currency)))
    };
    match value {
        Value::Object(map) if map.is_empty() => html! {},
        Value::Object(map) => html! {
            dl.detail {
                @for (k, v) in map {
                    @if !v.is_null() {
                        dt { (label(ctx, k)) }
                        dd {
                            @if let Some(m) = money_of(v) { (m) }
                            @else if v.is_object() { (detail(ctx, v)) }
                            @else if let Some(s) = v.as_str() { (ctx.code(s)) }
                            @else { (v.to_string()) }
                        }
                    }
                }
            }
        },
        Value::String(s) => html! { (ctx.code(s)) },
        other => html! { (other.to_string()) },
    }
}

pub async fn audit(
    State(app): State<App>,
    ctx: Ctx,
    axum::extract::Query(q): axum::extract::Query<CursorQuery>,
) -> Response {
    let Some(user) = ctx.user.clone() else { return to_login("/console/audit") };
    if !user.has(Role::Admin) {
        return ctx.not_found();
    }
    let Ok(page) = app.audit_log(None, q.cursor.as_deref(), 100).await else { return ctx.error() };
    let body = html! {
        h1 { (ctx.t("Audit log")) }
        table.audit {
            tr { th { (ctx.t("When")) } th { (ctx.t("Who")) } th { (ctx.t("Action")) } th { (ctx.t("Subject")) } th { (ctx.t("Details")) } }
            @for e in &page.items {
                tr { td { (ctx.when(e.created_at)) } td.id { (ctx.code(&e.actor_id)) } td { span.state { (ctx.code(&e.action)) } } td.id { (e.subject) } td { (detail(&ctx, &e.detail)) } }
            }
        }
        (next_link("/console/audit", page.next_cursor.as_ref(), &ctx))
    };
    ctx.page(StatusCode::OK, ctx.t("Audit log"), body)
}
