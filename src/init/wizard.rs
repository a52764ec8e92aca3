//! The questions, in onboarding order: Freshchat (API URL, API key, App ID, webhook public key,
//! channel), Zalo (App ID, App Secret Key, OA Secret Key, OA ID), this server (public URL, listen
//! address), the customers' language. Each answer is checked with the checks of `zfsync check`
//! (unless `--skip-checks`; formats are always checked) and asked again, with the fix, when one
//! fails; in a script a failed check ends the run with an error naming the flag and the fix.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;

use secrecy::{ExposeSecret as _, SecretString};
use url::Url;
use zfsync_freshchat::{AccountConfiguration, Channel, FreshchatClient};

use super::args::*;
use super::ask::{one_line, Field, Given, Ui, Unreachable};
use super::files::{self, Setup};
use super::{InitError, Language};
use crate::check::{self, Check, Level, ZaloAppFault};
use crate::config::{PairingSecrets, PairingSettings};

/// The questions, in onboarding order.
pub(super) struct Wizard {
    pub ui: Ui,
    pub answers: Answers,
    /// Whether to contact Freshchat, Zalo and the public URL.
    pub checks: bool,
}

/// The Freshchat half of the answers.
struct FreshchatAnswers {
    base: Url,
    key: SecretString,
    app_id: Option<String>,
    channel_id: Option<(String, Option<String>)>,
    channel_name: Option<String>,
    webhook_key: String,
}

impl Wizard {
    /// Asks (or, non-interactively, takes and checks) only the platform values: what a pairing
    /// added beside the configuration file's needs.
    pub(super) async fn ask_platforms(
        &mut self,
        zalo_api_base: Option<&Url>,
        zalo_oauth_base: Option<&Url>,
    ) -> Result<(PairingSettings, PairingSecrets), InitError> {
        let fc = self.freshchat().await?;
        let oauth_base = zalo_oauth_base.cloned().unwrap_or_else(|| {
            Url::parse("https://oauth.zaloapp.com").unwrap_or_else(|_| unreachable!())
        });
        let (app_id, app_secret, oa_secret) = self.zalo(&oauth_base).await?;
        let oa_id = self.oa_id()?;
        let language = self.language()?;
        let agent_language = self.agent_language()?;
        let settings = PairingSettings {
            zalo_app_id: app_id,
            zalo_oa_id: Some(oa_id),
            zalo_api_base: zalo_api_base.cloned().unwrap_or_else(|| {
                Url::parse("https://openapi.zalo.me").unwrap_or_else(|_| unreachable!())
            }),
            zalo_oauth_base: oauth_base,
            freshchat_api_base: fc.base,
            freshchat_app_id: fc.app_id,
            freshchat_channel_id: fc.channel_id.map(|(id, _)| id),
            freshchat_channel_name: fc.channel_name,
            mapping_rules: None,
            mapping_language: Some(language.as_str().to_string()),
            mapping_agent_language: Some(agent_language.as_str().to_string()),
        };
        let secrets = PairingSecrets {
            zalo_app_secret: app_secret.expose_secret().to_string(),
            zalo_oa_secret_key: oa_secret.expose_secret().to_string(),
            freshchat_api_key: fc.key.expose_secret().to_string(),
            freshchat_webhook_public_key: fc.webhook_key,
        };
        Ok((settings, secrets))
    }

    /// Asks every question and returns what to write.
    pub async fn ask(&mut self, args: &InitArgs) -> Result<Setup, InitError> {
        let fc = self.freshchat().await?;
        let oauth_base = args.platform.zalo_oauth_base.clone().unwrap_or_else(|| {
            Url::parse("https://oauth.zaloapp.com").unwrap_or_else(|_| unreachable!())
        });
        let (app_id, app_secret, oa_secret) = self.zalo(&oauth_base).await?;
        let oa_id = self.oa_id()?;
        let (public_url, listen) = self.public_url().await?;
        let language = self.language()?;
        let agent_language = self.agent_language()?;
        Ok(Setup {
            freshchat_api_base: fc.base,
            freshchat_api_key: fc.key,
            freshchat_app_id: fc.app_id,
            freshchat_channel_id: fc.channel_id,
            freshchat_channel_name: fc.channel_name,
            freshchat_webhook_key: fc.webhook_key,
            zalo_app_id: app_id,
            zalo_app_secret: app_secret,
            zalo_oa_secret_key: oa_secret,
            zalo_oa_id: oa_id,
            zalo_api_base: args.platform.zalo_api_base.clone(),
            zalo_oauth_base: args.platform.zalo_oauth_base.clone(),
            public_url,
            listen,
            language,
            agent_language,
            store_path: args
                .store_path
                .clone()
                .unwrap_or_else(|| PathBuf::from(files::DEFAULT_STORE_PATH)),
        })
    }

    async fn freshchat(&mut self) -> Result<FreshchatAnswers, InitError> {
        self.ui.heading("Freshchat");
        let mut given = self.answers.freshchat_api_url.take();
        let base = loop {
            let raw = self
                .ui
                .text(&FRESHCHAT_API_URL, given.take(), None, false)?;
            let base = match parse_base_url(&raw) {
                Ok(u) => u,
                Err(detail) => {
                    let c = Check::fail(check::CHECK_FRESHCHAT_API, detail, "use https://<account>.freshchat.com, the API URL shown in Freshchat Admin → APIs for chat");
                    self.ui.reject(&FRESHCHAT_API_URL, &c)?;
                    continue;
                }
            };
            if self.checks {
                let c = check::freshchat_host(&base).await;
                if c.unreachable {
                    match self.ui.unreachable("Freshchat", &FRESHCHAT_API_URL, &c)? {
                        Unreachable::Retry => given = Some(again(raw)),
                        Unreachable::SkipChecks => {
                            self.checks = false;
                            break base;
                        }
                        Unreachable::AskAgain => {}
                    }
                    continue;
                }
                if !c.ok {
                    self.ui.reject(&FRESHCHAT_API_URL, &c)?;
                    continue;
                }
                self.ui.show(&c);
            }
            break base;
        };

        let mut given = self.answers.freshchat_api_key.take();
        let (key, client, account) = loop {
            let key = self.ui.secret(&FRESHCHAT_API_KEY, given.take())?;
            if let Some(c) = secret_shape(&FRESHCHAT_API_KEY, &key) {
                self.ui.reject(&FRESHCHAT_API_KEY, &c)?;
                continue;
            }
            let client = match check::freshchat_client(&base, &key) {
                Ok(c) => c,
                Err(c) => {
                    self.ui.reject(&FRESHCHAT_API_KEY, &c)?;
                    continue;
                }
            };
            if !self.checks {
                break (key, None, None);
            }
            match check::freshchat_api(&client, &base).await {
                (c, Some(account)) => {
                    self.ui.show(&c);
                    break (key, Some(client), Some(account));
                }
                (c, None) if c.unreachable => {
                    match self.ui.unreachable("Freshchat", &FRESHCHAT_API_KEY, &c)? {
                        Unreachable::Retry => given = Some(again(key)),
                        Unreachable::SkipChecks => {
                            self.checks = false;
                            break (key, None, None);
                        }
                        Unreachable::AskAgain => {}
                    }
                }
                (c, None) => self.ui.reject(&FRESHCHAT_API_KEY, &c)?,
            }
        };

        let app_id = self.freshchat_app_id(account.as_ref())?;

        let mut given = self.answers.freshchat_webhook_key.take();
        let webhook_key = loop {
            let key = one_line(&self.ui.pasted_key(&FRESHCHAT_WEBHOOK_KEY, given.take())?);
            let c = check::freshchat_webhook_key(&key, None);
            if !c.ok {
                self.ui.reject(&FRESHCHAT_WEBHOOK_KEY, &c)?;
                continue;
            }
            self.ui.show(&c);
            break key;
        };

        let (channel_id, channel_name) = match &client {
            Some(client) => (Some(self.channel(client, &base).await?), None),
            None => match self.answers.freshchat_channel.take() {
                Some(v) if looks_like_id(&v) => (Some((v, None)), None),
                other => (None, other),
            },
        };
        Ok(FreshchatAnswers {
            base,
            key,
            app_id,
            channel_id,
            channel_name,
            webhook_key,
        })
    }

    /// The App ID: the account's is offered (and used by scripts that give none); a different one
    /// is asked again.
    fn freshchat_app_id(
        &mut self,
        account: Option<&AccountConfiguration>,
    ) -> Result<Option<String>, InitError> {
        let theirs = account.and_then(|a| a.app_id.clone());
        let mut given = self.answers.freshchat_app_id.take();
        loop {
            let ours = self
                .ui
                .text(&FRESHCHAT_APP_ID, given.take(), theirs.clone(), true)?;
            let ours = (!ours.is_empty()).then_some(ours);
            if let (Some(o), Some(account)) = (&ours, account) {
                let c = check::freshchat_app_id(Some(o), account);
                if c.level != Level::Ok {
                    // A warning in `zfsync check`; here the right value is at hand.
                    let c = Check::fail(c.name, c.detail, c.fix.unwrap_or_default());
                    self.ui.reject(&FRESHCHAT_APP_ID, &c)?;
                    continue;
                }
                self.ui.show(&c);
            }
            return Ok(ours);
        }
    }

    /// The channel new conversations go to: the one named by the flag, else chosen from the
    /// account's enabled channels (preselected: "Zalo", else the first).
    async fn channel(
        &mut self,
        client: &FreshchatClient,
        base: &Url,
    ) -> Result<(String, Option<String>), InitError> {
        loop {
            let channels = client.list_channels().await.unwrap_or_default();
            let enabled: Vec<&Channel> = channels
                .iter()
                .filter(|c| c.enabled.unwrap_or(true))
                .collect();
            if let Some(wanted) = self.answers.freshchat_channel.take() {
                let found = channels
                    .iter()
                    .find(|c| c.id == wanted)
                    .or_else(|| channels.iter().find(|c| c.name.as_deref() == Some(&wanted)));
                let c = match found {
                    Some(ch) => check::freshchat_channel(client, base, Some(&ch.id), None).await,
                    None => check::freshchat_channel(client, base, None, Some(&wanted)).await,
                };
                match found {
                    Some(ch) if c.level == Level::Ok => {
                        self.ui.show(&c);
                        return Ok((ch.id.clone(), ch.name.clone()));
                    }
                    _ => {
                        self.ui.reject(&FRESHCHAT_CHANNEL, &c)?;
                        continue;
                    }
                }
            }
            if enabled.is_empty() {
                let c = check::freshchat_channel(client, base, None, None).await;
                let c = if c.ok {
                    Check::fail(
                        c.name,
                        "the account's channels cannot be listed",
                        "run zfsync init again in a minute",
                    )
                } else {
                    c
                };
                if !self.ui.interactive() {
                    self.ui.reject(&FRESHCHAT_CHANNEL, &c)?;
                }
                self.ui.show(&c);
                if self.ui.confirm("Check the channels again?", true)? {
                    continue;
                }
                return Err(InitError::Interrupted);
            }
            let preferred = enabled
                .iter()
                .position(|c| {
                    c.name
                        .as_deref()
                        .is_some_and(|n| n.trim().eq_ignore_ascii_case("zalo"))
                })
                .unwrap_or(0);
            let pick = if self.ui.interactive() && enabled.len() > 1 {
                let items: Vec<String> = enabled
                    .iter()
                    .map(|c| format!("{} ({})", c.name.as_deref().unwrap_or("unnamed"), c.id))
                    .collect();
                self.ui.choose(
                    "Freshchat channel for new Zalo conversations",
                    &items,
                    preferred,
                )?
            } else {
                preferred
            };
            let ch = enabled[pick];
            self.ui
                .show(&check::freshchat_channel(client, base, Some(&ch.id), None).await);
            return Ok((ch.id.clone(), ch.name.clone()));
        }
    }

    async fn zalo(
        &mut self,
        oauth_base: &Url,
    ) -> Result<(String, SecretString, SecretString), InitError> {
        self.ui.heading("Zalo");
        let mut given_id = self.answers.zalo_app_id.take();
        let mut given_secret = self.answers.zalo_app_secret.take();
        let mut app_id: Option<String> = None;
        let mut secret: Option<SecretString> = None;
        let (app_id, secret) = loop {
            let id = match app_id.take() {
                Some(id) => id,
                None => {
                    let id = self.ui.text(&ZALO_APP_ID, given_id.take(), None, false)?;
                    if id.is_empty() || !id.chars().all(|c| c.is_ascii_digit()) {
                        let c = Check::fail(
                            check::CHECK_ZALO_APP,
                            format!("\"{id}\" is not an App ID: it is a number"),
                            ZALO_APP_ID.hint,
                        );
                        self.ui.reject(&ZALO_APP_ID, &c)?;
                        continue;
                    }
                    id
                }
            };
            let s = match secret.take() {
                Some(s) => s,
                None => {
                    let s = self.ui.secret(&ZALO_APP_SECRET, given_secret.take())?;
                    if let Some(c) = secret_shape(&ZALO_APP_SECRET, &s) {
                        app_id = Some(id);
                        self.ui.reject(&ZALO_APP_SECRET, &c)?;
                        continue;
                    }
                    s
                }
            };
            if !self.checks {
                break (id, s);
            }
            let probe = check::zalo_app(&id, &s, oauth_base).await;
            match probe.fault {
                None => {
                    self.ui.show(&probe.check);
                    break (id, s);
                }
                Some(ZaloAppFault::AppId) => {
                    secret = Some(s);
                    self.ui.reject(&ZALO_APP_ID, &probe.check)?;
                }
                Some(ZaloAppFault::AppSecret) => {
                    app_id = Some(id);
                    self.ui.reject(&ZALO_APP_SECRET, &probe.check)?;
                }
                Some(ZaloAppFault::OAuthHost) if probe.check.unreachable => {
                    match self.ui.unreachable("Zalo", &ZALO_APP_ID, &probe.check)? {
                        Unreachable::Retry => (app_id, secret) = (Some(id), Some(s)),
                        Unreachable::SkipChecks => {
                            self.checks = false;
                            break (id, s);
                        }
                        Unreachable::AskAgain => {}
                    }
                }
                Some(ZaloAppFault::OAuthHost) => {
                    if !self.ui.interactive() {
                        self.ui.reject(&ZALO_OAUTH_BASE, &probe.check)?;
                    }
                    self.ui.show(&probe.check);
                    (app_id, secret) = (Some(id), Some(s));
                    if !self.ui.confirm("Try Zalo again?", true)? {
                        return Err(InitError::Interrupted);
                    }
                }
            }
        };

        let mut given = self.answers.zalo_oa_secret.take();
        let oa_secret = loop {
            let s = self.ui.secret(&ZALO_OA_SECRET, given.take())?;
            if let Some(c) = secret_shape(&ZALO_OA_SECRET, &s) {
                self.ui.reject(&ZALO_OA_SECRET, &c)?;
                continue;
            }
            if s.expose_secret() == secret.expose_secret() {
                let c = Check::fail(
                    "zalo_oa_secret_key",
                    "this is the App Secret Key again; Zalo signs webhooks with the OA Secret Key, a different value",
                    "copy \"OA Secret Key\" from developers.zalo.me → your app → Webhook page",
                );
                self.ui.reject(&ZALO_OA_SECRET, &c)?;
                continue;
            }
            self.ui.note("The OA Secret Key is proved by Zalo's first signed webhook: a wrong key shows in /metrics as zfsync_webhook_rejects_total{reason=\"bad_signature\"}.");
            break s;
        };
        Ok((app_id, secret, oa_secret))
    }

    /// The OA zfsync serves (`zalo.oa_id`): Zalo's callback is open to anyone, so it must know
    /// which OA a consent may connect before the first one comes back. No API tells an OA's id
    /// without its token, so only the form is checked; `zfsync check` compares it with the
    /// connected OA.
    fn oa_id(&mut self) -> Result<String, InitError> {
        if self.ui.interactive() {
            self.ui.note("zfsync connects only this Official Account: a consent given for any other OA is refused.");
        }
        let mut given = self.answers.zalo_oa_id.take();
        loop {
            let id = self.ui.text(&ZALO_OA_ID, given.take(), None, false)?;
            if crate::oauth::is_oa_id(&id) {
                return Ok(id);
            }
            let c = Check::fail(
                check::CHECK_ZALO_OA_ID,
                format!("\"{id}\" is not an OA ID: it is a number (the OA's name or alias is not its id)"),
                ZALO_OA_ID.hint,
            );
            self.ui.reject(&ZALO_OA_ID, &c)?;
        }
    }

    async fn public_url(&mut self) -> Result<(Url, SocketAddr), InitError> {
        self.ui.heading("This server");
        let mut given_url = self.answers.public_url.take();
        let mut given_listen = self.answers.listen.take();
        let (mut url_default, mut listen_default) = (None, None);
        loop {
            let raw = self
                .ui
                .text(&PUBLIC_URL, given_url.take(), url_default.take(), false)?;
            let url = match parse_public_url(&raw) {
                Ok(u) => u,
                Err(detail) => {
                    let c = Check::fail(check::CHECK_PUBLIC_URL, detail, PUBLIC_URL.hint);
                    self.ui.reject(&PUBLIC_URL, &c)?;
                    continue;
                }
            };
            let form = check::public_url(&url);
            if !form.ok {
                self.ui.reject(&PUBLIC_URL, &form)?;
                continue;
            }
            self.ui.show(&form);
            let listen = match given_listen.take() {
                Some(l) => {
                    if self.ui.interactive() {
                        eprintln!("{}: {l} (from {})", LISTEN.label, LISTEN.flag);
                    }
                    l
                }
                None => {
                    let default = listen_default
                        .take()
                        .unwrap_or_else(|| default_listen(&url));
                    let raw = self
                        .ui
                        .text(&LISTEN, None, Some(default.to_string()), false)?;
                    match raw.parse::<SocketAddr>() {
                        Ok(l) => l,
                        Err(_) => {
                            let c = Check::fail(
                                check::CHECK_PUBLIC_URL,
                                format!("\"{raw}\" is not an address and port"),
                                "write it as IP:port, e.g. 127.0.0.1:8080",
                            );
                            self.ui.reject(&LISTEN, &c)?;
                            url_default = Some(raw_url(&url));
                            continue;
                        }
                    }
                }
            };
            if self.checks {
                let reach = check::public_url_reachable(&url, listen).await;
                if reach.level == Level::Fail {
                    if !self.ui.interactive() {
                        let fix = format!("{}; or pass --skip-checks if this machine cannot reach its own public address", reach.fix.clone().unwrap_or_default());
                        let c = Check::fail(reach.name, reach.detail.clone(), fix);
                        self.ui.reject(&PUBLIC_URL, &c)?;
                    }
                    self.ui.show(&reach);
                    let choice = self.ui.choose(
                        "What now?",
                        &[
                            "Enter the public URL and listen address again".to_string(),
                            "Keep them: the proxy will be ready before 'zfsync connect zalo'"
                                .to_string(),
                        ],
                        0,
                    )?;
                    if choice == 0 {
                        (url_default, listen_default) = (Some(raw_url(&url)), Some(listen));
                        continue;
                    }
                } else {
                    self.ui.show(&reach);
                }
            }
            return Ok((url, listen));
        }
    }

    fn language(&mut self) -> Result<Language, InitError> {
        let given = self.answers.language;
        self.pick_language(
            given,
            "Customers",
            "Language of the texts customers read on Zalo (resolve notice, long-text and link notices)",
            "Tiếng Việt (vi): for a Vietnamese OA",
        )
    }

    /// The language of the notes agents read, asked apart from the customers': a Vietnamese team
    /// may serve English-speaking customers, and the other way round.
    fn agent_language(&mut self) -> Result<Language, InitError> {
        let given = self.answers.agent_language;
        self.pick_language(
            given,
            "Agents",
            "Language of the notes agents read in Freshchat (Zalo errors, reply costs, answers to /zalo commands)",
            "Tiếng Việt (vi): for a Vietnamese support team",
        )
    }

    /// The given language, else Vietnamese when nobody can be asked, else the operator's pick.
    fn pick_language(
        &mut self,
        given: Option<Language>,
        heading: &str,
        question: &str,
        vietnamese: &str,
    ) -> Result<Language, InitError> {
        if let Some(l) = given {
            return Ok(l);
        }
        if !self.ui.interactive() {
            return Ok(Language::Vi);
        }
        self.ui.heading(heading);
        let pick = self.ui.choose(
            question,
            &[vietnamese.to_string(), "English (en)".to_string()],
            0,
        )?;
        Ok(if pick == 0 {
            Language::Vi
        } else {
            Language::En
        })
    }
}

/// A secret that is empty or that the secrets file cannot hold, as a failed check.
fn secret_shape(field: &Field, value: &SecretString) -> Option<Check> {
    let v = value.expose_secret();
    if v.is_empty() {
        return Some(Check::fail(field.key, "nothing was entered", field.hint));
    }
    files::secret_value(field.key, v)
        .err()
        .map(|e| Check::fail(field.key, e.to_string(), field.hint))
}

/// A Freshchat API URL as typed: `https://` added when missing, `/v2` and trailing slashes dropped.
fn parse_base_url(raw: &str) -> Result<Url, String> {
    let mut url = parse_http_url(raw)?;
    let path = url.path().trim_end_matches('/');
    let path = path.strip_suffix("/v2").unwrap_or(path).to_string();
    url.set_path(if path.is_empty() { "/" } else { &path });
    Ok(url)
}

/// The public URL as typed: `https://` added when missing.
fn parse_public_url(raw: &str) -> Result<Url, String> {
    parse_http_url(raw)
}

fn parse_http_url(raw: &str) -> Result<Url, String> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Err("nothing was entered".into());
    }
    let with_scheme = if raw.contains("://") {
        raw.to_string()
    } else {
        format!("https://{raw}")
    };
    let mut url = Url::parse(&with_scheme).map_err(|e| format!("\"{raw}\" is not a URL ({e})"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(format!("\"{raw}\" must be an https:// URL with a host"));
    }
    url.set_query(None);
    url.set_fragment(None);
    Ok(url)
}

/// The URL as it would be typed again.
fn raw_url(url: &Url) -> String {
    url.as_str().trim_end_matches('/').to_string()
}

/// Where to listen when not told: the public URL's own address when it is a loopback one (a test
/// set-up without a proxy), else 127.0.0.1:8080 behind the proxy.
fn default_listen(url: &Url) -> SocketAddr {
    let loopback = url
        .host_str()
        .map(|h| h.trim_start_matches('[').trim_end_matches(']'))
        .and_then(|h| h.parse::<IpAddr>().ok())
        .filter(IpAddr::is_loopback);
    match (loopback, url.port_or_known_default()) {
        (Some(ip), Some(port)) => SocketAddr::new(ip, port),
        _ => SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 8080),
    }
}

/// A Freshchat channel id (a UUID), as opposed to a name.
fn looks_like_id(v: &str) -> bool {
    v.len() == 36 && v.chars().all(|c| c.is_ascii_hexdigit() || c == '-')
}

/// The last answer, given again for another try of its check.
fn again<T>(value: T) -> Given<T> {
    Given {
        value,
        from: "your last answer".into(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn api_urls_are_forgiving_about_what_is_pasted() {
        for raw in [
            "acme.freshchat.com",
            "https://acme.freshchat.com/",
            "https://acme.freshchat.com/v2",
            " https://acme.freshchat.com/v2/ ",
        ] {
            assert_eq!(
                parse_base_url(raw).unwrap().as_str(),
                "https://acme.freshchat.com/",
                "{raw}"
            );
        }
        assert!(parse_base_url("ftp://acme").is_err());
        assert!(parse_base_url("").is_err());
        assert_eq!(
            parse_public_url("zfsync.example.com").unwrap().as_str(),
            "https://zfsync.example.com/"
        );
    }

    #[test]
    fn a_loopback_public_url_listens_on_itself() {
        let u = Url::parse("http://127.0.0.1:41234").unwrap();
        assert_eq!(default_listen(&u).to_string(), "127.0.0.1:41234");
        let u = Url::parse("https://zfsync.example.com").unwrap();
        assert_eq!(default_listen(&u).to_string(), "127.0.0.1:8080");
    }

    #[test]
    fn channel_ids_are_told_from_names() {
        assert!(looks_like_id("c8fddfaf-622a-4a0e-b060-4f3ccbeab606"));
        assert!(!looks_like_id("Zalo"));
    }
}
