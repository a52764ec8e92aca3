//! A Freshchat API v2 client, webhook verification and typed events, and (feature `sim`) an
//! in-process simulator of Freshchat faithful enough to rehearse an integration against.
//!
//! # Layout
//!
//! The same shape as the Zalo connector's:
//! - [`client`]: [`FreshchatClient`], the async HTTP client (users, channels, conversations,
//!   messages, uploads, attachment downloads); `config` ([`ClientConfig`], the [`Op`] of each call,
//!   the [`CallObserver`] told about every call, the [`DownloadGuard`] for attachments),
//!   `transport` (the one path every call takes) and `download` (the one URL shape that carries
//!   the key, and the check that a file came back, not an API answer).
//! - [`webhook`]: `signature` (RSA verification over the raw body, every key form), `event` (typed
//!   webhook events and their wire formats: event time, dedupe key, the event of a message read
//!   from the API) and `parse` (JSON → event, never panicking).
//! - [`types`]: the request and response objects, read leniently; `lenient` (private) holds the
//!   readers that make them so.
//! - [`parts`]: message parts keyed by their single object key (quick replies, templates, files),
//!   with an `Unknown` fallback, and the upload answers that become parts.
//! - [`error`]: [`FreshchatError`] and its [`ErrorClass`], so callers know what is worth retrying.
//! - `sim` (feature `sim`): the simulator, an independent model of Freshchat (it shares nothing with
//!   the client), reached as `zfsync_freshchat::sim::…`: an axum server started on a given
//!   listener, with an anonymous CDN beside it, which also plays the agents' side and delivers
//!   signed webhooks.
//!
//! The crate knows Freshchat and nothing else.

#![warn(missing_docs)]
pub mod client;
pub mod error;
mod lenient;
pub mod parts;
#[cfg(feature = "sim")]
pub mod sim;
pub mod types;
pub mod webhook;

pub use client::{
    CallObserver, CallOutcome, ClientConfig, DownloadGuard, Downloaded, FreshchatClient, Op,
    MAX_RETRY_AFTER,
};
pub use error::{ErrorClass, FreshchatError};
pub use types::*;
pub use webhook::{
    iso_time_ms, message_create_event, parse_event, Actor, ConversationRef, KeyError, ParseError,
    SignatureError, WebhookEvent, WebhookKey, PAYLOAD_VERSION_HEADER, RETRY_COUNT_HEADER,
    SIGNATURE_HEADER,
};
