//! `zfsync init` end to end: the real binary against both simulators on loopback. On a
//! pseudo-terminal (as a person types, wrong values included, each asked again with the fix), then
//! `zfsync connect zalo` and `zfsync check` on what it wrote; and through flags, standard input and
//! the environment, as a script does (refusals, `--force`, `--skip-checks`, a non-terminal stdin).
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::{Output, Stdio};
use std::time::Duration;

use secrecy::ExposeSecret as _;
use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _};
use zfsync::config::{read_secrets_file, Config};
use zfsync::tools::sandbox::{Env, EnvOptions};

use crate::helpers::{clean_env, zfsync, ZFSYNC_BIN};

/// The values an operator copies from both platforms (the simulators' own).
struct Values {
    fc_base: String,
    fc_key: String,
    fc_app_id: String,
    fc_pem: String,
    zalo_app_id: String,
    zalo_app_secret: String,
    zalo_oa_secret: String,
    zalo_oa_id: String,
    zalo_api: String,
    zalo_oauth: String,
    public_url: String,
    listen: String,
}

impl Values {
    fn of(env: &Env) -> Values {
        let z = env.zalo.config();
        let trim = |u: url::Url| u.as_str().trim_end_matches('/').to_string();
        // The setup written here is the daemon's, run as processes of its own.
        env.release_port();
        Values {
            fc_base: trim(env.freshchat.base_url()),
            fc_key: env.freshchat.api_key().to_string(),
            fc_app_id: env.freshchat.app_id().to_string(),
            fc_pem: env.freshchat.public_key_pem(),
            zalo_app_id: z.app_id.clone(),
            zalo_app_secret: z.app_secret.clone(),
            zalo_oa_secret: z.oa_secret_key.clone(),
            zalo_oa_id: z.oa_id.clone(),
            zalo_api: trim(env.zalo.api_base()),
            zalo_oauth: trim(env.zalo.oauth_base()),
            public_url: env.daemon_url(),
            listen: env.daemon_addr.to_string(),
        }
    }

    fn secrets(&self) -> [&str; 3] {
        [&self.fc_key, &self.zalo_app_secret, &self.zalo_oa_secret]
    }
}

/// A channel id of the Freshchat simulator, by name.
async fn channel_id(env: &Env, name: &str) -> String {
    let client = zfsync_freshchat::FreshchatClient::new(zfsync_freshchat::ClientConfig::new(
        env.freshchat.base_url(),
        secrecy::SecretString::from(env.freshchat.api_key().to_string()),
    ))
    .unwrap();
    let channels = client.list_channels().await.unwrap();
    channels
        .into_iter()
        .find(|c| c.name.as_deref() == Some(name))
        .unwrap()
        .id
}

/// A server that answers every path with an HTML page, as a helpdesk's web address does.
async fn html_server() -> (String, tokio::task::JoinHandle<()>) {
    let app = axum::Router::new().fallback(|| async {
        axum::response::Html("<!doctype html><html><body>Welcome to our helpdesk</body></html>")
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (url, server)
}

/// `zfsync init <args>` on a pseudo-terminal, with echo on and a real size as in a terminal window
/// (a secret that a prompt echoed would show), and everything it showed so far.
struct Terminal {
    p: rexpect::session::PtySession,
    seen: String,
}

impl Terminal {
    fn start(args: &str) -> Terminal {
        let script = format!("stty echo rows 50 cols 200; exec \"$0\" init {args}");
        let mut sh = std::process::Command::new("sh");
        sh.arg("-c")
            .arg(script)
            .arg(ZFSYNC_BIN)
            .env("TERM", "xterm");
        clean_env(&mut sh);
        Terminal {
            p: rexpect::session::spawn_command(sh, Some(60_000)).unwrap(),
            seen: String::new(),
        }
    }

    /// Waits for `needle` (ASCII: rexpect reads the output byte by byte as Latin-1).
    fn expect(&mut self, needle: &str) {
        let before = self
            .p
            .exp_string(needle)
            .unwrap_or_else(|e| panic!("waiting for {needle:?}: {e}\nso far:\n{}", self.seen));
        self.seen.push_str(&before);
        self.seen.push_str(needle);
    }

    /// Waits for the end, and returns what was shown and how the wizard ended.
    fn end(mut self) -> (String, rexpect::process::WaitStatus) {
        self.seen.push_str(&self.p.exp_eof().unwrap());
        let status = self.p.process().wait().unwrap();
        (self.seen, status)
    }
}

/// Drives the wizard on a pseudo-terminal and returns everything it showed.
fn type_answers(v: &Values, config: &Path, html_url: &str) -> String {
    let mut t = Terminal::start(&format!(
        "--config '{}' --listen {} --zalo-api-base {} --zalo-oauth-base {}",
        config.display(),
        v.listen,
        v.zalo_api,
        v.zalo_oauth
    ));
    let p = &mut t;

    // Freshchat: the helpdesk's web address first, then the API.
    p.expect("Freshchat API URL: ");
    p.p.send_line(html_url).unwrap();
    p.expect("it answered HTML");
    p.expect("Enter Freshchat API URL again.");
    p.expect("Freshchat API URL: ");
    p.p.send_line(&v.fc_base).unwrap();
    p.expect("the Freshchat API answers at");
    // A key that is not the account's, then the right one.
    p.expect("Freshchat API key: ");
    p.p.send_line("not-the-account-key").unwrap();
    p.expect("Access denied: the API key was refused");
    // rexpect reads the output byte by byte as Latin-1: needles stay ASCII.
    p.expect("fix: generate a new one in Freshchat Admin");
    p.expect("Enter Freshchat API key again.");
    p.expect("Freshchat API key: ");
    p.p.send_line(&v.fc_key).unwrap();
    p.expect("API key accepted");
    // The account's App ID is offered; Enter takes it.
    p.expect(&format!("Freshchat App ID [{}]: ", v.fc_app_id));
    p.p.send_line("").unwrap();
    p.expect("matches the account's App ID");
    // The key as Freshchat shows it, on several lines.
    p.expect("Freshchat webhook public key (paste it, then Enter): ");
    for line in v.fc_pem.lines() {
        p.p.send_line(line).unwrap();
    }
    p.expect("RSA public key parsed");
    // Two channels: "Zalo" is preselected; Enter takes it.
    p.expect("Freshchat channel for new Zalo conversations");
    p.expect("Website");
    p.expect("Choose 1-2");
    p.p.send_line("").unwrap();
    p.expect("new conversations go to \"Zalo\"");

    // Zalo: the OA Secret Key typed where the App Secret Key belongs, then the right one.
    p.expect("Zalo App ID: ");
    p.p.send_line(&v.zalo_app_id).unwrap();
    p.expect("Zalo App Secret Key: ");
    p.p.send_line(&v.zalo_oa_secret).unwrap();
    p.expect("Zalo refused the App Secret Key");
    p.expect("Enter Zalo App Secret Key again.");
    p.expect("Zalo App Secret Key: ");
    p.p.send_line(&v.zalo_app_secret).unwrap();
    p.expect("accepts App ID");
    p.expect("Zalo OA Secret Key: ");
    p.p.send_line(&v.zalo_oa_secret).unwrap();
    // The OA's id, explained; its name typed first, then the number.
    p.expect("a consent given for any other OA is refused");
    p.expect("oa.zalo.me");
    p.expect("Zalo OA ID: ");
    p.p.send_line("zfsync Sandbox OA").unwrap();
    p.expect("is not an OA ID: it is a number");
    p.expect("Enter Zalo OA ID again.");
    p.expect("Zalo OA ID: ");
    p.p.send_line(&v.zalo_oa_id).unwrap();

    // This server: reachable through the public URL (the one-off probe answers on --listen).
    p.expect("Public URL of this server: ");
    p.p.send_line(&v.public_url).unwrap();
    p.expect("reaches this machine");

    // The customers' language: English, one down from Vietnamese.
    p.expect("Language of the texts customers read on Zalo");
    p.expect("2) English (en)");
    p.expect("Choose 1-2 [1]: ");
    p.p.send_line("2").unwrap();
    // The agents' language, asked apart: Vietnamese, the first choice, taken with Enter.
    p.expect("Language of the notes agents read in Freshchat");
    p.expect("English (en)");
    p.expect("Choose 1-2 [1]: ");
    p.p.send_line("").unwrap();

    p.expect("Paste these URLs:");
    p.expect("Next: zfsync connect zalo --config");
    let (seen, status) = t.end();
    assert!(
        matches!(status, rexpect::process::WaitStatus::Exited(_, 0)),
        "{status:?}\n{seen}"
    );
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_wizard_asks_again_and_writes_a_setup_that_connects_and_checks() {
    let env = Env::new(EnvOptions::default()).await.unwrap();
    let v = Values::of(&env);
    let site = tempfile::tempdir().unwrap();
    let config_path = site.path().join("zfsync.toml");
    let (html_url, html) = html_server().await;

    let seen = {
        let (v, config, html) = (Values::of(&env), config_path.clone(), html_url.clone());
        tokio::task::spawn_blocking(move || type_answers(&v, &config, &html))
            .await
            .unwrap()
    };
    html.abort();
    for secret in v.secrets() {
        assert!(!seen.contains(secret), "a secret was shown:\n{seen}");
    }
    assert!(
        seen.contains(&format!("{}/webhooks/zalo", v.public_url)),
        "{seen}"
    );
    assert!(seen.contains(&format!("{}/webhooks/freshchat", v.public_url)));
    assert!(seen.contains(&format!("{}/oauth/zalo/callback", v.public_url)));

    // What was written: a config that loads, and a private secrets file with every secret.
    let config = Config::load(&config_path).unwrap();
    assert_eq!(config.mapping.language.as_deref(), Some("en"));
    assert_eq!(config.mapping.agent_language.as_deref(), Some("vi"));
    assert_eq!(config.zalo.oa_id.as_deref(), Some(v.zalo_oa_id.as_str()));
    assert_eq!(
        config.freshchat.app_id.as_deref(),
        Some(v.fc_app_id.as_str())
    );
    assert_eq!(
        config.freshchat.channel_id,
        Some(channel_id(&env, "Zalo").await)
    );
    assert_eq!(config.server.listen.to_string(), v.listen);
    assert_eq!(
        config.freshchat_api_key().expose_secret(),
        v.fc_key.as_str()
    );
    let secrets_path = site.path().join("secrets.env");
    assert_eq!(config.secrets_file.as_deref(), Some(secrets_path.as_path()));
    let secrets = read_secrets_file(&secrets_path).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&secrets_path)
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    assert_eq!(secrets["ZFSYNC_ZALO_APP_SECRET"], v.zalo_app_secret);
    assert_eq!(secrets["ZFSYNC_ZALO_OA_SECRET_KEY"], v.zalo_oa_secret);
    assert!(secrets["ZFSYNC_ADMIN_TOKEN"].len() >= 40);
    use base64::Engine as _;
    let key = base64::engine::general_purpose::STANDARD
        .decode(&secrets["ZFSYNC_STORE_KEY"])
        .unwrap();
    assert_eq!(key.len(), 32);
    let config_text = std::fs::read_to_string(&config_path).unwrap();
    for secret in v.secrets() {
        assert!(
            !config_text.contains(secret),
            "a secret in the config:\n{config_text}"
        );
    }

    // The next step it printed: connect Zalo (an OA admin allows in the browser), then check.
    connect_zalo(&config_path).await;
    let check = zfsync()
        .args(["check", "--json", "--config"])
        .arg(&config_path)
        .output()
        .await
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&check.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&check.stderr)));
    assert_eq!(report["ok"], true, "{report:#}");
    assert_eq!(check.status.code(), Some(0));
}

/// `zfsync connect zalo --config F`: waits for the permission URL it prints, opens it as an OA
/// admin's browser does (the simulator approves and redirects to the callback), and waits for it
/// to finish.
async fn connect_zalo(config: &Path) {
    let mut child = zfsync()
        .args(["connect", "zalo", "--config"])
        .arg(config)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let url = tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if let Some(url) = line.trim().strip_prefix("http") {
                return format!("http{url}");
            }
        }
        panic!("connect ended without printing the permission URL");
    })
    .await
    .expect("no permission URL within 60 s");
    let page = reqwest::get(&url).await.unwrap();
    assert!(page.status().is_success(), "{}", page.status());
    let status = tokio::time::timeout(Duration::from_secs(60), child.wait())
        .await
        .expect("connect did not finish within 60 s")
        .unwrap();
    let mut rest = String::new();
    while let Ok(Some(line)) = lines.next_line().await {
        rest.push_str(&line);
        rest.push('\n');
    }
    assert!(status.success(), "{rest}");
    assert!(rest.contains("Connected to"), "{rest}");
}

/// Runs `zfsync init` with `args`, `stdin` on standard input and `envs` set.
async fn init(args: &[&str], stdin: &str, envs: &[(&str, &str)]) -> Output {
    let mut cmd = zfsync();
    cmd.arg("init")
        .args(args)
        .envs(envs.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = cmd.spawn().unwrap();
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin.as_bytes()).await.unwrap();
    drop(input);
    tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
        .await
        .expect("zfsync init did not finish within 60 s")
        .unwrap()
}

fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The flags of a complete scripted set-up; secrets as '-' except those in `from_env`.
fn script_args<'a>(v: &'a Values, config: &'a str) -> Vec<&'a str> {
    vec![
        "--non-interactive",
        "--config",
        config,
        "--freshchat-api-url",
        &v.fc_base,
        "--freshchat-api-key",
        "-",
        "--freshchat-webhook-public-key",
        "-",
        "--zalo-app-id",
        &v.zalo_app_id,
        "--zalo-app-secret",
        "-",
        "--oa-id",
        &v.zalo_oa_id,
        "--public-url",
        &v.public_url,
        "--listen",
        &v.listen,
        "--zalo-api-base",
        &v.zalo_api,
        "--zalo-oauth-base",
        &v.zalo_oauth,
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_script_sets_up_with_flags_stdin_and_the_environment() {
    let env = Env::new(EnvOptions::default()).await.unwrap();
    let v = Values::of(&env);
    let site = tempfile::tempdir().unwrap();
    let config_path = site.path().join("etc").join("zfsync.toml");
    let config = config_path.display().to_string();
    let mut args = script_args(&v, &config);
    args.extend(["--freshchat-channel", "Website"]);
    // The API key, the key (several lines) and the App Secret on stdin, in that order; the OA
    // Secret Key from the environment.
    let stdin = format!("{}\n{}{}\n", v.fc_key, v.fc_pem, v.zalo_app_secret);
    let oa_env = [("ZFSYNC_ZALO_OA_SECRET_KEY", v.zalo_oa_secret.as_str())];
    let out = init(&args, &stdin, &oa_env).await;
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(
        stdout.contains(&format!("{}/webhooks/zalo", v.public_url)),
        "{stdout}"
    );
    assert!(stdout.contains("zfsync connect zalo --config"), "{stdout}");
    for secret in v.secrets() {
        assert!(!stdout.contains(secret) && !stderr.contains(secret));
    }
    let loaded = Config::load(&config_path).unwrap();
    assert_eq!(
        loaded.freshchat.channel_id,
        Some(channel_id(&env, "Website").await)
    );
    assert_eq!(loaded.mapping.language.as_deref(), Some("vi"));
    assert_eq!(loaded.zalo.oa_id.as_deref(), Some(v.zalo_oa_id.as_str()));
    assert_eq!(
        loaded.freshchat.app_id.as_deref(),
        Some(v.fc_app_id.as_str())
    );
    assert_eq!(
        loaded.zalo_oa_secret_key().expose_secret(),
        v.zalo_oa_secret.as_str()
    );
    let secrets_path = site.path().join("etc").join("secrets.env");
    let first = read_secrets_file(&secrets_path).unwrap();

    // Existing files are refused, and nothing is asked or changed.
    let again = init(&args, &stdin, &oa_env).await;
    let (_, stderr) = text(&again);
    assert_eq!(again.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("already exists") && stderr.contains("--force"),
        "{stderr}"
    );
    assert_eq!(read_secrets_file(&secrets_path).unwrap(), first);

    // --force replaces them, with a new admin token and the same store key (the store stays
    // readable).
    args.push("--force");
    let forced = init(&args, &stdin, &oa_env).await;
    assert_eq!(forced.status.code(), Some(0), "{:?}", text(&forced));
    let second = read_secrets_file(&secrets_path).unwrap();
    assert_ne!(second["ZFSYNC_ADMIN_TOKEN"], first["ZFSYNC_ADMIN_TOKEN"]);
    assert_eq!(second["ZFSYNC_STORE_KEY"], first["ZFSYNC_STORE_KEY"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_a_script_a_failed_check_names_the_value_and_the_fix() {
    let env = Env::new(EnvOptions::default()).await.unwrap();
    let v = Values::of(&env);
    let site = tempfile::tempdir().unwrap();
    let config_path = site.path().join("zfsync.toml");
    let config = config_path.display().to_string();
    let args = script_args(&v, &config);
    let oa_env = [("ZFSYNC_ZALO_OA_SECRET_KEY", v.zalo_oa_secret.as_str())];

    // A refused API key.
    let stdin = format!("not-the-key\n{}{}\n", v.fc_pem, v.zalo_app_secret);
    let out = init(&args, &stdin, &oa_env).await;
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("--freshchat-api-key (ZFSYNC_FRESHCHAT_API_KEY): Access denied"),
        "{stderr}"
    );
    assert!(
        stderr.contains("fix: generate a new one in Freshchat Admin"),
        "{stderr}"
    );
    assert!(!stderr.contains("not-the-key"), "{stderr}");
    assert!(!config_path.exists() && !site.path().join("secrets.env").exists());

    // An App ID Zalo does not know.
    let stdin = format!("{}\n{}{}\n", v.fc_key, v.fc_pem, v.zalo_app_secret);
    let mut wrong_app = args.clone();
    let at = wrong_app
        .iter()
        .position(|a| *a == "--zalo-app-id")
        .unwrap();
    wrong_app[at + 1] = "1111";
    let out = init(&wrong_app, &stdin, &oa_env).await;
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("--zalo-app-id (zalo.app_id): Zalo does not know App ID 1111"),
        "{stderr}"
    );

    // A public URL that does not reach this machine.
    let mut unreachable = args.clone();
    let at = unreachable
        .iter()
        .position(|a| *a == "--public-url")
        .unwrap();
    let (html_url, html) = html_server().await;
    unreachable[at + 1] = &html_url;
    let out = init(&unreachable, &stdin, &oa_env).await;
    html.abort();
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("--public-url (server.public_url)"),
        "{stderr}"
    );
    assert!(stderr.contains("--skip-checks"), "{stderr}");

    // A secret on the command line is refused without being repeated.
    let mut literal = args.clone();
    let at = literal
        .iter()
        .position(|a| *a == "--zalo-app-secret")
        .unwrap();
    literal[at + 1] = "typed-in-the-open";
    let out = init(&literal, &stdin, &oa_env).await;
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("--zalo-app-secret takes '-'"), "{stderr}");
    assert!(!stderr.contains("typed-in-the-open"), "{stderr}");

    // An OA ID that is not one (its alias), and none at all.
    let mut alias = args.clone();
    let at = alias.iter().position(|a| *a == "--oa-id").unwrap();
    alias[at + 1] = "@zfsync-shop";
    let out = init(&alias, &stdin, &oa_env).await;
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("--oa-id (zalo.oa_id): \"@zfsync-shop\" is not an OA ID"),
        "{stderr}"
    );
    assert!(stderr.contains("oa.zalo.me"), "{stderr}");
    alias.drain(at..at + 2);
    let out = init(&alias, &stdin, &oa_env).await;
    let (_, stderr) = text(&out);
    assert!(
        stderr.contains("--oa-id is required with --non-interactive"),
        "{stderr}"
    );
    assert!(!config_path.exists());

    // A required value left out.
    let mut missing = args.clone();
    let at = missing.iter().position(|a| *a == "--zalo-app-id").unwrap();
    missing.drain(at..at + 2);
    let out = init(&missing, &stdin, &oa_env).await;
    let (_, stderr) = text(&out);
    assert!(
        stderr.contains("--zalo-app-id is required with --non-interactive"),
        "{stderr}"
    );
    assert!(!config_path.exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn skip_checks_sets_up_offline() {
    // Nothing listens on these: with --skip-checks nothing is contacted.
    let closed = "http://127.0.0.1:9";
    let site = tempfile::tempdir().unwrap();
    let config_path = site.path().join("zfsync.toml");
    let config = config_path.display().to_string();
    let env = Env::new(EnvOptions::default()).await.unwrap();
    let pem_one_line = env.freshchat.public_key_pem_one_line();
    let args = [
        "--non-interactive",
        "--skip-checks",
        "--config",
        &config,
        "--freshchat-api-url",
        closed,
        "--freshchat-webhook-public-key",
        &pem_one_line,
        "--freshchat-channel",
        "Zalo",
        "--zalo-app-id",
        "1234567890123456789",
        "--oa-id",
        "4318848795011111111",
        "--zalo-oauth-base",
        closed,
        "--public-url",
        "https://zfsync.example.com",
        "--language",
        "en",
    ];
    let envs = [
        ("ZFSYNC_FRESHCHAT_API_KEY", "offline-key"),
        ("ZFSYNC_ZALO_APP_SECRET", "offline-app-secret"),
        ("ZFSYNC_ZALO_OA_SECRET_KEY", "offline-oa-secret"),
    ];
    let out = init(&args, "", &envs).await;
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(stdout.contains("Checks were skipped"), "{stdout}");
    assert!(stdout.contains("https://zfsync.example.com/webhooks/freshchat"));
    let loaded = Config::load(&config_path).unwrap();
    assert_eq!(loaded.freshchat.channel_name.as_deref(), Some("Zalo"));
    assert_eq!(loaded.server.listen.to_string(), "127.0.0.1:8080");
    assert_eq!(loaded.mapping.language.as_deref(), Some("en"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_terminal_it_says_to_use_flags() {
    let site = tempfile::tempdir().unwrap();
    let config = site.path().join("zfsync.toml").display().to_string();
    let out = init(&["--config", &config], "", &[]).await;
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("not a terminal"), "{stderr}");
    assert!(stderr.contains("--non-interactive"), "{stderr}");
}

/// Offline: a platform that does not answer gets a choice (try again, go on as --skip-checks,
/// enter the value again, quit) instead of the same question for ever, and the end of input
/// stops the wizard with nothing written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offline_the_wizard_offers_retry_skip_or_quit_and_stops_at_end_of_input() {
    let site = tempfile::tempdir().unwrap();
    let config = site.path().join("zfsync.toml");
    // A loopback port nobody listens on: the connection is refused, as offline.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let seen = tokio::task::spawn_blocking(move || {
        let mut t = Terminal::start(&format!("--config '{}'", config.display()));
        t.expect("--skip-checks");
        t.expect("Freshchat API URL: ");
        t.p.send_line(&format!("http://{closed}")).unwrap();
        t.expect("cannot reach Freshchat");
        t.expect("Freshchat did not answer. What now?");
        t.expect("as --skip-checks does");
        t.expect("Quit (nothing is written)");
        t.expect("Choose 1-4 [1]: ");
        // Try again: the same URL is checked again, without asking.
        t.p.send_line("1").unwrap();
        t.expect("(from your last answer)");
        t.expect("Freshchat did not answer. What now?");
        t.expect("Choose 1-4 [1]: ");
        // Go on without live checks: the next question comes.
        t.p.send_line("2").unwrap();
        t.expect("Freshchat API key: ");
        t.p.send_line("a-key-that-nobody-checks-0123456789")
            .unwrap();
        t.expect("Freshchat App ID");
        // The end of input (Ctrl-D) stops, once, naming the question.
        t.p.send_control('d').unwrap();
        t.expect("standard input ended at");
        t.end()
    })
    .await
    .unwrap();
    let (seen, status) = seen;
    assert!(
        matches!(status, rexpect::process::WaitStatus::Exited(_, code) if code != 0),
        "{status:?}\n{seen}"
    );
    assert_eq!(
        seen.matches("Freshchat did not answer").count(),
        2,
        "one choice per failed try:\n{seen}"
    );
    assert!(seen.contains("nothing was written"), "{seen}");
    assert!(
        std::fs::read_dir(site.path()).unwrap().next().is_none(),
        "nothing is written"
    );
}
