//! The store on disk: its folder and files made private, the integrity check of an existing file,
//! the migrations, and the key (a missing key file is made only while nothing is sealed). Also the
//! way out when the key is lost: [`Store::forget_secrets`].
//!
//! Failure: a folder or file that cannot be made, a damaged file, a missing key beside sealed values
//! are errors that say what to do. A folder others may read that is not zfsync's own (it holds other
//! files) is left as it is, with a warning naming it.

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags};
use secrecy::SecretString;

use super::crypto;
use super::db::Db;
use super::sealed::{self, Unreadable};
use super::sqlite::{
    copy_before_migrating, migrate, open_conn, schema_version, too_new, MIGRATIONS,
};
use super::{Store, StoreError, StoreKey};

/// Makes the store's folder (0700 when zfsync creates it, tightened to 0700 when it is zfsync's
/// own) and file (0600) private to their owner; SQLite gives its -wal and -shm files the mode of the
/// store file.
fn make_private(path: &Path) -> Result<(), StoreError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        if !dir.exists() {
            let mut b = std::fs::DirBuilder::new();
            b.recursive(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::DirBuilderExt as _;
                b.mode(0o700);
            }
            b.create(dir).map_err(|cause| StoreError::CreateDir {
                path: dir.to_path_buf(),
                cause,
            })?;
        } else {
            #[cfg(unix)]
            tighten_folder(dir, path);
        }
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
        let open_err = |e: std::io::Error| StoreError::OpenFile {
            path: path.to_path_buf(),
            cause: e,
        };
        std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(path)
            .map_err(open_err)?;
        for suffix in ["", "-wal", "-shm"] {
            let mut p = path.as_os_str().to_owned();
            p.push(suffix);
            let p = PathBuf::from(p);
            if let Ok(meta) = std::fs::metadata(&p) {
                if meta.permissions().mode() & 0o077 != 0 {
                    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600))
                        .map_err(open_err)?;
                }
            }
        }
    }
    Ok(())
}

/// Tightens an existing store folder that others may enter to 0700, when it is zfsync's own: not a
/// shared folder (sticky, like /tmp) and holding only files named like the store (`zfsync.db`,
/// `zfsync.db-wal`, `zfsync.db.key`, `zfsync.toml` for a store `zfsync.db`). Any other folder is
/// left as it is, with a warning: changing the mode of a folder others use would break them.
#[cfg(unix)]
fn tighten_folder(dir: &Path, store: &Path) {
    use std::os::unix::fs::PermissionsExt as _;
    let Ok(meta) = std::fs::metadata(dir) else {
        return;
    };
    let mode = meta.permissions().mode();
    if mode & 0o077 == 0 {
        return;
    }
    let name = store
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let stem = name
        .split('.')
        .next()
        .filter(|s| !s.is_empty())
        .unwrap_or(&name);
    let own = mode & 0o1000 == 0
        && !stem.is_empty()
        && std::fs::read_dir(dir).is_ok_and(|entries| {
            entries
                .flatten()
                .all(|e| e.file_name().to_string_lossy().starts_with(stem))
        });
    let tightened =
        own && std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).is_ok();
    if tightened {
        tracing::info!(folder = %dir.display(), was = format!("{:o}", mode & 0o777), "made the store's folder private to its owner (0700)");
    } else {
        tracing::warn!(folder = %dir.display(), mode = format!("{:o}", mode & 0o777), "other users may enter the store's folder, and zfsync leaves it as it is because it holds other files: run 'chmod 700' on it, or move the store into a folder of its own");
    }
}

/// `PRAGMA quick_check` on a store that exists: a damaged file is refused with how to restore it.
pub(super) fn quick_check(conn: &Connection, path: &Path) -> Result<(), StoreError> {
    let rows: Vec<String> = conn
        .prepare("PRAGMA quick_check(5)")?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()
        .map_err(|e| StoreError::Corrupt {
            path: path.to_path_buf(),
            detail: e.to_string(),
        })?;
    if rows.len() == 1 && rows[0] == "ok" {
        return Ok(());
    }
    Err(StoreError::Corrupt {
        path: path.to_path_buf(),
        detail: rows.join("; "),
    })
}

/// The schema version an existing store records, read without writing to it or making any file
/// beside it: from the file's header (SQLite keeps `user_version` at byte 60, big-endian), or,
/// when a `-wal` file holds commits the file may not have yet, through a read-only connection.
/// None for a missing, empty or foreign file (opening it says what is wrong).
fn recorded_version(path: &Path) -> Result<Option<i64>, StoreError> {
    use std::io::Read as _;
    let mut header = [0u8; 100];
    let read = std::fs::File::open(path).and_then(|mut f| f.read_exact(&mut header));
    if read.is_err() || !header.starts_with(b"SQLite format 3\0") {
        return Ok(None);
    }
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    if std::fs::metadata(PathBuf::from(wal)).is_ok_and(|m| m.len() > 0) {
        let conn = open_read_only(path)?;
        return Ok(Some(schema_version(&conn)?));
    }
    Ok(Some(i64::from(i32::from_be_bytes([
        header[60], header[61], header[62], header[63],
    ]))))
}

fn open_read_only(path: &Path) -> Result<Connection, StoreError> {
    Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY).map_err(|cause| {
        StoreError::Open {
            path: path.to_path_buf(),
            cause,
        }
    })
}

/// Copies a store about to be migrated from schema `version` to
/// [`copy_before_migrating`]`(path, version)`, with SQLite's backup (the WAL's commits included),
/// private to its owner. A copy already there is kept: it was made before an earlier attempt at the
/// same upgrade, from the same version, and may be the only one.
fn copy_before_migration(conn: &Connection, path: &Path, version: i64) -> Result<(), StoreError> {
    let to = copy_before_migrating(path, version);
    if to.exists() {
        tracing::info!(copy = %to.display(), schema_version = version, "the store's copy from before this upgrade is already there (an earlier attempt made it); kept as it is");
        return Ok(());
    }
    let fail = |detail: String| StoreError::PreMigrationBackup {
        path: to.clone(),
        detail,
    };
    let copied = (|| -> Result<(), String> {
        crypto::write_private(&to, "").map_err(|e| e.to_string())?;
        let mut dst = Connection::open(&to).map_err(|e| e.to_string())?;
        let backup = rusqlite::backup::Backup::new(conn, &mut dst).map_err(|e| e.to_string())?;
        backup
            .run_to_completion(1024, std::time::Duration::ZERO, None)
            .map_err(|e| e.to_string())
    })();
    if let Err(detail) = copied {
        // A partial copy is no backup: it goes, so that the next attempt makes a whole one.
        let _ = std::fs::remove_file(&to);
        return Err(fail(detail));
    }
    tracing::info!(copy = %to.display(), from = version, to = MIGRATIONS.len(), "copied the store before migrating it to this release's schema; keep the copy until this release has run well (going back to the previous release means restoring it), then delete it");
    Ok(())
}

/// Makes the store private, opens it (creating it if needed), checks an existing file, copies it
/// when it is about to be migrated, and applies the migrations: the writer's connection. A store
/// newer than this build is refused before anything is written or made beside it.
pub(super) fn prepare(path: &Path) -> Result<Connection, StoreError> {
    if let Some(found) = recorded_version(path)? {
        if found > MIGRATIONS.len() as i64 {
            return Err(too_new(path, found));
        }
    }
    let existed = std::fs::metadata(path).is_ok_and(|m| m.len() > 0);
    make_private(path)?;
    let mut conn = open_conn(path, OpenFlags::default()).map_err(|e| match e {
        StoreError::Sql(source) if existed => StoreError::Corrupt {
            path: path.to_path_buf(),
            detail: source.to_string(),
        },
        other => other,
    })?;
    if existed {
        quick_check(&conn, path)?;
        let version = schema_version(&conn)?;
        if (1..MIGRATIONS.len() as i64).contains(&version) {
            copy_before_migration(&conn, path, version)?;
        }
    }
    migrate(&mut conn)?;
    Ok(conn)
}

/// The store path with `.key` added: the default key file.
fn default_key_file(path: &Path) -> PathBuf {
    let mut key_path = path.as_os_str().to_owned();
    key_path.push(".key");
    PathBuf::from(key_path)
}

impl Store {
    /// Opens (creating if needed), checks and migrates the store with `key`, and starts its writer
    /// thread. The daemon uses [`Store::open_keyed`], which finds the configured key.
    pub fn open_with(path: impl AsRef<Path>, key: StoreKey) -> Result<Store, StoreError> {
        let path = path.as_ref().to_path_buf();
        let conn = prepare(&path)?;
        Store::start_sqlite(path, conn, key)
    }

    /// Copies the store to `to` with SQLite's online backup, while the daemon runs. The copy holds
    /// the sealed secrets, never the key. SQLite only: a PostgreSQL store is backed up with
    /// `pg_dump`.
    pub async fn backup(&self, to: PathBuf) -> Result<(), StoreError> {
        self.sqlite_only("'zfsync backup'", "back the database up with pg_dump (for example 'pg_dump --format=custom --file=zfsync.dump <database>')")?;
        let from = self.inner.location.clone();
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
            quick_check(&dst, &to)
        })
        .await?
    }

    /// Opens (creating if needed) and migrates the store with the key file kept beside it (the store
    /// path with `.key` added). The daemon uses [`Store::open_keyed`] and the configured key.
    pub fn open(path: impl AsRef<Path>) -> Result<Store, StoreError> {
        let path = path.as_ref();
        Store::open_keyed(path, None, &default_key_file(path))
    }

    /// Opens (creating if needed), checks and migrates the store, with the key from `given`
    /// (ZFSYNC_STORE_KEY or the secrets file), the systemd credential, or `key_file`. A missing key
    /// file is created only while the store holds no sealed value; otherwise the store is refused
    /// ([`super::KeyError::Lost`], naming the key file and the way out).
    pub fn open_keyed(
        path: impl AsRef<Path>,
        given: Option<&SecretString>,
        key_file: &Path,
    ) -> Result<Store, StoreError> {
        let path = path.as_ref().to_path_buf();
        let conn = prepare(&path)?;
        let holds_sealed = sealed::holds_sealed(&Db::Sqlite(&conn))?;
        let key = StoreKey::resolve(given, key_file, !holds_sealed)?;
        Store::start_sqlite(path, conn, key)
    }

    /// `zfsync store forget-secrets`: finds the sealed values that do not open with the store's key
    /// (every one of them when the key file is missing) and, with `discard`, removes them in one
    /// transaction, making a new key file when it is missing. The token pair then needs a new
    /// consent (`zfsync connect zalo`); its OA is kept, so the consent must be for the same OA.
    pub fn forget_secrets(
        path: impl AsRef<Path>,
        given: Option<&SecretString>,
        key_file: &Path,
        discard: bool,
    ) -> Result<Unreadable, StoreError> {
        let path = path.as_ref();
        let mut conn = prepare(path)?;
        let key = match StoreKey::resolve(given, key_file, discard) {
            Ok(k) => Some(k),
            Err(super::KeyError::Lost { .. }) => None,
            Err(e) => return Err(e.into()),
        };
        let tx = conn.transaction()?;
        let found = sealed::forget_unreadable(&Db::Sqlite(&tx), key.as_ref(), discard)?;
        tx.commit()?;
        Ok(found)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::store::{KeyError, StoredTokens};

    fn tokens(at: &str) -> StoredTokens {
        StoredTokens {
            oa_id: Some("4318848795011111111".into()),
            access_token: at.into(),
            refresh_token: format!("{at}-refresh"),
            access_expires_at: i64::MAX,
            refresh_expires_at: i64::MAX,
            updated_at: 1,
            needs_reauth: None,
            token_error: None,
            generation: 0,
        }
    }

    fn raw(path: &Path, sql: &str) -> String {
        Connection::open(path)
            .unwrap()
            .query_row(sql, [], |r| r.get(0))
            .unwrap()
    }

    /// The key file lost beside sealed tokens: the store refuses to open, naming the key file and
    /// the way out, and makes no new key. The way out discards the tokens (their OA kept, a new
    /// consent needed) and the store opens again with a new key.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_lost_key_is_never_replaced_silently_and_forget_secrets_is_the_way_out() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("z.db");
        let key_file = default_key_file(&path);
        {
            let store = Store::open(&path).unwrap();
            store.save_tokens(tokens("at-secret")).await.unwrap();
            store
                .set_secret_meta(sealed::META_ADMIN_TOKEN, "admin-secret".into())
                .await
                .unwrap();
            store
                .register_pairing("shop-b".into(), "{}".into(), "b-secret".into())
                .await
                .unwrap();
        }
        std::fs::remove_file(&key_file).unwrap();
        let e = Store::open(&path).unwrap_err();
        assert!(matches!(e, StoreError::Key(KeyError::Lost { .. })), "{e:?}");
        let shown = e.to_string();
        assert!(
            shown.contains(&key_file.display().to_string())
                && shown.contains("zfsync store forget-secrets"),
            "{shown}"
        );
        assert!(!key_file.exists(), "no new key was made");

        // Without --yes: only counted, nothing changed, still no key.
        let found = Store::forget_secrets(&path, None, &key_file, false).unwrap();
        assert!(found.tokens && found.meta == vec![sealed::META_ADMIN_TOKEN.to_string()]);
        assert_eq!(found.pairings, vec!["shop-b".to_string()]);
        assert!(!key_file.exists());
        assert!(Store::open(&path).is_err());

        let found = Store::forget_secrets(&path, None, &key_file, true).unwrap();
        assert!(found.tokens);
        assert!(key_file.exists(), "a new key for what comes next");
        let store = Store::open(&path).unwrap();
        let t = store.tokens().await.unwrap().unwrap();
        assert_eq!(t.oa_id.as_deref(), Some("4318848795011111111"));
        assert!(t.needs_reauth.is_some() && t.access_token.is_empty());
        assert!(store
            .secret_meta(sealed::META_ADMIN_TOKEN)
            .await
            .unwrap()
            .is_none());
        assert!(store.registered_pairings().await.unwrap().is_empty());
        // A new consent seals under the new key.
        store.save_tokens(tokens("at-new")).await.unwrap();
        assert_eq!(
            store.tokens().await.unwrap().unwrap().access_token,
            "at-new"
        );
    }

    /// Values written before encryption existed are sealed when the store opens.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn plain_values_are_sealed_at_open() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.db");
        drop(Store::open(&path).unwrap());
        Connection::open(&path)
            .unwrap()
            .execute_batch(
                "INSERT INTO tokens (pairing, oa_id, access_token, refresh_token, access_expires_at, refresh_expires_at, updated_at)
                   VALUES ('default', '1', 'at-plain', 'rt-plain', 9, 9, 1);
                 INSERT INTO oauth_attempts (state, verifier, redirect_uri, created_at, expires_at)
                   VALUES ('s', 'verifier-plain', 'r', 1, 9);
                 INSERT INTO meta (pairing, key, value) VALUES ('default', 'admin_token', 'admin-plain');",
            )
            .unwrap();
        let store = Store::open(&path).unwrap();
        for (sql, plain) in [
            ("SELECT access_token FROM tokens", "at-plain"),
            ("SELECT refresh_token FROM tokens", "rt-plain"),
            ("SELECT verifier FROM oauth_attempts", "verifier-plain"),
            (
                "SELECT value FROM meta WHERE key = 'admin_token'",
                "admin-plain",
            ),
        ] {
            let stored = raw(&path, sql);
            assert!(
                crate::store::crypto::is_sealed(&stored) && !stored.contains(plain),
                "{sql}: {stored}"
            );
        }
        let t = store.tokens().await.unwrap().unwrap();
        assert_eq!(
            (t.access_token.as_str(), t.refresh_token.as_str()),
            ("at-plain", "rt-plain")
        );
        assert_eq!(
            store
                .secret_meta(sealed::META_ADMIN_TOKEN)
                .await
                .unwrap()
                .as_deref(),
            Some("admin-plain")
        );
    }

    /// An existing folder of zfsync's own that others may enter is made 0700; a folder that holds
    /// other files is left as it is.
    #[cfg(unix)]
    #[test]
    fn an_own_store_folder_is_tightened_and_a_shared_one_left_alone() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        let own = dir.path().join("state");
        let shared = dir.path().join("shared");
        for d in [&own, &shared] {
            std::fs::create_dir(d).unwrap();
            std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        std::fs::write(shared.join("someone-else.txt"), "x").unwrap();
        drop(Store::open(own.join("zfsync.db")).unwrap());
        drop(Store::open(shared.join("zfsync.db")).unwrap());
        assert_eq!(mode(&own), 0o700);
        assert_eq!(mode(&shared), 0o755);
    }
}
