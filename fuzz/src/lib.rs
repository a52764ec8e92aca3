//! Fuzzing on stable Rust: a small seeded mutation engine drives the daemon's untrusted inputs and
//! checks what comes back against the promises each input makes. A crate of its own beside the
//! daemon (`fuzz/`, the cargo-fuzz convention's place, but no nightly): the `zfsync-fuzz` binary
//! runs 10⁶ inputs per target in a release build, this crate's tests (`tests/fuzz.rs`) 10⁴. It
//! reaches the daemon only through `zfsync::testing` (the router over a real store) and
//! `zfsync::config`.
//!
//! Targets ([`Target`]):
//! - `zalo`, `freshchat`: `POST /webhooks/zalo` and `POST /webhooks/freshchat` on the real router
//!   over a real (temporary) SQLite store, with mutated real-world samples signed as each platform
//!   signs ([`webhooks`], [`cases`]);
//! - `config`: `Config::load` on mutated config files and secrets files ([`config_target`]);
//! - `mapping`: the mapping engine on every event the parsers accept ([`plans`]).
//!
//! Every input is a function of the run's seed, its target and its index, so a finding is rebuilt
//! alone with `--seed S --replay target:index`, whatever the concurrency of the run that found it.
//!
//! # Layout
//! - [`mutate`]: the engine (JSON structure, raw bytes); [`dict`]: its dictionaries.
//! - [`corpus`]: the real-world samples as seeds and donors.
//! - [`cases`], [`webhooks`]: webhook inputs, signatures, the router harness and its judge.
//! - [`config_target`], [`plans`]: the config loader and the mapping engine.
//! - [`report`]: counts, findings, the printed table.
//!
//! Failure: [`run`] fails only when the run cannot start (no corpus, no temporary folder, the
//! daemon's state cannot be built); whatever the inputs do is reported, never returned as an error.

pub mod cases;
pub mod config_target;
pub mod corpus;
pub mod dict;
pub mod mutate;
pub mod plans;
pub mod report;
pub mod webhooks;

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;

pub use report::{Finding, Report, TargetReport};

/// Why a run could not start.
#[derive(Debug, thiserror::Error)]
pub enum FuzzError {
    /// The samples folder cannot be read.
    #[error("cannot read the real-world samples at {path}: {cause} (pass --corpus DIR)")]
    Corpus {
        /// The folder or file.
        path: PathBuf,
        /// Why (in the message, not chained: printed once under `{:#}`).
        cause: std::io::Error,
    },
    /// The folder holds no webhook sample of one platform.
    #[error("{path} holds no zalo-webhook-* or freshchat-webhook-* sample (pass --corpus DIR)")]
    NoSeeds {
        /// The folder.
        path: PathBuf,
    },
    /// A temporary folder or file cannot be made.
    #[error("cannot write temporary files: {0} (pass --work-dir DIR)")]
    TempDir(std::io::Error),
    /// The RSA key pair cannot be made or read.
    #[error("cannot make the Freshchat signing key: {0}")]
    Key(String),
    /// The daemon's test config is refused.
    #[error("the daemon's config for the run is refused: {0}")]
    Config(zfsync::config::ConfigError),
    /// The daemon's state cannot be built.
    #[error("cannot build the daemon's state: {0}")]
    App(String),
    /// The store cannot be read.
    #[error(transparent)]
    Store(zfsync::testing::StoreError),
    /// A replay names no target.
    #[error("unknown target {0:?}: zalo, freshchat, config or mapping")]
    UnknownTarget(String),
}

/// What is fuzzed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Target {
    /// `POST /webhooks/zalo`.
    Zalo,
    /// `POST /webhooks/freshchat`.
    Freshchat,
    /// `Config::load` with a secrets file.
    Config,
    /// The mapping engine on parsed events.
    Mapping,
}

impl Target {
    /// Every target, in the order a run takes them.
    pub const ALL: [Target; 4] = [
        Target::Zalo,
        Target::Freshchat,
        Target::Config,
        Target::Mapping,
    ];

    /// A number mixed into each input's seed, so targets get unrelated inputs.
    pub fn id(self) -> u64 {
        match self {
            Target::Zalo => 1,
            Target::Freshchat => 2,
            Target::Config => 3,
            Target::Mapping => 4,
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Target::Zalo => "zalo",
            Target::Freshchat => "freshchat",
            Target::Config => "config",
            Target::Mapping => "mapping",
        })
    }
}

impl FromStr for Target {
    type Err = FuzzError;
    fn from_str(s: &str) -> Result<Target, FuzzError> {
        Target::ALL
            .into_iter()
            .find(|t| t.to_string() == s.trim())
            .ok_or_else(|| FuzzError::UnknownTarget(s.to_string()))
    }
}

/// How a run goes.
#[derive(Debug, Clone)]
pub struct Options {
    /// The seed every input follows from.
    pub seed: u64,
    /// Inputs per target.
    pub inputs: u64,
    /// The targets, in order.
    pub targets: Vec<Target>,
    /// Webhook requests in flight at once (the store batches their commits).
    pub concurrency: usize,
    /// Threads for the config and mapping targets.
    pub workers: usize,
    /// Webhook inputs per fresh store.
    pub chunk: u64,
    /// The real-world samples.
    pub corpus_dir: PathBuf,
    /// Where temporary stores and config files go (the system's temporary folder when `None`).
    pub work_dir: Option<PathBuf>,
    /// Run only this input index (of each target given).
    pub replay: Option<u64>,
    /// Print progress to stderr.
    pub progress: bool,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            seed: 1,
            inputs: 10_000,
            targets: Target::ALL.to_vec(),
            concurrency: 32,
            workers: 2,
            chunk: 20_000,
            corpus_dir: corpus::Corpus::default_dir(),
            work_dir: None,
            replay: None,
            progress: false,
        }
    }
}

impl Options {
    /// The input indices to run: `0..inputs`, or the one replayed.
    pub fn range(&self) -> (u64, u64) {
        match self.replay {
            Some(i) => (i, i + 1),
            None => (0, self.inputs),
        }
    }
}

/// Runs every target of `opts` and reports what each input did.
pub async fn run(opts: &Options) -> Result<Report, FuzzError> {
    let corpus = corpus::Corpus::load(&opts.corpus_dir)?;
    let signer = tokio::task::spawn_blocking(cases::FreshchatSigner::generate)
        .await
        .map_err(|e| FuzzError::Key(e.to_string()))??;
    let shared = Arc::new(cases::Shared {
        corpus,
        signer,
        rules: plans::rule_sets(),
    });
    let mut report = Report {
        seed: opts.seed,
        targets: Vec::new(),
    };
    for target in &opts.targets {
        let r = match target {
            Target::Zalo | Target::Freshchat => {
                webhooks::run(*target, opts, shared.clone()).await?
            }
            Target::Config => {
                let o = opts.clone();
                tokio::task::spawn_blocking(move || config_target::run(&o))
                    .await
                    .map_err(|e| FuzzError::App(e.to_string()))??
            }
            Target::Mapping => {
                let o = opts.clone();
                let s = shared.clone();
                tokio::task::spawn_blocking(move || plans::run(&o, &s))
                    .await
                    .map_err(|e| FuzzError::App(e.to_string()))?
            }
        };
        if opts.progress {
            eprintln!(
                "[{target}] done: {} inputs, {} findings",
                r.inputs,
                r.total_findings()
            );
        }
        report.targets.push(r);
    }
    Ok(report)
}

/// Input `index` of `target` as a run with `opts.seed` builds it: named parts (the body and its
/// headers, or the config and its secrets file), for `--replay` to show.
pub fn input(
    opts: &Options,
    target: Target,
    index: u64,
) -> Result<Vec<(String, Vec<u8>)>, FuzzError> {
    let corpus = corpus::Corpus::load(&opts.corpus_dir)?;
    Ok(match target {
        Target::Zalo | Target::Freshchat => {
            // The signature's bytes depend on the run's key pair; the body and the other headers
            // do not.
            let signer = cases::FreshchatSigner::generate()?;
            let shared = cases::Shared {
                corpus,
                signer,
                rules: Vec::new(),
            };
            let case = webhooks::case(target, &shared, opts.seed, index);
            let mut parts = vec![("body".to_string(), case.body.clone())];
            parts.extend(case.shown_headers());
            parts.push(("signature".into(), format!("{:?}", case.sig).into_bytes()));
            parts
        }
        Target::Config => {
            let case = config_target::case(opts.seed, index);
            let mut parts = vec![("zfsync.toml".to_string(), case.toml)];
            if let Some(s) = case.secrets {
                parts.push((format!("secrets.env (mode {:o})", case.secrets_mode), s));
            }
            parts
        }
        Target::Mapping => {
            let s = mutate::input_seed(opts.seed, Target::Mapping.id(), index);
            if index % 2 == 0 {
                let (body, server) = cases::zalo_body(&corpus, s);
                let mut parts = vec![("zalo body".to_string(), body)];
                parts.extend(server.map(|v| ("x-zevent-server".to_string(), v.into_bytes())));
                parts
            } else {
                vec![("freshchat body".into(), cases::freshchat_body(&corpus, s))]
            }
        }
    })
}
