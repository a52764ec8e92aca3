//! Several daemons (replicas) behind one address, as a load balancer puts them in production: the
//! simulators deliver their webhooks to [`Spreader::url`] and each request goes on to the replicas
//! as its [`Spread`] says, with the platform's headers and body unchanged (the signatures hold).
//!
//! Round-robin passes a request to the next replica when the one in turn refuses the connection
//! (it is down), as a load balancer that health-checks its backends does; a request that reached
//! a replica and got no answer (the replica died under it, or took longer than
//! [`FORWARD_TIMEOUT`]) is answered 502, and the platform delivers it again. That is nginx's
//! default for a POST (`proxy_next_upstream error timeout`, never for a request already sent).
//!
//! Failure: an address that cannot be bound is an error at start; a body that cannot be read is
//! answered 400.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::StatusCode;

/// How long a replica may take to answer a forwarded webhook (both platforms give up sooner).
pub const FORWARD_TIMEOUT: Duration = Duration::from_secs(10);

/// The largest body passed on (the platforms' webhooks are a few kB).
const MAX_BODY: usize = 4 << 20;

/// How requests are handed to the replicas.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Spread {
    /// Every request to every replica at once; 200 as soon as any stored it, else the first
    /// replica's answer. Each replica sees every webhook: the store's deduplication decides.
    All,
    /// Each request to the next replica in turn; one that refuses the connection is passed over
    /// for the next. Each replica sees a share of the webhooks, and a conversation's webhooks
    /// alternate between them.
    RoundRobin,
}

/// What the spreader did, counted.
#[derive(Debug, Default)]
pub struct SpreadCounts {
    /// Requests answered by each replica (round-robin), by position.
    pub answered: Mutex<Vec<u64>>,
    /// Connections a replica refused (it was down): the request went to the next one.
    pub refused: AtomicU64,
    /// Requests answered 502: no replica took the connection, or the one that did gave no answer.
    pub bad_gateway: AtomicU64,
}

/// A running spreader; stopped when dropped.
#[derive(Debug)]
pub struct Spreader {
    /// Where the platforms deliver (`http://127.0.0.1:<port>`).
    pub url: String,
    targets: Arc<Mutex<Vec<String>>>,
    counts: Arc<SpreadCounts>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Spreader {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[derive(Clone)]
struct Shared {
    client: reqwest::Client,
    targets: Arc<Mutex<Vec<String>>>,
    counts: Arc<SpreadCounts>,
    spread: Spread,
    next: Arc<AtomicUsize>,
}

impl Spreader {
    /// Listens on a free loopback port and hands requests to `targets` (base URLs) by `spread`.
    pub async fn start(targets: Vec<String>, spread: Spread) -> anyhow::Result<Spreader> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}", listener.local_addr()?);
        let counts = Arc::new(SpreadCounts {
            answered: Mutex::new(vec![0; targets.len()]),
            ..SpreadCounts::default()
        });
        let targets = Arc::new(Mutex::new(targets));
        let shared = Shared {
            client: reqwest::Client::builder()
                .timeout(FORWARD_TIMEOUT)
                .build()?,
            targets: targets.clone(),
            counts: counts.clone(),
            spread,
            next: Arc::new(AtomicUsize::new(0)),
        };
        let app = axum::Router::new().fallback(move |req: axum::extract::Request| {
            let shared = shared.clone();
            async move { shared.forward(req).await }
        });
        let task = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::error!(error = %e, "the webhook spreader stopped");
            }
        });
        Ok(Spreader {
            url,
            targets,
            counts,
            task,
        })
    }

    /// Hands requests to these replicas from now on.
    pub fn send_to(&self, targets: Vec<String>) {
        lock(&self.counts.answered).resize(targets.len(), 0);
        *lock(&self.targets) = targets;
    }

    /// What it did so far.
    pub fn counts(&self) -> &SpreadCounts {
        &self.counts
    }
}

impl Shared {
    async fn forward(&self, req: axum::extract::Request) -> StatusCode {
        let (parts, body) = req.into_parts();
        let Ok(body) = axum::body::to_bytes(body, MAX_BODY).await else {
            return StatusCode::BAD_REQUEST;
        };
        let path = parts
            .uri
            .path_and_query()
            .map_or_else(|| "/".to_string(), ToString::to_string);
        let mut headers = parts.headers;
        headers.remove(axum::http::header::HOST);
        headers.remove(axum::http::header::CONTENT_LENGTH);
        let targets = lock(&self.targets).clone();
        let send = |base: &String| {
            self.client
                .post(format!("{base}{path}"))
                .headers(headers.clone())
                .body(body.clone())
                .send()
        };
        match self.spread {
            Spread::All => {
                let answers = futures::future::join_all(targets.iter().map(send)).await;
                let statuses: Vec<u16> = answers
                    .into_iter()
                    .map(|a| a.map_or(502, |r| r.status().as_u16()))
                    .collect();
                let status = statuses
                    .iter()
                    .copied()
                    .find(|s| (200..300).contains(s))
                    .or(statuses.first().copied())
                    .unwrap_or(502);
                StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY)
            }
            Spread::RoundRobin => {
                let first = self.next.fetch_add(1, Ordering::Relaxed);
                for k in 0..targets.len() {
                    let i = (first + k) % targets.len();
                    match send(&targets[i]).await {
                        Ok(r) => {
                            if let Some(n) = lock(&self.counts.answered).get_mut(i) {
                                *n += 1;
                            }
                            return r.status();
                        }
                        Err(e) if e.is_connect() => {
                            self.counts.refused.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(_) => break,
                    }
                }
                self.counts.bad_gateway.fetch_add(1, Ordering::Relaxed);
                StatusCode::BAD_GATEWAY
            }
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}
