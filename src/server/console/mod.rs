//! The operator console at `/console`: server-rendered HTML (maud) on the daemon's own listener,
//! with a little plain JavaScript and server-sent events for the live parts. No build step. Every
//! console response carries `Content-Security-Policy: default-src 'self'; frame-ancestors 'none'`,
//! `X-Content-Type-Options: nosniff` and `Referrer-Policy: no-referrer`; the stylesheet and scripts
//! are served from [`assets`], never inline. Live streams end with the session that opened them.
//!
//! Pages: [`overview`] (connections, last events, queue, 24-hour charts, readiness) and the Connect
//! page (Zalo OAuth, `check` results); [`activity`] (recent synced messages, no bodies);
//! [`failed`] (retry one or all, what the retry did, live); [`backfill`] (start one, live progress
//! bar).
//! Every route here is behind [`super::gate::require_operator`], except the login page and the
//! one-time login link, which are rate limited per address.
//!
//! Failure: a page whose data cannot be read says so in place (a store error, a platform that does
//! not answer within a few seconds) rather than failing the whole page.

pub mod activity;
pub mod assets;
pub mod backfill;
pub mod failed;
pub mod overview;
pub mod pairings;
mod quota;

use std::path::PathBuf;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Mutex;

use axum::extract::Extension;
use axum::extract::{Query, State};
use axum::http::HeaderValue;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use maud::{html, Markup, DOCTYPE};
use serde::Deserialize;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use zfsync_freshchat::FreshchatClient;

use super::auth::{self, Access, Operator, CSRF_FIELD};
use super::client::ClientAddr;
use super::AppState;
use crate::ingest::backfill::{Backfill, Progress};
use crate::store::now_ms;

/// The console's home.
pub const ROUTE_CONSOLE: &str = "/console";
/// The login form.
pub const ROUTE_LOGIN: &str = "/console/login";
/// A one-time login link (`?t=`), as the sandbox prints.
pub const ROUTE_LOGIN_LINK: &str = "/console/login/link";
/// Logging out.
pub const ROUTE_LOGOUT: &str = "/console/logout";

/// What the console needs beyond the rest of [`AppState`].
#[derive(Debug)]
pub struct Console {
    /// Freshchat, for the overview's account and channel.
    pub freshchat: FreshchatClient,
    /// The configured channel (id or name), shown on the overview.
    pub channel: Option<String>,
    /// The configuration file, for "Run checks".
    pub config_file: Option<PathBuf>,
    /// The deployment's configuration, for the Pairings page's health of each pairing.
    pub config: Option<Box<crate::config::Config>>,
    /// Runs backfills started from the console.
    pub backfill: Backfill,
    /// The progress of the latest backfill started here.
    pub backfill_progress: watch::Sender<Progress>,
    /// The last retry made from the console, per pairing (its outcome is shown live).
    pub retries: Mutex<std::collections::HashMap<String, failed::RetryBatch>>,
    /// Until when (unix ms) a finished OAuth flow returns to the console.
    pub oauth_return_until: AtomicI64,
    /// Cancelled when the daemon stops, so live streams end and the server can stop.
    pub stop: CancellationToken,
    /// The overview's platform details, cached briefly so reloading the page costs no API calls.
    pub(crate) platform_cache:
        Mutex<std::collections::HashMap<String, (std::time::Instant, overview::Platforms)>>,
}

impl Console {
    /// A console over these parts.
    pub fn new(
        freshchat: FreshchatClient,
        channel: Option<String>,
        config_file: Option<PathBuf>,
        backfill: Backfill,
    ) -> Console {
        Console {
            freshchat,
            channel,
            config_file,
            config: None,
            backfill,
            backfill_progress: watch::Sender::new(Progress::default()),
            retries: Mutex::new(std::collections::HashMap::new()),
            oauth_return_until: AtomicI64::new(0),
            stop: CancellationToken::new(),
            platform_cache: Mutex::new(std::collections::HashMap::new()),
        }
    }

    /// Notes that an OAuth flow was started from the console (it comes back there for 15 minutes).
    pub fn oauth_started_here(&self) {
        self.oauth_return_until
            .store(now_ms() + 15 * 60 * 1000, Ordering::Relaxed);
    }

    /// Whether a finished OAuth flow should return to the console (and then stops saying so).
    pub fn take_oauth_return(&self) -> bool {
        self.oauth_return_until.swap(0, Ordering::Relaxed) > now_ms()
    }
}

/// The console's routes that need an operator (the caller adds the auth layer).
pub fn operator_routes() -> Router<AppState> {
    Router::new()
        .route(ROUTE_CONSOLE, get(overview::overview))
        .route("/console/", get(|| async { Redirect::to(ROUTE_CONSOLE) }))
        .route("/console/connect", get(overview::connect))
        .route("/console/connect/checks", post(overview::run_checks))
        .route("/console/activity", get(activity::activity))
        .route("/console/live/activity", get(activity::live_activity))
        .route("/console/failed", get(failed::failed))
        .route("/console/failed/retry", post(failed::retry))
        .route("/console/live/failed", get(failed::live))
        .route(
            "/console/backfill",
            get(backfill::page).post(backfill::start),
        )
        .route("/console/live/backfill", get(backfill::live))
        .route(pairings::ROUTE_PAIRINGS, get(pairings::page))
        .route(pairings::ROUTE_ADD_PAIRING, post(pairings::add))
        .route(ROUTE_LOGOUT, post(logout))
}

/// The login routes (the caller adds the login rate limit).
pub fn login_routes() -> Router<AppState> {
    Router::new()
        .route(ROUTE_LOGIN, get(login_form).post(login))
        .route(ROUTE_LOGIN_LINK, get(login_link))
}

/// The stylesheet and scripts (public: the sign-in page needs the stylesheet).
pub fn asset_routes() -> Router<AppState> {
    Router::new().route(assets::ROUTE_ASSETS, get(assets::asset))
}

/// The console's content security policy: nothing from elsewhere, nothing inline, never framed.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; frame-ancestors 'none'";

/// Adds the console's security headers to every response of these routes.
pub fn with_security_headers(r: Router<AppState>) -> Router<AppState> {
    r.route_layer(axum::middleware::map_response(security_headers))
}

async fn security_headers(mut r: Response) -> Response {
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    r
}

/// Where to go after login: only this console's own pages and the OAuth start.
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n)
            if (n.starts_with("/console") || n.starts_with(super::ROUTE_OAUTH_START))
                && !n.starts_with(ROUTE_LOGIN)
                && !n.contains("//")
                && !n.contains('\\') =>
        {
            n.to_string()
        }
        _ => ROUTE_CONSOLE.to_string(),
    }
}

/// The login page (also the body of a 401 for browsers).
pub fn login_page(next: &str, error: Option<&str>) -> Html<String> {
    let next = safe_next(Some(next));
    let body = html! {
        main id="main" class="narrow" {
            h1 { "zfsync console" }
            p { "Sign in with the operator token (" code { "server.admin_token" } ", "
                code { "ZFSYNC_ADMIN_TOKEN" } ", or the one zfsync generated: see the README, \"Operator access\")." }
            @if let Some(e) = error { p class="bad" role="alert" { (e) } }
            form method="post" action=(ROUTE_LOGIN) {
                input type="hidden" name="next" value=(next);
                label for="token" { "Operator token" }
                input id="token" name="token" type="password" autocomplete="current-password" required autofocus;
                button type="submit" { "Sign in" }
            }
        }
    };
    Html(document("Sign in", None, body).into_string())
}

#[derive(Debug, Deserialize)]
struct NextQuery {
    next: Option<String>,
}

async fn login_form(
    State(state): State<AppState>,
    client: Option<Extension<ClientAddr>>,
    headers: HeaderMap,
    Query(q): Query<NextQuery>,
) -> Response {
    let client = client.map(|Extension(ClientAddr(ip))| ip);
    if let Access::Operator(_) = auth::access(&state, &headers, client) {
        return Redirect::to(&safe_next(q.next.as_deref())).into_response();
    }
    login_page(q.next.as_deref().unwrap_or(ROUTE_CONSOLE), None).into_response()
}

#[derive(Deserialize)]
struct LoginForm {
    token: String,
    next: Option<String>,
}

impl std::fmt::Debug for LoginForm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginForm")
            .field("next", &self.next)
            .finish_non_exhaustive()
    }
}

async fn login(
    State(state): State<AppState>,
    client: Option<Extension<ClientAddr>>,
    Form(form): Form<LoginForm>,
) -> Response {
    let client = client.map(|Extension(ClientAddr(ip))| ip);
    let next = safe_next(form.next.as_deref());
    let failed = state.limits.failed_logins();
    if let Err(wait) = failed.admit(client) {
        return super::limits::too_many(wait, auth::TOO_MANY_WRONG_TOKENS);
    }
    match state.auth.login(&form.token) {
        Some(cookie) => {
            let shown = client.map_or_else(|| "unknown".to_string(), |ip| ip.to_string());
            tracing::info!(client = %shown, "operator signed in to the console");
            (
                StatusCode::SEE_OTHER,
                [(header::SET_COOKIE, cookie)],
                [(header::LOCATION, next)],
            )
                .into_response()
        }
        None => {
            // Logged (with the client's address, never the token) and counted.
            failed.failed(client, super::limits::Via::Form);
            let mut r = login_page(&next, Some("That is not the operator token.")).into_response();
            *r.status_mut() = StatusCode::UNAUTHORIZED;
            r
        }
    }
}

#[derive(Deserialize)]
struct LinkQuery {
    t: Option<String>,
}

impl std::fmt::Debug for LinkQuery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LinkQuery")
    }
}

/// A one-time link: sets the session, then a same-site refresh to the console (a `SameSite=Strict`
/// cookie is not sent on a redirect that started elsewhere, such as a terminal).
async fn login_link(State(state): State<AppState>, Query(q): Query<LinkQuery>) -> Response {
    let Some(cookie) = q.t.as_deref().and_then(|t| state.auth.redeem_link(t)) else {
        let mut r = login_page(ROUTE_CONSOLE, Some("This sign-in link was already used or has expired. Sign in with the operator token.")).into_response();
        *r.status_mut() = StatusCode::UNAUTHORIZED;
        return r;
    };
    let body = html! {
        main id="main" class="narrow" {
            h1 { "Signed in" }
            p { a href=(ROUTE_CONSOLE) { "Open the console" } }
        }
    };
    let page = document("Signed in", Some(ROUTE_CONSOLE), body).into_string();
    ([(header::SET_COOKIE, cookie)], Html(page)).into_response()
}

async fn logout(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let clear = state.auth.logout(&headers);
    (
        StatusCode::SEE_OTHER,
        [(header::SET_COOKIE, clear)],
        [(header::LOCATION, ROUTE_LOGIN.to_string())],
    )
        .into_response()
}

/// The console's pages, for the navigation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nav {
    /// Overview.
    Overview,
    /// Connect.
    Connect,
    /// Activity.
    Activity,
    /// Failed.
    Failed,
    /// Backfill.
    Backfill,
    /// Pairings.
    Pairings,
}

const NAV: &[(Nav, &str, &str)] = &[
    (Nav::Overview, "/console", "Overview"),
    (Nav::Connect, "/console/connect", "Connect"),
    (Nav::Activity, "/console/activity", "Activity"),
    (Nav::Failed, "/console/failed", "Failed"),
    (Nav::Backfill, "/console/backfill", "Backfill"),
    (Nav::Pairings, pairings::ROUTE_PAIRINGS, "Pairings"),
];

/// A whole HTML document; `refresh` adds a same-site navigation to that path.
fn document(title: &str, refresh: Option<&str>, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="referrer" content="no-referrer";
                @if let Some(to) = refresh { meta http-equiv="refresh" content=(format!("0;url={to}")); }
                title { (title) " · zfsync" }
                link rel="stylesheet" href=(assets::STYLESHEET);
            }
            body { a class="skip" href="#main" { "Skip to content" } (body) }
        }
    }
}

/// The pairing a console page shows (`?pairing=NAME`; `default` without one), with its parts
/// and the names of every pairing the daemon serves.
#[derive(Debug, Clone)]
pub struct Scope {
    /// The pairing's name.
    pub name: String,
    /// Its store handle, clients and lanes.
    pub session: super::PairingSession,
    /// Every served pairing, `default` first, then by name.
    pub all: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct PairingQuery {
    pairing: Option<String>,
}

impl Scope {
    /// Whether this is the configuration file's pairing.
    pub fn is_default(&self) -> bool {
        self.name == crate::config::DEFAULT_PAIRING
    }

    /// `path` of the console for this pairing (`?pairing=` added unless it is `default`).
    pub fn link(&self, path: &str) -> String {
        if self.is_default() {
            return path.to_string();
        }
        let sep = if path.contains('?') { '&' } else { '?' };
        format!("{path}{sep}pairing={}", self.name)
    }
}

impl axum::extract::FromRequestParts<AppState> for Scope {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &AppState,
    ) -> Result<Scope, Response> {
        let default = state.store.pairing_name().to_string();
        let name = Query::<PairingQuery>::try_from_uri(&parts.uri)
            .ok()
            .and_then(|q| q.0.pairing)
            .filter(|p| !p.is_empty())
            .unwrap_or(default.clone());
        let Some(session) = state.sessions.get(&name).cloned() else {
            return Err((
                StatusCode::NOT_FOUND,
                "This daemon serves no pairing by that name: see /console/pairings.",
            )
                .into_response());
        };
        let mut all: Vec<String> = state.sessions.keys().cloned().collect();
        all.sort_by_key(|n| (n != &default, n.clone()));
        Ok(Scope { name, session, all })
    }
}

/// A console page: navigation (every link keeps the pairing shown), the pairing switch when the
/// daemon serves several, the page, and the sign-out form.
pub fn layout(title: &str, current: Nav, op: &Operator, scope: &Scope, body: Markup) -> Response {
    let page = html! {
        header {
            span class="brand" { "zfsync" }
            nav aria-label="Console" {
                @for (nav, href, label) in NAV {
                    @let href = if *nav == Nav::Pairings { href.to_string() } else { scope.link(href) };
                    @if *nav == current { a href=(href) aria-current="page" { (label) } }
                    @else { a href=(href) { (label) } }
                }
            }
            @if scope.all.len() > 1 {
                form method="get" class="pairing-switch" {
                    label for="pairing" { "Pairing" }
                    select id="pairing" name="pairing" {
                        @for p in &scope.all {
                            @if *p == scope.name { option value=(p) selected { (p) } }
                            @else { option value=(p) { (p) } }
                        }
                    }
                    button type="submit" { "Show" }
                }
            }
            form method="post" action=(ROUTE_LOGOUT) {
                (csrf_field(op))
                button type="submit" { "Sign out" }
            }
        }
        main id="main" {
            h1 { (title) @if scope.all.len() > 1 { " · " span id="shown-pairing" { (scope.name) } } }
            (body)
        }
    };
    let mut r = Html(document(title, None, page).into_string()).into_response();
    r.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    r
}

/// The hidden CSRF field of a form.
pub fn csrf_field(op: &Operator) -> Markup {
    html! { input type="hidden" name=(CSRF_FIELD) value=(op.csrf()); }
}

// The pages' scripts, served by `assets` and named by the pages that load them (here, so that
// neither names the other).
/// The live part of the Activity and Failed pages.
pub const LIVE_SCRIPT: &str = "/console/assets/live.js";
/// The Backfill page's script.
pub const BACKFILL_SCRIPT: &str = "/console/assets/backfill.js";

pub use crate::time::{ago, utc};
