//! The mapping engine against the real-world Zalo webhooks (`<workspace>/../shared/realworld`): each
//! `zalo-webhook-*` sample (and the Bot Platform contrast sample) goes through the real parser and the
//! real engine with the default rules, and the table names the plan it must give. Samples that only
//! document `message.attachments` are planned inside their documented envelope.
//!
//! Without the corpus the tests fail, naming it, unless `ZFSYNC_TEST_SKIP=realworld`.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::{json, Value};
use zfsync_mappings::{
    plan_zalo, AgentText, MediaKind, OutPart, Plan, Rules, Step, SyncZaloTags, TagChange,
    Visibility, ZaloKnowledge,
};
use zfsync_zalo::{parse_webhook, ZaloEvent};

/// `../shared/realworld` beside the workspace; a missing one fails the test unless
/// `ZFSYNC_TEST_SKIP` names `realworld` (then `None`).
fn corpus() -> Option<std::path::PathBuf> {
    crate::prerequisites::realworld(env!("CARGO_MANIFEST_DIR"))
}

fn load(dir: &Path, file: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join(file)).unwrap()).unwrap()
}

/// The bytes as found: `body_text` verbatim, else `body` serialised compactly.
fn raw(doc: &Value) -> Vec<u8> {
    match doc.get("body_text").and_then(Value::as_str) {
        Some(t) => t.as_bytes().to_vec(),
        None => serde_json::to_vec(&doc["body"]).unwrap(),
    }
}

fn server_header(doc: &Value) -> Option<String> {
    doc.get("headers")?
        .as_object()?
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("x-zevent-server"))
        .and_then(|(_, v)| v.as_str().map(str::to_owned))
}

const USER_ENV: &str = "zalo-webhook-user_send_text.json";
const OA_ENV: &str = "zalo-webhook-oa_send_text.json";
const ANON_ENV: &str = "zalo-webhook-anonymous_send_text.json";

/// How a sample becomes a body.
#[derive(Debug, Clone, Copy)]
enum Body {
    /// The sample's own bytes.
    AsFound,
    /// An attachments-only sample inside the envelope of `.0` with `event_name` `.1`.
    InEnvelope(&'static str, &'static str),
}

/// The plan a sample must give.
#[derive(Debug, Clone, Copy)]
enum Want {
    /// The parser refuses it with this reason.
    Refused(&'static str),
    /// No steps; the reason names this.
    Ignored(&'static str),
    /// Ensure the contact, then post as the customer: these parts (`T:` text containing, `M:` media
    /// of that kind).
    Customer(&'static [&'static str]),
    /// Ensure the contact, then a private note containing each of these.
    Note(&'static [&'static str]),
    /// Record the follow state.
    Follow(bool),
    /// Record receipts (seen or delivered).
    Receipt(bool),
    /// Forget the user, with the withdrawal note.
    Forget,
    /// Carry a tag change into Freshchat: the change and the customers it names.
    Tags(fn(String) -> TagChange, &'static [&'static str]),
    /// Save the contact details the customer gave: name and phone as they are (the phone a
    /// JSON number in the sample).
    Submitted(&'static str, &'static str),
}

const TABLE: &[(&str, Body, Want)] = &[
    (
        "zalo-webhook-add_user_to_tag.json",
        Body::AsFound,
        Want::Tags(TagChange::Added, &["246845883296197922"]),
    ),
    (
        "zalo-webhook-anonymous_send_image.json",
        Body::InEnvelope(ANON_ENV, "anonymous_send_image"),
        Want::Customer(&["M:image"]),
    ),
    (
        "zalo-webhook-anonymous_send_sticker.json",
        Body::InEnvelope(ANON_ENV, "anonymous_send_sticker"),
        Want::Customer(&["M:sticker"]),
    ),
    ("zalo-webhook-anonymous_send_text.json", Body::AsFound, Want::Customer(&["T:hello"])),
    ("zalo-webhook-follow-captured.json", Body::AsFound, Want::Follow(true)),
    ("zalo-webhook-follow.json", Body::AsFound, Want::Follow(true)),
    (
        "zalo-webhook-oa_reacted_message.json",
        Body::AsFound,
        Want::Ignored("reactions by the OA"),
    ),
    (
        "zalo-webhook-oa_send_anonymous_text.json",
        Body::AsFound,
        Want::Note(&["another app", "hello"]),
    ),
    (
        "zalo-webhook-oa_send_file.json",
        Body::InEnvelope(OA_ENV, "oa_send_file"),
        Want::Note(&["OA staff", "file", "https://f7-group-zf.zdn.vn/xxx484bd4258d6a/xxx52598708747"]),
    ),
    (
        "zalo-webhook-oa_send_list.json",
        Body::InEnvelope(OA_ENV, "oa_send_list"),
        Want::Note(&["OA staff", "• Zalo", "• your_description: https://media.zalo.me/detail/57974586350352884"]),
    ),
    ("zalo-webhook-oa_send_template.json", Body::AsFound, Want::Refused("not_json")),
    ("zalo-webhook-oa_send_text.json", Body::AsFound, Want::Note(&["OA staff", "message"])),
    ("zalo-webhook-remove_tag.json", Body::AsFound, Want::Tags(TagChange::Deleted, &[])),
    (
        "zalo-webhook-remove_user_from_tag.json",
        Body::AsFound,
        Want::Tags(TagChange::Removed, &["246845883296197922"]),
    ),
    (
        "zalo-webhook-tag_created-doc-says-add_user_to_tag.json",
        Body::AsFound,
        Want::Ignored("no customer has it yet"),
    ),
    ("zalo-webhook-update_user_info.json", Body::AsFound, Want::Refused("not_json")),
    ("zalo-webhook-user_click_chatnow.json", Body::AsFound, Want::Ignored("opened the chat")),
    ("zalo-webhook-user_reacted_message.json", Body::AsFound, Want::Note(&["reacted", "😡"])),
    ("zalo-webhook-user_received_message-zns.json", Body::AsFound, Want::Ignored("ZNS")),
    ("zalo-webhook-user_received_message.json", Body::AsFound, Want::Receipt(false)),
    ("zalo-webhook-user_seen_message.json", Body::AsFound, Want::Receipt(true)),
    (
        "zalo-webhook-user_send_audio.json",
        Body::InEnvelope(USER_ENV, "user_send_audio"),
        Want::Customer(&["M:voice message"]),
    ),
    (
        "zalo-webhook-user_send_file.json",
        Body::InEnvelope(USER_ENV, "user_send_file"),
        Want::Customer(&["M:file"]),
    ),
    (
        "zalo-webhook-user_send_gif.json",
        Body::InEnvelope(USER_ENV, "user_send_gif"),
        Want::Customer(&["M:GIF"]),
    ),
    (
        "zalo-webhook-user_send_image-fixture2021.json",
        Body::AsFound,
        Want::Customer(&["T:This is testing message", "M:image"]),
    ),
    (
        "zalo-webhook-user_send_image.json",
        Body::InEnvelope(USER_ENV, "user_send_image"),
        Want::Customer(&["M:image"]),
    ),
    (
        "zalo-webhook-user_send_link.json",
        Body::InEnvelope(USER_ENV, "user_send_link"),
        Want::Customer(&["T:https://developers.zalo.me/"]),
    ),
    ("zalo-webhook-user_send_location-captured.json", Body::AsFound, Want::Refused("not_json")),
    (
        "zalo-webhook-user_send_location.json",
        Body::InEnvelope(USER_ENV, "user_send_location"),
        Want::Customer(&["T:10.7642473, 106.65643139999999\nhttps://www.google.com/maps?q=10.7642473,106.65643139999999"]),
    ),
    (
        "zalo-webhook-user_send_sticker.json",
        Body::InEnvelope(USER_ENV, "user_send_sticker"),
        Want::Customer(&["M:sticker"]),
    ),
    ("zalo-webhook-user_send_text-captured.json", Body::AsFound, Want::Customer(&["T:Alo"])),
    ("zalo-webhook-user_send_text.json", Body::AsFound, Want::Customer(&["T:message"])),
    (
        "zalo-webhook-user_send_video.json",
        Body::InEnvelope(USER_ENV, "user_send_video"),
        Want::Customer(&["M:video"]),
    ),
    (
        "zalo-webhook-user_submit_info.json",
        Body::AsFound,
        Want::Submitted("Tò Trần", "841213333111"),
    ),
    ("zalo-webhook-user_withdraw.json", Body::AsFound, Want::Forget),
    (
        "zalo-webhook-widget_failed_to_sync_user_external_id.json",
        Body::AsFound,
        Want::Ignored("widget"),
    ),
    ("zalo-webhook-widget_interaction_accepted.json", Body::AsFound, Want::Ignored("widget")),
    (
        "zalo-bot-platform-message.image.received-NOT-OA.json",
        Body::AsFound,
        Want::Refused("other_product"),
    ),
];

/// The sample's bytes, wrapped in its envelope when it only documents attachments.
fn bytes_of(dir: &Path, file: &str, body: Body) -> Vec<u8> {
    let doc = load(dir, file);
    match body {
        Body::AsFound => raw(&doc),
        Body::InEnvelope(envelope, name) => {
            let mut env = load(dir, envelope)["body"].clone();
            env["event_name"] = json!(name);
            env["message"]["attachments"] = doc["body"].clone();
            if let Some(m) = env["message"].as_object_mut() {
                m.remove("text");
            }
            serde_json::to_vec(&env).unwrap()
        }
    }
}

/// The OA an event belongs to, as the daemon serving it would know it.
fn oa_of(e: &ZaloEvent) -> String {
    let oa = match e {
        ZaloEvent::UserMessage(m) => &m.oa_id,
        ZaloEvent::OaMessage(m) => &m.oa_id,
        ZaloEvent::UserReceived { oa_id, .. }
        | ZaloEvent::UserSeen { oa_id, .. }
        | ZaloEvent::UserReacted { oa_id, .. }
        | ZaloEvent::OaReacted { oa_id, .. }
        | ZaloEvent::Follow { oa_id, .. }
        | ZaloEvent::Unfollow { oa_id, .. }
        | ZaloEvent::UserClickChatNow { oa_id, .. }
        | ZaloEvent::UserSubmitInfo { oa_id, .. }
        | ZaloEvent::UpdateUserInfo { oa_id, .. }
        | ZaloEvent::UserWithdraw { oa_id, .. } => oa_id,
        ZaloEvent::Tag(t) => &t.oa_id,
        ZaloEvent::Widget(w) => &w.oa_id,
        ZaloEvent::Anonymous(a) => &a.oa_id,
        ZaloEvent::ZnsReceipt(_) | ZaloEvent::Unknown { .. } | ZaloEvent::OutOfScope { .. } => {
            return String::new()
        }
    };
    oa.clone()
}

fn plan_bytes(bytes: &[u8], server: Option<&str>) -> Result<(ZaloEvent, Plan), &'static str> {
    let event = parse_webhook(bytes, server).map_err(|e| e.reason())?;
    let k = ZaloKnowledge {
        oa_id: oa_of(&event),
        ..Default::default()
    };
    let plan = plan_zalo(&event, &k, &english());
    Ok((event, plan))
}

/// The rules with the agents' texts in English, the words the table looks for.
fn english() -> Rules {
    Rules::default().with_agent_language("en").unwrap()
}

fn part_matches(part: &OutPart, want: &str) -> bool {
    match (part, want.split_once(':')) {
        (OutPart::Text(t), Some(("T", needle))) => t.contains(needle),
        (OutPart::Media { kind, .. }, Some(("M", label))) => kind.label() == label,
        _ => false,
    }
}

fn check(file: &str, got: Result<(ZaloEvent, Plan), &'static str>, want: Want) {
    let (event, plan) = match (got, want) {
        (Err(reason), Want::Refused(w)) => {
            assert_eq!(reason, w, "{file}");
            return;
        }
        (Err(reason), _) => panic!("{file}: refused ({reason}), wanted {want:?}"),
        (Ok((e, p)), Want::Refused(w)) => panic!("{file}: wanted refusal {w}, got {e:?} → {p:?}"),
        (Ok(ep), _) => ep,
    };
    let user = event.user_id().unwrap_or("").to_string();
    match want {
        Want::Refused(_) => unreachable!(),
        Want::Ignored(needle) => {
            assert!(plan.steps.is_empty() && !plan.defer, "{file}: {plan:?}");
            let reason = plan.ignored.unwrap_or_default();
            assert!(
                reason.contains(needle),
                "{file}: {reason:?} lacks {needle:?}"
            );
        }
        Want::Customer(parts) | Want::Note(parts) => {
            let visibility = if matches!(want, Want::Customer(_)) {
                Visibility::Customer
            } else {
                Visibility::PrivateNote
            };
            assert_eq!(plan.steps.len(), 2, "{file}: {plan:?}");
            assert!(
                matches!(&plan.steps[0], Step::EnsureContact(zfsync_mappings::EnsureContact { zalo_user_id, .. }) if *zalo_user_id == user),
                "{file}: {plan:?}"
            );
            let Step::PostToFreshchat(zfsync_mappings::PostToFreshchat {
                zalo_user_id,
                visibility: v,
                parts: got,
                ..
            }) = &plan.steps[1]
            else {
                panic!("{file}: {plan:?}")
            };
            assert_eq!((zalo_user_id, *v), (&user, visibility), "{file}");
            if visibility == Visibility::Customer {
                assert_eq!(got.len(), parts.len(), "{file}: {got:?}");
                for (g, w) in got.iter().zip(parts.iter()) {
                    assert!(part_matches(g, w), "{file}: {g:?} is not {w}");
                }
            } else {
                let [OutPart::Text(note)] = got.as_slice() else {
                    panic!("{file}: {got:?}")
                };
                for needle in parts {
                    assert!(note.contains(needle), "{file}: {note:?} lacks {needle:?}");
                }
            }
        }
        Want::Follow(following) => assert_eq!(
            plan.steps,
            vec![Step::RecordFollow(zfsync_mappings::RecordFollow {
                zalo_user_id: user,
                following
            })],
            "{file}"
        ),
        Want::Receipt(seen) => {
            let [Step::RecordReceipt(zfsync_mappings::RecordReceipt {
                zalo_user_id,
                msg_ids,
                seen: s,
            })] = plan.steps.as_slice()
            else {
                panic!("{file}: {plan:?}")
            };
            assert_eq!((zalo_user_id, *s), (&user, seen), "{file}");
            assert_eq!(msg_ids.len(), 1, "{file}");
        }
        Want::Submitted(name, phone) => {
            let [Step::SaveContactInfo(s)] = plan.steps.as_slice() else {
                panic!("{file}: {plan:?}")
            };
            assert_eq!(s.zalo_user_id, user, "{file}");
            assert_eq!(
                (s.name.as_deref(), s.phone.as_deref()),
                (Some(name), Some(phone))
            );
            assert!(s.note.contains(phone), "{file}: {}", s.note);
        }
        Want::Forget => {
            let [Step::ForgetUser(zfsync_mappings::ForgetUser { zalo_user_id, note })] =
                plan.steps.as_slice()
            else {
                panic!("{file}: {plan:?}")
            };
            assert_eq!(zalo_user_id, &user, "{file}");
            assert_eq!(note, english().agent_text(AgentText::WithdrawNote));
        }
        Want::Tags(change, users) => assert_eq!(
            plan.steps,
            vec![Step::SyncZaloTags(SyncZaloTags {
                zalo_user_ids: users.iter().map(|u| u.to_string()).collect(),
                change: change("example".into()),
            })],
            "{file}"
        ),
    }
}

#[test]
fn every_zalo_webhook_sample_plans_as_the_table_says() {
    let Some(dir) = corpus() else { return };
    for (file, body, want) in TABLE {
        let doc = load(&dir, file);
        let bytes = bytes_of(&dir, file, *body);
        check(
            file,
            plan_bytes(&bytes, server_header(&doc).as_deref()),
            *want,
        );
    }
}

#[test]
fn the_table_names_every_webhook_sample() {
    let Some(dir) = corpus() else { return };
    let on_disk: BTreeSet<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("zalo-webhook-") || n.starts_with("zalo-bot-platform-"))
        .collect();
    let named: BTreeSet<String> = TABLE.iter().map(|(f, _, _)| (*f).to_owned()).collect();
    assert_eq!(on_disk, named);
}

#[test]
fn the_captured_location_names_the_place_with_a_map_link() {
    // The capture is a Ruby log line (refused above); its author's mechanical JSON conversion is planned.
    let Some(dir) = corpus() else { return };
    let doc = load(&dir, "zalo-webhook-user_send_location-captured.json");
    let bytes = serde_json::to_vec(&doc["body_converted_from_ruby_inspect"]).unwrap();
    check(
        "location-captured (converted)",
        plan_bytes(&bytes, None),
        Want::Customer(&[
            "T:📍 Cơm Coffee New Sky: 10.7923119, 106.7820651\nhttps://www.google.com/maps?q=10.7923119,106.7820651",
        ]),
    );
}

#[test]
fn documented_shapes_whose_corpus_copy_is_not_json() {
    // update_user_info as its page describes it (the published block has trailing commas).
    let update = json!({"app_id": "360846524840903967", "oa_id": "388613280879880645", "user_id_by_app": "4840903967328087",
        "user_id": "246845883296197922", "event_name": "update_user_info", "data": {"method": "dynamic_url"}, "timestamp": "15503500848"});
    let (_, plan) = plan_bytes(update.to_string().as_bytes(), None).unwrap();
    assert_eq!(
        plan.steps,
        vec![Step::RefreshContact(zfsync_mappings::RefreshContact {
            zalo_user_id: "246845883296197922".into()
        })]
    );
    // With `user_id: ""` as in the example: the user the store knows for `user_id_by_app` is
    // refreshed; when the store knows none, the reason says so (not "app not linked").
    let mut no_user = update.clone();
    no_user["user_id"] = json!("");
    let event = parse_webhook(no_user.to_string().as_bytes(), None).unwrap();
    let mut k = ZaloKnowledge {
        oa_id: "388613280879880645".into(),
        ..Default::default()
    };
    let plan = plan_zalo(&event, &k, &Rules::default());
    let reason = plan.ignored.unwrap_or_default();
    assert!(
        plan.steps.is_empty() && reason.contains("4840903967328087") && reason.contains("not seen"),
        "{reason}"
    );
    k.app_user = Some("246845883296197922".into());
    assert_eq!(
        plan_zalo(&event, &k, &Rules::default()).steps,
        vec![Step::RefreshContact(zfsync_mappings::RefreshContact {
            zalo_user_id: "246845883296197922".into()
        })]
    );

    // oa_send_template with the template payload of its page (the published block has a raw newline).
    let template = json!({"app_id": "360846524894903967", "sender": {"id": "388613280879808645", "admin_id": "4267886274574868951"},
        "recipient": {"id": "246845883529197922"}, "event_name": "oa_send_template",
        "message": {"msg_id": "5a9c1f", "attachments": [{"type": "template", "payload": {"zinstant_id": "templateId=12056",
            "text": "Xác nhận đặt bàn thành công", "link_url": "https://stc-zinstant.api.zaloapp.com/static/3m/12056/U5HX?data=html",
            "checksum": "142899ef0d4a69cd891c3b38d016853c"}}]}, "timestamp": "1543980770426"});
    check(
        "oa_send_template (documented payload)",
        plan_bytes(template.to_string().as_bytes(), None),
        Want::Note(&[
            "OA staff",
            "Xác nhận đặt bàn thành công",
            "https://stc-zinstant.api.zaloapp.com/static/3m/12056/U5HX?data=html",
        ]),
    );
    // The same template sent by another app (no admin_id): still readable.
    let mut other_app = template.clone();
    other_app["sender"] = json!({"id": "388613280879808645"});
    let (_, plan) = plan_bytes(other_app.to_string().as_bytes(), None).unwrap();
    let Step::PostToFreshchat(zfsync_mappings::PostToFreshchat { parts, .. }) = &plan.steps[1]
    else {
        panic!("{plan:?}")
    };
    assert!(
        matches!(&parts[0], OutPart::Text(t) if t.contains("another app") && t.contains("Xác nhận đặt bàn"))
    );
}

#[test]
fn withdrawal_for_another_oa_or_without_a_user_is_not_acted_on() {
    let Some(dir) = corpus() else { return };
    let doc = load(&dir, "zalo-webhook-user_withdraw.json");
    let event = parse_webhook(&raw(&doc), None).unwrap();
    let rules = Rules::default();
    let k = |oa: &str| ZaloKnowledge {
        oa_id: oa.into(),
        ..Default::default()
    };
    let plan = plan_zalo(&event, &k("1111"), &rules);
    assert!(plan.steps.is_empty() && plan.ignored.unwrap().contains("another OA"));
    let mut body = doc["body"].clone();
    body["user_id"] = json!("");
    body["oa_id"] = json!("");
    let event = parse_webhook(body.to_string().as_bytes(), None).unwrap();
    let plan = plan_zalo(&event, &k("1111"), &rules);
    assert!(plan.steps.is_empty() && plan.ignored.unwrap().contains("app-scoped"));
    // The same request, once the store knows the user behind the app-scoped id: forgotten.
    let known = ZaloKnowledge {
        app_user: Some("4558424660619243532".into()),
        ..k("1111")
    };
    assert_eq!(
        plan_zalo(&event, &known, &rules).steps,
        vec![Step::ForgetUser(zfsync_mappings::ForgetUser {
            zalo_user_id: "4558424660619243532".into(),
            note: rules.agent_text(AgentText::WithdrawNote).to_owned(),
        })]
    );
}

#[test]
fn a_file_keeps_its_name_and_size() {
    let Some(dir) = corpus() else { return };
    let bytes = bytes_of(
        &dir,
        "zalo-webhook-user_send_file.json",
        Body::InEnvelope(USER_ENV, "user_send_file"),
    );
    let (_, plan) = plan_bytes(&bytes, None).unwrap();
    let Step::PostToFreshchat(zfsync_mappings::PostToFreshchat { parts, .. }) = &plan.steps[1]
    else {
        panic!("{plan:?}")
    };
    assert!(matches!(
        &parts[0],
        OutPart::Media { kind: MediaKind::File, filename: Some(f), size: Some(233_947), .. } if f == "developer.docx"
    ));
}
