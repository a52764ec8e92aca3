//! zfsync keeps a Zalo Official Account and a Freshchat inbox in sync, in both directions.
//!
//! # Layout
//! - [`config`]: the TOML configuration, validated once at start-up.
//! - [`store`]: SQLite (WAL, one writer with group commit): pairings, inbox, journal, tokens.
//! - [`server`]: webhooks (verify → store → 200), OAuth, hosted files, health and metrics.
//! - [`lanes`]: one ordered lane per conversation, concurrent across lanes, retries with backoff.
//! - [`executor`]: runs the mapping engine's plans with every external effect journalled.
//! - [`tokens`]: Zalo token refresh (single flight, persisted before use).
//! - [`oauth`]: the Zalo OAuth v4 + PKCE flow.
//! - [`app`]: wiring and the run loop; [`cli`]: the command line.
//! - `fuzz` (feature `fuzz`): the stable-Rust fuzzer of the webhook routes, the config loader and
//!   the mapping engine (`examples/fuzz.rs`, RELIABILITY.md).
//!
//! The connectors (`zfsync-zalo`, `zfsync-freshchat`) know one platform each; the mapping engine
//! (`zfsync-mappings`) is pure. See DESIGN.md for the invariants.

pub mod app;
pub mod check;
pub mod cli;
pub mod config;
pub mod error;
#[cfg(feature = "fuzz")]
pub mod fuzz;
pub mod ingest;
pub mod lanes;
#[cfg(feature = "sim")]
pub mod loadgen;
pub mod oauth;
#[cfg(feature = "sim")]
pub mod sandbox;
pub mod scheduler;
pub mod server;
pub mod status;
pub mod store;
pub mod sync;
pub mod telemetry;
pub mod tokens;
