//! The seeds: the real-world samples in `<workspace>/../shared/realworld`. Webhook samples (and
//! the other-product look-alikes the parsers must refuse) are seeds; every sample of a platform,
//! API answers included, is a donor whose parts may be spliced into a mutant.
//!
//! Failure: a missing folder or an unreadable file is a [`FuzzError`] naming the path; a sample
//! that is not a JSON document is skipped (its file is not a sample).

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::FuzzError;

/// One real-world payload.
#[derive(Debug, Clone)]
pub struct Sample {
    /// File name.
    pub name: String,
    /// The bytes as found: `body_text` verbatim, else `body` serialised compactly.
    pub raw: Vec<u8>,
    /// The body as a document, when it is JSON.
    pub value: Option<Value>,
    /// The `X-ZEvent-Server` header the sample came with, if any.
    pub zevent_server: Option<String>,
}

/// The seeds and donors of both platforms.
#[derive(Debug, Clone, Default)]
pub struct Corpus {
    /// Zalo webhook seeds.
    pub zalo: Vec<Sample>,
    /// Freshchat webhook seeds.
    pub freshchat: Vec<Sample>,
    /// Documents of Zalo samples, for splicing.
    pub zalo_donors: Vec<Value>,
    /// Documents of Freshchat samples, for splicing.
    pub freshchat_donors: Vec<Value>,
}

impl Corpus {
    /// Where the samples live beside the workspace.
    pub fn default_dir() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/realworld")
    }

    /// Reads every sample of `dir`.
    pub fn load(dir: &Path) -> Result<Corpus, FuzzError> {
        let entries = std::fs::read_dir(dir).map_err(|cause| FuzzError::Corpus {
            path: dir.to_path_buf(),
            cause,
        })?;
        let mut names: Vec<String> = entries
            .filter_map(Result::ok)
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".json"))
            .collect();
        // Directory order differs between machines; the seeds' order decides which input is which.
        names.sort();
        let mut corpus = Corpus::default();
        for name in names {
            let path = dir.join(&name);
            let text = std::fs::read_to_string(&path)
                .map_err(|cause| FuzzError::Corpus { path, cause })?;
            let Ok(doc) = serde_json::from_str::<Value>(&text) else {
                continue;
            };
            let Some(sample) = sample(&name, &doc) else {
                continue;
            };
            let zalo = name.starts_with("zalo-");
            if let Some(v) = &sample.value {
                if zalo {
                    corpus.zalo_donors.push(v.clone());
                } else {
                    corpus.freshchat_donors.push(v.clone());
                }
            }
            if name.starts_with("zalo-webhook-") || name.starts_with("zalo-bot-platform-") {
                corpus.zalo.push(sample);
            } else if name.starts_with("freshchat-webhook-")
                || name.starts_with("freshchat-product-event-")
            {
                corpus.freshchat.push(sample);
            }
        }
        // Bare fragments stay donors; as seeds they would only ever be refused as not objects.
        let wrapped = enveloped(&corpus.zalo);
        corpus.zalo.retain(|s| {
            !matches!(s.value, Some(Value::Array(_)))
                || !wrapped.iter().any(|w| w.name.starts_with(&s.name))
        });
        corpus.zalo.extend(wrapped);
        if corpus.zalo.is_empty() || corpus.freshchat.is_empty() {
            return Err(FuzzError::NoSeeds {
                path: dir.to_path_buf(),
            });
        }
        Ok(corpus)
    }
}

/// Zalo's pages give only `message.attachments` for some events: those fragments are also seeds
/// inside the documented envelope of their kind (`user_send_text`, `oa_send_text`,
/// `anonymous_send_text`) with the event's own name, as a delivery would carry them.
fn enveloped(seeds: &[Sample]) -> Vec<Sample> {
    let envelope = |name: &str| {
        seeds
            .iter()
            .find(|s| s.name == name)
            .and_then(|s| s.value.clone())
    };
    let mut out = Vec::new();
    for s in seeds {
        let Some(Value::Array(attachments)) = &s.value else {
            continue;
        };
        let Some(event) = s
            .name
            .strip_prefix("zalo-webhook-")
            .and_then(|n| n.strip_suffix(".json"))
        else {
            continue;
        };
        let file = [
            ("user_send_", "zalo-webhook-user_send_text.json"),
            ("oa_send_", "zalo-webhook-oa_send_text.json"),
            ("anonymous_", "zalo-webhook-anonymous_send_text.json"),
        ]
        .into_iter()
        .find(|(p, _)| event.starts_with(p))
        .map(|(_, f)| f);
        let Some(mut doc) = file.and_then(envelope) else {
            continue;
        };
        let name = event.split('-').next().unwrap_or(event);
        doc["event_name"] = Value::from(name);
        if let Some(message) = doc.get_mut("message").and_then(Value::as_object_mut) {
            message.insert("attachments".into(), Value::Array(attachments.clone()));
        }
        out.push(Sample {
            name: format!("{} (in its envelope)", s.name),
            raw: serde_json::to_vec(&doc).unwrap_or_default(),
            value: Some(doc),
            zevent_server: None,
        });
    }
    out
}

fn sample(name: &str, doc: &Value) -> Option<Sample> {
    let (raw, value) = match doc.get("body_text").and_then(Value::as_str) {
        Some(t) => (t.as_bytes().to_vec(), serde_json::from_str(t).ok()),
        None => {
            let body = doc.get("body")?;
            (serde_json::to_vec(body).ok()?, Some(body.clone()))
        }
    };
    let zevent_server = doc.get("headers").and_then(Value::as_object).and_then(|h| {
        h.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("x-zevent-server"))
            .and_then(|(_, v)| v.as_str().map(str::to_owned))
    });
    Some(Sample {
        name: name.to_owned(),
        raw,
        value,
        zevent_server,
    })
}
