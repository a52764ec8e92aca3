//! The command line. `main` parses it, installs logging, and calls [`execute`].

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Args, Parser, Subcommand};
use tokio_util::sync::CancellationToken;

use crate::app::Application;
use crate::config::Config;
use crate::services::Services;
use crate::telemetry::LogFormat;

mod connect;
mod docs;
mod health;
mod pairing;

pub use docs::DocsError;
pub use health::HealthError;
pub use pairing::{PairingAddArgs, PairingArg, PairingCommand};

/// `zfsync --version`: the release and the commit it was built from.
pub const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), " (", env!("ZFSYNC_COMMIT"), ")");

#[derive(Debug, Parser)]
#[command(
    name = "zfsync",
    version = VERSION,
    about = "Keeps a Zalo Official Account and a Freshchat inbox in sync, both ways.",
    long_about = "Keeps a Zalo Official Account and a Freshchat inbox in sync, both ways.\n\n\
Customers write to the OA on Zalo; each conversation appears in Freshchat as \"<name> Zalo\"; agents' \
replies, files and the resolve notice reach the customer on Zalo.\n\n\
Try it with no accounts:   zfsync sandbox\n\
Set up for a customer:     zfsync init   then   zfsync connect zalo --config zfsync.toml\n\
Run it:                    zfsync run --config zfsync.toml",
    after_help = "Configuration: see config.example.toml (every key, with its default). Logs: RUST_LOG=debug for more."
)]
/// The command line (see `zfsync --help`).
pub struct Cli {
    /// Log format on stderr. Default: json under systemd (JOURNAL_STREAM set and stderr not a
    /// terminal), text elsewhere; text is coloured only on a terminal and never with NO_COLOR set.
    #[arg(long, value_enum, global = true)]
    pub log_format: Option<LogFormat>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

impl Cli {
    /// Whether the log lines go to stderr, installed before the command runs. The sandbox's go
    /// to a file it opens itself unless `--show-logs`.
    pub fn logs_on_stderr(&self) -> bool {
        match &self.command {
            #[cfg(feature = "sim")]
            Command::Sandbox { show_logs, .. } => *show_logs,
            _ => true,
        }
    }
}

/// `--config`, shared by every command that reads the configuration.
#[derive(Debug, Args)]
pub struct ConfigArg {
    /// The configuration file (see config.example.toml).
    #[arg(long, short = 'c', value_name = "FILE", env = "ZFSYNC_CONFIG")]
    pub config: PathBuf,
}

/// The commands.
// Doc comments here are --help text, where URLs stay plain.
#[allow(rustdoc::bare_urls)]
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Set up for a customer: ask each value, check it live, write the config and secrets
    ///
    /// Asks for each value in onboarding order (a wrong one is asked again, with the fix), writes
    /// the config and a private secrets file (with a new admin token and store key), and prints
    /// the URLs to paste and the next step. It asks for the Zalo OA ID too (--oa-id): the OA's
    /// page at oa.zalo.me and Zalo's consent screen show it; only that OA can then be connected.
    ///
    /// Refuses to overwrite existing files unless --force. Scripts pass --non-interactive and one
    /// flag per value; secrets as '-' (read from standard input, one line each, in the order
    /// below) or in the environment (ZFSYNC_FRESHCHAT_API_KEY, ZFSYNC_FRESHCHAT_WEBHOOK_PUBLIC_KEY,
    /// ZFSYNC_ZALO_APP_SECRET, ZFSYNC_ZALO_OA_SECRET_KEY), never on the command line.
    ///
    /// Examples:
    ///   zfsync init --config /etc/zfsync/zfsync.toml
    ///   printf '%s\n' "$FC_KEY" "$APP_SECRET" "$OA_SECRET" | zfsync init --non-interactive \
    ///     --freshchat-api-url https://acme.freshchat.com --freshchat-api-key - \
    ///     --freshchat-webhook-public-key "$FC_PUBLIC_KEY" --zalo-app-id 1234567890123456789 \
    ///     --zalo-app-secret - --zalo-oa-secret-key - --oa-id 4318848795011111111 \
    ///     --public-url https://zfsync.acme.vn
    #[command(verbatim_doc_comment)]
    Init(Box<crate::init::InitArgs>),
    /// Run the daemon: webhook server, lanes and scheduler.
    ///
    /// Example: zfsync run --config /etc/zfsync/zfsync.toml
    Run(ConfigArg),
    /// Manage the pairings this deployment serves besides the configuration file's own.
    ///
    /// A pairing is one Zalo OA ↔ one Freshchat account, with its own webhook URLs
    /// (/webhooks/zalo/NAME, /webhooks/freshchat/NAME), tokens, conversations and failures; the
    /// configuration file's is 'default'. Added pairings are kept in the store, their secrets
    /// sealed with the store key.
    #[command(subcommand)]
    Pairing(PairingCommand),
    /// Connect a platform account (for now: Zalo).
    #[command(subcommand)]
    Connect(ConnectCommand),
    /// Check the configuration, the store, Freshchat and Zalo; one line per check with the fix.
    ///
    /// Freshchat's checks include whether the account takes zfsync's custom user properties
    /// (a warning naming the ones to create). Exit code 0 when every check passes (warnings
    /// included), 1 otherwise.
    /// Example: zfsync check --config zfsync.toml --json
    Check {
        /// The configuration file.
        #[command(flatten)]
        config: ConfigArg,
        /// Print JSON for scripts.
        #[arg(long)]
        json: bool,
    },
    /// Show synced/failed counts, queue depth, token expiry, last webhooks.
    ///
    /// Example: zfsync status --config zfsync.toml --json
    Status {
        /// The configuration file.
        #[command(flatten)]
        config: ConfigArg,
        /// The pairing to show.
        #[command(flatten)]
        pairing: PairingArg,
        /// Print JSON for scripts.
        #[arg(long)]
        json: bool,
    },
    /// List and replay failed events.
    #[command(subcommand)]
    Failed(FailedCommand),
    /// Copy the store to a new file while the daemon runs (SQLite's online backup).
    ///
    /// The copy holds the Zalo tokens sealed with the store key, never the key itself: keep the key
    /// (ZFSYNC_STORE_KEY, the credential or the key file) apart from the backups. To restore: stop
    /// zfsync, move the damaged or lost store aside (with its -wal and -shm files), copy the backup
    /// to the store path, start zfsync. Messages after the backup are caught up from history.
    ///
    /// Example: zfsync backup --config zfsync.toml --to /var/backups/zfsync-2026-12-02.db
    Backup {
        /// The configuration file.
        #[command(flatten)]
        config: ConfigArg,
        /// The new file (must not exist).
        #[arg(long, value_name = "FILE")]
        to: PathBuf,
    },
    /// Look after the store's sealed secrets.
    #[command(subcommand)]
    Store(StoreCommand),
    /// Print the operator token (for the console's sign-in and `Authorization: Bearer`).
    ///
    /// The configured one (server.admin_token, ZFSYNC_ADMIN_TOKEN, the secrets file), else the one
    /// zfsync generated and keeps in the store (generated now when there is none yet).
    ///
    /// Example: zfsync admin-token --config zfsync.toml
    AdminToken(ConfigArg),
    /// Bring the last N days of the OA's Zalo conversations into Freshchat.
    ///
    /// Customers' messages go in as the customer, the OA's own as private notes, each with its
    /// original time, in the same Freshchat user and conversation as live messages. Messages
    /// already in Freshchat are not added again, so running it twice changes nothing. It only
    /// queues the messages in the store: a running daemon delivers them (start one if none runs).
    ///
    /// Example: zfsync backfill --config zfsync.toml --days 7
    Backfill {
        /// The configuration file.
        #[command(flatten)]
        config: ConfigArg,
        /// The pairing whose OA's history to queue.
        #[command(flatten)]
        pairing: PairingArg,
        /// How many days back (1 to 90; Zalo's reply window is 7).
        #[arg(long, default_value_t = crate::ingest::backfill::DEFAULT_DAYS,
              value_parser = clap::value_parser!(u32).range(1..=crate::ingest::backfill::MAX_DAYS as i64))]
        days: u32,
        /// Print the final report as JSON for scripts (no progress bar).
        #[arg(long)]
        json: bool,
    },
    /// Ask the running daemon whether it is up (/healthz) or ready (/readyz); exit code 0 or 1.
    ///
    /// For container health checks (the image has no curl) and scripts. It asks on the address
    /// the configuration listens on (server.listen, or ZFSYNC_LISTEN; a wildcard address such as
    /// 0.0.0.0 is asked on loopback), with the configured admin token when there is one, so that
    /// --ready prints why the daemon is not ready. Kubernetes probes ask GET /healthz and GET
    /// /readyz themselves: both answer a stranger 200 or 503 without any token.
    ///
    /// Examples:
    ///   zfsync health --config /etc/zfsync/zfsync.toml
    ///   zfsync health --ready        (in the container image, where ZFSYNC_CONFIG is set)
    #[command(verbatim_doc_comment)]
    Health {
        /// The configuration file.
        #[command(flatten)]
        config: ConfigArg,
        /// Ask /readyz (store writable, Zalo connected) instead of /healthz (the process answers).
        #[arg(long)]
        ready: bool,
    },
    /// Print the completion script for a shell (bash, zsh, fish, elvish, powershell).
    ///
    /// The Debian package installs bash, zsh and fish completions already. Elsewhere, write the
    /// script where your shell looks for completions, then open a new shell:
    ///
    /// Examples:
    ///   zfsync completions bash > ~/.local/share/bash-completion/completions/zfsync
    ///   zfsync completions zsh > ~/.zfunc/_zfsync      (with fpath+=~/.zfunc before compinit)
    ///   zfsync completions fish > ~/.config/fish/completions/zfsync.fish
    #[command(verbatim_doc_comment)]
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the zfsync(1) man page, or write it and one page per subcommand into a folder.
    ///
    /// The pages are made from the same text as --help (the Debian package installs them). With
    /// --out, the folder gets zfsync.1 and one page per subcommand (zfsync-run.1,
    /// zfsync-connect-zalo.1, ...), and is made when missing.
    ///
    /// Examples:
    ///   zfsync man | man -l -
    ///   zfsync man --out ~/.local/share/man/man1      (then: man zfsync-connect-zalo)
    #[command(verbatim_doc_comment)]
    Man {
        /// Write every page into this folder instead of printing zfsync(1).
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
    },
    /// Try zfsync with no accounts: both simulators and the daemon on loopback, a scripted
    /// conversation both ways, and a transcript of what each side saw
    ///
    /// The transcript has the terminal to itself: the daemon's log lines go to a file (zfsync.log
    /// in the sandbox's folder, removed at exit, unless --log-file names another), and the
    /// warnings among them are shown if something does not arrive.
    ///
    /// Examples:
    ///   zfsync sandbox
    ///   zfsync sandbox --keep-running               (then drive it by hand; Ctrl-C stops)
    ///   zfsync sandbox --pairings 3                 (three customers in one daemon)
    ///   zfsync sandbox --log-file sandbox.log       (keep the daemon's log)
    ///   zfsync sandbox --rules my-rules.toml --keep-running   (try ratings, commands, templates)
    #[command(verbatim_doc_comment)]
    #[cfg(feature = "sim")]
    Sandbox {
        /// Leave everything running and print the URLs to drive it by hand, with a one-time link
        /// that opens the console signed in (Ctrl-C stops).
        #[arg(long)]
        keep_running: bool,
        /// Write the daemon's log lines to this file (kept after the sandbox stops) instead of
        /// zfsync.log in the sandbox's folder.
        #[arg(long, value_name = "FILE", conflicts_with = "show_logs")]
        log_file: Option<PathBuf>,
        /// Print the daemon's log lines on standard error, between the transcript's lines.
        #[arg(long)]
        show_logs: bool,
        /// How many customers (pairings) the one daemon serves, each with its own Zalo OA and
        /// Freshchat account (a pair of simulators): the first is 'default', the others
        /// 'shop-2', 'shop-3', ...; each plays a conversation, and none may reach another's.
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u8).range(1..=20))]
        pairings: u8,
        /// Run the daemon with these mapping rules instead of the built-in ones (a copy of
        /// mappings/default.toml with, say, [csat] ask = true, [commands] or [[templates]]), to
        /// try the features that are off by default; with --keep-running, approve a template in
        /// the Zalo simulator with POST /sim/templates.
        #[arg(long, value_name = "FILE")]
        rules: Option<PathBuf>,
    },
}

/// `zfsync connect <platform>`.
#[derive(Debug, Subcommand)]
pub enum ConnectCommand {
    /// Authorize zfsync on a Zalo Official Account (OAuth v4 with PKCE) and store the tokens
    ///
    /// Without flags: prints a one-time link (15 minutes) that starts the consent, and waits for the
    /// new tokens: this process serves the link and Zalo's redirect on the configured listener, or
    /// the running daemon does.
    ///
    /// Examples:
    ///   zfsync connect zalo --config zfsync.toml
    ///   zfsync connect zalo --config zfsync.toml --code AUTH_CODE --oa-id 4318848795011111111
    ///   printf '%s\n%s\n' "$AT" "$RT" | zfsync connect zalo --config zfsync.toml \
    ///     --access-token - --refresh-token -
    ///
    /// Zalo itself must confirm which OA the tokens belong to (getoa) before anything is stored, and
    /// it must be the configured zalo.oa_id, else the OA already connected, else the --oa-id named.
    /// The browser flow needs one of these (its callback is public); a --code or tokens pasted here
    /// without any connect the OA Zalo confirms, and the OA id to put in zalo.oa_id is printed.
    /// With --pairing, the browser link is that pairing's (/oauth/zalo/start/<name>) and Zalo
    /// comes back to /oauth/zalo/callback/<name>: the callback URL set in the Zalo app.
    #[command(verbatim_doc_comment)]
    Zalo {
        /// The configuration file.
        #[command(flatten)]
        config: ConfigArg,
        /// The pairing whose OA to connect.
        #[command(flatten)]
        pairing: PairingArg,
        /// An authorization code copied from the callback URL by hand.
        #[arg(long, allow_hyphen_values = true, conflicts_with_all = ["access_token", "refresh_token"])]
        code: Option<String>,
        /// The OA id you mean to connect (a number: on the OA's page at oa.zalo.me and on Zalo's
        /// consent screen), when zalo.oa_id is not set and none is connected yet: a consent for
        /// any other OA is refused.
        #[arg(long)]
        oa_id: Option<String>,
        /// An access token from Zalo's API Explorer (with --refresh-token); '-' reads it from
        /// standard input (so it never shows in the process list). Tokens may start with '-'.
        #[arg(
            long,
            allow_hyphen_values = true,
            requires = "refresh_token",
            env = "ZFSYNC_ZALO_ACCESS_TOKEN",
            hide_env_values = true
        )]
        access_token: Option<String>,
        /// The refresh token from Zalo's API Explorer (with --access-token); '-' reads it from
        /// standard input, after the access token.
        #[arg(
            long,
            allow_hyphen_values = true,
            requires = "access_token",
            env = "ZFSYNC_ZALO_REFRESH_TOKEN",
            hide_env_values = true
        )]
        refresh_token: Option<String>,
    },
}

/// `zfsync failed <list|retry>`.
#[derive(Debug, Subcommand)]
pub enum FailedCommand {
    /// List failed events with their reasons.
    ///
    /// Example: zfsync failed list --config zfsync.toml
    List {
        /// The configuration file.
        #[command(flatten)]
        config: ConfigArg,
        /// The pairing whose failed events to list.
        #[command(flatten)]
        pairing: PairingArg,
        /// Print JSON for scripts.
        #[arg(long)]
        json: bool,
        /// How many, newest first.
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
    /// Put failed events back in their lanes; steps already delivered are not repeated
    ///
    /// Examples:
    ///   zfsync failed retry --config zfsync.toml 42
    ///   zfsync failed retry --config zfsync.toml --all
    #[command(verbatim_doc_comment)]
    Retry {
        /// The configuration file.
        #[command(flatten)]
        config: ConfigArg,
        /// The pairing whose failed events to put back (an id of another pairing is not found).
        #[command(flatten)]
        pairing: PairingArg,
        /// The event id from `failed list`.
        #[arg(required_unless_present = "all")]
        id: Option<i64>,
        /// Every failed event.
        #[arg(long, conflicts_with = "id")]
        all: bool,
    },
}

/// `zfsync store <forget-secrets>`.
#[derive(Debug, Subcommand)]
pub enum StoreCommand {
    /// When the store key is lost: discard the sealed values that no longer open.
    ///
    /// The Zalo tokens, pending consents and a generated admin token are sealed with the store
    /// key. When the key is lost zfsync refuses to start (it makes no new key that could not open
    /// them). Put the key back if you can. Otherwise this lists what does not open with the key
    /// zfsync finds (every sealed value when the key file is missing) and, with --yes, discards it
    /// and makes a new key file when it is missing. Then connect the OA again (zfsync connect
    /// zalo): it must be the same OA. A generated admin token is made anew at the next start.
    ///
    /// Example: zfsync store forget-secrets --config zfsync.toml --yes
    ForgetSecrets {
        /// The configuration file.
        #[command(flatten)]
        config: ConfigArg,
        /// Discard them (without it, only list them).
        #[arg(long)]
        yes: bool,
    },
}

/// Says at start-up which pairings cannot reach Zalo yet, with the command that fixes it: the
/// daemon still runs (webhooks are stored, Freshchat's side works, replies wait for the tokens).
fn warn_zalo_not_ready(app: &Application, config: &std::path::Path) {
    for (pairing, why) in app.zalo_not_ready() {
        let flag = if pairing == crate::config::DEFAULT_PAIRING {
            String::new()
        } else {
            format!(" --pairing {pairing}")
        };
        let command = format!("zfsync connect zalo --config {}{flag}", config.display());
        let start = crate::routes::for_pairing(crate::routes::ROUTE_OAUTH_START, &pairing);
        match why {
            None => tracing::warn!(
                pairing = %pairing,
                "Zalo is not connected yet: replies to Zalo wait until the OA is connected; run '{command}' (or open {start} with the admin token)"
            ),
            Some(why) => tracing::warn!(
                pairing = %pairing,
                "Zalo needs re-authorization ({why}): replies to Zalo wait until the OA is connected again; run '{command}'"
            ),
        }
    }
}

fn load(c: &ConfigArg) -> anyhow::Result<Config> {
    Config::load(&c.config).with_context(|| format!("configuration {}", c.config.display()))
}

/// Runs a parsed command.
pub async fn execute(cli: Cli) -> anyhow::Result<ExitCode> {
    #[cfg(feature = "sim")]
    let cli_log_format = cli.log_format;
    match cli.command {
        Command::Init(args) => crate::init::run(*args).await,
        Command::Run(c) => {
            let config = load(&c)?;
            let app = Application::build(config).await?;
            warn_zalo_not_ready(&app, &c.config);
            let shutdown = CancellationToken::new();
            let s = shutdown.clone();
            tokio::spawn(async move {
                wait_for_signal().await;
                tracing::info!(
                    "shutting down: no new webhooks; in-flight work finishes or stays journalled"
                );
                s.cancel();
            });
            app.run(shutdown).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Connect(ConnectCommand::Zalo {
            config,
            pairing,
            code,
            oa_id,
            access_token,
            refresh_token,
        }) => {
            let config = load(&config)?;
            connect::connect_zalo(
                config,
                &pairing.pairing,
                code,
                oa_id,
                access_token,
                refresh_token,
            )
            .await
        }
        Command::Pairing(command) => pairing::run(command).await,
        Command::Check { config, json } => crate::check::run(&config.config, json).await,
        Command::Status {
            config,
            pairing,
            json,
        } => {
            let config = load(&config)?;
            let (_, services) = pairing::services_of(&config, &pairing.pairing).await?;
            crate::status::print_status(&services, json).await
        }
        Command::Failed(FailedCommand::List {
            config,
            pairing,
            json,
            limit,
        }) => {
            let config = load(&config)?;
            let (_, services) = pairing::services_of(&config, &pairing.pairing).await?;
            crate::status::print_failed(&services, json, limit).await
        }
        Command::Failed(FailedCommand::Retry {
            config,
            pairing,
            id,
            all,
        }) => {
            let config = load(&config)?;
            let (_, services) = pairing::services_of(&config, &pairing.pairing).await?;
            let n = services
                .store
                .replay_failed(if all { None } else { id })
                .await?;
            if n == 0 {
                println!(
                    "Nothing to replay: no failed event{}.",
                    id.filter(|_| !all)
                        .map(|i| format!(" with id {i}"))
                        .unwrap_or_default()
                );
                return Ok(ExitCode::from(1));
            }
            println!(
                "Queued {n} event(s) again; a running daemon picks them up within a few seconds."
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Backup { config, to } => {
            let config = load(&config)?;
            let store = crate::services::open_store(&config)?;
            store.backup(to.clone()).await?;
            let size = std::fs::metadata(&to).map(|m| m.len()).unwrap_or(0);
            println!(
                "Backed up {} to {} ({} KiB, checked). Keep the store key apart from it.",
                store.path().display(),
                to.display(),
                size / 1024
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Store(StoreCommand::ForgetSecrets { config, yes }) => {
            let config = load(&config)?;
            forget_secrets(&config, yes)
        }
        Command::AdminToken(c) => {
            let config = load(&c)?;
            let store = crate::services::open_store(&config)?;
            let token = crate::services::admin_token(&config, &store).await?;
            println!("{}", secrecy::ExposeSecret::expose_secret(&token));
            Ok(ExitCode::SUCCESS)
        }
        Command::Backfill {
            config,
            pairing,
            days,
            json,
        } => {
            let config = load(&config)?;
            let (_, services) = pairing::services_of(&config, &pairing.pairing).await?;
            backfill(services, days, json).await
        }
        Command::Health { config, ready } => {
            let config = load(&config)?;
            let answer = health::ask(&config, ready).await?;
            if answer.status == 200 {
                println!("{}", answer.text);
                return Ok(ExitCode::SUCCESS);
            }
            let route = if ready { "/readyz" } else { "/healthz" };
            println!("{route} answered {}: {}", answer.status, answer.text);
            Ok(ExitCode::from(1))
        }
        Command::Completions { shell } => {
            docs::print(|out| docs::completions(shell, out))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Man { out: None } => {
            docs::print(docs::main_page)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Man { out: Some(dir) } => {
            let written = docs::write_pages(&dir)?;
            let names: Vec<String> = written
                .iter()
                .filter_map(|p| p.file_name())
                .map(|n| n.to_string_lossy().into_owned())
                .collect();
            println!(
                "Wrote {} man pages to {}: {}",
                names.len(),
                dir.display(),
                names.join(", ")
            );
            Ok(ExitCode::SUCCESS)
        }
        #[cfg(feature = "sim")]
        Command::Sandbox {
            keep_running,
            log_file,
            show_logs,
            pairings,
            rules,
        } => {
            let logs = match (show_logs, log_file) {
                (true, _) => crate::tools::sandbox::Logs::Stderr,
                (false, Some(path)) => crate::tools::sandbox::Logs::File(path),
                (false, None) => crate::tools::sandbox::Logs::InFolder,
            };
            crate::tools::sandbox::run(crate::tools::sandbox::Options {
                keep_running,
                pairings: usize::from(pairings),
                logs,
                log_format: cli_log_format,
                rules,
            })
            .await
        }
    }
}

/// `zfsync store forget-secrets`: lists, and with `yes` discards, the sealed values that do not
/// open with the store's key.
fn forget_secrets(config: &Config, yes: bool) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(
        config.store.url.is_none(),
        "'zfsync store forget-secrets' works on the SQLite file; with a PostgreSQL store (store.url), restore the store key (ZFSYNC_STORE_KEY) of the deployment instead"
    );
    let key_file = config.store.key_path();
    let found = crate::store::Store::forget_secrets(
        &config.store.path,
        config.store.key.as_ref(),
        &key_file,
        yes,
    )?;
    if found.is_empty() {
        println!("Every sealed value opens with the store key: nothing to discard.");
        return Ok(ExitCode::SUCCESS);
    }
    let mut what = Vec::new();
    if found.tokens {
        what.push("the Zalo tokens".to_string());
    }
    if found.attempts > 0 {
        what.push(format!("{} pending consent(s)", found.attempts));
    }
    for k in &found.meta {
        what.push(format!("the stored {}", k.replace('_', " ")));
    }
    for name in &found.pairings {
        what.push(format!(
            "the settings of pairing {name} (add it again with 'zfsync pairing add {name}')"
        ));
    }
    let what = what.join(", ");
    if !yes {
        println!(
            "These do not open with the store key: {what}. Run again with --yes to discard them."
        );
        return Ok(ExitCode::from(1));
    }
    println!("Discarded {what}. Next: connect the OA again with 'zfsync connect zalo'.");
    Ok(ExitCode::SUCCESS)
}

/// `zfsync backfill`: queues the history, with a progress bar on a terminal.
async fn backfill(services: Services, days: u32, json: bool) -> anyhow::Result<ExitCode> {
    use crate::ingest::backfill::{Backfill, Progress, DEFAULT_PACE};
    use std::io::IsTerminal as _;

    let runner = Backfill {
        store: services.store.clone(),
        lanes: crate::lanes::LaneSignal::new(),
        zalo: services.zalo.clone(),
        pace: DEFAULT_PACE,
    };
    let (tx, mut rx) = tokio::sync::watch::channel(Progress::default());
    let bar = if !json && std::io::stderr().is_terminal() {
        let bar = indicatif::ProgressBar::new(100);
        if let Ok(style) =
            indicatif::ProgressStyle::with_template("{spinner} [{bar:40}] {pos:>3} %  {msg}")
        {
            bar.set_style(style.progress_chars("=> "));
        }
        bar
    } else {
        indicatif::ProgressBar::hidden()
    };
    let shown = bar.clone();
    let display = tokio::spawn(async move {
        while rx.changed().await.is_ok() {
            let p = rx.borrow_and_update().clone();
            shown.set_position(u64::from(p.percent()));
            shown.set_message(format!(
                "{}/{} conversations, {} queued",
                p.conversations_done, p.conversations, p.queued
            ));
        }
    });
    let result = runner.run(days, &tx).await;
    drop(tx);
    let _ = display.await;
    bar.finish_and_clear();
    match result {
        Ok(p) => {
            if json {
                println!("{}", serde_json::to_string_pretty(&p)?);
            } else {
                println!("Backfill of the last {days} days: {}.", p.summary());
                if p.queued > 0 {
                    println!("A running zfsync daemon delivers them to Freshchat within seconds ('zfsync status' shows the queue).");
                }
            }
            Ok(if p.failed_conversations > 0 {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            })
        }
        Err(e) => Err(anyhow::Error::new(e).context("backfill stopped")),
    }
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use clap::CommandFactory as _;

    /// Every command's long help keeps its example commands one per line: two commands on one
    /// line (as prose wrapping makes of consecutive example lines) cannot be copied.
    #[test]
    fn help_examples_are_one_command_per_line() {
        fn walk(cmd: &mut clap::Command, path: &str, out: &mut Vec<String>) {
            let help = cmd.render_long_help().to_string();
            for line in help.lines() {
                let commands = line
                    .match_indices("zfsync ")
                    .filter(|(i, _)| {
                        let next = line[i + 7..].chars().next();
                        next.is_some_and(|c| c.is_ascii_lowercase())
                            && !line[..*i].trim_end().ends_with('|')
                    })
                    .count();
                if commands > 1 && !line.contains(" then ") {
                    out.push(format!("{path}: {line}"));
                }
            }
            for sub in cmd.get_subcommands_mut() {
                let name = format!("{path} {}", sub.get_name());
                walk(sub, &name, out);
            }
        }
        let mut cmd = Cli::command();
        cmd.build();
        let mut run_together = Vec::new();
        walk(&mut cmd, "zfsync", &mut run_together);
        assert!(run_together.is_empty(), "{run_together:#?}");
    }

    /// Zalo codes and tokens are base64url and may start with '-'.
    #[test]
    fn tokens_starting_with_a_hyphen_are_values() {
        let cli = Cli::try_parse_from([
            "zfsync",
            "connect",
            "zalo",
            "--config",
            "z.toml",
            "--access-token",
            "-SabcD",
            "--refresh-token",
            "-x-y",
        ])
        .unwrap();
        match cli.command {
            Command::Connect(ConnectCommand::Zalo {
                access_token,
                refresh_token,
                ..
            }) => {
                assert_eq!(access_token.as_deref(), Some("-SabcD"));
                assert_eq!(refresh_token.as_deref(), Some("-x-y"));
            }
            other => panic!("{other:?}"),
        }
        let cli = Cli::try_parse_from([
            "zfsync", "connect", "zalo", "--config", "z.toml", "--code", "-abc",
        ])
        .unwrap();
        assert!(
            matches!(cli.command, Command::Connect(ConnectCommand::Zalo { code: Some(c), .. }) if c == "-abc")
        );
    }

    #[test]
    fn help_is_consistent() {
        Cli::command().debug_assert();
    }
}
