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

/// The schema version recorded in an open store.
pub(super) fn schema_version(conn: &Connection) -> Result<i64, StoreError> {
    Ok(conn.pragma_query_value(None, "user_version", |r| r.get(0))?)
}

/// The copy of a store made before migrating it from schema `version`:
/// `<store>.schema-<version>.bak`, beside it (named like the store, so its folder stays zfsync's
/// own). A newer release names the copy it makes of this release's store the same way, which is
/// how [`too_new`] finds the way back.
pub(super) fn copy_before_migrating(path: &Path, version: i64) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(format!(".schema-{version}.bak"));
    PathBuf::from(name)
}

/// A store whose schema is newer than this build's: refused, with the way back to this release.
pub(super) fn too_new(path: &Path, found: i64) -> StoreError {
    let known = MIGRATIONS.len() as i64;
    let copy = copy_before_migrating(path, known);
    let way_back = if copy.exists() {
        format!(
            "stop zfsync, move {store} and its -wal and -shm files aside, and copy {copy} (made by the newer release before it migrated) in its place; messages since then are caught up from the platforms' history",
            store = path.display(),
            copy = copy.display()
        )
    } else {
        "restore the backup taken before the upgrade ('zfsync backup' makes one); see RELIABILITY.md, Upgrades".into()
    };
    StoreError::TooNew {
        location: path.display().to_string(),
        found,
        known,
        release: super::RELEASE,
        way_back,
    }
}

/// Applies the embedded migrations that `conn` has not seen yet.
pub(super) fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    migrate_with(conn, MIGRATIONS)
}

/// Applies the `migrations` that `conn` has not seen yet, all in ONE transaction: should any fail,
/// none is applied and the store stays at the version it had (which the release that wrote it
/// still opens), never between two versions. A store at the last version is left untouched.
pub(super) fn migrate_with(
    conn: &mut Connection,
    migrations: &[(&'static str, &'static str)],
) -> Result<(), StoreError> {
    let known = migrations.len() as i64;
    let current = schema_version(conn)?;
    if current > known {
        return Err(too_new(Path::new(conn.path().unwrap_or_default()), current));
    }
    if current == known {
        return Ok(());
    }
    // A migration that rebuilds a table (SQLite's way to change a key) drops the old one, which
    // other tables reference: foreign keys are off while migrating (the pragma cannot change
    // inside a transaction) and checked after each migration.
    conn.pragma_update(None, "foreign_keys", "OFF")?;
    let applied = apply(conn, current, migrations);
    conn.pragma_update(None, "foreign_keys", "ON")?;
    applied
}

fn apply(
    conn: &mut Connection,
    current: i64,
    migrations: &[(&'static str, &'static str)],
) -> Result<(), StoreError> {
    let first = super::first_pending(migrations, current);
    let failed = |name: &'static str| {
        move |cause| StoreError::Migration {
            name,
            from: current,
            cause,
        }
    };
    let tx = conn.transaction().map_err(failed(first))?;
    for (name, sql) in migrations.iter().skip(current as usize) {
        tx.execute_batch(sql).map_err(failed(name))?;
        let dangling = tx
            .prepare("PRAGMA foreign_key_check")
            .and_then(|mut st| st.exists([]))
            .map_err(failed(name))?;
        if dangling {
            return Err(failed(name)(rusqlite::Error::SqliteFailure(
                rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CONSTRAINT_FOREIGNKEY),
                Some("a row references one that the migration did not keep".into()),
            )));
        }
    }
    tx.pragma_update(None, "user_version", migrations.len() as i64)
        .map_err(failed(first))?;
    tx.commit().map_err(failed(first))?;
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
