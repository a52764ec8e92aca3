//! The load generator's ingest mode, run briefly: the daemon as its own process with its
//! Freshchat upstream parked, then refusing connections, and the bare baseline, each under a
//! closed loop of 16 connections. The mode itself fails unless every acknowledged webhook is in
//! the server's store exactly once (the daemon is SIGKILLed right after its load, so what it
//! acknowledged must already have been durable). Figures are printed, never held to a budget.

use std::time::Duration;

use zfsync::tools::loadgen::{ingest, Cores, Mode, Options};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ingest_stores_every_acknowledged_webhook_once_in_both_upstream_conditions() {
    // Pinning needs two CPUs; on a smaller machine the same run goes unpinned.
    let pin = Cores::split().ok();
    if pin.is_none() {
        println!("fewer than two CPUs: running unpinned");
    }
    let opts = Options {
        users: 20,
        duration: Duration::from_millis(1500),
        bodies: 30_000,
        daemon_binary: Some(crate::helpers::ZFSYNC_BIN.into()),
        pin: pin.clone(),
        ..Options::for_mode(Mode::Ingest)
    };
    let postgres = opts.store == zfsync::tools::sandbox::StoreBackend::Postgres;
    let report = match ingest::run(opts).await {
        Ok(r) => r,
        Err(e) => panic!("ingest run failed: {e:#}"),
    };
    println!("{report}");
    let names: Vec<&str> = report.rows.iter().map(|r| r.name.as_str()).collect();
    // The store ZFSYNC_TEST_STORE names: the SQLite path, or PostgreSQL and its naive twin.
    let want = if postgres {
        [
            "daemon, Freshchat parked (PostgreSQL)",
            "daemon, Freshchat failing fast (PostgreSQL)",
            "baseline (axum + 1 PostgreSQL insert, committed)",
        ]
    } else {
        [
            "daemon, Freshchat parked",
            "daemon, Freshchat failing fast",
            "baseline (axum + 1 SQLite insert)",
        ]
    };
    assert_eq!(names, want);
    for r in &report.rows {
        assert!(r.ingest.requests > 0, "{}: nothing acknowledged", r.name);
        assert_eq!(r.stored, r.ingest.requests, "{}", r.name);
        assert_eq!(r.failed, 0, "{}: requests failed", r.name);
        assert_eq!(r.ingest.ack.n, r.ingest.requests, "{}", r.name);
        assert!(r.server_cpu_secs > 0.0, "{}: no CPU time read", r.name);
        if let Some(cores) = &pin {
            let want = cores.daemon.to_string();
            assert!(
                r.cpus.as_deref().is_some_and(|c| c.starts_with(&want)),
                "{} should run on CPU {want} only, runs on {:?}",
                r.name,
                r.cpus
            );
        }
    }
    assert_eq!(report.connections, 16);
}
