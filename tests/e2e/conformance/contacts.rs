//! The customer's Freshchat user: follow state merged into its properties, an account that refuses
//! custom properties (and what `zfsync check` says about it), consent withdrawal, profile updates,
//! refused profiles, and what OA staff send from Zalo's own chat tool.

use bytes::Bytes;
use secrecy::SecretString;
use serde_json::Value;
use zfsync::tools::sandbox::{wait_for, Env};
use zfsync_freshchat::sim::parts;
use zfsync_freshchat::{ClientConfig, FreshchatClient, Property, User, UserUpdate};
use zfsync_zalo::sim::{Fault, ListItem, RandomFaults, SimUser, StaffAction, UserAction};

use super::conversation_notes;
use crate::helpers::*;

const U1: &str = "5234000000000000921";
const U2: &str = "5234000000000000922";
const U3: &str = "5234000000000000923";
const U4: &str = "5234000000000000924";

/// zfsync's custom user properties.
const OURS: [&str; 5] = [
    "external_user_provider",
    "zalo_user_id",
    "zalo_oa_id",
    "zalo_first_message_at",
    "zalo_follower",
];

fn prop(user: &User, name: &str) -> Option<String> {
    user.properties
        .iter()
        .find(|p| p.name == name)
        .map(|p| p.value.clone())
}

/// What the store keeps for a Zalo user.
async fn kept(env: &Env, zalo_user: &str) -> KeptForUser {
    store(env)
        .kept_for_zalo_user(zalo_user.to_string())
        .await
        .unwrap()
}

/// The events of a Zalo user's lane and of their conversation's lane, oldest first in each.
async fn events_of(env: &Env, zalo_user: &str, conv: &str) -> Vec<InboxRow> {
    let mut rows = inbox(
        env,
        InboxQuery::default().in_lane(Lane::zalo(Some(zalo_user))),
    )
    .await;
    rows.extend(
        inbox(
            env,
            InboxQuery::default().in_lane(Lane::freshchat(Some(conv))),
        )
        .await,
    );
    rows
}

/// The user's Freshchat properties once `name` has `value`.
async fn property_becomes(env: &Env, zalo_user: &str, name: &str, value: &str) -> User {
    wait_for(WAIT, || async {
        let u = fc_user(env, zalo_user)?;
        (prop(&u, name).as_deref() == Some(value)).then_some(u)
    })
    .await
    .unwrap_or_else(|| panic!("{name} never became {value}: {:?}", fc_user(env, zalo_user)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn follow_updates_merge_into_the_users_properties() {
    let env = env().await;
    add_user(&env, U1, "Minh");
    env.zalo.user_sends(U1, UserAction::Text("hi".into())).await;
    customer_messages(&env, U1, 1).await;
    let user = fc_user(&env, U1).unwrap();
    let first = prop(&user, "zalo_first_message_at").expect("set at creation");
    // Another tool adds its own property, writing the whole list as Freshchat expects.
    let fc = FreshchatClient::new(ClientConfig::new(
        env.freshchat.base_url(),
        SecretString::from(env.freshchat.api_key().to_string()),
    ))
    .unwrap();
    let mut props = user.properties.clone();
    props.push(Property {
        name: "crm_tier".into(),
        value: "gold".into(),
    });
    fc.update_user(
        &user.id,
        &UserUpdate {
            email: None,
            phone: None,
            properties: Some(props),
            ..UserUpdate::default()
        },
    )
    .await
    .unwrap();

    for (action, following) in [
        (UserAction::Unfollow, "false"),
        (UserAction::Follow, "true"),
    ] {
        env.zalo.user_sends(U1, action).await;
        let u = property_becomes(&env, U1, "zalo_follower", following).await;
        assert_eq!(prop(&u, "zalo_first_message_at"), Some(first.clone()));
        assert_eq!(prop(&u, "crm_tier").as_deref(), Some("gold"), "{u:?}");
        assert_eq!(prop(&u, "external_user_provider").as_deref(), Some("zalo"));
        assert_eq!(prop(&u, "zalo_user_id").as_deref(), Some(U1));
        let mut names: Vec<&str> = u.properties.iter().map(|p| p.name.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), u.properties.len(), "no name twice: {u:?}");
    }
}

/// `zfsync check --json` as a child process; answers (exit code, the named check).
async fn check(env: &Env, name: &str) -> (i32, Value) {
    let out = zfsync_output(env, &["check", "--json"]).await;
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let c = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .cloned()
        .unwrap_or_else(|| panic!("no check {name}: {report:#}"));
    (out.status.code().unwrap_or(-1), c)
}

/// A customer writes and the message reaches Freshchat; answers their conversation.
async fn customer_writes(env: &Env, user: &str, name: &str, text: &str) -> String {
    add_user(env, user, name);
    env.zalo
        .user_sends(user, UserAction::Text(text.into()))
        .await;
    let msgs = customer_messages(env, user, 1).await;
    assert_eq!(texts(&msgs[0]), vec![text], "the message went through");
    conversation(env, user).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_account_that_refuses_the_custom_properties_still_gets_every_message() {
    let mut env = env().await;
    // An account where nobody created zfsync's properties: any custom name is refused (400).
    env.freshchat.set_defined_user_properties(Some(Vec::new()));
    let conv1 = customer_writes(&env, U1, "Minh", "xin chào").await;
    let user = fc_user(&env, U1).unwrap();
    assert!(user.properties.is_empty(), "{user:?}");
    assert_eq!(user.first_name.as_deref(), Some("Minh"));
    let notes = wait_for(WAIT, || async {
        let n = conversation_notes(&env, &conv1);
        (!n.is_empty()).then_some(n)
    })
    .await
    .expect("the admins are told");
    for name in OURS {
        assert!(notes[0].contains(name), "{name} named: {notes:?}");
    }
    assert!(notes[0].contains("Freshchat Admin"), "{notes:?}");

    // A second customer: created the same way, no second note.
    let conv2 = customer_writes(&env, U2, "Lan", "cho hỏi giá").await;
    // An unfollow cannot write the follower property either: recorded in the store, not failed.
    env.zalo.user_sends(U1, UserAction::Unfollow).await;
    wait_for(WAIT, || async {
        let contact = store(&env).contact(U1.into()).await.unwrap();
        contact
            .is_some_and(|c| c.following == Some(false))
            .then_some(())
    })
    .await
    .expect("follow state kept in the store");
    // Remembered across a restart: the daemon does not tell the admins again.
    env.stop_daemon().await;
    env.start_daemon().await.unwrap();
    let conv3 = customer_writes(&env, U3, "Huy", "alo").await;
    settle(&env).await;
    assert_eq!(conversation_notes(&env, &conv1).len(), 1, "one note");
    assert!(conversation_notes(&env, &conv2).is_empty());
    assert!(conversation_notes(&env, &conv3).is_empty());
    assert_eq!(count_in_state(&env, EventState::Failed).await, 0);

    // `zfsync check` names the properties to create (a warning: messages still flow).
    env.stop_daemon().await;
    let (code, c) = check(&env, "freshchat_properties").await;
    assert_eq!(c["level"], "warn", "{c:#}");
    assert_eq!(code, 0, "a warning does not fail the run: {c:#}");
    let fix = c["fix"].as_str().unwrap();
    for name in OURS {
        assert!(fix.contains(name), "{name}: {fix}");
    }
    assert!(fix.contains("Freshchat Admin"), "{fix}");

    // The admin creates them: the next customer gets them, and the check passes.
    env.freshchat
        .set_defined_user_properties(Some(OURS.iter().map(|s| s.to_string()).collect()));
    env.start_daemon().await.unwrap();
    customer_writes(&env, U4, "Thảo", "chào shop").await;
    let u4 = fc_user(&env, U4).unwrap();
    assert_eq!(prop(&u4, "zalo_user_id").as_deref(), Some(U4), "{u4:?}");
    env.stop_daemon().await;
    let (code, c) = check(&env, "freshchat_properties").await;
    assert_eq!((code, &c["level"]), (0, &Value::from("ok")), "{c:#}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_check_reads_a_user_zfsync_created_when_nothing_was_remembered() {
    let mut env = env().await;
    customer_writes(&env, U1, "Minh", "xin chào").await;
    env.stop_daemon().await;
    let (_, c) = check(&env, "freshchat_properties").await;
    assert_eq!(c["level"], "ok", "{c:#}");
    // Someone strips the properties off the user in Freshchat (an import, another tool).
    let user = fc_user(&env, U1).unwrap();
    let fc = FreshchatClient::new(ClientConfig::new(
        env.freshchat.base_url(),
        SecretString::from(env.freshchat.api_key().to_string()),
    ))
    .unwrap();
    fc.update_user(
        &user.id,
        &UserUpdate {
            email: None,
            phone: None,
            properties: Some(Vec::new()),
            ..UserUpdate::default()
        },
    )
    .await
    .unwrap();
    let (_, c) = check(&env, "freshchat_properties").await;
    assert_eq!(c["level"], "warn", "{c:#}");
    let detail = c["detail"].as_str().unwrap();
    assert!(
        detail.contains("external_user_provider") && detail.contains("zalo_oa_id"),
        "{detail}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_withdrawal_deletes_what_zfsync_holds_and_tells_the_agents() {
    let env = env().await;
    let conv = start_conversation(&env, U1).await;
    let other = customer_writes(&env, U2, "Lan", "chào").await;
    let agent = env.freshchat.default_agent_id();
    // A hosted file for the customer.
    let zip = env.freshchat.upload_for_agent(
        "catalogue.zip",
        "application/zip",
        Bytes::from_static(b"PK\x03\x04"),
    );
    env.freshchat
        .agent_sends(
            &conv,
            &agent,
            vec![parts::file(
                "catalogue.zip",
                Some(&zip),
                4,
                "application/zip",
            )],
        )
        .await
        .unwrap();
    let link = hosted_link(&env, &zalo_text(&zalo_sent(&env, U1, 1).await[0]).unwrap());
    // A reply Zalo keeps refusing for now (every OpenAPI call answers 503): pending, retrying in
    // the conversation's lane.
    env.zalo.set_random_faults(Some(RandomFaults {
        rate: 1.0,
        seed: 1,
        kinds: vec![Fault::HttpStatus(503)],
    }));
    env.freshchat
        .agent_sends(&conv, &agent, vec![parts::text("đang chờ gửi")])
        .await
        .unwrap();
    let retrying = InboxQuery::in_state(EventState::Pending).in_lane(Lane::freshchat(Some(&conv)));
    wait_for(WAIT, || async {
        let rows = inbox(&env, retrying.clone()).await;
        (rows.iter().filter(|r| r.attempts > 0).count() == 1).then_some(())
    })
    .await
    .expect("the reply is pending");

    // Events zfsync holds before the withdrawal (later ones, such as the webhook of zfsync's own
    // note, are new events).
    let before = inbox(&env, InboxQuery::default()).await.last().unwrap().id;
    env.zalo.user_sends(U1, UserAction::Withdraw).await;
    let notes = wait_for(WAIT, || async {
        let n = conversation_notes(&env, &conv);
        (!n.is_empty()).then_some(n)
    })
    .await
    .expect("the agents are told");
    assert!(
        notes[0].contains("rút lại sự đồng ý") && notes[0].contains("xóa người dùng này"),
        "{notes:?}"
    );
    wait_for(WAIT, || async {
        (kept(&env, U1).await.contacts == 0).then_some(())
    })
    .await
    .expect("the contact is deleted");
    let left = kept(&env, U1).await;
    let events = events_of(&env, U1, &conv).await;
    for (what, n) in [
        ("conversation", left.conversations),
        ("message previews", left.messages),
        ("hosted files", left.hosted_files),
        (
            "events",
            events.iter().filter(|r| r.id <= before).count() as i64,
        ),
    ] {
        assert_eq!(n, 0, "{what} deleted");
    }
    assert_eq!(
        reqwest::get(&link).await.unwrap().status(),
        404,
        "the hosted file is gone"
    );
    // The other customer is untouched, and their replies flow once Zalo recovers; the deleted
    // reply is not among them.
    env.zalo.set_random_faults(None);
    assert_eq!(kept(&env, U2).await.contacts, 1);
    env.freshchat
        .agent_sends(&other, &agent, vec![parts::text("chào chị Lan")])
        .await
        .unwrap();
    zalo_sent(&env, U2, 1).await;
    settle(&env).await;
    assert_eq!(
        env.zalo.sent_to(U1).len(),
        1,
        "the deleted reply was never sent"
    );
    let unfinished = events_of(&env, U1, &conv)
        .await
        .into_iter()
        .filter(|r| matches!(r.state, EventState::Pending | EventState::Failed))
        .count();
    assert_eq!(unfinished, 0, "nothing left to send for them");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn profile_updates_refresh_the_user_and_a_refused_profile_uses_the_history_names() {
    let env = env().await;
    customer_writes(&env, U1, "Minh", "hello").await;
    // The customer changes their name and picture on Zalo.
    let avatar = format!("{}sim/avatar/minh-moi.png", env.zalo.api_base());
    env.zalo.add_user(SimUser {
        user_id: U1.into(),
        display_name: "Minh Khánh".into(),
        avatar: Some(avatar.clone()),
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
    let u = wait_for(WAIT, || async {
        let u = fc_user(&env, U1)?;
        (u.first_name.as_deref() == Some("Minh Khánh")).then_some(u)
    })
    .await
    .unwrap_or_else(|| panic!("renamed: {:?}", fc_user(&env, U1)));
    assert_eq!(
        u.avatar.as_ref().and_then(|a| a.url.as_deref()),
        Some(avatar.as_str())
    );
    assert_eq!(u.last_name.as_deref(), Some("Zalo"));

    // Zalo refuses user/detail from now on: the history's names are used.
    env.zalo.set_profile_refused(U1, Some(-213));
    env.zalo.add_user(SimUser {
        user_id: U1.into(),
        display_name: "Khánh Nguyễn".into(),
        avatar: Some(avatar.clone()),
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
    let renamed = wait_for(WAIT, || async {
        (fc_user(&env, U1)?.first_name.as_deref() == Some("Khánh Nguyễn")).then_some(())
    })
    .await;
    assert!(renamed.is_some(), "{:?}", fc_user(&env, U1));

    // A new customer whose profile Zalo refuses from the start is named from the history too.
    add_user(&env, U2, "Lan Anh");
    env.zalo.set_profile_refused(U2, Some(-213));
    env.zalo.user_sends(U2, UserAction::Text("hi".into())).await;
    customer_messages(&env, U2, 1).await;
    assert_eq!(
        fc_user(&env, U2).unwrap().first_name.as_deref(),
        Some("Lan Anh")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_and_templates_from_zalos_chat_tool_become_readable_notes() {
    let env = env().await;
    let conv = start_conversation(&env, U1).await;
    env.zalo
        .staff_sends(
            U1,
            "admin-7",
            StaffAction::List(vec![
                ListItem {
                    description: "Áo thun trắng".into(),
                    thumbnail: String::new(),
                    url: "https://shop.example/ao-trang".into(),
                },
                ListItem {
                    description: "Áo thun đen".into(),
                    thumbnail: String::new(),
                    url: String::new(),
                },
            ]),
        )
        .await;
    env.zalo
        .staff_sends(
            U1,
            "admin-7",
            StaffAction::Template {
                template_id: "208811".into(),
                text: "Cảm ơn bạn đã mua hàng!".into(),
            },
        )
        .await;
    let n = notes(&env, U1, 2).await;
    assert!(
        n[0].contains("• Áo thun trắng: https://shop.example/ao-trang")
            && n[0].contains("• Áo thun đen"),
        "{n:?}"
    );
    assert!(n[1].contains("[tin mẫu] Cảm ơn bạn đã mua hàng!"), "{n:?}");
    settle(&env).await;
    assert_eq!(conversation_notes(&env, &conv).len(), 2);
    assert!(env.zalo.sent_to(U1).is_empty(), "nothing went back to Zalo");
    assert_eq!(customer_messages(&env, U1, 1).await.len(), 1);
}
