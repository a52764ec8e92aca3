-- Ratings after resolve: the customers asked (one open question each: the conversation whose
-- resolve notice asked, and when), and the ratings they gave (the console's daily average).
CREATE TABLE csat_asks (
    pairing         TEXT NOT NULL,
    zalo_user_id    TEXT NOT NULL,
    conversation_id TEXT NOT NULL,
    asked_at        INTEGER NOT NULL,
    PRIMARY KEY (pairing, zalo_user_id)
) STRICT;

CREATE TABLE csat_ratings (
    pairing         TEXT NOT NULL,
    zalo_user_id    TEXT NOT NULL,
    conversation_id TEXT NOT NULL,
    score           INTEGER NOT NULL CHECK (score BETWEEN 1 AND 5),
    rated_at        INTEGER NOT NULL,
    PRIMARY KEY (pairing, zalo_user_id, rated_at)
) STRICT;

CREATE INDEX csat_ratings_by_time ON csat_ratings (pairing, rated_at);

-- The Freshchat user fields filled from details a customer chose to give (user_submit_info), as a
-- JSON array of field names: what a later withdrawal of consent erases from the Freshchat user.
CREATE TABLE given_contact (
    pairing      TEXT NOT NULL,
    zalo_user_id TEXT NOT NULL,
    fields       TEXT NOT NULL,
    updated_at   INTEGER NOT NULL,
    PRIMARY KEY (pairing, zalo_user_id)
) STRICT;
