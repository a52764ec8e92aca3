//! The `zfsync` binary: parse the command line, install logging, run, report how it ended.

use std::process::ExitCode;

use clap::Parser;
use zfsync::cli::{execute, Cli};

fn main() -> ExitCode {
    quiet_on_closed_stdout();
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

/// A reader that stops early (`zfsync status | head -1`) closes standard output; printing to it
/// then panics in Rust's `print!`. That is not an error of zfsync's: end quietly, as other
/// command-line tools do, instead of a panic message and a backtrace.
fn quiet_on_closed_stdout() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let payload = info.payload();
        let message = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied())
            .unwrap_or_default();
        if message.starts_with("failed printing to stdout") && message.contains("Broken pipe") {
            std::process::exit(0);
        }
        default(info)
    }));
}
