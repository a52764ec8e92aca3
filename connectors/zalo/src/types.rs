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
    /// The request-user-info template (one element; title ≤ 100, subtitle ≤ 500 characters):
    /// the customer's answer arrives as the webhook `user_submit_info`.
    RequestUserInfo {
        /// The title.
        title: String,
        /// The subtitle.
        subtitle: String,
        /// The image shown above the form ("" for none: the key is left out).
        image_url: String,
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
            OutboundMessage::RequestUserInfo {
                title,
                subtitle,
                image_url,
            } => {
                let mut element = json!({"title": title, "subtitle": subtitle});
                if let (false, Some(obj)) = (image_url.is_empty(), element.as_object_mut()) {
                    obj.insert("image_url".into(), Value::String(image_url.clone()));
                }
                json!({"attachment": {"type": "template", "payload": {
                    "template_type": "request_user_info", "elements": [element]
                }}})
            }
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
    /// Epoch milliseconds as a string, when given (some answers omit it).
    pub sent_time: Option<String>,
    /// Which allowance paid for the message; [`SendQuota::Billed`] when Zalo sent no `quota`.
    pub quota: SendQuota,
}

/// What `/v2.0/oa/message` returned for a message to an anonymous visitor (corpus
/// `zalo-api-message-anonymous-success.json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SentAnonymous {
    /// Zalo's id of the new message; the `oa_send_anonymous_*` echo carries it as `msg_id`.
    pub message_id: String,
    /// The visitor.
    pub anonymous_id: String,
    /// The visitor's conversation.
    pub conversation_id: String,
}

/// The `quota` of a CS send: which allowance paid for the message (reference §2.1). `remain` and
/// `total` arrive as strings and are read as numbers; Zalo stops sending them for `reply` after
/// 2026-03-01, hence `Option`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum SendQuota {
    /// No `quota` object: the message was billed (sent between 48 h and 7 days after the user's last
    /// interaction, or past every allowance).
    Billed,
    /// `reply`: free within 48 h of the user's last interaction.
    Reply {
        /// Messages left in the window.
        remain: Option<u64>,
        /// Size of the window's allowance.
        total: Option<u64>,
    },
    /// `welcome_msg`: a follower who never interacted.
    WelcomeMsg {
        /// Messages left.
        remain: Option<u64>,
        /// Allowance.
        total: Option<u64>,
    },
    /// `sub_quota`: the OA package's allowance.
    SubQuota {
        /// Messages left.
        remain: Option<u64>,
        /// Allowance.
        total: Option<u64>,
        /// `dd/MM/yyyy`, as Zalo gives it.
        expired_date: Option<String>,
    },
    /// `purchase_quota`: a purchased package.
    PurchaseQuota {
        /// `OA` or `App`.
        owner_type: Option<String>,
        /// The owner's id.
        owner_id: Option<String>,
    },
    /// `reward_quota`: a reward package.
    RewardQuota {
        /// `OA` or `App`.
        owner_type: Option<String>,
        /// The owner's id.
        owner_id: Option<String>,
    },
    /// A `quota_type` this crate does not know, kept as sent.
    Other {
        /// The `quota_type` (empty when missing).
        quota_type: String,
        /// The whole `quota` value.
        raw: Value,
    },
}

impl SendQuota {
    /// Reads `data.quota` of a send response; absent or `null` is [`SendQuota::Billed`].
    pub fn from_json(quota: Option<&Value>) -> SendQuota {
        let q = match quota {
            None | Some(Value::Null) => return SendQuota::Billed,
            Some(q) => q,
        };
        let n = |k: &str| u64_of(q.get(k));
        let s = |k: &str| str_of(q.get(k)).filter(|s| !s.is_empty());
        let quota_type = s("quota_type").unwrap_or_default();
        match quota_type.as_str() {
            "reply" => SendQuota::Reply {
                remain: n("remain"),
                total: n("total"),
            },
            "welcome_msg" => SendQuota::WelcomeMsg {
                remain: n("remain"),
                total: n("total"),
            },
            "sub_quota" => SendQuota::SubQuota {
                remain: n("remain"),
                total: n("total"),
                expired_date: s("expired_date"),
            },
            "purchase_quota" => SendQuota::PurchaseQuota {
                owner_type: s("owner_type"),
                owner_id: s("owner_id"),
            },
            "reward_quota" => SendQuota::RewardQuota {
                owner_type: s("owner_type"),
                owner_id: s("owner_id"),
            },
            _ => SendQuota::Other {
                quota_type,
                raw: q.clone(),
            },
        }
    }

    /// True when no allowance paid for the message.
    pub fn is_billed(&self) -> bool {
        matches!(self, SendQuota::Billed)
    }

    /// Zalo's `quota_type` (`reply`, `sub_quota`, ...; `billed` when there was none).
    pub fn kind(&self) -> &str {
        match self {
            SendQuota::Billed => "billed",
            SendQuota::Reply { .. } => "reply",
            SendQuota::WelcomeMsg { .. } => "welcome_msg",
            SendQuota::SubQuota { .. } => "sub_quota",
            SendQuota::PurchaseQuota { .. } => "purchase_quota",
            SendQuota::RewardQuota { .. } => "reward_quota",
            SendQuota::Other { quota_type, .. } => quota_type,
        }
    }
}

/// What `POST /v3.0/oa/quota/message {"user_id"}` says about messaging one user (reference §4.6).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageQuota {
    /// The user's last interaction, epoch milliseconds (a string on the wire).
    pub last_interaction_ms: Option<i64>,
    /// The free CS reply allowance (`cs_reply`; numbers on the wire, unlike the send response).
    pub cs_reply: Option<Allowance>,
    /// The promotion allowance, when given.
    pub promotion: Option<PromotionQuota>,
}

/// Messages left out of an allowance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Allowance {
    /// Messages left.
    pub remain: Option<u64>,
    /// Size of the allowance.
    pub total: Option<u64>,
}

/// The `promotion` part of [`MessageQuota`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PromotionQuota {
    /// Left today.
    pub daily_remain: Option<u64>,
    /// Per day.
    pub daily_total: Option<u64>,
    /// Left this month.
    pub monthly_remain: Option<u64>,
    /// Per month.
    pub monthly_total: Option<u64>,
}

impl MessageQuota {
    pub(crate) fn from_json(d: &Value) -> Option<MessageQuota> {
        if !d.is_object() {
            return None;
        }
        let allowance = |v: &Value| Allowance {
            remain: u64_of(v.get("remain")),
            total: u64_of(v.get("total")),
        };
        Some(MessageQuota {
            last_interaction_ms: i64_of(d.get("last_interaction")),
            cs_reply: d.get("cs_reply").filter(|v| v.is_object()).map(allowance),
            promotion: d
                .get("promotion")
                .filter(|v| v.is_object())
                .map(|p| PromotionQuota {
                    daily_remain: u64_of(p.get("daily_remain")),
                    daily_total: u64_of(p.get("daily_total")),
                    monthly_remain: u64_of(p.get("monthly_remain")),
                    monthly_total: u64_of(p.get("monthly_total")),
                }),
        })
    }
}

/// A user's profile from `/v3.0/oa/user/detail`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserProfile {
    /// OA-scoped user id.
    pub user_id: String,
    /// App-scoped id of the same user, when given.
    pub user_id_by_app: Option<String>,
    /// Name shown in Zalo.
    pub display_name: String,
    /// `avatars["240"]`, else `avatar`.
    pub avatar: Option<String>,
    /// Whether the user follows the OA.
    pub is_follower: Option<bool>,
    /// `dd/MM/yyyy`, as Zalo gives it.
    pub last_interaction_date: Option<String>,
    /// Zalo flags minors (under 18) as sensitive.
    pub is_sensitive: Option<bool>,
    /// What the user shared through a request-info template (`shared_info`), when any.
    pub shared_info: Option<SharedInfo>,
    /// The OA's tags on the user (`tags_and_notes_info.tag_names`); None when the answer has no
    /// such list.
    #[serde(default)]
    pub tag_names: Option<Vec<String>>,
}

/// Details a user chose to share with the OA. Every field is text, also where Zalo sends a number
/// (the phone).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SharedInfo {
    /// Name given.
    pub name: Option<String>,
    /// Phone, e.g. `84385953xxx` (a JSON number in some answers).
    pub phone: Option<String>,
    /// Street address.
    pub address: Option<String>,
    /// Ward.
    pub ward: Option<String>,
    /// District.
    pub district: Option<String>,
    /// City or province.
    pub city: Option<String>,
    /// Date of birth, `dd/MM/yyyy`.
    pub dob: Option<String>,
}

impl SharedInfo {
    /// Reads both the flat shape (`address`, `city`, `district`, `ward`) and the newer one
    /// (`user_dob`, `full_address{user_city, user_ward, user_address}`). None when nothing is set.
    pub fn from_json(v: &Value) -> Option<SharedInfo> {
        if !v.is_object() {
            return None;
        }
        let s = |p: &str| str_of(v.pointer(p)).filter(|x| !x.trim().is_empty());
        let info = SharedInfo {
            name: s("/name"),
            phone: s("/phone"),
            address: s("/address").or_else(|| s("/full_address/user_address")),
            ward: s("/ward").or_else(|| s("/full_address/user_ward")),
            district: s("/district").or_else(|| s("/full_address/user_district")),
            city: s("/city").or_else(|| s("/full_address/user_city")),
            dob: s("/user_dob").or_else(|| s("/dob")),
        };
        (info != SharedInfo::default()).then_some(info)
    }
}

/// The OA's identity from `/v2.0/oa/getoa`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OaInfo {
    /// From `oa_id` or `oaid` (the documentation uses both).
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

/// One message of `/v2.0/oa/listrecentchat` or `/v2.0/oa/conversation`; turn it into the event its
/// webhook would have been with [`crate::webhook::event_from_history`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryMessage {
    /// Zalo message id.
    pub message_id: String,
    /// `src == 1`: the user sent it; otherwise (`src == 0`) the OA did.
    pub from_user: bool,
    /// Epoch milliseconds (`time`, a number on the wire).
    pub time_ms: i64,
    /// `type`: text, photo, GIF, sticker, voice, video, file, link, links, location, ...
    pub kind: String,
    /// `message`, for text (and captions).
    pub text: Option<String>,
    /// `url`, for media and links.
    pub url: Option<String>,
    /// `thumb`, for media and links.
    pub thumbnail: Option<String>,
    /// `description`, for links.
    pub description: Option<String>,
    /// `location` as (latitude, longitude), when Zalo gave coordinates.
    pub coordinates: Option<(String, String)>,
    /// Sender id.
    pub from_id: String,
    /// Recipient id.
    pub to_id: String,
    /// `from_display_name`, when given.
    pub from_display_name: Option<String>,
    /// `from_avatar`, when given.
    pub from_avatar: Option<String>,
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

/// Reads a field as a non-negative integer, accepting numeric strings.
pub(crate) fn u64_of(v: Option<&Value>) -> Option<u64> {
    i64_of(v).and_then(|n| u64::try_from(n).ok())
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
        let nonempty = |k: &str| str_of(d.get(k)).filter(|s| !s.is_empty());
        let avatar = str_of(d.pointer("/avatars/240"))
            .filter(|s| !s.is_empty())
            .or_else(|| nonempty("avatar"));
        Some(UserProfile {
            user_id: nonempty("user_id")?,
            user_id_by_app: nonempty("user_id_by_app"),
            display_name: str_of(d.get("display_name")).unwrap_or_default(),
            avatar,
            is_follower: bool_of(d.get("user_is_follower")),
            last_interaction_date: nonempty("user_last_interaction_date"),
            is_sensitive: bool_of(d.get("is_sensitive")),
            shared_info: d.get("shared_info").and_then(SharedInfo::from_json),
            tag_names: d
                .pointer("/tags_and_notes_info/tag_names")
                .and_then(Value::as_array)
                .map(|names| {
                    names
                        .iter()
                        .filter_map(|n| str_of(Some(n)))
                        .filter(|n| !n.is_empty())
                        .collect()
                }),
        })
    }
}

impl OaInfo {
    pub(crate) fn from_json(d: &Value) -> Option<OaInfo> {
        Some(OaInfo {
            oa_id: str_of(d.get("oa_id"))
                .or_else(|| str_of(d.get("oaid")))
                .filter(|s| !s.is_empty())?,
            name: str_of(d.get("name")).unwrap_or_default(),
            avatar: str_of(d.get("avatar")).filter(|s| !s.is_empty()),
            is_verified: bool_of(d.get("is_verified")),
            num_follower: u64_of(d.get("num_follower")),
        })
    }
}

impl HistoryMessage {
    /// Reads one history item; None without a `message_id`.
    pub(crate) fn from_json(d: &Value) -> Option<HistoryMessage> {
        let nonempty = |k: &str| str_of(d.get(k)).filter(|s| !s.is_empty());
        Some(HistoryMessage {
            message_id: nonempty("message_id")?,
            from_user: i64_of(d.get("src")) == Some(1),
            time_ms: i64_of(d.get("time")).unwrap_or_default(),
            kind: str_of(d.get("type")).unwrap_or_default(),
            text: str_of(d.get("message")),
            url: nonempty("url"),
            thumbnail: nonempty("thumb").or_else(|| nonempty("thumbnail")),
            description: nonempty("description"),
            coordinates: d.get("location").and_then(coordinates),
            from_id: str_of(d.get("from_id")).unwrap_or_default(),
            to_id: str_of(d.get("to_id")).unwrap_or_default(),
            from_display_name: nonempty("from_display_name"),
            from_avatar: nonempty("from_avatar"),
        })
    }
}

/// (latitude, longitude) from `{latitude, longitude}` (optionally under `coordinates`), or from a
/// string holding that JSON.
fn coordinates(v: &Value) -> Option<(String, String)> {
    if let Value::String(s) = v {
        return serde_json::from_str::<Value>(s)
            .ok()
            .filter(Value::is_object)
            .and_then(|inner| coordinates(&inner));
    }
    let c = v.get("coordinates").unwrap_or(v);
    let lat = str_of(c.get("latitude")).filter(|s| !s.is_empty())?;
    let lon = str_of(c.get("longitude")).filter(|s| !s.is_empty())?;
    Some((lat, lon))
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
        let o = OaInfo::from_json(&json!({"oa_id": 4462152339089565647_u64, "name": "n"})).unwrap();
        assert_eq!(o.oa_id, "4462152339089565647");
        assert!(OaInfo::from_json(&json!({"name": "n"})).is_none());
        let h = HistoryMessage::from_json(&json!({"src": 1, "time": 5, "type": "text", "message": "m", "message_id": "x", "from_id": 1, "to_id": "2"})).unwrap();
        assert!(h.from_user);
        assert_eq!(h.from_id, "1");
        let h = HistoryMessage::from_json(
            &json!({"src": 0, "time": 5, "type": "location", "message_id": "x",
            "location": "{\"latitude\":\"10.7\",\"longitude\":106.6}"}),
        )
        .unwrap();
        assert!(!h.from_user);
        assert_eq!(h.coordinates, Some(("10.7".into(), "106.6".into())));
        assert!(HistoryMessage::from_json(&json!({"src": 1, "message_id": ""})).is_none());
    }

    #[test]
    fn shared_info_reads_numbers_and_both_shapes() {
        let p = UserProfile::from_json(&json!({"user_id": "1", "shared_info": {"phone": 84868602410_u64, "name": "A", "user_dob": "25/12/1999"}})).unwrap();
        let info = p.shared_info.unwrap();
        assert_eq!(info.phone.as_deref(), Some("84868602410"));
        assert_eq!(info.dob.as_deref(), Some("25/12/1999"));
        let info = SharedInfo::from_json(
            &json!({"full_address": {"user_city": "Huế", "user_address": "1 Lê Lợi"}}),
        )
        .unwrap();
        assert_eq!(
            (info.city.as_deref(), info.address.as_deref()),
            (Some("Huế"), Some("1 Lê Lợi"))
        );
        assert_eq!(SharedInfo::from_json(&json!({"phone": ""})), None);
    }

    #[test]
    fn message_quota_reads_numbers_and_strings() {
        let q = MessageQuota::from_json(&json!({"last_interaction": "1690184100000",
            "cs_reply": {"remain": 6, "total": "8"}}))
        .unwrap();
        assert_eq!(q.last_interaction_ms, Some(1_690_184_100_000));
        assert_eq!(
            q.cs_reply,
            Some(Allowance {
                remain: Some(6),
                total: Some(8)
            })
        );
        assert_eq!(q.promotion, None);
        assert!(MessageQuota::from_json(&json!([])).is_none());
    }

    #[test]
    fn send_quota_variants() {
        let q = |v: Value| SendQuota::from_json(Some(&v));
        assert_eq!(SendQuota::from_json(None), SendQuota::Billed);
        assert_eq!(SendQuota::from_json(Some(&Value::Null)), SendQuota::Billed);
        assert_eq!(
            q(json!({"quota_type": "reply", "remain": "7", "total": "8"})),
            SendQuota::Reply {
                remain: Some(7),
                total: Some(8)
            }
        );
        assert_eq!(
            q(json!({"quota_type": "reply"})),
            SendQuota::Reply {
                remain: None,
                total: None
            }
        );
        assert_eq!(
            q(json!({"quota_type": "welcome_msg", "remain": 2, "total": 3})),
            SendQuota::WelcomeMsg {
                remain: Some(2),
                total: Some(3)
            }
        );
        assert_eq!(
            q(json!({"quota_type": "reward_quota", "owner_type": "App", "owner_id": 5})),
            SendQuota::RewardQuota {
                owner_type: Some("App".into()),
                owner_id: Some("5".into())
            }
        );
        let other = q(json!({"quota_type": "new_kind", "x": 1}));
        assert_eq!(other.kind(), "new_kind");
        assert!(matches!(other, SendQuota::Other { raw, .. } if raw["x"] == 1));
        assert_eq!(q(json!("odd")).kind(), "");
        assert!(SendQuota::Billed.is_billed());
    }
}
