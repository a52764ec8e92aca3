//! The store: every ID pairing, the inbox of verified events, the journal of external effects,
//! tokens, hosted files. One file per table family: [`inbox`], [`journal`], [`pairings`], [`auth`],
//! [`files`], [`identities`], [`tags`], [`csat`]; the states and the lane newtype in [`model`];
//! secrets sealed at rest by [`crypto`]. Two backends behind one surface: SQLite ([`sqlite`], the
//! embedded default, one file) and PostgreSQL ([`pg`], the shared store for many customers). The
//! table modules write their SQL once, against [`db::Db`], which runs it on either.
//!
//! One writer thread owns the write connection ([`writer`]). Writes are closures sent to it; the
//! thread runs all the closures that are waiting in ONE transaction (each inside its own savepoint,
//! so one failing closure does not undo the others) and answers them only after COMMIT: group
//! commit, so durable writes under concurrency cost one fsync per batch rather than per request.
//! Webhook inserts ([`Store::ingest`]) go ahead of every other write in the next batch; other writes
//! wait for a place when too many are queued (back-pressure on background work), while webhooks are
//! refused at once (the platform delivers again) rather than queued without bound. Reads use a small
//! pool of separate connections (SQLite's WAL lets them run beside the writer; PostgreSQL's are
//! clients of their own).
//!
//! Failure: a write that fails rolls back its own savepoint and returns the error; a failed COMMIT
//! fails every closure of the batch (nothing was acknowledged). A full disk is remembered
//! ([`Store::health`]) until a write succeeds again. At open ([`disk`]), `PRAGMA quick_check` refuses
//! a damaged file with the way to restore it; the file and its folder are made private to their
//! owner; a missing key file is made only while nothing is sealed ([`sealed`] lists what is), and
//! values stored before encryption are sealed.
//! Migrations are numbered SQL files embedded in the binary, applied in order at open: SQLite's
//! tracked by `PRAGMA user_version`, PostgreSQL's (`migrations/postgres/`) in `schema_migrations`.
//!
//! # The typed surface
//! Callers outside `store/` see operations only: a [`Journal`] per step (`begin`, `sent` with a
//! [`Record`] of what the step pairs, `abandon_unless_unknown`), named reads (`contact`,
//! `conversation_of`, `newest_freshchat_user`, `ping`, ...) and the types of [`model`]. The
//! closures run by the writer and the table modules are private here, and no backend type is in an
//! operation's signature (errors are [`StoreError`], which still carries the backend's error as its
//! cause).

mod auth;
mod crypto;
mod csat;
mod db;
mod files;
mod identities;
mod inbox;
mod journal;
mod leases;
pub mod model;
mod notify;
mod pairings;
mod pg;
mod quota;
pub mod reads;
mod registry;
mod sealed;
mod sqlite;
mod tags;
mod writer;

mod disk;
#[cfg(test)]
mod ingest_batch_tests;
#[cfg(test)]
mod lease_tests;
#[cfg(test)]
mod provenance_tests;
#[cfg(test)]
mod surface_tests;
#[cfg(test)]
pub(crate) mod testing;
#[cfg(test)]
mod upgrade_tests;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::{mpsc, oneshot, OwnedSemaphorePermit, Semaphore};

use db::{Db, PgConn};
use writer::{Queued, WriterConn};

pub use auth::{AttemptKey, OAuthAttempt, StoredTokens, TokenEndpointError};
pub use crypto::{KeyError, StoreKey};
pub use csat::RatingsDay;
pub use files::HostedFile;
pub use inbox::{
    ActivityRow, HourlyCounts, InboxRow, Ingested, NewEvent, SourceStats, StateCounts,
};
pub use journal::{Journal, StepRow};
pub use leases::{LaneLease, RefreshLock, REFRESH_LOCK_WAIT};
pub use model::{
    CallOutcome, Contact, Direction, EventState, JournalKey, Lane, MessagePair, Provenance, Record,
    Source, StepKind, StepState,
};
pub use notify::Wake;
pub use pg::POSTGRES_MIGRATIONS;
pub use quota::QuotaState;
pub use registry::RegisteredPairing;
pub use sealed::META_ADMIN_TOKEN;
#[cfg(test)]
use sqlite::migrate;
pub use sqlite::MIGRATIONS;

/// The pairing of a store kept before pairings existed, and of the configuration file's settings.
pub use crate::config::DEFAULT_PAIRING;

/// This build, as the store's messages name it.
const RELEASE: &str = concat!("zfsync ", env!("CARGO_PKG_VERSION"));

/// The name of the first of `migrations` a store at schema `current` has not seen (for the error
/// of a failing BEGIN or COMMIT, which belongs to no one migration).
fn first_pending(migrations: &[(&'static str, &'static str)], current: i64) -> &'static str {
    usize::try_from(current)
        .ok()
        .and_then(|i| migrations.get(i))
        .map_or("(none)", |(name, _)| *name)
}

/// Read connections kept open between reads.
const READERS: usize = 8;
/// PostgreSQL reads at once, each on a pooled connection of its own (a connection is a server
/// process: reads beyond this wait for one rather than connect and disconnect under load).
const PG_READERS: usize = 32;
/// Webhook inserts queued at most; past it a webhook is refused (503) and delivered again later.
const MAX_URGENT: usize = 8192;
/// Webhook inserts one pairing may have queued at most: a pairing flooded with webhooks is
/// refused before it takes the whole queue, so the others' webhooks still get in.
const MAX_URGENT_PER_PAIRING: usize = MAX_URGENT / 2;
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
    /// A migration failed; none of the upgrade's migrations was applied.
    #[error("store migration {name} failed: {cause}. Nothing of this upgrade was applied: the store is still at schema version {from}, as the release that wrote it left it, and that release still opens it")]
    Migration {
        /// The migration.
        name: &'static str,
        /// The schema version the store stays at.
        from: i64,
        /// Why.
        cause: rusqlite::Error,
    },
    /// The store was migrated by a newer release than this build; nothing was changed.
    #[error("{location} was migrated by a newer zfsync: its schema version is {found}, and this zfsync ({release}) knows versions up to {known}. Nothing was changed. Run the newer zfsync again, or, to go back to this one, {way_back}")]
    TooNew {
        /// The SQLite file, or the PostgreSQL database without its password.
        location: String,
        /// Its schema version.
        found: i64,
        /// The newest this build knows.
        known: i64,
        /// This build's version.
        release: &'static str,
        /// How to go back to this release.
        way_back: String,
    },
    /// The copy made before migrating a SQLite store failed; nothing was migrated.
    #[error("before migrating the store to this release's schema, zfsync copies it to {path}, and the copy failed ({detail}). Nothing was changed: free disk space beside the store (the copy is as large as the store) and start again")]
    PreMigrationBackup {
        /// The copy.
        path: PathBuf,
        /// Why.
        detail: String,
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
    /// Another replica's token refresh of this pairing did not end in time.
    #[error("another zfsync replica has been refreshing this pairing's Zalo token for over {waited_secs} s; the refresh is tried again later (if it lasts, check that replica's connection to Zalo)")]
    RefreshLockBusy {
        /// How long this one waited.
        waited_secs: u64,
    },
    /// The store's folder cannot be made.
    #[error("cannot create the store's folder {path}: {cause}")]
    CreateDir {
        /// The folder.
        path: PathBuf,
        /// Why.
        cause: std::io::Error,
    },
    /// The store's file (or its -wal/-shm) cannot be opened or made private: most often it
    /// belongs to another user than the one zfsync runs as.
    #[error("cannot open the store file {path}: {cause}; it must belong to the user zfsync runs as (a command run as root may have created it: give the store's folder back to the service's user, e.g. chown -R zfsync: {folder})", folder = .path.parent().map(|p| p.display().to_string()).unwrap_or_else(|| ".".into()))]
    OpenFile {
        /// The file.
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
    /// A PostgreSQL statement failed.
    #[error("store query failed: {}", pg::cause(.0))]
    Postgres(postgres::Error),
    /// The PostgreSQL store's URL cannot be read.
    #[error("the PostgreSQL store URL {shown} is not valid ({cause}); write it as postgres://USER:PASSWORD@HOST:PORT/DATABASE", cause = pg::cause(.cause))]
    PgUrl {
        /// The URL without its password.
        shown: String,
        /// Why.
        cause: postgres::Error,
    },
    /// The PostgreSQL server cannot be reached or refused the connection.
    #[error("cannot connect to the PostgreSQL store at {target}: {}. Check that the server runs and listens there, that the database exists and that the user and password in the URL are right", pg::cause(.cause))]
    PgConnect {
        /// Host, port, database and user (never the password).
        target: String,
        /// Why.
        cause: postgres::Error,
    },
    /// A PostgreSQL migration failed; none of the upgrade's migrations was applied.
    #[error("store migration postgres/{name} failed: {}. Nothing of this upgrade was applied: the database is still at schema version {from}, and the release that wrote it still opens it", pg::cause(.cause))]
    PgMigration {
        /// The migration.
        name: &'static str,
        /// The schema version the database stays at.
        from: i64,
        /// Why.
        cause: postgres::Error,
    },
    /// A stored value is not of the kind the store expects.
    #[error("a store value (column {column}) cannot be read: {detail}")]
    Value {
        /// The column, from 0.
        column: usize,
        /// What was found.
        detail: String,
    },
    /// A query that always returns a row returned none.
    #[error("a store query returned no row")]
    NoRow,
    /// An operation only the SQLite store has.
    #[error("{what} works on a SQLite store only; on PostgreSQL, {instead}")]
    SqliteOnly {
        /// The operation.
        what: &'static str,
        /// What to do on PostgreSQL.
        instead: &'static str,
    },
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

impl From<postgres::Error> for StoreError {
    fn from(e: postgres::Error) -> StoreError {
        StoreError::Postgres(e)
    }
}

impl From<tokio::task::JoinError> for StoreError {
    fn from(e: tokio::task::JoinError) -> StoreError {
        StoreError::Reader(e)
    }
}

impl StoreError {
    /// Whether this is "database or disk is full" (SQLite), or PostgreSQL's `disk_full`.
    pub fn is_full(&self) -> bool {
        match self {
            StoreError::Sql(e) | StoreError::Open { cause: e, .. } => sqlite::is_full(e),
            StoreError::Postgres(e) => e.code() == Some(&postgres::error::SqlState::DISK_FULL),
            StoreError::Commit(m) => m.contains("full"),
            _ => false,
        }
    }
}

/// A handle to the store; cheap to clone.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
    /// The pairing whose rows this handle reads and writes ([`Store::pairing`]).
    pairing: Arc<str>,
    /// The pairing's own places in the webhook queue (shared by every handle of the pairing).
    urgent_mine: Arc<Semaphore>,
}

struct Inner {
    /// The SQLite file, or the PostgreSQL URL without its password.
    location: PathBuf,
    writer: mpsc::UnboundedSender<Queued>,
    urgent_places: Arc<Semaphore>,
    /// Each pairing's places in the webhook queue, by name.
    pairing_places: Mutex<std::collections::HashMap<Arc<str>, Arc<Semaphore>>>,
    places: Arc<Semaphore>,
    readers: Readers,
    key: Arc<StoreKey>,
    full: Arc<AtomicBool>,
    commits: Arc<AtomicU64>,
    /// This process's name in `lane_leases`: its id and random bits (`<pid>-<hex>`), new at every
    /// open. The replica soak tells the processes it killed apart by the id.
    holder: String,
    /// The writer's PostgreSQL server process (its notifications are this process's own).
    writer_pid: writer::WriterPid,
}

/// The read connections of a backend, opened when none is free and kept up to [`READERS`].
enum Readers {
    Sqlite {
        path: PathBuf,
        pool: Mutex<Vec<rusqlite::Connection>>,
    },
    Postgres {
        target: Box<pg::PgTarget>,
        pool: Mutex<Vec<PgConn>>,
        /// One per read at once ([`PG_READERS`]).
        slots: Arc<Semaphore>,
    },
}

impl Inner {
    /// Runs `f` with a pooled read connection (opened when none is free), then pools it again.
    /// On PostgreSQL, only on a thread that may block (never inside the async runtime).
    fn with_reader<R>(
        &self,
        f: impl FnOnce(&Db<'_>) -> Result<R, StoreError>,
    ) -> Result<R, StoreError> {
        match &self.readers {
            Readers::Sqlite { path, pool } => {
                let pooled = pool.lock().ok().and_then(|mut v| v.pop());
                let conn = match pooled {
                    Some(c) => c,
                    None => sqlite::open_conn(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE)?,
                };
                let r = f(&Db::Sqlite(&conn));
                if let Ok(mut pool) = pool.lock() {
                    if pool.len() < READERS {
                        pool.push(conn);
                    }
                }
                r
            }
            Readers::Postgres { target, pool, .. } => {
                let pooled = pool.lock().ok().and_then(|mut v| v.pop());
                let conn = match pooled {
                    Some(c) if !c.is_closed() => c,
                    _ => target.connect()?,
                };
                let r = f(&Db::Pg(&conn));
                if let Ok(mut pool) = pool.lock() {
                    // A read that failed may have met a connection the server dropped before
                    // the client noticed: it is not pooled again (nor are the others, which
                    // most likely went with it).
                    if !conn.is_closed() && r.is_ok() {
                        if pool.len() < PG_READERS {
                            pool.push(conn);
                        }
                    } else {
                        // The server dropped this client, most likely all of them (a restart):
                        // the next reads connect afresh rather than each failing once.
                        let dropped = std::mem::take(&mut *pool);
                        drop(pool);
                        drop(dropped);
                    }
                }
                r
            }
        }
    }

    fn is_postgres(&self) -> bool {
        matches!(self.readers, Readers::Postgres { .. })
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        // A PostgreSQL client closes its connection by blocking on it, which the async runtime
        // (where the last handle may well be dropped) does not allow: they go on a thread.
        if let Readers::Postgres { pool, .. } = &self.readers {
            let clients = pool.lock().map(|mut v| std::mem::take(&mut *v));
            if let Ok(clients) = clients {
                if !clients.is_empty() {
                    let _ = std::thread::Builder::new()
                        .name("zfsync-store-close".into())
                        .spawn(move || drop(clients));
                }
            }
        }
    }
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("path", &self.inner.location)
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

/// Seals what was stored before encryption (at open, before the writer starts).
fn seal_at_open(db: &Db<'_>, key: &StoreKey) -> Result<(), StoreError> {
    let resealed = sealed::seal_plain_values(db, key)?;
    if resealed > 0 {
        tracing::info!(
            values = resealed,
            "sealed secrets written before encryption with the store key"
        );
    }
    Ok(())
}

impl Store {
    /// Opens the store at `location`: a PostgreSQL URL (`postgres://` or `postgresql://`) opens
    /// [`Store::open_postgres`], anything else is a SQLite file ([`Store::open_with`]).
    pub fn open_url(location: &str, key: StoreKey) -> Result<Store, StoreError> {
        if pg::is_postgres_url(location) {
            Store::open_postgres(location, key)
        } else {
            Store::open_with(location, key)
        }
    }

    /// Starts the writer thread on its connection and makes the handle.
    fn launch(
        location: PathBuf,
        conn: WriterConn,
        readers: Readers,
        key: StoreKey,
        commits: Arc<AtomicU64>,
        writer_gone: Arc<AtomicBool>,
    ) -> Result<Store, StoreError> {
        let (tx, rx) = mpsc::unbounded_channel();
        let default_name: Arc<str> = Arc::from(DEFAULT_PAIRING);
        let default_places = Arc::new(Semaphore::new(MAX_URGENT_PER_PAIRING));
        let full = Arc::new(AtomicBool::new(false));
        let (writer_full, writer_commits) = (full.clone(), commits.clone());
        let writer_pid = match &conn {
            WriterConn::Pg { pid, .. } => pid.clone(),
            WriterConn::Sqlite(_) => writer::WriterPid::default(),
        };
        std::thread::Builder::new()
            .name("zfsync-store-writer".into())
            .spawn(move || {
                writer::writer_loop(conn, rx, writer_full, writer_commits);
                writer_gone.store(true, Ordering::Relaxed);
            })
            .map_err(StoreError::WriterThread)?;
        Ok(Store {
            inner: Arc::new(Inner {
                location,
                writer: tx,
                urgent_places: Arc::new(Semaphore::new(MAX_URGENT)),
                pairing_places: Mutex::new(std::collections::HashMap::from([(
                    Arc::clone(&default_name),
                    Arc::clone(&default_places),
                )])),
                places: Arc::new(Semaphore::new(MAX_QUEUED)),
                readers,
                key: Arc::new(key),
                full,
                commits,
                holder: format!(
                    "{}-{:012x}",
                    std::process::id(),
                    fastrand::u64(..) & 0xffff_ffff_ffff
                ),
                writer_pid,
            }),
            pairing: default_name,
            urgent_mine: default_places,
        })
    }

    /// The same store, reading and writing the rows of pairing `name` (one Zalo OA ↔ one
    /// Freshchat account). A store opened is the pairing [`DEFAULT_PAIRING`]'s.
    pub fn pairing(&self, name: &str) -> Store {
        let pairing: Arc<str> = Arc::from(name);
        let urgent_mine = self
            .inner
            .pairing_places
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .entry(Arc::clone(&pairing))
            .or_insert_with(|| Arc::new(Semaphore::new(MAX_URGENT_PER_PAIRING)))
            .clone();
        Store {
            inner: self.inner.clone(),
            pairing,
            urgent_mine,
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

    /// The store file; for a PostgreSQL store, its URL without the password.
    pub fn path(&self) -> &Path {
        &self.inner.location
    }

    /// Whether this store is kept in PostgreSQL.
    pub fn is_postgres(&self) -> bool {
        self.inner.is_postgres()
    }

    /// Refuses an operation that only a SQLite file has, saying what to do instead.
    fn sqlite_only(&self, what: &'static str, instead: &'static str) -> Result<(), StoreError> {
        if self.is_postgres() {
            return Err(StoreError::SqliteOnly { what, instead });
        }
        Ok(())
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
        F: FnOnce(&Db<'_>) -> Result<R, StoreError> + Send + 'static,
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
    /// waiting. On PostgreSQL the batch's events are inserted in one statement.
    async fn write_urgent_insert(&self, event: inbox::NewEvent) -> Result<Ingested, StoreError> {
        let (tx, rx) = oneshot::channel();
        let work = writer::Work::Insert(writer::EventInsert {
            pairing: self.p(),
            event,
            tx,
        });
        self.queue_urgent(work, rx).await
    }

    /// Runs `f` ahead of every other write in the next batch, as [`Store::write_urgent_insert`]
    /// does a webhook's insert. One statement, which SQLite keeps atomic by itself (no savepoint
    /// of its own; PostgreSQL gets one all the same, see [`writer::job`]).
    #[cfg(test)]
    async fn write_urgent_statement<R, F>(&self, f: F) -> Result<R, StoreError>
    where
        F: FnOnce(&Db<'_>) -> Result<R, StoreError> + Send + 'static,
        R: Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        self.queue_urgent(writer::Work::Run(writer::job(f, false, tx)), rx)
            .await
    }

    /// Queues an urgent write, holding a place of the pairing's and one of the whole queue's.
    async fn queue_urgent<R>(
        &self,
        work: writer::Work,
        rx: oneshot::Receiver<Result<R, StoreError>>,
    ) -> Result<R, StoreError> {
        let mine = self
            .urgent_mine
            .clone()
            .try_acquire_owned()
            .map_err(|_| StoreError::Busy)?;
        let permit = self
            .inner
            .urgent_places
            .clone()
            .try_acquire_owned()
            .map_err(|_| StoreError::Busy)?;
        self.inner
            .writer
            .send(Queued {
                work,
                urgent: true,
                _permit: permit,
            })
            .map_err(|_| StoreError::Closed)?;
        let answer = rx.await.map_err(|_| StoreError::Closed)?;
        drop(mine);
        answer
    }

    async fn submit<R, F>(
        &self,
        f: F,
        urgent: bool,
        permit: OwnedSemaphorePermit,
        savepoint: bool,
    ) -> Result<R, StoreError>
    where
        F: FnOnce(&Db<'_>) -> Result<R, StoreError> + Send + 'static,
        R: Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        self.inner
            .writer
            .send(Queued {
                work: writer::Work::Run(writer::job(f, savepoint, tx)),
                urgent,
                _permit: permit,
            })
            .map_err(|_| StoreError::Closed)?;
        rx.await.map_err(|_| StoreError::Closed)?
    }

    /// Whether a read connection answers (the readiness check; it never waits behind a write).
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.read(|c| c.query_row("SELECT 1", db::params![], |r| r.get::<i64>(0)))
            .await
            .map(|_| ())
    }

    /// Runs `f` on a read connection (never blocks the async runtime).
    async fn read<R, F>(&self, f: F) -> Result<R, StoreError>
    where
        F: FnOnce(&Db<'_>) -> Result<R, StoreError> + Send + 'static,
        R: Send + 'static,
    {
        let inner = self.inner.clone();
        let slot = match &self.inner.readers {
            Readers::Postgres { slots, .. } => Some(
                slots
                    .clone()
                    .acquire_owned()
                    .await
                    .map_err(|_| StoreError::Closed)?,
            ),
            Readers::Sqlite { .. } => None,
        };
        let read = tokio::task::spawn_blocking(move || inner.with_reader(f)).await?;
        drop(slot);
        read
    }

    /// Runs `f` on a read connection right here, on the caller's thread: for indexed point reads
    /// that take microseconds (a lane's next events, one pairing, one journal step), where handing
    /// the read to a blocking thread and back costs more than the read. Anything that scans, or
    /// whose size the caller does not bound, goes through [`Store::read`]. On PostgreSQL every
    /// read is a network round trip, and goes through [`Store::read`].
    async fn lookup<R, F>(&self, f: F) -> Result<R, StoreError>
    where
        F: FnOnce(&Db<'_>) -> Result<R, StoreError> + Send + 'static,
        R: Send + 'static,
    {
        if self.inner.is_postgres() {
            return self.read(f).await;
        }
        self.inner.with_reader(f)
    }
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
