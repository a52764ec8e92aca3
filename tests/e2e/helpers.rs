//! Shared helpers: an environment with both simulators and the daemon, connected through OAuth,
//! and waits that poll the simulators (never fixed sleeps for correctness).
#![allow(clippy::unwrap_used, dead_code)]

use std::time::Duration;

use zfsync::tools::sandbox::{wait_for, Env, EnvOptions};
use zfsync_freshchat::{Message, MessagePart, User};
use zfsync_zalo::sim::{SentRecord, SimUser};

pub const WAIT: Duration = Duration::from_secs(15);

/// Both simulators, the daemon running in-process, Zalo connected.
pub async fn env() -> Env {
    env_with(EnvOptions::default()).await
}

pub async fn env_with(opts: EnvOptions) -> Env {
    let mut env = Env::new(opts).await.unwrap();
    env.start_daemon().await.unwrap();
    env.connect_zalo().await.unwrap();
    env
}

pub fn add_user(env: &Env, id: &str, name: &str) {
    env.zalo.add_user(SimUser {
        user_id: id.into(),
        display_name: name.into(),
        avatar: Some(format!("https://s240-ava-talk.zadn.vn/{id}.jpg")),
        follower: true,
    });
}

/// The Freshchat user created for a Zalo user (found by the reference id).
pub fn fc_user(env: &Env, zalo_user: &str) -> Option<User> {
    env.fc_users().into_iter().find(|u| {
        u.reference_id
            .as_deref()
            .is_some_and(|r| r.ends_with(&format!(":{zalo_user}")))
    })
}

/// The conversation of a Zalo user (the latest one of its Freshchat user).
pub fn conversation(env: &Env, zalo_user: &str) -> Option<String> {
    let user = fc_user(env, zalo_user)?;
    env.fc_conversations()
        .into_iter()
        .filter(|c| c.user_id.as_deref() == Some(user.id.as_str()))
        .map(|c| c.conversation_id)
        .next_back()
}

/// Waits until the Zalo user's conversation holds at least `n` messages from the customer
/// (actor `user`), and returns them oldest first.
pub async fn customer_messages(env: &Env, zalo_user: &str, n: usize) -> Vec<Message> {
    let got = wait_for(WAIT, || async {
        let conv = conversation(env, zalo_user)?;
        let msgs: Vec<Message> = env
            .fc_messages(&conv)
            .into_iter()
            .filter(|m| matches!(m.actor_type, zfsync_freshchat::ActorType::User))
            .collect();
        (msgs.len() >= n).then_some(msgs)
    })
    .await;
    match got {
        Some(m) => m,
        None => panic!(
            "expected {n} customer messages for {zalo_user}; have {:?}",
            conversation(env, zalo_user).map(|c| env.fc_messages(&c).len())
        ),
    }
}

/// Private notes (bot, private) in the Zalo user's conversation, once at least `n` exist.
pub async fn notes(env: &Env, zalo_user: &str, n: usize) -> Vec<String> {
    let got = wait_for(WAIT, || async {
        let conv = conversation(env, zalo_user)?;
        let notes: Vec<String> = env
            .fc_messages(&conv)
            .into_iter()
            .filter(|m| m.is_private_note())
            .map(|m| texts(&m).join("\n"))
            .collect();
        (notes.len() >= n).then_some(notes)
    })
    .await;
    got.unwrap_or_else(|| panic!("expected {n} private notes for {zalo_user}"))
}

/// Waits until the OA has sent at least `n` messages to the user; returns them oldest first.
pub async fn zalo_sent(env: &Env, zalo_user: &str, n: usize) -> Vec<SentRecord> {
    let got = wait_for(WAIT, || async {
        let sent = env.zalo.sent_to(zalo_user);
        (sent.len() >= n).then_some(sent)
    })
    .await;
    got.unwrap_or_else(|| {
        panic!(
            "expected {n} messages sent to {zalo_user}; have {}",
            env.zalo.sent_to(zalo_user).len()
        )
    })
}

pub fn texts(m: &Message) -> Vec<String> {
    m.message_parts
        .iter()
        .filter_map(|p| match p {
            MessagePart::Text { content } => Some(content.clone()),
            _ => None,
        })
        .collect()
}

pub fn zalo_text(r: &SentRecord) -> Option<String> {
    r.message
        .get("text")
        .and_then(|t| t.as_str())
        .map(str::to_string)
}

/// Adds a Zalo user who says "hello", waits for it in Freshchat, and returns the conversation id.
pub async fn start_conversation(env: &Env, zalo_user: &str) -> String {
    add_user(env, zalo_user, "Minh");
    env.zalo
        .user_sends(
            zalo_user,
            zfsync_zalo::sim::UserAction::Text("hello".into()),
        )
        .await;
    customer_messages(env, zalo_user, 1).await;
    conversation(env, zalo_user).unwrap()
}

/// Lets in-flight work settle: both simulators' webhook queues empty, then a short grace.
pub async fn settle(env: &Env) {
    env.zalo.wait_deliveries_idle(WAIT).await;
    env.freshchat.wait_deliveries_idle(WAIT).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    env.zalo.wait_deliveries_idle(WAIT).await;
    env.freshchat.wait_deliveries_idle(WAIT).await;
}

/// Reads one row count from the daemon's store.
pub fn store_count(env: &Env, sql: &str) -> i64 {
    let conn = rusqlite::Connection::open(env.dir.path().join("zfsync.db")).unwrap();
    conn.query_row(sql, [], |r| r.get(0)).unwrap()
}

/// Message parts as the JSON the Freshchat simulator's agents send.
pub fn json_parts(parts: Vec<MessagePart>) -> Vec<serde_json::Value> {
    parts
        .iter()
        .map(|p| serde_json::to_value(p).unwrap())
        .collect()
}

/// The zfsync link (`<daemon>/files/<token>`) inside a text sent to Zalo.
pub fn hosted_link(env: &Env, text: &str) -> String {
    let prefix = format!("{}/files/", env.daemon_url());
    let start = text
        .find(&prefix)
        .unwrap_or_else(|| panic!("no zfsync link in {text:?}"));
    text[start..]
        .split(|c: char| c.is_whitespace())
        .next()
        .unwrap()
        .to_string()
}

/// A page an operator sees (Bearer token), as text.
pub async fn operator_page(env: &Env, url: &str) -> String {
    let url = if url.starts_with('/') {
        format!("{}{url}", env.daemon_url())
    } else {
        url.to_string()
    };
    reqwest::Client::new()
        .get(url)
        .bearer_auth(&env.admin_token)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}
