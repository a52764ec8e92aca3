//! The daemon's error: what went wrong while handling an event, classified for the retry policy.
//! Each variant says what happens next: [`SyncError::is_transient`] decides between "retry with
//! backoff" and "fail the event, keep it for replay and tell the agent".
//!
//! One rule for every error enum of the workspace: a variant's message either holds its cause
//! (`"cannot open the store at {path}: {cause}"`) or chains it (`#[source]`, `#[from]`), never
//! both, or `{:#}` (how `main` prints) says the cause twice. zfsync's messages hold it: they read
//! whole in a log line (`error = %e`) and in a failure's stored reason, where no chain is walked.
//! So `#[from]` appears only with `#[error(transparent)]`; a `From` that does not chain is written
//! out, and a field holding the cause is called `cause`, not `source`.

use zfsync_freshchat::FreshchatError;
use zfsync_zalo::{ErrorClass, ZaloError};

use crate::store::StoreError;

/// Why handling an event did not finish.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// A Zalo call failed.
    #[error("Zalo: {0}")]
    Zalo(ZaloError),
    /// A Freshchat call failed.
    #[error("Freshchat: {0}")]
    Freshchat(FreshchatError),
    /// The store could not be read or written.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// No Zalo token pair yet.
    #[error("Zalo is not connected yet: run 'zfsync connect zalo --config FILE'")]
    NotConnected,
    /// Zalo refused the refresh token; an OA admin must consent again.
    #[error("Zalo needs re-authorization ({0}): run 'zfsync connect zalo --config FILE'")]
    NeedsReauth(String),
    /// Zalo's token endpoint refuses the refresh with an answer its documentation does not list
    /// (the code, or what stands for it): the refresh is retried with backoff until it works or
    /// `sync.token_error_reauth_after_secs` has passed.
    #[error("Zalo's token endpoint refuses to refresh the token ({0}); zfsync retries with backoff and asks for 'zfsync connect zalo' if it lasts (see 'zfsync status')")]
    TokenEndpoint(String),
    /// The stored event cannot be parsed any more.
    #[error("the event cannot be read: {0}")]
    BadEvent(String),
    /// Freshchat moved the user to another conversation several times while zfsync was posting.
    #[error("Freshchat kept moving the conversation while posting; will retry")]
    ConversationMoving,
    /// The contact a step needs is not in the store (an earlier step of the event did not run).
    #[error("no Freshchat contact for Zalo user {zalo_user_id} yet; will retry")]
    ContactMissing {
        /// The Zalo user.
        zalo_user_id: String,
    },
    /// No Freshchat channel to open conversations in.
    #[error("{0}")]
    NoChannel(String),
    /// The system's random number generator failed.
    #[error("the system's random number generator failed")]
    Randomness,
    /// An attachment's URL is not one zfsync may fetch.
    #[error("the attachment was not fetched: {0}")]
    Egress(crate::egress::EgressRefused),
}

impl From<ZaloError> for SyncError {
    fn from(e: ZaloError) -> Self {
        SyncError::Zalo(e)
    }
}

impl From<FreshchatError> for SyncError {
    fn from(e: FreshchatError) -> Self {
        SyncError::Freshchat(e)
    }
}

impl SyncError {
    /// Whether trying the same event again later can help.
    pub fn is_transient(&self) -> bool {
        match self {
            SyncError::Zalo(e) => e.is_transient() || e.is_token_error(),
            SyncError::Freshchat(e) => e.is_transient(),
            SyncError::Store(_) => true,
            // Waiting for an operator to reconnect; events keep their place and retry with backoff.
            SyncError::NotConnected | SyncError::NeedsReauth(_) | SyncError::TokenEndpoint(_) => {
                true
            }
            SyncError::ConversationMoving
            | SyncError::ContactMissing { .. }
            | SyncError::Randomness => true,
            SyncError::BadEvent(_) | SyncError::NoChannel(_) | SyncError::Egress(_) => false,
        }
    }

    /// Whether the event waits for Zalo's tokens (Zalo not connected, needing re-authorization, or
    /// its token endpoint refusing refreshes for now) rather than failing: it keeps its attempts
    /// and goes once the tokens work again.
    pub fn waits_for_operator(&self) -> bool {
        matches!(
            self,
            SyncError::NotConnected | SyncError::NeedsReauth(_) | SyncError::TokenEndpoint(_)
        )
    }

    /// The classes of [`SyncError::waits_for_operator`] errors.
    pub const OPERATOR_CLASSES: &'static [&'static str] = &[
        "zalo_not_connected",
        "zalo_needs_reauth",
        "zalo_token_endpoint",
    ];

    /// A low-cardinality class for metrics, status and the failed list.
    pub fn class(&self) -> &'static str {
        match self {
            SyncError::Zalo(e) => match e.class() {
                ErrorClass::TokenInvalid => "zalo_token",
                ErrorClass::RateLimited => "zalo_rate_limited",
                ErrorClass::Quota => "zalo_quota",
                ErrorClass::UserUnreachable => "zalo_user_unreachable",
                ErrorClass::PaidFeature => "zalo_paid_feature",
                ErrorClass::BadRequest => "zalo_bad_request",
                ErrorClass::AssetExpired => "zalo_asset_expired",
                ErrorClass::Transport => "zalo_transport",
                ErrorClass::OAuth => "zalo_oauth",
                ErrorClass::OAuthUnlisted => "zalo_oauth_unlisted",
                ErrorClass::NotFound => "zalo_not_found",
                ErrorClass::Other => "zalo_other",
            },
            SyncError::Freshchat(e) => match e {
                FreshchatError::Unauthorized { .. } => "freshchat_unauthorized",
                FreshchatError::NotFound { .. } => "freshchat_not_found",
                FreshchatError::NotLatestConversation { .. } => "freshchat_not_latest",
                FreshchatError::Invalid { .. } => "freshchat_invalid",
                FreshchatError::RateLimited { .. } => "freshchat_rate_limited",
                FreshchatError::Server { .. } => "freshchat_server",
                FreshchatError::Transport { .. } => "freshchat_transport",
                FreshchatError::WrongHost { .. } => "freshchat_wrong_host",
                FreshchatError::DownloadRefused { .. } => "media_refused",
                _ => "freshchat_other",
            },
            SyncError::Store(_) => "store",
            SyncError::NotConnected => "zalo_not_connected",
            SyncError::NeedsReauth(_) => "zalo_needs_reauth",
            SyncError::TokenEndpoint(_) => "zalo_token_endpoint",
            SyncError::BadEvent(_) => "bad_event",
            SyncError::ConversationMoving => "freshchat_conversation_moving",
            SyncError::ContactMissing { .. } => "contact_missing",
            SyncError::NoChannel(_) => "freshchat_no_channel",
            SyncError::Randomness => "randomness",
            SyncError::Egress(_) => "media_refused",
        }
    }

    /// A delay the remote side asked for.
    pub fn retry_after(&self) -> Option<std::time::Duration> {
        match self {
            SyncError::Freshchat(e) => e.retry_after(),
            _ => None,
        }
    }

    /// Whether the outcome of the call is unknown (a timeout or dropped connection): the effect
    /// may have happened, so its journal entry must be reconciled rather than forgotten.
    pub fn outcome_unknown(&self) -> bool {
        matches!(
            self,
            SyncError::Zalo(ZaloError::Transport { .. })
                | SyncError::Freshchat(FreshchatError::Transport { .. })
        )
    }
}

impl crate::store::CallOutcome for SyncError {
    fn outcome_unknown(&self) -> bool {
        SyncError::outcome_unknown(self)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_moving_conversation_is_retried_not_failed() {
        assert!(SyncError::ConversationMoving.is_transient());
        assert!(!SyncError::NoChannel("x".into()).is_transient());
    }
}
