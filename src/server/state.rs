//! The routes' state ([`AppState`]), built in one place: [`AppState::build`] wires the store,
//! Zalo, the console, operator access and rate limits from the config and the services. The
//! daemon (`app.rs`) takes its secrets from the config ([`StateOptions`] says which); the fuzzer
//! passes fixed ones, so the environment cannot change what its inputs are signed with.
//!
//! Building cannot fail: what can (the Freshchat key, the admin token) is read before, by
//! [`WebhookSecrets::from_config`] and the caller.

use std::sync::Arc;

use metrics_exporter_prometheus::PrometheusHandle;
use secrecy::SecretString;
use zfsync_freshchat::{KeyError, WebhookKey};

use super::{auth, console, limits};
use crate::config::Config;
use crate::ingest::backfill::{Backfill, DEFAULT_PACE};
use crate::ingest::{IngestState, PairingIngest};
use crate::lanes::LaneSignal;
use crate::services::Services;
use crate::store::Store;
use crate::tokens::ZaloSession;

/// One day in milliseconds (the replay window is the retention, in days).
const DAY_MS: i64 = 24 * 3600 * 1000;

/// Everything the routes need.
#[derive(Clone, Debug)]
pub struct AppState {
    /// The webhooks' part (the default pairing's, on the plain routes).
    pub ingest: IngestState,
    /// Each pairing's webhooks' part, by name (the routes that name a pairing).
    pub pairings: PairingIngest,
    /// Each pairing's store handle and Zalo session, by name (its OAuth routes).
    pub sessions: Arc<std::collections::HashMap<String, PairingSession>>,
    /// The store.
    pub store: Store,
    /// Zalo with its tokens (OAuth, readiness).
    pub zalo: ZaloSession,
    /// The public URL (OAuth redirect).
    pub public_url: String,
    /// The code Zalo gives for domain verification (served at `/` and `/zalo_verifier<code>.html`).
    pub zalo_site_verification: Option<String>,
    /// The metrics recorder, when installed in this process.
    pub metrics: Option<PrometheusHandle>,
    /// Operator access: the token check and console sessions.
    pub auth: Arc<auth::Auth>,
    /// Per-address rate limits of the public pages, the trusted proxies, wrong-token counts.
    pub limits: Arc<limits::RateLimits>,
    /// The console's own parts.
    pub console: Arc<console::Console>,
}

/// One pairing's parts that its OAuth routes and the console's pages need.
#[derive(Clone, Debug)]
pub struct PairingSession {
    /// The store, scoped to the pairing.
    pub store: Store,
    /// Its Zalo client and tokens.
    pub zalo: ZaloSession,
    /// Its Freshchat client.
    pub freshchat: zfsync_freshchat::FreshchatClient,
    /// Its configured channel (id or name).
    pub channel: Option<String>,
    /// Wakes its lanes.
    pub lanes: LaneSignal,
}

impl PairingSession {
    /// The parts of the pairing run with `config` and `services`, whose lanes `lanes` wakes.
    pub fn new(config: &Config, services: &Services, lanes: LaneSignal) -> PairingSession {
        PairingSession {
            store: services.store.clone(),
            zalo: services.zalo.clone(),
            freshchat: services.freshchat.clone(),
            channel: config
                .freshchat
                .channel_id
                .clone()
                .or(config.freshchat.channel_name.clone()),
            lanes,
        }
    }
}

/// The secrets the webhook routes check deliveries with.
#[derive(Clone, Debug)]
pub struct WebhookSecrets {
    /// The Zalo App ID (part of the signed text).
    pub zalo_app_id: String,
    /// The OA Secret Key that signs Zalo webhooks.
    pub zalo_oa_secret: SecretString,
    /// Freshchat's webhook public key.
    pub freshchat_key: WebhookKey,
    /// The OA the pairing serves (`zalo.oa_id`), when configured.
    pub zalo_oa_id: Option<String>,
}

impl WebhookSecrets {
    /// The configured ones (with the environment's overrides). Fails when the Freshchat key
    /// cannot be read.
    pub fn from_config(config: &Config) -> Result<WebhookSecrets, KeyError> {
        let key = config.freshchat_webhook_key();
        Ok(WebhookSecrets {
            zalo_app_id: config.zalo.app_id.clone(),
            zalo_oa_secret: config.zalo_oa_secret_key(),
            freshchat_key: WebhookKey::parse(secrecy::ExposeSecret::expose_secret(&key))?,
            zalo_oa_id: config.zalo.oa_id.clone(),
        })
    }
}

/// What [`AppState::build`] takes besides the config and the services: the secrets, and what the
/// daemon sets but an in-process harness may not want (the metrics recorder, the replay window).
#[derive(Debug)]
pub struct StateOptions {
    /// The operator token.
    pub admin_token: SecretString,
    /// The webhooks' secrets.
    pub webhooks: WebhookSecrets,
    /// How old (ms) a signed event may be ([`replay_window_ms`] for the daemon).
    pub replay_window_ms: i64,
    /// The metrics recorder, when this process has one.
    pub metrics: Option<PrometheusHandle>,
}

/// The daemon's replay window: the retention (a delivery older than that could no longer be
/// recognised as a duplicate).
pub fn replay_window_ms(config: &Config) -> i64 {
    i64::try_from(config.sync.retention_days)
        .unwrap_or(i64::MAX)
        .saturating_mul(DAY_MS)
}

impl AppState {
    /// The routes' state over `services`, configured by `config`; `lanes` is woken for every
    /// stored event.
    pub fn build(
        config: &Config,
        services: &Services,
        lanes: LaneSignal,
        options: StateOptions,
    ) -> AppState {
        let public_url = config
            .server
            .public_url
            .as_str()
            .trim_end_matches('/')
            .to_string();
        let auth = Arc::new(auth::Auth::new(
            &options.admin_token,
            config.server.public_url.scheme() == "https",
        ));
        let mut console = console::Console::new(
            services.freshchat.clone(),
            config
                .freshchat
                .channel_id
                .clone()
                .or(config.freshchat.channel_name.clone()),
            config.file.clone(),
            Backfill {
                store: services.store.clone(),
                lanes: lanes.clone(),
                zalo: services.zalo.clone(),
                pace: DEFAULT_PACE,
            },
        );
        console.config = Some(Box::new(config.clone()));
        let console = Arc::new(console);
        let WebhookSecrets {
            zalo_app_id,
            zalo_oa_secret,
            freshchat_key,
            zalo_oa_id,
        } = options.webhooks;
        let ingest = IngestState {
            store: services.store.clone(),
            lanes,
            zalo_app_id,
            zalo_oa_secret,
            zalo_oa_id,
            freshchat_key,
            replay_window_ms: options.replay_window_ms,
        };
        AppState {
            auth,
            limits: Arc::new(limits::RateLimits::new(config.server.trusted_proxies())),
            console,
            pairings: PairingIngest::new([(
                services.store.pairing_name().to_string(),
                ingest.clone(),
            )]),
            sessions: Arc::new(
                [(
                    services.store.pairing_name().to_string(),
                    PairingSession::new(config, services, ingest.lanes.clone()),
                )]
                .into(),
            ),
            ingest,
            store: services.store.clone(),
            zalo: services.zalo.clone(),
            public_url,
            zalo_site_verification: config.zalo.site_verification.clone(),
            metrics: options.metrics,
        }
    }
}
