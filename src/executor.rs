//! The executor: carries out a plan's steps with every external effect journalled.
//!
//! A step is recorded `sending` before its call and `sent` (with the remote id and the id pairing,
//! in one transaction) after it. A step found `sending` on a later attempt (a crash, a timeout) is
//! reconciled first: zfsync looks for the message in the Freshchat conversation or the Zalo history
//! and only sends again when it is not there, so a message is neither lost nor doubled. When the
//! remote side answered with an error the call certainly did not take effect, and the journal entry
//! is dropped so the retry needs no reconciliation.

use std::sync::Arc;

use base64::Engine as _;
use bytes::Bytes;
use tokio::sync::OnceCell;
use zfsync_freshchat::{
    ActorType, FreshchatClient, FreshchatError, MessagePart, MessageType, NewConversation,
    NewMessage, NewUser, Property, UserRef, UserUpdate, WebhookEvent,
};
use zfsync_mappings::{
    plan_freshchat, plan_zalo, FreshchatKnowledge, MediaKind, OutPart, Plan, Rules, Step,
    Visibility, ZaloKnowledge, ZaloSend,
};
use zfsync_zalo::{MediaSource, OutboundMessage, ZaloClient, ZaloError, ZaloEvent};

use crate::error::SyncError;
use crate::store::{self, now_ms, Contact, HostedFile, InboxRow, Source, Store};
use crate::tokens::TokenManager;

/// How far back (ms) reconciliation looks before a step's start for its message.
const RECONCILE_SLACK_MS: i64 = 120_000;
/// How long a Freshchat conversation found not to belong to a Zalo user is remembered.
const UNLINKED_RECHECK_MS: i64 = 24 * 3600 * 1000;
/// How long after a failed attempt zfsync tries again to complete a contact's Zalo profile.
const PROFILE_RETRY_MS: i64 = 3600 * 1000;
/// Zalo upload limits (reference Part A).
const ZALO_IMAGE_MAX: usize = 1024 * 1024;
const ZALO_GIF_MAX: usize = 5 * 1024 * 1024;
const ZALO_FILE_MAX: usize = 5 * 1024 * 1024;
const META_TXT_UPLOAD: &str = "zalo_txt_upload";

/// How handling an event ended (errors are returned separately).
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Done,
    Ignored(String),
    /// Try again shortly (an own send is in flight; this may be its echo).
    Deferred,
}

pub struct Executor {
    parts: ExecutorParts,
    resolved_channel: OnceCell<String>,
}

impl std::fmt::Debug for Executor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Executor")
            .field("oa_id", &self.parts.oa_id)
            .finish_non_exhaustive()
    }
}

#[derive(Debug)]
pub struct ExecutorParts {
    pub store: Store,
    pub zalo: ZaloClient,
    pub freshchat: FreshchatClient,
    pub tokens: Arc<TokenManager>,
    pub rules: Arc<Rules>,
    pub oa_id: Option<String>,
    pub freshchat_app_id: Option<String>,
    pub channel_id: Option<String>,
    pub channel_name: Option<String>,
    pub public_url: String,
    pub hosted_file_ttl_ms: i64,
}

impl Executor {
    pub fn new(parts: ExecutorParts) -> Executor {
        Executor {
            parts,
            resolved_channel: OnceCell::new(),
        }
    }

    fn oa_id(&self) -> String {
        self.parts
            .oa_id
            .clone()
            .or_else(|| self.parts.tokens.status().oa_id)
            .unwrap_or_default()
    }

    /// Handles one stored event: plan it, then run its steps.
    pub async fn handle(&self, row: &InboxRow) -> Result<Outcome, SyncError> {
        let plan = self.plan(row).await?;
        if plan.defer {
            return Ok(Outcome::Deferred);
        }
        if plan.steps.is_empty() {
            return Ok(Outcome::Ignored(
                plan.ignored.unwrap_or_else(|| "nothing to do".into()),
            ));
        }
        for (idx, step) in plan.steps.iter().enumerate() {
            self.run_step(row, idx as i64, step).await?;
        }
        Ok(Outcome::Done)
    }

    /// The plan for an event, with what the store (or, for a lost store, Freshchat) knows.
    pub async fn plan(&self, row: &InboxRow) -> Result<Plan, SyncError> {
        match row.source {
            Source::Zalo => {
                let ev = zfsync_zalo::parse_event(&row.body)
                    .map_err(|e| SyncError::BadEvent(e.to_string()))?;
                let k = self.zalo_knowledge(&ev).await?;
                Ok(plan_zalo(&ev, &k, &self.parts.rules))
            }
            Source::Freshchat => {
                let ev = zfsync_freshchat::parse_event(&row.body)
                    .map_err(|e| SyncError::BadEvent(e.to_string()))?;
                let k = self.freshchat_knowledge(&ev).await?;
                Ok(plan_freshchat(&ev, &k, &self.parts.rules))
            }
        }
    }

    async fn zalo_knowledge(&self, ev: &ZaloEvent) -> Result<ZaloKnowledge, SyncError> {
        let mut k = ZaloKnowledge {
            oa_id: self.oa_id(),
            ..Default::default()
        };
        match ev {
            ZaloEvent::OaMessage(m) => {
                // Order matters: the journal marks a send `sent` and records its message id in one
                // transaction. Asking "in flight?" first means that when it says no, the id is
                // already there for the second question; the other order can miss both.
                let in_flight = m.admin_id.is_none()
                    && self
                        .parts
                        .store
                        .zalo_send_in_flight(m.user_id.clone())
                        .await?;
                k.own_message = self
                    .parts
                    .store
                    .known_zalo_message(m.msg_id.clone())
                    .await?
                    .as_deref()
                    == Some("to_zalo");
                k.own_send_in_flight = in_flight && !k.own_message;
            }
            ZaloEvent::UserMessage(m) => {
                if let Some(q) = &m.quote_msg_id {
                    k.quoted_text = self.parts.store.zalo_message_preview(q.clone()).await?;
                }
            }
            ZaloEvent::UserReacted { msg_id, .. } => {
                k.reacted_text = self
                    .parts
                    .store
                    .zalo_message_preview(msg_id.clone())
                    .await?;
            }
            _ => {}
        }
        Ok(k)
    }

    async fn freshchat_knowledge(
        &self,
        ev: &WebhookEvent,
    ) -> Result<FreshchatKnowledge, SyncError> {
        let mut k = FreshchatKnowledge::default();
        if let WebhookEvent::MessageCreate { message, .. } = ev {
            k.own_message = self
                .parts
                .store
                .own_freshchat_message(message.id.clone())
                .await?;
            // Only agent/bot normal messages need the Zalo side; skip the lookups for the rest.
            let relevant = matches!(message.message_type, MessageType::Normal)
                && matches!(message.actor_type, ActorType::Agent | ActorType::Bot);
            if !relevant {
                return Ok(k);
            }
        }
        if let Some(conv) = ev.conversation_id() {
            k.zalo_user_id = self.zalo_user_for_conversation(conv).await?;
        }
        Ok(k)
    }

    /// The Zalo user behind a Freshchat conversation: from the store, or rebuilt from Freshchat
    /// (conversation → user → reference_id) when the store has lost it.
    async fn zalo_user_for_conversation(
        &self,
        conversation_id: &str,
    ) -> Result<Option<String>, SyncError> {
        if let Some(u) = self
            .parts
            .store
            .zalo_user_of_conversation(conversation_id.to_string())
            .await?
        {
            return Ok(Some(u));
        }
        // Conversations of other channels (website chat, ...) are looked up once a day, not on
        // every agent message.
        if let Some(t) = self
            .parts
            .store
            .unlinked_checked_at(conversation_id.to_string())
            .await?
        {
            if now_ms() - t < UNLINKED_RECHECK_MS {
                return Ok(None);
            }
        }
        let found = self.zalo_user_from_freshchat(conversation_id).await?;
        if found.is_none() {
            self.parts
                .store
                .mark_unlinked(conversation_id.to_string())
                .await?;
        }
        Ok(found)
    }

    /// Rebuilds a conversation's Zalo pairing from Freshchat: conversation → user → reference_id.
    async fn zalo_user_from_freshchat(
        &self,
        conversation_id: &str,
    ) -> Result<Option<String>, SyncError> {
        let conv = match timed(
            "freshchat",
            "get_conversation",
            self.parts.freshchat.get_conversation(conversation_id),
        )
        .await
        {
            Ok(c) => c,
            Err(FreshchatError::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let Some(user_id) = conv.user_id.clone() else {
            return Ok(None);
        };
        let user = match timed(
            "freshchat",
            "get_user",
            self.parts.freshchat.get_user(&user_id),
        )
        .await
        {
            Ok(u) => u,
            Err(FreshchatError::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let zalo_user = user
            .reference_id
            .as_deref()
            .and_then(|r| zalo_user_from_reference(r, &self.parts.rules));
        if let Some(z) = &zalo_user {
            tracing::info!(
                conversation_id,
                "rebuilt the Zalo pairing of a conversation from Freshchat"
            );
            let contact = Contact {
                zalo_user_id: z.clone(),
                freshchat_user_id: user.id.clone(),
                display_name: user.first_name.clone().unwrap_or_default(),
                avatar: user.avatar.as_ref().and_then(|a| a.url.clone()),
                profile_complete: true,
                following: None,
                first_seen_at: now_ms(),
                profile_checked_at: None,
            };
            let (zz, conv_id) = (z.clone(), conversation_id.to_string());
            self.parts
                .store
                .write(move |c| {
                    store::put_contact(c, &contact)?;
                    store::put_conversation(c, &zz, &conv_id, None)
                })
                .await?;
        }
        Ok(zalo_user)
    }

    async fn run_step(&self, row: &InboxRow, idx: i64, step: &Step) -> Result<(), SyncError> {
        if step.is_external() {
            if let Some(j) = self.parts.store.step(row.id, idx).await? {
                if j.state == "sent" {
                    return Ok(());
                }
                // `sending`: the outcome of an earlier call is unknown. Look before sending again.
                if self.reconcile(row, idx, step, j.started_at).await? {
                    return Ok(());
                }
            }
        }
        match step {
            Step::EnsureContact { .. } => self.ensure_contact(row, idx, step).await.map(|_| ()),
            Step::PostToFreshchat {
                zalo_user_id,
                zalo_msg_id,
                visibility,
                parts,
            } => {
                self.post_to_freshchat(
                    row,
                    idx,
                    zalo_user_id,
                    zalo_msg_id.as_deref(),
                    *visibility,
                    parts,
                )
                .await
            }
            Step::SendToZalo {
                zalo_user_id,
                freshchat_message_id,
                message,
            } => {
                self.send_to_zalo(
                    row,
                    idx,
                    zalo_user_id,
                    freshchat_message_id.as_deref(),
                    message,
                )
                .await
            }
            Step::RecordFollow {
                zalo_user_id,
                following,
            } => self.record_follow(row, idx, zalo_user_id, *following).await,
            Step::RecordReceipt { msg_ids, seen, .. } => {
                self.parts
                    .store
                    .record_receipts(msg_ids.clone(), *seen)
                    .await?;
                Ok(())
            }
        }
    }

    // ------------------------------------------------------------------ Zalo → Freshchat

    async fn ensure_contact(
        &self,
        row: &InboxRow,
        idx: i64,
        step: &Step,
    ) -> Result<Contact, SyncError> {
        let Step::EnsureContact {
            zalo_user_id,
            oa_id,
            reference_id,
            first_name,
            last_name,
            fallback_display_name,
            provider,
        } = step
        else {
            return Err(SyncError::Other(
                "ensure_contact called with another step".into(),
            ));
        };
        if let Some(c) = self.parts.store.contact(zalo_user_id.clone()).await? {
            let due = c
                .profile_checked_at
                .is_none_or(|t| now_ms() - t >= PROFILE_RETRY_MS);
            if !c.profile_complete && due {
                self.complete_profile(&c, first_name, last_name).await;
            }
            return Ok(c);
        }
        self.parts
            .store
            .begin_step(row.id, idx, step.kind(), None)
            .await?;
        // A user found by reference_id is reused: a lost store never duplicates users.
        let existing = timed(
            "freshchat",
            "find_users_by_reference_id",
            self.parts
                .freshchat
                .find_users_by_reference_id(reference_id),
        )
        .await?;
        let found = existing
            .into_iter()
            .find(|u| u.reference_id.as_deref() == Some(reference_id.as_str()));
        let contact = match found {
            Some(u) => Contact {
                zalo_user_id: zalo_user_id.clone(),
                freshchat_user_id: u.id.clone(),
                display_name: u
                    .first_name
                    .clone()
                    .unwrap_or_else(|| fallback_display_name.clone()),
                avatar: u.avatar.as_ref().and_then(|a| a.url.clone()),
                profile_complete: u.first_name.as_deref() != Some(fallback_display_name.as_str()),
                following: None,
                first_seen_at: now_ms(),
                profile_checked_at: None,
            },
            None => {
                let profile = self.parts.tokens.call(|t| {
                    let z = self.parts.zalo.clone();
                    let uid = zalo_user_id.clone();
                    async move { z.user_detail(&t, &uid).await }
                });
                let (name, avatar, complete) = match profile.await {
                    Ok(p) if !p.display_name.trim().is_empty() => (p.display_name, p.avatar, true),
                    Ok(_) => (fallback_display_name.clone(), None, false),
                    Err(e) => {
                        // The profile is optional: the message still goes through under a fallback name.
                        tracing::warn!(error = %e, "zalo profile unavailable; using a fallback name until it is");
                        (fallback_display_name.clone(), None, false)
                    }
                };
                let first_seen = row_time_iso(row);
                let new_user = NewUser {
                    first_name: Some(zfsync_mappings::template::fill(
                        first_name,
                        &[("display_name", &name)],
                    )),
                    last_name: Some(last_name.clone()),
                    reference_id: Some(reference_id.clone()),
                    avatar: avatar
                        .clone()
                        .map(|url| zfsync_freshchat::Avatar { url: Some(url) }),
                    properties: contact_properties(
                        provider,
                        zalo_user_id,
                        oa_id,
                        Some(&first_seen),
                        None,
                    ),
                };
                let user = timed(
                    "freshchat",
                    "create_user",
                    self.parts.freshchat.create_user(&new_user),
                )
                .await?;
                tracing::info!(freshchat_user_id = %user.id, "created Freshchat user for a Zalo sender");
                Contact {
                    zalo_user_id: zalo_user_id.clone(),
                    freshchat_user_id: user.id,
                    display_name: name,
                    avatar,
                    profile_complete: complete,
                    following: None,
                    first_seen_at: row.received_at,
                    profile_checked_at: None,
                }
            }
        };
        let c2 = contact.clone();
        self.parts
            .store
            .finish_step(
                row.id,
                idx,
                Some(contact.freshchat_user_id.clone()),
                move |c| store::put_contact(c, &c2),
            )
            .await?;
        Ok(contact)
    }

    /// Best effort: a contact created under a fallback name gets its Zalo profile once Zalo gives it.
    async fn complete_profile(&self, c: &Contact, first_name: &str, last_name: &str) {
        let uid = c.zalo_user_id.clone();
        let profile = self
            .parts
            .tokens
            .call(|t| {
                let z = self.parts.zalo.clone();
                let uid = uid.clone();
                async move { z.user_detail(&t, &uid).await }
            })
            .await;
        let p = match profile {
            Ok(p) if !p.display_name.trim().is_empty() => p,
            _ => {
                // Not a follower, or no permission: try again after PROFILE_RETRY_MS rather than
                // on every message (Zalo counts every call against the app's limit).
                let _ = self
                    .parts
                    .store
                    .profile_check_failed(c.zalo_user_id.clone())
                    .await;
                return;
            }
        };
        let update = UserUpdate {
            first_name: Some(zfsync_mappings::template::fill(
                first_name,
                &[("display_name", &p.display_name)],
            )),
            last_name: Some(last_name.to_string()),
            avatar: p
                .avatar
                .clone()
                .map(|url| zfsync_freshchat::Avatar { url: Some(url) }),
            properties: None,
        };
        if timed(
            "freshchat",
            "update_user",
            self.parts
                .freshchat
                .update_user(&c.freshchat_user_id, &update),
        )
        .await
        .is_ok()
        {
            let _ = self
                .parts
                .store
                .update_profile(c.zalo_user_id.clone(), p.display_name, p.avatar)
                .await;
        }
    }

    async fn channel(&self) -> Result<String, SyncError> {
        if let Some(id) = &self.parts.channel_id {
            return Ok(id.clone());
        }
        let id = self
            .resolved_channel
            .get_or_try_init(|| async {
                let channels = timed(
                    "freshchat",
                    "list_channels",
                    self.parts.freshchat.list_channels(),
                )
                .await?;
                let pick = match &self.parts.channel_name {
                    Some(name) => channels
                        .iter()
                        .find(|c| c.name.as_deref() == Some(name.as_str())),
                    None => channels.iter().find(|c| c.enabled.unwrap_or(true)),
                };
                pick.map(|c| c.id.clone()).ok_or_else(|| {
                    SyncError::Other(match &self.parts.channel_name {
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

    async fn post_to_freshchat(
        &self,
        row: &InboxRow,
        idx: i64,
        zalo_user_id: &str,
        zalo_msg_id: Option<&str>,
        visibility: Visibility,
        parts: &[OutPart],
    ) -> Result<(), SyncError> {
        let contact = self
            .parts
            .store
            .contact(zalo_user_id.to_string())
            .await?
            .ok_or_else(|| SyncError::Other("contact missing after ensure_contact".into()))?;
        // Media first (no journal needed: an upload repeated after a crash is harmless).
        let mut fc_parts = Vec::with_capacity(parts.len());
        let mut notes = Vec::new();
        for p in parts {
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
                } => {
                    match self
                        .copy_media(*kind, url, filename.as_deref(), *size, *max_bytes)
                        .await?
                    {
                        Ok(part) => fc_parts.push(part),
                        Err(reason) => {
                            tracing::warn!(kind = kind.label(), %reason, "media not transferred; posting a text part instead");
                            metrics::counter!("zfsync_media_fallbacks_total", "direction" => "to_freshchat").increment(1);
                            let vars = [("reason", reason.as_str())];
                            fc_parts.push(MessagePart::Text {
                                content: zfsync_mappings::template::fill(fallback_text, &vars),
                            });
                            notes.push(zfsync_mappings::template::fill(failure_note, &vars));
                        }
                    }
                }
            }
        }
        let message = match visibility {
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
        self.parts
            .store
            .begin_step(
                row.id,
                idx,
                if visibility == Visibility::Customer {
                    "post_freshchat"
                } else {
                    "post_freshchat_note"
                },
                None,
            )
            .await?;
        let mut posted = self
            .post_in_current_conversation(&contact, zalo_user_id, &message)
            .await;
        // Freshchat refused the message itself (4xx): never lose what the customer wrote. Send it
        // again with every attachment replaced by its fallback text, and tell the agents.
        if let Err(SyncError::Freshchat(FreshchatError::Invalid { message: why, .. })) = &posted {
            if parts.iter().any(|p| matches!(p, OutPart::Media { .. })) {
                tracing::warn!(reason = %why, "Freshchat refused a message with attachments; posting it as text");
                let reason = format!("Freshchat refused the attachment: {why}");
                let mut text_only = message.clone();
                text_only.message_parts = parts
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
                posted = self
                    .post_in_current_conversation(&contact, zalo_user_id, &text_only)
                    .await;
            }
        }
        let (conversation_id, message_id) = match posted {
            Ok(v) => v,
            Err(e) => {
                self.abandon_unless_unknown(row.id, idx, &e).await;
                return Err(e);
            }
        };
        let (uid, mid, fcid, prev) = (
            zalo_user_id.to_string(),
            zalo_msg_id.map(str::to_string),
            message_id.clone(),
            preview,
        );
        self.parts
            .store
            .finish_step(
                row.id,
                idx,
                message_id.clone().or(Some(conversation_id.clone())),
                move |c| {
                    store::put_message(c, false, &uid, mid.as_deref(), fcid.as_deref(), Some(&prev))
                },
            )
            .await?;
        metrics::counter!("zfsync_messages_synced_total", "direction" => "to_freshchat")
            .increment(1);
        tracing::info!(zalo_msg_id = zalo_msg_id.unwrap_or(""), freshchat_message_id = message_id.as_deref().unwrap_or(""), conversation_id = %conversation_id, "synced Zalo → Freshchat");
        for note in notes {
            if let Err(e) = timed(
                "freshchat",
                "post_message",
                self.parts.freshchat.post_message(
                    &conversation_id,
                    &bot_note(vec![MessagePart::Text { content: note }]),
                ),
            )
            .await
            {
                tracing::warn!(error = %e, "could not post the media failure note");
            }
        }
        Ok(())
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
            let mut current = self
                .parts
                .store
                .conversation_of(zalo_user_id.to_string())
                .await?;
            if current.is_none() && may_resume {
                // No pairing in the store (a new contact, or a lost store): resume the user's
                // latest Freshchat conversation rather than opening a second one.
                may_resume = false;
                let ids = timed(
                    "freshchat",
                    "user_conversations",
                    self.parts
                        .freshchat
                        .user_conversations(&contact.freshchat_user_id),
                )
                .await?;
                if let Some(latest) = ids.last() {
                    self.parts
                        .store
                        .set_conversation(zalo_user_id.to_string(), latest.clone(), None)
                        .await?;
                    current = Some(latest.clone());
                }
            }
            let Some(conversation_id) = current else {
                let conv = timed(
                    "freshchat",
                    "create_conversation",
                    self.parts.freshchat.create_conversation(&NewConversation {
                        channel_id: self.channel().await?,
                        users: vec![UserRef {
                            id: contact.freshchat_user_id.clone(),
                        }],
                        messages: vec![message.clone()],
                        app_id: self.parts.freshchat_app_id.clone(),
                        status: Some("new".into()),
                    }),
                )
                .await?;
                let internal = conv
                    .conversation_internal_id
                    .as_ref()
                    .map(|v| v.to_string().trim_matches('"').to_string());
                self.parts
                    .store
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
            match timed(
                "freshchat",
                "post_message",
                self.parts.freshchat.post_message(&conversation_id, message),
            )
            .await
            {
                Ok(m) => return Ok((conversation_id, Some(m.id))),
                Err(FreshchatError::NotLatestConversation { .. })
                | Err(FreshchatError::NotFound { .. }) => {
                    let ids = timed(
                        "freshchat",
                        "user_conversations",
                        self.parts
                            .freshchat
                            .user_conversations(&contact.freshchat_user_id),
                    )
                    .await?;
                    match ids.last().filter(|id| **id != conversation_id) {
                        Some(latest) => {
                            tracing::info!(from = %conversation_id, to = %latest, "following Freshchat to the latest conversation");
                            self.parts
                                .store
                                .set_conversation(zalo_user_id.to_string(), latest.clone(), None)
                                .await?;
                        }
                        None => {
                            may_resume = false;
                            let zu = zalo_user_id.to_string();
                            self.parts
                                .store
                                .write(move |c| {
                                    c.execute(
                                        "DELETE FROM conversations WHERE zalo_user_id = ?1",
                                        [zu],
                                    )?;
                                    Ok(())
                                })
                                .await?;
                        }
                    }
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(SyncError::Other(
            "Freshchat kept moving the conversation; will retry".into(),
        ))
    }

    async fn first_message_id(&self, conversation_id: &str) -> Option<String> {
        let page = timed(
            "freshchat",
            "list_messages",
            self.parts
                .freshchat
                .list_messages(conversation_id, None, 10),
        )
        .await
        .ok()?;
        page.messages.last().map(|m| m.id.clone())
    }

    /// Downloads media from Zalo and uploads it to Freshchat. The outer error is transient (retry
    /// the step); the inner `Err(reason)` means "post a text instead".
    async fn copy_media(
        &self,
        kind: MediaKind,
        url: &str,
        filename: Option<&str>,
        size: Option<u64>,
        max_bytes: u64,
    ) -> Result<Result<MessagePart, String>, SyncError> {
        if size.is_some_and(|s| s > max_bytes) {
            return Ok(Err(format!(
                "larger than the {} MB limit",
                max_bytes / 1_000_000
            )));
        }
        let mut download =
            timed("zalo", "download", self.parts.zalo.download(url, max_bytes)).await;
        if matches!(&download, Err(e) if e.is_transient()) {
            download = timed("zalo", "download", self.parts.zalo.download(url, max_bytes)).await;
        }
        let d = match download {
            Ok(d) => d,
            Err(ZaloError::TooLarge { limit }) => {
                return Ok(Err(format!(
                    "larger than the {} MB limit",
                    limit / 1_000_000
                )))
            }
            Err(e) => return Ok(Err(format!("download failed: {e}"))),
        };
        let name = filename
            .map(str::to_string)
            .or(d.filename.clone())
            .unwrap_or_else(|| default_filename(kind, d.content_type.as_deref()));
        let content_type = d
            .content_type
            .clone()
            .filter(|c| !c.is_empty() && c != "application/octet-stream")
            .unwrap_or_else(|| {
                mime_guess::from_path(&name)
                    .first_or_octet_stream()
                    .to_string()
            });
        let len = d.bytes.len() as u64;
        let result = match kind {
            MediaKind::Image | MediaKind::Gif | MediaKind::Sticker => timed(
                "freshchat",
                "upload_image",
                self.parts
                    .freshchat
                    .upload_image(&name, &content_type, d.bytes),
            )
            .await
            .map(|u| MessagePart::Image { url: u.url }),
            MediaKind::Video => timed(
                "freshchat",
                "upload_file",
                self.parts
                    .freshchat
                    .upload_file(&name, &content_type, d.bytes),
            )
            .await
            .map(|u| match u.url {
                Some(url) => MessagePart::Video {
                    url,
                    content_type: Some(content_type.clone()),
                },
                None => MessagePart::File {
                    name: Some(name.clone()),
                    url: None,
                    file_size_in_bytes: Some(len),
                    content_type: Some(content_type.clone()),
                },
            }),
            MediaKind::Audio | MediaKind::File => timed(
                "freshchat",
                "upload_file",
                self.parts
                    .freshchat
                    .upload_file(&name, &content_type, d.bytes),
            )
            .await
            .map(|u| MessagePart::File {
                name: Some(u.file_name.clone().unwrap_or(name.clone())),
                url: u.url,
                file_size_in_bytes: Some(u.file_size.unwrap_or(len)),
                content_type: Some(u.file_content_type.clone().unwrap_or(content_type.clone())),
            }),
        };
        match result {
            Ok(p) => Ok(Ok(p)),
            Err(e) if e.is_transient() => Err(e.into()),
            Err(e) => Ok(Err(format!("Freshchat refused the upload: {e}"))),
        }
    }

    async fn record_follow(
        &self,
        row: &InboxRow,
        idx: i64,
        zalo_user_id: &str,
        following: bool,
    ) -> Result<(), SyncError> {
        let known = self
            .parts
            .store
            .set_following(zalo_user_id.to_string(), following)
            .await?;
        if !known {
            return Ok(());
        }
        let Some(c) = self.parts.store.contact(zalo_user_id.to_string()).await? else {
            return Ok(());
        };
        self.parts
            .store
            .begin_step(row.id, idx, "record_follow", None)
            .await?;
        let props = contact_properties(
            &self.parts.rules.contact.provider,
            zalo_user_id,
            &self.oa_id(),
            None,
            Some(following),
        );
        let update = UserUpdate {
            first_name: None,
            last_name: None,
            avatar: None,
            properties: Some(props),
        };
        if let Err(e) = timed(
            "freshchat",
            "update_user",
            self.parts
                .freshchat
                .update_user(&c.freshchat_user_id, &update),
        )
        .await
        {
            let err = SyncError::Freshchat(e);
            self.abandon_unless_unknown(row.id, idx, &err).await;
            return Err(err);
        }
        Ok(self
            .parts
            .store
            .finish_step(row.id, idx, None, |_| Ok(()))
            .await?)
    }

    // ------------------------------------------------------------------ Freshchat → Zalo

    async fn send_to_zalo(
        &self,
        row: &InboxRow,
        idx: i64,
        zalo_user_id: &str,
        freshchat_message_id: Option<&str>,
        send: &ZaloSend,
    ) -> Result<(), SyncError> {
        let (outbound, preview) = self.prepare_zalo_message(zalo_user_id, send).await?;
        self.parts
            .store
            .begin_step(row.id, idx, "send_zalo", Some(zalo_user_id.to_string()))
            .await?;
        let sent = self
            .parts
            .tokens
            .call(|t| {
                let z = self.parts.zalo.clone();
                let (uid, msg) = (zalo_user_id.to_string(), outbound.clone());
                async move { z.send_message(&t, &uid, &msg).await }
            })
            .await;
        let sent = match sent {
            Ok(s) => s,
            Err(e) => {
                self.abandon_unless_unknown(row.id, idx, &e).await;
                return Err(e);
            }
        };
        let (uid, zid, fid) = (
            zalo_user_id.to_string(),
            sent.message_id.clone(),
            freshchat_message_id.map(str::to_string),
        );
        self.parts
            .store
            .finish_step(row.id, idx, Some(sent.message_id.clone()), move |c| {
                store::put_message(c, true, &uid, Some(&zid), fid.as_deref(), Some(&preview))
            })
            .await?;
        metrics::counter!("zfsync_messages_synced_total", "direction" => "to_zalo").increment(1);
        tracing::info!(zalo_msg_id = %sent.message_id, freshchat_message_id = freshchat_message_id.unwrap_or(""), "synced Freshchat → Zalo");
        Ok(())
    }

    /// Turns a planned send into a Zalo message, uploading what has to be uploaded first.
    async fn prepare_zalo_message(
        &self,
        _zalo_user_id: &str,
        send: &ZaloSend,
    ) -> Result<(OutboundMessage, String), SyncError> {
        Ok(match send {
            ZaloSend::Text(t) => (
                OutboundMessage::Text {
                    text: t.clone(),
                    quote_message_id: None,
                },
                preview_text(t),
            ),
            ZaloSend::LongText {
                text,
                filename,
                link_text,
            } => {
                let bytes = Bytes::from(text.clone().into_bytes());
                if self.parts.store.meta(META_TXT_UPLOAD).await?.as_deref() != Some("refused") {
                    let up = self
                        .parts
                        .tokens
                        .call(|t| {
                            let (z, n, b) =
                                (self.parts.zalo.clone(), filename.clone(), bytes.clone());
                            async move { z.upload_file(&t, &n, b).await }
                        })
                        .await;
                    match up {
                        Ok(token) => {
                            self.parts
                                .store
                                .set_meta(META_TXT_UPLOAD, "accepted".into())
                                .await?;
                            return Ok((OutboundMessage::File { token }, preview_text(text)));
                        }
                        Err(SyncError::Zalo(e)) if e.code() == Some(-201) => {
                            tracing::info!("this OA's file upload refuses .txt; long replies will be hosted by zfsync");
                            self.parts
                                .store
                                .set_meta(META_TXT_UPLOAD, "refused".into())
                                .await?;
                        }
                        Err(e) if e.is_transient() => return Err(e),
                        Err(e) => {
                            tracing::warn!(error = %e, "upload of a long reply failed; hosting it instead")
                        }
                    }
                }
                let url = self
                    .host_file(
                        filename,
                        "text/plain; charset=utf-8",
                        text.as_bytes().to_vec(),
                    )
                    .await?;
                let msg = zfsync_mappings::template::fill(link_text, &[("url", &url)]);
                (
                    OutboundMessage::Text {
                        text: msg,
                        quote_message_id: None,
                    },
                    preview_text(text),
                )
            }
            ZaloSend::Image { url, link_text } => match self.image_message(url).await? {
                Some(m) => (m, format!("[image] {url}")),
                None => (
                    OutboundMessage::Text {
                        text: link_text.clone(),
                        quote_message_id: None,
                    },
                    preview_text(link_text),
                ),
            },
            ZaloSend::File {
                url,
                name,
                link_text,
            } => match self.file_message(url, name).await? {
                Some(m) => (m, format!("[file] {name}")),
                None => (
                    OutboundMessage::Text {
                        text: link_text.clone(),
                        quote_message_id: None,
                    },
                    preview_text(link_text),
                ),
            },
        })
    }

    async fn host_file(
        &self,
        filename: &str,
        content_type: &str,
        body: Vec<u8>,
    ) -> Result<String, SyncError> {
        let mut raw = [0u8; 24];
        aws_lc_rs::rand::fill(&mut raw)
            .map_err(|_| SyncError::Other("no randomness available".into()))?;
        let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw);
        self.parts
            .store
            .put_hosted_file(
                token.clone(),
                HostedFile {
                    filename: filename.to_string(),
                    content_type: content_type.to_string(),
                    body,
                },
                self.parts.hosted_file_ttl_ms,
            )
            .await?;
        Ok(format!(
            "{}/files/{token}",
            self.parts.public_url.trim_end_matches('/')
        ))
    }

    /// An agent's attachment, fetched for re-upload to Zalo. None: send the link instead (the
    /// download failed for good, or the file is larger than Zalo takes).
    async fn download_for_zalo(
        &self,
        url: &str,
        max_bytes: usize,
    ) -> Result<Option<Bytes>, SyncError> {
        match timed(
            "freshchat",
            "download",
            self.parts.freshchat.download(url, max_bytes as u64),
        )
        .await
        {
            Ok(d) => Ok(Some(d.bytes)),
            Err(e) if e.is_transient() => Err(e.into()),
            Err(_) => Ok(None),
        }
    }

    /// An image for Zalo: jpg/png ≤ 1 MB via /upload/image, gif ≤ 5 MB via /upload/gif; None means
    /// "send the link instead".
    async fn image_message(&self, url: &str) -> Result<Option<OutboundMessage>, SyncError> {
        let Some(b) = self.download_for_zalo(url, ZALO_GIF_MAX).await? else {
            return Ok(None);
        };
        let kind = sniff_image(&b);
        let upload = match kind {
            Some("jpg") | Some("png") if b.len() <= ZALO_IMAGE_MAX => {
                let name = format!("image.{}", kind.unwrap_or("jpg"));
                self.parts
                    .tokens
                    .call(|t| {
                        let (z, n, bb) = (self.parts.zalo.clone(), name.clone(), b.clone());
                        async move { z.upload_image(&t, &n, bb).await }
                    })
                    .await
                    .map(|id| OutboundMessage::Image {
                        source: MediaSource::AttachmentId(id),
                        caption: None,
                    })
            }
            Some("gif") => {
                let (w, h) = gif_size(&b).unwrap_or((240, 240));
                self.parts
                    .tokens
                    .call(|t| {
                        let (z, bb) = (self.parts.zalo.clone(), b.clone());
                        async move { z.upload_gif(&t, "image.gif", bb).await }
                    })
                    .await
                    .map(|id| OutboundMessage::Gif {
                        attachment_id: id,
                        width: w,
                        height: h,
                        caption: None,
                    })
            }
            _ => return Ok(None),
        };
        or_link(upload, "image")
    }

    /// A document for Zalo via /upload/file (PDF, DOC, DOCX ≤ 5 MB); None means "send the link".
    async fn file_message(
        &self,
        url: &str,
        name: &str,
    ) -> Result<Option<OutboundMessage>, SyncError> {
        let ext = name
            .rsplit_once('.')
            .map(|(_, e)| e.to_ascii_lowercase())
            .unwrap_or_default();
        if !matches!(ext.as_str(), "pdf" | "doc" | "docx") {
            return Ok(None);
        }
        let Some(b) = self.download_for_zalo(url, ZALO_FILE_MAX).await? else {
            return Ok(None);
        };
        let upload = self
            .parts
            .tokens
            .call(|t| {
                let (z, n, bb) = (self.parts.zalo.clone(), name.to_string(), b.clone());
                async move { z.upload_file(&t, &n, bb).await }
            })
            .await
            .map(|token| OutboundMessage::File { token });
        or_link(upload, "file")
    }

    /// After a permanent failure of a Freshchat → Zalo event: tell the agents why, in the conversation.
    pub async fn explain_failure(&self, row: &InboxRow, err: &SyncError) {
        if row.source != Source::Freshchat {
            return;
        }
        let Ok(ev) = zfsync_freshchat::parse_event(&row.body) else {
            return;
        };
        let Some(conv) = ev.conversation_id() else {
            return;
        };
        let text = match err {
            SyncError::Zalo(e) => match e {
                ZaloError::Api { code, message } => {
                    self.parts.rules.zalo_error_note(Some(*code), message)
                }
                other => self
                    .parts
                    .rules
                    .zalo_error_note(other.code(), &other.to_string()),
            },
            other => format!("Not delivered to Zalo: {other}"),
        };
        if let Err(e) = timed(
            "freshchat",
            "post_message",
            self.parts
                .freshchat
                .post_message(conv, &bot_note(vec![MessagePart::Text { content: text }])),
        )
        .await
        {
            tracing::warn!(error = %e, "could not post the failure note in Freshchat");
        }
    }

    // ------------------------------------------------------------------ catching up

    /// Queues agent replies that Freshchat created while zfsync could not receive them (down, or
    /// a delivery lost), read from each recently active conversation's history. They enter their
    /// lanes by creation time, so they go out in order even when Freshchat redelivers them late;
    /// the webhook that arrives afterwards is a duplicate and changes nothing.
    pub async fn catch_up_freshchat(&self, window_ms: i64) -> Result<usize, SyncError> {
        let lanes = self.parts.store.recent_freshchat_lanes(window_ms).await?;
        let mut queued = 0;
        for (lane, last_known) in lanes {
            let Some(conversation_id) = lane.strip_prefix("fc:") else {
                continue;
            };
            let page = match timed(
                "freshchat",
                "list_messages",
                self.parts
                    .freshchat
                    .list_messages(conversation_id, None, 50),
            )
            .await
            {
                Ok(p) => p,
                Err(e) => {
                    tracing::warn!(error = %e, conversation_id, "cannot read a conversation's history to catch up");
                    continue;
                }
            };
            let mut missed: Vec<_> = page
                .messages
                .into_iter()
                .filter(|m| {
                    matches!(m.message_type, MessageType::Normal)
                        && matches!(m.actor_type, ActorType::Agent | ActorType::Bot)
                })
                .filter_map(|m| {
                    let t = m.created_time.as_deref().and_then(parse_iso_ms)?;
                    (t > last_known).then_some((t, m))
                })
                .collect();
            missed.sort_by_key(|(t, _)| *t);
            for (t, m) in missed {
                let body = serde_json::json!({
                    "actor": { "actor_type": m.actor_type.as_str(), "actor_id": m.actor_id },
                    "action": zfsync_freshchat::webhook::ACTION_MESSAGE_CREATE,
                    "action_time": m.created_time,
                    "data": { "message": m },
                });
                if self
                    .queue_caught_up(
                        Source::Freshchat,
                        m.id.clone(),
                        lane.clone(),
                        zfsync_freshchat::webhook::ACTION_MESSAGE_CREATE,
                        &body,
                        t,
                    )
                    .await?
                {
                    queued += 1;
                }
            }
        }
        if queued > 0 {
            tracing::info!(
                queued,
                "caught up agent replies that Freshchat created while zfsync was not receiving"
            );
        }
        Ok(queued)
    }

    /// Queues customer messages that never reached zfsync (an outage longer than Zalo's retry
    /// ladder, a webhook Zalo disabled), read from `listrecentchat`. Only messages newer than the
    /// newest Zalo event already stored are taken (never old history on a first start); the
    /// message id is the dedupe key, so a late webhook for the same message changes nothing.
    pub async fn catch_up_zalo(&self, max_pages: u32) -> Result<usize, SyncError> {
        let Some(anchor) = self.parts.store.newest_zalo_message_time().await? else {
            return Ok(0);
        };
        if !self.parts.tokens.status().connected {
            return Ok(0);
        }
        // Collect first, then queue oldest first: messages within one millisecond then keep their
        // order through the inbox id.
        let mut missed = Vec::new();
        'pages: for page in 0..max_pages {
            let offset = page * 10;
            let history = self
                .parts
                .tokens
                .call(|t| {
                    let z = self.parts.zalo.clone();
                    async move { z.recent_chats(&t, offset, 10).await }
                })
                .await?;
            if history.is_empty() {
                break;
            }
            for h in history {
                if h.time_ms <= anchor {
                    break 'pages;
                }
                if h.from_user {
                    missed.push(h);
                }
            }
        }
        let mut queued = 0;
        for h in missed.iter().rev() {
            let (event_name, body) = history_event(h, self.parts.zalo.app_id(), &self.oa_id());
            let lane = format!("zalo:{}", h.from_id);
            if self
                .queue_caught_up(
                    Source::Zalo,
                    h.message_id.clone(),
                    lane,
                    event_name,
                    &body,
                    h.time_ms,
                )
                .await?
            {
                queued += 1;
            }
        }
        if queued > 0 {
            tracing::info!(
                queued,
                "caught up customer messages that Zalo did not deliver"
            );
        }
        Ok(queued)
    }

    /// Stores an event rebuilt from a platform's history under the same dedupe key its webhook
    /// would have. True when it was new (not already received).
    async fn queue_caught_up(
        &self,
        source: Source,
        dedupe_key: String,
        lane: String,
        event_name: &str,
        body: &serde_json::Value,
        event_time: i64,
    ) -> Result<bool, SyncError> {
        let ingested = self
            .parts
            .store
            .ingest(store::NewEvent {
                source,
                dedupe_key,
                lane,
                event_name: event_name.to_string(),
                body: serde_json::to_vec(body).map_err(|e| SyncError::Other(e.to_string()))?,
                event_time,
            })
            .await?;
        Ok(matches!(ingested, store::Ingested::New(_)))
    }

    // ------------------------------------------------------------------ journal helpers

    /// The remote side answered with an error: the call did not take effect, forget `sending`.
    /// Timeouts and connection errors leave it: the outcome is unknown and needs reconciling.
    async fn abandon_unless_unknown(&self, inbox_id: i64, idx: i64, e: &SyncError) {
        let unknown = matches!(
            e,
            SyncError::Zalo(ZaloError::Transport { .. })
                | SyncError::Freshchat(FreshchatError::Transport { .. })
        );
        if !unknown {
            let _ = self.parts.store.abandon_step(inbox_id, idx).await;
        }
    }

    /// Looks for the effect of a step left `sending`. True when it is found (and journalled).
    async fn reconcile(
        &self,
        row: &InboxRow,
        idx: i64,
        step: &Step,
        started_at: i64,
    ) -> Result<bool, SyncError> {
        let since = started_at - RECONCILE_SLACK_MS;
        match step {
            // Searching by reference_id before creating is this step's reconciliation.
            Step::EnsureContact { .. } | Step::RecordFollow { .. } | Step::RecordReceipt { .. } => {
                Ok(false)
            }
            Step::PostToFreshchat {
                zalo_user_id,
                zalo_msg_id,
                visibility,
                parts,
            } => {
                let Some(contact) = self.parts.store.contact(zalo_user_id.clone()).await? else {
                    return Ok(false);
                };
                let mut conversations = Vec::new();
                if let Some(c) = self
                    .parts
                    .store
                    .conversation_of(zalo_user_id.clone())
                    .await?
                {
                    conversations.push(c);
                }
                if conversations.is_empty() {
                    conversations = timed(
                        "freshchat",
                        "user_conversations",
                        self.parts
                            .freshchat
                            .user_conversations(&contact.freshchat_user_id),
                    )
                    .await?;
                }
                let want = parts.iter().find_map(|p| match p {
                    OutPart::Text(t) => Some(t.clone()),
                    _ => None,
                });
                for conv in conversations.iter().rev() {
                    let page = timed(
                        "freshchat",
                        "list_messages",
                        self.parts.freshchat.list_messages(conv, None, 50),
                    )
                    .await?;
                    let hit = page.messages.iter().find(|m| {
                        let by_us = match visibility {
                            Visibility::Customer => {
                                matches!(m.actor_type, ActorType::User)
                                    && m.actor_id.as_deref()
                                        == Some(contact.freshchat_user_id.as_str())
                            }
                            Visibility::PrivateNote => {
                                matches!(m.message_type, MessageType::Private)
                                    && matches!(m.actor_type, ActorType::Bot)
                            }
                        };
                        let recent = m
                            .created_time
                            .as_deref()
                            .and_then(parse_iso_ms)
                            .is_none_or(|t| t >= since);
                        let same = match &want {
                            Some(t) => m.message_parts.iter().any(
                                |p| matches!(p, MessagePart::Text { content } if content == t),
                            ),
                            None => m.message_parts.len() == parts.len(),
                        };
                        by_us && recent && same
                    });
                    if let Some(m) = hit {
                        tracing::info!(freshchat_message_id = %m.id, "reconciled: the message had reached Freshchat before the interruption");
                        let (uid, mid, fid, conv2) = (
                            zalo_user_id.clone(),
                            zalo_msg_id.clone(),
                            m.id.clone(),
                            conv.clone(),
                        );
                        self.parts
                            .store
                            .finish_step(row.id, idx, Some(m.id.clone()), move |c| {
                                if store_has_no_conversation(c, &uid)? {
                                    store::put_conversation(c, &uid, &conv2, None)?;
                                }
                                store::put_message(c, false, &uid, mid.as_deref(), Some(&fid), None)
                            })
                            .await?;
                        return Ok(true);
                    }
                }
                Ok(false)
            }
            Step::SendToZalo {
                zalo_user_id,
                freshchat_message_id,
                message,
            } => {
                let uid = zalo_user_id.clone();
                let history = self
                    .parts
                    .tokens
                    .call(|t| {
                        let (z, u) = (self.parts.zalo.clone(), uid.clone());
                        async move { z.conversation(&t, &u, 0, 10).await }
                    })
                    .await?;
                let want_text = match message {
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
                if let Some(h) = hit {
                    // Skip when this Zalo message is already paired with another send.
                    if self
                        .parts
                        .store
                        .known_zalo_message(h.message_id.clone())
                        .await?
                        .is_some()
                    {
                        return Ok(false);
                    }
                    tracing::info!(zalo_msg_id = %h.message_id, "reconciled: the message had reached Zalo before the interruption");
                    let (u, zid, fid) = (
                        zalo_user_id.clone(),
                        h.message_id.clone(),
                        freshchat_message_id.clone(),
                    );
                    self.parts
                        .store
                        .finish_step(row.id, idx, Some(h.message_id.clone()), move |c| {
                            store::put_message(c, true, &u, Some(&zid), fid.as_deref(), None)
                        })
                        .await?;
                    return Ok(true);
                }
                Ok(false)
            }
        }
    }
}

/// A webhook-shaped event for a message read from Zalo's history (types: text, photo, GIF,
/// sticker, voice, video, file, link, location).
fn history_event(
    h: &zfsync_zalo::HistoryMessage,
    app_id: &str,
    oa_id: &str,
) -> (&'static str, serde_json::Value) {
    use serde_json::json;
    let url = h.url.clone().unwrap_or_default();
    let media = |kind: &str| json!([{ "type": kind, "payload": { "url": url, "thumbnail": url } }]);
    let (name, attachments) = match h.kind.to_ascii_lowercase().as_str() {
        "photo" | "image" if !url.is_empty() => ("user_send_image", media("image")),
        "gif" if !url.is_empty() => ("user_send_gif", media("gif")),
        "sticker" if !url.is_empty() => ("user_send_sticker", media("sticker")),
        "voice" | "audio" if !url.is_empty() => ("user_send_audio", media("audio")),
        "video" if !url.is_empty() => ("user_send_video", media("video")),
        "file" if !url.is_empty() => (
            "user_send_file",
            json!([{ "type": "file", "payload": { "url": url, "name": h.text.clone().unwrap_or_else(|| "file".into()) } }]),
        ),
        "link" | "links" if !url.is_empty() => (
            "user_send_link",
            json!([{ "type": "link", "payload": { "url": url } }]),
        ),
        _ => ("user_send_text", json!([])),
    };
    let text = match (name, &h.text) {
        ("user_send_text", Some(t)) if !t.is_empty() => Some(t.clone()),
        ("user_send_text", _) => Some(format!("[{} from Zalo history]", h.kind)),
        ("user_send_image", t) => t.clone().filter(|t| !t.is_empty()),
        _ => None,
    };
    let mut message = json!({ "msg_id": h.message_id, "attachments": attachments });
    if let Some(t) = text {
        message["text"] = serde_json::Value::String(t);
    }
    let body = json!({
        "app_id": app_id, "event_name": name, "sender": { "id": h.from_id }, "recipient": { "id": oa_id },
        "message": message, "timestamp": h.time_ms.to_string(), "source": "zfsync_history_catch_up",
    });
    (name, body)
}

/// Runs one upstream call and records its latency (`zfsync_upstream_call_seconds`).
pub async fn timed<T, E>(
    platform: &'static str,
    op: &'static str,
    call: impl std::future::Future<Output = Result<T, E>>,
) -> Result<T, E> {
    let started = std::time::Instant::now();
    let result = call.await;
    let outcome = if result.is_ok() { "ok" } else { "error" };
    metrics::histogram!("zfsync_upstream_call_seconds", "platform" => platform, "op" => op, "outcome" => outcome)
        .record(started.elapsed().as_secs_f64());
    result
}

/// The platform's time of a Freshchat event (unix ms): the message's `created_time`, else the
/// envelope's `action_time`, else now.
pub fn freshchat_event_time(ev: &WebhookEvent) -> i64 {
    let (created, action) = match ev {
        WebhookEvent::MessageCreate {
            message,
            action_time,
            ..
        } => (message.created_time.as_deref(), action_time.as_deref()),
        WebhookEvent::ConversationAssignment { action_time, .. }
        | WebhookEvent::ConversationResolution { action_time, .. }
        | WebhookEvent::ConversationReopen { action_time, .. } => (None, action_time.as_deref()),
        WebhookEvent::Unknown { .. } => (None, None),
    };
    created
        .or(action)
        .and_then(parse_iso_ms)
        .unwrap_or_else(now_ms)
}

fn store_has_no_conversation(
    c: &rusqlite::Connection,
    zalo_user_id: &str,
) -> Result<bool, store::StoreError> {
    let n: i64 = c.query_row(
        "SELECT COUNT(*) FROM conversations WHERE zalo_user_id = ?1",
        [zalo_user_id],
        |r| r.get(0),
    )?;
    Ok(n == 0)
}

/// An upload to Zalo: a transient failure retries the step, a refusal sends the link instead.
fn or_link<T>(upload: Result<T, SyncError>, what: &str) -> Result<Option<T>, SyncError> {
    match upload {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.is_transient() => Err(e),
        Err(e) => {
            tracing::warn!(error = %e, what, "Zalo refused the upload; sending the link");
            Ok(None)
        }
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

fn contact_properties(
    provider: &str,
    zalo_user_id: &str,
    oa_id: &str,
    first_seen: Option<&str>,
    follower: Option<bool>,
) -> Vec<Property> {
    let mut props = vec![
        Property {
            name: "external_user_provider".into(),
            value: provider.to_string(),
        },
        Property {
            name: "zalo_user_id".into(),
            value: zalo_user_id.to_string(),
        },
        Property {
            name: "zalo_oa_id".into(),
            value: oa_id.to_string(),
        },
    ];
    if let Some(t) = first_seen {
        props.push(Property {
            name: "zalo_first_message_at".into(),
            value: t.to_string(),
        });
    }
    if let Some(f) = follower {
        props.push(Property {
            name: "zalo_follower".into(),
            value: f.to_string(),
        });
    }
    props
}

/// The Zalo user id inside a reference id built from the rules' template (`zalo:{oa_id}:{zalo_user_id}`).
fn zalo_user_from_reference(reference: &str, rules: &Rules) -> Option<String> {
    let template = &rules.contact.reference_id;
    let (prefix, rest) = template.split_once("{zalo_user_id}")?;
    let prefix_parts: Vec<&str> = prefix.split("{oa_id}").collect();
    let mut r = reference;
    if prefix_parts.len() == 2 {
        r = r.strip_prefix(prefix_parts[0])?;
        let (_, after) = r.split_once(prefix_parts[1])?;
        r = after;
    } else {
        r = r.strip_prefix(prefix)?;
    }
    let id = r.strip_suffix(rest).unwrap_or(r);
    (!id.is_empty()).then(|| id.to_string())
}

fn row_time_iso(row: &InboxRow) -> String {
    chrono::DateTime::from_timestamp_millis(row.received_at)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_default()
}

fn parse_iso_ms(s: &str) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.timestamp_millis())
}

fn preview_text(t: &str) -> String {
    t.chars().take(200).collect()
}

fn preview_of(parts: &[MessagePart]) -> String {
    parts
        .iter()
        .map(|p| match p {
            MessagePart::Text { content } => preview_text(content),
            MessagePart::Image { .. } => "[image]".into(),
            MessagePart::File { name, .. } => format!("[file] {}", name.as_deref().unwrap_or("")),
            MessagePart::Video { .. } => "[video]".into(),
            _ => "[part]".into(),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn default_filename(kind: MediaKind, content_type: Option<&str>) -> String {
    let ext = content_type
        .and_then(|ct| mime_guess::get_mime_extensions_str(ct).and_then(|e| e.first().copied()))
        .unwrap_or(match kind {
            MediaKind::Image | MediaKind::Sticker => "jpg",
            MediaKind::Gif => "gif",
            MediaKind::Audio => "amr",
            MediaKind::Video => "mp4",
            MediaKind::File => "bin",
        });
    format!(
        "{}.{ext}",
        kind.label().replace(' ', "-").to_ascii_lowercase()
    )
}

/// The image type from its first bytes.
pub fn sniff_image(b: &[u8]) -> Option<&'static str> {
    if b.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("jpg")
    } else if b.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("png")
    } else if b.starts_with(b"GIF87a") || b.starts_with(b"GIF89a") {
        Some("gif")
    } else {
        None
    }
}

/// Width and height from a GIF's logical screen descriptor.
pub fn gif_size(b: &[u8]) -> Option<(u32, u32)> {
    if b.len() < 10 {
        return None;
    }
    let w = u16::from_le_bytes([b[6], b[7]]) as u32;
    let h = u16::from_le_bytes([b[8], b[9]]) as u32;
    (w > 0 && h > 0).then_some((w, h))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_round_trip() {
        let rules = Rules::default();
        assert_eq!(
            zalo_user_from_reference("zalo:123:9876543210", &rules).as_deref(),
            Some("9876543210")
        );
        assert_eq!(zalo_user_from_reference("telegram:1", &rules), None);
    }

    #[test]
    fn sniffs_images() {
        assert_eq!(sniff_image(&[0xFF, 0xD8, 0xFF, 0xE0]), Some("jpg"));
        assert_eq!(sniff_image(b"GIF89a\x10\x00\x20\x00"), Some("gif"));
        assert_eq!(gif_size(b"GIF89a\x10\x00\x20\x00"), Some((16, 32)));
        assert_eq!(sniff_image(b"hello"), None);
    }
}
