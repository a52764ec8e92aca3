//! The daemon as an attacker meets it: a stranger's OAuth consent, forged identities, attachment
//! URLs pointing inside, replayed webhooks; and a refresh whose new pair was lost.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use sha2::Digest as _;
use zfsync::tools::sandbox::{wait_for, EnvOptions};
use zfsync_freshchat::{MessagePart, NewConversation, NewMessage, NewUser, UserRef};
use zfsync_zalo::sim::{Fault, UserAction};

use crate::helpers::*;

const U: &str = "5234000000000000888";
const ATTACKER_OA: &str = "4999999999999999999";

async fn stored_refresh_token(env: &zfsync::tools::sandbox::Env) -> String {
    let services = zfsync::services::Services::new(&env.config().unwrap())
        .await
        .unwrap();
    services
        .store
        .tokens()
        .await
        .unwrap()
        .unwrap()
        .refresh_token
}

/// Someone approves the app with their own OA and comes back with a valid code: when Zalo will not
/// confirm the OA (getoa fails), nothing is stored; when it names their OA, nothing is stored
/// either. The customer's pair keeps working.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stranger_oa_never_replaces_the_customers_tokens() {
    let env = env().await;
    start_conversation(&env, U).await;
    let before = stored_refresh_token(&env).await;
    env.zalo.approve_as(ATTACKER_OA);
    // Zalo's redirect names the stranger's OA: refused before the code is exchanged.
    let e = env.connect_zalo().await.unwrap_err().to_string();
    assert!(e.contains(ATTACKER_OA), "{e}");
    // A redirect that names no OA: only Zalo's getoa can say, and when it cannot, nothing is
    // trusted.
    env.zalo
        .fail_next("/v2.0/oa/getoa", 1, Fault::HttpStatus(500));
    use crate::oauth_callback::{allow, open, start_attempt, with_param};
    let callback = allow(&start_attempt(&env).await).await;
    let (status, page) = open(&with_param(&callback, "oa_id", None)).await;
    assert_eq!(status, 400, "{page}");
    assert!(page.contains("did not confirm"), "{page}");
    assert_eq!(stored_refresh_token(&env).await, before, "nothing replaced");
    let m = metrics(&env).await;
    for reason in ["unconfirmed", "wrong_oa"] {
        assert!(
            m.contains(&format!(
                "zfsync_oauth_refusals_total{{pairing=\"default\",reason=\"{reason}\"}}"
            )),
            "{m}"
        );
    }
    // The customer's OA still flows.
    env.zalo
        .user_sends(U, UserAction::Text("still here".into()))
        .await;
    customer_messages(&env, U, 2).await;
}

/// A callback nobody started from zfsync (a code from the stranger's own consent) is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_callback_no_operator_started_is_refused() {
    let env = env().await;
    let before = stored_refresh_token(&env).await;
    env.zalo.approve_as(ATTACKER_OA);
    let code = env.zalo.issue_code(None);
    let r = reqwest::get(format!(
        "{}/oauth/zalo/callback?code={code}&oa_id={ATTACKER_OA}",
        env.daemon_url()
    ))
    .await
    .unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("start again"));
    assert_eq!(stored_refresh_token(&env).await, before);
}

/// A Freshchat user whose reference id names a Zalo user is trusted only on zfsync's own channel:
/// an agent's reply in a website-chat conversation never reaches that Zalo user.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reference_id_on_another_channel_is_not_an_identity() {
    let env = env().await;
    start_conversation(&env, U).await;
    let config = env.config().unwrap();
    let services = zfsync::services::Services::new(&config).await.unwrap();
    let oa = services.tokens().status().oa_id.unwrap();
    let fc = &services.freshchat;
    // The widget user claims to be the Zalo user (reference ids are free text there).
    let user = fc
        .create_user(&NewUser {
            first_name: Some("Mallory".into()),
            reference_id: Some(format!("zalo:{oa}:{U}")),
            ..NewUser::default()
        })
        .await
        .unwrap();
    let website = fc
        .list_channels()
        .await
        .unwrap()
        .into_iter()
        .find(|c| c.name.as_deref() == Some("Website"))
        .unwrap();
    let conv = fc
        .create_conversation(&NewConversation {
            channel_id: website.id,
            users: vec![UserRef {
                id: user.id.clone(),
            }],
            messages: vec![NewMessage::from_user(
                &user.id,
                vec![MessagePart::text("hi")],
            )],
            app_id: None,
            status: Some("new".into()),
            assigned_group_id: None,
        })
        .await
        .unwrap();
    let before = env.zalo.sent_to(U).len();
    env.agent_says(
        &conv.conversation_id,
        &env.freshchat.default_agent_id(),
        &[MessagePart::text("for Mallory only")],
    )
    .await
    .unwrap();
    settle(&env).await;
    assert_eq!(
        env.zalo.sent_to(U).len(),
        before,
        "nothing reached the Zalo user"
    );
}

/// Media only from the platforms' hosts: with private addresses not allowed (production), the
/// simulators' loopback links are refused, and agents and customers are told, not left guessing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attachments_from_private_addresses_are_refused() {
    let env = env_with(EnvOptions {
        allow_private_media: false,
        named_media: false,
        ..EnvOptions::default()
    })
    .await;
    add_user(&env, U, "Minh");
    env.zalo
        .user_sends(
            U,
            UserAction::Image {
                caption: None,
                bytes: bytes::Bytes::from_static(zfsync::tools::sandbox::TINY_PNG),
            },
        )
        .await;
    let msgs = customer_messages(&env, U, 1).await;
    assert!(
        msgs[0]
            .message_parts
            .iter()
            .all(|p| !matches!(p, MessagePart::Image { .. })),
        "nothing fetched from a private address"
    );
    let note = notes(&env, U, 1).await.join("\n");
    assert!(note.contains("private"), "{note}");
    assert!(metrics(&env).await.contains("zfsync_media_refused_total"));
}

fn zalo_signature(app_id: &str, secret: &str, body: &str, timestamp: &str) -> String {
    let mut h = sha2::Sha256::new();
    h.update(app_id.as_bytes());
    h.update(body.as_bytes());
    h.update(timestamp.as_bytes());
    h.update(secret.as_bytes());
    format!("mac={}", hex::encode(h.finalize()))
}

/// A correctly signed delivery whose own time is older than the retention (its dedupe key may be
/// pruned) or implausibly far ahead is answered 200 and ignored, never stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_webhooks_outside_the_replay_window_are_ignored() {
    use secrecy::ExposeSecret as _;
    let env = env().await;
    let config = env.config().unwrap();
    let day = 24 * 3600 * 1000i64;
    let now = chrono::Utc::now().timestamp_millis();
    for (i, t) in [now - 40 * day, now + 3 * day].into_iter().enumerate() {
        let ts = t.to_string();
        let body = format!(
            r#"{{"app_id":"{app}","user_id_by_app":"1","event_name":"user_send_text","timestamp":"{ts}","sender":{{"id":"{U}"}},"recipient":{{"id":"4318848795011111111"}},"message":{{"text":"replayed {i}","msg_id":"replay{i}"}}}}"#,
            app = config.zalo.app_id
        );
        let sig = zalo_signature(
            &config.zalo.app_id,
            config.zalo_oa_secret_key().expose_secret(),
            &body,
            &ts,
        );
        let r = reqwest::Client::new()
            .post(format!("{}/webhooks/zalo", env.daemon_url()))
            .header("x-zevent-signature", sig)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let v: serde_json::Value = r.json().await.unwrap();
        assert_eq!(v["status"], "ignored", "{v}");
    }
    assert_eq!(
        inbox(
            &env,
            InboxQuery {
                dedupe_key_prefix: Some("replay".into()),
                ..InboxQuery::default()
            }
        )
        .await
        .len(),
        0
    );
    assert!(metrics(&env).await.contains("zfsync_webhook_replays_total"));
}

/// Readiness only reads: however often a stranger asks, it queues no write behind the webhooks.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_never_writes() {
    let env = env().await;
    settle(&env).await;
    let store = env.daemon_store().unwrap().clone();
    let before = store.commits();
    for _ in 0..30 {
        reqwest::get(format!("{}/readyz", env.daemon_url()))
            .await
            .unwrap();
    }
    assert_eq!(store.commits(), before);
}

/// A refresh whose new pair is lost (Zalo rotated the tokens, the daemon never learnt the new
/// pair: a crash or a lost answer) needs an OA admin to consent again. A reconnect through the CLI
/// while the daemon runs reaches it at once, and the reply that waited goes out exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reconnect_reaches_the_running_daemon_and_the_waiting_reply_goes() {
    let env = env().await;
    let conv = start_conversation(&env, U).await;
    env.zalo.expire_access_tokens();
    env.zalo
        .fail_next("/v4/oa/access_token", 1, Fault::LoseResponse);
    env.agent_says(
        &conv,
        &env.freshchat.default_agent_id(),
        &[MessagePart::text("reply after the refresh")],
    )
    .await
    .unwrap();
    // Readiness says so.
    let lost = std::time::Instant::now();
    let stuck = wait_for(WAIT, || async {
        let r = reqwest::get(format!("{}/readyz", env.daemon_url()))
            .await
            .ok()?;
        (r.status() == 503).then_some(())
    })
    .await;
    assert!(stuck.is_some(), "readiness reports the lost pair");
    println!(
        "readiness reported it {} ms after the reply was written",
        lost.elapsed().as_millis()
    );
    assert!(env
        .zalo
        .sent_to(U)
        .iter()
        .all(|s| zalo_text(s).as_deref() != Some("reply after the refresh")));
    // The operator reconnects from a shell, the daemon still running.
    env.zalo.approve_as("4318848795011111111");
    let code = env.zalo.issue_code(None);
    zfsync_stdout(&env, &["connect", "zalo", "--code", &code]).await;
    let reconnected = std::time::Instant::now();
    let sent = wait_for(Duration::from_secs(10), || async {
        let n = env
            .zalo
            .sent_to(U)
            .iter()
            .filter(|s| zalo_text(s).as_deref() == Some("reply after the refresh"))
            .count();
        (n > 0).then_some(n)
    })
    .await;
    assert_eq!(sent, Some(1), "delivered within seconds of the reconnect");
    println!(
        "reply delivered {} ms after the reconnect",
        reconnected.elapsed().as_millis()
    );
    settle(&env).await;
    assert_eq!(
        env.zalo
            .sent_to(U)
            .iter()
            .filter(|s| zalo_text(s).as_deref() == Some("reply after the refresh"))
            .count(),
        1,
        "exactly once"
    );
}
