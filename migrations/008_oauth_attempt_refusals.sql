-- When a callback for a pending OAuth attempt was refused (a junk code, another OA, an echoed
-- code_challenge that is not the attempt's). The attempt stays usable: a stranger's callback must
-- not spoil the operator's consent. The operator's next start replaces it, so a retry after a
-- refusal is never refused as "more than one attempt pending".
ALTER TABLE oauth_attempts ADD COLUMN refused_at INTEGER;
