//! What every command shares: the store (opened with its key), both clients with the media
//! egress policy, the token manager, the mapping rules, the operator token and the metrics
//! recorder. The daemon ([`crate::app`]), the scheduler, the checks and the CLI commands all start
//! here, so none of them needs another.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use metrics_exporter_prometheus::PrometheusHandle;
use secrecy::SecretString;
use zfsync_freshchat::FreshchatClient;
use zfsync_mappings::Rules;
use zfsync_zalo::ZaloClient;

use crate::config::Config;
use crate::store::Store;
use crate::tokens::{TokenManager, ZaloSession};

/// Why the store, a client or the mapping rules could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ServicesError {
    /// The mapping rules file cannot be used.
    #[error("cannot read the mapping rules {path}: {detail}")]
    Rules {
        /// The file.
        path: String,
        /// Why.
        detail: String,
    },
    /// `[mapping] agent_language` names a language the rules have no texts in.
    #[error("[mapping] agent_language is {value:?}, which zfsync has no agent texts in; use one of {}", known.join(", "))]
    AgentLanguage {
        /// The configured value.
        value: String,
        /// The languages there are texts in.
        known: Vec<String>,
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
    /// The system's random number generator failed.
    #[error("the system's random number generator failed")]
    Randomness,
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
    /// The HTTP clients it shares with the deployment's other pairings.
    pub http: SharedHttp,
}

/// The HTTP clients every pairing of one deployment shares: one for Zalo's API, one for
/// Freshchat's, and one media client per download policy (pairings whose policies are equal share
/// it). A pairing then costs no connection pool or TLS setup of its own; the keys and tokens are
/// still each pairing's, sent per request.
#[derive(Clone, Debug)]
pub struct SharedHttp {
    zalo: reqwest::Client,
    freshchat: reqwest::Client,
    media: Arc<std::sync::Mutex<Vec<(crate::egress::EgressPolicy, reqwest::Client)>>>,
}

impl SharedHttp {
    /// The clients, with the connectors' own timeouts.
    pub fn new() -> Result<SharedHttp, ServicesError> {
        Ok(SharedHttp {
            zalo: zfsync_zalo::client::api_http_client(API_TIMEOUT)
                .map_err(ServicesError::ZaloClient)?,
            freshchat: zfsync_freshchat::client::api_http_client(API_TIMEOUT)
                .map_err(ServicesError::FreshchatClient)?,
            media: Arc::default(),
        })
    }

    /// The media client of `policy`: the one already built for an equal policy, else a new one.
    fn media(
        &self,
        policy: &crate::egress::EgressPolicy,
    ) -> Result<reqwest::Client, ServicesError> {
        let mut known = self
            .media
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((_, client)) = known.iter().find(|(p, _)| p == policy) {
            return Ok(client.clone());
        }
        let client = policy
            .client(MEDIA_TIMEOUT)
            .map_err(|e| ServicesError::MediaClient(e.to_string()))?;
        known.push((policy.clone(), client.clone()));
        Ok(client)
    }
}

/// How long one API call may take (the connectors' default).
const API_TIMEOUT: Duration = Duration::from_secs(15);

/// What tests and the sandbox set in-process, beyond the configuration: no configuration key,
/// environment variable or flag reaches it.
#[cfg(feature = "sim")]
#[derive(Debug, Clone, Default)]
pub struct InProcessOptions {
    /// Host names the media client resolves to these addresses instead of asking DNS: the
    /// simulators' media hosts, on loopback (see [`crate::egress::EgressPolicy::pinned`]).
    pub media_names: std::collections::HashMap<String, std::net::IpAddr>,
}

impl Services {
    /// Opens the store, builds both clients and loads the tokens.
    pub async fn new(config: &Config) -> Result<Services, ServicesError> {
        Services::with_egress(config, egress_policy(config)).await
    }

    /// [`Services::new`] with the in-process options of tests and the sandbox.
    #[cfg(feature = "sim")]
    pub async fn in_process(
        config: &Config,
        options: &InProcessOptions,
    ) -> Result<Services, ServicesError> {
        let egress = egress_policy(config).pinned(&options.media_names);
        Services::with_egress(config, egress).await
    }

    async fn with_egress(
        config: &Config,
        egress: crate::egress::EgressPolicy,
    ) -> Result<Services, ServicesError> {
        let store = open_store(config)?;
        Services::on_store(config, store, egress, &SharedHttp::new()?).await
    }

    /// The services of one pairing: `config`'s Zalo and Freshchat settings over `store`, a handle
    /// scoped to the pairing ([`Store::pairing`]) of a store already open.
    pub async fn on_store(
        config: &Config,
        store: Store,
        egress: crate::egress::EgressPolicy,
        http: &SharedHttp,
    ) -> Result<Services, ServicesError> {
        let mut zc =
            zfsync_zalo::ClientConfig::new(config.zalo.app_id.clone(), config.zalo_app_secret());
        zc.api_base = config.zalo.api_base.clone();
        zc.oauth_base = config.zalo.oauth_base.clone();
        let media = http.media(&egress)?;
        let zalo = ZaloClient::new(
            zc.with_observer(Arc::new(crate::telemetry::ZaloCalls))
                .with_download_client(media.clone())
                .with_http_client(http.zalo.clone()),
        )
        .map_err(ServicesError::ZaloClient)?;
        let freshchat = FreshchatClient::new(
            zfsync_freshchat::ClientConfig::new(
                config.freshchat.api_base.clone(),
                config.freshchat_api_key(),
            )
            .with_observer(Arc::new(crate::telemetry::FreshchatCalls))
            .with_http_client(http.freshchat.clone())
            .with_download_client(media)
            .with_download_guard(Arc::new(egress.clone())),
        )
        .map_err(ServicesError::FreshchatClient)?;
        let tokens = Arc::new(
            TokenManager::new(
                store.clone(),
                zalo.clone(),
                crate::tokens::TokenPolicy::from_config(&config.sync),
            )
            .await?,
        );
        Ok(Services {
            store,
            zalo: ZaloSession::new(zalo, tokens, config.zalo.oa_id.clone()),
            freshchat,
            egress,
            http: http.clone(),
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
/// file; a missing key file is made only while the store holds nothing sealed): the PostgreSQL
/// database of `store.url` when set, else the SQLite file `store.path`.
pub fn open_store(config: &Config) -> Result<Store, crate::store::StoreError> {
    match &config.store.url {
        Some(url) => Store::open_postgres_keyed(
            secrecy::ExposeSecret::expose_secret(url),
            config.store.key.as_ref(),
            &config.store.key_path(),
        ),
        None => Store::open_keyed(
            &config.store.path,
            config.store.key.as_ref(),
            &config.store.key_path(),
        ),
    }
}

/// The mapping rules: the configured file or the built-in ones, in `mapping.language` for
/// customers and `mapping.agent_language` for agents.
pub fn load_rules(config: &Config) -> Result<Rules, ServicesError> {
    let (rules, shown) = match &config.mapping.rules {
        None => (Rules::default(), "the built-in rules".to_string()),
        Some(path) => {
            let shown = path.display().to_string();
            let text = std::fs::read_to_string(path).map_err(|e| ServicesError::Rules {
                path: shown.clone(),
                detail: e.to_string(),
            })?;
            let rules = Rules::from_toml(&text).map_err(|e| ServicesError::Rules {
                path: shown.clone(),
                detail: e.to_string(),
            })?;
            (rules, shown)
        }
    };
    let rules = match &config.mapping.language {
        Some(lang) => rules
            .with_language(lang)
            .map_err(|e| ServicesError::Rules {
                path: format!("{shown} (mapping.language)"),
                detail: e.to_string(),
            })?,
        None => rules,
    };
    match &config.mapping.agent_language {
        Some(lang)
            if !rules
                .agent_languages()
                .contains(&lang.trim().to_lowercase()) =>
        {
            Err(ServicesError::AgentLanguage {
                value: lang.clone(),
                known: rules.agent_languages(),
            })
        }
        Some(lang) => rules
            .with_agent_language(lang)
            .map_err(|e| ServicesError::Rules {
                path: format!("{shown} (mapping.agent_language)"),
                detail: e.to_string(),
            }),
        None => Ok(rules),
    }
}

/// The `meta` key of the admin token zfsync generated when none is configured.
pub const META_ADMIN_TOKEN: &str = crate::store::META_ADMIN_TOKEN;

/// The operator token: the configured one (`server.admin_token`, ZFSYNC_ADMIN_TOKEN, the secrets
/// file), else the one zfsync generated earlier and kept in the store, else a new one, kept there.
pub async fn admin_token(config: &Config, store: &Store) -> Result<SecretString, ServicesError> {
    if let Some(t) = config.admin_token() {
        return Ok(t);
    }
    if let Some(t) = store.secret_meta(META_ADMIN_TOKEN).await? {
        return Ok(SecretString::from(t));
    }
    let token = random_token().ok_or(ServicesError::Randomness)?;
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
            crate::telemetry::events::describe();
            Some(handle)
        })
        .clone()
}
