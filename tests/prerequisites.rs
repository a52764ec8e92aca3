//! What the test suites need besides Rust, and the one way a missing one is reported: the test
//! fails, naming what is missing and how to get it, unless `ZFSYNC_TEST_SKIP` names it; then it
//! says so on stderr and passes without running. A run that could not test something is never
//! green by accident. Every crate's tests include this file (`#[path]`), as none depends on another
//! for its tests.
//!
//! The names: `realworld` (the samples in `../shared/realworld` beside the workspace), `chromium`
//! (Chromium and chromedriver, for the console's browser test), `postgres` (Debian's
//! `postgresql`, for the PostgreSQL store's tests), `groff` (Debian's `groff-base`, to render the
//! man pages). `ZFSYNC_TEST_SKIP=realworld,chromium` skips two; `all` skips every one.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// The environment variable naming the prerequisites whose tests may be skipped.
pub const SKIP_VAR: &str = "ZFSYNC_TEST_SKIP";

/// Whether `ZFSYNC_TEST_SKIP` names `name` (or says `all`).
pub fn skipped(name: &str) -> bool {
    std::env::var(SKIP_VAR)
        .map(|v| {
            v.split(',')
                .map(str::trim)
                .any(|n| n.eq_ignore_ascii_case(name) || n.eq_ignore_ascii_case("all"))
        })
        .unwrap_or(false)
}

/// `name` is missing (`what` says what and how to get it): the test fails, unless it may be
/// skipped; then `None`, for the caller to return.
pub fn missing<T>(name: &str, what: &str) -> Option<T> {
    if skipped(name) {
        eprintln!("skipped: {what} ({SKIP_VAR} names {name})");
        return None;
    }
    panic!(
        "{what}\nThis test needs it. To run the tests without it, set {SKIP_VAR}={name} (README, \
         \"Development\", lists every prerequisite)."
    );
}

/// The real-world samples: `shared/realworld` in the first folder above `manifest_dir` that has
/// one (the workspace's sibling `../shared/realworld`).
pub fn realworld(manifest_dir: &str) -> Option<PathBuf> {
    let start = Path::new(manifest_dir);
    match start
        .ancestors()
        .map(|a| a.join("shared/realworld"))
        .find(|d| d.is_dir())
    {
        Some(dir) => Some(dir),
        None => missing(
            "realworld",
            &format!(
                "the real-world samples are absent: they are read from shared/realworld beside the \
                 workspace (looked for above {})",
                start.display()
            ),
        ),
    }
}
