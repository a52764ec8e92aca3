//! The naive ingest baseline the daemon is compared with: a bare axum handler that does one
//! durable SQLite insert per request (WAL, `synchronous=FULL`, one connection behind a mutex,
//! `spawn_blocking`), deduplicating on the event's `msg_id`. No signature check, no parsing
//! beyond the id, no lanes. Its PostgreSQL twin ([`BaselineServer::start_postgres`]) does one
//! insert per request, each committed on its own, over a small pool of async connections.
//!
//! It runs on its own tokio runtime (two workers, as the daemon's runtime has on a 2-core
//! machine), whose threads are recorded so that its CPU time can be read from
//! `/proc/self/task/<tid>/stat` apart from the load generator's, and pinned to the daemon's CPU
//! under `--pin`: it plays the daemon's part. Fails when the database cannot be created or the
//! port cannot be bound; a failed insert answers 503 and is counted as a failure by the load.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use bytes::Bytes;

use super::drive::post;
use super::report::{thread_cpu_secs, Ingest, Stats};
use super::shared::{is_dup, is_image, Plan};
use super::signer::ZaloSigner;
use super::{lock, user_id, Options};

/// The PostgreSQL baseline's connections: four per core of this 2-core machine, as
/// deadpool-postgres sizes its pools by default.
pub const POSTGRES_POOL: usize = 8;

/// The route the baseline answers, the same path as the daemon's.
pub const ROUTE: &str = "/webhooks/zalo";

/// A running baseline server. Stops (in the background) when dropped.
#[derive(Debug)]
pub struct BaselineServer {
    runtime: Option<tokio::runtime::Runtime>,
    addr: SocketAddr,
    tids: Arc<Mutex<Vec<i32>>>,
    db: Db,
    _dir: tempfile::TempDir,
}

/// Where the baseline stores.
#[derive(Debug, Clone)]
enum Db {
    Sqlite(PathBuf),
    Postgres(String),
}

impl BaselineServer {
    /// Creates the database in a temporary directory and starts serving on a loopback port; with
    /// `pin`, every thread of its runtime runs on that CPU.
    pub fn start(pin: Option<usize>) -> anyhow::Result<BaselineServer> {
        let dir = tempfile::tempdir()?;
        let db = dir.path().join("baseline.db");
        let conn = rusqlite::Connection::open(&db)
            .with_context(|| format!("cannot create {}", db.display()))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.execute_batch(
            "CREATE TABLE inbox (id INTEGER PRIMARY KEY, dedupe_key TEXT NOT NULL UNIQUE, body BLOB NOT NULL) STRICT",
        )?;
        let conn = Arc::new(Mutex::new(conn));
        let app = axum::Router::new().route(
            ROUTE,
            axum::routing::post(move |body: Bytes| {
                let conn = conn.clone();
                async move { insert(conn, body).await }
            }),
        );
        BaselineServer::serve_with(pin, Db::Sqlite(db), dir, move |_| Ok(app))
    }

    /// The PostgreSQL twin: one insert per request, each committed by itself, into a table of
    /// the (empty) database at `url`, over a pool of [`POSTGRES_POOL`] connections taken in turn
    /// (each pipelined, so a request never waits for a free one; concurrent commits on separate
    /// connections share the server's WAL flushes).
    pub fn start_postgres(pin: Option<usize>, url: &str) -> anyhow::Result<BaselineServer> {
        let dir = tempfile::tempdir()?;
        let url = url.to_string();
        let connect = url.clone();
        BaselineServer::serve_with(pin, Db::Postgres(url), dir, move |runtime| {
            // Set up on a thread of its own: the caller may itself be inside a runtime.
            let handle = runtime.handle().clone();
            let setup = std::thread::spawn(move || {
                handle.block_on(async move {
                    let mut clients = Vec::with_capacity(POSTGRES_POOL);
                    for _ in 0..POSTGRES_POOL {
                        let (client, connection) =
                            tokio_postgres::connect(&connect, tokio_postgres::NoTls)
                                .await
                                .context("the PostgreSQL baseline cannot connect")?;
                        tokio::spawn(async move {
                            if let Err(e) = connection.await {
                                tracing::error!(error = %e, "the PostgreSQL baseline's connection ended");
                            }
                        });
                        clients.push(client);
                    }
                    clients[0]
                        .batch_execute(
                            "CREATE TABLE inbox (id BIGSERIAL PRIMARY KEY, dedupe_key TEXT NOT NULL UNIQUE, body BYTEA NOT NULL)",
                        )
                        .await?;
                    let pool = Arc::new((clients, AtomicUsize::new(0)));
                    anyhow::Ok(axum::Router::new().route(
                        ROUTE,
                        axum::routing::post(move |body: Bytes| {
                            let pool = pool.clone();
                            async move {
                                let next = pool.1.fetch_add(1, Ordering::Relaxed) % pool.0.len();
                                insert_postgres(&pool.0[next], body).await
                            }
                        }),
                    ))
                })
            });
            setup
                .join()
                .map_err(|_| anyhow::anyhow!("the PostgreSQL baseline's set-up panicked"))?
        })
    }

    /// Starts the baseline's runtime, builds its router on it with `app`, and serves it.
    fn serve_with(
        pin: Option<usize>,
        db: Db,
        dir: tempfile::TempDir,
        app: impl FnOnce(&tokio::runtime::Runtime) -> anyhow::Result<axum::Router>,
    ) -> anyhow::Result<BaselineServer> {
        let tids: Arc<Mutex<Vec<i32>>> = Arc::default();
        let t = tids.clone();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("lg-baseline")
            // Threads must outlive the load so that their CPU time can still be read.
            .thread_keep_alive(Duration::from_secs(3600))
            .on_thread_start(move || {
                lock(&t).push(rustix::thread::gettid().as_raw_nonzero().get());
                if let Some(cpu) = pin {
                    // A thread left unpinned only makes the comparison less strict; say so.
                    if let Err(e) = super::process::pin_current_thread(&[cpu]) {
                        tracing::warn!(error = %e, "baseline thread not pinned");
                    }
                }
            })
            .enable_all()
            .build()
            .context("cannot start the baseline's runtime")?;
        let app = app(&runtime)?;
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        std_listener.set_nonblocking(true)?;
        let addr = std_listener.local_addr()?;
        runtime.spawn(async move {
            match tokio::net::TcpListener::from_std(std_listener) {
                Ok(l) => {
                    if let Err(e) = axum::serve(l, app).await {
                        tracing::error!(error = %e, "the baseline server stopped");
                    }
                }
                Err(e) => tracing::error!(error = %e, "the baseline cannot listen"),
            }
        });
        Ok(BaselineServer {
            runtime: Some(runtime),
            addr,
            tids,
            db,
            _dir: dir,
        })
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// CPU time of all its threads so far, in seconds.
    pub fn cpu_secs(&self) -> f64 {
        thread_cpu_secs(&lock(&self.tids))
    }

    /// The `msg_id`s stored (one row each: the column is unique).
    pub fn stored_ids(&self) -> anyhow::Result<Vec<String>> {
        match &self.db {
            Db::Sqlite(path) => {
                let conn = rusqlite::Connection::open(path)?;
                let mut stmt = conn.prepare("SELECT dedupe_key FROM inbox")?;
                let ids = stmt
                    .query_map([], |r| r.get::<_, String>(0))?
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(ids)
            }
            Db::Postgres(url) => postgres_ids(url, "SELECT dedupe_key FROM inbox"),
        }
    }
}

impl Drop for BaselineServer {
    fn drop(&mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

/// The handler's work: one durable insert, deduplicated on `message.msg_id`.
async fn insert(
    conn: Arc<Mutex<rusqlite::Connection>>,
    body: Bytes,
) -> (http::StatusCode, &'static str) {
    let done = tokio::task::spawn_blocking(move || {
        let key = serde_json::from_slice::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| {
                v.pointer("/message/msg_id")
                    .and_then(|m| m.as_str())
                    .map(str::to_string)
            })
            .unwrap_or_default();
        lock(&conn).execute(
            "INSERT INTO inbox (dedupe_key, body) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
            rusqlite::params![key, &body[..]],
        )
    })
    .await;
    match done {
        Ok(Ok(n)) => (
            http::StatusCode::OK,
            if n == 1 { "stored" } else { "duplicate" },
        ),
        _ => (http::StatusCode::SERVICE_UNAVAILABLE, "error"),
    }
}

/// The PostgreSQL twin's work: one insert, committed by itself, deduplicated on `message.msg_id`.
async fn insert_postgres(
    client: &tokio_postgres::Client,
    body: Bytes,
) -> (http::StatusCode, &'static str) {
    let key = serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| {
            v.pointer("/message/msg_id")
                .and_then(|m| m.as_str())
                .map(str::to_string)
        })
        .unwrap_or_default();
    let done = client
        .execute(
            "INSERT INTO inbox (dedupe_key, body) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            &[&key, &&body[..]],
        )
        .await;
    match done {
        Ok(n) => (
            http::StatusCode::OK,
            if n == 1 { "stored" } else { "duplicate" },
        ),
        Err(_) => (http::StatusCode::SERVICE_UNAVAILABLE, "error"),
    }
}

/// The first column (text) of every row `sql` returns from the database at `url`.
pub(super) fn postgres_ids(url: &str, sql: &str) -> anyhow::Result<Vec<String>> {
    let (url, sql) = (url.to_string(), sql.to_string());
    // The blocking client runs a runtime of its own: on a thread of its own.
    std::thread::spawn(move || -> anyhow::Result<Vec<String>> {
        let mut client = postgres::Client::connect(&url, postgres::NoTls)
            .context("cannot read the stored ids back")?;
        Ok(client
            .query(sql.as_str(), &[])?
            .iter()
            .map(|r| r.get::<_, String>(0))
            .collect())
    })
    .join()
    .map_err(|_| anyhow::anyhow!("reading the stored ids panicked"))?
}

/// The flow modes' baseline load: the same signed Zalo bodies, users, pacing and duplicates as the
/// daemon gets, before the daemon's measured phase.
pub(super) async fn flow_load(
    http: &reqwest::Client,
    signer: &ZaloSigner,
    opts: &Options,
    plan: &dyn Fn(usize, usize) -> Plan,
) -> anyhow::Result<Ingest> {
    let server = BaselineServer::start(None)?;
    let url = format!("http://{}{ROUTE}", server.addr());
    let acks: Arc<Mutex<Vec<f64>>> = Arc::default();
    let t0 = Instant::now();
    let mut set = tokio::task::JoinSet::new();
    for u in 0..opts.users {
        let (http, url, acks, signer, o) = (
            http.clone(),
            url.clone(),
            acks.clone(),
            signer.clone(),
            opts.clone(),
        );
        let p = plan(u, 0);
        set.spawn(async move {
            let user = user_id(u);
            for (at, i) in p {
                if let Some(at) = at {
                    tokio::time::sleep_until((t0 + at).into()).await;
                }
                let (body, sig) = signer.event(
                    &user,
                    &format!("b{u}z{i}"),
                    &format!("lg {u} z{i}"),
                    is_image(&o, i),
                );
                let (ms, _) = post(&http, &url, body.clone(), &sig).await?;
                lock(&acks).push(ms);
                if is_dup(&o, i) {
                    let (ms, _) = post(&http, &url, body, &sig).await?;
                    lock(&acks).push(ms);
                }
            }
            anyhow::Ok(())
        });
    }
    while let Some(r) = set.join_next().await {
        r.context("a baseline sender panicked")??;
    }
    let elapsed = t0.elapsed();
    let acks = std::mem::take(&mut *lock(&acks));
    Ok(Ingest {
        requests: acks.len(),
        per_sec: acks.len() as f64 / elapsed.as_secs_f64().max(1e-9),
        ack: Stats::of(acks),
    })
}
