//! Logging: human-readable by default, JSON with `--log-format json`; filtered by `RUST_LOG`
//! (default `info`). Secrets never reach a log line: they are `SecretString`s everywhere.

use tracing_subscriber::EnvFilter;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
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

/// Runs one upstream call and records its latency (`zfsync_upstream_call_seconds`).
pub async fn timed<T, E>(
    platform: &'static str,
    op: &'static str,
    call: impl std::future::Future<Output = Result<T, E>>,
) -> Result<T, E> {
    let started = std::time::Instant::now();
    let result = call.await;
    let outcome = if result.is_ok() { "ok" } else { "error" };
    metrics::histogram!("zfsync_upstream_call_seconds", "platform" => platform, "op" => op, "outcome" => outcome)
        .record(started.elapsed().as_secs_f64());
    result
}
