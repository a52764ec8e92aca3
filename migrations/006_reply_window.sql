-- zfsync store: Zalo's reply window per customer (the 2026 rules). Since 2026-01-01 a reply is free
-- within 48 h of the customer's last interaction, billed from 48 h to 7 days and refused after; Zalo
-- no longer says how many free replies are left, so zfsync keeps the window itself, from the
-- interactions it sees (messages, follows, "chat now", shared info, widget consent). Calls, menu taps
-- and group messages also open a window but never reach zfsync: the window kept here is a lower bound.
CREATE TABLE reply_windows (
    zalo_user_id      TEXT PRIMARY KEY,
    last_interaction  INTEGER,                     -- the latest interaction zfsync saw (unix ms); NULL: none yet
    billed_noted      INTEGER NOT NULL DEFAULT 0   -- the "replies are billed" note was posted in this window
) STRICT;
CREATE INDEX reply_windows_last ON reply_windows (last_interaction);

-- The windows zfsync already knew: each customer's last message, kept beside the allowance.
INSERT INTO reply_windows (zalo_user_id, last_interaction, billed_noted)
    SELECT zalo_user_id, window_start, billed_noted FROM quota;
