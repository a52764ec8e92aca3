//! Adding a pairing to the deployment, the same way from `zfsync pairing add` and from the
//! console's form: the values (already checked live by the wizard's checks) are validated as the
//! configuration file's would be, the pairing must not take an OA another pairing serves, and its
//! secrets are sealed in the store. The running daemon serves it after a restart.
//!
//! Failure ([`AddError`]): a bad or reserved name, an OA already served, a name already taken
//! (unless replacing), values the configuration refuses, a store that cannot be written. Nothing
//! is stored then. No message quotes a secret.

use crate::config::{
    check_new_pairing, Config, ConfigError, PairingSecrets, PairingSettings, DEFAULT_PAIRING,
};
use crate::routes::PairingUrls;
use crate::store::{Store, StoreError};

/// Why a pairing was not added.
#[derive(Debug, thiserror::Error)]
pub enum AddError {
    /// The name, or the values, cannot be used.
    #[error(transparent)]
    Invalid(#[from] ConfigError),
    /// The name is taken and replacing was not asked for.
    #[error("a pairing named {0:?} exists: choose another name, or replace its settings on purpose ('zfsync pairing add --replace', or tick \"Replace\" in the console)")]
    Exists(String),
    /// A replacement names another OA than the pairing's.
    #[error("the pairing {name:?} serves the OA {was}: a pairing keeps its OA (its customers' ids, conversations and tokens belong to it); add another pairing for the OA {now}")]
    OaChanged {
        /// The pairing.
        name: String,
        /// Its OA.
        was: String,
        /// The OA asked for.
        now: String,
    },
    /// Another pairing serves this OA (its events would go to one of them only).
    #[error("the OA {oa_id} of the Zalo app {app_id} is served by the pairing {by:?}: one OA is served by one pairing (remove that one first, or give this one another OA)")]
    OaTaken {
        /// The Zalo app.
        app_id: String,
        /// The OA.
        oa_id: String,
        /// The pairing that serves it.
        by: String,
    },
    /// The store could not be read or written.
    #[error("cannot store the pairing: {0}")]
    Store(#[from] StoreError),
    /// The values could not be encoded (never expected).
    #[error("cannot encode the pairing's values: {0}")]
    Encode(String),
}

/// What [`add_pairing`] did.
#[derive(Debug, Clone)]
pub struct Added {
    /// The pairing's URLs to paste in the platforms' dashboards.
    pub urls: PairingUrls,
    /// A pairing of that name existed and its settings were replaced.
    pub replaced: bool,
}

/// Adds (or, with `replace`, replaces) the pairing `name` and returns the URLs to paste.
pub async fn add_pairing(
    config: &Config,
    store: &Store,
    name: &str,
    settings: &PairingSettings,
    secrets: &PairingSecrets,
    replace: bool,
) -> Result<Added, AddError> {
    check_new_pairing(name, settings.zalo_oa_id.as_deref())?;
    // Validated as the file's would be, before anything is stored.
    config.for_pairing(settings, secrets)?;
    let oa_id = settings.zalo_oa_id.clone().unwrap_or_default();
    let serves =
        |app_id: &str, oa: Option<&str>| app_id == settings.zalo_app_id && oa == Some(&oa_id);
    if serves(&config.zalo.app_id, config.zalo.oa_id.as_deref()) {
        return Err(AddError::OaTaken {
            app_id: settings.zalo_app_id.clone(),
            oa_id,
            by: DEFAULT_PAIRING.to_string(),
        });
    }
    let mut existed = false;
    for other in store.registered_pairings().await? {
        if other.name == name {
            if !replace {
                return Err(AddError::Exists(name.to_string()));
            }
            let was = serde_json::from_str::<PairingSettings>(&other.settings)
                .ok()
                .and_then(|s| s.zalo_oa_id);
            if let Some(was) = was.filter(|was| *was != oa_id) {
                return Err(AddError::OaChanged {
                    name: name.to_string(),
                    was,
                    now: oa_id,
                });
            }
            existed = true;
            continue;
        }
        // A pairing whose stored settings cannot be read serves nothing (the list says so).
        if let Ok(s) = serde_json::from_str::<PairingSettings>(&other.settings) {
            if serves(&s.zalo_app_id, s.zalo_oa_id.as_deref()) {
                return Err(AddError::OaTaken {
                    app_id: settings.zalo_app_id.clone(),
                    oa_id,
                    by: other.name,
                });
            }
        }
    }
    let encode = |e: serde_json::Error| AddError::Encode(e.to_string());
    store
        .register_pairing(
            name.to_string(),
            serde_json::to_string(settings).map_err(encode)?,
            // serde's message could only quote the value on reading, never on writing.
            serde_json::to_string(secrets).map_err(encode)?,
        )
        .await?;
    tracing::info!(pairing = %name, replaced = existed, "pairing added; served after a restart");
    Ok(Added {
        urls: PairingUrls::of(config, name),
        replaced: existed,
    })
}
