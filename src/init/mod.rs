//! `zfsync init`: the setup wizard. It asks for each value in onboarding order (Freshchat API URL,
//! API key, App ID, webhook public key and channel; Zalo App ID, App Secret Key, OA Secret Key, OA
//! ID; the public URL and listen address; the customers' language), checks each answer live with the same
//! checks as `zfsync check` (API host answers, key accepted, App ID matches, channel found, Zalo
//! knows the app, public URL reaches this machine), asks again with the fix when one fails, then
//! writes the config and a private secrets file (with a new admin token and store key) and prints
//! the URLs to paste and the next step.
//!
//! Scripts use `--non-interactive` with one flag per value; secrets come from standard input
//! (`--freshchat-api-key -`) or the environment, never from the command line, so they never show in
//! `ps`. `--skip-checks` works offline (formats are still checked).
//!
//! Failure modes ([`InitError`]): files that exist (without `--force`) are refused before any
//! question; stdin that is not a terminal without `--non-interactive` is refused with what to do;
//! in a script, a missing value or a failed check is an error naming the flag, the key and the
//! fix. Nothing is written until every value is in, and then each file is replaced whole.
//!
//! Layout: this file runs the whole and reports; `args` holds the flags and what they give;
//! `wizard` the questions in their order; `ask` how they are asked (terminal or script);
//! `files` what is written.

mod args;
mod ask;
mod files;
mod wizard;

use std::io::IsTerminal as _;
use std::path::PathBuf;
use std::process::ExitCode;

use secrecy::SecretString;

use crate::config::{Config, ConfigError};
use args::Answers;
pub use args::{InitArgs, Language, PlatformFlags};
use ask::Ui;
/// A TOML string literal (for configuration text written by zfsync).
pub(crate) use files::q as toml_string;
use files::{Generated, Paths, Setup, StoreKey};
use wizard::Wizard;

/// Why `zfsync init` stopped. Every message says what to do; none quotes a secret.
#[derive(Debug, thiserror::Error)]
pub enum InitError {
    /// A file to write exists.
    #[error(
        "{path} already exists; pass --force to overwrite it, or choose another file with {flag}"
    )]
    Exists {
        /// The file.
        path: PathBuf,
        /// The flag that names it.
        flag: &'static str,
    },
    /// The config and the secrets file would be one file.
    #[error("--config and --secrets-file both name {0}; choose two different files")]
    SamePath(PathBuf),
    /// Questions cannot be asked.
    #[error("standard input is not a terminal, so zfsync init cannot ask its questions: run it in a terminal, or pass --non-interactive with one flag per value ('zfsync init --help' lists them; secrets as '-' on standard input or in the environment)")]
    NotATerminal,
    /// A script did not give a required value.
    #[error("{flag} is required with --non-interactive{}", env.map(|e| format!(" (or set {e})")).unwrap_or_default())]
    Missing {
        /// The flag.
        flag: &'static str,
        /// The environment variable that may give it instead.
        env: Option<&'static str>,
    },
    /// A secret was written on the command line, where `ps` shows it.
    #[error("{flag} takes '-' (the value is then read from standard input), so the secret never shows in the process list; or set {env}")]
    SecretInArguments {
        /// The flag.
        flag: &'static str,
        /// Its environment variable.
        env: &'static str,
    },
    /// A value given as `-` could not be read.
    #[error("cannot read {flag} from standard input: {detail}")]
    Stdin {
        /// The flag.
        flag: &'static str,
        /// Why.
        detail: String,
    },
    /// A value failed its check (in a script).
    #[error("{flag} ({key}): {detail}; fix: {fix}")]
    Check {
        /// The flag that gave the value.
        flag: &'static str,
        /// The config key or secret name it becomes.
        key: &'static str,
        /// What the check found.
        detail: String,
        /// What to do.
        fix: String,
    },
    /// The terminal could not be read.
    #[error("cannot read the answer from the terminal: {0}")]
    Prompt(String),
    /// Ctrl-C at a question.
    #[error("stopped before the end; nothing was written")]
    Interrupted,
    /// Standard input ended (Ctrl-D, a closed pipe or terminal) at a question.
    #[error("standard input ended at \"{question}\"; nothing was written. Run zfsync init again in a terminal, or script it with --non-interactive (zfsync init --help)")]
    EndOfInput {
        /// The question that got no answer.
        question: String,
    },
    /// The operator chose to stop when a platform could not be reached.
    #[error("stopped: {platform} could not be reached, and nothing was written. Run zfsync init again once it answers, or with --skip-checks to write the files without contacting Freshchat or Zalo (then run zfsync check)")]
    Unreachable {
        /// Freshchat or Zalo.
        platform: &'static str,
    },
    /// A secret the secrets file cannot hold.
    #[error("the value for {name} has a line break, a quote or a backslash, which the secrets file cannot hold (Zalo and Freshchat keys have none): copy it again")]
    SecretValue {
        /// The secret's name.
        name: &'static str,
    },
    /// A file could not be written.
    #[error("cannot write {path}: {detail}")]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        detail: String,
    },
    /// No random bytes for the admin token or the store key.
    #[error("the system's random number generator failed; run zfsync init again")]
    Randomness,
    /// The written config does not load (for example, a `ZFSYNC_*` variable overrides a value).
    #[error("the written configuration {path} does not load: {detail}; correct it, or run zfsync init --force again")]
    WrittenConfig {
        /// The config file.
        path: PathBuf,
        /// Why.
        detail: String,
    },
}

/// Runs the wizard: asks, checks, writes, and prints what to do next.
pub async fn run(args: InitArgs) -> anyhow::Result<ExitCode> {
    let interactive = !args.non_interactive;
    if interactive && !std::io::stdin().is_terminal() {
        return Err(InitError::NotATerminal.into());
    }
    let paths = Paths::resolve(&args.config, args.secrets_file.as_deref(), args.force)?;
    let answers = Answers::collect(&args.platform, Some(&args), interactive)?;
    let ui = Ui::new(interactive);
    if interactive {
        let checked = if args.skip_checks {
            "Answers are checked for their form only (--skip-checks): run zfsync check once the machine reaches Freshchat and Zalo"
        } else {
            "Each answer is checked live with Freshchat and Zalo as you go (--skip-checks works offline)"
        };
        eprintln!(
            "zfsync init writes {} and {} (mode 600). {checked}; Ctrl-C stops without writing anything.",
            paths.config.display(),
            paths.secrets.display()
        );
    }
    let mut wizard = Wizard {
        ui,
        answers,
        checks: !args.skip_checks,
    };
    let setup = wizard.ask(&args).await?;

    let store_key = store_key_plan(&paths, &setup, args.force);
    let kept = match &store_key {
        StoreKey::New => None,
        StoreKey::Reuse(_) => Some(format!(
            "the store key of the replaced {} is kept",
            paths.secrets.display()
        )),
        StoreKey::KeyFile(p) => Some(format!("the store keeps its key in {}", p.display())),
    };
    let generated = Generated::new(store_key)?;
    let secrets = files::render_secrets(&setup, &generated)?;
    files::write_file(&paths.secrets, &secrets, true, args.force)?;
    files::write_file(
        &paths.config,
        &files::render_config(&setup, &paths),
        false,
        args.force,
    )?;
    let config =
        Config::load(&paths.config).map_err(|e: ConfigError| InitError::WrittenConfig {
            path: paths.config.clone(),
            detail: e.to_string(),
        })?;
    print_summary(&paths, &config, kept, args.skip_checks);
    Ok(ExitCode::SUCCESS)
}

/// The platform values of a pairing added beside the configuration file's (`zfsync pairing
/// add`): taken as `init --non-interactive` takes them (flags, the environment, standard input for
/// `-`) and checked live unless `skip_checks`.
pub async fn pairing_values(
    flags: &PlatformFlags,
    skip_checks: bool,
) -> Result<
    (
        crate::config::PairingSettings,
        crate::config::PairingSecrets,
    ),
    InitError,
> {
    let answers = Answers::collect(flags, None, false)?;
    let mut wizard = Wizard {
        ui: Ui::new(false),
        answers,
        checks: !skip_checks,
    };
    wizard
        .ask_platforms(flags.zalo_api_base.as_ref(), flags.zalo_oauth_base.as_ref())
        .await
}

/// The values of the console's "Add a pairing" form. A blank field is not given (never filled
/// from the environment, unlike `zfsync pairing add`). `Debug` shows no secret.
pub struct PairingForm {
    /// Freshchat API URL.
    pub freshchat_api_url: String,
    /// Freshchat API key.
    pub freshchat_api_key: SecretString,
    /// Freshchat App ID (blank: the account's).
    pub freshchat_app_id: String,
    /// Freshchat channel, id or name (blank: the wizard's choice).
    pub freshchat_channel: String,
    /// Freshchat webhook public key (PEM).
    pub freshchat_webhook_public_key: String,
    /// Zalo App ID.
    pub zalo_app_id: String,
    /// Zalo App Secret Key.
    pub zalo_app_secret: SecretString,
    /// Zalo OA Secret Key.
    pub zalo_oa_secret_key: SecretString,
    /// The OA the pairing serves.
    pub oa_id: String,
    /// The customers' language.
    pub language: Option<Language>,
    /// The agents' language.
    pub agent_language: Option<Language>,
    /// Zalo's API base (the deployment's).
    pub zalo_api_base: Option<url::Url>,
    /// Zalo's OAuth base (the deployment's).
    pub zalo_oauth_base: Option<url::Url>,
    /// Only formats are checked; Freshchat and Zalo are not contacted.
    pub skip_checks: bool,
}

impl std::fmt::Debug for PairingForm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PairingForm")
            .field("freshchat_api_url", &self.freshchat_api_url)
            .field("zalo_app_id", &self.zalo_app_id)
            .field("oa_id", &self.oa_id)
            .field("skip_checks", &self.skip_checks)
            .finish_non_exhaustive()
    }
}

/// What the form's values gave: the pairing's settings and secrets, or why not; and the checks
/// that ran (each with its fix), for the page to show.
pub struct FormOutcome {
    /// The values, checked.
    pub result: Result<
        (
            crate::config::PairingSettings,
            crate::config::PairingSecrets,
        ),
        InitError,
    >,
    /// The checks, in the order they ran.
    pub checks: Vec<crate::check::Check>,
}

/// The platform values of a pairing added from the console: the same questions and live checks
/// as `zfsync pairing add`, answered by the form only, printing nothing.
pub async fn pairing_from_form(form: &PairingForm) -> FormOutcome {
    let mut wizard = Wizard {
        ui: Ui::quiet(),
        answers: Answers::from_form(form),
        checks: !form.skip_checks,
    };
    let result = wizard
        .ask_platforms(form.zalo_api_base.as_ref(), form.zalo_oauth_base.as_ref())
        .await;
    FormOutcome {
        result,
        checks: wizard.ui.take_checks(),
    }
}

impl InitError {
    /// The message for a form, where fields have labels rather than flags.
    pub fn for_form(&self) -> String {
        match self {
            InitError::Missing { flag, .. } => format!("{} is required", args::label_of(flag)),
            InitError::Check {
                flag, detail, fix, ..
            } => {
                let fix = if fix.is_empty() {
                    String::new()
                } else {
                    format!("; fix: {fix}")
                };
                format!("{}: {detail}{fix}", args::label_of(flag))
            }
            other => other.to_string(),
        }
    }
}

/// A replaced secrets file's store key is kept (the store was encrypted with it); a store with its
/// own key file keeps that; otherwise a new key.
fn store_key_plan(paths: &Paths, setup: &Setup, force: bool) -> StoreKey {
    if force && paths.secrets.exists() {
        if let Ok(old) = crate::config::read_secrets_file(&paths.secrets) {
            if let Some(k) = old.get(crate::config::ENV_STORE_KEY) {
                return StoreKey::Reuse(SecretString::from(k.clone()));
            }
        }
    }
    let dir = paths
        .config
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .map(PathBuf::from)
        .unwrap_or_default();
    let store = crate::config::StoreConfig {
        path: dir.join(&setup.store_path),
        key_file: None,
        key: None,
        url: None,
    };
    let key_file = store.key_path();
    if key_file.exists() {
        StoreKey::KeyFile(key_file)
    } else {
        StoreKey::New
    }
}

fn print_summary(paths: &Paths, config: &Config, kept: Option<String>, skipped: bool) {
    let route = |r: &str| config.public_url(r);
    let store_key = match kept {
        None => "a new store key ZFSYNC_STORE_KEY".to_string(),
        Some(k) => k,
    };
    println!(
        "\nWrote {} and {} (mode 600: the Freshchat API key, the Zalo App Secret and OA Secret Key, a new admin token ZFSYNC_ADMIN_TOKEN for /oauth/zalo/start and the console; {store_key}).",
        paths.config.display(),
        paths.secrets.display(),
    );
    println!("\nPaste these URLs:");
    println!(
        "  Zalo app → Webhook page (developers.zalo.me):   {}",
        route(crate::routes::ROUTE_ZALO_WEBHOOK)
    );
    println!(
        "  Zalo app → Official Account → Callback URL:     {}",
        route(crate::routes::ROUTE_OAUTH_CALLBACK)
    );
    println!(
        "  Freshchat Admin → Webhooks:                     {}",
        route(crate::routes::ROUTE_FRESHCHAT_WEBHOOK)
    );
    let shown = paths.config.display();
    println!("\nNext: zfsync connect zalo --config {shown}");
    println!("  (an admin of the OA opens the link it prints and presses \"Allow\"); then zfsync check --config {shown}");
    if skipped {
        println!("Checks were skipped: 'zfsync check' probes Freshchat and Zalo once this machine is online.");
    }
}
