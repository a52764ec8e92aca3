//! A Rust client for the Zalo Official Account Open API, with webhook verification, typed events and
//! (feature `sim`) an in-process simulator of the platform.
//!
//! # Layout
//! - [`client`]: [`ZaloClient`]: OAuth v4 token calls, CS messages (with the [`SendQuota`] that paid
//!   for them), uploads, user/OA info, history, message quota, media download; one send path that
//!   reports every call to an optional [`CallObserver`].
//! - [`oauth`]: PKCE pairs, random state (system CSPRNG only), token pairs.
//! - [`types`]: outbound messages and the data the API returns.
//! - [`error`]: [`ZaloError`] and its [`ErrorClass`].
//! - [`webhook`]: `X-ZEvent-Signature` verification, [`ZaloEvent`] parsing, history items as events.
//! - `sim` (feature `sim`): `sim::ZaloSim`, an independent simulator of Zalo (OpenAPI and OAuth on
//!   two listeners, signed webhooks) that plays the users, anonymous visitors and OA staff; its
//!   types are reached through `sim::`, never the crate root.
//!
//! Every fallible call returns [`ZaloError`]; Zalo's application errors arrive with HTTP 200 and are
//! detected from the body. Webhook parsing refuses only with a named [`ParseError`].

#![warn(missing_docs)]
pub mod client;
pub mod error;
pub mod oauth;
#[cfg(test)]
#[path = "../../../tests/prerequisites.rs"]
mod prerequisites;
#[cfg(feature = "sim")]
pub mod sim;
pub mod types;
pub mod webhook;

pub use client::{CallObserver, CallOutcome, ClientConfig, Downloaded, Op, ZaloClient};
pub use error::{ErrorClass, ZaloError};
pub use oauth::{random_state, Pkce, RandomError, TokenPair};
pub use types::{
    Allowance, HistoryMessage, MediaSource, MessageQuota, OaInfo, OutboundMessage, PromotionQuota,
    SendQuota, SentAnonymous, SentMessage, SharedInfo, UserProfile,
};
pub use webhook::{
    event_from_history, parse_event, parse_visitor_key, parse_webhook, signature, verify,
    visitor_key, AnonymousMessage, Attachment, HistoryEvent, OaMessage, OutOfScope, ParseError,
    Product, SignatureError, SubmittedInfo, TagEvent, TagEventKind, UserMessage, UserMessageKind,
    WidgetEvent, WidgetEventKind, ZaloEvent, ZnsReceipt, SIGNATURE_HEADER,
};
