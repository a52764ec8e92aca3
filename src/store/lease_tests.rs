//! What lets replicas share a PostgreSQL database, store by store: a lane's lease goes to one
//! replica at a time and to another once it expires or is given up; the token refresh lock is held
//! by one replica at a time; and the writes that used to read first (a ticket taken, a conversation
//! pointed at, a token refusal recorded) decide in one statement. On SQLite (one process) every
//! lease is granted and the lock is nothing.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use super::pairings::put_conversation_if_none;
use super::testing::{self, on_both_backends};
use super::{Lane, LaneLease, Store};

/// A second replica's handle on the same database.
fn replicas(n: usize) -> Option<Vec<Store>> {
    let url = testing::new_database()?;
    Some(
        (0..n)
            .map(|_| Store::open_postgres(&url, testing::key()).unwrap())
            .collect(),
    )
}

const LEASE: Duration = Duration::from_secs(10);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lane_is_leased_to_one_replica_until_it_is_given_up_or_expires() {
    let Some(r) = replicas(2) else {
        return;
    };
    let (a, b) = (&r[0], &r[1]);
    assert_ne!(
        a.replica_id(),
        b.replica_id(),
        "each open is its own replica"
    );
    let lane = Lane::zalo(Some("u1"));
    assert_eq!(
        a.take_lane_lease(&lane, LEASE).await.unwrap(),
        LaneLease::Granted
    );
    assert_eq!(
        a.take_lane_lease(&lane, LEASE).await.unwrap(),
        LaneLease::Granted,
        "again: renewed"
    );
    match b.take_lane_lease(&lane, LEASE).await.unwrap() {
        LaneLease::HeldElsewhere { remaining_ms } => {
            assert!((8_000..=10_000).contains(&remaining_ms), "{remaining_ms}")
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        a.lane_lease_holder(&lane).await.unwrap().as_deref(),
        Some(a.replica_id())
    );
    // Another lane, and the same lane of another pairing, are free.
    let other = Lane::zalo(Some("u2"));
    assert_eq!(
        b.take_lane_lease(&other, LEASE).await.unwrap(),
        LaneLease::Granted
    );
    assert_eq!(
        b.pairing("shop")
            .take_lane_lease(&lane, LEASE)
            .await
            .unwrap(),
        LaneLease::Granted
    );
    // Given up: the other takes it at once; the first can neither renew nor release it now.
    b.release_lane_lease(&lane).await.unwrap();
    assert!(
        a.renew_lane_lease(&lane, LEASE).await.unwrap(),
        "b's release left a's lease alone"
    );
    a.release_lane_lease(&lane).await.unwrap();
    assert_eq!(
        b.take_lane_lease(&lane, LEASE).await.unwrap(),
        LaneLease::Granted
    );
    assert!(!a.renew_lane_lease(&lane, LEASE).await.unwrap());
    a.release_lane_lease(&lane).await.unwrap();
    assert_eq!(
        b.lane_lease_holder(&lane).await.unwrap().as_deref(),
        Some(b.replica_id())
    );

    // A replica that stops renewing (killed): its lease runs out, and another takes the lane.
    let short = Duration::from_millis(300);
    let dying = Lane::freshchat(Some("c9"));
    assert_eq!(
        a.take_lane_lease(&dying, short).await.unwrap(),
        LaneLease::Granted
    );
    assert!(matches!(
        b.take_lane_lease(&dying, LEASE).await.unwrap(),
        LaneLease::HeldElsewhere { .. }
    ));
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(a.lane_lease_holder(&dying).await.unwrap(), None, "expired");
    assert_eq!(
        b.take_lane_lease(&dying, LEASE).await.unwrap(),
        LaneLease::Granted
    );
    assert!(!a.renew_lane_lease(&dying, LEASE).await.unwrap(), "lost");

    // At shutdown a replica gives up all it holds, of every pairing.
    assert_eq!(b.release_all_lane_leases().await.unwrap(), 4);
    assert_eq!(
        a.take_lane_lease(&dying, LEASE).await.unwrap(),
        LaneLease::Granted
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_asking_for_one_lane_at_once_get_it_once() {
    let Some(r) = replicas(6) else {
        return;
    };
    for round in 0..20 {
        let lane = Lane::zalo(Some(&format!("u{round}")));
        let asks = r.iter().map(|s| {
            let (s, lane) = (s.clone(), lane.clone());
            tokio::spawn(async move { s.take_lane_lease(&lane, LEASE).await.unwrap() })
        });
        let got = futures::future::join_all(asks).await;
        let granted = got
            .iter()
            .filter(|g| matches!(g.as_ref().unwrap(), LaneLease::Granted))
            .count();
        assert_eq!(granted, 1, "round {round}: {got:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_replica_at_a_time_holds_a_pairings_refresh_lock() {
    let Some(r) = replicas(2) else {
        return;
    };
    let (a, b) = (r[0].clone(), r[1].clone());
    let held = a.refresh_lock().await.unwrap();
    // Another pairing's refresh does not wait.
    drop(b.pairing("shop").refresh_lock().await.unwrap());
    let waiting = tokio::spawn(async move { b.refresh_lock().await.unwrap() });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!waiting.is_finished(), "b waits while a refreshes");
    drop(held);
    let got = tokio::time::timeout(Duration::from_secs(5), waiting).await;
    assert!(got.is_ok(), "b gets the lock once a lets it go");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ticket_taken_by_two_replicas_at_once_is_taken_once() {
    let Some(r) = replicas(4) else {
        return;
    };
    for round in 0..10 {
        let hash = format!("h{round}");
        r[0].put_oauth_ticket(hash.clone(), None, 60_000)
            .await
            .unwrap();
        let takes = r.iter().map(|s| {
            let (s, hash) = (s.clone(), hash.clone());
            tokio::spawn(async move { s.take_oauth_ticket(hash).await.unwrap() })
        });
        let got = futures::future::join_all(takes).await;
        let taken = got.iter().filter(|t| t.as_ref().unwrap().is_some()).count();
        assert_eq!(taken, 1, "round {round}");
    }
}

/// Without replicas (and on SQLite) the lease is always this process's, and the lock nothing.
async fn one_process_always_holds_its_lanes(store: Store) {
    let lane = Lane::zalo(Some("u1"));
    assert_eq!(
        store.take_lane_lease(&lane, LEASE).await.unwrap(),
        LaneLease::Granted
    );
    assert!(store.renew_lane_lease(&lane, LEASE).await.unwrap());
    store.release_lane_lease(&lane).await.unwrap();
    assert_eq!(
        store.take_lane_lease(&lane, LEASE).await.unwrap(),
        LaneLease::Granted
    );
    drop(store.refresh_lock().await.unwrap());
    drop(store.refresh_lock().await.unwrap());
    if !store.is_postgres() {
        assert_eq!(store.lane_lease_holder(&lane).await.unwrap(), None);
        assert_eq!(store.release_all_lane_leases().await.unwrap(), 0);
    }
}

/// A customer's conversation is set once: a later pointing (another replica's, or a late one)
/// changes nothing; a conversation id another customer held moves to the one without any.
async fn a_conversation_is_pointed_at_once(store: Store) {
    let point = |user: &'static str, conv: &'static str| {
        let s = store.clone();
        async move {
            s.write(move |c| put_conversation_if_none(c, "default", user, conv))
                .await
                .unwrap()
        }
    };
    point("u1", "c1").await;
    point("u1", "c2").await;
    assert_eq!(
        store.conversation_of("u1".into()).await.unwrap().as_deref(),
        Some("c1")
    );
    point("u2", "c1").await;
    assert_eq!(
        store.conversation_of("u2".into()).await.unwrap().as_deref(),
        Some("c1")
    );
    assert_eq!(store.conversation_of("u1".into()).await.unwrap(), None);
    // Racing: one of them wins, and stays.
    let racing = (0..8).map(|i| {
        let s = store.clone();
        tokio::spawn(async move {
            let conv: &'static str = ["r0", "r1", "r2", "r3", "r4", "r5", "r6", "r7"][i];
            s.write(move |c| put_conversation_if_none(c, "default", "u3", conv))
                .await
                .unwrap()
        })
    });
    futures::future::join_all(racing).await;
    let won = store.conversation_of("u3".into()).await.unwrap().unwrap();
    point("u3", "late").await;
    assert_eq!(store.conversation_of("u3".into()).await.unwrap(), Some(won));
}

on_both_backends!(
    one_process_always_holds_its_lanes,
    a_conversation_is_pointed_at_once
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leases_run_out_an_hour_ago_are_forgotten_by_retention_and_live_ones_stay() {
    let Some(r) = replicas(1) else {
        return;
    };
    let a = &r[0];
    let (dead, live) = (Lane::zalo(Some("u1")), Lane::zalo(Some("u2")));
    a.take_lane_lease(&dead, LEASE).await.unwrap();
    a.take_lane_lease(&live, LEASE).await.unwrap();
    // The first one's holder died two hours ago.
    let name = dead.to_string();
    a.write(move |c| {
        c.execute(
            "UPDATE lane_leases SET expires_at = expires_at - 7200000 WHERE lane = ?1",
            super::db::params![name],
        )
    })
    .await
    .unwrap();
    assert_eq!(a.prune_expired_lane_leases().await.unwrap(), 1);
    assert_eq!(a.lane_lease_holder(&dead).await.unwrap(), None);
    assert_eq!(
        a.lane_lease_holder(&live).await.unwrap().as_deref(),
        Some(a.replica_id())
    );
    assert_eq!(
        a.prune(7 * 24 * 3600 * 1000).await.unwrap(),
        0,
        "nothing else to prune"
    );
}
