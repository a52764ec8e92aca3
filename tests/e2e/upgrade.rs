//! Upgrades, through the real binary. The previous release (0.1.0, commit a316bd2, SQLite schema
//! 11) wrote the store in `tests/fixtures/upgrade/` between both simulators (how: that folder's
//! README and `make-fixture.sh`); its manifest says what the store holds and what the simulators
//! knew, which is restored into this test's simulators, as the platforms keep a customer's account
//! across an upgrade of zfsync. This build then opens the store: migrated once, copied first, its
//! failed events listed and replayed once, its sealed token pair still working, its old
//! conversations carrying new messages both ways, its hosted file still served. A store of a newer
//! release is refused by every command and left byte for byte; on PostgreSQL too.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;
use sha2::{Digest as _, Sha256};
use zfsync::store::{MIGRATIONS, POSTGRES_MIGRATIONS};
use zfsync::tools::sandbox::{wait_for, wait_http_ok, Env, EnvOptions, StoreBackend};
use zfsync_freshchat::MessagePart;
use zfsync_zalo::sim::{SimUser, UserAction};

use crate::helpers::*;

/// The fixture written by the previous release: `<name>.db` and `<name>.json`.
const FIXTURE: &str = "0.1.0-a316bd2";
/// Its SQLite schema version.
const PREVIOUS_SCHEMA: i64 = 11;

fn fixture_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/upgrade")
}

fn manifest() -> Value {
    let text = std::fs::read_to_string(fixture_dir().join(format!("{FIXTURE}.json"))).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn s<'a>(v: &'a Value, pointer: &str) -> &'a str {
    v.pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("{pointer} in the manifest"))
}

fn hash(path: &Path) -> String {
    hex::encode(Sha256::digest(std::fs::read(path).unwrap()))
}

fn files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn sql<T: rusqlite::types::FromSql>(path: &Path, query: &str) -> T {
    rusqlite::Connection::open(path)
        .unwrap()
        .query_row(query, [], |r| r.get(0))
        .unwrap()
}

/// The schema as SQLite keeps it (every table's and index's statement).
fn schema(path: &Path) -> Vec<String> {
    let conn = rusqlite::Connection::open(path).unwrap();
    let mut st = conn
        .prepare("SELECT sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY name")
        .unwrap();
    st.query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

/// Writes a file only its owner reads (zfsync refuses a key file others may read).
fn write_private(path: &Path, bytes: &[u8]) {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .unwrap()
        .write_all(bytes)
        .unwrap();
}

/// Both simulators holding what the previous release's simulators held (the OA's customers and
/// its token pair; the Freshchat users and conversations, with their messages), and the fixture
/// as the environment's store with its key file beside it; the daemon is not started.
///
/// The fixture's clocks are its making's: its token pair and hosted file would have expired by
/// the time a later test runs, which is another story (tested elsewhere). Their expiry times,
/// plain columns, are moved to what they would be an hour after the previous release stopped.
async fn upgraded_env(manifest: &Value) -> Env {
    let env = Env::new(
        EnvOptions {
            store: StoreBackend::Sqlite,
            // Finished events of the fixture are never pruned while the test looks at them.
            sync_toml: "retry_base_ms = 100\nretry_max_ms = 2000\nretention_days = 36500\n".into(),
            ..EnvOptions::default()
        }
        .loopback_media(),
    )
    .await
    .unwrap();
    for u in manifest["zalo"]["users"].as_array().unwrap() {
        env.zalo.add_user(SimUser {
            user_id: s(u, "/user_id").into(),
            display_name: s(u, "/display_name").into(),
            avatar: None,
            follower: true,
        });
    }
    env.zalo.restore_tokens(
        s(manifest, "/zalo/access_token"),
        s(manifest, "/zalo/refresh_token"),
    );
    for u in manifest["freshchat"]["users"].as_array().unwrap() {
        env.freshchat.restore_user(u).unwrap();
    }
    for c in manifest["freshchat"]["conversations"].as_array().unwrap() {
        let id = s(c, "/conversation_id");
        let messages = manifest["freshchat"]["messages"][id].as_array().unwrap();
        env.freshchat.restore_conversation(c, messages).unwrap();
    }

    let store = env.dir.path().join(STORE_FILE);
    write_private(
        &store,
        &std::fs::read(fixture_dir().join(format!("{FIXTURE}.db"))).unwrap(),
    );
    write_private(
        &env.dir.path().join(format!("{STORE_FILE}.key")),
        s(manifest, "/store_key").as_bytes(),
    );
    let now = chrono::Utc::now().timestamp_millis();
    rusqlite::Connection::open(&store)
        .unwrap()
        .execute_batch(&format!(
            "UPDATE tokens SET access_expires_at = {access}, refresh_expires_at = {refresh};
             UPDATE hosted_files SET expires_at = {files};",
            access = now + 20 * 3600 * 1000,
            refresh = now + 80 * 24 * 3600 * 1000,
            files = now + 29 * 24 * 3600 * 1000,
        ))
        .unwrap();
    env
}

/// The customers of the fixture: (Zalo user id, Freshchat conversation id).
fn customers(manifest: &Value) -> Vec<(String, String)> {
    manifest["customers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                s(c, "/zalo_user_id").to_string(),
                s(c, "/freshchat_conversation_id").to_string(),
            )
        })
        .collect()
}

/// The failed event of `source` in the manifest: (Zalo user id, text).
fn failed_of(manifest: &Value, source: &str) -> (String, String) {
    let f = manifest["failed"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["source"] == source)
        .unwrap();
    (s(f, "/zalo_user_id").to_string(), s(f, "/text").to_string())
}

async fn agent_says(env: &Env, conv: &str, text: &str) {
    env.agent_says(
        conv,
        &env.freshchat.default_agent_id(),
        &[MessagePart::Text {
            content: text.into(),
        }],
    )
    .await
    .unwrap();
}

/// What the OA sent `user` on Zalo (this run), as texts.
fn zalo_texts(env: &Env, user: &str) -> Vec<String> {
    env.zalo
        .sent_to(user)
        .iter()
        .filter_map(zalo_text)
        .collect()
}

/// The customer's messages in a Freshchat conversation, as texts.
fn customer_texts(env: &Env, conv: &str) -> Vec<String> {
    env.fc_messages(conv)
        .iter()
        .filter(|m| matches!(m.actor_type, zfsync_freshchat::ActorType::User))
        .map(|m| texts(m).join("\n"))
        .collect()
}

/// Runs `zfsync <args> --config …` and returns (success, stdout, stderr).
async fn run(env: &Env, args: &[&str]) -> (bool, String, String) {
    let out = zfsync_output(env, args).await;
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `zfsync run` (logging into `daemon.log`) stops at once, saying that nothing was changed.
async fn daemon_refuses(env: &Env) {
    let mut daemon = spawn_daemon(env, &[], "daemon.log");
    let exit = tokio::time::timeout(WAIT, daemon.wait())
        .await
        .unwrap()
        .unwrap();
    let log = std::fs::read_to_string(env.dir.path().join("daemon.log")).unwrap();
    assert!(
        !exit.success() && log.contains("Nothing was changed"),
        "{exit}: {log}"
    );
}

/// The previous release's store, opened by this build: migrated once (a copy of the old file
/// first), its two failed events listed and replayed once each, its sealed token pair opening and
/// working (the access token for calls, the refresh token for a refresh), new messages both ways
/// in the customers' old conversations (no new Freshchat user or conversation), and its hosted
/// file served at its old link.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_of_the_previous_release_opens_migrated_and_keeps_syncing() {
    let manifest = manifest();
    assert_eq!(manifest["schema_version"], PREVIOUS_SCHEMA);
    let env = upgraded_env(&manifest).await;
    let store = env.dir.path().join(STORE_FILE);
    let sealed: String = sql(&store, "SELECT access_token FROM tokens");
    let rows_before: i64 = sql(&store, "SELECT COUNT(*) FROM inbox");

    // The first command opens the store: copied, then migrated.
    let (ok, stdout, stderr) = run(&env, &["failed", "list", "--json"]).await;
    assert!(ok, "{stdout}\n{stderr}");
    let failed: Vec<Value> = serde_json::from_str(&stdout).unwrap();
    let reasons: Vec<&str> = failed
        .iter()
        .map(|f| f["reason"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(failed.len(), 2, "{stdout}");
    assert!(
        reasons
            .iter()
            .any(|r| r.contains("-320") || r.contains("paid feature"))
            && reasons.iter().any(|r| r.contains("400")),
        "{reasons:?}"
    );
    assert_eq!(
        sql::<i64>(&store, "PRAGMA user_version"),
        MIGRATIONS.len() as i64
    );
    let copy = env
        .dir
        .path()
        .join(format!("{STORE_FILE}.schema-{PREVIOUS_SCHEMA}.bak"));
    assert_eq!(sql::<i64>(&copy, "PRAGMA user_version"), PREVIOUS_SCHEMA);
    assert_eq!(sql::<i64>(&copy, "SELECT COUNT(*) FROM inbox"), rows_before);
    assert_eq!(
        sql::<String>(
            &store,
            "SELECT access_token FROM tokens WHERE pairing = 'default'"
        ),
        sealed,
        "the pair is still sealed as the previous release sealed it"
    );
    assert!(!sealed.contains(s(&manifest, "/zalo/access_token")));

    // A second open changes nothing: same schema, no second copy.
    let (shape, listed) = (schema(&store), files(env.dir.path()));
    let (ok, stdout, stderr) = run(&env, &["status", "--json"]).await;
    assert!(ok, "{stdout}\n{stderr}");
    let status: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(status["zalo_token"]["connected"], true, "{status}");
    assert_eq!(status["failed"].as_array().unwrap().len(), 2, "{status}");
    assert_eq!(schema(&store), shape);
    let no_wal = |names: Vec<String>| -> Vec<String> {
        names
            .into_iter()
            .filter(|n| !n.ends_with("-wal") && !n.ends_with("-shm"))
            .collect()
    };
    assert_eq!(no_wal(files(env.dir.path())), no_wal(listed));

    let mut daemon = spawn_daemon(&env, &[], "daemon.log");
    let log = || std::fs::read_to_string(env.dir.path().join("daemon.log")).unwrap_or_default();
    if let Err(e) = wait_http_ok(&format!("{}/healthz", env.daemon_url()), WAIT).await {
        panic!("{e}\n{}", log());
    }
    let people = customers(&manifest);
    let (khanh, khanh_conv) = &people[0];
    let (lan, lan_conv) = &people[1];
    let (users, conversations) = (env.fc_users().len(), env.fc_conversations().len());

    // Both customers write again: into their old conversations.
    for (user, conv, text) in [
        (khanh, khanh_conv, "Chào shop, tôi quay lại đây"),
        (lan, lan_conv, "Shop ơi, áo size M giao chưa?"),
    ] {
        let before = customer_texts(&env, conv).len();
        env.zalo
            .user_sends(user, UserAction::Text(text.into()))
            .await;
        let got = wait_for(WAIT, || async {
            let now = customer_texts(&env, conv);
            (now.len() > before).then_some(now)
        })
        .await
        .unwrap_or_else(|| panic!("{text:?} never reached {conv}\n{}", log()));
        assert_eq!(got.last().map(String::as_str), Some(text));
        assert_eq!(conversation(&env, user).as_deref(), Some(conv.as_str()));
    }

    // The agent answers in the old conversation: the restored access token carries it.
    agent_says(&env, khanh_conv, "Dạ shop chào anh Khánh ạ").await;
    zalo_sent(&env, khanh, 1).await;
    assert_eq!(env.zalo.token_refreshes(), (0, 0));
    // Once Zalo expires it, the restored refresh token gets a new pair, once.
    env.zalo.expire_access_tokens();
    agent_says(&env, khanh_conv, "Đơn DH1001 đã giao cho bên vận chuyển").await;
    zalo_sent(&env, khanh, 2).await;
    assert_eq!(env.zalo.token_refreshes(), (1, 0));

    // The failed events, replayed: each delivered once.
    let (ok, stdout, stderr) = run(&env, &["failed", "retry", "--all"]).await;
    assert!(ok, "{stdout}\n{stderr}");
    let (reply_to, reply) = failed_of(&manifest, "freshchat");
    let (message_from, message) = failed_of(&manifest, "zalo");
    let (message_conv, reply_conv) = (
        conversation(&env, &message_from).unwrap(),
        conversation(&env, &reply_to).unwrap(),
    );
    wait_for(WAIT, || async {
        (zalo_texts(&env, &reply_to).contains(&reply)
            && customer_texts(&env, &message_conv).contains(&message))
        .then_some(())
    })
    .await
    .unwrap_or_else(|| panic!("the failed events were not replayed\n{}", log()));
    let replayed = wait_for(WAIT, || async {
        let left = zfsync_json(&env, &["failed", "list"]).await;
        left.as_array().unwrap().is_empty().then_some(())
    })
    .await;
    assert!(replayed.is_some(), "failed events remain\n{}", log());
    settle(&env).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let once = |all: Vec<String>, text: &str| all.iter().filter(|t| *t == text).count();
    assert_eq!(once(zalo_texts(&env, &reply_to), &reply), 1);
    assert_eq!(once(customer_texts(&env, &message_conv), &message), 1);
    assert_eq!(reply_conv, *lan_conv);
    let every = customer_texts(&env, khanh_conv);
    let unique: std::collections::BTreeSet<&String> = every.iter().collect();
    assert_eq!(every.len(), unique.len(), "nothing doubled: {every:?}");

    // No customer became someone new.
    assert_eq!(env.fc_users().len(), users);
    assert_eq!(env.fc_conversations().len(), conversations);

    // The hosted long reply, at its old link.
    let link = format!(
        "{}/files/{}",
        env.daemon_url(),
        s(&manifest, "/hosted_file/token")
    );
    let r = reqwest::get(&link).await.unwrap();
    assert_eq!(r.status(), 200, "{link}");
    assert_eq!(
        r.headers()["content-type"],
        s(&manifest, "/hosted_file/content_type")
    );
    let body = r.bytes().await.unwrap();
    assert_eq!(
        hex::encode(Sha256::digest(&body)),
        s(&manifest, "/hosted_file/sha256")
    );
    assert!(String::from_utf8_lossy(&body).contains("chính sách đổi trả"));

    // Restarted, the daemon reads both histories again: the old conversations' messages (the
    // previous release's, restored with their ids) and this run's are all known by the keys the
    // previous release stored, so nothing is sent again either way.
    let sent = |user: &str| zalo_texts(&env, user);
    let (to_khanh, to_lan) = (sent(khanh), sent(lan));
    assert_eq!(
        to_khanh,
        [
            "Dạ shop chào anh Khánh ạ",
            "Đơn DH1001 đã giao cho bên vận chuyển"
        ]
    );
    assert_eq!(to_lan, std::slice::from_ref(&reply));
    let (in_khanh, in_lan) = (
        customer_texts(&env, khanh_conv),
        customer_texts(&env, lan_conv),
    );
    sigterm(&daemon);
    let exit = tokio::time::timeout(WAIT, daemon.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(exit.success(), "{exit}\n{}", log());
    let mut daemon = spawn_daemon(&env, &[], "daemon-again.log");
    wait_http_ok(&format!("{}/healthz", env.daemon_url()), WAIT)
        .await
        .unwrap();
    // A lane starts after the start-up catch-up and runs in the platform's order: once a message
    // written now has gone through each of Khánh's lanes, anything caught up in them has too.
    env.zalo
        .user_sends(khanh, UserAction::Text("Cảm ơn shop".into()))
        .await;
    agent_says(&env, khanh_conv, "Dạ không có gì ạ").await;
    wait_for(WAIT, || async {
        (sent(khanh).len() > to_khanh.len()
            && customer_texts(&env, khanh_conv).len() > in_khanh.len())
        .then_some(())
    })
    .await
    .unwrap();
    settle(&env).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (mut to_khanh, mut in_khanh) = (to_khanh, in_khanh);
    to_khanh.push("Dạ không có gì ạ".into());
    in_khanh.push("Cảm ơn shop".into());
    assert_eq!((sent(khanh), sent(lan)), (to_khanh, to_lan));
    assert_eq!(
        (
            customer_texts(&env, khanh_conv),
            customer_texts(&env, lan_conv)
        ),
        (in_khanh, in_lan)
    );
    sigterm(&daemon);
    let exit = tokio::time::timeout(WAIT, daemon.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(exit.success(), "{exit}");
}

/// A store a newer release migrated (its schema version past this build's) is refused by every
/// command, with both versions, this release and the way back, and nothing is written to it or
/// made beside it: the file byte for byte, no -wal, -shm or copy.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_of_a_newer_release_is_refused_and_left_as_it_was() {
    let manifest = manifest();
    let env = upgraded_env(&manifest).await;
    let (ok, _, stderr) = run(&env, &["status"]).await;
    assert!(ok, "{stderr}");
    let store = env.dir.path().join(STORE_FILE);
    let newer = MIGRATIONS.len() + 1;
    rusqlite::Connection::open(&store)
        .unwrap()
        .pragma_update(None, "user_version", newer as i64)
        .unwrap();
    // Modes zfsync tightens on a store it opens: a refusal leaves them as they are.
    let set_mode = |p: &Path, m: u32| {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).unwrap();
    };
    let mode = |p: &Path| {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::metadata(p).unwrap().permissions().mode() & 0o777
    };
    set_mode(&store, 0o644);
    set_mode(env.dir.path(), 0o755);
    let (before, listed) = (hash(&store), files(env.dir.path()));
    assert!(
        listed
            .iter()
            .all(|f| !f.ends_with("-wal") && !f.ends_with("-shm")),
        "{listed:?}"
    );

    for args in [&["status"][..], &["failed", "list"], &["check"]] {
        let (ok, stdout, stderr) = run(&env, args).await;
        assert!(!ok, "zfsync {args:?} ran on a newer store: {stdout}");
        let said = format!("{stdout}{stderr}");
        for part in [
            format!("schema version is {newer}"),
            format!("up to {}", newer - 1),
            format!("zfsync {}", env!("CARGO_PKG_VERSION")),
            "Nothing was changed".to_string(),
            "restore the backup taken before the upgrade".to_string(),
        ] {
            assert!(said.contains(&part), "zfsync {args:?}: {part:?} in {said}");
        }
    }
    daemon_refuses(&env).await;

    assert_eq!(hash(&store), before, "the store is byte for byte as it was");
    assert_eq!((mode(&store), mode(env.dir.path())), (0o644, 0o755));
    let mut now = files(env.dir.path());
    now.retain(|f| f != "daemon.log");
    assert_eq!(now, listed);
}

/// The same on PostgreSQL: a database a newer release migrated is refused by the daemon and the
/// commands, and stays exactly as it was (`pg_dump` before and after).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_database_of_a_newer_release_is_refused_and_left_as_it_was() {
    let url = match zfsync::tools::pg_cluster::fresh_database() {
        Ok(url) => url,
        Err(e) => {
            crate::prerequisites::missing::<()>(
                "postgres",
                &format!("this test needs PostgreSQL (apt-get install postgresql): {e}"),
            );
            return;
        }
    };
    let name = url.rsplit('/').next().unwrap().to_string();
    let cluster = zfsync::tools::pg_cluster::shared().unwrap();
    let env = Env::new(EnvOptions {
        store: StoreBackend::Postgres,
        postgres_url: Some(url),
        ..EnvOptions::default().loopback_media()
    })
    .await
    .unwrap();
    let (ok, _, stderr) = run(&env, &["status"]).await;
    assert!(ok, "{stderr}");
    let newer = POSTGRES_MIGRATIONS.len() + 1;
    cluster
        .psql(
            &name,
            &format!("INSERT INTO schema_migrations (version, applied_at) VALUES ({newer}, 0)"),
        )
        .unwrap();
    let before = cluster.dump(&name).unwrap();
    for args in [&["status"][..], &["failed", "list"]] {
        let (ok, stdout, stderr) = run(&env, args).await;
        assert!(!ok, "zfsync {args:?} ran on a newer database: {stdout}");
        assert!(
            stderr.contains(&format!("schema version is {newer}"))
                && stderr.contains("Nothing was changed")
                && stderr.contains("pg_dump"),
            "{stderr}"
        );
    }
    daemon_refuses(&env).await;
    assert_eq!(cluster.dump(&name).unwrap(), before);
}
