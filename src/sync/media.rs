//! Media, both ways, as a dependency of the message that carries it.
//!
//! Zalo → Freshchat: a customer's image, sticker, voice clip, video or file is downloaded at once
//! (Zalo links expire) and uploaded to Freshchat, so agents never meet a dead link; what cannot be
//! copied is reported back as a reason, and the message carries a text in its place.
//!
//! Freshchat → Zalo: an agent's attachment is fetched (with the API key only for Freshchat's file
//! download addresses on the API host; any other API address, a redirect the egress policy
//! refuses, or a JSON answer of the API is refused and the agent told) and delivered the way Zalo
//! takes it: jpg/png ≤ 1 MB through `/upload/image` (a larger photo is re-encoded as a smaller JPEG
//! first), GIF ≤ 5 MB through `/upload/gif`, PDF/DOC/DOCX ≤ 5 MB through `/upload/file`. Anything else (video, audio, other files, anything too large, anything
//! Zalo refuses) is hosted by zfsync ([`super::hosted`]) and the customer gets a short text with a
//! link that opens. A transient failure is an error (the step retries); a refusal is not.

use bytes::Bytes;
use zfsync_freshchat::{FreshchatClient, FreshchatError, MessagePart};
use zfsync_mappings::{Attachment, MediaKind, ZaloSend};
use zfsync_zalo::{MediaSource, OutboundMessage, ZaloError};

use super::hosted::Hosted;
use super::preview_text;
use crate::egress::{EgressPolicy, EgressRefused};
use crate::error::SyncError;
use crate::store::Store;
use crate::telemetry::events::{InternalEvent, MediaHosted, MediaRefused};
use crate::tokens::ZaloSession;

/// Zalo upload limits (reference Part A).
const ZALO_IMAGE_MAX: usize = 1024 * 1024;
const ZALO_GIF_MAX: usize = 5 * 1024 * 1024;
const ZALO_FILE_MAX: usize = 5 * 1024 * 1024;
/// The largest agent attachment zfsync fetches to deliver (Freshchat's own file limit).
pub const ATTACHMENT_MAX: u64 = 25 * 1024 * 1024;
/// A re-encoded photo is at most this wide or tall.
const RESIZE_MAX_SIDE: u32 = 2048;

/// The `meta` key remembering whether this OA's file upload takes `.txt`.
const META_TXT_UPLOAD: &str = "zalo_txt_upload";

/// What a delivered attachment became on Zalo.
#[derive(Debug)]
pub(crate) enum Delivered {
    /// An uploaded attachment, ready to send.
    Zalo(OutboundMessage),
    /// A link zfsync hosts: the text to send.
    Hosted(String),
}

/// Media both ways: copies a customer's media to Freshchat, delivers an agent's attachment (and
/// long text) to Zalo, hosting what Zalo cannot take. Holds only what that needs.
#[derive(Debug, Clone)]
pub struct Media {
    zalo: ZaloSession,
    freshchat: FreshchatClient,
    egress: EgressPolicy,
    hosted: Hosted,
    /// Where whether this OA's upload takes `.txt` is remembered.
    store: Store,
}

impl Media {
    /// Media over both platforms, fetching only what `egress` allows, hosting through `hosted`.
    pub fn new(
        zalo: ZaloSession,
        freshchat: FreshchatClient,
        egress: EgressPolicy,
        hosted: Hosted,
        store: Store,
    ) -> Media {
        Media {
            zalo,
            freshchat,
            egress,
            hosted,
            store,
        }
    }

    /// Turns a planned send into a Zalo message, uploading what has to be uploaded first.
    pub(crate) async fn prepare(
        &self,
        zalo_user_id: &str,
        send: &ZaloSend,
    ) -> Result<(OutboundMessage, String), SyncError> {
        Ok(match send {
            ZaloSend::Text(t) => (text(t.clone()), preview_text(t)),
            ZaloSend::LongText {
                text: body,
                filename,
                link_text,
            } => {
                if let Some(token) = self.upload_long_text(body, filename).await? {
                    return Ok((OutboundMessage::File { token }, preview_text(body)));
                }
                let url = self
                    .hosted
                    .host(
                        zalo_user_id,
                        filename,
                        "text/plain; charset=utf-8",
                        body.as_bytes().to_vec(),
                    )
                    .await?;
                let msg = zfsync_mappings::template::fill(link_text, &[("url", &url)]);
                (text(msg), preview_text(body))
            }
            ZaloSend::Attachment(a) => {
                let label = format!("[{}] {}", a.kind.label(), a.name.as_deref().unwrap_or(""));
                match self.deliver_attachment(zalo_user_id, a).await? {
                    Delivered::Zalo(m) => (m, label),
                    Delivered::Hosted(link_text) => (text(link_text), label),
                }
            }
        })
    }

    /// A long reply through Zalo's file upload, when this OA takes `.txt` (remembered once known).
    /// None: host it instead.
    async fn upload_long_text(
        &self,
        body: &str,
        filename: &str,
    ) -> Result<Option<String>, SyncError> {
        if self.store.meta(META_TXT_UPLOAD).await?.as_deref() == Some("refused") {
            return Ok(None);
        }
        let bytes = Bytes::from(body.to_string().into_bytes());
        match self.zalo.upload_file(filename, bytes).await {
            Ok(token) => {
                self.store
                    .set_meta(META_TXT_UPLOAD, "accepted".into())
                    .await?;
                Ok(Some(token))
            }
            Err(SyncError::Zalo(e)) if e.code() == Some(-201) => {
                tracing::info!(
                    "this OA's file upload refuses .txt; long replies will be hosted by zfsync"
                );
                self.store
                    .set_meta(META_TXT_UPLOAD, "refused".into())
                    .await?;
                Ok(None)
            }
            Err(e) if e.is_transient() => Err(e),
            Err(e) => {
                tracing::warn!(error = %e, "upload of a long reply failed; hosting it instead");
                Ok(None)
            }
        }
    }

    /// Downloads media from Zalo and uploads it to Freshchat. The outer error is transient (retry
    /// the step); the inner `Err(reason)` means "post a text instead".
    pub async fn copy(
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
        if let Err(refused) = self.egress_check(url) {
            return Ok(Err(refused.to_string()));
        }
        let zalo = self.zalo.client();
        let mut download = zalo.download(url, max_bytes).await;
        if matches!(&download, Err(e) if e.is_transient()) {
            download = zalo.download(url, max_bytes).await;
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
        let fc = &self.freshchat;
        let result = match kind {
            MediaKind::Image | MediaKind::Gif | MediaKind::Sticker => fc
                .upload_image(&name, &content_type, d.bytes)
                .await
                .map(|u| u.to_part()),
            MediaKind::Video => {
                fc.upload_file(&name, &content_type, d.bytes)
                    .await
                    .map(|u| match u.url.clone() {
                        Some(url) => MessagePart::Video {
                            url,
                            content_type: Some(content_type.clone()),
                        },
                        None => MessagePart::File(u.to_part(&name, &content_type)),
                    })
            }
            // What the upload answered (hash, scan status, ...) goes with the part.
            MediaKind::Audio | MediaKind::File => fc
                .upload_file(&name, &content_type, d.bytes)
                .await
                .map(|u| MessagePart::File(u.to_part(&name, &content_type))),
        };
        match result {
            Ok(p) => Ok(Ok(p)),
            Err(e) if e.is_transient() => Err(e.into()),
            Err(e) => Ok(Err(format!("Freshchat refused the upload: {e}"))),
        }
    }

    /// Delivers an agent's attachment: uploaded to Zalo when Zalo takes it, otherwise hosted by
    /// zfsync and announced by the attachment's link text.
    pub(crate) async fn deliver_attachment(
        &self,
        zalo_user_id: &str,
        a: &Attachment,
    ) -> Result<Delivered, SyncError> {
        let (name, content_type, bytes) = self.fetch_attachment(a).await?;
        if let Some(m) = self.upload_to_zalo(&name, bytes.clone()).await? {
            return Ok(Delivered::Zalo(m));
        }
        self.host_attachment(zalo_user_id, a, &name, &content_type, bytes)
            .await
    }

    /// An agent's attachment for an anonymous chat-widget visitor, in the forms Zalo takes for
    /// them: a photo as an image by URL (zfsync hosts it), a PDF/DOC/DOCX by upload token, anything
    /// else as a link zfsync hosts.
    pub(crate) async fn deliver_to_visitor(
        &self,
        visitor: &str,
        a: &Attachment,
    ) -> Result<Delivered, SyncError> {
        let (name, content_type, bytes) = self.fetch_attachment(a).await?;
        if matches!(sniff_image(&bytes), Some("jpg" | "png")) {
            let url = self
                .hosted
                .host(visitor, &name, &content_type, bytes.to_vec())
                .await?;
            return Ok(Delivered::Zalo(OutboundMessage::Image {
                source: MediaSource::Url(url),
                caption: None,
            }));
        }
        if is_document(&name) && bytes.len() <= ZALO_FILE_MAX {
            match self.zalo.upload_file(&name, bytes.clone()).await {
                Ok(token) => return Ok(Delivered::Zalo(OutboundMessage::File { token })),
                Err(e) if e.is_transient() => return Err(e),
                Err(e) => {
                    tracing::warn!(error = %e, "Zalo refused the upload; hosting the file instead")
                }
            }
        }
        self.host_attachment(visitor, a, &name, &content_type, bytes)
            .await
    }

    /// Hosts an attachment and returns the text that links to it.
    async fn host_attachment(
        &self,
        zalo_user_id: &str,
        a: &Attachment,
        name: &str,
        content_type: &str,
        bytes: Bytes,
    ) -> Result<Delivered, SyncError> {
        let link = self
            .hosted
            .host(zalo_user_id, name, content_type, bytes.to_vec())
            .await?;
        MediaHosted { content_type }.emit();
        Ok(Delivered::Hosted(zfsync_mappings::template::fill(
            &a.link_text,
            &[("url", &link)],
        )))
    }

    /// Downloads an agent's attachment from Freshchat: its name, content type and bytes.
    async fn fetch_attachment(&self, a: &Attachment) -> Result<(String, String, Bytes), SyncError> {
        let Some(url) = a.source_url() else {
            return Err(SyncError::BadEvent(
                "an attachment without any URL, even after reading the message again".into(),
            ));
        };
        // The API origin is checked by the client (the key goes only to its file downloads, and
        // the hop after a redirect is checked by this policy there); other hosts here.
        let on_api_host = self
            .freshchat
            .resolve(url)
            .map(|(_, keyed)| keyed)
            .unwrap_or(false);
        if !on_api_host {
            self.egress_check(url).map_err(SyncError::Egress)?;
        }
        let d = match self.freshchat.download(url, ATTACHMENT_MAX).await {
            Ok(d) => d,
            Err(e @ FreshchatError::DownloadRefused { .. }) => {
                MediaRefused {
                    reason: &e.to_string(),
                }
                .emit();
                return Err(e.into());
            }
            Err(e) => return Err(e.into()),
        };
        let name = a
            .name
            .clone()
            .or(d.filename.clone())
            .unwrap_or_else(|| default_filename(a.kind, a.content_type.as_deref()));
        let content_type = a
            .content_type
            .clone()
            .or(d.content_type.clone())
            .filter(|c| !c.is_empty() && c != "application/octet-stream")
            .unwrap_or_else(|| {
                mime_guess::from_path(&name)
                    .first_or_octet_stream()
                    .to_string()
            });
        Ok((name, content_type, d.bytes))
    }

    /// Whether a media URL may be fetched (the platforms' media hosts, never private addresses).
    fn egress_check(&self, url: &str) -> Result<(), EgressRefused> {
        let parsed = url::Url::parse(url).map_err(|_| EgressRefused::BadUrl)?;
        let checked = self.egress.check(&parsed);
        if let Err(e) = &checked {
            MediaRefused {
                reason: &e.to_string(),
            }
            .emit();
        }
        checked
    }

    /// Uploads a file to Zalo when Zalo takes its kind and size; None: host it instead.
    async fn upload_to_zalo(
        &self,
        name: &str,
        bytes: Bytes,
    ) -> Result<Option<OutboundMessage>, SyncError> {
        let upload = match sniff_image(&bytes) {
            Some("gif") if bytes.len() <= ZALO_GIF_MAX => {
                let (w, h) = image_size(&bytes).unwrap_or((240, 240));
                self.zalo
                    .upload_gif("image.gif", bytes)
                    .await
                    .map(|id| OutboundMessage::Gif {
                        attachment_id: id,
                        width: w,
                        height: h,
                        caption: None,
                    })
            }
            Some(kind @ ("jpg" | "png")) => {
                let (bytes, ext) = if bytes.len() <= ZALO_IMAGE_MAX {
                    (bytes, kind)
                } else {
                    match fit_jpeg(&bytes, ZALO_IMAGE_MAX) {
                        Some(b) => (b, "jpg"),
                        None => return Ok(None),
                    }
                };
                self.zalo
                    .upload_image(&format!("image.{ext}"), bytes)
                    .await
                    .map(|id| OutboundMessage::Image {
                        source: MediaSource::AttachmentId(id),
                        caption: None,
                    })
            }
            _ if is_document(name) && bytes.len() <= ZALO_FILE_MAX => self
                .zalo
                .upload_file(name, bytes)
                .await
                .map(|token| OutboundMessage::File { token }),
            _ => return Ok(None),
        };
        match upload {
            Ok(m) => Ok(Some(m)),
            Err(e) if e.is_transient() => Err(e),
            Err(e) => {
                tracing::warn!(error = %e, "Zalo refused the upload; hosting the file instead");
                Ok(None)
            }
        }
    }
}

/// A plain text message.
pub(crate) fn text(t: String) -> OutboundMessage {
    OutboundMessage::Text {
        text: t,
        quote_message_id: None,
    }
}

/// Whether Zalo's `/upload/file` takes this file (PDF, DOC, DOCX).
fn is_document(name: &str) -> bool {
    let ext = name
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    matches!(ext.as_str(), "pdf" | "doc" | "docx")
}

/// Re-encodes a photo as a JPEG of at most `max` bytes: lower quality first, then smaller sizes.
/// None when the image cannot be decoded or does not fit even small.
pub fn fit_jpeg(bytes: &[u8], max: usize) -> Option<Bytes> {
    let img = image::load_from_memory(bytes).ok()?;
    let mut img = if img.width().max(img.height()) > RESIZE_MAX_SIDE {
        img.resize(
            RESIZE_MAX_SIDE,
            RESIZE_MAX_SIDE,
            image::imageops::FilterType::Triangle,
        )
    } else {
        img
    };
    for _ in 0..6 {
        let rgb = img.to_rgb8();
        for quality in [85u8, 70, 55] {
            let mut out = Vec::new();
            let enc = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, quality);
            rgb.write_with_encoder(enc).ok()?;
            if out.len() <= max {
                return Some(Bytes::from(out));
            }
        }
        let (w, h) = (img.width() * 3 / 4, img.height() * 3 / 4);
        if w < 64 || h < 64 {
            return None;
        }
        img = img.resize(w, h, image::imageops::FilterType::Triangle);
    }
    None
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
pub fn image_size(b: &[u8]) -> Option<(u32, u32)> {
    let s = imagesize::blob_size(b).ok()?;
    (s.width > 0 && s.height > 0).then_some((s.width as u32, s.height as u32))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use secrecy::SecretString;

    use super::*;
    use crate::tokens::{TokenManager, TokenPolicy};

    /// `Media` over clients that point at a closed port: anything that reaches the network fails
    /// (as a transport error), so an answer proves the call was never made.
    async fn media(dir: &std::path::Path) -> Media {
        let store = Store::open(dir.join("m.db")).unwrap();
        let zalo = zfsync_zalo::ZaloClient::new(zfsync_zalo::ClientConfig::new(
            "1234",
            SecretString::from("app-secret"),
        ))
        .unwrap();
        let policy = TokenPolicy {
            refresh_ahead: Duration::from_secs(600),
            reauth_after: Duration::from_secs(3600),
            retry_base: Duration::from_millis(100),
            retry_max: Duration::from_millis(2000),
        };
        let tokens = TokenManager::new(store.clone(), zalo.clone(), policy)
            .await
            .unwrap();
        let api = url::Url::parse("http://127.0.0.1:9/").unwrap();
        let freshchat = FreshchatClient::new(zfsync_freshchat::ClientConfig::new(
            api.clone(),
            SecretString::from("fc-key"),
        ))
        .unwrap();
        let hosted = Hosted::new(store.clone(), "https://sync.example.com/".into(), 60_000);
        Media::new(
            ZaloSession::new(zalo, Arc::new(tokens), None),
            freshchat,
            EgressPolicy::new(&[], &[&api], false),
            hosted,
            store,
        )
    }

    #[tokio::test]
    async fn media_refuses_what_it_may_not_fetch_and_hosts_with_a_public_link() {
        let dir = tempfile::tempdir().unwrap();
        let media = media(dir.path()).await;
        // A host off the allowlist, and a private address, are refused before any download: the
        // customer's message then carries a text in place of the media.
        for (url, why) in [
            (
                "https://attacker.example/cat.jpg",
                "not a Zalo or Freshchat media host",
            ),
            ("http://169.254.169.254/latest/meta-data", "link-local"),
        ] {
            let copied = media
                .copy(MediaKind::Image, url, None, None, 1_000_000)
                .await
                .unwrap();
            let reason = copied.expect_err("fetched");
            assert!(reason.contains(why), "{url}: {reason}");
        }
        // Too large by the event's own size: refused without a download either.
        let big = media
            .copy(
                MediaKind::File,
                "https://f.zalo.me/x.pdf",
                None,
                Some(9_000_000),
                1_000_000,
            )
            .await
            .unwrap();
        assert!(big.unwrap_err().contains("limit"));
        // A hosted file is served under the public URL, and the store has it.
        let link = media
            .hosted
            .host("42", "reply.txt", "text/html", b"hello".to_vec())
            .await
            .unwrap();
        let token = link
            .strip_prefix("https://sync.example.com/files/")
            .expect("served under the public URL");
        let file = media
            .store
            .hosted_file(token.into())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(file.body, b"hello");
        assert_eq!(file.content_type, super::super::hosted::OCTET_STREAM);
        // A plain text needs nothing fetched or uploaded.
        let (sent, preview) = media
            .prepare("42", &ZaloSend::Text("xin chào".into()))
            .await
            .unwrap();
        assert!(matches!(sent, OutboundMessage::Text { text, .. } if text == "xin chào"));
        assert_eq!(preview, "xin chào");
    }

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
            image_size(b"GIF89a\x10\x00\x20\x00\x00\x00\x00"),
            Some((16, 32))
        );
        assert_eq!(sniff_image(b"hello world"), None);
    }

    #[test]
    fn a_large_photo_is_re_encoded_under_the_limit() {
        // Noise does not compress: a 1600×1200 PNG of it is far over 1 MB.
        let mut rng = 7u32;
        let img = image::RgbImage::from_fn(1600, 1200, |_, _| {
            rng = rng.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            image::Rgb([(rng >> 16) as u8, (rng >> 8) as u8, rng as u8])
        });
        let mut png = Vec::new();
        image::DynamicImage::ImageRgb8(img)
            .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
            .unwrap();
        assert!(png.len() > ZALO_IMAGE_MAX);
        let out = fit_jpeg(&png, ZALO_IMAGE_MAX).expect("fits");
        assert!(out.len() <= ZALO_IMAGE_MAX);
        assert_eq!(sniff_image(&out), Some("jpg"));
        assert!(fit_jpeg(b"not an image", ZALO_IMAGE_MAX).is_none());
    }
}
