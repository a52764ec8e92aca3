//! The application: builds every part from a validated [`Config`], then runs the HTTP server, the
//! lanes (on a runtime of their own, so they never delay a webhook's answer) and the scheduler
//! until the shutdown token fires (SIGTERM/Ctrl-C in `main`). On shutdown the server stops taking
//! webhooks, in-flight steps finish or stay journalled for the next start.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::Config;
use crate::ingest::PairingIngest;
use crate::lanes::{Dispatcher, LaneSignal, RetryPolicy};
use crate::scheduler::{Scheduler, SchedulerError};
use crate::server::{replay_window_ms, router, AppState, StateOptions, WebhookSecrets};
use crate::services::{admin_token, metrics_handle, Services, ServicesError};
use crate::store::Wake;

mod pairing;
pub mod registry;

use pairing::PairingRuntime;

/// Media host names pinned to addresses (tests and the sandbox only; see `EgressPolicy::pinned`).
type PinnedNames = std::collections::HashMap<String, std::net::IpAddr>;

/// How far back start-up looks for conversations to catch up (active in the last 24 h).
const CATCH_UP_WINDOW_MS: i64 = 24 * 3600 * 1000;
/// How many pages of Zalo's recent chats (10 messages each) start-up reads at most.
const CATCH_UP_ZALO_PAGES: u32 = 10;

/// Why the application could not be built or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The listen address is taken or not allowed.
    #[error("cannot listen on {addr}: {cause} (is another zfsync running? change server.listen)")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why (in the message, not chained: see `crate::error`).
        cause: std::io::Error,
    },
    /// The store, a client or the rules could not be built.
    #[error(transparent)]
    Services(#[from] ServicesError),
    /// The Freshchat webhook key cannot be read.
    #[error("freshchat.webhook_public_key: {0}")]
    WebhookKey(zfsync_freshchat::KeyError),
    /// The scheduler could not start.
    #[error(transparent)]
    Scheduler(#[from] SchedulerError),
    /// The HTTP server stopped with an error.
    #[error("server error: {0}")]
    Serve(std::io::Error),
    /// The lanes' runtime or thread could not start (out of memory or threads).
    #[error("cannot start the lanes' runtime: {0}")]
    Lanes(std::io::Error),
    /// A registered pairing cannot run: its settings, secrets or services.
    #[error("pairing {name:?}: {detail} (fix it with 'zfsync pairing add {name} …' or disable it with 'zfsync pairing disable {name}')")]
    Pairing {
        /// The pairing.
        name: String,
        /// What is wrong.
        detail: String,
    },
}

/// The daemon, built and ready to run.
pub struct Application {
    listener: TcpListener,
    state: AppState,
    /// The configuration file's pairing first, then the registry's enabled ones.
    pairings: Vec<PairingRuntime>,
    config: Config,
}

impl std::fmt::Debug for Application {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Application")
            .field("addr", &self.listener.local_addr().ok())
            .finish()
    }
}

impl Application {
    /// Binds `server.listen` and builds everything.
    pub async fn build(config: Config) -> Result<Application, AppError> {
        let addr = config.server.listen;
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|cause| AppError::Bind { addr, cause })?;
        Application::with_listener(config, listener).await
    }

    /// Builds on an already bound listener (tests bind port 0).
    pub async fn with_listener(
        config: Config,
        listener: TcpListener,
    ) -> Result<Application, AppError> {
        let services = Services::new(&config).await?;
        Application::with_services(config, listener, services, None).await
    }

    /// [`Application::with_listener`] with the in-process options of tests and the sandbox (the
    /// simulators' media host names pinned to loopback).
    #[cfg(feature = "sim")]
    pub async fn in_process(
        config: Config,
        listener: TcpListener,
        options: &crate::services::InProcessOptions,
    ) -> Result<Application, AppError> {
        let services = Services::in_process(&config, options).await?;
        Application::with_services(config, listener, services, Some(&options.media_names)).await
    }

    async fn with_services(
        config: Config,
        listener: TcpListener,
        services: Services,
        pin: Option<&PinnedNames>,
    ) -> Result<Application, AppError> {
        let lanes = LaneSignal::new();
        // The key first: a config that cannot work is refused before a token is generated.
        let webhooks = WebhookSecrets::from_config(&config).map_err(AppError::WebhookKey)?;
        let options = StateOptions {
            admin_token: admin_token(&config, &services.store).await?,
            webhooks,
            replay_window_ms: replay_window_ms(&config),
            metrics: metrics_handle(),
        };
        let mut state = AppState::build(&config, &services, lanes, options);
        let (store, http) = (services.store.clone(), services.http.clone());
        let default = PairingRuntime::with_ingest(
            services.store.pairing_name().to_string(),
            config.clone(),
            services,
            state.ingest.clone(),
        )?;
        let mut pairings = vec![default];
        for registered in store
            .registered_pairings()
            .await
            .map_err(ServicesError::Store)?
        {
            if !registered.enabled {
                tracing::info!(pairing = %registered.name, "pairing disabled; not served");
                continue;
            }
            pairings.push(
                PairingRuntime::registered(
                    &config,
                    &http,
                    &store,
                    &registered,
                    replay_window_ms(&config),
                    pin,
                )
                .await?,
            );
        }
        state.pairings =
            PairingIngest::new(pairings.iter().map(|p| (p.name.clone(), p.ingest.clone())));
        state.sessions = std::sync::Arc::new(
            pairings
                .iter()
                .map(|p| {
                    let session = crate::server::PairingSession::new(
                        &p.config,
                        &p.services,
                        p.ingest.lanes.clone(),
                    );
                    (p.name.clone(), session)
                })
                .collect(),
        );
        Ok(Application {
            listener,
            state,
            pairings,
            config,
        })
    }

    /// The pairings whose Zalo side cannot work yet: no token pair stored (never connected), or
    /// one Zalo will not refresh (needs re-authorization, with the reason).
    pub fn zalo_not_ready(&self) -> Vec<(String, Option<String>)> {
        self.pairings
            .iter()
            .filter_map(|p| {
                let status = p.services.zalo.tokens().status();
                match (status.connected, status.needs_reauth) {
                    (false, _) => Some((p.name.clone(), None)),
                    (true, Some(why)) => Some((p.name.clone(), Some(why))),
                    (true, None) => None,
                }
            })
            .collect()
    }

    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .unwrap_or(self.config.server.listen)
    }

    /// The store and clients the daemon runs with for the configuration file's pairing (the
    /// sandbox's view of its daemon).
    #[cfg(feature = "sim")]
    pub fn services(&self) -> &Services {
        &self.pairings[0].services
    }

    /// Operator access of this daemon (the sandbox makes one-time console login links with it).
    #[cfg(feature = "sim")]
    pub fn auth(&self) -> Arc<crate::server::auth::Auth> {
        self.state.auth.clone()
    }

    /// Runs until `shutdown` is cancelled.
    pub async fn run(self, shutdown: CancellationToken) -> Result<(), AppError> {
        let tracker = TaskTracker::new();
        let policy = RetryPolicy {
            max_attempts: self.config.sync.max_attempts,
            base_ms: self.config.sync.retry_base_ms,
            max_ms: self.config.sync.retry_max_ms,
        };
        // One dispatcher per pairing, each with its own lanes and cap, all on the lanes' runtime.
        let dispatchers: Vec<(String, Dispatcher, crate::ingest::catch_up::CatchUp)> = self
            .pairings
            .iter()
            .map(|p| {
                (
                    p.name.clone(),
                    Dispatcher::new(
                        p.services.store.clone(),
                        p.sync.clone(),
                        p.ingest.lanes.clone(),
                        self.config.sync.max_concurrent_lanes,
                        policy.clone(),
                    )
                    .with_sweep_every(idle_every(
                        Duration::from_secs(self.config.sync.lane_sweep_secs),
                        self.pairings.len(),
                    ))
                    .with_lane_lease(Duration::from_secs(self.config.sync.lane_lease_secs)),
                    p.catch_up.clone(),
                )
            })
            .collect();
        // Lanes start once messages missed while down are queued in their place (bounded, so a slow
        // platform never holds up the rest); webhooks are accepted meanwhile. With replicas (a
        // shared store) they wait at most a third of the lease: the other replicas' conversations
        // whose holder died wait for someone to take them, and a live replica kept delivering in
        // order anyway, so the wait would protect only a deployment-wide outage's order. They run on a runtime
        // of their own, so a busy lane never delays the answer to a webhook: the operating system
        // schedules the two runtimes' threads apart, and the listener's threads, idle between
        // requests, get the CPU as soon as a request comes.
        // Stopped with the daemon, and also when this future is dropped without a shutdown: the
        // lanes' thread never outlives the daemon that started it.
        let catch_up_gate = self
            .state
            .store
            .is_postgres()
            .then(|| Duration::from_secs(self.config.sync.lane_lease_secs) / 3);
        let lanes_stop = shutdown.child_token();
        let _lanes_guard = lanes_stop.clone().drop_guard();
        let lanes = run_lanes(async move {
            // Polled together on this thread (the lanes' runtime's own), as one pairing's was:
            // the workers are left to the lanes.
            futures::future::join_all(dispatchers.into_iter().map(
                |(name, dispatcher, catch_up)| {
                    let (stop, tracker) = (lanes_stop.clone(), tracker.clone());
                    async move {
                        crate::telemetry::in_pairing(&name, async move {
                            let pass = catch_up.pass(CATCH_UP_WINDOW_MS, CATCH_UP_ZALO_PAGES);
                            match catch_up_gate {
                                None => {
                                    pass.await;
                                    dispatcher.run(stop, tracker).await;
                                }
                                Some(gate) => {
                                    tokio::pin!(pass);
                                    if tokio::time::timeout(gate, &mut pass).await.is_ok() {
                                        dispatcher.run(stop, tracker).await;
                                    } else {
                                        tracing::info!("start-up catch-up still reading history; lanes start meanwhile (other replicas may hold conversations that are waiting)");
                                        futures::future::join(pass, dispatcher.run(stop, tracker))
                                            .await;
                                    }
                                }
                            }
                        })
                        .await
                    }
                },
            ))
            .await;
            // The steps in flight finish (or are left journalled) before the runtime goes.
            tracker.close();
            if tokio::time::timeout(LANES_DRAIN, tracker.wait())
                .await
                .is_err()
            {
                tracing::warn!("some lanes did not finish within 20 s; their steps stay journalled for the next start");
            }
        })?;
        let scheduler = Scheduler::start(
            &self.config.sync,
            self.pairings
                .iter()
                .map(|p| crate::scheduler::ScheduledPairing {
                    name: p.name.as_str().into(),
                    services: p.services.clone(),
                    catch_up: p.catch_up.clone(),
                })
                .collect(),
            shutdown.clone(),
        )
        .await?;
        let followers: Vec<_> = self
            .pairings
            .iter()
            .map(|p| {
                tokio::spawn(crate::telemetry::in_pairing(
                    &p.name,
                    follow_tokens(
                        p.services.clone(),
                        p.ingest.lanes.clone(),
                        idle_every(FOLLOW_TOKENS_EVERY, self.pairings.len()),
                        shutdown.clone(),
                    ),
                ))
            })
            .collect();
        // On PostgreSQL, other replicas' new work wakes the pairing's dispatcher at once.
        let listener = self.pairings.first().and_then(|first| {
            let signals: std::collections::HashMap<String, LaneSignal> = self
                .pairings
                .iter()
                .map(|p| (p.name.clone(), p.ingest.lanes.clone()))
                .collect();
            first.services.store.listen_for_work(
                move |wake| match wake {
                    Wake::Pairing(name) => {
                        if let Some(signal) = signals.get(&name) {
                            signal.sweep_soon();
                        }
                    }
                    Wake::All => signals.values().for_each(LaneSignal::sweep_soon),
                },
                shutdown.clone(),
            )
        });
        let summary = tokio::spawn(crate::ingest::refusals::summarise(shutdown.clone()));
        let app = router(self.state.clone(), self.config.server.max_body_bytes);
        tracing::info!(addr = %self.local_addr(), "zfsync listening");
        let stop = shutdown.clone();
        let console_stop = self.state.console.stop.clone();
        // Client addresses feed the per-address rate limits.
        let served = axum::serve(
            self.listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(async move {
            stop.cancelled().await;
            // Live console streams end, so open browsers do not hold the shutdown.
            console_stop.cancel();
        })
        .await;
        shutdown.cancel();
        let _ = lanes.await;
        // The lanes this replica held go to the other replicas at once, not after the lease time.
        if let Some(first) = self.pairings.first() {
            if let Err(e) = first.services.store.release_all_lane_leases().await {
                tracing::warn!(error = %e, "cannot give up this replica's lane leases; the other replicas take its lanes over when they expire");
            }
        }
        scheduler.stop().await;
        for follow in followers {
            let _ = follow.await;
        }
        let _ = summary.await;
        if let Some(listener) = listener {
            // It looks at the shutdown four times a second.
            let _ = tokio::task::spawn_blocking(move || listener.join()).await;
        }
        served.map_err(AppError::Serve)
    }
}

/// How long the lanes' steps in flight may take to finish at shutdown.
const LANES_DRAIN: Duration = Duration::from_secs(20);

/// Runs `lanes` on a runtime of its own, on a thread of its own; resolves when it has finished and
/// its runtime is gone.
fn run_lanes<F>(lanes: F) -> Result<tokio::sync::oneshot::Receiver<()>, AppError>
where
    F: std::future::Future<Output = ()> + Send + 'static,
{
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .thread_name("zfsync-lanes")
        .enable_all()
        .build()
        .map_err(AppError::Lanes)?;
    let (done, finished) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("zfsync-lanes-main".into())
        .spawn(move || {
            runtime.block_on(lanes);
            // Dropped here, outside any async context, once every lane has stopped.
            drop(runtime);
            let _ = done.send(());
        })
        .map_err(AppError::Lanes)?;
    Ok(finished)
}

/// How often the daemon looks for token changes made by another process.
const FOLLOW_TOKENS_EVERY: Duration = Duration::from_secs(1);

/// A periodic check of each pairing (the lanes' safety sweep, the tokens' follower) spaced out
/// with the deployment's size: every `base` up to 50 pairings, then proportionally longer, at
/// most 30 s. Each check is a store read, so a deployment's idle cost stays flat as it grows;
/// what they catch (work queued by another process) waits a little longer.
fn idle_every(base: Duration, pairings: usize) -> Duration {
    (base * (pairings / 50).max(1) as u32).min(Duration::from_secs(30).max(base))
}

/// Follows the stored tokens: a reconnect by any path (`zfsync connect zalo`, the callback, the
/// console, in this process or another) or a refresh reaches the running daemon (within a second
/// from another process, at once from this one), and whenever a usable pair of a new generation
/// appears, the events that waited for Zalo's tokens are made due and their lanes woken at once.
/// A new generation is enough: a "needs re-authorization" that lasted less than one look at the
/// store is never seen here, and the reconnect that ended it must wake the lanes all the same.
async fn follow_tokens(
    services: Services,
    lanes: LaneSignal,
    every: Duration,
    shutdown: CancellationToken,
) {
    let tokens = services.tokens().clone();
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tick.tick() => {}
            _ = tokens.pair_stored() => {}
        }
        // An undocumented refusal of the token endpoint that lasted too long needs a reconnect.
        if let Err(e) = tokens.give_up_if_overdue().await {
            tracing::debug!(error = %e, "cannot mark Zalo as needing re-authorization");
        }
        match tokens.follow_store().await {
            Ok(true) => match services
                .store
                .release_waiting(crate::error::SyncError::OPERATOR_CLASSES)
                .await
            {
                Ok(woken) => {
                    if !woken.is_empty() {
                        tracing::info!(
                            conversations = woken.len(),
                            "Zalo's tokens work again; the messages that waited for them go now"
                        );
                    }
                    for lane in &woken {
                        lanes.release(lane);
                    }
                }
                Err(e) => tracing::warn!(error = %e, "cannot wake the events that waited for Zalo"),
            },
            Ok(false) => {}
            Err(e) => tracing::debug!(error = %e, "cannot read the stored tokens"),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// `{:#}` of `e` (as `main` prints an error) holds `leaf`, the innermost cause, once.
    fn prints_cause_once(e: impl std::error::Error + Send + Sync + 'static, leaf: &str) {
        let text = format!("{:#}", anyhow::Error::new(e));
        assert_eq!(text.matches(leaf).count(), 1, "{text}");
    }

    fn io(leaf: &str) -> std::io::Error {
        std::io::Error::other(leaf.to_string())
    }

    fn sql(leaf: &str) -> rusqlite::Error {
        rusqlite::Error::InvalidColumnName(leaf.to_string())
    }

    #[tokio::test]
    async fn every_cause_prints_once_under_the_alternate_format() {
        use crate::config::ConfigError;
        use crate::error::SyncError;
        use crate::store::StoreError;
        let path = std::path::PathBuf::from("/var/lib/zfsync/zfsync.db");
        let store = |e: StoreError| AppError::Services(ServicesError::Store(e));
        prints_cause_once(
            store(StoreError::Open {
                path: path.clone(),
                cause: sql("open-cause"),
            }),
            "open-cause",
        );
        prints_cause_once(
            store(StoreError::Migration {
                name: "001_init",
                from: 0,
                cause: sql("migration-cause"),
            }),
            "migration-cause",
        );
        prints_cause_once(store(StoreError::from(sql("sql-cause"))), "sql-cause");
        prints_cause_once(
            SyncError::Store(StoreError::from(sql("sync-sql-cause"))),
            "sync-sql-cause",
        );
        prints_cause_once(
            store(StoreError::CreateDir {
                path: path.clone(),
                cause: io("mkdir-cause"),
            }),
            "mkdir-cause",
        );
        prints_cause_once(
            store(StoreError::OpenFile {
                path: path.clone(),
                cause: io("open-file-cause"),
            }),
            "open-file-cause",
        );
        prints_cause_once(
            store(StoreError::WriterThread(io("thread-cause"))),
            "thread-cause",
        );
        let task = tokio::spawn(std::future::pending::<()>());
        task.abort();
        let Err(join) = task.await else {
            panic!("an aborted task ends with an error")
        };
        let leaf = join.to_string();
        prints_cause_once(store(StoreError::from(join)), &leaf);
        prints_cause_once(
            AppError::Bind {
                addr: "127.0.0.1:8080".parse().unwrap(),
                cause: io("bind-cause"),
            },
            "bind-cause",
        );
        prints_cause_once(AppError::Serve(io("serve-cause")), "serve-cause");
        prints_cause_once(AppError::Lanes(io("lanes-cause")), "lanes-cause");
        prints_cause_once(
            ConfigError::Read {
                path,
                cause: io("read-cause"),
            },
            "read-cause",
        );
        // The scheduler's error prints its variant's name.
        prints_cause_once(
            AppError::Scheduler(SchedulerError::from(
                tokio_cron_scheduler::JobSchedulerError::CantInit,
            )),
            "CantInit",
        );
    }
}
