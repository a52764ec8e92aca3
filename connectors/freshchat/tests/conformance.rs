//! Conformance with the real-world Freshchat samples in `<workspace>/../shared/realworld`.
//!
//! A table names every `freshchat-*` sample's expected classification; a test fails when a sample
//! is missing from the table or the table names one the corpus lacks. Webhook bodies go through the
//! real parser (and the signed vector through the verifier); API objects and error bodies go through
//! the client over loopback, replayed by a tiny HTTP server in this file, so the real read path is
//! exercised. Samples kept as `body_text` that are not JSON are refused as invalid JSON, never
//! guessed; where such a sample documents a shape, a fixture written here reproduces that shape.
//! The client's safety rules (where the key goes, redirects, `Retry-After`, scrubbed errors, the
//! call observer) are checked against the same server. When the corpus folder is absent, the
//! corpus tests print one line and return.
#![allow(clippy::unwrap_used)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use proptest::prelude::*;
use secrecy::SecretString;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use url::Url;
use zfsync_freshchat::*;

mod client_safety;
mod robustness;

// ------------------------------------------------------------------ the corpus

/// `../shared/realworld` beside the workspace; a missing one fails the test unless
/// `ZFSYNC_TEST_SKIP` names `realworld` (then `None`).
fn corpus_dir() -> Option<std::path::PathBuf> {
    crate::prerequisites::realworld(env!("CARGO_MANIFEST_DIR"))
}

struct Sample {
    name: String,
    file: Value,
}

impl Sample {
    /// The bytes as found: `body_text` verbatim when present, else `body` serialised.
    fn raw(&self) -> Vec<u8> {
        match self.file.get("body_text").and_then(Value::as_str) {
            Some(t) => t.as_bytes().to_vec(),
            None => serde_json::to_vec(&self.file["body"]).unwrap(),
        }
    }
}

fn samples(dir: &std::path::Path) -> Vec<Sample> {
    let mut out: Vec<Sample> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("freshchat-") && n.ends_with(".json"))
        .map(|name| {
            let text = std::fs::read_to_string(dir.join(&name)).unwrap();
            Sample {
                file: serde_json::from_str(&text).unwrap(),
                name,
            }
        })
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

/// What a sample must turn into.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Expect {
    /// A webhook body parsed into the typed event of this action.
    Webhook(&'static str),
    /// A webhook body refused as invalid JSON.
    WebhookNotJson,
    /// A marketplace product event, refused as not a webhook body.
    ProductEvent,
    /// An API object decoded by the client call named.
    Api(Call),
    /// An API answer kept as non-JSON text: the client call named refuses it as invalid JSON.
    ApiNotJson(Call),
    /// A request body zfsync's request types read and write back.
    Request,
    /// An error body, served with this HTTP status, classified by the client.
    Error(u16),
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Call {
    PostMessage,
    GetConversation,
    ListMessages,
    CreateUser,
    CreateConversation,
    UploadFile,
    UploadImage,
}

const TABLE: &[(&str, Expect)] = &[
    (
        "freshchat-api-conversation-messages-page.json",
        Expect::ApiNotJson(Call::ListMessages),
    ),
    (
        "freshchat-api-conversation-object.json",
        Expect::Api(Call::GetConversation),
    ),
    (
        "freshchat-api-conversations-create-request.json",
        Expect::Request,
    ),
    (
        "freshchat-api-conversations-create.json",
        Expect::Api(Call::CreateConversation),
    ),
    (
        "freshchat-api-error-image-empty-content-captured.json",
        Expect::Error(400),
    ),
    ("freshchat-api-error-weni-mock.json", Expect::Error(400)),
    (
        "freshchat-api-files-upload.json",
        Expect::Api(Call::UploadFile),
    ),
    (
        "freshchat-api-images-upload.json",
        Expect::Api(Call::UploadImage),
    ),
    (
        "freshchat-api-message-object.json",
        Expect::Api(Call::PostMessage),
    ),
    (
        "freshchat-api-message-quickreply-response.json",
        Expect::ApiNotJson(Call::PostMessage),
    ),
    (
        "freshchat-api-users-create.json",
        Expect::Api(Call::CreateUser),
    ),
    (
        "freshchat-product-event-message-jaya-2020.json",
        Expect::ProductEvent,
    ),
    (
        "freshchat-product-event-onConversationUpdate.json",
        Expect::ProductEvent,
    ),
    (
        "freshchat-product-event-onMessageCreate.json",
        Expect::ProductEvent,
    ),
    (
        "freshchat-webhook-conversation_assignment.json",
        Expect::Webhook("conversation_assignment"),
    ),
    (
        "freshchat-webhook-conversation_reopen-kb2018-legacy.json",
        Expect::WebhookNotJson,
    ),
    (
        "freshchat-webhook-conversation_reopen-kb2021.json",
        Expect::Webhook("conversation_reopen"),
    ),
    (
        "freshchat-webhook-conversation_reopen.json",
        Expect::Webhook("conversation_reopen"),
    ),
    (
        "freshchat-webhook-conversation_resolution.json",
        Expect::Webhook("conversation_resolution"),
    ),
    (
        "freshchat-webhook-message_create-kb2018-legacy.json",
        Expect::Webhook("message_create"),
    ),
    (
        "freshchat-webhook-message_create-kb2021.json",
        Expect::Webhook("message_create"),
    ),
    (
        "freshchat-webhook-message_create-signed.json",
        Expect::Webhook("message_create"),
    ),
    (
        "freshchat-webhook-message_create-user-2020.json",
        Expect::Webhook("message_create"),
    ),
    (
        "freshchat-webhook-message_create.json",
        Expect::Webhook("message_create"),
    ),
];

fn expect_of(name: &str) -> Option<Expect> {
    TABLE.iter().find(|(n, _)| *n == name).map(|(_, e)| *e)
}

// ------------------------------------------------------------------ a replaying HTTP server

#[derive(Clone, Debug)]
struct Canned {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Canned {
    fn json(status: u16, body: &[u8]) -> Self {
        Self {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body: body.to_vec(),
        }
    }
    /// A file's bytes with its type.
    fn file(status: u16, content_type: &str, body: &[u8]) -> Self {
        Self {
            status,
            headers: vec![("content-type".into(), content_type.into())],
            body: body.to_vec(),
        }
    }
    fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }
}

#[derive(Clone, Debug)]
struct Seen {
    target: String,
    headers: Vec<(String, String)>,
}

impl Seen {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

struct Server {
    base: Url,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Server {
    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

/// Answers the n-th connection with the n-th canned answer (the last one repeats).
async fn serve(canned: Vec<Canned>) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = Url::parse(&format!("http://{}", listener.local_addr().unwrap())).unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    tokio::spawn(async move {
        let mut n = 0usize;
        while let Ok((mut sock, _)) = listener.accept().await {
            let answer = canned[n.min(canned.len() - 1)].clone();
            n += 1;
            let mut buf = Vec::new();
            let mut chunk = [0u8; 8192];
            let head_end = loop {
                let Ok(read) = sock.read(&mut chunk).await else {
                    break None;
                };
                if read == 0 {
                    break None;
                }
                buf.extend_from_slice(&chunk[..read]);
                if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                    break Some(p + 4);
                }
            };
            let Some(head_end) = head_end else { continue };
            let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
            let mut lines = head.split("\r\n");
            let target = lines
                .next()
                .and_then(|l| l.split(' ').nth(1))
                .unwrap_or("")
                .to_owned();
            let headers: Vec<(String, String)> = lines
                .filter_map(|l| l.split_once(':'))
                .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
                .collect();
            let length = headers
                .iter()
                .find(|(k, _)| k == "content-length")
                .and_then(|(_, v)| v.parse::<usize>().ok());
            let chunked = headers
                .iter()
                .any(|(k, v)| k == "transfer-encoding" && v.contains("chunked"));
            let mut body = buf[head_end..].to_vec();
            while length.is_some_and(|l| body.len() < l)
                || (chunked && !body.ends_with(b"0\r\n\r\n"))
            {
                match sock.read(&mut chunk).await {
                    Ok(0) | Err(_) => break,
                    Ok(read) => body.extend_from_slice(&chunk[..read]),
                }
            }
            log.lock().unwrap().push(Seen { target, headers });
            let mut out = format!(
                "HTTP/1.1 {} Replay\r\ncontent-length: {}\r\nconnection: close\r\n",
                answer.status,
                answer.body.len()
            );
            for (k, v) in &answer.headers {
                out.push_str(&format!("{k}: {v}\r\n"));
            }
            out.push_str("\r\n");
            let mut bytes = out.into_bytes();
            bytes.extend_from_slice(&answer.body);
            let _ = sock.write_all(&bytes).await;
            let _ = sock.shutdown().await;
        }
    });
    Server { base, seen }
}

const KEY: &str = "sk-test-7f3a9c";

fn client_for(base: &Url) -> FreshchatClient {
    FreshchatClient::new(ClientConfig::new(base.clone(), SecretString::from(KEY))).unwrap()
}

/// Performs `call` against a server that answers `canned`.
async fn run_call(call: Call, canned: Canned) -> Result<Value, FreshchatError> {
    let server = serve(vec![canned]).await;
    let c = client_for(&server.base);
    let out = match call {
        Call::PostMessage => c
            .post_message("c1", &NewMessage::bot_note("x"))
            .await
            .map(|m| serde_json::to_value(m).unwrap()),
        Call::GetConversation => c
            .get_conversation("c1")
            .await
            .map(|v| serde_json::to_value(v).unwrap()),
        Call::ListMessages => c.list_messages("c1", None, 50).await.map(
            |p| json!({"messages": serde_json::to_value(&p.messages).unwrap(), "next": p.next}),
        ),
        Call::CreateUser => c
            .create_user(&NewUser::default())
            .await
            .map(|v| serde_json::to_value(v).unwrap()),
        Call::CreateConversation => c
            .create_conversation(&NewConversation::default())
            .await
            .map(|v| serde_json::to_value(v).unwrap()),
        Call::UploadFile => c
            .upload_file("a.pdf", "application/pdf", Bytes::from_static(b"%PDF"))
            .await
            .map(|v| serde_json::to_value(v).unwrap()),
        Call::UploadImage => c
            .upload_image("a.png", "image/png", Bytes::from_static(b"\x89PNG"))
            .await
            .map(|v| serde_json::to_value(v).unwrap()),
    };
    // Every call went out with the key, to the API host.
    let seen = server.seen();
    assert_eq!(seen.len(), 1, "{call:?}");
    assert_eq!(
        seen[0].header("authorization"),
        Some(format!("Bearer {KEY}").as_str())
    );
    out
}

// ------------------------------------------------------------------ the table itself

#[test]
fn every_sample_has_an_expected_classification() {
    let Some(dir) = corpus_dir() else { return };
    let names: Vec<String> = samples(&dir).into_iter().map(|s| s.name).collect();
    for n in &names {
        assert!(expect_of(n).is_some(), "{n} is not in the table");
    }
    for (n, _) in TABLE {
        assert!(
            names.iter().any(|m| m == n),
            "the table names {n}, absent from the corpus"
        );
    }
}

#[test]
fn webhook_bodies_parse_or_are_refused_by_name() {
    let Some(dir) = corpus_dir() else { return };
    for s in samples(&dir) {
        let expect = expect_of(&s.name).unwrap();
        let parsed = parse_event(&s.raw());
        match expect {
            Expect::Webhook(action) => {
                let e = parsed.unwrap_or_else(|e| panic!("{}: {e}", s.name));
                assert_eq!(e.action(), action, "{}", s.name);
                assert!(!matches!(e, WebhookEvent::Unknown { .. }), "{}", s.name);
                assert!(e.conversation_id().is_some(), "{}", s.name);
                // The event's own time: the message's created_time, else action_time.
                let body: Value = serde_json::from_slice(&s.raw()).unwrap();
                let want = body["data"]["message"]["created_time"]
                    .as_str()
                    .or(body["action_time"].as_str())
                    .and_then(iso_time_ms);
                assert!(want.is_some(), "{}", s.name);
                assert_eq!(e.time_ms(), want, "{}", s.name);
                assert_eq!(parse_event(&e.to_body()).unwrap(), e, "{}", s.name);
            }
            Expect::WebhookNotJson => {
                let err = parsed.unwrap_err();
                assert_eq!(err.reason(), "not_json", "{}", s.name);
            }
            Expect::ProductEvent => {
                assert_eq!(parsed.unwrap_err(), ParseError::ProductEvent, "{}", s.name);
            }
            _ => {}
        }
    }
}

fn webhook(dir: &std::path::Path, name: &str) -> WebhookEvent {
    let s = samples(dir).into_iter().find(|s| s.name == name).unwrap();
    parse_event(&s.raw()).unwrap()
}

#[test]
fn message_generations_are_read_as_documented() {
    let Some(dir) = corpus_dir() else { return };
    let message = |name: &str| match webhook(&dir, name) {
        WebhookEvent::MessageCreate { message, actor, .. } => (message, actor),
        other => panic!("{name}: {other:?}"),
    };
    // 2022: no message_type, camelCase bot flags, agent author with the end user in user_id.
    let (m, actor) = message("freshchat-webhook-message_create.json");
    assert_eq!(m.message_type, None);
    assert_eq!(m.effective_type(), MessageType::Normal);
    assert_eq!(m.bots_private_note, Some(false));
    assert_eq!(m.restrict_response, Some(false));
    assert!(!m.is_private_note());
    assert_eq!(actor.actor_type, ActorType::Agent);
    assert!(m.user_id.is_some());
    assert!(
        matches!(&m.message_parts[0], MessagePart::Text { content } if content.starts_with("হাই"))
    );
    // 2021: org_actor_id, message_source, dash-less conversation id, alias user id.
    let (m, _) = message("freshchat-webhook-message_create-kb2021.json");
    assert_eq!(m.org_actor_id.as_deref(), Some("345162432277281455"));
    assert_eq!(m.message_source.as_deref(), Some("web"));
    assert_eq!(m.message_type, Some(MessageType::Normal));
    assert!(m.user_id.as_deref().unwrap().starts_with("Denise_alias"));
    // 2018: legacy msg_parts read as text.
    let (m, _) = message("freshchat-webhook-message_create-kb2018-legacy.json");
    assert_eq!(
        m.message_parts,
        vec![MessagePart::text("USER MESSAGE - from postman")]
    );
    // 2020 user message: no user_id at all.
    let (m, actor) = message("freshchat-webhook-message_create-user-2020.json");
    assert_eq!(actor.actor_type, ActorType::User);
    assert_eq!(m.user_id, None);
    // Assignment: "" means no agent before; reopen 2021 status.
    match webhook(&dir, "freshchat-webhook-conversation_assignment.json") {
        WebhookEvent::ConversationAssignment {
            to_agent_id,
            conversation,
            ..
        } => {
            assert!(to_agent_id.is_some());
            assert_eq!(conversation.status, Some(ConversationStatus::Assigned));
        }
        other => panic!("{other:?}"),
    }
    match webhook(&dir, "freshchat-webhook-conversation_reopen-kb2021.json") {
        WebhookEvent::ConversationReopen { conversation, .. } => {
            assert_eq!(conversation.status, Some(ConversationStatus::Reopened))
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn the_signed_vector_verifies_and_the_invalid_one_does_not() {
    let Some(dir) = corpus_dir() else { return };
    let s = samples(&dir)
        .into_iter()
        .find(|s| s.name == "freshchat-webhook-message_create-signed.json")
        .unwrap();
    let key = WebhookKey::parse(s.file["public_key_as_pasted"].as_str().unwrap()).unwrap();
    let header = s.file["headers"]["X-FreshChat-Signature"].as_str().unwrap();
    let raw = s.raw();
    assert_eq!(raw.len(), 554);
    key.verify(&raw, Some(header)).unwrap();
    assert_eq!(
        key.verify(&raw, s.file["invalid_signature"].as_str()),
        Err(SignatureError::Mismatch)
    );
    let mut tampered = raw.clone();
    tampered[100] ^= 1;
    assert_eq!(
        key.verify(&tampered, Some(header)),
        Err(SignatureError::Mismatch)
    );
}

#[tokio::test]
async fn api_objects_decode_through_the_client() {
    let Some(dir) = corpus_dir() else { return };
    for s in samples(&dir) {
        let Some(Expect::Api(call)) = expect_of(&s.name) else {
            continue;
        };
        let status = if matches!(call, Call::CreateUser | Call::CreateConversation) {
            201
        } else {
            200
        };
        let v = run_call(call, Canned::json(status, &s.raw()))
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", s.name));
        match call {
            Call::PostMessage => {
                let m: Message = serde_json::from_value(v).unwrap();
                assert_eq!(
                    m.freshchat_conversation_id.as_deref(),
                    Some("1019183591791880")
                );
                assert_eq!(m.freshchat_channel_id.as_deref(), Some("854617"));
                assert_eq!(m.bots_input, Some(false));
                assert_eq!(m.is_bots_input, Some(false));
                assert_eq!(m.bots_private_note, Some(false));
                assert_eq!(
                    m.interaction_id.as_deref(),
                    Some("1019183591791880-1752164389742")
                );
                // The message read from the API makes the same event its webhook would.
                let e = message_create_event(&m);
                assert_eq!(e.dedupe_key(), m.id);
                assert_eq!(e.time_ms(), iso_time_ms("2025-07-10T19:47:55.442Z"));
                assert_eq!(parse_event(&e.to_body()).unwrap(), e);
            }
            Call::GetConversation => {
                let c: Conversation = serde_json::from_value(v).unwrap();
                assert_eq!(
                    c.conversation_internal_id.as_deref(),
                    Some("1019183591791880")
                );
                assert_eq!(c.status, Some(ConversationStatus::New));
                assert!(c.url.unwrap().contains("/conversation/1019183591791880"));
            }
            Call::CreateUser => {
                let u: User = serde_json::from_value(v).unwrap();
                assert_eq!(u.id, "1234567890");
                assert_eq!(u.properties, vec![Property::new("key", "value")]);
            }
            Call::CreateConversation => {
                let c: Conversation = serde_json::from_value(v).unwrap();
                assert_eq!(c.conversation_id, "1234567890");
                assert_eq!(c.channel_id.as_deref(), Some("1234567890"));
            }
            Call::UploadFile => {
                let up: FileUpload = serde_json::from_value(v).unwrap();
                assert_eq!(up.file_hash.as_deref(), Some("1234567890"));
                assert_eq!(up.file_size, Some(100));
                let part = up.to_part("a.pdf", "application/pdf");
                assert_eq!(part.file_security_status.as_deref(), Some("safe"));
                assert_eq!(part.file_extension.as_deref(), Some("pdf"));
                assert_eq!(part.name.as_deref(), Some("file1.pdf"));
            }
            Call::UploadImage => {
                let up: ImageUpload = serde_json::from_value(v).unwrap();
                assert_eq!(
                    up.to_part(),
                    MessagePart::image("https://foo.bar.com/images/image2.png")
                );
            }
            Call::ListMessages => unreachable!("the messages page sample is not JSON"),
        }
    }
}

#[tokio::test]
async fn non_json_samples_are_refused_never_guessed() {
    let Some(dir) = corpus_dir() else { return };
    let mut n = 0;
    for s in samples(&dir) {
        let Some(Expect::ApiNotJson(call)) = expect_of(&s.name) else {
            continue;
        };
        n += 1;
        let err = run_call(call, Canned::json(200, &s.raw()))
            .await
            .unwrap_err();
        assert!(
            matches!(err, FreshchatError::InvalidJson { .. }),
            "{}: {err:?}",
            s.name
        );
        assert_eq!(err.class(), ErrorClass::Decode);
    }
    assert_eq!(n, 2);
}

/// The documented shape of the messages page (a single `link`, root-relative `href` with `/v2`, a
/// system resolve notice), written as JSON here because the sample is a TypeScript literal.
fn messages_page_fixture() -> Value {
    json!({
        "link": {"href": "/v2/conversations/conv-9/messages?page=2&items_per_page=2&from_time=2024-03-01T08:00:00.000Z"},
        "messages": [
            {"actor_id": "agent-1", "actor_type": "agent", "app_id": "app-1", "channel_id": "ch-1",
             "conversation_id": "conv-9", "created_time": "2024-03-01T08:00:05.120Z", "id": "m-2",
             "message_parts": [{"text": {"content": "Chào anh"}}], "message_source": "web", "message_type": "normal"},
            {"actor_id": "agent-1", "actor_type": "agent", "app_id": "app-1", "channel_id": "ch-1",
             "conversation_id": "conv-9", "created_time": "2024-03-01T08:00:04.000Z", "id": "m-1",
             "message_parts": [{"text": {"content": "Conversation was resolved by agent."}}],
             "message_source": "system", "message_type": "normal", "meta_data": {"isResolved": true}}
        ]
    })
}

#[tokio::test]
async fn the_messages_page_shape_pages_on_the_api_host() {
    let body = serde_json::to_vec(&messages_page_fixture()).unwrap();
    let server = serve(vec![Canned::json(200, &body)]).await;
    let c = client_for(&server.base);
    let page = c.list_messages("conv-9", None, 80).await.unwrap();
    assert_eq!(page.messages.len(), 2);
    assert!(page.messages[1].is_status_notice());
    assert_eq!(page.messages[1].message_source.as_deref(), Some("system"));
    let next = page.next.clone().unwrap();
    c.list_messages("conv-9", Some(&next), 50).await.unwrap();
    let seen = server.seen();
    assert_eq!(
        seen[0].target,
        "/v2/conversations/conv-9/messages?page=1&items_per_page=50"
    );
    assert_eq!(seen[1].target, next);
    assert!(seen[1].header("authorization").is_some());
    // A cursor on another host is refused before anything is sent.
    let err = c
        .list_messages("conv-9", Some("https://elsewhere.test/v2/x"), 50)
        .await
        .unwrap_err();
    assert!(matches!(err, FreshchatError::BadUrl { .. }));
    assert_eq!(server.seen().len(), 2);
}

#[tokio::test]
async fn the_quick_reply_shape_decodes() {
    // The documented quick-reply answer: options in reply_parts, not message_parts.
    let body = json!({
        "actor_id": "svc-1", "actor_type": "system", "conversation_id": "1", "id": "m-q",
        "message_parts": [{"text": {"content": "Khi nào anh tiện?"}}], "message_type": "normal",
        "reply_parts": [{"collection": {"sub_parts": [
            {"quick_reply_button": {"label": "Sáng nay"}}, {"quick_reply_button": {"label": "Chiều nay"}}]}}]
    });
    let v = run_call(
        Call::PostMessage,
        Canned::json(200, &serde_json::to_vec(&body).unwrap()),
    )
    .await
    .unwrap();
    let m: Message = serde_json::from_value(v).unwrap();
    assert_eq!(m.actor_type, ActorType::System);
    let [MessagePart::Collection { sub_parts }] = m.reply_parts.as_slice() else {
        panic!("{:?}", m.reply_parts)
    };
    let labels: Vec<&str> = sub_parts
        .iter()
        .map(|p| match p {
            MessagePart::QuickReplyButton { label, .. } => label.as_str(),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(labels, ["Sáng nay", "Chiều nay"]);
}

#[test]
fn the_production_create_request_reads_and_writes_back() {
    let Some(dir) = corpus_dir() else { return };
    let s = samples(&dir)
        .into_iter()
        .find(|s| expect_of(&s.name) == Some(Expect::Request))
        .unwrap();
    let req: NewConversation = serde_json::from_value(s.file["body"].clone()).unwrap();
    assert_eq!(req.users[0].id, "c8fddfaf-622a-4a0e-b060-4f3ccbeab606");
    assert_eq!(req.messages[0].actor_type, ActorType::Agent);
    assert_eq!(
        req.messages[0].message_parts[1],
        MessagePart::image("https://foo.bar/image.jpg")
    );
    let back = serde_json::to_value(&req).unwrap();
    assert_eq!(
        back["messages"][0]["message_parts"],
        s.file["body"]["messages"][0]["message_parts"]
    );
}

#[tokio::test]
async fn both_error_bodies_classify() {
    let Some(dir) = corpus_dir() else { return };
    for s in samples(&dir) {
        let Some(Expect::Error(status)) = expect_of(&s.name) else {
            continue;
        };
        let mut canned = Canned::json(status, &s.raw());
        if let Some(h) = s.file.get("headers").and_then(Value::as_object) {
            for (k, v) in h {
                canned = canned.header(k, v.as_str().unwrap_or_default());
            }
        }
        let err = run_call(Call::PostMessage, canned).await.unwrap_err();
        assert_eq!(err.status(), Some(status), "{}", s.name);
        assert!(!err.is_transient());
        assert!(
            matches!(err, FreshchatError::Invalid { .. }),
            "{}: {err:?}",
            s.name
        );
        if s.file.get("body_text").is_some() {
            // Node's inspect output is not JSON: the text is kept, nothing is guessed from it.
            assert_eq!(err.api_status(), None);
            assert!(err.api_message().unwrap().contains("IMAGE_EMPTY_CONTENT"));
        } else {
            assert_eq!(err.api_message(), Some("Something went wrong (Unknown)"));
        }
    }
    // The captured error as JSON (its documented shape): status and message both exposed.
    let err = run_call(
        Call::PostMessage,
        Canned::json(
            400,
            br#"{"code":400,"status":"INVALID_VALUE","message":"IMAGE_EMPTY_CONTENT"}"#,
        ),
    )
    .await
    .unwrap_err();
    assert_eq!(err.api_status(), Some("INVALID_VALUE"));
    assert_eq!(err.api_message(), Some("IMAGE_EMPTY_CONTENT"));
}
