//! The soak mode: the reliability proof. Two-way traffic flows through both simulators (customers
//! write through the Zalo simulator, agents reply through the Freshchat simulator, both deliver
//! signed webhooks and redeliver failures) while a share of the daemon's upstream calls fail (the
//! simulators' seeded fault mixes: 5xx, 429, Zalo -32, hangs past the client's timeout, expired
//! Zalo tokens) and the daemon **process** is SIGKILLed N times at random moments, each time
//! restarted on the same store.
//!
//! When the kills are done the traffic stops; the faults stay on until every message has arrived
//! (or the timeout passes). Then a history checker reads the simulators' own records — the
//! Freshchat conversations and the messages the OA sent on Zalo — and counts, per conversation and
//! direction, messages lost, doubled and out of order. Setting up (simulators, daemon, OAuth,
//! warm-up) fails with an error; the tally itself is the result, and the command line fails when
//! it is not clean. The daemon's log is kept beside the system's temporary files when it is not.
//!
//! When Zalo gives up on a webhook after its whole retry ladder it disables the webhook, as the
//! platform does; an operator then saves the URL again. The soak does the same, counts it, and
//! relies on the daemon's reconcile (at every start-up) for what was missed.
//!
//! On PostgreSQL (`store`, a throwaway cluster with fsync on) the soak may run several **replicas**
//! (`replicas`), daemon processes on the one database, each on its own port behind a round-robin
//! balancer ([`Spreader`]): the webhooks of one conversation alternate between them, so every lane
//! is contested and its lease decides who drains it. A replica that is down refuses the
//! connection and the balancer hands the webhook to the next, as one that health-checks does; a
//! webhook in the hands of a replica that dies is answered 502 and the platform delivers it again.
//! The first replica is killed `kills` times, the others in turn one at a random moment of every
//! tenth wait (so with two, the second once every ten kills of the first). On PostgreSQL a
//! [`LeaseWatch`] also times how long each lane a killed process held waits before another
//! process takes it; the run passes only when every one was taken within the lease and the
//! dispatcher's next looks ([`takeover`]).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use zfsync_freshchat::{ActorType, MessagePart};
use zfsync_zalo::sim::UserAction;

use super::process::DaemonProcess;
use super::report::{cpus_allowed, SoakReport, SpreadFigures, Stats};
use super::takeover::{self, LeaseWatch};
use super::verify::{conversations, describe_diff, first_text, marker_with};
use super::{add_users, epoch_ms, lock, user_id, Options};
use crate::tools::sandbox::{wait_for, Env, EnvOptions, Spread, Spreader, StoreBackend};

/// The marker prefix of soak messages: `sk <user> <tag>`.
const PREFIX: &str = "sk";

/// Lost, doubled and out-of-order messages of one conversation and direction.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tally {
    /// Expected and never arrived.
    pub lost: usize,
    /// Extra deliveries: further copies of a message, or messages never sent.
    pub doubled: usize,
    /// Arrived after a message that was sent later.
    pub out_of_order: usize,
    /// The positions in `want` of the messages that arrived out of order.
    pub late: Vec<usize>,
}

/// Compares what arrived (`got`, in arrival order) with what was sent (`want`, in send order).
pub fn tally(want: &[String], got: &[String]) -> Tally {
    let pos: std::collections::HashMap<&str, usize> = want
        .iter()
        .enumerate()
        .map(|(i, w)| (w.as_str(), i))
        .collect();
    let mut seen = vec![false; want.len()];
    let mut t = Tally::default();
    let mut latest: Option<usize> = None;
    for g in got {
        match pos.get(g.as_str()) {
            Some(&i) if !seen[i] => {
                seen[i] = true;
                if latest.is_some_and(|l| i < l) {
                    t.out_of_order += 1;
                    t.late.push(i);
                }
                latest = Some(latest.map_or(i, |l| l.max(i)));
            }
            _ => t.doubled += 1,
        }
    }
    t.lost = seen.iter().filter(|s| !**s).count();
    t
}

/// What was sent to one user, in order.
#[derive(Debug, Default, Clone)]
struct Sent {
    zalo: usize,
    freshchat: usize,
    /// The Zalo `msg_id` of each customer message, in order.
    zalo_ids: Vec<String>,
}

/// One daemon process of the soak.
struct Replica {
    process: DaemonProcess,
    log: std::path::PathBuf,
}

/// Runs the soak.
pub async fn run(opts: Options) -> anyhow::Result<SoakReport> {
    let bin = opts
        .daemon_binary
        .clone()
        .context("the soak kills the daemon process: pass --daemon-binary target/release/zfsync")?;
    anyhow::ensure!(
        opts.users > 0 && opts.rate > 0.0 && opts.kill_every.0 <= opts.kill_every.1,
        "--users and --rate must be positive and the shortest kill interval at most the longest"
    );
    anyhow::ensure!(
        opts.replicas == 1 || (opts.replicas > 1 && opts.store == StoreBackend::Postgres),
        "--replicas {} : replicas share one PostgreSQL database (pass --store postgres), and there is at least one",
        opts.replicas
    );
    // The daemon is what gets killed, not the database: fsync on all the same, as in production.
    let postgres_url = match opts.store {
        StoreBackend::Postgres => {
            Some(crate::tools::pg_cluster::fresh_durable_database().map_err(anyhow::Error::msg)?)
        }
        StoreBackend::Sqlite => None,
    };
    let env = Env::new(EnvOptions {
        // Zalo's retry ladder (30 s … 1 h) a thousand times faster: about 6.6 s in all, longer
        // than a restart. Freshchat redelivers for about 9 s.
        zalo_time_scale: 1000.0,
        freshchat_retry_delays: vec![
            Duration::from_millis(300),
            Duration::from_secs(1),
            Duration::from_secs(3),
            Duration::from_secs(5),
        ],
        // Transient failures never exhaust an event's attempts here: the soak is about crashes.
        sync_toml: format!(
            "retry_base_ms = 100\nretry_max_ms = 2000\nmax_attempts = 1000000\nmax_concurrent_lanes = {}\n",
            opts.lanes
        ),
        store: opts.store,
        postgres_url: postgres_url.clone(),
        ..EnvOptions::default()
    }
    // The daemon runs as its own process: media on loopback.
    .loopback_media())
    .await?;
    let lease = Duration::from_secs(env.config()?.sync.lane_lease_secs);
    let pin = opts.pin.as_ref().map(|c| c.daemon);
    let mut replicas = Vec::new();
    let mut urls = Vec::new();
    for r in 0..opts.replicas {
        // The first on the environment's own configuration (its OAuth redirect comes back to
        // it); the others on copies listening elsewhere.
        let (config, url) = if r == 0 {
            (env.config_path().to_path_buf(), env.daemon_url())
        } else {
            env.replica_config(&format!("replica-{}", replica_name(r)))?
        };
        let log = env.dir.path().join(if opts.replicas == 1 {
            "daemon.log".to_string()
        } else {
            format!("replica-{}.log", replica_name(r))
        });
        let process =
            DaemonProcess::start(&bin, &config, format!("{url}/healthz"), log.clone(), pin).await?;
        replicas.push(Replica { process, log });
        urls.push(url);
    }
    let daemon_cpus = pin.and(replicas[0].process.pid()).and_then(cpus_allowed);
    // Several replicas: the platforms deliver to a round-robin balancer in front of them.
    let spreader = match opts.replicas {
        1 => None,
        _ => Some(Spreader::start(urls, Spread::RoundRobin).await?),
    };
    let front = spreader
        .as_ref()
        .map_or_else(|| env.daemon_url(), |s| s.url.clone());
    let webhook = format!("{front}{}", crate::routes::ROUTE_ZALO_WEBHOOK);
    env.zalo.set_webhook_url(Some(webhook.clone()));
    env.freshchat.set_webhook_url(Some(format!(
        "{front}{}",
        crate::routes::ROUTE_FRESHCHAT_WEBHOOK
    )));
    let watch = match &postgres_url {
        Some(url) => Some(LeaseWatch::start(takeover::connect(url).await?, lease)),
        None => None,
    };
    if let Some(w) = &watch {
        for (r, rep) in replicas.iter().enumerate() {
            w.started(r, rep.process.pid());
        }
    }
    env.connect_zalo().await?;
    add_users(&env, opts.users, false);
    for u in 0..opts.users {
        env.zalo
            .user_sends(&user_id(u), UserAction::Text(format!("{PREFIX} {u} w")))
            .await;
    }
    let convs = wait_for(Duration::from_secs(60), || {
        let env = &env;
        async move { conversations(env, opts.users) }
    })
    .await
    .context("the warm-up messages did not all open a Freshchat conversation")?;

    env.zalo
        .set_random_faults(Some(zfsync_zalo::sim::RandomFaults::new(
            opts.fault_rate,
            opts.seed,
        )));
    env.freshchat
        .set_random_faults(Some(zfsync_freshchat::sim::RandomFaults {
            rate: opts.fault_rate,
            seed: opts.seed.wrapping_add(1),
        }));

    let t0 = Instant::now();
    let stop = Arc::new(AtomicBool::new(false));
    let sent: Arc<Mutex<Vec<Sent>>> = Arc::new(Mutex::new(vec![Sent::default(); opts.users]));
    let traffic = tokio::spawn(traffic(
        env.zalo.clone(),
        env.freshchat.clone(),
        convs.clone(),
        sent.clone(),
        stop.clone(),
        opts.clone(),
    ));

    let mut rng = fastrand::Rng::with_seed(opts.seed);
    let mut restarts = Vec::new();
    let mut reenabled = 0;
    let mut reauthorized = 0;
    let (lo, hi) = (opts.kill_every.0.as_millis(), opts.kill_every.1.as_millis());
    let (mut kills, mut other_kills) = (0, 0);
    let killed: anyhow::Result<()> = async {
        for k in 0..opts.kills {
            let wait = Duration::from_millis((lo + rng.u128(0..=hi - lo)) as u64);
            // The other replicas in turn, one at a random moment of every tenth wait.
            let other = (opts.replicas > 1 && (k + 1) % 10 == 0)
                .then(|| 1 + (k / 10) % (opts.replicas - 1));
            match other {
                Some(r) => {
                    let before = wait.mul_f64(rng.f64());
                    tokio::time::sleep(before).await;
                    let took = kill_and_restart(&mut replicas[r], r, watch.as_ref(), &mut rng);
                    restarts.push(took.await?);
                    other_kills += 1;
                    tokio::time::sleep(wait.saturating_sub(before)).await;
                }
                None => tokio::time::sleep(wait).await,
            }
            let took = kill_and_restart(&mut replicas[0], 0, watch.as_ref(), &mut rng);
            restarts.push(took.await?);
            kills += 1;
            reenabled += reenable_webhook(&env, &webhook);
            reauthorized += reauthorize_if_needed(&env).await;
        }
        Ok(())
    }
    .await;
    stop.store(true, Ordering::Relaxed);
    traffic.await.context("the traffic task panicked")??;
    killed?;

    // Everything sent must arrive, faults still on.
    let sent = lock(&sent).clone();
    let deadline = Instant::now() + opts.timeout;
    while Instant::now() < deadline && !all_arrived(&env, &convs, &sent) {
        reenabled += reenable_webhook(&env, &webhook);
        reauthorized += reauthorize_if_needed(&env).await;
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    // Late copies would show up now.
    env.zalo.wait_deliveries_idle(Duration::from_secs(10)).await;
    env.freshchat
        .wait_deliveries_idle(Duration::from_secs(10))
        .await;
    tokio::time::sleep(Duration::from_secs(1)).await;

    let mut report = SoakReport {
        kills,
        replicas: opts.replicas,
        other_kills,
        store: match opts.store {
            StoreBackend::Sqlite => "SQLite",
            StoreBackend::Postgres => "PostgreSQL",
        },
        spread: spreader.as_ref().map(|s| {
            let c = s.counts();
            SpreadFigures {
                answered: lock(&c.answered).clone(),
                refused: c.refused.load(Ordering::Relaxed),
                bad_gateway: c.bad_gateway.load(Ordering::Relaxed),
            }
        }),
        users: opts.users,
        sent_zalo: sent.iter().map(|s| s.zalo).sum(),
        sent_freshchat: sent.iter().map(|s| s.freshchat).sum(),
        fault_rate: opts.fault_rate,
        seed: opts.seed,
        freshchat_faults: {
            let f = env.freshchat.fault_stats();
            f.server_errors + f.rate_limited + f.hangs
        },
        webhook_reenabled: reenabled,
        zalo_reauthorized: reauthorized,
        restart: Stats::of(restarts),
        wall_secs: t0.elapsed().as_secs_f64(),
        daemon_cpus,
        ..SoakReport::default()
    };
    // Taken over by now, or never: read before the last kill, which nobody takes over.
    if let Some(w) = &watch {
        report.takeover = Some(w.finish().await?);
        report
            .problems
            .extend(w.describe_stranded().into_iter().take(4));
    }
    for rep in &mut replicas {
        rep.process.kill().await?;
    }
    // Zalo webhooks the simulator had to deliver again (num_retry > 0): meanwhile it delivered
    // the user's later events, as Zalo does, so such a message can reach the daemon after a later
    // one that was already synced.
    let redelivered: std::collections::HashSet<String> = env
        .zalo
        .deliveries()
        .into_iter()
        .filter(|d| d.num_retry > 0)
        .filter_map(|d| d.msg_id)
        .collect();
    let inbox = match &watch {
        Some(w) => Inbox::Postgres(w.client()),
        None => Inbox::Sqlite(env.dir.path().join("zfsync.db")),
    };
    for (u, s) in sent.iter().enumerate() {
        for (zalo_dir, want, got) in [
            (true, want_zalo(s), got_freshchat(&env, &convs[u], u)),
            (false, want_freshchat(s), got_zalo(&env, u)),
        ] {
            let t = tally(&want, &got);
            report.lost += t.lost;
            report.doubled += t.doubled;
            report.out_of_order += t.out_of_order;
            let dir = if zalo_dir {
                "Zalo → Freshchat"
            } else {
                "Freshchat → Zalo"
            };
            if t != Tally::default() && report.problems.len() < 8 {
                report
                    .problems
                    .push(format!("user {u} {dir}: {}", describe_diff(&want, &got)));
            }
            if !zalo_dir {
                continue;
            }
            // want[0] is the warm-up; want[i] is z(i - 1), whose msg_id is zalo_ids[i - 1].
            let msg_id = |i: usize| s.zalo_ids.get(i.checked_sub(1)?);
            for &i in &t.late {
                let late_redelivered = msg_id(i).is_some_and(|id| redelivered.contains(id));
                if late_redelivered {
                    report.out_of_order_redelivered += 1;
                }
                if report.problems.len() < 12 {
                    // What the daemon's inbox says of the late message and the one sent before it.
                    let ids: Vec<&String> = [i.checked_sub(1), Some(i)]
                        .into_iter()
                        .flatten()
                        .filter_map(msg_id)
                        .collect();
                    report.problems.push(format!(
                        "user {u} {} arrived late (Zalo {}); inbox (msg_id, event_time, received_at, id): {}",
                        want[i],
                        if late_redelivered { "redelivered it" } else { "delivered it once" },
                        inbox.rows(&ids).await
                    ));
                }
            }
        }
    }
    if !report.passed() {
        for (r, rep) in replicas.iter().enumerate() {
            let keep = std::env::temp_dir().join(match opts.replicas {
                1 => format!("zfsync-soak-{}.log", opts.seed),
                _ => format!("zfsync-soak-{}-{}.log", opts.seed, replica_name(r)),
            });
            if std::fs::copy(&rep.log, &keep).is_ok() {
                report
                    .problems
                    .push(format!("the daemon's log is kept at {}", keep.display()));
            }
        }
    }
    Ok(report)
}

/// "a", "b", … for replica 0, 1, …
fn replica_name(r: usize) -> char {
    char::from(b'a' + (r % 26) as u8)
}

/// SIGKILLs a replica, tells the lease watch which lanes it held, waits 0–200 ms and starts it
/// again on the same configuration; the restart's time (spawn to `/healthz`), ms.
async fn kill_and_restart(
    rep: &mut Replica,
    r: usize,
    watch: Option<&LeaseWatch>,
    rng: &mut fastrand::Rng,
) -> anyhow::Result<f64> {
    let (pid, at) = (rep.process.pid(), epoch_ms());
    rep.process.kill().await?;
    if let (Some(w), Some(pid)) = (watch, pid) {
        w.killed(pid, at).await?;
    }
    tokio::time::sleep(Duration::from_millis(rng.u64(0..=200))).await;
    rep.process.restart().await?;
    if let Some(w) = watch {
        w.started(r, rep.process.pid());
    }
    Ok(rep.process.last_start.as_secs_f64() * 1000.0)
}

/// Customers and agents write at `rate` messages per second in all, to random users and
/// directions (seeded), until told to stop. Each send is one simulator call, so per user and
/// direction the send order is the call order.
async fn traffic(
    zalo: zfsync_zalo::sim::ZaloSim,
    freshchat: zfsync_freshchat::sim::FreshchatSim,
    convs: Vec<String>,
    sent: Arc<Mutex<Vec<Sent>>>,
    stop: Arc<AtomicBool>,
    opts: Options,
) -> anyhow::Result<()> {
    let mut rng = fastrand::Rng::with_seed(opts.seed.wrapping_add(2));
    let agent = freshchat.default_agent_id();
    let t0 = Instant::now();
    let mut k = 0u32;
    while !stop.load(Ordering::Relaxed) {
        let u = rng.usize(..opts.users);
        if rng.bool() {
            let i = lock(&sent)[u].zalo;
            let id = zalo
                .user_sends(&user_id(u), UserAction::Text(format!("{PREFIX} {u} z{i}")))
                .await;
            let mut s = lock(&sent);
            s[u].zalo += 1;
            s[u].zalo_ids.push(id);
        } else {
            let i = lock(&sent)[u].freshchat;
            let part = serde_json::to_value(MessagePart::Text {
                content: format!("{PREFIX} {u} f{i}"),
            })?;
            freshchat
                .agent_sends(&convs[u], &agent, vec![part])
                .await
                .map_err(|e| anyhow::anyhow!("the agent's reply {PREFIX} {u} f{i}: {e:?}"))?;
            lock(&sent)[u].freshchat += 1;
        }
        k += 1;
        tokio::time::sleep_until((t0 + Duration::from_secs_f64(f64::from(k) / opts.rate)).into())
            .await;
    }
    Ok(())
}

/// Where the daemons' inbox is read for a report (their processes stopped, or not writing).
enum Inbox<'a> {
    /// The SQLite file.
    Sqlite(std::path::PathBuf),
    /// The harness's connection to the PostgreSQL database.
    Postgres(&'a tokio_postgres::Client),
}

impl Inbox<'_> {
    /// The inbox rows of these Zalo msg_ids: (msg_id, event_time, received_at, id) each.
    async fn rows(&self, ids: &[&String]) -> String {
        const SQL: &str =
            "SELECT event_time, received_at, id FROM inbox WHERE source = 'zalo' AND dedupe_key = ";
        let mut out = Vec::new();
        for id in ids {
            let row: Result<Option<(i64, i64, i64)>, String> = match self {
                Inbox::Sqlite(db) => rusqlite::Connection::open(db)
                    .and_then(|c| {
                        c.query_row(&format!("{SQL}?1"), [id.as_str()], |r| {
                            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                        })
                    })
                    .map(Some)
                    .or_else(|e| match e {
                        rusqlite::Error::QueryReturnedNoRows => Ok(None),
                        e => Err(e.to_string()),
                    }),
                Inbox::Postgres(c) => c
                    .query_opt(&format!("{SQL}$1"), &[id])
                    .await
                    .map(|r| r.map(|r| (r.get(0), r.get(1), r.get(2))))
                    .map_err(|e| e.to_string()),
            };
            out.push(match row {
                Ok(Some((t, rx, n))) => format!("({id}, {t}, {rx}, {n})"),
                Ok(None) => format!("({id}: not in the inbox)"),
                Err(e) => return format!("cannot read the store: {e}"),
            });
        }
        out.join(" ")
    }
}

/// Sets the Zalo webhook URL again when the simulator disabled it; 1 when it did.
fn reenable_webhook(env: &Env, url: &str) -> usize {
    if env.zalo.webhook_disabled() {
        env.zalo.set_webhook_url(Some(url.to_string()));
        1
    } else {
        0
    }
}

/// When the daemon says Zalo needs re-authorization, an OA admin connects it again (the OAuth
/// flow, as `zfsync connect zalo` starts it). Zalo's refresh token is single-use: a process killed
/// after Zalo answered a refresh but before the new pair was committed spent the token and lost its
/// successor, and no lock can cover that instant. The daemon holds the work meanwhile and says so
/// on `/readyz`; what waited goes out once connected. 1 when it connected the OA.
async fn reauthorize_if_needed(env: &Env) -> usize {
    let ready = async {
        let r = reqwest::Client::new()
            .get(format!("{}/readyz", env.daemon_url()))
            .bearer_auth(&env.admin_token)
            .timeout(Duration::from_secs(2))
            .send()
            .await
            .ok()?;
        r.text().await.ok()
    };
    match ready.await {
        Some(body) if body.contains("needs re-authorization") => match env.connect_zalo().await {
            Ok(_) => 1,
            Err(e) => {
                eprintln!("  re-authorizing Zalo failed: {e:#}");
                0
            }
        },
        _ => 0,
    }
}

fn want_zalo(s: &Sent) -> Vec<String> {
    std::iter::once("w".to_string())
        .chain((0..s.zalo).map(|i| format!("z{i}")))
        .collect()
}

fn want_freshchat(s: &Sent) -> Vec<String> {
    (0..s.freshchat).map(|i| format!("f{i}")).collect()
}

/// The customer's messages in the Freshchat conversation, oldest first.
fn got_freshchat(env: &Env, conv: &str, u: usize) -> Vec<String> {
    env.fc_messages(conv)
        .iter()
        .filter(|m| matches!(m.actor_type, ActorType::User))
        .map(|m| {
            let t = first_text(m).unwrap_or("<no text>");
            marker_with(PREFIX, t, u).unwrap_or(t).to_string()
        })
        .collect()
}

/// What the OA sent the user on Zalo, oldest first.
fn got_zalo(env: &Env, u: usize) -> Vec<String> {
    env.zalo
        .sent_to(&user_id(u))
        .iter()
        .map(|r| match r.message.get("text").and_then(|t| t.as_str()) {
            Some(t) => marker_with(PREFIX, t, u).unwrap_or(t).to_string(),
            None => r.message.to_string(),
        })
        .collect()
}

fn all_arrived(env: &Env, convs: &[String], sent: &[Sent]) -> bool {
    sent.iter().enumerate().all(|(u, s)| {
        got_freshchat(env, &convs[u], u).len() > s.zalo && got_zalo(env, u).len() >= s.freshchat
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &[&str]) -> Vec<String> {
        s.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn a_clean_history_tallies_nothing() {
        let want = v(&["a", "b", "c"]);
        assert_eq!(tally(&want, &want), Tally::default());
    }

    #[test]
    fn lost_doubled_and_reordered_are_counted_apart() {
        let want = v(&["a", "b", "c", "d"]);
        let t = tally(&want, &v(&["a", "c", "b", "c", "x"]));
        assert_eq!(
            t,
            Tally {
                lost: 1,         // d
                doubled: 2,      // the second c, and x which was never sent
                out_of_order: 1, // b after c
                late: vec![1],
            }
        );
    }
}
