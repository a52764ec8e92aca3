//! The HTTP surface: the router and its layers. Webhook handlers live in [`crate::ingest`]; the
//! pages people open (OAuth, domain verification, hosted files) in [`pages`]; health, readiness
//! and metrics in [`health`]; operator access (token, sessions, CSRF) in [`auth`], and the gate in
//! front of the operator routes in [`gate`]; who the client is in [`client`]; rate limits and the
//! wrong-token ceiling in [`limits`]; the operator console in [`console`].
//!
//! Who may call what: the webhooks are public and never rate limited (the platforms retry, and
//! storing must never wait); `/healthz` and `/readyz` are public and never rate limited;
//! `/oauth/zalo/callback`, `/files/*` and `/metrics` are public and rate limited per address, one
//! bucket per route family; `/oauth/zalo/start` and `/console/*` need an operator; the console's
//! login is rate limited more strictly.

pub(crate) mod auth;
pub(crate) mod client;
pub(crate) mod console;
pub(crate) mod gate;
pub(crate) mod health;
pub mod limits;
pub(crate) mod pages;
mod state;

use std::time::Duration;

use axum::extract::{DefaultBodyLimit, FromRef};
use axum::http::StatusCode;
use axum::middleware::from_fn_with_state;
use axum::routing::{get, post};
use axum::Router;

use crate::ingest::{self, IngestState, PairingIngest};

pub use crate::routes::*;
pub use state::{replay_window_ms, AppState, PairingSession, StateOptions, WebhookSecrets};

impl FromRef<AppState> for IngestState {
    fn from_ref(state: &AppState) -> IngestState {
        state.ingest.clone()
    }
}

impl FromRef<AppState> for PairingIngest {
    fn from_ref(state: &AppState) -> PairingIngest {
        state.pairings.clone()
    }
}

/// The daemon's router.
pub fn router(state: AppState, max_body_bytes: usize) -> Router {
    use limits::Family;
    let operator = |r: Router<AppState>| {
        r.route_layer(from_fn_with_state(state.clone(), gate::require_operator))
    };
    // Each family has its own bucket per address; the limit runs first (outermost).
    let limited = |family: Family, r: Router<AppState>| {
        r.route_layer(from_fn_with_state(
            (state.clone(), family),
            limits::rate_limit,
        ))
    };
    let oauth_start = limited(
        Family::OAuth,
        Router::new()
            .route(ROUTE_OAUTH_START, get(pages::oauth_start))
            .route(ROUTE_OAUTH_START_PAIRING, get(pages::oauth_start_pairing))
            .route_layer(from_fn_with_state(
                state.clone(),
                gate::require_operator_or_ticket,
            )),
    );
    let oauth_callback = limited(
        Family::OAuth,
        Router::new()
            .route(ROUTE_OAUTH_CALLBACK, get(pages::oauth_callback))
            .route(
                ROUTE_OAUTH_CALLBACK_PAIRING,
                get(pages::oauth_callback_pairing),
            ),
    );
    let files = limited(
        Family::Files,
        Router::new().route(ROUTE_FILES, get(pages::hosted_file)),
    );
    let metrics = limited(
        Family::Metrics,
        Router::new().route("/metrics", get(health::metrics_text)),
    );
    // Health is never limited: a load balancer must always get its answer.
    let health = Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(health::readyz));
    let console_pages = console::with_security_headers(limited(
        Family::Console,
        operator(console::operator_routes()).merge(console::asset_routes()),
    ));
    let login = console::with_security_headers(limited(Family::Login, console::login_routes()));
    Router::new()
        .route(ROUTE_ZALO_WEBHOOK, post(ingest::zalo_webhook::handle))
        .route(
            ROUTE_FRESHCHAT_WEBHOOK,
            post(ingest::freshchat_webhook::handle),
        )
        .route(
            ROUTE_ZALO_WEBHOOK_PAIRING,
            post(ingest::zalo_webhook::handle_pairing),
        )
        .route(
            ROUTE_FRESHCHAT_WEBHOOK_PAIRING,
            post(ingest::freshchat_webhook::handle_pairing),
        )
        .merge(oauth_start)
        .merge(oauth_callback)
        .merge(files)
        .merge(metrics)
        .merge(health)
        .merge(console_pages)
        .merge(login)
        .route("/", get(pages::home))
        .route("/{file}", get(pages::zalo_verifier_file))
        .layer(DefaultBodyLimit::max(max_body_bytes))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(30),
        ))
        // Outermost: every layer and handler below knows the client's address.
        .layer(from_fn_with_state(
            std::sync::Arc::new(state.limits.proxies().clone()),
            client::resolve,
        ))
        .with_state(state)
}
