-- Ratings after resolve and the Freshchat user fields filled from details a customer gave
-- (SQLite's migration 015).
CREATE TABLE csat_asks (
    pairing         TEXT COLLATE "C" NOT NULL,
    zalo_user_id    TEXT COLLATE "C" NOT NULL,
    conversation_id TEXT COLLATE "C" NOT NULL,
    asked_at        BIGINT NOT NULL,
    PRIMARY KEY (pairing, zalo_user_id)
);

CREATE TABLE csat_ratings (
    pairing         TEXT COLLATE "C" NOT NULL,
    zalo_user_id    TEXT COLLATE "C" NOT NULL,
    conversation_id TEXT COLLATE "C" NOT NULL,
    score           BIGINT NOT NULL CHECK (score BETWEEN 1 AND 5),
    rated_at        BIGINT NOT NULL,
    PRIMARY KEY (pairing, zalo_user_id, rated_at)
);

CREATE INDEX csat_ratings_by_time ON csat_ratings (pairing, rated_at);

CREATE TABLE given_contact (
    pairing      TEXT COLLATE "C" NOT NULL,
    zalo_user_id TEXT COLLATE "C" NOT NULL,
    fields       TEXT COLLATE "C" NOT NULL,
    updated_at   BIGINT NOT NULL,
    PRIMARY KEY (pairing, zalo_user_id)
);
