//! Replicas: several daemons on one PostgreSQL database (whatever `ZFSYNC_TEST_STORE` says), each
//! taking a conversation's lane only under its lease. The daemon of the environment runs in this
//! process; the other is `zfsync run` on the same configuration, another port. The sandbox's
//! spreader in front of both hands every webhook to both at once ([`Spread::All`]: the store's
//! deduplication, not the balancer, keeps one copy), answering 200 once either stored it.
#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use zfsync::routes::{ROUTE_FRESHCHAT_WEBHOOK, ROUTE_ZALO_WEBHOOK};
use zfsync::tools::sandbox::{
    wait_for, wait_http_ok, Env, EnvOptions, Spread, Spreader, StoreBackend,
};
use zfsync_freshchat::MessagePart;
use zfsync_zalo::sim::UserAction;

use crate::helpers::*;

/// The environment's daemon (in this process) with `sync` lines, on PostgreSQL, Zalo connected.
async fn replicated_env(sync: &str) -> Env {
    env_with(EnvOptions {
        store: StoreBackend::Postgres,
        sync_toml: sync.into(),
        ..EnvOptions::default()
    })
    .await
}

/// `zfsync run` on the environment's configuration, on another port; its URL once it answers.
async fn second_replica(env: &Env, log: &str) -> (tokio::process::Child, String) {
    let (config, url) = env.replica_config(log).unwrap();
    let log = std::fs::File::create(env.dir.path().join(log)).unwrap();
    let child = zfsync()
        .args(["run", "--config"])
        .arg(&config)
        .env("RUST_LOG", "info")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    wait_http_ok(&format!("{url}/healthz"), Duration::from_secs(30))
        .await
        .unwrap();
    (child, url)
}

/// Both simulators deliver their webhooks through `fan`.
fn deliver_through(env: &Env, fan: &Spreader) {
    env.zalo
        .set_webhook_url(Some(format!("{}{ROUTE_ZALO_WEBHOOK}", fan.url)));
    env.freshchat
        .set_webhook_url(Some(format!("{}{ROUTE_FRESHCHAT_WEBHOOK}", fan.url)));
}

/// Waits until `user`'s conversation holds exactly `expected` customer texts, in this order, and
/// the OA sent them exactly `replies`, in order; then looks again after the webhooks settled.
async fn exactly_once_in_order(env: &Env, user: &str, expected: &[String], replies: &[String]) {
    for _ in 0..2 {
        let got = wait_for(Duration::from_secs(60), || async {
            let conv = conversation(env, user)?;
            let texts: Vec<String> = env
                .fc_messages(&conv)
                .iter()
                .filter(|m| matches!(m.actor_type, zfsync_freshchat::ActorType::User))
                .flat_map(texts)
                .collect();
            let sent: Vec<String> = env
                .zalo
                .sent_to(user)
                .iter()
                .filter_map(zalo_text)
                .collect();
            (texts.len() >= expected.len() && sent.len() >= replies.len()).then_some((texts, sent))
        })
        .await
        .unwrap_or_else(|| panic!("{user}: not everything arrived within 60 s"));
        assert_eq!(got.0, expected, "{user}: customer messages in Freshchat");
        assert_eq!(got.1, replies, "{user}: agent replies on Zalo");
        settle(env).await;
    }
}

fn agent_text(content: String) -> Vec<MessagePart> {
    vec![MessagePart::Text { content }]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_given_every_webhook_deliver_each_message_once_and_in_order() {
    let env = replicated_env("").await;
    let (mut child, second) = second_replica(&env, "second.log").await;
    let fan = Spreader::start(vec![env.daemon_url(), second], Spread::All)
        .await
        .unwrap();
    deliver_through(&env, &fan);

    let users: Vec<String> = (0..4).map(|i| format!("52340000000000012{i:02}")).collect();
    let mut convs = Vec::new();
    for u in &users {
        convs.push(start_conversation(&env, u).await);
    }
    let agent = env.freshchat.default_agent_id();
    for round in 0..6 {
        for (u, conv) in users.iter().zip(&convs) {
            env.zalo
                .user_sends(u, UserAction::Text(format!("{u} says {round}")))
                .await;
            if round % 2 == 0 {
                env.agent_says(conv, &agent, &agent_text(format!("to {u}: {round}")))
                    .await
                    .unwrap();
            }
        }
    }
    for u in &users {
        let expected: Vec<String> = std::iter::once("hello".to_string())
            .chain((0..6).map(|r| format!("{u} says {r}")))
            .collect();
        let replies: Vec<String> = (0..6).step_by(2).map(|r| format!("to {u}: {r}")).collect();
        exactly_once_in_order(&env, u, &expected, &replies).await;
    }
    child.start_kill().unwrap();
    let _ = child.wait().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_replicas_lanes_are_taken_over_within_the_lease_time() {
    const LEASE_SECS: u64 = 3;
    let env = replicated_env(&format!("lane_lease_secs = {LEASE_SECS}")).await;
    let (mut child, second) = second_replica(&env, "killed.log").await;
    // Only the second replica hears the webhooks, and Freshchat answers slowly: it holds the
    // lanes, mid-step, when it is killed.
    let fan = Spreader::start(vec![second.clone()], Spread::All)
        .await
        .unwrap();
    deliver_through(&env, &fan);
    let users: Vec<String> = (0..3).map(|i| format!("52340000000000013{i:02}")).collect();
    for u in &users {
        add_user(&env, u, "Minh");
    }
    env.freshchat.set_latency(Duration::from_millis(400));
    for round in 0..4 {
        for u in &users {
            env.zalo
                .user_sends(u, UserAction::Text(format!("{u} says {round}")))
                .await;
        }
    }
    // Every webhook stored before the kill: a delivery cut by the kill would be redelivered by
    // Zalo after later ones, out of order by the platform's doing, not the daemon's.
    assert!(env.zalo.wait_deliveries_idle(WAIT).await);
    let store = store(&env);
    let lanes: Vec<Lane> = users.iter().map(|u| Lane::zalo(Some(u))).collect();
    let mine = store.replica_id().to_string();
    let held = wait_for(WAIT, || async {
        for lane in &lanes {
            match store.lane_lease_holder(lane).await.unwrap() {
                Some(h) if h != mine => return Some(lane.clone()),
                _ => {}
            }
        }
        None
    })
    .await
    .expect("the second replica takes a lane");

    // SIGKILL: no lease given up, a step possibly left `sending`.
    child.start_kill().unwrap();
    let _ = child.wait().await;
    let killed = Instant::now();
    fan.send_to(vec![env.daemon_url()]);
    // Taken over: held here, or already drained here (all its messages in Freshchat).
    let held_user = users
        .iter()
        .find(|u| Lane::zalo(Some(u.as_str())) == held)
        .unwrap()
        .clone();
    let taken = wait_for(Duration::from_secs(LEASE_SECS * 4), || async {
        let here = store.lane_lease_holder(&held).await.unwrap().as_deref() == Some(mine.as_str());
        let drained = conversation(&env, &held_user).is_some_and(|c| {
            env.fc_messages(&c)
                .iter()
                .filter(|m| matches!(m.actor_type, zfsync_freshchat::ActorType::User))
                .count()
                >= 4
        });
        (here || drained).then_some(())
    })
    .await;
    let after = killed.elapsed();
    env.freshchat.set_latency(Duration::ZERO);
    assert!(taken.is_some(), "the lane was never taken over");
    // The lease time, then the look that follows it (at most a second) and the sweep (2 s).
    assert!(
        after <= Duration::from_secs(LEASE_SECS + 3),
        "taken over after {after:?}"
    );
    for u in &users {
        let expected: Vec<String> = (0..4).map(|r| format!("{u} says {r}")).collect();
        exactly_once_in_order(&env, u, &expected, &[]).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_racing_a_token_refresh_spend_the_refresh_token_once() {
    // Both replicas find the token due every second and race to refresh it.
    let env =
        replicated_env("token_refresh_cron = \"* * * * * *\"\ntoken_refresh_ahead_secs = 200000")
            .await;
    let (before, refused_before) = env.zalo.token_refreshes();
    let generation = stored_tokens(&env).await.generation;
    let (mut child, second) = second_replica(&env, "refresh.log").await;
    // A slow token endpoint: each refresh is in flight while the other replica looks.
    env.zalo.set_latency(Duration::from_millis(300));
    let fan = Spreader::start(vec![env.daemon_url(), second], Spread::All)
        .await
        .unwrap();
    deliver_through(&env, &fan);
    tokio::time::sleep(Duration::from_secs(6)).await;
    child.start_kill().unwrap();
    let _ = child.wait().await;
    let (spent, refused) = env.zalo.token_refreshes();
    assert_eq!(
        refused, refused_before,
        "no refresh token was offered twice"
    );
    assert!(
        spent - before >= 3,
        "refreshed every second: {}",
        spent - before
    );
    let t = stored_tokens(&env).await;
    assert_eq!(t.needs_reauth, None);
    // Every refresh's pair was stored, and the stored pair works.
    assert!(t.generation - generation + 1 >= (spent - before) as i64);
    let u = "5234000000000001400";
    start_conversation(&env, u).await;
}
