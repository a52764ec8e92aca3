//! The Zalo OAuth v4 flow with PKCE: a fresh verifier and a random `state` per attempt, kept in the
//! store (the verifier never leaves the server, sealed at rest); the callback completes only an
//! attempt an operator started (`/oauth/zalo/start` with the admin token, or a one-time link from
//! `zfsync connect zalo`), exchanges the code with its verifier, and stores the token pair only once
//! Zalo itself (`getoa`) confirms which OA it belongs to and that OA is the expected one: the
//! configured `zalo.oa_id`, else the OA already connected, else the one the operator named when
//! starting. Nothing is ever decided from what the callback URL claims.
//!
//! Failure: [`ConnectError`] says why nothing was stored (unknown attempt, another OA, an OA Zalo
//! would not confirm, Zalo's refusal). Refusals are logged at WARN with both OA ids and counted in
//! `zfsync_oauth_refusals_total{reason}`.

use secrecy::{ExposeSecret, SecretString};
use sha2::Digest as _;
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
    /// The one-time start link is unknown, used or expired.
    #[error("this start link is unknown, was used already, or is older than 15 minutes; run 'zfsync connect zalo' for a new one")]
    UnknownTicket,
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
    /// Zalo would not say which OA the tokens belong to.
    #[error("Zalo did not confirm which Official Account these tokens belong to ({0}); nothing was changed. Try again in a moment")]
    Unconfirmed(String),
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

/// Starts an attempt and returns the permission URL to open in a browser. `expected_oa`: the OA
/// the operator means to connect, when they named one.
pub async fn start(
    store: &Store,
    zalo: &ZaloClient,
    redirect_uri: &str,
    expected_oa: Option<String>,
) -> Result<url::Url, ConnectError> {
    let pkce = Pkce::generate()?;
    let state = zfsync_zalo::random_state()?;
    store
        .put_oauth_attempt(
            state.clone(),
            pkce.verifier.expose_secret().to_string(),
            pkce.challenge.clone(),
            redirect_uri.to_string(),
            expected_oa.filter(|o| !o.is_empty()),
            ATTEMPT_TTL_MS,
        )
        .await?;
    Ok(zalo.permission_url(redirect_uri, &pkce.challenge, &state))
}

/// Makes a one-time link that starts the flow without the admin token (what `zfsync connect zalo`
/// prints). Returns the ticket to put in `?ticket=`.
pub async fn new_ticket(
    store: &Store,
    expected_oa: Option<String>,
) -> Result<String, ConnectError> {
    let ticket = zfsync_zalo::random_state()?;
    store
        .put_oauth_ticket(ticket_hash(&ticket), expected_oa, ATTEMPT_TTL_MS)
        .await?;
    Ok(ticket)
}

/// Uses a one-time link: the OA it names, if any.
pub async fn take_ticket(store: &Store, ticket: &str) -> Result<Option<String>, ConnectError> {
    store
        .take_oauth_ticket(ticket_hash(ticket))
        .await?
        .ok_or(ConnectError::UnknownTicket)
}

fn ticket_hash(ticket: &str) -> String {
    hex::encode(sha2::Sha256::digest(ticket.as_bytes()))
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
/// already connected) is the OA the tokens must be for; without one, the OA the operator named when
/// starting the attempt.
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
                refused(
                    "ambiguous_attempt",
                    expected_oa.as_deref(),
                    callback_oa_id.as_deref(),
                );
                return Err(ConnectError::AmbiguousAttempt);
            }
            None => {
                refused(
                    "unknown_attempt",
                    expected_oa.as_deref(),
                    callback_oa_id.as_deref(),
                );
                return Err(ConnectError::UnknownAttempt);
            }
        },
        CodeFrom::Pasted => store.take_oauth_attempt(AttemptKey::OnlyOne).await?,
    };
    let expected = expected_oa.or_else(|| attempt.as_ref().and_then(|a| a.expected_oa.clone()));
    let verifier = attempt.map(|a| SecretString::from(a.verifier));
    let pair = zalo.client().exchange_code(code, verifier.as_ref()).await?;
    let connected = accept_pair(zalo, pair, expected).await?;
    if let (Some(claimed), Some(got)) = (&callback_oa_id, &connected.oa_id) {
        if claimed != got {
            tracing::warn!(callback_oa_id = %claimed, oa_id = %got, "the callback named another OA than Zalo confirmed; Zalo's answer was used");
        }
    }
    Ok(connected)
}

/// Stores a new pair once Zalo (`getoa`) confirms the OA it belongs to and that OA is `expected`
/// (when there is one). Anything else stores nothing: a failed `getoa` (timeout, 5xx, -32, an
/// unreadable answer) refuses the pair rather than trusting anyone's word for the OA. Used by the
/// code exchange and for tokens pasted from Zalo's API Explorer.
pub async fn accept_pair(
    zalo: &ZaloSession,
    pair: zfsync_zalo::TokenPair,
    expected_oa: Option<String>,
) -> Result<Connected, ConnectError> {
    let info = match zalo.client().oa_info(&pair.access_token).await {
        Ok(info) if !info.oa_id.trim().is_empty() => info,
        Ok(_) => {
            refused("unconfirmed", expected_oa.as_deref(), None);
            return Err(ConnectError::Unconfirmed("its answer names no OA".into()));
        }
        Err(e) => {
            refused("unconfirmed", expected_oa.as_deref(), None);
            return Err(ConnectError::Unconfirmed(e.to_string()));
        }
    };
    if let Some(expected) = expected_oa.filter(|e| !e.is_empty()) {
        if expected != info.oa_id {
            refused("wrong_oa", Some(&expected), Some(&info.oa_id));
            return Err(ConnectError::WrongOa {
                got: info.oa_id,
                expected,
            });
        }
    }
    zalo.tokens()
        .store_pair(&pair, Some(info.oa_id.clone()))
        .await?;
    Ok(Connected {
        oa_id: Some(info.oa_id),
        oa_name: Some(info.name),
    })
}

/// Logs and counts a refused connection.
fn refused(reason: &'static str, expected: Option<&str>, got: Option<&str>) {
    tracing::warn!(
        reason,
        expected_oa = expected.unwrap_or("(any)"),
        got_oa = got.unwrap_or("(unknown)"),
        "refused a Zalo connection; the stored tokens were not changed"
    );
    metrics::counter!("zfsync_oauth_refusals_total", "reason" => reason).increment(1);
}
