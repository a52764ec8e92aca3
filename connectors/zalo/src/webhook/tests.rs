//! Unit tests of webhook parsing: every event shape, ids as numbers, refusals, and property tests
//! that nothing panics.

use serde_json::json;

use super::*;

fn parse(v: Value) -> ZaloEvent {
    parse_event(v.to_string().as_bytes()).unwrap()
}

#[test]
fn timestamp_comes_from_the_event() {
    let text = br#"{"event_name":"user_send_text","sender":{"id":"1"},"recipient":{"id":"2"},"message":{"msg_id":"m","text":"hi"},"timestamp":"1700000000123"}"#;
    let e = parse_event(text).unwrap();
    assert_eq!(e.timestamp(), Some("1700000000123"));
    assert_eq!(e.time_ms(), Some(1_700_000_000_123));
    let follow = br#"{"event_name":"follow","oa_id":"2","follower":{"id":"1"},"timestamp":"17"}"#;
    assert_eq!(parse_event(follow).unwrap().timestamp(), Some("17"));
    let unknown = br#"{"event_name":"shop_has_order","timestamp":"9"}"#;
    assert_eq!(parse_event(unknown).unwrap().time_ms(), Some(9));
    assert_eq!(
        parse_event(br#"{"event_name":"x"}"#).unwrap().timestamp(),
        None
    );
    // Zalo's own examples have 11 and 12 digits: taken as given.
    let e = parse(
        json!({"event_name": "remove_tag", "oa_id": "1", "tag": {"name": "t"}, "timestamp": "15503500848"}),
    );
    assert_eq!(e.time_ms(), Some(15_503_500_848));
    let e = parse(
        json!({"event_name": "user_send_text", "sender": {"id": "1"}, "timestamp": "154390853474"}),
    );
    assert_eq!(e.time_ms(), Some(154_390_853_474));
    let e =
        parse(json!({"event_name": "user_send_text", "sender": {"id": "1"}, "timestamp": "soon"}));
    assert_eq!(e.time_ms(), None);
}

#[test]
fn parses_user_text_and_image() {
    let e = parse(
        json!({"app_id": "1", "sender": {"id": "246"}, "user_id_by_app": "552", "recipient": {"id": "388"},
        "event_name": "user_send_text", "message": {"text": "hi", "msg_id": "m1", "quote_msg_id": "q0"}, "timestamp": "154"}),
    );
    let ZaloEvent::UserMessage(m) = &e else {
        panic!("{e:?}")
    };
    assert_eq!(
        (m.kind, m.oa_id.as_str(), m.user_id.as_str()),
        (UserMessageKind::Text, "388", "246")
    );
    assert_eq!(m.quote_msg_id.as_deref(), Some("q0"));
    assert_eq!(m.user_id_by_app.as_deref(), Some("552"));
    assert_eq!(e.dedupe_key(), "m1");
    assert_eq!(e.user_id(), Some("246"));
    let e = parse(
        json!({"sender": {"id": "u"}, "recipient": {"id": "o"}, "event_name": "user_send_image",
        "message": {"msg_id": "m2", "text": "cap", "attachments": [{"type": "image", "payload": {"url": "https://i", "thumbnail": "https://t"}}]}, "timestamp": "1"}),
    );
    let ZaloEvent::UserMessage(m) = e else {
        panic!()
    };
    assert_eq!(m.user_id_by_app, None);
    assert_eq!(
        m.attachments,
        vec![Attachment::Image {
            url: "https://i".into(),
            thumbnail: Some("https://t".into())
        }]
    );
}

#[test]
fn parses_the_oa_side() {
    let e = parse(
        json!({"sender": {"id": "oa", "admin_id": "ad"}, "recipient": {"id": "u"}, "event_name": "oa_send_text", "message": {"text": "t", "msg_id": "m"}, "timestamp": "1"}),
    );
    let ZaloEvent::OaMessage(m) = &e else {
        panic!()
    };
    assert_eq!(m.admin_id.as_deref(), Some("ad"));
    assert_eq!(e.user_id(), Some("u"));
    let e = parse(
        json!({"sender": {"id": "oa"}, "recipient": {"id": "u"}, "event_name": "oa_send_template",
        "message": {"msg_id": "m", "attachments": [{"type": "template", "payload": {"zinstant_id": "templateId=1", "text": "Đặt bàn OK", "link_url": "https://z"}}]}, "timestamp": "1"}),
    );
    let ZaloEvent::OaMessage(m) = &e else {
        panic!()
    };
    assert!(
        matches!(&m.attachments[0], Attachment::Template { text: Some(t), .. } if t == "Đặt bàn OK")
    );
    let e = parse(
        json!({"sender": {"id": "oa"}, "recipient": {"id": "u"}, "event_name": "oa_reacted_message", "message": {"msg_id": "a", "react_icon": ":>"}, "timestamp": "5"}),
    );
    assert!(matches!(&e, ZaloEvent::OaReacted { user_id, .. } if user_id == "u"));
}

#[test]
fn receipts_and_reactions() {
    let e = parse(
        json!({"sender": {"id": "oa"}, "recipient": {"id": "u"}, "event_name": "user_seen_message", "message": {"msg_ids": ["a", "b"]}, "timestamp": "5"}),
    );
    assert_eq!(
        e,
        ZaloEvent::UserSeen {
            oa_id: "oa".into(),
            user_id: "u".into(),
            msg_ids: vec!["a".into(), "b".into()],
            timestamp: "5".into()
        }
    );
    assert_eq!(e.dedupe_key(), "user_seen_message:u:5:a,b");
    let e = parse(
        json!({"sender": {"id": "oa"}, "recipient": {"id": "246845883529697922"}, "event_name": "user_received_message", "message": {"msg_id": "a"}, "timestamp": "5"}),
    );
    assert!(matches!(&e, ZaloEvent::UserReceived { msg_ids, .. } if msg_ids == &["a"]));
    assert_ne!(e.dedupe_key(), "a");
    let e = parse(
        json!({"sender": {"id": "u"}, "recipient": {"id": "oa"}, "event_name": "user_reacted_message", "message": {"msg_id": "a", "react_icon": "/-heart"}, "timestamp": "5"}),
    );
    assert!(
        matches!(&e, ZaloEvent::UserReacted { user_id, react_icon, .. } if user_id == "u" && react_icon == "/-heart")
    );
}

#[test]
fn zns_receipts_are_not_oa_receipts() {
    let oa_shaped = json!({"sender": {"id": "2893352839501541173"}, "recipient": {"id": "246845883529697922"},
        "event_name": "user_received_message", "message": {"msg_id": "15a0"}, "timestamp": "1"});
    // The header alone decides.
    let e = parse_webhook(oa_shaped.to_string().as_bytes(), Some("ZNS")).unwrap();
    assert!(
        matches!(&e, ZaloEvent::ZnsReceipt(z) if z.msg_id == "15a0"),
        "{e:?}"
    );
    assert_eq!(e.user_id(), None);
    let e = parse_webhook(oa_shaped.to_string().as_bytes(), Some("OA OpenAPI")).unwrap();
    assert!(matches!(e, ZaloEvent::UserReceived { .. }));
    // Without the header: the body's shape.
    for message in [
        json!({"msg_id": "15a0", "tracking_id": "t"}),
        json!({"msg_id": "15a0", "delivery_time": "1602960467432"}),
    ] {
        let mut b = oa_shaped.clone();
        b["message"] = message;
        let e = parse(b);
        assert!(matches!(e, ZaloEvent::ZnsReceipt(_)), "{e:?}");
    }
    let mut b = oa_shaped.clone();
    b["recipient"]["id"] = json!("84123456789");
    let e = parse(b);
    let ZaloEvent::ZnsReceipt(z) = &e else {
        panic!("{e:?}")
    };
    assert_eq!(z.phone, "84123456789");
    assert_eq!(e.event_name(), "user_received_message");
    assert!(e.dedupe_key().starts_with("zns:"));
}

#[test]
fn follow_chatnow_and_submitted_info() {
    let e = parse(
        json!({"oa_id": "oa", "follower": {"id": "u"}, "user_id_by_app": "ba", "event_name": "follow", "source": "oa_profile", "timestamp": "7"}),
    );
    assert_eq!(
        e,
        ZaloEvent::Follow {
            oa_id: "oa".into(),
            user_id: "u".into(),
            user_id_by_app: Some("ba".into()),
            source: Some("oa_profile".into()),
            timestamp: "7".into()
        }
    );
    assert_eq!(e.dedupe_key(), "follow:u:7");
    let e = parse(
        json!({"oa_id": "oa", "follower": {"id": "u"}, "event_name": "unfollow", "timestamp": "7"}),
    );
    assert!(matches!(
        e,
        ZaloEvent::Unfollow {
            user_id_by_app: None,
            ..
        }
    ));
    let e = parse(
        json!({"oa_id": "oa", "user_id": "u", "event_name": "user_click_chatnow", "timestamp": "7"}),
    );
    assert_eq!(e.user_id(), Some("u"));
    let e = parse(
        json!({"sender": {"id": "u"}, "recipient": {"id": "oa"}, "event_name": "user_submit_info",
        "info": {"name": "N", "phone": 841213333111_u64, "ward": ""}, "timestamp": "7"}),
    );
    let ZaloEvent::UserSubmitInfo { info, oa_id, .. } = &e else {
        panic!("{e:?}")
    };
    assert_eq!(oa_id, "oa");
    assert_eq!(info.phone.as_deref(), Some("841213333111"));
    assert_eq!(
        (info.name.as_deref(), info.ward.as_deref()),
        (Some("N"), None)
    );
}

#[test]
fn management_events() {
    let e = parse(
        json!({"app_id": "1", "oa_id": "oa", "user_id_by_app": "ba", "user_id": "u", "event_name": "user_withdraw", "timestamp": "9"}),
    );
    assert_eq!(
        e,
        ZaloEvent::UserWithdraw {
            oa_id: "oa".into(),
            user_id: "u".into(),
            user_id_by_app: Some("ba".into()),
            timestamp: "9".into()
        }
    );
    assert_eq!(e.dedupe_key(), "user_withdraw:u:9");
    let e = parse(
        json!({"oa_id": "", "user_id_by_app": "ba", "user_id": "", "event_name": "user_withdraw", "timestamp": "9"}),
    );
    assert_eq!(
        (e.user_id(), e.dedupe_key().as_str()),
        (None, "user_withdraw:ba:9")
    );
    let e = parse(
        json!({"oa_id": "oa", "user_id": "u", "event_name": "update_user_info", "data": {"method": "dynamic_url"}, "timestamp": "9"}),
    );
    assert!(matches!(&e, ZaloEvent::UpdateUserInfo { method: Some(m), .. } if m == "dynamic_url"));
    let e = parse(
        json!({"oa_id": "oa", "event_name": "add_user_to_tag", "tag": {"user_ids": ["1", 2], "name": "VIP"}, "timestamp": "3"}),
    );
    let ZaloEvent::Tag(t) = &e else {
        panic!("{e:?}")
    };
    assert_eq!(
        (t.kind, t.tag_name.as_str(), t.user_ids.clone()),
        (
            TagEventKind::UserAdded,
            "VIP",
            vec!["1".to_string(), "2".to_string()]
        )
    );
    assert_eq!(e.user_id(), None);
    let e = parse(
        json!({"oa_id": "oa", "event_name": "add_user_to_tag", "tag": {"name": "new"}, "timestamp": "3"}),
    );
    assert!(matches!(&e, ZaloEvent::Tag(t) if t.user_ids.is_empty()));
    let e = parse(
        json!({"oa_id": "oa", "event_name": "remove_tag", "tag": {"name": "x"}, "timestamp": "3"}),
    );
    assert_eq!(e.event_name(), "remove_tag");
    let e = parse(
        json!({"oa_id": "oa", "event_name": "widget_interaction_accepted", "data": {"user_id": "u", "user_external_id": "x", "url": "https://oa"}, "timestamp": "3"}),
    );
    let ZaloEvent::Widget(w) = &e else {
        panic!("{e:?}")
    };
    assert_eq!(
        (w.kind, w.url.as_deref()),
        (WidgetEventKind::InteractionAccepted, Some("https://oa"))
    );
    assert_eq!(e.user_id(), Some("u"));
    assert_eq!(e.event_name(), "widget_interaction_accepted");
}

#[test]
fn anonymous_users() {
    let e = parse(
        json!({"event_name": "anonymous_send_text", "sender": {"id": "1ffedc467f179649cf06"}, "recipient": {"id": "oa"},
        "message": {"conversation_id": "c", "text": "hello", "msg_id": "x"}, "timestamp": "1"}),
    );
    let ZaloEvent::Anonymous(a) = &e else {
        panic!("{e:?}")
    };
    assert_eq!(
        (a.from_oa, a.oa_id.as_str(), a.conversation_id.as_deref()),
        (false, "oa", Some("c"))
    );
    // The lane is the visitor's conversation, not the bare anonymous id.
    assert_eq!(e.user_id(), Some("anon:1ffedc467f179649cf06:c"));
    assert_eq!(
        parse_visitor_key("anon:1ffedc467f179649cf06:c"),
        Some(("1ffedc467f179649cf06", "c"))
    );
    assert_eq!(parse_visitor_key("1234567"), None);
    assert_eq!(e.dedupe_key(), "x");
    let e = parse(
        json!({"event_name": "oa_send_anonymous_text", "sender": {"id": "oa"}, "recipient": {"id": "anon"}, "message": {"msg_id": "y"}}),
    );
    let ZaloEvent::Anonymous(a) = &e else {
        panic!("{e:?}")
    };
    assert!(a.from_oa);
    assert_eq!(e.user_id(), Some("anon"));
}

/// GMF group and call events, from the reference's documented shape (§5.3 envelope, §5.5 names):
/// never a customer's message, whatever their prefix.
#[test]
fn group_and_call_events_are_out_of_scope_by_name() {
    let group_from_user = json!({"app_id": "a", "sender": {"id": "246845883529197922"},
        "recipient": {"id": "g-8a1f0c"}, "event_name": "user_send_group_text",
        "message": {"text": "hi all", "msg_id": "gm1"}, "timestamp": "1700000000000"});
    let group_from_oa = json!({"app_id": "a", "sender": {"id": "oa"}, "recipient": {"id": "g-8a1f0c"},
        "event_name": "oa_send_group_text", "message": {"text": "hello group", "msg_id": "gm2"},
        "timestamp": "1700000000001"});
    let consent = json!({"app_id": "a", "sender": {"id": "oa"}, "recipient": {"id": "246845883529197922"},
        "event_name": "oa_send_consent", "timestamp": "1700000000002"});
    let reply = json!({"app_id": "a", "sender": {"id": "246845883529197922"}, "recipient": {"id": "oa"},
        "event_name": "user_reply_consent", "timestamp": "1700000000003"});
    let joined =
        json!({"app_id": "a", "oa_id": "oa", "event_name": "user_join_group", "timestamp": "1"});
    // The OA of each (routing one app's events among OAs): a group's id is never taken for it.
    for (body, kind, oa) in [
        (group_from_user, OutOfScope::Group, None),
        (group_from_oa, OutOfScope::Group, None),
        (joined, OutOfScope::Group, Some("oa")),
        (consent, OutOfScope::Call, Some("oa")),
        (reply, OutOfScope::Call, Some("oa")),
    ] {
        let name = body["event_name"].as_str().unwrap().to_string();
        let e = parse(body);
        let ZaloEvent::OutOfScope { kind: k, .. } = &e else {
            panic!("{name}: {e:?}")
        };
        assert_eq!(*k, kind, "{name}");
        assert_eq!(e.oa_id(), oa, "{name}");
        assert_eq!(e.event_name(), name);
        assert_eq!(e.user_id(), None, "{name}: no customer lane");
    }
    // Exactly the documented one-to-one echoes are OA messages; another `oa_send_*` is not.
    for name in names::OA_ECHOES {
        let e = parse(
            json!({"event_name": name, "sender": {"id": "oa"}, "recipient": {"id": "u"},
            "message": {"msg_id": "m"}}),
        );
        assert!(matches!(e, ZaloEvent::OaMessage(_)), "{name}");
    }
    let e = parse(
        json!({"event_name": "oa_send_poll", "sender": {"id": "oa"}, "recipient": {"id": "u"}}),
    );
    assert!(matches!(e, ZaloEvent::Unknown { .. }), "{e:?}");
}

#[test]
fn unknown_and_refused() {
    let e = parse(json!({"event_name": "shop_has_order", "timestamp": "1"}));
    assert_eq!(e.event_name(), "shop_has_order");
    assert!(matches!(e, ZaloEvent::Unknown { .. }));
    let e = parse(json!({"x": 1}));
    assert_eq!(e.event_name(), "");
    assert!(e.user_id().is_none());
    assert_eq!(parse_event(b"[1]"), Err(ParseError::NotAnObject));
    assert!(matches!(
        parse_event(b""),
        Err(ParseError::InvalidJson { .. })
    ));
    let e = parse_event(b"{\"a\":1}\xe2\x80\x8b").unwrap_err();
    assert_eq!(e.reason(), "not_json");
    let bot = json!({"event_name": "message.text.received", "message": {"date": 1, "chat": {"id": "a"}, "from": {"id": "a"}}});
    let e = parse_event(bot.to_string().as_bytes()).unwrap_err();
    assert_eq!(
        e,
        ParseError::OtherProduct {
            product: Product::BotPlatform,
            event_name: "message.text.received".into()
        }
    );
    assert!(e.to_string().contains("Zalo Bot Platform"));
    let wrapped = json!({"ok": true, "result": {"event_name": "message.sticker.received"}});
    assert_eq!(
        parse_event(wrapped.to_string().as_bytes())
            .unwrap_err()
            .reason(),
        "other_product"
    );
    // The refusal never quotes the body.
    let e = parse_event(b"{\"secret\": \"abc").unwrap_err();
    assert!(!e.to_string().contains("abc"));
}

#[test]
fn ids_as_numbers_are_kept_as_text() {
    let e = parse_event(br#"{"sender":{"id":24684588352919792},"recipient":{"id":1},"event_name":"user_send_text","message":{"msg_id":12,"text":"x"},"timestamp":154}"#).unwrap();
    assert_eq!(e.user_id(), Some("24684588352919792"));
    assert_eq!(e.dedupe_key(), "12");
    assert_eq!(e.time_ms(), Some(154));
    let e = parse_event(br#"{"oa_id":1,"follower":{"id":567826391599986760},"event_name":"follow","timestamp":"1"}"#).unwrap();
    assert_eq!(e.user_id(), Some("567826391599986760"));
}

proptest::proptest! {
    #[test]
    fn parser_never_panics_on_bytes(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..512)) {
        let _ = parse_event(&bytes);
        let _ = parse_webhook(&bytes, Some("ZNS"));
    }

    #[test]
    fn parser_never_panics_on_json(v in arb_json()) {
        if let Ok(e) = parse_event(v.to_string().as_bytes()) {
            let _ = (e.event_name(), e.user_id(), e.dedupe_key(), e.time_ms());
        }
    }

    #[test]
    fn parser_never_panics_on_event_shapes(name in proptest::sample::select(vec![
        "user_send_text", "user_send_image", "user_send_file", "user_send_location", "oa_send_text",
        "oa_send_list", "oa_send_template", "user_seen_message", "user_received_message",
        "user_reacted_message", "oa_reacted_message", "follow", "unfollow", "user_click_chatnow",
        "user_submit_info", "update_user_info", "user_withdraw", "add_user_to_tag", "remove_tag",
        "widget_interaction_accepted", "anonymous_send_text", "oa_send_anonymous_text",
        "message.text.received", "x"]),
        sender in arb_json(), message in arb_json(), ts in arb_json(), data in arb_json(), zns in proptest::bool::ANY) {
        let body = json!({"event_name": name, "sender": sender, "recipient": {"id": "1"}, "message": message,
            "timestamp": ts, "follower": sender, "data": data, "tag": data, "info": data, "user_id": sender});
        let server = if zns { Some("ZNS") } else { None };
        if let Ok(e) = parse_webhook(body.to_string().as_bytes(), server) {
            let _ = (e.event_name(), e.user_id(), e.dedupe_key(), e.time_ms());
        }
    }
}

fn arb_json() -> impl proptest::strategy::Strategy<Value = Value> {
    use proptest::prelude::*;
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>().prop_map(|f| json!(f)),
        ".{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::btree_map(
                prop_oneof![
                    Just("event_name".to_owned()),
                    Just("message".to_owned()),
                    Just("attachments".to_owned()),
                    Just("payload".to_owned()),
                    Just("type".to_owned()),
                    Just("msg_ids".to_owned()),
                    Just("zinstant_id".to_owned()),
                    Just("coordinates".to_owned()),
                    Just("tracking_id".to_owned()),
                    ".{0,6}"
                ],
                inner,
                0..6
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Found by the fuzzer: a blank `msg_id` was the dedupe key itself, so every later message with a
/// blank id was taken for a redelivery of the first and dropped.
#[test]
fn a_blank_msg_id_is_no_dedupe_key() {
    let message = |id: &str, ts: &str| {
        parse(
            json!({"event_name": "user_send_text", "sender": {"id": "u"}, "timestamp": ts,
            "message": {"msg_id": id, "text": "hi"}}),
        )
    };
    for blank in ["", " ", "\t\n"] {
        let a = message(blank, "1");
        assert_eq!(a.dedupe_key(), "user_send_text:u:1", "{blank:?}");
        assert_ne!(a.dedupe_key(), message(blank, "2").dedupe_key());
    }
    assert_eq!(message("m1", "1").dedupe_key(), "m1");
    let unknown = parse(json!({"event_name": "new_event", "timestamp": "1",
        "message": {"msg_id": " "}}));
    assert!(
        unknown.dedupe_key().starts_with("new_event:"),
        "{}",
        unknown.dedupe_key()
    );
}
