//! The user properties zfsync's features write (`zalo_tags`, `zalo_last_rating`, `zalo_address`)
//! on an account that defines only zfsync's core properties: every message still goes through,
//! the admins get one private note per refused property, the contact-details note names only what
//! was written, and `zfsync check` names the refused properties with the fix.
#![allow(clippy::unwrap_used)]

use zfsync::tools::sandbox::{wait_for, Env};
use zfsync_mappings::Rules;
use zfsync_zalo::sim::{SubmittedInfo, UserAction};

use crate::helpers::{
    bot_notes_now, customer_messages, named_check, settle, start_conversation, store, zalo_sent,
    zfsync_output, WAIT,
};
use crate::routing::env_with_rules;

/// The properties an admin created: zfsync's core ones only.
const CORE: [&str; 5] = [
    "external_user_provider",
    "zalo_user_id",
    "zalo_oa_id",
    "zalo_first_message_at",
    "zalo_follower",
];

/// The notes naming `property` as refused.
fn refusal_notes(env: &Env, user: &str, property: &str) -> usize {
    bot_notes_now(env, user)
        .iter()
        .filter(|n| n.contains("Freshchat Admin") && n.contains(property))
        .count()
}

async fn refusal_noted(env: &Env, user: &str, property: &str) {
    let got = wait_for(WAIT, || async {
        (refusal_notes(env, user, property) > 0).then_some(())
    })
    .await;
    assert!(
        got.is_some(),
        "no note about {property}: {:?}",
        bot_notes_now(env, user)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_feature_properties_are_told_once_and_named_by_check() {
    let rules = zfsync_mappings::rules::DEFAULT_RULES
        .replace("[csat]\nask = false\n", "[csat]\nask = true\n")
        .replace("language = \"vi\"\n", "language = \"en\"\n");
    let mut env = env_with_rules(&rules).await;
    env.freshchat
        .set_defined_user_properties(Some(CORE.iter().map(|s| s.to_string()).collect()));
    let user = "5500000000000000001";
    let conv = start_conversation(&env, user).await;

    // A Zalo tag: the property is refused; the note comes with the customer's next message.
    env.zalo.console_tag_user(user, "vip").await.unwrap();
    let remembered = wait_for(WAIT, || async {
        store(&env)
            .zalo_tags(user.into())
            .await
            .unwrap()
            .filter(|t| t.iter().any(|t| t == "vip"))
    })
    .await;
    assert!(remembered.is_some(), "the tag event was handled");
    env.zalo
        .user_sends(user, UserAction::Text("còn hàng không?".into()))
        .await;
    customer_messages(&env, user, 2).await;
    refusal_noted(&env, user, "zalo_tags").await;

    // A rating: the note about zalo_last_rating goes beside the rating's note.
    env.freshchat
        .resolve(&conv, &env.freshchat.default_agent_id())
        .await
        .unwrap();
    zalo_sent(&env, user, 1).await;
    wait_for(WAIT, || async {
        store(&env).rating_asked_in(user.into(), 0).await.unwrap()
    })
    .await
    .expect("asked");
    env.zalo
        .user_sends(user, UserAction::Text("5".into()))
        .await;
    refusal_noted(&env, user, "zalo_last_rating").await;

    // Contact details: name and phone are written, the address is refused and not named.
    env.zalo
        .user_sends(
            user,
            UserAction::SubmitInfo(SubmittedInfo {
                name: "Tò Trần".into(),
                phone: "841213333111".into(),
                address: "12 Lê Lợi".into(),
                city: "Vĩnh Long".into(),
                district: String::new(),
                ward: String::new(),
            }),
        )
        .await;
    refusal_noted(&env, user, "zalo_address").await;
    let en = Rules::default().contact_info_texts("en");
    let head = en.submitted_note.split("{details}").next().unwrap();
    let notes = bot_notes_now(&env, user);
    let submitted = notes.iter().find(|n| n.starts_with(head)).unwrap();
    let filled = submitted
        .rsplit("Filled in the Freshchat user: ")
        .next()
        .unwrap();
    assert_eq!(filled, "Name, Phone", "{submitted}");

    // Once each, however often Freshchat refuses again.
    env.zalo.console_tag_user(user, "sỉ").await.unwrap();
    env.zalo
        .user_sends(user, UserAction::Text("cảm ơn".into()))
        .await;
    customer_messages(&env, user, 3).await;
    settle(&env).await;
    for p in ["zalo_tags", "zalo_last_rating", "zalo_address"] {
        assert_eq!(refusal_notes(&env, user, p), 1, "{p}");
    }

    // `zfsync check` names them, with the fix.
    env.stop_daemon().await;
    let out = zfsync_output(&env, &["check", "--json"]).await;
    let c = named_check(&out.stdout, "freshchat_properties");
    assert_eq!(c["level"], "warn", "{c:#}");
    let (detail, fix) = (c["detail"].as_str().unwrap(), c["fix"].as_str().unwrap());
    for p in ["zalo_tags", "zalo_last_rating", "zalo_address"] {
        assert!(detail.contains(p) && fix.contains(p), "{p}: {c:#}");
    }
    assert!(fix.contains("Freshchat Admin"), "{fix}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_names_a_property_name_freshchat_cannot_have() {
    let rules = zfsync_mappings::rules::DEFAULT_RULES.replace(
        "property = \"zalo_last_rating\"",
        "property = \"zalo last rating!\"",
    );
    let mut env = env_with_rules(&rules).await;
    env.stop_daemon().await;
    let out = zfsync_output(&env, &["check", "--json"]).await;
    let c = named_check(&out.stdout, "freshchat_properties");
    assert_eq!(c["level"], "warn", "{c:#}");
    let detail = c["detail"].as_str().unwrap();
    assert!(
        detail.contains("csat.property") && detail.contains("\"zalo_last_rating\""),
        "{detail}"
    );
    assert!(
        c["fix"].as_str().unwrap().contains("csat.property"),
        "{c:#}"
    );
}
