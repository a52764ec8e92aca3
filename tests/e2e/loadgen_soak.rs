//! The load generator's soak mode, short: two-way traffic with 20 % of upstream calls failing in
//! both simulators while the daemon process is SIGKILLed five times at random moments and
//! restarted on the same store. The simulators' records must then hold every message exactly
//! once, both ways, and in order except where Zalo itself delivered a message after a later one
//! (a webhook retried while the user's later events went through, as the platform does; the
//! daemon cannot unsend the later message). That exception is counted apart and printed.

use std::time::Duration;

use zfsync::tools::loadgen::{soak, Mode, Options};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_kills_under_upstream_faults_lose_double_and_reorder_nothing_themselves() {
    let opts = Options {
        users: 4,
        rate: 10.0,
        kills: 5,
        kill_every: (Duration::from_millis(300), Duration::from_millis(1200)),
        fault_rate: 0.2,
        seed: 7,
        timeout: Duration::from_secs(150),
        daemon_binary: Some(crate::helpers::ZFSYNC_BIN.into()),
        ..Options::for_mode(Mode::Soak)
    };
    let report = match soak::run(opts).await {
        Ok(r) => r,
        Err(e) => panic!("soak run failed: {e:#}"),
    };
    println!("{report}");
    assert_eq!(report.kills, 5);
    assert!(
        report.sent_zalo > 0 && report.sent_freshchat > 0,
        "{report}"
    );
    assert_eq!((report.lost, report.doubled), (0, 0), "{report}");
    assert_eq!(
        report.out_of_order, report.out_of_order_redelivered,
        "messages out of order that the platforms delivered in order: {report}"
    );
    assert_eq!(report.restart.n, 5);
}
