//! Delivery guarantees end to end: order per conversation, duplicates and reordering, refused
//! webhooks, token rotation, upstream bursts, and replaying failed events.
#![allow(clippy::unwrap_used)]

use zfsync::tools::sandbox::wait_for;
use zfsync_freshchat::sim::WebhookMode as FcWebhookMode;
use zfsync_freshchat::MessagePart;
use zfsync_zalo::sim::{UserAction, WebhookMode as ZaloWebhookMode};

use crate::helpers::*;

use super::{U1, U2};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn order_is_kept_per_conversation_under_load() {
    let env = env().await;
    let users: Vec<String> = (0..6).map(|i| format!("52340000000000001{i:02}")).collect();
    for (i, u) in users.iter().enumerate() {
        add_user(&env, u, &format!("Khách {i}"));
    }
    let per_user = 15;
    let mut sends = Vec::new();
    for n in 0..per_user {
        for u in &users {
            let z = env.zalo.clone();
            let u = u.clone();
            sends.push(async move {
                z.user_sends(&u, UserAction::Text(format!("{u} #{n:02}")))
                    .await
            });
        }
        // Each user's messages are sent in order; users interleave.
        futures::future::join_all(sends.drain(..)).await;
    }
    for u in &users {
        let msgs = customer_messages(&env, u, per_user).await;
        let got: Vec<String> = msgs.iter().flat_map(texts).collect();
        let want: Vec<String> = (0..per_user).map(|n| format!("{u} #{n:02}")).collect();
        assert_eq!(got, want, "ordered, exactly once");
    }
    settle(&env).await;
    assert_eq!(env.fc_users().len(), users.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicated_and_reordered_webhooks_deliver_once() {
    let env = env().await;
    add_user(&env, U1, "Minh");
    env.zalo.set_webhook_mode(ZaloWebhookMode::Duplicate);
    env.freshchat.set_webhook_mode(FcWebhookMode::Duplicate);
    for i in 0..5 {
        env.zalo
            .user_sends(U1, UserAction::Text(format!("m{i}")))
            .await;
    }
    let msgs = customer_messages(&env, U1, 5).await;
    let conv = conversation(&env, U1).unwrap();
    let agent = env.freshchat.default_agent_id();
    for i in 0..3 {
        env.agent_says(
            &conv,
            &agent,
            &[MessagePart::Text {
                content: format!("r{i}"),
            }],
        )
        .await
        .unwrap();
    }
    zalo_sent(&env, U1, 3).await;
    settle(&env).await;
    assert_eq!(
        customer_messages(&env, U1, 5).await.len(),
        5,
        "no duplicates in Freshchat: {msgs:?}"
    );
    let got: Vec<_> = env.zalo.sent_to(U1).iter().filter_map(zalo_text).collect();
    assert_eq!(got, vec!["r0", "r1", "r2"], "no duplicates in Zalo");

    // Reordered deliveries: each event still arrives exactly once.
    env.zalo.set_webhook_mode(ZaloWebhookMode::Reorder);
    for i in 5..8 {
        env.zalo
            .user_sends(U1, UserAction::Text(format!("m{i}")))
            .await;
    }
    env.zalo.set_webhook_mode(ZaloWebhookMode::Normal);
    let msgs = customer_messages(&env, U1, 8).await;
    let mut got: Vec<String> = msgs.iter().flat_map(texts).collect();
    got.sort();
    assert_eq!(got, (0..8).map(|i| format!("m{i}")).collect::<Vec<_>>());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_webhooks_are_rejected_and_nothing_is_stored() {
    let env = env().await;
    let client = reqwest::Client::new();
    let zalo_url = format!("{}/webhooks/zalo", env.daemon_url());
    let fc_url = format!("{}/webhooks/freshchat", env.daemon_url());
    let body = r#"{"app_id":"1234567890123456789","event_name":"user_send_text","sender":{"id":"1"},"recipient":{"id":"2"},"message":{"msg_id":"x1","text":"hi"},"timestamp":"1700000000000"}"#;
    let post = |url: String, sig: Option<(&'static str, String)>, body: Vec<u8>| {
        let mut r = client
            .post(url)
            .header("content-type", "application/json")
            .body(body);
        if let Some((h, v)) = sig {
            r = r.header(h, v);
        }
        r.send()
    };
    let s = post(zalo_url.clone(), None, body.into()).await.unwrap();
    assert_eq!(s.status(), 401, "missing signature");
    let s = post(
        zalo_url.clone(),
        Some(("x-zevent-signature", format!("mac={}", "0".repeat(64)))),
        body.into(),
    )
    .await
    .unwrap();
    assert_eq!(s.status(), 401, "wrong signature");
    let s = post(
        zalo_url.clone(),
        Some(("x-zevent-signature", "mac=zz".into())),
        b"not json".to_vec(),
    )
    .await
    .unwrap();
    assert_eq!(s.status(), 400, "not JSON");
    let s = post(
        fc_url.clone(),
        Some(("x-freshchat-signature", "AAAA".into())),
        br#"{"action":"message_create"}"#.to_vec(),
    )
    .await
    .unwrap();
    assert_eq!(s.status(), 401, "wrong Freshchat signature");
    let s = post(
        fc_url.clone(),
        None,
        br#"{"action":"message_create"}"#.to_vec(),
    )
    .await
    .unwrap();
    assert_eq!(s.status(), 401, "missing Freshchat signature");
    // A body cut short: refused as not JSON on both routes, saying where reading stopped.
    for (url, header) in [
        (zalo_url.clone(), "x-zevent-signature"),
        (fc_url.clone(), "x-freshchat-signature"),
    ] {
        let s = post(
            url.clone(),
            Some((header, "mac=zz".into())),
            br#"{"app_id":"#.to_vec(),
        )
        .await
        .unwrap();
        assert_eq!(s.status(), 400, "cut short: {url}");
        let answer: serde_json::Value = s.json().await.unwrap();
        assert_eq!(answer["error"], "not_json", "{answer}");
        assert!(
            answer["message"]
                .as_str()
                .unwrap()
                .contains("line 1 column"),
            "{answer}"
        );
    }
    let s = post(zalo_url, None, vec![b' '; 2 * 1024 * 1024])
        .await
        .unwrap();
    assert_eq!(s.status(), 413, "too large");
    assert_eq!(
        store(&env).inbox_count().await.unwrap(),
        0,
        "nothing stored"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_token_is_refreshed_and_rotation_persisted() {
    let env = env().await;
    add_user(&env, U1, "Minh");
    env.zalo
        .user_sends(U1, UserAction::Text("hello".into()))
        .await;
    customer_messages(&env, U1, 1).await;
    let before = stored_tokens(&env).await.updated_at;
    env.zalo.expire_access_tokens();
    let conv = conversation(&env, U1).unwrap();
    env.agent_says(
        &conv,
        &env.freshchat.default_agent_id(),
        &[MessagePart::Text {
            content: "after expiry".into(),
        }],
    )
    .await
    .unwrap();
    let sent = zalo_sent(&env, U1, 1).await;
    assert_eq!(zalo_text(&sent[0]).as_deref(), Some("after expiry"));
    assert!(
        stored_tokens(&env).await.updated_at > before,
        "the rotated pair was stored"
    );
    let ready = reqwest::get(format!("{}/readyz", env.daemon_url()))
        .await
        .unwrap();
    assert_eq!(ready.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejected_refresh_needs_reauthorization() {
    let env = env().await;
    add_user(&env, U1, "Minh");
    env.zalo
        .user_sends(U1, UserAction::Text("hello".into()))
        .await;
    customer_messages(&env, U1, 1).await;
    // The stored refresh token stops working (as after 3 months, or a refresh made elsewhere).
    crate::tamper::replace_refresh_token(&env, "used-elsewhere");
    env.zalo.expire_access_tokens();
    let conv = conversation(&env, U1).unwrap();
    env.agent_says(
        &conv,
        &env.freshchat.default_agent_id(),
        &[MessagePart::Text {
            content: "x".into(),
        }],
    )
    .await
    .unwrap();
    let ready = wait_for(WAIT, || async {
        // The reason is for operators: the token reads it.
        let r = reqwest::Client::new()
            .get(format!("{}/readyz", env.daemon_url()))
            .bearer_auth(&env.admin_token)
            .send()
            .await
            .ok()?;
        (r.status() == 503).then_some(r.text().await.ok()?)
    })
    .await
    .expect("readiness turns 503");
    assert!(ready.contains("re-authorization"), "{ready}");
    // Reconnecting heals it and the waiting reply goes out.
    env.connect_zalo().await.unwrap();
    let sent = zalo_sent(&env, U1, 1).await;
    assert_eq!(zalo_text(&sent[0]).as_deref(), Some("x"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn freshchat_5xx_and_429_bursts_are_retried_without_duplicates() {
    let env = env().await;
    add_user(&env, U1, "Minh");
    add_user(&env, U2, "Lan");
    env.freshchat.fail_next("/v2/conversations", 3, 503);
    env.zalo.user_sends(U1, UserAction::Text("a1".into())).await;
    env.zalo.user_sends(U1, UserAction::Text("a2".into())).await;
    let msgs = customer_messages(&env, U1, 2).await;
    assert_eq!(
        msgs.iter().flat_map(texts).collect::<Vec<_>>(),
        vec!["a1", "a2"]
    );
    env.freshchat.fail_next("/v2/users", 2, 429);
    env.zalo.user_sends(U2, UserAction::Text("b1".into())).await;
    let msgs = customer_messages(&env, U2, 1).await;
    assert_eq!(texts(&msgs[0]), vec!["b1"]);
    settle(&env).await;
    assert_eq!(env.fc_users().len(), 2, "no duplicate users");
    assert_eq!(
        customer_messages(&env, U1, 2).await.len(),
        2,
        "no duplicate messages"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_events_can_be_replayed_without_doubling() {
    let env = env().await;
    let conv = start_conversation(&env, U1).await;
    env.agent_says(
        &conv,
        &env.freshchat.default_agent_id(),
        &[MessagePart::Text {
            content: "part one".into(),
        }],
    )
    .await
    .unwrap();
    zalo_sent(&env, U1, 1).await;
    // Make the store say the event failed after its first step, then replay it. Zalo has the
    // message a moment before the event is marked done, so wait for the done state to tamper with.
    let tampered = wait_for(WAIT, || async {
        (crate::tamper::fail_the_last_reply_after_its_send(&env) == 1).then_some(())
    })
    .await;
    assert!(
        tampered.is_some(),
        "the reply's event was never marked done"
    );
    zfsync_stdout(&env, &["failed", "retry", "--all"]).await;
    let done = wait_for(WAIT, || async {
        (count_in_state(&env, EventState::Failed).await == 0).then_some(())
    })
    .await;
    assert!(done.is_some());
    settle(&env).await;
    assert_eq!(
        env.zalo.sent_to(U1).len(),
        1,
        "the journal kept the delivered step from being sent again"
    );
}
