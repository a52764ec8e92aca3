//! `POST /webhooks/freshchat`: raw bytes → verify (`X-Freshchat-Signature`, RSA over the exact
//! bytes) → parse → store → 200. A bad or missing signature answers 401, a body that is not JSON
//! 400: nothing is stored then. A duplicate delivery answers 200 and changes nothing.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

use super::{accept, freshchat_event, is_json, reject, IngestState};

/// The handler.
pub async fn handle(State(state): State<IngestState>, headers: HeaderMap, body: Bytes) -> Response {
    const SOURCE: &str = "freshchat";
    let sig = headers
        .get(zfsync_freshchat::SIGNATURE_HEADER)
        .and_then(|v| v.to_str().ok());
    if let Err(e) = state.freshchat_key.verify(&body, sig) {
        if !is_json(&body) {
            return reject(
                SOURCE,
                StatusCode::BAD_REQUEST,
                "not_json",
                "the body is not JSON".into(),
            );
        }
        let reason = match e {
            zfsync_freshchat::SignatureError::MissingHeader => "missing_signature",
            zfsync_freshchat::SignatureError::NotBase64 => "malformed_signature",
            zfsync_freshchat::SignatureError::Mismatch => "bad_signature",
        };
        return reject(SOURCE, StatusCode::UNAUTHORIZED, reason, e.to_string());
    }
    let ev = match zfsync_freshchat::parse_event(&body) {
        Ok(ev) => ev,
        Err(e) => return reject(SOURCE, StatusCode::BAD_REQUEST, e.reason(), e.to_string()),
    };
    accept(&state, SOURCE, freshchat_event(&ev, body.to_vec())).await
}
