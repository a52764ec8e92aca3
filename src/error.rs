//! The daemon's error: what went wrong while handling an event, classified for the retry policy.

use zfsync_freshchat::FreshchatError;
use zfsync_zalo::{ErrorClass, ZaloError};

use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("Zalo: {0}")]
    Zalo(#[from] ZaloError),
    #[error("Freshchat: {0}")]
    Freshchat(#[from] FreshchatError),
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("Zalo is not connected yet: run 'zfsync connect zalo --config FILE'")]
    NotConnected,
    #[error("Zalo needs re-authorization ({0}): run 'zfsync connect zalo --config FILE'")]
    NeedsReauth(String),
    #[error("the event cannot be read: {0}")]
    BadEvent(String),
    #[error("{0}")]
    Other(String),
}

impl SyncError {
    /// Whether trying the same event again later can help.
    pub fn is_transient(&self) -> bool {
        match self {
            SyncError::Zalo(e) => e.is_transient() || e.is_token_error(),
            SyncError::Freshchat(e) => e.is_transient(),
            SyncError::Store(_) => true,
            // Waiting for an operator to reconnect; events keep their place and retry with backoff.
            SyncError::NotConnected | SyncError::NeedsReauth(_) => true,
            SyncError::BadEvent(_) | SyncError::Other(_) => false,
        }
    }

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
                _ => "freshchat_other",
            },
            SyncError::Store(_) => "store",
            SyncError::NotConnected => "zalo_not_connected",
            SyncError::NeedsReauth(_) => "zalo_needs_reauth",
            SyncError::BadEvent(_) => "bad_event",
            SyncError::Other(_) => "other",
        }
    }

    /// A delay the remote side asked for.
    pub fn retry_after(&self) -> Option<std::time::Duration> {
        match self {
            SyncError::Freshchat(e) => e.retry_after(),
            _ => None,
        }
    }
}
