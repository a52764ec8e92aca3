//! Events of state: the gauges read when `/metrics` is scraped, the store's commits and full disk,
//! and every call to either platform.

use std::time::Duration;

use super::names::{
    LANE_LEASES, QUEUE_DEPTH, STORE_COMMITS, STORE_FULL, UPSTREAM_CALL_SECONDS, WORK_NOTIFIED,
    ZALO_CUSTOMERS_IN_BILLED_WINDOW, ZALO_TOKEN_SECONDS_TO_EXPIRY,
};
use super::InternalEvent;

/// How many events wait in the inbox (read at each scrape).
#[derive(Debug)]
pub struct QueueDepth {
    /// Pending events.
    pub depth: i64,
}

impl InternalEvent for QueueDepth {
    fn emit(&self) {
        tracing::trace!(depth = self.depth, "events waiting");
        metrics::gauge!(QUEUE_DEPTH, "pairing" => crate::telemetry::pairing_label())
            .set(self.depth as f64);
    }
}

/// How many customers are in Zalo's billed window (read at each scrape; a lower bound).
#[derive(Debug)]
pub struct CustomersInBilledWindow {
    /// Customers.
    pub count: i64,
}

impl InternalEvent for CustomersInBilledWindow {
    fn emit(&self) {
        tracing::trace!(count = self.count, "customers in Zalo's billed window");
        metrics::gauge!(ZALO_CUSTOMERS_IN_BILLED_WINDOW, "pairing" => crate::telemetry::pairing_label()).set(self.count as f64);
    }
}

/// How long Zalo's access token has left (read at each scrape).
#[derive(Debug)]
pub struct TokenSecondsToExpiry {
    /// Seconds (negative once expired).
    pub seconds: i64,
}

impl InternalEvent for TokenSecondsToExpiry {
    fn emit(&self) {
        tracing::trace!(seconds = self.seconds, "Zalo access token lifetime left");
        metrics::gauge!(ZALO_TOKEN_SECONDS_TO_EXPIRY, "pairing" => crate::telemetry::pairing_label()).set(self.seconds as f64);
    }
}

/// The store's writer ended a transaction.
#[derive(Debug)]
pub struct StoreCommitted {
    /// It committed (false: rolled back).
    pub ok: bool,
}

impl InternalEvent for StoreCommitted {
    fn emit(&self) {
        let result = if self.ok { "ok" } else { "error" };
        tracing::trace!(result, "store transaction ended");
        metrics::counter!(STORE_COMMITS, "result" => result).increment(1);
    }
}

/// Another replica stored new work for a pairing (a PostgreSQL notification woke it here).
#[derive(Debug)]
pub struct WorkNotified<'a> {
    /// The pairing named.
    pub pairing: &'a str,
}

impl InternalEvent for WorkNotified<'_> {
    fn emit(&self) {
        tracing::trace!(pairing = self.pairing, "another replica stored new work");
        metrics::counter!(WORK_NOTIFIED, "pairing" => self.pairing.to_owned()).increment(1);
    }
}

/// What happened to a lane's lease between replicas (PostgreSQL; on SQLite there is one
/// process and leases are always granted, so nothing is emitted).
#[derive(Debug)]
pub enum LaneLeaseEvent<'a> {
    /// Another replica holds it: this one looks again after `wait_ms`.
    HeldElsewhere {
        /// The lane.
        lane: &'a str,
        /// When this replica looks again.
        wait_ms: i64,
    },
    /// Another replica took it (this one's lease ran out): this one stops after the event in
    /// hand.
    Lost {
        /// The lane.
        lane: &'a str,
    },
    /// It could not be renewed; `expiring` when it runs out before the next try (then this one
    /// stops after the event in hand).
    RenewFailed {
        /// The lane.
        lane: &'a str,
        /// Why.
        error: &'a str,
        /// The lease runs out before the next try.
        expiring: bool,
    },
    /// It could not be taken: this one tries again.
    TakeFailed {
        /// The lane.
        lane: &'a str,
        /// Why.
        error: &'a str,
    },
    /// It could not be given up: it expires by itself.
    ReleaseFailed {
        /// The lane.
        lane: &'a str,
        /// Why.
        error: &'a str,
    },
}

impl InternalEvent for LaneLeaseEvent<'_> {
    fn emit(&self) {
        let outcome = match self {
            LaneLeaseEvent::HeldElsewhere { lane, wait_ms } => {
                tracing::debug!(%lane, wait_ms, "lane held by another replica");
                "held_elsewhere"
            }
            LaneLeaseEvent::Lost { lane } => {
                tracing::warn!(%lane, "another replica took this lane's lease; this one stops after the event in hand");
                "lost"
            }
            LaneLeaseEvent::RenewFailed {
                lane,
                error,
                expiring: true,
            } => {
                tracing::warn!(%lane, %error, "cannot renew this lane's lease before it runs out; this one stops after the event in hand");
                "renew_failed"
            }
            LaneLeaseEvent::RenewFailed {
                lane,
                error,
                expiring: false,
            } => {
                tracing::warn!(%lane, %error, "cannot renew this lane's lease; trying again");
                "renew_failed"
            }
            LaneLeaseEvent::TakeFailed { lane, error } => {
                tracing::warn!(%lane, %error, "cannot take this lane's lease; trying again");
                "take_failed"
            }
            LaneLeaseEvent::ReleaseFailed { lane, error } => {
                tracing::warn!(%lane, %error, "cannot give up this lane's lease; it expires by itself");
                "release_failed"
            }
        };
        metrics::counter!(LANE_LEASES, "pairing" => crate::telemetry::pairing_label(), "outcome" => outcome)
            .increment(1);
    }
}

/// The store's disk became full (webhooks are answered 503), or takes writes again.
#[derive(Debug)]
pub struct StoreFullChanged {
    /// Full now.
    pub full: bool,
}

impl InternalEvent for StoreFullChanged {
    fn emit(&self) {
        if self.full {
            tracing::error!("the store is full: webhooks are answered 503 until space returns");
        } else {
            tracing::info!("the store takes writes again");
        }
        metrics::gauge!(STORE_FULL).set(if self.full { 1.0 } else { 0.0 });
    }
}

/// A call to Zalo or Freshchat ended (the connectors' `CallObserver`).
#[derive(Debug)]
pub struct UpstreamCall {
    /// `zalo` or `freshchat`.
    pub platform: &'static str,
    /// The operation.
    pub op: &'static str,
    /// How it ended (`ok`, `error`, ...).
    pub outcome: &'static str,
    /// How long it took.
    pub elapsed: Duration,
}

impl InternalEvent for UpstreamCall {
    fn emit(&self) {
        tracing::trace!(
            platform = self.platform,
            op = self.op,
            outcome = self.outcome,
            elapsed_ms = self.elapsed.as_millis() as u64,
            "upstream call ended"
        );
        metrics::histogram!(UPSTREAM_CALL_SECONDS, "pairing" => crate::telemetry::pairing_label(), "platform" => self.platform, "op" => self.op, "outcome" => self.outcome)
            .record(self.elapsed.as_secs_f64());
    }
}
