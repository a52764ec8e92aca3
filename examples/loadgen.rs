//! The load generator's command line: starts both simulators and the daemon in this process on
//! loopback, drives them, prints the figures, and fails when a message was lost, doubled or
//! reordered. See BENCHMARKS.md for the runs and their figures.
//!
//! ```text
//! cargo run --release --example loadgen -- --mode steady --users 50 --messages 50 --rate 500
//! cargo run --release --example loadgen -- --mode flood --users 100 --messages 20
//! cargo run --release --example loadgen -- --mode backlog --users 100 --messages 1000   # 100k
//! cargo run --release --example loadgen -- --mode slow --users 64 --messages 10
//! ```

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use zfsync::loadgen::{self, Mode, Options};

#[derive(Debug, Parser)]
#[command(about = "Drive the zfsync daemon between both simulators and report its figures")]
struct Cli {
    /// steady (fixed rate: latency), flood (throughput), backlog (outage then drain), slow (100 ms upstream).
    #[arg(long, default_value = "steady")]
    mode: Mode,
    /// Zalo users, one conversation each (mode default when absent).
    #[arg(long)]
    users: Option<usize>,
    /// Messages per user and direction (mode default when absent).
    #[arg(long)]
    messages: Option<usize>,
    /// Steady mode: messages per second, both directions together.
    #[arg(long)]
    rate: Option<f64>,
    /// Steady mode: seconds of sending at most.
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
}

impl Cli {
    fn options(self) -> Options {
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
        o.daemon_binary = self.daemon_binary;
        o
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("error")),
        )
        .with_writer(std::io::stderr)
        .try_init();
    let opts = Cli::parse().options();
    let timeout = opts.timeout + opts.duration + Duration::from_secs(600);
    match tokio::time::timeout(timeout, loadgen::run(opts)).await {
        Ok(Ok(report)) => {
            println!("{report}");
            ExitCode::SUCCESS
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
