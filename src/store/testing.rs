//! Stores for the store's own tests, of both backends: a SQLite file in a temporary folder, or a
//! fresh database in the test binary's one throwaway PostgreSQL cluster (started at the first
//! PostgreSQL test, stopped when the binary exits). [`on_both_backends!`] runs a test body
//! against each.
//!
//! Failure: without PostgreSQL installed the PostgreSQL variants fail, saying what to install,
//! unless `ZFSYNC_TEST_POSTGRES=skip` is set (then they pass without running).

#![allow(clippy::unwrap_used)]

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;

use super::{Store, StoreKey};
use crate::tools::pg_cluster::PgCluster;

/// The environment variable that skips the PostgreSQL variants when set to `skip`.
pub(crate) const SKIP_VAR: &str = "ZFSYNC_TEST_POSTGRES";

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

/// The test binary's cluster, started once.
pub(crate) fn cluster() -> Option<&'static PgCluster> {
    static CLUSTER: OnceLock<Result<PgCluster, String>> = OnceLock::new();
    if std::env::var(SKIP_VAR).as_deref() == Ok("skip") {
        eprintln!("skipped: {SKIP_VAR}=skip");
        return None;
    }
    let started = CLUSTER.get_or_init(|| {
        let cluster = PgCluster::start().map_err(|e| e.to_string())?;
        cluster
            .stop_when_this_process_ends()
            .map_err(|e| e.to_string())?;
        Ok(cluster)
    });
    match started {
        Ok(c) => Some(c),
        Err(e) => panic!(
            "the PostgreSQL variants of the store's tests need PostgreSQL: install Debian's \
             `postgresql` package (apt-get install postgresql), or set {SKIP_VAR}=skip to skip \
             them. {e}"
        ),
    }
}

/// A fresh database in the test cluster; its URL.
pub(crate) fn new_database() -> Option<String> {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let cluster = cluster()?;
    let name = format!("t{}", NEXT.fetch_add(1, Ordering::Relaxed));
    cluster.create_database(&name).unwrap();
    Some(cluster.url(&name))
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
