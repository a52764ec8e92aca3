//! The HTTP surface: the router and its layers. Webhook handlers live in [`crate::ingest`]; the
//! pages people open (OAuth, domain verification, hosted files) in [`pages`]; health, readiness
//! and metrics in [`health`].

pub mod health;
pub mod pages;

use std::time::Duration;

use axum::extract::{DefaultBodyLimit, FromRef};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::Router;
use metrics_exporter_prometheus::PrometheusHandle;

use crate::ingest::{self, IngestState};
use crate::store::Store;
use crate::tokens::ZaloSession;

/// Zalo's webhook.
pub const ROUTE_ZALO_WEBHOOK: &str = "/webhooks/zalo";
/// Freshchat's webhook.
pub const ROUTE_FRESHCHAT_WEBHOOK: &str = "/webhooks/freshchat";
/// Starts the Zalo OAuth flow (for operators).
pub const ROUTE_OAUTH_START: &str = "/oauth/zalo/start";
/// Where Zalo redirects after consent.
pub const ROUTE_OAUTH_CALLBACK: &str = "/oauth/zalo/callback";
/// Hosted files.
pub const ROUTE_FILES: &str = "/files/{token}";

/// Everything the routes need.
#[derive(Clone, Debug)]
pub struct AppState {
    /// The operator token (operator routes and the console need it).
    pub admin_token: secrecy::SecretString,
    /// The webhooks' part.
    pub ingest: IngestState,
    /// The store.
    pub store: Store,
    /// Zalo with its tokens (OAuth, readiness).
    pub zalo: ZaloSession,
    /// The public URL (OAuth redirect).
    pub public_url: String,
    /// The configured `zalo.oa_id`: the only OA the OAuth callback may connect.
    pub zalo_oa_id: Option<String>,
    /// The code Zalo gives for domain verification (served at / and /zalo_verifier<code>.html).
    pub zalo_site_verification: Option<String>,
    /// The metrics recorder, when installed in this process.
    pub metrics: Option<PrometheusHandle>,
}

impl FromRef<AppState> for IngestState {
    fn from_ref(state: &AppState) -> IngestState {
        state.ingest.clone()
    }
}

/// The daemon's router.
pub fn router(state: AppState, max_body_bytes: usize) -> Router {
    Router::new()
        .route(ROUTE_ZALO_WEBHOOK, post(ingest::zalo_webhook::handle))
        .route(
            ROUTE_FRESHCHAT_WEBHOOK,
            post(ingest::freshchat_webhook::handle),
        )
        .route(ROUTE_OAUTH_START, get(pages::oauth_start))
        .route(ROUTE_OAUTH_CALLBACK, get(pages::oauth_callback))
        .route(ROUTE_FILES, get(pages::hosted_file))
        .route("/", get(pages::home))
        .route("/{file}", get(pages::zalo_verifier_file))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(health::metrics_text))
        .layer(DefaultBodyLimit::max(max_body_bytes))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(30),
        ))
        .with_state(state)
}
