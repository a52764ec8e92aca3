//! The plan vocabulary: what the executor can do. A step names an effect, never how to do the I/O.

use serde::{Deserialize, Serialize};

/// An ordered list of steps for one event. No steps means the event is recorded as ignored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// What to do, in order (each step journalled and run once).
    pub steps: Vec<Step>,
    /// Why nothing is done (set when `steps` is empty).
    pub ignored: Option<String>,
    /// The event must wait: an own send to Zalo is in flight and this may be its echo.
    pub defer: bool,
    /// An agent's attachment arrived without a URL: re-read the message from Freshchat's API
    /// (`GET /v2/conversations/{id}/messages`), then plan it again with
    /// `FreshchatKnowledge::message_reread` set. No steps come with it.
    #[serde(default)]
    pub reread_message: bool,
}

impl Plan {
    /// Nothing to do, and why (recorded with the event).
    pub fn ignore(reason: impl Into<String>) -> Self {
        Plan {
            steps: Vec::new(),
            ignored: Some(reason.into()),
            defer: false,
            reread_message: false,
        }
    }
    /// These steps, in order.
    pub fn steps(steps: Vec<Step>) -> Self {
        Plan {
            steps,
            ignored: None,
            defer: false,
            reread_message: false,
        }
    }
    /// Not now: the event waits for an own send to Zalo to be recorded (see `defer`).
    pub fn defer() -> Self {
        Plan {
            steps: Vec::new(),
            ignored: None,
            defer: true,
            reread_message: false,
        }
    }
    /// Re-read the message through the API before planning it (see `reread_message`).
    pub fn reread() -> Self {
        Plan {
            steps: Vec::new(),
            ignored: None,
            defer: false,
            reread_message: true,
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

/// What kind of media a customer sent on Zalo.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum MediaKind {
    /// A photo.
    Image,
    /// An animated GIF.
    Gif,
    /// A Zalo sticker (an image on Zalo's CDN).
    Sticker,
    /// A voice message.
    Audio,
    /// A video.
    Video,
    /// Any other file.
    File,
}

impl MediaKind {
    /// How notes and fallback texts name it ("voice message", "GIF", …).
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
    /// Text, posted as it is.
    Text(String),
    /// Media to download from Zalo and upload to Freshchat. When that fails, the executor posts
    /// `fallback_text` in its place and a private note built from `failure_note`.
    Media {
        /// What it is.
        kind: MediaKind,
        /// Where Zalo serves it (expires after a while).
        url: String,
        /// The file name Zalo gave, if any.
        filename: Option<String>,
        /// The size Zalo announced, if any.
        size: Option<u64>,
        /// Larger media are not transferred (`zalo_to_freshchat.max_media_bytes`).
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
    /// A text message within Zalo's limit.
    Text(String),
    /// Over the limit: sent as a `.txt` file (Zalo upload if accepted, else hosted by zfsync and
    /// announced by `link_text`, a template with `{url}`).
    LongText {
        /// The whole reply.
        text: String,
        /// The file's name (`freshchat_to_zalo.long_text_filename`).
        filename: String,
        /// Sent with a hosted file's link (template with `{url}`).
        link_text: String,
    },
    /// Any attachment of an agent's message (image, GIF, file, video, audio, sticker), with all the
    /// executor needs to deliver it. The executor decides at run time: Zalo's upload when Zalo takes
    /// the file (re-encoding an image over 1 MB), otherwise zfsync hosts the file and sends
    /// `link_text` with `{url}` = zfsync's own link, never the Freshchat URL (which needs the API key).
    Attachment(Attachment),
}

// ---- Freshchat → Zalo attachments ---------------------------------------------------------------

/// An agent's attachment to deliver on Zalo.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Attachment {
    /// What it is, from the part kind, its content type and its name.
    pub kind: MediaKind,
    /// The part's `url` (on the API host it needs the key: the Freshchat client handles that).
    pub url: Option<String>,
    /// The part's `download_url`, used when there is no `url`.
    pub download_url: Option<String>,
    /// File name, when known.
    pub name: Option<String>,
    /// MIME type, when known.
    pub content_type: Option<String>,
    /// Size in bytes, when known.
    pub size: Option<u64>,
    /// Text sent when zfsync hosts the file itself: a template with `{url}` (zfsync's link); the
    /// name is already filled in.
    pub link_text: String,
}

impl Attachment {
    /// Where to fetch the file: `url`, else `download_url`.
    pub fn source_url(&self) -> Option<&str> {
        self.url.as_deref().or(self.download_url.as_deref())
    }
}

/// Make sure the Zalo user has a Freshchat user (store → `reference_id` search → create).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EnsureContact {
    /// The Zalo user.
    pub zalo_user_id: String,
    /// The OA the user wrote to.
    pub oa_id: String,
    /// The Freshchat `reference_id` (finds the user again after a lost store).
    pub reference_id: String,
    /// Template with `{display_name}`.
    pub first_name: String,
    /// The last name ("Zalo").
    pub last_name: String,
    /// The name used while Zalo refuses the profile.
    pub fallback_display_name: String,
    /// The `external_user_provider` property value.
    pub provider: String,
    /// An anonymous chat-widget visitor: named by `fallback_display_name`, marked with the
    /// `zalo_anonymous` property, and never looked up with Zalo's `user/detail` (they have no
    /// profile).
    #[serde(default)]
    pub anonymous: bool,
}

/// Post a message in the contact's current Freshchat conversation (created when there is none).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PostToFreshchat {
    /// The Zalo user whose conversation it goes to.
    pub zalo_user_id: String,
    /// The Zalo message this comes from, for the id pairing (None for notes without one).
    pub zalo_msg_id: Option<String>,
    /// As the customer, or as a private note.
    pub visibility: Visibility,
    /// The parts.
    pub parts: Vec<OutPart>,
}

/// Send one message to a Zalo user.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SendToZalo {
    /// The recipient.
    pub zalo_user_id: String,
    /// The Freshchat message it comes from (None for zfsync's own notices).
    pub freshchat_message_id: Option<String>,
    /// What to send.
    pub message: ZaloSend,
}

/// Record the follow state (store and Freshchat user property).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordFollow {
    /// The Zalo user.
    pub zalo_user_id: String,
    /// Follows the OA now.
    pub following: bool,
}

/// Record delivery/read receipts for messages zfsync sent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordReceipt {
    /// The Zalo user.
    pub zalo_user_id: String,
    /// The messages.
    pub msg_ids: Vec<String>,
    /// Seen (true) or delivered (false).
    pub seen: bool,
}

/// The user's Zalo profile changed (`update_user_info`): read it again and update the name and
/// avatar of their Freshchat user. Only for a contact zfsync already knows; a profile change never
/// creates a contact.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RefreshContact {
    /// The user whose profile changed.
    pub zalo_user_id: String,
}

/// The user withdrew consent on Zalo (`user_withdraw`, a data-subject request). First `note` is
/// posted as a private note in the user's current Freshchat conversation, when zfsync knows one
/// (nothing is created for it); then everything zfsync holds about the user is deleted: the contact
/// row, message previews and pairings, hosted files, and the user's pending events.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ForgetUser {
    /// The user to forget.
    pub zalo_user_id: String,
    /// The private note for agents (rule `zalo_events.withdraw_note`).
    pub note: String,
}

/// A change of the OA's Zalo tags (`add_user_to_tag`, `remove_user_from_tag`, `remove_tag`), to
/// carry into the customers' Freshchat tag property (`[tags]`). Only customers zfsync knows are
/// touched; a customer it meets later gets their tags from `user/detail`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SyncZaloTags {
    /// The customers the event names (none for a deleted tag: every customer who had it).
    pub zalo_user_ids: Vec<String>,
    /// What changed.
    pub change: TagChange,
}

/// What changed in the OA's tags.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum TagChange {
    /// The customers got this tag.
    Added(String),
    /// The customers lost this tag.
    Removed(String),
    /// The OA deleted this tag: every customer lost it.
    Deleted(String),
}

impl TagChange {
    /// The tag's name.
    pub fn tag(&self) -> &str {
        match self {
            TagChange::Added(t) | TagChange::Removed(t) | TagChange::Deleted(t) => t,
        }
    }
}

/// Tag (`add`) or untag a customer on Zalo for an agent (`/zalo tag|untag <name>`), then answer
/// the agent in the conversation the command was typed in. Tagging is idempotent on Zalo, so a
/// retry needs no reconciling.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TagCustomer {
    /// The customer.
    pub zalo_user_id: String,
    /// Where the command was typed (the answer goes there).
    pub conversation_id: String,
    /// The tag.
    pub tag: String,
    /// Tag (true) or untag.
    pub add: bool,
}

/// Remember that the customer was just asked for a rating (after the resolve notice carrying the
/// question was sent): a lone digit from them within `csat.window_hours` is then the rating.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AskedRating {
    /// The customer.
    pub zalo_user_id: String,
    /// The conversation that was resolved (the rating's note goes there).
    pub conversation_id: String,
}

/// Record a customer's rating (`[csat]`): a private note in the resolved conversation, the
/// Freshchat user property, the store (for the console's daily average), the metric. No
/// conversation is opened for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordRating {
    /// The customer.
    pub zalo_user_id: String,
    /// The conversation the question was asked in.
    pub conversation_id: String,
    /// 1 to 5.
    pub score: u8,
    /// The private note, filled.
    pub note: String,
    /// The Freshchat user property to set ("" for none).
    pub property: String,
}

/// Send Zalo's request-user-info template (an agent's `/zalo ask-info`), then answer the agent in
/// the conversation the command was typed in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AskContactInfo {
    /// The recipient.
    pub zalo_user_id: String,
    /// Where the command was typed (the answer goes there).
    pub conversation_id: String,
    /// The command note's Freshchat message id.
    pub freshchat_message_id: String,
    /// The template's title (≤ 100 characters).
    pub title: String,
    /// The template's subtitle (≤ 500 characters).
    pub subtitle: String,
    /// The template's image ("" for none).
    pub image_url: String,
    /// The answer when sent.
    pub asked_note: String,
    /// The answer when not sent: a template with `{reason}`.
    pub failed_note: String,
}

/// The contact details a customer chose to give (`user_submit_info`): fill the Freshchat user's
/// fields the rules switch on, remember which (so a withdrawal erases them), and tell the agents.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SaveContactInfo {
    /// The customer.
    pub zalo_user_id: String,
    /// The name to set as the user's first name, when given and switched on.
    pub name: Option<String>,
    /// The phone, when given and switched on.
    pub phone: Option<String>,
    /// The email, when given and switched on.
    pub email: Option<String>,
    /// The address, when given and a property is named.
    pub address: Option<String>,
    /// The property for the address.
    pub address_property: String,
    /// The private note, with `{fields}` still to fill (what Freshchat took).
    pub note: String,
}

/// A value of a ZBS template parameter, as the plan knows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum TemplateValue {
    /// Known now (typed by the agent, or fixed in the rules).
    Text(String),
    /// A property of the customer's Freshchat user, read when the step runs: `first_name`,
    /// `last_name`, or a user property's name.
    UserProperty(String),
}

/// Send an approved ZBS template message to a Zalo user (an agent's `/zalo template` command),
/// then answer the agent in the conversation the command was typed in: sent (with the text the
/// customer reads), a parameter without a value, or Zalo's refusal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SendTemplate {
    /// The recipient.
    pub zalo_user_id: String,
    /// Where the command was typed (the answer goes there).
    pub conversation_id: String,
    /// The command note's Freshchat message id.
    pub freshchat_message_id: String,
    /// The template's name in the rules.
    pub name: String,
    /// Zalo's template id.
    pub template_id: String,
    /// `template_data`: parameter → value.
    pub values: std::collections::BTreeMap<String, TemplateValue>,
    /// The text as the customer reads it, with `{parameter}` placeholders.
    pub text: String,
    /// The answer when sent: a template with `{text}`.
    pub sent_note: String,
    /// The answer when a user property has no value: a template with `{params}` and
    /// `{properties}` (the empty properties of the customer's Freshchat user).
    pub missing_note: String,
    /// The answer when Zalo refused: a template with `{reason}`.
    pub failed_note: String,
    /// The `{reason}` when Zalo refused the template's id (-201 "template_id is invalid!").
    #[serde(default)]
    pub id_refused_note: String,
    /// The `{reason}` when Zalo refused a parameter (-201 "template_data.<key> is invalid!"): a
    /// template with `{param}`.
    #[serde(default)]
    pub param_refused_note: String,
}

/// One effect of a plan; each kind is its own struct, so the daemon runs and reconciles each
/// kind in its own code.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Step {
    /// See [`EnsureContact`].
    EnsureContact(EnsureContact),
    /// See [`PostToFreshchat`].
    PostToFreshchat(PostToFreshchat),
    /// See [`SendToZalo`].
    SendToZalo(SendToZalo),
    /// See [`RecordFollow`].
    RecordFollow(RecordFollow),
    /// See [`RecordReceipt`].
    RecordReceipt(RecordReceipt),
    /// See [`RefreshContact`].
    RefreshContact(RefreshContact),
    /// See [`ForgetUser`].
    ForgetUser(ForgetUser),
    /// See [`SyncZaloTags`].
    SyncZaloTags(SyncZaloTags),
    /// See [`SendTemplate`].
    SendTemplate(SendTemplate),
    /// See [`TagCustomer`].
    TagCustomer(TagCustomer),
    /// See [`AskedRating`].
    AskedRating(AskedRating),
    /// See [`RecordRating`].
    RecordRating(RecordRating),
    /// See [`AskContactInfo`].
    AskContactInfo(AskContactInfo),
    /// See [`SaveContactInfo`].
    SaveContactInfo(SaveContactInfo),
}

/// The kind of a step: its short, stable name in the journal and logs, spelled here only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StepKind {
    /// [`EnsureContact`].
    EnsureContact,
    /// [`PostToFreshchat`] visible to the agents.
    PostFreshchat,
    /// [`PostToFreshchat`] as a private note.
    PostFreshchatNote,
    /// [`SendToZalo`].
    SendZalo,
    /// [`RecordFollow`].
    RecordFollow,
    /// [`RecordReceipt`].
    RecordReceipt,
    /// [`RefreshContact`].
    RefreshContact,
    /// [`ForgetUser`].
    ForgetUser,
    /// [`SyncZaloTags`].
    SyncZaloTags,
    /// [`SendTemplate`].
    SendTemplate,
    /// [`TagCustomer`].
    TagCustomer,
    /// [`AskedRating`].
    AskedRating,
    /// [`RecordRating`].
    RecordRating,
    /// [`AskContactInfo`].
    AskContactInfo,
    /// [`SaveContactInfo`].
    SaveContactInfo,
}

impl StepKind {
    /// The name stored in the journal.
    pub fn as_str(self) -> &'static str {
        match self {
            StepKind::EnsureContact => "ensure_contact",
            StepKind::PostFreshchat => "post_freshchat",
            StepKind::PostFreshchatNote => "post_freshchat_note",
            StepKind::SendZalo => "send_zalo",
            StepKind::RecordFollow => "record_follow",
            StepKind::RecordReceipt => "record_receipt",
            StepKind::RefreshContact => "refresh_contact",
            StepKind::ForgetUser => "forget_user",
            StepKind::SyncZaloTags => "sync_zalo_tags",
            StepKind::SendTemplate => "send_zalo_template",
            StepKind::TagCustomer => "tag_customer",
            StepKind::AskedRating => "asked_rating",
            StepKind::RecordRating => "record_rating",
            StepKind::AskContactInfo => "ask_contact_info",
            StepKind::SaveContactInfo => "save_contact_info",
        }
    }
}

impl std::fmt::Display for StepKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Step {
    /// The step's kind (its name in the journal and logs).
    pub fn kind(&self) -> StepKind {
        match self {
            Step::EnsureContact(_) => StepKind::EnsureContact,
            Step::PostToFreshchat(p) => match p.visibility {
                Visibility::Customer => StepKind::PostFreshchat,
                Visibility::PrivateNote => StepKind::PostFreshchatNote,
            },
            Step::SendToZalo(_) => StepKind::SendZalo,
            Step::RecordFollow(_) => StepKind::RecordFollow,
            Step::RecordReceipt(_) => StepKind::RecordReceipt,
            Step::RefreshContact(_) => StepKind::RefreshContact,
            Step::ForgetUser(_) => StepKind::ForgetUser,
            Step::SyncZaloTags(_) => StepKind::SyncZaloTags,
            Step::SendTemplate(_) => StepKind::SendTemplate,
            Step::TagCustomer(_) => StepKind::TagCustomer,
            Step::AskedRating(_) => StepKind::AskedRating,
            Step::RecordRating(_) => StepKind::RecordRating,
            Step::AskContactInfo(_) => StepKind::AskContactInfo,
            Step::SaveContactInfo(_) => StepKind::SaveContactInfo,
        }
    }

    /// Whether the step has an effect outside the store (and so is journalled as sending/sent).
    pub fn is_external(&self) -> bool {
        !matches!(self, Step::RecordReceipt(_) | Step::AskedRating(_))
    }
}
