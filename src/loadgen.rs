//! The load generator: the daemon between both simulators on loopback, driven with signed webhooks,
//! measured, and checked for exactly-once, in-order delivery.
//!
//! Zalo → daemon: the generator signs Zalo-shaped events itself (`zfsync_zalo::signature`) and POSTs
//! them to `/webhooks/zalo`, so the acknowledgement latency is timed at the sender; a share of them
//! is posted twice. Freshchat → daemon: an agent replies through the Freshchat simulator, which
//! signs and delivers the webhook (optionally every webhook twice). Every message carries a marker
//! (`lg <user> z<i>` / `lg <user> f<i>`); at the end the generator reads both simulators and fails
//! unless every conversation holds each marker exactly once and in order.
//!
//! Modes: `steady` (open loop at a fixed rate: latency), `flood` (every user as fast as the daemon
//! acknowledges: throughput, with the bare-SQLite ingest baseline), `backlog` (Freshchat answers 503
//! while events queue, then heals: drain rate), `slow` (both simulators answer after 100 ms:
//! throughput from concurrency across lanes).
//!
//! Everything runs in this process, so memory figures (`VmRSS`/`VmHWM` from `/proc/self/status`)
//! cover the daemon, both simulators and the generator together: an upper bound for the daemon.
//! Bounded in count and time; loopback only. Fails with an error naming what was lost, doubled or
//! reordered, or what did not arrive before the deadline.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context};
use bytes::Bytes;
use secrecy::SecretString;
use serde_json::json;
use zfsync_freshchat::{ActorType, MessagePart, WebhookMode};
use zfsync_zalo::SimUser;

use crate::sandbox::{wait_for, Env, EnvOptions, TINY_PNG};

/// What the run measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// A fixed total rate across users and both directions: latency.
    Steady,
    /// Every user sends as fast as the daemon acknowledges: throughput.
    Flood,
    /// Zalo events queue while Freshchat answers 503, then Freshchat heals: drain rate.
    Backlog,
    /// Both simulators answer after 100 ms: throughput must come from concurrent lanes.
    Slow,
}

impl std::str::FromStr for Mode {
    type Err = String;
    fn from_str(s: &str) -> Result<Mode, String> {
        match s {
            "steady" => Ok(Mode::Steady),
            "flood" => Ok(Mode::Flood),
            "backlog" => Ok(Mode::Backlog),
            "slow" => Ok(Mode::Slow),
            other => Err(format!(
                "unknown mode {other:?}: use steady, flood, backlog or slow"
            )),
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Mode::Steady => "steady",
            Mode::Flood => "flood",
            Mode::Backlog => "backlog",
            Mode::Slow => "slow",
        })
    }
}

/// Settings of one run.
#[derive(Debug, Clone)]
pub struct Options {
    pub mode: Mode,
    /// Zalo users, one conversation each.
    pub users: usize,
    /// Messages per user and direction (backlog: Zalo → Freshchat only).
    pub messages: usize,
    /// Steady mode: messages per second, both directions together.
    pub rate: f64,
    /// Steady mode: stop sending after this long (fewer messages than `messages` may be sent).
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
    /// Also load a bare axum + SQLite handler the same way, for the ingest ratio.
    pub baseline: bool,
    /// Simulator latency in slow mode.
    pub slow_latency: Duration,
    /// Run the daemon as its own process (`zfsync run`) from this binary, so that its memory and
    /// CPU are not mixed with the simulators' and the generator's. In-process when None.
    pub daemon_binary: Option<std::path::PathBuf>,
}

impl Options {
    /// Defaults for a mode: small enough for a CI machine.
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
        }
    }
}

/// Percentiles of a sample, in milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Stats {
    pub n: usize,
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub max: f64,
}

impl Stats {
    pub fn of(mut v: Vec<f64>) -> Stats {
        if v.is_empty() {
            return Stats::default();
        }
        v.sort_by(f64::total_cmp);
        let at = |q: f64| v[((q * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1];
        Stats {
            n: v.len(),
            p50: at(0.50),
            p90: at(0.90),
            p99: at(0.99),
            max: v[v.len() - 1],
        }
    }
}

impl fmt::Display for Stats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms (n={})",
            self.p50, self.p90, self.p99, self.max, self.n
        )
    }
}

/// An ingest load's figures: acknowledgements per second and their latency.
#[derive(Debug, Clone, Copy, Default)]
pub struct Ingest {
    pub requests: usize,
    pub per_sec: f64,
    pub ack: Stats,
}

/// Backlog figures.
#[derive(Debug, Clone, Copy, Default)]
pub struct Backlog {
    /// Events acknowledged during the outage.
    pub queued: usize,
    /// `zfsync_queue_depth` when Freshchat healed.
    pub queue_depth_at_heal: Option<f64>,
    pub ingest_secs: f64,
    /// From heal to the last message visible in Freshchat.
    pub drain_secs: f64,
    pub drain_per_sec: f64,
    /// Resident memory with the backlog queued (whole process).
    pub rss_queued_kb: u64,
}

/// What a run measured. Produced only when every message arrived exactly once and in order.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub mode: String,
    /// The daemon ran as its own process: memory figures are the daemon's alone.
    pub daemon_process: bool,
    pub users: usize,
    pub messages_per_user: usize,
    /// Messages sent in the measured phase, per direction.
    pub sent_zalo: usize,
    pub sent_freshchat: usize,
    /// Zalo webhooks posted a second time (all answered without a second message).
    pub duplicates_posted: usize,
    pub startup_ms: f64,
    pub rss_idle_kb: u64,
    pub rss_peak_kb: u64,
    pub store_bytes: u64,
    /// Zalo webhook acknowledgements by the daemon (measured phase, duplicates included).
    pub ingest: Ingest,
    pub baseline: Option<Ingest>,
    pub e2e_zalo_to_freshchat: Stats,
    pub e2e_freshchat_to_zalo: Stats,
    /// Messages delivered per second, from the first send to the last arrival.
    pub messages_per_sec: f64,
    pub wall_secs: f64,
    pub backlog: Option<Backlog>,
}

impl Report {
    /// Daemon ingest ÷ baseline ingest (acknowledgements per second).
    pub fn ingest_ratio(&self) -> Option<f64> {
        self.baseline
            .filter(|b| b.per_sec > 0.0)
            .map(|b| self.ingest.per_sec / b.per_sec)
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "mode {}: {} users × {} messages; sent {} Zalo → Freshchat, {} Freshchat → Zalo, {} Zalo duplicates",
            self.mode, self.users, self.messages_per_user, self.sent_zalo, self.sent_freshchat, self.duplicates_posted
        )?;
        writeln!(
            f,
            "verified: every message exactly once, in order per conversation"
        )?;
        writeln!(f, "start-up            {:.1} ms", self.startup_ms)?;
        writeln!(
            f,
            "webhook ack (zalo)  {} · {:.0} acks/s",
            self.ingest.ack, self.ingest.per_sec
        )?;
        if let Some(b) = &self.baseline {
            writeln!(f, "baseline ack        {} · {:.0} acks/s", b.ack, b.per_sec)?;
        }
        if let Some(r) = self.ingest_ratio() {
            writeln!(f, "ingest ratio        {r:.2} × baseline")?;
        }
        writeln!(f, "e2e zalo→freshchat  {}", self.e2e_zalo_to_freshchat)?;
        writeln!(f, "e2e freshchat→zalo  {}", self.e2e_freshchat_to_zalo)?;
        writeln!(
            f,
            "throughput          {:.0} messages/s ({:.2} s wall)",
            self.messages_per_sec, self.wall_secs
        )?;
        if let Some(b) = &self.backlog {
            writeln!(
                f,
                "backlog             {} queued in {:.2} s (queue depth at heal {}); drained in {:.2} s = {:.0} events/s; RSS queued {:.1} MB",
                b.queued,
                b.ingest_secs,
                b.queue_depth_at_heal.map(|d| format!("{d:.0}")).unwrap_or_else(|| "?".into()),
                b.drain_secs,
                b.drain_per_sec,
                b.rss_queued_kb as f64 / 1024.0
            )?;
        }
        writeln!(
            f,
            "memory ({})  idle {:.1} MB, peak {:.1} MB",
            if self.daemon_process {
                "daemon process"
            } else {
                "whole process: daemon + simulators + generator"
            },
            self.rss_idle_kb as f64 / 1024.0,
            self.rss_peak_kb as f64 / 1024.0
        )?;
        write!(
            f,
            "store               {:.2} MB (database + WAL)",
            self.store_bytes as f64 / 1_048_576.0
        )
    }
}

/// `VmRSS` and `VmHWM` in kB of this process, or of `pid` (0 where /proc is not available).
pub fn memory_kb_of(pid: Option<u32>) -> (u64, u64) {
    let path = match pid {
        Some(p) => format!("/proc/{p}/status"),
        None => "/proc/self/status".to_string(),
    };
    let Ok(s) = std::fs::read_to_string(path) else {
        return (0, 0);
    };
    status_fields(&s)
}

/// `VmRSS` and `VmHWM` of this process in kB (0 where /proc is not available).
pub fn memory_kb() -> (u64, u64) {
    memory_kb_of(None)
}

fn status_fields(s: &str) -> (u64, u64) {
    let field = |name: &str| {
        s.lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

fn epoch_ms() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64() * 1000.0)
        .unwrap_or(0.0)
}

fn user_id(u: usize) -> String {
    format!("52349{u:014}")
}

/// Signs Zalo-shaped events the way the platform does.
#[derive(Clone)]
struct ZaloSigner {
    app_id: String,
    oa_id: String,
    key: SecretString,
    image_url: String,
}

impl ZaloSigner {
    fn event(&self, user: &str, msg_id: &str, text: &str, image: bool) -> (Bytes, String) {
        let ts = (epoch_ms() as i64).to_string();
        let (name, message) = if image {
            (
                zfsync_zalo::webhook::names::USER_SEND_IMAGE,
                json!({"msg_id": msg_id, "text": text, "attachments": [{"type": "image",
                    "payload": {"thumbnail": self.image_url, "url": self.image_url}}]}),
            )
        } else {
            (
                zfsync_zalo::webhook::names::USER_SEND_TEXT,
                json!({"msg_id": msg_id, "text": text}),
            )
        };
        let body = json!({
            "app_id": self.app_id, "sender": {"id": user}, "user_id_by_app": format!("9{user}"),
            "recipient": {"id": self.oa_id}, "event_name": name, "message": message, "timestamp": ts,
        });
        let body = Bytes::from(body.to_string());
        let sig = zfsync_zalo::signature(&self.app_id, &body, &ts, &self.key);
        (body, sig)
    }
}

/// One POST; returns the acknowledgement latency in ms and whether the answer said "duplicate".
async fn post(
    http: &reqwest::Client,
    url: &str,
    body: Bytes,
    sig: &str,
) -> anyhow::Result<(f64, bool)> {
    let t = Instant::now();
    let resp = http
        .post(url)
        .header(http::header::CONTENT_TYPE, "application/json")
        .header(zfsync_zalo::SIGNATURE_HEADER, sig)
        .body(body)
        .send()
        .await
        .with_context(|| format!("POST {url}"))?;
    let status = resp.status();
    let text = resp.bytes().await.unwrap_or_default();
    let ms = t.elapsed().as_secs_f64() * 1000.0;
    if !status.is_success() {
        bail!(
            "{url} answered {status}: {}",
            String::from_utf8_lossy(&text)
        );
    }
    Ok((ms, text.windows(9).any(|w| w == b"duplicate")))
}

/// One user's planned sends in one direction: (scheduled offset, index).
type Plan = Vec<(Option<Duration>, usize)>;

/// Per message: when it was sent and when it became visible (epoch ms).
#[derive(Debug, Default)]
struct Track {
    sent: Vec<Option<f64>>,
    seen: Vec<Option<f64>>,
}

impl Track {
    fn new(n: usize) -> Track {
        Track {
            sent: vec![None; n],
            seen: vec![None; n],
        }
    }
    fn seen_count(&self) -> usize {
        self.seen.iter().filter(|s| s.is_some()).count()
    }
    fn latencies(&self) -> Vec<f64> {
        self.sent
            .iter()
            .zip(&self.seen)
            .filter_map(|(s, v)| Some((v.as_ref()? - s.as_ref()?).max(0.0)))
            .collect()
    }
}

struct Shared {
    env: Env,
    http: reqwest::Client,
    signer: ZaloSigner,
    agent: String,
    fc_image: String,
    convs: Vec<String>,
    z: Vec<Mutex<Track>>,
    f: Vec<Mutex<Track>>,
    acks: Mutex<Vec<f64>>,
    dups: AtomicU64,
    dup_misses: AtomicU64,
    opts: Options,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn is_image(opts: &Options, i: usize) -> bool {
    opts.attachment_every > 0 && i % opts.attachment_every == opts.attachment_every / 2
}

fn is_dup(opts: &Options, i: usize) -> bool {
    opts.duplicate_every > 0 && i % opts.duplicate_every == opts.duplicate_every - 1
}

/// Runs one load and returns its figures, or an error when a message was lost, doubled or reordered.
pub async fn run(opts: Options) -> anyhow::Result<Report> {
    anyhow::ensure!(
        opts.users > 0 && opts.messages > 0,
        "--users and --messages must be at least 1"
    );
    let mut report = Report {
        mode: opts.mode.to_string(),
        users: opts.users,
        messages_per_user: opts.messages,
        ..Report::default()
    };
    let max_attempts = if opts.mode == Mode::Backlog {
        1_000_000
    } else {
        12
    };
    let mut env = Env::new(EnvOptions {
        sync_toml: format!(
            "retry_base_ms = 100\nretry_max_ms = 2000\nmax_attempts = {max_attempts}\nmax_concurrent_lanes = {}\n",
            opts.lanes
        ),
        ..EnvOptions::default()
    })
    .await?;
    let started = Instant::now();
    // The daemon in this process, or as its own `zfsync run` child (killed when dropped).
    let child = match &opts.daemon_binary {
        None => {
            env.start_daemon().await?;
            None
        }
        Some(bin) => {
            let log = std::fs::File::create(env.dir.path().join("daemon.log"))?;
            let child = tokio::process::Command::new(bin)
                .args(["run", "--config"])
                .arg(&env.config_path)
                .env("RUST_LOG", "warn")
                .stdout(std::process::Stdio::null())
                .stderr(log)
                .kill_on_drop(true)
                .spawn()
                .with_context(|| format!("cannot start {}", bin.display()))?;
            crate::sandbox::wait_http_ok(
                &format!("{}/healthz", env.daemon_url()),
                Duration::from_secs(30),
            )
            .await?;
            Some(child)
        }
    };
    let daemon_pid = child.as_ref().and_then(|c| c.id());
    report.daemon_process = daemon_pid.is_some();
    report.startup_ms = started.elapsed().as_secs_f64() * 1000.0;
    env.connect_zalo().await?;
    report.rss_idle_kb = memory_kb_of(daemon_pid).0;

    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(1024)
        .timeout(Duration::from_secs(30))
        .build()?;
    let zcfg = env.zalo.config();
    let signer = ZaloSigner {
        app_id: zcfg.app_id.clone(),
        oa_id: zcfg.oa_id.clone(),
        key: env.zalo.oa_secret_key(),
        image_url: zalo_media_url(&env).await?,
    };
    for u in 0..opts.users {
        env.zalo.add_user(SimUser {
            user_id: user_id(u),
            display_name: format!("Khách {u}"),
            avatar: None,
            follower: true,
        });
        // The events are posted past the simulator, so it must be told the user wrote recently
        // (Zalo refuses customer-service sends otherwise, -230).
        env.zalo
            .set_last_interaction(&user_id(u), epoch_ms() as i64);
    }
    // Warm-up: every user opens its conversation (contact and Freshchat conversation created).
    let url = format!("{}{}", env.daemon_url(), crate::routes::ROUTE_ZALO_WEBHOOK);
    let warm = futures::future::join_all((0..opts.users).map(|u| {
        let (body, sig) =
            signer.event(&user_id(u), &format!("lgw{u}"), &format!("lg {u} w"), false);
        let http = http.clone();
        let url = url.clone();
        async move { post(&http, &url, body, &sig).await }
    }))
    .await;
    for w in warm {
        w?;
    }
    let convs = wait_for(opts.timeout, || {
        let env = &env;
        async move { conversations(env, opts.users) }
    })
    .await
    .context("the warm-up messages did not all open a Freshchat conversation")?;
    wait_for(opts.timeout, || async {
        let z: usize = convs.iter().map(|c| env.fc_messages(c).len()).sum();
        (z >= opts.users).then_some(())
    })
    .await
    .context("the warm-up messages did not all reach Freshchat")?;

    if opts.freshchat_duplicates {
        env.freshchat.set_webhook_mode(WebhookMode::Duplicate);
    }
    if opts.mode == Mode::Slow {
        env.zalo.set_latency(opts.slow_latency);
        env.freshchat.set_latency(opts.slow_latency);
    }
    let fc_image =
        env.freshchat
            .upload_for_agent("lg.png", "image/png", Bytes::from_static(TINY_PNG));
    let agent = env.freshchat.default_agent_id();

    // Plans: steady spreads sends over the run at `rate`; the others send as fast as acknowledged.
    let with_fc = opts.mode != Mode::Backlog;
    let per_user = match opts.mode {
        Mode::Steady => {
            let dirs = if with_fc { 2.0 } else { 1.0 };
            let fit = (opts.rate * opts.duration.as_secs_f64() / (dirs * opts.users as f64)).floor()
                as usize;
            opts.messages.min(fit.max(1))
        }
        _ => opts.messages,
    };
    report.messages_per_user = per_user;
    let plan = |u: usize, dir: usize| -> Plan {
        (0..per_user)
            .map(|i| {
                let at = (opts.mode == Mode::Steady).then(|| {
                    let dirs = if with_fc { 2 } else { 1 };
                    let k = (i * opts.users + u) * dirs + dir;
                    Duration::from_secs_f64(k as f64 / opts.rate)
                });
                (at, i)
            })
            .collect()
    };

    if opts.baseline {
        report.baseline = Some(baseline(&http, &signer, &opts, &plan).await?);
    }

    let shared = Arc::new(Shared {
        z: (0..opts.users)
            .map(|_| Mutex::new(Track::new(per_user)))
            .collect(),
        f: (0..opts.users)
            .map(|_| Mutex::new(Track::new(if with_fc { per_user } else { 0 })))
            .collect(),
        env,
        http,
        signer,
        agent,
        fc_image,
        convs,
        acks: Mutex::new(Vec::new()),
        dups: AtomicU64::new(0),
        dup_misses: AtomicU64::new(0),
        opts: opts.clone(),
    });
    if opts.mode == Mode::Backlog {
        // A long outage; healed below by using up what is left.
        shared.env.freshchat.fail_next("/v2", OUTAGE_CALLS, 503);
    }

    let t0 = Instant::now();
    let t0_epoch = epoch_ms();
    let mut tasks = tokio::task::JoinSet::new();
    for u in 0..opts.users {
        let s = shared.clone();
        let p = plan(u, 0);
        tasks.spawn(async move { zalo_sender(s, u, p, t0).await });
        if with_fc {
            let s = shared.clone();
            let p = plan(u, 1);
            tasks.spawn(async move { freshchat_sender(s, u, p, t0).await });
        }
    }
    let watcher = {
        let s = shared.clone();
        // Arrival times come from the platforms' own clocks (Freshchat `created_time`, Zalo
        // `sent_time_ms`), so the watcher can poll slowly: every poll clones whole conversations
        // from the simulator, and polling every few ms cost more CPU than the daemon itself.
        let poll = match opts.mode {
            Mode::Backlog => Duration::from_millis(250),
            _ => Duration::from_millis(50),
        };
        tokio::spawn(async move { watch(s, poll).await })
    };
    while let Some(r) = tasks.join_next().await {
        r.context("a sender task panicked")??;
    }
    let sent_done = t0.elapsed();
    let ingest_acks = lock(&shared.acks).clone();
    report.ingest = Ingest {
        requests: ingest_acks.len(),
        per_sec: ingest_acks.len() as f64 / sent_done.as_secs_f64().max(1e-9),
        ack: Stats::of(ingest_acks),
    };

    let mut heal_at = 0.0;
    if opts.mode == Mode::Backlog {
        let depth = queue_depth(&shared.http, &shared.env.daemon_url()).await;
        let rss = memory_kb_of(daemon_pid).0;
        heal_at = epoch_ms();
        heal_freshchat(&shared.http, &shared.env).await?;
        report.backlog = Some(Backlog {
            queued: per_user * opts.users,
            queue_depth_at_heal: depth,
            ingest_secs: sent_done.as_secs_f64(),
            rss_queued_kb: rss,
            ..Backlog::default()
        });
    }

    let deadline = Instant::now() + opts.timeout;
    loop {
        if watcher.is_finished() {
            break;
        }
        if Instant::now() >= deadline {
            watcher.abort();
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Late duplicates would show up now.
    shared
        .env
        .zalo
        .wait_deliveries_idle(Duration::from_secs(5))
        .await;
    shared
        .env
        .freshchat
        .wait_deliveries_idle(Duration::from_secs(5))
        .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    verify(&shared)?;

    let mut z_lat = Vec::new();
    let mut f_lat = Vec::new();
    let mut last_seen = t0_epoch;
    for u in 0..opts.users {
        for (track, out) in [(&shared.z[u], &mut z_lat), (&shared.f[u], &mut f_lat)] {
            let t = lock(track);
            out.extend(t.latencies());
            last_seen = t.seen.iter().flatten().fold(last_seen, |a, &b| a.max(b));
        }
    }
    report.sent_zalo = z_lat.len();
    report.sent_freshchat = f_lat.len();
    report.duplicates_posted = shared.dups.load(Ordering::Relaxed) as usize;
    report.e2e_zalo_to_freshchat = Stats::of(z_lat);
    report.e2e_freshchat_to_zalo = Stats::of(f_lat);
    report.wall_secs = (last_seen - t0_epoch) / 1000.0;
    report.messages_per_sec =
        (report.sent_zalo + report.sent_freshchat) as f64 / report.wall_secs.max(1e-9);
    if let Some(b) = report.backlog.as_mut() {
        b.drain_secs = (last_seen - heal_at) / 1000.0;
        b.drain_per_sec = b.queued as f64 / b.drain_secs.max(1e-9);
    }
    report.rss_peak_kb = memory_kb_of(daemon_pid).1;
    let db = shared.env.dir.path().join("zfsync.db");
    report.store_bytes = ["", "-wal"]
        .iter()
        .filter_map(|suffix| std::fs::metadata(format!("{}{suffix}", db.display())).ok())
        .map(|m| m.len())
        .sum();
    let misses = shared.dup_misses.load(Ordering::Relaxed);
    anyhow::ensure!(
        misses == 0,
        "{misses} duplicate Zalo deliveries were not answered as duplicates"
    );
    Ok(report)
}

/// Freshchat API calls that fail during the backlog outage (far more than lanes retry in it).
const OUTAGE_CALLS: u32 = 50_000;

async fn zalo_sender(s: Arc<Shared>, u: usize, plan: Plan, t0: Instant) -> anyhow::Result<()> {
    let url = format!(
        "{}{}",
        s.env.daemon_url(),
        crate::routes::ROUTE_ZALO_WEBHOOK
    );
    let user = user_id(u);
    for (at, i) in plan {
        if let Some(at) = at {
            tokio::time::sleep_until((t0 + at).into()).await;
        }
        let image = is_image(&s.opts, i);
        let (body, sig) =
            s.signer
                .event(&user, &format!("lg{u}z{i}"), &format!("lg {u} z{i}"), image);
        lock(&s.z[u]).sent[i] = Some(epoch_ms());
        let (ms, dup) = post(&s.http, &url, body.clone(), &sig).await?;
        lock(&s.acks).push(ms);
        if dup {
            bail!("the first delivery of lg {u} z{i} was answered as a duplicate");
        }
        if is_dup(&s.opts, i) {
            let (ms, dup) = post(&s.http, &url, body, &sig).await?;
            lock(&s.acks).push(ms);
            s.dups.fetch_add(1, Ordering::Relaxed);
            if !dup {
                s.dup_misses.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
    Ok(())
}

async fn freshchat_sender(s: Arc<Shared>, u: usize, plan: Plan, t0: Instant) -> anyhow::Result<()> {
    for (at, i) in plan {
        if let Some(at) = at {
            tokio::time::sleep_until((t0 + at).into()).await;
        }
        let mut parts = vec![MessagePart::Text {
            content: format!("lg {u} f{i}"),
        }];
        if is_image(&s.opts, i) {
            parts.push(MessagePart::Image {
                url: s.fc_image.clone(),
            });
        }
        lock(&s.f[u]).sent[i] = Some(epoch_ms());
        s.env
            .agent_says(&s.convs[u], &s.agent, &parts)
            .await
            .map_err(|e| anyhow::anyhow!("agent reply lg {u} f{i}: {e}"))?;
    }
    Ok(())
}

/// Parses `lg <u> <tag>`; returns the tag.
fn marker(text: &str, u: usize) -> Option<&str> {
    let mut it = text.split_whitespace();
    (it.next()? == "lg" && it.next()?.parse::<usize>().ok()? == u)
        .then_some(())
        .and(it.next())
}

fn index(tag: &str, prefix: char) -> Option<usize> {
    tag.strip_prefix(prefix)?.parse().ok()
}

fn fc_epoch(m: &zfsync_freshchat::Message) -> Option<f64> {
    let t = m.created_time.as_deref()?;
    chrono::DateTime::parse_from_rfc3339(t)
        .ok()
        .map(|d| d.timestamp_millis() as f64)
}

/// Records when each message first became visible, until all are or the task is stopped.
///
/// Freshchat: the earlier of the message's `created_time` and the moment it was seen (the
/// simulator nudges `created_time` forward to keep it unique, so under load it can run ahead).
/// Zalo: the simulator's `sent_time_ms`.
async fn watch(s: Arc<Shared>, poll: Duration) {
    let users = s.opts.users;
    loop {
        let mut done = true;
        for u in 0..users {
            let (want, have) = {
                let t = lock(&s.z[u]);
                (t.sent.len(), t.seen_count())
            };
            if have < want {
                let now = epoch_ms();
                let msgs = s.env.fc_messages(&s.convs[u]);
                let mut t = lock(&s.z[u]);
                for m in msgs
                    .iter()
                    .filter(|m| matches!(m.actor_type, ActorType::User))
                {
                    let Some(i) = first_text(m)
                        .and_then(|x| marker(x, u))
                        .and_then(|tag| index(tag, 'z'))
                    else {
                        continue;
                    };
                    if let Some(slot) = t.seen.get_mut(i) {
                        if slot.is_none() {
                            *slot = Some(fc_epoch(m).map_or(now, |c| c.min(now)));
                        }
                    }
                }
                done &= t.seen_count() >= want;
            }
            let (want, have) = {
                let t = lock(&s.f[u]);
                (t.sent.len(), t.seen_count())
            };
            if have < want {
                let sent = s.env.zalo.sent_to(&user_id(u));
                let mut t = lock(&s.f[u]);
                for r in &sent {
                    let Some(i) = r
                        .message
                        .get("text")
                        .and_then(|x| x.as_str())
                        .and_then(|x| marker(x, u))
                        .and_then(|tag| index(tag, 'f'))
                    else {
                        continue;
                    };
                    if let Some(slot) = t.seen.get_mut(i) {
                        if slot.is_none() {
                            *slot = Some(r.sent_time_ms as f64);
                        }
                    }
                }
                done &= t.seen_count() >= want;
            }
        }
        if done {
            return;
        }
        tokio::time::sleep(poll).await;
    }
}

fn first_text(m: &zfsync_freshchat::Message) -> Option<&str> {
    m.message_parts.iter().find_map(|p| match p {
        MessagePart::Text { content } => Some(content.as_str()),
        _ => None,
    })
}

/// Exactly once and in order, both directions, every conversation.
fn verify(s: &Shared) -> anyhow::Result<()> {
    let mut problems = Vec::new();
    for u in 0..s.opts.users {
        let n_z = lock(&s.z[u]).sent.len();
        let n_f = lock(&s.f[u]).sent.len();
        // Zalo → Freshchat: the customer's messages, warm-up first.
        let mut want: Vec<String> = vec!["w".into()];
        want.extend((0..n_z).map(|i| {
            if is_image(&s.opts, i) {
                format!("z{i}+img")
            } else {
                format!("z{i}")
            }
        }));
        let got: Vec<String> = s
            .env
            .fc_messages(&s.convs[u])
            .iter()
            .filter(|m| matches!(m.actor_type, ActorType::User))
            .map(|m| {
                let tag = first_text(m)
                    .map(|t| marker(t, u).unwrap_or(t).to_string())
                    .unwrap_or_else(|| "<no text>".into());
                let img = m
                    .message_parts
                    .iter()
                    .any(|p| matches!(p, MessagePart::Image { .. }));
                if img {
                    format!("{tag}+img")
                } else {
                    tag
                }
            })
            .collect();
        if got != want {
            problems.push(format!(
                "user {u} Zalo → Freshchat: {}",
                describe_diff(&want, &got)
            ));
        }
        // Freshchat → Zalo: the texts, each image right after its text.
        let mut want = Vec::new();
        for i in 0..n_f {
            want.push(format!("f{i}"));
            if is_image(&s.opts, i) {
                want.push("img".into());
            }
        }
        let got: Vec<String> = s
            .env
            .zalo
            .sent_to(&user_id(u))
            .iter()
            .map(|r| match r.message.get("text").and_then(|t| t.as_str()) {
                Some(t) => marker(t, u).unwrap_or(t).to_string(),
                None => match r
                    .message
                    .pointer("/attachment/payload/elements/0/media_type")
                    .and_then(|t| t.as_str())
                {
                    Some("image") => "img".into(),
                    _ => r.message.to_string(),
                },
            })
            .collect();
        if got != want {
            problems.push(format!(
                "user {u} Freshchat → Zalo: {}",
                describe_diff(&want, &got)
            ));
        }
    }
    if problems.is_empty() {
        return Ok(());
    }
    let n = problems.len();
    problems.truncate(8);
    bail!(
        "{n} conversations did not receive every message exactly once and in order:\n  {}",
        problems.join("\n  ")
    )
}

fn describe_diff(want: &[String], got: &[String]) -> String {
    let first = want
        .iter()
        .zip(got)
        .position(|(a, b)| a != b)
        .unwrap_or(want.len().min(got.len()));
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for g in got {
        *counts.entry(g.as_str()).or_default() += 1;
    }
    let doubled: Vec<&str> = counts
        .iter()
        .filter(|(_, &c)| c > 1)
        .map(|(k, _)| *k)
        .take(5)
        .collect();
    let missing: Vec<&str> = want
        .iter()
        .filter(|w| !counts.contains_key(w.as_str()))
        .map(String::as_str)
        .take(5)
        .collect();
    format!(
        "expected {} messages, got {}; first difference at #{first} (want {:?}, got {:?}); missing {missing:?}; doubled {doubled:?}",
        want.len(),
        got.len(),
        want.get(first),
        got.get(first)
    )
}

/// Each user's conversation, once all exist: found through the Freshchat user's reference id.
fn conversations(env: &Env, users: usize) -> Option<Vec<String>> {
    let mut by_fc_user = HashMap::new();
    for fu in env.fc_users() {
        let zalo = fu.reference_id.as_deref()?.rsplit(':').next()?.to_string();
        by_fc_user.insert(fu.id.clone(), zalo);
    }
    let mut by_zalo = HashMap::new();
    for c in env.fc_conversations() {
        if let Some(z) = c.user_id.as_deref().and_then(|id| by_fc_user.get(id)) {
            by_zalo.insert(z.clone(), c.conversation_id);
        }
    }
    (0..users)
        .map(|u| by_zalo.get(&user_id(u)).cloned())
        .collect()
}

/// A media URL served by the Zalo simulator: one image event is captured instead of delivered.
async fn zalo_media_url(env: &Env) -> anyhow::Result<String> {
    let captured: Arc<Mutex<Vec<Bytes>>> = Arc::default();
    let c = captured.clone();
    let app = axum::Router::new().route(
        "/capture",
        axum::routing::post(move |body: Bytes| {
            let c = c.clone();
            async move {
                lock(&c).push(body);
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    env.zalo
        .set_webhook_url(Some(format!("http://{addr}/capture")));
    env.zalo
        .user_sends(
            "5234999999999999999",
            zfsync_zalo::UserAction::Image {
                caption: None,
                bytes: Bytes::from_static(TINY_PNG),
            },
        )
        .await;
    env.zalo.wait_deliveries_idle(Duration::from_secs(5)).await;
    env.zalo.set_webhook_url(Some(format!(
        "{}{}",
        env.daemon_url(),
        crate::routes::ROUTE_ZALO_WEBHOOK
    )));
    server.abort();
    let body = lock(&captured)
        .first()
        .cloned()
        .context("the Zalo simulator did not deliver the image event")?;
    let v: serde_json::Value = serde_json::from_slice(&body)?;
    v.pointer("/message/attachments/0/payload/url")
        .and_then(|u| u.as_str())
        .map(str::to_string)
        .context("the image event has no media URL")
}

async fn queue_depth(http: &reqwest::Client, daemon: &str) -> Option<f64> {
    let text = http
        .get(format!("{daemon}/metrics"))
        .send()
        .await
        .ok()?
        .text()
        .await
        .ok()?;
    text.lines()
        .find(|l| l.starts_with("zfsync_queue_depth"))
        .and_then(|l| l.split_whitespace().last())
        .and_then(|v| v.parse().ok())
}

/// Ends the outage: uses up the injected failures until Freshchat answers again.
async fn heal_freshchat(http: &reqwest::Client, env: &Env) -> anyhow::Result<()> {
    let url = format!(
        "{}/v2/agents",
        env.freshchat.base_url().as_str().trim_end_matches('/')
    );
    let healed = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let (http, url, healed) = (http.clone(), url.clone(), healed.clone());
        set.spawn(async move {
            let deadline = Instant::now() + Duration::from_secs(120);
            while !healed.load(Ordering::Relaxed) && Instant::now() < deadline {
                if let Ok(r) = http.get(&url).send().await {
                    if r.status() != http::StatusCode::SERVICE_UNAVAILABLE {
                        healed.store(true, Ordering::Relaxed);
                    }
                }
            }
        });
    }
    while set.join_next().await.is_some() {}
    anyhow::ensure!(
        healed.load(Ordering::Relaxed),
        "the Freshchat simulator kept answering 503"
    );
    Ok(())
}

/// The ingest baseline: a bare axum handler doing one durable SQLite insert per request (WAL,
/// `synchronous=FULL`), loaded with the same signed Zalo bodies, users and pacing as the daemon.
async fn baseline(
    http: &reqwest::Client,
    signer: &ZaloSigner,
    opts: &Options,
    plan: &dyn Fn(usize, usize) -> Plan,
) -> anyhow::Result<Ingest> {
    let dir = tempfile::tempdir()?;
    let conn = rusqlite::Connection::open(dir.path().join("baseline.db"))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.execute_batch(
        "CREATE TABLE inbox (id INTEGER PRIMARY KEY, dedupe_key TEXT NOT NULL UNIQUE, body BLOB NOT NULL) STRICT",
    )?;
    let conn = Arc::new(Mutex::new(conn));
    let app = axum::Router::new().route(
        "/webhooks/zalo",
        axum::routing::post(move |body: Bytes| {
            let conn = conn.clone();
            async move {
                let done = tokio::task::spawn_blocking(move || {
                    let key = serde_json::from_slice::<serde_json::Value>(&body)
                        .ok()
                        .and_then(|v| {
                            v.pointer("/message/msg_id")
                                .and_then(|m| m.as_str())
                                .map(str::to_string)
                        })
                        .unwrap_or_default();
                    lock(&conn).execute(
                        "INSERT INTO inbox (dedupe_key, body) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
                        rusqlite::params![key, &body[..]],
                    )
                })
                .await;
                match done {
                    Ok(Ok(n)) => (
                        http::StatusCode::OK,
                        if n == 1 { "stored" } else { "duplicate" },
                    ),
                    _ => (http::StatusCode::SERVICE_UNAVAILABLE, "error"),
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/webhooks/zalo", listener.local_addr()?);
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    let acks: Arc<Mutex<Vec<f64>>> = Arc::default();
    let t0 = Instant::now();
    let mut set = tokio::task::JoinSet::new();
    for u in 0..opts.users {
        let (http, url, acks, signer, o) = (
            http.clone(),
            url.clone(),
            acks.clone(),
            signer.clone(),
            opts.clone(),
        );
        let p = plan(u, 0);
        set.spawn(async move {
            let user = user_id(u);
            for (at, i) in p {
                if let Some(at) = at {
                    tokio::time::sleep_until((t0 + at).into()).await;
                }
                let (body, sig) = signer.event(
                    &user,
                    &format!("b{u}z{i}"),
                    &format!("lg {u} z{i}"),
                    is_image(&o, i),
                );
                let (ms, _) = post(&http, &url, body.clone(), &sig).await?;
                lock(&acks).push(ms);
                if is_dup(&o, i) {
                    let (ms, _) = post(&http, &url, body, &sig).await?;
                    lock(&acks).push(ms);
                }
            }
            anyhow::Ok(())
        });
    }
    while let Some(r) = set.join_next().await {
        r.context("a baseline sender panicked")??;
    }
    let elapsed = t0.elapsed();
    server.abort();
    let acks = std::mem::take(&mut *lock(&acks));
    Ok(Ingest {
        requests: acks.len(),
        per_sec: acks.len() as f64 / elapsed.as_secs_f64().max(1e-9),
        ack: Stats::of(acks),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_by_nearest_rank() {
        let s = Stats::of((1..=100).map(f64::from).collect());
        assert_eq!(
            (s.p50, s.p90, s.p99, s.max, s.n),
            (50.0, 90.0, 99.0, 100.0, 100)
        );
        assert_eq!(Stats::of(vec![]).n, 0);
    }

    #[test]
    fn markers_parse_only_their_user() {
        assert_eq!(marker("lg 3 z12", 3), Some("z12"));
        assert_eq!(marker("lg 3 z12", 4), None);
        assert_eq!(index("z12", 'z'), Some(12));
        assert_eq!(index("f1", 'z'), None);
    }
}
