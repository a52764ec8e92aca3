//! Micro-benchmarks of the per-webhook hot paths: signature checks, webhook parsing and planning.
//! `cargo bench -p zfsync --bench hot_paths`; figures are recorded in BENCHMARKS.md.
#![allow(clippy::unwrap_used)]

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{KeyPair, KeySize};
use aws_lc_rs::signature::{KeyPair as _, RSA_PKCS1_SHA256};
use base64::Engine as _;
use divan::{black_box, Bencher};
use secrecy::SecretString;
use zfsync_freshchat::WebhookKey;
use zfsync_mappings::{FreshchatKnowledge, Rules, ZaloKnowledge};

const APP_ID: &str = "1234567890123456789";
const OA_ID: &str = "4318848795011111111";
const OA_SECRET: &str = "sim-oa-secret-key-0123456789";

fn main() {
    divan::main();
}

fn zalo_text_body() -> Vec<u8> {
    serde_json::json!({
        "app_id": APP_ID, "sender": {"id": "5234900000000000001"}, "user_id_by_app": "95234900000000000001",
        "recipient": {"id": OA_ID}, "event_name": "user_send_text",
        "message": {"msg_id": "8b1a4d2f9c0e7a6b5d4c", "text": "Xin chào! Cho mình hỏi về đơn hàng #1234 nhé"},
        "timestamp": "1700000000000",
    })
    .to_string()
    .into_bytes()
}

fn zalo_image_body() -> Vec<u8> {
    serde_json::json!({
        "app_id": APP_ID, "sender": {"id": "5234900000000000001"}, "user_id_by_app": "95234900000000000001",
        "recipient": {"id": OA_ID}, "event_name": "user_send_image",
        "message": {"msg_id": "8b1a4d2f9c0e7a6b5d4d", "text": "Ảnh sản phẩm bị lỗi", "attachments": [{"type": "image",
            "payload": {"thumbnail": "https://zalo.example/t.jpg", "url": "https://zalo.example/i.jpg"}}]},
        "timestamp": "1700000000000",
    })
    .to_string()
    .into_bytes()
}

fn freshchat_body() -> Vec<u8> {
    serde_json::json!({
        "actor": {"actor_type": "agent", "actor_id": "882f3926-b292-414b-a411-96380db373cd"},
        "action": "message_create", "action_time": "2024-06-21T17:43:20.875Z",
        "data": {"message": {
            "message_parts": [{"text": {"content": "Chào anh Khánh, shop đã nhận được ảnh ạ 🙏"}}],
            "app_id": "55b190fa-5d3c-45c4-bc49-74ddcfcf53d7", "actor_id": "882f3926-b292-414b-a411-96380db373cd",
            "id": "7a454fde-c720-4c97-a61d-0ffe70449eb6", "channel_id": "c8fddfaf-622a-4a0e-b060-4f3ccbeab606",
            "conversation_id": "c327498e-f713-481e-8d83-0603e03d2521", "message_type": "normal",
            "actor_type": "agent", "created_time": "2024-06-21T17:43:20.866Z"}},
    })
    .to_string()
    .into_bytes()
}

#[divan::bench]
fn zalo_signature_verify(b: Bencher<'_, '_>) {
    let key = SecretString::from(OA_SECRET.to_string());
    let body = zalo_text_body();
    let sig = zfsync_zalo::signature(APP_ID, &body, "1700000000000", &key);
    b.bench(|| {
        zfsync_zalo::verify(
            APP_ID,
            black_box(&key),
            black_box(&body),
            Some(black_box(&sig)),
        )
        .unwrap()
    });
}

#[divan::bench]
fn freshchat_rsa_verify(b: Bencher<'_, '_>) {
    let pair = KeyPair::generate(KeySize::Rsa2048).unwrap();
    let spki = pair.public_key().as_der().unwrap();
    let key = WebhookKey::parse(&base64::engine::general_purpose::STANDARD.encode(spki.as_ref()))
        .unwrap();
    let body = freshchat_body();
    let mut sig = vec![0u8; pair.public_modulus_len()];
    pair.sign(&RSA_PKCS1_SHA256, &SystemRandom::new(), &body, &mut sig)
        .unwrap();
    let sig = base64::engine::general_purpose::STANDARD.encode(&sig);
    b.bench(|| key.verify(black_box(&body), Some(black_box(&sig))).unwrap());
}

#[divan::bench(args = ["text", "image"])]
fn zalo_parse(b: Bencher<'_, '_>, kind: &str) {
    let body = if kind == "text" {
        zalo_text_body()
    } else {
        zalo_image_body()
    };
    b.bench(|| zfsync_zalo::parse_event(black_box(&body)).unwrap());
}

#[divan::bench]
fn freshchat_parse(b: Bencher<'_, '_>) {
    let body = freshchat_body();
    b.bench(|| zfsync_freshchat::parse_event(black_box(&body)).unwrap());
}

#[divan::bench(args = ["text", "image"])]
fn plan_zalo(b: Bencher<'_, '_>, kind: &str) {
    let body = if kind == "text" {
        zalo_text_body()
    } else {
        zalo_image_body()
    };
    let event = zfsync_zalo::parse_event(&body).unwrap();
    let rules = Rules::default();
    let k = ZaloKnowledge {
        oa_id: OA_ID.into(),
        ..Default::default()
    };
    b.bench(|| zfsync_mappings::plan_zalo(black_box(&event), black_box(&k), &rules));
}

#[divan::bench]
fn plan_freshchat(b: Bencher<'_, '_>) {
    let event = zfsync_freshchat::parse_event(&freshchat_body()).unwrap();
    let rules = Rules::default();
    let k = FreshchatKnowledge {
        zalo_user_id: Some("5234900000000000001".into()),
        ..Default::default()
    };
    b.bench(|| zfsync_mappings::plan_freshchat(black_box(&event), black_box(&k), &rules));
}
