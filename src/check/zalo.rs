//! Checks of the Zalo app and connection: App ID and App Secret Key (before any OA is connected),
//! tokens, OA information, OA id. A failed probe is a [`Check`] at FAIL with the fix.

use zfsync_zalo::ZaloError;

use super::*;

/// The refresh token the app probe sends: Zalo knows no such token, so once it has accepted the
/// App ID and the App Secret Key it refuses the token itself.
const PROBE_REFRESH_TOKEN: &str = "zfsync-app-probe";

/// Which value the Zalo app probe found wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ZaloAppFault {
    /// Zalo does not know the App ID.
    AppId,
    /// Zalo refused the App Secret Key for this App ID.
    AppSecret,
    /// Zalo's OAuth host could not be reached or did not answer as Zalo does (`zalo.oauth_base`).
    OAuthHost,
}

/// The result of [`zalo_app`]: the check line, and on failure which value is at fault.
#[derive(Debug, Clone)]
pub struct ZaloAppCheck {
    /// The check line (`zalo_app`).
    pub check: Check,
    /// The value to correct; `None` when the check passed.
    pub fault: Option<ZaloAppFault>,
}

/// Probes the App ID and App Secret Key at Zalo's token endpoint, before any OA is connected: a
/// refresh with a token Zalo never issued is refused for the App ID (-14002), for the secret, or,
/// once both pass, for the token itself. Nothing is stored, and no token is issued.
pub async fn zalo_app(app_id: &str, app_secret: &SecretString, oauth_base: &Url) -> ZaloAppCheck {
    let fail = |fault, detail: String, fix: String| ZaloAppCheck {
        check: Check::fail(CHECK_ZALO_APP, detail, fix),
        fault: Some(fault),
    };
    let mut cfg = zfsync_zalo::ClientConfig::new(app_id.to_string(), app_secret.clone());
    cfg.oauth_base = oauth_base.clone();
    let client = match ZaloClient::new(cfg) {
        Ok(c) => c,
        Err(e @ ZaloError::EmptyAppId) => {
            return fail(ZaloAppFault::AppId, e.to_string(), APP_ID_FIX.into())
        }
        Err(e) => {
            return fail(
                ZaloAppFault::OAuthHost,
                format!("cannot set up the Zalo client: {e}"),
                "check zalo.oauth_base".into(),
            )
        }
    };
    let shown = oauth_base.as_str().trim_end_matches('/');
    let refused = client
        .refresh_token(&SecretString::from(PROBE_REFRESH_TOKEN))
        .await;
    let e = match refused {
        Ok(_) => {
            return ZaloAppCheck {
                check: Check::ok(CHECK_ZALO_APP, format!("Zalo accepted App ID {app_id}")),
                fault: None,
            }
        }
        Err(e) => e,
    };
    let said = |needle: &str| match &e {
        ZaloError::OAuth {
            name, description, ..
        } => [name, description]
            .into_iter()
            .flatten()
            .any(|t| t.to_ascii_lowercase().replace(' ', "").contains(needle)),
        _ => false,
    };
    match &e {
        ZaloError::OAuth { code: Some(-14002), .. } => fail(
            ZaloAppFault::AppId,
            format!("Zalo does not know App ID {app_id}: {}", oauth_answer(&e)),
            APP_ID_FIX.into(),
        ),
        ZaloError::OAuth { .. } if said("secret") => fail(
            ZaloAppFault::AppSecret,
            format!(
                "Zalo refused the App Secret Key for App ID {app_id}: {}",
                oauth_answer(&e)
            ),
            "copy the App Secret Key again from developers.zalo.me → your app → Settings (not the OA Secret Key from the Webhook page)".into(),
        ),
        ZaloError::OAuth { .. } if said("appid") => fail(
            ZaloAppFault::AppId,
            format!("Zalo refused App ID {app_id}: {}", oauth_answer(&e)),
            APP_ID_FIX.into(),
        ),
        ZaloError::OAuth { .. } if e.class() == ErrorClass::OAuth => ZaloAppCheck {
            check: Check::ok(
                CHECK_ZALO_APP,
                format!("Zalo's token endpoint at {shown} accepts App ID {app_id} with this App Secret Key"),
            ),
            fault: None,
        },
        _ if e.class() == ErrorClass::Transport => {
            let mut unanswered = fail(
                ZaloAppFault::OAuthHost,
                format!("cannot reach Zalo at {shown}: {e}"),
                "check the network, DNS and any firewall or proxy between this machine and Zalo (zalo.oauth_base)".into(),
            );
            unanswered.check = unanswered.check.unanswered();
            unanswered
        }
        _ => fail(
            ZaloAppFault::OAuthHost,
            format!("{shown} did not answer as Zalo's OAuth host does: {e}"),
            "check zalo.oauth_base (default https://oauth.zaloapp.com)".into(),
        ),
    }
}

/// What the token endpoint said, without the client's advice (which is about a connected OA).
fn oauth_answer(e: &ZaloError) -> String {
    match e {
        ZaloError::OAuth {
            code,
            name,
            description,
        } => {
            let mut out = format!(
                "Zalo answered \"{}\"",
                name.as_deref().unwrap_or("an error")
            );
            if let Some(c) = code {
                out.push_str(&format!(" (error {c})"));
            }
            if let Some(d) = description.as_deref().filter(|d| !d.is_empty()) {
                out.push_str(&format!(": {d}"));
            }
            out
        }
        other => other.to_string(),
    }
}

/// Where the App ID is, for fixes.
const APP_ID_FIX: &str =
    "copy the App ID (a number) from developers.zalo.me → your app → Settings (\"ID ứng dụng\")";

// ---------------------------------------------------------------- Zalo

pub(super) fn zalo_failure(e: &SyncError, config: &Config, connect_fix: &str) -> Check {
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

pub(super) fn oa_id_check(config: &Config, info: &OaInfo, connect_fix: &str) -> Check {
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
                "zalo.oa_id is not set; the connected OA {} is the only one a new consent may connect (set zalo.oa_id = \"{}\" to keep it so)",
                info.oa_id, info.oa_id
            ),
        ),
    }
}

/// "23 h 10 min", "4 min", "12 s"; days only past 48 h ("3 d 2 h"): Zalo tokens live 25 h.
pub(super) fn human_duration(secs: i64) -> String {
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
