//! The PostgreSQL backend: the shared store for many customers. The writer thread owns one client
//! and runs the same batches as on SQLite (one transaction per batch, a savepoint per closure,
//! answers after COMMIT); readers are a small pool of clients used on blocking threads. The
//! schema is `migrations/postgres/` (the same tables, keys, checks and indexes as SQLite's after
//! its last migration), tracked in `schema_migrations` and applied at open under an advisory lock,
//! so two processes starting together do not both migrate.
//!
//! The sync client runs its own small runtime and may not be used inside the async runtime: the
//! store opens it on a thread of its own and reads on blocking threads.
//!
//! Failure: a URL that cannot be read, a server that cannot be reached and a database newer than
//! this build are [`StoreError`]s naming the host, port, database and user, never the password.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::{Arc, Mutex};

use super::db::{params, Db, PgConn};
use super::writer::WriterConn;
use super::{now_ms, seal_at_open, Readers, Store, StoreError, StoreKey};
use secrecy::SecretString;

/// Numbered PostgreSQL migrations, applied in order. Never edit one that has shipped; add the next
/// number. The first is the SQLite schema as its migration 013 left it.
pub const POSTGRES_MIGRATIONS: &[(&str, &str)] = &[
    (
        "001_initial",
        include_str!("../../migrations/postgres/001_initial.sql"),
    ),
    (
        "002_lane_leases",
        include_str!("../../migrations/postgres/002_lane_leases.sql"),
    ),
    (
        "003_zalo_tags",
        include_str!("../../migrations/postgres/003_zalo_tags.sql"),
    ),
    (
        "004_csat_and_given_contact",
        include_str!("../../migrations/postgres/004_csat_and_given_contact.sql"),
    ),
];

/// The advisory lock held while migrating ("zfsync" in ASCII).
const MIGRATION_LOCK: i64 = 0x7a66_7379_6e63;

/// Whether `location` is a PostgreSQL URL rather than a file.
pub(super) fn is_postgres_url(location: &str) -> bool {
    let l = location.trim_start();
    ["postgres://", "postgresql://"]
        .iter()
        .any(|p| l.len() >= p.len() && l[..p.len()].eq_ignore_ascii_case(p))
}

/// Where the PostgreSQL store is, and how it is shown (never with the password).
#[derive(Clone)]
pub(super) struct PgTarget {
    config: postgres::Config,
    shown: String,
}

impl PgTarget {
    /// Reads a `postgres://` URL.
    pub(super) fn parse(url: &str) -> Result<PgTarget, StoreError> {
        let config: postgres::Config = url.parse().map_err(|cause| StoreError::PgUrl {
            shown: redact_url(url),
            cause,
        })?;
        let shown = show(&config);
        Ok(PgTarget { config, shown })
    }

    /// Connects a new client. The connector (no TLS for now) is chosen here and nowhere else.
    pub(super) fn connect(&self) -> Result<PgConn, StoreError> {
        let client =
            self.config
                .connect(postgres::NoTls)
                .map_err(|cause| StoreError::PgConnect {
                    target: self.shown.clone(),
                    cause,
                })?;
        Ok(PgConn::new(client))
    }
}

/// `postgres://user@host:port/database`, without the password.
fn show(config: &postgres::Config) -> String {
    let hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .enumerate()
        .map(|(i, h)| {
            let host = match h {
                postgres::config::Host::Tcp(name) => name.clone(),
                #[cfg(unix)]
                postgres::config::Host::Unix(path) => path.display().to_string(),
            };
            match config.get_ports().get(i).or(config.get_ports().first()) {
                Some(port) => format!("{host}:{port}"),
                None => format!("{host}:5432"),
            }
        })
        .collect();
    let user = config
        .get_user()
        .map(|u| format!("{u}@"))
        .unwrap_or_default();
    format!(
        "postgres://{user}{}/{}",
        hosts.join(","),
        config.get_dbname().unwrap_or("")
    )
}

/// A URL that did not parse, shown without anything between `://` and `@` (the credentials).
fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return "(not a URL)".into();
    };
    match rest.rsplit_once('@') {
        Some((credentials, host)) => {
            let user = credentials.split(':').next().unwrap_or("");
            format!("{scheme}://{user}@{host}")
        }
        None => url.to_string(),
    }
}

impl Store {
    /// Opens the PostgreSQL store at `url` (`postgres://USER:PASSWORD@HOST:PORT/DATABASE`) with
    /// `key`: connects, applies the migrations this database has not seen (refusing a database
    /// newer than this build), seals what was stored before encryption, and starts the writer.
    pub fn open_postgres(url: &str, key: StoreKey) -> Result<Store, StoreError> {
        Store::open_postgres_with(url, |_| Ok(key))
    }

    /// Opens the PostgreSQL store at `url` with the key from `given` (ZFSYNC_STORE_KEY or the
    /// secrets file), the systemd credential, or `key_file`, as [`Store::open_keyed`] does for a
    /// file: a missing key file is created only while the database holds no sealed value (the
    /// first replica of a deployment); every other replica needs the same key.
    pub fn open_postgres_keyed(
        url: &str,
        given: Option<&SecretString>,
        key_file: &Path,
    ) -> Result<Store, StoreError> {
        Store::open_postgres_with(url, |conn| {
            let holds_sealed = super::sealed::holds_sealed(&Db::Pg(conn))?;
            Ok(StoreKey::resolve(given, key_file, !holds_sealed)?)
        })
    }

    fn open_postgres_with(
        url: &str,
        key: impl FnOnce(&PgConn) -> Result<StoreKey, StoreError> + Send,
    ) -> Result<Store, StoreError> {
        let target = PgTarget::parse(url)?;
        // The sync client blocks on a runtime of its own, which cannot start inside the async
        // runtime that may be calling: the opening work runs on a thread of its own.
        let (conn, key, writer_pid) = std::thread::scope(|s| {
            s.spawn(|| -> Result<(PgConn, StoreKey, i32), StoreError> {
                let conn = target.connect()?;
                migrate(&conn, &target.shown)?;
                let key = key(&conn)?;
                seal_at_open(&Db::Pg(&conn), &key)?;
                let pid = conn.backend_pid()?;
                Ok((conn, key, pid))
            })
            .join()
            .unwrap_or_else(|_| {
                Err(StoreError::Commit(
                    "the store's opening thread failed".into(),
                ))
            })
        })?;
        let location = PathBuf::from(&target.shown);
        let again = target.clone();
        let pid = super::writer::WriterPid::default();
        pid.set(writer_pid);
        Store::launch(
            location,
            WriterConn::Pg {
                conn: Box::new(conn),
                reconnect: Box::new(move || again.connect()),
                pid,
            },
            Readers::Postgres {
                target: Box::new(target),
                pool: Mutex::new(Vec::new()),
                slots: Arc::new(tokio::sync::Semaphore::new(super::PG_READERS)),
            },
            key,
            Arc::new(AtomicU64::new(0)),
            Arc::new(AtomicBool::new(false)),
        )
    }
}

/// Applies the migrations the database has not seen, holding the migration lock.
fn migrate(conn: &PgConn, shown: &str) -> Result<(), StoreError> {
    migrate_with(conn, shown, POSTGRES_MIGRATIONS)
}

/// [`migrate`] with these `migrations`.
pub(super) fn migrate_with(
    conn: &PgConn,
    shown: &str,
    migrations: &[(&'static str, &'static str)],
) -> Result<(), StoreError> {
    conn.batch(&format!("SELECT pg_advisory_lock({MIGRATION_LOCK})"))?;
    let migrated = migrate_locked(conn, shown, migrations);
    let unlocked = conn.batch(&format!("SELECT pg_advisory_unlock({MIGRATION_LOCK})"));
    migrated?;
    Ok(unlocked?)
}

/// The pending migrations in ONE transaction: should any fail, none is applied and the database
/// stays at the version it had, never between two. A database newer than this build is refused
/// before anything is written (`schema_migrations` is only created when missing).
fn migrate_locked(
    conn: &PgConn,
    shown: &str,
    migrations: &[(&'static str, &'static str)],
) -> Result<(), StoreError> {
    let db = Db::Pg(conn);
    // Created only when missing, and without the server's NOTICE that it exists (which the
    // client would log at every start).
    let exists: bool = db.query_row(
        "SELECT to_regclass('schema_migrations') IS NOT NULL",
        params![],
        |r| r.get(0),
    )?;
    if !exists {
        conn.batch(
            "CREATE TABLE IF NOT EXISTS schema_migrations (
                 version    BIGINT PRIMARY KEY,
                 applied_at BIGINT NOT NULL
             )",
        )?;
    }
    let known = migrations.len() as i64;
    let current: i64 = db.query_row(
        "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
        params![],
        |r| r.get(0),
    )?;
    if current > known {
        return Err(StoreError::TooNew {
            location: shown.to_string(),
            found: current,
            known,
            release: super::RELEASE,
            way_back: "restore the dump taken before the upgrade (pg_restore of the pg_dump file) into an empty database; see RELIABILITY.md, Upgrades".into(),
        });
    }
    if current == known {
        return Ok(());
    }
    let first = super::first_pending(migrations, current);
    let failed = |name: &'static str| {
        move |cause| StoreError::PgMigration {
            name,
            from: current,
            cause,
        }
    };
    conn.batch("BEGIN").map_err(failed(first))?;
    let applied = (|| {
        for (i, (name, sql)) in migrations.iter().enumerate().skip(current as usize) {
            conn.batch(sql).map_err(failed(name))?;
            db.execute(
                "INSERT INTO schema_migrations (version, applied_at) VALUES (?1, ?2)",
                params![(i + 1) as i64, now_ms()],
            )?;
        }
        conn.batch("COMMIT").map_err(failed(first))
    })();
    if applied.is_err() {
        let _ = conn.batch("ROLLBACK");
    }
    applied
}

/// A PostgreSQL error as an operator can act on it: the server's own message (its severity,
/// SQLSTATE, message, detail and hint) instead of the client's bare "db error", the client's
/// cause after its kind otherwise, and what to do for the refusals met when setting a store up.
pub(crate) fn cause(e: &postgres::Error) -> String {
    use std::error::Error as _;
    let Some(db) = e.as_db_error() else {
        return match e.source() {
            Some(source) => format!("{e}: {source}"),
            None => e.to_string(),
        };
    };
    let mut text = format!("{} {}: {}", db.severity(), db.code().code(), db.message());
    if let Some(detail) = db.detail() {
        text.push_str(&format!(" ({detail})"));
    }
    if let Some(hint) = db.hint() {
        text.push_str(&format!("; hint: {hint}"));
    }
    let fix = match db.code().code() {
        "42501" => Some("the user needs to own the database: CREATE DATABASE zfsync OWNER zfsync (or ALTER DATABASE zfsync OWNER TO zfsync, and GRANT CREATE ON SCHEMA public TO zfsync)"),
        "28P01" | "28000" => Some("check the user and password of store.url (or ZFSYNC_STORE_URL in the secrets file) against the server's roles and pg_hba.conf"),
        "3D000" => Some("create it: CREATE DATABASE zfsync OWNER zfsync"),
        _ => None,
    };
    if let Some(fix) = fix {
        text.push_str(&format!("; {fix}"));
    }
    text
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_told_apart_from_files_and_shown_without_their_password() {
        assert!(is_postgres_url("postgres://u@h/db"));
        assert!(is_postgres_url("PostgreSQL://u@h/db"));
        assert!(!is_postgres_url("/var/lib/zfsync/zfsync.db"));
        let t = PgTarget::parse("postgres://zf:hunter2@db.example:6543/zfsync").unwrap();
        assert_eq!(t.shown, "postgres://zf@db.example:6543/zfsync");
        let e = PgTarget::parse("postgres://zf:hunter2@db.example:notaport/zfsync")
            .err()
            .unwrap()
            .to_string();
        assert!(!e.contains("hunter2") && e.contains("db.example"), "{e}");
    }

    #[test]
    fn a_server_that_does_not_answer_is_named_without_the_password() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let url = format!("postgres://zf:hunter2@127.0.0.1:{port}/zfsync?connect_timeout=5");
        let e = Store::open_postgres(&url, StoreKey::from_bytes(&[7; 32]).unwrap())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains(&format!("127.0.0.1:{port}/zfsync")) && !e.contains("hunter2"),
            "{e}"
        );
    }
}
