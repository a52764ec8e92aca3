//! The Freshchat simulator on its own, over real HTTP on loopback and with `serde_json` only (no
//! client code): its rules, its answers and webhook bodies against the real-world samples, its
//! signatures under an independent check, its faults, and its independence from the client.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod api;
mod common;
mod corpus;
mod faults;
mod independence;
mod uploads;
mod webhooks;
