//! Every client call and error class against the simulator over real HTTP on loopback; in
//! `client/`: webhooks as the client reads them, delivery order, and what real Freshchat sends.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::Router;
use secrecy::SecretString;
use zfsync_freshchat::sim::{FreshchatSim, SimConfig};
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
            assigned_group_id: None,
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
        email: None,
        phone: None,
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
    assert_eq!(m.effective_type(), MessageType::Normal);
    let note = app
        .client
        .post_message(
            &c1.conversation_id,
            &NewMessage::bot_note("delivery failed"),
        )
        .await
        .unwrap();
    assert_eq!(note.effective_type(), MessageType::Private);
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
    assert!(matches!(e, FreshchatError::BadUrl { .. }), "{e:?}");
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
    // A 200 that is neither JSON nor HTML is a broken answer, not a portal page.
    let e = c.get_conversation("x").await.unwrap_err();
    assert!(matches!(e, FreshchatError::InvalidJson { .. }), "{e:?}");
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

mod delivery;
mod real_shapes;
mod webhooks;
