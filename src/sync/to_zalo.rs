//! Sending to Zalo: one planned message to one Zalo user, prepared first (long text as a file or a
//! hosted link, attachments uploaded to Zalo or hosted, see [`super::media`] and [`super::hosted`]),
//! then sent with the journal around the call. A permanent failure is explained to the agents in
//! the conversation ([`explain_failure`]), never swallowed; a refusal because the
//! customer's reply window closed names when it closed. An anonymous chat-widget visitor (a
//! `zfsync_zalo::visitor_key` in place of a user id) is answered through Zalo's anonymous send,
//! with images by URL and files by token.

use zfsync_mappings::{SendToZalo, ZaloSend};
use zfsync_zalo::{parse_visitor_key, ZaloError};

use super::media::{text, Delivered};
use super::{Job, Reconcile, Run, SyncContext};
use crate::error::SyncError;
use crate::store::{Direction, InboxRow, MessagePair, Record, Source};
use crate::telemetry::events::{InternalEvent, SyncedToZalo};

/// Zalo's refusal of a reply because the customer's 7-day window closed.
const WINDOW_CLOSED: i64 = -230;

impl Run for SendToZalo {
    type Output = ();

    async fn run(&self, cx: &SyncContext, job: Job<'_>) -> Result<(), SyncError> {
        if let Some((anonymous_id, conversation_id)) = parse_visitor_key(&self.zalo_user_id) {
            return send_to_visitor(self, cx, job, anonymous_id, conversation_id).await;
        }
        let (outbound, preview) = cx.media.prepare(&self.zalo_user_id, &self.message).await?;
        let journal = job.journal(&cx.store);
        journal.begin(Some(&self.zalo_user_id)).await?;
        let sent = match cx.zalo.send_message(&self.zalo_user_id, &outbound).await {
            Ok(s) => s,
            Err(e) => {
                journal.abandon_unless_unknown(&e).await;
                return Err(e);
            }
        };
        let pair = sent_pair(self, &self.zalo_user_id, &sent.message_id, Some(preview));
        journal
            .sent(Some(sent.message_id.clone()), Record::Message(pair))
            .await?;
        SyncedToZalo {
            zalo_msg_id: &sent.message_id,
            freshchat_message_id: self.freshchat_message_id.as_deref().unwrap_or(""),
            anonymous_visitor: false,
        }
        .emit();
        cx.quota.after_send(&self.zalo_user_id, &sent).await;
        Ok(())
    }
}

/// A reply to an anonymous chat-widget visitor, through `/v2.0/oa/message` (no allowance applies,
/// so no quota is read). The mapping already named to the agent what such a visitor cannot receive.
async fn send_to_visitor(
    step: &SendToZalo,
    cx: &SyncContext,
    job: Job<'_>,
    anonymous_id: &str,
    conversation_id: &str,
) -> Result<(), SyncError> {
    let visitor = step.zalo_user_id.as_str();
    let (outbound, preview) = match &step.message {
        ZaloSend::Attachment(a) => {
            let label = format!("[{}] {}", a.kind.label(), a.name.as_deref().unwrap_or(""));
            match cx.media.deliver_to_visitor(visitor, a).await? {
                Delivered::Zalo(m) => (m, label),
                Delivered::Hosted(link_text) => (text(link_text), label),
            }
        }
        other => cx.media.prepare(visitor, other).await?,
    };
    let journal = job.journal(&cx.store);
    journal.begin(Some(visitor)).await?;
    let client = cx.zalo.client();
    let sent = cx
        .zalo
        .tokens()
        .call(|t| {
            let outbound = &outbound;
            async move {
                client
                    .send_anonymous(&t, anonymous_id, conversation_id, outbound)
                    .await
            }
        })
        .await;
    let sent = match sent {
        Ok(s) => s,
        Err(e) => {
            journal.abandon_unless_unknown(&e).await;
            return Err(e);
        }
    };
    let pair = sent_pair(step, visitor, &sent.message_id, Some(preview));
    journal
        .sent(Some(sent.message_id.clone()), Record::Message(pair))
        .await?;
    SyncedToZalo {
        zalo_msg_id: &sent.message_id,
        freshchat_message_id: step.freshchat_message_id.as_deref().unwrap_or(""),
        anonymous_visitor: true,
    }
    .emit();
    Ok(())
}

impl Reconcile for SendToZalo {
    async fn reconcile(
        &self,
        cx: &SyncContext,
        job: Job<'_>,
        since: i64,
    ) -> Result<bool, SyncError> {
        if parse_visitor_key(&self.zalo_user_id).is_some() {
            // Zalo keeps no history of anonymous conversations that zfsync could look in: the
            // reply is sent again (a visitor may then see it twice, never not at all).
            return Ok(false);
        }
        let history = cx.zalo.conversation(&self.zalo_user_id, 0, 10).await?;
        let want_text = match &self.message {
            ZaloSend::Text(t) => Some(t.as_str()),
            _ => None,
        };
        let hit = history.iter().find(|h| {
            !h.from_user
                && h.time_ms >= since
                && match want_text {
                    Some(t) => h.text.as_deref() == Some(t),
                    None => true,
                }
                && !(want_text.is_none() && h.kind == "text")
        });
        let Some(h) = hit else {
            return Ok(false);
        };
        // Skip when this Zalo message is already paired with another send.
        if cx
            .store
            .known_zalo_message(h.message_id.clone())
            .await?
            .is_some()
        {
            return Ok(false);
        }
        tracing::info!(zalo_msg_id = %h.message_id, "reconciled: the message had reached Zalo before the interruption");
        let pair = sent_pair(self, &self.zalo_user_id, &h.message_id, None);
        job.journal(&cx.store)
            .sent(Some(h.message_id.clone()), Record::Message(pair))
            .await?;
        Ok(true)
    }
}

/// After a permanent failure of a Freshchat → Zalo event: tell the agents why, in the conversation.
pub(crate) async fn explain_failure(cx: &SyncContext, row: &InboxRow, err: &SyncError) {
    if row.source != Source::Freshchat {
        return;
    }
    let Ok(ev) = zfsync_freshchat::parse_event(&row.body) else {
        return;
    };
    let Some(conv) = ev.conversation_id() else {
        return;
    };
    let closed = match err {
        SyncError::Zalo(ZaloError::Api { code, .. }) if *code == WINDOW_CLOSED => {
            match cx.store.zalo_user_of_conversation(conv.to_string()).await {
                Ok(Some(user)) => cx.quota.window_closed_note(&user).await,
                _ => None,
            }
        }
        _ => None,
    };
    let mut text = match (closed, err) {
        (Some(closed), _) => closed,
        (None, SyncError::Zalo(e)) => match e {
            ZaloError::Api { code, message } => cx.rules.zalo_error_note(Some(*code), message),
            other => cx.rules.zalo_error_note(other.code(), &other.to_string()),
        },
        (None, other) => cx.rules.zalo_error_note(None, &other.to_string()),
    };
    // Past the window only an approved template reaches the customer: name the ones agents can
    // send, and how.
    if matches!(err, SyncError::Zalo(ZaloError::Api { code, .. }) if *code == WINDOW_CLOSED) {
        if let Some(templates) = cx.rules.window_closed_templates() {
            text = format!("{text}\n{templates}");
        }
    }
    cx.notes.post(conv, text).await;
}

/// The pairing of a message sent to (or found at) Zalo with the agent's Freshchat message.
fn sent_pair(
    step: &SendToZalo,
    zalo_user_id: &str,
    zalo_msg_id: &str,
    preview: Option<String>,
) -> MessagePair {
    MessagePair {
        direction: Direction::ToZalo,
        zalo_user_id: zalo_user_id.to_string(),
        zalo_msg_id: Some(zalo_msg_id.to_string()),
        freshchat_message_id: step.freshchat_message_id.clone(),
        preview,
        from_customer: false,
    }
}
