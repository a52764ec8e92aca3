//! The Failed page: failed events with their class and reason, Retry one or all, and one line that
//! says what the last retry did ("3 events replayed: 2 delivered; 1 failed again, listed below").
//!
//! The line and the list are rendered together, from one reading of the store, and they are
//! replaced together when something changes (a server-sent `changed`, then the page's own
//! `?fragment=1`), so the line never speaks of a failure the list does not show. The line is read
//! first: an event only moves from retrying to failed between the two reads, so whatever the line
//! calls failed is in the list read after it, and a row the list marks "failed again" is counted
//! as such in the line.
//!
//! Failure: a store error is shown in place of the list.

use std::collections::HashSet;
use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::{header, StatusCode};
use axum::response::sse::Event;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Form};
use futures::stream;
use maud::{html, Markup};
use serde::Deserialize;

use super::{ago, csrf_field, layout, utc, Nav, Scope};
use crate::server::auth::Operator;
use crate::server::AppState;
use crate::store::{now_ms, Direction, InboxRow, StateCounts, StoreError};

/// Failed events listed.
const FAILED_ROWS: usize = 200;
/// How often the live stream looks at the store.
const LIVE_EVERY: Duration = Duration::from_millis(500);

/// The last retry made from the console for one pairing.
#[derive(Debug, Clone)]
pub struct RetryBatch {
    /// The events it put back in their lanes.
    pub ids: Vec<i64>,
    /// The one event asked for (None: Retry all).
    pub asked: Option<i64>,
    /// When (unix ms).
    pub at: i64,
}

/// The page's query: the live part alone, for the script.
#[derive(Debug, Deserialize)]
pub struct FailedQuery {
    fragment: Option<String>,
}

/// The last retry's outcome as the page shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Outcome {
    /// Events replayed.
    replayed: usize,
    delivered: i64,
    ignored: i64,
    retrying: i64,
    failed: i64,
    /// Of the failed ones, how many the list shows.
    failed_listed: i64,
}

impl Outcome {
    /// From the counts read first and the failed ids of the batch found in the list read after.
    fn new(replayed: usize, counts: StateCounts, failed_listed: i64) -> Outcome {
        // Between the two reads an event can only have gone from retrying to failed: the list
        // is the newer reading, so it wins.
        let moved = (failed_listed - counts.failed).clamp(0, counts.pending);
        Outcome {
            replayed,
            delivered: counts.done,
            ignored: counts.ignored,
            retrying: counts.pending - moved,
            failed: counts.failed + moved,
            failed_listed,
        }
    }

    fn class(&self) -> &'static str {
        if self.failed > 0 {
            "bad"
        } else if self.retrying > 0 {
            "warn"
        } else {
            "ok"
        }
    }

    /// What happened, after "N events replayed …: ".
    fn words(&self) -> String {
        let n = self.replayed as i64;
        let mut parts = Vec::new();
        if self.delivered > 0 {
            parts.push(match (n, self.delivered == n) {
                (1, _) => "delivered".to_string(),
                (_, true) => "all delivered".to_string(),
                _ => format!("{} delivered", self.delivered),
            });
        }
        if self.ignored > 0 {
            parts.push(if n == 1 {
                "nothing to do".to_string()
            } else {
                format!("{} had nothing to do", self.ignored)
            });
        }
        if self.retrying > 0 {
            parts.push(if n == 1 {
                "still retrying…".to_string()
            } else {
                format!("{} still retrying…", self.retrying)
            });
        }
        let mut line = parts.join(", ");
        if self.failed > 0 {
            let failed = if n == 1 {
                "failed again".to_string()
            } else {
                format!("{} failed again", self.failed)
            };
            let listed = if self.failed_listed >= self.failed {
                ", listed below".to_string()
            } else {
                format!(" ({} of them listed below)", self.failed_listed)
            };
            if !line.is_empty() {
                line.push_str("; ");
            }
            line.push_str(&failed);
            line.push_str(&listed);
        }
        let gone = n - self.delivered - self.ignored - self.retrying - self.failed;
        if gone > 0 {
            if !line.is_empty() {
                line.push_str("; ");
            }
            line.push_str(&format!("{gone} no longer in the store"));
        }
        line
    }
}

/// The line about the last retry.
fn outcome_line(batch: &RetryBatch, outcome: Option<Outcome>) -> Markup {
    let when = ago(Some(batch.at));
    match outcome {
        None => html! {
            p id="retry-outcome" role="status" class="muted" {
                @match batch.asked {
                    Some(id) => { "Nothing was replayed " (when) ": event #" (id) " was no longer failed (it may have been retried already)." }
                    None => { "Nothing was replayed " (when) ": there were no failed events." }
                }
            }
        },
        Some(o) => html! {
            p id="retry-outcome" role="status" class=(o.class()) {
                @if let [id] = batch.ids.as_slice() { "Event #" (id) } @else { (batch.ids.len()) " events" }
                " replayed " (when) ": " (o.words()) "."
            }
        },
    }
}

/// The live part of the page: the last retry's line and the list, from one reading.
async fn live_part(state: &AppState, op: &Operator, scope: &Scope) -> Markup {
    let store = &scope.session.store;
    let batch = state
        .console
        .retries
        .lock()
        .ok()
        .and_then(|r| r.get(&scope.name).cloned());
    // The batch's states first, the list after (see the module's note).
    let counts = match &batch {
        Some(b) if !b.ids.is_empty() => Some(store.state_counts(b.ids.clone()).await),
        _ => None,
    };
    let failed = store.failed_events(FAILED_ROWS).await;
    let total = store.failed_summary().await.map(|(n, _)| n);
    let retried: HashSet<i64> = batch
        .as_ref()
        .map(|b| b.ids.iter().copied().collect())
        .unwrap_or_default();
    let listed_again = failed
        .as_ref()
        .map(|l| l.iter().filter(|f| retried.contains(&f.id)).count() as i64)
        .unwrap_or(0);
    html! {
        @if let Some(b) = &batch {
            @match counts {
                Some(Err(e)) => p id="retry-outcome" role="status" class="bad" { "Cannot read what the retry did: " (e.to_string()) },
                Some(Ok(c)) => (outcome_line(b, Some(Outcome::new(b.ids.len(), c, listed_again)))),
                None => (outcome_line(b, None)),
            }
        }
        (list(op, scope, &failed, &total, &retried))
    }
}

fn list(
    op: &Operator,
    scope: &Scope,
    failed: &Result<Vec<InboxRow>, StoreError>,
    total: &Result<i64, StoreError>,
    retried: &HashSet<i64>,
) -> Markup {
    let retry_action = scope.link("/console/failed/retry");
    html! {
        @match failed {
            Ok(list) if list.is_empty() => p id="no-failed" class="ok" { "No failed events." },
            Ok(list) => {
                @let total = total.as_ref().map_or(list.len() as i64, |n| (*n).max(list.len() as i64));
                @if total > list.len() as i64 {
                    p class="muted" id="failed-shown" { "The newest " (list.len()) " of " (total) " failed events." }
                }
                form method="post" action=(retry_action) {
                    (csrf_field(op))
                    button type="submit" id="retry-all" { "Retry all (" (total) ")" }
                }
                div class="scroll" { table id="failed-events" {
                    caption class="skip" { "Failed events" }
                    thead { tr {
                        th scope="col" { "Event" } th scope="col" { "Received" } th scope="col" { "Direction" }
                        th scope="col" { "Class" } th scope="col" { "Reason" } th scope="col" { "Attempts" } th scope="col" { span class="skip" { "Action" } }
                    } }
                    tbody {
                        @for f in list {
                            tr data-failed-event=(f.id) {
                                td {
                                    "#" (f.id) br; span class="muted" { (f.event_name) }
                                    @if retried.contains(&f.id) { br; span class="bad failed-again" { "failed again after the retry" } }
                                }
                                td { (utc(f.received_at)) }
                                td { (match f.source.direction() { Direction::ToFreshchat => "Zalo → Freshchat", Direction::ToZalo => "Freshchat → Zalo" }) }
                                td { (f.error_class.clone().unwrap_or_default()) }
                                td { (f.last_error.clone().unwrap_or_default()) }
                                td { (f.attempts) }
                                td {
                                    form method="post" action=(retry_action) class="inline" {
                                        (csrf_field(op))
                                        input type="hidden" name="id" value=(f.id);
                                        button type="submit" id=(format!("retry-{}", f.id)) aria-label=(format!("Retry event {}", f.id)) { "Retry" }
                                    }
                                }
                            }
                        }
                    }
                } }
            },
            Err(e) => p class="bad" { "Cannot read the failed events: " (e.to_string()) },
        }
    }
}

/// `GET /console/failed`.
pub async fn failed(
    State(state): State<AppState>,
    Extension(op): Extension<Operator>,
    scope: Scope,
    Query(q): Query<FailedQuery>,
) -> Response {
    let live = live_part(&state, &op, &scope).await;
    if q.fragment.is_some() {
        return ([(header::CACHE_CONTROL, "no-store")], live.into_string()).into_response();
    }
    let body = html! {
        div id="failed-live" data-live="/console/live/failed" aria-live="polite" { (live) }
        script src=(super::LIVE_SCRIPT) defer {}
    };
    layout("Failed", Nav::Failed, &op, &scope, body)
}

/// The retry button's form.
#[derive(Debug, Deserialize)]
pub struct RetryForm {
    /// One event; every failed event when absent.
    id: Option<i64>,
}

/// `POST /console/failed/retry`: puts one failed event (or all) back in its lane and keeps which,
/// for the page's line about the outcome.
pub async fn retry(
    State(state): State<AppState>,
    scope: Scope,
    Form(form): Form<RetryForm>,
) -> Response {
    let replayed = match scope.session.store.replay_failed_listed(form.id).await {
        Ok(r) => r,
        Err(e) => {
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                format!("cannot retry: {e}"),
            )
                .into_response()
        }
    };
    tracing::info!(
        events = replayed.len(),
        "failed events retried from the console"
    );
    let batch = RetryBatch {
        ids: replayed.iter().map(|(id, _)| *id).collect(),
        asked: form.id,
        at: now_ms(),
    };
    if let Ok(mut r) = state.console.retries.lock() {
        r.insert(scope.name.clone(), batch);
    }
    let mut lanes: Vec<_> = replayed.into_iter().map(|(_, lane)| lane).collect();
    lanes.sort();
    lanes.dedup();
    for lane in &lanes {
        scope.session.lanes.release(lane);
    }
    (
        StatusCode::SEE_OTHER,
        [(header::LOCATION, scope.link("/console/failed"))],
    )
        .into_response()
}

/// `GET /console/live/failed`: `changed` when the last retry's outcome or the failed list changes
/// (and once at the start, for what changed before the stream opened).
pub async fn live(
    State(state): State<AppState>,
    Extension(op): Extension<Operator>,
    scope: Scope,
) -> Response {
    let console = state.console.clone();
    let s = stream::unfold((scope, None::<String>), move |(scope, last)| {
        let console = console.clone();
        async move {
            loop {
                let ids = console
                    .retries
                    .lock()
                    .ok()
                    .and_then(|r| r.get(&scope.name).map(|b| (b.at, b.ids.clone())));
                let store = &scope.session.store;
                let counts = match &ids {
                    Some((_, ids)) => store.state_counts(ids.clone()).await.ok(),
                    None => None,
                };
                let failed = store.failed_summary().await.ok();
                let now = format!("{:?}", (ids.map(|(at, _)| at), counts, failed));
                if last.as_ref() != Some(&now) {
                    let ev = Event::default().event("changed").data("1");
                    return Some((ev, (scope, Some(now))));
                }
                tokio::time::sleep(LIVE_EVERY).await;
            }
        }
    });
    super::activity::bounded(&state, &op, s).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(pending: i64, done: i64, ignored: i64, failed: i64) -> StateCounts {
        StateCounts {
            pending,
            done,
            ignored,
            failed,
        }
    }

    #[test]
    fn failed_again_is_said_only_when_some_failed_again() {
        let o = Outcome::new(3, counts(0, 3, 0, 0), 0);
        assert_eq!((o.words(), o.class()), ("all delivered".into(), "ok"));
        let o = Outcome::new(3, counts(0, 2, 0, 1), 1);
        assert_eq!(o.words(), "2 delivered; 1 failed again, listed below");
        let o = Outcome::new(1, counts(1, 0, 0, 0), 0);
        assert_eq!((o.words(), o.class()), ("still retrying…".into(), "warn"));
        let o = Outcome::new(1, counts(0, 0, 0, 1), 1);
        assert_eq!(
            (o.words(), o.class()),
            ("failed again, listed below".into(), "bad")
        );
    }

    #[test]
    fn the_newer_list_wins_over_the_older_counts() {
        // Counted as retrying, failed by the time the list was read: failed, not retrying.
        let o = Outcome::new(2, counts(2, 0, 0, 0), 1);
        assert_eq!(o.words(), "1 still retrying…; 1 failed again, listed below");
        // More failed than the list shows (it holds the newest 200).
        let o = Outcome::new(5, counts(0, 0, 0, 5), 2);
        assert_eq!(o.words(), "5 failed again (2 of them listed below)");
        // Removed by retention meanwhile.
        let o = Outcome::new(2, counts(0, 1, 0, 0), 0);
        assert_eq!(o.words(), "1 delivered; 1 no longer in the store");
    }
}
