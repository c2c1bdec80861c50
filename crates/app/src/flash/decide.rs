//! Deciding buy requests against the book: a batch in its transaction, a batch ahead from the
//! book alone, or one request alone after a batch failed.

use super::{Bought, FlashBuy, FlashReceipt};
use crate::error::{idempotency_in_progress as in_progress, idempotency_mismatch as mismatch};
use crate::error::{Error, Result};
use souk_domain::flash::{self, BuyRequest, Rejection};
use souk_domain::id::Kind;
use souk_store::flash::{FlashBook, FlashOrder, KeyAnswer};
use souk_store::Conflict;
use souk_store::{Store, StoreError};
use std::collections::HashMap;
use std::time::Duration;

/// One request in its own transaction, tried again (up to three times, each against a fresh
/// read) when what it was decided against moved before its commit or its transaction lost a
/// race. `book` is left as the store is after it, or empty.
pub(super) async fn decide_alone(store: &Store, book: &mut FlashBook, buy: &FlashBuy) -> Result<Bought> {
    let mut tries = 0;
    loop {
        tries += 1;
        let outcome = async {
            let (mut tx, d) = prepare(store, book, &[buy]).await?;
            tx.write_flash(&d.orders, &book.terms(&d.orders)).await?;
            tx.commit().await?;
            Ok::<_, StoreError>(d)
        }
        .await;
        match outcome {
            Ok(mut d) => return d.results.remove(0).unwrap_or_else(|| Err(in_progress())),
            Err(e) => {
                *book = FlashBook::default();
                if !(tries < 3
                    && (e.lost_race() || matches!(e, StoreError::Conflict { kind: Conflict::FlashMoved, .. })))
                {
                    return Err(e.into());
                }
                tokio::time::sleep(Duration::from_millis(5 * tries)).await;
            }
        }
    }
}

/// A batch decided: the orders to write, and each request's answer (none: carried into the
/// next batch, to be decided where the store can be looked at again).
pub(super) struct Decided {
    pub(super) orders: Vec<FlashOrder>,
    pub(super) results: Vec<Option<Result<Bought>>>,
}

/// Begins a batch's transaction, completes the book in it and decides every request, leaving
/// the writes to the caller. `fb` may be ahead of the store after an error: the caller drops it.
pub(super) async fn prepare(
    store: &Store,
    fb: &mut FlashBook,
    buys: &[&FlashBuy],
) -> Result<(souk_store::Tx, Decided), StoreError> {
    let asks: Vec<(&str, &str)> = buys.iter().map(|b| (b.promotion_id.as_str(), b.buyer_id.as_str())).collect();
    let keys: Vec<(&str, &str)> =
        buys.iter().filter_map(|b| b.idempotency.as_ref()).map(|(s, k, _)| (s.as_str(), k.as_str())).collect();
    let started = std::time::Instant::now();
    let mut tx = store.begin().await?;
    let begun = started.elapsed();
    tx.fill_flash_book(fb, &asks).await?;
    let filled = started.elapsed();
    let records = tx.idempotency_records(&keys).await?;
    let read = started.elapsed();
    let decided = decide(store, fb, buys, &records, Some(&mut tx)).await?;
    tracing::debug!(
        requests = buys.len(),
        orders = decided.orders.len(),
        begin_us = begun.as_micros() as u64,
        fill_us = (filled - begun).as_micros() as u64,
        read_us = read.as_micros() as u64,
        decide_us = (started.elapsed() - read).as_micros() as u64,
        "flash batch decided"
    );
    Ok((tx, decided))
}

/// Decides `buys` against `fb`, given the records already under their keys. With `tx`, a
/// refusal for want of money or stock looks at the store again first; without (a batch
/// decided ahead, from the book alone), such a request is carried into the next batch, and
/// the task yields now and then to the batch being written on the same thread.
pub(super) async fn decide(
    store: &Store,
    fb: &mut FlashBook,
    buys: &[&FlashBuy],
    records: &HashMap<(String, String), souk_store::flash::KeyRecord>,
    mut tx: Option<&mut souk_store::Tx>,
) -> Result<Decided, StoreError> {
    let now = store.now_ms();
    let mut orders = Vec::with_capacity(buys.len());
    let mut results: Vec<Option<Result<Bought>>> = Vec::with_capacity(buys.len());
    // Which request of this batch first carried each key, for duplicates within it.
    let mut first: HashMap<(&str, &str), (usize, &str)> = HashMap::new();
    let mut refreshed = std::collections::HashSet::new();
    for (i, b) in buys.iter().enumerate() {
        if tx.is_none() && i % 64 == 63 {
            tokio::task::yield_now().await;
        }
        if let Some((scope, key, hash)) = &b.idempotency {
            // Usually none of a batch's keys was seen before: then no look-up key is built.
            let earlier = if records.is_empty() { None } else { records.get(&(scope.clone(), key.clone())) };
            if let Some(r) = earlier {
                results.push(Some(match &r.answer {
                    _ if r.request_hash != *hash => Err(mismatch()),
                    Some((status, body)) => Ok(Bought::Replay { status: *status, body: body.clone() }),
                    None => Err(in_progress()),
                }));
                continue;
            }
            if let Some((j, first_hash)) = first.get(&(scope.as_str(), key.as_str())) {
                results.push(Some(match &results[*j] {
                    _ if first_hash != hash => Err(mismatch()),
                    Some(Ok(Bought::Order(receipt))) => {
                        Ok(Bought::Replay { status: 201, body: receipt_body(receipt)? })
                    }
                    Some(same) => same.clone(),
                    None => Err(in_progress()),
                }));
                continue;
            }
            first.insert((scope, key), (i, hash));
        }
        if fb.meta.get(&b.promotion_id).is_some_and(|m| m.seller_id == b.buyer_id) {
            results.push(Some(Err(Error::forbidden("sellers cannot buy from their own store"))));
            continue;
        }
        let req = BuyRequest {
            buyer_id: b.buyer_id.clone(),
            promotion_id: b.promotion_id.clone(),
            quantity: b.quantity,
            country: b.country.clone(),
        };
        let mut decided = flash::decide(&mut fb.book, &req, now);
        // The book may be older than a top-up or a restock: look again before refusing for want
        // of money or of the SKU's stock (the promotion's own count is exact, see `write_flash`).
        let doubtful = match decided {
            Err(Rejection::InsufficientFunds { .. }) => true,
            Err(Rejection::SoldOut) => fb.book.promotions.get(&b.promotion_id).is_some_and(|p| p.left >= b.quantity),
            _ => false,
        };
        if doubtful {
            match tx.as_deref_mut() {
                None => {
                    results.push(None);
                    continue;
                }
                Some(tx) if refreshed.insert((b.promotion_id.as_str(), b.buyer_id.as_str())) => {
                    tx.refresh_flash_book(fb, &b.promotion_id, &b.buyer_id, &orders).await?;
                    decided = flash::decide(&mut fb.book, &req, now);
                }
                Some(_) => {}
            }
        }
        match decided {
            Ok(accepted) => {
                let receipt = FlashReceipt {
                    order_id: store.new_id(Kind::Order),
                    promotion_id: b.promotion_id.clone(),
                    quantity: b.quantity,
                    unit_price: accepted.unit_price,
                    total: accepted.total,
                    state: "paid",
                };
                let idempotency = match &b.idempotency {
                    Some((scope, key, hash)) => Some(KeyAnswer {
                        scope: scope.clone(),
                        key: key.clone(),
                        request_hash: hash.clone(),
                        body: receipt_body(&receipt)?,
                    }),
                    None => None,
                };
                orders.push(FlashOrder {
                    order_id: receipt.order_id.clone(),
                    buyer_id: b.buyer_id.clone(),
                    promotion_id: b.promotion_id.clone(),
                    country: b.country.clone(),
                    quantity: b.quantity,
                    unit_price: accepted.unit_price,
                    idempotency,
                });
                results.push(Some(Ok(Bought::Order(receipt))));
            }
            Err(r) => results.push(Some(Err(refused(r)))),
        }
    }
    Ok(Decided { orders, results })
}

pub(super) fn receipt_body(receipt: &FlashReceipt) -> Result<String, StoreError> {
    serde_json::to_string(receipt).map_err(|e| StoreError::broken(e.to_string()))
}

/// The API's answer to a refused request.
fn refused(r: Rejection) -> Error {
    match r {
        Rejection::UnknownPromotion => Error::not_found("promotion"),
        Rejection::InvalidQuantity => {
            Error::invalid("invalid", format!("1 to {} units", flash::MAX_QUANTITY)).with_field("quantity")
        }
        Rejection::DoesNotShip => {
            Error::invalid("does_not_ship", "the product does not ship there").with_field("ship_to")
        }
        Rejection::NotStarted => Error::conflict(r.code(), "the flash sale has not started"),
        Rejection::Ended => Error::conflict(r.code(), "the flash sale has ended"),
        Rejection::SoldOut => Error::conflict(r.code(), "sold out"),
        Rejection::LimitReached { left } => {
            Error::conflict(r.code(), format!("the limit per buyer allows {left} more"))
        }
        Rejection::InsufficientFunds { missing } => {
            Error::conflict(r.code(), format!("the wallet is short by {missing} minor units"))
        }
    }
}
