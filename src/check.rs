//! `zfsync check`: validates the configuration and probes every dependency, then prints one line
//! per check (OK, WARN or FAIL, with the fix in plain words) or, with `--json`, one JSON document.
//!
//! The checks run in a fixed order: config, public URL, store, mapping rules, Freshchat (API key and
//! host, channel, webhook key, App ID), Zalo (tokens, OA info, OA id). Each check stands on its own:
//! a failure is reported and the next checks still run where they can. A check that cannot run
//! because an earlier one failed is reported as FAIL "not checked", so the list of names is the
//! same on every run (scripts can rely on it). Only a config that does not load stops everything.
//!
//! Failure modes: nothing here returns an error for a failed probe; the exit code is 1 when any
//! check fails (warnings do not count). Secrets are never printed: API errors carry no keys, and
//! config parse errors are reduced to their message and line number, without the quoted source
//! line (which could hold a secret).
//!
//! Side effects: the store check writes one row (`meta.last_check_at`); the Zalo probe goes through
//! the token manager, so an expired access token is refreshed (and the new pair stored) exactly as
//! the daemon would do.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use secrecy::ExposeSecret;
use serde::Serialize;
use url::{Host, Url};
use zfsync_freshchat::{
    AccountConfiguration, Channel, FreshchatClient, FreshchatError, WebhookKey,
};
use zfsync_zalo::{ErrorClass, OaInfo, ZaloClient};

use crate::app::{AppError, Services};
use crate::config::{Config, ConfigError, ENV_FRESHCHAT_API_KEY};
use crate::error::SyncError;
use crate::store::{now_ms, Store, StoreError};
use crate::tokens::TokenManager;

/// Check names, in the order they run (also the `name` field of `--json`).
pub const CHECK_CONFIG: &str = "config";
pub const CHECK_PUBLIC_URL: &str = "public_url";
pub const CHECK_STORE: &str = "store";
pub const CHECK_MAPPING_RULES: &str = "mapping_rules";
pub const CHECK_FRESHCHAT_API: &str = "freshchat_api";
pub const CHECK_FRESHCHAT_CHANNEL: &str = "freshchat_channel";
pub const CHECK_FRESHCHAT_WEBHOOK_KEY: &str = "freshchat_webhook_key";
pub const CHECK_FRESHCHAT_APP_ID: &str = "freshchat_app_id";
pub const CHECK_ZALO_TOKENS: &str = "zalo_tokens";
pub const CHECK_ZALO_OA: &str = "zalo_oa";
pub const CHECK_ZALO_OA_ID: &str = "zalo_oa_id";

/// The `meta` row the store check writes (proof that a write commits).
const META_LAST_CHECK: &str = "last_check_at";

/// Where Freshchat shows the API key, for fixes.
const FRESHCHAT_KEY_FIX: &str =
    "generate a new one in Freshchat Admin → APIs for chat and set freshchat.api_key";
/// The shape of a correct Freshchat API base, for fixes.
const FRESHCHAT_HOST_FIX: &str =
    "use https://<account>.freshchat.com (the chat API URL shown in Freshchat Admin → APIs for chat)";

/// How one check ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Ok,
    /// Works, but probably not as intended; does not fail the run.
    Warn,
    Fail,
}

impl Level {
    fn tag(self) -> &'static str {
        match self {
            Level::Ok => "OK",
            Level::Warn => "WARN",
            Level::Fail => "FAIL",
        }
    }
}

/// One line of the report.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub name: &'static str,
    /// False only for [`Level::Fail`].
    pub ok: bool,
    pub level: Level,
    /// What was found.
    pub detail: String,
    /// What to do about it (always present on WARN and FAIL).
    pub fix: Option<String>,
}

impl Check {
    fn ok(name: &'static str, detail: impl Into<String>) -> Check {
        Check {
            name,
            ok: true,
            level: Level::Ok,
            detail: detail.into(),
            fix: None,
        }
    }

    fn warn(name: &'static str, detail: impl Into<String>, fix: impl Into<String>) -> Check {
        Check {
            name,
            ok: true,
            level: Level::Warn,
            detail: detail.into(),
            fix: Some(fix.into()),
        }
    }

    fn fail(name: &'static str, detail: impl Into<String>, fix: impl Into<String>) -> Check {
        Check {
            name,
            ok: false,
            level: Level::Fail,
            detail: detail.into(),
            fix: Some(fix.into()),
        }
    }

    /// A check that could not run because `after` failed.
    fn not_checked(name: &'static str, after: &str, fix: impl Into<String>) -> Check {
        Check::fail(
            name,
            format!("not checked: needs {after} to pass first"),
            fix,
        )
    }

    /// The human-readable line: tag, name, what was found, and the fix.
    pub fn line(&self) -> String {
        let fix = self
            .fix
            .as_deref()
            .map(|f| format!(" — {f}"))
            .unwrap_or_default();
        format!(
            "{:<4}  {:<22} {}{}",
            self.level.tag(),
            self.name,
            self.detail,
            fix
        )
    }
}

/// The whole result, as `--json` prints it.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub ok: bool,
    pub checks: Vec<Check>,
}

impl Report {
    pub fn get(&self, name: &str) -> Option<&Check> {
        self.checks.iter().find(|c| c.name == name)
    }
}

/// Collects checks, printing each line as it is decided (so a slow probe shows progress).
struct Collector {
    print: bool,
    checks: Vec<Check>,
}

impl Collector {
    fn push(&mut self, check: Check) {
        if self.print {
            println!("{}", check.line());
        }
        self.checks.push(check);
    }

    fn finish(self) -> Report {
        Report {
            ok: self.checks.iter().all(|c| c.ok),
            checks: self.checks,
        }
    }
}

/// Runs the checks and prints one line per check (or the JSON report). Exit code 0 only when every
/// check passes.
pub async fn run(config_path: &Path, json: bool) -> anyhow::Result<ExitCode> {
    let report = run_checks(config_path, !json).await;
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        let failed = report.checks.iter().filter(|c| !c.ok).count();
        if failed == 0 {
            println!("All {} checks passed.", report.checks.len());
        } else {
            println!(
                "{failed} of {} checks failed; fix them and run 'zfsync check --config {}' again.",
                report.checks.len(),
                config_path.display()
            );
        }
    }
    Ok(if report.ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Runs every check and returns the report; `print` prints each line as it is decided.
pub async fn run_checks(config_path: &Path, print: bool) -> Report {
    let mut out = Collector {
        print,
        checks: Vec::new(),
    };
    let connect_fix = format!(
        "run 'zfsync connect zalo --config {}'",
        config_path.display()
    );

    // ---------------------------------------------------------------- config
    let config = match Config::load(config_path) {
        Ok(c) => c,
        Err(e) => {
            out.push(config_failure(config_path, &e));
            return out.finish();
        }
    };
    out.push(Check::ok(
        CHECK_CONFIG,
        format!("{} loaded and valid", config_path.display()),
    ));
    out.push(public_url_check(&config));

    // ---------------------------------------------------------------- store, rules
    let parts = Parts::build(&config).await;
    let store_path = config.store.path.display().to_string();
    match &parts.store {
        Ok(store) => out.push(probe_store(store, &store_path).await),
        Err(e) => out.push(Check::fail(
            CHECK_STORE,
            e.to_string(),
            store_fix(e, &config),
        )),
    }
    out.push(match crate::app::load_rules(&config) {
        Ok(_) => Check::ok(
            CHECK_MAPPING_RULES,
            match &config.mapping.rules {
                Some(p) => format!("{} loaded", p.display()),
                None => "built-in rules (mappings/default.toml)".to_string(),
            },
        ),
        Err(e) => Check::fail(
            CHECK_MAPPING_RULES,
            e.to_string(),
            "correct the file (start from a copy of mappings/default.toml), or remove mapping.rules to use the built-in rules",
        ),
    });

    // ---------------------------------------------------------------- Freshchat
    let freshchat = &parts.freshchat;
    let account = match freshchat {
        Ok(client) => match client.account_configuration().await {
            Ok(account) => {
                out.push(Check::ok(
                    CHECK_FRESHCHAT_API,
                    format!(
                        "API key accepted by {}{}",
                        config.freshchat.api_base.as_str().trim_end_matches('/'),
                        account
                            .account_domain
                            .as_deref()
                            .map(|d| format!(" (account {d})"))
                            .unwrap_or_default()
                    ),
                ));
                Some(account)
            }
            Err(e) => {
                out.push(freshchat_failure(CHECK_FRESHCHAT_API, &e, &config));
                None
            }
        },
        Err(e) => {
            out.push(Check::fail(
                CHECK_FRESHCHAT_API,
                format!("cannot set up the Freshchat client: {e}"),
                format!(
                    "copy the API key again from Freshchat Admin → APIs for chat into freshchat.api_key (or {ENV_FRESHCHAT_API_KEY}), without quotes or line breaks"
                ),
            ));
            None
        }
    };
    match (freshchat, &account) {
        (Ok(client), Some(_)) => out.push(channel_check(client, &config).await),
        _ => out.push(Check::not_checked(
            CHECK_FRESHCHAT_CHANNEL,
            CHECK_FRESHCHAT_API,
            "fix freshchat_api above",
        )),
    }
    out.push(webhook_key_check(&config));
    out.push(match &account {
        Some(account) => app_id_check(&config, account),
        None => Check::not_checked(
            CHECK_FRESHCHAT_APP_ID,
            CHECK_FRESHCHAT_API,
            "fix freshchat_api above",
        ),
    });

    // ---------------------------------------------------------------- Zalo
    let (zalo, tokens) = match parts.zalo {
        Ok(z) => z,
        Err((why, fix)) => {
            out.push(Check::fail(
                CHECK_ZALO_TOKENS,
                format!("not checked: {why}"),
                fix.clone(),
            ));
            out.push(Check::not_checked(
                CHECK_ZALO_OA,
                CHECK_ZALO_TOKENS,
                fix.clone(),
            ));
            out.push(Check::not_checked(CHECK_ZALO_OA_ID, CHECK_ZALO_OA, fix));
            return out.finish();
        }
    };
    let before = tokens.status();
    let tokens_ok = if !before.connected {
        out.push(Check::fail(
            CHECK_ZALO_TOKENS,
            "Zalo is not connected: the store holds no tokens",
            connect_fix.clone(),
        ));
        false
    } else if let Some(reason) = &before.needs_reauth {
        out.push(Check::fail(
            CHECK_ZALO_TOKENS,
            format!("Zalo needs re-authorization: it refused the refresh token ({reason})"),
            format!("{connect_fix} (an admin of the OA must allow zfsync again)"),
        ));
        false
    } else {
        let detail = match before.seconds_to_expiry {
            Some(s) if s > 0 => format!("access token valid for {}", human_duration(s)),
            Some(s) => format!(
                "access token expired {} ago; it is refreshed on first use",
                human_duration(-s)
            ),
            None => "tokens present".to_string(),
        };
        out.push(Check::ok(CHECK_ZALO_TOKENS, detail));
        true
    };
    if !tokens_ok {
        out.push(Check::not_checked(
            CHECK_ZALO_OA,
            CHECK_ZALO_TOKENS,
            connect_fix.clone(),
        ));
        out.push(Check::not_checked(
            CHECK_ZALO_OA_ID,
            CHECK_ZALO_OA,
            connect_fix,
        ));
        return out.finish();
    }
    let info = tokens
        .call(|token| {
            let zalo = zalo.clone();
            async move { zalo.oa_info(&token).await }
        })
        .await;
    match info {
        Ok(info) => {
            let after = tokens.status();
            let refreshed = match (after.access_expires_at, after.seconds_to_expiry) {
                (Some(at), Some(left)) if Some(at) != before.access_expires_at => format!(
                    "; the access token was refreshed and is valid for {}",
                    human_duration(left)
                ),
                _ => String::new(),
            };
            out.push(Check::ok(
                CHECK_ZALO_OA,
                format!(
                    "token accepted; OA \"{}\" (id {}){refreshed}",
                    info.name, info.oa_id
                ),
            ));
            out.push(oa_id_check(&config, &info, &connect_fix));
        }
        Err(e) => {
            out.push(zalo_failure(&e, &config, &connect_fix));
            out.push(Check::not_checked(
                CHECK_ZALO_OA_ID,
                CHECK_ZALO_OA,
                "fix zalo_oa above",
            ));
        }
    }
    out.finish()
}

// ---------------------------------------------------------------- wiring

/// The store, clients and tokens, each on its own: one part failing to build must not hide the
/// checks of the others.
struct Parts {
    store: Result<Store, AppError>,
    freshchat: Result<FreshchatClient, FreshchatError>,
    /// The Zalo client and tokens, or why they are unavailable and what to do.
    zalo: Result<(ZaloClient, Arc<TokenManager>), (String, String)>,
}

impl Parts {
    async fn build(config: &Config) -> Parts {
        // The rules have their own check; without them here, a bad rules file hides nothing.
        let mut without_rules = config.clone();
        without_rules.mapping.rules = None;
        if let Ok(s) = Services::new(&without_rules).await {
            return Parts {
                store: Ok(s.store),
                freshchat: Ok(s.freshchat),
                zalo: Ok((s.zalo.client().clone(), s.zalo.tokens().clone())),
            };
        }
        // Something did not build: build each part alone to find out which.
        let store = Store::open(&config.store.path).map_err(AppError::Store);
        let freshchat = FreshchatClient::new(zfsync_freshchat::ClientConfig::new(
            config.freshchat.api_base.clone(),
            config.freshchat_api_key(),
        ));
        let mut zc =
            zfsync_zalo::ClientConfig::new(config.zalo.app_id.clone(), config.zalo_app_secret());
        zc.api_base = config.zalo.api_base.clone();
        zc.oauth_base = config.zalo.oauth_base.clone();
        let zalo = match (&store, ZaloClient::new(zc)) {
            (Err(e), _) => Err((
                format!("the Zalo tokens live in the store, which is not usable: {e}"),
                "fix the store check above".to_string(),
            )),
            (Ok(_), Err(e)) => Err((
                format!("cannot set up the Zalo client: {e}"),
                "check zalo.app_id, zalo.app_secret, zalo.api_base and zalo.oauth_base".to_string(),
            )),
            (Ok(store), Ok(client)) => {
                let ahead = Duration::from_secs(config.sync.token_refresh_ahead_secs);
                match TokenManager::new(store.clone(), client.clone(), ahead).await {
                    Ok(tokens) => Ok((client, Arc::new(tokens))),
                    Err(e) => Err((
                        format!("cannot read the Zalo tokens from the store: {e}"),
                        "fix the store check above".to_string(),
                    )),
                }
            }
        };
        Parts {
            store,
            freshchat,
            zalo,
        }
    }
}

// ---------------------------------------------------------------- config

fn config_failure(path: &Path, e: &ConfigError) -> Check {
    match e {
        ConfigError::Read { .. } => Check::fail(
            CHECK_CONFIG,
            e.to_string(),
            "check the path given to --config and that this user may read it (config.example.toml is a documented starting point)",
        ),
        ConfigError::Parse { detail, .. } => {
            let text = std::fs::read_to_string(path).unwrap_or_default();
            Check::fail(
                CHECK_CONFIG,
                format!(
                    "the config file {} is not valid: {}",
                    path.display(),
                    crate::config::condense_toml_error(detail, &text)
                ),
                "correct that line; config.example.toml documents every key and section",
            )
        }
        ConfigError::Missing { key, hint } => Check::fail(
            CHECK_CONFIG,
            format!("config key `{key}` is missing"),
            *hint,
        ),
        ConfigError::Invalid { key, .. } => Check::fail(
            CHECK_CONFIG,
            e.to_string(),
            format!("correct `{key}` (config.example.toml documents it)"),
        ),
    }
}

fn public_url_check(config: &Config) -> Check {
    let url = &config.server.public_url;
    let zalo = config.public_url(crate::server::ROUTE_ZALO_WEBHOOK);
    let freshchat = config.public_url(crate::server::ROUTE_FRESHCHAT_WEBHOOK);
    if url.scheme() != "https" && !is_loopback(url) {
        return Check::warn(
            CHECK_PUBLIC_URL,
            format!("server.public_url {url} is not https"),
            "Zalo and Freshchat deliver webhooks to https URLs: put zfsync behind a TLS proxy and set server.public_url to its https address",
        );
    }
    Check::ok(
        CHECK_PUBLIC_URL,
        format!("webhook URLs: {zalo} (Zalo app → Webhook page), {freshchat} (Freshchat Admin → Webhooks)"),
    )
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

// ---------------------------------------------------------------- store

fn store_fix(e: &AppError, config: &Config) -> String {
    let store = match e {
        AppError::Store(s) | AppError::Sync(SyncError::Store(s)) => Some(s),
        _ => None,
    };
    let dir = config
        .store
        .path
        .parent()
        .map(|d| d.display().to_string())
        .filter(|d| !d.is_empty())
        .unwrap_or_else(|| ".".into());
    match store {
        Some(StoreError::TooNew { .. }) => {
            "install the zfsync version that wrote this store (or a newer one)".into()
        }
        Some(StoreError::Migration { .. }) => format!(
            "{} is not a zfsync store or is damaged: restore it from a backup, or point store.path at a new file and run 'zfsync connect zalo' again",
            config.store.path.display()
        ),
        _ => format!(
            "make sure {dir} exists and the zfsync user may write it (SQLite also creates -wal and -shm files beside {}), and that the disk is not full",
            config.store.path.display()
        ),
    }
}

async fn probe_store(store: &Store, shown: &str) -> Check {
    match store
        .set_meta(META_LAST_CHECK, now_ms().to_string())
        .await
    {
        Ok(()) => Check::ok(
            CHECK_STORE,
            format!("{shown} opened, migrated and writable"),
        ),
        Err(e) => Check::fail(
            CHECK_STORE,
            format!("{shown} opened but a write failed: {e}"),
            format!("make sure the zfsync user may write {shown} and its directory (SQLite also writes -wal and -shm files there), and that the disk is not full"),
        ),
    }
}

// ---------------------------------------------------------------- Freshchat

fn freshchat_failure(name: &'static str, e: &FreshchatError, config: &Config) -> Check {
    let base = config.freshchat.api_base.as_str().trim_end_matches('/');
    match e {
        FreshchatError::Unauthorized { status, .. } => {
            let from_env = std::env::var(ENV_FRESHCHAT_API_KEY)
                .map(|v| !v.trim().is_empty())
                .unwrap_or(false);
            let fix = if from_env {
                format!("{FRESHCHAT_KEY_FIX} (the key in use comes from {ENV_FRESHCHAT_API_KEY}, which overrides the file)")
            } else {
                format!("{FRESHCHAT_KEY_FIX} (or {ENV_FRESHCHAT_API_KEY})")
            };
            Check::fail(
                name,
                format!("Access denied: the API key was refused (HTTP {status})"),
                fix,
            )
        }
        FreshchatError::WrongHost { detail } => {
            let seen = if detail.contains("HTML") {
                "it answered HTML".to_string()
            } else if detail.contains("redirect") {
                format!("it answered with a redirect: {detail}")
            } else {
                "it answered something that is not JSON".to_string()
            };
            Check::fail(
                name,
                format!("freshchat.api_base ({base}) does not point at the Freshchat API ({seen})"),
                FRESHCHAT_HOST_FIX,
            )
        }
        FreshchatError::NotFound { .. } | FreshchatError::Decode { .. } => Check::fail(
            name,
            format!("freshchat.api_base ({base}) does not look like the Freshchat API: {e}"),
            FRESHCHAT_HOST_FIX,
        ),
        FreshchatError::Transport { detail, timeout } => Check::fail(
            name,
            format!(
                "cannot reach Freshchat at {base}{}: {detail}",
                if *timeout { " (timed out)" } else { "" }
            ),
            "check freshchat.api_base, DNS, and any firewall or proxy between this machine and Freshchat",
        ),
        FreshchatError::RateLimited { .. } => Check::fail(
            name,
            e.to_string(),
            "another client is using up the account's API limit; wait a minute and run check again",
        ),
        FreshchatError::Server { .. } => Check::fail(
            name,
            e.to_string(),
            "Freshchat is having trouble; run check again in a few minutes",
        ),
        _ => Check::fail(
            name,
            e.to_string(),
            "check freshchat.api_base and freshchat.api_key",
        ),
    }
}

async fn channel_check(client: &FreshchatClient, config: &Config) -> Check {
    let channels = match client.list_channels().await {
        Ok(c) => c,
        Err(e) => return freshchat_failure(CHECK_FRESHCHAT_CHANNEL, &e, config),
    };
    let shown = |c: &Channel| format!("\"{}\" ({})", c.name.as_deref().unwrap_or("unnamed"), c.id);
    let choices = || {
        let all: Vec<String> = channels.iter().map(shown).collect();
        if all.is_empty() {
            "the account has no channels".to_string()
        } else {
            format!("the account has {}", all.join(", "))
        }
    };
    let disabled = |c: &Channel| c.enabled == Some(false);
    if let Some(id) = &config.freshchat.channel_id {
        return match channels.iter().find(|c| &c.id == id) {
            Some(c) if disabled(c) => Check::warn(
                CHECK_FRESHCHAT_CHANNEL,
                format!("freshchat.channel_id {} is disabled", shown(c)),
                "enable it in Freshchat Admin → Channels (Topics), or choose another channel",
            ),
            Some(c) => Check::ok(
                CHECK_FRESHCHAT_CHANNEL,
                format!("new conversations go to {}", shown(c)),
            ),
            None => Check::fail(
                CHECK_FRESHCHAT_CHANNEL,
                format!("freshchat.channel_id {id} is not a channel of this account"),
                format!(
                    "set freshchat.channel_id to one of the account's channels ({}), or remove it to pick the channel by name",
                    choices()
                ),
            ),
        };
    }
    if let Some(name) = &config.freshchat.channel_name {
        // The daemon matches names exactly; say so when only the case differs.
        return match channels.iter().find(|c| c.name.as_deref() == Some(name)) {
            Some(c) if disabled(c) => Check::warn(
                CHECK_FRESHCHAT_CHANNEL,
                format!("freshchat.channel_name {} is disabled", shown(c)),
                "enable it in Freshchat Admin → Channels (Topics), or choose another channel",
            ),
            Some(c) => Check::ok(
                CHECK_FRESHCHAT_CHANNEL,
                format!("new conversations go to {}", shown(c)),
            ),
            None => {
                let near = channels.iter().find(|c| {
                    c.name
                        .as_deref()
                        .is_some_and(|n| n.trim().eq_ignore_ascii_case(name.trim()))
                });
                let fix = match near {
                    Some(c) => format!(
                        "names are matched exactly: set freshchat.channel_name = \"{}\"",
                        c.name.as_deref().unwrap_or_default()
                    ),
                    None => format!(
                        "set freshchat.channel_name to an existing channel name ({}), or set freshchat.channel_id",
                        choices()
                    ),
                };
                Check::fail(
                    CHECK_FRESHCHAT_CHANNEL,
                    format!("Freshchat has no channel named \"{name}\""),
                    fix,
                )
            }
        };
    }
    match channels.iter().find(|c| c.enabled.unwrap_or(true)) {
        Some(c) => Check::ok(
            CHECK_FRESHCHAT_CHANNEL,
            format!(
                "no channel configured: new conversations go to the first enabled channel, {}",
                shown(c)
            ),
        ),
        None => Check::fail(
            CHECK_FRESHCHAT_CHANNEL,
            "Freshchat has no enabled channel for new conversations",
            format!(
                "enable a channel in Freshchat Admin → Channels (Topics) or set freshchat.channel_id ({})",
                choices()
            ),
        ),
    }
}

fn webhook_key_check(config: &Config) -> Check {
    let webhooks_url = config.public_url(crate::server::ROUTE_FRESHCHAT_WEBHOOK);
    match WebhookKey::parse(config.freshchat_webhook_key().expose_secret()) {
        Ok(key) => Check::ok(
            CHECK_FRESHCHAT_WEBHOOK_KEY,
            format!(
                "RSA public key parsed (fingerprint {}); Freshchat must send webhooks to {webhooks_url}",
                key.fingerprint()
            ),
        ),
        Err(e) => Check::fail(
            CHECK_FRESHCHAT_WEBHOOK_KEY,
            e.to_string(),
            "paste the whole RSA public key from Freshchat Admin → Webhooks into freshchat.webhook_public_key",
        ),
    }
}

fn app_id_check(config: &Config, account: &AccountConfiguration) -> Check {
    match (&config.freshchat.app_id, &account.app_id) {
        (Some(ours), Some(theirs)) if ours.trim() == theirs.trim() => Check::ok(
            CHECK_FRESHCHAT_APP_ID,
            format!("freshchat.app_id matches the account's App ID {theirs}"),
        ),
        (Some(ours), Some(theirs)) => Check::warn(
            CHECK_FRESHCHAT_APP_ID,
            format!("freshchat.app_id {ours} differs from the account's App ID {theirs}"),
            format!("set freshchat.app_id = \"{theirs}\" (Freshchat Admin → Integration Settings), or remove it"),
        ),
        (Some(ours), None) => Check::ok(
            CHECK_FRESHCHAT_APP_ID,
            format!("freshchat.app_id is {ours}; the account did not report one to compare"),
        ),
        (None, Some(theirs)) => Check::ok(
            CHECK_FRESHCHAT_APP_ID,
            format!("freshchat.app_id is not set; the account's App ID is {theirs}"),
        ),
        (None, None) => Check::ok(CHECK_FRESHCHAT_APP_ID, "freshchat.app_id is not set"),
    }
}

// ---------------------------------------------------------------- Zalo

fn zalo_failure(e: &SyncError, config: &Config, connect_fix: &str) -> Check {
    match e {
        SyncError::NeedsReauth(reason) => Check::fail(
            CHECK_ZALO_OA,
            format!("Access denied: token expired, and Zalo refused the refresh token ({reason})"),
            connect_fix,
        ),
        SyncError::NotConnected => Check::fail(
            CHECK_ZALO_OA,
            "Zalo is not connected: the store holds no tokens",
            connect_fix,
        ),
        SyncError::Zalo(z) if z.is_token_error() => Check::fail(
            CHECK_ZALO_OA,
            format!("Access denied: token expired or revoked, even after a refresh ({z})"),
            connect_fix,
        ),
        SyncError::Zalo(z) if z.class() == ErrorClass::Transport => Check::fail(
            CHECK_ZALO_OA,
            format!(
                "cannot reach Zalo at {} / {}: {z}",
                config.zalo.api_base.as_str().trim_end_matches('/'),
                config.zalo.oauth_base.as_str().trim_end_matches('/')
            ),
            "check zalo.api_base, zalo.oauth_base, DNS, and any firewall or proxy between this machine and Zalo",
        ),
        SyncError::Zalo(z) if z.class() == ErrorClass::OAuth => Check::fail(
            CHECK_ZALO_OA,
            format!("Zalo refused the token refresh: {z}"),
            format!("check zalo.app_id and zalo.app_secret (developers.zalo.me → your app → Settings), then {connect_fix}"),
        ),
        other => Check::fail(
            CHECK_ZALO_OA,
            format!("the OA info call failed: {other}"),
            format!("if this persists, {connect_fix}"),
        ),
    }
}

fn oa_id_check(config: &Config, info: &OaInfo, connect_fix: &str) -> Check {
    match &config.zalo.oa_id {
        Some(ours) if ours == &info.oa_id => Check::ok(
            CHECK_ZALO_OA_ID,
            format!("zalo.oa_id {ours} matches the connected OA"),
        ),
        Some(ours) => Check::fail(
            CHECK_ZALO_OA_ID,
            format!(
                "zalo.oa_id is {ours}, but the tokens belong to OA \"{}\" (id {})",
                info.name, info.oa_id
            ),
            format!(
                "set zalo.oa_id = \"{}\" if that is the right OA; otherwise {connect_fix} signed in as an admin of OA {ours}",
                info.oa_id
            ),
        ),
        None => Check::ok(
            CHECK_ZALO_OA_ID,
            format!(
                "zalo.oa_id is not set; the connected OA's id {} is used",
                info.oa_id
            ),
        ),
    }
}

/// "23 h 10 min", "4 min", "12 s"; days only past 48 h ("3 d 2 h"): Zalo tokens live 25 h.
fn human_duration(secs: i64) -> String {
    let secs = secs.max(0);
    let (hours, m) = (secs / 3600, secs % 3600 / 60);
    if hours >= 48 {
        format!("{} d {} h", hours / 24, hours % 24)
    } else if hours > 0 {
        format!("{hours} h {m} min")
    } else if m > 0 {
        format!("{m} min")
    } else {
        format!("{secs} s")
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use aws_lc_rs::encoding::AsDer;
    use aws_lc_rs::rsa::{KeyPair, KeySize};
    use aws_lc_rs::signature::KeyPair as _;
    use base64::Engine as _;

    use super::*;

    const EXAMPLE: &str = include_str!("../config.example.toml");

    /// The example's webhook key is a placeholder (a real-looking key would pass validation and
    /// then reject every webhook); put a real key in its place, generated as Freshchat does.
    fn with_real_webhook_key(text: &str) -> String {
        let key = KeyPair::generate(KeySize::Rsa2048).unwrap();
        let spki = key.public_key().as_der().unwrap();
        let b64 = base64::engine::general_purpose::STANDARD.encode(spki.as_ref());
        let start = text.find("webhook_public_key = ").unwrap();
        let end = start + text[start..].find('\n').unwrap();
        format!(
            "{}webhook_public_key = \"-----BEGIN RSA PUBLIC KEY----- {b64} -----END RSA PUBLIC KEY-----\"{}",
            &text[..start],
            &text[end..]
        )
    }

    #[test]
    fn example_config_parses() {
        let config = Config::from_toml(&with_real_webhook_key(EXAMPLE)).unwrap();
        assert_eq!(config.sync.max_concurrent_lanes, 32);
        assert_eq!(config.server.max_body_bytes, 1024 * 1024);
    }

    #[test]
    fn example_config_parses_with_every_optional_key() {
        // Optional keys are shown commented out; uncommented, they must still be valid keys.
        let uncommented: String = EXAMPLE
            .lines()
            .map(|l| {
                let t = l.trim_start();
                let body = t.strip_prefix("# ").unwrap_or(t);
                let is_assignment = t.starts_with("# ")
                    && body.split_once(" = ").is_some_and(|(k, _)| {
                        k.chars().all(|c| c.is_ascii_lowercase() || c == '_')
                    });
                if is_assignment {
                    format!("{body}\n")
                } else {
                    format!("{l}\n")
                }
            })
            .collect();
        let config = Config::from_toml(&with_real_webhook_key(&uncommented)).unwrap();
        assert!(config.zalo.oa_id.is_some());
        assert!(config.freshchat.channel_name.is_some());
        assert!(config.mapping.rules.is_some());
    }

    #[test]
    fn the_placeholder_webhook_key_is_refused() {
        // An operator who forgets to paste the key gets an error naming it.
        if std::env::var_os(crate::config::ENV_FRESHCHAT_WEBHOOK_PUBLIC_KEY).is_some() {
            return; // the environment would override the placeholder
        }
        let err = Config::from_toml(EXAMPLE).unwrap_err().to_string();
        assert!(err.contains("freshchat.webhook_public_key"), "{err}");
    }

    #[test]
    fn toml_errors_lose_the_quoted_line() {
        let text =
            "[server]\npublic_url = \"https://x\"\n\n[zalo]\napp_secret = \"s3cret\"\nbogus = 1\n";
        let detail = "TOML parse error at line 6, column 1\n  |\n6 | bogus = 1\n  | ^^^^^\nunknown field `bogus`, expected one of `app_id`, `app_secret`\n";
        let line = crate::config::condense_toml_error(detail, text);
        assert_eq!(
            line,
            "unknown field `bogus`, expected one of `app_id`, `app_secret` (line 6, in [zalo])"
        );
        assert!(!crate::config::condense_toml_error(
            "TOML parse error at line 5\n5 | app_secret = \"s3cret\nmissing quote",
            text
        )
        .contains("s3cret"));
    }

    #[test]
    fn durations_read_like_a_person_wrote_them() {
        assert_eq!(human_duration(23 * 3600 + 10 * 60 + 5), "23 h 10 min");
        assert_eq!(human_duration(25 * 3600 - 60), "24 h 59 min");
        assert_eq!(human_duration(74 * 3600), "3 d 2 h");
        assert_eq!(human_duration(240), "4 min");
        assert_eq!(human_duration(12), "12 s");
    }
}
