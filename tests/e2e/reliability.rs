//! The store under trouble: a full disk, a damaged file, a backup restored, secrets at rest.
#![allow(clippy::unwrap_used)]

use zfsync::tools::sandbox::wait_for;
use zfsync_zalo::sim::UserAction;

use crate::helpers::*;

const U: &str = "5234000000000000777";

/// The store answers "disk full" (its size capped, as a full disk would): webhooks get 503 so Zalo
/// delivers them again, readiness and metrics say why, nothing acknowledged is lost, and once space
/// returns everything arrives exactly once, in order, without anyone doing anything.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_refuses_webhooks_and_recovers_by_itself() {
    let env = sqlite_env().await;
    start_conversation(&env, U).await;
    settle(&env).await;
    let store = env.daemon_store().unwrap().clone();
    let pages = store.page_count().await.unwrap();
    store.limit_pages(Some(pages)).await.unwrap();
    let http = reqwest::Client::new();
    let mut sent = Vec::new();
    // Write until the daemon refuses a webhook (free pages inside the file absorb a few first).
    let refused = |env: &zfsync::tools::sandbox::Env| {
        env.zalo.deliveries().iter().any(|d| d.status == Some(503))
    };
    while !refused(&env) {
        assert!(
            sent.len() < 2000,
            "the capped store never refused a webhook"
        );
        let text = format!("while full {:03}", sent.len());
        env.zalo.user_sends(U, UserAction::Text(text.clone())).await;
        sent.push(text);
        // The next message only once this one was answered: one sent after a refusal could be
        // stored (the refused write's pages are free again) ahead of the refused one's
        // redelivery, an order the platform made, not the daemon.
        let answered = wait_for(WAIT, || async {
            let firsts = env
                .zalo
                .deliveries()
                .iter()
                .filter(|d| d.event_name == "user_send_text" && d.num_retry == 0)
                .filter(|d| d.status.is_some())
                .count();
            (firsts > sent.len()).then_some(())
        })
        .await;
        assert!(answered.is_some(), "the daemon answered each delivery");
    }
    let ready = http
        .get(format!("{}/readyz", env.daemon_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 503);
    let metrics = http
        .get(format!("{}/metrics", env.daemon_url()))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("zfsync_store_full 1"), "{metrics}");
    // Space returns.
    store.limit_pages(None).await.unwrap();
    let freed = std::time::Instant::now();
    let msgs = customer_messages(&env, U, 1 + sent.len()).await;
    let mut want = vec!["hello".to_string()];
    want.extend(sent.iter().cloned());
    assert_eq!(msgs.iter().flat_map(texts).collect::<Vec<_>>(), want);
    let ready = wait_for(WAIT, || async {
        let r = reqwest::get(format!("{}/readyz", env.daemon_url()))
            .await
            .ok()?;
        r.status().is_success().then_some(())
    })
    .await;
    assert!(ready.is_some(), "readiness came back by itself");
    println!(
        "disk full: {} webhooks refused while full, all {} delivered once, ready again {} ms after space returned",
        env.zalo.deliveries().iter().filter(|d| d.status == Some(503)).count(),
        sent.len(),
        freed.elapsed().as_millis()
    );
    settle(&env).await;
    assert_eq!(
        customer_messages(&env, U, 1 + sent.len()).await.len(),
        1 + sent.len(),
        "nothing doubled"
    );
}

/// `zfsync backup` copies the store while the daemon runs; a store restored from it keeps every
/// pairing (the same Freshchat user and conversation), and its tokens open with the same key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_taken_while_running_restores() {
    let mut env = sqlite_env().await;
    let conv = start_conversation(&env, U).await;
    let backup = env.dir.path().join("backup.db");
    let to = backup.to_str().unwrap();
    zfsync_stdout(&env, &["backup", "--to", to]).await;
    // A second backup to the same file is refused rather than overwriting it.
    let again = zfsync_output(&env, &["backup", "--to", to]).await;
    assert!(!again.status.success());
    env.stop_daemon().await;
    let db = env.dir.path().join("zfsync.db");
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
    }
    std::fs::copy(&backup, &db).unwrap();
    env.start_daemon().await.unwrap();
    env.zalo
        .user_sends(U, UserAction::Text("after restore".into()))
        .await;
    let msgs = customer_messages(&env, U, 2).await;
    assert_eq!(
        msgs.iter().flat_map(texts).collect::<Vec<_>>(),
        vec!["hello", "after restore"]
    );
    assert_eq!(conversation(&env, U).as_deref(), Some(conv.as_str()));
    assert_eq!(env.fc_users().len(), 1, "no second Freshchat user");
}

/// A damaged store stops start-up with how to restore it, instead of running on a broken file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_store_stops_start_up_with_the_way_out() {
    let mut env = sqlite_env().await;
    start_conversation(&env, U).await;
    env.stop_daemon().await;
    let db = env.dir.path().join("zfsync.db");
    let mut bytes = std::fs::read(&db).unwrap();
    // Keep the header, destroy the pages after it.
    for b in bytes.iter_mut().skip(100) {
        *b = 0xA5;
    }
    std::fs::write(&db, bytes).unwrap();
    for suffix in ["-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
    }
    let out = zfsync_output(&env, &["status"]).await;
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("damaged") && err.contains("zfsync backup"),
        "{err}"
    );
}

/// Secrets at rest: the token columns hold sealed values, and the store file and its key are
/// private to their owner.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_are_sealed_and_files_are_private() {
    let env = sqlite_env().await;
    let db = env.dir.path().join("zfsync.db");
    // The columns as they are at rest (the store's reads open them): the one read of the file
    // itself, because what is asserted is the file.
    let (access, refresh): (String, String) = rusqlite::Connection::open(&db)
        .unwrap()
        .query_row(
            "SELECT access_token, refresh_token FROM tokens WHERE pairing = 'default'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert!(access.starts_with("enc1:") && refresh.starts_with("enc1:"));
    let services = zfsync::services::Services::new(&env.config().unwrap())
        .await
        .unwrap();
    let tokens = services.store.tokens().await.unwrap().unwrap();
    assert!(!tokens.access_token.is_empty() && !tokens.access_token.starts_with("enc1:"));
    let raw = std::fs::read(&db).unwrap();
    let wal = std::fs::read(format!("{}-wal", db.display())).unwrap_or_default();
    for needle in [&tokens.access_token, &tokens.refresh_token] {
        let n = needle.as_bytes();
        assert!(
            !raw.windows(n.len()).any(|w| w == n),
            "plaintext token in the store file"
        );
        assert!(
            !wal.windows(n.len()).any(|w| w == n),
            "plaintext token in the WAL"
        );
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        for f in [db.clone(), env.dir.path().join("zfsync.db.key")] {
            let mode = std::fs::metadata(&f).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{}", f.display());
        }
    }
}
