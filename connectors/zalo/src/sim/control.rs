//! The `/sim/...` control routes on the API listener: the Rust API of [`ZaloSim`] over HTTP, for the
//! sandbox and for integrators driving the simulator from another language. Bodies are JSON; a body
//! that does not parse gets HTTP 400/422 with the reason (these routes are not Zalo's wire).

use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use bytes::Bytes;
use serde::Deserialize;
use serde_json::{json, Value};

use super::actions::{AnonymousAction, ListItem, SimUser, StaffAction, SubmittedInfo, UserAction};
use super::config::{Fault, RandomFaults, ReplyModel, WebhookMode};
use super::groups::{CallEvent, GroupSender};
use super::{lock, ZaloSim};

/// The control routes (state: the simulator).
pub(crate) fn routes() -> Router<ZaloSim> {
    Router::new()
        .route("/sim", get(index))
        .route("/sim/config", get(config))
        .route("/sim/users", post(add_user))
        .route("/sim/users/{id}/send", post(user_send))
        .route("/sim/users/{id}/staff_send", post(staff_send))
        .route("/sim/users/{id}/sent", get(sent))
        .route("/sim/users/{id}/quota", get(quota))
        .route("/sim/users/{id}/history", post(seed_history))
        .route("/sim/users/{id}/last_interaction", post(last_interaction))
        .route("/sim/users/{id}/blocked", post(blocked))
        .route("/sim/users/{id}/tags", post(console_tag))
        .route("/sim/tags/remove", post(console_remove_tag))
        .route("/sim/templates", get(templates).post(approve_template))
        .route("/sim/users/{id}/profile", post(profile))
        .route("/sim/anonymous/{id}/send", post(anonymous_send))
        .route("/sim/groups/{id}/send", post(group_send))
        .route("/sim/users/{id}/call", post(call))
        .route("/sim/calls", get(api_calls))
        .route("/sim/oauth/code", post(code))
        .route("/sim/oauth/approve_as", post(approve_as))
        .route("/sim/oauth/requests", get(permission_requests))
        .route("/sim/tokens", post(tokens))
        .route("/sim/tokens/expire", post(expire_tokens))
        .route("/sim/tokens/expire_refresh", post(expire_refresh))
        .route("/sim/assets/{id}/expire", post(expire_asset))
        .route("/sim/faults", post(faults))
        .route("/sim/faults/random", post(random_faults))
        .route("/sim/latency", post(latency))
        .route("/sim/clock/advance", post(advance_clock))
        .route("/sim/clock/rewind", post(rewind_clock))
        .route("/sim/reply_model", post(reply_model))
        .route("/sim/webhook", post(webhook))
        .route("/sim/deliveries", get(deliveries))
        .route("/sim/deliveries/wait", post(wait))
}

/// What `GET /sim` lists: each control route's method, path and what it does (with its body).
/// `{id}` is a Zalo user id (digits).
pub const ROUTES: &[(&str, &str, &str)] = &[
    ("GET", "/sim", "this list"),
    ("GET", "/sim/config", "the OA id, app id and the secrets a receiver needs"),
    ("POST", "/sim/users", "add a user: {\"user_id\":\"5234000000000000002\",\"display_name\":\"Lan\",\"follower\":true}"),
    ("POST", "/sim/users/{id}/send", "the user writes to the OA: {\"type\":\"text\",\"text\":\"Xin chào\"} (types: text, reply, image, gif, sticker, file, audio, video, location, place, link, business_card, reaction, follow, unfollow, click_chat_now, submit_info, update_info, withdraw, seen, received)"),
    ("POST", "/sim/users/{id}/staff_send", "OA staff write from the OA console: {\"admin_id\":\"1\",\"text\":\"…\"}"),
    ("GET", "/sim/users/{id}/sent", "what the OA sent this user, oldest first"),
    ("GET", "/sim/users/{id}/quota", "the user's reply window and quota"),
    ("POST", "/sim/users/{id}/history", "seed conversation history: {\"messages\":[{\"from_user\":true,\"text\":\"…\",\"time_ms\":1765000000000}]}"),
    ("POST", "/sim/users/{id}/last_interaction", "move the user's last interaction: {\"at_ms\":1765000000000}"),
    ("POST", "/sim/users/{id}/blocked", "the user blocks the OA: {\"blocked\":true}"),
    ("POST", "/sim/users/{id}/tags", "someone tags (or untags) the user in the OA's console, and the app gets add_user_to_tag (remove_user_from_tag): {\"tag\":\"vip\"} (\"remove\":true to untag)"),
    ("POST", "/sim/tags/remove", "someone deletes a tag in the OA's console (every user loses it; the app gets remove_tag): {\"tag\":\"vip\"}"),
    ("POST", "/sim/templates", "approve a ZBS template for the OA (what Zalo's console does): {\"template_id\":\"12056\",\"text\":\"Chào <customer>, đơn hàng <order> đã được giao.\"} (params: the <key>s of the text unless given as \"params\":[…]; \"by_uid\":false allows phone-number sends only)"),
    ("GET", "/sim/templates", "the approved ZBS templates"),
    ("POST", "/sim/users/{id}/profile", "refuse the user's profile with a Zalo error: {\"refuse\":-201} (null: answer again)"),
    ("POST", "/sim/users/{id}/call", "a call event: {\"event\":\"oa_send_consent\"} (or user_reply_consent)"),
    ("POST", "/sim/anonymous/{id}/send", "an anonymous visitor writes: {\"type\":\"text\",\"text\":\"…\"}"),
    ("POST", "/sim/groups/{id}/send", "a group message: {\"text\":\"…\",\"from\":\"<user id>\"} (no from: the OA)"),
    ("GET", "/sim/calls", "every OpenAPI call the simulator answered"),
    ("POST", "/sim/oauth/code", "an authorization code, as the consent page would give: {\"code_challenge\":\"…\"}"),
    ("POST", "/sim/oauth/approve_as", "the next consent approves as this OA: {\"oa_id\":\"…\"}"),
    ("GET", "/sim/oauth/requests", "the permission requests the consent page saw"),
    ("POST", "/sim/tokens", "a fresh token pair, without the consent page"),
    ("POST", "/sim/tokens/expire", "every access token expires now"),
    ("POST", "/sim/tokens/expire_refresh", "every refresh token expires now (re-authorization needed)"),
    ("POST", "/sim/assets/{id}/expire", "an uploaded attachment's token expires"),
    ("POST", "/sim/faults", "fail calls: {\"path\":\"/v3.0/oa/message/cs\",\"n\":1,\"fault\":{\"api\":{\"code\":-213,\"message\":\"User has not followed OA\"}}} (fault also: {\"http_status\":503}, \"hang\", \"disconnect\", \"lose_response\")"),
    ("POST", "/sim/faults/random", "fail a share of calls: {\"rate\":0.1,\"seed\":7}"),
    ("POST", "/sim/latency", "delay every answer: {\"ms\":200}"),
    ("POST", "/sim/clock/advance", "move Zalo's clock forward (reply windows): {\"ms\":172800000}"),
    ("POST", "/sim/clock/rewind", "move Zalo's clock back: {\"ms\":3600000}"),
    ("POST", "/sim/reply_model", "how replies are priced: {\"model\":\"unlimited2026\"} (or counted)"),
    ("POST", "/sim/webhook", "where and how webhooks go: {\"url\":\"http://…/webhooks/zalo\",\"retry\":true} (url null stops them)"),
    ("GET", "/sim/deliveries", "every webhook delivered, with the receiver's answer"),
    ("POST", "/sim/deliveries/wait", "wait until the webhooks sent so far were answered"),
];

async fn index() -> Response {
    let routes: Vec<Value> = ROUTES
        .iter()
        .map(|(method, path, does)| json!({"method": method, "path": path, "does": does}))
        .collect();
    Json(json!({"simulator": "zalo", "routes": routes})).into_response()
}

fn ok() -> Response {
    Json(json!({"ok": true})).into_response()
}

fn bad_request(msg: impl Into<String>) -> Response {
    (StatusCode::BAD_REQUEST, msg.into()).into_response()
}

fn b64(s: &str) -> Result<Bytes, String> {
    STANDARD
        .decode(s.trim())
        .map(Bytes::from)
        .map_err(|e| format!("data_base64 is not base64: {e}"))
}

async fn config(State(sim): State<ZaloSim>) -> Response {
    // The sandbox's own test secrets: an integrator needs them to configure a receiver.
    let c = sim.config();
    Json(json!({
        "app_id": c.app_id, "app_secret": c.app_secret, "oa_id": c.oa_id, "oa_name": c.oa_name,
        "oa_secret_key": c.oa_secret_key, "redirect_uri": c.redirect_uri,
        "callback_state": c.callback_state, "callback_code_challenge": c.callback_code_challenge,
        "webhook_url": c.webhook_url, "webhook_disabled": sim.webhook_disabled(),
        "time_scale": c.time_scale, "webhook_retry": c.webhook_retry,
        "disable_webhook_after_ladder": c.disable_webhook_after_ladder,
        "accept_txt_upload": c.accept_txt_upload, "rate_limit_per_minute": c.rate_limit_per_minute,
        "access_token_ttl_secs": c.access_token_ttl.as_secs(), "reply_model": c.reply_model,
        "reply_quota": c.reply_quota,
        "welcome_quota": c.welcome_quota, "out_of_replies": c.out_of_replies,
        "sub_quota": c.sub_quota, "owner_quota": c.owner_quota, "hang_ms": c.hang.as_millis() as u64,
        "api_base": sim.api_base().as_str(), "oauth_base": sim.oauth_base().as_str(),
        "now_ms": sim.now_ms(),
    }))
    .into_response()
}

async fn add_user(State(sim): State<ZaloSim>, Json(u): Json<SimUser>) -> Response {
    sim.add_user(u);
    ok()
}

/// Body of `POST /sim/users/{id}/send`.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum ActionDto {
    Text {
        text: String,
    },
    Reply {
        text: String,
        quote_msg_id: String,
    },
    Image {
        caption: Option<String>,
        data_base64: String,
    },
    Gif {
        data_base64: String,
    },
    Sticker {
        id: String,
    },
    File {
        name: String,
        data_base64: String,
    },
    Audio {
        data_base64: String,
    },
    Video {
        data_base64: String,
    },
    Location {
        latitude: String,
        longitude: String,
    },
    Place {
        name: String,
        latitude: String,
        longitude: String,
    },
    Link {
        url: String,
        title: Option<String>,
    },
    BusinessCard {
        name: String,
        phone: String,
    },
    Reaction {
        msg_id: String,
        icon: String,
    },
    Follow {
        source: Option<String>,
    },
    Unfollow,
    ClickChatNow,
    SubmitInfo(SubmittedInfo),
    UpdateInfo {
        method: Option<String>,
    },
    Withdraw,
    WithdrawUnlinked,
    Seen {
        #[serde(default)]
        msg_ids: Vec<String>,
    },
    Received {
        msg_id: String,
    },
}

impl ActionDto {
    fn into_action(self) -> Result<UserAction, String> {
        Ok(match self {
            ActionDto::Text { text } => UserAction::Text(text),
            ActionDto::Reply { text, quote_msg_id } => UserAction::Reply { text, quote_msg_id },
            ActionDto::Image {
                caption,
                data_base64,
            } => UserAction::Image {
                caption,
                bytes: b64(&data_base64)?,
            },
            ActionDto::Gif { data_base64 } => UserAction::Gif {
                bytes: b64(&data_base64)?,
            },
            ActionDto::Sticker { id } => UserAction::Sticker { id },
            ActionDto::File { name, data_base64 } => UserAction::File {
                name,
                bytes: b64(&data_base64)?,
            },
            ActionDto::Audio { data_base64 } => UserAction::Audio {
                bytes: b64(&data_base64)?,
            },
            ActionDto::Video { data_base64 } => UserAction::Video {
                bytes: b64(&data_base64)?,
            },
            ActionDto::Location {
                latitude,
                longitude,
            } => UserAction::Location {
                latitude,
                longitude,
            },
            ActionDto::Place {
                name,
                latitude,
                longitude,
            } => UserAction::Place {
                name,
                latitude,
                longitude,
            },
            ActionDto::Link { url, title } => UserAction::Link { url, title },
            ActionDto::BusinessCard { name, phone } => UserAction::BusinessCard { name, phone },
            ActionDto::Reaction { msg_id, icon } => UserAction::Reaction { msg_id, icon },
            ActionDto::Follow { source: None } => UserAction::Follow,
            ActionDto::Follow {
                source: Some(source),
            } => UserAction::FollowVia { source },
            ActionDto::Unfollow => UserAction::Unfollow,
            ActionDto::ClickChatNow => UserAction::ClickChatNow,
            ActionDto::SubmitInfo(i) => UserAction::SubmitInfo(i),
            ActionDto::UpdateInfo { method } => UserAction::UpdateInfo {
                method: method.unwrap_or_else(|| "dynamic_url".into()),
            },
            ActionDto::Withdraw => UserAction::Withdraw,
            ActionDto::WithdrawUnlinked => UserAction::WithdrawUnlinked,
            ActionDto::Seen { msg_ids } => UserAction::Seen { msg_ids },
            ActionDto::Received { msg_id } => UserAction::Received { msg_id },
        })
    }
}

async fn user_send(
    State(sim): State<ZaloSim>,
    Path(id): Path<String>,
    Json(a): Json<ActionDto>,
) -> Response {
    match a.into_action() {
        Ok(action) => Json(json!({"msg_id": sim.user_sends(&id, action).await})).into_response(),
        Err(msg) => bad_request(msg),
    }
}

/// Body of `POST /sim/users/{id}/staff_send` (without `type`: a text).
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum StaffDto {
    Text {
        admin_id: String,
        text: String,
    },
    Image {
        admin_id: String,
        caption: Option<String>,
        data_base64: String,
    },
    File {
        admin_id: String,
        name: String,
        data_base64: String,
    },
    List {
        admin_id: String,
        items: Vec<ListItem>,
    },
    Template {
        admin_id: String,
        template_id: String,
        text: String,
    },
}

async fn staff_send(
    State(sim): State<ZaloSim>,
    Path(id): Path<String>,
    Json(mut v): Json<Value>,
) -> Response {
    if let Some(obj) = v.as_object_mut() {
        obj.entry("type").or_insert_with(|| json!("text"));
    }
    let dto: StaffDto = match serde_json::from_value(v) {
        Ok(d) => d,
        Err(e) => return bad_request(format!("bad staff_send body: {e}")),
    };
    let (admin, action) = match dto {
        StaffDto::Text { admin_id, text } => (admin_id, StaffAction::Text(text)),
        StaffDto::Image {
            admin_id,
            caption,
            data_base64,
        } => match b64(&data_base64) {
            Ok(bytes) => (admin_id, StaffAction::Image { caption, bytes }),
            Err(e) => return bad_request(e),
        },
        StaffDto::File {
            admin_id,
            name,
            data_base64,
        } => match b64(&data_base64) {
            Ok(bytes) => (admin_id, StaffAction::File { name, bytes }),
            Err(e) => return bad_request(e),
        },
        StaffDto::List { admin_id, items } => (admin_id, StaffAction::List(items)),
        StaffDto::Template {
            admin_id,
            template_id,
            text,
        } => (admin_id, StaffAction::Template { template_id, text }),
    };
    Json(json!({"msg_id": sim.staff_sends(&id, &admin, action).await})).into_response()
}

async fn sent(State(sim): State<ZaloSim>, Path(id): Path<String>) -> Response {
    Json(sim.sent_to(&id)).into_response()
}

async fn quota(State(sim): State<ZaloSim>, Path(id): Path<String>) -> Response {
    match sim.quota(&id) {
        Some(q) => Json(q).into_response(),
        None => (StatusCode::NOT_FOUND, "no such user").into_response(),
    }
}

#[derive(Debug, Deserialize)]
struct SeedItem {
    from_user: bool,
    text: String,
    time_ms: i64,
}

#[derive(Debug, Deserialize)]
struct SeedDto {
    messages: Vec<SeedItem>,
}

async fn seed_history(
    State(sim): State<ZaloSim>,
    Path(id): Path<String>,
    Json(s): Json<SeedDto>,
) -> Response {
    let items: Vec<(bool, &str, i64)> = s
        .messages
        .iter()
        .map(|m| (m.from_user, m.text.as_str(), m.time_ms))
        .collect();
    Json(json!({"msg_ids": sim.seed_history(&id, &items)})).into_response()
}

#[derive(Debug, Deserialize)]
struct AtDto {
    at_ms: i64,
}

async fn last_interaction(
    State(sim): State<ZaloSim>,
    Path(id): Path<String>,
    Json(a): Json<AtDto>,
) -> Response {
    sim.set_last_interaction(&id, a.at_ms);
    ok()
}

/// Body of `POST /sim/templates`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TemplateDto {
    template_id: String,
    text: String,
    params: Option<Vec<String>>,
    #[serde(default = "yes")]
    by_uid: bool,
}

fn yes() -> bool {
    true
}

/// The `<key>` placeholders of a template text (ZBS's spelling), each once, in order.
fn angle_placeholders(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find('<') {
        let after = &rest[start + 1..];
        let Some(end) = after.find('>') else { break };
        let key = &after[..end];
        if !key.is_empty() && !out.iter().any(|k| k == key) {
            out.push(key.to_string());
        }
        rest = &after[end + 1..];
    }
    out
}

async fn approve_template(State(sim): State<ZaloSim>, Json(t): Json<TemplateDto>) -> Response {
    if t.template_id.trim().is_empty() || t.text.trim().is_empty() {
        return bad_request("template_id and text must not be empty");
    }
    let params = t.params.unwrap_or_else(|| angle_placeholders(&t.text));
    let template = super::SimTemplate {
        template_id: t.template_id,
        params,
        text: t.text,
        by_uid: t.by_uid,
    };
    let answer = json!(template);
    sim.approve_template(template);
    Json(answer).into_response()
}

async fn templates(State(sim): State<ZaloSim>) -> Response {
    Json(json!({"templates": sim.approved_templates()})).into_response()
}

#[derive(Debug, Deserialize)]
struct BlockedDto {
    blocked: bool,
}

async fn blocked(
    State(sim): State<ZaloSim>,
    Path(id): Path<String>,
    Json(b): Json<BlockedDto>,
) -> Response {
    sim.set_blocked(&id, b.blocked);
    ok()
}

#[derive(Debug, Deserialize)]
struct TagDto {
    tag: Option<String>,
    #[serde(default)]
    remove: bool,
}

async fn console_tag(
    State(sim): State<ZaloSim>,
    Path(id): Path<String>,
    Json(b): Json<TagDto>,
) -> Response {
    let Some(tag) = b.tag.filter(|t| !t.trim().is_empty()) else {
        return bad_request("give the tag: {\"tag\":\"vip\"}");
    };
    let done = match b.remove {
        false => sim.console_tag_user(&id, &tag).await,
        true => sim.console_untag_user(&id, &tag).await,
    };
    match done {
        Ok(()) => ok(),
        Err(e) => bad_request(e),
    }
}

async fn console_remove_tag(State(sim): State<ZaloSim>, Json(b): Json<TagDto>) -> Response {
    let Some(tag) = b.tag.filter(|t| !t.trim().is_empty()) else {
        return bad_request("give the tag: {\"tag\":\"vip\"}");
    };
    match sim.console_remove_tag(&tag).await {
        Ok(()) => ok(),
        Err(e) => bad_request(e),
    }
}

#[derive(Debug, Deserialize)]
struct ProfileDto {
    #[serde(default)]
    refuse: Option<i64>,
}

async fn profile(
    State(sim): State<ZaloSim>,
    Path(id): Path<String>,
    Json(p): Json<ProfileDto>,
) -> Response {
    sim.set_profile_refused(&id, p.refuse);
    ok()
}

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum AnonymousDto {
    Text {
        text: String,
    },
    Image {
        caption: Option<String>,
        data_base64: String,
    },
    Sticker {
        id: String,
    },
    File {
        name: String,
        data_base64: String,
    },
}

async fn anonymous_send(
    State(sim): State<ZaloSim>,
    Path(id): Path<String>,
    Json(a): Json<AnonymousDto>,
) -> Response {
    let action = match a {
        AnonymousDto::Text { text } => AnonymousAction::Text(text),
        AnonymousDto::Sticker { id } => AnonymousAction::Sticker { id },
        AnonymousDto::Image {
            caption,
            data_base64,
        } => match b64(&data_base64) {
            Ok(bytes) => AnonymousAction::Image { caption, bytes },
            Err(e) => return bad_request(e),
        },
        AnonymousDto::File { name, data_base64 } => match b64(&data_base64) {
            Ok(bytes) => AnonymousAction::File { name, bytes },
            Err(e) => return bad_request(e),
        },
    };
    Json(json!({"msg_id": sim.anonymous_sends(&id, action).await})).into_response()
}

#[derive(Debug, Deserialize)]
struct GroupDto {
    text: String,
    /// The member who writes; absent or null: the OA.
    #[serde(default)]
    from: Option<String>,
}

async fn group_send(
    State(sim): State<ZaloSim>,
    Path(id): Path<String>,
    Json(g): Json<GroupDto>,
) -> Response {
    let from = match g.from {
        Some(user) => GroupSender::Member(user),
        None => GroupSender::Oa,
    };
    Json(json!({"msg_id": sim.group_message(&id, from, &g.text).await})).into_response()
}

#[derive(Debug, Deserialize)]
struct CallDto {
    event: String,
}

async fn call(
    State(sim): State<ZaloSim>,
    Path(id): Path<String>,
    Json(c): Json<CallDto>,
) -> Response {
    let event = match c.event.as_str() {
        "oa_send_consent" => CallEvent::OaSendConsent,
        "user_reply_consent" => CallEvent::UserReplyConsent,
        other => {
            return bad_request(format!(
                "unknown call event {other:?}: oa_send_consent or user_reply_consent"
            ))
        }
    };
    sim.call_event(&id, event).await;
    ok()
}

async fn api_calls(State(sim): State<ZaloSim>) -> Response {
    Json(sim.api_calls()).into_response()
}

#[derive(Debug, Default, Deserialize)]
struct CodeDto {
    #[serde(default)]
    code_challenge: Option<String>,
}

async fn code(State(sim): State<ZaloSim>, body: Bytes) -> Response {
    let dto: CodeDto = serde_json::from_slice(&body).unwrap_or_default();
    let code = sim.issue_code(dto.code_challenge.as_deref());
    Json(json!({"code": code, "oa_id": sim.approving_oa()})).into_response()
}

#[derive(Debug, Deserialize)]
struct ApproveDto {
    oa_id: Option<String>,
}

async fn approve_as(State(sim): State<ZaloSim>, Json(a): Json<ApproveDto>) -> Response {
    match a.oa_id {
        Some(oa) => sim.approve_as(&oa),
        None => sim.approve_as(&sim.config().oa_id),
    }
    ok()
}

async fn permission_requests(State(sim): State<ZaloSim>) -> Response {
    let reqs: Vec<Value> = sim
        .permission_requests()
        .into_iter()
        .map(|q| Value::Object(q.into_iter().map(|(k, v)| (k, Value::String(v))).collect()))
        .collect();
    Json(reqs).into_response()
}

async fn tokens(State(sim): State<ZaloSim>) -> Response {
    let (access, refresh) = sim.issue_tokens();
    let ttl = sim.config().access_token_ttl.as_secs().to_string();
    Json(json!({"access_token": access, "refresh_token": refresh, "expires_in": ttl}))
        .into_response()
}

async fn expire_tokens(State(sim): State<ZaloSim>) -> Response {
    sim.expire_access_tokens();
    ok()
}

async fn expire_refresh(State(sim): State<ZaloSim>) -> Response {
    sim.expire_refresh_tokens();
    ok()
}

async fn expire_asset(State(sim): State<ZaloSim>, Path(id): Path<String>) -> Response {
    sim.expire_asset(&id);
    ok()
}

#[derive(Debug, Deserialize)]
struct FaultDto {
    path: String,
    #[serde(default = "one")]
    n: u32,
    fault: Fault,
}

fn one() -> u32 {
    1
}

async fn faults(State(sim): State<ZaloSim>, Json(f): Json<FaultDto>) -> Response {
    sim.fail_next(&f.path, f.n, f.fault);
    ok()
}

async fn random_faults(State(sim): State<ZaloSim>, Json(r): Json<RandomFaults>) -> Response {
    sim.set_random_faults((r.rate > 0.0).then_some(r));
    ok()
}

#[derive(Debug, Deserialize)]
struct MsDto {
    ms: u64,
}

async fn latency(State(sim): State<ZaloSim>, Json(l): Json<MsDto>) -> Response {
    sim.set_latency(Duration::from_millis(l.ms));
    ok()
}

async fn rewind_clock(State(sim): State<ZaloSim>, Json(l): Json<MsDto>) -> Response {
    sim.rewind_clock(Duration::from_millis(l.ms));
    Json(json!({"now_ms": sim.now_ms()})).into_response()
}

#[derive(Deserialize)]
struct ReplyModelDto {
    model: ReplyModel,
}

async fn reply_model(State(sim): State<ZaloSim>, Json(m): Json<ReplyModelDto>) -> Response {
    sim.set_reply_model(m.model);
    ok()
}

async fn advance_clock(State(sim): State<ZaloSim>, Json(l): Json<MsDto>) -> Response {
    sim.advance_clock(Duration::from_millis(l.ms));
    Json(json!({"now_ms": sim.now_ms()})).into_response()
}

#[derive(Debug, Deserialize)]
struct WebhookDto {
    /// Absent: unchanged; `null`: no webhook; a string: the new URL (re-enables a disabled webhook).
    #[serde(default, deserialize_with = "present")]
    url: Option<Option<String>>,
    #[serde(default)]
    mode: Option<WebhookMode>,
    #[serde(default)]
    retry: Option<bool>,
}

fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

async fn webhook(State(sim): State<ZaloSim>, Json(w): Json<WebhookDto>) -> Response {
    if let Some(url) = w.url {
        sim.set_webhook_url(url);
    }
    if let Some(r) = w.retry {
        lock(&sim.core.cfg).webhook_retry = r;
    }
    if let Some(m) = w.mode {
        sim.set_webhook_mode(m);
    }
    ok()
}

async fn deliveries(State(sim): State<ZaloSim>) -> Response {
    Json(sim.deliveries()).into_response()
}

#[derive(Debug, Default, Deserialize)]
struct WaitDto {
    #[serde(default)]
    timeout_ms: Option<u64>,
}

async fn wait(State(sim): State<ZaloSim>, body: Bytes) -> Response {
    let w: WaitDto = serde_json::from_slice(&body).unwrap_or_default();
    let ms = w.timeout_ms.unwrap_or(5_000).min(60_000);
    let idle = sim.wait_deliveries_idle(Duration::from_millis(ms)).await;
    Json(json!({"idle": idle})).into_response()
}
