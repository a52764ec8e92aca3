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

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use zfsync_freshchat::{ActorType, MessagePart};
use zfsync_zalo::sim::UserAction;

use super::process::DaemonProcess;
use super::report::{cpus_allowed, SoakReport, Stats};
use super::verify::{conversations, describe_diff, first_text, marker_with};
use super::{add_users, lock, user_id, Options};
use crate::tools::sandbox::{wait_for, Env, EnvOptions};

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
        // The SQLite path is what this mode measures (its file's size, its rows).
        store: crate::tools::sandbox::StoreBackend::Sqlite,
        ..EnvOptions::default()
    }
    // The daemon runs as its own process: media on loopback.
    .loopback_media())
    .await?;
    let log = env.dir.path().join("daemon.log");
    let mut daemon = DaemonProcess::start(
        &bin,
        env.config_path(),
        format!("{}/healthz", env.daemon_url()),
        log.clone(),
        opts.pin.as_ref().map(|c| c.daemon),
    )
    .await?;
    let daemon_cpus = opts.pin.as_ref().and(daemon.pid()).and_then(cpus_allowed);
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
    let webhook = format!("{}{}", env.daemon_url(), crate::routes::ROUTE_ZALO_WEBHOOK);
    let (lo, hi) = (opts.kill_every.0.as_millis(), opts.kill_every.1.as_millis());
    let mut kills = 0;
    let killed: anyhow::Result<()> = async {
        for _ in 0..opts.kills {
            let wait = lo + rng.u128(0..=hi - lo);
            tokio::time::sleep(Duration::from_millis(wait as u64)).await;
            daemon.kill().await?;
            kills += 1;
            tokio::time::sleep(Duration::from_millis(rng.u64(0..=200))).await;
            daemon.restart().await?;
            restarts.push(daemon.last_start.as_secs_f64() * 1000.0);
            reenabled += reenable_webhook(&env, &webhook);
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
        restart: Stats::of(restarts),
        wall_secs: t0.elapsed().as_secs_f64(),
        daemon_cpus,
        ..SoakReport::default()
    };
    daemon.kill().await?;
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
    let db = env.dir.path().join("zfsync.db");
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
                        inbox_rows(&db, &ids)
                    ));
                }
            }
        }
    }
    if !report.clean() {
        let keep = std::env::temp_dir().join(format!("zfsync-soak-{}.log", opts.seed));
        if std::fs::copy(&log, &keep).is_ok() {
            report
                .problems
                .push(format!("the daemon's log is kept at {}", keep.display()));
        }
    }
    Ok(report)
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

/// The inbox rows of these Zalo msg_ids, for a report (the daemon must be stopped).
fn inbox_rows(db: &std::path::Path, ids: &[&String]) -> String {
    let read = || -> rusqlite::Result<Vec<String>> {
        let conn = rusqlite::Connection::open(db)?;
        let mut out = Vec::new();
        for id in ids {
            let row = conn.query_row(
                "SELECT event_time, received_at, id FROM inbox WHERE source = 'zalo' AND dedupe_key = ?1",
                [id.as_str()],
                |r| Ok(format!("({id}, {}, {}, {})", r.get::<_, i64>(0)?, r.get::<_, i64>(1)?, r.get::<_, i64>(2)?)),
            );
            out.push(row.unwrap_or_else(|_| format!("({id}: not in the inbox)")));
        }
        Ok(out)
    };
    read().map_or_else(|e| format!("cannot read the store: {e}"), |v| v.join(" "))
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
