-- Every row belongs to a pairing (one Zalo OA ↔ one Freshchat account); a store kept before
-- pairings existed is the pairing named 'default'. Each unique key starts with the pairing, so two
-- customers' ids never meet: SQLite cannot change a key in place, so each keyed table is rebuilt
-- (new table, copy, drop, rename) inside this migration's transaction. Tables keyed by a random
-- token (OAuth attempts and tickets, hosted files) keep their key and gain the column.

-- tokens: one row per pairing (was: the single row id = 1).
CREATE TABLE tokens_new (
    pairing            TEXT PRIMARY KEY,
    oa_id              TEXT,
    access_token       TEXT NOT NULL,
    refresh_token      TEXT NOT NULL,
    access_expires_at  INTEGER NOT NULL,
    refresh_expires_at INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL,
    needs_reauth       TEXT,
    token_error        TEXT,
    token_error_code   INTEGER,
    token_error_since  INTEGER,
    generation         INTEGER NOT NULL DEFAULT 0
) STRICT;
INSERT INTO tokens_new
SELECT 'default', oa_id, access_token, refresh_token, access_expires_at, refresh_expires_at,
       updated_at, needs_reauth, token_error, token_error_code, token_error_since, generation
  FROM tokens;
DROP TABLE tokens;
ALTER TABLE tokens_new RENAME TO tokens;

ALTER TABLE oauth_attempts ADD COLUMN pairing TEXT NOT NULL DEFAULT 'default';
ALTER TABLE oauth_tickets ADD COLUMN pairing TEXT NOT NULL DEFAULT 'default';
ALTER TABLE hosted_files ADD COLUMN pairing TEXT NOT NULL DEFAULT 'default';

CREATE TABLE contacts_new (
    pairing            TEXT NOT NULL,
    zalo_user_id       TEXT NOT NULL,
    freshchat_user_id  TEXT NOT NULL,
    display_name       TEXT NOT NULL,
    avatar             TEXT,
    profile_complete   INTEGER NOT NULL DEFAULT 0,
    profile_checked_at INTEGER,
    following          INTEGER,
    first_seen_at      INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL,
    PRIMARY KEY (pairing, zalo_user_id),
    UNIQUE (pairing, freshchat_user_id)
) STRICT;
INSERT INTO contacts_new
SELECT 'default', zalo_user_id, freshchat_user_id, display_name, avatar, profile_complete,
       profile_checked_at, following, first_seen_at, updated_at
  FROM contacts;
DROP TABLE contacts;
ALTER TABLE contacts_new RENAME TO contacts;

CREATE TABLE conversations_new (
    pairing                    TEXT NOT NULL,
    zalo_user_id               TEXT NOT NULL,
    freshchat_conversation_id  TEXT NOT NULL,
    freshchat_internal_id      TEXT,
    updated_at                 INTEGER NOT NULL,
    PRIMARY KEY (pairing, zalo_user_id),
    UNIQUE (pairing, freshchat_conversation_id)
) STRICT;
INSERT INTO conversations_new
SELECT 'default', zalo_user_id, freshchat_conversation_id, freshchat_internal_id, updated_at
  FROM conversations;
DROP TABLE conversations;
ALTER TABLE conversations_new RENAME TO conversations;

CREATE TABLE unlinked_conversations_new (
    pairing                   TEXT NOT NULL,
    freshchat_conversation_id TEXT NOT NULL,
    checked_at                INTEGER NOT NULL,
    PRIMARY KEY (pairing, freshchat_conversation_id)
) STRICT;
INSERT INTO unlinked_conversations_new
SELECT 'default', freshchat_conversation_id, checked_at FROM unlinked_conversations;
DROP TABLE unlinked_conversations;
ALTER TABLE unlinked_conversations_new RENAME TO unlinked_conversations;

CREATE TABLE messages_new (
    id                    INTEGER PRIMARY KEY,
    pairing               TEXT NOT NULL,
    direction             TEXT NOT NULL CHECK (direction IN ('to_freshchat', 'to_zalo')),
    zalo_user_id          TEXT NOT NULL,
    zalo_msg_id           TEXT,
    freshchat_message_id  TEXT,
    preview               TEXT,
    delivered_at          INTEGER,
    seen_at               INTEGER,
    created_at            INTEGER NOT NULL,
    UNIQUE (pairing, zalo_msg_id)
) STRICT;
INSERT INTO messages_new
SELECT id, 'default', direction, zalo_user_id, zalo_msg_id, freshchat_message_id, preview,
       delivered_at, seen_at, created_at
  FROM messages;
DROP TABLE messages;
ALTER TABLE messages_new RENAME TO messages;
CREATE INDEX messages_freshchat ON messages (pairing, freshchat_message_id);
CREATE INDEX messages_user ON messages (pairing, zalo_user_id);

CREATE TABLE inbox_new (
    id              INTEGER PRIMARY KEY,
    pairing         TEXT NOT NULL,
    source          TEXT NOT NULL CHECK (source IN ('zalo', 'freshchat')),
    dedupe_key      TEXT NOT NULL,
    lane            TEXT NOT NULL,
    event_name      TEXT NOT NULL,
    body            BLOB NOT NULL,
    event_time      INTEGER NOT NULL,
    received_at     INTEGER NOT NULL,
    state           TEXT NOT NULL DEFAULT 'pending'
                    CHECK (state IN ('pending', 'done', 'ignored', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT,
    error_class     TEXT,
    finished_at     INTEGER,
    provenance      TEXT NOT NULL DEFAULT 'webhook'
                    CHECK (provenance IN ('webhook', 'history', 'backfill')),
    UNIQUE (pairing, source, dedupe_key)
) STRICT;
INSERT INTO inbox_new
SELECT id, 'default', source, dedupe_key, lane, event_name, body, event_time, received_at, state,
       attempts, next_attempt_at, last_error, error_class, finished_at, provenance
  FROM inbox;
DROP TABLE inbox;
ALTER TABLE inbox_new RENAME TO inbox;
CREATE INDEX inbox_pending ON inbox (state, pairing, lane, event_time, id);
CREATE INDEX inbox_finished ON inbox (finished_at, state);

CREATE TABLE meta_new (
    pairing TEXT NOT NULL,
    key     TEXT NOT NULL,
    value   TEXT NOT NULL,
    PRIMARY KEY (pairing, key)
) STRICT;
INSERT INTO meta_new SELECT 'default', key, value FROM meta;
DROP TABLE meta;
ALTER TABLE meta_new RENAME TO meta;

CREATE TABLE quota_new (
    pairing       TEXT NOT NULL,
    zalo_user_id  TEXT NOT NULL,
    allowance     TEXT NOT NULL,
    remaining     INTEGER,
    total         INTEGER,
    expires       TEXT,
    window_start  INTEGER,
    low_noted     INTEGER NOT NULL DEFAULT 0,
    billed_noted  INTEGER NOT NULL DEFAULT 0,
    updated_at    INTEGER NOT NULL,
    PRIMARY KEY (pairing, zalo_user_id)
) STRICT;
INSERT INTO quota_new
SELECT 'default', zalo_user_id, allowance, remaining, total, expires, window_start, low_noted,
       billed_noted, updated_at
  FROM quota;
DROP TABLE quota;
ALTER TABLE quota_new RENAME TO quota;

CREATE TABLE billed_messages_new (
    pairing       TEXT NOT NULL,
    zalo_msg_id   TEXT NOT NULL,
    zalo_user_id  TEXT NOT NULL,
    at            INTEGER NOT NULL,
    PRIMARY KEY (pairing, zalo_msg_id)
) STRICT;
INSERT INTO billed_messages_new SELECT 'default', zalo_msg_id, zalo_user_id, at FROM billed_messages;
DROP TABLE billed_messages;
ALTER TABLE billed_messages_new RENAME TO billed_messages;
CREATE INDEX billed_messages_at ON billed_messages (at);

CREATE TABLE zalo_identities_new (
    pairing         TEXT NOT NULL,
    oa_id           TEXT NOT NULL,
    user_id_by_app  TEXT NOT NULL,
    zalo_user_id    TEXT NOT NULL,
    updated_at      INTEGER NOT NULL,
    PRIMARY KEY (pairing, oa_id, user_id_by_app)
) STRICT;
INSERT INTO zalo_identities_new
SELECT 'default', oa_id, user_id_by_app, zalo_user_id, updated_at FROM zalo_identities;
DROP TABLE zalo_identities;
ALTER TABLE zalo_identities_new RENAME TO zalo_identities;
CREATE INDEX zalo_identities_user ON zalo_identities (pairing, zalo_user_id);

CREATE TABLE reply_windows_new (
    pairing           TEXT NOT NULL,
    zalo_user_id      TEXT NOT NULL,
    last_interaction  INTEGER,
    billed_noted      INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (pairing, zalo_user_id)
) STRICT;
INSERT INTO reply_windows_new
SELECT 'default', zalo_user_id, last_interaction, billed_noted FROM reply_windows;
DROP TABLE reply_windows;
ALTER TABLE reply_windows_new RENAME TO reply_windows;
CREATE INDEX reply_windows_last ON reply_windows (last_interaction);

CREATE TABLE identity_clashes_new (
    pairing         TEXT NOT NULL,
    zalo_user_id    TEXT NOT NULL,
    refused_users   TEXT NOT NULL,
    found_at        INTEGER NOT NULL,
    PRIMARY KEY (pairing, zalo_user_id)
) STRICT;
INSERT INTO identity_clashes_new
SELECT 'default', zalo_user_id, refused_users, found_at FROM identity_clashes;
DROP TABLE identity_clashes;
ALTER TABLE identity_clashes_new RENAME TO identity_clashes;

CREATE INDEX hosted_files_pairing ON hosted_files (pairing, zalo_user_id);
