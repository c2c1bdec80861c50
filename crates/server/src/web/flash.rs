//! A product's flash sale on its page: the price, a live countdown (`assets/flash.js`; the
//! server's `seconds_left` is the truth, the script only ticks it down), units left, the limit
//! per buyer and a buy form decided by the same batched engine as the API's buys.

use super::forms::{form_key, once, problem, to_login};
use super::{money, Ctx};
use crate::error::AppError;
use crate::App;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use maud::{html, Markup};
use serde::Deserialize;
use souk_app::flash::Bought;
use souk_app::views::PromotionFilter;
use souk_domain::catalog::Product;
use souk_domain::id::{self, Kind};

/// The product's current flash sales (scheduled, live or sold out), empty when none; its
/// seller (`seller_id`) sees no buy form.
pub async fn banner(app: &App, ctx: &Ctx, p: &Product, seller_id: &str) -> Markup {
    let filter = PromotionFilter { store_id: None, product_id: Some(&p.id), current: true };
    let Ok(page) = app.promotions(&filter, None, 10).await else { return html! {} };
    let own = ctx.user.as_ref().is_some_and(|u| u.id == seller_id);
    html! {
        @for promo in page.items.iter().rev() {
            @let list = p.skus.iter().find(|s| s.id == promo.sku_id).map(|s| s.price);
            section.flash data-phase=(promo.phase) {
                h2 { "⚡ " (ctx.t("Flash sale")) }
                p.flash-price {
                    strong { (money(&promo.price)) }
                    @if let Some(list) = list { " " s { (money(&list)) } }
                    @if let Some(sku) = p.skus.iter().find(|s| s.id == promo.sku_id) {
                        " · " @for (k, v) in &sku.options { (k) ": " (v) " " }
                    }
                }
                p {
                    @match (promo.phase.as_str(), promo.seconds_left) {
                        ("scheduled", Some(s)) => { (ctx.t("Starts in")) " " span.countdown data-seconds=(s) data-day=(ctx.t("d")) { (clock(s, ctx.t("d"))) } }
                        ("live", Some(s)) => { (ctx.t("Ends in")) " " span.countdown data-seconds=(s) data-day=(ctx.t("d")) { (clock(s, ctx.t("d"))) } }
                        ("sold_out", _) => { strong { (ctx.t("Sold out")) } }
                        _ => { (ctx.t("Ended")) }
                    }
                }
                p { (promo.left) " / " (promo.stock) " " (ctx.t("left")) " · " (ctx.t("limit per buyer")) ": " (promo.per_buyer_limit) }
                @if promo.phase == "live" && !own {
                    @if ctx.user.is_some() {
                        form.flash-buy method="post" action=(format!("/promotions/{}/buy", promo.id)) {
                            (ctx.csrf_field()) (form_key())
                            label { (ctx.t("Quantity")) input type="number" name="quantity" value="1" min="1" max=(promo.per_buyer_limit.min(promo.left).max(1)); }
                            label { (ctx.t("Ship to (country code)")) input name="ship_to" required maxlength="2" size="3" placeholder="DE"; }
                            button type="submit" { (ctx.t("Buy now and pay")) }
                        }
                    } @else {
                        a href=(format!("/login?next=/products/{}", p.id)) { (ctx.t("Log in to buy")) }
                    }
                }
            }
        }
        @if !page.items.is_empty() { script src="/assets/flash.js" defer {} }
    }
}

/// `H:MM:SS`, or `D d H:MM:SS` past a day (`day` is the page's word for "d").
fn clock(seconds: i64, day: &str) -> String {
    let s = seconds.max(0);
    let hms = format!("{}:{:02}:{:02}", s / 3600 % 24, s / 60 % 60, s % 60);
    if s >= 86_400 {
        format!("{} {day} {hms}", s / 86_400)
    } else {
        hms
    }
}

#[derive(Deserialize)]
pub struct BuyForm {
    quantity: i64,
    ship_to: String,
    #[serde(default)]
    _csrf: String,
    #[serde(default)]
    _key: String,
}

/// Buys through the engine; the form's one-time key is the idempotency key, so a second
/// submission lands on the first one's order.
pub async fn buy(State(app): State<App>, ctx: Ctx, Path(id): Path<String>, Form(f): Form<BuyForm>) -> Response {
    let Some(user) = ctx.user.clone() else { return to_login("/") };
    if !ctx.csrf_ok(&f._csrf) {
        return ctx.expired_form();
    }
    if !id::is_valid(Kind::Promotion, &id) {
        return ctx.not_found();
    }
    let result: Result<Response, AppError> = async {
        if f._key.len() < 16 || f._key.len() > 64 {
            return Err(souk_domain::Invalid::new("invalid", "_key", "a form key").into());
        }
        let key = (format!("web:{}", user.id), f._key.clone(), "flash-form".to_string());
        let bought = souk_app::flash::buy(&app, &user.id, &id, f.quantity, &f.ship_to, Some(key)).await?;
        let order_id = match bought {
            Bought::Order(receipt) => receipt.order_id,
            Bought::Replay { body, .. } => serde_json::from_str::<serde_json::Value>(&body)
                .ok()
                .and_then(|v| v["order_id"].as_str().map(str::to_string))
                .ok_or_else(|| AppError::conflict("in_progress", "this form is being submitted"))?,
        };
        Ok(Redirect::to(&format!("/orders/{order_id}")).into_response())
    }
    .await;
    result.unwrap_or_else(|e| problem(&ctx, &e))
}

/// The marketplace's flash sales running now, for the home page: each with its price, its
/// countdown and a link to its product; nothing when none runs.
pub async fn live_strip(app: &App, ctx: &Ctx) -> Markup {
    let Ok(live) = app.live_promotions(12).await else { return html! {} };
    html! {
        @if !live.is_empty() {
            section.flash-strip {
                h2 { "⚡ " (ctx.t("Flash sales now")) }
                ul.flash-strip {
                    @for promo in &live {
                        li {
                            a href=(format!("/products/{}", promo.product_id)) { (promo.title) }
                            " " strong { (money(&promo.price)) }
                            @if let Some(s) = promo.seconds_left {
                                " · " (ctx.t("Ends in")) " " span.countdown data-seconds=(s) data-day=(ctx.t("d")) { (clock(s, ctx.t("d"))) }
                            }
                            " · " (promo.left) " " (ctx.t("left"))
                        }
                    }
                }
                script src="/assets/flash.js" defer {}
            }
        }
    }
}

/// The seller's flash sales: those scheduled or running, and a form to schedule one on any of
/// the store's variants.
pub async fn seller_promotions(State(app): State<App>, ctx: Ctx) -> Response {
    let Some(user) = ctx.user.clone() else { return to_login("/seller/promotions") };
    let Ok(store) = app.store_by_owner(&user.id).await else { return Redirect::to("/seller").into_response() };
    let filter = PromotionFilter { store_id: Some(&store.id), product_id: None, current: true };
    let products = souk_app::views::ProductFilter { store_id: Some(store.id.clone()), ..Default::default() };
    let (Ok(promotions), Ok(products)) =
        (app.promotions(&filter, None, 50).await, app.list_products(&products, None, 200).await)
    else {
        return ctx.error();
    };
    // A start a few minutes ahead, to the minute, as the time field reads it (UTC).
    let start = souk_domain::time::rfc3339(app.now_ms() / 60_000 * 60_000 + 10 * 60_000);
    let body = html! {
        h1 { (ctx.t("Flash sales")) ": " (store.name) }
        @if promotions.items.is_empty() { p.notice { (ctx.t("No flash sale is scheduled.")) } }
        ul.promotions {
            @for p in &promotions.items {
                li {
                    a href=(format!("/products/{}", p.product_id)) { (p.title) } " · " strong { (money(&p.price)) }
                    " · " (ctx.code(&p.phase)) " · " (ctx.when(p.starts_at)) " – " (ctx.when(p.ends_at))
                    " · " (p.sold) " / " (p.stock) " " (ctx.t("sold"))
                }
            }
        }
        h2 { (ctx.t("Schedule a flash sale")) }
        form.promotion method="post" action="/seller/promotions" {
            (ctx.csrf_field()) (form_key())
            label { (ctx.t("Variant"))
                select name="sku_id" required {
                    @for p in &products.items { @for sku in &p.skus {
                        option value=(sku.id) { (p.title) @for (k, v) in &sku.options { " · " (k) ": " (v) } " · " (money(&sku.price)) " · " (ctx.count(sku.stock, "unit", "units")) }
                    } }
                }
            }
            label { (ctx.t("Sale price")) input name="price" required inputmode="decimal" placeholder="9.90"; }
            label { (ctx.t("Units on sale")) input name="stock" required inputmode="numeric" value="100"; }
            label { (ctx.t("Most units per buyer")) input name="per_buyer_limit" required inputmode="numeric" value="2"; }
            label { (ctx.t("Starts (UTC)")) input type="datetime-local" name="starts" required value=(start[..16]); }
            label { (ctx.t("Lasts (hours, at most 168)")) input name="hours" required inputmode="numeric" value="2"; }
            p.hint { (ctx.t("Prices in")) " " (store.currency) }
            button type="submit" { (ctx.t("Schedule")) }
        }
    };
    ctx.page(StatusCode::OK, ctx.t("Flash sales"), body)
}

#[derive(Deserialize)]
pub struct PromotionForm {
    sku_id: String,
    price: String,
    stock: String,
    per_buyer_limit: String,
    starts: String,
    hours: String,
    #[serde(default)]
    _csrf: String,
    #[serde(default)]
    _key: String,
}

/// Schedules a flash sale by the API's rules: the form's start and length become the sale's
/// times.
pub async fn create_promotion(State(app): State<App>, ctx: Ctx, Form(f): Form<PromotionForm>) -> Response {
    let user = match ctx.poster(&f._csrf, "/seller/promotions") {
        Ok(u) => u,
        Err(res) => return *res,
    };
    let Ok(store) = app.store_by_owner(&user.id).await else { return Redirect::to("/seller").into_response() };
    once!(app, ctx, user, f._key, |tx| {
        let whole = |text: &str, field: &str| {
            text.trim()
                .parse::<i64>()
                .map_err(|_| AppError::from(souk_domain::Invalid::new("invalid", field, "a whole number")))
        };
        let currency = super::forms::currency(&store.currency)?;
        let price = super::forms::major(&f.price, currency, "price")?;
        let hours = whole(&f.hours, "hours")?;
        let starts_at = format!("{}:00Z", f.starts.trim());
        let starts_ms = souk_domain::time::parse_rfc3339(&starts_at).unwrap_or(0);
        let ends_at = souk_domain::time::rfc3339(starts_ms.saturating_add(hours.clamp(0, 10_000) * 3_600_000));
        let (stock, limit) = (whole(&f.stock, "stock")?, whole(&f.per_buyer_limit, "per_buyer_limit")?);
        let terms = souk_app::flash::terms(&f.sku_id, &starts_at, &ends_at, price, stock, limit)?;
        souk_app::flash::create_promotion(&mut tx, &store, &terms).await?;
        "/seller/promotions".to_string()
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_countdown_reads_as_a_clock() {
        assert_eq!(super::clock(59, "d"), "0:00:59");
        assert_eq!(super::clock(3_600 + 61, "d"), "1:01:01");
        assert_eq!(super::clock(2 * 86_400 + 5, "d"), "2 d 0:00:05");
        assert_eq!(super::clock(86_400, "天"), "1 天 0:00:00");
        assert_eq!(super::clock(-3, "d"), "0:00:00");
    }
}
