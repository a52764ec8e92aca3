//! Tests of the store as a whole: migrations, the writer's savepoints, ingest, redacted Debug,
//! retention; on both backends where the behaviour is the store's (see [`testing`]).

use rusqlite::Connection;

use super::db::params;
use super::testing::{self, on_both_backends};
use super::*;

on_both_backends!(
    a_failing_write_undoes_only_itself,
    ingest_is_idempotent_per_source_and_key,
    retention_reaches_every_table,
    pairings_share_a_store_and_nothing_else,
    a_unique_key_refuses_a_second_row_and_the_batch_goes_on,
);

#[test]
fn migrations_apply_in_order_and_tables_are_strict() {
    let dir = tempfile::tempdir().unwrap();
    let mut conn = Connection::open(dir.path().join("m.db")).unwrap();
    migrate(&mut conn).unwrap();
    let v: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    assert_eq!(v, MIGRATIONS.len() as i64);
    // STRICT: a wrong type is refused rather than stored.
    let e = conn.execute(
        "INSERT INTO meta (pairing, key, value) VALUES ('default', 'k', x'00')",
        [],
    );
    assert!(e.is_err(), "STRICT tables refuse a blob in a TEXT column");
    // Idempotent: a second run changes nothing.
    migrate(&mut conn).unwrap();
}

async fn a_failing_write_undoes_only_itself(store: Store) {
    let mut tasks = Vec::new();
    for i in 0..64i64 {
        let s = store.clone();
        tasks.push(tokio::spawn(async move {
            s.write(move |c| {
                c.execute(
                    "INSERT INTO meta (pairing, key, value) VALUES ('default', ?1, 'v')",
                    params![format!("k{i}")],
                )?;
                if i % 2 == 1 {
                    return Err(StoreError::Busy);
                }
                Ok(())
            })
            .await
        }));
    }
    let mut ok = 0;
    for t in tasks {
        if t.await.unwrap().is_ok() {
            ok += 1;
        }
    }
    assert_eq!(ok, 32);
    let n: i64 = store
        .read(|c| c.query_row("SELECT COUNT(*) FROM meta", params![], |r| r.get(0)))
        .await
        .unwrap();
    assert_eq!(
        n, 32,
        "the odd writes rolled back, the even ones committed beside them"
    );
}

async fn ingest_is_idempotent_per_source_and_key(store: Store) {
    let ev = |source, key: &str| NewEvent {
        source,
        dedupe_key: key.into(),
        lane: Lane::zalo(Some("1")),
        event_name: "user_send_text".into(),
        body: b"{}".to_vec(),
        event_time: 1,
        provenance: Provenance::Webhook,
    };
    assert!(matches!(
        store.ingest(ev(Source::Zalo, "m1")).await.unwrap(),
        Ingested::New(_)
    ));
    assert_eq!(
        store.ingest(ev(Source::Zalo, "m1")).await.unwrap(),
        Ingested::Duplicate
    );
    assert!(matches!(
        store.ingest(ev(Source::Freshchat, "m1")).await.unwrap(),
        Ingested::New(_)
    ));
    assert_eq!(store.pending_count().await.unwrap(), 2);
}

#[test]
fn secrets_never_show_in_debug() {
    let t = StoredTokens {
        oa_id: Some("1".into()),
        access_token: "at-secret".into(),
        refresh_token: "rt-secret".into(),
        access_expires_at: 0,
        refresh_expires_at: 0,
        updated_at: 0,
        needs_reauth: None,
        token_error: None,
        generation: 0,
    };
    let a = OAuthAttempt {
        state: "st".into(),
        challenge: Some("ch".into()),
        verifier: "verifier-secret".into(),
        redirect_uri: "https://x/cb".into(),
        expected_oa: None,
    };
    let shown = format!("{t:?} {a:?} {:?}", StoreKey::from_bytes(&[7; 32]).unwrap());
    for secret in ["at-secret", "rt-secret", "verifier-secret"] {
        assert!(!shown.contains(secret), "{shown}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expiry_scans_use_their_index() {
    let store = testing::sqlite();
    let plan: String = store
        .read(|c| {
            c.query_row(
                "EXPLAIN QUERY PLAN DELETE FROM oauth_attempts WHERE expires_at < 1",
                params![],
                |r| r.get::<String>(3),
            )
        })
        .await
        .unwrap();
    assert!(plan.contains("oauth_attempts_expiry"), "{plan}");
}

async fn retention_reaches_every_table(store: Store) {
    store
        .write(|c| {
            c.execute_batch(
                "INSERT INTO messages (pairing, direction, zalo_user_id, zalo_msg_id, preview, created_at)
                   VALUES ('default', 'to_zalo', 'u', 'm-old', 'an old preview', 1);
                 INSERT INTO unlinked_conversations (pairing, freshchat_conversation_id, checked_at)
                   VALUES ('default', 'c-old', 1);
                 INSERT INTO oauth_attempts (state, verifier, redirect_uri, created_at, expires_at)
                   VALUES ('s', 'v', 'r', 1, 2);
                 INSERT INTO oauth_tickets (ticket_hash, expires_at) VALUES ('h', 2);",
            )?;
            Ok(())
        })
        .await
        .unwrap();
    assert!(store.prune(1000).await.unwrap() >= 4);
    let left: i64 = store
        .read(|c| {
            c.query_row(
                "SELECT (SELECT COUNT(*) FROM messages) + (SELECT COUNT(*) FROM unlinked_conversations)
                  + (SELECT COUNT(*) FROM oauth_attempts) + (SELECT COUNT(*) FROM oauth_tickets)",
                params![],
                |r| r.get(0),
            )
        })
        .await
        .unwrap();
    assert_eq!(left, 0);
}

/// Two pairings share one store and never see each other's rows: the same Zalo user id, message
/// id and dedupe key are separate customers, events and pairings in each.
async fn pairings_share_a_store_and_nothing_else(store: Store) {
    let (a, b) = (store.pairing("shop-a"), store.pairing("shop-b"));
    assert_eq!(store.pairing_name(), DEFAULT_PAIRING);
    let ev = || NewEvent {
        source: Source::Zalo,
        dedupe_key: "msg-1".into(),
        lane: Lane::zalo(Some("42")),
        event_name: "user_send_text".into(),
        body: b"{}".to_vec(),
        event_time: now_ms(),
        provenance: Provenance::Webhook,
    };
    assert!(matches!(a.ingest(ev()).await.unwrap(), Ingested::New(_)));
    assert!(matches!(b.ingest(ev()).await.unwrap(), Ingested::New(_)));
    assert_eq!(a.ingest(ev()).await.unwrap(), Ingested::Duplicate);
    assert_eq!(a.pending_count().await.unwrap(), 1);
    assert_eq!(store.pending_count().await.unwrap(), 0);

    a.set_conversation("42".into(), "conv-a".into(), None)
        .await
        .unwrap();
    b.set_conversation("42".into(), "conv-b".into(), None)
        .await
        .unwrap();
    assert_eq!(
        a.conversation_of("42".into()).await.unwrap().as_deref(),
        Some("conv-a")
    );
    assert_eq!(
        b.conversation_of("42".into()).await.unwrap().as_deref(),
        Some("conv-b")
    );
    assert_eq!(
        b.zalo_user_of_conversation("conv-a".into()).await.unwrap(),
        None
    );
    a.set_meta("k", "a".into()).await.unwrap();
    assert_eq!(b.meta("k").await.unwrap(), None);
    a.forget_user("42".into(), 0).await.unwrap();
    assert_eq!(a.conversation_of("42".into()).await.unwrap(), None);
    assert_eq!(
        b.conversation_of("42".into()).await.unwrap().as_deref(),
        Some("conv-b")
    );
    assert_eq!(b.pending_count().await.unwrap(), 1);
}

/// A store kept before pairings existed becomes the pairing `default`, every row kept, and its
/// keys still refuse a second copy of an event.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_from_before_pairings_is_the_default_pairing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.db");
    {
        let mut conn = Connection::open(&path).unwrap();
        let before = MIGRATIONS
            .iter()
            .position(|(name, _)| *name == "012_pairings")
            .unwrap();
        for (_, sql) in MIGRATIONS.iter().take(before) {
            conn.execute_batch(sql).unwrap();
        }
        conn.pragma_update(None, "user_version", before as i64)
            .unwrap();
        conn.execute_batch(
            "INSERT INTO inbox (source, dedupe_key, lane, event_name, body, event_time, received_at)
               VALUES ('zalo', 'm1', 'zalo:42', 'user_send_text', x'7b7d', 1, 1);
             INSERT INTO steps (inbox_id, idx, kind, state, started_at) VALUES (1, 0, 'send_zalo', 'sent', 1);
             INSERT INTO conversations (zalo_user_id, freshchat_conversation_id, updated_at)
               VALUES ('42', 'conv-1', 1);
             INSERT INTO meta (key, value) VALUES ('txt_upload', 'refused');",
        )
        .unwrap();
        let _ = &mut conn;
    }
    let store = Store::open(&path).unwrap();
    assert_eq!(
        store.conversation_of("42".into()).await.unwrap().as_deref(),
        Some("conv-1")
    );
    assert_eq!(
        store.meta("txt_upload").await.unwrap().as_deref(),
        Some("refused")
    );
    let again = NewEvent {
        source: Source::Zalo,
        dedupe_key: "m1".into(),
        lane: Lane::zalo(Some("42")),
        event_name: "user_send_text".into(),
        body: b"{}".to_vec(),
        event_time: 1,
        provenance: Provenance::Webhook,
    };
    assert_eq!(store.ingest(again).await.unwrap(), Ingested::Duplicate);
    let step = store
        .step(JournalKey {
            inbox_id: 1,
            idx: 0,
        })
        .await
        .unwrap()
        .unwrap();
    assert_eq!(step.state, StepState::Sent);
}

/// A second row under a unique key is refused with the backend's error, and only that write
/// fails: the others of its batch commit (PostgreSQL would otherwise abandon the whole
/// transaction after the failed statement).
async fn a_unique_key_refuses_a_second_row_and_the_batch_goes_on(store: Store) {
    let attempt = |state: &str| {
        store.put_oauth_attempt(
            state.into(),
            "verifier".into(),
            "challenge".into(),
            "https://x/cb".into(),
            None,
            60_000,
        )
    };
    attempt("s1").await.unwrap();
    let (again, other, meta) = tokio::join!(
        attempt("s1"),
        attempt("s2"),
        store.set_meta("k", "v".into())
    );
    let e = again.unwrap_err();
    assert!(
        matches!(e, StoreError::Sql(_) | StoreError::Postgres(_)),
        "{e:?}"
    );
    other.unwrap();
    meta.unwrap();
    assert_eq!(store.pending_oauth_attempts().await.unwrap(), 2);
    assert_eq!(store.meta("k").await.unwrap().as_deref(), Some("v"));
}

/// Processes starting together on one database migrate it once (the advisory lock), and each
/// opens it.
#[test]
fn stores_opening_together_migrate_once() {
    let Some(url) = testing::new_database() else {
        return;
    };
    std::thread::scope(|s| {
        let opening: Vec<_> = (0..4)
            .map(|_| s.spawn(|| Store::open_postgres(&url, testing::key()).map(drop)))
            .collect();
        for o in opening {
            o.join().unwrap().unwrap();
        }
    });
    let name = url.rsplit('/').next().unwrap();
    let versions = crate::tools::pg_cluster::shared()
        .unwrap()
        .psql(name, "SELECT COUNT(*) FROM schema_migrations")
        .unwrap();
    assert_eq!(versions, POSTGRES_MIGRATIONS.len().to_string());
}

/// The URL's password never shows in the store's `Debug`, its path or its errors.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_store_never_shows_its_password() {
    let Some(url) = testing::new_database() else {
        return;
    };
    let with_password = url.replacen("zfsync@", "zfsync:hunter2@", 1);
    let store = Store::open_postgres(&with_password, testing::key()).unwrap();
    let shown = format!("{store:?} {}", store.path().display());
    assert!(
        !shown.contains("hunter2") && shown.contains("zfsync@127.0.0.1"),
        "{shown}"
    );
    let e = store
        .backup("/nonexistent/copy.db".into())
        .await
        .unwrap_err();
    assert!(e.to_string().contains("pg_dump"), "{e}");
    store.ping().await.unwrap();
}

/// The server dropping the store's connections (a restart, a failover) costs at most one failed
/// read: the writer connects again before its next batch, the readers after the read that found
/// theirs gone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_store_connects_again_when_the_server_drops_it() {
    let Some(url) = testing::new_database() else {
        return;
    };
    let store = Store::open_postgres(&url, testing::key()).unwrap();
    store.set_meta("k", "1".into()).await.unwrap();
    assert_eq!(store.meta("k").await.unwrap().as_deref(), Some("1"));
    let name = url.rsplit('/').next().unwrap();
    let terminated = crate::tools::pg_cluster::shared()
        .unwrap()
        .psql(
            name,
            &format!(
                "SELECT COUNT(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                 WHERE datname = '{name}' AND pid <> pg_backend_pid()) AS t"
            ),
        )
        .unwrap();
    assert_eq!(terminated, "2", "the writer and one reader");
    store.set_meta("k", "2".into()).await.unwrap();
    let _ = store.meta("k").await;
    assert_eq!(store.meta("k").await.unwrap().as_deref(), Some("2"));
}

/// A pairing flooded with webhooks is refused (Busy, so its platform delivers again) once it
/// holds its share of the webhook queue, while another pairing's webhooks still get in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_pairings_flood_never_takes_the_whole_webhook_queue() {
    let t = testing::sqlite();
    let (a, b) = (t.store.pairing("a"), t.store.pairing("b"));
    // The writer is held on one write while the webhooks queue behind it.
    let (release, held) = std::sync::mpsc::channel::<()>();
    let blocker = {
        let s = t.store.clone();
        tokio::spawn(async move {
            s.write(move |_| {
                let _ = held.recv();
                Ok(())
            })
            .await
        })
    };
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    let mut queued = Vec::new();
    for _ in 0..super::MAX_URGENT_PER_PAIRING {
        let a = a.clone();
        queued.push(tokio::spawn(async move {
            a.write_urgent_statement(|_| Ok(())).await
        }));
    }
    // Every one of them is in the queue before the next is tried.
    while a.urgent_mine.available_permits() > 0 {
        tokio::task::yield_now().await;
    }
    let refused = a.write_urgent_statement(|_| Ok(())).await;
    assert!(matches!(refused, Err(StoreError::Busy)), "{refused:?}");
    let other = {
        let b = b.clone();
        tokio::spawn(async move { b.write_urgent_statement(|_| Ok(())).await })
    };
    release.send(()).unwrap();
    blocker.await.unwrap().unwrap();
    other.await.unwrap().unwrap();
    for q in queued {
        q.await.unwrap().unwrap();
    }
}

/// PostgreSQL's refusals met when setting a store up read as the server's own message with what
/// to do, never as the client's bare "db error".
#[tokio::test]
async fn a_postgres_store_refused_by_the_server_says_why_and_what_to_do() {
    let Some(url) = testing::new_database() else {
        return;
    };
    let cluster = crate::tools::pg_cluster::shared().unwrap();
    // A database that does not exist.
    let missing = format!("{}/zfsync_missing", url.rsplit_once('/').unwrap().0);
    let e = Store::open_postgres(&missing, testing::key())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("3D000") && e.contains("zfsync_missing") && e.contains("CREATE DATABASE"),
        "{e}"
    );
    assert!(!e.contains("db error"), "{e}");
    // A role that may log in but not create tables in a database it does not own (PostgreSQL 15
    // no longer lets everyone create in the schema public).
    let database = url.rsplit_once('/').unwrap().1.to_string();
    cluster
        .psql(&database, "CREATE ROLE zfsync_weak LOGIN")
        .unwrap();
    let weak = format!(
        "postgres://zfsync_weak@127.0.0.1:{}/{database}",
        cluster.port()
    );
    let e = Store::open_postgres(&weak, testing::key())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("42501") && e.contains("permission denied") && e.contains("OWNER"),
        "{e}"
    );
}
