//! `zfsync sandbox`: the scripted conversation between both simulators and the daemon (text,
//! emoji, a photo, a sticker, a long reply, a private note, a resolve), printed as a transcript
//! of what each side saw; with `--pairings N`, one more conversation per pairing, each with its
//! own simulators, and the checks that none reached another. A message that does not arrive is marked in the transcript and fails
//! the command.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use std::time::{Duration, Instant};

use bytes::Bytes;
use zfsync_freshchat::MessagePart;
use zfsync_zalo::sim::{SimUser, UserAction};

use super::{
    own_app, wait_for, Env, EnvOptions, ExtraPairing, FRESHCHAT_MEDIA_HOST, TINY_PNG,
    ZALO_MEDIA_HOST,
};

/// The Zalo user the scripted sandbox conversation comes from.
pub const SANDBOX_USER: &str = "5234000000000000001";

pub(super) struct Transcript {
    start: Instant,
    ok: bool,
}

impl Transcript {
    pub(super) fn line(&self, who: &str, text: &str) {
        let t = self.start.elapsed().as_secs_f64();
        for (i, l) in text.lines().enumerate() {
            if i == 0 {
                println!("{t:>7.3}s  {who:<22} {l}");
            } else {
                println!("{:>8}  {:<22} {l}", "", "");
            }
        }
    }
    pub(super) fn check(&mut self, ok: bool, what: &str) {
        if !ok {
            self.ok = false;
            self.line("!! MISSING", what);
        }
    }
}

fn describe_part(p: &MessagePart) -> String {
    match p {
        MessagePart::Text { content } => content.clone(),
        MessagePart::Image { url } => format!("[image] {url}"),
        MessagePart::File(f) => format!(
            "[file] {} {}",
            f.name.as_deref().unwrap_or(""),
            f.url.as_deref().unwrap_or("")
        ),
        MessagePart::Video { url, .. } => format!("[video] {url}"),
        other => format!("{other:?}"),
    }
}

pub(super) fn describe_zalo(m: &serde_json::Value) -> String {
    if let Some(t) = m.get("text").and_then(|t| t.as_str()) {
        if m.get("attachment").is_none() {
            return t.to_string();
        }
    }
    match m.pointer("/attachment/type").and_then(|t| t.as_str()) {
        Some("file") => format!(
            "[file] token {}",
            m.pointer("/attachment/payload/token")
                .and_then(|t| t.as_str())
                .unwrap_or("")
        ),
        Some(_) => format!(
            "[{}] {}",
            m.pointer("/attachment/payload/elements/0/media_type")
                .and_then(|t| t.as_str())
                .unwrap_or("attachment"),
            m.pointer("/attachment/payload/elements/0/attachment_id")
                .and_then(|t| t.as_str())
                .unwrap_or("")
        ),
        None => m.to_string(),
    }
}

/// Waits up to 10 s for messages the OA sends to the sandbox user after the first `before`.
async fn zalo_sent_since(env: &Env, before: usize) -> Option<Vec<zfsync_zalo::sim::SentRecord>> {
    wait_for(Duration::from_secs(10), || async {
        let sent = env.zalo.sent_to(SANDBOX_USER);
        (sent.len() > before).then(|| sent[before..].to_vec())
    })
    .await
}

/// Where the sandbox's daemon writes its log lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Logs {
    /// `zfsync.log` in the sandbox's folder (removed when the sandbox stops).
    InFolder,
    /// This file, kept afterwards (`--log-file`).
    File(PathBuf),
    /// Standard error, between the transcript's lines (`--show-logs`; the caller installed it).
    Stderr,
}

/// What `zfsync sandbox` was asked for.
#[derive(Debug, Clone)]
pub struct Options {
    /// Leave everything running afterwards, with the commands to drive it by hand.
    pub keep_running: bool,
    /// How many pairings the daemon serves (1: the default one only).
    pub pairings: usize,
    /// Where the log lines go.
    pub logs: Logs,
    /// `--log-format`, for a log file.
    pub log_format: Option<crate::telemetry::LogFormat>,
    /// `--rules`: the daemon's mapping rules instead of the built-in ones.
    pub rules: Option<std::path::PathBuf>,
}

/// `zfsync sandbox`: the scripted conversation with a printed transcript; with `pairings` above
/// 1, that many customers (pairings) in one daemon, each with its own pair of simulators.
pub async fn run(opts: Options) -> anyhow::Result<ExitCode> {
    let pairings = opts.pairings;
    let mapping_toml = match &opts.rules {
        Some(path) => {
            let path = std::path::absolute(path)?;
            // Read here first, so a mistake is told before anything starts.
            let text = std::fs::read_to_string(&path)
                .map_err(|e| anyhow::anyhow!("--rules {}: {e}", path.display()))?;
            zfsync_mappings::Rules::from_toml(&text)
                .map_err(|e| anyhow::anyhow!("--rules {}: {e}", path.display()))?;
            format!(
                "rules = {}",
                crate::init::toml_string(&path.display().to_string())
            )
        }
        None => String::new(),
    };
    let mut env = Env::new(EnvOptions {
        zalo_time_scale: 100.0,
        mapping_toml,
        ..EnvOptions::default()
    })
    .await?;
    let log_path = match &opts.logs {
        Logs::Stderr => None,
        Logs::File(p) => Some(p.clone()),
        Logs::InFolder => env.config_file.parent().map(|d| d.join("zfsync.log")),
    };
    if let Some(path) = &log_path {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .with_context(|| format!("cannot write the log file {}", path.display()))?;
        crate::telemetry::init_to_file(opts.log_format, file);
    }
    println!("zfsync sandbox — no accounts needed; everything runs on loopback.\n");
    println!(
        "  Zalo simulator:      {} (OAuth: {})",
        env.zalo.api_base(),
        env.zalo.oauth_base()
    );
    println!("  Freshchat simulator: {}", env.freshchat.base_url());
    let mut extra = Vec::new();
    for n in 2..=pairings {
        let p = env.add_pairing(&format!("shop-{n}"), own_app(n)).await?;
        println!(
            "  pairing {:<12} Zalo {}, Freshchat {}",
            format!("{}:", p.name),
            p.zalo.api_base(),
            p.freshchat.base_url()
        );
        extra.push(p);
    }
    println!("  zfsync daemon:       {}", env.daemon_url());
    println!("  config:              {}", env.config_file.display());
    match (&opts.logs, &log_path) {
        (Logs::File(p), _) => println!("  daemon's log:        {}", p.display()),
        (Logs::InFolder, Some(p)) => println!(
            "  daemon's log:        {} (removed when the sandbox stops; --log-file keeps one)",
            p.display()
        ),
        _ => {}
    }
    println!();
    let started = Instant::now();
    env.start_daemon().await?;
    println!("daemon up in {} ms", started.elapsed().as_millis());
    env.connect_zalo().await?;
    println!(
        "Zalo connected through OAuth v4 + PKCE (the simulator's consent page, auto-approved)\n"
    );

    let mut tr = Transcript {
        start: Instant::now(),
        ok: true,
    };
    env.zalo.add_user(SimUser {
        user_id: SANDBOX_USER.into(),
        display_name: "Minh Khánh".into(),
        avatar: Some(format!("{}sim/avatar/minh.png", env.zalo.api_base())),
        follower: true,
    });
    let fc_count = |conv: &str| env.fc_messages(conv).len();

    // Customer → agent
    let customer_says: Vec<(&str, UserAction)> = vec![
        (
            "text",
            UserAction::Text("Xin chào! Cho mình hỏi về đơn hàng #1234 nhé".into()),
        ),
        ("emoji", UserAction::Text("Cảm ơn shop 😊👍".into())),
        (
            "image",
            UserAction::Image {
                caption: Some("Ảnh sản phẩm bị lỗi".into()),
                bytes: Bytes::from_static(TINY_PNG),
            },
        ),
        (
            "sticker",
            UserAction::Sticker {
                id: "bfe4e4d5e1900ace5381".into(),
            },
        ),
    ];
    let mut conv_id: Option<String> = None;
    for (what, action) in customer_says {
        tr.line(
            "Zalo customer",
            &format!("sends {what}: {}", action_text(&action)),
        );
        let before = match &conv_id {
            Some(c) => fc_count(c),
            None => 0,
        };
        env.zalo.user_sends(SANDBOX_USER, action).await;
        let got = wait_for(Duration::from_secs(10), || {
            let conv_id = conv_id.clone();
            let env = &env;
            async move {
                let conv = conv_id.or_else(|| {
                    env.fc_conversations()
                        .first()
                        .map(|c| c.conversation_id.clone())
                })?;
                let msgs = env.fc_messages(&conv);
                (msgs.len() > before).then(|| (conv, msgs.last().cloned()))
            }
        })
        .await;
        tr.check(
            got.is_some(),
            &format!("the {what} did not reach Freshchat"),
        );
        if let Some((conv, Some(m))) = got {
            let name = env
                .fc_users()
                .first()
                .map(|u| {
                    format!(
                        "{} {}",
                        u.first_name.clone().unwrap_or_default(),
                        u.last_name.clone().unwrap_or_default()
                    )
                })
                .unwrap_or_default();
            let parts: Vec<String> = m.message_parts.iter().map(describe_part).collect();
            tr.line(
                "Freshchat agent sees",
                &format!("{name}: {}", parts.join(" + ")),
            );
            conv_id = Some(conv);
        }
    }
    let Some(conv) = conv_id.or(env
        .fc_conversations()
        .into_iter()
        .next()
        .map(|c| c.conversation_id))
    else {
        show_warnings(log_path.as_deref());
        anyhow::bail!("no Freshchat conversation was created");
    };
    if let Some(u) = env.fc_users().first() {
        let props: Vec<String> = u
            .properties
            .iter()
            .map(|p| format!("{}={}", p.name, p.value))
            .collect();
        tr.line(
            "Freshchat user",
            &format!(
                "{} {} ({})",
                u.first_name.clone().unwrap_or_default(),
                u.last_name.clone().unwrap_or_default(),
                props.join(", ")
            ),
        );
    }

    // Agent → customer
    let agent = env.freshchat.default_agent_id();
    let long_reply = format!(
        "Chi tiết chính sách đổi trả:\n{}",
        "Sản phẩm được đổi trong 30 ngày nếu còn nguyên tem. ".repeat(45)
    );
    let replies: Vec<(&str, Vec<MessagePart>)> = vec![
        (
            "text",
            vec![MessagePart::Text {
                content:
                    "Chào anh Khánh, shop đã nhận được ảnh. Shop sẽ đổi sản phẩm mới cho anh ạ 🙏"
                        .into(),
            }],
        ),
        (
            "long reply",
            vec![MessagePart::Text {
                content: long_reply.clone(),
            }],
        ),
        (
            "image",
            vec![MessagePart::Image {
                url: env.freshchat.upload_for_agent(
                    "label.png",
                    "image/png",
                    Bytes::from_static(TINY_PNG),
                ),
            }],
        ),
    ];
    for (what, parts) in replies {
        let shown = if what == "long reply" {
            format!("({} characters)", long_reply.chars().count())
        } else {
            parts
                .iter()
                .map(describe_part)
                .collect::<Vec<_>>()
                .join(" + ")
        };
        tr.line("Freshchat agent", &format!("replies with {what}: {shown}"));
        let before = env.zalo.sent_to(SANDBOX_USER).len();
        env.agent_says(&conv, &agent, &parts).await?;
        let got = zalo_sent_since(&env, before).await;
        tr.check(got.is_some(), &format!("the {what} did not reach Zalo"));
        for s in got.unwrap_or_default() {
            tr.line("Zalo customer receives", &describe_zalo(&s.message));
        }
    }
    tr.line(
        "Freshchat agent",
        "adds a private note: \"Khách VIP, ưu tiên giao nhanh\"",
    );
    let before = env.zalo.sent_to(SANDBOX_USER).len();
    env.freshchat
        .agent_note(&conv, &agent, "Khách VIP, ưu tiên giao nhanh")
        .await
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    tr.line("Freshchat agent", "marks the conversation Resolved");
    env.freshchat
        .resolve(&conv, &agent)
        .await
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let got = zalo_sent_since(&env, before).await.unwrap_or_default();
    tr.check(
        got.len() == 1,
        "exactly one message (the resolve notice, not the private note) should reach Zalo",
    );
    for s in &got {
        tr.line("Zalo customer receives", &describe_zalo(&s.message));
    }

    if !extra.is_empty() {
        play_pairings(&env, &extra, &mut tr).await;
    }

    println!();
    if tr.ok {
        println!("Both directions work: every message arrived once, in order; the private note stayed in Freshchat.");
    } else {
        println!("Something did not arrive; the lines marked !! say what.");
        show_warnings(log_path.as_deref());
    }
    let cmd = command_form();
    if opts.keep_running {
        let config = env.config_file.display();
        let (zalo, fc) = (env.zalo.api_base(), env.freshchat.base_url());
        let json = "-H 'content-type: application/json'";
        println!("\nStill running: each command below works until Ctrl-C stops the sandbox.");
        println!("  customer writes:    curl -s -X POST {zalo}sim/users/{SANDBOX_USER}/send {json} -d '{{\"type\":\"text\",\"text\":\"Shop ơi, còn hàng không?\"}}'");
        println!("  agent replies:      curl -s -X POST {fc}sim/conversations/{conv}/reply {json} -d '{{\"text\":\"Dạ còn hàng ạ\"}}'");
        println!("  agent's command:    curl -s -X POST {fc}sim/conversations/{conv}/note {json} -d '{{\"text\":\"/zalo help\"}}'");
        println!("  what Zalo sent:     curl -s {zalo}sim/users/{SANDBOX_USER}/sent");
        println!("  what Freshchat has: curl -s {fc}sim/conversations/{conv}/messages");
        println!("  every sim route:    curl -s {zalo}sim   and   curl -s {fc}sim");
        println!("  daemon status:      {cmd} status --config {config}");
        println!("  failed events:      {cmd} failed list --config {config}");
        println!("  metrics:            curl -s {}/metrics", env.daemon_url());
        println!(
            "  console:            {}   (signed in; the link works once, for 15 min)",
            env.console_login_link()?
        );
        println!(
            "                      or sign in at {}/console with the token {}",
            env.daemon_url(),
            env.admin_token
        );
        if let Some(p) = &log_path {
            println!("  daemon's log:       tail -f {}", p.display());
        }
        println!(
            "  media links:        name {FRESHCHAT_MEDIA_HOST} and {ZALO_MEDIA_HOST}, which only \
             the daemon resolves to 127.0.0.1; open one with curl --resolve NAME:PORT:127.0.0.1 URL"
        );
        let _ = tokio::signal::ctrl_c().await;
    } else {
        println!("\nNext:");
        // The same sandbox again: its customers and its rules.
        let mut again = String::new();
        if pairings > 1 {
            again.push_str(&format!(" --pairings {pairings}"));
        }
        if let Some(rules) = &opts.rules {
            again.push_str(&format!(" --rules {}", rules.display()));
        }
        let next = [
            (
                format!("{cmd} sandbox{again} --keep-running"),
                "the same sandbox, left running to drive by hand (customer, agent, console)",
            ),
            (
                format!("{cmd} init"),
                "set up a real customer: asks each value and checks it live",
            ),
            (
                "README.md".to_string(),
                "\"Onboarding a customer\", then \"Install\"",
            ),
        ];
        let width = next
            .iter()
            .map(|(c, _)| c.chars().count())
            .max()
            .unwrap_or(0);
        for (c, what) in next {
            println!("  {c:<width$}   {what}");
        }
    }
    env.stop_daemon().await;
    Ok(if tr.ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// How to run zfsync again the way this process was started: `cargo run --` under cargo, the
/// path typed when it has one (`./target/debug/zfsync`), else `zfsync` from the PATH.
fn command_form() -> String {
    if std::env::var_os("CARGO_MANIFEST_DIR").is_some() {
        return "cargo run --".into();
    }
    match std::env::args_os().next() {
        Some(arg0) if std::path::Path::new(&arg0).components().count() > 1 => {
            arg0.to_string_lossy().into_owned()
        }
        _ => "zfsync".into(),
    }
}

/// The warnings and errors of the daemon's log (the last 20), shown when something did not
/// arrive: the log file may be removed with the sandbox's folder.
fn show_warnings(log_path: Option<&std::path::Path>) {
    let Some(text) = log_path.and_then(|p| std::fs::read_to_string(p).ok()) else {
        return;
    };
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| {
            l.contains(" WARN ")
                || l.contains(" ERROR ")
                || l.contains("\"level\":\"WARN\"")
                || l.contains("\"level\":\"ERROR\"")
        })
        .collect();
    if lines.is_empty() {
        return;
    }
    println!("\nThe daemon's warnings:");
    for l in &lines[lines.len().saturating_sub(20)..] {
        println!("  {l}");
    }
}

fn action_text(a: &UserAction) -> String {
    match a {
        UserAction::Text(t) => t.clone(),
        UserAction::Image { caption, .. } => {
            format!("photo \"{}\"", caption.as_deref().unwrap_or(""))
        }
        UserAction::Sticker { id } => format!("sticker {id}"),
        other => format!("{other:?}"),
    }
}

/// The conversation of each extra pairing's customer (the same Zalo user id in every OA: each
/// is a different customer), then the isolation checks: each Freshchat account holds its own
/// customer only, and each OA sent only its own agent's reply.
async fn play_pairings(env: &Env, extra: &[ExtraPairing], tr: &mut Transcript) {
    const WAIT: Duration = Duration::from_secs(10);
    for (i, p) in extra.iter().enumerate() {
        let customer = format!("Khách {}", i + 2);
        p.zalo.add_user(SimUser {
            user_id: SANDBOX_USER.into(),
            display_name: customer.clone(),
            avatar: None,
            follower: true,
        });
        let text = format!("Chào {}, mình cần hỗ trợ", p.name);
        tr.line(
            &format!("[{}] Zalo customer", p.name),
            &format!("sends: {text}"),
        );
        p.zalo
            .user_sends(SANDBOX_USER, UserAction::Text(text.clone()))
            .await;
        let got = wait_for(WAIT, || async {
            let conv = p.freshchat.conversations().into_iter().next()?;
            let id = conv["conversation_id"].as_str()?.to_string();
            let shown = serde_json::to_string(&p.freshchat.messages(&id)).ok()?;
            shown.contains(&text).then_some(id)
        })
        .await;
        tr.check(
            got.is_some(),
            &format!("{}'s customer did not reach {}'s Freshchat", p.name, p.name),
        );
        let Some(conv) = got else { continue };
        tr.line(
            &format!("[{}] Freshchat agent", p.name),
            &format!("sees {customer} Zalo: {text}"),
        );
        let reply = format!("{} xin chào {customer}", p.name);
        tr.line(
            &format!("[{}] Freshchat agent", p.name),
            &format!("replies: {reply}"),
        );
        let agent = p.freshchat.default_agent_id();
        let sent = p
            .freshchat
            .agent_sends(
                &conv,
                &agent,
                vec![serde_json::json!({"text": {"content": reply}})],
            )
            .await;
        tr.check(sent.is_ok(), &format!("{}'s agent could not reply", p.name));
        let received = wait_for(WAIT, || async {
            let sent = p.zalo.sent_to(SANDBOX_USER);
            (!sent.is_empty()).then_some(sent)
        })
        .await
        .unwrap_or_default();
        tr.check(
            received.len() == 1,
            &format!("{}'s reply did not reach {}'s OA once", p.name, p.name),
        );
        for s in &received {
            tr.line(
                &format!("[{}] Zalo customer", p.name),
                &format!("receives: {}", describe_zalo(&s.message)),
            );
        }
    }
    // Isolation: every account holds its own customer and nobody else's.
    let default_users = serde_json::to_string(&env.fc_users()).unwrap_or_default();
    for (i, p) in extra.iter().enumerate() {
        let customer = format!("Khách {}", i + 2);
        tr.check(
            !default_users.contains(&customer),
            &format!("default's Freshchat holds {}'s customer", p.name),
        );
        for other in extra.iter().filter(|o| o.name != p.name) {
            let users = serde_json::to_string(&other.freshchat.users()).unwrap_or_default();
            tr.check(
                !users.contains(&customer),
                &format!("{}'s Freshchat holds {}'s customer", other.name, p.name),
            );
        }
    }
    tr.line(
        "isolation",
        &format!(
            "{} pairings checked: each Freshchat account holds its own customer only, each OA sent its own agent's reply only",
            extra.len() + 1
        ),
    );
}
