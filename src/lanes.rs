//! Lanes: one per conversation, strictly in the platform's event order; different lanes run concurrently, up to
//! `sync.max_concurrent_lanes`.
//!
//! The HTTP server signals the lane of every new event; the dispatcher keeps ready and waiting
//! lanes in memory (no inbox scan per webhook; a sweep every few seconds catches anything else,
//! such as events replayed from another process) and starts a worker per lane. A worker drains its
//! lane in order, reading a batch at a time, and stops when the lane is empty or its head waits for
//! a retry, so a failing event blocks only its own lane. Transient failures retry with exponential backoff and jitter
//! (honouring Retry-After); a permanent failure, or one that outlives the retry budget, leaves the
//! event `failed` with its reason for an operator to list and replay.
//!
//! Replicas (several daemons on one PostgreSQL database): a worker drains a lane only while it
//! holds the lane's lease in the store (`Store::take_lane_lease`), renewed every third of the lease
//! time while it works and given up when it stops. A lane another replica holds is skipped and
//! looked at again within a second (its events are in the store, and its holder drains them all);
//! a lane whose holder died is taken over once its lease expires. A worker that cannot renew in
//! time stops before its next event. On SQLite every lease is granted.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::BoxFuture;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument as _;

use crate::store::{now_ms, InboxRow, Lane, LaneLease, Store, StoreError};
use crate::sync::{Outcome, SyncContext};
use crate::telemetry::events::{
    EventFailed, EventIgnored, EventProcessed, EventRetrying, InternalEvent, LaneLeaseEvent,
    LanesActive,
};

/// How often an event that waits for a Zalo reconnect looks again (a reconnect wakes it at once).
const WAIT_FOR_OPERATOR_MS: u64 = 60_000;
/// How long a deferred event (a possible echo of an own send in flight) waits at first: the send
/// usually settles within milliseconds, so the wait starts short and doubles up to `DEFER_MS`.
const DEFER_FIRST_MS: i64 = 20;
/// The longest a deferred event waits before looking again.
const DEFER_MS: i64 = 1_000;
/// The safety sweep: how often the dispatcher asks the store for due lanes regardless of signals.
pub(crate) const SWEEP_EVERY: Duration = Duration::from_secs(2);
/// The least time between two sweeps asked for by other replicas' work ([`LaneSignal::sweep_soon`]):
/// a replica busy storing webhooks does not make the others sweep more often than this.
const SWEEP_SOON_GAP: Duration = Duration::from_millis(50);
/// How long a lane's lease lasts unless renewed (`sync.lane_lease_secs`'s default).
pub(crate) const LANE_LEASE: Duration = Duration::from_secs(10);
/// The longest a lane another replica holds waits before it is looked at again (sooner when the
/// other's lease runs out sooner).
const LEASED_ELSEWHERE_MS: i64 = 1_000;

/// How often and how late a transiently failing event is tried again (`[sync]` retry keys).
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Attempts before the event is marked failed.
    pub max_attempts: u32,
    /// The first delay, in milliseconds (doubled per attempt).
    pub base_ms: u64,
    /// The longest delay, in milliseconds.
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

/// Which lanes have work, kept in memory so that a webhook never costs a scan of the inbox.
#[derive(Debug, Default)]
struct LaneState {
    /// Lanes with events to run now, in the order they became ready.
    ready: VecDeque<Lane>,
    queued: HashSet<Lane>,
    /// Lanes whose head waits for a retry, by due time (an entry whose time no longer matches
    /// `backoff` is stale and skipped).
    waiting: BinaryHeap<Reverse<(i64, Lane)>>,
    /// When each lane in backoff is due. A new event for such a lane costs nothing here: the lane
    /// runs at its due time and takes the new event then, in order.
    backoff: HashMap<Lane, i64>,
    busy: HashSet<Lane>,
    /// Busy lanes that got a new event while running (the worker looks again before it stops).
    dirty: HashSet<Lane>,
    /// Another replica stored work for this pairing: sweep the store soon (not only periodically).
    sweep_asked: bool,
}

/// The clock due times are compared with (unix ms). The daemon's reads the system clock, as the
/// store's due times do; a test reads tokio's clock, which it can pause and advance.
#[derive(Clone)]
struct Clock(Arc<dyn Fn() -> i64 + Send + Sync>);

impl Default for Clock {
    fn default() -> Self {
        Clock(Arc::new(now_ms))
    }
}

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Clock")
    }
}

impl Clock {
    fn now(&self) -> i64 {
        (self.0)()
    }
}

/// The handle the HTTP server uses to say "this lane has a new event".
#[derive(Debug, Clone, Default)]
pub struct LaneSignal {
    state: Arc<Mutex<LaneState>>,
    wake: Arc<Notify>,
    clock: Clock,
}

impl LaneSignal {
    /// A signal no lane has used yet.
    pub fn new() -> LaneSignal {
        LaneSignal::default()
    }

    /// A lane has a new event: run it, unless it is running (it looks again before it stops) or
    /// waits for a retry (it runs at its due time, new event included).
    pub fn notify(&self, lane: &Lane) {
        self.queue(lane, false);
    }

    /// Run a lane now even when it waits for a retry: its events were made due (a replay, a
    /// reconnect, or the store's sweep found its head due).
    pub fn release(&self, lane: &Lane) {
        self.queue(lane, true);
    }

    fn queue(&self, lane: &Lane, release: bool) {
        if let Ok(mut st) = self.state.lock() {
            if st.busy.contains(lane) {
                st.dirty.insert(lane.clone());
                return;
            }
            if release {
                st.backoff.remove(lane);
            } else if st
                .backoff
                .get(lane)
                .is_some_and(|due| *due > self.clock.now())
            {
                return;
            }
            if st.queued.insert(lane.clone()) {
                st.ready.push_back(lane.clone());
            }
        }
        self.wake.notify_one();
    }

    /// Another process stored work for this pairing (or gave up a lane that still has some): the
    /// dispatcher sweeps the store for lanes it can take, soon rather than at its next periodic
    /// sweep. Many calls close together make one sweep.
    pub fn sweep_soon(&self) {
        if let Ok(mut st) = self.state.lock() {
            st.sweep_asked = true;
        }
        self.wake.notify_one();
    }

    fn schedule_retry(&self, lane: &Lane, due: i64) {
        if let Ok(mut st) = self.state.lock() {
            if st.backoff.insert(lane.clone(), due) != Some(due) {
                st.waiting.push(Reverse((due, lane.clone())));
            }
        }
    }
}

/// What the dispatcher drives: the inbox's lanes, and the handling of one event. The daemon's is
/// the store with the sync context ([`Dispatcher::new`]); a test drives the dispatcher with its own.
trait LaneRunner: std::fmt::Debug + Send + Sync + 'static {
    /// The lanes whose oldest pending event is due at `now`, skipping `busy` lanes.
    fn due_lanes(&self, now: i64, busy: Vec<Lane>) -> BoxFuture<'_, Result<Vec<Lane>, StoreError>>;
    /// The next pending events of a lane, in lane order, after `cursor` (event_time, id).
    fn lane_next(
        &self,
        lane: Lane,
        cursor: Option<(i64, i64)>,
        limit: usize,
    ) -> BoxFuture<'_, Result<Vec<InboxRow>, StoreError>>;
    /// Handles one event and records how it ended.
    fn process(&self, row: InboxRow) -> BoxFuture<'_, Finished>;
    /// Takes the lane's lease for `lease` before draining it (granted where there is one process).
    fn take_lease(
        &self,
        _lane: Lane,
        _lease: Duration,
    ) -> BoxFuture<'_, Result<LaneLease, StoreError>> {
        Box::pin(async { Ok(LaneLease::Granted) })
    }
    /// Renews a held lease; false when it was lost to another replica.
    fn renew_lease(
        &self,
        _lane: Lane,
        _lease: Duration,
    ) -> BoxFuture<'_, Result<bool, StoreError>> {
        Box::pin(async { Ok(true) })
    }
    /// Gives a held lease up.
    fn release_lease(&self, _lane: Lane) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(async { Ok(()) })
    }
    /// Whether leases are shared with other processes, so a held one must be renewed.
    fn leases_are_shared(&self) -> bool {
        false
    }
}

/// The daemon's lanes: the inbox in the store, each event handled by the sync context.
#[derive(Debug)]
struct InboxRunner {
    store: Store,
    sync: Arc<SyncContext>,
    policy: RetryPolicy,
}

impl LaneRunner for InboxRunner {
    fn due_lanes(&self, now: i64, busy: Vec<Lane>) -> BoxFuture<'_, Result<Vec<Lane>, StoreError>> {
        Box::pin(self.store.due_lane_heads(now, usize::MAX, busy))
    }

    fn lane_next(
        &self,
        lane: Lane,
        cursor: Option<(i64, i64)>,
        limit: usize,
    ) -> BoxFuture<'_, Result<Vec<InboxRow>, StoreError>> {
        Box::pin(self.store.lane_next(lane, cursor, limit))
    }

    fn process(&self, row: InboxRow) -> BoxFuture<'_, Finished> {
        Box::pin(process_event(&self.store, &self.sync, &self.policy, row))
    }

    fn take_lease(
        &self,
        lane: Lane,
        lease: Duration,
    ) -> BoxFuture<'_, Result<LaneLease, StoreError>> {
        Box::pin(async move { self.store.take_lane_lease(&lane, lease).await })
    }

    fn renew_lease(&self, lane: Lane, lease: Duration) -> BoxFuture<'_, Result<bool, StoreError>> {
        Box::pin(async move { self.store.renew_lane_lease(&lane, lease).await })
    }

    fn release_lease(&self, lane: Lane) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(async move { self.store.release_lane_lease(&lane).await })
    }

    fn leases_are_shared(&self) -> bool {
        self.store.is_postgres()
    }
}

/// Renews a lane's lease while its worker drains it; stopped when dropped. Sets `lost` when the
/// lease was taken by another replica, or could not be renewed before two thirds of it ran out.
struct Renewer(tokio::task::JoinHandle<()>);

impl Drop for Renewer {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl Renewer {
    fn start(
        runner: Arc<dyn LaneRunner>,
        lane: Lane,
        lease: Duration,
        lost: Arc<AtomicBool>,
    ) -> Renewer {
        Renewer(tokio::spawn(crate::telemetry::carry_pairing(async move {
            let every = lease / 3;
            let mut held_until = tokio::time::Instant::now() + lease;
            loop {
                tokio::time::sleep(every).await;
                let asked = tokio::time::Instant::now();
                match runner.renew_lease(lane.clone(), lease).await {
                    Ok(true) => held_until = asked + lease,
                    Ok(false) => {
                        LaneLeaseEvent::Lost {
                            lane: &lane.to_string(),
                        }
                        .emit();
                        lost.store(true, Ordering::Release);
                        return;
                    }
                    Err(e) if tokio::time::Instant::now() + every >= held_until => {
                        LaneLeaseEvent::RenewFailed {
                            lane: &lane.to_string(),
                            error: &e.to_string(),
                            expiring: true,
                        }
                        .emit();
                        lost.store(true, Ordering::Release);
                        return;
                    }
                    Err(e) => LaneLeaseEvent::RenewFailed {
                        lane: &lane.to_string(),
                        error: &e.to_string(),
                        expiring: false,
                    }
                    .emit(),
                }
            }
        })))
    }
}

/// Runs lanes until cancelled.
#[derive(Debug)]
pub struct Dispatcher {
    runner: Arc<dyn LaneRunner>,
    signal: LaneSignal,
    max_lanes: usize,
    sweep_every: Duration,
    /// How long a lane's lease lasts unless renewed.
    lease: Duration,
}

/// How many events a lane worker reads at once.
const LANE_BATCH: usize = 32;

impl Dispatcher {
    /// A dispatcher running at most `max_lanes` lanes at once.
    pub fn new(
        store: Store,
        sync: Arc<SyncContext>,
        signal: LaneSignal,
        max_lanes: usize,
        policy: RetryPolicy,
    ) -> Self {
        let runner = Arc::new(InboxRunner {
            store,
            sync,
            policy,
        });
        Dispatcher {
            runner,
            signal,
            max_lanes,
            sweep_every: SWEEP_EVERY,
            lease: LANE_LEASE,
        }
    }

    /// Holds each lane's lease for `lease` at a time (`sync.lane_lease_secs`) instead of 10 s.
    pub fn with_lane_lease(mut self, lease: Duration) -> Self {
        self.lease = lease;
        self
    }

    /// Sweeps every `every` instead of every 2 s (a deployment of many pairings spaces the
    /// sweeps of each out: they are a safety net, and each is a store read).
    pub fn with_sweep_every(mut self, every: Duration) -> Self {
        self.sweep_every = every.max(SWEEP_EVERY);
        self
    }

    /// Queues every lane the store says is due (start-up, and a periodic safety sweep that also
    /// picks up events replayed by `zfsync failed retry` from another process).
    async fn sweep(&self) {
        let busy: Vec<Lane> = self
            .signal
            .state
            .lock()
            .map(|s| s.busy.iter().cloned().collect())
            .unwrap_or_default();
        match self.runner.due_lanes(self.signal.clock.now(), busy).await {
            Ok(lanes) => {
                for lane in lanes {
                    self.signal.release(&lane);
                }
            }
            Err(e) => tracing::error!(error = %e, "cannot read the inbox"),
        }
    }

    /// Runs lanes as they become due until `shutdown`; lane tasks join `tracker` so shutdown can
    /// wait for the steps in flight.
    pub async fn run(self, shutdown: CancellationToken, tracker: TaskTracker) {
        let this = Arc::new(self);
        this.sweep().await;
        let mut last_sweep = tokio::time::Instant::now();
        let mut next_sweep = last_sweep + this.sweep_every;
        loop {
            // Retries that came due join the ready queue.
            let now = this.signal.clock.now();
            let mut to_start = Vec::new();
            let next_due = {
                let Ok(mut st) = this.signal.state.lock() else {
                    return;
                };
                while let Some(Reverse((due, _))) = st.waiting.peek() {
                    if *due > now {
                        break;
                    }
                    if let Some(Reverse((due, lane))) = st.waiting.pop() {
                        if st.backoff.get(&lane) != Some(&due) {
                            continue; // stale: released early, or rescheduled
                        }
                        st.backoff.remove(&lane);
                        if !st.busy.contains(&lane) && st.queued.insert(lane.clone()) {
                            st.ready.push_back(lane);
                        }
                    }
                }
                while st.busy.len() < this.max_lanes {
                    let Some(lane) = st.ready.pop_front() else {
                        break;
                    };
                    st.queued.remove(&lane);
                    st.busy.insert(lane.clone());
                    to_start.push(lane);
                }
                LanesActive {
                    count: st.busy.len(),
                }
                .emit();
                st.waiting.peek().map(|Reverse((due, _))| *due)
            };
            for lane in to_start {
                let worker = this.clone();
                let stop = shutdown.clone();
                tracker.spawn(crate::telemetry::carry_pairing(async move {
                    worker.drain_lane(&lane, &stop).await;
                    worker.wake_after_lane(&lane);
                }));
            }
            let until_due = next_due
                .map(|d| Duration::from_millis((d - this.signal.clock.now()).max(1) as u64))
                .unwrap_or(this.sweep_every);
            let sleep =
                until_due.min(next_sweep.saturating_duration_since(tokio::time::Instant::now()));
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = this.signal.wake.notified() => {}
                _ = tokio::time::sleep(sleep) => {}
            }
            let asked = this
                .signal
                .state
                .lock()
                .map(|mut st| std::mem::take(&mut st.sweep_asked))
                .unwrap_or(false);
            if asked {
                next_sweep = next_sweep.min(last_sweep + SWEEP_SOON_GAP);
            }
            if tokio::time::Instant::now() >= next_sweep {
                this.sweep().await;
                last_sweep = tokio::time::Instant::now();
                next_sweep = last_sweep + this.sweep_every;
            }
        }
    }

    /// A worker stopped: free the lane, and run it again if it got work meanwhile.
    fn wake_after_lane(&self, lane: &Lane) {
        let again = match self.signal.state.lock() {
            Ok(mut st) => {
                st.busy.remove(lane);
                st.dirty.remove(lane)
            }
            Err(_) => false,
        };
        if again {
            self.signal.notify(lane);
        } else {
            self.signal.wake.notify_one();
        }
    }

    /// Runs a lane's events in order until it is empty or its head must wait for a retry.
    async fn drain_lane(&self, lane: &Lane, stop: &CancellationToken) {
        match self.runner.take_lease(lane.clone(), self.lease).await {
            Ok(LaneLease::Granted) => {}
            Ok(LaneLease::HeldElsewhere { remaining_ms }) => {
                // Another replica drains it, new events included; look again in a while, in case
                // it stops before they are done.
                let wait = remaining_ms.clamp(50, LEASED_ELSEWHERE_MS) + fastrand::i64(0..100);
                LaneLeaseEvent::HeldElsewhere {
                    lane: &lane.to_string(),
                    wait_ms: wait,
                }
                .emit();
                self.signal
                    .schedule_retry(lane, self.signal.clock.now() + wait);
                return;
            }
            Err(e) => {
                LaneLeaseEvent::TakeFailed {
                    lane: &lane.to_string(),
                    error: &e.to_string(),
                }
                .emit();
                self.signal
                    .schedule_retry(lane, self.signal.clock.now() + LEASED_ELSEWHERE_MS);
                return;
            }
        }
        let lost = Arc::new(AtomicBool::new(false));
        let renewer = self
            .runner
            .leases_are_shared()
            .then(|| Renewer::start(self.runner.clone(), lane.clone(), self.lease, lost.clone()));
        // Where this worker is in the lane: events before it are finished (their final state is
        // being written), so reads need not wait for those writes to commit.
        let mut cursor: Option<(i64, i64)> = None;
        let mut writes = Vec::new();
        'lane: while !stop.is_cancelled() {
            if let Ok(mut st) = self.signal.state.lock() {
                st.dirty.remove(lane);
            }
            let rows = match self
                .runner
                .lane_next(lane.clone(), cursor, LANE_BATCH)
                .await
            {
                Ok(rows) => rows,
                Err(e) => {
                    tracing::error!(error = %e, "cannot read a lane");
                    break;
                }
            };
            if rows.is_empty() {
                // Events stored while this batch ran set `dirty`: look once more before stopping.
                let dirty = self
                    .signal
                    .state
                    .lock()
                    .map(|mut s| s.dirty.remove(lane))
                    .unwrap_or(false);
                if dirty {
                    continue;
                }
                break;
            }
            for row in rows {
                if stop.is_cancelled() || lost.load(Ordering::Acquire) {
                    break 'lane;
                }
                if row.next_attempt_at > self.signal.clock.now() {
                    self.signal.schedule_retry(lane, row.next_attempt_at);
                    break 'lane;
                }
                let key = (row.event_time, row.id);
                match self.runner.process(row).await {
                    Finished::Final(write) => {
                        writes.push(write);
                        cursor = Some(key);
                    }
                    Finished::Retry(due) => {
                        self.signal.schedule_retry(lane, due);
                        break 'lane;
                    }
                }
            }
        }
        // The lane's final states are committed before it is handed back.
        for w in writes {
            if let Ok(Err(e)) = w.await {
                tracing::error!(error = %e, "cannot record the outcome of an event; it will be handled again");
            }
        }
        // Given up only now, with the outcomes committed: the next holder starts where this one
        // ended. The post-check below then sees whatever another replica stored meanwhile.
        drop(renewer);
        if !lost.load(Ordering::Acquire) {
            if let Err(e) = self.runner.release_lease(lane.clone()).await {
                LaneLeaseEvent::ReleaseFailed {
                    lane: &lane.to_string(),
                    error: &e.to_string(),
                }
                .emit();
            }
        }
        if stop.is_cancelled() {
            return;
        }
        // An event stored meanwhile with an earlier platform time than the cursor is still here:
        // hand the lane back for another run, or for its retry time.
        match self.runner.lane_next(lane.clone(), None, 1).await {
            Ok(rows) => {
                if let Some(head) = rows.first() {
                    if head.next_attempt_at > self.signal.clock.now() {
                        self.signal.schedule_retry(lane, head.next_attempt_at);
                    } else if let Ok(mut st) = self.signal.state.lock() {
                        st.dirty.insert(lane.clone());
                    }
                }
            }
            Err(e) => tracing::error!(error = %e, "cannot read a lane"),
        }
    }
}

/// How an event left the lane.
pub enum Finished {
    /// Done, ignored or failed: the write recording it (not awaited by the lane, so it shares the
    /// next group commit; an event whose write is lost is simply handled again, and its journal
    /// keeps every external effect from repeating).
    Final(tokio::task::JoinHandle<Result<(), crate::store::StoreError>>),
    /// Not finished: try again at this time (unix ms); the lane waits.
    Retry(i64),
}

impl std::fmt::Debug for Finished {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Finished::Final(_) => f.write_str("Final"),
            Finished::Retry(t) => write!(f, "Retry({t})"),
        }
    }
}

/// Handles one event and records how it ended.
pub async fn process_event(
    store: &Store,
    sync: &SyncContext,
    policy: &RetryPolicy,
    row: InboxRow,
) -> Finished {
    // Every log line of this event carries which event it is and where it runs.
    let span = tracing::info_span!("event", inbox_id = row.id, lane = %row.lane, source = %row.source, event = %row.event_name);
    run_event(store, sync, policy, row).instrument(span).await
}

async fn run_event(
    store: &Store,
    sync: &SyncContext,
    policy: &RetryPolicy,
    row: InboxRow,
) -> Finished {
    let direction = row.source.direction().as_str();
    let started = std::time::Instant::now();
    // The token pair this attempt runs with: a new one stored while it runs is a reason to go again.
    let pair = sync.zalo.tokens().generation();
    let result = sync.handle(&row).await;
    EventProcessed {
        direction,
        elapsed: started.elapsed(),
    }
    .emit();
    let attempts = row.attempts + 1;
    let id = row.id;
    match result {
        Ok(Outcome::Done) => finish(
            store,
            move |s| async move { s.finish_event(id, None).await },
        ),
        Ok(Outcome::Ignored(reason)) => {
            EventIgnored {
                direction,
                event: &row.event_name,
                reason: &reason,
            }
            .emit();
            finish(store, move |s| async move {
                s.finish_event(id, Some(reason)).await
            })
        }
        Ok(Outcome::Deferred) => {
            let wait = DEFER_FIRST_MS
                .saturating_mul(1 << (attempts - 1).clamp(0, 10))
                .min(DEFER_MS);
            let next = now_ms() + wait;
            // After the retry budget the send it waited for is taken as never completed; the
            // counter restarts so the echo is planned afresh (as another app's message).
            let counted = if attempts as u32 >= policy.max_attempts {
                0
            } else {
                attempts
            };
            let detail = "waiting for an own send to finish".to_string();
            retry(store, id, counted, next, detail, "deferred".into()).await
        }
        Err(e) => {
            let class = e.class();
            // Logged, stored for the console and `failed list`: no URL keeps its query (a signed
            // storage link's credential).
            let message = zfsync_mappings::redact::urls_in(&e.to_string());
            if e.waits_for_operator() {
                // Waiting for someone to (re)connect Zalo is not a failure of the event: it keeps its
                // place and its attempts, and goes as soon as the connection is back.
                let delay = policy.max_ms.min(WAIT_FOR_OPERATOR_MS);
                tracing::warn!(event = %row.event_name, error = %message, "waiting for Zalo's tokens to work again");
                let waiting = retry(
                    store,
                    id,
                    row.attempts,
                    now_ms() + delay as i64,
                    message.clone(),
                    class.to_string(),
                )
                .await;
                // A new pair stored while this attempt ran woke the waiting events before this
                // wait was recorded (the wake makes the pair known here first): go again now.
                if sync.zalo.tokens().replaced_since(pair) {
                    tracing::info!(event = %row.event_name, "Zalo's tokens were replaced meanwhile; trying again now");
                    return retry(
                        store,
                        id,
                        row.attempts,
                        now_ms(),
                        message,
                        class.to_string(),
                    )
                    .await;
                }
                return waiting;
            }
            if e.is_transient() && (attempts as u32) < policy.max_attempts {
                let delay = policy.delay_ms(attempts as u32, e.retry_after());
                EventRetrying {
                    direction,
                    class,
                    event: &row.event_name,
                    attempts,
                    delay_ms: delay,
                    error: &message,
                }
                .emit();
                retry(
                    store,
                    id,
                    attempts,
                    now_ms() + delay as i64,
                    message,
                    class.to_string(),
                )
                .await
            } else {
                EventFailed {
                    direction,
                    class,
                    event: &row.event_name,
                    attempts,
                    error: &message,
                }
                .emit();
                sync.explain_failure(&row, &e).await;
                let class = class.to_string();
                finish(store, move |s| async move {
                    s.fail_event(id, attempts, message, class).await
                })
            }
        }
    }
}

fn finish<F, Fut>(store: &Store, write: F) -> Finished
where
    F: FnOnce(Store) -> Fut,
    Fut: std::future::Future<Output = Result<(), crate::store::StoreError>> + Send + 'static,
{
    Finished::Final(tokio::spawn(write(store.clone())))
}

async fn retry(
    store: &Store,
    id: i64,
    attempts: i64,
    next: i64,
    error: String,
    class: String,
) -> Finished {
    // Awaited: the lane must see the new due time before it looks at its head again.
    if let Err(e) = store.retry_event(id, attempts, next, error, class).await {
        tracing::error!(error = %e, "cannot record a retry; the event will be handled again");
    }
    Finished::Retry(next)
}

#[cfg(test)]
mod tests;
