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

use zfsync::tools::sandbox::Env;

/// The first column of one row of the daemon's store, as text (`NULL` as `None`).
pub fn store_text(env: &Env, sql: &str) -> Option<String> {
    use rusqlite::types::Value;
    let conn = rusqlite::Connection::open(env.dir.path().join("zfsync.db")).unwrap();
    match conn.query_row(sql, [], |r| r.get::<_, Value>(0)).unwrap() {
        Value::Null => None,
        Value::Integer(i) => Some(i.to_string()),
        Value::Real(f) => Some(f.to_string()),
        Value::Text(t) => Some(t),
        Value::Blob(b) => Some(String::from_utf8_lossy(&b).into_owned()),
    }
}

/// Runs a statement against the daemon's store; returns the rows changed.
pub fn store_exec(env: &Env, sql: &str) -> usize {
    let conn = rusqlite::Connection::open(env.dir.path().join("zfsync.db")).unwrap();
    conn.execute(sql, []).unwrap()
}

/// The private notes (bot, private) of a conversation, oldest first.
pub fn conversation_notes(env: &Env, conversation_id: &str) -> Vec<String> {
    env.fc_messages(conversation_id)
        .iter()
        .filter(|m| m.is_private_note())
        .map(|m| crate::helpers::texts(m).join("\n"))
        .collect()
}
