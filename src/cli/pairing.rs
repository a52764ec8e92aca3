//! `zfsync pairing …`: the pairings one deployment serves besides `default` (the configuration
//! file's own Zalo OA ↔ Freshchat account), kept in the store with their secrets sealed; and
//! `--pairing` for the commands that act on one pairing (`connect`, `status`, `failed`).
//!
//! Failure: a bad name, a value that fails its live check, or a pairing that does not exist is an
//! error naming the pairing and the fix; nothing is stored then.

use std::process::ExitCode;

use clap::{Args, Subcommand};

use super::{load, ConfigArg};
use crate::app::registry::add_pairing;
use crate::config::{check_new_pairing, Config, DEFAULT_PAIRING};
use crate::init::PlatformFlags;
use crate::services::{egress_policy, open_store, Services};

/// Which pairing a command acts on.
#[derive(Debug, Clone, Args)]
pub struct PairingArg {
    /// The pairing (one Zalo OA ↔ one Freshchat account): `default` is the configuration
    /// file's; others are added with 'zfsync pairing add'.
    #[arg(long, value_name = "NAME", default_value = DEFAULT_PAIRING)]
    pub pairing: String,
}

/// `zfsync pairing <action>`.
#[derive(Debug, Subcommand)]
pub enum PairingCommand {
    /// Add a pairing: one more Zalo OA ↔ Freshchat account served by this deployment, on its own
    /// webhook URLs (with --replace, new settings and secrets for an existing one).
    ///
    /// Takes the values and flags of 'zfsync init --non-interactive' (secrets as '-' on standard
    /// input or in the environment, never on the command line), checks them live (Freshchat's API
    /// key and channel, Zalo's app) unless --skip-checks, refuses an OA another pairing serves,
    /// seals the secrets in the store and prints the URLs to paste in the platforms' dashboards.
    /// Restart the daemon to serve it, then connect its OA: 'zfsync connect zalo --pairing NAME
    /// --code …' (or --access-token/--refresh-token). The console's Pairings page adds one too.
    ///
    /// Example:
    ///   printf '%s\n' "$FC_KEY" "$APP_SECRET" "$OA_SECRET" | zfsync pairing add shop-hanoi \
    ///     --config /etc/zfsync/zfsync.toml --freshchat-api-url https://hanoi.freshchat.com \
    ///     --freshchat-api-key - --freshchat-webhook-public-key "$FC_PUBLIC_KEY" \
    ///     --zalo-app-id 1234567890123456789 --zalo-app-secret - --zalo-oa-secret-key - \
    ///     --oa-id 4318848795011111111
    #[command(verbatim_doc_comment)]
    Add(Box<PairingAddArgs>),
    /// List the pairings: name, served or disabled, OA, Freshchat account, tokens.
    ///
    /// Example: zfsync pairing list --config zfsync.toml --json
    List {
        /// The configuration file.
        #[command(flatten)]
        config: ConfigArg,
        /// Print JSON for scripts.
        #[arg(long)]
        json: bool,
    },
    /// Stop serving a pairing (its data stays; its webhook URLs answer 404 after a restart).
    Disable {
        /// The pairing.
        name: String,
        /// The configuration file.
        #[command(flatten)]
        config: ConfigArg,
    },
    /// Serve a disabled pairing again (after a restart).
    Enable {
        /// The pairing.
        name: String,
        /// The configuration file.
        #[command(flatten)]
        config: ConfigArg,
    },
    /// Forget a pairing's settings and secrets. Its conversations and pairings of ids stay in
    /// the store, so adding it again under the same name resumes them.
    Remove {
        /// The pairing.
        name: String,
        /// The configuration file.
        #[command(flatten)]
        config: ConfigArg,
    },
}

/// The flags of `zfsync pairing add`.
// Doc comments here are --help text, where URLs stay plain.
#[allow(rustdoc::bare_urls)]
#[derive(Debug, Args)]
pub struct PairingAddArgs {
    /// The pairing's name: lower-case letters, digits and '-' (it is part of its webhook URLs).
    pub name: String,
    /// The deployment's configuration file (its store keeps the pairing).
    #[command(flatten)]
    pub config: ConfigArg,
    /// Do not contact Freshchat or Zalo; formats are still checked.
    #[arg(long)]
    pub skip_checks: bool,
    /// Replace the settings and secrets of an existing pairing of this name (a new Freshchat
    /// key, a new app secret, ...). Without it an existing name is refused. The pairing keeps its
    /// OA: its customers' ids, conversations and tokens belong to that OA.
    #[arg(long)]
    pub replace: bool,
    /// The Freshchat account and the Zalo app and OA.
    #[command(flatten)]
    pub platform: PlatformFlags,
}

/// The configuration and services of one pairing: the file's for `default`, else the registered
/// pairing's settings over the file's deployment settings and the shared store.
pub async fn services_of(config: &Config, pairing: &str) -> anyhow::Result<(Config, Services)> {
    if pairing == DEFAULT_PAIRING {
        return Ok((config.clone(), Services::new(config).await?));
    }
    let store = open_store(config)?;
    let registered = store
        .registered_pairings()
        .await?
        .into_iter()
        .find(|p| p.name == pairing)
        .ok_or_else(|| {
            anyhow::anyhow!(
                "no pairing named {pairing:?}: 'zfsync pairing list' shows them, 'zfsync pairing add' adds one"
            )
        })?;
    let settings = serde_json::from_str(&registered.settings).map_err(|e| {
        anyhow::anyhow!(
            "pairing {pairing:?}: its stored settings cannot be read ({e}); add it again"
        )
    })?;
    // serde's message may quote the value it met: a secret. Only where it failed is said.
    let secrets = serde_json::from_str(&registered.secrets).map_err(|e| {
        anyhow::anyhow!(
            "pairing {pairing:?}: its stored secrets cannot be read (line {}, column {}); add it again",
            e.line(),
            e.column()
        )
    })?;
    let pconfig = config.for_pairing(&settings, &secrets)?;
    let egress = egress_policy(&pconfig);
    let http = crate::services::SharedHttp::new()?;
    let services = Services::on_store(&pconfig, store.pairing(pairing), egress, &http).await?;
    Ok((pconfig, services))
}

/// Runs `zfsync pairing <action>`.
pub async fn run(command: PairingCommand) -> anyhow::Result<ExitCode> {
    match command {
        PairingCommand::Add(args) => add(*args).await,
        PairingCommand::List { config, json } => list(&load(&config)?, json).await,
        PairingCommand::Disable { name, config } => enable(&load(&config)?, &name, false).await,
        PairingCommand::Enable { name, config } => enable(&load(&config)?, &name, true).await,
        PairingCommand::Remove { name, config } => {
            let config = load(&config)?;
            refuse_default(&name)?;
            let store = open_store(&config)?;
            anyhow::ensure!(
                store.unregister_pairing(name.clone()).await?,
                "no pairing named {name:?} ('zfsync pairing list' shows them)"
            );
            println!("Pairing {name} removed; its conversations stay in the store (adding it again resumes them). Restart the daemon to stop serving it.");
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn refuse_default(name: &str) -> anyhow::Result<()> {
    anyhow::ensure!(
        name != DEFAULT_PAIRING,
        "'default' is the configuration file's pairing: change it in the file (or 'zfsync init --force')"
    );
    Ok(())
}

async fn add(args: PairingAddArgs) -> anyhow::Result<ExitCode> {
    let config = load(&args.config)?;
    // The name and the OA first: no live check runs for values that cannot be added.
    check_new_pairing(&args.name, args.platform.oa_id.as_deref())?;
    let store = open_store(&config)?;
    let exists = (store.registered_pairings().await?)
        .iter()
        .any(|p| p.name == args.name);
    if exists && !args.replace {
        return Err(crate::app::registry::AddError::Exists(args.name.clone()).into());
    }
    let (settings, secrets) = crate::init::pairing_values(&args.platform, args.skip_checks).await?;
    let added = add_pairing(
        &config,
        &store,
        &args.name,
        &settings,
        &secrets,
        args.replace,
    )
    .await?;
    let name = &args.name;
    let urls = added.urls;
    match added.replaced {
        true => println!("Pairing {name} replaced (secrets sealed in the store).\n"),
        false => println!("Pairing {name} added (secrets sealed in the store).\n"),
    }
    println!("Paste these in the platforms' dashboards:");
    println!("  Zalo webhook URL:       {}", urls.zalo_webhook);
    println!("  Freshchat webhook URL:  {}", urls.freshchat_webhook);
    println!("  Zalo OAuth callback:    {}", urls.oauth_callback);
    println!("  (an app linked to several OAs delivers them all to one webhook URL: any pairing's");
    println!("  URL then takes every OA of the app that a pairing serves)");
    println!(
        "\nNext: restart the daemon, then connect the OA (a browser link, or --code AUTH_CODE):"
    );
    println!(
        "  zfsync connect zalo --config {} --pairing {name}",
        args.config.config.display()
    );
    Ok(ExitCode::SUCCESS)
}

async fn list(config: &Config, json: bool) -> anyhow::Result<ExitCode> {
    let store = open_store(config)?;
    let rows = crate::status::pairings_health(config, &store).await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(ExitCode::SUCCESS);
    }
    for r in &rows {
        match &r.problem {
            Some(problem) => println!("{:<20} {:<22} {problem}", r.pairing, r.verdict()),
            None => println!(
                "{:<20} {:<22} OA {:<20} Zalo {:<22} {} pending (oldest {}), {} failed, last event {}; Freshchat {}",
                r.pairing,
                r.verdict(),
                r.oa_id.as_deref().unwrap_or("-"),
                r.zalo,
                r.pending,
                crate::time::ago(r.oldest_pending_at),
                r.failed,
                crate::time::ago(r.last_event_at),
                r.freshchat,
            ),
        }
    }
    println!("(what the store holds: an addition, enable, disable or removal is served from the daemon's next restart)");
    Ok(ExitCode::SUCCESS)
}

async fn enable(config: &Config, name: &str, enabled: bool) -> anyhow::Result<ExitCode> {
    refuse_default(name)?;
    let store = open_store(config)?;
    anyhow::ensure!(
        store.set_pairing_enabled(name.to_string(), enabled).await?,
        "no pairing named {name:?} ('zfsync pairing list' shows them)"
    );
    println!(
        "Pairing {name} {}; restart the daemon for it to take effect.",
        if enabled { "enabled" } else { "disabled" }
    );
    Ok(ExitCode::SUCCESS)
}
