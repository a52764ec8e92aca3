//! The store's small vocabulary: where an event came from, which lane it runs in, and the states of
//! events, journal steps and message pairings. Each is an enum or newtype stored as the same text the
//! schema's CHECK constraints allow, so the strings live here and nowhere else.
//!
//! It is also the store's typed surface for the sync steps: a step's [`StepKind`], the [`Record`]
//! a journalled step pairs when it is sent (a message, a contact, a conversation, or nothing), and
//! the [`Contact`] it reads. No backend type appears in them, so a second backend can take them.

/// Implements `as_str`, `parse` and `Display` for a text-backed enum (the conversions to and from
/// stored values are in `db.rs`, on the backends' side).
macro_rules! text_enum {
    ($ty:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        impl $ty {
            /// The text stored (and shown in status output).
            pub fn as_str(self) -> &'static str {
                match self { $($ty::$variant => $text),+ }
            }
            /// The value for stored text; `None` for text this build does not know.
            pub fn parse(s: &str) -> Option<$ty> {
                match s { $($text => Some($ty::$variant),)+ _ => None }
            }
        }
        impl std::fmt::Display for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

/// The platform an event came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Source {
    /// A Zalo OA webhook or Zalo history.
    Zalo,
    /// A Freshchat webhook or Freshchat history.
    Freshchat,
}
text_enum!(Source { Zalo => "zalo", Freshchat => "freshchat" });

impl Source {
    /// The direction an event from this source is synced in.
    pub fn direction(self) -> Direction {
        match self {
            Source::Zalo => Direction::ToFreshchat,
            Source::Freshchat => Direction::ToZalo,
        }
    }
}

/// How an event reached the inbox: a platform's webhook, the history catch-up, or an operator's
/// backfill (whose messages carry their original time for the agents).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provenance {
    /// Delivered by the platform's webhook.
    Webhook,
    /// Read back from a platform's history by the catch-up.
    History,
    /// Read from Zalo's history by `zfsync backfill` or the console's backfill.
    Backfill,
}
text_enum!(Provenance { Webhook => "webhook", History => "history", Backfill => "backfill" });

/// Where an inbox event stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventState {
    /// Waiting for its lane (possibly for a retry time).
    Pending,
    /// Every step ran.
    Done,
    /// Nothing to do (the reason is kept).
    Ignored,
    /// Failed for good or out of retries; kept for an operator to replay.
    Failed,
}
text_enum!(EventState { Pending => "pending", Done => "done", Ignored => "ignored", Failed => "failed" });

/// Where a journalled external effect stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepState {
    /// The call was (about to be) made; its outcome is unknown until reconciled.
    Sending,
    /// The call took effect; `remote_id` holds what it created.
    Sent,
}
text_enum!(StepState { Sending => "sending", Sent => "sent" });

/// Which way a message went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// From a Zalo user into Freshchat.
    ToFreshchat,
    /// From an agent in Freshchat to the Zalo user.
    ToZalo,
}
text_enum!(Direction { ToFreshchat => "to_freshchat", ToZalo => "to_zalo" });

/// The prefix of Zalo lanes (one per Zalo user).
const ZALO_PREFIX: &str = "zalo:";
/// The prefix of Freshchat lanes (one per Freshchat conversation).
const FRESHCHAT_PREFIX: &str = "fc:";
/// The id used when an event names no user or conversation.
const UNKNOWN: &str = "_";

/// One ordered lane: all events of one Zalo user, or of one Freshchat conversation.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(transparent)]
pub struct Lane(String);

impl Lane {
    /// The lane of a Zalo user (events without a user share one lane).
    pub fn zalo(user_id: Option<&str>) -> Lane {
        Lane(format!("{ZALO_PREFIX}{}", user_id.unwrap_or(UNKNOWN)))
    }
    /// The lane of a Freshchat conversation (events without one share one lane).
    pub fn freshchat(conversation_id: Option<&str>) -> Lane {
        Lane(format!(
            "{FRESHCHAT_PREFIX}{}",
            conversation_id.unwrap_or(UNKNOWN)
        ))
    }
    /// The lane as stored.
    pub fn as_str(&self) -> &str {
        &self.0
    }
    /// The Freshchat conversation of a Freshchat lane.
    pub fn freshchat_conversation(&self) -> Option<&str> {
        self.0
            .strip_prefix(FRESHCHAT_PREFIX)
            .filter(|c| *c != UNKNOWN)
    }
    /// A lane as it was stored.
    pub(super) fn from_stored(stored: String) -> Lane {
        Lane(stored)
    }
    /// The lane shared by Freshchat events that name no conversation.
    pub fn freshchat_unknown() -> Lane {
        Lane::freshchat(None)
    }
}

impl std::fmt::Display for Lane {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// One step of one event in the journal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct JournalKey {
    /// The inbox event.
    pub inbox_id: i64,
    /// The step's position in the event's plan.
    pub idx: i64,
}

pub use zfsync_mappings::StepKind;

/// A Zalo user paired with a Freshchat user.
#[derive(Debug, Clone)]
pub struct Contact {
    /// The Zalo user id.
    pub zalo_user_id: String,
    /// The Freshchat user id.
    pub freshchat_user_id: String,
    /// The Zalo display name.
    pub display_name: String,
    /// The Zalo avatar URL.
    pub avatar: Option<String>,
    /// False while the user was created under a fallback name.
    pub profile_complete: bool,
    /// Whether the user follows the OA, when known.
    pub following: Option<bool>,
    /// When the user first wrote (unix ms).
    pub first_seen_at: i64,
    /// When completing the profile last failed (None: never tried, or it worked).
    pub profile_checked_at: Option<i64>,
}

/// A Zalo message paired with its Freshchat message (either may be unknown).
#[derive(Debug, Clone)]
pub struct MessagePair {
    /// Which way it went.
    pub direction: Direction,
    /// The customer.
    pub zalo_user_id: String,
    /// The Zalo message id.
    pub zalo_msg_id: Option<String>,
    /// The Freshchat message id.
    pub freshchat_message_id: Option<String>,
    /// The first characters of its text, kept for quotes and reactions.
    pub preview: Option<String>,
    /// The customer's own message (posted as the customer): recording it answers their open
    /// rating question, so that a later lone digit is a message again.
    pub from_customer: bool,
}

/// What a journalled step pairs, written in the same transaction that marks it sent.
#[derive(Debug, Clone)]
pub enum Record {
    /// Nothing beyond the journal entry.
    Nothing,
    /// A message pairing.
    Message(MessagePair),
    /// A contact; `clash` lists the Freshchat users (comma-separated) refused for the customer
    /// before a new one was made, for the admins' note.
    Contact {
        /// The contact.
        contact: Contact,
        /// The refused users, if any.
        clash: Option<String>,
    },
    /// A message found in a conversation: the conversation becomes the customer's current one
    /// unless they have one, and the message is paired.
    Conversation {
        /// The Freshchat conversation.
        conversation_id: String,
        /// The message found in it.
        message: MessagePair,
    },
}

/// An error of an external call, as the journal sees it.
pub trait CallOutcome {
    /// True when the call may have taken effect (a timeout, a dropped connection): its journal
    /// entry stays `sending` and is reconciled before the step is tried again.
    fn outcome_unknown(&self) -> bool;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enums_round_trip_through_their_text() {
        for s in [
            EventState::Pending,
            EventState::Done,
            EventState::Ignored,
            EventState::Failed,
        ] {
            assert_eq!(EventState::parse(s.as_str()), Some(s));
        }
        for s in [StepState::Sending, StepState::Sent] {
            assert_eq!(StepState::parse(s.as_str()), Some(s));
        }
        assert_eq!(Direction::parse("to_zalo"), Some(Direction::ToZalo));
        assert_eq!(Source::parse("freshchat"), Some(Source::Freshchat));
        assert_eq!(Source::parse("telegram"), None);
    }

    #[test]
    fn lanes_name_their_conversation() {
        assert_eq!(Lane::zalo(Some("42")).as_str(), "zalo:42");
        assert_eq!(
            Lane::freshchat(Some("c1")).freshchat_conversation(),
            Some("c1")
        );
        assert_eq!(Lane::freshchat_unknown().freshchat_conversation(), None);
        assert_eq!(Lane::zalo(Some("42")).freshchat_conversation(), None);
    }
}
