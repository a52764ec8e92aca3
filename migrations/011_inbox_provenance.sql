-- How an event reached the inbox, as a column: until now a backfilled Zalo message carried
-- `"source": "zfsync_backfill"` inside its stored body, and the sync read it back from there.
ALTER TABLE inbox ADD COLUMN provenance TEXT NOT NULL DEFAULT 'webhook'
    CHECK (provenance IN ('webhook', 'history', 'backfill'));

-- Events rebuilt from Zalo's history carry the connector's `"source"` in their body: the catch-up's
-- own ("zfsync_history_catch_up") or the backfill's marker, which replaced it. The marker goes back
-- to what the connector wrote, so a backfilled body is the history copy again. A body that is not
-- JSON (CASE: json_extract is never asked about it) is a webhook's and keeps the default.
UPDATE inbox SET provenance = 'history'
 WHERE source = 'zalo'
   AND CASE WHEN json_valid(CAST(body AS TEXT))
            THEN json_extract(CAST(body AS TEXT), '$.source') = 'zfsync_history_catch_up'
            ELSE 0 END;
UPDATE inbox SET provenance = 'backfill',
                 body = CAST(json_set(CAST(body AS TEXT), '$.source', 'zfsync_history_catch_up') AS BLOB)
 WHERE source = 'zalo'
   AND CASE WHEN json_valid(CAST(body AS TEXT))
            THEN json_extract(CAST(body AS TEXT), '$.source') = 'zfsync_backfill'
            ELSE 0 END;
