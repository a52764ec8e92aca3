//! Planted identities: a Freshchat user carrying a Zalo customer's reference id that zfsync did not
//! create never receives that customer's messages, and agents' replies in its conversations never
//! reach the customer; a user zfsync did create is still found after the store is lost.
#![allow(clippy::unwrap_used)]

use zfsync::tools::sandbox::{wait_for, Env};
use zfsync_freshchat::{
    FreshchatClient, MessagePart, NewConversation, NewMessage, NewUser, Property, UserRef,
};
use zfsync_zalo::sim::{AnonymousAction, UserAction, ZaloSim};

use crate::helpers::*;

const VICTIM: &str = "5234000000000000777";
const FIRST_WORDS: &str = "số tài khoản của tôi là 0123";

struct Attacker {
    fc: FreshchatClient,
    oa: String,
}

impl Attacker {
    async fn new(env: &Env) -> Attacker {
        let services = zfsync::services::Services::new(&env.config().unwrap())
            .await
            .unwrap();
        let oa = services.tokens().status().oa_id.unwrap();
        Attacker {
            fc: services.freshchat.clone(),
            oa,
        }
    }

    async fn channel(&self, name: &str) -> String {
        self.fc
            .list_channels()
            .await
            .unwrap()
            .into_iter()
            .find(|c| c.name.as_deref() == Some(name))
            .unwrap()
            .id
    }

    /// A user claiming `zalo_key`'s reference id; with `copied`, also zfsync's properties for it.
    async fn plant(&self, zalo_key: &str, copied: bool) -> String {
        let prop = |name: &str, value: &str| Property {
            name: name.into(),
            value: value.into(),
        };
        let mut properties = Vec::new();
        if copied {
            properties = vec![
                prop("external_user_provider", "zalo"),
                prop("zalo_user_id", zalo_key),
                prop("zalo_oa_id", &self.oa),
                prop("zalo_anonymous", "true"),
            ];
        }
        self.fc
            .create_user(&NewUser {
                first_name: Some("Mallory".into()),
                reference_id: Some(format!("zalo:{}:{zalo_key}", self.oa)),
                properties,
                ..NewUser::default()
            })
            .await
            .unwrap()
            .id
    }

    /// A conversation of `user` on the channel named `channel`, opened with "hi".
    async fn open(&self, user: &str, channel: &str) -> String {
        self.fc
            .create_conversation(&NewConversation {
                channel_id: self.channel(channel).await,
                users: vec![UserRef { id: user.into() }],
                messages: vec![NewMessage::from_user(user, vec![MessagePart::text("hi")])],
                app_id: None,
                status: Some("new".into()),
                assigned_group_id: None,
            })
            .await
            .unwrap()
            .conversation_id
    }
}

/// The conversation (on zfsync's channel) of a Freshchat user other than `planted` that holds
/// `text` from the customer, once it exists.
async fn new_conversation_with(env: &Env, planted: &str, text: &str) -> (String, String) {
    let found = wait_for(WAIT, || async {
        env.fc_conversations().into_iter().find_map(|c| {
            let user = c.user_id.clone()?;
            let holds = env
                .fc_messages(&c.conversation_id)
                .iter()
                .any(|m| texts(m).join(" ").contains(text));
            (user != planted && holds).then(|| (user, c.conversation_id.clone()))
        })
    })
    .await;
    found.unwrap_or_else(|| panic!("no new conversation holds {text:?}"))
}

/// Private notes in a conversation, once at least one mentions `needle`.
async fn note_naming(env: &Env, conversation: &str, needle: &str) -> String {
    let got = wait_for(WAIT, || async {
        env.fc_messages(conversation)
            .into_iter()
            .filter(|m| m.is_private_note())
            .map(|m| texts(&m).join("\n"))
            .find(|t| t.contains(needle))
    })
    .await;
    got.unwrap_or_else(|| {
        panic!(
            "no note naming {needle}: {:?}",
            env.fc_messages(conversation)
        )
    })
}

/// A website user planted with a victim's reference id (and zfsync's properties copied onto it)
/// gets nothing of the victim: the victim's first message opens a new user and conversation on
/// zfsync's channel, the admins are told there, and an agent's reply to the planted user never
/// reaches the victim.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_planted_website_user_never_captures_a_new_customer() {
    let env = env().await;
    let attacker = Attacker::new(&env).await;
    let planted = attacker.plant(VICTIM, true).await;
    let website_conv = attacker.open(&planted, "Website").await;
    let zalo_channel = attacker.channel("Zalo").await;

    add_user(&env, VICTIM, "Lan");
    env.zalo
        .user_sends(VICTIM, UserAction::Text(FIRST_WORDS.into()))
        .await;
    let (user, conv) = new_conversation_with(&env, &planted, FIRST_WORDS).await;
    let created = env.fc_users().into_iter().find(|u| u.id == user).unwrap();
    assert_eq!(
        created.reference_id.as_deref(),
        Some(format!("zalo:{}:{VICTIM}", attacker.oa).as_str())
    );
    let on = env
        .fc_conversations()
        .into_iter()
        .find(|c| c.conversation_id == conv)
        .unwrap();
    assert_eq!(on.channel_id.as_deref(), Some(zalo_channel.as_str()));
    let note = note_naming(&env, &conv, &planted).await;
    assert!(note.contains("zfsync"), "{note}");
    assert!(
        !env.fc_messages(&website_conv)
            .iter()
            .any(|m| texts(m).join(" ").contains(FIRST_WORDS)),
        "nothing of the victim in the planted conversation"
    );

    // An agent answers the planted user: nothing reaches the victim. The same agent's answer in
    // the victim's own conversation does.
    let agent = env.freshchat.default_agent_id();
    env.agent_says(&website_conv, &agent, &[MessagePart::text("for Mallory")])
        .await
        .unwrap();
    env.agent_says(&conv, &agent, &[MessagePart::text("cho chị Lan")])
        .await
        .unwrap();
    let sent = zalo_sent(&env, VICTIM, 1).await;
    settle(&env).await;
    let sent_texts: Vec<_> = env
        .zalo
        .sent_to(VICTIM)
        .iter()
        .filter_map(zalo_text)
        .collect();
    assert_eq!(sent_texts, vec!["cho chị Lan".to_string()], "{sent:?}");
    let m = metrics(&env).await;
    assert!(
        m.contains("zfsync_identity_refusals_total{pairing=\"default\",reason=\"other_channel\"}"),
        "{m}"
    );

    // The victim writes again: still their own conversation, and the note is not repeated.
    env.zalo
        .user_sends(VICTIM, UserAction::Text("còn nữa".into()))
        .await;
    new_conversation_with(&env, &planted, "còn nữa").await;
    settle(&env).await;
    let notes = env
        .fc_messages(&conv)
        .iter()
        .filter(|m| m.is_private_note() && texts(m).join(" ").contains(&planted))
        .count();
    assert_eq!(notes, 1);
}

/// An anonymous visitor's key follows the same rule: a user planted with it (no zfsync
/// properties, no conversation yet) is not reused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_planted_user_never_captures_an_anonymous_visitor() {
    let env = env().await;
    let attacker = Attacker::new(&env).await;
    let anon = ZaloSim::new_anonymous_id();
    let key = zfsync_zalo::visitor_key(&anon, &env.zalo.anonymous_conversation_id(&anon));
    let planted = attacker.plant(&key, false).await;
    env.zalo
        .anonymous_sends(&anon, AnonymousAction::Text(FIRST_WORDS.into()))
        .await;
    let (_, conv) = new_conversation_with(&env, &planted, FIRST_WORDS).await;
    note_naming(&env, &conv, &planted).await;
    assert!(
        env.fc_conversations()
            .iter()
            .all(|c| c.user_id.as_deref() != Some(planted.as_str())),
        "no conversation was opened for the planted user"
    );
    let m = metrics(&env).await;
    assert!(
        m.contains(
            "zfsync_identity_refusals_total{pairing=\"default\",reason=\"not_zfsync_user\"}"
        ),
        "{m}"
    );
}

/// The store is lost. The user zfsync created is still the customer: an agent's reply in their
/// old conversation reaches them (the pairing is rebuilt from Freshchat) and their next message
/// joins it. A user planted with the same reference id, whose conversation is on zfsync's channel
/// (a widget showing that channel), is not rebuilt into the customer: a reply there reaches nobody.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_lost_store_only_the_user_zfsync_created_is_the_customer() {
    let mut env = sqlite_env().await;
    let old_conv = start_conversation(&env, VICTIM).await;
    let attacker = Attacker::new(&env).await;
    let planted = attacker.plant(VICTIM, false).await;
    let planted_conv = attacker.open(&planted, "Zalo").await;

    env.stop_daemon().await;
    let cfg = std::fs::read_to_string(env.config_path())
        .unwrap()
        .replace("zfsync.db", "fresh.db");
    std::fs::write(env.config_path(), cfg).unwrap();
    env.start_daemon().await.unwrap();
    env.connect_zalo().await.unwrap();

    let agent = env.freshchat.default_agent_id();
    env.agent_says(&planted_conv, &agent, &[MessagePart::text("for Mallory")])
        .await
        .unwrap();
    env.agent_says(&old_conv, &agent, &[MessagePart::text("vẫn ở đây")])
        .await
        .unwrap();
    zalo_sent(&env, VICTIM, 1).await;
    settle(&env).await;
    let sent: Vec<_> = env
        .zalo
        .sent_to(VICTIM)
        .iter()
        .filter_map(zalo_text)
        .collect();
    assert_eq!(sent, vec!["vẫn ở đây".to_string()]);

    env.zalo
        .user_sends(VICTIM, UserAction::Text("again".into()))
        .await;
    let joined = wait_for(WAIT, || async {
        env.fc_messages(&old_conv)
            .iter()
            .any(|m| texts(m).join(" ") == "again")
            .then_some(())
    })
    .await;
    assert!(joined.is_some(), "{:?}", env.fc_messages(&old_conv));
    assert!(!env
        .fc_messages(&planted_conv)
        .iter()
        .any(|m| texts(m).join(" ") == "again"));
    let claiming = env
        .fc_users()
        .iter()
        .filter(|u| {
            u.reference_id
                .as_deref()
                .is_some_and(|r| r.ends_with(VICTIM))
        })
        .count();
    assert_eq!(claiming, 2, "zfsync's user was found again, not duplicated");
    let m = metrics(&env).await;
    assert!(
        m.contains(
            "zfsync_identity_refusals_total{pairing=\"default\",reason=\"not_zfsync_user\"}"
        ),
        "{m}"
    );
}

/// Only conversations on zfsync's channel are resumed. A contact the store kept without its
/// conversation (a store from an earlier release) whose Freshchat user has a later conversation on
/// another channel: the customer's next message goes to zfsync's conversation, not that one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_conversations_on_zfsyncs_channel_are_resumed() {
    let env = sqlite_env().await;
    let zalo_conv = start_conversation(&env, VICTIM).await;
    let attacker = Attacker::new(&env).await;
    let user = fc_user(&env, VICTIM).unwrap().id;
    let website_conv = attacker.open(&user, "Website").await;
    rusqlite::Connection::open(env.dir.path().join("zfsync.db"))
        .unwrap()
        .execute("DELETE FROM conversations", [])
        .unwrap();
    env.zalo
        .user_sends(VICTIM, UserAction::Text("again".into()))
        .await;
    let joined = wait_for(WAIT, || async {
        env.fc_messages(&zalo_conv)
            .iter()
            .any(|m| texts(m).join(" ") == "again")
            .then_some(())
    })
    .await;
    assert!(
        joined.is_some(),
        "zfsync's conversation: {:?}; the other channel's: {:?}",
        env.fc_messages(&zalo_conv),
        env.fc_messages(&website_conv)
    );
    assert!(!env
        .fc_messages(&website_conv)
        .iter()
        .any(|m| texts(m).join(" ") == "again"));
}
