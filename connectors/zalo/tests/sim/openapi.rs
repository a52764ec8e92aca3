//! The OpenAPI host's rules over raw HTTP: the token header (not the query), `data=` queries,
//! string ids, the text limit, uploads, asset expiry, history paging, the CS window, recipients,
//! profile refusals, the rate limit with its headers, and seeded history for backfill.

use std::time::Duration;

use serde_json::{json, Value};
use zfsync_zalo::sim::{SimConfig, UserAction};

use super::*;

const CS: &str = "/v3.0/oa/message/cs";

#[tokio::test]
async fn token_goes_in_the_header_and_gets_take_a_data_query() {
    let sim = start(SimConfig::default()).await;
    let tok = token(&sim);
    add_user(&sim, USER);
    // A token in the query string: the endpoint does not exist for such a call.
    let mut u = sim.api_base().join("v2.0/oa/getoa").unwrap();
    u.query_pairs_mut().append_pair("access_token", &tok);
    let v: Value = reqwest::get(u).await.unwrap().json().await.unwrap();
    assert_eq!(v["error"], json!(404));
    assert_eq!(
        api_get(&sim, "/v2.0/oa/getoa", "", None).await.1["error"],
        -216
    );
    // `data` missing, or not a JSON object.
    assert_eq!(
        api_get(&sim, "/v3.0/oa/user/detail", &tok, None).await.1["error"],
        -201
    );
    assert_eq!(
        api_get(&sim, "/v3.0/oa/user/detail", &tok, Some(&json!([USER])))
            .await
            .1["error"],
        -201
    );
    let (_, v) = api_get(
        &sim,
        "/v3.0/oa/user/detail",
        &tok,
        Some(&json!({"user_id": USER})),
    )
    .await;
    assert_eq!(
        (v["error"].as_i64(), v["data"]["display_name"].as_str()),
        (Some(0), Some("Nguyễn Văn A"))
    );
    // Known path, wrong method: not an API.
    let (_, v) = api_get(&sim, CS, &tok, None).await;
    assert_eq!(v["error"], json!(404));
}

#[tokio::test]
async fn ids_documented_as_strings_are_refused_as_numbers() {
    let sim = start(SimConfig::default()).await;
    let tok = token(&sim);
    active_user(&sim, USER);
    let n: u64 = USER.parse().unwrap();
    let v = api_post(
        &sim,
        CS,
        &tok,
        &json!({"recipient": {"user_id": n}, "message": {"text": "hi"}}),
    )
    .await;
    assert_eq!(v, json!({"error": -201, "message": "user_id is invalid!"}));
    assert_eq!(
        api_get(
            &sim,
            "/v3.0/oa/user/detail",
            &tok,
            Some(&json!({"user_id": n}))
        )
        .await
        .1["error"],
        -201
    );
    assert_eq!(
        api_post(&sim, "/v3.0/oa/quota/message", &tok, &json!({"user_id": n})).await["error"],
        -201
    );
    // The conversation example itself passes a number: both forms work there.
    for id in [json!(n), json!(USER)] {
        let (_, v) = api_get(
            &sim,
            "/v2.0/oa/conversation",
            &tok,
            Some(&json!({"user_id": id, "offset": 0, "count": 5})),
        )
        .await;
        assert_eq!(v["error"], 0, "{id}");
    }
    // An attachment id as a number.
    let v = api_post(&sim, CS, &tok, &json!({"recipient": {"user_id": USER}, "message": {"attachment": {"type": "template",
        "payload": {"template_type": "media", "elements": [{"media_type": "image", "attachment_id": 12}]}}}})).await;
    assert_eq!(v["error"], -201);
}

#[tokio::test]
async fn text_limit_counts_characters_and_bad_messages_are_refused() {
    let sim = start(SimConfig::default()).await;
    let tok = token(&sim);
    active_user(&sim, USER);
    assert_eq!(
        send_text(&sim, &tok, USER, &"ồ".repeat(2000)).await["error"],
        0
    );
    let v = send_text(&sim, &tok, USER, &"ồ".repeat(2001)).await;
    assert_eq!(
        v,
        json!({"error": -210, "message": "Parameter exceeds allowable limit"})
    );
    assert_eq!(send_text(&sim, &tok, USER, "  ").await["error"], -201);
    // Quoting a message of another conversation, or an unknown one.
    let v = api_post(&sim, CS, &tok, &json!({"recipient": {"user_id": USER}, "message": {"text": "x", "quote_message_id": "0123456789abcdef0123"}})).await;
    assert_eq!(v["error"], -201);
    let mine = sim.user_sends(USER, UserAction::Text("q".into())).await;
    let v = api_post(&sim, CS, &tok, &json!({"recipient": {"user_id": USER}, "message": {"text": "x", "quote_message_id": mine}})).await;
    assert_eq!(v["error"], 0);
    // Unsupported kinds, url and attachment_id together, a GIF without its size.
    let media = |el: Value| json!({"recipient": {"user_id": USER}, "message": {"attachment": {"type": "template", "payload": {"template_type": "media", "elements": [el]}}}});
    let gif = api_upload(
        &sim,
        "/v2.0/oa/upload/gif",
        &tok,
        "file",
        "a.gif",
        b"GIF89a".to_vec(),
    )
    .await;
    let gif = gif["data"]["attachment_id"].as_str().unwrap().to_owned();
    let img = api_upload(
        &sim,
        "/v2.0/oa/upload/image",
        &tok,
        "file",
        "a.png",
        b"png".to_vec(),
    )
    .await;
    let img = img["data"]["attachment_id"].as_str().unwrap().to_owned();
    let cases = [
        (
            media(json!({"media_type": "video", "url": "https://x/v.mp4"})),
            -233,
        ),
        (
            media(json!({"media_type": "image", "url": "https://x/a.png", "attachment_id": img})),
            -201,
        ),
        (media(json!({"media_type": "image"})), -201),
        (
            media(json!({"media_type": "image", "url": "ftp://x/a.png"})),
            -201,
        ),
        (
            media(json!({"media_type": "gif", "attachment_id": gif})),
            -201,
        ),
        (
            media(
                json!({"media_type": "gif", "attachment_id": gif, "width": "120", "height": 120}),
            ),
            -201,
        ),
        (
            media(json!({"media_type": "image", "attachment_id": gif})),
            -201,
        ),
        (
            json!({"recipient": {"user_id": USER}, "message": {"attachment": {"type": "video"}}}),
            -233,
        ),
        (
            json!({"recipient": {"user_id": USER}, "message": {"attachment": {"type": "template", "payload": {"template_type": "list", "elements": [{}]}}}}),
            -233,
        ),
        (json!({"recipient": {"user_id": USER}}), -201),
    ];
    for (body, code) in cases {
        assert_eq!(
            api_post(&sim, CS, &tok, &body).await["error"],
            code,
            "{body}"
        );
    }
    let ok = media(json!({"media_type": "gif", "attachment_id": gif, "width": 120, "height": 120}));
    assert_eq!(api_post(&sim, CS, &tok, &ok).await["error"], 0);
    // The v2 message endpoint is shut for ordinary sends.
    let v = api_post(
        &sim,
        "/v2.0/oa/message",
        &tok,
        &json!({"recipient": {"user_id": USER}, "message": {"text": "x"}}),
    )
    .await;
    assert_eq!(v["error"], -240);
}

#[tokio::test]
async fn recipients_must_be_reachable_within_seven_days() {
    let sim = start(SimConfig::default()).await;
    let tok = token(&sim);
    assert_eq!(send_text(&sim, &tok, "999", "hi").await["error"], -213);
    add_user(&sim, USER);
    assert_eq!(
        send_text(&sim, &tok, USER, "hi").await["error"],
        -230,
        "never interacted"
    );
    sim.user_sends(USER, UserAction::Text("hello".into())).await;
    assert_eq!(send_text(&sim, &tok, USER, "hi").await["error"], 0);
    // (Access tokens live 25 h: a fresh one after each jump.)
    sim.advance_clock(Duration::from_secs(6 * 86_400));
    let tok = token(&sim);
    assert_eq!(send_text(&sim, &tok, USER, "hi").await["error"], 0);
    sim.advance_clock(Duration::from_secs(86_400 + 1));
    let tok = token(&sim);
    let v = send_text(&sim, &tok, USER, "hi").await;
    assert_eq!(
        v,
        json!({"error": -230, "message": "User has not interacted with the OA in the past 7 days"})
    );
    // Read receipts and reactions do not reopen the window; a follow does.
    sim.user_sends(USER, UserAction::Received { msg_id: "x".into() })
        .await;
    assert_eq!(send_text(&sim, &tok, USER, "hi").await["error"], -230);
    sim.user_sends(USER, UserAction::Follow).await;
    assert_eq!(send_text(&sim, &tok, USER, "hi").await["error"], 0);
    sim.set_blocked(USER, true);
    assert_eq!(send_text(&sim, &tok, USER, "hi").await["error"], -217);
}

#[tokio::test]
async fn uploads_take_their_types_and_sizes_and_expire_after_seven_days() {
    let sim = start(SimConfig::default()).await;
    let tok = token(&sim);
    let mb = 1024 * 1024;
    let up = |path: &'static str, field: &'static str, name: &'static str, n: usize| {
        let sim = sim.clone();
        let tok = tok.clone();
        async move { api_upload(&sim, path, &tok, field, name, vec![7u8; n]).await }
    };
    let code = |v: Value| v["error"].as_i64().unwrap();
    assert_eq!(
        code(up("/v2.0/oa/upload/image", "file", "a.jpg", mb).await),
        0
    );
    assert_eq!(
        code(up("/v2.0/oa/upload/image", "file", "a.PNG", 10).await),
        0
    );
    assert_eq!(
        code(up("/v2.0/oa/upload/image", "file", "a.jpg", mb + 1).await),
        -210
    );
    assert_eq!(
        code(up("/v2.0/oa/upload/image", "file", "a.gif", 10).await),
        -201
    );
    assert_eq!(
        code(up("/v2.0/oa/upload/image", "image", "a.jpg", 10).await),
        -201,
        "the part must be named file"
    );
    assert_eq!(
        code(up("/v2.0/oa/upload/gif", "file", "a.gif", 5 * mb).await),
        0
    );
    assert_eq!(
        code(up("/v2.0/oa/upload/gif", "file", "a.gif", 5 * mb + 1).await),
        -210
    );
    for ok in ["a.pdf", "a.doc", "a.DOCX"] {
        let v = api_upload(
            &sim,
            "/v2.0/oa/upload/file",
            &tok,
            "file",
            ok,
            b"x".to_vec(),
        )
        .await;
        assert!(v["data"]["token"].is_string(), "{ok}: {v}");
    }
    assert_eq!(
        code(up("/v2.0/oa/upload/file", "file", "notes.txt", 10).await),
        -201
    );
    assert_eq!(
        code(up("/v2.0/oa/upload/file", "file", "a.pdf", 5 * mb + 1).await),
        -210
    );
    // No extension: "Success" with nothing in it.
    let v = up("/v2.0/oa/upload/file", "file", "noext", 10).await;
    assert_eq!(v, json!({"data": {}, "error": 0, "message": "Success"}));
    let txt = start(SimConfig {
        accept_txt_upload: true,
        ..SimConfig::default()
    })
    .await;
    let v = api_upload(
        &txt,
        "/v2.0/oa/upload/file",
        &token(&txt),
        "file",
        "a.csv",
        b"a,b".to_vec(),
    )
    .await;
    let t = v["data"]["token"].as_str().unwrap();
    assert_eq!(txt.uploaded(t).unwrap().1.as_ref(), b"a,b");

    // Seven days.
    active_user(&sim, USER);
    let v = api_upload(
        &sim,
        "/v2.0/oa/upload/file",
        &tok,
        "file",
        "a.pdf",
        b"%PDF".to_vec(),
    )
    .await;
    let file = v["data"]["token"].as_str().unwrap().to_owned();
    let send = json!({"recipient": {"user_id": USER}, "message": {"attachment": {"type": "file", "payload": {"token": file}}}});
    sim.advance_clock(Duration::from_secs(6 * 86_400));
    sim.set_last_interaction(USER, sim.now_ms());
    let tok = token(&sim);
    assert_eq!(api_post(&sim, CS, &tok, &send).await["error"], 0);
    sim.advance_clock(Duration::from_secs(86_400 + 1));
    sim.set_last_interaction(USER, sim.now_ms());
    let tok = token(&sim);
    let v = api_post(&sim, CS, &tok, &send).await;
    assert_eq!(v, json!({"error": -100, "message": "token was expired"}));
}

#[tokio::test]
async fn history_pages_newest_first_in_both_directions() {
    let sim = start(SimConfig::default()).await;
    let tok = token(&sim);
    add_user(&sim, USER);
    let mut ids = vec![];
    for i in 0..7 {
        ids.push(
            sim.user_sends(USER, UserAction::Text(format!("u{i}")))
                .await,
        );
        let v = send_text(&sim, &tok, USER, &format!("oa{i}")).await;
        ids.push(v["data"]["message_id"].as_str().unwrap().to_owned());
    }
    ids.reverse();
    let page = |offset: u64, count: u64| {
        let sim = sim.clone();
        let tok = tok.clone();
        async move {
            let (_, v) = api_get(
                &sim,
                "/v2.0/oa/conversation",
                &tok,
                Some(&json!({"user_id": USER, "offset": offset, "count": count})),
            )
            .await;
            v
        }
    };
    let mut got = vec![];
    for offset in [0, 10] {
        let v = page(offset, 10).await;
        for m in v["data"].as_array().unwrap() {
            assert!(m["time"].is_i64() && m["src"].is_i64());
            let from_user = m["src"] == 1;
            assert_eq!(m["from_id"] == USER, from_user);
            assert_eq!(m["to_display_name"] == "Nguyễn Văn A", !from_user);
            got.push(m["message_id"].as_str().unwrap().to_owned());
        }
    }
    assert_eq!(got, ids);
    assert_eq!(
        page(0, 11).await,
        json!({"error": -210, "message": "maximum count is 10"})
    );
    assert_eq!(page(20, 10).await["data"], json!([]));
    let (_, v) = api_get(
        &sim,
        "/v2.0/oa/conversation",
        &tok,
        Some(&json!({"user_id": USER, "count": -1})),
    )
    .await;
    assert_eq!(v["error"], -201);
}

#[tokio::test]
async fn seeded_history_serves_a_backfill_of_the_last_seven_days() {
    let sim = start(SimConfig::default()).await;
    let tok = token(&sim);
    add_user(&sim, USER);
    add_user(&sim, "777");
    let now = sim.now_ms();
    let day = 86_400_000;
    let ids = sim.seed_history(
        USER,
        &[
            (true, "ba ngày trước", now - 3 * day),
            (false, "chào bạn", now - 3 * day + 60_000),
            (true, "tám ngày trước", now - 8 * day),
        ],
    );
    sim.seed_history("777", &[(true, "hôm qua", now - day)]);
    assert!(sim.deliveries().is_empty(), "no webhooks for the past");
    let (_, v) = api_get(
        &sim,
        "/v2.0/oa/conversation",
        &tok,
        Some(&json!({"user_id": USER, "offset": 0, "count": 10})),
    )
    .await;
    let texts: Vec<&str> = v["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["message"].as_str().unwrap())
        .collect();
    assert_eq!(texts, ["chào bạn", "ba ngày trước", "tám ngày trước"]);
    assert_eq!(v["data"][0]["message_id"], ids[1].as_str());
    let (_, v) = api_get(
        &sim,
        "/v2.0/oa/listrecentchat",
        &tok,
        Some(&json!({"offset": 0, "count": 10})),
    )
    .await;
    let recent: Vec<&str> = v["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["message"].as_str().unwrap())
        .collect();
    assert_eq!(recent, ["hôm qua", "chào bạn"]);
    // The user's last interaction is the newest seeded message of theirs.
    let q = api_post(
        &sim,
        "/v3.0/oa/quota/message",
        &tok,
        &json!({"user_id": USER}),
    )
    .await;
    assert_eq!(q["data"]["last_interaction"], (now - 3 * day).to_string());
    assert_eq!(
        send_text(&sim, &tok, USER, "still in the window").await["error"],
        0
    );
}

#[tokio::test]
async fn profiles_can_be_refused_while_history_keeps_the_name() {
    let sim = start(SimConfig::default()).await;
    let tok = token(&sim);
    add_user(&sim, USER);
    sim.user_sends(USER, UserAction::Text("hi".into())).await;
    for code in [-213, -212] {
        sim.set_profile_refused(USER, Some(code));
        let (_, v) = api_get(
            &sim,
            "/v3.0/oa/user/detail",
            &tok,
            Some(&json!({"user_id": USER})),
        )
        .await;
        assert_eq!((v["error"].as_i64(), v.get("data")), (Some(code), None));
    }
    let (_, v) = api_get(
        &sim,
        "/v2.0/oa/listrecentchat",
        &tok,
        Some(&json!({"offset": 0, "count": 1})),
    )
    .await;
    assert_eq!(v["data"][0]["from_display_name"], "Nguyễn Văn A");
    sim.set_profile_refused(USER, None);
    let (_, v) = api_get(
        &sim,
        "/v3.0/oa/user/detail",
        &tok,
        Some(&json!({"user_id": USER})),
    )
    .await;
    assert_eq!(v["data"]["user_is_follower"], true);
    assert!(
        v["data"]["user_last_interaction_date"]
            .as_str()
            .unwrap()
            .len()
            == 10
    );
}

#[tokio::test]
async fn rate_limit_answers_minus_32_with_its_headers() {
    let sim = start(SimConfig {
        rate_limit_per_minute: 5,
        ..SimConfig::default()
    })
    .await;
    let tok = token(&sim);
    let mut seen = vec![];
    for _ in 0..7 {
        let (h, v) = api_get(&sim, "/v2.0/oa/getoa", &tok, None).await;
        assert_eq!(h["x-ratelimit-limit"], "5");
        seen.push((
            h["x-ratelimit-remain"].to_str().unwrap().to_owned(),
            v["error"].as_i64().unwrap(),
        ));
    }
    let want: Vec<(String, i64)> = [
        ("4", 0),
        ("3", 0),
        ("2", 0),
        ("1", 0),
        ("0", 0),
        ("0", -32),
        ("0", -32),
    ]
    .iter()
    .map(|(r, e)| ((*r).to_owned(), *e))
    .collect();
    assert_eq!(seen, want);
    // Errors carry the headers too; the next minute starts afresh.
    let (h, v) = api_get(&sim, "/v2.0/oa/getoa", "bad", None).await;
    assert_eq!(
        (h.contains_key("x-ratelimit-remain"), v["error"].as_i64()),
        (true, Some(-32))
    );
    sim.advance_clock(Duration::from_secs(60));
    let (h, v) = api_get(&sim, "/v2.0/oa/getoa", &tok, None).await;
    assert_eq!(
        (
            h["x-ratelimit-remain"].to_str().unwrap(),
            v["error"].as_i64()
        ),
        ("4", Some(0))
    );
}
