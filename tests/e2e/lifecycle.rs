//! The daemon's life: tokens refreshed ahead of expiry on schedule, graceful shutdown on SIGTERM.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use secrecy::ExposeSecret;
use zfsync::tools::sandbox::{wait_http_ok, Env, EnvOptions};

use crate::helpers::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_ahead_of_expiry_rotates_and_retires_the_old_pair() {
    let env = env_with(EnvOptions {
        // Everything is "about to expire" (25 h tokens, 26 h margin): the scheduled check refreshes.
        sync_toml: "token_refresh_ahead_secs = 93600\n".into(),
        ..EnvOptions::default()
    })
    .await;
    let services = zfsync::services::Services::new(&env.config().unwrap())
        .await
        .unwrap();
    let before = services.store.tokens().await.unwrap().unwrap();
    assert!(
        services.tokens().refresh_if_due().await.unwrap(),
        "due, so refreshed"
    );
    let after = services.store.tokens().await.unwrap().unwrap();
    assert_ne!(
        after.refresh_token, before.refresh_token,
        "a new pair was stored"
    );
    assert_ne!(after.access_token, before.access_token);
    // Zalo refresh tokens are single-use: the old one is dead now (-14014).
    let zalo = services.zalo.client().clone();
    let old = secrecy::SecretString::from(before.refresh_token);
    let e = zalo.refresh_token(&old).await.unwrap_err();
    assert_eq!(e.code(), Some(-14014), "{e}");
    // The new access token works.
    let access = services.tokens().access_token().await.unwrap();
    assert_eq!(access.expose_secret(), after.access_token);
    assert!(zalo.oa_info(&access).await.is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_stops_taking_webhooks_and_exits_cleanly() {
    let env = Env::new(EnvOptions::default()).await.unwrap();
    let mut child = spawn_daemon(&env, &[], "daemon.log");
    wait_http_ok(
        &format!("{}/healthz", env.daemon_url()),
        Duration::from_secs(20),
    )
    .await
    .unwrap();
    sigterm(&child);
    let status = tokio::time::timeout(Duration::from_secs(20), child.wait())
        .await
        .expect("exits within 20 s")
        .unwrap();
    assert!(status.success(), "clean exit on SIGTERM: {status:?}");
    assert!(
        reqwest::get(format!("{}/healthz", env.daemon_url()))
            .await
            .is_err(),
        "no longer listening"
    );
}
