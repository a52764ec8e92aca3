//! A Freshchat API v2 client, webhook verification and typed events, and (feature `sim`) an
//! in-process simulator of Freshchat faithful enough to rehearse an integration against.
//!
//! # Layout
//!
//! - [`client`]: [`FreshchatClient`], the async HTTP client (users, channels, conversations, messages,
//!   uploads, attachment downloads), its [`ClientConfig`] and the [`CallObserver`] told about every
//!   call; `send` (private) is the one path every call takes; `download` (private) holds attachment
//!   downloads: the one URL shape that carries the key, the caller's [`DownloadGuard`], and the
//!   check that a file came back, not an API answer.
//! - [`types`]: the request and response objects, read leniently.
//! - [`parts`]: message parts keyed by their single object key (quick replies, templates, files), with
//!   an `Unknown` fallback, and the upload answers that become parts.
//! - [`error`]: [`FreshchatError`], classified so callers know what is worth retrying.
//! - [`webhook`]: RSA signature verification over the raw body, typed webhook events and their wire
//!   formats (event time, dedupe key, the event of a message read from the API).
//! - `sim` (feature `sim`): the simulator, an independent model of Freshchat (it shares nothing with
//!   the client): an axum server started on a given listener, with an anonymous CDN beside it, which
//!   also plays the agents' side and delivers signed webhooks.
//!
//! The crate knows Freshchat and nothing else.

#![warn(missing_docs)]
pub mod client;
mod download;
pub mod error;
pub mod parts;
mod send;
#[cfg(feature = "sim")]
pub mod sim;
pub mod types;
pub mod webhook;

pub use client::{ops, CallObserver, CallOutcome, ClientConfig, FreshchatClient, MAX_RETRY_AFTER};
pub use download::{DownloadGuard, Downloaded};
pub use error::FreshchatError;
#[cfg(feature = "sim")]
pub use sim::{
    AgentMessage, DeliveryRecord, Fault, FaultStats, FileLinks, FreshchatSim, RandomFaults,
    SimConfig, SimError, WebhookMode, WebhookShape,
};
pub use types::*;
pub use webhook::{
    iso_time_ms, message_create_event, parse_event, Actor, ConversationRef, KeyError, ParseError,
    SignatureError, WebhookEvent, WebhookKey, PAYLOAD_VERSION_HEADER, RETRY_COUNT_HEADER,
    SIGNATURE_HEADER,
};
