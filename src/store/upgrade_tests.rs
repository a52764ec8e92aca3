//! Upgrades of the store: a SQLite store of an earlier schema is copied beside itself, then
//! migrated in one transaction (all of the upgrade or none of it); a store whose schema is newer
//! than this build is refused before anything is written to it or made beside it. The same on
//! PostgreSQL, without the copy (`pg_dump` is the operator's). The end-to-end upgrade of a store
//! written by the previous release is `tests/e2e/upgrade.rs`.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use rusqlite::Connection;
use sha2::{Digest as _, Sha256};

use super::sqlite::{copy_before_migrating, migrate_with};
use super::testing;
use super::{Store, StoreError, MIGRATIONS, POSTGRES_MIGRATIONS, RELEASE};

/// The schema of the previous release (0.1.0, a316bd2): SQLite migrations 001 to 011.
const PREVIOUS: usize = 11;

fn hash(path: &Path) -> String {
    hex::encode(Sha256::digest(std::fs::read(path).unwrap()))
}

/// The files in `dir`, by name.
fn files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Every table's rows, as text: what a store holds, whatever its file's bytes.
fn content(path: &Path) -> Vec<String> {
    let conn = Connection::open(path).unwrap();
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let mut out = Vec::new();
    for t in tables {
        let mut st = conn.prepare(&format!("SELECT * FROM \"{t}\"")).unwrap();
        let n = st.column_count();
        let rows = st
            .query_map([], |r| {
                (0..n)
                    .map(|i| {
                        r.get_ref(i).map(|v| match v {
                            rusqlite::types::ValueRef::Text(t) => {
                                String::from_utf8_lossy(t).into_owned()
                            }
                            other => format!("{other:?}"),
                        })
                    })
                    .collect::<Result<Vec<_>, _>>()
            })
            .unwrap();
        for row in rows {
            out.push(format!("{t}: {}", row.unwrap().join(", ")));
        }
    }
    out
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn version(path: &Path) -> i64 {
    Connection::open(path)
        .unwrap()
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap()
}

fn columns(path: &Path, table: &str) -> Vec<String> {
    let conn = Connection::open(path).unwrap();
    let mut st = conn
        .prepare(&format!("SELECT name FROM pragma_table_info('{table}')"))
        .unwrap();
    st.query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

/// A store as the previous release left it (WAL mode, schema 11), with a customer's conversation,
/// closed cleanly (no -wal file).
fn previous_release_store(dir: &Path) -> PathBuf {
    let path = dir.join("zfsync.db");
    let mut conn = Connection::open(&path).unwrap();
    conn.pragma_update(None, "journal_mode", "WAL").unwrap();
    migrate_with(&mut conn, &MIGRATIONS[..PREVIOUS]).unwrap();
    conn.execute_batch(
        "INSERT INTO conversations (zalo_user_id, freshchat_conversation_id, updated_at)
           VALUES ('42', 'conv-1', 1);",
    )
    .unwrap();
    drop(conn);
    assert!(!dir.join("zfsync.db-wal").exists());
    path
}

/// A store of the previous release is copied to `<store>.schema-11.bak` (private, as it was), then
/// migrated to this build's schema with its rows; opening it again copies and changes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_older_store_is_copied_beside_itself_then_migrated_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = previous_release_store(dir.path());
    let before = content(&path);
    let store = Store::open_with(&path, testing::key()).unwrap();
    assert_eq!(
        store.conversation_of("42".into()).await.unwrap().as_deref(),
        Some("conv-1")
    );
    drop(store);
    assert_eq!(version(&path), MIGRATIONS.len() as i64);

    let copy = copy_before_migrating(&path, PREVIOUS as i64);
    assert_eq!(copy, dir.path().join("zfsync.db.schema-11.bak"));
    assert_eq!(version(&copy), PREVIOUS as i64);
    assert_eq!(content(&copy), before, "the copy is the store as it was");
    assert!(before.iter().any(|row| row.contains("conv-1")));
    assert_eq!(mode(&copy), 0o600, "the copy holds sealed tokens");

    // A second open: the schema is current, so nothing is copied or migrated.
    let listed = files(dir.path());
    let schema = |p: &Path| -> Vec<String> {
        let conn = Connection::open(p).unwrap();
        let mut st = conn
            .prepare("SELECT sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY name")
            .unwrap();
        st.query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    };
    let shape = schema(&path);
    drop(Store::open_with(&path, testing::key()).unwrap());
    let again: Vec<String> = files(dir.path())
        .into_iter()
        .filter(|f| !f.ends_with("-wal") && !f.ends_with("-shm"))
        .collect();
    let listed: Vec<String> = listed
        .into_iter()
        .filter(|f| !f.ends_with("-wal") && !f.ends_with("-shm"))
        .collect();
    assert_eq!(again, listed);
    assert_eq!(schema(&path), shape);
    assert_eq!(version(&path), MIGRATIONS.len() as i64);
}

/// A migration that fails midway (013 meets a table of that name already there, after 012 has
/// rebuilt every keyed table) applies none of the upgrade: the store stays at schema 11, its
/// tables as they were, the file byte for byte. Once the conflict is gone the upgrade goes
/// through, and the copy made before the first attempt is kept.
#[test]
fn a_migration_that_fails_applies_none_of_the_upgrade() {
    let dir = tempfile::tempdir().unwrap();
    let path = previous_release_store(dir.path());
    Connection::open(&path)
        .unwrap()
        .execute_batch("CREATE TABLE pairing_registry (name TEXT);")
        .unwrap();
    let before = hash(&path);

    let e = Store::open_with(&path, testing::key()).unwrap_err();
    assert!(
        matches!(
            e,
            StoreError::Migration {
                name: "013_pairing_registry",
                from: 11,
                ..
            }
        ),
        "{e:?}"
    );
    let shown = e.to_string();
    assert!(
        shown.contains("pairing_registry already exists")
            && shown.contains("still at schema version 11"),
        "{shown}"
    );
    assert_eq!(version(&path), PREVIOUS as i64);
    assert!(
        !columns(&path, "tokens").contains(&"pairing".to_string()),
        "012 was rolled back with 013"
    );
    assert_eq!(hash(&path), before, "the file is as it was");
    let copy = copy_before_migrating(&path, PREVIOUS as i64);
    let copied = hash(&copy);

    Connection::open(&path)
        .unwrap()
        .execute_batch("DROP TABLE pairing_registry;")
        .unwrap();
    drop(Store::open_with(&path, testing::key()).unwrap());
    assert_eq!(version(&path), MIGRATIONS.len() as i64);
    assert_eq!(hash(&copy), copied, "the first copy is kept");
}

/// A store whose schema is newer than this build (a newer release migrated it) is refused, naming
/// both versions and the way back, and nothing is written to it or made beside it: no -wal, -shm
/// or key file, the file byte for byte. When the newer release's copy of this release's store is
/// there, the message names it.
#[test]
fn a_store_from_a_newer_release_is_refused_and_left_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("zfsync.db");
    let newer = MIGRATIONS.len() as i64 + 1;
    {
        let mut conn = Connection::open(&path).unwrap();
        conn.pragma_update(None, "journal_mode", "WAL").unwrap();
        migrate_with(&mut conn, MIGRATIONS).unwrap();
        conn.pragma_update(None, "user_version", newer).unwrap();
    }
    // Modes zfsync tightens on a store it opens (a 0600 file, a 0700 folder of its own): a
    // refusal leaves them too.
    set_mode(&path, 0o644);
    set_mode(dir.path(), 0o755);
    let (before, listed) = (hash(&path), files(dir.path()));
    assert_eq!(listed, vec!["zfsync.db".to_string()]);

    let e = Store::open_with(&path, testing::key()).unwrap_err();
    assert!(
        matches!(&e, StoreError::TooNew { found, known, .. } if *found == newer && *known == newer - 1),
        "{e:?}"
    );
    let shown = e.to_string();
    for part in [
        path.display().to_string(),
        format!("schema version is {newer}"),
        format!("up to {}", newer - 1),
        RELEASE.to_string(),
        "Nothing was changed".into(),
        "restore the backup taken before the upgrade".into(),
    ] {
        assert!(shown.contains(&part), "{part:?} in {shown}");
    }
    // Every command opens the store this way, the key included.
    let e = Store::open(&path).unwrap_err();
    assert!(matches!(e, StoreError::TooNew { .. }), "{e:?}");
    assert_eq!(hash(&path), before);
    assert_eq!(files(dir.path()), listed);
    assert_eq!((mode(&path), mode(dir.path())), (0o644, 0o755));

    let copy = copy_before_migrating(&path, newer - 1);
    std::fs::write(&copy, "the newer release's copy").unwrap();
    let shown = Store::open_with(&path, testing::key())
        .unwrap_err()
        .to_string();
    assert!(
        shown.contains(&format!(
            "copy {} (made by the newer release",
            copy.display()
        )),
        "{shown}"
    );
}

/// The newer version may be only in the WAL (a newer release migrated, and its commits were not
/// yet copied into the file): it is read there, and refused all the same.
#[test]
fn a_newer_schema_still_in_the_wal_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("zfsync.db");
    let mut conn = Connection::open(&path).unwrap();
    conn.pragma_update(None, "journal_mode", "WAL").unwrap();
    migrate_with(&mut conn, MIGRATIONS).unwrap();
    conn.pragma_update(None, "wal_checkpoint", "TRUNCATE")
        .unwrap();
    conn.pragma_update(None, "wal_autocheckpoint", 0).unwrap();
    let newer = MIGRATIONS.len() as i64 + 1;
    conn.pragma_update(None, "user_version", newer).unwrap();
    // The open connection keeps the commit in the WAL; the file's header says the known version.
    let header = std::fs::read(&path).unwrap();
    assert_eq!(
        i32::from_be_bytes([header[60], header[61], header[62], header[63]]) as usize,
        MIGRATIONS.len()
    );
    let before = hash(&path);
    let e = Store::open_with(&path, testing::key()).unwrap_err();
    assert!(
        matches!(e, StoreError::TooNew { found, .. } if found == newer),
        "{e:?}"
    );
    assert_eq!(hash(&path), before);
    drop(conn);
}

/// A PostgreSQL database migrated by a newer release is refused, naming both versions and the way
/// back, and left exactly as it was (`pg_dump` before and after).
#[test]
fn a_postgres_database_from_a_newer_release_is_refused_and_left_as_it_was() {
    let Some(url) = testing::new_database() else {
        return;
    };
    drop(Store::open_postgres(&url, testing::key()).unwrap());
    let name = url.rsplit('/').next().unwrap();
    let cluster = crate::tools::pg_cluster::shared().unwrap();
    let newer = POSTGRES_MIGRATIONS.len() + 1;
    cluster
        .psql(
            name,
            &format!("INSERT INTO schema_migrations (version, applied_at) VALUES ({newer}, 0)"),
        )
        .unwrap();
    let before = cluster.dump(name).unwrap();
    let e = Store::open_postgres(&url, testing::key()).unwrap_err();
    assert!(
        matches!(&e, StoreError::TooNew { found, .. } if *found == newer as i64),
        "{e:?}"
    );
    let shown = e.to_string();
    assert!(
        shown.contains("newer zfsync")
            && shown.contains(&format!("up to {}", newer - 1))
            && shown.contains("pg_dump"),
        "{shown}"
    );
    assert_eq!(cluster.dump(name).unwrap(), before);
}

/// A PostgreSQL migration that fails applies none of the upgrade: the database keeps its version
/// and everything else, exactly (`pg_dump`).
#[test]
fn a_postgres_migration_that_fails_applies_none_of_the_upgrade() {
    let Some(url) = testing::new_database() else {
        return;
    };
    let name = url.rsplit('/').next().unwrap();
    let cluster = crate::tools::pg_cluster::shared().unwrap();
    at_first_postgres_schema(&url);
    // 002 creates lane_leases; 003 then meets a table of its own name.
    cluster
        .psql(name, "CREATE TABLE zalo_tags (x INT)")
        .unwrap();
    let before = cluster.dump(name).unwrap();
    let e = Store::open_postgres(&url, testing::key()).unwrap_err();
    assert!(
        matches!(
            e,
            StoreError::PgMigration {
                name: "003_zalo_tags",
                from: 1,
                ..
            }
        ),
        "{e:?}"
    );
    assert!(e.to_string().contains("still at schema version 1"), "{e}");
    assert_eq!(cluster.dump(name).unwrap(), before);
}

/// A database at an earlier PostgreSQL schema (the first release with PostgreSQL stopped at 001)
/// is migrated to this build's, its rows kept.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_database_at_an_earlier_schema_is_migrated_with_its_rows() {
    let Some(url) = testing::new_database() else {
        return;
    };
    let name = url.rsplit('/').next().unwrap().to_string();
    let cluster = crate::tools::pg_cluster::shared().unwrap();
    let at_first = url.clone();
    tokio::task::spawn_blocking(move || at_first_postgres_schema(&at_first))
        .await
        .unwrap();
    cluster
        .psql(
            &name,
            "INSERT INTO conversations (pairing, zalo_user_id, freshchat_conversation_id, updated_at)
               VALUES ('default', '42', 'conv-1', 1)",
        )
        .unwrap();
    let store = Store::open_postgres(&url, testing::key()).unwrap();
    assert_eq!(
        store.conversation_of("42".into()).await.unwrap().as_deref(),
        Some("conv-1")
    );
    assert_eq!(
        cluster
            .psql(&name, "SELECT MAX(version) FROM schema_migrations")
            .unwrap(),
        POSTGRES_MIGRATIONS.len().to_string()
    );
}

/// Brings a new database to PostgreSQL schema 1 only.
fn at_first_postgres_schema(url: &str) {
    let conn = super::pg::PgTarget::parse(url).unwrap().connect().unwrap();
    super::pg::migrate_with(&conn, "test", &POSTGRES_MIGRATIONS[..1]).unwrap();
}
