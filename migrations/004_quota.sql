-- zfsync store, version 4: Zalo's reply allowance per customer, and the replies Zalo billed.

-- The latest allowance Zalo reported for a customer, and what the agents were told in the current
-- window (the time since the customer's last message).
CREATE TABLE quota (
    zalo_user_id  TEXT PRIMARY KEY,
    allowance     TEXT NOT NULL,      -- reply, welcome_msg, sub_quota, purchase_quota, reward_quota, billed, other
    remaining     INTEGER,
    total         INTEGER,
    expires       TEXT,               -- a package's expiry date, as Zalo gives it
    window_start  INTEGER,            -- the customer's last message (unix ms)
    low_noted     INTEGER NOT NULL DEFAULT 0,
    billed_noted  INTEGER NOT NULL DEFAULT 0,
    updated_at    INTEGER NOT NULL
) STRICT;

-- One row per reply Zalo billed to the OA (for the last-24-hours count).
CREATE TABLE billed_messages (
    zalo_msg_id   TEXT PRIMARY KEY,
    zalo_user_id  TEXT NOT NULL,
    at            INTEGER NOT NULL
) STRICT;
CREATE INDEX billed_messages_at ON billed_messages (at);
