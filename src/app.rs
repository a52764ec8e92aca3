//! The application: builds every part from a validated [`Config`], then runs the HTTP server, the
//! lanes and the scheduler until the shutdown token fires (SIGTERM/Ctrl-C in `main`). On shutdown
//! the server stops taking webhooks, in-flight steps finish or stay journalled for the next start.

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use metrics_exporter_prometheus::PrometheusHandle;
use secrecy::SecretString;
use tokio::net::TcpListener;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use zfsync_freshchat::{FreshchatClient, WebhookKey};
use zfsync_mappings::Rules;
use zfsync_zalo::ZaloClient;

use crate::config::Config;
use crate::ingest::catch_up::CatchUp;
use crate::ingest::IngestState;
use crate::lanes::{Dispatcher, LaneSignal, RetryPolicy};
use crate::scheduler::{Scheduler, SchedulerError};
use crate::server::{router, AppState};
use crate::store::Store;
use crate::sync::{SyncContext, SyncSettings};
use crate::tokens::{TokenManager, ZaloSession};

/// How far back start-up looks for conversations to catch up (active in the last 24 h).
const CATCH_UP_WINDOW_MS: i64 = 24 * 3600 * 1000;
/// How many pages of Zalo's recent chats (10 messages each) start-up reads at most.
const CATCH_UP_ZALO_PAGES: u32 = 10;

/// Why the application could not be built or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The listen address is taken or not allowed.
    #[error("cannot listen on {addr}: {source} (is another zfsync running? change server.listen)")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The mapping rules file cannot be used.
    #[error("cannot read the mapping rules {path}: {detail}")]
    Rules {
        /// The file.
        path: String,
        /// Why.
        detail: String,
    },
    /// The store cannot be opened.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    /// Loading the tokens failed.
    #[error(transparent)]
    Sync(#[from] crate::error::SyncError),
    /// The Zalo client cannot be built.
    #[error("Zalo client: {0}")]
    ZaloClient(zfsync_zalo::ZaloError),
    /// The Freshchat client cannot be built.
    #[error("Freshchat client: {0}")]
    FreshchatClient(zfsync_freshchat::FreshchatError),
    /// The media download client cannot be built.
    #[error("media download client: {0}")]
    MediaClient(String),
    /// The Freshchat webhook key cannot be read.
    #[error("freshchat.webhook_public_key: {0}")]
    WebhookKey(zfsync_freshchat::KeyError),
    /// The scheduler could not start.
    #[error(transparent)]
    Scheduler(#[from] SchedulerError),
    /// The system's random number generator failed.
    #[error("the system's random number generator failed")]
    Randomness,
    /// The HTTP server stopped with an error.
    #[error("server error: {0}")]
    Serve(#[source] std::io::Error),
}

/// The clients and store every command needs (the mapping rules are the daemon's alone, so a bad
/// rules file never stops `status` or `failed`).
#[derive(Clone, Debug)]
pub struct Services {
    /// The store.
    pub store: Store,
    /// Zalo, with its tokens.
    pub zalo: ZaloSession,
    /// Freshchat.
    pub freshchat: FreshchatClient,
    /// Where media may be fetched from.
    pub egress: crate::egress::EgressPolicy,
}

impl Services {
    /// Opens the store, builds both clients and loads the tokens.
    pub async fn new(config: &Config) -> Result<Services, AppError> {
        let store = open_store(config)?;
        let mut zc =
            zfsync_zalo::ClientConfig::new(config.zalo.app_id.clone(), config.zalo_app_secret());
        zc.api_base = config.zalo.api_base.clone();
        zc.oauth_base = config.zalo.oauth_base.clone();
        let egress = egress_policy(config);
        let media = egress
            .client(MEDIA_TIMEOUT)
            .map_err(|e| AppError::MediaClient(e.to_string()))?;
        let zalo = ZaloClient::new(
            zc.with_observer(Arc::new(crate::telemetry::ZaloCalls))
                .with_download_client(media.clone()),
        )
        .map_err(AppError::ZaloClient)?;
        let freshchat = FreshchatClient::new(
            zfsync_freshchat::ClientConfig::new(
                config.freshchat.api_base.clone(),
                config.freshchat_api_key(),
            )
            .with_observer(Arc::new(crate::telemetry::FreshchatCalls))
            .with_download_client(media),
        )
        .map_err(AppError::FreshchatClient)?;
        let tokens = Arc::new(
            TokenManager::new(
                store.clone(),
                zalo.clone(),
                Duration::from_secs(config.sync.token_refresh_ahead_secs),
            )
            .await?,
        );
        Ok(Services {
            store,
            zalo: ZaloSession::new(zalo, tokens),
            freshchat,
            egress,
        })
    }

    /// The token manager.
    pub fn tokens(&self) -> &Arc<TokenManager> {
        self.zalo.tokens()
    }
}

/// How long one media download may take.
const MEDIA_TIMEOUT: Duration = Duration::from_secs(60);

/// The media download policy of a configuration: the platforms' media hosts, the configured API
/// hosts and `[media] allow_hosts`; private addresses only with `[media] allow_private_addresses`.
pub fn egress_policy(config: &Config) -> crate::egress::EgressPolicy {
    crate::egress::EgressPolicy::new(
        &config.media.allow_hosts,
        &[&config.zalo.api_base, &config.freshchat.api_base],
        config.media.allow_private_addresses,
    )
}

/// Opens the configured store with its key (ZFSYNC_STORE_KEY, the systemd credential, or the key
/// file).
pub fn open_store(config: &Config) -> Result<Store, crate::store::StoreError> {
    let key = crate::store::StoreKey::resolve(config.store.key.as_ref(), &config.store.key_path())?;
    Store::open_with(&config.store.path, key)
}

pub fn load_rules(config: &Config) -> Result<Rules, AppError> {
    let (rules, shown) = match &config.mapping.rules {
        None => (Rules::default(), "the built-in rules".to_string()),
        Some(path) => {
            let shown = path.display().to_string();
            let text = std::fs::read_to_string(path).map_err(|e| AppError::Rules {
                path: shown.clone(),
                detail: e.to_string(),
            })?;
            let rules = Rules::from_toml(&text).map_err(|e| AppError::Rules {
                path: shown.clone(),
                detail: e.to_string(),
            })?;
            (rules, shown)
        }
    };
    match &config.mapping.language {
        Some(lang) => rules.with_language(lang).map_err(|e| AppError::Rules {
            path: format!("{shown} (mapping.language)"),
            detail: e.to_string(),
        }),
        None => Ok(rules),
    }
}

/// The `meta` key of the admin token zfsync generated when none is configured.
pub const META_ADMIN_TOKEN: &str = "admin_token";

/// The operator token: the configured one (`server.admin_token`, ZFSYNC_ADMIN_TOKEN, the secrets
/// file), else the one zfsync generated earlier and kept in the store, else a new one, kept there.
pub async fn admin_token(config: &Config, store: &Store) -> Result<SecretString, AppError> {
    if let Some(t) = config.admin_token() {
        return Ok(t);
    }
    if let Some(t) = store.secret_meta(META_ADMIN_TOKEN).await? {
        return Ok(SecretString::from(t));
    }
    let token = random_token().ok_or(AppError::Randomness)?;
    store
        .set_secret_meta(META_ADMIN_TOKEN, token.clone())
        .await?;
    tracing::warn!("no admin token is configured: zfsync generated one and keeps it in the store (see README, 'Operator access')");
    Ok(SecretString::from(token))
}

/// 32 random bytes, URL-safe base64: tokens for operators and links.
pub fn random_token() -> Option<String> {
    use base64::Engine as _;
    let mut raw = [0u8; 32];
    aws_lc_rs::rand::fill(&mut raw).ok()?;
    Some(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw))
}

/// The process-wide Prometheus recorder (installed once; later calls share it).
pub fn metrics_handle() -> Option<PrometheusHandle> {
    static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = metrics_exporter_prometheus::PrometheusBuilder::new()
                .set_buckets(&[
                    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
                ])
                .ok()?
                .build_recorder();
            let handle = recorder.handle();
            metrics::set_global_recorder(recorder).ok()?;
            Some(handle)
        })
        .clone()
}

/// The daemon, built and ready to run.
pub struct Application {
    listener: TcpListener,
    services: Services,
    state: AppState,
    sync: Arc<SyncContext>,
    catch_up: CatchUp,
    config: Config,
}

impl std::fmt::Debug for Application {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Application")
            .field("addr", &self.listener.local_addr().ok())
            .finish()
    }
}

impl Application {
    /// Binds `server.listen` and builds everything.
    pub async fn build(config: Config) -> Result<Application, AppError> {
        let addr = config.server.listen;
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| AppError::Bind { addr, source })?;
        Application::with_listener(config, listener).await
    }

    /// Builds on an already bound listener (tests bind port 0).
    pub async fn with_listener(
        config: Config,
        listener: TcpListener,
    ) -> Result<Application, AppError> {
        let services = Services::new(&config).await?;
        let key = WebhookKey::parse(secrecy::ExposeSecret::expose_secret(
            &config.freshchat_webhook_key(),
        ))
        .map_err(AppError::WebhookKey)?;
        let public_url = config
            .server
            .public_url
            .as_str()
            .trim_end_matches('/')
            .to_string();
        let lanes = LaneSignal::new();
        let admin_token = admin_token(&config, &services.store).await?;
        let state = AppState {
            admin_token,
            ingest: IngestState {
                store: services.store.clone(),
                lanes: lanes.clone(),
                zalo_app_id: config.zalo.app_id.clone(),
                zalo_oa_secret: config.zalo_oa_secret_key(),
                freshchat_key: key,
                replay_window_ms: config.sync.retention_days as i64 * 24 * 3600 * 1000,
            },
            store: services.store.clone(),
            zalo: services.zalo.clone(),
            public_url: public_url.clone(),
            zalo_oa_id: config.zalo.oa_id.clone(),
            zalo_site_verification: config.zalo.site_verification.clone(),
            metrics: metrics_handle(),
        };
        let sync = Arc::new(SyncContext::new(
            services.store.clone(),
            services.zalo.clone(),
            services.freshchat.clone(),
            Arc::new(load_rules(&config)?),
            SyncSettings {
                oa_id: config.zalo.oa_id.clone(),
                freshchat_app_id: config.freshchat.app_id.clone(),
                channel_id: config.freshchat.channel_id.clone(),
                channel_name: config.freshchat.channel_name.clone(),
                public_url,
                hosted_file_ttl_ms: config.hosted_file_ttl().as_millis() as i64,
                egress: services.egress.clone(),
            },
        ));
        let catch_up = CatchUp {
            store: services.store.clone(),
            lanes,
            zalo: services.zalo.clone(),
            freshchat: services.freshchat.clone(),
            oa_id: config.zalo.oa_id.clone(),
        };
        Ok(Application {
            listener,
            services,
            state,
            sync,
            catch_up,
            config,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .unwrap_or(self.config.server.listen)
    }

    pub fn services(&self) -> &Services {
        &self.services
    }

    /// Runs until `shutdown` is cancelled.
    pub async fn run(self, shutdown: CancellationToken) -> Result<(), AppError> {
        let tracker = TaskTracker::new();
        let policy = RetryPolicy {
            max_attempts: self.config.sync.max_attempts,
            base_ms: self.config.sync.retry_base_ms,
            max_ms: self.config.sync.retry_max_ms,
        };
        let dispatcher = Dispatcher::new(
            self.services.store.clone(),
            self.sync.clone(),
            self.state.ingest.lanes.clone(),
            self.config.sync.max_concurrent_lanes,
            policy,
        );
        // Lanes start once messages missed while down are queued in their place (bounded, so a slow
        // platform never holds up the rest); webhooks are accepted meanwhile.
        let catch_up = self.catch_up.clone();
        let lanes_stop = shutdown.clone();
        let lanes_tracker = tracker.clone();
        let lanes = tokio::spawn(async move {
            catch_up.pass(CATCH_UP_WINDOW_MS, CATCH_UP_ZALO_PAGES).await;
            dispatcher.run(lanes_stop, lanes_tracker).await
        });
        let scheduler = Scheduler::start(
            &self.config.sync,
            self.services.clone(),
            self.catch_up.clone(),
            shutdown.clone(),
        )
        .await?;
        let follow = tokio::spawn(follow_tokens(
            self.services.clone(),
            self.state.ingest.lanes.clone(),
            shutdown.clone(),
        ));
        let app = router(self.state.clone(), self.config.server.max_body_bytes);
        tracing::info!(addr = %self.local_addr(), "zfsync listening");
        let stop = shutdown.clone();
        let served = axum::serve(self.listener, app)
            .with_graceful_shutdown(async move { stop.cancelled().await })
            .await;
        shutdown.cancel();
        let _ = lanes.await;
        scheduler.stop().await;
        let _ = follow.await;
        tracker.close();
        if tokio::time::timeout(Duration::from_secs(20), tracker.wait())
            .await
            .is_err()
        {
            tracing::warn!("some lanes did not finish within 20 s; their steps stay journalled for the next start");
        }
        served.map_err(AppError::Serve)
    }
}

/// How often the daemon looks for token changes made by another process.
const FOLLOW_TOKENS_EVERY: Duration = Duration::from_secs(1);

/// Follows the stored tokens: a reconnect by any path (`zfsync connect zalo`, the callback, the
/// console, in this process or another) reaches the running daemon within a second, and the events
/// that waited for it are made due and their lanes woken at once.
async fn follow_tokens(services: Services, lanes: LaneSignal, shutdown: CancellationToken) {
    let mut tick = tokio::time::interval(FOLLOW_TOKENS_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        match services.tokens().follow_store().await {
            Ok(true) => match services
                .store
                .release_waiting(crate::error::SyncError::OPERATOR_CLASSES)
                .await
            {
                Ok(woken) => {
                    for lane in &woken {
                        lanes.notify(lane);
                    }
                }
                Err(e) => tracing::warn!(error = %e, "cannot wake the events that waited for Zalo"),
            },
            Ok(false) => {}
            Err(e) => tracing::debug!(error = %e, "cannot read the stored tokens"),
        }
    }
}
