//! An in-process simulator of the Zalo OA platform (feature `sim`): an independent witness written
//! from the team's Zalo reference (Part A binding) and the real-world samples, never from the client.
//! It reads requests as JSON, answers JSON it builds itself, signs webhooks and checks PKCE itself,
//! and shares no type, constant or reader with the client.
//!
//! It serves two hosts, as Zalo does: OAuth (`/v4/oa/permission`, `/v4/oa/access_token`) on one
//! listener, the OpenAPI (`/v2.0/...`, `/v3.0/...`), served media and the `/sim/...` control routes
//! on another; a client that mixes the bases gets Zalo's "empty API" 404 bodies. It is as strict as
//! Zalo (header token, `data=` queries, string ids, limits, windows, single-use codes and refresh
//! tokens, rate limit, asset expiry, quota) and plays the people: users ([`UserAction`]), anonymous
//! visitors ([`AnonymousAction`]) and OA staff in Zalo's chat tool ([`StaffAction`]), with signed
//! webhook delivery on Zalo's retry ladder.
//!
//! # Layout
//! - `config` / `actions`: public settings, faults, records; what people do.
//! - `wire`: paths, headers, codes, limits, envelopes, strict readers, ids, signature, PKCE.
//! - `state`: users, history and its indexes, tokens, assets; `quota`: which allowance pays.
//! - `openapi` (dispatch and reads), `messages` (sends), `templates` (ZBS template sends),
//!   `uploads`; `oauth` (the OAuth host).
//! - `anonymous` (sends to chat-widget visitors), `groups` (group-chat and call events).
//! - `events` (webhook bodies), `webhooks` (signing and delivery), `users` (people's actions).
//! - `tags` (the OA's tags, their calls and events, and the OA console's tagging).
//! - `faults` (injected failures), `control` (`/sim/...` routes).
//!
//! Failure behaviour: every request gets Zalo's answer (malformed ones a Zalo-style error), except
//! where a fault says otherwise; nothing panics on input. Webhook failures are recorded in
//! [`ZaloSim::deliveries`] and retried on the ladder divided by [`SimConfig::time_scale`].

mod actions;
mod anonymous;
mod config;
mod control;
mod events;
mod faults;
mod groups;
mod messages;
mod oauth;
mod openapi;
mod quota;
mod state;
mod tags;
mod templates;
mod uploads;
mod users;
mod webhooks;
mod wire;

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use secrecy::SecretString;
use tokio_util::sync::CancellationToken;
use url::Url;

pub use actions::{AnonymousAction, ListItem, SimUser, StaffAction, SubmittedInfo, UserAction};
pub use config::{
    DeliveryRecord, Fault, OutOfReplies, OwnerQuota, QuotaState, RandomFaults, ReplyModel,
    SentRecord, SimConfig, SubQuota, WebhookMode,
};
pub use groups::{CallEvent, GroupSender};
pub use templates::SimTemplate;
pub use webhooks::{DELIVERY_CONCURRENCY, QUEUE_CAPACITY, REORDER_HOLD};
pub use wire::RETRY_LADDER;

use state::{AssetKind, St, UserState};

/// What all handles of one simulator share.
#[derive(Debug)]
struct Core {
    api_base: Url,
    oauth_base: Url,
    /// The CDN host name media links carry instead of the API's address (see
    /// [`ZaloSim::set_media_host`]).
    media_host: Mutex<Option<String>>,
    cfg: Mutex<SimConfig>,
    st: Mutex<St>,
    /// Added to the wall clock: lets tests move time forward (codes, tokens, windows, assets).
    clock_offset_ms: AtomicI64,
    cancel: CancellationToken,
    hooks: webhooks::Engine,
}

/// The simulator. Cheap to clone; all clones drive the same servers.
#[derive(Clone)]
pub struct ZaloSim {
    core: Arc<Core>,
}

impl std::fmt::Debug for ZaloSim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ZaloSim")
            .field("api_base", &self.core.api_base.as_str())
            .field("oauth_base", &self.core.oauth_base.as_str())
            .finish_non_exhaustive()
    }
}

/// Locks a mutex, ignoring poisoning (the state stays usable after a panicked test thread).
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn base_of(l: &tokio::net::TcpListener) -> std::io::Result<Url> {
    let addr = l.local_addr()?;
    Url::parse(&format!("http://{addr}/"))
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))
}

impl ZaloSim {
    /// Starts the OpenAPI server on `api` (also serving media and `/sim/...`), the OAuth server on
    /// `oauth`, and the webhook worker; returns at once. Bind port 0 in tests.
    pub async fn start(
        api: tokio::net::TcpListener,
        oauth: tokio::net::TcpListener,
        cfg: SimConfig,
    ) -> std::io::Result<ZaloSim> {
        let mut st = St::default();
        st.oas.insert(cfg.oa_id.clone(), cfg.oa_name.clone());
        let core = Core {
            api_base: base_of(&api)?,
            oauth_base: base_of(&oauth)?,
            media_host: Mutex::new(None),
            cfg: Mutex::new(cfg),
            st: Mutex::new(st),
            clock_offset_ms: AtomicI64::new(0),
            cancel: CancellationToken::new(),
            hooks: webhooks::Engine::new()?,
        };
        let sim = ZaloSim {
            core: Arc::new(core),
        };
        {
            let now = sim.now_ms();
            let mut st = sim.st();
            st.assets.insert(
                openapi::OA_AVATAR.into(),
                state::Asset {
                    kind: AssetKind::Media,
                    filename: "avatar.png".into(),
                    content_type: "image/png".into(),
                    bytes: Bytes::from_static(users::TINY_PNG),
                    created_ms: now,
                },
            );
        }
        tokio::spawn(sim.clone().delivery_worker());
        for (listener, app) in [
            (api, openapi::router(sim.clone())),
            (oauth, oauth::router(sim.clone())),
        ] {
            let cancel = sim.core.cancel.clone();
            tokio::spawn(async move {
                let server =
                    axum::serve(listener, app).with_graceful_shutdown(cancel.cancelled_owned());
                if let Err(e) = server.await {
                    tracing::warn!(error = %e, "Zalo simulator server stopped");
                }
            });
        }
        Ok(sim)
    }

    /// Stops both servers, the webhook worker and pending retries.
    pub fn shutdown(&self) {
        self.core.cancel.cancel();
    }

    /// Base URL of the OpenAPI host (also media and `/sim/...`), like `https://openapi.zalo.me/`.
    pub fn api_base(&self) -> Url {
        self.core.api_base.clone()
    }

    /// Names media links by a CDN host from now on, as Zalo's do (photos on
    /// `f6.photo.talk.zdn.vn`, files on `f7-group-zf.zdn.vn`, stickers on `zalo-api.zadn.vn`):
    /// links become `http://<host>:<API port>/sim/media/…`, and whoever fetches them resolves
    /// `host` to the API's address. `None`: the API's address again. Links given out before keep
    /// working (media are served whatever the name).
    pub fn set_media_host(&self, host: Option<&str>) {
        *lock(&self.core.media_host) = host.map(|h| h.trim().trim_end_matches('.').to_owned());
    }

    /// Base URL of the OAuth host, like `https://oauth.zaloapp.com/`.
    pub fn oauth_base(&self) -> Url {
        self.core.oauth_base.clone()
    }

    /// Current configuration.
    pub fn config(&self) -> SimConfig {
        lock(&self.core.cfg).clone()
    }

    /// The OA Secret Key that signs webhooks.
    pub fn oa_secret_key(&self) -> SecretString {
        SecretString::from(lock(&self.core.cfg).oa_secret_key.clone())
    }

    fn st(&self) -> MutexGuard<'_, St> {
        lock(&self.core.st)
    }

    /// The simulator's clock (epoch ms): the wall clock plus [`ZaloSim::advance_clock`] less
    /// [`ZaloSim::rewind_clock`].
    pub fn now_ms(&self) -> i64 {
        chrono::Utc::now().timestamp_millis() + self.core.clock_offset_ms.load(Ordering::SeqCst)
    }

    /// Moves the simulator's clock forward: codes, tokens, windows, quota frames and assets age.
    pub fn advance_clock(&self, by: Duration) {
        let ms = i64::try_from(by.as_millis()).unwrap_or(i64::MAX / 4);
        self.core.clock_offset_ms.fetch_add(ms, Ordering::SeqCst);
    }

    /// Moves the simulator's clock back, so that what users do next happens in the past (their
    /// events carry that time, their window opens then); [`ZaloSim::advance_clock`] by the same
    /// amount brings the clock back to the present. Tokens and codes issued meanwhile age from then.
    pub fn rewind_clock(&self, by: Duration) {
        let ms = i64::try_from(by.as_millis()).unwrap_or(i64::MAX / 4);
        self.core.clock_offset_ms.fetch_sub(ms, Ordering::SeqCst);
    }

    /// Switches how replies within 48 h are priced (Zalo's 2026 rules or the earlier count).
    pub fn set_reply_model(&self, model: ReplyModel) {
        lock(&self.core.cfg).reply_model = model;
    }

    // ---------------------------------------------------------------- webhooks

    /// Where webhooks go (`None`: nowhere). Setting a URL also re-enables a webhook Zalo disabled.
    pub fn set_webhook_url(&self, url: Option<String>) {
        let enable = url.is_some();
        lock(&self.core.cfg).webhook_url = url;
        if enable {
            self.enable_hooks();
        }
    }

    /// Whether Zalo disabled the webhook after an event exhausted the retry ladder.
    pub fn webhook_disabled(&self) -> bool {
        self.hooks_disabled()
    }

    /// Changes the delivery mode; leaving [`WebhookMode::Reorder`] releases held events (reversed).
    pub fn set_webhook_mode(&self, mode: WebhookMode) {
        self.change_mode(mode);
    }

    /// Turns "Webhook Retry" on or off.
    pub fn set_webhook_retry(&self, retry: bool) {
        lock(&self.core.cfg).webhook_retry = retry;
    }

    /// Webhook attempts so far, in order.
    pub fn deliveries(&self) -> Vec<DeliveryRecord> {
        self.delivery_log()
    }

    /// Waits until no webhook is queued, held, in flight or waiting for a retry; false on timeout.
    pub async fn wait_deliveries_idle(&self, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if self.hooks_pending() == 0 {
                return true;
            }
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    // ---------------------------------------------------------------- people

    /// Adds (or replaces) a user, keeping what they did before.
    pub fn add_user(&self, user: SimUser) {
        let app_id = lock(&self.core.cfg).app_id.clone();
        let mut st = self.st();
        let mut fresh = UserState::new(user, &app_id);
        if let Some(prev) = st.users.remove(&fresh.user.user_id) {
            fresh = UserState {
                user: fresh.user,
                ..prev
            };
        }
        st.users.insert(fresh.user.user_id.clone(), fresh);
    }

    /// A user blocks (or unblocks) the OA: sends fail with -217.
    pub fn set_blocked(&self, user_id: &str, blocked: bool) {
        if let Some(u) = self.st().users.get_mut(user_id) {
            u.blocked = blocked;
        }
    }

    /// Sets when a user last interacted (epoch ms), as if they wrote then: opens (or, in the past,
    /// closes) the 7-day window and starts a new free-reply frame.
    pub fn set_last_interaction(&self, user_id: &str, at_ms: i64) {
        if let Some(u) = self.st().users.get_mut(user_id) {
            u.last_interaction_ms = Some(at_ms);
            u.replies_used = 0;
            u.has_written = true;
        }
    }

    /// Makes `user/detail` refuse this user with `code` (-213 not a follower, -212 API not
    /// registered, ...); `None` serves the profile again. History still carries the name.
    pub fn set_profile_refused(&self, user_id: &str, code: Option<i64>) {
        if let Some(u) = self.st().users.get_mut(user_id) {
            u.profile_refusal = code;
        }
    }

    /// A user acts. Returns the event's `msg_id` for messages, the reacted message for reactions,
    /// "" for other events. Unknown users are created (non-followers named "Zalo user `<id>`").
    pub async fn user_sends(&self, user_id: &str, action: UserAction) -> String {
        self.act(user_id, action).await
    }

    /// An anonymous chat-widget visitor (a 20-hex id, see [`ZaloSim::new_anonymous_id`]) sends
    /// something; returns its `msg_id`. The visitor's `conversation_id` is stable.
    pub async fn anonymous_sends(&self, anonymous_id: &str, action: AnonymousAction) -> String {
        self.anonymous_act(anonymous_id, action).await
    }

    /// The stable `conversation_id` of an anonymous visitor's chat (fixed before their first send).
    pub fn anonymous_conversation_id(&self, anonymous_id: &str) -> String {
        self.st()
            .anonymous
            .entry(anonymous_id.to_owned())
            .or_insert_with(|| wire::derived_hex(&format!("conversation:{anonymous_id}")))
            .clone()
    }

    /// A fresh anonymous visitor id (20 hex characters, like Zalo's).
    pub fn new_anonymous_id() -> String {
        wire::new_anonymous_id()
    }

    /// OA staff reply from Zalo's own chat tool: `oa_send_text` with `sender.admin_id`.
    pub async fn staff_sends_text(&self, user_id: &str, admin_id: &str, text: &str) -> String {
        self.staff_act(user_id, admin_id, StaffAction::Text(text.to_owned()))
            .await
    }

    /// OA staff send anything Zalo's chat tool can (text, image, file, list, template).
    pub async fn staff_sends(&self, user_id: &str, admin_id: &str, action: StaffAction) -> String {
        self.staff_act(user_id, admin_id, action).await
    }

    /// Adds past text messages `(from_user, text, time_ms)` to a user's conversation without
    /// webhooks (for catch-up and backfill tests); returns their message ids.
    pub fn seed_history(&self, user_id: &str, messages: &[(bool, &str, i64)]) -> Vec<String> {
        self.seed(user_id, messages)
    }

    // ---------------------------------------------------------------- inspection

    /// What the OA sent a user through the OpenAPI, oldest first (staff sends are not included).
    pub fn sent_to(&self, user_id: &str) -> Vec<SentRecord> {
        self.st().sent.get(user_id).cloned().unwrap_or_default()
    }

    /// Every OpenAPI call the simulator answered, oldest first: the path and its `data` query (the
    /// user of a `user/detail` call), e.g. `/v3.0/oa/user/detail {"user_id":"…"}`.
    pub fn api_calls(&self) -> Vec<String> {
        self.st().calls.clone()
    }

    /// A user's sending allowance as the simulator counts it.
    pub fn quota(&self, user_id: &str) -> Option<QuotaState> {
        let cfg = self.config();
        let now = self.now_ms();
        quota::state_of(&self.st(), user_id, &cfg, now)
    }

    /// An uploaded asset (or served media) by id or token: (file name, bytes).
    pub fn uploaded(&self, id_or_token: &str) -> Option<(String, Bytes)> {
        self.st()
            .assets
            .get(id_or_token)
            .map(|a| (a.filename.clone(), a.bytes.clone()))
    }

    /// Ages an uploaded asset past its 7-day lifetime (-100 when used).
    pub fn expire_asset(&self, id_or_token: &str) {
        let now = self.now_ms();
        if let Some(a) = self.st().assets.get_mut(id_or_token) {
            a.created_ms = now - wire::ASSET_TTL_MS - 1;
        }
    }

    /// Messages kept in the history, all conversations.
    pub fn message_count(&self) -> u64 {
        self.st().message_count()
    }

    // ---------------------------------------------------------------- OAuth

    /// An authorization code for the approving OA, as if its admin pressed "Allow" (single use,
    /// 10 minutes), bound to `code_challenge` when given.
    pub fn issue_code(&self, code_challenge: Option<&str>) -> String {
        let oa = self.approving_oa();
        self.new_code(&oa, code_challenge)
    }

    /// From now on consents are approved by the admin of `oa_id` (e.g. an attacker's OA); the
    /// configured OA id restores the default. Tokens then speak for that OA (`getoa` says so).
    pub fn approve_as(&self, oa_id: &str) {
        let main = lock(&self.core.cfg).oa_id.clone();
        let mut st = self.st();
        st.oas
            .entry(oa_id.to_owned())
            .or_insert_with(|| format!("OA {oa_id}"));
        st.consent_oa = (oa_id != main).then(|| oa_id.to_owned());
    }

    /// The query parameters of every `/v4/oa/permission` request so far.
    pub fn permission_requests(&self) -> Vec<Vec<(String, String)>> {
        self.st().permission_requests.clone()
    }

    /// A fresh (access, refresh) pair for the configured OA, as Zalo's API Explorer hands out.
    pub fn issue_tokens(&self) -> (String, String) {
        let (oa, ttl) = {
            let c = lock(&self.core.cfg);
            (c.oa_id.clone(), c.access_token_ttl)
        };
        let now = self.now_ms();
        self.st().issue_pair(&oa, ttl, now)
    }

    /// Takes back a pair this Zalo issued in an earlier run (a store kept across an upgrade holds
    /// it): valid from now as a fresh pair is, the access token for the configured TTL and the
    /// refresh token, single use, for three months.
    pub fn restore_tokens(&self, access_token: &str, refresh_token: &str) {
        let (oa, ttl) = {
            let c = lock(&self.core.cfg);
            (c.oa_id.clone(), c.access_token_ttl)
        };
        let now = self.now_ms();
        self.st()
            .keep_pair(&oa, access_token, refresh_token, ttl, now);
    }

    /// Expires every access token issued so far (-216 "Access token has expired" afterwards).
    pub fn expire_access_tokens(&self) {
        let now = self.now_ms();
        for a in self.st().access.values_mut() {
            a.expires_ms = a.expires_ms.min(now - 1);
        }
    }

    /// Refresh grants so far: (refresh tokens spent, refresh grants refused because their token
    /// was unknown, expired or already spent).
    pub fn token_refreshes(&self) -> (u64, u64) {
        let st = self.st();
        let spent = st.refresh.values().filter(|r| r.used).count() as u64;
        (spent, st.refresh_refused)
    }

    /// Expires every refresh token issued so far (-14014 afterwards).
    pub fn expire_refresh_tokens(&self) {
        let now = self.now_ms();
        for r in self.st().refresh.values_mut() {
            r.expires_ms = r.expires_ms.min(now - 1);
        }
    }

    // ---------------------------------------------------------------- faults

    /// Fails the next `n` calls of `path` with `fault`: any OpenAPI path (e.g.
    /// `/v3.0/oa/message/cs`), the token endpoint `/v4/oa/access_token` (an [`Fault::Api`] becomes
    /// an OAuth error body) or served media `/sim/media`.
    pub fn fail_next(&self, path: &str, n: u32, fault: Fault) {
        self.queue_faults(path, n, fault);
    }

    /// Fails every call of `path` with `fault` (after any queued [`ZaloSim::fail_next`] faults)
    /// until [`ZaloSim::clear_faults`]: an outage of unknown length. On the token endpoint an
    /// [`Fault::Api`] is Zalo's OAuth error body (HTTP 200, `error`, `error_name`, `error_reason`,
    /// `error_description`, `ref_doc`) with any code, listed in the reference or not.
    pub fn fail_until_cleared(&self, path: &str, fault: Fault) {
        self.standing_fault(path, Some(fault));
    }

    /// Ends the standing fault of `path` and drops its queued ones: its calls succeed again.
    pub fn clear_faults(&self, path: &str) {
        self.standing_fault(path, None);
    }

    /// A seeded share of OpenAPI calls fail (after any queued [`ZaloSim::fail_next`] faults);
    /// `None` or a rate of 0 turns it off.
    pub fn set_random_faults(&self, faults: Option<RandomFaults>) {
        self.random_faults(faults);
    }

    /// Delays every OpenAPI and OAuth answer.
    pub fn set_latency(&self, latency: Duration) {
        self.latency_set(latency);
    }
}
