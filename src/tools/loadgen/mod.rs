//! The load generator: drives the daemon between both simulators on loopback, measures it, and
//! checks that every message arrived exactly once and in order. A tool, not part of the daemon:
//! built only with the `loadgen` feature (`examples/loadgen.rs` is its command line).
//!
//! # Modes
//! - `steady`, `flood`, `backlog`, `slow` ([`flow`]): messages both ways through both simulators;
//!   latency, throughput, drain rate, memory; the bare-SQLite baseline alongside in steady/flood.
//! - `ingest` ([`ingest`]): the webhook path alone. A closed loop of 16 connections posts unique,
//!   signed `user_send_text` bodies to the daemon **process** while its Freshchat upstream is
//!   parked (accepts, never answers) and then failing fast (refuses connections), and to the
//!   baseline; acks/s, ack p50/p99 and CPU per acknowledged webhook from `/proc/<pid>/stat`.
//!   With `--store postgres`, the daemon and a naive PostgreSQL baseline (one insert per
//!   request, each committed) on a throwaway cluster with fsync on.
//! - `soak` ([`soak`]): two-way traffic with a share of upstream calls failing (the simulators'
//!   seeded fault mix) while the daemon process is SIGKILLed and restarted N times; then a history
//!   check: lost, doubled, out of order. With `--replicas 2 --store postgres`, two daemon
//!   processes on one database behind a round-robin balancer, both killed (the second at every
//!   tenth kill of the first), and each lane a killed one held timed until it is taken over
//!   ([`takeover`]).
//! - `idle-pairings`, `pairings` ([`density`]): many customers in one daemon process: memory and
//!   CPU of N idle pairings, and N pairings each with its own simulators and traffic both ways
//!   (latency, memory, CPU, and every message in its own pairing only).
//!
//! Every mode takes `--pin` ([`process::Cores`]): the daemon on one CPU, the rest on the others.
//!
//! # Layout
//! - [`drive`]: sending; [`signer`]: Zalo's webhook signature; [`shared`]: what the flow modes'
//!   senders, watcher and checker share; [`verify`]: the exactly-once and order checks;
//!   [`report`]: the figures and how they print; [`baseline`]: the bare axum + SQLite handler;
//!   [`process`]: the daemon as a child process, and pinning.
//!
//! Bounded in count and time; loopback only. A run fails with an error naming what was lost,
//! doubled or reordered, or what did not arrive before the deadline (soak reports its tally
//! instead, and the command line fails when it is not clean).

pub mod baseline;
pub mod density;
pub mod drive;
pub mod flow;
pub mod ingest;
pub mod process;
pub mod report;
pub mod shared;
pub mod signer;
pub mod soak;
pub mod takeover;
pub mod verify;

use std::fmt;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub use density::DensityReport;
pub use process::Cores;
pub use report::{
    memory_kb, memory_kb_of, Backlog, Ingest, IngestReport, IngestRow, Report, SoakReport,
    SpreadFigures, Stats,
};
pub use takeover::Takeover;

/// What the run measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Mode {
    /// A fixed total rate across users and both directions: latency.
    Steady,
    /// Every user sends as fast as the daemon acknowledges: throughput.
    Flood,
    /// Zalo events queue while Freshchat answers 503, then Freshchat heals: drain rate.
    Backlog,
    /// Both simulators answer after 100 ms: throughput must come from concurrent lanes.
    Slow,
    /// Webhook ingest alone, upstream parked then failing fast, against the bare baseline.
    Ingest,
    /// Two-way traffic, upstream faults, the daemon SIGKILLed and restarted again and again.
    Soak,
    /// `--pairings N` idle pairings in one daemon: its memory and CPU, and per pairing.
    IdlePairings,
    /// `--pairings N` pairings, each with its own simulators, `--rate` messages per second each
    /// way in each: latency, memory and CPU.
    Pairings,
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Mode::Steady => "steady",
            Mode::Flood => "flood",
            Mode::Backlog => "backlog",
            Mode::Slow => "slow",
            Mode::Ingest => "ingest",
            Mode::Soak => "soak",
            Mode::IdlePairings => "idle-pairings",
            Mode::Pairings => "pairings",
        })
    }
}

/// Settings of one run. [`Options::for_mode`] gives each mode's defaults.
#[derive(Debug, Clone)]
pub struct Options {
    /// What to run.
    pub mode: Mode,
    /// Zalo users, one conversation each.
    pub users: usize,
    /// Messages per user and direction (backlog: Zalo → Freshchat only).
    pub messages: usize,
    /// Steady: messages per second, both directions together. Soak: the same, for its traffic.
    pub rate: f64,
    /// Steady: stop sending after this long. Ingest: the length of each load.
    pub duration: Duration,
    /// Give up (and fail) when not everything arrived this long after the last send.
    pub timeout: Duration,
    /// Every n-th message of a user is posted twice (0 = never).
    pub duplicate_every: usize,
    /// Every n-th message carries an image (0 = never).
    pub attachment_every: usize,
    /// The Freshchat simulator delivers every webhook twice.
    pub freshchat_duplicates: bool,
    /// `sync.max_concurrent_lanes` of the daemon.
    pub lanes: usize,
    /// Also load the bare axum + SQLite handler, for the ingest ratio.
    pub baseline: bool,
    /// Simulator latency in slow mode.
    pub slow_latency: Duration,
    /// Run the daemon as its own process (`zfsync run`) from this binary. The flow modes run it in
    /// this process when None; ingest and soak need it.
    pub daemon_binary: Option<std::path::PathBuf>,
    /// Pin the daemon (and the baseline server) to one CPU. The caller pins its own threads to
    /// the other CPUs ([`Cores::pin_current_thread_to_harness`]) before starting its runtime.
    pub pin: Option<Cores>,
    /// Ingest: connections of the closed loop.
    pub connections: usize,
    /// Ingest: unique bodies signed before each load (a load stops early when they run out).
    pub bodies: usize,
    /// Soak: how many times the daemon (with replicas, the first one) is SIGKILLed and restarted.
    pub kills: usize,
    /// Soak: daemon processes on one PostgreSQL database, webhooks spread round-robin across
    /// them; the others are killed in turn, one at every tenth kill of the first.
    pub replicas: usize,
    /// Soak: the shortest and longest wait before a kill (drawn uniformly).
    pub kill_every: (Duration, Duration),
    /// Soak: share of upstream calls that fail, in both simulators.
    pub fault_rate: f64,
    /// Soak: seed of the faults, kill moments and traffic.
    pub seed: u64,
    /// The density modes: pairings in the daemon.
    pub pairings: usize,
    /// `pairings`: how many of them are broken (Zalo authorization expired, Freshchat key
    /// refused) while their customers keep writing, beside the healthy ones.
    pub broken: usize,
    /// The density, ingest and soak modes: the daemon's store (SQLite, or a database in a
    /// throwaway PostgreSQL cluster; the soak's and ingest's with fsync on). The flow modes
    /// measure the SQLite path.
    pub store: crate::tools::sandbox::StoreBackend,
}

impl Options {
    /// Defaults for a mode: small enough for a CI machine, except ingest and soak, whose defaults
    /// are the measurements BENCHMARKS.md and RELIABILITY.md report.
    pub fn for_mode(mode: Mode) -> Options {
        let base = Options {
            mode,
            users: 50,
            messages: 20,
            rate: 500.0,
            duration: Duration::from_secs(10),
            timeout: Duration::from_secs(60),
            duplicate_every: 10,
            attachment_every: 10,
            freshchat_duplicates: true,
            lanes: 32,
            baseline: false,
            slow_latency: Duration::from_millis(100),
            daemon_binary: None,
            pin: None,
            connections: 16,
            bodies: 250_000,
            kills: 100,
            replicas: 1,
            kill_every: (Duration::from_millis(500), Duration::from_millis(2500)),
            fault_rate: 0.2,
            seed: 1,
            pairings: 1,
            broken: 0,
            store: crate::tools::sandbox::StoreBackend::from_env(),
        };
        match mode {
            Mode::Steady => Options {
                users: 50,
                messages: 50,
                baseline: true,
                ..base
            },
            Mode::Flood => Options {
                users: 100,
                messages: 20,
                freshchat_duplicates: false,
                baseline: true,
                ..base
            },
            Mode::Backlog => Options {
                users: 100,
                messages: 50,
                attachment_every: 0,
                freshchat_duplicates: false,
                timeout: Duration::from_secs(600),
                ..base
            },
            Mode::Slow => Options {
                users: 64,
                messages: 10,
                lanes: 64,
                ..base
            },
            Mode::Ingest => Options {
                users: 200,
                duration: Duration::from_secs(8),
                baseline: true,
                ..base
            },
            Mode::Soak => Options {
                users: 10,
                rate: 20.0,
                timeout: Duration::from_secs(300),
                ..base
            },
            Mode::IdlePairings => Options {
                pairings: 1000,
                ..base
            },
            Mode::Pairings => Options {
                pairings: 200,
                rate: 1.0,
                duration: Duration::from_secs(30),
                timeout: Duration::from_secs(60),
                lanes: 8,
                ..base
            },
        }
    }
}

/// What a run produced, by mode.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// steady, flood, backlog, slow.
    Flow(Box<Report>),
    /// ingest.
    Ingest(IngestReport),
    /// soak.
    Soak(Box<SoakReport>),
    /// idle-pairings, pairings.
    Density(DensityReport),
}

impl Outcome {
    /// Whether the run proved what it checks (flow and ingest fail with an error instead). A soak
    /// passes when nothing was lost or doubled, nothing arrived out of order that the platforms
    /// had delivered in order (the report prints both counts), and on PostgreSQL every lane a
    /// killed process held was taken over within the bound ([`SoakReport::passed`]).
    pub fn passed(&self) -> bool {
        match self {
            Outcome::Soak(s) => s.passed(),
            Outcome::Density(d) => d.problems.is_empty(),
            Outcome::Flow(_) | Outcome::Ingest(_) => true,
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Flow(r) => r.fmt(f),
            Outcome::Ingest(r) => r.fmt(f),
            Outcome::Soak(r) => r.fmt(f),
            Outcome::Density(r) => r.fmt(f),
        }
    }
}

/// Runs the mode of `opts`.
pub async fn run(opts: Options) -> anyhow::Result<Outcome> {
    Ok(match opts.mode {
        Mode::Steady | Mode::Flood | Mode::Backlog | Mode::Slow => {
            Outcome::Flow(Box::new(flow::run(opts).await?))
        }
        Mode::Ingest => Outcome::Ingest(ingest::run(opts).await?),
        Mode::Soak => Outcome::Soak(Box::new(soak::run(opts).await?)),
        Mode::IdlePairings => Outcome::Density(density::run_idle(opts).await?),
        Mode::Pairings => Outcome::Density(density::run_busy(opts).await?),
    })
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

pub(crate) fn epoch_ms() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64() * 1000.0)
        .unwrap_or(0.0)
}

/// The Zalo user id of generated user `u`.
pub(crate) fn user_id(u: usize) -> String {
    format!("52349{u:014}")
}

/// Adds the load's Zalo users `0..users` to the simulator ("Khách n", following the OA). With
/// `wrote_recently`, each counts as having just written: their events are posted past the
/// simulator, which must still let the OA answer them (Zalo refuses customer-service sends
/// otherwise, -230).
pub(crate) fn add_users(env: &crate::tools::sandbox::Env, users: usize, wrote_recently: bool) {
    for u in 0..users {
        env.zalo.add_user(zfsync_zalo::sim::SimUser {
            user_id: user_id(u),
            display_name: format!("Khách {u}"),
            avatar: None,
            follower: true,
        });
        if wrote_recently {
            env.zalo
                .set_last_interaction(&user_id(u), epoch_ms() as i64);
        }
    }
}
