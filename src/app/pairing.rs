//! One pairing's running parts (one Zalo OA ↔ one Freshchat account): its services over the
//! shared store (a handle scoped to the pairing), its webhooks' state, its sync context, its
//! catch-up and its lanes' signal. The daemon runs one for the configuration file's pairing
//! (`default`) and one for each enabled pairing of the store's registry.
//!
//! Failure: a registered pairing whose settings no longer validate, or whose services cannot be
//! built, is an [`AppError`] naming the pairing (the daemon does not start half a deployment).

use std::sync::Arc;

use crate::config::{Config, PairingSecrets, PairingSettings};
use crate::ingest::catch_up::CatchUp;
use crate::ingest::IngestState;
use crate::lanes::LaneSignal;
use crate::server::WebhookSecrets;
use crate::services::{egress_policy, load_rules, Services};
use crate::store::{RegisteredPairing, Store};
use crate::sync::{SyncContext, SyncSettings};

use super::AppError;

/// One pairing, built and ready to run.
#[derive(Clone)]
pub(crate) struct PairingRuntime {
    /// Its name (`default` for the configuration file's).
    pub name: String,
    /// The configuration it runs with (the deployment's, with its own platform settings).
    pub config: Config,
    /// Its store handle, clients and tokens.
    pub services: Services,
    /// Its webhooks' state.
    pub ingest: IngestState,
    /// Its sync context.
    pub sync: Arc<SyncContext>,
    /// Its catch-up from both histories.
    pub catch_up: CatchUp,
}

impl std::fmt::Debug for PairingRuntime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PairingRuntime")
            .field("name", &self.name)
            .finish()
    }
}

impl PairingRuntime {
    /// The runtime of a pairing whose webhooks' state is already built (`default`'s, by
    /// `AppState::build`).
    pub fn with_ingest(
        name: String,
        config: Config,
        services: Services,
        ingest: IngestState,
    ) -> Result<PairingRuntime, AppError> {
        let public_url = config
            .server
            .public_url
            .as_str()
            .trim_end_matches('/')
            .to_string();
        let sync = Arc::new(SyncContext::new(
            services.store.clone(),
            services.zalo.clone(),
            services.freshchat.clone(),
            Arc::new(load_rules(&config)?),
            SyncSettings {
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
            lanes: ingest.lanes.clone(),
            zalo: services.zalo.clone(),
            freshchat: services.freshchat.clone(),
        };
        Ok(PairingRuntime {
            name,
            config,
            services,
            ingest,
            sync,
            catch_up,
        })
    }

    /// The runtime of a registered pairing over the shared `store`: its settings and secrets on
    /// top of the deployment's `base` configuration. `pin` maps media host names to addresses
    /// (tests and the sandbox only).
    pub async fn registered(
        base: &Config,
        http: &crate::services::SharedHttp,
        store: &Store,
        registered: &RegisteredPairing,
        replay_window_ms: i64,
        pin: Option<&std::collections::HashMap<String, std::net::IpAddr>>,
    ) -> Result<PairingRuntime, AppError> {
        let name = registered.name.clone();
        let invalid = |detail: String| AppError::Pairing {
            name: name.clone(),
            detail,
        };
        let settings: PairingSettings = serde_json::from_str(&registered.settings)
            .map_err(|e| invalid(format!("its stored settings cannot be read: {e}")))?;
        // serde's message may quote the value it met: a secret. Only where it failed is said.
        let secrets: PairingSecrets = serde_json::from_str(&registered.secrets).map_err(|e| {
            invalid(format!(
                "its stored secrets cannot be read (line {}, column {})",
                e.line(),
                e.column()
            ))
        })?;
        let config = base
            .for_pairing(&settings, &secrets)
            .map_err(|e| invalid(e.to_string()))?;
        #[cfg_attr(
            not(feature = "sim"),
            expect(unused_mut, reason = "pinned in tests only")
        )]
        let mut egress = egress_policy(&config);
        #[cfg(feature = "sim")]
        if let Some(names) = pin {
            egress = egress.pinned(names);
        }
        #[cfg(not(feature = "sim"))]
        let _ = pin;
        let services = Services::on_store(&config, store.pairing(&name), egress, http)
            .await
            .map_err(|e| invalid(e.to_string()))?;
        let webhooks = WebhookSecrets::from_config(&config).map_err(|e| invalid(e.to_string()))?;
        let ingest = IngestState {
            store: services.store.clone(),
            lanes: LaneSignal::new(),
            zalo_app_id: webhooks.zalo_app_id,
            zalo_oa_secret: webhooks.zalo_oa_secret,
            zalo_oa_id: webhooks.zalo_oa_id,
            freshchat_key: webhooks.freshchat_key,
            replay_window_ms,
        };
        PairingRuntime::with_ingest(name, config, services, ingest)
    }
}
