//! Plain data types of the Zalo OA Open API: what the client sends and what it reads back.
//!
//! Ids stay strings everywhere (Zalo's ids exceed 2^53). Conversion from Zalo's JSON is lenient: a field
//! that arrives as a number where a string is expected is accepted; a missing required field is reported
//! by the client as [`crate::ZaloError::Decode`].

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// Where an image to send comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum MediaSource {
    /// An `attachment_id` from [`crate::ZaloClient::upload_image`].
    AttachmentId(String),
    /// A public URL Zalo fetches itself.
    Url(String),
}

/// A consultation (CS) message to one user, sent with [`crate::ZaloClient::send_message`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum OutboundMessage {
    /// Text, at most 2,000 characters, optionally quoting an earlier message.
    Text {
        /// The text.
        text: String,
        /// `msg_id` of the message this one replies to.
        quote_message_id: Option<String>,
    },
    /// An image by upload id or URL, with an optional caption.
    Image {
        /// Upload id or URL.
        source: MediaSource,
        /// Caption shown with the image.
        caption: Option<String>,
    },
    /// A GIF uploaded with [`crate::ZaloClient::upload_gif`]; Zalo requires its size.
    Gif {
        /// The `attachment_id` from the upload.
        attachment_id: String,
        /// Width in pixels.
        width: u32,
        /// Height in pixels.
        height: u32,
        /// Caption shown with the GIF.
        caption: Option<String>,
    },
    /// A Zalo sticker by id.
    Sticker {
        /// Sticker id.
        sticker_id: String,
    },
    /// A file uploaded with [`crate::ZaloClient::upload_file`].
    File {
        /// The `token` from the upload.
        token: String,
    },
}

impl OutboundMessage {
    /// The `message` object of a `/v3.0/oa/message/cs` request.
    pub fn to_json(&self) -> Value {
        fn media(element: Value, caption: &Option<String>) -> Value {
            let mut m = json!({
                "attachment": {"type": "template", "payload": {"template_type": "media", "elements": [element]}}
            });
            if let (Some(c), Some(obj)) = (caption, m.as_object_mut()) {
                obj.insert("text".into(), Value::String(c.clone()));
            }
            m
        }
        match self {
            OutboundMessage::Text {
                text,
                quote_message_id,
            } => {
                let mut m = json!({ "text": text });
                if let (Some(q), Some(obj)) = (quote_message_id, m.as_object_mut()) {
                    obj.insert("quote_message_id".into(), Value::String(q.clone()));
                }
                m
            }
            OutboundMessage::Image { source, caption } => {
                let element = match source {
                    MediaSource::AttachmentId(id) => {
                        json!({"media_type": "image", "attachment_id": id})
                    }
                    MediaSource::Url(url) => json!({"media_type": "image", "url": url}),
                };
                media(element, caption)
            }
            OutboundMessage::Gif {
                attachment_id,
                width,
                height,
                caption,
            } => media(
                json!({"media_type": "gif", "attachment_id": attachment_id, "width": width, "height": height}),
                caption,
            ),
            OutboundMessage::Sticker { sticker_id } => media(
                json!({"media_type": "sticker", "attachment_id": sticker_id}),
                &None,
            ),
            OutboundMessage::File { token } => {
                json!({"attachment": {"type": "file", "payload": {"token": token}}})
            }
        }
    }
}

/// What `/v3.0/oa/message/cs` returned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SentMessage {
    /// Zalo's id of the new message; the `oa_send_*` echo carries it as `msg_id`.
    pub message_id: String,
    /// The recipient.
    pub user_id: String,
    /// Epoch milliseconds as a string, when given.
    pub sent_time: Option<String>,
}

/// A user's profile from `/v3.0/oa/user/detail`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserProfile {
    /// OA-scoped user id.
    pub user_id: String,
    /// Name shown in Zalo.
    pub display_name: String,
    /// `avatars["240"]`, else `avatar`.
    pub avatar: Option<String>,
    /// Whether the user follows the OA.
    pub is_follower: Option<bool>,
    /// `dd/MM/yyyy`, as Zalo gives it.
    pub last_interaction_date: Option<String>,
}

/// The OA's identity from `/v2.0/oa/getoa`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OaInfo {
    /// From `oa_id` or `oaid`.
    pub oa_id: String,
    /// OA name.
    pub name: String,
    /// Avatar URL.
    pub avatar: Option<String>,
    /// Whether the OA is verified.
    pub is_verified: Option<bool>,
    /// Follower count.
    pub num_follower: Option<u64>,
}

/// One message of `/v2.0/oa/listrecentchat` or `/v2.0/oa/conversation`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryMessage {
    /// Zalo message id.
    pub message_id: String,
    /// `src == 1`: the user sent it; otherwise the OA did.
    pub from_user: bool,
    /// Epoch milliseconds.
    pub time_ms: i64,
    /// `type`: text, photo, sticker, link, ...
    pub kind: String,
    /// `message`, for text.
    pub text: Option<String>,
    /// `url`, for media.
    pub url: Option<String>,
    /// Sender id.
    pub from_id: String,
    /// Recipient id.
    pub to_id: String,
}

/// Reads a field as a string, accepting numbers and booleans.
pub(crate) fn str_of(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Reads a field as an i64, accepting numeric strings.
pub(crate) fn i64_of(v: Option<&Value>) -> Option<i64> {
    match v? {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// Reads a field as a bool, accepting "true"/"false" and 0/1.
pub(crate) fn bool_of(v: Option<&Value>) -> Option<bool> {
    match v? {
        Value::Bool(b) => Some(*b),
        Value::String(s) => match s.as_str() {
            "true" | "1" => Some(true),
            "false" | "0" => Some(false),
            _ => None,
        },
        Value::Number(n) => n.as_i64().map(|i| i != 0),
        _ => None,
    }
}

impl UserProfile {
    pub(crate) fn from_json(d: &Value) -> Option<UserProfile> {
        let avatar = str_of(d.pointer("/avatars/240"))
            .filter(|s| !s.is_empty())
            .or_else(|| str_of(d.get("avatar")).filter(|s| !s.is_empty()));
        Some(UserProfile {
            user_id: str_of(d.get("user_id"))?,
            display_name: str_of(d.get("display_name")).unwrap_or_default(),
            avatar,
            is_follower: bool_of(d.get("user_is_follower")),
            last_interaction_date: str_of(d.get("user_last_interaction_date")),
        })
    }
}

impl OaInfo {
    pub(crate) fn from_json(d: &Value) -> Option<OaInfo> {
        Some(OaInfo {
            oa_id: str_of(d.get("oa_id")).or_else(|| str_of(d.get("oaid")))?,
            name: str_of(d.get("name")).unwrap_or_default(),
            avatar: str_of(d.get("avatar")).filter(|s| !s.is_empty()),
            is_verified: bool_of(d.get("is_verified")),
            num_follower: i64_of(d.get("num_follower")).and_then(|n| u64::try_from(n).ok()),
        })
    }
}

impl HistoryMessage {
    pub(crate) fn from_json(d: &Value) -> Option<HistoryMessage> {
        Some(HistoryMessage {
            message_id: str_of(d.get("message_id"))?,
            from_user: i64_of(d.get("src")) == Some(1),
            time_ms: i64_of(d.get("time")).unwrap_or_default(),
            kind: str_of(d.get("type")).unwrap_or_default(),
            text: str_of(d.get("message")),
            url: str_of(d.get("url")),
            from_id: str_of(d.get("from_id")).unwrap_or_default(),
            to_id: str_of(d.get("to_id")).unwrap_or_default(),
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn outbound_shapes() {
        let t = OutboundMessage::Text {
            text: "hi".into(),
            quote_message_id: Some("q1".into()),
        };
        assert_eq!(t.to_json(), json!({"text": "hi", "quote_message_id": "q1"}));
        let i = OutboundMessage::Image {
            source: MediaSource::Url("https://x/a.png".into()),
            caption: Some("c".into()),
        };
        assert_eq!(
            i.to_json()["attachment"]["payload"]["elements"][0]["url"],
            "https://x/a.png"
        );
        assert_eq!(i.to_json()["text"], "c");
        let g = OutboundMessage::Gif {
            attachment_id: "g".into(),
            width: 10,
            height: 20,
            caption: None,
        };
        assert_eq!(
            g.to_json()["attachment"]["payload"]["elements"][0]["width"],
            10
        );
        assert!(g.to_json().get("text").is_none());
        let f = OutboundMessage::File {
            token: "tok".into(),
        };
        assert_eq!(
            f.to_json(),
            json!({"attachment": {"type": "file", "payload": {"token": "tok"}}})
        );
        let s = OutboundMessage::Sticker {
            sticker_id: "st".into(),
        };
        assert_eq!(
            s.to_json()["attachment"]["payload"]["elements"][0]["media_type"],
            "sticker"
        );
    }

    #[test]
    fn lenient_parsing() {
        let p = UserProfile::from_json(&json!({"user_id": 123, "display_name": "A", "avatar": "a", "avatars": {"240": "b"}, "user_is_follower": "true"})).unwrap();
        assert_eq!(p.user_id, "123");
        assert_eq!(p.avatar.as_deref(), Some("b"));
        assert_eq!(p.is_follower, Some(true));
        let o =
            OaInfo::from_json(&json!({"oaid": "9", "name": "n", "num_follower": "12"})).unwrap();
        assert_eq!(o.oa_id, "9");
        assert_eq!(o.num_follower, Some(12));
        let h = HistoryMessage::from_json(&json!({"src": 1, "time": 5, "type": "text", "message": "m", "message_id": "x", "from_id": 1, "to_id": "2"})).unwrap();
        assert!(h.from_user);
        assert_eq!(h.from_id, "1");
    }
}
