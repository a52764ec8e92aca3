//! What the console's pages say, over HTTP against the running daemon, with an empty store and a
//! busy one: the Failed page's line about a retry agrees with its list, the idle Backfill page
//! says that nothing ran (never "0 of 0"), an Activity filter that matches nothing says so, and
//! the Overview's charts have a title, labelled axes with ticks and a text alternative.
#![allow(clippy::unwrap_used)]

use futures::StreamExt;
use reqwest::redirect::Policy;
use zfsync::tools::sandbox::{wait_for, Env};
use zfsync_freshchat::MessagePart;
use zfsync_zalo::sim::{Fault, UserAction};

use crate::helpers::*;
use crate::tamper;

const CUSTOMER: &str = "5234000000000000901";
const OLD_CUSTOMER: &str = "5234000000000000902";

/// Zalo refuses the next agent reply for good (-320, a paid feature), so its event ends failed.
pub(crate) fn refuse_next_reply(env: &Env) {
    env.zalo.fail_next(
        "/v3.0/oa/message/cs",
        1,
        Fault::Api {
            code: -320,
            message: "Your app needs to connect with Zalo Cloud Account to use paid features"
                .into(),
        },
    );
}

/// An agent reply to `customer` that Zalo refuses for good; returns its event's id once failed.
pub(crate) async fn failed_reply(env: &Env, customer: &str, text: &str) -> i64 {
    refuse_next_reply(env);
    let conv = conversation(env, customer).unwrap();
    env.agent_says(
        &conv,
        &env.freshchat.default_agent_id(),
        &[MessagePart::Text {
            content: text.into(),
        }],
    )
    .await
    .unwrap();
    wait_for(WAIT, || async {
        let failed = inbox(env, InboxQuery::in_state(EventState::Failed)).await;
        (failed.len() == 1).then(|| failed[0].id)
    })
    .await
    .expect("the reply fails")
}

/// A form posted as the operator (Bearer: no CSRF field needed); returns the status.
async fn post(env: &Env, path: &str, form: &[(&str, String)]) -> u16 {
    reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .unwrap()
        .post(format!("{}{path}", env.daemon_url()))
        .bearer_auth(&env.admin_token)
        .form(form)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// The Failed page once `ok` accepts it; every page fetched meanwhile must not contradict itself.
async fn failed_page_when(env: &Env, id: i64, ok: impl Fn(&str) -> bool) -> String {
    let got = wait_for(WAIT, || async {
        let page = operator_page(env, "/console/failed").await;
        assert!(
            !(page.contains("failed again") && page.contains("No failed events")),
            "the line and the list disagree: {page}"
        );
        if page.contains("failed again") {
            assert!(
                page.contains(&format!("id=\"retry-{id}\"")),
                "said to have failed again, but not listed: {page}"
            );
        }
        ok(&page).then_some(page)
    })
    .await;
    got.unwrap_or_else(|| panic!("the Failed page never showed what was expected"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_failed_page_says_what_a_retry_did_and_lists_what_failed_again() {
    let env = env().await;
    start_conversation(&env, CUSTOMER).await;
    let id = failed_reply(&env, CUSTOMER, "Đơn hàng đã được gửi").await;
    let page = operator_page(&env, "/console/failed").await;
    assert!(page.contains(&format!("id=\"retry-{id}\"")), "{page}");
    assert!(!page.contains("replayed"), "no retry yet: {page}");

    // The live stream says "changed" at once, and again when the retry moves the event.
    let live = reqwest::Client::new()
        .get(format!("{}/console/live/failed", env.daemon_url()))
        .bearer_auth(&env.admin_token)
        .send()
        .await
        .unwrap();
    assert_eq!(live.status(), 200);
    let mut live = live.bytes_stream();
    let first = live.next().await.unwrap().unwrap();
    assert!(String::from_utf8_lossy(&first).contains("event: changed"));

    // Retried while Zalo still refuses it: the line says it failed again, and the list has it.
    refuse_next_reply(&env);
    assert_eq!(
        post(&env, "/console/failed/retry", &[("id", id.to_string())]).await,
        303
    );
    let next = tokio::time::timeout(WAIT, live.next()).await.unwrap();
    assert!(String::from_utf8_lossy(&next.unwrap().unwrap()).contains("event: changed"));
    let page = failed_page_when(&env, id, |p| p.contains("failed again")).await;
    assert!(
        page.contains(&format!("Event #{id} replayed"))
            && page.contains("failed again, listed below.")
            && page.contains("failed again after the retry"),
        "{page}"
    );
    assert!(!page.contains("No failed events"), "{page}");
    // The part the live update fetches says the same, line and list together.
    let fragment = operator_page(&env, "/console/failed?fragment=1").await;
    assert!(!fragment.contains("<html"), "{fragment}");
    assert!(
        fragment.contains("failed again, listed below.")
            && fragment.contains(&format!("id=\"retry-{id}\"")),
        "{fragment}"
    );

    // Retry all, once Zalo accepts: delivered, nothing listed, no word of failing again.
    assert_eq!(post(&env, "/console/failed/retry", &[]).await, 303);
    let page = failed_page_when(&env, id, |p| p.contains("delivered")).await;
    assert!(
        page.contains(&format!("Event #{id} replayed")) && page.contains(": delivered."),
        "{page}"
    );
    assert!(
        page.contains("No failed events.") && !page.contains("failed again"),
        "{page}"
    );
    let sent = zalo_sent(&env, CUSTOMER, 1).await;
    assert!(sent
        .iter()
        .any(|s| zalo_text(s).as_deref() == Some("Đơn hàng đã được gửi")));

    // Retrying an event that is no longer failed replays nothing, and says so (no "0 events").
    assert_eq!(
        post(&env, "/console/failed/retry", &[("id", id.to_string())]).await,
        303
    );
    let page = operator_page(&env, "/console/failed").await;
    assert!(
        page.contains("Nothing was replayed")
            && page.contains(&format!("event #{id} was no longer failed")),
        "{page}"
    );
    assert!(
        !page.contains("0 events") && !page.contains("delivered"),
        "{page}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_activity_filter_that_matches_nothing_says_so() {
    let env = env().await;
    let page = operator_page(&env, "/console/activity").await;
    assert!(page.contains("No synced messages yet."), "{page}");
    assert!(!page.contains("matches"), "{page}");

    start_conversation(&env, CUSTOMER).await;
    settle(&env).await;
    let page = operator_page(&env, "/console/activity?customer=Lan").await;
    assert!(
        page.contains("No synced message matches “Lan”.")
            && page.contains("<a href=\"/console/activity\">Show all messages</a>")
            && page.contains("No customer matches “Lan”."),
        "{page}"
    );
    assert!(
        !page.contains("No synced messages yet")
            && !page.contains("No customer interaction or reply seen yet"),
        "{page}"
    );
    // The rows the live update fetches say the same.
    let rows = operator_page(&env, "/console/activity?customer=Lan&fragment=1").await;
    assert!(
        rows.contains("No synced message matches “Lan”.") && !rows.contains("yet"),
        "{rows}"
    );
    // A filter that matches shows the customer's messages and no such line.
    let page = operator_page(&env, "/console/activity?customer=Minh").await;
    assert!(
        page.contains("data-inbox-id=") && !page.contains("matches"),
        "{page}"
    );
}

/// Starts a backfill of `days` from the console; the Backfill page once it shows `done`.
async fn backfill(env: &Env, days: u32, done: &str) -> String {
    assert_eq!(
        post(env, "/console/backfill", &[("days", days.to_string())]).await,
        303
    );
    wait_for(WAIT, || async {
        let p = operator_page(env, "/console/backfill").await;
        p.contains(done).then_some(p)
    })
    .await
    .unwrap_or_else(|| panic!("the backfill never showed {done:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_backfill_page_says_plainly_whether_and_what_ran() {
    let env = env().await;
    let page = operator_page(&env, "/console/backfill").await;
    assert!(
        page.contains("No backfill has run since the daemon started.")
            && page.contains("<strong>Start backfill</strong>")
            && page.contains("zfsync backfill --config FILE --days N"),
        "{page}"
    );
    assert!(
        !page.contains("0 of 0") && !page.contains("0 messages") && !page.contains("0 days"),
        "{page}"
    );
    let bar = &page[page.find("id=\"backfill-bar\"").unwrap()..];
    assert!(
        bar[..bar.find('>').unwrap()].contains("hidden"),
        "no empty bar before a run: {page}"
    );
    // The live stream's first word before any run is no result either.
    let live = reqwest::Client::new()
        .get(format!("{}/console/live/backfill", env.daemon_url()))
        .bearer_auth(&env.admin_token)
        .send()
        .await
        .unwrap();
    let first = live.bytes_stream().next().await.unwrap().unwrap();
    let first = String::from_utf8_lossy(&first);
    assert!(
        first.contains("\"phase\":\"idle\"") && !first.contains("0 of 0"),
        "{first}"
    );

    // A run over an OA with no conversation in the window says so, not "0 of 0".
    let page = backfill(&env, 7, "Done:").await;
    assert!(
        page.contains(
            "Done: Zalo has no conversation of the last 7 days, so there was nothing to bring in."
        ),
        "{page}"
    );
    assert!(!page.contains("0 of 0"), "{page}");

    // A run that finds a conversation gives its numbers.
    add_user(&env, OLD_CUSTOMER, "Tuấn");
    let now = env.zalo.now_ms();
    env.zalo
        .seed_history(OLD_CUSTOMER, &[(true, "hỏi hôm kia", now - 2 * 86_400_000)]);
    let page = backfill(&env, 3, "Done: 1").await;
    assert!(
        page.contains("Done: 1 conversation of the last 3 days read; 1 message found: 1 queued for delivery, 0 already in Freshchat."),
        "{page}"
    );
}

/// The `<figure>` of one chart in a page.
fn figure<'a>(page: &'a str, id: &str) -> &'a str {
    let at = page
        .find(&format!("<figure id=\"{id}\""))
        .unwrap_or_else(|| panic!("no chart {id}: {page}"));
    &page[at..at + page[at..].find("</figure>").unwrap()]
}

/// "14:00" for the hour `hours_ago` before the current one (UTC).
fn hour_label(hours_ago: i64) -> String {
    (chrono::Utc::now() - chrono::Duration::hours(hours_ago))
        .format("%H:00")
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_overview_charts_have_a_title_labelled_axes_ticks_and_a_text_alternative() {
    let env = env().await;
    let page = operator_page(&env, "/console").await;
    for (id, label) in [
        ("chart-to-freshchat", "Zalo → Freshchat"),
        ("chart-to-zalo", "Freshchat → Zalo"),
    ] {
        let chart = figure(&page, id);
        assert!(
            chart.contains(&format!("aria-labelledby=\"{id}-title {id}-desc\""))
                && chart.contains(&format!(
                    "<title id=\"{id}-title\">{label}: messages per hour, last 24 hours</title>"
                ))
                && chart.contains(&format!("<desc id=\"{id}-desc\">Bar chart"))
                && chart.contains(&format!(
                    "<text class=\"title\" x=\"0\" y=\"13\">{label}</text>"
                )),
            "{chart}"
        );
        assert!(
            chart.contains(">messages per hour</text>") && chart.contains(">hour (UTC);"),
            "both axes are labelled with their units: {chart}"
        );
        assert!(
            chart.contains("class=\"tick y\"") && chart.contains("class=\"tick x\""),
            "{chart}"
        );
        assert!(
            chart.contains(&format!("{label}: no messages in the last 24 hours.")),
            "an empty chart says so: {chart}"
        );
        assert_eq!(
            chart.matches("<rect class=").count(),
            2,
            "the legend's two keys, no bars: {chart}"
        );
    }

    // Two messages five hours ago, one now, and a reply that failed.
    start_conversation(&env, CUSTOMER).await;
    env.zalo
        .user_sends(CUSTOMER, UserAction::Text("còn hàng không?".into()))
        .await;
    customer_messages(&env, CUSTOMER, 2).await;
    settle(&env).await;
    assert!(tamper::age_finished_events_by_hours(&env, 5) >= 2);
    env.zalo
        .user_sends(CUSTOMER, UserAction::Text("alo".into()))
        .await;
    customer_messages(&env, CUSTOMER, 3).await;
    failed_reply(&env, CUSTOMER, "Đơn hàng đã được gửi").await;
    settle(&env).await;

    let before = (hour_label(5), hour_label(0));
    let page = operator_page(&env, "/console").await;
    let after = (hour_label(5), hour_label(0));
    let to_freshchat = figure(&page, "chart-to-freshchat");
    assert!(
        to_freshchat.contains("Zalo → Freshchat: 3 synced, 0 failed in the last 24 hours."),
        "{to_freshchat}"
    );
    // The value axis goes 0, 1, 2 (the busiest hour had two).
    for v in ["0", "1", "2"] {
        assert!(
            to_freshchat.contains(&format!("text-anchor=\"end\">{v}</text>")),
            "tick {v}: {to_freshchat}"
        );
    }
    assert!(
        !to_freshchat.contains("text-anchor=\"end\">3</text>"),
        "{to_freshchat}"
    );
    // Each hour's bar and its row in the numbers, under the hour axis's labels.
    let has_hours = |(five_ago, now): &(String, String)| {
        to_freshchat.contains(&format!("<td>{five_ago}</td><td>2</td><td>0</td>"))
            && to_freshchat.contains(&format!("<td>{now}</td><td>1</td><td>0</td>"))
            && to_freshchat.contains(&format!("text-anchor=\"middle\">{now}</text>"))
            && to_freshchat.contains(&format!("<title>{five_ago}–"))
    };
    assert!(
        has_hours(&before) || has_hours(&after),
        "{before:?} {to_freshchat}"
    );
    assert!(
        to_freshchat.contains("the busiest hour,"),
        "the description names the busiest hour: {to_freshchat}"
    );
    let to_zalo = figure(&page, "chart-to-zalo");
    assert!(
        to_zalo.contains("Freshchat → Zalo: 0 synced, 1 failed in the last 24 hours.")
            && to_zalo.contains("<rect class=\"f\""),
        "{to_zalo}"
    );
}
