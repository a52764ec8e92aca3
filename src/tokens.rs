//! Zalo OAuth tokens: loaded from the store, refreshed ahead of expiry and on -216/-220/-124, one
//! refresh at a time (single flight), the new pair committed to the store BEFORE it is used (Zalo
//! refresh tokens are single-use: a pair lost after a refresh would need an OA admin to consent
//! again). A refresh that Zalo rejects puts the pairing in a visible "needs re-authorization" state
//! instead of retrying in a loop.
//!
//! [`ZaloSession`] is how the rest of the daemon talks to Zalo: one method per call, each with a
//! valid token, refreshed and retried once when Zalo refuses it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use bytes::Bytes;
use secrecy::{ExposeSecret, SecretString};
use zfsync_zalo::{
    HistoryMessage, OutboundMessage, SentMessage, TokenPair, UserProfile, ZaloClient, ZaloError,
};

use crate::error::SyncError;
use crate::store::{now_ms, Store, StoredTokens};

/// Zalo refresh tokens live 3 months.
const REFRESH_TTL_MS: i64 = 90 * 24 * 3600 * 1000;

#[derive(Clone)]
struct Cached {
    access: SecretString,
    refresh: SecretString,
    access_expires_at: i64,
    needs_reauth: Option<String>,
    oa_id: Option<String>,
    updated_at: i64,
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
}

/// The Zalo token pair: cached in memory, refreshed once at a time, persisted before use.
pub struct TokenManager {
    store: Store,
    client: ZaloClient,
    cache: RwLock<Option<Cached>>,
    refresh_lock: tokio::sync::Mutex<()>,
    refresh_ahead: Duration,
    /// Whether [`TokenManager::follow_store`] last saw a usable pair.
    usable_seen: AtomicBool,
}

impl std::fmt::Debug for TokenManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenManager")
            .field("status", &self.status())
            .finish()
    }
}

impl TokenManager {
    /// Loads the stored pair; `refresh_ahead` is how early the access token is refreshed.
    pub async fn new(
        store: Store,
        client: ZaloClient,
        refresh_ahead: Duration,
    ) -> Result<TokenManager, SyncError> {
        let tm = TokenManager {
            store,
            client,
            cache: RwLock::new(None),
            refresh_lock: tokio::sync::Mutex::new(()),
            refresh_ahead,
            usable_seen: AtomicBool::new(false),
        };
        let now = tm.reload().await?;
        tm.usable_seen.store(
            now.is_some_and(|c| c.needs_reauth.is_none()),
            Ordering::Relaxed,
        );
        Ok(tm)
    }

    async fn reload(&self) -> Result<Option<Cached>, SyncError> {
        let stored = self.store.tokens().await?;
        let cached = stored.map(|t| Cached {
            access: SecretString::from(t.access_token),
            refresh: SecretString::from(t.refresh_token),
            access_expires_at: t.access_expires_at,
            needs_reauth: t.needs_reauth,
            oa_id: t.oa_id,
            updated_at: t.updated_at,
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
    /// by another process) or a refresh changed it. True when a new, usable pair arrived: what
    /// waited for a reconnect can go now.
    pub async fn follow_store(&self) -> Result<bool, SyncError> {
        let before = self.cached();
        let stored = self.store.tokens().await?;
        let changed = match (&before, &stored) {
            (Some(b), Some(s)) => b.updated_at != s.updated_at || b.needs_reauth != s.needs_reauth,
            (None, None) => false,
            _ => true,
        };
        let now = if changed {
            self.reload().await?
        } else {
            before
        };
        // Compared with what this function last saw, so a reconnect made in this process (whose
        // cache is already fresh) counts too.
        let usable = now.as_ref().is_some_and(|c| c.needs_reauth.is_none());
        let reconnected = usable && !self.usable_seen.swap(usable, Ordering::Relaxed);
        if reconnected {
            tracing::info!("Zalo is connected again; messages that waited for it go now");
        }
        Ok(reconnected)
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
            },
            None => TokenStatus {
                connected: false,
                oa_id: None,
                access_expires_at: None,
                seconds_to_expiry: None,
                needs_reauth: None,
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
            })
            .await?;
        self.reload().await?;
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
        let current = self.reload().await?.ok_or(SyncError::NotConnected)?;
        if let Some(reason) = current.needs_reauth {
            return Err(SyncError::NeedsReauth(reason));
        }
        if let Some(stale) = stale {
            if stale.expose_secret() != current.access.expose_secret() {
                return Ok(current.access);
            }
        }
        match self.client.refresh_token(&current.refresh).await {
            Ok(pair) => {
                // Commit the new pair before anything uses it.
                self.store_pair(&pair, current.oa_id.clone()).await?;
                tracing::info!(
                    expires_in_secs = pair.expires_in.as_secs(),
                    "zalo access token refreshed"
                );
                metrics::counter!("zfsync_token_refreshes_total", "result" => "ok").increment(1);
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
                tracing::error!(error = %reason, "Zalo rejected the refresh token; Zalo needs re-authorization: run 'zfsync connect zalo'");
                metrics::counter!("zfsync_token_refreshes_total", "result" => "rejected")
                    .increment(1);
                self.store
                    .set_needs_reauth(current.refresh.expose_secret().to_string(), reason.clone())
                    .await?;
                self.reload().await?;
                Err(SyncError::NeedsReauth(reason))
            }
            Err(e) => {
                metrics::counter!("zfsync_token_refreshes_total", "result" => "error").increment(1);
                Err(SyncError::Zalo(e))
            }
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
        if c.access_expires_at - now_ms() <= self.refresh_ahead.as_millis() as i64 {
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
}

impl ZaloSession {
    /// A session over a client and the token manager.
    pub fn new(client: ZaloClient, tokens: Arc<TokenManager>) -> ZaloSession {
        ZaloSession { client, tokens }
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
