//! The crate's one integration-test binary (`autotests = false`): a 2-core CI machine links it
//! once.
//! - `conformance`: the client against every `zalo-*` sample of the real-world corpus;
//! - `sim` (feature `sim`): the client and the simulator against each other and the samples, all
//!   over real HTTP on loopback.

mod conformance;
#[path = "../../../tests/prerequisites.rs"]
mod prerequisites;
#[cfg(feature = "sim")]
mod sim;
