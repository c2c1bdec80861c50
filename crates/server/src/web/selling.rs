//! The seller center's catalog pages: opening a store, identity verification, products (create
//! and edit, with variants and tier prices) and CSV import with its progress and per-row report.
//! Every write goes through the same store calls and validation as the JSON API.

use super::forms::{form_key, once, to_login};
use super::{money, Ctx};
use crate::error::AppError;
use crate::App;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Form;
use maud::{html, Markup};
use serde::Deserialize;
use souk_app::catalog;
use souk_domain::account::{DocumentType, StoreInput, StoreProfile, VerificationInput, VerificationRequest};
use souk_domain::catalog::{PriceTier, Product, ProductInput, ProductPatch, ProductStatus, SkuInput, SkuPatch};
use souk_domain::category::Category;
use souk_domain::{Currency, Invalid, Money};
use std::collections::BTreeMap;

/// A form's fields in the order sent; repeated variant rows are numbered (`v0_price`).
pub struct Fields(Vec<(String, String)>);

impl Fields {
    fn get(&self, name: &str) -> &str {
        self.0.iter().find(|(k, _)| k == name).map_or("", |(_, v)| v.trim())
    }
}

/// The most variant rows one form carries.
const MAX_VARIANTS: usize = 50;

pub fn open_store_form(ctx: &Ctx) -> Markup {
    html! {
        section.narrow {
            h2 { (ctx.t("Open a store")) }
            form.store method="post" action="/seller/store" {
                (ctx.csrf_field()) (form_key())
                label { (ctx.t("Store name")) input name="name" required maxlength="100"; }
                label { (ctx.t("Address (lower-case letters, digits, hyphens)")) input name="slug" required pattern="[a-z0-9-]{3,40}"; }
                label { (ctx.t("Country code")) input name="country" required maxlength="2" size="3" placeholder="CN"; }
                label { (ctx.t("Currency")) input name="currency" required maxlength="3" size="4" placeholder="CNY"; }
                label { (ctx.t("Description")) textarea name="description" maxlength="2000" {} }
                button type="submit" { (ctx.t("Open the store")) }
            }
        }
    }
}

#[derive(Deserialize)]
pub struct StoreForm {
    name: String,
    slug: String,
    country: String,
    currency: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    _csrf: String,
    #[serde(default)]
    _key: String,
}

pub async fn open_store(State(app): State<App>, ctx: Ctx, Form(f): Form<StoreForm>) -> Response {
    let user = match ctx.poster(&f._csrf, "/seller") {
        Ok(u) => u,
        Err(r) => return *r,
    };
    once!(app, ctx, user, f._key, |tx| {
        let input = StoreInput {
            name: f.name.clone(),
            slug: f.slug.trim().to_string(),
            country: f.country.trim().to_ascii_uppercase(),
            currency: f.currency.trim().to_ascii_uppercase(),
            description: f.description.clone(),
        };
        catalog::open_store(&mut tx, &user, &input).await?;
        "/seller".to_string()
    })
}

/// The store's identity check: its latest request's state, and the form to (re)submit one.
pub fn verification_panel(ctx: &Ctx, latest: Option<&VerificationRequest>) -> Markup {
    use souk_domain::account::VerificationStatus as S;
    html! {
        section {
            h2 { (ctx.t("Identity verification")) }
            @match latest.map(|v| v.status) {
                Some(S::Approved) => p.ok { (ctx.t("Verified.")) },
                Some(S::Pending) => p.notice { (ctx.t("Submitted; an administrator will review it.")) },
                Some(S::Rejected) | None => {
                    @if let Some(reason) = latest.and_then(|v| v.reason.as_deref()) {
                        p.error { (ctx.t("Rejected")) ": " (reason) }
                    }
                    form.verification method="post" action="/seller/verification" {
                        (ctx.csrf_field()) (form_key())
                        label { (ctx.t("Legal name")) input name="legal_name" required maxlength="200"; }
                        label { (ctx.t("Document")) select name="document_type" {
                            @for d in [DocumentType::BusinessLicense, DocumentType::NationalId, DocumentType::Passport] {
                                option value=(d.as_str()) { (ctx.t(document_label(d))) }
                            }
                        } }
                        label { (ctx.t("Document number")) input name="document_number" required maxlength="64"; }
                        (super::forms::upload_field(ctx, "Add scans or photos of the documents", "document_urls"))
                        label { (ctx.t("Links to scans, one per line")) textarea name="document_urls" {} }
                        button type="submit" { (ctx.t("Submit for verification")) }
                    }
                }
            }
        }
    }
}

#[derive(Deserialize)]
pub struct VerificationForm {
    legal_name: String,
    document_type: String,
    document_number: String,
    #[serde(default)]
    document_urls: String,
    #[serde(default)]
    _csrf: String,
    #[serde(default)]
    _key: String,
}

/// The signed-in seller's store, or the page to show instead.
async fn my_store(app: &App, ctx: &Ctx, here: &str) -> Result<StoreProfile, Response> {
    let Some(user) = &ctx.user else { return Err(to_login(here)) };
    match app.store_by_owner(&user.id).await {
        Ok(s) => Ok(s),
        Err(e) if e.kind == souk_app::error::ErrorKind::NotFound => {
            Err(axum::response::Redirect::to("/seller").into_response())
        }
        Err(_) => Err(ctx.error()),
    }
}

pub async fn submit_verification(State(app): State<App>, ctx: Ctx, Form(f): Form<VerificationForm>) -> Response {
    let store = match my_store(&app, &ctx, "/seller").await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let Some(user) = ctx.user.clone().filter(|_| ctx.csrf_ok(&f._csrf)) else { return ctx.expired_form() };
    once!(app, ctx, user, f._key, |tx| {
        let document_type = DocumentType::parse(&f.document_type)
            .ok_or_else(|| Invalid::new("invalid", "document_type", "passport, national_id or business_license"))?;
        let input = VerificationInput {
            legal_name: f.legal_name.clone(),
            document_type,
            document_number: f.document_number.clone(),
            document_urls: lines(&f.document_urls),
        };
        catalog::submit_verification(&mut tx, &user, &store, &input).await?;
        "/seller".to_string()
    })
}

/// A document type as the pages name it (a key of `web::i18n`).
pub(super) fn document_label(d: DocumentType) -> &'static str {
    match d {
        DocumentType::BusinessLicense => "Business license",
        DocumentType::NationalId => "National ID",
        DocumentType::Passport => "Passport",
    }
}

fn lines(text: &str) -> Vec<String> {
    text.lines().map(str::trim).filter(|l| !l.is_empty()).map(str::to_string).collect()
}

/// `key=value` pairs separated by `;` (variant options) or, with `:`, one per line (attributes).
fn pairs(text: &str, item: char, kv: char, field: &str) -> Result<BTreeMap<String, String>, Invalid> {
    let mut out = BTreeMap::new();
    for part in text.split(item).map(str::trim).filter(|p| !p.is_empty()) {
        let Some((k, v)) = part.split_once(kv) else {
            return Err(Invalid::new("invalid", field, format!("write each as name{kv}value")));
        };
        out.insert(k.trim().to_string(), v.trim().to_string());
    }
    Ok(out)
}

/// Tier prices written `10=9.50; 100=8.00`: from 10 units 9.50 each, from 100 units 8.00.
fn tiers(text: &str, currency: Currency, field: &str) -> Result<Vec<PriceTier>, Invalid> {
    let mut out = Vec::new();
    for (min, price) in pairs(text, ';', '=', field)? {
        let min_qty = min.parse().map_err(|_| Invalid::new("invalid", field, "a tier starts at a whole quantity"))?;
        let price = Money::parse_major(&price, currency).map_err(|m| Invalid::new("invalid", field, m))?;
        out.push(PriceTier { min_qty, price });
    }
    out.sort_by_key(|t| t.min_qty);
    Ok(out)
}

fn tiers_text(tiers: &[PriceTier]) -> String {
    tiers.iter().map(|t| format!("{}={}", t.min_qty, t.price.format_major())).collect::<Vec<_>>().join("; ")
}

fn options_text(options: &BTreeMap<String, String>, kv: &str, sep: &str) -> String {
    options.iter().map(|(k, v)| format!("{k}{kv}{v}")).collect::<Vec<_>>().join(sep)
}

/// One variant row of the form, as typed.
struct VariantRow {
    id: String,
    code: String,
    options: BTreeMap<String, String>,
    price: Money,
    stock: i64,
    tiers: Vec<PriceTier>,
    /// The units available shown when the form was drawn: only a change is written.
    was: String,
    stock_text: String,
}

fn variant_rows(f: &Fields, currency: Currency) -> Result<Vec<VariantRow>, Invalid> {
    let mut rows = Vec::new();
    for i in 0..MAX_VARIANTS {
        let get = |name: &str| f.get(&format!("v{i}_{name}")).to_string();
        let (id, code, price, stock) = (get("id"), get("code"), get("price"), get("stock"));
        if id.is_empty() && code.is_empty() && price.is_empty() && stock.is_empty() && get("options").is_empty() {
            continue;
        }
        let field = |name: &str| format!("variants[{i}].{name}");
        let price = Money::parse_major(&price, currency).map_err(|m| Invalid::new("invalid", field("price"), m))?;
        let stock_n = stock.parse().map_err(|_| Invalid::new("invalid", field("stock"), "a whole number of units"))?;
        rows.push(VariantRow {
            id,
            code,
            options: pairs(&get("options"), ';', '=', &field("options"))?,
            price,
            stock: stock_n,
            tiers: tiers(&get("tiers"), currency, &field("tiers"))?,
            was: get("was"),
            stock_text: stock,
        });
    }
    Ok(rows)
}

/// The product's own fields, as typed.
struct ProductFields {
    title: String,
    description: String,
    category: Option<String>,
    attributes: BTreeMap<String, String>,
    images: Vec<String>,
    ships_to: Vec<String>,
    moq: Option<i64>,
    status: ProductStatus,
}

fn product_fields(f: &Fields) -> Result<ProductFields, Invalid> {
    let moq = match f.get("moq") {
        "" => None,
        m => Some(m.parse().map_err(|_| Invalid::new("invalid", "moq", "a whole number of units"))?),
    };
    let status = ProductStatus::parse(f.get("status"))
        .ok_or_else(|| Invalid::new("invalid", "status", "draft, active or archived"))?;
    Ok(ProductFields {
        title: f.get("title").to_string(),
        description: f.get("description").to_string(),
        category: Some(f.get("category").to_string()).filter(|c| !c.is_empty()),
        attributes: pairs(f.get("attributes"), '\n', ':', "attributes")?,
        images: lines(f.get("images")),
        ships_to: f
            .get("ships_to")
            .split([',', ' '])
            .filter(|c| !c.is_empty())
            .map(|c| c.to_ascii_uppercase())
            .collect(),
        moq,
        status,
    })
}

fn variant_row(ctx: &Ctx, i: usize, values: &Fields, error: Option<&FieldError>) -> Markup {
    let name = |n: &str| format!("v{i}_{n}");
    let value = |n: &str| values.get(&name(n)).to_string();
    let saved = !value("id").is_empty();
    html! {
        fieldset.variant {
            legend { (ctx.t("Variant")) " " (i + 1) }
            @if saved {
                input type="hidden" name=(name("id")) value=(value("id"));
                input type="hidden" name=(name("was")) value=(value("was"));
            }
            @for (field, label) in [
                ("code", "SKU code"),
                ("options", "Options (color=red; size=M)"),
                ("price", "Price"),
                ("stock", "Units available"),
                ("tiers", "Tier prices (10=9.50; 100=8.00)"),
            ] {
                @let wrong = error.filter(|e| e.input == name(field));
                label { (ctx.t(label))
                    input name=(name(field)) value=(value(field)) readonly[saved && field == "code"]
                        inputmode=[match field { "price" => Some("decimal"), "stock" => Some("numeric"), _ => None }]
                        maxlength=[(field == "code").then_some("64")] aria-invalid=[wrong.map(|_| "true")];
                }
                @if let Some(e) = wrong { p.field-error role="alert" { (e.words) } }
            }
        }
    }
}

/// The button that asks for one more variant row (htmx), replaced by each row it brings.
fn add_variant_button(ctx: &Ctx, next: usize) -> Markup {
    html! {
        @if next < MAX_VARIANTS {
            button #add-variant type="button" hx-get=(format!("/seller/products/variant?i={next}")) hx-target="#variants" hx-swap="beforeend" {
                (ctx.t("Add a variant"))
            }
        }
    }
}

#[derive(Deserialize)]
pub struct RowQuery {
    i: usize,
}

/// One more empty variant row for the form (an htmx fragment), with the next button out of band.
pub async fn variant_fragment(ctx: Ctx, Query(q): Query<RowQuery>) -> Response {
    if ctx.user.is_none() || q.i >= MAX_VARIANTS {
        return StatusCode::NOT_FOUND.into_response();
    }
    let button = add_variant_button(&ctx, q.i + 1);
    let fragment = html! {
        (variant_row(&ctx, q.i, &Fields(Vec::new()), None))
        div #add-variant-slot hx-swap-oob="true" { (button) }
    };
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], fragment.into_string()).into_response()
}

/// A failed save's error, placed next to the input it is about.
struct FieldError {
    /// The form input's name (`title`, `v2_price`), or empty when it is about no one input.
    input: String,
    words: String,
}

impl FieldError {
    fn of(ctx: &Ctx, e: &AppError) -> FieldError {
        FieldError {
            input: e.field.as_deref().map(super::forms::input_of).unwrap_or_default(),
            words: super::forms::error_words(ctx, e),
        }
    }
}

/// A product form's values: a saved product's, or a new one's defaults.
fn saved_values(p: Option<&Product>) -> Fields {
    let mut v: Vec<(String, String)> = Vec::new();
    let mut put = |k: &str, value: String| v.push((k.to_string(), value));
    let Some(p) = p else {
        put("ships_to", "*".into());
        put("moq", "1".into());
        put("status", ProductStatus::Active.as_str().into());
        return Fields(v);
    };
    put("title", p.title.clone());
    put("description", p.description.clone());
    put("category", p.category.as_ref().map(|c| c.id.clone()).unwrap_or_default());
    put("ships_to", p.ships_to.join(", "));
    put("moq", p.moq.to_string());
    put("status", p.status.as_str().into());
    put("images", p.images.join("\n"));
    put("attributes", options_text(&p.attributes, ": ", "\n"));
    for (i, s) in p.skus.iter().enumerate() {
        put(&format!("v{i}_id"), s.id.clone());
        put(&format!("v{i}_was"), s.stock.to_string());
        put(&format!("v{i}_code"), s.sku.clone().unwrap_or_default());
        put(&format!("v{i}_options"), options_text(&s.options, "=", "; "));
        put(&format!("v{i}_price"), s.price.format_major());
        put(&format!("v{i}_stock"), s.stock.to_string());
        put(&format!("v{i}_tiers"), tiers_text(&s.price_tiers));
    }
    Fields(v)
}

/// How many variant rows the values fill (at least one, to type into).
fn variant_count(values: &Fields) -> usize {
    let index = |k: &str| k.strip_prefix('v')?.split_once('_')?.0.parse::<usize>().ok();
    values.0.iter().filter_map(|(k, _)| index(k)).map(|i| i + 1).max().unwrap_or(0).clamp(1, MAX_VARIANTS)
}

fn product_form(ctx: &Ctx, action: &str, values: &Fields, currency: &str, error: Option<&FieldError>) -> Markup {
    let rows = variant_count(values);
    let status = ProductStatus::parse(values.get("status")).unwrap_or(ProductStatus::Active);
    let wrong = |input: &str| error.filter(|e| e.input == input);
    let note = |input: &str| html! { @if let Some(e) = wrong(input) { p.field-error role="alert" { (e.words) } } };
    let invalid = |input: &str| wrong(input).map(|_| "true");
    html! {
        form.product method="post" action=(action) {
            (ctx.csrf_field()) (form_key())
            @if let Some(e) = error {
                p.error role="alert" { (ctx.t("Nothing was saved: please correct what is marked.")) " " (e.words) }
            }
            label { (ctx.t("Title")) input name="title" required maxlength="200" value=(values.get("title")) aria-invalid=[invalid("title")]; }
            (note("title"))
            label { (ctx.t("Description")) textarea name="description" maxlength="10000" aria-invalid=[invalid("description")] { (values.get("description")) } }
            (note("description"))
            label { (ctx.t("Category")) select name="category" aria-invalid=[invalid("category")] {
                option value="" { "–" }
                @for c in Category::all() {
                    option value=(c.id) selected[values.get("category") == c.id] {
                        @if ctx.lang == super::Lang::Zh { (c.path_zh()) } @else { (c.path()) }
                    }
                }
            } }
            (note("category"))
            label { (ctx.t("Ships to (country codes, or *)")) input name="ships_to" required value=(values.get("ships_to")) aria-invalid=[invalid("ships_to")]; }
            (note("ships_to"))
            label { (ctx.t("Minimum order quantity")) input name="moq" inputmode="numeric" value=(values.get("moq")) aria-invalid=[invalid("moq")]; }
            (note("moq"))
            label { (ctx.t("Status")) select name="status" {
                @for s in [ProductStatus::Active, ProductStatus::Draft, ProductStatus::Archived] {
                    option value=(s.as_str()) selected[s == status] { (ctx.t(s.as_str())) }
                }
            } }
            (super::forms::upload_field(ctx, "Add photos", "images"))
            label { (ctx.t("Image links, one per line")) textarea name="images" aria-invalid=[invalid("images")] { (values.get("images")) } }
            (note("images"))
            label { (ctx.t("Attributes (name: value, one per line)")) textarea name="attributes" aria-invalid=[invalid("attributes")] { (values.get("attributes")) } }
            (note("attributes"))
            p.hint { (ctx.t("Prices in")) " " (currency) " · " (ctx.t("write decimals with a point, as 12.50")) }
            div #variants {
                @for i in 0..rows { (variant_row(ctx, i, values, error)) }
            }
            div #add-variant-slot { (add_variant_button(ctx, rows)) }
            button type="submit" { (ctx.t("Save")) }
        }
    }
}

#[derive(Deserialize, Default)]
pub struct ProductsForm {
    #[serde(default)]
    q: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    cursor: String,
}

/// The seller's listings, found by words of the title and by status, with thumbnails, stock
/// and price, a page at a time.
pub async fn products(State(app): State<App>, ctx: Ctx, Query(f): Query<ProductsForm>) -> Response {
    let store = match my_store(&app, &ctx, "/seller/products").await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let status = ProductStatus::parse(&f.status);
    let filter = souk_app::views::ProductFilter {
        store_id: Some(store.id.clone()),
        status,
        title: Some(f.q.clone()),
        ..Default::default()
    };
    let cursor = Some(f.cursor.as_str()).filter(|c| !c.is_empty());
    let Ok(page) = app.list_products(&filter, cursor, 50).await else { return ctx.error() };
    let statuses = [("", "Any status"), ("active", "active"), ("draft", "draft"), ("archived", "archived")];
    let body = html! {
        h1 { (ctx.t("Products")) ": " (store.name) }
        p.actions { a.button href="/seller/products/new" { (ctx.t("New product")) } a href="/seller/import" { (ctx.t("Import from CSV")) } }
        form.find method="get" action="/seller/products" data-auto {
            input type="search" name="q" value=(f.q) placeholder=(ctx.t("Find by title")) aria-label=(ctx.t("Find by title"));
            select name="status" aria-label=(ctx.t("Status")) {
                @for (value, label) in statuses { option value=(value) selected[value == f.status] { (ctx.t(label)) } }
            }
            button type="submit" { (ctx.t("Find")) }
        }
        @if page.items.is_empty() {
            p.notice { @if f.q.trim().is_empty() && status.is_none() { (ctx.t("No products yet.")) } @else { (ctx.t("No products match.")) } }
        }
        table.listing {
            @for p in &page.items {
                tr {
                    td.thumb { (super::image(p.images.first().map(String::as_str), &p.title)) }
                    td {
                        a href=(format!("/seller/products/{}", p.id)) { (p.title) }
                        br;
                        span.hint { (ctx.count(p.skus.len() as i64, "variant", "variants")) " · "
                            (ctx.count(p.skus.iter().map(|s| s.stock).sum::<i64>(), "unit", "units")) }
                    }
                    td { span.state { (ctx.t(p.status.as_str())) } }
                    td.price { @if let Some(s) = p.skus.first() { (money(&s.price)) } }
                }
            }
        }
        @if let Some(next) = &page.next_cursor {
            a.next href=(format!("/seller/products?q={}&status={}&cursor={}", super::pages::encode(&f.q), f.status, super::pages::encode(next))) { (ctx.t("More products")) " →" }
        }
    };
    ctx.page(StatusCode::OK, ctx.t("Products"), body)
}

pub async fn new_product(State(app): State<App>, ctx: Ctx) -> Response {
    let store = match my_store(&app, &ctx, "/seller/products/new").await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let body = html! {
        h1 { (ctx.t("New product")) }
        (product_form(&ctx, "/seller/products/new", &saved_values(None), &store.currency, None))
    };
    ctx.page(StatusCode::OK, ctx.t("New product"), body)
}

pub async fn create_product(State(app): State<App>, ctx: Ctx, Form(f): Form<Vec<(String, String)>>) -> Response {
    let f = Fields(f);
    let store = match my_store(&app, &ctx, "/seller/products/new").await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let Some(user) = ctx.user.clone().filter(|_| ctx.csrf_ok(f.get("_csrf"))) else { return ctx.expired_form() };
    let key = f.get("_key").to_string();
    let res = once!(app, ctx, user, key, |tx| {
        let p = product_fields(&f)?;
        let skus = variant_rows(&f, super::forms::currency(&store.currency)?)?
            .into_iter()
            .map(|v| SkuInput {
                sku: Some(v.code).filter(|c| !c.is_empty()),
                options: v.options,
                price: v.price,
                stock: v.stock,
                price_tiers: v.tiers,
            })
            .collect();
        let input = ProductInput {
            title: p.title,
            description: p.description,
            category: p.category,
            attributes: p.attributes,
            images: p.images,
            ships_to: p.ships_to,
            moq: p.moq,
            status: Some(p.status),
            skus,
        };
        let product = catalog::create_product(&mut tx, &store, input).await?;
        format!("/seller/products/{}", product.id)
    }, else |e| {
        if let Some(r) = super::forms::inline_problem(&ctx, e) {
            return r;
        }
        let body = html! {
            h1 { (ctx.t("New product")) }
            (product_form(&ctx, "/seller/products/new", &f, &store.currency, Some(&FieldError::of(&ctx, e))))
        };
        ctx.page(StatusCode::OK, ctx.t("New product"), body)
    });
    app.catalog_changed();
    res
}

/// The signed-in seller's product, or the page to show instead.
async fn my_product(app: &App, ctx: &Ctx, id: &str) -> Result<(StoreProfile, Product), Response> {
    let store = my_store(app, ctx, &format!("/seller/products/{id}")).await?;
    match app.product(id).await {
        Ok(p) if p.store_id == store.id => Ok((store, p)),
        _ => Err(ctx.not_found()),
    }
}

pub async fn edit_product(State(app): State<App>, ctx: Ctx, Path(id): Path<String>) -> Response {
    let (store, product) = match my_product(&app, &ctx, &id).await {
        Ok(sp) => sp,
        Err(r) => return r,
    };
    let held = app.held(&store.id, Some(&product.id)).await.ok().flatten();
    edit_page(&ctx, &product, &store.currency, &saved_values(Some(&product)), None, held.as_ref())
}

/// A product's edit page: its form with `values`, and the error of a failed save.
/// `held`: why an operator holds the listing, if one does.
fn edit_page(
    ctx: &Ctx,
    product: &Product,
    currency: &str,
    values: &Fields,
    error: Option<&AppError>,
    held: Option<&souk_app::moderation::ActionRow>,
) -> Response {
    if let Some(r) = error.and_then(|e| super::forms::inline_problem(ctx, e)) {
        return r;
    }
    let error = error.map(|e| FieldError::of(ctx, e));
    let body = html! {
        h1 { (product.title) }
        p { a href=(format!("/products/{}", product.id)) { (ctx.t("View in the shop")) } " · " a href="/seller/products" { (ctx.t("All products")) } }
        @if let Some(action) = held { (super::moderation::held_notice(ctx, action)) }
        (product_form(ctx, &format!("/seller/products/{}", product.id), values, currency, error.as_ref()))
    };
    ctx.page(StatusCode::OK, &product.title, body)
}

pub async fn update_product(
    State(app): State<App>,
    ctx: Ctx,
    Path(id): Path<String>,
    Form(f): Form<Vec<(String, String)>>,
) -> Response {
    let f = Fields(f);
    let (store, product) = match my_product(&app, &ctx, &id).await {
        Ok(sp) => sp,
        Err(r) => return r,
    };
    let Some(user) = ctx.user.clone().filter(|_| ctx.csrf_ok(f.get("_csrf"))) else { return ctx.expired_form() };
    let key = f.get("_key").to_string();
    let res = once!(app, ctx, user, key, |tx| {
        let p = product_fields(&f)?;
        let patch = ProductPatch {
            title: Some(p.title),
            description: Some(p.description),
            category: p.category,
            attributes: Some(p.attributes),
            images: Some(p.images),
            ships_to: Some(p.ships_to),
            moq: p.moq,
            status: Some(p.status),
        };
        catalog::update_product(&mut tx, &product, &patch).await?;
        for v in variant_rows(&f, super::forms::currency(&product.currency)?)? {
            if v.id.is_empty() {
                let input = SkuInput {
                    sku: Some(v.code).filter(|c| !c.is_empty()),
                    options: v.options,
                    price: v.price,
                    stock: v.stock,
                    price_tiers: v.tiers,
                };
                catalog::add_sku(&mut tx, &product, &input).await?;
                continue;
            }
            let patch =
                SkuPatch { options: Some(v.options), price: Some(v.price), stock: None, price_tiers: Some(v.tiers) };
            catalog::update_sku(&mut tx, &product, &v.id, &patch).await?;
            if v.stock_text != v.was {
                catalog::set_available(&mut tx, &product, &v.id, v.stock).await?;
            }
        }
        format!("/seller/products/{}", product.id)
    }, else |e| edit_page(&ctx, &product, &store.currency, &f, Some(e), None));
    app.catalog_changed();
    res
}

pub async fn import_page(State(app): State<App>, ctx: Ctx) -> Response {
    let store = match my_store(&app, &ctx, "/seller/import").await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let body = html! {
        h1 { (ctx.t("Import from CSV")) ": " (store.name) }
        p.hint { (ctx.t("Columns")) ": " code { "title,description,category,price,currency,stock,ships_to" }
            " " (ctx.t("and optionally")) " " code { "sku,attributes,image_url,moq" } ". "
            (ctx.t("Rows matching an earlier import (by SKU, else title) are updated.")) }
        p { a href="/seller/import/template.csv" download="souk-products.csv" { (ctx.t("Download a CSV template with two example rows")) } }
        form #import data-csrf=(ctx.csrf) data-key=(souk_app::accounts::random_token()) {
            input type="file" name="file" accept=".csv,text/csv" required aria-label=(ctx.t("CSV file"));
            button type="submit" { (ctx.t("Upload")) }
        }
        p { (ctx.t("Upload")) " " progress #upload max="100" value="0" {} }
        div #import-status {}
        script src="/assets/import.js" defer {}
    };
    ctx.page(StatusCode::OK, ctx.t("Import from CSV"), body)
}

/// A file to fill in: every column, and two rows that import as they are.
const CSV_TEMPLATE: &str = "\
title,description,category,price,currency,stock,ships_to,sku,attributes,image_url,moq
Cotton T-shirt,Heavyweight cotton crew neck,fashion/mens-clothing,12.50,USD,200,*,TSHIRT-M,size=M;colour=white,,1
Bamboo cutting board,Large board with juice groove,home/kitchen,24.00,USD,35,US;DE;FR,BOARD-L,,,2
";

pub async fn csv_template() -> Response {
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (header::CONTENT_DISPOSITION, "attachment; filename=\"souk-products.csv\""),
        ],
        CSV_TEMPLATE,
    )
        .into_response()
}

fn fragment(status: StatusCode, markup: Markup) -> Response {
    (status, [(header::CONTENT_TYPE, "text/html; charset=utf-8")], markup.into_string()).into_response()
}

/// How an import stands: a fragment that polls itself (htmx) until the report is in.
fn job_fragment(ctx: &Ctx, id: &str, job: &souk_app::import::ImportJob) -> Markup {
    let pct = (job.done_bytes * 100).checked_div(job.total_bytes).unwrap_or(100);
    html! {
        @match &job.result {
            None => div #job hx-get=(format!("/seller/import/{id}")) hx-trigger="every 500ms" hx-swap="outerHTML" {
                p { (ctx.t("Importing")) "… " progress max="100" value=(pct) {} " " (pct) "%" }
            },
            Some(Err(message)) => div #job { p.error role="alert" { (message) } },
            Some(Ok(r)) => div #job.done {
                p class=(if r.failed == 0 { "ok" } else { "warn" }) {
                    (ctx.t("Created")) " " strong.created { (r.created) } " · " (ctx.t("Updated")) " " strong.updated { (r.updated) }
                    " · " (ctx.t("Failed")) " " strong.failed.bad[r.failed > 0] { (r.failed) } }
                @if !r.errors.is_empty() {
                    table.report {
                        tr { th { (ctx.t("Line")) } th { (ctx.t("Problem")) } }
                        @for e in &r.errors { tr { td { (e.line) } td { (e.message) } } }
                    }
                }
                p { a href="/seller/products" { (ctx.t("All products")) } " · " a href="/seller/import" { (ctx.t("Import another file")) } }
            },
        }
    }
}

/// Starts importing the uploaded file (the body, `text/csv`) in the background and answers
/// with its progress fragment. The CSRF token and the one-time key come as headers.
pub async fn start_import(State(app): State<App>, ctx: Ctx, headers: HeaderMap, body: axum::body::Body) -> Response {
    let header_of = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    let Some(user) = ctx.user.clone().filter(|_| ctx.csrf_ok(&header_of("x-csrf-token"))) else {
        return fragment(StatusCode::FORBIDDEN, html! { p.error { (ctx.t("The form expired; please try again.")) } });
    };
    let Ok(store) = app.store_by_owner(&user.id).await else {
        return fragment(StatusCode::NOT_FOUND, html! { p.error { (ctx.t("Open a store to sell.")) } });
    };
    let key = header_of("x-form-key");
    let refused = |e: AppError| fragment(StatusCode::OK, html! { p.error role="alert" { (e.message) } });
    let job = match super::forms::claim(&app, &user, &key).await {
        Ok(super::forms::Once::Done(job)) => job,
        Err(e) => return refused(e),
        Ok(super::forms::Once::Run(claim)) => {
            let data = match crate::extract::read_body(body, crate::IMPORT_BODY_LIMIT_BYTES).await {
                Ok(d) => d,
                Err(e) => {
                    super::forms::release(claim).await;
                    return refused(e);
                }
            };
            let job = souk_app::accounts::random_token()[..24].to_string();
            let recorded = async {
                let tx = app.begin().await?;
                souk_app::idempotency::finish(tx, &claim.scope, &claim.key, &claim.token, 200, &job).await?;
                Ok::<_, AppError>(())
            };
            if let Err(e) = recorded.await {
                super::forms::release(claim).await;
                return refused(e);
            }
            claim.settle();
            app.imports.start(&job, &user.id, data.len() as u64);
            let (app, store_id, id) = (app.clone(), store.id.clone(), job.clone());
            tokio::spawn(async move {
                let result = app.import_csv(&store_id, &data, |(done, _)| app.imports.progress(&id, done)).await;
                app.imports.finish(&id, result.map_err(|e| e.message));
                app.catalog_changed();
            });
            job
        }
    };
    import_status(State(app), ctx, Path(job)).await
}

pub async fn import_status(State(app): State<App>, ctx: Ctx, Path(id): Path<String>) -> Response {
    let Some(user) = &ctx.user else { return StatusCode::NOT_FOUND.into_response() };
    match app.imports.get(&id, &user.id) {
        Some(job) => fragment(StatusCode::OK, job_fragment(&ctx, &id, &job)),
        None => fragment(StatusCode::NOT_FOUND, html! { p.error { (ctx.t("Page not found.")) } }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_csv_template_imports_as_it_is() {
        let mut lines = CSV_TEMPLATE.lines();
        let columns = souk_domain::import::Columns::from_header(lines.next().unwrap().split(',')).unwrap();
        let rows: Vec<_> = lines.map(|l| columns.parse_row(&l.split(',').collect::<Vec<_>>())).collect();
        assert_eq!(rows.len(), 2);
        for row in rows {
            let draft = row.expect("every example row imports");
            assert!(draft.skus[0].code.is_some(), "examples show the optional columns filled");
        }
    }

    #[test]
    fn tiers_parse_sorted_and_exact() {
        let t = tiers("100=8.00; 10=9.5", Currency::from_code("CNY").unwrap(), "t").unwrap();
        assert_eq!(t.iter().map(|t| (t.min_qty, t.price.amount)).collect::<Vec<_>>(), vec![(10, 950), (100, 800)]);
        assert_eq!(tiers_text(&t), "10=9.50; 100=8.00");
        assert!(tiers("ten=1", Currency::from_code("CNY").unwrap(), "t").is_err());
        assert!(tiers("10=1.234", Currency::from_code("CNY").unwrap(), "t").is_err());
    }

    #[test]
    fn pairs_need_a_separator() {
        let o = pairs("color=red; size = M", ';', '=', "o").unwrap();
        assert_eq!(o.get("size").map(String::as_str), Some("M"));
        assert_eq!(pairs("brand: Acme\nwarranty: 1 year", '\n', ':', "a").unwrap().len(), 2);
        assert_eq!(pairs("red", ';', '=', "o").unwrap_err().field.as_deref(), Some("o"));
    }

    #[test]
    fn blank_variant_rows_are_skipped_and_bad_ones_named() {
        let cny = Currency::from_code("CNY").unwrap();
        let f = |v: &[(&str, &str)]| Fields(v.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect());
        let rows = variant_rows(&f(&[("v0_price", ""), ("v1_price", "2.50"), ("v1_stock", "7")]), cny).unwrap();
        assert_eq!((rows.len(), rows[0].price.amount, rows[0].stock), (1, 250, 7));
        let err = variant_rows(&f(&[("v2_price", "x"), ("v2_stock", "1")]), cny).err().unwrap();
        assert_eq!(err.field.as_deref(), Some("variants[2].price"));
    }
}
