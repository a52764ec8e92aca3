//! Lane takeover, measured from the store: when a daemon process on PostgreSQL is SIGKILLed, the
//! lanes it was draining stay leased to it (`lane_leases`: holder, expiry) until the lease runs
//! out; then another process (another replica, or the killed one restarted, which is a new holder)
//! takes them. [`LeaseWatch`] reads `lane_leases` and whether each lane has pending events every
//! [`POLL`], and for every lane a killed process held measures how long it waited:
//!
//! - from the kill, when the lane had events pending then;
//! - when it had none (the process died between its last event and giving the lease up), from the
//!   last look that found it still empty, so a customer who writes a minute later does not count
//!   a minute; a lane that stays empty to the end needed no takeover and is counted apart;
//!
//! to the first look that finds the lease another holder's, or gone (only a holder deletes its
//! row, so a row gone was taken over and given up between two looks). Each figure is thus late by
//! up to one look, never early. A holder is told apart by its process id, the first part of the
//! store's replica id (`<pid>-<random>`).
//!
//! Failure: a statement that fails ends the watch with an error at [`LeaseWatch::finish`] (the
//! soak then fails to report rather than report a takeover it did not see).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;

use super::report::Stats;
pub use super::report::Takeover;
use super::{epoch_ms, lock};

/// How often the store is read.
pub const POLL: Duration = Duration::from_millis(100);

/// Connects to the store's database (the harness's own connection, beside the daemons').
pub async fn connect(url: &str) -> anyhow::Result<Arc<tokio_postgres::Client>> {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .context("the soak cannot connect to the daemons' PostgreSQL database")?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::error!(error = %e, "the soak's PostgreSQL connection ended");
        }
    });
    Ok(Arc::new(client))
}

/// One lane a killed process held.
#[derive(Debug)]
struct Held {
    pairing: String,
    lane: String,
    /// The replica (position in the soak) that held it, and its process id.
    replica: usize,
    pid: u32,
    /// The lease's expiry (database clock, unix ms).
    expires_at: i64,
    /// When the lane started waiting (unix ms): the kill, or the look before its next event.
    since: Option<f64>,
    /// The last look that found it held by the dead process with nothing pending.
    last_idle: f64,
    /// When and by which replica it was taken (None: the row was gone, or the holder unknown).
    taken: Option<(f64, Option<usize>)>,
}

#[derive(Debug, Default)]
struct State {
    held: Vec<Held>,
    /// Process id → replica position, of every process the soak started.
    replicas: HashMap<u32, usize>,
    error: Option<String>,
    /// When the watch started (unix ms).
    t0: f64,
}

/// Watches the leases of one database while replicas are killed; see the module's text.
#[derive(Debug)]
pub struct LeaseWatch {
    client: Arc<tokio_postgres::Client>,
    state: Arc<Mutex<State>>,
    lease: Duration,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for LeaseWatch {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A lease row as a look finds it: holder's process id, whether its lane has events pending.
type Rows = HashMap<(String, String), (Option<u32>, bool)>;

const LOOK: &str = "SELECT l.pairing, l.lane, l.holder, EXISTS (SELECT 1 FROM inbox i
     WHERE i.pairing = l.pairing AND i.lane = l.lane AND i.state = 'pending'), l.expires_at
     FROM lane_leases l";

impl LeaseWatch {
    /// Starts looking, for replicas whose leases last `lease`.
    pub fn start(client: Arc<tokio_postgres::Client>, lease: Duration) -> LeaseWatch {
        let state = Arc::new(Mutex::new(State {
            t0: epoch_ms(),
            ..State::default()
        }));
        let (c, st) = (client.clone(), state.clone());
        let task = tokio::spawn(async move {
            loop {
                tokio::time::sleep(POLL).await;
                match look(&c).await {
                    Ok(rows) => update(&mut lock(&st), &rows, epoch_ms()),
                    Err(e) => {
                        lock(&st).error = Some(format!("{e:#}"));
                        return;
                    }
                }
            }
        });
        LeaseWatch {
            client,
            state,
            lease,
            task,
        }
    }

    /// Process `pid` runs as replica `replica`.
    pub fn started(&self, replica: usize, pid: Option<u32>) {
        if let Some(pid) = pid {
            lock(&self.state).replicas.insert(pid, replica);
        }
    }

    /// Process `pid` was SIGKILLed (and reaped) at `at` (unix ms): the lanes it held are watched.
    pub async fn killed(&self, pid: u32, at: f64) -> anyhow::Result<()> {
        let rows = self
            .client
            .query(
                &format!("{LOOK} WHERE l.holder LIKE $1"),
                &[&format!("{pid}-%")],
            )
            .await
            .context("cannot read the lanes the killed replica held")?;
        let mut st = lock(&self.state);
        let replica = st.replicas.get(&pid).copied().unwrap_or(usize::MAX);
        for r in rows {
            let (pairing, lane): (String, String) = (r.get(0), r.get(1));
            let (pending, expires_at): (bool, i64) = (r.get(3), r.get(4));
            st.held.push(Held {
                pairing,
                lane,
                replica,
                pid,
                expires_at,
                since: pending.then_some(at),
                last_idle: at,
                taken: None,
            });
        }
        Ok(())
    }

    /// Stops looking; one last look, then the figures.
    pub async fn finish(&self) -> anyhow::Result<Takeover> {
        self.task.abort();
        let rows = look(&self.client).await?;
        let mut st = lock(&self.state);
        if let Some(e) = &st.error {
            anyhow::bail!("the lease watch stopped: {e}");
        }
        update(&mut st, &rows, epoch_ms());
        let lease_ms = self.lease.as_secs_f64() * 1000.0;
        let slack = crate::lanes::SWEEP_EVERY + Duration::from_secs(1);
        let mut t = Takeover {
            look_every_ms: POLL.as_millis(),
            lease_ms,
            bound_ms: lease_ms + slack.as_secs_f64() * 1000.0,
            held: st.held.len(),
            ..Takeover::default()
        };
        let (mut wait, mut after, mut slowest) = (Vec::new(), Vec::new(), Vec::new());
        for h in &st.held {
            match (h.taken, h.since) {
                (Some((at, by)), since) => {
                    let since = since.unwrap_or(h.last_idle);
                    wait.push(at - since);
                    after.push((at - since.max(h.expires_at as f64)).max(0.0));
                    slowest.push((at - since, h, at, by));
                    match by {
                        Some(r) if r == h.replica => t.by_restarted += 1,
                        Some(_) => t.by_other_replica += 1,
                        None => t.between_looks += 1,
                    }
                }
                (None, Some(_)) => t.stranded += 1,
                (None, None) => t.idle += 1,
            }
        }
        slowest.sort_by(|a, b| b.0.total_cmp(&a.0));
        let name = |r: Option<usize>| match r {
            Some(r) => format!("replica {r}"),
            None => "unseen".to_string(),
        };
        t.slowest = slowest
            .into_iter()
            .take(5)
            .map(|(w, h, at, by)| {
                format!(
                    "{} held by replica {} (pid {}) waited {w:.0} ms from {:.1} s into the watch, lease expired {:.0} ms after, taken by {}",
                    h.lane,
                    h.replica,
                    h.pid,
                    (at - w - st.t0) / 1000.0,
                    h.expires_at as f64 - (at - w),
                    name(by)
                )
            })
            .collect();
        t.wait = Stats::of(wait);
        t.after_expiry = Stats::of(after);
        Ok(t)
    }

    /// The lanes still waiting for a takeover, described (for the report's problems).
    pub fn describe_stranded(&self) -> Vec<String> {
        lock(&self.state)
            .held
            .iter()
            .filter(|h| h.taken.is_none() && h.since.is_some())
            .map(|h| {
                format!(
                    "lane {} of pairing {} (held by process {}) still waits for a takeover",
                    h.lane, h.pairing, h.pid
                )
            })
            .collect()
    }

    /// The harness's connection to the store.
    pub fn client(&self) -> &tokio_postgres::Client {
        &self.client
    }
}

async fn look(client: &tokio_postgres::Client) -> anyhow::Result<Rows> {
    let rows = client
        .query(LOOK, &[])
        .await
        .context("cannot read the lane leases")?;
    Ok(rows
        .iter()
        .map(|r| {
            let holder: String = r.get(2);
            let pid = holder.split('-').next().and_then(|p| p.parse().ok());
            ((r.get(0), r.get(1)), (pid, r.get(3)))
        })
        .collect())
}

fn update(st: &mut State, rows: &Rows, now: f64) {
    let State { held, replicas, .. } = st;
    for h in held.iter_mut().filter(|h| h.taken.is_none()) {
        match rows.get(&(h.pairing.clone(), h.lane.clone())) {
            Some((pid, pending)) if *pid == Some(h.pid) => {
                if *pending {
                    h.since.get_or_insert(h.last_idle);
                } else if h.since.is_none() {
                    h.last_idle = now;
                }
            }
            Some((pid, _)) => {
                h.taken = Some((now, pid.and_then(|p| replicas.get(&p).copied())));
            }
            None => h.taken = Some((now, None)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn held(pid: u32, replica: usize, since: Option<f64>) -> Held {
        Held {
            pairing: "default".into(),
            lane: "zalo:1".into(),
            replica,
            pid,
            expires_at: 10_000,
            since,
            last_idle: 1_000.0,
            taken: None,
        }
    }

    fn rows(pid: Option<u32>, pending: bool) -> Rows {
        HashMap::from([(("default".into(), "zalo:1".into()), (pid, pending))])
    }

    #[test]
    fn a_lane_with_work_waits_from_the_kill_until_another_holder_has_it() {
        let mut st = State {
            held: vec![held(7, 0, Some(1_000.0))],
            replicas: HashMap::from([(7, 0), (8, 1)]),
            ..State::default()
        };
        update(&mut st, &rows(Some(7), true), 5_000.0);
        assert_eq!(st.held[0].taken, None);
        update(&mut st, &rows(Some(8), true), 11_000.0);
        assert_eq!(st.held[0].taken, Some((11_000.0, Some(1))));
    }

    #[test]
    fn an_idle_lane_waits_only_from_the_look_before_its_next_event() {
        let mut st = State {
            held: vec![held(7, 0, None)],
            ..State::default()
        };
        update(&mut st, &rows(Some(7), false), 30_000.0);
        update(&mut st, &rows(Some(7), true), 30_100.0);
        assert_eq!(st.held[0].since, Some(30_000.0));
        // Taken and given up between two looks: taken at the look that finds the row gone.
        update(&mut st, &HashMap::new(), 30_200.0);
        assert_eq!(st.held[0].taken, Some((30_200.0, None)));
    }
}
