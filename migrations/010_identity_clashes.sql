-- zfsync store: customers for whom zfsync refused an existing Freshchat user that claimed their
-- `reference_id` (not created by zfsync for this OA, or with conversations on another channel) and
-- created a new user instead. The admins are told in a private note in the customer's new
-- conversation; the row is deleted once the note is posted, and with the rest of a user's data.

CREATE TABLE identity_clashes (
    zalo_user_id    TEXT PRIMARY KEY,
    refused_users   TEXT NOT NULL,    -- the refused Freshchat user ids, comma-separated
    found_at        INTEGER NOT NULL
) STRICT;
