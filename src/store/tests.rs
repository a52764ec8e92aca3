//! Tests of the store as a whole: migrations, the writer's savepoints, ingest, redacted Debug, retention.

use super::*;

fn temp_store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("t.db")).unwrap();
    (dir, store)
}

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
    let e = conn.execute("INSERT INTO meta (key, value) VALUES ('k', x'00')", []);
    assert!(e.is_err(), "STRICT tables refuse a blob in a TEXT column");
    // Idempotent: a second run changes nothing.
    migrate(&mut conn).unwrap();
}

#[test]
fn a_store_from_a_newer_release_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("n.db");
    Connection::open(&path)
        .unwrap()
        .pragma_update(None, "user_version", 99)
        .unwrap();
    let e = Store::open(&path).unwrap_err().to_string();
    assert!(e.contains("newer zfsync"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_write_undoes_only_itself() {
    let (_dir, store) = temp_store();
    let mut tasks = Vec::new();
    for i in 0..64i64 {
        let s = store.clone();
        tasks.push(tokio::spawn(async move {
            s.write(move |c| {
                c.execute(
                    "INSERT INTO meta (key, value) VALUES (?1, 'v')",
                    [format!("k{i}")],
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
        .read(|c| Ok(c.query_row("SELECT COUNT(*) FROM meta", [], |r| r.get(0))?))
        .await
        .unwrap();
    assert_eq!(
        n, 32,
        "the odd writes rolled back, the even ones committed beside them"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ingest_is_idempotent_per_source_and_key() {
    let (_dir, store) = temp_store();
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
async fn expiry_scans_use_their_index_and_retention_reaches_every_table() {
    let (_dir, store) = temp_store();
    let plan: String = store
        .read(|c| {
            Ok(c.query_row(
                "EXPLAIN QUERY PLAN DELETE FROM oauth_attempts WHERE expires_at < 1",
                [],
                |r| r.get::<_, String>(3),
            )?)
        })
        .await
        .unwrap();
    assert!(plan.contains("oauth_attempts_expiry"), "{plan}");
    store
        .write(|c| {
            c.execute_batch(
                "INSERT INTO messages (direction, zalo_user_id, zalo_msg_id, preview, created_at)
                   VALUES ('to_zalo', 'u', 'm-old', 'an old preview', 1);
                 INSERT INTO unlinked_conversations (freshchat_conversation_id, checked_at)
                   VALUES ('c-old', 1);
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
            Ok(c.query_row(
                "SELECT (SELECT COUNT(*) FROM messages) + (SELECT COUNT(*) FROM unlinked_conversations)
                  + (SELECT COUNT(*) FROM oauth_attempts) + (SELECT COUNT(*) FROM oauth_tickets)",
                [],
                |r| r.get(0),
            )?)
        })
        .await
        .unwrap();
    assert_eq!(left, 0);
}
