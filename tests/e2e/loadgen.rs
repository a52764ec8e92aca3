//! The load generator, run briefly: a few users, a few messages each way with images and duplicates
//! (Zalo webhooks posted twice, every Freshchat webhook delivered twice). The run itself fails unless
//! every message arrived exactly once and in order; here we also check that figures came out.
//! Figures are printed, never asserted against time budgets (those live in BENCHMARKS.md).

use std::time::Duration;

use zfsync::tools::loadgen::{flow, Mode, Options};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_short_run_delivers_everything_once_in_order_and_reports_figures() {
    let opts = Options {
        users: 3,
        messages: 12,
        duplicate_every: 4,
        attachment_every: 6,
        freshchat_duplicates: true,
        baseline: true,
        timeout: Duration::from_secs(30),
        ..Options::for_mode(Mode::Flood)
    };
    let report = match flow::run(opts).await {
        Ok(r) => r,
        Err(e) => panic!("load generator run failed: {e:#}"),
    };
    println!("{report}");
    assert_eq!(report.sent_zalo, 3 * 12);
    assert_eq!(report.sent_freshchat, 3 * 12);
    assert_eq!(report.duplicates_posted, 3 * 3);
    assert_eq!(report.ingest.requests, 3 * 12 + 3 * 3);
    assert_eq!(report.e2e_zalo_to_freshchat.n, 36);
    assert_eq!(report.e2e_freshchat_to_zalo.n, 36);
    let ack = report.ingest.ack;
    assert!(ack.p50 > 0.0 && ack.p50 <= ack.p90 && ack.p90 <= ack.p99 && ack.p99 <= ack.max);
    assert!(report.ingest_ratio().is_some_and(|r| r > 0.0));
    assert!(report.messages_per_sec > 0.0);
    assert!(report.startup_ms > 0.0);
    assert!(report.store_bytes > 0);
    if cfg!(target_os = "linux") {
        assert!(report.rss_peak_kb >= report.rss_idle_kb && report.rss_idle_kb > 0);
    }
}

/// The same, with the daemon as its own `zfsync run` process: its memory is measured alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_short_run_against_the_daemon_process() {
    let opts = Options {
        users: 2,
        messages: 6,
        duplicate_every: 3,
        attachment_every: 0,
        baseline: false,
        timeout: Duration::from_secs(30),
        daemon_binary: Some(crate::helpers::ZFSYNC_BIN.into()),
        ..Options::for_mode(Mode::Flood)
    };
    let report = match flow::run(opts).await {
        Ok(r) => r,
        Err(e) => panic!("load generator run failed: {e:#}"),
    };
    println!("{report}");
    assert!(report.daemon_process);
    assert_eq!(report.e2e_zalo_to_freshchat.n, 12);
    assert_eq!(report.e2e_freshchat_to_zalo.n, 12);
    if cfg!(target_os = "linux") {
        assert!(report.rss_idle_kb > 0 && report.rss_peak_kb >= report.rss_idle_kb);
    }
}
