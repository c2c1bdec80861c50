//! The buyer's browsing pages: home, search, product and store.

use super::{image, money, Ctx};
use crate::App;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use maud::{html, Markup};
use serde::Deserialize;
use souk_app::search::{SearchQuery, SearchResults};
use souk_app::seed::DEMO_LOGINS;
use souk_app::views::ReviewScope;
use souk_domain::catalog::ProductStatus;
use souk_domain::category::Category;
use souk_domain::id::{self, Kind};

/// Products per search page.
const PAGE: usize = 24;

pub fn demo_logins(ctx: &Ctx) -> Markup {
    html! {
        aside.demo {
            h2 { (ctx.t("Demo log-ins")) }
            p { (ctx.t("Every role of the demo marketplace:")) }
            table {
                @for l in &DEMO_LOGINS {
                    tr { td { (l.role) } td { code { (l.email) } } td { code { (l.password) } } }
                }
            }
        }
    }
}

fn category_name(ctx: &Ctx, c: &Category) -> &'static str {
    match ctx.lang {
        super::Lang::Zh => c.name_zh,
        super::Lang::En => c.name,
    }
}

fn product_cards(ctx: &Ctx, results: &SearchResults) -> Markup {
    html! {
        ul.cards {
            @for hit in &results.hits {
                li.card {
                    a href=(format!("/products/{}", hit.id)) {
                        (image(hit.image.as_deref(), &hit.title))
                        span.title { (hit.title) }
                    }
                    span.price { (money(&hit.price)) }
                    @if let Some(store) = &hit.store {
                        span.seller {
                            (store.name)
                            @if let Some(score) = store.trust_score { " · " span.trust title=(ctx.t("Trust score")) { (format!("{score:.0}")) } }
                        }
                    }
                    @if !hit.in_stock { span.out { (ctx.t("Out of stock")) } }
                }
            }
        }
    }
}

pub async fn home(State(app): State<App>, ctx: Ctx) -> Response {
    let featured = match souk_app::search::run(&app, SearchQuery { limit: Some(12), ..Default::default() }).await {
        Ok(r) => r,
        Err(_) => return ctx.error(),
    };
    let live = super::flash::live_strip(&app, &ctx).await;
    let body = html! {
        @if ctx.demo { (demo_logins(&ctx)) }
        (live)
        section {
            h2 { (ctx.t("Categories")) }
            ul.categories {
                @for c in Category::roots() {
                    li { a href=(format!("/search?category={}", c.id)) { (category_name(&ctx, &c)) } }
                }
            }
        }
        section {
            h2 { (ctx.t("Featured products")) }
            (product_cards(&ctx, &featured))
        }
    };
    ctx.page(StatusCode::OK, "Souk", body)
}

#[derive(Deserialize, Default)]
pub struct SearchForm {
    q: Option<String>,
    category: Option<String>,
    sort: Option<String>,
    in_stock: Option<String>,
    cursor: Option<String>,
}

impl SearchForm {
    /// The query string of this search with `cursor` replaced.
    fn with_cursor(&self, cursor: &str) -> String {
        let mut pairs = Vec::new();
        for (k, v) in [("q", &self.q), ("category", &self.category), ("sort", &self.sort), ("in_stock", &self.in_stock)]
        {
            if let Some(v) = v.as_deref().filter(|v| !v.is_empty()) {
                pairs.push(format!("{k}={}", encode(v)));
            }
        }
        pairs.push(format!("cursor={}", encode(cursor)));
        pairs.join("&")
    }
}

/// Percent-encodes a query-string value.
pub(crate) fn encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

pub async fn search(State(app): State<App>, ctx: Ctx, Query(form): Query<SearchForm>) -> Response {
    let q = SearchQuery {
        q: form.q.clone(),
        category: form.category.clone().filter(|c| !c.is_empty()),
        sort: form.sort.clone().filter(|s| !s.is_empty()),
        in_stock: form.in_stock.as_deref().map(|v| v == "on" || v == "true"),
        cursor: form.cursor.clone(),
        limit: Some(PAGE),
        ..Default::default()
    };
    // A bad parameter in a hand-edited URL shows no results rather than an error page.
    let results = souk_app::search::run(&app, q).await.ok();
    let sorts = [
        ("relevance", "Best match"),
        ("price_asc", "Price: low to high"),
        ("price_desc", "Price: high to low"),
        ("newest", "Newest"),
        ("rating", "Seller rating"),
    ];
    let current_sort = form.sort.as_deref().unwrap_or("relevance");
    let live = super::flash::live_strip(&app, &ctx).await;
    let body = html! {
        (live)
        div.search-page {
            aside.facets {
                form method="get" action="/search" {
                    input type="hidden" name="q" value=(form.q.as_deref().unwrap_or(""));
                    @if let Some(c) = form.category.as_deref().filter(|c| !c.is_empty()) { input type="hidden" name="category" value=(c); }
                    label { (ctx.t("Sort"))
                        select name="sort" {
                            @for (value, label) in sorts {
                                option value=(value) selected[value == current_sort] { (ctx.t(label)) }
                            }
                        }
                    }
                    label.check { input type="checkbox" name="in_stock" checked[form.in_stock.is_some()]; (ctx.t("In stock only")) }
                    button type="submit" { (ctx.t("Apply")) }
                }
                @if let Some(r) = &results {
                    h3 { (ctx.t("Categories")) }
                    ul {
                        @for c in &r.facets.categories {
                            li {
                                a href=(format!("/search?q={}&category={}", encode(form.q.as_deref().unwrap_or("")), encode(&c.id))) {
                                    @if ctx.lang == super::Lang::Zh { (c.name_zh) } @else { (c.name) }
                                }
                                " (" (c.count) ")"
                            }
                        }
                    }
                }
            }
            section.results {
                @match &results {
                    Some(r) if !r.hits.is_empty() => {
                        p.count { (ctx.count(r.total as i64, "result", "results")) }
                        (product_cards(&ctx, r))
                        @if let Some(next) = &r.next_cursor {
                            a.next href=(format!("/search?{}", form.with_cursor(next))) { (ctx.t("Next page")) " →" }
                        }
                    }
                    _ => { p.notice { (ctx.t("No products match.")) } }
                }
            }
        }
    };
    ctx.page(StatusCode::OK, ctx.t("Search"), body)
}

pub async fn product(State(app): State<App>, ctx: Ctx, Path(id): Path<String>) -> Response {
    if !id::is_valid(Kind::Product, &id) {
        return ctx.not_found();
    }
    let Ok(p) = app.product(&id).await else { return ctx.not_found() };
    let staff = match &ctx.user {
        Some(u) => souk_app::access::manages(&app, Some(u), &p.store_id).await.unwrap_or(false),
        None => false,
    };
    if p.status != ProductStatus::Active && !staff {
        return ctx.not_found();
    }
    if p.status == ProductStatus::Active && !staff {
        app.traffic.add(&p.id, 0, 1);
    }
    let Ok(store) = app.store_by_id(&p.store_id).await else { return ctx.error() };
    let flash = super::flash::banner(&app, &ctx, &p, &store.owner_id).await;
    let (Ok(trust), Ok(rating), Ok(reviews)) = (
        souk_app::trust::trust_of(&app, &store.id).await,
        app.rating_summary(ReviewScope::Product(&p.id)).await,
        app.reviews(ReviewScope::Product(&p.id), None, 10).await,
    ) else {
        return ctx.error();
    };
    let body = html! {
        article.product {
            div.gallery { (image(p.images.first().map(String::as_str), &p.title)) }
            div.info {
                h1 { (p.title) }
                p.desc { (p.description) }
                @if !p.attributes.is_empty() {
                    dl.attributes { @for (k, v) in &p.attributes { div { dt { (k) } dd { (v) } } } }
                }
                @if p.moq > 1 { p { (ctx.t("Minimum order")) ": " (ctx.count(p.moq, "unit", "units")) } }
                p { (ctx.t("Ships to")) ": "
                    @if p.ships_to.iter().any(|c| c == "*") { (ctx.t("everywhere")) } @else { (p.ships_to.join(", ")) }
                }
                (flash)
                h2 { (ctx.t("Variants")) }
                table.skus {
                    @for sku in &p.skus {
                        tr {
                            td { @for (k, v) in &sku.options { (k) ": " (v) " " } }
                            td.price { (money(&sku.price)) }
                            td { @if sku.stock >= p.moq.max(1) { (ctx.t("In stock")) " (" (sku.stock) ")" } @else { (ctx.t("Out of stock")) } }
                            td {
                                @if ctx.user.is_some() && sku.stock >= p.moq.max(1) {
                                    form.inline.buy method="post" action="/cart" {
                                        (ctx.csrf_field()) (super::forms::form_key())
                                        input type="hidden" name="sku_id" value=(sku.id);
                                        input type="number" name="quantity" value=(p.moq.max(1)) min=(p.moq.max(1)) max=(sku.stock) aria-label=(ctx.t("Quantity"));
                                        button type="submit" { (ctx.t("Add to cart")) }
                                    }
                                } @else if ctx.user.is_none() {
                                    a href=(format!("/login?next=/products/{}", p.id)) { (ctx.t("Log in to buy")) }
                                }
                            }
                        }
                        @if !sku.price_tiers.is_empty() {
                            tr.tiers { td colspan="4" { (ctx.t("Price tiers")) ": "
                                @for t in &sku.price_tiers { span.tier { (ctx.t("from")) " " (t.min_qty) ": " (money(&t.price)) } " " }
                            } }
                        }
                    }
                }
            }
            aside.seller {
                h2 { (ctx.t("Sold by")) " " a href=(format!("/stores/{}", store.slug)) { (store.name) } }
                @if ctx.user.as_ref().is_some_and(|u| u.id != store.owner_id) {
                    form.contact method="post" action="/messages/start" {
                        (ctx.csrf_field()) (super::forms::form_key())
                        input type="hidden" name="product_id" value=(p.id);
                        button type="submit" { (ctx.t("Contact the seller")) }
                    }
                }
                p.badge { (ctx.t("Trust score")) ": " strong { (format!("{:.0}", trust.score)) } " / 100" }
                details {
                    summary { (ctx.t("How the score is made")) }
                    table.breakdown {
                        @for c in &trust.components {
                            tr { td { (ctx.lang.t(component_key(c.name))) } td { (format!("{:.2}", c.value)) } td { (format!("+{:.1}", c.points)) } }
                        }
                    }
                }
            }
        }
        section.reviews {
            h2 { (ctx.t("Reviews")) " (" (rating.count) ")" }
            @if let Some(avg) = rating.average { p.stars { "★ " (format!("{avg:.1}")) } }
            @if reviews.items.is_empty() { p { (ctx.t("No reviews yet.")) } }
            @for r in &reviews.items {
                div.review {
                    p { strong { (r.buyer_name) } " · " ("★".repeat(r.stars.clamp(0, 5) as usize)) }
                    p { (r.text) }
                    @if let Some(reply) = &r.reply { p.reply { (ctx.t("Seller's reply")) ": " (reply) } }
                }
            }
        }
    };
    ctx.page(StatusCode::OK, &p.title, body)
}

/// The i18n key of a trust component's name.
fn component_key(name: &str) -> &'static str {
    ["volume", "rating", "detailed", "on_time", "delivery", "disputes", "refunds", "response", "verification", "tenure"]
        .into_iter()
        .find(|k| *k == name)
        .unwrap_or("rating")
}

#[derive(Deserialize, Default)]
pub struct StorePage {
    #[serde(default)]
    cursor: Option<String>,
}

pub async fn store(
    State(app): State<App>,
    ctx: Ctx,
    Path(slug): Path<String>,
    Query(page): Query<StorePage>,
) -> Response {
    let Ok(store) = app.store_by_slug(&slug).await else { return ctx.not_found() };
    let cursor = page.cursor.filter(|c| !c.is_empty());
    let first_page = cursor.is_none();
    let q = SearchQuery { store: Some(store.id.clone()), limit: Some(PAGE), cursor, ..Default::default() };
    let (Ok(products), Ok(trust), Ok(rating)) = (
        souk_app::search::run(&app, q).await,
        souk_app::trust::trust_of(&app, &store.id).await,
        app.rating_summary(ReviewScope::Store(&store.id)).await,
    ) else {
        return ctx.error();
    };
    let verified = store.verification != souk_domain::account::Verification::None;
    let body = html! {
        section.store-head {
            h1 { (store.name) }
            p { (store.description) }
            p {
                (store.country) " · " (store.tenure_days) " " (ctx.t("days on Souk")) " · "
                @if verified { (ctx.t("Verified")) } @else { (ctx.t("Not verified")) }
            }
            p.badge { (ctx.t("Trust score")) ": " strong { (format!("{:.0}", trust.score)) } " / 100"
                @if let Some(avg) = rating.average { " · ★ " (format!("{avg:.1}")) " (" (ctx.count(rating.count, "review", "reviews")) ")" }
            }
        }
        section {
            h2 { (ctx.t("Products")) " (" (products.total) ")" }
            (product_cards(&ctx, &products))
            p.pages {
                @if !first_page { a href=(format!("/stores/{}", store.slug)) { "← " (ctx.t("First page")) } " " }
                @if let Some(next) = &products.next_cursor {
                    a.next href=(format!("/stores/{}?cursor={}", store.slug, encode(next))) { (ctx.t("Next page")) " →" }
                }
            }
        }
    };
    ctx.page(StatusCode::OK, &store.name, body)
}
