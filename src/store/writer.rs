//! The writer thread, the same for both backends: it owns the write connection, runs the waiting
//! closures in ONE transaction (urgent ones first, each inside its own savepoint so one failing
//! closure does not undo the others) and answers them only after COMMIT (group commit).
//!
//! Failure: a closure that fails rolls back its own savepoint and gets its error; a failed COMMIT
//! (or a transaction the backend abandoned: SQLite rolls back by itself on a full disk, PostgreSQL
//! refuses everything after a statement failed outside a savepoint) fails every closure that ran
//! in it, and the closures that had not run yet wait for the next batch.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, Ordering};
use std::sync::Arc;

use tokio::sync::{mpsc, oneshot, OwnedSemaphorePermit};

use super::db::{Db, PgConn};
use super::inbox::{insert_event, insert_events_pg, Ingested, NewEvent};
use super::StoreError;
use crate::telemetry::events::{InternalEvent, StoreCommitted, StoreFullChanged};

/// The channel the writer notifies (at COMMIT) with the name of each pairing that got new work,
/// and every process on the database listens on (`Store::listen_for_work`).
pub(crate) const WORK_CHANNEL: &str = "zfsync_work";

/// The writer's server process, whose notifications its own process skips (0: none yet).
#[derive(Debug, Clone, Default)]
pub(super) struct WriterPid(Arc<AtomicI32>);

impl WriterPid {
    pub(super) fn set(&self, pid: i32) {
        self.0.store(pid, Ordering::Relaxed);
    }

    pub(super) fn get(&self) -> i32 {
        self.0.load(Ordering::Relaxed)
    }
}

/// Most write closures one transaction takes; the rest wait for the next batch.
const MAX_BATCH: usize = 256;

/// What answers a write's caller once its batch's fate is known.
pub(super) type Completion = Box<dyn FnOnce(Result<(), String>) + Send>;

/// How a write went inside its transaction: whether it hit a full disk, whether it succeeded.
#[derive(Clone, Copy)]
pub(super) struct Ran {
    full: bool,
    ok: bool,
}

/// A write: run inside the batch's transaction (`Some`), or told the transaction could not begin
/// (`None`); it returns what answers its caller once the batch's fate is known, and how it went.
pub(super) type WriteJob = Box<dyn FnOnce(Option<&Db<'_>>) -> (Completion, Ran) + Send>;

/// A queued write and its place in the queue.
pub(super) struct Queued {
    pub(super) work: Work,
    pub(super) urgent: bool,
    pub(super) _permit: OwnedSemaphorePermit,
}

/// What a queued write does.
pub(super) enum Work {
    /// Runs a closure in the batch's transaction.
    Run(WriteJob),
    /// Stores a webhook's event. Kept as data so that on PostgreSQL the batch's events go in one
    /// statement ([`insert_events_pg`]), and can be inserted again one by one if it fails.
    Insert(EventInsert),
}

/// A webhook's event for the inbox, and who waits for it.
pub(super) struct EventInsert {
    pub(super) pairing: String,
    pub(super) event: NewEvent,
    pub(super) tx: oneshot::Sender<Result<Ingested, StoreError>>,
}

impl EventInsert {
    /// The same insert as a job of its own: one statement, which SQLite keeps atomic by itself
    /// (PostgreSQL runs it in a savepoint all the same).
    fn into_job(self) -> WriteJob {
        let EventInsert { pairing, event, tx } = self;
        job(move |c| insert_event(c, &pairing, &event), false, tx)
    }
}

/// Inserts a batch's webhook events on PostgreSQL in one statement, first in the transaction;
/// returns what answers each once the batch's fate is known. If the statement fails (a bad row),
/// the transaction is begun afresh and the events come back to be run one by one, each in its own
/// savepoint, so that only the bad one fails.
fn insert_batch_pg(
    pg: &PgConn,
    inserts: Vec<EventInsert>,
) -> Result<Vec<(Completion, Ran)>, Vec<EventInsert>> {
    let events: Vec<(&str, &NewEvent)> = inserts
        .iter()
        .map(|i| (i.pairing.as_str(), &i.event))
        .collect();
    match insert_events_pg(pg, &events) {
        Ok(outcomes) => Ok(inserts
            .into_iter()
            .zip(outcomes)
            .map(|(i, outcome)| {
                let tx = i.tx;
                let done: Completion = Box::new(move |commit: Result<(), String>| {
                    let _ = tx.send(commit.map(|()| outcome).map_err(StoreError::Commit));
                });
                let ran = Ran {
                    full: false,
                    ok: true,
                };
                (done, ran)
            })
            .collect()),
        Err(e) => {
            tracing::debug!(error = %e, "a batch of webhook inserts failed; inserting them one by one");
            drop(pg.take_wakes());
            // Nothing else ran in this transaction yet: it starts again. Should that fail too,
            // the connection counts as aborted and the batch fails as any other would.
            let _ = pg.batch("ROLLBACK; BEGIN");
            Err(inserts)
        }
    }
}

/// Makes the job that runs `f` in the writer's transaction and answers `tx`. `savepoint`: inside a
/// savepoint of its own (always on PostgreSQL, where a failed statement spoils the transaction).
pub(super) fn job<R, F>(
    f: F,
    savepoint: bool,
    tx: oneshot::Sender<Result<R, StoreError>>,
) -> WriteJob
where
    F: FnOnce(&Db<'_>) -> Result<R, StoreError> + Send + 'static,
    R: Send + 'static,
{
    Box::new(move |db| {
        let Some(db) = db else {
            // The transaction never began: nothing ran; the caller gets the writer's error.
            let done: Completion = Box::new(move |begin: Result<(), String>| {
                let _ = tx.send(Err(StoreError::Commit(begin.err().unwrap_or_default())));
            });
            return (
                done,
                Ran {
                    full: false,
                    ok: false,
                },
            );
        };
        let savepoint = savepoint || db.is_postgres();
        let result = match savepoint.then(|| db.run_cached("SAVEPOINT job")) {
            None => f(db),
            Some(Ok(())) => {
                let mut r = f(db);
                if r.is_ok() && aborted(db) {
                    // The closure went on past a failed statement: its writes are not all there.
                    r = Err(StoreError::Commit(
                        "a statement of this write failed; nothing of it was stored".into(),
                    ));
                }
                if r.is_err() {
                    let _ = db.run_cached("ROLLBACK TO job");
                }
                let _ = db.run_cached("RELEASE job");
                r
            }
            Some(Err(e)) => Err(e),
        };
        let ran = Ran {
            full: matches!(&result, Err(e) if e.is_full()),
            ok: result.is_ok(),
        };
        let done: Completion = Box::new(move |commit: Result<(), String>| {
            let out = match commit {
                Ok(()) => result,
                Err(e) => Err(StoreError::Commit(e)),
            };
            let _ = tx.send(out);
        });
        (done, ran)
    })
}

fn aborted(db: &Db<'_>) -> bool {
    match db {
        Db::Sqlite(_) => false,
        Db::Pg(c) => c.aborted(),
    }
}

/// Connects a new PostgreSQL client for the writer (its server went away).
pub(super) type Reconnect = Box<dyn Fn() -> Result<PgConn, StoreError> + Send>;

/// The writer's own connection.
pub(super) enum WriterConn {
    /// SQLite's write connection.
    Sqlite(rusqlite::Connection),
    /// A PostgreSQL client, and how to connect another when the server drops it.
    Pg {
        /// The client.
        conn: Box<PgConn>,
        /// Connects a new one.
        reconnect: Reconnect,
        /// The server process serving it (kept up to date across reconnections).
        pid: WriterPid,
    },
}

/// Whether a failed statement says the server ended the session: SQLSTATE class 08 (connection
/// exception) or 57 (operator intervention: a terminated backend, a shutdown). The client learns
/// of it from the failed statement a moment before it marks itself closed, so BEGIN sees this
/// first; nothing was written, and the batch can run on a new connection.
fn connection_gone(e: &postgres::Error) -> bool {
    e.code()
        .map(|c| c.code())
        .is_some_and(|c| c.starts_with("08") || c.starts_with("57"))
}

impl WriterConn {
    fn db(&self) -> Db<'_> {
        match self {
            WriterConn::Sqlite(c) => Db::Sqlite(c),
            WriterConn::Pg { conn, .. } => Db::Pg(conn),
        }
    }

    /// Begins a batch's transaction (SQLite: taking the write lock at once). A PostgreSQL
    /// connection the server dropped (a restart, a failover) is replaced, and BEGIN tried again.
    fn begin(&mut self) -> Result<(), StoreError> {
        match self {
            WriterConn::Sqlite(_) => self.db().run_cached("BEGIN IMMEDIATE"),
            WriterConn::Pg {
                conn,
                reconnect,
                pid,
            } => match conn.batch("BEGIN") {
                Ok(()) => Ok(()),
                Err(e) if !conn.is_closed() && !connection_gone(&e) => Err(e.into()),
                Err(e) => {
                    tracing::warn!(error = %e, "the PostgreSQL store dropped the writer's connection; connecting again");
                    **conn = reconnect()?;
                    pid.set(conn.backend_pid()?);
                    Ok(conn.batch("BEGIN")?)
                }
            },
        }
    }

    /// Why the backend abandoned the transaction by itself, if it did.
    fn abandoned(&self) -> Option<&'static str> {
        match self {
            WriterConn::Sqlite(c) => c
                .is_autocommit()
                .then_some("the transaction was rolled back: database or disk is full"),
            WriterConn::Pg { conn: c, .. } => c.aborted().then_some(
                "the transaction was abandoned: a statement failed outside its savepoint",
            ),
        }
    }

    /// Commits; on failure rolls back and says why. On PostgreSQL the pairings that got new work
    /// in the transaction are notified on [`WORK_CHANNEL`] in the same round trip as the COMMIT
    /// (a notification goes out only if the transaction commits).
    fn commit(&self) -> Result<(), (String, bool)> {
        let committed = match self {
            WriterConn::Pg { conn, .. } => commit_notifying(conn),
            WriterConn::Sqlite(_) => self.db().run_cached("COMMIT"),
        };
        committed.map_err(|e| {
            let _ = self.db().execute_batch("ROLLBACK");
            let shown = match &e {
                StoreError::Sql(cause) => cause.to_string(),
                StoreError::Postgres(cause) => cause.to_string(),
                other => other.to_string(),
            };
            (shown, e.is_full())
        })
    }

    /// Ends a transaction the backend abandoned (SQLite already did).
    fn roll_back(&self) {
        if let WriterConn::Pg { conn, .. } = self {
            drop(conn.take_wakes());
            let _ = self.db().execute_batch("ROLLBACK");
        }
    }
}

/// COMMITs the writer's PostgreSQL transaction, notifying each pairing that got new work once.
/// Names of plain characters are written into the COMMIT's own round trip; any other name is
/// passed as a parameter, in a statement of its own.
fn commit_notifying(conn: &PgConn) -> Result<(), StoreError> {
    let wakes = conn.take_wakes();
    let plain = |p: &String| {
        p.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
    };
    let (inline, odd): (Vec<String>, Vec<String>) = wakes.into_iter().partition(plain);
    if !odd.is_empty() {
        let odd: Vec<&str> = odd.iter().map(String::as_str).collect();
        conn.query_native(
            "SELECT pg_notify($1, p) FROM unnest($2::text[]) AS p",
            &[&WORK_CHANNEL, &odd],
        )?;
    }
    if inline.is_empty() {
        return Ok(conn.batch("COMMIT")?);
    }
    let notifies: Vec<String> = inline
        .iter()
        .map(|p| format!("pg_notify('{WORK_CHANNEL}', '{p}')"))
        .collect();
    Ok(conn.batch(&format!("SELECT {}; COMMIT", notifies.join(", ")))?)
}

/// Runs batches until every sender is gone.
pub(super) fn writer_loop(
    mut conn: WriterConn,
    mut rx: mpsc::UnboundedReceiver<Queued>,
    full: Arc<AtomicBool>,
    commits: Arc<AtomicU64>,
) {
    // Jobs taken from the channel but left for a later batch (urgent ones always go first).
    let mut waiting: VecDeque<Queued> = VecDeque::new();
    loop {
        if waiting.is_empty() {
            match rx.blocking_recv() {
                Some(q) => waiting.push_back(q),
                None => return,
            }
        }
        while let Ok(q) = rx.try_recv() {
            waiting.push_back(q);
        }
        let mut batch: Vec<Queued> = Vec::with_capacity(waiting.len().min(MAX_BATCH));
        // Urgent jobs first, in arrival order; then the others, in arrival order.
        let mut rest = VecDeque::with_capacity(waiting.len());
        for q in waiting.drain(..) {
            if q.urgent && batch.len() < MAX_BATCH {
                batch.push(q);
            } else {
                rest.push_back(q);
            }
        }
        while batch.len() < MAX_BATCH {
            match rest.pop_front() {
                Some(q) => batch.push(q),
                None => break,
            }
        }
        waiting = rest;
        if let Err(e) = conn.begin() {
            let msg = format!("cannot begin a transaction: {e}");
            tracing::error!(error = %msg, "store write failed");
            full.store(e.is_full(), Ordering::Relaxed);
            for q in batch {
                let job = match q.work {
                    Work::Run(job) => job,
                    Work::Insert(i) => i.into_job(),
                };
                let (done, _) = job(None);
                done(Err(msg.clone()));
            }
            continue;
        }
        let mut hit_full = false;
        // The store counts as taking writes again once a webhook insert commits.
        let mut urgent_ok = false;
        let mut completions: Vec<Completion> = Vec::with_capacity(batch.len());
        // On PostgreSQL the batch's webhook inserts go first, in one statement; what is left (and,
        // should that statement fail, the inserts one by one) runs as jobs.
        let mut jobs: VecDeque<Queued> = VecDeque::with_capacity(batch.len());
        let mut inserts = Vec::new();
        let pg = match &conn {
            WriterConn::Pg { conn, .. } => Some(&**conn),
            WriterConn::Sqlite(_) => None,
        };
        for q in batch {
            match q.work {
                Work::Insert(i) if pg.is_some() => inserts.push((i, q._permit)),
                work => jobs.push_back(Queued { work, ..q }),
            }
        }
        let mut permits = Vec::with_capacity(inserts.len());
        if let (Some(pg), false) = (pg, inserts.is_empty()) {
            let (inserts, held): (Vec<EventInsert>, Vec<_>) = inserts.into_iter().unzip();
            match insert_batch_pg(pg, inserts) {
                Ok(done) => {
                    permits = held;
                    for (done, ran) in done {
                        urgent_ok |= ran.ok;
                        completions.push(done);
                    }
                }
                Err(back) => {
                    for (i, permit) in back.into_iter().zip(held).rev() {
                        jobs.push_front(Queued {
                            work: Work::Insert(i),
                            urgent: true,
                            _permit: permit,
                        });
                    }
                }
            }
        }
        let mut jobs = jobs.into_iter();
        let mut abandoned = None;
        let db = conn.db();
        for q in jobs.by_ref() {
            let job = match q.work {
                Work::Run(job) => job,
                Work::Insert(i) => i.into_job(),
            };
            let (done, ran) = job(Some(&db));
            hit_full |= ran.full;
            urgent_ok |= q.urgent && ran.ok;
            completions.push(done);
            abandoned = conn.abandoned();
            if abandoned.is_some() {
                // What ran is undone; what did not run waits for the next batch.
                break;
            }
        }
        for q in jobs.rev() {
            waiting.push_front(q);
        }
        let commit = match abandoned {
            Some(why) => {
                conn.roll_back();
                Err(why.to_string())
            }
            None => conn.commit().map_err(|(msg, was_full)| {
                hit_full |= was_full;
                msg
            }),
        };
        if commit.is_ok() {
            commits.fetch_add(1, Ordering::Relaxed);
        }
        StoreCommitted { ok: commit.is_ok() }.emit();
        let was_full = full.load(Ordering::Relaxed);
        let now_full = hit_full || (was_full && !(commit.is_ok() && urgent_ok));
        if full.swap(now_full, Ordering::Relaxed) != now_full {
            StoreFullChanged { full: now_full }.emit();
        }
        for done in completions {
            done(commit.clone());
        }
        drop(permits);
    }
}
