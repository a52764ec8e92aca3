//! Zalo's reply allowance per customer (what the last send's answer said) with what the agents were
//! told in the current window, and the replies Zalo billed.

use rusqlite::{params, Connection, OptionalExtension};
use zfsync_mappings::QuotaWindow;
use zfsync_zalo::SendQuota;

use super::{now_ms, Store, StoreError};

/// The allowance last reported for a customer.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct QuotaState {
    /// The Zalo user.
    pub zalo_user_id: String,
    /// Their display name in zfsync's contacts, when known.
    pub display_name: Option<String>,
    /// `reply`, `welcome_msg`, `sub_quota`, `purchase_quota`, `reward_quota`, `billed`, or another kind.
    pub allowance: String,
    /// Messages left in the allowance, when Zalo said.
    pub remaining: Option<i64>,
    /// Its size, when Zalo said.
    pub total: Option<i64>,
    /// A package's expiry date, as Zalo gives it.
    pub expires: Option<String>,
    /// When the current window began: the customer's last message (unix ms).
    pub window_start: Option<i64>,
    /// When the last send was answered (unix ms).
    pub updated_at: i64,
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
    /// What the current window of a customer already told the agents.
    pub async fn quota_window(&self, zalo_user_id: String) -> Result<QuotaWindow, StoreError> {
        self.lookup(move |c| {
            Ok(c.prepare_cached(
                "SELECT low_noted, billed_noted FROM quota WHERE zalo_user_id = ?1",
            )?
            .query_row([zalo_user_id], |r| {
                Ok(QuotaWindow {
                    low_noted: r.get::<_, i64>(0)? != 0,
                    billed_noted: r.get::<_, i64>(1)? != 0,
                })
            })
            .optional()?
            .unwrap_or_default())
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
        self.write(move |c| put_quota(c, &zalo_user_id, &zalo_msg_id, &quota, window))
            .await
    }

    /// A customer wrote: a new window begins (nothing is told; the notes may come again).
    pub async fn quota_new_window(&self, zalo_user_id: String, at: i64) -> Result<(), StoreError> {
        self.write(move |c| {
            c.prepare_cached(
                "UPDATE quota SET window_start = MAX(COALESCE(window_start, 0), ?2), low_noted = 0, billed_noted = 0
                 WHERE zalo_user_id = ?1 AND COALESCE(window_start, 0) < ?2",
            )?
            .execute(params![zalo_user_id, at])?;
            Ok(())
        })
        .await
    }

    /// The allowances last reported, newest first; `customer` (a Zalo user id, or part of a display
    /// name) narrows them to one customer.
    pub async fn quota_states(
        &self,
        customer: Option<String>,
        limit: usize,
    ) -> Result<Vec<QuotaState>, StoreError> {
        self.read(move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT q.zalo_user_id, ct.display_name, q.allowance, q.remaining, q.total, q.expires,
                        q.window_start, q.updated_at
                 FROM quota q LEFT JOIN contacts ct ON ct.zalo_user_id = q.zalo_user_id
                 WHERE ?1 IS NULL OR q.zalo_user_id = ?1 OR ct.display_name LIKE '%' || ?1 || '%'
                 ORDER BY q.updated_at DESC LIMIT ?2",
            )?;
            let customer = customer.filter(|s| !s.trim().is_empty());
            let rows = stmt.query_map(params![customer, limit as i64], |r| {
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
            })?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }

    /// Replies Zalo billed since `since_ms` (unix ms).
    pub async fn billed_since(&self, since_ms: i64) -> Result<i64, StoreError> {
        self.read(move |c| {
            Ok(
                c.prepare_cached("SELECT COUNT(*) FROM billed_messages WHERE at >= ?1")?
                    .query_row([since_ms], |r| r.get(0))?,
            )
        })
        .await
    }

    /// Customers whose free replies are down to `threshold` or fewer.
    pub async fn customers_at_last_free_reply(&self, threshold: u64) -> Result<i64, StoreError> {
        self.read(move |c| {
            Ok(c.prepare_cached(
                "SELECT COUNT(*) FROM quota WHERE allowance = 'reply' AND remaining <= ?1",
            )?
            .query_row([threshold as i64], |r| r.get(0))?)
        })
        .await
    }
}

/// Writes a send's allowance (inside a write).
fn put_quota(
    c: &Connection,
    zalo_user_id: &str,
    zalo_msg_id: &str,
    quota: &SendQuota,
    window: QuotaWindow,
) -> Result<(), StoreError> {
    let (allowance, remaining, total, expires) = describe(quota);
    let now = now_ms();
    c.prepare_cached(
        "INSERT INTO quota (zalo_user_id, allowance, remaining, total, expires, low_noted, billed_noted, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
         ON CONFLICT (zalo_user_id) DO UPDATE SET allowance = excluded.allowance,
           remaining = excluded.remaining, total = excluded.total, expires = excluded.expires,
           low_noted = excluded.low_noted, billed_noted = excluded.billed_noted, updated_at = excluded.updated_at",
    )?
    .execute(params![
        zalo_user_id,
        allowance,
        remaining.map(|v| v as i64),
        total.map(|v| v as i64),
        expires,
        window.low_noted as i64,
        window.billed_noted as i64,
        now
    ])?;
    if matches!(quota, SendQuota::Billed) {
        c.prepare_cached(
            "INSERT INTO billed_messages (zalo_msg_id, zalo_user_id, at) VALUES (?1, ?2, ?3)
             ON CONFLICT (zalo_msg_id) DO NOTHING",
        )?
        .execute(params![zalo_msg_id, zalo_user_id, now])?;
    }
    Ok(())
}
