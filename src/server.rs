//! The HTTP surface: webhooks, OAuth, hosted files, health, readiness, metrics.
//!
//! Webhook handlers do exactly: raw bytes → verify → parse → store → 200. A bad or missing signature
//! answers 401, a body that is not JSON 400, a body over the limit 413: nothing is stored in those
//! cases. A duplicate delivery answers 200 and changes nothing. Everything else happens in the lanes.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use metrics_exporter_prometheus::PrometheusHandle;
use secrecy::SecretString;
use serde::Deserialize;

use zfsync_freshchat::WebhookKey;
use zfsync_zalo::ZaloClient;

use crate::store::{Ingested, NewEvent, Source, Store};
use crate::tokens::TokenManager;

pub const ROUTE_ZALO_WEBHOOK: &str = "/webhooks/zalo";
pub const ROUTE_FRESHCHAT_WEBHOOK: &str = "/webhooks/freshchat";
pub const ROUTE_OAUTH_START: &str = "/oauth/zalo/start";
pub const ROUTE_OAUTH_CALLBACK: &str = "/oauth/zalo/callback";

#[derive(Clone, Debug)]
pub struct AppState {
    pub store: Store,
    pub lanes: crate::lanes::LaneSignal,
    pub zalo_app_id: String,
    pub zalo_oa_secret: SecretString,
    pub freshchat_key: WebhookKey,
    pub zalo: ZaloClient,
    pub tokens: Arc<TokenManager>,
    pub public_url: String,
    /// The configured `zalo.oa_id`: the only OA the OAuth callback may connect.
    pub zalo_oa_id: Option<String>,
    /// The code Zalo gives for domain verification (served at / and /zalo_verifier<code>.html).
    pub zalo_site_verification: Option<String>,
    pub metrics: Option<PrometheusHandle>,
}

pub fn router(state: AppState, max_body_bytes: usize) -> Router {
    Router::new()
        .route(ROUTE_ZALO_WEBHOOK, post(zalo_webhook))
        .route(ROUTE_FRESHCHAT_WEBHOOK, post(freshchat_webhook))
        .route(ROUTE_OAUTH_START, get(oauth_start))
        .route(ROUTE_OAUTH_CALLBACK, get(oauth_callback))
        .route("/files/{token}", get(hosted_file))
        .route("/", get(home))
        .route("/{file}", get(zalo_verifier_file))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics_text))
        .layer(DefaultBodyLimit::max(max_body_bytes))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(30),
        ))
        .with_state(state)
}

fn reject(
    source: &'static str,
    status: StatusCode,
    reason: &'static str,
    detail: String,
) -> Response {
    metrics::counter!("zfsync_webhook_rejects_total", "source" => source, "reason" => reason)
        .increment(1);
    tracing::warn!(source, reason, %detail, "webhook rejected");
    (
        status,
        Json(serde_json::json!({ "error": reason, "message": detail })),
    )
        .into_response()
}

async fn accept(state: &AppState, ev: NewEvent) -> Response {
    let source = ev.source.as_str();
    let lane = ev.lane.clone();
    match state.store.ingest(ev).await {
        Ok(Ingested::New(_)) => {
            metrics::counter!("zfsync_webhooks_total", "source" => source, "result" => "stored")
                .increment(1);
            state.lanes.notify(&lane);
            (
                StatusCode::OK,
                Json(serde_json::json!({ "status": "stored" })),
            )
                .into_response()
        }
        Ok(Ingested::Duplicate) => {
            metrics::counter!("zfsync_webhooks_total", "source" => source, "result" => "duplicate")
                .increment(1);
            (
                StatusCode::OK,
                Json(serde_json::json!({ "status": "duplicate" })),
            )
                .into_response()
        }
        Err(e) => {
            // Not stored: answer 5xx so the platform delivers it again.
            tracing::error!(error = %e, source, "cannot store a webhook");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(serde_json::json!({ "error": "store_unavailable" })),
            )
                .into_response()
        }
    }
}

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

/// The page and file Zalo reads to verify the webhook domain (`zalo.site_verification`).
fn verification_page(code: &str) -> Response {
    let code = code.replace(['"', '<', '>', '&'], "");
    Html(format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><meta name=\"zalo-platform-site-verification\" content=\"{code}\"><title>zfsync</title></head><body>zfsync</body></html>"
    ))
    .into_response()
}

async fn home(State(state): State<AppState>) -> Response {
    match &state.zalo_site_verification {
        Some(code) => verification_page(code),
        None => (StatusCode::NOT_FOUND, "zfsync: see /healthz").into_response(),
    }
}

async fn zalo_verifier_file(State(state): State<AppState>, Path(file): Path<String>) -> Response {
    match &state.zalo_site_verification {
        Some(code) if file == format!("zalo_verifier{code}.html") => verification_page(code),
        _ => StatusCode::NOT_FOUND.into_response(),
    }
}

/// Whether a rejected body is JSON at all: a body that is not gets 400 whatever its signature says,
/// so a sender's bug is told apart from a forgery.
fn is_json(body: &[u8]) -> bool {
    serde_json::from_slice::<serde::de::IgnoredAny>(body).is_ok()
}

async fn zalo_webhook(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    use zfsync_zalo::SignatureError as S;
    let sig = headers
        .get(zfsync_zalo::SIGNATURE_HEADER)
        .and_then(|v| v.to_str().ok());
    if sig.is_none() && is_url_check(&body) {
        // Saving the webhook URL in the Zalo app sends a check that must get 200. It is not an
        // event: nothing is stored. (A real event without a signature is still refused below.)
        tracing::info!("answered Zalo's webhook URL check");
        metrics::counter!("zfsync_webhooks_total", "source" => "zalo", "result" => "url_check")
            .increment(1);
        return (StatusCode::OK, Json(serde_json::json!({ "status": "ok" }))).into_response();
    }
    if let Err(e) = zfsync_zalo::verify(&state.zalo_app_id, &state.zalo_oa_secret, &body, sig) {
        if !is_json(&body) {
            return reject(
                "zalo",
                StatusCode::BAD_REQUEST,
                "not_json",
                "the body is not JSON".into(),
            );
        }
        return match e {
            S::NotJson => reject("zalo", StatusCode::BAD_REQUEST, "not_json", e.to_string()),
            S::MissingTimestamp => reject(
                "zalo",
                StatusCode::BAD_REQUEST,
                "no_timestamp",
                e.to_string(),
            ),
            S::MissingHeader => reject(
                "zalo",
                StatusCode::UNAUTHORIZED,
                "missing_signature",
                e.to_string(),
            ),
            S::MalformedHeader => reject(
                "zalo",
                StatusCode::UNAUTHORIZED,
                "malformed_signature",
                e.to_string(),
            ),
            S::Mismatch => reject(
                "zalo",
                StatusCode::UNAUTHORIZED,
                "bad_signature",
                e.to_string(),
            ),
        };
    }
    let ev = match zfsync_zalo::parse_event(&body) {
        Ok(ev) => ev,
        Err(e) => return reject("zalo", StatusCode::BAD_REQUEST, "not_json", e.to_string()),
    };
    let lane = format!("zalo:{}", ev.user_id().unwrap_or("_"));
    // The event was parsed already: take its time from it rather than reading the body again.
    let event_time = ev
        .timestamp()
        .and_then(|t| t.trim().parse::<i64>().ok())
        .unwrap_or_else(crate::store::now_ms);
    accept(
        &state,
        NewEvent {
            event_time,
            source: Source::Zalo,
            dedupe_key: ev.dedupe_key(),
            lane,
            event_name: ev.event_name().to_string(),
            body: body.to_vec(),
        },
    )
    .await
}

async fn freshchat_webhook(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let sig = headers
        .get(zfsync_freshchat::SIGNATURE_HEADER)
        .and_then(|v| v.to_str().ok());
    if let Err(e) = state.freshchat_key.verify(&body, sig) {
        if !is_json(&body) {
            return reject(
                "freshchat",
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
        return reject("freshchat", StatusCode::UNAUTHORIZED, reason, e.to_string());
    }
    let ev = match zfsync_freshchat::parse_event(&body) {
        Ok(ev) => ev,
        Err(e) => {
            return reject(
                "freshchat",
                StatusCode::BAD_REQUEST,
                "not_json",
                e.to_string(),
            )
        }
    };
    let lane = format!("fc:{}", ev.conversation_id().unwrap_or("_"));
    let event_time = crate::executor::freshchat_event_time(&ev);
    accept(
        &state,
        NewEvent {
            event_time,
            source: Source::Freshchat,
            dedupe_key: ev.dedupe_key(),
            lane,
            event_name: ev.action().to_string(),
            body: body.to_vec(),
        },
    )
    .await
}

async fn oauth_start(State(state): State<AppState>) -> Response {
    let redirect = format!(
        "{}{}",
        state.public_url.trim_end_matches('/'),
        ROUTE_OAUTH_CALLBACK
    );
    match crate::oauth::start(&state.store, &state.zalo, &redirect).await {
        Ok(url) => Redirect::to(url.as_str()).into_response(),
        Err(e) => page(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Could not start the Zalo authorization",
            &e.to_string(),
        ),
    }
}

#[derive(Debug, Deserialize)]
struct CallbackQuery {
    code: Option<String>,
    oa_id: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

async fn oauth_callback(State(state): State<AppState>, Query(q): Query<CallbackQuery>) -> Response {
    if let Some(err) = q.error {
        let detail = q.error_description.unwrap_or(err);
        return page(
            StatusCode::BAD_REQUEST,
            "Zalo did not grant access",
            &format!("Zalo said: {detail}. Nothing was changed; you can start again."),
        );
    }
    let (Some(code), Some(st)) = (q.code, q.state) else {
        return page(StatusCode::BAD_REQUEST, "This link is incomplete", "The address is missing the code or state Zalo adds. Start again from the connect link.");
    };
    match crate::oauth::complete(
        &state.store,
        &state.zalo,
        &state.tokens,
        &code,
        Some(&st),
        q.oa_id,
        state.zalo_oa_id.clone().or(state.tokens.status().oa_id),
    )
    .await
    {
        Ok(c) => {
            let name = c.oa_name.unwrap_or_else(|| "your Official Account".into());
            let id = c.oa_id.map(|i| format!(" (id {i})")).unwrap_or_default();
            tracing::info!(oa = %name, "zalo connected through the OAuth callback");
            page(StatusCode::OK, "zfsync is connected to Zalo", &format!("Connected to {name}{id}. Messages now flow between Zalo and Freshchat. You can close this window."))
        }
        Err(e) => page(
            StatusCode::BAD_REQUEST,
            "Zalo connection failed",
            &format!("{e}"),
        ),
    }
}

fn page(status: StatusCode, title: &str, body: &str) -> Response {
    let esc = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
    };
    let html = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>{t}</title></head><body style=\"font-family:sans-serif;max-width:40em;margin:3em auto\"><h1>{t}</h1><p>{b}</p></body></html>",
        t = esc(title),
        b = esc(body)
    );
    (status, Html(html)).into_response()
}

async fn hosted_file(State(state): State<AppState>, Path(token): Path<String>) -> Response {
    if token.len() > 64
        || !token
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return StatusCode::NOT_FOUND.into_response();
    }
    match state.store.hosted_file(token).await {
        Ok(Some(f)) => (
            [
                (header::CONTENT_TYPE, f.content_type),
                (
                    header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"{}\"", f.filename.replace('"', "")),
                ),
                (header::CACHE_CONTROL, "private, no-store".to_string()),
            ],
            f.body,
        )
            .into_response(),
        Ok(None) => (
            StatusCode::NOT_FOUND,
            "This file has expired or does not exist.",
        )
            .into_response(),
        Err(_) => StatusCode::SERVICE_UNAVAILABLE.into_response(),
    }
}

async fn readyz(State(state): State<AppState>) -> Response {
    if let Err(e) = state.store.write(|_| Ok(())).await {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("store not writable: {e}"),
        )
            .into_response();
    }
    let t = state.tokens.status();
    if !t.connected {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "Zalo is not connected: run 'zfsync connect zalo'",
        )
            .into_response();
    }
    if let Some(reason) = t.needs_reauth {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("Zalo needs re-authorization: {reason}"),
        )
            .into_response();
    }
    if t.seconds_to_expiry.is_some_and(|s| s <= 0) {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "Zalo access token expired and not yet refreshed",
        )
            .into_response();
    }
    (StatusCode::OK, "ready").into_response()
}

async fn metrics_text(State(state): State<AppState>) -> Response {
    if let Ok(depth) = state.store.pending_count().await {
        metrics::gauge!("zfsync_queue_depth").set(depth as f64);
    }
    if let Some(s) = state.tokens.status().seconds_to_expiry {
        metrics::gauge!("zfsync_zalo_token_seconds_to_expiry").set(s as f64);
    }
    match &state.metrics {
        Some(h) => (
            [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
            h.render(),
        )
            .into_response(),
        None => (
            StatusCode::NOT_FOUND,
            "metrics are not enabled in this process",
        )
            .into_response(),
    }
}
