//! Events of access: the OAuth callback, operator sign-in and rate limits, Zalo's token refresh.

use super::names::{
    LOGIN_FAILURES, LOGIN_LOCKOUTS, OAUTH_CALLBACKS, OAUTH_REFUSALS, RATE_LIMITED, TOKEN_REFRESHES,
};
use super::InternalEvent;

/// A request to the OAuth callback was answered.
#[derive(Debug)]
pub struct OAuthCallback {
    /// `consumed`, `denied`, `no_code`, or a refusal's reason.
    pub outcome: &'static str,
}

impl InternalEvent for OAuthCallback {
    fn emit(&self) {
        tracing::debug!(outcome = self.outcome, "answered the OAuth callback");
        metrics::counter!(OAUTH_CALLBACKS, "pairing" => crate::telemetry::pairing_label(), "outcome" => self.outcome).increment(1);
    }
}

/// A Zalo authorization was refused: nothing was stored.
#[derive(Debug)]
pub struct OAuthRefused<'a> {
    /// The refusal's label.
    pub reason: &'static str,
    /// The OA expected (configured or connected), if any.
    pub expected_oa: Option<&'a str>,
    /// The OA the callback named or the tokens belong to, if known.
    pub got_oa: Option<&'a str>,
    /// Why.
    pub error: &'a str,
}

impl InternalEvent for OAuthRefused<'_> {
    fn emit(&self) {
        tracing::warn!(
            reason = self.reason,
            expected_oa = self.expected_oa.unwrap_or("(none)"),
            got_oa = self.got_oa.unwrap_or("(unknown)"),
            error = %self.error,
            "refused a Zalo authorization: nothing was stored, and a pending attempt stays usable"
        );
        metrics::counter!(OAUTH_REFUSALS, "pairing" => crate::telemetry::pairing_label(), "reason" => self.reason).increment(1);
    }
}

/// A wrong operator token (never logged itself).
#[derive(Debug)]
pub struct LoginFailed<'a> {
    /// The client's address as shown (`unknown` when not known).
    pub client: &'a str,
    /// Where the token was given (`bearer`, `form`, ...).
    pub via: &'static str,
}

impl InternalEvent for LoginFailed<'_> {
    fn emit(&self) {
        tracing::warn!(client = %self.client, via = self.via, "operator sign-in refused: wrong token");
        metrics::counter!(LOGIN_FAILURES, "via" => self.via).increment(1);
    }
}

/// Too many wrong operator tokens from all addresses: every sign-in is refused for a while.
#[derive(Debug)]
pub struct LoginLockout {
    /// The wrong tokens that started it.
    pub failures: u32,
    /// The window they fell in (s).
    pub window_s: u64,
    /// How long the lockout lasts (s).
    pub lockout_s: u64,
}

impl InternalEvent for LoginLockout {
    fn emit(&self) {
        tracing::warn!(
            failures = self.failures,
            window_s = self.window_s,
            lockout_s = self.lockout_s,
            "too many wrong operator tokens from all addresses: every sign-in and Bearer request is refused until the lockout ends (open console sessions keep working)"
        );
        metrics::counter!(LOGIN_LOCKOUTS).increment(1);
    }
}

/// A request over its route family's per-address limit was answered 429.
#[derive(Debug)]
pub struct RateLimited {
    /// The route family.
    pub limit: &'static str,
}

impl InternalEvent for RateLimited {
    fn emit(&self) {
        tracing::debug!(limit = self.limit, "request over the per-address limit");
        metrics::counter!(RATE_LIMITED, "limit" => self.limit).increment(1);
    }
}

/// Zalo's access token was refreshed and the new pair stored.
#[derive(Debug)]
pub struct TokenRefreshed {
    /// The new access token's lifetime.
    pub expires_in_secs: u64,
}

impl InternalEvent for TokenRefreshed {
    fn emit(&self) {
        tracing::info!(
            expires_in_secs = self.expires_in_secs,
            "zalo access token refreshed"
        );
        metrics::counter!(TOKEN_REFRESHES, "pairing" => crate::telemetry::pairing_label(), "result" => "ok").increment(1);
    }
}

/// Zalo refused the refresh for good (a documented refusal, or an undocumented one that lasted):
/// an OA admin must connect again.
#[derive(Debug)]
pub struct TokenRefreshRejected<'a> {
    /// Zalo's error code, when it gave one.
    pub code: Option<i64>,
    /// Why, with what to correct first.
    pub error: &'a str,
}

impl InternalEvent for TokenRefreshRejected<'_> {
    fn emit(&self) {
        tracing::error!(code = ?self.code, error = %self.error, "Zalo rejected the refresh token; Zalo needs re-authorization: run 'zfsync connect zalo'");
        metrics::counter!(TOKEN_REFRESHES, "pairing" => crate::telemetry::pairing_label(), "result" => "rejected").increment(1);
    }
}

/// When an undocumented refusal is retried, and when it becomes "needs re-authorization".
#[derive(Debug)]
pub struct RefreshBackoff<'a> {
    /// Since when the endpoint refuses (UTC, as shown).
    pub since: &'a str,
    /// Until the next try.
    pub retry_in_ms: u64,
    /// When the pairing will need re-authorization (UTC, as shown).
    pub reauth_at: &'a str,
}

/// Zalo's token endpoint refused the refresh with an answer its documentation does not list:
/// retried with backoff. `backoff` is None when another process stored a new pair meanwhile.
#[derive(Debug)]
pub struct TokenRefreshUnlisted<'a> {
    /// Zalo's error code, when it gave one.
    pub code: Option<i64>,
    /// Zalo's answer.
    pub error: &'a str,
    /// The retry it leads to.
    pub backoff: Option<RefreshBackoff<'a>>,
}

impl InternalEvent for TokenRefreshUnlisted<'_> {
    fn emit(&self) {
        match &self.backoff {
            Some(b) => tracing::warn!(
                code = ?self.code,
                since = %b.since,
                retry_in_ms = b.retry_in_ms,
                reauth_at = %b.reauth_at,
                error = %self.error,
                "Zalo's token endpoint refused the refresh with an answer its documentation does not list; retrying with backoff"
            ),
            None => tracing::info!(
                code = ?self.code,
                error = %self.error,
                "Zalo's token endpoint refused the refresh with an answer its documentation does not list; another process has stored a new pair meanwhile"
            ),
        }
        metrics::counter!(TOKEN_REFRESHES, "pairing" => crate::telemetry::pairing_label(), "result" => "unlisted").increment(1);
    }
}

/// The refresh failed in passing (5xx, 429, a timeout): the caller retries with its backoff.
#[derive(Debug)]
pub struct TokenRefreshFailed<'a> {
    /// Zalo's error code, when it gave one.
    pub code: Option<i64>,
    /// Why.
    pub error: &'a str,
}

impl InternalEvent for TokenRefreshFailed<'_> {
    fn emit(&self) {
        // The caller gets the error and logs it with what it was doing.
        tracing::debug!(code = ?self.code, error = %self.error, "cannot refresh Zalo's access token now; it is tried again");
        metrics::counter!(TOKEN_REFRESHES, "pairing" => crate::telemetry::pairing_label(), "result" => "error").increment(1);
    }
}
