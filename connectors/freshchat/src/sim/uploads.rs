//! Uploads (`POST /v2/images/upload`, field `image`; `POST /v2/files/upload`, field `file`) and
//! the hosting of uploaded and agent-attached bytes.
//!
//! Like the real thing, attachments live on two kinds of host: files on the API host at
//! `/v2/files/{token}/{name}`, behind the Bearer key (401 without it), and images on a separate
//! anonymous "CDN" listener at `/{token}/{name}`, which refuses a request that carries an
//! `Authorization` header (400, as signed storage URLs do) and counts it, so a client that sends
//! the key to the wrong host, or forgets it on the API host, fails. Named after a storage bucket
//! (`FreshchatSim::set_cdn_host`), the CDN answers only to that name or its address, as S3 picks
//! the bucket by the requested host (`NoSuchBucket` otherwise). A file kept elsewhere
//! (`FreshchatSim::upload_for_agent_elsewhere`) is answered on the API host with `302 Found` to
//! its storage location, as a download URL that signs storage links would. Caps: 10 MB images, 25 MB files
//! (configurable) → 413 `PAYLOAD_TOO_LARGE`. Answers have the keys of the samples:
//! images `{id, name, url, content_type, width, height, thumbnail}`, files `{file_name, file_size,
//! file_content_type, file_extension_type, file_hash, file_security_status, url}`.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, Multipart, Path, State};
use axum::http::header::{AUTHORIZATION, CONTENT_DISPOSITION, CONTENT_TYPE, HOST, LOCATION};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use bytes::Bytes;
use serde_json::json;

use super::state::Host;
use super::wire::{created, hex, ApiErr, ApiResult};
use super::{Inner, SimConfig};

/// Upload and file-serving routes of the API host (behind the gate, like every `/v2` route).
pub(crate) fn api_routes(cfg: &SimConfig) -> Router<Arc<Inner>> {
    // Leave room above the larger cap for the multipart framing; the caps themselves are checked
    // per field so that each answers 413 with its own limit.
    let limit = usize::try_from(cfg.max_file_bytes.max(cfg.max_image_bytes) + (1 << 20))
        .unwrap_or(usize::MAX);
    Router::new()
        .route(
            "/v2/images/upload",
            post(upload_image).layer(DefaultBodyLimit::max(limit)),
        )
        .route(
            "/v2/files/upload",
            post(upload_file).layer(DefaultBodyLimit::max(limit)),
        )
        .route("/v2/files/{token}/{name}", get(serve_api_file))
}

/// The anonymous CDN listener.
pub(crate) fn cdn_router() -> Router<Arc<Inner>> {
    Router::new()
        .route("/{token}/{name}", get(serve_cdn_file))
        .fallback(|| async {
            cdn_error(
                StatusCode::NOT_FOUND,
                "NoSuchKey",
                "The specified key does not exist.",
            )
        })
}

struct Uploaded {
    filename: String,
    content_type: String,
    bytes: Bytes,
}

async fn read_upload(mut mp: Multipart, field_name: &str, cap: u64) -> Result<Uploaded, ApiErr> {
    let too_large = || {
        ApiErr::new(
            413,
            "PAYLOAD_TOO_LARGE",
            format!("the upload is larger than {cap} bytes"),
        )
    };
    loop {
        let field = mp.next_field().await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                too_large()
            } else {
                ApiErr::invalid(format!("bad multipart body: {e}"))
            }
        })?;
        let Some(field) = field else {
            return Err(ApiErr::invalid(format!(
                "the multipart field {field_name:?} is required"
            )));
        };
        if field.name() != Some(field_name) {
            continue;
        }
        let filename = field.file_name().unwrap_or("upload").to_owned();
        let content_type = field.content_type().map(str::to_owned).unwrap_or_else(|| {
            mime_guess::from_path(&filename)
                .first_or_octet_stream()
                .to_string()
        });
        let bytes = field.bytes().await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                too_large()
            } else {
                ApiErr::invalid(format!("bad multipart body: {e}"))
            }
        })?;
        if bytes.len() as u64 > cap {
            return Err(too_large());
        }
        return Ok(Uploaded {
            filename,
            content_type,
            bytes,
        });
    }
}

/// Width and height of a PNG, GIF or JPEG, without decoding it.
pub(crate) fn image_size(b: &[u8]) -> Option<(u32, u32)> {
    if b.len() >= 24 && b.starts_with(b"\x89PNG\r\n\x1a\n") {
        let w = u32::from_be_bytes([b[16], b[17], b[18], b[19]]);
        let h = u32::from_be_bytes([b[20], b[21], b[22], b[23]]);
        return Some((w, h));
    }
    if b.len() >= 10 && b.starts_with(b"GIF8") {
        return Some((
            u32::from(u16::from_le_bytes([b[6], b[7]])),
            u32::from(u16::from_le_bytes([b[8], b[9]])),
        ));
    }
    if b.starts_with(&[0xFF, 0xD8]) {
        // Walk the JPEG segments to the first start-of-frame marker.
        let mut i = 2;
        while i + 9 < b.len() {
            if b[i] != 0xFF {
                return None;
            }
            let marker = b[i + 1];
            let len = usize::from(u16::from_be_bytes([b[i + 2], b[i + 3]]));
            if (0xC0..=0xCF).contains(&marker) && !matches!(marker, 0xC4 | 0xC8 | 0xCC) {
                let h = u32::from(u16::from_be_bytes([b[i + 5], b[i + 6]]));
                let w = u32::from(u16::from_be_bytes([b[i + 7], b[i + 8]]));
                return Some((w, h));
            }
            i += 2 + len;
        }
    }
    None
}

async fn upload_image(State(inner): State<Arc<Inner>>, mp: Multipart) -> ApiResult {
    let up = read_upload(mp, "image", inner.cfg.max_image_bytes).await?;
    if !up.content_type.starts_with("image/") {
        return Err(ApiErr::invalid(format!(
            "{} is not an image; upload other files to /v2/files/upload",
            up.content_type
        )));
    }
    let size = image_size(&up.bytes);
    let mut st = inner.lock();
    let (_, url) = st.store_upload(Host::Cdn, &up.filename, &up.content_type, up.bytes);
    let mut answer = json!({"id": uuid::Uuid::new_v4().to_string(), "name": up.filename, "url": url,
        "content_type": up.content_type});
    if let Some((w, h)) = size {
        answer["width"] = json!(w);
        answer["height"] = json!(h);
        answer["thumbnail"] =
            json!({"url": url, "content_type": up.content_type, "width": w, "height": h});
    }
    Ok(created(answer))
}

async fn upload_file(State(inner): State<Arc<Inner>>, mp: Multipart) -> ApiResult {
    let up = read_upload(mp, "file", inner.cfg.max_file_bytes).await?;
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &up.bytes);
    let hash = hex(&digest.as_ref()[..10]);
    let ext = up
        .filename
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    let size = up.bytes.len();
    let mut st = inner.lock();
    // Files are served behind the API host (Bearer required), even when they are images.
    let (token, url) = st.store_upload(Host::Api, &up.filename, &up.content_type, up.bytes);
    st.by_hash.insert(hash.clone(), (token, Host::Api));
    Ok(created(json!({"file_name": up.filename, "file_size": size,
        "file_content_type": up.content_type, "file_extension_type": ext, "file_hash": hash,
        "file_security_status": "safe", "url": url})))
}

fn file_response(inner: &Inner, token: &str) -> Option<Response> {
    let st = inner.lock();
    let up = st.uploads.get(token)?;
    if let Some(location) = &up.location {
        let location = HeaderValue::from_str(location).ok()?;
        return Some((StatusCode::FOUND, [(LOCATION, location)]).into_response());
    }
    let mut h = HeaderMap::new();
    if let Ok(v) = HeaderValue::from_str(&up.content_type) {
        h.insert(CONTENT_TYPE, v);
    }
    let enc =
        percent_encoding::utf8_percent_encode(&up.filename, percent_encoding::NON_ALPHANUMERIC);
    if let Ok(v) = HeaderValue::from_str(&format!("inline; filename*=UTF-8''{enc}")) {
        h.insert(CONTENT_DISPOSITION, v);
    }
    Some((h, up.bytes.clone()).into_response())
}

/// On the API host: the gate has already checked the Bearer key.
async fn serve_api_file(
    State(inner): State<Arc<Inner>>,
    Path((token, _name)): Path<(String, String)>,
) -> ApiResult {
    file_response(&inner, &token)
        .ok_or_else(|| ApiErr::not_found("FILE_NOT_FOUND", "file not found"))
}

/// On the CDN: anonymous only, and only under a name it answers to.
async fn serve_cdn_file(
    State(inner): State<Arc<Inner>>,
    headers: HeaderMap,
    Path((token, _name)): Path<(String, String)>,
) -> Response {
    if !answers_to(&inner, &headers) {
        return cdn_error(
            StatusCode::NOT_FOUND,
            "NoSuchBucket",
            "The specified bucket does not exist",
        );
    }
    if headers.contains_key(AUTHORIZATION) {
        inner.cdn_auth_refusals.fetch_add(1, Ordering::Relaxed);
        return cdn_error(
            StatusCode::BAD_REQUEST,
            "InvalidArgument",
            "Only one auth mechanism allowed; an Authorization header is not accepted here",
        );
    }
    file_response(&inner, &token).unwrap_or_else(|| {
        cdn_error(
            StatusCode::NOT_FOUND,
            "NoSuchKey",
            "The specified key does not exist.",
        )
    })
}

/// Whether the request's `Host` is the CDN's address or a storage name it was given: S3 picks the
/// bucket by the name the client asked for.
fn answers_to(inner: &Inner, headers: &HeaderMap) -> bool {
    let Some(host) = headers.get(HOST).and_then(|h| h.to_str().ok()) else {
        return false;
    };
    let Ok(url) = url::Url::parse(&format!("http://{host}/")) else {
        return false;
    };
    match url.host() {
        Some(url::Host::Domain(name)) => inner
            .lock()
            .cdn_hosts
            .iter()
            .any(|h| h.eq_ignore_ascii_case(name.trim_end_matches('.'))),
        Some(_) => true,
        None => false,
    }
}

/// Storage errors are XML, not Freshchat's JSON.
fn cdn_error(status: StatusCode, code: &str, message: &str) -> Response {
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{message}</Message></Error>"
    );
    (status, [(CONTENT_TYPE, "application/xml")], body).into_response()
}

#[cfg(test)]
mod tests {
    use super::image_size;

    #[test]
    fn image_sizes() {
        let mut png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
        png.extend_from_slice(&640u32.to_be_bytes());
        png.extend_from_slice(&480u32.to_be_bytes());
        assert_eq!(image_size(&png), Some((640, 480)));
        assert_eq!(image_size(b"GIF89a\x02\x00\x03\x00"), Some((2, 3)));
        let jpeg = [
            0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x04, 0x00, 0x00, 0xFF, 0xC0, 0x00, 0x11, 0x08, 0x00,
            0x20, 0x00, 0x40, 0x03,
        ];
        assert_eq!(image_size(&jpeg), Some((64, 32)));
        assert_eq!(image_size(b"not an image"), None);
    }
}
