//! The conformance issue, item by item, end to end: the daemon between both simulators on
//! loopback, each documented behaviour proven by what the simulators received.
//!
//! - [`agent_messages`]: bot private notes stay in Freshchat; quick replies, buttons and dropdowns
//!   become readable Zalo text; what Zalo cannot show is named to the agent; agent HTML keeps its
//!   links and every entity is decoded.
//! - [`attachments`]: what Zalo cannot take is hosted by zfsync (video, audio, zip, a PDF over
//!   5 MB); a PNG over 1 MB is re-encoded to fit Zalo's image upload; url-less file parts; files
//!   posted to Freshchat carry what the upload answered.
//! - [`contacts`]: follow updates merge into the user's properties; an account that refuses the
//!   custom properties; consent withdrawal, profile updates, refused profiles, OA staff echoes.
//! - [`zalo_auth`]: transient and permanent failures at Zalo's token endpoint; the OAuth callback
//!   without `state`.
#![allow(clippy::unwrap_used)]

mod agent_messages;
mod attachments;
mod contacts;
mod zalo_auth;

use zfsync::store::reads::InboxQuery;
use zfsync::store::{InboxRow, Source};
use zfsync::tools::sandbox::Env;

use crate::helpers::inbox;

/// The first stored Freshchat event whose body holds `text` (an agent's message), if any.
pub async fn freshchat_event_with(env: &Env, text: &str) -> Option<InboxRow> {
    let query = InboxQuery {
        source: Some(Source::Freshchat),
        ..InboxQuery::default()
    };
    inbox(env, query)
        .await
        .into_iter()
        .find(|r| String::from_utf8_lossy(&r.body).contains(text))
}

/// The private notes (bot, private) of a conversation, oldest first.
pub fn conversation_notes(env: &Env, conversation_id: &str) -> Vec<String> {
    env.fc_messages(conversation_id)
        .iter()
        .filter(|m| m.is_private_note())
        .map(|m| crate::helpers::texts(m).join("\n"))
        .collect()
}
