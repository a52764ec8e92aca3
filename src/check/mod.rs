//! `zfsync check`: validates the configuration and probes every dependency, then prints one line
//! per check (OK, WARN or FAIL, with the fix in plain words) or, with `--json`, one JSON document.
//!
//! The checks run in a fixed order: config, public URL, store, mapping rules, Freshchat (API key and
//! host, channel, routing groups, webhook key, App ID, custom user properties), Zalo (tokens, OA info, OA id). Each check stands on its own:
//! a failure is reported and the next checks still run where they can. A check that cannot run
//! because an earlier one failed is reported as FAIL "not checked", so the list of names is the
//! same on every run (scripts can rely on it). Only a config that does not load stops everything.
//!
//! Failure modes: nothing here returns an error for a failed probe; the exit code is 1 when any
//! check fails (warnings do not count). Secrets are never printed: API errors carry no keys, and
//! config parse errors are reduced to their message and line number, without the quoted source
//! line (which could hold a secret).
//!
//! The checks live by what they probe: `local` (config, public URL, store, rules),
//! `freshchat`, `routing` (the groups the routing rules name) and `zalo`; this module runs them in order and reports. The checks of single
//! values take only those values and are public ([`freshchat_host`], [`freshchat_api`],
//! [`freshchat_channel`], [`freshchat_webhook_key`], [`freshchat_app_id`], [`zalo_app`],
//! [`public_url`], [`public_url_reachable`]), so each also runs on its own: `zfsync init` checks
//! every answer with the same code as `zfsync check`.
//!
//! Side effects: the store check writes one row (`meta.last_check_at`); the Zalo probe goes through
//! the token manager, so an expired access token is refreshed (and the new pair stored) exactly as
//! the daemon would do.

mod freshchat;
mod local;
mod properties;
mod routing;
mod templates;
mod zalo;

pub use freshchat::{
    freshchat_api, freshchat_app_id, freshchat_channel, freshchat_client, freshchat_host,
    freshchat_webhook_key,
};
use local::{config_failure, probe_store, store_fix};
pub use local::{public_url, public_url_reachable};
use properties::user_properties_check;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;
use zalo::{human_duration, oa_id_check, zalo_failure};
pub use zalo::{zalo_app, ZaloAppFault};

use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use url::Url;
use zfsync_freshchat::{
    AccountConfiguration, Channel, FreshchatClient, FreshchatError, WebhookKey,
};
use zfsync_zalo::{ErrorClass, OaInfo, ZaloClient};

use crate::config::{Config, ConfigError, ENV_FRESHCHAT_API_KEY};
use crate::error::SyncError;
use crate::services::{Services, ServicesError};
use crate::store::{now_ms, Store, StoreError};
use crate::tokens::TokenManager;

/// Check names, in the order they run (also the `name` field of `--json`).
pub const CHECK_CONFIG: &str = "config";
/// `server.public_url` reaches this daemon (webhooks and OAuth depend on it).
pub const CHECK_PUBLIC_URL: &str = "public_url";
/// The store opens, passes its integrity check and commits a write.
pub const CHECK_STORE: &str = "store";
/// The mapping rules file loads.
pub const CHECK_MAPPING_RULES: &str = "mapping_rules";
/// The Freshchat API answers with the API key.
pub const CHECK_FRESHCHAT_API: &str = "freshchat_api";
/// The configured Freshchat channel exists and is enabled.
pub const CHECK_FRESHCHAT_CHANNEL: &str = "freshchat_channel";
/// Every Freshchat group the routing rules name exists.
pub const CHECK_FRESHCHAT_GROUPS: &str = "freshchat_groups";
/// The webhook public key parses and matches the account's, when Freshchat shows it.
pub const CHECK_FRESHCHAT_WEBHOOK_KEY: &str = "freshchat_webhook_key";
/// The Freshchat App ID matches the account.
pub const CHECK_FRESHCHAT_APP_ID: &str = "freshchat_app_id";
/// Freshchat accepts the `external_user_provider` user property.
pub const CHECK_FRESHCHAT_PROPERTIES: &str = "freshchat_properties";
/// Zalo tokens are stored and the access token is (or can be made) valid.
pub const CHECK_ZALO_TOKENS: &str = "zalo_tokens";
/// The connected OA answers `getoa`.
pub const CHECK_ZALO_OA: &str = "zalo_oa";
/// The connected OA is the configured `zalo.oa_id`.
pub const CHECK_ZALO_OA_ID: &str = "zalo_oa_id";
/// The App ID and App Secret Key, probed at Zalo's token endpoint before any OA is connected (run
/// by `zfsync init`, not by `zfsync check`, which probes the connected OA instead).
pub const CHECK_ZALO_APP: &str = "zalo_app";

/// The `meta` row the store check writes (proof that a write commits).
const META_LAST_CHECK: &str = "last_check_at";

/// Where Freshchat shows the API key, for fixes.
const FRESHCHAT_KEY_FIX: &str =
    "generate a new one in Freshchat Admin → APIs for chat and give it to zfsync (freshchat.api_key for the configuration file's pairing; 'zfsync pairing add NAME --replace' for an added one)";
/// The shape of a correct Freshchat API base, for fixes.
const FRESHCHAT_HOST_FIX: &str =
    "use https://<account>.freshchat.com (the chat API URL shown in Freshchat Admin → APIs for chat)";

/// How one check ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// Works.
    Ok,
    /// Works, but probably not as intended; does not fail the run.
    Warn,
    /// Does not work: zfsync would not sync; the run fails.
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
    /// One of the `CHECK_*` names.
    pub name: &'static str,
    /// False only for [`Level::Fail`].
    pub ok: bool,
    /// How it ended.
    pub level: Level,
    /// What was found.
    pub detail: String,
    /// What to do about it (always present on WARN and FAIL).
    pub fix: Option<String>,
    /// The platform gave no answer about the value (no connection, a timeout, its own trouble):
    /// the value may well be right, and the same check may pass later.
    #[serde(skip)]
    pub unreachable: bool,
}

impl Check {
    /// A passing check.
    pub fn ok(name: &'static str, detail: impl Into<String>) -> Check {
        Check {
            name,
            ok: true,
            level: Level::Ok,
            detail: detail.into(),
            fix: None,
            unreachable: false,
        }
    }

    /// A check that passes with a warning and its fix.
    pub fn warn(name: &'static str, detail: impl Into<String>, fix: impl Into<String>) -> Check {
        Check {
            name,
            ok: true,
            level: Level::Warn,
            detail: detail.into(),
            fix: Some(fix.into()),
            unreachable: false,
        }
    }

    /// A failed check and its fix.
    pub fn fail(name: &'static str, detail: impl Into<String>, fix: impl Into<String>) -> Check {
        Check {
            name,
            ok: false,
            level: Level::Fail,
            detail: detail.into(),
            fix: Some(fix.into()),
            unreachable: false,
        }
    }

    /// This check, marked as one the platform could not answer (see [`Check::unreachable`]).
    pub fn unanswered(mut self) -> Check {
        self.unreachable = true;
        self
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
    /// No check failed (warnings allowed).
    pub ok: bool,
    /// Every check, in the order run.
    pub checks: Vec<Check>,
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
    out.push(public_url(&config.server.public_url));

    // ---------------------------------------------------------------- store, rules
    let parts = Parts::build(&config).await;
    let store_path = match &parts.store {
        Ok(store) => store.path().display().to_string(),
        Err(_) => config.store.path.display().to_string(),
    };
    match &parts.store {
        Ok(store) => out.push(probe_store(store, &store_path).await),
        Err(e) => out.push(Check::fail(
            CHECK_STORE,
            e.to_string(),
            store_fix(e, &config),
        )),
    }
    let rules = crate::services::load_rules(&config);
    let unknown_pairings = match (&rules, &parts.store) {
        (Ok(r), Ok(store)) => routing::unknown_pairings(store, r)
            .await
            .unwrap_or_default(),
        _ => Vec::new(),
    };
    out.push(match &rules {
        Ok(rules) => rules_check(rules, &config, &parts, &unknown_pairings).await,
        Err(e @ ServicesError::AgentLanguage { known, .. }) => Check::fail(
            CHECK_MAPPING_RULES,
            e.to_string(),
            format!(
                "set agent_language under [mapping] in {} to one of {} (any case), or remove it to use the rules' own [agents] language",
                config_path.display(),
                known.join(", ")
            ),
        ),
        Err(e) => Check::fail(
            CHECK_MAPPING_RULES,
            e.to_string(),
            "correct the file (start from a copy of mappings/default.toml), or remove mapping.rules to use the built-in rules",
        ),
    });

    // ---------------------------------------------------------------- Freshchat
    let freshchat = &parts.freshchat;
    let base = &config.freshchat.api_base;
    let account = match freshchat {
        Ok(client) => {
            let (check, account) = freshchat_api(client, base).await;
            out.push(check);
            account
        }
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
        (Ok(client), Some(_)) => out.push(
            freshchat_channel(
                client,
                base,
                config.freshchat.channel_id.as_deref(),
                config.freshchat.channel_name.as_deref(),
            )
            .await,
        ),
        _ => out.push(Check::not_checked(
            CHECK_FRESHCHAT_CHANNEL,
            CHECK_FRESHCHAT_API,
            "fix freshchat_api above",
        )),
    }
    match (freshchat, &account, &rules) {
        (Ok(client), Some(_), Ok(rules)) => {
            out.push(routing::freshchat_groups(client, base, rules).await)
        }
        (_, _, Err(_)) => out.push(Check::not_checked(
            CHECK_FRESHCHAT_GROUPS,
            CHECK_MAPPING_RULES,
            "fix mapping_rules above",
        )),
        _ => out.push(Check::not_checked(
            CHECK_FRESHCHAT_GROUPS,
            CHECK_FRESHCHAT_API,
            "fix freshchat_api above",
        )),
    }
    out.push(freshchat_webhook_key(
        config.freshchat_webhook_key().expose_secret(),
        Some(&config.public_url(crate::routes::ROUTE_FRESHCHAT_WEBHOOK)),
    ));
    out.push(match &account {
        Some(account) => freshchat_app_id(config.freshchat.app_id.as_deref(), account),
        None => Check::not_checked(
            CHECK_FRESHCHAT_APP_ID,
            CHECK_FRESHCHAT_API,
            "fix freshchat_api above",
        ),
    });
    match (freshchat, &account, &parts.store) {
        (Ok(client), Some(_), Ok(store)) => {
            out.push(user_properties_check(client, store, &config, rules.as_ref().ok()).await)
        }
        (_, _, Err(_)) => out.push(Check::not_checked(
            CHECK_FRESHCHAT_PROPERTIES,
            CHECK_STORE,
            "fix store above",
        )),
        _ => out.push(Check::not_checked(
            CHECK_FRESHCHAT_PROPERTIES,
            CHECK_FRESHCHAT_API,
            "fix freshchat_api above",
        )),
    }

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
        // The browser flow connects nothing until zfsync knows which OA it serves.
        let fix = match &config.zalo.oa_id {
            Some(_) => connect_fix.clone(),
            None => format!("set zalo.oa_id to your OA's id (a number: on the OA's page at oa.zalo.me), then {connect_fix}"),
        };
        out.push(Check::fail(
            CHECK_ZALO_TOKENS,
            "Zalo is not connected: the store holds no tokens",
            fix,
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
/// The `mapping_rules` line of rules that load: which file, the templates checked, and what in
/// them would fail at run time ([`templates`]).
/// The rules' check: what the templates and the routing rules would break.
async fn rules_check(
    rules: &zfsync_mappings::Rules,
    config: &Config,
    parts: &Parts,
    unknown_pairings: &[(String, String)],
) -> Check {
    let loaded = match &config.mapping.rules {
        Some(p) => format!("{} loaded", p.display()),
        None => "built-in rules (mappings/default.toml)".to_string(),
    };
    let mut found = templates::template_rule_findings(rules);
    templates::template_property_findings(
        rules,
        parts.freshchat.as_ref().ok(),
        parts.store.as_ref().ok(),
        &mut found,
    )
    .await;
    let detail = format!("{loaded}{}", found.summary);
    let mut fix = "correct [[templates]] in the rules (mapping.rules), then run zfsync check again"
        .to_string();
    if !unknown_pairings.is_empty() {
        found.warnings.extend(unknown_pairings.iter().map(|(rule, p)| {
            format!("routing rule {rule:?} names pairing {p:?}, which this deployment does not have: the rule matches no conversation of it")
        }));
        let pairing_fix = "in a routing rule's pairings, use the names 'zfsync pairing list' shows (\"default\" is the configuration file's), or add the pairing with 'zfsync pairing add'";
        fix = if found.warnings.len() + found.failures.len() > unknown_pairings.len() {
            format!("{fix}; {pairing_fix}")
        } else {
            pairing_fix.to_string()
        };
    }
    if !found.failures.is_empty() {
        let all: Vec<String> = found.failures.into_iter().chain(found.warnings).collect();
        Check::fail(
            CHECK_MAPPING_RULES,
            format!("{detail}: {}", all.join("; ")),
            fix,
        )
    } else if !found.warnings.is_empty() {
        Check::warn(
            CHECK_MAPPING_RULES,
            format!("{detail}: {}", found.warnings.join("; ")),
            fix,
        )
    } else {
        Check::ok(CHECK_MAPPING_RULES, detail)
    }
}

struct Parts {
    store: Result<Store, ServicesError>,
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
        let store = crate::services::open_store(config).map_err(ServicesError::Store);
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
                let policy = crate::tokens::TokenPolicy::from_config(&config.sync);
                match TokenManager::new(store.clone(), client.clone(), policy).await {
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use aws_lc_rs::encoding::AsDer;
    use aws_lc_rs::rsa::{KeyPair, KeySize};
    use aws_lc_rs::signature::KeyPair as _;
    use base64::Engine as _;

    use super::*;

    const EXAMPLE: &str = include_str!("../../config.example.toml");

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
        // The secrets file it names must exist and be private.
        let dir = tempfile::tempdir().unwrap();
        let secrets = dir.path().join("secrets.env");
        std::fs::write(&secrets, "# none\n").unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(&secrets, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        let uncommented =
            uncommented.replace("/etc/zfsync/secrets.env", &secrets.display().to_string());
        let config = Config::from_toml(&with_real_webhook_key(&uncommented)).unwrap();
        assert_eq!(config.secrets_file.as_deref(), Some(secrets.as_path()));
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
