//! Freshchat → Zalo end to end: every kind of agent reply, long replies, the resolve notice,
//! notes that stay private, and the Zalo errors an agent must be told about.
#![allow(clippy::unwrap_used)]

use bytes::Bytes;
use zfsync::tools::sandbox::{wait_for, EnvOptions, TINY_PNG};
use zfsync_freshchat::{ActorType, FilePart, MessagePart, MessageType};
use zfsync_zalo::sim::{Fault, UserAction};

use crate::helpers::*;

use super::U1;

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
    env.agent_says(
        &conv,
        &agent,
        &[
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
        ],
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
    env.agent_says(
        &conv,
        &agent,
        &[MessagePart::Text {
            content: exactly.clone(),
        }],
    )
    .await
    .unwrap();
    env.agent_says(
        &conv,
        &agent,
        &[MessagePart::Text {
            content: long.clone(),
        }],
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
    env.agent_says(
        &conv,
        &env.freshchat.default_agent_id(),
        &[MessagePart::Text {
            content: long.clone(),
        }],
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
    env.agent_says(
        &conv,
        &agent,
        &[MessagePart::Text {
            content: "reply".into(),
        }],
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
    env.agent_says(
        &conv,
        &agent,
        &[MessagePart::Text {
            content: "reply".into(),
        }],
    )
    .await
    .unwrap();
    let n = notes(&env, U1, 1).await;
    assert!(n[0].contains(expect_in_note), "note explains {code}: {n:?}");
    let failed = wait_for(WAIT, || async {
        (count_in_state(&env, EventState::Failed).await == 1).then_some(())
    })
    .await;
    assert!(failed.is_some(), "the event is kept as failed for replay");
    // The lane is not blocked: the next reply goes out.
    env.agent_says(
        &conv,
        &agent,
        &[MessagePart::Text {
            content: "next".into(),
        }],
    )
    .await
    .unwrap();
    let sent = zalo_sent(&env, U1, 1).await;
    assert_eq!(zalo_text(&sent[0]).as_deref(), Some("next"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zalo_minus_213_is_explained_to_the_agent() {
    reply_fails_with(
        -213,
        "User has not followed OA",
        "ứng dụng Zalo trên điện thoại",
    )
    .await;
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
    env.agent_says(
        &conv,
        &env.freshchat.default_agent_id(),
        &[MessagePart::Text {
            content: "late".into(),
        }],
    )
    .await
    .unwrap();
    let n = notes(&env, U1, 1).await;
    assert!(n[0].contains("-230") && n[0].contains("7 ngày"), "{n:?}");
    assert!(env.zalo.sent_to(U1).is_empty());
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
            assigned_group_id: None,
        })
        .await
        .unwrap()
        .conversation_id;
    let agent = env.freshchat.default_agent_id();
    let ignored = |n: usize| {
        let env = &env;
        async move {
            let query = InboxQuery::in_state(EventState::Ignored)
                .from(Source::Freshchat)
                .named("message_create");
            wait_for(WAIT, || async {
                let rows = inbox(env, query.clone()).await;
                let not_linked = rows.iter().filter(|r| {
                    r.last_error
                        .as_deref()
                        .is_some_and(|e| e.contains("not linked"))
                });
                (not_linked.count() >= n).then_some(())
            })
            .await
        }
    };
    env.agent_says(
        &conv,
        &agent,
        &[MessagePart::Text {
            content: "one".into(),
        }],
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
    env.agent_says(
        &conv,
        &agent,
        &[MessagePart::Text {
            content: "two".into(),
        }],
    )
    .await
    .unwrap();
    assert!(
        ignored(2).await.is_some(),
        "answered from the store, no lookup"
    );
    assert_eq!(store(&env).unlinked_conversation_count().await.unwrap(), 1);
    assert_eq!(count_in_state(&env, EventState::Pending).await, 0);
}
