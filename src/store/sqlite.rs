//! The SQLite backend: the embedded default, one file in WAL mode. Its connections (the writer's,
//! the readers', the checkpointer's), its numbered migrations tracked by `PRAGMA user_version`,
//! the checkpoint thread that keeps the WAL small beside the writer, and a page limit (to test a
//! full disk). The file itself (its privacy, integrity check, key, backup) is [`super::disk`]'s.
//!
//! Failure: a file that cannot be opened, a migration that fails and a file newer than this build
//! are [`StoreError`]s that name the file or the migration.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use rusqlite::{Connection, OpenFlags};

use super::writer::WriterConn;
use super::{Readers, Store, StoreError, StoreKey};

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
    (
        "014_zalo_tags",
        include_str!("../../migrations/014_zalo_tags.sql"),
    ),
    (
        "015_csat_and_given_contact",
        include_str!("../../migrations/015_csat_and_given_contact.sql"),
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

/// Whether this is SQLite's "database or disk is full".
pub(super) fn is_full(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::DiskFull)
}

pub(super) fn open_conn(path: &Path, flags: OpenFlags) -> Result<Connection, StoreError> {
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
pub(super) fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
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
    /// Starts the store on its checked and migrated connection: seals what was stored before
    /// encryption, then starts the writer and checkpoint threads.
    pub(super) fn start_sqlite(
        path: PathBuf,
        conn: Connection,
        key: StoreKey,
    ) -> Result<Store, StoreError> {
        super::seal_at_open(&super::db::Db::Sqlite(&conn), &key)?;
        // The writer leaves checkpoints to its own thread (below), so a commit never waits for
        // pages to be copied into the database file; past this many WAL pages it checkpoints
        // itself all the same (the checkpoint thread fell behind).
        conn.pragma_update(None, "wal_autocheckpoint", WRITER_CHECKPOINT_PAGES)?;
        conn.pragma_update(None, "journal_size_limit", WAL_SIZE_LIMIT)?;
        let checkpoints = Checkpointer {
            conn: open_conn(&path, OpenFlags::SQLITE_OPEN_READ_WRITE)?,
            commits: Arc::new(AtomicU64::new(0)),
            writer_gone: Arc::new(AtomicBool::new(false)),
        };
        let (commits, writer_gone) = (checkpoints.commits.clone(), checkpoints.writer_gone.clone());
        let store = Store::launch(
            path.clone(),
            WriterConn::Sqlite(conn),
            Readers::Sqlite {
                path,
                pool: Default::default(),
            },
            key,
            commits,
            writer_gone,
        )?;
        std::thread::Builder::new()
            .name("zfsync-store-checkpoint".into())
            .spawn(move || checkpoints.run())
            .map_err(StoreError::WriterThread)?;
        Ok(store)
    }

    /// Limits the store to `pages` pages (None: SQLite's maximum), as a full disk would: writes past
    /// it fail with "database or disk is full". Returns the limit now in force. SQLite only.
    pub async fn limit_pages(&self, pages: Option<u64>) -> Result<u64, StoreError> {
        self.sqlite_only(
            "limiting the store's size",
            "give the database server a disk or quota of that size",
        )?;
        self.write(move |c| {
            let n = pages.unwrap_or(4_294_967_294);
            Ok(c.query_row(
                &format!("PRAGMA max_page_count = {n}"),
                super::db::params![],
                |r| r.get::<i64>(0),
            )? as u64)
        })
        .await
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
