//! Zalo's reply allowance as Zalo counted it before 2026 (eight free replies per 48 h, the Zalo
//! simulator's `ReplyModel::Counted`), made visible to agents: private notes once per window, a
//! billed count. The 2026 window is in `reply_window.rs`.
#![allow(clippy::unwrap_used)]

use zfsync_freshchat::MessagePart;
use zfsync_zalo::sim::{ReplyModel, UserAction};

use crate::helpers::*;

const U: &str = "5234000000000000555";

async fn agent_replies(env: &zfsync::tools::sandbox::Env, conv: &str, from: usize, n: usize) {
    for i in from..from + n {
        env.agent_says(
            conv,
            &env.freshchat.default_agent_id(),
            &[MessagePart::text(format!("reply {i}"))],
        )
        .await
        .unwrap();
    }
}

fn count(notes: &[String], needle: &str) -> usize {
    notes.iter().filter(|n| n.contains(needle)).count()
}

/// Nine replies in one window: eight free (Zalo's count before 2026), then billed. Agents
/// get exactly one "last free reply" note and one "billed" note, never sent to Zalo. The customer's
/// next message opens a new window silently, and the notes may come again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agents_are_told_once_per_window_what_replies_cost() {
    let env = env().await;
    env.zalo.set_reply_model(ReplyModel::Counted);
    let conv = start_conversation(&env, U).await;
    agent_replies(&env, &conv, 0, 9).await;
    zalo_sent(&env, U, 9).await;
    settle(&env).await;
    let all = notes(&env, U, 2).await;
    assert_eq!(
        count(&all, "tin trả lời miễn phí trong 48 giờ"),
        1,
        "{all:?}"
    );
    assert_eq!(count(&all, "tính phí cho OA"), 1, "{all:?}");
    assert_eq!(env.zalo.sent_to(U).len(), 9, "the notes never reach Zalo");
    let status = zfsync_stdout(&env, &["status"]).await;
    assert!(
        status.contains("billed to the OA in the last 24 h: 1"),
        "{status}"
    );
    let metrics = reqwest::get(format!("{}/metrics", env.daemon_url()))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    // The metrics are the process's (other tests' daemons run in it too): the names are there; the
    // figures of this store are checked through `status` above.
    for name in [
        "zfsync_zalo_billed_messages_total",
        "zfsync_zalo_customers_in_billed_window",
    ] {
        assert!(metrics.contains(name), "{name}: {metrics}");
    }
    // The console: the billed count on the Overview, the customer's allowance on Activity.
    let overview = operator_page(&env, "/console").await;
    let billed = overview
        .find("id=\"billed-24h\"")
        .expect("the billed count");
    assert!(
        overview[billed..]
            .split("</dd>")
            .next()
            .unwrap()
            .ends_with(">1"),
        "{overview}"
    );
    let activity = operator_page(&env, "/console/activity").await;
    let row = activity
        .find(&format!("data-zalo-user=\"{U}\""))
        .expect("the customer's quota row");
    let row = activity[row..].split("</tr>").next().unwrap();
    assert!(row.contains("billed to the OA"), "{row}");

    // The customer writes: a new window, nothing said. Its free replies run low again: one more
    // "last free reply" note, no new "billed" note.
    env.zalo
        .user_sends(U, UserAction::Text("cảm ơn".into()))
        .await;
    customer_messages(&env, U, 2).await;
    agent_replies(&env, &conv, 9, 8).await;
    zalo_sent(&env, U, 17).await;
    settle(&env).await;
    let all = notes(&env, U, 3).await;
    assert_eq!(
        count(&all, "tin trả lời miễn phí trong 48 giờ"),
        2,
        "{all:?}"
    );
    assert_eq!(count(&all, "tính phí cho OA"), 1, "{all:?}");
    assert_eq!(env.zalo.sent_to(U).len(), 17);
    // The new window's eighth reply was its last free one: none left of eight, not billed.
    let activity = operator_page(&env, "/console/activity").await;
    let row = activity
        .find(&format!("data-zalo-user=\"{U}\""))
        .expect("the customer's quota row");
    let row = activity[row..].split("</tr>").next().unwrap();
    assert!(
        row.contains("free reply") && row.contains("0 of 8"),
        "{row}"
    );
}
