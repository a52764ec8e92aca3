//! A Rust client for the Zalo Official Account Open API, with webhook verification, typed events and
//! (feature `sim`) an in-process simulator of the platform.
//!
//! # Layout
//! - [`client`]: [`ZaloClient`]: OAuth v4 token calls, CS messages, uploads, user/OA info, history,
//!   media download.
//! - [`oauth`]: PKCE pairs, random state, token pairs.
//! - [`types`]: outbound messages and the data the API returns.
//! - [`error`]: [`ZaloError`] and its [`ErrorClass`].
//! - [`webhook`]: `X-ZEvent-Signature` verification and [`ZaloEvent`] parsing.
//! - `sim` (feature `sim`): `ZaloSim`, an independent simulator of Zalo (OpenAPI and OAuth on two
//!   listeners, signed webhooks) that plays the users, anonymous visitors and OA staff.
//!
//! Every fallible call returns [`ZaloError`]; Zalo's application errors arrive with HTTP 200 and are
//! detected from the body.

pub mod client;
pub mod error;
pub mod oauth;
#[cfg(feature = "sim")]
pub mod sim;
pub mod types;
pub mod webhook;

pub use client::{ClientConfig, Downloaded, ZaloClient};
pub use error::{ErrorClass, ZaloError};
pub use oauth::{random_state, Pkce, TokenPair};
pub use types::{HistoryMessage, MediaSource, OaInfo, OutboundMessage, SentMessage, UserProfile};
pub use webhook::{
    parse_event, signature, verify, Attachment, OaMessage, ParseError, SignatureError, UserMessage,
    UserMessageKind, ZaloEvent, SIGNATURE_HEADER,
};

#[cfg(feature = "sim")]
pub use sim::{
    AnonymousAction, DeliveryRecord, Fault, ListItem, OutOfReplies, OwnerQuota, QuotaState,
    RandomFaults, SentRecord, SimConfig, SimUser, StaffAction, SubQuota, SubmittedInfo, UserAction,
    WebhookMode, ZaloSim,
};
