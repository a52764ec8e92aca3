//! The OpenAPI host (`/v2.0/...`, `/v3.0/...`): one dispatcher that does what every Zalo call does
//! first — 404 for unknown paths and for a token in the query string, the per-minute rate limit
//! (-32, `X-RateLimit-Limit` / `X-RateLimit-Remain` on every answer), injected and random faults, the
//! `access_token` header (-216 invalid or expired, -220 retired by a refresh) — then the endpoint.
//! Reads live here (`user/detail`, `getoa`, `listrecentchat`, `conversation`, `quota/message`);
//! sends are in `messages`, uploads in `uploads`, the tag calls in `tags`. Served media and the `/sim` control routes share
//! this listener.
//!
//! Every application error is HTTP 200 `{"error": <negative>, "message": ...}`.

use axum::extract::{DefaultBodyLimit, Path, Request, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde_json::{json, Value};

use super::config::Fault;
use super::state::{history_json, AssetKind};
use super::tags::TagCall;
use super::wire::{self, ApiError, ApiResult};
use super::{control, faults, lock, quota, ZaloSim};

/// Name of the asset serving the OA's avatar.
pub(crate) const OA_AVATAR: &str = "oa-avatar";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Endpoint {
    MessageCs,
    MessageTemplate,
    MessageV2,
    Upload(AssetKind),
    UserDetail,
    GetOa,
    RecentChat,
    Conversation,
    Quota,
    Tag(TagCall),
    TagsOfOa,
}

impl Endpoint {
    fn find(method: &Method, path: &str) -> Option<Endpoint> {
        let post = *method == Method::POST;
        let get = *method == Method::GET;
        Some(match path {
            wire::API_MESSAGE_CS if post => Endpoint::MessageCs,
            wire::API_MESSAGE_TEMPLATE if post => Endpoint::MessageTemplate,
            wire::API_MESSAGE_V2 if post => Endpoint::MessageV2,
            wire::API_UPLOAD_IMAGE if post => Endpoint::Upload(AssetKind::Image),
            wire::API_UPLOAD_GIF if post => Endpoint::Upload(AssetKind::Gif),
            wire::API_UPLOAD_FILE if post => Endpoint::Upload(AssetKind::File),
            wire::API_USER_DETAIL if get => Endpoint::UserDetail,
            wire::API_GETOA if get => Endpoint::GetOa,
            wire::API_RECENT_CHAT if get => Endpoint::RecentChat,
            wire::API_CONVERSATION if get => Endpoint::Conversation,
            wire::API_QUOTA if post => Endpoint::Quota,
            wire::API_TAG_FOLLOWER if post => Endpoint::Tag(TagCall::TagFollower),
            wire::API_RM_FOLLOWER_FROM_TAG if post => Endpoint::Tag(TagCall::RmFollowerFromTag),
            wire::API_RM_TAG if post => Endpoint::Tag(TagCall::RmTag),
            wire::API_TAGS_OF_OA if get => Endpoint::TagsOfOa,
            _ => return None,
        })
    }
}

/// The router of the API listener.
pub(crate) fn router(sim: ZaloSim) -> Router {
    control::routes()
        .route(&format!("{}/{{id}}", wire::MEDIA_PREFIX), get(media))
        .route("/sim/avatar/{name}", get(avatar))
        .fallback(dispatch)
        .layer(DefaultBodyLimit::max(16 * wire::MB))
        .with_state(sim)
}

impl ZaloSim {
    /// Counts a call against the per-minute limit: (limit, remain, over).
    fn count_call(&self) -> (u32, u32, bool) {
        let limit = lock(&self.core.cfg).rate_limit_per_minute;
        let minute = self.now_ms().div_euclid(60_000);
        let mut st = self.st();
        if st.rate_minute != minute {
            st.rate_minute = minute;
            st.rate_count = 0;
        }
        st.rate_count = st.rate_count.saturating_add(1);
        (
            limit,
            limit.saturating_sub(st.rate_count),
            st.rate_count > limit,
        )
    }

    /// The OA the `access_token` header speaks for.
    fn check_token(&self, headers: &HeaderMap) -> Result<String, ApiError> {
        let token = headers
            .get(wire::H_ACCESS_TOKEN)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let now = self.now_ms();
        match self.st().access.get(token) {
            None => Err(ApiError::new(
                wire::E_TOKEN_INVALID,
                "Access token is invalid",
            )),
            Some(a) if a.revoked => Err(ApiError::new(
                wire::E_TOKEN_REMOVED,
                "access_token is expired or removed",
            )),
            // As captured from message/cs with an expired token.
            Some(a) if a.expires_ms <= now => Err(ApiError::new(
                wire::E_TOKEN_INVALID,
                "Access token has expired",
            )),
            Some(a) => Ok(a.oa_id.clone()),
        }
    }

    fn main_oa(&self) -> String {
        lock(&self.core.cfg).oa_id.clone()
    }

    fn user_detail(&self, oa: &str, query: Option<&str>) -> ApiResult {
        let data = wire::data_param(query)?;
        let user_id = wire::id_field(&data, "user_id")?;
        let not_follower = || ApiError::new(wire::E_NOT_FOLLOWER, wire::MSG_NOT_FOLLOWER);
        if oa != self.main_oa() {
            return Err(not_follower());
        }
        let st = self.st();
        let u = st.users.get(&user_id).ok_or_else(not_follower)?;
        if let Some(code) = u.profile_refusal {
            let msg = match code {
                wire::E_NOT_REGISTERED => wire::MSG_NOT_REGISTERED,
                wire::E_NOT_FOLLOWER => wire::MSG_NOT_FOLLOWER,
                _ => "Can not get user profile",
            };
            return Err(ApiError::new(code, msg));
        }
        let avatar = u.user.avatar.clone().unwrap_or_default();
        let mut d = json!({
            "user_id": u.user.user_id, "user_id_by_app": u.by_app, "user_external_id": "",
            "display_name": u.user.display_name, "user_alias": "", "is_sensitive": false,
            "user_last_interaction_date": u.last_interaction_ms.map(wire::vn_date).unwrap_or_default(),
            "user_is_follower": u.user.follower,
            "avatar": avatar, "avatars": {"120": avatar, "240": avatar},
            "dynamic_param": "",
            "tags_and_notes_info": {"notes": [], "tag_names": u.tags},
        });
        if let (Some(info), Some(obj)) = (&u.shared_info, d.as_object_mut()) {
            obj.insert("shared_info".into(), info.clone());
        }
        Ok(d)
    }

    fn getoa(&self, oa: &str) -> ApiResult {
        let cfg = self.config();
        let st = self.st();
        let main = oa == cfg.oa_id;
        let followers = if main {
            st.users.values().filter(|u| u.user.follower).count()
        } else {
            0
        };
        let name = if main {
            cfg.oa_name.clone()
        } else {
            st.oas
                .get(oa)
                .cloned()
                .unwrap_or_else(|| format!("OA {oa}"))
        };
        // Both spellings of the id: the documented example says `oaid`, its field table `oa_id`.
        Ok(json!({
            "oaid": oa, "oa_id": oa, "name": name,
            "description": "Simulated Zalo Official Account",
            "oa_alias": "", "is_verified": true, "oa_type": 2, "cate_name": "Phần mềm",
            "num_follower": followers, "avatar": self.media_url(OA_AVATAR), "cover": "",
            "package_name": if cfg.sub_quota.is_some() { "Nâng cao" } else { "" },
            "package_valid_through_date": cfg.sub_quota.as_ref().map(|s| s.expired_date.clone()).unwrap_or_default(),
            "package_auto_renew_date": "", "linked_ZCA": "",
        }))
    }

    fn history(&self, oa: &str, query: Option<&str>, one_user: bool) -> ApiResult {
        let data = wire::data_param(query)?;
        let count = wire::count_field(&data, "count", 5)?;
        let offset = wire::count_field(&data, "offset", 0)?;
        if count > wire::MAX_HISTORY_COUNT {
            return Err(ApiError::new(wire::E_LIMIT, "maximum count is 10"));
        }
        let user = if one_user {
            Some(wire::loose_id_field(&data, "user_id")?)
        } else {
            None
        };
        let cfg = self.config();
        if oa != cfg.oa_id {
            return Ok(json!([]));
        }
        let (offset, count) = (
            usize::try_from(offset).unwrap_or(usize::MAX),
            usize::try_from(count).unwrap_or(0),
        );
        let oa_avatar = self.media_url(OA_AVATAR);
        let st = self.st();
        let items: Vec<Value> = match &user {
            Some(u) => {
                if !st.users.contains_key(u) {
                    return Err(ApiError::new(wire::E_NOT_FOLLOWER, wire::MSG_NOT_FOLLOWER));
                }
                st.conversation(u, offset, count)
                    .into_iter()
                    .map(|h| history_json(h, st.users.get(u), u, &cfg, &oa_avatar))
                    .collect()
            }
            None => st
                .recent(offset, count)
                .into_iter()
                .map(|(u, h)| history_json(h, st.users.get(u), u, &cfg, &oa_avatar))
                .collect(),
        };
        Ok(Value::Array(items))
    }

    fn quota_call(&self, oa: &str, body: &[u8]) -> ApiResult {
        let v: Value = serde_json::from_slice(body)
            .ok()
            .filter(Value::is_object)
            .ok_or_else(|| ApiError::invalid("body"))?;
        let cfg = self.config();
        let now = self.now_ms();
        if v.get("user_id").is_none() && v.get("quota_owner").is_some() {
            return Ok(quota::assets_json(&self.st(), &cfg));
        }
        let user_id = wire::id_field(&v, "user_id")?;
        let st = self.st();
        let q = quota::state_of(&st, &user_id, &cfg, now)
            .filter(|_| oa == cfg.oa_id)
            .ok_or_else(|| ApiError::new(wire::E_NOT_FOLLOWER, wire::MSG_NOT_FOLLOWER))?;
        Ok(quota::user_quota_json(&q))
    }
}

fn answer(r: ApiResult) -> Response {
    match r {
        Ok(d) => wire::success(d),
        Err(e) => wire::failure(&e),
    }
}

/// Every OpenAPI call: lookup, latency, token-in-query, rate limit, faults, token, endpoint.
async fn dispatch(State(sim): State<ZaloSim>, req: Request) -> Response {
    let path = req.uri().path().to_owned();
    let query = req.uri().query().map(str::to_owned);
    let Some(ep) = Endpoint::find(req.method(), &path) else {
        return wire::unknown_api();
    };
    sim.latency().await;
    {
        let data = query
            .as_deref()
            .filter(|q| q.contains("data="))
            .and_then(|q| wire::data_param(Some(q)).ok())
            .map(|d| format!(" {d}"))
            .unwrap_or_default();
        sim.st().calls.push(format!("{path}{data}"));
    }
    if wire::query_has_token(query.as_deref()) {
        return wire::unknown_api();
    }
    let (limit, remain, over) = sim.count_call();
    let finish = |r: Response| wire::with_rate_headers(r, limit, remain);
    if over {
        return finish(wire::failure(&ApiError::new(wire::E_RATE, wire::MSG_RATE)));
    }
    let lose_response = match sim.next_fault(&path, true) {
        Some(Fault::Api { code, message }) => {
            return finish(wire::failure(&ApiError::new(code, message)))
        }
        Some(Fault::HttpStatus(s)) => return finish(wire::http_status(s)),
        Some(Fault::Hang) => return sim.hang().await,
        Some(Fault::Disconnect) => return faults::disconnect(),
        Some(Fault::LoseResponse) => true,
        None => false,
    };
    let oa = match sim.check_token(req.headers()) {
        Ok(oa) => oa,
        Err(e) => return finish(wire::failure(&e)),
    };
    let resp = match ep {
        Endpoint::Upload(kind) => sim.upload(kind, req).await,
        Endpoint::UserDetail => answer(sim.user_detail(&oa, query.as_deref())),
        Endpoint::GetOa => answer(sim.getoa(&oa)),
        Endpoint::RecentChat => answer(sim.history(&oa, query.as_deref(), false)),
        Endpoint::Conversation => answer(sim.history(&oa, query.as_deref(), true)),
        Endpoint::TagsOfOa => answer(sim.tags_of_oa(&oa)),
        Endpoint::MessageCs
        | Endpoint::MessageTemplate
        | Endpoint::MessageV2
        | Endpoint::Quota
        | Endpoint::Tag(_) => {
            let body = match axum::body::to_bytes(req.into_body(), 16 * wire::MB).await {
                Ok(b) => b,
                Err(_) => return finish(wire::failure(&ApiError::invalid("body"))),
            };
            match ep {
                Endpoint::MessageCs => sim.send_cs(&oa, &body).await,
                Endpoint::MessageTemplate => sim.send_template(&oa, &body).await,
                Endpoint::MessageV2 => sim.send_v2(&oa, &body).await,
                Endpoint::Tag(call) => answer(sim.tag_call(&oa, call, &body).await),
                _ => answer(sim.quota_call(&oa, &body)),
            }
        }
    };
    if lose_response {
        return faults::disconnect();
    }
    finish(resp)
}

/// Media a user or staff sent, uploads and sticker pictures, as a CDN serves them.
async fn media(State(sim): State<ZaloSim>, Path(id): Path<String>) -> Response {
    match sim.next_fault(wire::MEDIA_PREFIX, false) {
        Some(Fault::HttpStatus(s)) => return wire::http_status(s),
        Some(Fault::Hang) => return sim.hang().await,
        Some(Fault::Disconnect | Fault::LoseResponse) => return faults::disconnect(),
        Some(Fault::Api { .. }) | None => {}
    }
    let Some(a) = sim.st().assets.get(&id).cloned() else {
        return (StatusCode::NOT_FOUND, "no such media").into_response();
    };
    let disposition = format!(
        "inline; filename*=UTF-8''{}",
        percent_encoding::utf8_percent_encode(&a.filename, percent_encoding::NON_ALPHANUMERIC)
    );
    (
        [
            (header::CONTENT_TYPE, a.content_type.clone()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        a.bytes,
    )
        .into_response()
}

/// Any avatar picture a test gives its users (`<api>/sim/avatar/<name>`): a 1×1 PNG.
async fn avatar() -> Response {
    (
        [(header::CONTENT_TYPE, "image/png")],
        super::users::TINY_PNG,
    )
        .into_response()
}
