//! What stands in front of every `/v2` route: latency, injected faults, bearer auth and the rate
//! limit, in that order.
//!
//! Faults are for reliability tests: scripted ones ([`Fault`], for the next n calls under a path
//! prefix) and a seeded random fault rate ([`RandomFaults`]: a share of calls fail with a mix of
//! 5xx, 429 and hangs, the same sequence for the same seed and call order). A 429 always carries
//! `Retry-After` (seconds) and the `X-RateLimit-*` headers. Auth failures answer 401
//! `{"code":401,"status":"UNAUTHORIZED","message":"Unauthenticated Request"}`. Nothing here fails
//! on its own; a hang ends with a 504 after the configured time, or at shutdown.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::header::AUTHORIZATION;
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::wire::{
    error_response, set_num, status_name, ApiErr, RATE_LIMIT_LIMIT_HEADER,
    RATE_LIMIT_REMAINING_HEADER, RATE_LIMIT_RESET_HEADER, RETRY_AFTER_HEADER,
};
use super::{FreshchatSim, Inner};

/// What an injected fault does to one API call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Answer this status (`{code,status,message}`) without doing the work; 429 adds
    /// `Retry-After: 1` and the `X-RateLimit-*` headers.
    Status(u16),
    /// Do the work, then answer this status: the caller cannot tell that the effect happened
    /// (a message posted, a user created), as after a gateway error on the way back.
    StatusAfterEffect(u16),
    /// Never answer: the call hangs until the client gives up (or
    /// [`SimConfig::hang_for`](super::SimConfig) passes, then 504).
    Hang,
    /// Answer normally after this extra delay.
    Delay(Duration),
}

/// A seeded random fault rate over all `/v2` calls.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RandomFaults {
    /// Share of calls that fail, 0.0 to 1.0 (e.g. 0.2).
    pub rate: f64,
    /// Seed of the draws: the same seed and call order give the same faults.
    pub seed: u64,
}

/// How many faults have been injected so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct FaultStats {
    /// 5xx answers (scripted or random).
    pub server_errors: u64,
    /// 429 answers (scripted, random or over the rate limit).
    pub rate_limited: u64,
    /// Calls left hanging.
    pub hangs: u64,
    /// Calls that did their work but answered an error.
    pub after_effect: u64,
}

struct Rule {
    prefix: String,
    remaining: u32,
    fault: Fault,
}

/// The gate's mutable settings, behind their own lock.
pub(crate) struct GateState {
    rules: Vec<Rule>,
    latency: Duration,
    rate_limit: Option<u32>,
    window: (Instant, u32),
    random: Option<(RandomFaults, fastrand::Rng)>,
    stats: FaultStats,
}

impl GateState {
    pub(crate) fn new(rate_limit: Option<u32>, random: Option<RandomFaults>) -> Self {
        Self {
            rules: Vec::new(),
            latency: Duration::ZERO,
            rate_limit,
            window: (Instant::now(), 0),
            random: random.map(|r| (r, fastrand::Rng::with_seed(r.seed))),
            stats: FaultStats::default(),
        }
    }

    /// The fault for this call, if any: a scripted one first, else a random draw.
    fn pick(&mut self, path: &str) -> Option<Fault> {
        if let Some(rule) = self
            .rules
            .iter_mut()
            .find(|r| r.remaining > 0 && path.starts_with(&r.prefix))
        {
            rule.remaining -= 1;
            let fault = rule.fault;
            self.rules.retain(|r| r.remaining > 0);
            return Some(fault);
        }
        let (cfg, rng) = self.random.as_mut()?;
        if rng.f64() >= cfg.rate {
            return None;
        }
        // The mix: half server errors, a quarter rate limits, a quarter hangs (timeouts).
        Some(match rng.u8(0..8) {
            0 | 1 => Fault::Status(500),
            2 => Fault::Status(502),
            3 => Fault::Status(503),
            4 | 5 => Fault::Status(429),
            _ => Fault::Hang,
        })
    }

    fn count(&mut self, code: u16) {
        if code == 429 {
            self.stats.rate_limited += 1;
        } else if code >= 500 {
            self.stats.server_errors += 1;
        }
    }
}

/// The middleware on every `/v2` route.
pub(crate) async fn gate(State(inner): State<Arc<Inner>>, req: Request, next: Next) -> Response {
    let path = req.uri().path().to_owned();
    let (latency, fault) = {
        let mut g = inner.gate();
        let fault = g.pick(&path);
        (g.latency, fault)
    };
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let mut after = None;
    match fault {
        Some(Fault::Status(code)) => {
            inner.gate().count(code);
            return injected(&inner, code);
        }
        Some(Fault::Hang) => {
            inner.gate().stats.hangs += 1;
            tokio::select! {
                () = tokio::time::sleep(inner.cfg.hang_for) => {}
                () = inner.shutdown.cancelled() => {}
            }
            return error_response(504, status_name(504), "gateway timeout");
        }
        Some(Fault::Delay(d)) => tokio::time::sleep(d).await,
        Some(Fault::StatusAfterEffect(code)) => after = Some(code),
        None => {}
    }
    if !authorized(&inner, &req) {
        return ApiErr::unauthorized().into_response();
    }
    let rate = {
        let mut g = inner.gate();
        g.rate_limit.map(|limit| {
            if g.window.0.elapsed() >= Duration::from_secs(60) {
                g.window = (Instant::now(), 0);
            }
            g.window.1 += 1;
            let left = Duration::from_secs(60).saturating_sub(g.window.0.elapsed());
            let used = g.window.1;
            if used > limit {
                g.stats.rate_limited += 1;
            }
            (limit, used, left)
        })
    };
    let mut resp = match rate {
        Some((limit, used, _)) if used > limit => {
            error_response(429, "TOO_MANY_REQUESTS", "Rate limit exceeded")
        }
        _ => next.run(req).await,
    };
    if let Some((limit, used, left)) = rate {
        let secs = (left.as_secs_f64().ceil() as i64).max(1);
        let h = resp.headers_mut();
        set_num(h, RATE_LIMIT_LIMIT_HEADER, i64::from(limit));
        set_num(
            h,
            RATE_LIMIT_REMAINING_HEADER,
            i64::from(limit.saturating_sub(used)),
        );
        set_num(
            h,
            RATE_LIMIT_RESET_HEADER,
            chrono::Utc::now().timestamp() + secs,
        );
        if used > limit {
            set_num(h, RETRY_AFTER_HEADER, secs);
        }
    }
    if let Some(code) = after {
        let mut g = inner.gate();
        g.count(code);
        g.stats.after_effect += 1;
        drop(g);
        return injected(&inner, code);
    }
    resp
}

/// An injected error answer; a 429 says when to come back.
fn injected(inner: &Inner, code: u16) -> Response {
    let mut resp = error_response(code, status_name(code), "injected failure");
    if code == 429 {
        let limit = inner.gate().rate_limit.unwrap_or(60);
        let h = resp.headers_mut();
        h.insert(RETRY_AFTER_HEADER, HeaderValue::from_static("1"));
        set_num(h, RATE_LIMIT_LIMIT_HEADER, i64::from(limit));
        set_num(h, RATE_LIMIT_REMAINING_HEADER, 0);
        set_num(
            h,
            RATE_LIMIT_RESET_HEADER,
            chrono::Utc::now().timestamp() + 1,
        );
    }
    resp
}

/// `Authorization: Bearer <the key>` (the scheme name in any case, as HTTP allows).
fn authorized(inner: &Inner, req: &Request) -> bool {
    let Some(v) = req
        .headers()
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    match (v.get(..7), v.get(7..)) {
        (Some(scheme), Some(token)) => {
            scheme.eq_ignore_ascii_case("bearer ")
                && !token.is_empty()
                && token == inner.cfg.api_key
        }
        _ => false,
    }
}

impl FreshchatSim {
    /// The next `n` API calls whose path starts with `path_prefix` answer `status` without doing
    /// their work (429 adds `Retry-After: 1` and the `X-RateLimit-*` headers).
    pub fn fail_next(&self, path_prefix: &str, n: u32, status: u16) {
        self.inject(path_prefix, n, Fault::Status(status));
    }

    /// The next `n` API calls whose path starts with `path_prefix` suffer `fault`.
    pub fn inject(&self, path_prefix: &str, n: u32, fault: Fault) {
        self.inner.gate().rules.push(Rule {
            prefix: path_prefix.to_owned(),
            remaining: n,
            fault,
        });
    }

    /// Sets (or with `None` clears) the seeded random fault rate; the draws restart from the seed.
    pub fn set_random_faults(&self, faults: Option<RandomFaults>) {
        self.inner.gate().random = faults
            .map(|r| (r, fastrand::Rng::with_seed(r.seed)))
            .filter(|(r, _)| r.rate > 0.0);
    }

    /// Faults injected so far.
    pub fn fault_stats(&self) -> FaultStats {
        self.inner.gate().stats
    }

    /// Adds a delay before every API answer.
    pub fn set_latency(&self, latency: Duration) {
        self.inner.gate().latency = latency;
    }

    /// Sets (or with `None` lifts) the per-minute rate limit; a new window starts now.
    pub fn set_rate_limit(&self, per_minute: Option<u32>) {
        let mut g = self.inner.gate();
        g.rate_limit = per_minute;
        g.window = (Instant::now(), 0);
    }
}
