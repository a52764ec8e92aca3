//! Every event writes its log line and updates its catalogued metric; the catalogue, README's
//! `/metrics` row and the sources agree.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use metrics::{Counter, CounterFn, Gauge, GaugeFn, Histogram, HistogramFn, Key, KeyName};
use metrics::{Metadata, Recorder, SharedString, Unit};

use super::*;

/// One metric update: name, labels (sorted), value.
#[derive(Debug, Clone, PartialEq)]
struct Update {
    name: String,
    labels: Vec<(String, String)>,
    kind: Kind,
    value: f64,
}

/// A recorder that keeps every update, for one thread (`metrics::with_local_recorder`).
#[derive(Default)]
struct Capture(Arc<Mutex<Vec<Update>>>);

struct Handle {
    key: Key,
    kind: Kind,
    seen: Arc<Mutex<Vec<Update>>>,
}

impl Handle {
    fn push(&self, value: f64) {
        let mut labels: Vec<(String, String)> = self
            .key
            .labels()
            .map(|l| (l.key().to_string(), l.value().to_string()))
            .collect();
        labels.sort();
        self.seen.lock().unwrap().push(Update {
            name: self.key.name().to_string(),
            labels,
            kind: self.kind,
            value,
        });
    }
}

impl CounterFn for Handle {
    fn increment(&self, value: u64) {
        self.push(value as f64);
    }
    fn absolute(&self, value: u64) {
        self.push(value as f64);
    }
}

impl GaugeFn for Handle {
    fn increment(&self, value: f64) {
        self.push(value);
    }
    fn decrement(&self, value: f64) {
        self.push(-value);
    }
    fn set(&self, value: f64) {
        self.push(value);
    }
}

impl HistogramFn for Handle {
    fn record(&self, value: f64) {
        self.push(value);
    }
}

impl Capture {
    fn handle(&self, key: &Key, kind: Kind) -> Arc<Handle> {
        Arc::new(Handle {
            key: key.clone(),
            kind,
            seen: self.0.clone(),
        })
    }
}

impl Recorder for Capture {
    fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
        Counter::from_arc(self.handle(key, Kind::Counter))
    }
    fn register_gauge(&self, key: &Key, _: &Metadata<'_>) -> Gauge {
        Gauge::from_arc(self.handle(key, Kind::Gauge))
    }
    fn register_histogram(&self, key: &Key, _: &Metadata<'_>) -> Histogram {
        Histogram::from_arc(self.handle(key, Kind::Histogram))
    }
}

/// Log lines written as JSON into a buffer.
#[derive(Clone, Default)]
struct Lines(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Lines {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Emits `event` and returns what it logged (JSON lines) and recorded.
fn emit(event: &dyn InternalEvent) -> (Vec<serde_json::Value>, Vec<Update>) {
    let lines = Lines::default();
    let writer = lines.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .json()
        .flatten_event(true)
        .finish();
    let capture = Capture::default();
    let seen = capture.0.clone();
    tracing::subscriber::with_default(subscriber, || {
        crate::telemetry::in_pairing_sync(TEST_PAIRING, || {
            metrics::with_local_recorder(&capture, || event.emit())
        });
    });
    let text = String::from_utf8(lines.0.lock().unwrap().clone()).unwrap();
    let logged = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let updates = seen.lock().unwrap().clone();
    (logged, updates)
}

/// What one event must do: its metric (name, labels), and its log line (level, message start,
/// one field), or no line.
struct Expect {
    event: Box<dyn InternalEvent>,
    metric: &'static str,
    labels: &'static [(&'static str, &'static str)],
    value: f64,
    log: Option<(
        &'static str,
        &'static str,
        (&'static str, serde_json::Value),
    )>,
}

fn expect(
    event: impl InternalEvent + 'static,
    metric: &'static str,
    labels: &'static [(&'static str, &'static str)],
    value: f64,
    log: Option<(
        &'static str,
        &'static str,
        (&'static str, serde_json::Value),
    )>,
) -> Expect {
    Expect {
        event: Box::new(event),
        metric,
        labels,
        value,
        log,
    }
}

/// One of every event (and of each way one logs), as a table.
#[rustfmt::skip]
fn every_event() -> Vec<Expect> {
    use serde_json::json;
    let ms = Duration::from_millis(250);
    vec![
        expect(WebhookAcked { source: "zalo", elapsed: ms }, WEBHOOK_ACK_SECONDS, &[("source", "zalo")], 0.25, Some(("TRACE", "answered a webhook", ("elapsed_ms", json!(250))))),
        expect(WebhookStored { source: "freshchat", result: "duplicate" }, WEBHOOKS, &[("result", "duplicate"), ("source", "freshchat")], 1.0, Some(("DEBUG", "webhook stored", ("result", json!("duplicate"))))),
        expect(WebhookNotStored { source: "zalo", reason: "store_full", error: "disk full" }, WEBHOOKS, &[("result", "store_full"), ("source", "zalo")], 1.0, Some(("ERROR", "cannot store a webhook", ("error", json!("disk full"))))),
        expect(WebhookUrlCheck { first_of_kind: true }, WEBHOOKS, &[("result", "url_check"), ("source", "zalo")], 1.0, Some(("INFO", "answered Zalo's webhook URL check", ("level", json!("INFO"))))),
        expect(WebhookUrlCheck { first_of_kind: false }, WEBHOOKS, &[("result", "url_check"), ("source", "zalo")], 1.0, None),
        expect(WebhookRejected { source: "zalo", reason: "bad_signature", detail: "mismatch", first_of_kind: true }, WEBHOOK_REJECTS, &[("reason", "bad_signature"), ("source", "zalo")], 1.0, Some(("WARN", "webhook rejected", ("detail", json!("mismatch"))))),
        expect(WebhookRejected { source: "zalo", reason: "bad_signature", detail: "mismatch", first_of_kind: false }, WEBHOOK_REJECTS, &[("reason", "bad_signature"), ("source", "zalo")], 1.0, None),
        expect(WebhookReplayIgnored { source: "freshchat", event: "message_create", event_time: 7 }, WEBHOOK_REPLAYS, &[("source", "freshchat")], 1.0, Some(("WARN", "ignored a signed webhook whose time is outside", ("event_time", json!(7))))),
        expect(LanesActive { count: 3 }, LANES_ACTIVE, &[], 3.0, Some(("TRACE", "lanes running", ("count", json!(3))))),
        expect(EventProcessed { direction: TO_ZALO, elapsed: ms }, EVENT_PROCESSING_SECONDS, &[("direction", "to_zalo")], 0.25, Some(("TRACE", "event attempt ended", ("elapsed_ms", json!(250))))),
        expect(EventIgnored { direction: TO_FRESHCHAT, event: "user_seen_message", reason: "nothing to sync" }, EVENTS_IGNORED, &[("direction", "to_freshchat")], 1.0, Some(("DEBUG", "event ignored", ("reason", json!("nothing to sync"))))),
        expect(EventRetrying { direction: TO_ZALO, class: "rate_limited", event: "message_create", attempts: 2, delay_ms: 500, error: "429" }, RETRIES, &[("class", "rate_limited"), ("direction", "to_zalo")], 1.0, Some(("WARN", "transient failure; will retry", ("delay_ms", json!(500))))),
        expect(EventFailed { direction: TO_ZALO, class: "permanent", event: "message_create", attempts: 8, error: "gone" }, FAILURES, &[("class", "permanent"), ("direction", "to_zalo")], 1.0, Some(("ERROR", "event failed; kept for replay", ("attempts", json!(8))))),
        expect(OAuthCallback { outcome: "consumed" }, OAUTH_CALLBACKS, &[("outcome", "consumed")], 1.0, Some(("DEBUG", "answered the OAuth callback", ("outcome", json!("consumed"))))),
        expect(OAuthRefused { reason: "wrong_oa", expected_oa: Some("1"), got_oa: None, error: "another OA" }, OAUTH_REFUSALS, &[("reason", "wrong_oa")], 1.0, Some(("WARN", "refused a Zalo authorization", ("got_oa", json!("(unknown)"))))),
        expect(LoginFailed { client: "127.0.0.1", via: "bearer" }, LOGIN_FAILURES, &[("via", "bearer")], 1.0, Some(("WARN", "operator sign-in refused", ("client", json!("127.0.0.1"))))),
        expect(LoginLockout { failures: 30, window_s: 60, lockout_s: 120 }, LOGIN_LOCKOUTS, &[], 1.0, Some(("WARN", "too many wrong operator tokens", ("lockout_s", json!(120))))),
        expect(RateLimited { limit: "webhooks" }, RATE_LIMITED, &[("limit", "webhooks")], 1.0, Some(("DEBUG", "request over the per-address limit", ("limit", json!("webhooks"))))),
        expect(TokenRefreshed { expires_in_secs: 3600 }, TOKEN_REFRESHES, &[("result", "ok")], 1.0, Some(("INFO", "zalo access token refreshed", ("expires_in_secs", json!(3600))))),
        expect(TokenRefreshRejected { code: Some(-14014), error: "used" }, TOKEN_REFRESHES, &[("result", "rejected")], 1.0, Some(("ERROR", "Zalo rejected the refresh token; Zalo needs re-authorization: run 'zfsync connect zalo'", ("code", json!("Some(-14014)"))))),
        expect(TokenRefreshUnlisted { code: None, error: "odd", backoff: Some(RefreshBackoff { since: "then", retry_in_ms: 1000, reauth_at: "later" }) }, TOKEN_REFRESHES, &[("result", "unlisted")], 1.0, Some(("WARN", "Zalo's token endpoint refused the refresh", ("retry_in_ms", json!(1000))))),
        expect(TokenRefreshUnlisted { code: None, error: "odd", backoff: None }, TOKEN_REFRESHES, &[("result", "unlisted")], 1.0, Some(("INFO", "Zalo's token endpoint refused the refresh", ("error", json!("odd"))))),
        expect(TokenRefreshFailed { code: None, error: "timeout" }, TOKEN_REFRESHES, &[("result", "error")], 1.0, Some(("DEBUG", "cannot refresh Zalo's access token now", ("error", json!("timeout"))))),
        expect(SyncedToFreshchat { zalo_msg_id: "z1", freshchat_message_id: "f1", conversation_id: "c1" }, MESSAGES_SYNCED, &[("direction", "to_freshchat")], 1.0, Some(("INFO", "synced Zalo → Freshchat", ("freshchat_message_id", json!("f1"))))),
        expect(SyncedToZalo { zalo_msg_id: "z1", freshchat_message_id: "f1", anonymous_visitor: false }, MESSAGES_SYNCED, &[("direction", "to_zalo")], 1.0, Some(("INFO", "synced Freshchat → Zalo", ("zalo_msg_id", json!("z1"))))),
        expect(SyncedToZalo { zalo_msg_id: "z1", freshchat_message_id: "", anonymous_visitor: true }, MESSAGES_SYNCED, &[("direction", "to_zalo")], 1.0, Some(("INFO", "synced Freshchat → Zalo (anonymous visitor)", ("zalo_msg_id", json!("z1"))))),
        expect(MediaNotTransferred { kind: "image", reason: "too large" }, MEDIA_FALLBACKS, &[("direction", "to_freshchat")], 1.0, Some(("WARN", "media not transferred", ("kind", json!("image"))))),
        expect(MediaHosted { content_type: "text/plain" }, MEDIA_FALLBACKS, &[("direction", "to_zalo")], 1.0, Some(("DEBUG", "hosted an attachment", ("content_type", json!("text/plain"))))),
        expect(MediaRefused { reason: "host not allowed: evil.example" }, MEDIA_REFUSED, &[], 1.0, Some(("WARN", "refused to fetch an attachment", ("reason", json!("host not allowed: evil.example"))))),
        expect(IdentityRefused { reason: "other_channel", freshchat_user_id: "u1", what: "a new user is made" }, IDENTITY_REFUSALS, &[("reason", "other_channel")], 1.0, Some(("WARN", "a Freshchat user claims a Zalo customer's reference id", ("freshchat_user_id", json!("u1"))))),
        expect(IdentityOfOtherOa { conversation_id: "c1", reference_oa: "2", oa_id: "1" }, IDENTITY_REFUSALS, &[("reason", "other_oa")], 1.0, Some(("WARN", "a Freshchat user claims a Zalo user of another OA", ("reference_oa", json!("2"))))),
        expect(ZaloEventOutOfScope { kind: "group", event: "user_send_group_text", first_of_kind: true }, ZALO_EVENTS_IGNORED, &[("kind", "group")], 1.0, Some(("INFO", "ignoring Zalo group events", ("kind", json!("group"))))),
        expect(ZaloEventOutOfScope { kind: "call", event: "oa_call_user", first_of_kind: false }, ZALO_EVENTS_IGNORED, &[("kind", "call")], 1.0, Some(("DEBUG", "ignored a Zalo event", ("kind", json!("call"))))),
        expect(ZaloMessageBilled { zalo_msg_id: "z9" }, ZALO_BILLED_MESSAGES, &[], 1.0, Some(("DEBUG", "Zalo billed this message", ("zalo_msg_id", json!("z9"))))),
        expect(CustomerRated { score: 4, conversation_id: "c1" }, CSAT_RATINGS, &[("score", "4")], 1.0, Some(("INFO", "the customer rated the help", ("score", json!(4))))),
        expect(QueueDepth { depth: 12 }, QUEUE_DEPTH, &[], 12.0, Some(("TRACE", "events waiting", ("depth", json!(12))))),
        expect(CustomersInBilledWindow { count: 4 }, ZALO_CUSTOMERS_IN_BILLED_WINDOW, &[], 4.0, Some(("TRACE", "customers in Zalo's billed window", ("count", json!(4))))),
        expect(TokenSecondsToExpiry { seconds: -5 }, ZALO_TOKEN_SECONDS_TO_EXPIRY, &[], -5.0, Some(("TRACE", "Zalo access token lifetime left", ("seconds", json!(-5))))),
        expect(StoreCommitted { ok: false }, STORE_COMMITS, &[("result", "error")], 1.0, Some(("TRACE", "store transaction ended", ("result", json!("error"))))),
        expect(WorkNotified { pairing: TEST_PAIRING }, WORK_NOTIFIED, &[], 1.0, Some(("TRACE", "another replica stored new work", ("pairing", json!(TEST_PAIRING))))),
        expect(LaneLeaseEvent::HeldElsewhere { lane: "zalo:u1", wait_ms: 900 }, LANE_LEASES, &[("outcome", "held_elsewhere")], 1.0, Some(("DEBUG", "lane held by another replica", ("wait_ms", json!(900))))),
        expect(LaneLeaseEvent::Lost { lane: "zalo:u1" }, LANE_LEASES, &[("outcome", "lost")], 1.0, Some(("WARN", "another replica took this lane's lease", ("lane", json!("zalo:u1"))))),
        expect(LaneLeaseEvent::RenewFailed { lane: "zalo:u1", error: "gone", expiring: true }, LANE_LEASES, &[("outcome", "renew_failed")], 1.0, Some(("WARN", "cannot renew this lane's lease before it runs out", ("error", json!("gone"))))),
        expect(LaneLeaseEvent::RenewFailed { lane: "zalo:u1", error: "slow", expiring: false }, LANE_LEASES, &[("outcome", "renew_failed")], 1.0, Some(("WARN", "cannot renew this lane's lease; trying again", ("error", json!("slow"))))),
        expect(LaneLeaseEvent::TakeFailed { lane: "zalo:u1", error: "down" }, LANE_LEASES, &[("outcome", "take_failed")], 1.0, Some(("WARN", "cannot take this lane's lease", ("error", json!("down"))))),
        expect(LaneLeaseEvent::ReleaseFailed { lane: "zalo:u1", error: "down" }, LANE_LEASES, &[("outcome", "release_failed")], 1.0, Some(("WARN", "cannot give up this lane's lease", ("error", json!("down"))))),
        expect(StoreFullChanged { full: true }, STORE_FULL, &[], 1.0, Some(("ERROR", "the store is full", ("level", json!("ERROR"))))),
        expect(StoreFullChanged { full: false }, STORE_FULL, &[], 0.0, Some(("INFO", "the store takes writes again", ("level", json!("INFO"))))),
        expect(UpstreamCall { platform: "zalo", op: "send_message", outcome: "ok", elapsed: ms }, UPSTREAM_CALL_SECONDS, &[("op", "send_message"), ("outcome", "ok"), ("platform", "zalo")], 0.25, Some(("TRACE", "upstream call ended", ("op", json!("send_message"))))),
    ]
}

/// The pairing the events are emitted in.
const TEST_PAIRING: &str = "shop-t";

/// The metrics of the whole deployment: every other carries the pairing whose work it records.
const DEPLOYMENT_WIDE: &[&str] = &[
    STORE_COMMITS,
    STORE_FULL,
    LOGIN_FAILURES,
    LOGIN_LOCKOUTS,
    RATE_LIMITED,
];

#[test]
fn every_event_logs_its_line_and_updates_its_catalogued_metric() {
    let mut covered = BTreeSet::new();
    for (i, e) in every_event().into_iter().enumerate() {
        let (logged, updates) = emit(e.event.as_ref());
        let mut labels: Vec<(String, String)> = e
            .labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        if !DEPLOYMENT_WIDE.contains(&e.metric) {
            labels.push(("pairing".into(), TEST_PAIRING.into()));
            labels.sort();
        }
        let kind = METRICS
            .iter()
            .find(|m| m.name == e.metric)
            .unwrap_or_else(|| panic!("event #{i}: {} is not in the catalogue", e.metric))
            .kind;
        assert_eq!(
            updates,
            vec![Update {
                name: e.metric.to_string(),
                labels,
                kind,
                value: e.value
            }],
            "event #{i}: exactly one update of its metric, as catalogued"
        );
        covered.insert(e.metric);
        match e.log {
            None => assert!(logged.is_empty(), "event #{i} logs nothing: {logged:?}"),
            Some((level, message, (field, value))) => {
                assert_eq!(logged.len(), 1, "event #{i}: one line: {logged:?}");
                let line = &logged[0];
                assert_eq!(line["level"], level, "event #{i}: {line}");
                let text = line["message"].as_str().unwrap_or_default();
                assert!(text.starts_with(message), "event #{i}: {line}");
                assert_eq!(line[field], value, "event #{i}: {line}");
            }
        }
    }
    let catalogue: BTreeSet<&str> = METRICS.iter().map(|m| m.name).collect();
    let missing: Vec<&&str> = catalogue.difference(&covered).collect();
    assert!(missing.is_empty(), "metrics no event emits: {missing:?}");
}

#[test]
fn the_catalogue_follows_the_naming_rules() {
    let mut seen = BTreeSet::new();
    for m in METRICS {
        assert!(seen.insert(m.name), "{} is listed twice", m.name);
        assert!(m.name.starts_with("zfsync_"), "{}", m.name);
        match m.kind {
            Kind::Counter => assert!(m.name.ends_with("_total"), "{}", m.name),
            Kind::Histogram => assert!(m.name.ends_with("_seconds"), "{}", m.name),
            Kind::Gauge => assert!(!m.name.ends_with("_total"), "{}", m.name),
        }
        assert!(!m.help.is_empty() && !m.help.starts_with(' '), "{}", m.name);
    }
}

/// README's `GET /metrics` row names exactly the catalogue.
#[test]
fn readme_lists_every_metric_and_only_those() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let row = readme
        .lines()
        .find(|l| l.starts_with("| `GET /metrics` |"))
        .expect("README has the /metrics row");
    let listed: BTreeSet<String> = row
        .split('`')
        .filter_map(|s| {
            let name: String = s
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            name.starts_with("zfsync_").then_some(name)
        })
        .collect();
    let catalogue: BTreeSet<String> = METRICS.iter().map(|m| m.name.to_string()).collect();
    assert_eq!(listed, catalogue, "README's /metrics row and the catalogue");
}

/// No metric is updated outside the events (log and metric are emitted together).
#[test]
fn metrics_are_updated_only_by_events() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut direct = BTreeSet::new();
    let mut stack = vec![root.join("src")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let rel = path
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            if rel.starts_with("src/telemetry/events") || !rel.ends_with(".rs") {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            if ["counter!(", "gauge!(", "histogram!("]
                .iter()
                .any(|m| text.contains(m))
            {
                direct.insert(rel);
            }
        }
    }
    assert!(
        direct.is_empty(),
        "these files update a metric directly instead of emitting an event from telemetry/events: {direct:?}"
    );
}
