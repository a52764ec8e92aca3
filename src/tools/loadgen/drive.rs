//! Sending: one signed POST ([`super::signer`] signs Zalo events), the flow modes' senders (one
//! task per user and direction, each user's messages in order), and the ingest mode's closed-loop
//! load (N keep-alive HTTP/1.1 connections, each sending pre-signed bodies back to back, as
//! `wrk -c N` does). Sending fails with the URL and the answer when the daemon refuses a message
//! the flow modes must get through; the closed loop counts failures instead of stopping.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use zfsync_freshchat::MessagePart;

use super::shared::{is_dup, is_image, Plan, Shared};
use super::{epoch_ms, lock, user_id};

/// One POST; returns the acknowledgement latency in ms and whether the answer said "duplicate".
pub async fn post(
    http: &reqwest::Client,
    url: &str,
    body: Bytes,
    sig: &str,
) -> anyhow::Result<(f64, bool)> {
    let t = Instant::now();
    let resp = http
        .post(url)
        .header(http::header::CONTENT_TYPE, "application/json")
        .header(zfsync_zalo::SIGNATURE_HEADER, sig)
        .body(body)
        .send()
        .await
        .with_context(|| format!("POST {url}"))?;
    let status = resp.status();
    let text = resp.bytes().await.unwrap_or_default();
    let ms = t.elapsed().as_secs_f64() * 1000.0;
    if !status.is_success() {
        bail!(
            "{url} answered {status}: {}",
            String::from_utf8_lossy(&text)
        );
    }
    Ok((ms, text.windows(9).any(|w| w == b"duplicate")))
}

/// A flow mode's customer: posts one user's Zalo messages in order, some of them twice.
pub(super) async fn zalo_sender(
    s: Arc<Shared>,
    u: usize,
    plan: Plan,
    t0: Instant,
) -> anyhow::Result<()> {
    let url = format!(
        "{}{}",
        s.env.daemon_url(),
        crate::routes::ROUTE_ZALO_WEBHOOK
    );
    let user = user_id(u);
    for (at, i) in plan {
        if let Some(at) = at {
            tokio::time::sleep_until((t0 + at).into()).await;
        }
        let image = is_image(&s.opts, i);
        let (body, sig) =
            s.signer
                .event(&user, &format!("lg{u}z{i}"), &format!("lg {u} z{i}"), image);
        lock(&s.z[u]).sent[i] = Some(epoch_ms());
        let (ms, dup) = post(&s.http, &url, body.clone(), &sig).await?;
        lock(&s.acks).push(ms);
        if dup {
            bail!("the first delivery of lg {u} z{i} was answered as a duplicate");
        }
        if is_dup(&s.opts, i) {
            let (ms, dup) = post(&s.http, &url, body, &sig).await?;
            lock(&s.acks).push(ms);
            s.dups.fetch_add(1, Ordering::Relaxed);
            if !dup {
                s.dup_misses.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
    Ok(())
}

/// A flow mode's agent: replies in one user's conversation in order, through the simulator.
pub(super) async fn freshchat_sender(
    s: Arc<Shared>,
    u: usize,
    plan: Plan,
    t0: Instant,
) -> anyhow::Result<()> {
    for (at, i) in plan {
        if let Some(at) = at {
            tokio::time::sleep_until((t0 + at).into()).await;
        }
        let mut parts = vec![MessagePart::Text {
            content: format!("lg {u} f{i}"),
        }];
        if is_image(&s.opts, i) {
            parts.push(MessagePart::Image {
                url: s.fc_image.clone(),
            });
        }
        lock(&s.f[u]).sent[i] = Some(epoch_ms());
        s.env
            .agent_says(&s.convs[u], &s.agent, &parts)
            .await
            .map_err(|e| anyhow::anyhow!("agent reply lg {u} f{i}: {e}"))?;
    }
    Ok(())
}

/// A pre-signed webhook: body and `X-ZEvent-Signature`.
#[derive(Debug, Clone)]
pub struct Signed {
    /// The exact bytes that were signed.
    pub body: Bytes,
    /// The signature header's value.
    pub signature: String,
}

/// What a closed-loop load did.
#[derive(Debug, Default)]
pub struct LoadResult {
    /// Indices of the bodies answered 200, with their latency in ms.
    pub acked: Vec<(usize, f64)>,
    /// Requests that failed: connection errors and statuses other than 200.
    pub failed: usize,
    /// From the first request to the last answer.
    pub elapsed: Duration,
    /// Every body was sent before the time ran out.
    pub exhausted: bool,
}

/// Sends `bodies` (each at most once, in index order across connections) to `http://addr{path}`
/// over `connections` keep-alive connections, each one request at a time, until `duration` has
/// passed or the bodies run out. Requests in flight when the time ends are answered and counted.
pub async fn closed_loop(
    addr: SocketAddr,
    path: &str,
    bodies: Arc<Vec<Signed>>,
    connections: usize,
    duration: Duration,
) -> anyhow::Result<LoadResult> {
    let next = Arc::new(AtomicUsize::new(0));
    let t0 = Instant::now();
    let deadline = t0 + duration;
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..connections.max(1) {
        let (next, bodies, path) = (next.clone(), bodies.clone(), path.to_string());
        set.spawn(async move { connection(addr, &path, &bodies, &next, deadline).await });
    }
    let mut out = LoadResult::default();
    while let Some(r) = set.join_next().await {
        let (acked, failed) = r.context("a load connection panicked")??;
        out.acked.extend(acked);
        out.failed += failed;
    }
    out.elapsed = t0.elapsed();
    out.exhausted = next.load(Ordering::Relaxed) >= bodies.len();
    Ok(out)
}

type Sender = hyper::client::conn::http1::SendRequest<Full<Bytes>>;

async fn connect(addr: SocketAddr) -> anyhow::Result<Sender> {
    let stream = tokio::net::TcpStream::connect(addr)
        .await
        .with_context(|| format!("cannot connect to {addr}"))?;
    stream.set_nodelay(true)?;
    let (sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .context("HTTP/1.1 handshake")?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(sender)
}

/// One connection of the closed loop: returns the acknowledged (index, ms) and the failures.
async fn connection(
    addr: SocketAddr,
    path: &str,
    bodies: &[Signed],
    next: &AtomicUsize,
    deadline: Instant,
) -> anyhow::Result<(Vec<(usize, f64)>, usize)> {
    let host = addr.to_string();
    let mut acked = Vec::new();
    let mut failed = 0;
    let mut sender = connect(addr).await?;
    while Instant::now() < deadline {
        let i = next.fetch_add(1, Ordering::Relaxed);
        let Some(b) = bodies.get(i) else { break };
        if sender.ready().await.is_err() {
            sender = connect(addr).await?;
        }
        let req = http::Request::post(path)
            .header(http::header::HOST, &host)
            .header(http::header::CONTENT_TYPE, "application/json")
            .header(zfsync_zalo::SIGNATURE_HEADER, &b.signature)
            .body(Full::new(b.body.clone()))
            .context("building a request")?;
        let t = Instant::now();
        let ok = match sender.send_request(req).await {
            Ok(resp) => {
                let status = resp.status();
                let body = resp.into_body().collect().await;
                status == http::StatusCode::OK && body.is_ok()
            }
            Err(_) => false,
        };
        let ms = t.elapsed().as_secs_f64() * 1000.0;
        if ok {
            acked.push((i, ms));
        } else {
            failed += 1;
            if sender.is_closed() {
                sender = connect(addr).await?;
            }
        }
    }
    Ok((acked, failed))
}
