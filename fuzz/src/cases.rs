//! Webhook inputs: a mutated body and the headers it is delivered with, signed the way each
//! platform signs (computed here, independently of the connectors' verifiers) so that most inputs
//! get past verification to the parser, and forged in a dozen ways for the rest.
//!
//! - Zalo: `X-ZEvent-Signature: mac=<hex sha256(app_id + body + timestamp + oa_secret_key)>`, the
//!   timestamp being the body's own `timestamp` field as sent.
//! - Freshchat: RSASSA-PKCS1-v1_5 / SHA-256 over the raw body, standard base64, with a key pair
//!   generated for the run ([`FreshchatSigner`]).
//!
//! [`Shared`] is what every input of a run is built from: the seeds, the signer, the rules.
//!
//! Failure: generating the key pair can fail ([`FuzzError::Key`]); building an input never fails.

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{KeyPair, KeySize};
use aws_lc_rs::signature::{KeyPair as _, RSA_PKCS1_SHA256};
use axum::http::HeaderValue;
use base64::Engine as _;
use serde_json::Value;
use zfsync_mappings::Rules;

use super::corpus::{Corpus, Sample};
use super::mutate::Mutator;
use super::FuzzError;

/// The Zalo App ID the daemon under test is configured with.
pub const ZALO_APP_ID: &str = "3608465249409039670";
/// The OA Secret Key the daemon under test is configured with.
pub const ZALO_OA_SECRET: &str = "zfz-oa-secret-K2m9";

/// `X-ZEvent-Signature`.
pub const ZALO_SIGNATURE: &str = "x-zevent-signature";
/// `X-ZEvent-Server`.
pub const ZALO_SERVER: &str = "x-zevent-server";
/// `X-Freshchat-Signature`.
pub const FRESHCHAT_SIGNATURE: &str = "x-freshchat-signature";

/// What the signature header of an input is worth.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sig {
    /// Right for this body: the route must verify it.
    Valid,
    /// Present but wrong (stale, forged, malformed, not text).
    Invalid,
    /// No signature header.
    Absent,
}

/// One webhook delivery.
#[derive(Debug, Clone)]
pub struct Case {
    /// The body.
    pub body: Vec<u8>,
    /// Headers besides `Content-Type`.
    pub headers: Vec<(&'static str, HeaderValue)>,
    /// The signature's worth.
    pub sig: Sig,
    /// How the body was made: `structured`, `raw`, `as_found`.
    pub mode: &'static str,
    /// When accepted, deliver it a second time (it must be a duplicate then).
    pub replay: bool,
}

impl Case {
    /// A header's value as text, as a handler reading it with `to_str()` sees it.
    pub fn header_text(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .and_then(|(_, v)| v.to_str().ok())
    }

    /// Whether the header is there at all (text or not).
    pub fn has_header(&self, name: &str) -> bool {
        self.headers.iter().any(|(n, _)| *n == name)
    }

    /// Whether the header is there but holds only whitespace (either "missing" or "malformed").
    pub fn header_blank(&self, name: &str) -> bool {
        self.headers
            .iter()
            .any(|(n, v)| *n == name && v.as_bytes().iter().all(u8::is_ascii_whitespace))
    }

    /// The headers as shown in a finding.
    pub fn shown_headers(&self) -> Vec<(String, Vec<u8>)> {
        self.headers
            .iter()
            .map(|(n, v)| ((*n).to_string(), v.as_bytes().to_vec()))
            .collect()
    }
}

/// The Freshchat side's key pair: signs bodies as Freshchat does.
pub struct FreshchatSigner {
    key: KeyPair,
    rng: SystemRandom,
    /// The public key as SPKI DER in base64, as pasted into `freshchat.webhook_public_key`.
    pub spki_b64: String,
}

impl std::fmt::Debug for FreshchatSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FreshchatSigner").finish_non_exhaustive()
    }
}

impl FreshchatSigner {
    /// A new RSA-2048 key pair.
    pub fn generate() -> Result<FreshchatSigner, FuzzError> {
        let key = KeyPair::generate(KeySize::Rsa2048).map_err(|e| FuzzError::Key(e.to_string()))?;
        let spki = key
            .public_key()
            .as_der()
            .map_err(|e| FuzzError::Key(e.to_string()))?;
        Ok(FreshchatSigner {
            spki_b64: base64::engine::general_purpose::STANDARD.encode(spki.as_ref()),
            key,
            rng: SystemRandom::new(),
        })
    }

    /// The signature of exactly these bytes, standard base64 (PKCS#1 v1.5 is deterministic).
    pub fn sign(&self, body: &[u8]) -> String {
        let mut sig = vec![0u8; self.key.public_modulus_len()];
        match self.key.sign(&RSA_PKCS1_SHA256, &self.rng, body, &mut sig) {
            Ok(()) => base64::engine::general_purpose::STANDARD.encode(&sig),
            Err(_) => String::new(),
        }
    }
}

/// The body's `timestamp` as Zalo signs it: the string as sent, or the text of a number or bool;
/// `None` when the body is not JSON or has no such scalar field.
pub fn zalo_timestamp(body: &[u8]) -> Option<String> {
    let v: Value = serde_json::from_slice(body).ok()?;
    match v.get("timestamp")? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// `mac=<hex sha256(app_id + body + timestamp + key)>`.
pub fn zalo_mac(app_id: &str, body: &[u8], timestamp: &str, key: &str) -> String {
    let mut text = Vec::with_capacity(app_id.len() + body.len() + timestamp.len() + key.len());
    text.extend_from_slice(app_id.as_bytes());
    text.extend_from_slice(body);
    text.extend_from_slice(timestamp.as_bytes());
    text.extend_from_slice(key.as_bytes());
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &text);
    let hex: String = digest.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    format!("mac={hex}")
}

/// A body and how it was made, before signing.
struct Body {
    bytes: Vec<u8>,
    /// The unmutated sample's bytes (a stale signature is computed over them).
    original: Vec<u8>,
    mode: &'static str,
}

/// Mutates one sample: mostly structurally, sometimes byte by byte, sometimes not at all.
fn body(m: &mut Mutator, sample: &Sample, donors: &[Value]) -> Body {
    let roll = m.rng().u32(0..100);
    let structured = |m: &mut Mutator| match &sample.value {
        Some(v) => m.mutate_json(v, donors).into_bytes(),
        None => m.mutate_bytes(&sample.raw),
    };
    let (bytes, mode) = match roll {
        0..=69 => (structured(m), "structured"),
        70..=89 => {
            let base = if m.rng().bool() {
                structured(m)
            } else {
                sample.raw.clone()
            };
            (m.mutate_bytes(&base), "raw")
        }
        _ => (sample.raw.clone(), "as_found"),
    };
    Body {
        bytes,
        original: sample.raw.clone(),
        mode,
    }
}

fn header(bytes: &[u8]) -> Option<HeaderValue> {
    HeaderValue::from_bytes(bytes).ok()
}

/// The bodies a mapping-only input plans: a Zalo body with its server header, or a Freshchat body.
pub fn zalo_body(corpus: &Corpus, seed: u64) -> (Vec<u8>, Option<String>) {
    let mut m = Mutator::new(seed);
    let sample = m.pick(&corpus.zalo).clone();
    let b = body(&mut m, &sample, &corpus.zalo_donors);
    (b.bytes, sample.zevent_server)
}

/// See [`zalo_body`].
pub fn freshchat_body(corpus: &Corpus, seed: u64) -> Vec<u8> {
    let mut m = Mutator::new(seed);
    let sample = m.pick(&corpus.freshchat).clone();
    body(&mut m, &sample, &corpus.freshchat_donors).bytes
}

/// One Zalo delivery.
pub fn zalo_case(corpus: &Corpus, seed: u64) -> Case {
    let mut m = Mutator::new(seed);
    let sample = m.pick(&corpus.zalo).clone();
    let b = body(&mut m, &sample, &corpus.zalo_donors);
    let mut headers = Vec::new();
    // The server header: as the sample had it, or tampered with.
    let server = match m.rng().u32(0..10) {
        0 => Some(b"ZNS".to_vec()),
        1 => Some(b" zns ".to_vec()),
        2 => Some(b"OA OpenAPI".to_vec()),
        3 => Some(m.odd_string().into_bytes()),
        4 => Some(b"Z\xffNS".to_vec()),
        _ => sample.zevent_server.clone().map(String::into_bytes),
    };
    if let Some(v) = server.as_deref().and_then(header) {
        headers.push((ZALO_SERVER, v));
    }
    let forge = m.chance(15, 100);
    let ts = zalo_timestamp(&b.bytes);
    let valid = ts
        .as_deref()
        .map(|t| zalo_mac(ZALO_APP_ID, &b.bytes, t, ZALO_OA_SECRET));
    let (value, mut sig): (Option<Vec<u8>>, Sig) = match (forge, valid) {
        (false, Some(mac)) => {
            // Forms Zalo's header may take that still verify: upper case, spaces around it.
            let mac = match m.rng().u32(0..10) {
                0 => mac.to_uppercase(),
                1 => format!("  {mac} "),
                _ => mac,
            };
            (Some(mac.into_bytes()), Sig::Valid)
        }
        // No timestamp to sign with: a well-formed header over an empty timestamp.
        (false, None) => (
            Some(zalo_mac(ZALO_APP_ID, &b.bytes, "", ZALO_OA_SECRET).into_bytes()),
            Sig::Invalid,
        ),
        (true, _) => {
            let stale = zalo_timestamp(&b.original)
                .map(|t| zalo_mac(ZALO_APP_ID, &b.original, &t, ZALO_OA_SECRET))
                .unwrap_or_default();
            let forged: Option<Vec<u8>> = match m.rng().u32(0..9) {
                0 => None,
                1 => Some(stale.into_bytes()),
                2 => {
                    Some(zalo_mac(ZALO_APP_ID, &b.bytes, "0", "not-the-oa-secret-key").into_bytes())
                }
                3 => Some(
                    zalo_mac("1", &b.bytes, ts.as_deref().unwrap_or(""), ZALO_OA_SECRET)
                        .into_bytes(),
                ),
                4 => Some(m.odd_string().into_bytes()),
                5 => Some(format!("mac={}", "ab".repeat(31)).into_bytes()),
                6 => Some(format!("sha256={}", "0".repeat(64)).into_bytes()),
                7 => Some(b"mac=\xff\xfe".to_vec()),
                _ => Some(Vec::new()),
            };
            (forged, Sig::Invalid)
        }
    };
    match value.as_deref().and_then(header) {
        Some(v) => headers.push((ZALO_SIGNATURE, v)),
        None => sig = Sig::Absent,
    }
    // A stale signature over an unchanged body is no forgery.
    if sig == Sig::Invalid && b.bytes == b.original && forge {
        let still = ts
            .as_deref()
            .map(|t| zalo_mac(ZALO_APP_ID, &b.bytes, t, ZALO_OA_SECRET));
        let sent = headers
            .iter()
            .find(|(n, _)| *n == ZALO_SIGNATURE)
            .map(|(_, v)| v.as_bytes());
        if still.is_some_and(|s| Some(s.as_bytes()) == sent) {
            sig = Sig::Valid;
        }
    }
    Case {
        body: b.bytes,
        headers,
        sig,
        mode: b.mode,
        replay: m.chance(1, 8),
    }
}

/// One Freshchat delivery.
pub fn freshchat_case(corpus: &Corpus, signer: &FreshchatSigner, seed: u64) -> Case {
    let mut m = Mutator::new(seed);
    let sample = m.pick(&corpus.freshchat).clone();
    let b = body(&mut m, &sample, &corpus.freshchat_donors);
    let forge = m.chance(15, 100);
    let (value, mut sig): (Option<Vec<u8>>, Sig) = if forge {
        let forged: Option<Vec<u8>> = match m.rng().u32(0..8) {
            0 => None,
            1 if b.bytes != b.original => Some(signer.sign(&b.original).into_bytes()),
            2 => {
                let mut random = vec![0u8; 256];
                m.rng().fill(&mut random);
                Some(
                    base64::engine::general_purpose::STANDARD
                        .encode(&random)
                        .into_bytes(),
                )
            }
            3 => Some(b"not*base64".to_vec()),
            4 => {
                let s = signer.sign(&b.bytes);
                Some(s.get(..s.len() / 2).unwrap_or_default().as_bytes().to_vec())
            }
            5 => Some(b"\xff\xfe\xfd".to_vec()),
            6 => Some(m.odd_string().into_bytes()),
            _ => Some(b"   ".to_vec()),
        };
        (forged, Sig::Invalid)
    } else {
        let s = signer.sign(&b.bytes);
        // Forms that still verify: unpadded, wrapped in whitespace.
        let s = match m.rng().u32(0..10) {
            0 => s.trim_end_matches('=').to_string(),
            1 => format!(" {s}\t"),
            _ => s,
        };
        (Some(s.into_bytes()), Sig::Valid)
    };
    let mut headers = Vec::new();
    match value.as_deref().and_then(header) {
        Some(v) => headers.push((FRESHCHAT_SIGNATURE, v)),
        None => sig = Sig::Absent,
    }
    Case {
        body: b.bytes,
        headers,
        sig,
        mode: b.mode,
        replay: m.chance(1, 8),
    }
}

/// Everything one input needs, shared by the tasks of a run.
pub struct Shared {
    /// The seeds.
    pub corpus: Corpus,
    /// Signs Freshchat bodies.
    pub signer: FreshchatSigner,
    /// The rules plans are made with.
    pub rules: Vec<Rules>,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared").finish_non_exhaustive()
    }
}
