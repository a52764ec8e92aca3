//! The journal of external effects: a step is `sending` before its call and `sent` (with the remote
//! id, and the id pairing written in the same transaction) after it. A step found `sending` later
//! had an unknown outcome and is reconciled before it is tried again. A step writes its entry
//! through a [`Journal`]; what it pairs is a [`Record`].

use super::db::{params, Db};

use super::identities::put_identity_clash;
use super::model::{CallOutcome, JournalKey, Record, StepKind, StepState};
use super::pairings::{put_contact, put_conversation_if_none, put_message};
use super::{now_ms, Store, StoreError};

/// A journalled step.
#[derive(Debug, Clone)]
pub struct StepRow {
    /// Where it stands.
    pub state: StepState,
    /// What the call created (message id, user id, ...), once sent.
    pub remote_id: Option<String>,
    /// When the call was (last) started (unix ms).
    pub started_at: i64,
}

/// The journal of one step of one event: `begin` before the external call, then `sent` with what
/// it created and what it pairs (one transaction), or `abandon_unless_unknown` when the call failed.
#[derive(Debug, Clone, Copy)]
pub struct Journal<'a> {
    store: &'a Store,
    key: JournalKey,
    kind: StepKind,
}

impl Journal<'_> {
    /// Journals the step as `sending` (before the external call). `target` is the Zalo user of a
    /// send to Zalo (a send in flight to that user makes a matching echo wait).
    pub async fn begin(&self, target: Option<&str>) -> Result<(), StoreError> {
        let (key, kind, target) = (self.key, self.kind, target.map(str::to_string));
        self.store
            .write(move |c| {
                c.execute(
                    "INSERT INTO steps (inbox_id, idx, kind, target, state, started_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                     ON CONFLICT (inbox_id, idx) DO UPDATE SET state = excluded.state, started_at = excluded.started_at",
                    params![key.inbox_id, key.idx, kind.as_str(), target, StepState::Sending, now_ms()],
                )?;
                Ok(())
            })
            .await
    }

    /// Journals the step as `sent` with the remote id, together with what it pairs, in one
    /// transaction.
    pub async fn sent(&self, remote_id: Option<String>, record: Record) -> Result<(), StoreError> {
        let key = self.key;
        let pairing = self.store.p();
        self.store
            .write(move |c| {
                mark_sent(c, key, remote_id.as_deref())?;
                put_record(c, &pairing, &record)
            })
            .await
    }

    /// The remote side answered with an error: the call did not take effect, so the `sending`
    /// entry is forgotten and the next attempt need not reconcile. Timeouts and connection errors
    /// leave it: their outcome is unknown.
    pub async fn abandon_unless_unknown(&self, err: &impl CallOutcome) {
        if err.outcome_unknown() {
            return;
        }
        let key = self.key;
        let forgotten = self
            .store
            .write(move |c| {
                c.execute(
                    "DELETE FROM steps WHERE inbox_id = ?1 AND idx = ?2 AND state = ?3",
                    params![key.inbox_id, key.idx, StepState::Sending],
                )?;
                Ok(())
            })
            .await;
        if let Err(e) = forgotten {
            // The entry stays `sending`: the next attempt reconciles first, which is only slower.
            tracing::debug!(error = %e, "cannot forget a failed step's journal entry");
        }
    }
}

impl Store {
    /// The journal of one step.
    pub fn journal(&self, key: JournalKey, kind: StepKind) -> Journal<'_> {
        Journal {
            store: self,
            key,
            kind,
        }
    }

    /// The journal entry of a step, if any.
    pub async fn step(&self, key: JournalKey) -> Result<Option<StepRow>, StoreError> {
        self.lookup(move |c| {
            c.query_opt(
                "SELECT state, remote_id, started_at FROM steps WHERE inbox_id = ?1 AND idx = ?2",
                params![key.inbox_id, key.idx],
                |r| {
                    Ok(StepRow {
                        state: r.get(0)?,
                        remote_id: r.get(1)?,
                        started_at: r.get(2)?,
                    })
                },
            )
        })
        .await
    }

    /// Whether a send to this Zalo user is journalled as in flight.
    pub async fn zalo_send_in_flight(&self, zalo_user_id: String) -> Result<bool, StoreError> {
        let p = self.p();
        self.lookup(move |c| {
            c.query_row(
                "SELECT EXISTS (SELECT 1 FROM steps s JOIN inbox i ON i.id = s.inbox_id
                                WHERE s.state = ?1 AND s.kind IN (?2, ?5) AND s.target = ?3 AND i.pairing = ?4)",
                params![
                    StepState::Sending,
                    StepKind::SendZalo.as_str(),
                    zalo_user_id,
                    p,
                    StepKind::SendTemplate.as_str()
                ],
                |r| r.get::<bool>(0),
            )
        })
        .await
    }
}

/// Writes what a step pairs (inside the write that marks it sent).
fn put_record(c: &Db<'_>, pairing: &str, record: &Record) -> Result<(), StoreError> {
    match record {
        Record::Nothing => Ok(()),
        Record::Message(m) => put_message(c, pairing, m),
        Record::Contact { contact, clash } => {
            put_contact(c, pairing, contact)?;
            match clash {
                // The admins' note goes into the new conversation, with the first post.
                Some(refused) => put_identity_clash(c, pairing, &contact.zalo_user_id, refused),
                None => Ok(()),
            }
        }
        Record::Conversation {
            conversation_id,
            message,
        } => {
            put_conversation_if_none(c, pairing, &message.zalo_user_id, conversation_id)?;
            put_message(c, pairing, message)
        }
    }
}

/// Marks a step `sent` (inside a write).
fn mark_sent(c: &Db<'_>, key: JournalKey, remote_id: Option<&str>) -> Result<(), StoreError> {
    c.execute(
        "UPDATE steps SET state = ?3, remote_id = ?4, finished_at = ?5 WHERE inbox_id = ?1 AND idx = ?2",
        params![key.inbox_id, key.idx, StepState::Sent, remote_id, now_ms()],
    )?;
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use crate::store::model::{Contact, Direction, MessagePair};
    use crate::store::testing::on_both_backends;
    use crate::store::{CallOutcome, Ingested, JournalKey, Lane, NewEvent, Record, Source};
    use crate::store::{StepKind, StepState, Store};

    on_both_backends!(a_journal_pairs_what_it_sent_and_keeps_only_unknown_outcomes);

    /// A call's error as the journal sees it.
    struct Failed {
        unknown: bool,
    }

    impl CallOutcome for Failed {
        fn outcome_unknown(&self) -> bool {
            self.unknown
        }
    }

    async fn event(store: &Store) -> i64 {
        let ev = NewEvent {
            source: Source::Zalo,
            dedupe_key: "m1".into(),
            lane: Lane::zalo(Some("42")),
            event_name: "user_send_text".into(),
            body: b"{}".to_vec(),
            event_time: super::now_ms(),
            provenance: crate::store::Provenance::Webhook,
        };
        let Ingested::New(id) = store.ingest(ev).await.unwrap() else {
            panic!("the event is new");
        };
        id
    }

    fn pair(zalo_msg_id: &str) -> MessagePair {
        MessagePair {
            direction: Direction::ToFreshchat,
            zalo_user_id: "42".into(),
            zalo_msg_id: Some(zalo_msg_id.into()),
            freshchat_message_id: Some(format!("fc-{zalo_msg_id}")),
            preview: None,
            from_customer: true,
        }
    }

    /// A step is `sending` from `begin`; `sent` writes the remote id and what the step pairs
    /// together; a refused call forgets `sending`, a call of unknown outcome keeps it.
    async fn a_journal_pairs_what_it_sent_and_keeps_only_unknown_outcomes(store: Store) {
        let id = event(&store).await;
        let key = |idx| JournalKey { inbox_id: id, idx };

        let contact = store.journal(key(0), StepKind::EnsureContact);
        contact.begin(None).await.unwrap();
        let row = store.step(key(0)).await.unwrap().unwrap();
        assert_eq!(row.state, StepState::Sending);
        let made = Contact {
            zalo_user_id: "42".into(),
            freshchat_user_id: "fc-user".into(),
            display_name: "Lan".into(),
            avatar: None,
            profile_complete: true,
            following: None,
            first_seen_at: 1,
            profile_checked_at: None,
        };
        let record = Record::Contact {
            contact: made,
            clash: Some("fc-a,fc-b".into()),
        };
        contact.sent(Some("fc-user".into()), record).await.unwrap();
        let row = store.step(key(0)).await.unwrap().unwrap();
        assert_eq!(row.state, StepState::Sent);
        assert_eq!(row.remote_id.as_deref(), Some("fc-user"));
        let stored = store.contact("42".into()).await.unwrap().unwrap();
        assert_eq!(stored.freshchat_user_id, "fc-user");
        assert_eq!(
            store.identity_clash("42".into()).await.unwrap().as_deref(),
            Some("fc-a,fc-b")
        );

        // Found in a conversation: the conversation becomes the customer's, the message paired.
        let post = store.journal(key(1), StepKind::PostFreshchat);
        let record = Record::Conversation {
            conversation_id: "conv-1".into(),
            message: pair("z1"),
        };
        post.sent(Some("fc-z1".into()), record).await.unwrap();
        assert_eq!(
            store.conversation_of("42".into()).await.unwrap().as_deref(),
            Some("conv-1")
        );
        assert_eq!(
            store.known_zalo_message("z1".into()).await.unwrap(),
            Some(Direction::ToFreshchat)
        );
        // A second conversation does not replace the customer's current one.
        let record = Record::Conversation {
            conversation_id: "conv-2".into(),
            message: pair("z2"),
        };
        post.sent(None, record).await.unwrap();
        assert_eq!(
            store.conversation_of("42".into()).await.unwrap().as_deref(),
            Some("conv-1")
        );

        // A send to Zalo in flight is seen as such (echoes wait for it) until it is abandoned.
        let send = store.journal(key(2), StepKind::SendZalo);
        send.begin(Some("42")).await.unwrap();
        assert!(store.zalo_send_in_flight("42".into()).await.unwrap());
        send.abandon_unless_unknown(&Failed { unknown: true }).await;
        assert!(store.zalo_send_in_flight("42".into()).await.unwrap());
        send.abandon_unless_unknown(&Failed { unknown: false })
            .await;
        assert!(!store.zalo_send_in_flight("42".into()).await.unwrap());
        assert!(store.step(key(2)).await.unwrap().is_none());
    }
}
