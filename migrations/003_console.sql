-- zfsync store, version 3.
-- The console lists recently finished events (activity, hourly counts over the last day): index
-- them by when they finished so those pages never scan the whole inbox.

CREATE INDEX inbox_finished ON inbox (finished_at, state);
