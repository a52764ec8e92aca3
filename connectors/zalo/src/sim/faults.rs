//! Injected failures: per-path queues filled by [`ZaloSim::fail_next`], standing faults that hold
//! until cleared ([`ZaloSim::fail_until_cleared`]), a seeded random share of
//! OpenAPI calls ([`RandomFaults`]), latency, requests that hang, and connections that close without
//! an answer (before or after Zalo did the work).
//!
//! A closed connection is produced by answering with a body whose first chunk is an error: the server
//! then drops the connection without sending the (still buffered) head, so the caller sees a
//! connection closed before any response.

use std::time::Duration;

use axum::body::Body;
use axum::response::Response;
use bytes::Bytes;

use super::config::{Fault, RandomFaults};
use super::{lock, ZaloSim};

/// A response that never reaches the caller: the connection closes first.
pub(crate) fn disconnect() -> Response {
    let stream = futures::stream::once(async {
        Err::<Bytes, std::io::Error>(std::io::Error::new(
            std::io::ErrorKind::ConnectionAborted,
            "simulated connection drop",
        ))
    });
    Response::new(Body::from_stream(stream))
}

impl ZaloSim {
    /// The fault for this call of `path`: the next queued one, else (when `random` applies) a draw.
    pub(crate) fn next_fault(&self, path: &str, random: bool) -> Option<Fault> {
        let mut st = self.st();
        if let Some(f) = st
            .faults
            .get_mut(path)
            .and_then(std::collections::VecDeque::pop_front)
        {
            return Some(f);
        }
        if let Some(f) = st.standing_faults.get(path) {
            return Some(f.clone());
        }
        if !random {
            return None;
        }
        let (cfg, rng) = st.random.as_mut()?;
        if cfg.rate <= 0.0 || rng.f64() >= cfg.rate {
            return None;
        }
        if cfg.kinds.is_empty() {
            cfg.kinds = RandomFaults::default_kinds();
        }
        let i = rng.usize(..cfg.kinds.len());
        cfg.kinds.get(i).cloned()
    }

    /// Holds a request for [`super::SimConfig::hang`] (or until shutdown), then closes the
    /// connection unanswered.
    pub(crate) async fn hang(&self) -> Response {
        let d = lock(&self.core.cfg).hang;
        tokio::select! {
            () = self.core.cancel.cancelled() => {}
            () = tokio::time::sleep(d) => {}
        }
        disconnect()
    }

    /// Waits the configured latency.
    pub(crate) async fn latency(&self) {
        let l = self.st().latency;
        if !l.is_zero() {
            tokio::select! {
                () = self.core.cancel.cancelled() => {}
                () = tokio::time::sleep(l) => {}
            }
        }
    }

    pub(crate) fn queue_faults(&self, path: &str, n: u32, fault: Fault) {
        let mut st = self.st();
        let q = st.faults.entry(path.to_owned()).or_default();
        for _ in 0..n {
            q.push_back(fault.clone());
        }
    }

    pub(crate) fn standing_fault(&self, path: &str, fault: Option<Fault>) {
        let mut st = self.st();
        match fault {
            Some(f) => {
                st.standing_faults.insert(path.to_owned(), f);
            }
            None => {
                st.standing_faults.remove(path);
                st.faults.remove(path);
            }
        }
    }

    pub(crate) fn random_faults(&self, r: Option<RandomFaults>) {
        self.st().random = r.filter(|r| r.rate > 0.0).map(|r| {
            let rng = fastrand::Rng::with_seed(r.seed);
            (r, rng)
        });
    }

    pub(crate) fn latency_set(&self, d: Duration) {
        self.st().latency = d;
    }
}
