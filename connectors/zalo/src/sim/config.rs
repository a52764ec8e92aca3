//! The simulator's settings and the plain records it hands to tests: [`SimConfig`], injected
//! [`Fault`]s, [`RandomFaults`], [`WebhookMode`], and the [`SentRecord`] / [`DeliveryRecord`] /
//! [`QuotaState`] inspection records. Pure data: nothing here fails.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Settings of the simulated app and its OA.
#[derive(Clone)]
pub struct SimConfig {
    /// App id.
    pub app_id: String,
    /// App Secret Key (the `secret_key` header of token calls).
    pub app_secret: String,
    /// The OA that approves consents by default and owns the users.
    pub oa_id: String,
    /// OA display name (`getoa`, history `to_display_name`).
    pub oa_name: String,
    /// OA Secret Key that signs webhooks.
    pub oa_secret_key: String,
    /// When set, `/v4/oa/permission` refuses any other `redirect_uri` with -14003.
    pub redirect_uri: Option<String>,
    /// Whether the consent redirect carries `state` (the official example shows only `code` and
    /// `oa_id`, so the default is `false`).
    pub callback_state: bool,
    /// Whether the consent redirect echoes `code_challenge` (default `false`, as documented).
    pub callback_code_challenge: bool,
    /// Where signed events are POSTed.
    pub webhook_url: Option<String>,
    /// Divides the webhook retry ladder (30 s, 5 min, 15 min, 30 min, 1 h).
    pub time_scale: f64,
    /// Whether failed deliveries are retried ("Webhook Retry" in the app settings).
    pub webhook_retry: bool,
    /// Whether an event that exhausts the retry ladder disables the webhook, as Zalo does (until
    /// [`crate::sim::ZaloSim::set_webhook_url`] sets a URL again).
    pub disable_webhook_after_ladder: bool,
    /// Lets `/upload/file` take `.txt` and `.csv` too (some OAs can).
    pub accept_txt_upload: bool,
    /// OpenAPI requests per minute before -32.
    pub rate_limit_per_minute: u32,
    /// Lifetime of access tokens (`expires_in`), 25 h.
    pub access_token_ttl: Duration,
    /// Which rules price a reply within 48 h of the user's last interaction: Zalo's 2026 rules
    /// (free and unlimited, the default) or the earlier count of [`SimConfig::reply_quota`].
    pub reply_model: ReplyModel,
    /// Free replies within 48 h of the user's last interaction (`quota_type: "reply"`) under
    /// [`ReplyModel::Counted`].
    pub reply_quota: u32,
    /// Free messages to a follower who followed but never wrote (`quota_type: "welcome_msg"`).
    pub welcome_quota: u32,
    /// What happens to a reply once no free allowance is left.
    pub out_of_replies: OutOfReplies,
    /// The OA's package allowance, used after the free replies (`quota_type: "sub_quota"`).
    pub sub_quota: Option<SubQuota>,
    /// An owner allowance used after the package (`purchase_quota` / `reward_quota`).
    pub owner_quota: Option<OwnerQuota>,
    /// How long a [`Fault::Hang`] holds a request before the connection is closed unanswered.
    pub hang: Duration,
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
            callback_state: false,
            callback_code_challenge: false,
            webhook_url: None,
            time_scale: 1.0,
            webhook_retry: true,
            disable_webhook_after_ladder: true,
            accept_txt_upload: false,
            rate_limit_per_minute: 4000,
            access_token_ttl: Duration::from_secs(90_000),
            reply_model: ReplyModel::default(),
            reply_quota: 8,
            welcome_quota: 3,
            out_of_replies: OutOfReplies::Bill,
            sub_quota: None,
            owner_quota: None,
            hang: Duration::from_secs(30),
        }
    }
}

impl std::fmt::Debug for SimConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimConfig")
            .field("app_id", &self.app_id)
            .field("app_secret", &"[redacted]")
            .field("oa_id", &self.oa_id)
            .field("oa_name", &self.oa_name)
            .field("oa_secret_key", &"[redacted]")
            .field("redirect_uri", &self.redirect_uri)
            .field("callback_state", &self.callback_state)
            .field("callback_code_challenge", &self.callback_code_challenge)
            .field("webhook_url", &self.webhook_url)
            .field("time_scale", &self.time_scale)
            .field("webhook_retry", &self.webhook_retry)
            .field(
                "disable_webhook_after_ladder",
                &self.disable_webhook_after_ladder,
            )
            .field("accept_txt_upload", &self.accept_txt_upload)
            .field("rate_limit_per_minute", &self.rate_limit_per_minute)
            .field("access_token_ttl", &self.access_token_ttl)
            .field("reply_model", &self.reply_model)
            .field("reply_quota", &self.reply_quota)
            .field("welcome_quota", &self.welcome_quota)
            .field("out_of_replies", &self.out_of_replies)
            .field("sub_quota", &self.sub_quota)
            .field("owner_quota", &self.owner_quota)
            .field("hang", &self.hang)
            .finish()
    }
}

/// How replies within 48 h of the user's last interaction are priced (reference §2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReplyModel {
    /// Zalo's rules since 2026-01-01: free and unlimited within 48 h (`quota_type: "reply"`, with
    /// `remain`/`total` pinned to 8 until 2026-03-01 and absent after), billed from 48 h to 7 days,
    /// refused (-230) after.
    #[default]
    Unlimited2026,
    /// The rules before 2026: [`SimConfig::reply_quota`] free replies per 48 h frame, counted down
    /// in `remain`/`total`, then billed (or refused, see [`OutOfReplies`]).
    Counted,
}

/// What a reply costs once the free replies of the 48 h frame are used up (and no package or owner
/// allowance is left).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutOfReplies {
    /// Sent and billed: the answer has no `quota` object.
    #[default]
    Bill,
    /// Refused with -211 "Out of quota".
    Refuse,
}

/// An OA package's message allowance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubQuota {
    /// Messages in the package.
    pub total: u32,
    /// `dd/MM/yyyy`, as Zalo writes it.
    pub expired_date: String,
}

/// A purchased or rewarded allowance; Zalo reports only its owner, never remain/total.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OwnerQuota {
    /// `purchase_quota`.
    Purchase,
    /// `reward_quota`.
    Reward,
}

impl OwnerQuota {
    /// The `quota_type` Zalo reports.
    pub fn quota_type(self) -> &'static str {
        match self {
            OwnerQuota::Purchase => "purchase_quota",
            OwnerQuota::Reward => "reward_quota",
        }
    }
}

/// An injected failure for one call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Fault {
    /// HTTP 200 with this Zalo error (on the token endpoint: an OAuth error body).
    Api {
        /// Zalo code, e.g. -216.
        code: i64,
        /// Message text.
        message: String,
    },
    /// This HTTP status, body = the reason phrase.
    HttpStatus(u16),
    /// No answer: the request is held for [`SimConfig::hang`] (the caller times out), then the
    /// connection is closed. Nothing happens at Zalo.
    Hang,
    /// The connection closes before any answer; nothing happens at Zalo.
    Disconnect,
    /// Zalo does the work (the message is sent and echoed) but the connection closes before the
    /// answer: the caller cannot know it succeeded.
    LoseResponse,
}

/// A seeded share of OpenAPI calls that fail, for soak and reliability tests.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RandomFaults {
    /// Share of calls that fail, 0.0 ..= 1.0.
    pub rate: f64,
    /// Seed of the generator: the same seed and the same calls give the same faults.
    pub seed: u64,
    /// What a failing call gets, picked uniformly; empty means [`RandomFaults::default_kinds`].
    #[serde(default)]
    pub kinds: Vec<Fault>,
}

impl RandomFaults {
    /// `rate` of calls fail with the default mix.
    pub fn new(rate: f64, seed: u64) -> Self {
        RandomFaults {
            rate,
            seed,
            kinds: Self::default_kinds(),
        }
    }

    /// 502, 503, 429, -32, a hang and a -216 "expired" token.
    pub fn default_kinds() -> Vec<Fault> {
        vec![
            Fault::HttpStatus(502),
            Fault::HttpStatus(503),
            Fault::HttpStatus(429),
            Fault::Api {
                code: super::wire::E_RATE,
                message: super::wire::MSG_RATE.into(),
            },
            Fault::Hang,
            Fault::Api {
                code: super::wire::E_TOKEN_INVALID,
                message: "Access token has expired".into(),
            },
        ]
    }
}

/// How webhooks are delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WebhookMode {
    /// Each user's events in order, once.
    #[default]
    Normal,
    /// Every event twice (same body, same signature).
    Duplicate,
    /// Events are held 250 ms (or until the mode changes) and released in reverse order.
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

/// A message the OA sent through the OpenAPI (`/v3.0/oa/message/cs`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SentRecord {
    /// The `message_id` returned.
    pub message_id: String,
    /// The `message` object as the caller sent it.
    pub message: Value,
    /// When it was accepted (epoch ms, simulator clock).
    pub sent_time_ms: i64,
    /// The `quota` object of the answer; `None` = billed.
    #[serde(default)]
    pub quota: Option<Value>,
}

/// What the simulator knows of one user's sending allowance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuotaState {
    /// The user's last interaction (epoch ms), if any.
    pub last_interaction_ms: Option<i64>,
    /// Whether a CS message may be sent at all (interaction within 7 days).
    pub cs_window_open: bool,
    /// Whether the free 48 h frame is open.
    pub free_window_open: bool,
    /// Free replies used in the current frame.
    pub replies_used: u32,
    /// Free replies per frame under [`ReplyModel::Counted`]; `None` under Zalo's 2026 rules
    /// (unlimited).
    pub reply_total: Option<u32>,
    /// Welcome messages left (follower who never wrote).
    pub welcome_remain: u32,
    /// The OA package's messages left, when it has one.
    pub sub_quota_remain: Option<u32>,
}
