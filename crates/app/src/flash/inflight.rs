//! Batches in flight: one being written and committed on a task of its own while the next is
//! decided from the book alone, and what happens when the one in flight fails.

use super::decide::{decide, decide_alone, Decided};
use super::{Bought, FlashBuy, Pending};
use crate::error::Result;
use souk_store::flash::{BatchTerms, FlashBook, FlashOrder};
use souk_store::{Store, StoreError};

/// Whether every request of `batch` can be decided from `fb` alone: its promotion and wallet
/// held.
pub(super) fn in_book(fb: &FlashBook, batch: &[Pending]) -> bool {
    batch.iter().all(|p| {
        let b = &p.buy;
        fb.meta.contains_key(&b.promotion_id)
            && fb
                .book
                .promotions
                .get(&b.promotion_id)
                .is_some_and(|promo| fb.book.wallets.contains_key(&(b.buyer_id.clone(), promo.price.currency.code())))
    })
}

pub(super) enum Ahead {
    /// Decided against the book the batch before left, which committed.
    Decided(Vec<Pending>, Decided),
    /// The batch before failed after all; this one must be decided again.
    Void(Vec<Pending>),
}

/// Decides `batch` from the book while the batch before is written (yielding to it now and
/// then, as both run on this thread), then waits for that one to commit. Its keys are looked
/// up as committed, on a reader's connection: the caller made sure none is the batch in
/// flight's, and a key committed meanwhile by anyone else fails this batch's insert.
pub(super) async fn decide_ahead(
    store: &Store,
    fb: &mut FlashBook,
    batch: Vec<Pending>,
    in_flight: &mut Option<InFlight>,
) -> Ahead {
    let buys: Vec<&FlashBuy> = batch.iter().map(|p| &p.buy).collect();
    let keys: Vec<(&str, &str)> =
        buys.iter().filter_map(|b| b.idempotency.as_ref()).map(|(s, k, _)| (s.as_str(), k.as_str())).collect();
    let records = match store.idempotency_records(&keys).await {
        Ok(records) => records,
        Err(e) => {
            tracing::debug!(error = %e, "reading a flash batch's keys failed; it is decided in its transaction");
            drop((keys, buys));
            land(store, fb, in_flight).await;
            return Ahead::Void(batch);
        }
    };
    drop(keys);
    let decided = decide(store, fb, &buys, &records, None).await;
    drop(buys);
    let landed = land(store, fb, in_flight).await;
    match decided {
        Ok(d) if landed => Ahead::Decided(batch, d),
        Ok(_) => Ahead::Void(batch),
        Err(_) => {
            // Half decided: the book is ahead of everything written.
            *fb = FlashBook::default();
            Ahead::Void(batch)
        }
    }
}

/// A batch being written and committed on a task of its own, which answers its requests once
/// it commits; if it fails, it hands them back.
pub(super) struct InFlight {
    task: tokio::task::JoinHandle<Option<Vec<Pending>>>,
    /// Its requests' `Idempotency-Key`s: a batch with one of them (whoever's) waits for it.
    keys: std::collections::HashSet<String>,
}

impl InFlight {
    /// Writes `orders` in `tx` (begun now if none) and commits, then answers.
    pub(super) fn start(
        store: Store,
        tx: Option<souk_store::Tx>,
        orders: Vec<FlashOrder>,
        terms: BatchTerms,
        answers: Vec<(Pending, Result<Bought>)>,
    ) -> InFlight {
        let keys = answers.iter().filter_map(|(p, _)| p.buy.idempotency.as_ref()).map(|(_, k, _)| k.clone()).collect();
        let task = tokio::spawn(async move {
            let started = std::time::Instant::now();
            let outcome = async {
                let mut tx = match tx {
                    Some(tx) => tx,
                    None => store.begin().await?,
                };
                tx.write_flash(&orders, &terms).await?;
                let written = started.elapsed();
                tx.commit().await?;
                Ok::<_, StoreError>(written)
            }
            .await;
            match outcome {
                Ok(written) => {
                    tracing::debug!(
                        orders = orders.len(),
                        write_us = written.as_micros() as u64,
                        commit_us = (started.elapsed() - written).as_micros() as u64,
                        "flash batch written"
                    );
                    for (p, r) in answers {
                        let _ = p.reply.send(r);
                    }
                    None
                }
                Err(e) => {
                    tracing::debug!(error = %e, size = answers.len(), "a flash batch failed; deciding its requests one by one");
                    Some(answers.into_iter().map(|(p, _)| p).collect())
                }
            }
        });
        InFlight { task, keys }
    }

    /// Whether a request of `batch` carries a key of this one (a retry, or a client reusing it).
    pub(super) fn shares_key(&self, batch: &[Pending]) -> bool {
        !self.keys.is_empty()
            && batch.iter().filter_map(|p| p.buy.idempotency.as_ref()).any(|(_, k, _)| self.keys.contains(k.as_str()))
    }
}

/// Waits for the batch in flight, if any; whether it committed (or there was none). One that
/// failed leaves the book empty and its requests decided again one at a time.
pub(super) async fn land(store: &Store, fb: &mut FlashBook, in_flight: &mut Option<InFlight>) -> bool {
    let Some(InFlight { task, .. }) = in_flight.take() else { return true };
    match task.await {
        Ok(None) => true,
        Ok(Some(batch)) => {
            *fb = FlashBook::default();
            decide_each(store, fb, batch).await;
            false
        }
        // The task panicked: its requests' senders are gone, so they were answered 503.
        Err(_) => {
            *fb = FlashBook::default();
            false
        }
    }
}

/// Decides and answers each request of a failed batch alone.
pub(super) async fn decide_each(store: &Store, fb: &mut FlashBook, batch: Vec<Pending>) {
    for p in batch {
        let r = decide_alone(store, fb, &p.buy).await;
        let _ = p.reply.send(r);
    }
}
