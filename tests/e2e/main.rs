//! End-to-end tests: the real daemon between the Zalo and Freshchat simulators, over HTTP on
//! loopback. One test binary (a 2-core CI machine links it once).

mod access;
mod backfill;
mod check;
mod check_templates;
mod commands;
mod conformance;
mod console;
mod console_browser;
mod console_pages;
mod contact_info;
mod crash;
mod csat;
mod feature_properties;
mod hardening;
mod helpers;
mod identity;
mod init;
mod keyed_downloads;
mod lifecycle;
#[cfg(feature = "loadgen")]
mod loadgen;
#[cfg(feature = "loadgen")]
mod loadgen_ingest;
#[cfg(feature = "loadgen")]
mod loadgen_pairings;
#[cfg(feature = "loadgen")]
mod loadgen_soak;
mod media_hosts;
mod oauth_callback;
mod ops;
mod packaging;
mod pairings;
mod pairings_console;
#[path = "../prerequisites.rs"]
mod prerequisites;
mod quota;
mod reconnect;
mod reliability;
mod replica_wake;
mod replicas;
mod reply_window;
mod routing;
mod security;
mod structure;
mod sync;
mod tags;
mod tamper;
mod upgrade;
mod zalo_events;
