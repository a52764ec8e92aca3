//! The typed Zalo webhook events and what every event can tell: its name, the user it concerns, its
//! own time and the key that is equal for redeliveries. Building them is the `parse` module's job; here
//! nothing can fail.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::attachment::Attachment;
use super::names;
use crate::types::str_of;

/// What a user sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum UserMessageKind {
    /// `user_send_text`
    Text,
    /// `user_send_image`
    Image,
    /// `user_send_gif`
    Gif,
    /// `user_send_link`
    Link,
    /// `user_send_audio`
    Audio,
    /// `user_send_video`
    Video,
    /// `user_send_sticker`
    Sticker,
    /// `user_send_location`
    Location,
    /// `user_send_business_card`
    BusinessCard,
    /// `user_send_file`
    File,
}

impl UserMessageKind {
    /// All kinds.
    pub const ALL: [UserMessageKind; 10] = [
        UserMessageKind::Text,
        UserMessageKind::Image,
        UserMessageKind::Gif,
        UserMessageKind::Link,
        UserMessageKind::Audio,
        UserMessageKind::Video,
        UserMessageKind::Sticker,
        UserMessageKind::Location,
        UserMessageKind::BusinessCard,
        UserMessageKind::File,
    ];

    /// The webhook event name.
    pub fn event_name(self) -> &'static str {
        match self {
            UserMessageKind::Text => names::USER_SEND_TEXT,
            UserMessageKind::Image => names::USER_SEND_IMAGE,
            UserMessageKind::Gif => names::USER_SEND_GIF,
            UserMessageKind::Link => names::USER_SEND_LINK,
            UserMessageKind::Audio => names::USER_SEND_AUDIO,
            UserMessageKind::Video => names::USER_SEND_VIDEO,
            UserMessageKind::Sticker => names::USER_SEND_STICKER,
            UserMessageKind::Location => names::USER_SEND_LOCATION,
            UserMessageKind::BusinessCard => names::USER_SEND_BUSINESS_CARD,
            UserMessageKind::File => names::USER_SEND_FILE,
        }
    }

    /// The kind for an event name.
    pub fn from_event_name(name: &str) -> Option<UserMessageKind> {
        UserMessageKind::ALL
            .into_iter()
            .find(|k| k.event_name() == name)
    }
}

/// A message from a user to the OA (`user_send_*`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserMessage {
    /// What was sent.
    pub kind: UserMessageKind,
    /// `recipient.id`.
    pub oa_id: String,
    /// `sender.id` (OA-scoped user id).
    pub user_id: String,
    /// App-scoped id of the same user; often absent.
    pub user_id_by_app: Option<String>,
    /// `message.msg_id`.
    pub msg_id: String,
    /// `message.text` (caption, link text, place name, contact name, ...).
    pub text: Option<String>,
    /// `message.quote_msg_id` when the user replied to a message.
    pub quote_msg_id: Option<String>,
    /// `message.attachments`.
    pub attachments: Vec<Attachment>,
    /// Epoch milliseconds, as a string.
    pub timestamp: String,
}

/// A message from the OA to a user (`oa_send_*`: text, image, gif, sticker, file, list, template):
/// the echo of an API send, or a staff reply typed in Zalo's own chat tool (then `admin_id` is set).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OaMessage {
    /// The full event name, e.g. `oa_send_text`.
    pub event_name: String,
    /// `sender.id`.
    pub oa_id: String,
    /// `recipient.id`.
    pub user_id: String,
    /// App-scoped id of the user, when given.
    pub user_id_by_app: Option<String>,
    /// `sender.admin_id`: present only for staff sends.
    pub admin_id: Option<String>,
    /// `message.msg_id` (equals the send response's `message_id`).
    pub msg_id: String,
    /// `message.text`.
    pub text: Option<String>,
    /// `message.attachments` (list items are links, templates [`Attachment::Template`]).
    pub attachments: Vec<Attachment>,
    /// Epoch milliseconds, as a string.
    pub timestamp: String,
}

/// What a user shared through a request-info template (`user_submit_info.info`). Every field is text,
/// also where Zalo sends a number (the phone).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubmittedInfo {
    /// Name.
    pub name: Option<String>,
    /// Phone (a JSON number in Zalo's example).
    pub phone: Option<String>,
    /// Street address.
    pub address: Option<String>,
    /// Ward.
    pub ward: Option<String>,
    /// District.
    pub district: Option<String>,
    /// City or province.
    pub city: Option<String>,
    /// Date of birth.
    pub dob: Option<String>,
    /// Gender as sent.
    pub gender: Option<String>,
    /// Email, when the form asked for one (Zalo's documented forms do not).
    pub email: Option<String>,
}

/// Which tag event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum TagEventKind {
    /// `add_user_to_tag` (also used, with no users, when a tag is created).
    UserAdded,
    /// `remove_user_from_tag`.
    UserRemoved,
    /// `remove_tag`.
    TagRemoved,
}

impl TagEventKind {
    /// The webhook event name.
    pub fn event_name(self) -> &'static str {
        match self {
            TagEventKind::UserAdded => names::ADD_USER_TO_TAG,
            TagEventKind::UserRemoved => names::REMOVE_USER_FROM_TAG,
            TagEventKind::TagRemoved => names::REMOVE_TAG,
        }
    }
}

/// An OA tag change (`add_user_to_tag`, `remove_user_from_tag`, `remove_tag`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TagEvent {
    /// Which change.
    pub kind: TagEventKind,
    /// `oa_id`.
    pub oa_id: String,
    /// `tag.name`.
    pub tag_name: String,
    /// `tag.user_ids` (empty when absent).
    pub user_ids: Vec<String>,
    /// Epoch milliseconds, as a string.
    pub timestamp: String,
}

/// Which widget event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum WidgetEventKind {
    /// `widget_interaction_accepted`: the user allowed the OA to interact through the widget.
    InteractionAccepted,
    /// `widget_failed_to_sync_user_external_id`.
    ExternalIdSyncFailed,
}

impl WidgetEventKind {
    /// The webhook event name.
    pub fn event_name(self) -> &'static str {
        match self {
            WidgetEventKind::InteractionAccepted => names::WIDGET_INTERACTION_ACCEPTED,
            WidgetEventKind::ExternalIdSyncFailed => names::WIDGET_FAILED_TO_SYNC_USER_EXTERNAL_ID,
        }
    }
}

/// A chat-widget event; the user is in `data`, not at the top level.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WidgetEvent {
    /// Which event.
    pub kind: WidgetEventKind,
    /// `oa_id`.
    pub oa_id: String,
    /// `data.user_id`.
    pub user_id: String,
    /// `data.user_external_id`.
    pub user_external_id: Option<String>,
    /// `data.url`.
    pub url: Option<String>,
    /// `data.message` (why a sync failed).
    pub message: Option<String>,
    /// Epoch milliseconds, as a string.
    pub timestamp: String,
}

/// A ZNS (Zalo Notification Service) delivery receipt: same event name as the OA's
/// `user_received_message`, but for a template message sent to a phone number (told apart by
/// `X-ZEvent-Server: ZNS`, `tracking_id`, `delivery_time` or a phone-number recipient).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ZnsReceipt {
    /// `sender.id`.
    pub sender_id: String,
    /// `recipient.id`: a phone number, or its SHA-256 when hashed-phone sending is used.
    pub phone: String,
    /// `message.msg_id`.
    pub msg_id: String,
    /// `message.tracking_id`, the sender's own reference.
    pub tracking_id: Option<String>,
    /// `message.delivery_time`, epoch ms as a string.
    pub delivery_time: Option<String>,
    /// Epoch milliseconds, as a string.
    pub timestamp: String,
}

/// What the key of an anonymous visitor's conversation starts with (see [`visitor_key`]). Zalo
/// user ids are digits, so no user's key starts with it.
pub const VISITOR_KEY_PREFIX: &str = "anon:";

/// The key of one anonymous visitor's conversation: `anon:<anonymous_id>:<conversation_id>`. It
/// stands where a Zalo user id stands for followers (the lane, the pairings) and holds everything
/// needed to answer ([`parse_visitor_key`]).
pub fn visitor_key(anonymous_id: &str, conversation_id: &str) -> String {
    format!("{VISITOR_KEY_PREFIX}{anonymous_id}:{conversation_id}")
}

/// The anonymous id and conversation id inside a [`visitor_key`]; None for anything else (a Zalo
/// user id, a key without a conversation).
pub fn parse_visitor_key(key: &str) -> Option<(&str, &str)> {
    let (anon, conv) = key.strip_prefix(VISITOR_KEY_PREFIX)?.split_once(':')?;
    (!anon.is_empty() && !conv.is_empty()).then_some((anon, conv))
}

/// Events zfsync does not sync, told apart by their exact names (reference §5.5): they are stored,
/// then ended `ignored`, logged and counted, never read as a customer's message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum OutOfScope {
    /// GMF (OA group chat): `user_send_group_*`, `oa_send_group_*` and the group management events.
    Group,
    /// Calls: `oa_send_consent`, `user_reply_consent`, `oa_call_user`, `user_call_oa`.
    Call,
}

impl OutOfScope {
    /// The kind of an event name, when it is a group or call event.
    pub fn of(event_name: &str) -> Option<OutOfScope> {
        if event_name.contains(names::GROUP_MARKER) || names::GROUP_EVENTS.contains(&event_name) {
            Some(OutOfScope::Group)
        } else if names::CALL_EVENTS.contains(&event_name) {
            Some(OutOfScope::Call)
        } else {
            None
        }
    }

    /// A short, stable label for logs and metrics: `group`, `call`.
    pub fn label(self) -> &'static str {
        match self {
            OutOfScope::Group => "group",
            OutOfScope::Call => "call",
        }
    }
}

/// A message of an anonymous (chat-widget) user, or the OA's message to one
/// (`anonymous_send_*`, `oa_send_anonymous_*`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AnonymousMessage {
    /// The full event name.
    pub event_name: String,
    /// The visitor's conversation key ([`visitor_key`]; the anonymous id alone when the body has no
    /// `conversation_id`).
    pub visitor: String,
    /// True for `oa_send_anonymous_*`.
    pub from_oa: bool,
    /// The OA.
    pub oa_id: String,
    /// The anonymous user's id (20 hex characters, not a Zalo user id).
    pub anonymous_id: String,
    /// `message.conversation_id`, needed to answer.
    pub conversation_id: Option<String>,
    /// `message.msg_id`.
    pub msg_id: String,
    /// `message.text`.
    pub text: Option<String>,
    /// `message.attachments`.
    pub attachments: Vec<Attachment>,
    /// Epoch milliseconds, as a string.
    pub timestamp: String,
}

/// A webhook event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ZaloEvent {
    /// `user_send_*`.
    UserMessage(UserMessage),
    /// `oa_send_*`.
    OaMessage(OaMessage),
    /// `user_received_message` of the OA (delivered to the user's device): `message.msg_id`.
    UserReceived {
        /// The OA.
        oa_id: String,
        /// The user.
        user_id: String,
        /// Delivered message ids.
        msg_ids: Vec<String>,
        /// Epoch ms string.
        timestamp: String,
    },
    /// `user_seen_message`: `message.msg_ids` (an array).
    UserSeen {
        /// The OA.
        oa_id: String,
        /// The user.
        user_id: String,
        /// Read message ids.
        msg_ids: Vec<String>,
        /// Epoch ms string.
        timestamp: String,
    },
    /// `user_reacted_message`.
    UserReacted {
        /// The OA.
        oa_id: String,
        /// The user.
        user_id: String,
        /// The message reacted to.
        msg_id: String,
        /// E.g. `/-heart`.
        react_icon: String,
        /// Epoch ms string.
        timestamp: String,
    },
    /// `oa_reacted_message`.
    OaReacted {
        /// The OA.
        oa_id: String,
        /// The user.
        user_id: String,
        /// The message reacted to.
        msg_id: String,
        /// E.g. `/-strong`.
        react_icon: String,
        /// Epoch ms string.
        timestamp: String,
    },
    /// `follow`.
    Follow {
        /// The OA.
        oa_id: String,
        /// `follower.id`.
        user_id: String,
        /// App-scoped id, when given.
        user_id_by_app: Option<String>,
        /// `oa_profile`, `message_invite`, `social_plugin`, `zalo`, ...
        source: Option<String>,
        /// Epoch ms string.
        timestamp: String,
    },
    /// `unfollow`.
    Unfollow {
        /// The OA.
        oa_id: String,
        /// `follower.id`.
        user_id: String,
        /// App-scoped id, when given.
        user_id_by_app: Option<String>,
        /// Where it happened.
        source: Option<String>,
        /// Epoch ms string.
        timestamp: String,
    },
    /// `user_click_chatnow`: flat `oa_id`, `user_id`.
    UserClickChatNow {
        /// The OA.
        oa_id: String,
        /// The user.
        user_id: String,
        /// App-scoped id, when given.
        user_id_by_app: Option<String>,
        /// Epoch ms string.
        timestamp: String,
    },
    /// `user_submit_info`: the answer to a request-info template.
    UserSubmitInfo {
        /// The OA.
        oa_id: String,
        /// The user.
        user_id: String,
        /// What the user shared.
        info: SubmittedInfo,
        /// Epoch ms string.
        timestamp: String,
    },
    /// `update_user_info`: the user's profile changed (`data.method`, e.g. `dynamic_url`).
    UpdateUserInfo {
        /// The OA (empty when the app is not linked to one).
        oa_id: String,
        /// The user (may be empty).
        user_id: String,
        /// App-scoped id, when given.
        user_id_by_app: Option<String>,
        /// `data.method`.
        method: Option<String>,
        /// Epoch ms string.
        timestamp: String,
    },
    /// `user_withdraw`: the user exercised their data-subject rights (consent withdrawn): delete what
    /// is held about them.
    UserWithdraw {
        /// The OA (empty when the app is not linked to one).
        oa_id: String,
        /// The user (empty when the app is not linked to an OA).
        user_id: String,
        /// App-scoped id, when given.
        user_id_by_app: Option<String>,
        /// Epoch ms string.
        timestamp: String,
    },
    /// Tag events.
    Tag(TagEvent),
    /// Chat-widget events.
    Widget(WidgetEvent),
    /// A ZNS delivery receipt (another product, sharing the event name `user_received_message`).
    ZnsReceipt(ZnsReceipt),
    /// `anonymous_send_*` and `oa_send_anonymous_*`.
    Anonymous(AnonymousMessage),
    /// A group (GMF) or call event, by its exact name: stored and ignored, never a message.
    OutOfScope {
        /// Group or call.
        kind: OutOfScope,
        /// The event name.
        event_name: String,
        /// The whole body.
        raw: Value,
    },
    /// Anything else (other ZNS events, names Zalo adds later, ...), kept whole.
    Unknown {
        /// The event name, if the body had one.
        event_name: Option<String>,
        /// The whole body.
        raw: Value,
    },
}

impl ZaloEvent {
    /// The event name (for `Unknown` without a name: the empty string).
    pub fn event_name(&self) -> &str {
        match self {
            ZaloEvent::UserMessage(m) => m.kind.event_name(),
            ZaloEvent::OaMessage(m) => &m.event_name,
            ZaloEvent::UserReceived { .. } | ZaloEvent::ZnsReceipt(_) => {
                names::USER_RECEIVED_MESSAGE
            }
            ZaloEvent::UserSeen { .. } => names::USER_SEEN_MESSAGE,
            ZaloEvent::UserReacted { .. } => names::USER_REACTED_MESSAGE,
            ZaloEvent::OaReacted { .. } => names::OA_REACTED_MESSAGE,
            ZaloEvent::Follow { .. } => names::FOLLOW,
            ZaloEvent::Unfollow { .. } => names::UNFOLLOW,
            ZaloEvent::UserClickChatNow { .. } => names::USER_CLICK_CHATNOW,
            ZaloEvent::UserSubmitInfo { .. } => names::USER_SUBMIT_INFO,
            ZaloEvent::UpdateUserInfo { .. } => names::UPDATE_USER_INFO,
            ZaloEvent::UserWithdraw { .. } => names::USER_WITHDRAW,
            ZaloEvent::Tag(t) => t.kind.event_name(),
            ZaloEvent::Widget(w) => w.kind.event_name(),
            ZaloEvent::Anonymous(a) => &a.event_name,
            ZaloEvent::OutOfScope { event_name, .. } => event_name,
            ZaloEvent::Unknown { event_name, .. } => event_name.as_deref().unwrap_or(""),
        }
    }

    /// The Zalo user the event concerns (the lane key), if any: none for tag events (they may name
    /// many users) and ZNS receipts (a phone number is not an OA user). Anonymous visitors' ids
    /// stand as their conversation key ([`visitor_key`]). None for group and call events: a group is
    /// not a customer, and a call is not synced.
    pub fn user_id(&self) -> Option<&str> {
        let id = match self {
            ZaloEvent::UserMessage(m) => m.user_id.as_str(),
            ZaloEvent::OaMessage(m) => m.user_id.as_str(),
            ZaloEvent::UserReceived { user_id, .. }
            | ZaloEvent::UserSeen { user_id, .. }
            | ZaloEvent::UserReacted { user_id, .. }
            | ZaloEvent::OaReacted { user_id, .. }
            | ZaloEvent::Follow { user_id, .. }
            | ZaloEvent::Unfollow { user_id, .. }
            | ZaloEvent::UserClickChatNow { user_id, .. }
            | ZaloEvent::UserSubmitInfo { user_id, .. }
            | ZaloEvent::UpdateUserInfo { user_id, .. }
            | ZaloEvent::UserWithdraw { user_id, .. } => user_id.as_str(),
            ZaloEvent::Widget(w) => w.user_id.as_str(),
            ZaloEvent::Anonymous(a) => a.visitor.as_str(),
            ZaloEvent::Tag(_) | ZaloEvent::ZnsReceipt(_) | ZaloEvent::OutOfScope { .. } => {
                return None
            }
            ZaloEvent::Unknown { raw, .. } => {
                return ["/sender/id", "/user_id", "/follower/id"]
                    .iter()
                    .find_map(|p| raw.pointer(p).and_then(Value::as_str))
                    .filter(|s| !s.is_empty());
            }
        };
        Some(id).filter(|s| !s.is_empty())
    }

    /// The OA the event belongs to, if the body names one: `recipient.id` of a customer's message,
    /// `sender.id` of the OA's own, `oa_id` of the flat events (follow, tags, chat widget, ...).
    /// One Zalo app linked to several OAs delivers all their events to one URL; this tells them
    /// apart. None when the body names none (an app not linked to an OA sends `oa_id: ""`).
    pub fn oa_id(&self) -> Option<&str> {
        let id = match self {
            ZaloEvent::UserMessage(m) => m.oa_id.as_str(),
            ZaloEvent::OaMessage(m) => m.oa_id.as_str(),
            ZaloEvent::UserReceived { oa_id, .. }
            | ZaloEvent::UserSeen { oa_id, .. }
            | ZaloEvent::UserReacted { oa_id, .. }
            | ZaloEvent::OaReacted { oa_id, .. }
            | ZaloEvent::Follow { oa_id, .. }
            | ZaloEvent::Unfollow { oa_id, .. }
            | ZaloEvent::UserClickChatNow { oa_id, .. }
            | ZaloEvent::UserSubmitInfo { oa_id, .. }
            | ZaloEvent::UpdateUserInfo { oa_id, .. }
            | ZaloEvent::UserWithdraw { oa_id, .. } => oa_id.as_str(),
            ZaloEvent::Tag(t) => t.oa_id.as_str(),
            ZaloEvent::Widget(w) => w.oa_id.as_str(),
            ZaloEvent::Anonymous(a) => a.oa_id.as_str(),
            ZaloEvent::ZnsReceipt(z) => z.sender_id.as_str(),
            ZaloEvent::OutOfScope {
                kind: OutOfScope::Call,
                event_name,
                raw,
            } => {
                // The OA sends `oa_*` events (it is the sender); a user's are sent to it.
                let side = if event_name.starts_with("oa_") {
                    "/sender/id"
                } else {
                    "/recipient/id"
                };
                return raw
                    .pointer(side)
                    .and_then(Value::as_str)
                    .filter(|s| !s.is_empty());
            }
            // A group's id stands where the OA's would in a group message, and an unknown event's
            // shape is unknown: only a flat `oa_id` names the OA there.
            ZaloEvent::OutOfScope { raw, .. } | ZaloEvent::Unknown { raw, .. } => {
                return raw
                    .get("oa_id")
                    .and_then(Value::as_str)
                    .filter(|s| !s.is_empty())
            }
        };
        Some(id).filter(|s| !s.is_empty())
    }

    /// The event's own `timestamp` (epoch milliseconds, as a string), if it has one.
    pub fn timestamp(&self) -> Option<&str> {
        let t = match self {
            ZaloEvent::UserMessage(m) => m.timestamp.as_str(),
            ZaloEvent::OaMessage(m) => m.timestamp.as_str(),
            ZaloEvent::UserReceived { timestamp, .. }
            | ZaloEvent::UserSeen { timestamp, .. }
            | ZaloEvent::UserReacted { timestamp, .. }
            | ZaloEvent::OaReacted { timestamp, .. }
            | ZaloEvent::Follow { timestamp, .. }
            | ZaloEvent::Unfollow { timestamp, .. }
            | ZaloEvent::UserClickChatNow { timestamp, .. }
            | ZaloEvent::UserSubmitInfo { timestamp, .. }
            | ZaloEvent::UpdateUserInfo { timestamp, .. }
            | ZaloEvent::UserWithdraw { timestamp, .. } => timestamp.as_str(),
            ZaloEvent::Tag(t) => t.timestamp.as_str(),
            ZaloEvent::Widget(w) => w.timestamp.as_str(),
            ZaloEvent::ZnsReceipt(z) => z.timestamp.as_str(),
            ZaloEvent::Anonymous(a) => a.timestamp.as_str(),
            ZaloEvent::Unknown { raw, .. } | ZaloEvent::OutOfScope { raw, .. } => {
                return raw
                    .get("timestamp")
                    .and_then(Value::as_str)
                    .filter(|s| !s.is_empty());
            }
        };
        Some(t).filter(|s| !s.is_empty())
    }

    /// The event's own time as epoch milliseconds, read from `timestamp` exactly as given: Zalo's
    /// examples have 11- and 12-digit values, which are taken as they are (not rescaled). None when
    /// there is no timestamp or it is not an integer.
    pub fn time_ms(&self) -> Option<i64> {
        self.timestamp()?.trim().parse::<i64>().ok()
    }

    /// A key that is equal for redeliveries of the same event: the `msg_id` of messages, otherwise
    /// `<event_name>:<user_id>:<timestamp>[:...]`. Receipts and reactions never reuse the bare `msg_id` of
    /// the message they refer to; ZNS receipts never collide with OA receipts.
    pub fn dedupe_key(&self) -> String {
        let name = self.event_name();
        let user = self.user_id().unwrap_or("");
        let ts = self.timestamp().unwrap_or("");
        match self {
            ZaloEvent::UserMessage(UserMessage { msg_id, .. })
            | ZaloEvent::OaMessage(OaMessage { msg_id, .. })
            | ZaloEvent::Anonymous(AnonymousMessage { msg_id, .. }) => {
                // A blank id is no id: used as the key, every later blank-id message would be
                // taken for a redelivery of the first and dropped.
                if msg_id.trim().is_empty() {
                    format!("{name}:{user}:{ts}")
                } else {
                    msg_id.clone()
                }
            }
            ZaloEvent::UserReceived { msg_ids, .. } | ZaloEvent::UserSeen { msg_ids, .. } => {
                format!("{name}:{user}:{ts}:{}", msg_ids.join(","))
            }
            ZaloEvent::UserReacted {
                msg_id, react_icon, ..
            }
            | ZaloEvent::OaReacted {
                msg_id, react_icon, ..
            } => format!("{name}:{user}:{ts}:{msg_id}:{react_icon}"),
            ZaloEvent::Follow { .. }
            | ZaloEvent::Unfollow { .. }
            | ZaloEvent::UserClickChatNow { .. }
            | ZaloEvent::UserSubmitInfo { .. }
            | ZaloEvent::Widget(_) => format!("{name}:{user}:{ts}"),
            ZaloEvent::UpdateUserInfo { user_id_by_app, .. }
            | ZaloEvent::UserWithdraw { user_id_by_app, .. } => {
                let who = if user.is_empty() {
                    user_id_by_app.as_deref().unwrap_or("")
                } else {
                    user
                };
                format!("{name}:{who}:{ts}")
            }
            ZaloEvent::Tag(t) => format!("{name}:{}:{ts}:{}", t.tag_name, t.user_ids.join(",")),
            ZaloEvent::ZnsReceipt(z) => format!("zns:{name}:{}:{ts}", z.msg_id),
            ZaloEvent::Unknown { raw, .. } | ZaloEvent::OutOfScope { raw, .. } => {
                if let Some(id) =
                    str_of(raw.pointer("/message/msg_id")).filter(|s| !s.trim().is_empty())
                {
                    return id;
                }
                let digest = Sha256::digest(raw.to_string().as_bytes());
                format!("{name}:{user}:{ts}:{}", hex::encode(&digest[..8]))
            }
        }
    }
}
