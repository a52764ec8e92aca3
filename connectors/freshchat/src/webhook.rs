//! Freshchat conversation webhooks: signature verification, then typed events.
//!
//! Freshchat signs the exact raw body with RSASSA-PKCS1-v1_5 / SHA-256 and sends the standard-base64
//! signature in `X-Freshchat-Signature`. The public key shown in the admin UI is SPKI DER in an
//! `RSA PUBLIC KEY` armour and is often pasted on one line; [`WebhookKey::parse`] accepts every form
//! (either armour, SPKI or PKCS#1 content, any whitespace, bare base64) and rejects a bad key at
//! start-up with a [`KeyError`]. Verification failures are a [`SignatureError`]. [`parse_event`] reads
//! every payload generation (2018 legacy, 2021, 2022) and never panics; it refuses, with a named
//! [`ParseError`], a body that is not JSON, not an object, or a marketplace *product event* (a
//! different format that is never a webhook body). Shapes it does not know become
//! [`WebhookEvent::Unknown`].
//!
//! The wire formats of events live here too: [`WebhookEvent::time_ms`] (the event's own time),
//! [`WebhookEvent::dedupe_key`], [`WebhookEvent::to_body`], and [`message_create_event`], which
//! turns a message read from the API (catching up) into the event its webhook would have been.

use std::fmt;
use std::sync::Arc;

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::signature::{ParsedPublicKey, RSA_PKCS1_2048_8192_SHA256};
use base64::Engine as _;
use serde_json::{Map, Value};

use crate::types::{lenient, ActorType, ConversationStatus, Message};

/// Header carrying the base64 signature.
pub const SIGNATURE_HEADER: &str = "x-freshchat-signature";
/// Header carrying the payload schema version.
pub const PAYLOAD_VERSION_HEADER: &str = "x-freshchat-payload-version";
/// Header carrying the retry attempt counter ("0" on the first delivery).
pub const RETRY_COUNT_HEADER: &str = "x-retry-count";

/// Event name: a message was created (by anyone, including API posts).
pub const ACTION_MESSAGE_CREATE: &str = "message_create";
/// Event name: a conversation was assigned.
pub const ACTION_CONVERSATION_ASSIGNMENT: &str = "conversation_assignment";
/// Event name: a conversation was resolved.
pub const ACTION_CONVERSATION_RESOLUTION: &str = "conversation_resolution";
/// Event name: a conversation was reopened.
pub const ACTION_CONVERSATION_REOPEN: &str = "conversation_reopen";

/// Lenient base64: standard alphabet, padding optional.
const B64: base64::engine::GeneralPurpose = base64::engine::GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    base64::engine::GeneralPurposeConfig::new()
        .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
);

/// The configured webhook public key could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// Nothing but armour and whitespace.
    #[error("the Freshchat webhook public key is empty; paste the RSA public key shown in Admin > Webhooks")]
    Empty,
    /// The key body is not base64.
    #[error("the Freshchat webhook public key is not base64 (copy the whole key, armour lines included)")]
    NotBase64,
    /// The bytes are not an RSA public key (SPKI or PKCS#1).
    #[error("the Freshchat webhook public key is not an RSA public key: {0}")]
    NotRsaKey(String),
}

/// A webhook did not carry a valid signature.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// No `X-Freshchat-Signature` header.
    #[error("the webhook has no X-Freshchat-Signature header")]
    MissingHeader,
    /// The header is not base64.
    #[error("the X-Freshchat-Signature header is not base64")]
    NotBase64,
    /// The signature does not match the body and the configured key.
    #[error(
        "the webhook signature does not match the body (wrong public key, or the body was altered)"
    )]
    Mismatch,
}

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

/// A parsed RSA public key for webhook verification. Cheap to clone.
#[derive(Clone)]
pub struct WebhookKey {
    /// Parsed once: the key's Montgomery constants are computed on the first verification and
    /// kept, instead of once per webhook.
    parsed: Arc<ParsedPublicKey>,
    fingerprint: String,
}

impl fmt::Debug for WebhookKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookKey")
            .field("sha256", &self.fingerprint)
            .finish()
    }
}

impl WebhookKey {
    /// Parses a key as PEM (`RSA PUBLIC KEY` or `PUBLIC KEY` armour, SPKI or PKCS#1 content, with or
    /// without newlines, one line with spaces, literal `\n` escapes) or as bare base64 DER.
    pub fn parse(text: &str) -> Result<WebhookKey, KeyError> {
        let body = strip_armour(text.trim().replace("\\n", "\n").replace("\\r", ""));
        let compact: String = body.chars().filter(|c| !c.is_whitespace()).collect();
        if compact.is_empty() {
            return Err(KeyError::Empty);
        }
        let der = B64
            .decode(compact.as_bytes())
            .map_err(|_| KeyError::NotBase64)?;
        Self::from_der(&der)
    }

    /// Reads SPKI or PKCS#1 DER.
    pub fn from_der(der: &[u8]) -> Result<WebhookKey, KeyError> {
        let key = aws_lc_rs::rsa::PublicKey::from_der(der)
            .map_err(|e| KeyError::NotRsaKey(e.to_string()))?;
        let bits = key.modulus_len() * 8;
        if !(2048..=8192).contains(&bits) {
            return Err(KeyError::NotRsaKey(format!(
                "{bits}-bit keys are not accepted (2048 to 8192)"
            )));
        }
        let spki = key
            .as_der()
            .map_err(|_| KeyError::NotRsaKey("cannot encode the key".into()))?;
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, spki.as_ref());
        let fingerprint = to_hex(&digest.as_ref()[..8]);
        let parsed = ParsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, key.as_ref())
            .map_err(|e| KeyError::NotRsaKey(e.to_string()))?;
        Ok(WebhookKey {
            parsed: Arc::new(parsed),
            fingerprint,
        })
    }

    /// A short SHA-256 fingerprint of the SPKI form, for logs.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// Verifies `signature_header` (base64) over the exact raw body.
    pub fn verify(
        &self,
        raw_body: &[u8],
        signature_header: Option<&str>,
    ) -> Result<(), SignatureError> {
        let header = signature_header.map(str::trim).filter(|h| !h.is_empty());
        let header = header.ok_or(SignatureError::MissingHeader)?;
        let compact: String = header.chars().filter(|c| !c.is_whitespace()).collect();
        let sig = B64
            .decode(compact.as_bytes())
            .map_err(|_| SignatureError::NotBase64)?;
        self.parsed
            .verify_sig(raw_body, &sig)
            .map_err(|_| SignatureError::Mismatch)
    }
}

/// Removes every `-----BEGIN ...-----` / `-----END ...-----` marker wherever it sits.
fn strip_armour(mut s: String) -> String {
    while let Some(start) = s.find("-----") {
        let after = start + 5;
        match s[after..].find("-----") {
            Some(rel) => s.replace_range(start..after + rel + 5, " "),
            None => s.replace_range(start..after, " "),
        }
    }
    s
}

pub(crate) fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

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

    /// The webhook body of this event: [`parse_event`] reads it back as the same event. For typed
    /// events it holds what the event keeps (not every field of the original delivery); for
    /// [`WebhookEvent::Unknown`] it is the body as received.
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

    /// Known-answer vector from the reference (§7.3), verified with OpenSSL.
    pub(crate) const KAT_SPKI_B64: &str = "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAuGJLF4hTTtxWogT6dNkGf3CEgLAR2mGJzlds5cNbrHFoJNFnmVhkRYGzLYxx4EtDiezNCZVHfyMI2AKuNSQW2fEdDatVIG+q3Zr/X9eeDl8kQOGy804J/fgCYDrN8RQu0n5Dh1inv4puca0wb29SCvoAwrWb33ehDBIvv6+rUKBdjtv2xTV65kNiVDo5VRCaYRVeE10osxeONgw55HVY4nczuxnR+dmc2282de6WHe5LXtr0ZBdJ8yttFOLIluZ/sNM5DIWZBkIWQhyT581tbA7bTpsIbrT/IMBlmioIILw8WGtI7zcmNkjU5dnq5HnlVKEDhj/Ug/dLiyno8+Vp7QIDAQAB";
    pub(crate) const KAT_BODY: &str = r#"{"actor":{"actor_type":"user","actor_id":"882f3926-b292-414b-a411-96380db373cd"},"action":"message_create","action_time":"2019-06-21T17:43:20.875Z","data":{"message":{"message_parts":[{"text":{"content":"Test 2"}}],"app_id":"55b190fa-5d3c-45c4-bc49-74ddcfcf53d7","actor_id":"882f3926-b292-414b-a411-96380db373cd","id":"7a454fde-c720-4c97-a61d-0ffe70449eb6","channel_id":"c8fddfaf-622a-4a0e-b060-4f3ccbeab606","conversation_id":"c327498e-f713-481e-8d83-0603e03d2521","message_type":"normal","actor_type":"user","created_time":"2019-06-21T17:43:20.866Z"}}}"#;
    pub(crate) const KAT_SIG: &str = "AhrmypOSWoewHG6LmIRuWjxyokuMDmPklrSU9p0gpUNjdSRCJzvpL6rjuTi5poV/ZLzWRWNM7X9yWjT5m9YFPshYrvigcd1ph4Ot2xmaJGYoUNJHijQccE6oDtDIp6i/8oLRafHgObQnGukZWPbP9OE5EiKz/VcsMP0Wv7hawI/sfIviM0w+6fNOKXWi0jDBH9ap1mj5CqOUOojni7OD5iYmIrjV/h33dyNmbvAta9E+trzcEhYqxfHIN4Z8R2FsatfRHWicoQ4PE5cQ8+UONVya8qr85nQ9w8N7Ql7yNg9fEViYG4/W/JnGEbPPEf8WrYtKzoVyuupDz4mVHdfKWg==";

    fn chunk64(s: &str) -> String {
        s.as_bytes()
            .chunks(64)
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .collect::<Vec<_>>()
            .join("\n")
    }

    fn pkcs1_b64() -> String {
        let der = B64.decode(KAT_SPKI_B64).unwrap();
        let key = aws_lc_rs::rsa::PublicKey::from_der(&der).unwrap();
        base64::engine::general_purpose::STANDARD.encode(key.as_ref())
    }

    fn all_key_forms() -> Vec<String> {
        let spki = KAT_SPKI_B64.to_owned();
        let pkcs1 = pkcs1_b64();
        let mut forms = Vec::new();
        for body in [&spki, &pkcs1] {
            for label in ["RSA PUBLIC KEY", "PUBLIC KEY"] {
                forms.push(format!(
                    "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
                    chunk64(body)
                ));
                forms.push(format!(
                    "-----BEGIN {label}-----\r\n{}\r\n-----END {label}-----",
                    chunk64(body).replace('\n', "\r\n")
                ));
                forms.push(format!(
                    "-----BEGIN {label}-----{body}-----END {label}-----"
                ));
                forms.push(format!(
                    "-----BEGIN {label}----- {} -----END {label}-----",
                    chunk64(body).replace('\n', " ")
                ));
                forms.push(format!(
                    "  -----BEGIN {label}-----\\n{}\\n-----END {label}-----  ",
                    chunk64(body).replace('\n', "\\n")
                ));
            }
            forms.push(body.clone());
            forms.push(chunk64(body));
            forms.push(body.trim_end_matches('=').to_owned());
        }
        forms
    }

    #[test]
    fn known_answer_verifies_with_every_key_form() {
        for form in all_key_forms() {
            let key = WebhookKey::parse(&form).unwrap_or_else(|e| panic!("{form:?}: {e}"));
            key.verify(KAT_BODY.as_bytes(), Some(KAT_SIG))
                .unwrap_or_else(|e| panic!("{form:?}: {e}"));
            assert_eq!(KAT_BODY.len(), 554);
            assert!(!format!("{key:?}").contains(&KAT_SPKI_B64[40..80]));
        }
    }

    #[test]
    fn tampering_is_detected() {
        let key = WebhookKey::parse(KAT_SPKI_B64).unwrap();
        let tampered_body = KAT_BODY.replace("Test 2", "Test 3");
        assert_eq!(
            key.verify(tampered_body.as_bytes(), Some(KAT_SIG)),
            Err(SignatureError::Mismatch)
        );
        let mut with_newline = KAT_BODY.as_bytes().to_vec();
        with_newline.push(b'\n');
        assert_eq!(
            key.verify(&with_newline, Some(KAT_SIG)),
            Err(SignatureError::Mismatch)
        );
        let mut sig = B64.decode(KAT_SIG).unwrap();
        sig[10] ^= 1;
        let flipped = base64::engine::general_purpose::STANDARD.encode(&sig);
        assert_eq!(
            key.verify(KAT_BODY.as_bytes(), Some(&flipped)),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            key.verify(KAT_BODY.as_bytes(), None),
            Err(SignatureError::MissingHeader)
        );
        assert_eq!(
            key.verify(KAT_BODY.as_bytes(), Some("  ")),
            Err(SignatureError::MissingHeader)
        );
        assert_eq!(
            key.verify(KAT_BODY.as_bytes(), Some("not*base64")),
            Err(SignatureError::NotBase64)
        );
        assert_eq!(
            key.verify(KAT_BODY.as_bytes(), Some("AAAA")),
            Err(SignatureError::Mismatch)
        );
        // A different (valid) key must not verify.
        let mut der = B64.decode(KAT_SPKI_B64).unwrap();
        let n = der.len();
        der[n - 10] ^= 2; // flip a modulus bit
        if let Ok(other) = WebhookKey::from_der(&der) {
            assert_eq!(
                other.verify(KAT_BODY.as_bytes(), Some(KAT_SIG)),
                Err(SignatureError::Mismatch)
            );
        }
    }

    #[test]
    fn bad_keys_are_rejected() {
        assert_eq!(WebhookKey::parse("").unwrap_err(), KeyError::Empty);
        assert_eq!(
            WebhookKey::parse("-----BEGIN RSA PUBLIC KEY----- -----END RSA PUBLIC KEY-----")
                .unwrap_err(),
            KeyError::Empty
        );
        assert_eq!(WebhookKey::parse("%%%").unwrap_err(), KeyError::NotBase64);
        assert!(matches!(
            WebhookKey::parse("aGVsbG8gd29ybGQ=").unwrap_err(),
            KeyError::NotRsaKey(_)
        ));
    }

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

            #[test]
            fn key_parse_never_panics(s in ".{0,300}") {
                let _ = WebhookKey::parse(&s);
            }
        }
    }
}
