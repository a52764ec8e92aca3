//! Both directions end to end, with every documented rule.
#![allow(clippy::unwrap_used)]

use bytes::Bytes;
use zfsync::sandbox::{wait_for, EnvOptions, TINY_PNG};
use zfsync_freshchat::sim::WebhookMode as FcWebhookMode;
use zfsync_freshchat::{ActorType, FilePart, MessagePart, MessageType};
use zfsync_zalo::sim::{Fault, UserAction, WebhookMode as ZaloWebhookMode};

use crate::helpers::*;

const U1: &str = "5234000000000000001";
const U2: &str = "5234000000000000002";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_contact_creates_named_user_and_conversation() {
    let env = env().await;
    add_user(&env, U1, "Minh Khánh");
    env.zalo
        .user_sends(U1, UserAction::Text("Xin chào 👋".into()))
        .await;
    let msgs = customer_messages(&env, U1, 1).await;
    assert_eq!(texts(&msgs[0]), vec!["Xin chào 👋"]);

    let user = fc_user(&env, U1).expect("Freshchat user created");
    assert_eq!(user.first_name.as_deref(), Some("Minh Khánh"));
    assert_eq!(user.last_name.as_deref(), Some("Zalo"));
    assert_eq!(
        user.avatar.as_ref().and_then(|a| a.url.as_deref()),
        Some(format!("https://s240-ava-talk.zadn.vn/{U1}.jpg").as_str())
    );
    let prop = |n: &str| {
        user.properties
            .iter()
            .find(|p| p.name == n)
            .map(|p| p.value.clone())
    };
    assert_eq!(prop("external_user_provider").as_deref(), Some("zalo"));
    assert_eq!(prop("zalo_user_id").as_deref(), Some(U1));
    assert_eq!(prop("zalo_oa_id").as_deref(), Some("4318848795011111111"));
    assert!(
        prop("zalo_first_message_at").is_some(),
        "the time they first wrote"
    );
    // No real name, email or phone: only what the documented rule says.
    assert_eq!(
        user.reference_id.as_deref(),
        Some(format!("zalo:4318848795011111111:{U1}").as_str())
    );

    // A second message goes to the same conversation, as the same user.
    env.zalo
        .user_sends(U1, UserAction::Text("Còn hàng không?".into()))
        .await;
    let msgs = customer_messages(&env, U1, 2).await;
    assert_eq!(texts(&msgs[1]), vec!["Còn hàng không?"]);
    assert_eq!(env.fc_users().len(), 1);
    assert_eq!(env.fc_conversations().len(), 1);
    assert!(msgs
        .iter()
        .all(|m| m.actor_id.as_deref() == Some(user.id.as_str())));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn profile_refused_uses_fallback_then_fills_in() {
    let env = env().await;
    add_user(&env, U1, "Lan Anh");
    // Zalo refuses the profile, and the history that would carry the name is unavailable too.
    refuse_profile_and_history(&env, 1);
    env.zalo.user_sends(U1, UserAction::Text("hi".into())).await;
    customer_messages(&env, U1, 1).await;
    assert_eq!(
        fc_user(&env, U1).unwrap().first_name.as_deref(),
        Some("Zalo user 0001")
    );
    env.zalo
        .user_sends(U1, UserAction::Text("again".into()))
        .await;
    customer_messages(&env, U1, 2).await;
    let named = wait_for(WAIT, || async {
        (fc_user(&env, U1)?.first_name.as_deref() == Some("Lan Anh")).then_some(())
    })
    .await;
    assert!(
        named.is_some(),
        "profile filled in later: {:?}",
        fc_user(&env, U1)
    );
}

/// Zalo refuses the next `n` profile reads (-213) and the next `n` history reads.
fn refuse_profile_and_history(env: &zfsync::sandbox::Env, n: u32) {
    for path in ["/v3.0/oa/user/detail", "/v2.0/oa/conversation"] {
        env.zalo.fail_next(
            path,
            n,
            Fault::Api {
                code: -213,
                message: "User has not followed OA".into(),
            },
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_profile_takes_the_name_from_the_history() {
    let env = env().await;
    add_user(&env, U1, "Lan Anh");
    env.zalo.fail_next(
        "/v3.0/oa/user/detail",
        1,
        Fault::Api {
            code: -213,
            message: "User has not followed OA".into(),
        },
    );
    env.zalo.user_sends(U1, UserAction::Text("hi".into())).await;
    customer_messages(&env, U1, 1).await;
    let user = fc_user(&env, U1).unwrap();
    assert_eq!(
        (user.first_name.as_deref(), user.last_name.as_deref()),
        (Some("Lan Anh"), Some("Zalo")),
        "the name the conversation history carries, not a fallback"
    );
}

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
async fn every_attachment_kind_from_zalo() {
    let env = env().await;
    add_user(&env, U1, "Minh");
    let png = Bytes::from_static(TINY_PNG);
    let actions = vec![
        UserAction::Image {
            caption: Some("ảnh lỗi".into()),
            bytes: png.clone(),
        },
        UserAction::Gif {
            bytes: Bytes::from_static(b"GIF89a\x01\x00\x01\x00\x00\x00\x00;"),
        },
        UserAction::Sticker {
            id: "abc123".into(),
        },
        UserAction::File {
            name: "hoa-don.pdf".into(),
            bytes: Bytes::from_static(b"%PDF-1.4 test"),
        },
        UserAction::Audio {
            bytes: Bytes::from_static(b"#!AMR\n voice"),
        },
        UserAction::Video {
            bytes: Bytes::from_static(b"\x00\x00\x00\x18ftypmp42 video"),
        },
        UserAction::Location {
            latitude: "10.7769".into(),
            longitude: "106.7009".into(),
        },
        UserAction::Link {
            url: "https://shop.example/p/1".into(),
            title: Some("Áo thun".into()),
        },
        UserAction::BusinessCard {
            name: "Trần Văn B".into(),
            phone: "0900000000".into(),
        },
    ];
    let n = actions.len();
    for a in actions {
        env.zalo.user_sends(U1, a).await;
    }
    let msgs = customer_messages(&env, U1, n).await;
    let kinds = |i: usize| {
        msgs[i]
            .message_parts
            .iter()
            .map(|p| p.kind().to_string())
            .collect::<Vec<_>>()
    };
    // Image with caption: the caption becomes a text part, the image is re-hosted on Freshchat.
    assert_eq!(texts(&msgs[0]), vec!["ảnh lỗi"]);
    let img = msgs[0].message_parts.iter().find_map(|p| match p {
        MessagePart::Image { url } => Some(url.clone()),
        _ => None,
    });
    let img = img.expect("image part");
    assert!(
        img.starts_with(env.freshchat.cdn_url().as_str()),
        "uploaded to Freshchat, not a Zalo link: {img}"
    );
    let body = reqwest::get(&img).await.unwrap().bytes().await.unwrap();
    assert_eq!(&body[..], TINY_PNG, "the bytes the customer sent");
    assert_eq!(kinds(1), vec!["image"], "gif");
    assert_eq!(kinds(2), vec!["image"], "sticker");
    assert_eq!(kinds(3), vec!["file"], "file");
    match &msgs[3].message_parts[0] {
        MessagePart::File(f) => assert_eq!(f.name.as_deref(), Some("hoa-don.pdf")),
        other => panic!("{other:?}"),
    }
    assert_eq!(kinds(4), vec!["file"], "voice message");
    assert!(
        matches!(kinds(5)[0].as_str(), "video" | "file"),
        "video: {:?}",
        kinds(5)
    );
    let loc = texts(&msgs[6]).join("");
    assert!(
        loc.contains("10.7769") && loc.contains("106.7009") && loc.contains("maps"),
        "{loc}"
    );
    let link = texts(&msgs[7]).join("");
    assert!(
        link.contains("https://shop.example/p/1") && link.contains("Áo thun"),
        "{link}"
    );
    let card = texts(&msgs[8]).join("");
    assert!(card.contains("Trần Văn B"), "{card}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_replies_of_every_kind_reach_zalo() {
    let env = env().await;
    let conv = start_conversation(&env, U1).await;
    let agent = env.freshchat.default_agent_id();
    let png = env
        .freshchat
        .upload_for_agent("a.png", "image/png", Bytes::from_static(TINY_PNG));
    let gif = env.freshchat.upload_for_agent(
        "a.gif",
        "image/gif",
        Bytes::from_static(b"GIF89a\x20\x00\x10\x00\x00\x00\x00;"),
    );
    let pdf = env.freshchat.upload_for_agent(
        "bao-gia.pdf",
        "application/pdf",
        Bytes::from_static(b"%PDF-1.4 quote"),
    );
    let zip = env.freshchat.upload_for_agent(
        "data.zip",
        "application/zip",
        Bytes::from_static(b"PK\x03\x04"),
    );
    let video = env.freshchat.upload_for_agent(
        "video.mp4",
        "video/mp4",
        Bytes::from_static(b"\x00\x00\x00\x18ftypmp42"),
    );
    env.freshchat
        .agent_sends(
            &conv,
            &agent,
            crate::helpers::json_parts(vec![
                MessagePart::Text {
                    content: "Dạ, shop gửi anh 😊".into(),
                },
                MessagePart::Image { url: png },
                MessagePart::Image { url: gif },
                MessagePart::File(FilePart {
                    name: Some("bao-gia.pdf".into()),
                    url: Some(pdf),
                    file_size_in_bytes: Some(14),
                    content_type: Some("application/pdf".into()),
                    ..FilePart::default()
                }),
                MessagePart::File(FilePart {
                    name: Some("data.zip".into()),
                    url: Some(zip.clone()),
                    file_size_in_bytes: Some(4),
                    content_type: Some("application/zip".into()),
                    ..FilePart::default()
                }),
                MessagePart::Video {
                    url: video,
                    content_type: Some("video/mp4".into()),
                },
            ]),
        )
        .await
        .unwrap();
    let sent = zalo_sent(&env, U1, 6).await;
    assert_eq!(
        zalo_text(&sent[0]).as_deref(),
        Some("Dạ, shop gửi anh 😊"),
        "emoji pass through"
    );
    let media = |i: usize| {
        sent[i]
            .message
            .pointer("/attachment/payload/elements/0/media_type")
            .and_then(|v| v.as_str())
            .map(str::to_string)
    };
    assert_eq!(media(1).as_deref(), Some("image"));
    let att = sent[1]
        .message
        .pointer("/attachment/payload/elements/0/attachment_id")
        .and_then(|v| v.as_str())
        .unwrap();
    assert_eq!(
        &env.zalo.uploaded(att).unwrap().1[..],
        TINY_PNG,
        "uploaded to Zalo's cloud"
    );
    assert_eq!(media(2).as_deref(), Some("gif"));
    assert_eq!(
        sent[2]
            .message
            .pointer("/attachment/payload/elements/0/width")
            .and_then(|v| v.as_u64()),
        Some(32)
    );
    assert_eq!(
        sent[3]
            .message
            .pointer("/attachment/type")
            .and_then(|v| v.as_str()),
        Some("file")
    );
    let tok = sent[3]
        .message
        .pointer("/attachment/payload/token")
        .and_then(|v| v.as_str())
        .unwrap();
    assert_eq!(env.zalo.uploaded(tok).unwrap().0, "bao-gia.pdf");
    // What Zalo cannot take is hosted by zfsync: the customer gets a link that opens without the
    // Freshchat API key, to the same bytes, never the Freshchat URL.
    for (i, bytes, name) in [
        (4, &b"PK\x03\x04"[..], "data.zip"),
        (5, &b"\x00\x00\x00\x18ftypmp42"[..], "video.mp4"),
    ] {
        let text = zalo_text(&sent[i]).unwrap();
        assert!(!text.contains(env.freshchat.base_url().as_str()), "{text}");
        let link = hosted_link(&env, &text);
        let resp = reqwest::get(&link).await.unwrap();
        assert!(resp.status().is_success(), "{link}");
        let disposition = resp.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .to_string();
        assert!(disposition.contains(name), "{disposition}");
        assert_eq!(&resp.bytes().await.unwrap()[..], bytes, "{name}");
    }
    settle(&env).await;
    assert_eq!(
        env.zalo.sent_to(U1).len(),
        6,
        "one Zalo message per part, nothing more"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_reply_is_hosted_when_zalo_refuses_txt() {
    let env = env().await;
    let conv = start_conversation(&env, U1).await;
    let exactly = "ă".repeat(2000);
    let long = format!("Điều khoản 📄 {}", "x".repeat(2100));
    let agent = env.freshchat.default_agent_id();
    env.freshchat
        .agent_sends(
            &conv,
            &agent,
            crate::helpers::json_parts(vec![MessagePart::Text {
                content: exactly.clone(),
            }]),
        )
        .await
        .unwrap();
    env.freshchat
        .agent_sends(
            &conv,
            &agent,
            crate::helpers::json_parts(vec![MessagePart::Text {
                content: long.clone(),
            }]),
        )
        .await
        .unwrap();
    let sent = zalo_sent(&env, U1, 2).await;
    assert_eq!(
        zalo_text(&sent[0]).as_deref(),
        Some(exactly.as_str()),
        "2,000 characters still go as text"
    );
    let text = zalo_text(&sent[1]).unwrap();
    assert!(text.chars().count() <= 2000);
    let url = text
        .split_whitespace()
        .find(|w| w.contains("/files/"))
        .expect("a link to the hosted file")
        .to_string();
    let resp = reqwest::get(&url).await.unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .contains(".txt"));
    assert_eq!(
        resp.text().await.unwrap(),
        long,
        "the whole reply, downloadable"
    );
    let guessed = format!(
        "{}/files/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        env.daemon_url()
    );
    assert_eq!(reqwest::get(&guessed).await.unwrap().status(), 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_reply_goes_through_zalo_upload_when_accepted() {
    let env = env_with(EnvOptions {
        accept_txt_upload: true,
        ..EnvOptions::default()
    })
    .await;
    let conv = start_conversation(&env, U1).await;
    let long = "y".repeat(2500);
    env.freshchat
        .agent_sends(
            &conv,
            &env.freshchat.default_agent_id(),
            crate::helpers::json_parts(vec![MessagePart::Text {
                content: long.clone(),
            }]),
        )
        .await
        .unwrap();
    let sent = zalo_sent(&env, U1, 1).await;
    let tok = sent[0]
        .message
        .pointer("/attachment/payload/token")
        .and_then(|v| v.as_str())
        .expect("file message");
    let (name, bytes) = env.zalo.uploaded(tok).unwrap();
    assert!(name.ends_with(".txt"));
    assert_eq!(bytes.len(), 2500);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resolve_notice_notes_and_echoes_are_filtered() {
    let env = env().await;
    let conv = start_conversation(&env, U1).await;
    let agent = env.freshchat.default_agent_id();
    env.freshchat
        .agent_sends(
            &conv,
            &agent,
            crate::helpers::json_parts(vec![MessagePart::Text {
                content: "reply".into(),
            }]),
        )
        .await
        .unwrap();
    env.freshchat
        .agent_note(&conv, &agent, "internal only")
        .await
        .unwrap();
    env.freshchat.resolve(&conv, &agent).await.unwrap();
    let sent = zalo_sent(&env, U1, 2).await;
    assert_eq!(zalo_text(&sent[0]).as_deref(), Some("reply"));
    assert!(
        zalo_text(&sent[1]).unwrap().contains("đã giải quyết"),
        "resolve notice"
    );
    settle(&env).await;
    // The private note never reached Zalo, and the Zalo echoes of our sends never came back to
    // Freshchat as customer messages or notes.
    assert_eq!(env.zalo.sent_to(U1).len(), 2);
    let msgs = env.fc_messages(&conv);
    assert_eq!(
        msgs.iter()
            .filter(|m| matches!(m.actor_type, ActorType::User))
            .count(),
        1
    );
    assert!(
        !msgs.iter().any(|m| matches!(m.actor_type, ActorType::Bot)),
        "no notes: {msgs:?}"
    );
    // The customer writes again after resolve: the conversation reopens, same conversation.
    env.zalo
        .user_sends(U1, UserAction::Text("one more thing".into()))
        .await;
    customer_messages(&env, U1, 2).await;
    assert_eq!(env.fc_conversations().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oa_staff_messages_become_private_notes_and_reactions_too() {
    let env = env().await;
    add_user(&env, U1, "Minh");
    let first = env
        .zalo
        .user_sends(U1, UserAction::Text("giá bao nhiêu?".into()))
        .await;
    customer_messages(&env, U1, 1).await;
    env.zalo.staff_sends_text(U1, "admin-77", "Dạ 150k ạ").await;
    let n = notes(&env, U1, 1).await;
    assert!(n[0].contains("Dạ 150k ạ"), "{n:?}");
    env.zalo
        .user_sends(
            U1,
            UserAction::Reaction {
                msg_id: first,
                icon: "/-heart".into(),
            },
        )
        .await;
    let n = notes(&env, U1, 2).await;
    assert!(
        n[1].contains("❤️") && n[1].contains("giá bao nhiêu?"),
        "{n:?}"
    );
    settle(&env).await;
    assert!(
        env.zalo.sent_to(U1).is_empty(),
        "notes are never sent to the customer"
    );
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
        env.freshchat
            .agent_sends(
                &conv,
                &agent,
                crate::helpers::json_parts(vec![MessagePart::Text {
                    content: format!("r{i}"),
                }]),
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
    let s = post(zalo_url, None, vec![b' '; 2 * 1024 * 1024])
        .await
        .unwrap();
    assert_eq!(s.status(), 413, "too large");
    assert_eq!(
        store_count(&env, "SELECT COUNT(*) FROM inbox"),
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
    let before = store_count(&env, "SELECT updated_at FROM tokens");
    env.zalo.expire_access_tokens();
    let conv = conversation(&env, U1).unwrap();
    env.freshchat
        .agent_sends(
            &conv,
            &env.freshchat.default_agent_id(),
            crate::helpers::json_parts(vec![MessagePart::Text {
                content: "after expiry".into(),
            }]),
        )
        .await
        .unwrap();
    let sent = zalo_sent(&env, U1, 1).await;
    assert_eq!(zalo_text(&sent[0]).as_deref(), Some("after expiry"));
    assert!(
        store_count(&env, "SELECT updated_at FROM tokens") > before,
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
    let db = env.dir.path().join("zfsync.db");
    rusqlite::Connection::open(&db)
        .unwrap()
        .execute("UPDATE tokens SET refresh_token = 'used-elsewhere'", [])
        .unwrap();
    env.zalo.expire_access_tokens();
    let conv = conversation(&env, U1).unwrap();
    env.freshchat
        .agent_sends(
            &conv,
            &env.freshchat.default_agent_id(),
            crate::helpers::json_parts(vec![MessagePart::Text {
                content: "x".into(),
            }]),
        )
        .await
        .unwrap();
    let ready = wait_for(WAIT, || async {
        let r = reqwest::get(format!("{}/readyz", env.daemon_url()))
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

async fn reply_fails_with(code: i64, message: &str, expect_in_note: &str) {
    let env = env().await;
    add_user(&env, U1, "Minh");
    env.zalo
        .user_sends(U1, UserAction::Text("hello".into()))
        .await;
    customer_messages(&env, U1, 1).await;
    env.zalo.fail_next(
        "/v3.0/oa/message/cs",
        1,
        Fault::Api {
            code,
            message: message.into(),
        },
    );
    let conv = conversation(&env, U1).unwrap();
    let agent = env.freshchat.default_agent_id();
    env.freshchat
        .agent_sends(
            &conv,
            &agent,
            crate::helpers::json_parts(vec![MessagePart::Text {
                content: "reply".into(),
            }]),
        )
        .await
        .unwrap();
    let n = notes(&env, U1, 1).await;
    assert!(n[0].contains(expect_in_note), "note explains {code}: {n:?}");
    let failed = wait_for(WAIT, || async {
        (store_count(&env, "SELECT COUNT(*) FROM inbox WHERE state = 'failed'") == 1).then_some(())
    })
    .await;
    assert!(failed.is_some(), "the event is kept as failed for replay");
    // The lane is not blocked: the next reply goes out.
    env.freshchat
        .agent_sends(
            &conv,
            &agent,
            crate::helpers::json_parts(vec![MessagePart::Text {
                content: "next".into(),
            }]),
        )
        .await
        .unwrap();
    let sent = zalo_sent(&env, U1, 1).await;
    assert_eq!(zalo_text(&sent[0]).as_deref(), Some("next"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zalo_minus_213_is_explained_to_the_agent() {
    reply_fails_with(-213, "User has not followed OA", "Zalo mobile app").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zalo_minus_320_is_explained_to_the_agent() {
    reply_fails_with(
        -320,
        "Your app needs to connect with Zalo Cloud Account to use paid features",
        "Zalo Cloud",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zalo_minus_230_when_the_window_is_closed() {
    let env = env().await;
    add_user(&env, U1, "Minh");
    env.zalo
        .user_sends(U1, UserAction::Text("hello".into()))
        .await;
    customer_messages(&env, U1, 1).await;
    let eight_days_ago = chrono::Utc::now().timestamp_millis() - 8 * 24 * 3600 * 1000;
    env.zalo.set_last_interaction(U1, eight_days_ago);
    let conv = conversation(&env, U1).unwrap();
    env.freshchat
        .agent_sends(
            &conv,
            &env.freshchat.default_agent_id(),
            crate::helpers::json_parts(vec![MessagePart::Text {
                content: "late".into(),
            }]),
        )
        .await
        .unwrap();
    let n = notes(&env, U1, 1).await;
    assert!(n[0].contains("-230") && n[0].contains("7 days"), "{n:?}");
    assert!(env.zalo.sent_to(U1).is_empty());
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
async fn lost_store_reuses_the_freshchat_user() {
    let mut env = env().await;
    add_user(&env, U1, "Minh");
    env.zalo
        .user_sends(U1, UserAction::Text("before".into()))
        .await;
    customer_messages(&env, U1, 1).await;
    env.stop_daemon().await;
    // The store is lost: the daemon comes back with an empty one.
    let cfg = std::fs::read_to_string(&env.config_path)
        .unwrap()
        .replace("zfsync.db", "fresh.db");
    std::fs::write(&env.config_path, cfg).unwrap();
    env.start_daemon().await.unwrap();
    env.connect_zalo().await.unwrap();
    env.zalo
        .user_sends(U1, UserAction::Text("after".into()))
        .await;
    let msgs = customer_messages(&env, U1, 2).await;
    assert_eq!(
        msgs.iter().flat_map(texts).collect::<Vec<_>>(),
        vec!["before", "after"]
    );
    assert_eq!(
        env.fc_users().len(),
        1,
        "the user was found by reference_id, not duplicated"
    );
    // Agent replies in the old conversation still reach the customer (pairing rebuilt from Freshchat).
    let conv = conversation(&env, U1).unwrap();
    env.freshchat
        .agent_sends(
            &conv,
            &env.freshchat.default_agent_id(),
            crate::helpers::json_parts(vec![MessagePart::Text {
                content: "still here".into(),
            }]),
        )
        .await
        .unwrap();
    assert_eq!(
        zalo_text(&zalo_sent(&env, U1, 1).await[0]).as_deref(),
        Some("still here")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn follow_and_receipts_are_recorded_not_posted() {
    let env = env().await;
    add_user(&env, U1, "Minh");
    env.zalo
        .user_sends(U1, UserAction::Text("hello".into()))
        .await;
    customer_messages(&env, U1, 1).await;
    env.zalo.user_sends(U1, UserAction::Unfollow).await;
    let prop = wait_for(WAIT, || async {
        let u = fc_user(&env, U1)?;
        u.properties
            .iter()
            .find(|p| p.name == "zalo_follower" && p.value == "false")
            .map(|_| ())
    })
    .await;
    assert!(
        prop.is_some(),
        "follow state as a user property: {:?}",
        fc_user(&env, U1)
    );
    settle(&env).await;
    let conv = conversation(&env, U1).unwrap();
    assert_eq!(
        env.fc_messages(&conv)
            .iter()
            .filter(|m| !matches!(m.effective_type(), MessageType::System))
            .count(),
        1
    );
    assert_eq!(store_count(&env, "SELECT following FROM contacts"), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_events_can_be_replayed_without_doubling() {
    let env = env().await;
    let conv = start_conversation(&env, U1).await;
    env.freshchat
        .agent_sends(
            &conv,
            &env.freshchat.default_agent_id(),
            crate::helpers::json_parts(vec![MessagePart::Text {
                content: "part one".into(),
            }]),
        )
        .await
        .unwrap();
    zalo_sent(&env, U1, 1).await;
    // Make the store say the event failed after its first step, then replay it.
    let db = env.dir.path().join("zfsync.db");
    let conn = rusqlite::Connection::open(&db).unwrap();
    let n = conn.execute("UPDATE inbox SET state = 'failed' WHERE source = 'freshchat' AND event_name = 'message_create' AND state = 'done' AND id = (SELECT MAX(inbox_id) FROM steps WHERE kind = 'send_zalo')", []).unwrap();
    assert_eq!(n, 1);
    let out = assert_cmd::Command::cargo_bin("zfsync")
        .unwrap()
        .args(["failed", "retry", "--all", "--config"])
        .arg(&env.config_path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let done = wait_for(WAIT, || async {
        (store_count(&env, "SELECT COUNT(*) FROM inbox WHERE state = 'failed'") == 0).then_some(())
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn media_that_cannot_be_copied_becomes_text_and_a_note() {
    // A customer's own rules file: tiny media limit, different naming.
    let rules = zfsync_mappings::rules::DEFAULT_RULES
        .replace("max_media_bytes = 25000000", "max_media_bytes = 10")
        .replace("last_name = \"Zalo\"", "last_name = \"(Zalo)\"");
    let mut env = zfsync::sandbox::Env::new(EnvOptions::default())
        .await
        .unwrap();
    let rules_path = env.dir.path().join("rules.toml");
    std::fs::write(&rules_path, rules).unwrap();
    let cfg = std::fs::read_to_string(&env.config_path).unwrap();
    std::fs::write(
        &env.config_path,
        format!("{cfg}\n[mapping]\nrules = \"{}\"\n", rules_path.display()),
    )
    .unwrap();
    env.start_daemon().await.unwrap();
    env.connect_zalo().await.unwrap();
    add_user(&env, U1, "Minh");
    env.zalo
        .user_sends(
            U1,
            UserAction::Image {
                caption: Some("xem ảnh".into()),
                bytes: Bytes::from_static(TINY_PNG),
            },
        )
        .await;
    let msgs = customer_messages(&env, U1, 1).await;
    let t = texts(&msgs[0]);
    assert_eq!(t[0], "xem ảnh");
    assert!(
        t[1].contains("image from Zalo could not be transferred") && t[1].contains("limit"),
        "{t:?}"
    );
    let n = notes(&env, U1, 1).await;
    assert!(
        n[0].contains("could not copy the image the customer sent"),
        "{n:?}"
    );
    assert!(
        n[0].contains("/sim/media/"),
        "the original link for the agent: {n:?}"
    );
    assert_eq!(
        fc_user(&env, U1).unwrap().last_name.as_deref(),
        Some("(Zalo)"),
        "customer rules applied"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_messages_in_other_channels_are_looked_up_once() {
    use secrecy::SecretString;
    use zfsync_freshchat::{
        ClientConfig, FreshchatClient, NewConversation, NewMessage, NewUser, UserRef,
    };
    let env = env().await;
    // A website-chat conversation on the same Freshchat account: nothing to do with Zalo.
    let fc = FreshchatClient::new(ClientConfig::new(
        env.freshchat.base_url(),
        SecretString::from(env.freshchat.api_key().to_string()),
    ))
    .unwrap();
    let channel = fc.list_channels().await.unwrap()[0].id.clone();
    let user = fc
        .create_user(&NewUser {
            first_name: Some("Web visitor".into()),
            ..NewUser::default()
        })
        .await
        .unwrap();
    let first = NewMessage {
        message_parts: vec![MessagePart::Text {
            content: "hi from the website".into(),
        }],
        actor_type: ActorType::User,
        actor_id: Some(user.id.clone()),
        user_id: Some(user.id.clone()),
        message_type: MessageType::Normal,
        app_id: None,
        channel_id: None,
    };
    let conv = fc
        .create_conversation(&NewConversation {
            channel_id: channel,
            users: vec![UserRef {
                id: user.id.clone(),
            }],
            messages: vec![first],
            app_id: None,
            status: None,
        })
        .await
        .unwrap()
        .conversation_id;
    let agent = env.freshchat.default_agent_id();
    let ignored = |n: i64| {
        let env = &env;
        async move {
            wait_for(WAIT, || async {
                (store_count(env, "SELECT COUNT(*) FROM inbox WHERE source = 'freshchat' AND event_name = 'message_create' AND state = 'ignored' AND last_error LIKE '%not linked%'") >= n).then_some(())
            })
            .await
        }
    };
    env.freshchat
        .agent_sends(
            &conv,
            &agent,
            crate::helpers::json_parts(vec![MessagePart::Text {
                content: "one".into(),
            }]),
        )
        .await
        .unwrap();
    assert!(
        ignored(1).await.is_some(),
        "not a Zalo conversation: ignored"
    );
    // From now on Freshchat's conversation/user lookups would fail: the second message must not need them.
    env.freshchat.fail_next("/v2/conversations", 20, 500);
    env.freshchat.fail_next("/v2/users", 20, 500);
    env.freshchat
        .agent_sends(
            &conv,
            &agent,
            crate::helpers::json_parts(vec![MessagePart::Text {
                content: "two".into(),
            }]),
        )
        .await
        .unwrap();
    assert!(
        ignored(2).await.is_some(),
        "answered from the store, no lookup"
    );
    assert_eq!(
        store_count(&env, "SELECT COUNT(*) FROM unlinked_conversations"),
        1
    );
    assert_eq!(
        store_count(&env, "SELECT COUNT(*) FROM inbox WHERE state = 'pending'"),
        0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_profile_is_retried_at_most_hourly() {
    let env = env().await;
    add_user(&env, U1, "Lan Anh");
    // Refused at first contact and at the next attempt; Zalo would answer the third.
    refuse_profile_and_history(&env, 2);
    for (i, text) in ["one", "two", "three"].iter().enumerate() {
        env.zalo
            .user_sends(U1, UserAction::Text((*text).into()))
            .await;
        customer_messages(&env, U1, i + 1).await;
    }
    settle(&env).await;
    assert_eq!(
        fc_user(&env, U1).unwrap().first_name.as_deref(),
        Some("Zalo user 0001"),
        "the third message made no profile call (it would have succeeded)"
    );
    // An hour later the profile is tried again and filled in.
    let db = env.dir.path().join("zfsync.db");
    rusqlite::Connection::open(&db)
        .unwrap()
        .execute(
            "UPDATE contacts SET profile_checked_at = profile_checked_at - 3600 * 1000",
            [],
        )
        .unwrap();
    env.zalo
        .user_sends(U1, UserAction::Text("four".into()))
        .await;
    customer_messages(&env, U1, 4).await;
    let named = wait_for(WAIT, || async {
        (fc_user(&env, U1)?.first_name.as_deref() == Some("Lan Anh")).then_some(())
    })
    .await;
    assert!(named.is_some(), "{:?}", fc_user(&env, U1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_freshchat_refuses_arrives_as_text() {
    let env = env().await;
    let conv = start_conversation(&env, U1).await;
    // The daemon reads the new conversation's messages once after creating it: let that finish,
    // or it takes the fault meant for the post below.
    settle(&env).await;
    // Freshchat answers 400 to the next message post (as for an attachment it will not take).
    env.freshchat
        .fail_next(&format!("/v2/conversations/{conv}/messages"), 1, 400);
    env.zalo
        .user_sends(
            U1,
            UserAction::Image {
                caption: Some("ảnh đây".into()),
                bytes: Bytes::from_static(TINY_PNG),
            },
        )
        .await;
    let msgs = customer_messages(&env, U1, 2).await;
    let t = texts(&msgs[1]);
    assert_eq!(t[0], "ảnh đây", "the caption");
    assert!(
        t[1].contains("could not be transferred") && t[1].contains("refused"),
        "{t:?}"
    );
    assert!(msgs[1]
        .message_parts
        .iter()
        .all(|p| matches!(p, MessagePart::Text { .. })));
    let n = notes(&env, U1, 1).await;
    assert!(
        n[0].contains("/sim/media/"),
        "the agent gets the original link: {n:?}"
    );
    settle(&env).await;
    assert_eq!(
        store_count(&env, "SELECT COUNT(*) FROM inbox WHERE state = 'failed'"),
        0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_customer_reply_shows_what_it_quotes() {
    let env = env().await;
    let conv = start_conversation(&env, U1).await;
    env.freshchat
        .agent_sends(
            &conv,
            &env.freshchat.default_agent_id(),
            crate::helpers::json_parts(vec![MessagePart::Text {
                content: "Anh lấy size M hay L?".into(),
            }]),
        )
        .await
        .unwrap();
    let quoted = zalo_sent(&env, U1, 1).await[0].message_id.clone();
    env.zalo
        .user_sends(
            U1,
            UserAction::Reply {
                text: "M nhé".into(),
                quote_msg_id: quoted,
            },
        )
        .await;
    let msgs = customer_messages(&env, U1, 2).await;
    assert_eq!(texts(&msgs[1]), vec!["↪ “Anh lấy size M hay L?”\nM nhé"]);
}
