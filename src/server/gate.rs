//! The gate in front of the operator routes: [`require_operator`] lets an operator through (see
//! [`super::auth`] for who is one) and checks the CSRF token of a cookie request that changes
//! state; [`require_operator_or_ticket`] also lets a one-time OAuth ticket through to its handler.
//!
//! Failure: a stranger gets 401 with the console's login page (or a plain 401 for non-page
//! requests) and learns nothing about the daemon; too many wrong tokens get 429; a state-changing
//! form without its session's CSRF token gets 403.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::auth::{access, Access, Auth, TOO_MANY_WRONG_TOKENS};
use super::AppState;

/// Largest form body read when looking for the CSRF field.
const MAX_FORM_BYTES: usize = 64 * 1024;

/// Whether the client asked for a page (a browser) rather than data.
fn wants_html(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("text/html"))
}

/// The refusal a stranger gets: 401, and the login page when a browser asked for a page.
pub fn unauthorized(headers: &HeaderMap, next: &str) -> Response {
    let mut resp = if wants_html(headers) {
        super::console::login_page(next, None).into_response()
    } else {
        "unauthorized: send 'Authorization: Bearer <admin token>' or log in at /console/login"
            .into_response()
    };
    *resp.status_mut() = StatusCode::UNAUTHORIZED;
    resp.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer realm=\"zfsync\""),
    );
    resp
}

/// Middleware for the OAuth start: a request carrying a one-time link's `ticket` goes on (the handler
/// checks and uses up the ticket, refusing an unknown one); anything else needs an operator.
pub async fn require_operator_or_ticket(
    State(state): State<AppState>,
    req: Request,
    next: Next,
) -> Response {
    let has_ticket = req
        .uri()
        .query()
        .is_some_and(|q| q.split('&').any(|kv| kv.starts_with("ticket=")));
    if has_ticket {
        return next.run(req).await;
    }
    require_operator(State(state), req, next).await
}

/// Middleware for operator routes: lets operators through (with an [`Operator`] extension), checks
/// the CSRF token of state-changing cookie requests, and refuses everyone else.
pub async fn require_operator(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let op = match access(&state, req.headers(), super::client::of(&req)) {
        Access::Operator(op) => op,
        Access::Stranger => {
            let next_path = req
                .uri()
                .path_and_query()
                .map(|p| p.as_str().to_string())
                .unwrap_or_default();
            return unauthorized(req.headers(), &next_path);
        }
        Access::Refused(wait) => return super::limits::too_many(wait, TOO_MANY_WRONG_TOKENS),
    };
    let safe = matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    let mut req = match (&op.csrf, safe) {
        (Some(expected), false) => {
            let (parts, body) = req.into_parts();
            let is_form = parts
                .headers
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|c| c.starts_with("application/x-www-form-urlencoded"));
            let bytes = if is_form {
                match axum::body::to_bytes(body, MAX_FORM_BYTES).await {
                    Ok(b) => Some(b),
                    Err(_) => {
                        return (StatusCode::PAYLOAD_TOO_LARGE, "form too large").into_response()
                    }
                }
            } else {
                None
            };
            if !Auth::csrf_ok(expected, &parts.headers, bytes.as_deref()) {
                return (
                    StatusCode::FORBIDDEN,
                    "refused: this form is missing its CSRF token or it is stale; reload the page and try again",
                )
                    .into_response();
            }
            Request::from_parts(parts, bytes.map(Body::from).unwrap_or_else(Body::empty))
        }
        _ => req,
    };
    req.extensions_mut().insert(op);
    next.run(req).await
}
