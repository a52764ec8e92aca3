//! Zalo OA tags ↔ the Freshchat user property `zalo_tags`, end to end: tags set in the OA's
//! console (the Zalo simulator sends `add_user_to_tag`, `remove_user_from_tag`, `remove_tag` as
//! the documented examples show them) and the tags `user/detail` gives on first contact reach the
//! property; a tag an agent typed into the property is never removed unless Zalo removed it; a
//! customer's tag routes their new conversation.
#![allow(clippy::unwrap_used)]

use zfsync::tools::sandbox::{wait_for, Env};
use zfsync_freshchat::{FreshchatClient, UserUpdate};
use zfsync_zalo::sim::UserAction;

use crate::helpers::{
    add_user, agent_note, bot_notes, conversation, customer_messages, env, fc_user, settle, WAIT,
};
use crate::routing::{env_with_rules, group_of_first, rules_with, VIP};

const U1: &str = "4100000000000000001";

/// The `zalo_tags` property of the customer's Freshchat user ("" when absent).
fn property(env: &Env, user: &str) -> String {
    fc_user(env, user)
        .and_then(|u| {
            u.properties
                .into_iter()
                .find(|p| p.name == "zalo_tags")
                .map(|p| p.value)
        })
        .unwrap_or_default()
}

/// Waits until the property reads `want`.
async fn property_becomes(env: &Env, user: &str, want: &str) {
    let got = wait_for(WAIT, || async {
        let p = property(env, user);
        (p == want).then_some(p)
    })
    .await;
    assert_eq!(
        got.as_deref(),
        Some(want),
        "zalo_tags is {:?}",
        property(env, user)
    );
}

async fn first_message(env: &Env, user: &str) {
    add_user(env, user, "Minh");
    env.zalo
        .user_sends(user, UserAction::Text("xin chào".into()))
        .await;
    customer_messages(env, user, 1).await;
}

fn freshchat(env: &Env) -> FreshchatClient {
    FreshchatClient::new(zfsync_freshchat::ClientConfig::new(
        env.freshchat.base_url(),
        secrecy::SecretString::from(env.freshchat.api_key().to_string()),
    ))
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tags_set_in_the_oa_console_reach_freshchat_and_leave_it() {
    let env = env().await;
    first_message(&env, U1).await;
    assert_eq!(property(&env, U1), "", "no tags yet");

    env.zalo.console_tag_user(U1, "vip").await.unwrap();
    property_becomes(&env, U1, "vip").await;
    env.zalo.console_tag_user(U1, "khách sỉ").await.unwrap();
    property_becomes(&env, U1, "vip, khách sỉ").await;
    env.zalo.console_untag_user(U1, "vip").await.unwrap();
    property_becomes(&env, U1, "khách sỉ").await;
    // The OA deletes the tag: every customer who had it loses it.
    env.zalo.console_remove_tag("khách sỉ").await.unwrap();
    property_becomes(&env, U1, "").await;
    let kept = zfsync::tools::sandbox::wait_for(WAIT, || async {
        let tags = crate::helpers::store(&env)
            .zalo_tags(U1.into())
            .await
            .unwrap();
        (tags.as_deref() == Some(&[][..])).then_some(())
    })
    .await;
    assert!(kept.is_some(), "the store keeps the empty set zfsync saw");
    // The other properties stay.
    let user = fc_user(&env, U1).unwrap();
    assert!(user
        .properties
        .iter()
        .any(|p| p.name == "zalo_user_id" && p.value == U1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tag_typed_in_freshchat_stays_unless_zalo_removed_it() {
    let env = env().await;
    first_message(&env, U1).await;
    env.zalo.console_tag_user(U1, "vip").await.unwrap();
    property_becomes(&env, U1, "vip").await;

    // An agent adds "callback" to the property by hand.
    let fc = freshchat(&env);
    let user = fc_user(&env, U1).unwrap();
    let mut properties = user.properties.clone();
    for p in properties.iter_mut().filter(|p| p.name == "zalo_tags") {
        p.value = "vip, callback".into();
    }
    fc.update_user(
        &user.id,
        &UserUpdate {
            email: None,
            phone: None,
            first_name: None,
            last_name: None,
            avatar: None,
            properties: Some(properties),
        },
    )
    .await
    .unwrap();

    // Zalo removes "vip": only "vip" leaves.
    env.zalo.console_untag_user(U1, "vip").await.unwrap();
    property_becomes(&env, U1, "callback").await;
    // Zalo deletes a tag of the same name that zfsync never saw on the customer: it stays.
    env.zalo.console_create_tag("callback").await.unwrap();
    env.zalo.console_remove_tag("callback").await.unwrap();
    settle(&env).await;
    assert_eq!(property(&env, U1), "callback");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_contact_brings_the_user_detail_tags_and_a_tag_routes() {
    let env = env_with_rules(&rules_with(
        r#"
[routing]
default_group = "Support"
[[routing.rules]]
name = "vip customers"
group = "VIP"
tags = ["VIP"]
"#,
        None,
    ))
    .await;
    // Tagged on Zalo before they ever wrote (zfsync does not know them yet: nothing to change).
    add_user(&env, U1, "Minh");
    env.zalo.console_tag_user(U1, "vip").await.unwrap();
    env.zalo.console_tag_user(U1, "hà nội").await.unwrap();
    settle(&env).await;
    assert_eq!(env.zalo.user_tags(U1), ["vip", "hà nội"]);

    assert_eq!(
        group_of_first(&env, U1, "hello").await,
        Some(VIP.into()),
        "the tag from user/detail routes the first conversation"
    );
    assert_eq!(property(&env, U1), "vip, hà nội");
    assert_eq!(
        crate::helpers::store(&env)
            .zalo_tags(U1.into())
            .await
            .unwrap()
            .unwrap(),
        ["vip", "hà nội"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tag_sync_switched_off_leaves_freshchat_alone() {
    let env = env_with_rules(&rules_with("[routing]", Some("sync = false"))).await;
    add_user(&env, U1, "Minh");
    env.zalo.console_tag_user(U1, "vip").await.unwrap();
    first_message(&env, U1).await;
    env.zalo.console_tag_user(U1, "wholesale").await.unwrap();
    settle(&env).await;
    assert_eq!(property(&env, U1), "");
}

/// `/zalo tag <name>` and `/zalo untag <name>` typed as private notes in Freshchat: answered
/// "switched off" by default (nothing reaches Zalo); with `tags.agent_commands` they tag the
/// customer through Zalo's tag API, the property follows at once, and Zalo's returning event
/// changes nothing more. The answers come in the agents' language (Vietnamese by default).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agents_tag_through_zalo_when_the_rules_allow_it() {
    let env = env().await;
    first_message(&env, U1).await;
    let conv = conversation(&env, U1).unwrap();
    agent_note(&env, &conv, "/zalo tag vip").await;
    let answer = bot_notes(&env, U1, 1).await.pop().unwrap();
    assert!(answer.contains("đang tắt"), "{answer}");
    assert!(env.zalo.user_tags(U1).is_empty());
    drop(env);

    let env = env_with_rules(&rules_with(
        "[routing]",
        Some("sync = true\nagent_commands = true"),
    ))
    .await;
    first_message(&env, U1).await;
    let conv = conversation(&env, U1).unwrap();
    agent_note(&env, &conv, "/zalo tag \"khách vip\"").await;
    let answer = bot_notes(&env, U1, 1).await.pop().unwrap();
    assert!(
        answer.contains("Đã gắn nhãn") && answer.contains("khách vip"),
        "{answer}"
    );
    assert_eq!(env.zalo.user_tags(U1), ["khách vip"]);
    assert_eq!(property(&env, U1), "khách vip", "written before the answer");
    // Zalo's add_user_to_tag comes back and changes nothing more.
    settle(&env).await;
    assert_eq!(property(&env, U1), "khách vip");

    agent_note(&env, &conv, "/zalo untag khách vip").await;
    let answer = bot_notes(&env, U1, 2).await.pop().unwrap();
    assert!(answer.contains("Đã gỡ nhãn"), "{answer}");
    assert!(env.zalo.user_tags(U1).is_empty());
    settle(&env).await;
    assert_eq!(property(&env, U1), "");

    // A tag the customer no longer has: Zalo has nothing to remove, and the answer says so.
    agent_note(&env, &conv, "/zalo untag khách vip").await;
    let answer = bot_notes(&env, U1, 3).await.pop().unwrap();
    assert!(
        answer.contains("không có nhãn") && answer.contains("khách vip"),
        "{answer}"
    );
    // A tag the OA does not have at all: Zalo refuses it, and the answer is the refusal.
    agent_note(&env, &conv, "/zalo untag notatag").await;
    let answer = bot_notes(&env, U1, 4).await.pop().unwrap();
    assert!(
        answer.contains("Không đổi được nhãn Zalo") && answer.contains("notatag"),
        "{answer}"
    );

    // No tag: how to use it. Nothing of the commands reached the customer.
    agent_note(&env, &conv, "/zalo tag").await;
    let answer = bot_notes(&env, U1, 5).await.pop().unwrap();
    assert!(answer.starts_with("/zalo tag <nhãn>"), "{answer}");
    assert!(
        env.zalo.sent_to(U1).is_empty(),
        "no command reaches the customer"
    );
}
