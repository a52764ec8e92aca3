//! ZBS template messages: `POST /v3.0/oa/message/template` with `{"user_id", "template_id",
//! "template_data"}` (reference §2.2), the one message Zalo takes after a user's 7-day window.
//! The approved templates are the simulator's configuration ([`ZaloSim::approve_template`], or
//! `POST /sim/templates` over HTTP; [`ZaloSim::approved_templates`] / `GET /sim/templates` list
//! them).
//!
//! Checks, in order (codes from the reference's error table §6, where it names no code for a case
//! the closest one is chosen): the body's shape and a string `user_id` (-201 "user_id is invalid!"),
//! `template_id` a string naming an approved template (-201 "template_id is invalid!"), a template
//! approved only for phone-number sends (-249 "Template does not support send via UID"),
//! `template_data` an object of strings with exactly the template's parameters (a missing or an
//! unknown one: -201 "template_data.<key> is invalid!"), then the recipient: unknown or not of this
//! OA (-213), blocked (-217), last interaction more than a year ago (-232: the reference's §7 says
//! ZBS needs an interaction within 1 year and names no code; -232 is the OA table's "last
//! interaction has expired"), then the OA's template allowance (-211 "Out of quota" once
//! [`TEMPLATE_QUOTA`] templates were sent). No 7-day window applies. A sent template is recorded (what the
//! customer got: the template's text with its parameters filled), added to the history and echoed
//! as `oa_send_template` with the documented payload `{zinstant_id, text, link_url, checksum}`
//! (realworld `zalo-webhook-oa_send_template.json`, §5.5) and the send's `message_id` as `msg_id`.
//! The answer is the consultation send's shape: `message_id`, `user_id`, `sent_time`, and
//! `quota {quota_type: "template", remain}` (reference §2.2 `data.quota{quota_type, remain}`,
//! without values; `remain` is a string, as in the consultation quota, counting the simulator's
//! own allowance down).

use std::collections::BTreeMap;

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::events::{self, OaMsg};
use super::state::{HistItem, St};
use super::wire::{self, ApiError};
use super::{SentRecord, ZaloSim};

/// Zalo's code for a template that cannot be sent to a user id.
const E_TEMPLATE_UID: i64 = -249;
/// Its message, Zalo's spelling.
const MSG_TEMPLATE_UID: &str = "Template does not support send via UID";
/// The OA table's code for an interaction that expired (used for the 1-year rule).
const E_EXPIRED: i64 = -232;
/// Its message, the OA table's spelling.
const MSG_EXPIRED: &str =
    "User has not interacted with the OA, or the last interaction has expired";
/// How long after a user's last interaction a template still reaches them (reference §7).
const INTERACTION_YEAR_MS: i64 = 365 * 24 * 3600 * 1000;
/// The templates a simulated OA may send in all (the reference gives no number): `remain` counts
/// down from it, and a send past it gets -211.
pub const TEMPLATE_QUOTA: u32 = 10_000;

/// A template the OA had approved on Zalo's side.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimTemplate {
    /// Zalo's template id.
    pub template_id: String,
    /// Its parameters: `template_data` must carry exactly these.
    pub params: Vec<String>,
    /// What the customer reads, with `<key>` placeholders (ZBS's own spelling) filled from
    /// `template_data`.
    pub text: String,
    /// Whether it may be sent to a user id (false: phone-number sends only, -249).
    #[serde(default = "yes")]
    pub by_uid: bool,
}

fn yes() -> bool {
    true
}

impl SimTemplate {
    /// The text with `<key>` replaced by the values.
    fn render(&self, data: &BTreeMap<String, String>) -> String {
        data.iter().fold(self.text.clone(), |text, (k, v)| {
            text.replace(&format!("<{k}>"), v)
        })
    }
}

impl ZaloSim {
    /// A template message as Zalo shows it (whoever sent it: the API or staff in Zalo's chat
    /// tool): its page served on the CDN, the echo's attachment `{zinstant_id, text, link_url,
    /// checksum}`, and its history entry.
    pub(crate) fn template_message(
        &self,
        st: &mut St,
        template_id: &str,
        text: &str,
        msg_id: &str,
        now: i64,
    ) -> (Value, HistItem) {
        let page = format!("<html><body>{text}</body></html>");
        let link = self.serve(st, "template.html", "text/html", Bytes::from(page), now);
        let checksum = wire::derived_hex(&format!("template:{template_id}:{text}"));
        let att =
            events::att_template(&format!("templateId={template_id}"), text, &link, &checksum);
        let mut h = HistItem::media(false, now, "link", text, &link, msg_id);
        h.thumb = None;
        (att, h)
    }

    /// Approves a template for this OA (replacing one of the same id).
    pub fn approve_template(&self, template: SimTemplate) {
        self.st()
            .templates
            .insert(template.template_id.clone(), template);
    }

    /// The approved templates, by id.
    pub fn approved_templates(&self) -> Vec<SimTemplate> {
        let mut all: Vec<SimTemplate> = self.st().templates.values().cloned().collect();
        all.sort_by(|a, b| a.template_id.cmp(&b.template_id));
        all
    }

    fn prepare_template(&self, oa: &str, body: &[u8]) -> Result<(Value, events::Event), ApiError> {
        let v: Value = serde_json::from_slice(body)
            .ok()
            .filter(Value::is_object)
            .ok_or_else(|| ApiError::invalid("body"))?;
        let user_id = wire::id_field(&v, "user_id")?;
        let template_id = match v.get("template_id") {
            Some(Value::String(s)) if !s.is_empty() => s.clone(),
            _ => return Err(ApiError::invalid("template_id")),
        };
        let cfg = self.config();
        let now = self.now_ms();
        let mut st = self.st();
        let template = st
            .templates
            .get(&template_id)
            .cloned()
            .ok_or_else(|| ApiError::invalid("template_id"))?;
        if !template.by_uid {
            return Err(ApiError::new(E_TEMPLATE_UID, MSG_TEMPLATE_UID));
        }
        let raw = v
            .get("template_data")
            .and_then(Value::as_object)
            .ok_or_else(|| ApiError::invalid("template_data"))?;
        let mut data = BTreeMap::new();
        for (k, val) in raw {
            match val {
                Value::String(s) if template.params.contains(k) => {
                    data.insert(k.clone(), s.clone());
                }
                _ => return Err(ApiError::invalid(&format!("template_data.{k}"))),
            }
        }
        if let Some(missing) = template.params.iter().find(|p| !data.contains_key(*p)) {
            return Err(ApiError::invalid(&format!("template_data.{missing}")));
        }
        let not_follower = || ApiError::new(wire::E_NOT_FOLLOWER, wire::MSG_NOT_FOLLOWER);
        if oa != cfg.oa_id {
            return Err(not_follower());
        }
        let u = st.users.get(&user_id).ok_or_else(not_follower)?;
        if u.blocked {
            return Err(ApiError::new(wire::E_BLOCKED, wire::MSG_BLOCKED));
        }
        if u.last_interaction_ms
            .is_some_and(|t| now - t > INTERACTION_YEAR_MS)
        {
            return Err(ApiError::new(E_EXPIRED, MSG_EXPIRED));
        }
        if st.templates_sent >= TEMPLATE_QUOTA {
            return Err(ApiError::new(wire::E_QUOTA, wire::MSG_QUOTA));
        }
        let by_app = u.by_app.clone();
        let text = template.render(&data);
        let message_id = wire::new_msg_id();
        let (attachment, hist) =
            self.template_message(&mut st, &template_id, &text, &message_id, now);
        st.templates_sent += 1;
        let remain = TEMPLATE_QUOTA - st.templates_sent;
        let quota = json!({"quota_type": "template", "remain": remain.to_string()});
        st.sent
            .entry(user_id.clone())
            .or_default()
            .push(SentRecord {
                message_id: message_id.clone(),
                // The request as sent, with what the customer read.
                message: json!({
                    "template_id": template_id,
                    "template_data": data,
                    "text": text,
                }),
                sent_time_ms: now,
                quota: Some(quota.clone()),
            });
        st.push_history(&user_id, hist);
        drop(st);
        let echo = events::oa_message(
            &self.ctx(now),
            OaMsg {
                event_name: "oa_send_template",
                user_id: &user_id,
                by_app: &by_app,
                admin_id: None,
                msg_id: &message_id,
                text: None,
                attachments: vec![attachment],
            },
        );
        let data = json!({
            "message_id": message_id,
            "user_id": user_id,
            "sent_time": now.to_string(),
            "quota": quota,
        });
        Ok((data, echo))
    }

    /// `POST /v3.0/oa/message/template`; the echo is queued before the answer, as for CS sends.
    pub(crate) async fn send_template(&self, oa: &str, body: &[u8]) -> axum::response::Response {
        match self.prepare_template(oa, body) {
            Ok((data, echo)) => {
                self.emit(echo).await;
                wire::success(data)
            }
            Err(e) => wire::failure(&e),
        }
    }
}
