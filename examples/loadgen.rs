//! The load generator's command line (build with `--features loadgen`): starts both simulators
//! and the daemon (in this process, or as its own `zfsync run` process), drives them, prints the
//! figures, and fails when a message was lost, doubled or reordered. See BENCHMARKS.md and
//! RELIABILITY.md for the runs and their figures.
//!
//! ```text
//! cargo build --release --features loadgen --bin zfsync --example loadgen
//! target/release/examples/loadgen --mode steady --users 50 --messages 50 --rate 500
//! target/release/examples/loadgen --mode flood
//! target/release/examples/loadgen --mode ingest --pin          # daemon: target/release/zfsync
//! target/release/examples/loadgen --mode ingest --store postgres
//! target/release/examples/loadgen --mode soak --kills 100
//! target/release/examples/loadgen --mode soak --kills 50 --replicas 2 --store postgres
//! target/release/examples/loadgen --mode idle-pairings --pairings 1000
//! target/release/examples/loadgen --mode pairings --pairings 200 --rate 1 --duration 30 --store postgres
//! ```

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use zfsync::tools::loadgen::{self, Cores, Mode, Options};

#[derive(Debug, Parser)]
#[command(
    about = "Drive the zfsync daemon between both simulators and report its figures",
    after_help = "The daemon binary defaults to the zfsync next to this program's folder \
(target/release/zfsync beside target/release/examples/loadgen) for ingest, soak and --pin."
)]
struct Cli {
    /// What to run.
    #[arg(long, value_enum, default_value_t = Mode::Steady)]
    mode: Mode,
    /// Zalo users, one conversation each (mode default when absent).
    #[arg(long)]
    users: Option<usize>,
    /// Messages per user and direction (mode default when absent).
    #[arg(long)]
    messages: Option<usize>,
    /// Steady and soak: messages per second, both directions together.
    #[arg(long)]
    rate: Option<f64>,
    /// Steady: seconds of sending at most. Ingest: seconds of each load (default 8).
    #[arg(long)]
    duration: Option<f64>,
    /// Seconds to wait for everything to arrive after the last send before failing.
    #[arg(long)]
    timeout: Option<f64>,
    /// Every n-th Zalo message is posted twice (0: never).
    #[arg(long)]
    duplicate_every: Option<usize>,
    /// Every n-th message carries an image (0: never).
    #[arg(long)]
    attachment_every: Option<usize>,
    /// The Freshchat simulator delivers every webhook twice (true/false).
    #[arg(long)]
    freshchat_duplicates: Option<bool>,
    /// The daemon's sync.max_concurrent_lanes.
    #[arg(long)]
    lanes: Option<usize>,
    /// Also run the bare axum + SQLite ingest baseline (true/false).
    #[arg(long)]
    baseline: Option<bool>,
    /// Run the daemon as its own process from this `zfsync` binary (e.g. target/release/zfsync),
    /// so its memory and CPU are measured apart from the simulators and the generator.
    #[arg(long)]
    daemon_binary: Option<std::path::PathBuf>,
    /// The daemon (and the ingest baseline) on the last CPU, everything else on the others.
    #[arg(long)]
    pin: bool,
    /// Ingest: connections of the closed-loop load (default 16).
    #[arg(long)]
    connections: Option<usize>,
    /// Ingest: unique bodies signed before each load (default 250000).
    #[arg(long)]
    bodies: Option<usize>,
    /// Soak: SIGKILLs of the daemon (with replicas, of the first), each followed by a restart
    /// (default 100).
    #[arg(long)]
    kills: Option<usize>,
    /// Soak: daemon processes on one PostgreSQL database (needs --store postgres), webhooks
    /// round-robin across them; the others are killed in turn at every tenth kill of the first
    /// (default 1).
    #[arg(long)]
    replicas: Option<usize>,
    /// Soak: shortest and longest wait before a kill, in seconds (default 0.5 2.5).
    #[arg(long, num_args = 2, value_names = ["MIN", "MAX"])]
    kill_every: Option<Vec<f64>>,
    /// Soak: share of upstream calls that fail (default 0.2).
    #[arg(long)]
    fault_rate: Option<f64>,
    /// Soak: seed of the faults, kill moments and traffic (default 1).
    #[arg(long)]
    seed: Option<u64>,
    /// idle-pairings, pairings: pairings in the daemon (default 1000 idle, 200 busy).
    #[arg(long)]
    pairings: Option<usize>,
    /// pairings: how many of them are broken (Zalo authorization expired, Freshchat key refused)
    /// while their customers keep writing (default 0).
    #[arg(long)]
    broken: Option<usize>,
    /// idle-pairings, pairings, ingest, soak: the daemon's store, `sqlite` (default) or
    /// `postgres` (a throwaway cluster on loopback; needs Debian's postgresql package; ingest
    /// compares it with a naive PostgreSQL baseline on a cluster with fsync on; the soak's has
    /// fsync on and times the takeover of a killed daemon's lanes).
    #[arg(long, value_parser = ["sqlite", "postgres"])]
    store: Option<String>,
}

impl Cli {
    fn options(self) -> anyhow::Result<Options> {
        let mut o = Options::for_mode(self.mode);
        let secs = Duration::from_secs_f64;
        o.users = self.users.unwrap_or(o.users);
        o.messages = self.messages.unwrap_or(o.messages);
        o.rate = self.rate.unwrap_or(o.rate);
        o.duration = self.duration.map(secs).unwrap_or(o.duration);
        o.timeout = self.timeout.map(secs).unwrap_or(o.timeout);
        o.duplicate_every = self.duplicate_every.unwrap_or(o.duplicate_every);
        o.attachment_every = self.attachment_every.unwrap_or(o.attachment_every);
        o.freshchat_duplicates = self.freshchat_duplicates.unwrap_or(o.freshchat_duplicates);
        o.lanes = self.lanes.unwrap_or(o.lanes);
        o.baseline = self.baseline.unwrap_or(o.baseline);
        o.connections = self.connections.unwrap_or(o.connections);
        o.bodies = self.bodies.unwrap_or(o.bodies);
        o.kills = self.kills.unwrap_or(o.kills);
        o.replicas = self.replicas.unwrap_or(o.replicas);
        if let Some(k) = self.kill_every {
            anyhow::ensure!(
                k.len() == 2 && k[0] >= 0.0 && k[0] <= k[1],
                "--kill-every takes MIN MAX seconds with MIN <= MAX"
            );
            o.kill_every = (secs(k[0]), secs(k[1]));
        }
        o.fault_rate = self.fault_rate.unwrap_or(o.fault_rate);
        o.seed = self.seed.unwrap_or(o.seed);
        o.pairings = self.pairings.unwrap_or(o.pairings).max(1);
        o.broken = self.broken.unwrap_or(o.broken);
        if let Some(store) = &self.store {
            o.store = if store == "postgres" {
                zfsync::tools::sandbox::StoreBackend::Postgres
            } else {
                zfsync::tools::sandbox::StoreBackend::Sqlite
            };
        }
        let needs_process = self.pin
            || matches!(
                self.mode,
                Mode::Ingest | Mode::Soak | Mode::IdlePairings | Mode::Pairings
            );
        o.daemon_binary = match self.daemon_binary {
            Some(b) => Some(b),
            None if needs_process => Some(sibling_daemon()?),
            None => None,
        };
        if self.pin {
            o.pin = Some(Cores::split()?);
        }
        Ok(o)
    }
}

/// `zfsync` in the folder above this program's (target/<profile>/zfsync).
fn sibling_daemon() -> anyhow::Result<std::path::PathBuf> {
    let exe = std::env::current_exe()?;
    let bin = exe
        .parent()
        .and_then(|examples| examples.parent())
        .map(|profile| profile.join("zfsync"))
        .filter(|p| p.is_file());
    bin.ok_or_else(|| {
        anyhow::anyhow!(
            "this mode runs the daemon as its own process and no zfsync binary is next to {}: \
             build it (cargo build --release --features loadgen --bin zfsync --example loadgen) \
             or pass --daemon-binary",
            exe.display()
        )
    })
}

fn main() -> ExitCode {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("error")),
        )
        .with_writer(std::io::stderr)
        .try_init();
    let opts = match Cli::parse().options() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("error: {e:#}");
            return ExitCode::FAILURE;
        }
    };
    // Pinned: this thread first, so that every runtime thread started below inherits it.
    if let Some(cores) = &opts.pin {
        if let Err(e) = cores.pin_current_thread_to_harness() {
            eprintln!("error: {e:#}");
            return ExitCode::FAILURE;
        }
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let timeout = opts.timeout
        + opts.duration * 4
        + Duration::from_secs(600)
        + opts.kill_every.1 * opts.kills as u32;
    match runtime.block_on(async { tokio::time::timeout(timeout, loadgen::run(opts)).await }) {
        Ok(Ok(outcome)) => {
            println!("{outcome}");
            if outcome.passed() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Ok(Err(e)) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
        Err(_) => {
            eprintln!("error: the run did not finish within {timeout:?}");
            ExitCode::FAILURE
        }
    }
}
