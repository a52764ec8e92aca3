//! Pairings (one Zalo OA ↔ one Freshchat account) on their own webhook routes: the configured
//! customer is the pairing `default`, reachable on `/webhooks/<platform>/default` as on the plain
//! routes; a pairing the daemon does not serve is refused and nothing is stored.
#![allow(clippy::unwrap_used)]

use zfsync::store::{EventState, Source};
use zfsync_freshchat::MessagePart;
use zfsync_zalo::sim::UserAction;

use crate::helpers::*;

const U: &str = "5234000000000000991";

/// Both platforms deliver to the pairing's own routes: the customer's message reaches Freshchat
/// and the agent's reply reaches Zalo, as through the plain routes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_default_pairing_answers_on_its_own_routes() {
    let env = env().await;
    let base = env.daemon_url();
    env.zalo
        .set_webhook_url(Some(format!("{base}/webhooks/zalo/default")));
    env.freshchat
        .set_webhook_url(Some(format!("{base}/webhooks/freshchat/default")));
    add_user(&env, U, "Minh");
    env.zalo
        .user_sends(U, UserAction::Text("xin chào".into()))
        .await;
    let got = customer_messages(&env, U, 1).await;
    assert_eq!(texts(&got[0]), vec!["xin chào".to_string()]);
    let conv = conversation(&env, U).unwrap();
    env.agent_says(
        &conv,
        &env.freshchat.default_agent_id(),
        &[MessagePart::Text {
            content: "Dạ, em chào anh".into(),
        }],
    )
    .await
    .unwrap();
    let sent = zalo_sent(&env, U, 1).await;
    assert_eq!(zalo_text(&sent[0]).as_deref(), Some("Dạ, em chào anh"));
}

/// A webhook for a pairing this daemon does not serve is answered 404 `unknown_pairing` (so a
/// mistyped URL in a dashboard shows at once) and nothing is stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_pairing_is_refused_and_nothing_is_stored() {
    let env = env().await;
    let base = env.daemon_url();
    env.zalo
        .set_webhook_url(Some(format!("{base}/webhooks/zalo/shop-b")));
    add_user(&env, U, "Minh");
    env.zalo
        .user_sends(U, UserAction::Text("lost".into()))
        .await;
    let r = reqwest::Client::new()
        .post(format!("{base}/webhooks/freshchat/nobody"))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["error"], "unknown_pairing", "{body}");
    settle(&env).await;
    let stored = inbox(
        &env,
        InboxQuery {
            source: Some(Source::Zalo),
            ..InboxQuery::default()
        },
    )
    .await;
    assert!(
        stored.iter().all(|e| e.event_name != "user_send_text"),
        "{stored:?}"
    );
    assert_eq!(count_in_state(&env, EventState::Pending).await, 0);
}
