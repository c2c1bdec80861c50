//! Negotiation in the pages: offers and counter-offers inside a conversation, requests for
//! quotation with their quotes, and the seller center's list of both. Each action runs the same
//! rules as its API endpoint (`souk_app::chat`, `souk_app::rfq`), in the form's own transaction.

use super::forms::{currency, form_key, major, once, to_login};
use super::{money, Ctx};
use crate::error::AppError;
use crate::App;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Form;
use maud::{html, Markup};
use serde::Deserialize;
use souk_app::chat::{accept_in, answerable, party, terms};
use souk_app::rfq::{self as api, Viewer};
use souk_app::views::OfferView;
use souk_app::views::RfqView;
use souk_domain::catalog::{ProductStatus, Sku};
use souk_domain::category::Category;
use souk_domain::chat::{OfferAnswer, Side};
use souk_domain::time::rfc3339;
use souk_domain::Invalid;

fn hidden(ctx: &Ctx) -> Markup {
    html! { (ctx.csrf_field()) (form_key()) }
}

/// A store's active SKUs with their products' titles, for offer and quote forms.
async fn store_skus(app: &App, store_id: &str) -> Result<Vec<(String, Sku)>, AppError> {
    let filter = souk_app::views::ProductFilter {
        store_id: Some(store_id.to_string()),
        status: Some(ProductStatus::Active),
        ..Default::default()
    };
    let page = app.list_products(&filter, None, 200).await?;
    Ok(page.items.into_iter().flat_map(|p| p.skus.into_iter().map(move |s| (p.title.clone(), s))).collect())
}

fn sku_label(title: &str, s: &Sku) -> String {
    let options: Vec<_> = s.options.values().map(String::as_str).collect();
    format!("{title} {} · {} · {} in stock", options.join("/"), money(&s.price), s.stock)
}

fn sku_select(ctx: &Ctx, skus: &[(String, Sku)]) -> Markup {
    html! {
        label { (ctx.t("Item")) select name="sku_id" required {
            @for (title, s) in skus { option value=(s.id) { (sku_label(title, s)) } }
        } }
    }
}

fn whole(text: &str, field: &str) -> Result<i64, AppError> {
    text.trim().parse().map_err(|_| Invalid::new("invalid", field, "a whole number").into())
}

/// When an offer made now for `days` days ends, as RFC 3339.
fn days_ahead(app: &App, days: &str) -> Result<String, AppError> {
    let days = whole(days, "days")?;
    Ok(rfc3339(app.now_ms() + days.clamp(0, 30) * 86_400_000))
}

/// The offers part of a conversation page: every offer with its state, answer forms for the
/// other side's open one, and, for the seller, the form to make a new offer.
pub async fn offers_panel(app: &App, ctx: &Ctx, conversation: &str, store_id: &str, side: Side) -> Markup {
    let offers = app.offers(conversation, None, 20).await.map(|p| p.items).unwrap_or_default();
    let skus = if side == Side::Seller { store_skus(app, store_id).await.unwrap_or_default() } else { Vec::new() };
    html! {
        @if !offers.is_empty() {
            h2 { (ctx.t("Offers")) }
            @for o in &offers { (offer_card(ctx, conversation, side, o)) }
        }
        @if side == Side::Seller && !skus.is_empty() {
            details.make-offer {
                summary { (ctx.t("Make an offer")) }
                form.offer method="post" action=(format!("/messages/{conversation}/offer")) {
                    (hidden(ctx))
                    (sku_select(ctx, &skus))
                    label { (ctx.t("Quantity")) input name="quantity" required inputmode="numeric" value="1"; }
                    label { (ctx.t("Unit price")) input name="unit_price" required inputmode="decimal"; }
                    label { (ctx.t("Valid for (days)")) input name="days" required inputmode="numeric" value="3"; }
                    label { (ctx.t("Ship to (country code)")) input name="ship_to" maxlength="2" size="3"; }
                    button type="submit" { (ctx.t("Send the offer")) }
                }
            }
        }
    }
}

fn offer_card(ctx: &Ctx, conversation: &str, side: Side, o: &OfferView) -> Markup {
    let theirs = o.made_by != side.as_str();
    let action = |a: &str| format!("/messages/{conversation}/offers/{}/{a}", o.id);
    html! {
        div.work.offer data-state=(o.state) {
            p { strong { (ctx.t("Offer")) } ": " (o.quantity) " × " (o.title) " · " (money(&o.unit_price)) " = " (money(&o.total)) " · "
                span.state { (ctx.t(state_label(&o.state))) } " · " (ctx.t("valid until")) " " (ctx.when(o.valid_until)) }
            @if o.state == "open" && theirs {
                form.accept method="post" action=(action("accept")) data-confirm=(ctx.t("Accept the offer? An order at its price is placed at once."))
                    onsubmit="return confirm(this.dataset.confirm)" {
                    (hidden(ctx))
                    @if side == Side::Buyer {
                        input name="ship_to" maxlength="2" size="3" value=(o.ship_to.as_deref().unwrap_or("")) placeholder="DE"
                            aria-label=(ctx.t("Ship to (country code)"));
                    }
                    button type="submit" { (ctx.t("Accept the offer")) }
                }
                form.decline method="post" action=(action("decline")) { (hidden(ctx)) button.secondary type="submit" { (ctx.t("Decline")) } }
                details.counter {
                    summary { (ctx.t("Counter-offer")) }
                    form.counter method="post" action=(action("counter")) {
                        (hidden(ctx))
                        label { (ctx.t("Quantity")) input name="quantity" required inputmode="numeric" value=(o.quantity); }
                        label { (ctx.t("Unit price")) input name="unit_price" required inputmode="decimal" value=(o.unit_price.format_major()); }
                        label { (ctx.t("Valid for (days)")) input name="days" required inputmode="numeric" value="3"; }
                        button type="submit" { (ctx.t("Send the counter-offer")) }
                    }
                }
            }
            @if let Some(order) = &o.order_id { p { (ctx.t("Order")) " " code { (order) } } }
        }
    }
}

fn state_label(state: &str) -> &'static str {
    match state {
        "open" => "open",
        "accepted" => "accepted",
        "declined" => "declined",
        "countered" => "countered",
        "superseded" => "superseded",
        _ => "expired",
    }
}

#[derive(Deserialize)]
pub struct OfferForm {
    #[serde(default)]
    sku_id: String,
    #[serde(default)]
    quantity: String,
    #[serde(default)]
    unit_price: String,
    #[serde(default)]
    days: String,
    #[serde(default)]
    ship_to: String,
    #[serde(default)]
    _csrf: String,
    #[serde(default)]
    _key: String,
}

impl OfferForm {
    fn ship_to(&self) -> Option<String> {
        Some(self.ship_to.trim().to_ascii_uppercase()).filter(|s| !s.is_empty())
    }
}

/// The seller makes an offer in the conversation.
pub async fn make_offer(
    State(app): State<App>,
    ctx: Ctx,
    Path(id): Path<String>,
    Form(f): Form<OfferForm>,
) -> Response {
    let user = match ctx.poster(&f._csrf, &format!("/messages/{id}")) {
        Ok(u) => u,
        Err(r) => return *r,
    };
    let Ok((c, Side::Seller)) = party(&app, &user, &id).await else { return ctx.not_found() };
    once!(app, ctx, user, f._key, |tx| {
        let skus = store_skus(&app, &c.store_id).await?;
        let Some((_, sku)) = skus.iter().find(|(_, s)| s.id == f.sku_id) else {
            return Err(Invalid::new("invalid", "sku_id", "one of the store's items").into());
        };
        let unit_price = major(&f.unit_price, sku.price.currency, "unit_price")?;
        let valid_until = days_ahead(&app, &f.days)?;
        let t = terms(&app, sku.id.clone(), whole(&f.quantity, "quantity")?, unit_price, &valid_until, f.ship_to())?;
        souk_app::chat::offer(&app, &mut tx, &c, Side::Seller, &t, None).await?;
        format!("/messages/{id}")
    })
}

/// Accept, decline or counter the other party's open offer.
pub async fn answer_offer(
    State(app): State<App>,
    ctx: Ctx,
    Path((id, offer_id, action)): Path<(String, String, String)>,
    Form(f): Form<OfferForm>,
) -> Response {
    let user = match ctx.poster(&f._csrf, &format!("/messages/{id}")) {
        Ok(u) => u,
        Err(r) => return *r,
    };
    let answer = match action.as_str() {
        "accept" => OfferAnswer::Accept,
        "decline" => OfferAnswer::Decline,
        "counter" => OfferAnswer::Counter,
        _ => return ctx.not_found(),
    };
    let (Ok((c, _)), Ok(offer)) = (party(&app, &user, &id).await, app.offer(&offer_id).await) else {
        return ctx.not_found();
    };
    if offer.view.conversation_id != c.id {
        return ctx.not_found();
    }
    once!(app, ctx, user, f._key, |tx| {
        // The offer's state is checked here, after the form's key is claimed: a resubmitted
        // acceptance goes to its order instead of saying the offer is no longer open.
        let (offer, c, side) = answerable(&app, &user, &offer_id, answer).await?;
        match answer {
            OfferAnswer::Accept => {
                let (_, order) = accept_in(&app, &mut tx, &offer, &c, side, f.ship_to()).await?;
                if side == Side::Buyer {
                    format!("/orders/{}", order.id)
                } else {
                    "/seller".to_string()
                }
            }
            OfferAnswer::Decline => {
                souk_app::chat::decline(&mut tx, &offer).await?;
                format!("/messages/{id}")
            }
            OfferAnswer::Counter => {
                let unit_price = major(&f.unit_price, offer.terms.unit_price.currency, "unit_price")?;
                let valid_until = days_ahead(&app, &f.days)?;
                let ship_to = f.ship_to().or(offer.terms.ship_to.clone());
                let quantity = whole(&f.quantity, "quantity")?;
                let t = terms(&app, offer.terms.sku_id.clone(), quantity, unit_price, &valid_until, ship_to)?;
                souk_app::chat::offer(&app, &mut tx, &c, side, &t, Some(&offer)).await?;
                format!("/messages/{id}")
            }
        }
    })
}

fn rfq_row(ctx: &Ctx, r: &RfqView) -> Markup {
    html! {
        li {
            a href=(format!("/rfqs/{}", r.id)) { (r.title) }
            " · " (r.quantity) " · → " (r.ship_to) " · " span.state { (ctx.t(rfq_state(&r.status))) }
            " · " (r.quotes) " " (ctx.t("quotes")) " · " (ctx.t("deadline")) " " (ctx.when(r.deadline))
        }
    }
}

fn rfq_state(status: &str) -> &'static str {
    match status {
        "open" => "open",
        "closed" => "closed",
        "awarded" => "awarded",
        _ => "cancelled",
    }
}

/// The buyer's requests for quotation, and the form to post one.
pub async fn rfqs(State(app): State<App>, ctx: Ctx) -> Response {
    let Some(user) = ctx.user.clone() else { return to_login("/rfqs") };
    let Ok(mine) = app.rfqs_of(&user.id, None, 100).await else { return ctx.error() };
    let body = html! {
        h1 { (ctx.t("Requests for quotation")) }
        ul.orders { @for r in &mine.items { (rfq_row(&ctx, r)) } }
        h2 { (ctx.t("Ask sellers for a quote")) }
        form.rfq method="post" action="/rfqs" {
            (hidden(&ctx))
            label { (ctx.t("What you need")) input name="title" required minlength="3" maxlength="200"; }
            label { (ctx.t("Details")) textarea name="details" maxlength="4000" {} }
            label { (ctx.t("Category")) select name="category" required {
                @for c in Category::all() { option value=(c.id) { @if ctx.lang == super::Lang::Zh { (c.path_zh()) } @else { (c.path()) } } }
            } }
            label { (ctx.t("Quantity")) input name="quantity" required inputmode="numeric"; }
            label { (ctx.t("Target unit price (optional)")) input name="target_price" inputmode="decimal"; }
            label { (ctx.t("Currency")) input name="currency" maxlength="3" size="4" value=(ctx.typing_currency()); }
            label { (ctx.t("Ship to (country code)")) input name="ship_to" required maxlength="2" size="3"; }
            label { (ctx.t("Quotes taken for (days)")) input name="days" required inputmode="numeric" value="7"; }
            button type="submit" { (ctx.t("Post the request")) }
        }
    };
    ctx.page(StatusCode::OK, ctx.t("Requests for quotation"), body)
}

#[derive(Deserialize)]
pub struct RfqForm {
    title: String,
    #[serde(default)]
    details: String,
    category: String,
    quantity: String,
    #[serde(default)]
    target_price: String,
    #[serde(default)]
    currency: String,
    ship_to: String,
    days: String,
    #[serde(default)]
    _csrf: String,
    #[serde(default)]
    _key: String,
}

pub async fn post_rfq(State(app): State<App>, ctx: Ctx, Form(f): Form<RfqForm>) -> Response {
    let user = match ctx.poster(&f._csrf, "/rfqs") {
        Ok(u) => u,
        Err(r) => return *r,
    };
    once!(app, ctx, user, f._key, |tx| {
        let target_unit_price = match f.target_price.trim() {
            "" => None,
            t => {
                let currency = currency(&f.currency)?;
                Some(major(t, currency, "target_price")?)
            }
        };
        let days = whole(&f.days, "days")?;
        let input = api::RfqInput {
            title: f.title.clone(),
            details: f.details.clone(),
            category: f.category.clone(),
            quantity: whole(&f.quantity, "quantity")?,
            target_unit_price,
            ship_to: f.ship_to.trim().to_ascii_uppercase(),
            deadline: rfc3339(app.now_ms() + days.clamp(0, 61) * 86_400_000),
        };
        let created = api::create_rfq_in(&app, &mut tx, &user, &input).await?;
        format!("/rfqs/{}", created.id)
    })
}

/// One RFQ: to its buyer with every quote and an accept button; to a matching seller with
/// their own quote, or the form to make one.
pub async fn rfq(State(app): State<App>, ctx: Ctx, Path(id): Path<String>) -> Response {
    let Some(user) = ctx.user.clone() else { return to_login(&format!("/rfqs/{id}")) };
    let (r, viewer) = match api::visible_rfq(&app, &user, &id).await {
        Ok(v) => v,
        Err(e) if e.kind == souk_app::error::ErrorKind::NotFound => return ctx.not_found(),
        Err(_) => return ctx.error(),
    };
    let store_id = match &viewer {
        Viewer::Buyer => None,
        Viewer::Seller(s) => Some(s.as_str()),
    };
    let (Ok(quotes), Ok(skus)) = (
        app.quotes(&id, store_id).await,
        async {
            match store_id {
                Some(s) => store_skus(&app, s).await,
                None => Ok(Vec::new()),
            }
        }
        .await,
    ) else {
        return ctx.error();
    };
    let v = &r.view;
    let open = v.status == "open";
    let body = html! {
        h1 { (v.title) }
        p { (v.quantity) " · → " (v.ship_to) " · " span.state { (ctx.t(rfq_state(&v.status))) } " · " (ctx.t("deadline")) " " (ctx.when(v.deadline))
            @if let Some(t) = &v.target_unit_price { " · " (ctx.t("target")) " " (money(t)) } }
        p { (v.details) }
        @if let Some(order) = &v.order_id {
            @if store_id.is_none() { p { a href=(format!("/orders/{order}")) { (ctx.t("The order")) } } }
        }
        h2 { (ctx.t("Quotes")) " (" (quotes.len()) ")" }
        @for q in &quotes {
            div.work.quote data-state=(q.state) {
                p { strong { (q.store_name) } " · " (q.title) " · " (money(&q.unit_price)) " · MOQ " (q.moq) " · "
                    (q.lead_time_days) " " (ctx.t("days")) " · " span.state { (ctx.code(&q.state)) } }
                @if !q.note.is_empty() { p { (q.note) } }
                @if store_id.is_none() && open && q.state == "submitted" {
                    form.accept-quote method="post" action=(format!("/quotes/{}/accept", q.id))
                        data-confirm=(ctx.t("Accept this quote? An order at its price is placed at once; the other quotes are declined."))
                        onsubmit="return confirm(this.dataset.confirm)" {
                        (hidden(&ctx)) button type="submit" { (ctx.t("Accept this quote")) }
                    }
                }
            }
        }
        @if store_id.is_none() && open {
            form.cancel method="post" action=(format!("/rfqs/{}/cancel", v.id)) {
                (hidden(&ctx)) button.secondary type="submit" { (ctx.t("Withdraw the request")) }
            }
        }
        @if store_id.is_some() && open && quotes.first().is_none_or(|q| q.edits == 0) {
            h2 { @if quotes.is_empty() { (ctx.t("Quote")) } @else { (ctx.t("Revise your quote (once)")) } }
            form.quote method="post" action=(format!("/rfqs/{}/quote", v.id)) {
                (hidden(&ctx))
                (sku_select(&ctx, &skus))
                label { (ctx.t("Unit price")) input name="unit_price" required inputmode="decimal"; }
                label { (ctx.t("Minimum order quantity")) input name="moq" required inputmode="numeric" value="1"; }
                label { (ctx.t("Lead time (days)")) input name="lead_time_days" required inputmode="numeric" value="7"; }
                label { (ctx.t("Note")) textarea name="note" maxlength="2000" {} }
                button type="submit" { (ctx.t("Send the quote")) }
            }
        }
    };
    ctx.page(StatusCode::OK, &v.title, body)
}

#[derive(Deserialize)]
pub struct QuoteForm {
    sku_id: String,
    unit_price: String,
    moq: String,
    lead_time_days: String,
    #[serde(default)]
    note: String,
    #[serde(default)]
    _csrf: String,
    #[serde(default)]
    _key: String,
}

/// A matching seller quotes, or revises their quote once.
pub async fn quote(State(app): State<App>, ctx: Ctx, Path(id): Path<String>, Form(f): Form<QuoteForm>) -> Response {
    let user = match ctx.poster(&f._csrf, &format!("/rfqs/{id}")) {
        Ok(u) => u,
        Err(r) => return *r,
    };
    let Ok((_, Viewer::Seller(store_id))) = api::visible_rfq(&app, &user, &id).await else { return ctx.not_found() };
    once!(app, ctx, user, f._key, |tx| {
        let skus = store_skus(&app, &store_id).await?;
        let Some((_, sku)) = skus.iter().find(|(_, s)| s.id == f.sku_id) else {
            return Err(Invalid::new("invalid", "sku_id", "one of the store's items").into());
        };
        let input = api::QuoteInput {
            sku_id: sku.id.clone(),
            unit_price: major(&f.unit_price, sku.price.currency, "unit_price")?,
            moq: whole(&f.moq, "moq")?,
            lead_time_days: whole(&f.lead_time_days, "lead_time_days")?,
            note: f.note.clone(),
        };
        let draft = api::quote_draft(input)?;
        match app.quotes(&id, Some(&store_id)).await?.first() {
            Some(mine) => api::revise_quote(&app, &mut tx, &user, &mine.id, &draft).await?,
            None => api::create_quote_in(&app, &mut tx, &user, &id, &draft).await?,
        };
        format!("/rfqs/{id}")
    })
}

#[derive(Deserialize)]
pub struct PlainForm {
    #[serde(default)]
    _csrf: String,
    #[serde(default)]
    _key: String,
}

pub async fn accept_quote(
    State(app): State<App>,
    ctx: Ctx,
    Path(id): Path<String>,
    Form(f): Form<PlainForm>,
) -> Response {
    buyers_rfq_step(app, ctx, id, f, true).await
}

pub async fn cancel_rfq(
    State(app): State<App>,
    ctx: Ctx,
    Path(id): Path<String>,
    Form(f): Form<PlainForm>,
) -> Response {
    buyers_rfq_step(app, ctx, id, f, false).await
}

/// The buyer accepts the quote `id` (its order's page next), or withdraws the RFQ `id`.
async fn buyers_rfq_step(app: App, ctx: Ctx, id: String, f: PlainForm, accept: bool) -> Response {
    let user = match ctx.poster(&f._csrf, "/rfqs") {
        Ok(u) => u,
        Err(r) => return *r,
    };
    once!(app, ctx, user, f._key, |tx| {
        if accept {
            let accepted = api::accept_quote_in(&app, &mut tx, &user, &id).await?;
            format!("/orders/{}", accepted.order.id)
        } else {
            api::cancel_rfq_in(&app, &mut tx, &user, &id).await?;
            format!("/rfqs/{id}")
        }
    })
}

/// The seller center's negotiations: offers in the store's conversations and the open RFQs it
/// can quote.
pub async fn seller_deals(State(app): State<App>, ctx: Ctx) -> Response {
    let Some(user) = ctx.user.clone() else { return to_login("/seller/deals") };
    let Ok(store) = app.store_by_owner(&user.id).await else { return ctx.not_found() };
    let (Ok(offers), Ok(rfqs)) =
        (app.store_offers(&store.id, None, 50).await, app.rfqs_for_store(&store.id, &user.id, None, 50).await)
    else {
        return ctx.error();
    };
    let body = html! {
        h1 { (ctx.t("Offers and quotes")) ": " (store.name) }
        section {
            h2 { (ctx.t("Requests for quotation you can quote")) " (" (rfqs.items.len()) ")" }
            ul.orders { @for r in &rfqs.items { (rfq_row(&ctx, r)) } }
        }
        section {
            h2 { (ctx.t("Offers")) }
            table.skus {
                @for o in &offers.items {
                    tr {
                        td { a href=(format!("/messages/{}", o.conversation_id)) { (o.title) } }
                        td { (o.quantity) " × " (money(&o.unit_price)) }
                        td { (ctx.t(if o.made_by == "seller" { "by you" } else { "by the buyer" })) }
                        td { span.state { (ctx.t(state_label(&o.state))) } }
                    }
                }
            }
        }
    };
    ctx.page(StatusCode::OK, ctx.t("Offers and quotes"), body)
}
