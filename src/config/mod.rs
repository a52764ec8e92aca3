//! Configuration: one TOML file (every key documented in `config.example.toml`); secrets also from
//! the environment (`ZFSYNC_*`, which wins) or from a secrets file named by `secrets_file`
//! (`ZFSYNC_NAME=value` lines, the format systemd's `EnvironmentFile=` reads). Loaded and validated
//! once at start-up; an unknown key, a missing required key, a bad URL or a bad public key stops
//! start-up with an error naming the key and the fix.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use url::Url;

/// The Zalo app secret (`zalo.app_secret`).
pub const ENV_ZALO_APP_SECRET: &str = "ZFSYNC_ZALO_APP_SECRET";
/// The OA secret key that signs Zalo webhooks (`zalo.oa_secret_key`).
pub const ENV_ZALO_OA_SECRET_KEY: &str = "ZFSYNC_ZALO_OA_SECRET_KEY";
/// The Freshchat API key (`freshchat.api_key`).
pub const ENV_FRESHCHAT_API_KEY: &str = "ZFSYNC_FRESHCHAT_API_KEY";
/// The public key that verifies Freshchat webhooks (`freshchat.webhook_public_key`).
pub const ENV_FRESHCHAT_WEBHOOK_PUBLIC_KEY: &str = "ZFSYNC_FRESHCHAT_WEBHOOK_PUBLIC_KEY";
/// The operator token (`server.admin_token`).
pub const ENV_ADMIN_TOKEN: &str = "ZFSYNC_ADMIN_TOKEN";
/// The shortest admin token accepted (`server.admin_token`): anything shorter can be guessed.
pub const MIN_ADMIN_TOKEN_CHARS: usize = 24;
/// The key that encrypts secrets in the store (instead of `store.key_file`).
pub const ENV_STORE_KEY: &str = "ZFSYNC_STORE_KEY";
/// A PostgreSQL store's URL (`store.url`), which may hold its password.
pub const ENV_STORE_URL: &str = "ZFSYNC_STORE_URL";
/// The address to listen on (`server.listen`), not a secret: a container image sets it to
/// `0.0.0.0:8080`, since a mounted configuration's loopback address is out of reach from outside
/// the container.
pub const ENV_LISTEN: &str = "ZFSYNC_LISTEN";
/// Every secret zfsync reads from the environment or the secrets file.
pub const SECRET_NAMES: [&str; 7] = [
    ENV_ZALO_APP_SECRET,
    ENV_ZALO_OA_SECRET_KEY,
    ENV_FRESHCHAT_API_KEY,
    ENV_FRESHCHAT_WEBHOOK_PUBLIC_KEY,
    ENV_ADMIN_TOKEN,
    ENV_STORE_KEY,
    ENV_STORE_URL,
];

/// Why a configuration cannot be used; each names the file or key and what to do.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file cannot be read.
    #[error("cannot read the config file {path}: {cause}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why (in the message, not chained: see `crate::error`).
        cause: std::io::Error,
    },
    /// Not valid TOML, or a key zfsync does not know.
    #[error("the config file {path} is not valid: {detail}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The parser's words, with the line.
        detail: String,
    },
    /// A required key is not set.
    #[error("config key `{key}` is missing: {hint}")]
    Missing {
        /// The key, as written in the file.
        key: &'static str,
        /// Where its value comes from.
        hint: &'static str,
    },
    /// A pairing's name cannot be used (given on the command line or in the console's form).
    #[error("pairing name not valid: {0}")]
    PairingName(String),
    /// A key's value cannot be used.
    #[error("config key `{key}` is not valid: {detail}")]
    Invalid {
        /// The key, as written in the file.
        key: &'static str,
        /// What is wrong and what would do.
        detail: String,
    },
    /// The secrets file cannot be used.
    #[error("cannot read the secrets file {path}: {detail}")]
    Secrets {
        /// The file.
        path: PathBuf,
        /// What is wrong (never a secret's value).
        detail: String,
    },
}

/// The whole configuration, as validated.
#[derive(Debug, Clone)]
pub struct Config {
    /// `[server]`: listening, public URL, operator token.
    pub server: ServerConfig,
    /// `[store]`: the SQLite file and its key.
    pub store: StoreConfig,
    /// `[zalo]`: the app, the OA and its secrets.
    pub zalo: ZaloConfig,
    /// `[freshchat]`: the account, its API key and webhook key.
    pub freshchat: FreshchatConfig,
    /// `[mapping]`: the rules file and the customers' language.
    pub mapping: MappingConfig,
    /// `[sync]`: lanes, retries, schedules, retention.
    pub sync: SyncConfig,
    /// `[media]`: where media may be downloaded from.
    pub media: MediaConfig,
    /// The secrets file the secrets came from, when one is configured.
    pub secrets_file: Option<PathBuf>,
    /// The file this configuration was loaded from (None when parsed from text): the console's
    /// "Run checks" reads it again, as `zfsync check` would.
    pub file: Option<PathBuf>,
}

/// `[server]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// Address the webhook/health server listens on.
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// The public HTTPS URL that reaches `listen` (used for webhook URLs, the OAuth callback and
    /// hosted long replies).
    pub public_url: Url,
    /// Largest webhook body accepted, in bytes.
    #[serde(default = "default_max_body")]
    pub max_body_bytes: usize,
    /// The operator token (or ZFSYNC_ADMIN_TOKEN): needed for /oauth/zalo/start, the console and
    /// the details of /readyz. When unset, zfsync generates one and keeps it in the store.
    #[serde(default)]
    pub admin_token: Option<SecretString>,
    /// Reverse proxies (addresses or CIDR blocks) whose `X-Forwarded-For` names the client; none
    /// by default (the peer is the client).
    #[serde(default)]
    pub trusted_proxies: Vec<String>,
}

impl ServerConfig {
    /// The trusted proxies, as validated at load.
    pub fn trusted_proxies(&self) -> crate::server::client::TrustedProxies {
        crate::server::client::TrustedProxies::parse(&self.trusted_proxies).unwrap_or_default()
    }
}

/// `[store]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreConfig {
    /// SQLite file (created if missing).
    #[serde(default = "default_store_path")]
    pub path: PathBuf,
    /// The file holding the key that encrypts the tokens and secrets in the store (created, 0600,
    /// when missing). ZFSYNC_STORE_KEY or a systemd credential `zfsync-store-key` take precedence.
    /// Default: the store path with `.key` added.
    #[serde(default)]
    pub key_file: Option<PathBuf>,
    /// The store key itself (from ZFSYNC_STORE_KEY or the secrets file; never in the TOML).
    #[serde(skip)]
    pub key: Option<SecretString>,
    /// A PostgreSQL database instead of the SQLite file: `postgres://user@host:5432/zfsync`
    /// (its password from ZFSYNC_STORE_URL or the secrets file rather than the TOML). Replicas of
    /// one deployment all name the same database.
    #[serde(default)]
    pub url: Option<SecretString>,
}

impl StoreConfig {
    /// Where the store key is kept when no key is given.
    pub fn key_path(&self) -> PathBuf {
        self.key_file.clone().unwrap_or_else(|| {
            let mut p = self.path.clone().into_os_string();
            p.push(".key");
            PathBuf::from(p)
        })
    }
}

/// `[media]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MediaConfig {
    /// Hosts media may be downloaded from, besides the built-in Zalo and Freshchat media domains
    /// and the configured API hosts: `host.example.com`, or `*.example.com` for its subdomains.
    #[serde(default)]
    pub allow_hosts: Vec<String>,
    /// Allow downloads from private, loopback and link-local addresses (tests and the sandbox
    /// only: in production it would let a forged attachment URL reach the internal network).
    #[serde(default)]
    pub allow_private_addresses: bool,
}

/// `[zalo]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ZaloConfig {
    /// App ID from developers.zalo.me.
    pub app_id: String,
    /// App Secret Key (or ZFSYNC_ZALO_APP_SECRET).
    #[serde(default)]
    pub app_secret: Option<SecretString>,
    /// OA Secret Key from the app's Webhook page (or ZFSYNC_ZALO_OA_SECRET_KEY).
    #[serde(default)]
    pub oa_secret_key: Option<SecretString>,
    /// The OA's id (numeric string); learnt from the OAuth callback when absent.
    #[serde(default)]
    pub oa_id: Option<String>,
    /// The domain-verification code from the Zalo app ("Xác thực domain"): zfsync then serves the
    /// meta tag at `/` and the file `/zalo_verifier<code>.html` itself.
    #[serde(default)]
    pub site_verification: Option<String>,
    /// Zalo's API (change only to use the simulator).
    #[serde(default = "default_zalo_api")]
    pub api_base: Url,
    /// Zalo's OAuth host (change only to use the simulator).
    #[serde(default = "default_zalo_oauth")]
    pub oauth_base: Url,
}

/// `[freshchat]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FreshchatConfig {
    /// Scheme + host of the Freshchat API, e.g. `https://yourcompany.freshchat.com`.
    pub api_base: Url,
    /// App ID (Admin → Mobile SDK / Integration settings); sent with new conversations.
    #[serde(default)]
    pub app_id: Option<String>,
    /// API key (or ZFSYNC_FRESHCHAT_API_KEY).
    #[serde(default)]
    pub api_key: Option<SecretString>,
    /// Channel (topic) new conversations go to; else `channel_name`; else the first enabled channel.
    #[serde(default)]
    pub channel_id: Option<String>,
    /// The channel by name, when `channel_id` is not set.
    #[serde(default)]
    pub channel_name: Option<String>,
    /// RSA public key from the Webhooks page (or ZFSYNC_FRESHCHAT_WEBHOOK_PUBLIC_KEY).
    #[serde(default)]
    pub webhook_public_key: Option<SecretString>,
}

/// `[mapping]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MappingConfig {
    /// A customer copy of mappings/default.toml; the built-in rules when absent.
    #[serde(default)]
    pub rules: Option<PathBuf>,
    /// The language of the texts customers read (resolve notice, long-text and link notices):
    /// `vi` or `en`; overrides the rules' own `language`.
    #[serde(default)]
    pub language: Option<String>,
    /// The language of every note zfsync writes to agents in Freshchat (Zalo errors, reply costs,
    /// consent withdrawal, attachment notes, command answers): `vi` (the default) or `en`;
    /// overrides the rules' own `[agents] language`.
    #[serde(default)]
    pub agent_language: Option<String>,
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8080))
}
fn default_max_body() -> usize {
    1024 * 1024
}
fn default_store_path() -> PathBuf {
    PathBuf::from("zfsync.db")
}
fn default_zalo_api() -> Url {
    Url::parse("https://openapi.zalo.me").unwrap_or_else(|_| unreachable!())
}
fn default_zalo_oauth() -> Url {
    Url::parse("https://oauth.zaloapp.com").unwrap_or_else(|_| unreachable!())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    secrets_file: Option<PathBuf>,
    server: ServerConfig,
    #[serde(default)]
    store: Option<StoreConfig>,
    zalo: ZaloConfig,
    freshchat: FreshchatConfig,
    #[serde(default)]
    mapping: MappingConfig,
    #[serde(default)]
    sync: SyncConfig,
    #[serde(default)]
    media: MediaConfig,
}

/// `ZFSYNC_LISTEN`'s value as an address and port.
fn parse_listen(value: &str) -> Result<SocketAddr, ConfigError> {
    value.trim().parse().map_err(|_| ConfigError::Invalid {
        key: "server.listen",
        detail: format!(
            "{ENV_LISTEN}={value:?} is not an address and port: write e.g. 0.0.0.0:8080 (every IPv4 address), [::]:8080 or 127.0.0.1:8080"
        ),
    })
}

/// Reads an environment variable as a secret (empty counts as unset).
fn env_secret(name: &str) -> Option<SecretString> {
    std::env::var(name)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .map(SecretString::from)
}

impl Config {
    /// Loads, applies environment overrides, validates.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|cause| ConfigError::Read {
            path: path.to_path_buf(),
            cause,
        })?;
        let dir = path.parent().filter(|d| !d.as_os_str().is_empty());
        let mut config = Config::from_toml_in(&text, dir).map_err(|e| match e {
            ConfigError::Parse { detail, .. } => ConfigError::Parse {
                path: path.to_path_buf(),
                detail,
            },
            other => other,
        })?;
        // A relative store path is relative to the config file, so the daemon can run from anywhere.
        if config.store.path.is_relative() {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                config.store.path = dir.join(&config.store.path);
            }
        }
        if let Some(rules) = &config.mapping.rules {
            if rules.is_relative() {
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    config.mapping.rules = Some(dir.join(rules));
                }
            }
        }
        if let Some(key_file) = &config.store.key_file {
            if key_file.is_relative() {
                if let Some(dir) = dir {
                    config.store.key_file = Some(dir.join(key_file));
                }
            }
        }
        config.file = Some(path.to_path_buf());
        Ok(config)
    }

    /// Parses TOML text (environment overrides applied) and validates it.
    pub fn from_toml(text: &str) -> Result<Config, ConfigError> {
        Config::from_toml_in(text, None)
    }

    /// Parses TOML text whose relative paths (the secrets file) are relative to `dir`, applies the
    /// secrets file and the environment, and validates.
    pub fn from_toml_in(text: &str, dir: Option<&Path>) -> Result<Config, ConfigError> {
        // toml quotes the offending source line, which may hold a secret: keep only the message,
        // the line number and the section.
        let raw: RawConfig = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: PathBuf::from("<config>"),
            detail: condense_toml_error(&e.to_string(), text),
        })?;
        let secrets_file = raw.secrets_file.map(|p| match dir {
            Some(d) if p.is_relative() => d.join(p),
            _ => p,
        });
        let mut config = Config {
            server: raw.server,
            store: raw.store.unwrap_or(StoreConfig {
                path: default_store_path(),
                key_file: None,
                key: None,
                url: None,
            }),
            zalo: raw.zalo,
            freshchat: raw.freshchat,
            mapping: raw.mapping,
            sync: raw.sync,
            media: raw.media,
            secrets_file,
            file: None,
        };
        let from_file = match &config.secrets_file {
            Some(p) => read_secrets_file(p)?,
            None => Default::default(),
        };
        // The environment wins over the secrets file, which wins over the TOML.
        let secret = |name: &str| {
            env_secret(name).or_else(|| from_file.get(name).cloned().map(SecretString::from))
        };
        if let Some(v) = secret(ENV_ZALO_APP_SECRET) {
            config.zalo.app_secret = Some(v);
        }
        if let Some(v) = secret(ENV_ZALO_OA_SECRET_KEY) {
            config.zalo.oa_secret_key = Some(v);
        }
        if let Some(v) = secret(ENV_FRESHCHAT_API_KEY) {
            config.freshchat.api_key = Some(v);
        }
        if let Some(v) = secret(ENV_FRESHCHAT_WEBHOOK_PUBLIC_KEY) {
            config.freshchat.webhook_public_key = Some(v);
        }
        if let Some(v) = secret(ENV_ADMIN_TOKEN) {
            config.server.admin_token = Some(v);
        }
        if let Some(v) = secret(ENV_STORE_KEY) {
            config.store.key = Some(v);
        }
        if let Some(v) = secret(ENV_STORE_URL) {
            config.store.url = Some(v);
        }
        if let Some(listen) = std::env::var(ENV_LISTEN)
            .ok()
            .filter(|v| !v.trim().is_empty())
        {
            config.server.listen = parse_listen(&listen)?;
        }
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        check_base_url("server.public_url", &self.server.public_url)?;
        if let Some(url) = &self.store.url {
            let url = url.expose_secret();
            if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
                return Err(ConfigError::Invalid {
                    key: "store.url",
                    detail: "must be a PostgreSQL URL (postgres://user@host:5432/database); leave it out to use the SQLite file store.path".into(),
                });
            }
        }
        // The platforms call it and it carries the OAuth code and hosted files: https only, except
        // for a daemon that only this machine reaches (tests, the sandbox).
        if self.server.public_url.scheme() != "https" && !is_loopback(&self.server.public_url) {
            return Err(ConfigError::Invalid {
                key: "server.public_url",
                detail: format!(
                    "{} must be https:// (put zfsync behind a TLS reverse proxy); http:// is allowed only for loopback addresses",
                    self.server.public_url
                ),
            });
        }
        if let Some(token) = self.admin_token() {
            let chars = token.expose_secret().trim().chars().count();
            if chars < MIN_ADMIN_TOKEN_CHARS {
                return Err(ConfigError::Invalid {
                    key: "server.admin_token",
                    detail: format!(
                        "the admin token (from server.admin_token, {ENV_ADMIN_TOKEN} or the secrets file) has {chars} characters; it must have at least {MIN_ADMIN_TOKEN_CHARS}, random. Make one with 'openssl rand -base64 32', or remove it and zfsync generates one ('zfsync admin-token' prints it)"
                    ),
                });
            }
        }
        crate::server::client::TrustedProxies::parse(&self.server.trusted_proxies).map_err(
            |detail| ConfigError::Invalid {
                key: "server.trusted_proxies",
                detail,
            },
        )?;
        if !(MIN_LANE_LEASE_SECS..=MAX_LANE_LEASE_SECS).contains(&self.sync.lane_lease_secs) {
            return Err(ConfigError::Invalid {
                key: "sync.lane_lease_secs",
                detail: format!(
                    "{} is out of range: between {MIN_LANE_LEASE_SECS} and {MAX_LANE_LEASE_SECS} seconds (10 is right for most deployments: longer delays the takeover of a dead replica's conversations, shorter costs more renewals)",
                    self.sync.lane_lease_secs
                ),
            });
        }
        if !LANE_SWEEP_SECS.contains(&self.sync.lane_sweep_secs) {
            return Err(ConfigError::Invalid {
                key: "sync.lane_sweep_secs",
                detail: format!(
                    "{} is out of range: between {} and {} seconds (2 is right for most deployments: work another process queued waits for it at most)",
                    self.sync.lane_sweep_secs,
                    LANE_SWEEP_SECS.start(),
                    LANE_SWEEP_SECS.end()
                ),
            });
        }
        check_base_url("zalo.api_base", &self.zalo.api_base)?;
        check_base_url("zalo.oauth_base", &self.zalo.oauth_base)?;
        check_base_url("freshchat.api_base", &self.freshchat.api_base)?;
        if self.zalo.app_id.trim().is_empty()
            || !self.zalo.app_id.chars().all(|c| c.is_ascii_digit())
        {
            return Err(ConfigError::Invalid {
                key: "zalo.app_id",
                detail: "Invalid App ID: must be the numeric string shown on developers.zalo.me"
                    .into(),
            });
        }
        if let Some(code) = &self.zalo.site_verification {
            if code.is_empty()
                || !code
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
            {
                return Err(ConfigError::Invalid {
                    key: "zalo.site_verification",
                    detail: "must be the code the Zalo app shows (letters, digits, '-' and '_'), without the file name around it".into(),
                });
            }
        }
        if let Some(oa) = &self.zalo.oa_id {
            if oa.is_empty() || !oa.chars().all(|c| c.is_ascii_digit()) {
                return Err(ConfigError::Invalid {
                    key: "zalo.oa_id",
                    detail: format!("Invalid OA ID {oa:?}: must be a numeric string"),
                });
            }
        }
        require("zalo.app_secret", &self.zalo.app_secret, "set it in the file or in ZFSYNC_ZALO_APP_SECRET (developers.zalo.me → your app → Settings)")?;
        require("zalo.oa_secret_key", &self.zalo.oa_secret_key, "set it in the file or in ZFSYNC_ZALO_OA_SECRET_KEY (your app's Webhook page, \"OA Secret Key\")")?;
        require(
            "freshchat.api_key",
            &self.freshchat.api_key,
            "set it in the file or in ZFSYNC_FRESHCHAT_API_KEY (Freshchat Admin → APIs for chat)",
        )?;
        let key = require(
            "freshchat.webhook_public_key",
            &self.freshchat.webhook_public_key,
            "set it in the file or in ZFSYNC_FRESHCHAT_WEBHOOK_PUBLIC_KEY (Freshchat Admin → Webhooks, the RSA public key)",
        )?;
        zfsync_freshchat::WebhookKey::parse(key.expose_secret()).map_err(|e| {
            ConfigError::Invalid {
                key: "freshchat.webhook_public_key",
                detail: format!("{e}; paste the whole key shown on Freshchat's Webhooks page"),
            }
        })?;
        if self.sync.max_concurrent_lanes == 0 {
            return Err(ConfigError::Invalid {
                key: "sync.max_concurrent_lanes",
                detail: "must be at least 1".into(),
            });
        }
        check_cron("sync.token_refresh_cron", &self.sync.token_refresh_cron)?;
        check_cron("sync.reconcile_cron", &self.sync.reconcile_cron)?;
        check_cron("sync.retention_cron", &self.sync.retention_cron)?;
        if self.sync.max_attempts == 0 {
            return Err(ConfigError::Invalid {
                key: "sync.max_attempts",
                detail: "must be at least 1".into(),
            });
        }
        Ok(())
    }

    /// The Zalo app secret (empty when unset; validation refuses that before any use).
    pub fn zalo_app_secret(&self) -> SecretString {
        self.zalo
            .app_secret
            .clone()
            .unwrap_or_else(|| SecretString::from(""))
    }
    /// The OA secret key (empty when unset; validation refuses that before any use).
    pub fn zalo_oa_secret_key(&self) -> SecretString {
        self.zalo
            .oa_secret_key
            .clone()
            .unwrap_or_else(|| SecretString::from(""))
    }
    /// The Freshchat API key (empty when unset; validation refuses that before any use).
    pub fn freshchat_api_key(&self) -> SecretString {
        self.freshchat
            .api_key
            .clone()
            .unwrap_or_else(|| SecretString::from(""))
    }
    /// The Freshchat webhook public key (empty when unset; validation refuses that before any use).
    pub fn freshchat_webhook_key(&self) -> SecretString {
        self.freshchat
            .webhook_public_key
            .clone()
            .unwrap_or_else(|| SecretString::from(""))
    }

    /// `public_url` joined with a path (`/webhooks/zalo`, `/oauth/zalo/callback`, ...).
    pub fn public_url(&self, path: &str) -> String {
        format!(
            "{}{}",
            self.server.public_url.as_str().trim_end_matches('/'),
            path
        )
    }

    /// The admin token, when one is configured (else zfsync keeps a generated one in the store).
    pub fn admin_token(&self) -> Option<SecretString> {
        self.server
            .admin_token
            .clone()
            .filter(|t| !t.expose_secret().trim().is_empty())
    }

    /// How long a file zfsync hosts for a Zalo customer stays downloadable.
    pub fn hosted_file_ttl(&self) -> Duration {
        Duration::from_secs(self.sync.hosted_file_ttl_hours * 3600)
    }
}

/// Turns toml's multi-line error (which quotes the offending source line, possibly a secret) into
/// one line: the message, its line number and the `[section]` it sits in.
pub fn condense_toml_error(detail: &str, text: &str) -> String {
    let mut lines = detail.lines();
    let first = lines.next().unwrap_or_default().trim();
    // Source excerpts look like "  |", "3 | key = value" or "  | ^^^".
    let is_excerpt = |l: &str| {
        let t = l.trim_start();
        let rest = t.trim_start_matches(|c: char| c.is_ascii_digit());
        rest.trim_start().starts_with('|')
    };
    let message: Vec<&str> = lines
        .filter(|l| !l.trim().is_empty() && !is_excerpt(l))
        .map(str::trim)
        .collect();
    let line_no = first
        .split("line ")
        .nth(1)
        .and_then(|s| s.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|n| n.parse::<usize>().ok());
    let Some(line_no) = line_no.filter(|_| !message.is_empty()) else {
        // Not the shape we know: keep the first line, which never quotes the source.
        return first.to_string();
    };
    let section = text
        .lines()
        .take(line_no)
        .filter_map(|l| {
            let t = l.trim();
            (t.starts_with('[') && t.ends_with(']')).then_some(t)
        })
        .last();
    let place = match section {
        Some(s) => format!("line {line_no}, in {s}"),
        None => format!("line {line_no}"),
    };
    format!("{} ({place})", message.join("; "))
}

fn require<'a>(
    key: &'static str,
    value: &'a Option<SecretString>,
    hint: &'static str,
) -> Result<&'a SecretString, ConfigError> {
    match value {
        Some(v) if !v.expose_secret().trim().is_empty() => Ok(v),
        _ => Err(ConfigError::Missing { key, hint }),
    }
}

/// A cron expression the scheduler can run (six fields, seconds first) and that fires at some
/// time from now on, or "off".
fn check_cron(key: &'static str, expr: &str) -> Result<(), ConfigError> {
    if expr.trim() == "off" {
        return Ok(());
    }
    let parsed = tokio_cron_scheduler::Job::new_async(expr, |_, _| {
        Box::pin(async {}) as std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>
    });
    let mut job = parsed.map_err(|_| ConfigError::Invalid {
        key,
        detail: format!(
            "{expr:?} is not a cron expression zfsync reads: six fields, seconds first (e.g. \"0 */5 * * * *\" for every 5 minutes), or \"off\""
        ),
    })?;
    // The scheduler silently drops a job without a next time ("0 0 0 31 2 *", a year gone by):
    // refuse it here, where the operator reads why, instead of never running the task.
    let next = job.job_data().map(|d| d.next_tick).unwrap_or(0);
    if next == 0 {
        return Err(ConfigError::Invalid {
            key,
            detail: format!(
                "{expr:?} never fires (no such date from now on, e.g. 31 February); write a schedule that does, or \"off\" where that is allowed"
            ),
        });
    }
    Ok(())
}

/// Whether a URL names this machine (localhost or a loopback address).
pub fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d == "localhost" || d.ends_with(".localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

fn check_base_url(key: &'static str, url: &Url) -> Result<(), ConfigError> {
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(ConfigError::Invalid {
            key,
            detail: format!("{url} must be an http:// or https:// URL with a host"),
        });
    }
    Ok(())
}

mod pairing;
mod secrets_file;
mod sync;

pub use sync::SyncConfig;
use sync::{LANE_SWEEP_SECS, MAX_LANE_LEASE_SECS, MIN_LANE_LEASE_SECS};

pub use pairing::{
    check_new_pairing, check_pairing_name, PairingSecrets, PairingSettings, DEFAULT_PAIRING,
};
pub use secrets_file::{read_secrets_file, MAX_SECRETS_FILE_BYTES};

#[cfg(test)]
mod tests;
