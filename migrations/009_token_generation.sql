-- zfsync store: a count of the token pairs stored (by a refresh or a connect, from any process).
-- The running daemon wakes the messages that waited for Zalo's tokens whenever it changes, even when
-- the pairing needed re-authorization for less time than it takes to notice.
ALTER TABLE tokens ADD COLUMN generation INTEGER NOT NULL DEFAULT 0;
