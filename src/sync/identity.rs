//! Whether a Freshchat user claiming a Zalo customer's `reference_id` is zfsync's own. A reference
//! id is free text: a web-widget user (`setExternalId`), another integration or anyone with the API
//! key can carry `zalo:<oa>:<user>`, and widget users can set custom properties too. So zfsync
//! reuses a user found by reference id (a lost store, a retried contact step) only when both hold:
//!
//! - its properties are zfsync's for this OA and this customer: `external_user_provider` is the
//!   rules' provider, `zalo_oa_id` this OA, `zalo_user_id` this customer (and `zalo_anonymous` is
//!   `true` for an anonymous visitor);
//! - every conversation it has is on zfsync's channel (a user with a conversation on any other
//!   channel was talked to by something other than zfsync).
//!
//! The same rule decides whether a conversation's Zalo user can be rebuilt from Freshchat
//! (`knowledge.rs`), and only conversations on zfsync's channel are ever resumed. A refused user is
//! logged at WARN and counted in `zfsync_identity_refusals_total{reason}`; when zfsync creates a new
//! user instead, the admins are told in a private note in the customer's new conversation
//! (`[identity]` in the rules), kept in the store until it is posted.
//!
//! Failure: Freshchat and store errors are returned as [`SyncError`]; a failed note is logged and
//! tried again with the customer's next message.

use zfsync_freshchat::{FreshchatClient, FreshchatError, User};

use super::contact::{PROP_ANONYMOUS, PROP_OA_ID, PROP_PROVIDER, PROP_ZALO_USER_ID};
use super::conversations::Conversations;
use crate::error::SyncError;
use crate::telemetry::events::{IdentityRefused, InternalEvent};

/// Why a Freshchat user's claim on a Zalo customer was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// The user lacks zfsync's properties for this OA and customer.
    NotZfsyncUser,
    /// The user has a conversation on another channel than zfsync's.
    OtherChannel,
}

impl Refusal {
    /// The metric label and log word.
    pub(crate) fn label(self) -> &'static str {
        match self {
            Refusal::NotZfsyncUser => "not_zfsync_user",
            Refusal::OtherChannel => "other_channel",
        }
    }

    /// Counts the refusal and logs it at WARN (the ids only; no names or messages).
    pub(crate) fn record(self, freshchat_user_id: &str, what: &'static str) {
        IdentityRefused {
            reason: self.label(),
            freshchat_user_id,
            what,
        }
        .emit();
    }
}

/// Decides whether a Freshchat user is zfsync's own: the rules' provider and zfsync's channel.
#[derive(Debug, Clone)]
pub struct Identities {
    freshchat: FreshchatClient,
    conversations: Conversations,
    /// The `external_user_provider` zfsync writes (the rules').
    provider: String,
}

impl Identities {
    /// Identities checked through `freshchat` against `provider` and the channel `conversations`
    /// post in.
    pub fn new(
        freshchat: FreshchatClient,
        conversations: Conversations,
        provider: String,
    ) -> Identities {
        Identities {
            freshchat,
            conversations,
            provider,
        }
    }

    /// Whether `user` is one zfsync created for `zalo_user_id` (a user id or a visitor key) of
    /// `oa_id`: zfsync's properties name both, and every conversation of the user is on zfsync's
    /// channel.
    pub(crate) async fn vouch(
        &self,
        user: &User,
        zalo_user_id: &str,
        oa_id: &str,
    ) -> Result<Result<(), Refusal>, SyncError> {
        let prop = |name: &str| {
            user.properties
                .iter()
                .find(|p| p.name == name)
                .map(|p| p.value.as_str())
        };
        let anonymous = zfsync_zalo::parse_visitor_key(zalo_user_id).is_some();
        let ours = prop(PROP_PROVIDER) == Some(self.provider.as_str())
            && prop(PROP_OA_ID) == Some(oa_id)
            && !oa_id.is_empty()
            && prop(PROP_ZALO_USER_ID) == Some(zalo_user_id)
            && (!anonymous || prop(PROP_ANONYMOUS) == Some("true"));
        if !ours {
            return Ok(Err(Refusal::NotZfsyncUser));
        }
        let channel = self.conversations.channel().await?;
        for id in self.freshchat.user_conversations(&user.id).await? {
            let conv = match self.freshchat.get_conversation(&id).await {
                Ok(c) => c,
                Err(FreshchatError::NotFound { .. }) => continue,
                Err(e) => return Err(e.into()),
            };
            if conv.channel_id.as_deref() != Some(channel.as_str()) {
                return Ok(Err(Refusal::OtherChannel));
            }
        }
        Ok(Ok(()))
    }
}
