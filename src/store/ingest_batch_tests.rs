//! The webhook inserts of one batch (on PostgreSQL one statement for the whole batch): each
//! webhook gets its own answer, a bad one fails alone, the same event twice in a batch is stored
//! once; and on PostgreSQL, work stored by another process wakes this one's listener.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use super::db::params;
use super::testing::on_both_backends;
use super::*;

on_both_backends!(a_bad_webhook_insert_fails_alone_and_its_batch_mates_are_stored);

fn event(key: &str, lane: &str) -> NewEvent {
    NewEvent {
        source: Source::Zalo,
        dedupe_key: key.into(),
        lane: Lane::zalo(Some(lane)),
        event_name: "user_send_text".into(),
        body: b"{}".to_vec(),
        event_time: 1,
        provenance: Provenance::Webhook,
    }
}

/// Holds the writer in a batch of its own for a while, so the webhooks queued meanwhile all go in
/// the next batch together.
async fn hold_writer(store: &Store) -> tokio::task::JoinHandle<()> {
    let s = store.clone();
    let held = tokio::spawn(async move {
        s.write(|_| {
            std::thread::sleep(Duration::from_millis(300));
            Ok(())
        })
        .await
        .unwrap();
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    held
}

async fn a_bad_webhook_insert_fails_alone_and_its_batch_mates_are_stored(store: Store) {
    let held = hold_writer(&store).await;
    let mut tasks = Vec::new();
    for i in 0..20 {
        // The same event twice in one batch; and a key PostgreSQL's text cannot hold (a NUL).
        let key = match i {
            7 => "bad\0key".to_string(),
            13 => "m3".to_string(),
            i => format!("m{i}"),
        };
        let s = store.clone();
        tasks.push(tokio::spawn(async move {
            s.ingest(event(&key, &format!("u{}", i % 3))).await
        }));
    }
    held.await.unwrap();
    let mut answers = Vec::new();
    for t in tasks {
        answers.push(t.await.unwrap());
    }
    if store.is_postgres() {
        assert!(
            answers[7].is_err(),
            "the bad insert fails: {:?}",
            answers[7]
        );
    }
    let (new, dup): (Vec<&Ingested>, Vec<&Ingested>) = answers
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != 7)
        .map(|(_, a)| a.as_ref().unwrap())
        .partition(|a| matches!(a, Ingested::New(_)));
    assert_eq!((new.len(), dup.len()), (18, 1), "{answers:?}");
    let ids: std::collections::HashSet<i64> = new
        .iter()
        .filter_map(|a| match a {
            Ingested::New(id) => Some(*id),
            Ingested::Duplicate => None,
        })
        .collect();
    assert_eq!(ids.len(), 18, "each stored webhook has an id of its own");
    let stored: i64 = store
        .read(|c| {
            c.query_row(
                "SELECT COUNT(*) FROM inbox WHERE dedupe_key LIKE 'm%'",
                params![],
                |r| r.get(0),
            )
        })
        .await
        .unwrap();
    assert_eq!(stored, 18);
    // The writer goes on as before.
    assert!(matches!(
        store.ingest(event("after", "u1")).await.unwrap(),
        Ingested::New(_)
    ));
}

async fn next(rx: &mut tokio::sync::mpsc::UnboundedReceiver<Wake>) -> Wake {
    tokio::time::timeout(Duration::from_secs(20), rx.recv())
        .await
        .unwrap()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn work_stored_by_another_process_wakes_the_listener_and_its_own_does_not() {
    let Some(url) = testing::new_database() else {
        return;
    };
    let here = Store::open_postgres(&url, testing::key()).unwrap();
    let there = Store::open_postgres(&url, testing::key()).unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let stop = tokio_util::sync::CancellationToken::new();
    let listener = here
        .listen_for_work(move |w| drop(tx.send(w)), stop.clone())
        .unwrap();
    // Connected: every pairing once, since anything before was missed.
    assert_eq!(next(&mut rx).await, Wake::All);
    // This process's own webhooks signal their lanes in memory: no notification comes back.
    here.ingest(event("own", "u1")).await.unwrap();
    // Another process's new work names its pairing, once for a batch.
    let other = there.pairing("other");
    other.ingest(event("theirs", "u1")).await.unwrap();
    assert_eq!(next(&mut rx).await, Wake::Pairing("other".into()));
    // A duplicate is no new work; a lease given up with events left is.
    other.ingest(event("theirs", "u1")).await.unwrap();
    let lane = Lane::zalo(Some("u1"));
    assert_eq!(
        other
            .take_lane_lease(&lane, Duration::from_secs(60))
            .await
            .unwrap(),
        LaneLease::Granted
    );
    other.release_lane_lease(&lane).await.unwrap();
    assert_eq!(next(&mut rx).await, Wake::Pairing("other".into()));
    stop.cancel();
    tokio::task::spawn_blocking(move || listener.join().unwrap())
        .await
        .unwrap();
    assert!(
        rx.try_recv().is_err(),
        "no other wake: not the own ingest, not the duplicate"
    );
}

/// The CPU time (user + system, in clock ticks) of this process's threads named `name` (Linux's
/// `comm` keeps 15 bytes of a thread's name).
fn thread_cpu_ticks(name: &str) -> Option<u64> {
    let short: String = name.chars().take(15).collect();
    let mut found = None;
    for task in std::fs::read_dir("/proc/self/task").ok()?.flatten() {
        let comm = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
        if comm.trim_end() != short {
            continue;
        }
        let stat = std::fs::read_to_string(task.path().join("stat")).ok()?;
        // Fields after the command's closing parenthesis; utime and stime are the 12th and 13th.
        let rest = &stat[stat.rfind(')')? + 2..];
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let ticks = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
        found = Some(found.unwrap_or(0) + ticks);
    }
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_listener_waits_without_spinning() {
    let Some(url) = testing::new_database() else {
        return;
    };
    let here = Store::open_postgres(&url, testing::key()).unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let stop = tokio_util::sync::CancellationToken::new();
    let listener = here
        .listen_for_work(move |w| drop(tx.send(w)), stop.clone())
        .unwrap();
    assert_eq!(next(&mut rx).await, Wake::All);
    let before = thread_cpu_ticks("zfsync-store-listen").expect("the listener's thread");
    let started = std::time::Instant::now();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let used = thread_cpu_ticks("zfsync-store-listen").unwrap() - before;
    // Clock ticks are 1/100 s on Linux: a thread busy-looping takes close to 300 ticks in 3 s
    // (more than 100 even on a machine shared with a build); waiting on its socket, about none.
    let elapsed = started.elapsed().as_secs_f64();
    assert!(
        (used as f64) < elapsed * 100.0 * 0.2,
        "the idle listener used {used} ticks of CPU in {elapsed:.1} s"
    );
    // It still hears the next notification after idling past its poll interval.
    let there = Store::open_postgres(&url, testing::key()).unwrap();
    there
        .pairing("other")
        .ingest(event("late", "u2"))
        .await
        .unwrap();
    assert_eq!(next(&mut rx).await, Wake::Pairing("other".into()));
    stop.cancel();
    tokio::task::spawn_blocking(move || listener.join().unwrap())
        .await
        .unwrap();
}
