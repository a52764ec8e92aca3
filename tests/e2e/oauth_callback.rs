//! The public OAuth callback as a stranger meets it, between the daemon and the Zalo simulator on
//! loopback: a junk code, a consent for another OA, a `code_challenge` that is not the attempt's, and
//! a daemon that does not know its OA. None of them may use up or spoil the attempt an operator
//! started, each is counted in `/metrics`, and the operator's own consent still connects.
#![allow(clippy::unwrap_used)]

use zfsync::tools::sandbox::{Env, EnvOptions};

use crate::helpers::{store, zfsync, COMMAND_TIMEOUT};

const ATTACKER_OA: &str = "4999999999999999999";

/// A browser that shows redirects instead of following them.
pub fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// The `Location` a URL redirects to (asked with the operator token when given).
pub async fn redirect_of(url: &str, token: Option<&str>) -> String {
    let mut req = browser().get(url);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let r = req.send().await.unwrap();
    assert!(r.status().is_redirection(), "{url}: {}", r.status());
    r.headers()["location"].to_str().unwrap().to_string()
}

/// An operator opens the start link: the URL of Zalo's consent page for a new attempt.
pub async fn start_attempt(env: &Env) -> String {
    redirect_of(
        &format!("{}/oauth/zalo/start", env.daemon_url()),
        Some(&env.admin_token),
    )
    .await
}

/// The admin allows on Zalo's consent page: the callback URL Zalo redirects the browser to.
pub async fn allow(consent_url: &str) -> String {
    redirect_of(consent_url, None).await
}

/// Opens a URL as a browser: the status and the page.
pub async fn open(url: &str) -> (u16, String) {
    let r = browser().get(url).send().await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

/// `url` with the query parameter `name` set to `value` (added when absent), or removed (`None`).
pub fn with_param(url: &str, name: &str, value: Option<&str>) -> String {
    let mut u = url::Url::parse(url).unwrap();
    let kept: Vec<(String, String)> = u
        .query_pairs()
        .into_owned()
        .filter(|(k, _)| k != name)
        .collect();
    {
        let mut q = u.query_pairs_mut();
        q.clear();
        for (k, v) in &kept {
            q.append_pair(k, v);
        }
        if let Some(v) = value {
            q.append_pair(name, v);
        }
    }
    u.to_string()
}

/// A query parameter of a URL.
pub fn param(url: &str, name: &str) -> Option<String> {
    url::Url::parse(url)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

async fn pending_attempts(env: &Env) -> i64 {
    store(env).oauth_attempt_count().await.unwrap()
}

async fn stored_oa(env: &Env) -> Option<String> {
    store(env).tokens().await.unwrap().and_then(|t| t.oa_id)
}

/// The value of one series of the daemon's `/metrics` (0 when it was never counted). Other tests
/// in this process count too, so tests compare before and after.
pub async fn metric(env: &Env, series: &str) -> f64 {
    let text = reqwest::get(format!("{}/metrics", env.daemon_url()))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or(0.0)
}

fn callbacks(outcome: &str) -> String {
    format!("zfsync_oauth_callbacks_total{{pairing=\"default\",outcome=\"{outcome}\"}}")
}

/// A daemon that is not connected yet.
async fn fresh(opts: EnvOptions) -> Env {
    let mut env = Env::new(opts).await.unwrap();
    env.start_daemon().await.unwrap();
    env
}

/// Someone polls the callback with junk while an operator's consent is under way: every junk code
/// is refused and counted, the attempt stays pending, and the operator's consent then connects.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_junk_code_does_not_spoil_the_operators_pending_attempt() {
    let env = fresh(EnvOptions::default()).await;
    let (refused_before, consumed_before) = (
        metric(&env, &callbacks("exchange_failed")).await,
        metric(&env, &callbacks("consumed")).await,
    );
    let consent = start_attempt(&env).await;
    assert_eq!(pending_attempts(&env).await, 1);
    for _ in 0..3 {
        let (status, page) = open(&format!(
            "{}/oauth/zalo/callback?code=junk",
            env.daemon_url()
        ))
        .await;
        assert_eq!(status, 400, "{page}");
        assert_eq!(
            pending_attempts(&env).await,
            1,
            "the junk code used up the attempt"
        );
    }
    assert_eq!(stored_oa(&env).await, None);
    // The admin allows: the operator's attempt connects.
    let (status, page) = open(&allow(&consent).await).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("connected to Zalo"), "{page}");
    assert_eq!(stored_oa(&env).await, Some(env.zalo.config().oa_id));
    assert_eq!(
        pending_attempts(&env).await,
        0,
        "a connection uses its attempt up"
    );
    assert!(metric(&env, &callbacks("exchange_failed")).await >= refused_before + 3.0);
    assert!(metric(&env, &callbacks("consumed")).await > consumed_before);
}

/// A stranger allows the app with their own OA and sends the code to the daemon while an operator's
/// attempt is pending: refused whether the callback names their OA or lies about it, nothing is
/// stored, and the operator's consent still connects.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consent_for_another_oa_is_refused_and_stores_nothing() {
    let env = fresh(EnvOptions::default()).await;
    let ours = env.zalo.config().oa_id;
    let wrong_before = metric(&env, &callbacks("wrong_oa")).await;
    let consent = start_attempt(&env).await;

    env.zalo.approve_as(ATTACKER_OA);
    // As Zalo redirects it: the callback names the stranger's OA.
    let (status, page) = open(&format!(
        "{}/oauth/zalo/callback?code={}&oa_id={ATTACKER_OA}",
        env.daemon_url(),
        env.zalo.issue_code(None)
    ))
    .await;
    assert_eq!(status, 400, "{page}");
    assert!(page.contains(ATTACKER_OA) && page.contains(&ours), "{page}");
    // Lying about the OA: Zalo's getoa tells the truth after the exchange.
    let (status, page) = open(&format!(
        "{}/oauth/zalo/callback?code={}&oa_id={ours}",
        env.daemon_url(),
        env.zalo.issue_code(None)
    ))
    .await;
    assert_eq!(status, 400, "{page}");
    assert!(page.contains(ATTACKER_OA), "{page}");
    assert_eq!(stored_oa(&env).await, None, "nothing stored");
    assert_eq!(
        pending_attempts(&env).await,
        1,
        "the operator's attempt is intact"
    );
    assert!(metric(&env, &callbacks("wrong_oa")).await >= wrong_before + 2.0);

    env.zalo.approve_as(&ours);
    let (status, page) = open(&allow(&consent).await).await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(stored_oa(&env).await, Some(ours));
}

/// The admin allowed with the wrong OA: refused, and the attempt was kept. Starting again replaces
/// it, so the retry is not refused as one of "more than one" pending attempts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_refusal_the_operators_next_start_replaces_the_attempt() {
    let env = fresh(EnvOptions::default()).await;
    let ours = env.zalo.config().oa_id;
    env.zalo.approve_as(ATTACKER_OA);
    let (status, page) = open(&allow(&start_attempt(&env).await).await).await;
    assert_eq!(status, 400, "{page}");
    assert_eq!(pending_attempts(&env).await, 1);
    env.zalo.approve_as(&ours);
    let consent = start_attempt(&env).await;
    assert_eq!(
        pending_attempts(&env).await,
        1,
        "the refused attempt was replaced"
    );
    let (status, page) = open(&allow(&consent).await).await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(stored_oa(&env).await, Some(ours));
}

/// When Zalo echoes the PKCE `code_challenge`, it must be the pending attempt's: another one is
/// refused before the code is spent (with `state` or without), and the real callback then connects.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_echoed_code_challenge_that_is_not_the_attempts_is_refused() {
    let env = fresh(EnvOptions {
        zalo_callback_code_challenge: true,
        ..EnvOptions::default()
    })
    .await;
    let before = metric(&env, &callbacks("challenge_mismatch")).await;
    let consent = start_attempt(&env).await;
    let state = param(&consent, "state").unwrap();
    let callback = allow(&consent).await;
    let echoed = param(&callback, "code_challenge").expect("the simulator echoes it");
    let other = zfsync_zalo::Pkce::generate().unwrap().challenge;
    assert_ne!(echoed, other);

    // With the attempt's own state, but another challenge.
    let forged = with_param(
        &with_param(&callback, "code_challenge", Some(&other)),
        "state",
        Some(&state),
    );
    let (status, page) = open(&forged).await;
    assert_eq!(status, 400, "{page}");
    assert!(page.contains("code_challenge"), "{page}");
    // Without state: no attempt has that challenge.
    let (status, page) = open(&with_param(&callback, "code_challenge", Some(&other))).await;
    assert_eq!(status, 400, "{page}");
    assert_eq!(stored_oa(&env).await, None);
    assert_eq!(pending_attempts(&env).await, 1);
    assert!(metric(&env, &callbacks("challenge_mismatch")).await >= before + 2.0);

    // The code was never spent: Zalo's own redirect still connects.
    let (status, page) = open(&callback).await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(stored_oa(&env).await, Some(env.zalo.config().oa_id));
}

fn without_oa_id(env: &Env) {
    let text = std::fs::read_to_string(env.config_path()).unwrap();
    let line = format!("oa_id = \"{}\"\n", env.zalo.config().oa_id);
    assert!(text.contains(&line), "{text}");
    std::fs::write(env.config_path(), text.replace(&line, "")).unwrap();
}

async fn run(cmd: &mut tokio::process::Command) -> (bool, String, String) {
    let out = tokio::time::timeout(COMMAND_TIMEOUT, cmd.output())
        .await
        .expect("zfsync did not finish within 60 s")
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// With `zalo.oa_id` unset and nothing connected, no browser consent binds an OA: the start link
/// and `connect zalo` say to set it, and a callback (even for an attempt already pending) stores
/// nothing. A code pasted into `connect zalo --code` on the server connects the OA Zalo confirms
/// and prints the line to add.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_an_expected_oa_the_browser_binds_nothing() {
    let mut env = Env::new(EnvOptions::default()).await.unwrap();
    without_oa_id(&env);
    env.start_daemon().await.unwrap();
    let before = metric(&env, &callbacks("no_expected_oa")).await;

    let r = browser()
        .get(format!("{}/oauth/zalo/start", env.daemon_url()))
        .bearer_auth(&env.admin_token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 409);
    assert!(r.text().await.unwrap().contains("zalo.oa_id"));
    assert_eq!(pending_attempts(&env).await, 0);
    let console = format!("{}/console/connect", env.daemon_url());
    let page = crate::helpers::operator_page(&env, &console).await;
    assert!(
        page.contains("id=\"no-oa-id\"") && page.contains("zalo.oa_id"),
        "{page}"
    );

    let (ok, _, stderr) = run(zfsync()
        .args(["connect", "zalo", "--config"])
        .arg(env.config_path()))
    .await;
    assert!(!ok && stderr.contains("zalo.oa_id"), "{stderr}");

    // An attempt pending from before (or a start link naming no OA): its callback is refused.
    let redirect = format!("{}/oauth/zalo/callback", env.daemon_url());
    let consent = zfsync::oauth::start(
        env.daemon_store().unwrap(),
        &zfsync_zalo::ZaloClient::new({
            let c = env.config().unwrap();
            let mut z = zfsync_zalo::ClientConfig::new(c.zalo.app_id.clone(), c.zalo_app_secret());
            z.oauth_base = c.zalo.oauth_base.clone();
            z.api_base = c.zalo.api_base.clone();
            z
        })
        .unwrap(),
        &redirect,
        None,
    )
    .await
    .unwrap();
    let (status, page) = open(&allow(consent.as_str()).await).await;
    assert_eq!(status, 400, "{page}");
    assert!(page.contains("zalo.oa_id"), "{page}");
    assert_eq!(stored_oa(&env).await, None);
    assert_eq!(pending_attempts(&env).await, 1);
    assert!(metric(&env, &callbacks("no_expected_oa")).await > before);

    // The operator, at the server, pastes a code: Zalo names the OA, and it is connected.
    let ours = env.zalo.config().oa_id;
    let (ok, stdout, stderr) = run(zfsync()
        .args([
            "connect",
            "zalo",
            "--code",
            &env.zalo.issue_code(None),
            "--config",
        ])
        .arg(env.config_path()))
    .await;
    assert!(ok, "{stdout}{stderr}");
    assert!(
        stdout.contains(&format!("(OA id {ours})"))
            && stdout.contains(&format!("oa_id = \"{ours}\"")),
        "{stdout}"
    );
    assert_eq!(stored_oa(&env).await, Some(ours));
}

/// An admin token shorter than 24 characters stops the daemon at start-up, from the file or the
/// environment, with the key and the fix, and without the token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_short_admin_token_is_refused_at_start() {
    let env = Env::new(EnvOptions::default()).await.unwrap();
    let text = std::fs::read_to_string(env.config_path()).unwrap();
    let short = "guessable-token-1234567";
    assert_eq!(short.len(), 23);
    std::fs::write(env.config_path(), text.replace(&env.admin_token, short)).unwrap();
    for (cmd, env_token) in [
        ("run", None),
        ("admin-token", None),
        ("admin-token", Some("tiny")),
    ] {
        let mut c = zfsync();
        c.args([cmd, "--config"]).arg(env.config_path());
        if let Some(t) = env_token {
            c.env("ZFSYNC_ADMIN_TOKEN", t);
        }
        let (ok, stdout, stderr) = run(&mut c).await;
        assert!(!ok, "{cmd}: {stdout}");
        assert!(
            stderr.contains("server.admin_token") && stderr.contains("at least 24"),
            "{stderr}"
        );
        assert!(
            !stderr.contains(short) && !stdout.contains(short),
            "{stderr}"
        );
    }
    // 24 characters are enough.
    let long_enough = format!("{short}8");
    let mut c = zfsync();
    c.args(["admin-token", "--config"])
        .arg(env.config_path())
        .env("ZFSYNC_ADMIN_TOKEN", &long_enough);
    let (ok, stdout, stderr) = run(&mut c).await;
    assert!(ok, "{stderr}");
    assert_eq!(stdout.trim(), long_enough);
}
