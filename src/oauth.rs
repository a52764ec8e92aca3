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
/// `expected_oa` (the configured `zalo.oa_id`, else the OA already connected) guards against
/// someone completing the flow with another OA: such tokens are refused and not stored.
pub async fn complete(
    store: &Store,
    zalo: &ZaloClient,
    tokens: &TokenManager,
    code: &str,
    state: Option<&str>,
    callback_oa_id: Option<String>,
    expected_oa: Option<String>,
) -> Result<Connected, SyncError> {
    let attempt = store.take_oauth_attempt(state.map(str::to_string)).await?;
    if state.is_some() && attempt.is_none() {
        return Err(SyncError::Other(
            "this authorization is unknown or has expired (links are valid 15 minutes and work once); start again".into(),
        ));
    }
    let verifier = attempt.map(|(v, _)| SecretString::from(v));
    let pair = zalo.exchange_code(code, verifier.as_ref()).await?;
    accept_pair(zalo, tokens, pair, callback_oa_id, expected_oa).await
}

/// Learns which OA a new pair belongs to (`getoa`), refuses it when it is not the expected OA,
/// and stores it otherwise. Used by the code exchange and for tokens pasted from Zalo's API Explorer.
pub async fn accept_pair(
    zalo: &ZaloClient,
    tokens: &TokenManager,
    pair: zfsync_zalo::TokenPair,
    hinted_oa: Option<String>,
    expected_oa: Option<String>,
) -> Result<Connected, SyncError> {
    let (oa_id, oa_name) = match zalo.oa_info(&pair.access_token).await {
        Ok(info) => (
            Some(info.oa_id).filter(|s| !s.is_empty()).or(hinted_oa),
            Some(info.name),
        ),
        Err(e) if e.is_token_error() => return Err(SyncError::Zalo(e)),
        Err(e) => {
            tracing::warn!(error = %e, "the OA information could not be read; trusting the callback's oa_id");
            (hinted_oa, None)
        }
    };
    if let (Some(expected), Some(got)) = (&expected_oa, &oa_id) {
        if expected != got {
            return Err(SyncError::Other(format!(
                "this authorization is for OA {got}, but zfsync serves OA {expected}; sign in as an admin of OA {expected}, \
                 or set zalo.oa_id to {got} to switch this daemon to that OA. Nothing was changed."
            )));
        }
    }
    tokens.store_pair(&pair, oa_id.clone()).await?;
    Ok(Connected { oa_id, oa_name })
}
