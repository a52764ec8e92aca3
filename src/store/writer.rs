//! The writer thread, the same for both backends: it owns the write connection, runs the waiting
//! closures in ONE transaction (urgent ones first, each inside its own savepoint so one failing
//! closure does not undo the others) and answers them only after COMMIT (group commit).
//!
//! Failure: a closure that fails rolls back its own savepoint and gets its error; a failed COMMIT
//! (or a transaction the backend abandoned: SQLite rolls back by itself on a full disk, PostgreSQL
//! refuses everything after a statement failed outside a savepoint) fails every closure that ran
//! in it, and the closures that had not run yet wait for the next batch.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use tokio::sync::{mpsc, oneshot, OwnedSemaphorePermit};

use super::db::{Db, PgConn};
use super::StoreError;
use crate::telemetry::events::{InternalEvent, StoreCommitted, StoreFullChanged};

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
    pub(super) job: WriteJob,
    pub(super) urgent: bool,
    pub(super) _permit: OwnedSemaphorePermit,
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
    },
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
            WriterConn::Pg { conn, reconnect } => match conn.batch("BEGIN") {
                Ok(()) => Ok(()),
                Err(e) if !conn.is_closed() => Err(e.into()),
                Err(e) => {
                    tracing::warn!(error = %e, "the PostgreSQL store dropped the writer's connection; connecting again");
                    **conn = reconnect()?;
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

    /// Commits; on failure rolls back and says why.
    fn commit(&self) -> Result<(), (String, bool)> {
        self.db().run_cached("COMMIT").map_err(|e| {
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
        if let WriterConn::Pg { .. } = self {
            let _ = self.db().execute_batch("ROLLBACK");
        }
    }
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
                let (done, _) = (q.job)(None);
                done(Err(msg.clone()));
            }
            continue;
        }
        let mut hit_full = false;
        // The store counts as taking writes again once a webhook insert commits.
        let mut urgent_ok = false;
        let mut completions: Vec<Completion> = Vec::with_capacity(batch.len());
        let mut jobs = batch.into_iter();
        let mut abandoned = None;
        let db = conn.db();
        for q in jobs.by_ref() {
            let (done, ran) = (q.job)(Some(&db));
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
    }
}
