//! Sending as the OA: `POST /v3.0/oa/message/cs` (text with optional quote, image by upload or URL,
//! GIF with its size, sticker, file by token, request-user-info form) and the legacy
//! `POST /v2.0/oa/message` (still used for anonymous visitors, see `anonymous`, and reactions;
//! anything else -240).
//!
//! Checks, in order: JSON shape and string ids (-201), text over 2,000 characters (-210), unknown
//! quote (-201), `url` xor `attachment_id`, GIF size (-201), unsupported kinds (-233), unknown
//! assets (-201) and assets older than 7 days (-100), then the recipient: unknown (-213), blocked
//! (-217), no interaction in 7 days (-230), then the quota (`quota` object, or none = billed, or
//! -211 when configured). A sent message is recorded, added to the history and echoed as
//! `oa_send_*` (same `msg_id`, no `admin_id`) before the answer goes out.

use serde_json::{json, Value};

use super::events::{self, Ctx, OaMsg};
use super::state::{AssetKind, HistItem, St};
use super::wire::{self, ApiError};
use super::{quota, SentRecord, ZaloSim};

/// Icons `sender_action.react_icon` accepts (`/-remove` retracts).
const REACT_ICONS: [&str; 8] = [
    ":>", "--b", ":-((", "/-strong", "/-heart", ":-h", ":o", "/-remove",
];

/// What a validated `message` object becomes.
struct Outgoing {
    event_name: &'static str,
    text: Option<String>,
    attachments: Vec<Value>,
    hist: HistItem,
}

fn str_field(v: &Value, field: &str) -> Result<Option<String>, ApiError> {
    match v.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(ApiError::invalid(field)),
    }
}

fn positive(v: &Value, field: &str) -> Result<(), ApiError> {
    match v.get(field).and_then(Value::as_u64) {
        Some(n) if n > 0 => Ok(()),
        _ => Err(ApiError::invalid(field)),
    }
}

impl ZaloSim {
    /// A live asset of `kind`: unknown -201, older than 7 days -100.
    fn asset_ok(st: &St, id: &str, kind: AssetKind, field: &str, now: i64) -> Result<(), ApiError> {
        let a = st
            .assets
            .get(id)
            .filter(|a| a.kind == kind)
            .ok_or_else(|| ApiError::invalid(field))?;
        if now - a.created_ms > wire::ASSET_TTL_MS {
            return Err(ApiError::new(
                wire::E_ASSET_EXPIRED,
                format!("{field} was expired"),
            ));
        }
        Ok(())
    }

    /// Validates a CS `message` for `user_id`.
    fn outgoing(
        &self,
        st: &mut St,
        user_id: &str,
        msg: &Value,
        now: i64,
    ) -> Result<Outgoing, ApiError> {
        let text = str_field(msg, "text")?;
        if text
            .as_deref()
            .is_some_and(|t| wire::char_count(t) > wire::TEXT_LIMIT)
        {
            return Err(ApiError::limit());
        }
        let caption = text.clone().unwrap_or_default();
        let mid = String::new();
        let Some(att) = msg.get("attachment").filter(|a| !a.is_null()) else {
            let t = text.as_deref().filter(|t| !t.trim().is_empty());
            let t = t.ok_or_else(|| ApiError::invalid("text"))?;
            if let Some(q) = str_field(msg, "quote_message_id")? {
                if st.owner_of(&q) != Some(user_id) {
                    return Err(ApiError::invalid("quote_message_id"));
                }
            }
            return Ok(Outgoing {
                event_name: "oa_send_text",
                text: Some(t.to_owned()),
                attachments: vec![],
                hist: HistItem::text(false, now, t, &mid),
            });
        };
        let unsupported = || ApiError::new(wire::E_TYPE, wire::MSG_TYPE);
        match att.get("type").and_then(Value::as_str) {
            Some("file") => {
                let token = att
                    .get("payload")
                    .map(|p| wire::id_field(p, "token"))
                    .unwrap_or_else(|| Err(ApiError::invalid("token")))?;
                Self::asset_ok(st, &token, AssetKind::File, "token", now)?;
                let url = self.media_url(&token);
                let a = st
                    .assets
                    .get(&token)
                    .cloned()
                    .ok_or_else(|| ApiError::invalid("token"))?;
                let att = events::att_file(
                    &url,
                    &a.filename,
                    a.bytes.len(),
                    &wire::derived_hex(&format!("{}{}", a.filename, a.bytes.len())),
                    &wire::extension(&a.filename),
                );
                let mut hist = HistItem::media(false, now, "file", &caption, &url, &mid);
                hist.description = Some(a.filename.clone());
                Ok(Outgoing {
                    event_name: "oa_send_file",
                    text,
                    attachments: vec![att],
                    hist,
                })
            }
            Some("template") => {
                let payload = att
                    .get("payload")
                    .ok_or_else(|| ApiError::invalid("payload"))?;
                let el = match payload.get("elements").and_then(Value::as_array) {
                    Some(els) if els.len() == 1 => &els[0],
                    _ => return Err(ApiError::invalid("elements")),
                };
                match payload.get("template_type").and_then(Value::as_str) {
                    Some("media") => self.media_element(st, el, text, &caption, now),
                    Some("request_user_info") => {
                        let title = str_field(el, "title")?.filter(|t| !t.is_empty());
                        let title = title.ok_or_else(|| ApiError::invalid("title"))?;
                        let subtitle = str_field(el, "subtitle")?.unwrap_or_default();
                        if wire::char_count(&title) > 100 || wire::char_count(&subtitle) > 500 {
                            return Err(ApiError::limit());
                        }
                        let image = str_field(el, "image_url")?.unwrap_or_default();
                        let att = events::att_link(&image, &subtitle, "");
                        let mut hist = HistItem::text(false, now, &title, &mid);
                        hist.kind = "link";
                        hist.description = Some(subtitle);
                        Ok(Outgoing {
                            event_name: "oa_send_template",
                            text: Some(title),
                            attachments: vec![att],
                            hist,
                        })
                    }
                    _ => Err(unsupported()),
                }
            }
            _ => Err(unsupported()),
        }
    }

    /// One `media` template element: image (upload xor URL), GIF (upload + size) or sticker.
    fn media_element(
        &self,
        st: &mut St,
        el: &Value,
        text: Option<String>,
        caption: &str,
        now: i64,
    ) -> Result<Outgoing, ApiError> {
        let mid = String::new();
        let att_id = str_field(el, "attachment_id")?.filter(|s| !s.is_empty());
        match el.get("media_type").and_then(Value::as_str) {
            Some("image") => {
                let url = match (att_id, str_field(el, "url")?.filter(|s| !s.is_empty())) {
                    (Some(id), None) => {
                        Self::asset_ok(st, &id, AssetKind::Image, "attachment_id", now)?;
                        self.media_url(&id)
                    }
                    (None, Some(u)) if u.starts_with("http://") || u.starts_with("https://") => u,
                    _ => return Err(ApiError::invalid("url")),
                };
                Ok(Outgoing {
                    event_name: "oa_send_image",
                    text,
                    attachments: vec![events::att_picture("image", &url)],
                    hist: HistItem::media(false, now, "photo", caption, &url, &mid),
                })
            }
            Some("gif") => {
                let id = att_id.ok_or_else(|| ApiError::invalid("attachment_id"))?;
                Self::asset_ok(st, &id, AssetKind::Gif, "attachment_id", now)?;
                positive(el, "width")?;
                positive(el, "height")?;
                let url = self.media_url(&id);
                Ok(Outgoing {
                    event_name: "oa_send_gif",
                    text,
                    attachments: vec![events::att_picture("gif", &url)],
                    hist: HistItem::media(false, now, "GIF", caption, &url, &mid),
                })
            }
            Some("sticker") => {
                let id = att_id.ok_or_else(|| ApiError::invalid("attachment_id"))?;
                let url = self.sticker_url(st, &id, now);
                Ok(Outgoing {
                    event_name: "oa_send_sticker",
                    text: None,
                    attachments: vec![events::att_sticker(&url, &id)],
                    hist: HistItem::media(false, now, "sticker", "", &url, &mid),
                })
            }
            _ => Err(ApiError::new(wire::E_TYPE, wire::MSG_TYPE)),
        }
    }

    fn prepare_cs(&self, oa: &str, body: &[u8]) -> Result<(Value, events::Event), ApiError> {
        let v: Value = serde_json::from_slice(body)
            .ok()
            .filter(Value::is_object)
            .ok_or_else(|| ApiError::invalid("body"))?;
        let recipient = v
            .get("recipient")
            .ok_or_else(|| ApiError::invalid("recipient"))?;
        let user_id = wire::id_field(recipient, "user_id")?;
        let msg = v
            .get("message")
            .filter(|m| m.is_object())
            .ok_or_else(|| ApiError::invalid("message"))?;
        let cfg = self.config();
        let now = self.now_ms();
        let mut st = self.st();
        let out = self.outgoing(&mut st, &user_id, msg, now)?;
        let not_follower = || ApiError::new(wire::E_NOT_FOLLOWER, wire::MSG_NOT_FOLLOWER);
        if oa != cfg.oa_id {
            return Err(not_follower());
        }
        let u = st.users.get(&user_id).ok_or_else(not_follower)?;
        if u.blocked {
            return Err(ApiError::new(wire::E_BLOCKED, wire::MSG_BLOCKED));
        }
        if u.last_interaction_ms
            .is_none_or(|t| now - t > wire::WINDOW_MS)
        {
            return Err(ApiError::new(wire::E_WINDOW, wire::MSG_WINDOW));
        }
        let by_app = u.by_app.clone();
        let quota = quota::charge(&mut st, &user_id, &cfg, now)?;
        let message_id = wire::new_msg_id();
        st.sent
            .entry(user_id.clone())
            .or_default()
            .push(SentRecord {
                message_id: message_id.clone(),
                message: msg.clone(),
                sent_time_ms: now,
                quota: quota.clone(),
            });
        let mut hist = out.hist;
        hist.message_id = message_id.clone();
        st.push_history(&user_id, hist);
        drop(st);
        let ctx = self.ctx(now);
        let echo = events::oa_message(
            &ctx,
            OaMsg {
                event_name: out.event_name,
                user_id: &user_id,
                by_app: &by_app,
                admin_id: None,
                msg_id: &message_id,
                text: out.text.as_deref(),
                attachments: out.attachments,
            },
        );
        let mut data = serde_json::Map::new();
        if let Some(q) = quota {
            data.insert("quota".into(), q);
        }
        data.insert("message_id".into(), Value::String(message_id));
        data.insert("user_id".into(), Value::String(user_id));
        data.insert("sent_time".into(), Value::String(now.to_string()));
        Ok((Value::Object(data), echo))
    }

    /// `POST /v3.0/oa/message/cs`; the echo is queued before the answer, so it may arrive first.
    pub(crate) async fn send_cs(&self, oa: &str, body: &[u8]) -> axum::response::Response {
        match self.prepare_cs(oa, body) {
            Ok((data, echo)) => {
                self.emit(echo).await;
                wire::success(data)
            }
            Err(e) => wire::failure(&e),
        }
    }

    fn prepare_v2(&self, oa: &str, body: &[u8]) -> Result<(Value, events::Event), ApiError> {
        let v: Value = serde_json::from_slice(body)
            .ok()
            .filter(Value::is_object)
            .ok_or_else(|| ApiError::invalid("body"))?;
        let recipient = v
            .get("recipient")
            .ok_or_else(|| ApiError::invalid("recipient"))?;
        let cfg = self.config();
        let now = self.now_ms();
        let ctx = self.ctx(now);
        let message_id = wire::new_msg_id();
        if oa != cfg.oa_id {
            return Err(ApiError::new(wire::E_NOT_FOLLOWER, wire::MSG_NOT_FOLLOWER));
        }
        if recipient.get("anonymous_id").is_some() {
            return self.send_to_visitor(recipient, &v);
        }
        let user_id = wire::id_field(recipient, "user_id")?;
        let Some(action) = v.get("sender_action") else {
            return Err(ApiError::new(wire::E_V2_SHUT, wire::MSG_V2_SHUT));
        };
        let target = wire::id_field(action, "react_message_id")?;
        let icon = str_field(action, "react_icon")?.unwrap_or_default();
        if !REACT_ICONS.contains(&icon.as_str()) {
            return Err(ApiError::invalid("react_icon"));
        }
        let st = self.st();
        if st.owner_of(&target) != Some(user_id.as_str()) {
            return Err(ApiError::invalid("react_message_id"));
        }
        let by_app = st
            .users
            .get(&user_id)
            .map(|u| u.by_app.clone())
            .ok_or_else(|| ApiError::new(wire::E_NOT_FOLLOWER, wire::MSG_NOT_FOLLOWER))?;
        drop(st);
        let echo = events::reaction(&ctx, &user_id, &by_app, &target, &icon, true);
        Ok((json!({"message_id": message_id, "user_id": user_id}), echo))
    }

    /// `POST /v2.0/oa/message`: messages to anonymous visitors (see `anonymous`), reactions; other
    /// sends are shut down (-240).
    pub(crate) async fn send_v2(&self, oa: &str, body: &[u8]) -> axum::response::Response {
        match self.prepare_v2(oa, body) {
            Ok((data, echo)) => {
                self.emit(echo).await;
                wire::success(data)
            }
            Err(e) => wire::failure(&e),
        }
    }

    /// The body context (app, OA, time) of events emitted now.
    pub(crate) fn ctx(&self, now_ms: i64) -> Ctx {
        let c = self.config();
        Ctx {
            app_id: c.app_id,
            oa_id: c.oa_id,
            ts: now_ms.to_string(),
        }
    }
}
