//! Ratings after resolve (`[csat]`): [`AskedRating`] remembers that the resolve notice carrying the
//! question reached the customer; [`RecordRating`] records the lone digit they answered with (the
//! engine plans it instead of a message, so no conversation is opened or reopened for it): a
//! private note in the resolved conversation, the Freshchat user property, the store (for the
//! console's daily average), the metric `zfsync_csat_ratings_total{pairing,score}`.
//!
//! Also [`set_property`], the read-change-write of one Freshchat user property (Freshchat replaces
//! the list on update), shared with the contact details.
//!
//! Failure: Freshchat and store errors are returned as [`SyncError`] (transient ones retry the
//! event; a retry after the note was posted may post it again). Freshchat refusing the property
//! (an account that has not defined it) is logged and not an error.

use zfsync_freshchat::{FreshchatError, Property, UserUpdate};
use zfsync_mappings::{AskedRating, RecordRating};

use super::{Job, Run, SyncContext};
use crate::error::SyncError;
use crate::store::{Contact, Record};
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
                if let Err(e) = set_property(cx, &contact, &self.property, Some(&value)).await {
                    journal.abandon_unless_unknown(&e).await;
                    return Err(e);
                }
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

/// Sets (`Some`) or removes (`None`) one property of the customer's Freshchat user, every other
/// property kept. Freshchat refusing it is logged, not returned.
pub(crate) async fn set_property(
    cx: &SyncContext,
    contact: &Contact,
    name: &str,
    value: Option<&str>,
) -> Result<(), SyncError> {
    let user = cx.freshchat.get_user(&contact.freshchat_user_id).await?;
    let mut properties = user.properties;
    let before = properties.clone();
    match (properties.iter_mut().find(|p| p.name == name), value) {
        (Some(p), Some(v)) => p.value = v.to_string(),
        (None, Some(v)) => properties.push(Property {
            name: name.to_string(),
            value: v.to_string(),
        }),
        (_, None) => properties.retain(|p| p.name != name),
    }
    if properties == before {
        return Ok(());
    }
    write_properties(cx, contact, name, properties).await
}

/// Writes the whole property list of the customer's Freshchat user. Freshchat refusing it (an
/// account that has not defined the property `name`) is logged, not returned.
pub(crate) async fn write_properties(
    cx: &SyncContext,
    contact: &Contact,
    name: &str,
    properties: Vec<Property>,
) -> Result<(), SyncError> {
    let update = UserUpdate {
        properties: Some(properties),
        ..UserUpdate::default()
    };
    match cx
        .freshchat
        .update_user(&contact.freshchat_user_id, &update)
        .await
    {
        Ok(()) => Ok(()),
        Err(FreshchatError::Invalid { message, .. }) => {
            tracing::warn!(
                property = %name,
                reason = %message,
                "Freshchat refused a user property; create it in Freshchat Admin → Contacts → Custom fields"
            );
            Ok(())
        }
        Err(e) => Err(e.into()),
    }
}
