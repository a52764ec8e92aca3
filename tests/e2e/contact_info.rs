//! Contact details given with the customer's consent, end to end through both simulators: an
//! agent's `/zalo ask-info` note sends Zalo's request-user-info template (the rules' title and
//! subtitle, in the shape the reference gives); the customer's `user_submit_info` (emitted by the
//! Zalo simulator as Zalo's documented example shows it, the phone a JSON number) fills the
//! Freshchat user's name, phone and address property and posts a note; `user_withdraw` erases
//! them from the Freshchat user again.
#![allow(clippy::unwrap_used)]

use zfsync::tools::sandbox::{wait_for, Env};
use zfsync_freshchat::User;
use zfsync_mappings::Rules;
use zfsync_zalo::sim::{SubmittedInfo, UserAction};

use crate::helpers::{
    agent_note, bot_notes, env, fc_user, settle, start_conversation, zalo_sent, WAIT,
};

/// The Freshchat user once `ok` holds for it.
async fn user_becomes(env: &Env, user: &str, what: &str, ok: impl Fn(&User) -> bool) -> User {
    let got = wait_for(WAIT, || async { fc_user(env, user).filter(|u| ok(u)) }).await;
    got.unwrap_or_else(|| panic!("{what}: the Freshchat user is {:?}", fc_user(env, user)))
}

fn address(u: &User) -> Option<&str> {
    u.properties
        .iter()
        .find(|p| p.name == "zalo_address")
        .map(|p| p.value.as_str())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn asked_details_fill_the_freshchat_user_until_consent_is_withdrawn() {
    let env = env().await;
    let user = "5400000000000000001";
    let conv = start_conversation(&env, user).await;
    let texts = Rules::default().contact_info_texts("vi");
    let before = fc_user(&env, user).unwrap();
    assert_eq!(before.phone, None, "nothing comes from the Zalo profile");

    agent_note(&env, &conv, "/zalo ask-info").await;
    let sent = zalo_sent(&env, user, 1).await;
    let payload = &sent[0].message["attachment"]["payload"];
    assert_eq!(sent[0].message["attachment"]["type"], "template");
    assert_eq!(payload["template_type"], "request_user_info");
    let elements = payload["elements"].as_array().unwrap();
    assert_eq!(elements.len(), 1);
    assert_eq!(elements[0]["title"], texts.title.as_str());
    assert_eq!(elements[0]["subtitle"], texts.subtitle.as_str());
    let notes = bot_notes(&env, user, 1).await;
    assert!(notes.contains(&texts.asked_note), "{notes:?}");

    env.zalo
        .user_sends(
            user,
            UserAction::SubmitInfo(SubmittedInfo {
                name: "Tò Trần".into(),
                phone: "841213333111".into(),
                address: "12 Lê Lợi".into(),
                city: "Vĩnh Long".into(),
                district: "Huyện Trà Ôn".into(),
                ward: String::new(),
            }),
        )
        .await;
    let filled = user_becomes(&env, user, "filled", |u| {
        u.phone.as_deref() == Some("841213333111")
    })
    .await;
    assert_eq!(filled.first_name.as_deref(), Some("Tò Trần"));
    assert_eq!(address(&filled), Some("12 Lê Lợi, Huyện Trà Ôn, Vĩnh Long"));
    let notes = bot_notes(&env, user, 2).await;
    let head = texts.submitted_note.split("{details}").next().unwrap();
    let submitted = notes.iter().find(|n| n.starts_with(head));
    let submitted = submitted.unwrap_or_else(|| panic!("no submitted note in {notes:?}"));
    assert!(submitted.contains("841213333111"), "{submitted}");
    assert!(submitted.contains("Tò Trần"), "{submitted}");

    // The customer withdraws consent: what they gave leaves the Freshchat user.
    env.zalo.user_sends(user, UserAction::Withdraw).await;
    let erased = user_becomes(&env, user, "erased", |u| {
        u.phone.as_deref().unwrap_or("").is_empty()
    })
    .await;
    assert_eq!(erased.first_name.as_deref(), Some("Zalo user 0001"));
    assert_eq!(address(&erased), None);
    settle(&env).await;
    let notes = crate::helpers::bot_notes_now(&env, user);
    assert!(notes.contains(&texts.erased_note), "{notes:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_command_off_nothing_is_sent() {
    let rules = zfsync_mappings::rules::DEFAULT_RULES.replace(
        "[contact_info]\nask_command = true\n",
        "[contact_info]\nask_command = false\n",
    );
    assert_ne!(rules, zfsync_mappings::rules::DEFAULT_RULES);
    let env = crate::routing::env_with_rules(&rules).await;
    let user = "5400000000000000002";
    let conv = start_conversation(&env, user).await;
    agent_note(&env, &conv, "/zalo ask-info").await;
    let off = Rules::default().contact_info_texts("vi").ask_off_note;
    let notes = bot_notes(&env, user, 1).await;
    assert!(notes.contains(&off), "{notes:?}");
    settle(&env).await;
    assert!(env.zalo.sent_to(user).is_empty(), "nothing reached Zalo");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_given_name_wins_over_a_zalo_profile_change() {
    let env = env().await;
    let user = "5400000000000000003";
    start_conversation(&env, user).await;
    env.zalo
        .user_sends(
            user,
            UserAction::SubmitInfo(SubmittedInfo {
                name: "Ngô Mười".into(),
                phone: "84912000111".into(),
                address: String::new(),
                city: String::new(),
                district: String::new(),
                ward: String::new(),
            }),
        )
        .await;
    user_becomes(&env, user, "filled", |u| {
        u.first_name.as_deref() == Some("Ngô Mười")
    })
    .await;

    // The customer renames themselves on Zalo and changes their picture: the picture follows,
    // the name they gave stays.
    let avatar = format!("{}sim/avatar/muoi-moi.png", env.zalo.api_base());
    env.zalo.add_user(zfsync_zalo::sim::SimUser {
        user_id: user.into(),
        display_name: "Mười Renamed".into(),
        avatar: Some(avatar.clone()),
        follower: true,
    });
    env.zalo
        .user_sends(
            user,
            UserAction::UpdateInfo {
                method: "dynamic_url".into(),
            },
        )
        .await;
    let u = user_becomes(&env, user, "new picture", |u| {
        u.avatar.as_ref().and_then(|a| a.url.as_deref()) == Some(avatar.as_str())
    })
    .await;
    assert_eq!(u.first_name.as_deref(), Some("Ngô Mười"), "{u:?}");
    assert_ne!(u.last_name.as_deref(), Some("Zalo"), "{u:?}");
}
