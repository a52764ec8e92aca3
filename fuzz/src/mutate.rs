//! The seeded mutation engine: structural mutations of JSON documents, raw-byte mutations, and the
//! dictionaries both draw from. Everything is a function of the [`Mutator`]'s seed, so an input is
//! rebuilt exactly from the seed and its index. It never fails: an operation that finds nothing to
//! work on (no object to delete a field from) falls back to one that does.
//!
//! Values a `serde_json::Value` cannot hold (a nesting 10,000 deep, `1e400`, a 40-digit integer)
//! are put in as placeholders and spliced into the serialised text afterwards
//! ([`JsonMutant::into_bytes`]), so the document tree stays shallow enough to walk and drop.

use serde_json::{Map, Number, Value};

use super::dict::JSON_BITS;
pub use super::dict::{HTML_BITS, KEYS, ODD_BYTES, ODD_UNICODE, RAW_NUMBERS, WORDS};

/// Where a node sits in a document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seg {
    /// An object member.
    Key(String),
    /// An array element.
    Idx(usize),
}

/// The body size huge values aim around (the daemon's default limit is 1 MiB).
const BODY_SCALE: usize = 1 << 20;

/// Most nodes a walk collects: a huge array is not walked to its end.
const MAX_PATHS: usize = 4096;

/// Every node's path, parents before children (the root is the empty path).
pub fn paths(v: &Value) -> Vec<Vec<Seg>> {
    let mut out = vec![Vec::new()];
    let mut i = 0;
    while i < out.len() && out.len() < MAX_PATHS {
        let path = out[i].clone();
        if let Some(node) = at(v, &path) {
            match node {
                Value::Object(m) => {
                    for k in m.keys() {
                        let mut p = path.clone();
                        p.push(Seg::Key(k.clone()));
                        out.push(p);
                    }
                }
                Value::Array(a) => {
                    for j in 0..a.len().min(64) {
                        let mut p = path.clone();
                        p.push(Seg::Idx(j));
                        out.push(p);
                    }
                }
                _ => {}
            }
        }
        i += 1;
    }
    out.truncate(MAX_PATHS);
    out
}

/// The node at `path`.
pub fn at<'a>(v: &'a Value, path: &[Seg]) -> Option<&'a Value> {
    path.iter().try_fold(v, |node, seg| match (seg, node) {
        (Seg::Key(k), Value::Object(m)) => m.get(k),
        (Seg::Idx(i), Value::Array(a)) => a.get(*i),
        _ => None,
    })
}

/// The node at `path`, to change it.
pub fn at_mut<'a>(v: &'a mut Value, path: &[Seg]) -> Option<&'a mut Value> {
    path.iter().try_fold(v, |node, seg| match (seg, node) {
        (Seg::Key(k), Value::Object(m)) => m.get_mut(k),
        (Seg::Idx(i), Value::Array(a)) => a.get_mut(*i),
        _ => None,
    })
}

/// A mutated document and the texts to splice into it once serialised.
#[derive(Debug, Clone)]
pub struct JsonMutant {
    /// The document.
    pub value: Value,
    /// Placeholder string → the raw text that replaces it (quotes included) after serialising.
    pub splices: Vec<(String, Vec<u8>)>,
    /// The operations applied, in order (for reports).
    pub ops: Vec<&'static str>,
    /// Serialise with indentation.
    pub pretty: bool,
}

impl JsonMutant {
    /// The document as bytes, placeholders replaced by their raw text.
    pub fn into_bytes(self) -> Vec<u8> {
        let mut bytes = if self.pretty {
            serde_json::to_vec_pretty(&self.value)
        } else {
            serde_json::to_vec(&self.value)
        }
        .unwrap_or_default();
        for (marker, raw) in &self.splices {
            let quoted = serde_json::to_vec(&Value::String(marker.clone())).unwrap_or_default();
            bytes = replace_first(&bytes, &quoted, raw);
        }
        bytes
    }
}

/// Replaces the first `needle` with `with` and any later copy (a placeholder copied by another
/// operation) with `0`, so one raw text lands once and the body stays the size intended.
fn replace_first(hay: &[u8], needle: &[u8], with: &[u8]) -> Vec<u8> {
    if needle.is_empty() {
        return hay.to_vec();
    }
    let mut out = Vec::with_capacity(hay.len() + with.len());
    let mut first = true;
    let mut i = 0;
    while i < hay.len() {
        if hay[i..].starts_with(needle) {
            out.extend_from_slice(if first { with } else { b"0" });
            first = false;
            i += needle.len();
        } else {
            out.push(hay[i]);
            i += 1;
        }
    }
    out
}

/// The engine: one per input, seeded from the run's seed and the input's index.
#[derive(Debug)]
pub struct Mutator {
    rng: fastrand::Rng,
}

/// Mixes a run seed, a target and an input index into one input seed (SplitMix64 finaliser), so
/// neighbouring indices get unrelated streams.
pub fn input_seed(seed: u64, target: u64, index: u64) -> u64 {
    let mut z = seed
        ^ target.wrapping_mul(0x9e37_79b9_7f4a_7c15)
        ^ index.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl Mutator {
    /// A mutator whose every choice follows from `seed`.
    pub fn new(seed: u64) -> Mutator {
        Mutator {
            rng: fastrand::Rng::with_seed(seed),
        }
    }

    /// The random source, for callers' own choices (same stream).
    pub fn rng(&mut self) -> &mut fastrand::Rng {
        &mut self.rng
    }

    /// True with probability `n` in `d`.
    pub fn chance(&mut self, n: u32, d: u32) -> bool {
        self.rng.u32(0..d) < n
    }

    /// One element of a non-empty slice.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.rng.usize(0..items.len())]
    }

    /// A length for a huge value: mostly over Zalo's 2,000-character limit, sometimes past the
    /// daemon's 1 MiB body limit.
    fn huge_len(&mut self) -> usize {
        match self.rng.u32(0..100) {
            0..=49 => self.rng.usize(1990..2010),
            50..=79 => self.rng.usize(4_000..20_000),
            80..=96 => self.rng.usize(60_000..200_000),
            _ => self.rng.usize(1_000_000..1_100_000),
        }
    }

    /// A string of `len` characters, one unit repeated.
    fn repeat_to(&mut self, len: usize) -> String {
        let units = [
            "a", "é", "😀", "\u{200b}", "Ệ", "<b>", "&amp;", " ", "\n", "x\u{301}",
        ];
        let unit = *self.pick(&units);
        unit.chars().cycle().take(len).collect()
    }

    /// An odd string: one of [`ODD_UNICODE`], [`HTML_BITS`] or [`WORDS`], or random characters.
    pub fn odd_string(&mut self) -> String {
        match self.rng.u32(0..4) {
            0 => (*self.pick(ODD_UNICODE)).to_string(),
            1 => (*self.pick(HTML_BITS)).to_string(),
            2 => (*self.pick(WORDS)).to_string(),
            _ => {
                let n = self.rng.usize(0..12);
                (0..n)
                    .map(|_| match self.rng.u32(0..3) {
                        0 => self.rng.alphanumeric(),
                        1 => char::from_u32(self.rng.u32(0x80..0x3000)).unwrap_or('?'),
                        _ => char::from_u32(self.rng.u32(0x1_0000..0x11_0000)).unwrap_or('?'),
                    })
                    .collect()
            }
        }
    }

    /// A small random value for new fields.
    fn small_value(&mut self, depth: u32) -> Value {
        match self.rng.u32(0..9) {
            0 => Value::Null,
            1 => Value::Bool(self.rng.bool()),
            2 => Value::from(self.rng.i64(..)),
            3 => Number::from_f64(self.rng.f64() * 1e6).map_or(Value::Null, Value::Number),
            4 | 5 => Value::String(self.odd_string()),
            6 => Value::String((*self.pick(WORDS)).to_string()),
            7 if depth < 3 => {
                let n = self.rng.usize(0..4);
                Value::Array((0..n).map(|_| self.small_value(depth + 1)).collect())
            }
            _ if depth < 3 => {
                let mut m = Map::new();
                for _ in 0..self.rng.usize(0..4) {
                    let k = (*self.pick(KEYS)).to_string();
                    let v = self.small_value(depth + 1);
                    m.insert(k, v);
                }
                Value::Object(m)
            }
            _ => Value::String(String::new()),
        }
    }

    /// Applies one to four structural operations to `doc`; `donors` are documents of the same
    /// platform whose parts may be spliced in.
    pub fn mutate_json(&mut self, doc: &Value, donors: &[Value]) -> JsonMutant {
        let own = [doc.clone()];
        let donors = if donors.is_empty() { &own[..] } else { donors };
        let mut m = JsonMutant {
            value: doc.clone(),
            splices: Vec::new(),
            ops: Vec::new(),
            pretty: self.chance(1, 12),
        };
        let n = 1 + self.rng.usize(0..4);
        for _ in 0..n {
            let op = self.json_op(&mut m, donors);
            m.ops.push(op);
        }
        m
    }

    fn json_op(&mut self, m: &mut JsonMutant, donors: &[Value]) -> &'static str {
        let all = paths(&m.value);
        let path = self.pick(&all).clone();
        let op = self.rng.u32(0..100);
        // Operations on the parent object first; they fall through to a node operation when the
        // chosen node has no object to work on.
        if op < 14 {
            if let Some(name) = self.delete_field(&mut m.value, &all) {
                return name;
            }
        }
        if (14..20).contains(&op) {
            if let Some(name) = self.insert_or_rename(&mut m.value, &all) {
                return name;
            }
        }
        let marker_id = m.splices.len();
        let Some(node) = at_mut(&mut m.value, &path) else {
            return "none";
        };
        match op {
            0..=33 => self.type_swap(node),
            34..=41 => self.flip_number_string(node),
            42..=47 => {
                if self.chance(1, 2) {
                    let len = self.huge_len();
                    *node = Value::String(self.repeat_to(len));
                } else {
                    self.huge_number_or_array(node);
                }
                "huge"
            }
            48..=53 => {
                let depth = *self.pick(&[64usize, 127, 128, 129, 300, 5_000, 50_000]);
                let marker = format!("\u{1}deep{marker_id}\u{1}");
                let text = if self.rng.bool() {
                    format!("{}1{}", "[".repeat(depth), "]".repeat(depth))
                } else {
                    format!("{}1{}", "{\"a\":".repeat(depth), "}".repeat(depth))
                };
                *node = Value::String(marker.clone());
                m.splices.push((marker, text.into_bytes()));
                "deep"
            }
            54..=63 => {
                self.odd_text(node);
                "odd_unicode"
            }
            64..=71 => {
                let donor = self.pick(donors);
                let donor_paths = paths(donor);
                let p = self.pick(&donor_paths);
                *node = at(donor, p).cloned().unwrap_or(Value::Null);
                "splice"
            }
            72..=79 => {
                *node = Value::String((*self.pick(WORDS)).to_string());
                "word"
            }
            80..=84 => {
                *node = match self.rng.u32(0..5) {
                    0 => Value::String(String::new()),
                    1 => Value::Array(Vec::new()),
                    2 => Value::Object(Map::new()),
                    3 => Value::from(0),
                    _ => Value::Null,
                };
                "empty"
            }
            85..=90 => self.array_op(node),
            91..=95 => {
                let marker = format!("\u{1}raw{marker_id}\u{1}");
                let raw = (*self.pick(RAW_NUMBERS)).as_bytes().to_vec();
                *node = Value::String(marker.clone());
                m.splices.push((marker, raw));
                "raw_number"
            }
            _ => {
                let bit = (*self.pick(HTML_BITS)).to_string();
                match node {
                    Value::String(s) => insert_at_char(s, &bit, &mut self.rng),
                    other => *other = Value::String(bit),
                }
                "html"
            }
        }
    }

    fn delete_field(&mut self, v: &mut Value, all: &[Vec<Seg>]) -> Option<&'static str> {
        let objects: Vec<&Vec<Seg>> = all
            .iter()
            .filter(|p| at(v, p).is_some_and(|n| n.as_object().is_some_and(|o| !o.is_empty())))
            .collect();
        if objects.is_empty() {
            return None;
        }
        let p = (*self.pick(&objects)).clone();
        let obj = at_mut(v, &p)?.as_object_mut()?;
        let key = obj.keys().nth(self.rng.usize(0..obj.len()))?.clone();
        obj.shift_remove(&key);
        Some("delete_field")
    }

    fn insert_or_rename(&mut self, v: &mut Value, all: &[Vec<Seg>]) -> Option<&'static str> {
        let objects: Vec<&Vec<Seg>> = all
            .iter()
            .filter(|p| at(v, p).is_some_and(Value::is_object))
            .collect();
        if objects.is_empty() {
            return None;
        }
        let p = (*self.pick(&objects)).clone();
        let rename = self.rng.bool();
        let new_key = match self.rng.u32(0..4) {
            0 => self.odd_string(),
            _ => (*self.pick(KEYS)).to_string(),
        };
        let value = self.small_value(0);
        let obj = at_mut(v, &p)?.as_object_mut()?;
        if rename && !obj.is_empty() {
            let old = obj.keys().nth(self.rng.usize(0..obj.len()))?.clone();
            let moved = obj.shift_remove(&old).unwrap_or(Value::Null);
            let renamed = match self.rng.u32(0..4) {
                0 => old.to_uppercase(),
                1 => format!("{old} "),
                2 => format!("{old}\u{200b}"),
                _ => new_key,
            };
            obj.insert(renamed, moved);
            Some("rename_key")
        } else {
            obj.insert(new_key, value);
            Some("insert_key")
        }
    }

    fn type_swap(&mut self, node: &mut Value) -> &'static str {
        let choice = self.rng.u32(0..6);
        let old = std::mem::take(node);
        *node = match (old, choice) {
            (Value::String(s), 0) => s
                .trim()
                .parse::<i64>()
                .map(Value::from)
                .unwrap_or_else(|_| Value::from(self.rng.i64(..))),
            (Value::String(s), 1) => Value::Array(vec![Value::String(s)]),
            (Value::String(s), 2) => {
                let mut m = Map::new();
                m.insert("value".into(), Value::String(s));
                Value::Object(m)
            }
            (Value::String(_), 3) => Value::Bool(self.rng.bool()),
            (Value::Number(n), 0 | 1) => Value::String(n.to_string()),
            (Value::Number(n), 2) => Value::Array(vec![Value::Number(n)]),
            (Value::Number(n), 3) => n
                .as_f64()
                .and_then(|f| Number::from_f64(f + 0.5))
                .map_or(Value::Null, Value::Number),
            (Value::Bool(b), 0 | 1) => Value::String(b.to_string()),
            (Value::Bool(b), _) => Value::from(u8::from(b)),
            (Value::Array(a), 0 | 1) => {
                let mut m = Map::new();
                for (i, x) in a.into_iter().enumerate() {
                    m.insert(i.to_string(), x);
                }
                Value::Object(m)
            }
            (Value::Array(a), 2) => a.into_iter().next().unwrap_or(Value::Null),
            (Value::Object(o), 0 | 1) => Value::Array(o.into_iter().map(|(_, x)| x).collect()),
            (Value::Object(o), 2) => Value::String(Value::Object(o).to_string()),
            (Value::Null, _) => self.small_value(1),
            (old, 4) => Value::String(old.to_string()),
            (_, _) => Value::Null,
        };
        "type_swap"
    }

    fn flip_number_string(&mut self, node: &mut Value) -> &'static str {
        match node {
            Value::String(s) => {
                if let Ok(n) = s.trim().parse::<u64>() {
                    *node = Value::from(n);
                } else if let Some(f) = s.trim().parse::<f64>().ok().and_then(Number::from_f64) {
                    *node = Value::Number(f);
                } else {
                    *node = Value::from(self.rng.u64(..));
                }
            }
            Value::Number(n) => {
                let text = n.to_string();
                *node = Value::String(match self.rng.u32(0..3) {
                    0 => format!(" {text} "),
                    1 => format!("{text}.0"),
                    _ => text,
                });
            }
            other => *other = Value::from(self.rng.i64(..)),
        }
        "number_string"
    }

    fn huge_number_or_array(&mut self, node: &mut Value) {
        match node {
            Value::Array(a) if !a.is_empty() => {
                // Long, but about the size of the daemon's body limit at most.
                let size = serde_json::to_vec(&a[0]).map_or(1, |b| b.len().max(1));
                let n = self.rng.usize(100..5_000).min(2 * BODY_SCALE / size);
                let first = a[0].clone();
                a.extend(std::iter::repeat_n(first, n));
            }
            _ => {
                *node = match self.rng.u32(0..7) {
                    0 => Value::from(u64::MAX),
                    1 => Value::from(i64::MIN),
                    2 => Number::from_f64(1e308).map_or(Value::Null, Value::Number),
                    3 => Number::from_f64(-1e308).map_or(Value::Null, Value::Number),
                    4 => Number::from_f64(5e-324).map_or(Value::Null, Value::Number),
                    5 => Value::from(9_007_199_254_740_993u64),
                    _ => Value::from(i64::MAX),
                }
            }
        }
    }

    fn odd_text(&mut self, node: &mut Value) {
        let odd = self.odd_string();
        match node {
            Value::String(s) if self.rng.bool() => insert_at_char(s, &odd, &mut self.rng),
            other => *other = Value::String(odd),
        }
    }

    fn array_op(&mut self, node: &mut Value) -> &'static str {
        match node {
            Value::Array(a) if !a.is_empty() => {
                match self.rng.u32(0..4) {
                    0 => {
                        let i = self.rng.usize(0..a.len());
                        let x = a[i].clone();
                        a.insert(i, x);
                    }
                    1 => a.truncate(self.rng.usize(0..a.len())),
                    2 => a.reverse(),
                    _ => a.clear(),
                }
                "array"
            }
            other => {
                let inner = std::mem::take(other);
                *other = Value::Array(vec![inner.clone(), inner]);
                "wrap_array"
            }
        }
    }

    /// Applies one to eight raw-byte operations: bit flips, insertions, deletions, truncation,
    /// duplication, odd bytes and JSON fragments.
    pub fn mutate_bytes(&mut self, input: &[u8]) -> Vec<u8> {
        let mut b = input.to_vec();
        let n = 1 + self.rng.usize(0..8);
        for _ in 0..n {
            let len = b.len();
            match self.rng.u32(0..11) {
                0 | 1 if len > 0 => {
                    let i = self.rng.usize(0..len);
                    b[i] ^= 1 << self.rng.u32(0..8);
                }
                2 if len > 0 => {
                    let i = self.rng.usize(0..len);
                    b[i] = self.rng.u8(..);
                }
                3 => {
                    let i = self.rng.usize(0..=len);
                    let n = self.rng.usize(1..16);
                    let bytes: Vec<u8> = (0..n).map(|_| self.rng.u8(..)).collect();
                    b.splice(i..i, bytes);
                }
                4 if len > 0 => {
                    let i = self.rng.usize(0..len);
                    let j = (i + self.rng.usize(1..64)).min(len);
                    b.drain(i..j);
                }
                5 if len > 0 => b.truncate(self.rng.usize(0..len)),
                6 if len > 0 => {
                    let i = self.rng.usize(0..len);
                    let j = (i + self.rng.usize(1..256)).min(len);
                    let chunk = b[i..j].to_vec();
                    let at = self.rng.usize(0..=b.len());
                    b.splice(at..at, chunk);
                }
                7 => {
                    let i = self.rng.usize(0..=len);
                    let odd = self.pick(ODD_BYTES).to_vec();
                    b.splice(i..i, odd);
                }
                8 => {
                    let i = self.rng.usize(0..=len);
                    let bit = self.pick(JSON_BITS).as_bytes().to_vec();
                    b.splice(i..i, bit);
                }
                9 => {
                    let i = self.rng.usize(0..=len);
                    let odd = self.odd_string().into_bytes();
                    b.splice(i..i, odd);
                }
                _ => {
                    if self.chance(1, 20) {
                        let n = self.rng.usize(0..64);
                        b = (0..n).map(|_| self.rng.u8(..)).collect();
                    } else if len > 1 {
                        let i = self.rng.usize(0..len / 2);
                        let j = self.rng.usize(len / 2..len);
                        b.swap(i, j);
                    }
                }
            }
        }
        b
    }
}

/// Inserts `what` at a random character boundary of `s`.
fn insert_at_char(s: &mut String, what: &str, rng: &mut fastrand::Rng) {
    let bounds: Vec<usize> = s
        .char_indices()
        .map(|(i, _)| i)
        .chain(std::iter::once(s.len()))
        .collect();
    let i = bounds[rng.usize(0..bounds.len())];
    s.insert_str(i, what);
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn doc() -> Value {
        serde_json::json!({
            "event_name": "user_send_text",
            "timestamp": "1700000000000",
            "sender": {"id": "1"},
            "message": {"text": "hi", "msg_ids": ["a", "b"]}
        })
    }

    #[test]
    fn same_seed_same_mutant() {
        let donors = [doc()];
        for seed in 0..200 {
            let a = Mutator::new(seed).mutate_json(&doc(), &donors).into_bytes();
            let b = Mutator::new(seed).mutate_json(&doc(), &donors).into_bytes();
            assert_eq!(a, b, "seed {seed}");
            let x = Mutator::new(seed).mutate_bytes(b"{\"a\":1}");
            assert_eq!(x, Mutator::new(seed).mutate_bytes(b"{\"a\":1}"));
        }
    }

    #[test]
    fn mutants_differ_from_their_seed_and_splices_land() {
        let donors = [doc()];
        let original = serde_json::to_vec(&doc()).unwrap();
        let changed = (0..500)
            .filter(|s| Mutator::new(*s).mutate_json(&doc(), &donors).into_bytes() != original)
            .count();
        assert!(changed > 450, "{changed}");
        let deep = (0..2000)
            .map(|s| Mutator::new(s).mutate_json(&doc(), &donors))
            .find(|m| m.ops.contains(&"deep"))
            .unwrap();
        let bytes = deep.into_bytes();
        assert!(bytes.windows(3).any(|w| w == b"[[[" || w == b"{\"a"));
        assert!(!bytes.windows(4).any(|w| w == b"deep"));
    }

    #[test]
    fn input_seeds_spread() {
        let a = input_seed(1, 0, 0);
        assert_ne!(a, input_seed(1, 0, 1));
        assert_ne!(a, input_seed(1, 1, 0));
        assert_ne!(a, input_seed(2, 0, 0));
        assert_eq!(a, input_seed(1, 0, 0));
    }
}
