//! The simulator's webhook bodies against the real-world samples (`zalo-webhook-*`): every event
//! kind the corpus has, produced by the simulated people and sends, signed as Zalo signs, with the
//! sample's keys and JSON types (whole envelopes, or the `message.attachments` fragments).

use serde_json::{json, Value};
use sha2::{Digest as _, Sha256};
use zfsync_zalo::sim::SubmittedInfo;
use zfsync_zalo::sim::{AnonymousAction, ListItem, SimConfig, StaffAction, UserAction, ZaloSim};

use super::corpus::{body, check, sample};
use super::*;

// ------------------------------------------------------------------ webhooks

fn signed_ok(sim: &ZaloSim, headers: &axum::http::HeaderMap, raw: &[u8]) {
    let cfg = sim.config();
    let v: Value = serde_json::from_slice(raw).unwrap();
    let ts = v["timestamp"].as_str().expect("timestamp is a string");
    assert!(
        ts.chars().all(|c| c.is_ascii_digit()) && ts.len() == 13,
        "{ts}"
    );
    let mut h = Sha256::new();
    h.update(cfg.app_id.as_bytes());
    h.update(raw);
    h.update(ts.as_bytes());
    h.update(cfg.oa_secret_key.as_bytes());
    assert_eq!(
        headers["x-zevent-signature"].to_str().unwrap(),
        format!("mac={}", hex::encode(h.finalize()))
    );
    assert_eq!(headers["x-zevent-server"], "OA OpenAPI");
    assert_eq!(headers["user-agent"], "ZaloWebhook");
}

#[tokio::test]
async fn webhook_bodies_have_the_samples_shapes() {
    let Some(dir) = corpus_dir() else { return };
    let (sim, _client, recv) = with_receiver(SimConfig::default()).await;
    let tok = token(&sim);
    let png = bytes::Bytes::from_static(b"\x89PNG\r\n\x1a\n");
    add_user(&sim, USER);
    let newcomer = "8309215952164870311";

    let first = sim
        .user_sends(USER, UserAction::Text("message".into()))
        .await;
    sim.user_sends(
        USER,
        UserAction::Image {
            caption: Some("ảnh".into()),
            bytes: png.clone(),
        },
    )
    .await;
    sim.user_sends(
        USER,
        UserAction::Gif {
            bytes: bytes::Bytes::from_static(b"GIF89a"),
        },
    )
    .await;
    sim.user_sends(
        USER,
        UserAction::Link {
            url: "https://developers.zalo.me/".into(),
            title: Some("Zalo".into()),
        },
    )
    .await;
    sim.user_sends(
        USER,
        UserAction::Audio {
            bytes: bytes::Bytes::from_static(b"#!AMR"),
        },
    )
    .await;
    sim.user_sends(
        USER,
        UserAction::Video {
            bytes: bytes::Bytes::from_static(b"mp4"),
        },
    )
    .await;
    sim.user_sends(
        USER,
        UserAction::Sticker {
            id: "e1540df031b5deb81a4".into(),
        },
    )
    .await;
    sim.user_sends(
        USER,
        UserAction::Place {
            name: "Cơm Coffee New Sky".into(),
            latitude: "10.7923119".into(),
            longitude: "106.7820651".into(),
        },
    )
    .await;
    sim.user_sends(
        USER,
        UserAction::File {
            name: "developer.docx".into(),
            bytes: bytes::Bytes::from_static(b"PK"),
        },
    )
    .await;
    sim.user_sends(
        USER,
        UserAction::BusinessCard {
            name: "Chị B".into(),
            phone: "0901234567".into(),
        },
    )
    .await;
    sim.user_sends(
        USER,
        UserAction::Reaction {
            msg_id: first.clone(),
            icon: ":-h".into(),
        },
    )
    .await;
    let reply = send_text(&sim, &tok, USER, "Dạ").await;
    let reply_id = reply["data"]["message_id"].as_str().unwrap().to_owned();
    sim.user_sends(
        USER,
        UserAction::Received {
            msg_id: reply_id.clone(),
        },
    )
    .await;
    sim.user_sends(USER, UserAction::Seen { msg_ids: vec![] })
        .await;
    api_post(
        &sim,
        "/v2.0/oa/message",
        &tok,
        &json!({"recipient": {"user_id": USER},
        "sender_action": {"react_icon": ":-h", "react_message_id": first}}),
    )
    .await;
    sim.user_sends(USER, UserAction::Follow).await;
    sim.user_sends(
        USER,
        UserAction::FollowVia {
            source: "zalo".into(),
        },
    )
    .await;
    sim.user_sends(newcomer, UserAction::ClickChatNow).await;
    sim.user_sends(
        USER,
        UserAction::SubmitInfo(SubmittedInfo {
            name: "Tò Trần".into(),
            phone: "841213333111".into(),
            address: "Aaaaaass".into(),
            city: "Vĩnh Long".into(),
            district: "Huyện Trà Ôn".into(),
            ward: String::new(),
        }),
    )
    .await;
    sim.user_sends(
        USER,
        UserAction::UpdateInfo {
            method: "dynamic_url".into(),
        },
    )
    .await;
    sim.user_sends(USER, UserAction::Withdraw).await;
    sim.staff_sends_text(USER, "4267886274574868951", "message")
        .await;
    sim.staff_sends(
        USER,
        "4267886274574868951",
        StaffAction::File {
            name: "developer.docx".into(),
            bytes: bytes::Bytes::from_static(b"PK"),
        },
    )
    .await;
    sim.staff_sends(
        USER,
        "4267886274574868951",
        StaffAction::List(vec![
            ListItem {
                description: "Zalo".into(),
                thumbnail: "https://t/1".into(),
                url: String::new(),
            },
            ListItem {
                description: "your_description".into(),
                thumbnail: "https://t/2".into(),
                url: "https://media.zalo.me/detail/1".into(),
            },
        ]),
    )
    .await;
    sim.staff_sends(
        USER,
        "4267886274574868951",
        StaffAction::Template {
            template_id: "12056".into(),
            text: "Xác nhận đặt bàn thành công".into(),
        },
    )
    .await;
    let anon = ZaloSim::new_anonymous_id();
    sim.anonymous_sends(&anon, AnonymousAction::Text("hello".into()))
        .await;
    sim.anonymous_sends(
        &anon,
        AnonymousAction::Image {
            caption: None,
            bytes: png.clone(),
        },
    )
    .await;
    sim.anonymous_sends(&anon, AnonymousAction::Sticker { id: "0".into() })
        .await;
    idle(&sim).await;
    let anon_conv = recv
        .bodies()
        .iter()
        .find(|b| b["event_name"] == "anonymous_send_text")
        .unwrap()["message"]["conversation_id"]
        .clone();
    let got = api_post(&sim, "/v2.0/oa/message", &tok, &json!({"recipient": {"anonymous_id": anon, "conversation_id": anon_conv}, "message": {"text": "hello"}})).await;
    check(
        "anonymous send",
        &body(&dir, "zalo-api-message-anonymous-success.json"),
        &got,
    );
    idle(&sim).await;

    for (h, raw) in recv.events() {
        signed_ok(&sim, &h, &raw);
    }
    let bodies = recv.bodies();
    let find = |name: &str| -> Value {
        bodies
            .iter()
            .find(|b| b["event_name"] == name)
            .unwrap_or_else(|| panic!("no {name} delivered"))
            .clone()
    };
    let find_by = |name: &str, key: &str, val: &str| -> Value {
        bodies
            .iter()
            .find(|b| {
                b["event_name"] == name && b.pointer(key).and_then(Value::as_str) == Some(val)
            })
            .unwrap_or_else(|| panic!("no {name} with {key}={val}"))
            .clone()
    };

    // Whole envelopes.
    let envelopes = [
        ("zalo-webhook-user_send_text.json", find("user_send_text")),
        (
            "zalo-webhook-user_send_text-captured.json",
            find("user_send_text"),
        ),
        (
            "zalo-webhook-user_send_image-fixture2021.json",
            find("user_send_image"),
        ),
        (
            "zalo-webhook-user_seen_message.json",
            find("user_seen_message"),
        ),
        (
            "zalo-webhook-user_received_message.json",
            find("user_received_message"),
        ),
        (
            "zalo-webhook-user_reacted_message.json",
            find("user_reacted_message"),
        ),
        (
            "zalo-webhook-oa_reacted_message.json",
            find("oa_reacted_message"),
        ),
        (
            "zalo-webhook-follow.json",
            find_by("follow", "/source", "oa_profile"),
        ),
        (
            "zalo-webhook-user_click_chatnow.json",
            find("user_click_chatnow"),
        ),
        (
            "zalo-webhook-user_submit_info.json",
            find("user_submit_info"),
        ),
        ("zalo-webhook-user_withdraw.json", find("user_withdraw")),
        (
            "zalo-webhook-oa_send_text.json",
            find_by("oa_send_text", "/sender/admin_id", "4267886274574868951"),
        ),
        (
            "zalo-webhook-anonymous_send_text.json",
            find("anonymous_send_text"),
        ),
        (
            "zalo-webhook-oa_send_anonymous_text.json",
            find("oa_send_anonymous_text"),
        ),
    ];
    for (file, got) in &envelopes {
        check(file, &body(&dir, file), got);
    }
    let located = sample(&dir, "zalo-webhook-user_send_location-captured.json");
    check(
        "location (captured)",
        &located["body_converted_from_ruby_inspect"],
        &find("user_send_location"),
    );
    let captured_follow = body(&dir, "zalo-webhook-follow-captured.json");
    let zalo_follow = find_by("follow", "/source", "zalo");
    check("follow (captured)", &captured_follow, &zalo_follow);
    // The API echo carries no admin_id; the staff one does.
    let api_echo = find_by("oa_send_text", "/message/msg_id", &reply_id);
    assert!(api_echo["sender"].get("admin_id").is_none());
    // user_submit_info sends the phone as a number; seen/received and submit_info have no user_id_by_app.
    assert!(find("user_submit_info")["info"]["phone"].is_u64());
    for name in [
        "user_seen_message",
        "user_received_message",
        "user_submit_info",
    ] {
        assert!(find(name).get("user_id_by_app").is_none(), "{name}");
    }

    // Attachment fragments.
    let fragments = [
        ("zalo-webhook-user_send_image.json", "user_send_image"),
        ("zalo-webhook-user_send_gif.json", "user_send_gif"),
        ("zalo-webhook-user_send_link.json", "user_send_link"),
        ("zalo-webhook-user_send_audio.json", "user_send_audio"),
        ("zalo-webhook-user_send_video.json", "user_send_video"),
        ("zalo-webhook-user_send_sticker.json", "user_send_sticker"),
        ("zalo-webhook-user_send_location.json", "user_send_location"),
        ("zalo-webhook-user_send_file.json", "user_send_file"),
        ("zalo-webhook-oa_send_file.json", "oa_send_file"),
        ("zalo-webhook-oa_send_list.json", "oa_send_list"),
        (
            "zalo-webhook-anonymous_send_image.json",
            "anonymous_send_image",
        ),
        (
            "zalo-webhook-anonymous_send_sticker.json",
            "anonymous_send_sticker",
        ),
    ];
    for (file, name) in fragments {
        check(
            file,
            &body(&dir, file),
            &find(name)["message"]["attachments"],
        );
    }
    assert_eq!(
        find("oa_send_list")["message"]["attachments"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    // Business cards are `link` attachments whose description is a JSON string.
    let card = find("user_send_business_card");
    let desc: Value = serde_json::from_str(
        card["message"]["attachments"][0]["payload"]["description"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(desc["phone"], "0901234567");
    assert!(desc["qrCodeUrl"].is_string());

    // Samples that are not valid JSON as published: checked against their documented fields.
    let tpl = find("oa_send_template");
    let payload = &tpl["message"]["attachments"][0]["payload"];
    let raw = sample(&dir, "zalo-webhook-oa_send_template.json")["body_text"]
        .as_str()
        .unwrap()
        .to_owned();
    for key in ["zinstant_id", "text", "link_url", "checksum"] {
        assert!(raw.contains(&format!("\"{key}\"")), "{key} in the sample");
        assert!(payload[key].is_string(), "{key}: {payload}");
    }
    assert_eq!(payload["zinstant_id"], "templateId=12056");
    let upd = find("update_user_info");
    let raw = sample(&dir, "zalo-webhook-update_user_info.json")["body_text"]
        .as_str()
        .unwrap()
        .to_owned();
    for key in [
        "app_id",
        "oa_id",
        "user_id_by_app",
        "user_id",
        "event_name",
        "timestamp",
    ] {
        assert!(raw.contains(&format!("\"{key}\"")), "{key} in the sample");
        assert!(upd[key].is_string(), "{key}: {upd}");
    }
    assert_eq!(upd["data"], json!({"method": "dynamic_url"}));
    // The documented example names the user by user_id_by_app only: user_id is "".
    assert!(
        raw.contains(r#""user_id":"""#),
        "the sample's user_id is empty"
    );
    assert_eq!(upd["user_id"], "", "{upd}");
    assert!(upd["user_id_by_app"]
        .as_str()
        .is_some_and(|s| !s.is_empty()));
    // The anonymous visitor's id is 20 hex characters; its conversation id is stable.
    let a = find("anonymous_send_image");
    assert_eq!(a["sender"]["id"].as_str().unwrap().len(), 20);
    assert_eq!(a["message"]["conversation_id"], anon_conv);
}
