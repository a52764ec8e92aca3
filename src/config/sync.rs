//! `[sync]`: how conversations are processed, retried and leased, and the scheduler's jobs; each
//! key's default and the lease and sweep bounds `Config::validate` checks.

use serde::Deserialize;

/// `[sync]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyncConfig {
    /// How many conversations (lanes) are processed at once.
    #[serde(default = "default_lanes")]
    pub max_concurrent_lanes: usize,
    /// Attempts before a transiently failing event is marked failed.
    #[serde(default = "default_attempts")]
    pub max_attempts: u32,
    /// First retry delay in milliseconds (doubles per attempt, with jitter).
    #[serde(default = "default_backoff_ms")]
    pub retry_base_ms: u64,
    /// Longest retry delay in milliseconds.
    #[serde(default = "default_backoff_max_ms")]
    pub retry_max_ms: u64,
    /// Refresh the Zalo access token when it has less than this many seconds left.
    #[serde(default = "default_refresh_ahead")]
    pub token_refresh_ahead_secs: u64,
    /// How long Zalo's token endpoint may refuse refreshes with an answer its documentation does
    /// not list (retried with backoff meanwhile) before zfsync asks for `zfsync connect zalo`, in
    /// seconds.
    #[serde(default = "default_token_error_reauth_after")]
    pub token_error_reauth_after_secs: u64,
    /// How long the files zfsync hosts (long replies, attachments Zalo cannot take) stay
    /// downloadable, in hours.
    #[serde(default = "default_hosted_ttl")]
    pub hosted_file_ttl_hours: u64,
    /// How long finished events are kept in the store, in days.
    #[serde(default = "default_retention")]
    pub retention_days: u64,
    /// When to check whether the Zalo token is due for a refresh (cron: six fields, seconds first,
    /// UTC).
    #[serde(default = "default_refresh_cron")]
    pub token_refresh_cron: String,
    /// When to read both platforms' recent history for messages whose webhooks never came (cron;
    /// "off" switches it off; start-up always does it once).
    #[serde(default = "default_reconcile_cron")]
    pub reconcile_cron: String,
    /// When to prune finished events and expired files (cron).
    #[serde(default = "default_retention_cron")]
    pub retention_cron: String,
    /// PostgreSQL with several replicas: how long a replica's hold on a conversation (its lane's
    /// lease) lasts unless renewed, in seconds. A replica renews it every third of this while it
    /// works on the lane; a replica that dies leaves its lanes to the others after at most this
    /// long. Ignored on SQLite (one process).
    #[serde(default = "default_lane_lease")]
    pub lane_lease_secs: u64,
    /// How often each pairing's lanes are looked for in the store regardless of signals, in
    /// seconds (the safety sweep: it catches work queued by another process, such as `zfsync
    /// failed retry`; on PostgreSQL other replicas' new work also wakes it at once).
    #[serde(default = "default_lane_sweep")]
    pub lane_sweep_secs: u64,
}

impl Default for SyncConfig {
    fn default() -> Self {
        SyncConfig {
            max_concurrent_lanes: default_lanes(),
            max_attempts: default_attempts(),
            retry_base_ms: default_backoff_ms(),
            retry_max_ms: default_backoff_max_ms(),
            token_refresh_ahead_secs: default_refresh_ahead(),
            token_error_reauth_after_secs: default_token_error_reauth_after(),
            hosted_file_ttl_hours: default_hosted_ttl(),
            retention_days: default_retention(),
            token_refresh_cron: default_refresh_cron(),
            reconcile_cron: default_reconcile_cron(),
            retention_cron: default_retention_cron(),
            lane_lease_secs: default_lane_lease(),
            lane_sweep_secs: default_lane_sweep(),
        }
    }
}

/// The shortest lane lease: a replica renews every third of it, so it must outlast a store round
/// trip comfortably.
pub(super) const MIN_LANE_LEASE_SECS: u64 = 2;
/// The longest lane lease (a dead replica's conversations wait this long at most).
pub(super) const MAX_LANE_LEASE_SECS: u64 = 600;
/// The shortest and longest safety sweep of the lanes.
pub(super) const LANE_SWEEP_SECS: std::ops::RangeInclusive<u64> = 2..=3600;

fn default_lanes() -> usize {
    32
}
fn default_attempts() -> u32 {
    12
}
fn default_backoff_ms() -> u64 {
    1000
}
fn default_backoff_max_ms() -> u64 {
    300_000
}
fn default_refresh_ahead() -> u64 {
    3600
}
fn default_token_error_reauth_after() -> u64 {
    3600
}
fn default_lane_lease() -> u64 {
    10
}
fn default_lane_sweep() -> u64 {
    2
}
fn default_hosted_ttl() -> u64 {
    24 * 30
}
fn default_retention() -> u64 {
    30
}
fn default_refresh_cron() -> String {
    "0 * * * * *".into()
}
fn default_reconcile_cron() -> String {
    "0 */5 * * * *".into()
}
fn default_retention_cron() -> String {
    "0 0 * * * *".into()
}
