//! `/v2.0/oa/upload/{image,gif,file}`: multipart with one part named `file` carrying a file name.
//! Images jpg/png ≤ 1 MB and GIFs ≤ 5 MB return `data.attachment_id`; files pdf/doc/docx ≤ 5 MB
//! (plus txt/csv when [`super::SimConfig::accept_txt_upload`]) return `data.token`. A wrong type is
//! -201, too big -210; a name without extension gets Zalo's quirk, "Success" with empty `data`.
//! Assets expire after 7 days (checked when used: -100).

use axum::extract::{FromRequest, Multipart, Request};
use axum::response::Response;
use bytes::Bytes;
use serde_json::json;

use super::state::AssetKind;
use super::wire::{self, ApiError, ApiResult};
use super::{lock, ZaloSim};

impl ZaloSim {
    pub(crate) async fn upload(&self, kind: AssetKind, req: Request) -> Response {
        match self.take_upload(kind, req).await {
            Ok(d) => wire::success(d),
            Err(e) => wire::failure(&e),
        }
    }

    async fn take_upload(&self, kind: AssetKind, req: Request) -> ApiResult {
        let mut mp = Multipart::from_request(req, &())
            .await
            .map_err(|_| ApiError::invalid("file"))?;
        let mut found: Option<(String, Bytes)> = None;
        loop {
            match mp.next_field().await {
                Ok(Some(field)) => {
                    if field.name() != Some("file") {
                        continue;
                    }
                    let name = field.file_name().map(str::to_owned).unwrap_or_default();
                    // A part past the body limit fails while reading: too big.
                    let bytes = field.bytes().await.map_err(|_| ApiError::limit())?;
                    found = Some((name, bytes));
                    break;
                }
                Ok(None) => break,
                Err(_) => return Err(ApiError::limit()),
            }
        }
        let (name, bytes) = found.ok_or_else(|| ApiError::invalid("file"))?;
        let ext = wire::extension(&name);
        if ext.is_empty() {
            // Observed by integrators: no extension, no error, no id.
            return Ok(json!({}));
        }
        let txt = lock(&self.core.cfg).accept_txt_upload;
        let (allowed, limit): (&[&str], usize) = match kind {
            AssetKind::Image => (&["jpg", "jpeg", "png"], wire::IMAGE_LIMIT),
            AssetKind::Gif => (&["gif"], wire::FILE_LIMIT),
            _ if txt => (&["pdf", "doc", "docx", "txt", "csv"], wire::FILE_LIMIT),
            _ => (&["pdf", "doc", "docx"], wire::FILE_LIMIT),
        };
        if !allowed.contains(&ext.as_str()) {
            return Err(ApiError::new(
                wire::E_INVALID,
                format!(
                    "file is invalid! .{ext} is not one of: {}",
                    allowed.join(", ")
                ),
            ));
        }
        if bytes.len() > limit {
            return Err(ApiError::limit());
        }
        let content_type = mime_guess::from_path(&name)
            .first_or_octet_stream()
            .essence_str()
            .to_owned();
        let now = self.now_ms();
        let id = self
            .st()
            .store_asset(kind, &name, &content_type, bytes, now);
        Ok(if kind == AssetKind::File {
            json!({ "token": id })
        } else {
            json!({ "attachment_id": id })
        })
    }
}
