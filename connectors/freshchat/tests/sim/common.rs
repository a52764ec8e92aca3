//! Helpers of the simulator tests: a simulator and a webhook receiver on loopback, raw HTTP calls
//! with `serde_json`, an independent signature check (aws-lc-rs, no client code), the real-world
//! corpus and a keys-and-types comparison against its samples.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_lc_rs::signature::{UnparsedPublicKey, RSA_PKCS1_2048_8192_SHA256};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use base64::Engine as _;
use serde_json::{json, Value};
use zfsync_freshchat::sim::{FreshchatSim, SimConfig};

/// One webhook as received: headers and exact raw body.
#[derive(Clone)]
pub struct Hook {
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Hook {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }

    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
    }
}

#[derive(Clone, Default)]
pub struct Receiver {
    pub got: Arc<Mutex<Vec<Hook>>>,
    /// Answer 500 to this many deliveries first.
    pub fail_first: Arc<Mutex<u32>>,
}

impl Receiver {
    pub fn hooks(&self) -> Vec<Hook> {
        self.got.lock().unwrap().clone()
    }

    pub fn bodies(&self) -> Vec<Value> {
        self.hooks().iter().map(Hook::json).collect()
    }

    pub fn clear(&self) {
        self.got.lock().unwrap().clear();
    }
}

async fn receive(State(r): State<Receiver>, headers: HeaderMap, body: Bytes) -> StatusCode {
    r.got.lock().unwrap().push(Hook { headers, body });
    let mut fail = r.fail_first.lock().unwrap();
    if *fail > 0 {
        *fail -= 1;
        return StatusCode::INTERNAL_SERVER_ERROR;
    }
    StatusCode::OK
}

pub struct Env {
    pub sim: FreshchatSim,
    pub recv: Receiver,
    pub http: reqwest::Client,
}

/// A simulator (short retry delays) whose webhooks go to a recording receiver.
pub async fn start(cfg: SimConfig) -> Env {
    let recv = Receiver::default();
    let app = Router::new()
        .route("/hook", post(receive))
        .with_state(recv.clone());
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let sim = FreshchatSim::start(
        l,
        SimConfig {
            webhook_url: Some(format!("http://{addr}/hook")),
            retry_delays: vec![Duration::from_millis(20), Duration::from_millis(40)],
            ..cfg
        },
    )
    .await
    .unwrap();
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    Env { sim, recv, http }
}

/// An answer: status, headers, JSON body (`Null` when not JSON).
pub struct Answer {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Env {
    pub fn url(&self, path: &str) -> String {
        format!(
            "{}{}",
            self.sim.base_url().as_str().trim_end_matches('/'),
            path
        )
    }

    pub async fn send(&self, req: reqwest::RequestBuilder) -> Answer {
        let r = req.send().await.unwrap();
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        let bytes = r.bytes().await.unwrap();
        Answer {
            status,
            headers,
            body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        }
    }

    pub async fn get(&self, path: &str) -> Answer {
        self.send(
            self.http
                .get(self.url(path))
                .bearer_auth(self.sim.api_key()),
        )
        .await
    }

    pub async fn post(&self, path: &str, body: Value) -> Answer {
        self.send(
            self.http
                .post(self.url(path))
                .bearer_auth(self.sim.api_key())
                .json(&body),
        )
        .await
    }

    pub async fn put(&self, path: &str, body: Value) -> Answer {
        self.send(
            self.http
                .put(self.url(path))
                .bearer_auth(self.sim.api_key())
                .json(&body),
        )
        .await
    }

    /// Creates a user; answers its id.
    pub async fn user(&self, n: u32) -> String {
        let a = self
            .post(
                "/v2/users",
                json!({"first_name": format!("Minh Khánh {n}"), "last_name": "Zalo",
                    "reference_id": format!("zalo:oa1:{n}"),
                    "properties": [{"name": "external_user_provider", "value": "zalo"}]}),
            )
            .await;
        assert_eq!(a.status, 201, "{}", a.body);
        a.body["id"].as_str().unwrap().to_owned()
    }

    pub async fn channel(&self) -> String {
        let a = self.get("/v2/channels").await;
        a.body["channels"][0]["id"].as_str().unwrap().to_owned()
    }

    /// Opens a conversation with a first customer message; answers the conversation.
    pub async fn conversation(&self, user: &str, text: &str) -> Value {
        let channel = self.channel().await;
        let a = self
            .post(
                "/v2/conversations",
                json!({"channel_id": channel, "users": [{"id": user}], "status": "new",
                    "messages": [{"message_parts": [{"text": {"content": text}}],
                                  "actor_type": "user", "actor_id": user, "message_type": "normal"}]}),
            )
            .await;
        assert_eq!(a.status, 201, "{}", a.body);
        a.body
    }

    /// A customer message through the API.
    pub async fn user_says(&self, conv: &str, user: &str, text: &str) -> Answer {
        self.post(
            &format!("/v2/conversations/{conv}/messages"),
            json!({"message_parts": [{"text": {"content": text}}], "actor_type": "user",
                "actor_id": user, "user_id": user, "message_type": "normal"}),
        )
        .await
    }

    /// Waits for deliveries to settle, then answers the received webhook bodies.
    pub async fn settled(&self) -> Vec<Value> {
        assert!(self.sim.wait_deliveries_idle(Duration::from_secs(10)).await);
        self.recv.bodies()
    }
}

pub fn id(v: &Value) -> String {
    v.as_str()
        .map(str::to_owned)
        .or_else(|| v["id"].as_str().map(str::to_owned))
        .unwrap()
}

/// Verifies a base64 RSASSA-PKCS1-v1_5 / SHA-256 signature over `body` with an SPKI DER key,
/// without any client code.
pub fn verify(spki_der: &[u8], body: &[u8], signature_b64: &str) -> bool {
    let Ok(sig) = base64::engine::general_purpose::STANDARD.decode(signature_b64) else {
        return false;
    };
    let Ok(key) = aws_lc_rs::rsa::PublicKey::from_der(spki_der) else {
        return false;
    };
    UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, key.as_ref())
        .verify(body, &sig)
        .is_ok()
}

/// The DER inside a PEM (any armour, any whitespace).
pub fn pem_der(pem: &str) -> Vec<u8> {
    let b64: String = pem
        .split("-----")
        .filter(|s| !s.contains("BEGIN") && !s.contains("END"))
        .flat_map(|s| s.chars())
        .filter(|c| !c.is_whitespace())
        .collect();
    base64::engine::general_purpose::STANDARD
        .decode(b64)
        .unwrap()
}

/// `../shared/realworld` beside the workspace; a missing one fails the test unless
/// `ZFSYNC_TEST_SKIP` names `realworld` (then `None`).
pub fn corpus_dir() -> Option<std::path::PathBuf> {
    crate::prerequisites::realworld(env!("CARGO_MANIFEST_DIR"))
}

/// One sample file of the corpus.
pub fn sample(dir: &std::path::Path, name: &str) -> Value {
    let text = std::fs::read_to_string(dir.join(name)).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Every key of `sample` is in `ours` with the same JSON type, recursively (arrays compare their
/// first items). Answers the differences as paths.
pub fn missing_or_mistyped(ours: &Value, sample: &Value, path: &str) -> Vec<String> {
    let mut out = Vec::new();
    match (ours, sample) {
        (Value::Object(o), Value::Object(s)) => {
            for (k, sv) in s {
                let p = format!("{path}.{k}");
                match o.get(k) {
                    None => out.push(format!("{p} missing")),
                    Some(ov) => out.extend(missing_or_mistyped(ov, sv, &p)),
                }
            }
        }
        (Value::Array(o), Value::Array(s)) => {
            if let (Some(o), Some(s)) = (o.first(), s.first()) {
                out.extend(missing_or_mistyped(o, s, &format!("{path}[0]")));
            }
        }
        (o, s) if kind(o) != kind(s) => {
            out.push(format!(
                "{path}: {} here, {} in the sample",
                kind(o),
                kind(s)
            ));
        }
        _ => {}
    }
    out
}

/// Keys of the object `ours` that the sample does not have and that are not allowed.
pub fn extra_keys(ours: &Value, sample: &Value, allowed: &[&str]) -> Vec<String> {
    let (Some(o), Some(s)) = (ours.as_object(), sample.as_object()) else {
        return vec!["not objects".into()];
    };
    o.keys()
        .filter(|k| !s.contains_key(*k) && !allowed.contains(&k.as_str()))
        .cloned()
        .collect()
}

/// Asserts `ours` has the sample's keys and types, and no other keys than `allowed` at the top.
pub fn assert_shape(what: &str, ours: &Value, sample: &Value, allowed: &[&str]) {
    let diff = missing_or_mistyped(ours, sample, what);
    assert!(diff.is_empty(), "{what}: {diff:?}\nours: {ours:#}");
    let extra = extra_keys(ours, sample, allowed);
    assert!(
        extra.is_empty(),
        "{what}: keys not in the sample {extra:?}\nours: {ours:#}"
    );
}

/// ISO-8601 UTC with milliseconds and `Z`, e.g. `2022-11-22T10:55:23.126Z`.
pub fn is_iso_ms(v: &Value) -> bool {
    let Some(s) = v.as_str() else { return false };
    s.len() == 24
        && s.ends_with('Z')
        && s.as_bytes().get(19) == Some(&b'.')
        && chrono::DateTime::parse_from_rfc3339(s).is_ok()
}
