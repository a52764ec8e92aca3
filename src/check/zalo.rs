//! Checks of the Zalo connection: tokens, OA information, OA id.

use super::*;

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
                "zalo.oa_id is not set; the connected OA's id {} is used",
                info.oa_id
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
