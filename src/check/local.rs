//! Checks of what is on this machine: the config file, the public URL, the store, the rules.

use super::*;

// ---------------------------------------------------------------- config

pub(super) fn config_failure(path: &Path, e: &ConfigError) -> Check {
    match e {
        ConfigError::Read { .. } => Check::fail(
            CHECK_CONFIG,
            e.to_string(),
            "check the path given to --config and that this user may read it (config.example.toml is a documented starting point)",
        ),
        ConfigError::Parse { detail, .. } => {
            let text = std::fs::read_to_string(path).unwrap_or_default();
            Check::fail(
                CHECK_CONFIG,
                format!(
                    "the config file {} is not valid: {}",
                    path.display(),
                    crate::config::condense_toml_error(detail, &text)
                ),
                "correct that line; config.example.toml documents every key and section",
            )
        }
        ConfigError::Missing { key, hint } => Check::fail(
            CHECK_CONFIG,
            format!("config key `{key}` is missing"),
            *hint,
        ),
        ConfigError::Invalid { key, .. } => Check::fail(
            CHECK_CONFIG,
            e.to_string(),
            format!("correct `{key}` (config.example.toml documents it)"),
        ),
        ConfigError::Secrets { path, .. } => Check::fail(
            CHECK_CONFIG,
            e.to_string(),
            format!(
                "the secrets file holds ZFSYNC_NAME=value lines and only its owner may read it: fix {} or secrets_file",
                path.display()
            ),
        ),
    }
}

pub(super) fn public_url_check(config: &Config) -> Check {
    let url = &config.server.public_url;
    let zalo = config.public_url(crate::server::ROUTE_ZALO_WEBHOOK);
    let freshchat = config.public_url(crate::server::ROUTE_FRESHCHAT_WEBHOOK);
    if url.scheme() != "https" && !crate::config::is_loopback(url) {
        return Check::warn(
            CHECK_PUBLIC_URL,
            format!("server.public_url {url} is not https"),
            "Zalo and Freshchat deliver webhooks to https URLs: put zfsync behind a TLS proxy and set server.public_url to its https address",
        );
    }
    Check::ok(
        CHECK_PUBLIC_URL,
        format!("webhook URLs: {zalo} (Zalo app → Webhook page), {freshchat} (Freshchat Admin → Webhooks)"),
    )
}

// ---------------------------------------------------------------- store

pub(super) fn store_fix(e: &AppError, config: &Config) -> String {
    let store = match e {
        AppError::Store(s) | AppError::Sync(SyncError::Store(s)) => Some(s),
        _ => None,
    };
    let dir = config
        .store
        .path
        .parent()
        .map(|d| d.display().to_string())
        .filter(|d| !d.is_empty())
        .unwrap_or_else(|| ".".into());
    match store {
        Some(StoreError::TooNew { .. }) => {
            "install the zfsync version that wrote this store (or a newer one)".into()
        }
        Some(StoreError::Migration { .. }) => format!(
            "{} is not a zfsync store or is damaged: restore it from a backup, or point store.path at a new file and run 'zfsync connect zalo' again",
            config.store.path.display()
        ),
        _ => format!(
            "make sure {dir} exists and the zfsync user may write it (SQLite also creates -wal and -shm files beside {}), and that the disk is not full",
            config.store.path.display()
        ),
    }
}

pub(super) async fn probe_store(store: &Store, shown: &str) -> Check {
    match store
        .set_meta(META_LAST_CHECK, now_ms().to_string())
        .await
    {
        Ok(()) => Check::ok(
            CHECK_STORE,
            format!("{shown} opened, migrated and writable"),
        ),
        Err(e) => Check::fail(
            CHECK_STORE,
            format!("{shown} opened but a write failed: {e}"),
            format!("make sure the zfsync user may write {shown} and its directory (SQLite also writes -wal and -shm files there), and that the disk is not full"),
        ),
    }
}
