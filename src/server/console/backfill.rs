//! The Backfill page: start a backfill of the last N days of Zalo history (one at a time) and watch
//! its progress bar fill, live (server-sent events), as `zfsync backfill` shows it in a terminal.
//!
//! Failure: a run that stops (Zalo not connected, history unreadable) shows its reason on the page.

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::sse::Event;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Form};
use futures::stream::{self, StreamExt};
use maud::html;
use serde::Deserialize;

use super::{csrf_field, layout, Nav, Scope};
use crate::ingest::backfill::{Phase, Progress, DEFAULT_DAYS, MAX_DAYS};
use crate::server::auth::Operator;
use crate::server::AppState;

/// The Backfill page's live progress (served by [`super::assets`]). Before any run there is
/// nothing to show: the page's own words stay.
pub(super) const BACKFILL_JS: &str = r#"
(function(){
  if(!window.EventSource) return;
  var bar=document.getElementById('backfill-bar'), text=document.getElementById('backfill-status');
  var start=document.getElementById('start-backfill');
  var es=new EventSource('/console/live/backfill');
  es.addEventListener('progress',function(e){
    var p=JSON.parse(e.data);
    text.setAttribute('data-phase',p.phase);
    if(p.phase==='idle') return;
    if(start) start.disabled=(p.phase==='listing'||p.phase==='reading');
    bar.hidden=false; bar.value=p.percent; bar.textContent=p.percent+' %';
    text.textContent=p.status;
    text.className=p.phase==='failed'?'bad':(p.phase==='done'?'ok':'');
  });
})();
"#;

/// "1 conversation", "3 conversations".
fn count(n: usize, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

/// "the last day", "the last 7 days".
fn last_days(days: u32) -> String {
    if days == 1 {
        "the last day".into()
    } else {
        format!("the last {days} days")
    }
}

/// A run's progress in words, for the page and its live update. Never called before a run: the
/// page says plainly that none ran (no "0 of 0").
fn status(p: &Progress) -> String {
    let skipped = if p.failed_conversations > 0 {
        format!(
            "; {} could not be read (run it again later)",
            count(p.failed_conversations, "conversation", "conversations")
        )
    } else {
        String::new()
    };
    let found = |what: &str| {
        format!(
            "{} {what}: {} queued for delivery, {} already in Freshchat",
            count(p.messages, "message", "messages"),
            p.queued,
            p.already_known
        )
    };
    match p.phase {
        Phase::Idle => "No backfill has run since the daemon started.".into(),
        Phase::Listing => format!("Finding the conversations of {}…", last_days(p.days)),
        Phase::Reading => format!(
            "{} % · {} of {} read; {}{skipped}",
            p.percent(),
            p.conversations_done,
            count(p.conversations, "conversation", "conversations"),
            found("so far")
        ),
        Phase::Done if p.conversations == 0 => format!(
            "Done: Zalo has no conversation of {}, so there was nothing to bring in.",
            last_days(p.days)
        ),
        Phase::Done => format!(
            "Done: {} of {} read; {}{skipped}.",
            count(p.conversations, "conversation", "conversations"),
            last_days(p.days),
            found("found")
        ),
        Phase::Failed if p.conversations_done > 0 => format!(
            "Backfill stopped after {} of {}: {}. {} queued before it stopped.",
            p.conversations_done,
            count(p.conversations, "conversation", "conversations"),
            p.error.as_deref().unwrap_or("unknown error"),
            count(p.queued, "message", "messages")
        ),
        Phase::Failed => format!(
            "Backfill stopped: {}.",
            p.error.as_deref().unwrap_or("unknown error")
        ),
    }
}

fn progress_json(p: &Progress) -> String {
    serde_json::json!({
        "phase": p.phase,
        "percent": p.percent(),
        "status": status(p),
        "progress": p,
    })
    .to_string()
}

/// `GET /console/backfill`.
pub async fn page(
    State(state): State<AppState>,
    Extension(op): Extension<Operator>,
    scope: Scope,
) -> Response {
    if !scope.is_default() {
        let body = html! {
            p id="backfill-elsewhere" {
                "Backfill from the console runs for the pairing " code { (crate::config::DEFAULT_PAIRING) } ". For "
                (scope.name) ", run " code { "zfsync backfill --config FILE --pairing " (scope.name) } " on the server; the daemon delivers what it queues."
            }
        };
        return layout("Backfill", Nav::Backfill, &op, &scope, body);
    }
    let p = state.console.backfill_progress.borrow().clone();
    let running = matches!(p.phase, Phase::Listing | Phase::Reading);
    let body = html! {
        p { "Brings the last days of the OA's Zalo conversations into Freshchat: customers' messages as the customer, the OA's own as private notes, each with its original time. Messages already in Freshchat are not added again." }
        form method="post" action="/console/backfill" class="row" {
            (csrf_field(&op))
            div {
                label for="days" { "Days of history (1–" (MAX_DAYS) ")" }
                input id="days" name="days" type="number" min="1" max=(MAX_DAYS) value=(DEFAULT_DAYS) required;
            }
            button type="submit" id="start-backfill" disabled[running] { "Start backfill" }
        }
        section class="card mt1" aria-labelledby="bf-h" {
            h2 id="bf-h" { "Progress" }
            @if p.phase == Phase::Idle {
                p id="backfill-status" role="status" {
                    "No backfill has run since the daemon started. To start one, choose how many days of history to read above and press "
                    strong { "Start backfill" } " (or run " code { "zfsync backfill --config FILE --days N" } " on the server)."
                }
                progress id="backfill-bar" max="100" value="0" aria-labelledby="bf-h" hidden { "0 %" }
            } @else {
                p id="backfill-status" role="status" class=(match p.phase { Phase::Failed => "bad", Phase::Done => "ok", _ => "" }) {
                    (status(&p))
                }
                progress id="backfill-bar" max="100" value=(p.percent()) aria-labelledby="bf-h" { (p.percent()) " %" }
            }
        }
        script src=(super::BACKFILL_SCRIPT) defer {}
    };
    layout("Backfill", Nav::Backfill, &op, &scope, body)
}

/// The backfill form: how many days back.
#[derive(Debug, Deserialize)]
pub struct StartForm {
    days: Option<u32>,
}

/// `POST /console/backfill`: starts a backfill in the daemon (unless one is running).
pub async fn start(State(state): State<AppState>, Form(form): Form<StartForm>) -> Response {
    let days = form.days.unwrap_or(DEFAULT_DAYS).clamp(1, MAX_DAYS);
    let console = state.console.clone();
    let running = matches!(
        console.backfill_progress.borrow().phase,
        Phase::Listing | Phase::Reading
    );
    if !running {
        // Marked as started before the task runs, so a second click cannot start another.
        console.backfill_progress.send_replace(Progress {
            phase: Phase::Listing,
            days,
            ..Progress::default()
        });
        tracing::info!(days, "backfill started from the console");
        tokio::spawn(async move {
            if let Err(e) = console.backfill.run(days, &console.backfill_progress).await {
                tracing::warn!(error = %e, "backfill from the console stopped");
            }
        });
    }
    (
        StatusCode::SEE_OTHER,
        [(header::LOCATION, "/console/backfill")],
    )
        .into_response()
}

/// `GET /console/live/backfill`: the progress, whenever it changes.
pub async fn live(State(state): State<AppState>, Extension(op): Extension<Operator>) -> Response {
    // The current value first, then every change, until the sender is gone.
    let rx = state.console.backfill_progress.subscribe();
    let s = stream::unfold((rx, true), |(mut rx, first)| async move {
        if !first && rx.changed().await.is_err() {
            return None;
        }
        let p = rx.borrow_and_update().clone();
        Some((p, (rx, false)))
    })
    .map(|p| Event::default().event("progress").data(progress_json(&p)));
    super::activity::bounded(&state, &op, s).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_zeros_read_as_a_result() {
        let listing = Progress {
            phase: Phase::Listing,
            days: 7,
            ..Progress::default()
        };
        assert_eq!(
            status(&listing),
            "Finding the conversations of the last 7 days…"
        );
        let empty = Progress {
            phase: Phase::Done,
            ..listing.clone()
        };
        assert_eq!(
            status(&empty),
            "Done: Zalo has no conversation of the last 7 days, so there was nothing to bring in."
        );
        let done = Progress {
            phase: Phase::Done,
            days: 1,
            conversations: 1,
            conversations_done: 1,
            messages: 3,
            queued: 2,
            already_known: 1,
            ..Progress::default()
        };
        assert_eq!(
            status(&done),
            "Done: 1 conversation of the last day read; 3 messages found: 2 queued for delivery, 1 already in Freshchat."
        );
        let stopped = Progress {
            phase: Phase::Failed,
            error: Some("Zalo is not connected".into()),
            ..listing
        };
        assert_eq!(status(&stopped), "Backfill stopped: Zalo is not connected.");
    }
}
