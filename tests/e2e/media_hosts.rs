//! Media under the platforms' real host names, with private addresses refused as in production:
//! the simulators serve their media under Freshchat's regional storage buckets and Zalo's CDN
//! hosts, which the daemon's media client resolves to loopback only because the test pins each
//! name. So the media allowlist decides exactly as it would in production: an agent's image from
//! every Freshchat data centre reaches the Zalo customer, a customer's photo from Zalo's CDN
//! reaches the agent, and a host outside the list is refused with the agent told whom to ask.
#![allow(clippy::unwrap_used)]

use bytes::Bytes;
use zfsync::tools::sandbox::{Env, EnvOptions, TINY_PNG, ZALO_MEDIA_HOST};
use zfsync_freshchat::MessagePart;
use zfsync_zalo::sim::UserAction;

use crate::helpers::*;

const U: &str = "5234000000000000931";

/// Freshchat's storage buckets, one per data centre and S3 host form.
const US_BUCKET: &str = "fc-use1-00-pics-bkt-00.s3.amazonaws.com";
const EU_BUCKET: &str = "fc-euc1-00-pics-bkt-00.s3.eu-central-1.amazonaws.com";
const IN_BUCKET: &str = "fc-aps1-00-pics-bkt-00.s3.ap-south-1.amazonaws.com";
const AU_BUCKET: &str = "fc-apse2-00-pics-bkt-00.s3.ap-southeast-2.amazonaws.com";
const EU_BUCKET_DASH: &str = "fc-euc1-00-pics-bkt-00.s3-eu-central-1.amazonaws.com";
/// A look-alike of the EU bucket on an attacker's domain.
const ATTACKER: &str = "fc-euc1-00-pics-bkt-00.s3.eu-central-1.amazonaws.com.attacker.example";

/// Production's media rules (no private addresses), every name above resolved to loopback.
async fn production_like() -> Env {
    let opts = EnvOptions {
        media_names: [
            US_BUCKET,
            EU_BUCKET,
            IN_BUCKET,
            AU_BUCKET,
            EU_BUCKET_DASH,
            ATTACKER,
        ]
        .map(String::from)
        .to_vec(),
        ..EnvOptions::default()
    };
    assert!(!opts.allow_private_media, "private addresses stay refused");
    env_with(opts).await
}

/// An agent attaches an image the Freshchat simulator serves from `bucket`; answers the message
/// the customer got on Zalo (or panics when none came).
async fn agent_image_from(bucket: &str) -> (Env, serde_json::Value) {
    let env = production_like().await;
    let conv = start_conversation(&env, U).await;
    env.freshchat.set_cdn_host(bucket).unwrap();
    let url = env
        .freshchat
        .upload_for_agent("nhan.png", "image/png", Bytes::from_static(TINY_PNG));
    assert_eq!(
        url::Url::parse(&url).unwrap().host_str(),
        Some(bucket),
        "the simulator links the image under the bucket's name"
    );
    let before = env.zalo.sent_to(U).len();
    env.agent_says(
        &conv,
        &env.freshchat.default_agent_id(),
        &[MessagePart::Image { url }],
    )
    .await
    .unwrap();
    let sent = zalo_sent(&env, U, before + 1).await;
    let message = sent[before].message.clone();
    (env, message)
}

/// The customer got the agent's image itself, uploaded to Zalo, and the key never left the API.
fn assert_image_delivered(env: &Env, message: &serde_json::Value) {
    let element = |k: &str| {
        message
            .pointer(&format!("/attachment/payload/elements/0/{k}"))
            .and_then(|v| v.as_str())
            .map(str::to_string)
    };
    assert_eq!(element("media_type").as_deref(), Some("image"), "{message}");
    let id = element("attachment_id").unwrap_or_else(|| panic!("{message}"));
    assert_eq!(&env.zalo.uploaded(&id).unwrap().1[..], TINY_PNG);
    assert_eq!(env.freshchat.cdn_requests_with_credentials(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_image_from_the_us_bucket_reaches_zalo() {
    let (env, message) = agent_image_from(US_BUCKET).await;
    assert_image_delivered(&env, &message);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_image_from_the_eu_bucket_reaches_zalo() {
    let (env, message) = agent_image_from(EU_BUCKET).await;
    assert_image_delivered(&env, &message);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_image_from_the_india_bucket_reaches_zalo() {
    let (env, message) = agent_image_from(IN_BUCKET).await;
    assert_image_delivered(&env, &message);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_image_from_the_australia_bucket_reaches_zalo() {
    let (env, message) = agent_image_from(AU_BUCKET).await;
    assert_image_delivered(&env, &message);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_image_from_a_bucket_in_s3_dash_form_reaches_zalo() {
    let (env, message) = agent_image_from(EU_BUCKET_DASH).await;
    assert_image_delivered(&env, &message);
}

/// A host outside the platforms' media hosts is refused even though it resolves (here, to
/// loopback, pinned like the buckets): nothing reaches the customer, and the agent's private note
/// names the host and says the operator decides.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_image_from_a_look_alike_host_is_refused_and_the_agent_told() {
    let env = production_like().await;
    let conv = start_conversation(&env, U).await;
    env.freshchat.set_cdn_host(ATTACKER).unwrap();
    let url = env
        .freshchat
        .upload_for_agent("x.png", "image/png", Bytes::from_static(TINY_PNG));
    let before = env.zalo.sent_to(U).len();
    env.agent_says(
        &conv,
        &env.freshchat.default_agent_id(),
        &[MessagePart::Image { url }],
    )
    .await
    .unwrap();
    let note = notes(&env, U, 1).await.join("\n");
    assert!(
        note.contains(&format!("{ATTACKER} is not a Zalo or Freshchat media host")),
        "{note}"
    );
    assert!(note.contains("ask whoever runs zfsync"), "{note}");
    assert!(
        note.contains("operator's setting [media] allow_hosts"),
        "{note}"
    );
    settle(&env).await;
    assert_eq!(env.zalo.sent_to(U).len(), before, "nothing reached Zalo");
}

/// A customer's photo, which Zalo links on its photo CDN, reaches the agent as an image with the
/// customer's bytes, copied to Freshchat.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_customer_photo_from_zalos_cdn_reaches_freshchat() {
    let env = production_like().await;
    start_conversation(&env, U).await;
    env.zalo
        .user_sends(
            U,
            UserAction::Image {
                caption: None,
                bytes: Bytes::from_static(TINY_PNG),
            },
        )
        .await;
    let msgs = customer_messages(&env, U, 2).await;
    let image = msgs[1]
        .message_parts
        .iter()
        .find_map(|p| match p {
            MessagePart::Image { url } => Some(url.clone()),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no image part: {:?}", msgs[1].message_parts));
    assert!(
        image.starts_with(env.freshchat.cdn_url().as_str()),
        "copied to Freshchat: {image}"
    );
    let body = env
        .media_client()
        .unwrap()
        .get(&image)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(&body[..], TINY_PNG);
    // The customer's link was on Zalo's CDN host, as the daemon received it.
    let link = format!("//{ZALO_MEDIA_HOST}:");
    let on_zalo_cdn = inbox(&env, InboxQuery::default())
        .await
        .iter()
        .filter(|r| String::from_utf8_lossy(&r.body).contains(&link))
        .count();
    assert!(
        on_zalo_cdn >= 1,
        "the photo's webhook links {ZALO_MEDIA_HOST}"
    );
}
