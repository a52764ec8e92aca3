//! The load generator's density modes, short: many customers in one daemon process. Busy: each
//! pairing's customer writes and its agent answers, one pairing broken beside them (Zalo
//! authorization expired, Freshchat key refused) while its customer keeps writing; every healthy
//! pairing's messages arrive once, in order, and only in its own accounts. Idle: the daemon
//! serves every registered pairing and its memory grows by each one (the figures themselves are
//! BENCHMARKS.md's, from the release build).

use std::time::Duration;

use zfsync::tools::loadgen::{density, Mode, Options};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pairings_beside_a_broken_one_each_get_their_own_messages_once_and_in_order() {
    let opts = Options {
        pairings: 5,
        broken: 1,
        rate: 2.0,
        duration: Duration::from_secs(3),
        daemon_binary: Some(crate::helpers::ZFSYNC_BIN.into()),
        ..Options::for_mode(Mode::Pairings)
    };
    let report = match density::run_busy(opts).await {
        Ok(r) => r,
        Err(e) => panic!("density run failed: {e:#}"),
    };
    println!("{report}");
    assert!(report.problems.is_empty(), "{report}");
    assert_eq!(report.broken, 1);
    // 4 healthy pairings × 6 messages each way.
    assert_eq!(report.sent, (24, 24), "{report}");
    assert_eq!(
        (report.to_freshchat.n, report.to_zalo.n),
        (24, 24),
        "{report}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_pairings_are_all_served_by_one_daemon() {
    let opts = Options {
        pairings: 30,
        daemon_binary: Some(crate::helpers::ZFSYNC_BIN.into()),
        ..Options::for_mode(Mode::IdlePairings)
    };
    let report = match density::run_idle(opts).await {
        Ok(r) => r,
        Err(e) => panic!("density run failed: {e:#}"),
    };
    println!("{report}");
    assert_eq!((report.pairings, report.served), (30, 30), "{report}");
    assert!(
        report.rss_one_kb > 0 && report.rss_all_kb > report.rss_one_kb,
        "{report}"
    );
}
