//! The Zalo OAuth v4 flow with PKCE: a fresh verifier and a random `state` per attempt, kept in the
//! store (the verifier never leaves the server); the callback finds the attempt by `state`,
//! exchanges the code with its verifier, and stores the token pair once Zalo confirms which OA it
//! belongs to.
//!
//! Failure: [`ConnectError`] says why nothing was stored (unknown attempt, another OA, Zalo's
//! refusal); the stored pair is only ever replaced by a pair for the expected OA.

use secrecy::{ExposeSecret, SecretString};
use zfsync_zalo::{Pkce, ZaloClient, ZaloError};

use crate::error::SyncError;
use crate::store::{AttemptKey, Store, StoreError};
use crate::tokens::ZaloSession;

/// How long a started authorization stays valid (Zalo codes live 10 minutes).
pub const ATTEMPT_TTL_MS: i64 = 15 * 60 * 1000;

/// Why a connection attempt stored nothing.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// No pending attempt matches the callback.
    #[error("this authorization does not match one started from zfsync in the last 15 minutes (each link works once, and Zalo's answer must come back to the daemon that made the link); start again from the connect link")]
    UnknownAttempt,
    /// Zalo's answer names no attempt (no `state`, no `code_challenge`) and more than one is
    /// pending, so zfsync cannot tell which one it completes.
    #[error("more than one Zalo authorization was started from zfsync in the last 15 minutes, and Zalo's answer does not say which one this is, so nothing was connected; start again from one connect link, and finish it before opening another")]
    AmbiguousAttempt,
    /// The tokens are for another OA than the one this daemon serves.
    #[error("this authorization is for OA {got}, but zfsync serves OA {expected}; sign in as an admin of OA {expected}, or set zalo.oa_id to {got} to switch this daemon to that OA. Nothing was changed.")]
    WrongOa {
        /// The OA the tokens belong to.
        got: String,
        /// The OA this daemon serves.
        expected: String,
    },
    /// Zalo refused the code or the token.
    #[error("Zalo: {0}")]
    Zalo(ZaloError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The system's random number generator failed (no verifier or state can be made safely).
    #[error(transparent)]
    Randomness(#[from] zfsync_zalo::oauth::RandomError),
    /// Storing the pair failed.
    #[error(transparent)]
    Sync(#[from] SyncError),
}

impl From<ZaloError> for ConnectError {
    fn from(e: ZaloError) -> Self {
        ConnectError::Zalo(e)
    }
}

/// Starts an attempt and returns the permission URL to open in a browser.
pub async fn start(
    store: &Store,
    zalo: &ZaloClient,
    redirect_uri: &str,
) -> Result<url::Url, ConnectError> {
    let pkce = Pkce::generate()?;
    let state = zfsync_zalo::random_state()?;
    store
        .put_oauth_attempt(
            state.clone(),
            pkce.verifier.expose_secret().to_string(),
            pkce.challenge.clone(),
            redirect_uri.to_string(),
            ATTEMPT_TTL_MS,
        )
        .await?;
    Ok(zalo.permission_url(redirect_uri, &pkce.challenge, &state))
}

/// What a completed connection reports.
#[derive(Debug, Clone)]
pub struct Connected {
    /// The OA now connected.
    pub oa_id: Option<String>,
    /// Its name, when Zalo gave it.
    pub oa_name: Option<String>,
}

/// How a code being exchanged relates to the attempts operators started.
#[derive(Debug, Clone)]
pub enum CodeFrom {
    /// Zalo's redirect to the callback: it must complete a pending attempt, found by this key
    /// (`state`, else the echoed `code_challenge`, else the one attempt pending).
    Callback(AttemptKey),
    /// A code pasted by an operator (`connect zalo --code`): the one pending attempt's verifier is
    /// used when there is exactly one, none otherwise (a code from the console's own link).
    Pasted,
}

/// Exchanges an authorization code. `expected_oa` (the configured `zalo.oa_id`, else the OA
/// already connected) guards against someone completing the flow with another OA: such tokens are
/// refused and not stored.
pub async fn complete(
    store: &Store,
    zalo: &ZaloSession,
    code: &str,
    from: CodeFrom,
    callback_oa_id: Option<String>,
    expected_oa: Option<String>,
) -> Result<Connected, ConnectError> {
    let attempt = match &from {
        CodeFrom::Callback(key) => match store.take_oauth_attempt(key.clone()).await? {
            Some(a) => Some(a),
            None if matches!(key, AttemptKey::OnlyOne)
                && store.pending_oauth_attempts().await? > 1 =>
            {
                return Err(ConnectError::AmbiguousAttempt)
            }
            None => return Err(ConnectError::UnknownAttempt),
        },
        CodeFrom::Pasted => store.take_oauth_attempt(AttemptKey::OnlyOne).await?,
    };
    let verifier = attempt.map(|a| SecretString::from(a.verifier));
    let pair = zalo.client().exchange_code(code, verifier.as_ref()).await?;
    accept_pair(zalo, pair, callback_oa_id, expected_oa).await
}

/// Learns which OA a new pair belongs to (`getoa`), refuses it when it is not the expected OA,
/// and stores it otherwise. Used by the code exchange and for tokens pasted from Zalo's API Explorer.
pub async fn accept_pair(
    zalo: &ZaloSession,
    pair: zfsync_zalo::TokenPair,
    hinted_oa: Option<String>,
    expected_oa: Option<String>,
) -> Result<Connected, ConnectError> {
    let (oa_id, oa_name) = match zalo.client().oa_info(&pair.access_token).await {
        Ok(info) => (
            Some(info.oa_id).filter(|s| !s.is_empty()).or(hinted_oa),
            Some(info.name),
        ),
        Err(e) if e.is_token_error() => return Err(ConnectError::Zalo(e)),
        Err(e) => {
            tracing::warn!(error = %e, "the OA information could not be read; trusting the callback's oa_id");
            (hinted_oa, None)
        }
    };
    if let (Some(expected), Some(got)) = (&expected_oa, &oa_id) {
        if expected != got {
            return Err(ConnectError::WrongOa {
                got: got.clone(),
                expected: expected.clone(),
            });
        }
    }
    zalo.tokens().store_pair(&pair, oa_id.clone()).await?;
    Ok(Connected { oa_id, oa_name })
}
