//! Lanes: one per conversation, strictly in arrival order; different lanes run concurrently, up to
//! `sync.max_concurrent_lanes`.
//!
//! The dispatcher wakes on every new event (and at the next due retry), asks the store for the
//! oldest pending event of each idle lane, and starts a worker per lane. A worker drains its lane
//! one event at a time and stops when the lane is empty or its head waits for a retry, so a failing
//! event blocks only its own lane. Transient failures retry with exponential backoff and jitter
//! (honouring Retry-After); a permanent failure, or one that outlives the retry budget, leaves the
//! event `failed` with its reason for an operator to list and replay.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::error::SyncError;
use crate::executor::{Executor, Outcome};
use crate::store::{now_ms, InboxRow, Source, Store};

/// How long a deferred event (a possible echo of an own send in flight) waits.
const DEFER_MS: i64 = 1_000;
/// The dispatcher looks at the store at least this often even without a wake-up.
const IDLE_POLL: Duration = Duration::from_secs(1);

#[derive(Debug, Clone)]
pub struct RetryPolicy {
    pub max_attempts: u32,
    pub base_ms: u64,
    pub max_ms: u64,
}

impl RetryPolicy {
    /// The delay before attempt `attempts + 1`: base × 2^(attempts-1), capped, ±20 % jitter; never
    /// shorter than what the remote side asked for.
    pub fn delay_ms(&self, attempts: u32, retry_after: Option<Duration>) -> u64 {
        let exp = self
            .base_ms
            .saturating_mul(1u64 << attempts.saturating_sub(1).min(20));
        let capped = exp.min(self.max_ms);
        let jitter = (capped as f64 * (fastrand::f64() * 0.4 - 0.2)) as i64;
        let d = (capped as i64 + jitter).max(1) as u64;
        match retry_after {
            Some(ra) => d.max(ra.as_millis() as u64),
            None => d,
        }
    }
}

/// Runs lanes until cancelled.
#[derive(Debug)]
pub struct Dispatcher {
    store: Store,
    executor: Arc<Executor>,
    wake: Arc<Notify>,
    max_lanes: usize,
    policy: RetryPolicy,
    busy: Arc<Mutex<HashSet<String>>>,
}

impl Dispatcher {
    pub fn new(
        store: Store,
        executor: Arc<Executor>,
        wake: Arc<Notify>,
        max_lanes: usize,
        policy: RetryPolicy,
    ) -> Self {
        Dispatcher {
            store,
            executor,
            wake,
            max_lanes,
            policy,
            busy: Arc::new(Mutex::new(HashSet::new())),
        }
    }

    fn busy_lanes(&self) -> Vec<String> {
        self.busy
            .lock()
            .map(|b| b.iter().cloned().collect())
            .unwrap_or_default()
    }

    pub async fn run(self, shutdown: CancellationToken, tracker: TaskTracker) {
        let this = Arc::new(self);
        loop {
            let busy = this.busy_lanes();
            let free = this.max_lanes.saturating_sub(busy.len());
            if free > 0 {
                match this.store.due_lane_heads(now_ms(), free, busy).await {
                    Ok(lanes) => {
                        for lane in lanes {
                            let inserted = this
                                .busy
                                .lock()
                                .map(|mut b| b.insert(lane.clone()))
                                .unwrap_or(false);
                            if !inserted {
                                continue;
                            }
                            let worker = this.clone();
                            let stop = shutdown.clone();
                            tracker.spawn(async move {
                                worker.drain_lane(&lane, &stop).await;
                                if let Ok(mut b) = worker.busy.lock() {
                                    b.remove(&lane);
                                }
                                worker.wake.notify_one();
                            });
                        }
                    }
                    Err(e) => tracing::error!(error = %e, "cannot read the inbox"),
                }
            }
            metrics::gauge!("zfsync_lanes_active")
                .set(this.busy.lock().map(|b| b.len()).unwrap_or(0) as f64);
            let sleep = match this.store.next_due_at().await {
                Ok(Some(at)) => Duration::from_millis(
                    (at - now_ms()).clamp(0, IDLE_POLL.as_millis() as i64) as u64,
                ),
                _ => IDLE_POLL,
            };
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = this.wake.notified() => {}
                _ = tokio::time::sleep(sleep.max(Duration::from_millis(5))) => {}
            }
        }
    }

    async fn drain_lane(&self, lane: &str, stop: &CancellationToken) {
        while !stop.is_cancelled() {
            let row = match self.store.lane_head(lane.to_string()).await {
                Ok(Some(r)) => r,
                Ok(None) => return,
                Err(e) => {
                    tracing::error!(error = %e, "cannot read a lane");
                    return;
                }
            };
            if row.next_attempt_at > now_ms() {
                return;
            }
            self.process(row).await;
        }
    }

    /// Handles one event and records how it ended.
    pub async fn process(&self, row: InboxRow) {
        process_event(&self.store, &self.executor, &self.policy, row).await
    }
}

/// Handles one event and records how it ended (shared by the dispatcher and tests).
pub async fn process_event(
    store: &Store,
    executor: &Executor,
    policy: &RetryPolicy,
    row: InboxRow,
) {
    let direction = match row.source {
        Source::Zalo => "to_freshchat",
        Source::Freshchat => "to_zalo",
    };
    let started = std::time::Instant::now();
    let result = executor.handle(&row).await;
    metrics::histogram!("zfsync_event_processing_seconds", "direction" => direction)
        .record(started.elapsed().as_secs_f64());
    let attempts = row.attempts + 1;
    let recorded = match result {
        Ok(Outcome::Done) => store.finish_event(row.id, None).await,
        Ok(Outcome::Ignored(reason)) => {
            tracing::debug!(event = %row.event_name, %reason, "event ignored");
            metrics::counter!("zfsync_events_ignored_total", "direction" => direction).increment(1);
            store.finish_event(row.id, Some(reason)).await
        }
        Ok(Outcome::Deferred) => {
            let next = now_ms() + DEFER_MS;
            if attempts as u32 >= policy.max_attempts {
                // The send it waited for never completed: treat the message as not ours after all.
                store
                    .retry_event(
                        row.id,
                        0,
                        next,
                        "waited for an own send".into(),
                        "deferred".into(),
                    )
                    .await
            } else {
                store
                    .retry_event(
                        row.id,
                        attempts,
                        next,
                        "waiting for an own send to finish".into(),
                        "deferred".into(),
                    )
                    .await
            }
        }
        Err(e) => record_failure(store, executor, policy, &row, attempts, e, direction).await,
    };
    if let Err(e) = recorded {
        tracing::error!(error = %e, "cannot record the outcome of an event; it will be handled again");
    }
}

async fn record_failure(
    store: &Store,
    executor: &Executor,
    policy: &RetryPolicy,
    row: &InboxRow,
    attempts: i64,
    e: SyncError,
    direction: &'static str,
) -> Result<(), crate::store::StoreError> {
    let class = e.class();
    let message = e.to_string();
    if e.is_transient() && (attempts as u32) < policy.max_attempts {
        let delay = policy.delay_ms(attempts as u32, e.retry_after());
        tracing::warn!(event = %row.event_name, attempts, delay_ms = delay, error = %message, "transient failure; will retry");
        metrics::counter!("zfsync_retries_total", "direction" => direction, "class" => class)
            .increment(1);
        store
            .retry_event(
                row.id,
                attempts,
                now_ms() + delay as i64,
                message,
                class.to_string(),
            )
            .await
    } else {
        tracing::error!(event = %row.event_name, attempts, error = %message, "event failed; kept for replay ('zfsync failed list')");
        metrics::counter!("zfsync_failures_total", "direction" => direction, "class" => class)
            .increment(1);
        executor.explain_failure(row, &e).await;
        store
            .fail_event(row.id, attempts, message, class.to_string())
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::RetryPolicy;

    #[test]
    fn backoff_grows_caps_and_honours_retry_after() {
        let p = RetryPolicy {
            max_attempts: 10,
            base_ms: 1000,
            max_ms: 60_000,
        };
        let d1 = p.delay_ms(1, None);
        assert!((800..=1200).contains(&d1), "{d1}");
        let d3 = p.delay_ms(3, None);
        assert!((3200..=4800).contains(&d3), "{d3}");
        assert!(p.delay_ms(30, None) <= 72_000);
        assert!(p.delay_ms(1, Some(std::time::Duration::from_secs(5))) >= 5000);
    }
}
