//! The simulator's own knowledge of Zalo's wire: paths, header names, error codes and messages,
//! limits, the response envelopes, strict readers of request JSON, ids and the signature.
//!
//! Everything here is written from the Zalo reference (Part A) and the real-world samples, never taken
//! from the client, so that the simulator stays an independent witness. Nothing here fails: readers
//! return an [`ApiError`] that the OpenAPI answers with, HTTP 200, as Zalo does.

use std::time::Duration;

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::{json, Value};
use sha2::{Digest as _, Sha256};

// ---------------------------------------------------------------- paths

/// OAuth host: the consent page.
pub const OAUTH_PERMISSION: &str = "/v4/oa/permission";
/// OAuth host: code exchange and refresh.
pub const OAUTH_ACCESS_TOKEN: &str = "/v4/oa/access_token";
/// OpenAPI: consultation message.
pub const API_MESSAGE_CS: &str = "/v3.0/oa/message/cs";
/// OpenAPI: ZBS template message (reference §2.2).
pub const API_MESSAGE_TEMPLATE: &str = "/v3.0/oa/message/template";
/// OpenAPI: the legacy v2 message endpoint (anonymous users, reactions; other sends are shut down).
pub const API_MESSAGE_V2: &str = "/v2.0/oa/message";
/// OpenAPI: image upload.
pub const API_UPLOAD_IMAGE: &str = "/v2.0/oa/upload/image";
/// OpenAPI: GIF upload.
pub const API_UPLOAD_GIF: &str = "/v2.0/oa/upload/gif";
/// OpenAPI: file upload.
pub const API_UPLOAD_FILE: &str = "/v2.0/oa/upload/file";
/// OpenAPI: a user's profile.
pub const API_USER_DETAIL: &str = "/v3.0/oa/user/detail";
/// OpenAPI: the OA's identity.
pub const API_GETOA: &str = "/v2.0/oa/getoa";
/// OpenAPI: latest message of each recent conversation.
pub const API_RECENT_CHAT: &str = "/v2.0/oa/listrecentchat";
/// OpenAPI: one conversation's messages.
pub const API_CONVERSATION: &str = "/v2.0/oa/conversation";
/// OpenAPI: quota of one user (or the OA's quota assets).
pub const API_QUOTA: &str = "/v3.0/oa/quota/message";
/// OpenAPI: put a follower in a tag (the tag is created when missing).
pub const API_TAG_FOLLOWER: &str = "/v2.0/oa/tag/tagfollower";
/// OpenAPI: take a follower out of a tag.
pub const API_RM_FOLLOWER_FROM_TAG: &str = "/v2.0/oa/tag/rmfollowerfromtag";
/// OpenAPI: delete a tag.
pub const API_RM_TAG: &str = "/v2.0/oa/tag/rmtag";
/// OpenAPI: the OA's tags (a flat array of names).
pub const API_TAGS_OF_OA: &str = "/v2.0/oa/tag/gettagsofoa";
/// Served media (user media, uploads, stickers) on the API listener.
pub const MEDIA_PREFIX: &str = "/sim/media";

// ---------------------------------------------------------------- headers

/// Request header carrying the OA access token.
pub const H_ACCESS_TOKEN: &str = "access_token";
/// Request header carrying the App Secret Key on token calls.
pub const H_SECRET_KEY: &str = "secret_key";
/// Response header: per-minute allowance.
pub const H_RATE_LIMIT: &str = "x-ratelimit-limit";
/// Response header: what is left of it (0 = exhausted).
pub const H_RATE_REMAIN: &str = "x-ratelimit-remain";
/// Webhook header: `mac=<hex>`.
pub const H_SIGNATURE: &str = "x-zevent-signature";
/// Webhook header naming the product.
pub const H_SERVER: &str = "x-zevent-server";
/// Value of [`H_SERVER`] for OA events.
pub const SERVER_OA: &str = "OA OpenAPI";
/// Webhook `User-Agent`.
pub const WEBHOOK_AGENT: &str = "ZaloWebhook";
/// Webhook header on redeliveries.
pub const H_NUM_RETRY: &str = "num_retry";

// ---------------------------------------------------------------- limits

/// One day in milliseconds.
pub const DAY_MS: i64 = 24 * 60 * 60 * 1000;
/// The CS window: a user must have interacted in the last 7 days.
pub const WINDOW_MS: i64 = 7 * DAY_MS;
/// Free replies are counted within 48 h of the user's last interaction.
pub const FREE_WINDOW_MS: i64 = 2 * DAY_MS;
/// From this day (2026-03-01, Vietnam time) Zalo's answers stop carrying `remain`/`total` for
/// free replies; between 2026-01-01 and then they are pinned to 8.
pub const REPLY_COUNTS_DROPPED_MS: i64 = 1_772_298_000_000;
/// The pinned `remain`/`total` of the 2026 transition.
pub const PINNED_REPLY_COUNT: u32 = 8;
/// Uploaded assets live 7 days.
pub const ASSET_TTL_MS: i64 = 7 * DAY_MS;
/// Authorization codes live 10 minutes.
pub const CODE_TTL_MS: i64 = 10 * 60 * 1000;
/// Refresh tokens live 3 months.
pub const REFRESH_TTL_MS: i64 = 90 * DAY_MS;
/// Text limit in Unicode scalar values.
pub const TEXT_LIMIT: usize = 2000;
/// History pages hold at most this many messages.
pub const MAX_HISTORY_COUNT: i64 = 10;
/// One megabyte as the upload limits count it.
pub const MB: usize = 1024 * 1024;
/// Image upload limit.
pub const IMAGE_LIMIT: usize = MB;
/// GIF and file upload limit.
pub const FILE_LIMIT: usize = 5 * MB;
/// Webhook retry ladder at `time_scale` 1.
pub const RETRY_LADDER: [Duration; 5] = [
    Duration::from_secs(30),
    Duration::from_secs(5 * 60),
    Duration::from_secs(15 * 60),
    Duration::from_secs(30 * 60),
    Duration::from_secs(60 * 60),
];
/// A receiver must answer 200 within this.
pub const WEBHOOK_TIMEOUT: Duration = Duration::from_secs(2);

// ---------------------------------------------------------------- error codes

/// Rate limit.
pub const E_RATE: i64 = -32;
/// Uploaded asset older than 7 days.
pub const E_ASSET_EXPIRED: i64 = -100;
/// A parameter is invalid.
pub const E_INVALID: i64 = -201;
/// A parameter exceeds its limit.
pub const E_LIMIT: i64 = -210;
/// Out of quota.
pub const E_QUOTA: i64 = -211;
/// The app lacks this API.
pub const E_NOT_REGISTERED: i64 = -212;
/// Not a follower / unknown user.
pub const E_NOT_FOLLOWER: i64 = -213;
/// Access token invalid (also the code Zalo uses for an expired one).
pub const E_TOKEN_INVALID: i64 = -216;
/// The user blocked the OA.
pub const E_BLOCKED: i64 = -217;
/// Access token expired or removed.
pub const E_TOKEN_REMOVED: i64 = -220;
/// No interaction in the last 7 days.
pub const E_WINDOW: i64 = -230;
/// Unsupported message type.
pub const E_TYPE: i64 = -233;
/// The v2 message API is shut down.
pub const E_V2_SHUT: i64 = -240;

/// Message of [`E_LIMIT`].
pub const MSG_LIMIT: &str = "Parameter exceeds allowable limit";
/// Message of [`E_NOT_FOLLOWER`].
pub const MSG_NOT_FOLLOWER: &str = "User has not followed OA";
/// Message of [`E_BLOCKED`].
pub const MSG_BLOCKED: &str = "User has blocked invitation from OA";
/// Message of [`E_WINDOW`].
pub const MSG_WINDOW: &str = "User has not interacted with the OA in the past 7 days";
/// Message of [`E_TYPE`].
pub const MSG_TYPE: &str = "message type is invalid or not support";
/// Message of [`E_RATE`].
pub const MSG_RATE: &str = "Your application reached limit call api";
/// Message of [`E_QUOTA`].
pub const MSG_QUOTA: &str = "Out of quota";
/// Message of [`E_NOT_REGISTERED`].
pub const MSG_NOT_REGISTERED: &str = "App has not registed this api";
/// Message of [`E_V2_SHUT`].
pub const MSG_V2_SHUT: &str = "MessageV2 API has been shut down, please switch to MessageV3";
/// Body of an unknown OpenAPI path (the captured text, up to where it was cut).
pub const MSG_UNKNOWN_API: &str = "You are accessing an empty or invalid API";
/// Body of an unknown OAuth path (the captured text, up to where it was cut).
pub const MSG_UNKNOWN_OAUTH: &str = "You currently access to an empty api";

// OAuth error codes: -14002/-14003/-14014 are documented; the others are the simulator's own.
/// Invalid app id.
pub const OAUTH_INVALID_APP: i64 = -14002;
/// Redirect URI does not match the app's callback.
pub const OAUTH_INVALID_REDIRECT: i64 = -14003;
/// Wrong `secret_key` header (simulator's choice).
pub const OAUTH_INVALID_SECRET: i64 = -14004;
/// Invalid, used or expired refresh token.
pub const OAUTH_INVALID_REFRESH: i64 = -14014;
/// Unsupported grant type (simulator's choice).
pub const OAUTH_BAD_GRANT: i64 = -14001;
/// Invalid, used or expired code, or a PKCE mismatch (simulator's choice).
pub const OAUTH_INVALID_CODE: i64 = -14019;
/// Where OAuth errors point.
pub const OAUTH_REF_DOC: &str =
    "https://developers.zalo.me/docs/official-account/bat-dau/xac-thuc-va-uy-quyen-cho-ung-dung-new";

// ---------------------------------------------------------------- envelopes

/// An OpenAPI application error: answered with HTTP 200 `{"error": code, "message": ...}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// Zalo's (negative) code.
    pub code: i64,
    /// Zalo's text.
    pub message: String,
}

impl ApiError {
    /// An error with a code and a message.
    pub fn new(code: i64, message: impl Into<String>) -> Self {
        ApiError {
            code,
            message: message.into(),
        }
    }

    /// `-201 "<field> is invalid!"`, Zalo's wording.
    pub fn invalid(field: &str) -> Self {
        ApiError::new(E_INVALID, format!("{field} is invalid!"))
    }

    /// `-210 "Parameter exceeds allowable limit"`.
    pub fn limit() -> Self {
        ApiError::new(E_LIMIT, MSG_LIMIT)
    }
}

/// Result of an OpenAPI operation: `data` or an application error.
pub type ApiResult = Result<Value, ApiError>;

/// HTTP 200 `{"data": …, "error": 0, "message": "Success"}`.
pub fn success(data: Value) -> Response {
    Json(json!({"data": data, "error": 0, "message": "Success"})).into_response()
}

/// HTTP 200 `{"error": code, "message": …}`.
pub fn failure(e: &ApiError) -> Response {
    Json(json!({"error": e.code, "message": e.message})).into_response()
}

/// The answer to a path the OpenAPI host does not serve: HTTP 200, `error` the number 404.
pub fn unknown_api() -> Response {
    Json(json!({"error": 404, "message": MSG_UNKNOWN_API})).into_response()
}

/// The answer to a path the OAuth host does not serve: HTTP 200, `error` the string "404".
pub fn unknown_oauth() -> Response {
    Json(json!({"error": "404", "message": MSG_UNKNOWN_OAUTH})).into_response()
}

/// An OAuth error body (HTTP 200, no `access_token`).
pub fn oauth_error(code: i64, name: &str, reason: &str) -> Response {
    Json(json!({
        "error": code, "error_name": name, "error_reason": reason,
        "ref_doc": OAUTH_REF_DOC, "error_description": reason,
    }))
    .into_response()
}

/// A bare HTTP status with its reason phrase as the body.
pub fn http_status(code: u16) -> Response {
    let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (
        status,
        status.canonical_reason().unwrap_or("error").to_owned(),
    )
        .into_response()
}

/// Adds `X-RateLimit-Limit` / `X-RateLimit-Remain`.
pub fn with_rate_headers(mut r: Response, limit: u32, remain: u32) -> Response {
    let h = r.headers_mut();
    h.insert(H_RATE_LIMIT, HeaderValue::from(limit));
    h.insert(H_RATE_REMAIN, HeaderValue::from(remain));
    r
}

// ---------------------------------------------------------------- strict readers

/// A field that Zalo documents as a string id: present, a non-empty JSON string. A JSON number is
/// refused the way Zalo refuses a malformed parameter (-201).
pub fn id_field(obj: &Value, field: &str) -> Result<String, ApiError> {
    match obj.get(field) {
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(s.clone()),
        _ => Err(ApiError::invalid(field)),
    }
}

/// A field documented loosely (the conversation example passes `user_id` unquoted): string or
/// non-negative integer, returned as the string of digits.
pub fn loose_id_field(obj: &Value, field: &str) -> Result<String, ApiError> {
    match obj.get(field) {
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(s.clone()),
        Some(Value::Number(n)) if n.is_u64() => Ok(n.to_string()),
        _ => Err(ApiError::invalid(field)),
    }
}

/// An optional non-negative integer field (JSON number); absent gives `default`.
pub fn count_field(obj: &Value, field: &str, default: i64) -> Result<i64, ApiError> {
    match obj.get(field) {
        None | Some(Value::Null) => Ok(default),
        Some(Value::Number(n)) => n
            .as_i64()
            .filter(|v| *v >= 0)
            .ok_or_else(|| ApiError::invalid(field)),
        Some(_) => Err(ApiError::invalid(field)),
    }
}

/// The `data=<json object>` query parameter of GET endpoints.
pub fn data_param(query: Option<&str>) -> Result<Value, ApiError> {
    let raw = query
        .and_then(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .find(|(k, _)| k == "data")
                .map(|(_, v)| v.into_owned())
        })
        .ok_or_else(|| ApiError::invalid("data"))?;
    serde_json::from_str::<Value>(&raw)
        .ok()
        .filter(Value::is_object)
        .ok_or_else(|| ApiError::invalid("data"))
}

/// Whether the query string carries an `access_token` (Zalo answers such calls with 404).
pub fn query_has_token(query: Option<&str>) -> bool {
    query.is_some_and(|q| {
        url::form_urlencoded::parse(q.as_bytes()).any(|(k, _)| k == H_ACCESS_TOKEN)
    })
}

/// The lower-case extension of a file name ("" when there is none).
pub fn extension(name: &str) -> String {
    name.rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default()
}

/// Number of Unicode scalar values, what a person counts as characters.
pub fn char_count(s: &str) -> usize {
    s.chars().count()
}

// ---------------------------------------------------------------- ids, time, crypto

/// `n` random bytes from the operating system's generator.
pub fn random_bytes(n: usize) -> Vec<u8> {
    let mut v = vec![0u8; n];
    if aws_lc_rs::rand::fill(&mut v).is_err() {
        // The OS generator does not fail in practice; a fast generator keeps the simulator going.
        v.iter_mut().for_each(|b| *b = fastrand::u8(..));
    }
    v
}

/// A token or code: base64url of `n` random bytes.
pub fn new_token(n: usize) -> String {
    URL_SAFE_NO_PAD.encode(random_bytes(n))
}

/// A message id: 20 lower-case hex characters, like Zalo's.
pub fn new_msg_id() -> String {
    let mut s = String::with_capacity(20);
    for _ in 0..10 {
        s.push_str(&format!("{:02x}", fastrand::u8(..)));
    }
    s
}

/// An anonymous (chat widget) user id: 20 hex characters.
pub fn new_anonymous_id() -> String {
    new_msg_id()
}

/// A digits-only id (17–19 digits) derived from `seed`: stable across calls.
pub fn derived_digits(seed: &str) -> String {
    let h = Sha256::digest(seed.as_bytes());
    let mut n = [0u8; 8];
    n.copy_from_slice(&h[..8]);
    (u64::from_be_bytes(n) % 8_000_000_000_000_000_000 + 1_000_000_000_000_000_000).to_string()
}

/// 20 hex characters derived from `seed`.
pub fn derived_hex(seed: &str) -> String {
    hex::encode(&Sha256::digest(seed.as_bytes())[..10])
}

/// `mac=<lower-case hex sha256(app_id + body + timestamp + oa_secret_key)>`: a plain SHA-256 over
/// the concatenation (not an HMAC), the body as the exact bytes sent.
pub fn sign(app_id: &str, body: &[u8], timestamp: &str, oa_secret_key: &str) -> String {
    let mut h = Sha256::new();
    h.update(app_id.as_bytes());
    h.update(body);
    h.update(timestamp.as_bytes());
    h.update(oa_secret_key.as_bytes());
    format!("mac={}", hex::encode(h.finalize()))
}

/// PKCE S256: `base64url_nopad(sha256(verifier))`.
pub fn pkce_challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// `dd/MM/yyyy` in Vietnam's time zone (UTC+7), how Zalo writes dates.
pub fn vn_date(ms: i64) -> String {
    let offset = chrono::FixedOffset::east_opt(7 * 3600);
    match (chrono::DateTime::from_timestamp_millis(ms), offset) {
        (Some(t), Some(o)) => t.with_timezone(&o).format("%d/%m/%Y").to_string(),
        _ => String::new(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn pkce_matches_rfc7636_appendix_b() {
        assert_eq!(
            pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn strict_and_loose_ids() {
        let v = json!({"a": "12", "b": 12, "c": "", "d": -1});
        assert_eq!(id_field(&v, "a").unwrap(), "12");
        assert_eq!(id_field(&v, "b").unwrap_err().code, E_INVALID);
        assert!(id_field(&v, "c").is_err());
        assert_eq!(loose_id_field(&v, "b").unwrap(), "12");
        assert!(loose_id_field(&v, "d").is_err());
        assert_eq!(count_field(&v, "zz", 5).unwrap(), 5);
        assert!(count_field(&v, "a", 5).is_err());
    }

    #[test]
    fn data_param_and_token_in_query() {
        let q = "data=%7B%22user_id%22%3A%221%22%7D";
        assert_eq!(data_param(Some(q)).unwrap(), json!({"user_id": "1"}));
        assert!(data_param(Some("data=[1]")).is_err());
        assert!(data_param(None).is_err());
        assert!(query_has_token(Some("x=1&access_token=abc")));
        assert!(!query_has_token(Some("data=%7B%7D")));
    }

    #[test]
    fn ids_look_like_zalo_ids() {
        let m = new_msg_id();
        assert_eq!(m.len(), 20);
        assert!(m
            .chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
        let d = derived_digits("x");
        assert!(d.len() == 19 && d.chars().all(|c| c.is_ascii_digit()));
        assert_eq!(d, derived_digits("x"));
        assert_eq!(vn_date(0), "01/01/1970");
        assert_eq!(vn_date(17 * 3600 * 1000), "02/01/1970");
    }
}
