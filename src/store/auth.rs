//! Authorization state: the Zalo token pair (a refresh writes the new pair in the transaction that
//! retires the old one) and the pending OAuth attempts (state, PKCE verifier, expiry). An attempt is
//! found without being used up, and deleted only once its connection succeeded, so a callback that
//! fails (a junk code, another OA) leaves the operator's attempt pending. The tokens and verifiers
//! are sealed with the store key ([`super::crypto`]).

use super::db::{params, Row};

use super::{now_ms, Store, StoreError};

/// Associated data of the sealed columns.
pub(super) const COL_ACCESS: &str = "tokens.access_token";
pub(super) const COL_REFRESH: &str = "tokens.refresh_token";
pub(super) const COL_VERIFIER: &str = "oauth_attempts.verifier";

/// The stored Zalo token pair.
#[derive(Clone)]
pub struct StoredTokens {
    /// The OA the pair belongs to.
    pub oa_id: Option<String>,
    /// The access token.
    pub access_token: String,
    /// The single-use refresh token.
    pub refresh_token: String,
    /// When the access token expires (unix ms).
    pub access_expires_at: i64,
    /// When the refresh token expires (unix ms).
    pub refresh_expires_at: i64,
    /// When the pair was stored (unix ms).
    pub updated_at: i64,
    /// Why the pairing needs an OA admin to consent again, when it does.
    pub needs_reauth: Option<String>,
    /// The token endpoint has been refusing refreshes with an answer Zalo does not document.
    pub token_error: Option<TokenEndpointError>,
    /// How many pairs were stored before and including this one (counted by the store: ignored
    /// when saving). A new pair, by a refresh or a connect from any process, changes it.
    pub generation: i64,
}

/// A refusal of Zalo's token endpoint that the reference does not list, kept while it lasts.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TokenEndpointError {
    /// Zalo's `error` code, when the answer had one.
    pub code: Option<i64>,
    /// What Zalo answered (redacted by the connector).
    pub reason: String,
    /// The first refusal of this run (unix ms).
    pub since: i64,
}

impl std::fmt::Debug for StoredTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredTokens")
            .field("oa_id", &self.oa_id)
            .field("access_token", &"[redacted]")
            .field("refresh_token", &"[redacted]")
            .field("access_expires_at", &self.access_expires_at)
            .field("refresh_expires_at", &self.refresh_expires_at)
            .field("updated_at", &self.updated_at)
            .field("needs_reauth", &self.needs_reauth)
            .field("token_error", &self.token_error)
            .field("generation", &self.generation)
            .finish()
    }
}

/// Which pending OAuth attempt a callback completes.
#[derive(Debug, Clone)]
pub enum AttemptKey {
    /// The `state` Zalo echoed.
    State(String),
    /// The `code_challenge` Zalo echoed (when it gave no `state`).
    Challenge(String),
    /// Neither was echoed: the one attempt pending, if there is exactly one.
    OnlyOne,
}

/// A pending OAuth attempt, found by the callback.
pub struct OAuthAttempt {
    /// Its random `state` (the attempt's key).
    pub state: String,
    /// The PKCE challenge sent to Zalo's consent page (None for attempts older than the column).
    pub challenge: Option<String>,
    /// The PKCE verifier (a secret).
    pub verifier: String,
    /// The redirect URI the attempt was started with.
    pub redirect_uri: String,
    /// The OA the operator named when starting it.
    pub expected_oa: Option<String>,
}

impl std::fmt::Debug for OAuthAttempt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OAuthAttempt")
            .field("state", &self.state)
            .field("challenge", &self.challenge)
            .field("verifier", &"[redacted]")
            .field("redirect_uri", &self.redirect_uri)
            .field("expected_oa", &self.expected_oa)
            .finish()
    }
}

impl Store {
    /// The stored token pair.
    pub async fn tokens(&self) -> Result<Option<StoredTokens>, StoreError> {
        let key = self.key();
        let p = self.p();
        let row = self.read(move |c| {
            c.query_opt(
                "SELECT oa_id, access_token, refresh_token, access_expires_at, refresh_expires_at, updated_at, needs_reauth,
                        token_error, token_error_code, token_error_since, generation
                 FROM tokens WHERE pairing = ?1",
                params![p],
                |r| {
                let since: Option<i64> = r.get(9)?;
                let reason: Option<String> = r.get(7)?;
                Ok(StoredTokens {
                    oa_id: r.get(0)?,
                    access_token: r.get(1)?,
                    refresh_token: r.get(2)?,
                    access_expires_at: r.get(3)?,
                    refresh_expires_at: r.get(4)?,
                    updated_at: r.get(5)?,
                    needs_reauth: r.get(6)?,
                    token_error: match (since, reason) {
                        (Some(since), Some(reason)) => Some(TokenEndpointError {
                            code: r.get(8)?,
                            reason,
                            since,
                        }),
                        _ => None,
                    },
                    generation: r.get(10)?,
                })
            },
            )
        })
        .await?;
        row.map(|mut t| {
            t.access_token = key.open(COL_ACCESS, &t.access_token)?;
            t.refresh_token = key.open(COL_REFRESH, &t.refresh_token)?;
            Ok(t)
        })
        .transpose()
    }

    /// Replaces the token pair (the old refresh token is retired in the same transaction) and counts
    /// it in `generation`.
    pub async fn save_tokens(&self, t: StoredTokens) -> Result<(), StoreError> {
        let key = self.key();
        let access = key.seal(COL_ACCESS, &t.access_token)?;
        let refresh = key.seal(COL_REFRESH, &t.refresh_token)?;
        let p = self.p();
        self.write(move |c| {
            c.execute(
                "INSERT INTO tokens (pairing, oa_id, access_token, refresh_token, access_expires_at, refresh_expires_at, updated_at, needs_reauth, generation)
                 VALUES (?7, ?1, ?2, ?3, ?4, ?5, ?6, NULL, 1)
                 ON CONFLICT (pairing) DO UPDATE SET oa_id = COALESCE(excluded.oa_id, tokens.oa_id),
                   access_token = excluded.access_token, refresh_token = excluded.refresh_token,
                   access_expires_at = excluded.access_expires_at, refresh_expires_at = excluded.refresh_expires_at,
                   updated_at = excluded.updated_at, needs_reauth = NULL,
                   generation = tokens.generation + 1,
                   token_error = NULL, token_error_code = NULL, token_error_since = NULL",
                params![t.oa_id, access, refresh, t.access_expires_at, t.refresh_expires_at, t.updated_at, p],
            )?;
            Ok(())
        })
        .await
    }

    /// Marks the pairing as needing re-authorization, only while the stored pair is still the one
    /// Zalo rejected (`generation`; a pair another process stored meanwhile is left alone). One
    /// conditional statement, so a pair stored by another replica at the same moment is never
    /// marked.
    pub async fn set_needs_reauth(
        &self,
        generation: i64,
        reason: String,
    ) -> Result<(), StoreError> {
        let p = self.p();
        self.write(move |c| {
            c.execute(
                "UPDATE tokens SET needs_reauth = ?1,
                   token_error = NULL, token_error_code = NULL, token_error_since = NULL
                 WHERE pairing = ?2 AND generation = ?3",
                params![reason, p, generation],
            )?;
            Ok(())
        })
        .await
    }

    /// Records a refusal of the token endpoint that Zalo does not document, only while the stored
    /// pair is still the one refused (`generation`). The first refusal's time is kept across later
    /// ones (and across restarts) until a new pair is stored; returns the record as stored, `None`
    /// when the pair changed meanwhile. One conditional statement.
    pub async fn set_token_error(
        &self,
        generation: i64,
        code: Option<i64>,
        reason: String,
    ) -> Result<Option<TokenEndpointError>, StoreError> {
        let p = self.p();
        self.write(move |c| {
            let since: Option<i64> = c.query_opt(
                "UPDATE tokens SET token_error = ?1, token_error_code = ?2,
                   token_error_since = COALESCE(token_error_since, ?3)
                 WHERE pairing = ?4 AND generation = ?5
                 RETURNING token_error_since",
                params![reason, code, now_ms(), p, generation],
                |r| r.get(0),
            )?;
            Ok(since.map(|since| TokenEndpointError {
                code,
                reason,
                since,
            }))
        })
        .await
    }

    /// Records a started OAuth attempt, and drops expired ones and those a refused callback
    /// named (the operator starts again after a refusal: the retry must not meet "more than one
    /// attempt pending").
    pub async fn put_oauth_attempt(
        &self,
        state: String,
        verifier: String,
        challenge: String,
        redirect_uri: String,
        expected_oa: Option<String>,
        ttl_ms: i64,
    ) -> Result<(), StoreError> {
        let verifier = self.key().seal(COL_VERIFIER, &verifier)?;
        let p = self.p();
        self.write(move |c| {
            let now = now_ms();
            c.execute(
                "DELETE FROM oauth_attempts WHERE expires_at < ?1 OR refused_at IS NOT NULL",
                params![now],
            )?;
            c.execute(
                "INSERT INTO oauth_attempts (state, verifier, challenge, redirect_uri, created_at, expires_at, expected_oa, pairing)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![state, verifier, challenge, redirect_uri, now, now + ttl_ms, expected_oa, p],
            )?;
            Ok(())
        })
        .await
    }

    /// How many started OAuth attempts have not expired yet.
    pub async fn pending_oauth_attempts(&self) -> Result<i64, StoreError> {
        let p = self.p();
        self.read(move |c| {
            c.query_row(
                "SELECT COUNT(*) FROM oauth_attempts WHERE expires_at >= ?1 AND pairing = ?2",
                params![now_ms(), p],
                |r| r.get(0),
            )
        })
        .await
    }

    /// The pending attempt a callback completes, left in place (see
    /// [`Store::consume_oauth_attempt`]). `None` when no unexpired attempt matches, or, for
    /// [`AttemptKey::OnlyOne`], when there is not exactly one.
    pub async fn find_oauth_attempt(
        &self,
        key: AttemptKey,
    ) -> Result<Option<OAuthAttempt>, StoreError> {
        let sealing = self.key();
        let p = self.p();
        let row = self
            .read(move |c| {
                let now = now_ms();
                let select = "SELECT state, challenge, verifier, redirect_uri, expected_oa FROM oauth_attempts WHERE expires_at >= ?1 AND pairing = ?2";
                let read = |r: &Row<'_>| -> Result<OAuthAttempt, StoreError> {
                    Ok(OAuthAttempt {
                        state: r.get(0)?,
                        challenge: r.get(1)?,
                        verifier: r.get(2)?,
                        redirect_uri: r.get(3)?,
                        expected_oa: r.get(4)?,
                    })
                };
                Ok(match &key {
                    AttemptKey::State(s) => c.query_opt(&format!("{select} AND state = ?3"), params![now, p, s], read)?,
                    AttemptKey::Challenge(ch) => c.query_opt(&format!("{select} AND challenge = ?3"), params![now, p, ch], read)?,
                    AttemptKey::OnlyOne => {
                        let rows =
                            c.query_map(&format!("{select} LIMIT 2"), params![now, p], read)?;
                        match <[_; 1]>::try_from(rows) {
                            Ok([one]) => Some(one),
                            Err(_) => None,
                        }
                    }
                })
            })
            .await?;
        row.map(|mut a| {
            a.verifier = sealing.open(COL_VERIFIER, &a.verifier)?;
            Ok(a)
        })
        .transpose()
    }

    /// Notes that a callback for this attempt was refused; the attempt stays usable until the
    /// next one starts (see [`Store::put_oauth_attempt`]).
    pub async fn mark_oauth_attempt_refused(&self, state: String) -> Result<(), StoreError> {
        let p = self.p();
        self.write(move |c| {
            c.execute(
                "UPDATE oauth_attempts SET refused_at = ?1 WHERE state = ?2 AND pairing = ?3",
                params![now_ms(), state, p],
            )?;
            Ok(())
        })
        .await
    }

    /// Deletes an attempt once its connection succeeded (each attempt connects once). False when
    /// it was gone already.
    pub async fn consume_oauth_attempt(&self, state: String) -> Result<bool, StoreError> {
        let p = self.p();
        self.write(move |c| {
            Ok(c.execute(
                "DELETE FROM oauth_attempts WHERE state = ?1 AND pairing = ?2",
                params![state, p],
            )? > 0)
        })
        .await
    }

    /// Keeps a one-time start ticket (by its hash) for `ttl_ms`.
    pub async fn put_oauth_ticket(
        &self,
        ticket_hash: String,
        expected_oa: Option<String>,
        ttl_ms: i64,
    ) -> Result<(), StoreError> {
        let p = self.p();
        self.write(move |c| {
            let now = now_ms();
            c.execute(
                "DELETE FROM oauth_tickets WHERE expires_at < ?1",
                params![now],
            )?;
            c.execute(
                "INSERT INTO oauth_tickets (ticket_hash, expected_oa, expires_at, pairing) VALUES (?1, ?2, ?3, ?4)",
                params![ticket_hash, expected_oa, now + ttl_ms, p],
            )?;
            Ok(())
        })
        .await
    }

    /// Takes (and deletes) an unexpired ticket: `Some(expected_oa)` when it was valid. One
    /// statement: of two replicas taking the same ticket, only one gets it.
    pub async fn take_oauth_ticket(
        &self,
        ticket_hash: String,
    ) -> Result<Option<Option<String>>, StoreError> {
        let p = self.p();
        self.write(move |c| {
            let taken: Option<(Option<String>, i64, String)> = c.query_opt(
                "DELETE FROM oauth_tickets WHERE ticket_hash = ?1
                 RETURNING expected_oa, expires_at, pairing",
                params![ticket_hash],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )?;
            Ok(taken
                .filter(|(_, expires_at, pairing)| *expires_at >= now_ms() && *pairing == p)
                .map(|(expected_oa, _, _)| expected_oa))
        })
        .await
    }
}
