//! The pages people work in: the seller center (orders to ship, disputes to answer) and the
//! operator console (the mediation queue with its decision view, and the ledger's health).

use super::forms::{form_key, once, to_login};
use super::{money, Ctx};
use crate::error::AppError;
use crate::App;
use axum::extract::{Path, State};
use axum::http::StatusCode;
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
    let (Ok(orders), Ok(disputes), Ok(verifications)) = (
        app.list_orders(OrderScope::Store(&store.id), None, 100).await,
        app.disputes(Some("awaiting_seller"), Some(&user.id), None, 100).await,
        app.list_verifications(None, Some(&store.id), None, 1).await,
    ) else {
        return ctx.error();
    };
    let to_ship: Vec<_> = orders.items.iter().filter(|o| o.state == souk_domain::order::OrderState::Paid).collect();
    let body = html! {
        h1 { (ctx.t("Seller center")) ": " (store.name) }
        nav.sub {
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
            h2 { (ctx.t("Orders to ship")) " (" (to_ship.len()) ")" }
            @for o in &to_ship {
                div.work {
                    p { code { (o.id) } " · " (o.lines.first().map(|l| l.title.as_str()).unwrap_or("")) " · " (money(&o.total)) " → " (o.ship_country) }
                    (ship_form(&ctx, &o.id))
                }
            }
        }
        section {
            h2 { (ctx.t("Disputes to answer")) " (" (disputes.items.len()) ")" }
            @for d in &disputes.items {
                div.work {
                    p { code { (d.order_id) } " · " (ctx.code(&d.reason)) " · " (d.description) }
                    form.answer method="post" action=(format!("/seller/disputes/{}/answer", d.id)) {
                        (hidden(&ctx))
                        select name="action" {
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
            a href="/console/users" { (ctx.t("Users")) } a href="/console/stores" { (ctx.t("Stores")) }
            @if user.has(Role::Admin) { a href="/console/audit" { (ctx.t("Audit log")) } }
        }
        section {
            h2 { (ctx.t("Ledger health")) }
            @if books.sound {
                p.ok { (ctx.t("The books balance.")) " " (books.accounts) " / " (books.transfers) }
            } @else {
                ul.error { @for p in &books.problems { li { (p) } } }
            }
        }
        @if admin {
            section {
                h2 { (ctx.t("Verifications to review")) " (" (pending.items.len()) ")" }
                @for v in &pending.items {
                    div.work {
                        p { (v.legal_name) " · " (ctx.t(super::selling::document_label(v.document_type))) " " code { (v.document_number) } " · " (ctx.when(v.submitted_at))
                            @for u in &v.document_urls { " " a href=(u) rel="noopener noreferrer" { "[doc]" } } }
                        form.verify method="post" action=(format!("/console/verifications/{}", v.id)) {
                            (hidden(&ctx))
                            select name="decision" {
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
    let (Ok(order), Ok(evidence), Ok(tracking), Ok(conversations)) = (
        app.order(&d.view.order_id).await,
        app.evidence(&id).await,
        app.tracking(&d.view.order_id).await,
        app.conversations_between(&d.view.buyer_id, &d.view.store_id).await,
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
        p { (d.view.description) }
        h2 { (ctx.t("Order")) }
        table.skus { @for l in &order.lines { tr { td { (l.title) } td { (l.quantity) " × " (money(&l.unit_price)) } } } }
        h2 { (ctx.t("Tracking")) }
        ul { @for e in &tracking { li { (ctx.when(e.occurred_at)) " · " (ctx.code(&e.kind)) } } }
        h2 { (ctx.t("Evidence")) }
        ul { @for e in &evidence { li { strong { (ctx.code(&e.role)) } " · " (ctx.code(&e.kind)) ": " (e.text) @for i in &e.images { " " a href=(i) rel="noopener noreferrer" { "[img]" } } } } }
        h2 { (ctx.t("Chat")) }
        ul { @for m in &chat { li { strong { (m.side) } ": " (m.text) } } }
        @if d.view.state == "mediation" {
            h2 { (ctx.t("Decide")) }
            form.decide method="post" action=(format!("/console/disputes/{}/decide", d.view.id)) {
                (hidden(&ctx))
                select name="outcome" {
                    option value="refund" { (ctx.t("Refund in full")) }
                    option value="partial_refund" { (ctx.t("Partial refund")) }
                    option value="release" { (ctx.t("Release to the seller")) }
                }
                input name="amount" inputmode="decimal" placeholder=(ctx.t("Amount"));
                textarea name="reason" required maxlength=(souk_domain::dispute::MAX_STATEMENT_CHARS) placeholder=(ctx.t("Reason")) {}
                button type="submit" { (ctx.t("Decide")) }
            }
        } @else if let Some(outcome) = &d.view.outcome {
            p.ok { (outcome) " · " (d.view.decision_reason.as_deref().unwrap_or("")) }
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

/// A bar chart drawn on the server: one bar per day, scaled to the largest value.
fn bars(title: &str, values: &[i64], format: impl Fn(i64) -> String) -> Markup {
    let (w, h) = (600.0f64, 120.0f64);
    let max = values.iter().copied().max().unwrap_or(0).max(1) as f64;
    let step = w / values.len().max(1) as f64;
    html! {
        figure.chart {
            figcaption { (title) }
            svg viewBox=(format!("0 0 {w} {h}")) role="img" aria-label=(title) preserveAspectRatio="none" {
                @for (i, v) in values.iter().enumerate() {
                    @let bar = (*v as f64 / max) * (h - 4.0);
                    rect x=(format!("{:.1}", i as f64 * step + 1.0)) y=(format!("{:.1}", h - bar)) width=(format!("{:.1}", (step - 2.0).max(1.0)))
                        height=(format!("{bar:.1}")) { title { (format(*v)) } }
                }
            }
        }
    }
}

#[derive(Deserialize)]
pub struct WindowQuery {
    days: Option<i64>,
}

pub async fn analytics(
    State(app): State<App>,
    ctx: Ctx,
    axum::extract::Query(q): axum::extract::Query<WindowQuery>,
) -> Response {
    let Some(user) = ctx.user.clone() else { return to_login("/seller/analytics") };
    let Ok(store) = app.store_by_owner(&user.id).await else { return ctx.not_found() };
    let a = match souk_app::analytics::analytics_of(&app, &store, q.days).await {
        Ok(a) => a,
        Err(e) if !e.kind.is_ours() => return ctx.not_found(),
        Err(_) => return ctx.error(),
    };
    let currency = souk_domain::Currency::from_code(&a.currency);
    let show = |minor: i64| currency.map_or(minor.to_string(), |c| money(&souk_domain::Money::new(minor, c)));
    let t = &a.totals;
    let body = html! {
        h1 { (ctx.t("Analytics")) ": " (store.name) }
        p.windows { @for d in souk_domain::analytics::WINDOWS_DAYS {
            a.current[d == a.days] href=(format!("/seller/analytics?days={d}")) { (d) " " (ctx.t("days")) } " "
        } }
        dl.kpis {
            div { dt { "GMV" } dd { (show(t.gmv)) } }
            div { dt { (ctx.t("Orders")) } dd { (t.orders) } }
            div { dt { (ctx.t("Units")) } dd { (t.units) } }
            div { dt { (ctx.t("Views")) } dd { (t.views) } }
            div { dt { (ctx.t("Conversion rate")) } dd { (t.conversion_rate.map_or("–".to_string(), |r| format!("{:.1}%", r * 100.0))) } }
            div { dt { (ctx.t("Average order value")) } dd { (t.average_order_value.map_or("–".to_string(), show)) } }
            div { dt { (ctx.t("Disputes")) } dd { (t.disputes) } }
        }
        (bars(ctx.t("GMV per day"), &a.series.iter().map(|d| d.gmv).collect::<Vec<_>>(), show))
        (bars(ctx.t("Orders per day"), &a.series.iter().map(|d| d.orders).collect::<Vec<_>>(), |v| v.to_string()))
        (bars(ctx.t("Views per day"), &a.series.iter().map(|d| d.views).collect::<Vec<_>>(), |v| v.to_string()))
        h2 { (ctx.t("Top products")) }
        table.skus {
            @for p in &a.top_products {
                tr { td { a href=(format!("/products/{}", p.product_id)) { (p.title) } } td { (ctx.count(p.units, "unit", "units")) } td.price { (show(p.gmv)) } }
            }
        }
    };
    ctx.page(StatusCode::OK, ctx.t("Analytics"), body)
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
                    td { @for r in &u.roles { span.state { (r.as_str()) } " " } }
                    td { @if admin {
                        form.grant method="post" action=(format!("/console/users/{}/roles", u.id)) {
                            (hidden(&ctx))
                            select name="role" aria-label=(ctx.t("Role")) {
                                @for r in [Role::Mediator, Role::Admin, Role::Seller] { option value=(r.as_str()) { (r.as_str()) } }
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
                tr { td { (ctx.when(e.created_at)) } td.id { (e.actor_id) } td { span.state { (ctx.code(&e.action)) } } td.id { (e.subject) } td.id { (e.detail.to_string()) } }
            }
        }
        (next_link("/console/audit", page.next_cursor.as_ref(), &ctx))
    };
    ctx.page(StatusCode::OK, ctx.t("Audit log"), body)
}
