//! The seller's analytics page: the figures of 7, 30 or 90 days, each drawn as a bar chart on
//! the server (axes, days, values) and given as a table too.

use super::forms::to_login;
use super::{money, Ctx};
use crate::App;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use maud::{html, Markup};
use serde::Deserialize;

/// A day as a chart's axis names it: "7 Dec", "12月7日".
fn short_day(ctx: &Ctx, day: i64) -> String {
    let c = souk_domain::time::civil(day * souk_domain::time::DAY_MS);
    match ctx.lang {
        super::Lang::Zh => format!("{}月{}日", c.month, c.day),
        super::Lang::En => {
            const MONTHS: [&str; 12] =
                ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
            format!("{} {}", c.day, MONTHS[(c.month as usize).clamp(1, 12) - 1])
        }
    }
}

/// A bar chart of one figure per day: the value axis marked at its top and middle, the first,
/// middle and last days named, each bar's value on hover, and the figures as a table too.
/// A whole number as an axis marks it: 950, 12.5k, 3.2M.
fn compact(v: i64) -> String {
    let a = v.unsigned_abs();
    match a {
        0..=9_999 => v.to_string(),
        10_000..=999_999 => format!("{:.1}k", v as f64 / 1e3),
        _ => format!("{:.1}M", v as f64 / 1e6),
    }
}

fn bars(
    ctx: &Ctx,
    title: &str,
    days: &[i64],
    values: &[i64],
    format: impl Fn(i64) -> String,
    axis: impl Fn(i64) -> String,
) -> Markup {
    let (w, h, left, bottom) = (480.0f64, 150.0f64, 48.0f64, 20.0f64);
    let plot_h = h - bottom - 8.0;
    let max = values.iter().copied().max().unwrap_or(0).max(1);
    let step = (w - left) / values.len().max(1) as f64;
    let y = |v: i64| 8.0 + plot_h - (v as f64 / max as f64) * plot_h;
    let named: Vec<usize> = match values.len() {
        0 => vec![],
        n => vec![0, n / 2, n - 1],
    };
    html! {
        figure.chart {
            figcaption { (title) }
            svg viewBox=(format!("0 0 {w} {h}")) role="img" aria-label=(title) {
                @for v in [max, max / 2].into_iter().filter(|v| *v > 0) {
                    line.grid x1=(left) x2=(w) y1=(format!("{:.1}", y(v))) y2=(format!("{:.1}", y(v))) {}
                    text.axis x=(left - 6.0) y=(format!("{:.1}", y(v) + 4.0)) text-anchor="end" { (axis(v)) }
                }
                line.base x1=(left) x2=(w) y1=(format!("{:.1}", y(0))) y2=(format!("{:.1}", y(0))) {}
                text.axis x=(left - 6.0) y=(format!("{:.1}", y(0) + 4.0)) text-anchor="end" { "0" }
                @for (i, v) in values.iter().enumerate() {
                    rect x=(format!("{:.1}", left + i as f64 * step + 1.0)) y=(format!("{:.1}", y(*v)))
                        width=(format!("{:.1}", (step - 2.0).max(1.0))) height=(format!("{:.1}", y(0) - y(*v))) {
                        title { (days.get(i).map(|d| short_day(ctx, *d)).unwrap_or_default()) ": " (format(*v)) }
                    }
                }
                @for i in &named {
                    @let anchor = if *i == 0 { "start" } else if *i + 1 == values.len() { "end" } else { "middle" };
                    @let x = if *i == 0 { left } else if *i + 1 == values.len() { w } else { left + (*i as f64 + 0.5) * step };
                    text.axis x=(format!("{x:.1}")) y=(h - 4.0) text-anchor=(anchor) { (days.get(*i).map(|d| short_day(ctx, *d)).unwrap_or_default()) }
                }
            }
            details {
                summary { (ctx.t("Show as a table")) }
                table.skus {
                    @for (d, v) in days.iter().zip(values).rev() { tr { td { (short_day(ctx, *d)) } td { (format(*v)) } } }
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
            div { dt { (ctx.t("Sales (GMV)")) } dd {
                (show(t.gmv))
                @for c in a.by_currency.iter().filter(|c| c.currency != a.currency) {
                    @if let Some(cur) = souk_domain::Currency::from_code(&c.currency) { br; "+ " (money(&souk_domain::Money::new(c.gmv, cur))) }
                }
            } }
            div { dt { (ctx.t("Orders")) } dd { (t.orders) } }
            div { dt { (ctx.t("Units")) } dd { (t.units) } }
            div { dt { (ctx.t("Views")) } dd { (t.views) } }
            div { dt { (ctx.t("Conversion rate")) } dd title=(ctx.t("Orders per product page view")) { (t.conversion_rate.map_or("–".to_string(), |r| format!("{:.1}%", r * 100.0))) } }
            div { dt { (ctx.t("Average order value")) } dd { (t.average_order_value.map_or("–".to_string(), show)) } }
            div { dt { (ctx.t("Disputes")) } dd { (t.disputes) } }
        }
        @let days: Vec<i64> = a.series.iter().map(|d| d.day).collect();
        @let major = |v: i64| compact(v / 10i64.pow(currency.map_or(0, |c| u32::from(c.exponent()))));
        (bars(&ctx, &format!("{} ({})", ctx.t("GMV per day"), a.currency), &days, &a.series.iter().map(|d| d.gmv).collect::<Vec<_>>(), show, major))
        (bars(&ctx, ctx.t("Orders per day"), &days, &a.series.iter().map(|d| d.orders).collect::<Vec<_>>(), |v| v.to_string(), compact))
        (bars(&ctx, ctx.t("Views per day"), &days, &a.series.iter().map(|d| d.views).collect::<Vec<_>>(), |v| v.to_string(), compact))
        h2 { (ctx.t("Top products")) }
        table.skus {
            @for p in &a.top_products {
                tr { td { a href=(format!("/products/{}", p.product_id)) { (p.title) } } td { (ctx.count(p.units, "unit", "units")) }
                    td.price { @if let Some(c) = souk_domain::Currency::from_code(&p.currency) { (money(&souk_domain::Money::new(p.gmv, c))) } } }
            }
        }
    };
    ctx.page(StatusCode::OK, ctx.t("Analytics"), body)
}
