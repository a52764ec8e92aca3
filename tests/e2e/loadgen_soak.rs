//! The load generator's soak mode, short: two-way traffic with 20 % of upstream calls failing in
//! both simulators while the daemon process is SIGKILLed at random moments and restarted on the
//! same store. The simulators' records must then hold every message exactly once, both ways, and
//! in order except where Zalo itself delivered a message after a later one (a webhook retried
//! while the user's later events went through, as the platform does; the daemon cannot unsend the
//! later message). That exception is counted apart and printed.
//!
//! The replica soak runs two daemon processes on one PostgreSQL database behind a round-robin
//! balancer, kills both, and also requires every lane a killed one held to be taken over within
//! the lease (and the dispatcher's next looks), as read from the store's lease rows.

use std::time::Duration;

use zfsync::tools::loadgen::{soak, Mode, Options, SoakReport};
use zfsync::tools::sandbox::StoreBackend;

fn short(kills: usize) -> Options {
    Options {
        users: 4,
        rate: 10.0,
        kills,
        kill_every: (Duration::from_millis(300), Duration::from_millis(1200)),
        fault_rate: 0.2,
        seed: 7,
        timeout: Duration::from_secs(150),
        daemon_binary: Some(crate::helpers::ZFSYNC_BIN.into()),
        ..Options::for_mode(Mode::Soak)
    }
}

async fn soak(opts: Options) -> SoakReport {
    let report = match soak::run(opts).await {
        Ok(r) => r,
        Err(e) => panic!("soak run failed: {e:#}"),
    };
    println!("{report}");
    report
}

/// Nothing lost or doubled, nothing out of order that the platforms delivered in order.
fn assert_history_clean(report: &SoakReport) {
    assert!(
        report.sent_zalo > 0 && report.sent_freshchat > 0,
        "{report}"
    );
    assert_eq!((report.lost, report.doubled), (0, 0), "{report}");
    assert_eq!(
        report.out_of_order, report.out_of_order_redelivered,
        "messages out of order that the platforms delivered in order: {report}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_kills_under_upstream_faults_lose_double_and_reorder_nothing_themselves() {
    // The store ZFSYNC_TEST_STORE names: on PostgreSQL the killed daemon's lanes wait for their
    // leases, then its restarted self takes them.
    let report = soak(short(5)).await;
    assert_eq!(report.kills, 5);
    assert_history_clean(&report);
    assert_eq!(report.restart.n, 5);
    if let Some(t) = &report.takeover {
        assert!(t.within_bound(), "{report}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_killed_under_faults_lose_nothing_and_take_each_others_lanes_within_the_lease()
{
    let report = soak(Options {
        replicas: 2,
        store: StoreBackend::Postgres,
        ..short(10)
    })
    .await;
    assert_eq!((report.kills, report.other_kills), (10, 1), "{report}");
    assert_eq!(report.restart.n, 11);
    assert_history_clean(&report);
    let spread = report
        .spread
        .as_ref()
        .expect("webhooks went through the balancer");
    assert!(
        spread.answered.iter().all(|&n| n > 0),
        "both replicas took webhooks: {report}"
    );
    let t = report.takeover.as_ref().expect("the leases were watched");
    assert!(
        t.held > 0,
        "a killed replica held lanes at some kill: {report}"
    );
    assert_eq!(t.stranded, 0, "{report}");
    assert!(t.within_bound(), "{report}");
}
