//! Claiming a request's key (an API `Idempotency-Key`, a page form's key) and finishing it with
//! the answer in the request's own transaction. The HTTP layers decide what a key covers and
//! how long to wait for a twin; the claiming rules live here once.

use crate::error::Result;
use crate::App;
use souk_store::idempotency::Claim;
pub use souk_store::idempotency::KeyClaim;
use souk_store::Tx;

/// What claiming a key found.
#[derive(Debug)]
pub enum Claimed {
    /// The key is ours: run the request, then finish or release the claim.
    Run(KeyClaim),
    /// A request with this key finished: its answer.
    Replay { status: u16, body: String },
    /// The key was used with another request.
    Mismatch,
    /// A request with this key is still running.
    Busy,
}

/// Claims `key` in `scope` for the request hashed `hash`. A claim whose request is gone (it was
/// cancelled, or its process died) is taken over at once.
pub async fn claim(app: &App, scope: &str, key: &str, hash: &str) -> Result<Claimed> {
    loop {
        return Ok(match app.store.claim_idempotency_key(scope, key, hash).await? {
            Claim::Started(claim) => Claimed::Run(claim),
            Claim::Replay { status, body } => Claimed::Replay { status, body },
            Claim::Mismatch => Claimed::Mismatch,
            Claim::InFlight(holder) if !app.store.holder_alive(&holder).await? => {
                match app.store.take_over_idempotency_key(scope, key, &holder).await? {
                    Some(claim) => Claimed::Run(claim),
                    // Someone else took it over first: look again.
                    None => continue,
                }
            }
            Claim::InFlight(_) => Claimed::Busy,
        });
    }
}

/// Records the answer (`status`, `body`) of the request holding the claim (`scope`, `key`,
/// `token`) in its transaction, and commits the two together.
pub async fn finish(mut tx: Tx, scope: &str, key: &str, token: &str, status: u16, body: &str) -> Result<()> {
    tx.complete_idempotency_key(scope, key, token, status, body).await?;
    Ok(tx.commit().await?)
}
