//! Tools that run the daemon rather than being part of it: the sandbox ([`sandbox`], feature
//! `sim`: both simulators and the daemon on loopback, what `zfsync sandbox` and the end-to-end
//! tests drive) and the load generator ([`loadgen`], feature `loadgen`: the load and soak tool
//! behind `examples/loadgen.rs`).
//!
//! Neither is reached by `zfsync run`; each fails only its own command (or test) with an error
//! naming what did not start or did not arrive.

#[cfg(feature = "loadgen")]
pub mod loadgen;
#[cfg(feature = "sim")]
pub mod pg_cluster;
#[cfg(feature = "sim")]
pub mod sandbox;
