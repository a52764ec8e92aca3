//! Both directions end to end, with every documented rule: one file per concern.

mod delivery;
mod to_freshchat;
mod to_zalo;

/// Zalo users the tests write as.
const U1: &str = "5234000000000000001";
const U2: &str = "5234000000000000002";
