//! Posting to Freshchat: a customer's message (as the customer) or a private note (as zfsync's bot),
//! in the contact's current conversation. A conversation is created when there is none; when
//! Freshchat says "not the latest conversation", zfsync follows it to the latest. Attachments are
//! copied first ([`super::media`]); one that cannot be copied becomes a text part and a note to the
//! agents, so nothing the customer sent is dropped.

use zfsync_freshchat::{ActorType, FreshchatError, MessagePart, MessageType, NewMessage};
use zfsync_mappings::{OutPart, PostToFreshchat, Visibility};

use super::conversations::{Conversations, Opening};
use super::media::Media;
use super::{parse_iso_ms, preview_text, Job, Reconcile, Run, SyncContext};
use crate::error::SyncError;
use crate::store::{Contact, Direction, MessagePair, Record};
use crate::telemetry::events::{InternalEvent, MediaNotTransferred, SyncedToFreshchat};

impl Run for PostToFreshchat {
    type Output = ();

    /// Builds the message (media copied first), posts it (as text when Freshchat refuses its
    /// attachments), then records the pairing and tells the agents what they should know.
    async fn run(&self, cx: &SyncContext, job: Job<'_>) -> Result<(), SyncError> {
        let contact = cx
            .store
            .contact(self.zalo_user_id.clone())
            .await?
            .ok_or_else(|| SyncError::ContactMissing {
                zalo_user_id: self.zalo_user_id.clone(),
            })?;
        let (message, mut notes) = build(self, &cx.media, &contact).await?;
        let preview = preview_of(&message.message_parts);
        let journal = job.journal(&cx.store);
        journal.begin(None).await?;
        let opening = Opening {
            oa_id: &cx.oa_id(),
            at_ms: job.row.event_time,
        };
        let posted = post(
            self,
            &cx.conversations,
            &contact,
            &message,
            &mut notes,
            opening,
        )
        .await;
        let (conversation_id, message_id) = match posted {
            Ok(v) => v,
            Err(e) => {
                journal.abandon_unless_unknown(&e).await;
                return Err(e);
            }
        };
        let pair = MessagePair {
            direction: Direction::ToFreshchat,
            zalo_user_id: self.zalo_user_id.clone(),
            zalo_msg_id: self.zalo_msg_id.clone(),
            freshchat_message_id: message_id.clone(),
            preview: Some(preview),
            from_customer: self.visibility == Visibility::Customer,
        };
        journal
            .sent(
                message_id.clone().or(Some(conversation_id.clone())),
                Record::Message(pair),
            )
            .await?;
        SyncedToFreshchat {
            zalo_msg_id: self.zalo_msg_id.as_deref().unwrap_or(""),
            freshchat_message_id: message_id.as_deref().unwrap_or(""),
            conversation_id: &conversation_id,
        }
        .emit();
        tell_agents(self, cx, &conversation_id, notes).await;
        Ok(())
    }
}

/// The message to post, with the media copied to Freshchat first (no journal needed: an upload
/// repeated after a crash is harmless), and the notes for the agents about media that could not
/// be copied (a text part takes its place).
async fn build(
    step: &PostToFreshchat,
    media: &Media,
    contact: &Contact,
) -> Result<(NewMessage, Vec<String>), SyncError> {
    let mut fc_parts = Vec::with_capacity(step.parts.len());
    let mut notes = Vec::new();
    for p in &step.parts {
        match p {
            OutPart::Text(t) => fc_parts.push(MessagePart::Text { content: t.clone() }),
            OutPart::Media {
                kind,
                url,
                filename,
                size,
                max_bytes,
                fallback_text,
                failure_note,
            } => match media
                .copy(*kind, url, filename.as_deref(), *size, *max_bytes)
                .await?
            {
                Ok(part) => fc_parts.push(part),
                Err(reason) => {
                    let reason = zfsync_mappings::redact::urls_in(&reason);
                    MediaNotTransferred {
                        kind: kind.label(),
                        reason: &reason,
                    }
                    .emit();
                    let vars = [("reason", reason.as_str())];
                    fc_parts.push(MessagePart::Text {
                        content: zfsync_mappings::template::fill(fallback_text, &vars),
                    });
                    notes.push(zfsync_mappings::template::fill(failure_note, &vars));
                }
            },
        }
    }
    let message = match step.visibility {
        Visibility::Customer => NewMessage {
            message_parts: fc_parts,
            actor_type: ActorType::User,
            actor_id: Some(contact.freshchat_user_id.clone()),
            user_id: Some(contact.freshchat_user_id.clone()),
            message_type: MessageType::Normal,
            app_id: None,
            channel_id: None,
        },
        Visibility::PrivateNote => bot_note(fc_parts),
    };
    Ok((message, notes))
}

/// Posts the message in the customer's current conversation. When Freshchat refuses the message
/// itself (4xx) and it carries attachments, it is posted again with every attachment replaced by
/// its fallback text, and a note for the agents added: what the customer wrote is never lost.
async fn post(
    step: &PostToFreshchat,
    conversations: &Conversations,
    contact: &Contact,
    message: &NewMessage,
    notes: &mut Vec<String>,
    opening: Opening<'_>,
) -> Result<(String, Option<String>), SyncError> {
    let posted = conversations
        .post_in_current(contact, &step.zalo_user_id, message, opening)
        .await;
    let Err(SyncError::Freshchat(FreshchatError::Invalid { message: why, .. })) = &posted else {
        return posted;
    };
    if !step
        .parts
        .iter()
        .any(|p| matches!(p, OutPart::Media { .. }))
    {
        return posted;
    }
    tracing::warn!(reason = %why, "Freshchat refused a message with attachments; posting it as text");
    let reason = format!("Freshchat refused the attachment: {why}");
    let mut text_only = message.clone();
    text_only.message_parts = step
        .parts
        .iter()
        .map(|p| match p {
            OutPart::Text(t) => MessagePart::Text { content: t.clone() },
            OutPart::Media {
                fallback_text,
                failure_note,
                ..
            } => {
                let vars = [("reason", reason.as_str())];
                notes.push(zfsync_mappings::template::fill(failure_note, &vars));
                MessagePart::Text {
                    content: zfsync_mappings::template::fill(fallback_text, &vars),
                }
            }
        })
        .collect();
    conversations
        .post_in_current(contact, &step.zalo_user_id, &text_only, opening)
        .await
}

/// After a post: the notes about this message, then the admins' notes that wait for a post.
async fn tell_agents(
    step: &PostToFreshchat,
    cx: &SyncContext,
    conversation_id: &str,
    notes: Vec<String>,
) {
    for note in notes {
        cx.notes.post(conversation_id, note).await;
    }
    // The first post after Freshchat refused the custom user properties tells the admins.
    cx.notes.post_properties_note_if_due(conversation_id).await;
    // So does the first post for a customer whose reference id another user claimed.
    cx.notes
        .post_clash_note_if_due(&cx.oa_id(), &step.zalo_user_id, conversation_id)
        .await;
}

impl Reconcile for PostToFreshchat {
    async fn reconcile(
        &self,
        cx: &SyncContext,
        job: Job<'_>,
        since: i64,
    ) -> Result<bool, SyncError> {
        let Some(contact) = cx.store.contact(self.zalo_user_id.clone()).await? else {
            return Ok(false);
        };
        let mut conversations = Vec::new();
        if let Some(c) = cx.store.conversation_of(self.zalo_user_id.clone()).await? {
            conversations.push(c);
        }
        if conversations.is_empty() {
            conversations = cx
                .freshchat
                .user_conversations(&contact.freshchat_user_id)
                .await?;
        }
        let want = self.parts.iter().find_map(|p| match p {
            OutPart::Text(t) => Some(t.clone()),
            _ => None,
        });
        for conv in conversations.iter().rev() {
            let page = cx.freshchat.list_messages(conv, None, 50).await?;
            let hit = page.messages.iter().find(|m| {
                let by_us = match self.visibility {
                    Visibility::Customer => {
                        matches!(m.actor_type, ActorType::User)
                            && m.actor_id.as_deref() == Some(contact.freshchat_user_id.as_str())
                    }
                    Visibility::PrivateNote => {
                        m.is_private_note() && matches!(m.actor_type, ActorType::Bot)
                    }
                };
                let recent = m
                    .created_time
                    .as_deref()
                    .and_then(parse_iso_ms)
                    .is_none_or(|t| t >= since);
                let same = match &want {
                    Some(t) => m
                        .message_parts
                        .iter()
                        .any(|p| matches!(p, MessagePart::Text { content } if content == t)),
                    None => m.message_parts.len() == self.parts.len(),
                };
                by_us && recent && same
            });
            if let Some(m) = hit {
                tracing::info!(freshchat_message_id = %m.id, "reconciled: the message had reached Freshchat before the interruption");
                let message = MessagePair {
                    direction: Direction::ToFreshchat,
                    zalo_user_id: self.zalo_user_id.clone(),
                    zalo_msg_id: self.zalo_msg_id.clone(),
                    freshchat_message_id: Some(m.id.clone()),
                    preview: None,
                    from_customer: self.visibility == Visibility::Customer,
                };
                let record = Record::Conversation {
                    conversation_id: conv.clone(),
                    message,
                };
                job.journal(&cx.store)
                    .sent(Some(m.id.clone()), record)
                    .await?;
                return Ok(true);
            }
        }
        Ok(false)
    }
}

/// A private note from zfsync: visible to agents, never to the customer.
pub fn bot_note(parts: Vec<MessagePart>) -> NewMessage {
    NewMessage {
        message_parts: parts,
        actor_type: ActorType::Bot,
        actor_id: None,
        user_id: None,
        message_type: MessageType::Private,
        app_id: None,
        channel_id: None,
    }
}

fn preview_of(parts: &[MessagePart]) -> String {
    parts
        .iter()
        .map(|p| match p {
            MessagePart::Text { content } => preview_text(content),
            MessagePart::Image { .. } => "[image]".into(),
            MessagePart::File(f) => format!("[file] {}", f.name.as_deref().unwrap_or("")),
            MessagePart::Video { .. } => "[video]".into(),
            _ => "[part]".into(),
        })
        .collect::<Vec<_>>()
        .join(" ")
}
