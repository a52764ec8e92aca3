//! Zalo → Freshchat end to end: contacts and their profiles, every attachment kind, OA staff
//! messages, follows and receipts, quotes, and what happens when a copy fails.
#![allow(clippy::unwrap_used)]

use bytes::Bytes;
use zfsync::tools::sandbox::{wait_for, EnvOptions, TINY_PNG};
use zfsync_freshchat::{MessagePart, MessageType};
use zfsync_zalo::sim::{Fault, UserAction};

use crate::helpers::*;

use super::U1;

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
fn refuse_profile_and_history(env: &zfsync::tools::sandbox::Env, n: u32) {
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
    let body = env
        .media_client()
        .unwrap()
        .get(&img)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
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
async fn lost_store_reuses_the_freshchat_user() {
    let mut env = sqlite_env().await;
    add_user(&env, U1, "Minh");
    env.zalo
        .user_sends(U1, UserAction::Text("before".into()))
        .await;
    customer_messages(&env, U1, 1).await;
    env.stop_daemon().await;
    // The store is lost: the daemon comes back with an empty one.
    let cfg = std::fs::read_to_string(env.config_path())
        .unwrap()
        .replace("zfsync.db", "fresh.db");
    std::fs::write(env.config_path(), cfg).unwrap();
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
    env.agent_says(
        &conv,
        &env.freshchat.default_agent_id(),
        &[MessagePart::Text {
            content: "still here".into(),
        }],
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
    let contact = store(&env).contact(U1.into()).await.unwrap().unwrap();
    assert_eq!(contact.following, Some(false));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn media_that_cannot_be_copied_becomes_text_and_a_note() {
    // A customer's own rules file: tiny media limit, different naming.
    let rules = zfsync_mappings::rules::DEFAULT_RULES
        .replace("max_media_bytes = 25000000", "max_media_bytes = 10")
        .replace("last_name = \"Zalo\"", "last_name = \"(Zalo)\"");
    let mut env = zfsync::tools::sandbox::Env::new(EnvOptions::default())
        .await
        .unwrap();
    let rules_path = env.dir.path().join("rules.toml");
    std::fs::write(&rules_path, rules).unwrap();
    let cfg = std::fs::read_to_string(env.config_path()).unwrap();
    std::fs::write(
        env.config_path(),
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
        t[1].contains("Không chuyển được image từ Zalo") && t[1].contains("limit"),
        "{t:?}"
    );
    let n = notes(&env, U1, 1).await;
    assert!(
        n[0].contains("không sao chép được image khách gửi"),
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
    crate::tamper::age_profile_checks_by_an_hour(&env);
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
        t[1].contains("Không chuyển được") && t[1].contains("refused"),
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
    assert_eq!(count_in_state(&env, EventState::Failed).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_customer_reply_shows_what_it_quotes() {
    let env = env().await;
    let conv = start_conversation(&env, U1).await;
    env.agent_says(
        &conv,
        &env.freshchat.default_agent_id(),
        &[MessagePart::Text {
            content: "Anh lấy size M hay L?".into(),
        }],
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
