//! The Zalo OAuth v4 flow with PKCE: a fresh verifier and a random `state` per attempt, kept in the
//! store (the verifier never leaves the server); the callback finds the attempt by `state`,
//! exchanges the code with its verifier, and stores the token pair.

use secrecy::{ExposeSecret, SecretString};
use zfsync_zalo::{Pkce, ZaloClient};

use crate::error::SyncError;
use crate::store::Store;
use crate::tokens::TokenManager;

/// How long a started authorization stays valid (Zalo codes live 10 minutes).
pub const ATTEMPT_TTL_MS: i64 = 15 * 60 * 1000;

/// Starts an attempt and returns the permission URL to open in a browser.
pub async fn start(
    store: &Store,
    zalo: &ZaloClient,
    redirect_uri: &str,
) -> Result<url::Url, SyncError> {
    let pkce = Pkce::generate();
    let state = zfsync_zalo::random_state();
    store
        .put_oauth_attempt(
            state.clone(),
            pkce.verifier.expose_secret().to_string(),
            redirect_uri.to_string(),
            ATTEMPT_TTL_MS,
        )
        .await?;
    Ok(zalo.permission_url(redirect_uri, &pkce.challenge, &state))
}

/// What a completed connection reports.
#[derive(Debug, Clone)]
pub struct Connected {
    pub oa_id: Option<String>,
    pub oa_name: Option<String>,
}

/// Exchanges an authorization code. With `state`, the attempt must exist (callback); without it,
/// the newest pending attempt's verifier is used when there is one, none otherwise (`--code`).
pub async fn complete(
    store: &Store,
    zalo: &ZaloClient,
    tokens: &TokenManager,
    code: &str,
    state: Option<&str>,
    oa_id: Option<String>,
) -> Result<Connected, SyncError> {
    let attempt = store.take_oauth_attempt(state.map(str::to_string)).await?;
    if state.is_some() && attempt.is_none() {
        return Err(SyncError::Other(
            "this authorization is unknown or has expired (links are valid 15 minutes and work once); start again".into(),
        ));
    }
    let verifier = attempt.map(|(v, _)| SecretString::from(v));
    let pair = zalo.exchange_code(code, verifier.as_ref()).await?;
    tokens.store_pair(&pair, oa_id.clone()).await?;
    finish(store, zalo, tokens, oa_id).await
}

/// Stores a pair pasted from Zalo's API Explorer.
pub async fn store_pasted(
    store: &Store,
    zalo: &ZaloClient,
    tokens: &TokenManager,
    pair: zfsync_zalo::TokenPair,
    oa_id: Option<String>,
) -> Result<Connected, SyncError> {
    tokens.store_pair(&pair, oa_id.clone()).await?;
    finish(store, zalo, tokens, oa_id).await
}

async fn finish(
    store: &Store,
    zalo: &ZaloClient,
    tokens: &TokenManager,
    oa_id: Option<String>,
) -> Result<Connected, SyncError> {
    let info = tokens
        .call(|t| {
            let z = zalo.clone();
            async move { z.oa_info(&t).await }
        })
        .await;
    match info {
        Ok(info) => {
            let oa = Some(info.oa_id).filter(|s| !s.is_empty()).or(oa_id);
            if let Some(id) = &oa {
                // Remember which OA granted access (the callback says; a pasted token does not).
                let id = id.clone();
                store
                    .write(move |c| {
                        c.execute("UPDATE tokens SET oa_id = ?1 WHERE id = 1", [id])?;
                        Ok(())
                    })
                    .await?;
                tokens.reload_status().await?;
            }
            Ok(Connected {
                oa_id: oa,
                oa_name: Some(info.name),
            })
        }
        Err(e) => {
            tracing::warn!(error = %e, "connected, but the OA information could not be read");
            Ok(Connected {
                oa_id,
                oa_name: None,
            })
        }
    }
}
