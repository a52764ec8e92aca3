//! An in-process Freshchat simulator (feature `sim`): a faithful sandbox of the v2 API and its
//! conversation webhooks, built from the binding part of the reference.
//!
//! [`FreshchatSim::start`] serves on a listener you bind (tests use `127.0.0.1:0`). It answers the
//! API under `/v2` with bearer auth, `{code,status,message}` errors, a configurable rate limit, upload
//! caps, and the conversation rules (a user message reopens a resolved conversation; posting into a
//! conversation that is not the user's latest on its channel is refused). It also plays the agents'
//! side, through Rust methods and HTTP control routes under `/sim` (see the crate README). Every message
//! created, by the API or by a simulated agent, and every resolve/reopen/assignment produces a webhook,
//! signed with an RSA-2048 key generated at start. Webhooks are queued per conversation when the event
//! happens and delivered with a 5 s timeout and retries: one conversation's events strictly in order (a
//! failing delivery holds back the later ones until it succeeds or its retries run out), different
//! conversations in parallel, at most [`SimConfig::max_parallel_deliveries`] requests at a time, at most
//! [`WEBHOOK_QUEUE`] webhooks unfinished before the calls that produce more wait. Faults (failing
//! endpoints, latency, duplicated or reordered webhooks) can be injected. Loopback only; state lives in
//! memory.

use std::collections::{HashMap, HashSet, VecDeque};
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{KeyPair, KeySize};
use aws_lc_rs::signature::{KeyPair as _, RSA_PKCS1_SHA256};
use axum::extract::{DefaultBodyLimit, Multipart, Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use base64::Engine as _;
use bytes::Bytes;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use tokio::sync::{Notify, Semaphore};
use tokio_util::sync::CancellationToken;
use url::Url;

use crate::client::{
    RATE_LIMIT_LIMIT_HEADER, RATE_LIMIT_REMAINING_HEADER, RATE_LIMIT_RESET_HEADER,
    RETRY_AFTER_HEADER,
};
use crate::types::{
    ActorType, Avatar, Conversation, ConversationStatus, Message, MessagePart, MessageType,
    NewMessage, Property, User,
};
use crate::webhook::{
    ACTION_CONVERSATION_ASSIGNMENT, ACTION_CONVERSATION_REOPEN, ACTION_CONVERSATION_RESOLUTION,
    ACTION_MESSAGE_CREATE, PAYLOAD_VERSION_HEADER, RETRY_COUNT_HEADER, SIGNATURE_HEADER,
};

/// Payload version sent in `X-Freshchat-Payload-Version`.
pub const PAYLOAD_VERSION: &str = "1.0";
/// How long a webhook receiver has to answer.
pub const WEBHOOK_TIMEOUT: Duration = Duration::from_secs(5);
/// Capacity of the webhook delivery queue: webhooks queued, held, in flight or waiting for a retry.
/// A call whose events push the count past it waits (before answering) until there is room again.
pub const WEBHOOK_QUEUE: usize = 4096;
/// Default for [`SimConfig::max_parallel_deliveries`].
pub const DEFAULT_PARALLEL_DELIVERIES: usize = 64;
/// How long [`WebhookMode::Reorder`] holds a webhook waiting for the next one of its conversation.
pub const REORDER_HOLD: Duration = Duration::from_millis(100);
/// Message page size cap.
const MAX_PAGE: usize = 50;
/// Part kinds the simulator accepts besides the typed ones.
const EXTRA_PART_KINDS: &[&str] = &["email", "callback", "reference"];

/// Simulator settings.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// The one bearer token accepted.
    pub api_key: String,
    /// The account's app id.
    pub app_id: String,
    /// Channels as (id, name); all enabled.
    pub channels: Vec<(String, String)>,
    /// Where webhooks go (none: not delivered).
    pub webhook_url: Option<String>,
    /// Delays before each retry of a failed delivery (default 1 s, 5 s, 25 s).
    pub retry_delays: Vec<Duration>,
    /// Requests per minute before 429 (`None`: unlimited).
    pub rate_limit_per_minute: Option<u32>,
    /// Image upload cap (10 MB).
    pub max_image_bytes: u64,
    /// File upload cap (25 MB).
    pub max_file_bytes: u64,
    /// Webhook requests in flight at once, across conversations (default 64; 0 counts as 1). One
    /// conversation never has more than one.
    pub max_parallel_deliveries: usize,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            api_key: "sim-api-key".into(),
            app_id: "55b190fa-5d3c-45c4-bc49-74ddcfcf53d7".into(),
            channels: vec![
                ("c8fddfaf-622a-4a0e-b060-4f3ccbeab606".into(), "Zalo".into()),
                (
                    "0534f78d-1c2b-4c8e-9a4e-7f0e4c1f2a11".into(),
                    "Website".into(),
                ),
            ],
            webhook_url: None,
            retry_delays: vec![
                Duration::from_secs(1),
                Duration::from_secs(5),
                Duration::from_secs(25),
            ],
            rate_limit_per_minute: None,
            max_image_bytes: 10 * 1024 * 1024,
            max_file_bytes: 25 * 1024 * 1024,
            max_parallel_deliveries: DEFAULT_PARALLEL_DELIVERIES,
        }
    }
}

/// How webhooks are delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WebhookMode {
    /// Once each, in order per conversation.
    #[default]
    Normal,
    /// Every webhook twice, back to back.
    Duplicate,
    /// Pairs swapped within a conversation: each webhook is held until the conversation's next one
    /// has been delivered, or for [`REORDER_HOLD`] if no next one comes.
    Reorder,
}

/// One delivery attempt.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DeliveryRecord {
    /// Event action.
    pub action: String,
    /// The event's dedupe key (message id, or action:conversation:time).
    pub dedupe_key: String,
    /// HTTP status answered (`None`: no answer / timeout).
    pub status: Option<u16>,
    /// `X-Retry-Count` sent.
    pub retry_count: u32,
}

/// A refused simulator operation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SimError {
    /// Unknown conversation, agent or user.
    #[error("not found: {0}")]
    NotFound(String),
    /// The operation is not allowed in this state.
    #[error("invalid: {0}")]
    Invalid(String),
}

/// A running simulator. Cheap to clone.
#[derive(Clone)]
pub struct FreshchatSim {
    inner: Arc<Inner>,
}

impl fmt::Debug for FreshchatSim {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FreshchatSim")
            .field("base_url", &self.inner.base.as_str())
            .finish_non_exhaustive()
    }
}

struct Inner {
    cfg: SimConfig,
    base: Url,
    state: Mutex<SimState>,
    key: KeyPair,
    rng: SystemRandom,
    spki_b64: String,
    /// Wakes the dispatcher: a lane needs a runner, or a Reorder hold started.
    wake: Arc<Notify>,
    /// Signalled whenever a webhook is finished (room in the queue).
    room: Notify,
    /// Webhook requests in flight.
    parallel: Semaphore,
    http: reqwest::Client,
    shutdown: CancellationToken,
}

struct Conv {
    conv: Conversation,
    seq: u64,
    interaction_id: String,
    messages: Vec<Message>,
}

struct Upload {
    content_type: String,
    filename: String,
    bytes: Bytes,
}

struct Fault {
    prefix: String,
    remaining: u32,
    status: u16,
}

struct SimState {
    webhook_url: Option<String>,
    users: HashMap<String, User>,
    user_order: Vec<String>,
    convs: HashMap<String, Conv>,
    conv_order: Vec<String>,
    agents: Vec<(String, String)>,
    uploads: HashMap<String, Upload>,
    faults: Vec<Fault>,
    latency: Duration,
    mode: WebhookMode,
    deliveries: Vec<DeliveryRecord>,
    /// Webhook lanes: one per conversation (`""` for events without one). Present while it has work.
    lanes: HashMap<String, Lane>,
    /// Lanes given work that have no runner yet; the dispatcher starts them.
    to_start: Vec<String>,
    /// Lanes holding a webhook back (Reorder).
    holding: HashSet<String>,
    /// Webhooks not finished: queued, held, in flight or waiting for a retry.
    pending: usize,
    /// Set at shutdown: no more webhooks are queued.
    closed: bool,
    wake: Arc<Notify>,
    window: (Instant, u32),
    last_ms: i64,
    seq: u64,
    next_internal: u64,
}

#[derive(Clone)]
struct Job {
    action: &'static str,
    dedupe_key: String,
    body: Bytes,
}

/// One conversation's webhooks, delivered one at a time by a single runner task.
#[derive(Default)]
struct Lane {
    /// Waiting, in delivery order.
    ready: VecDeque<Job>,
    /// Held back by Reorder until the lane's next webhook arrives, or until the deadline.
    held: Option<(Instant, Job)>,
    /// A runner task owns this lane.
    running: bool,
}

/// An API error answer: `{code, status, message}`.
#[derive(Debug)]
struct ApiErr {
    code: u16,
    status: &'static str,
    message: String,
}

impl ApiErr {
    fn new(code: u16, status: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            status,
            message: message.into(),
        }
    }
    fn invalid(message: impl Into<String>) -> Self {
        Self::new(400, "INVALID_VALUE", message)
    }
}

impl IntoResponse for ApiErr {
    fn into_response(self) -> Response {
        error_response(self.code, self.status, &self.message)
    }
}

impl From<ApiErr> for SimError {
    fn from(e: ApiErr) -> Self {
        if e.code == 404 {
            SimError::NotFound(e.message)
        } else {
            SimError::Invalid(e.message)
        }
    }
}

fn error_response(code: u16, status: &str, message: &str) -> Response {
    let sc = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (
        sc,
        Json(json!({"code": code, "status": status, "message": message})),
    )
        .into_response()
}

fn status_name(code: u16) -> &'static str {
    match code {
        400 => "INVALID_VALUE",
        401 => "UNAUTHORIZED",
        403 => "FORBIDDEN",
        404 => "NOT_FOUND",
        409 => "CONFLICT",
        413 => "PAYLOAD_TOO_LARGE",
        429 => "TOO_MANY_REQUESTS",
        500 => "INTERNAL_SERVER_ERROR",
        502 => "BAD_GATEWAY",
        503 => "SERVICE_UNAVAILABLE",
        504 => "GATEWAY_TIMEOUT",
        _ => "ERROR",
    }
}

type ApiResult = Result<Response, ApiErr>;

impl FreshchatSim {
    /// Starts the simulator on an already bound listener.
    pub async fn start(
        listener: tokio::net::TcpListener,
        cfg: SimConfig,
    ) -> std::io::Result<FreshchatSim> {
        let addr = listener.local_addr()?;
        let base = Url::parse(&format!("http://{addr}")).map_err(std::io::Error::other)?;
        let key = KeyPair::generate(KeySize::Rsa2048)
            .map_err(|e| std::io::Error::other(format!("RSA keygen: {e}")))?;
        let spki = key
            .public_key()
            .as_der()
            .map_err(|e| std::io::Error::other(format!("RSA key: {e}")))?;
        let spki_b64 = base64::engine::general_purpose::STANDARD.encode(spki.as_ref());
        let http = reqwest::Client::builder()
            .timeout(WEBHOOK_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(std::io::Error::other)?;
        let wake = Arc::new(Notify::new());
        let parallel = Semaphore::new(cfg.max_parallel_deliveries.max(1));
        let state = SimState {
            webhook_url: cfg.webhook_url.clone(),
            users: HashMap::new(),
            user_order: Vec::new(),
            convs: HashMap::new(),
            conv_order: Vec::new(),
            agents: vec![(
                "8996ad5d-7a21-4c3e-9c0b-5f2b1d7a6e01".into(),
                "Agent".into(),
            )],
            uploads: HashMap::new(),
            faults: Vec::new(),
            latency: Duration::ZERO,
            mode: WebhookMode::Normal,
            deliveries: Vec::new(),
            lanes: HashMap::new(),
            to_start: Vec::new(),
            holding: HashSet::new(),
            pending: 0,
            closed: false,
            wake: wake.clone(),
            window: (Instant::now(), 0),
            last_ms: 0,
            seq: 0,
            next_internal: 1_019_183_591_791_880,
        };
        let inner = Arc::new(Inner {
            cfg,
            base,
            state: Mutex::new(state),
            key,
            rng: SystemRandom::new(),
            spki_b64,
            wake,
            room: Notify::new(),
            parallel,
            http,
            shutdown: CancellationToken::new(),
        });
        tokio::spawn(dispatcher(inner.clone()));
        let app = router(inner.clone());
        let token = inner.shutdown.clone();
        tokio::spawn(async move {
            let serve = axum::serve(listener, app)
                .with_graceful_shutdown(async move { token.cancelled().await });
            if let Err(e) = serve.await {
                tracing::warn!(error = %e, "freshchat simulator stopped");
            }
        });
        Ok(FreshchatSim { inner })
    }

    /// Stops the server and webhook delivery (webhooks not yet delivered are dropped).
    pub fn shutdown(&self) {
        self.inner.shutdown.cancel();
    }

    /// Scheme+host (the client appends `/v2`); control routes live under `/sim`.
    pub fn base_url(&self) -> Url {
        self.inner.base.clone()
    }

    /// The configured API key.
    pub fn api_key(&self) -> &str {
        &self.inner.cfg.api_key
    }

    /// The account's app id.
    pub fn app_id(&self) -> &str {
        &self.inner.cfg.app_id
    }

    /// The public key as Freshchat shows it: SPKI base64 in `RSA PUBLIC KEY` armour, on one line.
    pub fn public_key_pem_one_line(&self) -> String {
        format!(
            "-----BEGIN RSA PUBLIC KEY----- {} -----END RSA PUBLIC KEY-----",
            self.inner.spki_b64
        )
    }

    /// The same key in multi-line PEM.
    pub fn public_key_pem(&self) -> String {
        let lines: Vec<&str> = self
            .inner
            .spki_b64
            .as_bytes()
            .chunks(64)
            .map(|c| std::str::from_utf8(c).unwrap_or_default())
            .collect();
        format!(
            "-----BEGIN RSA PUBLIC KEY-----\n{}\n-----END RSA PUBLIC KEY-----\n",
            lines.join("\n")
        )
    }

    /// Sets or clears the webhook URL.
    pub fn set_webhook_url(&self, url: Option<String>) {
        self.inner.lock().webhook_url = url;
    }

    /// Adds an agent; returns its id.
    pub fn add_agent(&self, first_name: &str) -> String {
        let id = uuid::Uuid::new_v4().to_string();
        self.inner
            .lock()
            .agents
            .push((id.clone(), first_name.to_owned()));
        id
    }

    /// The agent that exists from the start.
    pub fn default_agent_id(&self) -> String {
        self.inner
            .lock()
            .agents
            .first()
            .map(|a| a.0.clone())
            .unwrap_or_default()
    }

    /// An agent replies with these parts (a normal message; emits `message_create`).
    pub async fn agent_sends(
        &self,
        conversation_id: &str,
        agent_id: &str,
        parts: Vec<MessagePart>,
    ) -> Result<Message, SimError> {
        let msg = NewMessage {
            message_parts: parts,
            actor_type: ActorType::Agent,
            actor_id: Some(agent_id.to_owned()),
            ..NewMessage::default()
        };
        Ok(self.inner.post_message(conversation_id, msg).await?)
    }

    /// An agent writes a private note (agents only; emits `message_create`).
    pub async fn agent_note(
        &self,
        conversation_id: &str,
        agent_id: &str,
        text: &str,
    ) -> Result<Message, SimError> {
        let msg = NewMessage {
            message_parts: vec![MessagePart::text(text)],
            actor_type: ActorType::Agent,
            actor_id: Some(agent_id.to_owned()),
            message_type: MessageType::Private,
            ..NewMessage::default()
        };
        Ok(self.inner.post_message(conversation_id, msg).await?)
    }

    /// An agent resolves the conversation (emits `conversation_resolution`).
    pub async fn resolve(&self, conversation_id: &str, agent_id: &str) -> Result<(), SimError> {
        self.inner
            .agent_status(conversation_id, agent_id, "resolved")
            .await
    }

    /// An agent reopens a resolved conversation (emits `conversation_reopen`).
    pub async fn reopen(&self, conversation_id: &str, agent_id: &str) -> Result<(), SimError> {
        self.inner
            .agent_status(conversation_id, agent_id, "reopened")
            .await
    }

    /// The conversation is assigned to this agent (emits `conversation_assignment`).
    pub async fn assign(&self, conversation_id: &str, agent_id: &str) -> Result<(), SimError> {
        self.inner
            .agent_status(conversation_id, agent_id, "assigned")
            .await
    }

    /// Stores bytes as an agent's attachment and returns the URL it is served at.
    pub fn upload_for_agent(&self, filename: &str, content_type: &str, bytes: Bytes) -> String {
        self.inner.store_upload(filename, content_type, bytes)
    }

    /// All users, in creation order.
    pub fn users(&self) -> Vec<User> {
        let st = self.inner.lock();
        st.user_order
            .iter()
            .filter_map(|id| st.users.get(id).cloned())
            .collect()
    }

    /// All conversations, in creation order.
    pub fn conversations(&self) -> Vec<Conversation> {
        let st = self.inner.lock();
        st.conv_order
            .iter()
            .filter_map(|id| st.convs.get(id).map(|c| c.conv.clone()))
            .collect()
    }

    /// A conversation's messages, oldest first.
    pub fn messages(&self, conversation_id: &str) -> Vec<Message> {
        self.inner
            .lock()
            .convs
            .get(conversation_id)
            .map(|c| c.messages.clone())
            .unwrap_or_default()
    }

    /// Every delivery attempt so far.
    pub fn deliveries(&self) -> Vec<DeliveryRecord> {
        self.inner.lock().deliveries.clone()
    }

    /// Waits until no webhook is queued, held, in flight or waiting for a retry, in any
    /// conversation. False on timeout.
    pub async fn wait_deliveries_idle(&self, timeout: Duration) -> bool {
        let start = Instant::now();
        loop {
            if self.inner.lock().pending == 0 {
                return true;
            }
            if start.elapsed() >= timeout {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// The next `n` API calls whose path starts with `path_prefix` answer `status` (429 adds `Retry-After: 1`).
    pub fn fail_next(&self, path_prefix: &str, n: u32, status: u16) {
        self.inner.lock().faults.push(Fault {
            prefix: path_prefix.to_owned(),
            remaining: n,
            status,
        });
    }

    /// Adds a delay before every API answer.
    pub fn set_latency(&self, latency: Duration) {
        self.inner.lock().latency = latency;
    }

    /// Changes how webhooks are delivered.
    pub fn set_webhook_mode(&self, mode: WebhookMode) {
        self.inner.lock().mode = mode;
    }
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, SimState> {
        // A panic while holding the lock leaves plain data behind; keep serving.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Back-pressure of the bounded webhook queue: the events of a call are queued when they happen
    /// (under the state lock, so a conversation's webhooks are queued in the order its events
    /// happened); the call then waits here, before answering, while the queue is over capacity.
    async fn wait_for_room(&self) {
        loop {
            let room = self.room.notified();
            tokio::pin!(room);
            room.as_mut().enable();
            if self.lock().pending <= WEBHOOK_QUEUE {
                return;
            }
            tokio::select! {
                () = room => {}
                () = self.shutdown.cancelled() => return,
            }
        }
    }

    /// Signs a webhook body: base64 of RSASSA-PKCS1-v1_5 / SHA-256.
    fn sign(&self, body: &[u8]) -> Option<String> {
        let mut sig = vec![0u8; self.key.public_modulus_len()];
        self.key
            .sign(&RSA_PKCS1_SHA256, &self.rng, body, &mut sig)
            .ok()?;
        Some(base64::engine::general_purpose::STANDARD.encode(&sig))
    }

    async fn post_message(
        &self,
        conversation_id: &str,
        msg: NewMessage,
    ) -> Result<Message, ApiErr> {
        let out = {
            let mut st = self.lock();
            st.create_message(&self.cfg, conversation_id, msg, true)
        };
        self.wait_for_room().await;
        out
    }

    async fn agent_status(
        &self,
        conversation_id: &str,
        agent_id: &str,
        status: &str,
    ) -> Result<(), SimError> {
        {
            let mut st = self.lock();
            if !st.agents.iter().any(|a| a.0 == agent_id) {
                return Err(SimError::NotFound(format!("agent {agent_id}")));
            }
            let actor = json!({"actor_type": "agent", "actor_id": agent_id});
            let current = st
                .convs
                .get(conversation_id)
                .ok_or_else(|| SimError::NotFound(format!("conversation {conversation_id}")))?
                .conv
                .status
                .clone();
            match status {
                "reopened" if current != Some(ConversationStatus::Resolved) => {
                    return Err(SimError::Invalid(
                        "only a resolved conversation can be reopened".into(),
                    ))
                }
                "assigned" => st.assign(
                    conversation_id,
                    Some(agent_id.to_owned()),
                    None,
                    actor,
                    "agent",
                )?,
                _ => st.set_status(conversation_id, status, actor, "agent")?,
            }
        }
        self.wait_for_room().await;
        Ok(())
    }

    fn store_upload(&self, filename: &str, content_type: &str, bytes: Bytes) -> String {
        let token = uuid::Uuid::new_v4().simple().to_string();
        let mut url = self.base.clone();
        if let Ok(mut p) = url.path_segments_mut() {
            if content_type.starts_with("image/") {
                p.clear().extend(["cdn", &token, filename]);
            } else {
                p.clear().extend(["v2", "files", &token, filename]);
            }
        }
        self.lock().uploads.insert(
            token,
            Upload {
                content_type: content_type.to_owned(),
                filename: filename.to_owned(),
                bytes,
            },
        );
        url.to_string()
    }
}

impl SimState {
    fn now(&mut self) -> (i64, String) {
        let ms = chrono::Utc::now().timestamp_millis().max(self.last_ms + 1);
        self.last_ms = ms;
        let t = chrono::DateTime::from_timestamp_millis(ms).unwrap_or_default();
        (ms, t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
    }

    /// Queues a webhook on its conversation's lane, applying the delivery mode.
    fn queue_webhook(&mut self, lane: &str, action: &'static str, dedupe_key: String, body: Value) {
        if self.closed {
            return;
        }
        let Ok(body) = serde_json::to_vec(&body) else {
            return;
        };
        let job = Job {
            action,
            dedupe_key,
            body: Bytes::from(body),
        };
        let copies = if self.mode == WebhookMode::Duplicate {
            2
        } else {
            1
        };
        self.pending += copies;
        let mut wake = false;
        let l = self.lanes.entry(lane.to_owned()).or_default();
        for _ in 0..copies {
            if let Some((_, held)) = l.held.take() {
                self.holding.remove(lane);
                l.ready.push_back(job.clone());
                l.ready.push_back(held);
            } else if self.mode == WebhookMode::Reorder {
                l.held = Some((Instant::now() + REORDER_HOLD, job.clone()));
                self.holding.insert(lane.to_owned());
                wake = true;
            } else {
                l.ready.push_back(job.clone());
            }
        }
        if !l.running && !l.ready.is_empty() {
            l.running = true;
            self.to_start.push(lane.to_owned());
            wake = true;
        }
        if wake {
            self.wake.notify_one();
        }
    }

    fn conv(&self, id: &str) -> Result<&Conv, ApiErr> {
        self.convs
            .get(id)
            .ok_or_else(|| ApiErr::new(404, "CONVERSATION_NOT_FOUND", "conversation not found"))
    }

    fn user(&self, id: &str) -> Result<&User, ApiErr> {
        self.users
            .get(id)
            .ok_or_else(|| ApiErr::new(404, "USER_NOT_FOUND", "user not found"))
    }

    fn latest_for(&self, user_id: &str, channel_id: &str) -> Option<String> {
        self.convs
            .values()
            .filter(|c| {
                c.conv.user_id.as_deref() == Some(user_id)
                    && c.conv.channel_id.as_deref() == Some(channel_id)
            })
            .max_by_key(|c| c.seq)
            .map(|c| c.conv.conversation_id.clone())
    }

    fn validate_message(&self, user_id: Option<&str>, msg: &NewMessage) -> Result<(), ApiErr> {
        if msg.message_parts.is_empty() {
            return Err(ApiErr::invalid("message_parts must not be empty"));
        }
        for part in &msg.message_parts {
            check_part(part)?;
        }
        match &msg.actor_type {
            ActorType::User => {
                let actor = msg
                    .actor_id
                    .as_deref()
                    .ok_or_else(|| ApiErr::invalid("actor_id is required for a user message"))?;
                if Some(actor) != user_id {
                    return Err(ApiErr::invalid(
                        "actor_id is not the user of this conversation",
                    ));
                }
            }
            ActorType::Agent => {
                let actor = msg
                    .actor_id
                    .as_deref()
                    .ok_or_else(|| ApiErr::invalid("actor_id is required for an agent message"))?;
                if !self.agents.iter().any(|a| a.0 == actor) {
                    return Err(ApiErr::new(400, "INVALID_VALUE", "agent not found"));
                }
            }
            ActorType::Bot => {}
            other => {
                return Err(ApiErr::invalid(format!(
                    "actor_type {other} is not allowed; use user, agent or bot"
                )))
            }
        }
        if !matches!(msg.message_type, MessageType::Normal | MessageType::Private) {
            return Err(ApiErr::invalid("message_type must be normal or private"));
        }
        Ok(())
    }

    fn create_message(
        &mut self,
        cfg: &SimConfig,
        conversation_id: &str,
        msg: NewMessage,
        check_latest: bool,
    ) -> Result<Message, ApiErr> {
        let c = self.conv(conversation_id)?;
        let user_id = c.conv.user_id.clone();
        let channel_id = c.conv.channel_id.clone().unwrap_or_default();
        self.validate_message(user_id.as_deref(), &msg)?;
        if check_latest {
            if let Some(uid) = &user_id {
                if self.latest_for(uid, &channel_id).as_deref() != Some(conversation_id) {
                    return Err(ApiErr::invalid("not the latest conversation"));
                }
            }
        }
        let resolved = c.conv.status == Some(ConversationStatus::Resolved);
        if resolved && msg.actor_type == ActorType::User {
            let actor = json!({"actor_type": "user", "actor_id": msg.actor_id});
            self.set_status(conversation_id, "reopened", actor, "user")?;
        }
        let (_, now) = self.now();
        let c = self
            .convs
            .get_mut(conversation_id)
            .ok_or_else(|| ApiErr::invalid("conversation vanished"))?;
        let message = Message {
            id: uuid::Uuid::new_v4().to_string(),
            conversation_id: Some(conversation_id.to_owned()),
            channel_id: Some(channel_id),
            app_id: Some(cfg.app_id.clone()),
            actor_type: msg.actor_type.clone(),
            actor_id: msg.actor_id.clone(),
            user_id,
            message_type: msg.message_type.clone(),
            message_parts: msg.message_parts,
            created_time: Some(now.clone()),
            meta_data: None,
        };
        c.messages.push(message.clone());
        c.conv.updated_time = Some(now.clone());
        let mut data = serde_json::to_value(&message).unwrap_or_default();
        if let Some(o) = data.as_object_mut() {
            o.insert(
                "interaction_id".into(),
                Value::String(c.interaction_id.clone()),
            );
            o.insert("message_source".into(), Value::String("api".into()));
            if let Some(internal) = &c.conv.conversation_internal_id {
                o.insert(
                    "freshchat_conversation_id".into(),
                    Value::String(internal.to_string()),
                );
            }
        }
        self.queue_webhook(
            conversation_id,
            ACTION_MESSAGE_CREATE,
            message.id.clone(),
            json!({
                "actor": {"actor_type": message.actor_type.as_str(), "actor_id": message.actor_id},
                "action": ACTION_MESSAGE_CREATE,
                "action_time": now,
                "data": {"message": data},
            }),
        );
        Ok(message)
    }

    fn conv_payload(&self, c: &Conv) -> Value {
        let mut v = serde_json::to_value(&c.conv).unwrap_or_default();
        if let Some(o) = v.as_object_mut() {
            o.insert("skill_id".into(), json!(0));
            o.insert("sla_breached".into(), json!(false));
        }
        v
    }

    fn set_status(
        &mut self,
        id: &str,
        status: &str,
        actor: Value,
        kind: &str,
    ) -> Result<(), ApiErr> {
        let (ms, now) = self.now();
        let c = self
            .convs
            .get_mut(id)
            .ok_or_else(|| ApiErr::new(404, "CONVERSATION_NOT_FOUND", "conversation not found"))?;
        let before = c.conv.status.clone();
        let new = ConversationStatus::parse(status);
        if before.as_ref() == Some(&new) {
            return Ok(());
        }
        c.conv.status = Some(new.clone());
        c.conv.updated_time = Some(now.clone());
        let actor_id = actor.get("actor_id").cloned().unwrap_or(Value::Null);
        let was_resolved = before == Some(ConversationStatus::Resolved);
        if new == ConversationStatus::Reopened || (was_resolved && new == ConversationStatus::New) {
            if let Some(internal) = &c.conv.conversation_internal_id {
                c.interaction_id = format!("{internal}-{ms}");
            }
        }
        let interaction = c.interaction_id.clone();
        let user_id = c.conv.user_id.clone();
        let conv_v = self.conv_payload(&self.convs[id]);
        match new {
            ConversationStatus::Resolved => {
                let user = user_id
                    .as_deref()
                    .and_then(|u| self.users.get(u))
                    .map(|u| serde_json::to_value(u).unwrap_or_default());
                self.queue_webhook(
                    id,
                    ACTION_CONVERSATION_RESOLUTION,
                    format!("{ACTION_CONVERSATION_RESOLUTION}:{id}:{now}"),
                    json!({"actor": actor, "action": ACTION_CONVERSATION_RESOLUTION, "action_time": now,
                        "data": {"resolve": {"resolver": kind, "resolver_id": actor_id, "conversation": conv_v,
                                             "interaction_id": interaction, "user": user}}}),
                );
            }
            ConversationStatus::Reopened | ConversationStatus::New if was_resolved => {
                self.queue_webhook(
                    id,
                    ACTION_CONVERSATION_REOPEN,
                    format!("{ACTION_CONVERSATION_REOPEN}:{id}:{now}"),
                    json!({"actor": actor, "action": ACTION_CONVERSATION_REOPEN, "action_time": now,
                        "data": {"reopen": {"reopener": kind, "reopener_id": actor_id, "conversation": conv_v,
                                            "interaction_id": interaction}}}),
                );
            }
            _ => {}
        }
        Ok(())
    }

    fn assign(
        &mut self,
        id: &str,
        agent: Option<String>,
        group: Option<String>,
        actor: Value,
        kind: &str,
    ) -> Result<(), ApiErr> {
        let (_, now) = self.now();
        let c = self
            .convs
            .get_mut(id)
            .ok_or_else(|| ApiErr::new(404, "CONVERSATION_NOT_FOUND", "conversation not found"))?;
        let from_agent = c.conv.assigned_agent_id.clone().unwrap_or_default();
        let from_group = c.conv.assigned_group_id.clone().unwrap_or_default();
        if let Some(a) = agent {
            let a = a.trim().to_owned();
            c.conv.assigned_agent_id = if a.is_empty() { None } else { Some(a) };
        }
        if let Some(g) = group {
            let g = g.trim().to_owned();
            c.conv.assigned_group_id = if g.is_empty() { None } else { Some(g) };
        }
        c.conv.status = Some(if c.conv.assigned_agent_id.is_some() {
            ConversationStatus::Assigned
        } else {
            ConversationStatus::New
        });
        c.conv.updated_time = Some(now.clone());
        let to_agent = c.conv.assigned_agent_id.clone().unwrap_or_default();
        let to_group = c.conv.assigned_group_id.clone().unwrap_or_default();
        let interaction = c.interaction_id.clone();
        let conv_v = self.conv_payload(&self.convs[id]);
        let actor_id = actor.get("actor_id").cloned().unwrap_or(Value::Null);
        self.queue_webhook(
            id,
            ACTION_CONVERSATION_ASSIGNMENT,
            format!("{ACTION_CONVERSATION_ASSIGNMENT}:{id}:{now}"),
            json!({"actor": actor, "action": ACTION_CONVERSATION_ASSIGNMENT, "action_time": now,
                "data": {"assignment": {"assignor": kind, "assignor_id": actor_id, "to_agent_id": to_agent,
                    "to_group_id": to_group, "from_agent_id": from_agent, "from_group_id": from_group,
                    "conversation": conv_v, "interaction_id": interaction}}}),
        );
        Ok(())
    }
}

fn check_part(part: &MessagePart) -> Result<(), ApiErr> {
    match part {
        MessagePart::Collection { sub_parts } => sub_parts.iter().try_for_each(check_part),
        MessagePart::Unknown(v) => match v.as_object() {
            Some(o) if o.len() == 1 && o.keys().all(|k| EXTRA_PART_KINDS.contains(&k.as_str())) => {
                Ok(())
            }
            Some(o) if o.len() != 1 => Err(ApiErr::invalid("Exactly one part should be present")),
            _ => Err(ApiErr::invalid("unsupported or incomplete message part")),
        },
        _ => Ok(()),
    }
}

// ---------------------------------------------------------------------------------------------
// Webhook delivery
//
// Every conversation has a lane: a FIFO of webhooks filled under the state lock as events happen. A
// lane is drained by one runner task at a time, which delivers a webhook (retries included) before
// taking the next, so a conversation's webhooks never overtake each other. Runners of different lanes
// run in parallel, sharing `max_parallel_deliveries` permits for the HTTP requests themselves (not
// for the waits between retries). The dispatcher starts runners and releases Reorder holds.

/// Starts lane runners, releases expired Reorder holds, and drops everything at shutdown.
async fn dispatcher(inner: Arc<Inner>) {
    loop {
        let (start, deadline) = {
            let mut st = inner.lock();
            let now = Instant::now();
            let mut deadline: Option<Instant> = None;
            let SimState {
                lanes,
                to_start,
                holding,
                ..
            } = &mut *st;
            holding.retain(|name| {
                let Some(l) = lanes.get_mut(name) else {
                    return false;
                };
                match l.held.take() {
                    Some((due, job)) if due <= now => {
                        l.ready.push_back(job);
                        if !l.running {
                            l.running = true;
                            to_start.push(name.clone());
                        }
                        false
                    }
                    Some((due, job)) => {
                        l.held = Some((due, job));
                        deadline = Some(deadline.map_or(due, |d| d.min(due)));
                        true
                    }
                    None => false,
                }
            });
            (std::mem::take(to_start), deadline)
        };
        for lane in start {
            tokio::spawn(run_lane(inner.clone(), lane));
        }
        let hold = async {
            match deadline {
                Some(d) => tokio::time::sleep_until(tokio::time::Instant::from_std(d)).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            () = inner.wake.notified() => {}
            () = hold => {}
            () = inner.shutdown.cancelled() => break,
        }
    }
    // Shutdown: nothing new is queued; drop what no runner owns (runners drop the rest).
    let mut st = inner.lock();
    st.closed = true;
    st.holding.clear();
    for name in std::mem::take(&mut st.to_start) {
        if let Some(l) = st.lanes.get_mut(&name) {
            l.running = false;
        }
    }
    let mut dropped = 0;
    st.lanes.retain(|_, l| {
        dropped += usize::from(l.held.take().is_some());
        if l.running {
            return true;
        }
        dropped += l.ready.len();
        false
    });
    st.pending -= dropped;
    drop(st);
    inner.room.notify_waiters();
}

/// Delivers one lane's webhooks in order until the lane is empty.
async fn run_lane(inner: Arc<Inner>, lane: String) {
    loop {
        let job = {
            let mut st = inner.lock();
            let Some(l) = st.lanes.get_mut(&lane) else {
                return;
            };
            match l.ready.pop_front() {
                Some(job) => job,
                None => {
                    l.running = false;
                    if l.held.is_none() {
                        st.lanes.remove(&lane);
                    }
                    return;
                }
            }
        };
        deliver(&inner, &job).await;
        inner.lock().pending -= 1;
        inner.room.notify_waiters();
    }
}

/// Delivers one webhook: the first attempt, then one retry after each of `retry_delays` while it
/// fails. Gives up without a webhook URL or at shutdown.
async fn deliver(inner: &Inner, job: &Job) {
    let Some(signature) = inner.sign(&job.body) else {
        tracing::warn!("simulator could not sign a webhook");
        return;
    };
    let mut attempt: u32 = 0;
    loop {
        if inner.shutdown.is_cancelled() {
            return;
        }
        let url = inner.lock().webhook_url.clone();
        let Some(url) = url else { return };
        let status = {
            let Ok(_permit) = inner.parallel.acquire().await else {
                return;
            };
            let res = inner
                .http
                .post(&url)
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .header(SIGNATURE_HEADER, &signature)
                .header(PAYLOAD_VERSION_HEADER, PAYLOAD_VERSION)
                .header(RETRY_COUNT_HEADER, attempt.to_string())
                .body(job.body.clone())
                .send()
                .await;
            match res {
                Ok(r) => {
                    let s = r.status().as_u16();
                    // Read the answer so the connection can be reused; its content does not matter.
                    let _ = r.bytes().await;
                    Some(s)
                }
                Err(_) => None,
            }
        };
        let ok = status.is_some_and(|s| (200..300).contains(&s));
        inner.lock().deliveries.push(DeliveryRecord {
            action: job.action.to_owned(),
            dedupe_key: job.dedupe_key.clone(),
            status,
            retry_count: attempt,
        });
        if ok {
            return;
        }
        let Some(delay) = inner.cfg.retry_delays.get(attempt as usize).copied() else {
            return;
        };
        tokio::select! {
            () = tokio::time::sleep(delay) => {}
            () = inner.shutdown.cancelled() => return,
        }
        attempt += 1;
    }
}

// ---------------------------------------------------------------------------------------------
// HTTP surface

fn router(inner: Arc<Inner>) -> Router {
    let upload_limit =
        usize::try_from(inner.cfg.max_file_bytes.max(inner.cfg.max_image_bytes) + (1 << 20))
            .unwrap_or(usize::MAX);
    let api = Router::new()
        .route("/v2/accounts/configuration", get(account_configuration))
        .route("/v2/channels", get(list_channels))
        .route("/v2/agents", get(list_agents))
        .route("/v2/users", post(create_user).get(search_users))
        .route("/v2/users/{id}", get(get_user).put(update_user))
        .route("/v2/users/{id}/conversations", get(user_conversations))
        .route("/v2/conversations", post(create_conversation))
        .route(
            "/v2/conversations/{id}",
            get(get_conversation).put(update_conversation),
        )
        .route(
            "/v2/conversations/{id}/messages",
            get(list_messages).post(post_message),
        )
        .route(
            "/v2/images/upload",
            post(upload_image).layer(DefaultBodyLimit::max(upload_limit)),
        )
        .route(
            "/v2/files/upload",
            post(upload_file).layer(DefaultBodyLimit::max(upload_limit)),
        )
        .route("/v2/files/{token}/{name}", get(serve_upload))
        .fallback(|| async { error_response(404, "NOT_FOUND", "no such endpoint") })
        .layer(axum::middleware::from_fn_with_state(inner.clone(), gate));
    let control = Router::new()
        .route("/cdn/{token}/{name}", get(serve_upload))
        .route("/sim/state", get(sim_state))
        .route("/sim/public-key", get(sim_public_key))
        .route("/sim/agents", post(sim_add_agent))
        .route("/sim/webhook", put(sim_set_webhook))
        .route("/sim/webhook-mode", put(sim_set_mode))
        .route("/sim/faults", post(sim_fault))
        .route("/sim/latency", put(sim_latency))
        .route("/sim/conversations/{id}/messages", get(sim_messages))
        .route("/sim/conversations/{id}/reply", post(sim_reply))
        .route("/sim/conversations/{id}/note", post(sim_note))
        .route("/sim/conversations/{id}/{op}", post(sim_conv_op));
    control.merge(api).with_state(inner)
}

/// Latency, injected faults, bearer auth and the rate limit, in that order.
async fn gate(State(inner): State<Arc<Inner>>, req: Request, next: Next) -> Response {
    let path = req.uri().path().to_owned();
    let (latency, fault) = {
        let mut st = inner.lock();
        let fault = st
            .faults
            .iter_mut()
            .find(|f| f.remaining > 0 && path.starts_with(&f.prefix))
            .map(|f| {
                f.remaining -= 1;
                f.status
            });
        st.faults.retain(|f| f.remaining > 0);
        (st.latency, fault)
    };
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    if let Some(code) = fault {
        let mut resp = error_response(code, status_name(code), "injected failure");
        if code == 429 {
            resp.headers_mut()
                .insert(RETRY_AFTER_HEADER, HeaderValue::from_static("1"));
        }
        return resp;
    }
    let authorized = req
        .headers()
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|t| !t.is_empty() && t == inner.cfg.api_key);
    if !authorized {
        return error_response(401, "UNAUTHORIZED", "Unauthenticated Request");
    }
    let rate = inner.cfg.rate_limit_per_minute.map(|limit| {
        let mut st = inner.lock();
        if st.window.0.elapsed() >= Duration::from_secs(60) {
            st.window = (Instant::now(), 0);
        }
        st.window.1 += 1;
        let left = Duration::from_secs(60).saturating_sub(st.window.0.elapsed());
        (limit, st.window.1, left)
    });
    let mut resp = match rate {
        Some((limit, used, _)) if used > limit => {
            error_response(429, "TOO_MANY_REQUESTS", "rate limit exceeded")
        }
        _ => next.run(req).await,
    };
    if let Some((limit, used, left)) = rate {
        let reset = chrono::Utc::now().timestamp() + left.as_secs_f64().ceil() as i64;
        let h = resp.headers_mut();
        let num =
            |n: i64| HeaderValue::from_str(&n.to_string()).unwrap_or(HeaderValue::from_static("0"));
        h.insert(RATE_LIMIT_LIMIT_HEADER, num(i64::from(limit)));
        h.insert(
            RATE_LIMIT_REMAINING_HEADER,
            num(i64::from(limit.saturating_sub(used))),
        );
        h.insert(RATE_LIMIT_RESET_HEADER, num(reset));
        if used > limit {
            h.insert(
                RETRY_AFTER_HEADER,
                num((left.as_secs_f64().ceil() as i64).max(1)),
            );
        }
    }
    resp
}

fn parse_body<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiErr> {
    serde_json::from_slice(body).map_err(|e| ApiErr::invalid(format!("payload not valid: {e}")))
}

fn created(v: impl serde::Serialize) -> Response {
    (StatusCode::CREATED, Json(v)).into_response()
}

fn ok(v: impl serde::Serialize) -> Response {
    Json(v).into_response()
}

async fn account_configuration(State(inner): State<Arc<Inner>>) -> Response {
    ok(json!({
        "organisation_id": 345_162_432_277_281_455u64, "organisation_domain": "sim.myfreshworks.com",
        "account_id": 681_406_910_844_650u64, "account_domain": "sim.freshchat.com",
        "app_id": inner.cfg.app_id, "bundle_id": 0, "bundle_type": "freshchat", "plan_type": "sim", "datacenter": "US",
    }))
}

fn paging(
    q: &HashMap<String, String>,
    default: usize,
    max: usize,
) -> Result<(usize, usize), ApiErr> {
    let page = q
        .get("page")
        .map(|p| p.parse::<usize>())
        .transpose()
        .map_err(|_| ApiErr::invalid("page must be a number"))?
        .unwrap_or(1);
    let per = q
        .get("items_per_page")
        .map(|p| p.parse::<usize>())
        .transpose()
        .map_err(|_| ApiErr::invalid("items_per_page must be a number"))?
        .unwrap_or(default);
    if page == 0 || per == 0 {
        return Err(ApiErr::invalid("page and items_per_page start at 1"));
    }
    Ok((page, per.min(max)))
}

fn paged_list(
    key: &str,
    path: &str,
    items: Vec<Value>,
    page: usize,
    per: usize,
) -> Result<Response, ApiErr> {
    let total = items.len();
    let pages = total.div_ceil(per).max(1);
    if page > pages {
        return Err(ApiErr::new(
            400,
            "WRONG_PAGE",
            "The page does not exist in the search result",
        ));
    }
    let slice: Vec<Value> = items.into_iter().skip((page - 1) * per).take(per).collect();
    let link = |p: usize| json!({"href": format!("{path}?page={p}&items_per_page={per}"), "rel": key, "type": "GET"});
    let mut links = Map::new();
    links.insert("first_page".into(), link(1));
    links.insert("last_page".into(), link(pages));
    if page < pages {
        links.insert("next_page".into(), link(page + 1));
    }
    if page > 1 {
        links.insert("previous_page".into(), link(page - 1));
    }
    Ok(ok(json!({
        key: slice,
        "pagination": {"total_items": total, "total_pages": pages, "current_page": page, "items_per_page": per},
        "links": links,
    })))
}

async fn list_channels(
    State(inner): State<Arc<Inner>>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult {
    let (page, per) = paging(&q, 10, 100)?;
    let items = inner
        .cfg
        .channels
        .iter()
        .map(|(id, name)| json!({"id": id, "name": name, "enabled": true, "public": true, "source": "FRESHCHAT",
                                  "icon": {}, "tags": [], "locale": "en", "updated_time": "2024-01-01T00:00:00.000Z"}))
        .collect();
    paged_list("channels", "/v2/channels", items, page, per)
}

async fn list_agents(
    State(inner): State<Arc<Inner>>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult {
    let (page, per) = paging(&q, 10, 100)?;
    let items = inner
        .lock()
        .agents
        .iter()
        .map(|(id, name)| json!({"id": id, "first_name": name, "is_deactivated": false}))
        .collect();
    paged_list("agents", "/v2/agents", items, page, per)
}

#[derive(Deserialize)]
struct UserBody {
    #[serde(default)]
    first_name: Option<String>,
    #[serde(default)]
    last_name: Option<String>,
    #[serde(default)]
    reference_id: Option<String>,
    #[serde(default)]
    avatar: Option<Avatar>,
    #[serde(default)]
    properties: Option<Vec<Property>>,
}

async fn create_user(State(inner): State<Arc<Inner>>, body: Bytes) -> ApiResult {
    let b: UserBody = parse_body(&body)?;
    let mut st = inner.lock();
    let (_, now) = st.now();
    let user = User {
        id: uuid::Uuid::new_v4().to_string(),
        first_name: b.first_name,
        last_name: b.last_name,
        reference_id: b.reference_id,
        avatar: b.avatar,
        properties: b.properties.unwrap_or_default(),
        created_time: Some(now),
    };
    st.user_order.push(user.id.clone());
    st.users.insert(user.id.clone(), user.clone());
    Ok(created(user))
}

async fn search_users(
    State(inner): State<Arc<Inner>>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult {
    const FILTERS: &[&str] = &[
        "reference_id",
        "email",
        "created_from",
        "created_to",
        "updated_from",
        "updated_to",
        "first_name",
    ];
    if !q.keys().any(|k| FILTERS.contains(&k.as_str())) {
        return Err(ApiErr::invalid("at least one filter query parameter is required (reference_id, email, created_from, ...)"));
    }
    let (page, per) = paging(&q, 10, 100)?;
    let st = inner.lock();
    let items: Vec<Value> = st
        .user_order
        .iter()
        .filter_map(|id| st.users.get(id))
        .filter(|u| {
            q.get("reference_id")
                .is_none_or(|r| u.reference_id.as_ref() == Some(r))
        })
        .filter(|u| {
            q.get("first_name")
                .is_none_or(|r| u.first_name.as_ref() == Some(r))
        })
        .filter(|_| !q.contains_key("email"))
        .filter(|u| {
            q.get("created_from")
                .is_none_or(|t| u.created_time.as_deref().unwrap_or("") >= t.as_str())
        })
        .filter(|u| {
            q.get("created_to")
                .is_none_or(|t| u.created_time.as_deref().unwrap_or("") <= t.as_str())
        })
        .map(|u| serde_json::to_value(u).unwrap_or_default())
        .collect();
    drop(st);
    if items.is_empty() {
        return Ok(ok(
            json!({"users": [], "pagination": {"total_items": 0, "total_pages": 0, "current_page": 1, "items_per_page": per}, "links": {}}),
        ));
    }
    paged_list("users", "/v2/users", items, page, per)
}

async fn get_user(State(inner): State<Arc<Inner>>, Path(id): Path<String>) -> ApiResult {
    Ok(ok(inner.lock().user(&id)?.clone()))
}

async fn update_user(
    State(inner): State<Arc<Inner>>,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult {
    let b: UserBody = parse_body(&body)?;
    let mut st = inner.lock();
    st.user(&id)?;
    let u = st
        .users
        .get_mut(&id)
        .ok_or_else(|| ApiErr::new(404, "USER_NOT_FOUND", "user not found"))?;
    if b.first_name.is_some() {
        u.first_name = b.first_name;
    }
    if b.last_name.is_some() {
        u.last_name = b.last_name;
    }
    if b.reference_id.is_some() {
        u.reference_id = b.reference_id;
    }
    if b.avatar.is_some() {
        u.avatar = b.avatar;
    }
    if let Some(p) = b.properties {
        u.properties = p;
    }
    Ok(ok(u.clone()))
}

async fn user_conversations(State(inner): State<Arc<Inner>>, Path(id): Path<String>) -> ApiResult {
    let st = inner.lock();
    st.user(&id)?;
    let ids: Vec<Value> = st
        .conv_order
        .iter()
        .filter(|c| {
            st.convs
                .get(*c)
                .is_some_and(|c| c.conv.user_id.as_deref() == Some(id.as_str()))
        })
        .map(|c| json!({"id": c}))
        .collect();
    Ok(ok(json!({"conversations": ids})))
}

#[derive(Deserialize)]
struct ConvBody {
    #[serde(default)]
    channel_id: Option<String>,
    #[serde(default)]
    users: Vec<Value>,
    #[serde(default)]
    messages: Vec<NewMessage>,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    properties: Option<Value>,
}

async fn create_conversation(State(inner): State<Arc<Inner>>, body: Bytes) -> ApiResult {
    let b: ConvBody = parse_body(&body)?;
    if b.properties.as_ref().is_some_and(|p| !p.is_object()) {
        return Err(ApiErr::invalid(
            "Conversation payload not valid: properties must be an object",
        ));
    }
    let channel_id = b
        .channel_id
        .filter(|c| !c.is_empty())
        .ok_or_else(|| ApiErr::invalid("channel_id is required"))?;
    if !inner.cfg.channels.iter().any(|c| c.0 == channel_id) {
        return Err(ApiErr::invalid("channel not found"));
    }
    let user_id = b
        .users
        .first()
        .and_then(|u| u.get("id"))
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| {
            ApiErr::invalid("users must name the conversation's user: [{\"id\": ...}]")
        })?;
    let status = b.status.unwrap_or_else(|| "new".into());
    if !matches!(
        status.as_str(),
        "new" | "assigned" | "resolved" | "reopened"
    ) {
        return Err(ApiErr::invalid(
            "status must be new, assigned, resolved or reopened",
        ));
    }
    let conv = {
        let mut st = inner.lock();
        st.user(&user_id)?;
        for m in &b.messages {
            st.validate_message(Some(&user_id), m)?;
        }
        let (ms, now) = st.now();
        st.seq += 1;
        st.next_internal += 1;
        let internal = st.next_internal;
        let id = uuid::Uuid::new_v4().to_string();
        let conv = Conversation {
            conversation_id: id.clone(),
            conversation_internal_id: Some(json!(internal)),
            channel_id: Some(channel_id),
            status: Some(ConversationStatus::parse(&status)),
            user_id: Some(user_id),
            assigned_agent_id: None,
            app_id: Some(inner.cfg.app_id.clone()),
            assigned_group_id: None,
            created_time: Some(now.clone()),
            updated_time: Some(now),
        };
        let seq = st.seq;
        st.convs.insert(
            id.clone(),
            Conv {
                conv,
                seq,
                interaction_id: format!("{internal}-{ms}"),
                messages: Vec::new(),
            },
        );
        st.conv_order.push(id.clone());
        for m in b.messages {
            st.create_message(&inner.cfg, &id, m, false)?;
        }
        st.conv(&id)?.conv.clone()
    };
    inner.wait_for_room().await;
    Ok(created(conv))
}

async fn get_conversation(State(inner): State<Arc<Inner>>, Path(id): Path<String>) -> ApiResult {
    Ok(ok(inner.lock().conv(&id)?.conv.clone()))
}

#[derive(Deserialize)]
struct ConvUpdateBody {
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    assigned_agent_id: Option<String>,
    #[serde(default)]
    assigned_group_id: Option<String>,
    #[serde(default)]
    properties: Option<Value>,
}

async fn update_conversation(
    State(inner): State<Arc<Inner>>,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult {
    let b: ConvUpdateBody = parse_body(&body)?;
    if b.properties.as_ref().is_some_and(|p| !p.is_object()) {
        return Err(ApiErr::invalid("Conversation payload not valid"));
    }
    if let Some(s) = &b.status {
        if !matches!(s.as_str(), "new" | "assigned" | "resolved" | "reopened") {
            return Err(ApiErr::invalid(
                "status must be new, assigned, resolved or reopened",
            ));
        }
    }
    let conv = {
        let mut st = inner.lock();
        let current = st.conv(&id)?.conv.clone();
        if let Some(a) = b
            .assigned_agent_id
            .as_deref()
            .map(str::trim)
            .filter(|a| !a.is_empty())
        {
            if !st.agents.iter().any(|x| x.0 == a) {
                return Err(ApiErr::new(404, "AGENT_NOT_FOUND", "agent not found"));
            }
        }
        let will_have_agent = match b.assigned_agent_id.as_deref().map(str::trim) {
            Some(a) => !a.is_empty(),
            None => current.assigned_agent_id.is_some(),
        };
        if b.status.as_deref() == Some("assigned") && !will_have_agent {
            return Err(ApiErr::invalid(
                "assigned_agent_id is required when status is assigned",
            ));
        }
        let actor = json!({"actor_type": "system"});
        if b.assigned_agent_id.is_some() || b.assigned_group_id.is_some() {
            st.assign(
                &id,
                b.assigned_agent_id,
                b.assigned_group_id,
                actor.clone(),
                "system",
            )?;
        }
        if let Some(s) = b.status.as_deref().filter(|s| *s != "assigned") {
            st.set_status(&id, s, actor, "system")?;
        }
        st.conv(&id)?.conv.clone()
    };
    inner.wait_for_room().await;
    Ok(ok(conv))
}

async fn post_message(
    State(inner): State<Arc<Inner>>,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult {
    let msg: NewMessage = parse_body(&body)?;
    let m = inner.post_message(&id, msg).await?;
    Ok(created(m))
}

fn parse_time(s: &str) -> Result<chrono::DateTime<chrono::Utc>, ApiErr> {
    chrono::DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&chrono::Utc))
        .map_err(|_| ApiErr::invalid(format!("{s:?} is not an ISO-8601 time")))
}

/// Newest first. `from_time` keeps messages at or after a time; the `link` cursor carries `to_time`
/// (exclusive), so pages stay stable while new messages arrive.
async fn list_messages(
    State(inner): State<Arc<Inner>>,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult {
    let (page, per) = paging(&q, 20, MAX_PAGE)?;
    let from = q.get("from_time").map(|s| parse_time(s)).transpose()?;
    let to = q.get("to_time").map(|s| parse_time(s)).transpose()?;
    let st = inner.lock();
    let c = st.conv(&id)?;
    let matching: Vec<&Message> = c
        .messages
        .iter()
        .rev()
        .filter(|m| {
            let t = m.created_time.as_deref().and_then(|t| parse_time(t).ok());
            from.is_none_or(|f| t.is_some_and(|t| t >= f))
                && to.is_none_or(|u| t.is_some_and(|t| t < u))
        })
        .collect();
    let start = (page - 1) * per;
    let items: Vec<&Message> = matching.iter().skip(start).take(per).copied().collect();
    let mut out = json!({ "messages": items });
    if matching.len() > start + per {
        if let Some(oldest) = items.last().and_then(|m| m.created_time.clone()) {
            let mut href = Url::parse("http://x/").map_err(|_| ApiErr::invalid("url"))?;
            href.set_path(&format!("/v2/conversations/{id}/messages"));
            href.query_pairs_mut()
                .append_pair("page", "1")
                .append_pair("items_per_page", &per.to_string());
            if let Some(f) = q.get("from_time") {
                href.query_pairs_mut().append_pair("from_time", f);
            }
            href.query_pairs_mut().append_pair("to_time", &oldest);
            let rel = format!("{}?{}", href.path(), href.query().unwrap_or_default());
            out["link"] = json!({"href": rel, "rel": "message", "type": "GET"});
        }
    }
    Ok(ok(out))
}

struct Uploaded {
    filename: String,
    content_type: String,
    bytes: Bytes,
}

async fn read_upload(mut mp: Multipart, field_name: &str, cap: u64) -> Result<Uploaded, ApiErr> {
    let too_large = || {
        ApiErr::new(
            413,
            "PAYLOAD_TOO_LARGE",
            format!("the upload is larger than {cap} bytes"),
        )
    };
    loop {
        let field = mp.next_field().await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                too_large()
            } else {
                ApiErr::invalid(format!("bad multipart body: {e}"))
            }
        })?;
        let Some(field) = field else {
            return Err(ApiErr::invalid(format!(
                "the multipart field {field_name:?} is required"
            )));
        };
        if field.name() != Some(field_name) {
            continue;
        }
        let filename = field.file_name().unwrap_or("upload").to_owned();
        let content_type = field.content_type().map(str::to_owned).unwrap_or_else(|| {
            mime_guess::from_path(&filename)
                .first_or_octet_stream()
                .to_string()
        });
        let bytes = field.bytes().await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                too_large()
            } else {
                ApiErr::invalid(format!("bad multipart body: {e}"))
            }
        })?;
        if bytes.len() as u64 > cap {
            return Err(too_large());
        }
        return Ok(Uploaded {
            filename,
            content_type,
            bytes,
        });
    }
}

fn image_size(b: &[u8]) -> (Option<u32>, Option<u32>) {
    if b.len() >= 24 && b.starts_with(b"\x89PNG\r\n\x1a\n") {
        let w = u32::from_be_bytes([b[16], b[17], b[18], b[19]]);
        let h = u32::from_be_bytes([b[20], b[21], b[22], b[23]]);
        return (Some(w), Some(h));
    }
    if b.len() >= 10 && b.starts_with(b"GIF8") {
        return (
            Some(u32::from(u16::from_le_bytes([b[6], b[7]]))),
            Some(u32::from(u16::from_le_bytes([b[8], b[9]]))),
        );
    }
    (None, None)
}

async fn upload_image(State(inner): State<Arc<Inner>>, mp: Multipart) -> ApiResult {
    let up = read_upload(mp, "image", inner.cfg.max_image_bytes).await?;
    if !up.content_type.starts_with("image/") {
        return Err(ApiErr::invalid(format!(
            "{} is not an image type",
            up.content_type
        )));
    }
    let (width, height) = image_size(&up.bytes);
    let url = inner.store_upload(&up.filename, &up.content_type, up.bytes);
    Ok(created(
        json!({"id": uuid::Uuid::new_v4().to_string(), "url": url, "name": up.filename,
                      "content_type": up.content_type, "width": width, "height": height}),
    ))
}

async fn upload_file(State(inner): State<Arc<Inner>>, mp: Multipart) -> ApiResult {
    let up = read_upload(mp, "file", inner.cfg.max_file_bytes).await?;
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &up.bytes);
    let hash = crate::webhook::to_hex(digest.as_ref());
    let ext = up
        .filename
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    let size = up.bytes.len();
    // Files are served behind the API host (bearer required) even when they are images.
    let token = uuid::Uuid::new_v4().simple().to_string();
    let mut url = inner.base.clone();
    if let Ok(mut p) = url.path_segments_mut() {
        p.clear().extend(["v2", "files", &token, &up.filename]);
    }
    inner.lock().uploads.insert(
        token,
        Upload {
            content_type: up.content_type.clone(),
            filename: up.filename.clone(),
            bytes: up.bytes,
        },
    );
    Ok(created(
        json!({"file_name": up.filename, "file_size": size, "file_content_type": up.content_type,
                      "file_extension_type": ext, "file_hash": hash, "file_security_status": "safe", "url": url.to_string()}),
    ))
}

async fn serve_upload(
    State(inner): State<Arc<Inner>>,
    Path((token, _name)): Path<(String, String)>,
) -> ApiResult {
    let st = inner.lock();
    let up = st
        .uploads
        .get(&token)
        .ok_or_else(|| ApiErr::new(404, "NOT_FOUND", "file not found"))?;
    let mut h = HeaderMap::new();
    if let Ok(v) = HeaderValue::from_str(&up.content_type) {
        h.insert(axum::http::header::CONTENT_TYPE, v);
    }
    let enc =
        percent_encoding::utf8_percent_encode(&up.filename, percent_encoding::NON_ALPHANUMERIC)
            .to_string();
    if let Ok(v) = HeaderValue::from_str(&format!("inline; filename*=UTF-8''{enc}")) {
        h.insert(axum::http::header::CONTENT_DISPOSITION, v);
    }
    Ok((h, up.bytes.clone()).into_response())
}

// ---------------------------------------------------------------------------------------------
// Control routes (/sim)

async fn sim_state(State(inner): State<Arc<Inner>>) -> Response {
    let sim = FreshchatSim { inner };
    let agents: Vec<Value> = sim
        .inner
        .lock()
        .agents
        .iter()
        .map(|(id, n)| json!({"id": id, "first_name": n}))
        .collect();
    ok(
        json!({"users": sim.users(), "conversations": sim.conversations(), "agents": agents, "deliveries": sim.deliveries(),
              "channels": sim.inner.cfg.channels.iter().map(|(id, n)| json!({"id": id, "name": n})).collect::<Vec<_>>()}),
    )
}

async fn sim_public_key(State(inner): State<Arc<Inner>>) -> Response {
    FreshchatSim { inner }
        .public_key_pem_one_line()
        .into_response()
}

#[derive(Deserialize, Default)]
struct AgentBody {
    #[serde(default)]
    first_name: Option<String>,
}

async fn sim_add_agent(State(inner): State<Arc<Inner>>, body: Bytes) -> ApiResult {
    let b: AgentBody = if body.is_empty() {
        AgentBody::default()
    } else {
        parse_body(&body)?
    };
    let id = FreshchatSim { inner }.add_agent(b.first_name.as_deref().unwrap_or("Agent"));
    Ok(created(json!({"id": id})))
}

async fn sim_set_webhook(State(inner): State<Arc<Inner>>, body: Bytes) -> ApiResult {
    #[derive(Deserialize)]
    struct B {
        url: Option<String>,
    }
    let b: B = parse_body(&body)?;
    FreshchatSim { inner }.set_webhook_url(b.url);
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn sim_set_mode(State(inner): State<Arc<Inner>>, body: Bytes) -> ApiResult {
    #[derive(Deserialize)]
    struct B {
        mode: WebhookMode,
    }
    let b: B = parse_body(&body)?;
    FreshchatSim { inner }.set_webhook_mode(b.mode);
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn sim_fault(State(inner): State<Arc<Inner>>, body: Bytes) -> ApiResult {
    #[derive(Deserialize)]
    struct B {
        path_prefix: String,
        #[serde(default = "one")]
        n: u32,
        status: u16,
    }
    fn one() -> u32 {
        1
    }
    let b: B = parse_body(&body)?;
    FreshchatSim { inner }.fail_next(&b.path_prefix, b.n, b.status);
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn sim_latency(State(inner): State<Arc<Inner>>, body: Bytes) -> ApiResult {
    #[derive(Deserialize)]
    struct B {
        ms: u64,
    }
    let b: B = parse_body(&body)?;
    FreshchatSim { inner }.set_latency(Duration::from_millis(b.ms));
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn sim_messages(State(inner): State<Arc<Inner>>, Path(id): Path<String>) -> ApiResult {
    let st = inner.lock();
    Ok(ok(&st.conv(&id)?.messages))
}

#[derive(Deserialize)]
struct Attachment {
    name: String,
    #[serde(default)]
    content_type: Option<String>,
    data_base64: String,
}

#[derive(Deserialize, Default)]
struct ReplyBody {
    #[serde(default)]
    agent_id: Option<String>,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    long_text: Option<usize>,
    #[serde(default)]
    image: Option<Attachment>,
    #[serde(default)]
    file: Option<Attachment>,
    #[serde(default)]
    parts: Vec<MessagePart>,
}

fn sim_err(e: SimError) -> ApiErr {
    match e {
        SimError::NotFound(m) => ApiErr::new(404, "NOT_FOUND", m),
        SimError::Invalid(m) => ApiErr::invalid(m),
    }
}

async fn sim_reply(
    State(inner): State<Arc<Inner>>,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult {
    let b: ReplyBody = if body.is_empty() {
        ReplyBody::default()
    } else {
        parse_body(&body)?
    };
    let sim = FreshchatSim { inner };
    let agent = b.agent_id.unwrap_or_else(|| sim.default_agent_id());
    let mut parts = b.parts;
    if let Some(t) = b.text {
        parts.push(MessagePart::text(t));
    }
    if let Some(n) = b.long_text {
        let sentence = "Đây là một câu trả lời dài từ nhân viên hỗ trợ. ";
        parts.push(MessagePart::text(
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
        if is_image {
            let url = sim.upload_for_agent(&att.name, &ct, Bytes::from(bytes));
            parts.push(MessagePart::image(url));
        } else {
            let token = uuid::Uuid::new_v4().simple().to_string();
            let mut url = sim.inner.base.clone();
            if let Ok(mut p) = url.path_segments_mut() {
                p.clear().extend(["v2", "files", &token, &att.name]);
            }
            sim.inner.lock().uploads.insert(
                token,
                Upload {
                    content_type: ct.clone(),
                    filename: att.name.clone(),
                    bytes: Bytes::from(bytes),
                },
            );
            parts.push(MessagePart::File {
                name: Some(att.name),
                url: Some(url.to_string()),
                file_size_in_bytes: Some(size),
                content_type: Some(ct),
            });
        }
    }
    if parts.is_empty() {
        return Err(ApiErr::invalid(
            "say something: text, long_text, image, file or parts",
        ));
    }
    let m = sim.agent_sends(&id, &agent, parts).await.map_err(sim_err)?;
    Ok(created(m))
}

async fn sim_note(
    State(inner): State<Arc<Inner>>,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult {
    let b: ReplyBody = parse_body(&body)?;
    let sim = FreshchatSim { inner };
    let agent = b.agent_id.unwrap_or_else(|| sim.default_agent_id());
    let text = b.text.ok_or_else(|| ApiErr::invalid("text is required"))?;
    let m = sim.agent_note(&id, &agent, &text).await.map_err(sim_err)?;
    Ok(created(m))
}

async fn sim_conv_op(
    State(inner): State<Arc<Inner>>,
    Path((id, op)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult {
    let b: ReplyBody = if body.is_empty() {
        ReplyBody::default()
    } else {
        parse_body(&body)?
    };
    let sim = FreshchatSim { inner };
    let agent = b.agent_id.unwrap_or_else(|| sim.default_agent_id());
    match op.as_str() {
        "resolve" => sim.resolve(&id, &agent).await,
        "reopen" => sim.reopen(&id, &agent).await,
        "assign" => sim.assign(&id, &agent).await,
        _ => {
            return Err(ApiErr::new(
                404,
                "NOT_FOUND",
                "unknown operation; use resolve, reopen or assign",
            ))
        }
    }
    .map_err(sim_err)?;
    let conv = sim.inner.lock().conv(&id)?.conv.clone();
    Ok(ok(conv))
}
