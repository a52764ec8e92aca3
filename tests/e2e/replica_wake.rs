//! New work wakes idle replicas: with the periodic sweep an hour apart, a replica learns of a
//! conversation's new message stored by another replica only from the store's notification, and
//! drains it while the replica that took the webhook cannot (PostgreSQL only: SQLite has one
//! process).
#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::time::Duration;

use zfsync::routes::ROUTE_ZALO_WEBHOOK;
use zfsync::tools::sandbox::{wait_http_ok, EnvOptions, StoreBackend};
use zfsync_zalo::sim::UserAction;

use crate::helpers::*;

/// Sends `signal` (`STOP`, `CONT`) to a process.
async fn signal(pid: u32, signal: &str) {
    let status = tokio::process::Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(pid.to_string())
        .status()
        .await
        .unwrap();
    assert!(status.success(), "kill -{signal} {pid}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_that_did_not_take_the_webhook_is_woken_to_drain_its_lane() {
    // No periodic look at the store within the test, and no history reconciliation either.
    let env = env_with(EnvOptions {
        store: StoreBackend::Postgres,
        sync_toml: "lane_sweep_secs = 3600\nreconcile_cron = \"off\"".into(),
        ..EnvOptions::default()
    })
    .await;
    // Replica A: `zfsync run` on the same configuration and database, another port. The daemon
    // of the environment is replica B.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config = env.dir.path().join("a.toml");
    let text = std::fs::read_to_string(env.config_path()).unwrap();
    std::fs::write(
        &config,
        text.replace(&env.daemon_addr.port().to_string(), &port.to_string()),
    )
    .unwrap();
    let mut a = zfsync()
        .args(["run", "--config"])
        .arg(&config)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(env.dir.path().join("a.log")).unwrap())
        .spawn()
        .unwrap();
    let a_url = format!("http://{}", SocketAddr::from(([127, 0, 0, 1], port)));
    wait_http_ok(&format!("{a_url}/healthz"), Duration::from_secs(30))
        .await
        .unwrap();

    // A third holder keeps the conversation's lane, so A cannot take it when the webhook comes.
    let user = "5234000000000001401";
    add_user(&env, user, "Minh");
    let lane = Lane::zalo(Some(user));
    let holder = zfsync::services::open_store(&env.config().unwrap()).unwrap();
    assert_eq!(
        holder
            .take_lane_lease(&lane, Duration::from_secs(600))
            .await
            .unwrap(),
        zfsync::store::LaneLease::Granted
    );
    // Zalo delivers the message to A alone; A stores it and answers.
    env.zalo
        .set_webhook_url(Some(format!("{a_url}{ROUTE_ZALO_WEBHOOK}")));
    env.zalo
        .user_sends(user, UserAction::Text("via A".into()))
        .await;
    assert!(env.zalo.wait_deliveries_idle(WAIT).await);
    // A stops (it cannot drain anything), and the holder gives the lane up.
    let pid = a.id().unwrap();
    signal(pid, "STOP").await;
    holder.release_lane_lease(&lane).await.unwrap();

    // B never got the webhook and sweeps once an hour: only the notification told it.
    let got = customer_messages(&env, user, 1).await;
    assert_eq!(got.len(), 1);
    assert!(
        metrics(&env)
            .await
            .lines()
            .any(|l| l.starts_with("zfsync_work_notified_total{pairing=\"default\"}")),
        "B counts the wake-ups it received"
    );
    signal(pid, "CONT").await;
    a.start_kill().unwrap();
    let _ = a.wait().await;
}
