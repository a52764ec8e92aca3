//! Pages people open: the OAuth start and callback, Zalo's domain verification (meta tag and
//! file), and hosted files. Each answers a readable HTML page or the file; none leaks a secret.

use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::{AppState, PairingSession, ROUTE_OAUTH_CALLBACK};
use crate::oauth::{CodeFrom, ConnectError, Echoed};

/// The page and file Zalo reads to verify the webhook domain (`zalo.site_verification`).
fn verification_page(code: &str) -> Response {
    let code = code.replace(['"', '<', '>', '&'], "");
    Html(format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><meta name=\"zalo-platform-site-verification\" content=\"{code}\"><title>zfsync</title></head><body>zfsync</body></html>"
    ))
    .into_response()
}

/// `/`: the verification meta tag when configured.
pub async fn home(State(state): State<AppState>) -> Response {
    match &state.zalo_site_verification {
        Some(code) => verification_page(code),
        None => (StatusCode::NOT_FOUND, "zfsync: see /healthz").into_response(),
    }
}

/// `/zalo_verifier<code>.html`.
pub async fn zalo_verifier_file(
    State(state): State<AppState>,
    Path(file): Path<String>,
) -> Response {
    match &state.zalo_site_verification {
        Some(code) if file == format!("zalo_verifier{code}.html") => verification_page(code),
        _ => StatusCode::NOT_FOUND.into_response(),
    }
}

/// What `/oauth/zalo/start` takes.
#[derive(Debug, Deserialize)]
pub struct StartQuery {
    /// A one-time link from `zfsync connect zalo` (the admin token is not needed then).
    ticket: Option<String>,
    /// The OA the operator means to connect.
    oa_id: Option<String>,
    /// `console` when the console's "Connect Zalo" button opened it: the flow returns there.
    from: Option<String>,
}

/// The OA a callback must be for: the configured `zalo.oa_id`, else the OA already connected.
fn expected_oa(session: &PairingSession) -> Option<String> {
    session.zalo.oa_id()
}

/// The page for a pairing this daemon does not serve.
fn no_such_pairing() -> Response {
    page(
        StatusCode::NOT_FOUND,
        "No such pairing",
        "This daemon serves no pairing by that name: check the link, or 'zfsync pairing list'.",
    )
}

/// `/oauth/zalo/start` (operators, or a one-time link): redirects to Zalo's consent page for a new
/// attempt. Refused while no OA is expected (none configured, connected or named): its callback
/// could bind nothing. The plain route is the configuration file's pairing's.
pub async fn oauth_start(State(state): State<AppState>, Query(q): Query<StartQuery>) -> Response {
    let name = state.store.pairing_name().to_string();
    oauth_start_pairing(State(state), Path(name), Query(q)).await
}

/// `/oauth/zalo/start/<pairing>`: the same, for the pairing named in the path; Zalo comes back
/// to `/oauth/zalo/callback/<pairing>`.
pub async fn oauth_start_pairing(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Query(q): Query<StartQuery>,
) -> Response {
    match state.sessions.get(&name).cloned() {
        Some(session) => {
            crate::telemetry::in_pairing(&name, start(&state, &name, session, q)).await
        }
        None => no_such_pairing(),
    }
}

async fn start(state: &AppState, name: &str, session: PairingSession, q: StartQuery) -> Response {
    if q.from.as_deref() == Some("console") {
        state.console.oauth_started_here();
    }
    let redirect = format!(
        "{}{}",
        state.public_url.trim_end_matches('/'),
        crate::routes::for_pairing(ROUTE_OAUTH_CALLBACK, name)
    );
    let named = match q.ticket {
        Some(t) => match crate::oauth::take_ticket(&session.store, &t).await {
            Ok(named) => named,
            Err(e) => {
                return page(
                    StatusCode::FORBIDDEN,
                    "This link cannot be used",
                    &e.to_string(),
                )
            }
        },
        None => q.oa_id,
    };
    let named = named.filter(|o| !o.is_empty());
    if expected_oa(&session).is_none() && named.is_none() {
        return page(
            StatusCode::CONFLICT,
            "zfsync does not know which OA to connect",
            &ConnectError::NoExpectedOa { claimed: None }.to_string(),
        );
    }
    match crate::oauth::start(&session.store, session.zalo.client(), &redirect, named).await {
        Ok(url) => Redirect::to(url.as_str()).into_response(),
        Err(e) => page(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Could not start the Zalo authorization",
            &e.to_string(),
        ),
    }
}

/// What Zalo adds to the callback URL.
#[derive(Debug, Deserialize)]
pub struct CallbackQuery {
    code: Option<String>,
    oa_id: Option<String>,
    state: Option<String>,
    code_challenge: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

/// `/oauth/zalo/callback`: completes the attempt an operator started.
pub async fn oauth_callback(
    State(state): State<AppState>,
    Query(q): Query<CallbackQuery>,
) -> Response {
    let name = state.store.pairing_name().to_string();
    oauth_callback_pairing(State(state), Path(name), Query(q)).await
}

/// `/oauth/zalo/callback/<pairing>`: completes an attempt of the pairing named in the path.
pub async fn oauth_callback_pairing(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Query(q): Query<CallbackQuery>,
) -> Response {
    match state.sessions.get(&name).cloned() {
        Some(session) => crate::telemetry::in_pairing(&name, callback(&state, session, q)).await,
        None => no_such_pairing(),
    }
}

async fn callback(state: &AppState, session: PairingSession, q: CallbackQuery) -> Response {
    if let Some(err) = q.error {
        let detail = q.error_description.unwrap_or(err);
        tracing::info!("Zalo's consent page came back without access (the admin declined, or Zalo refused); nothing was changed");
        crate::oauth::count_callback(crate::oauth::OUTCOME_DENIED);
        return page(
            StatusCode::BAD_REQUEST,
            "Zalo did not grant access",
            &format!("Zalo said: {detail}. Nothing was changed; you can start again."),
        );
    }
    let Some(code) = q.code.filter(|c| !c.is_empty()) else {
        tracing::warn!("refused an OAuth callback without a code; nothing was changed");
        crate::oauth::count_callback(crate::oauth::OUTCOME_NO_CODE);
        return page(
            StatusCode::BAD_REQUEST,
            "This link is incomplete",
            "The address is missing the code Zalo adds. Start again from the connect link.",
        );
    };
    // Zalo's documented callback carries only `code` and `oa_id`; `state` (or the PKCE challenge)
    // when it echoes them. Without either, the one attempt pending is the one completed.
    let echoed = Echoed {
        state: q.state,
        code_challenge: q.code_challenge,
        oa_id: q.oa_id,
    };
    let expected = expected_oa(&session);
    match crate::oauth::complete(
        &session.store,
        &session.zalo,
        &code,
        CodeFrom::Callback(echoed),
        expected,
    )
    .await
    {
        Ok(c) => {
            let name = c.oa_name.unwrap_or_else(|| "your Official Account".into());
            let id = c.oa_id.map(|i| format!(" (id {i})")).unwrap_or_default();
            let body = format!("Connected to {name}{id}. Messages now flow between Zalo and Freshchat. You can close this window.");
            if state.console.take_oauth_return() {
                // Back to the console by a same-site refresh (its SameSite=Strict cookie is not
                // sent on the redirect chain that started at Zalo).
                return page_then(
                    StatusCode::OK,
                    "zfsync is connected to Zalo",
                    &body,
                    "/console/connect?connected=1",
                );
            }
            page(StatusCode::OK, "zfsync is connected to Zalo", &body)
        }
        Err(e) => page(
            StatusCode::BAD_REQUEST,
            "Zalo connection failed",
            &format!("{e}"),
        ),
    }
}

/// A small readable HTML page.
pub fn page(status: StatusCode, title: &str, body: &str) -> Response {
    page_with(status, title, body, "")
}

/// The same page, then on to `next` (a path of this daemon) at once.
pub fn page_then(status: StatusCode, title: &str, body: &str, next: &str) -> Response {
    let head = format!(
        "<meta http-equiv=\"refresh\" content=\"1;url={n}\">",
        n = escape(next)
    );
    let body = format!("{body} Returning to the console…");
    page_with(status, title, &body, &head)
}

fn page_with(status: StatusCode, title: &str, body: &str, head: &str) -> Response {
    let html = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\">{head}<title>{t}</title></head><body style=\"font-family:sans-serif;max-width:40em;margin:3em auto\"><h1>{t}</h1><p>{b}</p></body></html>",
        t = escape(title),
        b = escape(body)
    );
    (status, Html(html)).into_response()
}

/// Escapes text for HTML.
pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// `/files/{token}`: a hosted file, as an attachment with its own name and its type from the
/// allowlist ([`crate::sync::hosted::served_type`]; a file hosted by an older release may hold any).
pub async fn hosted_file(State(state): State<AppState>, Path(token): Path<String>) -> Response {
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
                (
                    header::CONTENT_TYPE,
                    crate::sync::hosted::served_type(&f.content_type).to_string(),
                ),
                (
                    header::CONTENT_DISPOSITION,
                    content_disposition(&f.filename),
                ),
                (header::CACHE_CONTROL, "private, no-store".to_string()),
                // Never rendered as a page of zfsync's origin, whatever the file holds.
                (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_string()),
                (header::CONTENT_SECURITY_POLICY, "sandbox".to_string()),
                (
                    header::HeaderName::from_static("referrer-policy"),
                    "no-referrer".to_string(),
                ),
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

/// `attachment` with the file's own name: an ASCII fallback and the UTF-8 name (RFC 6266), so
/// Vietnamese names survive and no header can be broken by the name.
fn content_disposition(name: &str) -> String {
    let ascii: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let encoded = percent_encoding::utf8_percent_encode(name, percent_encoding::NON_ALPHANUMERIC);
    format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}
