//! The pairings this deployment serves besides `default` (whose settings are the configuration
//! file's): their settings as JSON (the caller's type), their secrets sealed with the store key,
//! bound to the pairing's name so a sealed value cannot be moved to another pairing's row.
//!
//! Failure: store errors; a sealed value that does not open (another store key) is
//! [`StoreError`]'s sealing error, naming the column.

use super::db::params;

use super::{now_ms, Store, StoreError};

/// One registered pairing, as stored.
#[derive(Clone, PartialEq, Eq)]
pub struct RegisteredPairing {
    /// Its name (letters, digits, `-`, `_`; never `default`).
    pub name: String,
    /// Served by the daemon (false: kept, but its routes answer 404 and nothing runs).
    pub enabled: bool,
    /// Its settings (JSON, the caller's shape).
    pub settings: String,
    /// Its secrets (JSON, the caller's shape), opened.
    pub secrets: String,
}

impl std::fmt::Debug for RegisteredPairing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegisteredPairing")
            .field("name", &self.name)
            .field("enabled", &self.enabled)
            .field("settings", &self.settings)
            .field("secrets", &"[redacted]")
            .finish()
    }
}

/// The sealing column of a pairing's secrets: bound to its name.
pub(super) fn secrets_column(name: &str) -> String {
    format!("pairing_registry.secrets:{name}")
}

impl Store {
    /// Adds a pairing, or replaces its settings and secrets (keeping whether it is enabled).
    pub async fn register_pairing(
        &self,
        name: String,
        settings: String,
        secrets: String,
    ) -> Result<(), StoreError> {
        let sealed = self.key().seal(&secrets_column(&name), &secrets)?;
        self.write(move |c| {
            let now = now_ms();
            c.execute(
                "INSERT INTO pairing_registry (name, enabled, settings, secrets, created_at, updated_at)
                 VALUES (?1, 1, ?2, ?3, ?4, ?4)
                 ON CONFLICT (name) DO UPDATE SET settings = excluded.settings,
                   secrets = excluded.secrets, updated_at = excluded.updated_at",
                params![name, settings, sealed, now],
            )?;
            Ok(())
        })
        .await
    }

    /// Every registered pairing, by name.
    pub async fn registered_pairings(&self) -> Result<Vec<RegisteredPairing>, StoreError> {
        let key = self.key();
        let rows: Vec<(String, bool, String, String)> = self
            .read(|c| {
                c.query_map(
                    "SELECT name, enabled, settings, secrets FROM pairing_registry ORDER BY name",
                    params![],
                    |r| Ok((r.get(0)?, r.get::<i64>(1)? != 0, r.get(2)?, r.get(3)?)),
                )
            })
            .await?;
        rows.into_iter()
            .map(|(name, enabled, settings, sealed)| {
                let secrets = key.open(&secrets_column(&name), &sealed)?;
                Ok(RegisteredPairing {
                    name,
                    enabled,
                    settings,
                    secrets,
                })
            })
            .collect()
    }

    /// Enables or disables a registered pairing; false when there is none of that name.
    pub async fn set_pairing_enabled(
        &self,
        name: String,
        enabled: bool,
    ) -> Result<bool, StoreError> {
        self.write(move |c| {
            Ok(c.execute(
                "UPDATE pairing_registry SET enabled = ?2, updated_at = ?3 WHERE name = ?1",
                params![name, enabled as i64, now_ms()],
            )? == 1)
        })
        .await
    }

    /// Forgets a registered pairing (its conversations and pairings of ids stay in the store, so
    /// adding it again resumes them); false when there was none of that name.
    pub async fn unregister_pairing(&self, name: String) -> Result<bool, StoreError> {
        self.write(move |c| {
            Ok(c.execute(
                "DELETE FROM pairing_registry WHERE name = ?1",
                params![name],
            )? == 1)
        })
        .await
    }

    /// Whether a pairing of that name is registered.
    pub async fn is_registered_pairing(&self, name: String) -> Result<bool, StoreError> {
        self.read(move |c| {
            Ok(c.query_opt(
                "SELECT 1 FROM pairing_registry WHERE name = ?1",
                params![name],
                |_| Ok(()),
            )?
            .is_some())
        })
        .await
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use crate::store::db::params;
    use crate::store::testing::on_both_backends;
    use crate::store::Store;

    on_both_backends!(pairings_are_registered_sealed_and_forgotten);

    /// Registered pairings keep their settings, open their secrets, can be disabled and
    /// forgotten; the secrets are sealed in the file and never in `Debug`.
    async fn pairings_are_registered_sealed_and_forgotten(store: Store) {
        store
            .register_pairing("shop-b".into(), r#"{"a":1}"#.into(), "top-secret".into())
            .await
            .unwrap();
        let all = store.registered_pairings().await.unwrap();
        assert_eq!(all.len(), 1);
        assert_eq!(
            (all[0].enabled, all[0].secrets.as_str()),
            (true, "top-secret")
        );
        assert!(!format!("{:?}", all[0]).contains("top-secret"));
        let raw: String = store
            .read(|c| {
                c.query_row("SELECT secrets FROM pairing_registry", params![], |r| {
                    r.get(0)
                })
            })
            .await
            .unwrap();
        assert!(!raw.contains("top-secret"), "{raw}");
        assert!(store
            .set_pairing_enabled("shop-b".into(), false)
            .await
            .unwrap());
        assert!(!store.registered_pairings().await.unwrap()[0].enabled);
        assert!(!store
            .set_pairing_enabled("nobody".into(), false)
            .await
            .unwrap());
        assert!(store
            .register_pairing("default".into(), "{}".into(), "x".into())
            .await
            .is_err());
        assert!(store.unregister_pairing("shop-b".into()).await.unwrap());
        assert!(store.registered_pairings().await.unwrap().is_empty());
    }
}
