//! The Activity page (recent synced messages, newest first, filterable by customer; new ones appear
//! live; below them what each customer's last reply cost, see `quota`) and the Failed page (failed events with class and reason, Retry one or all, the outcome
//! shown live). No message body is shown anywhere: those are the customer's data.
//!
//! Live parts are server-sent events; without JavaScript the pages still work (reload to update).
//! Failure: a store error is shown in place of the table.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::{header, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Form};
use futures::stream::{self, Stream, StreamExt};
use maud::{html, Markup};
use serde::Deserialize;

use super::{ago, csrf_field, layout, utc, Nav, Scope};
use crate::server::auth::Operator;
use crate::server::AppState;
use crate::store::{ActivityRow, Direction, EventState};

/// Rows on the Activity page.
const ACTIVITY_ROWS: usize = 100;
/// Failed events listed.
const FAILED_ROWS: usize = 200;
/// Retried events whose outcome is followed.
const RETRIED_KEPT: usize = 50;
/// How often live streams look at the store.
const LIVE_EVERY: Duration = Duration::from_millis(500);
/// A live stream ends after this (the browser reconnects by itself).
const LIVE_FOR: Duration = Duration::from_secs(300);

/// The Activity page's query: one customer's events, or the table rows alone.
#[derive(Debug, Deserialize)]
pub struct ActivityQuery {
    customer: Option<String>,
    /// Only the table rows (the live update fetches these).
    fragment: Option<String>,
}

fn kind(event: &str) -> String {
    event
        .strip_prefix("user_send_")
        .or_else(|| event.strip_prefix("oa_send_"))
        .map(str::to_string)
        .unwrap_or_else(|| match event {
            "message_create" => "agent message".into(),
            other => other.to_string(),
        })
}

fn rows(list: &[ActivityRow]) -> Markup {
    html! {
        @if list.is_empty() {
            tr { td colspan="7" class="muted" { "No synced messages yet." } }
        }
        @for r in list {
            tr data-inbox-id=(r.inbox_id) {
                td { (utc(r.finished_at)) br; span class="muted" { (ago(Some(r.finished_at))) } }
                td { (match r.direction { Direction::ToFreshchat => "Zalo → Freshchat", Direction::ToZalo => "Freshchat → Zalo" }) }
                td class="customer" { (r.display_name.clone().unwrap_or_else(|| "(unknown)".into())) br; span class="muted id" { (r.zalo_user_id) } }
                td { (kind(&r.event_name)) }
                td class="id" { (r.zalo_msg_ids.join(" ")) }
                td class="id" { (r.freshchat_message_id.clone().unwrap_or_default()) }
                td { (r.latency_ms()) " ms" }
            }
        }
    }
}

/// The Activity page's live update (served by [`super::assets`]).
pub(super) const ACTIVITY_JS: &str = r#"
(function(){
  if(!window.EventSource) return;
  var body=document.getElementById('activity-rows');
  var m=location.search.match(/[?&](pairing=[^&]*)/);
  var es=new EventSource('/console/live/activity'+(m?'?'+m[1]:''));
  es.addEventListener('changed',function(){
    var u=new URL(location.href); u.searchParams.set('fragment','1');
    fetch(u,{credentials:'same-origin'}).then(function(r){return r.ok?r.text():null}).then(function(t){if(t!==null){body.innerHTML=t;}});
  });
})();
"#;

/// `GET /console/activity`.
pub async fn activity(
    Extension(op): Extension<Operator>,
    scope: Scope,
    Query(q): Query<ActivityQuery>,
) -> Response {
    let customer = q.customer.clone().filter(|c| !c.trim().is_empty());
    let list = scope
        .session
        .store
        .activity(customer.clone(), ACTIVITY_ROWS)
        .await;
    if q.fragment.is_some() {
        return match list {
            Ok(l) => (
                [(header::CACHE_CONTROL, "no-store")],
                rows(&l).into_string(),
            )
                .into_response(),
            Err(e) => (StatusCode::SERVICE_UNAVAILABLE, e.to_string()).into_response(),
        };
    }
    let quota = scope
        .session
        .store
        .quota_states(customer.clone(), super::quota::QUOTA_ROWS)
        .await;
    let body = html! {
        form method="get" action="/console/activity" class="row" role="search" {
            @if !scope.is_default() { input type="hidden" name="pairing" value=(scope.name); }
            div {
                label for="customer" { "Customer (name or Zalo user id)" }
                input id="customer" name="customer" type="search" value=(customer.clone().unwrap_or_default());
            }
            button type="submit" { "Filter" }
            @if customer.is_some() { a class="button secondary" href="/console/activity" { "Show all" } }
        }
        p class="muted" { "Newest first. Message text is not shown: it belongs to the customer. New messages appear here as they are synced." }
        @match &list {
            Ok(l) => div class="scroll" {
                table {
                    caption class="skip" { "Synced messages" }
                    thead { tr {
                        th scope="col" { "Synced" } th scope="col" { "Direction" } th scope="col" { "Customer" }
                        th scope="col" { "Kind" } th scope="col" { "Zalo id" } th scope="col" { "Freshchat id" } th scope="col" { "Latency" }
                    } }
                    tbody id="activity-rows" aria-live="polite" { (rows(l)) }
                }
            },
            Err(e) => p class="bad" { "Cannot read the activity: " (e.to_string()) },
        }
        (super::quota::quota_section(&quota))
        script src=(super::ACTIVITY_SCRIPT) defer {}
    };
    layout("Activity", Nav::Activity, &op, &scope, body)
}

/// A stream that ends when the daemon stops, when the operator's session ends (sign-out or
/// expiry), or after [`LIVE_FOR`].
pub(super) fn bounded<S>(
    state: &AppState,
    op: &Operator,
    s: S,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>>
where
    S: Stream<Item = Event> + Send + 'static,
{
    let stop = state.console.stop.clone();
    let session_ended = op.ended();
    let s = s
        .take_until(async move {
            tokio::select! {
                _ = stop.cancelled() => {}
                _ = session_ended => {}
                _ = tokio::time::sleep(LIVE_FOR) => {}
            }
        })
        .map(Ok);
    Sse::new(s).keep_alive(KeepAlive::default())
}

/// `GET /console/live/activity`: a `changed` event whenever a newer message is synced.
pub async fn live_activity(
    State(state): State<AppState>,
    Extension(op): Extension<Operator>,
    scope: Scope,
) -> Response {
    let store = scope.session.store.clone();
    let s = stream::unfold((store, None::<(i64, i64)>), |(store, last)| async move {
        loop {
            let newest = store
                .activity(None, 1)
                .await
                .ok()
                .and_then(|l| l.first().map(|r| (r.finished_at, r.inbox_id)));
            if newest != last && last.is_some() || (last.is_none() && newest.is_some()) {
                let ev = Event::default().event("changed").data("1");
                return Some((ev, (store, newest)));
            }
            tokio::time::sleep(LIVE_EVERY).await;
        }
    });
    bounded(&state, &op, s).into_response()
}

/// The Failed page's live outcomes (served by [`super::assets`]).
pub(super) const FAILED_JS: &str = r#"
(function(){
  if(!window.EventSource) return;
  var cells=document.querySelectorAll('[data-event-state]');
  if(!cells.length) return;
  var ids=[].map.call(cells,function(c){return c.getAttribute('data-event-state')}).join(',');
  var es=new EventSource('/console/live/events?ids='+ids);
  es.addEventListener('states',function(e){
    JSON.parse(e.data).forEach(function(s){
      var c=document.querySelector('[data-event-state="'+s.id+'"]');
      if(!c) return;
      c.textContent=s.label; c.className=s.class;
    });
  });
})();
"#;

fn state_label(s: EventState) -> (&'static str, &'static str) {
    match s {
        EventState::Pending => ("retrying…", "warn"),
        EventState::Done => ("delivered", "ok"),
        EventState::Ignored => ("nothing to do", "ok"),
        EventState::Failed => ("failed again", "bad"),
    }
}

/// `GET /console/failed`.
pub async fn failed(
    State(state): State<AppState>,
    Extension(op): Extension<Operator>,
    scope: Scope,
) -> Response {
    let failed = scope.session.store.failed_events(FAILED_ROWS).await;
    let retry_action = scope.link("/console/failed/retry");
    let retried: Vec<i64> = state
        .console
        .retried
        .lock()
        .map(|r| r.iter().copied().collect())
        .unwrap_or_default();
    let retried_states = scope
        .session
        .store
        .event_states(retried)
        .await
        .unwrap_or_default();
    let body = html! {
        @if !retried_states.is_empty() {
            section class="card mb1" aria-labelledby="retried-h" {
                h2 id="retried-h" { "Retried" }
                div class="scroll" { table {
                    thead { tr { th scope="col" { "Event" } th scope="col" { "Outcome" } th scope="col" { "Why it failed" } } }
                    tbody {
                        @for (id, st, err) in &retried_states {
                            @let (label, class) = state_label(*st);
                            tr { td { "#" (id) } td { span data-event-state=(id) class=(class) aria-live="polite" { (label) } } td { (err.clone().unwrap_or_default()) } }
                        }
                    }
                } }
            }
        }
        @match &failed {
            Ok(list) if list.is_empty() => p id="no-failed" class="ok" { "No failed events." },
            Ok(list) => {
                form method="post" action=(retry_action) {
                    (csrf_field(&op))
                    button type="submit" id="retry-all" { "Retry all (" (list.len()) ")" }
                }
                div class="scroll" { table {
                    caption class="skip" { "Failed events" }
                    thead { tr {
                        th scope="col" { "Event" } th scope="col" { "Received" } th scope="col" { "Direction" }
                        th scope="col" { "Class" } th scope="col" { "Reason" } th scope="col" { "Attempts" } th scope="col" { span class="skip" { "Action" } }
                    } }
                    tbody {
                        @for f in list {
                            tr {
                                td { "#" (f.id) br; span class="muted" { (f.event_name) } }
                                td { (utc(f.received_at)) }
                                td { (match f.source.direction() { Direction::ToFreshchat => "Zalo → Freshchat", Direction::ToZalo => "Freshchat → Zalo" }) }
                                td { (f.error_class.clone().unwrap_or_default()) }
                                td { (f.last_error.clone().unwrap_or_default()) }
                                td { (f.attempts) }
                                td {
                                    form method="post" action=(retry_action) class="inline" {
                                        (csrf_field(&op))
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
        script src=(super::FAILED_SCRIPT) defer {}
    };
    layout("Failed", Nav::Failed, &op, &scope, body)
}

/// The retry button's form.
#[derive(Debug, Deserialize)]
pub struct RetryForm {
    /// One event; every failed event when absent.
    id: Option<i64>,
}

/// `POST /console/failed/retry`: puts one failed event (or all) back in its lane.
pub async fn retry(
    State(state): State<AppState>,
    scope: Scope,
    Form(form): Form<RetryForm>,
) -> Response {
    let store = &scope.session.store;
    let events: Vec<(i64, crate::store::Lane)> = match form.id {
        Some(id) => store
            .inbox_event(id)
            .await
            .ok()
            .flatten()
            .map(|r| vec![(r.id, r.lane)])
            .unwrap_or_default(),
        None => store
            .failed_events(FAILED_ROWS)
            .await
            .map(|l| l.into_iter().map(|f| (f.id, f.lane)).collect())
            .unwrap_or_default(),
    };
    let replayed = match form.id {
        Some(id) => store.replay_failed(Some(id)).await,
        None => store.replay_failed(None).await,
    };
    match replayed {
        Ok(n) => {
            tracing::info!(events = n, "failed events retried from the console");
            if let Ok(mut r) = state.console.retried.lock() {
                for (id, _) in &events {
                    r.retain(|x| x != id);
                    r.push_front(*id);
                }
                r.truncate(RETRIED_KEPT);
            }
            for (_, lane) in &events {
                scope.session.lanes.release(lane);
            }
            (
                StatusCode::SEE_OTHER,
                [(header::LOCATION, scope.link("/console/failed"))],
            )
                .into_response()
        }
        Err(e) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("cannot retry: {e}"),
        )
            .into_response(),
    }
}

/// The events a page follows live.
#[derive(Debug, Deserialize)]
pub struct IdsQuery {
    ids: Option<String>,
}

/// `GET /console/live/events?ids=1,2`: the states of those events, whenever they change.
pub async fn live_events(
    State(state): State<AppState>,
    Extension(op): Extension<Operator>,
    Query(q): Query<IdsQuery>,
) -> Response {
    let ids: Vec<i64> = q
        .ids
        .unwrap_or_default()
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .take(RETRIED_KEPT)
        .collect();
    let store = state.store.clone();
    let s = stream::unfold(
        (store, ids, String::new()),
        |(store, ids, last)| async move {
            loop {
                let states = store.event_states(ids.clone()).await.unwrap_or_default();
                let json = serde_json::Value::Array(
                states
                    .iter()
                    .map(|(id, st, _)| {
                        let (label, class) = state_label(*st);
                        serde_json::json!({ "id": id, "state": st.as_str(), "label": label, "class": class })
                    })
                    .collect(),
            )
            .to_string();
                if json != last {
                    let ev = Event::default().event("states").data(json.clone());
                    return Some((ev, (store, ids, json)));
                }
                tokio::time::sleep(LIVE_EVERY).await;
            }
        },
    );
    bounded(&state, &op, s).into_response()
}
