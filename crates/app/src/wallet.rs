//! Wallets: top-ups through the payment provider and its confirmations, and payouts.

use crate::error::{Error, ErrorKind, OrNotFound, Result};
use crate::payments::CardOutcome;
use crate::App;
use serde::Deserialize;
use souk_domain::{Invalid, Money, MAX_TOP_UP_MINOR};
use souk_store::payments::{Payout, TopUp};
use souk_store::Tx;

#[derive(Deserialize, utoipa::ToSchema)]
pub struct ProviderCallback {
    pub top_up_id: String,
    /// `succeeded` or `failed`.
    pub status: String,
    #[serde(default)]
    pub reason: Option<String>,
}

/// Verifies and applies a provider's confirmation. Shared by the HTTP endpoint and the
/// sandbox, so both go through the same signature check.
pub async fn provider_callback(app: &App, signature: &str, body: &[u8]) -> Result<TopUp> {
    let now_s = app.store.now_ms() / 1000;
    if !app.provider.verify_callback(signature, body, now_s) {
        return Err(Error::new(
            ErrorKind::Unauthenticated,
            "invalid_signature",
            "the callback signature is missing, wrong or stale",
        ));
    }
    let cb: ProviderCallback = crate::error::parse_json(body)?;
    let succeeded = match cb.status.as_str() {
        "succeeded" => true,
        "failed" => false,
        _ => return Err(Invalid::new("invalid", "status", "must be succeeded or failed").into()),
    };
    let mut tx = app.store.begin().await?;
    let t = tx.settle_top_up(&cb.top_up_id, succeeded, cb.reason.as_deref()).await.or_not_found("top-up")?;
    tx.commit().await?;
    Ok(t)
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TopUpInput {
    pub amount: Money,
    /// Sandbox test cards: 4242424242424242 succeeds, 4000000000000002 is declined.
    pub card_number: String,
}

/// A card charged for a top-up, as the provider answered.
pub enum Charge {
    Accepted { amount: Money, last4: String },
    Declined { amount: Money, last4: String, reason: String },
}

impl Charge {
    /// The decline, as the error the buyer sees.
    pub fn accepted(&self) -> Result<()> {
        match self {
            Charge::Accepted { .. } => Ok(()),
            Charge::Declined { reason, .. } => {
                Err(Error::new(ErrorKind::PaymentDeclined, "payment_declined", reason.clone()))
            }
        }
    }
}

/// Checks a top-up's amount and charges the card; a card the provider cannot read is invalid
/// input, a declined one is a `Charge` to record all the same.
fn charge(app: &App, amount: Money, card_number: &str) -> Result<Charge> {
    let amount = positive(amount, MAX_TOP_UP_MINOR, "amount")?;
    Ok(match app.provider.charge(card_number) {
        CardOutcome::Invalid(m) => return Err(Invalid::new("invalid_card", "card_number", m).into()),
        CardOutcome::Declined { last4, reason } => Charge::Declined { amount, last4, reason },
        CardOutcome::Accepted { last4 } => Charge::Accepted { amount, last4 },
    })
}

/// Records a charge in `tx`: an accepted one as a pending top-up (the provider's confirmation
/// credits the wallet), a declined one as a failed top-up, kept for the user's history.
async fn record_charge(app: &App, tx: &mut Tx, user_id: &str, charge: &Charge) -> Result<TopUp> {
    let provider = app.provider.name();
    Ok(match charge {
        Charge::Accepted { amount, last4 } => tx.create_top_up(user_id, *amount, provider, last4).await?,
        Charge::Declined { amount, last4, reason } => {
            let t = tx.create_top_up(user_id, *amount, provider, last4).await?;
            tx.settle_top_up(&t.id, false, Some(reason)).await?
        }
    })
}

/// Tops the user's wallet up by charging a card. An accepted charge is recorded in `tx` as a
/// pending top-up (the provider's confirmation credits the wallet), and `tx` comes back for the
/// caller to commit with its answer. A declined one is committed in `tx` as a failed top-up,
/// kept for the user's history, and the answer is the decline.
pub async fn top_up(app: &App, mut tx: Tx, user_id: &str, amount: Money, card_number: &str) -> Result<(Tx, TopUp)> {
    let charge = charge(app, amount, card_number)?;
    let t = record_charge(app, &mut tx, user_id, &charge).await?;
    if let Err(declined) = charge.accepted() {
        tx.commit().await?;
        return Err(declined);
    }
    Ok((tx, t))
}

fn positive(amount: Money, max: i64, field: &str) -> Result<Money> {
    if amount.amount <= 0 || amount.amount > max {
        return Err(Invalid::new(
            "out_of_range",
            format!("{field}.amount"),
            format!("more than 0 and at most {}", Money::new(max, amount.currency)),
        )
        .into());
    }
    Ok(amount)
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PayoutInput {
    pub amount: Money,
    /// Where the money goes, e.g. a bank account reference (sandbox: any text).
    pub destination: String,
}

/// Validates and makes a payout in `tx`; the API and the pages share it.
pub async fn payout(app: &App, tx: &mut Tx, user_id: &str, input: PayoutInput) -> Result<Payout> {
    let amount = positive(input.amount, souk_domain::money::MAX_PRICE_MINOR, "amount")?;
    let destination = input.destination.trim();
    if destination.is_empty() || destination.chars().count() > 200 {
        return Err(Invalid::new("invalid", "destination", "1 to 200 characters").into());
    }
    // A suspended store's money waits in its owner's wallet.
    if let Some(store) = tx.store_of_owner(user_id).await? {
        if crate::moderation::refuse_if_held(tx, &store.id, None).await.is_err() {
            let message = "payouts wait while an operator has suspended your store";
            return Err(crate::error::Error::conflict("payouts_held", message));
        }
    }
    Ok(tx.payout(user_id, amount, app.provider.name(), destination).await?)
}
