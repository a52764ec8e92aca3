//! Freshchat conversation webhooks: signature verification, then typed events.
//!
//! Raw bytes → [`WebhookKey::verify`] (`X-Freshchat-Signature`, RSA over the exact body) →
//! [`parse_event`] → [`WebhookEvent`]. A bad configured key is a [`KeyError`] at start-up; a
//! webhook without a valid signature is a [`SignatureError`]; parsing refuses only with a named
//! [`ParseError`] (not JSON, not an object, a marketplace product event) and never panics
//! (property-tested). Everything else becomes a typed event, [`WebhookEvent::Unknown`] at worst.
//!
//! # Layout
//! - [`mod@signature`]: key parsing (every armour and encoding) and verification.
//! - [`event`]: the event types and their wire formats: event time, dedupe key, the body an event
//!   reads back from, and the event of a message read from the API.
//! - [`parse`]: JSON → event.

pub mod event;
pub mod parse;
pub mod signature;

pub use event::{iso_time_ms, message_create_event, Actor, ConversationRef, WebhookEvent};
pub use parse::{parse_event, ParseError};
pub use signature::{KeyError, SignatureError, WebhookKey, SIGNATURE_HEADER};

/// Header carrying the payload schema version.
pub const PAYLOAD_VERSION_HEADER: &str = "x-freshchat-payload-version";
/// Header carrying the retry attempt counter ("0" on the first delivery).
pub const RETRY_COUNT_HEADER: &str = "x-retry-count";

/// Event name: a message was created (by anyone, including API posts).
pub const ACTION_MESSAGE_CREATE: &str = "message_create";
/// Event name: a conversation was assigned.
pub const ACTION_CONVERSATION_ASSIGNMENT: &str = "conversation_assignment";
/// Event name: a conversation was resolved.
pub const ACTION_CONVERSATION_RESOLUTION: &str = "conversation_resolution";
/// Event name: a conversation was reopened.
pub const ACTION_CONVERSATION_REOPEN: &str = "conversation_reopen";
