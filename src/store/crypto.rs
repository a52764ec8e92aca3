//! Secrets at rest. The Zalo tokens, the PKCE verifiers of pending OAuth attempts and the generated
//! admin token are sealed with AES-256-GCM-SIV (an AEAD that stays safe even if a random nonce ever
//! repeated) under the store key, so a copied store file or a backup leaks nothing without the key.
//! Each value is bound to its column (the AEAD's associated data), so sealed values cannot be moved
//! between columns. A stored value is `enc1:` + base64(nonce ‖ ciphertext ‖ tag).
//!
//! The key: `ZFSYNC_STORE_KEY` (or the secrets file), else a systemd credential `zfsync-store-key`,
//! else the key file (the store path with `.key` added, or `store.key_file`), created with mode 0600
//! when missing, but only while the store holds no sealed value: a new key could not open them.
//! Failure: a key that is not 32 bytes, a key file others may read, a key file missing beside sealed
//! values, or a value that does not open under the key are errors that say what to do; nothing is
//! ever decrypted wrongly.

use std::path::{Path, PathBuf};

use aws_lc_rs::aead::{Aad, Nonce, RandomizedNonceKey, AES_256_GCM_SIV, NONCE_LEN};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use secrecy::{ExposeSecret, SecretString};

use super::StoreError;

/// The prefix of sealed values (values without it are read as written before encryption existed).
const SEALED: &str = "enc1:";
/// The systemd credential holding the key (`LoadCredential=zfsync-store-key:/path`).
pub const CREDENTIAL_NAME: &str = "zfsync-store-key";
const KEY_LEN: usize = 32;

/// The key that seals secrets in the store.
pub struct StoreKey {
    key: RandomizedNonceKey,
}

impl std::fmt::Debug for StoreKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StoreKey([redacted])")
    }
}

/// Why the store key cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The key given is not 32 bytes of base64.
    #[error("the store key from {from} is not 32 random bytes in base64; make one with 'openssl rand -base64 32'")]
    BadKey {
        /// Where it came from.
        from: String,
    },
    /// The key file cannot be read or written.
    #[error("cannot use the store key file {path}: {detail}")]
    File {
        /// The file.
        path: PathBuf,
        /// Why.
        detail: String,
    },
    /// The key file may be read by others.
    #[error("the store key file {path} is readable by other users (mode {mode:o}); run 'chmod 600 {path}'", path = .path.display())]
    Exposed {
        /// The file.
        path: PathBuf,
        /// Its mode.
        mode: u32,
    },
    /// The key file is missing while the store holds values sealed with a key.
    #[error("the store holds secrets sealed with a store key, but the key file {path} is missing and neither ZFSYNC_STORE_KEY nor the systemd credential {cred} is set; zfsync makes no new key, which could not open them. Put the key file back (or set ZFSYNC_STORE_KEY); if the key is lost, run '{forget}' to discard the sealed values (the Zalo tokens, pending consents, a generated admin token), then 'zfsync connect zalo'", path = .path.display(), cred = CREDENTIAL_NAME, forget = FORGET_SECRETS)]
    Lost {
        /// The key file expected.
        path: PathBuf,
    },
    /// The system's random number generator failed.
    #[error("the system's random number generator failed")]
    Randomness,
}

/// The command that discards sealed values whose key is lost.
pub const FORGET_SECRETS: &str = "zfsync store forget-secrets --config <file> --yes";

impl StoreKey {
    /// A key from 32 bytes.
    pub fn from_bytes(bytes: &[u8]) -> Option<StoreKey> {
        (bytes.len() == KEY_LEN)
            .then(|| RandomizedNonceKey::new(&AES_256_GCM_SIV, bytes).ok())
            .flatten()
            .map(|key| StoreKey { key })
    }

    /// A key from its base64 text (standard or URL-safe, padded or not).
    pub fn from_base64(text: &str, from: &str) -> Result<StoreKey, KeyError> {
        let t = text.trim();
        let bytes = STANDARD
            .decode(t)
            .or_else(|_| URL_SAFE_NO_PAD.decode(t.trim_end_matches('=')))
            .map_err(|_| KeyError::BadKey { from: from.into() })?;
        StoreKey::from_bytes(&bytes).ok_or(KeyError::BadKey { from: from.into() })
    }

    /// A new random key, as base64 text (what `zfsync init` writes).
    pub fn generate_base64() -> Result<String, KeyError> {
        let mut raw = [0u8; KEY_LEN];
        aws_lc_rs::rand::fill(&mut raw).map_err(|_| KeyError::Randomness)?;
        Ok(STANDARD.encode(raw))
    }

    /// The key for a store: `given` (ZFSYNC_STORE_KEY or the secrets file), else the systemd
    /// credential, else `key_file`; a missing `key_file` is created (0600) with a new key when
    /// `create`, else it is [`KeyError::Lost`].
    pub fn resolve(
        given: Option<&SecretString>,
        key_file: &Path,
        create: bool,
    ) -> Result<StoreKey, KeyError> {
        if let Some(k) = given {
            return StoreKey::from_base64(k.expose_secret(), "ZFSYNC_STORE_KEY");
        }
        if let Some(dir) = std::env::var_os("CREDENTIALS_DIRECTORY") {
            let path = PathBuf::from(dir).join(CREDENTIAL_NAME);
            if let Ok(bytes) = std::fs::read(&path) {
                let from = format!("the systemd credential {CREDENTIAL_NAME}");
                return StoreKey::from_bytes(&bytes).map_or_else(
                    || StoreKey::from_base64(&String::from_utf8_lossy(&bytes), &from),
                    Ok,
                );
            }
        }
        StoreKey::from_file(key_file, create)
    }

    fn from_file(path: &Path, create: bool) -> Result<StoreKey, KeyError> {
        let file_err = |detail: String| KeyError::File {
            path: path.to_path_buf(),
            detail,
        };
        match std::fs::read_to_string(path) {
            Ok(text) => {
                check_private(path)?;
                StoreKey::from_base64(&text, &path.display().to_string())
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !create => Err(KeyError::Lost {
                path: path.to_path_buf(),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let text = StoreKey::generate_base64()?;
                match write_private(path, &format!("{text}\n")) {
                    Ok(()) => {
                        tracing::info!(path = %path.display(), "created the store key file; keep it apart from backups of the store");
                        StoreKey::from_base64(&text, &path.display().to_string())
                    }
                    // Another zfsync process made it first: use theirs.
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                        StoreKey::from_file(path, false)
                    }
                    Err(e) => Err(file_err(e.to_string())),
                }
            }
            Err(e) => Err(file_err(e.to_string())),
        }
    }

    /// Seals a value for `column`.
    pub fn seal(&self, column: &str, plain: &str) -> Result<String, StoreError> {
        let mut in_out = plain.as_bytes().to_vec();
        let nonce = self
            .key
            .seal_in_place_append_tag(Aad::from(column.as_bytes()), &mut in_out)
            .map_err(|_| StoreError::Seal)?;
        let mut out = nonce.as_ref().to_vec();
        out.extend_from_slice(&in_out);
        Ok(format!("{SEALED}{}", STANDARD.encode(out)))
    }

    /// Opens a value of `column` (a value written before encryption is returned as it is).
    pub fn open(&self, column: &str, stored: &str) -> Result<String, StoreError> {
        let Some(b64) = stored.strip_prefix(SEALED) else {
            return Ok(stored.to_string());
        };
        let raw = STANDARD
            .decode(b64)
            .map_err(|_| StoreError::Unseal(column.to_string()))?;
        if raw.len() < NONCE_LEN {
            return Err(StoreError::Unseal(column.to_string()));
        }
        let (nonce, rest) = raw.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce)
            .map_err(|_| StoreError::Unseal(column.to_string()))?;
        let mut in_out = rest.to_vec();
        let plain = self
            .key
            .open_in_place(nonce, Aad::from(column.as_bytes()), &mut in_out)
            .map_err(|_| StoreError::Unseal(column.to_string()))?;
        String::from_utf8(plain.to_vec()).map_err(|_| StoreError::Unseal(column.to_string()))
    }
}

/// Whether a stored value is sealed.
pub fn is_sealed(stored: &str) -> bool {
    stored.starts_with(SEALED)
}

/// Refuses a secret file that others may read.
fn check_private(path: &Path) -> Result<(), KeyError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(path)
            .map_err(|e| KeyError::File {
                path: path.to_path_buf(),
                detail: e.to_string(),
            })?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            return Err(KeyError::Exposed {
                path: path.to_path_buf(),
                mode: mode & 0o777,
            });
        }
    }
    let _ = path;
    Ok(())
}

/// Writes a file only its owner may read (created 0600; never more open).
pub fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        opts.mode(0o600);
    }
    let mut f = opts.open(path)?;
    f.write_all(text.as_bytes())?;
    f.sync_all()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn key() -> StoreKey {
        StoreKey::from_base64(&StoreKey::generate_base64().unwrap(), "test").unwrap()
    }

    #[test]
    fn values_round_trip_and_are_bound_to_their_column() {
        let k = key();
        let sealed = k.seal("tokens.refresh_token", "rt-secret").unwrap();
        assert!(is_sealed(&sealed) && !sealed.contains("rt-secret"));
        assert_ne!(sealed, k.seal("tokens.refresh_token", "rt-secret").unwrap());
        assert_eq!(
            k.open("tokens.refresh_token", &sealed).unwrap(),
            "rt-secret"
        );
        assert!(k.open("tokens.access_token", &sealed).is_err());
        assert!(
            key().open("tokens.refresh_token", &sealed).is_err(),
            "another key"
        );
        // Written before encryption: read as is.
        assert_eq!(k.open("tokens.refresh_token", "plain").unwrap(), "plain");
    }

    #[cfg(unix)]
    #[test]
    fn the_key_file_is_created_private_and_reused() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("z.db.key");
        let k1 = StoreKey::resolve(None, &path, true).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let k2 = StoreKey::resolve(None, &path, true).unwrap();
        let sealed = k1.seal("c", "v").unwrap();
        assert_eq!(k2.open("c", &sealed).unwrap(), "v");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(matches!(
            StoreKey::resolve(None, &path, true),
            Err(KeyError::Exposed { .. })
        ));
        // Never made again while the store holds sealed values.
        std::fs::remove_file(&path).unwrap();
        assert!(matches!(
            StoreKey::resolve(None, &path, false),
            Err(KeyError::Lost { .. })
        ));
        assert!(!path.exists());
        let given = SecretString::from("not a key");
        assert!(matches!(
            StoreKey::resolve(Some(&given), &path, true),
            Err(KeyError::BadKey { .. })
        ));
    }
}
