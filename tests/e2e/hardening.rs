//! Smaller hardening, each through the daemon over HTTP on loopback: a lost store key is never
//! replaced silently and `zfsync store forget-secrets` is the way out; a hosted file's type comes
//! from an allowlist; a signed event without a readable time is refused; a media link's query string
//! (a signed storage URL's credential) never reaches a note or the console.
#![allow(clippy::unwrap_used)]

use bytes::Bytes;
use sha2::Digest as _;
use zfsync::tools::sandbox::{wait_for, EnvOptions};
use zfsync_freshchat::sim::parts;
use zfsync_zalo::sim::UserAction;

use crate::helpers::*;

const U: &str = "5234000000000000777";
/// What a pre-signed storage URL carries in its query: never shown.
const SIGNATURE: &str = "X-Amz-Signature=5ecre7516";

fn zalo_signature(app_id: &str, secret: &str, body: &str, timestamp: &str) -> String {
    let mut h = sha2::Sha256::new();
    h.update(app_id.as_bytes());
    h.update(body.as_bytes());
    h.update(timestamp.as_bytes());
    h.update(secret.as_bytes());
    format!("mac={}", hex::encode(h.finalize()))
}

/// Posts a Zalo webhook body signed with the configured OA Secret Key over `timestamp`.
async fn post_signed_zalo(
    env: &zfsync::tools::sandbox::Env,
    body: &str,
    timestamp: &str,
) -> reqwest::Response {
    use secrecy::ExposeSecret as _;
    let config = env.config().unwrap();
    let sig = zalo_signature(
        &config.zalo.app_id,
        config.zalo_oa_secret_key().expose_secret(),
        body,
        timestamp,
    );
    reqwest::Client::new()
        .post(format!("{}/webhooks/zalo", env.daemon_url()))
        .header("x-zevent-signature", sig)
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap()
}

/// The connected OA's id.
async fn oa_id(env: &zfsync::tools::sandbox::Env) -> String {
    let services = zfsync::services::Services::new(&env.config().unwrap())
        .await
        .unwrap();
    services.tokens().status().oa_id.unwrap()
}

/// The key file gone while the store holds sealed tokens: the daemon refuses to start, names the
/// key file and the way out, and makes no new key. `zfsync store forget-secrets --yes` discards
/// the tokens; the daemon starts, a new consent connects the OA again, and messages flow.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_store_key_stops_the_daemon_until_forget_secrets_and_a_reconnect() {
    let mut env = sqlite_env().await;
    start_conversation(&env, U).await;
    env.stop_daemon().await;
    let key_file = env.dir.path().join("zfsync.db.key");
    std::fs::remove_file(&key_file).unwrap();

    let e = format!("{:#}", env.start_daemon().await.unwrap_err());
    assert!(
        e.contains(&key_file.display().to_string()) && e.contains("zfsync store forget-secrets"),
        "{e}"
    );
    assert!(!key_file.exists(), "no new key beside the sealed tokens");
    // `connect zalo`, which the old message recommended, cannot help either.
    let out = zfsync_output(&env, &["connect", "zalo", "--code", "x"]).await;
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("forget-secrets"));

    let stdout = zfsync_stdout(&env, &["store", "forget-secrets", "--yes"]).await;
    assert!(
        stdout.contains("the Zalo tokens") && stdout.contains("zfsync connect zalo"),
        "{stdout}"
    );
    assert!(key_file.exists());

    env.start_daemon().await.unwrap();
    env.connect_zalo().await.unwrap();
    env.zalo
        .user_sends(U, UserAction::Text("after the new key".into()))
        .await;
    let msgs = customer_messages(&env, U, 2).await;
    assert!(texts(&msgs[1]).join("").contains("after the new key"));
}

/// An agent's file whose content type holds a CR/LF (a header injection, a dead link before) is
/// hosted as `application/octet-stream` and served 200, as an attachment the browser must not sniff.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hosted_file_with_a_crlf_content_type_is_served_as_octet_stream() {
    let env = env().await;
    let conv = start_conversation(&env, U).await;
    let body = Bytes::from_static(b"<html><script>alert(1)</script></html>");
    let url = env
        .freshchat
        .upload_for_agent("notes.bin", "application/octet-stream", body.clone());
    let part = parts::file(
        "notes.bin",
        Some(&url),
        body.len() as u64,
        "text/html\r\nX-Injected: yes",
    );
    env.freshchat
        .agent_sends(&conv, &env.freshchat.default_agent_id(), vec![part])
        .await
        .unwrap();
    let sent = zalo_sent(&env, U, 1).await;
    let link = hosted_link(&env, &zalo_text(&sent[0]).unwrap());
    let resp = reqwest::get(&link).await.unwrap();
    assert_eq!(resp.status(), 200);
    let header = |n: &str| {
        resp.headers()
            .get(n)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    assert_eq!(header("content-type"), "application/octet-stream");
    assert_eq!(header("x-content-type-options"), "nosniff");
    assert!(header("content-disposition").starts_with("attachment;"));
    assert!(resp.headers().get("x-injected").is_none());
    assert_eq!(resp.bytes().await.unwrap(), body);
    // Decided when the file was hosted, not only when it is served.
    assert_eq!(
        store(&env)
            .hosted_file_count_of_type("application/octet-stream".into())
            .await
            .unwrap(),
        1
    );
}

/// A correctly signed Zalo event whose time cannot be read is refused 400 with a JSON reason and
/// not stored: the replay window could not hold it back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_event_without_a_readable_time_is_refused() {
    let env = env().await;
    let ts = "soon";
    let body = format!(
        r#"{{"app_id":"{app}","user_id_by_app":"1","event_name":"user_send_text","timestamp":"{ts}","sender":{{"id":"{U}"}},"recipient":{{"id":"{oa}"}},"message":{{"text":"timeless","msg_id":"untimed1"}}}}"#,
        app = env.config().unwrap().zalo.app_id,
        oa = oa_id(&env).await,
    );
    let r = post_signed_zalo(&env, &body, ts).await;
    assert_eq!(r.status(), 400);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["error"], "no_event_time", "{v}");
    assert_eq!(
        inbox(
            &env,
            InboxQuery {
                dedupe_key_prefix: Some("untimed1".into()),
                ..InboxQuery::default()
            }
        )
        .await
        .len(),
        0
    );
}

/// A customer's image at a signed storage URL that cannot be fetched: the agents' note gives the
/// link without its query string.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_media_links_query_never_reaches_the_failure_note() {
    let env = env().await;
    add_user(&env, U, "Minh");
    let ts = chrono::Utc::now().timestamp_millis().to_string();
    // Nothing listens on port 9 of loopback: the download fails.
    let image = format!("http://127.0.0.1:9/bucket/photo.jpg?{SIGNATURE}&X-Amz-Expires=60#view");
    let body = format!(
        r#"{{"app_id":"{app}","user_id_by_app":"1","event_name":"user_send_image","timestamp":"{ts}","sender":{{"id":"{U}"}},"recipient":{{"id":"{oa}"}},"message":{{"msg_id":"signedimg1","attachments":[{{"type":"image","payload":{{"url":"{image}","thumbnail":"{image}"}}}}]}}}}"#,
        app = env.config().unwrap().zalo.app_id,
        oa = oa_id(&env).await,
    );
    let r = post_signed_zalo(&env, &body, &ts).await;
    assert_eq!(r.status(), 200);
    let notes = notes(&env, U, 1).await.join("\n");
    assert!(
        notes.contains("http://127.0.0.1:9/bucket/photo.jpg"),
        "{notes}"
    );
    assert!(
        !notes.contains("X-Amz") && !notes.contains("#view"),
        "{notes}"
    );
    let conv = conversation(&env, U).unwrap();
    for m in env.fc_messages(&conv) {
        assert!(!texts(&m).join("").contains(SIGNATURE), "{m:?}");
    }
}

/// An agent's attachment at a signed storage URL that cannot be fetched fails after its retries:
/// neither the console's Failed page nor the note to the agents shows the link's query string.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_media_links_query_never_reaches_the_console_or_the_agents() {
    let env = env_with(EnvOptions {
        sync_toml: "retry_base_ms = 50\nretry_max_ms = 200\nmax_attempts = 2\n".into(),
        // The link must be fetched (and fail) for its URL to reach the reason: loopback allowed.
        allow_private_media: true,
        ..EnvOptions::default()
    })
    .await;
    let conv = start_conversation(&env, U).await;
    let url = format!("http://127.0.0.1:9/bucket/price-list.bin?{SIGNATURE}");
    env.freshchat
        .agent_sends(
            &conv,
            &env.freshchat.default_agent_id(),
            vec![parts::file(
                "price-list.bin",
                Some(&url),
                10,
                "application/octet-stream",
            )],
        )
        .await
        .unwrap();
    wait_for(WAIT, || async {
        (count_in_state(&env, EventState::Failed).await > 0).then_some(())
    })
    .await
    .expect("the event failed");
    let page = operator_page(&env, "/console/failed").await;
    assert!(page.contains("127.0.0.1:9/bucket/price-list.bin"), "{page}");
    assert!(!page.contains("X-Amz"), "{page}");
    let notes = notes(&env, U, 1).await.join("\n");
    assert!(notes.contains("Không gửi được qua Zalo"), "{notes}");
    assert!(!notes.contains("X-Amz"), "{notes}");
}
