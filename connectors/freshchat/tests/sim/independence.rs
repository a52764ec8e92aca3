//! The simulator must not import the client: every file under `src/sim/` is scanned for paths
//! into the rest of the crate.

use std::path::Path;

/// Paths a simulator file may not use: anything of the crate outside `sim`, the crate by name, or
/// `super::` from the folder's root (which is the crate root).
fn offences(file: &str, text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let code: String = text
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n");
    let mut rest = code.as_str();
    while let Some(i) = rest.find("crate::") {
        let after = &rest[i + "crate::".len()..];
        if !after.starts_with("sim::") && !after.starts_with("sim;") {
            out.push(format!("{file}: crate::{}", &after[..after.len().min(30)]));
        }
        rest = after;
    }
    for bad in ["super::super", "zfsync_freshchat", "crate::{"] {
        if code.contains(bad) {
            out.push(format!("{file}: {bad}"));
        }
    }
    if file == "mod.rs" && code.contains("super::") {
        out.push(format!("{file}: super:: (the crate root)"));
    }
    out
}

#[test]
fn no_simulator_file_imports_client_code() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/sim");
    let mut files = 0;
    let mut found = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "rs") {
            files += 1;
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            found.extend(offences(&name, &std::fs::read_to_string(&path).unwrap()));
        }
    }
    assert!(
        files >= 8,
        "expected the simulator folder, found {files} files"
    );
    assert!(
        found.is_empty(),
        "the simulator imports client code: {found:?}"
    );
}

#[test]
fn the_scan_catches_imports() {
    for bad in [
        "use crate::types::Message;",
        "use crate::{client, sim};",
        "let k = crate::webhook::SIGNATURE_HEADER;",
        "use super::super::error::FreshchatError;",
        "use zfsync_freshchat::MessagePart;",
    ] {
        assert!(!offences("api.rs", bad).is_empty(), "{bad}");
    }
    assert!(!offences("mod.rs", "use super::types;").is_empty());
    assert!(offences("api.rs", "use super::wire::ApiErr; use crate::sim::parts;").is_empty());
    assert!(offences("api.rs", "// crate::types in a comment").is_empty());
}
