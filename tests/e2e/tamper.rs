//! States the daemon reaches only through a crash, a refresh made elsewhere or the passing of
//! time, put into its store directly. Each is one named change to the store (the only SQL the
//! tests write), on the SQLite file or the PostgreSQL database the environment uses; every read
//! goes through the store's named reads or the `--json` commands.
#![allow(clippy::unwrap_used)]

use zfsync::tools::sandbox::Env;

/// Runs one statement (SQLite's `?N` parameters, all text) on the environment's store; returns
/// the rows it changed.
fn exec(env: &Env, sql: &str, params: &[&str]) -> usize {
    let config = env.config().unwrap();
    match &config.store.url {
        None => rusqlite::Connection::open(&config.store.path)
            .unwrap()
            .execute(sql, rusqlite::params_from_iter(params))
            .unwrap(),
        Some(url) => {
            let url = secrecy::ExposeSecret::expose_secret(url).to_string();
            let mut pg = sql.to_string();
            for i in (1..=params.len()).rev() {
                pg = pg.replace(&format!("?{i}"), &format!("${i}"));
            }
            let params: Vec<String> = params.iter().map(|p| p.to_string()).collect();
            // The blocking client runs its own runtime: not on the test's.
            std::thread::spawn(move || {
                let mut client = postgres::Client::connect(&url, postgres::NoTls).unwrap();
                let refs: Vec<&(dyn postgres::types::ToSql + Sync)> = params
                    .iter()
                    .map(|p| p as &(dyn postgres::types::ToSql + Sync))
                    .collect();
                client.execute(pg.as_str(), &refs).unwrap() as usize
            })
            .join()
            .unwrap()
        }
    }
}

/// A crash between each message's call and its journal entry, in both directions: the sends'
/// steps back to `sending` without a remote id, their pairings gone, their events pending and
/// due. Returns how many steps were rewound.
pub fn rewind_sends_to_before_their_journal_entry(env: &Env) -> usize {
    let rewound = exec(
        env,
        "UPDATE steps SET state = 'sending', remote_id = NULL WHERE kind IN ('post_freshchat', 'send_zalo')",
        &[],
    );
    exec(env, "DELETE FROM messages", &[]);
    exec(
        env,
        "UPDATE inbox SET state = 'pending', next_attempt_at = 0 WHERE id IN (SELECT inbox_id FROM steps WHERE kind IN ('post_freshchat', 'send_zalo'))",
        &[],
    );
    rewound
}

/// The last agent message sent to Zalo ends `failed` after its send (as if a later step had
/// failed). Returns how many events changed.
pub fn fail_the_last_reply_after_its_send(env: &Env) -> usize {
    exec(env, "UPDATE inbox SET state = 'failed' WHERE source = 'freshchat' AND event_name = 'message_create' AND state = 'done' AND id = (SELECT MAX(inbox_id) FROM steps WHERE kind = 'send_zalo')", &[])
}

/// Every contact's profile was last checked an hour earlier than recorded.
pub fn age_profile_checks_by_an_hour(env: &Env) {
    exec(
        env,
        "UPDATE contacts SET profile_checked_at = profile_checked_at - 3600 * 1000",
        &[],
    );
}

/// The stored refresh token becomes `value`, one Zalo no longer accepts (used by a refresh made
/// elsewhere, or three months old).
pub fn replace_refresh_token(env: &Env, value: &str) {
    exec(
        env,
        "UPDATE tokens SET refresh_token = ?1 WHERE pairing = 'default'",
        &[value],
    );
}

/// Every pending OAuth attempt has expired (started over 15 minutes ago).
pub fn expire_oauth_attempts(env: &Env) {
    exec(env, "UPDATE oauth_attempts SET expires_at = 0", &[]);
}

/// The hosted file behind `token` has expired. Returns how many files changed.
pub fn expire_hosted_file(env: &Env, token: &str) -> usize {
    exec(
        env,
        "UPDATE hosted_files SET expires_at = 0 WHERE token = ?1",
        &[token],
    )
}

/// Every finished event (synced, ignored or failed) was received and finished `hours` earlier
/// than recorded, as if that much time had passed since. Returns how many events changed.
pub fn age_finished_events_by_hours(env: &Env, hours: u32) -> usize {
    exec(
        env,
        "UPDATE inbox SET received_at = received_at - CAST(CAST(?1 AS TEXT) AS BIGINT) * 3600000, finished_at = finished_at - CAST(CAST(?1 AS TEXT) AS BIGINT) * 3600000 WHERE finished_at IS NOT NULL",
        &[&hours.to_string()],
    )
}
