//! Attachment downloads. An agent's or bot's attachment URL comes from a webhook or a message, so
//! it is not trusted:
//!
//! - The API key goes only with Freshchat's file download shape on the API origin,
//!   `<api_base>/v2/files/<id>` or `<api_base>/v2/files/<id>/<name>` (relative URLs resolved
//!   against the API base first), with no query. Any other address on the API origin (`/v2/agents`,
//!   `/v2/users/…`) is refused before anything is sent: fetched with the key, it would hand the
//!   API's answer to whoever receives the attachment.
//! - A keyed download that is redirected (to signed storage) is fetched again without the key, and
//!   only where the caller's [`DownloadGuard`](super::DownloadGuard) allows; the caller's download
//!   client checks every later hop itself.
//! - What came back from the API origin must be a file: a JSON answer (by `Content-Type`, or a body
//!   that parses as a JSON object or array) is the API talking, not an attachment, and is refused.
//!
//! Every refusal is a [`FreshchatError::DownloadRefused`] naming the URL (without its query, which
//! may be a signature) and the reason: permanent, never retried.

use std::error::Error as StdError;
use std::time::Duration;

use bytes::Bytes;
use reqwest::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use url::Url;

use super::config::{CallOutcome, Op};
use super::transport::{disposition_filename, header_str, Request};
use super::FreshchatClient;
use crate::error::FreshchatError;

/// The path segments of a file download under the API base: `v2/files/<id>[/<name>]`.
const FILES_PATH: [&str; 2] = ["v2", "files"];
/// `/v2/files/upload` is the upload endpoint, never a file.
const UPLOAD_SEGMENT: &str = "upload";

/// Why a keyed URL was refused.
const NOT_A_FILE: &str = "it is an address of the Freshchat API, not a file download \
    (only <api_base>/v2/files/<id>/<name> is fetched with the API key)";
/// Why an answer from the API origin was refused.
const API_ANSWER: &str =
    "the Freshchat API answered with its own data (JSON), not a file, so it was not passed on";

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

impl FreshchatClient {
    /// Downloads an attachment: with the key only for Freshchat's file download shape on the API
    /// origin ([`FreshchatClient::is_file_download`]; any other API address is refused), through
    /// the download client otherwise. A keyed download that is redirected (to signed storage) is
    /// fetched again without the key, where the [`DownloadGuard`](super::DownloadGuard) allows.
    /// An answer of the API origin that is JSON is refused. Stops with
    /// [`FreshchatError::TooLarge`] past `max_bytes`.
    pub async fn download(&self, url: &str, max_bytes: u64) -> Result<Downloaded, FreshchatError> {
        let parsed = match self.download_target(url) {
            Ok(u) => u,
            Err(e) => {
                if let Some(o) = &self.inner.observer {
                    o.observe(Op::Download, CallOutcome::Failed(e.class()), Duration::ZERO);
                }
                return Err(e);
            }
        };
        let req = Request {
            limit: max_bytes,
            ..Request::get(Op::Download, parsed.clone())
        };
        self.exchange(req, |a| {
            let content_type = header_str(&a.headers, CONTENT_TYPE.as_str());
            if self.is_api_origin(&a.url) && is_api_answer(content_type.as_deref(), &a.body) {
                return Err(refused(&a.url, API_ANSWER));
            }
            let filename = header_str(&a.headers, CONTENT_DISPOSITION.as_str())
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
            Ok(Downloaded {
                bytes: a.body,
                content_type,
                filename,
            })
        })
        .await
    }

    /// The URL to fetch: resolved against the API base, and refused when it is on the API origin
    /// but not a file download.
    fn download_target(&self, url: &str) -> Result<Url, FreshchatError> {
        let (parsed, keyed) = self.resolve(url)?;
        if keyed && !self.is_file_download(&parsed) {
            return Err(refused(&parsed, NOT_A_FILE));
        }
        Ok(parsed)
    }

    /// Whether `url` is Freshchat's file download shape on the API origin, the only address the
    /// key goes with for a download: `<api_base>/v2/files/<id>` or `…/v2/files/<id>/<name>`, the
    /// id of letters, digits, `-` and `_` (not `upload`), the name one segment that does not
    /// decode to a path, and no query.
    pub fn is_file_download(&self, url: &Url) -> bool {
        if !self.is_api_origin(url) || url.query().is_some() {
            return false;
        }
        let base: Vec<&str> = self
            .inner
            .base
            .path_segments()
            .map(|s| s.filter(|s| !s.is_empty()).collect())
            .unwrap_or_default();
        let Some(segments) = url.path_segments() else {
            return false;
        };
        let segments: Vec<&str> = segments.collect();
        let Some(rest) = segments.strip_prefix(base.as_slice()) else {
            return false;
        };
        let Some(rest) = rest.strip_prefix(FILES_PATH.as_slice()) else {
            return false;
        };
        match rest {
            [id] => is_file_id(id),
            [id, name] => is_file_id(id) && is_file_name(name),
            _ => false,
        }
    }

    /// Checks the hop after a keyed redirect with the guard (without one: http(s) only).
    pub(crate) fn check_redirect_target(&self, to: &Url) -> Result<(), FreshchatError> {
        match &self.inner.guard {
            Some(guard) => guard.check(to).map_err(|reason| refused(to, &reason)),
            None => Ok(()),
        }
    }

    /// A failed request's error: the guard's refusal when its download client refused, else a
    /// transport failure.
    pub(crate) fn send_error(&self, e: &reqwest::Error, url: &Url) -> FreshchatError {
        if let Some(guard) = &self.inner.guard {
            let mut cause: Option<&(dyn StdError + 'static)> = Some(e);
            while let Some(c) = cause {
                if let Some(reason) = guard.refusal(c) {
                    return refused(e.url().unwrap_or(url), &reason);
                }
                cause = c.source();
            }
        }
        FreshchatError::transport(e)
    }
}

/// A refusal naming `url` without its query, fragment or credentials.
fn refused(url: &Url, reason: &str) -> FreshchatError {
    let mut shown = url.clone();
    shown.set_query(None);
    shown.set_fragment(None);
    // Only fails for URLs that cannot have credentials, which then have none.
    let _ = shown.set_username("");
    let _ = shown.set_password(None);
    FreshchatError::DownloadRefused {
        url: shown.to_string(),
        reason: reason.to_owned(),
    }
}

fn is_file_id(id: &str) -> bool {
    !id.is_empty()
        && id != UPLOAD_SEGMENT
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn is_file_name(name: &str) -> bool {
    let decoded = percent_encoding::percent_decode_str(name).decode_utf8_lossy();
    !decoded.is_empty() && decoded != "." && decoded != ".." && !decoded.contains(['/', '\\'])
}

/// Whether an answer is the API's JSON rather than a file: a JSON `Content-Type`
/// (`application/json`, `text/json`, `…+json`), or a body that is a JSON object or array.
fn is_api_answer(content_type: Option<&str>, body: &[u8]) -> bool {
    let essence = content_type
        .and_then(|c| c.split(';').next())
        .map(|c| c.trim().to_ascii_lowercase())
        .unwrap_or_default();
    if essence == "application/json" || essence == "text/json" || essence.ends_with("+json") {
        return true;
    }
    let first = body.iter().find(|b| !b.is_ascii_whitespace());
    matches!(first, Some(b'{' | b'['))
        && serde_json::from_slice::<serde::de::IgnoredAny>(body).is_ok()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::client::ClientConfig;
    use secrecy::SecretString;

    fn client(base: &str) -> FreshchatClient {
        FreshchatClient::new(ClientConfig::new(
            Url::parse(base).unwrap(),
            SecretString::from("k"),
        ))
        .unwrap()
    }

    /// Only `/v2/files/<id>[/<name>]` on the API origin may carry the key; every other API path,
    /// relative or absolute, and every dressed-up form of the file path is refused.
    #[test]
    fn the_key_goes_only_to_the_file_download_shape() {
        let c = client("https://acme.freshchat.com");
        for ok in [
            "https://acme.freshchat.com/v2/files/9f2c/a.pdf",
            "https://acme.freshchat.com/v2/files/9f2c",
            "https://acme.freshchat.com/v2/files/a_b-C1/h%E1%BB%A3p%20%C4%91%E1%BB%93ng.pdf",
            "/v2/files/9f2c/a.pdf",
            "v2/files/9f2c/a.pdf",
        ] {
            assert!(c.download_target(ok).is_ok(), "{ok}");
        }
        for refused in [
            "https://acme.freshchat.com/v2/agents",
            "/v2/agents",
            "v2/users/u1",
            "/v2/users?reference_id=x",
            "/v2/files/upload",
            "/v2/files",
            "/v2/files/",
            "/v2/files/a/b/c",
            "/v2/files/x/..%2F..%2Fagents",
            "/v2/files/x/%2e%2e",
            "/v2/files/x/../../agents",
            "/v2/files/a.b/c",
            "/v2/files/x/a.pdf?redirect=/v2/agents",
            "/v2/conversations/1/messages",
            "/",
            "",
        ] {
            let e = c.download_target(refused).unwrap_err();
            assert!(
                matches!(&e, FreshchatError::DownloadRefused { reason, .. } if reason == NOT_A_FILE),
                "{refused}: {e:?}"
            );
        }
        // Off the API origin the key never goes, so the shape does not matter here.
        assert!(c
            .download_target("http://acme.freshchat.com/v2/agents")
            .is_ok());
        assert!(c
            .download_target("https://fc-x.s3.amazonaws.com/a.png")
            .is_ok());
    }

    /// An API base with a path: the file shape is under it.
    #[test]
    fn the_file_shape_is_under_the_api_base_path() {
        let c = client("https://acme.myfreshworks.com/crm/messaging");
        assert!(c
            .download_target("https://acme.myfreshworks.com/crm/messaging/v2/files/x/a.pdf")
            .is_ok());
        assert!(c
            .download_target("https://acme.myfreshworks.com/v2/files/x/a.pdf")
            .is_err());
    }

    #[test]
    fn json_answers_are_the_api_talking() {
        assert!(is_api_answer(Some("application/json; charset=utf-8"), b"x"));
        assert!(is_api_answer(Some("Application/Problem+JSON"), b"x"));
        assert!(is_api_answer(Some("text/json"), b""));
        assert!(is_api_answer(
            Some("application/octet-stream"),
            br#" {"agents":[{"email":"a@b.c"}]}"#
        ));
        assert!(is_api_answer(None, b"[1,2]"));
        assert!(!is_api_answer(Some("image/png"), b"\x89PNG\r\n"));
        assert!(!is_api_answer(Some("application/pdf"), b"%PDF-1.4"));
        assert!(!is_api_answer(Some("text/plain"), b"{not json"));
        assert!(!is_api_answer(None, b"\"a string\""));
    }

    /// A refusal never shows the URL's query (a storage signature) or credentials.
    #[test]
    fn a_refusal_hides_the_query() {
        let u = Url::parse("https://u:p@fc-x.s3.amazonaws.com/a.png?X-Amz-Signature=s#f").unwrap();
        let FreshchatError::DownloadRefused { url, .. } = refused(&u, "r") else {
            panic!()
        };
        assert_eq!(url, "https://fc-x.s3.amazonaws.com/a.png");
    }
}
