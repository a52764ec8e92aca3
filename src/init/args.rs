//! The flags of `zfsync init`, and what they give before any question is asked: values from
//! flags, secrets from the environment or standard input (`-`), never from the command line.
//!
//! Failure modes: a secret written on the command line ([`InitError::SecretInArguments`], which
//! names the flag and never quotes the value), standard input that ends before a `-` value
//! ([`InitError::Stdin`]).

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Args;
use secrecy::SecretString;
use url::Url;

use super::ask::{Field, Given, Stdin};
use super::InitError;
use crate::config::{
    ENV_FRESHCHAT_API_KEY, ENV_FRESHCHAT_WEBHOOK_PUBLIC_KEY, ENV_ZALO_APP_SECRET,
    ENV_ZALO_OA_SECRET_KEY,
};

/// A language zfsync writes in: of the texts customers read on Zalo, or of the notes agents read
/// in Freshchat.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Language {
    /// Vietnamese (the default: Zalo OAs speak to Vietnamese customers).
    Vi,
    /// English.
    En,
}

impl Language {
    /// The `mapping.language` (or `mapping.agent_language`) value.
    pub fn as_str(self) -> &'static str {
        match self {
            Language::Vi => "vi",
            Language::En => "en",
        }
    }
}

/// A secret's flag: only `-` (read standard input) is accepted; anything else is refused later,
/// by name, without quoting it. `Debug` never shows it.
#[derive(Clone)]
pub struct SecretFlag(String);

impl SecretFlag {
    fn is_stdin(&self) -> bool {
        self.0 == "-"
    }
}

impl std::fmt::Debug for SecretFlag {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.is_stdin() {
            "\"-\""
        } else {
            "[redacted]"
        })
    }
}

impl std::str::FromStr for SecretFlag {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(SecretFlag(s.to_string()))
    }
}

/// The values of one Zalo OA ↔ Freshchat account: the flags `zfsync init` and `zfsync pairing
/// add` share.
// Doc comments here are --help text, where URLs stay plain.
#[allow(rustdoc::bare_urls)]
#[derive(Debug, Clone, Default, Args)]
pub struct PlatformFlags {
    /// Freshchat API URL (Admin → APIs for chat), e.g. https://yourcompany.freshchat.com.
    #[arg(long, value_name = "URL")]
    pub freshchat_api_url: Option<String>,
    /// Freshchat API key: '-' reads it from standard input; or set ZFSYNC_FRESHCHAT_API_KEY.
    #[arg(long, value_name = "-", allow_hyphen_values = true)]
    pub freshchat_api_key: Option<SecretFlag>,
    /// Freshchat App ID (Admin → Integration Settings). Default: the account's.
    #[arg(long, value_name = "ID")]
    pub freshchat_app_id: Option<String>,
    /// The Freshchat channel (topic) new conversations go to, by id or exact name. Default: the
    /// channel named "Zalo", else the first enabled one.
    #[arg(long, value_name = "ID|NAME")]
    pub freshchat_channel: Option<String>,
    /// Freshchat webhook public key (Admin → Webhooks), one line; '-' reads it from standard input
    /// (several lines allowed); or set ZFSYNC_FRESHCHAT_WEBHOOK_PUBLIC_KEY.
    #[arg(long, value_name = "KEY|-", allow_hyphen_values = true)]
    pub freshchat_webhook_public_key: Option<String>,
    /// Zalo App ID (developers.zalo.me → your app → Settings).
    #[arg(long, value_name = "ID")]
    pub zalo_app_id: Option<String>,
    /// Zalo App Secret Key: '-' reads it from standard input; or set ZFSYNC_ZALO_APP_SECRET.
    #[arg(long, value_name = "-", allow_hyphen_values = true)]
    pub zalo_app_secret: Option<SecretFlag>,
    /// Zalo OA Secret Key (the app's Webhook page): '-' reads it from standard input; or set
    /// ZFSYNC_ZALO_OA_SECRET_KEY.
    #[arg(long, value_name = "-", allow_hyphen_values = true)]
    pub zalo_oa_secret_key: Option<SecretFlag>,
    /// The id of the Zalo Official Account served (a number: on the OA's page at oa.zalo.me, and
    /// on Zalo's consent screen). Zalo's OAuth callback then connects this OA only, and refuses a
    /// consent for any other. Required by 'pairing add'.
    #[arg(long, value_name = "ID")]
    pub oa_id: Option<String>,
    /// The language of the texts customers read on Zalo (resolve notice, long-text and link
    /// notices). Default: vi.
    #[arg(long, value_enum)]
    pub language: Option<Language>,
    /// The language of the notes agents read in Freshchat (Zalo errors, reply costs, attachment
    /// notes, answers to /zalo commands), apart from the customers'. Default: vi.
    #[arg(long, value_enum)]
    pub agent_language: Option<Language>,
    /// Zalo OpenAPI base URL (only for a test double).
    #[arg(long, value_name = "URL")]
    pub zalo_api_base: Option<Url>,
    /// Zalo OAuth base URL (only for a test double).
    #[arg(long, value_name = "URL")]
    pub zalo_oauth_base: Option<Url>,
}

/// The flags of `zfsync init`.
// Doc comments here are --help text, where URLs stay plain.
#[allow(rustdoc::bare_urls)]
#[derive(Debug, Args)]
pub struct InitArgs {
    /// Where to write the configuration.
    #[arg(
        long,
        short = 'c',
        value_name = "FILE",
        env = "ZFSYNC_CONFIG",
        default_value = "zfsync.toml"
    )]
    pub config: PathBuf,
    /// Where to write the secrets (ZFSYNC_NAME=value lines, mode 600). Default: secrets.env beside
    /// the config.
    #[arg(long, value_name = "FILE")]
    pub secrets_file: Option<PathBuf>,
    /// Overwrite existing files (the store key of a replaced secrets file is kept).
    #[arg(long)]
    pub force: bool,
    /// Ask nothing: every value from flags, the environment or standard input; a failed check is
    /// an error naming the flag and the fix.
    #[arg(long)]
    pub non_interactive: bool,
    /// Do not contact Freshchat, Zalo or the public URL (offline set-up); formats are still
    /// checked. Run 'zfsync check' once online.
    #[arg(long)]
    pub skip_checks: bool,
    /// The Freshchat account and the Zalo app and OA.
    #[command(flatten)]
    pub platform: PlatformFlags,
    /// The public https URL that reaches this server through your TLS proxy.
    #[arg(long, value_name = "URL")]
    pub public_url: Option<String>,
    /// The address zfsync listens on, behind the proxy. Default: 127.0.0.1:8080 (or the public
    /// URL's own address when it is a loopback one).
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
    /// The SQLite store, relative to the config's directory. Default: zfsync.db.
    #[arg(long, value_name = "FILE")]
    pub store_path: Option<PathBuf>,
}

pub(super) const FRESHCHAT_API_URL: Field = Field {
    label: "Freshchat API URL",
    flag: "--freshchat-api-url",
    key: "freshchat.api_base",
    env: None,
    hint: "Freshchat Admin → APIs for chat, the API URL, e.g. https://yourcompany.freshchat.com",
};
pub(super) const FRESHCHAT_API_KEY: Field = Field {
    label: "Freshchat API key",
    flag: "--freshchat-api-key",
    key: ENV_FRESHCHAT_API_KEY,
    env: Some(ENV_FRESHCHAT_API_KEY),
    hint: "Freshchat Admin → APIs for chat → Generate token; typing is not shown",
};
pub(super) const FRESHCHAT_APP_ID: Field = Field {
    label: "Freshchat App ID",
    flag: "--freshchat-app-id",
    key: "freshchat.app_id",
    env: None,
    hint: "Freshchat Admin → Integration Settings, App ID; Enter keeps the account's",
};
pub(super) const FRESHCHAT_WEBHOOK_KEY: Field = Field {
    label: "Freshchat webhook public key",
    flag: "--freshchat-webhook-public-key",
    key: "freshchat.webhook_public_key",
    env: Some(ENV_FRESHCHAT_WEBHOOK_PUBLIC_KEY),
    hint: "Freshchat Admin → Webhooks, the RSA public key; paste it whole, BEGIN and END lines included",
};
pub(super) const FRESHCHAT_CHANNEL: Field = Field {
    label: "Freshchat channel",
    flag: "--freshchat-channel",
    key: "freshchat.channel_id",
    env: None,
    hint: "the channel (topic) new Zalo conversations go to",
};
pub(super) const ZALO_APP_ID: Field = Field {
    label: "Zalo App ID",
    flag: "--zalo-app-id",
    key: "zalo.app_id",
    env: None,
    hint: "developers.zalo.me → your app → Settings, App ID (a number)",
};
pub(super) const ZALO_APP_SECRET: Field = Field {
    label: "Zalo App Secret Key",
    flag: "--zalo-app-secret",
    key: ENV_ZALO_APP_SECRET,
    env: Some(ENV_ZALO_APP_SECRET),
    hint: "developers.zalo.me → your app → Settings, App Secret Key; typing is not shown",
};
pub(super) const ZALO_OAUTH_BASE: Field = Field {
    label: "Zalo OAuth base URL",
    flag: "--zalo-oauth-base",
    key: "zalo.oauth_base",
    env: None,
    hint: "only for a test double",
};
pub(super) const ZALO_OA_SECRET: Field = Field {
    label: "Zalo OA Secret Key",
    flag: "--zalo-oa-secret-key",
    key: ENV_ZALO_OA_SECRET_KEY,
    env: Some(ENV_ZALO_OA_SECRET_KEY),
    hint: "developers.zalo.me → your app → Webhook page, OA Secret Key (not the App Secret); typing is not shown",
};
pub(super) const ZALO_OA_ID: Field = Field {
    label: "Zalo OA ID",
    flag: "--oa-id",
    key: "zalo.oa_id",
    env: None,
    hint: "the Official Account's id, a number: on the OA's page at oa.zalo.me (under the OA's name, \"OA ID\"), and on Zalo's consent screen when an OA admin allows the app",
};
pub(super) const PUBLIC_URL: Field = Field {
    label: "Public URL of this server",
    flag: "--public-url",
    key: "server.public_url",
    env: None,
    hint: "the https address your TLS proxy forwards to zfsync, e.g. https://zfsync.example.com",
};
pub(super) const LISTEN: Field = Field {
    label: "Address zfsync listens on",
    flag: "--listen",
    key: "server.listen",
    env: None,
    hint: "where the proxy forwards to; usually loopback",
};

/// Values given before any question: flags, the environment, standard input.
#[derive(Debug, Default)]
pub(super) struct Answers {
    pub freshchat_api_url: Option<Given<String>>,
    pub freshchat_api_key: Option<Given<SecretString>>,
    pub freshchat_app_id: Option<Given<String>>,
    pub freshchat_channel: Option<String>,
    pub freshchat_webhook_key: Option<Given<String>>,
    pub zalo_app_id: Option<Given<String>>,
    pub zalo_app_secret: Option<Given<SecretString>>,
    pub zalo_oa_secret: Option<Given<SecretString>>,
    pub zalo_oa_id: Option<Given<String>>,
    pub public_url: Option<Given<String>>,
    pub listen: Option<SocketAddr>,
    pub language: Option<Language>,
    pub agent_language: Option<Language>,
}

fn flag(value: &Option<String>, field: &Field) -> Option<Given<String>> {
    value.clone().map(|value| Given {
        value,
        from: field.flag.to_string(),
    })
}

fn env_value(field: &Field) -> Option<Given<String>> {
    let name = field.env?;
    std::env::var(name)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .map(|value| Given {
            value,
            from: name.to_string(),
        })
}

/// Every field, to name one by its flag where there are no flags (the console's form).
const FIELDS: [Field; 12] = [
    FRESHCHAT_API_URL,
    FRESHCHAT_API_KEY,
    FRESHCHAT_APP_ID,
    FRESHCHAT_WEBHOOK_KEY,
    FRESHCHAT_CHANNEL,
    ZALO_APP_ID,
    ZALO_APP_SECRET,
    ZALO_OAUTH_BASE,
    ZALO_OA_SECRET,
    ZALO_OA_ID,
    PUBLIC_URL,
    LISTEN,
];

/// The label of the field a flag gives (the flag itself when none matches).
pub(super) fn label_of(flag: &'static str) -> &'static str {
    FIELDS
        .iter()
        .find(|f| f.flag == flag)
        .map(|f| f.label)
        .unwrap_or(flag)
}

impl Answers {
    /// Collects what the flags, the environment and standard input give. Secrets given as `-` are
    /// read from standard input now, in onboarding order; on a terminal they are asked later.
    pub(super) fn collect(
        args: &PlatformFlags,
        server: Option<&InitArgs>,
        interactive: bool,
    ) -> Result<Answers, InitError> {
        let stdin = Stdin::new();
        let secret = |value: &Option<SecretFlag>, field: &Field| match value {
            Some(v) if v.is_stdin() && interactive => Ok(None),
            Some(v) if v.is_stdin() => stdin.secret(field).map(|value| {
                Some(Given {
                    value,
                    from: "standard input".into(),
                })
            }),
            Some(_) => Err(InitError::SecretInArguments {
                flag: field.flag,
                env: field.env.unwrap_or_default(),
            }),
            None => Ok(env_value(field).map(|g| Given {
                value: SecretString::from(g.value),
                from: g.from,
            })),
        };
        let freshchat_api_key = secret(&args.freshchat_api_key, &FRESHCHAT_API_KEY)?;
        let freshchat_webhook_key = match args.freshchat_webhook_public_key.as_deref() {
            Some("-") if interactive => None,
            Some("-") => Some(Given {
                value: stdin.key(&FRESHCHAT_WEBHOOK_KEY)?,
                from: "standard input".into(),
            }),
            Some(v) => Some(Given {
                value: v.to_string(),
                from: FRESHCHAT_WEBHOOK_KEY.flag.into(),
            }),
            None => env_value(&FRESHCHAT_WEBHOOK_KEY),
        };
        Ok(Answers {
            freshchat_api_url: flag(&args.freshchat_api_url, &FRESHCHAT_API_URL),
            freshchat_api_key,
            freshchat_app_id: flag(&args.freshchat_app_id, &FRESHCHAT_APP_ID),
            freshchat_channel: args.freshchat_channel.clone(),
            freshchat_webhook_key,
            zalo_app_id: flag(&args.zalo_app_id, &ZALO_APP_ID),
            zalo_app_secret: secret(&args.zalo_app_secret, &ZALO_APP_SECRET)?,
            zalo_oa_secret: secret(&args.zalo_oa_secret_key, &ZALO_OA_SECRET)?,
            zalo_oa_id: flag(&args.oa_id, &ZALO_OA_ID),
            public_url: server.and_then(|s| flag(&s.public_url, &PUBLIC_URL)),
            listen: server.and_then(|s| s.listen),
            language: args.language,
            agent_language: args.agent_language,
        })
    }
}

impl Answers {
    /// The values of a form: only what was typed in it (blank fields are not given), never the
    /// environment or standard input.
    pub(super) fn from_form(form: &super::PairingForm) -> Answers {
        fn typed(value: &str) -> Option<Given<String>> {
            let value = value.trim();
            (!value.is_empty()).then(|| Given {
                value: value.to_string(),
                from: "the form".into(),
            })
        }
        fn typed_secret(value: &SecretString) -> Option<Given<SecretString>> {
            use secrecy::ExposeSecret as _;
            typed(value.expose_secret()).map(|g| Given {
                value: SecretString::from(g.value),
                from: g.from,
            })
        }
        Answers {
            freshchat_api_url: typed(&form.freshchat_api_url),
            freshchat_api_key: typed_secret(&form.freshchat_api_key),
            freshchat_app_id: typed(&form.freshchat_app_id),
            freshchat_channel: typed(&form.freshchat_channel).map(|g| g.value),
            freshchat_webhook_key: typed(&form.freshchat_webhook_public_key),
            zalo_app_id: typed(&form.zalo_app_id),
            zalo_app_secret: typed_secret(&form.zalo_app_secret),
            zalo_oa_secret: typed_secret(&form.zalo_oa_secret_key),
            zalo_oa_id: typed(&form.oa_id),
            public_url: None,
            listen: None,
            language: form.language,
            agent_language: form.agent_language,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn secret_flags_never_show_their_value() {
        let f: SecretFlag = "s3cret-value".parse().unwrap();
        assert!(!format!("{f:?}").contains("s3cret"));
        assert!(!f.is_stdin());
        assert!("-".parse::<SecretFlag>().unwrap().is_stdin());
    }

    #[test]
    fn a_forms_errors_name_the_field_not_the_flag() {
        let missing = InitError::Missing {
            flag: FRESHCHAT_API_KEY.flag,
            env: FRESHCHAT_API_KEY.env,
        };
        assert_eq!(missing.for_form(), "Freshchat API key is required");
        let failed = InitError::Check {
            flag: ZALO_OA_ID.flag,
            key: ZALO_OA_ID.key,
            detail: "not a number".into(),
            fix: "copy it from oa.zalo.me".into(),
        };
        assert_eq!(
            failed.for_form(),
            "Zalo OA ID: not a number; fix: copy it from oa.zalo.me"
        );
        assert_eq!(label_of("--no-such-flag"), "--no-such-flag");
    }

    #[test]
    fn a_form_gives_only_what_was_typed() {
        let form = super::super::PairingForm {
            freshchat_api_url: " https://a.freshchat.com ".into(),
            freshchat_api_key: SecretString::from("  ".to_string()),
            freshchat_app_id: String::new(),
            freshchat_channel: "Support".into(),
            freshchat_webhook_public_key: String::new(),
            zalo_app_id: "1".into(),
            zalo_app_secret: SecretString::from("s".to_string()),
            zalo_oa_secret_key: SecretString::from(String::new()),
            oa_id: "2".into(),
            language: None,
            agent_language: None,
            zalo_api_base: None,
            zalo_oauth_base: None,
            skip_checks: true,
        };
        let a = Answers::from_form(&form);
        assert_eq!(
            a.freshchat_api_url.map(|g| g.value).as_deref(),
            Some("https://a.freshchat.com")
        );
        assert!(a.freshchat_api_key.is_none(), "blank is not given");
        assert!(a.freshchat_webhook_key.is_none());
        assert!(a.zalo_oa_secret.is_none());
        assert_eq!(
            a.zalo_app_secret.map(|g| g.from).as_deref(),
            Some("the form")
        );
    }
}
