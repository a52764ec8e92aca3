//! An agent's attachment as an attacker would write it, through the Freshchat simulator with
//! production's media rules: a Freshchat API address instead of a file (absolute or relative), a
//! file on the API host that redirects inside the network, a "file" that is the API's JSON, an
//! address written as an IP. None of it reaches the Zalo customer, nothing is fetched where the
//! egress policy says no, and the agent reads why in a private note.
#![allow(clippy::unwrap_used)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use zfsync::tools::sandbox::{Env, TINY_PNG};
use zfsync_freshchat::parts::FilePart;
use zfsync_freshchat::MessagePart;

use crate::helpers::*;

const U: &str = "5234000000000000941";

/// An agent's file part pointing at `url`.
fn file(name: &str, url: &str, content_type: &str) -> MessagePart {
    MessagePart::File(FilePart {
        name: Some(name.into()),
        url: Some(url.into()),
        content_type: Some(content_type.into()),
        file_size_in_bytes: Some(100),
        ..FilePart::default()
    })
}

/// The agent sends `part`; answers the private notes once `notes_before + 1` exist, after the
/// daemon settled, and checks the customer got nothing.
async fn refused(env: &Env, conv: &str, part: MessagePart, notes_before: usize) -> String {
    let sent_before = env.zalo.sent_to(U).len();
    env.agent_says(conv, &env.freshchat.default_agent_id(), &[part])
        .await
        .unwrap();
    let all = notes(env, U, notes_before + 1).await;
    settle(env).await;
    assert_eq!(
        env.zalo.sent_to(U).len(),
        sent_before,
        "nothing reached the customer on Zalo"
    );
    all[notes_before..].join("\n")
}

/// A loopback listener that counts connections and answers each with an image.
struct Canary {
    url: String,
    hits: Arc<AtomicUsize>,
}

async fn canary() -> Canary {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/inside.png", listener.local_addr().unwrap());
    let hits = Arc::new(AtomicUsize::new(0));
    let counted = hits.clone();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            counted.fetch_add(1, Ordering::SeqCst);
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf).await;
            let head = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: image/png\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                TINY_PNG.len()
            );
            let _ = s.write_all(head.as_bytes()).await;
            let _ = s.write_all(TINY_PNG).await;
        }
    });
    Canary { url, hits }
}

/// A file URL that is the API's agent list, absolute on the API host or relative: never fetched
/// with the key, so the customer never receives the agents' names and emails, and the agent is
/// told the address is not a file download.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_api_address_as_an_attachment_is_refused_and_the_agent_told() {
    let env = env().await;
    let conv = start_conversation(&env, U).await;
    let agents = env.freshchat.base_url().join("/v2/agents").unwrap();
    let note = refused(
        &env,
        &conv,
        file("agents.pdf", agents.as_str(), "application/pdf"),
        0,
    )
    .await;
    assert!(note.contains("/v2/agents was not fetched"), "{note}");
    assert!(note.contains("not a file download"), "{note}");
    let note = refused(
        &env,
        &conv,
        file("users.pdf", "/v2/users?reference_id=x", "application/pdf"),
        1,
    )
    .await;
    assert!(note.contains("/v2/users was not fetched"), "{note}");
    assert!(
        !note.contains("reference_id"),
        "the query is not shown: {note}"
    );
    let note = refused(
        &env,
        &conv,
        file("agents.pdf", "v2/agents", "application/pdf"),
        2,
    )
    .await;
    assert!(note.contains("not a file download"), "{note}");
}

/// A file on the API host that redirects to an address inside the network: the hop is checked
/// by the egress policy, refused, and never fetched (the listener there sees nothing).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_keyed_redirect_inside_the_network_is_not_followed() {
    let env = env().await;
    let conv = start_conversation(&env, U).await;
    let inside = canary().await;
    let url = env
        .freshchat
        .upload_for_agent_elsewhere("photo.png", &inside.url);
    let note = refused(&env, &conv, file("photo.png", &url, "image/png"), 0).await;
    assert!(note.contains("127.0.0.1 is a private"), "{note}");
    assert_eq!(
        inside.hits.load(Ordering::SeqCst),
        0,
        "the address inside was reached"
    );
}

/// A file on the API host that redirects to Freshchat's storage bucket is still delivered: the
/// hop is allowed and fetched without the key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_keyed_redirect_to_storage_is_fetched_without_the_key() {
    let env = env().await;
    let conv = start_conversation(&env, U).await;
    let stored =
        env.freshchat
            .upload_for_agent("photo.png", "image/png", Bytes::from_static(TINY_PNG));
    let url = env
        .freshchat
        .upload_for_agent_elsewhere("photo.png", &stored);
    let before = env.zalo.sent_to(U).len();
    env.agent_says(
        &conv,
        &env.freshchat.default_agent_id(),
        &[file("photo.png", &url, "image/png")],
    )
    .await
    .unwrap();
    let sent = zalo_sent(&env, U, before + 1).await;
    let id = sent[before]
        .message
        .pointer("/attachment/payload/elements/0/attachment_id")
        .and_then(|v| v.as_str())
        .unwrap_or_else(|| panic!("{}", sent[before].message))
        .to_string();
    assert_eq!(&env.zalo.uploaded(&id).unwrap().1[..], TINY_PNG);
    assert_eq!(env.freshchat.cdn_requests_with_credentials(), 0);
}

/// A download address of the API host that answers with JSON is the API talking, not a file:
/// neither hosted for the customer nor uploaded, whether its type says JSON or not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_json_answer_of_a_file_download_is_not_hosted() {
    let env = env().await;
    let conv = start_conversation(&env, U).await;
    let body = br#"{"agents":[{"email":"lan@example.com","first_name":"Lan"}]}"#;
    for (i, (name, content_type)) in [
        ("agents.json", "application/json"),
        ("export.bin", "application/octet-stream"),
    ]
    .into_iter()
    .enumerate()
    {
        let url = env
            .freshchat
            .upload_for_agent(name, content_type, Bytes::from_static(body));
        assert!(url.contains("/v2/files/"), "{url}");
        let note = refused(&env, &conv, file(name, &url, content_type), i).await;
        assert!(note.contains("not a file"), "{note}");
        assert!(!note.contains("lan@example.com"), "{note}");
    }
}

/// An attachment at a public address written as an IP has no media host name to match: refused
/// (not retried as unreachable), naming the address and who can allow it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_attachment_at_an_ip_address_is_refused() {
    let env = env().await;
    let conv = start_conversation(&env, U).await;
    let note = refused(
        &env,
        &conv,
        MessagePart::Image {
            url: "http://93.184.216.34/x.png".into(),
        },
        0,
    )
    .await;
    assert!(
        note.contains("93.184.216.34 is not a Zalo or Freshchat media host"),
        "{note}"
    );
    assert!(note.contains("[media] allow_hosts"), "{note}");
}
