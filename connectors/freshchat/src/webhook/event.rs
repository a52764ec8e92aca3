//! Webhook events and their wire formats: [`WebhookEvent`], its own time
//! ([`WebhookEvent::time_ms`]), the key equal for redeliveries ([`WebhookEvent::dedupe_key`]), the
//! body it was read from ([`WebhookEvent::to_body`]), and [`message_create_event`], which turns a
//! message read from the API (catching up) into the event its webhook would have been.

use serde_json::{Map, Value};

use super::signature::to_hex;
use super::{
    ACTION_CONVERSATION_ASSIGNMENT, ACTION_CONVERSATION_REOPEN, ACTION_CONVERSATION_RESOLUTION,
    ACTION_MESSAGE_CREATE,
};
use crate::types::{ActorType, ConversationStatus, Message};

/// Who caused an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// User, agent, bot or system.
    pub actor_type: ActorType,
    /// Their id, when given.
    pub actor_id: Option<String>,
}

/// The conversation an event is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConversationRef {
    /// Conversation id.
    pub conversation_id: String,
    /// Status after the event.
    pub status: Option<ConversationStatus>,
    /// Channel id.
    pub channel_id: Option<String>,
    /// The end user, when the payload says.
    pub user_id: Option<String>,
}

/// A webhook event.
// Most events are messages, so boxing the large variant would cost an allocation per event for
// nothing; callers match on it by reference.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum WebhookEvent {
    /// `message_create`.
    MessageCreate {
        /// Who wrote it.
        actor: Actor,
        /// ISO-8601 time of the event.
        action_time: Option<String>,
        /// The message.
        message: Message,
    },
    /// `conversation_assignment`.
    ConversationAssignment {
        /// Who assigned.
        actor: Actor,
        /// ISO-8601 time of the event.
        action_time: Option<String>,
        /// The conversation.
        conversation: ConversationRef,
        /// New agent (`None` when empty).
        to_agent_id: Option<String>,
        /// New group (`None` when empty).
        to_group_id: Option<String>,
    },
    /// `conversation_resolution`.
    ConversationResolution {
        /// Who resolved.
        actor: Actor,
        /// `data.resolve.resolver`: the kind of whoever resolved (`agent`, `system` for Freshchat's
        /// automatic resolutions, ...); the actor's type when the body has none.
        resolver: ActorType,
        /// ISO-8601 time of the event.
        action_time: Option<String>,
        /// The conversation.
        conversation: ConversationRef,
        /// `data.resolve.user.id`.
        user_id: Option<String>,
    },
    /// `conversation_reopen`.
    ConversationReopen {
        /// Who reopened.
        actor: Actor,
        /// ISO-8601 time of the event.
        action_time: Option<String>,
        /// The conversation.
        conversation: ConversationRef,
    },
    /// Any other action, or a known action whose payload could not be read.
    Unknown {
        /// `action`, when present.
        action: Option<String>,
        /// The whole body.
        raw: Value,
    },
}

/// The `message_create` event a webhook would have delivered for `message`, a message read from the
/// API (catching up after missed webhooks): the actor is the message's author and the event time its
/// `created_time`. Its [`WebhookEvent::dedupe_key`] equals the webhook's, so a late webhook for the
/// same message is a duplicate; [`WebhookEvent::to_body`] gives the body to queue.
pub fn message_create_event(message: &Message) -> WebhookEvent {
    WebhookEvent::MessageCreate {
        actor: Actor {
            actor_type: message.actor_type.clone(),
            actor_id: message.actor_id.clone().filter(|s| !s.is_empty()),
        },
        action_time: message.created_time.clone(),
        message: message.clone(),
    }
}

/// Milliseconds since the Unix epoch of an ISO-8601 / RFC 3339 time (`2022-11-22T10:55:23.126Z`).
pub fn iso_time_ms(s: &str) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(s.trim())
        .ok()
        .map(|t| t.timestamp_millis())
}

impl WebhookEvent {
    /// The action name (`""` when an unknown event had none).
    pub fn action(&self) -> &str {
        match self {
            Self::MessageCreate { .. } => ACTION_MESSAGE_CREATE,
            Self::ConversationAssignment { .. } => ACTION_CONVERSATION_ASSIGNMENT,
            Self::ConversationResolution { .. } => ACTION_CONVERSATION_RESOLUTION,
            Self::ConversationReopen { .. } => ACTION_CONVERSATION_REOPEN,
            Self::Unknown { action, .. } => action.as_deref().unwrap_or(""),
        }
    }

    /// The event's own time in Unix milliseconds: the message's `created_time`, else the envelope's
    /// `action_time`; `None` when neither is a readable time (the caller decides what to use then).
    pub fn time_ms(&self) -> Option<i64> {
        let (created, action) = match self {
            Self::MessageCreate {
                message,
                action_time,
                ..
            } => (message.created_time.as_deref(), action_time.as_deref()),
            Self::ConversationAssignment { action_time, .. }
            | Self::ConversationResolution { action_time, .. }
            | Self::ConversationReopen { action_time, .. } => (None, action_time.as_deref()),
            Self::Unknown { raw, .. } => (None, raw.get("action_time").and_then(Value::as_str)),
        };
        created
            .and_then(iso_time_ms)
            .or_else(|| action.and_then(iso_time_ms))
    }

    /// The webhook body of this event: [`parse_event`](super::parse_event) reads it back as the
    /// same event. For typed events it holds what the event keeps (not every field of the original
    /// delivery); for [`WebhookEvent::Unknown`] it is the body as received.
    pub fn to_body(&self) -> Vec<u8> {
        let envelope = |actor: &Actor, action_time: &Option<String>, key: &str, data: Value| {
            let mut a = Map::new();
            a.insert("actor_type".into(), Value::from(actor.actor_type.as_str()));
            if let Some(id) = &actor.actor_id {
                a.insert("actor_id".into(), Value::from(id.as_str()));
            }
            let mut o = Map::new();
            o.insert("actor".into(), Value::Object(a));
            o.insert("action".into(), Value::from(self.action()));
            if let Some(t) = action_time {
                o.insert("action_time".into(), Value::from(t.as_str()));
            }
            let mut d = Map::new();
            d.insert(key.to_owned(), data);
            o.insert("data".into(), Value::Object(d));
            Value::Object(o)
        };
        let value = match self {
            Self::MessageCreate {
                actor,
                action_time,
                message,
            } => envelope(
                actor,
                action_time,
                "message",
                serde_json::to_value(message).unwrap_or(Value::Null),
            ),
            Self::ConversationAssignment {
                actor,
                action_time,
                conversation,
                to_agent_id,
                to_group_id,
            } => envelope(
                actor,
                action_time,
                "assignment",
                serde_json::json!({
                    "to_agent_id": to_agent_id.as_deref().unwrap_or(""),
                    "to_group_id": to_group_id.as_deref().unwrap_or(""),
                    "conversation": conversation_json(conversation),
                }),
            ),
            Self::ConversationResolution {
                actor,
                resolver,
                action_time,
                conversation,
                user_id,
            } => {
                let mut r = Map::new();
                r.insert(
                    "resolver".into(),
                    Value::String(resolver.as_str().to_owned()),
                );
                r.insert("conversation".into(), conversation_json(conversation));
                if let Some(u) = user_id {
                    r.insert("user".into(), serde_json::json!({ "id": u }));
                }
                envelope(actor, action_time, "resolve", Value::Object(r))
            }
            Self::ConversationReopen {
                actor,
                action_time,
                conversation,
            } => envelope(
                actor,
                action_time,
                "reopen",
                serde_json::json!({ "conversation": conversation_json(conversation) }),
            ),
            Self::Unknown { raw, .. } => raw.clone(),
        };
        serde_json::to_vec(&value).unwrap_or_default()
    }

    /// The conversation this event is about, when known.
    pub fn conversation_id(&self) -> Option<&str> {
        match self {
            Self::MessageCreate { message, .. } => message.conversation_id.as_deref(),
            Self::ConversationAssignment { conversation, .. }
            | Self::ConversationResolution { conversation, .. }
            | Self::ConversationReopen { conversation, .. } => Some(&conversation.conversation_id),
            Self::Unknown { raw, .. } => raw
                .pointer("/data")
                .and_then(Value::as_object)
                .and_then(|d| {
                    d.values().find_map(|v| {
                        v.pointer("/conversation_id")
                            .or_else(|| v.pointer("/conversation/conversation_id"))
                    })
                })
                .and_then(Value::as_str),
        }
    }

    /// A key that is equal for redeliveries of the same event: `message.id` for `message_create`,
    /// `<action>:<conversation_id>:<action_time>` otherwise (a body hash for unknown events). A
    /// message whose id is blank gets `message_create:<conversation_id>:<hash of the message>`:
    /// a blank id is no id, and as a key it would make every later such message a "duplicate".
    pub fn dedupe_key(&self) -> String {
        match self {
            Self::MessageCreate { message, .. } if !message.id.trim().is_empty() => {
                message.id.clone()
            }
            Self::MessageCreate { message, .. } => {
                let bytes = serde_json::to_vec(message).unwrap_or_default();
                let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &bytes);
                format!(
                    "{}:{}:{}",
                    ACTION_MESSAGE_CREATE,
                    message.conversation_id.as_deref().unwrap_or(""),
                    to_hex(&digest.as_ref()[..16])
                )
            }
            Self::ConversationAssignment {
                action_time,
                conversation,
                ..
            }
            | Self::ConversationResolution {
                action_time,
                conversation,
                ..
            }
            | Self::ConversationReopen {
                action_time,
                conversation,
                ..
            } => format!(
                "{}:{}:{}",
                self.action(),
                conversation.conversation_id,
                action_time.as_deref().unwrap_or("")
            ),
            Self::Unknown { action, raw } => {
                let bytes = serde_json::to_vec(raw).unwrap_or_default();
                let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &bytes);
                format!(
                    "{}:{}",
                    action.as_deref().unwrap_or(""),
                    to_hex(&digest.as_ref()[..16])
                )
            }
        }
    }
}

fn conversation_json(c: &ConversationRef) -> Value {
    let mut o = Map::new();
    o.insert(
        "conversation_id".into(),
        Value::from(c.conversation_id.as_str()),
    );
    if let Some(s) = &c.status {
        o.insert("status".into(), Value::from(s.as_str()));
    }
    if let Some(ch) = &c.channel_id {
        o.insert("channel_id".into(), Value::from(ch.as_str()));
    }
    if let Some(u) = &c.user_id {
        o.insert("user_id".into(), Value::from(u.as_str()));
    }
    Value::Object(o)
}
