//! The plan vocabulary: what the executor can do. A step names an effect, never how to do the I/O.

use serde::{Deserialize, Serialize};

/// An ordered list of steps for one event. No steps means the event is recorded as ignored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub steps: Vec<Step>,
    /// Why nothing is done (set when `steps` is empty).
    pub ignored: Option<String>,
    /// The event must wait: an own send to Zalo is in flight and this may be its echo.
    pub defer: bool,
}

impl Plan {
    pub fn ignore(reason: impl Into<String>) -> Self {
        Plan {
            steps: Vec::new(),
            ignored: Some(reason.into()),
            defer: false,
        }
    }
    pub fn steps(steps: Vec<Step>) -> Self {
        Plan {
            steps,
            ignored: None,
            defer: false,
        }
    }
    pub fn defer() -> Self {
        Plan {
            steps: Vec::new(),
            ignored: None,
            defer: true,
        }
    }
}

/// Who sees a Freshchat message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Visibility {
    /// Posted as the customer (actor `user`, normal message).
    Customer,
    /// A private note for agents (actor `bot`, message type `private`).
    PrivateNote,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum MediaKind {
    Image,
    Gif,
    Sticker,
    Audio,
    Video,
    File,
}

impl MediaKind {
    pub fn label(self) -> &'static str {
        match self {
            MediaKind::Image => "image",
            MediaKind::Gif => "GIF",
            MediaKind::Sticker => "sticker",
            MediaKind::Audio => "voice message",
            MediaKind::Video => "video",
            MediaKind::File => "file",
        }
    }
}

/// One part of a message towards Freshchat.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum OutPart {
    Text(String),
    /// Media to download from Zalo and upload to Freshchat. When that fails, the executor posts
    /// `fallback_text` in its place and a private note built from `failure_note`.
    Media {
        kind: MediaKind,
        url: String,
        filename: Option<String>,
        size: Option<u64>,
        max_bytes: u64,
        /// Template with `{reason}`.
        fallback_text: String,
        /// Template with `{reason}`.
        failure_note: String,
    },
}

/// One message towards Zalo.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ZaloSend {
    Text(String),
    /// Over the limit: sent as a `.txt` file (Zalo upload if accepted, else hosted by zfsync and
    /// announced by `link_text`, a template with `{url}`).
    LongText {
        text: String,
        filename: String,
        link_text: String,
    },
    /// An image at a Freshchat URL: uploaded to Zalo when it fits (jpg/png ≤ 1 MB, gif ≤ 5 MB),
    /// otherwise sent by URL; `link_text` (template with `{url}`) if all else fails.
    Image {
        url: String,
        link_text: String,
    },
    /// A file at a Freshchat URL: PDF/DOC/DOCX go through Zalo's file upload, anything else is sent
    /// as `link_text` (template with `{url}`).
    File {
        url: String,
        name: String,
        link_text: String,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Step {
    /// Make sure the Zalo user has a Freshchat user (store → `reference_id` search → create).
    EnsureContact {
        zalo_user_id: String,
        oa_id: String,
        reference_id: String,
        /// Template with `{display_name}`.
        first_name: String,
        last_name: String,
        fallback_display_name: String,
        provider: String,
    },
    /// Post a message in the contact's current Freshchat conversation (created when there is none).
    PostToFreshchat {
        zalo_user_id: String,
        /// The Zalo message this comes from, for the id pairing (None for notes without one).
        zalo_msg_id: Option<String>,
        visibility: Visibility,
        parts: Vec<OutPart>,
    },
    /// Send one message to a Zalo user (reply to the Freshchat message `freshchat_message_id`).
    SendToZalo {
        zalo_user_id: String,
        freshchat_message_id: Option<String>,
        message: ZaloSend,
    },
    /// Record the follow state (store and Freshchat user property).
    RecordFollow {
        zalo_user_id: String,
        following: bool,
    },
    /// Record delivery/read receipts for messages zfsync sent.
    RecordReceipt {
        zalo_user_id: String,
        msg_ids: Vec<String>,
        seen: bool,
    },
    // Zalo user-management events (zalo_in).
    /// The user's Zalo profile changed (`update_user_info`): read it again and update the name and
    /// avatar of their Freshchat user. Only for a contact zfsync already knows; a profile change never
    /// creates a contact.
    RefreshContact {
        /// The user whose profile changed.
        zalo_user_id: String,
    },
    /// The user withdrew consent on Zalo (`user_withdraw`, a data-subject request). First `note` is
    /// posted as a private note in the user's current Freshchat conversation, when zfsync knows one
    /// (nothing is created for it); then everything zfsync holds about the user is deleted: the contact
    /// row, message previews and pairings, hosted files, and the user's pending events.
    ForgetUser {
        /// The user to forget.
        zalo_user_id: String,
        /// The private note for agents (rule `zalo_events.withdraw_note`).
        note: String,
    },
}

impl Step {
    /// A short, stable name for the journal and logs.
    pub fn kind(&self) -> &'static str {
        match self {
            Step::EnsureContact { .. } => "ensure_contact",
            Step::PostToFreshchat {
                visibility: Visibility::Customer,
                ..
            } => "post_freshchat",
            Step::PostToFreshchat {
                visibility: Visibility::PrivateNote,
                ..
            } => "post_freshchat_note",
            Step::SendToZalo { .. } => "send_zalo",
            Step::RecordFollow { .. } => "record_follow",
            Step::RecordReceipt { .. } => "record_receipt",
            Step::RefreshContact { .. } => "refresh_contact",
            Step::ForgetUser { .. } => "forget_user",
        }
    }

    /// Whether the step has an effect outside the store (and so is journalled as sending/sent).
    pub fn is_external(&self) -> bool {
        !matches!(self, Step::RecordReceipt { .. })
    }
}
