//! An in-process simulator of the Zalo OA platform (feature `sim`), built from Part A of the team's
//! Zalo reference: OAuth v4 with PKCE and single-use rotating refresh tokens, the OpenAPI endpoints the
//! client uses with Zalo's `{data, error, message}` envelope (errors with HTTP 200), limits (2,000-char
//! text, upload types and sizes, `count` ≤ 10, 7-day interaction window, 7-day asset expiry, per-minute
//! rate limit) and signed webhook delivery with Zalo's retry ladder.
//!
//! It also plays the humans: users who send messages, react and follow ([`ZaloSim::user_sends`]) and
//! OA staff typing in Zalo's own chat tool ([`ZaloSim::staff_sends_text`]), through a Rust API and HTTP
//! control routes under `/sim/...` (listed in the crate README). Faults can be injected per endpoint.
//!
//! Failure behaviour: the simulator answers every request (malformed ones with Zalo-style errors) and
//! never panics on input; webhook deliveries that fail are recorded in [`ZaloSim::deliveries`] and retried
//! on the ladder divided by [`SimConfig::time_scale`]; when the bounded queue is full, senders wait.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::extract::multipart::MultipartRejection;
use axum::extract::{DefaultBodyLimit, Multipart, Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use bytes::Bytes;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use url::Url;

use crate::client::{
    ACCESS_TOKEN_HEADER, PATH_ACCESS_TOKEN, PATH_CONVERSATION, PATH_GETOA, PATH_MESSAGE_CS,
    PATH_PERMISSION, PATH_RECENT_CHAT, PATH_UPLOAD_FILE, PATH_UPLOAD_GIF, PATH_UPLOAD_IMAGE,
    PATH_USER_DETAIL, SECRET_KEY_HEADER,
};
use crate::oauth::{random_bytes, Pkce};
use crate::types::{i64_of, str_of};
use crate::webhook::{
    names, signature, NUM_RETRY_HEADER, SERVER_HEADER, SERVER_VALUE, USER_AGENT_VALUE,
};

/// Response header: the per-minute request allowance.
pub const RATE_LIMIT_HEADER: &str = "x-ratelimit-limit";
/// Response header: requests left in the current minute (0 = exhausted).
pub const RATE_REMAIN_HEADER: &str = "x-ratelimit-remain";
/// Path prefix of served media (user uploads and OA uploads).
pub const MEDIA_PATH: &str = "/sim/media";

/// Retry ladder of webhook deliveries at `time_scale` 1.0.
pub const RETRY_LADDER: [Duration; 5] = [
    Duration::from_secs(30),
    Duration::from_secs(5 * 60),
    Duration::from_secs(15 * 60),
    Duration::from_secs(30 * 60),
    Duration::from_secs(60 * 60),
];
/// How long a receiver has to answer 200.
pub const WEBHOOK_TIMEOUT: Duration = Duration::from_secs(2);
/// How long [`WebhookMode::Reorder`] holds events before releasing them in reverse.
pub const REORDER_HOLD: Duration = Duration::from_millis(250);
/// Capacity of the webhook queue.
pub const QUEUE_CAPACITY: usize = 1024;
/// Deliveries in flight at once (each user's events still go one at a time, in order).
pub const DELIVERY_CONCURRENCY: usize = 64;

const DAY_MS: i64 = 24 * 60 * 60 * 1000;
const WINDOW_MS: i64 = 7 * DAY_MS;
const ASSET_TTL_MS: i64 = 7 * DAY_MS;
const CODE_TTL_MS: i64 = 10 * 60 * 1000;
const REFRESH_TTL_MS: i64 = 90 * DAY_MS;
const TEXT_LIMIT: usize = 2000;
const MB: usize = 1024 * 1024;

// Zalo error codes the simulator answers with.
const E_RATE: i64 = -32;
const E_ASSET_EXPIRED: i64 = -100;
const E_INVALID: i64 = -201;
const E_LIMIT: i64 = -210;
const E_NOT_FOLLOWER: i64 = -213;
const E_TOKEN_INVALID: i64 = -216;
const E_BLOCKED: i64 = -217;
const E_TOKEN_EXPIRED: i64 = -220;
const E_WINDOW: i64 = -230;
const E_TYPE: i64 = -233;
const OAUTH_BAD_GRANT: i64 = -14001;
const OAUTH_INVALID_APP: i64 = -14002;
const OAUTH_INVALID_REDIRECT: i64 = -14003;
const OAUTH_INVALID_SECRET: i64 = -14004;
const OAUTH_INVALID_CODE: i64 = -14019;
const OAUTH_INVALID_REFRESH: i64 = -14014;

const MSG_LIMIT: &str = "Parameter exceeds allowable limit";

/// Settings of the simulated app and OA.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// App id.
    pub app_id: String,
    /// App Secret Key (the `secret_key` header of token calls).
    pub app_secret: String,
    /// OA id.
    pub oa_id: String,
    /// OA display name.
    pub oa_name: String,
    /// OA Secret Key that signs webhooks.
    pub oa_secret_key: String,
    /// When set, `/v4/oa/permission` rejects any other `redirect_uri` with -14003.
    pub redirect_uri: Option<String>,
    /// Where signed events are POSTed.
    pub webhook_url: Option<String>,
    /// Divides the webhook retry ladder (30 s, 5 min, 15 min, 30 min, 1 h).
    pub time_scale: f64,
    /// Whether failed deliveries are retried.
    pub webhook_retry: bool,
    /// Lets `/upload/file` take `.txt` and `.csv` too.
    pub accept_txt_upload: bool,
    /// OpenAPI requests per minute before -32.
    pub rate_limit_per_minute: u32,
    /// Lifetime of access tokens.
    pub access_token_ttl: Duration,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            app_id: "1234567890123456789".into(),
            app_secret: "sim-app-secret-0123456789".into(),
            oa_id: "4318848795011111111".into(),
            oa_name: "zfsync Sandbox OA".into(),
            oa_secret_key: "sim-oa-secret-key-0123456789".into(),
            redirect_uri: None,
            webhook_url: None,
            time_scale: 1.0,
            webhook_retry: true,
            accept_txt_upload: false,
            rate_limit_per_minute: 4000,
            access_token_ttl: Duration::from_secs(90_000),
        }
    }
}

/// A simulated Zalo user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimUser {
    /// OA-scoped user id.
    pub user_id: String,
    /// Name shown in Zalo.
    pub display_name: String,
    /// Avatar URL.
    #[serde(default)]
    pub avatar: Option<String>,
    /// Whether the user follows the OA.
    #[serde(default = "yes")]
    pub follower: bool,
}

fn yes() -> bool {
    true
}

/// Something a simulated user does.
#[derive(Debug, Clone, PartialEq)]
pub enum UserAction {
    /// `user_send_text`.
    Text(String),
    /// A text sent with Zalo's "Reply" on an earlier message (`message.quote_msg_id`).
    Reply { text: String, quote_msg_id: String },
    /// `user_send_image`; the bytes are served back at `/sim/media/...`.
    Image {
        /// Caption.
        caption: Option<String>,
        /// Image bytes.
        bytes: Bytes,
    },
    /// `user_send_gif`.
    Gif {
        /// GIF bytes.
        bytes: Bytes,
    },
    /// `user_send_sticker`.
    Sticker {
        /// Sticker id.
        id: String,
    },
    /// `user_send_file`.
    File {
        /// File name with extension.
        name: String,
        /// File bytes.
        bytes: Bytes,
    },
    /// `user_send_audio` (a voice clip).
    Audio {
        /// Audio bytes.
        bytes: Bytes,
    },
    /// `user_send_video`.
    Video {
        /// Video bytes.
        bytes: Bytes,
    },
    /// `user_send_location`.
    Location {
        /// Latitude.
        latitude: String,
        /// Longitude.
        longitude: String,
    },
    /// `user_send_link`.
    Link {
        /// The URL.
        url: String,
        /// Page title.
        title: Option<String>,
    },
    /// `user_send_business_card`.
    BusinessCard {
        /// Contact name.
        name: String,
        /// Contact phone.
        phone: String,
    },
    /// `user_reacted_message`.
    Reaction {
        /// The message reacted to.
        msg_id: String,
        /// Icon, e.g. `/-heart`.
        icon: String,
    },
    /// `follow`.
    Follow,
    /// `unfollow`.
    Unfollow,
}

/// A message the OA sent through `/v3.0/oa/message/cs`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SentRecord {
    /// The `message_id` returned.
    pub message_id: String,
    /// The `message` object as sent.
    pub message: Value,
    /// When it was accepted (epoch ms).
    pub sent_time_ms: i64,
}

/// An injected failure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Fault {
    /// Answer HTTP 200 with this Zalo error (or, on the token endpoint, an OAuth error body).
    Api {
        /// Zalo code, e.g. -216.
        code: i64,
        /// Message text.
        message: String,
    },
    /// Answer with this HTTP status.
    HttpStatus(u16),
}

/// How webhooks are delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WebhookMode {
    /// In order, once.
    #[default]
    Normal,
    /// Every event twice.
    Duplicate,
    /// Events are held for [`REORDER_HOLD`] (or until the mode changes) and released in reverse order.
    Reorder,
}

/// One webhook delivery attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryRecord {
    /// Event name.
    pub event_name: String,
    /// `message.msg_id`, when the event has one.
    pub msg_id: Option<String>,
    /// HTTP status the receiver answered; `None` for connection errors and timeouts.
    pub status: Option<u16>,
    /// 0 for the first attempt, then 1..=5.
    pub num_retry: u32,
}

#[derive(Debug, Clone)]
struct Job {
    body: Bytes,
    signature: String,
    event_name: String,
    msg_id: Option<String>,
    num_retry: u32,
    /// The user the event concerns: deliveries of one user are sequential, users run in parallel.
    lane: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AssetKind {
    Image,
    Gif,
    File,
    Media,
}

#[derive(Debug, Clone)]
struct Asset {
    kind: AssetKind,
    filename: String,
    content_type: String,
    bytes: Bytes,
    created_ms: i64,
}

#[derive(Debug)]
struct UserState {
    user: SimUser,
    by_app: String,
    last_interaction_ms: Option<i64>,
    blocked: bool,
}

#[derive(Debug)]
struct CodeState {
    challenge: Option<String>,
    issued_ms: i64,
}

#[derive(Debug)]
struct AccessState {
    expires_ms: i64,
    revoked: bool,
}

#[derive(Debug)]
struct RefreshState {
    access: String,
    used: bool,
    expires_ms: i64,
}

#[derive(Debug, Clone)]
struct HistEntry {
    user_id: String,
    from_user: bool,
    time_ms: i64,
    kind: &'static str,
    text: Option<String>,
    url: Option<String>,
    message_id: String,
}

#[derive(Debug, Default)]
struct St {
    users: HashMap<String, UserState>,
    codes: HashMap<String, CodeState>,
    access: HashMap<String, AccessState>,
    refresh: HashMap<String, RefreshState>,
    assets: HashMap<String, Asset>,
    sent: HashMap<String, Vec<SentRecord>>,
    history: Vec<HistEntry>,
    faults: HashMap<String, VecDeque<Fault>>,
    latency: Duration,
    rate_minute: i64,
    rate_count: u32,
    mode: WebhookMode,
    held: Vec<Job>,
    deliveries: Vec<DeliveryRecord>,
}

#[derive(Debug)]
struct Shared {
    base: Url,
    cfg: Mutex<SimConfig>,
    st: Mutex<St>,
    tx: mpsc::Sender<Job>,
    pending: AtomicUsize,
    cancel: CancellationToken,
    /// Per-user queues of jobs waiting behind an attempt in flight; a key present = lane active.
    lanes: Mutex<HashMap<String, VecDeque<Job>>>,
}

/// The simulator. Cheap to clone; all clones drive the same server.
#[derive(Clone)]
pub struct ZaloSim {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for ZaloSim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ZaloSim")
            .field("base_url", &self.shared.base.as_str())
            .finish_non_exhaustive()
    }
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

fn new_id(n_bytes: usize) -> String {
    let bytes = random_bytes::<48>();
    URL_SAFE_NO_PAD.encode(&bytes[..n_bytes.min(48)])
}

fn new_msg_id() -> String {
    hex::encode(random_bytes::<10>())
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

type ApiResult = Result<Value, (i64, String)>;

fn bad(field: &str) -> (i64, String) {
    (E_INVALID, format!("{field} is invalid!"))
}

impl ZaloSim {
    /// Starts the simulator on `listener` (HTTP server and webhook worker) and returns at once.
    pub async fn start(
        listener: tokio::net::TcpListener,
        cfg: SimConfig,
    ) -> std::io::Result<ZaloSim> {
        let addr = listener.local_addr()?;
        let base = Url::parse(&format!("http://{addr}/"))
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
        let http = reqwest::Client::builder()
            .timeout(WEBHOOK_TIMEOUT)
            .user_agent(USER_AGENT_VALUE)
            .build()
            .map_err(std::io::Error::other)?;
        let (tx, rx) = mpsc::channel(QUEUE_CAPACITY);
        let shared = Arc::new(Shared {
            base,
            cfg: Mutex::new(cfg),
            st: Mutex::new(St::default()),
            tx,
            pending: AtomicUsize::new(0),
            lanes: Mutex::new(HashMap::new()),
            cancel: CancellationToken::new(),
        });
        let sim = ZaloSim { shared };
        tokio::spawn(sim.clone().delivery_worker(rx, http));
        let app = sim.router();
        let cancel = sim.shared.cancel.clone();
        tokio::spawn(async move {
            let server =
                axum::serve(listener, app).with_graceful_shutdown(cancel.cancelled_owned());
            if let Err(e) = server.await {
                tracing::warn!(error = %e, "Zalo simulator server stopped");
            }
        });
        Ok(sim)
    }

    /// Stops the server and the webhook worker.
    pub fn shutdown(&self) {
        self.shared.cancel.cancel();
    }

    /// Base URL serving OpenAPI, OAuth and `/sim` routes.
    pub fn base_url(&self) -> Url {
        self.shared.base.clone()
    }

    /// Current configuration.
    pub fn config(&self) -> SimConfig {
        lock(&self.shared.cfg).clone()
    }

    /// The OA Secret Key as a secret, for [`crate::webhook::verify`].
    pub fn oa_secret_key(&self) -> SecretString {
        SecretString::from(lock(&self.shared.cfg).oa_secret_key.clone())
    }

    /// Changes where webhooks go.
    pub fn set_webhook_url(&self, url: Option<String>) {
        lock(&self.shared.cfg).webhook_url = url;
    }

    fn st(&self) -> MutexGuard<'_, St> {
        lock(&self.shared.st)
    }

    fn media_url(&self, id: &str) -> String {
        format!(
            "{}{MEDIA_PATH}/{id}",
            self.shared.base.as_str().trim_end_matches('/')
        )
    }

    /// Adds (or replaces) a user.
    pub fn add_user(&self, user: SimUser) {
        let mut st = self.st();
        let by_app = by_app_id(&user.user_id);
        let prev = st.users.remove(&user.user_id);
        st.users.insert(
            user.user_id.clone(),
            UserState {
                user,
                by_app,
                last_interaction_ms: prev.as_ref().and_then(|p| p.last_interaction_ms),
                blocked: prev.is_some_and(|p| p.blocked),
            },
        );
    }

    /// Marks a user as having blocked the OA (sends then fail with -217).
    pub fn set_blocked(&self, user_id: &str, blocked: bool) {
        if let Some(u) = self.st().users.get_mut(user_id) {
            u.blocked = blocked;
        }
    }

    /// Sets when a user last interacted with the OA.
    pub fn set_last_interaction(&self, user_id: &str, at_ms: i64) {
        if let Some(u) = self.st().users.get_mut(user_id) {
            u.last_interaction_ms = Some(at_ms);
        }
    }

    /// A simulated user acts; returns the event's `msg_id` (the reacted message for reactions, "" for
    /// follow/unfollow), records the interaction and queues the signed webhook. Unknown users are
    /// created on the fly.
    pub async fn user_sends(&self, user_id: &str, action: UserAction) -> String {
        let cfg = self.config();
        let now = now_ms();
        let ts = now.to_string();
        let msg_id = new_msg_id();
        let by_app = {
            let mut st = self.st();
            let u = st
                .users
                .entry(user_id.to_owned())
                .or_insert_with(|| UserState {
                    user: SimUser {
                        user_id: user_id.to_owned(),
                        display_name: format!("Zalo user {user_id}"),
                        avatar: None,
                        follower: false,
                    },
                    by_app: by_app_id(user_id),
                    last_interaction_ms: None,
                    blocked: false,
                });
            match action {
                UserAction::Follow => u.user.follower = true,
                UserAction::Unfollow => u.user.follower = false,
                _ => {}
            }
            if !matches!(action, UserAction::Unfollow | UserAction::Reaction { .. }) {
                u.last_interaction_ms = Some(now);
            }
            u.by_app.clone()
        };
        let user_msg = |event: &str, message: Value| {
            json!({
                "app_id": cfg.app_id, "sender": {"id": user_id}, "user_id_by_app": by_app,
                "recipient": {"id": cfg.oa_id}, "event_name": event, "message": message, "timestamp": ts,
            })
        };
        let mut hist: Option<(&'static str, Option<String>, Option<String>)> = None;
        let (event, returned) = match action {
            UserAction::Text(text) => {
                hist = Some(("text", Some(text.clone()), None));
                (
                    user_msg(
                        names::USER_SEND_TEXT,
                        json!({"msg_id": msg_id, "text": text}),
                    ),
                    msg_id.clone(),
                )
            }
            UserAction::Reply { text, quote_msg_id } => {
                hist = Some(("text", Some(text.clone()), None));
                (
                    user_msg(
                        names::USER_SEND_TEXT,
                        json!({"msg_id": msg_id, "text": text, "quote_msg_id": quote_msg_id}),
                    ),
                    msg_id.clone(),
                )
            }
            UserAction::Image { caption, bytes } => {
                let (name, ct) = if bytes.starts_with(b"\x89PNG") {
                    ("image.png", "image/png")
                } else {
                    ("image.jpg", "image/jpeg")
                };
                let url = self.store_media(AssetKind::Media, name, ct, bytes);
                hist = Some(("photo", caption.clone(), Some(url.clone())));
                let mut m = json!({"msg_id": msg_id, "attachments": [{"type": "image", "payload": {"thumbnail": url, "url": url}}]});
                if let Some(c) = caption {
                    m["text"] = Value::String(c);
                }
                (user_msg(names::USER_SEND_IMAGE, m), msg_id.clone())
            }
            UserAction::Gif { bytes } => {
                let url = self.store_media(AssetKind::Media, "image.gif", "image/gif", bytes);
                hist = Some(("GIF", None, Some(url.clone())));
                let m = json!({"msg_id": msg_id, "attachments": [{"type": "gif", "payload": {"thumbnail": url, "url": url}}]});
                (user_msg(names::USER_SEND_GIF, m), msg_id.clone())
            }
            UserAction::Sticker { id } => {
                let url = self.sticker_url(&id);
                hist = Some(("sticker", None, Some(url.clone())));
                let m = json!({"msg_id": msg_id, "attachments": [{"type": "sticker", "payload": {"id": id, "url": url}}]});
                (user_msg(names::USER_SEND_STICKER, m), msg_id.clone())
            }
            UserAction::File { name, bytes } => {
                let size = bytes.len();
                let ct = mime_guess::from_path(&name)
                    .first_or_octet_stream()
                    .essence_str()
                    .to_owned();
                let url = self.store_media(AssetKind::Media, &name, &ct, bytes);
                let ext = name
                    .rsplit_once('.')
                    .map(|(_, e)| e.to_ascii_lowercase())
                    .unwrap_or_default();
                hist = Some(("file", Some(name.clone()), Some(url.clone())));
                let m = json!({"msg_id": msg_id, "attachments": [{"type": "file",
                    "payload": {"url": url, "name": name, "size": size.to_string(), "type": ext}}]});
                (user_msg(names::USER_SEND_FILE, m), msg_id.clone())
            }
            UserAction::Audio { bytes } => {
                let url = self.store_media(AssetKind::Media, "voice.amr", "audio/amr", bytes);
                hist = Some(("voice", None, Some(url.clone())));
                let m = json!({"msg_id": msg_id, "attachments": [{"type": "audio", "payload": {"url": url}}]});
                (user_msg(names::USER_SEND_AUDIO, m), msg_id.clone())
            }
            UserAction::Video { bytes } => {
                let url = self.store_media(AssetKind::Media, "video.mp4", "video/mp4", bytes);
                hist = Some(("video", None, Some(url.clone())));
                let m = json!({"msg_id": msg_id, "attachments": [{"type": "video",
                    "payload": {"url": url, "thumbnail": url, "description": ""}}]});
                (user_msg(names::USER_SEND_VIDEO, m), msg_id.clone())
            }
            UserAction::Location {
                latitude,
                longitude,
            } => {
                hist = Some(("location", None, None));
                let m = json!({"msg_id": msg_id, "attachments": [{"type": "location",
                    "payload": {"coordinates": {"latitude": latitude, "longitude": longitude}}}]});
                (user_msg(names::USER_SEND_LOCATION, m), msg_id.clone())
            }
            UserAction::Link { url, title } => {
                hist = Some(("link", Some(url.clone()), Some(url.clone())));
                let mut payload = json!({"url": url, "description": "", "thumbnail": ""});
                if let Some(t) = title {
                    payload["title"] = Value::String(t);
                }
                let m = json!({"msg_id": msg_id, "text": url, "attachments": [{"type": "link", "payload": payload}]});
                (user_msg(names::USER_SEND_LINK, m), msg_id.clone())
            }
            UserAction::BusinessCard { name, phone } => {
                hist = Some(("link", Some(name.clone()), None));
                let qr = self.sticker_url(&format!("qr-{phone}"));
                let desc = json!({"phone": phone, "qrCodeUrl": qr}).to_string();
                let m = json!({"msg_id": msg_id, "text": name, "attachments": [{"type": "link",
                    "payload": {"thumbnail": qr, "url": qr, "description": desc}}]});
                (user_msg(names::USER_SEND_BUSINESS_CARD, m), msg_id.clone())
            }
            UserAction::Reaction {
                msg_id: target,
                icon,
            } => (
                user_msg(
                    names::USER_REACTED_MESSAGE,
                    json!({"msg_id": target, "react_icon": icon}),
                ),
                target,
            ),
            UserAction::Follow | UserAction::Unfollow => {
                let name = if matches!(action, UserAction::Follow) {
                    names::FOLLOW
                } else {
                    names::UNFOLLOW
                };
                (
                    json!({"oa_id": cfg.oa_id, "follower": {"id": user_id}, "user_id_by_app": by_app,
                        "event_name": name, "source": "oa_profile", "app_id": cfg.app_id, "timestamp": ts}),
                    String::new(),
                )
            }
        };
        if let Some((kind, text, url)) = hist {
            self.st().history.push(HistEntry {
                user_id: user_id.to_owned(),
                from_user: true,
                time_ms: now,
                kind,
                text,
                url,
                message_id: msg_id,
            });
        }
        self.emit(event).await;
        returned
    }

    /// OA staff reply from Zalo's own chat tool: emits `oa_send_text` with `sender.admin_id` and returns
    /// its `msg_id`. No window check applies (Zalo's tool enforces its own).
    pub async fn staff_sends_text(&self, user_id: &str, admin_id: &str, text: &str) -> String {
        let cfg = self.config();
        let now = now_ms();
        let msg_id = new_msg_id();
        let by_app = {
            let mut st = self.st();
            st.history.push(HistEntry {
                user_id: user_id.to_owned(),
                from_user: false,
                time_ms: now,
                kind: "text",
                text: Some(text.to_owned()),
                url: None,
                message_id: msg_id.clone(),
            });
            st.users
                .get(user_id)
                .map(|u| u.by_app.clone())
                .unwrap_or_else(|| by_app_id(user_id))
        };
        let event = json!({
            "app_id": cfg.app_id, "sender": {"id": cfg.oa_id, "admin_id": admin_id}, "recipient": {"id": user_id},
            "user_id_by_app": by_app, "event_name": names::OA_SEND_TEXT,
            "message": {"msg_id": msg_id, "text": text}, "timestamp": now.to_string(),
        });
        self.emit(event).await;
        msg_id
    }

    /// Messages the OA sent to a user via `/message/cs`, oldest first.
    pub fn sent_to(&self, user_id: &str) -> Vec<SentRecord> {
        self.st().sent.get(user_id).cloned().unwrap_or_default()
    }

    /// An authorization code, as if an admin pressed "Allow" (single use, 10 min).
    pub fn issue_code(&self, code_challenge: Option<&str>) -> String {
        let code = new_id(32);
        self.st().codes.insert(
            code.clone(),
            CodeState {
                challenge: code_challenge.filter(|c| !c.is_empty()).map(str::to_owned),
                issued_ms: now_ms(),
            },
        );
        code
    }

    /// A fresh (access, refresh) pair, as the API Explorer hands out.
    pub fn issue_tokens(&self) -> (String, String) {
        let ttl = lock(&self.shared.cfg).access_token_ttl;
        issue_pair(&mut self.st(), ttl)
    }

    /// Expires every access token issued so far (-220 afterwards).
    pub fn expire_access_tokens(&self) {
        let now = now_ms();
        for a in self.st().access.values_mut() {
            a.expires_ms = a.expires_ms.min(now - 1);
        }
    }

    /// Ages an uploaded asset past its 7-day lifetime (-100 when used).
    pub fn expire_asset(&self, id_or_token: &str) {
        if let Some(a) = self.st().assets.get_mut(id_or_token) {
            a.created_ms = now_ms() - ASSET_TTL_MS - 1;
        }
    }

    /// Fails the next `n` calls of `path` (e.g. `/v3.0/oa/message/cs`, `/v4/oa/access_token`,
    /// `/sim/media`) with `fault`.
    pub fn fail_next(&self, path: &str, n: u32, fault: Fault) {
        let mut st = self.st();
        let q = st.faults.entry(path.to_owned()).or_default();
        for _ in 0..n {
            q.push_back(fault.clone());
        }
    }

    /// Delays every OpenAPI and OAuth answer by `latency`.
    pub fn set_latency(&self, latency: Duration) {
        self.st().latency = latency;
    }

    /// Changes the delivery mode; leaving [`WebhookMode::Reorder`] releases held events (reversed).
    pub fn set_webhook_mode(&self, mode: WebhookMode) {
        let release = {
            let mut st = self.st();
            st.mode = mode;
            mode != WebhookMode::Reorder && !st.held.is_empty()
        };
        if release {
            if let Ok(rt) = tokio::runtime::Handle::try_current() {
                let sim = self.clone();
                rt.spawn(async move { sim.release_held().await });
            }
        }
    }

    /// Webhook attempts so far, in order.
    pub fn deliveries(&self) -> Vec<DeliveryRecord> {
        self.st().deliveries.clone()
    }

    /// An uploaded asset (or user media) by id or token: (filename, bytes).
    pub fn uploaded(&self, id_or_token: &str) -> Option<(String, Bytes)> {
        self.st()
            .assets
            .get(id_or_token)
            .map(|a| (a.filename.clone(), a.bytes.clone()))
    }

    /// Waits until no webhook is queued, held, in flight or waiting for a retry.
    pub async fn wait_deliveries_idle(&self, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if self.shared.pending.load(Ordering::SeqCst) == 0 {
                return true;
            }
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    // ------------------------------------------------------------ media

    fn store_media(
        &self,
        kind: AssetKind,
        filename: &str,
        content_type: &str,
        bytes: Bytes,
    ) -> String {
        let id = new_id(24);
        self.st().assets.insert(
            id.clone(),
            Asset {
                kind,
                filename: filename.to_owned(),
                content_type: content_type.to_owned(),
                bytes,
                created_ms: now_ms(),
            },
        );
        self.media_url(&id)
    }

    fn sticker_url(&self, sticker_id: &str) -> String {
        // A 1x1 transparent GIF stands in for the sticker image.
        const PIXEL: &[u8] = b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;";
        let id: String = sticker_id
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
            .collect();
        let id = format!("sticker-{id}");
        self.st().assets.entry(id.clone()).or_insert_with(|| Asset {
            kind: AssetKind::Media,
            filename: format!("{id}.gif"),
            content_type: "image/gif".into(),
            bytes: Bytes::from_static(PIXEL),
            created_ms: now_ms(),
        });
        self.media_url(&id)
    }

    // ------------------------------------------------------------ webhooks

    async fn emit(&self, event: Value) {
        let (app_id, key) = {
            let cfg = lock(&self.shared.cfg);
            (
                cfg.app_id.clone(),
                SecretString::from(cfg.oa_secret_key.clone()),
            )
        };
        let body = match serde_json::to_vec(&event) {
            Ok(b) => Bytes::from(b),
            Err(_) => return,
        };
        let ts = str_of(event.get("timestamp")).unwrap_or_default();
        let job = Job {
            signature: signature(&app_id, &body, &ts, &key),
            body,
            event_name: str_of(event.get("event_name")).unwrap_or_default(),
            msg_id: str_of(event.pointer("/message/msg_id")),
            num_retry: 0,
            lane: crate::webhook::event_from_value(event.clone())
                .user_id()
                .unwrap_or("")
                .to_owned(),
        };
        let mode = self.st().mode;
        match mode {
            WebhookMode::Normal => self.push(job, true).await,
            WebhookMode::Duplicate => {
                self.push(job.clone(), true).await;
                self.push(job, true).await;
            }
            WebhookMode::Reorder => {
                self.shared.pending.fetch_add(1, Ordering::SeqCst);
                let first = {
                    let mut st = self.st();
                    st.held.push(job);
                    st.held.len() == 1
                };
                if first {
                    let sim = self.clone();
                    tokio::spawn(async move {
                        tokio::time::sleep(REORDER_HOLD).await;
                        sim.release_held().await;
                    });
                }
            }
        }
    }

    async fn release_held(&self) {
        let held = std::mem::take(&mut self.st().held);
        for job in held.into_iter().rev() {
            self.push(job, false).await;
        }
    }

    async fn push(&self, job: Job, count: bool) {
        if count {
            self.shared.pending.fetch_add(1, Ordering::SeqCst);
        }
        if self.shared.tx.send(job).await.is_err() {
            self.shared.pending.fetch_sub(1, Ordering::SeqCst);
        }
    }

    async fn delivery_worker(self, mut rx: mpsc::Receiver<Job>, http: reqwest::Client) {
        let permits = Arc::new(tokio::sync::Semaphore::new(DELIVERY_CONCURRENCY));
        loop {
            let job = tokio::select! {
                () = self.shared.cancel.cancelled() => break,
                j = rx.recv() => match j { Some(j) => j, None => break },
            };
            let start = {
                let mut lanes = lock(&self.shared.lanes);
                match lanes.get_mut(&job.lane) {
                    Some(q) => {
                        q.push_back(job);
                        None
                    }
                    None => {
                        lanes.insert(job.lane.clone(), VecDeque::new());
                        Some(job)
                    }
                }
            };
            if let Some(job) = start {
                tokio::spawn(self.clone().run_lane(job, http.clone(), permits.clone()));
            }
        }
    }

    /// Delivers one user's events in order until that user's queue is empty.
    async fn run_lane(
        self,
        first: Job,
        http: reqwest::Client,
        permits: Arc<tokio::sync::Semaphore>,
    ) {
        let lane = first.lane.clone();
        let mut job = first;
        loop {
            {
                let _permit = permits.acquire().await;
                self.deliver(&http, job).await;
            }
            let next = {
                let mut lanes = lock(&self.shared.lanes);
                match lanes.get_mut(&lane).and_then(VecDeque::pop_front) {
                    Some(j) => Some(j),
                    None => {
                        lanes.remove(&lane);
                        None
                    }
                }
            };
            match next {
                Some(j) => job = j,
                None => break,
            }
        }
    }

    async fn deliver(&self, http: &reqwest::Client, job: Job) {
        let (url, retry, scale) = {
            let cfg = lock(&self.shared.cfg);
            (cfg.webhook_url.clone(), cfg.webhook_retry, cfg.time_scale)
        };
        let Some(url) = url else {
            // No receiver configured: the event is dropped, as Zalo does for an app without a webhook.
            self.shared.pending.fetch_sub(1, Ordering::SeqCst);
            return;
        };
        let mut req = http
            .post(&url)
            .header(header::CONTENT_TYPE, "application/json")
            .header(crate::webhook::SIGNATURE_HEADER, &job.signature)
            .header(SERVER_HEADER, SERVER_VALUE)
            .header(header::USER_AGENT, USER_AGENT_VALUE)
            .body(job.body.clone());
        if job.num_retry > 0 {
            req = req.header(NUM_RETRY_HEADER, job.num_retry.to_string());
        }
        let status = match req.send().await {
            Ok(resp) => {
                let s = resp.status().as_u16();
                // Drain so the connection can be reused; the body does not matter.
                let _ = tokio::time::timeout(WEBHOOK_TIMEOUT, resp.bytes()).await;
                Some(s)
            }
            Err(e) => {
                tracing::debug!(error = %e, event = %job.event_name, "simulated webhook delivery failed");
                None
            }
        };
        self.st().deliveries.push(DeliveryRecord {
            event_name: job.event_name.clone(),
            msg_id: job.msg_id.clone(),
            status,
            num_retry: job.num_retry,
        });
        let idx = job.num_retry as usize;
        if status != Some(200) && retry && idx < RETRY_LADDER.len() {
            let scale = if scale.is_finite() && scale > 0.0 {
                scale
            } else {
                1.0
            };
            let delay = RETRY_LADDER[idx].div_f64(scale);
            let sim = self.clone();
            let mut next = job;
            next.num_retry += 1;
            tokio::spawn(async move {
                tokio::select! {
                    () = sim.shared.cancel.cancelled() => {}
                    () = tokio::time::sleep(delay) => sim.push(next, false).await,
                }
            });
        } else {
            self.shared.pending.fetch_sub(1, Ordering::SeqCst);
        }
    }

    // ------------------------------------------------------------ HTTP

    fn router(&self) -> Router {
        Router::new()
            .route(PATH_PERMISSION, get(h_permission))
            .route(PATH_ACCESS_TOKEN, post(h_access_token))
            .route(PATH_MESSAGE_CS, post(h_message_cs))
            .route(PATH_UPLOAD_IMAGE, post(h_upload_image))
            .route(PATH_UPLOAD_GIF, post(h_upload_gif))
            .route(PATH_UPLOAD_FILE, post(h_upload_file))
            .route(PATH_USER_DETAIL, get(h_user_detail))
            .route(PATH_GETOA, get(h_getoa))
            .route(PATH_RECENT_CHAT, get(h_recent_chat))
            .route(PATH_CONVERSATION, get(h_conversation))
            .route("/sim/media/{id}", get(h_media))
            .route("/sim/users", post(c_add_user))
            .route("/sim/users/{id}/send", post(c_user_send))
            .route("/sim/users/{id}/staff_send", post(c_staff_send))
            .route("/sim/users/{id}/sent", get(c_sent))
            .route("/sim/users/{id}/last_interaction", post(c_last_interaction))
            .route("/sim/users/{id}/blocked", post(c_blocked))
            .route("/sim/oauth/code", post(c_code))
            .route("/sim/tokens", post(c_tokens))
            .route("/sim/tokens/expire", post(c_expire_tokens))
            .route("/sim/assets/{id}/expire", post(c_expire_asset))
            .route("/sim/faults", post(c_faults))
            .route("/sim/latency", post(c_latency))
            .route("/sim/webhook", post(c_webhook))
            .route("/sim/deliveries", get(c_deliveries))
            .route("/sim/deliveries/wait", post(c_wait))
            .route("/sim/config", get(c_config))
            .layer(DefaultBodyLimit::max(16 * MB))
            .with_state(self.clone())
    }

    async fn latency(&self) {
        let l = self.st().latency;
        if !l.is_zero() {
            tokio::time::sleep(l).await;
        }
    }

    fn take_fault(&self, path: &str) -> Option<Fault> {
        self.st().faults.get_mut(path).and_then(VecDeque::pop_front)
    }

    /// Latency, rate limit, injected faults and the access token, in that order. Ok(remaining quota).
    async fn guard(&self, path: &str, headers: &HeaderMap) -> Result<u32, Response> {
        self.latency().await;
        let limit = lock(&self.shared.cfg).rate_limit_per_minute;
        let (over, remain) = {
            let mut st = self.st();
            let minute = now_ms() / 60_000;
            if st.rate_minute != minute {
                st.rate_minute = minute;
                st.rate_count = 0;
            }
            st.rate_count = st.rate_count.saturating_add(1);
            (st.rate_count > limit, limit.saturating_sub(st.rate_count))
        };
        if over {
            return Err(self.api_err(remain, E_RATE, "Your application reached limit call api"));
        }
        match self.take_fault(path) {
            Some(Fault::Api { code, message }) => return Err(self.api_err(remain, code, &message)),
            Some(Fault::HttpStatus(s)) => {
                let status = StatusCode::from_u16(s).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                let mut r = (
                    status,
                    status.canonical_reason().unwrap_or("error").to_owned(),
                )
                    .into_response();
                self.rate_headers(&mut r, remain);
                return Err(r);
            }
            None => {}
        }
        let token = headers
            .get(ACCESS_TOKEN_HEADER)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let check = {
            let st = self.st();
            match st.access.get(token) {
                None => Some((E_TOKEN_INVALID, "Access token is invalid")),
                Some(a) if a.revoked || a.expires_ms <= now_ms() => {
                    Some((E_TOKEN_EXPIRED, "access_token is expired or removed"))
                }
                Some(_) => None,
            }
        };
        if let Some((code, msg)) = check {
            return Err(self.api_err(remain, code, msg));
        }
        Ok(remain)
    }

    fn rate_headers(&self, r: &mut Response, remain: u32) {
        let limit = lock(&self.shared.cfg).rate_limit_per_minute;
        let h = r.headers_mut();
        h.insert(RATE_LIMIT_HEADER, HeaderValue::from(limit));
        h.insert(RATE_REMAIN_HEADER, HeaderValue::from(remain));
    }

    fn api_err(&self, remain: u32, code: i64, message: &str) -> Response {
        let mut r = Json(json!({"error": code, "message": message})).into_response();
        self.rate_headers(&mut r, remain);
        r
    }

    fn respond(&self, remain: u32, result: ApiResult) -> Response {
        match result {
            Ok(data) => {
                let mut r =
                    Json(json!({"data": data, "error": 0, "message": "Success"})).into_response();
                self.rate_headers(&mut r, remain);
                r
            }
            Err((code, msg)) => self.api_err(remain, code, &msg),
        }
    }

    // ------------------------------------------------------------ OpenAPI logic

    fn do_send_cs(&self, body: &[u8]) -> Result<(Value, Value), (i64, String)> {
        let v: Value = serde_json::from_slice(body).map_err(|_| bad("body"))?;
        let user_id = str_of(v.pointer("/recipient/user_id"))
            .filter(|s| !s.is_empty())
            .ok_or_else(|| bad("user_id"))?;
        let msg = v
            .get("message")
            .filter(|m| m.is_object())
            .ok_or_else(|| bad("message"))?;
        let cfg = self.config();
        let now = now_ms();
        let mut st = self.st();
        let user = st
            .users
            .get(&user_id)
            .ok_or((E_NOT_FOLLOWER, "User has not followed OA".to_owned()))?;
        if user.blocked {
            return Err((E_BLOCKED, "User has blocked invitation from OA".into()));
        }
        if user.last_interaction_ms.is_none_or(|t| now - t > WINDOW_MS) {
            return Err((
                E_WINDOW,
                "User has not interacted with the OA in the past 7 days".into(),
            ));
        }
        let by_app = user.by_app.clone();
        let text = match msg.get("text") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => return Err(bad("text")),
        };
        if text
            .as_ref()
            .is_some_and(|t| t.chars().count() > TEXT_LIMIT)
        {
            return Err((E_LIMIT, MSG_LIMIT.into()));
        }
        let asset =
            |st: &St, id: &str, kind: AssetKind, field: &str| -> Result<Asset, (i64, String)> {
                let a = st
                    .assets
                    .get(id)
                    .filter(|a| a.kind == kind)
                    .ok_or_else(|| bad(field))?;
                if now - a.created_ms > ASSET_TTL_MS {
                    return Err((E_ASSET_EXPIRED, format!("{field} was expired")));
                }
                Ok(a.clone())
            };
        let (event_name, hist_kind, attachments, hist_url): (
            &str,
            &'static str,
            Vec<Value>,
            Option<String>,
        ) = match msg.get("attachment") {
            None | Some(Value::Null) => {
                if text.as_deref().is_none_or(|t| t.trim().is_empty()) {
                    return Err(bad("text"));
                }
                (names::OA_SEND_TEXT, "text", vec![], None)
            }
            Some(a) => match a.get("type").and_then(Value::as_str) {
                Some("template") => {
                    if a.pointer("/payload/template_type").and_then(Value::as_str) != Some("media")
                    {
                        return Err((E_TYPE, "message type is invalid or not support".into()));
                    }
                    let el = match a.pointer("/payload/elements").and_then(Value::as_array) {
                        Some(els) if els.len() == 1 => &els[0],
                        _ => return Err(bad("elements")),
                    };
                    let att_id = str_of(el.get("attachment_id")).filter(|s| !s.is_empty());
                    let url = str_of(el.get("url")).filter(|s| !s.is_empty());
                    match el.get("media_type").and_then(Value::as_str) {
                        Some("image") => {
                            let url = match (att_id, url) {
                                (Some(id), None) => {
                                    asset(&st, &id, AssetKind::Image, "attachment_id")?;
                                    self.media_url(&id)
                                }
                                (None, Some(u))
                                    if u.starts_with("http://") || u.starts_with("https://") =>
                                {
                                    u
                                }
                                _ => return Err(bad("url")),
                            };
                            let att =
                                json!({"type": "image", "payload": {"url": url, "thumbnail": url}});
                            (names::OA_SEND_IMAGE, "photo", vec![att], Some(url))
                        }
                        Some("gif") => {
                            let id = att_id.ok_or_else(|| bad("attachment_id"))?;
                            asset(&st, &id, AssetKind::Gif, "attachment_id")?;
                            for f in ["width", "height"] {
                                if i64_of(el.get(f)).is_none_or(|n| n <= 0) {
                                    return Err(bad(f));
                                }
                            }
                            let url = self.media_url(&id);
                            let att =
                                json!({"type": "gif", "payload": {"url": url, "thumbnail": url}});
                            (names::OA_SEND_GIF, "GIF", vec![att], Some(url))
                        }
                        Some("sticker") => {
                            let id = att_id.ok_or_else(|| bad("attachment_id"))?;
                            drop(st);
                            let url = self.sticker_url(&id);
                            st = self.st();
                            let att = json!({"type": "sticker", "payload": {"id": id, "url": url}});
                            (names::OA_SEND_STICKER, "sticker", vec![att], Some(url))
                        }
                        _ => return Err((E_TYPE, "message type is invalid or not support".into())),
                    }
                }
                Some("file") => {
                    let token = str_of(a.pointer("/payload/token"))
                        .filter(|s| !s.is_empty())
                        .ok_or_else(|| bad("token"))?;
                    let f = asset(&st, &token, AssetKind::File, "token")?;
                    let url = self.media_url(&token);
                    let ext = f
                        .filename
                        .rsplit_once('.')
                        .map(|(_, e)| e.to_ascii_lowercase())
                        .unwrap_or_default();
                    let att = json!({"type": "file", "payload": {"url": url, "name": f.filename,
                            "size": f.bytes.len().to_string(), "type": ext}});
                    (names::OA_SEND_FILE, "file", vec![att], Some(url))
                }
                _ => return Err((E_TYPE, "message type is invalid or not support".into())),
            },
        };
        let message_id = new_msg_id();
        st.sent
            .entry(user_id.clone())
            .or_default()
            .push(SentRecord {
                message_id: message_id.clone(),
                message: msg.clone(),
                sent_time_ms: now,
            });
        st.history.push(HistEntry {
            user_id: user_id.clone(),
            from_user: false,
            time_ms: now,
            kind: hist_kind,
            text: text.clone(),
            url: hist_url,
            message_id: message_id.clone(),
        });
        drop(st);
        let mut echo_msg = json!({"msg_id": message_id});
        if let Some(t) = &text {
            echo_msg["text"] = Value::String(t.clone());
        }
        if !attachments.is_empty() {
            echo_msg["attachments"] = Value::Array(attachments);
        }
        let echo = json!({
            "app_id": cfg.app_id, "sender": {"id": cfg.oa_id}, "recipient": {"id": user_id},
            "user_id_by_app": by_app, "event_name": event_name, "message": echo_msg, "timestamp": now.to_string(),
        });
        let data = json!({"message_id": message_id, "user_id": user_id, "sent_time": now.to_string(),
            "quota": {"quota_type": "reply"}});
        Ok((data, echo))
    }

    async fn do_upload(
        &self,
        kind: AssetKind,
        mp: Result<Multipart, MultipartRejection>,
    ) -> ApiResult {
        let mut mp = mp.map_err(|_| bad("file"))?;
        let mut found: Option<(String, Bytes)> = None;
        loop {
            match mp.next_field().await {
                Ok(Some(field)) => {
                    if field.name() != Some("file") {
                        continue;
                    }
                    let name = field.file_name().map(str::to_owned).unwrap_or_default();
                    let bytes = field
                        .bytes()
                        .await
                        .map_err(|_| (E_LIMIT, MSG_LIMIT.to_owned()))?;
                    found = Some((name, bytes));
                    break;
                }
                Ok(None) => break,
                Err(_) => return Err((E_LIMIT, MSG_LIMIT.into())),
            }
        }
        let (name, bytes) = found.ok_or_else(|| bad("file"))?;
        let ext = name
            .rsplit_once('.')
            .map(|(_, e)| e.to_ascii_lowercase())
            .unwrap_or_default();
        let txt = lock(&self.shared.cfg).accept_txt_upload;
        let (allowed, limit): (&[&str], usize) = match kind {
            AssetKind::Image => (&["jpg", "jpeg", "png"], MB),
            AssetKind::Gif => (&["gif"], 5 * MB),
            _ if txt => (&["pdf", "doc", "docx", "txt", "csv"], 5 * MB),
            _ => (&["pdf", "doc", "docx"], 5 * MB),
        };
        if !allowed.contains(&ext.as_str()) {
            return Err((
                E_INVALID,
                format!(
                    "file type .{ext} is invalid! Allowed: {}",
                    allowed.join(", ")
                ),
            ));
        }
        if bytes.len() > limit {
            return Err((E_LIMIT, MSG_LIMIT.into()));
        }
        let ct = mime_guess::from_path(&name)
            .first_or_octet_stream()
            .essence_str()
            .to_owned();
        let id = new_id(24);
        self.st().assets.insert(
            id.clone(),
            Asset {
                kind,
                filename: name,
                content_type: ct,
                bytes,
                created_ms: now_ms(),
            },
        );
        Ok(if kind == AssetKind::File {
            json!({"token": id})
        } else {
            json!({"attachment_id": id})
        })
    }

    fn do_user_detail(&self, data: &Value) -> ApiResult {
        let user_id = str_of(data.get("user_id")).ok_or_else(|| bad("user_id"))?;
        let st = self.st();
        let u = st
            .users
            .get(&user_id)
            .ok_or((E_NOT_FOLLOWER, "User has not followed OA".to_owned()))?;
        let avatar = u.user.avatar.clone().unwrap_or_default();
        let last = u
            .last_interaction_ms
            .and_then(chrono::DateTime::from_timestamp_millis)
            .map(|d| d.format("%d/%m/%Y").to_string())
            .unwrap_or_default();
        Ok(json!({
            "user_id": u.user.user_id, "user_id_by_app": u.by_app, "user_external_id": "",
            "display_name": u.user.display_name, "user_alias": "", "is_sensitive": false,
            "user_last_interaction_date": last, "user_is_follower": u.user.follower,
            "avatar": avatar, "avatars": {"120": avatar, "240": avatar},
            "tags_and_notes_info": {"notes": [], "tag_names": []}, "shared_info": {},
        }))
    }

    fn do_getoa(&self) -> ApiResult {
        let cfg = self.config();
        let followers = self.st().users.values().filter(|u| u.user.follower).count();
        Ok(json!({
            "oa_id": cfg.oa_id, "oaid": cfg.oa_id, "name": cfg.oa_name, "description": "Simulated Official Account",
            "oa_alias": "", "is_verified": true, "oa_type": 2, "cate_name": "Software", "num_follower": followers,
            "avatar": self.media_url("oa-avatar"), "cover": "", "package_name": "Simulated",
        }))
    }

    fn do_history(&self, data: &Value, user: Option<&str>) -> ApiResult {
        let count = i64_of(data.get("count")).unwrap_or(5);
        let offset = i64_of(data.get("offset")).unwrap_or(0);
        if count > 10 {
            return Err((E_LIMIT, MSG_LIMIT.into()));
        }
        if count < 0 || offset < 0 {
            return Err(bad(if count < 0 { "count" } else { "offset" }));
        }
        let cfg = self.config();
        let st = self.st();
        if let Some(u) = user {
            if !st.users.contains_key(u) {
                return Err((E_NOT_FOLLOWER, "User has not followed OA".into()));
            }
        }
        let items: Vec<Value> = st
            .history
            .iter()
            .rev()
            .filter(|h| user.is_none_or(|u| h.user_id == u))
            .skip(usize::try_from(offset).unwrap_or(usize::MAX))
            .take(usize::try_from(count).unwrap_or(0))
            .map(|h| {
                let uname = st.users.get(&h.user_id).map(|u| u.user.display_name.clone()).unwrap_or_default();
                let (from_id, to_id, from_name, to_name) = if h.from_user {
                    (h.user_id.clone(), cfg.oa_id.clone(), uname, cfg.oa_name.clone())
                } else {
                    (cfg.oa_id.clone(), h.user_id.clone(), cfg.oa_name.clone(), uname)
                };
                let mut m = json!({
                    "src": i32::from(h.from_user), "time": h.time_ms, "type": h.kind,
                    "message": h.text.clone().unwrap_or_default(), "message_id": h.message_id,
                    "from_id": from_id, "to_id": to_id, "from_display_name": from_name, "from_avatar": "",
                    "to_display_name": to_name, "to_avatar": "",
                });
                if let Some(url) = &h.url {
                    m["url"] = Value::String(url.clone());
                    m["thumb"] = Value::String(url.clone());
                }
                m
            })
            .collect();
        Ok(Value::Array(items))
    }

    // ------------------------------------------------------------ OAuth logic

    fn oauth_err(code: i64, name: &str, description: &str) -> Response {
        Json(json!({
            "error": code, "error_name": name, "error_reason": description, "error_description": description,
            "ref_doc": "https://developers.zalo.me/docs/official-account/bat-dau/xac-thuc-va-uy-quyen-cho-ung-dung-new",
        }))
        .into_response()
    }

    fn do_token(&self, headers: &HeaderMap, body: &[u8]) -> Response {
        let form: HashMap<String, String> =
            url::form_urlencoded::parse(body).into_owned().collect();
        let cfg = self.config();
        if form.get("app_id") != Some(&cfg.app_id) {
            return Self::oauth_err(
                OAUTH_INVALID_APP,
                "Invalid appId",
                "app_id is missing or unknown",
            );
        }
        let secret = headers
            .get(SECRET_KEY_HEADER)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if !bool::from(subtle::ConstantTimeEq::ct_eq(
            secret.as_bytes(),
            cfg.app_secret.as_bytes(),
        )) {
            return Self::oauth_err(
                OAUTH_INVALID_SECRET,
                "Invalid secret key",
                "the secret_key header does not match the app",
            );
        }
        let now = now_ms();
        let mut st = self.st();
        match form.get("grant_type").map(String::as_str) {
            Some("authorization_code") => {
                let code = form.get("code").map(String::as_str).unwrap_or("");
                // Single use: the code is consumed by any attempt, successful or not.
                let Some(c) = st.codes.remove(code) else {
                    return Self::oauth_err(
                        OAUTH_INVALID_CODE,
                        "Invalid code",
                        "authorization code is unknown or already used",
                    );
                };
                if now - c.issued_ms > CODE_TTL_MS {
                    return Self::oauth_err(
                        OAUTH_INVALID_CODE,
                        "Invalid code",
                        "authorization code has expired (10 minutes)",
                    );
                }
                if let Some(ch) = c.challenge {
                    let ok = form
                        .get("code_verifier")
                        .is_some_and(|v| Pkce::challenge_for(v) == ch);
                    if !ok {
                        return Self::oauth_err(
                            OAUTH_INVALID_CODE,
                            "Invalid code verifier",
                            "code_verifier does not match the code_challenge",
                        );
                    }
                }
            }
            Some("refresh_token") => {
                let rt = form.get("refresh_token").map(String::as_str).unwrap_or("");
                let Some(r) = st
                    .refresh
                    .get_mut(rt)
                    .filter(|r| !r.used && r.expires_ms > now)
                else {
                    return Self::oauth_err(
                        OAUTH_INVALID_REFRESH,
                        "Invalid refresh token",
                        "refresh token is invalid, expired or already used",
                    );
                };
                r.used = true;
                let old_access = r.access.clone();
                if let Some(a) = st.access.get_mut(&old_access) {
                    a.revoked = true;
                }
            }
            _ => {
                return Self::oauth_err(
                    OAUTH_BAD_GRANT,
                    "Invalid grant_type",
                    "grant_type must be authorization_code or refresh_token",
                )
            }
        }
        let (access, refresh) = issue_pair(&mut st, cfg.access_token_ttl);
        Json(json!({"access_token": access, "refresh_token": refresh,
            "expires_in": cfg.access_token_ttl.as_secs().to_string()}))
        .into_response()
    }
}

fn issue_pair(st: &mut St, ttl: Duration) -> (String, String) {
    let now = now_ms();
    let access = new_id(48);
    let refresh = new_id(48);
    let ttl_ms = i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX / 2);
    st.access.insert(
        access.clone(),
        AccessState {
            expires_ms: now.saturating_add(ttl_ms),
            revoked: false,
        },
    );
    st.refresh.insert(
        refresh.clone(),
        RefreshState {
            access: access.clone(),
            used: false,
            expires_ms: now + REFRESH_TTL_MS,
        },
    );
    (access, refresh)
}

fn by_app_id(user_id: &str) -> String {
    // A stable app-scoped id derived from the OA-scoped one (digits only, like Zalo's).
    let h = sha2::Sha256::digest(user_id.as_bytes());
    let mut n = [0u8; 8];
    n.copy_from_slice(&h[..8]);
    format!(
        "{}",
        u64::from_be_bytes(n) % 9_000_000_000_000_000_000 + 1_000_000_000_000_000_000
    )
}

use sha2::Digest as _;

fn data_param(q: &HashMap<String, String>) -> Result<Value, (i64, String)> {
    let raw = q.get("data").ok_or_else(|| bad("data"))?;
    serde_json::from_str::<Value>(raw)
        .ok()
        .filter(Value::is_object)
        .ok_or_else(|| bad("data"))
}

// ---------------------------------------------------------------- handlers

async fn h_permission(
    State(sim): State<ZaloSim>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    sim.latency().await;
    let cfg = sim.config();
    if q.get("app_id") != Some(&cfg.app_id) {
        return ZaloSim::oauth_err(OAUTH_INVALID_APP, "Invalid appId", "");
    }
    let redirect = q.get("redirect_uri").map(String::as_str).unwrap_or("");
    let allowed = cfg.redirect_uri.as_deref().is_none_or(|r| r == redirect);
    let Some(mut target) = Url::parse(redirect).ok().filter(|_| allowed) else {
        return ZaloSim::oauth_err(OAUTH_INVALID_REDIRECT, "Invalid redirect uri", "");
    };
    let challenge = q
        .get("code_challenge")
        .map(String::as_str)
        .filter(|c| !c.is_empty());
    let code = sim.issue_code(challenge);
    {
        let mut qp = target.query_pairs_mut();
        qp.append_pair("code", &code)
            .append_pair("oa_id", &cfg.oa_id);
        if let Some(s) = q.get("state") {
            qp.append_pair("state", s);
        }
        if let Some(c) = challenge {
            qp.append_pair("code_challenge", c);
        }
    }
    (StatusCode::FOUND, [(header::LOCATION, target.to_string())]).into_response()
}

async fn h_access_token(State(sim): State<ZaloSim>, headers: HeaderMap, body: Bytes) -> Response {
    sim.latency().await;
    match sim.take_fault(PATH_ACCESS_TOKEN) {
        Some(Fault::Api { code, message }) => return ZaloSim::oauth_err(code, &message, &message),
        Some(Fault::HttpStatus(s)) => {
            return StatusCode::from_u16(s)
                .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
                .into_response()
        }
        None => {}
    }
    sim.do_token(&headers, &body)
}

async fn h_message_cs(State(sim): State<ZaloSim>, headers: HeaderMap, body: Bytes) -> Response {
    let remain = match sim.guard(PATH_MESSAGE_CS, &headers).await {
        Ok(r) => r,
        Err(resp) => return resp,
    };
    match sim.do_send_cs(&body) {
        Ok((data, echo)) => {
            // The echo is queued before the reply, so it may reach the receiver first, as on Zalo.
            sim.emit(echo).await;
            sim.respond(remain, Ok(data))
        }
        Err(e) => sim.respond(remain, Err(e)),
    }
}

async fn upload(
    sim: ZaloSim,
    path: &str,
    kind: AssetKind,
    headers: HeaderMap,
    mp: Result<Multipart, MultipartRejection>,
) -> Response {
    let remain = match sim.guard(path, &headers).await {
        Ok(r) => r,
        Err(resp) => return resp,
    };
    let res = sim.do_upload(kind, mp).await;
    sim.respond(remain, res)
}

async fn h_upload_image(
    State(sim): State<ZaloSim>,
    headers: HeaderMap,
    mp: Result<Multipart, MultipartRejection>,
) -> Response {
    upload(sim, PATH_UPLOAD_IMAGE, AssetKind::Image, headers, mp).await
}

async fn h_upload_gif(
    State(sim): State<ZaloSim>,
    headers: HeaderMap,
    mp: Result<Multipart, MultipartRejection>,
) -> Response {
    upload(sim, PATH_UPLOAD_GIF, AssetKind::Gif, headers, mp).await
}

async fn h_upload_file(
    State(sim): State<ZaloSim>,
    headers: HeaderMap,
    mp: Result<Multipart, MultipartRejection>,
) -> Response {
    upload(sim, PATH_UPLOAD_FILE, AssetKind::File, headers, mp).await
}

async fn h_user_detail(
    State(sim): State<ZaloSim>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let remain = match sim.guard(PATH_USER_DETAIL, &headers).await {
        Ok(r) => r,
        Err(resp) => return resp,
    };
    let res = data_param(&q).and_then(|d| sim.do_user_detail(&d));
    sim.respond(remain, res)
}

async fn h_getoa(State(sim): State<ZaloSim>, headers: HeaderMap) -> Response {
    let remain = match sim.guard(PATH_GETOA, &headers).await {
        Ok(r) => r,
        Err(resp) => return resp,
    };
    sim.respond(remain, sim.do_getoa())
}

async fn h_recent_chat(
    State(sim): State<ZaloSim>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let remain = match sim.guard(PATH_RECENT_CHAT, &headers).await {
        Ok(r) => r,
        Err(resp) => return resp,
    };
    let res = data_param(&q).and_then(|d| sim.do_history(&d, None));
    sim.respond(remain, res)
}

async fn h_conversation(
    State(sim): State<ZaloSim>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let remain = match sim.guard(PATH_CONVERSATION, &headers).await {
        Ok(r) => r,
        Err(resp) => return resp,
    };
    let res = data_param(&q).and_then(|d| {
        let user = str_of(d.get("user_id"))
            .filter(|s| !s.is_empty())
            .ok_or_else(|| bad("user_id"))?;
        sim.do_history(&d, Some(&user))
    });
    sim.respond(remain, res)
}

async fn h_media(State(sim): State<ZaloSim>, Path(id): Path<String>) -> Response {
    if let Some(Fault::HttpStatus(s)) = sim.take_fault(MEDIA_PATH) {
        return StatusCode::from_u16(s)
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
            .into_response();
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

// ---------------------------------------------------------------- control routes

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
    Follow,
    Unfollow,
}

fn b64(s: &str) -> Result<Bytes, String> {
    STANDARD
        .decode(s.trim())
        .map(Bytes::from)
        .map_err(|e| format!("data_base64 is not base64: {e}"))
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
            ActionDto::Link { url, title } => UserAction::Link { url, title },
            ActionDto::BusinessCard { name, phone } => UserAction::BusinessCard { name, phone },
            ActionDto::Reaction { msg_id, icon } => UserAction::Reaction { msg_id, icon },
            ActionDto::Follow => UserAction::Follow,
            ActionDto::Unfollow => UserAction::Unfollow,
        })
    }
}

async fn c_add_user(State(sim): State<ZaloSim>, Json(u): Json<SimUser>) -> Response {
    sim.add_user(u);
    Json(json!({"ok": true})).into_response()
}

async fn c_user_send(
    State(sim): State<ZaloSim>,
    Path(id): Path<String>,
    Json(a): Json<ActionDto>,
) -> Response {
    match a.into_action() {
        Ok(action) => Json(json!({"msg_id": sim.user_sends(&id, action).await})).into_response(),
        Err(msg) => (StatusCode::BAD_REQUEST, msg).into_response(),
    }
}

#[derive(Debug, Deserialize)]
struct StaffDto {
    admin_id: String,
    text: String,
}

async fn c_staff_send(
    State(sim): State<ZaloSim>,
    Path(id): Path<String>,
    Json(s): Json<StaffDto>,
) -> Response {
    Json(json!({"msg_id": sim.staff_sends_text(&id, &s.admin_id, &s.text).await})).into_response()
}

async fn c_sent(State(sim): State<ZaloSim>, Path(id): Path<String>) -> Response {
    Json(sim.sent_to(&id)).into_response()
}

#[derive(Debug, Deserialize)]
struct AtDto {
    at_ms: i64,
}

async fn c_last_interaction(
    State(sim): State<ZaloSim>,
    Path(id): Path<String>,
    Json(a): Json<AtDto>,
) -> Response {
    sim.set_last_interaction(&id, a.at_ms);
    Json(json!({"ok": true})).into_response()
}

#[derive(Debug, Deserialize)]
struct BlockedDto {
    blocked: bool,
}

async fn c_blocked(
    State(sim): State<ZaloSim>,
    Path(id): Path<String>,
    Json(b): Json<BlockedDto>,
) -> Response {
    sim.set_blocked(&id, b.blocked);
    Json(json!({"ok": true})).into_response()
}

#[derive(Debug, Default, Deserialize)]
struct CodeDto {
    #[serde(default)]
    code_challenge: Option<String>,
}

async fn c_code(State(sim): State<ZaloSim>, body: Bytes) -> Response {
    let dto: CodeDto = serde_json::from_slice(&body).unwrap_or_default();
    let code = sim.issue_code(dto.code_challenge.as_deref());
    Json(json!({"code": code, "oa_id": sim.config().oa_id})).into_response()
}

async fn c_tokens(State(sim): State<ZaloSim>) -> Response {
    let (access, refresh) = sim.issue_tokens();
    let ttl = sim.config().access_token_ttl.as_secs().to_string();
    Json(json!({"access_token": access, "refresh_token": refresh, "expires_in": ttl}))
        .into_response()
}

async fn c_expire_tokens(State(sim): State<ZaloSim>) -> Response {
    sim.expire_access_tokens();
    Json(json!({"ok": true})).into_response()
}

async fn c_expire_asset(State(sim): State<ZaloSim>, Path(id): Path<String>) -> Response {
    sim.expire_asset(&id);
    Json(json!({"ok": true})).into_response()
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

async fn c_faults(State(sim): State<ZaloSim>, Json(f): Json<FaultDto>) -> Response {
    sim.fail_next(&f.path, f.n, f.fault);
    Json(json!({"ok": true})).into_response()
}

#[derive(Debug, Deserialize)]
struct LatencyDto {
    ms: u64,
}

async fn c_latency(State(sim): State<ZaloSim>, Json(l): Json<LatencyDto>) -> Response {
    sim.set_latency(Duration::from_millis(l.ms));
    Json(json!({"ok": true})).into_response()
}

#[derive(Debug, Deserialize)]
struct WebhookDto {
    /// Absent: unchanged; `null`: no webhook; a string: the new URL.
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

async fn c_webhook(State(sim): State<ZaloSim>, Json(w): Json<WebhookDto>) -> Response {
    if let Some(url) = w.url {
        sim.set_webhook_url(url);
    }
    if let Some(r) = w.retry {
        lock(&sim.shared.cfg).webhook_retry = r;
    }
    if let Some(m) = w.mode {
        sim.set_webhook_mode(m);
    }
    Json(json!({"ok": true})).into_response()
}

async fn c_deliveries(State(sim): State<ZaloSim>) -> Response {
    Json(sim.deliveries()).into_response()
}

#[derive(Debug, Deserialize)]
struct WaitDto {
    #[serde(default = "default_wait")]
    timeout_ms: u64,
}

fn default_wait() -> u64 {
    5000
}

async fn c_wait(State(sim): State<ZaloSim>, body: Bytes) -> Response {
    let w: WaitDto = serde_json::from_slice(&body).unwrap_or(WaitDto {
        timeout_ms: default_wait(),
    });
    let idle = sim
        .wait_deliveries_idle(Duration::from_millis(w.timeout_ms.min(60_000)))
        .await;
    Json(json!({"idle": idle})).into_response()
}

async fn c_config(State(sim): State<ZaloSim>) -> Response {
    // The sandbox's own test secrets: an integrator needs them to configure a receiver.
    let c = sim.config();
    Json(json!({
        "app_id": c.app_id, "app_secret": c.app_secret, "oa_id": c.oa_id, "oa_name": c.oa_name,
        "oa_secret_key": c.oa_secret_key, "redirect_uri": c.redirect_uri, "webhook_url": c.webhook_url,
        "time_scale": c.time_scale, "webhook_retry": c.webhook_retry, "accept_txt_upload": c.accept_txt_upload,
        "rate_limit_per_minute": c.rate_limit_per_minute, "access_token_ttl_secs": c.access_token_ttl.as_secs(),
        "base_url": sim.base_url().as_str(),
    }))
    .into_response()
}
