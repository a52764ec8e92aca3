//! What agents read, in their own language: every text zfsync writes to agents in Freshchat (the
//! notes, the words around a customer's message, the answers to `/zalo` commands) comes in the
//! language `[agents] language` names (the configuration's `[mapping] agent_language` overrides it),
//! apart from the language customers read on Zalo (`freshchat_to_zalo.language`).
//!
//! Each section of the rules keeps its agent texts per language in `texts.<language>` tables. A
//! text is looked up in this order: a single text set in the section itself (how rules copies
//! written before there were languages still load: their English texts then win in every language),
//! the file's table for the agents' language, the built-in table for it, the built-in Vietnamese.
//! Looking up never fails ([`crate::agent_text`]); loading the rules makes sure the language has
//! texts at all. This module holds the tables' types.

use std::collections::BTreeMap;

use serde::Deserialize;

/// The language agents read (table `[agents]`).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AgentRules {
    /// `vi`, `en`, or a language the file gives texts for.
    #[serde(default = "default_agent_language")]
    pub language: String,
}

impl Default for AgentRules {
    fn default() -> Self {
        AgentRules {
            language: default_agent_language(),
        }
    }
}

/// The agents' language when nothing says otherwise.
pub fn default_agent_language() -> String {
    "vi".into()
}

/// The agent texts of `[zalo_to_freshchat]` in one language; a key missing here comes from the
/// built-in rules.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ZaloToFreshchatTexts {
    /// A shared location: `{latitude}`, `{longitude}`.
    pub location: Option<String>,
    /// A shared location with a name: `{title}`, `{latitude}`, `{longitude}`.
    pub location_with_title: Option<String>,
    /// A shared business card: `{name}`.
    pub business_card: Option<String>,
    /// Posted in place of media that could not be copied: `{kind}`, `{reason}`.
    pub media_failed: Option<String>,
    /// The private note beside it: `{kind}`, `{reason}`, `{url}`.
    pub media_failed_note: Option<String>,
    /// A customer's reaction to a known message: `{icon}`, `{quoted}`.
    pub reaction_note: Option<String>,
    /// A reaction to a message zfsync does not know: `{icon}`.
    pub reaction_note_unknown: Option<String>,
    /// Text OA staff sent from Zalo's own chat tool: `{text}`.
    pub staff_note: Option<String>,
    /// Media OA staff sent from Zalo's own chat tool: `{kind}`, `{url}`.
    pub staff_media_note: Option<String>,
    /// Text another app sent to the customer through the OA: `{text}`.
    pub other_app_note: Option<String>,
}

/// The agent notes of `[freshchat_to_zalo]` in one language (`[freshchat_to_zalo.notes.<lang>]`).
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FreshchatToZaloNotes {
    /// What Zalo could not show of an agent's message: `{parts}`.
    pub undelivered_note: Option<String>,
}

/// The agent texts of `[zalo_events]` in one language.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ZaloEventsTexts {
    /// `user_withdraw`: the private note posted before zfsync forgets the user.
    pub withdraw_note: Option<String>,
    /// A template message the OA sent (`oa_send_template`): `{text}`.
    pub template: Option<String>,
    /// The same with its link: `{text}`, `{url}`.
    pub template_with_url: Option<String>,
}

/// Private notes explaining Zalo errors (table `[zalo_errors]`): single texts keyed by error code
/// (or `default`) that win in every language, and `texts.<language>` tables of the same keys.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
pub struct ZaloErrors {
    /// The notes per language; `{code}`, `{message}`.
    #[serde(default)]
    pub texts: BTreeMap<String, BTreeMap<String, String>>,
    /// Single texts, whatever the language (older copies of the rules have only these).
    #[serde(flatten)]
    pub overrides: BTreeMap<String, String>,
}

/// One agent text with a single-text override in its section; looked up by
/// `Rules::agent_text` ([`crate::agent_text`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AgentText {
    /// `zalo_to_freshchat` `location`.
    Location,
    /// `zalo_to_freshchat` `location_with_title`.
    LocationWithTitle,
    /// `zalo_to_freshchat` `business_card`.
    BusinessCard,
    /// `zalo_to_freshchat` `media_failed`.
    MediaFailed,
    /// `zalo_to_freshchat` `media_failed_note`.
    MediaFailedNote,
    /// `zalo_to_freshchat` `reaction_note`.
    ReactionNote,
    /// `zalo_to_freshchat` `reaction_note_unknown`.
    ReactionNoteUnknown,
    /// `zalo_to_freshchat` `staff_note`.
    StaffNote,
    /// `zalo_to_freshchat` `staff_media_note`.
    StaffMediaNote,
    /// `zalo_to_freshchat` `other_app_note`.
    OtherAppNote,
    /// `freshchat_to_zalo` `undelivered_note`.
    UndeliveredNote,
    /// `zalo_events` `withdraw_note`.
    WithdrawNote,
    /// `zalo_events` `template`.
    EventTemplate,
    /// `zalo_events` `template_with_url`.
    EventTemplateWithUrl,
    /// `quota` `last_free_reply_note`.
    LastFreeReplyNote,
    /// `quota` `billed_note` (single text) / `billed_unknown_note` (per language).
    BilledUnknownNote,
}

impl AgentText {
    /// Every agent text with an override (for checks that each language has them all).
    pub const ALL: [AgentText; 16] = [
        AgentText::Location,
        AgentText::LocationWithTitle,
        AgentText::BusinessCard,
        AgentText::MediaFailed,
        AgentText::MediaFailedNote,
        AgentText::ReactionNote,
        AgentText::ReactionNoteUnknown,
        AgentText::StaffNote,
        AgentText::StaffMediaNote,
        AgentText::OtherAppNote,
        AgentText::UndeliveredNote,
        AgentText::WithdrawNote,
        AgentText::EventTemplate,
        AgentText::EventTemplateWithUrl,
        AgentText::LastFreeReplyNote,
        AgentText::BilledUnknownNote,
    ];
}
