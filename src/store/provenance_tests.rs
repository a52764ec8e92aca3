//! How an event arrived is the inbox's `provenance` column: stored as given, read back with the
//! row, and (migration 011) taken out of the bodies that older releases marked instead.

#![allow(clippy::unwrap_used)]

use rusqlite::Connection;

use super::testing::on_both_backends;
use super::{migrate, Ingested, Lane, NewEvent, Provenance, Source, Store, MIGRATIONS};

on_both_backends!(a_backfilled_row_carries_its_provenance_and_the_body_as_given);

/// A history copy as the connector rebuilds it: its own spacing and key order, kept byte for byte.
const HISTORY_BODY: &str = r#"{"event_name": "user_send_text","app_id":"1","source":"zfsync_history_catch_up","message":{"msg_id":"m1","text":"xin chào"},"timestamp":"1704067200000"}"#;

fn event(key: &str, body: &str, provenance: Provenance) -> NewEvent {
    NewEvent {
        source: Source::Zalo,
        dedupe_key: key.into(),
        lane: Lane::zalo(Some("42")),
        event_name: "user_send_text".into(),
        body: body.as_bytes().to_vec(),
        event_time: 1_704_067_200_000,
        provenance,
    }
}

async fn a_backfilled_row_carries_its_provenance_and_the_body_as_given(store: Store) {
    let mut ids = Vec::new();
    for (key, provenance) in [
        ("b", Provenance::Backfill),
        ("h", Provenance::History),
        ("w", Provenance::Webhook),
    ] {
        let Ingested::New(id) = store
            .ingest_history(event(key, HISTORY_BODY, provenance))
            .await
            .unwrap()
        else {
            panic!("{key} is new");
        };
        ids.push((id, provenance));
    }
    for (id, provenance) in ids {
        let row = store.inbox_event(id).await.unwrap().unwrap();
        assert_eq!(row.provenance, provenance);
        assert_eq!(
            row.body,
            HISTORY_BODY.as_bytes(),
            "the body is stored untouched"
        );
    }
}

#[test]
fn migration_011_moves_the_backfill_marker_out_of_the_body() {
    let dir = tempfile::tempdir().unwrap();
    let mut conn = Connection::open(dir.path().join("u.db")).unwrap();
    // The store as release 010 left it.
    for (_, sql) in MIGRATIONS.iter().take(10) {
        conn.execute_batch(sql).unwrap();
    }
    conn.pragma_update(None, "user_version", 10).unwrap();
    let marked = HISTORY_BODY.replace("zfsync_history_catch_up", "zfsync_backfill");
    let rows: [(&str, &str, &[u8]); 5] = [
        ("zalo", "backfilled", marked.as_bytes()),
        ("zalo", "caught_up", HISTORY_BODY.as_bytes()),
        ("zalo", "webhook", br#"{"event_name":"user_send_text"}"#),
        ("zalo", "not_json", b"\xff not json"),
        // Only Zalo's history was ever marked: a Freshchat body is not read.
        ("freshchat", "fc", br#"{"source":"zfsync_backfill"}"#),
    ];
    for (source, key, body) in rows {
        conn.execute(
            "INSERT INTO inbox (source, dedupe_key, lane, event_name, body, event_time, received_at)
             VALUES (?1, ?2, 'zalo:42', 'user_send_text', ?3, 1, 1)",
            rusqlite::params![source, key, body],
        )
        .unwrap();
    }
    migrate(&mut conn).unwrap();
    let read = |key: &str| -> (String, Vec<u8>) {
        conn.query_row(
            "SELECT provenance, body FROM inbox WHERE dedupe_key = ?1",
            [key],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap()
    };
    let (provenance, body) = read("backfilled");
    assert_eq!(provenance, "backfill");
    let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let history: serde_json::Value = serde_json::from_str(HISTORY_BODY).unwrap();
    assert_eq!(body, history, "the body is the history copy again");
    assert_eq!(read("caught_up"), ("history".into(), HISTORY_BODY.into()));
    assert_eq!(read("webhook").0, "webhook");
    assert_eq!(
        read("not_json"),
        ("webhook".into(), b"\xff not json".to_vec())
    );
    assert_eq!(read("fc").0, "webhook");
    // The column takes only the three values.
    let refused = conn.execute("UPDATE inbox SET provenance = 'replay'", []);
    assert!(refused.is_err(), "CHECK refuses an unknown provenance");
}
