//! The density modes: many customers (pairings) in one daemon process.
//!
//! - `idle-pairings`: the daemon's memory and CPU with one pairing, then with `--pairings N`
//!   registered and idle (all of them on one pair of simulators: nothing is sent, only their
//!   start-up catch-up runs), and the cost of one more pairing.
//! - `pairings`: `--pairings N`, each with its own Zalo OA and Freshchat account (a pair of
//!   simulators), and one customer each writing `--rate` messages per second while an agent
//!   answers at the same rate, for `--duration`. Latency is send → visible on the other side (the
//!   Freshchat simulator's `created_time`, the Zalo simulator's send time); every message must
//!   arrive exactly once, in order, in its own pairing's accounts only.
//!
//! Both run the daemon as its own process, so its memory and CPU are its own. Setting up fails
//! with an error; a message lost, doubled or delivered to another pairing fails the run.

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use zfsync_zalo::sim::{SimUser, UserAction};

use super::process::DaemonProcess;
use super::report::{cpu_secs_of, memory_kb_of, Stats};
use super::soak::tally;
use super::verify::{fc_epoch, first_text, index, marker_with};
use super::{epoch_ms, lock, Options};
use crate::tools::sandbox::{
    from_json, own_app, register_in, wait_for, Env, EnvOptions, ExtraPairing,
};
use zfsync_freshchat::Message;

/// The marker of this mode's messages: `dn <pairing> <z|f><k>`.
const PREFIX: &str = "dn";

/// The customer of every pairing (the same id in each OA: a different customer in each).
const CUSTOMER: &str = "5234900000000000777";

/// How long an idle daemon is watched for its CPU.
const IDLE_WATCH: Duration = Duration::from_secs(10);

/// What a density run measured.
#[derive(Debug, Clone, Default)]
pub struct DensityReport {
    /// The store: `SQLite` or `PostgreSQL`.
    pub store: &'static str,
    /// Pairings registered.
    pub pairings: usize,
    /// Pairings whose webhook route the daemon answers (a signature refusal, not 404).
    pub served: usize,
    /// Whether they were idle (no traffic).
    pub idle: bool,
    /// Spawn → `/healthz` answering, with every pairing.
    pub start: Duration,
    /// The daemon's resident memory with one pairing, idle (kB).
    pub rss_one_kb: u64,
    /// Its resident memory with every pairing, after the run (kB).
    pub rss_all_kb: u64,
    /// Its peak resident memory (kB).
    pub hwm_kb: u64,
    /// Its CPU while every pairing sat idle, in percent of one core.
    pub idle_cpu_percent: f64,
    /// Messages sent Zalo → Freshchat and Freshchat → Zalo (busy mode).
    pub sent: (usize, usize),
    /// Send → visible, Zalo → Freshchat.
    pub to_freshchat: Stats,
    /// Send → visible, Freshchat → Zalo.
    pub to_zalo: Stats,
    /// The daemon's CPU time during the traffic.
    pub busy_cpu: Duration,
    /// The daemon's CPU during the traffic, in percent of one core.
    pub busy_cpu_percent: f64,
    /// Pairings broken on purpose beside the others (Zalo authorization expired, Freshchat key
    /// refused), their customers still writing: the figures are the healthy pairings'.
    pub broken: usize,
    /// Messages lost, doubled, out of order or seen in another pairing's accounts.
    pub problems: Vec<String>,
}

impl DensityReport {
    /// Memory per pairing beyond the first (kB).
    pub fn per_pairing_kb(&self) -> f64 {
        if self.pairings <= 1 {
            return 0.0;
        }
        (self.rss_all_kb as f64 - self.rss_one_kb as f64) / (self.pairings - 1) as f64
    }
}

impl fmt::Display for DensityReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mb = |kb: u64| kb as f64 / 1024.0;
        writeln!(
            f,
            "{} pairings in one daemon on {} ({}{}), started in {} ms",
            self.pairings,
            self.store,
            if self.idle {
                format!("{} served, ", self.served)
            } else {
                String::new()
            },
            if self.idle { "idle" } else { "busy" },
            self.start.as_millis()
        )?;
        writeln!(
            f,
            "  memory: {:.1} MB with one pairing, {:.1} MB with {} (peak {:.1} MB): {:.0} kB per pairing",
            mb(self.rss_one_kb),
            mb(self.rss_all_kb),
            self.pairings,
            mb(self.hwm_kb),
            self.per_pairing_kb()
        )?;
        writeln!(
            f,
            "  CPU while idle: {:.2} % of one core",
            self.idle_cpu_percent
        )?;
        if self.broken > 0 {
            writeln!(
                f,
                "  {} of them broken (Zalo authorization expired, Freshchat key refused), their customers still writing; figures below are the {} healthy ones'",
                self.broken,
                self.pairings - self.broken
            )?;
        }
        if !self.idle {
            writeln!(
                f,
                "  sent: {} Zalo → Freshchat, {} Freshchat → Zalo; daemon CPU {:.0} % of one core ({:.2} ms per message)",
                self.sent.0,
                self.sent.1,
                self.busy_cpu_percent,
                self.cpu_ms_per_message()
            )?;
            writeln!(f, "  Zalo → Freshchat: {}", self.to_freshchat)?;
            writeln!(f, "  Freshchat → Zalo: {}", self.to_zalo)?;
        }
        if self.idle {
            Ok(())
        } else if self.problems.is_empty() {
            write!(
                f,
                "  every message arrived once, in order, in its own pairing only"
            )
        } else {
            write!(f, "  PROBLEMS:")?;
            for p in &self.problems {
                write!(f, "\n    {p}")?;
            }
            Ok(())
        }
    }
}

impl DensityReport {
    /// Daemon CPU per message during the traffic, in ms.
    pub fn cpu_ms_per_message(&self) -> f64 {
        let n = (self.sent.0 + self.sent.1) as f64;
        if n == 0.0 {
            return 0.0;
        }
        self.busy_cpu.as_secs_f64() * 1000.0 / n
    }
}

/// The environment of a density run: the default pairing's simulators, on loopback media.
async fn environment(opts: &Options) -> anyhow::Result<Env> {
    Env::new(
        EnvOptions {
            zalo_time_scale: 1000.0,
            sync_toml: format!(
                "retry_base_ms = 100\nretry_max_ms = 2000\nmax_concurrent_lanes = {}\n",
                opts.lanes
            ),
            store: opts.store,
            ..EnvOptions::default()
        }
        .loopback_media(),
    )
    .await
}

async fn start(env: &Env, opts: &Options, log: &str) -> anyhow::Result<DaemonProcess> {
    let bin = opts
        .daemon_binary
        .clone()
        .context("the density modes run the daemon as its own process: pass --daemon-binary")?;
    env.release_port();
    DaemonProcess::start(
        &bin,
        env.config_path(),
        format!("{}/healthz", env.daemon_url()),
        env.dir.path().join(log),
        opts.pin.as_ref().map(|c| c.daemon),
    )
    .await
}

/// The daemon's CPU over `window`, in percent of one core.
async fn cpu_percent(pid: Option<u32>, window: Duration) -> f64 {
    let before = cpu_secs_of(pid).unwrap_or(0.0);
    tokio::time::sleep(window).await;
    let after = cpu_secs_of(pid).unwrap_or(0.0);
    (after - before) / window.as_secs_f64() * 100.0
}

/// Memory with one pairing, then the daemon restarted with `more` pairings registered beside
/// it (by `register`); returns the report's memory and start figures and the running daemon.
async fn baseline_then(
    env: &Env,
    opts: &Options,
    register: impl std::future::Future<Output = anyhow::Result<()>>,
) -> anyhow::Result<(DensityReport, DaemonProcess)> {
    let mut one = start(env, opts, "daemon-one.log").await?;
    env.connect_zalo().await?;
    // Past start-up: its catch-up and first jobs are done.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (rss_one_kb, _) = memory_kb_of(one.pid());
    one.kill().await?;
    register.await?;
    let daemon = start(env, opts, "daemon.log").await?;
    Ok((
        DensityReport {
            store: match opts.store {
                crate::tools::sandbox::StoreBackend::Sqlite => "SQLite",
                crate::tools::sandbox::StoreBackend::Postgres => "PostgreSQL",
            },
            pairings: opts.pairings,
            start: daemon.last_start,
            rss_one_kb,
            ..DensityReport::default()
        },
        daemon,
    ))
}

/// `idle-pairings`: N pairings registered on the default pairing's simulators, nothing sent.
pub async fn run_idle(opts: Options) -> anyhow::Result<DensityReport> {
    let env = environment(&opts).await?;
    let register = async {
        let store = crate::services::open_store(&env.config()?)?;
        for i in 2..=opts.pairings {
            register_in(&store, &format!("p{i}"), &env.zalo, &env.freshchat).await?;
        }
        Ok(())
    };
    let (mut report, mut daemon) = baseline_then(&env, &opts, register).await?;
    report.idle = true;
    report.served = served(&env, opts.pairings).await;
    // Every pairing's start-up catch-up has run once the daemon answers and a moment passed.
    tokio::time::sleep(Duration::from_secs(5)).await;
    report.idle_cpu_percent = cpu_percent(daemon.pid(), IDLE_WATCH).await;
    (report.rss_all_kb, report.hwm_kb) = memory_kb_of(daemon.pid());
    daemon.kill().await?;
    Ok(report)
}

/// How many of the pairings `default`, `p2` … `p<n>` the daemon serves: an unsigned webhook on
/// a served pairing's route is refused for its signature (401), on any other with 404.
async fn served(env: &Env, n: usize) -> usize {
    let http = reqwest::Client::new();
    let base = env.daemon_url();
    let mut served = 0;
    for name in std::iter::once("default".to_string()).chain((2..=n).map(|i| format!("p{i}"))) {
        let answer = http
            .post(format!("{base}/webhooks/freshchat/{name}"))
            .body("{}")
            .send()
            .await;
        if answer.is_ok_and(|r| r.status() == reqwest::StatusCode::UNAUTHORIZED) {
            served += 1;
        }
    }
    served
}

/// When each message was sent, per pairing and direction.
#[derive(Debug, Default, Clone)]
struct Sent {
    to_freshchat: Vec<f64>,
    to_zalo: Vec<f64>,
}

/// `pairings`: N pairings with their own simulators, traffic both ways in each.
pub async fn run_busy(opts: Options) -> anyhow::Result<DensityReport> {
    let env = environment(&opts).await?;
    let mut extra: Vec<ExtraPairing> = Vec::with_capacity(opts.pairings.saturating_sub(1));
    for i in 2..=opts.pairings {
        extra.push(env.start_pairing(&format!("p{i}"), own_app(i)).await?);
    }
    // Registered after the one-pairing baseline, so that it measures one pairing.
    let register = async {
        let store = crate::services::open_store(&env.config()?)?;
        for p in &extra {
            register_in(&store, &p.name, &p.zalo, &p.freshchat).await?;
        }
        Ok(())
    };
    let (mut report, mut daemon) = baseline_then(&env, &opts, register).await?;
    report.idle_cpu_percent = cpu_percent(daemon.pid(), Duration::from_secs(3)).await;
    // Every pairing's simulators, the default's first.
    let all: Vec<(
        &zfsync_zalo::sim::ZaloSim,
        &zfsync_freshchat::sim::FreshchatSim,
    )> = std::iter::once((&env.zalo, &env.freshchat))
        .chain(extra.iter().map(|p| (&p.zalo, &p.freshchat)))
        .collect();
    // The last `broken` pairings lose their Zalo authorization and their Freshchat key.
    report.broken = opts.broken.min(all.len().saturating_sub(1));
    let (sims, broken) = all.split_at(all.len() - report.broken);
    for (zalo, fc) in broken {
        zalo.expire_access_tokens();
        zalo.expire_refresh_tokens();
        fc.fail_next("/v2", u32::MAX, 401);
    }
    for (i, (zalo, _)) in sims.iter().chain(broken.iter()).enumerate() {
        zalo.add_user(SimUser {
            user_id: CUSTOMER.into(),
            display_name: format!("Khách p{}", i + 1),
            avatar: None,
            follower: true,
        });
        zalo.user_sends(
            CUSTOMER,
            UserAction::Text(format!("{PREFIX} {} hello", i + 1)),
        )
        .await;
    }
    let mut convs = Vec::with_capacity(sims.len());
    for (i, (_, fc)) in sims.iter().enumerate() {
        let conv = wait_for(Duration::from_secs(120), || async {
            fc.conversations()
                .into_iter()
                .next()
                .and_then(|c| c["conversation_id"].as_str().map(str::to_string))
        })
        .await
        .with_context(|| format!("pairing {}'s first message opened no conversation", i + 1))?;
        convs.push(conv);
    }

    let per_pairing = (opts.rate * opts.duration.as_secs_f64()).round() as usize;
    let sent: Arc<Mutex<Vec<Sent>>> = Arc::new(Mutex::new(vec![Sent::default(); sims.len()]));
    let cpu_before = cpu_secs_of(daemon.pid()).unwrap_or(0.0);
    let t0 = Instant::now();
    let period = Duration::from_secs_f64(1.0 / opts.rate.max(0.001));
    let mut tasks = tokio::task::JoinSet::new();
    // The broken pairings' customers write all along: work that fails, beside the others'.
    for (j, (zalo, _)) in broken.iter().enumerate() {
        let zalo = (*zalo).clone();
        let name = sims.len() + j + 1;
        tasks.spawn(async move {
            for k in 0..per_pairing {
                tokio::time::sleep_until((t0 + period.mul_f64(k as f64)).into()).await;
                zalo.user_sends(CUSTOMER, UserAction::Text(format!("{PREFIX} {name} z{k}")))
                    .await;
            }
            anyhow::Ok(())
        });
    }
    for (i, (zalo, fc)) in sims.iter().enumerate() {
        // Spread over one period, so the pairings do not all send at the same instant.
        let phase = period.mul_f64(i as f64 / sims.len() as f64);
        let (zalo, fc, conv, sent) = (
            (*zalo).clone(),
            (*fc).clone(),
            convs[i].clone(),
            sent.clone(),
        );
        let agent = fc.default_agent_id();
        tasks.spawn(async move {
            for k in 0..per_pairing {
                let at = t0 + phase + period.mul_f64(k as f64);
                tokio::time::sleep_until(at.into()).await;
                lock(&sent)[i].to_freshchat.push(epoch_ms());
                zalo.user_sends(
                    CUSTOMER,
                    UserAction::Text(format!("{PREFIX} {} z{k}", i + 1)),
                )
                .await;
                tokio::time::sleep_until((at + period / 2).into()).await;
                lock(&sent)[i].to_zalo.push(epoch_ms());
                let reply =
                    serde_json::json!({"text": {"content": format!("{PREFIX} {} f{k}", i + 1)}});
                fc.agent_sends(&conv, &agent, vec![reply])
                    .await
                    .map_err(|e| anyhow::anyhow!("pairing {}'s agent reply {k}: {e:?}", i + 1))?;
            }
            anyhow::Ok(())
        });
    }
    while let Some(r) = tasks.join_next().await {
        r.context("a sender panicked")??;
    }
    report.sent = (per_pairing * sims.len(), per_pairing * sims.len());

    // Wait until everything arrived (or the timeout), then read both sides' records.
    let arrived = wait_for(opts.timeout, || {
        let sims = &sims;
        let convs = &convs;
        async move {
            sims.iter()
                .enumerate()
                .all(|(i, (zalo, fc))| {
                    customer_texts(&from_json(fc.messages(&convs[i])), i + 1).len() >= per_pairing
                        && zalo.sent_to(CUSTOMER).len() >= per_pairing
                })
                .then_some(())
        }
    })
    .await;
    let busy = t0.elapsed();
    report.busy_cpu =
        Duration::from_secs_f64((cpu_secs_of(daemon.pid()).unwrap_or(0.0) - cpu_before).max(0.0));
    report.busy_cpu_percent = report.busy_cpu.as_secs_f64() / busy.as_secs_f64() * 100.0;
    if arrived.is_none() {
        report.problems.push(format!(
            "not everything arrived within {:?} of the last send",
            opts.timeout
        ));
    }
    let sent = lock(&sent).clone();
    let (mut to_fc, mut to_zalo) = (Vec::new(), Vec::new());
    for (i, (zalo, fc)) in sims.iter().enumerate() {
        let name = i + 1;
        let fc_msgs: Vec<Message> = from_json(fc.messages(&convs[i]));
        let got = customer_texts(&fc_msgs, name);
        check(
            &mut report.problems,
            name,
            "to Freshchat",
            'z',
            per_pairing,
            &got,
        );
        latencies(&mut to_fc, &got, 'z', &sent[i].to_freshchat);
        let zalo_got: Vec<(String, Option<f64>)> = zalo
            .sent_to(CUSTOMER)
            .iter()
            .filter_map(|r| {
                let t = r.message.get("text")?.as_str()?.to_string();
                Some((t, Some(r.sent_time_ms as f64)))
            })
            .collect();
        check(
            &mut report.problems,
            name,
            "to Zalo",
            'f',
            per_pairing,
            &zalo_got,
        );
        latencies(&mut to_zalo, &zalo_got, 'f', &sent[i].to_zalo);
        // Nothing of another pairing in this one's accounts.
        let foreign = fc_msgs
            .iter()
            .filter_map(first_text)
            .chain(zalo_got.iter().map(|(t, _)| t.as_str()))
            .filter(|t| {
                t.starts_with(&format!("{PREFIX} ")) && marker_with(PREFIX, t, name).is_none()
            })
            .count();
        if foreign > 0 {
            report.problems.push(format!(
                "pairing {name}: {foreign} messages of another pairing"
            ));
        }
    }
    report.to_freshchat = Stats::of(to_fc);
    report.to_zalo = Stats::of(to_zalo);
    (report.rss_all_kb, report.hwm_kb) = memory_kb_of(daemon.pid());
    daemon.kill().await?;
    Ok(report)
}

/// The customer messages (`dn <pairing> z<k>`) among a pairing's Freshchat messages, in order,
/// with their `created_time` (unix ms).
fn customer_texts(msgs: &[Message], pairing: usize) -> Vec<(String, Option<f64>)> {
    msgs.iter()
        .filter_map(|m| {
            let text = first_text(m)?;
            let tag = marker_with(PREFIX, text, pairing)?;
            tag.starts_with('z')
                .then(|| (text.to_string(), fc_epoch(m)))
        })
        .collect()
}

/// Send → visible of each message of `got` (`dn <pairing> <kind><k>`), from when `k` was sent.
fn latencies(out: &mut Vec<f64>, got: &[(String, Option<f64>)], kind: char, sent: &[f64]) {
    for (text, at) in got {
        let k = text
            .split_whitespace()
            .nth(2)
            .and_then(|tag| index(tag, kind));
        if let (Some(sent_at), Some(at)) = (k.and_then(|k| sent.get(k)), at) {
            out.push(at - sent_at);
        }
    }
}

/// Each of the `want` messages `dn <pairing> <kind><k>` (k in 0..want) exactly once and in order
/// in `got`, as the soak's history checker counts them.
fn check(
    problems: &mut Vec<String>,
    pairing: usize,
    direction: &str,
    kind: char,
    want: usize,
    got: &[(String, Option<f64>)],
) {
    let want: Vec<String> = (0..want)
        .map(|k| format!("{PREFIX} {pairing} {kind}{k}"))
        .collect();
    // Another pairing's messages here are counted apart (see `run_busy`).
    let got: Vec<String> = got
        .iter()
        .filter(|(t, _)| marker_with(PREFIX, t, pairing).is_some())
        .map(|(t, _)| t.clone())
        .collect();
    let t = tally(&want, &got);
    if t.lost + t.doubled + t.out_of_order > 0 {
        problems.push(format!(
            "pairing {pairing} {direction}: {} lost, {} doubled, {} out of order, {} received",
            t.lost,
            t.doubled,
            t.out_of_order,
            got.len()
        ));
    }
}
