//! Webhook requests nobody signed, logged without flooding the log. Anyone can post to the webhook
//! URLs, so a log line per refusal (or per Zalo URL check) would let a stranger write the log at
//! their own pace. Instead, each kind (source and reason) is logged in full the first time it is
//! seen in a [`SUMMARY_EVERY`] period, the rest are only counted, and [`summarise`] writes one line
//! per period with every kind's count, only when some were not logged. The metrics
//! (`zfsync_webhook_rejects_total{source,reason}`, `zfsync_webhooks_total{result="url_check"}`) count
//! every request.
//!
//! The tally is process-wide: one daemon runs per process (tests that run several in one process
//! share it, which only merges their summaries).
//!
//! Failure: none; a poisoned lock only stops the aggregation (the metrics still count).

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

/// How often the summary line is written (when there is something to say).
pub const SUMMARY_EVERY: Duration = Duration::from_secs(60);

/// The reason under which Zalo's webhook URL checks are tallied.
pub const URL_CHECK: &str = "url_check";

/// This period's counts per (source, reason), and how many of them were not logged.
#[derive(Debug, Default)]
struct Tally {
    kinds: BTreeMap<(&'static str, &'static str), u64>,
    unlogged: u64,
}

static TALLY: Mutex<Tally> = Mutex::new(Tally {
    kinds: BTreeMap::new(),
    unlogged: 0,
});

/// Counts one request of this kind; true when it is the first of its kind this period (the caller
/// logs it in full then).
pub(super) fn note(source: &'static str, reason: &'static str) -> bool {
    let Ok(mut t) = TALLY.lock() else {
        return false;
    };
    let n = t.kinds.entry((source, reason)).or_insert(0);
    *n += 1;
    let first = *n == 1;
    if !first {
        t.unlogged += 1;
    }
    first
}

/// Writes the summary line of the period that ends now (if any request went unlogged) and starts a
/// new period. Returns the line's counts, for tests.
pub fn flush() -> Option<String> {
    let t = {
        let Ok(mut t) = TALLY.lock() else {
            return None;
        };
        std::mem::take(&mut *t)
    };
    if t.unlogged == 0 {
        return None;
    }
    let counts = t
        .kinds
        .iter()
        .map(|((source, reason), n)| format!("{source}/{reason}={n}"))
        .collect::<Vec<_>>()
        .join(" ");
    tracing::warn!(
        counts = %counts,
        not_logged = t.unlogged,
        "unsigned or unreadable webhook requests since the last summary (each kind is logged once per minute; all are counted in /metrics)"
    );
    Some(counts)
}

/// Writes the summary every [`SUMMARY_EVERY`] until `stop`, then once more.
pub async fn summarise(stop: CancellationToken) {
    let mut every = tokio::time::interval(SUMMARY_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    every.tick().await;
    loop {
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = every.tick() => { flush(); }
        }
    }
    flush();
}
