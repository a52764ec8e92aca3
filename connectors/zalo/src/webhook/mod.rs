//! Zalo webhooks: signature, typed events, and history items as events.
//!
//! Raw bytes → [`verify`] (`X-ZEvent-Signature`, see [`mod@signature`]) → [`parse_webhook`] →
//! [`ZaloEvent`]. Parsing refuses only with a named reason ([`ParseError`]): a body that is not JSON
//! (the daemon answers 400), JSON that is not an object, or another product's payload (Zalo Bot
//! Platform). Everything else becomes a typed event, [`ZaloEvent::Unknown`] at worst; ZNS receipts,
//! which share the name `user_received_message`, become [`ZaloEvent::ZnsReceipt`] and never pass for
//! OA delivery receipts. Nothing here panics (property-tested).
//!
//! # Layout
//! - [`mod@signature`]: `mac=` computation and constant-time verification.
//! - [`event`]: the event types, their user, time ([`ZaloEvent::time_ms`]) and dedupe key.
//! - [`attachment`]: the `message.attachments` entries.
//! - [`history`]: [`event_from_history`], a history item as the webhook it stands for.
//! - `parse`: JSON → event.

pub mod attachment;
pub mod event;
pub mod history;
mod parse;
pub mod signature;

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use attachment::Attachment;
pub use event::{
    parse_visitor_key, visitor_key, AnonymousMessage, OaMessage, OutOfScope, SubmittedInfo,
    TagEvent, TagEventKind, UserMessage, UserMessageKind, WidgetEvent, WidgetEventKind, ZaloEvent,
    ZnsReceipt,
};
pub use history::{event_from_history, HistoryEvent, HISTORY_SOURCE};
pub use signature::{body_timestamp, signature, verify, SignatureError, MAC_PREFIX};

/// Signature header (lowercase, as HTTP/2 and axum present it).
pub const SIGNATURE_HEADER: &str = "x-zevent-signature";
/// Server header Zalo sends with each event: `OA OpenAPI`, or `ZNS` for ZNS events.
pub const SERVER_HEADER: &str = "x-zevent-server";
/// Value of [`SERVER_HEADER`] for OA events.
pub const SERVER_VALUE: &str = "OA OpenAPI";
/// Value of [`SERVER_HEADER`] for ZNS (Zalo Notification Service) events.
pub const SERVER_VALUE_ZNS: &str = "ZNS";
/// `User-Agent` of Zalo's webhook sender.
pub const USER_AGENT_VALUE: &str = "ZaloWebhook";
/// Header carrying the retry count on redeliveries.
pub const NUM_RETRY_HEADER: &str = "num_retry";

/// Event names Zalo sends.
pub mod names {
    /// User sent text.
    pub const USER_SEND_TEXT: &str = "user_send_text";
    /// User sent an image.
    pub const USER_SEND_IMAGE: &str = "user_send_image";
    /// User sent a GIF.
    pub const USER_SEND_GIF: &str = "user_send_gif";
    /// User sent a link.
    pub const USER_SEND_LINK: &str = "user_send_link";
    /// User sent a voice clip.
    pub const USER_SEND_AUDIO: &str = "user_send_audio";
    /// User sent a video.
    pub const USER_SEND_VIDEO: &str = "user_send_video";
    /// User sent a sticker.
    pub const USER_SEND_STICKER: &str = "user_send_sticker";
    /// User shared a location.
    pub const USER_SEND_LOCATION: &str = "user_send_location";
    /// User shared a contact card.
    pub const USER_SEND_BUSINESS_CARD: &str = "user_send_business_card";
    /// User sent a file.
    pub const USER_SEND_FILE: &str = "user_send_file";
    /// Echo of a text send.
    pub const OA_SEND_TEXT: &str = "oa_send_text";
    /// Echo of an image send.
    pub const OA_SEND_IMAGE: &str = "oa_send_image";
    /// Echo of a GIF send.
    pub const OA_SEND_GIF: &str = "oa_send_gif";
    /// Echo of a sticker send.
    pub const OA_SEND_STICKER: &str = "oa_send_sticker";
    /// Echo of a file send.
    pub const OA_SEND_FILE: &str = "oa_send_file";
    /// Echo of a list (link items) send.
    pub const OA_SEND_LIST: &str = "oa_send_list";
    /// Echo of a template (zinstant) send.
    pub const OA_SEND_TEMPLATE: &str = "oa_send_template";
    /// Delivered to the user's device (OA), or a ZNS delivery.
    pub const USER_RECEIVED_MESSAGE: &str = "user_received_message";
    /// Read by the user.
    pub const USER_SEEN_MESSAGE: &str = "user_seen_message";
    /// The user reacted to a message.
    pub const USER_REACTED_MESSAGE: &str = "user_reacted_message";
    /// The OA reacted to a message.
    pub const OA_REACTED_MESSAGE: &str = "oa_reacted_message";
    /// The user followed the OA.
    pub const FOLLOW: &str = "follow";
    /// The user unfollowed the OA.
    pub const UNFOLLOW: &str = "unfollow";
    /// The user pressed "chat now" on the OA profile.
    pub const USER_CLICK_CHATNOW: &str = "user_click_chatnow";
    /// The user answered a request-info template.
    pub const USER_SUBMIT_INFO: &str = "user_submit_info";
    /// The user's profile changed.
    pub const UPDATE_USER_INFO: &str = "update_user_info";
    /// The user withdrew consent (data-subject rights).
    pub const USER_WITHDRAW: &str = "user_withdraw";
    /// A tag was put on users (or created).
    pub const ADD_USER_TO_TAG: &str = "add_user_to_tag";
    /// A tag was taken off users.
    pub const REMOVE_USER_FROM_TAG: &str = "remove_user_from_tag";
    /// A tag was deleted.
    pub const REMOVE_TAG: &str = "remove_tag";
    /// The user allowed the OA to interact through the chat widget.
    pub const WIDGET_INTERACTION_ACCEPTED: &str = "widget_interaction_accepted";
    /// Zalo could not store a widget user's external id.
    pub const WIDGET_FAILED_TO_SYNC_USER_EXTERNAL_ID: &str =
        "widget_failed_to_sync_user_external_id";

    /// The OA's one-to-one messages to a user (reference §5.5): API sends and staff sends from
    /// Zalo's chat tool. Only these names are read as [`crate::OaMessage`]; any other `oa_send_*`
    /// (groups, calls, names Zalo adds later) is not a message to one customer.
    pub const OA_ECHOES: [&str; 7] = [
        OA_SEND_TEXT,
        OA_SEND_IMAGE,
        OA_SEND_GIF,
        OA_SEND_LIST,
        OA_SEND_FILE,
        OA_SEND_STICKER,
        OA_SEND_TEMPLATE,
    ];
    /// Names zfsync's own history reader ([`crate::event_from_history`]) gives OA messages whose
    /// kind has no documented echo (a voice clip or a video staff sent from Zalo's chat tool). Zalo
    /// itself does not send them; read as [`crate::OaMessage`] like the echoes.
    pub const OA_HISTORY_ONLY: [&str; 2] = ["oa_send_audio", "oa_send_video"];
    /// An anonymous (chat-widget) visitor's messages (reference §5.5).
    pub const ANONYMOUS_SENDS: [&str; 4] = [
        "anonymous_send_text",
        "anonymous_send_image",
        "anonymous_send_file",
        "anonymous_send_sticker",
    ];
    /// The OA's messages to an anonymous visitor (reference §5.5).
    pub const OA_ANONYMOUS_ECHOES: [&str; 4] = [
        "oa_send_anonymous_text",
        "oa_send_anonymous_image",
        "oa_send_anonymous_file",
        "oa_send_anonymous_sticker",
    ];
    /// Marks a GMF (OA group chat) message event: `user_send_group_*`, `oa_send_group_*`.
    pub const GROUP_MARKER: &str = "_group_";
    /// GMF group management events (reference §5.5; names differ between sources, all are listed).
    pub const GROUP_EVENTS: [&str; 13] = [
        "create_group",
        "user_join_group",
        "user_request_join_group",
        "accept_request_join_group",
        "react_request_join_group",
        "reject_request_join_group",
        "add_group_admin",
        "remove_group_admin",
        "update_group_info",
        "user_out_group",
        "user_leave_group",
        "delete_group",
        "disperse_group",
    ];
    /// The OA asked a user for consent to call them.
    pub const OA_SEND_CONSENT: &str = "oa_send_consent";
    /// The user answered the call-consent request.
    pub const USER_REPLY_CONSENT: &str = "user_reply_consent";
    /// Call events (reference §5.5).
    pub const CALL_EVENTS: [&str; 4] = [
        OA_SEND_CONSENT,
        USER_REPLY_CONSENT,
        "oa_call_user",
        "user_call_oa",
    ];
}

/// A product other than the OA Open API whose payloads look like Zalo webhooks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Product {
    /// The Zalo Bot Platform (bot.zapps.me): dotted event names, `message.chat` / `message.from`.
    BotPlatform,
}

impl fmt::Display for Product {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Product::BotPlatform => "Zalo Bot Platform",
        })
    }
}

/// Why a webhook body was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// The body is not JSON (answer 400; never guessed at).
    #[error("webhook body is not JSON ({detail})")]
    InvalidJson {
        /// Where the syntax broke (no body text).
        detail: String,
    },
    /// The body is JSON but not an object.
    #[error("webhook body is JSON but not an object")]
    NotAnObject,
    /// The body is another product's event, not a Zalo Official Account event.
    #[error("this is a {product} event ({event_name:?}), not a Zalo Official Account event; that product needs its own integration")]
    OtherProduct {
        /// Which product.
        product: Product,
        /// Its event name, as sent.
        event_name: String,
    },
}

impl ParseError {
    /// A short, stable reason for responses and metrics: `not_json`, `not_object`, `other_product`.
    pub fn reason(&self) -> &'static str {
        match self {
            ParseError::InvalidJson { .. } => "not_json",
            ParseError::NotAnObject => "not_object",
            ParseError::OtherProduct { .. } => "other_product",
        }
    }
}

/// Parses a webhook body without its headers (ZNS receipts are then told apart by their shape).
pub fn parse_event(raw_body: &[u8]) -> Result<ZaloEvent, ParseError> {
    parse_webhook(raw_body, None)
}

/// Parses a webhook body; `zevent_server` is the [`SERVER_HEADER`] value when the delivery had one
/// (`ZNS` marks a ZNS event).
pub fn parse_webhook(
    raw_body: &[u8],
    zevent_server: Option<&str>,
) -> Result<ZaloEvent, ParseError> {
    let v: Value = serde_json::from_slice(raw_body).map_err(|e| ParseError::InvalidJson {
        detail: format!("syntax error at line {}, column {}", e.line(), e.column()),
    })?;
    if !v.is_object() {
        return Err(ParseError::NotAnObject);
    }
    if let Some((product, event_name)) = parse::other_product(&v) {
        return Err(ParseError::OtherProduct {
            product,
            event_name,
        });
    }
    let zns = zevent_server.is_some_and(|s| s.trim().eq_ignore_ascii_case(SERVER_VALUE_ZNS));
    Ok(parse::event_from_value(v, zns))
}

/// Types an already parsed JSON value (anything but an object with a known event becomes
/// [`ZaloEvent::Unknown`]); never fails.
pub fn event_from_value(v: Value) -> ZaloEvent {
    parse::event_from_value(v, false)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
