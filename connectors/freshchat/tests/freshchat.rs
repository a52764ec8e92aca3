//! Every client call and error class against the simulator over real HTTP on loopback, plus
//! webhook delivery (signatures, retries, duplicates, reordering) to a tiny receiver.
#![cfg(feature = "sim")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::Router;
use secrecy::SecretString;
use zfsync_freshchat::sim::parts;
use zfsync_freshchat::*;

struct Received {
    headers: HeaderMap,
    body: Bytes,
}

#[derive(Clone, Default)]
struct Receiver {
    got: Arc<Mutex<Vec<Received>>>,
    fail_first: Arc<Mutex<u32>>,
}

async fn receive(State(r): State<Receiver>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let mut fail = r.fail_first.lock().unwrap();
    r.got.lock().unwrap().push(Received { headers, body });
    if *fail > 0 {
        *fail -= 1;
        return StatusCode::INTERNAL_SERVER_ERROR;
    }
    StatusCode::OK
}

async fn spawn_receiver() -> (String, Receiver) {
    let r = Receiver::default();
    let app = Router::new()
        .route("/hook", post(receive))
        .route(
            "/cdn/pic.png",
            get(|| async { ([("content-type", "image/png")], vec![7u8; 100]) }),
        )
        .with_state(r.clone());
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
    (format!("http://{addr}"), r)
}

struct App {
    sim: FreshchatSim,
    client: FreshchatClient,
    recv_base: String,
    recv: Receiver,
}

async fn spawn_app(cfg: SimConfig) -> App {
    let (recv_base, recv) = spawn_receiver().await;
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let cfg = SimConfig {
        webhook_url: Some(format!("{recv_base}/hook")),
        retry_delays: vec![
            Duration::from_millis(20),
            Duration::from_millis(40),
            Duration::from_millis(80),
        ],
        ..cfg
    };
    let key = cfg.api_key.clone();
    let sim = FreshchatSim::start(l, cfg).await.unwrap();
    let client = FreshchatClient::new(ClientConfig::new(
        sim.base_url(),
        SecretString::from(format!("Bearer {key}")),
    ))
    .unwrap();
    App {
        sim,
        client,
        recv_base,
        recv,
    }
}

/// A simulator message read with the client's reader.
fn msg(v: serde_json::Value) -> Message {
    serde_json::from_value(v).unwrap()
}

fn id_of(v: &serde_json::Value) -> String {
    v["id"].as_str().unwrap().to_owned()
}

fn client_for(base: &str, key: &str) -> FreshchatClient {
    FreshchatClient::new(ClientConfig::new(
        url::Url::parse(base).unwrap(),
        SecretString::from(key.to_owned()),
    ))
    .unwrap()
}

fn zalo_user(n: u32) -> NewUser {
    NewUser {
        first_name: Some(format!("Minh Khánh {n}")),
        last_name: Some("Zalo".into()),
        reference_id: Some(format!("zalo:oa1:{n}")),
        avatar: Some(Avatar {
            url: Some("https://example.com/a.png".into()),
        }),
        properties: vec![
            Property::new("external_user_provider", "zalo"),
            Property::new("zalo_user_id", n.to_string()),
        ],
    }
}

async fn channel(app: &App) -> String {
    app.client.list_channels().await.unwrap()[0].id.clone()
}

async fn open_conversation(app: &App, user: &User, text: &str) -> Conversation {
    let channel_id = channel(app).await;
    app.client
        .create_conversation(&NewConversation {
            channel_id,
            users: vec![UserRef {
                id: user.id.clone(),
            }],
            messages: vec![NewMessage::from_user(
                &user.id,
                vec![MessagePart::text(text)],
            )],
            status: Some("new".into()),
            ..NewConversation::default()
        })
        .await
        .unwrap()
}

#[tokio::test]
async fn account_channels_and_users() {
    let app = spawn_app(SimConfig::default()).await;
    let acc = app.client.account_configuration().await.unwrap();
    assert_eq!(acc.app_id.as_deref(), Some(app.sim.app_id()));
    assert_eq!(acc.datacenter.as_deref(), Some("US"));

    let channels = app.client.list_channels().await.unwrap();
    assert_eq!(
        channels
            .iter()
            .map(|c| c.name.clone().unwrap())
            .collect::<Vec<_>>(),
        ["Zalo", "Website"]
    );
    assert!(channels.iter().all(|c| c.enabled == Some(true)));

    let u = app.client.create_user(&zalo_user(1)).await.unwrap();
    assert_eq!(u.last_name.as_deref(), Some("Zalo"));
    assert_eq!(app.client.get_user(&u.id).await.unwrap(), u);
    let found = app
        .client
        .find_users_by_reference_id("zalo:oa1:1")
        .await
        .unwrap();
    assert_eq!(found.len(), 1);
    assert!(app
        .client
        .find_users_by_reference_id("zalo:oa1:404")
        .await
        .unwrap()
        .is_empty());

    let update = UserUpdate {
        first_name: Some("Khánh".into()),
        properties: Some(vec![
            Property::new("zalo_user_id", "1"),
            Property::new("note", "vip"),
        ]),
        ..UserUpdate::default()
    };
    app.client.update_user(&u.id, &update).await.unwrap();
    let u2 = app.client.get_user(&u.id).await.unwrap();
    assert_eq!(u2.first_name.as_deref(), Some("Khánh"));
    assert_eq!(u2.last_name.as_deref(), Some("Zalo"));
    assert_eq!(u2.properties.len(), 2);
    assert_eq!(app.sim.users().len(), 1);

    let e = app.client.get_user("nope").await.unwrap_err();
    assert!(matches!(e, FreshchatError::NotFound { .. }), "{e:?}");
    assert!(!e.is_transient());
}

#[tokio::test]
async fn many_channels_are_paged() {
    let channels = (0..23)
        .map(|i| (format!("ch-{i}"), format!("Channel {i}")))
        .collect();
    let app = spawn_app(SimConfig {
        channels,
        ..SimConfig::default()
    })
    .await;
    let got = app.client.list_channels().await.unwrap();
    assert_eq!(got.len(), 23);
    assert_eq!(got[22].id, "ch-22");
}

#[tokio::test]
async fn conversations_messages_and_latest_rule() {
    let app = spawn_app(SimConfig::default()).await;
    let u = app.client.create_user(&zalo_user(2)).await.unwrap();
    let c1 = open_conversation(&app, &u, "xin chào").await;
    assert_eq!(c1.status, Some(ConversationStatus::New));
    assert!(c1.conversation_internal_id.is_some());
    assert_eq!(
        app.client
            .get_conversation(&c1.conversation_id)
            .await
            .unwrap()
            .user_id
            .as_deref(),
        Some(u.id.as_str())
    );
    assert_eq!(
        app.client.user_conversations(&u.id).await.unwrap(),
        vec![c1.conversation_id.clone()]
    );

    let m = app
        .client
        .post_message(
            &c1.conversation_id,
            &NewMessage::from_user(&u.id, vec![MessagePart::text("second")]),
        )
        .await
        .unwrap();
    assert_eq!(m.actor_type, ActorType::User);
    assert_eq!(m.message_type, MessageType::Normal);
    let note = app
        .client
        .post_message(
            &c1.conversation_id,
            &NewMessage::bot_note("delivery failed"),
        )
        .await
        .unwrap();
    assert_eq!(note.message_type, MessageType::Private);
    assert_eq!(note.actor_type, ActorType::Bot);

    // Assignment and resolution, then a user message reopens the conversation.
    let agent = app.sim.default_agent_id();
    let assigned = app
        .client
        .update_conversation(
            &c1.conversation_id,
            &ConversationUpdate {
                status: Some("assigned".into()),
                assigned_agent_id: Some(agent.clone()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(assigned.status, Some(ConversationStatus::Assigned));
    assert_eq!(assigned.assigned_agent_id.as_deref(), Some(agent.as_str()));
    let e = app
        .client
        .update_conversation(
            &c1.conversation_id,
            &ConversationUpdate {
                assigned_agent_id: Some("ghost".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert!(matches!(e, FreshchatError::NotFound { .. }), "{e:?}");
    let resolved = app
        .client
        .update_conversation(
            &c1.conversation_id,
            &ConversationUpdate {
                status: Some("resolved".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(resolved.status, Some(ConversationStatus::Resolved));
    app.client
        .post_message(
            &c1.conversation_id,
            &NewMessage::from_user(&u.id, vec![MessagePart::text("again")]),
        )
        .await
        .unwrap();
    assert_eq!(
        app.client
            .get_conversation(&c1.conversation_id)
            .await
            .unwrap()
            .status,
        Some(ConversationStatus::Reopened)
    );

    // A newer conversation on the same channel makes the old one refuse messages.
    let c2 = open_conversation(&app, &u, "new topic").await;
    let e = app
        .client
        .post_message(
            &c1.conversation_id,
            &NewMessage::from_user(&u.id, vec![MessagePart::text("late")]),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(e, FreshchatError::NotLatestConversation { .. }),
        "{e:?}"
    );
    assert_eq!(e.status(), Some(400));
    assert_eq!(
        app.client.user_conversations(&u.id).await.unwrap(),
        vec![c1.conversation_id.clone(), c2.conversation_id.clone()]
    );

    // Invalid requests.
    let bad = NewMessage {
        actor_type: ActorType::Agent,
        actor_id: Some("ghost".into()),
        message_parts: vec![MessagePart::text("x")],
        ..Default::default()
    };
    let e = app
        .client
        .post_message(&c2.conversation_id, &bad)
        .await
        .unwrap_err();
    assert!(
        matches!(e, FreshchatError::Invalid { status: 400, .. }),
        "{e:?}"
    );
    let e = app.client.get_conversation("missing").await.unwrap_err();
    assert!(matches!(e, FreshchatError::NotFound { .. }));
    assert_eq!(app.sim.conversations().len(), 2);
}

#[tokio::test]
async fn message_listing_follows_the_cursor_newest_first() {
    let app = spawn_app(SimConfig::default()).await;
    let u = app.client.create_user(&zalo_user(3)).await.unwrap();
    let c = open_conversation(&app, &u, "m0").await;
    for i in 1..12 {
        app.client
            .post_message(
                &c.conversation_id,
                &NewMessage::from_user(&u.id, vec![MessagePart::text(format!("m{i}"))]),
            )
            .await
            .unwrap();
    }
    let mut texts = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let page = app
            .client
            .list_messages(&c.conversation_id, cursor.as_deref(), 5)
            .await
            .unwrap();
        pages += 1;
        // A message arriving mid-walk must not shift the pages.
        if pages == 1 {
            app.client
                .post_message(
                    &c.conversation_id,
                    &NewMessage::from_user(&u.id, vec![MessagePart::text("late")]),
                )
                .await
                .unwrap();
        }
        for m in &page.messages {
            if let Some(MessagePart::Text { content }) = m.message_parts.first() {
                texts.push(content.clone());
            }
        }
        match page.next {
            Some(n) => cursor = Some(n),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    let expected: Vec<String> = (0..12).rev().map(|i| format!("m{i}")).collect();
    assert_eq!(texts, expected);
    // items_per_page above 50 is capped.
    assert_eq!(
        app.client
            .list_messages(&c.conversation_id, None, 500)
            .await
            .unwrap()
            .messages
            .len(),
        13
    );
    assert_eq!(
        app.sim
            .messages(&c.conversation_id)
            .first()
            .cloned()
            .map(|m| msg(m).message_parts),
        Some(vec![MessagePart::text("m0")])
    );
    // A cursor pointing at another host is refused before any request.
    let e = app
        .client
        .list_messages(&c.conversation_id, Some("https://evil.example/v2/x"), 5)
        .await
        .unwrap_err();
    assert!(matches!(e, FreshchatError::Decode { .. }));
}

#[tokio::test]
async fn uploads_and_downloads() {
    let cfg = SimConfig {
        max_image_bytes: 1000,
        max_file_bytes: 2000,
        ..SimConfig::default()
    };
    let app = spawn_app(cfg).await;
    let mut png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
    png.extend_from_slice(&640u32.to_be_bytes());
    png.extend_from_slice(&480u32.to_be_bytes());
    png.extend_from_slice(&[0; 20]);
    let img = app
        .client
        .upload_image("pic.png", "image/png", Bytes::from(png.clone()))
        .await
        .unwrap();
    assert_eq!((img.width, img.height), (Some(640), Some(480)));
    let d = app.client.download(&img.url, 10_000).await.unwrap();
    assert_eq!(d.bytes.as_ref(), png.as_slice());
    assert_eq!(d.content_type.as_deref(), Some("image/png"));
    assert_eq!(d.filename.as_deref(), Some("pic.png"));

    let f = app
        .client
        .upload_file(
            "hợp đồng.pdf",
            "application/pdf",
            Bytes::from_static(b"%PDF-1.4 test"),
        )
        .await
        .unwrap();
    assert_eq!(f.file_size, Some(13));
    assert_eq!(f.file_extension_type.as_deref(), Some("pdf"));
    assert_eq!(f.file_security_status.as_deref(), Some("safe"));
    let url = f.url.unwrap();
    let d = app.client.download(&url, 10_000).await.unwrap();
    assert_eq!(d.bytes.as_ref(), b"%PDF-1.4 test");
    assert_eq!(d.filename.as_deref(), Some("hợp đồng.pdf"));
    // File URLs on the API host need the bearer token.
    let anon = reqwest::get(&url).await.unwrap();
    assert_eq!(anon.status(), 401);

    let e = app.client.download(&url, 5).await.unwrap_err();
    assert_eq!(e, FreshchatError::TooLarge { limit: 5 });
    let e = app
        .client
        .upload_image("big.png", "image/png", Bytes::from(vec![0u8; 1001]))
        .await
        .unwrap_err();
    assert!(
        matches!(e, FreshchatError::Invalid { status: 413, ref api_status, .. } if api_status.as_deref() == Some("PAYLOAD_TOO_LARGE")),
        "{e:?}"
    );
    let e = app
        .client
        .upload_file(
            "big.bin",
            "application/octet-stream",
            Bytes::from(vec![0u8; 2001]),
        )
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(413));
    // Off the API host: anonymous.
    let d = app
        .client
        .download(&format!("{}/cdn/pic.png", app.recv_base), 1000)
        .await
        .unwrap();
    assert_eq!(d.bytes.len(), 100);
    let agent_url = app
        .sim
        .upload_for_agent("a.txt", "text/plain", Bytes::from_static(b"hello"));
    assert_eq!(
        app.client
            .download(&agent_url, 100)
            .await
            .unwrap()
            .bytes
            .as_ref(),
        b"hello"
    );
}

#[tokio::test]
async fn error_classes() {
    let app = spawn_app(SimConfig {
        rate_limit_per_minute: Some(3),
        ..SimConfig::default()
    })
    .await;
    // Unauthorized.
    let bad = client_for(app.sim.base_url().as_str(), "wrong");
    let e = bad.account_configuration().await.unwrap_err();
    assert!(
        matches!(e, FreshchatError::Unauthorized { status: 401, .. }),
        "{e:?}"
    );
    assert!(!e.to_string().contains("wrong"));
    // Injected 503, then 403, then 429 from fault injection.
    app.sim.fail_next("/v2/accounts", 1, 503);
    let e = app.client.account_configuration().await.unwrap_err();
    assert!(
        matches!(e, FreshchatError::Server { status: 503, .. }) && e.is_transient(),
        "{e:?}"
    );
    app.sim.fail_next("/v2/accounts", 1, 429);
    let e = app.client.account_configuration().await.unwrap_err();
    assert_eq!(e.retry_after(), Some(Duration::from_secs(1)));
    // The configured rate limit.
    let mut limited = None;
    for _ in 0..5 {
        if let Err(e) = app.client.account_configuration().await {
            limited = Some(e);
            break;
        }
    }
    let e = limited.expect("rate limited");
    assert!(
        matches!(e, FreshchatError::RateLimited { retry_after: Some(d) } if d > Duration::ZERO && d <= Duration::from_secs(60)),
        "{e:?}"
    );
    assert!(e.is_transient());
    let raw = reqwest::Client::new()
        .get(format!("{}v2/channels", app.sim.base_url()))
        .bearer_auth(app.sim.api_key())
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status(), 429);
    for h in [
        "x-ratelimit-limit",
        "x-ratelimit-remaining",
        "x-ratelimit-reset",
        "retry-after",
    ] {
        assert!(raw.headers().contains_key(h), "{h}");
    }
    let body: serde_json::Value = raw.json().await.unwrap();
    assert_eq!(body["code"], 429);

    // Wrong host: HTML 200, non-JSON 200, redirect.
    let wrong = WrongHostServer::start().await;
    let c = client_for(&wrong.base, "k");
    let e = c.get_user("x").await.unwrap_err();
    assert!(matches!(e, FreshchatError::WrongHost { .. }), "{e:?}");
    assert!(e.to_string().contains("not the Freshchat API host"));
    let e = c.get_conversation("x").await.unwrap_err();
    assert!(matches!(e, FreshchatError::WrongHost { .. }), "{e:?}");
    let e = c.account_configuration().await.unwrap_err();
    assert!(
        matches!(e, FreshchatError::WrongHost { ref detail } if detail.contains("redirect")),
        "{e:?}"
    );
    // Transport: nothing listening.
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let e = client_for(&format!("http://{dead}"), "k")
        .account_configuration()
        .await
        .unwrap_err();
    assert!(
        matches!(e, FreshchatError::Transport { timeout: false, .. }) && e.is_transient(),
        "{e:?}"
    );
    // Timeout, with injected latency.
    let app2 = spawn_app(SimConfig::default()).await;
    app2.sim.set_latency(Duration::from_millis(300));
    let mut cfg = ClientConfig::new(
        app2.sim.base_url(),
        SecretString::from(app2.sim.api_key().to_owned()),
    );
    cfg.timeout = Duration::from_millis(50);
    let e = FreshchatClient::new(cfg)
        .unwrap()
        .account_configuration()
        .await
        .unwrap_err();
    assert!(
        matches!(e, FreshchatError::Transport { timeout: true, .. }),
        "{e:?}"
    );
}

struct WrongHostServer {
    base: String,
}

impl WrongHostServer {
    async fn start() -> Self {
        let app = Router::new()
            .route(
                "/v2/users/{id}",
                get(|| async {
                    (
                        [("content-type", "text/html; charset=utf-8")],
                        "<!doctype html><html>login</html>",
                    )
                }),
            )
            .route("/v2/conversations/{id}", get(|| async { "plain text" }))
            .route(
                "/v2/accounts/configuration",
                get(|| async {
                    (
                        StatusCode::MOVED_PERMANENTLY,
                        [("location", "https://portal.example/")],
                    )
                }),
            );
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
        Self {
            base: format!("http://{addr}"),
        }
    }
}

fn received_events(r: &Receiver, key: &WebhookKey) -> Vec<(WebhookEvent, String)> {
    r.got
        .lock()
        .unwrap()
        .iter()
        .map(|g| {
            let sig = g
                .headers
                .get(SIGNATURE_HEADER)
                .and_then(|v| v.to_str().ok());
            key.verify(&g.body, sig).unwrap();
            assert_eq!(g.headers.get(PAYLOAD_VERSION_HEADER).unwrap(), "1.0");
            let retry = g
                .headers
                .get(RETRY_COUNT_HEADER)
                .unwrap()
                .to_str()
                .unwrap()
                .to_owned();
            (parse_event(&g.body).unwrap(), retry)
        })
        .collect()
}

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
        matches!(&events[3].0, WebhookEvent::MessageCreate { message, .. } if message.message_type == MessageType::Private)
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
    let MessagePart::File {
        url: Some(file_url),
        ..
    } = &m.message_parts[1]
    else {
        panic!("{m:?}")
    };
    assert_eq!(
        app.client
            .download(file_url, 100)
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

// ---------------------------------------------------------------------------------------------
// Delivery order and parallelism, against a receiver that answers slowly and fails on request.

#[derive(Debug, Clone)]
struct Hit {
    conversation: String,
    key: String,
    retry: String,
    status: u16,
    at: Instant,
}

#[derive(Clone, Default)]
struct SlowReceiver {
    delay_ms: Arc<AtomicU64>,
    /// A body containing the marker is refused (500) while its count lasts.
    fail: Arc<Mutex<HashMap<String, u32>>>,
    /// In arrival order.
    hits: Arc<Mutex<Vec<Hit>>>,
    busy: Arc<Mutex<HashSet<String>>>,
    /// Requests that arrived while another one of the same conversation was in flight.
    overlaps: Arc<AtomicUsize>,
    in_flight: Arc<AtomicUsize>,
    max_in_flight: Arc<AtomicUsize>,
}

impl SlowReceiver {
    fn reset(&self) {
        self.hits.lock().unwrap().clear();
        self.max_in_flight.store(0, Ordering::SeqCst);
    }

    fn hits_of(&self, conversation: &str) -> Vec<Hit> {
        self.hits
            .lock()
            .unwrap()
            .iter()
            .filter(|h| h.conversation == conversation)
            .cloned()
            .collect()
    }
}

async fn slow_receive(
    State(r): State<SlowReceiver>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let at = Instant::now();
    let n = r.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    r.max_in_flight.fetch_max(n, Ordering::SeqCst);
    let ev = parse_event(&body).unwrap();
    let conversation = ev.conversation_id().unwrap_or_default().to_owned();
    if !r.busy.lock().unwrap().insert(conversation.clone()) {
        r.overlaps.fetch_add(1, Ordering::SeqCst);
    }
    let delay = r.delay_ms.load(Ordering::SeqCst);
    if delay > 0 {
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }
    let text = String::from_utf8_lossy(&body);
    let refuse = r
        .fail
        .lock()
        .unwrap()
        .iter_mut()
        .find(|(marker, left)| **left > 0 && text.contains(marker.as_str()))
        .map(|(_, left)| *left -= 1)
        .is_some();
    let status = if refuse {
        StatusCode::INTERNAL_SERVER_ERROR
    } else {
        StatusCode::OK
    };
    r.hits.lock().unwrap().push(Hit {
        conversation: conversation.clone(),
        key: ev.dedupe_key(),
        retry: headers
            .get(RETRY_COUNT_HEADER)
            .unwrap()
            .to_str()
            .unwrap()
            .to_owned(),
        status: status.as_u16(),
        at,
    });
    r.busy.lock().unwrap().remove(&conversation);
    r.in_flight.fetch_sub(1, Ordering::SeqCst);
    status
}

/// A simulator whose webhooks go to a [`SlowReceiver`]; `cfg` is used as given (retry delays too).
async fn spawn_slow(cfg: SimConfig) -> (App, SlowReceiver) {
    let r = SlowReceiver::default();
    let hook = Router::new()
        .route("/hook", post(slow_receive))
        .with_state(r.clone());
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(l, hook).await.unwrap() });
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let sim = FreshchatSim::start(
        l,
        SimConfig {
            webhook_url: Some(format!("http://{addr}/hook")),
            ..cfg
        },
    )
    .await
    .unwrap();
    let client = client_for(sim.base_url().as_str(), sim.api_key());
    let app = App {
        sim,
        client,
        recv_base: String::new(),
        recv: Receiver::default(),
    };
    (app, r)
}

/// `n` users with one conversation each (opening message included), deliveries settled.
async fn conversations(app: &App, first_user: u32, n: u32) -> Vec<String> {
    let mut out = Vec::new();
    for i in first_user..first_user + n {
        let u = app.client.create_user(&zalo_user(i)).await.unwrap();
        out.push(open_conversation(app, &u, "xin chào").await.conversation_id);
    }
    assert!(app.sim.wait_deliveries_idle(Duration::from_secs(10)).await);
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_keep_each_conversation_in_order_under_a_slow_receiver() {
    let (app, r) = spawn_slow(SimConfig::default()).await;
    r.delay_ms.store(30, Ordering::SeqCst);
    let convs = conversations(&app, 100, 4).await;
    // Agents in all four conversations reply at once, five messages each.
    let agent = app.sim.default_agent_id();
    let mut tasks = Vec::new();
    for cid in convs.clone() {
        let (sim, agent) = (app.sim.clone(), agent.clone());
        tasks.push(tokio::spawn(async move {
            for i in 0..5 {
                sim.agent_sends(&cid, &agent, vec![parts::text(format!("r{i}"))])
                    .await
                    .unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert!(app.sim.wait_deliveries_idle(Duration::from_secs(10)).await);
    for cid in &convs {
        let want: Vec<String> = app.sim.messages(cid).iter().map(id_of).collect();
        assert_eq!(want.len(), 6);
        let got: Vec<String> = r.hits_of(cid).into_iter().map(|h| h.key).collect();
        assert_eq!(got, want, "conversation {cid}");
    }
    assert_eq!(
        r.overlaps.load(Ordering::SeqCst),
        0,
        "one request per conversation at a time"
    );
    assert!(
        r.max_in_flight.load(Ordering::SeqCst) > 1,
        "conversations in parallel"
    );
    assert_eq!(app.sim.deliveries().len(), 24);
    assert!(app
        .sim
        .deliveries()
        .iter()
        .all(|d| d.status == Some(200) && d.retry_count == 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_of_different_conversations_are_delivered_in_parallel() {
    let (app, r) = spawn_slow(SimConfig::default()).await;
    let convs = conversations(&app, 200, 10).await;
    r.reset();
    r.delay_ms.store(200, Ordering::SeqCst);
    let agent = app.sim.default_agent_id();
    let start = Instant::now();
    for cid in &convs {
        app.sim
            .agent_sends(cid, &agent, vec![parts::text("đang kiểm tra")])
            .await
            .unwrap();
    }
    assert!(app.sim.wait_deliveries_idle(Duration::from_secs(10)).await);
    let took = start.elapsed();
    assert_eq!(r.hits.lock().unwrap().len(), 10);
    // One after the other would take 10 x 200 ms.
    assert!(took < Duration::from_millis(1000), "took {took:?}");
    assert!(r.max_in_flight.load(Ordering::SeqCst) >= 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_deliveries_are_bounded() {
    let (app, r) = spawn_slow(SimConfig {
        max_parallel_deliveries: 3,
        ..SimConfig::default()
    })
    .await;
    let convs = conversations(&app, 300, 9).await;
    r.reset();
    r.delay_ms.store(100, Ordering::SeqCst);
    let agent = app.sim.default_agent_id();
    let start = Instant::now();
    for cid in &convs {
        app.sim
            .agent_sends(cid, &agent, vec![parts::text("x")])
            .await
            .unwrap();
    }
    assert!(app.sim.wait_deliveries_idle(Duration::from_secs(10)).await);
    let took = start.elapsed();
    assert_eq!(r.hits.lock().unwrap().len(), 9);
    assert!(r.max_in_flight.load(Ordering::SeqCst) <= 3);
    // Three waves of three.
    assert!(took >= Duration::from_millis(290), "took {took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_delivery_holds_back_only_its_own_conversation() {
    let (app, r) = spawn_slow(SimConfig {
        retry_delays: vec![Duration::from_millis(300); 3],
        ..SimConfig::default()
    })
    .await;
    let convs = conversations(&app, 400, 2).await;
    let (a, b) = (&convs[0], &convs[1]);
    r.reset();
    let agent = app.sim.default_agent_id();
    let send = |cid: &str, text: &str| {
        let (sim, agent, cid, text) = (
            app.sim.clone(),
            agent.clone(),
            cid.to_owned(),
            text.to_owned(),
        );
        async move {
            sim.agent_sends(&cid, &agent, vec![parts::text(text)])
                .await
                .unwrap()["id"]
                .as_str()
                .unwrap()
                .to_owned()
        }
    };

    // Refused twice, accepted on the second retry.
    r.fail.lock().unwrap().insert("retry-me".into(), 2);
    let m1 = send(a, "retry-me").await;
    let m2 = send(a, "a2").await;
    let m3 = send(a, "a3").await;
    let n1 = send(b, "b1").await;
    assert!(app.sim.wait_deliveries_idle(Duration::from_secs(10)).await);
    let ha = r.hits_of(a);
    let got: Vec<(&str, &str, u16)> = ha
        .iter()
        .map(|h| (h.key.as_str(), h.retry.as_str(), h.status))
        .collect();
    assert_eq!(
        got,
        [
            (m1.as_str(), "0", 500),
            (m1.as_str(), "1", 500),
            (m1.as_str(), "2", 200),
            (m2.as_str(), "0", 200),
            (m3.as_str(), "0", 200),
        ]
    );
    let hb = r.hits_of(b);
    assert_eq!(hb.len(), 1);
    assert_eq!(hb[0].key, n1);
    // The other conversation went ahead while the first one waited for its retry.
    assert!(hb[0].at < ha[1].at);

    // Retries exhausted: four attempts (X-Retry-Count 0..3), then the next event goes out.
    r.reset();
    r.fail.lock().unwrap().insert("never".into(), 10);
    let lost = send(a, "never").await;
    let after = send(a, "after").await;
    assert!(app.sim.wait_deliveries_idle(Duration::from_secs(10)).await);
    let got: Vec<(String, String, u16)> = r
        .hits_of(a)
        .into_iter()
        .map(|h| (h.key, h.retry, h.status))
        .collect();
    let mut want: Vec<(String, String, u16)> =
        (0..4).map(|i| (lost.clone(), i.to_string(), 500)).collect();
    want.push((after, "0".into(), 200));
    assert_eq!(got, want);
    let d: Vec<(u32, Option<u16>)> = app
        .sim
        .deliveries()
        .into_iter()
        .filter(|d| d.dedupe_key == lost)
        .map(|d| (d.retry_count, d.status))
        .collect();
    assert_eq!(
        d,
        [
            (0, Some(500)),
            (1, Some(500)),
            (2, Some(500)),
            (3, Some(500))
        ]
    );
    assert_eq!(r.overlaps.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn reorder_swaps_within_a_conversation_and_releases_a_lone_webhook() {
    let (app, r) = spawn_slow(SimConfig::default()).await;
    let convs = conversations(&app, 500, 2).await;
    let (a, b) = (&convs[0], &convs[1]);
    r.reset();
    app.sim.set_webhook_mode(WebhookMode::Reorder);
    let agent = app.sim.default_agent_id();
    let mut ids = Vec::new();
    for (cid, text) in [(a, "a1"), (b, "b1"), (a, "a2")] {
        let m = app
            .sim
            .agent_sends(cid, &agent, vec![parts::text(text)])
            .await
            .unwrap();
        ids.push(id_of(&m));
    }
    assert!(app.sim.wait_deliveries_idle(Duration::from_secs(5)).await);
    let keys = |cid: &str| -> Vec<String> { r.hits_of(cid).into_iter().map(|h| h.key).collect() };
    // a1 waited for a2; b1, alone in its conversation, went out after the hold.
    assert_eq!(keys(a), [ids[2].clone(), ids[0].clone()]);
    assert_eq!(keys(b), [ids[1].clone()]);
}
