//! Writing the Freshchat user properties of zfsync's features (`[tags]`' `zalo_tags`, `[csat]`'
//! `zalo_last_rating`, `[contact_info]`'s `zalo_address`): a read-change-write of the whole list
//! (Freshchat replaces the list on update), every other property kept.
//!
//! Failure: Freshchat errors other than a refusal are returned as [`SyncError`]. Freshchat
//! refusing a property (an account that has not defined it) is not an error: the write reports
//! it (`Ok(false)`), it is remembered for `zfsync check`, and the admins get a private note once
//! per property ([`super::notes::AgentNotes::feature_property_refused`]).

use zfsync_freshchat::{FreshchatError, Property, UserUpdate};

use super::SyncContext;
use crate::error::SyncError;
use crate::store::Contact;

/// Sets (`Some`) or removes (`None`) one property of the customer's Freshchat user, every other
/// property kept. True when the user holds the value afterwards; false when Freshchat refused the
/// property. `feature` names the rules' table that writes it, for the log.
pub(crate) async fn set_property(
    cx: &SyncContext,
    contact: &Contact,
    name: &str,
    value: Option<&str>,
    feature: &'static str,
) -> Result<bool, SyncError> {
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
        return Ok(true);
    }
    write_properties(cx, contact, name, properties, feature).await
}

/// Writes the whole property list of the customer's Freshchat user, which changed property
/// `name`. True when Freshchat took it; false when it refused it (remembered, the admins told
/// once, logged under `feature`).
pub(crate) async fn write_properties(
    cx: &SyncContext,
    contact: &Contact,
    name: &str,
    properties: Vec<Property>,
    feature: &'static str,
) -> Result<bool, SyncError> {
    let update = UserUpdate {
        properties: Some(properties),
        ..UserUpdate::default()
    };
    match cx
        .freshchat
        .update_user(&contact.freshchat_user_id, &update)
        .await
    {
        Ok(()) => {
            cx.notes.feature_property_accepted(name).await?;
            Ok(true)
        }
        Err(FreshchatError::Invalid { message, .. }) => {
            if cx.notes.feature_property_refused(name, &message).await? {
                tracing::warn!(
                    feature,
                    property = %name,
                    reason = %message,
                    "Freshchat refused a user property of zfsync's rules; create it in Freshchat Admin → Contacts → Custom fields (the admins get a note)"
                );
            } else {
                tracing::debug!(feature, property = %name, reason = %message, "Freshchat still refuses the user property");
            }
            Ok(false)
        }
        Err(e) => Err(e.into()),
    }
}
