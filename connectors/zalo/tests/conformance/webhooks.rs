//! Webhook samples: the classification table, details read from the samples, signature vectors.

use std::path::Path;

use secrecy::SecretString;
use serde_json::{json, Value};
use zfsync_zalo::webhook::SignatureError;
use zfsync_zalo::{parse_webhook, verify, Attachment, ParseError, UserMessageKind, ZaloEvent};

use super::{corpus, Sample};

/// What a webhook sample must become.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Hook {
    /// Parsed into this event (see [`kind`]).
    Event(&'static str),
    /// Only `message.attachments` is given: the bare array is refused (not an object); inside the
    /// documented envelope of `envelope` with `event_name` set to `name`, it is this event with a first
    /// attachment of this kind.
    Fragment {
        envelope: &'static str,
        name: &'static str,
        event: &'static str,
        attachment: &'static str,
    },
    /// The text as found is not JSON: refused as such, never guessed.
    InvalidJson,
    /// Another product's payload.
    OtherProduct,
}

const USER_ENV: &str = "zalo-webhook-user_send_text.json";
const OA_ENV: &str = "zalo-webhook-oa_send_text.json";
const ANON_ENV: &str = "zalo-webhook-anonymous_send_text.json";

const fn frag(
    envelope: &'static str,
    name: &'static str,
    event: &'static str,
    attachment: &'static str,
) -> Hook {
    Hook::Fragment {
        envelope,
        name,
        event,
        attachment,
    }
}

pub(crate) const WEBHOOKS: &[(&str, Hook)] = &[
    ("zalo-webhook-add_user_to_tag.json", Hook::Event("Tag")),
    (
        "zalo-webhook-anonymous_send_image.json",
        frag(ANON_ENV, "anonymous_send_image", "Anonymous", "Image"),
    ),
    (
        "zalo-webhook-anonymous_send_sticker.json",
        frag(ANON_ENV, "anonymous_send_sticker", "Anonymous", "Sticker"),
    ),
    (
        "zalo-webhook-anonymous_send_text.json",
        Hook::Event("Anonymous"),
    ),
    ("zalo-webhook-follow-captured.json", Hook::Event("Follow")),
    ("zalo-webhook-follow.json", Hook::Event("Follow")),
    (
        "zalo-webhook-oa_reacted_message.json",
        Hook::Event("OaReacted"),
    ),
    (
        "zalo-webhook-oa_send_anonymous_text.json",
        Hook::Event("Anonymous"),
    ),
    (
        "zalo-webhook-oa_send_file.json",
        frag(OA_ENV, "oa_send_file", "OaMessage", "File"),
    ),
    (
        "zalo-webhook-oa_send_list.json",
        frag(OA_ENV, "oa_send_list", "OaMessage", "Link"),
    ),
    ("zalo-webhook-oa_send_template.json", Hook::InvalidJson),
    ("zalo-webhook-oa_send_text.json", Hook::Event("OaMessage")),
    ("zalo-webhook-remove_tag.json", Hook::Event("Tag")),
    ("zalo-webhook-remove_user_from_tag.json", Hook::Event("Tag")),
    (
        "zalo-webhook-tag_created-doc-says-add_user_to_tag.json",
        Hook::Event("Tag"),
    ),
    ("zalo-webhook-update_user_info.json", Hook::InvalidJson),
    (
        "zalo-webhook-user_click_chatnow.json",
        Hook::Event("UserClickChatNow"),
    ),
    (
        "zalo-webhook-user_reacted_message.json",
        Hook::Event("UserReacted"),
    ),
    (
        "zalo-webhook-user_received_message-zns.json",
        Hook::Event("ZnsReceipt"),
    ),
    (
        "zalo-webhook-user_received_message.json",
        Hook::Event("UserReceived"),
    ),
    (
        "zalo-webhook-user_seen_message.json",
        Hook::Event("UserSeen"),
    ),
    (
        "zalo-webhook-user_send_audio.json",
        frag(USER_ENV, "user_send_audio", "UserMessage:Audio", "Audio"),
    ),
    (
        "zalo-webhook-user_send_file.json",
        frag(USER_ENV, "user_send_file", "UserMessage:File", "File"),
    ),
    (
        "zalo-webhook-user_send_gif.json",
        frag(USER_ENV, "user_send_gif", "UserMessage:Gif", "Gif"),
    ),
    (
        "zalo-webhook-user_send_image-fixture2021.json",
        Hook::Event("UserMessage:Image"),
    ),
    (
        "zalo-webhook-user_send_image.json",
        frag(USER_ENV, "user_send_image", "UserMessage:Image", "Image"),
    ),
    (
        "zalo-webhook-user_send_link.json",
        frag(USER_ENV, "user_send_link", "UserMessage:Link", "Link"),
    ),
    (
        "zalo-webhook-user_send_location-captured.json",
        Hook::InvalidJson,
    ),
    (
        "zalo-webhook-user_send_location.json",
        frag(
            USER_ENV,
            "user_send_location",
            "UserMessage:Location",
            "Location",
        ),
    ),
    (
        "zalo-webhook-user_send_sticker.json",
        frag(
            USER_ENV,
            "user_send_sticker",
            "UserMessage:Sticker",
            "Sticker",
        ),
    ),
    (
        "zalo-webhook-user_send_text-captured.json",
        Hook::Event("UserMessage:Text"),
    ),
    (
        "zalo-webhook-user_send_text.json",
        Hook::Event("UserMessage:Text"),
    ),
    (
        "zalo-webhook-user_send_video.json",
        frag(USER_ENV, "user_send_video", "UserMessage:Video", "Video"),
    ),
    (
        "zalo-webhook-user_submit_info.json",
        Hook::Event("UserSubmitInfo"),
    ),
    (
        "zalo-webhook-user_withdraw.json",
        Hook::Event("UserWithdraw"),
    ),
    (
        "zalo-webhook-widget_failed_to_sync_user_external_id.json",
        Hook::Event("Widget"),
    ),
    (
        "zalo-webhook-widget_interaction_accepted.json",
        Hook::Event("Widget"),
    ),
    (
        "zalo-bot-platform-message.image.received-NOT-OA.json",
        Hook::OtherProduct,
    ),
];

/// The variant of an event (and the kind of a user message), for the table.
pub(crate) fn kind(e: &ZaloEvent) -> String {
    match e {
        ZaloEvent::UserMessage(m) => format!("UserMessage:{:?}", m.kind),
        ZaloEvent::OaMessage(_) => "OaMessage".into(),
        ZaloEvent::UserReceived { .. } => "UserReceived".into(),
        ZaloEvent::UserSeen { .. } => "UserSeen".into(),
        ZaloEvent::UserReacted { .. } => "UserReacted".into(),
        ZaloEvent::OaReacted { .. } => "OaReacted".into(),
        ZaloEvent::Follow { .. } => "Follow".into(),
        ZaloEvent::Unfollow { .. } => "Unfollow".into(),
        ZaloEvent::UserClickChatNow { .. } => "UserClickChatNow".into(),
        ZaloEvent::UserSubmitInfo { .. } => "UserSubmitInfo".into(),
        ZaloEvent::UpdateUserInfo { .. } => "UpdateUserInfo".into(),
        ZaloEvent::UserWithdraw { .. } => "UserWithdraw".into(),
        ZaloEvent::Tag(_) => "Tag".into(),
        ZaloEvent::Widget(_) => "Widget".into(),
        ZaloEvent::ZnsReceipt(_) => "ZnsReceipt".into(),
        ZaloEvent::Anonymous(_) => "Anonymous".into(),
        ZaloEvent::OutOfScope { kind, .. } => format!("OutOfScope:{kind:?}"),
        ZaloEvent::Unknown { .. } => "Unknown".into(),
    }
}

fn attachment_kind(a: &Attachment) -> &'static str {
    match a {
        Attachment::Image { .. } => "Image",
        Attachment::Gif { .. } => "Gif",
        Attachment::Link { .. } => "Link",
        Attachment::Audio { .. } => "Audio",
        Attachment::Video { .. } => "Video",
        Attachment::Sticker { .. } => "Sticker",
        Attachment::Location { .. } => "Location",
        Attachment::File { .. } => "File",
        Attachment::Template { .. } => "Template",
        Attachment::Other { .. } => "Other",
    }
}

fn attachments(e: &ZaloEvent) -> &[Attachment] {
    match e {
        ZaloEvent::UserMessage(m) => &m.attachments,
        ZaloEvent::OaMessage(m) => &m.attachments,
        ZaloEvent::Anonymous(a) => &a.attachments,
        _ => &[],
    }
}

/// A fragment inside its documented envelope: `event_name` set, `message.attachments` replaced, the
/// envelope's own text dropped (it belongs to the text example).
fn wrap(dir: &Path, envelope: &str, name: &str, fragment: &Value) -> Vec<u8> {
    let mut body = Sample::load(dir, envelope).body().clone();
    body["event_name"] = json!(name);
    body["message"]["attachments"] = fragment.clone();
    if let Some(m) = body["message"].as_object_mut() {
        m.remove("text");
    }
    serde_json::to_vec(&body).unwrap()
}

fn parse_sample(s: &Sample) -> Result<ZaloEvent, ParseError> {
    parse_webhook(&s.raw(), s.header("x-zevent-server"))
}

#[test]
fn every_webhook_sample_is_classified() {
    let Some(dir) = corpus() else { return };
    for (file, expect) in WEBHOOKS {
        let s = Sample::load(&dir, file);
        let got = parse_sample(&s);
        match *expect {
            Hook::Event(want) => {
                let e = got.unwrap_or_else(|e| panic!("{file}: refused: {e}"));
                assert_eq!(kind(&e), want, "{file}");
                assert!(!e.dedupe_key().is_empty(), "{file}");
                assert!(e.timestamp().is_some(), "{file}: no timestamp");
            }
            Hook::Fragment {
                envelope,
                name,
                event,
                attachment,
            } => {
                assert_eq!(got, Err(ParseError::NotAnObject), "{file}: the bare array");
                let e = zfsync_zalo::parse_event(&wrap(&dir, envelope, name, s.body())).unwrap();
                assert_eq!(kind(&e), event, "{file}");
                assert_eq!(e.event_name(), name, "{file}");
                let first = attachments(&e).first().map(attachment_kind);
                assert_eq!(first, Some(attachment), "{file}: {e:?}");
            }
            Hook::InvalidJson => {
                let e = got.unwrap_err();
                assert!(matches!(e, ParseError::InvalidJson { .. }), "{file}: {e:?}");
                assert_eq!(e.reason(), "not_json");
            }
            Hook::OtherProduct => {
                let e = got.unwrap_err();
                assert!(
                    matches!(e, ParseError::OtherProduct { .. }),
                    "{file}: {e:?}"
                );
                assert_eq!(e.reason(), "other_product");
            }
        }
    }
}

#[test]
fn webhook_details_read_as_zalo_sends_them() {
    let Some(dir) = corpus() else { return };
    let ev = |f: &str| parse_sample(&Sample::load(&dir, f)).unwrap();

    // Facts 1, 2: timestamps of any length are taken as given; user_id_by_app is optional.
    let e = ev("zalo-webhook-user_send_text.json");
    assert_eq!(e.time_ms(), Some(154_390_853_474));
    let ZaloEvent::UserMessage(m) = &e else {
        panic!()
    };
    assert_eq!(m.user_id_by_app.as_deref(), Some("552177279717587730"));
    assert_eq!(e.dedupe_key(), "96d3cdf3af150460909");
    let e = ev("zalo-webhook-user_send_text-captured.json");
    let ZaloEvent::UserMessage(m) = &e else {
        panic!()
    };
    assert_eq!(
        (m.user_id_by_app.as_deref(), m.text.as_deref()),
        (None, Some("Alo"))
    );
    assert_eq!(e.time_ms(), Some(1_787_209_817_225));
    assert_eq!(
        ev("zalo-webhook-add_user_to_tag.json").time_ms(),
        Some(15_503_500_848)
    );

    // Fact 5: the phone of user_submit_info is a number.
    let ZaloEvent::UserSubmitInfo { info, user_id, .. } = ev("zalo-webhook-user_submit_info.json")
    else {
        panic!()
    };
    assert_eq!(
        (
            info.phone.as_deref(),
            user_id.as_str(),
            info.ward.as_deref()
        ),
        (Some("841213333111"), "246845883529697922", None)
    );

    // Facts 10, 11: seen has msg_ids, received has msg_id; ZNS is told apart by header and by shape.
    let ZaloEvent::UserSeen {
        msg_ids, user_id, ..
    } = ev("zalo-webhook-user_seen_message.json")
    else {
        panic!()
    };
    assert_eq!(
        (msg_ids, user_id.as_str()),
        (
            vec!["43b59c025aeabfb5e6fa".to_string()],
            "246845883529697922"
        )
    );
    let ZaloEvent::UserReceived { msg_ids, .. } = ev("zalo-webhook-user_received_message.json")
    else {
        panic!()
    };
    assert_eq!(msg_ids, vec!["43b59c025aebfb5e6fa".to_string()]);
    let zns = Sample::load(&dir, "zalo-webhook-user_received_message-zns.json");
    for header in [Some("ZNS"), None] {
        let e = parse_webhook(&zns.raw(), header).unwrap();
        let ZaloEvent::ZnsReceipt(z) = &e else {
            panic!("{header:?}: {e:?}")
        };
        assert_eq!(
            (z.phone.as_str(), z.tracking_id.as_deref()),
            ("84123456789", Some("tracking_id"))
        );
        assert_eq!(e.user_id(), None, "a phone number is not an OA user");
    }

    // Fact 12: follow source "zalo"; chatnow and withdraw are flat.
    let ZaloEvent::Follow {
        source, user_id, ..
    } = ev("zalo-webhook-follow-captured.json")
    else {
        panic!()
    };
    assert_eq!(
        (source.as_deref(), user_id.as_str()),
        (Some("zalo"), "8890635404729405962")
    );
    let e = ev("zalo-webhook-user_click_chatnow.json");
    assert_eq!(e.user_id(), Some("8309215952164870311"));
    let ZaloEvent::UserWithdraw {
        oa_id,
        user_id,
        user_id_by_app,
        ..
    } = ev("zalo-webhook-user_withdraw.json")
    else {
        panic!()
    };
    assert_eq!(
        (oa_id.as_str(), user_id.as_str(), user_id_by_app.as_deref()),
        (
            "607812198688816074",
            "4558424660619243532",
            Some("2836211951173838919")
        )
    );
    let ZaloEvent::Tag(t) = ev("zalo-webhook-tag_created-doc-says-add_user_to_tag.json") else {
        panic!()
    };
    assert!(t.user_ids.is_empty() && t.tag_name == "example");
    let ZaloEvent::Widget(w) = ev("zalo-webhook-widget_failed_to_sync_user_external_id.json")
    else {
        panic!()
    };
    assert_eq!(
        (w.user_id.as_str(), w.message.as_deref()),
        (
            "246845883296197922",
            Some("user already has user_external_id")
        )
    );

    // Staff send (admin_id) and reactions.
    let ZaloEvent::OaMessage(m) = ev("zalo-webhook-oa_send_text.json") else {
        panic!()
    };
    assert_eq!(
        (m.admin_id.as_deref(), m.user_id.as_str()),
        (Some("4267886274574868951"), "246845883529197922")
    );
    let ZaloEvent::UserReacted {
        react_icon, msg_id, ..
    } = ev("zalo-webhook-user_reacted_message.json")
    else {
        panic!()
    };
    assert_eq!(
        (react_icon.as_str(), msg_id.as_str()),
        (":-h", "789f573aecf8a9a4f0eb")
    );

    // Fact 8: anonymous ids are hex; the conversation id is kept to answer.
    let ZaloEvent::Anonymous(a) = ev("zalo-webhook-anonymous_send_text.json") else {
        panic!()
    };
    assert_eq!(
        (a.anonymous_id.as_str(), a.conversation_id.as_deref()),
        ("1ffedc467f179649cf06", Some("fa8f3f8701c2e89cb1d3"))
    );
}

#[test]
fn attachment_fragments_read_their_quirks() {
    let Some(dir) = corpus() else { return };
    let wrapped = |file: &str, env: &str, name: &str| {
        let s = Sample::load(&dir, file);
        zfsync_zalo::parse_event(&wrap(&dir, env, name, s.body())).unwrap()
    };
    let e = wrapped(
        "zalo-webhook-user_send_file.json",
        USER_ENV,
        "user_send_file",
    );
    let Attachment::File {
        size,
        name,
        file_type,
        ..
    } = &attachments(&e)[0]
    else {
        panic!()
    };
    assert_eq!(
        (*size, name.as_deref(), file_type.as_deref()),
        (Some(233_947), Some("developer.docx"), Some("docx"))
    );
    let e = wrapped(
        "zalo-webhook-user_send_location.json",
        USER_ENV,
        "user_send_location",
    );
    assert_eq!(
        attachments(&e)[0],
        Attachment::Location {
            latitude: "10.7642473".into(),
            longitude: "106.65643139999999".into()
        }
    );
    let e = wrapped(
        "zalo-webhook-user_send_sticker.json",
        USER_ENV,
        "user_send_sticker",
    );
    let Attachment::Sticker { id, url } = &attachments(&e)[0] else {
        panic!()
    };
    assert_eq!(id.as_deref(), Some("e1540df031b5deb81a4"));
    assert!(
        url.as_deref().unwrap().contains("&amp;size=130"),
        "kept as sent"
    );
    let e = wrapped("zalo-webhook-oa_send_list.json", OA_ENV, "oa_send_list");
    let items = attachments(&e);
    assert_eq!(items.len(), 3);
    assert!(
        matches!(&items[0], Attachment::Link { url, description: Some(d), .. } if url.is_empty() && d == "Zalo")
    );
    assert_eq!(items[0].url(), None);
    assert_eq!(
        items[1].url(),
        Some("https://media.zalo.me/detail/57974586350352884")
    );
    let ZaloEvent::UserMessage(m) = &wrapped(
        "zalo-webhook-user_send_image.json",
        USER_ENV,
        "user_send_image",
    ) else {
        panic!()
    };
    assert_eq!(m.kind, UserMessageKind::Image);
    // The captured location, as its corpus author converted it (the capture itself is not JSON).
    let conv = Sample::load(&dir, "zalo-webhook-user_send_location-captured.json");
    let e = zfsync_zalo::parse_event(
        &serde_json::to_vec(&conv.doc["body_converted_from_ruby_inspect"]).unwrap(),
    )
    .unwrap();
    let ZaloEvent::UserMessage(m) = &e else {
        panic!()
    };
    assert_eq!(
        (m.kind, m.text.as_deref(), m.user_id_by_app.as_deref()),
        (
            UserMessageKind::Location,
            Some("Cơm Coffee New Sky"),
            Some("7300442764876318465")
        )
    );
}

// ------------------------------------------------------------------ signatures

pub(crate) const SIGNATURES: &str = "zalo-signature-vectors-zgo.json";

#[test]
fn signature_vectors_verify_with_the_configured_app_id() {
    let Some(dir) = corpus() else { return };
    let s = Sample::load(&dir, SIGNATURES);
    let vectors = s.body()["vectors"].as_array().unwrap();
    assert_eq!(vectors.len(), 2);
    for v in vectors {
        let field = |k: &str| v[k].as_str().unwrap();
        let key = SecretString::from(field("oa_secret_key"));
        let raw = field("raw_body").as_bytes();
        assert_eq!(
            zfsync_zalo::signature(field("app_id"), raw, field("timestamp"), &key),
            field("header_value")
        );
        assert_eq!(
            verify(field("app_id"), &key, raw, Some(field("header_value"))),
            Ok(())
        );
        // The body's own app_id is not what was signed.
        let body_app: Value = serde_json::from_slice(raw).unwrap();
        let body_app = body_app["app_id"].as_str().unwrap();
        assert_ne!(body_app, field("app_id"));
        assert_eq!(
            verify(body_app, &key, raw, Some(field("header_value"))),
            Err(SignatureError::Mismatch)
        );
        // And the event it signs is typed.
        assert_eq!(kind(&zfsync_zalo::parse_event(raw).unwrap()), "Tag");
    }
}

#[test]
fn the_captured_follow_mac_is_refused() {
    let Some(dir) = corpus() else { return };
    let s = Sample::load(&dir, "zalo-webhook-follow-captured.json");
    let note = s.doc["note"].as_str().unwrap();
    let secret = note
        .split("secret '")
        .nth(1)
        .unwrap()
        .split('\'')
        .next()
        .unwrap();
    assert_eq!(secret.len(), 20);
    let header = s.header("x-zevent-signature").unwrap();
    let raw = s.raw();
    let body: Value = serde_json::from_slice(&raw).unwrap();
    let source = s.doc["source"].as_str().unwrap();
    let other_app = source
        .split("app_id ")
        .nth(1)
        .unwrap()
        .split(')')
        .next()
        .unwrap();
    for app_id in [body["app_id"].as_str().unwrap(), other_app] {
        assert_eq!(
            verify(app_id, &SecretString::from(secret), &raw, Some(header)),
            Err(SignatureError::Mismatch),
            "{app_id}"
        );
    }
}

/// One app linked to several OAs delivers every OA's events to one URL: each sample must name its
/// OA, one of the ids the body carries (`sender.id`, `recipient.id` or the flat `oa_id`, which
/// side depends on the event: a delivery receipt is sent by the OA), and never the customer.
#[test]
fn every_oa_event_sample_names_its_oa() {
    let Some(dir) = corpus() else { return };
    let text = |v: &Value| match v {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    };
    let mut named = 0;
    for (file, expect) in WEBHOOKS {
        let Hook::Event(_) = expect else { continue };
        let s = Sample::load(&dir, file);
        let e = parse_sample(&s).unwrap_or_else(|e| panic!("{file}: refused: {e}"));
        let body: Value = serde_json::from_slice(&s.raw()).unwrap();
        let ids: Vec<String> = ["/sender/id", "/recipient/id", "/oa_id"]
            .iter()
            .filter_map(|p| body.pointer(p).and_then(text))
            .collect();
        match e.oa_id() {
            Some(oa) => {
                assert!(ids.iter().any(|i| i == oa), "{file}: {oa} not in {ids:?}");
                assert_ne!(Some(oa), e.user_id(), "{file}: the customer is not the OA");
                named += 1;
            }
            None => assert!(
                body.get("oa_id").and_then(text).is_none(),
                "{file}: names an OA that was not read"
            ),
        }
    }
    assert!(named > 10, "only {named} samples name an OA");
}
