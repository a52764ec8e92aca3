//! JSON → [`ZaloEvent`]. Typing an object never fails and never panics: missing fields become empty
//! strings or `None`, numbers are accepted where strings are expected, unknown events become
//! [`ZaloEvent::Unknown`]. Telling other products apart (Bot Platform, ZNS) also happens here.

use serde_json::Value;

use super::attachment::Attachment;
use super::event::{
    visitor_key, AnonymousMessage, OaMessage, OutOfScope, SubmittedInfo, TagEvent, TagEventKind,
    UserMessage, UserMessageKind, WidgetEvent, WidgetEventKind, ZaloEvent, ZnsReceipt,
};
use super::{names, Product};
use crate::types::str_of;

/// Which other product a body belongs to, when it is not an OA event at all.
pub(crate) fn other_product(v: &Value) -> Option<(Product, String)> {
    // Zalo Bot Platform: dotted event names (`message.text.received`), `message.chat` and
    // `message.from` instead of sender/recipient; some deliveries wrap it in `{ok, result}`.
    let body = match v.get("result") {
        Some(inner) if v.get("ok").is_some() && inner.is_object() => inner,
        _ => v,
    };
    let name = str_of(body.get("event_name")).unwrap_or_default();
    let chat_shaped = body.pointer("/message/chat").is_some_and(Value::is_object)
        && body.pointer("/message/from").is_some_and(Value::is_object)
        && body.get("sender").is_none()
        && body.get("recipient").is_none();
    (name.contains('.') || chat_shaped).then_some((Product::BotPlatform, name))
}

/// True when a `user_received_message` body is a ZNS receipt by its shape: ZNS adds `tracking_id` and
/// `delivery_time` and addresses a phone number (or its SHA-256) instead of an OA user.
fn zns_shaped(v: &Value) -> bool {
    let has = |p: &str| v.pointer(p).is_some_and(|x| !x.is_null());
    has("/message/tracking_id") || has("/message/delivery_time") || {
        let to = str_of(v.pointer("/recipient/id")).unwrap_or_default();
        looks_like_phone(&to)
    }
}

/// Vietnamese numbers in international form (`84` + 9 or 10 digits) or a SHA-256 hex digest. OA user
/// ids are 16 to 19 digits, anonymous ids 20 hex characters, so neither matches.
fn looks_like_phone(id: &str) -> bool {
    let digits = id.bytes().all(|b| b.is_ascii_digit());
    (digits && id.starts_with("84") && (11..=12).contains(&id.len()))
        || (id.len() == 64 && id.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// Types an already parsed JSON value (anything but an object with a known event becomes
/// [`ZaloEvent::Unknown`]). `zns_header` is true when the delivery said `X-ZEvent-Server: ZNS`.
pub(crate) fn event_from_value(v: Value, zns_header: bool) -> ZaloEvent {
    let g = |p: &str| str_of(v.pointer(p));
    let gs = |p: &str| g(p).unwrap_or_default();
    let nonempty = |p: &str| g(p).filter(|s| !s.is_empty());
    let Some(name) = g("/event_name") else {
        return ZaloEvent::Unknown {
            event_name: None,
            raw: v,
        };
    };
    let timestamp = gs("/timestamp");
    let msg_ids = || -> Vec<String> {
        match v.pointer("/message/msg_ids") {
            Some(Value::Array(a)) => a.iter().filter_map(|x| str_of(Some(x))).collect(),
            _ => g("/message/msg_id").into_iter().collect(),
        }
    };
    if let Some(kind) = UserMessageKind::from_event_name(&name) {
        return ZaloEvent::UserMessage(UserMessage {
            kind,
            oa_id: gs("/recipient/id"),
            user_id: gs("/sender/id"),
            user_id_by_app: nonempty("/user_id_by_app"),
            msg_id: gs("/message/msg_id"),
            text: g("/message/text"),
            quote_msg_id: nonempty("/message/quote_msg_id"),
            attachments: Attachment::all_of(&v, "/message/attachments"),
            timestamp,
        });
    }
    // Groups and calls first: `oa_send_group_text` and `oa_send_consent` are not messages to one
    // customer, whatever their prefix says.
    if let Some(kind) = OutOfScope::of(&name) {
        return ZaloEvent::OutOfScope {
            kind,
            event_name: name,
            raw: v,
        };
    }
    let from_oa = names::OA_ANONYMOUS_ECHOES.contains(&name.as_str());
    if from_oa || names::ANONYMOUS_SENDS.contains(&name.as_str()) {
        let (oa, anon) = if from_oa {
            ("/sender/id", "/recipient/id")
        } else {
            ("/recipient/id", "/sender/id")
        };
        let anonymous_id = gs(anon);
        let conversation_id = nonempty("/message/conversation_id");
        return ZaloEvent::Anonymous(AnonymousMessage {
            from_oa,
            oa_id: gs(oa),
            visitor: match &conversation_id {
                Some(c) => visitor_key(&anonymous_id, c),
                None => anonymous_id.clone(),
            },
            anonymous_id,
            conversation_id,
            msg_id: gs("/message/msg_id"),
            text: g("/message/text"),
            attachments: Attachment::all_of(&v, "/message/attachments"),
            timestamp,
            event_name: name,
        });
    }
    if names::OA_ECHOES.contains(&name.as_str()) || names::OA_HISTORY_ONLY.contains(&name.as_str())
    {
        return ZaloEvent::OaMessage(OaMessage {
            oa_id: gs("/sender/id"),
            user_id: gs("/recipient/id"),
            user_id_by_app: nonempty("/user_id_by_app"),
            admin_id: nonempty("/sender/admin_id"),
            msg_id: gs("/message/msg_id"),
            text: g("/message/text"),
            attachments: Attachment::all_of(&v, "/message/attachments"),
            timestamp,
            event_name: name,
        });
    }
    // Management events carry a flat `oa_id`; a few carry sender/recipient instead.
    let oa_or = |fallback: &str| {
        nonempty("/oa_id")
            .or_else(|| nonempty(fallback))
            .unwrap_or_default()
    };
    match name.as_str() {
        names::USER_RECEIVED_MESSAGE if zns_header || zns_shaped(&v) => {
            ZaloEvent::ZnsReceipt(ZnsReceipt {
                sender_id: gs("/sender/id"),
                phone: gs("/recipient/id"),
                msg_id: gs("/message/msg_id"),
                tracking_id: nonempty("/message/tracking_id"),
                delivery_time: nonempty("/message/delivery_time"),
                timestamp,
            })
        }
        names::USER_RECEIVED_MESSAGE => ZaloEvent::UserReceived {
            oa_id: gs("/sender/id"),
            user_id: gs("/recipient/id"),
            msg_ids: msg_ids(),
            timestamp,
        },
        names::USER_SEEN_MESSAGE => ZaloEvent::UserSeen {
            oa_id: gs("/sender/id"),
            user_id: gs("/recipient/id"),
            msg_ids: msg_ids(),
            timestamp,
        },
        names::USER_REACTED_MESSAGE => ZaloEvent::UserReacted {
            oa_id: gs("/recipient/id"),
            user_id: gs("/sender/id"),
            msg_id: gs("/message/msg_id"),
            react_icon: gs("/message/react_icon"),
            timestamp,
        },
        names::OA_REACTED_MESSAGE => ZaloEvent::OaReacted {
            oa_id: gs("/sender/id"),
            user_id: gs("/recipient/id"),
            msg_id: gs("/message/msg_id"),
            react_icon: gs("/message/react_icon"),
            timestamp,
        },
        names::FOLLOW | names::UNFOLLOW => {
            let oa_id = oa_or("/recipient/id");
            let user_id = g("/follower/id")
                .or_else(|| g("/user_id"))
                .unwrap_or_default();
            let user_id_by_app = nonempty("/user_id_by_app");
            let source = nonempty("/source");
            if name == names::FOLLOW {
                ZaloEvent::Follow {
                    oa_id,
                    user_id,
                    user_id_by_app,
                    source,
                    timestamp,
                }
            } else {
                ZaloEvent::Unfollow {
                    oa_id,
                    user_id,
                    user_id_by_app,
                    source,
                    timestamp,
                }
            }
        }
        names::USER_CLICK_CHATNOW => ZaloEvent::UserClickChatNow {
            oa_id: oa_or("/recipient/id"),
            user_id: g("/user_id")
                .or_else(|| g("/sender/id"))
                .unwrap_or_default(),
            user_id_by_app: nonempty("/user_id_by_app"),
            timestamp,
        },
        names::USER_SUBMIT_INFO => ZaloEvent::UserSubmitInfo {
            oa_id: oa_or("/recipient/id"),
            user_id: g("/sender/id")
                .or_else(|| g("/user_id"))
                .unwrap_or_default(),
            info: submitted_info(v.get("info")),
            timestamp,
        },
        names::UPDATE_USER_INFO => ZaloEvent::UpdateUserInfo {
            oa_id: oa_or("/recipient/id"),
            user_id: g("/user_id")
                .or_else(|| g("/data/user_id"))
                .or_else(|| g("/sender/id"))
                .unwrap_or_default(),
            user_id_by_app: nonempty("/user_id_by_app"),
            method: nonempty("/data/method"),
            timestamp,
        },
        names::USER_WITHDRAW => ZaloEvent::UserWithdraw {
            oa_id: oa_or("/recipient/id"),
            user_id: g("/user_id")
                .or_else(|| g("/sender/id"))
                .unwrap_or_default(),
            user_id_by_app: nonempty("/user_id_by_app"),
            timestamp,
        },
        names::ADD_USER_TO_TAG | names::REMOVE_USER_FROM_TAG | names::REMOVE_TAG => {
            let kind = match name.as_str() {
                names::ADD_USER_TO_TAG => TagEventKind::UserAdded,
                names::REMOVE_USER_FROM_TAG => TagEventKind::UserRemoved,
                _ => TagEventKind::TagRemoved,
            };
            ZaloEvent::Tag(TagEvent {
                kind,
                oa_id: oa_or("/recipient/id"),
                tag_name: gs("/tag/name"),
                user_ids: match v.pointer("/tag/user_ids") {
                    Some(Value::Array(a)) => a.iter().filter_map(|x| str_of(Some(x))).collect(),
                    _ => Vec::new(),
                },
                timestamp,
            })
        }
        names::WIDGET_INTERACTION_ACCEPTED | names::WIDGET_FAILED_TO_SYNC_USER_EXTERNAL_ID => {
            ZaloEvent::Widget(WidgetEvent {
                kind: if name == names::WIDGET_INTERACTION_ACCEPTED {
                    WidgetEventKind::InteractionAccepted
                } else {
                    WidgetEventKind::ExternalIdSyncFailed
                },
                oa_id: oa_or("/recipient/id"),
                user_id: g("/data/user_id")
                    .or_else(|| g("/user_id"))
                    .unwrap_or_default(),
                user_external_id: nonempty("/data/user_external_id"),
                url: nonempty("/data/url"),
                message: nonempty("/data/message"),
                timestamp,
            })
        }
        _ => ZaloEvent::Unknown {
            event_name: Some(name),
            raw: v,
        },
    }
}

fn submitted_info(v: Option<&Value>) -> SubmittedInfo {
    let Some(v) = v.filter(|v| v.is_object()) else {
        return SubmittedInfo::default();
    };
    let s = |p: &str| str_of(v.pointer(p)).filter(|x| !x.trim().is_empty());
    SubmittedInfo {
        name: s("/name"),
        phone: s("/phone"),
        address: s("/address").or_else(|| s("/full_address/user_address")),
        ward: s("/ward").or_else(|| s("/full_address/user_ward")),
        district: s("/district").or_else(|| s("/full_address/user_district")),
        city: s("/city").or_else(|| s("/full_address/user_city")),
        dob: s("/user_dob").or_else(|| s("/dob")),
        gender: s("/gender"),
        email: s("/email"),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn phones_and_ids_are_told_apart() {
        assert!(looks_like_phone("84123456789"));
        assert!(looks_like_phone("841213333111"));
        assert!(looks_like_phone(&"ab".repeat(32)));
        for id in [
            "246845883529697922",
            "8309215952164870311",
            "24684588352919792",
            "1ffedc467f179649cf06",
            "",
        ] {
            assert!(!looks_like_phone(id), "{id}");
        }
    }
}
