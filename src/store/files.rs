//! Files zfsync hosts itself (long replies and attachments Zalo cannot take), served at
//! `/files/{token}` until they expire; small key/value facts (`meta`); and retention.

use super::db::params;

use super::model::EventState;
use super::{now_ms, Store, StoreError};

/// How long a conversation found not to belong to a Zalo user is remembered.
const UNLINKED_KEEP_MS: i64 = 24 * 3600 * 1000;

/// A hosted file.
#[derive(Clone)]
pub struct HostedFile {
    /// The Zalo user it was sent to (its data is deleted with theirs).
    pub zalo_user_id: Option<String>,
    /// The name the customer's browser saves it under.
    pub filename: String,
    /// Its MIME type.
    pub content_type: String,
    /// Its bytes.
    pub body: Vec<u8>,
}

impl std::fmt::Debug for HostedFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HostedFile")
            .field("zalo_user_id", &self.zalo_user_id)
            .field("filename", &self.filename)
            .field("content_type", &self.content_type)
            .field("bytes", &self.body.len())
            .finish()
    }
}

impl Store {
    /// Stores a file under an unguessable token for `ttl_ms`.
    pub async fn put_hosted_file(
        &self,
        token: String,
        file: HostedFile,
        ttl_ms: i64,
    ) -> Result<(), StoreError> {
        let p = self.p();
        self.write(move |c| {
            let now = now_ms();
            c.execute(
                "INSERT INTO hosted_files (token, filename, content_type, body, created_at, expires_at, zalo_user_id, pairing)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![token, file.filename, file.content_type, file.body, now, now + ttl_ms, file.zalo_user_id, p],
            )?;
            Ok(())
        })
        .await
    }

    /// A hosted file that has not expired.
    pub async fn hosted_file(&self, token: String) -> Result<Option<HostedFile>, StoreError> {
        self.read(move |c| {
            c.query_opt(
                "SELECT filename, content_type, body, zalo_user_id FROM hosted_files WHERE token = ?1 AND expires_at >= ?2",
                params![token, now_ms()],
                |r| {
                    Ok(HostedFile {
                        filename: r.get(0)?,
                        content_type: r.get(1)?,
                        body: r.get(2)?,
                        zalo_user_id: r.get(3)?,
                    })
                },
            )
        })
        .await
    }

    /// Retention, over every table: expired hosted files, OAuth attempts and start links;
    /// finished events (and their journal) whose end and own time are both older than `keep_ms`;
    /// message pairings with their previews older than `keep_ms`; conversations found not to be
    /// Zalo's, after a day; lane leases that ran out an hour ago (PostgreSQL). Failed events stay
    /// until an operator replays them. Returns rows removed.
    pub async fn prune(&self, keep_ms: i64) -> Result<usize, StoreError> {
        let leases = self.prune_expired_lane_leases().await?;
        let rows = self.write(move |c| {
            let now = now_ms();
            let mut n = c.execute(
                "DELETE FROM hosted_files WHERE expires_at < ?1",
                params![now],
            )?;
            n += c.execute(
                "DELETE FROM oauth_attempts WHERE expires_at < ?1",
                params![now],
            )?;
            n += c.execute(
                "DELETE FROM oauth_tickets WHERE expires_at < ?1",
                params![now],
            )?;
            n += c.execute(
                "DELETE FROM messages WHERE created_at < ?1",
                params![now - keep_ms],
            )?;
            n += c.execute(
                "DELETE FROM billed_messages WHERE at < ?1",
                params![now - keep_ms],
            )?;
            n += c.execute(
                "DELETE FROM unlinked_conversations WHERE checked_at < ?1",
                params![now - UNLINKED_KEEP_MS],
            )?;
            // An event's dedupe row stays until both its end and its own time are older than
            // `keep_ms`: the replay window takes events up to a day ahead, and a signed delivery
            // whose row was pruned could be stored again.
            n += c.execute(
                "DELETE FROM steps WHERE inbox_id IN (SELECT id FROM inbox WHERE state IN (?1, ?2) AND finished_at < ?3 AND event_time < ?3)",
                params![EventState::Done, EventState::Ignored, now - keep_ms],
            )?;
            n += c.execute(
                "DELETE FROM inbox WHERE state IN (?1, ?2) AND finished_at < ?3 AND event_time < ?3",
                params![EventState::Done, EventState::Ignored, now - keep_ms],
            )?;
            Ok(n)
        })
        .await?;
        Ok(rows + leases)
    }

    /// A small stored fact.
    pub async fn meta(&self, key: &'static str) -> Result<Option<String>, StoreError> {
        let p = self.p();
        self.lookup(move |c| {
            c.query_opt(
                "SELECT value FROM meta WHERE pairing = ?1 AND key = ?2",
                params![p, key],
                |r| r.get(0),
            )
        })
        .await
    }

    /// A small secret fact (sealed with the store key).
    pub async fn secret_meta(&self, key: &'static str) -> Result<Option<String>, StoreError> {
        let sealing = self.key();
        let column = super::sealed::meta_column(key);
        self.meta(key)
            .await?
            .map(|v| sealing.open(&column, &v))
            .transpose()
    }

    /// Stores a small secret fact (sealed with the store key).
    pub async fn set_secret_meta(
        &self,
        key: &'static str,
        value: String,
    ) -> Result<(), StoreError> {
        let sealed = self.key().seal(&super::sealed::meta_column(key), &value)?;
        self.set_meta(key, sealed).await
    }

    /// Stores a small fact.
    pub async fn set_meta(&self, key: &'static str, value: String) -> Result<(), StoreError> {
        let p = self.p();
        self.write(move |c| {
            c.execute(
                "INSERT INTO meta (pairing, key, value) VALUES (?3, ?1, ?2) ON CONFLICT (pairing, key) DO UPDATE SET value = excluded.value",
                params![key, value, p],
            )?;
            Ok(())
        })
        .await
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use crate::store::db::params;
    use crate::store::testing::on_both_backends;
    use crate::store::{Ingested, Lane, NewEvent, Source, Store};

    on_both_backends!(dedupe_rows_are_pruned_on_the_later_of_their_end_and_their_time);

    /// A finished event's dedupe row outlives the retention while its own time is within it (an
    /// event may be dated up to a day ahead): a replay of it is still a duplicate.
    async fn dedupe_rows_are_pruned_on_the_later_of_their_end_and_their_time(store: Store) {
        let day = 24 * 3600 * 1000i64;
        let now = super::now_ms();
        let ev = |key: &str, event_time: i64| NewEvent {
            source: Source::Zalo,
            dedupe_key: key.into(),
            lane: Lane::zalo(Some("1")),
            event_name: "user_send_text".into(),
            body: b"{}".to_vec(),
            event_time,
            provenance: crate::store::Provenance::Webhook,
        };
        for (key, time) in [("old", now - 40 * day), ("ahead", now + day / 2)] {
            let Ingested::New(id) = store.ingest(ev(key, time)).await.unwrap() else {
                panic!("{key} is new");
            };
            store.finish_event(id, None).await.unwrap();
        }
        // Both finished 31 days ago, as far as the retention can tell.
        store
            .write(move |c| {
                c.execute("UPDATE inbox SET finished_at = ?1", params![now - 31 * day])?;
                Ok(())
            })
            .await
            .unwrap();
        store.prune(30 * day).await.unwrap();
        assert_eq!(
            store.ingest(ev("ahead", now + day / 2)).await.unwrap(),
            Ingested::Duplicate
        );
        assert!(matches!(
            store.ingest(ev("old", now - 40 * day)).await.unwrap(),
            Ingested::New(_)
        ));
    }
}
