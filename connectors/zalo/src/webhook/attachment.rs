//! `message.attachments[]` of Zalo webhooks: `{"type": …, "payload": {…}}`.
//!
//! Reading never fails: a shape this crate does not know becomes [`Attachment::Other`] with the raw
//! payload. Numbers where strings are expected (file size, coordinates) are accepted; URLs are kept as
//! sent (the documentation's examples contain `&amp;`, which is not decoded: it is not guessed which
//! form Zalo really sends).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::types::{str_of, u64_of};

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
    /// A link (also used for business cards and the items of an OA list message, whose first item
    /// may have an empty `url`).
    Link {
        /// Target URL; may be empty for list items.
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
        /// Sticker id (hex or `"0"`).
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
        /// Size in bytes (a string on the wire).
        size: Option<u64>,
        /// MD5 checksum as Zalo sent it.
        checksum: Option<String>,
        /// Extension, e.g. `pdf`.
        file_type: Option<String>,
    },
    /// A template (zinstant) message the OA sent: `{zinstant_id, text, link_url, checksum}`.
    Template {
        /// E.g. `templateId=12056`.
        zinstant_id: String,
        /// The template's readable text.
        text: Option<String>,
        /// Where the rendered template can be seen.
        link_url: Option<String>,
        /// Checksum as Zalo sent it.
        checksum: Option<String>,
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
    /// The URL the attachment points at, if it has a non-empty one.
    pub fn url(&self) -> Option<&str> {
        let url = match self {
            Attachment::Image { url, .. }
            | Attachment::Gif { url, .. }
            | Attachment::Link { url, .. }
            | Attachment::Audio { url }
            | Attachment::Video { url, .. }
            | Attachment::File { url, .. } => Some(url.as_str()),
            Attachment::Sticker { url, .. } => url.as_deref(),
            Attachment::Template { link_url, .. } => link_url.as_deref(),
            Attachment::Location { .. } | Attachment::Other { .. } => None,
        };
        url.filter(|u| !u.is_empty())
    }

    /// Reads one entry; never fails.
    pub fn parse(v: &Value) -> Attachment {
        let kind = str_of(v.get("type")).unwrap_or_default();
        let p = v.get("payload").cloned().unwrap_or(Value::Null);
        let s = |k: &str| str_of(p.get(k)).filter(|x| !x.is_empty());
        if let Some(zinstant_id) = s("zinstant_id") {
            return Attachment::Template {
                zinstant_id,
                text: s("text"),
                link_url: s("link_url"),
                checksum: s("checksum"),
            };
        }
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
            ("link", url)
                if url.is_some()
                    || s("description").is_some()
                    || s("title").is_some()
                    || s("thumbnail").is_some() =>
            {
                Attachment::Link {
                    url: url.unwrap_or_default(),
                    title: s("title"),
                    description: s("description"),
                    thumbnail: s("thumbnail"),
                }
            }
            ("audio" | "voice", Some(url)) => Attachment::Audio { url },
            ("video", Some(url)) => Attachment::Video {
                url,
                thumbnail: s("thumbnail"),
                description: s("description"),
            },
            ("sticker", url) if p.is_object() => Attachment::Sticker { id: s("id"), url },
            ("file", Some(url)) => Attachment::File {
                url,
                name: s("name"),
                size: u64_of(p.get("size")),
                checksum: s("checksum"),
                file_type: s("type"),
            },
            ("location", _) => {
                let lat = str_of(p.pointer("/coordinates/latitude")).filter(|x| !x.is_empty());
                let lon = str_of(p.pointer("/coordinates/longitude")).filter(|x| !x.is_empty());
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

    /// Reads `message.attachments` of a body (empty when absent or not an array).
    pub(crate) fn all_of(v: &Value, pointer: &str) -> Vec<Attachment> {
        v.pointer(pointer)
            .and_then(Value::as_array)
            .map(|a| a.iter().map(Attachment::parse).collect())
            .unwrap_or_default()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn shapes() {
        let a = |v: Value| Attachment::parse(&v);
        assert_eq!(
            a(
                json!({"type": "file", "payload": {"url": "https://f", "name": "a.pdf", "size": "12", "checksum": "c", "type": "pdf"}})
            ),
            Attachment::File {
                url: "https://f".into(),
                name: Some("a.pdf".into()),
                size: Some(12),
                checksum: Some("c".into()),
                file_type: Some("pdf".into())
            }
        );
        assert_eq!(
            a(
                json!({"type": "location", "payload": {"coordinates": {"latitude": 10.7, "longitude": "106.6"}}})
            ),
            Attachment::Location {
                latitude: "10.7".into(),
                longitude: "106.6".into()
            }
        );
        assert_eq!(
            a(json!({"type": "sticker", "payload": {"id": "0", "url": "https://s?a=1&amp;b=2"}})),
            Attachment::Sticker {
                id: Some("0".into()),
                url: Some("https://s?a=1&amp;b=2".into())
            }
        );
        let list_head = a(
            json!({"type": "link", "payload": {"thumbnail": "https://t", "description": "Zalo", "url": ""}}),
        );
        assert!(
            matches!(&list_head, Attachment::Link { url, description: Some(d), .. } if url.is_empty() && d == "Zalo")
        );
        assert_eq!(list_head.url(), None);
        let t = a(
            json!({"type": "template", "payload": {"zinstant_id": "templateId=1", "text": "OK", "link_url": "https://z", "checksum": "c"}}),
        );
        assert!(matches!(&t, Attachment::Template { text: Some(x), .. } if x == "OK"));
        assert_eq!(t.url(), Some("https://z"));
        assert!(
            matches!(a(json!({"type": "weird", "payload": {"x": 1}})), Attachment::Other { kind, .. } if kind == "weird")
        );
        assert!(matches!(
            a(json!({"type": "image", "payload": {}})),
            Attachment::Other { .. }
        ));
        assert!(matches!(
            a(json!({"type": "link", "payload": {"url": ""}})),
            Attachment::Other { .. }
        ));
        assert!(matches!(a(json!("x")), Attachment::Other { .. }));
    }
}
