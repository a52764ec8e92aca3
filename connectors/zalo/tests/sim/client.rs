//! The crate's client against the simulator over loopback: every send kind, uploads, reads and
//! every error class (OAuth is in `client_oauth`, webhooks in `client_webhooks`).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::HeaderMap;
use bytes::Bytes;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{json, Value};
use zfsync_zalo::sim::{Fault, SimConfig, UserAction, ZaloSim};
use zfsync_zalo::{ClientConfig, ErrorClass, MediaSource, OutboundMessage, ZaloClient, ZaloError};

use super::{add_user, spawn, Receiver, USER};

fn tokens(sim: &ZaloSim) -> SecretString {
    SecretString::from(sim.issue_tokens().0)
}

pub(super) fn api_code(r: Result<impl std::fmt::Debug, ZaloError>) -> i64 {
    match r {
        Err(ZaloError::Api { code, .. }) => code,
        other => panic!("expected an API error, got {other:?}"),
    }
}

// ------------------------------------------------------------------ sending

#[tokio::test]
async fn sends_every_message_kind() {
    let (sim, client) = spawn(SimConfig::default()).await;
    add_user(&sim, USER);
    // Zalo takes a quote only of a message in this conversation.
    let asked = sim.user_sends(USER, UserAction::Text("Giá?".into())).await;
    let tok = tokens(&sim);

    let t = client
        .send_message(
            &tok,
            USER,
            &OutboundMessage::Text {
                text: "Xin chào".into(),
                quote_message_id: Some(asked.clone()),
            },
        )
        .await
        .unwrap();
    assert_eq!(t.user_id, USER);
    assert!(t.sent_time.is_some());

    let png = Bytes::from_static(b"\x89PNG\r\n\x1a\nfake");
    let img_id = client
        .upload_image(&tok, "photo.png", png.clone())
        .await
        .unwrap();
    let (name, bytes) = sim.uploaded(&img_id).unwrap();
    assert_eq!((name.as_str(), bytes), ("photo.png", png));
    client
        .send_message(
            &tok,
            USER,
            &OutboundMessage::Image {
                source: MediaSource::AttachmentId(img_id.clone()),
                caption: Some("cap".into()),
            },
        )
        .await
        .unwrap();
    client
        .send_message(
            &tok,
            USER,
            &OutboundMessage::Image {
                source: MediaSource::Url("https://example.com/a.jpg".into()),
                caption: None,
            },
        )
        .await
        .unwrap();

    let gif_id = client
        .upload_gif(&tok, "a.gif", Bytes::from_static(b"GIF89a..."))
        .await
        .unwrap();
    client
        .send_message(
            &tok,
            USER,
            &OutboundMessage::Gif {
                attachment_id: gif_id,
                width: 120,
                height: 80,
                caption: None,
            },
        )
        .await
        .unwrap();
    client
        .send_message(
            &tok,
            USER,
            &OutboundMessage::Sticker {
                sticker_id: "bfe458bf64fa8da4d4eb".into(),
            },
        )
        .await
        .unwrap();
    let token = client
        .upload_file(&tok, "báo giá.pdf", Bytes::from_static(b"%PDF-1.4"))
        .await
        .unwrap();
    assert_eq!(sim.uploaded(&token).unwrap().0, "báo giá.pdf");
    let f = client
        .send_message(&tok, USER, &OutboundMessage::File { token })
        .await
        .unwrap();

    let sent = sim.sent_to(USER);
    assert_eq!(sent.len(), 6);
    assert_eq!(
        sent[0].message,
        json!({"text": "Xin chào", "quote_message_id": asked})
    );
    assert_eq!(
        sent[1].message["attachment"]["payload"]["elements"][0]["attachment_id"],
        img_id.as_str()
    );
    assert_eq!(sent[5].message_id, f.message_id);

    // Text limit counts Unicode scalar values.
    let exactly = "ồ".repeat(2000);
    client
        .send_message(
            &tok,
            USER,
            &OutboundMessage::Text {
                text: exactly,
                quote_message_id: None,
            },
        )
        .await
        .unwrap();
    let over = OutboundMessage::Text {
        text: "a".repeat(2001),
        quote_message_id: None,
    };
    let e = client.send_message(&tok, USER, &over).await.unwrap_err();
    assert_eq!((e.code(), e.class()), (Some(-210), ErrorClass::BadRequest));
}

/// The request-user-info template as the reference shows it (one element; title ≤ 100, subtitle ≤
/// 500 characters), built by the client and checked by the simulator.
#[tokio::test]
async fn request_user_info_takes_the_documented_limits() {
    let (sim, client) = spawn(SimConfig::default()).await;
    add_user(&sim, USER);
    sim.user_sends(USER, UserAction::Text("chào shop".into()))
        .await;
    let tok = tokens(&sim);
    let ask = |title: String, subtitle: String, image_url: &str| OutboundMessage::RequestUserInfo {
        title,
        subtitle,
        image_url: image_url.into(),
    };
    let ok = ask(
        "Chia sẻ".repeat(14) + "xx",
        "ư".repeat(500),
        "https://example.com/a.png",
    );
    let sent = client.send_message(&tok, USER, &ok).await.unwrap();
    assert!(!sent.message_id.is_empty());
    let body = &sim.sent_to(USER)[0].message;
    let payload = &body["attachment"]["payload"];
    assert_eq!(payload["template_type"], "request_user_info");
    assert_eq!(
        payload["elements"][0]["image_url"],
        "https://example.com/a.png"
    );
    // Without an image the key is left out.
    let plain = ask("Chia sẻ".into(), String::new(), "");
    client.send_message(&tok, USER, &plain).await.unwrap();
    assert!(
        sim.sent_to(USER)[1].message["attachment"]["payload"]["elements"][0]
            .get("image_url")
            .is_none()
    );
    for too_long in [
        ask("x".repeat(101), String::new(), ""),
        ask("x".into(), "x".repeat(501), ""),
        ask(String::new(), "x".into(), ""),
    ] {
        assert!(client.send_message(&tok, USER, &too_long).await.is_err());
    }
    assert_eq!(
        sim.sent_to(USER).len(),
        2,
        "refused sends are not delivered"
    );
}

#[tokio::test]
async fn recipient_and_asset_errors() {
    let (sim, client) = spawn(SimConfig::default()).await;
    let tok = tokens(&sim);
    let hi = OutboundMessage::Text {
        text: "hi".into(),
        quote_message_id: None,
    };
    let e = client.send_message(&tok, "999", &hi).await.unwrap_err();
    assert_eq!(
        (e.code(), e.class()),
        (Some(-213), ErrorClass::UserUnreachable)
    );
    add_user(&sim, USER);
    // Never interacted, then interacted 8 days ago: window closed.
    assert_eq!(api_code(client.send_message(&tok, USER, &hi).await), -230);
    sim.set_last_interaction(USER, chrono::Utc::now().timestamp_millis() - 8 * 86_400_000);
    let e = client.send_message(&tok, USER, &hi).await.unwrap_err();
    assert_eq!(
        (e.code(), e.class()),
        (Some(-230), ErrorClass::UserUnreachable)
    );
    sim.set_last_interaction(USER, chrono::Utc::now().timestamp_millis() - 6 * 86_400_000);
    client.send_message(&tok, USER, &hi).await.unwrap();
    sim.set_blocked(USER, true);
    assert_eq!(api_code(client.send_message(&tok, USER, &hi).await), -217);
    sim.set_blocked(USER, false);

    // Asset expiry and unknown assets.
    let id = client
        .upload_image(&tok, "a.jpg", Bytes::from_static(b"jpg"))
        .await
        .unwrap();
    sim.expire_asset(&id);
    let e = client
        .send_message(
            &tok,
            USER,
            &OutboundMessage::Image {
                source: MediaSource::AttachmentId(id),
                caption: None,
            },
        )
        .await
        .unwrap_err();
    assert_eq!(
        (e.code(), e.class()),
        (Some(-100), ErrorClass::AssetExpired)
    );
    let e = client
        .send_message(
            &tok,
            USER,
            &OutboundMessage::File {
                token: "bogus".into(),
            },
        )
        .await
        .unwrap_err();
    assert_eq!((e.code(), e.class()), (Some(-201), ErrorClass::BadRequest));
    // A GIF id is not an image id.
    let g = client
        .upload_gif(&tok, "a.gif", Bytes::from_static(b"GIF89a"))
        .await
        .unwrap();
    assert_eq!(
        api_code(
            client
                .send_message(
                    &tok,
                    USER,
                    &OutboundMessage::Image {
                        source: MediaSource::AttachmentId(g.clone()),
                        caption: None
                    }
                )
                .await
        ),
        -201
    );
    assert_eq!(
        api_code(
            client
                .send_message(
                    &tok,
                    USER,
                    &OutboundMessage::Gif {
                        attachment_id: g,
                        width: 0,
                        height: 1,
                        caption: None
                    }
                )
                .await
        ),
        -201
    );
    // Empty text.
    assert_eq!(
        api_code(
            client
                .send_message(
                    &tok,
                    USER,
                    &OutboundMessage::Text {
                        text: " ".into(),
                        quote_message_id: None
                    }
                )
                .await
        ),
        -201
    );
}

#[tokio::test]
async fn upload_types_and_sizes() {
    let (sim, client) = spawn(SimConfig::default()).await;
    let tok = tokens(&sim);
    let mb = 1024 * 1024;
    assert_eq!(
        api_code(
            client
                .upload_image(&tok, "a.gif", Bytes::from_static(b"x"))
                .await
        ),
        -201
    );
    assert_eq!(
        api_code(
            client
                .upload_image(&tok, "a.jpg", Bytes::from(vec![0u8; mb + 1]))
                .await
        ),
        -210
    );
    client
        .upload_image(&tok, "a.jpeg", Bytes::from(vec![0u8; mb]))
        .await
        .unwrap();
    assert_eq!(
        api_code(
            client
                .upload_gif(&tok, "a.png", Bytes::from_static(b"x"))
                .await
        ),
        -201
    );
    assert_eq!(
        api_code(
            client
                .upload_gif(&tok, "a.gif", Bytes::from(vec![0u8; 5 * mb + 1]))
                .await
        ),
        -210
    );
    assert_eq!(
        api_code(
            client
                .upload_file(&tok, "notes.txt", Bytes::from_static(b"x"))
                .await
        ),
        -201
    );
    assert_eq!(
        api_code(
            client
                .upload_file(&tok, "a.pdf", Bytes::from(vec![0u8; 5 * mb + 1]))
                .await
        ),
        -210
    );
    client
        .upload_file(&tok, "a.docx", Bytes::from_static(b"PK"))
        .await
        .unwrap();
    client
        .upload_file(&tok, "a.DOC", Bytes::from_static(b"x"))
        .await
        .unwrap();
    assert!(matches!(
        client
            .upload_file(&tok, "noext", Bytes::from_static(b"x"))
            .await,
        Err(ZaloError::UploadName { .. })
    ));

    let (sim2, client2) = spawn(SimConfig {
        accept_txt_upload: true,
        ..SimConfig::default()
    })
    .await;
    let t2 = tokens(&sim2);
    let token = client2
        .upload_file(&t2, "reply.txt", Bytes::from_static(b"long text"))
        .await
        .unwrap();
    assert_eq!(
        sim2.uploaded(&token).unwrap().1,
        Bytes::from_static(b"long text")
    );
}

#[tokio::test]
async fn multipart_carries_filename_and_mime() {
    // The client's multipart part, seen by a plain receiver.
    let seen: Arc<Mutex<Vec<(String, String, String)>>> = Arc::default();
    let s2 = seen.clone();
    let app = axum::Router::new().route(
        "/v2.0/oa/upload/image",
        axum::routing::post(
            move |headers: HeaderMap, mut mp: axum::extract::Multipart| {
                let s2 = s2.clone();
                async move {
                    let f = mp.next_field().await.unwrap().unwrap();
                    s2.lock().unwrap().push((
                        f.name().unwrap().to_owned(),
                        f.file_name().unwrap().to_owned(),
                        f.content_type().unwrap().to_owned(),
                    ));
                    assert_eq!(headers["access_token"], "tok");
                    axum::Json(
                        json!({"data": {"attachment_id": "A1"}, "error": 0, "message": "Success"}),
                    )
                }
            },
        ),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = url::Url::parse(&format!("http://{}/", listener.local_addr().unwrap())).unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let client =
        ZaloClient::new(ClientConfig::new("1", SecretString::from("s")).with_base(base)).unwrap();
    let id = client
        .upload_image(
            &SecretString::from("tok"),
            "ảnh.png",
            Bytes::from_static(b"x"),
        )
        .await
        .unwrap();
    assert_eq!(id, "A1");
    assert_eq!(
        seen.lock().unwrap()[0],
        ("file".into(), "ảnh.png".into(), "image/png".into())
    );
}

// ------------------------------------------------------------------ reads

#[tokio::test]
async fn profile_oa_and_history() {
    let (sim, client) = spawn(SimConfig::default()).await;
    let tok = tokens(&sim);
    add_user(&sim, USER);
    let p = client.user_detail(&tok, USER).await.unwrap();
    assert_eq!(
        (p.display_name.as_str(), p.avatar.as_deref(), p.is_follower),
        ("Nguyễn Văn A", Some("https://a/240.jpg"), Some(true))
    );
    assert_eq!(api_code(client.user_detail(&tok, "404").await), -213);

    let oa = client.oa_info(&tok).await.unwrap();
    assert_eq!(
        (oa.oa_id.as_str(), oa.name.as_str()),
        ("4318848795011111111", "zfsync Sandbox OA")
    );
    assert_eq!(oa.num_follower, Some(1));
    // Both id spellings are present in the raw body.
    let raw: Value = reqwest::Client::new()
        .get(sim.api_base().join("/v2.0/oa/getoa").unwrap())
        .header("access_token", tok.expose_secret())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(raw["data"]["oa_id"], raw["data"]["oaid"]);

    for i in 0..12 {
        sim.user_sends(USER, UserAction::Text(format!("m{i}")))
            .await;
    }
    let m = client
        .send_message(
            &tok,
            USER,
            &OutboundMessage::Text {
                text: "reply".into(),
                quote_message_id: None,
            },
        )
        .await
        .unwrap();
    sim.user_sends("777", UserAction::Text("other".into()))
        .await;

    // The latest message of each conversation, newest first.
    let recent = client.recent_chats(&tok, 0, 10).await.unwrap();
    assert_eq!(recent.len(), 2);
    assert_eq!(recent[0].text.as_deref(), Some("other"));
    assert!(recent[0].from_user);
    assert_eq!(recent[1].message_id, m.message_id);
    assert!(!recent[1].from_user);
    assert!(recent.windows(2).all(|w| w[0].time_ms >= w[1].time_ms));
    assert_eq!(client.recent_chats(&tok, 1, 10).await.unwrap().len(), 1);
    let e = client.recent_chats(&tok, 0, 11).await.unwrap_err();
    assert_eq!((e.code(), e.class()), (Some(-210), ErrorClass::BadRequest));

    let conv = client.conversation(&tok, USER, 0, 10).await.unwrap();
    assert_eq!(conv.len(), 10);
    assert_eq!(conv[0].message_id, m.message_id);
    assert_eq!(conv[1].text.as_deref(), Some("m11"));
    assert_eq!(
        (conv[1].from_id.as_str(), conv[1].to_id.as_str()),
        (USER, "4318848795011111111")
    );
    let page2 = client.conversation(&tok, USER, 10, 10).await.unwrap();
    assert_eq!(page2.len(), 3);
    assert_eq!(page2[2].text.as_deref(), Some("m0"));
    assert_eq!(api_code(client.conversation(&tok, USER, 0, 50).await), -210);
}

// ------------------------------------------------------------------ error classes

#[tokio::test]
async fn token_rate_fault_and_transport_errors() {
    let (sim, client) = spawn(SimConfig {
        rate_limit_per_minute: 50,
        ..SimConfig::default()
    })
    .await;
    let e = client
        .oa_info(&SecretString::from("nope"))
        .await
        .unwrap_err();
    assert_eq!((e.code(), e.is_token_error()), (Some(-216), true));
    let tok = tokens(&sim);
    // An expired token answers -216 "Access token has expired", as captured.
    sim.expire_access_tokens();
    let e = client.oa_info(&tok).await.unwrap_err();
    assert_eq!(
        (e.code(), e.is_token_error(), e.is_transient()),
        (Some(-216), true, false)
    );
    let tok = tokens(&sim);

    let cases: [(i64, ErrorClass); 6] = [
        (-124, ErrorClass::TokenInvalid),
        (-211, ErrorClass::Quota),
        (-320, ErrorClass::PaidFeature),
        (-224, ErrorClass::PaidFeature),
        (-233, ErrorClass::BadRequest),
        (-240, ErrorClass::Other),
    ];
    for (code, class) in cases {
        sim.fail_next(
            "/v2.0/oa/getoa",
            1,
            Fault::Api {
                code,
                message: "injected".into(),
            },
        );
        let e = client.oa_info(&tok).await.unwrap_err();
        assert_eq!((e.code(), e.class()), (Some(code), class));
    }
    client.oa_info(&tok).await.unwrap();

    sim.fail_next("/v2.0/oa/getoa", 2, Fault::HttpStatus(503));
    for _ in 0..2 {
        let e = client.oa_info(&tok).await.unwrap_err();
        assert!(matches!(e, ZaloError::Http { status: 503, .. }));
        assert!(e.is_transient());
        assert_eq!(e.class(), ErrorClass::Transport);
    }
    sim.fail_next("/v2.0/oa/getoa", 1, Fault::HttpStatus(429));
    let e = client.oa_info(&tok).await.unwrap_err();
    assert_eq!(
        (e.class(), e.is_transient()),
        (ErrorClass::RateLimited, true)
    );
    sim.fail_next("/v2.0/oa/getoa", 1, Fault::HttpStatus(404));
    let e = client.oa_info(&tok).await.unwrap_err();
    assert!(!e.is_transient());

    // Latency past the client's timeout.
    let cc = ClientConfig {
        timeout: Duration::from_millis(150),
        ..client.config().clone()
    };
    let impatient = ZaloClient::new(cc).unwrap();
    sim.set_latency(Duration::from_secs(5));
    let e = impatient.oa_info(&tok).await.unwrap_err();
    assert!(
        matches!(e, ZaloError::Transport { timeout: true, .. }),
        "{e:?}"
    );
    assert!(e.is_transient());
    sim.set_latency(Duration::ZERO);

    // Rate limit with headers.
    let http = reqwest::Client::new();
    let mut last = None;
    for _ in 0..60 {
        let r = http
            .get(sim.api_base().join("/v2.0/oa/getoa").unwrap())
            .header("access_token", tok.expose_secret())
            .send()
            .await
            .unwrap();
        assert_eq!(r.headers()["x-ratelimit-limit"], "50");
        let remain: u32 = r.headers()["x-ratelimit-remain"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        let v: Value = r.json().await.unwrap();
        last = Some((remain, v));
    }
    let (remain, v) = last.unwrap();
    assert_eq!((remain, v["error"].as_i64()), (0, Some(-32)));
    let e = client.oa_info(&tok).await.unwrap_err();
    assert_eq!(
        (e.class(), e.is_transient()),
        (ErrorClass::RateLimited, true)
    );

    // Nothing listening.
    let dead = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let dead_url = url::Url::parse(&format!("http://{}/", dead.local_addr().unwrap())).unwrap();
    drop(dead);
    let c = ZaloClient::new(ClientConfig::new("1", SecretString::from("s")).with_base(dead_url))
        .unwrap();
    let e = c.oa_info(&tok).await.unwrap_err();
    assert!(
        matches!(e, ZaloError::Transport { timeout: false, .. }),
        "{e:?}"
    );
    assert!(!e.to_string().contains(tok.expose_secret()));
}

#[tokio::test]
async fn non_json_body_is_a_decode_error() {
    let (url, _recv) = Receiver::start().await;
    let mut base = url::Url::parse(&url).unwrap();
    base.set_path("/html");
    // `/html` + `/v2.0/oa/getoa` is not routed (404); the page itself is HTML with 200.
    let c =
        ZaloClient::new(ClientConfig::new("1", SecretString::from("s")).with_base(base)).unwrap();
    let e = c.oa_info(&SecretString::from("t")).await.unwrap_err();
    assert!(matches!(e, ZaloError::Http { status: 404, .. }), "{e:?}");
    let d = c.download(&format!("{url}/html"), 1000).await.unwrap();
    assert_eq!(d.bytes, Bytes::from_static(b"<html>not json</html>"));
    // A 200 HTML body where JSON is expected.
    let app = axum::Router::new().fallback(|| async { "<html>maintenance</html>" });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = url::Url::parse(&format!("http://{}/", listener.local_addr().unwrap())).unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let c =
        ZaloClient::new(ClientConfig::new("1", SecretString::from("s")).with_base(base)).unwrap();
    let e = c.oa_info(&SecretString::from("t")).await.unwrap_err();
    assert!(matches!(e, ZaloError::Decode { .. }), "{e:?}");
    assert_eq!(e.class(), ErrorClass::Transport);
    let e = c.refresh_token(&SecretString::from("r")).await.unwrap_err();
    assert!(matches!(e, ZaloError::Decode { .. }), "{e:?}");
}

/// Replies to an anonymous chat-widget visitor go through `/v2.0/oa/message` with the visitor's
/// ids; the answer's ids are read back (corpus `zalo-api-message-anonymous-success.json`).
#[tokio::test]
async fn sends_to_an_anonymous_visitor() {
    let (sim, client, recv) = super::with_receiver(SimConfig::default()).await;
    let tok = tokens(&sim);
    let anon = ZaloSim::new_anonymous_id();
    sim.anonymous_sends(&anon, zfsync_zalo::sim::AnonymousAction::Text("hi".into()))
        .await;
    super::idle(&sim).await;
    let conv = recv.bodies()[0]["message"]["conversation_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let text = OutboundMessage::Text {
        text: "chào bạn".into(),
        quote_message_id: None,
    };
    let sent = client
        .send_anonymous(&tok, &anon, &conv, &text)
        .await
        .unwrap();
    assert_eq!(
        (sent.anonymous_id.as_str(), sent.conversation_id.as_str()),
        (anon.as_str(), conv.as_str())
    );
    assert_eq!(sim.sent_to(&anon)[0].message_id, sent.message_id);
    assert_eq!(sim.sent_to(&anon)[0].message, json!({"text": "chào bạn"}));
    // The wrong conversation id is refused.
    let wrong = client
        .send_anonymous(&tok, &anon, "ffff", &text)
        .await
        .unwrap_err();
    assert_eq!(wrong.code(), Some(-201));
    assert!(sim
        .api_calls()
        .iter()
        .all(|c| c.starts_with("/v2.0/oa/message")));
}
