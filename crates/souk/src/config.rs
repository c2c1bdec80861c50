//! Effective configuration: command-line flags, then `SOUK_*` environment variables (clap reads
//! both), then the optional TOML file, then defaults.

use clap::Args;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Default, Args)]
pub struct ConfigArgs {
    /// A TOML file with any of the settings below (flags and SOUK_* variables win over it).
    #[arg(long, env = "SOUK_CONFIG", global = true)]
    pub config: Option<PathBuf>,
    /// Address to listen on [default: 127.0.0.1:8080].
    #[arg(long, env = "SOUK_LISTEN", global = true)]
    pub listen: Option<String>,
    /// Directory for the embedded database, mail and search index [default: ./souk-data].
    #[arg(long, env = "SOUK_DATA_DIR", global = true)]
    pub data_dir: Option<PathBuf>,
    /// postgres://user:pass@host/db to use PostgreSQL instead of the embedded SQLite.
    #[arg(long, env = "SOUK_DATABASE_URL", global = true)]
    pub database_url: Option<String>,
    /// Longest a request may run, in seconds [default: 30].
    #[arg(long, env = "SOUK_REQUEST_TIMEOUT_S", global = true)]
    pub request_timeout_s: Option<u64>,
    /// Failed log-ins allowed per account per 15 minutes [default: 5].
    #[arg(long, env = "SOUK_LOGIN_ATTEMPTS_PER_ACCOUNT", global = true)]
    pub login_attempts_per_account: Option<u32>,
    /// Log-in attempts allowed per IP address per 5 minutes [default: 30].
    #[arg(long, env = "SOUK_LOGIN_ATTEMPTS_PER_IP", global = true)]
    pub login_attempts_per_ip: Option<u32>,
    /// Log filter, e.g. `info` or `souk=debug,sqlx=warn` [default: info].
    #[arg(long, env = "SOUK_LOG", global = true)]
    pub log: Option<String>,
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
}

impl Config {
    pub fn resolve(args: &ConfigArgs) -> Result<Config, String> {
        let file = match &args.config {
            Some(path) => read_file(path)?,
            None => FileConfig::default(),
        };
        let config = Config {
            listen: args.listen.clone().or(file.listen).unwrap_or_else(|| "127.0.0.1:8080".into()),
            data_dir: args.data_dir.clone().or(file.data_dir).unwrap_or_else(|| PathBuf::from("./souk-data")),
            database_url: args.database_url.clone().or(file.database_url).filter(|u| !u.is_empty()),
            request_timeout_s: args.request_timeout_s.or(file.request_timeout_s).unwrap_or(30),
            login_attempts_per_account: args
                .login_attempts_per_account
                .or(file.login_attempts_per_account)
                .unwrap_or(5),
            login_attempts_per_ip: args.login_attempts_per_ip.or(file.login_attempts_per_ip).unwrap_or(30),
            log: args.log.clone().or(file.log).unwrap_or_else(|| "info".into()),
        };
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
        c
    }

    pub fn server_config(&self) -> souk_server::ServerConfig {
        let mut s = souk_server::ServerConfig::new(self.data_dir.clone());
        s.request_timeout = std::time::Duration::from_secs(self.request_timeout_s);
        s.login = souk_server::LoginLimits {
            per_account: self.login_attempts_per_account,
            per_ip: self.login_attempts_per_ip,
        };
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
        let args = ConfigArgs { config: Some(file.clone()), request_timeout_s: Some(7), ..Default::default() };
        let c = Config::resolve(&args).unwrap();
        assert_eq!(c.listen, "0.0.0.0:9000");
        assert_eq!(c.request_timeout_s, 7);
        assert_eq!(c.login_attempts_per_account, 5);
        assert_eq!(c.redacted().database_url.as_deref(), Some("postgres://u:***@db/souk"));
        std::fs::write(&file, "colour = \"blue\"\n").unwrap();
        assert!(Config::resolve(&args).unwrap_err().contains("colour"));
    }
}
