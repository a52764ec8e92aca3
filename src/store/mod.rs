//! The SQLite store: every ID pairing, the inbox of verified events, the journal of external effects,
//! tokens, hosted files. One file per table family: [`inbox`], [`journal`], [`pairings`], [`auth`],
//! [`files`]; the states and the lane newtype in [`model`].
//!
//! One writer thread owns the write connection. Writes are closures sent to it; the thread runs all
//! the closures that are waiting in ONE transaction (each inside its own savepoint, so one failing
//! closure does not undo the others) and answers them only after COMMIT: group commit, so durable
//! writes under concurrency cost one fsync per batch rather than per request. Reads use a small
//! pool of separate connections (WAL lets them run beside the writer).
//!
//! Failure: a write that fails rolls back its own savepoint and returns the error; a failed COMMIT
//! fails every closure of the batch (nothing was acknowledged). Migrations are numbered SQL files
//! embedded in the binary, applied in order at open, tracked by `PRAGMA user_version`.

pub mod auth;
pub mod files;
pub mod inbox;
pub mod journal;
pub mod model;
pub mod pairings;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rusqlite::{Connection, OpenFlags};
use tokio::sync::{mpsc, oneshot};

pub use auth::{AttemptKey, OAuthAttempt, StoredTokens};
pub use files::HostedFile;
pub use inbox::{ActivityRow, HourlyCounts, InboxRow, Ingested, NewEvent, SourceStats};
pub use journal::StepRow;
pub use model::{Direction, EventState, JournalKey, Lane, Source, StepState};
pub use pairings::Contact;

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
];

/// Most write closures one transaction takes; the rest wait for the next batch.
const MAX_BATCH: usize = 256;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open the store at {path}: {source}")]
    Open {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error("store migration {name} failed: {source}")]
    Migration {
        name: &'static str,
        #[source]
        source: rusqlite::Error,
    },
    #[error("the store was created by a newer zfsync (schema version {found}, this build knows {known}); upgrade zfsync")]
    TooNew { found: i64, known: i64 },
    #[error("store query failed: {0}")]
    Sql(#[from] rusqlite::Error),
    #[error("store commit failed (nothing was acknowledged): {0}")]
    Commit(String),
    #[error("the store is closed")]
    Closed,
    #[error("cannot create the store's folder {path}: {source}")]
    CreateDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot start the store writer thread: {0}")]
    WriterThread(#[source] std::io::Error),
    #[error("a store reader stopped: {0}")]
    Reader(#[from] tokio::task::JoinError),
}

type Completion = Box<dyn FnOnce(Result<(), String>) + Send>;
/// A write: run inside the batch's transaction (`Some`), or told the transaction could not begin
/// (`None`); either way it returns what answers its caller once the batch's fate is known.
type WriteJob = Box<dyn FnOnce(Option<&Connection>) -> Completion + Send>;

/// A handle to the store; cheap to clone.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    writer: mpsc::UnboundedSender<WriteJob>,
    readers: Mutex<Vec<Connection>>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("path", &self.inner.path)
            .finish()
    }
}

fn open_conn(path: &Path, flags: OpenFlags) -> Result<Connection, StoreError> {
    let conn = Connection::open_with_flags(path, flags).map_err(|source| StoreError::Open {
        path: path.to_path_buf(),
        source,
    })?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    // WAL must be set outside a transaction; FULL keeps every acknowledged event across power loss.
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    Ok(conn)
}

/// Applies the embedded migrations that `conn` has not seen yet.
pub fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let known = MIGRATIONS.len() as i64;
    let current: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if current > known {
        return Err(StoreError::TooNew {
            found: current,
            known,
        });
    }
    for (i, (name, sql)) in MIGRATIONS.iter().enumerate().skip(current as usize) {
        let tx = conn
            .transaction()
            .map_err(|source| StoreError::Migration { name, source })?;
        tx.execute_batch(sql)
            .map_err(|source| StoreError::Migration { name, source })?;
        tx.pragma_update(None, "user_version", (i + 1) as i64)
            .map_err(|source| StoreError::Migration { name, source })?;
        tx.commit()
            .map_err(|source| StoreError::Migration { name, source })?;
    }
    Ok(())
}

impl Store {
    /// Opens (creating if needed) and migrates the store, and starts its writer thread.
    pub fn open(path: impl AsRef<Path>) -> Result<Store, StoreError> {
        let path = path.as_ref().to_path_buf();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| StoreError::CreateDir {
                path: dir.to_path_buf(),
                source,
            })?;
        }
        let mut conn = open_conn(&path, OpenFlags::default())?;
        migrate(&mut conn)?;
        let (tx, rx) = mpsc::unbounded_channel();
        std::thread::Builder::new()
            .name("zfsync-store-writer".into())
            .spawn(move || writer_loop(conn, rx))
            .map_err(StoreError::WriterThread)?;
        Ok(Store {
            inner: Arc::new(Inner {
                path,
                writer: tx,
                readers: Mutex::new(Vec::new()),
            }),
        })
    }

    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Runs `f` in the writer's transaction; resolves once the batch holding it is committed.
    pub async fn write<R, F>(&self, f: F) -> Result<R, StoreError>
    where
        F: FnOnce(&Connection) -> Result<R, StoreError> + Send + 'static,
        R: Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        let job: WriteJob = Box::new(move |conn| {
            let Some(conn) = conn else {
                // The transaction never began: nothing ran; the caller gets the writer's error.
                return Box::new(move |begin: Result<(), String>| {
                    let _ = tx.send(Err(StoreError::Commit(begin.err().unwrap_or_default())));
                });
            };
            let savepoint = conn.execute_batch("SAVEPOINT job");
            let result = match savepoint {
                Ok(()) => {
                    let r = f(conn);
                    if r.is_err() {
                        let _ = conn.execute_batch("ROLLBACK TO job");
                    }
                    let _ = conn.execute_batch("RELEASE job");
                    r
                }
                Err(e) => Err(StoreError::Sql(e)),
            };
            Box::new(move |commit: Result<(), String>| {
                let out = match commit {
                    Ok(()) => result,
                    Err(e) => Err(StoreError::Commit(e)),
                };
                let _ = tx.send(out);
            })
        });
        self.inner
            .writer
            .send(job)
            .map_err(|_| StoreError::Closed)?;
        rx.await.map_err(|_| StoreError::Closed)?
    }

    /// Runs `f` on a read connection (never blocks the async runtime).
    pub async fn read<R, F>(&self, f: F) -> Result<R, StoreError>
    where
        F: FnOnce(&Connection) -> Result<R, StoreError> + Send + 'static,
        R: Send + 'static,
    {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            let conn = match inner.readers.lock().map(|mut v| v.pop()) {
                Ok(Some(c)) => c,
                _ => open_conn(&inner.path, OpenFlags::SQLITE_OPEN_READ_WRITE)?,
            };
            let r = f(&conn);
            if let Ok(mut pool) = inner.readers.lock() {
                if pool.len() < 8 {
                    pool.push(conn);
                }
            }
            r
        })
        .await?
    }
}

fn writer_loop(conn: Connection, mut rx: mpsc::UnboundedReceiver<WriteJob>) {
    while let Some(first) = rx.blocking_recv() {
        let mut batch = Vec::with_capacity(16);
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        if let Err(e) = conn.execute_batch("BEGIN IMMEDIATE") {
            let msg = format!("cannot begin a transaction: {e}");
            tracing::error!(error = %msg, "store write failed");
            for job in batch {
                job(None)(Err(msg.clone()));
            }
            continue;
        }
        let completions: Vec<Completion> = batch.into_iter().map(|job| job(Some(&conn))).collect();
        let commit = conn.execute_batch("COMMIT").map_err(|e| {
            let _ = conn.execute_batch("ROLLBACK");
            e.to_string()
        });
        for done in completions {
            done(commit.clone());
        }
    }
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn temp_store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path().join("t.db")).unwrap();
        (dir, store)
    }

    #[test]
    fn migrations_apply_in_order_and_tables_are_strict() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = Connection::open(dir.path().join("m.db")).unwrap();
        migrate(&mut conn).unwrap();
        let v: i64 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(v, MIGRATIONS.len() as i64);
        // STRICT: a wrong type is refused rather than stored.
        let e = conn.execute("INSERT INTO meta (key, value) VALUES ('k', x'00')", []);
        assert!(e.is_err(), "STRICT tables refuse a blob in a TEXT column");
        // Idempotent: a second run changes nothing.
        migrate(&mut conn).unwrap();
    }

    #[test]
    fn a_store_from_a_newer_release_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("n.db");
        Connection::open(&path)
            .unwrap()
            .pragma_update(None, "user_version", 99)
            .unwrap();
        let e = Store::open(&path).unwrap_err().to_string();
        assert!(e.contains("newer zfsync"), "{e}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failing_write_undoes_only_itself() {
        let (_dir, store) = temp_store();
        let mut tasks = Vec::new();
        for i in 0..64i64 {
            let s = store.clone();
            tasks.push(tokio::spawn(async move {
                s.write(move |c| {
                    c.execute(
                        "INSERT INTO meta (key, value) VALUES (?1, 'v')",
                        [format!("k{i}")],
                    )?;
                    if i % 2 == 1 {
                        return Err(StoreError::Closed);
                    }
                    Ok(())
                })
                .await
            }));
        }
        let mut ok = 0;
        for t in tasks {
            if t.await.unwrap().is_ok() {
                ok += 1;
            }
        }
        assert_eq!(ok, 32);
        let n: i64 = store
            .read(|c| Ok(c.query_row("SELECT COUNT(*) FROM meta", [], |r| r.get(0))?))
            .await
            .unwrap();
        assert_eq!(
            n, 32,
            "the odd writes rolled back, the even ones committed beside them"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn ingest_is_idempotent_per_source_and_key() {
        let (_dir, store) = temp_store();
        let ev = |source, key: &str| NewEvent {
            source,
            dedupe_key: key.into(),
            lane: Lane::zalo(Some("1")),
            event_name: "user_send_text".into(),
            body: b"{}".to_vec(),
            event_time: 1,
        };
        assert!(matches!(
            store.ingest(ev(Source::Zalo, "m1")).await.unwrap(),
            Ingested::New(_)
        ));
        assert_eq!(
            store.ingest(ev(Source::Zalo, "m1")).await.unwrap(),
            Ingested::Duplicate
        );
        assert!(matches!(
            store.ingest(ev(Source::Freshchat, "m1")).await.unwrap(),
            Ingested::New(_)
        ));
        assert_eq!(store.pending_count().await.unwrap(), 2);
    }
}
