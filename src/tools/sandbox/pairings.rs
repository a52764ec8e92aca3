//! Several customers in one sandbox: pairings beside `default`, each a Zalo OA and a Freshchat
//! account of its own (one more pair of simulators), registered in the store with tokens for its
//! OA the way `zfsync pairing add` and `zfsync connect zalo --pairing` leave them: what
//! `zfsync sandbox --pairings N` ([`super::script`]), the density load and the end-to-end tests
//! start.

use tokio::net::TcpListener;
use zfsync_freshchat::sim::{FreshchatSim, SimConfig as FreshchatSimConfig};
use zfsync_zalo::sim::{SimConfig as ZaloSimConfig, ZaloSim};

use super::{Env, FRESHCHAT_MEDIA_HOST};
use crate::config::{PairingSecrets, PairingSettings};
use crate::store::StoredTokens;

/// A pairing served beside `default`, with its own simulators.
#[derive(Debug)]
pub struct ExtraPairing {
    /// Its name.
    pub name: String,
    /// Its Zalo OA.
    pub zalo: ZaloSim,
    /// Its Freshchat account.
    pub freshchat: FreshchatSim,
}

/// The Zalo settings of the `n`th extra customer: an app, an OA and secrets of its own.
pub fn own_app(n: usize) -> ZaloSimConfig {
    ZaloSimConfig {
        app_id: format!("{:019}", 2_000_000_000_000_000_000u64 + n as u64),
        app_secret: format!("pairing-{n}-app-secret-0123456789"),
        oa_id: format!("{:019}", 5_000_000_000_000_000_000u64 + n as u64),
        oa_secret_key: format!("pairing-{n}-oa-secret-key-0123456789"),
        ..ZaloSimConfig::default()
    }
}

impl Env {
    /// Adds the pairing `name` to this environment's deployment (before [`Env::start_daemon`]):
    /// a Zalo OA simulated with `zalo` (delivering to the pairing's own webhook route unless it
    /// names another URL) and a Freshchat account of its own, registered in the store with its
    /// secrets sealed and tokens for its OA.
    pub async fn add_pairing(
        &self,
        name: &str,
        zalo: ZaloSimConfig,
    ) -> anyhow::Result<ExtraPairing> {
        let p = self.start_pairing(name, zalo).await?;
        self.register_pairing(name, &p.zalo, &p.freshchat).await?;
        Ok(p)
    }

    /// The simulators of the pairing `name` ([`Env::add_pairing`] without registering it).
    pub async fn start_pairing(
        &self,
        name: &str,
        mut zalo: ZaloSimConfig,
    ) -> anyhow::Result<ExtraPairing> {
        crate::config::check_pairing_name(name)?;
        let base = self.daemon_url();
        zalo.webhook_url
            .get_or_insert_with(|| format!("{base}/webhooks/zalo/{name}"));
        zalo.redirect_uri.get_or_insert_with(|| {
            format!(
                "{base}{}",
                crate::routes::for_pairing(crate::routes::ROUTE_OAUTH_CALLBACK, name)
            )
        });
        let bind = || TcpListener::bind("127.0.0.1:0");
        let zalo_sim = ZaloSim::start(bind().await?, bind().await?, zalo).await?;
        let freshchat = FreshchatSim::start(
            bind().await?,
            FreshchatSimConfig {
                webhook_url: Some(format!("{base}/webhooks/freshchat/{name}")),
                ..FreshchatSimConfig::default()
            },
        )
        .await?;
        freshchat.set_cdn_host(FRESHCHAT_MEDIA_HOST)?;
        Ok(ExtraPairing {
            name: name.into(),
            zalo: zalo_sim,
            freshchat,
        })
    }
}

impl Env {
    /// Registers the pairing `name` in this environment's store (before [`Env::start_daemon`])
    /// for the OA of `zalo` and the Freshchat account of `freshchat`, already running (several
    /// pairings may share them where only the deployment's size is measured), with its secrets
    /// sealed and tokens for that OA.
    pub async fn register_pairing(
        &self,
        name: &str,
        zalo: &ZaloSim,
        freshchat: &FreshchatSim,
    ) -> anyhow::Result<()> {
        let store = match self.daemon_store() {
            Some(store) => store.clone(),
            None => crate::services::open_store(&self.config()?)?,
        };
        register_in(&store, name, zalo, freshchat).await
    }
}

/// Registers the pairing `name` in `store` for the OA of `zalo` and the Freshchat account of
/// `freshchat`, with tokens for that OA (see [`Env::register_pairing`]).
pub async fn register_in(
    store: &crate::store::Store,
    name: &str,
    zalo: &ZaloSim,
    freshchat: &FreshchatSim,
) -> anyhow::Result<()> {
    let z = zalo.config();
    let settings = PairingSettings {
        zalo_app_id: z.app_id.clone(),
        zalo_oa_id: Some(z.oa_id.clone()),
        zalo_api_base: zalo.api_base(),
        zalo_oauth_base: zalo.oauth_base(),
        freshchat_api_base: freshchat.base_url(),
        freshchat_app_id: Some(freshchat.app_id().to_string()),
        freshchat_channel_id: None,
        freshchat_channel_name: None,
        mapping_rules: None,
        mapping_language: Some("en".into()),
        mapping_agent_language: None,
    };
    let secrets = PairingSecrets {
        zalo_app_secret: z.app_secret.clone(),
        zalo_oa_secret_key: z.oa_secret_key.clone(),
        freshchat_api_key: freshchat.api_key().to_string(),
        freshchat_webhook_public_key: freshchat.public_key_pem(),
    };
    store
        .register_pairing(
            name.into(),
            serde_json::to_string(&settings)?,
            serde_json::to_string(&secrets)?,
        )
        .await?;
    let (access_token, refresh_token) = zalo.issue_tokens();
    let now = chrono::Utc::now().timestamp_millis();
    store
        .pairing(name)
        .save_tokens(StoredTokens {
            oa_id: Some(z.oa_id.clone()),
            access_token,
            refresh_token,
            access_expires_at: now + 3_600_000,
            refresh_expires_at: now + 90 * 86_400_000,
            updated_at: now,
            needs_reauth: None,
            token_error: None,
            generation: 0,
        })
        .await?;
    Ok(())
}
