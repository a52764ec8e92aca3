//! The operator console at `/console`: server-rendered HTML (maud) on the daemon's own listener,
//! with a little plain JavaScript and server-sent events for the live parts. No build step.
//!
//! Pages: [`overview`] (connections, last events, queue, 24-hour charts, readiness) and the Connect
//! page (Zalo OAuth, `check` results); [`activity`] (recent synced messages, no bodies) and the
//! Failed page (retry one or all, outcome live); [`backfill`] (start one, live progress bar).
//! Every route here is behind [`super::auth::require_operator`], except the login page and the
//! one-time login link, which are rate limited per address.
//!
//! Failure: a page whose data cannot be read says so in place (a store error, a platform that does
//! not answer within a few seconds) rather than failing the whole page.

pub mod activity;
pub mod backfill;
pub mod overview;
mod quota;

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Mutex;

use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use maud::{html, Markup, PreEscaped, DOCTYPE};
use serde::Deserialize;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use zfsync_freshchat::FreshchatClient;

use super::auth::{self, Operator, CSRF_FIELD};
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
    /// Runs backfills started from the console.
    pub backfill: Backfill,
    /// The progress of the latest backfill started here.
    pub backfill_progress: watch::Sender<Progress>,
    /// Events retried from the console, newest first (their outcome is shown live).
    pub retried: Mutex<VecDeque<i64>>,
    /// Until when (unix ms) a finished OAuth flow returns to the console.
    pub oauth_return_until: AtomicI64,
    /// Cancelled when the daemon stops, so live streams end and the server can stop.
    pub stop: CancellationToken,
    /// The overview's platform details, cached briefly so reloading the page costs no API calls.
    pub(crate) platform_cache: Mutex<Option<(std::time::Instant, overview::Platforms)>>,
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
            backfill,
            backfill_progress: watch::Sender::new(Progress::default()),
            retried: Mutex::new(VecDeque::new()),
            oauth_return_until: AtomicI64::new(0),
            stop: CancellationToken::new(),
            platform_cache: Mutex::new(None),
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
        .route("/console/failed", get(activity::failed))
        .route("/console/failed/retry", post(activity::retry))
        .route("/console/live/events", get(activity::live_events))
        .route(
            "/console/backfill",
            get(backfill::page).post(backfill::start),
        )
        .route("/console/live/backfill", get(backfill::live))
        .route(ROUTE_LOGOUT, post(logout))
}

/// The login routes (the caller adds the login rate limit).
pub fn login_routes() -> Router<AppState> {
    Router::new()
        .route(ROUTE_LOGIN, get(login_form).post(login))
        .route(ROUTE_LOGIN_LINK, get(login_link))
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
    headers: HeaderMap,
    Query(q): Query<NextQuery>,
) -> Response {
    if state.auth.operator(&headers).is_some() {
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

async fn login(State(state): State<AppState>, Form(form): Form<LoginForm>) -> Response {
    let next = safe_next(form.next.as_deref());
    match state.auth.login(&form.token) {
        Some(cookie) => {
            tracing::info!("operator signed in to the console");
            (
                StatusCode::SEE_OTHER,
                [(header::SET_COOKIE, cookie)],
                [(header::LOCATION, next)],
            )
                .into_response()
        }
        None => {
            tracing::warn!("console sign-in refused: wrong operator token");
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
}

const NAV: &[(Nav, &str, &str)] = &[
    (Nav::Overview, "/console", "Overview"),
    (Nav::Connect, "/console/connect", "Connect"),
    (Nav::Activity, "/console/activity", "Activity"),
    (Nav::Failed, "/console/failed", "Failed"),
    (Nav::Backfill, "/console/backfill", "Backfill"),
];

const STYLE: &str = r#"
:root{--fg:#1b1b1b;--muted:#4a4a4a;--line:#c9c9c9;--accent:#0b4fb3;--good:#0f6b2c;--bad:#a4161a;--warn:#7a4a00;--bg:#fff;--soft:#f3f5f8}
*{box-sizing:border-box}
body{margin:0;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);background:var(--bg)}
header{background:#10294f;color:#fff;padding:.5rem 1rem;display:flex;flex-wrap:wrap;align-items:center;gap:.25rem 1rem}
header .brand{font-weight:700;margin-right:.5rem}
header nav{display:flex;flex-wrap:wrap;gap:.25rem}
header nav a{color:#fff;text-decoration:none;padding:.5rem .6rem;border-radius:6px}
header nav a[aria-current=page]{background:#fff;color:#10294f;font-weight:600}
header form{margin-left:auto}
header form button{background:transparent;border-color:#fff}
main{max-width:64rem;margin:0 auto;padding:1rem}
main.narrow{max-width:28rem;padding-top:3rem}
h1{font-size:1.6rem;margin:.5rem 0 1rem}
h2{font-size:1.2rem;margin:0 0 .5rem}
a{color:var(--accent)}
:focus-visible{outline:3px solid #f0a400;outline-offset:2px}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(17rem,1fr));gap:1rem}
.card{border:1px solid var(--line);border-radius:10px;padding:1rem;background:var(--soft)}
dl{display:grid;grid-template-columns:auto 1fr;gap:.2rem .75rem;margin:0}
dt{color:var(--muted)} dd{margin:0;overflow-wrap:anywhere}
.ok{color:var(--good);font-weight:600}.bad{color:var(--bad);font-weight:600}.warn{color:var(--warn);font-weight:600}
.scroll{overflow-x:auto}
table{border-collapse:collapse;width:100%;font-size:.95rem}
th,td{text-align:left;padding:.45rem .5rem;border-bottom:1px solid var(--line);vertical-align:top}
th{background:var(--soft)}
td.id{font-family:ui-monospace,monospace;font-size:.85rem;overflow-wrap:anywhere}
button,.button{display:inline-block;font:inherit;min-height:44px;padding:.5rem 1rem;border-radius:8px;border:2px solid var(--accent);background:var(--accent);color:#fff;cursor:pointer;text-decoration:none}
button.secondary{background:#fff;color:var(--accent)}
label{display:block;font-weight:600;margin:.75rem 0 .25rem}
input{font:inherit;padding:.5rem;border:2px solid #767676;border-radius:6px;min-height:44px;width:100%;max-width:24rem}
form.inline{display:inline}
.row{display:flex;flex-wrap:wrap;gap:.5rem;align-items:end}
progress{width:100%;height:1.6rem}
figure{margin:0}
.chart rect.s{fill:#1f6fd6}.chart rect.f{fill:#c62828}.chart line{stroke:#8a8a8a}
.skip{position:absolute;left:-9999px}.skip:focus{left:1rem;top:1rem;background:#fff;color:#000;padding:.5rem;z-index:2}
.muted{color:var(--muted)}
"#;

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
                style { (PreEscaped(STYLE)) }
            }
            body { a class="skip" href="#main" { "Skip to content" } (body) }
        }
    }
}

/// A console page: navigation, the page, and the sign-out form.
pub fn layout(title: &str, current: Nav, op: &Operator, body: Markup) -> Response {
    let page = html! {
        header {
            span class="brand" { "zfsync" }
            nav aria-label="Console" {
                @for (nav, href, label) in NAV {
                    @if *nav == current { a href=(href) aria-current="page" { (label) } }
                    @else { a href=(href) { (label) } }
                }
            }
            form method="post" action=(ROUTE_LOGOUT) {
                (csrf_field(op))
                button type="submit" { "Sign out" }
            }
        }
        main id="main" { h1 { (title) } (body) }
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

pub use crate::status::{ago, utc};

/// Re-exported for the router.
pub use auth::require_operator;
