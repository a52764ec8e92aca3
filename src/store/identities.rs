//! The app-scoped id of each Zalo user (`user_id_by_app`), per OA. Zalo names a user by it alone in
//! some management events (`update_user_info` as documented has an empty `user_id`); the OA user id
//! is found here again. A user's rows go with the rest of their data (`Store::forget_user`).
//!
//! Also the identity clashes: a customer for whom zfsync refused an existing Freshchat user claiming
//! their `reference_id` and created a new one, until the admins have been told in a note.

use super::db::{params, Db};

use super::{now_ms, Store, StoreError};

impl Store {
    /// Remembers that `user_id_by_app` is `zalo_user_id` for `oa_id` (the latest pairing wins).
    pub async fn remember_app_user(
        &self,
        oa_id: String,
        user_id_by_app: String,
        zalo_user_id: String,
    ) -> Result<(), StoreError> {
        let p = self.p();
        self.write(move |c| {
            c.execute(
                "INSERT INTO zalo_identities (oa_id, user_id_by_app, zalo_user_id, updated_at, pairing)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (pairing, oa_id, user_id_by_app)
                 DO UPDATE SET zalo_user_id = excluded.zalo_user_id, updated_at = excluded.updated_at",
                params![oa_id, user_id_by_app, zalo_user_id, now_ms(), p],
            )?;
            Ok(())
        })
        .await
    }

    /// The OA user id behind an app-scoped id, when zfsync has seen both together.
    pub async fn user_by_app(
        &self,
        oa_id: String,
        user_id_by_app: String,
    ) -> Result<Option<String>, StoreError> {
        let p = self.p();
        self.lookup(move |c| {
            c.query_opt(
                "SELECT zalo_user_id FROM zalo_identities WHERE oa_id = ?1 AND user_id_by_app = ?2 AND pairing = ?3",
                params![oa_id, user_id_by_app, p],
                |r| r.get(0),
            )
        })
        .await
    }

    /// The Freshchat user ids refused for a customer whose admins' note is still due (comma-separated).
    pub async fn identity_clash(&self, zalo_user_id: String) -> Result<Option<String>, StoreError> {
        let p = self.p();
        self.lookup(move |c| {
            c.query_opt(
                "SELECT refused_users FROM identity_clashes WHERE zalo_user_id = ?1 AND pairing = ?2",
                params![zalo_user_id, p],
                |r| r.get(0),
            )
        })
        .await
    }

    /// The admins were told about a customer's identity clash: forget it.
    pub async fn identity_clash_told(&self, zalo_user_id: String) -> Result<(), StoreError> {
        let p = self.p();
        self.write(move |c| {
            c.execute(
                "DELETE FROM identity_clashes WHERE zalo_user_id = ?1 AND pairing = ?2",
                params![zalo_user_id, p],
            )?;
            Ok(())
        })
        .await
    }
}

/// Records that zfsync refused `refused_users` (comma-separated Freshchat user ids) for a customer
/// and created a new user (used inside the contact step's transaction).
pub(super) fn put_identity_clash(
    c: &Db<'_>,
    pairing: &str,
    zalo_user_id: &str,
    refused_users: &str,
) -> Result<(), StoreError> {
    c.execute(
        "INSERT INTO identity_clashes (zalo_user_id, refused_users, found_at, pairing) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (pairing, zalo_user_id) DO UPDATE SET refused_users = excluded.refused_users,
           found_at = excluded.found_at",
        params![zalo_user_id, refused_users, now_ms(), pairing],
    )?;
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use crate::store::testing::on_both_backends;
    use crate::store::Store;

    on_both_backends!(
        app_ids_resolve_per_oa_and_go_with_the_user,
        a_clash_waits_for_its_note_and_goes_with_the_user,
    );

    async fn app_ids_resolve_per_oa_and_go_with_the_user(store: Store) {
        store
            .remember_app_user("oa".into(), "app-1".into(), "u1".into())
            .await
            .unwrap();
        let find = |oa: &str, app: &str| store.user_by_app(oa.into(), app.into());
        assert_eq!(find("oa", "app-1").await.unwrap().as_deref(), Some("u1"));
        assert_eq!(find("other-oa", "app-1").await.unwrap(), None);
        store.forget_user("u1".into(), 0).await.unwrap();
        assert_eq!(find("oa", "app-1").await.unwrap(), None);
    }

    async fn a_clash_waits_for_its_note_and_goes_with_the_user(store: Store) {
        let clash = |u: &str| store.identity_clash(u.into());
        for u in ["u1", "u2"] {
            store
                .write(move |c| super::put_identity_clash(c, "default", u, "fc-1,fc-2"))
                .await
                .unwrap();
        }
        assert_eq!(clash("u1").await.unwrap().as_deref(), Some("fc-1,fc-2"));
        store.identity_clash_told("u1".into()).await.unwrap();
        assert_eq!(clash("u1").await.unwrap(), None);
        store.forget_user("u2".into(), 0).await.unwrap();
        assert_eq!(clash("u2").await.unwrap(), None);
    }
}
