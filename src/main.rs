//! The `zfsync` binary: parse the command line, install logging, run, report how it ended.

use std::process::ExitCode;

use clap::Parser;
use zfsync::cli::{execute, Cli};

fn main() -> ExitCode {
    let cli = Cli::parse();
    if cli.logs_on_stderr() {
        zfsync::telemetry::init(cli.log_format);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(execute(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
