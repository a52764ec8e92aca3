//! The simulator is an independent witness: no file under `src/sim/` may reach the client's code
//! (`client`, `types`, `webhook`, `oauth`, `error`), whether through `crate::`, `super::` from the
//! folder's root, `super::super::`, or the crate's own name.

use std::path::{Path, PathBuf};

/// Every import path in `text` that leaves the simulator; `is_root` for `src/sim/mod.rs`, where
/// `super::` is the crate root.
fn escapes(text: &str, is_root: bool) -> Vec<String> {
    let mut found = vec![];
    for (n, line) in text.lines().enumerate() {
        let mut rest = line;
        while let Some(i) = rest.find("crate::") {
            let after = &rest[i + "crate::".len()..];
            // The workspace's test prerequisites (tests/prerequisites.rs) are no client code.
            if !after.starts_with("sim::") && !after.starts_with("prerequisites::") {
                found.push(format!("line {}: {}", n + 1, line.trim()));
            }
            rest = after;
        }
        if line.contains("super::super") || line.contains("zfsync_zalo::") {
            found.push(format!("line {}: {}", n + 1, line.trim()));
        }
        if is_root && line.contains("super::") {
            found.push(format!("line {}: {}", n + 1, line.trim()));
        }
    }
    found
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let p = entry.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

#[test]
fn the_checker_catches_every_way_out() {
    assert!(escapes("use crate::client::PATH_GETOA;", false).len() == 1);
    assert!(escapes("use crate::{types::str_of};", false).len() == 1);
    assert!(escapes("let x = super::super::webhook::verify;", false).len() == 1);
    assert!(escapes("use zfsync_zalo::ZaloClient;", false).len() == 1);
    assert!(escapes("use super::oauth::Pkce;", true).len() == 1);
    assert!(escapes("use super::wire; use crate::sim::ZaloSim;", false).is_empty());
    assert!(escapes("crate::prerequisites::realworld(dir)", false).is_empty());
}

#[test]
fn no_simulator_file_imports_client_code() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src/sim");
    let mut files = vec![];
    rust_files(&dir, &mut files);
    assert!(
        files.len() >= 6,
        "the simulator is a folder of modules: {files:?}"
    );
    assert!(
        !PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("src/sim.rs")
            .exists(),
        "src/sim.rs must not come back beside src/sim/"
    );
    let mut bad = vec![];
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        let is_root = f.file_name().is_some_and(|n| n == "mod.rs") && f.parent() == Some(&dir);
        for e in escapes(&text, is_root) {
            bad.push(format!("{}: {e}", f.display()));
        }
    }
    assert!(
        bad.is_empty(),
        "simulator files reach client code:\n{}",
        bad.join("\n")
    );
}

#[test]
fn simulator_files_stay_under_800_lines_above_their_unit_tests() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src/sim");
    let mut files = vec![];
    rust_files(&dir, &mut files);
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        let code = text.split("#[cfg(test)]").next().unwrap_or("");
        let n = code.lines().count();
        assert!(n <= 800, "{} has {n} lines above its tests", f.display());
        assert!(
            text.starts_with("//!"),
            "{} must open with a //! doc",
            f.display()
        );
    }
}
