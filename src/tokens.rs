//! Zalo OAuth tokens: loaded from the store, refreshed ahead of expiry and on -216/-220/-124, one
//! refresh at a time (single flight), the new pair committed to the store BEFORE it is used (Zalo
//! refresh tokens are single-use: a pair lost after a refresh would need an OA admin to consent
//! again). A refresh that Zalo rejects puts the pairing in a visible "needs re-authorization" state
//! instead of retrying in a loop. A refusal Zalo does not document (a code the reference does not
//! list, or none) is neither: it is kept in the store with its code and since when (for `status`
//! and `/readyz`), the refresh is retried with backoff (by the scheduler and by sends), and once it
//! has lasted `sync.token_error_reauth_after_secs` the pairing needs re-authorization too. A
//! refresh that works clears it.
//!
//! Every pair stored (by a refresh or a connect, in this process or another) has a new generation
//! (counted by the store). The daemon wakes what waited for the tokens whenever a usable pair of a
//! new generation appears ([`TokenManager::follow_store`]), so a reconnect that follows a refusal
//! within milliseconds is not taken for "nothing changed"; a pair stored in this process says so at
//! once ([`TokenManager::pair_stored`]).
//!
//! [`ZaloSession`] is how the rest of the daemon talks to Zalo: one method per call, each with a
//! valid token, refreshed and retried once when Zalo refuses it.

use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use bytes::Bytes;
use secrecy::{ExposeSecret, SecretString};
use zfsync_zalo::{
    HistoryMessage, OutboundMessage, SentMessage, TokenPair, UserProfile, ZaloClient, ZaloError,
};

use crate::error::SyncError;
use crate::store::{now_ms, Store, StoredTokens, TokenEndpointError};
use crate::telemetry::events::{
    InternalEvent, RefreshBackoff, TokenRefreshFailed, TokenRefreshRejected, TokenRefreshUnlisted,
    TokenRefreshed,
};
use crate::time::{ago, utc};

/// Zalo refresh tokens live 3 months.
const REFRESH_TTL_MS: i64 = 90 * 24 * 3600 * 1000;

#[derive(Clone)]
struct Cached {
    access: SecretString,
    refresh: SecretString,
    access_expires_at: i64,
    needs_reauth: Option<String>,
    token_error: Option<TokenEndpointError>,
    oa_id: Option<String>,
    updated_at: i64,
    generation: i64,
}

impl Cached {
    /// Calls can use the pair: nobody must reconnect and the token endpoint is not refusing it.
    fn usable(&self) -> bool {
        self.needs_reauth.is_none() && self.token_error.is_none()
    }
}

/// How the tokens are looked after (from `[sync]`).
#[derive(Debug, Clone, Copy)]
pub struct TokenPolicy {
    /// How early the access token is refreshed.
    pub refresh_ahead: Duration,
    /// How long the token endpoint may refuse with an undocumented answer before the pairing
    /// needs re-authorization.
    pub reauth_after: Duration,
    /// First wait before the token endpoint is asked again after such a refusal (doubles).
    pub retry_base: Duration,
    /// Longest such wait.
    pub retry_max: Duration,
}

impl TokenPolicy {
    /// The policy of a `[sync]` section.
    pub fn from_config(sync: &crate::config::SyncConfig) -> TokenPolicy {
        TokenPolicy {
            refresh_ahead: Duration::from_secs(sync.token_refresh_ahead_secs),
            reauth_after: Duration::from_secs(sync.token_error_reauth_after_secs),
            retry_base: Duration::from_millis(sync.retry_base_ms),
            retry_max: Duration::from_millis(sync.retry_max_ms),
        }
    }
}

/// When the token endpoint may be asked again after an undocumented refusal.
#[derive(Debug, Default)]
struct Backoff {
    failures: u32,
    next_try_ms: i64,
}

/// The pair [`TokenManager::follow_store`] last saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Seen {
    generation: i64,
    usable: bool,
}

/// What `status`, `/readyz` and metrics show about the tokens.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TokenStatus {
    /// A token pair is stored.
    pub connected: bool,
    /// The OA the tokens belong to.
    pub oa_id: Option<String>,
    /// When the access token expires (Unix milliseconds).
    pub access_expires_at: Option<i64>,
    /// Seconds until then (negative once expired).
    pub seconds_to_expiry: Option<i64>,
    /// Why an operator must connect the OA again (`zfsync connect zalo`), when so.
    pub needs_reauth: Option<String>,
    /// Zalo's token endpoint refuses refreshes with an answer it does not document (its code and
    /// since when); retried with backoff.
    pub token_error: Option<TokenEndpointError>,
    /// When that turns into "needs re-authorization" if it lasts (Unix milliseconds).
    pub token_error_reauth_at: Option<i64>,
}

impl TokenStatus {
    /// The undocumented refusal in words, with its code, since when, and what happens next.
    pub fn token_error_text(&self) -> Option<String> {
        let e = self.token_error.as_ref()?;
        let reauth = self
            .token_error_reauth_at
            .map(|at| format!(" until {}", utc(at)))
            .unwrap_or_default();
        Some(format!(
            "Zalo's token endpoint refuses to refresh the token with {} since {} ({}); zfsync retries with backoff{reauth}, then asks for 'zfsync connect zalo' ({})",
            code_text(e.code),
            utc(e.since),
            ago(Some(e.since)),
            e.reason
        ))
    }
}

/// "error -14099", or what stands for it when Zalo gave no code.
fn code_text(code: Option<i64>) -> String {
    code.map_or_else(
        || "an answer without an error code".to_owned(),
        |c| format!("error {c}"),
    )
}

/// The Zalo token pair: cached in memory, refreshed once at a time, persisted before use.
pub struct TokenManager {
    store: Store,
    client: ZaloClient,
    cache: RwLock<Option<Cached>>,
    refresh_lock: tokio::sync::Mutex<()>,
    policy: TokenPolicy,
    backoff: Mutex<Backoff>,
    /// The pair [`TokenManager::follow_store`] last saw (none before its first call).
    followed: Mutex<Option<Seen>>,
    /// Told when this process stores a new pair.
    stored: tokio::sync::Notify,
}

impl std::fmt::Debug for TokenManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenManager")
            .field("status", &self.status())
            .finish()
    }
}

impl TokenManager {
    /// Loads the stored pair.
    pub async fn new(
        store: Store,
        client: ZaloClient,
        policy: TokenPolicy,
    ) -> Result<TokenManager, SyncError> {
        let tm = TokenManager {
            store,
            client,
            cache: RwLock::new(None),
            refresh_lock: tokio::sync::Mutex::new(()),
            policy,
            backoff: Mutex::new(Backoff::default()),
            followed: Mutex::new(None),
            stored: tokio::sync::Notify::new(),
        };
        tm.reload().await?;
        Ok(tm)
    }

    async fn reload(&self) -> Result<Option<Cached>, SyncError> {
        let stored = self.store.tokens().await?;
        let cached = stored.map(|t| Cached {
            access: SecretString::from(t.access_token),
            refresh: SecretString::from(t.refresh_token),
            access_expires_at: t.access_expires_at,
            needs_reauth: t.needs_reauth,
            token_error: t.token_error,
            oa_id: t.oa_id,
            updated_at: t.updated_at,
            generation: t.generation,
        });
        if let Ok(mut c) = self.cache.write() {
            *c = cached.clone();
        }
        Ok(cached)
    }

    /// Re-reads the stored pair (after another writer changed it).
    pub async fn reload_status(&self) -> Result<(), SyncError> {
        self.reload().await.map(|_| ())
    }

    /// Re-reads the stored pair when another process (`zfsync connect zalo`, the callback served
    /// by another process) or a refresh changed it. True when a usable pair of a new generation is
    /// there (or the first call finds a usable pair): what waited for the tokens can go now. A new
    /// generation is enough, whether or not a call in between saw the pairing unusable: a
    /// reconnect a few milliseconds after a refusal is a new pair like any other.
    pub async fn follow_store(&self) -> Result<bool, SyncError> {
        let before = self.cached();
        let stored = self.store.tokens().await?;
        let changed = match (&before, &stored) {
            (Some(b), Some(s)) => {
                b.generation != s.generation
                    || b.updated_at != s.updated_at
                    || b.needs_reauth != s.needs_reauth
                    || b.token_error != s.token_error
            }
            (None, None) => false,
            _ => true,
        };
        // The cache is brought up to date before anything is woken: a lane that records a wait
        // after this looks at the cache and goes at once (see `replaced_since`).
        let now = if changed {
            self.reload().await?
        } else {
            before
        };
        // Compared with what this function last saw, so a pair stored in this process (whose
        // cache is already fresh) counts too.
        let seen = now.as_ref().map(|c| Seen {
            generation: c.generation,
            usable: c.usable(),
        });
        let last = match self.followed.lock() {
            Ok(mut followed) => std::mem::replace(&mut *followed, seen),
            Err(_) => None,
        };
        Ok(match (last, seen) {
            (_, None) => false,
            (_, Some(now)) if !now.usable => false,
            (None, Some(_)) => true,
            (Some(last), Some(now)) => last.generation != now.generation || !last.usable,
        })
    }

    /// Resolves when this process stores a new pair (a refresh, the OAuth callback, the console);
    /// a pair stored while nobody waited is told to the next caller.
    pub async fn pair_stored(&self) {
        self.stored.notified().await;
    }

    /// The generation of the pair as this process knows it (`None` when none is stored).
    pub fn generation(&self) -> Option<i64> {
        self.cached().map(|c| c.generation)
    }

    /// True when a usable pair of another generation than `generation` is known here: a call that
    /// failed for want of tokens under `generation` can be tried again now.
    pub fn replaced_since(&self, generation: Option<i64>) -> bool {
        self.cached()
            .is_some_and(|c| c.usable() && Some(c.generation) != generation)
    }

    fn cached(&self) -> Option<Cached> {
        self.cache.read().ok().and_then(|c| c.clone())
    }

    /// What the tokens look like now.
    pub fn status(&self) -> TokenStatus {
        match self.cached() {
            Some(c) => TokenStatus {
                connected: true,
                oa_id: c.oa_id,
                access_expires_at: Some(c.access_expires_at),
                seconds_to_expiry: Some((c.access_expires_at - now_ms()) / 1000),
                needs_reauth: c.needs_reauth,
                token_error_reauth_at: c.token_error.as_ref().map(|e| self.reauth_at(e)),
                token_error: c.token_error,
            },
            None => TokenStatus {
                connected: false,
                oa_id: None,
                access_expires_at: None,
                seconds_to_expiry: None,
                needs_reauth: None,
                token_error: None,
                token_error_reauth_at: None,
            },
        }
    }

    /// Stores a pair just obtained from an authorization code (or pasted from the API Explorer).
    pub async fn store_pair(
        &self,
        pair: &TokenPair,
        oa_id: Option<String>,
    ) -> Result<(), SyncError> {
        let now = now_ms();
        self.store
            .save_tokens(StoredTokens {
                oa_id,
                access_token: pair.access_token.expose_secret().to_string(),
                refresh_token: pair.refresh_token.expose_secret().to_string(),
                access_expires_at: now + pair.expires_in.as_millis() as i64,
                refresh_expires_at: now + REFRESH_TTL_MS,
                updated_at: now,
                needs_reauth: None,
                token_error: None,
                generation: 0,
            })
            .await?;
        self.reload().await?;
        // What waits for the tokens in this process need not wait for the next look at the store.
        self.stored.notify_one();
        Ok(())
    }

    /// A valid access token, refreshed first when it is about to expire.
    pub async fn access_token(&self) -> Result<SecretString, SyncError> {
        let c = match self.cached() {
            Some(c) => c,
            None => self.reload().await?.ok_or(SyncError::NotConnected)?,
        };
        if let Some(reason) = c.needs_reauth {
            return Err(SyncError::NeedsReauth(reason));
        }
        if c.access_expires_at - now_ms() < 60_000 {
            return self.refresh(Some(&c.access)).await;
        }
        Ok(c.access)
    }

    /// Refreshes the pair unless another caller already did since `stale` was handed out.
    pub async fn refresh(&self, stale: Option<&SecretString>) -> Result<SecretString, SyncError> {
        let _guard = self.refresh_lock.lock().await;
        // Across replicas too: the pair is read again only once no other process refreshes it,
        // and the lock is held until the new pair is committed.
        let _across = self.store.refresh_lock().await?;
        let current = self.reload().await?.ok_or(SyncError::NotConnected)?;
        if let Some(reason) = current.needs_reauth {
            return Err(SyncError::NeedsReauth(reason));
        }
        if let Some(stale) = stale {
            if stale.expose_secret() != current.access.expose_secret() {
                return Ok(current.access);
            }
        }
        if let Some(err) = current.token_error.clone() {
            if self.overdue(&err) {
                return self.give_up(&current, &err).await;
            }
            // Not before the backoff is over, however many sends ask.
            if self.backing_off() {
                return Err(SyncError::TokenEndpoint(code_text(err.code)));
            }
        }
        match self.client.refresh_token(&current.refresh).await {
            Ok(pair) => {
                // Commit the new pair before anything uses it.
                self.store_pair(&pair, current.oa_id.clone()).await?;
                if let Ok(mut b) = self.backoff.lock() {
                    *b = Backoff::default();
                }
                if let Some(err) = &current.token_error {
                    tracing::info!(code = ?err.code, since = %utc(err.since), "Zalo's token endpoint refreshed the token again");
                }
                TokenRefreshed {
                    expires_in_secs: pair.expires_in.as_secs(),
                }
                .emit();
                Ok(pair.access_token)
            }
            // Only Zalo's documented refusals mean the pair is gone; 5xx, 429, -32 and timeouts are
            // passing trouble and retried with the event's backoff.
            Err(e) if e.needs_reauthorization() => {
                // Another process (a second daemon, `zfsync check`) may have used the single-use
                // refresh token first and stored the new pair: then the pair is fine.
                if let Some(now) = self.reload().await? {
                    if now.refresh.expose_secret() != current.refresh.expose_secret()
                        && now.needs_reauth.is_none()
                    {
                        return Ok(now.access);
                    }
                }
                let reason = format!("{e}; if zalo.app_secret was changed, correct it first");
                TokenRefreshRejected {
                    code: e.code(),
                    error: &reason,
                }
                .emit();
                self.store
                    .set_needs_reauth(current.generation, reason.clone())
                    .await?;
                self.reload().await?;
                Err(SyncError::NeedsReauth(reason))
            }
            // Neither documented as final nor as passing: retried with backoff, shown with its
            // code, and given up on after `reauth_after`.
            Err(e) if e.is_unlisted_refusal() => {
                let stored = self
                    .store
                    .set_token_error(current.generation, e.code(), e.to_string())
                    .await?;
                self.reload().await?;
                let Some(err) = stored else {
                    // Another process stored a new pair meanwhile.
                    TokenRefreshUnlisted {
                        code: e.code(),
                        error: &e.to_string(),
                        backoff: None,
                    }
                    .emit();
                    return Err(SyncError::TokenEndpoint(code_text(e.code())));
                };
                let wait = self.note_refusal();
                TokenRefreshUnlisted {
                    code: e.code(),
                    error: &e.to_string(),
                    backoff: Some(RefreshBackoff {
                        since: &utc(err.since),
                        retry_in_ms: wait.as_millis() as u64,
                        reauth_at: &utc(self.reauth_at(&err)),
                    }),
                }
                .emit();
                if self.overdue(&err) {
                    return self.give_up(&current, &err).await;
                }
                Err(SyncError::TokenEndpoint(code_text(err.code)))
            }
            Err(e) => {
                TokenRefreshFailed {
                    code: e.code(),
                    error: &e.to_string(),
                }
                .emit();
                Err(SyncError::Zalo(e))
            }
        }
    }

    /// When an undocumented refusal that lasts becomes "needs re-authorization".
    fn reauth_at(&self, err: &TokenEndpointError) -> i64 {
        err.since
            .saturating_add(self.policy.reauth_after.as_millis() as i64)
    }

    fn overdue(&self, err: &TokenEndpointError) -> bool {
        now_ms() >= self.reauth_at(err)
    }

    /// True while the wait after the last undocumented refusal is not over.
    fn backing_off(&self) -> bool {
        self.backoff
            .lock()
            .map(|b| now_ms() < b.next_try_ms)
            .unwrap_or(false)
    }

    /// Counts a refusal and returns how long to wait before asking again (doubling, capped).
    fn note_refusal(&self) -> Duration {
        let Ok(mut b) = self.backoff.lock() else {
            return Duration::ZERO;
        };
        let wait = self
            .policy
            .retry_base
            .saturating_mul(1 << b.failures.min(16))
            .min(self.policy.retry_max);
        b.failures = b.failures.saturating_add(1);
        b.next_try_ms = now_ms().saturating_add(wait.as_millis() as i64);
        wait
    }

    /// The undocumented refusal lasted too long: the pairing needs an OA admin to consent again.
    async fn give_up(
        &self,
        current: &Cached,
        err: &TokenEndpointError,
    ) -> Result<SecretString, SyncError> {
        let reason = format!(
            "Zalo's token endpoint has refused every refresh since {} with {}, for longer than {} s ({})",
            utc(err.since),
            code_text(err.code),
            self.policy.reauth_after.as_secs(),
            err.reason
        );
        TokenRefreshRejected {
            code: err.code,
            error: &reason,
        }
        .emit();
        self.store
            .set_needs_reauth(current.generation, reason.clone())
            .await?;
        self.reload().await?;
        Err(SyncError::NeedsReauth(reason))
    }

    /// Turns an undocumented refusal that has lasted `reauth_after` into "needs re-authorization"
    /// even when nothing asked for a refresh meanwhile (the daemon calls it every second). True
    /// when it did.
    pub async fn give_up_if_overdue(&self) -> Result<bool, SyncError> {
        let due = self
            .cached()
            .and_then(|c| c.token_error)
            .is_some_and(|e| self.overdue(&e));
        if !due {
            return Ok(false);
        }
        let _guard = self.refresh_lock.lock().await;
        let _across = self.store.refresh_lock().await?;
        let Some(current) = self.reload().await? else {
            return Ok(false);
        };
        match current.token_error.clone() {
            Some(err) if current.needs_reauth.is_none() && self.overdue(&err) => {
                match self.give_up(&current, &err).await {
                    Err(SyncError::NeedsReauth(_)) | Ok(_) => Ok(true),
                    Err(e) => Err(e),
                }
            }
            _ => Ok(false),
        }
    }

    /// Refreshes when the access token expires within the configured margin (the scheduler's job).
    pub async fn refresh_if_due(&self) -> Result<bool, SyncError> {
        let Some(c) = self.cached() else {
            return Ok(false);
        };
        if c.needs_reauth.is_some() {
            return Ok(false);
        }
        // A refresh the token endpoint refused is still due, whatever the expiry says.
        if c.token_error.is_some()
            || c.access_expires_at - now_ms() <= self.policy.refresh_ahead.as_millis() as i64
        {
            self.refresh(Some(&c.access)).await?;
            return Ok(true);
        }
        Ok(false)
    }

    /// Runs a Zalo call with a valid token; on a token error, refreshes once and retries once.
    pub async fn call<T, F, Fut>(&self, f: F) -> Result<T, SyncError>
    where
        F: Fn(SecretString) -> Fut,
        Fut: std::future::Future<Output = Result<T, ZaloError>>,
    {
        let token = self.access_token().await?;
        match f(token.clone()).await {
            Err(e) if e.is_token_error() => {
                tracing::warn!(code = ?e.code(), "zalo token refused; refreshing and retrying once");
                let fresh = self.refresh(Some(&token)).await?;
                f(fresh).await.map_err(SyncError::Zalo)
            }
            other => other.map_err(SyncError::Zalo),
        }
    }
}

/// Token-aware Zalo calls: each method gets a valid access token and, on a token error, refreshes
/// once and tries once more. Cheap to clone.
#[derive(Clone, Debug)]
pub struct ZaloSession {
    client: ZaloClient,
    tokens: Arc<TokenManager>,
    /// `zalo.oa_id`, when configured.
    configured_oa: Option<String>,
}

impl ZaloSession {
    /// A session over a client and the token manager, for the configured OA (`zalo.oa_id`), if
    /// any.
    pub fn new(
        client: ZaloClient,
        tokens: Arc<TokenManager>,
        configured_oa: Option<String>,
    ) -> ZaloSession {
        ZaloSession {
            client,
            tokens,
            configured_oa: configured_oa.filter(|o| !o.is_empty()),
        }
    }

    /// Which OA zfsync serves: the configured `zalo.oa_id`, else the OA whose tokens are stored
    /// (connected), else none yet.
    pub fn oa_id(&self) -> Option<String> {
        self.configured_oa
            .clone()
            .or_else(|| self.tokens.status().oa_id)
            .filter(|o| !o.is_empty())
    }

    /// The token manager (status, refresh).
    pub fn tokens(&self) -> &Arc<TokenManager> {
        &self.tokens
    }

    /// The client, for calls that need no token (media downloads, the OAuth exchange).
    pub fn client(&self) -> &ZaloClient {
        &self.client
    }

    /// Sends a CS message to a user.
    pub async fn send_message(
        &self,
        user_id: &str,
        message: &OutboundMessage,
    ) -> Result<SentMessage, SyncError> {
        self.tokens
            .call(|t| async move { self.client.send_message(&t, user_id, message).await })
            .await
    }

    /// Uploads a jpg/png (≤ 1 MB); returns its attachment id.
    pub async fn upload_image(&self, name: &str, bytes: Bytes) -> Result<String, SyncError> {
        self.tokens
            .call(|t| {
                let bytes = bytes.clone();
                async move { self.client.upload_image(&t, name, bytes).await }
            })
            .await
    }

    /// Uploads a GIF (≤ 5 MB); returns its attachment id.
    pub async fn upload_gif(&self, name: &str, bytes: Bytes) -> Result<String, SyncError> {
        self.tokens
            .call(|t| {
                let bytes = bytes.clone();
                async move { self.client.upload_gif(&t, name, bytes).await }
            })
            .await
    }

    /// Uploads a document (≤ 5 MB); returns its file token.
    pub async fn upload_file(&self, name: &str, bytes: Bytes) -> Result<String, SyncError> {
        self.tokens
            .call(|t| {
                let bytes = bytes.clone();
                async move { self.client.upload_file(&t, name, bytes).await }
            })
            .await
    }

    /// A user's profile.
    pub async fn user_detail(&self, user_id: &str) -> Result<UserProfile, SyncError> {
        self.tokens
            .call(|t| async move { self.client.user_detail(&t, user_id).await })
            .await
    }

    /// Puts a user in an OA tag (created when missing).
    pub async fn tag_user(&self, user_id: &str, tag: &str) -> Result<(), SyncError> {
        self.tokens
            .call(|t| async move { self.client.tag_user(&t, user_id, tag).await })
            .await
    }

    /// Takes a user out of an OA tag.
    pub async fn untag_user(&self, user_id: &str, tag: &str) -> Result<(), SyncError> {
        self.tokens
            .call(|t| async move { self.client.untag_user(&t, user_id, tag).await })
            .await
    }

    /// Recent messages across conversations, newest first.
    pub async fn recent_chats(
        &self,
        offset: u32,
        count: u32,
    ) -> Result<Vec<HistoryMessage>, SyncError> {
        self.tokens
            .call(|t| async move { self.client.recent_chats(&t, offset, count).await })
            .await
    }

    /// Messages of one conversation, newest first.
    pub async fn conversation(
        &self,
        user_id: &str,
        offset: u32,
        count: u32,
    ) -> Result<Vec<HistoryMessage>, SyncError> {
        self.tokens
            .call(|t| async move { self.client.conversation(&t, user_id, offset, count).await })
            .await
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use futures::FutureExt as _;

    use super::*;

    const POLICY: TokenPolicy = TokenPolicy {
        refresh_ahead: Duration::from_secs(600),
        reauth_after: Duration::from_secs(3600),
        retry_base: Duration::from_millis(100),
        retry_max: Duration::from_millis(2000),
    };

    /// A token manager over `store`, as one process has it (its client is never called here).
    async fn manager(store: &Store) -> TokenManager {
        let client = ZaloClient::new(zfsync_zalo::ClientConfig::new(
            "1234",
            SecretString::from("app-secret"),
        ))
        .unwrap();
        TokenManager::new(store.clone(), client, POLICY)
            .await
            .unwrap()
    }

    fn pair(n: u32) -> TokenPair {
        TokenPair {
            access_token: SecretString::from(format!("access-{n}")),
            refresh_token: SecretString::from(format!("refresh-{n}")),
            expires_in: Duration::from_secs(25 * 3600),
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_new_pair_wakes_the_waiting_even_when_the_refusal_was_never_seen() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path().join("t.db")).unwrap();
        let daemon = manager(&store).await;
        daemon.store_pair(&pair(1), Some("1".into())).await.unwrap();
        assert!(daemon.follow_store().await.unwrap(), "first look, usable");
        assert!(!daemon.follow_store().await.unwrap(), "nothing changed");

        // Zalo refuses the refresh token; a reconnect from another process (`zfsync connect zalo`)
        // stores a new pair before the daemon looks again.
        store.set_needs_reauth(1, "-14014".into()).await.unwrap();
        let before = daemon.generation();
        manager(&store)
            .await
            .store_pair(&pair(2), Some("1".into()))
            .await
            .unwrap();
        assert!(
            daemon.follow_store().await.unwrap(),
            "a new pair after an unseen refusal wakes what waited"
        );
        assert!(daemon.replaced_since(before));
        assert!(!daemon.follow_store().await.unwrap(), "once");

        // Seen unusable, then a new pair: wakes too.
        store.set_needs_reauth(2, "-14014".into()).await.unwrap();
        assert!(!daemon.follow_store().await.unwrap(), "unusable");
        let before = daemon.generation();
        assert!(!daemon.replaced_since(before), "same pair, still unusable");
        manager(&store)
            .await
            .store_pair(&pair(3), Some("1".into()))
            .await
            .unwrap();
        assert!(!daemon.replaced_since(before), "not known here yet");
        assert!(daemon.follow_store().await.unwrap());
        assert!(daemon.replaced_since(before));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_pair_stored_in_this_process_is_told_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path().join("t.db")).unwrap();
        let tm = manager(&store).await;
        assert!(
            tm.pair_stored().now_or_never().is_none(),
            "nothing stored yet"
        );
        tm.store_pair(&pair(1), None).await.unwrap();
        // Told even though nobody waited when it was stored.
        assert!(tm.pair_stored().now_or_never().is_some());
        assert!(tm.pair_stored().now_or_never().is_none(), "told once");
        // A pair stored by another process is not told here (the daemon reads the store for it).
        manager(&store)
            .await
            .store_pair(&pair(2), None)
            .await
            .unwrap();
        assert!(tm.pair_stored().now_or_never().is_none());
        assert_eq!(tm.generation(), Some(1));
        tm.reload_status().await.unwrap();
        assert_eq!(tm.generation(), Some(2), "the store counts every pair");
    }
}
