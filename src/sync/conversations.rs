//! The customer's current Freshchat conversation: posting into it (created when there is none, in
//! the group the routing rules choose, see [`super::routing`]; followed to the latest when
//! Freshchat says "not the latest conversation"), and zfsync's channel, the only one whose
//! conversations are ever resumed.
//!
//! Failure: Freshchat and store errors are returned as [`SyncError`]; no channel to post in is
//! [`SyncError::NoChannel`], naming the setting to fix.

use std::sync::Arc;

use tokio::sync::OnceCell;
use zfsync_freshchat::{
    FreshchatClient, FreshchatError, MessagePart, NewConversation, NewMessage, UserRef,
};
use zfsync_mappings::routing::RouteFacts;

use super::routing::Router;
use crate::error::SyncError;
use crate::store::{Contact, Store};

/// What routing needs to know of the event that may open a conversation.
#[derive(Debug, Clone, Copy)]
pub struct Opening<'a> {
    /// The OA the customer wrote to.
    pub oa_id: &'a str,
    /// The event's own time (unix ms): business hours are read at it.
    pub at_ms: i64,
}

/// Where new conversations go: the channel (by id or by name) and the Freshchat App ID.
#[derive(Debug, Clone, Default)]
pub struct ChannelSettings {
    /// The channel by id.
    pub channel_id: Option<String>,
    /// The channel by name, when no id is configured.
    pub channel_name: Option<String>,
    /// The Freshchat App ID sent with new conversations.
    pub app_id: Option<String>,
}

/// The customers' conversations in Freshchat and zfsync's channel (resolved once, shared by
/// clones).
#[derive(Debug, Clone)]
pub struct Conversations {
    store: Store,
    freshchat: FreshchatClient,
    settings: ChannelSettings,
    resolved_channel: Arc<OnceCell<String>>,
    router: Router,
}

impl Conversations {
    /// Conversations kept in `store`, in Freshchat through `freshchat`.
    pub fn new(
        store: Store,
        freshchat: FreshchatClient,
        settings: ChannelSettings,
        router: Router,
    ) -> Conversations {
        Conversations {
            store,
            freshchat,
            settings,
            resolved_channel: Arc::default(),
            router,
        }
    }

    /// The channel new conversations go to: configured by id, else by name, else the first
    /// enabled one (resolved once).
    pub async fn channel(&self) -> Result<String, SyncError> {
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
    pub(crate) async fn post_in_current(
        &self,
        contact: &Contact,
        zalo_user_id: &str,
        message: &NewMessage,
        opening: Opening<'_>,
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
                let conv = self.create(contact, zalo_user_id, message, opening).await?;
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

    /// Creates the customer's conversation with the message, in the group routing chooses. When
    /// Freshchat refuses that group (deleted since it was listed), the conversation is created
    /// unassigned rather than holding the message back.
    async fn create(
        &self,
        contact: &Contact,
        zalo_user_id: &str,
        message: &NewMessage,
        opening: Opening<'_>,
    ) -> Result<zfsync_freshchat::Conversation, SyncError> {
        let tags = self
            .store
            .zalo_tags(zalo_user_id.to_string())
            .await?
            .unwrap_or_default();
        let first_text = text_of(message);
        let group = self
            .router
            .group_for(&RouteFacts {
                pairing: self.store.pairing_name(),
                oa_id: opening.oa_id,
                first_text: &first_text,
                at_ms: opening.at_ms,
                tags: &tags,
            })
            .await?;
        let mut new = NewConversation {
            channel_id: self.channel().await?,
            users: vec![UserRef {
                id: contact.freshchat_user_id.clone(),
            }],
            messages: vec![message.clone()],
            app_id: self.settings.app_id.clone(),
            status: Some("new".into()),
            assigned_group_id: group,
        };
        match self.freshchat.create_conversation(&new).await {
            Err(FreshchatError::NotFound { .. }) if new.assigned_group_id.is_some() => {
                tracing::warn!(
                    "Freshchat refused the routed group; creating the conversation unassigned"
                );
                self.router.forget_groups().await;
                new.assigned_group_id = None;
                Ok(self.freshchat.create_conversation(&new).await?)
            }
            created => Ok(created?),
        }
    }

    /// The id of the message the new conversation was created with: the earliest customer
    /// message of the page, by its time (whatever order the page comes in). Agents may have
    /// answered already (a quick agent, a slow store), so the page's last message is not always
    /// it; taking an agent's reply for zfsync's own would keep that reply from Zalo ("posted by
    /// zfsync"), so when no customer message is on the page the id stays unknown.
    async fn first_message_id(&self, conversation_id: &str) -> Option<String> {
        let page = self
            .freshchat
            .list_messages(conversation_id, None, 50)
            .await
            .ok()?;
        page.messages
            .iter()
            .filter(|m| m.actor_type == zfsync_freshchat::ActorType::User)
            .min_by(|a, b| a.created_time.cmp(&b.created_time))
            .map(|m| m.id.clone())
    }

    /// The user's latest conversation on zfsync's channel (conversations elsewhere are never
    /// resumed).
    pub async fn latest_on_channel(
        &self,
        freshchat_user_id: &str,
    ) -> Result<Option<String>, SyncError> {
        let channel = self.channel().await?;
        let ids = self.freshchat.user_conversations(freshchat_user_id).await?;
        for id in ids.into_iter().rev() {
            let conv = match self.freshchat.get_conversation(&id).await {
                Ok(c) => c,
                Err(FreshchatError::NotFound { .. }) => continue,
                Err(e) => return Err(e.into()),
            };
            if conv.channel_id.as_deref() == Some(channel.as_str()) {
                return Ok(Some(id));
            }
            tracing::info!(
                conversation_id = %id,
                "not resuming a conversation on another channel than zfsync's"
            );
        }
        Ok(None)
    }
}

/// The text parts of a message, one per line (what routing's keywords are looked for in).
fn text_of(message: &NewMessage) -> String {
    message
        .message_parts
        .iter()
        .filter_map(|p| match p {
            MessagePart::Text { content } => Some(content.as_str()),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join("\n")
}
