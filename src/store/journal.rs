//! The journal of external effects: a step is `sending` before its call and `sent` (with the remote
//! id, and the id pairing written in the same transaction) after it. A step found `sending` later
//! had an unknown outcome and is reconciled before it is tried again.

use rusqlite::{params, Connection, OptionalExtension};

use super::model::{JournalKey, StepState};
use super::{now_ms, Store, StoreError};

/// A journalled step.
#[derive(Debug, Clone)]
pub struct StepRow {
    /// Where it stands.
    pub state: StepState,
    /// What the call created (message id, user id, ...), once sent.
    pub remote_id: Option<String>,
    /// When the call was (last) started (unix ms).
    pub started_at: i64,
}

/// The kinds of journalled step whose target is a Zalo user (a send in flight to that user makes
/// a matching echo wait).
pub const KIND_SEND_ZALO: &str = "send_zalo";

impl Store {
    /// The journal entry of a step, if any.
    pub async fn step(&self, key: JournalKey) -> Result<Option<StepRow>, StoreError> {
        self.lookup(move |c| {
            Ok(c.prepare_cached(
                "SELECT state, remote_id, started_at FROM steps WHERE inbox_id = ?1 AND idx = ?2",
            )?
            .query_row(params![key.inbox_id, key.idx], |r| {
                Ok(StepRow {
                    state: r.get(0)?,
                    remote_id: r.get(1)?,
                    started_at: r.get(2)?,
                })
            })
            .optional()?)
        })
        .await
    }

    /// Journals a step as `sending` (before the external call). `target` is the Zalo user of a
    /// send to Zalo.
    pub async fn begin_step(
        &self,
        key: JournalKey,
        kind: &'static str,
        target: Option<String>,
    ) -> Result<(), StoreError> {
        self.write(move |c| {
            c.prepare_cached(
                "INSERT INTO steps (inbox_id, idx, kind, target, state, started_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT (inbox_id, idx) DO UPDATE SET state = excluded.state, started_at = excluded.started_at",
            )?
            .execute(params![key.inbox_id, key.idx, kind, target, StepState::Sending, now_ms()])?;
            Ok(())
        })
        .await
    }

    /// Journals a step as `sent` with the remote id, together with `also` (the id pairing), in one
    /// transaction.
    pub async fn finish_step<F>(
        &self,
        key: JournalKey,
        remote_id: Option<String>,
        also: F,
    ) -> Result<(), StoreError>
    where
        F: FnOnce(&Connection) -> Result<(), StoreError> + Send + 'static,
    {
        self.write(move |c| {
            mark_sent(c, key, remote_id.as_deref())?;
            also(c)
        })
        .await
    }

    /// Forgets a `sending` step whose call certainly did not take effect (the remote side answered
    /// with an error), so the next attempt need not reconcile.
    pub async fn abandon_step(&self, key: JournalKey) -> Result<(), StoreError> {
        self.write(move |c| {
            c.execute(
                "DELETE FROM steps WHERE inbox_id = ?1 AND idx = ?2 AND state = ?3",
                params![key.inbox_id, key.idx, StepState::Sending],
            )?;
            Ok(())
        })
        .await
    }

    /// Whether a send to this Zalo user is journalled as in flight.
    pub async fn zalo_send_in_flight(&self, zalo_user_id: String) -> Result<bool, StoreError> {
        self.lookup(move |c| {
            Ok(c.prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM steps WHERE state = ?1 AND kind = ?2 AND target = ?3)",
            )?
            .query_row(
                params![StepState::Sending, KIND_SEND_ZALO, zalo_user_id],
                |r| r.get::<_, bool>(0),
            )?)
        })
        .await
    }
}

/// Marks a step `sent` (inside a write).
pub fn mark_sent(
    c: &Connection,
    key: JournalKey,
    remote_id: Option<&str>,
) -> Result<(), StoreError> {
    c.prepare_cached(
        "UPDATE steps SET state = ?3, remote_id = ?4, finished_at = ?5 WHERE inbox_id = ?1 AND idx = ?2",
    )?
    .execute(params![key.inbox_id, key.idx, StepState::Sent, remote_id, now_ms()])?;
    Ok(())
}
