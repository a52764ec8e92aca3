-- zfsync store, version 2.
-- Hosted files remember whose they are, so a user's consent withdrawal can delete them; expiry
-- columns are indexed so pruning and the OAuth start never scan whole tables.

ALTER TABLE hosted_files ADD COLUMN zalo_user_id TEXT;
CREATE INDEX hosted_files_user ON hosted_files (zalo_user_id);
CREATE INDEX hosted_files_expiry ON hosted_files (expires_at);
CREATE INDEX oauth_attempts_expiry ON oauth_attempts (expires_at);
CREATE INDEX messages_user ON messages (zalo_user_id);

-- The PKCE challenge of an OAuth attempt: Zalo's callback may carry it instead of `state`.
ALTER TABLE oauth_attempts ADD COLUMN challenge TEXT;

-- The OA the operator named when starting an attempt (the connection must be for it).
ALTER TABLE oauth_attempts ADD COLUMN expected_oa TEXT;

-- One-time links that start the OAuth flow without the admin token ('zfsync connect zalo' prints
-- one). Only a hash of each ticket is kept.
CREATE TABLE oauth_tickets (
    ticket_hash TEXT PRIMARY KEY,
    expected_oa TEXT,
    expires_at  INTEGER NOT NULL
) STRICT;
CREATE INDEX oauth_tickets_expiry ON oauth_tickets (expires_at);
