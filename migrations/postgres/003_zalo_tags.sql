-- The Zalo OA tags zfsync last saw on each customer (SQLite's migration 014): a JSON array of
-- names per pairing and customer.
CREATE TABLE zalo_tags (
    pairing      TEXT COLLATE "C" NOT NULL,
    zalo_user_id TEXT COLLATE "C" NOT NULL,
    tags         TEXT COLLATE "C" NOT NULL,
    updated_at   BIGINT NOT NULL,
    PRIMARY KEY (pairing, zalo_user_id)
);
