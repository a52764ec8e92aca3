//! Checks of what is on this machine: the config file, the public URL (its form, and whether it
//! reaches this machine), the store, the rules. A failed probe is a [`Check`] at FAIL with the fix.

use std::net::SocketAddr;

use super::*;

/// How long the public URL probe waits for an answer through the proxy.
const REACH_TIMEOUT: Duration = Duration::from_secs(10);

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
        ConfigError::PairingName(_) => Check::fail(
            CHECK_CONFIG,
            e.to_string(),
            "give the pairing a name of lower-case letters, digits and '-'",
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

/// `public_url` joined with a route, as [`Config::public_url`] does it.
fn join(url: &Url, path: &str) -> String {
    format!("{}{path}", url.as_str().trim_end_matches('/'))
}

/// The form of the public URL: https (or loopback, for tests), and the webhook URLs it makes.
/// Plain http elsewhere fails, as the config's own validation does.
pub fn public_url(url: &Url) -> Check {
    let zalo = join(url, crate::routes::ROUTE_ZALO_WEBHOOK);
    let freshchat = join(url, crate::routes::ROUTE_FRESHCHAT_WEBHOOK);
    // The config refuses it too: the platforms call it, and it carries the OAuth code.
    if url.scheme() != "https" && !crate::config::is_loopback(url) {
        return Check::fail(
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

/// Whether `public_url` reaches `listen` on this machine: a one-off server on `listen` answers
/// `/healthz` with a random value, which must come back through the public URL (so a proxy that
/// forwards to another server, or to nothing, is caught). When `listen` is taken (a daemon already
/// runs there), the public URL's `/healthz` must answer 200, which says less: WARN.
pub async fn public_url_reachable(url: &Url, listen: SocketAddr) -> Check {
    let probe = join(url, "/healthz");
    let Some(nonce) = crate::services::random_token() else {
        return Check::fail(
            CHECK_PUBLIC_URL,
            "cannot probe the public URL: the system's random number generator failed",
            "run the check again",
        );
    };
    let listener = match tokio::net::TcpListener::bind(listen).await {
        Ok(l) => Some(l),
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => None,
        Err(e) => {
            return Check::fail(
                CHECK_PUBLIC_URL,
                format!("cannot listen on {listen} (server.listen): {e}"),
                "choose an address of this machine and a free port (ports below 1024 need privileges), e.g. 127.0.0.1:8080 behind the proxy",
            )
        }
    };
    let client = match reqwest::Client::builder()
        .timeout(REACH_TIMEOUT)
        .pool_max_idle_per_host(0)
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            return Check::fail(
                CHECK_PUBLIC_URL,
                format!("cannot start the HTTP client: {e}"),
                "check that the machine has CA certificates (apt-get install ca-certificates)",
            )
        }
    };
    let Some(listener) = listener else {
        return match client.get(&probe).send().await {
            Ok(r) if r.status().is_success() => Check::warn(
                CHECK_PUBLIC_URL,
                format!("{probe} answers, but {listen} is already taken (a running zfsync?), so it is not certain the URL reaches it"),
                format!("stop whatever listens on {listen} and check again, or make sure it is this zfsync"),
            ),
            Ok(r) => unreachable_check(&probe, listen, &format!("it answered HTTP {}", r.status())),
            Err(e) => unreachable_check(&probe, listen, &error_chain(&e)),
        };
    };
    let stop = tokio_util::sync::CancellationToken::new();
    let answer = nonce.clone();
    let app = axum::Router::new().route(
        "/healthz",
        axum::routing::get(move || {
            let answer = answer.clone();
            async move { answer }
        }),
    );
    let stopped = stop.clone();
    let server = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async move { stopped.cancelled().await })
            .await
    });
    let answered = match client.get(&probe).send().await {
        Ok(r) => {
            let status = r.status();
            Ok((status, r.text().await.unwrap_or_default()))
        }
        Err(e) => Err(error_chain(&e)),
    };
    drop(client);
    stop.cancel();
    let _ = server.await;
    match answered {
        Ok((status, body)) if status.is_success() && body == nonce => Check::ok(
            CHECK_PUBLIC_URL,
            format!("{url} reaches this machine ({listen})"),
        ),
        Ok((status, _)) if status.is_success() => Check::fail(
            CHECK_PUBLIC_URL,
            format!("{probe} answers, but from another server, not from {listen}"),
            format!("point the proxy for {} at {listen}, or set server.listen to the address the proxy forwards to", url.host_str().unwrap_or("the public URL")),
        ),
        Ok((status, _)) => unreachable_check(&probe, listen, &format!("it answered HTTP {status}")),
        Err(detail) => unreachable_check(&probe, listen, &detail),
    }
}

fn unreachable_check(probe: &str, listen: SocketAddr, why: &str) -> Check {
    Check::fail(
        CHECK_PUBLIC_URL,
        format!("{probe} does not reach this machine's {listen}: {why}"),
        format!("make the public URL's host resolve to this machine and have the TLS proxy forward it to {listen}; Zalo, Freshchat and the OAuth callback all need it"),
    )
}

/// An error with its causes, `a: b: c` (reqwest's own message leaves the cause out).
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

// ---------------------------------------------------------------- store

pub(super) fn store_fix(e: &ServicesError, config: &Config) -> String {
    let store = match e {
        ServicesError::Store(s) | ServicesError::Sync(SyncError::Store(s)) => Some(s),
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
            "run the zfsync release that migrated this store (or a newer one); to go back to this one, restore the copy or backup taken before the upgrade (RELIABILITY.md, Upgrades)".into()
        }
        Some(StoreError::Migration { from, .. }) => format!(
            "nothing was migrated: {} is still at schema version {from} and the release that wrote it still runs on it. If it is not a zfsync store or is damaged, restore it from a backup, or point store.path at a new file and run 'zfsync connect zalo' again",
            config.store.path.display()
        ),
        Some(StoreError::PgMigration { from, .. }) => format!(
            "nothing was migrated: the database is still at schema version {from} and the release that wrote it still runs on it; the message above names the statement that failed"
        ),
        Some(StoreError::PreMigrationBackup { path, .. }) => format!(
            "free disk space for {} (a copy as large as the store) and run again",
            path.display()
        ),
        Some(StoreError::PgUrl { .. } | StoreError::PgConnect { .. } | StoreError::Postgres(_)) => {
            "the message above is PostgreSQL's own; the database needs a login role that owns it (CREATE ROLE zfsync LOGIN PASSWORD '…'; CREATE DATABASE zfsync OWNER zfsync), and the URL with its password in ZFSYNC_STORE_URL (README, 'Setting PostgreSQL up')".into()
        }
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
