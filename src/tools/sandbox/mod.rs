//! The sandbox: both simulators and the daemon on loopback, with a temporary store and generated
//! keys, connected through the real OAuth flow. `zfsync sandbox` plays a scripted conversation both
//! ways and prints what each side saw ([`script`]); the end-to-end tests drive the same [`Env`],
//! with more pairings beside `default` when they need them ([`pairings`]); several replicas of
//! the daemon sit behind a [`Spreader`], as behind a load balancer ([`spread`]).
//!
//! The simulators serve media under real host names (Freshchat's US storage bucket, a Zalo photo
//! host) with private addresses refused, as in production: the in-process daemon's media client
//! pins those names to loopback ([`crate::services::InProcessOptions`]), so the media allowlist
//! meets the names it meets in production.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use zfsync_freshchat::sim::{FreshchatSim, SimConfig as FreshchatSimConfig};
use zfsync_freshchat::{Conversation, Message, MessagePart, User};
use zfsync_zalo::sim::{SimConfig as ZaloSimConfig, ZaloSim};

use crate::app::Application;
use crate::config::Config;

mod pairings;
mod script;
mod spread;
pub use pairings::{own_app, register_in, ExtraPairing};
pub use script::{run, Logs, Options, SANDBOX_USER};
pub use spread::{Spread, SpreadCounts, Spreader, FORWARD_TIMEOUT};

/// A 1×1 PNG, the sandbox customer's "photo".
pub const TINY_PNG: &[u8] = &[
    0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1F, 0x15, 0xC4,
    0x89, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9C, 0x63, 0xF8, 0xCF, 0xC0, 0xF0,
    0x1F, 0x00, 0x05, 0x00, 0x01, 0xFF, 0x89, 0x99, 0x3D, 0x1D, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45,
    0x4E, 0x44, 0xAE, 0x42, 0x60, 0x82,
];

/// The host name the Freshchat simulator's CDN goes by (the US storage bucket of the samples).
pub const FRESHCHAT_MEDIA_HOST: &str = "fc-use1-00-pics-bkt-00.s3.amazonaws.com";
/// The host name the Zalo simulator's media links carry (Zalo's photo host of the samples).
pub const ZALO_MEDIA_HOST: &str = "f6.photo.talk.zdn.vn";

/// Knobs for an environment.
#[derive(Debug, Clone)]
pub struct EnvOptions {
    /// Zalo webhook retry ladder speed-up.
    pub zalo_time_scale: f64,
    /// Freshchat webhook retry delays.
    pub freshchat_retry_delays: Vec<Duration>,
    /// Whether the Zalo simulator's upload takes `.txt` files (real OAs differ).
    pub accept_txt_upload: bool,
    /// Whether Zalo's consent redirect echoes the PKCE `code_challenge` (off, as documented).
    pub zalo_callback_code_challenge: bool,
    /// Extra `[sync]` lines for the daemon's config.
    pub sync_toml: String,
    /// `[media] allow_private_addresses`: let the daemon fetch media from any loopback address.
    /// Off by default, as in production (the simulators' media go by [`EnvOptions::named_media`]).
    pub allow_private_media: bool,
    /// Serve the simulators' media under [`FRESHCHAT_MEDIA_HOST`] and [`ZALO_MEDIA_HOST`], names
    /// the in-process daemon's media client resolves to loopback (default). Off: under their
    /// loopback addresses (a daemon run as its own process cannot be given the names: turn
    /// `allow_private_media` on for it).
    pub named_media: bool,
    /// More names the in-process daemon resolves to loopback, for tests that name the
    /// simulators' media hosts themselves (`set_cdn_host`, `set_media_host`).
    pub media_names: Vec<String>,
    /// Extra `[server]` lines for the daemon's config (e.g. `trusted_proxies`).
    pub server_toml: String,
    /// `[mapping]` lines for the daemon's config (e.g. `agent_language`, `rules`).
    pub mapping_toml: String,
    /// The store: the SQLite file in the environment's folder, or a new database in this
    /// process's throwaway PostgreSQL cluster. Default: [`ENV_TEST_STORE`] says.
    pub store: StoreBackend,
    /// With [`StoreBackend::Postgres`]: this database instead of a new one in the shared cluster.
    pub postgres_url: Option<String>,
}

/// Which store an environment's daemon uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreBackend {
    /// The SQLite file `zfsync.db` in the environment's folder.
    Sqlite,
    /// A new database in this process's throwaway PostgreSQL cluster (`store.url`).
    Postgres,
}

/// Set to `postgres` to run environments (and so the end-to-end suite) on PostgreSQL.
pub const ENV_TEST_STORE: &str = "ZFSYNC_TEST_STORE";

impl StoreBackend {
    /// The backend [`ENV_TEST_STORE`] names (SQLite unless it says `postgres`).
    pub fn from_env() -> StoreBackend {
        match std::env::var(ENV_TEST_STORE).as_deref() {
            Ok("postgres") => StoreBackend::Postgres,
            _ => StoreBackend::Sqlite,
        }
    }
}

impl EnvOptions {
    /// Media on the simulators' loopback addresses, which the daemon may fetch: for a daemon run
    /// as its own process (`zfsync run`), which cannot be given the simulators' names.
    pub fn loopback_media(self) -> EnvOptions {
        EnvOptions {
            allow_private_media: true,
            named_media: false,
            ..self
        }
    }
}

impl Default for EnvOptions {
    fn default() -> Self {
        EnvOptions {
            zalo_time_scale: 1000.0,
            freshchat_retry_delays: vec![
                Duration::from_millis(50),
                Duration::from_millis(200),
                Duration::from_millis(500),
            ],
            accept_txt_upload: false,
            zalo_callback_code_challenge: false,
            sync_toml: "retry_base_ms = 100\nretry_max_ms = 2000\n".into(),
            allow_private_media: false,
            named_media: true,
            media_names: Vec::new(),
            server_toml: String::new(),
            mapping_toml: String::new(),
            store: StoreBackend::from_env(),
            postgres_url: None,
        }
    }
}

/// Both simulators and (when started) the daemon.
#[derive(Debug)]
pub struct Env {
    /// The Zalo simulator.
    pub zalo: ZaloSim,
    /// The Freshchat simulator.
    pub freshchat: FreshchatSim,
    /// Holds the config, secrets, store and key (removed on drop).
    pub dir: tempfile::TempDir,
    /// The daemon's configuration file ([`Env::config_path`]).
    config_file: PathBuf,
    /// Where the daemon listens (bound before it starts, so the config can name it).
    pub daemon_addr: SocketAddr,
    /// The operator token written into the config (`server.admin_token`).
    pub admin_token: String,
    /// Names the in-process daemon's media client resolves to loopback.
    media_names: std::collections::HashMap<String, std::net::IpAddr>,
    /// The running daemon's operator access (one-time console links).
    auth: Option<std::sync::Arc<crate::server::auth::Auth>>,
    daemon: Option<(CancellationToken, JoinHandle<()>)>,
    daemon_store: Option<crate::store::Store>,
    /// The daemon's port, held open from the start so that nothing else on the machine (the
    /// simulators' own listeners, a parallel test) is given it; the in-process daemon takes it
    /// over, and [`Env::release_port`] frees it for a daemon run as its own process.
    reserved: std::sync::Mutex<Option<std::net::TcpListener>>,
}

impl Env {
    /// Starts both simulators and writes a config for a daemon on a free loopback port.
    pub async fn new(opts: EnvOptions) -> anyhow::Result<Env> {
        let dir = tempfile::tempdir()?;
        let reserved = std::net::TcpListener::bind("127.0.0.1:0")?;
        let daemon_addr = reserved.local_addr()?;
        let daemon_url = format!("http://{daemon_addr}");
        let zcfg = ZaloSimConfig {
            redirect_uri: Some(format!(
                "{daemon_url}{}",
                crate::routes::ROUTE_OAUTH_CALLBACK
            )),
            webhook_url: Some(format!("{daemon_url}{}", crate::routes::ROUTE_ZALO_WEBHOOK)),
            time_scale: opts.zalo_time_scale,
            accept_txt_upload: opts.accept_txt_upload,
            callback_code_challenge: opts.zalo_callback_code_challenge,
            ..ZaloSimConfig::default()
        };
        // Zalo serves OAuth and its OpenAPI on two hosts; so does the simulator.
        let zalo = ZaloSim::start(
            TcpListener::bind("127.0.0.1:0").await?,
            TcpListener::bind("127.0.0.1:0").await?,
            zcfg.clone(),
        )
        .await?;
        let fcfg = FreshchatSimConfig {
            webhook_url: Some(format!(
                "{daemon_url}{}",
                crate::routes::ROUTE_FRESHCHAT_WEBHOOK
            )),
            retry_delays: opts.freshchat_retry_delays.clone(),
            ..FreshchatSimConfig::default()
        };
        let freshchat =
            FreshchatSim::start(TcpListener::bind("127.0.0.1:0").await?, fcfg.clone()).await?;
        let mut names: Vec<String> = opts.media_names.clone();
        if opts.named_media {
            freshchat.set_cdn_host(FRESHCHAT_MEDIA_HOST)?;
            zalo.set_media_host(Some(ZALO_MEDIA_HOST));
            names.extend([FRESHCHAT_MEDIA_HOST.into(), ZALO_MEDIA_HOST.into()]);
        }
        let loopback = std::net::IpAddr::from([127, 0, 0, 1]);
        let media_names = names.into_iter().map(|n| (n, loopback)).collect();
        let media_comment = if opts.named_media {
            "# The simulators serve media under real host names, which the daemon in the sandbox\n\
             # resolves to loopback; private addresses stay refused, as in production."
        } else {
            "# The simulators serve media on loopback."
        };
        let config_path = dir.path().join("zfsync.toml");
        let admin_token = crate::services::random_token()
            .ok_or_else(|| anyhow::anyhow!("the system's random number generator failed"))?;
        let toml = format!(
            r#"# Generated by the zfsync sandbox: a daemon between two simulators on loopback.
[server]
listen = "{daemon_addr}"
public_url = "{daemon_url}"
admin_token = "{admin_token}"
{server}

[store]
path = "{store}"
{store_url}

[zalo]
app_id = "{app_id}"
oa_id = "{oa_id}"
app_secret = "{app_secret}"
oa_secret_key = "{oa_secret}"
api_base = "{zalo_api}"
oauth_base = "{zalo_oauth}"

[freshchat]
api_base = "{fc_base}"
app_id = "{fc_app_id}"
api_key = "{fc_key}"
webhook_public_key = "{fc_pub}"

[media]
{media_comment}
allow_private_addresses = {allow_private}

[sync]
{sync}
{mapping}"#,
            store = dir.path().join("zfsync.db").display(),
            store_url = match opts.store {
                StoreBackend::Sqlite => String::new(),
                StoreBackend::Postgres => format!(
                    "url = \"{}\"",
                    match &opts.postgres_url {
                        Some(url) => url.clone(),
                        None => crate::tools::pg_cluster::fresh_database()
                            .map_err(anyhow::Error::msg)?,
                    }
                ),
            },
            app_id = zcfg.app_id,
            oa_id = zcfg.oa_id,
            app_secret = zcfg.app_secret,
            oa_secret = zcfg.oa_secret_key,
            zalo_api = zalo.api_base().as_str().trim_end_matches('/'),
            zalo_oauth = zalo.oauth_base().as_str().trim_end_matches('/'),
            fc_base = freshchat.base_url().as_str().trim_end_matches('/'),
            fc_app_id = fcfg.app_id,
            fc_key = fcfg.api_key,
            fc_pub = freshchat.public_key_pem_one_line(),
            sync = opts.sync_toml,
            server = opts.server_toml,
            mapping = if opts.mapping_toml.is_empty() {
                String::new()
            } else {
                format!("\n[mapping]\n{}", opts.mapping_toml)
            },
            allow_private = opts.allow_private_media,
        );
        std::fs::write(&config_path, toml)?;
        Ok(Env {
            zalo,
            freshchat,
            dir,
            config_file: config_path,
            daemon_addr,
            reserved: std::sync::Mutex::new(Some(reserved)),
            admin_token,
            media_names,
            auth: None,
            daemon: None,
            daemon_store: None,
        })
    }

    /// Freshchat's users, as the client reads them.
    pub fn fc_users(&self) -> Vec<User> {
        from_json(self.freshchat.users())
    }

    /// Freshchat's conversations, as the client reads them.
    pub fn fc_conversations(&self) -> Vec<Conversation> {
        from_json(self.freshchat.conversations())
    }

    /// The messages of a Freshchat conversation, oldest first, as the client reads them.
    pub fn fc_messages(&self, conversation_id: &str) -> Vec<Message> {
        from_json(self.freshchat.messages(conversation_id))
    }

    /// An agent sends a message with these parts in Freshchat.
    pub async fn agent_says(
        &self,
        conversation_id: &str,
        agent_id: &str,
        parts: &[MessagePart],
    ) -> anyhow::Result<()> {
        let parts = parts
            .iter()
            .map(serde_json::to_value)
            .collect::<Result<Vec<_>, _>>()?;
        self.freshchat
            .agent_sends(conversation_id, agent_id, parts)
            .await?;
        Ok(())
    }

    /// An HTTP client that resolves the simulators' media host names to loopback, as the
    /// daemon's media client does here: to fetch the links the simulators give out.
    pub fn media_client(&self) -> anyhow::Result<reqwest::Client> {
        let mut b = reqwest::Client::builder();
        for (name, ip) in &self.media_names {
            b = b.resolve(name, SocketAddr::new(*ip, 0));
        }
        Ok(b.build()?)
    }

    /// The daemon's base URL.
    pub fn daemon_url(&self) -> String {
        format!("http://{}", self.daemon_addr)
    }

    /// The daemon's configuration, loaded as `zfsync run` would.
    pub fn config(&self) -> anyhow::Result<Config> {
        Ok(Config::load(&self.config_file)?)
    }

    /// The daemon's configuration file. Whoever asks for it may start a `zfsync` process of its
    /// own on it (`run`, `connect`, `check` bind the daemon's port), so this frees the port first
    /// ([`Env::release_port`]); the in-process daemon reads the file without freeing it.
    pub fn config_path(&self) -> &std::path::Path {
        self.release_port();
        &self.config_file
    }

    /// The configuration of another replica of the daemon on the same store: a copy of the
    /// daemon's file (`<name>.toml` in the environment's folder) whose `[server]` listens on a
    /// loopback port of its own, free now; its path and that replica's base URL.
    pub fn replica_config(&self, name: &str) -> anyhow::Result<(PathBuf, String)> {
        let free = std::net::TcpListener::bind("127.0.0.1:0")?;
        let addr = free.local_addr()?;
        drop(free);
        let text = std::fs::read_to_string(&self.config_file)?;
        let path = self.dir.path().join(format!("{name}.toml"));
        std::fs::write(
            &path,
            text.replace(&self.daemon_addr.to_string(), &addr.to_string()),
        )?;
        Ok((path, format!("http://{addr}")))
    }

    /// Frees the daemon's port for a `zfsync run` child process to bind (the environment holds
    /// it until then). Harmless when already freed.
    pub fn release_port(&self) {
        if let Ok(mut reserved) = self.reserved.lock() {
            reserved.take();
        }
    }

    /// Starts the daemon in this process, on the port held since [`Env::new`] (or, on a restart,
    /// the same port bound again).
    pub async fn start_daemon(&mut self) -> anyhow::Result<()> {
        let held = self.reserved.lock().ok().and_then(|mut r| r.take());
        let listener = match held {
            Some(l) => {
                l.set_nonblocking(true)?;
                TcpListener::from_std(l)?
            }
            None => bind_retry(self.daemon_addr).await?,
        };
        let options = crate::services::InProcessOptions {
            media_names: self.media_names.clone(),
        };
        let app = Application::in_process(self.config()?, listener, &options).await?;
        self.daemon_store = Some(app.services().store.clone());
        self.auth = Some(app.auth());
        let stop = CancellationToken::new();
        let s = stop.clone();
        let handle = tokio::spawn(async move {
            if let Err(e) = app.run(s).await {
                tracing::error!(error = %e, "sandbox daemon stopped with an error");
            }
        });
        self.daemon = Some((stop, handle));
        wait_http_ok(
            &format!("{}/healthz", self.daemon_url()),
            Duration::from_secs(10),
        )
        .await
    }

    /// The running daemon's own store handle (its writer), e.g. to limit the store's size.
    pub fn daemon_store(&self) -> Option<&crate::store::Store> {
        self.daemon_store.as_ref()
    }

    /// Stops the in-process daemon gracefully.
    pub async fn stop_daemon(&mut self) {
        if let Some((stop, handle)) = self.daemon.take() {
            stop.cancel();
            let _ = handle.await;
        }
    }

    /// A one-time link that signs a browser in to the running daemon's console.
    pub fn console_login_link(&self) -> anyhow::Result<String> {
        let auth = self
            .auth
            .as_ref()
            .ok_or_else(|| anyhow::anyhow!("the daemon is not running"))?;
        let t = auth
            .login_link()
            .ok_or_else(|| anyhow::anyhow!("the system's random number generator failed"))?;
        Ok(format!(
            "{}{}?t={t}",
            self.daemon_url(),
            crate::server::console::ROUTE_LOGIN_LINK
        ))
    }

    /// Runs Zalo's OAuth flow through the daemon, as an admin's browser would (the operator token
    /// opens `/oauth/zalo/start`).
    pub async fn connect_zalo(&self) -> anyhow::Result<String> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::limited(5))
            .build()?;
        let resp = client
            .get(format!(
                "{}{}",
                self.daemon_url(),
                crate::routes::ROUTE_OAUTH_START
            ))
            .bearer_auth(&self.admin_token)
            .send()
            .await?;
        let status = resp.status();
        let page = resp.text().await?;
        anyhow::ensure!(status.is_success(), "OAuth flow failed ({status}): {page}");
        Ok(page)
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        if let Some((stop, _)) = &self.daemon {
            stop.cancel();
        }
    }
}

/// Reads the simulator's JSON objects with the client's types (skipping any it cannot read).
/// The simulators' JSON records as typed values (a record that does not read is left out).
pub(crate) fn from_json<T: serde::de::DeserializeOwned>(values: Vec<serde_json::Value>) -> Vec<T> {
    values
        .into_iter()
        .filter_map(|v| serde_json::from_value(v).ok())
        .collect()
}

async fn bind_retry(addr: SocketAddr) -> anyhow::Result<TcpListener> {
    let mut last = None;
    for _ in 0..50 {
        match TcpListener::bind(addr).await {
            Ok(l) => return Ok(l),
            Err(e) => last = Some(e),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(anyhow::anyhow!(
        "cannot bind {addr}: {}",
        last.map(|e| e.to_string()).unwrap_or_default()
    ))
}

/// Polls a URL until it answers 2xx.
pub async fn wait_http_ok(url: &str, timeout: Duration) -> anyhow::Result<()> {
    let client = reqwest::Client::new();
    let deadline = Instant::now() + timeout;
    loop {
        if let Ok(r) = client.get(url).send().await {
            if r.status().is_success() {
                return Ok(());
            }
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "{url} did not answer within {timeout:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Polls `check` until it returns Some or the timeout passes.
pub async fn wait_for<T, F, Fut>(timeout: Duration, mut check: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = check().await {
            return Some(v);
        }
        if Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}
