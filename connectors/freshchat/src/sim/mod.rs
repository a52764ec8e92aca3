//! An in-process Freshchat simulator (feature `sim`): an independent model of the v2 API and its
//! conversation webhooks, written from the reference (Part A binding) and the real-world samples,
//! never from this crate's client. It shares no types, constants, signer or readers with the
//! client: it reads requests as JSON, answers JSON it builds itself and signs webhooks itself, so a
//! client that misreads Freshchat fails against it.
//!
//! [`FreshchatSim::start`] serves the API on a listener you bind (tests use `127.0.0.1:0`) and an
//! anonymous "CDN" on a second listener, where images are hosted (files stay on the API host,
//! behind the Bearer key). The API is as strict as Freshchat where the reference says how:
//! Bearer auth, `{code,status,message}` errors, 201 on creates, one known key per message part,
//! images with a usable `url`, the latest-conversation rule, conversation `properties` as an
//! object, upload caps. It plays the agents' and bots' side ([`FreshchatSim::agent_sends`] and
//! friends, or the `/sim` control routes), and delivers every message (API posts included),
//! resolution, reopening and assignment as a signed webhook in the shape Freshchat really sends
//! (2022 by default), per conversation in order and across conversations in parallel, with
//! retries. Faults (scripted, random, rate limits, latency, hangs) and webhook modes (duplicate,
//! reorder) can be injected. State lives in memory; loopback only.
//!
//! Failures: [`FreshchatSim::start`] fails only when the listeners or the RSA key cannot be set
//! up; the Rust methods that act on the account answer [`SimError`] for unknown ids or refused
//! operations; HTTP callers get Freshchat's error bodies.
//!
//! # Layout
//!
//! - `state`: the account (users, conversations, messages, uploads) and the conversation rules.
//! - `api`: the `/v2` routes; `uploads`: uploads and attachment hosting (API host and CDN).
//! - `shapes`: the JSON of answers and webhook bodies; [`parts`]: message-part builders and checks.
//! - `delivery`: signing and webhook delivery; `gate`: auth, faults, rate limit, latency.
//! - `agents`: what simulated agents and bots do; `control`: the `/sim` routes.
//! - `restore`: an earlier run's users and conversations put back (a store kept across an upgrade).
//! - `wire`: the simulator's own header, path and event names.

mod agents;
mod api;
mod control;
mod delivery;
mod gate;
pub mod parts;
mod restore;
mod rules;
mod shapes;
mod state;
mod uploads;
mod wire;

use std::fmt;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio_util::sync::CancellationToken;
use url::Url;

pub use agents::AgentMessage;
pub use gate::{Fault, FaultStats, RandomFaults};
pub use parts::Card;

use state::{Knobs, SimState};
use wire::ApiErr;

/// Payload version sent in `X-Freshchat-Payload-Version`.
pub const PAYLOAD_VERSION: &str = "1.0";
/// Default for [`SimConfig::webhook_timeout`].
pub const WEBHOOK_TIMEOUT: Duration = Duration::from_secs(5);
/// Capacity of the webhook delivery queue: webhooks queued, held, in flight or waiting for a retry.
/// A call whose events push the count past it waits (before answering) until there is room again.
pub const WEBHOOK_QUEUE: usize = 4096;
/// Default for [`SimConfig::max_parallel_deliveries`].
pub const DEFAULT_PARALLEL_DELIVERIES: usize = 64;
/// How long [`WebhookMode::Reorder`] holds a webhook waiting for the next one of its conversation.
pub const REORDER_HOLD: Duration = Duration::from_millis(100);

/// Simulator settings. `Debug` leaves the API key out.
#[derive(Clone)]
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
    /// How long a webhook receiver has to answer (default [`WEBHOOK_TIMEOUT`]).
    pub webhook_timeout: Duration,
    /// Requests per minute before 429 (`None`: unlimited).
    pub rate_limit_per_minute: Option<u32>,
    /// Image upload cap (10 MB).
    pub max_image_bytes: u64,
    /// File upload cap (25 MB).
    pub max_file_bytes: u64,
    /// Webhook requests in flight at once, across conversations (default 64; 0 counts as 1). One
    /// conversation never has more than one.
    pub max_parallel_deliveries: usize,
    /// Webhook body generation (default [`WebhookShape::V2022`]).
    pub webhook_shape: WebhookShape,
    /// How agents' file parts appear in webhooks (default [`FileLinks::Url`]).
    pub file_links: FileLinks,
    /// `Some(names)`: the account defines only these custom user properties and refuses others
    /// with a 400 naming the property (an account where `external_user_provider` was never
    /// created). `None` (default): any name is accepted.
    pub defined_user_properties: Option<Vec<String>>,
    /// A seeded random fault rate from the start (default none).
    pub random_faults: Option<RandomFaults>,
    /// How long a hanging call ([`Fault::Hang`]) waits before answering 504 (default 60 s).
    pub hang_for: Duration,
    /// Agent groups as (id, name), listed by `GET /v2/groups` and accepted as
    /// `assigned_group_id` (default one group, "Support").
    pub groups: Vec<(String, String)>,
}

impl fmt::Debug for SimConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SimConfig")
            .field("app_id", &self.app_id)
            .field("channels", &self.channels)
            .field("webhook_url", &self.webhook_url)
            .field("retry_delays", &self.retry_delays)
            .field("rate_limit_per_minute", &self.rate_limit_per_minute)
            .field("webhook_shape", &self.webhook_shape)
            .field("file_links", &self.file_links)
            .finish_non_exhaustive()
    }
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
            webhook_timeout: WEBHOOK_TIMEOUT,
            rate_limit_per_minute: None,
            max_image_bytes: 10 * 1024 * 1024,
            max_file_bytes: 25 * 1024 * 1024,
            max_parallel_deliveries: DEFAULT_PARALLEL_DELIVERIES,
            webhook_shape: WebhookShape::default(),
            file_links: FileLinks::default(),
            defined_user_properties: None,
            random_faults: None,
            hang_for: Duration::from_secs(60),
            groups: vec![(
                "f8552a49-e96d-400f-bea0-add54b5ba6fc".into(),
                "Support".into(),
            )],
        }
    }
}

/// How webhooks are delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
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

/// Which generation of webhook bodies is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
pub enum WebhookShape {
    /// The current (2022) shape: no `message_type` on normal messages (private notes keep
    /// `"private"`), `restrictResponse` / `botsPrivateNote` beside snake_case keys,
    /// `freshchat_conversation_id` / `freshchat_channel_id`, `skill_id` / `sla_*` in conversations,
    /// the user in `conversation_resolution`.
    #[default]
    #[serde(rename = "2022")]
    V2022,
    /// The 2021 shape: `message_type:"normal"`, `message_source`, `org_actor_id`; no camelCase
    /// flags (except a bot note's `botsPrivateNote: true`), no `skill_id` / `sla_*`.
    #[serde(rename = "2021")]
    V2021,
}

/// How an agent's file part appears in its `message_create` webhook.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FileLinks {
    /// With its `url`, as stored.
    #[default]
    Url,
    /// Without `url`, with a `download_url` instead; re-reading the message through the API gives
    /// the `url`.
    DownloadUrlOnly,
}

/// One delivery attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeliveryRecord {
    /// Event action.
    pub action: String,
    /// The event's dedupe key (message id, or `action:conversation:action_time`).
    pub dedupe_key: String,
    /// The conversation the event is about.
    pub conversation_id: Option<String>,
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
    /// The operation is not allowed in this state, or its input is not what Freshchat accepts.
    #[error("invalid: {0}")]
    Invalid(String),
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

/// A running simulator. Cheap to clone.
#[derive(Clone)]
pub struct FreshchatSim {
    inner: Arc<Inner>,
}

impl fmt::Debug for FreshchatSim {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FreshchatSim")
            .field("base_url", &self.inner.base.as_str())
            .field("cdn_url", &self.inner.cdn.as_str())
            .finish_non_exhaustive()
    }
}

struct Inner {
    cfg: SimConfig,
    base: Url,
    cdn: Url,
    state: Mutex<SimState>,
    gate: Mutex<gate::GateState>,
    signer: delivery::Signer,
    delivery: delivery::Runtime,
    shutdown: CancellationToken,
    /// Requests that reached the CDN carrying an `Authorization` header (the key sent off-host).
    cdn_auth_refusals: AtomicU64,
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, SimState> {
        // A panic while holding the lock leaves plain data behind; keep serving.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn gate(&self) -> MutexGuard<'_, gate::GateState> {
        self.gate
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Back-pressure of the bounded webhook queue: a call's events are queued when they happen;
    /// the call then waits here, before answering, while the queue is over capacity.
    async fn wait_for_room(&self) {
        loop {
            let room = self.delivery.room.notified();
            tokio::pin!(room);
            room.as_mut().enable();
            if self.lock().outbox.pending <= WEBHOOK_QUEUE {
                return;
            }
            tokio::select! {
                () = room => {}
                () = self.shutdown.cancelled() => return,
            }
        }
    }
}

impl FreshchatSim {
    /// Starts the simulator: the API on `listener`, the CDN on a new listener on the same address.
    pub async fn start(
        listener: tokio::net::TcpListener,
        cfg: SimConfig,
    ) -> std::io::Result<FreshchatSim> {
        let ip = listener.local_addr()?.ip();
        let cdn = tokio::net::TcpListener::bind((ip, 0)).await?;
        Self::start_with_cdn(listener, cdn, cfg).await
    }

    /// Starts the simulator with the API on `api` and the anonymous CDN on `cdn`.
    pub async fn start_with_cdn(
        api: tokio::net::TcpListener,
        cdn: tokio::net::TcpListener,
        cfg: SimConfig,
    ) -> std::io::Result<FreshchatSim> {
        let base =
            Url::parse(&format!("http://{}", api.local_addr()?)).map_err(std::io::Error::other)?;
        let cdn_base =
            Url::parse(&format!("http://{}", cdn.local_addr()?)).map_err(std::io::Error::other)?;
        let signer = delivery::Signer::generate()?;
        let runtime = delivery::Runtime::new(cfg.max_parallel_deliveries, cfg.webhook_timeout)?;
        let outbox = delivery::Outbox::new(runtime.wake.clone(), cfg.webhook_url.clone());
        let knobs = Knobs {
            shape: cfg.webhook_shape,
            file_links: cfg.file_links,
            defined_properties: cfg
                .defined_user_properties
                .as_ref()
                .map(|v| v.iter().cloned().collect()),
        };
        let state = SimState::new(
            cfg.app_id.clone(),
            base.as_str().trim_end_matches('/').to_owned(),
            cdn_base.as_str().trim_end_matches('/').to_owned(),
            &cfg.channels,
            &cfg.groups,
            knobs,
            outbox,
        );
        let gate = gate::GateState::new(cfg.rate_limit_per_minute, cfg.random_faults);
        let inner = Arc::new(Inner {
            cfg,
            base,
            cdn: cdn_base,
            state: Mutex::new(state),
            gate: Mutex::new(gate),
            signer,
            delivery: runtime,
            shutdown: CancellationToken::new(),
            cdn_auth_refusals: AtomicU64::new(0),
        });
        tokio::spawn(delivery::dispatcher(inner.clone()));
        let app = api::router(inner.clone()).merge(control::router(inner.clone()));
        serve(api, app.with_state(inner.clone()), inner.shutdown.clone());
        serve(
            cdn,
            uploads::cdn_router().with_state(inner.clone()),
            inner.shutdown.clone(),
        );
        Ok(FreshchatSim { inner })
    }

    /// Stops both listeners and webhook delivery (webhooks not yet delivered are dropped).
    pub fn shutdown(&self) {
        self.inner.shutdown.cancel();
    }

    /// Scheme+host of the API (the client appends `/v2`); control routes live under `/sim`.
    pub fn base_url(&self) -> Url {
        self.inner.base.clone()
    }

    /// Scheme+host of the anonymous CDN that hosts images, as its links name it (see
    /// [`FreshchatSim::set_cdn_host`]).
    pub fn cdn_url(&self) -> Url {
        let base = self.inner.lock().cdn_base.clone();
        Url::parse(&base).unwrap_or_else(|_| self.inner.cdn.clone())
    }

    /// The CDN's own address (where a name given to [`FreshchatSim::set_cdn_host`] must resolve).
    pub fn cdn_addr(&self) -> Url {
        self.inner.cdn.clone()
    }

    /// Names the CDN by a storage host from now on, as Freshchat's links do: account media live in
    /// S3 buckets named after the data centre, e.g. `fc-use1-00-pics-bkt-00.s3.amazonaws.com`
    /// (US) or `fc-euc1-00-pics-bkt-00.s3.eu-central-1.amazonaws.com` (EU). New image links are
    /// `http://<host>:<CDN port>/…`; whoever fetches them resolves `host` to the CDN's address.
    /// The CDN then answers to that name (and to its address); a request naming another host gets
    /// S3's `NoSuchBucket`. Links given out before keep working.
    pub fn set_cdn_host(&self, host: &str) -> Result<(), SimError> {
        let host = host.trim().trim_end_matches('.');
        let port = self.inner.cdn.port().unwrap_or(80);
        let base = format!("http://{host}:{port}");
        let parsed = Url::parse(&base).map_err(|e| SimError::Invalid(format!("{host}: {e}")))?;
        if parsed.host_str() != Some(host.to_ascii_lowercase().as_str()) {
            return Err(SimError::Invalid(format!("{host} is not a host name")));
        }
        self.inner.lock().set_cdn_base(base, Some(host));
        Ok(())
    }

    /// The configured API key.
    pub fn api_key(&self) -> &str {
        &self.inner.cfg.api_key
    }

    /// The account's app id.
    pub fn app_id(&self) -> &str {
        &self.inner.cfg.app_id
    }

    /// The webhook public key as Freshchat shows it: `RSA PUBLIC KEY` armour around SPKI DER
    /// (not PKCS#1, the real quirk), in 64-character lines.
    pub fn public_key_pem(&self) -> String {
        let b64 = &self.inner.signer.spki_b64;
        let lines: Vec<&str> = b64
            .as_bytes()
            .chunks(64)
            .filter_map(|c| std::str::from_utf8(c).ok())
            .collect();
        format!(
            "-----BEGIN RSA PUBLIC KEY-----\n{}\n-----END RSA PUBLIC KEY-----\n",
            lines.join("\n")
        )
    }

    /// The same key pasted on one line, as operators often do.
    pub fn public_key_pem_one_line(&self) -> String {
        format!(
            "-----BEGIN RSA PUBLIC KEY----- {} -----END RSA PUBLIC KEY-----",
            self.inner.signer.spki_b64
        )
    }

    /// The public key as SPKI DER, for independent verification.
    pub fn public_key_spki_der(&self) -> Vec<u8> {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD
            .decode(&self.inner.signer.spki_b64)
            .unwrap_or_default()
    }

    /// Sets or clears the webhook URL.
    pub fn set_webhook_url(&self, url: Option<String>) {
        self.inner.lock().outbox.url = url;
    }

    /// Changes how webhooks are delivered.
    pub fn set_webhook_mode(&self, mode: WebhookMode) {
        self.inner.lock().outbox.mode = mode;
    }

    /// Changes the generation of webhook bodies for events from now on.
    pub fn set_webhook_shape(&self, shape: WebhookShape) {
        self.inner.lock().knobs.shape = shape;
    }

    /// Changes how agents' file parts appear in webhooks from now on.
    pub fn set_file_links(&self, links: FileLinks) {
        self.inner.lock().knobs.file_links = links;
    }

    /// `Some(names)`: only these custom user properties exist (others are refused); `None`: any.
    pub fn set_defined_user_properties(&self, names: Option<Vec<String>>) {
        self.inner.lock().knobs.defined_properties = names.map(|v| v.into_iter().collect());
    }

    /// Replaces the account's agent groups, as (id, name).
    pub fn set_groups(&self, groups: Vec<(String, String)>) {
        self.inner.lock().groups = groups;
    }

    /// All users as `GET /v2/users/{id}` returns them, in creation order.
    pub fn users(&self) -> Vec<Value> {
        let st = self.inner.lock();
        st.user_order
            .iter()
            .filter_map(|id| st.users.get(id))
            .map(shapes::user)
            .collect()
    }

    /// All conversations as `GET /v2/conversations/{id}` returns them, in creation order.
    pub fn conversations(&self) -> Vec<Value> {
        let st = self.inner.lock();
        st.conv_order
            .iter()
            .filter_map(|id| st.convs.get(id))
            .map(|c| shapes::conversation(&st, c))
            .collect()
    }

    /// A conversation's messages as the API returns them (system notices included), oldest first.
    pub fn messages(&self, conversation_id: &str) -> Vec<Value> {
        let st = self.inner.lock();
        let Ok(c) = st.conv(conversation_id) else {
            return Vec::new();
        };
        let ch = st.channel(&c.channel_id);
        c.messages
            .iter()
            .map(|m| shapes::message(&st, c, ch, m))
            .collect()
    }

    /// Every delivery attempt so far (the most recent 200,000).
    pub fn deliveries(&self) -> Vec<DeliveryRecord> {
        self.inner.lock().outbox.records.iter().cloned().collect()
    }

    /// How many requests reached the CDN carrying an `Authorization` header (refused there): a
    /// client that sends the API key off the API host shows up here.
    pub fn cdn_requests_with_credentials(&self) -> u64 {
        self.inner
            .cdn_auth_refusals
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Waits until no webhook is queued, held, in flight or waiting for a retry, in any
    /// conversation. False on timeout.
    pub async fn wait_deliveries_idle(&self, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let room = self.inner.delivery.room.notified();
            tokio::pin!(room);
            room.as_mut().enable();
            if self.inner.lock().outbox.pending == 0 {
                return true;
            }
            // Reorder holds end without a notification: look again now and then.
            let tick = tokio::time::sleep(Duration::from_millis(20));
            tokio::select! {
                () = room => {}
                () = tick => {}
                () = tokio::time::sleep_until(deadline) => {
                    return self.inner.lock().outbox.pending == 0;
                }
            }
        }
    }
}

fn serve(listener: tokio::net::TcpListener, app: axum::Router, token: CancellationToken) {
    tokio::spawn(async move {
        let serve = axum::serve(listener, app)
            .with_graceful_shutdown(async move { token.cancelled().await });
        if let Err(e) = serve.await {
            tracing::warn!(error = %e, "the Freshchat simulator stopped serving");
        }
    });
}
