//! Health for load balancers and operators: `/healthz` (the process answers), `/readyz` (the store
//! is readable and not full, and Zalo is connected with a valid token that its token endpoint
//! still refreshes; it only reads) and
//! `/metrics` (Prometheus text).
//!
//! Neither `/healthz` nor `/readyz` is rate limited. `/readyz` tells a stranger only up or down
//! (200 `ok`, 503 `unavailable`); an operator (the admin token as Bearer, or a console session)
//! also reads the reason (200 `ready`, 503 with why).
//! `/metrics` stays open so a Prometheus scraper needs no secret: it carries counts with
//! low-cardinality labels only (no ids, names or secrets).

use axum::extract::{Extension, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use super::client::ClientAddr;
use super::{AppState, PairingSession};
use crate::telemetry::events::{
    CustomersInBilledWindow, InternalEvent, QueueDepth, TokenSecondsToExpiry,
};

/// Whether the daemon is ready; the reason when it is not. It only reads: it never queues a write
/// behind the webhooks.
pub async fn readiness(state: &AppState) -> Result<(), String> {
    if state.store.health().full {
        return Err("the store is full: free disk space (webhooks are answered 503 and delivered again meanwhile)".into());
    }
    if let Err(e) = state.store.ping().await {
        return Err(format!("store not readable: {e}"));
    }
    let t = state.zalo.tokens().status();
    if !t.connected {
        return Err("Zalo is not connected: run 'zfsync connect zalo'".into());
    }
    if let Some(reason) = &t.needs_reauth {
        return Err(format!("Zalo needs re-authorization: {reason}"));
    }
    if let Some(refused) = t.token_error_text() {
        return Err(refused);
    }
    if t.seconds_to_expiry.is_some_and(|s| s <= 0) {
        return Err("Zalo access token expired and not yet refreshed".into());
    }
    Ok(())
}

/// `/readyz`.
pub async fn readyz(
    State(state): State<AppState>,
    client: Option<Extension<ClientAddr>>,
    headers: HeaderMap,
) -> Response {
    let client = client.map(|Extension(ClientAddr(ip))| ip);
    // A wrong Bearer token here counts like any other; while they are over their ceiling the
    // token is not checked and the public answer is given.
    let operator = matches!(
        super::auth::access(&state, &headers, client),
        super::auth::Access::Operator(_)
    );
    match (readiness(&state).await, operator) {
        (Ok(()), true) => (StatusCode::OK, "ready").into_response(),
        (Ok(()), false) => (StatusCode::OK, "ok").into_response(),
        (Err(reason), true) => (StatusCode::SERVICE_UNAVAILABLE, reason).into_response(),
        (Err(_), false) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable").into_response(),
    }
}

/// `/metrics`.
pub async fn metrics_text(State(state): State<AppState>) -> Response {
    // The gauges read at scrape time, one series per pairing served (each labelled with it).
    let mut served: Vec<(&String, &PairingSession)> = state.sessions.iter().collect();
    served.sort_by(|a, b| a.0.cmp(b.0));
    for (name, session) in served {
        crate::telemetry::in_pairing(name, scrape_gauges(session)).await;
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

/// The gauges of one pairing that are read when scraped: its queue, its customers in Zalo's
/// billed window and its access token's lifetime.
async fn scrape_gauges(session: &PairingSession) {
    if let Ok(depth) = session.store.pending_count().await {
        QueueDepth { depth }.emit();
    }
    if let Ok(n) = session
        .store
        .customers_in_billed_window(crate::store::now_ms())
        .await
    {
        CustomersInBilledWindow { count: n }.emit();
    }
    if let Some(s) = session.zalo.tokens().status().seconds_to_expiry {
        TokenSecondsToExpiry { seconds: s }.emit();
    }
}
