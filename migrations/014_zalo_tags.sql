-- The Zalo OA tags zfsync last saw on each customer (from user/detail and the tag events), as a
-- JSON array of names. A tag change on Zalo is the difference between this set and the new one,
-- and only that difference reaches the customer's Freshchat tag property: tags agents typed there
-- are never removed because Zalo does not have them.
CREATE TABLE zalo_tags (
    pairing      TEXT NOT NULL,
    zalo_user_id TEXT NOT NULL,
    tags         TEXT NOT NULL,
    updated_at   INTEGER NOT NULL,
    PRIMARY KEY (pairing, zalo_user_id)
) STRICT;
