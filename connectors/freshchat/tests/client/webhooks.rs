//! Webhooks for API posts and agents' actions as the client reads them, retries, duplicates and
//! reordering, and the control routes driven over HTTP.

use std::time::Duration;

use zfsync_freshchat::sim::{parts, SimConfig, SimError, WebhookMode};
use zfsync_freshchat::*;

use super::{id_of, msg, open_conversation, received_events, spawn_app, zalo_user};

#[tokio::test]
async fn webhooks_for_api_posts_and_agents() {
    let app = spawn_app(SimConfig::default()).await;
    let key = WebhookKey::parse(&app.sim.public_key_pem_one_line()).unwrap();
    WebhookKey::parse(&app.sim.public_key_pem()).unwrap();
    let u = app.client.create_user(&zalo_user(4)).await.unwrap();
    let c = open_conversation(&app, &u, "hello").await;
    let cid = c.conversation_id.clone();
    let agent = app.sim.add_agent("Lan");
    app.sim.assign(&cid, &agent).await.unwrap();
    let reply = app
        .sim
        .agent_sends(&cid, &agent, vec![parts::text("chào bạn")])
        .await
        .unwrap();
    app.sim.agent_note(&cid, &agent, "internal").await.unwrap();
    app.sim.resolve(&cid, &agent).await.unwrap();
    app.client
        .post_message(
            &cid,
            &NewMessage::from_user(&u.id, vec![MessagePart::text("one more")]),
        )
        .await
        .unwrap();
    app.sim.resolve(&cid, &agent).await.unwrap();
    app.sim.reopen(&cid, &agent).await.unwrap();
    assert!(matches!(
        app.sim.reopen(&cid, &agent).await,
        Err(SimError::Invalid(_))
    ));
    assert!(matches!(
        app.sim
            .agent_sends("nope", &agent, vec![parts::text("x")])
            .await,
        Err(SimError::NotFound(_))
    ));
    assert!(app.sim.wait_deliveries_idle(Duration::from_secs(5)).await);

    let events = received_events(&app.recv, &key);
    let actions: Vec<&str> = events.iter().map(|(e, _)| e.action()).collect();
    assert_eq!(
        actions,
        [
            "message_create",
            "conversation_assignment",
            "message_create",
            "message_create",
            "conversation_resolution",
            "conversation_reopen",
            "message_create",
            "conversation_resolution",
            "conversation_reopen"
        ]
    );
    assert!(events.iter().all(|(_, r)| r == "0"));
    match &events[2].0 {
        WebhookEvent::MessageCreate { actor, message, .. } => {
            assert_eq!(actor.actor_type, ActorType::Agent);
            assert_eq!(message.id, id_of(&reply));
            assert_eq!(message.user_id.as_deref(), Some(u.id.as_str()));
        }
        other => panic!("{other:?}"),
    }
    assert!(
        matches!(&events[3].0, WebhookEvent::MessageCreate { message, .. } if message.effective_type() == MessageType::Private)
    );
    assert!(
        matches!(&events[4].0, WebhookEvent::ConversationResolution { user_id, .. } if user_id.as_deref() == Some(u.id.as_str()))
    );
    assert!(
        matches!(&events[5].0, WebhookEvent::ConversationReopen { actor, .. } if actor.actor_type == ActorType::User)
    );
    assert!(
        matches!(&events[1].0, WebhookEvent::ConversationAssignment { to_agent_id, .. } if to_agent_id.as_deref() == Some(agent.as_str()))
    );
    assert_eq!(app.sim.deliveries().len(), 9);
}

#[tokio::test]
async fn webhook_retries_duplicates_and_reordering() {
    let app = spawn_app(SimConfig::default()).await;
    let key = WebhookKey::parse(&app.sim.public_key_pem()).unwrap();
    let u = app.client.create_user(&zalo_user(5)).await.unwrap();
    *app.recv.fail_first.lock().unwrap() = 2;
    let c = open_conversation(&app, &u, "retry me").await;
    assert!(app.sim.wait_deliveries_idle(Duration::from_secs(5)).await);
    let ev = received_events(&app.recv, &key);
    assert_eq!(
        ev.iter().map(|(_, r)| r.as_str()).collect::<Vec<_>>(),
        ["0", "1", "2"]
    );
    let d = app.sim.deliveries();
    assert_eq!(
        d.iter().map(|d| d.status).collect::<Vec<_>>(),
        [Some(500), Some(500), Some(200)]
    );
    assert!(d.iter().all(|x| x.dedupe_key == ev[0].0.dedupe_key()));

    // Duplicate.
    app.recv.got.lock().unwrap().clear();
    app.sim.set_webhook_mode(WebhookMode::Duplicate);
    let m = app
        .sim
        .agent_sends(
            &c.conversation_id,
            &app.sim.default_agent_id(),
            vec![parts::text("twice")],
        )
        .await
        .unwrap();
    assert!(app.sim.wait_deliveries_idle(Duration::from_secs(5)).await);
    let ev = received_events(&app.recv, &key);
    assert_eq!(ev.len(), 2);
    assert!(ev.iter().all(|(e, _)| e.dedupe_key() == id_of(&m)));

    // Reorder.
    app.recv.got.lock().unwrap().clear();
    app.sim.set_webhook_mode(WebhookMode::Reorder);
    let a = app
        .sim
        .agent_sends(
            &c.conversation_id,
            &app.sim.default_agent_id(),
            vec![parts::text("first")],
        )
        .await
        .unwrap();
    let b = app
        .sim
        .agent_sends(
            &c.conversation_id,
            &app.sim.default_agent_id(),
            vec![parts::text("second")],
        )
        .await
        .unwrap();
    assert!(app.sim.wait_deliveries_idle(Duration::from_secs(5)).await);
    let keys: Vec<String> = received_events(&app.recv, &key)
        .iter()
        .map(|(e, _)| e.dedupe_key())
        .collect();
    assert_eq!(keys, [id_of(&b), id_of(&a)]);

    // Retries give up after the configured delays.
    app.recv.got.lock().unwrap().clear();
    app.sim.set_webhook_mode(WebhookMode::Normal);
    *app.recv.fail_first.lock().unwrap() = 10;
    app.sim
        .resolve(&c.conversation_id, &app.sim.default_agent_id())
        .await
        .unwrap();
    assert!(app.sim.wait_deliveries_idle(Duration::from_secs(5)).await);
    assert_eq!(app.recv.got.lock().unwrap().len(), 4);
}

#[tokio::test]
async fn control_routes() {
    let app = spawn_app(SimConfig::default()).await;
    let u = app.client.create_user(&zalo_user(6)).await.unwrap();
    let c = open_conversation(&app, &u, "hi").await;
    let base = app.sim.base_url();
    let http = reqwest::Client::new();
    let url = |p: &str| base.join(p).unwrap();
    let cid = &c.conversation_id;
    let r = http
        .post(url(&format!("/sim/conversations/{cid}/reply")))
        .json(&serde_json::json!({"long_text": 2500}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let r = http
        .post(url(&format!("/sim/conversations/{cid}/reply")))
        .json(&serde_json::json!({"image": {"name": "x.png", "data_base64": "iVBORw0KGgo="}, "file": {"name": "a.pdf", "data_base64": "JVBERg=="}}))
        .send()
        .await
        .unwrap();
    let m: Message = r.json().await.unwrap();
    assert_eq!(m.message_parts.len(), 2);
    let MessagePart::File(f) = &m.message_parts[1] else {
        panic!("{m:?}")
    };
    assert_eq!(
        app.client
            .download(f.url.as_ref().unwrap(), 100)
            .await
            .unwrap()
            .bytes
            .as_ref(),
        b"%PDF"
    );
    for op in ["note", "assign", "resolve", "reopen"] {
        let r = http
            .post(url(&format!("/sim/conversations/{cid}/{op}")))
            .json(&serde_json::json!({"text": "n"}))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "{op}: {}", r.status());
    }
    let msgs: Vec<Message> = app.sim.messages(cid).into_iter().map(msg).collect();
    assert!(
        matches!(&msgs[1].message_parts[0], MessagePart::Text { content } if content.chars().count() == 2500)
    );
    // Four messages, then the system notices of the resolution and the reopening.
    assert_eq!(msgs.len(), 6);
    assert!(msgs[..4].iter().all(|m| m.meta_data.is_none()));
    assert_eq!(
        msgs[4].meta_data,
        Some(serde_json::json!({"isResolved": true}))
    );
    assert_eq!(
        app.client.get_conversation(cid).await.unwrap().status,
        Some(ConversationStatus::Reopened)
    );
    let r = http
        .post(url("/sim/faults"))
        .json(&serde_json::json!({"path_prefix": "/v2/users", "n": 1, "status": 500}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert!(matches!(
        app.client.get_user(&u.id).await,
        Err(FreshchatError::Server { status: 500, .. })
    ));
    let key = http
        .get(url("/sim/public-key"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(WebhookKey::parse(&key).is_ok());
    let state: serde_json::Value = http
        .get(url("/sim/state"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(state["users"].as_array().unwrap().len(), 1);
    let r = http
        .put(url("/sim/webhook"))
        .json(&serde_json::json!({"url": null}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
}

#[tokio::test]
async fn users_list_requires_a_filter() {
    let app = spawn_app(SimConfig::default()).await;
    let r = reqwest::Client::new()
        .get(app.sim.base_url().join("/v2/users").unwrap())
        .bearer_auth(app.sim.api_key())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["status"], "INVALID_VALUE");
}
