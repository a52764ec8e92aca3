//! Typed Freshchat v2 objects: users, channels, conversations, messages and their parts, uploads.
//!
//! Responses are read leniently, because Freshchat payloads vary between accounts and revisions: every
//! field except ids is optional or defaulted, unknown fields are ignored, ids that arrive as numbers are
//! kept as strings, and a message part of an unknown kind becomes [`MessagePart::Unknown`] instead of a
//! decode error. Requests are written strictly: `None` and empty lists are left out of the JSON.

use serde::de::Deserializer;
use serde::ser::Serializer;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::lenient;
pub use crate::parts::{
    part_keys, template_types, FilePart, FileUpload, ImageUpload, MessagePart, Template,
    TemplateSection, FILE_SOURCE_FRESHCHAT,
};

macro_rules! string_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $wire:literal),* $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub enum $name {
            $(#[doc = concat!("`", $wire, "` on the wire.")] $variant,)*
            /// Any other value, kept as sent.
            Other(String),
        }
        impl $name {
            /// The wire form (lowercase).
            pub fn as_str(&self) -> &str {
                match self { $(Self::$variant => $wire,)* Self::Other(s) => s.as_str() }
            }
            /// Reads a wire value; unknown values become `Other`.
            pub fn parse(s: &str) -> Self {
                match s.to_ascii_lowercase().as_str() { $($wire => Self::$variant,)* _ => Self::Other(s.to_owned()) }
            }
        }
        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result { f.write_str(self.as_str()) }
        }
        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> { s.serialize_str(self.as_str()) }
        }
        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let v = Value::deserialize(d)?;
                Ok(match v { Value::String(s) => Self::parse(&s), other => Self::Other(other.to_string()) })
            }
        }
    };
}

string_enum!(
    /// Conversation status; accounts with custom statuses produce `Other`.
    ConversationStatus { New => "new", Assigned => "assigned", Resolved => "resolved", Reopened => "reopened" }
);
string_enum!(
    /// Who wrote a message or caused an event.
    ActorType { User => "user", Agent => "agent", Bot => "bot", System => "system" }
);
string_enum!(
    /// Whether the customer sees a message (`normal`) or only agents (`private`).
    MessageType { Normal => "normal", Private => "private", System => "system" }
);

#[allow(clippy::derivable_impls)] // the enum is macro-generated
impl Default for ActorType {
    fn default() -> Self {
        Self::User
    }
}
#[allow(clippy::derivable_impls)]
impl Default for MessageType {
    fn default() -> Self {
        Self::Normal
    }
}

fn unknown_actor() -> ActorType {
    ActorType::Other(String::new())
}

fn is_empty_vec<T>(v: &[T]) -> bool {
    v.is_empty()
}

/// `GET /v2/accounts/configuration`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AccountConfiguration {
    /// The app (widget) id used on messages and conversations.
    #[serde(
        default,
        deserialize_with = "lenient::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub app_id: Option<String>,
    /// Account id (a number on current accounts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_id: Option<Value>,
    /// Organisation id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organisation_id: Option<Value>,
    /// Account domain.
    #[serde(
        default,
        deserialize_with = "lenient::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub account_domain: Option<String>,
    /// `US`, `EUC`, `AUS`, `IND`, `US2`.
    #[serde(
        default,
        deserialize_with = "lenient::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub datacenter: Option<String>,
}

/// A channel (topic / inbox).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Channel {
    /// Channel id.
    #[serde(deserialize_with = "lenient::string")]
    pub id: String,
    /// Display name.
    #[serde(
        default,
        deserialize_with = "lenient::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub name: Option<String>,
    /// Whether the channel is enabled.
    #[serde(
        default,
        deserialize_with = "lenient::opt_bool",
        skip_serializing_if = "Option::is_none"
    )]
    pub enabled: Option<bool>,
    /// Whether the channel is public.
    #[serde(
        default,
        deserialize_with = "lenient::opt_bool",
        skip_serializing_if = "Option::is_none"
    )]
    pub public: Option<bool>,
}

/// An agent group (`GET /v2/groups`): what routing assigns a new conversation to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Group {
    /// Group id.
    #[serde(deserialize_with = "lenient::string")]
    pub id: String,
    /// Display name.
    #[serde(
        default,
        deserialize_with = "lenient::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub name: Option<String>,
}

/// A custom user property.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Property {
    /// Property name.
    #[serde(deserialize_with = "lenient::string")]
    pub name: String,
    /// Property value (Freshchat stores strings).
    #[serde(default, deserialize_with = "lenient::string_or_empty")]
    pub value: String,
}

impl Property {
    /// A `{name, value}` pair.
    pub fn new(name: impl Into<String>, value: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            value: value.into(),
        }
    }
}

/// An avatar reference.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Avatar {
    /// Image URL.
    #[serde(
        default,
        deserialize_with = "lenient::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub url: Option<String>,
}

/// A Freshchat user (the customer side).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct User {
    /// User id.
    #[serde(deserialize_with = "lenient::string")]
    pub id: String,
    /// First name.
    #[serde(
        default,
        deserialize_with = "lenient::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub first_name: Option<String>,
    /// Last name.
    #[serde(
        default,
        deserialize_with = "lenient::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub last_name: Option<String>,
    /// The integrator's external id.
    #[serde(
        default,
        deserialize_with = "lenient::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub reference_id: Option<String>,
    /// Email.
    #[serde(
        default,
        deserialize_with = "lenient::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub email: Option<String>,
    /// Phone.
    #[serde(
        default,
        deserialize_with = "lenient::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub phone: Option<String>,
    /// Avatar.
    #[serde(
        default,
        deserialize_with = "lenient::opt_object",
        skip_serializing_if = "Option::is_none"
    )]
    pub avatar: Option<Avatar>,
    /// Custom properties.
    #[serde(default, deserialize_with = "lenient::vec_skip")]
    pub properties: Vec<Property>,
    /// ISO-8601 creation time.
    #[serde(
        default,
        deserialize_with = "lenient::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub created_time: Option<String>,
}

/// Body of `POST /v2/users`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewUser {
    /// First name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    /// Last name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    /// External id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference_id: Option<String>,
    /// Avatar.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub avatar: Option<Avatar>,
    /// Custom properties.
    #[serde(default, skip_serializing_if = "is_empty_vec")]
    pub properties: Vec<Property>,
}

/// Body of `PUT /v2/users/{id}`; `properties` replaces the stored list when present.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserUpdate {
    /// First name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    /// Last name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    /// Avatar.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub avatar: Option<Avatar>,
    /// Custom properties (the whole list).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub properties: Option<Vec<Property>>,
    /// Email ("" erases it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Phone ("" erases it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
}

/// A conversation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Conversation {
    /// Primary id (a UUID on current accounts).
    #[serde(deserialize_with = "lenient::string")]
    pub conversation_id: String,
    /// Numeric twin of the id: a JSON number on conversations, kept as its decimal string (the
    /// same value messages carry as `freshchat_conversation_id`).
    #[serde(
        default,
        deserialize_with = "lenient::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub conversation_internal_id: Option<String>,
    /// Link to the conversation in the agent inbox.
    #[serde(
        default,
        deserialize_with = "lenient::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub url: Option<String>,
    /// Channel id.
    #[serde(
        default,
        deserialize_with = "lenient::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub channel_id: Option<String>,
    /// Status.
    #[serde(
        default,
        deserialize_with = "lenient::opt_object",
        skip_serializing_if = "Option::is_none"
    )]
    pub status: Option<ConversationStatus>,
    /// The end user.
    #[serde(
        default,
        deserialize_with = "lenient::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub user_id: Option<String>,
    /// Assigned agent, when any.
    #[serde(
        default,
        deserialize_with = "lenient::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub assigned_agent_id: Option<String>,
    /// App id.
    #[serde(
        default,
        deserialize_with = "lenient::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub app_id: Option<String>,
    /// Assigned group, when any.
    #[serde(
        default,
        deserialize_with = "lenient::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub assigned_group_id: Option<String>,
    /// ISO-8601 creation time.
    #[serde(
        default,
        deserialize_with = "lenient::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub created_time: Option<String>,
    /// ISO-8601 last update time.
    #[serde(
        default,
        deserialize_with = "lenient::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub updated_time: Option<String>,
}

/// `{ "id": ... }` reference to a user.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserRef {
    /// User id.
    #[serde(deserialize_with = "lenient::string")]
    pub id: String,
}

/// Body of `POST /v2/conversations` (first message inline).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct NewConversation {
    /// Channel id.
    pub channel_id: String,
    /// The end user(s).
    pub users: Vec<UserRef>,
    /// Initial message(s).
    #[serde(default, skip_serializing_if = "is_empty_vec")]
    pub messages: Vec<NewMessage>,
    /// App id (optional).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_id: Option<String>,
    /// Initial status, usually `"new"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// The group the conversation is assigned to (routing), when any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assigned_group_id: Option<String>,
}

/// Body of `PUT /v2/conversations/{id}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConversationUpdate {
    /// `new`, `assigned` (needs an agent), `resolved`, `reopened`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// Agent to assign.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assigned_agent_id: Option<String>,
    /// Group to assign.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assigned_group_id: Option<String>,
}

/// Body of `POST /v2/conversations/{id}/messages` (and of inline messages on create).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct NewMessage {
    /// The parts, one key each.
    pub message_parts: Vec<MessagePart>,
    /// Who writes.
    pub actor_type: ActorType,
    /// The user or agent id (none for bots).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor_id: Option<String>,
    /// The conversation's user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// Normal or private.
    #[serde(default)]
    pub message_type: MessageType,
    /// App id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_id: Option<String>,
    /// Channel id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel_id: Option<String>,
}

impl NewMessage {
    /// A normal message written by the customer (`actor_id` = `user_id` = the user).
    pub fn from_user(user_id: &str, parts: Vec<MessagePart>) -> Self {
        Self {
            message_parts: parts,
            actor_type: ActorType::User,
            actor_id: Some(user_id.to_owned()),
            user_id: Some(user_id.to_owned()),
            ..Self::default()
        }
    }

    /// A private note from a bot: visible to agents only.
    pub fn bot_note(text: &str) -> Self {
        Self {
            message_parts: vec![MessagePart::text(text)],
            actor_type: ActorType::Bot,
            message_type: MessageType::Private,
            ..Self::default()
        }
    }
}

/// A message as Freshchat returns it (API objects and webhook `data.message`).
///
/// The three payload generations are all read: 2018 `msg_parts` (legacy text parts), 2021 (with
/// `org_actor_id`, `message_source`), 2022 (no `message_type`; `restrictResponse`, `botsPrivateNote`)
/// and current API objects (`freshchat_conversation_id`, `bots_input`, `isBotsInput`). Serialising
/// writes the current form back, so a message re-read from the API can be queued as a webhook body.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Message {
    /// Message id.
    #[serde(deserialize_with = "lenient::string")]
    pub id: String,
    /// Conversation id.
    #[serde(
        default,
        deserialize_with = "lenient::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub conversation_id: Option<String>,
    /// Numeric twin of the conversation id (a string of digits).
    #[serde(
        default,
        deserialize_with = "lenient::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub freshchat_conversation_id: Option<String>,
    /// Channel id.
    #[serde(
        default,
        deserialize_with = "lenient::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub channel_id: Option<String>,
    /// Numeric twin of the channel id.
    #[serde(
        default,
        deserialize_with = "lenient::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub freshchat_channel_id: Option<String>,
    /// App id.
    #[serde(
        default,
        deserialize_with = "lenient::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub app_id: Option<String>,
    /// Who wrote it (empty `Other` when absent).
    #[serde(default = "unknown_actor")]
    pub actor_type: ActorType,
    /// User or agent id.
    #[serde(
        default,
        deserialize_with = "lenient::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub actor_id: Option<String>,
    /// Freshworks-wide id of the actor (a string of digits).
    #[serde(
        default,
        deserialize_with = "lenient::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub org_actor_id: Option<String>,
    /// The conversation's user, also on agent messages (absent on some user-authored ones).
    #[serde(
        default,
        deserialize_with = "lenient::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub user_id: Option<String>,
    /// `normal`, `private` or `system` as sent; `None` when absent (the 2022 payload). See
    /// [`Message::effective_type`].
    #[serde(
        default,
        deserialize_with = "lenient::opt_object",
        skip_serializing_if = "Option::is_none"
    )]
    pub message_type: Option<MessageType>,
    /// The parts (`msg_parts` in 2018 payloads).
    #[serde(default, alias = "msg_parts", deserialize_with = "lenient::vec_skip")]
    pub message_parts: Vec<MessagePart>,
    /// Response enablers: quick replies (a `collection`), dropdowns and carousels (`template_content`).
    #[serde(
        default,
        deserialize_with = "lenient::vec_skip",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub reply_parts: Vec<MessagePart>,
    /// `web`, `api`, `system`, ... (lower case on the wire).
    #[serde(
        default,
        deserialize_with = "lenient::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub message_source: Option<String>,
    /// `<internal conversation id>-<epoch ms>`; changes when the conversation is reopened.
    #[serde(
        default,
        deserialize_with = "lenient::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub interaction_id: Option<String>,
    /// ISO-8601 creation time.
    #[serde(
        default,
        deserialize_with = "lenient::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub created_time: Option<String>,
    /// `meta_data`, e.g. `{"isResolved": true}` on system messages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meta_data: Option<Value>,
    /// `restrictResponse`: the customer may not answer (bot flows).
    #[serde(
        default,
        rename = "restrictResponse",
        deserialize_with = "lenient::opt_bool",
        skip_serializing_if = "Option::is_none"
    )]
    pub restrict_response: Option<bool>,
    /// `botsPrivateNote`: a bot's internal note. It is a private note although `message_type` may
    /// be absent or `normal`.
    #[serde(
        default,
        rename = "botsPrivateNote",
        deserialize_with = "lenient::opt_bool",
        skip_serializing_if = "Option::is_none"
    )]
    pub bots_private_note: Option<bool>,
    /// `isBotsInput`: the message answers a bot's question.
    #[serde(
        default,
        rename = "isBotsInput",
        deserialize_with = "lenient::opt_bool",
        skip_serializing_if = "Option::is_none"
    )]
    pub is_bots_input: Option<bool>,
    /// `bots_input` (snake-case twin of `isBotsInput` in API objects).
    #[serde(
        default,
        deserialize_with = "lenient::opt_bool",
        skip_serializing_if = "Option::is_none"
    )]
    pub bots_input: Option<bool>,
}

impl Message {
    /// The message type with Freshchat's default applied: absent means `normal`.
    pub fn effective_type(&self) -> MessageType {
        self.message_type.clone().unwrap_or(MessageType::Normal)
    }

    /// True for notes agents see and customers never do: `message_type: private`, or a bot's note
    /// (`botsPrivateNote: true`) whatever its type says.
    pub fn is_private_note(&self) -> bool {
        self.bots_private_note == Some(true) || self.effective_type() == MessageType::Private
    }

    /// True when `meta_data` marks a system notice (`isResolved`, `isReopen`).
    pub fn is_status_notice(&self) -> bool {
        self.meta_data.as_ref().is_some_and(|m| {
            ["isResolved", "isReopen"]
                .iter()
                .any(|k| m.get(k).and_then(Value::as_bool) == Some(true))
        })
    }
}

/// One page of `GET /v2/conversations/{id}/messages`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MessagePage {
    /// Newest first, as the API returns them.
    pub messages: Vec<Message>,
    /// `link.href` of the next (older) page, when there is one.
    pub next: Option<String>,
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_every_message_generation() {
        let legacy: Message = serde_json::from_value(json!({
            "id": "l", "msg_parts": [{"properties": {"text": "old"}, "part_type": "text"}], "message_type": "normal"
        }))
        .unwrap();
        assert_eq!(legacy.message_parts, vec![MessagePart::text("old")]);
        assert_eq!(legacy.message_type, Some(MessageType::Normal));
        let bot_note: Message = serde_json::from_value(json!({
            "id": "b", "actor_type": "bot", "botsPrivateNote": true, "restrictResponse": "false",
            "reply_parts": [{"collection": {"sub_parts": [{"quick_reply_button": {"label": "Yes"}}]}}]
        }))
        .unwrap();
        assert_eq!(bot_note.message_type, None);
        assert!(bot_note.is_private_note());
        assert_eq!(bot_note.restrict_response, Some(false));
        assert_eq!(bot_note.reply_parts.len(), 1);
        let back = serde_json::to_value(&bot_note).unwrap();
        assert_eq!(back["botsPrivateNote"], true);
        assert!(back.get("message_type").is_none());
        assert_eq!(serde_json::from_value::<Message>(back).unwrap(), bot_note);
        let conv: Conversation = serde_json::from_value(
            json!({"conversation_id": "c", "conversation_internal_id": 1019183591791880u64}),
        )
        .unwrap();
        assert_eq!(
            conv.conversation_internal_id.as_deref(),
            Some("1019183591791880")
        );
    }

    #[test]
    fn message_is_lenient() {
        let m: Message = serde_json::from_value(json!({
            "id": 42, "channel_id": 7, "actor_type": "agent", "message_parts": [{"text": {"content": "x"}}, 3],
            "meta_data": {"isResolved": true}, "extra": [1]
        }))
        .unwrap();
        assert_eq!(m.id, "42");
        assert_eq!(m.channel_id.as_deref(), Some("7"));
        assert_eq!(m.message_type, None);
        assert_eq!(m.effective_type(), MessageType::Normal);
        assert!(!m.is_private_note());
        assert!(m.is_status_notice());
        assert_eq!(m.actor_type, ActorType::Agent);
        assert_eq!(m.message_parts.len(), 2);
    }

    #[test]
    fn requests_skip_empty_fields() {
        let u = NewUser {
            first_name: Some("A".into()),
            ..NewUser::default()
        };
        assert_eq!(
            serde_json::to_value(&u).unwrap(),
            json!({"first_name": "A"})
        );
        let m = NewMessage::bot_note("n");
        assert_eq!(
            serde_json::to_value(&m).unwrap(),
            json!({"message_parts": [{"text": {"content": "n"}}], "actor_type": "bot", "message_type": "private"})
        );
        assert_eq!(
            ConversationStatus::parse("Resolved"),
            ConversationStatus::Resolved
        );
        assert_eq!(ConversationStatus::parse("waiting").as_str(), "waiting");
    }
}
