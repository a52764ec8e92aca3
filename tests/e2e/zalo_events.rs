//! Zalo events beyond one follower's messages, end to end through both simulators: group (GMF) and
//! call events that must never become customers, `update_user_info` / `user_withdraw` that name the
//! customer only by `user_id_by_app` (Zalo's documented shape), and anonymous chat-widget visitors.
#![allow(clippy::unwrap_used)]

use bytes::Bytes;
use zfsync::tools::sandbox::{wait_for, Env, TINY_PNG};
use zfsync_freshchat::{MessagePart, User};
use zfsync_zalo::sim::{AnonymousAction, CallEvent, GroupSender, UserAction, ZaloSim};

use crate::helpers::*;

const U1: &str = "5234000000000001801";
const U2: &str = "5234000000000001802";
const USER_DETAIL: &str = "/v3.0/oa/user/detail";

/// The `user/detail` calls the Zalo simulator answered.
fn user_detail_calls(env: &Env) -> Vec<String> {
    env.zalo
        .api_calls()
        .into_iter()
        .filter(|c| c.starts_with(USER_DETAIL))
        .collect()
}

fn prop(user: &User, name: &str) -> Option<String> {
    user.properties
        .iter()
        .find(|p| p.name == name)
        .map(|p| p.value.clone())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_and_call_events_make_no_customer_and_are_counted() {
    let env = env().await;
    add_user(&env, U1, "Minh");
    env.zalo
        .group_message("g-4a7f01", GroupSender::Member(U1.into()), "chào cả nhóm")
        .await;
    env.zalo
        .group_message("g-4a7f01", GroupSender::Oa, "chào mọi người")
        .await;
    env.zalo.call_event(U1, CallEvent::OaSendConsent).await;
    env.zalo.call_event(U1, CallEvent::UserReplyConsent).await;
    const NAMES: &[&str] = &[
        "user_send_group_text",
        "oa_send_group_text",
        "oa_send_consent",
        "user_reply_consent",
    ];
    let got = wait_for(WAIT, || async {
        let ignored = ignored_events(&env).await;
        let named = ignored
            .iter()
            .filter(|r| NAMES.contains(&r.event_name.as_str()));
        (named.count() >= 4).then_some(())
    })
    .await;
    assert!(got.is_some(), "the group and call events end ignored");
    // Stored (store-then-ack), ended ignored with a reason that says what they are.
    let reasons = ignored_events(&env)
        .await
        .iter()
        .filter(|r| {
            r.last_error
                .as_deref()
                .is_some_and(|e| e.contains("group chat") || e.contains("call event"))
        })
        .count();
    assert_eq!(reasons, 4, "each ignored event names why");
    assert!(env.fc_users().is_empty(), "{:?}", env.fc_users());
    assert!(env.fc_conversations().is_empty());
    assert!(
        user_detail_calls(&env).is_empty(),
        "{:?}",
        env.zalo.api_calls()
    );
    let m = metrics(&env).await;
    assert!(
        m.contains(r#"zfsync_zalo_events_ignored_total{pairing="default",kind="group"} 2"#),
        "{m}"
    );
    assert!(
        m.contains(r#"zfsync_zalo_events_ignored_total{pairing="default",kind="call"} 2"#),
        "{m}"
    );
    // The same user writing one to one is a customer as ever.
    env.zalo.user_sends(U1, UserAction::Text("hi".into())).await;
    customer_messages(&env, U1, 1).await;
    assert_eq!(env.fc_users().len(), 1);
}

/// The body of the latest stored event of this name.
async fn stored_body(env: &Env, event_name: &str) -> serde_json::Value {
    let rows = inbox(env, InboxQuery::default().named(event_name)).await;
    let row = rows
        .last()
        .unwrap_or_else(|| panic!("no {event_name} event stored"));
    serde_json::from_slice(&row.body).unwrap()
}

/// Every event that ended ignored, oldest first.
async fn ignored_events(env: &Env) -> Vec<InboxRow> {
    inbox(env, InboxQuery::in_state(EventState::Ignored)).await
}

/// What the store keeps for a Zalo user.
async fn kept(env: &Env, zalo_user: &str) -> KeptForUser {
    store(env)
        .kept_for_zalo_user(zalo_user.to_string())
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn update_user_info_without_user_id_refreshes_the_right_customer() {
    let env = env().await;
    add_user(&env, U1, "Minh");
    add_user(&env, U2, "Lan");
    for u in [U1, U2] {
        env.zalo
            .user_sends(u, UserAction::Text("hello".into()))
            .await;
        customer_messages(&env, u, 1).await;
    }
    // U1 renames themselves on Zalo; Zalo tells the OA with `user_id: ""` and only
    // `user_id_by_app`, as its documentation shows.
    env.zalo.add_user(zfsync_zalo::sim::SimUser {
        user_id: U1.into(),
        display_name: "Minh Khánh".into(),
        avatar: None,
        follower: true,
    });
    env.zalo
        .user_sends(
            U1,
            UserAction::UpdateInfo {
                method: "dynamic_url".into(),
            },
        )
        .await;
    let renamed = zfsync::tools::sandbox::wait_for(WAIT, || async {
        (fc_user(&env, U1)?.first_name.as_deref() == Some("Minh Khánh")).then_some(())
    })
    .await;
    assert!(renamed.is_some(), "{:?}", fc_user(&env, U1));
    assert_eq!(
        fc_user(&env, U2).unwrap().first_name.as_deref(),
        Some("Lan")
    );
    // What arrived is Zalo's documented shape, not a kinder one.
    let body = stored_body(&env, "update_user_info").await;
    assert_eq!(body["user_id"], "", "{body}");
    assert!(
        body["user_id_by_app"]
            .as_str()
            .is_some_and(|s| !s.is_empty()),
        "{body}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_withdraw_without_user_id_erases_through_user_id_by_app() {
    let env = env().await;
    let conv = start_conversation(&env, U1).await;
    add_user(&env, U2, "Lan");
    env.zalo.user_sends(U2, UserAction::Text("hi".into())).await;
    customer_messages(&env, U2, 1).await;
    // An app not linked to the OA is told with `oa_id` and `user_id` empty.
    env.zalo.user_sends(U1, UserAction::WithdrawUnlinked).await;
    let told = zfsync::tools::sandbox::wait_for(WAIT, || async {
        env.fc_messages(&conv)
            .iter()
            .any(|m| m.is_private_note() && texts(m).join(" ").contains("rút lại sự đồng ý"))
            .then_some(())
    })
    .await;
    assert!(told.is_some(), "the agents are told");
    let body = stored_body(&env, "user_withdraw").await;
    assert_eq!(
        (&body["user_id"], &body["oa_id"]),
        (&"".into(), &"".into()),
        "{body}"
    );
    let gone = wait_for(WAIT, || async {
        let left = kept(&env, U1).await;
        (left.contacts == 0).then_some(left)
    })
    .await
    .expect("the contact is deleted");
    for (what, n) in [
        ("conversations", gone.conversations),
        ("messages", gone.messages),
        ("zalo_identities", gone.identities),
    ] {
        assert_eq!(n, 0, "{what} of {U1}");
    }
    assert_eq!(
        kept(&env, U2).await.contacts,
        1,
        "the other customer is untouched"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anonymous_visitors_get_a_conversation_and_replies_through_the_anonymous_send() {
    let env = env().await;
    let anon = ZaloSim::new_anonymous_id();
    env.zalo
        .anonymous_sends(&anon, AnonymousAction::Text("cho mình hỏi giá".into()))
        .await;
    let user = zfsync::tools::sandbox::wait_for(WAIT, || async {
        env.fc_users()
            .into_iter()
            .find(|u| prop(u, "zalo_anonymous").as_deref() == Some("true"))
    })
    .await
    .expect("an anonymous Freshchat user");
    let short: String = anon.chars().skip(anon.len() - 4).collect();
    assert_eq!(
        user.first_name.as_deref(),
        Some(format!("Khách ẩn danh {short}").as_str())
    );
    assert_eq!(user.last_name.as_deref(), Some("Zalo"));
    assert_eq!(
        prop(&user, "external_user_provider").as_deref(),
        Some("zalo")
    );
    let conv = zfsync::tools::sandbox::wait_for(WAIT, || async {
        env.fc_conversations()
            .into_iter()
            .find(|c| c.user_id.as_deref() == Some(user.id.as_str()))
    })
    .await
    .expect("a conversation of their own")
    .conversation_id;
    let said = zfsync::tools::sandbox::wait_for(WAIT, || async {
        env.fc_messages(&conv)
            .iter()
            .any(|m| texts(m).join(" ").contains("cho mình hỏi giá"))
            .then_some(())
    })
    .await;
    assert!(said.is_some(), "{:?}", env.fc_messages(&conv));
    assert!(
        user_detail_calls(&env).is_empty(),
        "a visitor has no profile: {:?}",
        env.zalo.api_calls()
    );

    // The agent answers with text and a photo: both reach the visitor through the anonymous send.
    let agent = env.freshchat.default_agent_id();
    let png = env
        .freshchat
        .upload_for_agent("a.png", "image/png", Bytes::from_static(TINY_PNG));
    env.agent_says(
        &conv,
        &agent,
        &[
            MessagePart::text("Dạ, giá 200k ạ"),
            MessagePart::Image { url: png },
        ],
    )
    .await
    .unwrap();
    let sent = zalo_sent(&env, &anon, 2).await;
    assert_eq!(zalo_text(&sent[0]).as_deref(), Some("Dạ, giá 200k ạ"));
    let image_url = sent[1]
        .message
        .pointer("/attachment/payload/elements/0/url")
        .and_then(|v| v.as_str())
        .unwrap()
        .to_string();
    let served = reqwest::get(&image_url)
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(&served[..], TINY_PNG, "the image is sent by URL");
    assert!(env
        .zalo
        .api_calls()
        .iter()
        .any(|c| c.starts_with("/v2.0/oa/message")));

    // A video the visitor's chat cannot take: the agent is told, nothing is sent.
    let video = env.freshchat.upload_for_agent(
        "clip.mp4",
        "video/mp4",
        Bytes::from_static(b"\x00\x00\x00\x18ftypmp42"),
    );
    env.agent_says(
        &conv,
        &agent,
        &[MessagePart::Video {
            url: video,
            content_type: Some("video/mp4".into()),
        }],
    )
    .await
    .unwrap();
    let noted = zfsync::tools::sandbox::wait_for(WAIT, || async {
        env.fc_messages(&conv)
            .iter()
            .find(|m| m.is_private_note() && texts(m).join(" ").contains("khách ẩn danh"))
            .map(|m| texts(m).join(" "))
    })
    .await
    .expect("a private note for the video");
    assert!(noted.contains("video"), "{noted}");
    settle(&env).await;
    assert_eq!(env.zalo.sent_to(&anon).len(), 2, "the video was not sent");
    // zfsync's own replies came back as oa_send_anonymous_* echoes and were recognised: no note
    // says another app wrote to the visitor.
    let others = env
        .fc_messages(&conv)
        .iter()
        .filter(|m| m.is_private_note() && texts(m).join(" ").contains("Một ứng dụng khác"))
        .count();
    assert_eq!(others, 0);
    let echoes = ignored_events(&env)
        .await
        .into_iter()
        .filter(|r| {
            r.event_name.starts_with("oa_send_anonymous_")
                && r.last_error.as_deref().is_some_and(|e| e.contains("echo"))
        })
        .count();
    assert_eq!(echoes, 2);
}
