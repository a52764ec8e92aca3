//! Operating zfsync through its command line: sandbox, connect (three ways), status, failed list,
//! metrics and logs.
#![allow(clippy::unwrap_used)]

use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use zfsync::tools::sandbox::{wait_for, Env, EnvOptions};
use zfsync_freshchat::MessagePart;
use zfsync_zalo::sim::{Fault, UserAction};

use crate::helpers::*;

async fn run(args: &[&str], env: &Env) -> (bool, String, String) {
    let out = zfsync()
        .args(args)
        .arg("--config")
        .arg(env.config_path())
        .output()
        .await
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

/// `zfsync connect zalo --code` with a code the simulator issued, for the sandbox OA: the code
/// and what the command printed.
async fn connect_with_a_code(env: &Env) -> (String, String) {
    let code = env.zalo.issue_code(None);
    let (ok, stdout, stderr) = run(
        &[
            "connect",
            "zalo",
            "--code",
            &code,
            "--oa-id",
            "4318848795011111111",
        ],
        env,
    )
    .await;
    assert!(ok, "{stdout}{stderr}");
    (code, stdout)
}

/// `zfsync sandbox --pairings 3`: three customers in one daemon, each with its own OA and
/// Freshchat account; each conversation goes both ways and none reaches another customer.
/// Runs `zfsync sandbox <args>` within `limit`, asserts that it succeeded (printing both streams
/// when not) and returns its standard output and error.
async fn sandbox_succeeds(args: &[&std::ffi::OsStr], limit: Duration) -> (String, String) {
    let out = tokio::time::timeout(limit, zfsync().arg("sandbox").args(args).output())
        .await
        .unwrap()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{stdout}\n{stderr}");
    (stdout, stderr)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sandbox_shows_three_customers_isolated() {
    let (stdout, _) = sandbox_succeeds(
        &["--pairings".as_ref(), "3".as_ref()],
        Duration::from_secs(90),
    )
    .await;
    for shop in ["shop-2", "shop-3"] {
        assert!(
            stdout.contains(&format!("[{shop}] Freshchat agent sees")),
            "{stdout}"
        );
        assert!(
            stdout.contains(&format!("[{shop}] Zalo customer receives: {shop} xin chào")),
            "{stdout}"
        );
    }
    assert!(stdout.contains("3 pairings checked"), "{stdout}");
    assert!(!stdout.contains("!! MISSING"), "{stdout}");
    let (ok, _, stderr) = {
        let out = zfsync()
            .args(["sandbox", "--pairings", "0"])
            .output()
            .await
            .unwrap();
        (
            out.status.success(),
            (),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };
    assert!(!ok && stderr.contains("--pairings"), "{stderr}");
}

/// `zfsync sandbox --rules FILE` runs the daemon with the operator's rules: a copy of the built-in
/// rules with ratings switched on makes the resolve notice ask for one; a file that does not
/// load is refused before anything starts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sandbox_runs_with_the_rules_given() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules.toml");
    let built_in = include_str!("../../mappings/default.toml");
    let with_ratings = built_in.replacen("[csat]\nask = false", "[csat]\nask = true", 1);
    assert_ne!(
        with_ratings, built_in,
        "the built-in rules have [csat] ask = false"
    );
    std::fs::write(&rules, with_ratings).unwrap();
    let (stdout, _) = sandbox_succeeds(
        &["--rules".as_ref(), rules.as_os_str()],
        Duration::from_secs(90),
    )
    .await;
    assert!(stdout.contains("5. Rất tốt"), "{stdout}");
    std::fs::write(&rules, "[csat\nask = 1").unwrap();
    let out = zfsync()
        .arg("sandbox")
        .arg("--rules")
        .arg(&rules)
        .output()
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && stderr.contains("--rules"),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sandbox_plays_both_directions() {
    let (stdout, stderr) = sandbox_succeeds(&[], Duration::from_secs(60)).await;
    assert!(
        stdout.contains("Freshchat agent sees   Minh Khánh Zalo: Xin chào"),
        "{stdout}"
    );
    assert!(
        stdout.contains("Zalo customer receives Chào anh Khánh"),
        "{stdout}"
    );
    assert!(stdout.contains("[image]"), "{stdout}");
    assert!(
        stdout.contains("dưới dạng tệp: http://"),
        "long reply link: {stdout}"
    );
    assert!(stdout.contains("đã giải quyết"), "{stdout}");
    assert!(stdout.contains("Both directions work"), "{stdout}");
    assert!(!stdout.contains("!! MISSING"), "{stdout}");
    // The story has the terminal to itself and ends with what to try next.
    assert!(
        stderr.trim().is_empty(),
        "log lines among the story: {stderr}"
    );
    assert!(stdout.contains("daemon's log:"), "{stdout}");
    let next = stdout.split("\nNext:").nth(1).expect("next steps");
    assert!(next.contains("sandbox --keep-running"), "{stdout}");
    assert!(next.contains(" init "), "{stdout}");
}

/// `--log-file` keeps the daemon's log lines, without colour codes; the story stays alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sandbox_log_file_keeps_the_daemons_lines() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("sandbox.log");
    let out = tokio::time::timeout(
        Duration::from_secs(60),
        zfsync().args(["sandbox", "--log-file"]).arg(&log).output(),
    )
    .await
    .unwrap()
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(String::from_utf8_lossy(&out.stderr).trim().is_empty());
    let lines = std::fs::read_to_string(&log).unwrap();
    assert!(lines.contains("zfsync listening"), "{lines}");
    assert!(lines.contains("synced Freshchat → Zalo"), "{lines}");
    assert!(
        !lines.contains('\u{1b}'),
        "colour codes in the file: {lines}"
    );
    assert!(
        !lines.contains("Job creator created"),
        "library chatter: {lines}"
    );
}

/// `--keep-running` prints commands that work as printed: the agent's reply reaches the
/// customer on Zalo, and `/sim` lists each simulator's routes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sandbox_kept_running_gives_commands_that_work() {
    let mut child = zfsync()
        .args(["sandbox", "--keep-running"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut printed = std::collections::HashMap::new();
    let read = async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if let Some((label, rest)) = line.trim_start().split_once(": ") {
                printed.insert(label.trim().to_string(), rest.trim().to_string());
            }
            if line.contains("media links:") {
                break;
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(60), read)
        .await
        .expect("the sandbox printed its commands");
    // `curl -s -X POST URL -H '…' -d 'BODY'`, as printed.
    let reply = printed
        .get("agent replies")
        .expect("an agent-reply command");
    let url = reply.split_whitespace().nth(4).unwrap();
    let body = reply.split("-d '").nth(1).unwrap().trim_end_matches('\'');
    let http = reqwest::Client::new();
    let r = http
        .post(url)
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{reply}: {}", r.status());
    let text: serde_json::Value = serde_json::from_str(body).unwrap();
    let text = text["text"].as_str().unwrap().to_string();
    let sent_url = printed["what Zalo sent"].split_whitespace().nth(2).unwrap();
    let arrived = wait_for(Duration::from_secs(20), || async {
        let sent = http.get(sent_url).send().await.ok()?.text().await.ok()?;
        sent.contains(&text).then_some(())
    })
    .await;
    assert!(arrived.is_some(), "the agent's reply never reached Zalo");
    let routes = &printed["every sim route"];
    for url in routes.split_whitespace().filter(|w| w.starts_with("http")) {
        let index: serde_json::Value = http.get(url).send().await.unwrap().json().await.unwrap();
        assert!(index["routes"].as_array().unwrap().len() > 10, "{index}");
    }
    child.kill().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_with_a_code_with_tokens_and_in_the_browser() {
    let env = Env::new(EnvOptions::default()).await.unwrap();
    // 1. A code copied by hand.
    let (code, stdout) = connect_with_a_code(&env).await;
    assert!(
        stdout.contains("Connected to zfsync Sandbox OA (OA id 4318848795011111111)"),
        "{stdout}"
    );
    // The code is single use: a second exchange is refused with Zalo's reason.
    let (ok, _, stderr) = run(&["connect", "zalo", "--code", &code], &env).await;
    assert!(!ok);
    assert!(stderr.to_lowercase().contains("code"), "{stderr}");

    // 2. Tokens from the API Explorer.
    let (access, refresh) = env.zalo.issue_tokens();
    let (ok, stdout, stderr) = run(
        &[
            "connect",
            "zalo",
            "--access-token",
            &access,
            "--refresh-token",
            &refresh,
        ],
        &env,
    )
    .await;
    assert!(ok, "{stdout}{stderr}");
    assert!(
        !stdout.contains(&access) && !stderr.contains(&access),
        "no token printed"
    );

    // 3. The browser flow: connect prints a one-time start link and serves it and the callback
    //    itself.
    let mut child = zfsync()
        .args(["connect", "zalo", "--config"])
        .arg(env.config_path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut url = None;
    while let Ok(Some(line)) = tokio::time::timeout(Duration::from_secs(20), lines.next_line())
        .await
        .unwrap()
    {
        if let Some(u) = line
            .split_whitespace()
            .find(|w| w.contains("/oauth/zalo/start?ticket="))
        {
            url = Some(u.to_string());
            break;
        }
    }
    let url = url.expect("the one-time start link is printed");
    let page = wait_for(Duration::from_secs(30), || async {
        let r = reqwest::get(&url).await.ok()?;
        r.status().is_success().then_some(r.text().await.ok()?)
    })
    .await
    .expect("the browser lands on the callback page");
    assert!(page.contains("connected to Zalo"), "{page}");
    let status = tokio::time::timeout(Duration::from_secs(20), child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success());
    let mut rest = String::new();
    while let Ok(Some(l)) = lines.next_line().await {
        rest.push_str(&l);
    }
    assert!(rest.contains("Connected to"), "{rest}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_failed_list_and_metrics() {
    let env = env().await;
    let u = "5234000000000000777";
    add_user(&env, u, "Minh");
    env.zalo
        .user_sends(u, UserAction::Text("hello".into()))
        .await;
    customer_messages(&env, u, 1).await;
    env.zalo.fail_next(
        "/v3.0/oa/message/cs",
        1,
        Fault::Api {
            code: -320,
            message: "Your app needs to connect with Zalo Cloud Account to use paid features"
                .into(),
        },
    );
    let conv = conversation(&env, u).unwrap();
    env.agent_says(
        &conv,
        &env.freshchat.default_agent_id(),
        &[MessagePart::Text {
            content: "paid".into(),
        }],
    )
    .await
    .unwrap();
    notes(&env, u, 1).await;
    wait_for(WAIT, || async {
        (count_in_state(&env, EventState::Failed).await == 1).then_some(())
    })
    .await
    .unwrap();

    let (ok, stdout, stderr) = run(&["status", "--json"], &env).await;
    assert!(ok, "{stderr}");
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert!(
        v["directions"]["zalo_to_freshchat"]["synced"]
            .as_i64()
            .unwrap()
            >= 1,
        "{v}"
    );
    assert_eq!(v["directions"]["freshchat_to_zalo"]["failed"], 1, "{v}");
    assert_eq!(v["zalo_token"]["connected"], true);
    assert!(
        v["failed"][0]["reason"].as_str().unwrap().contains("-320"),
        "{v}"
    );
    let (ok, stdout, _) = run(&["status"], &env).await;
    assert!(
        ok && stdout.contains("Freshchat → Zalo") && stdout.contains("failed events"),
        "{stdout}"
    );

    let (ok, stdout, _) = run(&["failed", "list"], &env).await;
    assert!(
        ok && stdout.contains("zalo_paid_feature") && stdout.contains("message_create"),
        "{stdout}"
    );

    let metrics = reqwest::get(format!("{}/metrics", env.daemon_url()))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for name in [
        "zfsync_messages_synced_total",
        "zfsync_failures_total",
        "zfsync_webhooks_total",
        "zfsync_queue_depth",
        "zfsync_zalo_token_seconds_to_expiry",
        "zfsync_event_processing_seconds",
        "zfsync_upstream_call_seconds",
        "zfsync_webhook_ack_seconds_bucket{pairing=\"default\",source=\"zalo\"",
    ] {
        assert!(
            metrics.contains(name),
            "{name} missing from /metrics:\n{metrics}"
        );
    }
    assert!(!metrics.contains(u), "no user ids in metric labels");
}

/// `zfsync --version` names the release (the workspace's version, as CHANGELOG.md has it) and the
/// commit it was built from.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_version_names_the_release_and_the_commit() {
    let out = zfsync().arg("--version").output().await.unwrap();
    assert!(out.status.success());
    let line = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let version = env!("CARGO_PKG_VERSION");
    assert!(line.starts_with(&format!("zfsync {version} (")), "{line}");
    let commit = line.trim_end_matches(')').rsplit('(').next().unwrap();
    assert!(!commit.is_empty(), "{line}");
    let changelog =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/CHANGELOG.md")).unwrap();
    assert!(
        changelog.contains(&format!("## [{version}]")),
        "CHANGELOG.md has a section for {version}"
    );
}

/// `zfsync <args> run` on the environment's configuration with `vars` set, its stderr read as it
/// is written (a full pipe would stop the daemon at its next log line), once it answers
/// `/healthz`; the reader gives everything written until the daemon ends.
async fn daemon_logging(
    env: &Env,
    args: &[&str],
    vars: &[(&str, &str)],
) -> (tokio::process::Child, tokio::task::JoinHandle<Vec<u8>>) {
    let mut cmd = zfsync();
    cmd.args(args)
        .args(["run", "--config"])
        .arg(env.config_path())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    for (k, v) in vars {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let reader = tokio::spawn(async move {
        let mut all = Vec::new();
        let _ = tokio::io::AsyncReadExt::read_to_end(&mut stderr, &mut all).await;
        all
    });
    zfsync::tools::sandbox::wait_http_ok(
        &format!("{}/healthz", env.daemon_url()),
        Duration::from_secs(20),
    )
    .await
    .unwrap();
    (child, reader)
}

/// The daemon's stderr as a service manager or a file sees it: the first lines it writes until it
/// answers `/healthz`, with `vars` set.
async fn first_log_lines(env: &Env, vars: &[(&str, &str)]) -> String {
    let mut vars = vars.to_vec();
    vars.push(("RUST_LOG", "info"));
    let (mut child, reader) = daemon_logging(env, &[], &vars).await;
    sigterm(&child);
    child.wait().await.unwrap();
    String::from_utf8_lossy(&reader.await.unwrap()).into_owned()
}

/// Logs carry no colour codes when stderr is not a terminal (a file, a pipe, the journal), and
/// under systemd (`JOURNAL_STREAM` set) they are JSON lines unless `--log-format` says otherwise.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_are_plain_off_a_terminal_and_json_under_systemd() {
    let env = Env::new(EnvOptions::default()).await.unwrap();
    let plain = first_log_lines(&env, &[]).await;
    assert!(plain.contains("zfsync listening"), "{plain}");
    assert!(
        !plain.contains('\u{1b}'),
        "escape codes in a piped log: {plain:?}"
    );
    assert!(serde_json::from_str::<serde_json::Value>(plain.lines().next().unwrap()).is_err());

    let journal = first_log_lines(&env, &[("JOURNAL_STREAM", "8:12345")]).await;
    let lines: Vec<serde_json::Value> = journal
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|_| panic!("not JSON: {l}")))
        .collect();
    assert!(
        lines.iter().any(|l| l["message"] == "zfsync listening"),
        "{journal}"
    );
    assert!(!journal.contains('\u{1b}'));
}

/// `zfsync run` before the OA is connected says so as it starts, with the command that connects
/// it; once connected, it says nothing of the kind.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_warns_until_zalo_is_connected() {
    let env = Env::new(EnvOptions::default()).await.unwrap();
    let log = first_log_lines(&env, &[]).await;
    assert!(log.contains("Zalo is not connected yet"), "{log}");
    assert!(
        log.contains(&format!(
            "run 'zfsync connect zalo --config {}'",
            env.config_path().display()
        )),
        "{log}"
    );
    connect_with_a_code(&env).await;
    let log = first_log_lines(&env, &[]).await;
    assert!(log.contains("zfsync listening"), "{log}");
    assert!(!log.contains("not connected"), "{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_logs_carry_ids_but_never_secrets() {
    let env = Env::new(EnvOptions::default()).await.unwrap();
    let config = std::fs::read_to_string(env.config_path()).unwrap();
    let secret = |key: &str| {
        config
            .lines()
            .find(|l| l.starts_with(key))
            .and_then(|l| l.split('"').nth(1))
            .unwrap()
            .to_string()
    };
    let secrets = [
        secret("app_secret"),
        secret("oa_secret_key"),
        secret("api_key"),
    ];
    let (mut child, reader) =
        daemon_logging(&env, &["--log-format", "json"], &[("RUST_LOG", "debug")]).await;
    env.connect_zalo().await.unwrap();
    let u = "5234000000000000778";
    let conv = start_conversation(&env, u).await;
    env.agent_says(
        &conv,
        &env.freshchat.default_agent_id(),
        &[MessagePart::Text {
            content: "hi".into(),
        }],
    )
    .await
    .unwrap();
    zalo_sent(&env, u, 1).await;
    settle(&env).await;
    child.start_kill().unwrap();
    child.wait().await.unwrap();
    let out = reader.await.unwrap();
    let log = String::from_utf8_lossy(&out);
    let lines: Vec<serde_json::Value> = log
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    assert!(!lines.is_empty(), "JSON lines: {log}");
    let synced: Vec<&serde_json::Value> = lines
        .iter()
        .filter(|l| {
            l["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("synced"))
        })
        .collect();
    assert_eq!(synced.len(), 2, "one line per synced message: {log}");
    assert!(
        synced
            .iter()
            .all(|l| l["zalo_msg_id"].is_string() && l["freshchat_message_id"].is_string()),
        "both ids"
    );
    for s in &secrets {
        assert!(!log.contains(s.as_str()), "a secret reached the log");
    }
    let tokens = stored_tokens(&env).await;
    assert!(
        !log.contains(&tokens.access_token) && !log.contains(&tokens.refresh_token),
        "a token reached the log"
    );
}

/// Anyone who can reach /oauth/zalo/start could try to connect the daemon to their own OA: the
/// callback refuses tokens for another OA than the one configured or already connected.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oauth_callback_refuses_another_oa() {
    let env = env().await;
    let before = stored_tokens(&env).await.access_token;
    // Pin the daemon to another OA id than the simulator's, restart, and run the flow again.
    let cfg = std::fs::read_to_string(env.config_path()).unwrap().replace(
        &format!("oa_id = \"{}\"", env.zalo.config().oa_id),
        "oa_id = \"999\"",
    );
    std::fs::write(env.config_path(), cfg).unwrap();
    let mut env = env;
    env.stop_daemon().await;
    env.start_daemon().await.unwrap();
    let err = env.connect_zalo().await.unwrap_err().to_string();
    assert!(
        err.contains("this pairing serves OA 999") && err.contains("Nothing was changed"),
        "{err}"
    );
    let after = stored_tokens(&env).await.access_token;
    assert_eq!(before, after, "the stored pair is untouched");
}

/// What Zalo needs before it accepts the webhook URL: a verified domain, and a 200 to its check.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zalo_can_verify_the_domain_and_check_the_webhook_url() {
    let mut env = Env::new(EnvOptions::default()).await.unwrap();
    let cfg = std::fs::read_to_string(env.config_path())
        .unwrap()
        .replace("[zalo]\n", "[zalo]\nsite_verification = \"Ab12Cd34\"\n");
    std::fs::write(env.config_path(), cfg).unwrap();
    env.start_daemon().await.unwrap();
    let base = env.daemon_url();
    let home = reqwest::get(format!("{base}/"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        home.contains(r#"<meta name="zalo-platform-site-verification" content="Ab12Cd34">"#),
        "{home}"
    );
    let file = reqwest::get(format!("{base}/zalo_verifierAb12Cd34.html"))
        .await
        .unwrap();
    assert_eq!(file.status(), 200);
    assert_eq!(
        reqwest::get(format!("{base}/zalo_verifierOTHER.html"))
            .await
            .unwrap()
            .status(),
        404
    );
    // Saving the URL: Zalo's check (no signature, no event) gets 200 and stores nothing.
    let client = reqwest::Client::new();
    for body in ["", "{}", r#"{"app_id":"1"}"#] {
        let r = client
            .post(format!("{base}/webhooks/zalo"))
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "check body {body:?}");
    }
    // An event without a signature is still refused.
    let event =
        r#"{"event_name":"user_send_text","timestamp":"1","message":{"msg_id":"x","text":"hi"}}"#;
    let r = client
        .post(format!("{base}/webhooks/zalo"))
        .body(event)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(store(&env).inbox_count().await.unwrap(), 0);
}

/// A reader that stops early (`zfsync status | head -1`) ends the command quietly: no panic
/// message, no backtrace, success.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_end_quietly_when_their_reader_goes_away() {
    let env = Env::new(EnvOptions::default()).await.unwrap();
    let config = env.config_path().display().to_string();
    for args in [
        vec!["status", "--config", &config],
        vec!["pairing", "list", "--config", &config],
        vec!["failed", "list", "--config", &config],
        vec!["completions", "bash"],
    ] {
        let mut child = zfsync()
            .args(&args)
            .env("RUST_BACKTRACE", "1")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // The reader is gone before the command writes its first line.
        drop(child.stdout.take());
        let out = child.wait_with_output().await.unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success() && !stderr.contains("panicked"),
            "zfsync {args:?}: {:?}\n{stderr}",
            out.status
        );
    }
}
