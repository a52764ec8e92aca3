//! Sending to an anonymous chat-widget visitor: `POST /v2.0/oa/message` with
//! `recipient {anonymous_id, conversation_id}` (reference §2.3). Zalo documents four shapes there:
//! text, an image by URL, a file by upload token and a sticker; anything else (an uploaded image's
//! `attachment_id`, a GIF, a list, a quote) is refused -201 like an unknown type. The recipient must
//! be a visitor who wrote, with their own conversation id (-201 `anonymous_id` otherwise). A sent
//! message is recorded (see [`super::ZaloSim::sent_to`], under the anonymous id), echoed as
//! `oa_send_anonymous_{text,image,file,sticker}` with the same `msg_id` before the answer goes out,
//! and answered `{message_id, anonymous_id, conversation_id}` as in the corpus. No quota applies.

use serde_json::{json, Value};

use super::events::{self, AnonMsg, Event};
use super::state::{AssetKind, St};
use super::wire::{self, ApiError};
use super::{SentRecord, ZaloSim};

/// A validated message to a visitor: the echo's name, text and attachments.
struct ToVisitor {
    event_name: &'static str,
    text: Option<String>,
    attachments: Vec<Value>,
}

fn text_of(msg: &Value) -> Result<Option<String>, ApiError> {
    match msg.get("text") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(ApiError::invalid("text")),
    }
}

fn unsupported() -> ApiError {
    ApiError::new(wire::E_TYPE, wire::MSG_TYPE)
}

impl ZaloSim {
    /// Validates `message` for a visitor, as the reference documents the anonymous send.
    fn to_visitor(&self, st: &mut St, msg: &Value, now: i64) -> Result<ToVisitor, ApiError> {
        let text = text_of(msg)?;
        if text
            .as_deref()
            .is_some_and(|t| wire::char_count(t) > wire::TEXT_LIMIT)
        {
            return Err(ApiError::limit());
        }
        if msg.get("quote_message_id").is_some() {
            return Err(unsupported());
        }
        let Some(att) = msg.get("attachment").filter(|a| !a.is_null()) else {
            let t = text.filter(|t| !t.trim().is_empty());
            return Ok(ToVisitor {
                event_name: "oa_send_anonymous_text",
                text: Some(t.ok_or_else(|| ApiError::invalid("text"))?),
                attachments: vec![],
            });
        };
        let payload = att
            .get("payload")
            .ok_or_else(|| ApiError::invalid("payload"))?;
        match att.get("type").and_then(Value::as_str) {
            Some("file") => {
                let token = wire::id_field(payload, "token")?;
                let a = st
                    .assets
                    .get(&token)
                    .filter(|a| a.kind == AssetKind::File)
                    .cloned()
                    .ok_or_else(|| ApiError::invalid("token"))?;
                if now - a.created_ms > wire::ASSET_TTL_MS {
                    return Err(ApiError::new(wire::E_ASSET_EXPIRED, "token was expired"));
                }
                let url = self.media_url(&token);
                let att = events::att_file(
                    &url,
                    &a.filename,
                    a.bytes.len(),
                    &wire::derived_hex(&format!("{}{}", a.filename, a.bytes.len())),
                    &wire::extension(&a.filename),
                );
                Ok(ToVisitor {
                    event_name: "oa_send_anonymous_file",
                    text,
                    attachments: vec![att],
                })
            }
            Some("template")
                if payload.get("template_type").and_then(Value::as_str) == Some("media") =>
            {
                let el = match payload.get("elements").and_then(Value::as_array) {
                    Some(els) if els.len() == 1 => &els[0],
                    _ => return Err(ApiError::invalid("elements")),
                };
                let field = |f: &str| el.get(f).and_then(Value::as_str).filter(|s| !s.is_empty());
                match el.get("media_type").and_then(Value::as_str) {
                    // By URL only: an upload's attachment_id is for followers' messages.
                    Some("image") => match (field("url"), field("attachment_id")) {
                        (Some(u), None)
                            if u.starts_with("http://") || u.starts_with("https://") =>
                        {
                            Ok(ToVisitor {
                                event_name: "oa_send_anonymous_image",
                                text,
                                attachments: vec![events::att_picture("image", u)],
                            })
                        }
                        (None, Some(_)) => Err(unsupported()),
                        _ => Err(ApiError::invalid("url")),
                    },
                    Some("sticker") => {
                        let id = field("attachment_id")
                            .ok_or_else(|| ApiError::invalid("attachment_id"))?;
                        let url = self.sticker_url(st, id, now);
                        Ok(ToVisitor {
                            event_name: "oa_send_anonymous_sticker",
                            text: None,
                            attachments: vec![events::att_sticker(&url, id)],
                        })
                    }
                    _ => Err(unsupported()),
                }
            }
            _ => Err(unsupported()),
        }
    }

    /// The anonymous branch of `POST /v2.0/oa/message`: the answer's data and the echo.
    pub(crate) fn send_to_visitor(
        &self,
        recipient: &Value,
        body: &Value,
    ) -> Result<(Value, Event), ApiError> {
        let anon = wire::id_field(recipient, "anonymous_id")?;
        let conv = wire::id_field(recipient, "conversation_id")?;
        let msg = body
            .get("message")
            .filter(|m| m.is_object())
            .ok_or_else(|| ApiError::invalid("message"))?;
        let cfg = self.config();
        let now = self.now_ms();
        let mut st = self.st();
        if st.anonymous.get(&anon) != Some(&conv) {
            return Err(ApiError::invalid("anonymous_id"));
        }
        let out = self.to_visitor(&mut st, msg, now)?;
        let message_id = wire::new_msg_id();
        st.sent.entry(anon.clone()).or_default().push(SentRecord {
            message_id: message_id.clone(),
            message: msg.clone(),
            sent_time_ms: now,
            quota: None,
        });
        drop(st);
        let echo = events::anonymous(
            &self.ctx(now),
            AnonMsg {
                event_name: out.event_name,
                anonymous_id: &anon,
                by_app: &wire::derived_digits(&format!("{}:{anon}", cfg.app_id)),
                conversation_id: &conv,
                msg_id: &message_id,
                text: out.text.as_deref(),
                attachments: out.attachments,
                from_oa: true,
            },
        );
        let data = json!({"message_id": message_id, "anonymous_id": anon, "conversation_id": conv});
        Ok((data, echo))
    }
}
