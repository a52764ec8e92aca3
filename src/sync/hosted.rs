//! Files zfsync hosts itself: a long reply Zalo's upload will not take, or an attachment Zalo cannot
//! carry, stored under an unguessable token and served at `<public_url>/files/{token}` until it
//! expires. The customer receives a short text with that link, which opens without any key.
//!
//! A hosted file's type is never the sender's text as it came: [`served_type`] keeps only the types
//! of the allowlist (images, PDF and office documents, archives, plain text, common audio and
//! video), anything else becomes `application/octet-stream`. It is applied when the file is
//! hosted and again when it is served (files hosted by an older release). Every file is served as
//! an attachment with `X-Content-Type-Options: nosniff`, so a browser never renders it as a page.

use base64::Engine as _;

use crate::error::SyncError;
use crate::store::{HostedFile, Store};

/// The path hosted files are served under.
pub const FILES_PATH: &str = "/files";

/// The type of anything outside [`SERVED_TYPES`].
pub const OCTET_STREAM: &str = "application/octet-stream";

/// What plain text is served as (zfsync's long replies are UTF-8).
const PLAIN_TEXT: &str = "text/plain; charset=utf-8";

/// The types a hosted file keeps (by essence, lower case); `text/plain` is served as [`PLAIN_TEXT`].
const SERVED_TYPES: &[&str] = &[
    "image/jpeg",
    "image/png",
    "image/gif",
    "image/webp",
    "image/bmp",
    "image/heic",
    "application/pdf",
    "application/msword",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.ms-excel",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.ms-powerpoint",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "application/zip",
    "text/plain",
    "text/csv",
    "audio/mpeg",
    "audio/mp4",
    "audio/aac",
    "audio/amr",
    "audio/ogg",
    "audio/wav",
    "audio/webm",
    "video/mp4",
    "video/quicktime",
    "video/webm",
    "video/3gpp",
];

/// The type a hosted file is served with: its essence when on the allowlist (plain text as UTF-8),
/// else `application/octet-stream`. Parameters, case and anything that could break a header (a CR
/// or LF) never pass.
pub fn served_type(given: &str) -> &'static str {
    let essence = given
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    if essence == "text/plain" {
        return PLAIN_TEXT;
    }
    SERVED_TYPES
        .iter()
        .find(|t| **t == essence)
        .copied()
        .unwrap_or(OCTET_STREAM)
}

/// Hosts files: the store they are kept in, the public URL they are served under, how long.
#[derive(Debug, Clone)]
pub struct Hosted {
    store: Store,
    public_url: String,
    ttl_ms: i64,
}

impl Hosted {
    /// Hosting in `store`, served under `public_url` for `ttl_ms`.
    pub fn new(store: Store, public_url: String, ttl_ms: i64) -> Hosted {
        Hosted {
            store,
            public_url,
            ttl_ms,
        }
    }

    /// Stores a file sent to `zalo_user_id` and returns the public URL that serves it.
    pub async fn host(
        &self,
        zalo_user_id: &str,
        filename: &str,
        content_type: &str,
        body: Vec<u8>,
    ) -> Result<String, SyncError> {
        let mut raw = [0u8; 24];
        aws_lc_rs::rand::fill(&mut raw).map_err(|_| SyncError::Randomness)?;
        let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw);
        self.store
            .put_hosted_file(
                token.clone(),
                HostedFile {
                    zalo_user_id: Some(zalo_user_id.to_string()),
                    filename: filename.to_string(),
                    content_type: served_type(content_type).to_string(),
                    body,
                },
                self.ttl_ms,
            )
            .await?;
        Ok(format!(
            "{}{FILES_PATH}/{token}",
            self.public_url.trim_end_matches('/')
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_allowlisted_types_are_served_as_themselves() {
        assert_eq!(served_type("video/mp4"), "video/mp4");
        assert_eq!(
            served_type("Application/PDF; name=x.pdf"),
            "application/pdf"
        );
        assert_eq!(served_type("text/plain"), PLAIN_TEXT);
        assert_eq!(served_type("text/plain; charset=utf-8"), PLAIN_TEXT);
        for bad in [
            "text/html",
            "image/svg+xml",
            "application/javascript",
            "text/html\r\nX-Injected: 1",
            "image/png\r\nSet-Cookie: a=b",
            "",
            "application/octet-stream",
        ] {
            assert_eq!(served_type(bad), OCTET_STREAM, "{bad:?}");
        }
    }
}
