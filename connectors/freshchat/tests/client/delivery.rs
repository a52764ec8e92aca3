//! Webhook delivery order and parallelism, against a receiver that answers slowly and fails on
//! request.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use zfsync_freshchat::sim::{parts, FreshchatSim, SimConfig, WebhookMode};
use zfsync_freshchat::*;

use super::{client_for, id_of, open_conversation, zalo_user, App, Receiver};

#[derive(Debug, Clone)]
struct Hit {
    conversation: String,
    key: String,
    retry: String,
    status: u16,
    at: Instant,
}

#[derive(Clone, Default)]
struct SlowReceiver {
    delay_ms: Arc<AtomicU64>,
    /// A body containing the marker is refused (500) while its count lasts.
    fail: Arc<Mutex<HashMap<String, u32>>>,
    /// In arrival order.
    hits: Arc<Mutex<Vec<Hit>>>,
    busy: Arc<Mutex<HashSet<String>>>,
    /// Requests that arrived while another one of the same conversation was in flight.
    overlaps: Arc<AtomicUsize>,
    in_flight: Arc<AtomicUsize>,
    max_in_flight: Arc<AtomicUsize>,
}

impl SlowReceiver {
    fn reset(&self) {
        self.hits.lock().unwrap().clear();
        self.max_in_flight.store(0, Ordering::SeqCst);
    }

    fn hits_of(&self, conversation: &str) -> Vec<Hit> {
        self.hits
            .lock()
            .unwrap()
            .iter()
            .filter(|h| h.conversation == conversation)
            .cloned()
            .collect()
    }
}

async fn slow_receive(
    State(r): State<SlowReceiver>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let at = Instant::now();
    let n = r.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    r.max_in_flight.fetch_max(n, Ordering::SeqCst);
    let ev = parse_event(&body).unwrap();
    let conversation = ev.conversation_id().unwrap_or_default().to_owned();
    if !r.busy.lock().unwrap().insert(conversation.clone()) {
        r.overlaps.fetch_add(1, Ordering::SeqCst);
    }
    let delay = r.delay_ms.load(Ordering::SeqCst);
    if delay > 0 {
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }
    let text = String::from_utf8_lossy(&body);
    let refuse = r
        .fail
        .lock()
        .unwrap()
        .iter_mut()
        .find(|(marker, left)| **left > 0 && text.contains(marker.as_str()))
        .map(|(_, left)| *left -= 1)
        .is_some();
    let status = if refuse {
        StatusCode::INTERNAL_SERVER_ERROR
    } else {
        StatusCode::OK
    };
    r.hits.lock().unwrap().push(Hit {
        conversation: conversation.clone(),
        key: ev.dedupe_key(),
        retry: headers
            .get(RETRY_COUNT_HEADER)
            .unwrap()
            .to_str()
            .unwrap()
            .to_owned(),
        status: status.as_u16(),
        at,
    });
    r.busy.lock().unwrap().remove(&conversation);
    r.in_flight.fetch_sub(1, Ordering::SeqCst);
    status
}

/// A simulator whose webhooks go to a [`SlowReceiver`]; `cfg` is used as given (retry delays too).
async fn spawn_slow(cfg: SimConfig) -> (App, SlowReceiver) {
    let r = SlowReceiver::default();
    let hook = Router::new()
        .route("/hook", post(slow_receive))
        .with_state(r.clone());
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(l, hook).await.unwrap() });
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let sim = FreshchatSim::start(
        l,
        SimConfig {
            webhook_url: Some(format!("http://{addr}/hook")),
            ..cfg
        },
    )
    .await
    .unwrap();
    let client = client_for(sim.base_url().as_str(), sim.api_key());
    let app = App {
        sim,
        client,
        recv_base: String::new(),
        recv: Receiver::default(),
    };
    (app, r)
}

/// `n` users with one conversation each (opening message included), deliveries settled.
async fn conversations(app: &App, first_user: u32, n: u32) -> Vec<String> {
    let mut out = Vec::new();
    for i in first_user..first_user + n {
        let u = app.client.create_user(&zalo_user(i)).await.unwrap();
        out.push(open_conversation(app, &u, "xin chào").await.conversation_id);
    }
    assert!(app.sim.wait_deliveries_idle(Duration::from_secs(10)).await);
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_keep_each_conversation_in_order_under_a_slow_receiver() {
    let (app, r) = spawn_slow(SimConfig::default()).await;
    r.delay_ms.store(30, Ordering::SeqCst);
    let convs = conversations(&app, 100, 4).await;
    // Agents in all four conversations reply at once, five messages each.
    let agent = app.sim.default_agent_id();
    let mut tasks = Vec::new();
    for cid in convs.clone() {
        let (sim, agent) = (app.sim.clone(), agent.clone());
        tasks.push(tokio::spawn(async move {
            for i in 0..5 {
                sim.agent_sends(&cid, &agent, vec![parts::text(format!("r{i}"))])
                    .await
                    .unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert!(app.sim.wait_deliveries_idle(Duration::from_secs(10)).await);
    for cid in &convs {
        let want: Vec<String> = app.sim.messages(cid).iter().map(id_of).collect();
        assert_eq!(want.len(), 6);
        let got: Vec<String> = r.hits_of(cid).into_iter().map(|h| h.key).collect();
        assert_eq!(got, want, "conversation {cid}");
    }
    assert_eq!(
        r.overlaps.load(Ordering::SeqCst),
        0,
        "one request per conversation at a time"
    );
    assert!(
        r.max_in_flight.load(Ordering::SeqCst) > 1,
        "conversations in parallel"
    );
    assert_eq!(app.sim.deliveries().len(), 24);
    assert!(app
        .sim
        .deliveries()
        .iter()
        .all(|d| d.status == Some(200) && d.retry_count == 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_of_different_conversations_are_delivered_in_parallel() {
    let (app, r) = spawn_slow(SimConfig::default()).await;
    let convs = conversations(&app, 200, 10).await;
    r.reset();
    r.delay_ms.store(200, Ordering::SeqCst);
    let agent = app.sim.default_agent_id();
    let start = Instant::now();
    for cid in &convs {
        app.sim
            .agent_sends(cid, &agent, vec![parts::text("đang kiểm tra")])
            .await
            .unwrap();
    }
    assert!(app.sim.wait_deliveries_idle(Duration::from_secs(10)).await);
    let took = start.elapsed();
    assert_eq!(r.hits.lock().unwrap().len(), 10);
    // One after the other would take 10 x 200 ms.
    assert!(took < Duration::from_millis(1000), "took {took:?}");
    assert!(r.max_in_flight.load(Ordering::SeqCst) >= 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_deliveries_are_bounded() {
    let (app, r) = spawn_slow(SimConfig {
        max_parallel_deliveries: 3,
        ..SimConfig::default()
    })
    .await;
    let convs = conversations(&app, 300, 9).await;
    r.reset();
    r.delay_ms.store(100, Ordering::SeqCst);
    let agent = app.sim.default_agent_id();
    let start = Instant::now();
    for cid in &convs {
        app.sim
            .agent_sends(cid, &agent, vec![parts::text("x")])
            .await
            .unwrap();
    }
    assert!(app.sim.wait_deliveries_idle(Duration::from_secs(10)).await);
    let took = start.elapsed();
    assert_eq!(r.hits.lock().unwrap().len(), 9);
    assert!(r.max_in_flight.load(Ordering::SeqCst) <= 3);
    // Three waves of three.
    assert!(took >= Duration::from_millis(290), "took {took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_delivery_holds_back_only_its_own_conversation() {
    let (app, r) = spawn_slow(SimConfig {
        retry_delays: vec![Duration::from_millis(300); 3],
        ..SimConfig::default()
    })
    .await;
    let convs = conversations(&app, 400, 2).await;
    let (a, b) = (&convs[0], &convs[1]);
    r.reset();
    let agent = app.sim.default_agent_id();
    let send = |cid: &str, text: &str| {
        let (sim, agent, cid, text) = (
            app.sim.clone(),
            agent.clone(),
            cid.to_owned(),
            text.to_owned(),
        );
        async move {
            sim.agent_sends(&cid, &agent, vec![parts::text(text)])
                .await
                .unwrap()["id"]
                .as_str()
                .unwrap()
                .to_owned()
        }
    };

    // Refused twice, accepted on the second retry.
    r.fail.lock().unwrap().insert("retry-me".into(), 2);
    let m1 = send(a, "retry-me").await;
    let m2 = send(a, "a2").await;
    let m3 = send(a, "a3").await;
    let n1 = send(b, "b1").await;
    assert!(app.sim.wait_deliveries_idle(Duration::from_secs(10)).await);
    let ha = r.hits_of(a);
    let got: Vec<(&str, &str, u16)> = ha
        .iter()
        .map(|h| (h.key.as_str(), h.retry.as_str(), h.status))
        .collect();
    assert_eq!(
        got,
        [
            (m1.as_str(), "0", 500),
            (m1.as_str(), "1", 500),
            (m1.as_str(), "2", 200),
            (m2.as_str(), "0", 200),
            (m3.as_str(), "0", 200),
        ]
    );
    let hb = r.hits_of(b);
    assert_eq!(hb.len(), 1);
    assert_eq!(hb[0].key, n1);
    // The other conversation went ahead while the first one waited for its retry.
    assert!(hb[0].at < ha[1].at);

    // Retries exhausted: four attempts (X-Retry-Count 0..3), then the next event goes out.
    r.reset();
    r.fail.lock().unwrap().insert("never".into(), 10);
    let lost = send(a, "never").await;
    let after = send(a, "after").await;
    assert!(app.sim.wait_deliveries_idle(Duration::from_secs(10)).await);
    let got: Vec<(String, String, u16)> = r
        .hits_of(a)
        .into_iter()
        .map(|h| (h.key, h.retry, h.status))
        .collect();
    let mut want: Vec<(String, String, u16)> =
        (0..4).map(|i| (lost.clone(), i.to_string(), 500)).collect();
    want.push((after, "0".into(), 200));
    assert_eq!(got, want);
    let d: Vec<(u32, Option<u16>)> = app
        .sim
        .deliveries()
        .into_iter()
        .filter(|d| d.dedupe_key == lost)
        .map(|d| (d.retry_count, d.status))
        .collect();
    assert_eq!(
        d,
        [
            (0, Some(500)),
            (1, Some(500)),
            (2, Some(500)),
            (3, Some(500))
        ]
    );
    assert_eq!(r.overlaps.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn reorder_swaps_within_a_conversation_and_releases_a_lone_webhook() {
    let (app, r) = spawn_slow(SimConfig::default()).await;
    let convs = conversations(&app, 500, 2).await;
    let (a, b) = (&convs[0], &convs[1]);
    r.reset();
    app.sim.set_webhook_mode(WebhookMode::Reorder);
    let agent = app.sim.default_agent_id();
    let mut ids = Vec::new();
    for (cid, text) in [(a, "a1"), (b, "b1"), (a, "a2")] {
        let m = app
            .sim
            .agent_sends(cid, &agent, vec![parts::text(text)])
            .await
            .unwrap();
        ids.push(id_of(&m));
    }
    assert!(app.sim.wait_deliveries_idle(Duration::from_secs(5)).await);
    let keys = |cid: &str| -> Vec<String> { r.hits_of(cid).into_iter().map(|h| h.key).collect() };
    // a1 waited for a2; b1, alone in its conversation, went out after the hold.
    assert_eq!(keys(a), [ids[2].clone(), ids[0].clone()]);
    assert_eq!(keys(b), [ids[1].clone()]);
}
