//! The command line. `main` parses it, installs logging, and calls [`execute`].

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Args, Parser, Subcommand};
use secrecy::SecretString;
use tokio_util::sync::CancellationToken;

use crate::app::{Application, Services};
use crate::config::Config;
use crate::telemetry::LogFormat;

#[derive(Debug, Parser)]
#[command(
    name = "zfsync",
    version,
    about = "Keeps a Zalo Official Account and a Freshchat inbox in sync, both ways.",
    long_about = "Keeps a Zalo Official Account and a Freshchat inbox in sync, both ways.\n\n\
Customers write to the OA on Zalo; each conversation appears in Freshchat as \"<name> Zalo\"; agents' \
replies, files and the resolve notice reach the customer on Zalo.\n\n\
Try it with no accounts:   zfsync sandbox\n\
Set up for a customer:     zfsync init   then   zfsync connect zalo --config zfsync.toml\n\
Run it:                    zfsync run --config zfsync.toml",
    after_help = "Configuration: see config.example.toml (every key, with its default). Logs: RUST_LOG=debug for more."
)]
pub struct Cli {
    /// Log format on stderr.
    #[arg(long, value_enum, default_value = "text", global = true)]
    pub log_format: LogFormat,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct ConfigArg {
    /// The configuration file (see config.example.toml).
    #[arg(long, short = 'c', value_name = "FILE", env = "ZFSYNC_CONFIG")]
    pub config: PathBuf,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Set up for a customer: ask each value, check it live, write the config and secrets.
    ///
    /// Asks for each value in onboarding order (a wrong one is asked again, with the fix), writes
    /// the config and a private secrets file (with a new admin token and store key), and prints
    /// the URLs to paste and the next step.
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
    ///     --zalo-app-secret - --zalo-oa-secret-key - --public-url https://zfsync.acme.vn
    #[command(verbatim_doc_comment)]
    Init(Box<crate::init::InitArgs>),
    /// Run the daemon: webhook server, lanes and scheduler.
    ///
    /// Example: zfsync run --config /etc/zfsync/zfsync.toml
    Run(ConfigArg),
    /// Connect a platform account (for now: Zalo).
    #[command(subcommand)]
    Connect(ConnectCommand),
    /// Check the configuration, the store, Freshchat and Zalo; one line per check with the fix.
    ///
    /// Exit code 0 when every check passes, 1 otherwise.
    /// Example: zfsync check --config zfsync.toml --json
    Check {
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
        #[command(flatten)]
        config: ConfigArg,
        /// Print JSON for scripts.
        #[arg(long)]
        json: bool,
    },
    /// List and replay failed events.
    #[command(subcommand)]
    Failed(FailedCommand),
    /// Try zfsync with no accounts: both simulators and the daemon on loopback, a scripted
    /// conversation both ways, and a transcript of what each side saw.
    ///
    /// Example: zfsync sandbox --keep-running
    #[cfg(feature = "sim")]
    Sandbox {
        /// Leave everything running and print the URLs to drive it by hand (Ctrl-C stops).
        #[arg(long)]
        keep_running: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum ConnectCommand {
    /// Authorize zfsync on a Zalo Official Account (OAuth v4 with PKCE) and store the tokens.
    ///
    /// Without flags: prints the permission URL, then waits on the configured listener for
    /// Zalo's redirect to /oauth/zalo/callback (a running daemon serves that route too).
    ///
    /// Examples:
    ///   zfsync connect zalo --config zfsync.toml
    ///   zfsync connect zalo --config zfsync.toml --code AUTH_CODE --oa-id 4318848795011111111
    ///   zfsync connect zalo --config zfsync.toml --access-token AT --refresh-token RT
    Zalo {
        #[command(flatten)]
        config: ConfigArg,
        /// An authorization code copied from the callback URL by hand.
        #[arg(long, allow_hyphen_values = true, conflicts_with_all = ["access_token", "refresh_token"])]
        code: Option<String>,
        /// The OA id from the callback URL (`oa_id=`), with --code.
        #[arg(long)]
        oa_id: Option<String>,
        /// An access token from Zalo's API Explorer (with --refresh-token). Tokens may start with '-'.
        #[arg(long, allow_hyphen_values = true, requires = "refresh_token")]
        access_token: Option<String>,
        /// The refresh token from Zalo's API Explorer (with --access-token).
        #[arg(long, allow_hyphen_values = true, requires = "access_token")]
        refresh_token: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum FailedCommand {
    /// List failed events with their reasons.
    ///
    /// Example: zfsync failed list --config zfsync.toml
    List {
        #[command(flatten)]
        config: ConfigArg,
        #[arg(long)]
        json: bool,
        /// How many, newest first.
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
    /// Put failed events back in their lanes. Steps already delivered are not repeated.
    ///
    /// Examples: zfsync failed retry --config zfsync.toml 42   |   zfsync failed retry --config zfsync.toml --all
    Retry {
        #[command(flatten)]
        config: ConfigArg,
        /// The event id from `failed list`.
        #[arg(required_unless_present = "all")]
        id: Option<i64>,
        /// Every failed event.
        #[arg(long, conflicts_with = "id")]
        all: bool,
    },
}

fn load(c: &ConfigArg) -> anyhow::Result<Config> {
    Config::load(&c.config).with_context(|| format!("configuration {}", c.config.display()))
}

/// Runs a parsed command.
pub async fn execute(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Init(args) => crate::init::run(*args).await,
        Command::Run(c) => {
            let config = load(&c)?;
            let app = Application::build(config).await?;
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
            code,
            oa_id,
            access_token,
            refresh_token,
        }) => {
            let config = load(&config)?;
            connect_zalo(config, code, oa_id, access_token, refresh_token).await
        }
        Command::Check { config, json } => crate::check::run(&config.config, json).await,
        Command::Status { config, json } => {
            let config = load(&config)?;
            let services = Services::new(&config).await?;
            crate::status::print_status(&services, json).await
        }
        Command::Failed(FailedCommand::List {
            config,
            json,
            limit,
        }) => {
            let config = load(&config)?;
            let services = Services::new(&config).await?;
            crate::status::print_failed(&services, json, limit).await
        }
        Command::Failed(FailedCommand::Retry { config, id, all }) => {
            let config = load(&config)?;
            let services = Services::new(&config).await?;
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
        #[cfg(feature = "sim")]
        Command::Sandbox { keep_running } => crate::sandbox::run(keep_running).await,
    }
}

async fn connect_zalo(
    config: Config,
    code: Option<String>,
    oa_id: Option<String>,
    access_token: Option<String>,
    refresh_token: Option<String>,
) -> anyhow::Result<ExitCode> {
    let services = Services::new(&config).await?;
    let connected = if let (Some(at), Some(rt)) = (access_token, refresh_token) {
        let pair = zfsync_zalo::TokenPair {
            access_token: SecretString::from(at),
            refresh_token: SecretString::from(rt),
            expires_in: std::time::Duration::from_secs(25 * 3600),
        };
        // The operator at the console is trusted to switch OA when zalo.oa_id is not set.
        crate::oauth::accept_pair(
            &services.zalo,
            pair,
            oa_id.or(config.zalo.oa_id.clone()),
            config.zalo.oa_id.clone(),
        )
        .await?
    } else if let Some(code) = code {
        crate::oauth::complete(
            &services.store,
            &services.zalo,
            &code,
            crate::oauth::CodeFrom::Pasted,
            oa_id.or(config.zalo.oa_id.clone()),
            config.zalo.oa_id.clone(),
        )
        .await?
    } else {
        // The browser flow: our own listener first (so a busy port is reported before anyone
        // opens the URL), then the permission URL, then wait for a pair newer than the one stored
        // now (re-connecting an OA that is already connected must wait for the new consent).
        let callback = config.public_url(crate::server::ROUTE_OAUTH_CALLBACK);
        let app = Application::build(config.clone()).await.context(
            "cannot serve the OAuth callback; if the daemon is running, open its /oauth/zalo/start instead",
        )?;
        let url = crate::oauth::start(&services.store, services.zalo.client(), &callback).await?;
        println!("Open this URL in a browser signed in as an admin of the OA, and press \"Allow\":\n\n  {url}\n");
        println!("Waiting for Zalo to redirect to {callback} (Ctrl-C to stop) ...");
        let before = services.store.tokens().await?.map(|t| t.updated_at);
        let shutdown = CancellationToken::new();
        let s = shutdown.clone();
        let store = services.store.clone();
        let watcher = tokio::spawn(async move {
            loop {
                tokio::time::sleep(std::time::Duration::from_millis(300)).await;
                if let Ok(Some(t)) = store.tokens().await {
                    if Some(t.updated_at) != before && t.needs_reauth.is_none() {
                        s.cancel();
                        return;
                    }
                }
            }
        });
        let stop = shutdown.clone();
        tokio::select! {
            r = app.run(shutdown.clone()) => { r?; }
            _ = wait_for_signal() => { stop.cancel(); watcher.abort(); anyhow::bail!("stopped before Zalo redirected back"); }
        }
        let _ = watcher.await;
        services.tokens().reload_status().await?;
        crate::oauth::Connected {
            oa_id: services.tokens().status().oa_id,
            oa_name: None,
        }
    };
    let name = connected
        .oa_name
        .unwrap_or_else(|| "the Official Account".into());
    match connected.oa_id {
        Some(id) => println!(
            "Connected to {name} (OA id {id}). Tokens are stored; zfsync refreshes them itself."
        ),
        None => println!("Connected to {name}. Tokens are stored; zfsync refreshes them itself."),
    }
    Ok(ExitCode::SUCCESS)
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
