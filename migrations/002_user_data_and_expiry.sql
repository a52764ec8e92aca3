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
