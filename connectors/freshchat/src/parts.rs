//! Message parts (`message_parts`, `reply_parts`, template sections) and the upload answers that
//! become parts.
//!
//! On the wire a part is an object with exactly one key naming its kind. Reading never fails: a part
//! of a kind this crate does not know, or a known kind that cannot be read (an `image` without `url`,
//! a part with two keys, `null`), becomes [`MessagePart::Unknown`] holding the JSON as sent, so a
//! caller can still name it. The legacy 2018 form `{"part_type": "text", "properties": {"text"}}` is
//! read as a text part. Writing leaves out absent fields.

use serde::de::Deserializer;
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::lenient;

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
    /// `callback`.
    pub const CALLBACK: &str = "callback";
    /// `collection`.
    pub const COLLECTION: &str = "collection";
    /// `template_content`.
    pub const TEMPLATE_CONTENT: &str = "template_content";
}

/// Template types named in the reference (§5.3).
pub mod template_types {
    /// A row of cards.
    pub const CAROUSEL: &str = "carousel";
    /// One card of a carousel (sections `hero_image`, `title`, `description`, `callback`, `view`).
    pub const CAROUSEL_CARD: &str = "carousel_card_default";
    /// A dropdown of quick replies (section `options`).
    pub const QUICK_REPLY_DROPDOWN: &str = "quick_reply_dropdown";
}

/// A `file` part: a file attached to a message, or to be posted.
///
/// Webhooks may carry only `download_url`, or neither URL (then the message must be re-read through
/// the API). A file posted after `POST /v2/files/upload` carries what the upload answered
/// ([`FileUpload::to_part`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FilePart {
    /// File name.
    pub name: Option<String>,
    /// URL of the file (on the API host it needs the API key).
    pub url: Option<String>,
    /// A separate download URL, when Freshchat gives one.
    pub download_url: Option<String>,
    /// Size in bytes.
    pub file_size_in_bytes: Option<u64>,
    /// MIME type.
    pub content_type: Option<String>,
    /// Extension, e.g. `pdf`.
    pub file_extension: Option<String>,
    /// Freshchat's hash of an uploaded file (`fileHash` on the wire).
    pub file_hash: Option<String>,
    /// Where the file lives: `FRESHCHAT` or `FRESHBOTS` (`fileSource` on the wire).
    pub file_source: Option<String>,
    /// Freshchat's scan verdict, e.g. `safe`.
    pub file_security_status: Option<String>,
}

impl FilePart {
    /// `url`, else `download_url`: where the file can be fetched, if anywhere.
    pub fn source_url(&self) -> Option<&str> {
        self.url.as_deref().or(self.download_url.as_deref())
    }
}

/// One section of a template: a name (`options`, `title`, `hero_image`, ...) and its parts.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TemplateSection {
    /// Section name.
    pub name: String,
    /// The parts (quick replies, texts, images, buttons, nested templates).
    pub parts: Vec<MessagePart>,
}

/// A `template_content` part: a carousel, a carousel card or a quick-reply dropdown.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Template {
    /// `carousel`, `carousel_card_default`, `quick_reply_dropdown` or another type (see
    /// [`template_types`]).
    pub template_type: String,
    /// The sections in order.
    pub sections: Vec<TemplateSection>,
}

impl Template {
    /// The parts of the first section called `name`.
    pub fn section(&self, name: &str) -> Option<&[MessagePart]> {
        self.sections
            .iter()
            .find(|s| s.name.eq_ignore_ascii_case(name))
            .map(|s| s.parts.as_slice())
    }
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
    /// `file{name,url,download_url,file_size_in_bytes,content_type,...}`.
    File(FilePart),
    /// `video{url,content_type}` (audio is sent this way too).
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
    /// `callback{label,payload}`, e.g. a carousel card's select button.
    Callback {
        /// Label.
        label: String,
        /// Payload.
        payload: Option<String>,
    },
    /// `collection{sub_parts}`.
    Collection {
        /// Nested parts.
        sub_parts: Vec<MessagePart>,
    },
    /// `template_content{type,sections}`.
    TemplateContent(Template),
    /// Any other kind, or a known kind that could not be read: the whole part object as sent.
    Unknown(Value),
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
            Self::File(_) => part_keys::FILE,
            Self::Video { .. } => part_keys::VIDEO,
            Self::UrlButton { .. } => part_keys::URL_BUTTON,
            Self::QuickReplyButton { .. } => part_keys::QUICK_REPLY_BUTTON,
            Self::Callback { .. } => part_keys::CALLBACK,
            Self::Collection { .. } => part_keys::COLLECTION,
            Self::TemplateContent(_) => part_keys::TEMPLATE_CONTENT,
            Self::Unknown(v) => match v.as_object() {
                Some(o) if o.len() == 1 => o.keys().next().map_or("", |k| k.as_str()),
                _ => "",
            },
        }
    }

    /// Reads one part from JSON; never fails (unreadable parts become `Unknown`).
    pub fn from_json(v: Value) -> Self {
        Self::read(&v, 0).unwrap_or(Self::Unknown(v))
    }

    fn read(v: &Value, depth: usize) -> Option<Self> {
        // Nesting deeper than any real template is refused rather than followed (stack safety).
        if depth > 16 {
            return None;
        }
        let obj = v.as_object()?;
        if let Some(legacy) = read_legacy(obj) {
            return Some(legacy);
        }
        if obj.len() != 1 {
            return None;
        }
        let (key, inner) = obj.iter().next()?;
        let o = inner.as_object()?;
        let s = |k: &str| o.get(k).and_then(lenient::value_to_string);
        let parts = |v: Option<&Value>| -> Option<Vec<MessagePart>> {
            match v {
                Some(Value::Array(items)) => Some(
                    items
                        .iter()
                        .map(|i| Self::read(i, depth + 1).unwrap_or(Self::Unknown(i.clone())))
                        .collect(),
                ),
                _ => None,
            }
        };
        match key.as_str() {
            part_keys::TEXT => s("content").map(|content| Self::Text { content }),
            part_keys::IMAGE => s("url").map(|url| Self::Image { url }),
            part_keys::FILE => Some(Self::File(FilePart {
                name: s("name"),
                url: s("url").filter(|u| !u.is_empty()),
                download_url: s("download_url").filter(|u| !u.is_empty()),
                file_size_in_bytes: o.get("file_size_in_bytes").and_then(lenient::u64_of),
                content_type: s("content_type"),
                file_extension: s("file_extension"),
                file_hash: s("fileHash").or_else(|| s("file_hash")),
                file_source: s("fileSource").or_else(|| s("file_source")),
                file_security_status: s("file_security_status"),
            })),
            part_keys::VIDEO => s("url").map(|url| Self::Video {
                url,
                content_type: s("content_type"),
            }),
            part_keys::URL_BUTTON => Some(Self::UrlButton {
                url: s("url")?,
                label: s("label")?,
                target: s("target"),
            }),
            part_keys::QUICK_REPLY_BUTTON => s("label").map(|label| Self::QuickReplyButton {
                label,
                custom_reply_text: s("custom_reply_text"),
                payload: s("payload"),
            }),
            part_keys::CALLBACK => s("label").map(|label| Self::Callback {
                label,
                payload: s("payload"),
            }),
            part_keys::COLLECTION => {
                parts(o.get("sub_parts")).map(|sub_parts| Self::Collection { sub_parts })
            }
            part_keys::TEMPLATE_CONTENT => {
                let sections = match o.get("sections") {
                    Some(Value::Array(items)) => items
                        .iter()
                        .filter_map(|sec| {
                            let so = sec.as_object()?;
                            Some(TemplateSection {
                                name: so
                                    .get("name")
                                    .and_then(lenient::value_to_string)
                                    .unwrap_or_default(),
                                parts: parts(so.get("parts")).unwrap_or_default(),
                            })
                        })
                        .collect(),
                    _ => Vec::new(),
                };
                Some(Self::TemplateContent(Template {
                    template_type: s("type").unwrap_or_default(),
                    sections,
                }))
            }
            _ => None,
        }
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
            Self::File(f) => {
                put("name", opt_v(&f.name));
                put("url", opt_v(&f.url));
                put("download_url", opt_v(&f.download_url));
                put("file_size_in_bytes", f.file_size_in_bytes.map(Value::from));
                put("content_type", opt_v(&f.content_type));
                put("file_extension", opt_v(&f.file_extension));
                put("fileHash", opt_v(&f.file_hash));
                put("fileSource", opt_v(&f.file_source));
                put("file_security_status", opt_v(&f.file_security_status));
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
            Self::Callback { label, payload } => {
                put("label", str_v(label));
                put("payload", opt_v(payload));
            }
            Self::Collection { sub_parts } => put(
                "sub_parts",
                Some(Value::Array(sub_parts.iter().map(Self::to_json).collect())),
            ),
            Self::TemplateContent(t) => {
                put("type", str_v(&t.template_type));
                let sections = t
                    .sections
                    .iter()
                    .map(|s| {
                        let mut m = Map::new();
                        m.insert("name".into(), Value::String(s.name.clone()));
                        m.insert(
                            "parts".into(),
                            Value::Array(s.parts.iter().map(Self::to_json).collect()),
                        );
                        Value::Object(m)
                    })
                    .collect();
                put("sections", Some(Value::Array(sections)));
            }
            Self::Unknown(v) => return v.clone(),
        }
        let mut m = Map::new();
        m.insert(self.kind().to_owned(), Value::Object(inner));
        Value::Object(m)
    }
}

/// The 2018 form: `{"part_type": "text", "properties": {"text": "..."}}`.
fn read_legacy(obj: &Map<String, Value>) -> Option<MessagePart> {
    if obj.get("part_type")?.as_str()? != part_keys::TEXT {
        return None;
    }
    let text = obj.get("properties")?.get("text")?.as_str()?;
    Some(MessagePart::text(text))
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

impl ImageUpload {
    /// The `image` part that shows this upload.
    pub fn to_part(&self) -> MessagePart {
        MessagePart::image(self.url.clone())
    }
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

/// `fileSource` of a file uploaded through the API.
pub const FILE_SOURCE_FRESHCHAT: &str = "FRESHCHAT";

impl FileUpload {
    /// The complete `file` part that posts this upload: what Freshchat answered (hash, size, type,
    /// extension, scan verdict, URL when given), with `name` and `content_type` as fallbacks for what
    /// the answer left out.
    pub fn to_part(&self, name: &str, content_type: &str) -> FilePart {
        FilePart {
            name: Some(self.file_name.clone().unwrap_or_else(|| name.to_owned())),
            url: self.url.clone(),
            download_url: None,
            file_size_in_bytes: self.file_size,
            content_type: Some(
                self.file_content_type
                    .clone()
                    .unwrap_or_else(|| content_type.to_owned()),
            ),
            file_extension: self.file_extension_type.clone().or_else(|| {
                name.rsplit_once('.')
                    .map(|(_, ext)| ext.to_ascii_lowercase())
                    .filter(|e| !e.is_empty())
            }),
            file_hash: self.file_hash.clone(),
            file_source: Some(FILE_SOURCE_FRESHCHAT.to_owned()),
            file_security_status: self.file_security_status.clone(),
        }
    }
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
            {"reference": {"label": "x"}},
            {"text": {"content": "a"}, "image": {"url": "b"}},
            {"text": 5},
            {"image": null},
            "string"
        ]);
        let parsed: Vec<MessagePart> = serde_json::from_value(parts.clone()).unwrap();
        assert_eq!(parsed[0], MessagePart::text("hi"));
        assert!(
            matches!(parsed[6], MessagePart::Collection { ref sub_parts } if sub_parts.len() == 1)
        );
        assert!(matches!(parsed[8], MessagePart::Callback { .. }));
        assert!(matches!(parsed[9], MessagePart::Unknown(_)));
        assert_eq!(parsed[9].kind(), "reference");
        assert!(matches!(parsed[10], MessagePart::Unknown(_)));
        assert_eq!(parsed[10].kind(), "");
        assert!(matches!(parsed[11], MessagePart::Unknown(_)));
        assert_eq!(parsed[12].kind(), "image");
        assert_eq!(serde_json::to_value(&parsed).unwrap(), parts);
    }

    #[test]
    fn file_parts_keep_every_field() {
        let v = json!({"file": {"name": "a.pdf", "download_url": "https://cdn/a.pdf", "fileHash": "h1",
            "fileSource": "FRESHBOTS", "file_extension": "pdf", "file_size_in_bytes": "12"}});
        let MessagePart::File(f) = MessagePart::from_json(v) else {
            panic!("not a file")
        };
        assert_eq!(f.url, None);
        assert_eq!(f.source_url(), Some("https://cdn/a.pdf"));
        assert_eq!(f.file_hash.as_deref(), Some("h1"));
        assert_eq!(f.file_size_in_bytes, Some(12));
        let none = MessagePart::from_json(json!({"file": {"name": "x.bin"}}));
        assert!(matches!(none, MessagePart::File(ref f) if f.source_url().is_none()));
    }

    #[test]
    fn templates_are_typed() {
        let v = json!({"template_content": {"type": "quick_reply_dropdown", "sections": [
            {"name": "options", "parts": [{"quick_reply_button": {"label": "Google", "payload": "1"}}]}]}});
        let MessagePart::TemplateContent(t) = MessagePart::from_json(v.clone()) else {
            panic!("not a template")
        };
        assert_eq!(t.template_type, template_types::QUICK_REPLY_DROPDOWN);
        assert_eq!(t.section("OPTIONS").map(<[MessagePart]>::len), Some(1));
        assert_eq!(MessagePart::TemplateContent(t).to_json(), v);
    }

    #[test]
    fn legacy_text_parts_are_read() {
        let v = json!({"properties": {"text": "USER"}, "part_type": "text"});
        assert_eq!(MessagePart::from_json(v), MessagePart::text("USER"));
        let v = json!({"properties": {"x": 1}, "part_type": "image"});
        assert!(matches!(MessagePart::from_json(v), MessagePart::Unknown(_)));
    }

    #[test]
    fn an_upload_becomes_a_complete_file_part() {
        let up: FileUpload = serde_json::from_value(json!({"file_name": "file1.pdf", "file_size": 100,
            "file_content_type": "application/pdf", "file_extension_type": "pdf", "file_hash": "123",
            "file_security_status": "safe"}))
        .unwrap();
        let part = up.to_part("local.pdf", "application/octet-stream");
        assert_eq!(part.name.as_deref(), Some("file1.pdf"));
        assert_eq!(part.file_hash.as_deref(), Some("123"));
        assert_eq!(part.file_size_in_bytes, Some(100));
        assert_eq!(part.content_type.as_deref(), Some("application/pdf"));
        assert_eq!(part.file_source.as_deref(), Some(FILE_SOURCE_FRESHCHAT));
        assert_eq!(part.file_security_status.as_deref(), Some("safe"));
        let json = MessagePart::File(part).to_json();
        assert_eq!(json["file"]["fileHash"], "123");
        let bare = FileUpload::default().to_part("Báo giá.DOCX", "application/msword");
        assert_eq!(bare.file_extension.as_deref(), Some("docx"));
        assert_eq!(bare.content_type.as_deref(), Some("application/msword"));
    }
}
