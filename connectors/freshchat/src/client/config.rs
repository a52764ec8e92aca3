//! Settings of a [`crate::FreshchatClient`], the operations it reports, and the two things a
//! caller plugs in: the [`CallObserver`] told about every call and the [`DownloadGuard`] that
//! decides where attachments may be fetched from.
//!
//! Building a configuration cannot fail; [`crate::FreshchatClient::new`] checks it
//! ([`FreshchatError::InvalidBase`], [`FreshchatError::InvalidKey`]). `Debug` never shows the key.

use std::error::Error as StdError;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use secrecy::SecretString;
use url::Url;

use crate::error::{ErrorClass, FreshchatError};

/// How to reach one Freshchat account.
#[derive(Clone)]
pub struct ClientConfig {
    /// Scheme and host, e.g. `https://acme-123.freshchat.com`; the client appends `/v2`.
    pub api_base: Url,
    /// The API token (with or without a leading `Bearer `).
    pub api_key: SecretString,
    /// Per-request timeout (default 15 s) of the client's own HTTP clients.
    pub timeout: Duration,
    /// The client for downloads off the API origin (attachments on storage hosts, redirects from the
    /// API host). The daemon gives one with its egress policy; without it the client builds its own
    /// (no credentials, up to 5 redirects). It never receives the API key.
    pub download_client: Option<reqwest::Client>,
    /// Where attachments may be fetched from: asked about the hop after a keyed download is
    /// redirected, and about a failed download's error (see [`DownloadGuard`]). The daemon gives
    /// its egress policy; without one, only http(s) is checked.
    pub download_guard: Option<Arc<dyn DownloadGuard>>,
    /// Told about every call.
    pub observer: Option<Arc<dyn CallObserver>>,
    /// The HTTP client of API calls, when several clients share one (each pairing of a
    /// deployment); built by [`crate::client::api_http_client`]. The API key is sent per request,
    /// never stored in it. Without one, the client builds its own with `timeout`.
    pub http_client: Option<reqwest::Client>,
}

impl fmt::Debug for ClientConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientConfig")
            .field("api_base", &self.api_base.as_str())
            .field("api_key", &"[redacted]")
            .field("timeout", &self.timeout)
            .field("download_client", &self.download_client.is_some())
            .field("download_guard", &self.download_guard.is_some())
            .field("observer", &self.observer.is_some())
            .field("http_client", &self.http_client.is_some())
            .finish()
    }
}

impl ClientConfig {
    /// A config with the default 15 s timeout, the client's own download client and no observer.
    pub fn new(api_base: Url, api_key: SecretString) -> Self {
        Self {
            api_base,
            api_key,
            timeout: Duration::from_secs(15),
            download_client: None,
            download_guard: None,
            observer: None,
            http_client: None,
        }
    }

    /// API calls go through `client` (from [`crate::client::api_http_client`]), shared with
    /// other clients.
    pub fn with_http_client(mut self, client: reqwest::Client) -> Self {
        self.http_client = Some(client);
        self
    }

    /// Downloads off the API origin go through `client`.
    pub fn with_download_client(mut self, client: reqwest::Client) -> Self {
        self.download_client = Some(client);
        self
    }

    /// Attachments are fetched only where `guard` allows (see [`DownloadGuard`]).
    pub fn with_download_guard(mut self, guard: Arc<dyn DownloadGuard>) -> Self {
        self.download_guard = Some(guard);
        self
    }

    /// Every call is reported to `observer`.
    pub fn with_observer(mut self, observer: Arc<dyn CallObserver>) -> Self {
        self.observer = Some(observer);
        self
    }
}

/// The operation an HTTP call belongs to: a small fixed set, fit for a metric label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    /// `GET /v2/accounts/configuration`.
    Account,
    /// `GET /v2/channels`.
    Channels,
    /// `GET /v2/groups`.
    Groups,
    /// `POST /v2/users`.
    UserCreate,
    /// `GET /v2/users/{id}`.
    UserGet,
    /// `PUT /v2/users/{id}`.
    UserUpdate,
    /// `GET /v2/users?reference_id=`.
    UserSearch,
    /// `GET /v2/users/{id}/conversations`.
    UserConversations,
    /// `POST /v2/conversations`.
    ConversationCreate,
    /// `GET /v2/conversations/{id}`.
    ConversationGet,
    /// `PUT /v2/conversations/{id}`.
    ConversationUpdate,
    /// `POST /v2/conversations/{id}/messages`.
    MessagePost,
    /// `GET /v2/conversations/{id}/messages`.
    MessagesList,
    /// `POST /v2/images/upload`.
    UploadImage,
    /// `POST /v2/files/upload`.
    UploadFile,
    /// An attachment download.
    Download,
}

impl Op {
    /// Every operation.
    pub const ALL: [Op; 16] = [
        Op::Account,
        Op::Channels,
        Op::Groups,
        Op::UserCreate,
        Op::UserGet,
        Op::UserUpdate,
        Op::UserSearch,
        Op::UserConversations,
        Op::ConversationCreate,
        Op::ConversationGet,
        Op::ConversationUpdate,
        Op::MessagePost,
        Op::MessagesList,
        Op::UploadImage,
        Op::UploadFile,
        Op::Download,
    ];

    /// `account`, `channels`, `groups`, `user_create`, `user_get`, `user_update`, `user_search`,
    /// `user_conversations`, `conversation_create`, `conversation_get`, `conversation_update`,
    /// `message_post`, `messages_list`, `upload_image`, `upload_file` or `download`.
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Account => "account",
            Op::Channels => "channels",
            Op::Groups => "groups",
            Op::UserCreate => "user_create",
            Op::UserGet => "user_get",
            Op::UserUpdate => "user_update",
            Op::UserSearch => "user_search",
            Op::UserConversations => "user_conversations",
            Op::ConversationCreate => "conversation_create",
            Op::ConversationGet => "conversation_get",
            Op::ConversationUpdate => "conversation_update",
            Op::MessagePost => "message_post",
            Op::MessagesList => "messages_list",
            Op::UploadImage => "upload_image",
            Op::UploadFile => "upload_file",
            Op::Download => "download",
        }
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a call ended: `ok`, or the [`ErrorClass`] of its error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CallOutcome {
    /// The call succeeded.
    Ok,
    /// The call failed with an error of this class.
    Failed(ErrorClass),
}

impl CallOutcome {
    /// The outcome of a result.
    pub fn of<T>(result: &Result<T, FreshchatError>) -> CallOutcome {
        match result {
            Ok(_) => CallOutcome::Ok,
            Err(e) => CallOutcome::Failed(e.class()),
        }
    }

    /// `ok`, or the error class name ([`ErrorClass::as_str`]).
    pub fn as_str(self) -> &'static str {
        match self {
            CallOutcome::Ok => "ok",
            CallOutcome::Failed(c) => c.as_str(),
        }
    }
}

/// Told about each HTTP call of a [`crate::FreshchatClient`] once it ended, e.g. to record
/// `zfsync_upstream_call_seconds{platform, op, outcome}`. Called on the task that made the call:
/// keep it quick and never block.
pub trait CallObserver: Send + Sync {
    /// One call of `op` ended with `outcome` after `elapsed`.
    fn observe(&self, op: Op, outcome: CallOutcome, elapsed: Duration);
}

/// Decides where attachments may be fetched from. The daemon implements it with its egress
/// policy (platform media hosts only, never private addresses).
pub trait DownloadGuard: Send + Sync {
    /// Whether `url` may be fetched: the hop after a keyed download is redirected. `Err(reason)`
    /// refuses it; the reason is shown to people.
    fn check(&self, url: &Url) -> Result<(), String>;

    /// When a download failed because the guard's own download client refused (its resolver or
    /// redirect policy), the reason, read from one error of the failure's `source()` chain (each
    /// is offered in turn). `None`: not a refusal of the guard's.
    fn refusal(&self, error: &(dyn StdError + 'static)) -> Option<String>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn op_names_are_distinct() {
        let names: std::collections::BTreeSet<_> = Op::ALL.iter().map(|o| o.as_str()).collect();
        assert_eq!(names.len(), Op::ALL.len());
        assert_eq!(Op::MessagePost.to_string(), "message_post");
        assert_eq!(CallOutcome::Ok.as_str(), "ok");
        assert_eq!(
            CallOutcome::Failed(ErrorClass::NotLatestConversation).as_str(),
            "not_latest_conversation"
        );
    }
}
