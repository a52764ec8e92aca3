//! The mapping engine of zfsync: it turns one platform event, what the store knows about it, and the
//! rules into a [`Plan`]: an ordered list of [`Step`]s for the executor to carry out.
//!
//! It is pure: no I/O, no clock, no randomness. The same inputs always give the same plan, so it is
//! tested with plain values. The documented product rules live as data in `default.toml`
//! ([`Rules::default`]); a customer can load their own copy with [`Rules::from_toml`].
//!
//! # Layout
//! - [`rules`]: the rules file and its validation.
//! - [`load`]: parsing and validating a rules file.
//! - [`agents`], [`agent_text`]: what agents read, in their own language (`[agents] language`).
//! - [`commands`], [`command_plan`]: `/zalo` commands agents type in private notes, and their
//!   answers.
//! - [`zbs`]: the ZBS template messages the operator lists (`[[templates]]`).
//! - [`plan`]: the vocabulary of plans and steps the executor understands.
//! - [`zalo_in`]: Zalo events → steps towards Freshchat.
//! - [`freshchat_in`]: Freshchat events → steps towards Zalo.
//! - [`template`]: `{placeholder}` filling.
//! - [`quota`], [`window`]: what agents are told about Zalo's reply allowance and reply window.
//! - [`redact`]: URLs as logs and notes show them (no query string, no fragment).
//! - [`routing`]: which Freshchat group a new conversation goes to.
//! - [`tags`]: Zalo tags as a Freshchat user property, and the tag commands' wording.
//! - [`csat`]: ratings after resolve.
//! - [`contact_info`]: contact details a customer chose to give (`/zalo ask-info`).
//! - [`properties`]: the user properties the features write, and the admins' note when Freshchat
//!   refuses one.
//! - [`identity`]: the admins' note when a Freshchat user's claim on a customer is refused.
//! - [`html`]: agent HTML to the plain text Zalo shows (links kept, entities decoded).
//!
//! Failure: planning cannot fail. An event the engine has no rule for becomes a plan with no steps
//! and an `ignored` reason, which the daemon records instead of dropping silently.

#![warn(missing_docs)]
pub mod agent_text;
pub mod agents;
pub mod command_plan;
pub mod commands;
pub mod contact_info;
pub mod csat;
pub mod freshchat_in;
pub mod html;
pub mod identity;
pub mod load;
pub mod plan;
pub mod properties;
pub mod quota;
pub mod redact;
pub mod routing;
pub mod rules;
pub mod tags;
pub mod template;
pub mod window;
pub mod zalo_in;
pub mod zbs;

pub use agents::AgentText;
pub use freshchat_in::{plan_freshchat, FreshchatKnowledge};
pub use plan::{
    AskContactInfo, AskedRating, Attachment, EnsureContact, ForgetUser, MediaKind, OutPart, Plan,
    PostToFreshchat, RecordFollow, RecordRating, RecordReceipt, RefreshContact, SaveContactInfo,
    SendTemplate, SendToZalo, Step, StepKind, SyncZaloTags, TagChange, TagCustomer, TemplateValue,
    Visibility, ZaloSend,
};
pub use quota::{closed_note, quota_note, QuotaWindow};
pub use rules::{Rules, RulesError};
pub use window::{display_time, ReplyWindow, WindowTexts};
pub use zalo_in::{plan_zalo, ZaloKnowledge};

/// Counts characters the way a person (and Zalo's 2,000 limit) does: Unicode scalar values.
pub fn char_count(text: &str) -> usize {
    text.chars().count()
}
