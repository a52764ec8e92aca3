//! Media, both ways, as a dependency of the message that carries it.
//!
//! Zalo → Freshchat: a customer's image, sticker, voice clip, video or file is downloaded at once
//! (Zalo links expire) and uploaded to Freshchat, so agents never meet a dead link; what cannot be
//! copied is reported back as a reason, and the message carries a text in its place.
//!
//! Freshchat → Zalo: an agent's image goes through Zalo's `/upload/image` (jpg/png ≤ 1 MB) or
//! `/upload/gif` (≤ 5 MB), a document through `/upload/file` (PDF/DOC/DOCX ≤ 5 MB). `None` means
//! "Zalo cannot take it": the caller sends a link instead. A transient failure is an error (the
//! step retries); a refusal is not.

use bytes::Bytes;
use zfsync_freshchat::MessagePart;
use zfsync_mappings::MediaKind;
use zfsync_zalo::{MediaSource, OutboundMessage, ZaloError};

use super::SyncContext;
use crate::error::SyncError;
use crate::telemetry::timed;

/// Zalo upload limits (reference Part A).
const ZALO_IMAGE_MAX: usize = 1024 * 1024;
const ZALO_GIF_MAX: usize = 5 * 1024 * 1024;
const ZALO_FILE_MAX: usize = 5 * 1024 * 1024;

impl SyncContext {
    /// Downloads media from Zalo and uploads it to Freshchat. The outer error is transient (retry
    /// the step); the inner `Err(reason)` means "post a text instead".
    pub(crate) async fn copy_media(
        &self,
        kind: MediaKind,
        url: &str,
        filename: Option<&str>,
        size: Option<u64>,
        max_bytes: u64,
    ) -> Result<Result<MessagePart, String>, SyncError> {
        if size.is_some_and(|s| s > max_bytes) {
            return Ok(Err(format!(
                "larger than the {} MB limit",
                max_bytes / 1_000_000
            )));
        }
        let zalo = self.zalo.client();
        let mut download = timed("zalo", "download", zalo.download(url, max_bytes)).await;
        if matches!(&download, Err(e) if e.is_transient()) {
            download = timed("zalo", "download", zalo.download(url, max_bytes)).await;
        }
        let d = match download {
            Ok(d) => d,
            Err(ZaloError::TooLarge { limit }) => {
                return Ok(Err(format!(
                    "larger than the {} MB limit",
                    limit / 1_000_000
                )))
            }
            Err(e) => return Ok(Err(format!("download failed: {e}"))),
        };
        let name = filename
            .map(str::to_string)
            .or(d.filename.clone())
            .unwrap_or_else(|| default_filename(kind, d.content_type.as_deref()));
        let content_type = d
            .content_type
            .clone()
            .filter(|c| !c.is_empty() && c != "application/octet-stream")
            .unwrap_or_else(|| {
                mime_guess::from_path(&name)
                    .first_or_octet_stream()
                    .to_string()
            });
        let len = d.bytes.len() as u64;
        let fc = &self.freshchat;
        let result = match kind {
            MediaKind::Image | MediaKind::Gif | MediaKind::Sticker => timed(
                "freshchat",
                "upload_image",
                fc.upload_image(&name, &content_type, d.bytes),
            )
            .await
            .map(|u| MessagePart::Image { url: u.url }),
            MediaKind::Video => timed(
                "freshchat",
                "upload_file",
                fc.upload_file(&name, &content_type, d.bytes),
            )
            .await
            .map(|u| match u.url {
                Some(url) => MessagePart::Video {
                    url,
                    content_type: Some(content_type.clone()),
                },
                None => MessagePart::File {
                    name: Some(name.clone()),
                    url: None,
                    file_size_in_bytes: Some(len),
                    content_type: Some(content_type.clone()),
                },
            }),
            MediaKind::Audio | MediaKind::File => timed(
                "freshchat",
                "upload_file",
                fc.upload_file(&name, &content_type, d.bytes),
            )
            .await
            .map(|u| MessagePart::File {
                name: Some(u.file_name.clone().unwrap_or(name.clone())),
                url: u.url,
                file_size_in_bytes: Some(u.file_size.unwrap_or(len)),
                content_type: Some(u.file_content_type.clone().unwrap_or(content_type.clone())),
            }),
        };
        match result {
            Ok(p) => Ok(Ok(p)),
            Err(e) if e.is_transient() => Err(e.into()),
            Err(e) => Ok(Err(format!("Freshchat refused the upload: {e}"))),
        }
    }

    /// An agent's attachment, fetched for re-upload to Zalo. None: send the link instead (the
    /// download failed for good, or the file is larger than Zalo takes).
    async fn download_for_zalo(
        &self,
        url: &str,
        max_bytes: usize,
    ) -> Result<Option<Bytes>, SyncError> {
        match timed(
            "freshchat",
            "download",
            self.freshchat.download(url, max_bytes as u64),
        )
        .await
        {
            Ok(d) => Ok(Some(d.bytes)),
            Err(e) if e.is_transient() => Err(e.into()),
            Err(_) => Ok(None),
        }
    }

    /// An image for Zalo: jpg/png ≤ 1 MB via /upload/image, gif ≤ 5 MB via /upload/gif; None means
    /// "send the link instead".
    pub(crate) async fn image_message(
        &self,
        url: &str,
    ) -> Result<Option<OutboundMessage>, SyncError> {
        let Some(b) = self.download_for_zalo(url, ZALO_GIF_MAX).await? else {
            return Ok(None);
        };
        let kind = sniff_image(&b);
        let upload = match kind {
            Some("jpg") | Some("png") if b.len() <= ZALO_IMAGE_MAX => {
                let name = format!("image.{}", kind.unwrap_or("jpg"));
                self.zalo
                    .upload_image(&name, b)
                    .await
                    .map(|id| OutboundMessage::Image {
                        source: MediaSource::AttachmentId(id),
                        caption: None,
                    })
            }
            Some("gif") => {
                let (w, h) = gif_size(&b).unwrap_or((240, 240));
                self.zalo
                    .upload_gif("image.gif", b)
                    .await
                    .map(|id| OutboundMessage::Gif {
                        attachment_id: id,
                        width: w,
                        height: h,
                        caption: None,
                    })
            }
            _ => return Ok(None),
        };
        or_link(upload, "image")
    }

    /// A document for Zalo via /upload/file (PDF, DOC, DOCX ≤ 5 MB); None means "send the link".
    pub(crate) async fn file_message(
        &self,
        url: &str,
        name: &str,
    ) -> Result<Option<OutboundMessage>, SyncError> {
        let ext = name
            .rsplit_once('.')
            .map(|(_, e)| e.to_ascii_lowercase())
            .unwrap_or_default();
        if !matches!(ext.as_str(), "pdf" | "doc" | "docx") {
            return Ok(None);
        }
        let Some(b) = self.download_for_zalo(url, ZALO_FILE_MAX).await? else {
            return Ok(None);
        };
        let upload = self
            .zalo
            .upload_file(name, b)
            .await
            .map(|token| OutboundMessage::File { token });
        or_link(upload, "file")
    }
}

/// An upload to Zalo: a transient failure retries the step, a refusal sends the link instead.
fn or_link<T>(upload: Result<T, SyncError>, what: &str) -> Result<Option<T>, SyncError> {
    match upload {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.is_transient() => Err(e),
        Err(e) => {
            tracing::warn!(error = %e, what, "Zalo refused the upload; sending the link");
            Ok(None)
        }
    }
}

fn default_filename(kind: MediaKind, content_type: Option<&str>) -> String {
    let ext = content_type
        .and_then(|ct| mime_guess::get_mime_extensions_str(ct).and_then(|e| e.first().copied()))
        .unwrap_or(match kind {
            MediaKind::Image | MediaKind::Sticker => "jpg",
            MediaKind::Gif => "gif",
            MediaKind::Audio => "amr",
            MediaKind::Video => "mp4",
            MediaKind::File => "bin",
        });
    format!(
        "{}.{ext}",
        kind.label().replace(' ', "-").to_ascii_lowercase()
    )
}

/// The image type from its first bytes.
pub fn sniff_image(b: &[u8]) -> Option<&'static str> {
    match imagesize::image_type(b).ok()? {
        imagesize::ImageType::Jpeg => Some("jpg"),
        imagesize::ImageType::Png => Some("png"),
        imagesize::ImageType::Gif => Some("gif"),
        _ => None,
    }
}

/// Width and height of an image, from its header.
pub fn gif_size(b: &[u8]) -> Option<(u32, u32)> {
    let s = imagesize::blob_size(b).ok()?;
    (s.width > 0 && s.height > 0).then_some((s.width as u32, s.height as u32))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffs_images() {
        let jpeg = [
            0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, b'J', b'F', b'I', b'F', 0x00, 0x01, 0x01, 0x00,
            0x00, 0x01, 0x00, 0x01, 0x00, 0x00,
        ];
        assert_eq!(sniff_image(&jpeg), Some("jpg"));
        assert_eq!(
            sniff_image(b"GIF89a\x10\x00\x20\x00\x00\x00\x00"),
            Some("gif")
        );
        assert_eq!(
            gif_size(b"GIF89a\x10\x00\x20\x00\x00\x00\x00"),
            Some((16, 32))
        );
        assert_eq!(sniff_image(b"hello world"), None);
    }
}
