//! Tests of the Zalo simulator, all over real HTTP on loopback, in one test binary:
//! - `client`, `client_oauth`, `client_webhooks`: the crate's client against the simulator (every call and error
//!   class; every event verified and typed);
//! - `corpus`, `corpus_webhooks`: the simulator's answers and webhook bodies against the real-world
//!   samples;
//! - `independence`: the simulator imports no client code;
//! - `oauth`, `openapi`, `quota`, `people`, `delivery`, `faults`: each rule of the simulator.
#![allow(clippy::unwrap_used)]

mod client;
mod client_oauth;
mod client_webhooks;
mod corpus;
mod corpus_webhooks;
mod delivery;
mod faults;
mod independence;
mod oauth;
mod openapi;
mod people;
mod quota;
mod templates;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::HeaderMap;
use bytes::Bytes;
use secrecy::SecretString;
use serde_json::Value;
use zfsync_zalo::sim::{SimConfig, SimUser, ZaloSim};
use zfsync_zalo::{ClientConfig, ZaloClient};

/// A user id shaped like Zalo's (the one in the message/cs samples).
pub const USER: &str = "2512523625412515";

/// Starts a simulator on two loopback listeners (OpenAPI, OAuth).
pub async fn start(cfg: SimConfig) -> ZaloSim {
    let api = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let oauth = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    ZaloSim::start(api, oauth, cfg).await.unwrap()
}

/// The crate's client pointed at both hosts of `sim`.
pub fn client_for(sim: &ZaloSim) -> ZaloClient {
    let cfg = sim.config();
    let mut cc = ClientConfig::new(cfg.app_id, SecretString::from(cfg.app_secret));
    cc.api_base = sim.api_base();
    cc.oauth_base = sim.oauth_base();
    cc.timeout = Duration::from_secs(5);
    ZaloClient::new(cc).unwrap()
}

/// A simulator and a client for it.
pub async fn spawn(cfg: SimConfig) -> (ZaloSim, ZaloClient) {
    let sim = start(cfg).await;
    let client = client_for(&sim);
    (sim, client)
}

/// A follower named "Nguyễn Văn A".
pub fn add_user(sim: &ZaloSim, id: &str) {
    sim.add_user(SimUser {
        user_id: id.into(),
        display_name: "Nguyễn Văn A".into(),
        avatar: Some("https://a/240.jpg".into()),
        follower: true,
    });
}

/// A user who wrote just now, so the CS window is open.
pub fn active_user(sim: &ZaloSim, id: &str) {
    add_user(sim, id);
    sim.set_last_interaction(id, sim.now_ms());
}

/// A fresh access token of the configured OA.
pub fn token(sim: &ZaloSim) -> String {
    sim.issue_tokens().0
}

/// Waits for the webhook queue to drain.
pub async fn idle(sim: &ZaloSim) {
    assert!(
        sim.wait_deliveries_idle(Duration::from_secs(20)).await,
        "deliveries did not settle"
    );
}

/// `../shared/realworld` beside the workspace; a missing one fails the test unless
/// `ZFSYNC_TEST_SKIP` names `realworld` (then `None`).
pub fn corpus_dir() -> Option<std::path::PathBuf> {
    crate::prerequisites::realworld(env!("CARGO_MANIFEST_DIR"))
}

// ------------------------------------------------------------------ raw HTTP

/// `GET <api>/<path>?data=<json>` with the header token; the JSON answer and its headers.
pub async fn api_get(
    sim: &ZaloSim,
    path: &str,
    token: &str,
    data: Option<&Value>,
) -> (HeaderMap, Value) {
    let mut url = sim.api_base().join(path.trim_start_matches('/')).unwrap();
    if let Some(d) = data {
        url.query_pairs_mut().append_pair("data", &d.to_string());
    }
    let r = reqwest::Client::new()
        .get(url)
        .header("access_token", token)
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        200,
        "Zalo answers application errors with HTTP 200"
    );
    let h = r.headers().clone();
    (h, r.json().await.unwrap())
}

/// `POST <api>/<path>` with a JSON body and the header token.
pub async fn api_post(sim: &ZaloSim, path: &str, token: &str, body: &Value) -> Value {
    let url = sim.api_base().join(path.trim_start_matches('/')).unwrap();
    let r = reqwest::Client::new()
        .post(url)
        .header("access_token", token)
        .json(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

/// A multipart upload with one part `field` named `name`.
pub async fn api_upload(
    sim: &ZaloSim,
    path: &str,
    token: &str,
    field: &str,
    name: &str,
    bytes: Vec<u8>,
) -> Value {
    let url = sim.api_base().join(path.trim_start_matches('/')).unwrap();
    let part = reqwest::multipart::Part::bytes(bytes).file_name(name.to_owned());
    let form = reqwest::multipart::Form::new().part(field.to_owned(), part);
    let r = reqwest::Client::new()
        .post(url)
        .header("access_token", token)
        .multipart(form)
        .send()
        .await
        .unwrap();
    r.json().await.unwrap()
}

/// A CS text to `user` over raw HTTP.
pub async fn send_text(sim: &ZaloSim, token: &str, user: &str, text: &str) -> Value {
    api_post(
        sim,
        "/v3.0/oa/message/cs",
        token,
        &serde_json::json!({"recipient": {"user_id": user}, "message": {"text": text}}),
    )
    .await
}

// ------------------------------------------------------------------ webhook receiver

/// A small webhook receiver recording headers and raw bodies; it can fail or delay on request.
#[derive(Debug, Clone, Default)]
pub struct Receiver {
    pub got: Arc<Mutex<Vec<(HeaderMap, Bytes)>>>,
    pub fail_first: Arc<AtomicUsize>,
    pub delay_ms: Arc<AtomicUsize>,
    pub in_flight: Arc<AtomicUsize>,
    pub max_in_flight: Arc<AtomicUsize>,
}

impl Receiver {
    /// Starts the receiver; returns its base URL (`/hook` receives, `/html` serves a page).
    pub async fn start() -> (String, Receiver) {
        let r = Receiver::default();
        let state = r.clone();
        let app = axum::Router::new()
            .route(
                "/hook",
                axum::routing::post(
                    |axum::extract::State(s): axum::extract::State<Receiver>,
                     headers: HeaderMap,
                     body: Bytes| async move {
                        let now = s.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                        s.max_in_flight.fetch_max(now, Ordering::SeqCst);
                        s.got.lock().unwrap().push((headers, body));
                        let d = s.delay_ms.load(Ordering::SeqCst);
                        if d > 0 {
                            tokio::time::sleep(Duration::from_millis(d as u64)).await;
                        }
                        s.in_flight.fetch_sub(1, Ordering::SeqCst);
                        if s.fail_first.load(Ordering::SeqCst) > 0 {
                            s.fail_first.fetch_sub(1, Ordering::SeqCst);
                            return axum::http::StatusCode::INTERNAL_SERVER_ERROR;
                        }
                        axum::http::StatusCode::OK
                    },
                ),
            )
            .route(
                "/html",
                axum::routing::get(|| async { "<html>not json</html>" }),
            )
            .with_state(state);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (format!("http://{addr}"), r)
    }

    /// Every delivery so far: headers and raw body.
    pub fn events(&self) -> Vec<(HeaderMap, Bytes)> {
        self.got.lock().unwrap().clone()
    }

    /// Every body as JSON.
    pub fn bodies(&self) -> Vec<Value> {
        self.events()
            .iter()
            .map(|(_, b)| serde_json::from_slice(b).unwrap())
            .collect()
    }
}

/// A simulator delivering to a fresh receiver.
pub async fn with_receiver(mut cfg: SimConfig) -> (ZaloSim, ZaloClient, Receiver) {
    let (url, recv) = Receiver::start().await;
    cfg.webhook_url = Some(format!("{url}/hook"));
    let (sim, client) = spawn(cfg).await;
    (sim, client, recv)
}
