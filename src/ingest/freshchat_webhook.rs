//! `POST /webhooks/freshchat`: raw bytes → verify (`X-Freshchat-Signature`, RSA over the exact
//! bytes) → parse → store → 200. A bad or missing signature answers 401, a body that is not JSON
//! or a signed event whose time cannot be read (`no_event_time`) 400, a body over the limit 413:
//! nothing is stored then, and the JSON answer's `error` names the reason. A duplicate delivery
//! answers 200 and changes nothing.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

use super::{
    accept, freshchat_event, json_error, not_json, reject, unreadable, IngestState, PairingIngest,
};
use crate::store::Provenance;

/// The handler.
pub async fn handle(
    State(state): State<IngestState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let name = state.store.pairing_name().to_string();
    crate::telemetry::in_pairing(&name, receive(state, headers, body)).await
}

async fn receive(
    state: IngestState,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    use zfsync_freshchat::SignatureError;
    const SOURCE: &str = "freshchat";
    let started = std::time::Instant::now();
    let body = match body {
        Ok(b) => b,
        Err(e) => return unreadable(SOURCE, e),
    };
    let verified = match headers.get(zfsync_freshchat::SIGNATURE_HEADER) {
        None => Err(SignatureError::MissingHeader),
        Some(v) => match v.to_str() {
            Ok(sig) => state.freshchat_key.verify(&body, Some(sig)),
            // Bytes that are not text are no base64 either: a malformed signature, not a missing one.
            Err(_) => Err(SignatureError::NotBase64),
        },
    };
    if let Err(e) = verified {
        if let Some(e) = json_error(&body) {
            return not_json(SOURCE, &e);
        }
        let reason = match e {
            SignatureError::MissingHeader => "missing_signature",
            SignatureError::NotBase64 => "malformed_signature",
            SignatureError::Mismatch => "bad_signature",
        };
        return reject(SOURCE, StatusCode::UNAUTHORIZED, reason, e.to_string());
    }
    let ev = match zfsync_freshchat::parse_event(&body) {
        Ok(ev) => ev,
        Err(e) => return reject(SOURCE, StatusCode::BAD_REQUEST, e.reason(), e.to_string()),
    };
    let time = ev.time_ms();
    accept(
        &state,
        SOURCE,
        freshchat_event(&ev, body.to_vec(), Provenance::Webhook),
        time,
        started,
    )
    .await
}

/// `/webhooks/freshchat/<pairing>`: the same webhook, for the pairing named in the path (404 for a
/// pairing this daemon does not serve).
pub async fn handle_pairing(
    State(pairings): State<PairingIngest>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    match pairings.get(&name) {
        Some(state) => handle(State(state), headers, body).await,
        None => super::unknown_pairing("freshchat", &name),
    }
}
