//! Configuration: one TOML file (every key documented in `config.example.toml`), secrets also from
//! the environment. Loaded and validated once at start-up; an unknown key, a missing required key, a
//! bad URL or a bad public key stops start-up with an error naming the key and the fix.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use url::Url;

pub const ENV_ZALO_APP_SECRET: &str = "ZFSYNC_ZALO_APP_SECRET";
pub const ENV_ZALO_OA_SECRET_KEY: &str = "ZFSYNC_ZALO_OA_SECRET_KEY";
pub const ENV_FRESHCHAT_API_KEY: &str = "ZFSYNC_FRESHCHAT_API_KEY";
pub const ENV_FRESHCHAT_WEBHOOK_PUBLIC_KEY: &str = "ZFSYNC_FRESHCHAT_WEBHOOK_PUBLIC_KEY";

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read the config file {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the config file {path} is not valid: {detail}")]
    Parse { path: PathBuf, detail: String },
    #[error("config key `{key}` is missing: {hint}")]
    Missing {
        key: &'static str,
        hint: &'static str,
    },
    #[error("config key `{key}` is not valid: {detail}")]
    Invalid { key: &'static str, detail: String },
}

/// The whole configuration, as validated.
#[derive(Debug, Clone)]
pub struct Config {
    pub server: ServerConfig,
    pub store: StoreConfig,
    pub zalo: ZaloConfig,
    pub freshchat: FreshchatConfig,
    pub mapping: MappingConfig,
    pub sync: SyncConfig,
}

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
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreConfig {
    /// SQLite file (created if missing).
    #[serde(default = "default_store_path")]
    pub path: PathBuf,
}

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
    #[serde(default = "default_zalo_api")]
    pub api_base: Url,
    #[serde(default = "default_zalo_oauth")]
    pub oauth_base: Url,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FreshchatConfig {
    /// Scheme + host of the Freshchat API, e.g. https://yourcompany.freshchat.com.
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
    #[serde(default)]
    pub channel_name: Option<String>,
    /// RSA public key from the Webhooks page (or ZFSYNC_FRESHCHAT_WEBHOOK_PUBLIC_KEY).
    #[serde(default)]
    pub webhook_public_key: Option<SecretString>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MappingConfig {
    /// A customer copy of mappings/default.toml; the built-in rules when absent.
    #[serde(default)]
    pub rules: Option<PathBuf>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyncConfig {
    /// How many conversations (lanes) are processed at once.
    #[serde(default = "default_lanes")]
    pub max_concurrent_lanes: usize,
    /// Attempts before a transiently failing event is marked failed.
    #[serde(default = "default_attempts")]
    pub max_attempts: u32,
    /// First retry delay in milliseconds (doubles per attempt, with jitter).
    #[serde(default = "default_backoff_ms")]
    pub retry_base_ms: u64,
    /// Longest retry delay in milliseconds.
    #[serde(default = "default_backoff_max_ms")]
    pub retry_max_ms: u64,
    /// Refresh the Zalo access token when it has less than this many seconds left.
    #[serde(default = "default_refresh_ahead")]
    pub token_refresh_ahead_secs: u64,
    /// How long hosted long replies stay downloadable, in hours.
    #[serde(default = "default_hosted_ttl")]
    pub hosted_file_ttl_hours: u64,
    /// How long finished events are kept in the store, in days.
    #[serde(default = "default_retention")]
    pub retention_days: u64,
    /// When to check whether the Zalo token is due for a refresh (cron: six fields, seconds first,
    /// UTC).
    #[serde(default = "default_refresh_cron")]
    pub token_refresh_cron: String,
    /// When to read both platforms' recent history for messages whose webhooks never came (cron;
    /// "off" switches it off; start-up always does it once).
    #[serde(default = "default_reconcile_cron")]
    pub reconcile_cron: String,
    /// When to prune finished events and expired files (cron).
    #[serde(default = "default_retention_cron")]
    pub retention_cron: String,
}

impl Default for SyncConfig {
    fn default() -> Self {
        SyncConfig {
            max_concurrent_lanes: default_lanes(),
            max_attempts: default_attempts(),
            retry_base_ms: default_backoff_ms(),
            retry_max_ms: default_backoff_max_ms(),
            token_refresh_ahead_secs: default_refresh_ahead(),
            hosted_file_ttl_hours: default_hosted_ttl(),
            retention_days: default_retention(),
            token_refresh_cron: default_refresh_cron(),
            reconcile_cron: default_reconcile_cron(),
            retention_cron: default_retention_cron(),
        }
    }
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
fn default_lanes() -> usize {
    32
}
fn default_attempts() -> u32 {
    12
}
fn default_backoff_ms() -> u64 {
    1000
}
fn default_backoff_max_ms() -> u64 {
    300_000
}
fn default_refresh_ahead() -> u64 {
    3600
}
fn default_hosted_ttl() -> u64 {
    24 * 30
}
fn default_retention() -> u64 {
    30
}
fn default_refresh_cron() -> String {
    "0 * * * * *".into()
}
fn default_reconcile_cron() -> String {
    "0 */5 * * * *".into()
}
fn default_retention_cron() -> String {
    "0 0 * * * *".into()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    server: ServerConfig,
    #[serde(default)]
    store: Option<StoreConfig>,
    zalo: ZaloConfig,
    freshchat: FreshchatConfig,
    #[serde(default)]
    mapping: MappingConfig,
    #[serde(default)]
    sync: SyncConfig,
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
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let mut config = Config::from_toml(&text).map_err(|e| match e {
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
        Ok(config)
    }

    /// Parses TOML text (environment overrides applied) and validates it.
    pub fn from_toml(text: &str) -> Result<Config, ConfigError> {
        // toml quotes the offending source line, which may hold a secret: keep only the message,
        // the line number and the section.
        let raw: RawConfig = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: PathBuf::from("<config>"),
            detail: condense_toml_error(&e.to_string(), text),
        })?;
        let mut config = Config {
            server: raw.server,
            store: raw.store.unwrap_or(StoreConfig {
                path: default_store_path(),
            }),
            zalo: raw.zalo,
            freshchat: raw.freshchat,
            mapping: raw.mapping,
            sync: raw.sync,
        };
        if let Some(v) = env_secret(ENV_ZALO_APP_SECRET) {
            config.zalo.app_secret = Some(v);
        }
        if let Some(v) = env_secret(ENV_ZALO_OA_SECRET_KEY) {
            config.zalo.oa_secret_key = Some(v);
        }
        if let Some(v) = env_secret(ENV_FRESHCHAT_API_KEY) {
            config.freshchat.api_key = Some(v);
        }
        if let Some(v) = env_secret(ENV_FRESHCHAT_WEBHOOK_PUBLIC_KEY) {
            config.freshchat.webhook_public_key = Some(v);
        }
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        check_base_url("server.public_url", &self.server.public_url)?;
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

    pub fn zalo_app_secret(&self) -> SecretString {
        self.zalo
            .app_secret
            .clone()
            .unwrap_or_else(|| SecretString::from(""))
    }
    pub fn zalo_oa_secret_key(&self) -> SecretString {
        self.zalo
            .oa_secret_key
            .clone()
            .unwrap_or_else(|| SecretString::from(""))
    }
    pub fn freshchat_api_key(&self) -> SecretString {
        self.freshchat
            .api_key
            .clone()
            .unwrap_or_else(|| SecretString::from(""))
    }
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

/// A cron expression the scheduler can run (six fields, seconds first), or "off".
fn check_cron(key: &'static str, expr: &str) -> Result<(), ConfigError> {
    if expr.trim() == "off" {
        return Ok(());
    }
    let parsed = tokio_cron_scheduler::Job::new_async(expr, |_, _| {
        Box::pin(async {}) as std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>
    });
    parsed.map(|_| ()).map_err(|_| ConfigError::Invalid {
        key,
        detail: format!(
            "{expr:?} is not a cron expression zfsync reads: six fields, seconds first (e.g. \"0 */5 * * * *\" for every 5 minutes), or \"off\""
        ),
    })
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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// A syntactically valid RSA-2048 SPKI public key (the Freshchat reference's test key).
    const KEY: &str = "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAuGJLF4hTTtxWogT6dNkGf3CEgLAR2mGJzlds5cNbrHFoJNFnmVhkRYGzLYxx4EtDiezNCZVHfyMI2AKuNSQW2fEdDatVIG+q3Zr/X9eeDl8kQOGy804J/fgCYDrN8RQu0n5Dh1inv4puca0wb29SCvoAwrWb33ehDBIvv6+rUKBdjtv2xTV65kNiVDo5VRCaYRVeE10osxeONgw55HVY4nczuxnR+dmc2282de6WHe5LXtr0ZBdJ8yttFOLIluZ/sNM5DIWZBkIWQhyT581tbA7bTpsIbrT/IMBlmioIILw8WGtI7zcmNkjU5dnq5HnlVKEDhj/Ug/dLiyno8+Vp7QIDAQAB";

    fn base() -> String {
        format!(
            r#"
[server]
public_url = "https://zfsync.example.com"
[zalo]
app_id = "1234567890123456789"
app_secret = "app-secret-value"
oa_secret_key = "oa-secret-value"
[freshchat]
api_base = "https://acme.freshchat.com"
api_key = "fc-api-key-value"
webhook_public_key = "-----BEGIN RSA PUBLIC KEY----- {KEY} -----END RSA PUBLIC KEY-----"
"#
        )
    }

    fn err(text: &str) -> String {
        Config::from_toml(text).unwrap_err().to_string()
    }

    #[test]
    fn minimal_config_gets_defaults() {
        let c = Config::from_toml(&base()).unwrap();
        assert_eq!(c.server.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(c.zalo.api_base.as_str(), "https://openapi.zalo.me/");
        assert_eq!(c.sync.max_concurrent_lanes, 32);
        assert_eq!(
            c.public_url("/webhooks/zalo"),
            "https://zfsync.example.com/webhooks/zalo"
        );
    }

    #[test]
    fn errors_name_the_key() {
        assert!(err(&base().replace("[zalo]\n", "[zalo]\nap_id = \"1\"\n")).contains("ap_id"));
        assert!(err(&base().replace("api_key = \"fc-api-key-value\"\n", ""))
            .contains("freshchat.api_key"));
        assert!(
            err(&base().replace("https://acme.freshchat.com", "ftp://acme"))
                .contains("freshchat.api_base")
        );
        assert!(err(&base().replace(KEY, "bm90IGEga2V5")).contains("freshchat.webhook_public_key"));
        let oa = err(&base().replace("[zalo]\n", "[zalo]\noa_id = \"My Shop\"\n"));
        assert!(
            oa.contains("Invalid OA ID") && oa.contains("numeric string"),
            "{oa}"
        );
    }

    #[test]
    fn schedules_are_cron_expressions() {
        let c = Config::from_toml(&base()).unwrap();
        assert_eq!(c.sync.reconcile_cron, "0 */5 * * * *");
        let ok = format!("{}\n[sync]\nreconcile_cron = \"off\"\n", base());
        assert!(Config::from_toml(&ok).is_ok());
        let bad = format!("{}\n[sync]\nretention_cron = \"every hour\"\n", base());
        let e = err(&bad);
        assert!(
            e.contains("sync.retention_cron") && e.contains("six fields"),
            "{e}"
        );
        // Five fields (no seconds) is the classic mistake.
        let five = format!("{}\n[sync]\nreconcile_cron = \"*/5 * * * *\"\n", base());
        assert!(err(&five).contains("sync.reconcile_cron"));
    }

    #[test]
    fn parse_errors_do_not_quote_secrets() {
        let broken = base().replace(
            "app_secret = \"app-secret-value\"",
            "app_secret = \"app-secret-value",
        );
        let e = err(&broken);
        assert!(!e.contains("app-secret-value"), "{e}");
        assert!(e.contains("line"), "{e}");
    }

    #[test]
    fn debug_never_shows_secrets() {
        let c = Config::from_toml(&base()).unwrap();
        let shown = format!("{c:?}");
        for secret in ["app-secret-value", "oa-secret-value", "fc-api-key-value"] {
            assert!(!shown.contains(secret), "{secret} in Debug");
        }
    }
}
