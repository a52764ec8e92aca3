//! The store's typed operations. Each is one write closure or one read; deduplication is done by the
//! schema's unique constraints (INSERT ... ON CONFLICT), never check-then-insert.

use rusqlite::{params, Connection, OptionalExtension};

use super::{now_ms, Store, StoreError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Zalo,
    Freshchat,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Zalo => "zalo",
            Source::Freshchat => "freshchat",
        }
    }
    pub fn parse(s: &str) -> Option<Source> {
        match s {
            "zalo" => Some(Source::Zalo),
            "freshchat" => Some(Source::Freshchat),
            _ => None,
        }
    }
}

/// A new verified event for the inbox.
#[derive(Debug, Clone)]
pub struct NewEvent {
    pub source: Source,
    pub dedupe_key: String,
    pub lane: String,
    pub event_name: String,
    pub body: Vec<u8>,
    /// The platform's own time of the event (unix ms): a lane runs in this order, so a message
    /// the platform redelivers late still goes out in its place.
    pub event_time: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ingested {
    New(i64),
    Duplicate,
}

#[derive(Debug, Clone)]
pub struct InboxRow {
    pub id: i64,
    pub source: Source,
    pub lane: String,
    pub event_name: String,
    pub body: Vec<u8>,
    pub received_at: i64,
    pub state: String,
    pub attempts: i64,
    pub next_attempt_at: i64,
    pub last_error: Option<String>,
    pub error_class: Option<String>,
    pub event_time: i64,
}

#[derive(Debug, Clone)]
pub struct StepRow {
    pub state: String,
    pub remote_id: Option<String>,
    pub started_at: i64,
}

#[derive(Debug, Clone)]
pub struct Contact {
    pub zalo_user_id: String,
    pub freshchat_user_id: String,
    pub display_name: String,
    pub avatar: Option<String>,
    pub profile_complete: bool,
    pub following: Option<bool>,
    pub first_seen_at: i64,
    /// When completing the profile last failed (None: never tried, or it worked).
    pub profile_checked_at: Option<i64>,
}

#[derive(Debug, Clone)]
pub struct StoredTokens {
    pub oa_id: Option<String>,
    pub access_token: String,
    pub refresh_token: String,
    pub access_expires_at: i64,
    pub refresh_expires_at: i64,
    pub updated_at: i64,
    pub needs_reauth: Option<String>,
}

#[derive(Debug, Clone)]
pub struct HostedFile {
    pub filename: String,
    pub content_type: String,
    pub body: Vec<u8>,
}

#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct SourceStats {
    pub received: i64,
    pub synced: i64,
    pub ignored: i64,
    pub failed: i64,
    pub pending: i64,
    pub oldest_pending_received_at: Option<i64>,
    pub last_received_at: Option<i64>,
}

const INBOX_COLUMNS: &str =
    "id, source, lane, event_name, body, received_at, state, attempts, next_attempt_at, last_error, error_class, event_time";

fn inbox_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<InboxRow> {
    let source: String = r.get(1)?;
    Ok(InboxRow {
        id: r.get(0)?,
        source: Source::parse(&source).unwrap_or(Source::Zalo),
        lane: r.get(2)?,
        event_name: r.get(3)?,
        body: r.get(4)?,
        received_at: r.get(5)?,
        state: r.get(6)?,
        attempts: r.get(7)?,
        next_attempt_at: r.get(8)?,
        last_error: r.get(9)?,
        error_class: r.get(10)?,
        event_time: r.get(11)?,
    })
}

fn contact_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Contact> {
    Ok(Contact {
        zalo_user_id: r.get(0)?,
        freshchat_user_id: r.get(1)?,
        display_name: r.get(2)?,
        avatar: r.get(3)?,
        profile_complete: r.get::<_, i64>(4)? != 0,
        following: r.get::<_, Option<i64>>(5)?.map(|v| v != 0),
        first_seen_at: r.get(6)?,
        profile_checked_at: r.get(7)?,
    })
}

impl Store {
    // ---------------------------------------------------------------- inbox

    /// Stores a verified event once; a second delivery of the same event is a no-op.
    pub async fn ingest(&self, ev: NewEvent) -> Result<Ingested, StoreError> {
        self.write(move |c| {
            let n = c.execute(
                "INSERT INTO inbox (source, dedupe_key, lane, event_name, body, event_time, received_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (source, dedupe_key) DO NOTHING",
                params![
                    ev.source.as_str(),
                    ev.dedupe_key,
                    ev.lane,
                    ev.event_name,
                    ev.body,
                    ev.event_time,
                    now_ms()
                ],
            )?;
            Ok(if n == 1 {
                Ingested::New(c.last_insert_rowid())
            } else {
                Ingested::Duplicate
            })
        })
        .await
    }

    /// The oldest pending event of each lane that is due now, oldest first, skipping `busy` lanes.
    pub async fn due_lane_heads(
        &self,
        now: i64,
        limit: usize,
        busy: Vec<String>,
    ) -> Result<Vec<String>, StoreError> {
        self.read(move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT lane, next_attempt_at FROM (
                   SELECT lane, next_attempt_at, event_time, id,
                          ROW_NUMBER() OVER (PARTITION BY lane ORDER BY event_time, id) AS rn
                   FROM inbox WHERE state = 'pending')
                 WHERE rn = 1 ORDER BY event_time, id",
            )?;
            let mut out = Vec::new();
            let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?;
            for row in rows {
                let (lane, next) = row?;
                if next <= now && !busy.contains(&lane) {
                    out.push(lane);
                    if out.len() >= limit {
                        break;
                    }
                }
            }
            Ok(out)
        })
        .await
    }

    /// When the earliest pending lane head becomes due (for the dispatcher's sleep).
    pub async fn next_due_at(&self) -> Result<Option<i64>, StoreError> {
        self.read(|c| {
            Ok(c.query_row(
                "SELECT MIN(next_attempt_at) FROM (
                   SELECT next_attempt_at, ROW_NUMBER() OVER (PARTITION BY lane ORDER BY event_time, id) AS rn
                   FROM inbox WHERE state = 'pending')
                 WHERE rn = 1",
                [],
                |r| r.get::<_, Option<i64>>(0),
            )?)
        })
        .await
    }

    /// The oldest pending event of one lane.
    pub async fn lane_head(&self, lane: String) -> Result<Option<InboxRow>, StoreError> {
        self.read(move |c| {
            Ok(c.query_row(
                &format!(
                    "SELECT {INBOX_COLUMNS} FROM inbox WHERE state = 'pending' AND lane = ?1 ORDER BY event_time, id LIMIT 1"
                ),
                [lane],
                inbox_row,
            )
            .optional()?)
        })
        .await
    }

    /// The next pending events of a lane in lane order, after `cursor` (event_time, id) when given.
    pub async fn lane_next(
        &self,
        lane: String,
        cursor: Option<(i64, i64)>,
        limit: usize,
    ) -> Result<Vec<InboxRow>, StoreError> {
        self.read(move |c| {
            let (t, id) = cursor.unwrap_or((i64::MIN, i64::MIN));
            let mut stmt = c.prepare_cached(&format!(
                "SELECT {INBOX_COLUMNS} FROM inbox WHERE state = 'pending' AND lane = ?1
                 AND (event_time, id) > (?2, ?3) ORDER BY event_time, id LIMIT ?4"
            ))?;
            let rows = stmt.query_map(params![lane, t, id, limit as i64], inbox_row)?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }

    pub async fn inbox_event(&self, id: i64) -> Result<Option<InboxRow>, StoreError> {
        self.read(move |c| {
            Ok(c.query_row(
                &format!("SELECT {INBOX_COLUMNS} FROM inbox WHERE id = ?1"),
                [id],
                inbox_row,
            )
            .optional()?)
        })
        .await
    }

    /// Ends an event: `done`, or `ignored` with the reason.
    pub async fn finish_event(&self, id: i64, ignored: Option<String>) -> Result<(), StoreError> {
        self.write(move |c| {
            let state = if ignored.is_some() { "ignored" } else { "done" };
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
                "UPDATE inbox SET state = 'failed', attempts = ?2, last_error = ?3, error_class = ?4, finished_at = ?5 WHERE id = ?1",
                params![id, attempts, error, class, now_ms()],
            )?;
            Ok(())
        })
        .await
    }

    /// Puts failed events back in their lanes (all of them when `id` is None). Steps already sent
    /// stay journalled, so a replay never repeats a delivered effect. Returns how many were queued.
    pub async fn replay_failed(&self, id: Option<i64>) -> Result<usize, StoreError> {
        self.write(move |c| {
            let n = c.execute(
                "UPDATE inbox SET state = 'pending', attempts = 0, next_attempt_at = 0, finished_at = NULL
                 WHERE state = 'failed' AND (?1 IS NULL OR id = ?1)",
                params![id],
            )?;
            Ok(n)
        })
        .await
    }

    pub async fn failed_events(&self, limit: usize) -> Result<Vec<InboxRow>, StoreError> {
        self.read(move |c| {
            let mut stmt = c.prepare(&format!(
                "SELECT {INBOX_COLUMNS} FROM inbox WHERE state = 'failed' ORDER BY id DESC LIMIT ?1"
            ))?;
            let rows = stmt.query_map([limit as i64], inbox_row)?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }

    pub async fn stats(&self) -> Result<Vec<(Source, SourceStats)>, StoreError> {
        self.read(|c| {
            let mut out = Vec::new();
            for source in [Source::Zalo, Source::Freshchat] {
                let mut s = SourceStats::default();
                let mut stmt = c.prepare_cached(
                    "SELECT state, COUNT(*) FROM inbox WHERE source = ?1 GROUP BY state",
                )?;
                let rows = stmt.query_map([source.as_str()], |r| {
                    Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
                })?;
                for row in rows {
                    let (state, n) = row?;
                    s.received += n;
                    match state.as_str() {
                        "done" => s.synced = n,
                        "ignored" => s.ignored = n,
                        "failed" => s.failed = n,
                        _ => s.pending = n,
                    }
                }
                s.oldest_pending_received_at = c.query_row(
                    "SELECT MIN(received_at) FROM inbox WHERE source = ?1 AND state = 'pending'",
                    [source.as_str()],
                    |r| r.get(0),
                )?;
                s.last_received_at = c.query_row(
                    "SELECT MAX(received_at) FROM inbox WHERE source = ?1",
                    [source.as_str()],
                    |r| r.get(0),
                )?;
                out.push((source, s));
            }
            Ok(out)
        })
        .await
    }

    /// Freshchat conversations with events in the last `since_ms`, with the newest event time
    /// zfsync has for each (the anchor for catching up from history).
    pub async fn recent_freshchat_lanes(
        &self,
        since_ms: i64,
    ) -> Result<Vec<(String, i64)>, StoreError> {
        self.read(move |c| {
            let mut stmt = c.prepare(
                "SELECT lane, MAX(event_time) FROM inbox
                 WHERE source = 'freshchat' AND event_name = 'message_create' AND received_at >= ?1 AND lane <> 'fc:_'
                 GROUP BY lane",
            )?;
            let rows = stmt.query_map([now_ms() - since_ms], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }

    /// The newest customer message from Zalo that zfsync has (its platform time), the anchor for
    /// catching up from Zalo's history. None on a fresh store.
    pub async fn newest_zalo_message_time(&self) -> Result<Option<i64>, StoreError> {
        self.read(|c| {
            Ok(c.query_row(
                "SELECT MAX(event_time) FROM inbox WHERE source = 'zalo' AND event_name LIKE 'user_send_%'",
                [],
                |r| r.get(0),
            )?)
        })
        .await
    }

    pub async fn pending_count(&self) -> Result<i64, StoreError> {
        self.read(|c| {
            Ok(c.query_row(
                "SELECT COUNT(*) FROM inbox WHERE state = 'pending'",
                [],
                |r| r.get(0),
            )?)
        })
        .await
    }

    // ---------------------------------------------------------------- journal

    pub async fn step(&self, inbox_id: i64, idx: i64) -> Result<Option<StepRow>, StoreError> {
        self.read(move |c| {
            Ok(c.query_row(
                "SELECT state, remote_id, started_at FROM steps WHERE inbox_id = ?1 AND idx = ?2",
                params![inbox_id, idx],
                |r| {
                    Ok(StepRow {
                        state: r.get(0)?,
                        remote_id: r.get(1)?,
                        started_at: r.get(2)?,
                    })
                },
            )
            .optional()?)
        })
        .await
    }

    /// Journals a step as `sending` (before the external call).
    pub async fn begin_step(
        &self,
        inbox_id: i64,
        idx: i64,
        kind: &'static str,
        target: Option<String>,
    ) -> Result<(), StoreError> {
        self.write(move |c| {
            c.execute(
                "INSERT INTO steps (inbox_id, idx, kind, target, state, started_at) VALUES (?1, ?2, ?3, ?4, 'sending', ?5)
                 ON CONFLICT (inbox_id, idx) DO UPDATE SET state = 'sending', started_at = excluded.started_at",
                params![inbox_id, idx, kind, target, now_ms()],
            )?;
            Ok(())
        })
        .await
    }

    /// Journals a step as `sent` with the remote id, together with `also` (the id pairing), in one
    /// transaction.
    pub async fn finish_step<F>(
        &self,
        inbox_id: i64,
        idx: i64,
        remote_id: Option<String>,
        also: F,
    ) -> Result<(), StoreError>
    where
        F: FnOnce(&Connection) -> Result<(), StoreError> + Send + 'static,
    {
        self.write(move |c| {
            c.execute(
                "UPDATE steps SET state = 'sent', remote_id = ?3, finished_at = ?4 WHERE inbox_id = ?1 AND idx = ?2",
                params![inbox_id, idx, remote_id, now_ms()],
            )?;
            also(c)
        })
        .await
    }

    /// Forgets a `sending` step whose call certainly did not take effect (the remote side answered
    /// with an error), so the next attempt need not reconcile.
    pub async fn abandon_step(&self, inbox_id: i64, idx: i64) -> Result<(), StoreError> {
        self.write(move |c| {
            c.execute(
                "DELETE FROM steps WHERE inbox_id = ?1 AND idx = ?2 AND state = 'sending'",
                params![inbox_id, idx],
            )?;
            Ok(())
        })
        .await
    }

    /// Whether a send to this Zalo user is journalled as in flight.
    pub async fn zalo_send_in_flight(&self, zalo_user_id: String) -> Result<bool, StoreError> {
        self.read(move |c| {
            Ok(c.query_row(
                "SELECT EXISTS (SELECT 1 FROM steps WHERE state = 'sending' AND kind = 'send_zalo' AND target = ?1)",
                [zalo_user_id],
                |r| r.get::<_, bool>(0),
            )?)
        })
        .await
    }

    // ---------------------------------------------------------------- pairings

    pub async fn contact(&self, zalo_user_id: String) -> Result<Option<Contact>, StoreError> {
        self.read(move |c| {
            Ok(c.query_row(
                "SELECT zalo_user_id, freshchat_user_id, display_name, avatar, profile_complete, following, first_seen_at,
                        profile_checked_at
                 FROM contacts WHERE zalo_user_id = ?1",
                [zalo_user_id],
                contact_row,
            )
            .optional()?)
        })
        .await
    }

    pub async fn contact_count(&self) -> Result<i64, StoreError> {
        self.read(|c| Ok(c.query_row("SELECT COUNT(*) FROM contacts", [], |r| r.get(0))?))
            .await
    }

    pub async fn conversation_of(
        &self,
        zalo_user_id: String,
    ) -> Result<Option<String>, StoreError> {
        self.read(move |c| {
            Ok(c.query_row(
                "SELECT freshchat_conversation_id FROM conversations WHERE zalo_user_id = ?1",
                [zalo_user_id],
                |r| r.get(0),
            )
            .optional()?)
        })
        .await
    }

    pub async fn zalo_user_of_conversation(
        &self,
        conversation_id: String,
    ) -> Result<Option<String>, StoreError> {
        self.read(move |c| {
            Ok(c.query_row(
                "SELECT zalo_user_id FROM conversations WHERE freshchat_conversation_id = ?1",
                [conversation_id],
                |r| r.get(0),
            )
            .optional()?)
        })
        .await
    }

    pub async fn set_conversation(
        &self,
        zalo_user_id: String,
        conversation_id: String,
        internal_id: Option<String>,
    ) -> Result<(), StoreError> {
        self.write(move |c| {
            put_conversation(c, &zalo_user_id, &conversation_id, internal_id.as_deref())
        })
        .await
    }

    pub async fn set_following(
        &self,
        zalo_user_id: String,
        following: bool,
    ) -> Result<bool, StoreError> {
        self.write(move |c| {
            let n = c.execute(
                "UPDATE contacts SET following = ?2, updated_at = ?3 WHERE zalo_user_id = ?1",
                params![zalo_user_id, following as i64, now_ms()],
            )?;
            Ok(n == 1)
        })
        .await
    }

    /// Records a failed attempt to complete a contact's profile (the next waits a while).
    pub async fn profile_check_failed(&self, zalo_user_id: String) -> Result<(), StoreError> {
        self.write(move |c| {
            c.execute(
                "UPDATE contacts SET profile_checked_at = ?2 WHERE zalo_user_id = ?1",
                params![zalo_user_id, now_ms()],
            )?;
            Ok(())
        })
        .await
    }

    /// When a conversation was last found not to belong to a Zalo user.
    pub async fn unlinked_checked_at(
        &self,
        conversation_id: String,
    ) -> Result<Option<i64>, StoreError> {
        self.read(move |c| {
            Ok(c.query_row(
                "SELECT checked_at FROM unlinked_conversations WHERE freshchat_conversation_id = ?1",
                [conversation_id],
                |r| r.get(0),
            )
            .optional()?)
        })
        .await
    }

    pub async fn mark_unlinked(&self, conversation_id: String) -> Result<(), StoreError> {
        self.write(move |c| {
            c.execute(
                "INSERT INTO unlinked_conversations (freshchat_conversation_id, checked_at) VALUES (?1, ?2)
                 ON CONFLICT (freshchat_conversation_id) DO UPDATE SET checked_at = excluded.checked_at",
                params![conversation_id, now_ms()],
            )?;
            Ok(())
        })
        .await
    }

    pub async fn update_profile(
        &self,
        zalo_user_id: String,
        display_name: String,
        avatar: Option<String>,
    ) -> Result<(), StoreError> {
        self.write(move |c| {
            c.execute(
                "UPDATE contacts SET display_name = ?2, avatar = ?3, profile_complete = 1, profile_checked_at = NULL,
                   updated_at = ?4 WHERE zalo_user_id = ?1",
                params![zalo_user_id, display_name, avatar, now_ms()],
            )?;
            Ok(())
        })
        .await
    }

    /// Whether a Zalo message id is known (sent by zfsync, or already synced).
    pub async fn known_zalo_message(
        &self,
        zalo_msg_id: String,
    ) -> Result<Option<String>, StoreError> {
        self.read(move |c| {
            Ok(c.query_row(
                "SELECT direction FROM messages WHERE zalo_msg_id = ?1",
                [zalo_msg_id],
                |r| r.get(0),
            )
            .optional()?)
        })
        .await
    }

    pub async fn zalo_message_preview(
        &self,
        zalo_msg_id: String,
    ) -> Result<Option<String>, StoreError> {
        self.read(move |c| {
            Ok(c.query_row(
                "SELECT preview FROM messages WHERE zalo_msg_id = ?1",
                [zalo_msg_id],
                |r| r.get(0),
            )
            .optional()?
            .flatten())
        })
        .await
    }

    /// Whether zfsync itself posted this Freshchat message.
    pub async fn own_freshchat_message(&self, message_id: String) -> Result<bool, StoreError> {
        self.read(move |c| {
            Ok(c.query_row(
                "SELECT EXISTS (SELECT 1 FROM messages WHERE direction = 'to_freshchat' AND freshchat_message_id = ?1)",
                [message_id],
                |r| r.get(0),
            )?)
        })
        .await
    }

    pub async fn record_receipts(
        &self,
        msg_ids: Vec<String>,
        seen: bool,
    ) -> Result<usize, StoreError> {
        self.write(move |c| {
            let sql = if seen {
                "UPDATE messages SET seen_at = COALESCE(seen_at, ?2) WHERE zalo_msg_id = ?1"
            } else {
                "UPDATE messages SET delivered_at = COALESCE(delivered_at, ?2) WHERE zalo_msg_id = ?1"
            };
            let mut n = 0;
            for id in msg_ids {
                n += c.execute(sql, params![id, now_ms()])?;
            }
            Ok(n)
        })
        .await
    }

    // ---------------------------------------------------------------- tokens

    pub async fn tokens(&self) -> Result<Option<StoredTokens>, StoreError> {
        self.read(|c| {
            Ok(c.query_row(
                "SELECT oa_id, access_token, refresh_token, access_expires_at, refresh_expires_at, updated_at, needs_reauth
                 FROM tokens WHERE id = 1",
                [],
                |r| {
                    Ok(StoredTokens {
                        oa_id: r.get(0)?,
                        access_token: r.get(1)?,
                        refresh_token: r.get(2)?,
                        access_expires_at: r.get(3)?,
                        refresh_expires_at: r.get(4)?,
                        updated_at: r.get(5)?,
                        needs_reauth: r.get(6)?,
                    })
                },
            )
            .optional()?)
        })
        .await
    }

    /// Replaces the token pair (the old refresh token is retired in the same transaction).
    pub async fn save_tokens(&self, t: StoredTokens) -> Result<(), StoreError> {
        self.write(move |c| {
            c.execute(
                "INSERT INTO tokens (id, oa_id, access_token, refresh_token, access_expires_at, refresh_expires_at, updated_at, needs_reauth)
                 VALUES (1, ?1, ?2, ?3, ?4, ?5, ?6, NULL)
                 ON CONFLICT (id) DO UPDATE SET oa_id = COALESCE(excluded.oa_id, tokens.oa_id),
                   access_token = excluded.access_token, refresh_token = excluded.refresh_token,
                   access_expires_at = excluded.access_expires_at, refresh_expires_at = excluded.refresh_expires_at,
                   updated_at = excluded.updated_at, needs_reauth = NULL",
                params![t.oa_id, t.access_token, t.refresh_token, t.access_expires_at, t.refresh_expires_at, t.updated_at],
            )?;
            Ok(())
        })
        .await
    }

    /// Marks the pairing as needing re-authorization, only while the stored refresh token is still
    /// the one Zalo rejected (a pair another process stored meanwhile is left alone).
    pub async fn set_needs_reauth(
        &self,
        rejected_refresh_token: String,
        reason: String,
    ) -> Result<(), StoreError> {
        self.write(move |c| {
            c.execute(
                "UPDATE tokens SET needs_reauth = ?2 WHERE id = 1 AND refresh_token = ?1",
                params![rejected_refresh_token, reason],
            )?;
            Ok(())
        })
        .await
    }

    // ---------------------------------------------------------------- OAuth attempts

    pub async fn put_oauth_attempt(
        &self,
        state: String,
        verifier: String,
        redirect_uri: String,
        ttl_ms: i64,
    ) -> Result<(), StoreError> {
        self.write(move |c| {
            let now = now_ms();
            c.execute("DELETE FROM oauth_attempts WHERE expires_at < ?1", [now])?;
            c.execute(
                "INSERT INTO oauth_attempts (state, verifier, redirect_uri, created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![state, verifier, redirect_uri, now, now + ttl_ms],
            )?;
            Ok(())
        })
        .await
    }

    /// Takes (and deletes) a pending attempt: by state, or the newest one when `state` is None.
    pub async fn take_oauth_attempt(
        &self,
        state: Option<String>,
    ) -> Result<Option<(String, String)>, StoreError> {
        self.write(move |c| {
            let now = now_ms();
            let row: Option<(String, String, String)> = match &state {
                Some(s) => c
                    .query_row(
                        "SELECT state, verifier, redirect_uri FROM oauth_attempts WHERE state = ?1 AND expires_at >= ?2",
                        params![s, now],
                        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                    )
                    .optional()?,
                None => c
                    .query_row(
                        "SELECT state, verifier, redirect_uri FROM oauth_attempts WHERE expires_at >= ?1 ORDER BY created_at DESC LIMIT 1",
                        params![now],
                        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                    )
                    .optional()?,
            };
            Ok(match row {
                Some((s, verifier, redirect)) => {
                    c.execute("DELETE FROM oauth_attempts WHERE state = ?1", [s])?;
                    Some((verifier, redirect))
                }
                None => None,
            })
        })
        .await
    }

    // ---------------------------------------------------------------- hosted files, meta

    pub async fn put_hosted_file(
        &self,
        token: String,
        file: HostedFile,
        ttl_ms: i64,
    ) -> Result<(), StoreError> {
        self.write(move |c| {
            let now = now_ms();
            c.execute(
                "INSERT INTO hosted_files (token, filename, content_type, body, created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![token, file.filename, file.content_type, file.body, now, now + ttl_ms],
            )?;
            Ok(())
        })
        .await
    }

    pub async fn hosted_file(&self, token: String) -> Result<Option<HostedFile>, StoreError> {
        self.read(move |c| {
            Ok(c.query_row(
                "SELECT filename, content_type, body FROM hosted_files WHERE token = ?1 AND expires_at >= ?2",
                params![token, now_ms()],
                |r| Ok(HostedFile { filename: r.get(0)?, content_type: r.get(1)?, body: r.get(2)? }),
            )
            .optional()?)
        })
        .await
    }

    /// Drops expired hosted files and finished events older than `keep_ms`. Returns rows removed.
    pub async fn prune(&self, keep_ms: i64) -> Result<usize, StoreError> {
        self.write(move |c| {
            let now = now_ms();
            let mut n = c.execute("DELETE FROM hosted_files WHERE expires_at < ?1", [now])?;
            n += c.execute(
                "DELETE FROM steps WHERE inbox_id IN (SELECT id FROM inbox WHERE state IN ('done', 'ignored') AND finished_at < ?1)",
                [now - keep_ms],
            )?;
            n += c.execute("DELETE FROM inbox WHERE state IN ('done', 'ignored') AND finished_at < ?1", [now - keep_ms])?;
            Ok(n)
        })
        .await
    }

    pub async fn meta(&self, key: &'static str) -> Result<Option<String>, StoreError> {
        self.read(move |c| {
            Ok(
                c.query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
                    .optional()?,
            )
        })
        .await
    }

    pub async fn set_meta(&self, key: &'static str, value: String) -> Result<(), StoreError> {
        self.write(move |c| {
            c.execute(
                "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                params![key, value],
            )?;
            Ok(())
        })
        .await
    }
}

// ---------------------------------------------------------------- closures for finish_step

/// Inserts or refreshes a contact (used inside a step's transaction).
pub fn put_contact(c: &Connection, contact: &Contact) -> Result<(), StoreError> {
    c.execute(
        "INSERT INTO contacts (zalo_user_id, freshchat_user_id, display_name, avatar, profile_complete, following, first_seen_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
         ON CONFLICT (zalo_user_id) DO UPDATE SET freshchat_user_id = excluded.freshchat_user_id,
           display_name = excluded.display_name, avatar = excluded.avatar,
           profile_complete = excluded.profile_complete, updated_at = excluded.updated_at",
        params![
            contact.zalo_user_id,
            contact.freshchat_user_id,
            contact.display_name,
            contact.avatar,
            contact.profile_complete as i64,
            contact.following.map(|f| f as i64),
            contact.first_seen_at,
            now_ms()
        ],
    )?;
    Ok(())
}

pub fn put_conversation(
    c: &Connection,
    zalo_user_id: &str,
    conversation_id: &str,
    internal_id: Option<&str>,
) -> Result<(), StoreError> {
    // A conversation id moves to the newest Zalo user claiming it (cannot normally happen).
    c.execute(
        "DELETE FROM conversations WHERE freshchat_conversation_id = ?1 AND zalo_user_id <> ?2",
        params![conversation_id, zalo_user_id],
    )?;
    c.execute(
        "INSERT INTO conversations (zalo_user_id, freshchat_conversation_id, freshchat_internal_id, updated_at)
         VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (zalo_user_id) DO UPDATE SET freshchat_conversation_id = excluded.freshchat_conversation_id,
           freshchat_internal_id = excluded.freshchat_internal_id, updated_at = excluded.updated_at",
        params![zalo_user_id, conversation_id, internal_id, now_ms()],
    )?;
    Ok(())
}

/// Records a Zalo ↔ Freshchat message pairing (idempotent on the Zalo id).
pub fn put_message(
    c: &Connection,
    to_zalo: bool,
    zalo_user_id: &str,
    zalo_msg_id: Option<&str>,
    freshchat_message_id: Option<&str>,
    preview: Option<&str>,
) -> Result<(), StoreError> {
    c.execute(
        "INSERT INTO messages (direction, zalo_user_id, zalo_msg_id, freshchat_message_id, preview, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (zalo_msg_id) DO NOTHING",
        params![
            if to_zalo { "to_zalo" } else { "to_freshchat" },
            zalo_user_id,
            zalo_msg_id,
            freshchat_message_id,
            preview,
            now_ms()
        ],
    )?;
    Ok(())
}
