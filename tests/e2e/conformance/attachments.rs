//! Attachments both ways: hosted by zfsync when Zalo cannot take them, re-encoded when a photo is
//! too large, fetched from `download_url` (or the message read again) when a file part has no
//! `url`, and posted to Freshchat with what its upload answered.

use bytes::Bytes;
use serde_json::{json, Value};
use zfsync_freshchat::sim::{parts, FileLinks};
use zfsync_zalo::sim::UserAction;

use super::{conversation_notes, freshchat_event_with};
use crate::helpers::*;

const U1: &str = "5234000000000000911";

/// Bytes that do not compress: a large PNG of them stays large.
fn noise(len: usize, seed: u32) -> Vec<u8> {
    let mut x = seed;
    (0..len)
        .map(|_| {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            (x >> 16) as u8
        })
        .collect()
}

/// A PNG photo of noise, well over Zalo's 1 MB image limit.
fn large_png(w: u32, h: u32) -> Vec<u8> {
    let px = noise((w * h * 3) as usize, 7);
    let img = image::RgbImage::from_raw(w, h, px).unwrap();
    let mut png = Vec::new();
    image::DynamicImage::ImageRgb8(img)
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .unwrap();
    png
}

/// GETs a hosted link; answers (status, content type, disposition, body).
async fn fetch(link: &str) -> (u16, String, String, Bytes) {
    let resp = reqwest::get(link).await.unwrap();
    let header = |name: &str| {
        resp.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    let (status, ct, cd) = (
        resp.status().as_u16(),
        header("content-type"),
        header("content-disposition"),
    );
    (status, ct, cd, resp.bytes().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_zalo_cannot_take_is_hosted_with_its_name_type_and_an_expiring_link() {
    let env = env().await;
    let conv = start_conversation(&env, U1).await;
    let mut pdf = b"%PDF-1.4\n".to_vec();
    pdf.extend(noise(6 * 1024 * 1024, 3));
    // (name, content type, bytes, the start of the text the customer reads)
    let files: Vec<(&str, &str, Vec<u8>, &str)> = vec![
        (
            "huong-dan.mp4",
            "video/mp4",
            b"\x00\x00\x00\x18ftypmp42 video".to_vec(),
            "🎬 Video: ",
        ),
        (
            "loi-nhan.mp3",
            "audio/mpeg",
            b"ID3\x03\x00 voice".to_vec(),
            "🔊 Tin nhắn thoại: ",
        ),
        (
            "catalogue.zip",
            "application/zip",
            b"PK\x03\x04 zip".to_vec(),
            "📎 catalogue.zip: ",
        ),
        ("bao-cao.pdf", "application/pdf", pdf, "📎 bao-cao.pdf: "),
    ];
    let mut message = Vec::new();
    for (name, ct, bytes, _) in &files {
        let url = env
            .freshchat
            .upload_for_agent(name, ct, Bytes::from(bytes.clone()));
        message.push(if ct.starts_with("video/") {
            parts::video(&url, ct)
        } else {
            parts::file(name, Some(&url), bytes.len() as u64, ct)
        });
    }
    env.freshchat
        .agent_sends(&conv, &env.freshchat.default_agent_id(), message)
        .await
        .unwrap();
    let sent = zalo_sent(&env, U1, files.len()).await;
    let mut tokens = Vec::new();
    for ((name, ct, bytes, intro), record) in files.iter().zip(&sent) {
        let text = zalo_text(record).unwrap_or_else(|| panic!("{name}: {}", record.message));
        assert!(text.starts_with(intro), "{name}: {text}");
        assert!(
            !text.contains(env.freshchat.base_url().as_str()),
            "never a Freshchat link: {text}"
        );
        let link = hosted_link(&env, &text);
        let (status, got_ct, disposition, body) = fetch(&link).await;
        assert_eq!(status, 200, "{name}: {link}");
        assert_eq!(got_ct, *ct, "{name}");
        // The file's own name: plain for old clients, UTF-8 (RFC 6266) for the rest.
        let encoded =
            percent_encoding::utf8_percent_encode(name, percent_encoding::NON_ALPHANUMERIC);
        assert!(
            disposition.starts_with("attachment; filename=\"")
                && disposition.ends_with(&format!("filename*=UTF-8''{encoded}")),
            "{name}: {disposition}"
        );
        assert!(body[..] == bytes[..], "{name}: the same bytes");
        let token = link.rsplit('/').next().unwrap().to_string();
        assert!(
            token.len() >= 32
                && token
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'),
            "unguessable: {token}"
        );
        tokens.push((link, token));
    }
    // A link one character off does not open anything.
    let (link, token) = &tokens[0];
    let last = token.chars().last().unwrap();
    let other = if last == 'A' { 'B' } else { 'A' };
    let guessed = format!("{}{other}", &link[..link.len() - 1]);
    assert_eq!(fetch(&guessed).await.0, 404);
    // An expired link opens nothing either.
    assert_eq!(crate::tamper::expire_hosted_file(&env, token), 1);
    assert_eq!(fetch(link).await.0, 404, "expired");
    assert_eq!(fetch(&tokens[1].0).await.0, 200, "the others still open");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_png_over_1_mb_arrives_as_an_uploaded_image_under_1_mb() {
    let env = env().await;
    let conv = start_conversation(&env, U1).await;
    let png = large_png(1400, 1000);
    assert!(png.len() > 1024 * 1024, "{} bytes", png.len());
    let url = env
        .freshchat
        .upload_for_agent("anh-san-pham.png", "image/png", Bytes::from(png));
    env.freshchat
        .agent_sends(
            &conv,
            &env.freshchat.default_agent_id(),
            vec![parts::image(url)],
        )
        .await
        .unwrap();
    let sent = zalo_sent(&env, U1, 1).await;
    let m = &sent[0].message;
    assert_eq!(
        m.pointer("/attachment/payload/elements/0/media_type")
            .and_then(Value::as_str),
        Some("image"),
        "an image message, not a link: {m}"
    );
    let id = m
        .pointer("/attachment/payload/elements/0/attachment_id")
        .and_then(Value::as_str)
        .expect("uploaded through /upload/image");
    let (_, bytes) = env.zalo.uploaded(id).unwrap();
    assert!(bytes.len() <= 1024 * 1024, "{} bytes", bytes.len());
    let img =
        image::load_from_memory_with_format(&bytes, image::ImageFormat::Jpeg).expect("a JPEG");
    assert!(img.width() <= 1400 && img.height() <= 1000 && img.width() > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_part_without_url_uses_download_url_or_the_message_read_again() {
    let env = env().await;
    let conv = start_conversation(&env, U1).await;
    let agent = env.freshchat.default_agent_id();
    // 1. The webhook carries `download_url` only.
    let pdf = Bytes::from_static(b"%PDF-1.4 hop dong");
    env.freshchat
        .agent_sends_file(
            &conv,
            &agent,
            "hop-dong.pdf",
            "application/pdf",
            pdf.clone(),
            Some(FileLinks::DownloadUrlOnly),
        )
        .await
        .unwrap();
    let sent = zalo_sent(&env, U1, 1).await;
    let token = sent[0]
        .message
        .pointer("/attachment/payload/token")
        .and_then(Value::as_str)
        .expect("a Zalo file message");
    let (name, bytes) = env.zalo.uploaded(token).unwrap();
    assert_eq!((name.as_str(), &bytes[..]), ("hop-dong.pdf", &pdf[..]));
    let row = freshchat_event_with(&env, "hop-dong.pdf").await.unwrap();
    let stored: Value = serde_json::from_slice(&row.body).unwrap();
    let file = stored
        .pointer("/data/message/message_parts/0/file")
        .unwrap_or_else(|| panic!("{stored:#}"));
    assert!(
        file.get("url").is_none() && file.get("download_url").is_some(),
        "the webhook had no url: {file}"
    );

    // 2. No link at all, even in Freshchat's copy: the text goes, the agent is told.
    env.freshchat
        .agent_sends(
            &conv,
            &agent,
            vec![
                parts::text("Hợp đồng cũ đây ạ"),
                json!({"file": {"name": "hop-dong-cu.pdf", "file_size_in_bytes": 10, "content_type": "application/pdf"}}),
            ],
        )
        .await
        .unwrap();
    let sent = zalo_sent(&env, U1, 2).await;
    assert_eq!(zalo_text(&sent[1]).as_deref(), Some("Hợp đồng cũ đây ạ"));
    let notes = zfsync::tools::sandbox::wait_for(WAIT, || async {
        let n = conversation_notes(&env, &conv);
        (!n.is_empty()).then_some(n)
    })
    .await
    .expect("a note for the agent");
    assert!(
        notes[0].contains("hop-dong-cu.pdf") && notes[0].contains("no link"),
        "{notes:?}"
    );
    settle(&env).await;
    assert_eq!(env.zalo.sent_to(U1).len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_posted_to_freshchat_carries_what_its_upload_answered() {
    let env = env().await;
    add_user(&env, U1, "Minh");
    let bytes = b"%PDF-1.4 hoa don 0042".to_vec();
    env.zalo
        .user_sends(
            U1,
            UserAction::File {
                name: "hoa-don.pdf".into(),
                bytes: Bytes::from(bytes.clone()),
            },
        )
        .await;
    customer_messages(&env, U1, 1).await;
    let conv = conversation(&env, U1).unwrap();
    // The message as the Freshchat simulator stored it, not as the client reads it.
    let stored = env
        .freshchat
        .messages(&conv)
        .into_iter()
        .find(|m| m["actor_type"] == "user")
        .unwrap();
    let file = stored
        .pointer("/message_parts/0/file")
        .unwrap_or_else(|| panic!("{stored:#}"));
    let field = |k: &str| file.get(k).and_then(Value::as_str).unwrap_or_default();
    assert_eq!(field("name"), "hoa-don.pdf", "{file}");
    assert!(!field("fileHash").is_empty(), "the upload's hash: {file}");
    assert_eq!(field("content_type"), "application/pdf", "{file}");
    assert_eq!(field("file_extension"), "pdf", "{file}");
    assert!(!field("file_security_status").is_empty(), "{file}");
    assert_eq!(
        file.get("file_size_in_bytes").and_then(Value::as_u64),
        Some(bytes.len() as u64),
        "{file}"
    );
    // The stored URL serves the customer's bytes (with the API key, on the API host).
    let got = reqwest::Client::new()
        .get(field("url"))
        .bearer_auth(env.freshchat.api_key())
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(&got[..], &bytes[..]);
}
