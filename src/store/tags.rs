//! The Zalo OA tags zfsync last saw on each customer (table `zalo_tags`, migration 014): what a tag
//! change on Zalo is measured against, so that only what changed on Zalo reaches the Freshchat tag
//! property. Stored as a JSON array of names; a customer's row goes with the rest of their data
//! (`Store::forget_user`).
//!
//! Failure: store errors only; a row that does not read as a list of names reads as no tags.

use super::db::{params, Db};
use super::{now_ms, Store, StoreError};

fn decode(json: &str) -> Vec<String> {
    serde_json::from_str(json).unwrap_or_default()
}

impl Store {
    /// The Zalo tags zfsync last saw on a customer; None when it never looked.
    pub async fn zalo_tags(&self, zalo_user_id: String) -> Result<Option<Vec<String>>, StoreError> {
        let p = self.p();
        self.lookup(move |c| {
            c.query_opt(
                "SELECT tags FROM zalo_tags WHERE zalo_user_id = ?1 AND pairing = ?2",
                params![zalo_user_id, p],
                |r| r.get::<String>(0),
            )
            .map(|t| t.as_deref().map(decode))
        })
        .await
    }

    /// Records the Zalo tags zfsync now sees on a customer.
    pub async fn set_zalo_tags(
        &self,
        zalo_user_id: String,
        tags: Vec<String>,
    ) -> Result<(), StoreError> {
        let p = self.p();
        let json = serde_json::to_string(&tags).unwrap_or_else(|_| "[]".into());
        self.write(move |c| put(c, &p, &zalo_user_id, &json)).await
    }

    /// The customers zfsync last saw with this Zalo tag.
    pub async fn users_with_zalo_tag(&self, tag: String) -> Result<Vec<String>, StoreError> {
        let p = self.p();
        self.read(move |c| {
            let rows = c.query_map(
                "SELECT zalo_user_id, tags FROM zalo_tags WHERE pairing = ?1 ORDER BY zalo_user_id",
                params![p],
                |r| Ok((r.get::<String>(0)?, r.get::<String>(1)?)),
            )?;
            Ok(rows
                .into_iter()
                .filter(|(_, tags)| decode(tags).contains(&tag))
                .map(|(user, _)| user)
                .collect())
        })
        .await
    }
}

fn put(c: &Db<'_>, pairing: &str, zalo_user_id: &str, json: &str) -> Result<(), StoreError> {
    c.execute(
        "INSERT INTO zalo_tags (pairing, zalo_user_id, tags, updated_at) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (pairing, zalo_user_id) DO UPDATE SET tags = excluded.tags,
           updated_at = excluded.updated_at",
        params![pairing, zalo_user_id, json, now_ms()],
    )?;
    Ok(())
}
