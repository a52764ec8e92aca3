//! Settings of a [`crate::ZaloClient`] and the call observer it reports to.
//!
//! Building a configuration cannot fail; [`crate::ZaloClient::new`] checks it ([`ZaloError::BaseUrl`],
//! [`ZaloError::EmptyAppId`]). `Debug` never shows the App Secret.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use secrecy::SecretString;
use url::Url;

use crate::error::{ErrorClass, ZaloError};
use crate::oauth::REDACTED;

/// Default OpenAPI host.
pub const DEFAULT_API_BASE: &str = "https://openapi.zalo.me";
/// Default OAuth host.
pub const DEFAULT_OAUTH_BASE: &str = "https://oauth.zaloapp.com";

/// Settings of a [`crate::ZaloClient`].
#[derive(Clone)]
pub struct ClientConfig {
    /// The app id from developers.zalo.me.
    pub app_id: String,
    /// The App Secret Key (header `secret_key` of token calls).
    pub app_secret: SecretString,
    /// OpenAPI base, default `https://openapi.zalo.me`.
    pub api_base: Url,
    /// OAuth base, default `https://oauth.zaloapp.com`.
    pub oauth_base: Url,
    /// Timeout of each request, default 15 s (not applied to a caller's `download_client`).
    pub timeout: Duration,
    /// Told about every HTTP call the client makes (operation, outcome, duration).
    pub observer: Option<Arc<dyn CallObserver>>,
    /// The HTTP client for [`crate::ZaloClient::download`]; the caller's own (e.g. one with an egress
    /// policy: allowed hosts, no private addresses, each redirect checked). Without one, the client's
    /// own is used.
    pub download_client: Option<reqwest::Client>,
    /// The HTTP client of API and token calls, when several clients share one (each pairing of a
    /// deployment: one connection pool and TLS setup for all); built by
    /// [`crate::client::api_http_client`]. Without one, the client builds its own with `timeout`.
    pub http_client: Option<reqwest::Client>,
}

impl fmt::Debug for ClientConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientConfig")
            .field("app_id", &self.app_id)
            .field("app_secret", &REDACTED)
            .field("api_base", &self.api_base.as_str())
            .field("oauth_base", &self.oauth_base.as_str())
            .field("timeout", &self.timeout)
            .field("observer", &self.observer.as_ref().map(|_| "set"))
            .field(
                "download_client",
                &self.download_client.as_ref().map(|_| "set"),
            )
            .field("http_client", &self.http_client.as_ref().map(|_| "shared"))
            .finish()
    }
}

impl ClientConfig {
    /// Settings with Zalo's hosts, a 15 s timeout, no observer and the client's own downloads.
    pub fn new(app_id: impl Into<String>, app_secret: SecretString) -> Self {
        ClientConfig {
            app_id: app_id.into(),
            app_secret,
            api_base: parse_const_url(DEFAULT_API_BASE),
            oauth_base: parse_const_url(DEFAULT_OAUTH_BASE),
            timeout: Duration::from_secs(15),
            observer: None,
            download_client: None,
            http_client: None,
        }
    }

    /// Points both bases at one URL (e.g. a simulator).
    pub fn with_base(mut self, base: Url) -> Self {
        self.api_base = base.clone();
        self.oauth_base = base;
        self
    }

    /// Reports every call to `observer`.
    pub fn with_observer(mut self, observer: Arc<dyn CallObserver>) -> Self {
        self.observer = Some(observer);
        self
    }

    /// Downloads media through `client` instead of the client's own.
    pub fn with_download_client(mut self, client: reqwest::Client) -> Self {
        self.download_client = Some(client);
        self
    }

    /// Makes API and token calls through `client` (from [`crate::client::api_http_client`]),
    /// shared with other clients.
    pub fn with_http_client(mut self, client: reqwest::Client) -> Self {
        self.http_client = Some(client);
        self
    }

    pub(crate) fn check(&self) -> Result<(), ZaloError> {
        for (field, u) in [
            ("api_base", &self.api_base),
            ("oauth_base", &self.oauth_base),
        ] {
            if u.cannot_be_a_base() || !matches!(u.scheme(), "http" | "https") {
                return Err(ZaloError::BaseUrl {
                    field,
                    url: u.to_string(),
                });
            }
        }
        if self.app_id.trim().is_empty() {
            return Err(ZaloError::EmptyAppId);
        }
        Ok(())
    }
}

fn parse_const_url(s: &'static str) -> Url {
    // Only ever called with the constants above, which are valid URLs.
    Url::parse(s).expect("built-in base URL is valid")
}

/// The operation an HTTP call belongs to: a small fixed set, fit for a metric label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    /// `/v4/oa/access_token` (code exchange and refresh).
    Token,
    /// `/v3.0/oa/message/cs`.
    Send,
    /// `/v3.0/oa/message/template` (ZBS template message).
    SendTemplate,
    /// `/v2.0/oa/upload/image`.
    UploadImage,
    /// `/v2.0/oa/upload/gif`.
    UploadGif,
    /// `/v2.0/oa/upload/file`.
    UploadFile,
    /// `/v3.0/oa/user/detail`.
    UserDetail,
    /// `/v2.0/oa/getoa`.
    GetOa,
    /// `/v2.0/oa/listrecentchat`.
    RecentChat,
    /// `/v2.0/oa/conversation`.
    Conversation,
    /// `/v3.0/oa/quota/message`.
    Quota,
    /// The tag API (`/v2.0/oa/tag/...`: tag, untag, delete a tag, list the OA's tags).
    Tags,
    /// A media download.
    Download,
}

impl Op {
    /// Every operation.
    pub const ALL: [Op; 13] = [
        Op::Token,
        Op::Send,
        Op::SendTemplate,
        Op::UploadImage,
        Op::UploadGif,
        Op::UploadFile,
        Op::UserDetail,
        Op::GetOa,
        Op::RecentChat,
        Op::Conversation,
        Op::Quota,
        Op::Tags,
        Op::Download,
    ];

    /// `token`, `send`, `send_template`, `upload_image`, `upload_gif`, `upload_file`,
    /// `user_detail`, `getoa`, `recent_chat`, `conversation`, `quota`, `tags` or `download`.
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Token => "token",
            Op::Send => "send",
            Op::SendTemplate => "send_template",
            Op::UploadImage => "upload_image",
            Op::UploadGif => "upload_gif",
            Op::UploadFile => "upload_file",
            Op::UserDetail => "user_detail",
            Op::GetOa => "getoa",
            Op::RecentChat => "recent_chat",
            Op::Conversation => "conversation",
            Op::Quota => "quota",
            Op::Tags => "tags",
            Op::Download => "download",
        }
    }

    /// What the operation is called in error messages.
    pub(crate) fn what(self) -> &'static str {
        match self {
            Op::Token => "OAuth token response",
            Op::Send => "send message",
            Op::SendTemplate => "send template message",
            Op::UploadImage => "upload image",
            Op::UploadGif => "upload gif",
            Op::UploadFile => "upload file",
            Op::UserDetail => "user detail",
            Op::GetOa => "OA info",
            Op::RecentChat => "recent chats",
            Op::Conversation => "conversation",
            Op::Quota => "message quota",
            Op::Tags => "tags",
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
    pub fn of<T>(result: &Result<T, ZaloError>) -> CallOutcome {
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

/// Told about each HTTP call of a [`crate::ZaloClient`] once it ended, e.g. to record
/// `zfsync_upstream_call_seconds{platform, op, outcome}`. Called on the task that made the call: keep
/// it quick and never block.
pub trait CallObserver: Send + Sync {
    /// One call of `op` ended with `outcome` after `elapsed`.
    fn observe(&self, op: Op, outcome: CallOutcome, elapsed: Duration);
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_secret() {
        let c = ClientConfig::new("123", SecretString::from("s3cret-app-key"));
        let shown = format!("{c:?} {c:#?}");
        assert!(!shown.contains("s3cret-app-key"), "{shown}");
        assert!(shown.contains("123") && shown.contains(REDACTED));
    }

    #[test]
    fn op_names_are_distinct() {
        let names: std::collections::BTreeSet<_> = Op::ALL.iter().map(|o| o.as_str()).collect();
        assert_eq!(names.len(), Op::ALL.len());
        assert_eq!(Op::GetOa.to_string(), "getoa");
        assert_eq!(CallOutcome::Ok.as_str(), "ok");
        assert_eq!(
            CallOutcome::Failed(ErrorClass::RateLimited).as_str(),
            "rate_limited"
        );
    }

    #[test]
    fn check_names_the_field() {
        let mut c = ClientConfig::new("1", SecretString::from("s"));
        c.oauth_base = Url::parse("mailto:x@y").unwrap();
        assert!(matches!(
            c.check(),
            Err(ZaloError::BaseUrl {
                field: "oauth_base",
                ..
            })
        ));
        let c = ClientConfig::new(" ", SecretString::from("s"));
        assert_eq!(c.check(), Err(ZaloError::EmptyAppId));
    }
}
