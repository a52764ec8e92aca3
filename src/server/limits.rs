//! How fast anyone may call the public pages, and how many wrong operator tokens anyone may try.
//!
//! Rate limits ([`RateLimits`]) count per client address ([`super::client`]: IPv4 by address, IPv6
//! by /64) in one bucket per route family ([`Family`]), so guessing hosted-file links never slows
//! the OAuth callback or the console. `/healthz` and `/readyz` are outside every limit (a load
//! balancer must always get its answer), and so are the webhooks (the platforms retry, and storing
//! must never wait).
//!
//! Wrong operator tokens ([`FailedLogins`]), typed on the sign-in page or sent as a Bearer header,
//! are limited twice: per client address ([`ADDRESS_FAILED_LOGINS`] in [`FAILED_WINDOW`]) and for
//! everyone together ([`GLOBAL_FAILED_LOGINS`] in [`FAILED_WINDOW`]). Past the global ceiling every
//! token check is refused (429) for a backoff that starts at [`LOCKOUT_FIRST`] and doubles with each
//! lockout that follows within a window, up to [`LOCKOUT_MAX`]: changing addresses gives no more
//! guesses. Open sessions keep working meanwhile; only new sign-ins and Bearer requests wait. Each
//! refused token is logged at WARN with the client's address (never with the token).

use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use super::client::{rate_key, TrustedProxies};
use super::AppState;
use crate::telemetry::events::{InternalEvent, LoginFailed, LoginLockout, RateLimited};

/// Requests per second per address in each family but the login (bursts up to [`GENERAL_BURST`]).
pub const GENERAL_PER_SECOND: u32 = 20;
/// The burst of the general limit.
pub const GENERAL_BURST: u32 = 60;
/// Login attempts per minute per address (bursts up to [`LOGIN_BURST`]).
pub const LOGIN_PER_MINUTE: u32 = 10;
/// The burst of the login limit.
pub const LOGIN_BURST: u32 = 10;
/// Wrong tokens one address may try per [`FAILED_WINDOW`].
pub const ADDRESS_FAILED_LOGINS: u32 = 10;
/// Wrong tokens all addresses together may try per [`FAILED_WINDOW`] before the lockout.
pub const GLOBAL_FAILED_LOGINS: u32 = 30;
/// The window wrong tokens are counted in.
pub const FAILED_WINDOW: Duration = Duration::from_secs(10 * 60);
/// The first lockout past the global ceiling.
pub const LOCKOUT_FIRST: Duration = Duration::from_secs(60);
/// The longest lockout.
pub const LOCKOUT_MAX: Duration = Duration::from_secs(3600);
/// Addresses remembered before old ones are dropped.
const MAX_TRACKED: usize = 10_000;

/// A family of routes with a bucket of its own per address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// The sign-in form and one-time links (the strict limit).
    Login,
    /// Hosted files (`/files/*`).
    Files,
    /// The OAuth start and callback.
    OAuth,
    /// The console's pages, live streams and assets.
    Console,
    /// `/metrics`.
    Metrics,
}

impl Family {
    /// The metric label.
    pub fn as_str(self) -> &'static str {
        match self {
            Family::Login => "login",
            Family::Files => "files",
            Family::OAuth => "oauth",
            Family::Console => "console",
            Family::Metrics => "metrics",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

const FAMILIES: usize = 5;

/// The per-address limits of every family, the trusted proxies that say who the address is, and
/// the wrong-token accounting.
pub struct RateLimits {
    proxies: TrustedProxies,
    buckets: [DefaultKeyedRateLimiter<IpAddr>; FAMILIES],
    failed: FailedLogins,
}

impl std::fmt::Debug for RateLimits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimits")
            .field("proxies", &self.proxies)
            .finish_non_exhaustive()
    }
}

impl Default for RateLimits {
    fn default() -> Self {
        RateLimits::new(TrustedProxies::default())
    }
}

impl RateLimits {
    /// Limits whose client addresses are read through these proxies.
    pub fn new(proxies: TrustedProxies) -> RateLimits {
        let nz = |n: u32| NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN);
        let general = || {
            RateLimiter::keyed(
                Quota::per_second(nz(GENERAL_PER_SECOND)).allow_burst(nz(GENERAL_BURST)),
            )
        };
        RateLimits {
            proxies,
            buckets: [
                RateLimiter::keyed(
                    Quota::per_minute(nz(LOGIN_PER_MINUTE)).allow_burst(nz(LOGIN_BURST)),
                ),
                general(),
                general(),
                general(),
                general(),
            ],
            failed: FailedLogins::default(),
        }
    }

    /// The reverse proxies whose `X-Forwarded-For` is believed.
    pub fn proxies(&self) -> &TrustedProxies {
        &self.proxies
    }

    /// The wrong-token accounting.
    pub fn failed_logins(&self) -> &FailedLogins {
        &self.failed
    }

    /// Takes one request of `family` from `ip`'s allowance; false when it is used up.
    pub fn allow(&self, family: Family, ip: IpAddr) -> bool {
        let l = &self.buckets[family.index()];
        if l.len() > MAX_TRACKED {
            l.retain_recent();
        }
        l.check_key(&rate_key(ip)).is_ok()
    }
}

/// Wrong tokens counted in one window.
#[derive(Debug, Clone, Copy)]
struct Window {
    start: Instant,
    count: u32,
}

impl Window {
    fn new(now: Instant) -> Window {
        Window {
            start: now,
            count: 0,
        }
    }

    fn current(&mut self, now: Instant) -> &mut Window {
        if now.duration_since(self.start) >= FAILED_WINDOW {
            *self = Window::new(now);
        }
        self
    }
}

#[derive(Debug)]
struct FailState {
    per_address: HashMap<IpAddr, Window>,
    global: Window,
    locked_until: Option<Instant>,
    /// Lockouts in a row (each within a window of the last): the backoff doubles with each.
    lockouts: u32,
}

/// Where a wrong token was tried (the metric label).
#[derive(Debug, Clone, Copy)]
pub enum Via {
    /// The console's sign-in form.
    Form,
    /// An `Authorization: Bearer` header.
    Bearer,
}

impl Via {
    fn as_str(self) -> &'static str {
        match self {
            Via::Form => "form",
            Via::Bearer => "bearer",
        }
    }
}

/// Counts wrong operator tokens per address and for everyone, and says when no token may be
/// tried.
#[derive(Debug)]
pub struct FailedLogins {
    state: Mutex<FailState>,
}

impl Default for FailedLogins {
    fn default() -> Self {
        let now = Instant::now();
        FailedLogins {
            state: Mutex::new(FailState {
                per_address: HashMap::new(),
                global: Window::new(now),
                locked_until: None,
                lockouts: 0,
            }),
        }
    }
}

impl FailedLogins {
    /// Whether `client` may try a token now; otherwise how long until it may.
    pub fn admit(&self, client: Option<IpAddr>) -> Result<(), Duration> {
        self.admit_at(client, Instant::now())
    }

    fn admit_at(&self, client: Option<IpAddr>, now: Instant) -> Result<(), Duration> {
        let Ok(mut s) = self.state.lock() else {
            // A poisoned lock: refuse rather than stop counting.
            return Err(LOCKOUT_FIRST);
        };
        if let Some(until) = s.locked_until.filter(|u| *u > now) {
            return Err(until - now);
        }
        if let Some(w) = client.and_then(|ip| s.per_address.get_mut(&rate_key(ip))) {
            let w = w.current(now);
            if w.count >= ADDRESS_FAILED_LOGINS {
                return Err((w.start + FAILED_WINDOW).saturating_duration_since(now));
            }
        }
        Ok(())
    }

    /// Notes a wrong token from `client`, logs it with the address, and starts a lockout when
    /// everyone's wrong tokens reach the ceiling.
    pub fn failed(&self, client: Option<IpAddr>, via: Via) {
        self.failed_at(client, via, Instant::now());
    }

    fn failed_at(&self, client: Option<IpAddr>, via: Via, now: Instant) {
        let shown = client.map_or_else(|| "unknown".to_string(), |ip| ip.to_string());
        LoginFailed {
            client: &shown,
            via: via.as_str(),
        }
        .emit();
        let Ok(mut s) = self.state.lock() else {
            return;
        };
        if let Some(ip) = client {
            if s.per_address.len() >= MAX_TRACKED {
                s.per_address
                    .retain(|_, w| now.duration_since(w.start) < FAILED_WINDOW);
            }
            if s.per_address.len() < MAX_TRACKED {
                s.per_address
                    .entry(rate_key(ip))
                    .or_insert_with(|| Window::new(now))
                    .current(now)
                    .count += 1;
            }
        }
        let g = s.global.current(now);
        g.count += 1;
        if g.count < GLOBAL_FAILED_LOGINS {
            return;
        }
        // A lockout within a window of the previous one's end doubles; a quiet window resets it.
        let recent = s
            .locked_until
            .is_some_and(|u| now.saturating_duration_since(u) < FAILED_WINDOW);
        s.lockouts = if recent {
            s.lockouts.saturating_add(1)
        } else {
            1
        };
        let backoff = LOCKOUT_FIRST
            .saturating_mul(1u32 << s.lockouts.saturating_sub(1).min(16))
            .min(LOCKOUT_MAX);
        s.locked_until = Some(now + backoff);
        s.global = Window::new(now);
        LoginLockout {
            failures: GLOBAL_FAILED_LOGINS,
            window_s: FAILED_WINDOW.as_secs(),
            lockout_s: backoff.as_secs(),
        }
        .emit();
    }
}

/// The answer to a request over a limit: 429 with `Retry-After`.
pub fn too_many(retry_after: Duration, what: &'static str) -> Response {
    let secs = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
    (
        StatusCode::TOO_MANY_REQUESTS,
        [(header::RETRY_AFTER, secs.max(1).to_string())],
        what,
    )
        .into_response()
}

/// Middleware: the per-address limit of one route family (`from_fn_with_state((state, family), ..)`).
pub async fn rate_limit(
    State((state, family)): State<(AppState, Family)>,
    req: Request,
    next: Next,
) -> Response {
    if let Some(ip) = super::client::of(&req) {
        if !state.limits.allow(family, ip) {
            RateLimited {
                limit: family.as_str(),
            }
            .emit();
            return too_many(
                Duration::from_secs(1),
                "too many requests from this address; slow down",
            );
        }
    }
    next.run(req).await
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn the_login_limit_runs_out_per_address() {
        let l = RateLimits::default();
        let a = ip("192.0.2.1");
        let allowed = (0..50).filter(|_| l.allow(Family::Login, a)).count();
        assert_eq!(allowed, LOGIN_BURST as usize);
        assert!(l.allow(Family::Login, ip("192.0.2.2")));
        // Another family has its own bucket.
        assert!(l.allow(Family::Files, a));
    }

    #[test]
    fn an_ipv6_64_shares_one_bucket() {
        let l = RateLimits::default();
        let allowed = (0..50u32)
            .filter(|i| l.allow(Family::Login, ip(&format!("2001:db8:0:1::{i:x}"))))
            .count();
        assert_eq!(allowed, LOGIN_BURST as usize);
        assert!(l.allow(Family::Login, ip("2001:db8:0:2::1")));
    }

    #[test]
    fn wrong_tokens_are_capped_per_address_and_for_everyone() {
        let f = FailedLogins::default();
        let t0 = Instant::now();
        let a = Some(ip("198.51.100.1"));
        for _ in 0..ADDRESS_FAILED_LOGINS {
            assert!(f.admit_at(a, t0).is_ok());
            f.failed_at(a, Via::Form, t0);
        }
        assert!(f.admit_at(a, t0).is_err(), "this address is done for now");
        assert!(f.admit_at(Some(ip("198.51.100.2")), t0).is_ok());
        assert!(f.admit_at(a, t0 + FAILED_WINDOW).is_ok(), "a new window");
        // Rotating addresses: the global ceiling locks everyone out, with a doubling backoff.
        for i in ADDRESS_FAILED_LOGINS..GLOBAL_FAILED_LOGINS {
            f.failed_at(Some(ip(&format!("203.0.113.{i}"))), Via::Bearer, t0);
        }
        let wait = f.admit_at(Some(ip("192.0.2.99")), t0).unwrap_err();
        assert_eq!(wait, LOCKOUT_FIRST);
        let t1 = t0 + LOCKOUT_FIRST;
        assert!(f.admit_at(Some(ip("192.0.2.99")), t1).is_ok());
        for i in 0..GLOBAL_FAILED_LOGINS {
            f.failed_at(Some(ip(&format!("192.0.2.{i}"))), Via::Form, t1);
        }
        assert_eq!(f.admit_at(None, t1).unwrap_err(), LOCKOUT_FIRST * 2);
        // After a quiet window, the backoff starts over.
        let t2 = t1 + LOCKOUT_FIRST * 2 + FAILED_WINDOW;
        for i in 0..GLOBAL_FAILED_LOGINS {
            f.failed_at(Some(ip(&format!("192.0.2.{i}"))), Via::Form, t2);
        }
        assert_eq!(f.admit_at(None, t2).unwrap_err(), LOCKOUT_FIRST);
    }
}
