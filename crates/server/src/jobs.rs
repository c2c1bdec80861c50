//! Background work: due deadlines, and sandbox confirmations of accepted cards. Each job
//! commits with its effect in one transaction, so a crash or a second process running the same
//! job cannot do it twice; on start, whatever fell due while the server was down runs once.

use crate::payments::{sign, SANDBOX};
use crate::App;
use souk_store::StoreError;

/// Jobs taken per round: bounds one round's work.
const BATCH: usize = 100;

pub async fn run_forever(app: App) {
    loop {
        if let Err(e) = app.run_due_jobs().await {
            tracing::warn!(error = %e, "running due jobs failed; retrying next round");
        }
        if let Err(e) = app.deliver_sandbox_confirmations().await {
            tracing::warn!(error = %e, "sandbox confirmations failed; retrying next round");
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
            match crate::routes::wallet::handle_provider_callback(self, &header, body.as_bytes()).await {
                Ok(_) => delivered += 1,
                Err(e) => tracing::warn!(top_up = %top_up, error = %e.message, "sandbox confirmation failed"),
            }
        }
        Ok(delivered)
    }
}
