//! Ingest: the sources. Everything that puts an event in the inbox goes through here: the two
//! webhooks ([`zalo_webhook`], [`freshchat_webhook`]), the two history catch-ups
//! ([`catch_up`]) and the operator's backfill of older Zalo history ([`backfill`]). They share one builder per platform ([`zalo_event`], [`freshchat_event`]), so
//! the dedupe key, the lane and the event time of an event are computed in one place whichever way
//! it arrived, and a late webhook for a message already caught up from history is a duplicate.
//!
//! Failure: storing either succeeds (the event is durable, its lane is woken) or returns the
//! store's error; webhooks then answer 503 so the platform delivers again.

pub mod backfill;
pub mod catch_up;
pub mod freshchat_webhook;
pub mod refusals;
pub mod zalo_webhook;

use axum::extract::rejection::BytesRejection;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use secrecy::SecretString;
use zfsync_freshchat::{WebhookEvent, WebhookKey};
use zfsync_zalo::ZaloEvent;

use crate::lanes::LaneSignal;
use crate::store::{now_ms, Ingested, Lane, NewEvent, Provenance, Source, Store, StoreError};
use crate::telemetry::events::{
    InternalEvent, WebhookAcked, WebhookNotStored, WebhookRejected, WebhookReplayIgnored,
    WebhookStored,
};

/// What the webhook handlers need.
#[derive(Clone, Debug)]
pub struct IngestState {
    /// The store.
    pub store: Store,
    /// Wakes the lane of a new event.
    pub lanes: LaneSignal,
    /// The Zalo App ID (part of the signed text).
    pub zalo_app_id: String,
    /// The OA Secret Key that signs Zalo webhooks.
    pub zalo_oa_secret: SecretString,
    /// The OA this pairing serves (`zalo.oa_id`), when configured: events of another OA of the
    /// same app that reach this pairing's URL go to the pairing that owns that OA.
    pub zalo_oa_id: Option<String>,
    /// Freshchat's webhook public key.
    pub freshchat_key: WebhookKey,
    /// How old (ms) a signed event may be: older ones are answered 200 and ignored, so a captured
    /// delivery cannot be replayed once its dedupe key has been pruned (the retention).
    pub replay_window_ms: i64,
}

/// Each pairing's webhook state, by pairing name (the routes `/webhooks/<platform>/<pairing>`),
/// and which pairing owns each configured OA of each Zalo app (one app linked to several OAs
/// delivers all their events to one URL).
#[derive(Clone, Debug, Default)]
pub struct PairingIngest(std::sync::Arc<Served>);

#[derive(Debug, Default)]
struct Served {
    by_name: std::collections::HashMap<String, IngestState>,
    /// (Zalo app id, OA id) → pairing name.
    by_oa: std::collections::HashMap<(String, String), String>,
}

impl PairingIngest {
    /// The webhook state of each pairing.
    pub fn new(pairings: impl IntoIterator<Item = (String, IngestState)>) -> PairingIngest {
        let by_name: std::collections::HashMap<String, IngestState> =
            pairings.into_iter().collect();
        let by_oa = by_name
            .iter()
            .filter_map(|(name, s)| {
                let oa = s.zalo_oa_id.clone().filter(|o| !o.is_empty())?;
                Some(((s.zalo_app_id.clone(), oa), name.clone()))
            })
            .collect();
        PairingIngest(std::sync::Arc::new(Served { by_name, by_oa }))
    }

    /// The pairing named `name`.
    fn get(&self, name: &str) -> Option<IngestState> {
        self.0.by_name.get(name).cloned()
    }

    /// The pairing that serves the OA `oa_id` of the Zalo app `app_id`.
    fn owner_of(&self, app_id: &str, oa_id: &str) -> Option<IngestState> {
        let name = self.0.by_oa.get(&(app_id.to_string(), oa_id.to_string()))?;
        self.get(name)
    }
}

/// The refusal to answer for a pairing this daemon does not serve (404, counted as
/// `unknown_pairing`).
fn unknown_pairing(source: &'static str, name: &str) -> Response {
    reject(
        source,
        StatusCode::NOT_FOUND,
        "unknown_pairing",
        format!(
            "this daemon serves no pairing named {:?}",
            redact_name(name)
        ),
    )
}

/// A pairing name as a refusal may quote it: at most 64 characters of letters, digits, `-` and
/// `_` (anything else is the caller's, not a name).
fn redact_name(name: &str) -> String {
    if !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        name.to_string()
    } else {
        "(not a pairing name)".to_string()
    }
}

/// The refusal of a signed webhook whose own time cannot be read.
pub const NO_EVENT_TIME: &str = "no_event_time";

/// How far in the future (ms) an event's time may be before it is taken for a forgery or a replay.
const FUTURE_SLACK_MS: i64 = 24 * 3600 * 1000;

/// Whether a signed event's own time is plausible: not older than the window, not far ahead.
fn is_fresh(event_time: i64, window_ms: i64) -> bool {
    let now = now_ms();
    event_time >= now - window_ms && event_time <= now + FUTURE_SLACK_MS
}

/// Stores a verified webhook event, unless its own time is outside the replay window: then it is
/// answered 200 (so it is never delivered again), not stored, logged and counted. An event whose
/// time cannot be read (`signed_time` is None) is refused 400 `no_event_time`: the window could not
/// hold it back. The time from `started` (the handler's first step) to the answer goes to
/// `zfsync_webhook_ack_seconds`.
async fn accept(
    state: &IngestState,
    source: &'static str,
    ev: NewEvent,
    signed_time: Option<i64>,
    started: std::time::Instant,
) -> Response {
    let answer = match signed_time {
        Some(_) => accept_event(state, source, ev).await,
        None => reject(
            source,
            StatusCode::BAD_REQUEST,
            NO_EVENT_TIME,
            format!(
                "the signed {} event has no time that can be read, so it cannot be told from a replay",
                ev.event_name
            ),
        ),
    };
    // The platform's deadline (Zalo: 2 s) runs from its request to this answer.
    WebhookAcked {
        source,
        elapsed: started.elapsed(),
    }
    .emit();
    answer
}

async fn accept_event(state: &IngestState, source: &'static str, ev: NewEvent) -> Response {
    if !is_fresh(ev.event_time, state.replay_window_ms) {
        WebhookReplayIgnored {
            source,
            event: &ev.event_name,
            event_time: ev.event_time,
        }
        .emit();
        return (
            StatusCode::OK,
            Json(serde_json::json!({ "status": "ignored", "reason": "outside_replay_window" })),
        )
            .into_response();
    }
    stored(
        source,
        store_event(&state.store, &state.lanes, ev, true).await,
    )
}

/// The inbox record of a Zalo event: its `msg_id` (or a derived key) as dedupe key, the user's
/// lane, Zalo's own time of the event, and how it arrived.
pub fn zalo_event(ev: &ZaloEvent, body: Vec<u8>, provenance: Provenance) -> NewEvent {
    NewEvent {
        source: Source::Zalo,
        dedupe_key: ev.dedupe_key(),
        lane: Lane::zalo(ev.user_id()),
        event_name: ev.event_name().to_string(),
        event_time: ev.time_ms().unwrap_or_else(now_ms),
        body,
        provenance,
    }
}

/// The inbox record of a Freshchat event: `message.id` (or a derived key) as dedupe key, the
/// conversation's lane, Freshchat's own time of the event, and how it arrived.
pub fn freshchat_event(ev: &WebhookEvent, body: Vec<u8>, provenance: Provenance) -> NewEvent {
    NewEvent {
        source: Source::Freshchat,
        dedupe_key: ev.dedupe_key(),
        lane: Lane::freshchat(ev.conversation_id()),
        event_name: ev.action().to_string(),
        event_time: ev.time_ms().unwrap_or_else(now_ms),
        body,
        provenance,
    }
}

/// Stores an event and wakes its lane when it is new. Webhooks (`urgent`) go ahead of other writes.
pub async fn store_event(
    store: &Store,
    lanes: &LaneSignal,
    ev: NewEvent,
    urgent: bool,
) -> Result<Ingested, StoreError> {
    let lane = ev.lane.clone();
    let ingested = if urgent {
        store.ingest(ev).await?
    } else {
        store.ingest_history(ev).await?
    };
    if matches!(ingested, Ingested::New(_)) {
        lanes.notify(&lane);
    }
    Ok(ingested)
}

/// Whether a rejected body is JSON at all: a body that is not gets 400 whatever its signature says,
/// so a sender's bug is told apart from a forgery. The error says where reading stopped.
fn json_error(body: &[u8]) -> Option<serde_json::Error> {
    serde_json::from_slice::<serde::de::IgnoredAny>(body).err()
}

/// Refuses a body that is not JSON, saying where reading stopped.
fn not_json(source: &'static str, e: &serde_json::Error) -> Response {
    reject(
        source,
        StatusCode::BAD_REQUEST,
        "not_json",
        format!("the body is not JSON ({e})"),
    )
}

/// Answers a body the server could not read: over `server.max_body_bytes` (413 `too_large`), or
/// cut off in transit (400 `unreadable_body`); JSON like every other refusal.
fn unreadable(source: &'static str, rejection: BytesRejection) -> Response {
    let status = rejection.status();
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        return reject(
            source,
            status,
            "too_large",
            "the body is larger than server.max_body_bytes".into(),
        );
    }
    reject(source, status, "unreadable_body", rejection.body_text())
}

/// Answers a refused webhook, counted by reason; logged the first time its kind is seen in a
/// period, then summarised ([`refusals`]).
fn reject(
    source: &'static str,
    status: StatusCode,
    reason: &'static str,
    detail: String,
) -> Response {
    WebhookRejected {
        source,
        reason,
        detail: &detail,
        first_of_kind: refusals::note(source, reason),
    }
    .emit();
    (
        status,
        Json(serde_json::json!({ "error": reason, "message": detail })),
    )
        .into_response()
}

/// Answers a verified webhook: 200 once it is stored (new or duplicate), 503 when it could not be
/// stored, so the platform delivers it again.
fn stored(source: &'static str, result: Result<Ingested, StoreError>) -> Response {
    let status = match result {
        Ok(Ingested::New(_)) => "stored",
        Ok(Ingested::Duplicate) => "duplicate",
        Err(e) => {
            // Not stored: answer 503 so the platform delivers it again.
            let reason = if e.is_full() {
                "store_full"
            } else if matches!(e, StoreError::Busy) {
                "store_busy"
            } else {
                "store_unavailable"
            };
            WebhookNotStored {
                source,
                reason,
                error: &e.to_string(),
            }
            .emit();
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(serde_json::json!({ "error": reason })),
            )
                .into_response();
        }
    };
    WebhookStored {
        source,
        result: status,
    }
    .emit();
    (
        StatusCode::OK,
        Json(serde_json::json!({ "status": status })),
    )
        .into_response()
}
