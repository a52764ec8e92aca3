//! The SQLite store: every ID pairing, the inbox of verified events, the journal of external effects,
//! tokens, hosted files. One file per table family: [`inbox`], [`journal`], [`pairings`], [`auth`],
//! [`files`], [`identities`]; the states and the lane newtype in [`model`] (written as SQL text by `sql.rs`); secrets sealed at rest by [`crypto`].
//!
//! One writer thread owns the write connection. Writes are closures sent to it; the thread runs all
//! the closures that are waiting in ONE transaction (each inside its own savepoint, so one failing
//! closure does not undo the others) and answers them only after COMMIT: group commit, so durable
//! writes under concurrency cost one fsync per batch rather than per request. Webhook inserts
//! ([`Store::ingest`]) go ahead of every other write in the next batch; other writes wait for a
//! place when too many are queued (back-pressure on background work), while webhooks are refused at
//! once (the platform delivers again) rather than queued without bound. Reads use a small pool of
//! separate connections (WAL lets them run beside the writer).
//!
//! Failure: a write that fails rolls back its own savepoint and returns the error; a failed COMMIT
//! fails every closure of the batch (nothing was acknowledged). A full disk is remembered
//! ([`Store::health`]) until a write succeeds again. At open ([`disk`]), `PRAGMA quick_check` refuses
//! a damaged file with the way to restore it; the file and its folder are made private to their
//! owner; a missing key file is made only while nothing is sealed ([`sealed`] lists what is), and
//! values stored before encryption are sealed.
//! Migrations are numbered SQL files embedded in the binary, applied in order at open, tracked by
//! `PRAGMA user_version`.
//!
//! # The typed surface
//! Callers outside `store/` see operations only: a [`Journal`] per step (`begin`, `sent` with a
//! [`Record`] of what the step pairs, `abandon_unless_unknown`), named reads (`contact`,
//! `conversation_of`, `newest_freshchat_user`, `ping`, ...) and the types of [`model`]. The
//! closures run by the writer and the table modules are private here, and no SQLite type is in an
//! operation's signature (errors are [`StoreError`], which still carries SQLite's error as its
//! cause), so a second backend can implement the same operations.

mod auth;
mod crypto;
mod files;
mod identities;
mod inbox;
mod journal;
pub mod model;
mod pairings;
mod quota;
pub mod reads;
mod registry;
mod sealed;
mod sql;

mod disk;
#[cfg(test)]
mod provenance_tests;

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use rusqlite::{Connection, ErrorCode, OpenFlags};
use tokio::sync::{mpsc, oneshot, OwnedSemaphorePermit, Semaphore};

use crate::telemetry::events::{InternalEvent, StoreCommitted, StoreFullChanged};

pub use auth::{AttemptKey, OAuthAttempt, StoredTokens, TokenEndpointError};
pub use crypto::{KeyError, StoreKey};
pub use files::HostedFile;
pub use inbox::{ActivityRow, HourlyCounts, InboxRow, Ingested, NewEvent, SourceStats};
pub use journal::{Journal, StepRow};
pub use model::{
    CallOutcome, Contact, Direction, EventState, JournalKey, Lane, MessagePair, Provenance, Record,
    Source, StepKind, StepState,
};
pub use quota::QuotaState;
pub use registry::RegisteredPairing;
pub use sealed::META_ADMIN_TOKEN;

/// The pairing of a store kept before pairings existed, and of the configuration file's settings.
pub use crate::config::DEFAULT_PAIRING;

/// Numbered migrations, applied in order. Never edit one that has shipped; add the next number.
pub const MIGRATIONS: &[(&str, &str)] = &[
    (
        "001_initial",
        include_str!("../../migrations/001_initial.sql"),
    ),
    (
        "002_user_data_and_expiry",
        include_str!("../../migrations/002_user_data_and_expiry.sql"),
    ),
    (
        "003_console",
        include_str!("../../migrations/003_console.sql"),
    ),
    ("004_quota", include_str!("../../migrations/004_quota.sql")),
    (
        "005_zalo_identities",
        include_str!("../../migrations/005_zalo_identities.sql"),
    ),
    (
        "006_reply_window",
        include_str!("../../migrations/006_reply_window.sql"),
    ),
    (
        "007_token_endpoint_errors",
        include_str!("../../migrations/007_token_endpoint_errors.sql"),
    ),
    (
        "008_oauth_attempt_refusals",
        include_str!("../../migrations/008_oauth_attempt_refusals.sql"),
    ),
    (
        "009_token_generation",
        include_str!("../../migrations/009_token_generation.sql"),
    ),
    (
        "010_identity_clashes",
        include_str!("../../migrations/010_identity_clashes.sql"),
    ),
    (
        "011_inbox_provenance",
        include_str!("../../migrations/011_inbox_provenance.sql"),
    ),
    (
        "012_pairings",
        include_str!("../../migrations/012_pairings.sql"),
    ),
    (
        "013_pairing_registry",
        include_str!("../../migrations/013_pairing_registry.sql"),
    ),
];

/// How often the checkpoint thread looks for new commits.
const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_millis(100);
/// WAL pages past which the writer checkpoints by itself (about 40 MB).
const WRITER_CHECKPOINT_PAGES: i64 = 10_000;
/// The WAL file is truncated back to this size (bytes) after a checkpoint resets it.
const WAL_SIZE_LIMIT: i64 = 64 * 1024 * 1024;
/// Prepared statements kept per connection.
const STATEMENT_CACHE: usize = 256;
/// Most write closures one transaction takes; the rest wait for the next batch.
const MAX_BATCH: usize = 256;
/// Read connections kept open between reads.
const READERS: usize = 8;
/// Webhook inserts queued at most; past it a webhook is refused (503) and delivered again later.
const MAX_URGENT: usize = 8192;
/// Other writes queued at most; past it their callers wait for a place.
const MAX_QUEUED: usize = 4096;

/// Why the store could not do something.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The file cannot be opened.
    #[error("cannot open the store at {path}: {cause}")]
    Open {
        /// The file.
        path: PathBuf,
        /// Why.
        cause: rusqlite::Error,
    },
    /// A migration failed.
    #[error("store migration {name} failed: {cause}")]
    Migration {
        /// The migration.
        name: &'static str,
        /// Why.
        cause: rusqlite::Error,
    },
    /// The file is newer than this build.
    #[error("the store was created by a newer zfsync (schema version {found}, this build knows {known}); upgrade zfsync")]
    TooNew {
        /// Its schema version.
        found: i64,
        /// The newest this build knows.
        known: i64,
    },
    /// The file is damaged.
    #[error("the store {path} is damaged ({detail}). Stop zfsync, keep the damaged file aside, copy your latest backup ('zfsync backup') in its place, and start again; messages after the backup are caught up from the platforms' history")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What `quick_check` said.
        detail: String,
    },
    /// A query failed.
    #[error("store query failed: {0}")]
    Sql(rusqlite::Error),
    /// The batch's COMMIT failed: nothing of it was stored.
    #[error("store commit failed (nothing was acknowledged): {0}")]
    Commit(String),
    /// The writer has stopped.
    #[error("the store is closed")]
    Closed,
    /// Too many webhook inserts are waiting; the platform will deliver again.
    #[error("the store is busy; try again")]
    Busy,
    /// The store's folder cannot be made.
    #[error("cannot create the store's folder {path}: {cause}")]
    CreateDir {
        /// The folder.
        path: PathBuf,
        /// Why.
        cause: std::io::Error,
    },
    /// The writer thread cannot start.
    #[error("cannot start the store writer thread: {0}")]
    WriterThread(std::io::Error),
    /// A reader task stopped.
    #[error("a store reader stopped: {0}")]
    Reader(tokio::task::JoinError),
    /// The store key cannot be used.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// Sealing a secret failed.
    #[error("cannot encrypt a secret for the store")]
    Seal,
    /// A sealed value does not open under this key.
    #[error("the value of {0} in the store does not open with this store key: was ZFSYNC_STORE_KEY or the key file changed? Restore the key; if it is lost, run '{forget}' to discard the sealed values, then 'zfsync connect zalo'", forget = crypto::FORGET_SECRETS)]
    Unseal(String),
    /// A backup failed.
    #[error("backup to {path} failed: {detail}")]
    Backup {
        /// The target file.
        path: PathBuf,
        /// Why.
        detail: String,
    },
}

// Not `#[from]`: these messages already hold their cause, and a chained copy would print it
// twice under `{:#}` (see `crate::error`).
impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> StoreError {
        StoreError::Sql(e)
    }
}

impl From<tokio::task::JoinError> for StoreError {
    fn from(e: tokio::task::JoinError) -> StoreError {
        StoreError::Reader(e)
    }
}

impl StoreError {
    /// Whether this is SQLite's "database or disk is full".
    pub fn is_full(&self) -> bool {
        match self {
            StoreError::Sql(e) | StoreError::Open { cause: e, .. } => is_full(e),
            StoreError::Commit(m) => m.contains("full"),
            _ => false,
        }
    }
}

fn is_full(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _) if f.code == ErrorCode::DiskFull)
}

type Completion = Box<dyn FnOnce(Result<(), String>) + Send>;
/// How a write went inside its transaction: whether it hit a full disk, whether it succeeded.
#[derive(Clone, Copy)]
struct Ran {
    full: bool,
    ok: bool,
}

/// A write: run inside the batch's transaction (`Some`), or told the transaction could not begin
/// (`None`); it returns what answers its caller once the batch's fate is known, and how it went.
type WriteJob = Box<dyn FnOnce(Option<&Connection>) -> (Completion, Ran) + Send>;

/// A queued write and its place in the queue.
struct Queued {
    job: WriteJob,
    urgent: bool,
    _permit: OwnedSemaphorePermit,
}

/// A handle to the store; cheap to clone.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
    /// The pairing whose rows this handle reads and writes ([`Store::pairing`]).
    pairing: Arc<str>,
}

struct Inner {
    path: PathBuf,
    writer: mpsc::UnboundedSender<Queued>,
    urgent_places: Arc<Semaphore>,
    places: Arc<Semaphore>,
    readers: Mutex<Vec<Connection>>,
    key: Arc<StoreKey>,
    full: Arc<AtomicBool>,
    commits: Arc<AtomicU64>,
}

impl Inner {
    /// Runs `f` with a pooled read connection (opened when none is free), then pools it again.
    fn with_reader<R>(
        &self,
        f: impl FnOnce(&Connection) -> Result<R, StoreError>,
    ) -> Result<R, StoreError> {
        let pooled = self.readers.lock().ok().and_then(|mut v| v.pop());
        let conn = match pooled {
            Some(c) => c,
            None => open_conn(&self.path, OpenFlags::SQLITE_OPEN_READ_WRITE)?,
        };
        let r = f(&conn);
        if let Ok(mut pool) = self.readers.lock() {
            if pool.len() < READERS {
                pool.push(conn);
            }
        }
        r
    }
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("path", &self.inner.path)
            .field("pairing", &self.pairing)
            .finish()
    }
}

/// What [`Store::health`] reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreHealth {
    /// The last write found the disk (or the store's size limit) full, and none succeeded since.
    pub full: bool,
}

fn open_conn(path: &Path, flags: OpenFlags) -> Result<Connection, StoreError> {
    let conn = Connection::open_with_flags(path, flags).map_err(|cause| StoreError::Open {
        path: path.to_path_buf(),
        cause,
    })?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    // Every statement zfsync runs stays prepared (there are fewer than this many).
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    // WAL must be set outside a transaction; FULL keeps every acknowledged event across power loss.
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    Ok(conn)
}

/// Applies the embedded migrations that `conn` has not seen yet.
fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let known = MIGRATIONS.len() as i64;
    let current: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if current > known {
        return Err(StoreError::TooNew {
            found: current,
            known,
        });
    }
    // A migration that rebuilds a table (SQLite's way to change a key) drops the old one, which
    // other tables reference: foreign keys are off while migrating (the pragma cannot change
    // inside a transaction) and checked before each commit.
    conn.pragma_update(None, "foreign_keys", "OFF")?;
    for (i, (name, sql)) in MIGRATIONS.iter().enumerate().skip(current as usize) {
        let tx = conn
            .transaction()
            .map_err(|cause| StoreError::Migration { name, cause })?;
        tx.execute_batch(sql)
            .map_err(|cause| StoreError::Migration { name, cause })?;
        let dangling = tx
            .prepare("PRAGMA foreign_key_check")
            .and_then(|mut st| st.exists([]))
            .map_err(|cause| StoreError::Migration { name, cause })?;
        if dangling {
            return Err(StoreError::Migration {
                name,
                cause: rusqlite::Error::SqliteFailure(
                    rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CONSTRAINT_FOREIGNKEY),
                    Some("a row references one that the migration did not keep".into()),
                ),
            });
        }
        tx.pragma_update(None, "user_version", (i + 1) as i64)
            .map_err(|cause| StoreError::Migration { name, cause })?;
        tx.commit()
            .map_err(|cause| StoreError::Migration { name, cause })?;
    }
    conn.pragma_update(None, "foreign_keys", "ON")?;
    Ok(())
}

impl Store {
    /// Opens (creating if needed), checks and migrates the store with `key`, and starts its writer
    /// thread. The daemon uses [`Store::open_keyed`], which finds the configured key.
    pub fn open_with(path: impl AsRef<Path>, key: StoreKey) -> Result<Store, StoreError> {
        let path = path.as_ref().to_path_buf();
        let conn = disk::prepare(&path)?;
        Store::start(path, conn, key)
    }

    /// Starts the store on its checked and migrated connection: seals what was stored before
    /// encryption, then starts the writer and checkpoint threads.
    fn start(path: PathBuf, conn: Connection, key: StoreKey) -> Result<Store, StoreError> {
        let resealed = sealed::seal_plain_values(&conn, &key)?;
        if resealed > 0 {
            tracing::info!(
                values = resealed,
                "sealed secrets written before encryption with the store key"
            );
        }
        // The writer leaves checkpoints to its own thread (below), so a commit never waits for
        // pages to be copied into the database file; past this many WAL pages it checkpoints
        // itself all the same (the checkpoint thread fell behind).
        conn.pragma_update(None, "wal_autocheckpoint", WRITER_CHECKPOINT_PAGES)?;
        conn.pragma_update(None, "journal_size_limit", WAL_SIZE_LIMIT)?;
        let (tx, rx) = mpsc::unbounded_channel();
        let full = Arc::new(AtomicBool::new(false));
        let commits = Arc::new(AtomicU64::new(0));
        let (writer_full, writer_commits) = (full.clone(), commits.clone());
        let checkpoints = Checkpointer {
            conn: open_conn(&path, OpenFlags::SQLITE_OPEN_READ_WRITE)?,
            commits: commits.clone(),
            writer_gone: Arc::new(AtomicBool::new(false)),
        };
        let writer_gone = checkpoints.writer_gone.clone();
        std::thread::Builder::new()
            .name("zfsync-store-writer".into())
            .spawn(move || {
                writer_loop(conn, rx, writer_full, writer_commits);
                writer_gone.store(true, Ordering::Relaxed);
            })
            .map_err(StoreError::WriterThread)?;
        std::thread::Builder::new()
            .name("zfsync-store-checkpoint".into())
            .spawn(move || checkpoints.run())
            .map_err(StoreError::WriterThread)?;
        Ok(Store {
            inner: Arc::new(Inner {
                path,
                writer: tx,
                urgent_places: Arc::new(Semaphore::new(MAX_URGENT)),
                places: Arc::new(Semaphore::new(MAX_QUEUED)),
                readers: Mutex::new(Vec::new()),
                key: Arc::new(key),
                full,
                commits,
            }),
            pairing: Arc::from(DEFAULT_PAIRING),
        })
    }

    /// The same store, reading and writing the rows of pairing `name` (one Zalo OA ↔ one
    /// Freshchat account). A store opened is the pairing [`DEFAULT_PAIRING`]'s.
    pub fn pairing(&self, name: &str) -> Store {
        Store {
            inner: self.inner.clone(),
            pairing: Arc::from(name),
        }
    }

    /// The pairing this handle reads and writes.
    pub fn pairing_name(&self) -> &str {
        &self.pairing
    }

    /// The pairing's name, owned, for a closure run on the writer or a reader.
    fn p(&self) -> String {
        self.pairing.to_string()
    }

    /// The store file.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// The key that seals secrets.
    pub(crate) fn key(&self) -> Arc<StoreKey> {
        self.inner.key.clone()
    }

    /// Transactions the writer committed since the store was opened.
    pub fn commits(&self) -> u64 {
        self.inner.commits.load(Ordering::Relaxed)
    }

    /// Whether writes currently succeed.
    pub fn health(&self) -> StoreHealth {
        StoreHealth {
            full: self.inner.full.load(Ordering::Relaxed),
        }
    }

    /// Runs `f` in the writer's transaction; resolves once the batch holding it is committed.
    /// Waits for a place when many writes are queued.
    async fn write<R, F>(&self, f: F) -> Result<R, StoreError>
    where
        F: FnOnce(&Connection) -> Result<R, StoreError> + Send + 'static,
        R: Send + 'static,
    {
        let permit = self
            .inner
            .places
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| StoreError::Closed)?;
        self.submit(f, false, permit, true).await
    }

    /// Stores a webhook's event ahead of every other write in the next batch (the platform waits
    /// for the answer), refused with [`StoreError::Busy`] rather than queued when too many are
    /// waiting. One statement, which SQLite keeps atomic by itself (no savepoint of its own).
    async fn write_urgent_statement<R, F>(&self, f: F) -> Result<R, StoreError>
    where
        F: FnOnce(&Connection) -> Result<R, StoreError> + Send + 'static,
        R: Send + 'static,
    {
        self.urgent(f, false).await
    }

    async fn urgent<R, F>(&self, f: F, savepoint: bool) -> Result<R, StoreError>
    where
        F: FnOnce(&Connection) -> Result<R, StoreError> + Send + 'static,
        R: Send + 'static,
    {
        let permit = self
            .inner
            .urgent_places
            .clone()
            .try_acquire_owned()
            .map_err(|_| StoreError::Busy)?;
        self.submit(f, true, permit, savepoint).await
    }

    async fn submit<R, F>(
        &self,
        f: F,
        urgent: bool,
        permit: OwnedSemaphorePermit,
        savepoint: bool,
    ) -> Result<R, StoreError>
    where
        F: FnOnce(&Connection) -> Result<R, StoreError> + Send + 'static,
        R: Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        let job: WriteJob = Box::new(move |conn| {
            let Some(conn) = conn else {
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
            let result = match savepoint.then(|| run_cached(conn, "SAVEPOINT job")) {
                None => f(conn),
                Some(Ok(())) => {
                    let r = f(conn);
                    if r.is_err() {
                        let _ = run_cached(conn, "ROLLBACK TO job");
                    }
                    let _ = run_cached(conn, "RELEASE job");
                    r
                }
                Some(Err(e)) => Err(StoreError::Sql(e)),
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
        });
        self.inner
            .writer
            .send(Queued {
                job,
                urgent,
                _permit: permit,
            })
            .map_err(|_| StoreError::Closed)?;
        rx.await.map_err(|_| StoreError::Closed)?
    }

    /// Whether a read connection answers (the readiness check; it never waits behind a write).
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.read(|c| Ok(c.query_row("SELECT 1", [], |r| r.get::<_, i64>(0))?))
            .await
            .map(|_| ())
    }

    /// Runs `f` on a read connection (never blocks the async runtime).
    async fn read<R, F>(&self, f: F) -> Result<R, StoreError>
    where
        F: FnOnce(&Connection) -> Result<R, StoreError> + Send + 'static,
        R: Send + 'static,
    {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || inner.with_reader(f)).await?
    }

    /// Runs `f` on a read connection right here, on the caller's thread: for indexed point reads
    /// that take microseconds (a lane's next events, one pairing, one journal step), where handing
    /// the read to a blocking thread and back costs more than the read. Anything that scans, or
    /// whose size the caller does not bound, goes through [`Store::read`].
    async fn lookup<R, F>(&self, f: F) -> Result<R, StoreError>
    where
        F: FnOnce(&Connection) -> Result<R, StoreError>,
    {
        self.inner.with_reader(f)
    }

    /// Limits the store to `pages` pages (None: SQLite's maximum), as a full disk would: writes past
    /// it fail with "database or disk is full". Returns the limit now in force.
    pub async fn limit_pages(&self, pages: Option<u64>) -> Result<u64, StoreError> {
        self.write(move |c| {
            let n = pages.unwrap_or(4_294_967_294);
            Ok(
                c.query_row(&format!("PRAGMA max_page_count = {n}"), [], |r| {
                    r.get::<_, i64>(0)
                })? as u64,
            )
        })
        .await
    }

    /// Copies the store to `to` with SQLite's online backup, while the daemon runs. The copy holds
    /// the sealed secrets, never the key.
    pub async fn backup(&self, to: PathBuf) -> Result<(), StoreError> {
        let from = self.inner.path.clone();
        tokio::task::spawn_blocking(move || {
            let fail = |detail: String| StoreError::Backup {
                path: to.clone(),
                detail,
            };
            if to.exists() {
                return Err(fail("the file exists; choose a new name".into()));
            }
            let src = open_conn(&from, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
            crypto::write_private(&to, "").map_err(|e| fail(e.to_string()))?;
            let mut dst = Connection::open(&to).map_err(|e| fail(e.to_string()))?;
            let backup =
                rusqlite::backup::Backup::new(&src, &mut dst).map_err(|e| fail(e.to_string()))?;
            backup
                .run_to_completion(256, std::time::Duration::from_millis(5), None)
                .map_err(|e| fail(e.to_string()))?;
            drop(backup);
            disk::quick_check(&dst, &to)
        })
        .await?
    }
}

/// Copies committed pages from the WAL into the database file beside the writer (SQLite's
/// PASSIVE checkpoint never blocks it), so the WAL stays small and commits stay short.
struct Checkpointer {
    conn: Connection,
    commits: Arc<AtomicU64>,
    writer_gone: Arc<AtomicBool>,
}

impl Checkpointer {
    fn run(self) {
        let mut seen = self.commits.load(Ordering::Relaxed);
        while !self.writer_gone.load(Ordering::Relaxed) {
            std::thread::sleep(CHECKPOINT_EVERY);
            let now = self.commits.load(Ordering::Relaxed);
            if now == seen {
                continue;
            }
            seen = now;
            if let Err(e) = self
                .conn
                .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
            {
                tracing::debug!(error = %e, "store checkpoint postponed");
            }
        }
    }
}

fn writer_loop(
    conn: Connection,
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
        if let Err(e) = run_cached(&conn, "BEGIN IMMEDIATE") {
            let msg = format!("cannot begin a transaction: {e}");
            tracing::error!(error = %msg, "store write failed");
            full.store(is_full(&e), Ordering::Relaxed);
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
        let mut rolled_back = false;
        for q in jobs.by_ref() {
            let (done, ran) = (q.job)(Some(&conn));
            hit_full |= ran.full;
            urgent_ok |= q.urgent && ran.ok;
            completions.push(done);
            if conn.is_autocommit() {
                // SQLite rolled the whole transaction back (it may on a full disk): what ran is
                // undone; what did not run waits for the next batch.
                rolled_back = true;
                break;
            }
        }
        for q in jobs.rev() {
            waiting.push_front(q);
        }
        let commit = if rolled_back {
            Err("the transaction was rolled back: database or disk is full".to_string())
        } else {
            run_cached(&conn, "COMMIT").map_err(|e| {
                hit_full |= is_full(&e);
                let _ = conn.execute_batch("ROLLBACK");
                e.to_string()
            })
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

/// Runs a statement without parameters from the connection's cache (parsed once, not per write).
fn run_cached(conn: &Connection, sql: &str) -> Result<(), rusqlite::Error> {
    conn.prepare_cached(sql)?.execute([]).map(|_| ())
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
