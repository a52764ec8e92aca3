//! Message parts as JSON: small builders for what simulated agents and bots send, and the check the
//! simulated API applies to parts it is given.
//!
//! A part is an object with exactly one key naming its kind (reference §5.3). The builders return
//! `serde_json::Value` in the wire form; nothing here knows the client's types. `check_part` refuses
//! what Freshchat refuses with a 400 `INVALID_VALUE` naming the problem: more or fewer than one key,
//! an unknown kind, a missing field, an image without a usable `url` (`IMAGE_EMPTY_CONTENT`, as
//! captured from production), a file with neither a `url` nor the hash of an upload.

use serde_json::{json, Value};

use super::wire::ApiErr;

/// Part kinds the simulated API accepts (reference §5.3).
pub(crate) const KNOWN_KINDS: &[&str] = &[
    "text",
    "email",
    "image",
    "file",
    "video",
    "url_button",
    "quick_reply_button",
    "callback",
    "reference",
    "collection",
    "template_content",
];

/// Template kinds of `template_content`.
const TEMPLATE_TYPES: &[&str] = &["carousel", "carousel_card_default", "quick_reply_dropdown"];

/// How deep collections and templates may nest.
const MAX_DEPTH: usize = 6;

/// `{"text": {"content": …}}`.
pub fn text(content: impl Into<String>) -> Value {
    json!({"text": {"content": content.into()}})
}

/// `{"image": {"url": …}}`.
pub fn image(url: impl Into<String>) -> Value {
    json!({"image": {"url": url.into()}})
}

/// `{"file": {"name", "url", "file_size_in_bytes", "content_type"}}`; `url: None` leaves it out.
pub fn file(name: &str, url: Option<&str>, file_size_in_bytes: u64, content_type: &str) -> Value {
    let mut inner = serde_json::Map::new();
    inner.insert("name".into(), json!(name));
    if let Some(url) = url {
        inner.insert("url".into(), json!(url));
    }
    inner.insert("file_size_in_bytes".into(), json!(file_size_in_bytes));
    inner.insert("content_type".into(), json!(content_type));
    json!({ "file": inner })
}

/// `{"video": {"url", "content_type"}}`.
pub fn video(url: &str, content_type: &str) -> Value {
    json!({"video": {"url": url, "content_type": content_type}})
}

/// `{"url_button": {"url", "label", "target": "_blank"}}`.
pub fn url_button(url: &str, label: &str) -> Value {
    json!({"url_button": {"url": url, "label": label, "target": "_blank"}})
}

/// `{"quick_reply_button": {"label"}}`.
pub fn quick_reply_button(label: &str) -> Value {
    json!({"quick_reply_button": {"label": label}})
}

/// `{"callback": {"label", "payload"}}`, e.g. a carousel card's select button.
pub fn callback(label: &str, payload: &str) -> Value {
    json!({"callback": {"label": label, "payload": payload}})
}

/// `{"collection": {"sub_parts": […]}}`.
pub fn collection(sub_parts: Vec<Value>) -> Value {
    json!({"collection": {"sub_parts": sub_parts}})
}

/// Quick replies as Freshchat sends them in `reply_parts`: one collection of `quick_reply_button`s.
pub fn quick_replies(labels: &[&str]) -> Value {
    collection(labels.iter().map(|l| quick_reply_button(l)).collect())
}

/// A dropdown (`template_content` of type `quick_reply_dropdown`, one `options` section) from
/// `(label, payload)` pairs; sent in `reply_parts`.
pub fn dropdown(options: &[(&str, &str)]) -> Value {
    let parts: Vec<Value> = options
        .iter()
        .map(|(label, payload)| {
            json!({"quick_reply_button": {"label": label, "custom_reply_text": label, "payload": payload}})
        })
        .collect();
    json!({"template_content": {"type": "quick_reply_dropdown",
        "sections": [{"name": "options", "parts": parts}]}})
}

/// One card of a carousel.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Card {
    /// Card title.
    pub title: String,
    /// Card description.
    pub description: String,
    /// Hero image URL, when any.
    pub image_url: Option<String>,
    /// Select button: `(label, payload)`.
    pub select: Option<(String, String)>,
    /// View button: `(url, label)`.
    pub view: Option<(String, String)>,
}

/// A carousel (`template_content` of type `carousel` whose cards are `carousel_card_default`
/// templates with `hero_image`, `title`, `description`, `callback` and `view` sections); sent in
/// `reply_parts`.
pub fn carousel(cards: &[Card]) -> Value {
    let cards: Vec<Value> = cards
        .iter()
        .map(|c| {
            let mut sections = Vec::new();
            if let Some(url) = &c.image_url {
                sections.push(json!({"name": "hero_image", "parts": [image(url.clone())]}));
            }
            sections.push(json!({"name": "title", "parts": [text(c.title.clone())]}));
            sections.push(json!({"name": "description", "parts": [text(c.description.clone())]}));
            if let Some((label, payload)) = &c.select {
                sections.push(json!({"name": "callback", "parts": [callback(label, payload)]}));
            }
            if let Some((url, label)) = &c.view {
                sections.push(json!({"name": "view", "parts": [url_button(url, label)]}));
            }
            json!({"template_content": {"type": "carousel_card_default", "sections": sections}})
        })
        .collect();
    json!({"template_content": {"type": "carousel", "sections": [{"name": "cards", "parts": cards}]}})
}

/// A part of a kind the client may not know: `{kind: inner}`.
pub fn unknown(kind: &str, inner: Value) -> Value {
    let mut m = serde_json::Map::new();
    m.insert(kind.to_owned(), inner);
    Value::Object(m)
}

/// Checks one part given to the API. `known_hash` says whether a file hash names an upload.
pub(crate) fn check_part(part: &Value, known_hash: &dyn Fn(&str) -> bool) -> Result<(), ApiErr> {
    check(part, known_hash, 0)
}

fn check(part: &Value, known_hash: &dyn Fn(&str) -> bool, depth: usize) -> Result<(), ApiErr> {
    if depth > MAX_DEPTH {
        return Err(ApiErr::invalid("message parts nest too deeply"));
    }
    let Some(obj) = part.as_object() else {
        return Err(ApiErr::invalid("a message part must be an object"));
    };
    if obj.len() != 1 {
        return Err(ApiErr::invalid("Exactly one part should be present"));
    }
    let Some((kind, inner)) = obj.iter().next() else {
        return Err(ApiErr::invalid("Exactly one part should be present"));
    };
    if !KNOWN_KINDS.contains(&kind.as_str()) {
        return Err(ApiErr::invalid(format!("unknown message part {kind:?}")));
    }
    let Some(o) = inner.as_object() else {
        return Err(ApiErr::invalid(format!("part {kind:?} must be an object")));
    };
    let s = |k: &str| o.get(k).and_then(Value::as_str).filter(|v| !v.is_empty());
    let need = |k: &str| {
        s(k).map(|_| ())
            .ok_or_else(|| ApiErr::invalid(format!("{kind}.{k} is required")))
    };
    match kind.as_str() {
        "text" | "email" => match o.get("content") {
            Some(Value::String(_)) => Ok(()),
            _ => Err(ApiErr::invalid(format!("{kind}.content is required"))),
        },
        "image" => match s("url") {
            Some(url) if is_http_url(url) => Ok(()),
            _ => Err(ApiErr::invalid("IMAGE_EMPTY_CONTENT")),
        },
        "video" => need("url"),
        "file" => {
            let hash = s("fileHash").or_else(|| s("file_hash"));
            match (s("url"), hash) {
                (Some(url), _) if is_http_url(url) => Ok(()),
                (None, Some(h)) if known_hash(h) => Ok(()),
                _ => Err(ApiErr::invalid("FILE_EMPTY_CONTENT")),
            }
        }
        "url_button" => need("url").and_then(|()| need("label")),
        "quick_reply_button" | "reference" => need("label"),
        "callback" => need("label").and_then(|()| need("payload")),
        "collection" => match o.get("sub_parts").and_then(Value::as_array) {
            Some(items) if !items.is_empty() => items
                .iter()
                .try_for_each(|p| check(p, known_hash, depth + 1)),
            _ => Err(ApiErr::invalid(
                "collection.sub_parts must be a non-empty array",
            )),
        },
        "template_content" => {
            match s("type") {
                Some(t) if TEMPLATE_TYPES.contains(&t) => {}
                _ => {
                    return Err(ApiErr::invalid(format!(
                        "template_content.type must be one of {}",
                        TEMPLATE_TYPES.join(", ")
                    )))
                }
            }
            let Some(sections) = o.get("sections").and_then(Value::as_array) else {
                return Err(ApiErr::invalid(
                    "template_content.sections must be an array",
                ));
            };
            for section in sections {
                let parts = section.get("parts").and_then(Value::as_array);
                match (section.get("name").and_then(Value::as_str), parts) {
                    (Some(_), Some(parts)) => parts
                        .iter()
                        .try_for_each(|p| check(p, known_hash, depth + 1))?,
                    _ => {
                        return Err(ApiErr::invalid(
                            "each template section needs a name and parts",
                        ))
                    }
                }
            }
            Ok(())
        }
        _ => Err(ApiErr::invalid(format!("unknown message part {kind:?}"))),
    }
}

fn is_http_url(s: &str) -> bool {
    url::Url::parse(s).is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.has_host())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn ok(v: &Value) -> Result<(), ApiErr> {
        check_part(v, &|h| h == "known")
    }

    #[test]
    fn builders_pass_the_check() {
        let card = Card {
            title: "T".into(),
            description: "D".into(),
            image_url: Some("https://cdn.example/x.png".into()),
            select: Some(("Pick".into(), "p1".into())),
            view: Some(("https://example.com".into(), "View".into())),
        };
        for p in [
            text("hi"),
            image("https://cdn.example/a.png"),
            file(
                "a.pdf",
                Some("https://x.example/a.pdf"),
                3,
                "application/pdf",
            ),
            video("https://x.example/v.mp4", "video/mp4"),
            url_button("https://example.com", "Go"),
            quick_replies(&["Yes", "No"]),
            dropdown(&[("Google", "123_google")]),
            carousel(&[card]),
        ] {
            ok(&p).unwrap_or_else(|e| panic!("{p}: {e:?}"));
        }
    }

    #[test]
    fn refusals_name_the_problem() {
        let two = json!({"text": {"content": "a"}, "image": {"url": "https://x/y"}});
        assert_eq!(
            ok(&two).unwrap_err().message,
            "Exactly one part should be present"
        );
        assert_eq!(
            ok(&json!({"image": {"url": ""}})).unwrap_err().message,
            "IMAGE_EMPTY_CONTENT"
        );
        assert_eq!(
            ok(&json!({"image": {"fileHash": "abc"}}))
                .unwrap_err()
                .message,
            "IMAGE_EMPTY_CONTENT"
        );
        assert!(ok(&json!({"file": {"name": "a", "fileHash": "known"}})).is_ok());
        assert!(ok(&json!({"file": {"name": "a", "fileHash": "other"}})).is_err());
        assert!(ok(&unknown("sticker", json!({"id": 1}))).is_err());
        assert!(ok(&json!({"collection": {"sub_parts": []}})).is_err());
        assert!(ok(&json!({"template_content": {"type": "list", "sections": []}})).is_err());
        assert!(ok(&json!("text")).is_err());
        assert_eq!(ok(&json!({"text": {"content": 5}})).unwrap_err().code, 400);
    }
}
