//! A pairing's own settings: what `zfsync pairing add` takes and the store's registry keeps (one
//! Zalo OA ↔ one Freshchat account, besides `default`, whose settings are the file's `[zalo]`,
//! `[freshchat]` and `[mapping]`). Everything else (server, store, sync, media) is the
//! deployment's and shared.
//!
//! Failure: a bad name or a setting the file's validation would refuse is a [`ConfigError`]
//! naming the pairing's setting.

use std::path::PathBuf;

use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use url::Url;

use super::{Config, ConfigError, FreshchatConfig, MappingConfig, ZaloConfig};

/// The pairing of the configuration file's own settings.
pub const DEFAULT_PAIRING: &str = "default";

/// The settings of one pairing, without its secrets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PairingSettings {
    /// `zalo.app_id`.
    pub zalo_app_id: String,
    /// `zalo.oa_id`: the OA this pairing serves.
    pub zalo_oa_id: Option<String>,
    /// `zalo.api_base`.
    pub zalo_api_base: Url,
    /// `zalo.oauth_base`.
    pub zalo_oauth_base: Url,
    /// `freshchat.api_base`.
    pub freshchat_api_base: Url,
    /// `freshchat.app_id`.
    pub freshchat_app_id: Option<String>,
    /// `freshchat.channel_id`.
    pub freshchat_channel_id: Option<String>,
    /// `freshchat.channel_name`.
    pub freshchat_channel_name: Option<String>,
    /// `mapping.rules`.
    pub mapping_rules: Option<PathBuf>,
    /// `mapping.language`.
    pub mapping_language: Option<String>,
    /// `mapping.agent_language` (absent in pairings added before it existed).
    #[serde(default)]
    pub mapping_agent_language: Option<String>,
}

/// The secrets of one pairing (sealed in the store; never in `Debug`).
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PairingSecrets {
    /// `zalo.app_secret`.
    pub zalo_app_secret: String,
    /// `zalo.oa_secret_key`.
    pub zalo_oa_secret_key: String,
    /// `freshchat.api_key`.
    pub freshchat_api_key: String,
    /// `freshchat.webhook_public_key`.
    pub freshchat_webhook_public_key: String,
}

impl std::fmt::Debug for PairingSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PairingSecrets([redacted])")
    }
}

/// Refuses a pairing name that cannot be a path segment and a label: 1–40 characters, lower-case
/// letters, digits and `-`, starting with a letter or digit.
pub fn check_pairing_name(name: &str) -> Result<(), ConfigError> {
    let ok = !name.is_empty()
        && name.len() <= 40
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.starts_with('-');
    if ok {
        Ok(())
    } else {
        Err(ConfigError::PairingName(format!(
            "{:?} cannot name a pairing: use 1–40 lower-case letters, digits and '-' (it becomes part of the webhook URLs, e.g. shop-hanoi)",
            name.chars().take(60).collect::<String>()
        )))
    }
}

/// A pairing about to be added (`zfsync pairing add`, the console's form): its name is valid
/// and not `default` (the file's), and it names the one OA it serves.
pub fn check_new_pairing(name: &str, oa_id: Option<&str>) -> Result<(), ConfigError> {
    check_pairing_name(name)?;
    if name == DEFAULT_PAIRING {
        return Err(ConfigError::PairingName(
            "'default' is the configuration file's pairing: change it in the file (or 'zfsync init --force')".into(),
        ));
    }
    if oa_id.is_none_or(|id| id.trim().is_empty()) {
        return Err(ConfigError::Invalid {
            key: "zalo.oa_id",
            detail: "a pairing serves one Zalo OA, and only that OA can be connected to it: give its OA id (--oa-id)".into(),
        });
    }
    Ok(())
}

impl PairingSettings {
    /// The configuration file's own pairing, as settings (what `pairing add` starts from).
    pub fn of(config: &Config) -> PairingSettings {
        PairingSettings {
            zalo_app_id: config.zalo.app_id.clone(),
            zalo_oa_id: config.zalo.oa_id.clone(),
            zalo_api_base: config.zalo.api_base.clone(),
            zalo_oauth_base: config.zalo.oauth_base.clone(),
            freshchat_api_base: config.freshchat.api_base.clone(),
            freshchat_app_id: config.freshchat.app_id.clone(),
            freshchat_channel_id: config.freshchat.channel_id.clone(),
            freshchat_channel_name: config.freshchat.channel_name.clone(),
            mapping_rules: config.mapping.rules.clone(),
            mapping_language: config.mapping.language.clone(),
            mapping_agent_language: config.mapping.agent_language.clone(),
        }
    }
}

impl Config {
    /// The configuration one pairing runs with: this deployment's, with the pairing's Zalo,
    /// Freshchat and mapping settings and secrets, validated as the file's would be.
    pub fn for_pairing(
        &self,
        settings: &PairingSettings,
        secrets: &PairingSecrets,
    ) -> Result<Config, ConfigError> {
        let mut c = self.clone();
        c.zalo = ZaloConfig {
            app_id: settings.zalo_app_id.clone(),
            app_secret: Some(SecretString::from(secrets.zalo_app_secret.clone())),
            oa_secret_key: Some(SecretString::from(secrets.zalo_oa_secret_key.clone())),
            oa_id: settings.zalo_oa_id.clone(),
            site_verification: None,
            api_base: settings.zalo_api_base.clone(),
            oauth_base: settings.zalo_oauth_base.clone(),
        };
        c.freshchat = FreshchatConfig {
            api_base: settings.freshchat_api_base.clone(),
            app_id: settings.freshchat_app_id.clone(),
            api_key: Some(SecretString::from(secrets.freshchat_api_key.clone())),
            channel_id: settings.freshchat_channel_id.clone(),
            channel_name: settings.freshchat_channel_name.clone(),
            webhook_public_key: Some(SecretString::from(
                secrets.freshchat_webhook_public_key.clone(),
            )),
        };
        c.mapping = MappingConfig {
            rules: settings.mapping_rules.clone(),
            language: settings.mapping_language.clone(),
            agent_language: settings.mapping_agent_language.clone(),
        };
        c.validate()?;
        Ok(c)
    }
}
