//! States the daemon reaches only through a crash, a refresh made elsewhere or the passing of
//! time, put into its store directly. Each is one named change to the file (the only SQL the
//! tests write); every read goes through the store's named reads or the `--json` commands.
#![allow(clippy::unwrap_used)]

use rusqlite::Connection;
use zfsync::tools::sandbox::Env;

use crate::helpers::STORE_FILE;

fn open(env: &Env) -> Connection {
    Connection::open(env.dir.path().join(STORE_FILE)).unwrap()
}

/// A crash between each message's call and its journal entry, in both directions: the sends'
/// steps back to `sending` without a remote id, their pairings gone, their events pending and
/// due. Returns how many steps were rewound.
pub fn rewind_sends_to_before_their_journal_entry(env: &Env) -> usize {
    let conn = open(env);
    let rewound = conn
        .execute(
            "UPDATE steps SET state = 'sending', remote_id = NULL WHERE kind IN ('post_freshchat', 'send_zalo')",
            [],
        )
        .unwrap();
    conn.execute("DELETE FROM messages", []).unwrap();
    conn.execute(
        "UPDATE inbox SET state = 'pending', next_attempt_at = 0 WHERE id IN (SELECT inbox_id FROM steps WHERE kind IN ('post_freshchat', 'send_zalo'))",
        [],
    )
    .unwrap();
    rewound
}

/// The last agent message sent to Zalo ends `failed` after its send (as if a later step had
/// failed). Returns how many events changed.
pub fn fail_the_last_reply_after_its_send(env: &Env) -> usize {
    open(env)
        .execute(
            "UPDATE inbox SET state = 'failed' WHERE source = 'freshchat' AND event_name = 'message_create' AND state = 'done' AND id = (SELECT MAX(inbox_id) FROM steps WHERE kind = 'send_zalo')",
            [],
        )
        .unwrap()
}

/// Every contact's profile was last checked an hour earlier than recorded.
pub fn age_profile_checks_by_an_hour(env: &Env) {
    open(env)
        .execute(
            "UPDATE contacts SET profile_checked_at = profile_checked_at - 3600 * 1000",
            [],
        )
        .unwrap();
}

/// The stored refresh token becomes `value`, one Zalo no longer accepts (used by a refresh made
/// elsewhere, or three months old).
pub fn replace_refresh_token(env: &Env, value: &str) {
    open(env)
        .execute(
            "UPDATE tokens SET refresh_token = ?1 WHERE pairing = 'default'",
            [value],
        )
        .unwrap();
}

/// Every pending OAuth attempt has expired (started over 15 minutes ago).
pub fn expire_oauth_attempts(env: &Env) {
    open(env)
        .execute("UPDATE oauth_attempts SET expires_at = 0", [])
        .unwrap();
}

/// The hosted file behind `token` has expired. Returns how many files changed.
pub fn expire_hosted_file(env: &Env, token: &str) -> usize {
    open(env)
        .execute(
            "UPDATE hosted_files SET expires_at = 0 WHERE token = ?1",
            [token],
        )
        .unwrap()
}
