//! Lane leases and the token refresh lock: what lets several daemon processes (replicas) share one
//! PostgreSQL database. A replica drains a lane only while it holds the lane's lease, a row of
//! `lane_leases` with its holder and an expiry (taken with one `INSERT … ON CONFLICT … DO UPDATE …
//! WHERE` that only succeeds when the lease is free, expired, or already this replica's), renewed
//! while it drains and deleted when the lane is empty. A Zalo token refresh runs under a
//! per-pairing advisory lock ([`Store::refresh_lock`]), so two replicas never spend the same
//! single-use refresh token. Times are the database server's clock, never a replica's.
//!
//! On SQLite one process owns the file: every lease is granted and the lock is nothing.
//!
//! Failure: a statement that fails is a [`StoreError`]; the caller skips the lane for now (its
//! events stay in the store). A refresh lock not had within [`REFRESH_LOCK_WAIT`] is
//! [`StoreError::RefreshLockBusy`].

use std::time::Duration;

use super::db::{params, PgConn};
use super::writer::WORK_CHANNEL;
use super::{Lane, Readers, Store, StoreError};

/// The database server's clock in unix milliseconds, as the lease statements read it.
const DB_NOW: &str = "(EXTRACT(EPOCH FROM clock_timestamp()) * 1000)::BIGINT";

/// Whether the lane `g.lane` of pairing `g.pairing` still has pending events (the lease statements'
/// condition for waking the other replicas).
const PENDING_IN_LANE: &str = "EXISTS (SELECT 1 FROM inbox i
     WHERE i.state = 'pending' AND i.pairing = g.pairing AND i.lane = g.lane)";

/// The advisory lock class of token refreshes (the second key is the pairing's hash).
const REFRESH_LOCK_CLASS: i64 = 0x7a66;

/// How long a refresh waits for another replica's refresh of the same pairing at most.
pub const REFRESH_LOCK_WAIT: Duration = Duration::from_secs(60);

/// How often a waiting refresh asks for the lock again.
const REFRESH_LOCK_POLL: Duration = Duration::from_millis(50);

/// What [`Store::take_lane_lease`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LaneLease {
    /// This replica holds the lane until the lease's time (renew it while draining).
    Granted,
    /// Another live replica holds it; its lease runs out in this many milliseconds at most.
    HeldElsewhere {
        /// Milliseconds until the other replica's lease expires, unless renewed.
        remaining_ms: i64,
    },
}

impl Store {
    /// This process's name in `lane_leases` (random at each start).
    pub fn replica_id(&self) -> &str {
        &self.inner.holder
    }

    /// Takes (or renews) the lease of `lane` for `lease`: granted when nobody holds it, its
    /// holder's time ran out, or this replica holds it already. One statement, so two replicas
    /// asking at once never both get it.
    pub async fn take_lane_lease(
        &self,
        lane: &Lane,
        lease: Duration,
    ) -> Result<LaneLease, StoreError> {
        if !self.is_postgres() {
            return Ok(LaneLease::Granted);
        }
        let (p, lane, me) = (self.p(), lane.clone(), self.inner.holder.clone());
        let ms = lease.as_millis() as i64;
        self.read(move |c| {
            let got: Option<String> = c.query_opt(
                &format!(
                    "INSERT INTO lane_leases (pairing, lane, holder, expires_at)
                     VALUES (?1, ?2, ?3, {DB_NOW} + ?4)
                     ON CONFLICT (pairing, lane) DO UPDATE
                       SET holder = excluded.holder, expires_at = excluded.expires_at
                       WHERE lane_leases.expires_at < {DB_NOW} OR lane_leases.holder = excluded.holder
                     RETURNING holder"
                ),
                params![p, lane, me, ms],
                |r| r.get(0),
            )?;
            if got.is_some() {
                return Ok(LaneLease::Granted);
            }
            // Only to know when to look again: the other replica may release or renew meanwhile.
            let remaining: Option<i64> = c.query_opt(
                &format!("SELECT expires_at - {DB_NOW} FROM lane_leases WHERE pairing = ?1 AND lane = ?2"),
                params![p, lane],
                |r| r.get(0),
            )?;
            Ok(LaneLease::HeldElsewhere {
                remaining_ms: remaining.unwrap_or(0).max(0),
            })
        })
        .await
    }

    /// Moves the expiry of a lease this replica holds to `lease` from now. False when it holds the
    /// lease no more (it expired and another replica took it): stop draining the lane.
    pub async fn renew_lane_lease(&self, lane: &Lane, lease: Duration) -> Result<bool, StoreError> {
        if !self.is_postgres() {
            return Ok(true);
        }
        let (p, lane, me) = (self.p(), lane.clone(), self.inner.holder.clone());
        let ms = lease.as_millis() as i64;
        self.read(move |c| {
            Ok(c.execute(
                &format!(
                    "UPDATE lane_leases SET expires_at = {DB_NOW} + ?4
                     WHERE pairing = ?1 AND lane = ?2 AND holder = ?3"
                ),
                params![p, lane, me, ms],
            )? == 1)
        })
        .await
    }

    /// Gives up this replica's lease of `lane` (the lane is empty, or waits for a retry); another
    /// replica's lease is left alone. A lane that still has pending events wakes the replicas
    /// ([`WORK_CHANNEL`]): one of them may take it now.
    pub async fn release_lane_lease(&self, lane: &Lane) -> Result<(), StoreError> {
        if !self.is_postgres() {
            return Ok(());
        }
        let (p, lane, me) = (self.p(), lane.clone(), self.inner.holder.clone());
        self.read(move |c| {
            c.execute(
                &format!(
                    "WITH gone AS (DELETE FROM lane_leases WHERE pairing = ?1 AND lane = ?2 AND holder = ?3
                                   RETURNING pairing, lane)
                     SELECT pg_notify('{WORK_CHANNEL}', g.pairing) FROM gone g
                     WHERE {PENDING_IN_LANE}"
                ),
                params![p, lane, me],
            )?;
            Ok(())
        })
        .await
    }

    /// Forgets leases that ran out more than an hour ago (their holder died, and the lane had
    /// nothing left, so nobody took it over): retention, so the table holds only live lanes; how
    /// many. A lane that gets work again is leased afresh.
    pub async fn prune_expired_lane_leases(&self) -> Result<usize, StoreError> {
        if !self.is_postgres() {
            return Ok(0);
        }
        self.write(move |c| {
            c.execute(
                &format!("DELETE FROM lane_leases WHERE expires_at < {DB_NOW} - 3600000"),
                params![],
            )
        })
        .await
    }

    /// Gives up every lease this replica holds, of every pairing (at shutdown, so the other
    /// replicas take the lanes over at once rather than after the lease time); how many.
    pub async fn release_all_lane_leases(&self) -> Result<usize, StoreError> {
        if !self.is_postgres() {
            return Ok(0);
        }
        let me = self.inner.holder.clone();
        self.read(move |c| {
            let gone = c.query_map(
                "DELETE FROM lane_leases WHERE holder = ?1 RETURNING pairing, lane",
                params![me],
                |r| Ok((r.get::<String>(0)?, r.get::<Lane>(1)?)),
            )?;
            // The lanes with events left wake the other replicas, which take them at once.
            for (p, lane) in &gone {
                c.execute(
                    &format!(
                        "SELECT pg_notify('{WORK_CHANNEL}', g.pairing)
                         FROM (SELECT CAST(?1 AS TEXT) AS pairing, CAST(?2 AS TEXT) AS lane) g
                         WHERE {PENDING_IN_LANE}"
                    ),
                    params![p, lane],
                )?;
            }
            Ok(gone.len())
        })
        .await
    }

    /// Who holds the lease of `lane` now (an expired lease counts as none); always none on SQLite.
    pub async fn lane_lease_holder(&self, lane: &Lane) -> Result<Option<String>, StoreError> {
        if !self.is_postgres() {
            return Ok(None);
        }
        let (p, lane) = (self.p(), lane.clone());
        self.read(move |c| {
            c.query_opt(
                &format!(
                    "SELECT holder FROM lane_leases
                     WHERE pairing = ?1 AND lane = ?2 AND expires_at >= {DB_NOW}"
                ),
                params![p, lane],
                |r| r.get(0),
            )
        })
        .await
    }

    /// Waits for this pairing's token refresh lock (a session advisory lock on a connection of
    /// its own), held until the returned guard is dropped: only one replica refreshes a pairing's
    /// Zalo tokens at a time. Whoever takes it must read the stored pair again (another replica
    /// may have refreshed meanwhile). Nothing to take on SQLite.
    pub async fn refresh_lock(&self) -> Result<RefreshLock, StoreError> {
        let Readers::Postgres { target, .. } = &self.inner.readers else {
            return Ok(RefreshLock(None));
        };
        let target = target.clone();
        let conn = tokio::task::spawn_blocking(move || target.connect()).await??;
        let mut guard = RefreshLock(Some(conn));
        let deadline = tokio::time::Instant::now() + REFRESH_LOCK_WAIT;
        loop {
            let conn = guard.0.take().ok_or(StoreError::Closed)?;
            let p = self.p();
            let (conn, got) = tokio::task::spawn_blocking(move || {
                let got = super::db::Db::Pg(&conn).query_row(
                    "SELECT CASE WHEN pg_try_advisory_lock(CAST(?1 AS INTEGER), hashtext(?2)) THEN 1 ELSE 0 END",
                    params![REFRESH_LOCK_CLASS, p],
                    |r| r.get::<i64>(0),
                );
                (conn, got)
            })
            .await?;
            guard.0 = Some(conn);
            if got? == 1 {
                return Ok(guard);
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(StoreError::RefreshLockBusy {
                    waited_secs: REFRESH_LOCK_WAIT.as_secs(),
                });
            }
            tokio::time::sleep(REFRESH_LOCK_POLL).await;
        }
    }
}

/// A held token refresh lock ([`Store::refresh_lock`]); dropping it releases the lock and closes
/// its connection (on a thread of its own: the blocking client may not close inside the async
/// runtime). A process that dies releases it with its connection.
pub struct RefreshLock(Option<PgConn>);

impl std::fmt::Debug for RefreshLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() {
            "RefreshLock(held)"
        } else {
            "RefreshLock(none)"
        })
    }
}

impl Drop for RefreshLock {
    fn drop(&mut self) {
        if let Some(conn) = self.0.take() {
            let _ = std::thread::Builder::new()
                .name("zfsync-pg-unlock".into())
                .spawn(move || {
                    // Closing the connection releases the lock too; unlocking first lets a waiting
                    // replica in without waiting for the server to notice the close.
                    let _ = conn.batch("SELECT pg_advisory_unlock_all()");
                    drop(conn);
                });
        }
    }
}
