//! zfsync keeps a Zalo Official Account and a Freshchat inbox in sync, in both directions.
//!
//! # Layout
//! An event flows from left to right: `ingest` → `store` (inbox) → `lanes` → `sync` → platforms.
//!
//! - [`ingest`]: everything that puts an event in the inbox: both webhooks, history catch-up at
//!   start and on schedule, and `backfill`. One builder gives every source the same dedupe key,
//!   lane and event time.
//! - [`store`]: SQLite (WAL, one writer with group commit) split by table family: inbox, journal,
//!   pairings, auth (tokens, OAuth attempts, sessions), hosted files, quota; secrets sealed with
//!   the store key.
//! - [`lanes`]: one ordered lane per conversation, concurrent across lanes, retries with backoff.
//! - [`sync`]: runs the mapping engine's plans: one struct per step with its `run` and
//!   `reconcile`, per direction (`to_freshchat`, `to_zalo`, `contact`), media and hosted files as
//!   dependencies of the message that uses them, every effect journalled.
//! - [`tokens`]: Zalo tokens (single-flight refresh, persisted before use) and [`tokens::ZaloSession`],
//!   the token-aware Zalo calls; [`oauth`]: the Zalo OAuth v4 + PKCE flow.
//! - [`server`]: the router and its layers: pages (OAuth, hosted files, domain verification),
//!   health and metrics, operator access and the web console; [`routes`]: its public paths.
//! - [`scheduler`]: token refresh, reconcile and retention on cron schedules.
//! - [`services`]: the store, clients and rules every command starts from; [`app`]: the daemon's
//!   wiring and run loop.
//! - [`config`]: the TOML configuration and secrets, validated once; [`egress`]: where media may
//!   be downloaded from; [`error`]: [`error::SyncError`] and how each cause is retried.
//! - [`cli`]: the command line; [`init`]: the setup wizard; [`check`]: `zfsync check`, one probe
//!   per concern; [`status`]: `status` and `failed list`; [`telemetry`]: logs and upstream-call
//!   metrics; [`time`]: how a time reads ("5 s ago", UTC) in status, the console and token
//!   messages.
//! - `tools` (feature `sim`): `tools::sandbox`, both simulators and the daemon on loopback;
//!   `tools::loadgen` (feature `loadgen`): the load and soak tool behind `examples/loadgen.rs`.
//! - [`testing`]: the daemon's router over a real store, in process, for the fuzzer (the
//!   `zfsync-fuzz` crate in `fuzz/`: the webhook routes, the config loader and the mapping engine,
//!   RELIABILITY.md).
//!
//! The connectors (`zfsync-zalo`, `zfsync-freshchat`) know one platform each; the mapping engine
//! (`zfsync-mappings`) is pure. docs/ARCHITECTURE.md tells the whole story.
//!
//! # What is public
//! Only what is used from outside this crate: the binary (`cli`, `telemetry`), the end-to-end
//! tests (`config`, `services`, `store`, `server`'s limits, `routes`, `oauth`, `tools`), the load
//! generator's example (`tools`) and the fuzzer (`testing`, `config`, `routes`). Every other
//! module is private to the crate, so the compiler reports what nothing uses.

#![warn(missing_docs)]

pub(crate) mod app;
pub(crate) mod check;
pub mod cli;
pub mod config;
pub(crate) mod egress;
pub(crate) mod error;
pub(crate) mod ingest;
pub(crate) mod init;
pub(crate) mod lanes;
pub mod oauth;
#[cfg(test)]
#[path = "../tests/prerequisites.rs"]
mod prerequisites;
pub mod routes;
pub(crate) mod scheduler;
pub mod server;
pub mod services;
pub(crate) mod status;
pub mod store;
pub(crate) mod sync;
pub mod telemetry;
pub mod testing;
pub(crate) mod time;
pub(crate) mod tokens;
#[cfg(feature = "sim")]
pub mod tools;
