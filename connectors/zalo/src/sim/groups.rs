//! Events of OA group chats (GMF) and calls, which a one-to-one integration receives but must not
//! treat as a customer's message (reference §5.5 lists the names; the corpus has no sample, so the
//! bodies follow the §5.3 envelope: `app_id`, `sender`, `recipient`, `event_name`, `message`,
//! `timestamp` as strings). In a group message the group's id stands where a user's would: the
//! recipient of `user_send_group_text` (sender = the member), the recipient of
//! `oa_send_group_text` (sender = the OA). Call events carry the OA and the user as sender and
//! recipient and no message.

use serde_json::{json, Value};

use super::events::Event;
use super::wire;
use super::ZaloSim;

/// Who writes in an OA group chat.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupSender {
    /// A member (a Zalo user id): `user_send_group_text`.
    Member(String),
    /// The OA: `oa_send_group_text`.
    Oa,
}

/// A call event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallEvent {
    /// The OA asked the user for consent to call them: `oa_send_consent` (OA → user).
    OaSendConsent,
    /// The user answered that request: `user_reply_consent` (user → OA).
    UserReplyConsent,
}

impl ZaloSim {
    /// Someone writes `text` in the OA group `group_id`; returns the message's `msg_id`.
    pub async fn group_message(&self, group_id: &str, from: GroupSender, text: &str) -> String {
        let now = self.now_ms();
        let ctx = self.ctx(now);
        let msg_id = wire::new_msg_id();
        let (name, sender) = match &from {
            GroupSender::Member(user) => ("user_send_group_text", json!({ "id": user })),
            GroupSender::Oa => ("oa_send_group_text", json!({ "id": ctx.oa_id })),
        };
        let body = json!({
            "app_id": ctx.app_id,
            "sender": sender,
            "recipient": {"id": group_id},
            "event_name": name,
            "message": {"text": text, "msg_id": msg_id},
            "timestamp": ctx.ts,
        });
        self.emit(event(body, name, Some(&msg_id), group_id)).await;
        msg_id
    }

    /// A call event between the OA and `user_id`.
    pub async fn call_event(&self, user_id: &str, call: CallEvent) {
        let now = self.now_ms();
        let ctx = self.ctx(now);
        let (name, sender, recipient) = match call {
            CallEvent::OaSendConsent => ("oa_send_consent", &ctx.oa_id, user_id),
            CallEvent::UserReplyConsent => (
                "user_reply_consent",
                &user_id.to_owned(),
                ctx.oa_id.as_str(),
            ),
        };
        let body = json!({
            "app_id": ctx.app_id,
            "sender": {"id": sender},
            "recipient": {"id": recipient},
            "event_name": name,
            "timestamp": ctx.ts,
        });
        self.emit(event(body, name, None, user_id)).await;
    }
}

fn event(body: Value, name: &str, msg_id: Option<&str>, lane: &str) -> Event {
    Event {
        body,
        event_name: name.to_owned(),
        msg_id: msg_id.map(str::to_owned),
        lane: lane.to_owned(),
    }
}
