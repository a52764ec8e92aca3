//! The client against what real Freshchat sends (2022 webhooks, bots, reply parts, attachments on
//! two hosts). A test marked `#[ignore = "client: ..."]` asserts the correct behaviour that the
//! client does not have yet.

use std::time::Duration;

use axum::body::Bytes;
use zfsync_freshchat::sim::{parts, AgentMessage, FileLinks, SimConfig, WebhookShape};
use zfsync_freshchat::*;

use super::{open_conversation, received_events, spawn_app, zalo_user, App};

/// A conversation with an opening customer message, deliveries settled and forgotten.
async fn fresh_conversation(app: &App, n: u32) -> (User, String) {
    let u = app.client.create_user(&zalo_user(n)).await.unwrap();
    let c = open_conversation(app, &u, "xin chào").await;
    assert!(app.sim.wait_deliveries_idle(Duration::from_secs(5)).await);
    app.recv.got.lock().unwrap().clear();
    (u, c.conversation_id)
}

fn messages_of(events: &[(WebhookEvent, String)]) -> Vec<Message> {
    events
        .iter()
        .filter_map(|(e, _)| match e {
            WebhookEvent::MessageCreate { message, .. } => Some(message.clone()),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn client_reads_2022_webhooks_of_agents() {
    let app = spawn_app(SimConfig::default()).await;
    let key = WebhookKey::parse(&app.sim.public_key_pem_one_line()).unwrap();
    let (u, cid) = fresh_conversation(&app, 20).await;
    let agent = app.sim.default_agent_id();
    app.sim
        .agent_sends(&cid, &agent, vec![parts::text("chào")])
        .await
        .unwrap();
    app.sim.agent_note(&cid, &agent, "nội bộ").await.unwrap();
    app.sim
        .agent_sends_message(
            &cid,
            &agent,
            AgentMessage::new(vec![
                parts::url_button("https://shop.example", "Shop"),
                parts::unknown("sticker", serde_json::json!({"id": "1"})),
            ])
            .with_reply_parts(vec![parts::dropdown(&[("A", "a")])]),
        )
        .await
        .unwrap();
    app.client
        .post_message(
            &cid,
            &NewMessage::from_user(&u.id, vec![MessagePart::text("ok")]),
        )
        .await
        .unwrap();
    assert!(app.sim.wait_deliveries_idle(Duration::from_secs(5)).await);
    let msgs = messages_of(&received_events(&app.recv, &key));
    assert_eq!(msgs.len(), 4);
    // No message_type on the wire: normal.
    assert_eq!(msgs[0].effective_type(), MessageType::Normal);
    assert_eq!(msgs[0].user_id.as_deref(), Some(u.id.as_str()));
    assert_eq!(msgs[1].effective_type(), MessageType::Private);
    assert!(
        matches!(&msgs[2].message_parts[0], MessagePart::UrlButton { label, .. } if label == "Shop")
    );
    assert_eq!(msgs[2].message_parts[1].kind(), "sticker");
    // The customer's own message names them only as the actor.
    assert_eq!(msgs[3].actor_type, ActorType::User);
    assert_eq!(msgs[3].actor_id.as_deref(), Some(u.id.as_str()));
}

#[tokio::test]
async fn client_tells_a_bots_internal_note_from_a_message() {
    let app = spawn_app(SimConfig::default()).await;
    let key = WebhookKey::parse(&app.sim.public_key_pem()).unwrap();
    let (_, cid) = fresh_conversation(&app, 21).await;
    app.sim.bot_note(&cid, "Khách VIP").await.unwrap();
    assert!(app.sim.wait_deliveries_idle(Duration::from_secs(5)).await);
    let msgs = messages_of(&received_events(&app.recv, &key));
    assert_eq!(msgs[0].actor_type, ActorType::Bot);
    // However the client chooses to show it, the note must not read as a normal message.
    let v = serde_json::to_value(&msgs[0]).unwrap();
    assert!(
        msgs[0].effective_type() != MessageType::Normal
            || v.get("botsPrivateNote") == Some(&serde_json::json!(true))
            || v.get("bots_private_note") == Some(&serde_json::json!(true)),
        "{v}"
    );
}

#[tokio::test]
async fn client_keeps_quick_replies_from_reply_parts() {
    let app = spawn_app(SimConfig::default()).await;
    let key = WebhookKey::parse(&app.sim.public_key_pem()).unwrap();
    let (_, cid) = fresh_conversation(&app, 22).await;
    app.sim
        .bot_sends(
            &cid,
            AgentMessage::text("Chọn một")
                .with_reply_parts(vec![parts::quick_replies(&["Có", "Không"])]),
        )
        .await
        .unwrap();
    assert!(app.sim.wait_deliveries_idle(Duration::from_secs(5)).await);
    let msgs = messages_of(&received_events(&app.recv, &key));
    let v = serde_json::to_value(&msgs[0]).unwrap();
    assert_eq!(
        v.pointer("/reply_parts/0/collection/sub_parts/1/quick_reply_button/label"),
        Some(&serde_json::json!("Không")),
        "{v}"
    );
}

#[tokio::test]
async fn client_downloads_from_the_api_host_and_the_cdn() {
    let app = spawn_app(SimConfig::default()).await;
    let key = WebhookKey::parse(&app.sim.public_key_pem()).unwrap();
    let (_, cid) = fresh_conversation(&app, 23).await;
    let agent = app.sim.default_agent_id();
    app.sim
        .agent_sends_image(
            &cid,
            &agent,
            "a.png",
            "image/png",
            Bytes::from_static(b"\x89PNG-img"),
        )
        .await
        .unwrap();
    app.sim
        .agent_sends_file(
            &cid,
            &agent,
            "b.pdf",
            "application/pdf",
            Bytes::from_static(b"%PDF-f"),
            None,
        )
        .await
        .unwrap();
    assert!(app.sim.wait_deliveries_idle(Duration::from_secs(5)).await);
    let msgs = messages_of(&received_events(&app.recv, &key));
    let MessagePart::Image { url: img } = &msgs[0].message_parts[0] else {
        panic!("{:?}", msgs[0])
    };
    let MessagePart::File(f) = &msgs[1].message_parts[0] else {
        panic!("{:?}", msgs[1])
    };
    let file = f.url.as_ref().unwrap();
    assert!(img.starts_with(app.sim.cdn_url().as_str()));
    assert!(file.starts_with(app.sim.base_url().as_str()));
    assert_eq!(
        app.client.download(img, 100).await.unwrap().bytes.as_ref(),
        b"\x89PNG-img"
    );
    assert_eq!(
        app.client.download(file, 100).await.unwrap().bytes.as_ref(),
        b"%PDF-f"
    );
    assert_eq!(
        app.sim.cdn_requests_with_credentials(),
        0,
        "the key went to the CDN"
    );
}

#[tokio::test]
async fn client_finds_a_file_sent_without_url_by_reading_the_message() {
    let app = spawn_app(SimConfig {
        file_links: FileLinks::DownloadUrlOnly,
        ..SimConfig::default()
    })
    .await;
    let key = WebhookKey::parse(&app.sim.public_key_pem()).unwrap();
    let (_, cid) = fresh_conversation(&app, 24).await;
    app.sim
        .agent_sends_file(
            &cid,
            &app.sim.default_agent_id(),
            "hợp đồng.pdf",
            "application/pdf",
            Bytes::from_static(b"%PDF-1.7"),
            None,
        )
        .await
        .unwrap();
    assert!(app.sim.wait_deliveries_idle(Duration::from_secs(5)).await);
    let msgs = messages_of(&received_events(&app.recv, &key));
    assert!(matches!(
        &msgs[0].message_parts[0],
        MessagePart::File(f) if f.url.is_none()
    ));
    let page = app.client.list_messages(&cid, None, 50).await.unwrap();
    let stored = page.messages.iter().find(|m| m.id == msgs[0].id).unwrap();
    let MessagePart::File(f) = &stored.message_parts[0] else {
        panic!("{stored:?}")
    };
    let (url, name) = (f.url.as_ref().unwrap(), &f.name);
    assert_eq!(name.as_deref(), Some("hợp đồng.pdf"));
    assert_eq!(
        app.client.download(url, 100).await.unwrap().bytes.as_ref(),
        b"%PDF-1.7"
    );
}

#[tokio::test]
async fn client_reads_the_2021_shape_and_system_notices() {
    let app = spawn_app(SimConfig {
        webhook_shape: WebhookShape::V2021,
        ..SimConfig::default()
    })
    .await;
    let key = WebhookKey::parse(&app.sim.public_key_pem()).unwrap();
    let (u, cid) = fresh_conversation(&app, 25).await;
    let agent = app.sim.default_agent_id();
    app.sim
        .agent_sends(&cid, &agent, vec![parts::text("hi")])
        .await
        .unwrap();
    app.sim.resolve(&cid, &agent).await.unwrap();
    assert!(app.sim.wait_deliveries_idle(Duration::from_secs(5)).await);
    let events = received_events(&app.recv, &key);
    assert_eq!(
        messages_of(&events)[0].effective_type(),
        MessageType::Normal
    );
    assert!(
        matches!(&events[1].0, WebhookEvent::ConversationResolution { user_id, .. } if user_id.is_none() || user_id.as_deref() == Some(u.id.as_str()))
    );
    // History shows the resolution notice, marked as such.
    let page = app.client.list_messages(&cid, None, 50).await.unwrap();
    assert_eq!(
        page.messages[0].meta_data,
        Some(serde_json::json!({"isResolved": true}))
    );
}

#[tokio::test]
async fn client_sees_an_account_refuse_an_undefined_property() {
    let app = spawn_app(SimConfig {
        defined_user_properties: Some(vec!["zalo_user_id".into()]),
        ..SimConfig::default()
    })
    .await;
    let e = app.client.create_user(&zalo_user(26)).await.unwrap_err();
    assert!(
        matches!(&e, FreshchatError::Invalid { status: 400, message, .. } if message.contains("external_user_provider")),
        "{e:?}"
    );
    assert!(!e.is_transient());
}
