//! Shared helpers: an environment with both simulators and the daemon, connected through OAuth,
//! and waits that poll the simulators (never fixed sleeps for correctness); the one way a test
//! starts the `zfsync` binary (`zfsync()`, `zfsync_output()`, `spawn_daemon()`).
#![allow(clippy::unwrap_used, dead_code)]

use std::process::{Output, Stdio};
use std::time::Duration;

use zfsync::tools::sandbox::{wait_for, Env, EnvOptions};
// What tests ask the store, at hand wherever the helpers are.
pub use zfsync::store::reads::{InboxQuery, KeptForUser};
pub use zfsync::store::{EventState, InboxRow, Lane, Source};
use zfsync::store::{Store, StoredTokens};
use zfsync_freshchat::{ActorType, Message, MessagePart, User};
use zfsync_zalo::sim::{SentRecord, SimUser};

pub const WAIT: Duration = Duration::from_secs(15);

/// Both simulators, the daemon running in-process, Zalo connected.
pub async fn env() -> Env {
    env_with(EnvOptions::default()).await
}

/// [`env`] on the SQLite file, whatever `ZFSYNC_TEST_STORE` says: for what only a file has
/// (its backup, its damage, its size limit, its permissions, replacing it).
pub async fn sqlite_env() -> Env {
    env_with(EnvOptions {
        store: zfsync::tools::sandbox::StoreBackend::Sqlite,
        ..EnvOptions::default()
    })
    .await
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

/// The daemon's store: its own handle while it runs in this process, else the file opened with
/// the key kept beside it (a daemon running as a child process, or stopped).
pub fn store(env: &Env) -> Store {
    match env.daemon_store() {
        Some(s) => s.clone(),
        None => zfsync::services::open_store(&env.config().unwrap()).unwrap(),
    }
}

/// The daemon's `/metrics` text.
pub async fn metrics(env: &Env) -> String {
    reqwest::get(format!("{}/metrics", env.daemon_url()))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// The store's file name in the environment's folder.
pub const STORE_FILE: &str = "zfsync.db";

/// How many inbox events are in `state`.
pub async fn count_in_state(env: &Env, state: EventState) -> i64 {
    store(env).count_inbox_in_state(state).await.unwrap()
}

/// The inbox events `query` matches, oldest first.
pub async fn inbox(env: &Env, query: InboxQuery) -> Vec<InboxRow> {
    store(env).inbox_events(query).await.unwrap()
}

/// The stored Zalo token pair (opened), once connected.
pub async fn stored_tokens(env: &Env) -> StoredTokens {
    store(env)
        .tokens()
        .await
        .unwrap()
        .expect("Zalo is connected")
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

/// The binary under test.
pub const ZFSYNC_BIN: &str = env!("CARGO_BIN_EXE_zfsync");

/// The environment variables `zfsync` reads (config path, secrets, tokens, store key): a test's
/// child process starts without them, whatever the shell running the tests has set.
pub const ZFSYNC_ENV: &[&str] = &[
    "ZFSYNC_CONFIG",
    "ZFSYNC_ADMIN_TOKEN",
    "ZFSYNC_STORE_KEY",
    "ZFSYNC_ZALO_APP_SECRET",
    "ZFSYNC_ZALO_OA_SECRET_KEY",
    "ZFSYNC_ZALO_ACCESS_TOKEN",
    "ZFSYNC_ZALO_REFRESH_TOKEN",
    "ZFSYNC_FRESHCHAT_API_KEY",
    "ZFSYNC_FRESHCHAT_WEBHOOK_PUBLIC_KEY",
    "ZFSYNC_LISTEN",
    // How logs are written: JSON under systemd, colour only on a terminal without NO_COLOR.
    "JOURNAL_STREAM",
    "NO_COLOR",
];

/// How long a command of the binary may take before the test fails.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);

/// Removes the variables `zfsync` reads from a command's environment (also for a shell that
/// starts the binary, e.g. on a pseudo-terminal).
pub fn clean_env(cmd: &mut std::process::Command) -> &mut std::process::Command {
    for var in ZFSYNC_ENV {
        cmd.env_remove(var);
    }
    cmd
}

/// The `zfsync` binary as a child process with a clean environment, killed if the test ends
/// first. Every test that runs the binary starts here.
pub fn zfsync() -> tokio::process::Command {
    let mut std = std::process::Command::new(ZFSYNC_BIN);
    clean_env(&mut std);
    let mut cmd = tokio::process::Command::from(std);
    cmd.kill_on_drop(true);
    cmd
}

/// Runs `zfsync <args> --config <the environment's config>` to its end.
pub async fn zfsync_output(env: &Env, args: &[&str]) -> Output {
    let mut cmd = zfsync();
    cmd.args(args)
        .arg("--config")
        .arg(env.config_path())
        .stdin(Stdio::null());
    tokio::time::timeout(COMMAND_TIMEOUT, cmd.output())
        .await
        .unwrap_or_else(|_| panic!("zfsync {args:?} did not finish within {COMMAND_TIMEOUT:?}"))
        .unwrap()
}

/// Runs `zfsync <args> --config …`, asserts it succeeded, and returns its standard output.
pub async fn zfsync_stdout(env: &Env, args: &[&str]) -> String {
    let out = zfsync_output(env, args).await;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "zfsync {args:?}: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// Runs `zfsync <args> --json --config …`, asserts it succeeded, and parses its output.
pub async fn zfsync_json(env: &Env, args: &[&str]) -> serde_json::Value {
    let mut args = args.to_vec();
    args.push("--json");
    let stdout = zfsync_stdout(env, &args).await;
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("zfsync {args:?}: {e}: {stdout}"))
}

/// `zfsync run --config <the environment's config> <extra>` as a child process (as a service
/// manager starts it), logging at `info` into `log` inside the environment's folder; killed if
/// the test ends first.
pub fn spawn_daemon(env: &Env, extra: &[&str], log: &str) -> tokio::process::Child {
    let log = std::fs::File::create(env.dir.path().join(log)).unwrap();
    zfsync()
        .arg("run")
        .args(extra)
        .arg("--config")
        .arg(env.config_path())
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap()
}

/// Sends SIGTERM to a child, as a service manager stops the daemon.
pub fn sigterm(child: &tokio::process::Child) {
    let pid = child.id().expect("the child is still running").to_string();
    let status = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(status.success(), "kill -TERM {pid}");
}

/// zfsync's own notes (its bot's private notes) in the user's conversation, once `n` exist.
pub async fn bot_notes(env: &Env, user: &str, n: usize) -> Vec<String> {
    let got = wait_for(WAIT, || async {
        let notes = bot_notes_now(env, user);
        (notes.len() >= n).then_some(notes)
    })
    .await;
    got.unwrap_or_else(|| {
        panic!(
            "expected {n} notes from zfsync for {user}; have {:?}",
            bot_notes_now(env, user)
        )
    })
}

pub fn bot_notes_now(env: &Env, user: &str) -> Vec<String> {
    let Some(conv) = conversation(env, user) else {
        return Vec::new();
    };
    env.fc_messages(&conv)
        .into_iter()
        .filter(|m| m.is_private_note() && m.actor_type == ActorType::Bot)
        .map(|m| texts(&m).join("\n"))
        .collect()
}

/// An agent of the Freshchat account writes a private note in the conversation.
pub async fn agent_note(env: &Env, conv: &str, text: &str) {
    let agent = env.freshchat.default_agent_id();
    env.freshchat.agent_note(conv, &agent, text).await.unwrap();
}

/// The check named `name` in the output of `zfsync check --json`.
pub fn named_check(stdout: &[u8], name: &str) -> serde_json::Value {
    let report: serde_json::Value = serde_json::from_slice(stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(stdout)));
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .cloned()
        .unwrap_or_else(|| panic!("no check {name} in {report:#}"))
}
