//! The OAuth host: `GET /v4/oa/permission` (the consent page, approved at once by the admin of the
//! chosen OA) and `POST /v4/oa/access_token` (code exchange with PKCE, refresh with single-use
//! rotation). Any other path answers HTTP 200 `{"error":"404",...}` (a string, as captured).
//!
//! Errors are HTTP 200 bodies without `access_token`: `{error, error_name, error_reason, ref_doc,
//! error_description}`. Documented codes: -14002 (app id), -14003 (redirect URI), -14014 (refresh
//! token invalid, expired or already used). The simulator's own: -14001 (grant type), -14004
//! (`secret_key` header), -14019 (code unknown, used, expired, or PKCE mismatch).

use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use bytes::Bytes;
use serde_json::json;
use subtle::ConstantTimeEq as _;
use url::Url;

use super::config::Fault;
use super::state::CodeState;
use super::wire;
use super::{faults, lock, ZaloSim};

/// The router of the OAuth listener.
pub(crate) fn router(sim: ZaloSim) -> Router {
    let unknown = || async { wire::unknown_oauth() };
    Router::new()
        .route(wire::OAUTH_PERMISSION, get(permission).fallback(unknown))
        .route(
            wire::OAUTH_ACCESS_TOKEN,
            post(access_token).fallback(unknown),
        )
        .fallback(unknown)
        .with_state(sim)
}

impl ZaloSim {
    /// A code bound to `oa_id` and an optional PKCE challenge.
    pub(crate) fn new_code(&self, oa_id: &str, challenge: Option<&str>) -> String {
        let code = wire::new_token(32);
        let now = self.now_ms();
        self.st().codes.insert(
            code.clone(),
            CodeState {
                challenge: challenge.filter(|c| !c.is_empty()).map(str::to_owned),
                oa_id: oa_id.to_owned(),
                issued_ms: now,
            },
        );
        code
    }

    /// The OA whose admin approves consents now.
    pub(crate) fn approving_oa(&self) -> String {
        let main = lock(&self.core.cfg).oa_id.clone();
        self.st().consent_oa.clone().unwrap_or(main)
    }

    fn token_exchange(&self, headers: &HeaderMap, body: &[u8]) -> Response {
        let form: Vec<(String, String)> = url::form_urlencoded::parse(body).into_owned().collect();
        let field = |k: &str| {
            form.iter()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.as_str())
                .unwrap_or("")
        };
        let cfg = self.config();
        if field("app_id") != cfg.app_id {
            return wire::oauth_error(
                wire::OAUTH_INVALID_APP,
                "Invalid appId",
                "app_id is missing or not this app",
            );
        }
        let secret = headers
            .get(wire::H_SECRET_KEY)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if !bool::from(secret.as_bytes().ct_eq(cfg.app_secret.as_bytes())) {
            return wire::oauth_error(
                wire::OAUTH_INVALID_SECRET,
                "Invalid secret key",
                "the secret_key header is not this app's App Secret Key",
            );
        }
        let now = self.now_ms();
        let mut st = self.st();
        let oa_id = match field("grant_type") {
            "authorization_code" => {
                // Single use: the code is gone after any attempt, successful or not.
                let Some(c) = st.codes.remove(field("code")) else {
                    return wire::oauth_error(
                        wire::OAUTH_INVALID_CODE,
                        "Invalid code",
                        "the authorization code is unknown or already used",
                    );
                };
                if now - c.issued_ms > wire::CODE_TTL_MS {
                    return wire::oauth_error(
                        wire::OAUTH_INVALID_CODE,
                        "Invalid code",
                        "the authorization code has expired (10 minutes)",
                    );
                }
                if let Some(ch) = &c.challenge {
                    let verifier = field("code_verifier");
                    let ok = !verifier.is_empty()
                        && bool::from(
                            wire::pkce_challenge(verifier)
                                .as_bytes()
                                .ct_eq(ch.as_bytes()),
                        );
                    if !ok {
                        return wire::oauth_error(
                            wire::OAUTH_INVALID_CODE,
                            "Invalid code verifier",
                            "code_verifier does not hash to the code_challenge of this code",
                        );
                    }
                }
                c.oa_id
            }
            "refresh_token" => {
                let Some(r) = st
                    .refresh
                    .get_mut(field("refresh_token"))
                    .filter(|r| !r.used && r.expires_ms > now)
                else {
                    st.refresh_refused += 1;
                    return wire::oauth_error(
                        wire::OAUTH_INVALID_REFRESH,
                        "Invalid refresh token",
                        "the refresh token is invalid, expired or already used",
                    );
                };
                r.used = true;
                let (old_access, oa) = (r.access.clone(), r.oa_id.clone());
                // The strict reading: the old access token dies with the old refresh token.
                if let Some(a) = st.access.get_mut(&old_access) {
                    a.revoked = true;
                }
                oa
            }
            _ => {
                return wire::oauth_error(
                    wire::OAUTH_BAD_GRANT,
                    "Invalid grant_type",
                    "grant_type must be authorization_code or refresh_token",
                )
            }
        };
        let (access, refresh) = st.issue_pair(&oa_id, cfg.access_token_ttl, now);
        drop(st);
        Json(json!({
            "access_token": access, "refresh_token": refresh,
            "expires_in": cfg.access_token_ttl.as_secs().to_string(),
        }))
        .into_response()
    }
}

async fn permission(
    State(sim): State<ZaloSim>,
    Query(q): Query<Vec<(String, String)>>,
) -> Response {
    sim.latency().await;
    sim.st().permission_requests.push(q.clone());
    let get = |k: &str| {
        q.iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    };
    let cfg = sim.config();
    if get("app_id") != Some(cfg.app_id.as_str()) {
        return wire::oauth_error(wire::OAUTH_INVALID_APP, "Invalid appId", "");
    }
    let redirect = get("redirect_uri").unwrap_or("");
    let allowed = cfg.redirect_uri.as_deref().is_none_or(|r| r == redirect);
    let target = Url::parse(redirect)
        .ok()
        .filter(|u| allowed && matches!(u.scheme(), "http" | "https"));
    let Some(mut target) = target else {
        return wire::oauth_error(wire::OAUTH_INVALID_REDIRECT, "Invalid redirect uri", "");
    };
    let challenge = get("code_challenge");
    let oa_id = sim.approving_oa();
    let code = sim.new_code(&oa_id, challenge);
    {
        let mut qp = target.query_pairs_mut();
        qp.append_pair("code", &code).append_pair("oa_id", &oa_id);
        if cfg.callback_state {
            if let Some(s) = get("state") {
                qp.append_pair("state", s);
            }
        }
        if cfg.callback_code_challenge {
            if let Some(c) = challenge {
                qp.append_pair("code_challenge", c);
            }
        }
    }
    (StatusCode::FOUND, [(header::LOCATION, target.to_string())]).into_response()
}

async fn access_token(State(sim): State<ZaloSim>, headers: HeaderMap, body: Bytes) -> Response {
    sim.latency().await;
    match sim.next_fault(wire::OAUTH_ACCESS_TOKEN, false) {
        Some(Fault::Api { code, message }) => wire::oauth_error(code, &message, &message),
        Some(Fault::HttpStatus(s)) => wire::http_status(s),
        Some(Fault::Hang) => sim.hang().await,
        Some(Fault::Disconnect) => faults::disconnect(),
        Some(Fault::LoseResponse) => {
            let _lost = sim.token_exchange(&headers, &body);
            faults::disconnect()
        }
        None => sim.token_exchange(&headers, &body),
    }
}
