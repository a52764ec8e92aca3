//! Ratings after resolve (`[csat]`): [`AskedRating`] remembers that the resolve notice carrying the
//! question reached the customer; [`RecordRating`] records the lone digit they answered with (the
//! engine plans it instead of a message, so no conversation is opened or reopened for it): a
//! private note in the resolved conversation, the Freshchat user property, the store (for the
//! console's daily average), the metric `zfsync_csat_ratings_total{pairing,score}`.
//!
//! Failure: Freshchat and store errors are returned as [`SyncError`] (transient ones retry the
//! event; a retry after the note was posted may post it again). Freshchat refusing the property
//! (an account that has not defined it) is not an error: the admins are told once
//! ([`super::properties`]).

use zfsync_mappings::{AskedRating, RecordRating};

use super::properties::set_property;
use super::{Job, Run, SyncContext};
use crate::error::SyncError;
use crate::store::Record;
use crate::telemetry::events::{CustomerRated, InternalEvent};

impl Run for AskedRating {
    type Output = ();

    async fn run(&self, cx: &SyncContext, _job: Job<'_>) -> Result<(), SyncError> {
        cx.store
            .set_rating_asked(
                self.zalo_user_id.clone(),
                self.conversation_id.clone(),
                crate::store::now_ms(),
            )
            .await?;
        Ok(())
    }
}

impl Run for RecordRating {
    type Output = ();

    async fn run(&self, cx: &SyncContext, job: Job<'_>) -> Result<(), SyncError> {
        let journal = job.journal(&cx.store);
        journal.begin(None).await?;
        cx.notes
            .post(&self.conversation_id, self.note.clone())
            .await;
        if !self.property.is_empty() {
            if let Some(contact) = cx.store.contact(self.zalo_user_id.clone()).await? {
                let value = self.score.to_string();
                let set = set_property(cx, &contact, &self.property, Some(&value), "csat").await;
                if let Err(e) = set {
                    journal.abandon_unless_unknown(&e).await;
                    return Err(e);
                }
                // A refused property: the admins' note goes where the rating's note went.
                cx.notes
                    .post_properties_note_if_due(&self.conversation_id)
                    .await;
            }
        }
        cx.store
            .record_rating(
                self.zalo_user_id.clone(),
                self.conversation_id.clone(),
                self.score,
            )
            .await?;
        CustomerRated {
            score: self.score,
            conversation_id: &self.conversation_id,
        }
        .emit();
        Ok(journal.sent(None, Record::Nothing).await?)
    }
}
