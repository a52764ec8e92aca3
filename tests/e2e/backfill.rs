//! `zfsync backfill` against the Zalo simulator's past history: the last N days arrive in Freshchat
//! through the same user and conversation as live messages (customers' messages as the customer,
//! the OA's as private notes, each with its original time), older history stays out, and a second
//! run (or a webhook already received for the same message) changes nothing.
#![allow(clippy::unwrap_used)]

use zfsync::tools::sandbox::{wait_for, Env};
use zfsync_zalo::sim::UserAction;

use zfsync::store::Provenance;

use crate::helpers::*;

const LAN: &str = "5234000000000000901";
const HOA: &str = "5234000000000000902";
const DAY: i64 = 86_400_000;

async fn backfill(env: &Env, days: &str) -> serde_json::Value {
    zfsync_json(env, &["backfill", "--days", days]).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backfill_brings_the_last_days_once() {
    let env = env().await;
    add_user(&env, LAN, "Lan");
    add_user(&env, HOA, "Hoa");
    // Lan is already talking to the OA live: her conversation exists in Freshchat.
    env.zalo
        .user_sends(LAN, UserAction::Text("hôm nay".into()))
        .await;
    customer_messages(&env, LAN, 1).await;
    let conv_before = conversation(&env, LAN).unwrap();
    let now = env.zalo.now_ms();
    env.zalo.seed_history(
        LAN,
        &[
            (true, "tám ngày trước", now - 8 * DAY),
            (true, "ba ngày trước", now - 3 * DAY),
            (false, "shop chào bạn", now - 3 * DAY + 60_000),
        ],
    );
    env.zalo.seed_history(HOA, &[(true, "hôm qua", now - DAY)]);

    let report = backfill(&env, "7").await;
    assert_eq!(report["phase"], "done", "{report}");
    assert_eq!(report["conversations"], 2, "{report}");
    assert_eq!(report["queued"], 3, "{report}");
    assert_eq!(
        report["already_known"], 1,
        "the live message came by webhook already: {report}"
    );

    // Lan: the same user and conversation, her old message as hers with its time, the OA's as a note.
    let msgs = customer_messages(&env, LAN, 2).await;
    let all: Vec<String> = msgs.iter().flat_map(texts).collect();
    let old = all
        .iter()
        .find(|t| t.contains("ba ngày trước"))
        .unwrap_or_else(|| panic!("{all:?}"));
    assert!(
        old.contains("tin nhắn cũ từ Zalo") && old.contains("(UTC+7)"),
        "{old}"
    );
    assert!(!all.iter().any(|t| t.contains("tám ngày trước")), "{all:?}");
    let notes = notes(&env, LAN, 1).await;
    assert!(
        notes
            .iter()
            .any(|n| n.contains("OA đã gửi cho khách trên Zalo: shop chào bạn")),
        "{notes:?}"
    );
    assert_eq!(conversation(&env, LAN).unwrap(), conv_before);
    let lan_users = env
        .fc_users()
        .into_iter()
        .filter(|u| {
            u.reference_id
                .as_deref()
                .is_some_and(|r| r.ends_with(&format!(":{LAN}")))
        })
        .count();
    assert_eq!(lan_users, 1, "one Freshchat user per Zalo user");

    // Hoa had never written live: she gets her user ("Hoa Zalo") and conversation.
    let hoa = customer_messages(&env, HOA, 1).await;
    assert!(texts(&hoa[0])[0].contains("hôm qua"));
    assert_eq!(
        fc_user(&env, HOA).unwrap().last_name.as_deref(),
        Some("Zalo")
    );

    // Everything settles, then a second run finds it all known and changes nothing.
    wait_for(WAIT, || async {
        (count_in_state(&env, EventState::Pending).await == 0).then_some(())
    })
    .await
    .unwrap();
    // How each arrived is the inbox's own column; the stored bodies carry no mark of zfsync's.
    let zalo = inbox(&env, InboxQuery::default().from(Source::Zalo)).await;
    let backfilled: Vec<&InboxRow> = zalo
        .iter()
        .filter(|r| r.provenance == Provenance::Backfill)
        .collect();
    assert_eq!(backfilled.len(), 3, "{zalo:?}");
    assert_eq!(
        zalo.iter()
            .filter(|r| r.provenance == Provenance::Webhook)
            .count(),
        1,
        "the live message: {zalo:?}"
    );
    for r in &zalo {
        let body = String::from_utf8_lossy(&r.body);
        assert!(!body.contains("zfsync_backfill"), "{body}");
    }
    let lan_count = env.fc_messages(&conv_before).len();
    let again = backfill(&env, "7").await;
    assert_eq!(again["queued"], 0, "{again}");
    assert_eq!(again["already_known"], 4, "{again}");
    settle(&env).await;
    assert_eq!(env.fc_messages(&conv_before).len(), lan_count);
}

/// With nothing in Zalo's history, `zfsync backfill` says so, not "0 of 0 conversations read".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backfill_with_nothing_to_bring_says_so() {
    let env = env().await;
    let out = zfsync_stdout(&env, &["backfill", "--days", "3"]).await;
    assert!(
        out.contains(
            "Zalo has no conversation of the last 3 days, so there was nothing to bring in"
        ),
        "{out}"
    );
    assert!(!out.contains("0 of 0"), "{out}");
}
