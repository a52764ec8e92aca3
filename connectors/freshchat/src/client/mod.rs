//! The async Freshchat v2 client.
//!
//! One [`FreshchatClient`] (cheap to clone) holds a `reqwest::Client` for the API, configured with
//! the API key as `Authorization: Bearer`, `Accept: application/json`, a request timeout and no
//! redirect following, and a second client for downloads off the API host (the caller's own, with
//! its egress policy, when [`ClientConfig::download_client`] is set). Every call goes through one
//! path ([`transport`]) and returns a typed value or a classified [`FreshchatError`]: any 2xx is
//! success; a redirect or an HTML 2xx means the configured host is not the API
//! ([`FreshchatError::WrongHost`]); 429 carries the wait from `Retry-After` or `X-RateLimit-Reset`.
//! Each call is reported to the optional [`CallObserver`] with its [`Op`], outcome and duration.
//! The key goes only to the configured API origin and is never logged or shown in `Debug`.
//!
//! # Layout
//! - [`config`]: [`ClientConfig`], [`Op`], [`CallOutcome`], the [`CallObserver`] and
//!   [`DownloadGuard`] a caller plugs in.
//! - [`transport`]: the one send path (the key's origin rule, size limits, error mapping,
//!   `Retry-After`), reporting to the observer.
//! - [`download`]: attachment downloads: the one URL shape that carries the key, the guard's say on
//!   redirects, and the check that a file came back, not an API answer.

pub mod config;
pub mod download;
pub mod transport;

use std::fmt;
use std::sync::Arc;

use bytes::Bytes;
use reqwest::header::{HeaderMap, HeaderValue, ACCEPT};
use reqwest::Method;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::Value;
use url::Url;

pub use config::{CallObserver, CallOutcome, ClientConfig, DownloadGuard, Op};
pub use download::Downloaded;
pub use transport::{
    retry_after, MAX_RETRY_AFTER, RATE_LIMIT_LIMIT_HEADER, RATE_LIMIT_REMAINING_HEADER,
    RATE_LIMIT_RESET_HEADER, RETRY_AFTER_HEADER,
};

use crate::error::FreshchatError;
use crate::types::{
    AccountConfiguration, Channel, Conversation, ConversationUpdate, FileUpload, Group,
    ImageUpload, Message, MessagePage, NewConversation, NewMessage, NewUser, User, UserUpdate,
};
use transport::{decode, decode_err, json_of, Body, Request};

/// Largest `items_per_page` Freshchat accepts for messages.
pub const MAX_MESSAGES_PER_PAGE: u32 = 50;

/// The Freshchat v2 API client. Cheap to clone.
#[derive(Clone)]
pub struct FreshchatClient {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    /// For the API origin: the key is added per request, redirects are never followed.
    pub(crate) http: reqwest::Client,
    /// For everything else: no credentials.
    pub(crate) anon: reqwest::Client,
    pub(crate) base: Url,
    pub(crate) auth: HeaderValue,
    /// The bare token, to scrub it from error bodies.
    pub(crate) token: SecretString,
    pub(crate) observer: Option<Arc<dyn CallObserver>>,
    pub(crate) guard: Option<Arc<dyn DownloadGuard>>,
}

impl fmt::Debug for FreshchatClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FreshchatClient")
            .field("api_base", &self.inner.base.as_str())
            .finish_non_exhaustive()
    }
}

/// The HTTP client of Freshchat's API calls, with `timeout` per request and no redirects
/// followed (the key must not travel to another host): what a client builds for itself, or
/// what several share ([`ClientConfig::with_http_client`]).
pub fn api_http_client(timeout: std::time::Duration) -> Result<reqwest::Client, FreshchatError> {
    http_client(timeout, reqwest::redirect::Policy::none())
}

fn http_client(
    timeout: std::time::Duration,
    redirect: reqwest::redirect::Policy,
) -> Result<reqwest::Client, FreshchatError> {
    let mut defaults = HeaderMap::new();
    defaults.insert(ACCEPT, HeaderValue::from_static("application/json"));
    reqwest::Client::builder()
        .timeout(timeout)
        .redirect(redirect)
        .default_headers(defaults)
        .user_agent(concat!("zfsync-freshchat/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| FreshchatError::HttpClient {
            detail: e.to_string(),
        })
}

impl FreshchatClient {
    /// Builds the client; fails on an unusable base URL or key.
    pub fn new(cfg: ClientConfig) -> Result<Self, FreshchatError> {
        if !matches!(cfg.api_base.scheme(), "http" | "https") || cfg.api_base.host_str().is_none() {
            return Err(FreshchatError::InvalidBase {
                url: cfg.api_base.to_string(),
            });
        }
        let token = bare_token(cfg.api_key.expose_secret());
        if token.is_empty() {
            return Err(FreshchatError::InvalidKey {
                reason: "it is empty",
            });
        }
        let mut auth = HeaderValue::from_str(&format!("Bearer {token}")).map_err(|_| {
            FreshchatError::InvalidKey {
                reason: "it contains characters not allowed in a header",
            }
        })?;
        auth.set_sensitive(true);
        let http = match &cfg.http_client {
            Some(shared) => shared.clone(),
            None => api_http_client(cfg.timeout)?,
        };
        let anon = match cfg.download_client {
            Some(c) => c,
            None => http_client(cfg.timeout, reqwest::redirect::Policy::limited(5))?,
        };
        Ok(Self {
            inner: Arc::new(Inner {
                http,
                anon,
                base: cfg.api_base,
                auth,
                token: SecretString::from(token.to_owned()),
                observer: cfg.observer,
                guard: cfg.download_guard,
            }),
        })
    }

    /// The configured scheme+host.
    pub fn api_base(&self) -> &Url {
        &self.inner.base
    }

    /// `/v2/<segments...>` on the API host, each segment percent-encoded.
    fn endpoint(&self, segments: &[&str]) -> Url {
        let mut url = self.inner.base.clone();
        url.set_query(None);
        url.set_fragment(None);
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().push("v2").extend(segments);
        }
        url
    }

    async fn get_json<T: serde::de::DeserializeOwned>(
        &self,
        op: Op,
        url: Url,
        what: &'static str,
    ) -> Result<T, FreshchatError> {
        self.exchange(Request::get(op, url), |a| decode(&a, what))
            .await
    }

    async fn send_json<T: serde::de::DeserializeOwned>(
        &self,
        op: Op,
        method: Method,
        url: Url,
        body: Value,
        what: &'static str,
    ) -> Result<T, FreshchatError> {
        self.exchange(Request::with_body(op, method, url, Body::Json(body)), |a| {
            decode(&a, what)
        })
        .await
    }

    /// `GET /v2/accounts/configuration`: the credential probe.
    pub async fn account_configuration(&self) -> Result<AccountConfiguration, FreshchatError> {
        const WHAT: &str = "account configuration";
        let url = self.endpoint(&["accounts", "configuration"]);
        self.exchange(Request::get(Op::Account, url), |a| {
            let v = json_of(&a, WHAT)?;
            // Some sources show the object wrapped in `configuration`; read either.
            let v = match v.get("configuration") {
                Some(inner) if inner.is_object() && v.get("app_id").is_none() => inner.clone(),
                _ => v,
            };
            serde_json::from_value(v).map_err(|e| decode_err(WHAT, &e))
        })
        .await
    }

    /// `GET /v2/channels`, following every page.
    pub async fn list_channels(&self) -> Result<Vec<Channel>, FreshchatError> {
        self.list_all(Op::Channels, "channels", "channel list")
            .await
    }

    /// `GET /v2/groups`, following every page.
    pub async fn list_groups(&self) -> Result<Vec<Group>, FreshchatError> {
        self.list_all(Op::Groups, "groups", "group list").await
    }

    /// A paged list (`{<key>: [...], pagination: {total_pages}}`), every page; items that do not
    /// read are skipped rather than failing the list.
    async fn list_all<T: serde::de::DeserializeOwned>(
        &self,
        op: Op,
        key: &str,
        what: &'static str,
    ) -> Result<Vec<T>, FreshchatError> {
        let mut out = Vec::new();
        for page in 1..=1000u64 {
            let mut url = self.endpoint(&[key]);
            url.query_pairs_mut()
                .append_pair("page", &page.to_string())
                .append_pair("items_per_page", "100");
            let v: Value = self.get_json(op, url, what).await?;
            let items: Vec<T> = crate::lenient::vec_skip(v.get(key).cloned().unwrap_or_default())
                .map_err(|e| decode_err(what, &e))?;
            let n = items.len();
            out.extend(items);
            let total = v
                .pointer("/pagination/total_pages")
                .and_then(Value::as_u64)
                .unwrap_or(page);
            if n == 0 || page >= total {
                break;
            }
        }
        Ok(out)
    }

    /// `POST /v2/users`. A 400 (e.g. a custom property the account does not know) is
    /// [`FreshchatError::Invalid`] with Freshchat's `status` and `message`.
    pub async fn create_user(&self, user: &NewUser) -> Result<User, FreshchatError> {
        let body = to_value(user, "user creation")?;
        self.send_json(
            Op::UserCreate,
            Method::POST,
            self.endpoint(&["users"]),
            body,
            "created user",
        )
        .await
    }

    /// `GET /v2/users/{id}`.
    pub async fn get_user(&self, id: &str) -> Result<User, FreshchatError> {
        self.get_json(Op::UserGet, self.endpoint(&["users", id]), "user")
            .await
    }

    /// `GET /v2/users?reference_id=`: users whose `reference_id` is exactly this one (possibly none).
    pub async fn find_users_by_reference_id(
        &self,
        reference_id: &str,
    ) -> Result<Vec<User>, FreshchatError> {
        #[derive(Deserialize)]
        struct Users {
            #[serde(default, deserialize_with = "crate::lenient::vec_skip")]
            users: Vec<User>,
        }
        let mut url = self.endpoint(&["users"]);
        url.query_pairs_mut()
            .append_pair("reference_id", reference_id);
        let found: Users = self.get_json(Op::UserSearch, url, "user search").await?;
        // A loose server-side match must not hand us somebody else's user.
        Ok(found
            .users
            .into_iter()
            .filter(|u| u.reference_id.as_deref() == Some(reference_id))
            .collect())
    }

    /// `PUT /v2/users/{id}`; `properties`, when given, replaces the stored list.
    pub async fn update_user(&self, id: &str, update: &UserUpdate) -> Result<(), FreshchatError> {
        let body = to_value(update, "user update")?;
        self.exchange(
            Request::with_body(
                Op::UserUpdate,
                Method::PUT,
                self.endpoint(&["users", id]),
                Body::Json(body),
            ),
            |_| Ok(()),
        )
        .await
    }

    /// `GET /v2/users/{id}/conversations`: the user's conversation ids, as listed (oldest first).
    pub async fn user_conversations(&self, user_id: &str) -> Result<Vec<String>, FreshchatError> {
        let v: Value = self
            .get_json(
                Op::UserConversations,
                self.endpoint(&["users", user_id, "conversations"]),
                "user conversations",
            )
            .await?;
        let items = v
            .get("conversations")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        Ok(items
            .iter()
            .filter_map(|c| {
                c.get("id")
                    .or_else(|| c.get("conversation_id"))
                    .and_then(crate::lenient::value_to_string)
            })
            .collect())
    }

    /// `POST /v2/conversations` (with the first message inline).
    pub async fn create_conversation(
        &self,
        conv: &NewConversation,
    ) -> Result<Conversation, FreshchatError> {
        let body = to_value(conv, "conversation creation")?;
        self.send_json(
            Op::ConversationCreate,
            Method::POST,
            self.endpoint(&["conversations"]),
            body,
            "created conversation",
        )
        .await
    }

    /// `GET /v2/conversations/{id}`.
    pub async fn get_conversation(&self, id: &str) -> Result<Conversation, FreshchatError> {
        self.get_json(
            Op::ConversationGet,
            self.endpoint(&["conversations", id]),
            "conversation",
        )
        .await
    }

    /// `PUT /v2/conversations/{id}` (status, assignment). Re-reads the conversation when the answer is empty.
    pub async fn update_conversation(
        &self,
        id: &str,
        update: &ConversationUpdate,
    ) -> Result<Conversation, FreshchatError> {
        let body = to_value(update, "conversation update")?;
        let updated: Option<Conversation> = self
            .exchange(
                Request::with_body(
                    Op::ConversationUpdate,
                    Method::PUT,
                    self.endpoint(&["conversations", id]),
                    Body::Json(body),
                ),
                |a| {
                    if a.body.iter().all(u8::is_ascii_whitespace) {
                        Ok(None)
                    } else {
                        decode(&a, "updated conversation").map(Some)
                    }
                },
            )
            .await?;
        match updated {
            Some(c) => Ok(c),
            None => self.get_conversation(id).await,
        }
    }

    /// `POST /v2/conversations/{id}/messages`.
    pub async fn post_message(
        &self,
        conversation_id: &str,
        msg: &NewMessage,
    ) -> Result<Message, FreshchatError> {
        let body = to_value(msg, "message")?;
        self.send_json(
            Op::MessagePost,
            Method::POST,
            self.endpoint(&["conversations", conversation_id, "messages"]),
            body,
            "posted message",
        )
        .await
    }

    /// `GET /v2/conversations/{id}/messages`, newest first. Pass the previous page's `next` as `cursor`
    /// to get the following (older) page; `items_per_page` is capped at 50.
    pub async fn list_messages(
        &self,
        conversation_id: &str,
        cursor: Option<&str>,
        items_per_page: u32,
    ) -> Result<MessagePage, FreshchatError> {
        #[derive(Deserialize)]
        struct Page {
            #[serde(default, deserialize_with = "crate::lenient::vec_skip")]
            messages: Vec<Message>,
            #[serde(default)]
            link: Option<Value>,
        }
        let url = match cursor {
            Some(href) => self.resolve_on_api_host(href)?,
            None => {
                let mut url = self.endpoint(&["conversations", conversation_id, "messages"]);
                url.query_pairs_mut().append_pair("page", "1").append_pair(
                    "items_per_page",
                    &items_per_page.clamp(1, MAX_MESSAGES_PER_PAGE).to_string(),
                );
                url
            }
        };
        let page: Page = self.get_json(Op::MessagesList, url, "message list").await?;
        let next = page
            .link
            .as_ref()
            .and_then(|l| l.get("href"))
            .and_then(Value::as_str)
            .filter(|h| !h.is_empty())
            .map(str::to_owned);
        Ok(MessagePage {
            messages: page.messages,
            next,
        })
    }

    /// Resolves a URL against the API base (relative ones included) and returns it with whether it
    /// is on the API origin (and so may carry the key).
    pub fn resolve(&self, url: &str) -> Result<(Url, bool), FreshchatError> {
        let parsed = match Url::parse(url) {
            Ok(u) => u,
            Err(url::ParseError::RelativeUrlWithoutBase) => {
                self.inner
                    .base
                    .join(url)
                    .map_err(|e| FreshchatError::BadUrl {
                        url: url.to_owned(),
                        reason: e.to_string(),
                    })?
            }
            Err(e) => {
                return Err(FreshchatError::BadUrl {
                    url: url.to_owned(),
                    reason: e.to_string(),
                })
            }
        };
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(FreshchatError::BadUrl {
                url: url.to_owned(),
                reason: "only http and https URLs are fetched".into(),
            });
        }
        let keyed = self.is_api_origin(&parsed);
        Ok((parsed, keyed))
    }

    /// Resolves a root-relative `link.href`; refuses other origins (the key must not leak).
    fn resolve_on_api_host(&self, href: &str) -> Result<Url, FreshchatError> {
        let (url, keyed) = self.resolve(href)?;
        if !keyed {
            return Err(FreshchatError::BadUrl {
                url: href.to_owned(),
                reason: format!(
                    "a message-list cursor must stay on the API host, not {}",
                    url.origin().ascii_serialization()
                ),
            });
        }
        Ok(url)
    }

    /// `POST /v2/images/upload` (multipart field `image`). [`ImageUpload::to_part`] gives the part.
    pub async fn upload_image(
        &self,
        filename: &str,
        content_type: &str,
        bytes: Bytes,
    ) -> Result<ImageUpload, FreshchatError> {
        let form = multipart("image", filename, content_type, bytes)?;
        self.exchange(
            Request::with_body(
                Op::UploadImage,
                Method::POST,
                self.endpoint(&["images", "upload"]),
                Body::Multipart(form),
            ),
            |a| decode(&a, "image upload"),
        )
        .await
    }

    /// `POST /v2/files/upload` (multipart field `file`). [`FileUpload::to_part`] gives the complete
    /// `file` part to post.
    pub async fn upload_file(
        &self,
        filename: &str,
        content_type: &str,
        bytes: Bytes,
    ) -> Result<FileUpload, FreshchatError> {
        const WHAT: &str = "file upload";
        let form = multipart("file", filename, content_type, bytes)?;
        self.exchange(
            Request::with_body(
                Op::UploadFile,
                Method::POST,
                self.endpoint(&["files", "upload"]),
                Body::Multipart(form),
            ),
            |a| {
                let v = json_of(&a, WHAT)?;
                // Some accounts nest the descriptor under `file` or `data`.
                let v = match (
                    v.get("file_name").or_else(|| v.get("url")),
                    v.get("file"),
                    v.get("data"),
                ) {
                    (None, Some(inner), _) | (None, None, Some(inner)) if inner.is_object() => {
                        inner.clone()
                    }
                    _ => v,
                };
                serde_json::from_value(v).map_err(|e| decode_err(WHAT, &e))
            },
        )
        .await
    }
}

/// The token without a leading `Bearer ` (any case), trimmed.
fn bare_token(raw: &str) -> &str {
    let raw = raw.trim();
    match raw.get(..6) {
        Some(p) if p.eq_ignore_ascii_case("bearer") => {
            let rest = &raw[6..];
            if rest.is_empty() {
                ""
            } else if rest.starts_with(char::is_whitespace) {
                rest.trim()
            } else {
                raw
            }
        }
        _ => raw,
    }
}

fn to_value<T: serde::Serialize>(v: &T, what: &'static str) -> Result<Value, FreshchatError> {
    serde_json::to_value(v).map_err(|e| FreshchatError::Encode {
        what,
        detail: e.to_string(),
    })
}

fn multipart(
    field: &str,
    filename: &str,
    content_type: &str,
    bytes: Bytes,
) -> Result<reqwest::multipart::Form, FreshchatError> {
    let part = reqwest::multipart::Part::stream_with_length(bytes.clone(), bytes.len() as u64)
        .file_name(filename.to_owned())
        .mime_str(content_type)
        .map_err(|_| FreshchatError::BadContentType {
            content_type: content_type.to_owned(),
        })?;
    Ok(reqwest::multipart::Form::new().part(field.to_owned(), part))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn client(base: &str) -> FreshchatClient {
        FreshchatClient::new(ClientConfig::new(
            Url::parse(base).unwrap(),
            SecretString::from("Bearer abc.def"),
        ))
        .unwrap()
    }

    #[test]
    fn key_forms_and_debug() {
        let c = client("https://acme.freshchat.com");
        assert_eq!(c.inner.auth.to_str().unwrap(), "Bearer abc.def");
        assert!(!format!("{c:?}").contains("abc"));
        let cfg = ClientConfig::new(
            Url::parse("https://acme.freshchat.com").unwrap(),
            SecretString::from("abc.def"),
        );
        assert!(!format!("{cfg:?}").contains("abc.def"));
        assert_eq!(
            c.endpoint(&["users", "a/b"]).as_str(),
            "https://acme.freshchat.com/v2/users/a%2Fb"
        );
        let base = Url::parse("https://acme.freshchat.com").unwrap();
        for bad in ["Bearer ", "", "  "] {
            assert!(matches!(
                FreshchatClient::new(ClientConfig::new(base.clone(), SecretString::from(bad))),
                Err(FreshchatError::InvalidKey { .. })
            ));
        }
        assert_eq!(bare_token("bearer   x"), "x");
        assert_eq!(bare_token("Bearerish"), "Bearerish");
        assert!(matches!(
            FreshchatClient::new(ClientConfig::new(
                Url::parse("ftp://acme").unwrap(),
                SecretString::from("k")
            )),
            Err(FreshchatError::InvalidBase { .. })
        ));
    }

    #[test]
    fn the_key_goes_only_to_the_api_origin() {
        let c = client("https://acme.freshchat.com");
        let keyed = |u: &str| c.resolve(u).map(|(_, k)| k);
        assert_eq!(keyed("https://acme.freshchat.com/v2/files/x"), Ok(true));
        assert_eq!(keyed("/v2/files/x"), Ok(true));
        assert_eq!(keyed("https://ACME.freshchat.com:443/x"), Ok(true));
        assert_eq!(keyed("http://acme.freshchat.com/x"), Ok(false));
        assert_eq!(keyed("https://acme.freshchat.com:8443/x"), Ok(false));
        assert_eq!(keyed("https://acme.freshchat.com.evil.test/x"), Ok(false));
        assert_eq!(keyed("//cdn.example/x"), Ok(false));
        assert!(matches!(
            c.resolve("file:///etc/passwd"),
            Err(FreshchatError::BadUrl { .. })
        ));
        assert!(c.resolve_on_api_host("https://other.test/v2/x").is_err());
        assert!(c
            .resolve_on_api_host("/v2/conversations/1/messages?page=2")
            .is_ok());
    }

    #[test]
    fn error_bodies_are_scrubbed() {
        let c = client("https://acme.freshchat.com");
        assert_eq!(
            c.scrub_text("bad token abc.def here"),
            "bad token [redacted] here"
        );
    }
}
