//! End-to-end tests: the real daemon between the Zalo and Freshchat simulators, over HTTP on
//! loopback. One test binary (a 2-core CI machine links it once).

mod check;
mod crash;
#[cfg(feature = "fuzz")]
mod fuzz;
mod helpers;
mod lifecycle;
mod loadgen;
mod ops;
mod sync;
