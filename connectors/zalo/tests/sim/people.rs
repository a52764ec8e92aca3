//! What the simulated people do, seen from a webhook receiver and the API: return values, state
//! (follower, window, shared info), receipts, "chat now" once, staff sends with `admin_id` (history,
//! not `sent_to`), anonymous visitors, echoes with the send's `message_id`, and bodies that vary as
//! Zalo's do (key order, `user_id_by_app`).

use bytes::Bytes;
use serde_json::{json, Value};
use zfsync_zalo::sim::SubmittedInfo;
use zfsync_zalo::sim::{AnonymousAction, SimConfig, StaffAction, UserAction, ZaloSim};

use super::*;

fn named<'a>(bodies: &'a [Value], name: &str) -> Vec<&'a Value> {
    bodies.iter().filter(|b| b["event_name"] == name).collect()
}

#[tokio::test]
async fn user_events_change_what_zalo_knows() {
    let (sim, _c, recv) = with_receiver(SimConfig::default()).await;
    let tok = token(&sim);
    let u = "5234000000000000001";
    // A stranger follows: a follower now, with an open window.
    assert_eq!(
        sim.user_sends(
            u,
            UserAction::FollowVia {
                source: "message_invite".into()
            }
        )
        .await,
        ""
    );
    let (_, d) = api_get(
        &sim,
        "/v3.0/oa/user/detail",
        &tok,
        Some(&json!({"user_id": u})),
    )
    .await;
    assert_eq!(
        (
            d["data"]["user_is_follower"].as_bool(),
            d["data"]["display_name"].as_str()
        ),
        (Some(true), Some("Zalo user 5234000000000000001"))
    );
    assert!(sim.quota(u).unwrap().cs_window_open);
    // "Chat now" is sent once, and only to someone who never chatted.
    sim.user_sends(u, UserAction::ClickChatNow).await;
    sim.user_sends(u, UserAction::ClickChatNow).await;
    let m = sim.user_sends(u, UserAction::Text("hi".into())).await;
    assert_eq!(m.len(), 20);
    let chatter = "5234000000000000002";
    sim.user_sends(chatter, UserAction::Text("hello".into()))
        .await;
    sim.user_sends(chatter, UserAction::ClickChatNow).await;
    // A reaction returns the message reacted to.
    assert_eq!(
        sim.user_sends(
            u,
            UserAction::Reaction {
                msg_id: m.clone(),
                icon: "/-heart".into()
            }
        )
        .await,
        m
    );
    // Shared info shows in the profile afterwards (phone as a string there).
    sim.user_sends(
        u,
        UserAction::SubmitInfo(SubmittedInfo {
            name: "Lan".into(),
            phone: "84901234567".into(),
            ..SubmittedInfo::default()
        }),
    )
    .await;
    let (_, d) = api_get(
        &sim,
        "/v3.0/oa/user/detail",
        &tok,
        Some(&json!({"user_id": u})),
    )
    .await;
    assert_eq!(d["data"]["shared_info"]["phone"], "84901234567");
    sim.user_sends(u, UserAction::Unfollow).await;
    let (_, d) = api_get(
        &sim,
        "/v3.0/oa/user/detail",
        &tok,
        Some(&json!({"user_id": u})),
    )
    .await;
    assert_eq!(d["data"]["user_is_follower"], false);
    sim.user_sends(u, UserAction::Withdraw).await;
    idle(&sim).await;
    let bodies = recv.bodies();
    assert_eq!(named(&bodies, "user_click_chatnow").len(), 1);
    assert_eq!(named(&bodies, "follow")[0]["source"], "message_invite");
    assert_eq!(named(&bodies, "unfollow")[0]["follower"]["id"], u);
    assert_eq!(named(&bodies, "user_withdraw")[0]["user_id"], u);
    assert_eq!(
        named(&bodies, "user_reacted_message")[0]["message"],
        json!({"msg_id": m, "react_icon": "/-heart"})
    );
}

#[tokio::test]
async fn receipts_name_the_oas_messages() {
    let (sim, _c, recv) = with_receiver(SimConfig::default()).await;
    let tok = token(&sim);
    add_user(&sim, USER);
    sim.user_sends(USER, UserAction::Text("hỏi".into())).await;
    let a = send_text(&sim, &tok, USER, "a").await["data"]["message_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let b = send_text(&sim, &tok, USER, "b").await["data"]["message_id"]
        .as_str()
        .unwrap()
        .to_owned();
    sim.user_sends(USER, UserAction::Received { msg_id: a.clone() })
        .await;
    // Seen with no ids: every OA message not yet seen, once.
    sim.user_sends(USER, UserAction::Seen { msg_ids: vec![] })
        .await;
    sim.user_sends(USER, UserAction::Seen { msg_ids: vec![] })
        .await;
    let c = send_text(&sim, &tok, USER, "c").await["data"]["message_id"]
        .as_str()
        .unwrap()
        .to_owned();
    sim.user_sends(
        USER,
        UserAction::Seen {
            msg_ids: vec![c.clone()],
        },
    )
    .await;
    idle(&sim).await;
    let bodies = recv.bodies();
    let seen = named(&bodies, "user_seen_message");
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0]["message"], json!({"msg_ids": [a, b]}));
    assert_eq!(seen[1]["message"], json!({"msg_ids": [c]}));
    let got = named(&bodies, "user_received_message");
    assert_eq!(
        (
            got[0]["sender"]["id"].as_str(),
            got[0]["recipient"]["id"].as_str()
        ),
        (Some(sim.config().oa_id.as_str()), Some(USER))
    );
    assert_eq!(got[0]["message"], json!({"msg_id": a}));
    // Receipts do not open a new free-reply frame.
    assert_eq!(sim.quota(USER).unwrap().replies_used, 3);
}

#[tokio::test]
async fn echoes_carry_the_sends_message_id_and_staff_sends_their_admin() {
    let (sim, _c, recv) = with_receiver(SimConfig::default()).await;
    let tok = token(&sim);
    add_user(&sim, USER);
    let asked = sim
        .user_sends(
            USER,
            UserAction::Reply {
                text: "và cái này?".into(),
                quote_msg_id: "0011".into(),
            },
        )
        .await;
    let sent = send_text(&sim, &tok, USER, "dạ").await["data"]["message_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let png = Bytes::from_static(b"\x89PNG\r\n\x1a\n");
    let ids = [
        sim.staff_sends_text(USER, "a1", "chào").await,
        sim.staff_sends(
            USER,
            "a1",
            StaffAction::Image {
                caption: Some("ảnh".into()),
                bytes: png.clone(),
            },
        )
        .await,
        sim.staff_sends(
            USER,
            "a1",
            StaffAction::File {
                name: "báo giá.pdf".into(),
                bytes: Bytes::from_static(b"%PDF"),
            },
        )
        .await,
    ];
    idle(&sim).await;
    let bodies = recv.bodies();
    assert_eq!(
        named(&bodies, "user_send_text")[0]["message"]["quote_msg_id"],
        "0011"
    );
    let echo = bodies
        .iter()
        .find(|b| b["message"]["msg_id"] == sent.as_str())
        .unwrap();
    assert_eq!(
        (echo["event_name"].as_str(), echo["sender"].get("admin_id")),
        (Some("oa_send_text"), None)
    );
    for (id, name) in ids
        .iter()
        .zip(["oa_send_text", "oa_send_image", "oa_send_file"])
    {
        let e = bodies
            .iter()
            .find(|b| b["message"]["msg_id"] == id.as_str())
            .unwrap();
        assert_eq!(
            (e["event_name"].as_str(), e["sender"]["admin_id"].as_str()),
            (Some(name), Some("a1"))
        );
    }
    // Staff sends are in the history (src 0) but not among the API sends.
    assert_eq!(sim.sent_to(USER).len(), 1);
    let (_, v) = api_get(
        &sim,
        "/v2.0/oa/conversation",
        &tok,
        Some(&json!({"user_id": USER, "offset": 0, "count": 10})),
    )
    .await;
    let hist: Vec<(i64, String)> = v["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["src"].as_i64().unwrap(),
                m["type"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        hist,
        [
            (0, "file".to_owned()),
            (0, "photo".into()),
            (0, "text".into()),
            (0, "text".into()),
            (1, "text".into())
        ]
    );
    assert_eq!(v["data"][4]["message_id"], asked.as_str());
    // The staff file is served.
    let e = bodies
        .iter()
        .find(|b| b["message"]["msg_id"] == ids[2].as_str())
        .unwrap();
    let url = e["message"]["attachments"][0]["payload"]["url"]
        .as_str()
        .unwrap();
    assert_eq!(
        reqwest::get(url)
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap()
            .as_ref(),
        b"%PDF"
    );
}

#[tokio::test]
async fn anonymous_visitors_have_hex_ids_and_one_conversation() {
    let (sim, _c, recv) = with_receiver(SimConfig::default()).await;
    let anon = ZaloSim::new_anonymous_id();
    assert!(anon.len() == 20 && anon.chars().all(|c| c.is_ascii_hexdigit()));
    let m1 = sim
        .anonymous_sends(&anon, AnonymousAction::Text("xin chào".into()))
        .await;
    sim.anonymous_sends(
        &anon,
        AnonymousAction::File {
            name: "cv.pdf".into(),
            bytes: Bytes::from_static(b"%PDF"),
        },
    )
    .await;
    idle(&sim).await;
    let bodies = recv.bodies();
    assert_eq!(bodies.len(), 2);
    assert_eq!(bodies[0]["message"]["msg_id"], m1.as_str());
    assert_eq!(bodies[1]["event_name"], "anonymous_send_file");
    assert_eq!(
        bodies[0]["message"]["conversation_id"],
        bodies[1]["message"]["conversation_id"]
    );
    assert_eq!(bodies[0]["sender"]["id"], anon.as_str());
    // Replying needs the right conversation id.
    let tok = token(&sim);
    let wrong = api_post(&sim, "/v2.0/oa/message", &tok, &json!({"recipient": {"anonymous_id": anon, "conversation_id": "ffff"}, "message": {"text": "x"}})).await;
    assert_eq!(wrong["error"], -201);
    // Anonymous visitors are not users: no history, no CS.
    assert_eq!(send_text(&sim, &tok, &anon, "x").await["error"], -213);
}

#[tokio::test]
async fn bodies_vary_as_zalos_do() {
    let (sim, _c, recv) = with_receiver(SimConfig::default()).await;
    for i in 0..40 {
        sim.user_sends(USER, UserAction::Text(format!("m{i}")))
            .await;
    }
    idle(&sim).await;
    let events = recv.events();
    let with_by_app = events
        .iter()
        .filter(|(_, b)| {
            serde_json::from_slice::<Value>(b)
                .unwrap()
                .get("user_id_by_app")
                .is_some()
        })
        .count();
    assert!(
        with_by_app > 0 && with_by_app < events.len(),
        "user_id_by_app present on {with_by_app} of {}",
        events.len()
    );
    let first_keys: std::collections::BTreeSet<String> = events
        .iter()
        .map(|(_, b)| {
            let s = std::str::from_utf8(b).unwrap();
            s[2..s.find("\":").unwrap()].to_owned()
        })
        .collect();
    assert!(
        first_keys.contains("app_id") && first_keys.contains("event_name"),
        "{first_keys:?}"
    );
    // Compact JSON, ids and times as strings.
    for (_, b) in &events {
        let s = std::str::from_utf8(b).unwrap();
        assert!(!s.contains(": ") && !s.contains('\n'));
        let v: Value = serde_json::from_slice(b).unwrap();
        assert!(
            v["sender"]["id"].is_string()
                && v["recipient"]["id"].is_string()
                && v["timestamp"].is_string()
        );
    }
}

/// Given a CDN host name, media links carry it (with the API's port) and are served under it to a
/// caller that resolves it to the simulator; links given out before keep working.
#[tokio::test]
async fn media_links_go_by_a_cdn_host_name() {
    let (sim, _c, recv) = with_receiver(SimConfig::default()).await;
    let u = "5234000000000000001";
    add_user(&sim, u);
    let photo = |b: &'static [u8]| UserAction::Image {
        caption: None,
        bytes: Bytes::from_static(b),
    };
    sim.user_sends(u, photo(b"\x89PNG before")).await;
    let host = "f6.photo.talk.zdn.vn";
    sim.set_media_host(Some(host));
    sim.user_sends(u, photo(b"\x89PNG after")).await;
    idle(&sim).await;
    let bodies = recv.bodies();
    let images = named(&bodies, "user_send_image");
    let url_of = |b: &Value| {
        b.pointer("/message/attachments/0/payload/url")
            .and_then(Value::as_str)
            .unwrap()
            .to_owned()
    };
    let (before, after) = (url_of(images[0]), url_of(images[1]));
    let api = sim.api_base();
    let parsed = url::Url::parse(&after).unwrap();
    assert_eq!(parsed.host_str(), Some(host), "{after}");
    assert_eq!(parsed.port(), api.port());
    let addr = api.socket_addrs(|| None).unwrap()[0];
    let named_client = reqwest::Client::builder()
        .resolve(host, addr)
        .build()
        .unwrap();
    let got = named_client.get(&after).send().await.unwrap();
    assert_eq!(got.bytes().await.unwrap().as_ref(), b"\x89PNG after");
    let got = reqwest::get(&before).await.unwrap();
    assert_eq!(got.bytes().await.unwrap().as_ref(), b"\x89PNG before");
}

/// The anonymous send takes what the reference documents (§2.3: text, image by URL, file token,
/// sticker), echoes each as `oa_send_anonymous_*` with the answer's `message_id`, records it under
/// the anonymous id, and refuses the rest (an uploaded image's `attachment_id`, a GIF).
#[tokio::test]
async fn the_anonymous_send_takes_text_image_urls_file_tokens_and_stickers() {
    let (sim, _c, recv) = with_receiver(SimConfig::default()).await;
    let tok = token(&sim);
    let anon = ZaloSim::new_anonymous_id();
    sim.anonymous_sends(&anon, AnonymousAction::Text("hi".into()))
        .await;
    idle(&sim).await;
    let conv = recv.bodies()[0]["message"]["conversation_id"].clone();
    let to = json!({"anonymous_id": anon, "conversation_id": conv});
    let media = |el: Value| json!({"attachment": {"type": "template", "payload": {"template_type": "media", "elements": [el]}}});
    let file = sim_upload_file(&sim, &tok).await;
    let sends = [
        (json!({"text": "chào bạn"}), "oa_send_anonymous_text"),
        (
            media(json!({"media_type": "image", "url": "https://example.com/a.png"})),
            "oa_send_anonymous_image",
        ),
        (
            json!({"attachment": {"type": "file", "payload": {"token": file}}}),
            "oa_send_anonymous_file",
        ),
        (
            media(json!({"media_type": "sticker", "attachment_id": "bfe458bf64fa8da4d4eb"})),
            "oa_send_anonymous_sticker",
        ),
    ];
    for (message, echo) in &sends {
        let got = api_post(
            &sim,
            "/v2.0/oa/message",
            &tok,
            &json!({"recipient": to, "message": message}),
        )
        .await;
        assert_eq!(got["error"], 0, "{message}: {got}");
        assert_eq!(got["data"]["anonymous_id"], anon.as_str());
        idle(&sim).await;
        let bodies = recv.bodies();
        let e = named(&bodies, echo);
        assert_eq!(e.len(), 1, "{echo}");
        assert_eq!(e[0]["message"]["msg_id"], got["data"]["message_id"]);
        assert_eq!(e[0]["recipient"]["id"], anon.as_str());
    }
    assert_eq!(sim.sent_to(&anon).len(), 4);
    for refused in [
        media(json!({"media_type": "image", "attachment_id": "abc"})),
        media(json!({"media_type": "gif", "attachment_id": "abc", "width": 1, "height": 1})),
        json!({"text": "x", "quote_message_id": "m"}),
    ] {
        let got = api_post(
            &sim,
            "/v2.0/oa/message",
            &tok,
            &json!({"recipient": to, "message": refused}),
        )
        .await;
        assert_ne!(got["error"], 0, "{refused}: {got}");
    }
    assert_eq!(sim.sent_to(&anon).len(), 4);
}

/// Group (GMF) and call events as the reference names them, the group id where a user's would be.
#[tokio::test]
async fn group_and_call_events_carry_their_names_and_the_group() {
    use zfsync_zalo::sim::{CallEvent, GroupSender};
    let (sim, _c, recv) = with_receiver(SimConfig::default()).await;
    let cfg = sim.config();
    sim.group_message("g-77", GroupSender::Member(USER.into()), "hi all")
        .await;
    sim.group_message("g-77", GroupSender::Oa, "hello group")
        .await;
    sim.call_event(USER, CallEvent::OaSendConsent).await;
    sim.call_event(USER, CallEvent::UserReplyConsent).await;
    idle(&sim).await;
    let bodies = recv.bodies();
    let g = named(&bodies, "user_send_group_text");
    assert_eq!(
        (&g[0]["sender"]["id"], &g[0]["recipient"]["id"]),
        (&json!(USER), &json!("g-77"))
    );
    let g = named(&bodies, "oa_send_group_text");
    assert_eq!(
        (&g[0]["sender"]["id"], &g[0]["recipient"]["id"]),
        (&json!(cfg.oa_id), &json!("g-77"))
    );
    assert_eq!(g[0]["message"]["text"], "hello group");
    let c = named(&bodies, "oa_send_consent");
    assert_eq!(c[0]["recipient"]["id"], USER);
    let c = named(&bodies, "user_reply_consent");
    assert_eq!(c[0]["sender"]["id"], USER);
    for b in &bodies {
        assert!(b["timestamp"].is_string() && b["app_id"].is_string(), "{b}");
    }
}

/// A PDF uploaded through `/v2.0/oa/upload/file`: its token.
async fn sim_upload_file(sim: &ZaloSim, tok: &str) -> String {
    let part = reqwest::multipart::Part::bytes(b"%PDF-1.4".to_vec()).file_name("a.pdf");
    let form = reqwest::multipart::Form::new().part("file", part);
    let got: Value = reqwest::Client::new()
        .post(sim.api_base().join("v2.0/oa/upload/file").unwrap())
        .header("access_token", tok)
        .multipart(form)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    got["data"]["token"].as_str().unwrap().to_owned()
}
