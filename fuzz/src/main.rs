//! The fuzzer's command line: mutated real-world webhooks through the daemon's router (both
//! routes, signed as each platform signs), mutated configs through `Config::load`, and every
//! accepted event through the mapping engine. Prints the counts per target and every finding with
//! the seed and index that rebuild it; exits 1 when anything panicked, answered 5xx or broke a
//! promise. See RELIABILITY.md, "Fuzzing".
//!
//! ```text
//! cargo run --release -p zfsync-fuzz -- --inputs 1000000
//! cargo run --release -p zfsync-fuzz -- --seed 7 --replay zalo:123456
//! ```

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use clap::Parser;
use zfsync_fuzz::{self as fuzz, Options, Target};

#[derive(Debug, Parser)]
#[command(about = "Fuzz zfsync's webhook routes, config loader and mapping engine (stable Rust)")]
struct Cli {
    /// The seed every input follows from.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Inputs per target.
    #[arg(long, default_value_t = 1_000_000)]
    inputs: u64,
    /// Targets, comma-separated: zalo, freshchat, config, mapping.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "zalo,freshchat,config,mapping"
    )]
    targets: Vec<String>,
    /// Rebuild and run one input: TARGET:INDEX (with the seed of the run that found it).
    #[arg(long, value_name = "TARGET:INDEX")]
    replay: Option<String>,
    /// Webhook requests in flight at once.
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// Threads for the config and mapping targets.
    #[arg(long, default_value_t = 2)]
    workers: usize,
    /// Webhook inputs per fresh store.
    #[arg(long, default_value_t = 20_000)]
    chunk: u64,
    /// The real-world samples (default: ../shared/realworld beside the workspace).
    #[arg(long)]
    corpus: Option<PathBuf>,
    /// Where temporary stores and configs go (e.g. /dev/shm; default: the system's temp folder).
    #[arg(long)]
    work_dir: Option<PathBuf>,
    /// Write each finding's whole input to this folder.
    #[arg(long)]
    findings_dir: Option<PathBuf>,
}

fn options(cli: Cli) -> Result<(Options, Option<PathBuf>), fuzz::FuzzError> {
    let mut targets = cli
        .targets
        .iter()
        .map(|t| t.parse::<Target>())
        .collect::<Result<Vec<_>, _>>()?;
    let mut replay = None;
    if let Some(r) = &cli.replay {
        let (t, i) = r
            .split_once(':')
            .ok_or_else(|| fuzz::FuzzError::UnknownTarget(r.clone()))?;
        targets = vec![t.parse()?];
        replay = Some(
            i.trim()
                .parse()
                .map_err(|_| fuzz::FuzzError::UnknownTarget(r.clone()))?,
        );
    }
    let mut o = Options {
        seed: cli.seed,
        inputs: cli.inputs,
        targets,
        concurrency: cli.concurrency,
        workers: cli.workers,
        chunk: cli.chunk,
        work_dir: cli.work_dir,
        replay,
        progress: true,
        ..Options::default()
    };
    if let Some(c) = cli.corpus {
        o.corpus_dir = c;
    }
    Ok((o, cli.findings_dir))
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let (opts, findings_dir) = match options(cli) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let set: Vec<&str> = zfsync::config::SECRET_NAMES
        .iter()
        .copied()
        .filter(|n| std::env::var_os(n).is_some())
        .collect();
    if !set.is_empty() {
        eprintln!(
            "note: {} set in the environment; the config target's results depend on it",
            set.join(", ")
        );
    }
    if let (Some(index), [target]) = (opts.replay, opts.targets.as_slice()) {
        match fuzz::input(&opts, *target, index) {
            Ok(parts) => {
                for (name, bytes) in parts {
                    println!(
                        "{name} ({} bytes): b\"{}\"",
                        bytes.len(),
                        bytes.escape_ascii()
                    );
                }
            }
            Err(e) => eprintln!("error: {e}"),
        }
    }
    let started = Instant::now();
    let report = match fuzz::run(&opts).await {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    println!(
        "zfsync fuzz: {} inputs per target, seed {}, {:.0} s in all",
        opts.range().1 - opts.range().0,
        opts.seed,
        started.elapsed().as_secs_f64()
    );
    println!("{report}");
    if let Some(dir) = findings_dir {
        match report.write_findings(&dir) {
            Ok(n) => println!("{n} findings written to {}", dir.display()),
            Err(e) => eprintln!("error: cannot write findings to {}: {e}", dir.display()),
        }
    }
    if report.clean() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
