//! The async Zalo OA Open API client: OAuth v4 token calls, CS messages, uploads, user/OA info, history,
//! message quota and media download.
//!
//! One `reqwest::Client` is shared by all clones (keep-alive). OpenAPI calls carry the header
//! `access_token`; GET parameters travel as one `data=<json>` query parameter. Every call goes through
//! one path ([`transport`]): send, read the body within a limit, map errors, report to the
//! [`CallObserver`]. Zalo's application errors arrive with HTTP 200 and become [`ZaloError::Api`];
//! token-endpoint refusals become [`ZaloError::OAuth`]. Tokens, the app secret and token-endpoint
//! bodies are never logged nor put in errors.

pub mod config;
pub mod transport;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{json, Value};
use url::Url;

pub use config::{
    CallObserver, CallOutcome, ClientConfig, Op, DEFAULT_API_BASE, DEFAULT_OAUTH_BASE,
};
pub use transport::{read_envelope, read_token, MAX_API_BODY};

use crate::error::ZaloError;
use crate::oauth::TokenPair;
use crate::types::{
    str_of, HistoryMessage, MessageQuota, OaInfo, OutboundMessage, SendQuota, SentAnonymous,
    SentMessage, UserProfile,
};
use transport::{filename_from_disposition, http_error};

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
/// ZBS template message send: the one message that reaches a user after the 7-day window
/// (reference §2.2).
pub const PATH_MESSAGE_TEMPLATE: &str = "/v3.0/oa/message/template";
/// The legacy send, still the one for anonymous (chat-widget) visitors (reference §2.3).
pub const PATH_MESSAGE_V2: &str = "/v2.0/oa/message";
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
/// Message quota of one user.
pub const PATH_QUOTA_MESSAGE: &str = "/v3.0/oa/quota/message";
/// Puts a user in a tag (created when missing).
pub const PATH_TAG_FOLLOWER: &str = "/v2.0/oa/tag/tagfollower";
/// Takes a user out of a tag.
pub const PATH_RM_FOLLOWER_FROM_TAG: &str = "/v2.0/oa/tag/rmfollowerfromtag";
/// Deletes a tag from the OA.
pub const PATH_RM_TAG: &str = "/v2.0/oa/tag/rmtag";
/// The OA's tags.
pub const PATH_TAGS_OF_OA: &str = "/v2.0/oa/tag/gettagsofoa";

/// Largest `count` the history endpoints accept.
pub const MAX_HISTORY_COUNT: u32 = 10;

/// The `data` of a send (`message_id`, `user_id`, `sent_time`, `quota`), for `user_id`.
fn sent_message(op: Op, data: &Value, user_id: &str) -> Result<SentMessage, ZaloError> {
    Ok(SentMessage {
        message_id: str_of(data.get("message_id"))
            .filter(|s| !s.is_empty())
            .ok_or(ZaloError::Decode {
                what: op.what(),
                detail: "no data.message_id".into(),
            })?,
        user_id: str_of(data.get("user_id")).unwrap_or_else(|| user_id.to_owned()),
        sent_time: str_of(data.get("sent_time")).filter(|s| !s.is_empty()),
        quota: SendQuota::from_json(data.get("quota")),
    })
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

/// The HTTP client of Zalo's API and token calls, with `timeout` per request: what a client
/// builds for itself, or what several share ([`ClientConfig::with_http_client`]).
pub fn api_http_client(timeout: Duration) -> Result<reqwest::Client, ZaloError> {
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(10)))
        .user_agent(concat!("zfsync-zalo/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| ZaloError::HttpClient {
            detail: e.to_string(),
        })
}

impl ZaloClient {
    /// Builds the client; fails if the bases cannot carry paths, the app id is empty or the HTTP stack
    /// cannot start.
    pub fn new(cfg: ClientConfig) -> Result<Self, ZaloError> {
        cfg.check()?;
        let http = match &cfg.http_client {
            Some(shared) => shared.clone(),
            None => api_http_client(cfg.timeout)?,
        };
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
        let req = self
            .inner
            .http
            .post(endpoint(&self.inner.cfg.oauth_base, PATH_ACCESS_TOKEN))
            .header(SECRET_KEY_HEADER, self.inner.cfg.app_secret.expose_secret())
            .form(form);
        self.execute(Op::Token, req, MAX_API_BODY, |head, body| {
            read_token(head.status, &body)
        })
        .await
    }

    // ---------------------------------------------------------------- OpenAPI

    /// Sends a consultation message to a user (`/v3.0/oa/message/cs`). The result says which
    /// allowance paid for it ([`SendQuota`]; absent in the answer = billed).
    pub async fn send_message(
        &self,
        access_token: &SecretString,
        user_id: &str,
        message: &OutboundMessage,
    ) -> Result<SentMessage, ZaloError> {
        let body = json!({"recipient": {"user_id": user_id}, "message": message.to_json()});
        let req = self.inner.http.post(self.api(PATH_MESSAGE_CS)).json(&body);
        let data = self.call(Op::Send, req, access_token).await?;
        sent_message(Op::Send, &data, user_id)
    }

    /// Sends an approved ZBS template message to a user (`/v3.0/oa/message/template` with
    /// `user_id`, `template_id`, `template_data`, reference §2.2): the only message Zalo takes
    /// after the customer's 7-day window. The answer has the shape of a consultation send's
    /// (`message_id`, `sent_time`, `quota`); Zalo's refusals (-201 for a parameter, -249 for a
    /// template not sendable by user id, …) are [`ZaloError::Api`] like any other.
    pub async fn send_template(
        &self,
        access_token: &SecretString,
        user_id: &str,
        template_id: &str,
        template_data: &std::collections::BTreeMap<String, String>,
    ) -> Result<SentMessage, ZaloError> {
        let body = json!({
            "user_id": user_id,
            "template_id": template_id,
            "template_data": template_data,
        });
        let req = self
            .inner
            .http
            .post(self.api(PATH_MESSAGE_TEMPLATE))
            .json(&body);
        let data = self.call(Op::SendTemplate, req, access_token).await?;
        sent_message(Op::SendTemplate, &data, user_id)
    }

    /// Sends a message to an anonymous chat-widget visitor (`/v2.0/oa/message` with
    /// `recipient {anonymous_id, conversation_id}`, reference §2.3). Zalo takes text, an image by
    /// URL, a file by upload token and a sticker there; the caller sends nothing else. The answer
    /// carries no quota (consultation allowances do not apply).
    pub async fn send_anonymous(
        &self,
        access_token: &SecretString,
        anonymous_id: &str,
        conversation_id: &str,
        message: &OutboundMessage,
    ) -> Result<SentAnonymous, ZaloError> {
        let body = json!({
            "recipient": {"anonymous_id": anonymous_id, "conversation_id": conversation_id},
            "message": message.to_json(),
        });
        let req = self.inner.http.post(self.api(PATH_MESSAGE_V2)).json(&body);
        let data = self.call(Op::Send, req, access_token).await?;
        let nonempty = |k: &str| str_of(data.get(k)).filter(|s| !s.is_empty());
        Ok(SentAnonymous {
            message_id: nonempty("message_id").ok_or(ZaloError::Decode {
                what: Op::Send.what(),
                detail: "no data.message_id".into(),
            })?,
            anonymous_id: nonempty("anonymous_id").unwrap_or_else(|| anonymous_id.to_owned()),
            conversation_id: nonempty("conversation_id")
                .unwrap_or_else(|| conversation_id.to_owned()),
        })
    }

    /// Uploads a jpg/png (≤ 1 MB) and returns its `attachment_id`.
    pub async fn upload_image(
        &self,
        access_token: &SecretString,
        filename: &str,
        bytes: Bytes,
    ) -> Result<String, ZaloError> {
        self.upload(access_token, Op::UploadImage, filename, bytes)
            .await
    }

    /// Uploads a GIF (≤ 5 MB) and returns its `attachment_id`.
    pub async fn upload_gif(
        &self,
        access_token: &SecretString,
        filename: &str,
        bytes: Bytes,
    ) -> Result<String, ZaloError> {
        self.upload(access_token, Op::UploadGif, filename, bytes)
            .await
    }

    /// Uploads a pdf/doc/docx (≤ 5 MB) and returns its `token` (or, as some answers have it, its
    /// `attachment_id`): what [`OutboundMessage::File`] sends.
    pub async fn upload_file(
        &self,
        access_token: &SecretString,
        filename: &str,
        bytes: Bytes,
    ) -> Result<String, ZaloError> {
        self.upload(access_token, Op::UploadFile, filename, bytes)
            .await
    }

    async fn upload(
        &self,
        access_token: &SecretString,
        op: Op,
        filename: &str,
        bytes: Bytes,
    ) -> Result<String, ZaloError> {
        let (path, keys) = match op {
            Op::UploadImage => (PATH_UPLOAD_IMAGE, ["attachment_id", "token"]),
            Op::UploadGif => (PATH_UPLOAD_GIF, ["attachment_id", "token"]),
            _ => (PATH_UPLOAD_FILE, ["token", "attachment_id"]),
        };
        if filename
            .rsplit_once('.')
            .is_none_or(|(_, ext)| ext.is_empty())
        {
            // Zalo answers "success" with empty data when the extension is missing; refuse up front.
            return Err(ZaloError::UploadName {
                filename: filename.to_owned(),
                problem: "needs an extension (.jpg, .png, .gif, .pdf, .doc, .docx)",
            });
        }
        let mime = mime_guess::from_path(filename).first_or_octet_stream();
        let len = bytes.len() as u64;
        let part = reqwest::multipart::Part::stream_with_length(reqwest::Body::from(bytes), len)
            .file_name(filename.to_owned())
            .mime_str(mime.essence_str())
            .map_err(|_| ZaloError::UploadName {
                filename: filename.to_owned(),
                problem: "has an extension whose MIME type cannot be sent",
            })?;
        let form = reqwest::multipart::Form::new().part("file", part);
        let req = self.inner.http.post(self.api(path)).multipart(form);
        let data = self.call(op, req, access_token).await?;
        keys.iter()
            .find_map(|k| str_of(data.get(*k)).filter(|s| !s.is_empty()))
            .ok_or(ZaloError::Decode {
                what: op.what(),
                detail: format!("no data.{} nor data.{}", keys[0], keys[1]),
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
                Op::UserDetail,
                access_token,
                PATH_USER_DETAIL,
                &json!({"user_id": user_id}),
            )
            .await?;
        UserProfile::from_json(&data).ok_or(ZaloError::Decode {
            what: Op::UserDetail.what(),
            detail: "no data.user_id".into(),
        })
    }

    /// The OA's identity (`/v2.0/oa/getoa`).
    pub async fn oa_info(&self, access_token: &SecretString) -> Result<OaInfo, ZaloError> {
        let req = self.inner.http.get(self.api(PATH_GETOA));
        let data = self.call(Op::GetOa, req, access_token).await?;
        OaInfo::from_json(&data).ok_or(ZaloError::Decode {
            what: Op::GetOa.what(),
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
        let params = json!({"offset": offset, "count": count});
        let data = self
            .get(Op::RecentChat, access_token, PATH_RECENT_CHAT, &params)
            .await?;
        history(&data, Op::RecentChat)
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
            .get(Op::Conversation, access_token, PATH_CONVERSATION, &params)
            .await?;
        history(&data, Op::Conversation)
    }

    /// What Zalo allows towards one user (`POST /v3.0/oa/quota/message`): the last interaction and
    /// the free CS reply allowance.
    pub async fn message_quota(
        &self,
        access_token: &SecretString,
        user_id: &str,
    ) -> Result<MessageQuota, ZaloError> {
        let req = self
            .inner
            .http
            .post(self.api(PATH_QUOTA_MESSAGE))
            .json(&json!({"user_id": user_id}));
        let data = self.call(Op::Quota, req, access_token).await?;
        MessageQuota::from_json(&data).ok_or(ZaloError::Decode {
            what: Op::Quota.what(),
            detail: "data is not an object".into(),
        })
    }

    /// Puts a user in a tag (`/v2.0/oa/tag/tagfollower`); Zalo creates the tag when the OA has
    /// none of that name.
    pub async fn tag_user(
        &self,
        access_token: &SecretString,
        user_id: &str,
        tag: &str,
    ) -> Result<(), ZaloError> {
        let body = json!({"user_id": numeric_id(user_id), "tag_name": tag});
        self.post_tags(access_token, PATH_TAG_FOLLOWER, &body).await
    }

    /// Takes a user out of a tag (`/v2.0/oa/tag/rmfollowerfromtag`).
    pub async fn untag_user(
        &self,
        access_token: &SecretString,
        user_id: &str,
        tag: &str,
    ) -> Result<(), ZaloError> {
        let body = json!({"user_id": numeric_id(user_id), "tag_name": tag});
        self.post_tags(access_token, PATH_RM_FOLLOWER_FROM_TAG, &body)
            .await
    }

    /// Deletes a tag from the OA (`/v2.0/oa/tag/rmtag`).
    pub async fn remove_tag(
        &self,
        access_token: &SecretString,
        tag: &str,
    ) -> Result<(), ZaloError> {
        self.post_tags(access_token, PATH_RM_TAG, &json!({"tag_name": tag}))
            .await
    }

    /// The OA's tags (`/v2.0/oa/tag/gettagsofoa`): `data` is a flat array of names.
    pub async fn tags_of_oa(&self, access_token: &SecretString) -> Result<Vec<String>, ZaloError> {
        let req = self.inner.http.get(self.api(PATH_TAGS_OF_OA));
        let data = self.call(Op::Tags, req, access_token).await?;
        match data {
            Value::Array(items) => Ok(items.iter().filter_map(|t| str_of(Some(t))).collect()),
            Value::Null => Ok(Vec::new()),
            _ => Err(ZaloError::Decode {
                what: Op::Tags.what(),
                detail: "data is not a list of tag names".into(),
            }),
        }
    }

    async fn post_tags(
        &self,
        access_token: &SecretString,
        path: &str,
        body: &Value,
    ) -> Result<(), ZaloError> {
        let req = self.inner.http.post(self.api(path)).json(body);
        self.call(Op::Tags, req, access_token).await.map(|_| ())
    }

    /// Downloads media a user sent (a webhook attachment URL), refusing more than `max_bytes`. Goes
    /// through the configuration's `download_client` when there is one.
    pub async fn download(&self, url: &str, max_bytes: u64) -> Result<Downloaded, ZaloError> {
        let parsed = Url::parse(url).map_err(|e| ZaloError::DownloadUrl {
            detail: format!("not a valid URL ({e})"),
        })?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(ZaloError::DownloadUrl {
                detail: format!("scheme {} is not http(s)", parsed.scheme()),
            });
        }
        let http = self
            .inner
            .cfg
            .download_client
            .as_ref()
            .unwrap_or(&self.inner.http);
        let req = http.get(parsed.clone());
        self.execute(Op::Download, req, max_bytes, |head, bytes| {
            if !(200..300).contains(&head.status) {
                return Err(http_error(head.status, &bytes));
            }
            let filename = head
                .disposition
                .as_deref()
                .and_then(filename_from_disposition)
                .or_else(|| last_segment(&parsed));
            Ok(Downloaded {
                bytes,
                content_type: head.content_type.clone(),
                filename,
            })
        })
        .await
    }

    // ---------------------------------------------------------------- plumbing

    fn api(&self, path: &str) -> Url {
        endpoint(&self.inner.cfg.api_base, path)
    }

    async fn get(
        &self,
        op: Op,
        access_token: &SecretString,
        path: &str,
        params: &Value,
    ) -> Result<Value, ZaloError> {
        let req = self
            .inner
            .http
            .get(self.api(path))
            .query(&[("data", params.to_string())]);
        self.call(op, req, access_token).await
    }

    /// An OpenAPI call: the access token header, then the one send path and the envelope reader.
    async fn call(
        &self,
        op: Op,
        req: reqwest::RequestBuilder,
        access_token: &SecretString,
    ) -> Result<Value, ZaloError> {
        let req = req.header(ACCESS_TOKEN_HEADER, access_token.expose_secret());
        self.execute(op, req, MAX_API_BODY, |head, body| {
            read_envelope(op, head.status, &body)
        })
        .await
    }
}

fn last_segment(url: &Url) -> Option<String> {
    url.path_segments()
        .and_then(|mut s| s.next_back())
        .filter(|s| !s.is_empty())
        .map(|s| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8_lossy()
                .into_owned()
        })
}

fn history(data: &Value, op: Op) -> Result<Vec<HistoryMessage>, ZaloError> {
    let items = match data {
        Value::Array(a) => a.as_slice(),
        Value::Null => &[],
        _ => {
            return Err(ZaloError::Decode {
                what: op.what(),
                detail: "data is not an array".into(),
            })
        }
    };
    Ok(items.iter().filter_map(HistoryMessage::from_json).collect())
}

/// A user id as the tag API documents it, a JSON number (a 64-bit id fits an unsigned integer
/// exactly); an id that is not one is sent as it is.
fn numeric_id(user_id: &str) -> Value {
    user_id
        .parse::<u64>()
        .map(Value::from)
        .unwrap_or_else(|_| Value::String(user_id.to_owned()))
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
    fn secrets_stay_out_of_debug() {
        let c = client();
        assert!(!format!("{c:?}").contains("s3cret"));
    }

    #[test]
    fn configuration_errors_are_typed() {
        assert_eq!(
            ZaloClient::new(ClientConfig::new("", SecretString::from("s"))).unwrap_err(),
            ZaloError::EmptyAppId
        );
    }

    #[tokio::test]
    async fn refused_before_sending_is_typed() {
        let c = client();
        let t = SecretString::from("t");
        let e = c
            .upload_image(&t, "noext", Bytes::from_static(b"x"))
            .await
            .unwrap_err();
        assert!(matches!(e, ZaloError::UploadName { .. }), "{e:?}");
        let e = c.download("ftp://x/y", 10).await.unwrap_err();
        assert!(matches!(e, ZaloError::DownloadUrl { .. }), "{e:?}");
        let e = c.download("not a url", 10).await.unwrap_err();
        assert!(matches!(e, ZaloError::DownloadUrl { .. }), "{e:?}");
    }
}
