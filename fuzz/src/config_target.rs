//! The config target: mutations of `config.example.toml` and of smaller configs, some with their
//! secrets in a secrets file (itself mutated, sometimes readable by others, missing, or a folder),
//! written to a temporary folder and loaded with [`Config::load`], as `zfsync run --config` does.
//! The loader's promises:
//!
//! - it never panics, and it returns (a hang would stop the run where it hangs);
//! - an error names what is wrong, and never quotes a secret (the error text holds none of the
//!   secret values the input carried at a secret's place);
//! - a loaded config's `Debug` shows no secret.
//!
//! Failure: a temporary file that cannot be written is a [`FuzzError`]; a broken promise is a
//! [`Finding`].

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::time::Instant;

use super::mutate::{input_seed, Mutator, Seg, ODD_UNICODE};
use super::report::{Finding, TargetReport};
use super::{FuzzError, Options, Target};
use zfsync::config::{Config, ConfigError};

/// The secret values the seeds carry: none of them may appear in an error or a `Debug`.
pub const SECRETS: &[(&str, &str)] = &[
    ("app_secret", "zfz-app-secret-Q7v3"),
    ("oa_secret_key", "zfz-oa-secret-K2m9"),
    ("api_key", "zfz-api-key-W4x8"),
    ("admin_token", "zfz-admin-token-P5n1-0123456789"),
    ("ZFSYNC_STORE_KEY", "zfz-store-key-R6t2"),
];

/// A syntactically valid RSA-2048 public key (SPKI, base64): Freshchat's documentation key.
const PUBLIC_KEY: &str = "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAuGJLF4hTTtxWogT6dNkGf3CEgLAR2mGJzlds5cNbrHFoJNFnmVhkRYGzLYxx4EtDiezNCZVHfyMI2AKuNSQW2fEdDatVIG+q3Zr/X9eeDl8kQOGy804J/fgCYDrN8RQu0n5Dh1inv4puca0wb29SCvoAwrWb33ehDBIvv6+rUKBdjtv2xTV65kNiVDo5VRCaYRVeE10osxeONgw55HVY4nczuxnR+dmc2282de6WHe5LXtr0ZBdJ8yttFOLIluZ/sNM5DIWZBkIWQhyT581tbA7bTpsIbrT/IMBlmioIILw8WGtI7zcmNkjU5dnq5HnlVKEDhj/Ug/dLiyno8+Vp7QIDAQAB";

/// Values with a meaning to the loader, by the kind of key they go to.
const URLS: &[&str] = &[
    "ftp://x",
    "http://",
    "https://",
    "https://[::1]:99999",
    "unix:/tmp/s",
    "https://user:pass@host/",
    "https://exa mple.com",
    "javascript:alert(1)",
    "https://xn--80ak6aa92e.com",
    "http://127.0.0.1:0/",
    "https://zfsync.example.com/sub/path/",
    "data:text/plain,x",
];
const CRONS: &[&str] = &[
    "off",
    " off ",
    "OFF",
    "*/0 * * * * *",
    "0 0 0 31 2 *",
    "60 * * * * *",
    "@yearly",
    "* * * * * * *",
    "0 0 0 1 1 * 2099",
    "0 0 0 29 2 * 2101",
    "* * * * *",
    "1-0 * * * * *",
    "0/0 * * * * *",
    "L W # ? * *",
    "0 0 0 ? * 5L",
    "0 0 0 ? * 5#6",
    "0 0 0 1-31/999999999 * *",
    "4294967296 * * * * *",
    "0 0 0 L-40 * *",
    "59-0/7 * * * * *",
    "0 0 0 30 2 MON#5",
];
const LISTENS: &[&str] = &[
    "127.0.0.1:0",
    "[::1]:8080",
    "0.0.0.0:99999",
    "localhost:8080",
    "1.2.3.4",
    ":80",
    "[::1]",
    "256.0.0.1:1",
];
const PATHS: &[&str] = &[
    "",
    "/",
    "/dev/null",
    "/dev/zero",
    "/dev/urandom",
    "../../etc/passwd",
    "/etc/shadow",
    "\u{0}",
    "secrets.env",
    "/nonexistent/x",
    "/tmp",
    "/proc/self/status",
];
const LANGUAGES: &[&str] = &["vi", "en", "fr", "", "VI", "en-US"];
const KEY_FORMS: &[&str] = &[
    "",
    "-----BEGIN RSA PUBLIC KEY-----",
    "-----BEGIN RSA PUBLIC KEY----- -----END RSA PUBLIC KEY-----",
    "aGVsbG8gd29ybGQ=",
    "%%%",
    "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA",
    "-----BEGIN PUBLIC KEY-----\\nMIIB\\n-----END PUBLIC KEY-----",
];
const SECRET_NAMES: &[&str] = &[
    "ZFSYNC_ZALO_APP_SECRET",
    "ZFSYNC_ZALO_OA_SECRET_KEY",
    "ZFSYNC_FRESHCHAT_API_KEY",
    "ZFSYNC_FRESHCHAT_WEBHOOK_PUBLIC_KEY",
    "ZFSYNC_ADMIN_TOKEN",
    "ZFSYNC_STORE_KEY",
];
/// TOML syntax fragments for raw insertion.
const TOML_BITS: &[&str] = &[
    "[[",
    "]]",
    "\"\"\"",
    "'''",
    "=",
    "\n[server]\n",
    "\n[zalo]\n",
    "\\u0000",
    "\\UFFFFFFFF",
    "\\",
    "#",
    "\n",
    "inf",
    "nan",
    "1979-05-27T07:32:00Z",
    "{ a = 1 }",
    "[1, \"a\"]",
];

/// One input: a config file and the secrets file beside it.
#[derive(Debug, Clone)]
pub struct ConfigCase {
    /// `zfsync.toml`.
    pub toml: Vec<u8>,
    /// `secrets.env`: its bytes, or `None` when it does not exist.
    pub secrets: Option<Vec<u8>>,
    /// The secrets file's mode.
    pub secrets_mode: u32,
    /// A folder stands where the secrets file should be.
    pub secrets_is_dir: bool,
    /// How it was made.
    pub mode: &'static str,
}

fn example_seed() -> String {
    include_str!("../../config.example.toml")
        .replace("REPLACE_WITH_THE_APP_SECRET_KEY", SECRETS[0].1)
        .replace("REPLACE_WITH_THE_OA_SECRET_KEY", SECRETS[1].1)
        .replace("REPLACE_WITH_THE_FRESHCHAT_API_KEY", SECRETS[2].1)
        .replace("PASTE_THE_KEY_FROM_FRESHCHAT_ADMIN_WEBHOOKS", PUBLIC_KEY)
        .replace(
            "# admin_token = \"REPLACE_WITH_A_LONG_RANDOM_TOKEN\"",
            &format!("admin_token = \"{}\"", SECRETS[3].1),
        )
}

fn minimal_seed() -> String {
    format!(
        r#"[server]
public_url = "https://zfsync.example.com"
[zalo]
app_id = "1234567890123456789"
app_secret = "{}"
oa_secret_key = "{}"
oa_id = "4318848795011111111"
site_verification = "A1b2C3d4E5"
[freshchat]
api_base = "https://acme.freshchat.com"
api_key = "{}"
webhook_public_key = """
-----BEGIN RSA PUBLIC KEY-----
{PUBLIC_KEY}
-----END RSA PUBLIC KEY-----
"""
[mapping]
language = "en"
[sync]
reconcile_cron = "off"
[media]
allow_hosts = ["*.example-cdn.com"]
"#,
        SECRETS[0].1, SECRETS[1].1, SECRETS[2].1
    )
}

fn with_secrets_file_seed() -> (String, String) {
    let toml = r#"secrets_file = "secrets.env"
[server]
public_url = "https://zfsync.example.com"
[store]
path = "zfsync.db"
key_file = "zfsync.db.key"
[zalo]
app_id = "1234567890123456789"
[freshchat]
api_base = "https://acme.freshchat.com"
"#
    .to_string();
    let secrets = format!(
        "# zfsync secrets\nZFSYNC_ZALO_APP_SECRET={}\nZFSYNC_ZALO_OA_SECRET_KEY=\"{}\"\nexport ZFSYNC_FRESHCHAT_API_KEY='{}'\nZFSYNC_FRESHCHAT_WEBHOOK_PUBLIC_KEY={PUBLIC_KEY}\nZFSYNC_ADMIN_TOKEN={}\nZFSYNC_STORE_KEY={}\n",
        SECRETS[0].1, SECRETS[1].1, SECRETS[2].1, SECRETS[3].1, SECRETS[4].1
    );
    (toml, secrets)
}

/// Builds input `index` of the config target.
pub fn case(seed: u64, index: u64) -> ConfigCase {
    let mut m = Mutator::new(input_seed(seed, Target::Config.id(), index));
    let (file_toml, file_secrets) = with_secrets_file_seed();
    let seeds = [example_seed(), minimal_seed(), file_toml];
    let which = m.rng().usize(0..seeds.len());
    let text = seeds[which].clone();
    let mut secrets = (which == 2).then(|| file_secrets.into_bytes());
    let roll = m.rng().u32(0..100);
    let (toml, mode) = match roll {
        0..=44 => (structured(&mut m, &text).into_bytes(), "structured"),
        45..=69 => (raw_toml(&mut m, text.as_bytes()), "raw"),
        70..=84 => {
            if secrets.is_none() {
                let (t, s) = with_secrets_file_seed();
                secrets = Some(s.into_bytes());
                (t.into_bytes(), "secrets")
            } else {
                (text.into_bytes(), "secrets")
            }
        }
        85..=94 => (deep_or_huge(&mut m, &text).into_bytes(), "deep_or_huge"),
        _ => (text.into_bytes(), "as_found"),
    };
    if let Some(s) = secrets.as_mut() {
        if mode == "secrets" || m.chance(1, 5) {
            *s = mutate_secrets(&mut m, s);
        }
    }
    let secrets_mode = if m.chance(1, 20) { 0o644 } else { 0o600 };
    let (secrets, secrets_is_dir) = match m.rng().u32(0..100) {
        0 => (None, false),
        1 => (None, true),
        _ => (secrets, false),
    };
    ConfigCase {
        toml,
        secrets,
        secrets_mode,
        secrets_is_dir,
        mode,
    }
}

/// Mutates the TOML document itself (keys, types, values), then writes it out.
fn structured(m: &mut Mutator, text: &str) -> String {
    let Ok(mut doc) = toml::from_str::<toml::Table>(text) else {
        return text.to_string();
    };
    let n = 1 + m.rng().usize(0..4);
    for _ in 0..n {
        let mut root = toml::Value::Table(std::mem::take(&mut doc));
        toml_op(m, &mut root);
        if let toml::Value::Table(t) = root {
            doc = t;
        }
    }
    toml::to_string(&doc).unwrap_or_else(|_| text.to_string())
}

fn toml_paths(v: &toml::Value) -> Vec<Vec<Seg>> {
    let mut out = vec![Vec::new()];
    let mut i = 0;
    while i < out.len() && out.len() < 2048 {
        let path = out[i].clone();
        match toml_at(v, &path) {
            Some(toml::Value::Table(t)) => {
                for k in t.keys() {
                    let mut p = path.clone();
                    p.push(Seg::Key(k.clone()));
                    out.push(p);
                }
            }
            Some(toml::Value::Array(a)) => {
                for j in 0..a.len().min(32) {
                    let mut p = path.clone();
                    p.push(Seg::Idx(j));
                    out.push(p);
                }
            }
            _ => {}
        }
        i += 1;
    }
    out
}

fn toml_at<'a>(v: &'a toml::Value, path: &[Seg]) -> Option<&'a toml::Value> {
    path.iter().try_fold(v, |node, seg| match (seg, node) {
        (Seg::Key(k), toml::Value::Table(t)) => t.get(k),
        (Seg::Idx(i), toml::Value::Array(a)) => a.get(*i),
        _ => None,
    })
}

fn toml_at_mut<'a>(v: &'a mut toml::Value, path: &[Seg]) -> Option<&'a mut toml::Value> {
    path.iter().try_fold(v, |node, seg| match (seg, node) {
        (Seg::Key(k), toml::Value::Table(t)) => t.get_mut(k),
        (Seg::Idx(i), toml::Value::Array(a)) => a.get_mut(*i),
        _ => None,
    })
}

/// A value that means something to the key at `path`, else an odd one.
fn meaningful(m: &mut Mutator, key: &str) -> toml::Value {
    let s = |x: &&str| toml::Value::String((*x).to_string());
    if key.ends_with("_cron") {
        return s(m.pick(CRONS));
    }
    if key.contains("url") || key.contains("api_base") || key.contains("oauth_base") {
        return s(m.pick(URLS));
    }
    match key {
        "listen" => s(m.pick(LISTENS)),
        "path" | "key_file" | "rules" | "secrets_file" => s(m.pick(PATHS)),
        "language" => s(m.pick(LANGUAGES)),
        "webhook_public_key" => s(m.pick(KEY_FORMS)),
        "allow_hosts" => toml::Value::Array(vec![s(m.pick(&["*", "*.", "", "*.*.x", "[::1]"]))]),
        _ => odd_value(m),
    }
}

fn odd_value(m: &mut Mutator) -> toml::Value {
    match m.rng().u32(0..10) {
        0 => toml::Value::Integer(*m.pick(&[-1, 0, 1, i64::MAX, i64::MIN, 4_294_967_296])),
        1 => toml::Value::Float(*m.pick(&[f64::NAN, f64::INFINITY, -0.0, 1e308, 0.5])),
        2 => toml::Value::Boolean(m.rng().bool()),
        3 => toml::Value::Array(vec![
            toml::Value::Integer(1),
            toml::Value::String("a".into()),
        ]),
        4 => toml::Value::Table(toml::Table::new()),
        5 => toml::Value::String(String::new()),
        6 => toml::Value::String("9".repeat(m.rng().usize(20..5_000))),
        7 => {
            let n = *m.pick(&[2_001usize, 70_000, 1_500_000]);
            toml::Value::String("é".repeat(n))
        }
        _ => toml::Value::String(m.odd_string()),
    }
}

fn toml_op(m: &mut Mutator, root: &mut toml::Value) {
    let all = toml_paths(root);
    // Mostly a value (a leaf), so the loader's checks behind the parser get their turn.
    let leaves: Vec<Vec<Seg>> = all
        .iter()
        .filter(|p| !matches!(toml_at(root, p), Some(toml::Value::Table(_))))
        .cloned()
        .collect();
    let path = if !leaves.is_empty() && m.chance(4, 5) {
        m.pick(&leaves).clone()
    } else {
        m.pick(&all).clone()
    };
    let key = match path.last() {
        Some(Seg::Key(k)) => k.clone(),
        _ => String::new(),
    };
    let roll = m.rng().u32(0..100);
    if roll < 15 && !path.is_empty() {
        // Delete: remove the key from its table.
        let parent = &path[..path.len() - 1];
        if let Some(toml::Value::Table(t)) = toml_at_mut(root, parent) {
            t.remove(&key);
            return;
        }
    }
    if (15..21).contains(&roll) {
        // Insert or rename a key in a table.
        let tables: Vec<Vec<Seg>> = all
            .iter()
            .filter(|p| matches!(toml_at(root, p), Some(toml::Value::Table(_))))
            .cloned()
            .collect();
        let p = m.pick(&tables).clone();
        let new_key = match m.rng().u32(0..4) {
            0 => m.odd_string(),
            1 => format!("{key} "),
            2 => key.to_uppercase(),
            _ => (*m.pick(&[
                "app_id",
                "oa_id",
                "api_key",
                "admin_token",
                "secrets_file",
                "server",
                "zalo",
                "listen",
                "reconcile_cron",
                "max_body_bytes",
            ]))
            .to_string(),
        };
        let value = meaningful(m, &new_key);
        if let Some(toml::Value::Table(t)) = toml_at_mut(root, &p) {
            if m.rng().bool() && !t.is_empty() {
                let old = t.keys().nth(m.rng().usize(0..t.len())).cloned();
                if let Some(old) = old {
                    let moved = t.remove(&old);
                    if let Some(v) = moved {
                        t.insert(new_key, v);
                    }
                }
            } else {
                t.insert(new_key, value);
            }
        }
        return;
    }
    let replacement = match roll {
        21..=54 => Some(meaningful(m, &key)),
        55..=69 => Some(odd_value(m)),
        _ => None,
    };
    let Some(node) = toml_at_mut(root, &path) else {
        return;
    };
    if let Some(v) = replacement {
        *node = v;
        return;
    }
    // Numbers where strings are expected and back; odd characters inside strings.
    *node = match std::mem::replace(node, toml::Value::Boolean(false)) {
        toml::Value::String(s) if roll < 85 => s
            .trim()
            .parse::<i64>()
            .map(toml::Value::Integer)
            .unwrap_or_else(|_| toml::Value::Integer(m.rng().i64(..))),
        toml::Value::String(mut s) => {
            let odd = *m.pick(ODD_UNICODE);
            let at = s
                .char_indices()
                .map(|(i, _)| i)
                .nth(m.rng().usize(0..=s.chars().count()))
                .unwrap_or(s.len());
            s.insert_str(at, odd);
            toml::Value::String(s)
        }
        toml::Value::Integer(i) => toml::Value::String(i.to_string()),
        toml::Value::Float(f) => toml::Value::String(f.to_string()),
        toml::Value::Boolean(b) => toml::Value::String(b.to_string()),
        toml::Value::Array(a) => toml::Value::Table(
            a.into_iter()
                .enumerate()
                .map(|(i, v)| (i.to_string(), v))
                .collect(),
        ),
        toml::Value::Table(t) => toml::Value::Array(t.into_iter().map(|(_, v)| v).collect()),
        other => toml::Value::String(other.to_string()),
    };
}

fn raw_toml(m: &mut Mutator, text: &[u8]) -> Vec<u8> {
    let mut b = m.mutate_bytes(text);
    if m.rng().bool() {
        let at = m.rng().usize(0..=b.len());
        let bit = m.pick(TOML_BITS).as_bytes().to_vec();
        b.splice(at..at, bit);
    }
    b
}

/// Deep arrays and inline tables, huge strings and many keys, put in at a line start.
fn deep_or_huge(m: &mut Mutator, text: &str) -> String {
    let depth = *m.pick(&[64usize, 128, 1_000, 10_000, 100_000]);
    let insert = match m.rng().u32(0..5) {
        0 => format!("deep = {}1{}\n", "[".repeat(depth), "]".repeat(depth)),
        1 => format!("deep = {}1{}\n", "{ a = ".repeat(depth), " }".repeat(depth)),
        2 => format!("huge = \"{}\"\n", "x".repeat(depth * 10)),
        3 => (0..depth.min(20_000))
            .map(|i| format!("k{i} = {i}\n"))
            .collect(),
        _ => format!("{}\n", "[a.".repeat(depth.min(10_000)) + "b]"),
    };
    let lines: Vec<&str> = text.lines().collect();
    let at = m.rng().usize(0..=lines.len());
    let mut out = lines[..at].join("\n");
    out.push('\n');
    out.push_str(&insert);
    out.push_str(&lines[at..].join("\n"));
    out
}

fn mutate_secrets(m: &mut Mutator, bytes: &[u8]) -> Vec<u8> {
    if m.chance(1, 4) {
        return m.mutate_bytes(bytes);
    }
    let text = String::from_utf8_lossy(bytes).into_owned();
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    for _ in 0..1 + m.rng().usize(0..3) {
        if lines.is_empty() {
            lines.push(String::new());
        }
        let i = m.rng().usize(0..lines.len());
        let name = (*m.pick(SECRET_NAMES)).to_string();
        let line = &mut lines[i];
        match m.rng().u32(0..12) {
            0 => {
                lines.remove(i);
            }
            1 => {
                let copy = line.clone();
                lines.insert(i, copy);
            }
            2 => *line = line.replace('=', ""),
            3 => *line = format!("{}=", name.to_lowercase()),
            4 => *line = format!("{name}=\""),
            5 => *line = format!("{name}='\"'"),
            6 => *line = format!("  export   {name} = \"  spaced  \"  "),
            7 => *line = format!("{name}={}", "k".repeat(m.rng().usize(1..200_000))),
            8 => *line = format!("{name}={}", m.odd_string()),
            9 => *line = format!("\u{feff}{line}\r"),
            10 => *line = format!("UNKNOWN_{name}=x"),
            _ => *line = format!("# {line}"),
        }
    }
    lines.join("\n").into_bytes()
}

/// A secret the input carries only at a secret's own place (the line of its key, or the secrets
/// file), so that finding it in an error is a leak rather than the echo of a misplaced value (a
/// secret typed into `oa_id` is quoted back as the bad OA id it is).
fn only_at_secret_places(case: &ConfigCase, key: &str, value: &str) -> bool {
    String::from_utf8_lossy(&case.toml)
        .lines()
        .filter(|l| l.contains(value))
        .all(|l| l.trim_start().starts_with(key))
}

/// Loads input `index` in `dir`; the report of one input.
pub fn one(seed: u64, index: u64, dir: &Path) -> Result<TargetReport, FuzzError> {
    let mut r = TargetReport::new(Target::Config);
    r.inputs = 1;
    let case = case(seed, index);
    let config = dir.join("zfsync.toml");
    let secrets = dir.join("secrets.env");
    write_case(&case, &config, &secrets)?;
    let finding = |kind: &'static str, detail: String| {
        let mut context = Vec::new();
        if let Some(s) = &case.secrets {
            context.push((
                format!("secrets.env (mode {:o})", case.secrets_mode),
                s.clone(),
            ));
        }
        if case.secrets_is_dir {
            context.push(("secrets.env".into(), b"(a folder)".to_vec()));
        }
        Finding {
            target: Target::Config,
            seed,
            index,
            kind,
            detail,
            input: case.toml.clone(),
            context,
        }
    };
    let started = Instant::now();
    let loaded = catch_unwind(AssertUnwindSafe(|| Config::load(&config)));
    r.slowest = started.elapsed();
    r.slowest_index = Some(index);
    match loaded {
        Err(p) => {
            r.panics = 1;
            r.outcome("panic");
            r.finding(finding("panic", super::plans::panic_text(p.as_ref())));
        }
        Ok(Ok(c)) => {
            r.accepted = 1;
            r.outcome(format!("loaded ({})", case.mode));
            let shown = format!("{c:?}");
            for (_, secret) in SECRETS {
                if shown.contains(secret) {
                    r.finding(finding(
                        "secret_in_debug",
                        format!("Debug of the loaded config shows {secret:?}"),
                    ));
                }
            }
        }
        Ok(Err(e)) => {
            r.outcome(format!("refused: {} ({})", label(&e), case.mode));
            let text = e.to_string();
            if text.trim().is_empty() {
                r.finding(finding("no_reason", "an empty error".into()));
            }
            for (key, secret) in SECRETS {
                if text.contains(secret) && only_at_secret_places(&case, key, secret) {
                    r.finding(finding("secret_in_error", text.clone()));
                }
            }
        }
    }
    Ok(r)
}

fn write_case(case: &ConfigCase, config: &Path, secrets: &Path) -> Result<(), FuzzError> {
    let io = FuzzError::TempDir;
    std::fs::write(config, &case.toml).map_err(io)?;
    if secrets.is_dir() {
        std::fs::remove_dir(secrets).map_err(io)?;
    } else if secrets.exists() {
        std::fs::remove_file(secrets).map_err(io)?;
    }
    if case.secrets_is_dir {
        std::fs::create_dir(secrets).map_err(io)?;
    } else if let Some(s) = &case.secrets {
        std::fs::write(secrets, s).map_err(io)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(secrets, std::fs::Permissions::from_mode(case.secrets_mode))
                .map_err(io)?;
        }
    }
    Ok(())
}

/// The refusal's kind, and the key it names.
fn label(e: &ConfigError) -> String {
    match e {
        ConfigError::Read { .. } => "cannot read the file".into(),
        ConfigError::Parse { .. } => "not valid TOML or unknown key".into(),
        ConfigError::Missing { key, .. } => format!("missing {key}"),
        ConfigError::Invalid { key, .. } => format!("invalid {key}"),
        ConfigError::Secrets { .. } => "secrets file refused".into(),
        ConfigError::PairingName(_) => "invalid pairing name".into(),
    }
}

/// Runs the config target on `opts.workers` threads, each with its own folder.
pub fn run(opts: &Options) -> Result<TargetReport, FuzzError> {
    let started = Instant::now();
    let (first, end) = opts.range();
    let workers = opts.workers.max(1) as u64;
    let results: Vec<Result<TargetReport, FuzzError>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..workers)
            .map(|w| {
                s.spawn(move || -> Result<TargetReport, FuzzError> {
                    let dir = match &opts.work_dir {
                        Some(p) => tempfile::Builder::new().prefix("zfsync-fuzz").tempdir_in(p),
                        None => tempfile::Builder::new().prefix("zfsync-fuzz").tempdir(),
                    }
                    .map_err(FuzzError::TempDir)?;
                    let mut report = TargetReport::new(Target::Config);
                    let mut i = first + w;
                    while i < end {
                        report.absorb(one(opts.seed, i, dir.path())?);
                        if opts.progress && w == 0 && (i - first) % 100_000 < workers {
                            eprintln!("[config] {}/{} inputs", i - first, end - first);
                        }
                        i += workers;
                    }
                    Ok(report)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(FuzzError::App("a config worker stopped".into())))
            })
            .collect()
    });
    let mut report = TargetReport::new(Target::Config);
    for r in results {
        report.absorb(r?);
    }
    report.elapsed = started.elapsed();
    Ok(report)
}
