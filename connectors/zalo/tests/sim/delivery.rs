//! Webhook delivery: headers and signature, the retry ladder (`num_retry`, same body) and the webhook
//! Zalo disables after it, retries off, duplicates, reordering, and a burst larger than the queue
//! delivered whole and in order per user.

use std::sync::atomic::Ordering;

use serde_json::Value;
use sha2::{Digest as _, Sha256};
use zfsync_zalo::sim::QUEUE_CAPACITY;
use zfsync_zalo::sim::{SimConfig, UserAction, WebhookMode};

use super::*;

#[tokio::test]
async fn each_event_is_one_signed_post() {
    let (sim, _c, recv) = with_receiver(SimConfig::default()).await;
    let id = sim.user_sends(USER, UserAction::Text("Alo".into())).await;
    idle(&sim).await;
    let (h, raw) = recv.events().pop().unwrap();
    let cfg = sim.config();
    let v: Value = serde_json::from_slice(&raw).unwrap();
    assert_eq!(v["message"]["msg_id"], id.as_str());
    let mut sha = Sha256::new();
    sha.update(cfg.app_id.as_bytes());
    sha.update(&raw);
    sha.update(v["timestamp"].as_str().unwrap().as_bytes());
    sha.update(cfg.oa_secret_key.as_bytes());
    let mac = format!("mac={}", hex::encode(sha.finalize()));
    assert_eq!(h["x-zevent-signature"].to_str().unwrap(), mac);
    assert_eq!(h["content-type"], "application/json");
    assert_eq!(h["x-zevent-server"], "OA OpenAPI");
    assert_eq!(h["user-agent"], "ZaloWebhook");
    assert!(h.get("num_retry").is_none() && h.get("x-zevent-timestamp").is_none());
    // Changing one byte breaks the signature a receiver computes.
    let mut tampered = raw.to_vec();
    tampered[raw.len() - 3] ^= 1;
    let mut sha = Sha256::new();
    sha.update(cfg.app_id.as_bytes());
    sha.update(&tampered);
    sha.update(v["timestamp"].as_str().unwrap().as_bytes());
    sha.update(cfg.oa_secret_key.as_bytes());
    assert_ne!(format!("mac={}", hex::encode(sha.finalize())), mac);
}

#[tokio::test]
async fn the_ladder_ends_with_a_disabled_webhook_until_it_is_set_again() {
    // 30 s / 6000 = 5 ms ... 1 h / 6000 = 600 ms.
    let (sim, _c, recv) = with_receiver(SimConfig {
        time_scale: 6000.0,
        ..SimConfig::default()
    })
    .await;
    recv.fail_first.store(100, Ordering::SeqCst);
    sim.user_sends(USER, UserAction::Text("lost".into())).await;
    idle(&sim).await;
    let d = sim.deliveries();
    assert_eq!(
        d.iter().map(|r| r.num_retry).collect::<Vec<_>>(),
        [0, 1, 2, 3, 4, 5]
    );
    assert!(d.iter().all(|r| r.status == Some(500)));
    let got = recv.events();
    assert!(
        got.windows(2).all(|w| w[0].1 == w[1].1),
        "the same body every time"
    );
    assert_eq!(got[5].0["num_retry"], "5");
    assert!(sim.webhook_disabled());
    // Disabled: later events are not even attempted.
    recv.fail_first.store(0, Ordering::SeqCst);
    sim.user_sends(USER, UserAction::Text("dropped".into()))
        .await;
    idle(&sim).await;
    assert_eq!(recv.events().len(), 6);
    // The admin saves the URL again.
    let url = sim.config().webhook_url;
    sim.set_webhook_url(url);
    assert!(!sim.webhook_disabled());
    sim.user_sends(USER, UserAction::Text("back".into())).await;
    idle(&sim).await;
    assert_eq!(recv.events().len(), 7);
    assert_eq!(sim.deliveries().last().unwrap().status, Some(200));

    // Configured not to disable: the webhook stays on.
    let (sim, _c, recv) = with_receiver(SimConfig {
        time_scale: 6000.0,
        disable_webhook_after_ladder: false,
        ..SimConfig::default()
    })
    .await;
    recv.fail_first.store(6, Ordering::SeqCst);
    sim.user_sends(USER, UserAction::Text("lost".into())).await;
    idle(&sim).await;
    sim.user_sends(USER, UserAction::Text("next".into())).await;
    idle(&sim).await;
    assert!(!sim.webhook_disabled());
    assert_eq!(recv.events().len(), 7);
}

#[tokio::test]
async fn without_retry_a_failure_is_final() {
    let (sim, _c, recv) = with_receiver(SimConfig::default()).await;
    sim.set_webhook_retry(false);
    recv.fail_first.store(1, Ordering::SeqCst);
    sim.user_sends(USER, UserAction::Text("once".into())).await;
    sim.user_sends(USER, UserAction::Text("twice".into())).await;
    idle(&sim).await;
    let d = sim.deliveries();
    assert_eq!(
        d.iter()
            .map(|r| (r.status, r.num_retry))
            .collect::<Vec<_>>(),
        [(Some(500), 0), (Some(200), 0)]
    );
    assert!(!sim.webhook_disabled());
}

#[tokio::test]
async fn duplicates_and_reordering_on_request() {
    let (sim, _c, recv) = with_receiver(SimConfig::default()).await;
    sim.set_webhook_mode(WebhookMode::Duplicate);
    sim.user_sends(USER, UserAction::Text("a".into())).await;
    idle(&sim).await;
    let got = recv.events();
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].1, got[1].1);
    assert_eq!(
        got[0].0["x-zevent-signature"],
        got[1].0["x-zevent-signature"]
    );
    sim.set_webhook_mode(WebhookMode::Reorder);
    let mut ids = vec![];
    for t in ["1", "2", "3"] {
        ids.push(sim.user_sends(USER, UserAction::Text(t.into())).await);
    }
    idle(&sim).await;
    let order: Vec<String> = recv.bodies()[2..]
        .iter()
        .map(|b| b["message"]["msg_id"].as_str().unwrap().to_owned())
        .collect();
    ids.reverse();
    assert_eq!(order, ids);
}

#[tokio::test]
async fn a_burst_larger_than_the_queue_arrives_whole_and_in_order_per_user() {
    let (sim, _c, recv) = with_receiver(SimConfig::default()).await;
    let users: Vec<String> = (0..40).map(|i| format!("52340000000000{i:05}")).collect();
    let per_user = QUEUE_CAPACITY / users.len() + 5;
    let mut sent: Vec<Vec<String>> = vec![vec![]; users.len()];
    for n in 0..per_user {
        for (i, u) in users.iter().enumerate() {
            sent[i].push(sim.user_sends(u, UserAction::Text(format!("{n}"))).await);
        }
    }
    idle(&sim).await;
    let bodies = recv.bodies();
    assert_eq!(bodies.len(), users.len() * per_user);
    assert!(bodies.len() > QUEUE_CAPACITY);
    for (i, u) in users.iter().enumerate() {
        let got: Vec<&str> = bodies
            .iter()
            .filter(|b| b["sender"]["id"] == u.as_str())
            .map(|b| b["message"]["msg_id"].as_str().unwrap())
            .collect();
        assert_eq!(got, sent[i], "{u}");
    }
    assert_eq!(sim.message_count() as usize, bodies.len());
}
