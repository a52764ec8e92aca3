//! `zfsync check`: validates the configuration and probes every dependency.

use std::path::Path;
use std::process::ExitCode;

/// Runs the checks and prints one line per check.
pub async fn run(_config: &Path, _json: bool) -> anyhow::Result<ExitCode> {
    anyhow::bail!("zfsync check is not available yet")
}
