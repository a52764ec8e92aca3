//! The async Freshchat v2 client.
//!
//! One [`FreshchatClient`] wraps one `reqwest::Client` (cheap to clone) configured with the API key
//! as `Authorization: Bearer`, `Accept: application/json`, a request timeout and no redirect
//! following. Every call returns a typed value or a classified [`FreshchatError`]: any 2xx is
//! success; a redirect or a 2xx body that is HTML / not JSON means the configured host is not the API
//! ([`FreshchatError::WrongHost`]); 429 carries the wait from `Retry-After` or `X-RateLimit-Reset`.
//! The key is never logged or shown in `Debug`.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use reqwest::header::{
    HeaderMap, HeaderValue, ACCEPT, AUTHORIZATION, CONTENT_DISPOSITION, CONTENT_TYPE,
};
use reqwest::{Method, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::Value;
use url::Url;

use crate::error::{snippet, FreshchatError};
use crate::types::{
    AccountConfiguration, Channel, Conversation, ConversationUpdate, FileUpload, ImageUpload,
    Message, MessagePage, NewConversation, NewMessage, NewUser, User, UserUpdate,
};

/// Header: seconds to wait after a 429.
pub const RETRY_AFTER_HEADER: &str = "retry-after";
/// Header: Unix time at which the rate-limit window resets.
pub const RATE_LIMIT_RESET_HEADER: &str = "x-ratelimit-reset";
/// Header: requests allowed per window.
pub const RATE_LIMIT_LIMIT_HEADER: &str = "x-ratelimit-limit";
/// Header: requests left in the window.
pub const RATE_LIMIT_REMAINING_HEADER: &str = "x-ratelimit-remaining";

/// Largest `items_per_page` Freshchat accepts for messages.
pub const MAX_MESSAGES_PER_PAGE: u32 = 50;

/// How to reach one Freshchat account.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Scheme and host, e.g. `https://acme-123.freshchat.com`; the client appends `/v2`.
    pub api_base: Url,
    /// The API token (with or without a leading `Bearer `).
    pub api_key: SecretString,
    /// Per-request timeout (default 15 s).
    pub timeout: Duration,
}

impl ClientConfig {
    /// A config with the default 15 s timeout.
    pub fn new(api_base: Url, api_key: SecretString) -> Self {
        Self {
            api_base,
            api_key,
            timeout: Duration::from_secs(15),
        }
    }
}

/// A downloaded attachment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Downloaded {
    /// The bytes.
    pub bytes: Bytes,
    /// `Content-Type`, when sent.
    pub content_type: Option<String>,
    /// File name from `Content-Disposition` or the URL's last segment.
    pub filename: Option<String>,
}

/// The Freshchat v2 API client. Cheap to clone.
#[derive(Clone)]
pub struct FreshchatClient {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    /// Used for attachment URLs off the API host: no credentials, a few redirects allowed.
    anon: reqwest::Client,
    base: Url,
    auth: HeaderValue,
}

impl fmt::Debug for FreshchatClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FreshchatClient")
            .field("api_base", &self.inner.base.as_str())
            .finish_non_exhaustive()
    }
}

/// What a successful call answered.
struct Answer {
    headers: HeaderMap,
    body: Bytes,
}

impl FreshchatClient {
    /// Builds the client; fails on an unusable base URL or key.
    pub fn new(cfg: ClientConfig) -> Result<Self, FreshchatError> {
        if !matches!(cfg.api_base.scheme(), "http" | "https") || cfg.api_base.host_str().is_none() {
            return Err(FreshchatError::Config(format!(
                "api_base must be an http(s) URL with a host, got {}",
                cfg.api_base
            )));
        }
        let raw = cfg.api_key.expose_secret().trim();
        let token = match raw.get(..6) {
            Some(p)
                if p.eq_ignore_ascii_case("bearer")
                    && raw[6..].starts_with(char::is_whitespace) =>
            {
                raw[6..].trim()
            }
            Some(p) if p.eq_ignore_ascii_case("bearer") && raw.len() == 6 => "",
            _ => raw,
        };
        if token.is_empty() {
            return Err(FreshchatError::Config(
                "the Freshchat API key is empty".into(),
            ));
        }
        let mut auth = HeaderValue::from_str(&format!("Bearer {token}")).map_err(|_| {
            FreshchatError::Config(
                "the Freshchat API key contains characters not allowed in a header".into(),
            )
        })?;
        auth.set_sensitive(true);
        let mut defaults = HeaderMap::new();
        defaults.insert(ACCEPT, HeaderValue::from_static("application/json"));
        let build = |redirect| {
            reqwest::Client::builder()
                .timeout(cfg.timeout)
                .redirect(redirect)
                .default_headers(defaults.clone())
                .user_agent(concat!("zfsync-freshchat/", env!("CARGO_PKG_VERSION")))
                .build()
                .map_err(|e| FreshchatError::Config(format!("cannot build the HTTP client: {e}")))
        };
        let http = build(reqwest::redirect::Policy::none())?;
        let anon = build(reqwest::redirect::Policy::limited(5))?;
        Ok(Self {
            inner: Arc::new(Inner {
                http,
                anon,
                base: cfg.api_base,
                auth,
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

    async fn call(
        &self,
        method: Method,
        url: Url,
        body: Option<Body>,
    ) -> Result<Answer, FreshchatError> {
        let mut req = self
            .inner
            .http
            .request(method, url)
            .header(AUTHORIZATION, self.inner.auth.clone());
        req = match body {
            Some(Body::Json(v)) => req.json(&v),
            Some(Body::Multipart(form)) => req.multipart(form),
            None => req,
        };
        let resp = req
            .send()
            .await
            .map_err(|e| FreshchatError::transport(&e))?;
        let status = resp.status();
        let headers = resp.headers().clone();
        if status.is_redirection() {
            let to = headers
                .get(reqwest::header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("?");
            return Err(FreshchatError::WrongHost {
                detail: format!("HTTP {} redirect to {to}", status.as_u16()),
            });
        }
        let body = resp
            .bytes()
            .await
            .map_err(|e| FreshchatError::transport(&e))?;
        if status.is_success() {
            return Ok(Answer { headers, body });
        }
        let retry_after = if status == StatusCode::TOO_MANY_REQUESTS {
            retry_after(&headers)
        } else {
            None
        };
        let err = FreshchatError::from_status(status.as_u16(), &body, retry_after);
        tracing::debug!(status = status.as_u16(), error = %err, "freshchat call failed");
        Err(err)
    }

    async fn get_json<T: DeserializeOwned>(
        &self,
        url: Url,
        what: &'static str,
    ) -> Result<T, FreshchatError> {
        let ans = self.call(Method::GET, url, None).await?;
        decode(&ans, what)
    }

    async fn send_json<T: DeserializeOwned>(
        &self,
        method: Method,
        url: Url,
        body: Value,
        what: &'static str,
    ) -> Result<T, FreshchatError> {
        let ans = self.call(method, url, Some(Body::Json(body))).await?;
        decode(&ans, what)
    }

    /// `GET /v2/accounts/configuration`: the credential probe.
    pub async fn account_configuration(&self) -> Result<AccountConfiguration, FreshchatError> {
        let v: Value = self
            .get_json(
                self.endpoint(&["accounts", "configuration"]),
                "account configuration",
            )
            .await?;
        // Some sources show the object wrapped in `configuration`; read either.
        let v = match v.get("configuration") {
            Some(inner) if inner.is_object() && v.get("app_id").is_none() => inner.clone(),
            _ => v,
        };
        serde_json::from_value(v).map_err(|e| decode_err("account configuration", &e))
    }

    /// `GET /v2/channels`, following every page.
    pub async fn list_channels(&self) -> Result<Vec<Channel>, FreshchatError> {
        #[derive(Deserialize)]
        struct Page {
            #[serde(default, deserialize_with = "crate::types::lenient::vec_skip")]
            channels: Vec<Channel>,
            #[serde(default)]
            pagination: Option<Pagination>,
        }
        #[derive(Deserialize)]
        struct Pagination {
            #[serde(default)]
            total_pages: Option<u64>,
        }
        let mut out = Vec::new();
        for page in 1..=1000u64 {
            let mut url = self.endpoint(&["channels"]);
            url.query_pairs_mut()
                .append_pair("page", &page.to_string())
                .append_pair("items_per_page", "100");
            let p: Page = self.get_json(url, "channel list").await?;
            let n = p.channels.len();
            out.extend(p.channels);
            let total = p.pagination.and_then(|p| p.total_pages).unwrap_or(page);
            if n == 0 || page >= total {
                break;
            }
        }
        Ok(out)
    }

    /// `POST /v2/users`.
    pub async fn create_user(&self, user: &NewUser) -> Result<User, FreshchatError> {
        self.send_json(
            Method::POST,
            self.endpoint(&["users"]),
            to_value(user)?,
            "created user",
        )
        .await
    }

    /// `GET /v2/users/{id}`.
    pub async fn get_user(&self, id: &str) -> Result<User, FreshchatError> {
        self.get_json(self.endpoint(&["users", id]), "user").await
    }

    /// `GET /v2/users?reference_id=`: users whose `reference_id` is exactly this one (possibly none).
    pub async fn find_users_by_reference_id(
        &self,
        reference_id: &str,
    ) -> Result<Vec<User>, FreshchatError> {
        #[derive(Deserialize)]
        struct Users {
            #[serde(default, deserialize_with = "crate::types::lenient::vec_skip")]
            users: Vec<User>,
        }
        let mut url = self.endpoint(&["users"]);
        url.query_pairs_mut()
            .append_pair("reference_id", reference_id);
        let found: Users = self.get_json(url, "user search").await?;
        // A loose server-side match must not hand us somebody else's user.
        Ok(found
            .users
            .into_iter()
            .filter(|u| u.reference_id.as_deref() == Some(reference_id))
            .collect())
    }

    /// `PUT /v2/users/{id}`; `properties`, when given, replaces the stored list.
    pub async fn update_user(&self, id: &str, update: &UserUpdate) -> Result<(), FreshchatError> {
        self.call(
            Method::PUT,
            self.endpoint(&["users", id]),
            Some(Body::Json(to_value(update)?)),
        )
        .await?;
        Ok(())
    }

    /// `GET /v2/users/{id}/conversations`: the user's conversation ids, as listed (oldest first).
    pub async fn user_conversations(&self, user_id: &str) -> Result<Vec<String>, FreshchatError> {
        let v: Value = self
            .get_json(
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
                    .and_then(crate::types::lenient::value_to_string)
            })
            .collect())
    }

    /// `POST /v2/conversations` (with the first message inline).
    pub async fn create_conversation(
        &self,
        conv: &NewConversation,
    ) -> Result<Conversation, FreshchatError> {
        self.send_json(
            Method::POST,
            self.endpoint(&["conversations"]),
            to_value(conv)?,
            "created conversation",
        )
        .await
    }

    /// `GET /v2/conversations/{id}`.
    pub async fn get_conversation(&self, id: &str) -> Result<Conversation, FreshchatError> {
        self.get_json(self.endpoint(&["conversations", id]), "conversation")
            .await
    }

    /// `PUT /v2/conversations/{id}` (status, assignment). Re-reads the conversation when the answer is empty.
    pub async fn update_conversation(
        &self,
        id: &str,
        update: &ConversationUpdate,
    ) -> Result<Conversation, FreshchatError> {
        let ans = self
            .call(
                Method::PUT,
                self.endpoint(&["conversations", id]),
                Some(Body::Json(to_value(update)?)),
            )
            .await?;
        if ans.body.iter().all(u8::is_ascii_whitespace) {
            return self.get_conversation(id).await;
        }
        decode(&ans, "updated conversation")
    }

    /// `POST /v2/conversations/{id}/messages`.
    pub async fn post_message(
        &self,
        conversation_id: &str,
        msg: &NewMessage,
    ) -> Result<Message, FreshchatError> {
        self.send_json(
            Method::POST,
            self.endpoint(&["conversations", conversation_id, "messages"]),
            to_value(msg)?,
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
            #[serde(default, deserialize_with = "crate::types::lenient::vec_skip")]
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
        let page: Page = self.get_json(url, "message list").await?;
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

    /// Resolves a root-relative `link.href` against scheme+host; refuses other hosts (the key must not leak).
    fn resolve_on_api_host(&self, href: &str) -> Result<Url, FreshchatError> {
        let url = self
            .inner
            .base
            .join(href)
            .map_err(|e| FreshchatError::Decode {
                what: "message list cursor",
                detail: format!("cannot use link.href {href:?}: {e}"),
            })?;
        if url.origin() != self.inner.base.origin() {
            return Err(FreshchatError::Decode {
                what: "message list cursor",
                detail: format!(
                    "link.href points to another host: {}",
                    url.origin().ascii_serialization()
                ),
            });
        }
        Ok(url)
    }

    /// `POST /v2/images/upload` (multipart field `image`).
    pub async fn upload_image(
        &self,
        filename: &str,
        content_type: &str,
        bytes: Bytes,
    ) -> Result<ImageUpload, FreshchatError> {
        let form = multipart("image", filename, content_type, bytes)?;
        let ans = self
            .call(
                Method::POST,
                self.endpoint(&["images", "upload"]),
                Some(Body::Multipart(form)),
            )
            .await?;
        decode(&ans, "image upload")
    }

    /// `POST /v2/files/upload` (multipart field `file`).
    pub async fn upload_file(
        &self,
        filename: &str,
        content_type: &str,
        bytes: Bytes,
    ) -> Result<FileUpload, FreshchatError> {
        let form = multipart("file", filename, content_type, bytes)?;
        let ans = self
            .call(
                Method::POST,
                self.endpoint(&["files", "upload"]),
                Some(Body::Multipart(form)),
            )
            .await?;
        let v: Value = decode(&ans, "file upload")?;
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
        serde_json::from_value(v).map_err(|e| decode_err("file upload", &e))
    }

    /// Downloads an attachment from a webhook part: with the Bearer header when the URL is on the API host,
    /// anonymously otherwise. Stops with [`FreshchatError::TooLarge`] past `max_bytes`.
    pub async fn download(&self, url: &str, max_bytes: u64) -> Result<Downloaded, FreshchatError> {
        let parsed = Url::parse(url)
            .or_else(|_| self.inner.base.join(url))
            .map_err(|e| FreshchatError::Invalid {
                status: 0,
                api_status: None,
                message: format!("bad attachment URL {url:?}: {e}"),
            })?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(FreshchatError::Invalid {
                status: 0,
                api_status: None,
                message: format!("unsupported attachment URL scheme in {url:?}"),
            });
        }
        let on_api_host = parsed.origin() == self.inner.base.origin();
        let mut resp = if on_api_host {
            let resp = self
                .inner
                .http
                .get(parsed.clone())
                .header(AUTHORIZATION, self.inner.auth.clone())
                .send()
                .await
                .map_err(|e| FreshchatError::transport(&e))?;
            if resp.status().is_redirection() {
                // Signed storage URLs: follow without our credentials.
                let to = resp
                    .headers()
                    .get(reqwest::header::LOCATION)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|l| parsed.join(l).ok())
                    .ok_or_else(|| FreshchatError::WrongHost {
                        detail: "redirect without a usable Location".into(),
                    })?;
                self.inner
                    .anon
                    .get(to)
                    .send()
                    .await
                    .map_err(|e| FreshchatError::transport(&e))?
            } else {
                resp
            }
        } else {
            self.inner
                .anon
                .get(parsed.clone())
                .send()
                .await
                .map_err(|e| FreshchatError::transport(&e))?
        };
        let status = resp.status();
        if !status.is_success() {
            let headers = resp.headers().clone();
            let body = resp.bytes().await.unwrap_or_default();
            let ra = if status == StatusCode::TOO_MANY_REQUESTS {
                retry_after(&headers)
            } else {
                None
            };
            return Err(FreshchatError::from_status(status.as_u16(), &body, ra));
        }
        if resp.content_length().is_some_and(|n| n > max_bytes) {
            return Err(FreshchatError::TooLarge { limit: max_bytes });
        }
        let content_type = header_str(resp.headers(), CONTENT_TYPE.as_str());
        let filename = header_str(resp.headers(), CONTENT_DISPOSITION.as_str())
            .and_then(|d| disposition_filename(&d))
            .or_else(|| {
                parsed
                    .path_segments()
                    .and_then(|mut s| s.next_back().map(str::to_owned))
                    .filter(|s| !s.is_empty())
                    .map(|s| {
                        percent_encoding::percent_decode_str(&s)
                            .decode_utf8_lossy()
                            .into_owned()
                    })
            });
        let mut buf = Vec::new();
        while let Some(chunk) = resp
            .chunk()
            .await
            .map_err(|e| FreshchatError::transport(&e))?
        {
            if (buf.len() + chunk.len()) as u64 > max_bytes {
                return Err(FreshchatError::TooLarge { limit: max_bytes });
            }
            buf.extend_from_slice(&chunk);
        }
        Ok(Downloaded {
            bytes: Bytes::from(buf),
            content_type,
            filename,
        })
    }
}

enum Body {
    Json(Value),
    Multipart(reqwest::multipart::Form),
}

fn to_value<T: serde::Serialize>(v: &T) -> Result<Value, FreshchatError> {
    serde_json::to_value(v)
        .map_err(|e| FreshchatError::Config(format!("cannot encode the request: {e}")))
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
        .map_err(|_| FreshchatError::Invalid {
            status: 0,
            api_status: None,
            message: format!("bad content type {content_type:?}"),
        })?;
    Ok(reqwest::multipart::Form::new().part(field.to_owned(), part))
}

fn decode_err(what: &'static str, e: &serde_json::Error) -> FreshchatError {
    FreshchatError::Decode {
        what,
        detail: e.to_string(),
    }
}

/// Decodes a 2xx body; HTML or non-JSON means we are not talking to the API.
fn decode<T: DeserializeOwned>(ans: &Answer, what: &'static str) -> Result<T, FreshchatError> {
    let ctype = header_str(&ans.headers, CONTENT_TYPE.as_str())
        .unwrap_or_default()
        .to_ascii_lowercase();
    let first = ans.body.iter().find(|b| !b.is_ascii_whitespace()).copied();
    if ctype.contains("html") || first == Some(b'<') {
        return Err(FreshchatError::WrongHost {
            detail: format!("a 2xx answer with an HTML page ({})", snippet(&ans.body)),
        });
    }
    let v: Value = serde_json::from_slice(&ans.body).map_err(|_| FreshchatError::WrongHost {
        detail: format!("a 2xx answer that is not JSON ({})", snippet(&ans.body)),
    })?;
    serde_json::from_value(v).map_err(|e| decode_err(what, &e))
}

fn header_str(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
}

/// `Retry-After` (seconds or HTTP date), else `X-RateLimit-Reset` (Unix time, or seconds when small).
pub(crate) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let now = chrono::Utc::now();
    if let Some(v) = header_str(headers, RETRY_AFTER_HEADER) {
        if let Ok(secs) = v.parse::<f64>() {
            if secs.is_finite() && secs >= 0.0 {
                return Some(Duration::from_secs_f64(secs.min(86_400.0)));
            }
        }
        if let Ok(at) = chrono::DateTime::parse_from_rfc2822(&v) {
            let ms = (at.with_timezone(&chrono::Utc) - now)
                .num_milliseconds()
                .max(0);
            return Some(Duration::from_millis(ms as u64));
        }
    }
    let reset = header_str(headers, RATE_LIMIT_RESET_HEADER)?
        .parse::<f64>()
        .ok()?;
    if !reset.is_finite() || reset < 0.0 {
        return None;
    }
    if reset < 1_000_000_000.0 {
        return Some(Duration::from_secs_f64(reset.min(86_400.0)));
    }
    let secs = reset - now.timestamp_millis() as f64 / 1000.0;
    Some(Duration::from_secs_f64(secs.clamp(0.0, 86_400.0)))
}

fn disposition_filename(d: &str) -> Option<String> {
    for part in d.split(';').map(str::trim) {
        if let Some(v) = part.strip_prefix("filename*=") {
            let v = v.rsplit("''").next().unwrap_or(v);
            return Some(
                percent_encoding::percent_decode_str(v)
                    .decode_utf8_lossy()
                    .into_owned(),
            );
        }
    }
    d.split(';')
        .map(str::trim)
        .find_map(|p| p.strip_prefix("filename="))
        .map(|v| v.trim_matches('"').to_owned())
        .filter(|v| !v.is_empty())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_parsing() {
        let mut h = HeaderMap::new();
        h.insert("retry-after", HeaderValue::from_static("7"));
        assert_eq!(retry_after(&h), Some(Duration::from_secs(7)));
        let mut h = HeaderMap::new();
        let reset = (chrono::Utc::now().timestamp() + 30).to_string();
        h.insert("x-ratelimit-reset", HeaderValue::from_str(&reset).unwrap());
        let d = retry_after(&h).unwrap();
        assert!(
            d > Duration::from_secs(25) && d <= Duration::from_secs(31),
            "{d:?}"
        );
        assert_eq!(retry_after(&HeaderMap::new()), None);
    }

    #[test]
    fn key_forms_and_debug() {
        let base = Url::parse("https://acme.freshchat.com").unwrap();
        let c = FreshchatClient::new(ClientConfig::new(
            base.clone(),
            SecretString::from("Bearer abc.def"),
        ))
        .unwrap();
        assert_eq!(c.inner.auth.to_str().unwrap(), "Bearer abc.def");
        assert!(!format!("{c:?}").contains("abc"));
        assert_eq!(
            c.endpoint(&["users", "a/b"]).as_str(),
            "https://acme.freshchat.com/v2/users/a%2Fb"
        );
        assert!(
            FreshchatClient::new(ClientConfig::new(base, SecretString::from("Bearer "))).is_err()
        );
        assert_eq!(
            disposition_filename("attachment; filename=\"a b.pdf\"").as_deref(),
            Some("a b.pdf")
        );
        assert_eq!(
            disposition_filename("attachment; filename*=UTF-8''%C3%A1.txt").as_deref(),
            Some("á.txt")
        );
    }
}
