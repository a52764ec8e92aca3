//! Signed webhook delivery: one JSON event per POST with `X-ZEvent-Signature: mac=<sha256 hex>`,
//! `X-ZEvent-Server: OA OpenAPI`, `User-Agent: ZaloWebhook`; a receiver must answer 200 within 2 s.
//! Anything else is retried (when enabled) at +30 s, +5 min, +15 min, +30 min, +1 h divided by
//! `time_scale`, same body, with header `num_retry`; after the ladder the webhook is disabled (when
//! configured), as Zalo does.
//!
//! Queues are bounded: at most [`QUEUE_CAPACITY`] fresh events wait for their first attempt (senders
//! wait beyond that); retries wait on timers. Each user's events go one at a time in order, different
//! users in parallel (up to [`DELIVERY_CONCURRENCY`] requests in flight). Failures never surface to
//! the caller: they are recorded in [`DeliveryRecord`]s.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::header;
use bytes::Bytes;
use tokio::sync::{mpsc, OwnedSemaphorePermit, Semaphore};

use super::config::{DeliveryRecord, WebhookMode};
use super::events::Event;
use super::wire;
use super::{lock, ZaloSim};

/// Fresh events that may wait for their first attempt before senders wait.
pub const QUEUE_CAPACITY: usize = 1024;
/// Deliveries in flight at once.
pub const DELIVERY_CONCURRENCY: usize = 64;
/// How long [`WebhookMode::Reorder`] holds events before releasing them in reverse.
pub const REORDER_HOLD: Duration = Duration::from_millis(250);

/// One signed body on its way.
#[derive(Debug, Clone)]
struct Job {
    body: Bytes,
    signature: String,
    event_name: String,
    msg_id: Option<String>,
    lane: String,
    num_retry: u32,
}

/// A job in the queue, holding its admission permit until its first attempt is over.
#[derive(Debug)]
struct Queued {
    job: Job,
    permit: Option<OwnedSemaphorePermit>,
}

#[derive(Debug, Default)]
struct EngineState {
    mode: WebhookMode,
    held: Vec<Job>,
    deliveries: Vec<DeliveryRecord>,
    disabled: bool,
}

/// The delivery machinery shared by all handles of one simulator.
#[derive(Debug)]
pub(crate) struct Engine {
    tx: mpsc::Sender<Queued>,
    rx: Mutex<Option<mpsc::Receiver<Queued>>>,
    /// Jobs alive: queued, held, in flight or waiting for a retry.
    pending: AtomicUsize,
    admission: Arc<Semaphore>,
    /// Per-lane jobs waiting behind the one in flight; a key present = the lane is running.
    lanes: Mutex<HashMap<String, VecDeque<Queued>>>,
    st: Mutex<EngineState>,
    http: reqwest::Client,
}

impl Engine {
    pub fn new() -> std::io::Result<Engine> {
        let http = reqwest::Client::builder()
            .timeout(wire::WEBHOOK_TIMEOUT)
            .user_agent(wire::WEBHOOK_AGENT)
            .pool_max_idle_per_host(DELIVERY_CONCURRENCY)
            .build()
            .map_err(std::io::Error::other)?;
        let (tx, rx) = mpsc::channel(QUEUE_CAPACITY);
        Ok(Engine {
            tx,
            rx: Mutex::new(Some(rx)),
            pending: AtomicUsize::new(0),
            admission: Arc::new(Semaphore::new(QUEUE_CAPACITY)),
            lanes: Mutex::new(HashMap::new()),
            st: Mutex::new(EngineState::default()),
            http,
        })
    }
}

impl ZaloSim {
    fn engine(&self) -> &Engine {
        &self.core.hooks
    }

    /// Signs and queues an event; waits only when the queue is full.
    pub(crate) async fn emit(&self, ev: Event) {
        let (app_id, secret) = {
            let c = lock(&self.core.cfg);
            (c.app_id.clone(), c.oa_secret_key.clone())
        };
        let Ok(body) = serde_json::to_vec(&ev.body) else {
            return;
        };
        let ts = ev
            .body
            .get("timestamp")
            .and_then(|t| t.as_str())
            .unwrap_or_default();
        let job = Job {
            signature: wire::sign(&app_id, &body, ts, &secret),
            body: Bytes::from(body),
            event_name: ev.event_name,
            msg_id: ev.msg_id,
            lane: ev.lane,
            num_retry: 0,
        };
        let mode = lock(&self.engine().st).mode;
        match mode {
            WebhookMode::Normal => self.admit(job).await,
            WebhookMode::Duplicate => {
                self.admit(job.clone()).await;
                self.admit(job).await;
            }
            WebhookMode::Reorder => {
                self.engine().pending.fetch_add(1, Ordering::SeqCst);
                let first = {
                    let mut st = lock(&self.engine().st);
                    st.held.push(job);
                    st.held.len() == 1
                };
                if first {
                    let sim = self.clone();
                    tokio::spawn(async move {
                        tokio::select! {
                            () = sim.core.cancel.cancelled() => {}
                            () = tokio::time::sleep(REORDER_HOLD) => sim.release_held().await,
                        }
                    });
                }
            }
        }
    }

    /// Queues a fresh job (counted as pending) once the queue has room.
    async fn admit(&self, job: Job) {
        self.engine().pending.fetch_add(1, Ordering::SeqCst);
        self.enqueue(job).await;
    }

    /// Queues an already counted job behind an admission permit.
    async fn enqueue(&self, job: Job) {
        let permit = tokio::select! {
            () = self.core.cancel.cancelled() => None,
            p = self.engine().admission.clone().acquire_owned() => p.ok(),
        };
        if permit.is_none() || self.engine().tx.send(Queued { job, permit }).await.is_err() {
            self.engine().pending.fetch_sub(1, Ordering::SeqCst);
        }
    }

    pub(crate) async fn release_held(&self) {
        let held = std::mem::take(&mut lock(&self.engine().st).held);
        for job in held.into_iter().rev() {
            self.enqueue(job).await;
        }
    }

    /// Changes the mode; leaving [`WebhookMode::Reorder`] releases what is held (reversed).
    pub(crate) fn change_mode(&self, mode: WebhookMode) {
        let release = {
            let mut st = lock(&self.engine().st);
            st.mode = mode;
            mode != WebhookMode::Reorder && !st.held.is_empty()
        };
        if release {
            if let Ok(rt) = tokio::runtime::Handle::try_current() {
                let sim = self.clone();
                rt.spawn(async move { sim.release_held().await });
            }
        }
    }

    pub(crate) fn delivery_log(&self) -> Vec<DeliveryRecord> {
        lock(&self.engine().st).deliveries.clone()
    }

    pub(crate) fn hooks_disabled(&self) -> bool {
        lock(&self.engine().st).disabled
    }

    pub(crate) fn enable_hooks(&self) {
        lock(&self.engine().st).disabled = false;
    }

    pub(crate) fn hooks_pending(&self) -> usize {
        self.engine().pending.load(Ordering::SeqCst)
    }

    /// Moves queued jobs into their lanes and starts lanes; runs until shutdown.
    pub(crate) async fn delivery_worker(self) {
        let Some(mut rx) = lock(&self.engine().rx).take() else {
            return;
        };
        let in_flight = Arc::new(Semaphore::new(DELIVERY_CONCURRENCY));
        loop {
            let q = tokio::select! {
                () = self.core.cancel.cancelled() => break,
                q = rx.recv() => match q { Some(q) => q, None => break },
            };
            let start = {
                let mut lanes = lock(&self.engine().lanes);
                match lanes.get_mut(&q.job.lane) {
                    Some(waiting) => {
                        waiting.push_back(q);
                        None
                    }
                    None => {
                        lanes.insert(q.job.lane.clone(), VecDeque::new());
                        Some(q)
                    }
                }
            };
            if let Some(q) = start {
                tokio::spawn(self.clone().run_lane(q, in_flight.clone()));
            }
        }
    }

    /// Delivers one lane's jobs in order until its queue is empty.
    async fn run_lane(self, first: Queued, in_flight: Arc<Semaphore>) {
        let lane = first.job.lane.clone();
        let mut next = Some(first);
        while let Some(q) = next {
            {
                let Ok(_slot) = in_flight.acquire().await else {
                    return;
                };
                self.deliver(q.job).await;
                drop(q.permit);
            }
            next = {
                let mut lanes = lock(&self.engine().lanes);
                match lanes.get_mut(&lane).and_then(VecDeque::pop_front) {
                    Some(q) => Some(q),
                    None => {
                        lanes.remove(&lane);
                        None
                    }
                }
            };
        }
    }

    async fn deliver(&self, job: Job) {
        let (url, retry, scale, disable_after) = {
            let c = lock(&self.core.cfg);
            (
                c.webhook_url.clone(),
                c.webhook_retry,
                c.time_scale,
                c.disable_webhook_after_ladder,
            )
        };
        let url = url.filter(|_| !self.hooks_disabled());
        let Some(url) = url else {
            // No receiver (none configured, or Zalo disabled it): the event is dropped.
            self.engine().pending.fetch_sub(1, Ordering::SeqCst);
            return;
        };
        let mut req = self
            .engine()
            .http
            .post(&url)
            .header(header::CONTENT_TYPE, "application/json")
            .header(wire::H_SIGNATURE, &job.signature)
            .header(wire::H_SERVER, wire::SERVER_OA)
            .body(job.body.clone());
        if job.num_retry > 0 {
            req = req.header(wire::H_NUM_RETRY, job.num_retry.to_string());
        }
        let status = match req.send().await {
            Ok(resp) => {
                let s = resp.status().as_u16();
                // Drain so the connection can be reused; the body does not matter.
                let _ = tokio::time::timeout(wire::WEBHOOK_TIMEOUT, resp.bytes()).await;
                Some(s)
            }
            Err(e) => {
                tracing::debug!(error = %e, event = %job.event_name, "simulated webhook delivery failed");
                None
            }
        };
        lock(&self.engine().st).deliveries.push(DeliveryRecord {
            event_name: job.event_name.clone(),
            msg_id: job.msg_id.clone(),
            status,
            num_retry: job.num_retry,
        });
        let idx = job.num_retry as usize;
        if status == Some(200) || !retry {
            self.engine().pending.fetch_sub(1, Ordering::SeqCst);
            return;
        }
        let Some(step) = wire::RETRY_LADDER.get(idx) else {
            if disable_after {
                lock(&self.engine().st).disabled = true;
                tracing::debug!(event = %job.event_name, "simulated Zalo disabled the webhook after its retry ladder");
            }
            self.engine().pending.fetch_sub(1, Ordering::SeqCst);
            return;
        };
        let scale = if scale.is_finite() && scale > 0.0 {
            scale
        } else {
            1.0
        };
        let delay = step.div_f64(scale);
        let sim = self.clone();
        let mut again = job;
        again.num_retry += 1;
        tokio::spawn(async move {
            tokio::select! {
                () = sim.core.cancel.cancelled() => {}
                () = tokio::time::sleep(delay) => sim.enqueue(again).await,
            }
        });
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::wire;

    /// The zgo vectors (verified against sha256(app_id + body + timestamp + secret)).
    #[test]
    fn signature_matches_the_corpus_vectors() {
        let Some(dir) = crate::prerequisites::realworld(env!("CARGO_MANIFEST_DIR")) else {
            return;
        };
        let raw = std::fs::read(dir.join("zalo-signature-vectors-zgo.json")).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&raw).unwrap();
        let vectors = v["body"]["vectors"].as_array().unwrap();
        assert_eq!(vectors.len(), 2);
        for t in vectors {
            let s = |k: &str| t[k].as_str().unwrap();
            assert_eq!(
                wire::sign(
                    s("app_id"),
                    s("raw_body").as_bytes(),
                    s("timestamp"),
                    s("oa_secret_key")
                ),
                s("header_value")
            );
        }
    }
}
