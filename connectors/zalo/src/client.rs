//! The async Zalo OA Open API client: OAuth v4 token calls, CS messages, uploads, user/OA info, history
//! and media download.
//!
//! One `reqwest::Client` is shared by all clones (keep-alive). OpenAPI calls carry the header
//! `access_token`; GET parameters travel as one `data=<json>` query parameter. Every response is checked
//! for a non-2xx status ([`ZaloError::Http`]), a body that is not JSON ([`ZaloError::Decode`]) and a
//! non-zero `error` in the envelope ([`ZaloError::Api`], which Zalo sends with HTTP 200). Tokens and the
//! app secret are never logged nor put in errors.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{json, Value};
use url::Url;

use crate::error::{truncate, ZaloError};
use crate::oauth::{parse_token_response, TokenPair};
use crate::types::{str_of, HistoryMessage, OaInfo, OutboundMessage, SentMessage, UserProfile};

/// Header carrying the OA access token on OpenAPI calls.
pub const ACCESS_TOKEN_HEADER: &str = "access_token";
/// Header carrying the App Secret on token calls.
pub const SECRET_KEY_HEADER: &str = "secret_key";

/// OAuth v4 permission (consent) page.
pub const PATH_PERMISSION: &str = "/v4/oa/permission";
/// OAuth v4 token endpoint (code exchange and refresh).
pub const PATH_ACCESS_TOKEN: &str = "/v4/oa/access_token";
/// Consultation message send.
pub const PATH_MESSAGE_CS: &str = "/v3.0/oa/message/cs";
/// Image upload (jpg/png ≤ 1 MB).
pub const PATH_UPLOAD_IMAGE: &str = "/v2.0/oa/upload/image";
/// GIF upload (≤ 5 MB).
pub const PATH_UPLOAD_GIF: &str = "/v2.0/oa/upload/gif";
/// File upload (pdf/doc/docx ≤ 5 MB).
pub const PATH_UPLOAD_FILE: &str = "/v2.0/oa/upload/file";
/// User profile.
pub const PATH_USER_DETAIL: &str = "/v3.0/oa/user/detail";
/// OA identity.
pub const PATH_GETOA: &str = "/v2.0/oa/getoa";
/// Recent messages across conversations.
pub const PATH_RECENT_CHAT: &str = "/v2.0/oa/listrecentchat";
/// Messages of one conversation.
pub const PATH_CONVERSATION: &str = "/v2.0/oa/conversation";

/// Largest `count` the history endpoints accept.
pub const MAX_HISTORY_COUNT: u32 = 10;

/// Settings of a [`ZaloClient`].
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// The app id from developers.zalo.me.
    pub app_id: String,
    /// The App Secret Key (header `secret_key` of token calls).
    pub app_secret: SecretString,
    /// OpenAPI base, default `https://openapi.zalo.me`.
    pub api_base: Url,
    /// OAuth base, default `https://oauth.zaloapp.com`.
    pub oauth_base: Url,
    /// Timeout of each request, default 15 s.
    pub timeout: Duration,
}

/// Default OpenAPI host.
pub const DEFAULT_API_BASE: &str = "https://openapi.zalo.me";
/// Default OAuth host.
pub const DEFAULT_OAUTH_BASE: &str = "https://oauth.zaloapp.com";

impl ClientConfig {
    /// Settings with Zalo's hosts and a 15 s timeout.
    pub fn new(app_id: impl Into<String>, app_secret: SecretString) -> Self {
        ClientConfig {
            app_id: app_id.into(),
            app_secret,
            api_base: parse_const_url(DEFAULT_API_BASE),
            oauth_base: parse_const_url(DEFAULT_OAUTH_BASE),
            timeout: Duration::from_secs(15),
        }
    }

    /// Points both bases at one URL (e.g. a simulator).
    pub fn with_base(mut self, base: Url) -> Self {
        self.api_base = base.clone();
        self.oauth_base = base;
        self
    }
}

fn parse_const_url(s: &'static str) -> Url {
    // Only ever called with the constants above, which are valid URLs.
    Url::parse(s).expect("built-in base URL is valid")
}

/// A media file fetched with [`ZaloClient::download`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Downloaded {
    /// The file's bytes.
    pub bytes: Bytes,
    /// `Content-Type` of the response, if any.
    pub content_type: Option<String>,
    /// From `Content-Disposition`, else the URL's last path segment.
    pub filename: Option<String>,
}

#[derive(Debug)]
struct Inner {
    cfg: ClientConfig,
    http: reqwest::Client,
}

/// The Zalo OA Open API client. Cheap to clone.
#[derive(Debug, Clone)]
pub struct ZaloClient {
    inner: Arc<Inner>,
}

fn endpoint(base: &Url, path: &str) -> Url {
    let mut u = base.clone();
    let joined = format!("{}{}", base.path().trim_end_matches('/'), path);
    u.set_path(&joined);
    u.set_query(None);
    u
}

impl ZaloClient {
    /// Builds the client; fails if the bases cannot carry paths or the HTTP stack cannot start.
    pub fn new(cfg: ClientConfig) -> Result<Self, ZaloError> {
        for (name, u) in [("api_base", &cfg.api_base), ("oauth_base", &cfg.oauth_base)] {
            if u.cannot_be_a_base() || !matches!(u.scheme(), "http" | "https") {
                return Err(ZaloError::Config(format!(
                    "{name} must be an http(s) URL, got {u}"
                )));
            }
        }
        if cfg.app_id.trim().is_empty() {
            return Err(ZaloError::Config(
                "app_id is empty; copy it from developers.zalo.me".into(),
            ));
        }
        let http = reqwest::Client::builder()
            .timeout(cfg.timeout)
            .connect_timeout(cfg.timeout.min(Duration::from_secs(10)))
            .user_agent(concat!("zfsync-zalo/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ZaloError::Config(format!("cannot build the HTTP client: {e}")))?;
        Ok(ZaloClient {
            inner: Arc::new(Inner { cfg, http }),
        })
    }

    /// The app id this client speaks for.
    pub fn app_id(&self) -> &str {
        &self.inner.cfg.app_id
    }

    /// The configuration.
    pub fn config(&self) -> &ClientConfig {
        &self.inner.cfg
    }

    // ---------------------------------------------------------------- OAuth

    /// The consent URL an OA admin opens: `/v4/oa/permission?app_id&redirect_uri&code_challenge&state`.
    pub fn permission_url(&self, redirect_uri: &str, code_challenge: &str, state: &str) -> Url {
        let mut u = endpoint(&self.inner.cfg.oauth_base, PATH_PERMISSION);
        u.query_pairs_mut()
            .append_pair("app_id", &self.inner.cfg.app_id)
            .append_pair("redirect_uri", redirect_uri)
            .append_pair("code_challenge", code_challenge)
            .append_pair("state", state);
        u
    }

    /// Exchanges an authorization code (with the PKCE verifier when a challenge was used).
    pub async fn exchange_code(
        &self,
        code: &str,
        code_verifier: Option<&SecretString>,
    ) -> Result<TokenPair, ZaloError> {
        let mut form: Vec<(&str, &str)> = vec![
            ("code", code),
            ("app_id", &self.inner.cfg.app_id),
            ("grant_type", "authorization_code"),
        ];
        if let Some(v) = code_verifier {
            form.push(("code_verifier", v.expose_secret()));
        }
        self.token_call(&form).await
    }

    /// Exchanges a refresh token for a new pair. The old refresh token is dead afterwards.
    pub async fn refresh_token(
        &self,
        refresh_token: &SecretString,
    ) -> Result<TokenPair, ZaloError> {
        let form = [
            ("refresh_token", refresh_token.expose_secret()),
            ("app_id", self.inner.cfg.app_id.as_str()),
            ("grant_type", "refresh_token"),
        ];
        self.token_call(&form).await
    }

    async fn token_call(&self, form: &[(&str, &str)]) -> Result<TokenPair, ZaloError> {
        let url = endpoint(&self.inner.cfg.oauth_base, PATH_ACCESS_TOKEN);
        let resp = self
            .inner
            .http
            .post(url)
            .header(SECRET_KEY_HEADER, self.inner.cfg.app_secret.expose_secret())
            .form(form)
            .send()
            .await
            .map_err(|e| ZaloError::from_reqwest(&e))?;
        let status = resp.status();
        let body = resp
            .bytes()
            .await
            .map_err(|e| ZaloError::from_reqwest(&e))?;
        match parse_token_response(&body) {
            Ok(pair) if status.is_success() => Ok(pair),
            Ok(_) => Err(http_error(status.as_u16(), &body)),
            Err(e @ ZaloError::OAuth { .. }) => Err(e),
            Err(_) if !status.is_success() => Err(http_error(status.as_u16(), &body)),
            Err(e) => Err(e),
        }
    }

    // ---------------------------------------------------------------- OpenAPI

    /// Sends a consultation message to a user (`/v3.0/oa/message/cs`).
    pub async fn send_message(
        &self,
        access_token: &SecretString,
        user_id: &str,
        message: &OutboundMessage,
    ) -> Result<SentMessage, ZaloError> {
        let body = json!({"recipient": {"user_id": user_id}, "message": message.to_json()});
        let req = self.inner.http.post(self.api(PATH_MESSAGE_CS)).json(&body);
        let data = self.call(req, access_token, "send message").await?;
        Ok(SentMessage {
            message_id: str_of(data.get("message_id"))
                .filter(|s| !s.is_empty())
                .ok_or(ZaloError::Decode {
                    what: "send message",
                    detail: "no data.message_id".into(),
                })?,
            user_id: str_of(data.get("user_id")).unwrap_or_else(|| user_id.to_owned()),
            sent_time: str_of(data.get("sent_time")),
        })
    }

    /// Uploads a jpg/png (≤ 1 MB) and returns its `attachment_id`.
    pub async fn upload_image(
        &self,
        access_token: &SecretString,
        filename: &str,
        bytes: Bytes,
    ) -> Result<String, ZaloError> {
        self.upload(
            access_token,
            PATH_UPLOAD_IMAGE,
            filename,
            bytes,
            "attachment_id",
            "upload image",
        )
        .await
    }

    /// Uploads a GIF (≤ 5 MB) and returns its `attachment_id`.
    pub async fn upload_gif(
        &self,
        access_token: &SecretString,
        filename: &str,
        bytes: Bytes,
    ) -> Result<String, ZaloError> {
        self.upload(
            access_token,
            PATH_UPLOAD_GIF,
            filename,
            bytes,
            "attachment_id",
            "upload gif",
        )
        .await
    }

    /// Uploads a pdf/doc/docx (≤ 5 MB) and returns its `token`.
    pub async fn upload_file(
        &self,
        access_token: &SecretString,
        filename: &str,
        bytes: Bytes,
    ) -> Result<String, ZaloError> {
        self.upload(
            access_token,
            PATH_UPLOAD_FILE,
            filename,
            bytes,
            "token",
            "upload file",
        )
        .await
    }

    async fn upload(
        &self,
        access_token: &SecretString,
        path: &str,
        filename: &str,
        bytes: Bytes,
        key: &'static str,
        what: &'static str,
    ) -> Result<String, ZaloError> {
        if filename
            .rsplit_once('.')
            .is_none_or(|(_, ext)| ext.is_empty())
        {
            // Zalo answers "success" with empty data when the extension is missing; refuse up front.
            return Err(ZaloError::Config(format!(
                "upload file name {filename:?} needs an extension (.jpg, .png, .gif, .pdf, ...)"
            )));
        }
        let mime = mime_guess::from_path(filename).first_or_octet_stream();
        let len = bytes.len() as u64;
        let part = reqwest::multipart::Part::stream_with_length(reqwest::Body::from(bytes), len)
            .file_name(filename.to_owned())
            .mime_str(mime.essence_str())
            .map_err(|e| ZaloError::Config(format!("bad MIME type for {filename:?}: {e}")))?;
        let form = reqwest::multipart::Form::new().part("file", part);
        let req = self.inner.http.post(self.api(path)).multipart(form);
        let data = self.call(req, access_token, what).await?;
        str_of(data.get(key))
            .filter(|s| !s.is_empty())
            .ok_or(ZaloError::Decode {
                what,
                detail: format!("no data.{key}"),
            })
    }

    /// A user's profile (`/v3.0/oa/user/detail`).
    pub async fn user_detail(
        &self,
        access_token: &SecretString,
        user_id: &str,
    ) -> Result<UserProfile, ZaloError> {
        let data = self
            .get(
                access_token,
                PATH_USER_DETAIL,
                &json!({"user_id": user_id}),
                "user detail",
            )
            .await?;
        UserProfile::from_json(&data).ok_or(ZaloError::Decode {
            what: "user detail",
            detail: "no data.user_id".into(),
        })
    }

    /// The OA's identity (`/v2.0/oa/getoa`).
    pub async fn oa_info(&self, access_token: &SecretString) -> Result<OaInfo, ZaloError> {
        let req = self.inner.http.get(self.api(PATH_GETOA));
        let data = self.call(req, access_token, "OA info").await?;
        OaInfo::from_json(&data).ok_or(ZaloError::Decode {
            what: "OA info",
            detail: "no data.oa_id nor data.oaid".into(),
        })
    }

    /// Recent messages across conversations, newest first (`count` ≤ 10).
    pub async fn recent_chats(
        &self,
        access_token: &SecretString,
        offset: u32,
        count: u32,
    ) -> Result<Vec<HistoryMessage>, ZaloError> {
        let data = self
            .get(
                access_token,
                PATH_RECENT_CHAT,
                &json!({"offset": offset, "count": count}),
                "recent chats",
            )
            .await?;
        history(&data, "recent chats")
    }

    /// Messages of one conversation, newest first (`count` ≤ 10).
    pub async fn conversation(
        &self,
        access_token: &SecretString,
        user_id: &str,
        offset: u32,
        count: u32,
    ) -> Result<Vec<HistoryMessage>, ZaloError> {
        let params = json!({"user_id": user_id, "offset": offset, "count": count});
        let data = self
            .get(access_token, PATH_CONVERSATION, &params, "conversation")
            .await?;
        history(&data, "conversation")
    }

    /// Downloads media a user sent (a webhook attachment URL), refusing more than `max_bytes`.
    pub async fn download(&self, url: &str, max_bytes: u64) -> Result<Downloaded, ZaloError> {
        let parsed = Url::parse(url)
            .map_err(|e| ZaloError::Config(format!("attachment URL is not a valid URL: {e}")))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(ZaloError::Config(format!(
                "attachment URL scheme {} is not http(s)",
                parsed.scheme()
            )));
        }
        let mut resp = self
            .inner
            .http
            .get(parsed.clone())
            .send()
            .await
            .map_err(|e| ZaloError::from_reqwest(&e))?;
        let status = resp.status();
        if !status.is_success() {
            let body = resp.bytes().await.unwrap_or_default();
            return Err(http_error(status.as_u16(), &body));
        }
        if resp.content_length().is_some_and(|l| l > max_bytes) {
            return Err(ZaloError::TooLarge { limit: max_bytes });
        }
        let content_type = resp
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let filename = resp
            .headers()
            .get(reqwest::header::CONTENT_DISPOSITION)
            .and_then(|v| v.to_str().ok())
            .and_then(filename_from_disposition)
            .or_else(|| {
                parsed
                    .path_segments()
                    .and_then(|mut s| s.next_back())
                    .filter(|s| !s.is_empty())
                    .map(|s| {
                        percent_encoding::percent_decode_str(s)
                            .decode_utf8_lossy()
                            .into_owned()
                    })
            });
        let mut buf = bytes::BytesMut::new();
        while let Some(chunk) = resp
            .chunk()
            .await
            .map_err(|e| ZaloError::from_reqwest(&e))?
        {
            if (buf.len() + chunk.len()) as u64 > max_bytes {
                return Err(ZaloError::TooLarge { limit: max_bytes });
            }
            buf.extend_from_slice(&chunk);
        }
        Ok(Downloaded {
            bytes: buf.freeze(),
            content_type,
            filename,
        })
    }

    // ---------------------------------------------------------------- plumbing

    fn api(&self, path: &str) -> Url {
        endpoint(&self.inner.cfg.api_base, path)
    }

    async fn get(
        &self,
        access_token: &SecretString,
        path: &str,
        params: &Value,
        what: &'static str,
    ) -> Result<Value, ZaloError> {
        let req = self
            .inner
            .http
            .get(self.api(path))
            .query(&[("data", params.to_string())]);
        self.call(req, access_token, what).await
    }

    async fn call(
        &self,
        req: reqwest::RequestBuilder,
        access_token: &SecretString,
        what: &'static str,
    ) -> Result<Value, ZaloError> {
        let resp = req
            .header(ACCESS_TOKEN_HEADER, access_token.expose_secret())
            .send()
            .await
            .map_err(|e| ZaloError::from_reqwest(&e))?;
        let status = resp.status();
        let body = resp
            .bytes()
            .await
            .map_err(|e| ZaloError::from_reqwest(&e))?;
        if !status.is_success() {
            return Err(http_error(status.as_u16(), &body));
        }
        let v: Value = serde_json::from_slice(&body).map_err(|e| ZaloError::Decode {
            what,
            detail: format!(
                "not JSON ({e}): {}",
                truncate(&String::from_utf8_lossy(&body), 120)
            ),
        })?;
        envelope(v, what)
    }
}

/// Checks the `{data, error, message}` envelope and returns `data` (Null when absent).
pub(crate) fn envelope(mut v: Value, what: &'static str) -> Result<Value, ZaloError> {
    let Some(obj) = v.as_object_mut() else {
        return Err(ZaloError::Decode {
            what,
            detail: "response is not a JSON object".into(),
        });
    };
    let code = match obj.get("error") {
        None | Some(Value::Null) => 0,
        Some(e) => crate::types::i64_of(Some(e)).ok_or(ZaloError::Decode {
            what,
            detail: "`error` is not a number".into(),
        })?,
    };
    if code != 0 {
        let message = str_of(obj.get("message")).unwrap_or_default();
        return Err(ZaloError::Api { code, message });
    }
    Ok(obj.remove("data").unwrap_or(Value::Null))
}

fn history(data: &Value, what: &'static str) -> Result<Vec<HistoryMessage>, ZaloError> {
    let items = match data {
        Value::Array(a) => a.as_slice(),
        Value::Null => &[],
        _ => {
            return Err(ZaloError::Decode {
                what,
                detail: "data is not an array".into(),
            })
        }
    };
    Ok(items.iter().filter_map(HistoryMessage::from_json).collect())
}

fn http_error(status: u16, body: &[u8]) -> ZaloError {
    ZaloError::Http {
        status,
        body: truncate(&String::from_utf8_lossy(body), 200),
    }
}

fn filename_from_disposition(v: &str) -> Option<String> {
    for part in v.split(';').map(str::trim) {
        if let Some(rest) = part.strip_prefix("filename*=") {
            let enc = rest.split_once("''").map_or(rest, |(_, e)| e);
            return Some(
                percent_encoding::percent_decode_str(enc.trim_matches('"'))
                    .decode_utf8_lossy()
                    .into_owned(),
            );
        }
    }
    v.split(';')
        .map(str::trim)
        .find_map(|p| p.strip_prefix("filename="))
        .map(|f| f.trim_matches('"').to_owned())
        .filter(|f| !f.is_empty())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn client() -> ZaloClient {
        ZaloClient::new(ClientConfig::new("123", SecretString::from("s3cret"))).unwrap()
    }

    #[test]
    fn permission_url_has_the_four_parameters() {
        let u = client().permission_url("https://x.example/cb?a=1", "chal", "st");
        assert_eq!(u.host_str(), Some("oauth.zaloapp.com"));
        assert_eq!(u.path(), PATH_PERMISSION);
        let q: Vec<(String, String)> = u.query_pairs().into_owned().collect();
        assert_eq!(
            q,
            vec![
                ("app_id".into(), "123".into()),
                ("redirect_uri".into(), "https://x.example/cb?a=1".into()),
                ("code_challenge".into(), "chal".into()),
                ("state".into(), "st".into()),
            ]
        );
    }

    #[test]
    fn endpoint_keeps_base_path() {
        let b = Url::parse("http://h:1/prefix/").unwrap();
        assert_eq!(
            endpoint(&b, "/v2.0/oa/getoa").as_str(),
            "http://h:1/prefix/v2.0/oa/getoa"
        );
    }

    #[test]
    fn envelope_checks_error() {
        assert_eq!(
            envelope(
                json!({"data": {"a": 1}, "error": 0, "message": "Success"}),
                "t"
            )
            .unwrap(),
            json!({"a": 1})
        );
        assert_eq!(
            envelope(
                json!({"error": -216, "message": "Access token is invalid"}),
                "t"
            )
            .unwrap_err(),
            ZaloError::Api {
                code: -216,
                message: "Access token is invalid".into()
            }
        );
        assert!(envelope(json!([1]), "t").is_err());
    }

    #[test]
    fn secrets_stay_out_of_debug() {
        let c = client();
        assert!(!format!("{c:?}").contains("s3cret"));
    }

    #[test]
    fn disposition_parsing() {
        assert_eq!(
            filename_from_disposition("attachment; filename=\"a b.pdf\""),
            Some("a b.pdf".into())
        );
        assert_eq!(
            filename_from_disposition("inline; filename*=UTF-8''%C3%A9.txt"),
            Some("é.txt".into())
        );
        assert_eq!(filename_from_disposition("inline"), None);
    }
}
