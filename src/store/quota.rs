//! Zalo's reply allowance per customer (what the last send's answer said) with what the agents were
//! told in the current window, each customer's reply window (the last interaction zfsync saw, table
//! `reply_windows`), and the replies Zalo billed.

use super::db::{params, Db};
use zfsync_mappings::QuotaWindow;
use zfsync_zalo::SendQuota;

use super::{now_ms, Store, StoreError};

/// A customer's allowance as last reported, and their reply window.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct QuotaState {
    /// The Zalo user.
    pub zalo_user_id: String,
    /// Their display name in zfsync's contacts, when known.
    pub display_name: Option<String>,
    /// `reply`, `welcome_msg`, `sub_quota`, `purchase_quota`, `reward_quota`, `billed`, or another
    /// kind; `None` before zfsync's first reply to them.
    pub allowance: Option<String>,
    /// Messages left in the allowance, when Zalo said.
    pub remaining: Option<i64>,
    /// Its size, when Zalo said.
    pub total: Option<i64>,
    /// A package's expiry date, as Zalo gives it.
    pub expires: Option<String>,
    /// When the current window began: the customer's last interaction zfsync saw (unix ms).
    pub window_start: Option<i64>,
    /// When the last send was answered (unix ms), if zfsync replied.
    pub updated_at: Option<i64>,
}

/// The name, remaining and total of an allowance.
fn describe(q: &SendQuota) -> (&str, Option<u64>, Option<u64>, Option<&str>) {
    match q {
        SendQuota::Billed => ("billed", None, None, None),
        SendQuota::Reply { remain, total } => ("reply", *remain, *total, None),
        SendQuota::WelcomeMsg { remain, total } => ("welcome_msg", *remain, *total, None),
        SendQuota::SubQuota {
            remain,
            total,
            expired_date,
        } => ("sub_quota", *remain, *total, expired_date.as_deref()),
        SendQuota::PurchaseQuota { .. } => ("purchase_quota", None, None, None),
        SendQuota::RewardQuota { .. } => ("reward_quota", None, None, None),
        _ => ("other", None, None, None),
    }
}

impl Store {
    /// What the current window of a customer already told the agents, and where it began.
    pub async fn quota_window(&self, zalo_user_id: String) -> Result<QuotaWindow, StoreError> {
        let p = self.p();
        self.lookup(move |c| {
            let low = c.query_opt(
                "SELECT low_noted FROM quota WHERE zalo_user_id = ?1 AND pairing = ?2",
                params![&zalo_user_id, &p],
                |r| r.get::<i64>(0),
            )?
                .unwrap_or(0);
            let w = c.query_opt(
                "SELECT billed_noted, last_interaction FROM reply_windows WHERE zalo_user_id = ?1 AND pairing = ?2",
                params![&zalo_user_id, &p],
                |r| {
                    Ok((r.get::<i64>(0)?, r.get::<Option<i64>>(1)?))
                },
            )?;
            Ok(QuotaWindow {
                low_noted: low != 0,
                billed_noted: w.is_some_and(|w| w.0 != 0),
                last_interaction: w.and_then(|w| w.1),
            })
        })
        .await
    }

    /// The customer's last interaction zfsync saw (unix ms), if any.
    pub async fn last_interaction(&self, zalo_user_id: String) -> Result<Option<i64>, StoreError> {
        let p = self.p();
        self.lookup(move |c| {
            Ok(c.query_opt(
                "SELECT last_interaction FROM reply_windows WHERE zalo_user_id = ?1 AND pairing = ?2",
                params![zalo_user_id, p],
                |r| r.get::<Option<i64>>(0),
            )?
            .flatten())
        })
        .await
    }

    /// Records what Zalo answered a send with (and a billed reply), and the window afterwards.
    pub async fn record_quota(
        &self,
        zalo_user_id: String,
        zalo_msg_id: String,
        quota: SendQuota,
        window: QuotaWindow,
    ) -> Result<(), StoreError> {
        let p = self.p();
        self.write(move |c| put_quota(c, &p, &zalo_user_id, &zalo_msg_id, &quota, window))
            .await
    }

    /// The customer interacted at `at` (unix ms): a message, a follow, "chat now", shared info. A
    /// later interaction than any seen opens a new window (nothing is told; the notes may come
    /// again); an earlier one (a late delivery, history) changes nothing.
    pub async fn saw_interaction(&self, zalo_user_id: String, at: i64) -> Result<(), StoreError> {
        let p = self.p();
        self.write(move |c| {
            c.execute(
                "INSERT INTO reply_windows (zalo_user_id, last_interaction, billed_noted, pairing) VALUES (?1, ?2, 0, ?3)
                 ON CONFLICT (pairing, zalo_user_id) DO UPDATE SET last_interaction = excluded.last_interaction, billed_noted = 0
                 WHERE COALESCE(reply_windows.last_interaction, 0) < excluded.last_interaction",
                params![zalo_user_id, at, p],
            )?;
            // Only an older window is replaced (the WHERE), so the new one starts at `at`.
            c.execute(
                "UPDATE quota SET window_start = ?2, low_noted = 0, billed_noted = 0
                 WHERE zalo_user_id = ?1 AND pairing = ?3 AND COALESCE(window_start, 0) < ?2",
                params![zalo_user_id, at, p],
            )?;
            Ok(())
        })
        .await
    }

    /// Customers with a window zfsync knows or a reply it sent, latest first (by their last
    /// interaction or reply); `customer` (a Zalo user id, or part of a display name) narrows them
    /// to one customer.
    pub async fn quota_states(
        &self,
        customer: Option<String>,
        limit: usize,
    ) -> Result<Vec<QuotaState>, StoreError> {
        let p = self.p();
        self.read(move |c| {
            let customer = customer.filter(|s| !s.trim().is_empty());
            c.query_map(
                "SELECT ids.zalo_user_id, ct.display_name, q.allowance, q.remaining, q.total, q.expires,
                        w.last_interaction, q.updated_at
                 FROM (SELECT zalo_user_id FROM quota WHERE pairing = ?3
                       UNION SELECT zalo_user_id FROM reply_windows WHERE pairing = ?3) AS ids
                 LEFT JOIN quota q ON q.pairing = ?3 AND q.zalo_user_id = ids.zalo_user_id
                 LEFT JOIN reply_windows w ON w.pairing = ?3 AND w.zalo_user_id = ids.zalo_user_id
                 LEFT JOIN contacts ct ON ct.pairing = ?3 AND ct.zalo_user_id = ids.zalo_user_id
                 WHERE CAST(?1 AS TEXT) IS NULL OR ids.zalo_user_id = ?1 OR ct.display_name LIKE '%' || ?1 || '%'
                 ORDER BY CASE WHEN COALESCE(q.updated_at, 0) > COALESCE(w.last_interaction, 0)
                               THEN COALESCE(q.updated_at, 0) ELSE COALESCE(w.last_interaction, 0) END DESC
                 LIMIT ?2",
                params![customer, limit as i64, p],
                |r| {
                Ok(QuotaState {
                    zalo_user_id: r.get(0)?,
                    display_name: r.get(1)?,
                    allowance: r.get(2)?,
                    remaining: r.get(3)?,
                    total: r.get(4)?,
                    expires: r.get(5)?,
                    window_start: r.get(6)?,
                    updated_at: r.get(7)?,
                })
            },
            )
        })
        .await
    }

    /// Replies Zalo billed since `since_ms` (unix ms).
    pub async fn billed_since(&self, since_ms: i64) -> Result<i64, StoreError> {
        let p = self.p();
        self.read(move |c| {
            c.query_row(
                "SELECT COUNT(*) FROM billed_messages WHERE at >= ?1 AND pairing = ?2",
                params![since_ms, p],
                |r| r.get(0),
            )
        })
        .await
    }

    /// Customers whose free 48 h are over but whose window is still open at `now` (unix ms): replies
    /// to them are billed to the OA (as far as zfsync saw their interactions).
    pub async fn customers_in_billed_window(&self, now: i64) -> Result<i64, StoreError> {
        use zfsync_mappings::window::{FREE_MS, OPEN_MS};
        let p = self.p();
        self.read(move |c| {
            c.query_row(
                "SELECT COUNT(*) FROM reply_windows WHERE last_interaction > ?1 AND last_interaction <= ?2 AND pairing = ?3",
                params![now - OPEN_MS, now - FREE_MS, p],
                |r| r.get(0),
            )
        })
        .await
    }
}

/// Writes a send's allowance (inside a write).
fn put_quota(
    c: &Db<'_>,
    pairing: &str,
    zalo_user_id: &str,
    zalo_msg_id: &str,
    quota: &SendQuota,
    window: QuotaWindow,
) -> Result<(), StoreError> {
    let (allowance, remaining, total, expires) = describe(quota);
    let now = now_ms();
    c.execute(
        "INSERT INTO quota (zalo_user_id, allowance, remaining, total, expires, low_noted, billed_noted, updated_at, pairing)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
         ON CONFLICT (pairing, zalo_user_id) DO UPDATE SET allowance = excluded.allowance,
           remaining = excluded.remaining, total = excluded.total, expires = excluded.expires,
           low_noted = excluded.low_noted, billed_noted = excluded.billed_noted, updated_at = excluded.updated_at",
        params![
        zalo_user_id,
        allowance,
        remaining.map(|v| v as i64),
        total.map(|v| v as i64),
        expires,
        window.low_noted as i64,
        window.billed_noted as i64,
        now,
        pairing
    ],
    )?;
    c.execute(
        "INSERT INTO reply_windows (zalo_user_id, last_interaction, billed_noted, pairing) VALUES (?1, NULL, ?2, ?3)
         ON CONFLICT (pairing, zalo_user_id) DO UPDATE SET billed_noted = excluded.billed_noted",
        params![zalo_user_id, window.billed_noted as i64, pairing],
    )?;
    if matches!(quota, SendQuota::Billed) {
        c.execute(
            "INSERT INTO billed_messages (zalo_msg_id, zalo_user_id, at, pairing) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (pairing, zalo_msg_id) DO NOTHING",
            params![zalo_msg_id, zalo_user_id, now, pairing],
        )?;
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::store::testing::on_both_backends;

    const H: i64 = 3600 * 1000;

    on_both_backends!(the_window_follows_the_latest_interaction_and_counts_billed_customers);

    async fn the_window_follows_the_latest_interaction_and_counts_billed_customers(store: Store) {
        let now = 1_000 * H;
        store
            .saw_interaction("a".into(), now - 50 * H)
            .await
            .unwrap();
        // An older interaction (a late delivery) changes nothing.
        store
            .saw_interaction("a".into(), now - 60 * H)
            .await
            .unwrap();
        assert_eq!(
            store.last_interaction("a".into()).await.unwrap(),
            Some(now - 50 * H)
        );
        store.saw_interaction("b".into(), now - H).await.unwrap();
        store
            .saw_interaction("c".into(), now - 200 * H)
            .await
            .unwrap();
        assert_eq!(store.customers_in_billed_window(now).await.unwrap(), 1);
        // A billed reply is noted once per window; a new interaction opens a new one.
        let noted = QuotaWindow {
            billed_noted: true,
            ..store.quota_window("a".into()).await.unwrap()
        };
        store
            .record_quota("a".into(), "m1".into(), SendQuota::Billed, noted)
            .await
            .unwrap();
        let w = store.quota_window("a".into()).await.unwrap();
        assert!(w.billed_noted);
        assert_eq!(w.last_interaction, Some(now - 50 * H));
        store.saw_interaction("a".into(), now).await.unwrap();
        let w = store.quota_window("a".into()).await.unwrap();
        assert!(!w.billed_noted && !w.low_noted);
        assert_eq!(store.customers_in_billed_window(now).await.unwrap(), 0);
        // A reply to a customer zfsync saw no interaction of: listed, window unknown.
        store
            .record_quota("d".into(), "m2".into(), SendQuota::Billed, noted)
            .await
            .unwrap();
        let listed = store.quota_states(None, 10).await.unwrap();
        let d = listed.iter().find(|q| q.zalo_user_id == "d").unwrap();
        assert_eq!(
            (d.allowance.as_deref(), d.window_start),
            (Some("billed"), None)
        );
        assert!(listed
            .iter()
            .any(|q| q.zalo_user_id == "c" && q.allowance.is_none()));
    }

    #[test]
    fn the_windows_known_before_the_upgrade_are_kept() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = rusqlite::Connection::open(dir.path().join("u.db")).unwrap();
        // The store as release 004 left it, with one customer's window.
        for (_, sql) in super::super::MIGRATIONS.iter().take(4) {
            conn.execute_batch(sql).unwrap();
        }
        conn.pragma_update(None, "user_version", 4).unwrap();
        conn.execute(
            "INSERT INTO quota (zalo_user_id, allowance, window_start, billed_noted, updated_at)
             VALUES ('a', 'billed', 42, 1, 43)",
            [],
        )
        .unwrap();
        super::super::migrate(&mut conn).unwrap();
        let (last, noted): (Option<i64>, i64) = conn
            .query_row(
                "SELECT last_interaction, billed_noted FROM reply_windows WHERE zalo_user_id = 'a'",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        assert_eq!((last, noted), (Some(42), 1));
    }
}
