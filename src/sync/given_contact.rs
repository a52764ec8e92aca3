//! Contact details a customer chose to give (`[contact_info]`): an agent's `/zalo ask-info` sends
//! Zalo's request-user-info template ([`AskContactInfo`]); the customer's `user_submit_info` fills
//! the Freshchat user's fields the rules switch on ([`SaveContactInfo`]) and zfsync remembers
//! which; a later `user_withdraw` erases those fields from the Freshchat user ([`erase`]) before
//! everything zfsync holds is deleted.
//!
//! The request is journalled like every Zalo send (`sending`, then `sent` with the id pairing, so
//! Zalo's `oa_send_template` echo is known as zfsync's own). Failure: Zalo's permanent refusals
//! are answered to the agent; transient failures and Freshchat or store errors are returned (the
//! event is retried). Notes are logged when they cannot be posted, never returned.

use zfsync_freshchat::{FreshchatError, UserUpdate};
use zfsync_mappings::template::fill;
use zfsync_mappings::{AskContactInfo, SaveContactInfo};
use zfsync_zalo::OutboundMessage;

use super::properties::set_property;
use super::{Job, Run, SyncContext};
use crate::error::SyncError;
use crate::store::{Contact, Record};

/// The names zfsync remembers for the fields it filled.
pub(crate) const FIRST_NAME: &str = "first_name";
const PHONE: &str = "phone";
const EMAIL: &str = "email";
/// The rules' table these fields belong to (for the log).
const FEATURE: &str = "contact_info";

impl Run for AskContactInfo {
    type Output = ();

    async fn run(&self, cx: &SyncContext, job: Job<'_>) -> Result<(), SyncError> {
        let message = OutboundMessage::RequestUserInfo {
            title: self.title.clone(),
            subtitle: self.subtitle.clone(),
            image_url: self.image_url.clone(),
        };
        let client = cx.zalo.client();
        let sent = super::commands::send_for_command(
            cx,
            job,
            super::commands::CommandSend {
                zalo_user_id: &self.zalo_user_id,
                conversation_id: &self.conversation_id,
                freshchat_message_id: &self.freshchat_message_id,
                preview: &self.title,
                failed_note: &self.failed_note,
                what: "the request for contact details",
            },
            |t| {
                let message = &message;
                async move { client.send_message(&t, &self.zalo_user_id, message).await }
            },
        )
        .await?;
        let Some(sent) = sent else {
            return Ok(());
        };
        tracing::info!(zalo_msg_id = %sent.message_id, "asked the customer for their contact details");
        cx.notes
            .post(&self.conversation_id, self.asked_note.clone())
            .await;
        Ok(())
    }
}

impl Run for SaveContactInfo {
    type Output = ();

    /// Fills the fields, remembers them, then tells the agents in the customer's current
    /// conversation (none is created for it). A customer without a Freshchat user yet (they never
    /// wrote) has nothing to fill.
    async fn run(&self, cx: &SyncContext, job: Job<'_>) -> Result<(), SyncError> {
        let Some(contact) = cx.store.contact(self.zalo_user_id.clone()).await? else {
            tracing::info!(
                "contact details from a customer zfsync has no Freshchat user for; not kept"
            );
            return Ok(());
        };
        let journal = job.journal(&cx.store);
        journal.begin(None).await?;
        let filled = match fill_user(cx, &contact, self).await {
            Ok(f) => f,
            Err(e) => {
                journal.abandon_unless_unknown(&e).await;
                return Err(e);
            }
        };
        cx.store
            .add_given_contact(self.zalo_user_id.clone(), filled.clone())
            .await?;
        let texts = cx.rules.contact_info_texts(&cx.rules.agents.language);
        let label = |k: &str| {
            texts
                .labels
                .get(k)
                .cloned()
                .unwrap_or_else(|| k.to_string())
        };
        let fields = if filled.is_empty() {
            label("none")
        } else {
            filled
                .iter()
                .map(|f| match f.as_str() {
                    FIRST_NAME => label("name"),
                    PHONE | EMAIL => label(f),
                    _ => label("address"),
                })
                .collect::<Vec<_>>()
                .join(", ")
        };
        if let Some(conv) = cx.store.conversation_of(self.zalo_user_id.clone()).await? {
            cx.notes
                .post(&conv, fill(&self.note, &[("fields", &fields)]))
                .await;
            // A refused property: the admins' note goes beside it.
            cx.notes.post_properties_note_if_due(&conv).await;
        }
        Ok(journal.sent(None, Record::Nothing).await?)
    }
}

/// Writes the given details into the Freshchat user; the names of the fields it took.
async fn fill_user(
    cx: &SyncContext,
    contact: &Contact,
    s: &SaveContactInfo,
) -> Result<Vec<String>, SyncError> {
    let mut filled = Vec::new();
    let update = UserUpdate {
        first_name: s.name.clone(),
        // The given name is the whole name: the "Zalo" last name would follow it otherwise.
        last_name: s.name.as_ref().map(|_| String::new()),
        phone: s.phone.clone(),
        email: s.email.clone(),
        ..UserUpdate::default()
    };
    for (name, v) in [(FIRST_NAME, &s.name), (PHONE, &s.phone), (EMAIL, &s.email)] {
        if v.is_some() {
            filled.push(name.to_string());
        }
    }
    if !filled.is_empty() {
        match cx
            .freshchat
            .update_user(&contact.freshchat_user_id, &update)
            .await
        {
            Ok(()) => {}
            Err(FreshchatError::Invalid { message, .. }) => {
                tracing::warn!(reason = %message, "Freshchat refused the customer's contact details");
                filled.clear();
            }
            Err(e) => return Err(e.into()),
        }
    }
    // Only a property Freshchat took is filled (and named in the agents' note).
    if let Some(address) = &s.address {
        if set_property(cx, contact, &s.address_property, Some(address), FEATURE).await? {
            filled.push(format!("property:{}", s.address_property));
        }
    }
    Ok(filled)
}

/// Erases from the customer's Freshchat user the fields zfsync filled from details they gave
/// (their consent withdrawn): the name goes back to the rules' fallback, phone and email are
/// emptied, the address property removed. Posts the agents' note in `conversation` when given.
/// Nothing to do when zfsync filled nothing.
pub(crate) async fn erase(
    cx: &SyncContext,
    zalo_user_id: &str,
    conversation: Option<&str>,
) -> Result<(), SyncError> {
    let fields = cx.store.given_contact(zalo_user_id.to_string()).await?;
    if fields.is_empty() {
        return Ok(());
    }
    let Some(contact) = cx.store.contact(zalo_user_id.to_string()).await? else {
        return Ok(());
    };
    let has = |f: &str| fields.iter().any(|x| x == f);
    let update = UserUpdate {
        first_name: has(FIRST_NAME)
            .then(|| zfsync_mappings::zalo_in::fallback_display_name(zalo_user_id, &cx.rules)),
        last_name: has(FIRST_NAME).then(|| cx.rules.contact.last_name.clone()),
        phone: has(PHONE).then(String::new),
        email: has(EMAIL).then(String::new),
        ..UserUpdate::default()
    };
    if update != UserUpdate::default() {
        cx.freshchat
            .update_user(&contact.freshchat_user_id, &update)
            .await?;
    }
    for property in fields.iter().filter_map(|f| f.strip_prefix("property:")) {
        set_property(cx, &contact, property, None, FEATURE).await?;
    }
    if let Some(conv) = conversation {
        let note = cx
            .rules
            .contact_info_texts(&cx.rules.agents.language)
            .erased_note;
        cx.notes.post(conv, note).await;
    }
    Ok(())
}
