//! Background work: due deadlines, sandbox confirmations of accepted cards, the sandbox
//! carrier's tracking events, flash orders left to write out, and forgetting idempotency keys
//! past their retention. Each job
//! commits with its effect in one transaction, so a crash or a second process running the same
//! job cannot do it twice; on start, whatever fell due while the server was down runs once.

use crate::payments::{sign, SANDBOX};
use crate::App;
use souk_store::trust::Parcel;
use souk_store::StoreError;

/// Jobs taken per round: bounds one round's work.
const BATCH: usize = 100;

/// Idempotency keys forgotten per transaction, and transactions per round: a day's keys of a
/// busy marketplace go over many rounds rather than in one long hold of the writer.
const PRUNE_CHUNK: usize = 2_000;
const PRUNE_CHUNKS_PER_ROUND: usize = 5;
/// How often the jobs runner looks for keys past their retention.
const PRUNE_EVERY: std::time::Duration = std::time::Duration::from_secs(60);

pub async fn run_forever(app: App) {
    let mut last_prune = None;
    loop {
        if let Err(e) = app.run_due_jobs().await {
            tracing::warn!(error = %e, "running due jobs failed; retrying next round");
        }
        if let Err(e) = app.deliver_sandbox_confirmations().await {
            tracing::warn!(error = %e, "sandbox confirmations failed; retrying next round");
        }
        if let Err(e) = app.simulate_sandbox_carrier().await {
            tracing::warn!(error = %e, "sandbox carrier failed; retrying next round");
        }
        // Flash orders no engine here is writing out (another process's, or left by a crash);
        // a chunk a round, and none while this process's engine is taking buys: it writes its
        // own out as soon as it is idle, and here a chunk would hold the writer in front of it.
        if !app.flash_busy() {
            let chunk = souk_store::flash_out::Pending::Oldest(souk_store::flash_out::WRITE_OUT_CHUNK);
            if let Err(e) = app.store.write_out_flash(chunk, &app.config.policy).await {
                tracing::warn!(error = %e, "writing out flash orders failed; retrying next round");
            }
            // Keys age by the hour: a look a minute (sooner while a backlog lasts) is enough,
            // and spares the writer a transaction every round.
            if last_prune.is_none_or(|t: std::time::Instant| t.elapsed() >= PRUNE_EVERY) {
                match app.prune_idempotency_keys().await {
                    Ok(n) if n >= (PRUNE_CHUNK * PRUNE_CHUNKS_PER_ROUND) as u64 => last_prune = None,
                    Ok(_) => last_prune = Some(std::time::Instant::now()),
                    Err(e) => tracing::warn!(error = %e, "forgetting old idempotency keys failed; retrying next round"),
                }
            }
        }
        tokio::time::sleep(app.config.job_interval).await;
    }
}

impl App {
    /// Runs every deadline that is due now; returns how many took effect.
    pub async fn run_due_jobs(&self) -> Result<usize, StoreError> {
        let mut ran = 0;
        loop {
            let due = self.store.due_jobs(BATCH).await?;
            if due.is_empty() {
                return Ok(ran);
            }
            let mut progressed = false;
            for job in &due {
                let mut tx = self.store.begin().await?;
                match tx.run_job(job, &self.config.policy).await {
                    Ok(took_effect) => {
                        tx.commit().await?;
                        progressed = true;
                        ran += usize::from(took_effect);
                        if took_effect {
                            tracing::info!(order = %job.order_id, deadline = job.kind.as_str(), "deadline ran");
                        }
                    }
                    Err(e) => tracing::warn!(order = %job.order_id, error = %e, "deadline failed; will retry"),
                }
            }
            if !progressed || due.len() < BATCH {
                return Ok(ran);
            }
        }
    }

    /// Forgets idempotency keys claimed longer than the retention ago, a few chunks at a
    /// time; how many.
    pub async fn prune_idempotency_keys(&self) -> Result<u64, StoreError> {
        let before = self.store.now_ms() - self.config.idempotency_retention_ms;
        let mut forgotten = 0;
        for _ in 0..PRUNE_CHUNKS_PER_ROUND {
            let n = self.store.prune_idempotency_keys(before, PRUNE_CHUNK).await?;
            forgotten += n;
            if n < PRUNE_CHUNK as u64 {
                break;
            }
        }
        if forgotten > 0 {
            tracing::debug!(forgotten, "idempotency keys past their retention forgotten");
        }
        self.store.prune_rate_limits(self.store.now_ms() - crate::limiter::FORGET_AFTER_MS).await?;
        Ok(forgotten)
    }

    /// Plays the sandbox carrier (when it is on): each parcel shipped with it is picked up, in
    /// transit, out for delivery and delivered, one step per `carrier_sandbox_step_ms` after
    /// shipping, each a signed event through the same verification as the HTTP endpoint.
    /// Returns how many events it posted.
    pub async fn simulate_sandbox_carrier(&self) -> Result<usize, StoreError> {
        if !self.config.carrier_sandbox {
            return Ok(0);
        }
        let now = self.store.now_ms();
        let mut posted = 0;
        for parcel in self.store.parcels_in_transit(&["sandbox"], BATCH).await? {
            for body in simulated_events(&parcel, self.config.carrier_sandbox_step_ms, now) {
                let header = sign(&self.config.sandbox_secret, now / 1000, body.as_bytes());
                match crate::tracking::carrier_event(self, "sandbox", &header, body.as_bytes()).await {
                    Ok(_) => posted += 1,
                    Err(e) => {
                        tracing::warn!(tracking = %parcel.tracking_number, error = %e.message, "sandbox carrier event failed")
                    }
                }
            }
        }
        Ok(posted)
    }

    /// Plays the sandbox gateway: confirms each accepted top-up older than the sandbox delay by
    /// a signed callback through the same verification as the HTTP endpoint.
    pub async fn deliver_sandbox_confirmations(&self) -> Result<usize, StoreError> {
        if self.provider.name() != SANDBOX {
            return Ok(0);
        }
        let due =
            self.store.pending_top_ups(SANDBOX, self.store.now_ms() - self.config.sandbox_delay_ms, BATCH).await?;
        let mut delivered = 0;
        for top_up in due {
            let body = serde_json::json!({"top_up_id": top_up, "status": "succeeded"}).to_string();
            let now_s = self.store.now_ms() / 1000;
            let header = sign(&self.config.sandbox_secret, now_s, body.as_bytes());
            match crate::wallet::provider_callback(self, &header, body.as_bytes()).await {
                Ok(_) => delivered += 1,
                Err(e) => tracing::warn!(top_up = %top_up, error = %e.message, "sandbox confirmation failed"),
            }
        }
        Ok(delivered)
    }
}

/// A simulated carrier's journey: picked up, in transit, out for delivery, delivered.
const JOURNEY: [(&str, &str); 4] = [
    ("picked_up", "Sender's city: parcel received"),
    ("in_transit", "Sorting hub: departed"),
    ("out_for_delivery", "Destination depot: with the courier"),
    ("delivered", "Delivered to the recipient"),
];

/// The carrier events a simulated parcel is due at `now_ms` and has not reported yet, as JSON
/// bodies for `POST /carriers/{carrier}/events`: step `i` happens `(i + 1) * step_ms` after
/// shipping. Event ids derive from the tracking number, so posting one twice is harmless.
/// The in-process sandbox carrier and `souk carrier simulate` both use this.
pub fn simulated_events(parcel: &Parcel, step_ms: i64, now_ms: i64) -> Vec<String> {
    let step = step_ms.max(1);
    let due = ((now_ms - parcel.shipped_at_ms) / step).clamp(0, JOURNEY.len() as i64) as usize;
    let mut out = Vec::new();
    for (i, (kind, description)) in JOURNEY.iter().enumerate().take(due) {
        if parcel.reported.iter().any(|r| r == kind) {
            continue;
        }
        let body = serde_json::json!({
            "event_id": format!("sim-{}-{kind}", parcel.tracking_number),
            "tracking_number": parcel.tracking_number,
            "type": kind,
            "occurred_at": souk_domain::time::rfc3339(parcel.shipped_at_ms + (i as i64 + 1) * step),
            "description": description,
        });
        out.push(body.to_string());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parcel(reported: &[&str]) -> Parcel {
        Parcel {
            carrier: "sandbox".into(),
            tracking_number: "SBX-1".into(),
            shipped_at_ms: 1_000_000,
            reported: reported.iter().map(|r| r.to_string()).collect(),
        }
    }

    fn kinds(bodies: &[String]) -> Vec<String> {
        bodies
            .iter()
            .map(|b| serde_json::from_str::<serde_json::Value>(b).unwrap()["type"].as_str().unwrap().into())
            .collect()
    }

    #[test]
    fn steps_fall_due_one_per_interval_and_are_reported_once() {
        assert!(simulated_events(&parcel(&[]), 1000, 1_000_999).is_empty(), "nothing before the first step");
        assert_eq!(kinds(&simulated_events(&parcel(&[]), 1000, 1_002_000)), ["picked_up", "in_transit"]);
        assert_eq!(kinds(&simulated_events(&parcel(&["picked_up"]), 1000, 1_002_000)), ["in_transit"]);
        let all = simulated_events(&parcel(&[]), 1000, 9_000_000);
        assert_eq!(kinds(&all), ["picked_up", "in_transit", "out_for_delivery", "delivered"]);
        let last: serde_json::Value = serde_json::from_str(&all[3]).unwrap();
        assert_eq!(last["occurred_at"], souk_domain::time::rfc3339(1_004_000), "the scan time, not now");
        assert_eq!(last["event_id"], "sim-SBX-1-delivered");
    }
}
