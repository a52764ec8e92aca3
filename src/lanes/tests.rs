//! The dispatcher under tokio's paused clock (`start_paused`): a lane in backoff waits for its due
//! time and no longer, a new event does not wake it early, a release runs it at once, and a
//! failing lane holds back no other. The runner here is in memory, so the runtime is idle exactly
//! when every lane waits, and tokio moves its clock to the next due time: no test sleeps.
#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::BoxFuture;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::{Clock, Dispatcher, Finished, LaneRunner, LaneSignal, RetryPolicy};
use crate::store::{EventState, InboxRow, Lane, Source, StoreError};

/// Unix ms at the start of each test; the paused clock counts from here.
const EPOCH_MS: i64 = 1_700_000_000_000;
/// How long a scripted retry waits.
const BACKOFF: Duration = Duration::from_secs(5);

/// What a scripted attempt of an event does.
#[derive(Debug, Clone, Copy)]
enum Attempt {
    /// Finishes the event.
    Done,
    /// Asks to be tried again after this long.
    RetryAfter(Duration),
}

/// One run of one event, as the runner saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Run {
    lane: Lane,
    id: i64,
    /// Milliseconds since the test started, on the paused clock.
    at_ms: u64,
}

#[derive(Debug, Default)]
struct Inbox {
    /// Pending events, in lane order.
    pending: Vec<InboxRow>,
    /// What each event's next attempts do (`Done` once the script runs out).
    script: HashMap<i64, Vec<Attempt>>,
}

/// An inbox in memory whose events follow a script, reporting every run on a channel.
#[derive(Debug)]
struct ScriptedLanes {
    inbox: Mutex<Inbox>,
    clock: Clock,
    start: Instant,
    runs: mpsc::UnboundedSender<Run>,
    /// How often each lane's events were read.
    reads: Mutex<HashMap<Lane, usize>>,
}

impl ScriptedLanes {
    fn add(&self, lane: &Lane, id: i64, script: &[Attempt]) {
        let mut inbox = self.inbox.lock().unwrap();
        inbox.pending.push(row(lane, id));
        inbox.script.insert(id, script.to_vec());
    }

    /// What `zfsync failed retry` does in the store: the event is due now.
    fn make_due(&self, id: i64) {
        let now = self.clock.now();
        let mut inbox = self.inbox.lock().unwrap();
        for r in inbox.pending.iter_mut().filter(|r| r.id == id) {
            r.next_attempt_at = now;
        }
    }
}

fn row(lane: &Lane, id: i64) -> InboxRow {
    InboxRow {
        id,
        source: Source::Zalo,
        lane: lane.clone(),
        event_name: "user_send_text".into(),
        body: Vec::new(),
        received_at: EPOCH_MS,
        state: EventState::Pending,
        attempts: 0,
        next_attempt_at: 0,
        last_error: None,
        error_class: None,
        event_time: id,
        provenance: crate::store::Provenance::Webhook,
    }
}

impl LaneRunner for ScriptedLanes {
    fn due_lanes(&self, now: i64, busy: Vec<Lane>) -> BoxFuture<'_, Result<Vec<Lane>, StoreError>> {
        let inbox = self.inbox.lock().unwrap();
        let mut lanes: Vec<Lane> = Vec::new();
        for r in &inbox.pending {
            let head = lanes.contains(&r.lane)
                || inbox
                    .pending
                    .iter()
                    .any(|o| o.lane == r.lane && o.id < r.id);
            if !head && r.next_attempt_at <= now && !busy.contains(&r.lane) {
                lanes.push(r.lane.clone());
            }
        }
        Box::pin(async move { Ok(lanes) })
    }

    fn lane_next(
        &self,
        lane: Lane,
        cursor: Option<(i64, i64)>,
        limit: usize,
    ) -> BoxFuture<'_, Result<Vec<InboxRow>, StoreError>> {
        *self.reads.lock().unwrap().entry(lane.clone()).or_default() += 1;
        let inbox = self.inbox.lock().unwrap();
        let rows = inbox
            .pending
            .iter()
            .filter(|r| r.lane == lane && cursor.is_none_or(|c| (r.event_time, r.id) > c))
            .take(limit)
            .cloned()
            .collect();
        Box::pin(async move { Ok(rows) })
    }

    fn process(&self, row: InboxRow) -> BoxFuture<'_, Finished> {
        let at_ms = self.start.elapsed().as_millis() as u64;
        let _ = self.runs.send(Run {
            lane: row.lane.clone(),
            id: row.id,
            at_ms,
        });
        let mut inbox = self.inbox.lock().unwrap();
        let attempt = match inbox.script.get_mut(&row.id) {
            Some(s) if !s.is_empty() => s.remove(0),
            _ => Attempt::Done,
        };
        let finished = match attempt {
            Attempt::Done => {
                inbox.pending.retain(|r| r.id != row.id);
                Finished::Final(tokio::spawn(async { Ok(()) }))
            }
            Attempt::RetryAfter(d) => {
                let due = self.clock.now() + d.as_millis() as i64;
                for r in inbox.pending.iter_mut().filter(|r| r.id == row.id) {
                    r.next_attempt_at = due;
                    r.attempts += 1;
                }
                Finished::Retry(due)
            }
        };
        Box::pin(async move { finished })
    }
}

/// A running dispatcher over scripted lanes, on the paused clock.
struct Harness {
    lanes: Arc<ScriptedLanes>,
    signal: LaneSignal,
    runs: mpsc::UnboundedReceiver<Run>,
    stop: CancellationToken,
}

impl Harness {
    fn start(max_lanes: usize) -> Harness {
        let start = Instant::now();
        let clock = Clock(Arc::new(move || {
            EPOCH_MS + start.elapsed().as_millis() as i64
        }));
        let (tx, runs) = mpsc::unbounded_channel();
        let lanes = Arc::new(ScriptedLanes {
            inbox: Mutex::new(Inbox::default()),
            clock: clock.clone(),
            start,
            runs: tx,
            reads: Mutex::default(),
        });
        let signal = LaneSignal {
            clock,
            ..LaneSignal::default()
        };
        let dispatcher = Dispatcher {
            runner: lanes.clone(),
            signal: signal.clone(),
            max_lanes,
            sweep_every: super::SWEEP_EVERY,
            lease: super::LANE_LEASE,
        };
        let stop = CancellationToken::new();
        tokio::spawn(dispatcher.run(stop.clone(), TaskTracker::new()));
        Harness {
            lanes,
            signal,
            runs,
            stop,
        }
    }

    /// The next run; the paused clock moves on to it when nothing else can happen first.
    async fn next_run(&mut self) -> Run {
        self.runs.recv().await.unwrap()
    }

    /// How often the lane's events have been read so far.
    fn reads(&self, lane: &Lane) -> usize {
        self.lanes
            .reads
            .lock()
            .unwrap()
            .get(lane)
            .copied()
            .unwrap_or(0)
    }

    /// Lets every task run that can run now, without moving the clock.
    async fn quiesce(&self) {
        for _ in 0..50 {
            tokio::task::yield_now().await;
        }
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

fn lane(user: &str) -> Lane {
    Lane::zalo(Some(user))
}

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
    assert!(p.delay_ms(1, Some(Duration::from_secs(5))) >= 5000);
}

#[tokio::test(start_paused = true)]
async fn a_lane_in_backoff_runs_again_at_its_due_time_and_not_before() {
    let mut h = Harness::start(4);
    let a = lane("a");
    h.lanes
        .add(&a, 1, &[Attempt::RetryAfter(BACKOFF), Attempt::Done]);
    h.signal.notify(&a);

    let first = h.next_run().await;
    assert_eq!((first.id, first.at_ms), (1, 0));
    let second = h.next_run().await;
    assert_eq!(second.id, 1);
    // Due at exactly +5 s: the dispatcher sleeps until then (the 2 s sweeps find nothing due).
    assert_eq!(second.at_ms, BACKOFF.as_millis() as u64, "{second:?}");
    h.quiesce().await;
    assert!(h.runs.try_recv().is_err(), "the event ran a third time");
}

#[tokio::test(start_paused = true)]
async fn a_new_event_does_not_wake_a_lane_before_its_due_time() {
    let mut h = Harness::start(4);
    let a = lane("a");
    h.lanes
        .add(&a, 1, &[Attempt::RetryAfter(BACKOFF), Attempt::Done]);
    h.signal.notify(&a);
    assert_eq!(h.next_run().await.id, 1);

    // A second event for the waiting lane arrives 1 s later: only its insert happens, the lane
    // is not even read.
    h.quiesce().await;
    let reads = h.reads(&a);
    tokio::time::advance(Duration::from_secs(1)).await;
    h.lanes.add(&a, 2, &[]);
    h.signal.notify(&a);
    h.quiesce().await;
    assert!(
        h.runs.try_recv().is_err(),
        "the lane ran before its due time"
    );
    assert_eq!(h.reads(&a), reads, "the lane was read before its due time");

    // At the due time the lane runs in order: the retried event, then the new one.
    let retried = h.next_run().await;
    let new = h.next_run().await;
    assert_eq!((retried.id, new.id), (1, 2));
    assert_eq!(retried.at_ms, BACKOFF.as_millis() as u64);
    assert_eq!(new.at_ms, BACKOFF.as_millis() as u64);
}

#[tokio::test(start_paused = true)]
async fn a_release_runs_a_waiting_lane_at_once() {
    let mut h = Harness::start(4);
    let a = lane("a");
    let long = Duration::from_secs(3600);
    h.lanes
        .add(&a, 1, &[Attempt::RetryAfter(long), Attempt::Done]);
    h.signal.notify(&a);
    assert_eq!(h.next_run().await.id, 1);

    // An operator replays it 10 s later (`zfsync failed retry`, a reconnect): it runs then.
    tokio::time::advance(Duration::from_secs(10)).await;
    h.lanes.make_due(1);
    h.signal.release(&a);
    let again = h.next_run().await;
    assert_eq!((again.id, again.at_ms), (1, 10_000));
}

#[tokio::test(start_paused = true)]
async fn the_sweep_runs_a_lane_made_due_without_a_signal() {
    let mut h = Harness::start(4);
    let a = lane("a");
    h.lanes.add(
        &a,
        1,
        &[
            Attempt::RetryAfter(Duration::from_secs(3600)),
            Attempt::Done,
        ],
    );
    h.signal.notify(&a);
    assert_eq!(h.next_run().await.id, 1);

    // Replayed by another process: nobody signals, the 2 s sweep finds it.
    tokio::time::advance(Duration::from_millis(100)).await;
    h.lanes.make_due(1);
    let again = h.next_run().await;
    assert_eq!(again.id, 1);
    assert_eq!(
        again.at_ms,
        super::SWEEP_EVERY.as_millis() as u64,
        "{again:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_lane_in_backoff_holds_back_no_other_lane() {
    let mut h = Harness::start(1);
    let (a, b) = (lane("a"), lane("b"));
    h.lanes
        .add(&a, 1, &[Attempt::RetryAfter(BACKOFF), Attempt::Done]);
    h.signal.notify(&a);
    assert_eq!(h.next_run().await.id, 1);

    // With one lane slot, another lane still runs while `a` waits.
    h.lanes.add(&b, 2, &[]);
    h.signal.notify(&b);
    let other = h.next_run().await;
    assert_eq!((other.lane.clone(), other.at_ms), (b, 0));
    let retried = h.next_run().await;
    assert_eq!(
        (retried.lane, retried.at_ms),
        (a, BACKOFF.as_millis() as u64)
    );
}
