//! The simulator's own names for the wire: paths, header names, event names, and the
//! `{code, status, message}` error answers of the simulated API.
//!
//! These are written from the reference (Part A and §§ 7–8), not shared with the client, so that a
//! client that disagrees with Freshchat disagrees with the simulator too. Nothing here fails: an
//! error answer whose code is not a valid HTTP status is answered as 500.

use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

/// What an API handler answers: a response, or an error in Freshchat's shape.
pub(crate) type ApiResult = Result<Response, ApiErr>;

/// A 201 with a JSON body.
pub(crate) fn created(v: Value) -> Response {
    (StatusCode::CREATED, Json(v)).into_response()
}

/// A 200 with a JSON body.
pub(crate) fn ok(v: Value) -> Response {
    Json(v).into_response()
}

/// Base64 RSA signature of the raw webhook body.
pub(crate) const SIGNATURE_HEADER: &str = "X-Freshchat-Signature";
/// Webhook payload schema version.
pub(crate) const PAYLOAD_VERSION_HEADER: &str = "X-Freshchat-Payload-Version";
/// Webhook attempt counter, `0` on the first delivery.
pub(crate) const RETRY_COUNT_HEADER: &str = "X-Retry-Count";
/// Seconds to wait after a 429.
pub(crate) const RETRY_AFTER_HEADER: &str = "Retry-After";
/// Requests allowed per window.
pub(crate) const RATE_LIMIT_LIMIT_HEADER: &str = "X-RateLimit-Limit";
/// Requests left in the window.
pub(crate) const RATE_LIMIT_REMAINING_HEADER: &str = "X-RateLimit-Remaining";
/// Unix time at which the window resets.
pub(crate) const RATE_LIMIT_RESET_HEADER: &str = "X-RateLimit-Reset";

/// Event: a message was created.
pub(crate) const ACTION_MESSAGE_CREATE: &str = "message_create";
/// Event: a conversation was assigned.
pub(crate) const ACTION_ASSIGNMENT: &str = "conversation_assignment";
/// Event: a conversation was resolved.
pub(crate) const ACTION_RESOLUTION: &str = "conversation_resolution";
/// Event: a conversation was reopened.
pub(crate) const ACTION_REOPEN: &str = "conversation_reopen";

/// Every API path starts with this.
pub(crate) const API_PREFIX: &str = "/v2";
/// Status string of a refused value.
pub(crate) const INVALID_VALUE: &str = "INVALID_VALUE";

/// An API error answer: `{code, status, message}` with the HTTP status in `code`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ApiErr {
    pub(crate) code: u16,
    pub(crate) status: &'static str,
    pub(crate) message: String,
}

impl ApiErr {
    pub(crate) fn new(code: u16, status: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            status,
            message: message.into(),
        }
    }

    /// 400 `INVALID_VALUE`, the status Freshchat uses for most refused requests.
    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        Self::new(400, INVALID_VALUE, message)
    }

    pub(crate) fn not_found(status: &'static str, message: impl Into<String>) -> Self {
        Self::new(404, status, message)
    }

    pub(crate) fn unauthorized() -> Self {
        Self::new(401, "UNAUTHORIZED", "Unauthenticated Request")
    }
}

impl IntoResponse for ApiErr {
    fn into_response(self) -> Response {
        error_response(self.code, self.status, &self.message)
    }
}

/// The JSON error body Freshchat answers with.
pub(crate) fn error_response(code: u16, status: &str, message: &str) -> Response {
    let sc = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (
        sc,
        Json(json!({"code": code, "status": status, "message": message})),
    )
        .into_response()
}

/// The `status` string used for an HTTP status in injected failures.
pub(crate) fn status_name(code: u16) -> &'static str {
    match code {
        400 => INVALID_VALUE,
        401 => "UNAUTHORIZED",
        403 => "FORBIDDEN",
        404 => "NOT_FOUND",
        405 => "METHOD_NOT_ALLOWED",
        409 => "CONFLICT",
        413 => "PAYLOAD_TOO_LARGE",
        429 => "TOO_MANY_REQUESTS",
        500 => "INTERNAL_SERVER_ERROR",
        502 => "BAD_GATEWAY",
        503 => "SERVICE_UNAVAILABLE",
        504 => "GATEWAY_TIMEOUT",
        _ => "ERROR",
    }
}

/// Sets a header from a number.
pub(crate) fn set_num(h: &mut HeaderMap, name: &'static str, n: i64) {
    if let Ok(v) = HeaderValue::from_str(&n.to_string()) {
        h.insert(name, v);
    }
}

/// Lower-case hex of bytes.
pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 15)]));
    }
    s
}

/// ISO-8601 UTC with milliseconds and `Z`, as Freshchat writes times.
pub(crate) fn iso_ms(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Reads an ISO-8601 time into epoch milliseconds.
pub(crate) fn parse_iso(s: &str) -> Result<i64, ApiErr> {
    chrono::DateTime::parse_from_rfc3339(s)
        .map(|t| t.timestamp_millis())
        .map_err(|_| ApiErr::invalid(format!("{s:?} is not an ISO-8601 time")))
}
