//! Carriers' signed tracking events: verified, recorded once, and applied to the orders (or
//! returned parcels) shipped under the tracking number.

use crate::error::{Error, ErrorKind, Result};
use crate::{payments, App};
use serde::{Deserialize, Serialize};
use souk_domain::order::Action;
use souk_domain::shipping::EventType;
use souk_domain::time::parse_rfc3339;
use souk_domain::Invalid;
use souk_store::trust::CarrierEvent;
use souk_store::{Conflict, StoreError};

/// Header carrying a carrier event's signature: `t=<unix seconds>,v1=<hex HMAC-SHA256>` over
/// `<t>.<body>`, the same scheme as payment callbacks.
pub const CARRIER_SIGNATURE_HEADER: &str = "Souk-Signature";
#[derive(Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CarrierEventInput {
    /// The carrier's own id of the event: posting it again changes nothing.
    pub event_id: String,
    pub tracking_number: String,
    /// picked_up, in_transit, out_for_delivery, delivered or exception.
    #[serde(rename = "type")]
    pub kind: String,
    /// RFC 3339.
    pub occurred_at: String,
    pub location: Option<String>,
    pub description: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct CarrierEventReceipt {
    /// The orders shipped under the tracking number.
    pub orders: Vec<String>,
    /// True when this event was received before; nothing changed.
    pub duplicate: bool,
}

/// The key a carrier signs with, if Souk accepts its events.
fn carrier_secret<'a>(app: &'a App, carrier: &str) -> Option<&'a [u8]> {
    if carrier == "sandbox" {
        return app.config.carrier_sandbox.then_some(app.config.sandbox_secret.as_slice());
    }
    app.config.carriers.get(carrier).map(Vec::as_slice)
}

fn short_text(value: Option<String>, field: &str, max: usize) -> Result<Option<String>, Invalid> {
    match value.map(|v| v.trim().to_string()).filter(|v| !v.is_empty()) {
        Some(v) if v.chars().count() > max => Err(Invalid::new("too_long", field, format!("at most {max} characters"))),
        v => Ok(v),
    }
}

/// Verifies and applies one carrier event; the HTTP endpoint and the sandbox carrier share it.
pub async fn carrier_event(app: &App, carrier: &str, signature: &str, body: &[u8]) -> Result<CarrierEventReceipt> {
    let secret = carrier_secret(app, carrier).ok_or_else(|| Error::not_found("carrier"))?;
    if !payments::verify(secret, signature, body, app.store.now_ms() / 1000) {
        return Err(Error::new(
            ErrorKind::Unauthenticated,
            "bad_signature",
            "the signature is missing, wrong or stale",
        ));
    }
    let input: CarrierEventInput = serde_json::from_slice(body)
        .map_err(|e| Error::invalid("invalid_json", format!("not a carrier event: {e}")))?;
    let event_id = input.event_id.trim();
    if event_id.is_empty() || event_id.len() > 100 {
        return Err(Invalid::new("invalid", "event_id", "1 to 100 characters").into());
    }
    let kind = EventType::parse(&input.kind).ok_or_else(|| {
        Invalid::new("invalid", "type", "picked_up, in_transit, out_for_delivery, delivered or exception")
    })?;
    let occurred_at_ms = parse_rfc3339(&input.occurred_at)
        .ok_or_else(|| Invalid::new("invalid_time", "occurred_at", "an RFC 3339 time"))?;
    let tracking_number = souk_domain::shipping::tracking_number(carrier, &input.tracking_number)?;
    let event = CarrierEvent {
        carrier: carrier.to_string(),
        event_id: event_id.to_string(),
        tracking_number,
        kind,
        occurred_at_ms,
        location: short_text(input.location, "location", 200)?,
        description: short_text(input.description, "description", 500)?,
    };
    let mut tx = app.store.begin().await?;
    let orders = match tx.record_carrier_event(&event).await {
        Ok(Some(orders)) => orders,
        Ok(None) => return Ok(CarrierEventReceipt { orders: Vec::new(), duplicate: true }),
        Err(StoreError::NotFound) => {
            // Perhaps a parcel a buyer returned under a dispute.
            let delivered = kind == EventType::Delivered;
            let returns =
                tx.return_parcel_event(carrier, &event.tracking_number, delivered, &app.config.policy).await?;
            if returns.is_empty() {
                return Err(Error::new(
                    ErrorKind::NotFound,
                    "unknown_tracking",
                    "no order was shipped or returned with that tracking number",
                ));
            }
            tx.commit().await?;
            return Ok(CarrierEventReceipt { orders: returns, duplicate: false });
        }
        Err(e) => return Err(e.into()),
    };
    if kind == EventType::Delivered {
        for order_id in &orders {
            // Delivered when the carrier scanned it, not when the scan reached Souk.
            match tx.act_at(order_id, Action::Deliver, Some(occurred_at_ms), &app.config.policy).await {
                // Delivered already, or completed or disputed since: the event is history only.
                Ok(_) | Err(StoreError::Conflict { kind: Conflict::InvalidState, .. }) => {}
                Err(e) => return Err(e.into()),
            }
        }
    }
    tx.commit().await?;
    Ok(CarrierEventReceipt { orders, duplicate: false })
}
