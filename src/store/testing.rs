//! Stores for the store's own tests, of both backends: a SQLite file in a temporary folder, or a
//! fresh database in the test binary's one throwaway PostgreSQL cluster (started at the first
//! PostgreSQL test, stopped when the binary exits). [`on_both_backends!`] runs a test body
//! against each.
//!
//! Failure: without PostgreSQL installed the PostgreSQL variants fail, saying what to install,
//! unless `ZFSYNC_TEST_SKIP` names `postgres` (then they pass without running).

#![allow(clippy::unwrap_used)]

use super::{Store, StoreKey};

/// A store of either backend and what keeps it (its folder).
#[derive(Debug)]
pub(crate) struct TestStore {
    /// The store.
    pub(crate) store: Store,
    _dir: Option<tempfile::TempDir>,
}

impl std::ops::Deref for TestStore {
    type Target = Store;

    fn deref(&self) -> &Store {
        &self.store
    }
}

/// The key every test store seals with.
pub(crate) fn key() -> StoreKey {
    StoreKey::from_bytes(&[7; 32]).unwrap()
}

/// A new SQLite store in a temporary folder.
pub(crate) fn sqlite() -> TestStore {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("t.db")).unwrap();
    TestStore {
        store,
        _dir: Some(dir),
    }
}

/// A fresh database in the test binary's cluster; its URL. None when the PostgreSQL tests are
/// skipped.
pub(crate) fn new_database() -> Option<String> {
    if crate::prerequisites::skipped("postgres") {
        eprintln!("skipped: ZFSYNC_TEST_SKIP names postgres");
        return None;
    }
    match crate::tools::pg_cluster::fresh_database() {
        Ok(url) => Some(url),
        Err(e) => crate::prerequisites::missing(
            "postgres",
            &format!(
                "the PostgreSQL variants of the store's tests need PostgreSQL: install Debian's \
                 `postgresql` package (apt-get install postgresql). {e}"
            ),
        ),
    }
}

/// A new PostgreSQL store in a fresh database; None when the PostgreSQL tests are skipped.
pub(crate) fn postgres() -> Option<TestStore> {
    let url = new_database()?;
    let store = Store::open_postgres(&url, key()).unwrap();
    Some(TestStore { store, _dir: None })
}

/// Runs each named `async fn name(store: Store)` as two tests, `name::sqlite` and
/// `name::postgres`, each on a new store of its backend.
macro_rules! on_both_backends {
    ($($name:ident),+ $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let t = $crate::store::testing::sqlite();
                super::$name(t.store.clone()).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if let Some(t) = $crate::store::testing::postgres() {
                    super::$name(t.store.clone()).await;
                }
            }
        }
    )+};
}
pub(crate) use on_both_backends;
