-- The pairings this deployment serves besides `default` (the configuration file's): added with
-- `zfsync pairing add` or the console, their settings as JSON and their secrets sealed with the
-- store key (like the Zalo tokens).
CREATE TABLE pairing_registry (
    name        TEXT PRIMARY KEY CHECK (name <> '' AND name <> 'default'),
    enabled     INTEGER NOT NULL DEFAULT 1,
    settings    TEXT NOT NULL,
    secrets     TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
) STRICT;
