//! The simulator's webhooks read with the crate's verifier and parser: every user action and send
//! kind arrives signed and typed, media are downloadable, delivery retries, duplicates, reorders and
//! runs users in parallel.

use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::Bytes;
use secrecy::SecretString;
use serde_json::{json, Value};
use zfsync_zalo::sim::{Fault, SimConfig, UserAction, WebhookMode, ZaloSim};
use zfsync_zalo::webhook::{self, names};
use zfsync_zalo::{
    Attachment, MediaSource, OutboundMessage, UserMessageKind, ZaloError, ZaloEvent,
};

use super::{active_user, add_user, idle, start, with_receiver, Receiver, USER};

fn tokens(sim: &ZaloSim) -> SecretString {
    SecretString::from(sim.issue_tokens().0)
}

fn api_code(r: Result<impl std::fmt::Debug, ZaloError>) -> i64 {
    match r {
        Err(ZaloError::Api { code, .. }) => code,
        other => panic!("expected an API error, got {other:?}"),
    }
}

fn parsed(r: &Receiver) -> Vec<ZaloEvent> {
    r.events()
        .iter()
        .map(|(_, b)| webhook::parse_event(b).unwrap())
        .collect()
}

// ------------------------------------------------------------------ users' side and webhooks

#[tokio::test]
async fn user_actions_arrive_signed_and_typed() {
    let (sim, client, recv) = with_receiver(SimConfig::default()).await;
    let cfg = sim.config();
    let jpg = Bytes::from_static(b"\xff\xd8\xff\xe0 jpeg bytes");
    let ids = vec![
        sim.user_sends(USER, UserAction::Follow).await,
        sim.user_sends(USER, UserAction::Text("Cho mình hỏi giá".into()))
            .await,
        sim.user_sends(
            USER,
            UserAction::Image {
                caption: Some("ảnh".into()),
                bytes: jpg.clone(),
            },
        )
        .await,
        sim.user_sends(
            USER,
            UserAction::Gif {
                bytes: Bytes::from_static(b"GIF89a"),
            },
        )
        .await,
        sim.user_sends(USER, UserAction::Sticker { id: "st1".into() })
            .await,
        sim.user_sends(
            USER,
            UserAction::File {
                name: "hợp đồng.pdf".into(),
                bytes: Bytes::from_static(b"%PDF"),
            },
        )
        .await,
        sim.user_sends(
            USER,
            UserAction::Audio {
                bytes: Bytes::from_static(b"#!AMR"),
            },
        )
        .await,
        sim.user_sends(
            USER,
            UserAction::Video {
                bytes: Bytes::from_static(b"mp4"),
            },
        )
        .await,
        sim.user_sends(
            USER,
            UserAction::Location {
                latitude: "10.76".into(),
                longitude: "106.65".into(),
            },
        )
        .await,
        sim.user_sends(
            USER,
            UserAction::Link {
                url: "https://zalo.me".into(),
                title: Some("Zalo".into()),
            },
        )
        .await,
        sim.user_sends(
            USER,
            UserAction::BusinessCard {
                name: "Chị B".into(),
                phone: "0901234567".into(),
            },
        )
        .await,
    ];
    let r = sim
        .user_sends(
            USER,
            UserAction::Reaction {
                msg_id: ids[1].clone(),
                icon: "/-heart".into(),
            },
        )
        .await;
    assert_eq!(r, ids[1]);
    assert_eq!(sim.user_sends(USER, UserAction::Unfollow).await, "");
    idle(&sim).await;

    let got = recv.events();
    assert_eq!(got.len(), 13);
    let key = sim.oa_secret_key();
    for (h, body) in &got {
        webhook::verify(
            &cfg.app_id,
            &key,
            body,
            h.get("x-zevent-signature").and_then(|v| v.to_str().ok()),
        )
        .unwrap();
        assert_eq!(h["user-agent"], "ZaloWebhook");
        assert_eq!(h["x-zevent-server"], "OA OpenAPI");
        assert!(h.get("num_retry").is_none());
    }
    let ev = parsed(&recv);
    assert!(
        matches!(&ev[0], ZaloEvent::Follow { user_id, oa_id, .. } if user_id == USER && oa_id == &cfg.oa_id)
    );
    let kinds: Vec<UserMessageKind> = ev[1..11]
        .iter()
        .map(|e| match e {
            ZaloEvent::UserMessage(m) => {
                assert_eq!(
                    (m.user_id.as_str(), m.oa_id.as_str()),
                    (USER, cfg.oa_id.as_str())
                );
                m.kind
            }
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        kinds,
        vec![
            UserMessageKind::Text,
            UserMessageKind::Image,
            UserMessageKind::Gif,
            UserMessageKind::Sticker,
            UserMessageKind::File,
            UserMessageKind::Audio,
            UserMessageKind::Video,
            UserMessageKind::Location,
            UserMessageKind::Link,
            UserMessageKind::BusinessCard,
        ]
    );
    for (e, id) in ev[1..11].iter().zip(&ids[1..]) {
        assert_eq!(&e.dedupe_key(), id);
    }
    assert!(
        matches!(&ev[11], ZaloEvent::UserReacted { msg_id, react_icon, .. } if msg_id == &ids[1] && react_icon == "/-heart")
    );
    assert!(matches!(&ev[12], ZaloEvent::Unfollow { .. }));

    // Media is downloadable from the webhook URL.
    let ZaloEvent::UserMessage(img) = &ev[2] else {
        panic!()
    };
    assert_eq!(img.text.as_deref(), Some("ảnh"));
    let url = img.attachments[0].url().unwrap().to_owned();
    let d = client.download(&url, 1024).await.unwrap();
    assert_eq!(d.bytes, jpg);
    assert_eq!(d.content_type.as_deref(), Some("image/jpeg"));
    assert!(matches!(
        client.download(&url, 4).await,
        Err(ZaloError::TooLarge { limit: 4 })
    ));
    let ZaloEvent::UserMessage(file) = &ev[5] else {
        panic!()
    };
    let Attachment::File {
        url,
        name,
        size,
        file_type,
        ..
    } = &file.attachments[0]
    else {
        panic!()
    };
    assert_eq!(
        (name.as_deref(), *size, file_type.as_deref()),
        (Some("hợp đồng.pdf"), Some(4), Some("pdf"))
    );
    let d = client.download(url, 1024).await.unwrap();
    assert_eq!(d.filename.as_deref(), Some("hợp đồng.pdf"));
    let ZaloEvent::UserMessage(loc) = &ev[8] else {
        panic!()
    };
    assert_eq!(
        loc.attachments[0],
        Attachment::Location {
            latitude: "10.76".into(),
            longitude: "106.65".into()
        }
    );
    let ZaloEvent::UserMessage(sticker) = &ev[4] else {
        panic!()
    };
    client
        .download(sticker.attachments[0].url().unwrap(), 1024)
        .await
        .unwrap();
    // Missing media and injected media faults.
    let mut missing = sim.api_base();
    missing.set_path("/sim/media/none");
    assert!(matches!(
        client.download(missing.as_str(), 10).await,
        Err(ZaloError::Http { status: 404, .. })
    ));
    sim.fail_next("/sim/media", 1, Fault::HttpStatus(502));
    assert!(client.download(url, 1024).await.unwrap_err().is_transient());

    // The interaction opened the window; sends are echoed with the same msg_id and no admin_id.
    let tok = tokens(&sim);
    let sent = client
        .send_message(
            &tok,
            USER,
            &OutboundMessage::Text {
                text: "Dạ".into(),
                quote_message_id: Some(ids[1].clone()),
            },
        )
        .await
        .unwrap();
    let staff = sim.staff_sends_text(USER, "admin-42", "Chào anh").await;
    idle(&sim).await;
    let ev = parsed(&recv);
    let ZaloEvent::OaMessage(echo) = &ev[13] else {
        panic!("{:?}", ev[13])
    };
    assert_eq!(
        (
            echo.event_name.as_str(),
            echo.msg_id.as_str(),
            echo.admin_id.as_ref()
        ),
        (names::OA_SEND_TEXT, sent.message_id.as_str(), None)
    );
    assert_eq!(echo.user_id, USER);
    let ZaloEvent::OaMessage(st) = &ev[14] else {
        panic!()
    };
    assert_eq!(
        (
            st.msg_id.as_str(),
            st.admin_id.as_deref(),
            st.text.as_deref()
        ),
        (staff.as_str(), Some("admin-42"), Some("Chào anh"))
    );
}

#[tokio::test]
async fn echoes_match_each_send_kind() {
    let (sim, client, recv) = with_receiver(SimConfig::default()).await;
    active_user(&sim, USER);
    let tok = tokens(&sim);
    let img = client
        .upload_image(&tok, "a.png", Bytes::from_static(b"png"))
        .await
        .unwrap();
    let gif = client
        .upload_gif(&tok, "a.gif", Bytes::from_static(b"gif"))
        .await
        .unwrap();
    let file = client
        .upload_file(&tok, "a.pdf", Bytes::from_static(b"pdf"))
        .await
        .unwrap();
    let msgs = [
        (
            OutboundMessage::Image {
                source: MediaSource::AttachmentId(img),
                caption: Some("c".into()),
            },
            names::OA_SEND_IMAGE,
        ),
        (
            OutboundMessage::Gif {
                attachment_id: gif,
                width: 1,
                height: 1,
                caption: None,
            },
            names::OA_SEND_GIF,
        ),
        (
            OutboundMessage::Sticker {
                sticker_id: "s".into(),
            },
            names::OA_SEND_STICKER,
        ),
        (OutboundMessage::File { token: file }, names::OA_SEND_FILE),
    ];
    let mut ids = vec![];
    for (m, _) in &msgs {
        ids.push(client.send_message(&tok, USER, m).await.unwrap().message_id);
    }
    idle(&sim).await;
    let ev = parsed(&recv);
    assert_eq!(ev.len(), 4);
    for ((e, (_, name)), id) in ev.iter().zip(&msgs).zip(&ids) {
        assert_eq!(e.event_name(), *name);
        assert_eq!(&e.dedupe_key(), id);
        let ZaloEvent::OaMessage(m) = e else { panic!() };
        assert!(m.admin_id.is_none());
        assert!(!m.attachments.is_empty());
    }
    // The OA's own file is downloadable from its echo.
    let ZaloEvent::OaMessage(f) = &ev[3] else {
        panic!()
    };
    assert_eq!(
        client
            .download(f.attachments[0].url().unwrap(), 100)
            .await
            .unwrap()
            .bytes,
        Bytes::from_static(b"pdf")
    );
}

#[tokio::test]
async fn failed_deliveries_retry_on_the_scaled_ladder() {
    // 30 s / 3000 = 10 ms, 5 min / 3000 = 100 ms.
    let (sim, _client, recv) = with_receiver(SimConfig {
        time_scale: 3000.0,
        ..SimConfig::default()
    })
    .await;
    recv.fail_first.store(2, Ordering::SeqCst);
    let id = sim.user_sends(USER, UserAction::Text("hello".into())).await;
    idle(&sim).await;
    let d = sim.deliveries();
    let summary: Vec<(Option<u16>, u32)> = d.iter().map(|r| (r.status, r.num_retry)).collect();
    assert_eq!(
        summary,
        vec![(Some(500), 0), (Some(500), 1), (Some(200), 2)]
    );
    assert!(
        d.iter()
            .all(|r| r.msg_id.as_deref() == Some(id.as_str())
                && r.event_name == names::USER_SEND_TEXT)
    );
    let got = recv.events();
    assert!(got[0].0.get("num_retry").is_none());
    assert_eq!(got[1].0["num_retry"], "1");
    assert_eq!(got[2].0["num_retry"], "2");
    assert_eq!(got[0].1, got[2].1, "retries resend the same body");

    // A receiver that never succeeds gets the full ladder: 1 + 5 attempts.
    recv.fail_first.store(100, Ordering::SeqCst);
    sim.user_sends(USER, UserAction::Text("again".into())).await;
    assert!(sim.wait_deliveries_idle(Duration::from_secs(10)).await);
    let d = sim.deliveries();
    assert_eq!(d.len(), 3 + 6);
    assert_eq!(d.last().unwrap().num_retry, 5);
}

#[tokio::test]
async fn slow_receiver_times_out_and_retry_can_be_off() {
    let (sim, _c, recv) = with_receiver(SimConfig {
        webhook_retry: false,
        ..SimConfig::default()
    })
    .await;
    recv.delay_ms.store(2500, Ordering::SeqCst);
    sim.user_sends(USER, UserAction::Text("slow".into())).await;
    idle(&sim).await;
    assert_eq!(
        sim.deliveries(),
        vec![zfsync_zalo::sim::DeliveryRecord {
            event_name: names::USER_SEND_TEXT.into(),
            msg_id: sim.deliveries()[0].msg_id.clone(),
            status: None,
            num_retry: 0,
        }]
    );
}

#[tokio::test]
async fn duplicate_and_reorder_modes() {
    let (sim, _c, recv) = with_receiver(SimConfig::default()).await;
    sim.set_webhook_mode(WebhookMode::Duplicate);
    let a = sim.user_sends(USER, UserAction::Text("a".into())).await;
    idle(&sim).await;
    let ev = parsed(&recv);
    assert_eq!(ev.len(), 2);
    assert_eq!(ev[0], ev[1]);
    assert_eq!(ev[0].dedupe_key(), a);

    sim.set_webhook_mode(WebhookMode::Reorder);
    let mut ids = vec![];
    for t in ["1", "2", "3"] {
        ids.push(sim.user_sends(USER, UserAction::Text(t.into())).await);
    }
    idle(&sim).await;
    let got: Vec<String> = parsed(&recv)[2..]
        .iter()
        .map(ZaloEvent::dedupe_key)
        .collect();
    ids.reverse();
    assert_eq!(got, ids);

    // Leaving Reorder releases what is held.
    let x = sim.user_sends(USER, UserAction::Text("x".into())).await;
    sim.set_webhook_mode(WebhookMode::Normal);
    idle(&sim).await;
    assert_eq!(parsed(&recv).last().unwrap().dedupe_key(), x);
}

#[tokio::test]
async fn control_routes_mirror_the_rust_api() {
    let (sim, client, recv) = with_receiver(SimConfig::default()).await;
    let http = reqwest::Client::new();
    let u = |p: &str| sim.api_base().join(p).unwrap();
    let ok = |r: reqwest::Response| {
        assert!(r.status().is_success(), "{}", r.status());
        r
    };
    ok(http
        .post(u("/sim/users"))
        .json(&json!({"user_id": "55", "display_name": "Bình"}))
        .send()
        .await
        .unwrap());
    let v: Value = ok(http
        .post(u("/sim/users/55/send"))
        .json(&json!({"type": "text", "text": "chào"}))
        .send()
        .await
        .unwrap())
    .json()
    .await
    .unwrap();
    let first = v["msg_id"].as_str().unwrap().to_owned();
    ok(http
        .post(u("/sim/users/55/send"))
        .json(&json!({"type": "image", "caption": null, "data_base64": "aGVsbG8="}))
        .send()
        .await
        .unwrap());
    ok(http
        .post(u("/sim/users/55/send"))
        .json(&json!({"type": "reaction", "msg_id": first, "icon": ":>"}))
        .send()
        .await
        .unwrap());
    assert_eq!(
        http.post(u("/sim/users/55/send"))
            .json(&json!({"type": "image", "data_base64": "!!"}))
            .send()
            .await
            .unwrap()
            .status(),
        400
    );
    ok(http
        .post(u("/sim/users/55/staff_send"))
        .json(&json!({"admin_id": "a1", "text": "t"}))
        .send()
        .await
        .unwrap());
    let v: Value = ok(http.post(u("/sim/tokens")).send().await.unwrap())
        .json()
        .await
        .unwrap();
    let tok = SecretString::from(v["access_token"].as_str().unwrap().to_owned());
    client
        .send_message(
            &tok,
            "55",
            &OutboundMessage::Text {
                text: "ok".into(),
                quote_message_id: None,
            },
        )
        .await
        .unwrap();
    let sent: Vec<zfsync_zalo::sim::SentRecord> =
        ok(http.get(u("/sim/users/55/sent")).send().await.unwrap())
            .json()
            .await
            .unwrap();
    assert_eq!(sent.len(), 1);

    ok(http.post(u("/sim/faults")).json(&json!({"path": "/v3.0/oa/message/cs", "n": 1, "fault": {"api": {"code": -230, "message": "window"}}})).send().await.unwrap());
    let hi = OutboundMessage::Text {
        text: "x".into(),
        quote_message_id: None,
    };
    assert_eq!(api_code(client.send_message(&tok, "55", &hi).await), -230);
    ok(http
        .post(u("/sim/faults"))
        .json(&json!({"path": "/v2.0/oa/getoa", "fault": {"http_status": 500}}))
        .send()
        .await
        .unwrap());
    assert!(client.oa_info(&tok).await.unwrap_err().is_transient());
    ok(http
        .post(u("/sim/users/55/last_interaction"))
        .json(&json!({"at_ms": 0}))
        .send()
        .await
        .unwrap());
    assert_eq!(api_code(client.send_message(&tok, "55", &hi).await), -230);
    ok(http
        .post(u("/sim/users/55/blocked"))
        .json(&json!({"blocked": true}))
        .send()
        .await
        .unwrap());
    assert_eq!(api_code(client.send_message(&tok, "55", &hi).await), -217);
    ok(http
        .post(u("/sim/latency"))
        .json(&json!({"ms": 0}))
        .send()
        .await
        .unwrap());
    ok(http.post(u("/sim/tokens/expire")).send().await.unwrap());
    assert_eq!(api_code(client.oa_info(&tok).await), -216);
    let calls: Vec<String> = ok(http.get(u("/sim/calls")).send().await.unwrap())
        .json()
        .await
        .unwrap();
    assert!(
        calls.iter().any(|c| c.starts_with("/v2.0/oa/getoa")),
        "{calls:?}"
    );
    let v: Value = ok(http
        .post(u("/sim/groups/g-1/send"))
        .json(&json!({"text": "chào nhóm", "from": "55"}))
        .send()
        .await
        .unwrap())
    .json()
    .await
    .unwrap();
    assert!(v["msg_id"].is_string());
    ok(http
        .post(u("/sim/users/55/call"))
        .json(&json!({"event": "oa_send_consent"}))
        .send()
        .await
        .unwrap());
    assert_eq!(
        http.post(u("/sim/users/55/call"))
            .json(&json!({"event": "ring"}))
            .send()
            .await
            .unwrap()
            .status(),
        400
    );
    idle(&sim).await;
    let names: Vec<String> = recv
        .bodies()
        .iter()
        .map(|b| b["event_name"].as_str().unwrap_or("").to_owned())
        .collect();
    assert!(
        names.iter().any(|n| n == "user_send_group_text"),
        "{names:?}"
    );
    assert!(names.iter().any(|n| n == "oa_send_consent"), "{names:?}");

    ok(http
        .post(u("/sim/webhook"))
        .json(&json!({"mode": "duplicate"}))
        .send()
        .await
        .unwrap());
    ok(http
        .post(u("/sim/users/55/send"))
        .json(&json!({"type": "follow"}))
        .send()
        .await
        .unwrap());
    let v: Value = ok(http
        .post(u("/sim/deliveries/wait"))
        .json(&json!({"timeout_ms": 5000}))
        .send()
        .await
        .unwrap())
    .json()
    .await
    .unwrap();
    assert_eq!(v["idle"], true);
    let d: Vec<zfsync_zalo::sim::DeliveryRecord> =
        ok(http.get(u("/sim/deliveries")).send().await.unwrap())
            .json()
            .await
            .unwrap();
    assert_eq!(d.iter().filter(|r| r.event_name == "follow").count(), 2);
    assert_eq!(recv.events().len(), d.len());
    ok(http
        .post(u("/sim/webhook"))
        .json(&json!({"url": null}))
        .send()
        .await
        .unwrap());
    assert!(sim.config().webhook_url.is_none());
    let c: Value = ok(http.get(u("/sim/config")).send().await.unwrap())
        .json()
        .await
        .unwrap();
    assert_eq!(c["oa_id"], sim.config().oa_id.as_str());
    assert!(c["webhook_url"].is_null());
}

#[tokio::test]
async fn users_are_delivered_in_parallel_each_in_order() {
    let (sim, _c, recv) = with_receiver(SimConfig::default()).await;
    recv.delay_ms.store(300, Ordering::SeqCst);
    let mut per_user = vec![];
    for u in ["u1", "u2", "u3", "u4", "u5", "u6"] {
        let a = sim.user_sends(u, UserAction::Text("a".into())).await;
        let b = sim.user_sends(u, UserAction::Text("b".into())).await;
        per_user.push((u, a, b));
    }
    idle(&sim).await;
    // Different users' events were at the receiver at the same time.
    assert!(recv.max_in_flight.load(Ordering::SeqCst) >= 2);
    let ev = parsed(&recv);
    assert_eq!(ev.len(), 12);
    for (u, a, b) in per_user {
        let keys: Vec<String> = ev
            .iter()
            .filter(|e| e.user_id() == Some(u))
            .map(ZaloEvent::dedupe_key)
            .collect();
        assert_eq!(keys, vec![a, b]);
    }
}

#[tokio::test]
async fn the_client_verifies_and_types_every_event_the_simulator_sends() {
    let (sim, client, recv) = with_receiver(SimConfig::default()).await;
    let tok = tokens(&sim);
    add_user(&sim, USER);
    let first = sim
        .user_sends(
            USER,
            UserAction::Place {
                name: "Cơm Coffee".into(),
                latitude: "10.79".into(),
                longitude: "106.78".into(),
            },
        )
        .await;
    let sent = client
        .send_message(
            &tok,
            USER,
            &OutboundMessage::Text {
                text: "Dạ".into(),
                quote_message_id: Some(first.clone()),
            },
        )
        .await
        .unwrap();
    for action in [
        UserAction::Received {
            msg_id: sent.message_id.clone(),
        },
        UserAction::Seen { msg_ids: vec![] },
        UserAction::FollowVia {
            source: "zalo".into(),
        },
        UserAction::SubmitInfo(zfsync_zalo::sim::SubmittedInfo {
            name: "Lan".into(),
            phone: "84901234567".into(),
            ..Default::default()
        }),
        UserAction::UpdateInfo {
            method: "dynamic_url".into(),
        },
        UserAction::Withdraw,
    ] {
        sim.user_sends(USER, action).await;
    }
    sim.user_sends("5234000000000000009", UserAction::ClickChatNow)
        .await;
    sim.staff_sends(
        USER,
        "a1",
        zfsync_zalo::sim::StaffAction::List(vec![zfsync_zalo::sim::ListItem {
            description: "d".into(),
            thumbnail: String::new(),
            url: String::new(),
        }]),
    )
    .await;
    let anon = ZaloSim::new_anonymous_id();
    sim.anonymous_sends(&anon, zfsync_zalo::sim::AnonymousAction::Text("hi".into()))
        .await;
    idle(&sim).await;
    let cfg = sim.config();
    let key = sim.oa_secret_key();
    for (h, body) in recv.events() {
        webhook::verify(
            &cfg.app_id,
            &key,
            &body,
            h.get("x-zevent-signature").and_then(|v| v.to_str().ok()),
        )
        .unwrap();
    }
    let all = parsed(&recv);
    // Other users' lanes run in parallel: compare this user's events in order, the rest by name.
    let (ev, others): (Vec<ZaloEvent>, Vec<ZaloEvent>) =
        all.iter().cloned().partition(|e| e.user_id() == Some(USER));
    let names: Vec<&str> = ev.iter().map(ZaloEvent::event_name).collect();
    assert_eq!(
        names,
        [
            "user_send_location",
            "oa_send_text",
            "user_received_message",
            "user_seen_message",
            "follow",
            "user_submit_info",
            "user_withdraw",
            "oa_send_list",
        ]
    );
    // update_user_info names the user by user_id_by_app only (user_id ""), as documented.
    let mut rest: Vec<&str> = others.iter().map(ZaloEvent::event_name).collect();
    rest.sort_unstable();
    assert_eq!(
        rest,
        [
            "anonymous_send_text",
            "update_user_info",
            "user_click_chatnow"
        ]
    );
    let ZaloEvent::UserMessage(place) = &ev[0] else {
        panic!("{:?}", ev[0])
    };
    assert_eq!(
        (place.text.as_deref(), place.kind),
        (Some("Cơm Coffee"), UserMessageKind::Location)
    );
    assert!(
        matches!(&ev[2], ZaloEvent::UserReceived { msg_ids, user_id, .. } if msg_ids == std::slice::from_ref(&sent.message_id) && user_id == USER)
    );
    assert!(
        matches!(&ev[3], ZaloEvent::UserSeen { msg_ids, .. } if msg_ids == std::slice::from_ref(&sent.message_id))
    );
    assert!(
        matches!(&ev[4], ZaloEvent::Follow { source: Some(s), user_id, .. } if s == "zalo" && user_id == USER)
    );
    assert!(
        matches!(&ev[5], ZaloEvent::UserSubmitInfo { info, user_id, .. } if info.name.as_deref() == Some("Lan") && user_id == USER)
    );
    assert!(others.iter().any(
        |e| matches!(e, ZaloEvent::UserClickChatNow { user_id, .. } if user_id == "5234000000000000009")
    ));
    assert!(matches!(&ev[7], ZaloEvent::OaMessage(m) if m.admin_id.as_deref() == Some("a1")));
    assert!(others.iter().any(|e| matches!(e,
        ZaloEvent::UpdateUserInfo { user_id, user_id_by_app: Some(b), .. } if user_id.is_empty() && !b.is_empty())));
    assert!(others
        .iter()
        .any(|e| matches!(e, ZaloEvent::Anonymous { .. })));
    for e in &all {
        assert!(e.timestamp().is_some(), "{e:?}");
        let by_app_only = matches!(e, ZaloEvent::UpdateUserInfo { .. });
        assert_eq!(e.user_id().is_some(), !by_app_only, "{e:?}");
    }
}

/// `GET /sim` lists the control routes, and every route it lists is served (an unknown path
/// would answer axum's bare 404, a wrong method 405).
#[tokio::test]
async fn the_sim_index_lists_routes_that_exist() {
    let sim = start(SimConfig::default()).await;
    add_user(&sim, "55");
    let http = reqwest::Client::new();
    let index: Value = http
        .get(sim.api_base().join("/sim").unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(index["simulator"], "zalo");
    let routes = index["routes"].as_array().unwrap();
    assert!(routes.len() > 20, "{index}");
    let listed = |m: &str, p: &str| routes.iter().any(|r| r["method"] == m && r["path"] == p);
    assert!(listed("POST", "/sim/users/{id}/send"));
    assert!(listed("POST", "/sim/faults"));
    for r in routes {
        let (method, path) = (r["method"].as_str().unwrap(), r["path"].as_str().unwrap());
        assert!(!r["does"].as_str().unwrap().is_empty(), "{r}");
        let url = sim.api_base().join(&path.replace("{id}", "55")).unwrap();
        let req = match method {
            "GET" => http.get(url),
            "POST" => http.post(url).json(&json!({})),
            other => panic!("unexpected method {other}"),
        };
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let body = resp.bytes().await.unwrap();
        assert_ne!(status, 405, "{method} {path} is listed but not served");
        assert!(
            !(status == 404 && body.is_empty()),
            "{method} {path} is listed but not served"
        );
    }
}

/// The OA console's tagging over HTTP (`POST /sim/users/{id}/tags`, `POST /sim/tags/remove`): the
/// app gets `add_user_to_tag`, `remove_user_from_tag` and `remove_tag` as the reference shows
/// them, and the user's tags follow.
#[tokio::test]
async fn the_oa_consoles_tagging_is_driven_over_http() {
    let (sim, _client, recv) = with_receiver(SimConfig::default()).await;
    add_user(&sim, USER);
    let http = reqwest::Client::new();
    let post = |path: String, body: Value| {
        let (http, url) = (http.clone(), sim.api_base().join(&path).unwrap());
        async move { http.post(url).json(&body).send().await.unwrap().status() }
    };
    let tags = format!("/sim/users/{USER}/tags");
    assert_eq!(post(tags.clone(), json!({"tag": "vip"})).await, 200);
    assert_eq!(post(tags.clone(), json!({"tag": "sỉ"})).await, 200);
    assert_eq!(sim.user_tags(USER), ["vip", "sỉ"]);
    assert_eq!(
        post(tags.clone(), json!({"tag": "sỉ", "remove": true})).await,
        200
    );
    assert_eq!(
        post("/sim/tags/remove".into(), json!({"tag": "vip"})).await,
        200
    );
    assert!(sim.user_tags(USER).is_empty());
    assert_eq!(post(tags, json!({})).await, 400);
    idle(&sim).await;
    let names: Vec<String> = recv
        .bodies()
        .iter()
        .map(|b| b["event_name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        names,
        [
            "add_user_to_tag",
            "add_user_to_tag",
            "remove_user_from_tag",
            "remove_tag"
        ]
    );
    let first = &recv.bodies()[0];
    assert_eq!(first["tag"]["name"], "vip");
    assert_eq!(first["tag"]["user_ids"][0], USER);
}
