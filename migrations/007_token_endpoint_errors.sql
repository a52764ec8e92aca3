-- zfsync store: a refresh that Zalo's token endpoint refuses with an answer its documentation does
-- not list. zfsync retries it with backoff; while it lasts, `status` and `/readyz` show the code and
-- since when; past `sync.token_error_reauth_after_secs` it becomes `needs_reauth`. A new pair clears it.
ALTER TABLE tokens ADD COLUMN token_error TEXT;               -- what Zalo answered (redacted)
ALTER TABLE tokens ADD COLUMN token_error_code INTEGER;       -- Zalo's `error`, when it gave one
ALTER TABLE tokens ADD COLUMN token_error_since INTEGER;      -- first such refusal (unix ms)
