//! Freshchat → Zalo plans for the real-world webhook samples in `<workspace>/../shared/realworld`,
//! computed through the real parser and engine with the default rules, plus fixtures written here
//! for documented shapes the corpus lacks (quick replies, dropdowns, carousels, file and url_button
//! parts, links in agent HTML). A table names each `freshchat-webhook-*` sample's expected plan;
//! a sample missing from the table fails. When the corpus folder is absent, the corpus tests print
//! one line and return; the fixture tests still run.
#![allow(clippy::unwrap_used)]

use serde_json::{json, Value};
use zfsync_freshchat::{parse_event, WebhookEvent};
use zfsync_mappings::plan::Attachment;
use zfsync_mappings::rules::CustomerText;
use zfsync_mappings::{
    plan_freshchat, FreshchatKnowledge, MediaKind, OutPart, Plan, Rules, Step, Visibility, ZaloSend,
};

/// `../shared/realworld` beside the workspace; a missing one fails the test unless
/// `ZFSYNC_TEST_SKIP` names `realworld` (then `None`).
fn corpus_dir() -> Option<std::path::PathBuf> {
    crate::prerequisites::realworld(env!("CARGO_MANIFEST_DIR"))
}

/// The raw body of a sample: `body_text` verbatim when present, else `body` serialised.
fn raw(dir: &std::path::Path, name: &str) -> Vec<u8> {
    let file: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join(name)).unwrap()).unwrap();
    match file.get("body_text").and_then(Value::as_str) {
        Some(t) => t.as_bytes().to_vec(),
        None => serde_json::to_vec(&file["body"]).unwrap(),
    }
}

fn linked() -> FreshchatKnowledge {
    FreshchatKnowledge {
        zalo_user_id: Some("777".into()),
        ..Default::default()
    }
}

fn plan_of(body: &[u8]) -> Plan {
    plan_freshchat(&parse_event(body).unwrap(), &linked(), &Rules::default())
}

fn texts(plan: &Plan) -> Vec<String> {
    plan.steps
        .iter()
        .filter_map(|s| match s {
            Step::SendToZalo(zfsync_mappings::SendToZalo {
                message: ZaloSend::Text(t),
                ..
            }) => Some(t.clone()),
            _ => None,
        })
        .collect()
}

fn notes(plan: &Plan) -> Vec<String> {
    plan.steps
        .iter()
        .filter_map(|s| match s {
            Step::PostToFreshchat(zfsync_mappings::PostToFreshchat {
                visibility: Visibility::PrivateNote,
                parts,
                ..
            }) => Some(
                parts
                    .iter()
                    .map(|p| match p {
                        OutPart::Text(t) => t.clone(),
                        other => format!("{other:?}"),
                    })
                    .collect::<String>(),
            ),
            _ => None,
        })
        .collect()
}

fn resolve_notice() -> String {
    Rules::default()
        .freshchat_to_zalo
        .text(CustomerText::ResolveNotice)
        .to_owned()
}

/// What a sample's plan must be.
#[derive(Debug, Clone, Copy)]
enum Expected {
    /// Not a webhook body at all (the daemon answers 400).
    Refused,
    /// No steps; the reason names why.
    Ignored(&'static str),
    /// Exactly these Zalo texts, nothing else.
    ZaloTexts(&'static [&'static str]),
    /// The resolve notice of the configured language.
    ResolveNotice,
}

const TABLE: &[(&str, Expected)] = &[
    (
        "freshchat-webhook-conversation_assignment.json",
        Expected::Ignored("assignment stays in Freshchat"),
    ),
    (
        "freshchat-webhook-conversation_reopen-kb2018-legacy.json",
        Expected::Refused,
    ),
    (
        "freshchat-webhook-conversation_reopen-kb2021.json",
        Expected::Ignored("reopening stays in Freshchat"),
    ),
    (
        "freshchat-webhook-conversation_reopen.json",
        Expected::Ignored("reopening stays in Freshchat"),
    ),
    (
        "freshchat-webhook-conversation_resolution.json",
        Expected::ResolveNotice,
    ),
    (
        "freshchat-webhook-message_create-kb2018-legacy.json",
        Expected::Ignored("customer message"),
    ),
    (
        "freshchat-webhook-message_create-kb2021.json",
        Expected::ZaloTexts(&["hello"]),
    ),
    (
        "freshchat-webhook-message_create-signed.json",
        Expected::Ignored("customer message"),
    ),
    (
        "freshchat-webhook-message_create-user-2020.json",
        Expected::Ignored("customer message"),
    ),
    (
        "freshchat-webhook-message_create.json",
        Expected::ZaloTexts(&["হাই সেখানে! আমি আজ তোমার জন্য কি করতে পারি?"]),
    ),
];

#[test]
fn every_webhook_sample_plans_as_the_table_says() {
    let Some(dir) = corpus_dir() else { return };
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("freshchat-webhook-"))
        .collect();
    names.sort();
    assert_eq!(names.len(), TABLE.len(), "{names:?}");
    for name in &names {
        let (_, expected) = TABLE
            .iter()
            .find(|(n, _)| n == name)
            .unwrap_or_else(|| panic!("{name} is not in the table"));
        let body = raw(&dir, name);
        let Ok(event) = parse_event(&body) else {
            assert!(matches!(expected, Expected::Refused), "{name}");
            continue;
        };
        let plan = plan_freshchat(&event, &linked(), &Rules::default());
        match expected {
            Expected::Refused => panic!("{name} parsed: {event:?}"),
            Expected::Ignored(reason) => {
                assert!(plan.steps.is_empty(), "{name}: {plan:?}");
                assert_eq!(plan.ignored.as_deref(), Some(*reason), "{name}");
            }
            Expected::ZaloTexts(want) => {
                assert_eq!(texts(&plan), *want, "{name}");
                assert_eq!(plan.steps.len(), want.len(), "{name}: {plan:?}");
            }
            Expected::ResolveNotice => {
                assert_eq!(texts(&plan), vec![resolve_notice()], "{name}");
            }
        }
    }
}

/// The 2022 agent message from the corpus, edited.
fn sample_2022(dir: &std::path::Path, edit: impl FnOnce(&mut Value)) -> Vec<u8> {
    let mut v: Value =
        serde_json::from_slice(&raw(dir, "freshchat-webhook-message_create.json")).unwrap();
    edit(&mut v["data"]["message"]);
    serde_json::to_vec(&v).unwrap()
}

#[test]
fn a_bot_private_note_never_reaches_the_customer() {
    let Some(dir) = corpus_dir() else { return };
    // As sent: no message_type, botsPrivateNote false → one Zalo text.
    assert_eq!(plan_of(&sample_2022(&dir, |_| {})).steps.len(), 1);
    for note in [
        sample_2022(&dir, |m| m["botsPrivateNote"] = json!(true)),
        sample_2022(&dir, |m| {
            m["botsPrivateNote"] = json!(true);
            m["actor_type"] = json!("bot");
        }),
        // Even when it claims to be normal.
        sample_2022(&dir, |m| {
            m["botsPrivateNote"] = json!(true);
            m["message_type"] = json!("normal");
        }),
    ] {
        let plan = plan_of(&note);
        assert!(plan.steps.is_empty(), "{plan:?}");
        assert_eq!(plan.ignored.as_deref(), Some("bot private note"));
    }
    let private = plan_of(&sample_2022(&dir, |m| m["message_type"] = json!("private")));
    assert_eq!(private.ignored.as_deref(), Some("private note"));
    let system = plan_of(&sample_2022(&dir, |m| {
        m["actor_type"] = json!("system");
    }));
    assert_eq!(system.ignored.as_deref(), Some("system message"));
    // A resolve notice written as an agent message is a system notice all the same.
    let notice = plan_of(&sample_2022(&dir, |m| {
        m["meta_data"] = json!({"isResolved": true})
    }));
    assert_eq!(notice.ignored.as_deref(), Some("system message"));
}

// ------------------------------------------------------------------ documented shapes, as fixtures

/// An agent message in the documented 2022 shape (no message_type, camelCase bot flags).
fn agent(parts: Value, reply_parts: Option<Value>) -> Vec<u8> {
    let mut message = json!({
        "message_parts": parts,
        "app_id": "app-1", "actor_id": "agent-1", "id": "msg-1", "channel_id": "ch-1",
        "conversation_id": "conv-1", "interaction_id": "1-2", "actor_type": "agent",
        "created_time": "2024-05-02T03:04:05.678Z", "user_id": "user-1",
        "restrictResponse": false, "botsPrivateNote": false
    });
    if let Some(r) = reply_parts {
        message["reply_parts"] = r;
    }
    serde_json::to_vec(&json!({
        "actor": {"actor_type": "agent", "actor_id": "agent-1"},
        "action": "message_create", "action_time": "2024-05-02T03:04:05.700Z",
        "data": {"message": message}
    }))
    .unwrap()
}

fn hint() -> String {
    Rules::default()
        .freshchat_to_zalo
        .text(CustomerText::OptionsHint)
        .to_owned()
}

#[test]
fn quick_replies_become_numbered_options_under_the_question() {
    let body = agent(
        json!([{"text": {"content": "Anh muốn nhận hàng lúc nào?"}}]),
        Some(json!([{"collection": {"sub_parts": [
            {"quick_reply_button": {"label": "Sáng nay"}},
            {"quick_reply_button": {"label": "Chiều nay", "payload": "pm"}}
        ]}}])),
    );
    let plan = plan_of(&body);
    assert_eq!(
        texts(&plan),
        vec![format!(
            "Anh muốn nhận hàng lúc nào?\n1. Sáng nay\n2. Chiều nay\n{}",
            hint()
        )]
    );
    assert_eq!(plan.steps.len(), 1);
    // The same options inside message_parts.
    let inline = agent(
        json!([{"text": {"content": "Chọn giờ"}},
               {"collection": {"sub_parts": [{"quick_reply_button": {"label": "9h"}}]}}]),
        None,
    );
    assert_eq!(
        texts(&plan_of(&inline)),
        vec![format!("Chọn giờ\n1. 9h\n{}", hint())]
    );
    // Option buttons one part each, then a link button: one block, numbered on, below a question
    // written as an HTML paragraph (its closing line break is not sent).
    let separate = agent(
        json!([{"text": {"content": "<p>Anh chọn màu nào?</p>"}},
               {"quick_reply_button": {"label": "Đỏ"}},
               {"quick_reply_button": {"label": "Xanh"}},
               {"url_button": {"url": "https://shop.vn/mau", "label": "Bảng màu"}}]),
        None,
    );
    assert_eq!(
        texts(&plan_of(&separate)),
        vec![format!(
            "Anh chọn màu nào?\n1. Đỏ\n2. Xanh\nBảng màu: https://shop.vn/mau\n{}",
            hint()
        )]
    );
}

#[test]
fn the_options_framing_follows_the_language() {
    let en = Rules::from_toml(
        &zfsync_mappings::rules::DEFAULT_RULES.replace("language = \"vi\"", "language = \"en\""),
    )
    .unwrap();
    let body = agent(
        json!([{"text": {"content": "Pick one"}}]),
        Some(json!([{"collection": {"sub_parts": [{"quick_reply_button": {"label": "Yes"}}]}}])),
    );
    let plan = plan_freshchat(&parse_event(&body).unwrap(), &linked(), &en);
    assert_eq!(
        texts(&plan),
        vec!["Pick one\n1. Yes\nYou can reply with the number or the text of your choice."]
    );
}

#[test]
fn dropdowns_url_buttons_and_carousels_become_readable_text() {
    let dropdown = agent(
        json!([{"text": {"content": "Chọn chi nhánh"}}]),
        Some(
            json!([{"template_content": {"type": "quick_reply_dropdown", "sections": [
            {"name": "options", "parts": [
                {"quick_reply_button": {"label": "Hà Nội", "custom_reply_text": "HN", "payload": "hn"}},
                {"quick_reply_button": {"label": "TP. Hồ Chí Minh", "payload": "hcm"}}]}]}}]),
        ),
    );
    assert_eq!(
        texts(&plan_of(&dropdown)),
        vec![format!(
            "Chọn chi nhánh\n1. Hà Nội\n2. TP. Hồ Chí Minh\n{}",
            hint()
        )]
    );

    let button = agent(
        json!([{"text": {"content": "Xem chính sách đổi trả"}},
               {"url_button": {"url": "https://shop.vn/doi-tra", "label": "Mở trang", "target": "_blank"}}]),
        None,
    );
    assert_eq!(
        texts(&plan_of(&button)),
        vec!["Xem chính sách đổi trả\nMở trang: https://shop.vn/doi-tra"]
    );

    let card = |title: &str, desc: &str, url: &str| {
        json!({"template_content": {"type": "carousel_card_default", "sections": [
            {"name": "hero_image", "parts": [{"image": {"url": "https://cdn.shop.vn/a.jpg"}}]},
            {"name": "title", "parts": [{"text": {"content": title}}]},
            {"name": "description", "parts": [{"text": {"content": desc}}]},
            {"name": "callback", "parts": [{"callback": {"label": "Chọn", "payload": title}}]},
            {"name": "view", "parts": [{"url_button": {"url": url, "label": "Chi tiết"}}]}]}})
    };
    let carousel = agent(
        json!([{"text": {"content": "Các gói dịch vụ"}}]),
        Some(
            json!([{"template_content": {"type": "carousel", "sections": [
            {"name": "cards", "parts": [
                card("Gói Cơ bản", "99.000đ/tháng", "https://shop.vn/co-ban"),
                card("Gói Nâng cao", "199.000đ/tháng", "https://shop.vn/nang-cao")]}]}}]),
        ),
    );
    let plan = plan_of(&carousel);
    assert_eq!(
        texts(&plan),
        vec![format!(
            "Các gói dịch vụ\n1. Gói Cơ bản\n99.000đ/tháng\nChi tiết: https://shop.vn/co-ban\n\
             2. Gói Nâng cao\n199.000đ/tháng\nChi tiết: https://shop.vn/nang-cao\n{}",
            hint()
        )]
    );
    // The pictures could not be shown: the agent is told, once.
    let said = notes(&plan);
    assert_eq!(said.len(), 1);
    assert!(said[0].contains("the carousel's pictures"), "{said:?}");
}

#[test]
fn nothing_is_dropped_silently() {
    let body = agent(
        json!([{"text": {"content": "Gửi anh mã"}},
               {"reference": {"label": "ĐH-1", "reference_id": "r1"}},
               {"text_input": {"placeholder": "x"}}]),
        Some(json!([{"template_content": {"type": "mystery", "sections": []}}])),
    );
    let plan = plan_of(&body);
    assert_eq!(texts(&plan), vec!["Gửi anh mã"]);
    let said = notes(&plan);
    assert_eq!(said.len(), 1);
    for named in [
        "“reference” part",
        "“text_input” part",
        "“mystery” template",
    ] {
        assert!(said[0].contains(named), "{named} in {said:?}");
    }
    // Only unshowable parts: the agent still hears of it.
    let only = agent(json!([{"attachment_input": {}}]), None);
    let plan = plan_of(&only);
    assert!(texts(&plan).is_empty());
    assert_eq!(notes(&plan).len(), 1);
}

fn attachments(plan: &Plan) -> Vec<Attachment> {
    plan.steps
        .iter()
        .filter_map(|s| match s {
            Step::SendToZalo(zfsync_mappings::SendToZalo {
                message: ZaloSend::Attachment(a),
                ..
            }) => Some(a.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn attachments_carry_what_delivery_needs_and_no_raw_link() {
    let body = agent(
        json!([
            {"image": {"url": "https://fc.example/img/a.png"}},
            {"image": {"url": "https://fc.example/img/dance.gif"}},
            {"file": {"name": "Báo giá.pdf", "url": "https://acme.freshchat.com/v2/files/1",
                      "file_size_in_bytes": 48213, "content_type": "application/pdf"}},
            {"file": {"name": "hop-dong.docx", "download_url": "https://s3.example/hop-dong.docx?sig=1"}},
            {"video": {"url": "https://fc.example/v/clip.mp4", "content_type": "video/mp4"}},
            {"video": {"url": "https://fc.example/v/voice", "content_type": "audio/ogg"}},
            {"file": {"name": "ghi-am.m4a", "url": "https://fc.example/f/ghi-am.m4a"}}
        ]),
        None,
    );
    let plan = plan_of(&body);
    let got = attachments(&plan);
    let kinds: Vec<MediaKind> = got.iter().map(|a| a.kind).collect();
    assert_eq!(
        kinds,
        [
            MediaKind::Image,
            MediaKind::Gif,
            MediaKind::File,
            MediaKind::File,
            MediaKind::Video,
            MediaKind::Audio,
            MediaKind::Audio
        ]
    );
    let pdf = &got[2];
    assert_eq!(pdf.name.as_deref(), Some("Báo giá.pdf"));
    assert_eq!(pdf.size, Some(48213));
    assert_eq!(pdf.content_type.as_deref(), Some("application/pdf"));
    assert_eq!(
        pdf.source_url(),
        Some("https://acme.freshchat.com/v2/files/1")
    );
    // A file with only download_url uses it.
    assert_eq!(got[3].url, None);
    assert_eq!(
        got[3].source_url(),
        Some("https://s3.example/hop-dong.docx?sig=1")
    );
    for a in &got {
        // The link text waits for zfsync's own URL; the Freshchat URL is never in it.
        assert!(a.link_text.contains("{url}"), "{a:?}");
        assert!(!a.link_text.contains("http"), "{a:?}");
    }
    assert_eq!(pdf.link_text, "📎 Báo giá.pdf: {url}");
    assert!(notes(&plan).is_empty());
}

#[test]
fn an_attachment_without_a_link_is_re_read_then_named() {
    let body = agent(
        json!([{"text": {"content": "Hợp đồng đây ạ"}},
               {"file": {"name": "hop-dong.pdf", "file_size_in_bytes": 10}}]),
        None,
    );
    let plan = plan_of(&body);
    assert!(plan.reread_message && plan.steps.is_empty(), "{plan:?}");
    let image_without_url = agent(json!([{"image": {}}]), None);
    assert!(plan_of(&image_without_url).reread_message);
    // After the re-read the file still has no link: the text goes, the agent is told.
    let again = FreshchatKnowledge {
        message_reread: true,
        ..linked()
    };
    let plan = plan_freshchat(&parse_event(&body).unwrap(), &again, &Rules::default());
    assert!(!plan.reread_message);
    assert_eq!(texts(&plan), vec!["Hợp đồng đây ạ"]);
    assert!(notes(&plan)[0].contains("hop-dong.pdf"), "{plan:?}");
}

#[test]
fn agent_html_keeps_links_and_decodes_entities() {
    let body = agent(
        json!([{"text": {"content":
            "Anh xem <a href=\"https://shop.vn/chinh-sach\">chính sách</a> nh&eacute;&nbsp;&#8211; \
             <b>https://shop.vn</b><br/>Xin cảm ơn&#x1F600;"}}]),
        None,
    );
    assert_eq!(
        texts(&plan_of(&body)),
        vec!["Anh xem chính sách (https://shop.vn/chinh-sach) nhé – https://shop.vn\nXin cảm ơn😀"]
    );
}

#[test]
fn the_resolve_notice_speaks_the_configured_language() {
    let body = serde_json::to_vec(&json!({
        "actor": {"actor_type": "agent", "actor_id": "a"}, "action": "conversation_resolution",
        "action_time": "2024-05-02T03:04:05.678Z",
        "data": {"resolve": {"resolver": "agent", "conversation": {"conversation_id": "conv-1", "status": "resolved"}}}
    }))
    .unwrap();
    let event: WebhookEvent = parse_event(&body).unwrap();
    let vi = plan_freshchat(&event, &linked(), &Rules::default());
    assert!(
        texts(&vi)[0].starts_with("Cuộc trò chuyện của bạn"),
        "{vi:?}"
    );
    let en = Rules::from_toml(
        &zfsync_mappings::rules::DEFAULT_RULES.replace("language = \"vi\"", "language = \"en\""),
    )
    .unwrap();
    let en = plan_freshchat(&event, &linked(), &en);
    assert!(texts(&en)[0].starts_with("Your conversation"), "{en:?}");
}

mod props {
    use super::*;
    use proptest::prelude::*;

    fn part() -> impl Strategy<Value = Value> {
        let text = "\\PC{0,40}";
        prop_oneof![
            text.prop_map(|t| json!({"text": {"content": t}})),
            "[a-z]{1,8}".prop_map(|u| json!({"image": {"url": format!("https://x/{u}.png")}})),
            ("[a-z]{1,8}", any::<bool>()).prop_map(|(n, url)| if url {
                json!({"file": {"name": format!("{n}.pdf"), "url": format!("https://x/{n}")}})
            } else {
                json!({"file": {"name": format!("{n}.pdf")}})
            }),
            text.prop_map(|l| json!({"quick_reply_button": {"label": l}})),
            text.prop_map(|l| json!({"url_button": {"label": l, "url": "https://x"}})),
            prop::collection::vec(
                text.prop_map(|l| json!({"quick_reply_button": {"label": l}})),
                0..4
            )
            .prop_map(|s| json!({"collection": {"sub_parts": s}})),
            "[a-z_]{1,10}".prop_map(|k| json!({ k: {"x": 1} })),
            Just(json!(null)),
        ]
    }

    proptest! {
        /// Whatever a bot's private note or a private note holds, nothing goes to Zalo; any other
        /// agent message plans without panicking, and a plan without steps always says why.
        #[test]
        fn privacy_and_no_silent_drops(
            parts in prop::collection::vec(part(), 0..6),
            reply in prop::collection::vec(part(), 0..3),
            flag in 0u8..3,
            reread in any::<bool>(),
        ) {
            let mut v: Value = serde_json::from_slice(&agent(json!(parts), Some(json!(reply)))).unwrap();
            match flag {
                0 => v["data"]["message"]["botsPrivateNote"] = json!(true),
                1 => v["data"]["message"]["message_type"] = json!("private"),
                _ => {}
            }
            let k = FreshchatKnowledge { message_reread: reread, ..linked() };
            let plan = plan_freshchat(&parse_event(&serde_json::to_vec(&v).unwrap()).unwrap(), &k, &Rules::default());
            let to_zalo = plan.steps.iter().filter(|s| matches!(s, Step::SendToZalo(zfsync_mappings::SendToZalo { .. }))).count();
            if flag < 2 {
                prop_assert_eq!(to_zalo, 0);
                prop_assert!(plan.steps.is_empty());
            }
            if plan.steps.is_empty() && !plan.reread_message {
                prop_assert!(plan.ignored.is_some());
            }
            if plan.reread_message {
                prop_assert!(!reread && plan.steps.is_empty());
            }
            for s in &plan.steps {
                if let Step::SendToZalo(zfsync_mappings::SendToZalo { message: ZaloSend::Text(t), .. }) = s {
                    prop_assert!(zfsync_mappings::char_count(t) <= 2000);
                    prop_assert!(!t.trim().is_empty());
                }
            }
        }
    }
}
