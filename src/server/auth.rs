//! Operator access: who may open the operator routes (`/oauth/zalo/start`, `/console/*`, the
//! details of `/readyz`), and how fast anyone may call the public pages.
//!
//! An operator proves they hold the admin token either as `Authorization: Bearer <token>`
//! (scripts) or by typing it once on the login page, which opens a session: a random id in an
//! `HttpOnly`, `SameSite=Strict` cookie (`Secure` when `public_url` is https) that expires after
//! [`SESSION_TTL`]. Sessions live in memory, so a restart logs everyone out. Each session has its own
//! CSRF token; a state-changing request made with the cookie must carry it (`x-csrf-token` header or
//! a `csrf` form field). Bearer requests need no CSRF token: a browser never adds that header by
//! itself. Tokens are compared in constant time (over their SHA-256, so not even the length leaks).
//!
//! A one-time login link ([`Auth::login_link`]) opens a session without typing the token: the
//! sandbox prints one. It works once, within [`LINK_TTL`].
//!
//! Per-address rate limits ([`RateLimits`]) guard the OAuth, file, health and login routes, never
//! the webhooks. Behind a reverse proxy on the same machine, the address is the last one the proxy
//! added to `X-Forwarded-For`.
//!
//! Failure: a stranger gets 401 with the login page (or a plain 401 for non-page requests) and
//! learns nothing about the daemon; too many requests get 429. Nothing here logs a token.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_lc_rs::digest;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use secrecy::{ExposeSecret, SecretString};
use subtle::ConstantTimeEq;

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
/// Largest form body read when looking for the CSRF field.
const MAX_FORM_BYTES: usize = 64 * 1024;

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
}

impl Operator {
    /// The CSRF token to put in forms ("" for Bearer requests).
    pub fn csrf(&self) -> &str {
        self.csrf.as_deref().unwrap_or("")
    }
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

    /// The operator behind these headers: a valid Bearer token or a live session cookie.
    pub fn operator(&self, headers: &HeaderMap) -> Option<Operator> {
        if let Some(b) = bearer(headers) {
            return self.token_matches(b).then_some(Operator { csrf: None });
        }
        let id = cookie(headers, SESSION_COOKIE)?;
        let key = sha256(id);
        let mut sessions = self.sessions.lock().ok()?;
        let now = Instant::now();
        sessions.retain(|_, s| s.expires > now);
        sessions.get(&key).map(|s| Operator {
            csrf: Some(s.csrf.clone()),
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

    /// Ends the session of these headers; returns the cookie that clears it in the browser.
    pub fn logout(&self, headers: &HeaderMap) -> HeaderValue {
        if let Some(id) = cookie(headers, SESSION_COOKIE) {
            if let Ok(mut s) = self.sessions.lock() {
                s.remove(&sha256(id));
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
    fn csrf_ok(expected: &str, headers: &HeaderMap, form: Option<&[u8]>) -> bool {
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

/// Whether the client asked for a page (a browser) rather than data.
fn wants_html(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("text/html"))
}

/// The refusal a stranger gets: 401, and the login page when a browser asked for a page.
pub fn unauthorized(headers: &HeaderMap, next: &str) -> Response {
    let mut resp = if wants_html(headers) {
        super::console::login_page(next, None).into_response()
    } else {
        "unauthorized: send 'Authorization: Bearer <admin token>' or log in at /console/login"
            .into_response()
    };
    *resp.status_mut() = StatusCode::UNAUTHORIZED;
    resp.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer realm=\"zfsync\""),
    );
    resp
}

/// Middleware for the OAuth start: a request carrying a one-time link's `ticket` goes on (the handler
/// checks and uses up the ticket, refusing an unknown one); anything else needs an operator.
pub async fn require_operator_or_ticket(
    State(state): State<AppState>,
    req: Request,
    next: Next,
) -> Response {
    let has_ticket = req
        .uri()
        .query()
        .is_some_and(|q| q.split('&').any(|kv| kv.starts_with("ticket=")));
    if has_ticket {
        return next.run(req).await;
    }
    require_operator(State(state), req, next).await
}

/// Middleware for operator routes: lets operators through (with an [`Operator`] extension), checks
/// the CSRF token of state-changing cookie requests, and refuses everyone else.
pub async fn require_operator(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let Some(op) = state.auth.operator(req.headers()) else {
        let next_path = req
            .uri()
            .path_and_query()
            .map(|p| p.as_str().to_string())
            .unwrap_or_default();
        return unauthorized(req.headers(), &next_path);
    };
    let safe = matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    let mut req = match (&op.csrf, safe) {
        (Some(expected), false) => {
            let (parts, body) = req.into_parts();
            let is_form = parts
                .headers
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|c| c.starts_with("application/x-www-form-urlencoded"));
            let bytes = if is_form {
                match axum::body::to_bytes(body, MAX_FORM_BYTES).await {
                    Ok(b) => Some(b),
                    Err(_) => {
                        return (StatusCode::PAYLOAD_TOO_LARGE, "form too large").into_response()
                    }
                }
            } else {
                None
            };
            if !Auth::csrf_ok(expected, &parts.headers, bytes.as_deref()) {
                return (
                    StatusCode::FORBIDDEN,
                    "refused: this form is missing its CSRF token or it is stale; reload the page and try again",
                )
                    .into_response();
            }
            Request::from_parts(parts, bytes.map(Body::from).unwrap_or_else(Body::empty))
        }
        _ => req,
    };
    req.extensions_mut().insert(op);
    next.run(req).await
}

/// Per-address limits: one for the OAuth, file and health routes, a stricter one for logins.
pub struct RateLimits {
    general: DefaultKeyedRateLimiter<IpAddr>,
    login: DefaultKeyedRateLimiter<IpAddr>,
}

impl std::fmt::Debug for RateLimits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimits").finish_non_exhaustive()
    }
}

/// Requests per second per address on the OAuth, file and health routes (bursts up to
/// [`GENERAL_BURST`]).
pub const GENERAL_PER_SECOND: u32 = 20;
/// The burst of the general limit.
pub const GENERAL_BURST: u32 = 60;
/// Login attempts per minute per address (bursts up to [`LOGIN_BURST`]).
pub const LOGIN_PER_MINUTE: u32 = 10;
/// The burst of the login limit.
pub const LOGIN_BURST: u32 = 10;
/// Addresses remembered before old ones are dropped.
const MAX_TRACKED: usize = 10_000;

impl Default for RateLimits {
    fn default() -> Self {
        let nz = |n: u32| NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN);
        RateLimits {
            general: RateLimiter::keyed(
                Quota::per_second(nz(GENERAL_PER_SECOND)).allow_burst(nz(GENERAL_BURST)),
            ),
            login: RateLimiter::keyed(
                Quota::per_minute(nz(LOGIN_PER_MINUTE)).allow_burst(nz(LOGIN_BURST)),
            ),
        }
    }
}

/// Which limit a route is under.
#[derive(Debug, Clone, Copy)]
pub enum Limit {
    /// OAuth, files, health, metrics.
    General,
    /// The login form and one-time links.
    Login,
}

impl RateLimits {
    /// Takes one request from `ip`'s allowance; false when it is used up.
    pub fn allow(&self, which: Limit, ip: IpAddr) -> bool {
        let l = match which {
            Limit::General => &self.general,
            Limit::Login => &self.login,
        };
        if l.len() > MAX_TRACKED {
            l.retain_recent();
        }
        l.check_key(&ip).is_ok()
    }
}

/// The client's address: the peer, or, when the peer is this machine (a reverse proxy), the last
/// address the proxy added to `X-Forwarded-For`.
pub fn client_ip(req: &Request) -> Option<IpAddr> {
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())?;
    if peer.is_loopback() {
        let forwarded = req
            .headers()
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .last()
            .and_then(|s| s.trim().parse::<IpAddr>().ok());
        if let Some(ip) = forwarded {
            return Some(ip);
        }
    }
    Some(peer)
}

async fn limited(state: &AppState, which: Limit, req: Request, next: Next) -> Response {
    if let Some(ip) = client_ip(&req) {
        if !state.limits.allow(which, ip) {
            metrics::counter!("zfsync_rate_limited_total", "limit" => match which {
                Limit::General => "general",
                Limit::Login => "login",
            })
            .increment(1);
            return (
                StatusCode::TOO_MANY_REQUESTS,
                [(header::RETRY_AFTER, "1")],
                "too many requests from this address; slow down",
            )
                .into_response();
        }
    }
    next.run(req).await
}

/// Middleware: the general per-address limit.
pub async fn rate_limit(State(state): State<AppState>, req: Request, next: Next) -> Response {
    limited(&state, Limit::General, req, next).await
}

/// Middleware: the login per-address limit.
pub async fn rate_limit_login(State(state): State<AppState>, req: Request, next: Next) -> Response {
    limited(&state, Limit::Login, req, next).await
}

/// Shared handle.
pub type SharedAuth = Arc<Auth>;

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
        assert!(auth.operator(&headers(&[])).is_none());
        assert!(auth
            .operator(&headers(&[("authorization", "Bearer wrong")]))
            .is_none());
        assert!(auth
            .operator(&headers(&[("authorization", "Bearer s3cret")]))
            .is_some());
        assert!(auth.login("nope").is_none());
        let set = auth.login("s3cret").unwrap();
        let set = set.to_str().unwrap();
        assert!(
            set.contains("HttpOnly") && set.contains("SameSite=Strict") && set.contains("Secure")
        );
        let id = set.split(';').next().unwrap();
        let op = auth.operator(&headers(&[("cookie", id)])).unwrap();
        let csrf = op.csrf.clone().unwrap();
        assert!(Auth::csrf_ok(
            &csrf,
            &headers(&[(CSRF_HEADER, &csrf)]),
            None
        ));
        let form = format!("a=1&csrf={csrf}");
        assert!(Auth::csrf_ok(&csrf, &headers(&[]), Some(form.as_bytes())));
        assert!(!Auth::csrf_ok(&csrf, &headers(&[]), Some(b"a=1")));
        auth.logout(&headers(&[("cookie", id)]));
        assert!(auth.operator(&headers(&[("cookie", id)])).is_none());
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

    #[test]
    fn the_login_limit_runs_out() {
        let l = RateLimits::default();
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let allowed = (0..50).filter(|_| l.allow(Limit::Login, ip)).count();
        assert_eq!(allowed, LOGIN_BURST as usize);
        assert!(l.allow(Limit::Login, "192.0.2.2".parse().unwrap()));
    }
}
