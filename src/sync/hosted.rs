//! Files zfsync hosts itself: a long reply Zalo's upload will not take, or an attachment Zalo cannot
//! carry, stored under an unguessable token and served at `<public_url>/files/{token}` until it
//! expires. The customer receives a short text with that link, which opens without any key.

use base64::Engine as _;

use super::SyncContext;
use crate::error::SyncError;
use crate::store::HostedFile;

/// The path hosted files are served under.
pub const FILES_PATH: &str = "/files";

impl SyncContext {
    /// Stores a file sent to `zalo_user_id` and returns the public URL that serves it.
    pub(crate) async fn host_file(
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
                    content_type: content_type.to_string(),
                    body,
                },
                self.settings.hosted_file_ttl_ms,
            )
            .await?;
        Ok(format!(
            "{}{FILES_PATH}/{token}",
            self.settings.public_url.trim_end_matches('/')
        ))
    }
}
