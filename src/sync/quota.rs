//! What a Zalo reply costs, made visible. Since 2026-01-01 a reply is free and unlimited within 48 h
//! of the customer's last interaction, billed to the OA from 48 h to 7 days, refused (-230) after.
//! Zalo no longer says how many free replies are left, so zfsync keeps each customer's window from the
//! interactions it sees ([`ReplyQuota::saw_interaction`]): messages, follows, "chat now", shared
//! info, widget consent, the customer's own calls and group messages. Zalo also counts menu taps,
//! article comments and chatbot interactions, which never reach zfsync: its window is a lower bound.
//!
//! Every send's answer still says which allowance paid for it (free `reply`, a package) or nothing
//! (billed). zfsync keeps the latest per customer, counts billed replies, and tells the agents in the
//! conversation, once per window, when replies start being billed and until when Zalo takes them (the
//! mapping engine decides; the wording is in the rules). A reply Zalo refused because the window
//! closed gets a note naming when it closed. A customer's new interaction opens a new window silently.
//!
//! Failure: this never fails a send; a note or a record that cannot be written is logged.

use std::sync::Arc;

use zfsync_mappings::Rules;
use zfsync_zalo::{SendQuota, SentMessage, WidgetEventKind, ZaloEvent};

use super::notes::AgentNotes;
use crate::store::{now_ms, Store};
use crate::telemetry::events::{InternalEvent, ZaloMessageBilled};

/// Each customer's reply window and the notes about its cost.
#[derive(Debug, Clone)]
pub struct ReplyQuota {
    store: Store,
    rules: Arc<Rules>,
    notes: AgentNotes,
}

impl ReplyQuota {
    /// Windows kept in `store`, notes worded by `rules` and posted through `notes`.
    pub fn new(store: Store, rules: Arc<Rules>, notes: AgentNotes) -> ReplyQuota {
        ReplyQuota {
            store,
            rules,
            notes,
        }
    }

    /// After a send to a customer: record the allowance Zalo reported, and tell the agents when it
    /// matters.
    pub async fn after_send(&self, zalo_user_id: &str, sent: &SentMessage) {
        let window = match self.store.quota_window(zalo_user_id.to_string()).await {
            Ok(w) => w,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the reply allowance");
                return;
            }
        };
        let (note, next) = zfsync_mappings::quota_note(&sent.quota, window, &self.rules);
        if matches!(sent.quota, SendQuota::Billed) {
            ZaloMessageBilled {
                zalo_msg_id: &sent.message_id,
            }
            .emit();
        }
        if let Err(e) = self
            .store
            .record_quota(
                zalo_user_id.to_string(),
                sent.message_id.clone(),
                sent.quota.clone(),
                next,
            )
            .await
        {
            tracing::warn!(error = %e, "cannot record the reply allowance");
            return;
        }
        let Some(note) = note else {
            return;
        };
        match self.store.conversation_of(zalo_user_id.to_string()).await {
            Ok(Some(conv)) => self.notes.post(&conv, note).await,
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, "cannot find the conversation for a quota note"),
        }
    }

    /// The note for a reply Zalo refused because the customer's window closed, naming when it
    /// closed; `None` when zfsync's window does not say so (the plain error note is used then).
    pub async fn window_closed_note(&self, zalo_user_id: &str) -> Option<String> {
        let last = match self.store.last_interaction(zalo_user_id.to_string()).await {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the reply window");
                return None;
            }
        };
        zfsync_mappings::closed_note(last, now_ms(), &self.rules)
    }

    /// A Zalo event that is an interaction of the customer with the OA (a message, a follow, "chat
    /// now", shared info, a widget's consent) opens a new window at its time, whether or not the
    /// event is then synced. Reactions, receipts and the OA's own messages do not.
    pub async fn saw_interaction(&self, ev: &ZaloEvent) {
        let user = match ev {
            ZaloEvent::UserMessage(m) => m.user_id.as_str(),
            ZaloEvent::Follow { user_id, .. }
            | ZaloEvent::UserClickChatNow { user_id, .. }
            | ZaloEvent::UserSubmitInfo { user_id, .. } => user_id.as_str(),
            ZaloEvent::Widget(w) if w.kind == WidgetEventKind::InteractionAccepted => {
                w.user_id.as_str()
            }
            // A customer's own group message or call (`user_send_group_*`, `user_call_oa`,
            // `user_reply_consent`) opens the window too, though the event itself is not synced.
            ZaloEvent::OutOfScope {
                event_name, raw, ..
            } if event_name.starts_with("user_") => raw
                .pointer("/sender/id")
                .and_then(serde_json::Value::as_str)
                .unwrap_or_default(),
            _ => return,
        };
        if let (false, Some(at)) = (user.is_empty(), ev.time_ms()) {
            self.record_interaction(user, at).await;
        }
    }

    async fn record_interaction(&self, zalo_user_id: &str, at: i64) {
        if let Err(e) = self
            .store
            .saw_interaction(zalo_user_id.to_string(), at)
            .await
        {
            tracing::warn!(error = %e, "cannot open a new reply window");
        }
    }
}
