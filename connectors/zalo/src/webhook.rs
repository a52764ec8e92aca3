//! Webhook signature and typed events.
//!
//! Zalo signs each POST with `X-ZEvent-Signature: mac=<hex sha256(app_id + raw_body + timestamp +
//! oa_secret_key)>`, where `timestamp` is the body's own field and the key is the OA Secret Key (not the
//! App Secret). [`verify`] checks that over the raw bytes in constant time and says precisely what was
//! wrong ([`SignatureError`]). [`parse_event`] turns a body into a [`ZaloEvent`]; it fails only when the
//! body is not a JSON object and never panics: unknown events become [`ZaloEvent::Unknown`] and missing
//! fields become empty strings or `None`.

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::types::{i64_of, str_of};

/// Signature header (lowercase, as HTTP/2 and axum present it).
pub const SIGNATURE_HEADER: &str = "x-zevent-signature";
/// Server header Zalo sends with OA events (`OA OpenAPI`).
pub const SERVER_HEADER: &str = "x-zevent-server";
/// Value of [`SERVER_HEADER`] for OA events.
pub const SERVER_VALUE: &str = "OA OpenAPI";
/// `User-Agent` of Zalo's webhook sender.
pub const USER_AGENT_VALUE: &str = "ZaloWebhook";
/// Header carrying the retry count on redeliveries.
pub const NUM_RETRY_HEADER: &str = "num_retry";
/// Prefix of the signature header value.
pub const MAC_PREFIX: &str = "mac=";

/// Event names Zalo sends.
pub mod names {
    /// User sent text.
    pub const USER_SEND_TEXT: &str = "user_send_text";
    /// User sent an image.
    pub const USER_SEND_IMAGE: &str = "user_send_image";
    /// User sent a GIF.
    pub const USER_SEND_GIF: &str = "user_send_gif";
    /// User sent a link.
    pub const USER_SEND_LINK: &str = "user_send_link";
    /// User sent a voice clip.
    pub const USER_SEND_AUDIO: &str = "user_send_audio";
    /// User sent a video.
    pub const USER_SEND_VIDEO: &str = "user_send_video";
    /// User sent a sticker.
    pub const USER_SEND_STICKER: &str = "user_send_sticker";
    /// User shared a location.
    pub const USER_SEND_LOCATION: &str = "user_send_location";
    /// User shared a contact card.
    pub const USER_SEND_BUSINESS_CARD: &str = "user_send_business_card";
    /// User sent a file.
    pub const USER_SEND_FILE: &str = "user_send_file";
    /// Prefix of OA → user echoes.
    pub const OA_SEND_PREFIX: &str = "oa_send_";
    /// Echo of a text send.
    pub const OA_SEND_TEXT: &str = "oa_send_text";
    /// Echo of an image send.
    pub const OA_SEND_IMAGE: &str = "oa_send_image";
    /// Echo of a GIF send.
    pub const OA_SEND_GIF: &str = "oa_send_gif";
    /// Echo of a sticker send.
    pub const OA_SEND_STICKER: &str = "oa_send_sticker";
    /// Echo of a file send.
    pub const OA_SEND_FILE: &str = "oa_send_file";
    /// Delivered to the user's device.
    pub const USER_RECEIVED_MESSAGE: &str = "user_received_message";
    /// Read by the user.
    pub const USER_SEEN_MESSAGE: &str = "user_seen_message";
    /// The user reacted to a message.
    pub const USER_REACTED_MESSAGE: &str = "user_reacted_message";
    /// The OA reacted to a message.
    pub const OA_REACTED_MESSAGE: &str = "oa_reacted_message";
    /// The user followed the OA.
    pub const FOLLOW: &str = "follow";
    /// The user unfollowed the OA.
    pub const UNFOLLOW: &str = "unfollow";
    /// The user pressed "chat now" on the OA profile.
    pub const USER_CLICK_CHATNOW: &str = "user_click_chatnow";
    /// The user answered a request-info template.
    pub const USER_SUBMIT_INFO: &str = "user_submit_info";
    /// Prefix of anonymous-user events.
    pub const ANONYMOUS_PREFIX: &str = "anonymous_";
    /// Prefix of OA echoes to anonymous users.
    pub const OA_SEND_ANONYMOUS_PREFIX: &str = "oa_send_anonymous_";
}

/// Why a signature was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// No `X-ZEvent-Signature` header.
    #[error("webhook has no X-ZEvent-Signature header")]
    MissingHeader,
    /// The header is not `mac=` followed by 64 hex digits.
    #[error("X-ZEvent-Signature is not of the form mac=<64 hex digits>")]
    MalformedHeader,
    /// The body is not JSON, so its timestamp cannot be read.
    #[error("webhook body is not JSON")]
    NotJson,
    /// The body has no `timestamp` field.
    #[error("webhook body has no timestamp field")]
    MissingTimestamp,
    /// The MAC does not match: wrong OA Secret Key or app id, or a modified body.
    #[error("webhook signature does not match; check the OA Secret Key (Webhook page, not the App Secret) and the app id")]
    Mismatch,
}

/// Why a body could not be parsed into an event.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("webhook body is not a JSON object: {0}")]
pub struct ParseError(pub String);

fn mac(app_id: &str, raw_body: &[u8], timestamp: &str, key: &SecretString) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(app_id.as_bytes());
    h.update(raw_body);
    h.update(timestamp.as_bytes());
    h.update(key.expose_secret().as_bytes());
    h.finalize().into()
}

/// The header value Zalo would send: `mac=<lowercase hex>`.
pub fn signature(
    app_id: &str,
    raw_body: &[u8],
    timestamp: &str,
    oa_secret_key: &SecretString,
) -> String {
    format!(
        "{MAC_PREFIX}{}",
        hex::encode(mac(app_id, raw_body, timestamp, oa_secret_key))
    )
}

/// Reads the body's `timestamp` as Zalo signed it (string, or a number's text).
pub fn body_timestamp(raw_body: &[u8]) -> Result<String, SignatureError> {
    let v: Value = serde_json::from_slice(raw_body).map_err(|_| SignatureError::NotJson)?;
    str_of(v.get("timestamp")).ok_or(SignatureError::MissingTimestamp)
}

/// Checks `X-ZEvent-Signature` against the raw body in constant time.
pub fn verify(
    app_id: &str,
    oa_secret_key: &SecretString,
    raw_body: &[u8],
    header: Option<&str>,
) -> Result<(), SignatureError> {
    let header = header.ok_or(SignatureError::MissingHeader)?.trim();
    let hex_part = header
        .get(..MAC_PREFIX.len())
        .filter(|p| p.eq_ignore_ascii_case(MAC_PREFIX))
        .and_then(|_| header.get(MAC_PREFIX.len()..))
        .ok_or(SignatureError::MalformedHeader)?;
    if hex_part.len() != 64 {
        return Err(SignatureError::MalformedHeader);
    }
    let mut given = [0u8; 32];
    hex::decode_to_slice(hex_part, &mut given).map_err(|_| SignatureError::MalformedHeader)?;
    let ts = body_timestamp(raw_body)?;
    let expected = mac(app_id, raw_body, &ts, oa_secret_key);
    if bool::from(expected.ct_eq(&given)) {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

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
    /// App-scoped id of the same user.
    pub user_id_by_app: Option<String>,
    /// `message.msg_id`.
    pub msg_id: String,
    /// `message.text` (caption, link text, contact name, ...).
    pub text: Option<String>,
    /// `message.quote_msg_id` when the user replied to a message.
    pub quote_msg_id: Option<String>,
    /// `message.attachments`.
    pub attachments: Vec<Attachment>,
    /// Epoch milliseconds, as a string.
    pub timestamp: String,
}

/// A message from the OA to a user (`oa_send_*`): the echo of an API send, or a staff reply typed in
/// Zalo's own chat tool (then `admin_id` is set).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OaMessage {
    /// The full event name, e.g. `oa_send_text`.
    pub event_name: String,
    /// `sender.id`.
    pub oa_id: String,
    /// `recipient.id`.
    pub user_id: String,
    /// `sender.admin_id`: present only for staff sends.
    pub admin_id: Option<String>,
    /// `message.msg_id` (equals the send response's `message_id`).
    pub msg_id: String,
    /// `message.text`.
    pub text: Option<String>,
    /// `message.attachments`.
    pub attachments: Vec<Attachment>,
    /// Epoch milliseconds, as a string.
    pub timestamp: String,
}

/// One `message.attachments[]` entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Attachment {
    /// An image.
    Image {
        /// Download URL.
        url: String,
        /// Thumbnail URL.
        thumbnail: Option<String>,
    },
    /// A GIF.
    Gif {
        /// Download URL.
        url: String,
        /// Thumbnail URL.
        thumbnail: Option<String>,
    },
    /// A link (also used for business cards).
    Link {
        /// Target URL.
        url: String,
        /// Title, when given.
        title: Option<String>,
        /// Description (for business cards a JSON string with the phone).
        description: Option<String>,
        /// Thumbnail URL.
        thumbnail: Option<String>,
    },
    /// A voice clip.
    Audio {
        /// Download URL.
        url: String,
    },
    /// A video.
    Video {
        /// Download URL.
        url: String,
        /// Thumbnail URL.
        thumbnail: Option<String>,
        /// Description.
        description: Option<String>,
    },
    /// A sticker.
    Sticker {
        /// Sticker id.
        id: Option<String>,
        /// Image URL.
        url: Option<String>,
    },
    /// A location.
    Location {
        /// Latitude as Zalo sent it.
        latitude: String,
        /// Longitude as Zalo sent it.
        longitude: String,
    },
    /// A file.
    File {
        /// Download URL.
        url: String,
        /// File name.
        name: Option<String>,
        /// Size in bytes.
        size: Option<u64>,
        /// MD5 checksum as Zalo sent it.
        checksum: Option<String>,
        /// Extension, e.g. `pdf`.
        file_type: Option<String>,
    },
    /// Anything else, kept raw.
    Other {
        /// The `type` field.
        kind: String,
        /// The `payload` object.
        payload: Value,
    },
}

impl Attachment {
    /// The URL to download, if the attachment has one.
    pub fn url(&self) -> Option<&str> {
        match self {
            Attachment::Image { url, .. }
            | Attachment::Gif { url, .. }
            | Attachment::Link { url, .. }
            | Attachment::Audio { url }
            | Attachment::Video { url, .. }
            | Attachment::File { url, .. } => Some(url),
            Attachment::Sticker { url, .. } => url.as_deref(),
            Attachment::Location { .. } | Attachment::Other { .. } => None,
        }
    }

    fn parse(v: &Value) -> Attachment {
        let kind = str_of(v.get("type")).unwrap_or_default();
        let p = v.get("payload").cloned().unwrap_or(Value::Null);
        let s = |k: &str| str_of(p.get(k)).filter(|x| !x.is_empty());
        let url = s("url");
        match (kind.as_str(), url) {
            ("image", Some(url)) => Attachment::Image {
                url,
                thumbnail: s("thumbnail"),
            },
            ("gif", Some(url)) => Attachment::Gif {
                url,
                thumbnail: s("thumbnail"),
            },
            ("link", Some(url)) => Attachment::Link {
                url,
                title: s("title"),
                description: s("description"),
                thumbnail: s("thumbnail"),
            },
            ("audio" | "voice", Some(url)) => Attachment::Audio { url },
            ("video", Some(url)) => Attachment::Video {
                url,
                thumbnail: s("thumbnail"),
                description: s("description"),
            },
            ("sticker", url) => Attachment::Sticker { id: s("id"), url },
            ("file", Some(url)) => Attachment::File {
                url,
                name: s("name"),
                size: i64_of(p.get("size")).and_then(|n| u64::try_from(n).ok()),
                checksum: s("checksum"),
                file_type: s("type"),
            },
            ("location", _) => {
                let lat = str_of(p.pointer("/coordinates/latitude"));
                let lon = str_of(p.pointer("/coordinates/longitude"));
                match (lat, lon) {
                    (Some(latitude), Some(longitude)) => Attachment::Location {
                        latitude,
                        longitude,
                    },
                    _ => Attachment::Other { kind, payload: p },
                }
            }
            _ => Attachment::Other { kind, payload: p },
        }
    }
}

/// A webhook event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ZaloEvent {
    /// `user_send_*`.
    UserMessage(UserMessage),
    /// `oa_send_*`.
    OaMessage(OaMessage),
    /// `user_received_message`.
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
    /// `user_seen_message`.
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
        /// `oa_profile`, `message_invite`, `social_plugin`, ...
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
        /// Where it happened.
        source: Option<String>,
        /// Epoch ms string.
        timestamp: String,
    },
    /// `user_click_chatnow`.
    UserClickChatNow {
        /// The OA.
        oa_id: String,
        /// The user.
        user_id: String,
        /// Epoch ms string.
        timestamp: String,
    },
    /// `user_submit_info`.
    UserSubmitInfo {
        /// The OA.
        oa_id: String,
        /// The user.
        user_id: String,
        /// The submitted `info` object as sent.
        info: Value,
        /// Epoch ms string.
        timestamp: String,
    },
    /// `anonymous_send_*` and `oa_send_anonymous_*`.
    Anonymous {
        /// The event name.
        event_name: String,
        /// The whole body.
        raw: Value,
    },
    /// Anything else (group, call, ZNS, tag events, ...).
    Unknown {
        /// The event name, if the body had one.
        event_name: Option<String>,
        /// The whole body.
        raw: Value,
    },
}

/// Parses a webhook body. Fails only when the body is not a JSON object.
pub fn parse_event(raw_body: &[u8]) -> Result<ZaloEvent, ParseError> {
    let v: Value = serde_json::from_slice(raw_body).map_err(|e| ParseError(e.to_string()))?;
    if !v.is_object() {
        return Err(ParseError("top level is not an object".into()));
    }
    Ok(event_from_value(v))
}

/// Types an already parsed JSON object (anything else becomes [`ZaloEvent::Unknown`]).
pub fn event_from_value(v: Value) -> ZaloEvent {
    let g = |p: &str| str_of(v.pointer(p));
    let gs = |p: &str| g(p).unwrap_or_default();
    let Some(name) = g("/event_name") else {
        return ZaloEvent::Unknown {
            event_name: None,
            raw: v,
        };
    };
    let timestamp = gs("/timestamp");
    let attachments = || -> Vec<Attachment> {
        v.pointer("/message/attachments")
            .and_then(Value::as_array)
            .map(|a| a.iter().map(Attachment::parse).collect())
            .unwrap_or_default()
    };
    let msg_ids = || -> Vec<String> {
        match v.pointer("/message/msg_ids") {
            Some(Value::Array(a)) => a.iter().filter_map(|x| str_of(Some(x))).collect(),
            _ => g("/message/msg_id").into_iter().collect(),
        }
    };
    let nonempty = |o: Option<String>| o.filter(|s| !s.is_empty());
    if let Some(kind) = UserMessageKind::from_event_name(&name) {
        return ZaloEvent::UserMessage(UserMessage {
            kind,
            oa_id: gs("/recipient/id"),
            user_id: gs("/sender/id"),
            user_id_by_app: nonempty(g("/user_id_by_app")),
            msg_id: gs("/message/msg_id"),
            text: g("/message/text"),
            quote_msg_id: nonempty(g("/message/quote_msg_id")),
            attachments: attachments(),
            timestamp,
        });
    }
    if name.starts_with(names::ANONYMOUS_PREFIX)
        || name.starts_with(names::OA_SEND_ANONYMOUS_PREFIX)
    {
        return ZaloEvent::Anonymous {
            event_name: name,
            raw: v,
        };
    }
    if name.starts_with(names::OA_SEND_PREFIX) {
        return ZaloEvent::OaMessage(OaMessage {
            oa_id: gs("/sender/id"),
            user_id: gs("/recipient/id"),
            admin_id: nonempty(g("/sender/admin_id")),
            msg_id: gs("/message/msg_id"),
            text: g("/message/text"),
            attachments: attachments(),
            timestamp,
            event_name: name,
        });
    }
    let flat_oa = || g("/oa_id").unwrap_or_default();
    match name.as_str() {
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
            let oa_id = flat_oa();
            let user_id = g("/follower/id")
                .or_else(|| g("/user_id"))
                .unwrap_or_default();
            let source = nonempty(g("/source"));
            if name == names::FOLLOW {
                ZaloEvent::Follow {
                    oa_id,
                    user_id,
                    source,
                    timestamp,
                }
            } else {
                ZaloEvent::Unfollow {
                    oa_id,
                    user_id,
                    source,
                    timestamp,
                }
            }
        }
        names::USER_CLICK_CHATNOW => ZaloEvent::UserClickChatNow {
            oa_id: g("/oa_id")
                .or_else(|| g("/recipient/id"))
                .unwrap_or_default(),
            user_id: g("/user_id")
                .or_else(|| g("/sender/id"))
                .unwrap_or_default(),
            timestamp,
        },
        names::USER_SUBMIT_INFO => ZaloEvent::UserSubmitInfo {
            oa_id: g("/oa_id")
                .or_else(|| g("/recipient/id"))
                .unwrap_or_default(),
            user_id: g("/sender/id")
                .or_else(|| g("/user_id"))
                .unwrap_or_default(),
            info: v.get("info").cloned().unwrap_or(Value::Null),
            timestamp,
        },
        _ => ZaloEvent::Unknown {
            event_name: Some(name),
            raw: v,
        },
    }
}

impl ZaloEvent {
    /// The event name (for `Unknown` without a name: the empty string).
    pub fn event_name(&self) -> &str {
        match self {
            ZaloEvent::UserMessage(m) => m.kind.event_name(),
            ZaloEvent::OaMessage(m) => &m.event_name,
            ZaloEvent::UserReceived { .. } => names::USER_RECEIVED_MESSAGE,
            ZaloEvent::UserSeen { .. } => names::USER_SEEN_MESSAGE,
            ZaloEvent::UserReacted { .. } => names::USER_REACTED_MESSAGE,
            ZaloEvent::OaReacted { .. } => names::OA_REACTED_MESSAGE,
            ZaloEvent::Follow { .. } => names::FOLLOW,
            ZaloEvent::Unfollow { .. } => names::UNFOLLOW,
            ZaloEvent::UserClickChatNow { .. } => names::USER_CLICK_CHATNOW,
            ZaloEvent::UserSubmitInfo { .. } => names::USER_SUBMIT_INFO,
            ZaloEvent::Anonymous { event_name, .. } => event_name,
            ZaloEvent::Unknown { event_name, .. } => event_name.as_deref().unwrap_or(""),
        }
    }

    /// The Zalo user the event concerns (the lane key), if any.
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
            | ZaloEvent::UserSubmitInfo { user_id, .. } => user_id.as_str(),
            ZaloEvent::Anonymous { raw, .. } | ZaloEvent::Unknown { raw, .. } => {
                return ["/sender/id", "/user_id", "/follower/id"]
                    .iter()
                    .find_map(|p| raw.pointer(p).and_then(Value::as_str))
                    .filter(|s| !s.is_empty());
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
            | ZaloEvent::UserSubmitInfo { timestamp, .. } => timestamp.as_str(),
            ZaloEvent::Anonymous { raw, .. } | ZaloEvent::Unknown { raw, .. } => {
                return raw
                    .get("timestamp")
                    .and_then(Value::as_str)
                    .filter(|s| !s.is_empty());
            }
        };
        Some(t).filter(|s| !s.is_empty())
    }

    /// A key that is equal for redeliveries of the same event: the `msg_id` of messages, otherwise
    /// `<event_name>:<user_id>:<timestamp>[:...]`. Receipts and reactions never reuse the bare `msg_id` of
    /// the message they refer to.
    pub fn dedupe_key(&self) -> String {
        let name = self.event_name();
        let user = self.user_id().unwrap_or("");
        match self {
            ZaloEvent::UserMessage(UserMessage {
                msg_id, timestamp, ..
            })
            | ZaloEvent::OaMessage(OaMessage {
                msg_id, timestamp, ..
            }) => {
                if msg_id.is_empty() {
                    format!("{name}:{user}:{timestamp}")
                } else {
                    msg_id.clone()
                }
            }
            ZaloEvent::UserReceived {
                msg_ids, timestamp, ..
            }
            | ZaloEvent::UserSeen {
                msg_ids, timestamp, ..
            } => {
                format!("{name}:{user}:{timestamp}:{}", msg_ids.join(","))
            }
            ZaloEvent::UserReacted {
                msg_id,
                react_icon,
                timestamp,
                ..
            }
            | ZaloEvent::OaReacted {
                msg_id,
                react_icon,
                timestamp,
                ..
            } => {
                format!("{name}:{user}:{timestamp}:{msg_id}:{react_icon}")
            }
            ZaloEvent::Follow { timestamp, .. }
            | ZaloEvent::Unfollow { timestamp, .. }
            | ZaloEvent::UserClickChatNow { timestamp, .. }
            | ZaloEvent::UserSubmitInfo { timestamp, .. } => format!("{name}:{user}:{timestamp}"),
            ZaloEvent::Anonymous { raw, .. } | ZaloEvent::Unknown { raw, .. } => {
                if let Some(id) = str_of(raw.pointer("/message/msg_id")).filter(|s| !s.is_empty()) {
                    return id;
                }
                let ts = str_of(raw.get("timestamp")).unwrap_or_default();
                let digest = Sha256::digest(raw.to_string().as_bytes());
                format!("{name}:{user}:{ts}:{}", hex::encode(&digest[..8]))
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    #[test]
    fn timestamp_comes_from_the_event() {
        let text = br#"{"event_name":"user_send_text","sender":{"id":"1"},"recipient":{"id":"2"},"message":{"msg_id":"m","text":"hi"},"timestamp":"1700000000123"}"#;
        assert_eq!(
            parse_event(text).unwrap().timestamp(),
            Some("1700000000123")
        );
        let follow =
            br#"{"event_name":"follow","oa_id":"2","follower":{"id":"1"},"timestamp":"17"}"#;
        assert_eq!(parse_event(follow).unwrap().timestamp(), Some("17"));
        let unknown = br#"{"event_name":"shop_has_order","timestamp":"9"}"#;
        assert_eq!(parse_event(unknown).unwrap().timestamp(), Some("9"));
        assert_eq!(
            parse_event(br#"{"event_name":"x"}"#).unwrap().timestamp(),
            None
        );
    }

    use super::*;
    use serde_json::json;

    fn key() -> SecretString {
        SecretString::from("oa-secret")
    }

    #[test]
    fn signature_known_answer() {
        let body = br#"{"timestamp":"1700000000000","event_name":"user_send_text"}"#;
        // sha256("123" + body + "1700000000000" + "oa-secret"), computed independently with sha256sum.
        let mut concat = b"123".to_vec();
        concat.extend_from_slice(body);
        concat.extend_from_slice(b"1700000000000oa-secret");
        let expected = format!("mac={}", hex::encode(Sha256::digest(&concat)));
        assert_eq!(signature("123", body, "1700000000000", &key()), expected);
        assert_eq!(
            signature("a", b"b", "c", &SecretString::from("d")),
            "mac=88d4266fd4e6338d13b845fcf289579d209c897823b9217da3e161936f031589"
        );
    }

    #[test]
    fn verify_accepts_and_rejects() {
        let body = br#"{"app_id":"123","timestamp":"1700000000000","event_name":"user_send_text"}"#;
        let sig = signature("123", body, "1700000000000", &key());
        assert_eq!(verify("123", &key(), body, Some(&sig)), Ok(()));
        assert_eq!(
            verify(
                "123",
                &key(),
                body,
                Some(&sig.to_uppercase().replace("MAC=", "mac="))
            ),
            Ok(())
        );
        assert_eq!(
            verify("123", &key(), body, None),
            Err(SignatureError::MissingHeader)
        );
        assert_eq!(
            verify("123", &key(), body, Some("sha256=00")),
            Err(SignatureError::MalformedHeader)
        );
        assert_eq!(
            verify("123", &key(), body, Some(&sig[4..])),
            Err(SignatureError::MalformedHeader)
        );
        assert_eq!(
            verify("123", &key(), body, Some("mac=zz")),
            Err(SignatureError::MalformedHeader)
        );
        assert_eq!(
            verify("123", &key(), b"not json", Some(&sig)),
            Err(SignatureError::NotJson)
        );
        assert_eq!(
            verify("123", &key(), br#"{"a":1}"#, Some(&sig)),
            Err(SignatureError::MissingTimestamp)
        );
        // Tampering: body, app id, key.
        let mut tampered = body.to_vec();
        tampered[11] ^= 1; // "123" -> "023": still JSON, different body
        assert_eq!(
            verify("123", &key(), &tampered, Some(&sig)),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify("124", &key(), body, Some(&sig)),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify("123", &SecretString::from("x"), body, Some(&sig)),
            Err(SignatureError::Mismatch)
        );
        // Re-serialised JSON (whitespace) is a different body.
        let spaced =
            br#"{"app_id": "123","timestamp":"1700000000000","event_name":"user_send_text"}"#;
        assert_eq!(
            verify("123", &key(), spaced, Some(&sig)),
            Err(SignatureError::Mismatch)
        );
    }

    fn parse(v: Value) -> ZaloEvent {
        parse_event(v.to_string().as_bytes()).unwrap()
    }

    #[test]
    fn parses_user_text_and_image() {
        let e = parse(
            json!({"app_id": "1", "sender": {"id": "246"}, "user_id_by_app": "552", "recipient": {"id": "388"},
            "event_name": "user_send_text", "message": {"text": "hi", "msg_id": "m1", "quote_msg_id": "q0"}, "timestamp": "154"}),
        );
        let ZaloEvent::UserMessage(m) = &e else {
            panic!("{e:?}")
        };
        assert_eq!(
            (m.kind, m.oa_id.as_str(), m.user_id.as_str()),
            (UserMessageKind::Text, "388", "246")
        );
        assert_eq!(m.quote_msg_id.as_deref(), Some("q0"));
        assert_eq!(e.dedupe_key(), "m1");
        assert_eq!(e.user_id(), Some("246"));
        let e = parse(
            json!({"sender": {"id": "u"}, "recipient": {"id": "o"}, "event_name": "user_send_file",
            "message": {"msg_id": "m2", "attachments": [
                {"type": "file", "payload": {"url": "https://f", "name": "a.pdf", "size": "12", "checksum": "c", "type": "pdf"}},
                {"type": "location", "payload": {"coordinates": {"latitude": "10.7", "longitude": "106.6"}}},
                {"type": "sticker", "payload": {"id": "s1", "url": "https://s"}},
                {"type": "weird", "payload": {"x": 1}}]}, "timestamp": "1"}),
        );
        let ZaloEvent::UserMessage(m) = e else {
            panic!()
        };
        assert_eq!(
            m.attachments[0],
            Attachment::File {
                url: "https://f".into(),
                name: Some("a.pdf".into()),
                size: Some(12),
                checksum: Some("c".into()),
                file_type: Some("pdf".into())
            }
        );
        assert_eq!(
            m.attachments[1],
            Attachment::Location {
                latitude: "10.7".into(),
                longitude: "106.6".into()
            }
        );
        assert_eq!(
            m.attachments[2],
            Attachment::Sticker {
                id: Some("s1".into()),
                url: Some("https://s".into())
            }
        );
        assert!(matches!(&m.attachments[3], Attachment::Other { kind, .. } if kind == "weird"));
    }

    #[test]
    fn parses_the_rest_of_the_catalogue() {
        let e = parse(
            json!({"sender": {"id": "oa", "admin_id": "ad"}, "recipient": {"id": "u"}, "event_name": "oa_send_text", "message": {"text": "t", "msg_id": "m"}, "timestamp": "1"}),
        );
        let ZaloEvent::OaMessage(m) = &e else {
            panic!()
        };
        assert_eq!(m.admin_id.as_deref(), Some("ad"));
        assert_eq!(e.user_id(), Some("u"));
        let e = parse(
            json!({"sender": {"id": "oa"}, "recipient": {"id": "u"}, "event_name": "user_seen_message", "message": {"msg_ids": ["a", "b"]}, "timestamp": "5"}),
        );
        assert_eq!(
            e,
            ZaloEvent::UserSeen {
                oa_id: "oa".into(),
                user_id: "u".into(),
                msg_ids: vec!["a".into(), "b".into()],
                timestamp: "5".into()
            }
        );
        assert_eq!(e.dedupe_key(), "user_seen_message:u:5:a,b");
        let e = parse(
            json!({"sender": {"id": "oa"}, "recipient": {"id": "u"}, "event_name": "user_received_message", "message": {"msg_id": "a"}, "timestamp": "5"}),
        );
        assert!(matches!(&e, ZaloEvent::UserReceived { msg_ids, .. } if msg_ids == &["a"]));
        assert_ne!(e.dedupe_key(), "a");
        let e = parse(
            json!({"sender": {"id": "u"}, "recipient": {"id": "oa"}, "event_name": "user_reacted_message", "message": {"msg_id": "a", "react_icon": "/-heart"}, "timestamp": "5"}),
        );
        assert!(
            matches!(&e, ZaloEvent::UserReacted { user_id, react_icon, .. } if user_id == "u" && react_icon == "/-heart")
        );
        let e = parse(
            json!({"sender": {"id": "oa"}, "recipient": {"id": "u"}, "event_name": "oa_reacted_message", "message": {"msg_id": "a", "react_icon": ":>"}, "timestamp": "5"}),
        );
        assert!(matches!(&e, ZaloEvent::OaReacted { user_id, .. } if user_id == "u"));
        let e = parse(
            json!({"oa_id": "oa", "follower": {"id": "u"}, "event_name": "follow", "source": "oa_profile", "timestamp": "7"}),
        );
        assert_eq!(
            e,
            ZaloEvent::Follow {
                oa_id: "oa".into(),
                user_id: "u".into(),
                source: Some("oa_profile".into()),
                timestamp: "7".into()
            }
        );
        assert_eq!(e.dedupe_key(), "follow:u:7");
        let e = parse(
            json!({"oa_id": "oa", "follower": {"id": "u"}, "event_name": "unfollow", "timestamp": "7"}),
        );
        assert!(matches!(e, ZaloEvent::Unfollow { .. }));
        let e = parse(
            json!({"oa_id": "oa", "user_id": "u", "event_name": "user_click_chatnow", "timestamp": "7"}),
        );
        assert_eq!(e.user_id(), Some("u"));
        let e = parse(
            json!({"sender": {"id": "u"}, "recipient": {"id": "oa"}, "event_name": "user_submit_info", "info": {"name": "N"}, "timestamp": "7"}),
        );
        assert!(matches!(&e, ZaloEvent::UserSubmitInfo { info, .. } if info["name"] == "N"));
        let e = parse(json!({"event_name": "anonymous_send_text", "message": {"msg_id": "x"}}));
        assert!(matches!(&e, ZaloEvent::Anonymous { .. }));
        assert_eq!(e.dedupe_key(), "x");
        let e = parse(json!({"event_name": "oa_send_anonymous_text"}));
        assert!(matches!(&e, ZaloEvent::Anonymous { .. }));
        let e = parse(json!({"event_name": "add_user_to_tag", "timestamp": "1"}));
        assert_eq!(e.event_name(), "add_user_to_tag");
        assert!(matches!(e, ZaloEvent::Unknown { .. }));
        let e = parse(json!({"x": 1}));
        assert_eq!(e.event_name(), "");
        assert!(e.user_id().is_none());
        assert!(parse_event(b"[1]").is_err());
        assert!(parse_event(b"").is_err());
    }

    #[test]
    fn ids_as_numbers_are_kept_as_text() {
        let e = parse_event(br#"{"sender":{"id":24684588352919792},"recipient":{"id":1},"event_name":"user_send_text","message":{"msg_id":12,"text":"x"},"timestamp":154}"#).unwrap();
        assert_eq!(e.user_id(), Some("24684588352919792"));
        assert_eq!(e.dedupe_key(), "12");
    }

    proptest::proptest! {
        #[test]
        fn parser_never_panics_on_bytes(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..512)) {
            let _ = parse_event(&bytes);
            let _ = verify("1", &key(), &bytes, Some("mac=00"));
        }

        #[test]
        fn parser_never_panics_on_json(v in arb_json()) {
            if let Ok(e) = parse_event(v.to_string().as_bytes()) {
                let _ = (e.event_name(), e.user_id(), e.dedupe_key());
            }
        }

        #[test]
        fn parser_never_panics_on_event_shapes(name in proptest::sample::select(vec![
            "user_send_text", "user_send_image", "user_send_file", "user_send_location", "oa_send_text",
            "user_seen_message", "user_received_message", "user_reacted_message", "oa_reacted_message",
            "follow", "unfollow", "user_click_chatnow", "user_submit_info", "anonymous_send_text", "x"]),
            sender in arb_json(), message in arb_json(), ts in arb_json()) {
            let body = json!({"event_name": name, "sender": sender, "recipient": {"id": "1"}, "message": message, "timestamp": ts, "follower": sender});
            let e = parse_event(body.to_string().as_bytes()).unwrap();
            let _ = (e.event_name(), e.user_id(), e.dedupe_key());
        }
    }

    fn arb_json() -> impl proptest::strategy::Strategy<Value = Value> {
        use proptest::prelude::*;
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(|n| json!(n)),
            any::<f64>().prop_map(|f| json!(f)),
            ".{0,12}".prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 48, 6, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                proptest::collection::btree_map(
                    prop_oneof![
                        Just("event_name".to_owned()),
                        Just("message".to_owned()),
                        Just("attachments".to_owned()),
                        Just("payload".to_owned()),
                        Just("type".to_owned()),
                        Just("msg_ids".to_owned()),
                        ".{0,6}"
                    ],
                    inner,
                    0..6
                )
                .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }
}
