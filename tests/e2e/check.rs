//! `zfsync check` end to end: the real binary against both simulators on loopback, for the passing
//! case and each failure an operator meets (not connected, refused API key, wrong API host, unknown
//! channel, unknown config key, refused Zalo token, OA id mismatch).
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::Output;

use serde_json::Value;
use zfsync::tools::sandbox::{Env, EnvOptions};

use crate::helpers::{named_check, stored_tokens, zfsync, COMMAND_TIMEOUT};

/// What one run of `zfsync check` produced.
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}):\n{}\n{}", self.stdout, self.stderr))
    }

    /// The named check of a `--json` run.
    fn check(&self, name: &str) -> Value {
        named_check(self.stdout.as_bytes(), name)
    }
}

/// Runs the binary (as a child process, without blocking the simulators' runtime).
async fn check(config: &Path, json: bool) -> Run {
    // The environment's variables never override the file under test (`zfsync()` removes them).
    let mut cmd = zfsync();
    cmd.arg("check").arg("--config").arg(config);
    if json {
        cmd.arg("--json");
    }
    let out: Output = tokio::time::timeout(COMMAND_TIMEOUT, cmd.output())
        .await
        .expect("zfsync check did not finish within 60 s")
        .unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Rewrites the generated config file.
fn edit_config(env: &Env, edit: impl FnOnce(String) -> String) {
    let text = std::fs::read_to_string(env.config_path()).unwrap();
    let new = edit(text.clone());
    assert_ne!(new, text, "the edit changed nothing");
    std::fs::write(env.config_path(), new).unwrap();
}

/// Adds a line at the top of a `[section]`.
fn add_to_section(text: String, section: &str, line: &str) -> String {
    let header = format!("[{section}]\n");
    text.replacen(&header, &format!("{header}{line}\n"), 1)
}

/// Both simulators and a config; Zalo not connected.
async fn fresh_env() -> Env {
    Env::new(EnvOptions::default()).await.unwrap()
}

/// Both simulators, Zalo connected through the daemon's OAuth flow, the daemon stopped again.
async fn connected_env() -> Env {
    let mut env = fresh_env().await;
    env.start_daemon().await.unwrap();
    env.connect_zalo().await.unwrap();
    env.stop_daemon().await;
    env
}

fn assert_failed(run: &Run, name: &str) -> (String, String) {
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    let report = run.json();
    assert_eq!(report["ok"], false, "{report:#}");
    let c = run.check(name);
    assert_eq!(c["ok"], false, "{name} should fail: {report:#}");
    assert_eq!(c["level"], "fail", "{c:#}");
    (
        c["detail"].as_str().unwrap().to_string(),
        c["fix"].as_str().unwrap_or_default().to_string(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_check_passes_once_zalo_is_connected() {
    let env = connected_env().await;

    let human = check(env.config_path(), false).await;
    assert_eq!(human.code, 0, "{}\n{}", human.stdout, human.stderr);
    let lines: Vec<&str> = human.stdout.lines().collect();
    let names = [
        "config",
        "public_url",
        "store",
        "mapping_rules",
        "freshchat_api",
        "freshchat_channel",
        "freshchat_groups",
        "freshchat_webhook_key",
        "freshchat_app_id",
        "freshchat_properties",
        "zalo_tokens",
        "zalo_oa",
        "zalo_oa_id",
    ];
    assert_eq!(lines.len(), names.len() + 1, "{}", human.stdout);
    for (line, name) in lines.iter().zip(names) {
        assert!(line.starts_with("OK "), "{line}");
        assert!(line.contains(name), "{line} should be {name}");
    }
    assert!(
        human.stdout.contains("valid for 2"),
        "expiry shown: {}",
        human.stdout
    );
    assert!(human.stdout.contains(&env.zalo.config().oa_id));

    let json = check(env.config_path(), true).await;
    assert_eq!(json.code, 0, "{}\n{}", json.stdout, json.stderr);
    let report = json.json();
    assert_eq!(report["ok"], true, "{report:#}");
    for c in report["checks"].as_array().unwrap() {
        assert_eq!(c["ok"], true, "{c:#}");
        assert!(c["detail"].is_string() && c["fix"].is_null(), "{c:#}");
    }

    // No secret reaches the output.
    let zcfg = env.zalo.config();
    let stored_access = stored_tokens(&env).await.access_token;
    for secret in [
        env.freshchat.api_key().to_string(),
        zcfg.app_secret.clone(),
        zcfg.oa_secret_key.clone(),
        stored_access,
    ] {
        for out in [&human.stdout, &human.stderr, &json.stdout, &json.stderr] {
            assert!(!out.contains(&secret), "a secret was printed:\n{out}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn not_connected_says_how_to_connect() {
    let env = fresh_env().await;
    let run = check(env.config_path(), true).await;
    let (detail, fix) = assert_failed(&run, "zalo_tokens");
    assert!(detail.contains("not connected"), "{detail}");
    assert!(fix.contains("zfsync connect zalo"), "{fix}");
    // Everything that does not need Zalo still ran and passed.
    for name in [
        "config",
        "store",
        "mapping_rules",
        "freshchat_api",
        "freshchat_channel",
        "freshchat_webhook_key",
    ] {
        assert_eq!(run.check(name)["ok"], true, "{name}: {}", run.stdout);
    }
    assert_eq!(run.check("zalo_oa")["ok"], false);

    let human = check(env.config_path(), false).await;
    assert_eq!(human.code, 1);
    let line = human
        .stdout
        .lines()
        .find(|l| l.contains("zalo_tokens"))
        .unwrap();
    assert!(line.starts_with("FAIL"), "{line}");
    assert!(line.contains("zfsync connect zalo --config"), "{line}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_freshchat_api_key_names_where_to_get_a_new_one() {
    let env = connected_env().await;
    let key = env.freshchat.api_key().to_string();
    edit_config(&env, |t| {
        t.replace(&format!("api_key = \"{key}\""), "api_key = \"not-the-key\"")
    });
    let run = check(env.config_path(), true).await;
    let (detail, fix) = assert_failed(&run, "freshchat_api");
    assert!(detail.starts_with("Access denied"), "{detail}");
    assert!(fix.contains("Freshchat Admin → APIs for chat"), "{fix}");
    assert!(fix.contains("freshchat.api_key"), "{fix}");
    assert!(!run.stdout.contains("not-the-key"));
    // The checks that do not need the key still ran.
    assert_eq!(run.check("freshchat_webhook_key")["ok"], true);
    assert_eq!(run.check("zalo_oa")["ok"], true, "{}", run.stdout);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_api_base_that_answers_html_is_called_out() {
    let env = fresh_env().await;
    let app = axum::Router::new().fallback(|| async {
        axum::response::Html("<!doctype html><html><body>Welcome to our helpdesk</body></html>")
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let html_base = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    let fc_base = env
        .freshchat
        .base_url()
        .as_str()
        .trim_end_matches('/')
        .to_string();
    edit_config(&env, |t| {
        t.replace(
            &format!("api_base = \"{fc_base}\""),
            &format!("api_base = \"{html_base}\""),
        )
    });
    let run = check(env.config_path(), true).await;
    server.abort();
    let (detail, fix) = assert_failed(&run, "freshchat_api");
    assert!(
        detail.contains("does not point at the Freshchat API (it answered HTML)"),
        "{detail}"
    );
    assert!(fix.contains("https://<account>.freshchat.com"), "{fix}");
    let channel = run.check("freshchat_channel");
    assert_eq!(channel["ok"], false);
    assert!(channel["detail"]
        .as_str()
        .unwrap()
        .starts_with("not checked"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_channel_name_lists_the_channels() {
    let env = fresh_env().await;
    edit_config(&env, |t| {
        add_to_section(t, "freshchat", "channel_name = \"Support\"")
    });
    let run = check(env.config_path(), true).await;
    let (detail, fix) = assert_failed(&run, "freshchat_channel");
    assert!(detail.contains("no channel named \"Support\""), "{detail}");
    assert!(
        fix.contains("\"Zalo\"") && fix.contains("\"Website\""),
        "{fix}"
    );

    // Only the case differs: the fix says the exact name.
    edit_config(&env, |t| {
        t.replace("channel_name = \"Support\"", "channel_name = \"zalo\"")
    });
    let run = check(env.config_path(), true).await;
    let (_, fix) = assert_failed(&run, "freshchat_channel");
    assert!(fix.contains("channel_name = \"Zalo\""), "{fix}");

    edit_config(&env, |t| {
        t.replace("channel_name = \"zalo\"", "channel_name = \"Website\"")
    });
    let run = check(env.config_path(), true).await;
    assert_eq!(run.check("freshchat_channel")["ok"], true, "{}", run.stdout);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unusable_store_or_rules_file_hides_no_other_check() {
    let env = fresh_env().await;
    // A store "directory" that is a file cannot be created.
    let blocker = env.dir.path().join("not-a-dir");
    std::fs::write(&blocker, b"").unwrap();
    let store = env.dir.path().join("zfsync.db").display().to_string();
    edit_config(&env, |t| {
        let t = t.replace(
            &format!("path = \"{store}\""),
            &format!("path = \"{}\"", blocker.join("zfsync.db").display()),
        );
        t.replace(
            "[sync]\n",
            "[mapping]\nrules = \"missing-rules.toml\"\n\n[sync]\n",
        )
    });
    let run = check(env.config_path(), true).await;
    let (detail, fix) = assert_failed(&run, "store");
    assert!(detail.contains("not-a-dir"), "{detail}");
    assert!(fix.contains("the zfsync user may write"), "{fix}");
    let (detail, fix) = assert_failed(&run, "mapping_rules");
    assert!(detail.contains("missing-rules.toml"), "{detail}");
    assert!(fix.contains("mapping.rules"), "{fix}");
    for name in [
        "freshchat_api",
        "freshchat_channel",
        "freshchat_webhook_key",
    ] {
        assert_eq!(run.check(name)["ok"], true, "{name}: {}", run.stdout);
    }
    let (detail, fix) = assert_failed(&run, "zalo_tokens");
    assert!(detail.contains("store"), "{detail}");
    assert!(fix.contains("store"), "{fix}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_config_key_is_named_and_stops_the_checks() {
    let env = fresh_env().await;
    edit_config(&env, |t| add_to_section(t, "server", "listen_port = 8080"));

    let human = check(env.config_path(), false).await;
    assert_eq!(human.code, 1, "{}\n{}", human.stdout, human.stderr);
    let first = human.stdout.lines().next().unwrap();
    assert!(first.starts_with("FAIL"), "{first}");
    assert!(first.contains("listen_port"), "{first}");
    assert!(first.contains("[server]"), "{first}");
    assert!(first.contains("config.example.toml"), "{first}");

    let run = check(env.config_path(), true).await;
    let (detail, _) = assert_failed(&run, "config");
    assert!(detail.contains("`listen_port`"), "{detail}");
    assert_eq!(run.json()["checks"].as_array().unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_oa_id_in_the_config_is_reported() {
    let env = fresh_env().await;
    let ours = format!("oa_id = \"{}\"", env.zalo.config().oa_id);
    edit_config(&env, |t| t.replace(&ours, "oa_id = \"my-oa\""));
    let run = check(env.config_path(), true).await;
    let (detail, fix) = assert_failed(&run, "config");
    assert!(
        detail.contains("Invalid OA ID") && detail.contains("must be a numeric string"),
        "{detail}"
    );
    assert!(fix.contains("zalo.oa_id"), "{fix}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_zalo_token_says_to_connect_again() {
    let env = connected_env().await;
    // The access token expires, and the stored refresh token is one Zalo no longer accepts.
    env.zalo.expire_access_tokens();
    crate::tamper::replace_refresh_token(&env, "already-used-refresh-token");

    let run = check(env.config_path(), true).await;
    // The stored expiry is still in the future, so the token check itself passes ...
    assert_eq!(run.check("zalo_tokens")["ok"], true, "{}", run.stdout);
    // ... and the probe finds out.
    let (detail, fix) = assert_failed(&run, "zalo_oa");
    assert!(
        detail.starts_with("Access denied: token expired"),
        "{detail}"
    );
    assert!(fix.contains("zfsync connect zalo"), "{fix}");
    assert_eq!(run.check("freshchat_api")["ok"], true);

    // The pairing is now marked as needing re-authorization, and the next check says so at once.
    let run = check(env.config_path(), true).await;
    let (detail, fix) = assert_failed(&run, "zalo_tokens");
    assert!(detail.contains("re-authorization"), "{detail}");
    assert!(fix.contains("zfsync connect zalo"), "{fix}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oa_id_that_is_not_the_connected_oa_names_both() {
    let env = connected_env().await;
    let real = env.zalo.config().oa_id;
    edit_config(&env, |t| {
        t.replace(
            &format!("oa_id = \"{real}\""),
            "oa_id = \"1234567890123456789\"",
        )
    });
    let run = check(env.config_path(), true).await;
    let (detail, fix) = assert_failed(&run, "zalo_oa_id");
    assert!(detail.contains("1234567890123456789"), "{detail}");
    assert!(detail.contains(&real), "{detail}");
    assert!(fix.contains(&format!("oa_id = \"{real}\"")), "{fix}");

    edit_config(&env, |t| t.replace("1234567890123456789", &real));
    let run = check(env.config_path(), true).await;
    assert_eq!(run.code, 0, "{}", run.stdout);
}

/// `config.example.toml` documents every key; with its placeholders filled in it must load.
#[test]
fn the_example_config_loads_once_the_webhook_key_is_pasted() {
    use aws_lc_rs::encoding::AsDer;
    use aws_lc_rs::signature::KeyPair as _;
    use base64::Engine as _;

    let example = include_str!("../../config.example.toml");
    let key = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
    let spki = key.public_key().as_der().unwrap();
    let b64 = base64::engine::general_purpose::STANDARD.encode(spki.as_ref());
    let start = example.find("webhook_public_key = ").unwrap();
    let end = start + example[start..].find('\n').unwrap();
    let filled = format!(
        "{}webhook_public_key = \"-----BEGIN PUBLIC KEY----- {b64} -----END PUBLIC KEY-----\"{}",
        &example[..start],
        &example[end..]
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("zfsync.toml");
    std::fs::write(&path, &filled).unwrap();
    let config = zfsync::config::Config::load(&path).unwrap();
    assert_eq!(config.sync.retention_days, 30);

    // Every optional key, shown commented out, is a real key too.
    let all: String = filled
        .lines()
        .map(|l| match l.strip_prefix("# ") {
            Some(body)
                if body.split_once(" = ").is_some_and(|(k, _)| {
                    k.chars().all(|c| c.is_ascii_lowercase() || c == '_')
                }) =>
            {
                format!("{body}\n")
            }
            _ => format!("{l}\n"),
        })
        .collect();
    // The secrets file it names must exist and be private to its owner.
    let secrets = dir.path().join("secrets.env");
    std::fs::write(&secrets, "# none\n").unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&secrets, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let all = all.replace("/etc/zfsync/secrets.env", &secrets.display().to_string());
    std::fs::write(&path, &all).unwrap();
    let config = zfsync::config::Config::load(&path).unwrap();
    assert!(config.zalo.oa_id.is_some() && config.freshchat.app_id.is_some());
    assert!(config.freshchat.channel_id.is_some() && config.freshchat.channel_name.is_some());
    assert!(config.mapping.rules.is_some());
}
