//! Logging: human-readable by default, JSON with `--log-format json`; filtered by `RUST_LOG`
//! (default [`DEFAULT_FILTER`]). Secrets never reach a log line: they are `SecretString`s everywhere.
//!
//! [`events`] holds every occurrence the daemon logs and counts together, with the metric names.

pub(crate) mod events;

use std::future::Future;
use std::sync::Arc;

use tracing_subscriber::EnvFilter;

use events::{InternalEvent, UpstreamCall};

tokio::task_local! {
    /// The pairing whose work the current task does (see [`in_pairing`]).
    static PAIRING: Arc<str>;
}

/// Runs `work` as work of the pairing `name`: the metrics its events record carry
/// `pairing="<name>"` (a label bounded by the number of pairings). Work outside any pairing
/// (the store's commits, the console's sign-ins, a webhook for no known pairing) records
/// `pairing=""`, which Prometheus reads as no label.
pub fn in_pairing<F: Future>(name: &str, work: F) -> impl Future<Output = F::Output> {
    PAIRING.scope(Arc::from(name), work)
}

/// Runs `f` as work of the pairing `name`, outside any task (the events' tests).
#[cfg(test)]
pub(crate) fn in_pairing_sync<R>(name: &str, f: impl FnOnce() -> R) -> R {
    PAIRING.sync_scope(Arc::from(name), f)
}

/// The pairing of the current task (empty outside any pairing).
pub fn current_pairing() -> Arc<str> {
    PAIRING
        .try_with(Arc::clone)
        .unwrap_or_else(|_| Arc::from(""))
}

/// `work` run as work of `pairing` (from [`current_pairing`]).
pub fn within<F: Future>(pairing: Arc<str>, work: F) -> impl Future<Output = F::Output> {
    PAIRING.scope(pairing, work)
}

/// `work` run in the pairing of the task that calls this (for a task it spawns).
pub fn carry_pairing<F: Future>(work: F) -> impl Future<Output = F::Output> {
    within(current_pairing(), work)
}

/// The `pairing` label of a metric recorded now.
pub(crate) fn pairing_label() -> metrics::SharedString {
    PAIRING
        .try_with(|p| metrics::SharedString::from(String::from(&**p)))
        .unwrap_or_else(|_| metrics::SharedString::const_str(""))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
/// How log lines are written.
pub enum LogFormat {
    /// One human-readable line per event.
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

impl LogFormat {
    /// The format when `--log-format` was not given: JSON under systemd (which sets
    /// `JOURNAL_STREAM` when stderr goes to the journal, and the journal keeps JSON lines whole),
    /// text elsewhere.
    pub fn default_for(journal_stream: bool, stderr_is_terminal: bool) -> LogFormat {
        if journal_stream && !stderr_is_terminal {
            LogFormat::Json
        } else {
            LogFormat::Text
        }
    }
}

/// Whether text logs are coloured: only on a terminal, and never when `NO_COLOR` is set to
/// anything (no-color.org), so a journal or a file never stores escape codes.
pub fn colour(stderr_is_terminal: bool, no_color: Option<&std::ffi::OsStr>) -> bool {
    stderr_is_terminal && no_color.is_none_or(|v| v.is_empty())
}

/// The filter when `RUST_LOG` is not set: zfsync's own lines from `info`, its libraries' only from
/// `warn` (the cron scheduler, for one, greets every start with "Uninited" and "Job creator created").
pub const DEFAULT_FILTER: &str = "info,tokio_cron_scheduler=warn";

/// Installs the global subscriber on stderr (a second call is a no-op). `format`: `--log-format`,
/// or [`LogFormat::default_for`] the process's surroundings when not given.
pub fn init(format: Option<LogFormat>) {
    use std::io::IsTerminal as _;
    let terminal = std::io::stderr().is_terminal();
    let format = format.unwrap_or_else(|| {
        LogFormat::default_for(std::env::var_os("JOURNAL_STREAM").is_some(), terminal)
    });
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter())
        .with_writer(std::io::stderr)
        .with_ansi(colour(terminal, std::env::var_os("NO_COLOR").as_deref()));
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}

/// Installs the global subscriber on `file` (a second call is a no-op): text lines without colour
/// unless `format` says JSON. The sandbox keeps its transcript alone on the terminal this way.
pub fn init_to_file(format: Option<LogFormat>, file: std::fs::File) {
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter())
        .with_writer(std::sync::Mutex::new(file))
        .with_ansi(false);
    let _ = match format.unwrap_or(LogFormat::Text) {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}

fn filter() -> EnvFilter {
    EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER))
}

#[cfg(test)]
mod log_tests {
    use super::*;

    #[test]
    fn json_under_systemd_text_elsewhere() {
        assert_eq!(LogFormat::default_for(true, false), LogFormat::Json);
        assert_eq!(LogFormat::default_for(false, false), LogFormat::Text);
        assert_eq!(
            LogFormat::default_for(true, true),
            LogFormat::Text,
            "a person at a terminal under a systemd session reads text"
        );
    }

    #[test]
    fn colour_only_on_a_terminal_without_no_color() {
        use std::ffi::OsStr;
        assert!(colour(true, None));
        assert!(!colour(false, None));
        assert!(!colour(true, Some(OsStr::new("1"))));
        assert!(
            colour(true, Some(OsStr::new(""))),
            "an empty NO_COLOR is unset"
        );
    }
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
