//! Checks of the Freshchat account: API host, API key, channel, webhook key, App ID, and whether
//! the account takes zfsync's custom user properties. The checks of single values take only the
//! values they probe, so each also runs on its own (the `init` wizard checks each answer with it).
//! A failed probe is a [`Check`] at FAIL with the fix, never an error.

use super::*;
use crate::sync::contact::{
    META_PROPERTIES_REFUSED, PROPERTIES_ADMIN_PATH, PROP_ANONYMOUS, PROP_OA_ID, PROP_PROVIDER,
    PROP_ZALO_USER_ID, USER_PROPERTIES,
};

/// The key sent when only the host is probed: no account has it, so the Freshchat API answers 401.
const HOST_PROBE_KEY: &str = "zfsync-host-probe";

// ---------------------------------------------------------------- Freshchat

/// Builds a Freshchat client for `base` and `key`, or the failed `freshchat_api` check that says
/// why it cannot be built (a key with line breaks or quotes, a base that is not http(s)).
pub fn freshchat_client(base: &Url, key: &SecretString) -> Result<FreshchatClient, Check> {
    FreshchatClient::new(zfsync_freshchat::ClientConfig::new(base.clone(), key.clone())).map_err(
        |e| {
            Check::fail(
                CHECK_FRESHCHAT_API,
                format!("cannot set up the Freshchat client: {e}"),
                format!(
                    "copy the API key again from Freshchat Admin → APIs for chat into freshchat.api_key (or {ENV_FRESHCHAT_API_KEY}), without quotes or line breaks"
                ),
            )
        },
    )
}

/// Probes that `base` is the Freshchat API before any key is known: the API answers a request with
/// an unknown key with 401, a web page answers HTML, a wrong host does not answer at all.
pub async fn freshchat_host(base: &Url) -> Check {
    let client = match freshchat_client(base, &SecretString::from(HOST_PROBE_KEY)) {
        Ok(c) => c,
        Err(check) => return check,
    };
    let shown = base.as_str().trim_end_matches('/');
    match client.account_configuration().await {
        Ok(_) | Err(FreshchatError::Unauthorized { .. }) => Check::ok(
            CHECK_FRESHCHAT_API,
            format!("the Freshchat API answers at {shown}"),
        ),
        Err(e) => freshchat_failure(CHECK_FRESHCHAT_API, &e, base),
    }
}

/// The API key check: the account configuration is read with the key. On success the check comes
/// with the account's configuration (its App ID, for [`freshchat_app_id`]).
pub async fn freshchat_api(
    client: &FreshchatClient,
    base: &Url,
) -> (Check, Option<AccountConfiguration>) {
    match client.account_configuration().await {
        Ok(account) => (
            Check::ok(
                CHECK_FRESHCHAT_API,
                format!(
                    "API key accepted by {}{}",
                    base.as_str().trim_end_matches('/'),
                    account
                        .account_domain
                        .as_deref()
                        .map(|d| format!(" (account {d})"))
                        .unwrap_or_default()
                ),
            ),
            Some(account),
        ),
        Err(e) => (freshchat_failure(CHECK_FRESHCHAT_API, &e, base), None),
    }
}

pub(super) fn freshchat_failure(name: &'static str, e: &FreshchatError, base: &Url) -> Check {
    let base = base.as_str().trim_end_matches('/');
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
        )
        .unanswered(),
        FreshchatError::RateLimited { .. } => Check::fail(
            name,
            e.to_string(),
            "another client is using up the account's API limit; wait a minute and run check again",
        )
        .unanswered(),
        FreshchatError::Server { .. } => Check::fail(
            name,
            e.to_string(),
            "Freshchat is having trouble; run check again in a few minutes",
        )
        .unanswered(),
        _ => Check::fail(
            name,
            e.to_string(),
            "check freshchat.api_base and freshchat.api_key",
        ),
    }
}

/// The channel check: the configured channel (by id, else by exact name) exists and is enabled,
/// or, with neither configured, the account has an enabled channel for new conversations.
pub async fn freshchat_channel(
    client: &FreshchatClient,
    base: &Url,
    channel_id: Option<&str>,
    channel_name: Option<&str>,
) -> Check {
    let channels = match client.list_channels().await {
        Ok(c) => c,
        Err(e) => return freshchat_failure(CHECK_FRESHCHAT_CHANNEL, &e, base),
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
    if let Some(id) = channel_id {
        return match channels.iter().find(|c| c.id == id) {
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
    if let Some(name) = channel_name {
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

/// The webhook key check: the key parses as an RSA public key. `webhooks_url`, when known, is
/// named as the URL Freshchat must deliver to.
pub fn freshchat_webhook_key(key: &str, webhooks_url: Option<&str>) -> Check {
    match WebhookKey::parse(key) {
        Ok(key) => Check::ok(
            CHECK_FRESHCHAT_WEBHOOK_KEY,
            match webhooks_url {
                Some(url) => format!(
                    "RSA public key parsed (fingerprint {}); Freshchat must send webhooks to {url}",
                    key.fingerprint()
                ),
                None => format!("RSA public key parsed (fingerprint {})", key.fingerprint()),
            },
        ),
        Err(e) => Check::fail(
            CHECK_FRESHCHAT_WEBHOOK_KEY,
            e.to_string(),
            "paste the whole RSA public key from Freshchat Admin → Webhooks into freshchat.webhook_public_key",
        ),
    }
}

/// The App ID check: `ours` (the configured `freshchat.app_id`) against the account's. A
/// difference is a warning: the daemon still works, but new conversations carry the wrong app.
pub fn freshchat_app_id(ours: Option<&str>, account: &AccountConfiguration) -> Check {
    match (ours, &account.app_id) {
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

/// Whether the account takes zfsync's custom user properties: by the refusal the daemon
/// remembered, else by reading the Freshchat user zfsync created last. Missing properties are a
/// warning (messages still go through) whose fix names the properties to create.
pub(super) async fn core_properties_check(
    client: &FreshchatClient,
    store: &Store,
    config: &Config,
) -> Check {
    let fix = format!(
        "create these user properties in {PROPERTIES_ADMIN_PATH}: {} (and {PROP_ANONYMOUS} for anonymous chat-widget visitors); zfsync adds them to new customers once they exist",
        USER_PROPERTIES.join(", ")
    );
    let refused = match store.meta(META_PROPERTIES_REFUSED).await {
        Ok(r) => r.filter(|r| !r.is_empty()),
        Err(e) => {
            return Check::fail(
                CHECK_FRESHCHAT_PROPERTIES,
                format!("cannot read the store: {e}"),
                "fix the store check above",
            )
        }
    };
    if let Some(why) = refused {
        return Check::warn(
            CHECK_FRESHCHAT_PROPERTIES,
            format!("Freshchat refused zfsync's custom user properties (it said: {why}); customers are created without them"),
            fix,
        );
    }
    let newest = store.newest_freshchat_user().await;
    let user_id = match newest {
        Ok(Some(id)) => id,
        Ok(None) => {
            return Check::ok(
                CHECK_FRESHCHAT_PROPERTIES,
                "no customer yet: the user properties are checked once zfsync has created a Freshchat user",
            )
        }
        Err(e) => {
            return Check::fail(
                CHECK_FRESHCHAT_PROPERTIES,
                format!("cannot read the store: {e}"),
                "fix the store check above",
            )
        }
    };
    let user = match client.get_user(&user_id).await {
        Ok(u) => u,
        Err(FreshchatError::NotFound { .. }) => {
            return Check::ok(
                CHECK_FRESHCHAT_PROPERTIES,
                "the newest customer's Freshchat user was deleted; checked again with the next one",
            )
        }
        Err(e) => {
            return freshchat_failure(CHECK_FRESHCHAT_PROPERTIES, &e, &config.freshchat.api_base)
        }
    };
    let missing: Vec<&str> = [PROP_PROVIDER, PROP_ZALO_USER_ID, PROP_OA_ID]
        .into_iter()
        .filter(|name| !user.properties.iter().any(|p| p.name == *name))
        .collect();
    if missing.is_empty() {
        Check::ok(
            CHECK_FRESHCHAT_PROPERTIES,
            format!(
                "the newest customer's Freshchat user carries {}",
                [PROP_PROVIDER, PROP_ZALO_USER_ID, PROP_OA_ID].join(", ")
            ),
        )
    } else {
        Check::warn(
            CHECK_FRESHCHAT_PROPERTIES,
            format!(
                "the newest customer's Freshchat user lacks {}",
                missing.join(", ")
            ),
            fix,
        )
    }
}
