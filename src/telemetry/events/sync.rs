//! Events of the sync: messages delivered, media sent another way or refused, identity claims
//! refused, Zalo events out of scope, billed sends.

use super::names::{
    CSAT_RATINGS, IDENTITY_REFUSALS, MEDIA_FALLBACKS, MEDIA_REFUSED, MESSAGES_SYNCED,
    ZALO_BILLED_MESSAGES, ZALO_EVENTS_IGNORED,
};
use super::{InternalEvent, TO_FRESHCHAT, TO_ZALO};

/// A Zalo message was posted to its Freshchat conversation.
#[derive(Debug)]
pub struct SyncedToFreshchat<'a> {
    /// Zalo's message id ("" when none).
    pub zalo_msg_id: &'a str,
    /// The Freshchat message created ("" when Freshchat gave none).
    pub freshchat_message_id: &'a str,
    /// The conversation it went to.
    pub conversation_id: &'a str,
}

impl InternalEvent for SyncedToFreshchat<'_> {
    fn emit(&self) {
        tracing::info!(zalo_msg_id = self.zalo_msg_id, freshchat_message_id = self.freshchat_message_id, conversation_id = %self.conversation_id, "synced Zalo → Freshchat");
        metrics::counter!(MESSAGES_SYNCED, "pairing" => crate::telemetry::pairing_label(), "direction" => TO_FRESHCHAT).increment(1);
    }
}

/// An agent's message was sent to the Zalo customer (or anonymous visitor).
#[derive(Debug)]
pub struct SyncedToZalo<'a> {
    /// The message Zalo created.
    pub zalo_msg_id: &'a str,
    /// The agent's Freshchat message ("" when none).
    pub freshchat_message_id: &'a str,
    /// Sent to a visitor who never followed the OA (no Zalo user id).
    pub anonymous_visitor: bool,
}

impl InternalEvent for SyncedToZalo<'_> {
    fn emit(&self) {
        if self.anonymous_visitor {
            tracing::info!(zalo_msg_id = %self.zalo_msg_id, freshchat_message_id = self.freshchat_message_id, "synced Freshchat → Zalo (anonymous visitor)");
        } else {
            tracing::info!(zalo_msg_id = %self.zalo_msg_id, freshchat_message_id = self.freshchat_message_id, "synced Freshchat → Zalo");
        }
        metrics::counter!(MESSAGES_SYNCED, "pairing" => crate::telemetry::pairing_label(), "direction" => TO_ZALO).increment(1);
    }
}

/// A customer's media could not be copied to Freshchat: a text part says so instead.
#[derive(Debug)]
pub struct MediaNotTransferred<'a> {
    /// The media kind (`image`, `file`, ...).
    pub kind: &'static str,
    /// Why (no URL keeps its query).
    pub reason: &'a str,
}

impl InternalEvent for MediaNotTransferred<'_> {
    fn emit(&self) {
        tracing::warn!(kind = self.kind, reason = %self.reason, "media not transferred; posting a text part instead");
        metrics::counter!(MEDIA_FALLBACKS, "pairing" => crate::telemetry::pairing_label(), "direction" => TO_FRESHCHAT).increment(1);
    }
}

/// An agent's file Zalo cannot take was hosted by zfsync and sent as a link.
#[derive(Debug)]
pub struct MediaHosted<'a> {
    /// The file's content type.
    pub content_type: &'a str,
}

impl InternalEvent for MediaHosted<'_> {
    fn emit(&self) {
        tracing::debug!(content_type = %self.content_type, "hosted an attachment Zalo cannot take; sending its link");
        metrics::counter!(MEDIA_FALLBACKS, "pairing" => crate::telemetry::pairing_label(), "direction" => TO_ZALO).increment(1);
    }
}

/// An attachment's download was refused (the egress policy, or the download's own limits).
#[derive(Debug)]
pub struct MediaRefused<'a> {
    /// Why (names the host, never the URL's query).
    pub reason: &'a str,
}

impl InternalEvent for MediaRefused<'_> {
    fn emit(&self) {
        tracing::warn!(reason = %self.reason, "refused to fetch an attachment");
        metrics::counter!(MEDIA_REFUSED, "pairing" => crate::telemetry::pairing_label())
            .increment(1);
    }
}

/// A Freshchat user claims a Zalo customer's reference id but is not zfsync's own.
#[derive(Debug)]
pub struct IdentityRefused<'a> {
    /// `not_zfsync_user` or `other_channel` (another OA's claim is [`IdentityOfOtherOa`]).
    pub reason: &'static str,
    /// The claiming user.
    pub freshchat_user_id: &'a str,
    /// What zfsync does instead.
    pub what: &'a str,
}

impl InternalEvent for IdentityRefused<'_> {
    fn emit(&self) {
        tracing::warn!(
            freshchat_user_id = self.freshchat_user_id,
            reason = self.reason,
            "a Freshchat user claims a Zalo customer's reference id but is not zfsync's own; {}",
            self.what
        );
        metrics::counter!(IDENTITY_REFUSALS, "pairing" => crate::telemetry::pairing_label(), "reason" => self.reason).increment(1);
    }
}

/// A Freshchat user's reference id names a Zalo user of another OA: ignored.
#[derive(Debug)]
pub struct IdentityOfOtherOa<'a> {
    /// The conversation it came from.
    pub conversation_id: &'a str,
    /// The OA the reference names.
    pub reference_oa: &'a str,
    /// This daemon's OA.
    pub oa_id: &'a str,
}

impl InternalEvent for IdentityOfOtherOa<'_> {
    fn emit(&self) {
        tracing::warn!(
            conversation_id = self.conversation_id,
            reference_oa = self.reference_oa,
            oa_id = %self.oa_id,
            "a Freshchat user claims a Zalo user of another OA; ignored"
        );
        metrics::counter!(IDENTITY_REFUSALS, "pairing" => crate::telemetry::pairing_label(), "reason" => "other_oa").increment(1);
    }
}

/// A Zalo group or call event, which zfsync does not sync. The first of each kind is logged at
/// INFO (so an operator learns that the OA has groups or calls), the rest at DEBUG.
#[derive(Debug)]
pub struct ZaloEventOutOfScope<'a> {
    /// `group` or `call`.
    pub kind: &'static str,
    /// Zalo's event name.
    pub event: &'a str,
    /// The first of its kind since start.
    pub first_of_kind: bool,
}

impl InternalEvent for ZaloEventOutOfScope<'_> {
    fn emit(&self) {
        if self.first_of_kind {
            tracing::info!(
                event = self.event,
                kind = self.kind,
                "ignoring Zalo {} events: zfsync syncs one-to-one conversations only (further ones are logged at debug level and counted in {ZALO_EVENTS_IGNORED})",
                self.kind
            );
        } else {
            tracing::debug!(event = self.event, kind = self.kind, "ignored a Zalo event");
        }
        metrics::counter!(ZALO_EVENTS_IGNORED, "pairing" => crate::telemetry::pairing_label(), "kind" => self.kind).increment(1);
    }
}

/// Zalo billed a send to the OA (outside the free window).
#[derive(Debug)]
pub struct ZaloMessageBilled<'a> {
    /// The message Zalo created.
    pub zalo_msg_id: &'a str,
}

impl InternalEvent for ZaloMessageBilled<'_> {
    fn emit(&self) {
        tracing::debug!(zalo_msg_id = %self.zalo_msg_id, "Zalo billed this message to the OA");
        metrics::counter!(ZALO_BILLED_MESSAGES, "pairing" => crate::telemetry::pairing_label())
            .increment(1);
    }
}

/// A customer rated the help after a resolve (`[csat]`).
#[derive(Debug)]
pub struct CustomerRated<'a> {
    /// 1 to 5.
    pub score: u8,
    /// The resolved conversation.
    pub conversation_id: &'a str,
}

impl InternalEvent for CustomerRated<'_> {
    fn emit(&self) {
        tracing::info!(score = self.score, conversation_id = %self.conversation_id, "the customer rated the help");
        let score = match self.score {
            1 => "1",
            2 => "2",
            3 => "3",
            4 => "4",
            _ => "5",
        };
        metrics::counter!(CSAT_RATINGS, "pairing" => crate::telemetry::pairing_label(), "score" => score)
            .increment(1);
    }
}
