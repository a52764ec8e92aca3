//! What the wizard writes: the configuration (no secrets in it) and the secrets file
//! (`ZFSYNC_NAME=value` lines, mode 0600, named by the config's `secrets_file`), with a generated
//! admin token and store key.
//!
//! Existing files are refused before any question is asked, unless `--force`. Each file is written
//! to a temporary file beside it and renamed into place, so a failure never leaves half a file;
//! the secrets file is private from its first byte. Failure modes: [`InitError::Exists`],
//! [`InitError::Write`], [`InitError::Randomness`], [`InitError::SecretValue`] (a value the
//! secrets file cannot hold).

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use secrecy::{ExposeSecret as _, SecretString};
use url::Url;

use super::{InitError, Language};
use crate::config::{
    ENV_ADMIN_TOKEN, ENV_FRESHCHAT_API_KEY, ENV_STORE_KEY, ENV_ZALO_APP_SECRET,
    ENV_ZALO_OA_SECRET_KEY,
};

/// The file name of the secrets file when `--secrets-file` is not given (beside the config).
pub(super) const DEFAULT_SECRETS_FILE: &str = "secrets.env";
/// The store file written into the config when `--store-path` is not given.
pub(super) const DEFAULT_STORE_PATH: &str = "zfsync.db";

/// Where the files go.
#[derive(Debug, Clone)]
pub(super) struct Paths {
    /// The configuration file.
    pub config: PathBuf,
    /// The secrets file.
    pub secrets: PathBuf,
    /// How the config names the secrets file: relative when it sits beside the config.
    pub secrets_in_config: String,
}

impl Paths {
    /// Resolves the paths and refuses files that exist (unless `force`).
    pub fn resolve(config: &Path, secrets: Option<&Path>, force: bool) -> Result<Paths, InitError> {
        let dir = config.parent().filter(|d| !d.as_os_str().is_empty());
        let secrets = match secrets {
            Some(s) => s.to_path_buf(),
            None => dir
                .map(|d| d.join(DEFAULT_SECRETS_FILE))
                .unwrap_or_else(|| PathBuf::from(DEFAULT_SECRETS_FILE)),
        };
        if same_file(config, &secrets) {
            return Err(InitError::SamePath(secrets));
        }
        let secrets_dir = secrets.parent().filter(|d| !d.as_os_str().is_empty());
        let secrets_in_config = match (secrets_dir, secrets.file_name()) {
            (d, Some(name)) if same_dir(d, dir) => name.to_string_lossy().into_owned(),
            _ => std::path::absolute(&secrets)
                .unwrap_or_else(|_| secrets.clone())
                .display()
                .to_string(),
        };
        if !force {
            for (path, flag) in [(config, "--config"), (secrets.as_path(), "--secrets-file")] {
                if path.exists() {
                    return Err(InitError::Exists {
                        path: path.to_path_buf(),
                        flag,
                    });
                }
            }
        }
        Ok(Paths {
            config: config.to_path_buf(),
            secrets,
            secrets_in_config,
        })
    }
}

fn same_dir(a: Option<&Path>, b: Option<&Path>) -> bool {
    let norm = |p: Option<&Path>| {
        std::path::absolute(p.unwrap_or(Path::new("."))).unwrap_or_else(|_| PathBuf::from("."))
    };
    norm(a) == norm(b)
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (std::path::absolute(a), std::path::absolute(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

/// Everything the wizard learnt, ready to write.
#[derive(Debug)]
pub(super) struct Setup {
    pub freshchat_api_base: Url,
    pub freshchat_api_key: SecretString,
    pub freshchat_app_id: Option<String>,
    /// The channel by id, with its name for the comment.
    pub freshchat_channel_id: Option<(String, Option<String>)>,
    /// The channel by name (only when it could not be looked up: `--skip-checks`).
    pub freshchat_channel_name: Option<String>,
    /// On one line.
    pub freshchat_webhook_key: String,
    pub zalo_app_id: String,
    pub zalo_app_secret: SecretString,
    pub zalo_oa_secret_key: SecretString,
    pub zalo_oa_id: String,
    pub zalo_api_base: Option<Url>,
    pub zalo_oauth_base: Option<Url>,
    pub public_url: Url,
    pub listen: SocketAddr,
    pub language: Language,
    pub agent_language: Language,
    pub store_path: PathBuf,
}

/// A TOML string literal.
pub(crate) fn q(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

/// The configuration file's text. No secret is in it: they are in the secrets file it names.
pub(super) fn render_config(setup: &Setup, paths: &Paths) -> String {
    let mut out = String::new();
    let mut line = |s: String| {
        out.push_str(&s);
        out.push('\n');
    };
    line("# zfsync configuration, written by 'zfsync init'. Every key is documented in".into());
    line(
        "# config.example.toml. The secrets are in the secrets file below (mode 600), not here."
            .into(),
    );
    line(format!("secrets_file = {}", q(&paths.secrets_in_config)));
    line(String::new());
    line("[server]".into());
    line(format!("listen = {}", q(&setup.listen.to_string())));
    line("# Paste <public_url>/webhooks/zalo into the Zalo app's Webhook page, <public_url>/webhooks/freshchat".into());
    line("# into Freshchat Admin → Webhooks, and <public_url>/oauth/zalo/callback as the Zalo app's Callback URL.".into());
    line(format!(
        "public_url = {}",
        q(setup.public_url.as_str().trim_end_matches('/'))
    ));
    line(String::new());
    line("[store]".into());
    line(format!(
        "path = {}",
        q(&setup.store_path.display().to_string())
    ));
    line(String::new());
    line("[zalo]".into());
    line(format!("app_id = {}", q(&setup.zalo_app_id)));
    line("# The Official Account zfsync serves: a consent for any other OA is refused.".into());
    line(format!("oa_id = {}", q(&setup.zalo_oa_id)));
    if let Some(u) = &setup.zalo_api_base {
        line(format!(
            "api_base = {}",
            q(u.as_str().trim_end_matches('/'))
        ));
    }
    if let Some(u) = &setup.zalo_oauth_base {
        line(format!(
            "oauth_base = {}",
            q(u.as_str().trim_end_matches('/'))
        ));
    }
    line(String::new());
    line("[freshchat]".into());
    line(format!(
        "api_base = {}",
        q(setup.freshchat_api_base.as_str().trim_end_matches('/'))
    ));
    if let Some(id) = &setup.freshchat_app_id {
        line(format!("app_id = {}", q(id)));
    }
    if let Some((id, name)) = &setup.freshchat_channel_id {
        if let Some(name) = name {
            line(format!(
                "# The channel \"{}\".",
                name.replace(['\n', '\r'], " ")
            ));
        }
        line(format!("channel_id = {}", q(id)));
    }
    if let Some(name) = &setup.freshchat_channel_name {
        line(format!("channel_name = {}", q(name)));
    }
    line("# Public (it only verifies Freshchat's signatures), so it is kept here.".into());
    line(format!(
        "webhook_public_key = {}",
        q(&setup.freshchat_webhook_key)
    ));
    line(String::new());
    line("[mapping]".into());
    line("# The language of the texts customers read on Zalo: \"vi\" or \"en\".".into());
    line(format!("language = {}", q(setup.language.as_str())));
    line("# The language of the notes agents read in Freshchat: \"vi\" or \"en\".".into());
    line(format!(
        "agent_language = {}",
        q(setup.agent_language.as_str())
    ));
    out
}

/// Where the store key comes from.
#[derive(Debug)]
pub(super) enum StoreKey {
    /// 32 new random bytes, base64.
    New,
    /// The key of the secrets file being replaced (`--force`): the store stays readable.
    Reuse(SecretString),
    /// The store already has its key file: no key in the secrets file (it would take precedence).
    KeyFile(PathBuf),
}

/// The generated secrets: the admin token and the store key (unless the store keeps its own).
#[derive(Debug)]
pub(super) struct Generated {
    pub admin_token: SecretString,
    /// `None`: the store's existing key file stays in use.
    pub store_key: Option<SecretString>,
}

impl Generated {
    /// A new admin token, and the store key as `plan` says.
    pub fn new(plan: StoreKey) -> Result<Generated, InitError> {
        let admin_token = crate::services::random_token().ok_or(InitError::Randomness)?;
        let store_key = match plan {
            StoreKey::New => Some(SecretString::from(
                crate::store::StoreKey::generate_base64().map_err(|_| InitError::Randomness)?,
            )),
            StoreKey::Reuse(k) => Some(k),
            StoreKey::KeyFile(_) => None,
        };
        Ok(Generated {
            admin_token: SecretString::from(admin_token),
            store_key,
        })
    }
}

/// The secrets file's text: one `ZFSYNC_NAME=value` line per secret.
pub(super) fn render_secrets(setup: &Setup, generated: &Generated) -> Result<String, InitError> {
    let mut out = String::from(
        "# zfsync secrets, written by 'zfsync init'. Readable by its owner only (chmod 600).\n\
         # The config's secrets_file names this file; systemd's EnvironmentFile= reads it too.\n",
    );
    let mut entries: Vec<(&str, &SecretString)> = vec![
        (ENV_FRESHCHAT_API_KEY, &setup.freshchat_api_key),
        (ENV_ZALO_APP_SECRET, &setup.zalo_app_secret),
        (ENV_ZALO_OA_SECRET_KEY, &setup.zalo_oa_secret_key),
        (ENV_ADMIN_TOKEN, &generated.admin_token),
    ];
    if let Some(k) = &generated.store_key {
        entries.push((ENV_STORE_KEY, k));
    }
    for (name, value) in entries {
        out.push_str(name);
        out.push('=');
        out.push_str(&secret_value(name, value.expose_secret())?);
        out.push('\n');
    }
    Ok(out)
}

/// A value as the secrets file holds it: bare when it has only token characters, else in double
/// quotes. Values the file cannot carry (line breaks, quotes, backslashes) are refused by name,
/// never quoted.
pub(super) fn secret_value(name: &'static str, value: &str) -> Result<String, InitError> {
    if value.is_empty()
        || value
            .chars()
            .any(|c| c.is_control() || c == '"' || c == '\\')
    {
        return Err(InitError::SecretValue { name });
    }
    let bare = value
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "-_.~+/=:@".contains(c));
    Ok(if bare {
        value.to_string()
    } else {
        format!("\"{value}\"")
    })
}

/// Writes `text` to `path` through a temporary file beside it; `private` files are 0600 from the
/// start, others 0644. Without `force`, an existing file is never replaced.
pub(super) fn write_file(
    path: &Path,
    text: &str,
    private: bool,
    force: bool,
) -> Result<(), InitError> {
    let fail = |e: std::io::Error| InitError::Write {
        path: path.to_path_buf(),
        detail: e.to_string(),
    };
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(fail)?;
    // tempfile creates the file 0600.
    let mut tmp = tempfile::Builder::new()
        .prefix(".zfsync-init")
        .tempfile_in(dir)
        .map_err(fail)?;
    tmp.write_all(text.as_bytes()).map_err(fail)?;
    tmp.as_file().sync_all().map_err(fail)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = if private { 0o600 } else { 0o644 };
        std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(mode))
            .map_err(fail)?;
    }
    #[cfg(not(unix))]
    let _ = private;
    let persisted = if force {
        tmp.persist(path)
    } else {
        tmp.persist_noclobber(path)
    };
    persisted.map_err(|e| fail(e.error))?;
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn secret_values_are_bare_or_quoted_and_never_broken() {
        assert_eq!(secret_value("X", "abc.DEF-_~+/=").unwrap(), "abc.DEF-_~+/=");
        assert_eq!(secret_value("X", "with space").unwrap(), "\"with space\"");
        for bad in ["", "a\nb", "a\"b", "a\\b"] {
            let e = secret_value("ZFSYNC_X", bad).unwrap_err().to_string();
            assert!(e.contains("ZFSYNC_X"), "{e}");
        }
    }

    #[test]
    fn the_secrets_file_defaults_beside_the_config_and_existing_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("site").join("zfsync.toml");
        let paths = Paths::resolve(&config, None, false).unwrap();
        assert_eq!(paths.secrets, dir.path().join("site").join("secrets.env"));
        assert_eq!(paths.secrets_in_config, "secrets.env");
        let elsewhere = dir.path().join("private").join("s.env");
        let paths = Paths::resolve(&config, Some(&elsewhere), false).unwrap();
        assert_eq!(paths.secrets_in_config, elsewhere.display().to_string());

        write_file(&config, "x", false, false).unwrap();
        let e = Paths::resolve(&config, None, false)
            .unwrap_err()
            .to_string();
        assert!(e.contains("--force"), "{e}");
        assert!(Paths::resolve(&config, None, true).is_ok());
        assert!(write_file(&config, "y", false, false).is_err());
        write_file(&config, "y", false, true).unwrap();
        assert_eq!(std::fs::read_to_string(&config).unwrap(), "y");
        assert!(matches!(
            Paths::resolve(&config, Some(&config), true),
            Err(InitError::SamePath(_))
        ));
    }

    #[cfg(unix)]
    #[test]
    fn private_files_are_0600() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("secrets.env");
        write_file(&p, "ZFSYNC_ADMIN_TOKEN=x\n", true, false).unwrap();
        let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert!(crate::config::read_secrets_file(&p).is_ok());
    }

    #[test]
    fn a_generated_store_key_is_32_random_bytes_in_base64() {
        use base64::Engine as _;
        let g = Generated::new(StoreKey::New).unwrap();
        let key = g.store_key.unwrap();
        let raw = base64::engine::general_purpose::STANDARD
            .decode(key.expose_secret())
            .unwrap();
        assert_eq!(raw.len(), 32);
        let again = Generated::new(StoreKey::New).unwrap();
        assert_ne!(
            again.store_key.unwrap().expose_secret(),
            key.expose_secret()
        );
        assert_ne!(
            again.admin_token.expose_secret(),
            g.admin_token.expose_secret()
        );
        let kept = Generated::new(StoreKey::KeyFile(PathBuf::from("x.key"))).unwrap();
        assert!(kept.store_key.is_none());
        let reused = Generated::new(StoreKey::Reuse(SecretString::from("k"))).unwrap();
        assert_eq!(reused.store_key.unwrap().expose_secret(), "k");
    }
}
