//! Which allowance pays for each consultation message (`data.quota`), over raw HTTP: Zalo's 2026
//! window (free and unlimited within 48 h, billed to 7 days, refused after), the earlier count of
//! free replies in the 48 h frame (a switch), a new frame per customer message, welcome messages, the
//! OA package, owner allowances, billing (no `quota`) or refusal (-211), and
//! `POST /v3.0/oa/quota/message`.

use std::time::Duration;

use serde_json::{json, Value};
use zfsync_zalo::sim::{OutOfReplies, OwnerQuota, ReplyModel, SimConfig, SubQuota, UserAction};

use super::*;

fn quota_of(v: &Value) -> Option<(String, String, String)> {
    let q = v["data"].get("quota")?;
    Some((
        q["quota_type"].as_str().unwrap().to_owned(),
        q["remain"].as_str().unwrap_or("-").to_owned(),
        q["total"].as_str().unwrap_or("-").to_owned(),
    ))
}

fn t(kind: &str, remain: &str, total: &str) -> Option<(String, String, String)> {
    Some((kind.into(), remain.into(), total.into()))
}

const DAY: Duration = Duration::from_secs(24 * 3600);

fn counted() -> SimConfig {
    SimConfig {
        reply_model: ReplyModel::Counted,
        ..SimConfig::default()
    }
}

/// Zalo's 2026 rules, the default: any number of free replies within 48 h of the customer's last
/// interaction, without `remain`/`total`; billed (no `quota`) from 48 h to 7 days; -230 after.
#[tokio::test]
async fn under_the_2026_rules_the_window_decides_free_billed_or_refused() {
    let sim = start(SimConfig::default()).await;
    let tok = token(&sim);
    add_user(&sim, USER);
    sim.user_sends(USER, UserAction::Text("hỏi".into())).await;
    for i in 0..12 {
        let v = send_text(&sim, &tok, USER, &format!("trả lời {i}")).await;
        assert_eq!(v["data"]["quota"], json!({"quota_type": "reply"}), "{v}");
    }
    assert_eq!(sim.quota(USER).unwrap().reply_total, None);
    // A customer who wrote three days ago: billed, not refused.
    let (late, later) = ("2512523625410003", "2512523625410008");
    add_user(&sim, late);
    add_user(&sim, later);
    sim.rewind_clock(3 * DAY);
    sim.user_sends(late, UserAction::Text("cũ".into())).await;
    sim.advance_clock(3 * DAY);
    let v = send_text(&sim, &tok, late, "muộn").await;
    assert_eq!((v["error"].as_i64(), quota_of(&v)), (Some(0), None), "{v}");
    let s = sim.quota(late).unwrap();
    assert!(s.cs_window_open && !s.free_window_open);
    // Eight days ago: refused.
    sim.rewind_clock(8 * DAY);
    sim.user_sends(later, UserAction::Text("rất cũ".into()))
        .await;
    sim.advance_clock(8 * DAY);
    let v = send_text(&sim, &tok, later, "quá muộn").await;
    assert_eq!(v["error"].as_i64(), Some(-230), "{v}");
    // A message now opens a free window again.
    sim.user_sends(later, UserAction::Text("mới".into())).await;
    let v = send_text(&sim, &tok, later, "dạ").await;
    assert_eq!(v["data"]["quota"]["quota_type"], "reply", "{v}");
}
#[tokio::test]
async fn the_rules_can_be_switched_while_running() {
    let sim = start(SimConfig::default()).await;
    let tok = token(&sim);
    add_user(&sim, USER);
    sim.user_sends(USER, UserAction::Text("hỏi".into())).await;
    sim.set_reply_model(ReplyModel::Counted);
    assert_eq!(
        quota_of(&send_text(&sim, &tok, USER, "a").await),
        t("reply", "7", "8")
    );
}

#[tokio::test]
async fn free_replies_count_down_then_the_reply_is_billed() {
    let sim = start(counted()).await;
    let tok = token(&sim);
    add_user(&sim, USER);
    sim.user_sends(USER, UserAction::Text("hỏi".into())).await;
    for remain in (0..8).rev() {
        let v = send_text(&sim, &tok, USER, "trả lời").await;
        assert_eq!(quota_of(&v), t("reply", &remain.to_string(), "8"));
    }
    let billed = send_text(&sim, &tok, USER, "thêm").await;
    assert_eq!(
        (billed["error"].as_i64(), quota_of(&billed)),
        (Some(0), None)
    );
    let s = sim.quota(USER).unwrap();
    assert_eq!(
        (s.replies_used, s.reply_total, s.free_window_open),
        (8, Some(8), true)
    );
    let q = api_post(
        &sim,
        "/v3.0/oa/quota/message",
        &tok,
        &json!({"user_id": USER}),
    )
    .await;
    assert_eq!(q["data"]["cs_reply"], json!({"remain": 0, "total": 8}));
    // The customer writes again: a new frame.
    sim.user_sends(USER, UserAction::Text("còn nữa".into()))
        .await;
    assert_eq!(
        quota_of(&send_text(&sim, &tok, USER, "dạ").await),
        t("reply", "7", "8")
    );
    let q = api_post(
        &sim,
        "/v3.0/oa/quota/message",
        &tok,
        &json!({"user_id": USER}),
    )
    .await;
    assert_eq!(q["data"]["cs_reply"], json!({"remain": 7, "total": 8}));
    assert_eq!(
        q["data"]["last_interaction"],
        sim.quota(USER)
            .unwrap()
            .last_interaction_ms
            .unwrap()
            .to_string()
    );
    // A sent record keeps the quota it was paid with.
    let sent = sim.sent_to(USER);
    assert_eq!(sent[8].quota, None);
    assert_eq!(sent[9].quota.as_ref().unwrap()["remain"], "7");
}

#[tokio::test]
async fn past_48_hours_replies_are_billed_and_refusal_is_a_switch() {
    let sim = start(SimConfig {
        reply_model: ReplyModel::Counted,
        reply_quota: 2,
        out_of_replies: OutOfReplies::Refuse,
        ..SimConfig::default()
    })
    .await;
    add_user(&sim, USER);
    sim.user_sends(USER, UserAction::Text("hỏi".into())).await;
    let tok = token(&sim);
    assert_eq!(
        quota_of(&send_text(&sim, &tok, USER, "1").await),
        t("reply", "1", "2")
    );
    assert_eq!(
        quota_of(&send_text(&sim, &tok, USER, "2").await),
        t("reply", "0", "2")
    );
    assert_eq!(
        send_text(&sim, &tok, USER, "3").await,
        json!({"error": -211, "message": "Out of quota"})
    );
    sim.advance_clock(Duration::from_secs(49 * 3600));
    let tok = token(&sim);
    let v = send_text(&sim, &tok, USER, "late").await;
    assert_eq!(
        (v["error"].as_i64(), quota_of(&v)),
        (Some(0), None),
        "billed, not refused"
    );
    assert!(!sim.quota(USER).unwrap().free_window_open);
    let q = api_post(
        &sim,
        "/v3.0/oa/quota/message",
        &tok,
        &json!({"user_id": USER}),
    )
    .await;
    assert_eq!(q["data"]["cs_reply"]["remain"], 0);
}

#[tokio::test]
async fn followers_who_never_wrote_get_welcome_messages() {
    let sim = start(SimConfig {
        welcome_quota: 2,
        ..counted()
    })
    .await;
    let tok = token(&sim);
    sim.user_sends(USER, UserAction::Follow).await;
    assert_eq!(
        quota_of(&send_text(&sim, &tok, USER, "chào").await),
        t("welcome_msg", "1", "2")
    );
    assert_eq!(
        quota_of(&send_text(&sim, &tok, USER, "mời").await),
        t("welcome_msg", "0", "2")
    );
    assert_eq!(
        quota_of(&send_text(&sim, &tok, USER, "tiếp").await),
        t("reply", "7", "8")
    );
    assert_eq!(sim.quota(USER).unwrap().welcome_remain, 0);
}

#[tokio::test]
async fn the_package_then_the_owner_allowance_then_billing() {
    let sim = start(SimConfig {
        reply_model: ReplyModel::Counted,
        reply_quota: 1,
        sub_quota: Some(SubQuota {
            total: 2,
            expired_date: "31/12/2030".into(),
        }),
        owner_quota: Some(OwnerQuota::Reward),
        ..SimConfig::default()
    })
    .await;
    let tok = token(&sim);
    add_user(&sim, USER);
    sim.user_sends(USER, UserAction::Text("hỏi".into())).await;
    assert_eq!(
        quota_of(&send_text(&sim, &tok, USER, "a").await),
        t("reply", "0", "1")
    );
    let v = send_text(&sim, &tok, USER, "b").await;
    assert_eq!(quota_of(&v), t("sub_quota", "1", "2"));
    assert_eq!(v["data"]["quota"]["expired_date"], "31/12/2030");
    assert_eq!(
        quota_of(&send_text(&sim, &tok, USER, "c").await),
        t("sub_quota", "0", "2")
    );
    let v = send_text(&sim, &tok, USER, "d").await;
    assert_eq!(
        v["data"]["quota"],
        json!({"quota_type": "reward_quota", "owner_type": "OA", "owner_id": sim.config().oa_id})
    );
    assert_eq!(sim.quota(USER).unwrap().sub_quota_remain, Some(0));
    // The OA's assets, through the asset form of the quota call.
    let v = api_post(
        &sim,
        "/v3.0/oa/quota/message",
        &tok,
        &json!({"quota_owner": "OA", "product_type": "cs", "quota_type": "sub_quota"}),
    )
    .await;
    assert_eq!(
        (
            v["data"][0]["total"].as_i64(),
            v["data"][0]["remain"].as_i64()
        ),
        (Some(2), Some(0))
    );
    // Unknown users have no quota.
    assert_eq!(
        api_post(
            &sim,
            "/v3.0/oa/quota/message",
            &tok,
            &json!({"user_id": "1"})
        )
        .await["error"],
        -213
    );
}
