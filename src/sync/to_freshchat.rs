//! Posting to Freshchat: a customer's message (as the customer) or a private note (as zfsync's bot),
//! in the contact's current conversation. A conversation is created when there is none; when
//! Freshchat says "not the latest conversation", zfsync follows it to the latest. Attachments are
//! copied first ([`super::media`]); one that cannot be copied becomes a text part and a note to the
//! agents, so nothing the customer sent is dropped.

use zfsync_freshchat::{
    ActorType, FreshchatError, MessagePart, MessageType, NewConversation, NewMessage, UserRef,
};
use zfsync_mappings::{OutPart, PostToFreshchat, Visibility};

use super::{parse_iso_ms, preview_text, Job, Reconcile, Run, SyncContext};
use crate::error::SyncError;
use crate::store::{Contact, Direction, MessagePair, Record};

impl Run for PostToFreshchat {
    type Output = ();

    async fn run(&self, cx: &SyncContext, job: Job<'_>) -> Result<(), SyncError> {
        let contact = cx
            .store
            .contact(self.zalo_user_id.clone())
            .await?
            .ok_or_else(|| SyncError::ContactMissing {
                zalo_user_id: self.zalo_user_id.clone(),
            })?;
        // Media first (no journal needed: an upload repeated after a crash is harmless).
        let mut fc_parts = Vec::with_capacity(self.parts.len());
        let mut notes = Vec::new();
        for p in &self.parts {
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
                } => match cx
                    .copy_media(*kind, url, filename.as_deref(), *size, *max_bytes)
                    .await?
                {
                    Ok(part) => fc_parts.push(part),
                    Err(reason) => {
                        let reason = zfsync_mappings::redact::urls_in(&reason);
                        tracing::warn!(kind = kind.label(), %reason, "media not transferred; posting a text part instead");
                        metrics::counter!("zfsync_media_fallbacks_total", "direction" => "to_freshchat").increment(1);
                        let vars = [("reason", reason.as_str())];
                        fc_parts.push(MessagePart::Text {
                            content: zfsync_mappings::template::fill(fallback_text, &vars),
                        });
                        notes.push(zfsync_mappings::template::fill(failure_note, &vars));
                    }
                },
            }
        }
        let message = match self.visibility {
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
        let preview = preview_of(&message.message_parts);
        let journal = job.journal(&cx.store);
        journal.begin(None).await?;
        let mut posted = cx
            .post_in_current_conversation(&contact, &self.zalo_user_id, &message)
            .await;
        // Freshchat refused the message itself (4xx): never lose what the customer wrote. Send it
        // again with every attachment replaced by its fallback text, and tell the agents.
        if let Err(SyncError::Freshchat(FreshchatError::Invalid { message: why, .. })) = &posted {
            if self
                .parts
                .iter()
                .any(|p| matches!(p, OutPart::Media { .. }))
            {
                tracing::warn!(reason = %why, "Freshchat refused a message with attachments; posting it as text");
                let reason = format!("Freshchat refused the attachment: {why}");
                let mut text_only = message.clone();
                text_only.message_parts = self
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
                posted = cx
                    .post_in_current_conversation(&contact, &self.zalo_user_id, &text_only)
                    .await;
            }
        }
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
        };
        journal
            .sent(
                message_id.clone().or(Some(conversation_id.clone())),
                Record::Message(pair),
            )
            .await?;
        metrics::counter!("zfsync_messages_synced_total", "direction" => "to_freshchat")
            .increment(1);
        tracing::info!(zalo_msg_id = self.zalo_msg_id.as_deref().unwrap_or(""), freshchat_message_id = message_id.as_deref().unwrap_or(""), conversation_id = %conversation_id, "synced Zalo → Freshchat");
        for note in notes {
            cx.post_note(&conversation_id, note).await;
        }
        // The first post after Freshchat refused the custom user properties tells the admins.
        cx.post_properties_note_if_due(&conversation_id).await;
        // So does the first post for a customer whose reference id another user claimed.
        cx.post_clash_note_if_due(&self.zalo_user_id, &conversation_id)
            .await;
        Ok(())
    }
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

impl SyncContext {
    /// Posts a private note for the agents in a conversation; a failure is logged, not returned
    /// (the note explains something that already happened). No URL in it keeps its query string
    /// (an error's download link may be a signed one).
    pub(crate) async fn post_note(&self, conversation_id: &str, note: String) {
        let note = zfsync_mappings::redact::urls_in(&note);
        if let Err(e) = self
            .freshchat
            .post_message(
                conversation_id,
                &bot_note(vec![MessagePart::Text { content: note }]),
            )
            .await
        {
            tracing::warn!(error = %e, "could not post a note for the agents in Freshchat");
        }
    }

    /// The channel new conversations go to: configured by id, else by name, else the first
    /// enabled one (resolved once).
    pub(crate) async fn channel(&self) -> Result<String, SyncError> {
        if let Some(id) = &self.settings.channel_id {
            return Ok(id.clone());
        }
        let id = self
            .resolved_channel
            .get_or_try_init(|| async {
                let channels = self.freshchat.list_channels().await?;
                let pick = match &self.settings.channel_name {
                    Some(name) => channels
                        .iter()
                        .find(|c| c.name.as_deref() == Some(name.as_str())),
                    None => channels.iter().find(|c| c.enabled.unwrap_or(true)),
                };
                pick.map(|c| c.id.clone()).ok_or_else(|| {
                    SyncError::NoChannel(match &self.settings.channel_name {
                        Some(n) => format!(
                            "Freshchat has no channel named {n:?}; check freshchat.channel_name"
                        ),
                        None => "Freshchat has no enabled channel; set freshchat.channel_id".into(),
                    })
                })
            })
            .await?;
        Ok(id.clone())
    }

    /// Posts into the contact's current conversation: creates one when there is none, and follows
    /// Freshchat to the latest conversation when told "not the latest conversation".
    async fn post_in_current_conversation(
        &self,
        contact: &Contact,
        zalo_user_id: &str,
        message: &NewMessage,
    ) -> Result<(String, Option<String>), SyncError> {
        let mut may_resume = true;
        for _ in 0..3 {
            let mut current = self.store.conversation_of(zalo_user_id.to_string()).await?;
            if current.is_none() && may_resume {
                // No pairing in the store (a new contact, or a lost store): resume the user's
                // latest Freshchat conversation on zfsync's channel rather than opening a second
                // one (a conversation on another channel is never zfsync's to write in).
                may_resume = false;
                let latest = self.latest_on_channel(&contact.freshchat_user_id).await?;
                if let Some(latest) = &latest {
                    self.store
                        .set_conversation(zalo_user_id.to_string(), latest.clone(), None)
                        .await?;
                    current = Some(latest.clone());
                }
            }
            let Some(conversation_id) = current else {
                let conv = self
                    .freshchat
                    .create_conversation(&NewConversation {
                        channel_id: self.channel().await?,
                        users: vec![UserRef {
                            id: contact.freshchat_user_id.clone(),
                        }],
                        messages: vec![message.clone()],
                        app_id: self.settings.freshchat_app_id.clone(),
                        status: Some("new".into()),
                    })
                    .await?;
                let internal = conv
                    .conversation_internal_id
                    .as_ref()
                    .map(|v| v.to_string().trim_matches('"').to_string());
                self.store
                    .set_conversation(
                        zalo_user_id.to_string(),
                        conv.conversation_id.clone(),
                        internal,
                    )
                    .await?;
                tracing::info!(conversation_id = %conv.conversation_id, "created Freshchat conversation");
                let first = self.first_message_id(&conv.conversation_id).await;
                return Ok((conv.conversation_id, first));
            };
            match self.freshchat.post_message(&conversation_id, message).await {
                Ok(m) => return Ok((conversation_id, Some(m.id))),
                Err(FreshchatError::NotLatestConversation { .. })
                | Err(FreshchatError::NotFound { .. }) => {
                    let latest = self.latest_on_channel(&contact.freshchat_user_id).await?;
                    match latest.filter(|id| *id != conversation_id) {
                        Some(latest) => {
                            tracing::info!(from = %conversation_id, to = %latest, "following Freshchat to the latest conversation");
                            self.store
                                .set_conversation(zalo_user_id.to_string(), latest.clone(), None)
                                .await?;
                        }
                        None => {
                            may_resume = false;
                            self.store
                                .forget_conversation(zalo_user_id.to_string())
                                .await?;
                        }
                    }
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(SyncError::ConversationMoving)
    }

    async fn first_message_id(&self, conversation_id: &str) -> Option<String> {
        let page = self
            .freshchat
            .list_messages(conversation_id, None, 10)
            .await
            .ok()?;
        page.messages.last().map(|m| m.id.clone())
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
