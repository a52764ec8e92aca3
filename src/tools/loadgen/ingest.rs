//! The ingest mode: the webhook path (verify, dedupe, durable store, 200) under a closed-loop
//! load from outside the daemon's process, in two conditions of the Freshchat upstream, against
//! the bare baseline in the same run.
//!
//! For each condition a fresh daemon (`zfsync run`, its own store) gets its `freshchat.api_base`
//! pointed at a listener this mode controls instead of the simulator:
//! - *parked*: the listener accepts connections and never answers, so every lane stays parked
//!   on its first Freshchat call for the whole load;
//! - *failing fast*: the port is closed, so every Freshchat call is refused at once and the lanes
//!   fail and back off, as in an outage answering 503.
//!
//! Zalo stays the simulator (OAuth, profiles). The bodies are unique `user_send_text` events from
//! `users` users, signed before the load starts. CPU per acknowledged webhook is the daemon
//! process's utime + stime delta (`/proc/<pid>/stat`) over the load divided by the 200 answers;
//! the baseline's comes from its own threads. Right after the load the daemon is SIGKILLed and its
//! store read: every acknowledged body must be there exactly once (store, then acknowledge), or
//! the run fails naming how many are missing.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;

use super::baseline::{self, BaselineServer};
use super::drive::{closed_loop, LoadResult, Signed};
use super::process::DaemonProcess;
use super::report::{cpu_secs_of, cpus_allowed, Ingest, IngestReport, IngestRow, Stats};
use super::signer::ZaloSigner;
use super::{add_users, user_id, Options};
use crate::tools::sandbox::StoreBackend;
use crate::tools::sandbox::{Env, EnvOptions};

/// The Freshchat upstream while loading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Upstream {
    /// Accepts connections, never answers.
    Parked,
    /// Refuses connections.
    FailingFast,
}

impl Upstream {
    fn name(self) -> &'static str {
        match self {
            Upstream::Parked => "daemon, Freshchat parked",
            Upstream::FailingFast => "daemon, Freshchat failing fast",
        }
    }
}

/// A listener standing in for Freshchat; dropping it stops the parked one.
struct FakeUpstream {
    url: String,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl FakeUpstream {
    async fn start(kind: Upstream) -> anyhow::Result<FakeUpstream> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}", listener.local_addr()?);
        let task = match kind {
            Upstream::Parked => Some(tokio::spawn(async move {
                // Hold every connection open, read nothing, answer nothing.
                let mut held = Vec::new();
                while let Ok((socket, _)) = listener.accept().await {
                    held.push(socket);
                }
            })),
            // Closing the listener leaves a port that refuses connections.
            Upstream::FailingFast => None,
        };
        Ok(FakeUpstream { url, task })
    }
}

impl Drop for FakeUpstream {
    fn drop(&mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
        }
    }
}

/// Runs both conditions and the baseline.
pub async fn run(opts: Options) -> anyhow::Result<IngestReport> {
    let bin = opts.daemon_binary.clone().context(
        "the ingest mode runs the daemon as its own process: pass --daemon-binary target/release/zfsync",
    )?;
    anyhow::ensure!(
        opts.users > 0 && opts.connections > 0 && opts.bodies > 0,
        "--users, --connections and --bodies must be at least 1"
    );
    let mut report = IngestReport {
        connections: opts.connections,
        users: opts.users,
        bodies: opts.bodies,
        pinning: opts.pin.as_ref().map(super::Cores::describe),
        rows: Vec::new(),
    };
    // The sandbox's Zalo simulator keeps its default app and OA secret, so one set of signed
    // bodies serves every load (each server starts with an empty store).
    let zcfg = zfsync_zalo::sim::SimConfig::default();
    let signer = ZaloSigner {
        app_id: zcfg.app_id.clone(),
        oa_id: zcfg.oa_id.clone(),
        key: zcfg.oa_secret_key.clone().into(),
        image_url: String::new(),
    };
    let bodies = Arc::new(sign(&signer, opts.users, opts.bodies));
    for kind in [Upstream::Parked, Upstream::FailingFast] {
        report
            .rows
            .push(daemon_row(&opts, &bin, kind, bodies.clone()).await?);
    }
    if opts.baseline {
        report.rows.push(baseline_row(&opts, bodies).await?);
    }
    Ok(report)
}

/// Unique `user_send_text` bodies, round-robin over the users, signed now.
fn sign(signer: &ZaloSigner, users: usize, n: usize) -> Vec<Signed> {
    (0..n)
        .map(|i| {
            let u = i % users;
            let (body, signature) = signer.event(
                &user_id(u),
                &format!("lgi{i}"),
                &format!("lg {u} i{i}"),
                false,
            );
            Signed { body, signature }
        })
        .collect()
}

/// Points the daemon's Freshchat at `url` in the generated config.
fn set_freshchat_base(config: &Path, url: &str) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(config)?;
    let mut doc: toml::Table = toml::from_str(&text).context("the generated config")?;
    let fc = doc
        .get_mut("freshchat")
        .and_then(toml::Value::as_table_mut)
        .context("the generated config has no [freshchat]")?;
    fc.insert("api_base".into(), toml::Value::String(url.into()));
    std::fs::write(config, toml::to_string(&doc)?)?;
    Ok(())
}

async fn daemon_row(
    opts: &Options,
    bin: &Path,
    kind: Upstream,
    bodies: Arc<Vec<Signed>>,
) -> anyhow::Result<IngestRow> {
    // The daemon's own defaults for [sync]: this is the path a customer runs. On PostgreSQL, a
    // database of a cluster with fsync on, as the baseline's.
    let postgres_url = match opts.store {
        StoreBackend::Postgres => {
            Some(crate::tools::pg_cluster::fresh_durable_database().map_err(anyhow::Error::msg)?)
        }
        StoreBackend::Sqlite => None,
    };
    let env = Env::new(
        EnvOptions {
            sync_toml: String::new(),
            store: opts.store,
            postgres_url: postgres_url.clone(),
            ..EnvOptions::default()
        }
        // The daemon runs as its own process: media on loopback.
        .loopback_media(),
    )
    .await?;
    let upstream = FakeUpstream::start(kind).await?;
    set_freshchat_base(env.config_path(), &upstream.url)?;
    let mut daemon = DaemonProcess::start(
        bin,
        env.config_path(),
        format!("{}/healthz", env.daemon_url()),
        env.dir.path().join("daemon.log"),
        opts.pin.as_ref().map(|c| c.daemon),
    )
    .await?;
    env.connect_zalo().await?;
    add_users(&env, opts.users, true);
    let pid = daemon
        .pid()
        .context("the daemon exited right after start-up")?;
    let cpus = opts.pin.as_ref().and_then(|_| cpus_allowed(pid));
    let (d0, h0) = (cpu_secs_of(Some(pid)), cpu_secs_of(None));
    let load = closed_loop(
        env.daemon_addr,
        crate::routes::ROUTE_ZALO_WEBHOOK,
        bodies.clone(),
        opts.connections,
        opts.duration,
    )
    .await?;
    let (d1, h1) = (cpu_secs_of(Some(pid)), cpu_secs_of(None));
    // No graceful shutdown: what was acknowledged must already be durable.
    daemon.kill().await?;
    let stored = match &postgres_url {
        Some(url) => {
            baseline::postgres_ids(url, "SELECT dedupe_key FROM inbox WHERE source = 'zalo'")?
        }
        None => stored_ids(&env.dir.path().join("zfsync.db"))?,
    };
    let name = match opts.store {
        StoreBackend::Sqlite => kind.name().to_string(),
        StoreBackend::Postgres => format!("{} (PostgreSQL)", kind.name()),
    };
    let row = row(&name, &load, delta(d0, d1), delta(h0, h1), cpus);
    check_stored(&name, &load, &stored).map(|n| IngestRow { stored: n, ..row })
}

async fn baseline_row(opts: &Options, bodies: Arc<Vec<Signed>>) -> anyhow::Result<IngestRow> {
    let pin = opts.pin.as_ref().map(|c| c.daemon);
    let (server, name) = match opts.store {
        StoreBackend::Sqlite => (
            BaselineServer::start(pin)?,
            "baseline (axum + 1 SQLite insert)",
        ),
        StoreBackend::Postgres => (
            BaselineServer::start_postgres(
                pin,
                &crate::tools::pg_cluster::fresh_durable_database().map_err(anyhow::Error::msg)?,
            )?,
            "baseline (axum + 1 PostgreSQL insert, committed)",
        ),
    };
    // Let the runtime start its threads before the first CPU reading.
    tokio::time::sleep(Duration::from_millis(50)).await;
    let (b0, h0) = (server.cpu_secs(), cpu_secs_of(None));
    let load = closed_loop(
        server.addr(),
        baseline::ROUTE,
        bodies,
        opts.connections,
        opts.duration,
    )
    .await?;
    let (b1, h1) = (server.cpu_secs(), cpu_secs_of(None));
    let cpus = opts
        .pin
        .as_ref()
        .map(|c| format!("{} (its threads)", c.daemon));
    // The baseline's threads live in this process: the load's own share is the rest.
    let row = row(
        name,
        &load,
        b1 - b0,
        (delta(h0, h1) - (b1 - b0)).max(0.0),
        cpus,
    );
    let stored = server.stored_ids()?;
    check_stored(name, &load, &stored).map(|n| IngestRow { stored: n, ..row })
}

fn delta(a: Option<f64>, b: Option<f64>) -> f64 {
    match (a, b) {
        (Some(a), Some(b)) => (b - a).max(0.0),
        _ => 0.0,
    }
}

fn row(
    name: &str,
    load: &LoadResult,
    server_cpu: f64,
    harness_cpu: f64,
    cpus: Option<String>,
) -> IngestRow {
    let secs = load.elapsed.as_secs_f64().max(1e-9);
    IngestRow {
        name: name.into(),
        ingest: Ingest {
            requests: load.acked.len(),
            per_sec: load.acked.len() as f64 / secs,
            ack: Stats::of(load.acked.iter().map(|&(_, ms)| ms).collect()),
        },
        failed: load.failed,
        server_cpu_secs: server_cpu,
        harness_cpu_secs: harness_cpu,
        load_secs: secs,
        stored: 0,
        cpus,
        exhausted: load.exhausted,
    }
}

/// The `lgi<n>` dedupe keys of a daemon store (read after the daemon is gone).
fn stored_ids(db: &Path) -> anyhow::Result<Vec<String>> {
    let conn = rusqlite::Connection::open(db)
        .with_context(|| format!("cannot open the daemon's store {}", db.display()))?;
    let mut stmt = conn.prepare("SELECT dedupe_key FROM inbox WHERE source = 'zalo'")?;
    let ids = stmt
        .query_map([], |r| r.get::<_, String>(0))?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(ids)
}

/// Every acknowledged body stored exactly once; returns how many were.
fn check_stored(name: &str, load: &LoadResult, stored: &[String]) -> anyhow::Result<usize> {
    let mut count: HashMap<&str, usize> = HashMap::new();
    for id in stored {
        *count.entry(id.as_str()).or_default() += 1;
    }
    let ids: Vec<String> = load.acked.iter().map(|&(i, _)| format!("lgi{i}")).collect();
    let missing = ids
        .iter()
        .filter(|id| !count.contains_key(id.as_str()))
        .count();
    let doubled = count.values().filter(|&&c| c > 1).count();
    anyhow::ensure!(
        missing == 0 && doubled == 0,
        "{name}: of {} acknowledged webhooks {missing} are missing from the store and {doubled} are stored twice",
        ids.len()
    );
    Ok(ids.len())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_acknowledged_body_fails_the_check() {
        let load = LoadResult {
            acked: vec![(0, 1.0), (1, 1.0), (2, 1.0)],
            ..LoadResult::default()
        };
        let all = ["lgi0", "lgi1", "lgi2", "lgi3"].map(String::from);
        assert_eq!(check_stored("x", &load, &all).unwrap(), 3);
        let err = check_stored("x", &load, &all[1..]).unwrap_err().to_string();
        assert!(err.contains("1 are missing"), "{err}");
    }

    #[test]
    fn the_freshchat_base_is_rewritten_and_the_rest_kept() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.toml");
        std::fs::write(
            &p,
            "[freshchat]\napi_base = \"http://a\"\napi_key = \"k\"\n[sync]\n",
        )
        .unwrap();
        set_freshchat_base(&p, "http://127.0.0.1:9").unwrap();
        let t: toml::Table = toml::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
        assert_eq!(
            t["freshchat"]["api_base"].as_str(),
            Some("http://127.0.0.1:9")
        );
        assert_eq!(t["freshchat"]["api_key"].as_str(), Some("k"));
        assert!(t.contains_key("sync"));
    }
}
