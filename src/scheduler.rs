//! The scheduler: periodic work on cron expressions from `[sync]` (six fields, seconds first, UTC):
//! - `token_refresh_cron`: refresh the Zalo token when it expires within `token_refresh_ahead_secs`
//!   (also once at start-up);
//! - `reconcile_cron`: read recent history on both platforms and queue what never arrived (start-up
//!   always does one pass); `"off"` switches the periodic pass off;
//! - `retention_cron`: prune finished events and expired files older than `retention_days`.
//!
//! A run that is still going when its next time comes is skipped, not doubled. Failures are logged
//! and retried at the next time; none stops the daemon.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use tokio::sync::Mutex;
use tokio_cron_scheduler::{Job, JobScheduler, JobSchedulerError};
use tokio_util::sync::CancellationToken;

use crate::config::SyncConfig;
use crate::ingest::catch_up::CatchUp;
use crate::services::Services;

/// The periodic pass looks at conversations active in the last hour, and 2 pages of recent chats.
const RECONCILE_WINDOW_MS: i64 = 3600 * 1000;
const RECONCILE_ZALO_PAGES: u32 = 2;
/// The value that switches a schedule off.
pub const OFF: &str = "off";

/// Why the scheduler could not start.
#[derive(Debug, thiserror::Error)]
pub enum SchedulerError {
    /// A cron expression does not parse.
    #[error("config key `sync.{key}` is not a valid cron expression ({expr:?}): use six fields, seconds first, e.g. \"0 */5 * * * *\"")]
    BadCron {
        /// The key.
        key: &'static str,
        /// The expression.
        expr: String,
    },
    /// The scheduler itself failed.
    #[error("the scheduler failed: {0}")]
    Scheduler(JobSchedulerError),
}

// Not `#[from]`: the message already holds the cause, and a chained copy would print it twice
// under `{:#}` (see `crate::error`).
impl From<JobSchedulerError> for SchedulerError {
    fn from(e: JobSchedulerError) -> SchedulerError {
        SchedulerError::Scheduler(e)
    }
}

type JobFuture = Pin<Box<dyn Future<Output = ()> + Send>>;

/// The running scheduler.
pub struct Scheduler {
    inner: JobScheduler,
}

impl std::fmt::Debug for Scheduler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Scheduler")
    }
}

/// Wraps a job so that a run still going when the next one is due is skipped.
fn job<F, Fut>(key: &'static str, expr: &str, work: F) -> Result<Option<Job>, SchedulerError>
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    if expr.trim() == OFF {
        return Ok(None);
    }
    let run = skip_if_running(key, work);
    Job::new_async(expr, move |_, _| run())
        .map(Some)
        .map_err(|_| SchedulerError::BadCron {
            key,
            expr: expr.to_string(),
        })
}

/// `work` as a job's run: a run that starts while the previous one is still going returns at
/// once (logged at debug), so a slow pass is never doubled.
fn skip_if_running<F, Fut>(key: &'static str, work: F) -> impl Fn() -> JobFuture + Send + Sync
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let running = Arc::new(Mutex::new(()));
    let work = Arc::new(work);
    move || {
        let (running, work) = (running.clone(), work.clone());
        Box::pin(async move {
            let Ok(_guard) = running.try_lock() else {
                tracing::debug!(job = key, "previous run still going; skipped");
                return;
            };
            work().await;
        }) as JobFuture
    }
}

/// One pairing's part in the deployment's jobs.
#[derive(Clone)]
pub struct ScheduledPairing {
    /// Its name (the `pairing` label of what its work records).
    pub name: std::sync::Arc<str>,
    /// Its store handle and clients.
    pub services: Services,
    /// Its catch-up from both histories.
    pub catch_up: CatchUp,
}

/// How many pairings a job works on at once (a slow platform of one never holds up the rest).
const PAIRINGS_AT_ONCE: usize = 8;

/// Runs `work` for every pairing, at most [`PAIRINGS_AT_ONCE`] at a time, each in its pairing.
async fn for_each<F, Fut>(pairings: &[ScheduledPairing], work: F)
where
    F: Fn(ScheduledPairing) -> Fut,
    Fut: Future<Output = ()>,
{
    use futures::StreamExt as _;
    futures::stream::iter(pairings.iter().cloned())
        .map(|p| crate::telemetry::within(p.name.clone(), work(p)))
        .buffer_unordered(PAIRINGS_AT_ONCE)
        .collect::<Vec<()>>()
        .await;
}

impl Scheduler {
    /// Starts the deployment's jobs, one scheduler for every pairing (a job runs for each in
    /// turn); they run until [`Scheduler::stop`] or `shutdown`. Retention runs once per pass: it
    /// prunes every pairing's rows.
    pub async fn start(
        config: &SyncConfig,
        pairings: Vec<ScheduledPairing>,
        shutdown: CancellationToken,
    ) -> Result<Scheduler, SchedulerError> {
        let inner = JobScheduler::new().await?;
        let pairings: Arc<[ScheduledPairing]> = pairings.into();
        // Once now, then on the schedule: a daemon started with an old token refreshes at once.
        for_each(&pairings, |p| async move {
            if let Err(e) = p.services.tokens().refresh_if_due().await {
                tracing::warn!(pairing = %p.name, error = %e, "Zalo token refresh at start-up failed");
            }
        })
        .await;
        let all = pairings.clone();
        let refresh = job(
            "token_refresh_cron",
            &config.token_refresh_cron,
            move || {
                let all = all.clone();
                async move {
                    for_each(&all, |p| async move {
                        if let Err(e) = p.services.tokens().refresh_if_due().await {
                            tracing::warn!(pairing = %p.name, error = %e, "scheduled Zalo token refresh failed");
                        }
                    })
                    .await;
                }
            },
        )?;
        // Start-up already caught up; the periodic pass catches what a running daemon never
        // received (a webhook Zalo disabled after its retry ladder, a delivery Freshchat gave up on).
        let (all, stop) = (pairings.clone(), shutdown.clone());
        let reconcile = job("reconcile_cron", &config.reconcile_cron, move || {
            let (all, stop) = (all.clone(), stop.clone());
            async move {
                for_each(&all, |p| {
                    let stop = stop.clone();
                    async move {
                        if !stop.is_cancelled() {
                            p.catch_up
                                .pass(RECONCILE_WINDOW_MS, RECONCILE_ZALO_PAGES)
                                .await;
                        }
                    }
                })
                .await;
            }
        })?;
        let keep_ms = config.retention_days as i64 * 24 * 3600 * 1000;
        let store = pairings.first().map(|p| p.services.store.clone());
        let retention = match store {
            Some(store) => job("retention_cron", &config.retention_cron, move || {
                let store = store.clone();
                async move {
                    match store.prune(keep_ms).await {
                        Ok(n) if n > 0 => {
                            tracing::info!(rows = n, "pruned finished events and expired files")
                        }
                        Ok(_) => {}
                        Err(e) => tracing::warn!(error = %e, "pruning the store failed"),
                    }
                }
            })?,
            None => None,
        };
        for j in [refresh, reconcile, retention].into_iter().flatten() {
            inner.add(j).await?;
        }
        inner.start().await?;
        Ok(Scheduler { inner })
    }

    /// Stops every job (a run in progress finishes on its own).
    pub async fn stop(mut self) {
        if let Err(e) = self.inner.shutdown().await {
            tracing::warn!(error = %e, "stopping the scheduler failed");
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::time::Duration;

    use super::skip_if_running;

    /// How long one run of the test's job takes, on tokio's paused clock.
    const RUN: Duration = Duration::from_secs(60);

    #[tokio::test(start_paused = true)]
    async fn a_run_due_while_the_previous_is_going_is_skipped() {
        let (started, finished) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let (s, f) = (started.clone(), finished.clone());
        let run = skip_if_running("reconcile_cron", move || {
            let (s, f) = (s.clone(), f.clone());
            async move {
                s.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(RUN).await;
                f.fetch_add(1, Ordering::SeqCst);
            }
        });

        let first = tokio::spawn(run());
        tokio::task::yield_now().await;
        assert_eq!(started.load(Ordering::SeqCst), 1);

        // The next time comes 10 s later, while the first run is going: it returns at once.
        tokio::time::advance(Duration::from_secs(10)).await;
        run().await;
        assert_eq!(started.load(Ordering::SeqCst), 1, "a second run started");
        assert_eq!(finished.load(Ordering::SeqCst), 0);

        // Once the first has finished, the next time runs again.
        first.await.unwrap();
        assert_eq!(finished.load(Ordering::SeqCst), 1);
        run().await;
        assert_eq!(
            (
                started.load(Ordering::SeqCst),
                finished.load(Ordering::SeqCst)
            ),
            (2, 2)
        );
    }

    #[test]
    fn off_switches_a_schedule_off_and_a_bad_expression_names_its_key() {
        let off = super::job("reconcile_cron", " off ", || async {});
        assert!(matches!(off, Ok(None)));
        let Err(err) = super::job("retention_cron", "every day", || async {}) else {
            panic!("a bad cron expression was accepted");
        };
        assert!(err.to_string().contains("sync.retention_cron"), "{err}");
    }
}
