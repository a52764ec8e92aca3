//! Zalo's 2026 reply window through both simulators: replies are free within 48 h of the
//! customer's last interaction (no note), billed from 48 h to 7 days (one dated note), refused after
//! 7 days (a note naming when the window closed); the console shows each customer's window; the
//! resolve notice goes out only for agents' resolutions inside the free window.
//!
//! A customer's interaction "days ago" is made by rewinding the Zalo simulator's clock while they
//! write: the event carries that time, as a late delivery would, and both the simulator and the
//! daemon then judge the window from it.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use zfsync::tools::sandbox::{wait_for, Env};
use zfsync_freshchat::MessagePart;
use zfsync_mappings::window::OPEN_MS;
use zfsync_mappings::{display_time, Rules};
use zfsync_zalo::sim::UserAction;

use crate::helpers::*;

const DAY: Duration = Duration::from_secs(24 * 3600);

/// A customer who last wrote `ago` before now: returns their conversation and that time (unix ms).
async fn customer_wrote_ago(env: &Env, user: &str, ago: Duration) -> (String, i64) {
    add_user(env, user, "Lan");
    env.zalo.rewind_clock(ago);
    env.zalo
        .user_sends(user, UserAction::Text("cho em hỏi".into()))
        .await;
    env.zalo.advance_clock(ago);
    customer_messages(env, user, 1).await;
    let last = env.zalo.quota(user).unwrap().last_interaction_ms.unwrap();
    (conversation(env, user).unwrap(), last)
}

async fn agent_replies(env: &Env, conv: &str, n: usize) {
    for i in 0..n {
        env.agent_says(
            conv,
            &env.freshchat.default_agent_id(),
            &[MessagePart::text(format!("trả lời {i}"))],
        )
        .await
        .unwrap();
    }
}

/// Waits until `n` Freshchat events named `action` ended in `state` (done, ignored, failed).
async fn freshchat_events(env: &Env, action: &str, state: EventState, n: usize) {
    let query = InboxQuery::in_state(state)
        .from(Source::Freshchat)
        .named(action);
    let got = wait_for(WAIT, || async {
        (inbox(env, query.clone()).await.len() >= n).then_some(())
    })
    .await;
    assert!(got.is_some(), "expected {n} {action} events {state:?}");
}

/// The private notes in a conversation now.
fn notes_now(env: &Env, user: &str) -> Vec<String> {
    let conv = conversation(env, user).unwrap();
    env.fc_messages(&conv)
        .into_iter()
        .filter(|m| m.is_private_note())
        .map(|m| texts(&m).join("\n"))
        .collect()
}

/// The customer's row of the console's reply-window table.
fn window_row(activity: &str, user: &str) -> String {
    let at = activity
        .find(&format!("data-zalo-user=\"{user}\""))
        .unwrap_or_else(|| panic!("no reply-window row for {user}: {activity}"));
    activity[at..].split("</tr>").next().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn free_for_48_hours_then_one_dated_billed_note_then_refused_with_the_close_date() {
    let env = env().await;
    let texts = Rules::default().window_texts();

    // Within 48 h: any number of free replies, and nothing said.
    let fresh = "5234000000000000601";
    let conv = start_conversation(&env, fresh).await;
    agent_replies(&env, &conv, 10).await;
    let sent = zalo_sent(&env, fresh, 10).await;
    assert!(
        sent.iter()
            .all(|s| s.quota.as_ref().is_some_and(|q| q["quota_type"] == "reply")),
        "{sent:?}"
    );
    freshchat_events(&env, "message_create", EventState::Done, 10).await;
    assert_eq!(notes_now(&env, fresh), Vec::<String>::new());

    // Three days after the customer wrote: billed; exactly one note, naming when Zalo stops.
    let late = "5234000000000000603";
    let (conv, last) = customer_wrote_ago(&env, late, 3 * DAY).await;
    agent_replies(&env, &conv, 3).await;
    let sent = zalo_sent(&env, late, 3).await;
    assert!(sent.iter().all(|s| s.quota.is_none()), "billed: {sent:?}");
    freshchat_events(&env, "message_create", EventState::Done, 13).await;
    let billed = notes_now(&env, late);
    let closes = display_time(last + OPEN_MS);
    let billed_head = texts.billed_note.split("{date}").next().unwrap();
    assert_eq!(billed.len(), 1, "{billed:?}");
    assert!(billed[0].starts_with(billed_head), "{billed:?}");
    assert!(
        billed[0].contains(&closes),
        "{billed:?} should name {closes}"
    );

    // Eight days after: Zalo refuses (-230); the note names when the window closed.
    let gone = "5234000000000000608";
    let (conv, last) = customer_wrote_ago(&env, gone, 8 * DAY).await;
    agent_replies(&env, &conv, 1).await;
    freshchat_events(&env, "message_create", EventState::Failed, 1).await;
    assert!(env.zalo.sent_to(gone).is_empty());
    let refused = notes(&env, gone, 1).await;
    let closed = display_time(last + OPEN_MS);
    assert!(refused[0].contains("-230"), "{refused:?}");
    assert!(
        refused[0].contains(&closed),
        "{refused:?} should name {closed}"
    );

    // The console: each customer's window, and no "7 of 8" where Zalo gave no count.
    let activity = operator_page(&env, "/console/activity").await;
    assert!(
        activity.contains("lower bound"),
        "the page says the window is a lower bound"
    );
    let row = window_row(&activity, fresh);
    assert!(
        row.contains("data-window=\"free\"") && row.contains("free until"),
        "{row}"
    );
    assert!(!row.contains(" of 8"), "{row}");
    let row = window_row(&activity, late);
    assert!(
        row.contains("data-window=\"billed\"") && row.contains("billed until"),
        "{row}"
    );
    let row = window_row(&activity, gone);
    assert!(
        row.contains("data-window=\"closed\"") && row.contains("closed since"),
        "{row}"
    );

    // Metrics and status: one customer whose replies are billed now (the closed one is not).
    let metrics = reqwest::get(format!("{}/metrics", env.daemon_url()))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    // The gauge is set from this daemon's store as /metrics is read, but the recorder is the
    // process's (other tests' daemons share it), so its figure is checked through `status`.
    assert!(
        metrics.contains("zfsync_zalo_customers_in_billed_window"),
        "{metrics}"
    );
    let status = zfsync_json(&env, &["status"]).await;
    assert_eq!(status["zalo_customers_in_billed_window"], 1, "{status}");

    // The late customer writes again: a new free window, silently.
    env.zalo
        .user_sends(late, UserAction::Text("em cảm ơn".into()))
        .await;
    customer_messages(&env, late, 2).await;
    agent_replies(&env, &conv_of(&env, late), 1).await;
    let sent = zalo_sent(&env, late, 4).await;
    assert_eq!(sent[3].quota.as_ref().unwrap()["quota_type"], "reply");
    freshchat_events(&env, "message_create", EventState::Done, 14).await;
    assert_eq!(notes_now(&env, late).len(), 1);
}

fn conv_of(env: &Env, user: &str) -> String {
    conversation(env, user).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_resolve_notice_goes_out_for_agents_inside_the_free_window_only() {
    let env = env().await;
    let agent = env.freshchat.default_agent_id();
    let notice = Rules::default()
        .freshchat_to_zalo
        .text(zfsync_mappings::rules::CustomerText::ResolveNotice)
        .to_string();

    // Freshchat resolves a quiet conversation by itself: no notice.
    let quiet = "5234000000000000701";
    let conv = start_conversation(&env, quiet).await;
    env.freshchat.resolve_by_system(&conv).await.unwrap();
    freshchat_events(&env, "conversation_resolution", EventState::Ignored, 1).await;

    // An agent resolves inside the free window: the notice reaches the customer.
    let helped = "5234000000000000702";
    let conv = start_conversation(&env, helped).await;
    env.freshchat.resolve(&conv, &agent).await.unwrap();
    let sent = zalo_sent(&env, helped, 1).await;
    assert_eq!(zalo_text(&sent[0]).as_deref(), Some(notice.as_str()));

    // An agent resolves three days after the customer wrote: not sent (it would be billed); a
    // private note says so, and until when replies were free.
    let late = "5234000000000000703";
    let (conv, last) = customer_wrote_ago(&env, late, 3 * DAY).await;
    env.freshchat.resolve(&conv, &agent).await.unwrap();
    let held_notes = notes(&env, late, 1).await;
    let held = Rules::default().window_texts().resolve_held_billed_note;
    let head = held.split("{date}").next().unwrap();
    let free_until = display_time(last + zfsync_mappings::window::FREE_MS);
    assert!(held_notes[0].starts_with(head), "{held_notes:?}");
    assert!(
        held_notes[0].contains(&free_until),
        "{held_notes:?} should name {free_until}"
    );
    freshchat_events(&env, "conversation_resolution", EventState::Done, 2).await;
    assert!(env.zalo.sent_to(late).is_empty(), "nothing reached Zalo");
    assert!(env.zalo.sent_to(quiet).is_empty(), "nothing reached Zalo");
}
