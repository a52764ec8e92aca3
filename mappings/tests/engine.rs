//! The mapping engine with plain values: no I/O, so every rule is checked directly, and
//! property tests check what must hold for any input.
#![allow(clippy::unwrap_used)]

use proptest::prelude::*;
use zfsync_freshchat::{ActorType, Message, MessagePart, MessageType, WebhookEvent};
use zfsync_mappings::{
    char_count, plan_freshchat, plan_zalo, FreshchatKnowledge, OutPart, Rules, Step, Visibility,
    ZaloKnowledge, ZaloSend,
};
use zfsync_zalo::ZaloEvent;

const OA: &str = "4318848795011111111";

fn zalo(json: serde_json::Value) -> ZaloEvent {
    zfsync_zalo::parse_event(json.to_string().as_bytes()).unwrap()
}

fn user_event(name: &str, message: serde_json::Value) -> ZaloEvent {
    zalo(serde_json::json!({
        "app_id": "1", "event_name": name, "sender": {"id": "777"}, "recipient": {"id": OA},
        "message": message, "timestamp": "1700000000000"
    }))
}

fn k() -> ZaloKnowledge {
    ZaloKnowledge {
        oa_id: OA.into(),
        ..Default::default()
    }
}

fn agent_message(parts: Vec<MessagePart>, actor: ActorType, kind: MessageType) -> WebhookEvent {
    WebhookEvent::MessageCreate {
        actor: zfsync_freshchat::Actor {
            actor_type: actor.clone(),
            actor_id: Some("agent-1".into()),
        },
        action_time: None,
        message: Message {
            id: "m-1".into(),
            conversation_id: Some("c-1".into()),
            channel_id: None,
            app_id: None,
            actor_type: actor,
            actor_id: Some("agent-1".into()),
            user_id: None,
            message_type: Some(kind),
            message_parts: parts,
            created_time: None,
            meta_data: None,
            ..Message::default()
        },
    }
}

fn linked() -> FreshchatKnowledge {
    FreshchatKnowledge {
        zalo_user_id: Some("777".into()),
        own_message: false,
        ..Default::default()
    }
}

#[test]
fn text_from_a_customer_ensures_the_contact_then_posts_as_them() {
    let rules = Rules::default();
    let plan = plan_zalo(
        &user_event(
            "user_send_text",
            serde_json::json!({"msg_id": "a1", "text": "Xin chào 😊"}),
        ),
        &k(),
        &rules,
    );
    assert_eq!(plan.steps.len(), 2);
    match &plan.steps[0] {
        Step::EnsureContact(zfsync_mappings::EnsureContact {
            reference_id,
            first_name,
            last_name,
            fallback_display_name,
            provider,
            ..
        }) => {
            assert_eq!(reference_id, &format!("zalo:{OA}:777"));
            assert_eq!(first_name, "{display_name}");
            assert_eq!(last_name, "Zalo");
            assert_eq!(fallback_display_name, "Zalo user 777");
            assert_eq!(provider, "zalo");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        plan.steps[1],
        Step::PostToFreshchat(zfsync_mappings::PostToFreshchat {
            zalo_user_id: "777".into(),
            zalo_msg_id: Some("a1".into()),
            visibility: Visibility::Customer,
            parts: vec![OutPart::Text("Xin chào 😊".into())],
        })
    );
}

#[test]
fn a_reply_shows_what_it_quotes() {
    let ev = user_event(
        "user_send_text",
        serde_json::json!({"msg_id": "a3", "text": "đúng rồi", "quote_msg_id": "z9"}),
    );
    let known = ZaloKnowledge {
        quoted_text: Some("Anh cần size M?".into()),
        ..k()
    };
    let plan = plan_zalo(&ev, &known, &Rules::default());
    let Step::PostToFreshchat(zfsync_mappings::PostToFreshchat { parts, .. }) = &plan.steps[1]
    else {
        panic!()
    };
    assert_eq!(
        parts,
        &vec![OutPart::Text("↪ “Anh cần size M?”\nđúng rồi".into())]
    );
    // Unknown quoted message: the text alone.
    let plan = plan_zalo(&ev, &k(), &Rules::default());
    let Step::PostToFreshchat(zfsync_mappings::PostToFreshchat { parts, .. }) = &plan.steps[1]
    else {
        panic!()
    };
    assert_eq!(parts, &vec![OutPart::Text("đúng rồi".into())]);
}

#[test]
fn older_rules_without_new_keys_still_load() {
    let old = zfsync_mappings::rules::DEFAULT_RULES
        .lines()
        .filter(|l| !l.starts_with("reply_quote"))
        .collect::<Vec<_>>()
        .join("\n");
    assert!(Rules::from_toml(&old).is_ok());
}

#[test]
fn image_with_caption_becomes_text_then_media() {
    let plan = plan_zalo(
        &user_event(
            "user_send_image",
            serde_json::json!({"msg_id": "a2", "text": "lỗi", "attachments": [{"type": "image", "payload": {"url": "https://z/i.jpg", "thumbnail": "t"}}]}),
        ),
        &k(),
        &Rules::default(),
    );
    let Step::PostToFreshchat(zfsync_mappings::PostToFreshchat { parts, .. }) = &plan.steps[1]
    else {
        panic!()
    };
    assert_eq!(parts[0], OutPart::Text("lỗi".into()));
    assert!(matches!(&parts[1], OutPart::Media { url, .. } if url == "https://z/i.jpg"));
}

#[test]
fn echoes_staff_and_other_apps() {
    let rules = Rules::default();
    let echo = zalo(serde_json::json!({
        "app_id": "1", "event_name": "oa_send_text", "sender": {"id": OA}, "recipient": {"id": "777"},
        "message": {"msg_id": "o1", "text": "reply"}, "timestamp": "1"
    }));
    let own = ZaloKnowledge {
        own_message: true,
        ..k()
    };
    assert!(
        plan_zalo(&echo, &own, &rules).steps.is_empty(),
        "own echo ignored"
    );
    let in_flight = ZaloKnowledge {
        own_send_in_flight: true,
        ..k()
    };
    assert!(
        plan_zalo(&echo, &in_flight, &rules).defer,
        "may be our echo: wait"
    );
    let other = plan_zalo(&echo, &k(), &rules);
    assert!(matches!(
        &other.steps[1],
        Step::PostToFreshchat(zfsync_mappings::PostToFreshchat {
            visibility: Visibility::PrivateNote,
            ..
        })
    ));

    let staff = zalo(serde_json::json!({
        "app_id": "1", "event_name": "oa_send_text", "sender": {"id": OA, "admin_id": "adm"}, "recipient": {"id": "777"},
        "message": {"msg_id": "o2", "text": "Dạ"}, "timestamp": "1"
    }));
    let plan = plan_zalo(&staff, &in_flight, &rules);
    let Step::PostToFreshchat(zfsync_mappings::PostToFreshchat {
        visibility, parts, ..
    }) = &plan.steps[1]
    else {
        panic!("{plan:?}")
    };
    assert_eq!(*visibility, Visibility::PrivateNote);
    assert!(matches!(&parts[0], OutPart::Text(t) if t.contains("Dạ")));
}

#[test]
fn receipts_follow_and_others_are_never_posted() {
    let rules = Rules::default();
    let seen = zalo(serde_json::json!({
        "app_id": "1", "event_name": "user_seen_message", "sender": {"id": OA}, "recipient": {"id": "777"},
        "message": {"msg_ids": ["x", "y"]}, "timestamp": "1"
    }));
    let plan = plan_zalo(&seen, &k(), &rules);
    assert_eq!(
        plan.steps,
        vec![Step::RecordReceipt(zfsync_mappings::RecordReceipt {
            zalo_user_id: "777".into(),
            msg_ids: vec!["x".into(), "y".into()],
            seen: true
        })]
    );
    let follow = zalo(
        serde_json::json!({"app_id": "1", "oa_id": OA, "event_name": "unfollow", "follower": {"id": "777"}, "timestamp": "1"}),
    );
    assert_eq!(
        plan_zalo(&follow, &k(), &rules).steps,
        vec![Step::RecordFollow(zfsync_mappings::RecordFollow {
            zalo_user_id: "777".into(),
            following: false
        })]
    );
    let unknown = zalo(serde_json::json!({"event_name": "shop_has_order", "timestamp": "1"}));
    let plan = plan_zalo(&unknown, &k(), &rules);
    assert!(plan.steps.is_empty() && plan.ignored.unwrap().contains("shop_has_order"));
}

#[test]
fn another_oa_is_ignored() {
    let ev = zalo(serde_json::json!({
        "app_id": "1", "event_name": "user_send_text", "sender": {"id": "777"}, "recipient": {"id": "999"},
        "message": {"msg_id": "a1", "text": "hi"}, "timestamp": "1"
    }));
    assert!(plan_zalo(&ev, &k(), &Rules::default()).steps.is_empty());
}

#[test]
fn only_normal_agent_and_bot_messages_reach_zalo() {
    let rules = Rules::default();
    let text = || {
        vec![MessagePart::Text {
            content: "hello".into(),
        }]
    };
    assert_eq!(
        plan_freshchat(
            &agent_message(text(), ActorType::Agent, MessageType::Normal),
            &linked(),
            &rules
        )
        .steps
        .len(),
        1
    );
    assert_eq!(
        plan_freshchat(
            &agent_message(text(), ActorType::Bot, MessageType::Normal),
            &linked(),
            &rules
        )
        .steps
        .len(),
        1
    );
    for (actor, kind) in [
        (ActorType::Agent, MessageType::Private),
        (ActorType::User, MessageType::Normal),
        (ActorType::System, MessageType::Normal),
        (ActorType::Agent, MessageType::System),
    ] {
        assert!(
            plan_freshchat(&agent_message(text(), actor, kind), &linked(), &rules)
                .steps
                .is_empty()
        );
    }
    let own = FreshchatKnowledge {
        own_message: true,
        ..linked()
    };
    assert!(plan_freshchat(
        &agent_message(text(), ActorType::Agent, MessageType::Normal),
        &own,
        &rules
    )
    .steps
    .is_empty());
    let unlinked = FreshchatKnowledge::default();
    assert!(plan_freshchat(
        &agent_message(text(), ActorType::Agent, MessageType::Normal),
        &unlinked,
        &rules
    )
    .steps
    .is_empty());
}

fn resolution(resolver: ActorType) -> WebhookEvent {
    WebhookEvent::ConversationResolution {
        actor: zfsync_freshchat::Actor {
            actor_type: resolver.clone(),
            actor_id: None,
        },
        resolver,
        action_time: None,
        conversation: zfsync_freshchat::ConversationRef {
            conversation_id: "c-1".into(),
            status: None,
            channel_id: None,
            user_id: None,
        },
        user_id: None,
    }
}

fn sends_notice(plan: &zfsync_mappings::Plan) -> bool {
    matches!(plan.steps.as_slice(), [Step::SendToZalo(zfsync_mappings::SendToZalo { message: ZaloSend::Text(t), .. })] if t.contains("giải quyết"))
}

#[test]
fn resolve_notice_can_be_switched_off() {
    let ev = resolution(ActorType::Agent);
    let mut rules = Rules::default();
    assert!(sends_notice(&plan_freshchat(&ev, &linked(), &rules)));
    rules.freshchat_to_zalo.send_resolve_notice = false;
    assert!(plan_freshchat(&ev, &linked(), &rules).steps.is_empty());
}

/// Freshchat's automatic resolutions (`resolver: "system"`) send no notice by default; the rules
/// can name who does.
#[test]
fn only_the_resolvers_the_rules_name_send_the_notice() {
    let mut rules = Rules::default();
    let plan = plan_freshchat(&resolution(ActorType::System), &linked(), &rules);
    assert!(plan.steps.is_empty(), "{plan:?}");
    assert!(
        plan.ignored.as_deref().unwrap_or("").contains("system"),
        "{plan:?}"
    );
    assert!(
        plan_freshchat(&resolution(ActorType::Bot), &linked(), &rules)
            .steps
            .is_empty()
    );
    rules.freshchat_to_zalo.resolve_notice_resolvers = vec!["agent".into(), "system".into()];
    assert!(sends_notice(&plan_freshchat(
        &resolution(ActorType::System),
        &linked(),
        &rules
    )));
}

/// Past the free 48 h the notice would be billed (or refused after 7 days): by default the agents
/// get a private note naming the date instead; the rules can send it anyway.
#[test]
fn outside_the_free_window_the_notice_becomes_a_private_note() {
    use zfsync_mappings::ReplyWindow;
    let h = 3600 * 1000;
    // 2024-01-01 00:00 UTC, 07:00 in Vietnam.
    let last = 1_704_067_200_000_i64;
    let mut rules = Rules::default()
        .with_language("en")
        .unwrap()
        .with_agent_language("en")
        .unwrap();
    let at = |now: i64| FreshchatKnowledge {
        reply_window: ReplyWindow::at(Some(last), now),
        ..linked()
    };
    let ev = resolution(ActorType::Agent);
    let free = plan_freshchat(&ev, &at(last + 47 * h), &rules);
    assert!(
        matches!(free.steps.as_slice(), [Step::SendToZalo(_)]),
        "{free:?}"
    );
    let note = |plan: &zfsync_mappings::Plan| match plan.steps.as_slice() {
        [Step::PostToFreshchat(p)] if p.visibility == Visibility::PrivateNote => match &p.parts[..]
        {
            [OutPart::Text(t)] => t.clone(),
            other => panic!("{other:?}"),
        },
        other => panic!("expected one private note, got {other:?}"),
    };
    let billed = note(&plan_freshchat(&ev, &at(last + 50 * h), &rules));
    assert!(billed.contains("not sent"), "{billed}");
    assert!(billed.contains("billed"), "{billed}");
    assert!(billed.contains("2024-01-03 07:00 (UTC+7)"), "{billed}");
    let closed = note(&plan_freshchat(&ev, &at(last + 200 * h), &rules));
    assert!(closed.contains("2024-01-08 07:00 (UTC+7)"), "{closed}");
    // An unknown window (zfsync saw no interaction) leaves the decision to Zalo.
    assert!(matches!(
        plan_freshchat(&ev, &linked(), &rules).steps.as_slice(),
        [Step::SendToZalo(_)]
    ));
    rules.freshchat_to_zalo.resolve_notice_outside_free_window = true;
    assert!(matches!(
        plan_freshchat(&ev, &at(last + 50 * h), &rules)
            .steps
            .as_slice(),
        [Step::SendToZalo(_)]
    ));
}

/// The resolve rules in a customer's file.
#[test]
fn resolve_rules_load_from_a_rules_file() {
    let text = zfsync_mappings::rules::DEFAULT_RULES
        .replace(
            "resolve_notice_resolvers = [\"agent\"]",
            "resolve_notice_resolvers = [\"agent\", \"bot\"]",
        )
        .replace(
            "resolve_notice_outside_free_window = false",
            "resolve_notice_outside_free_window = true",
        );
    let rules = Rules::from_toml(&text).unwrap();
    assert_eq!(
        rules.freshchat_to_zalo.resolve_notice_resolvers,
        vec!["agent".to_string(), "bot".to_string()]
    );
    assert!(rules.freshchat_to_zalo.resolve_notice_outside_free_window);
}

#[test]
fn customer_rules_change_the_naming() {
    let text = zfsync_mappings::rules::DEFAULT_RULES
        .replace("last_name = \"Zalo\"", "last_name = \"(Zalo OA)\"");
    let rules = Rules::from_toml(&text).unwrap();
    let plan = plan_zalo(
        &user_event(
            "user_send_text",
            serde_json::json!({"msg_id": "a", "text": "x"}),
        ),
        &k(),
        &rules,
    );
    assert!(
        matches!(&plan.steps[0], Step::EnsureContact(zfsync_mappings::EnsureContact { last_name, .. }) if last_name == "(Zalo OA)")
    );
}

proptest! {
    /// Any agent text (without markup): at most the limit goes as text, anything longer as a
    /// file; nothing is lost or changed.
    #[test]
    fn text_limit_is_respected(text in "[^<&\\p{C}]{1,2600}") {
        let rules = Rules::default();
        let plan = plan_freshchat(&agent_message(vec![MessagePart::Text { content: text.clone() }], ActorType::Agent, MessageType::Normal), &linked(), &rules);
        if text.trim().is_empty() {
            prop_assert!(plan.steps.is_empty());
        } else {
            prop_assert_eq!(plan.steps.len(), 1);
            match &plan.steps[0] {
                Step::SendToZalo(zfsync_mappings::SendToZalo { message: ZaloSend::Text(t), .. }) => {
                    prop_assert!(char_count(t) <= 2000);
                    prop_assert_eq!(t, &text);
                }
                Step::SendToZalo(zfsync_mappings::SendToZalo { message: ZaloSend::LongText { text: whole, link_text, .. }, .. }) => {
                    prop_assert!(char_count(&text) > 2000);
                    prop_assert_eq!(whole, &text);
                    prop_assert!(char_count(link_text) < 2000);
                }
                other => prop_assert!(false, "{:?}", other),
            }
        }
    }

    /// One Zalo message per part, in the agent's order.
    #[test]
    fn parts_keep_their_order(words in proptest::collection::vec("[a-z]{1,8}", 1..12)) {
        let parts = words.iter().map(|w| MessagePart::Text { content: w.clone() }).collect();
        let plan = plan_freshchat(&agent_message(parts, ActorType::Agent, MessageType::Normal), &linked(), &Rules::default());
        let sent: Vec<String> = plan.steps.iter().map(|s| match s {
            Step::SendToZalo(zfsync_mappings::SendToZalo { message: ZaloSend::Text(t), .. }) => t.clone(),
            other => format!("{other:?}"),
        }).collect();
        prop_assert_eq!(sent, words);
    }

    /// Planning is a function: the same inputs give the same plan, for any text a customer sends.
    #[test]
    fn planning_is_deterministic(text in "\\PC{0,300}", msg_id in "[a-f0-9]{1,20}") {
        let ev = user_event("user_send_text", serde_json::json!({"msg_id": msg_id, "text": text}));
        let rules = Rules::default();
        prop_assert_eq!(plan_zalo(&ev, &k(), &rules), plan_zalo(&ev, &k(), &rules));
    }

    /// Any JSON the parser accepts plans without panicking.
    #[test]
    fn any_event_plans(v in proptest::arbitrary::any::<(String, u8, bool)>()) {
        let (name, n, flag) = v;
        let raw = serde_json::json!({"event_name": name, "sender": {"id": n.to_string()}, "recipient": {"id": OA}, "message": {"msg_id": n.to_string(), "text": flag.to_string()}, "timestamp": "1"});
        if let Ok(ev) = zfsync_zalo::parse_event(raw.to_string().as_bytes()) {
            let _ = plan_zalo(&ev, &k(), &Rules::default());
        }
    }
}

/// History brought in by `zfsync backfill`: a customer's message carries its original time; a
/// message the OA sent (even without `admin_id`, and even while a send is in flight) is a note with
/// its time, in the rules' language; zfsync's own echo stays ignored.
#[test]
fn backfilled_history_carries_its_time() {
    let backfilled = ZaloKnowledge {
        backfilled_at: Some("2024-01-01 07:00 (UTC+7)".into()),
        own_send_in_flight: true,
        ..k()
    };
    let customer = user_event(
        "user_send_text",
        serde_json::json!({"msg_id": "m1", "text": "chào"}),
    );
    let plan = plan_zalo(&customer, &backfilled, &Rules::default());
    let Some(Step::PostToFreshchat(p)) = plan.steps.last() else {
        panic!("{plan:?}")
    };
    assert_eq!(p.visibility, Visibility::Customer);
    assert_eq!(
        p.parts,
        vec![OutPart::Text(
            "🕘 2024-01-01 07:00 (UTC+7) · tin nhắn cũ từ Zalo\nchào".into()
        )]
    );
    let oa = zalo(serde_json::json!({
        "app_id": "1", "event_name": "oa_send_text", "sender": {"id": OA}, "recipient": {"id": "777"},
        "message": {"msg_id": "m2", "text": "shop chào bạn"}, "timestamp": "1700000000000"
    }));
    let en = Rules::default().with_agent_language("en").unwrap();
    let plan = plan_zalo(&oa, &backfilled, &en);
    assert!(!plan.defer, "old history never waits for an in-flight send");
    let Some(Step::PostToFreshchat(p)) = plan.steps.last() else {
        panic!("{plan:?}")
    };
    assert_eq!(p.visibility, Visibility::PrivateNote);
    assert_eq!(
        p.parts,
        vec![OutPart::Text(
            "🕘 2024-01-01 07:00 (UTC+7) · the OA sent this to the customer on Zalo: shop chào bạn"
                .into()
        )]
    );
    let echo = ZaloKnowledge {
        own_message: true,
        ..backfilled
    };
    assert!(plan_zalo(&oa, &echo, &Rules::default()).steps.is_empty());
    // Live events are untouched.
    let plan = plan_zalo(&customer, &k(), &Rules::default());
    let Some(Step::PostToFreshchat(p)) = plan.steps.last() else {
        panic!("{plan:?}")
    };
    assert_eq!(p.parts, vec![OutPart::Text("chào".into())]);
}

/// Group (GMF) and call events, in the reference's documented envelope (the corpus has none): never
/// a customer's message, so no contact, no post, only a reason.
#[test]
fn group_and_call_events_plan_nothing_but_a_reason() {
    let rules = Rules::default();
    for (body, needle) in [
        (
            serde_json::json!({"app_id": "1", "sender": {"id": OA}, "recipient": {"id": "g-55"},
                "event_name": "oa_send_group_text", "message": {"text": "hi group", "msg_id": "g1"},
                "timestamp": "1700000000000"}),
            "group chat",
        ),
        (
            serde_json::json!({"app_id": "1", "sender": {"id": "777"}, "recipient": {"id": "g-55"},
                "event_name": "user_send_group_image", "message": {"msg_id": "g2"},
                "timestamp": "1700000000000"}),
            "group chat",
        ),
        (
            serde_json::json!({"app_id": "1", "sender": {"id": OA}, "recipient": {"id": "777"},
                "event_name": "oa_send_consent", "timestamp": "1700000000000"}),
            "call",
        ),
        (
            serde_json::json!({"app_id": "1", "sender": {"id": "777"}, "recipient": {"id": OA},
                "event_name": "user_reply_consent", "timestamp": "1700000000000"}),
            "call",
        ),
    ] {
        let plan = plan_zalo(&zalo(body), &k(), &rules);
        assert!(plan.steps.is_empty() && !plan.defer, "{plan:?}");
        let reason = plan.ignored.unwrap_or_default();
        assert!(reason.contains(needle), "{reason}");
    }
}

/// An anonymous chat-widget visitor is synced like a follower: a contact of their own (per visitor
/// conversation, marked anonymous, named by the rules, no profile), then their message.
#[test]
fn an_anonymous_visitor_gets_a_contact_of_their_own_named_by_the_rules() {
    let ev = zalo(
        serde_json::json!({"event_name": "anonymous_send_text", "app_id": "1",
        "sender": {"id": "1ffedc467f179649cf06"}, "recipient": {"id": OA},
        "message": {"conversation_id": "fa8f3f8701c2e89cb1d3", "text": "hello", "msg_id": "a1"},
        "timestamp": "1700000000000", "user_id_by_app": "260530994348645621"}),
    );
    let visitor = "anon:1ffedc467f179649cf06:fa8f3f8701c2e89cb1d3";
    for (lang, name) in [
        ("vi", "Khách ẩn danh cf06"),
        ("en", "Anonymous visitor cf06"),
    ] {
        let rules = Rules::default().with_agent_language(lang).unwrap();
        let plan = plan_zalo(&ev, &k(), &rules);
        let [Step::EnsureContact(c), Step::PostToFreshchat(p)] = plan.steps.as_slice() else {
            panic!("{plan:?}")
        };
        assert!(c.anonymous, "{c:?}");
        assert_eq!(c.zalo_user_id, visitor);
        assert_eq!(c.fallback_display_name, name);
        assert_eq!(c.reference_id, format!("zalo:{OA}:{visitor}"));
        assert_eq!(
            (p.zalo_user_id.as_str(), p.visibility, p.parts.clone()),
            (
                visitor,
                Visibility::Customer,
                vec![OutPart::Text("hello".into())]
            )
        );
    }
    // zfsync's own reply coming back is recognised like a follower's echo.
    let echo = zalo(
        serde_json::json!({"event_name": "oa_send_anonymous_text", "sender": {"id": OA},
        "recipient": {"id": "1ffedc467f179649cf06"},
        "message": {"conversation_id": "fa8f3f8701c2e89cb1d3", "text": "hi", "msg_id": "a2"},
        "timestamp": "1700000000001"}),
    );
    let own = ZaloKnowledge {
        own_message: true,
        ..k()
    };
    let plan = plan_zalo(&echo, &own, &Rules::default());
    assert!(plan.steps.is_empty() && plan.ignored.unwrap().contains("echo"));
}

/// An agent's reply to an anonymous visitor: images and files are sent; what the visitor's chat
/// cannot take becomes a private note to the agent, never dropped.
#[test]
fn a_reply_to_a_visitor_names_what_their_chat_cannot_take() {
    let visitor = FreshchatKnowledge {
        zalo_user_id: Some("anon:1ffedc467f179649cf06:fa8f3f8701c2e89cb1d3".into()),
        ..Default::default()
    };
    let ev = agent_message(
        vec![
            MessagePart::text("here you go"),
            MessagePart::image("https://fc-euc1-00-pics-bkt-00.s3.amazonaws.com/a.png"),
            MessagePart::Video {
                url: "https://fc-euc1-00-pics-bkt-00.s3.amazonaws.com/clip.mp4".into(),
                content_type: Some("video/mp4".into()),
            },
        ],
        ActorType::Agent,
        MessageType::Normal,
    );
    let rules = Rules::default()
        .with_language("en")
        .unwrap()
        .with_agent_language("en")
        .unwrap();
    let plan = plan_freshchat(&ev, &visitor, &rules);
    let sends: Vec<&ZaloSend> = plan
        .steps
        .iter()
        .filter_map(|s| match s {
            Step::SendToZalo(s) => Some(&s.message),
            _ => None,
        })
        .collect();
    assert_eq!(sends.len(), 2, "{plan:?}");
    assert!(matches!(sends[0], ZaloSend::Text(t) if t == "here you go"));
    assert!(
        matches!(sends[1], ZaloSend::Attachment(a) if a.kind == zfsync_mappings::MediaKind::Image)
    );
    let notes: Vec<&OutPart> = plan
        .steps
        .iter()
        .filter_map(|s| match s {
            Step::PostToFreshchat(p) if p.visibility == Visibility::PrivateNote => p.parts.first(),
            _ => None,
        })
        .collect();
    assert!(
        matches!(notes.as_slice(), [OutPart::Text(t)] if t.contains("anonymous visitors") && t.contains("video")),
        "{notes:?}"
    );
    // A follower gets the same video (as Zalo media or a link): no such note.
    let plan = plan_freshchat(&ev, &linked(), &rules);
    assert_eq!(
        plan.steps
            .iter()
            .filter(|s| matches!(s, Step::SendToZalo(_)))
            .count(),
        3,
        "{plan:?}"
    );
}

#[test]
fn tag_events_follow_the_tag_rules() {
    let tagged = |oa: &str| {
        zalo(serde_json::json!({
            "app_id": "1", "oa_id": oa, "user_id_by_app": "9", "event_name": "add_user_to_tag",
            "tag": {"user_ids": ["777"], "name": "vip"}, "timestamp": "1700000000000"
        }))
    };
    let plan = plan_zalo(&tagged(OA), &k(), &Rules::default());
    assert_eq!(
        plan.steps,
        vec![Step::SyncZaloTags(zfsync_mappings::SyncZaloTags {
            zalo_user_ids: vec!["777".into()],
            change: zfsync_mappings::TagChange::Added("vip".into()),
        })]
    );
    let other = plan_zalo(&tagged("1234"), &k(), &Rules::default());
    assert!(other.steps.is_empty() && other.ignored.unwrap().contains("another OA"));
    let mut off = Rules::default();
    off.tags.sync = false;
    let plan = plan_zalo(&tagged(OA), &k(), &off);
    assert!(plan.steps.is_empty() && plan.ignored.unwrap().contains("tags.sync is off"));
}
