//! `POST /webhooks/zalo`: raw bytes → verify (`X-ZEvent-Signature` over the exact bytes) → parse →
//! store → 200. A bad or missing signature answers 401, a body that is not JSON or a signed
//! event whose time cannot be read (`no_event_time`) 400, a body over the limit 413: nothing is
//! stored then, and the JSON answer's `error` names the reason. A duplicate delivery answers 200
//! and changes nothing. Zalo's check when the webhook URL is saved (a body naming no event, without
//! any signature header) gets 200 and is not stored.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

use super::{
    accept, json_error, not_json, reject, unreadable, zalo_event, IngestState, PairingIngest,
};
use crate::store::Provenance;
use crate::telemetry::events::{InternalEvent, WebhookUrlCheck};

/// Zalo's check when the webhook URL is saved: an empty body, or JSON that names no event.
fn is_url_check(body: &[u8]) -> bool {
    if body.iter().all(u8::is_ascii_whitespace) {
        return true;
    }
    match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(serde_json::Value::Object(m)) => !m.contains_key("event_name"),
        _ => false,
    }
}

/// The handler of the plain route (the configuration file's pairing).
pub async fn handle(
    State(state): State<IngestState>,
    State(pairings): State<PairingIngest>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let name = state.store.pairing_name().to_string();
    crate::telemetry::in_pairing(&name, receive(&pairings, state, headers, body)).await
}

/// `/webhooks/zalo/<pairing>`: the same webhook, for the pairing named in the path (404 for a
/// pairing this daemon does not serve).
pub async fn handle_pairing(
    State(pairings): State<PairingIngest>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    match pairings.get(&name) {
        Some(state) => {
            let name = state.store.pairing_name().to_string();
            crate::telemetry::in_pairing(&name, receive(&pairings, state, headers, body)).await
        }
        None => super::unknown_pairing("zalo", &name),
    }
}

/// A delivery to the URL of the pairing `state`: checked with its secrets, then stored for the
/// pairing that owns the event's OA ([`route_by_oa`]).
async fn receive(
    pairings: &PairingIngest,
    state: IngestState,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    use zfsync_zalo::SignatureError as S;
    const SOURCE: &str = "zalo";
    let started = std::time::Instant::now();
    let body = match body {
        Ok(b) => b,
        Err(e) => return unreadable(SOURCE, e),
    };
    let header = headers.get(zfsync_zalo::SIGNATURE_HEADER);
    // A header that is not text is a malformed signature, never an absent one: it must not turn
    // a delivery into a URL check.
    let sig = header.map(|v| v.to_str().unwrap_or_default());
    if header.is_none() && is_url_check(&body) {
        // Saving the webhook URL in the Zalo app sends a check that must get 200. It is not an
        // event: nothing is stored. (A real event without a signature is still refused below.)
        // Anyone can send one: logged once a period, then summarised.
        WebhookUrlCheck {
            first_of_kind: super::refusals::note(SOURCE, super::refusals::URL_CHECK),
        }
        .emit();
        return (StatusCode::OK, Json(serde_json::json!({ "status": "ok" }))).into_response();
    }
    if let Err(e) = zfsync_zalo::verify(&state.zalo_app_id, &state.zalo_oa_secret, &body, sig) {
        if let Some(e) = json_error(&body) {
            return not_json(SOURCE, &e);
        }
        let (status, reason) = match e {
            S::NotJson => (StatusCode::BAD_REQUEST, "not_json"),
            S::MissingTimestamp => (StatusCode::BAD_REQUEST, "no_timestamp"),
            S::MissingHeader => (StatusCode::UNAUTHORIZED, "missing_signature"),
            S::MalformedHeader => (StatusCode::UNAUTHORIZED, "malformed_signature"),
            S::Mismatch => (StatusCode::UNAUTHORIZED, "bad_signature"),
        };
        // The signature covers the app id, so another app's event never verifies here: say so
        // rather than blame the OA Secret Key.
        if matches!(e, S::Mismatch) {
            if let Some(other) = other_app(&body, &state.zalo_app_id) {
                let detail = format!(
                    "the event is of the Zalo app {other}, which no pairing on this URL serves (this URL's pairing uses the app {}): set the webhook URL of the pairing that uses app {other} in that app's settings, or add a pairing for it",
                    state.zalo_app_id
                );
                return reject(SOURCE, status, "other_app", detail);
            }
        }
        return reject(SOURCE, status, reason, e.to_string());
    }
    // The server header tells Zalo's notification service (ZNS) apart from the OA's own events.
    let server = headers
        .get(zfsync_zalo::webhook::SERVER_HEADER)
        .and_then(|v| v.to_str().ok());
    let ev = match zfsync_zalo::parse_webhook(&body, server) {
        Ok(ev) => ev,
        Err(e) => return reject(SOURCE, StatusCode::BAD_REQUEST, e.reason(), e.to_string()),
    };
    let state = match route_by_oa(pairings, &state, ev.oa_id()) {
        Some(state) => state,
        None => return unknown_oa(&state, ev.oa_id().unwrap_or_default()),
    };
    let time = ev.time_ms();
    // The pairing that owns the OA, when it is not the URL's, records what follows.
    crate::telemetry::in_pairing(
        state.store.pairing_name(),
        accept(
            &state,
            SOURCE,
            zalo_event(&ev, body.to_vec(), Provenance::Webhook),
            time,
            started,
        ),
    )
    .await
}

/// The body's `app_id` when it names another app than `ours` and looks like Zalo's (read only to
/// explain a refusal; a forged body keeps `bad_signature`).
fn other_app(body: &[u8], ours: &str) -> Option<String> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    let app = match v.get("app_id")? {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Number(n) => n.to_string(),
        _ => return None,
    };
    // Zalo's app ids are long numbers (16 to 19 digits seen); anything else is a forgery's.
    let plausible = (10..=20).contains(&app.len()) && app.chars().all(|c| c.is_ascii_digit());
    (plausible && app != ours).then_some(app)
}

/// Which pairing a verified event is for. One Zalo app linked to several OAs delivers every OA's
/// events to one URL: an event of the OA the URL's pairing serves (or naming no OA) stays with
/// it; an event of another OA of the same app goes to the pairing that serves that OA. An OA no
/// pairing serves is refused (404 `unknown_oa`, nothing stored), unless the URL's pairing names
/// no OA of its own, which takes every event as before pairings existed.
fn route_by_oa(
    pairings: &PairingIngest,
    state: &IngestState,
    oa_id: Option<&str>,
) -> Option<IngestState> {
    let Some(oa_id) = oa_id else {
        return Some(state.clone());
    };
    if state.zalo_oa_id.as_deref() == Some(oa_id) {
        return Some(state.clone());
    }
    if let Some(owner) = pairings.owner_of(&state.zalo_app_id, oa_id) {
        return Some(owner);
    }
    state.zalo_oa_id.is_none().then(|| state.clone())
}

/// The refusal of a verified event of the OA `oa_id`, which no pairing serves (404
/// `unknown_oa`, nothing stored).
fn unknown_oa(state: &IngestState, oa_id: &str) -> Response {
    let oa = super::redact_name(oa_id);
    reject(
        "zalo",
        StatusCode::NOT_FOUND,
        UNKNOWN_OA,
        format!(
            "no pairing of this daemon serves the OA {oa:?} of the Zalo app {:?}: add one with 'zfsync pairing add NAME --oa-id {oa}' (or set zalo.oa_id), or unlink the OA from the app",
            super::redact_name(&state.zalo_app_id),
        ),
    )
}

/// The refusal of a verified event of an OA no pairing serves.
pub const UNKNOWN_OA: &str = "unknown_oa";
