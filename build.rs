//! Names the commit the binary is built from, for `zfsync --version`: `ZFSYNC_COMMIT` when the
//! build sets it (a package built from a tarball), else `git rev-parse` of the checkout, else
//! "unknown commit". A checkout with uncommitted changes says so ("-modified").

use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn main() {
    println!("cargo:rerun-if-env-changed=ZFSYNC_COMMIT");
    for watched in [".git/HEAD", ".git/index", ".git/refs/heads"] {
        if std::path::Path::new(watched).exists() {
            println!("cargo:rerun-if-changed={watched}");
        }
    }
    let commit = std::env::var("ZFSYNC_COMMIT")
        .ok()
        .filter(|c| !c.trim().is_empty())
        .or_else(|| {
            let hash = git(&["rev-parse", "--short=12", "HEAD"])?;
            let dirty = git(&["status", "--porcelain", "--untracked-files=no"])
                .is_some_and(|s| !s.is_empty());
            Some(if dirty {
                format!("{hash}-modified")
            } else {
                hash
            })
        })
        .unwrap_or_else(|| "unknown commit".to_string());
    println!("cargo:rustc-env=ZFSYNC_COMMIT={commit}");
}
