//! Named reads of what the daemon kept: inbox events by source, state, name or lane; what is kept
//! for one Zalo user; journalled sends; message pairings; hosted files; OAuth attempts; the file's
//! size. `zfsync status`, the console and the end-to-end tests ask these questions; none changes
//! anything. Each runs on a read connection and fails only with the store ([`StoreError`]).

use super::db::params;

use super::inbox::{inbox_row, InboxRow, INBOX_COLUMNS};
use super::model::{EventState, Lane, Source, StepState};
use super::{Store, StoreError};

/// Which inbox events to list; a field left `None` matches every event.
#[derive(Debug, Clone, Default)]
pub struct InboxQuery {
    /// The platform the event came from.
    pub source: Option<Source>,
    /// Where the event stands.
    pub state: Option<EventState>,
    /// The platform's event name (`user_send_text`, `message_create`, …).
    pub event_name: Option<String>,
    /// The lane it runs in.
    pub lane: Option<Lane>,
    /// The start of its dedupe key (the platform's message id, or a key derived from the body).
    pub dedupe_key_prefix: Option<String>,
}

impl InboxQuery {
    /// Every event in `state`.
    pub fn in_state(state: EventState) -> InboxQuery {
        InboxQuery {
            state: Some(state),
            ..InboxQuery::default()
        }
    }

    /// Only events from `source`.
    pub fn from(mut self, source: Source) -> InboxQuery {
        self.source = Some(source);
        self
    }

    /// Only events named `event_name`.
    pub fn named(mut self, event_name: &str) -> InboxQuery {
        self.event_name = Some(event_name.to_string());
        self
    }

    /// Only events of `lane`.
    pub fn in_lane(mut self, lane: Lane) -> InboxQuery {
        self.lane = Some(lane);
        self
    }
}

/// What the store keeps for one Zalo user, counted by kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KeptForUser {
    /// Their contact (0 or 1): the Freshchat user paired with them, following or not.
    pub contacts: i64,
    /// Their Freshchat conversation (0 or 1).
    pub conversations: i64,
    /// Message pairings and previews (for quotes and echoes).
    pub messages: i64,
    /// App-scoped ids (`user_id_by_app`) known for them.
    pub identities: i64,
    /// Files zfsync hosts for them.
    pub hosted_files: i64,
}

impl Store {
    /// The inbox events `query` matches, oldest first. Failure reasons are kept as stored.
    pub async fn inbox_events(&self, query: InboxQuery) -> Result<Vec<InboxRow>, StoreError> {
        let p = self.p();
        self.read(move |c| {
            c.query_map(
                &format!(
                    "SELECT {INBOX_COLUMNS} FROM inbox
                 WHERE pairing = ?6 AND (CAST(?1 AS TEXT) IS NULL OR source = ?1) AND (CAST(?2 AS TEXT) IS NULL OR state = ?2)
                   AND (CAST(?3 AS TEXT) IS NULL OR event_name = ?3) AND (CAST(?4 AS TEXT) IS NULL OR lane = ?4)
                   AND (CAST(?5 AS TEXT) IS NULL OR substr(dedupe_key, 1, length(?5)) = ?5)
                 ORDER BY id"
                ),
                params![
                    query.source,
                    query.state,
                    query.event_name,
                    query.lane,
                    query.dedupe_key_prefix,
                    p
                ],
                inbox_row,
            )
        })
        .await
    }

    /// How many inbox events are in `state`.
    pub async fn count_inbox_in_state(&self, state: EventState) -> Result<i64, StoreError> {
        let p = self.p();
        self.read(move |c| {
            c.query_row(
                "SELECT COUNT(*) FROM inbox WHERE state = ?1 AND pairing = ?2",
                params![state, p],
                |r| r.get(0),
            )
        })
        .await
    }

    /// How many events the inbox holds, in any state.
    pub async fn inbox_count(&self) -> Result<i64, StoreError> {
        self.count("SELECT COUNT(*) FROM inbox").await
    }

    /// What is kept for the Zalo user `zalo_user_id` (all zero once `forget_user` ran).
    pub async fn kept_for_zalo_user(
        &self,
        zalo_user_id: String,
    ) -> Result<KeptForUser, StoreError> {
        let p = self.p();
        self.read(move |c| {
            let n = |table: &str| -> Result<i64, StoreError> {
                c.query_row(
                    &format!(
                        "SELECT COUNT(*) FROM {table} WHERE zalo_user_id = ?1 AND pairing = ?2"
                    ),
                    params![&zalo_user_id, &p],
                    |r| r.get(0),
                )
            };
            Ok(KeptForUser {
                contacts: n("contacts")?,
                conversations: n("conversations")?,
                messages: n("messages")?,
                identities: n("zalo_identities")?,
                hosted_files: n("hosted_files")?,
            })
        })
        .await
    }

    /// How many messages are paired between the platforms (for quotes, echoes and receipts).
    pub async fn message_pair_count(&self) -> Result<i64, StoreError> {
        self.count("SELECT COUNT(*) FROM messages").await
    }

    /// How many Freshchat conversations are known to belong to no Zalo user.
    pub async fn unlinked_conversation_count(&self) -> Result<i64, StoreError> {
        self.count("SELECT COUNT(*) FROM unlinked_conversations")
            .await
    }

    /// How many hosted files have the content type `content_type`.
    pub async fn hosted_file_count_of_type(&self, content_type: String) -> Result<i64, StoreError> {
        self.read(move |c| {
            c.query_row(
                "SELECT COUNT(*) FROM hosted_files WHERE content_type = ?1",
                params![content_type],
                |r| r.get(0),
            )
        })
        .await
    }

    /// How many journalled steps of these kinds (`post_freshchat`, `send_zalo`, …) are `sent`
    /// with the platform's id recorded.
    pub async fn sent_step_count(&self, kinds: &'static [&'static str]) -> Result<i64, StoreError> {
        self.read(move |c| {
            let mut n = 0;
            for kind in kinds {
                n += c.query_row(
                    "SELECT COUNT(*) FROM steps
                     WHERE kind = ?1 AND state = ?2 AND remote_id IS NOT NULL",
                    params![kind, StepState::Sent],
                    |r| r.get::<i64>(0),
                )?;
            }
            Ok(n)
        })
        .await
    }

    /// How many OAuth attempts are stored, expired ones included (they are pruned, not kept).
    pub async fn oauth_attempt_count(&self) -> Result<i64, StoreError> {
        self.count("SELECT COUNT(*) FROM oauth_attempts").await
    }

    /// The store's size in pages (what [`Store::limit_pages`] counts): SQLite's pages; on
    /// PostgreSQL, the database's size in its 8 kB pages.
    pub async fn page_count(&self) -> Result<u64, StoreError> {
        self.read(|c| {
            let sql = if c.is_postgres() {
                "SELECT pg_database_size(current_database()) / 8192"
            } else {
                "PRAGMA page_count"
            };
            Ok(c.query_row(sql, params![], |r| r.get::<i64>(0))? as u64)
        })
        .await
    }

    async fn count(&self, sql: &'static str) -> Result<i64, StoreError> {
        self.read(move |c| c.query_row(sql, params![], |r| r.get(0)))
            .await
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::store::testing::on_both_backends;
    use crate::store::NewEvent;

    fn event(source: Source, key: &str, lane: Lane, name: &str) -> NewEvent {
        NewEvent {
            source,
            dedupe_key: key.into(),
            lane,
            event_name: name.into(),
            body: format!("{{\"key\":\"{key}\"}}").into_bytes(),
            event_time: 1,
            provenance: crate::store::Provenance::Webhook,
        }
    }

    on_both_backends!(inbox_events_match_every_field_given_and_only_those);

    async fn inbox_events_match_every_field_given_and_only_those(store: Store) {
        let (zalo, fc) = (Lane::zalo(Some("u1")), Lane::freshchat(Some("c1")));
        for e in [
            event(Source::Zalo, "replay-1", zalo.clone(), "user_send_text"),
            event(Source::Zalo, "m-2", zalo.clone(), "user_send_image"),
            event(Source::Freshchat, "m-3", fc.clone(), "message_create"),
        ] {
            store.ingest(e).await.unwrap();
        }
        let all = store.inbox_events(InboxQuery::default()).await.unwrap();
        assert_eq!(all.len(), 3);
        let pending = InboxQuery::in_state(EventState::Pending);
        let zalo_text = pending.clone().from(Source::Zalo).named("user_send_text");
        let rows = store.inbox_events(zalo_text).await.unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].body, b"{\"key\":\"replay-1\"}");
        let in_fc = store.inbox_events(pending.in_lane(fc)).await.unwrap();
        assert_eq!(in_fc.len(), 1);
        let replays = InboxQuery {
            dedupe_key_prefix: Some("replay".into()),
            ..InboxQuery::default()
        };
        assert_eq!(store.inbox_events(replays).await.unwrap().len(), 1);
        let done = InboxQuery::in_state(EventState::Done);
        assert!(store.inbox_events(done).await.unwrap().is_empty());
        assert_eq!(
            store
                .count_inbox_in_state(EventState::Pending)
                .await
                .unwrap(),
            3
        );
        assert_eq!(store.inbox_count().await.unwrap(), 3);
        assert_eq!(
            store.kept_for_zalo_user("u1".into()).await.unwrap(),
            KeptForUser::default()
        );
    }
}
