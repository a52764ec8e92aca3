//! The Zalo OAuth v4 flow with PKCE: a fresh verifier and a random `state` per attempt, kept in the
//! store (the verifier never leaves the server, sealed at rest); the callback completes only an
//! attempt an operator started (`/oauth/zalo/start` with the admin token, or a one-time link from
//! `zfsync connect zalo`), exchanges the code with its verifier, and stores the token pair only once
//! Zalo itself (`getoa`) confirms which OA it belongs to and that OA is the expected one: the
//! configured `zalo.oa_id`, else the OA already connected, else the one the operator named when
//! starting. With none of these, a callback binds nothing. An OA named in the callback URL is only
//! ever a reason to refuse early (when it is not the expected one), never to accept.
//!
//! An attempt is used up only by a connection that succeeded: a callback with a junk code, a code
//! for another OA or an echoed `code_challenge` that is not the attempt's leaves it pending, so a
//! stranger who opens the callback cannot spoil an operator's consent. Such an attempt is marked,
//! and the operator's next start replaces it (a retry after a refusal must not meet "more than one
//! attempt pending").
//!
//! Failure: [`ConnectError`] says why nothing was stored (unknown attempt, another OA, no expected
//! OA, an OA Zalo would not confirm, Zalo's refusal). Every refusal is logged at WARN with both OA
//! ids and counted in `zfsync_oauth_refusals_total{reason}`; every callback is counted in
//! `zfsync_oauth_callbacks_total{outcome}` (`consumed`, or the refusal's reason) and a consumed one is
//! logged at INFO.

use secrecy::{ExposeSecret, SecretString};
use sha2::Digest as _;
use zfsync_zalo::{Pkce, ZaloClient, ZaloError};

use crate::error::SyncError;
use crate::store::{AttemptKey, OAuthAttempt, Store, StoreError};
use crate::telemetry::events::{InternalEvent, OAuthCallback, OAuthRefused};
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
    /// Zalo echoed a `code_challenge` that is not the pending attempt's.
    #[error("Zalo's answer carries another PKCE code_challenge than the authorization started from zfsync, so nothing was connected; finish the consent from the connect link you opened (it works for 15 minutes), or start again")]
    ChallengeMismatch,
    /// No OA is expected: `zalo.oa_id` is unset, none is connected, and the operator named none.
    #[error("zfsync does not know which Official Account it serves (zalo.oa_id is not set and no OA is connected), so it connects none. Set zalo.oa_id to your OA's id (a number: on the OA's page at oa.zalo.me and on Zalo's consent screen{}), restart zfsync and start again; or run 'zfsync connect zalo --oa-id ID' on the server. Nothing was changed.", named_in_callback(.claimed.as_deref()))]
    NoExpectedOa {
        /// The OA the callback named, when it is a well-formed id (shown as a hint only).
        claimed: Option<String>,
    },
    /// The tokens are for another OA than the one this daemon serves.
    #[error("this authorization is for OA {got}, but this pairing serves OA {expected}; sign in as an admin of OA {expected}. To serve OA {got} instead: for the configuration file's pairing set zalo.oa_id to {got}; otherwise add a pairing for it ('zfsync pairing add NAME --oa-id {got}'). Nothing was changed.")]
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

/// The OA a callback named, as a hint in [`ConnectError::NoExpectedOa`].
fn named_in_callback(claimed: Option<&str>) -> String {
    match claimed.filter(|c| is_oa_id(c)) {
        Some(c) => format!("; this consent came back for OA {c}"),
        None => String::new(),
    }
}

/// An OA id as Zalo writes them: a non-empty string of digits.
pub fn is_oa_id(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_ascii_digit())
}

/// An OA id from the callback URL as it may be shown in pages and logs: anything but digits (a
/// stranger's text, line breaks) is not repeated.
fn shown_oa(claimed: &str) -> &str {
    if is_oa_id(claimed) {
        claimed
    } else {
        "(not an OA id)"
    }
}

/// The outcome label of `zfsync_oauth_callbacks_total` for a callback whose attempt was used.
pub const OUTCOME_CONSUMED: &str = "consumed";
/// ... for a callback that says Zalo granted nothing (`error=`).
pub const OUTCOME_DENIED: &str = "denied";
/// ... for a callback without a code.
pub const OUTCOME_NO_CODE: &str = "no_code";

/// Counts one request to the OAuth callback in `zfsync_oauth_callbacks_total{outcome}`.
pub fn count_callback(outcome: &'static str) {
    OAuthCallback { outcome }.emit();
}

impl ConnectError {
    /// A low-cardinality label for metrics and logs.
    pub fn outcome(&self) -> &'static str {
        match self {
            ConnectError::UnknownAttempt => "unknown_attempt",
            ConnectError::UnknownTicket => "unknown_ticket",
            ConnectError::AmbiguousAttempt => "ambiguous_attempt",
            ConnectError::ChallengeMismatch => "challenge_mismatch",
            ConnectError::NoExpectedOa { .. } => "no_expected_oa",
            ConnectError::WrongOa { .. } => "wrong_oa",
            ConnectError::Unconfirmed(_) => "unconfirmed",
            ConnectError::Zalo(_) => "exchange_failed",
            ConnectError::Store(_) | ConnectError::Randomness(_) | ConnectError::Sync(_) => "error",
        }
    }
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

/// What Zalo's redirect to the callback carried besides the code.
#[derive(Debug, Clone, Default)]
pub struct Echoed {
    /// `state`, when Zalo echoed it.
    pub state: Option<String>,
    /// The PKCE `code_challenge`, when Zalo echoed it.
    pub code_challenge: Option<String>,
    /// The OA Zalo named (a claim: only a reason to refuse early, never to accept).
    pub oa_id: Option<String>,
}

/// How a code being exchanged relates to the attempts operators started.
#[derive(Debug, Clone)]
pub enum CodeFrom {
    /// Zalo's redirect to the callback: it must complete a pending attempt, found by `state`, else
    /// by the echoed `code_challenge`, else as the one attempt pending; an echoed challenge must
    /// be the attempt's.
    Callback(Echoed),
    /// A code pasted by an operator (`connect zalo --code`): the one pending attempt's verifier is
    /// used when there is exactly one, none otherwise (a code from the console's own link).
    Pasted,
}

/// Exchanges an authorization code. `expected_oa` (the configured `zalo.oa_id`, else the OA
/// already connected) is the OA the tokens must be for; without one, the OA the operator named when
/// starting the attempt. A callback with no expected OA at all binds nothing; a pasted code (the
/// operator at the server) then connects the OA Zalo confirms. The attempt is deleted only when the
/// connection succeeded. Every outcome is logged and counted (see the module's documentation).
pub async fn complete(
    store: &Store,
    zalo: &ZaloSession,
    code: &str,
    from: CodeFrom,
    expected_oa: Option<String>,
) -> Result<Connected, ConnectError> {
    let expected_oa = expected_oa.filter(|o| !o.is_empty());
    let result = exchange(store, zalo, code, &from, expected_oa.clone()).await;
    let callback = matches!(from, CodeFrom::Callback(_));
    match &result {
        Ok(c) => {
            tracing::info!(
                via = if callback { "callback" } else { "pasted code" },
                oa_id = c.oa_id.as_deref().unwrap_or("(unknown)"),
                "a Zalo authorization was used: its attempt is consumed and the new tokens are stored"
            );
            if callback {
                count_callback(OUTCOME_CONSUMED);
            }
        }
        Err(e) => {
            let claimed = match &from {
                CodeFrom::Callback(echo) => echo.oa_id.as_deref(),
                CodeFrom::Pasted => None,
            };
            refused(e, expected_oa.as_deref(), claimed);
            if callback {
                count_callback(e.outcome());
            }
        }
    }
    result
}

async fn exchange(
    store: &Store,
    zalo: &ZaloSession,
    code: &str,
    from: &CodeFrom,
    expected_oa: Option<String>,
) -> Result<Connected, ConnectError> {
    let attempt = match from {
        CodeFrom::Callback(echo) => Some(pending_attempt(store, echo).await?),
        CodeFrom::Pasted => store.find_oauth_attempt(AttemptKey::OnlyOne).await?,
    };
    let result = exchange_for(zalo, code, from, expected_oa, attempt.as_ref()).await;
    match (&result, attempt) {
        (Ok(_), Some(a)) => {
            store.consume_oauth_attempt(a.state).await?;
        }
        (Err(_), Some(a)) => {
            // Kept for the operator's own consent; their next start replaces it.
            store.mark_oauth_attempt_refused(a.state).await?;
        }
        (_, None) => {}
    }
    result
}

/// The exchange and its checks, for the attempt found (if any).
async fn exchange_for(
    zalo: &ZaloSession,
    code: &str,
    from: &CodeFrom,
    expected_oa: Option<String>,
    attempt: Option<&OAuthAttempt>,
) -> Result<Connected, ConnectError> {
    let expected = expected_oa.or_else(|| {
        attempt
            .and_then(|a| a.expected_oa.clone())
            .filter(|o| !o.is_empty())
    });
    if let CodeFrom::Callback(echo) = from {
        let claimed = echo.oa_id.clone().filter(|c| !c.is_empty());
        let Some(expected) = &expected else {
            return Err(ConnectError::NoExpectedOa { claimed });
        };
        // Zalo's word for the OA comes later (getoa); a callback that names another OA is refused
        // before its code is spent.
        if let Some(claimed) = claimed.filter(|c| c != expected) {
            return Err(ConnectError::WrongOa {
                got: shown_oa(&claimed).to_string(),
                expected: expected.clone(),
            });
        }
    }
    let verifier = attempt.map(|a| SecretString::from(a.verifier.clone()));
    let pair = zalo.client().exchange_code(code, verifier.as_ref()).await?;
    confirm_and_store(zalo, pair, expected).await
}

/// The pending attempt a callback completes (left pending until its connection succeeds).
async fn pending_attempt(store: &Store, echo: &Echoed) -> Result<OAuthAttempt, ConnectError> {
    let state = echo.state.as_deref().filter(|s| !s.is_empty());
    let challenge = echo.code_challenge.as_deref().filter(|c| !c.is_empty());
    let key = match (state, challenge) {
        (Some(s), _) => AttemptKey::State(s.to_string()),
        (None, Some(c)) => AttemptKey::Challenge(c.to_string()),
        (None, None) => AttemptKey::OnlyOne,
    };
    if let Some(a) = store.find_oauth_attempt(key).await? {
        return match challenge {
            Some(c) if a.challenge.as_deref() != Some(c) => Err(ConnectError::ChallengeMismatch),
            _ => Ok(a),
        };
    }
    let pending = store.pending_oauth_attempts().await?;
    Err(match (state, challenge) {
        (None, Some(_)) if pending > 0 => ConnectError::ChallengeMismatch,
        (None, None) if pending > 1 => ConnectError::AmbiguousAttempt,
        _ => ConnectError::UnknownAttempt,
    })
}

/// Stores a new pair once Zalo (`getoa`) confirms the OA it belongs to and that OA is `expected`
/// (when there is one). Anything else stores nothing: a failed `getoa` (timeout, 5xx, -32, an
/// unreadable answer) refuses the pair rather than trusting anyone's word for the OA. Used for
/// tokens pasted from Zalo's API Explorer; a refusal is logged and counted.
pub async fn accept_pair(
    zalo: &ZaloSession,
    pair: zfsync_zalo::TokenPair,
    expected_oa: Option<String>,
) -> Result<Connected, ConnectError> {
    let result = confirm_and_store(zalo, pair, expected_oa.clone()).await;
    if let Err(e) = &result {
        refused(e, expected_oa.as_deref(), None);
    }
    result
}

/// [`accept_pair`] without the log line and the count (its callers report).
async fn confirm_and_store(
    zalo: &ZaloSession,
    pair: zfsync_zalo::TokenPair,
    expected_oa: Option<String>,
) -> Result<Connected, ConnectError> {
    let info = match zalo.client().oa_info(&pair.access_token).await {
        Ok(info) if !info.oa_id.trim().is_empty() => info,
        Ok(_) => return Err(ConnectError::Unconfirmed("its answer names no OA".into())),
        Err(e) => return Err(ConnectError::Unconfirmed(e.to_string())),
    };
    if let Some(expected) = expected_oa.filter(|e| !e.is_empty()) {
        if expected != info.oa_id {
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

/// Logs and counts a refused connection. `claimed`: the OA the callback named.
fn refused(e: &ConnectError, expected: Option<&str>, claimed: Option<&str>) {
    let reason = e.outcome();
    let got = match e {
        ConnectError::WrongOa { got, .. } => Some(got.as_str()),
        _ => claimed.map(shown_oa),
    };
    OAuthRefused {
        reason,
        expected_oa: expected,
        got_oa: got,
        error: &e.to_string(),
    }
    .emit();
}
