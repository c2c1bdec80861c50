//! `souk carrier simulate`: a carrier played from outside the server. It reads the parcels in
//! transit from the database and posts their due events over HTTP, signed like a real carrier's,
//! so they take the same path (signature, idempotency, delivery) as real ones.

use crate::config::Config;
use souk_app::jobs::simulated_events;
use souk_app::payments::sign;
use souk_app::tracking::CARRIER_SIGNATURE_HEADER;
use souk_store::Store;
use std::time::Duration;

/// Parcels read per round: bounds one round's work.
const BATCH: usize = 500;

pub struct Simulator {
    endpoint: String,
    carrier: String,
    secret: Vec<u8>,
    step_ms: i64,
    http: reqwest::Client,
}

/// What one round did.
#[derive(Debug, Default)]
pub struct Round {
    pub posted: usize,
    pub failed: usize,
}

impl Round {
    pub fn json(&self) -> serde_json::Value {
        serde_json::json!({"posted": self.posted, "failed": self.failed})
    }
}

impl Simulator {
    pub fn new(config: &Config, url: &str, carrier: &str, step_s: f64) -> Result<Simulator, String> {
        if !souk_domain::shipping::CARRIERS.contains(&carrier) {
            return Err(format!("unknown carrier '{carrier}': one of {}", souk_domain::shipping::CARRIERS.join(", ")));
        }
        let server = config.server_config();
        let secret = if carrier == "sandbox" {
            server.sandbox_secret.clone()
        } else {
            server.carriers.get(carrier).cloned().ok_or_else(|| {
                format!("no secret for carrier '{carrier}': set it under [carriers] in the configuration")
            })?
        };
        if !(step_s.is_finite() && (0.001..=86_400.0).contains(&step_s)) {
            return Err("--step-s must be between 0.001 and 86400".into());
        }
        let base = url.trim_end_matches('/');
        if !base.starts_with("http://") && !base.starts_with("https://") {
            return Err(format!("--url must start with http:// or https://, not '{url}'"));
        }
        let http = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().map_err(|e| e.to_string())?;
        Ok(Simulator {
            endpoint: format!("{base}/api/v1/carriers/{carrier}/events"),
            carrier: carrier.to_string(),
            secret,
            step_ms: (step_s * 1000.0).round() as i64,
            http,
        })
    }

    /// Posts every event due now; an event the server refuses is counted and logged, and tried
    /// again next round (it is still unreported).
    pub async fn round(&self, store: &Store) -> Result<Round, String> {
        let parcels = store.parcels_in_transit(&[&self.carrier], BATCH).await.map_err(|e| e.to_string())?;
        let mut round = Round::default();
        for parcel in parcels {
            let now = store.now_ms();
            for body in simulated_events(&parcel, self.step_ms, now) {
                let signature = sign(&self.secret, now / 1000, body.as_bytes());
                let sent = self
                    .http
                    .post(&self.endpoint)
                    .header("content-type", "application/json")
                    .header(CARRIER_SIGNATURE_HEADER, signature)
                    .body(body)
                    .send()
                    .await;
                match sent {
                    Ok(r) if r.status().is_success() => round.posted += 1,
                    Ok(r) => {
                        round.failed += 1;
                        let status = r.status();
                        let text = r.text().await.unwrap_or_default();
                        tracing::warn!(tracking = %parcel.tracking_number, %status, body = %text, "event refused");
                    }
                    Err(e) => {
                        return Err(format!("cannot reach {}: {e}", self.endpoint));
                    }
                }
            }
        }
        Ok(round)
    }

    /// Runs rounds until `stop` completes, one every step (at most every 5 s).
    pub async fn run(&self, store: &Store, stop: impl std::future::Future<Output = ()>) -> Result<(), String> {
        let every = Duration::from_millis(self.step_ms.clamp(100, 5_000) as u64);
        eprintln!("simulating carrier '{}' for {} (Ctrl-C stops)", self.carrier, self.endpoint);
        tokio::pin!(stop);
        loop {
            match self.round(store).await {
                Ok(r) if r.posted + r.failed > 0 => eprintln!("{}", r.json()),
                Ok(_) => {}
                Err(e) => eprintln!("{e}; retrying"),
            }
            tokio::select! {
                () = &mut stop => return Ok(()),
                () = tokio::time::sleep(every) => {}
            }
        }
    }
}
