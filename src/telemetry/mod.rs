//! Logging: human-readable by default, JSON with `--log-format json`; filtered by `RUST_LOG`
//! (default `info`). Secrets never reach a log line: they are `SecretString`s everywhere.
//!
//! [`events`] holds every occurrence the daemon logs and counts together, with the metric names.

pub(crate) mod events;

use tracing_subscriber::EnvFilter;

use events::{InternalEvent, UpstreamCall};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
/// How log lines are written.
pub enum LogFormat {
    /// One human-readable line per event.
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

/// Installs the global subscriber (a second call is a no-op).
pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}

/// Records every Zalo call the client makes as `zfsync_upstream_call_seconds{platform="zalo", op,
/// outcome}`.
#[derive(Debug, Default)]
pub struct ZaloCalls;

impl zfsync_zalo::client::CallObserver for ZaloCalls {
    fn observe(
        &self,
        op: zfsync_zalo::client::Op,
        outcome: zfsync_zalo::client::CallOutcome,
        elapsed: std::time::Duration,
    ) {
        UpstreamCall {
            platform: "zalo",
            op: op.as_str(),
            outcome: outcome.as_str(),
            elapsed,
        }
        .emit();
    }
}

/// Records every Freshchat call the client makes as `zfsync_upstream_call_seconds{platform=
/// "freshchat", op, outcome}`.
#[derive(Debug, Default)]
pub struct FreshchatCalls;

impl zfsync_freshchat::client::CallObserver for FreshchatCalls {
    fn observe(
        &self,
        op: zfsync_freshchat::client::Op,
        outcome: zfsync_freshchat::client::CallOutcome,
        elapsed: std::time::Duration,
    ) {
        UpstreamCall {
            platform: "freshchat",
            op: op.as_str(),
            outcome: outcome.as_str(),
            elapsed,
        }
        .emit();
    }
}
