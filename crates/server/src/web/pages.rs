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
use souk_domain::moderation::Target;

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
    price_min: Option<String>,
    price_max: Option<String>,
    currency: Option<String>,
    min_rating: Option<String>,
    ships_to: Option<String>,
    cursor: Option<String>,
}

/// A filter's value when it was given, trimmed.
fn given(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

impl SearchForm {
    fn pairs(&self) -> [(&'static str, &Option<String>); 9] {
        [
            ("q", &self.q),
            ("category", &self.category),
            ("sort", &self.sort),
            ("in_stock", &self.in_stock),
            ("price_min", &self.price_min),
            ("price_max", &self.price_max),
            ("currency", &self.currency),
            ("min_rating", &self.min_rating),
            ("ships_to", &self.ships_to),
        ]
    }

    /// The query string of this search with `key` set to `value` (or dropped) and no cursor,
    /// unless `key` is the cursor.
    fn with(&self, key: &str, value: Option<&str>) -> String {
        let mut pairs: Vec<String> = self
            .pairs()
            .into_iter()
            .filter(|(k, _)| *k != key)
            .filter_map(|(k, v)| given(v).map(|v| format!("{k}={}", encode(v))))
            .collect();
        if let Some(v) = value {
            pairs.push(format!("{key}={}", encode(v)));
        }
        pairs.join("&")
    }

    /// The query the form asks for, and what was wrong with a filter that could not be used
    /// (the search runs without it).
    fn query(&self) -> (SearchQuery, Option<&'static str>) {
        let mut q = SearchQuery {
            q: self.q.clone(),
            category: given(&self.category).map(str::to_string),
            sort: given(&self.sort).map(str::to_string),
            in_stock: given(&self.in_stock).map(|v| v == "on" || v == "true"),
            min_seller_rating: given(&self.min_rating).and_then(|v| v.parse::<f64>().ok()),
            cursor: self.cursor.clone(),
            limit: Some(PAGE),
            ..Default::default()
        };
        let mut problem = None;
        if let Some(code) = given(&self.ships_to) {
            let code = code.to_ascii_uppercase();
            match souk_domain::geo::parse_country(&code, "ships_to") {
                Ok(c) => q.ships_to = Some(c),
                Err(_) => problem = Some("Ships to takes a two-letter country code, such as DE or CN."),
            }
        }
        let currency = given(&self.currency).map(super::forms::currency);
        match currency {
            Some(Ok(c)) => {
                q.currency = Some(c.code().to_string());
                for (text, slot) in [(&self.price_min, &mut q.price_min), (&self.price_max, &mut q.price_max)] {
                    if let Some(text) = given(text) {
                        match souk_domain::Money::parse_major(text, c) {
                            Ok(m) => *slot = Some(m.amount),
                            Err(_) => problem = Some("Prices are numbers with a decimal point, such as 12.50."),
                        }
                    }
                }
            }
            Some(Err(_)) => problem = Some("Choose a currency from the list."),
            None if given(&self.price_min).or(given(&self.price_max)).is_some() => {
                problem = Some("Choose a currency for the price range.")
            }
            None => {}
        }
        (q, problem)
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

pub async fn search(State(app): State<App>, mut ctx: Ctx, Query(form): Query<SearchForm>) -> Response {
    let (q, problem) = form.query();
    ctx.search_text = form.q.clone();
    // A bad parameter in a hand-edited URL shows no results rather than an error page.
    let results = souk_app::search::run(&app, q).await.ok();
    let sorts = [
        ("relevance", "Best match"),
        ("price_asc", "Price: low to high"),
        ("price_desc", "Price: high to low"),
        ("newest", "Newest"),
        ("rating", "Seller rating"),
    ];
    let ratings = [("", "Any seller"), ("60", "Trust 60 and up"), ("80", "Trust 80 and up"), ("90", "Trust 90 and up")];
    let current_sort = given(&form.sort).unwrap_or("relevance");
    let current_rating = given(&form.min_rating).unwrap_or("");
    let current_currency = given(&form.currency).map(str::to_ascii_uppercase);
    let live = super::flash::live_strip(&app, &ctx).await;
    let body = html! {
        (live)
        div.search-page {
            details.filters {
                summary { (ctx.t("Filters and sort")) }
                form.facets method="get" action="/search" data-auto {
                    input type="hidden" name="q" value=(form.q.as_deref().unwrap_or(""));
                    @if let Some(c) = given(&form.category) { input type="hidden" name="category" value=(c); }
                    label { (ctx.t("Sort"))
                        select name="sort" {
                            @for (value, label) in sorts {
                                option value=(value) selected[value == current_sort] { (ctx.t(label)) }
                            }
                        }
                    }
                    fieldset.price {
                        legend { (ctx.t("Price")) }
                        select name="currency" aria-label=(ctx.t("Currency")) {
                            option value="" { (ctx.t("Any currency")) }
                            @for c in souk_domain::Currency::all() {
                                option value=(c.code()) selected[current_currency.as_deref() == Some(c.code())] { (c.code()) }
                            }
                        }
                        span.range {
                            input type="text" inputmode="decimal" name="price_min" size="6" placeholder=(ctx.t("Min"))
                                aria-label=(ctx.t("Lowest price")) value=(given(&form.price_min).unwrap_or(""));
                            " – "
                            input type="text" inputmode="decimal" name="price_max" size="6" placeholder=(ctx.t("Max"))
                                aria-label=(ctx.t("Highest price")) value=(given(&form.price_max).unwrap_or(""));
                        }
                    }
                    label { (ctx.t("Seller trust"))
                        select name="min_rating" {
                            @for (value, label) in ratings {
                                option value=(value) selected[value == current_rating] { (ctx.t(label)) }
                            }
                        }
                    }
                    label { (ctx.t("Ships to (country code)"))
                        input name="ships_to" maxlength="2" size="3" placeholder="DE" autocapitalize="characters"
                            value=(given(&form.ships_to).unwrap_or(""));
                    }
                    label.check { input type="checkbox" name="in_stock" checked[given(&form.in_stock).is_some()]; (ctx.t("In stock only")) }
                    @if let Some(p) = &problem { p.error role="alert" { (ctx.t("This filter was not used:")) " " (ctx.t(p)) } }
                    button.apply type="submit" { (ctx.t("Apply")) }
                }
                @if let Some(r) = &results {
                    @if !r.facets.categories.is_empty() {
                        h3 { (ctx.t("Categories")) }
                        ul.facet-list {
                            @for c in &r.facets.categories {
                                li {
                                    a href=(format!("/search?{}", form.with("category", Some(&c.id)))) {
                                        @if ctx.lang == super::Lang::Zh { (c.name_zh) } @else { (c.name) }
                                    }
                                    " (" (c.count) ")"
                                }
                            }
                        }
                    }
                }
            }
            section.results {
                @match &results {
                    Some(r) if !r.hits.is_empty() => {
                        p.count {
                            (ctx.count(r.total as i64, "result", "results"))
                            @if let Some(q) = given(&form.q) { " · " (ctx.t("for")) " “" (q) "”" }
                            @if given(&form.category).is_some() { " · " a href=(format!("/search?{}", form.with("category", None))) { (ctx.t("all categories")) } }
                        }
                        (product_cards(&ctx, r))
                        @if let Some(next) = &r.next_cursor {
                            a.next href=(format!("/search?{}", form.with("cursor", Some(next)))) { (ctx.t("Next page")) " →" }
                        }
                    }
                    _ => { p.notice { (ctx.t("No products match.")) } }
                }
            }
        }
    };
    let title = match given(&form.q) {
        Some(q) => format!("{} · {q}", ctx.t("Search")),
        None => ctx.t("Search").to_string(),
    };
    ctx.page(StatusCode::OK, &title, body)
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
                (flash)
                @if p.moq > 1 { p { (ctx.t("Minimum order")) ": " (ctx.count(p.moq, "unit", "units")) } }
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
                p.desc { (p.description) }
                @if !p.attributes.is_empty() {
                    dl.attributes { @for (k, v) in &p.attributes { div { dt { (k) } dd { (v) } } } }
                }
                p { (ctx.t("Ships to")) ": "
                    @if p.ships_to.iter().any(|c| c == "*") { (ctx.t("everywhere")) } @else { (p.ships_to.join(", ")) }
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
                            tr { td { (ctx.code(c.name)) } td { (format!("{:.2}", c.value)) } td { (format!("+{:.1}", c.points)) } }
                        }
                    }
                }
            }
        }
        p.hint { (super::moderation::report_link(&ctx, Target::Product, &p.id)) }
        section.reviews {
            h2 { (ctx.t("Reviews")) " (" (rating.count) ")" }
            @if let Some(avg) = rating.average { p.stars { "★ " (format!("{avg:.1}")) } }
            @if reviews.items.is_empty() { p { (ctx.t("No reviews yet.")) } }
            @for r in &reviews.items {
                div.review {
                    p { strong { (r.buyer_name) } " · " ("★".repeat(r.stars.clamp(0, 5) as usize)) }
                    p { (r.text) }
                    @if !r.images.is_empty() { span.photos { @for i in &r.images { (super::photo_link(i)) } } }
                    @if let Some(reply) = &r.reply { p.reply { (ctx.t("Seller's reply")) ": " (reply) } }
                    p.hint { (super::moderation::report_link(&ctx, Target::Review, &r.id)) }
                }
            }
        }
    };
    ctx.page(StatusCode::OK, &p.title, body)
}

/// The i18n key of a trust component's name.
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
            p.hint { (super::moderation::report_link(&ctx, Target::Store, &store.id)) }
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
