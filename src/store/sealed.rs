//! Every value the store keeps sealed ([`super::crypto`]), in one place: the Zalo token pair, the
//! PKCE verifiers of pending OAuth attempts and the secret `meta` facts (the generated admin token).
//! At open the store asks whether any sealed value exists (then a missing key file is an error, never
//! a new key) and seals the values written before encryption existed. When the key is lost,
//! `zfsync store forget-secrets` discards the values that no longer open ([`forget_unreadable`]):
//! the token pair becomes "needs re-authorization" (its OA kept, so a reconnect must be for the same
//! OA), pending attempts and a generated admin token are deleted.
//!
//! Failure: a query failing is returned as is; nothing is decrypted wrongly.

use super::db::{params, Db};

use super::auth::{COL_ACCESS, COL_REFRESH, COL_VERIFIER};
use super::crypto::{is_sealed, StoreKey};
use super::{now_ms, StoreError};

/// The `meta` key of the admin token zfsync generated when none is configured.
pub const META_ADMIN_TOKEN: &str = "admin_token";

/// The `meta` facts kept sealed.
const SECRET_META: &[&str] = &[META_ADMIN_TOKEN];

/// Why the token pair needs a new consent after `forget-secrets`.
const FORGOTTEN_REASON: &str = "the store key was lost and the sealed Zalo tokens were discarded ('zfsync store forget-secrets'); connect the OA again with 'zfsync connect zalo'";

/// The associated data of a sealed `meta` fact.
pub(crate) fn meta_column(key: &str) -> String {
    format!("meta.{key}")
}

/// Whether the store holds any sealed value.
pub(crate) fn holds_sealed(c: &Db<'_>) -> Result<bool, StoreError> {
    let pattern = "enc1:%";
    c.query_row(
        "SELECT EXISTS (SELECT 1 FROM tokens WHERE access_token LIKE ?1 OR refresh_token LIKE ?1)
             OR EXISTS (SELECT 1 FROM oauth_attempts WHERE verifier LIKE ?1)
             OR EXISTS (SELECT 1 FROM meta WHERE value LIKE ?1)
             OR EXISTS (SELECT 1 FROM pairing_registry WHERE secrets LIKE ?1)",
        params![pattern],
        |r| r.get(0),
    )
}

/// Seals the secret values still stored in plain text (written before encryption existed).
/// Returns how many were sealed.
pub(crate) fn seal_plain_values(c: &Db<'_>, key: &StoreKey) -> Result<usize, StoreError> {
    let mut n = 0;
    let tokens: Vec<(String, String, String)> = c.query_map(
        "SELECT pairing, access_token, refresh_token FROM tokens",
        params![],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )?;
    for (pairing, access, refresh) in tokens {
        for (column, value) in [(COL_ACCESS, access), (COL_REFRESH, refresh)] {
            if needs_sealing(&value) {
                let field = column.trim_start_matches("tokens.");
                c.execute(
                    &format!("UPDATE tokens SET {field} = ?1 WHERE pairing = ?2"),
                    params![key.seal(column, &value)?, pairing],
                )?;
                n += 1;
            }
        }
    }
    let attempts: Vec<(String, String)> = c.query_map(
        "SELECT state, verifier FROM oauth_attempts",
        params![],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    for (state, verifier) in attempts {
        if needs_sealing(&verifier) {
            c.execute(
                "UPDATE oauth_attempts SET verifier = ?1 WHERE state = ?2",
                params![key.seal(COL_VERIFIER, &verifier)?, state],
            )?;
            n += 1;
        }
    }
    for meta in SECRET_META {
        let values: Vec<(String, String)> = c.query_map(
            "SELECT pairing, value FROM meta WHERE key = ?1",
            params![meta],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        for (pairing, v) in values {
            if needs_sealing(&v) {
                c.execute(
                    "UPDATE meta SET value = ?1 WHERE key = ?2 AND pairing = ?3",
                    params![key.seal(&meta_column(meta), &v)?, meta, pairing],
                )?;
                n += 1;
            }
        }
    }
    Ok(n)
}

/// A plain value that is not empty (an empty one holds nothing to protect: the tokens
/// `forget-secrets` discarded).
fn needs_sealing(value: &str) -> bool {
    !value.is_empty() && !is_sealed(value)
}

/// What [`forget_unreadable`] found (and discarded, when asked to).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Unreadable {
    /// The Zalo token pair does not open.
    pub tokens: bool,
    /// Pending OAuth attempts whose verifier does not open.
    pub attempts: usize,
    /// Secret `meta` facts that do not open (their keys).
    pub meta: Vec<String>,
    /// Registered pairings whose secrets do not open (their names).
    pub pairings: Vec<String>,
}

impl Unreadable {
    /// Whether nothing was found.
    pub fn is_empty(&self) -> bool {
        !self.tokens && self.attempts == 0 && self.meta.is_empty() && self.pairings.is_empty()
    }
}

/// Finds the sealed values that do not open with `key` (all of them when there is no key) and,
/// with `discard`, removes them: the token pair is blanked and marked as needing a new consent (its
/// OA is kept), attempts and `meta` facts are deleted.
pub(crate) fn forget_unreadable(
    c: &Db<'_>,
    key: Option<&StoreKey>,
    discard: bool,
) -> Result<Unreadable, StoreError> {
    let opens = |column: &str, value: &str| -> bool {
        !is_sealed(value) || key.is_some_and(|k| k.open(column, value).is_ok())
    };
    let mut found = Unreadable::default();
    let tokens: Vec<(String, String, String)> = c.query_map(
        "SELECT pairing, access_token, refresh_token FROM tokens",
        params![],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )?;
    for (pairing, access, refresh) in tokens {
        let unreadable = !opens(COL_ACCESS, &access) || !opens(COL_REFRESH, &refresh);
        found.tokens |= unreadable;
        if unreadable && discard {
            c.execute(
                "UPDATE tokens SET access_token = '', refresh_token = '', access_expires_at = 0,
                   refresh_expires_at = 0, updated_at = ?1, needs_reauth = ?2 WHERE pairing = ?3",
                params![now_ms(), FORGOTTEN_REASON, pairing],
            )?;
        }
    }
    let attempts: Vec<(String, String)> = c.query_map(
        "SELECT state, verifier FROM oauth_attempts",
        params![],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    for (state, verifier) in attempts {
        if !opens(COL_VERIFIER, &verifier) {
            found.attempts += 1;
            if discard {
                c.execute(
                    "DELETE FROM oauth_attempts WHERE state = ?1",
                    params![state],
                )?;
            }
        }
    }
    let metas: Vec<(String, String, String)> =
        c.query_map("SELECT pairing, key, value FROM meta", params![], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })?;
    for (pairing, k, value) in metas {
        if !opens(&meta_column(&k), &value) {
            if discard {
                c.execute(
                    "DELETE FROM meta WHERE key = ?1 AND pairing = ?2",
                    params![&k, &pairing],
                )?;
            }
            found.meta.push(k);
        }
    }
    let registered: Vec<(String, String)> = c.query_map(
        "SELECT name, secrets FROM pairing_registry",
        params![],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    for (name, secrets) in registered {
        if !opens(&super::registry::secrets_column(&name), &secrets) {
            if discard {
                c.execute(
                    "DELETE FROM pairing_registry WHERE name = ?1",
                    params![&name],
                )?;
            }
            found.pairings.push(name);
        }
    }
    Ok(found)
}
