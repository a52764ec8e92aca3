//! Webhook bodies as Zalo sends them (the `zalo-webhook-*` samples): ids and `timestamp` as strings,
//! `sender`/`recipient` per direction, `follower` on follow events, flat `oa_id`/`user_id` on
//! management events, `msg_ids` (array) on `user_seen_message`, `msg_id` on `user_received_message`,
//! attachment payloads as documented, `user_id_by_app` absent where the corpus shows it absent.
//!
//! Key order varies as it does in the corpus (the docs put `app_id` first, a captured Rails log
//! `event_name` first): the bodies are built in those orders (serde_json keeps insertion order) and
//! signed byte for byte as sent. Pure functions: nothing here fails.

use serde_json::{json, Map, Value};

/// Who and when, shared by every body.
#[derive(Debug, Clone)]
pub(crate) struct Ctx {
    pub app_id: String,
    pub oa_id: String,
    /// Epoch milliseconds as a string.
    pub ts: String,
}

/// A body to sign and deliver.
#[derive(Debug, Clone)]
pub(crate) struct Event {
    pub body: Value,
    pub event_name: String,
    /// `message.msg_id`, when the event has one.
    pub msg_id: Option<String>,
    /// Events of one lane (a user) are delivered in order.
    pub lane: String,
}

/// The three body layouts seen for user messages: the documentation's (`user_id_by_app` after
/// `sender`), the captured delivery's (no `user_id_by_app`), and the Rails log's (`event_name` first,
/// `user_id_by_app` last). Chosen from the message id, so it varies from message to message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Layout {
    Documented,
    Captured,
    Logged,
}

impl Layout {
    pub fn for_msg(msg_id: &str) -> Layout {
        match msg_id.bytes().next().unwrap_or(b'0') % 3 {
            0 => Layout::Documented,
            1 => Layout::Captured,
            _ => Layout::Logged,
        }
    }
}

fn obj(pairs: Vec<(&str, Value)>) -> Value {
    let mut m = Map::new();
    for (k, v) in pairs {
        m.insert(k.to_owned(), v);
    }
    Value::Object(m)
}

fn id(v: &str) -> Value {
    json!({ "id": v })
}

/// The `message` object of a user or OA message.
fn message(
    layout: Layout,
    msg_id: &str,
    text: Option<&str>,
    quote: Option<&str>,
    attachments: Vec<Value>,
) -> Value {
    let mut pairs: Vec<(&str, Value)> = vec![];
    let text_v = text.map(|t| ("text", Value::String(t.to_owned())));
    let att = (!attachments.is_empty()).then(|| ("attachments", Value::Array(attachments)));
    let id_v = ("msg_id", Value::String(msg_id.to_owned()));
    let quote_v = quote.map(|q| ("quote_msg_id", Value::String(q.to_owned())));
    match layout {
        Layout::Documented => {
            pairs.extend(text_v);
            pairs.push(id_v);
            pairs.extend(quote_v);
            pairs.extend(att);
        }
        Layout::Captured => {
            pairs.push(id_v);
            pairs.extend(text_v);
            pairs.extend(quote_v);
            pairs.extend(att);
        }
        Layout::Logged => {
            pairs.extend(att);
            pairs.extend(text_v);
            pairs.extend(quote_v);
            pairs.push(id_v);
        }
    }
    obj(pairs)
}

/// One message a user sent to the OA (`user_send_*`).
pub(crate) struct UserMsg<'a> {
    pub event_name: &'a str,
    pub user_id: &'a str,
    pub by_app: &'a str,
    pub msg_id: &'a str,
    pub text: Option<&'a str>,
    pub quote: Option<&'a str>,
    pub attachments: Vec<Value>,
}

/// `user_send_*`: sender = user, recipient = OA.
pub(crate) fn user_message(ctx: &Ctx, m: UserMsg<'_>) -> Event {
    let layout = Layout::for_msg(m.msg_id);
    let msg = message(layout, m.msg_id, m.text, m.quote, m.attachments);
    let (app, name, ts) = (
        Value::String(ctx.app_id.clone()),
        Value::String(m.event_name.to_owned()),
        Value::String(ctx.ts.clone()),
    );
    let by_app = Value::String(m.by_app.to_owned());
    let body = match layout {
        Layout::Documented => obj(vec![
            ("app_id", app),
            ("sender", id(m.user_id)),
            ("user_id_by_app", by_app),
            ("recipient", id(&ctx.oa_id)),
            ("event_name", name),
            ("message", msg),
            ("timestamp", ts),
        ]),
        Layout::Captured => obj(vec![
            ("app_id", app),
            ("sender", id(m.user_id)),
            ("recipient", id(&ctx.oa_id)),
            ("event_name", name),
            ("message", msg),
            ("timestamp", ts),
        ]),
        Layout::Logged => obj(vec![
            ("event_name", name),
            ("app_id", app),
            ("sender", id(m.user_id)),
            ("recipient", id(&ctx.oa_id)),
            ("message", msg),
            ("timestamp", ts),
            ("user_id_by_app", by_app),
        ]),
    };
    Event {
        body,
        event_name: m.event_name.to_owned(),
        msg_id: Some(m.msg_id.to_owned()),
        lane: m.user_id.to_owned(),
    }
}

/// One message the OA sent (API send or staff in Zalo's chat tool).
pub(crate) struct OaMsg<'a> {
    pub event_name: &'a str,
    pub user_id: &'a str,
    pub by_app: &'a str,
    /// Only for staff sends.
    pub admin_id: Option<&'a str>,
    pub msg_id: &'a str,
    pub text: Option<&'a str>,
    pub attachments: Vec<Value>,
}

/// `oa_send_*`: sender = OA (with `admin_id` only for staff sends), recipient = user.
pub(crate) fn oa_message(ctx: &Ctx, m: OaMsg<'_>) -> Event {
    let sender = match m.admin_id {
        Some(a) => json!({"id": ctx.oa_id, "admin_id": a}),
        None => id(&ctx.oa_id),
    };
    let body = obj(vec![
        ("app_id", Value::String(ctx.app_id.clone())),
        ("sender", sender),
        ("recipient", id(m.user_id)),
        ("event_name", Value::String(m.event_name.to_owned())),
        (
            "message",
            message(Layout::Documented, m.msg_id, m.text, None, m.attachments),
        ),
        ("user_id_by_app", Value::String(m.by_app.to_owned())),
        ("timestamp", Value::String(ctx.ts.clone())),
    ]);
    Event {
        body,
        event_name: m.event_name.to_owned(),
        msg_id: Some(m.msg_id.to_owned()),
        lane: m.user_id.to_owned(),
    }
}

/// `user_seen_message` (msg_ids array) or `user_received_message` (msg_id): sender = OA,
/// recipient = user, no `user_id_by_app`.
pub(crate) fn receipt(ctx: &Ctx, user_id: &str, seen: Option<&[String]>, received: &str) -> Event {
    let (name, message) = match seen {
        Some(ids) => ("user_seen_message", json!({ "msg_ids": ids })),
        None => ("user_received_message", json!({ "msg_id": received })),
    };
    let body = obj(vec![
        ("app_id", Value::String(ctx.app_id.clone())),
        ("sender", id(&ctx.oa_id)),
        ("recipient", id(user_id)),
        ("event_name", Value::String(name.to_owned())),
        ("message", message),
        ("timestamp", Value::String(ctx.ts.clone())),
    ]);
    Event {
        body,
        event_name: name.to_owned(),
        msg_id: seen.is_none().then(|| received.to_owned()),
        lane: user_id.to_owned(),
    }
}

/// `user_reacted_message` (sender = user) or `oa_reacted_message` (sender = OA).
pub(crate) fn reaction(
    ctx: &Ctx,
    user_id: &str,
    by_app: &str,
    msg_id: &str,
    icon: &str,
    by_oa: bool,
) -> Event {
    let (name, sender, recipient) = if by_oa {
        ("oa_reacted_message", id(&ctx.oa_id), id(user_id))
    } else {
        ("user_reacted_message", id(user_id), id(&ctx.oa_id))
    };
    let body = obj(vec![
        ("app_id", Value::String(ctx.app_id.clone())),
        ("event_name", Value::String(name.to_owned())),
        ("sender", sender),
        ("recipient", recipient),
        ("message", json!({"msg_id": msg_id, "react_icon": icon})),
        ("timestamp", Value::String(ctx.ts.clone())),
        ("user_id_by_app", Value::String(by_app.to_owned())),
    ]);
    Event {
        body,
        event_name: name.to_owned(),
        msg_id: Some(msg_id.to_owned()),
        lane: user_id.to_owned(),
    }
}

/// `follow` / `unfollow`: `follower.id`, flat `oa_id`, `source`.
pub(crate) fn follow(ctx: &Ctx, user_id: &str, by_app: &str, source: &str, follows: bool) -> Event {
    let name = if follows { "follow" } else { "unfollow" };
    let body = obj(vec![
        ("oa_id", Value::String(ctx.oa_id.clone())),
        ("follower", id(user_id)),
        ("user_id_by_app", Value::String(by_app.to_owned())),
        ("event_name", Value::String(name.to_owned())),
        ("source", Value::String(source.to_owned())),
        ("app_id", Value::String(ctx.app_id.clone())),
        ("timestamp", Value::String(ctx.ts.clone())),
    ]);
    flat(body, name, user_id)
}

fn flat(body: Value, name: &str, user_id: &str) -> Event {
    Event {
        body,
        event_name: name.to_owned(),
        msg_id: None,
        lane: user_id.to_owned(),
    }
}

/// `user_click_chatnow`: flat `oa_id`, `user_id`, `user_id_by_app`.
pub(crate) fn click_chatnow(ctx: &Ctx, user_id: &str, by_app: &str) -> Event {
    let body = obj(vec![
        ("app_id", Value::String(ctx.app_id.clone())),
        ("event_name", Value::String("user_click_chatnow".into())),
        ("oa_id", Value::String(ctx.oa_id.clone())),
        ("user_id", Value::String(user_id.to_owned())),
        ("user_id_by_app", Value::String(by_app.to_owned())),
        ("timestamp", Value::String(ctx.ts.clone())),
    ]);
    flat(body, "user_click_chatnow", user_id)
}

/// `user_submit_info`: sender/recipient, `info` (phone a number when all digits), no message.
pub(crate) fn submit_info(ctx: &Ctx, user_id: &str, info: Value) -> Event {
    let body = obj(vec![
        ("sender", id(user_id)),
        ("recipient", id(&ctx.oa_id)),
        ("event_name", Value::String("user_submit_info".into())),
        ("app_id", Value::String(ctx.app_id.clone())),
        ("timestamp", Value::String(ctx.ts.clone())),
        ("info", info),
    ]);
    flat(body, "user_submit_info", user_id)
}

/// A tag event as the documented examples show it (`zalo-webhook-*tag*`): flat `oa_id` and
/// `user_id_by_app`, then `tag` with `user_ids` (strings; absent for `remove_tag` and for the
/// creation of a tag, which Zalo documents under the name `add_user_to_tag`) and `name`.
pub(crate) fn tag(
    ctx: &Ctx,
    name: &str,
    by_app: &str,
    tag_name: &str,
    user_ids: Option<&[String]>,
    lane: &str,
) -> Event {
    let mut t = Map::new();
    if let Some(ids) = user_ids {
        t.insert(
            "user_ids".into(),
            Value::Array(ids.iter().map(|i| Value::String(i.clone())).collect()),
        );
    }
    t.insert("name".into(), Value::String(tag_name.to_owned()));
    let body = obj(vec![
        ("app_id", Value::String(ctx.app_id.clone())),
        ("oa_id", Value::String(ctx.oa_id.clone())),
        ("user_id_by_app", Value::String(by_app.to_owned())),
        ("event_name", Value::String(name.to_owned())),
        ("tag", Value::Object(t)),
        ("timestamp", Value::String(ctx.ts.clone())),
    ]);
    flat(body, name, lane)
}

/// Whom a management event names, as Zalo's examples show it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Naming {
    /// `oa_id` and `user_id` set (the `user_withdraw` example).
    Both,
    /// `user_id` empty, only `user_id_by_app` (the `update_user_info` example).
    AppOnly,
    /// `oa_id` and `user_id` empty: an app not linked to the OA (the `user_withdraw` note).
    Unlinked,
}

/// `update_user_info` (`data.method`) and `user_withdraw`: flat `oa_id`, `user_id_by_app`, `user_id`.
pub(crate) fn user_management(
    ctx: &Ctx,
    name: &str,
    user_id: &str,
    by_app: &str,
    naming: Naming,
    data: Option<Value>,
) -> Event {
    let (oa, user) = match naming {
        Naming::Both => (ctx.oa_id.as_str(), user_id),
        Naming::AppOnly => (ctx.oa_id.as_str(), ""),
        Naming::Unlinked => ("", ""),
    };
    let mut pairs = vec![
        ("app_id", Value::String(ctx.app_id.clone())),
        ("oa_id", Value::String(oa.to_owned())),
        ("user_id_by_app", Value::String(by_app.to_owned())),
        ("user_id", Value::String(user.to_owned())),
        ("event_name", Value::String(name.to_owned())),
    ];
    if let Some(d) = data {
        pairs.push(("data", d));
    }
    pairs.push(("timestamp", Value::String(ctx.ts.clone())));
    flat(obj(pairs), name, user_id)
}

/// A message between an anonymous chat-widget visitor and the OA.
pub(crate) struct AnonMsg<'a> {
    pub event_name: &'a str,
    pub anonymous_id: &'a str,
    pub by_app: &'a str,
    pub conversation_id: &'a str,
    pub msg_id: &'a str,
    pub text: Option<&'a str>,
    pub attachments: Vec<Value>,
    /// `oa_send_anonymous_*` rather than `anonymous_send_*`.
    pub from_oa: bool,
}

/// `anonymous_send_*` (visitor → OA) and `oa_send_anonymous_*` (OA → visitor):
/// `message.conversation_id` first, `user_id_by_app` last.
pub(crate) fn anonymous(ctx: &Ctx, m: AnonMsg<'_>) -> Event {
    let mut message = vec![(
        "conversation_id",
        Value::String(m.conversation_id.to_owned()),
    )];
    if let Some(t) = m.text {
        message.push(("text", Value::String(t.to_owned())));
    }
    if !m.attachments.is_empty() {
        message.push(("attachments", Value::Array(m.attachments)));
    }
    message.push(("msg_id", Value::String(m.msg_id.to_owned())));
    let (sender, recipient) = if m.from_oa {
        (id(&ctx.oa_id), id(m.anonymous_id))
    } else {
        (id(m.anonymous_id), id(&ctx.oa_id))
    };
    let body = obj(vec![
        ("event_name", Value::String(m.event_name.to_owned())),
        ("app_id", Value::String(ctx.app_id.clone())),
        ("sender", sender),
        ("recipient", recipient),
        ("message", obj(message)),
        ("timestamp", Value::String(ctx.ts.clone())),
        ("user_id_by_app", Value::String(m.by_app.to_owned())),
    ]);
    Event {
        body,
        event_name: m.event_name.to_owned(),
        msg_id: Some(m.msg_id.to_owned()),
        lane: m.anonymous_id.to_owned(),
    }
}

// ---------------------------------------------------------------- attachments

fn attachment(kind: &str, payload: Value) -> Value {
    json!({ "payload": payload, "type": kind })
}

/// `image` / `gif`: `{thumbnail, url}`.
pub(crate) fn att_picture(kind: &str, url: &str) -> Value {
    attachment(kind, json!({"thumbnail": url, "url": url}))
}

/// `sticker`: `{url, id}`.
pub(crate) fn att_sticker(url: &str, sticker_id: &str) -> Value {
    attachment("sticker", json!({"url": url, "id": sticker_id}))
}

/// `file`: `{size (string), name, checksum, type (extension), url}`.
pub(crate) fn att_file(url: &str, name: &str, size: usize, checksum: &str, ext: &str) -> Value {
    attachment(
        "file",
        json!({"size": size.to_string(), "name": name, "checksum": checksum, "type": ext, "url": url}),
    )
}

/// `audio`: `{url}`.
pub(crate) fn att_audio(url: &str) -> Value {
    attachment("audio", json!({ "url": url }))
}

/// `video`: `{url, thumbnail, description}`.
pub(crate) fn att_video(url: &str, thumbnail: &str) -> Value {
    attachment(
        "video",
        json!({"url": url, "thumbnail": thumbnail, "description": ""}),
    )
}

/// `location`: `{coordinates: {latitude, longitude}}`, strings.
pub(crate) fn att_location(latitude: &str, longitude: &str) -> Value {
    attachment(
        "location",
        json!({"coordinates": {"latitude": latitude, "longitude": longitude}}),
    )
}

/// `link`: `{thumbnail, description, url}` (links, business cards, list items).
pub(crate) fn att_link(thumbnail: &str, description: &str, url: &str) -> Value {
    attachment(
        "link",
        json!({"thumbnail": thumbnail, "description": description, "url": url}),
    )
}

/// A ZInstant template: `{zinstant_id, text, link_url, checksum}`.
pub(crate) fn att_template(zinstant_id: &str, text: &str, link_url: &str, checksum: &str) -> Value {
    attachment(
        "template",
        json!({"zinstant_id": zinstant_id, "text": text, "link_url": link_url, "checksum": checksum}),
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn ctx() -> Ctx {
        Ctx {
            app_id: "app".into(),
            oa_id: "oa".into(),
            ts: "1700000000000".into(),
        }
    }

    fn keys(v: &Value) -> Vec<&str> {
        v.as_object().unwrap().keys().map(String::as_str).collect()
    }

    #[test]
    fn layouts_vary_key_order_and_user_id_by_app() {
        let make = |msg_id: &str| {
            user_message(
                &ctx(),
                UserMsg {
                    event_name: "user_send_text",
                    user_id: "u",
                    by_app: "b",
                    msg_id,
                    text: Some("hi"),
                    quote: None,
                    attachments: vec![],
                },
            )
            .body
        };
        // '0' = 48 → documented, '1' = 49 → captured, '2' = 50 → logged.
        assert_eq!(
            keys(&make("0a")),
            [
                "app_id",
                "sender",
                "user_id_by_app",
                "recipient",
                "event_name",
                "message",
                "timestamp"
            ]
        );
        assert_eq!(
            keys(&make("1a")),
            [
                "app_id",
                "sender",
                "recipient",
                "event_name",
                "message",
                "timestamp"
            ]
        );
        assert_eq!(keys(&make("2a"))[0], "event_name");
        assert_eq!(keys(&make("2a")).last(), Some(&"user_id_by_app"));
    }

    #[test]
    fn receipts_have_no_user_id_by_app() {
        let seen = receipt(&ctx(), "u", Some(&["m1".to_owned()]), "");
        assert_eq!(seen.body["message"], json!({"msg_ids": ["m1"]}));
        assert!(seen.body.get("user_id_by_app").is_none());
        let got = receipt(&ctx(), "u", None, "m2");
        assert_eq!(got.body["message"], json!({"msg_id": "m2"}));
        assert_eq!(got.body["sender"]["id"], "oa");
    }
}
