//! The crate's one integration-test binary (`autotests = false`): a 2-core CI machine links it
//! once.
//! - `client` (feature `sim`): every client call and error class against the simulator; in
//!   `client/`: webhooks as the client reads them, delivery order, and what real Freshchat sends;
//! - `conformance`: the client and the parser against the real-world `freshchat-*` samples;
//! - `sim` (feature `sim`): the simulator on its own, with raw JSON and no client code.

#[cfg(feature = "sim")]
mod client;
mod conformance;
#[path = "../../../tests/prerequisites.rs"]
mod prerequisites;
#[cfg(feature = "sim")]
mod sim;
