//! Idempotency keys. A key is claimed (`started`) before a request runs, and marked `done` with
//! the response in the same transaction as the request's effects, so a retry either replays the
//! first answer or finds that nothing happened. A claim carries its process's boot id and a
//! token of its own: a claim whose process died is taken over at once (see `boot`), and only the
//! holder of a claim's token finishes or releases it.

use crate::{cancel, Conflict, Result, Store, StoreError, Tx};
use sqlx::Row;

/// What a claim found.
#[derive(Debug)]
pub enum Claim {
    /// The key is ours: run the request.
    Started(KeyClaim),
    /// A previous request with this key finished; answer with its response.
    Replay { status: u16, body: String },
    /// The key was used with a different request.
    Mismatch,
    /// Another request with this key is running, or was when its process died.
    InFlight(Holder),
}

/// Who holds a claim that is still running.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    /// `None` for claims made before claims carried their holder.
    pub boot: Option<String>,
    pub token: Option<String>,
}

/// A claimed key. Its request finishes it with the answer ([`Tx::complete_idempotency_key`] in
/// the request's own transaction, or [`KeyClaim::complete`]) or releases it; dropped unsettled
/// (the request was cancelled), it is released on a task of its own, after the request's
/// transaction has rolled back (see `cancel`).
pub struct KeyClaim {
    store: Store,
    pub scope: String,
    pub key: String,
    pub token: String,
    settled: bool,
}

impl std::fmt::Debug for KeyClaim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyClaim")
            .field("scope", &self.scope)
            .field("key", &self.key)
            .field("token", &self.token)
            .finish()
    }
}

impl KeyClaim {
    fn new(store: &Store, scope: &str, key: &str, token: String) -> KeyClaim {
        store.boot.hold_claim(&token);
        KeyClaim { store: store.clone(), scope: scope.to_string(), key: key.to_string(), token, settled: false }
    }

    /// The claim was finished in its request's transaction: nothing is left to do.
    pub fn settle(mut self) {
        self.settled = true;
    }

    /// Records the response of a request that wrote nothing else (or was refused after it
    /// began), making it the key's answer.
    pub async fn complete(mut self, status: u16, body: &str) -> Result<()> {
        let mut tx = self.store.begin().await?;
        tx.complete_idempotency_key(&self.scope, &self.key, &self.token, status, body).await?;
        tx.commit().await?;
        self.settled = true;
        Ok(())
    }

    /// Forgets a claim whose request failed without effects, so a retry runs it again.
    pub async fn release(mut self) -> Result<()> {
        let released = release(&self.store, &self.scope, &self.key, &self.token).await;
        self.settled = released.is_ok();
        released
    }
}

impl Drop for KeyClaim {
    fn drop(&mut self) {
        self.store.boot.drop_claim(&self.token);
        if !self.settled {
            let (store, scope, key, token) =
                (self.store.clone(), self.scope.clone(), self.key.clone(), self.token.clone());
            cancel::spawn_cleanup(async move {
                if let Err(e) = release(&store, &scope, &key, &token).await {
                    tracing::warn!(error = %e, "could not release a cancelled request's idempotency key");
                }
            });
        }
    }
}

/// Tries a few times: a claim left behind would be waited for by every twin in another
/// process for as long as this one lives.
async fn release(store: &Store, scope: &str, key: &str, token: &str) -> Result<()> {
    let mut pause = std::time::Duration::from_millis(50);
    let mut tries = 0;
    loop {
        match release_once(store, scope, key, token).await {
            Ok(()) => return Ok(()),
            Err(e) if tries >= 4 => return Err(e),
            Err(_) => {
                tries += 1;
                tokio::time::sleep(pause).await;
                pause *= 2;
            }
        }
    }
}

async fn release_once(store: &Store, scope: &str, key: &str, token: &str) -> Result<()> {
    let mut tx = store.begin().await?;
    sqlx::query("DELETE FROM idempotency WHERE scope = $1 AND key = $2 AND state = 'started' AND token = $3")
        .bind(scope)
        .bind(key)
        .bind(token)
        .execute(tx.conn())
        .await?;
    // Lost in a crash, a released claim is a dead one: taken over at once.
    tx.commit_soon().await
}

impl Store {
    fn claim_token(&self) -> String {
        format!("{}.{:016x}", self.boot.id, rand::random::<u64>())
    }

    /// Claims `(scope, key)` for a request whose canonical hash is `request_hash`.
    pub async fn claim_idempotency_key(&self, scope: &str, key: &str, request_hash: &str) -> Result<Claim> {
        // On a task of its own: a caller cut off while the claim's commit is on its way would
        // release the claim before the commit lands (PostgreSQL sends a dropped COMMIT later),
        // leaving it claimed. Finished whole, a claim nobody takes is released as it drops.
        let (store, scope, key, hash) = (self.clone(), scope.to_string(), key.to_string(), request_hash.to_string());
        tokio::spawn(async move { store.claim_now(&scope, &key, &hash).await })
            .await
            .map_err(|e| StoreError::Unavailable(format!("claiming an idempotency key: {e}")))?
    }

    async fn claim_now(&self, scope: &str, key: &str, request_hash: &str) -> Result<Claim> {
        let token = self.claim_token();
        let mut tx = self.begin().await?;
        let res = sqlx::query(
            "INSERT INTO idempotency (scope, key, request_hash, state, created_at, boot, token) \
             VALUES ($1, $2, $3, 'started', $4, $5, $6) ON CONFLICT (scope, key) DO NOTHING",
        )
        .bind(scope)
        .bind(key)
        .bind(request_hash)
        .bind(self.now_ms())
        .bind(&self.boot.id)
        .bind(&token)
        .execute(tx.conn())
        .await?;
        if res.rows_affected() == 1 {
            // Held before the commit: from then on a twin may look, and must find it alive.
            // A claim need not be durable before its request runs: a crash ends the request
            // too, and a retry then finds no claim, or a dead one, and runs.
            let claim = KeyClaim::new(self, scope, key, token);
            tx.commit_soon().await?;
            return Ok(Claim::Started(claim));
        }
        let row = sqlx::query(
            "SELECT request_hash, state, status, body, boot, token FROM idempotency WHERE scope = $1 AND key = $2",
        )
        .bind(scope)
        .bind(key)
        .fetch_one(tx.conn())
        .await?;
        // What it read may be another request's answer, released but not yet durable: it is
        // replayed only once it is.
        tx.commit().await?;
        let hash: String = row.try_get("request_hash")?;
        if hash != request_hash {
            return Ok(Claim::Mismatch);
        }
        let state: String = row.try_get("state")?;
        if state == "done" {
            let status: Option<i64> = row.try_get("status")?;
            let body: Option<String> = row.try_get("body")?;
            return Ok(Claim::Replay { status: status.unwrap_or(200) as u16, body: body.unwrap_or_default() });
        }
        Ok(Claim::InFlight(Holder { boot: row.try_get("boot")?, token: row.try_get("token")? }))
    }

    /// Whether the request holding a claim still runs (see [`Store::claim_alive`]).
    pub async fn holder_alive(&self, holder: &Holder) -> Result<bool> {
        match (&holder.boot, &holder.token) {
            (Some(boot), Some(token)) => self.claim_alive(boot, token).await,
            _ => Ok(false),
        }
    }

    /// Takes over a claim whose holder is gone (its transaction never committed, or the key
    /// would be `done`). Only one contender wins; the others find the new holder alive.
    pub async fn take_over_idempotency_key(&self, scope: &str, key: &str, from: &Holder) -> Result<Option<KeyClaim>> {
        let token = self.claim_token();
        let mut tx = self.begin().await?;
        let res = sqlx::query(
            "UPDATE idempotency SET created_at = $1, boot = $2, token = $3 \
             WHERE scope = $4 AND key = $5 AND state = 'started' AND token IS NOT DISTINCT FROM $6",
        )
        .bind(self.now_ms())
        .bind(&self.boot.id)
        .bind(&token)
        .bind(scope)
        .bind(key)
        .bind(from.token.as_deref())
        .execute(tx.conn())
        .await?;
        if res.rows_affected() != 1 {
            return Ok(None);
        }
        let claim = KeyClaim::new(self, scope, key, token);
        tx.commit_soon().await?;
        Ok(Some(claim))
    }

    /// Forgets up to `limit` keys claimed before `before_ms`, oldest first; how many. A retry
    /// with a forgotten key runs as a new request, so `before_ms` must lie further back than
    /// any client retries (and than any request runs: a claim still `started` goes too).
    pub async fn prune_idempotency_keys(&self, before_ms: i64, limit: usize) -> Result<u64> {
        let mut tx = self.begin().await?;
        let res = sqlx::query(
            "DELETE FROM idempotency WHERE (key, scope) IN \
             (SELECT key, scope FROM idempotency WHERE created_at < $1 ORDER BY created_at LIMIT $2)",
        )
        .bind(before_ms)
        .bind(limit as i64)
        .execute(tx.conn())
        .await?;
        tx.commit().await?;
        Ok(res.rows_affected())
    }
}

impl Tx {
    /// Marks the claim done with its response, inside the request's own transaction.
    /// Guarded on the claim's `token`: a claim taken over since is not this request's to finish.
    pub async fn complete_idempotency_key(
        &mut self,
        scope: &str,
        key: &str,
        token: &str,
        status: u16,
        body: &str,
    ) -> Result<()> {
        let res = sqlx::query(
            "UPDATE idempotency SET state = 'done', status = $1, body = $2 \
             WHERE scope = $3 AND key = $4 AND state = 'started' AND token = $5",
        )
        .bind(i64::from(status))
        .bind(body)
        .bind(scope)
        .bind(key)
        .bind(token)
        .execute(self.conn())
        .await?;
        if res.rows_affected() != 1 {
            return Err(StoreError::Conflict {
                kind: Conflict::IdempotencyConflict,
                message: "this idempotency key was completed by another request".into(),
            });
        }
        Ok(())
    }
}
