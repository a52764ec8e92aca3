//! The crate's one integration-test binary (`autotests = false`): a 2-core CI machine links it
//! once.
//! - `engine`: the engine with plain values, and property tests;
//! - `corpus_zalo`, `corpus_freshchat`: plans for the real-world webhook samples.

mod corpus_freshchat;
mod corpus_zalo;
mod engine;
#[path = "../../tests/prerequisites.rs"]
mod prerequisites;
