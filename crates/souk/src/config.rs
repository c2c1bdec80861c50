//! Effective configuration: command-line flags, then `SOUK_*` environment variables (clap reads
//! both), then the optional TOML file, then defaults.

use clap::Args;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Where the data is and how to log: every command takes these.
#[derive(Debug, Clone, Default, Args)]
pub struct StoreArgs {
    /// A TOML file with any of the settings below (flags and SOUK_* variables win over it).
    #[arg(long, env = "SOUK_CONFIG", global = true)]
    pub config: Option<PathBuf>,
    /// Directory for the embedded database, mail and search index [default: ./souk-data].
    #[arg(long, env = "SOUK_DATA_DIR", global = true)]
    pub data_dir: Option<PathBuf>,
    /// postgres://user:pass@host/db to use PostgreSQL instead of the embedded SQLite.
    #[arg(long, env = "SOUK_DATABASE_URL", global = true)]
    pub database_url: Option<String>,
    /// Log filter, e.g. `info` or `souk=debug,sqlx=warn` [default: info].
    #[arg(long, env = "SOUK_LOG", global = true)]
    pub log: Option<String>,
    /// `text` for people, `json` (one object per line) for log collectors [default: text].
    #[arg(long, env = "SOUK_LOG_FORMAT", global = true)]
    pub log_format: Option<String>,
}

/// How the server runs and the marketplace's rules: `serve` and `config` take these.
#[derive(Debug, Clone, Default, Args)]
pub struct ServerArgs {
    /// Address to listen on [default: 127.0.0.1:8080].
    #[arg(long, env = "SOUK_LISTEN")]
    pub listen: Option<String>,
    /// Longest a request may run, in seconds [default: 30].
    #[arg(long, env = "SOUK_REQUEST_TIMEOUT_S")]
    pub request_timeout_s: Option<u64>,
    /// Failed log-ins allowed per account per 15 minutes [default: 5].
    #[arg(long, env = "SOUK_LOGIN_ATTEMPTS_PER_ACCOUNT")]
    pub login_attempts_per_account: Option<u32>,
    /// Log-in attempts allowed per IP address per 5 minutes [default: 30].
    #[arg(long, env = "SOUK_LOGIN_ATTEMPTS_PER_IP")]
    pub login_attempts_per_ip: Option<u32>,
    /// Seconds a buyer has to pay an order [default: 1800].
    #[arg(long, env = "SOUK_PAYMENT_WINDOW_S")]
    pub payment_window_s: Option<i64>,
    /// Seconds a seller has to ship a paid order [default: 259200, 72 hours].
    #[arg(long, env = "SOUK_SHIP_BY_S")]
    pub ship_by_s: Option<i64>,
    /// Seconds after shipping before receipt confirms itself [default: 864000, 10 days].
    #[arg(long, env = "SOUK_CONFIRM_WINDOW_S")]
    pub confirm_window_s: Option<i64>,
    /// Seconds one extension adds to the confirmation window [default: 432000, 5 days].
    #[arg(long, env = "SOUK_EXTENSION_S")]
    pub extension_s: Option<i64>,
    /// Longest escrow holds money after shipping, extension included [default: 1296000, 15 days].
    #[arg(long, env = "SOUK_ESCROW_EXPIRY_S")]
    pub escrow_expiry_s: Option<i64>,
    /// Platform commission in basis points [default: 200, 2%].
    #[arg(long, env = "SOUK_COMMISSION_BPS")]
    pub commission_bps: Option<i64>,
    /// Milliseconds between looks for due deadlines [default: 500].
    #[arg(long, env = "SOUK_JOB_INTERVAL_MS")]
    pub job_interval_ms: Option<u64>,
    /// Hours an `Idempotency-Key` is remembered; a retry after that runs as a new request
    /// [default: 24, at least 1].
    #[arg(long, env = "SOUK_IDEMPOTENCY_RETENTION_H")]
    pub idempotency_retention_h: Option<u64>,
    /// This process decides flash-sale buys only for its share of promotions, `I/N` (e.g.
    /// `0/2`); others are answered 421 `wrong_shard` with their owner [default: all].
    #[arg(long, env = "SOUK_FLASH_SHARD")]
    pub flash_shard: Option<String>,
    /// A bearer token for Prometheus to read /metrics with (admins may always) [default: none].
    #[arg(long, env = "SOUK_METRICS_TOKEN", hide_env_values = true)]
    pub metrics_token: Option<String>,
    /// Let webhook endpoints be local or private addresses (for development) [default: false].
    #[arg(long, env = "SOUK_WEBHOOKS_ALLOW_PRIVATE")]
    pub webhooks_allow_private: Option<bool>,
    /// Send email through this SMTP relay: `smtps://user:pass@host`, `smtp://host?tls=required`
    /// [default: none, messages are written under <data-dir>/mail].
    #[arg(long, env = "SOUK_SMTP_URL", hide_env_values = true)]
    pub smtp_url: Option<String>,
    /// The sender of outgoing email [default: Souk <no-reply@localhost>].
    #[arg(long, env = "SOUK_MAIL_FROM")]
    pub mail_from: Option<String>,
    /// Keep uploaded images in this S3 bucket, reached with the standard AWS_* variables
    /// (AWS_ENDPOINT for an S3-compatible store, AWS_ALLOW_HTTP=true for plain http), so that
    /// every server process shares them [default: none, images are kept under <data-dir>/media].
    #[arg(long, env = "SOUK_MEDIA_BUCKET")]
    pub media_bucket: Option<String>,
    /// Where people reach this marketplace, e.g. https://souk.example: links in email start
    /// with it [default: http://<listen>].
    #[arg(long, env = "SOUK_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Mediators and admins act as such only once they sign in with two-step verification
    /// [default: true; false under --demo unless given].
    #[arg(long, env = "SOUK_STAFF_TWO_FACTOR")]
    pub staff_two_factor: Option<bool>,
}

/// Everything flags and variables may set.
#[derive(Debug, Clone, Default)]
pub struct ConfigArgs {
    pub store: StoreArgs,
    pub server: ServerArgs,
}

/// The settings file: every field optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    listen: Option<String>,
    data_dir: Option<PathBuf>,
    database_url: Option<String>,
    request_timeout_s: Option<u64>,
    login_attempts_per_account: Option<u32>,
    login_attempts_per_ip: Option<u32>,
    log: Option<String>,
    log_format: Option<String>,
    payment_window_s: Option<i64>,
    ship_by_s: Option<i64>,
    confirm_window_s: Option<i64>,
    /// How long the buyer has to confirm once the carrier reports delivery.
    delivered_confirm_s: Option<i64>,
    extension_s: Option<i64>,
    escrow_expiry_s: Option<i64>,
    /// The seller's time to answer a dispute before the buyer is refunded.
    dispute_response_s: Option<i64>,
    /// From when after opening the buyer may ask for mediation.
    dispute_buyer_escalation_s: Option<i64>,
    /// When after opening a dispute still open goes to mediation by itself.
    dispute_auto_escalation_s: Option<i64>,
    /// After shipping, when a `not_received` dispute without carrier events is refunded.
    dispute_no_tracking_s: Option<i64>,
    commission_bps: Option<i64>,
    /// Category id → basis points, e.g. `[category_commission_bps] electronics = 500`.
    #[serde(default)]
    category_commission_bps: std::collections::BTreeMap<String, i64>,
    job_interval_ms: Option<u64>,
    idempotency_retention_h: Option<u64>,
    /// Weights of the search ranking, e.g. `[ranking] trust = 0.3`.
    ranking: Option<souk_domain::ranking::Weights>,
    /// Weights of the seller trust score, e.g. `[trust] rating = 0.3`.
    trust: Option<souk_domain::trust::TrustWeights>,
    /// Carrier → the secret its tracking events are signed with, e.g. `[carriers] ups = "..."`.
    #[serde(default)]
    carriers: std::collections::BTreeMap<String, String>,
    /// Accept the sandbox carrier and simulate its parcels (on in demo mode).
    carrier_sandbox: Option<bool>,
    flash_shard: Option<String>,
    metrics_token: Option<String>,
    webhooks_allow_private: Option<bool>,
    smtp_url: Option<String>,
    mail_from: Option<String>,
    media_bucket: Option<String>,
    public_url: Option<String>,
    staff_two_factor: Option<bool>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Config {
    pub listen: String,
    pub data_dir: PathBuf,
    pub database_url: Option<String>,
    pub request_timeout_s: u64,
    pub login_attempts_per_account: u32,
    pub login_attempts_per_ip: u32,
    pub log: String,
    /// `text` or `json`.
    pub log_format: String,
    pub payment_window_s: i64,
    pub ship_by_s: i64,
    pub confirm_window_s: i64,
    pub delivered_confirm_s: i64,
    pub extension_s: i64,
    pub escrow_expiry_s: i64,
    pub dispute_response_s: i64,
    pub dispute_buyer_escalation_s: i64,
    pub dispute_auto_escalation_s: i64,
    pub dispute_no_tracking_s: i64,
    pub commission_bps: i64,
    pub category_commission_bps: std::collections::BTreeMap<String, i64>,
    pub job_interval_ms: u64,
    pub idempotency_retention_h: u64,
    pub ranking: souk_domain::ranking::Weights,
    pub trust: souk_domain::trust::TrustWeights,
    #[serde(skip)]
    pub carriers: std::collections::BTreeMap<String, String>,
    pub carrier_sandbox: bool,
    pub flash_shard: Option<String>,
    pub metrics_token: Option<String>,
    pub webhooks_allow_private: bool,
    pub smtp_url: Option<String>,
    pub mail_from: String,
    pub media_bucket: Option<String>,
    pub public_url: String,
    /// `None`: not set, so on (off under --demo).
    pub staff_two_factor: Option<bool>,
}

impl Config {
    pub fn resolve(args: &ConfigArgs) -> Result<Config, String> {
        let file = match &args.store.config {
            Some(path) => read_file(path)?,
            None => FileConfig::default(),
        };
        let mut config = Config {
            listen: args.server.listen.clone().or(file.listen).unwrap_or_else(|| "127.0.0.1:8080".into()),
            data_dir: args.store.data_dir.clone().or(file.data_dir).unwrap_or_else(|| PathBuf::from("./souk-data")),
            database_url: args.store.database_url.clone().or(file.database_url).filter(|u| !u.is_empty()),
            request_timeout_s: args.server.request_timeout_s.or(file.request_timeout_s).unwrap_or(30),
            login_attempts_per_account: args
                .server
                .login_attempts_per_account
                .or(file.login_attempts_per_account)
                .unwrap_or(5),
            login_attempts_per_ip: args.server.login_attempts_per_ip.or(file.login_attempts_per_ip).unwrap_or(30),
            log: args.store.log.clone().or(file.log).unwrap_or_else(|| "info".into()),
            log_format: args.store.log_format.clone().or(file.log_format).unwrap_or_else(|| "text".into()),
            payment_window_s: args.server.payment_window_s.or(file.payment_window_s).unwrap_or(30 * 60),
            ship_by_s: args.server.ship_by_s.or(file.ship_by_s).unwrap_or(72 * 3600),
            confirm_window_s: args.server.confirm_window_s.or(file.confirm_window_s).unwrap_or(10 * 86_400),
            delivered_confirm_s: file.delivered_confirm_s.unwrap_or(3 * 86_400),
            extension_s: args.server.extension_s.or(file.extension_s).unwrap_or(5 * 86_400),
            escrow_expiry_s: args.server.escrow_expiry_s.or(file.escrow_expiry_s).unwrap_or(15 * 86_400),
            dispute_response_s: file.dispute_response_s.unwrap_or(3 * 86_400),
            dispute_buyer_escalation_s: file.dispute_buyer_escalation_s.unwrap_or(3 * 86_400),
            dispute_auto_escalation_s: file.dispute_auto_escalation_s.unwrap_or(7 * 86_400),
            dispute_no_tracking_s: file.dispute_no_tracking_s.unwrap_or(7 * 86_400),
            commission_bps: args.server.commission_bps.or(file.commission_bps).unwrap_or(200),
            category_commission_bps: file.category_commission_bps,
            job_interval_ms: args.server.job_interval_ms.or(file.job_interval_ms).unwrap_or(500),
            idempotency_retention_h: args.server.idempotency_retention_h.or(file.idempotency_retention_h).unwrap_or(24),
            ranking: file.ranking.unwrap_or_default(),
            trust: file.trust.unwrap_or_default(),
            carriers: file.carriers,
            carrier_sandbox: file.carrier_sandbox.unwrap_or(false),
            flash_shard: args.server.flash_shard.clone().or(file.flash_shard).filter(|s| !s.is_empty()),
            metrics_token: args.server.metrics_token.clone().or(file.metrics_token).filter(|s| !s.is_empty()),
            webhooks_allow_private: args.server.webhooks_allow_private.or(file.webhooks_allow_private).unwrap_or(false),
            smtp_url: args.server.smtp_url.clone().or(file.smtp_url).filter(|s| !s.is_empty()),
            mail_from: args
                .server
                .mail_from
                .clone()
                .or(file.mail_from)
                .unwrap_or_else(|| "Souk <no-reply@localhost>".into()),
            media_bucket: args.server.media_bucket.clone().or(file.media_bucket).filter(|b| !b.is_empty()),
            public_url: String::new(),
            staff_two_factor: args.server.staff_two_factor.or(file.staff_two_factor),
        };
        config.public_url = match args.server.public_url.clone().or(file.public_url).filter(|u| !u.is_empty()) {
            Some(url) if url.starts_with("https://") || url.starts_with("http://") => {
                url.trim_end_matches('/').to_string()
            }
            Some(url) => return Err(format!("public_url must start with https:// or http://, not '{url}'")),
            None => format!("http://{}", config.listen),
        };
        if let Some(url) = &config.smtp_url {
            souk_app::mail::SmtpMailer::new(url, &config.mail_from)?;
        }
        if config.metrics_token.as_ref().is_some_and(|t| t.len() < 16) {
            return Err("metrics_token must be at least 16 characters".into());
        }
        if let Some(shard) = &config.flash_shard {
            souk_domain::flash::Shard::parse(shard)?;
        }
        if !matches!(config.log_format.as_str(), "text" | "json") {
            return Err(format!("log_format must be text or json, not '{}'", config.log_format));
        }
        config.ranking.validate()?;
        config.trust.validate()?;
        for (carrier, secret) in &config.carriers {
            if !souk_domain::shipping::CARRIERS.contains(&carrier.as_str()) || carrier == "sandbox" {
                return Err(format!("carriers: unknown carrier '{carrier}'"));
            }
            if secret.len() < 16 {
                return Err(format!("carriers: the secret of {carrier} must be at least 16 characters"));
            }
        }
        for (name, value) in [
            ("payment_window_s", config.payment_window_s),
            ("ship_by_s", config.ship_by_s),
            ("confirm_window_s", config.confirm_window_s),
            ("delivered_confirm_s", config.delivered_confirm_s),
            ("extension_s", config.extension_s),
            ("escrow_expiry_s", config.escrow_expiry_s),
            ("dispute_response_s", config.dispute_response_s),
            ("dispute_buyer_escalation_s", config.dispute_buyer_escalation_s),
            ("dispute_auto_escalation_s", config.dispute_auto_escalation_s),
            ("dispute_no_tracking_s", config.dispute_no_tracking_s),
        ] {
            if !(1..=365 * 86_400).contains(&value) {
                return Err(format!("{name} must be between 1 second and 365 days"));
            }
        }
        for (name, bps) in std::iter::once(("commission_bps", &config.commission_bps))
            .chain(config.category_commission_bps.iter().map(|(c, b)| (c.as_str(), b)))
        {
            if !(0..=10_000).contains(bps) {
                return Err(format!("{name}: commission must be 0 to 10000 basis points"));
            }
        }
        for category in config.category_commission_bps.keys() {
            if souk_domain::category::Category::by_id(category).is_none() {
                return Err(format!("category_commission_bps: no category '{category}'"));
            }
        }
        if config.request_timeout_s == 0 {
            return Err("request_timeout_s must be at least 1".into());
        }
        if let Some(url) = &config.database_url {
            if !(url.starts_with("postgres://") || url.starts_with("postgresql://") || url.starts_with("sqlite:")) {
                return Err("database_url must start with postgres:// (or sqlite:)".into());
            }
        }
        Ok(config)
    }

    /// For printing: the database password is blanked.
    pub fn redacted(&self) -> Config {
        let mut c = self.clone();
        c.database_url = c.database_url.as_deref().map(souk_store::redact_url);
        c.metrics_token = c.metrics_token.as_ref().map(|_| "***".into());
        c.smtp_url = c.smtp_url.as_deref().map(souk_store::redact_url);
        c
    }

    pub fn server_config(&self) -> souk_app::Config {
        let mut s = souk_app::Config::new(self.data_dir.clone());
        s.request_timeout = std::time::Duration::from_secs(self.request_timeout_s);
        s.login =
            souk_app::LoginLimits { per_account: self.login_attempts_per_account, per_ip: self.login_attempts_per_ip };
        s.policy = souk_domain::order::Policy {
            payment_window_ms: self.payment_window_s * 1000,
            ship_by_ms: self.ship_by_s * 1000,
            confirm_window_ms: self.confirm_window_s * 1000,
            delivered_confirm_ms: self.delivered_confirm_s * 1000,
            extension_ms: self.extension_s * 1000,
            escrow_expiry_ms: self.escrow_expiry_s * 1000,
            commission_bps: self.commission_bps,
            dispute_response_ms: self.dispute_response_s * 1000,
            dispute_buyer_escalation_ms: self.dispute_buyer_escalation_s * 1000,
            dispute_auto_escalation_ms: self.dispute_auto_escalation_s * 1000,
            dispute_no_tracking_ms: self.dispute_no_tracking_s * 1000,
            category_commission_bps: self.category_commission_bps.iter().map(|(c, b)| (c.clone(), *b)).collect(),
        };
        s.job_interval = std::time::Duration::from_millis(self.job_interval_ms.max(10));
        s.idempotency_retention_ms = self.idempotency_retention_h.clamp(1, 24 * 3650) as i64 * 3_600_000;
        s.ranking = self.ranking;
        s.trust = self.trust;
        s.carriers = self.carriers.iter().map(|(c, k)| (c.clone(), k.as_bytes().to_vec())).collect();
        s.carrier_sandbox = self.carrier_sandbox;
        s.flash_shard = self.flash_shard.as_deref().and_then(|v| souk_domain::flash::Shard::parse(v).ok());
        s.metrics_token = self.metrics_token.clone();
        s.webhooks_allow_private = self.webhooks_allow_private;
        s.smtp_url = self.smtp_url.clone();
        s.mail_from = self.mail_from.clone();
        s.public_url = self.public_url.clone();
        s.staff_two_factor = self.staff_two_factor.unwrap_or(true);
        s.media_s3 = self.media_bucket.as_ref().map(|bucket| souk_app::media::S3Media {
            bucket: bucket.clone(),
            // An S3-compatible store on plain http (a local MinIO) says so in the environment.
            allow_http: std::env::var("AWS_ALLOW_HTTP").is_ok_and(|v| v == "true"),
            ..Default::default()
        });
        s
    }
}

fn read_file(path: &Path) -> Result<FileConfig, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_win_over_the_file_which_wins_over_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("souk.toml");
        std::fs::write(
            &file,
            "listen = \"0.0.0.0:9000\"\nrequest_timeout_s = 5\ndatabase_url = \"postgres://u:secret@db/souk\"\n",
        )
        .unwrap();
        let args = ConfigArgs {
            store: StoreArgs { config: Some(file.clone()), ..Default::default() },
            server: ServerArgs { request_timeout_s: Some(7), ..Default::default() },
        };
        let c = Config::resolve(&args).unwrap();
        assert_eq!(c.listen, "0.0.0.0:9000");
        assert_eq!(c.request_timeout_s, 7);
        assert_eq!(c.login_attempts_per_account, 5);
        assert_eq!(c.redacted().database_url.as_deref(), Some("postgres://u:***@db/souk"));
        let policy = c.server_config().policy;
        assert_eq!((policy.payment_window_ms, policy.commission_bps), (1_800_000, 200));
        std::fs::write(
            &file,
            "payment_window_s = 2\ncommission_bps = 150\n[category_commission_bps]\nelectronics = 500\n",
        )
        .unwrap();
        let short = Config::resolve(&ConfigArgs {
            store: StoreArgs { config: Some(file.clone()), ..Default::default() },
            ..Default::default()
        })
        .unwrap()
        .server_config()
        .policy;
        assert_eq!((short.payment_window_ms, short.commission_bps_for(Some("electronics/phones"))), (2_000, 500));
        std::fs::write(&file, "[category_commission_bps]\nnowhere = 5\n").unwrap();
        assert!(Config::resolve(&ConfigArgs {
            store: StoreArgs { config: Some(file.clone()), ..Default::default() },
            ..Default::default()
        })
        .unwrap_err()
        .contains("nowhere"));
        std::fs::write(&file, "[ranking]\ntrust = 0.6\n").unwrap();
        let ranked = Config::resolve(&ConfigArgs {
            store: StoreArgs { config: Some(file.clone()), ..Default::default() },
            ..Default::default()
        })
        .unwrap();
        assert_eq!((ranked.ranking.trust, ranked.ranking.text), (0.6, souk_domain::ranking::Weights::default().text));
        std::fs::write(&file, "[ranking]\ntrust = -1\n").unwrap();
        assert!(Config::resolve(&ConfigArgs {
            store: StoreArgs { config: Some(file.clone()), ..Default::default() },
            ..Default::default()
        })
        .unwrap_err()
        .contains("trust"));
        std::fs::write(&file, "colour = \"blue\"\n").unwrap();
        assert!(Config::resolve(&args).unwrap_err().contains("colour"));
    }
}
