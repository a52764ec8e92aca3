//! Webhook delivery: signed POSTs to the configured URL, retried on failure, in order per
//! conversation and in parallel across conversations.
//!
//! Every conversation has a lane: a FIFO of webhooks filled under the state lock as its events
//! happen, so a conversation's webhooks are queued in the order its events happened. A lane is
//! drained by one runner task at a time, which delivers a webhook (retries included) before taking
//! the next. Runners of different lanes run in parallel and share
//! [`SimConfig::max_parallel_deliveries`](super::SimConfig) permits for the HTTP requests (not for
//! the waits between retries). A body is signed once, by the first attempt, and the signature is
//! reused by retries and duplicates. At most [`WEBHOOK_QUEUE`](super::WEBHOOK_QUEUE) webhooks are
//! unfinished at once; calls that produce more wait for room before answering.
//!
//! A delivery fails when the receiver does not answer within the timeout or answers non-2xx; it is
//! retried after each of the configured delays and then dropped (the attempts stay in
//! [`DeliveryRecord`]s). Nothing is delivered without a webhook URL, and nothing after shutdown.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{KeyPair, KeySize};
use aws_lc_rs::signature::{KeyPair as _, RSA_PKCS1_SHA256};
use base64::Engine as _;
use bytes::Bytes;
use serde_json::Value;
use tokio::sync::{Notify, Semaphore};

use super::wire::{PAYLOAD_VERSION_HEADER, RETRY_COUNT_HEADER, SIGNATURE_HEADER};
use super::{DeliveryRecord, Inner, WebhookMode, PAYLOAD_VERSION, REORDER_HOLD};

/// How many delivery attempts [`Outbox`] remembers for inspection (the oldest are forgotten).
const MAX_RECORDS: usize = 200_000;

/// The webhook signing key: RSA-2048, RSASSA-PKCS1-v1_5 with SHA-256, base64 standard.
pub(crate) struct Signer {
    key: KeyPair,
    rng: SystemRandom,
    /// The public key as SPKI DER, base64.
    pub(crate) spki_b64: String,
}

impl Signer {
    pub(crate) fn generate() -> std::io::Result<Self> {
        let key = KeyPair::generate(KeySize::Rsa2048)
            .map_err(|e| std::io::Error::other(format!("cannot generate the RSA key: {e}")))?;
        let spki = key
            .public_key()
            .as_der()
            .map_err(|e| std::io::Error::other(format!("cannot encode the RSA key: {e}")))?;
        let spki_b64 = base64::engine::general_purpose::STANDARD.encode(spki.as_ref());
        Ok(Self {
            key,
            rng: SystemRandom::new(),
            spki_b64,
        })
    }

    /// Base64 of the signature over exactly these bytes.
    pub(crate) fn sign(&self, body: &[u8]) -> Option<String> {
        let mut sig = vec![0u8; self.key.public_modulus_len()];
        self.key
            .sign(&RSA_PKCS1_SHA256, &self.rng, body, &mut sig)
            .ok()?;
        Some(base64::engine::general_purpose::STANDARD.encode(&sig))
    }
}

/// A webhook body and its signature, computed once and shared by retries and duplicates.
struct Payload {
    body: Bytes,
    signature: OnceLock<Option<String>>,
}

#[derive(Clone)]
struct Job {
    action: &'static str,
    dedupe_key: String,
    conversation_id: Option<String>,
    payload: Arc<Payload>,
}

/// One conversation's webhooks, delivered one at a time by a single runner task.
#[derive(Default)]
struct Lane {
    /// Waiting, in delivery order.
    ready: VecDeque<Job>,
    /// Held back by Reorder until the lane's next webhook arrives, or until the deadline.
    held: Option<(Instant, Job)>,
    /// A runner task owns this lane.
    running: bool,
}

/// Webhooks waiting to go out, and the record of attempts. Lives inside the simulator state so
/// that events are queued under the same lock that orders them.
pub(crate) struct Outbox {
    lanes: HashMap<String, Lane>,
    /// Lanes given work that have no runner yet; the dispatcher starts them.
    to_start: Vec<String>,
    /// Lanes holding a webhook back (Reorder).
    holding: HashSet<String>,
    /// Webhooks not finished: queued, held, in flight or waiting for a retry.
    pub(crate) pending: usize,
    /// Set at shutdown: nothing more is queued.
    closed: bool,
    pub(crate) mode: WebhookMode,
    pub(crate) url: Option<String>,
    wake: Arc<Notify>,
    pub(crate) records: VecDeque<DeliveryRecord>,
}

impl Outbox {
    pub(crate) fn new(wake: Arc<Notify>, url: Option<String>) -> Self {
        Self {
            lanes: HashMap::new(),
            to_start: Vec::new(),
            holding: HashSet::new(),
            pending: 0,
            closed: false,
            mode: WebhookMode::Normal,
            url,
            wake,
            records: VecDeque::new(),
        }
    }

    /// Queues a webhook on its conversation's lane, applying the delivery mode.
    pub(crate) fn queue(
        &mut self,
        conversation_id: &str,
        action: &'static str,
        dedupe_key: String,
        body: &Value,
    ) {
        if self.closed {
            return;
        }
        let Ok(bytes) = serde_json::to_vec(body) else {
            return;
        };
        let job = Job {
            action,
            dedupe_key,
            conversation_id: Some(conversation_id.to_owned()).filter(|c| !c.is_empty()),
            payload: Arc::new(Payload {
                body: Bytes::from(bytes),
                signature: OnceLock::new(),
            }),
        };
        let copies = if self.mode == WebhookMode::Duplicate {
            2
        } else {
            1
        };
        self.pending += copies;
        let mut wake = false;
        let lane = self.lanes.entry(conversation_id.to_owned()).or_default();
        for _ in 0..copies {
            if let Some((_, held)) = lane.held.take() {
                self.holding.remove(conversation_id);
                lane.ready.push_back(job.clone());
                lane.ready.push_back(held);
            } else if self.mode == WebhookMode::Reorder {
                lane.held = Some((Instant::now() + REORDER_HOLD, job.clone()));
                self.holding.insert(conversation_id.to_owned());
                wake = true;
            } else {
                lane.ready.push_back(job.clone());
            }
        }
        if !lane.running && !lane.ready.is_empty() {
            lane.running = true;
            self.to_start.push(conversation_id.to_owned());
            wake = true;
        }
        if wake {
            self.wake.notify_one();
        }
    }

    fn record(&mut self, r: DeliveryRecord) {
        if self.records.len() >= MAX_RECORDS {
            self.records.pop_front();
        }
        self.records.push_back(r);
    }
}

/// The parts of the delivery machinery that live outside the state lock.
pub(crate) struct Runtime {
    /// Wakes the dispatcher: a lane needs a runner, or a Reorder hold started.
    pub(crate) wake: Arc<Notify>,
    /// Signalled whenever a webhook is finished (room in the queue).
    pub(crate) room: Notify,
    /// Webhook requests in flight.
    parallel: Semaphore,
    http: reqwest::Client,
}

impl Runtime {
    pub(crate) fn new(max_parallel: usize, timeout: std::time::Duration) -> std::io::Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent("Freshchat-Webhook (zfsync simulator)")
            .build()
            .map_err(std::io::Error::other)?;
        Ok(Self {
            wake: Arc::new(Notify::new()),
            room: Notify::new(),
            parallel: Semaphore::new(max_parallel.max(1)),
            http,
        })
    }
}

/// Starts lane runners, releases expired Reorder holds, and drops everything at shutdown.
pub(crate) async fn dispatcher(inner: Arc<Inner>) {
    loop {
        let (start, deadline) = {
            let mut st = inner.lock();
            let now = Instant::now();
            let mut deadline: Option<Instant> = None;
            let Outbox {
                lanes,
                to_start,
                holding,
                ..
            } = &mut st.outbox;
            holding.retain(|name| {
                let Some(l) = lanes.get_mut(name) else {
                    return false;
                };
                match l.held.take() {
                    Some((due, job)) if due <= now => {
                        l.ready.push_back(job);
                        if !l.running {
                            l.running = true;
                            to_start.push(name.clone());
                        }
                        false
                    }
                    Some((due, job)) => {
                        l.held = Some((due, job));
                        deadline = Some(deadline.map_or(due, |d| d.min(due)));
                        true
                    }
                    None => false,
                }
            });
            (std::mem::take(to_start), deadline)
        };
        for lane in start {
            tokio::spawn(run_lane(inner.clone(), lane));
        }
        let hold = async {
            match deadline {
                Some(d) => tokio::time::sleep_until(tokio::time::Instant::from_std(d)).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            () = inner.delivery.wake.notified() => {}
            () = hold => {}
            () = inner.shutdown.cancelled() => break,
        }
    }
    // Shutdown: nothing new is queued; drop what no runner owns (runners drop the rest).
    let mut st = inner.lock();
    let ob = &mut st.outbox;
    ob.closed = true;
    ob.holding.clear();
    for name in std::mem::take(&mut ob.to_start) {
        if let Some(l) = ob.lanes.get_mut(&name) {
            l.running = false;
        }
    }
    let mut dropped = 0;
    ob.lanes.retain(|_, l| {
        dropped += usize::from(l.held.take().is_some());
        if l.running {
            return true;
        }
        dropped += l.ready.len();
        false
    });
    ob.pending = ob.pending.saturating_sub(dropped);
    drop(st);
    inner.delivery.room.notify_waiters();
}

/// Delivers one lane's webhooks in order until the lane is empty.
async fn run_lane(inner: Arc<Inner>, lane: String) {
    loop {
        let job = {
            let mut st = inner.lock();
            let ob = &mut st.outbox;
            let Some(l) = ob.lanes.get_mut(&lane) else {
                return;
            };
            match l.ready.pop_front() {
                Some(job) => job,
                None => {
                    l.running = false;
                    if l.held.is_none() {
                        ob.lanes.remove(&lane);
                    }
                    return;
                }
            }
        };
        deliver(&inner, &job).await;
        {
            let mut st = inner.lock();
            st.outbox.pending = st.outbox.pending.saturating_sub(1);
        }
        inner.delivery.room.notify_waiters();
    }
}

/// Delivers one webhook: the first attempt, then one retry after each configured delay while it
/// fails. Gives up without a webhook URL or at shutdown.
async fn deliver(inner: &Inner, job: &Job) {
    let signature = job
        .payload
        .signature
        .get_or_init(|| inner.signer.sign(&job.payload.body));
    let Some(signature) = signature.clone() else {
        tracing::warn!("the Freshchat simulator could not sign a webhook");
        return;
    };
    let mut attempt: u32 = 0;
    loop {
        if inner.shutdown.is_cancelled() {
            return;
        }
        let url = inner.lock().outbox.url.clone();
        let Some(url) = url else { return };
        let status = {
            let Ok(_permit) = inner.delivery.parallel.acquire().await else {
                return;
            };
            let res = inner
                .delivery
                .http
                .post(&url)
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .header(SIGNATURE_HEADER, &signature)
                .header(PAYLOAD_VERSION_HEADER, PAYLOAD_VERSION)
                .header(RETRY_COUNT_HEADER, attempt.to_string())
                .body(job.payload.body.clone())
                .send()
                .await;
            match res {
                Ok(r) => {
                    let s = r.status().as_u16();
                    // Read the answer so the connection can be reused; its content does not matter.
                    let _ = r.bytes().await;
                    Some(s)
                }
                Err(_) => None,
            }
        };
        let ok = status.is_some_and(|s| (200..300).contains(&s));
        inner.lock().outbox.record(DeliveryRecord {
            action: job.action.to_owned(),
            dedupe_key: job.dedupe_key.clone(),
            conversation_id: job.conversation_id.clone(),
            status,
            retry_count: attempt,
        });
        if ok {
            return;
        }
        let Some(delay) = inner.cfg.retry_delays.get(attempt as usize).copied() else {
            return;
        };
        tokio::select! {
            () = tokio::time::sleep(delay) => {}
            () = inner.shutdown.cancelled() => return,
        }
        attempt += 1;
    }
}
