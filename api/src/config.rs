//! Configuration: defaults, then an optional TOML file, then environment
//! variables (`CUSTODIAN_*` and `DATABASE_URL`), later sources winning.
//!
//! Every setting has a safe default, so `custodian serve` on a fresh machine
//! listens on `127.0.0.1:8080` with SQLite under `./data` and writes mail to
//! `.eml` files. Every value is validated here, before anything starts: an
//! invalid one stops the start with one line that names the setting.
//! This module owns no I/O beyond reading the TOML file.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};
use url::Url;

/// The environment variable that names an optional TOML configuration file.
pub const CONFIG_FILE_ENV: &str = "CUSTODIAN_CONFIG";

/// Custodian's settings, as read and validated.
#[derive(Debug, Clone)]
pub struct Config {
    /// Address and port to listen on (`CUSTODIAN_LISTEN`).
    pub listen: SocketAddr,
    /// Where SQLite, mail files and generated keys live (`CUSTODIAN_DATA_DIR`).
    pub data_dir: PathBuf,
    /// The database (`DATABASE_URL`): SQLite by default, PostgreSQL in production.
    pub database: DatabaseUrl,
    /// Maximum connections in the database pool (`CUSTODIAN_DB_POOL_SIZE`).
    pub db_pool_size: u32,
    /// SMTP server for outgoing mail (`CUSTODIAN_SMTP_URL`); `None` writes
    /// `.eml` files under `data_dir/mail`.
    pub smtp: Option<SmtpUrl>,
    /// The sender of every email (`CUSTODIAN_MAIL_FROM`), e.g.
    /// `Custodian <no-reply@msp.example>`.
    pub mail_from: lettre::message::Mailbox,
    /// Outbox workers in this instance (`CUSTODIAN_MAIL_WORKERS`): 1 by
    /// default, 0 to leave delivery to other instances.
    pub mail_workers: usize,
    /// How long an undeliverable email is retried before it is
    /// dead-lettered (`CUSTODIAN_MAIL_DEAD_LETTER_HOURS`).
    pub mail_dead_letter_after: chrono::Duration,
    /// Users of reset batches this instance resets at once
    /// (`CUSTODIAN_BATCH_CONCURRENCY`): 4 by default, 0 to leave batches to
    /// other instances.
    pub batch_concurrency: usize,
    /// How long a batch's user stays claimed by the instance resetting it
    /// (`CUSTODIAN_BATCH_LEASE_SECONDS`, 60 by default): after a crash,
    /// another instance (or this one, restarted) takes the user over once
    /// it has passed. Taking over never resets a user twice.
    pub batch_lease: std::time::Duration,
    /// How long a reset awaiting a second admin's approval waits before it
    /// expires (`CUSTODIAN_APPROVAL_HOURS`, 24 by default, 1 to 720).
    pub approval_ttl: chrono::Duration,
    /// Where the single-use links of webapp resets point
    /// (`CUSTODIAN_WEBAPP_URL`); unset, the public URL. The webapp's page
    /// `reset-master-password` reads the token from the link's fragment.
    pub webapp_url: Option<Url>,
    /// Where the single-use links of admins' invitations point
    /// (`CUSTODIAN_PORTAL_URL`, the partner portal); unset, the public URL.
    /// The portal's page `accept-admin-invitation` reads the token from the
    /// link's fragment.
    pub portal_url: Option<Url>,
    /// The base of links in emails and the issuer of tokens
    /// (`CUSTODIAN_PUBLIC_URL`); unset, `http://` and the address bound.
    pub public_url: Option<Url>,
    /// A `tracing` filter directive (`CUSTODIAN_LOG`), e.g. `info,custodian_api=debug`.
    pub log: String,
    /// `text` for people, `json` for log pipelines (`CUSTODIAN_LOG_FORMAT`).
    pub log_format: LogFormat,
    /// HTTP worker threads (`CUSTODIAN_WORKERS`); 0 means one per core.
    pub workers: usize,
    /// The largest request body accepted, in bytes (`CUSTODIAN_MAX_BODY_BYTES`).
    pub max_body_bytes: usize,
    /// The server's master key, base64 of 32 bytes (`CUSTODIAN_SECRET_KEY`);
    /// unset, a key file is generated in the data directory. Never printed.
    pub secret_key: Option<secrecy::SecretString>,
    /// A directory of Cedar schema, policies and fixtures to use instead of
    /// the policies compiled in (`CUSTODIAN_POLICY_DIR`).
    pub policy_dir: Option<PathBuf>,
    /// Reverse proxies whose forwarding header names the client
    /// (`CUSTODIAN_TRUSTED_PROXIES`, CIDRs), and which header that is
    /// (`CUSTODIAN_FORWARDED_HEADER`); none by default: the socket's peer is
    /// the client.
    pub trusted_proxies: crate::http::forwarded::TrustedProxies,
    /// Browser origins allowed to call the API (`CUSTODIAN_CORS_ORIGINS`,
    /// exact origins such as `https://portal.msp.example`); none by default.
    pub cors_origins: Vec<String>,
    /// A separate address for `GET /metrics` (`CUSTODIAN_METRICS_LISTEN`);
    /// when set, the API's own address no longer serves it.
    pub metrics_listen: Option<SocketAddr>,
    /// `CUSTODIAN_*` variables that are no setting (a typo, most likely): the
    /// server logs them at start rather than refusing to start, because other
    /// tools share the prefix (`custodianctl` reads `CUSTODIAN_URL`).
    pub unknown_env: Vec<String>,
}

/// The settings read from `CUSTODIAN_*` variables (lowercased, prefix removed).
const SETTINGS: &[&str] = &[
    "listen",
    "data_dir",
    "db_pool_size",
    "smtp_url",
    "mail_from",
    "mail_workers",
    "mail_dead_letter_hours",
    "batch_concurrency",
    "batch_lease_seconds",
    "approval_hours",
    "webapp_url",
    "portal_url",
    "public_url",
    "log",
    "log_format",
    "workers",
    "max_body_bytes",
    "secret_key",
    "policy_dir",
    "trusted_proxies",
    "forwarded_header",
    "cors_origins",
    "metrics_listen",
];

/// `CUSTODIAN_*` variables that belong to something else than the server.
const NOT_SETTINGS: &[&str] = &["config", "url", "token", "test_postgres_url"];

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

/// Which database, parsed from `DATABASE_URL`.
#[derive(Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    /// A SQLite database file (created if absent).
    Sqlite(PathBuf),
    /// A PostgreSQL connection URL, passed to libpq as it is.
    Postgres(String),
}

impl DatabaseUrl {
    /// Parses `postgres://…` / `postgresql://…`, `sqlite://PATH`, `sqlite:PATH`
    /// or a bare file path (SQLite).
    pub fn parse(raw: &str) -> Result<Self, String> {
        let raw = raw.trim();
        if raw.is_empty() {
            return Err("is empty".into());
        }
        if raw.starts_with("postgres://") || raw.starts_with("postgresql://") {
            // libpq parses the rest (multi-host URLs included) and reports its
            // own error at start.
            return Ok(Self::Postgres(raw.to_owned()));
        }
        let path = raw
            .strip_prefix("sqlite://")
            .or_else(|| raw.strip_prefix("sqlite:"))
            .unwrap_or(raw);
        if path.is_empty() || path.contains("://") {
            return Err(
                "must be postgres://…, postgresql://…, sqlite://PATH or a file path".into(),
            );
        }
        if path == ":memory:" || path.starts_with("file::memory:") || path.contains("mode=memory") {
            // Each pooled connection would get its own empty database.
            return Err("cannot be an in-memory SQLite database; name a file".into());
        }
        Ok(Self::Sqlite(PathBuf::from(path)))
    }

    /// `sqlite` or `postgres`.
    pub fn backend_name(&self) -> &'static str {
        match self {
            Self::Sqlite(_) => "sqlite",
            Self::Postgres(_) => "postgres",
        }
    }
}

/// Never prints a PostgreSQL password.
impl std::fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Sqlite(path) => write!(f, "sqlite:{}", path.display()),
            Self::Postgres(url) => write!(f, "{}", redact_url(url)),
        }
    }
}

/// An SMTP server: `smtp://` (STARTTLS required, port 587 by default, unless
/// `?tls=none`: plain, port 25, for a relay on the same host) or `smtps://`
/// (implicit TLS, port 465), with optional `user:password@` (percent-encoded).
/// There is no opportunistic mode: a STARTTLS that fails is an error, never
/// a plain-text fallback.
#[derive(Clone, PartialEq, Eq)]
pub struct SmtpUrl(Url);

impl SmtpUrl {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let url = Url::parse(raw.trim()).map_err(|e| format!("is not a valid URL ({e})"))?;
        if !matches!(url.scheme(), "smtp" | "smtps") {
            return Err(format!(
                "must start with smtp:// or smtps://, not {}://",
                url.scheme()
            ));
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err("names no host".into());
        }
        for (key, value) in url.query_pairs() {
            match (&*key, &*value) {
                ("tls", "required" | "none") if url.scheme() == "smtp" => {}
                ("tls", other) => {
                    return Err(format!(
                        "tls={other} is not supported (smtp:// takes tls=required or tls=none)"
                    ));
                }
                (other, _) => return Err(format!("has an unknown parameter {other:?}")),
            }
        }
        Ok(Self(url))
    }

    pub fn url(&self) -> &Url {
        &self.0
    }
}

impl std::fmt::Debug for SmtpUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", redact_url(self.0.as_str()))
    }
}

/// Replaces the password of a URL with `***`, in the user part and in any
/// `password`/`sslpassword` query parameter.
fn redact_url(raw: &str) -> String {
    let Ok(mut url) = Url::parse(raw) else {
        return "<unparseable URL>".into();
    };
    if url.password().is_some() {
        let _ = url.set_password(Some("***"));
    }
    if url.query().is_some() {
        let pairs: Vec<(String, String)> = url
            .query_pairs()
            .map(|(k, v)| {
                let secret = k.to_ascii_lowercase().contains("password");
                (
                    k.into_owned(),
                    if secret {
                        "***".to_owned()
                    } else {
                        v.into_owned()
                    },
                )
            })
            .collect();
        url.query_pairs_mut().clear().extend_pairs(pairs);
    }
    url.to_string()
}

/// The raw settings as the sources give them; `Config::load` validates them.
/// Field names are the lowercase environment names without `CUSTODIAN_`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    listen: String,
    data_dir: PathBuf,
    database_url: Option<String>,
    db_pool_size: u32,
    smtp_url: Option<String>,
    mail_from: String,
    mail_workers: usize,
    mail_dead_letter_hours: u32,
    batch_concurrency: usize,
    batch_lease_seconds: u64,
    approval_hours: u32,
    webapp_url: Option<String>,
    portal_url: Option<String>,
    public_url: Option<String>,
    log: String,
    log_format: LogFormat,
    workers: usize,
    max_body_bytes: usize,
    secret_key: Option<String>,
    policy_dir: Option<PathBuf>,
    trusted_proxies: Option<String>,
    forwarded_header: Option<String>,
    cors_origins: Option<String>,
    metrics_listen: Option<String>,
}

impl Default for RawConfig {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".into(),
            data_dir: PathBuf::from("data"),
            database_url: None,
            db_pool_size: 16,
            smtp_url: None,
            mail_from: "Custodian <custodian@localhost>".into(),
            mail_workers: 1,
            mail_dead_letter_hours: 24,
            batch_concurrency: 4,
            batch_lease_seconds: 60,
            approval_hours: 24,
            webapp_url: None,
            portal_url: None,
            public_url: None,
            log: "info".into(),
            log_format: LogFormat::Text,
            workers: 0,
            max_body_bytes: 1024 * 1024,
            secret_key: None,
            policy_dir: None,
            trusted_proxies: None,
            forwarded_header: None,
            cors_origins: None,
            metrics_listen: None,
        }
    }
}

/// A configuration error: one line that names the setting and what is wrong.
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration: {0}")]
pub struct ConfigError(String);

impl Config {
    /// Reads the process environment (and the TOML file it names, if any).
    pub fn from_env() -> Result<Self, ConfigError> {
        let file = std::env::var_os(CONFIG_FILE_ENV).map(PathBuf::from);
        Self::load(file.as_deref(), Env::prefixed("CUSTODIAN_"), Env::raw())
    }

    /// The defaults alone, with the given data directory: what tests start from.
    pub fn with_data_dir(data_dir: impl Into<PathBuf>) -> Self {
        let raw = RawConfig {
            data_dir: data_dir.into(),
            ..RawConfig::default()
        };
        Self::validate(raw).expect("the defaults are valid")
    }

    fn load(file: Option<&Path>, prefixed: Env, raw_env: Env) -> Result<Self, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(RawConfig::default()));
        if let Some(file) = file {
            if !file.is_file() {
                return Err(ConfigError(format!(
                    "{CONFIG_FILE_ENV}: no such file: {}",
                    file.display()
                )));
            }
            figment = figment.merge(Toml::file_exact(file));
        }
        let unknown_env = prefixed
            .iter()
            .map(|(key, _)| key.as_str().to_owned())
            .filter(|key| {
                !SETTINGS.contains(&key.as_str()) && !NOT_SETTINGS.contains(&key.as_str())
            })
            .map(|key| format!("CUSTODIAN_{}", key.to_uppercase()))
            .collect();
        let figment = figment
            .merge(prefixed.only(SETTINGS))
            .merge(raw_env.only(&["DATABASE_URL"]));
        let raw: RawConfig = figment.extract().map_err(|e| ConfigError(one_line(&e)))?;
        let mut config = Self::validate(raw)?;
        config.unknown_env = unknown_env;
        Ok(config)
    }

    fn validate(raw: RawConfig) -> Result<Self, ConfigError> {
        let bad = |setting: &str, why: String| ConfigError(format!("{setting} {why}"));
        let listen: SocketAddr = raw.listen.trim().parse().map_err(|_| {
            bad(
                "CUSTODIAN_LISTEN",
                format!(
                    "must be ADDRESS:PORT (e.g. 127.0.0.1:8080), not {:?}",
                    raw.listen
                ),
            )
        })?;
        if raw.data_dir.as_os_str().is_empty() {
            return Err(bad("CUSTODIAN_DATA_DIR", "is empty".into()));
        }
        let database = match raw.database_url.as_deref() {
            Some(url) => DatabaseUrl::parse(url).map_err(|why| bad("DATABASE_URL", why))?,
            None => DatabaseUrl::Sqlite(raw.data_dir.join("custodian.db")),
        };
        if !(1..=1000).contains(&raw.db_pool_size) {
            return Err(bad(
                "CUSTODIAN_DB_POOL_SIZE",
                format!("must be from 1 to 1000, not {}", raw.db_pool_size),
            ));
        }
        let smtp = raw
            .smtp_url
            .as_deref()
            .filter(|s| !s.trim().is_empty())
            .map(SmtpUrl::parse)
            .transpose()
            .map_err(|why| bad("CUSTODIAN_SMTP_URL", why))?;
        let mail_from: lettre::message::Mailbox = raw.mail_from.trim().parse().map_err(|_| {
            bad(
                "CUSTODIAN_MAIL_FROM",
                format!(
                    "must be an address, e.g. `Custodian <no-reply@msp.example>`, not {:?}",
                    raw.mail_from
                ),
            )
        })?;
        if raw.mail_workers > 16 {
            return Err(bad(
                "CUSTODIAN_MAIL_WORKERS",
                format!("must be from 0 to 16, not {}", raw.mail_workers),
            ));
        }
        if raw.batch_concurrency > 64 {
            return Err(bad(
                "CUSTODIAN_BATCH_CONCURRENCY",
                format!("must be from 0 to 64, not {}", raw.batch_concurrency),
            ));
        }
        if !(1..=3600).contains(&raw.batch_lease_seconds) {
            return Err(bad(
                "CUSTODIAN_BATCH_LEASE_SECONDS",
                format!("must be from 1 to 3600, not {}", raw.batch_lease_seconds),
            ));
        }
        if !(1..=720).contains(&raw.approval_hours) {
            return Err(bad(
                "CUSTODIAN_APPROVAL_HOURS",
                format!("must be from 1 to 720, not {}", raw.approval_hours),
            ));
        }
        if !(1..=720).contains(&raw.mail_dead_letter_hours) {
            return Err(bad(
                "CUSTODIAN_MAIL_DEAD_LETTER_HOURS",
                format!("must be from 1 to 720, not {}", raw.mail_dead_letter_hours),
            ));
        }
        let webapp_url = raw
            .webapp_url
            .as_deref()
            .filter(|s| !s.trim().is_empty())
            .map(|raw_url| http_url("CUSTODIAN_WEBAPP_URL", raw_url))
            .transpose()?;
        let portal_url = raw
            .portal_url
            .as_deref()
            .filter(|s| !s.trim().is_empty())
            .map(|raw_url| http_url("CUSTODIAN_PORTAL_URL", raw_url))
            .transpose()?;
        let public_url = match raw.public_url.as_deref() {
            Some(raw_url) => Some(http_url("CUSTODIAN_PUBLIC_URL", raw_url)?),
            // Links in emails must reach this server from a user's machine; a
            // wildcard address names no host to link to.
            None if listen.ip().is_unspecified() => {
                return Err(bad(
                    "CUSTODIAN_PUBLIC_URL",
                    format!(
                        "must be set when CUSTODIAN_LISTEN is {listen} (links in emails need a host)"
                    ),
                ));
            }
            // Unset: the server derives it from the address it binds.
            None => None,
        };
        tracing_subscriber::EnvFilter::try_new(&raw.log)
            .map_err(|e| bad("CUSTODIAN_LOG", format!("is not a valid filter ({e})")))?;
        if raw.workers > 1024 {
            return Err(bad(
                "CUSTODIAN_WORKERS",
                format!("must be at most 1024, not {}", raw.workers),
            ));
        }
        if !(1024..=(256 * 1024 * 1024)).contains(&raw.max_body_bytes) {
            return Err(bad(
                "CUSTODIAN_MAX_BODY_BYTES",
                format!("must be from 1024 to 268435456, not {}", raw.max_body_bytes),
            ));
        }
        let secret_key = raw
            .secret_key
            .filter(|k| !k.trim().is_empty())
            .map(|k| {
                crate::auth::keys::parse_master_key(&k)
                    .map(|_| secrecy::SecretString::from(k))
                    .map_err(|_| {
                        bad(
                            "CUSTODIAN_SECRET_KEY",
                            "must be 32 bytes in base64 (e.g. `openssl rand -base64 32`)".into(),
                        )
                    })
            })
            .transpose()?;
        let nets = crate::http::forwarded::TrustedProxies::parse_nets(
            raw.trusted_proxies.as_deref().unwrap_or_default(),
        )
        .map_err(|why| bad("CUSTODIAN_TRUSTED_PROXIES", why))?;
        let header = raw
            .forwarded_header
            .as_deref()
            .filter(|s| !s.trim().is_empty())
            .map(crate::http::forwarded::ForwardedHeader::parse)
            .transpose()
            .map_err(|why| bad("CUSTODIAN_FORWARDED_HEADER", why))?
            .unwrap_or_default();
        let trusted_proxies = crate::http::forwarded::TrustedProxies::new(nets, header);
        let cors_origins = raw
            .cors_origins
            .as_deref()
            .unwrap_or_default()
            .split([',', ' '])
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(origin)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|why| bad("CUSTODIAN_CORS_ORIGINS", why))?;
        let metrics_listen = raw
            .metrics_listen
            .as_deref()
            .filter(|s| !s.trim().is_empty())
            .map(|s| {
                s.trim().parse::<SocketAddr>().map_err(|_| {
                    bad(
                        "CUSTODIAN_METRICS_LISTEN",
                        format!("must be ADDRESS:PORT (e.g. 127.0.0.1:9090), not {s:?}"),
                    )
                })
            })
            .transpose()?;
        Ok(Self {
            listen,
            data_dir: raw.data_dir,
            database,
            db_pool_size: raw.db_pool_size,
            smtp,
            mail_from,
            mail_workers: raw.mail_workers,
            mail_dead_letter_after: chrono::Duration::hours(raw.mail_dead_letter_hours.into()),
            batch_concurrency: raw.batch_concurrency,
            batch_lease: std::time::Duration::from_secs(raw.batch_lease_seconds),
            approval_ttl: chrono::Duration::hours(raw.approval_hours.into()),
            webapp_url,
            portal_url,
            public_url,
            log: raw.log,
            log_format: raw.log_format,
            workers: raw.workers,
            max_body_bytes: raw.max_body_bytes,
            secret_key,
            policy_dir: raw.policy_dir.filter(|dir| !dir.as_os_str().is_empty()),
            trusted_proxies,
            cors_origins,
            metrics_listen,
            unknown_env: Vec::new(),
        })
    }
}

/// A browser origin, exactly as a browser sends it in `Origin`:
/// `scheme://host[:port]`, no path, no trailing slash.
fn origin(raw: &str) -> Result<String, String> {
    let url = Url::parse(raw).map_err(|_| format!("{raw:?} is not an origin"))?;
    let canonical = url.origin().ascii_serialization();
    if !matches!(url.scheme(), "http" | "https") || canonical != raw.trim_end_matches('/') {
        return Err(format!(
            "{raw:?} is not an origin such as https://portal.msp.example (scheme, host and port only)"
        ));
    }
    Ok(canonical)
}

/// An absolute `http://` or `https://` URL, or an error naming `setting`.
fn http_url(setting: &str, raw: &str) -> Result<Url, ConfigError> {
    let url = Url::parse(raw.trim())
        .map_err(|e| ConfigError(format!("{setting} is not a valid URL ({e})")))?;
    if !matches!(url.scheme(), "http" | "https") || url.cannot_be_a_base() {
        return Err(ConfigError(format!(
            "{setting} must be an http:// or https:// URL"
        )));
    }
    Ok(url)
}

/// Figment's errors name the key and the source; keep the first on one line
/// and call the key by its environment name.
fn one_line(error: &figment::Error) -> String {
    let first = error.clone().into_iter().next();
    let Some(first) = first else {
        return error.to_string();
    };
    let setting = first
        .path
        .last()
        .map(|key| {
            if key == "database_url" {
                "DATABASE_URL".to_owned()
            } else {
                format!("CUSTODIAN_{}", key.to_uppercase())
            }
        })
        .unwrap_or_else(|| "configuration".to_owned());
    let kind = first.kind.to_string();
    let source = first
        .metadata
        .as_ref()
        .map(|m| format!(" (from {})", m.name))
        .unwrap_or_default();
    format!("{setting}: {kind}{source}").replace('\n', " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[expect(
        clippy::result_large_err,
        reason = "figment::Jail fixes the closure's type"
    )]
    fn load(env: &[(&str, &str)], toml: Option<&str>) -> Result<Config, ConfigError> {
        let mut result = None;
        figment::Jail::expect_with(|jail| {
            jail.clear_env();
            for (k, v) in env {
                jail.set_env(k, v);
            }
            let file = toml.map(|t| {
                jail.create_file("custodian.toml", t).expect("file");
                PathBuf::from("custodian.toml")
            });
            result = Some(Config::load(
                file.as_deref(),
                Env::prefixed("CUSTODIAN_"),
                Env::raw(),
            ));
            Ok(())
        });
        result.expect("the jail ran")
    }

    #[test]
    fn defaults_are_safe() {
        let c = load(&[], None).unwrap();
        assert_eq!(c.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(c.database, DatabaseUrl::Sqlite("data/custodian.db".into()));
        assert!(c.smtp.is_none());
        assert_eq!(c.public_url, None, "derived from the bound address");
    }

    #[test]
    fn proxies_origins_and_the_metrics_address_are_validated() {
        let c = load(
            &[
                ("CUSTODIAN_TRUSTED_PROXIES", "10.0.0.0/8, 192.0.2.1"),
                ("CUSTODIAN_FORWARDED_HEADER", "Forwarded"),
                (
                    "CUSTODIAN_CORS_ORIGINS",
                    "https://portal.msp.example http://localhost:3000",
                ),
                ("CUSTODIAN_METRICS_LISTEN", "127.0.0.1:9090"),
            ],
            None,
        )
        .unwrap();
        assert_eq!(
            c.cors_origins,
            ["https://portal.msp.example", "http://localhost:3000"]
        );
        assert_eq!(c.metrics_listen, Some("127.0.0.1:9090".parse().unwrap()));
        let defaults = load(&[], None).unwrap();
        assert!(defaults.cors_origins.is_empty() && defaults.metrics_listen.is_none());
        for (setting, value) in [
            ("CUSTODIAN_TRUSTED_PROXIES", "10.0.0.0/33"),
            ("CUSTODIAN_FORWARDED_HEADER", "x-real-ip"),
            ("CUSTODIAN_CORS_ORIGINS", "https://portal.msp.example/app"),
            ("CUSTODIAN_CORS_ORIGINS", "*"),
            ("CUSTODIAN_CORS_ORIGINS", "ftp://portal.msp.example"),
            ("CUSTODIAN_METRICS_LISTEN", "9090"),
        ] {
            let error = load(&[(setting, value)], None).unwrap_err().to_string();
            assert!(error.contains(setting), "{setting}={value}: {error}");
        }
    }

    #[test]
    fn environment_overrides_file() {
        let c = load(
            &[
                ("CUSTODIAN_LISTEN", "127.0.0.2:9000"),
                ("DATABASE_URL", "postgres://u:pw@db/c"),
            ],
            Some("listen = \"127.0.0.1:1\"\nlog = \"debug\"\n"),
        )
        .unwrap();
        assert_eq!(c.listen.to_string(), "127.0.0.2:9000");
        assert_eq!(c.log, "debug");
        assert_eq!(c.database.backend_name(), "postgres");
        assert_eq!(format!("{:?}", c.database), "postgres://u:***@db/c");
    }

    #[test]
    fn passwords_in_query_parameters_are_redacted_too() {
        let url = DatabaseUrl::parse("postgres://db/c?sslmode=require&password=hunter2").unwrap();
        let shown = format!("{url:?}");
        assert!(
            !shown.contains("hunter2") && shown.contains("sslmode=require"),
            "{shown}"
        );
    }

    #[test]
    fn a_wildcard_listen_address_needs_a_public_url() {
        let err = load(&[("CUSTODIAN_LISTEN", "0.0.0.0:8080")], None)
            .unwrap_err()
            .to_string();
        assert!(err.contains("CUSTODIAN_PUBLIC_URL must be set"), "{err}");
        let c = load(
            &[
                ("CUSTODIAN_LISTEN", "0.0.0.0:8080"),
                ("CUSTODIAN_PUBLIC_URL", "https://custodian.example.com"),
            ],
            None,
        )
        .unwrap();
        assert_eq!(
            c.public_url.map(String::from).as_deref(),
            Some("https://custodian.example.com/")
        );
    }

    #[test]
    fn each_invalid_setting_is_named() {
        let cases: &[(&str, &str, &str)] = &[
            (
                "CUSTODIAN_LISTEN",
                "localhost",
                "CUSTODIAN_LISTEN must be ADDRESS:PORT",
            ),
            ("DATABASE_URL", "mysql://x", "DATABASE_URL must be"),
            (
                "CUSTODIAN_SMTP_URL",
                "http://mail",
                "CUSTODIAN_SMTP_URL must start with smtp://",
            ),
            (
                "CUSTODIAN_SMTP_URL",
                "smtp://mail?tls=opportunistic",
                "CUSTODIAN_SMTP_URL tls=opportunistic is not supported",
            ),
            (
                "CUSTODIAN_PUBLIC_URL",
                "ftp://x",
                "CUSTODIAN_PUBLIC_URL must be an http://",
            ),
            (
                "CUSTODIAN_WEBAPP_URL",
                "mailto:x@y",
                "CUSTODIAN_WEBAPP_URL must be an http://",
            ),
            (
                "CUSTODIAN_MAIL_FROM",
                "not an address",
                "CUSTODIAN_MAIL_FROM must be an address",
            ),
            (
                "CUSTODIAN_MAIL_WORKERS",
                "17",
                "CUSTODIAN_MAIL_WORKERS must be from 0 to 16",
            ),
            (
                "CUSTODIAN_BATCH_CONCURRENCY",
                "65",
                "CUSTODIAN_BATCH_CONCURRENCY must be from 0 to 64",
            ),
            (
                "CUSTODIAN_BATCH_LEASE_SECONDS",
                "0",
                "CUSTODIAN_BATCH_LEASE_SECONDS must be from 1 to 3600",
            ),
            (
                "CUSTODIAN_APPROVAL_HOURS",
                "721",
                "CUSTODIAN_APPROVAL_HOURS must be from 1 to 720",
            ),
            (
                "CUSTODIAN_MAIL_DEAD_LETTER_HOURS",
                "0",
                "CUSTODIAN_MAIL_DEAD_LETTER_HOURS must be from 1",
            ),
            (
                "CUSTODIAN_LOG",
                "info,[",
                "CUSTODIAN_LOG is not a valid filter",
            ),
            (
                "CUSTODIAN_DB_POOL_SIZE",
                "0",
                "CUSTODIAN_DB_POOL_SIZE must be from 1",
            ),
            ("CUSTODIAN_DB_POOL_SIZE", "many", "CUSTODIAN_DB_POOL_SIZE: "),
            ("CUSTODIAN_LOG_FORMAT", "xml", "CUSTODIAN_LOG_FORMAT: "),
            (
                "CUSTODIAN_MAX_BODY_BYTES",
                "10",
                "CUSTODIAN_MAX_BODY_BYTES must be from",
            ),
            (
                "CUSTODIAN_SECRET_KEY",
                "c2hvcnQ=",
                "CUSTODIAN_SECRET_KEY must be 32 bytes",
            ),
        ];
        for (key, value, expected) in cases {
            let err = load(&[(key, value)], None).unwrap_err().to_string();
            assert!(err.contains(expected), "{key}={value}: {err}");
            assert!(!err.contains('\n'), "one line: {err}");
        }
    }

    #[test]
    fn unknown_file_keys_are_errors_and_unknown_variables_warnings() {
        let err = load(&[], Some("listne = \"127.0.0.1:1\"\n"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown field"), "{err}");
        let c = load(&[("CUSTODIAN_LISTNE", "x"), ("CUSTODIAN_TOKEN", "t")], None).unwrap();
        assert_eq!(c.unknown_env, vec!["CUSTODIAN_LISTNE".to_owned()]);
    }

    #[test]
    fn a_missing_config_file_is_an_error() {
        let err = Config::load(
            Some(Path::new("/nonexistent/c.toml")),
            Env::prefixed("X_"),
            Env::raw(),
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("CUSTODIAN_CONFIG: no such file"),
            "{err}"
        );
    }

    #[test]
    fn database_urls() {
        assert_eq!(
            DatabaseUrl::parse("sqlite:///tmp/c.db").unwrap(),
            DatabaseUrl::Sqlite("/tmp/c.db".into())
        );
        assert_eq!(
            DatabaseUrl::parse("sqlite:c.db").unwrap(),
            DatabaseUrl::Sqlite("c.db".into())
        );
        assert_eq!(
            DatabaseUrl::parse("c.db").unwrap(),
            DatabaseUrl::Sqlite("c.db".into())
        );
        assert!(DatabaseUrl::parse("").is_err());
        assert!(DatabaseUrl::parse(":memory:").is_err());
        assert!(DatabaseUrl::parse("sqlite::memory:").is_err());
        assert_eq!(
            DatabaseUrl::parse("postgres://h1:5432,h2:5432/db")
                .unwrap()
                .backend_name(),
            "postgres",
            "libpq multi-host URLs"
        );
    }
}
