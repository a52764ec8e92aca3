-- zfsync store, version 1. One row per pairing-scoped fact; unique constraints do the deduplication.

CREATE TABLE tokens (
    id                 INTEGER PRIMARY KEY CHECK (id = 1),
    oa_id              TEXT,
    access_token       TEXT NOT NULL,
    refresh_token      TEXT NOT NULL,
    access_expires_at  INTEGER NOT NULL,   -- unix ms
    refresh_expires_at INTEGER NOT NULL,   -- unix ms
    updated_at         INTEGER NOT NULL,
    needs_reauth       TEXT                -- reason, when Zalo rejected the refresh token
) STRICT;

CREATE TABLE oauth_attempts (
    state        TEXT PRIMARY KEY,
    verifier     TEXT NOT NULL,
    redirect_uri TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL
) STRICT;

CREATE TABLE contacts (
    zalo_user_id      TEXT PRIMARY KEY,
    freshchat_user_id TEXT NOT NULL UNIQUE,
    display_name      TEXT NOT NULL,
    avatar            TEXT,
    profile_complete  INTEGER NOT NULL DEFAULT 0,
    profile_checked_at INTEGER,        -- last failed attempt to complete the profile (backoff)
    following         INTEGER,
    first_seen_at     INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL
) STRICT;

CREATE TABLE conversations (
    zalo_user_id               TEXT PRIMARY KEY,
    freshchat_conversation_id  TEXT NOT NULL UNIQUE,
    freshchat_internal_id      TEXT,
    updated_at                 INTEGER NOT NULL
) STRICT;

-- Freshchat conversations known not to belong to a Zalo user (website chat, other channels), so
-- their agent messages cost no lookup.
CREATE TABLE unlinked_conversations (
    freshchat_conversation_id TEXT PRIMARY KEY,
    checked_at                INTEGER NOT NULL
) STRICT;

-- Zalo message ↔ Freshchat message, both directions. One Freshchat message may become several
-- Zalo messages (one per part), so only the Zalo side is unique.
CREATE TABLE messages (
    id                    INTEGER PRIMARY KEY,
    direction             TEXT NOT NULL CHECK (direction IN ('to_freshchat', 'to_zalo')),
    zalo_user_id          TEXT NOT NULL,
    zalo_msg_id           TEXT UNIQUE,
    freshchat_message_id  TEXT,
    preview               TEXT,
    delivered_at          INTEGER,
    seen_at               INTEGER,
    created_at            INTEGER NOT NULL
) STRICT;
CREATE INDEX messages_freshchat ON messages (freshchat_message_id);

-- Verified webhook events, stored before they are acknowledged.
CREATE TABLE inbox (
    id              INTEGER PRIMARY KEY,
    source          TEXT NOT NULL CHECK (source IN ('zalo', 'freshchat')),
    dedupe_key      TEXT NOT NULL,
    lane            TEXT NOT NULL,
    event_name      TEXT NOT NULL,
    body            BLOB NOT NULL,
    event_time      INTEGER NOT NULL,   -- the platform's own time of the event (unix ms); lane order
    received_at     INTEGER NOT NULL,
    state           TEXT NOT NULL DEFAULT 'pending'
                    CHECK (state IN ('pending', 'done', 'ignored', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT,
    error_class     TEXT,
    finished_at     INTEGER,
    UNIQUE (source, dedupe_key)
) STRICT;
CREATE INDEX inbox_pending ON inbox (state, lane, event_time, id);

-- The journal of external effects: a step is 'sending' before the call and 'sent' after it.
CREATE TABLE steps (
    inbox_id    INTEGER NOT NULL REFERENCES inbox (id),
    idx         INTEGER NOT NULL,
    kind        TEXT NOT NULL,
    target      TEXT,              -- the Zalo user a send_zalo step goes to
    state       TEXT NOT NULL CHECK (state IN ('sending', 'sent')),
    remote_id   TEXT,
    started_at  INTEGER NOT NULL,
    finished_at INTEGER,
    PRIMARY KEY (inbox_id, idx)
) STRICT;
CREATE INDEX steps_sending ON steps (state, target);

-- Long replies hosted by zfsync when Zalo's upload refuses .txt.
CREATE TABLE hosted_files (
    token        TEXT PRIMARY KEY,
    filename     TEXT NOT NULL,
    content_type TEXT NOT NULL,
    body         BLOB NOT NULL,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL
) STRICT;

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) STRICT;
