//! The daemon as its own process (`zfsync run --config ...`), started, SIGKILLed and restarted on
//! the same store; and the CPU placement of `--pin`: the daemon (or the baseline, which stands in
//! for it) on one core, the generator, simulators and load on the others.
//!
//! Pinning the daemon goes through `taskset -c <cpu>` (util-linux), which sets the affinity before
//! `exec`, so every thread the daemon ever starts inherits it; setting it on a running pid would
//! miss the threads already started. Fails with an error naming the binary or the missing tool;
//! a daemon that does not answer `/healthz` in time is an error that points at its log.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;

use crate::tools::sandbox::wait_http_ok;

/// Where each side runs when pinned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cores {
    /// The CPU of the daemon (and of the baseline server, which plays its part).
    pub daemon: usize,
    /// The CPUs of everything else: generator, simulators, load, listeners.
    pub harness: Vec<usize>,
}

impl Cores {
    /// The daemon on the last CPU this process may use, everything else on the others. Fails on a
    /// machine (or under an affinity mask) with fewer than two CPUs.
    pub fn split() -> anyhow::Result<Cores> {
        let mine = rustix::thread::sched_getaffinity(None)
            .context("cannot read this process's CPU affinity")?;
        let cpus: Vec<usize> = (0..rustix::thread::CpuSet::MAX_CPU)
            .filter(|&c| mine.is_set(c))
            .collect();
        match cpus.split_last() {
            Some((&daemon, rest)) if !rest.is_empty() => Ok(Cores {
                daemon,
                harness: rest.to_vec(),
            }),
            _ => anyhow::bail!("--pin needs at least two CPUs; this process may use {cpus:?}"),
        }
    }

    /// Pins the calling thread to the harness CPUs; threads it starts afterwards inherit that.
    /// Call it before building the async runtime so that every worker inherits it.
    pub fn pin_current_thread_to_harness(&self) -> anyhow::Result<()> {
        pin_current_thread(&self.harness)
    }

    /// How the processes are placed, for the report.
    pub fn describe(&self) -> String {
        format!(
            "daemon (and baseline server) on CPU {}, generator, simulators and load on CPU {:?}",
            self.daemon, self.harness
        )
    }
}

/// Pins the calling thread to these CPUs.
pub fn pin_current_thread(cpus: &[usize]) -> anyhow::Result<()> {
    let mut set = rustix::thread::CpuSet::new();
    for &c in cpus {
        set.set(c);
    }
    rustix::thread::sched_setaffinity(None, &set)
        .with_context(|| format!("cannot pin a thread to CPUs {cpus:?}"))
}

/// A running `zfsync run` child. Killed (SIGKILL) when dropped.
#[derive(Debug)]
pub struct DaemonProcess {
    binary: PathBuf,
    config: PathBuf,
    health_url: String,
    log: PathBuf,
    pin: Option<usize>,
    child: Option<tokio::process::Child>,
    /// Spawn → `/healthz` answering, of the last start.
    pub last_start: Duration,
}

impl DaemonProcess {
    /// Starts the daemon from `binary` with `config` and waits until `health_url` answers.
    /// Its stderr is appended to `log`. With `pin`, it runs on that CPU only.
    pub async fn start(
        binary: &Path,
        config: &Path,
        health_url: String,
        log: PathBuf,
        pin: Option<usize>,
    ) -> anyhow::Result<DaemonProcess> {
        let mut d = DaemonProcess {
            binary: binary.to_path_buf(),
            config: config.to_path_buf(),
            health_url,
            log,
            pin,
            child: None,
            last_start: Duration::ZERO,
        };
        d.spawn().await?;
        Ok(d)
    }

    async fn spawn(&mut self) -> anyhow::Result<()> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .with_context(|| format!("cannot open the daemon log {}", self.log.display()))?;
        let mut cmd = match self.pin {
            Some(cpu) => {
                let mut c = tokio::process::Command::new("taskset");
                c.arg("-c").arg(cpu.to_string()).arg(&self.binary);
                c
            }
            None => tokio::process::Command::new(&self.binary),
        };
        let t = Instant::now();
        let child = cmd
            .args(["run", "--config"])
            .arg(&self.config)
            .env("RUST_LOG", "warn")
            .stdout(std::process::Stdio::null())
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .with_context(|| match self.pin {
                Some(_) => format!(
                    "cannot start `taskset -c ... {}` (taskset comes with util-linux)",
                    self.binary.display()
                ),
                None => format!("cannot start {}", self.binary.display()),
            })?;
        self.child = Some(child);
        wait_http_ok(&self.health_url, Duration::from_secs(30))
            .await
            .with_context(|| format!("the daemon did not come up; see {}", self.log.display()))?;
        self.last_start = t.elapsed();
        Ok(())
    }

    /// The process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().and_then(tokio::process::Child::id)
    }

    /// SIGKILL (no shutdown path runs), then reap it.
    pub async fn kill(&mut self) -> anyhow::Result<()> {
        if let Some(mut c) = self.child.take() {
            c.start_kill().context("cannot SIGKILL the daemon")?;
            c.wait().await.context("cannot reap the killed daemon")?;
        }
        Ok(())
    }

    /// Starts it again on the same config and store.
    pub async fn restart(&mut self) -> anyhow::Result<()> {
        self.kill().await?;
        self.spawn().await
    }
}
