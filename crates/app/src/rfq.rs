//! Requests for quotation: buyers post what they need, matching sellers quote, and the buyer
//! turns one quote into an escrowed order. An RFQ is visible to its buyer and to the sellers
//! whose stores match it; to anyone else it does not exist.

use crate::error::{Error, OrNotFound, Result};
use crate::App;
use serde::{Deserialize, Serialize};
use souk_domain::account::StoreProfile;
use souk_domain::checkout::Item;
use souk_domain::id::{self, Kind};
use souk_domain::order::OrderView;
use souk_domain::rfq::{self, Status};
use souk_domain::time::parse_rfc3339;
use souk_domain::{Invalid, Money};
use souk_store::accounts::User;
use souk_store::rfq::{QuoteView, Rfq, RfqView};
use souk_store::{StoreError, Tx};

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RfqInput {
    /// What is needed, 3 to 200 characters.
    pub title: String,
    /// Specifications, packaging, certificates...: up to 4,000 characters.
    #[serde(default)]
    pub details: String,
    /// A category id (`home/kitchen`); sellers with products in it or below it see the RFQ.
    pub category: String,
    pub quantity: i64,
    pub target_unit_price: Option<Money>,
    /// ISO country the goods ship to.
    pub ship_to: String,
    /// RFC 3339, one hour to 60 days ahead: quotes are taken until then.
    pub deadline: String,
}

/// Validates and posts `input` for `user` in `tx`; the API and the pages share it.
pub async fn create_rfq_in(app: &App, tx: &mut Tx, user: &User, input: &RfqInput) -> Result<RfqView> {
    let deadline =
        parse_rfc3339(&input.deadline).ok_or_else(|| Invalid::new("invalid_time", "deadline", "an RFC 3339 time"))?;
    let draft = rfq::draft(
        &input.title,
        &input.details,
        &input.category,
        input.quantity,
        input.target_unit_price,
        &input.ship_to,
        deadline,
        app.store.now_ms(),
    )?;
    Ok(tx.create_rfq(&user.id, &draft).await?)
}

pub async fn my_store(app: &App, user: &User) -> Result<Option<StoreProfile>> {
    match app.store.store_by_owner(&user.id).await {
        Ok(s) => Ok(Some(s)),
        Err(StoreError::NotFound) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// How the caller stands to an RFQ.
pub enum Viewer {
    Buyer,
    /// The seller's store id.
    Seller(String),
}

/// The RFQ and the caller's standing; 404 for those who may not see it.
pub async fn visible_rfq(app: &App, user: &User, id: &str) -> Result<(Rfq, Viewer)> {
    if !id::is_valid(Kind::Rfq, id) {
        return Err(Error::not_found("rfq"));
    }
    let r = app.store.rfq(id).await.or_not_found("rfq")?;
    if r.view.buyer_id == user.id {
        return Ok((r, Viewer::Buyer));
    }
    if let Some(store) = my_store(app, user).await? {
        let quoted = !app.store.quotes(id, Some(&store.id)).await?.is_empty();
        if quoted || app.store.store_matches_rfq(id, &store.id).await? {
            return Ok((r, Viewer::Seller(store.id)));
        }
    }
    Err(Error::not_found("rfq"))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QuoteInput {
    /// The store's SKU quoted: in the RFQ's category and shipping to its country.
    pub sku_id: String,
    /// In the SKU's currency.
    pub unit_price: Money,
    /// The fewest units sold at this price.
    pub moq: i64,
    pub lead_time_days: i64,
    #[serde(default)]
    pub note: String,
}

pub fn quote_draft(input: QuoteInput) -> Result<rfq::QuoteDraft> {
    Ok(rfq::quote(&input.sku_id, input.unit_price, input.moq, input.lead_time_days, &input.note)?)
}

/// A matching seller's quote on the RFQ `id`, in `tx`; the API and the pages share it.
pub async fn create_quote_in(
    app: &App,
    tx: &mut Tx,
    user: &User,
    id: &str,
    draft: &rfq::QuoteDraft,
) -> Result<QuoteView> {
    let (_, viewer) = visible_rfq(app, user, id).await?;
    let Viewer::Seller(store_id) = viewer else {
        return Err(Error::forbidden("sellers quote; the buyer accepts"));
    };
    Ok(tx.create_quote(id, &store_id, draft).await?)
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct QuoteAccepted {
    pub rfq: RfqView,
    pub quote: QuoteView,
    /// The order at the quoted price, awaiting the buyer's payment (`POST /orders/{id}/pay`).
    pub order: OrderView,
}

/// The buyer's acceptance of the quote `id`, in `tx`; the API and the pages share it.
pub async fn accept_quote_in(app: &App, tx: &mut Tx, user: &User, id: &str) -> Result<QuoteAccepted> {
    if !id::is_valid(Kind::Quote, id) {
        return Err(Error::not_found("quote"));
    }
    let quote = app.store.quote(id).await.or_not_found("quote")?;
    let r = app.store.rfq(&quote.rfq_id).await.or_not_found("quote")?;
    if r.view.buyer_id != user.id {
        return Err(Error::not_found("quote"));
    }
    rfq::acceptable(r.status, r.deadline_ms, app.store.now_ms()).map_err(|code| {
        Error::conflict(code, format!("the RFQ is {}; this quote cannot be accepted", r.status.as_str()))
    })?;
    let quantity = rfq::order_quantity(r.view.quantity, quote.moq);
    let item = Item { sku_id: quote.sku_id.clone(), quantity };
    let order = tx.checkout_agreed(&user.id, &r.view.ship_to, &item, quote.unit_price, &app.config.policy).await?;
    tx.award(&r, &quote, &order.id).await?;
    Ok(QuoteAccepted { rfq: tx.rfq(&r.view.id).await?.view, quote: tx.quote(id).await?, order })
}

/// The buyer withdraws the RFQ `id`, in `tx`; the API and the pages share it.
pub async fn cancel_rfq_in(app: &App, tx: &mut Tx, user: &User, id: &str) -> Result<RfqView> {
    let (r, viewer) = visible_rfq(app, user, id).await?;
    if !matches!(viewer, Viewer::Buyer) {
        return Err(Error::forbidden("only the buyer withdraws an RFQ"));
    }
    if r.status == Status::Awarded {
        return Err(Error::conflict("rfq_awarded", "a quote was accepted already"));
    }
    Ok(tx.cancel_rfq(&r).await?)
}

/// The quoting seller revises their quote (once; the store refuses a second revision).
pub async fn revise_quote(
    app: &App,
    tx: &mut Tx,
    user: &User,
    quote_id: &str,
    draft: &rfq::QuoteDraft,
) -> Result<QuoteView> {
    if !id::is_valid(Kind::Quote, quote_id) {
        return Err(Error::not_found("quote"));
    }
    let quote = app.store.quote(quote_id).await.or_not_found("quote")?;
    let store = my_store(app, user).await?;
    if store.map(|s| s.id) != Some(quote.store_id) {
        return Err(Error::not_found("quote"));
    }
    Ok(tx.revise_quote(quote_id, draft).await?)
}
