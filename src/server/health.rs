//! Health for load balancers and operators: `/healthz` (the process answers), `/readyz` (the store
//! is readable and not full, and Zalo is connected with a valid token; 503 with the reason otherwise;
//! it only reads) and `/metrics` (Prometheus text).

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};

use super::AppState;

/// `/readyz`.
pub async fn readyz(State(state): State<AppState>) -> Response {
    // Readiness reads; it never queues a write behind the webhooks.
    if state.store.health().full {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "the store is full: free disk space (webhooks are answered 503 and delivered again meanwhile)",
        )
            .into_response();
    }
    if let Err(e) = state
        .store
        .read(|c| Ok(c.query_row("SELECT 1", [], |r| r.get::<_, i64>(0))?))
        .await
    {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("store not readable: {e}"),
        )
            .into_response();
    }
    let t = state.zalo.tokens().status();
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

/// `/metrics`.
pub async fn metrics_text(State(state): State<AppState>) -> Response {
    if let Ok(depth) = state.store.pending_count().await {
        metrics::gauge!("zfsync_queue_depth").set(depth as f64);
    }
    if let Some(s) = state.zalo.tokens().status().seconds_to_expiry {
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
