//! Conformance with the real-world corpus (`<workspace>/../shared/realworld`, the `zalo-*` samples):
//! every webhook body is classified (typed event, or refused with a named reason), every API answer is
//! decoded by the client over real HTTP on loopback (a tiny server replays the sample's bytes) or maps to
//! the right error class, and both signature vector sets are checked. The tables in `webhooks` and
//! `api` name each sample's expected classification; a sample missing from them fails the test.
//!
//! Without the corpus the tests fail, naming it, unless `ZFSYNC_TEST_SKIP=realworld`.
#![allow(clippy::unwrap_used)]

mod api;
mod replay;
mod webhooks;

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::Value;

/// `../shared/realworld` beside the workspace; a missing one fails the test unless
/// `ZFSYNC_TEST_SKIP` names `realworld` (then `None`).
fn corpus() -> Option<std::path::PathBuf> {
    crate::prerequisites::realworld(env!("CARGO_MANIFEST_DIR"))
}

struct Sample {
    doc: Value,
}

impl Sample {
    fn load(dir: &Path, file: &str) -> Sample {
        let text = std::fs::read_to_string(dir.join(file)).unwrap();
        Sample {
            doc: serde_json::from_str(&text).unwrap(),
        }
    }

    /// The bytes as found: `body_text` verbatim, else `body` serialised compactly.
    fn raw(&self) -> Vec<u8> {
        match self.doc.get("body_text").and_then(Value::as_str) {
            Some(t) => t.as_bytes().to_vec(),
            None => serde_json::to_vec(&self.doc["body"]).unwrap(),
        }
    }

    fn body(&self) -> &Value {
        &self.doc["body"]
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.doc
            .get("headers")?
            .as_object()?
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .and_then(|(_, v)| v.as_str())
    }
}

fn zalo_files(dir: &Path) -> BTreeSet<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("zalo-") && n.ends_with(".json"))
        .collect()
}

#[test]
fn the_tables_name_every_zalo_sample() {
    let Some(dir) = corpus() else { return };
    let named: BTreeSet<String> = webhooks::WEBHOOKS
        .iter()
        .map(|(f, _)| *f)
        .chain(api::API.iter().map(|(f, _)| *f))
        .chain([webhooks::SIGNATURES])
        .map(str::to_owned)
        .collect();
    assert_eq!(zalo_files(&dir), named);
}
