//! The daemon on PostgreSQL (`store.url`), whatever `ZFSYNC_TEST_STORE` says: one daemon per
//! database, so a second one on the same database is refused at start with what to do, and
//! nothing it could have done reaches the store.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use zfsync::tools::sandbox::{Env, EnvOptions, StoreBackend};

use crate::helpers::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_daemon_on_the_same_database_is_refused() {
    let mut env = Env::new(EnvOptions {
        store: StoreBackend::Postgres,
        ..EnvOptions::default()
    })
    .await
    .unwrap();
    env.start_daemon().await.unwrap();
    env.connect_zalo().await.unwrap();
    start_conversation(&env, "5234000000000000990").await;

    // The same deployment's file, on another port.
    let other = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = other.local_addr().unwrap().port();
    drop(other);
    let text = std::fs::read_to_string(env.config_path()).unwrap();
    let mine = env.daemon_addr.port().to_string();
    let second = env.dir.path().join("second.toml");
    std::fs::write(&second, text.replace(&mine, &port.to_string())).unwrap();
    let out = tokio::time::timeout(
        Duration::from_secs(30),
        zfsync().args(["run", "--config"]).arg(&second).output(),
    )
    .await
    .unwrap()
    .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains("another zfsync daemon already serves the database"),
        "{stderr}"
    );
    assert!(!stderr.contains("password"), "{stderr}");
    // The first one still serves.
    start_conversation(&env, "5234000000000000991").await;
}
