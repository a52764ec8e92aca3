//! What the flow modes' senders, watcher and checker share: the run's plan per user, each
//! message's send and arrival times, and which messages carry an image or are sent twice.

use std::sync::atomic::AtomicU64;
use std::sync::Mutex;
use std::time::Duration;

use super::signer::ZaloSigner;
use super::Options;
use crate::tools::sandbox::Env;

/// One user's planned sends in one direction: (scheduled offset, index).
pub(super) type Plan = Vec<(Option<Duration>, usize)>;
/// Per message: when it was sent and when it became visible (epoch ms).
#[derive(Debug, Default)]
pub(super) struct Track {
    pub(super) sent: Vec<Option<f64>>,
    pub(super) seen: Vec<Option<f64>>,
}

impl Track {
    pub(super) fn new(n: usize) -> Track {
        Track {
            sent: vec![None; n],
            seen: vec![None; n],
        }
    }
    pub(super) fn seen_count(&self) -> usize {
        self.seen.iter().filter(|s| s.is_some()).count()
    }
    pub(super) fn latencies(&self) -> Vec<f64> {
        self.sent
            .iter()
            .zip(&self.seen)
            .filter_map(|(s, v)| Some((v.as_ref()? - s.as_ref()?).max(0.0)))
            .collect()
    }
}

pub(super) struct Shared {
    pub(super) env: Env,
    pub(super) http: reqwest::Client,
    pub(super) signer: ZaloSigner,
    pub(super) agent: String,
    pub(super) fc_image: String,
    pub(super) convs: Vec<String>,
    pub(super) z: Vec<Mutex<Track>>,
    pub(super) f: Vec<Mutex<Track>>,
    pub(super) acks: Mutex<Vec<f64>>,
    pub(super) dups: AtomicU64,
    pub(super) dup_misses: AtomicU64,
    pub(super) opts: Options,
}

pub(super) fn is_image(opts: &Options, i: usize) -> bool {
    opts.attachment_every > 0 && i % opts.attachment_every == opts.attachment_every / 2
}

pub(super) fn is_dup(opts: &Options, i: usize) -> bool {
    opts.duplicate_every > 0 && i % opts.duplicate_every == opts.duplicate_every - 1
}
