//! `zfsync connect zalo`: a code pasted by hand, a token pair pasted from the API Explorer, or
//! the browser flow (a one-time link to Zalo's consent, served by this process or the running
//! daemon), each confirmed with Zalo before anything is stored.

use std::process::ExitCode;

use anyhow::Context as _;
use secrecy::SecretString;
use tokio_util::sync::CancellationToken;

use super::{pairing, wait_for_signal};
use crate::app::Application;
use crate::config::Config;
use crate::services::Services;

/// Runs `zfsync connect zalo` for `pairing` with what the command line gave.
pub(super) async fn connect_zalo(
    config: Config,
    pairing: &str,
    code: Option<String>,
    oa_id: Option<String>,
    access_token: Option<String>,
    refresh_token: Option<String>,
) -> anyhow::Result<ExitCode> {
    let deployment = config.clone();
    let (config, services) = pairing::services_of(&config, pairing).await?;
    // The OA these tokens must be for: the configured one, else the one already connected, else the
    // one named with --oa-id. Zalo itself (getoa) must confirm it before anything is stored. A code
    // or tokens pasted here with none of these (the operator at the server) connect the OA Zalo
    // confirms; the browser flow needs one, since its callback is open to anyone.
    let expected = services
        .zalo
        .oa_id()
        .or(oa_id.clone())
        .filter(|o| !o.is_empty());
    if let Some(named) = oa_id.as_deref() {
        anyhow::ensure!(
            crate::oauth::is_oa_id(named),
            "--oa-id {named:?} is not an OA id: it is a number (on the OA's page at oa.zalo.me, and on Zalo's consent screen)"
        );
    }
    let connected = if let (Some(at), Some(rt)) = (access_token, refresh_token) {
        let (at, rt) = secret_args(at, rt)?;
        let pair = zfsync_zalo::TokenPair {
            access_token: at,
            refresh_token: rt,
            expires_in: std::time::Duration::from_secs(25 * 3600),
        };
        crate::oauth::accept_pair(&services.zalo, pair, expected.clone()).await?
    } else if let Some(code) = code {
        crate::oauth::complete(
            &services.store,
            &services.zalo,
            &code,
            crate::oauth::CodeFrom::Pasted,
            expected.clone(),
        )
        .await?
    } else {
        anyhow::ensure!(
            expected.is_some(),
            "{}",
            crate::oauth::ConnectError::NoExpectedOa { claimed: None }
        );
        browser_flow(&deployment, pairing, &services, oa_id).await?
    };
    let name = connected
        .oa_name
        .unwrap_or_else(|| "the Official Account".into());
    match &connected.oa_id {
        Some(id) => println!(
            "Connected to {name} (OA id {id}). Tokens are stored; zfsync refreshes them itself."
        ),
        None => println!("Connected to {name}. Tokens are stored; zfsync refreshes them itself."),
    }
    if let (None, Some(id)) = (&config.zalo.oa_id, &connected.oa_id) {
        let file = config
            .file
            .as_ref()
            .map(|f| f.display().to_string())
            .unwrap_or_else(|| "the configuration".into());
        println!("zalo.oa_id is not set: add oa_id = \"{id}\" under [zalo] in {file} so that no consent for another OA is ever accepted.");
    }
    Ok(ExitCode::SUCCESS)
}

/// The browser flow: a one-time start link (it needs no admin token), served by this process when
/// the daemon is not running, else by the daemon; then wait for a pair newer than the one stored now
/// (re-connecting an OA that is already connected must wait for the new consent).
async fn browser_flow(
    config: &Config,
    pairing: &str,
    services: &Services,
    named_oa: Option<String>,
) -> anyhow::Result<crate::oauth::Connected> {
    let ticket = crate::oauth::new_ticket(&services.store, named_oa).await?;
    let start = crate::routes::for_pairing(crate::routes::ROUTE_OAUTH_START, pairing);
    let link = format!("{}?ticket={ticket}", config.public_url(&start));
    // Serve the link and the callback ourselves unless the daemon already does.
    let app = match Application::build(config.clone()).await {
        Ok(app) => Some(app),
        Err(crate::app::AppError::Bind { .. }) => None,
        Err(e) => return Err(e.into()),
    };
    println!("Open this link in a browser signed in as an admin of the Official Account, and press \"Allow\"");
    println!("(it works once, for 15 minutes):\n\n  {link}\n");
    match &app {
        Some(_) => println!("Waiting for Zalo to come back to this process (Ctrl-C to stop) ..."),
        None => println!("The daemon is running and serves the link; waiting for the new tokens (Ctrl-C to stop) ..."),
    }
    let before = services.store.tokens().await?.map(|t| t.updated_at);
    let shutdown = CancellationToken::new();
    let store = services.store.clone();
    let s = shutdown.clone();
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
        r = async {
            match app {
                Some(app) => app.run(shutdown.clone()).await,
                None => { shutdown.cancelled().await; Ok(()) }
            }
        } => { r?; }
        _ = wait_for_signal() => { stop.cancel(); watcher.abort(); anyhow::bail!("stopped before Zalo redirected back"); }
    }
    let _ = watcher.await;
    services.tokens().reload_status().await?;
    Ok(crate::oauth::Connected {
        oa_id: services.tokens().status().oa_id,
        oa_name: None,
    })
}

/// Token arguments: `-` reads the value from standard input (one line each, access token first),
/// so tokens need not show in the process list.
fn secret_args(access: String, refresh: String) -> anyhow::Result<(SecretString, SecretString)> {
    let mut lines = std::io::stdin().lines();
    let mut read = |v: String, what: &str| -> anyhow::Result<SecretString> {
        if v != "-" {
            return Ok(SecretString::from(v));
        }
        let line = lines
            .next()
            .with_context(|| format!("expected the {what} on standard input"))??;
        let line = line.trim().to_string();
        anyhow::ensure!(
            !line.is_empty(),
            "the {what} read from standard input is empty"
        );
        Ok(SecretString::from(line))
    };
    let a = read(access, "access token")?;
    let r = read(refresh, "refresh token")?;
    Ok((a, r))
}
