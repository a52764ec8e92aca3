//! The inbox: verified events, stored before they are acknowledged, each in its lane, with its
//! state, attempts and next due time. Deduplication is the `(source, dedupe_key)` unique constraint.

use std::collections::HashMap;

use super::db::{params, Db, PgConn, Row};

use super::model::{EventState, Lane, Provenance, Source};
use super::{now_ms, Store, StoreError};

/// A new verified event for the inbox (built by `ingest`).
#[derive(Debug, Clone)]
pub struct NewEvent {
    /// Which platform it came from.
    pub source: Source,
    /// The platform's own id of the event (unique per source).
    pub dedupe_key: String,
    /// The lane it runs in.
    pub lane: Lane,
    /// The platform's event name (`user_send_text`, `message_create`, ...).
    pub event_name: String,
    /// The exact bytes received (or rebuilt from history).
    pub body: Vec<u8>,
    /// The platform's own time of the event (unix ms): a lane runs in this order, so a message
    /// the platform redelivers late still goes out in its place.
    pub event_time: i64,
    /// How it arrived (webhook, history catch-up, backfill).
    pub provenance: Provenance,
}

/// What storing an event did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ingested {
    /// Stored under this inbox id.
    New(i64),
    /// Already there: nothing changed.
    Duplicate,
}

/// One stored event.
#[derive(Debug, Clone)]
pub struct InboxRow {
    /// Inbox id.
    pub id: i64,
    /// Which platform it came from.
    pub source: Source,
    /// The lane it runs in.
    pub lane: Lane,
    /// The platform's event name.
    pub event_name: String,
    /// The bytes received.
    pub body: Vec<u8>,
    /// When zfsync stored it (unix ms).
    pub received_at: i64,
    /// Where it stands.
    pub state: EventState,
    /// Attempts so far.
    pub attempts: i64,
    /// Not before this time (unix ms).
    pub next_attempt_at: i64,
    /// The last error, or why it was ignored.
    pub last_error: Option<String>,
    /// The class of the last error.
    pub error_class: Option<String>,
    /// The platform's time of the event (unix ms).
    pub event_time: i64,
    /// How it arrived (webhook, history catch-up, backfill).
    pub provenance: Provenance,
}

/// Counts for `status` and the console, per source.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct SourceStats {
    /// Every stored event.
    pub received: i64,
    /// Done.
    pub synced: i64,
    /// Ignored.
    pub ignored: i64,
    /// Failed.
    pub failed: i64,
    /// Waiting.
    pub pending: i64,
    /// When the oldest waiting event was stored.
    pub oldest_pending_received_at: Option<i64>,
    /// When the newest event was stored.
    pub last_received_at: Option<i64>,
}

/// The columns [`inbox_row`] reads, in its order.
macro_rules! inbox_columns {
    () => {
        "id, source, lane, event_name, body, received_at, state, attempts, next_attempt_at, last_error, error_class, event_time, provenance"
    };
}
pub(super) const INBOX_COLUMNS: &str = inbox_columns!();
const LANE_NEXT: &str = concat!(
    "SELECT ",
    inbox_columns!(),
    " FROM inbox WHERE state = ?1 AND pairing = ?6 AND lane = ?2
     AND (event_time, id) > (?3, ?4) ORDER BY event_time, id LIMIT ?5"
);
const INBOX_EVENT: &str = concat!("SELECT ", inbox_columns!(), " FROM inbox WHERE id = ?1");
const FAILED_EVENTS: &str = concat!(
    "SELECT ",
    inbox_columns!(),
    " FROM inbox WHERE state = ?1 AND pairing = ?3 ORDER BY id DESC LIMIT ?2"
);

/// A stored failure reason as every reader gets it: no URL keeps its query string (reasons stored
/// by a release that kept them still hold a signed link's credential).
fn shown_error(e: &str) -> String {
    zfsync_mappings::redact::urls_in(e)
}

pub(super) fn inbox_row(r: &Row<'_>) -> Result<InboxRow, StoreError> {
    Ok(InboxRow {
        id: r.get(0)?,
        source: r.get(1)?,
        lane: r.get(2)?,
        event_name: r.get(3)?,
        body: r.get(4)?,
        received_at: r.get(5)?,
        state: r.get(6)?,
        attempts: r.get(7)?,
        next_attempt_at: r.get(8)?,
        last_error: r.get::<Option<String>>(9)?.map(|e| shown_error(&e)),
        error_class: r.get(10)?,
        event_time: r.get(11)?,
        provenance: r.get(12)?,
    })
}

/// Inserts an event once (inside a write); a second delivery of the same event is a no-op.
pub(super) fn insert_event(
    c: &Db<'_>,
    pairing: &str,
    ev: &NewEvent,
) -> Result<Ingested, StoreError> {
    let id = c.insert_id(
        "INSERT INTO inbox (source, dedupe_key, lane, event_name, body, event_time, received_at, provenance, pairing)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) ON CONFLICT (pairing, source, dedupe_key) DO NOTHING",
        params![
        ev.source,
        ev.dedupe_key,
        ev.lane,
        ev.event_name,
        ev.body,
        ev.event_time,
        now_ms(),
        ev.provenance,
            pairing
        ],
    )?;
    Ok(match id {
        Some(id) => {
            c.wake(pairing);
            Ingested::New(id)
        }
        None => Ingested::Duplicate,
    })
}

/// A batch of webhook events inserted at once on PostgreSQL (one statement, one round trip):
/// what [`insert_event`] does for each, in order. Either every row is handled (inserted or found a
/// duplicate) or the statement failed as a whole and left the transaction aborted; the writer then
/// inserts them again one by one, each in a savepoint, so a bad row fails only its own webhook.
pub(super) fn insert_events_pg(
    c: &PgConn,
    events: &[(&str, &NewEvent)],
) -> Result<Vec<Ingested>, StoreError> {
    const INSERT_MANY: &str = "INSERT INTO inbox
         (pairing, source, dedupe_key, lane, event_name, body, event_time, received_at, provenance)
         SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[],
                              $6::bytea[], $7::bigint[], $8::bigint[], $9::text[])
         ON CONFLICT (pairing, source, dedupe_key) DO NOTHING
         RETURNING id, pairing, source, dedupe_key";
    let now = now_ms();
    let pairing: Vec<&str> = events.iter().map(|e| e.0).collect();
    let source: Vec<&str> = events.iter().map(|e| e.1.source.as_str()).collect();
    let key: Vec<&str> = events.iter().map(|e| e.1.dedupe_key.as_str()).collect();
    let lane: Vec<&str> = events.iter().map(|e| e.1.lane.as_str()).collect();
    let name: Vec<&str> = events.iter().map(|e| e.1.event_name.as_str()).collect();
    let provenance: Vec<&str> = events.iter().map(|e| e.1.provenance.as_str()).collect();
    let body: Vec<&[u8]> = events.iter().map(|e| &e.1.body[..]).collect();
    let time: Vec<i64> = events.iter().map(|e| e.1.event_time).collect();
    let received = vec![now; events.len()];
    let rows = c.query_native(
        INSERT_MANY,
        &[
            &pairing,
            &source,
            &key,
            &lane,
            &name,
            &body,
            &time,
            &received,
            &provenance,
        ],
    )?;
    // A row is returned for each event inserted; the same event twice in one batch is inserted
    // once, and its first request gets the id (the second is a duplicate, as it would be later).
    let mut inserted: HashMap<(String, String, String), i64> = HashMap::with_capacity(rows.len());
    for r in &rows {
        inserted.insert((r.try_get(1)?, r.try_get(2)?, r.try_get(3)?), r.try_get(0)?);
    }
    Ok(events
        .iter()
        .map(|(p, ev)| {
            let k = (
                (*p).to_owned(),
                ev.source.as_str().to_owned(),
                ev.dedupe_key.clone(),
            );
            match inserted.remove(&k) {
                Some(id) => {
                    c.wake(p);
                    Ingested::New(id)
                }
                None => Ingested::Duplicate,
            }
        })
        .collect())
}

impl Store {
    /// Stores a verified webhook event once, ahead of other writes (the platform waits for the
    /// answer); a second delivery of the same event is a no-op.
    pub async fn ingest(&self, ev: NewEvent) -> Result<Ingested, StoreError> {
        self.write_urgent_insert(ev).await
    }

    /// Stores an event rebuilt from history once (no hurry: it waits behind webhooks).
    pub async fn ingest_history(&self, ev: NewEvent) -> Result<Ingested, StoreError> {
        let p = self.p();
        self.write(move |c| insert_event(c, &p, &ev)).await
    }

    /// The lanes whose oldest pending event is due now, oldest first, skipping `busy` lanes.
    pub async fn due_lane_heads(
        &self,
        now: i64,
        limit: usize,
        busy: Vec<Lane>,
    ) -> Result<Vec<Lane>, StoreError> {
        let p = self.p();
        self.read(move |c| {
            let mut out = Vec::new();
            c.each(
                "SELECT lane, next_attempt_at FROM (
                   SELECT lane, next_attempt_at, event_time, id,
                          ROW_NUMBER() OVER (PARTITION BY lane ORDER BY event_time, id) AS rn
                   FROM inbox WHERE state = ?1 AND pairing = ?2) AS heads
                 WHERE rn = 1 ORDER BY event_time, id",
                params![EventState::Pending, p],
                |r| {
                    let (lane, next) = (r.get::<Lane>(0)?, r.get::<i64>(1)?);
                    if next <= now && !busy.contains(&lane) {
                        out.push(lane);
                    }
                    Ok(out.len() < limit)
                },
            )?;
            Ok(out)
        })
        .await
    }

    /// The next pending events of a lane in lane order, after `cursor` (event_time, id) when given.
    pub async fn lane_next(
        &self,
        lane: Lane,
        cursor: Option<(i64, i64)>,
        limit: usize,
    ) -> Result<Vec<InboxRow>, StoreError> {
        let p = self.p();
        self.lookup(move |c| {
            let (t, id) = cursor.unwrap_or((i64::MIN, i64::MIN));
            c.query_map(
                LANE_NEXT,
                params![EventState::Pending, lane, t, id, limit as i64, p],
                inbox_row,
            )
        })
        .await
    }

    /// One event by id.
    pub async fn inbox_event(&self, id: i64) -> Result<Option<InboxRow>, StoreError> {
        self.lookup(move |c| c.query_opt(INBOX_EVENT, params![id], inbox_row))
            .await
    }

    /// Ends an event: `done`, or `ignored` with the reason.
    pub async fn finish_event(&self, id: i64, ignored: Option<String>) -> Result<(), StoreError> {
        self.write(move |c| {
            let state = if ignored.is_some() {
                EventState::Ignored
            } else {
                EventState::Done
            };
            c.execute(
                "UPDATE inbox SET state = ?2, last_error = ?3, error_class = NULL, finished_at = ?4 WHERE id = ?1",
                params![id, state, ignored, now_ms()],
            )?;
            Ok(())
        })
        .await
    }

    /// Schedules another attempt.
    pub async fn retry_event(
        &self,
        id: i64,
        attempts: i64,
        next_at: i64,
        error: String,
        class: String,
    ) -> Result<(), StoreError> {
        self.write(move |c| {
            c.execute(
                "UPDATE inbox SET attempts = ?2, next_attempt_at = ?3, last_error = ?4, error_class = ?5 WHERE id = ?1",
                params![id, attempts, next_at, error, class],
            )?;
            Ok(())
        })
        .await
    }

    /// Makes the pending events that wait with one of these error classes due now; returns their
    /// lanes (to wake). Used when what they waited for (a Zalo reconnect) arrived.
    pub async fn release_waiting(
        &self,
        classes: &'static [&'static str],
    ) -> Result<Vec<Lane>, StoreError> {
        let p = self.p();
        self.write(move |c| {
            let mut lanes = Vec::new();
            for class in classes {
                c.each(
                    "UPDATE inbox SET next_attempt_at = 0 WHERE state = ?1 AND error_class = ?2 AND pairing = ?3 RETURNING lane",
                    params![EventState::Pending, class, p],
                    |r| {
                        lanes.push(r.get::<Lane>(0)?);
                        Ok(true)
                    },
                )?;
            }
            lanes.sort();
            lanes.dedup();
            Ok(lanes)
        })
        .await
    }

    /// Ends an event as failed, kept with its reason for an operator to list and replay.
    pub async fn fail_event(
        &self,
        id: i64,
        attempts: i64,
        error: String,
        class: String,
    ) -> Result<(), StoreError> {
        self.write(move |c| {
            c.execute(
                "UPDATE inbox SET state = ?6, attempts = ?2, last_error = ?3, error_class = ?4, finished_at = ?5 WHERE id = ?1",
                params![id, attempts, error, class, now_ms(), EventState::Failed],
            )?;
            Ok(())
        })
        .await
    }

    /// Puts failed events back in their lanes (all of them when `id` is None). Steps already sent
    /// stay journalled, so a replay never repeats a delivered effect. Returns how many were queued.
    pub async fn replay_failed(&self, id: Option<i64>) -> Result<usize, StoreError> {
        let p = self.p();
        self.write(move |c| {
            let n = c.execute(
                "UPDATE inbox SET state = ?2, attempts = 0, next_attempt_at = 0, finished_at = NULL
                 WHERE state = ?3 AND pairing = ?4 AND (CAST(?1 AS BIGINT) IS NULL OR id = ?1)",
                params![id, EventState::Pending, EventState::Failed, p],
            )?;
            Ok(n)
        })
        .await
    }

    /// Puts failed events back in their lanes as [`Store::replay_failed`] does, and says which it
    /// put back (id and lane of each): the console follows exactly those.
    pub async fn replay_failed_listed(
        &self,
        id: Option<i64>,
    ) -> Result<Vec<(i64, Lane)>, StoreError> {
        let p = self.p();
        self.write(move |c| {
            c.query_map(
                "UPDATE inbox SET state = ?2, attempts = 0, next_attempt_at = 0, finished_at = NULL
                 WHERE state = ?3 AND pairing = ?4 AND (CAST(?1 AS BIGINT) IS NULL OR id = ?1)
                 RETURNING id, lane",
                params![id, EventState::Pending, EventState::Failed, p],
                |r| Ok((r.get::<i64>(0)?, r.get::<Lane>(1)?)),
            )
        })
        .await
    }

    /// This pairing's failed events: how many, and the newest one's id (what the console's Failed
    /// page watches to know its list changed).
    pub async fn failed_summary(&self) -> Result<(i64, Option<i64>), StoreError> {
        let p = self.p();
        self.read(move |c| {
            c.query_row(
                "SELECT COUNT(*), MAX(id) FROM inbox WHERE state = ?1 AND pairing = ?2",
                params![EventState::Failed, p],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
        })
        .await
    }

    /// Failed events, newest first.
    pub async fn failed_events(&self, limit: usize) -> Result<Vec<InboxRow>, StoreError> {
        let p = self.p();
        self.read(move |c| {
            c.query_map(
                FAILED_EVENTS,
                params![EventState::Failed, limit as i64, p],
                inbox_row,
            )
        })
        .await
    }

    /// Counts per source.
    pub async fn stats(&self) -> Result<Vec<(Source, SourceStats)>, StoreError> {
        let p = self.p();
        self.read(move |c| {
            let mut out = Vec::new();
            for source in [Source::Zalo, Source::Freshchat] {
                let mut s = SourceStats::default();
                let rows = c.query_map(
                    "SELECT state, COUNT(*) FROM inbox WHERE source = ?1 AND pairing = ?2 GROUP BY state",
                    params![source, p],
                    |r| Ok((r.get::<EventState>(0)?, r.get::<i64>(1)?)),
                )?;
                for (state, n) in rows {
                    s.received += n;
                    match state {
                        EventState::Done => s.synced = n,
                        EventState::Ignored => s.ignored = n,
                        EventState::Failed => s.failed = n,
                        EventState::Pending => s.pending = n,
                    }
                }
                s.oldest_pending_received_at = c.query_row(
                    "SELECT MIN(received_at) FROM inbox WHERE source = ?1 AND state = ?2 AND pairing = ?3",
                    params![source, EventState::Pending, p],
                    |r| r.get(0),
                )?;
                s.last_received_at = c.query_row(
                    "SELECT MAX(received_at) FROM inbox WHERE source = ?1 AND pairing = ?2",
                    params![source, p],
                    |r| r.get(0),
                )?;
                out.push((source, s));
            }
            Ok(out)
        })
        .await
    }

    /// Freshchat conversations with message events in the last `since_ms`, with the newest event
    /// time zfsync has for each (the anchor for catching up from history).
    pub async fn recent_freshchat_lanes(
        &self,
        since_ms: i64,
        event_name: &'static str,
    ) -> Result<Vec<(Lane, i64)>, StoreError> {
        let p = self.p();
        self.read(move |c| {
            c.query_map(
                "SELECT lane, MAX(event_time) FROM inbox
                 WHERE source = ?1 AND event_name = ?2 AND received_at >= ?3 AND lane <> ?4 AND pairing = ?5
                 GROUP BY lane",
                params![
                    Source::Freshchat,
                    event_name,
                    now_ms() - since_ms,
                    Lane::freshchat_unknown(),
                    p
                ],
                |r| Ok((r.get::<Lane>(0)?, r.get::<i64>(1)?)),
            )
        })
        .await
    }

    /// The newest event from Zalo whose name starts with `prefix` (its platform time): the anchor
    /// for catching up from Zalo's history. None on a fresh store.
    pub async fn newest_zalo_event_time(
        &self,
        prefix: &'static str,
    ) -> Result<Option<i64>, StoreError> {
        let p = self.p();
        self.read(move |c| {
            c.query_row(
                "SELECT MAX(event_time) FROM inbox WHERE source = ?1 AND event_name LIKE ?2 || '%' AND pairing = ?3",
                params![Source::Zalo, prefix, p],
                |r| r.get(0),
            )
        })
        .await
    }

    /// The newest time of a Zalo event whose name starts with `prefix`, per lane: where catching up
    /// from each user's history starts.
    pub async fn newest_zalo_event_time_by_lane(
        &self,
        prefix: &'static str,
    ) -> Result<std::collections::HashMap<Lane, i64>, StoreError> {
        let p = self.p();
        self.read(move |c| {
            let mut out = std::collections::HashMap::new();
            c.each(
                "SELECT lane, MAX(event_time) FROM inbox WHERE source = ?1 AND event_name LIKE ?2 || '%' AND pairing = ?3 GROUP BY lane",
                params![Source::Zalo, prefix, p],
                |r| {
                    out.insert(r.get::<Lane>(0)?, r.get::<i64>(1)?);
                    Ok(true)
                },
            )?;
            Ok(out)
        })
        .await
    }

    /// Events waiting in their lanes.
    pub async fn pending_count(&self) -> Result<i64, StoreError> {
        let p = self.p();
        self.read(move |c| {
            c.query_row(
                "SELECT COUNT(*) FROM inbox WHERE state = ?1 AND pairing = ?2",
                params![EventState::Pending, p],
                |r| r.get(0),
            )
        })
        .await
    }
}

/// One synced message, as the console's Activity page shows it (no message body: that is the
/// customer's data).
#[derive(Debug, Clone)]
pub struct ActivityRow {
    /// Inbox id of the event that carried it.
    pub inbox_id: i64,
    /// Which way it went.
    pub direction: super::model::Direction,
    /// The event name it came as (`user_send_image`, `message_create`, ...).
    pub event_name: String,
    /// The Zalo user.
    pub zalo_user_id: String,
    /// The customer's display name, when zfsync knows it.
    pub display_name: Option<String>,
    /// The Zalo message id(s) (an agent message may become several Zalo messages).
    pub zalo_msg_ids: Vec<String>,
    /// The Freshchat message id.
    pub freshchat_message_id: Option<String>,
    /// The platform's time of the message (unix ms).
    pub event_time: i64,
    /// When zfsync received it (unix ms).
    pub received_at: i64,
    /// When it was delivered (unix ms).
    pub finished_at: i64,
}

impl ActivityRow {
    /// From receipt to delivery, in milliseconds.
    pub fn latency_ms(&self) -> i64 {
        (self.finished_at - self.received_at).max(0)
    }
}

/// Messages synced and failed per hour, oldest hour first (index 0 is 23 hours before the current
/// hour), for one direction.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct HourlyCounts {
    /// Delivered messages per hour.
    pub synced: [i64; 24],
    /// Failed messages per hour.
    pub failed: [i64; 24],
}

/// How many events of a set are in each state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StateCounts {
    /// Waiting in their lanes (possibly for a retry time).
    pub pending: i64,
    /// Delivered.
    pub done: i64,
    /// Ended with nothing to do.
    pub ignored: i64,
    /// Failed.
    pub failed: i64,
}

/// Events that carry a message (not receipts, follows or profile changes).
const MESSAGE_EVENTS: &str = "(event_name LIKE 'user_send_%' OR event_name LIKE 'oa_send_%' OR event_name = 'message_create')";

impl Store {
    /// Recently synced messages, newest first; `customer` (a Zalo user id, or part of a display
    /// name) narrows them to one customer.
    pub async fn activity(
        &self,
        customer: Option<String>,
        limit: usize,
    ) -> Result<Vec<ActivityRow>, StoreError> {
        let p = self.p();
        self.read(move |c| {
            let group_concat = c.dialect().group_concat;
            // One message row per Zalo event, and every row of a Freshchat event's parts has
            // the same direction and customer: MIN picks the value they share.
            let select = |source: Source, join: &str| {
                format!(
                    "SELECT i.id, MIN(m.direction), i.event_name, MIN(m.zalo_user_id), MIN(ct.display_name),
                            {group_concat}(m.zalo_msg_id, ' '), MAX(m.freshchat_message_id),
                            i.event_time, i.received_at, i.finished_at
                     FROM inbox i JOIN messages m ON m.pairing = i.pairing AND {join}
                     LEFT JOIN contacts ct ON ct.pairing = i.pairing AND ct.zalo_user_id = m.zalo_user_id
                     WHERE i.pairing = ?3 AND i.source = '{source}' AND i.state = 'done' AND i.finished_at IS NOT NULL
                       AND (CAST(?1 AS TEXT) IS NULL OR m.zalo_user_id = ?1 OR ct.display_name LIKE '%' || ?1 || '%')
                     GROUP BY i.id"
                )
            };
            let sql = format!(
                "SELECT * FROM ({} UNION ALL {}) AS activity ORDER BY 10 DESC, 1 DESC LIMIT ?2",
                select(
                    Source::Zalo,
                    "m.zalo_msg_id = i.dedupe_key AND m.direction = 'to_freshchat'"
                ),
                select(
                    Source::Freshchat,
                    "m.freshchat_message_id = i.dedupe_key AND m.direction = 'to_zalo'"
                ),
            );
            let customer = customer.filter(|s| !s.trim().is_empty());
            c.query_map(&sql, params![customer, limit as i64, p], |r| {
                let ids: Option<String> = r.get(5)?;
                Ok(ActivityRow {
                    inbox_id: r.get(0)?,
                    direction: r.get(1)?,
                    event_name: r.get(2)?,
                    zalo_user_id: r.get(3)?,
                    display_name: r.get(4)?,
                    zalo_msg_ids: ids
                        .unwrap_or_default()
                        .split_whitespace()
                        .map(str::to_string)
                        .collect(),
                    freshchat_message_id: r.get(6)?,
                    event_time: r.get(7)?,
                    received_at: r.get(8)?,
                    finished_at: r.get(9)?,
                })
            })
        })
        .await
    }

    /// Messages synced and failed per hour over the last 24 hours, per source (Zalo: to Freshchat;
    /// Freshchat: to Zalo).
    pub async fn hourly_counts(&self, now: i64) -> Result<Vec<(Source, HourlyCounts)>, StoreError> {
        let p = self.p();
        self.read(move |c| {
            const HOUR: i64 = 3600 * 1000;
            let first_hour = now / HOUR - 23;
            let mut zalo = HourlyCounts::default();
            let mut freshchat = HourlyCounts::default();
            let rows = c.query_map(
                &format!(
                    "SELECT source, state, finished_at / {HOUR}, COUNT(*) FROM inbox
                     WHERE finished_at >= ?1 AND state IN (?2, ?3) AND pairing = ?4 AND {MESSAGE_EVENTS}
                     GROUP BY 1, 2, 3"
                ),
                params![first_hour * HOUR, EventState::Done, EventState::Failed, p],
                |r| {
                    Ok((
                        r.get::<Source>(0)?,
                        r.get::<EventState>(1)?,
                        r.get::<i64>(2)?,
                        r.get::<i64>(3)?,
                    ))
                },
            )?;
            for (source, state, hour, n) in rows {
                let Ok(i) = usize::try_from(hour - first_hour) else {
                    continue;
                };
                let counts = match source {
                    Source::Zalo => &mut zalo,
                    Source::Freshchat => &mut freshchat,
                };
                let slot = match state {
                    EventState::Failed => counts.failed.get_mut(i),
                    _ => counts.synced.get_mut(i),
                };
                if let Some(s) = slot {
                    *s += n;
                }
            }
            Ok(vec![(Source::Zalo, zalo), (Source::Freshchat, freshchat)])
        })
        .await
    }

    /// How many of these events (this pairing's) are in each state now, for the outcome of a retry
    /// from the console. Ids no longer in the store (retention) are not counted.
    pub async fn state_counts(&self, ids: Vec<i64>) -> Result<StateCounts, StoreError> {
        let p = self.p();
        self.read(move |c| {
            let mut out = StateCounts::default();
            // The ids are integers written by this process, so they go into the statement as
            // text; a chunk keeps each statement short.
            for chunk in ids.chunks(500) {
                let list = chunk
                    .iter()
                    .map(i64::to_string)
                    .collect::<Vec<_>>()
                    .join(",");
                c.each(
                    &format!(
                        "SELECT state, COUNT(*) FROM inbox WHERE pairing = ?1 AND id IN ({list}) GROUP BY state"
                    ),
                    params![p],
                    |r| {
                        let n: i64 = r.get(1)?;
                        match r.get::<EventState>(0)? {
                            EventState::Pending => out.pending += n,
                            EventState::Done => out.done += n,
                            EventState::Ignored => out.ignored += n,
                            EventState::Failed => out.failed += n,
                        }
                        Ok(true)
                    },
                )?;
            }
            Ok(out)
        })
        .await
    }
}
