//! JSON → [`WebhookEvent`]: every payload generation (2018 legacy, 2021, 2022), never panicking.
//!
//! [`parse_event`] refuses, with a named [`ParseError`], a body that is not JSON, not an object, or
//! a marketplace *product event* (a different format that is never a webhook body). Shapes it
//! does not know, and known actions whose payload cannot be read, become [`WebhookEvent::Unknown`].

use serde_json::Value;

use super::event::{Actor, ConversationRef, WebhookEvent};
use super::{
    ACTION_CONVERSATION_ASSIGNMENT, ACTION_CONVERSATION_REOPEN, ACTION_CONVERSATION_RESOLUTION,
    ACTION_MESSAGE_CREATE,
};
use crate::lenient;
use crate::types::{ActorType, ConversationStatus, Message};

/// A body that is not a Freshchat webhook (the daemon answers 400).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// Not JSON at all.
    #[error("the webhook body is not JSON: {0}")]
    NotJson(String),
    /// JSON but not an object.
    #[error("the webhook body is not a JSON object")]
    NotObject,
    /// A Freshworks marketplace product event (`onMessageCreate`, ...): another format, sent to
    /// marketplace apps, never to a conversation webhook URL.
    #[error("the body is a Freshworks marketplace product event, not a conversation webhook; point Freshchat's conversation webhook (Admin > Webhooks) at this URL instead")]
    ProductEvent,
}

impl ParseError {
    /// A short name for logs, metrics and the daemon's answers: `not_json`, `not_object` or
    /// `product_event` (the Zalo connector names the same refusals the same way).
    pub fn reason(&self) -> &'static str {
        match self {
            Self::NotJson(_) => "not_json",
            Self::NotObject => "not_object",
            Self::ProductEvent => "product_event",
        }
    }
}

/// Parses a (verified) webhook body. Fails when it is not a JSON object or is a marketplace product
/// event; never panics.
pub fn parse_event(raw_body: &[u8]) -> Result<WebhookEvent, ParseError> {
    let raw: Value =
        serde_json::from_slice(raw_body).map_err(|e| ParseError::NotJson(e.to_string()))?;
    if !raw.is_object() {
        return Err(ParseError::NotObject);
    }
    if is_product_event(&raw) {
        return Err(ParseError::ProductEvent);
    }
    let action = raw.get("action").and_then(Value::as_str).map(str::to_owned);
    let parsed = action.as_deref().and_then(|a| typed_event(a, &raw));
    Ok(parsed.unwrap_or(WebhookEvent::Unknown { action, raw }))
}

/// Marketplace product events have no `action`; their actor says `type` (not `actor_type`), they name
/// the event in `event`, carry `associations`, or wrap a conversation with `messages[]`.
fn is_product_event(raw: &Value) -> bool {
    if raw.get("action").is_some() {
        return false;
    }
    let data = raw.get("data");
    let actor_typed = |a: Option<&Value>| {
        a.is_some_and(|a| a.get("type").is_some() && a.get("actor_type").is_none())
    };
    raw.get("event").and_then(Value::as_str).is_some()
        || actor_typed(raw.get("actor"))
        || actor_typed(data.and_then(|d| d.get("actor")))
        || raw.get("associations").is_some()
        || data.and_then(|d| d.get("associations")).is_some()
        || raw
            .pointer("/message/messages")
            .is_some_and(Value::is_array)
}

fn typed_event(action: &str, raw: &Value) -> Option<WebhookEvent> {
    let actor = Actor {
        actor_type: raw
            .pointer("/actor/actor_type")
            .and_then(Value::as_str)
            .map_or(ActorType::Other(String::new()), ActorType::parse),
        actor_id: raw
            .pointer("/actor/actor_id")
            .and_then(lenient::value_to_string)
            .filter(|s| !s.is_empty()),
    };
    let action_time = raw.get("action_time").and_then(lenient::value_to_string);
    let data = raw.get("data")?;
    match action {
        ACTION_MESSAGE_CREATE => {
            let message: Message = serde_json::from_value(data.get("message")?.clone()).ok()?;
            Some(WebhookEvent::MessageCreate {
                actor,
                action_time,
                message,
            })
        }
        ACTION_CONVERSATION_ASSIGNMENT => {
            let a = data.get("assignment")?;
            Some(WebhookEvent::ConversationAssignment {
                actor,
                action_time,
                conversation: conversation_ref(a.get("conversation")?)?,
                to_agent_id: non_empty(a.get("to_agent_id")),
                to_group_id: non_empty(a.get("to_group_id")),
            })
        }
        ACTION_CONVERSATION_RESOLUTION => {
            let r = data.get("resolve")?;
            let conversation = conversation_ref(r.get("conversation")?)?;
            let user_id = non_empty(r.pointer("/user/id"))
                .or_else(|| non_empty(r.pointer("/users/0/id")))
                .or_else(|| conversation.user_id.clone());
            let resolver = r
                .get("resolver")
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map_or_else(|| actor.actor_type.clone(), ActorType::parse);
            Some(WebhookEvent::ConversationResolution {
                resolver,
                actor,
                action_time,
                conversation,
                user_id,
            })
        }
        ACTION_CONVERSATION_REOPEN => {
            let r = data.get("reopen")?;
            Some(WebhookEvent::ConversationReopen {
                actor,
                action_time,
                conversation: conversation_ref(r.get("conversation")?)?,
            })
        }
        _ => None,
    }
}

fn non_empty(v: Option<&Value>) -> Option<String> {
    v.and_then(lenient::value_to_string)
        .filter(|s| !s.trim().is_empty())
}

fn conversation_ref(v: &Value) -> Option<ConversationRef> {
    Some(ConversationRef {
        conversation_id: non_empty(v.get("conversation_id"))?,
        status: v
            .get("status")
            .and_then(Value::as_str)
            .map(ConversationStatus::parse),
        channel_id: non_empty(v.get("channel_id")),
        user_id: non_empty(v.get("user_id")),
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::webhook::event::{iso_time_ms, message_create_event};
    use crate::webhook::signature::tests::KAT_BODY;

    #[test]
    fn parses_the_known_answer_event() {
        let e = parse_event(KAT_BODY.as_bytes()).unwrap();
        assert_eq!(e.action(), ACTION_MESSAGE_CREATE);
        assert_eq!(e.dedupe_key(), "7a454fde-c720-4c97-a61d-0ffe70449eb6");
        assert_eq!(
            e.conversation_id(),
            Some("c327498e-f713-481e-8d83-0603e03d2521")
        );
        let WebhookEvent::MessageCreate { actor, message, .. } = e else {
            panic!("not a message")
        };
        assert_eq!(actor.actor_type, ActorType::User);
        assert_eq!(
            message.message_parts,
            vec![crate::types::MessagePart::text("Test 2")]
        );
    }

    #[test]
    fn parses_conversation_events() {
        let body = br#"{"actor":{"actor_type":"agent","actor_id":"a1"},"action":"conversation_resolution","action_time":"2022-04-01T06:16:34.207Z",
            "data":{"resolve":{"resolver":"agent","conversation":{"conversation_id":"c1","status":"resolved","channel_id":"ch"},"user":{"id":"u1"}}}}"#;
        let e = parse_event(body).unwrap();
        assert_eq!(
            e.dedupe_key(),
            "conversation_resolution:c1:2022-04-01T06:16:34.207Z"
        );
        assert!(
            matches!(e, WebhookEvent::ConversationResolution { ref user_id, ref resolver, .. } if user_id.as_deref() == Some("u1") && *resolver == ActorType::Agent)
        );
        let body = br#"{"action":"conversation_assignment","data":{"assignment":{"to_agent_id":"","to_group_id":"g","conversation":{"conversation_id":"c2","status":"assigned"}}}}"#;
        let e = parse_event(body).unwrap();
        assert!(
            matches!(e, WebhookEvent::ConversationAssignment { ref to_agent_id, ref to_group_id, .. } if to_agent_id.is_none() && to_group_id.as_deref() == Some("g"))
        );
        let body = br#"{"action":"conversation_reopen","data":{"reopen":{"conversation":{"conversation_id":"c3","status":"reopened"}}}}"#;
        assert_eq!(parse_event(body).unwrap().conversation_id(), Some("c3"));
        let body = br#"{"action":"user_create","data":{"user":{}}}"#;
        assert!(matches!(
            parse_event(body).unwrap(),
            WebhookEvent::Unknown { .. }
        ));
        let body = br#"{"action":"message_create","data":{"message":{"no_id":1}}}"#;
        assert!(matches!(
            parse_event(body).unwrap(),
            WebhookEvent::Unknown { .. }
        ));
        assert_eq!(parse_event(b"[1]").unwrap_err(), ParseError::NotObject);
        assert!(matches!(
            parse_event(b"{").unwrap_err(),
            ParseError::NotJson(_)
        ));
    }

    #[test]
    fn times_bodies_and_history_events() {
        let e = parse_event(KAT_BODY.as_bytes()).unwrap();
        // created_time wins over action_time.
        assert_eq!(e.time_ms(), iso_time_ms("2019-06-21T17:43:20.866Z"));
        assert_eq!(
            iso_time_ms("2019-06-21T17:43:20.866Z"),
            Some(1_561_139_000_866)
        );
        assert_eq!(parse_event(&e.to_body()).unwrap(), e);
        let WebhookEvent::MessageCreate { message, .. } = &e else {
            panic!("not a message")
        };
        let rebuilt = message_create_event(message);
        assert_eq!(rebuilt.dedupe_key(), e.dedupe_key());
        assert_eq!(rebuilt.time_ms(), e.time_ms());
        assert_eq!(parse_event(&rebuilt.to_body()).unwrap(), rebuilt);
        let body =
            br#"{"action":"conversation_resolution","action_time":"2022-04-01T06:16:34.207Z",
            "data":{"resolve":{"conversation":{"conversation_id":"c1"},"user":{"id":"u"}}}}"#;
        let e = parse_event(body).unwrap();
        assert_eq!(e.time_ms(), iso_time_ms("2022-04-01T06:16:34.207Z"));
        assert_eq!(parse_event(&e.to_body()).unwrap(), e);
        let e = parse_event(br#"{"action":"x","action_time":"soon"}"#).unwrap();
        assert_eq!(e.time_ms(), None);
    }

    #[test]
    fn product_events_are_refused() {
        for body in [
            r#"{"actor":{"type":"agent","id":"a"},"message":{"messages":[]},"associations":{}}"#,
            r#"{"account_id":"1","event":"onMessageCreate","data":{"actor":{"type":"user"}},"timestamp":1}"#,
            r#"{"data":{"conversation":{},"associations":{}}}"#,
        ] {
            assert_eq!(
                parse_event(body.as_bytes()).unwrap_err(),
                ParseError::ProductEvent,
                "{body}"
            );
        }
        // A webhook always names its action; an object without one stays an unknown event.
        assert!(matches!(
            parse_event(br#"{"data":{}}"#).unwrap(),
            WebhookEvent::Unknown { .. }
        ));
        assert_eq!(ParseError::ProductEvent.reason(), "product_event");
    }

    /// Found by the fuzzer: a blank message id was the dedupe key itself (every later message with
    /// a blank id was dropped as a duplicate), and refusals were named unlike the Zalo route's.
    #[test]
    fn blank_message_ids_get_a_derived_key_and_refusals_share_names() {
        let message = |id: &str, text: &str| {
            let body = format!(
                r#"{{"action":"message_create","data":{{"message":{{"id":"{id}","conversation_id":"c1","message_parts":[{{"text":{{"content":"{text}"}}}}]}}}}}}"#
            );
            parse_event(body.as_bytes()).unwrap()
        };
        for blank in ["", " "] {
            let a = message(blank, "one");
            assert!(
                a.dedupe_key().starts_with("message_create:c1:"),
                "{}",
                a.dedupe_key()
            );
            assert_ne!(a.dedupe_key(), message(blank, "two").dedupe_key());
            assert_eq!(a.dedupe_key(), message(blank, "one").dedupe_key());
        }
        assert_eq!(message("m1", "one").dedupe_key(), "m1");
        assert_eq!(parse_event(b"{").unwrap_err().reason(), "not_json");
        assert_eq!(parse_event(b"[1]").unwrap_err().reason(), "not_object");
    }
    mod props {
        use super::super::*;
        use proptest::prelude::*;

        fn arb_json() -> impl Strategy<Value = Value> {
            let leaf = prop_oneof![
                Just(Value::Null),
                any::<bool>().prop_map(Value::Bool),
                any::<i64>().prop_map(Value::from),
                // Binary fractions: printed and read back exactly, so a round trip compares equal.
                any::<i32>().prop_map(|i| serde_json::Number::from_f64(f64::from(i) / 8.0)
                    .map_or(Value::Null, Value::Number)),
                prop_oneof![
                    Just("message_create".to_owned()),
                    Just("conversation_assignment".to_owned()),
                    Just("conversation_resolution".to_owned()),
                    Just("conversation_reopen".to_owned()),
                    Just("text".to_owned()),
                    Just("".to_owned()),
                    ".{0,12}"
                ]
                .prop_map(Value::String),
            ];
            leaf.prop_recursive(6, 64, 6, |inner| {
                let keys = prop_oneof![
                    Just("action".to_owned()),
                    Just("data".to_owned()),
                    Just("message".to_owned()),
                    Just("actor".to_owned()),
                    Just("id".to_owned()),
                    Just("message_parts".to_owned()),
                    Just("conversation".to_owned()),
                    Just("conversation_id".to_owned()),
                    Just("resolve".to_owned()),
                    Just("assignment".to_owned()),
                    Just("reopen".to_owned()),
                    Just("user".to_owned()),
                    Just("text".to_owned()),
                    Just("sub_parts".to_owned()),
                    Just("collection".to_owned()),
                    "[a-z_]{0,8}"
                ];
                prop_oneof![
                    prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                    prop::collection::btree_map(keys, inner, 0..6)
                        .prop_map(|m| Value::Object(m.into_iter().collect())),
                ]
            })
        }

        proptest! {
            #[test]
            fn never_panics_on_bytes(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
                if let Ok(e) = parse_event(&bytes) {
                    let _ = (e.action(), e.conversation_id(), e.dedupe_key());
                }
            }

            #[test]
            fn never_panics_on_json(v in arb_json()) {
                let bytes = serde_json::to_vec(&v).unwrap_or_default();
                match parse_event(&bytes) {
                    Ok(e) => {
                        let _ = (e.action(), e.conversation_id(), e.dedupe_key(), e.time_ms());
                        prop_assert!(v.is_object());
                        // What an event writes back reads as the same event.
                        prop_assert_eq!(parse_event(&e.to_body()), Ok(e));
                    }
                    Err(ParseError::ProductEvent) => prop_assert!(v.get("action").is_none()),
                    Err(_) => prop_assert!(!v.is_object()),
                }
            }

        }
    }
}
