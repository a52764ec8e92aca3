//! Operator access: who may open the operator routes (`/oauth/zalo/start`, `/console/*`, the
//! details of `/readyz`).
//!
//! An operator proves they hold the admin token either as `Authorization: Bearer <token>`
//! (scripts) or by typing it once on the login page, which opens a session: a random id in an
//! `HttpOnly`, `SameSite=Strict` cookie (`Secure` when `public_url` is https) that expires after
//! [`SESSION_TTL`]. Sessions live in memory, so a restart logs everyone out. Each session has its own
//! CSRF token; a state-changing request made with the cookie must carry it (`x-csrf-token` header or
//! a `csrf` form field). Bearer requests need no CSRF token: a browser never adds that header by
//! itself. Tokens are compared in constant time (over their SHA-256, so not even the length leaks).
//! Every token check goes through [`access`], which counts wrong tokens per client address and for
//! everyone ([`super::limits::FailedLogins`]) and refuses to check any while they are over their
//! ceiling. A session's end (sign-out or expiry) also ends its live streams ([`Operator::ended`]).
//!
//! A one-time login link ([`Auth::login_link`]) opens a session without typing the token: the
//! sandbox prints one. It works once, within [`LINK_TTL`].
//!
//! The middleware in front of the operator routes, and the 401 a stranger gets, are in
//! [`super::gate`]. Failure: a wrong token is a stranger; too many wrong tokens are
//! [`Access::Refused`]. Nothing here logs a token.

use std::collections::HashMap;
use std::future::Future;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use aws_lc_rs::digest;
use axum::http::{header, HeaderMap, HeaderValue};
use secrecy::{ExposeSecret, SecretString};
use subtle::ConstantTimeEq;
use tokio_util::sync::CancellationToken;

use super::AppState;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "zfsync_session";
/// The header a script or the console's JavaScript sends the CSRF token in.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// The form field the console's forms send the CSRF token in.
pub const CSRF_FIELD: &str = "csrf";
/// How long a session lasts after login.
pub const SESSION_TTL: Duration = Duration::from_secs(12 * 3600);
/// How long a one-time login link works.
pub const LINK_TTL: Duration = Duration::from_secs(15 * 60);
/// The answer while wrong tokens are over their ceiling.
pub const TOO_MANY_WRONG_TOKENS: &str =
    "too many wrong operator tokens: no token is checked until the time in Retry-After has passed";

/// A SHA-256 of a secret: map keys and constant-time comparisons use this, never the secret.
type Digest32 = [u8; 32];

fn sha256(s: &str) -> Digest32 {
    let d = digest::digest(&digest::SHA256, s.as_bytes());
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

/// One logged-in browser.
#[derive(Clone)]
struct Session {
    csrf: String,
    expires: Instant,
    /// Cancelled when the session is signed out (or found expired).
    ended: CancellationToken,
}

/// The operator check, the sessions and the one-time links. Cheap to share (`Arc`).
pub struct Auth {
    token: Digest32,
    secure_cookie: bool,
    sessions: Mutex<HashMap<Digest32, Session>>,
    links: Mutex<HashMap<Digest32, Instant>>,
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auth")
            .field("secure_cookie", &self.secure_cookie)
            .finish_non_exhaustive()
    }
}

/// How the request proved it is an operator; handlers read it from the request's extensions.
#[derive(Debug, Clone)]
pub struct Operator {
    /// The session's CSRF token (None for Bearer requests, which need none).
    pub csrf: Option<String>,
    /// When the session ends: signed out (the token) or expired (the time). None for Bearer.
    session_end: Option<(CancellationToken, Instant)>,
}

impl Operator {
    /// The CSRF token to put in forms ("" for Bearer requests).
    pub fn csrf(&self) -> &str {
        self.csrf.as_deref().unwrap_or("")
    }

    /// Resolves when this operator's session ends (sign-out or expiry); never for a Bearer request,
    /// which has no session.
    pub fn ended(&self) -> impl Future<Output = ()> + Send + 'static {
        let end = self.session_end.clone();
        async move {
            match end {
                Some((signed_out, expires)) => {
                    tokio::select! {
                        _ = signed_out.cancelled() => {}
                        _ = tokio::time::sleep_until(expires.into()) => {}
                    }
                }
                None => std::future::pending().await,
            }
        }
    }
}

/// What a request's credentials amount to.
#[derive(Debug)]
pub enum Access {
    /// A valid Bearer token or a live session.
    Operator(Operator),
    /// No credentials, a wrong token or an unknown session.
    Stranger,
    /// Too many wrong tokens (from this address, or from everyone): no token is checked for this
    /// long.
    Refused(Duration),
}

/// The operator behind these headers, if any: a live session cookie, or a Bearer token, checked only
/// while wrong tokens are under their ceiling (a wrong one is counted and logged with `client`).
pub fn access(state: &AppState, headers: &HeaderMap, client: Option<IpAddr>) -> Access {
    if let Some(b) = bearer(headers) {
        let failed = state.limits.failed_logins();
        if let Err(wait) = failed.admit(client) {
            return Access::Refused(wait);
        }
        if state.auth.token_matches(b) {
            return Access::Operator(Operator {
                csrf: None,
                session_end: None,
            });
        }
        failed.failed(client, super::limits::Via::Bearer);
        return Access::Stranger;
    }
    state
        .auth
        .session(headers)
        .map_or(Access::Stranger, Access::Operator)
}

impl Auth {
    /// Checks against `token`; cookies are `Secure` when `secure_cookie` (public_url is https).
    pub fn new(token: &SecretString, secure_cookie: bool) -> Auth {
        Auth {
            token: sha256(token.expose_secret()),
            secure_cookie,
            sessions: Mutex::new(HashMap::new()),
            links: Mutex::new(HashMap::new()),
        }
    }

    /// Whether `given` is the admin token (constant time).
    pub fn token_matches(&self, given: &str) -> bool {
        bool::from(sha256(given.trim()).ct_eq(&self.token))
    }

    /// The operator of these headers' live session cookie (Bearer tokens are checked by
    /// [`access`], which counts wrong ones).
    pub fn session(&self, headers: &HeaderMap) -> Option<Operator> {
        let id = cookie(headers, SESSION_COOKIE)?;
        let key = sha256(id);
        let mut sessions = self.sessions.lock().ok()?;
        let now = Instant::now();
        sessions.retain(|_, s| {
            let live = s.expires > now;
            if !live {
                s.ended.cancel();
            }
            live
        });
        sessions.get(&key).map(|s| Operator {
            csrf: Some(s.csrf.clone()),
            session_end: Some((s.ended.clone(), s.expires)),
        })
    }

    /// Opens a session; returns the `Set-Cookie` value. None when randomness fails.
    fn open_session(&self) -> Option<HeaderValue> {
        let id = crate::services::random_token()?;
        let csrf = crate::services::random_token()?;
        let mut sessions = self.sessions.lock().ok()?;
        sessions.insert(
            sha256(&id),
            Session {
                csrf,
                expires: Instant::now() + SESSION_TTL,
                ended: CancellationToken::new(),
            },
        );
        let secure = if self.secure_cookie { "; Secure" } else { "" };
        HeaderValue::from_str(&format!(
            "{SESSION_COOKIE}={id}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{secure}",
            SESSION_TTL.as_secs()
        ))
        .ok()
    }

    /// Logs in with the admin token: the session cookie, or None when the token is wrong.
    pub fn login(&self, token: &str) -> Option<HeaderValue> {
        if self.token_matches(token) {
            self.open_session()
        } else {
            None
        }
    }

    /// Ends the session of these headers (and its live streams); returns the cookie that clears it
    /// in the browser.
    pub fn logout(&self, headers: &HeaderMap) -> HeaderValue {
        if let Some(id) = cookie(headers, SESSION_COOKIE) {
            if let Ok(mut s) = self.sessions.lock() {
                if let Some(session) = s.remove(&sha256(id)) {
                    session.ended.cancel();
                }
            }
        }
        HeaderValue::from_static("zfsync_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0")
    }

    /// A new one-time login secret for [`super::console::ROUTE_LOGIN_LINK`] (valid [`LINK_TTL`]).
    pub fn login_link(&self) -> Option<String> {
        let t = crate::services::random_token()?;
        let mut links = self.links.lock().ok()?;
        let now = Instant::now();
        links.retain(|_, exp| *exp > now);
        links.insert(sha256(&t), now + LINK_TTL);
        Some(t)
    }

    /// Uses a one-time login secret: the session cookie, or None when unknown, used or expired.
    pub fn redeem_link(&self, t: &str) -> Option<HeaderValue> {
        let exp = self.links.lock().ok()?.remove(&sha256(t))?;
        (exp > Instant::now()).then(|| self.open_session())?
    }

    /// Whether a state-changing request carries this session's CSRF token.
    pub(super) fn csrf_ok(expected: &str, headers: &HeaderMap, form: Option<&[u8]>) -> bool {
        let given = headers
            .get(CSRF_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
            .or_else(|| {
                url::form_urlencoded::parse(form?)
                    .find(|(k, _)| k == CSRF_FIELD)
                    .map(|(_, v)| v.into_owned())
            });
        match given {
            Some(g) if !expected.is_empty() => bool::from(sha256(&g).ct_eq(&sha256(expected))),
            _ => false,
        }
    }
}

/// The Bearer token of a request, if any.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, rest) = v.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
}

/// A cookie's value.
fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        h
    }

    #[test]
    fn bearer_and_sessions() {
        let auth = Auth::new(&SecretString::from("s3cret"), true);
        assert!(auth.session(&headers(&[])).is_none());
        assert!(!auth.token_matches("wrong"));
        assert!(auth.token_matches("s3cret"));
        assert_eq!(
            bearer(&headers(&[("authorization", "Bearer s3cret")])),
            Some("s3cret")
        );
        assert!(auth.login("nope").is_none());
        let set = auth.login("s3cret").unwrap();
        let set = set.to_str().unwrap();
        assert!(
            set.contains("HttpOnly") && set.contains("SameSite=Strict") && set.contains("Secure")
        );
        let id = set.split(';').next().unwrap();
        let op = auth.session(&headers(&[("cookie", id)])).unwrap();
        let csrf = op.csrf.clone().unwrap();
        assert!(Auth::csrf_ok(
            &csrf,
            &headers(&[(CSRF_HEADER, &csrf)]),
            None
        ));
        let form = format!("a=1&csrf={csrf}");
        assert!(Auth::csrf_ok(&csrf, &headers(&[]), Some(form.as_bytes())));
        assert!(!Auth::csrf_ok(&csrf, &headers(&[]), Some(b"a=1")));
        let (signed_out, _) = op.session_end.clone().unwrap();
        assert!(!signed_out.is_cancelled());
        auth.logout(&headers(&[("cookie", id)]));
        assert!(auth.session(&headers(&[("cookie", id)])).is_none());
        assert!(signed_out.is_cancelled(), "its live streams end");
    }

    #[tokio::test]
    async fn a_session_ends_at_its_expiry_and_bearer_never() {
        let expired = Operator {
            csrf: Some("c".into()),
            session_end: Some((CancellationToken::new(), Instant::now())),
        };
        // Resolves at once: the session's expiry has passed.
        expired.ended().await;
        let bearer = Operator {
            csrf: None,
            session_end: None,
        };
        let never = tokio::time::timeout(Duration::from_millis(20), bearer.ended()).await;
        assert!(never.is_err());
    }

    #[test]
    fn login_links_work_once() {
        let auth = Auth::new(&SecretString::from("t"), false);
        let link = auth.login_link().unwrap();
        let set = auth.redeem_link(&link).unwrap();
        assert!(!set.to_str().unwrap().contains("Secure"));
        assert!(auth.redeem_link(&link).is_none());
        assert!(auth.redeem_link("made-up").is_none());
    }
}
