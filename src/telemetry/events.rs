//! The daemon's internal events, in vector's manner: one small struct per occurrence, whose
//! [`InternalEvent::emit`] writes its log line (fields first, message last) and updates its metric,
//! so the two never drift apart. Every metric name is a constant in [`names`], and [`METRICS`]
//! lists them all (README's `/metrics` row names each one; a test holds both to it).
//!
//! Levels follow the style guide: ERROR only when an operator must act (the store cannot take
//! webhooks, an event failed for good, Zalo needs re-authorization); WARN for what an operator may
//! want to know; measurements (gauges, durations) log at TRACE. Labels are low-cardinality
//! `&'static str`s, never user or conversation ids; ids go in log fields only.
//!
//! This file names nothing else of the crate, so any module can emit from it without a cycle.
//!
//! Failure: none; with no recorder installed the metrics are no-ops, and logs follow the filter.

use std::time::Duration;

/// How a metric is recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Only goes up.
    Counter,
    /// Set to the current value.
    Gauge,
    /// A distribution of durations (seconds).
    Histogram,
}

/// One metric the daemon emits: its name, kind and help text (Prometheus' `# HELP`).
#[derive(Debug, Clone, Copy)]
pub struct Metric {
    /// The name.
    pub name: &'static str,
    /// How it is recorded.
    pub kind: Kind,
    /// What it counts.
    pub help: &'static str,
}

/// Declares each metric once: its constant in [`names`] and its line in [`METRICS`], whose help
/// text is the constant's doc comment.
macro_rules! catalogue {
    ($( #[doc = $help:literal] $name:ident = $text:literal, $kind:ident; )+) => {
        /// The metric names, each in one place.
        pub mod names {
            $( #[doc = $help] pub const $name: &str = $text; )+
        }
        /// Every metric the daemon emits.
        pub const METRICS: &[Metric] = &[
            $( Metric { name: names::$name, kind: Kind::$kind, help: $help.trim_ascii() }, )+
        ];
    };
}

catalogue! {
    /// Webhooks answered, by source and result (`stored`, `duplicate`, `url_check`, `store_*`).
    WEBHOOKS = "zfsync_webhooks_total", Counter;
    /// Webhooks refused before storing, by source and reason.
    WEBHOOK_REJECTS = "zfsync_webhook_rejects_total", Counter;
    /// Signed webhooks ignored because their own time is outside the replay window.
    WEBHOOK_REPLAYS = "zfsync_webhook_replays_total", Counter;
    /// From a webhook's first step to its answer, by source.
    WEBHOOK_ACK_SECONDS = "zfsync_webhook_ack_seconds", Histogram;
    /// Lanes running now.
    LANES_ACTIVE = "zfsync_lanes_active", Gauge;
    /// How long one attempt at an event took, by direction.
    EVENT_PROCESSING_SECONDS = "zfsync_event_processing_seconds", Histogram;
    /// Events that needed nothing done, by direction.
    EVENTS_IGNORED = "zfsync_events_ignored_total", Counter;
    /// Transient failures that will be retried, by direction and class.
    RETRIES = "zfsync_retries_total", Counter;
    /// Events failed for good (kept for replay), by direction and class.
    FAILURES = "zfsync_failures_total", Counter;
    /// Messages delivered to the other platform, by direction.
    MESSAGES_SYNCED = "zfsync_messages_synced_total", Counter;
    /// Media sent another way (a text part, a hosted link), by direction.
    MEDIA_FALLBACKS = "zfsync_media_fallbacks_total", Counter;
    /// Attachment downloads refused (egress policy, size, type).
    MEDIA_REFUSED = "zfsync_media_refused_total", Counter;
    /// Freshchat users refused as a Zalo customer's, by reason.
    IDENTITY_REFUSALS = "zfsync_identity_refusals_total", Counter;
    /// Zalo group and call events, which zfsync does not sync, by kind.
    ZALO_EVENTS_IGNORED = "zfsync_zalo_events_ignored_total", Counter;
    /// Messages Zalo billed to the OA.
    ZALO_BILLED_MESSAGES = "zfsync_zalo_billed_messages_total", Counter;
    /// Customers' ratings after resolve, by score (1 to 5).
    CSAT_RATINGS = "zfsync_csat_ratings_total", Counter;
    /// Customers whose free 48 h are over and whose 7 days are not (a lower bound).
    ZALO_CUSTOMERS_IN_BILLED_WINDOW = "zfsync_zalo_customers_in_billed_window", Gauge;
    /// Seconds until Zalo's access token expires.
    ZALO_TOKEN_SECONDS_TO_EXPIRY = "zfsync_zalo_token_seconds_to_expiry", Gauge;
    /// Token refreshes, by result (`ok`, `rejected`, `unlisted`, `error`).
    TOKEN_REFRESHES = "zfsync_token_refreshes_total", Counter;
    /// Requests to the OAuth callback, by outcome.
    OAUTH_CALLBACKS = "zfsync_oauth_callbacks_total", Counter;
    /// Zalo authorizations refused, by reason.
    OAUTH_REFUSALS = "zfsync_oauth_refusals_total", Counter;
    /// Wrong operator tokens, by where they were given (`via`).
    LOGIN_FAILURES = "zfsync_login_failures_total", Counter;
    /// Lockouts after too many wrong operator tokens.
    LOGIN_LOCKOUTS = "zfsync_login_lockouts_total", Counter;
    /// Requests over a per-address limit, by route family.
    RATE_LIMITED = "zfsync_rate_limited_total", Counter;
    /// Events waiting in the inbox.
    QUEUE_DEPTH = "zfsync_queue_depth", Gauge;
    /// Store transactions, by result.
    STORE_COMMITS = "zfsync_store_commits_total", Counter;
    /// Notifications of new work stored by another replica (PostgreSQL), each waking its pairing.
    WORK_NOTIFIED = "zfsync_work_notified_total", Counter;
    /// Lane leases between replicas (PostgreSQL), by outcome (`held_elsewhere`, `lost`, `renew_failed`, `take_failed`, `release_failed`).
    LANE_LEASES = "zfsync_lane_leases_total", Counter;
    /// 1 while the store's disk is full (webhooks are answered 503).
    STORE_FULL = "zfsync_store_full", Gauge;
    /// Every call to either platform, by platform, operation and outcome.
    UPSTREAM_CALL_SECONDS = "zfsync_upstream_call_seconds", Histogram;
}

use names::*;

/// Gives every metric its help text in the installed recorder (Prometheus' `# HELP` lines).
pub fn describe() {
    for m in METRICS {
        match m.kind {
            Kind::Counter => metrics::describe_counter!(m.name, m.help),
            Kind::Gauge => metrics::describe_gauge!(m.name, m.help),
            Kind::Histogram => metrics::describe_histogram!(m.name, m.help),
        }
    }
}

/// The `direction` label of an event going from Zalo to Freshchat.
pub const TO_FRESHCHAT: &str = "to_freshchat";
/// ... from Freshchat to Zalo.
pub const TO_ZALO: &str = "to_zalo";

/// One occurrence worth a log line and a metric. The structs are here (webhooks, lanes) and in
/// `access.rs` (OAuth, operator sign-in, Zalo tokens), `sync.rs` (deliveries, media, identities)
/// and `state.rs` (gauges, the store, upstream calls).
pub trait InternalEvent {
    /// Writes the log line and updates the metric.
    fn emit(&self);
}

// ---- webhooks (ingest) ----

/// A webhook was answered `elapsed` after its handler started (Zalo allows 2 s).
#[derive(Debug)]
pub struct WebhookAcked {
    /// `zalo` or `freshchat`.
    pub source: &'static str,
    /// Handler start to answer.
    pub elapsed: Duration,
}

impl InternalEvent for WebhookAcked {
    fn emit(&self) {
        tracing::trace!(
            source = self.source,
            elapsed_ms = self.elapsed.as_millis() as u64,
            "answered a webhook"
        );
        metrics::histogram!(WEBHOOK_ACK_SECONDS, "pairing" => crate::telemetry::pairing_label(), "source" => self.source)
            .record(self.elapsed.as_secs_f64());
    }
}

/// A verified webhook was stored (`stored`) or was already there (`duplicate`).
#[derive(Debug)]
pub struct WebhookStored {
    /// `zalo` or `freshchat`.
    pub source: &'static str,
    /// `stored` or `duplicate`.
    pub result: &'static str,
}

impl InternalEvent for WebhookStored {
    fn emit(&self) {
        tracing::debug!(source = self.source, result = self.result, "webhook stored");
        metrics::counter!(WEBHOOKS, "pairing" => crate::telemetry::pairing_label(), "source" => self.source, "result" => self.result).increment(1);
    }
}

/// A verified webhook could not be stored: answered 503 so the platform delivers it again.
#[derive(Debug)]
pub struct WebhookNotStored<'a> {
    /// `zalo` or `freshchat`.
    pub source: &'static str,
    /// `store_full`, `store_busy` or `store_unavailable`.
    pub reason: &'static str,
    /// The store's error.
    pub error: &'a str,
}

impl InternalEvent for WebhookNotStored<'_> {
    fn emit(&self) {
        tracing::error!(error = %self.error, source = self.source, reason = self.reason, "cannot store a webhook");
        metrics::counter!(WEBHOOKS, "pairing" => crate::telemetry::pairing_label(), "source" => self.source, "result" => self.reason).increment(1);
    }
}

/// Zalo's webhook URL check was answered. Anyone can send one: only the first of a period is
/// logged (`ingest::refusals`), every one is counted.
#[derive(Debug)]
pub struct WebhookUrlCheck {
    /// The first of its kind this period.
    pub first_of_kind: bool,
}

impl InternalEvent for WebhookUrlCheck {
    fn emit(&self) {
        if self.first_of_kind {
            tracing::info!("answered Zalo's webhook URL check");
        }
        metrics::counter!(WEBHOOKS, "pairing" => crate::telemetry::pairing_label(), "source" => "zalo", "result" => "url_check").increment(1);
    }
}

/// A webhook was refused before it was stored (unsigned, unreadable, too large, ...). Only the
/// first of its kind in a period is logged in full (`ingest::refusals`); every one is counted.
#[derive(Debug)]
pub struct WebhookRejected<'a> {
    /// `zalo` or `freshchat`.
    pub source: &'static str,
    /// The refusal's label (`bad_signature`, `not_json`, ...).
    pub reason: &'static str,
    /// What was wrong, for the log.
    pub detail: &'a str,
    /// The first of its kind this period.
    pub first_of_kind: bool,
}

impl InternalEvent for WebhookRejected<'_> {
    fn emit(&self) {
        if self.first_of_kind {
            tracing::warn!(source = self.source, reason = self.reason, detail = %self.detail, "webhook rejected (more of this kind are counted and summarised once a minute)");
        }
        metrics::counter!(WEBHOOK_REJECTS, "pairing" => crate::telemetry::pairing_label(), "source" => self.source, "reason" => self.reason)
            .increment(1);
    }
}

/// A signed webhook whose own time is outside the replay window: answered 200, not stored.
#[derive(Debug)]
pub struct WebhookReplayIgnored<'a> {
    /// `zalo` or `freshchat`.
    pub source: &'static str,
    /// The platform's event name.
    pub event: &'a str,
    /// The event's own time (unix ms).
    pub event_time: i64,
}

impl InternalEvent for WebhookReplayIgnored<'_> {
    fn emit(&self) {
        tracing::warn!(
            source = self.source,
            event = %self.event,
            event_time = self.event_time,
            "ignored a signed webhook whose time is outside the replay window"
        );
        metrics::counter!(WEBHOOK_REPLAYS, "pairing" => crate::telemetry::pairing_label(), "source" => self.source).increment(1);
    }
}

// ---- lanes ----

/// How many lanes run now (the dispatcher, after each round).
#[derive(Debug)]
pub struct LanesActive {
    /// Lanes running.
    pub count: usize,
}

impl InternalEvent for LanesActive {
    fn emit(&self) {
        tracing::trace!(count = self.count, "lanes running");
        metrics::gauge!(LANES_ACTIVE, "pairing" => crate::telemetry::pairing_label())
            .set(self.count as f64);
    }
}

/// One attempt at an event ended, `elapsed` after it began.
#[derive(Debug)]
pub struct EventProcessed {
    /// [`TO_FRESHCHAT`] or [`TO_ZALO`].
    pub direction: &'static str,
    /// The attempt's duration.
    pub elapsed: Duration,
}

impl InternalEvent for EventProcessed {
    fn emit(&self) {
        tracing::trace!(
            direction = self.direction,
            elapsed_ms = self.elapsed.as_millis() as u64,
            "event attempt ended"
        );
        metrics::histogram!(EVENT_PROCESSING_SECONDS, "pairing" => crate::telemetry::pairing_label(), "direction" => self.direction)
            .record(self.elapsed.as_secs_f64());
    }
}

/// An event needed nothing done (the reason is kept with it).
#[derive(Debug)]
pub struct EventIgnored<'a> {
    /// [`TO_FRESHCHAT`] or [`TO_ZALO`].
    pub direction: &'static str,
    /// The platform's event name.
    pub event: &'a str,
    /// Why.
    pub reason: &'a str,
}

impl InternalEvent for EventIgnored<'_> {
    fn emit(&self) {
        tracing::debug!(event = %self.event, reason = %self.reason, "event ignored");
        metrics::counter!(EVENTS_IGNORED, "pairing" => crate::telemetry::pairing_label(), "direction" => self.direction).increment(1);
    }
}

/// An event failed in passing and will be tried again after `delay_ms`.
#[derive(Debug)]
pub struct EventRetrying<'a> {
    /// [`TO_FRESHCHAT`] or [`TO_ZALO`].
    pub direction: &'static str,
    /// The error's class.
    pub class: &'static str,
    /// The platform's event name.
    pub event: &'a str,
    /// Attempts so far.
    pub attempts: i64,
    /// Until the next attempt.
    pub delay_ms: u64,
    /// The error (no URL keeps its query).
    pub error: &'a str,
}

impl InternalEvent for EventRetrying<'_> {
    fn emit(&self) {
        tracing::warn!(event = %self.event, attempts = self.attempts, delay_ms = self.delay_ms, error = %self.error, "transient failure; will retry");
        metrics::counter!(RETRIES, "pairing" => crate::telemetry::pairing_label(), "direction" => self.direction, "class" => self.class)
            .increment(1);
    }
}

/// An event failed for good (or ran out of attempts): kept for an operator to replay.
#[derive(Debug)]
pub struct EventFailed<'a> {
    /// [`TO_FRESHCHAT`] or [`TO_ZALO`].
    pub direction: &'static str,
    /// The error's class.
    pub class: &'static str,
    /// The platform's event name.
    pub event: &'a str,
    /// Attempts made.
    pub attempts: i64,
    /// The error (no URL keeps its query).
    pub error: &'a str,
}

impl InternalEvent for EventFailed<'_> {
    fn emit(&self) {
        tracing::error!(event = %self.event, attempts = self.attempts, error = %self.error, "event failed; kept for replay ('zfsync failed list')");
        metrics::counter!(FAILURES, "pairing" => crate::telemetry::pairing_label(), "direction" => self.direction, "class" => self.class)
            .increment(1);
    }
}

mod access;
mod state;
mod sync;

pub use access::*;
pub use state::*;
pub use sync::*;

#[cfg(test)]
mod tests;
