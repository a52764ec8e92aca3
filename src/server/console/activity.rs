//! The Activity page: recent synced messages, newest first, filterable by customer; new ones appear
//! live; below them what each customer's last reply cost (see `quota`). No message body is shown
//! anywhere: those are the customer's data. The Failed page is `failed`.
//!
//! Live parts are server-sent events; without JavaScript the pages still work (reload to update).
//! Failure: a store error is shown in place of the table.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::{header, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use futures::stream::{self, Stream, StreamExt};
use maud::{html, Markup};
use serde::Deserialize;

use super::{ago, layout, utc, Nav, Scope};
use crate::server::auth::Operator;
use crate::server::AppState;
use crate::store::{ActivityRow, Direction};

/// Rows on the Activity page.
const ACTIVITY_ROWS: usize = 100;
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

/// The table's rows; when there are none, why: nothing synced yet, or nothing matching the filter
/// (with the way back to every message).
fn rows(list: &[ActivityRow], customer: Option<&str>, show_all: &str) -> Markup {
    html! {
        @if list.is_empty() {
            tr { td colspan="7" class="muted" id="activity-none" {
                @match customer {
                    Some(c) => { "No synced message matches “" (c) "”. " a href=(show_all) { "Show all messages" } },
                    None => "No synced messages yet.",
                }
            } }
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

/// `GET /console/activity`.
pub async fn activity(
    Extension(op): Extension<Operator>,
    scope: Scope,
    Query(q): Query<ActivityQuery>,
) -> Response {
    let customer = q.customer.clone().filter(|c| !c.trim().is_empty());
    let show_all = scope.link("/console/activity");
    let list = scope
        .session
        .store
        .activity(customer.clone(), ACTIVITY_ROWS)
        .await;
    if q.fragment.is_some() {
        return match list {
            Ok(l) => (
                [(header::CACHE_CONTROL, "no-store")],
                rows(&l, customer.as_deref(), &show_all).into_string(),
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
            @if customer.is_some() { a class="button secondary" href=(show_all) { "Show all" } }
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
                    tbody id="activity-rows" data-live="/console/live/activity" aria-live="polite" { (rows(l, customer.as_deref(), &show_all)) }
                }
            },
            Err(e) => p class="bad" { "Cannot read the activity: " (e.to_string()) },
        }
        (super::quota::quota_section(&quota, customer.as_deref()))
        script src=(super::LIVE_SCRIPT) defer {}
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
