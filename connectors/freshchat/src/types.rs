//! Typed Freshchat v2 objects: users, channels, conversations, messages and their parts, uploads.
//!
//! Responses are read leniently, because Freshchat payloads vary between accounts and revisions: every
//! field except ids is optional or defaulted, unknown fields are ignored, ids that arrive as numbers are
//! kept as strings, and a message part of an unknown kind becomes [`MessagePart::Unknown`] instead of a
//! decode error. Requests are written strictly: `None` and empty lists are left out of the JSON.

use serde::de::Deserializer;
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Lenient field readers shared by the response types.
pub(crate) mod lenient {
    use super::*;

    /// A string, or a number/bool turned into one; anything else is `None`.
    pub(crate) fn value_to_string(v: &Value) -> Option<String> {
        match v {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    }

    pub(crate) fn opt_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
        let v = Option::<Value>::deserialize(d)?;
        Ok(v.as_ref().and_then(value_to_string))
    }

    pub(crate) fn string<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
        let v = Value::deserialize(d)?;
        value_to_string(&v)
            .ok_or_else(|| serde::de::Error::custom("expected a string or number id"))
    }

    pub(crate) fn string_or_empty<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
        Ok(opt_string(d)?.unwrap_or_default())
    }

    pub(crate) fn opt_bool<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
        let v = Option::<Value>::deserialize(d)?;
        Ok(match v {
            Some(Value::Bool(b)) => Some(b),
            Some(Value::String(s)) => s.parse().ok(),
            _ => None,
        })
    }

    pub(crate) fn opt_u64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
        let v = Option::<Value>::deserialize(d)?;
        Ok(match v {
            Some(Value::Number(n)) => n
                .as_u64()
                .or_else(|| n.as_f64().filter(|f| *f >= 0.0).map(|f| f as u64)),
            Some(Value::String(s)) => s.trim().parse().ok(),
            _ => None,
        })
    }

    pub(crate) fn opt_u32<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
        Ok(opt_u64(d)?.and_then(|n| u32::try_from(n).ok()))
    }

    /// A list whose unreadable items are skipped instead of failing the whole object.
    pub(crate) fn vec_skip<'de, D: Deserializer<'de>, T: serde::de::DeserializeOwned>(
        d: D,
    ) -> Result<Vec<T>, D::Error> {
        let v = Option::<Value>::deserialize(d)?;
        Ok(match v {
            Some(Value::Array(items)) => items
                .into_iter()
                .filter_map(|i| serde_json::from_value(i).ok())
                .collect(),
            _ => Vec::new(),
        })
    }

    pub(crate) fn opt_object<'de, D: Deserializer<'de>, T: serde::de::DeserializeOwned>(
        d: D,
    ) -> Result<Option<T>, D::Error> {
        let v = Option::<Value>::deserialize(d)?;
        Ok(v.and_then(|v| serde_json::from_value(v).ok()))
    }
}

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
}

/// A conversation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Conversation {
    /// Primary id (a UUID on current accounts).
    #[serde(deserialize_with = "lenient::string")]
    pub conversation_id: String,
    /// Numeric twin of the id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversation_internal_id: Option<Value>,
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

/// A message as Freshchat returns it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
    /// Channel id.
    #[serde(
        default,
        deserialize_with = "lenient::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub channel_id: Option<String>,
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
    /// The conversation's user, also on agent messages.
    #[serde(
        default,
        deserialize_with = "lenient::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub user_id: Option<String>,
    /// Normal (default when absent), private or system.
    #[serde(default)]
    pub message_type: MessageType,
    /// The parts.
    #[serde(default, deserialize_with = "lenient::vec_skip")]
    pub message_parts: Vec<MessagePart>,
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
}

/// One page of `GET /v2/conversations/{id}/messages`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MessagePage {
    /// Newest first, as the API returns them.
    pub messages: Vec<Message>,
    /// `link.href` of the next (older) page, when there is one.
    pub next: Option<String>,
}

/// One message part; on the wire an object with exactly one key naming the kind.
#[derive(Debug, Clone, PartialEq)]
pub enum MessagePart {
    /// `text{content}`.
    Text {
        /// The text (may carry simple HTML from agents).
        content: String,
    },
    /// `image{url}`.
    Image {
        /// Image URL.
        url: String,
    },
    /// `file{name,url,file_size_in_bytes,content_type}`.
    File {
        /// File name.
        name: Option<String>,
        /// Download URL (may be missing in webhooks).
        url: Option<String>,
        /// Size.
        file_size_in_bytes: Option<u64>,
        /// MIME type.
        content_type: Option<String>,
    },
    /// `video{url,content_type}`.
    Video {
        /// Video URL.
        url: String,
        /// MIME type.
        content_type: Option<String>,
    },
    /// `url_button{url,label,target}`.
    UrlButton {
        /// Target URL.
        url: String,
        /// Label.
        label: String,
        /// `_self` / `_blank`.
        target: Option<String>,
    },
    /// `quick_reply_button{label,custom_reply_text,payload}`.
    QuickReplyButton {
        /// Label.
        label: String,
        /// Text sent when chosen.
        custom_reply_text: Option<String>,
        /// Payload.
        payload: Option<String>,
    },
    /// `collection{sub_parts}`.
    Collection {
        /// Nested parts.
        sub_parts: Vec<MessagePart>,
    },
    /// `template_content{...}`, kept raw (the inner object).
    TemplateContent {
        /// The inner object of `template_content`.
        raw: Value,
    },
    /// Any other kind, or a known kind that could not be read: the whole part object as sent.
    Unknown(Value),
}

/// Wire keys of the part kinds.
pub mod part_keys {
    /// `text`.
    pub const TEXT: &str = "text";
    /// `image`.
    pub const IMAGE: &str = "image";
    /// `file`.
    pub const FILE: &str = "file";
    /// `video`.
    pub const VIDEO: &str = "video";
    /// `url_button`.
    pub const URL_BUTTON: &str = "url_button";
    /// `quick_reply_button`.
    pub const QUICK_REPLY_BUTTON: &str = "quick_reply_button";
    /// `collection`.
    pub const COLLECTION: &str = "collection";
    /// `template_content`.
    pub const TEMPLATE_CONTENT: &str = "template_content";
}

impl MessagePart {
    /// A text part.
    pub fn text(content: impl Into<String>) -> Self {
        Self::Text {
            content: content.into(),
        }
    }

    /// An image part.
    pub fn image(url: impl Into<String>) -> Self {
        Self::Image { url: url.into() }
    }

    /// The wire key of this part (`"text"`, `"image"`, ...); for `Unknown`, its single key if any.
    pub fn kind(&self) -> &str {
        match self {
            Self::Text { .. } => part_keys::TEXT,
            Self::Image { .. } => part_keys::IMAGE,
            Self::File { .. } => part_keys::FILE,
            Self::Video { .. } => part_keys::VIDEO,
            Self::UrlButton { .. } => part_keys::URL_BUTTON,
            Self::QuickReplyButton { .. } => part_keys::QUICK_REPLY_BUTTON,
            Self::Collection { .. } => part_keys::COLLECTION,
            Self::TemplateContent { .. } => part_keys::TEMPLATE_CONTENT,
            Self::Unknown(v) => v
                .as_object()
                .and_then(|o| o.keys().next())
                .map_or("", |k| k.as_str()),
        }
    }

    /// Reads one part from JSON; never fails (unreadable parts become `Unknown`).
    pub fn from_json(v: Value) -> Self {
        let Some(obj) = v.as_object() else {
            return Self::Unknown(v);
        };
        if obj.len() != 1 {
            return Self::Unknown(v);
        }
        let Some((key, inner)) = obj.iter().next() else {
            return Self::Unknown(v);
        };
        let Some(o) = inner.as_object() else {
            return Self::Unknown(v);
        };
        let s = |k: &str| o.get(k).and_then(lenient::value_to_string);
        let parsed = match key.as_str() {
            part_keys::TEXT => s("content").map(|content| Self::Text { content }),
            part_keys::IMAGE => s("url").map(|url| Self::Image { url }),
            part_keys::FILE => Some(Self::File {
                name: s("name"),
                url: s("url"),
                file_size_in_bytes: o.get("file_size_in_bytes").and_then(|n| {
                    n.as_u64()
                        .or_else(|| n.as_str().and_then(|t| t.parse().ok()))
                }),
                content_type: s("content_type"),
            }),
            part_keys::VIDEO => s("url").map(|url| Self::Video {
                url,
                content_type: s("content_type"),
            }),
            part_keys::URL_BUTTON => match (s("url"), s("label")) {
                (Some(url), Some(label)) => Some(Self::UrlButton {
                    url,
                    label,
                    target: s("target"),
                }),
                _ => None,
            },
            part_keys::QUICK_REPLY_BUTTON => s("label").map(|label| Self::QuickReplyButton {
                label,
                custom_reply_text: s("custom_reply_text"),
                payload: s("payload"),
            }),
            part_keys::COLLECTION => match o.get("sub_parts") {
                Some(Value::Array(items)) => Some(Self::Collection {
                    sub_parts: items.iter().cloned().map(Self::from_json).collect(),
                }),
                _ => None,
            },
            part_keys::TEMPLATE_CONTENT => Some(Self::TemplateContent { raw: inner.clone() }),
            _ => None,
        };
        parsed.unwrap_or(Self::Unknown(v))
    }

    /// The JSON form (`{"<kind>": {...}}`).
    pub fn to_json(&self) -> Value {
        let mut inner = Map::new();
        let mut put = |k: &str, v: Option<Value>| {
            if let Some(v) = v {
                inner.insert(k.to_owned(), v);
            }
        };
        let str_v = |s: &str| Some(Value::String(s.to_owned()));
        let opt_v = |s: &Option<String>| s.as_ref().map(|s| Value::String(s.clone()));
        match self {
            Self::Text { content } => put("content", str_v(content)),
            Self::Image { url } => put("url", str_v(url)),
            Self::File {
                name,
                url,
                file_size_in_bytes,
                content_type,
            } => {
                put("name", opt_v(name));
                put("url", opt_v(url));
                put("file_size_in_bytes", file_size_in_bytes.map(Value::from));
                put("content_type", opt_v(content_type));
            }
            Self::Video { url, content_type } => {
                put("url", str_v(url));
                put("content_type", opt_v(content_type));
            }
            Self::UrlButton { url, label, target } => {
                put("url", str_v(url));
                put("label", str_v(label));
                put("target", opt_v(target));
            }
            Self::QuickReplyButton {
                label,
                custom_reply_text,
                payload,
            } => {
                put("label", str_v(label));
                put("custom_reply_text", opt_v(custom_reply_text));
                put("payload", opt_v(payload));
            }
            Self::Collection { sub_parts } => put(
                "sub_parts",
                Some(Value::Array(sub_parts.iter().map(Self::to_json).collect())),
            ),
            Self::TemplateContent { raw } => {
                let mut m = Map::new();
                m.insert(part_keys::TEMPLATE_CONTENT.to_owned(), raw.clone());
                return Value::Object(m);
            }
            Self::Unknown(v) => return v.clone(),
        }
        let mut m = Map::new();
        m.insert(self.kind().to_owned(), Value::Object(inner));
        Value::Object(m)
    }
}

impl Serialize for MessagePart {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.to_json() {
            Value::Object(m) => {
                let mut map = s.serialize_map(Some(m.len()))?;
                for (k, v) in &m {
                    map.serialize_entry(k, v)?;
                }
                map.end()
            }
            other => other.serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for MessagePart {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Self::from_json(Value::deserialize(d)?))
    }
}

/// Answer of `POST /v2/images/upload`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageUpload {
    /// Hosted URL, to use in an `image` part.
    #[serde(deserialize_with = "lenient::string")]
    pub url: String,
    /// Stored name.
    #[serde(
        default,
        deserialize_with = "lenient::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub name: Option<String>,
    /// MIME type.
    #[serde(
        default,
        deserialize_with = "lenient::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub content_type: Option<String>,
    /// Width in pixels.
    #[serde(
        default,
        deserialize_with = "lenient::opt_u32",
        skip_serializing_if = "Option::is_none"
    )]
    pub width: Option<u32>,
    /// Height in pixels.
    #[serde(
        default,
        deserialize_with = "lenient::opt_u32",
        skip_serializing_if = "Option::is_none"
    )]
    pub height: Option<u32>,
}

/// Answer of `POST /v2/files/upload`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileUpload {
    /// Download URL, when the account returns one (`url`, `download_url` or `file_url`).
    #[serde(
        default,
        alias = "download_url",
        alias = "file_url",
        deserialize_with = "lenient::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub url: Option<String>,
    /// Stored name.
    #[serde(
        default,
        deserialize_with = "lenient::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub file_name: Option<String>,
    /// Size in bytes.
    #[serde(
        default,
        deserialize_with = "lenient::opt_u64",
        skip_serializing_if = "Option::is_none"
    )]
    pub file_size: Option<u64>,
    /// MIME type.
    #[serde(
        default,
        deserialize_with = "lenient::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub file_content_type: Option<String>,
    /// Extension.
    #[serde(
        default,
        deserialize_with = "lenient::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub file_extension_type: Option<String>,
    /// Content hash, used to reference the file in a `file` part.
    #[serde(
        default,
        deserialize_with = "lenient::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub file_hash: Option<String>,
    /// Scan verdict, e.g. `safe`.
    #[serde(
        default,
        deserialize_with = "lenient::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub file_security_status: Option<String>,
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parts_round_trip_and_unknown() {
        let parts = json!([
            {"text": {"content": "hi"}},
            {"image": {"url": "https://x/y.png"}},
            {"file": {"name": "a.pdf", "url": "https://x/a.pdf", "file_size_in_bytes": 12, "content_type": "application/pdf"}},
            {"video": {"url": "https://x/v.mp4"}},
            {"url_button": {"url": "https://x", "label": "Go", "target": "_blank"}},
            {"quick_reply_button": {"label": "Yes"}},
            {"collection": {"sub_parts": [{"quick_reply_button": {"label": "No"}}]}},
            {"template_content": {"type": "carousel", "sections": []}},
            {"callback": {"label": "x", "payload": "y"}},
            {"text": {"content": "a"}, "image": {"url": "b"}},
            {"text": 5},
            "string"
        ]);
        let parsed: Vec<MessagePart> = serde_json::from_value(parts.clone()).unwrap();
        assert_eq!(parsed[0], MessagePart::text("hi"));
        assert!(
            matches!(parsed[6], MessagePart::Collection { ref sub_parts } if sub_parts.len() == 1)
        );
        assert!(matches!(parsed[8], MessagePart::Unknown(_)));
        assert_eq!(parsed[8].kind(), "callback");
        assert!(matches!(parsed[9], MessagePart::Unknown(_)));
        assert!(matches!(parsed[10], MessagePart::Unknown(_)));
        assert_eq!(serde_json::to_value(&parsed).unwrap(), parts);
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
        assert_eq!(m.message_type, MessageType::Normal);
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
