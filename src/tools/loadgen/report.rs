//! What a run measured, and how it is printed: percentiles, ingest figures, the flow modes'
//! report, the ingest table and the soak's tally. Also the readers of `/proc` that the figures come
//! from (memory, CPU time of a process or of some threads, allowed CPUs); where `/proc` cannot be
//! read they answer 0 or `None` rather than fail, and the report says so.

use std::fmt;

/// Percentiles of a sample, in milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Stats {
    /// Sample size.
    pub n: usize,
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Largest value.
    pub max: f64,
}

impl Stats {
    /// Nearest-rank percentiles of `v` (all zero when empty).
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
    /// Requests answered 200.
    pub requests: usize,
    /// `requests` per second of load.
    pub per_sec: f64,
    /// Acknowledgement latency at the sender.
    pub ack: Stats,
}

/// The daemon's own acknowledgement times (`zfsync_webhook_ack_seconds` of its `/metrics`) over
/// the measured phase: cumulative counts per bucket bound, in seconds.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DaemonAcks {
    /// (upper bound in seconds, acknowledgements at or under it); `+Inf` last.
    pub buckets: Vec<(f64, u64)>,
}

impl DaemonAcks {
    /// Reads one source's buckets from a Prometheus text page.
    pub fn parse(page: &str, source: &str) -> DaemonAcks {
        let label = format!("source=\"{source}\"");
        let mut buckets = Vec::new();
        for line in page.lines() {
            let Some(rest) = line.strip_prefix("zfsync_webhook_ack_seconds_bucket{") else {
                continue;
            };
            let Some((labels, value)) = rest.split_once("} ") else {
                continue;
            };
            if !labels.split(',').any(|l| l == label) {
                continue;
            }
            let le = labels
                .split(',')
                .find_map(|l| l.strip_prefix("le=\""))
                .map(|v| v.trim_end_matches('"'));
            let bound = match le {
                Some("+Inf") => f64::INFINITY,
                Some(v) => match v.parse() {
                    Ok(b) => b,
                    Err(_) => continue,
                },
                None => continue,
            };
            if let Ok(n) = value.trim().parse::<f64>() {
                buckets.push((bound, n as u64));
            }
        }
        buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
        DaemonAcks { buckets }
    }

    /// What was added since `before` (the same buckets).
    pub fn since(&self, before: &DaemonAcks) -> DaemonAcks {
        let buckets = self
            .buckets
            .iter()
            .map(|&(b, n)| {
                let was = before
                    .buckets
                    .iter()
                    .find(|(x, _)| *x == b)
                    .map_or(0, |(_, m)| *m);
                (b, n.saturating_sub(was))
            })
            .collect();
        DaemonAcks { buckets }
    }

    /// All acknowledgements counted.
    pub fn total(&self) -> u64 {
        self.buckets.last().map_or(0, |(_, n)| *n)
    }

    /// The share (0–100) answered within `secs`, when that is one of the bounds.
    pub fn within(&self, secs: f64) -> Option<f64> {
        let total = self.total();
        let n = self.buckets.iter().find(|(b, _)| *b == secs)?.1;
        (total > 0).then(|| n as f64 * 100.0 / total as f64)
    }
}

impl std::fmt::Display for DaemonAcks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let share = |s: f64| {
            self.within(s)
                .map_or_else(|| "?".to_string(), |p| format!("{p:.1} %"))
        };
        write!(
            f,
            "{} within 2.5 ms, {} within 5 ms, {} within 25 ms (n={})",
            share(0.0025),
            share(0.005),
            share(0.025),
            self.total()
        )
    }
}

/// Backlog figures.
#[derive(Debug, Clone, Copy, Default)]
pub struct Backlog {
    /// Events acknowledged during the outage.
    pub queued: usize,
    /// `zfsync_queue_depth` when Freshchat healed.
    pub queue_depth_at_heal: Option<f64>,
    /// How long queueing the events took.
    pub ingest_secs: f64,
    /// From heal to the last message visible in Freshchat.
    pub drain_secs: f64,
    /// `queued / drain_secs`.
    pub drain_per_sec: f64,
    /// Resident memory with the backlog queued (whole process, or the daemon's own).
    pub rss_queued_kb: u64,
}

/// What a steady, flood, backlog or slow run measured. Produced only when every message arrived
/// exactly once and in order.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// The mode's name.
    pub mode: String,
    /// The daemon ran as its own process: memory figures are the daemon's alone.
    pub daemon_process: bool,
    /// The daemon's allowed CPUs (`Cpus_allowed_list`) when it ran as its own process.
    pub daemon_cpus: Option<String>,
    /// Zalo users (conversations).
    pub users: usize,
    /// Messages per user and direction actually planned.
    pub messages_per_user: usize,
    /// Messages sent in the measured phase, Zalo → Freshchat.
    pub sent_zalo: usize,
    /// Messages sent in the measured phase, Freshchat → Zalo.
    pub sent_freshchat: usize,
    /// Zalo webhooks posted a second time (all answered without a second message).
    pub duplicates_posted: usize,
    /// From starting the daemon to `/healthz` answering.
    pub startup_ms: f64,
    /// Resident memory after start-up and connecting Zalo.
    pub rss_idle_kb: u64,
    /// Peak resident memory (`VmHWM`).
    pub rss_peak_kb: u64,
    /// Database + WAL at the end.
    pub store_bytes: u64,
    /// Zalo webhook acknowledgements by the daemon (measured phase, duplicates included).
    pub ingest: Ingest,
    /// The bare axum + SQLite handler under the same load, when run.
    pub baseline: Option<Ingest>,
    /// The daemon's own answer times for Zalo and Freshchat webhooks in the measured phase (its
    /// histogram: no client or harness scheduling in them).
    pub daemon_acks: Option<(DaemonAcks, DaemonAcks)>,
    /// Webhook sent → message in Freshchat.
    pub e2e_zalo_to_freshchat: Stats,
    /// Agent message → Zalo send.
    pub e2e_freshchat_to_zalo: Stats,
    /// Messages delivered per second, from the first send to the last arrival.
    pub messages_per_sec: f64,
    /// First send to last arrival.
    pub wall_secs: f64,
    /// Backlog mode's figures.
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
        if let Some(cpus) = &self.daemon_cpus {
            writeln!(f, "daemon CPUs         {cpus}")?;
        }
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
        if let Some((z, fc)) = &self.daemon_acks {
            writeln!(f, "daemon-side ack     zalo: {z}")?;
            writeln!(f, "                    freshchat: {fc}")?;
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

/// One server under the ingest load: the daemon in one upstream condition, or the baseline.
#[derive(Debug, Clone, Default)]
pub struct IngestRow {
    /// What was loaded, e.g. "daemon, Freshchat parked".
    pub name: String,
    /// Acknowledgements (200) and their latency.
    pub ingest: Ingest,
    /// Requests that failed (connection error or a status other than 200).
    pub failed: usize,
    /// CPU time of the server (its process, or the baseline's threads) during the load, in seconds.
    pub server_cpu_secs: f64,
    /// CPU time of the load generator's whole process during the load (client, simulators, parked
    /// listener), in seconds: the client's CPU is at most this.
    pub harness_cpu_secs: f64,
    /// Length of the load, in seconds.
    pub load_secs: f64,
    /// Acknowledged bodies found in the server's store afterwards, each exactly once.
    pub stored: usize,
    /// The server's allowed CPUs during the load, when pinned.
    pub cpus: Option<String>,
    /// The pre-signed bodies ran out before the time did.
    pub exhausted: bool,
}

impl IngestRow {
    /// Server CPU per acknowledged webhook, in microseconds.
    pub fn cpu_us_per_ack(&self) -> f64 {
        self.server_cpu_secs * 1e6 / (self.ingest.requests.max(1) as f64)
    }

    /// The load generator's CPU share of one core during the load.
    pub fn harness_cores(&self) -> f64 {
        self.harness_cpu_secs / self.load_secs.max(1e-9)
    }
}

/// The ingest mode's figures: each condition of the daemon, and the baseline.
#[derive(Debug, Clone, Default)]
pub struct IngestReport {
    /// Connections of the closed-loop load.
    pub connections: usize,
    /// Zalo users the bodies come from.
    pub users: usize,
    /// Pre-signed unique bodies available to each load.
    pub bodies: usize,
    /// Rows in the order loaded: daemon conditions first, then the baseline.
    pub rows: Vec<IngestRow>,
    /// How the processes were placed on CPUs, when pinned.
    pub pinning: Option<String>,
}

impl IngestReport {
    /// The baseline's row, when it ran.
    pub fn baseline(&self) -> Option<&IngestRow> {
        self.rows.iter().find(|r| r.name.starts_with("baseline"))
    }
}

impl fmt::Display for IngestReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "mode ingest: closed loop, {} connections, unique signed user_send_text bodies from {} users ({} pre-signed)",
            self.connections, self.users, self.bodies
        )?;
        if let Some(p) = &self.pinning {
            writeln!(f, "pinned: {p}")?;
        }
        writeln!(
            f,
            "verified: every acknowledged body is in the server's store exactly once"
        )?;
        writeln!(
            f,
            "{:<34} {:>9} {:>9} {:>9} {:>11} {:>8} {:>10}",
            "server", "acks/s", "p50 ms", "p99 ms", "CPU µs/ack", "× base", "load CPU"
        )?;
        let base = self.baseline().map(|b| b.ingest.per_sec);
        for r in &self.rows {
            let ratio = match base {
                Some(b) if b > 0.0 => format!("{:.2}", r.ingest.per_sec / b),
                _ => "-".into(),
            };
            writeln!(
                f,
                "{:<34} {:>9.0} {:>9.2} {:>9.2} {:>11.1} {:>8} {:>9.2}c{}{}",
                r.name,
                r.ingest.per_sec,
                r.ingest.ack.p50,
                r.ingest.ack.p99,
                r.cpu_us_per_ack(),
                ratio,
                r.harness_cores(),
                if r.failed > 0 {
                    format!("  ({} failed)", r.failed)
                } else {
                    String::new()
                },
                if r.exhausted {
                    "  (bodies ran out)"
                } else {
                    ""
                },
            )?;
        }
        write!(
            f,
            "(load CPU: the generator's whole process per second of load — client, simulators, listener — an upper bound for the client)"
        )
    }
}

/// The soak's tally, from the simulators' records.
#[derive(Debug, Clone, Default)]
pub struct SoakReport {
    /// SIGKILLs of the daemon process (each followed by a restart on the same store); with
    /// replicas, of the first one.
    pub kills: usize,
    /// Daemon processes on the one store (webhooks spread round-robin across them when more
    /// than one).
    pub replicas: usize,
    /// SIGKILLs of the other replicas, together.
    pub other_kills: usize,
    /// "SQLite" or "PostgreSQL".
    pub store: &'static str,
    /// With replicas: webhooks each one answered, those passed on because the replica in turn was
    /// down, and those answered 502 (the platform delivered them again).
    pub spread: Option<SpreadFigures>,
    /// On PostgreSQL: how the lanes of killed processes were taken over.
    pub takeover: Option<Takeover>,
    /// Zalo users (conversations).
    pub users: usize,
    /// Customer messages sent through the Zalo simulator.
    pub sent_zalo: usize,
    /// Agent messages sent through the Freshchat simulator.
    pub sent_freshchat: usize,
    /// Messages that never arrived, both directions.
    pub lost: usize,
    /// Extra copies, both directions.
    pub doubled: usize,
    /// Messages that arrived after a later one of the same conversation and direction.
    pub out_of_order: usize,
    /// Of `out_of_order`, Zalo → Freshchat messages whose webhook Zalo delivered again after a
    /// failed attempt while it went on delivering the user's later events: the platform itself
    /// handed them over after a later message.
    pub out_of_order_redelivered: usize,
    /// Share of upstream calls set to fail.
    pub fault_rate: f64,
    /// Seed of the faults, the kill moments and the traffic.
    pub seed: u64,
    /// Faults the Freshchat simulator injected (5xx, 429, hangs).
    pub freshchat_faults: u64,
    /// Times the Zalo simulator disabled the webhook after its retry ladder and it was set again.
    pub webhook_reenabled: usize,
    /// Times the daemon said Zalo needs re-authorization and the OA was connected again, as an
    /// operator would: a process killed after Zalo answered a token refresh but before the new
    /// pair was committed spent the single-use refresh token and lost its successor.
    pub zalo_reauthorized: usize,
    /// Median and worst restart (spawn to `/healthz`), ms.
    pub restart: Stats,
    /// First send to the last check.
    pub wall_secs: f64,
    /// The daemon's allowed CPUs, when pinned.
    pub daemon_cpus: Option<String>,
    /// Up to a few conversations with problems, described.
    pub problems: Vec<String>,
}

/// What the replicas' load balancer did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SpreadFigures {
    /// Webhooks each replica answered, by position.
    pub answered: Vec<u64>,
    /// Connections refused by a replica that was down (the webhook went to the next one).
    pub refused: u64,
    /// Webhooks answered 502: the replica died with the request in hand.
    pub bad_gateway: u64,
}

impl SoakReport {
    /// Nothing lost or doubled, nothing out of order that the platforms delivered in order, and
    /// every lane a killed process held taken over within the bound: what the soak proves.
    pub fn passed(&self) -> bool {
        self.clean_but_platform_reordering()
            && self.takeover.as_ref().is_none_or(Takeover::within_bound)
    }

    /// Nothing lost, doubled or out of order.
    pub fn clean(&self) -> bool {
        self.lost == 0 && self.doubled == 0 && self.out_of_order == 0
    }

    /// Nothing lost or doubled, and no message out of order that the platform delivered in order.
    pub fn clean_but_platform_reordering(&self) -> bool {
        self.lost == 0 && self.doubled == 0 && self.out_of_order == self.out_of_order_redelivered
    }
}

impl fmt::Display for SoakReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.replicas > 1 {
            writeln!(
                f,
                "mode soak: {} users, {:.0} % of upstream calls failing (seed {}), {} daemon replicas on one {} database, webhooks round-robin, each SIGKILLed and restarted",
                self.users,
                self.fault_rate * 100.0,
                self.seed,
                self.replicas,
                self.store
            )?;
        } else {
            writeln!(
                f,
                "mode soak: {} users, {:.0} % of upstream calls failing (seed {}), daemon on {} SIGKILLed and restarted on the same store",
                self.users,
                self.fault_rate * 100.0,
                self.seed,
                self.store
            )?;
        }
        if let Some(cpus) = &self.daemon_cpus {
            writeln!(f, "daemon CPUs         {cpus}")?;
        }
        if self.replicas > 1 {
            writeln!(
                f,
                "kills               {} of the first replica, {} of the others",
                self.kills, self.other_kills
            )?;
        } else {
            writeln!(f, "kills               {}", self.kills)?;
        }
        if let Some(s) = &self.spread {
            writeln!(
                f,
                "webhooks            answered {:?} by replica; {} refused by a replica that was down (went to the next), {} answered 502 (delivered again)",
                s.answered, s.refused, s.bad_gateway
            )?;
        }
        writeln!(
            f,
            "messages            {} ({} Zalo → Freshchat, {} Freshchat → Zalo)",
            self.sent_zalo + self.sent_freshchat,
            self.sent_zalo,
            self.sent_freshchat
        )?;
        writeln!(f, "lost                {}", self.lost)?;
        writeln!(f, "doubled             {}", self.doubled)?;
        writeln!(
            f,
            "out of order        {} ({} of them Zalo webhooks redelivered after a later message of the same user)",
            self.out_of_order, self.out_of_order_redelivered
        )?;
        writeln!(
            f,
            "faults injected     Freshchat {}; Zalo webhook re-enabled {} times; Zalo re-authorized {} times",
            self.freshchat_faults, self.webhook_reenabled, self.zalo_reauthorized
        )?;
        writeln!(f, "restart             {}", self.restart)?;
        if let Some(t) = &self.takeover {
            writeln!(f, "{t}")?;
        }
        write!(f, "wall                {:.1} s", self.wall_secs)?;
        for p in &self.problems {
            write!(f, "\n  {p}")?;
        }
        Ok(())
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
    let field = |name: &str| {
        status_field(&s, name)
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// `VmRSS` and `VmHWM` of this process in kB (0 where /proc is not available).
pub fn memory_kb() -> (u64, u64) {
    memory_kb_of(None)
}

/// The CPUs a process may run on (`Cpus_allowed_list`, e.g. "1" or "0-1").
pub fn cpus_allowed(pid: u32) -> Option<String> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status_field(&s, "Cpus_allowed_list:").map(str::to_string)
}

fn status_field<'a>(s: &'a str, name: &str) -> Option<&'a str> {
    s.lines().find_map(|l| l.strip_prefix(name)).map(str::trim)
}

/// utime + stime of a `/proc/.../stat` line, in clock ticks. The command name (field 2) may hold
/// spaces and parentheses, so fields are counted after its closing parenthesis.
fn stat_ticks(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut it = rest.split_whitespace().skip(11); // fields 14 and 15 overall
    let utime: u64 = it.next()?.parse().ok()?;
    let stime: u64 = it.next()?.parse().ok()?;
    Some(utime + stime)
}

/// CPU time (user + system, all threads) of a process in seconds, from `/proc/<pid>/stat`; of
/// this process when `pid` is None.
pub fn cpu_secs_of(pid: Option<u32>) -> Option<f64> {
    let path = match pid {
        Some(p) => format!("/proc/{p}/stat"),
        None => "/proc/self/stat".to_string(),
    };
    let ticks = stat_ticks(&std::fs::read_to_string(path).ok()?)?;
    Some(ticks as f64 / ticks_per_sec())
}

/// CPU time of some threads of this process in seconds (threads that are gone count 0).
pub fn thread_cpu_secs(tids: &[i32]) -> f64 {
    let ticks: u64 = tids
        .iter()
        .filter_map(|t| std::fs::read_to_string(format!("/proc/self/task/{t}/stat")).ok())
        .filter_map(|s| stat_ticks(&s))
        .sum();
    ticks as f64 / ticks_per_sec()
}

fn ticks_per_sec() -> f64 {
    (rustix::param::clock_ticks_per_second() as f64).max(1.0)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::DaemonAcks;

    #[test]
    fn the_daemons_ack_histogram_is_read_per_source_and_differenced() {
        let page = |n: u64| {
            format!(
                "# TYPE zfsync_webhook_ack_seconds histogram\n\
                 zfsync_webhook_ack_seconds_bucket{{source=\"zalo\",le=\"0.0025\"}} {}\n\
                 zfsync_webhook_ack_seconds_bucket{{source=\"zalo\",le=\"0.005\"}} {}\n\
                 zfsync_webhook_ack_seconds_bucket{{source=\"zalo\",le=\"0.025\"}} {}\n\
                 zfsync_webhook_ack_seconds_bucket{{source=\"zalo\",le=\"+Inf\"}} {}\n\
                 zfsync_webhook_ack_seconds_bucket{{source=\"freshchat\",le=\"+Inf\"}} 7\n",
                n,
                n * 2,
                n * 2,
                n * 2
            )
        };
        let before = DaemonAcks::parse(&page(10), "zalo");
        let after = DaemonAcks::parse(&page(60), "zalo");
        let run = after.since(&before);
        assert_eq!(run.total(), 100);
        assert_eq!(run.within(0.0025), Some(50.0));
        assert_eq!(run.within(0.005), Some(100.0));
        assert_eq!(DaemonAcks::parse(&page(1), "freshchat").total(), 7);
        assert_eq!(DaemonAcks::parse("", "zalo").total(), 0);
    }

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
    fn stat_ticks_skip_a_command_name_with_spaces_and_parentheses() {
        let line = "4242 (tokio (rt) w) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 37 0 0 20 0 3 0";
        assert_eq!(stat_ticks(line), Some(287));
        assert_eq!(stat_ticks("garbage"), None);
    }

    #[test]
    fn this_process_has_cpu_time_and_memory() {
        if cfg!(target_os = "linux") {
            let mut x = 0u64;
            for i in 0..2_000_000u64 {
                x = x.wrapping_mul(31).wrapping_add(i);
            }
            assert!(x != 1);
            assert!(cpu_secs_of(None).is_some());
            assert!(memory_kb().0 > 0);
            assert!(cpus_allowed(std::process::id()).is_some());
        }
    }
}

/// How the lanes of killed processes were taken over.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Takeover {
    /// `sync.lane_lease_secs`, in ms.
    pub lease_ms: f64,
    /// The longest a lane may wait: the lease, then the dispatcher's sweep (which finds a lane no
    /// webhook pointed at) and its next look at a lane leased elsewhere (at most a second).
    pub bound_ms: f64,
    /// Lanes a killed process held when it died.
    pub held: usize,
    /// Of those, taken by another replica.
    pub by_other_replica: usize,
    /// Of those, taken by the killed replica once restarted (a new process, a new holder).
    pub by_restarted: usize,
    /// Of those, taken and given back between two looks (by whom is not seen).
    pub between_looks: usize,
    /// Held with no event pending, and none came before the end: nothing to take over.
    pub idle: usize,
    /// Held with events pending and never taken over before the end.
    pub stranded: usize,
    /// Waiting time of each lane taken over (from the kill, or from its next event), ms.
    pub wait: Stats,
    /// From the lease's expiry (or the lane's next event, when later) to the takeover, ms: the
    /// replicas' own delay once the lease let them.
    pub after_expiry: Stats,
    /// The longest waits, described (lane, who held it, when, who took it).
    pub slowest: Vec<String>,
    /// How often the store was looked at, ms (each figure is late by up to one look).
    pub look_every_ms: u128,
}

impl Takeover {
    /// Every lane with work was taken over, none later than the bound.
    pub fn within_bound(&self) -> bool {
        self.stranded == 0 && self.wait.max <= self.bound_ms
    }
}

impl fmt::Display for Takeover {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "lanes held at a kill {} (taken by another replica {}, by the killed one restarted {}, between two looks {}; nothing left to do {}; never taken {})",
            self.held,
            self.by_other_replica,
            self.by_restarted,
            self.between_looks,
            self.idle,
            self.stranded
        )?;
        writeln!(
            f,
            "takeover wait       p50 {:.0} ms, p90 {:.0} ms, max {:.0} ms (n={}); lease {:.0} ms, bound {:.0} ms: {}",
            self.wait.p50,
            self.wait.p90,
            self.wait.max,
            self.wait.n,
            self.lease_ms,
            self.bound_ms,
            if self.within_bound() { "within" } else { "EXCEEDED" }
        )?;
        write!(
            f,
            "  after lease expiry p50 {:.0} ms, max {:.0} ms (looks every {} ms)",
            self.after_expiry.p50, self.after_expiry.max, self.look_every_ms
        )?;
        for w in &self.slowest {
            write!(f, "\n  slowest: {w}")?;
        }
        Ok(())
    }
}
