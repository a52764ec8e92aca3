//! The `/sim` control routes (no auth, JSON bodies): drive the agents' side and set the knobs
//! over HTTP, for the sandbox and for tests in other processes. Each route is a thin wrapper over a
//! public [`FreshchatSim`] method; see the crate README for the list. Bad bodies answer 400 with
//! the `{code,status,message}` body; unknown conversations or agents 404.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::Router;
use base64::Engine as _;
use bytes::Bytes;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Value};

use super::wire::{created, ok, ApiErr, ApiResult};
use super::{
    parts, AgentMessage, Fault, FileLinks, FreshchatSim, Inner, RandomFaults, WebhookMode,
    WebhookShape,
};

pub(crate) fn router(_inner: Arc<Inner>) -> Router<Arc<Inner>> {
    Router::new()
        .route("/sim", get(index))
        .route("/sim/state", get(state))
        .route("/sim/public-key", get(public_key))
        .route("/sim/agents", post(add_agent))
        .route("/sim/webhook", put(set_webhook))
        .route("/sim/webhook-mode", put(set_mode))
        .route("/sim/webhook-shape", put(set_shape))
        .route("/sim/file-links", put(set_file_links))
        .route("/sim/user-properties", put(set_user_properties))
        .route("/sim/groups", put(set_groups))
        .route("/sim/faults", post(add_fault).get(fault_stats))
        .route("/sim/faults/random", put(set_random_faults))
        .route("/sim/latency", put(set_latency))
        .route("/sim/rate-limit", put(set_rate_limit))
        .route("/sim/deliveries", get(deliveries))
        .route("/sim/conversations/{id}/messages", get(messages))
        .route("/sim/conversations/{id}/reply", post(reply))
        .route("/sim/conversations/{id}/note", post(note))
        .route("/sim/conversations/{id}/bot", post(bot))
        .route("/sim/conversations/{id}/{op}", post(conversation_op))
}

/// What `GET /sim` lists: each control route's method, path and what it does (with its body).
pub const ROUTES: &[(&str, &str, &str)] = &[
    ("GET", "/sim", "this list"),
    ("GET", "/sim/state", "users, conversations, agents, channels, faults and the delivery count"),
    ("GET", "/sim/public-key", "the webhook signing key (PEM on one line), for the daemon's config"),
    ("POST", "/sim/agents", "add an agent: {\"first_name\":\"Lan\"}"),
    ("PUT", "/sim/webhook", "where webhooks go: {\"url\":\"http://…/webhooks/freshchat\"} (null stops them)"),
    ("PUT", "/sim/webhook-mode", "how webhooks are delivered: {\"mode\":\"normal\"} (or duplicate, reorder)"),
    ("PUT", "/sim/webhook-shape", "which payload generation webhooks use: {\"shape\":\"2022\"} (or 2021)"),
    ("PUT", "/sim/file-links", "how file parts link their content: {\"mode\":\"url\"} (or download_url_only)"),
    ("PUT", "/sim/user-properties", "the user properties the account defines: {\"defined\":[\"zalo_tags\"]} (null: any)"),
    ("PUT", "/sim/groups", "the account's agent groups (GET /v2/groups): {\"groups\":[{\"name\":\"Sales\"},{\"id\":\"…\",\"name\":\"Support\"}]} (an id is made when none is given)"),
    ("POST", "/sim/faults", "fail calls: {\"path_prefix\":\"/v2/conversations\",\"n\":3,\"status\":503} (kind: status, after_effect, hang, delay)"),
    ("GET", "/sim/faults", "how many injected faults each path met"),
    ("PUT", "/sim/faults/random", "fail a share of calls: {\"rate\":0.1,\"seed\":7}"),
    ("PUT", "/sim/latency", "delay every answer: {\"ms\":200}"),
    ("PUT", "/sim/rate-limit", "answer 429 past a rate: {\"per_minute\":60} (null: none)"),
    ("GET", "/sim/deliveries", "every webhook delivered, with the receiver's answer"),
    ("GET", "/sim/conversations/{id}/messages", "a conversation's messages, oldest first"),
    ("POST", "/sim/conversations/{id}/reply", "an agent replies: {\"text\":\"Chào anh\"} (or long_text, image, file, quick_replies; agent_id optional)"),
    ("POST", "/sim/conversations/{id}/note", "an agent writes a private note: {\"text\":\"/zalo help\"}"),
    ("POST", "/sim/conversations/{id}/bot", "the bot says something: {\"text\":\"…\"} (note: true for a bot note)"),
    ("POST", "/sim/conversations/{id}/resolve", "an agent resolves the conversation: {}"),
    ("POST", "/sim/conversations/{id}/auto_resolve", "the system resolves it (no agent): {}"),
    ("POST", "/sim/conversations/{id}/reopen", "an agent reopens it: {}"),
    ("POST", "/sim/conversations/{id}/assign", "assign it: {\"agent_id\":\"…\"}"),
];

async fn index() -> Response {
    let routes: Vec<Value> = ROUTES
        .iter()
        .map(|(method, path, does)| json!({"method": method, "path": path, "does": does}))
        .collect();
    ok(json!({"simulator": "freshchat", "routes": routes}))
}

fn sim(inner: Arc<Inner>) -> FreshchatSim {
    FreshchatSim { inner }
}

/// The body as `T`; an empty body reads as `{}`.
fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiErr> {
    let body: &[u8] = if body.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        body
    };
    serde_json::from_slice(body).map_err(|e| ApiErr::invalid(format!("bad control body: {e}")))
}

fn done() -> Response {
    StatusCode::NO_CONTENT.into_response()
}

async fn state(State(inner): State<Arc<Inner>>) -> Response {
    let s = sim(inner);
    let (agents, channels, bot) = {
        let st = s.inner.lock();
        let agents: Vec<Value> = st
            .agents
            .iter()
            .map(|a| json!({"id": a.id, "first_name": a.first_name, "group_id": a.group_id}))
            .collect();
        let channels: Vec<Value> = st
            .channels
            .iter()
            .map(|c| json!({"id": c.id, "name": c.name}))
            .collect();
        (agents, channels, st.bot_id.clone())
    };
    ok(
        json!({"users": s.users(), "conversations": s.conversations(), "agents": agents,
        "bot_id": bot, "channels": channels, "cdn_url": s.cdn_url().as_str(),
        "faults": s.fault_stats(), "deliveries": s.deliveries().len()}),
    )
}

async fn public_key(State(inner): State<Arc<Inner>>) -> Response {
    sim(inner).public_key_pem_one_line().into_response()
}

async fn add_agent(State(inner): State<Arc<Inner>>, body: Bytes) -> ApiResult {
    #[derive(Deserialize)]
    struct B {
        first_name: Option<String>,
    }
    let b: B = parse(&body)?;
    let id = sim(inner).add_agent(b.first_name.as_deref().unwrap_or("Agent"));
    Ok(created(json!({ "id": id })))
}

async fn set_webhook(State(inner): State<Arc<Inner>>, body: Bytes) -> ApiResult {
    #[derive(Deserialize)]
    struct B {
        url: Option<String>,
    }
    let b: B = parse(&body)?;
    sim(inner).set_webhook_url(b.url);
    Ok(done())
}

async fn set_mode(State(inner): State<Arc<Inner>>, body: Bytes) -> ApiResult {
    #[derive(Deserialize)]
    struct B {
        mode: WebhookMode,
    }
    let b: B = parse(&body)?;
    sim(inner).set_webhook_mode(b.mode);
    Ok(done())
}

async fn set_shape(State(inner): State<Arc<Inner>>, body: Bytes) -> ApiResult {
    #[derive(Deserialize)]
    struct B {
        shape: WebhookShape,
    }
    let b: B = parse(&body)?;
    sim(inner).set_webhook_shape(b.shape);
    Ok(done())
}

async fn set_file_links(State(inner): State<Arc<Inner>>, body: Bytes) -> ApiResult {
    #[derive(Deserialize)]
    struct B {
        mode: FileLinks,
    }
    let b: B = parse(&body)?;
    sim(inner).set_file_links(b.mode);
    Ok(done())
}

async fn set_user_properties(State(inner): State<Arc<Inner>>, body: Bytes) -> ApiResult {
    #[derive(Deserialize)]
    struct B {
        defined: Option<Vec<String>>,
    }
    let b: B = parse(&body)?;
    sim(inner).set_defined_user_properties(b.defined);
    Ok(done())
}

async fn set_groups(State(inner): State<Arc<Inner>>, body: Bytes) -> ApiResult {
    #[derive(Deserialize)]
    struct G {
        id: Option<String>,
        name: String,
    }
    #[derive(Deserialize)]
    struct B {
        groups: Vec<G>,
    }
    let b: B = parse(&body)?;
    let groups = b
        .groups
        .into_iter()
        .map(|g| {
            let id = g.id.unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
            (id, g.name)
        })
        .collect();
    sim(inner).set_groups(groups);
    Ok(done())
}

async fn add_fault(State(inner): State<Arc<Inner>>, body: Bytes) -> ApiResult {
    #[derive(Deserialize)]
    struct B {
        path_prefix: String,
        n: Option<u32>,
        status: Option<u16>,
        /// `status` (default), `after_effect`, `hang` or `delay`.
        kind: Option<String>,
        delay_ms: Option<u64>,
    }
    let b: B = parse(&body)?;
    let status = || {
        b.status
            .ok_or_else(|| ApiErr::invalid("status is required"))
    };
    let fault = match b.kind.as_deref().unwrap_or("status") {
        "status" => Fault::Status(status()?),
        "after_effect" => Fault::StatusAfterEffect(status()?),
        "hang" => Fault::Hang,
        "delay" => Fault::Delay(Duration::from_millis(b.delay_ms.unwrap_or(1000))),
        other => {
            return Err(ApiErr::invalid(format!(
                "kind {other:?}: use status, after_effect, hang or delay"
            )))
        }
    };
    sim(inner).inject(&b.path_prefix, b.n.unwrap_or(1), fault);
    Ok(done())
}

async fn fault_stats(State(inner): State<Arc<Inner>>) -> Response {
    ok(json!(sim(inner).fault_stats()))
}

async fn set_random_faults(State(inner): State<Arc<Inner>>, body: Bytes) -> ApiResult {
    #[derive(Deserialize)]
    struct B {
        rate: f64,
        seed: Option<u64>,
    }
    let b: B = parse(&body)?;
    if !(0.0..=1.0).contains(&b.rate) {
        return Err(ApiErr::invalid("rate must be between 0 and 1"));
    }
    sim(inner).set_random_faults(Some(RandomFaults {
        rate: b.rate,
        seed: b.seed.unwrap_or(0),
    }));
    Ok(done())
}

async fn set_latency(State(inner): State<Arc<Inner>>, body: Bytes) -> ApiResult {
    #[derive(Deserialize)]
    struct B {
        ms: u64,
    }
    let b: B = parse(&body)?;
    sim(inner).set_latency(Duration::from_millis(b.ms));
    Ok(done())
}

async fn set_rate_limit(State(inner): State<Arc<Inner>>, body: Bytes) -> ApiResult {
    #[derive(Deserialize)]
    struct B {
        per_minute: Option<u32>,
    }
    let b: B = parse(&body)?;
    sim(inner).set_rate_limit(b.per_minute);
    Ok(done())
}

async fn deliveries(State(inner): State<Arc<Inner>>) -> Response {
    ok(json!(sim(inner).deliveries()))
}

async fn messages(State(inner): State<Arc<Inner>>, Path(id): Path<String>) -> ApiResult {
    let s = sim(inner);
    s.inner.lock().conv(&id)?;
    Ok(ok(Value::Array(s.messages(&id))))
}

#[derive(Deserialize)]
struct Attachment {
    name: String,
    content_type: Option<String>,
    data_base64: String,
    /// Files only: the webhook carries `download_url` instead of `url`.
    #[serde(default)]
    without_url: bool,
}

#[derive(Deserialize, Default)]
struct Say {
    agent_id: Option<String>,
    text: Option<String>,
    /// A text of this many characters.
    long_text: Option<usize>,
    image: Option<Attachment>,
    file: Option<Attachment>,
    #[serde(default)]
    parts: Vec<Value>,
    #[serde(default)]
    reply_parts: Vec<Value>,
    #[serde(default)]
    quick_replies: Vec<String>,
    #[serde(default)]
    private: bool,
    /// Bot route only: the bot's internal note.
    #[serde(default)]
    note: bool,
}

/// Builds the message of a reply or bot body.
fn message_of(s: &FreshchatSim, b: Say) -> Result<AgentMessage, ApiErr> {
    let mut m = AgentMessage::new(b.parts);
    m.reply_parts = b.reply_parts;
    m.private = b.private;
    if let Some(t) = b.text {
        m.message_parts.push(parts::text(t));
    }
    if let Some(n) = b.long_text {
        let sentence = "Đây là một câu trả lời dài từ nhân viên hỗ trợ. ";
        m.message_parts.push(parts::text(
            sentence.chars().cycle().take(n).collect::<String>(),
        ));
    }
    for (att, is_image) in [(b.image, true), (b.file, false)] {
        let Some(att) = att else { continue };
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(att.data_base64.as_bytes())
            .map_err(|_| ApiErr::invalid("data_base64 is not base64"))?;
        let ct = att.content_type.unwrap_or_else(|| {
            mime_guess::from_path(&att.name)
                .first_or_octet_stream()
                .to_string()
        });
        let size = bytes.len() as u64;
        let host = if is_image {
            super::state::Host::Cdn
        } else {
            super::state::Host::Api
        };
        let (_, url) = s
            .inner
            .lock()
            .store_upload(host, &att.name, &ct, Bytes::from(bytes));
        if is_image {
            m.message_parts.push(parts::image(url));
        } else {
            m.message_parts
                .push(parts::file(&att.name, Some(&url), size, &ct));
            if att.without_url {
                m.file_links = Some(FileLinks::DownloadUrlOnly);
            }
        }
    }
    if !b.quick_replies.is_empty() {
        let labels: Vec<&str> = b.quick_replies.iter().map(String::as_str).collect();
        m.reply_parts.push(parts::quick_replies(&labels));
    }
    if m.message_parts.is_empty() && m.reply_parts.is_empty() {
        return Err(ApiErr::invalid(
            "say something: text, long_text, image, file, parts, reply_parts or quick_replies",
        ));
    }
    Ok(m)
}

async fn reply(State(inner): State<Arc<Inner>>, Path(id): Path<String>, body: Bytes) -> ApiResult {
    let b: Say = parse(&body)?;
    let s = sim(inner);
    let agent = b.agent_id.clone().unwrap_or_else(|| s.default_agent_id());
    let m = message_of(&s, b)?;
    Ok(created(s.agent_sends_message(&id, &agent, m).await?))
}

async fn note(State(inner): State<Arc<Inner>>, Path(id): Path<String>, body: Bytes) -> ApiResult {
    let b: Say = parse(&body)?;
    let s = sim(inner);
    let agent = b.agent_id.unwrap_or_else(|| s.default_agent_id());
    let text = b.text.ok_or_else(|| ApiErr::invalid("text is required"))?;
    Ok(created(s.agent_note(&id, &agent, &text).await?))
}

async fn bot(State(inner): State<Arc<Inner>>, Path(id): Path<String>, body: Bytes) -> ApiResult {
    let b: Say = parse(&body)?;
    let s = sim(inner);
    if b.note {
        let text = b.text.ok_or_else(|| ApiErr::invalid("text is required"))?;
        return Ok(created(s.bot_note(&id, &text).await?));
    }
    let m = message_of(&s, b)?;
    Ok(created(s.bot_sends(&id, m).await?))
}

async fn conversation_op(
    State(inner): State<Arc<Inner>>,
    Path((id, op)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult {
    let b: Say = parse(&body)?;
    let s = sim(inner);
    let agent = b.agent_id.unwrap_or_else(|| s.default_agent_id());
    match op.as_str() {
        "resolve" => s.resolve(&id, &agent).await?,
        "auto_resolve" => s.resolve_by_system(&id).await?,
        "reopen" => s.reopen(&id, &agent).await?,
        "assign" => s.assign(&id, &agent).await?,
        _ => {
            return Err(ApiErr::not_found(
                "NOT_FOUND",
                "unknown operation; use reply, note, bot, resolve, auto_resolve, reopen or assign",
            ))
        }
    }
    let st = s.inner.lock();
    Ok(ok(super::shapes::conversation(&st, st.conv(&id)?)))
}
