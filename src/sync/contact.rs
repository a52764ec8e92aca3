//! Contacts: the Freshchat user of a Zalo user. [`EnsureContact`] finds the user in the store, else
//! by `reference_id` in Freshchat when that user is zfsync's own (a lost store never duplicates
//! users; see [`super::identity`] for what makes a user zfsync's own), else creates it as
//! `"<display name> Zalo"` with the `external_user_provider` property; a user created under a
//! fallback name (Zalo refused the profile) gets the real one later. An anonymous chat-widget
//! visitor is created under the rules' name with `zalo_anonymous = true`, and no profile is asked
//! for. [`RecordFollow`] keeps the
//! follow state in the store and in the Freshchat user's properties: it reads the user, merges by
//! name and writes the whole list back (Freshchat replaces the list on update), so no other
//! property is ever erased. [`RefreshContact`] follows a profile change (a name the customer gave
//! stays until they withdraw consent); [`ForgetUser`] deletes
//! what zfsync holds about a user who withdrew consent and tells the agents.
//!
//! An account may refuse custom user properties it does not define (a 400 naming the property).
//! Then the user is created without them and the message still goes through; the refusal is
//! remembered in the store (`meta`), the admins get one private note per Freshchat account (see
//! `AgentNotes::post_properties_note_if_due` in [`super::notes`]) and `zfsync check` names the properties to create.
//! Once Freshchat accepts them again (an admin created them), the refusal is forgotten.
//!
//! Failure: Freshchat and store errors are returned as [`SyncError`] (transient ones retry the
//! event); a refused property write is not an error, and a failed note is logged, not returned.

use zfsync_freshchat::{FreshchatError, NewUser, Property, UserUpdate};
use zfsync_mappings::{EnsureContact, ForgetUser, RecordFollow, RecordReceipt, RefreshContact};

use super::knowledge::app_user_seen;
use super::{iso_ms, Job, Run, SyncContext};
use crate::error::SyncError;
use crate::store::{now_ms, Contact, Record};

/// The user property naming where a Freshchat user comes from (teams build a "Zalo" view on it).
pub const PROP_PROVIDER: &str = "external_user_provider";
/// The user property holding the Zalo user id.
pub const PROP_ZALO_USER_ID: &str = "zalo_user_id";
/// The user property holding the OA id.
pub const PROP_OA_ID: &str = "zalo_oa_id";
/// The user property holding when the customer first wrote (never overwritten).
pub const PROP_FIRST_MESSAGE_AT: &str = "zalo_first_message_at";
/// The user property holding whether the customer follows the OA.
pub const PROP_FOLLOWER: &str = "zalo_follower";
/// The user property marking an anonymous chat-widget visitor (`true`; absent for followers).
pub const PROP_ANONYMOUS: &str = "zalo_anonymous";
/// Every custom user property zfsync writes, in the order an admin would create them.
pub const USER_PROPERTIES: [&str; 5] = [
    PROP_PROVIDER,
    PROP_ZALO_USER_ID,
    PROP_OA_ID,
    PROP_FIRST_MESSAGE_AT,
    PROP_FOLLOWER,
];
/// Where a Freshchat admin creates custom user properties.
pub const PROPERTIES_ADMIN_PATH: &str =
    "Freshchat Admin → Contacts → Custom fields (user properties)";

/// `meta`: what Freshchat said when it last refused zfsync's custom user properties; empty (or
/// absent) while it accepts them.
pub const META_PROPERTIES_REFUSED: &str = "freshchat_properties_refused";

/// How long after a failed attempt zfsync tries again to complete a contact's Zalo profile.
const PROFILE_RETRY_MS: i64 = 3600 * 1000;

impl Run for EnsureContact {
    type Output = Contact;

    async fn run(&self, cx: &SyncContext, job: Job<'_>) -> Result<Contact, SyncError> {
        if let Some(c) = cx.store.contact(self.zalo_user_id.clone()).await? {
            let due = c
                .profile_checked_at
                .is_none_or(|t| now_ms() - t >= PROFILE_RETRY_MS);
            if !c.profile_complete && due && !self.anonymous {
                complete_profile(cx, &c, &self.first_name, &self.last_name).await;
            }
            return Ok(c);
        }
        let journal = job.journal(&cx.store);
        journal.begin(None).await?;
        // A user found by reference_id is reused when it is zfsync's own (see `identity`): a lost
        // store never duplicates users, and a user planted with the customer's reference id never
        // receives their messages.
        let existing = cx
            .freshchat
            .find_users_by_reference_id(&self.reference_id)
            .await?;
        let mut found = None;
        let mut refused = Vec::new();
        for u in existing
            .into_iter()
            .filter(|u| u.reference_id.as_deref() == Some(self.reference_id.as_str()))
        {
            match cx
                .identities
                .vouch(&u, &self.zalo_user_id, &self.oa_id)
                .await?
            {
                Ok(()) => {
                    found = Some(u);
                    break;
                }
                Err(why) => {
                    why.record(&u.id, "creating a new user for the customer");
                    refused.push(u.id);
                }
            }
        }
        let clash = (found.is_none() && !refused.is_empty()).then(|| refused.join(","));
        let contact = match found {
            Some(u) => Contact {
                zalo_user_id: self.zalo_user_id.clone(),
                freshchat_user_id: u.id.clone(),
                display_name: u
                    .first_name
                    .clone()
                    .unwrap_or_else(|| self.fallback_display_name.clone()),
                avatar: u.avatar.as_ref().and_then(|a| a.url.clone()),
                profile_complete: self.anonymous
                    || u.first_name.as_deref() != Some(self.fallback_display_name.as_str()),
                following: None,
                first_seen_at: now_ms(),
                profile_checked_at: None,
            },
            None => create_user(self, cx, job).await?,
        };
        let record = Record::Contact {
            contact: contact.clone(),
            clash,
        };
        journal
            .sent(Some(contact.freshchat_user_id.clone()), record)
            .await?;
        Ok(contact)
    }
}

/// Creates the Freshchat user, with the Zalo profile when Zalo gives it.
async fn create_user(
    step: &EnsureContact,
    cx: &SyncContext,
    job: Job<'_>,
) -> Result<Contact, SyncError> {
    {
        // The profile is optional: the message still goes through under a fallback name. An
        // anonymous visitor has none: they keep the name the rules give them.
        let mut tags = None;
        let (name, avatar, complete) = if step.anonymous {
            (step.fallback_display_name.clone(), None, true)
        } else {
            match profile_of(cx, &step.zalo_user_id).await {
                Some(p) => {
                    tags = p.tags;
                    (p.name, p.avatar, true)
                }
                None => (step.fallback_display_name.clone(), None, false),
            }
        };
        let mut properties = contact_properties(
            &step.provider,
            &step.zalo_user_id,
            &step.oa_id,
            Some(&first_seen_iso(job)),
            None,
        );
        if step.anonymous {
            properties.push(Property {
                name: PROP_ANONYMOUS.into(),
                value: true.to_string(),
            });
        }
        properties.extend(super::tags::first_property(&cx.rules, tags.as_deref()));
        let new_user = NewUser {
            first_name: Some(zfsync_mappings::template::fill(
                &step.first_name,
                &[("display_name", &name)],
            )),
            last_name: Some(step.last_name.clone()),
            reference_id: Some(step.reference_id.clone()),
            avatar: avatar
                .clone()
                .map(|url| zfsync_freshchat::Avatar { url: Some(url) }),
            properties,
        };
        let user = match cx.freshchat.create_user(&new_user).await {
            Ok(user) => {
                cx.notes.properties_accepted().await?;
                user
            }
            // The account may refuse custom properties it does not define: the customer still
            // gets a user (and their message goes through), without the properties.
            Err(FreshchatError::Invalid { message, .. }) if !new_user.properties.is_empty() => {
                let bare = NewUser {
                    properties: Vec::new(),
                    ..new_user
                };
                let user = cx.freshchat.create_user(&bare).await?;
                cx.notes.properties_refused(&message).await?;
                user
            }
            Err(e) => return Err(e.into()),
        };
        super::tags::remember_first(cx, &step.zalo_user_id, tags.as_deref()).await?;
        tracing::info!(freshchat_user_id = %user.id, "created Freshchat user for a Zalo sender");
        Ok(Contact {
            zalo_user_id: step.zalo_user_id.clone(),
            freshchat_user_id: user.id,
            display_name: name,
            avatar,
            profile_complete: complete,
            following: None,
            first_seen_at: job.row.received_at,
            profile_checked_at: None,
        })
    }
}

/// When the customer first wrote, as the `zalo_first_message_at` property has it.
fn first_seen_iso(job: Job<'_>) -> String {
    iso_ms(job.row.received_at)
}

/// Best effort: a contact created under a fallback name gets its Zalo profile once Zalo gives it.
async fn complete_profile(cx: &SyncContext, c: &Contact, first_name: &str, last_name: &str) {
    let Profile {
        name: display_name,
        avatar,
        ..
    } = match profile_of(cx, &c.zalo_user_id).await {
        Some(p) => p,
        None => {
            // Not a follower, or no permission: try again after PROFILE_RETRY_MS rather than
            // on every message (Zalo counts every call against the app's limit).
            let _ = cx.store.profile_check_failed(c.zalo_user_id.clone()).await;
            return;
        }
    };
    let _ = update_profile(cx, c, first_name, last_name, display_name, avatar).await;
}

/// Writes a Zalo profile to the contact's Freshchat user and to the store. A name the customer
/// gave (`user_submit_info`) wins over their Zalo display name until they withdraw consent: the
/// Freshchat name is then left as it is.
async fn update_profile(
    cx: &SyncContext,
    c: &Contact,
    first_name: &str,
    last_name: &str,
    display_name: String,
    avatar: Option<String>,
) -> Result<(), SyncError> {
    let given_name = cx
        .store
        .given_contact(c.zalo_user_id.clone())
        .await?
        .iter()
        .any(|f| f == super::given_contact::FIRST_NAME);
    let update = UserUpdate {
        email: None,
        phone: None,
        first_name: (!given_name).then(|| {
            zfsync_mappings::template::fill(first_name, &[("display_name", &display_name)])
        }),
        last_name: (!given_name).then(|| last_name.to_string()),
        avatar: avatar
            .clone()
            .map(|url| zfsync_freshchat::Avatar { url: Some(url) }),
        properties: None,
    };
    cx.freshchat
        .update_user(&c.freshchat_user_id, &update)
        .await?;
    cx.store
        .update_profile(c.zalo_user_id.clone(), display_name, avatar)
        .await?;
    Ok(())
}

/// What zfsync takes from a Zalo profile.
struct Profile {
    name: String,
    avatar: Option<String>,
    /// The OA's tags on the user (`user/detail` only; None from the history).
    tags: Option<Vec<String>>,
}

/// A Zalo user's display name and avatar (and tags): from `user/detail`, or, when Zalo refuses it
/// (not a follower, no permission), from the names the conversation history carries. None when
/// neither has a name.
async fn profile_of(cx: &SyncContext, zalo_user_id: &str) -> Option<Profile> {
    match cx.zalo.user_detail(zalo_user_id).await {
        Ok(p) => {
            // The answer carries the app-scoped id: kept, so that events naming the customer by
            // it alone (update_user_info) find them.
            if let Some(by_app) = p.user_id_by_app.as_deref().filter(|b| !b.is_empty()) {
                if let Err(e) = app_user_seen(cx, &cx.oa_id(), by_app, zalo_user_id).await {
                    tracing::warn!(error = %e, "could not keep the customer's app-scoped id");
                }
            }
            if !p.display_name.trim().is_empty() {
                return Some(Profile {
                    name: p.display_name,
                    avatar: p.avatar,
                    tags: p.tag_names,
                });
            }
        }
        Err(e) => {
            tracing::info!(error = %e, "zalo profile refused; looking for the name in the history")
        }
    }
    let history = cx.zalo.conversation(zalo_user_id, 0, 10).await.ok()?;
    history.into_iter().find_map(|h| {
        let name = h
            .from_display_name
            .filter(|n| h.from_user && !n.trim().is_empty())?;
        Some(Profile {
            name,
            avatar: h.from_avatar,
            tags: None,
        })
    })
}

impl Run for RefreshContact {
    type Output = ();

    async fn run(&self, cx: &SyncContext, job: Job<'_>) -> Result<(), SyncError> {
        // A profile change never creates a contact: only a known one is refreshed.
        let Some(c) = cx.store.contact(self.zalo_user_id.clone()).await? else {
            return Ok(());
        };
        let Some(profile) = profile_of(cx, &self.zalo_user_id).await else {
            return Ok(());
        };
        let journal = job.journal(&cx.store);
        journal.begin(None).await?;
        let c_rules = &cx.rules.contact;
        let updated = match update_profile(
            cx,
            &c,
            &c_rules.first_name,
            &c_rules.last_name,
            profile.name,
            profile.avatar,
        )
        .await
        {
            Ok(()) => super::tags::profile_tags(cx, &c, profile.tags.as_deref()).await,
            Err(e) => Err(e),
        };
        if let Err(e) = updated {
            journal.abandon_unless_unknown(&e).await;
            return Err(e);
        }
        Ok(journal.sent(None, Record::Nothing).await?)
    }
}

impl Run for ForgetUser {
    type Output = ();

    async fn run(&self, cx: &SyncContext, job: Job<'_>) -> Result<(), SyncError> {
        let journal = job.journal(&cx.store);
        journal.begin(None).await?;
        // The note goes into a conversation zfsync already knows; none is created for it.
        let conv = cx.store.conversation_of(self.zalo_user_id.clone()).await?;
        if let Some(conv) = &conv {
            cx.notes.post(conv, self.note.clone()).await;
        }
        // What the customer once gave leaves their Freshchat user too.
        if let Err(e) = super::given_contact::erase(cx, &self.zalo_user_id, conv.as_deref()).await {
            journal.abandon_unless_unknown(&e).await;
            return Err(e);
        }
        let rows = cx
            .store
            .forget_user(self.zalo_user_id.clone(), job.row.id)
            .await?;
        tracing::info!(
            rows,
            "the customer withdrew consent on Zalo; deleted what zfsync held about them"
        );
        Ok(journal.sent(None, Record::Nothing).await?)
    }
}

impl Run for RecordFollow {
    type Output = ();

    async fn run(&self, cx: &SyncContext, job: Job<'_>) -> Result<(), SyncError> {
        let known = cx
            .store
            .set_following(self.zalo_user_id.clone(), self.following)
            .await?;
        if !known {
            return Ok(());
        }
        let Some(c) = cx.store.contact(self.zalo_user_id.clone()).await? else {
            return Ok(());
        };
        let journal = job.journal(&cx.store);
        journal.begin(None).await?;
        if let Err(e) = write_follow(cx, &c, self.following).await {
            journal.abandon_unless_unknown(&e).await;
            return Err(e);
        }
        Ok(journal.sent(None, Record::Nothing).await?)
    }
}

impl Run for RecordReceipt {
    type Output = ();

    /// Marks the messages delivered or seen in the store (no external effect, so no journal).
    async fn run(&self, cx: &SyncContext, _job: Job<'_>) -> Result<(), SyncError> {
        cx.store
            .record_receipts(self.msg_ids.clone(), self.seen)
            .await?;
        Ok(())
    }
}

/// Writes the follow state into the Freshchat user's properties: reads the user, merges zfsync's
/// properties into theirs by name and writes the whole list back. A refusal of the properties is
/// remembered, not an error: the follow state stays in the store.
async fn write_follow(cx: &SyncContext, c: &Contact, following: bool) -> Result<(), SyncError> {
    let user = cx.freshchat.get_user(&c.freshchat_user_id).await?;
    let first_seen = iso_ms(c.first_seen_at);
    let ours = contact_properties(
        &cx.rules.contact.provider,
        &c.zalo_user_id,
        &cx.oa_id(),
        Some(&first_seen),
        Some(following),
    );
    let update = UserUpdate {
        email: None,
        phone: None,
        first_name: None,
        last_name: None,
        avatar: None,
        properties: Some(merge_properties(user.properties, ours)),
    };
    match cx
        .freshchat
        .update_user(&c.freshchat_user_id, &update)
        .await
    {
        Ok(()) => cx.notes.properties_accepted().await,
        Err(FreshchatError::Invalid { message, .. }) => cx.notes.properties_refused(&message).await,
        Err(e) => Err(e.into()),
    }
}

/// The user's properties with zfsync's merged in by name: zfsync's values replace its own names,
/// every other property stays as it is, and the first-message time is only ever added.
fn merge_properties(mut theirs: Vec<Property>, ours: Vec<Property>) -> Vec<Property> {
    for p in ours {
        match theirs.iter_mut().find(|t| t.name == p.name) {
            Some(_) if p.name == PROP_FIRST_MESSAGE_AT => {}
            Some(t) => t.value = p.value,
            None => theirs.push(p),
        }
    }
    theirs
}

/// The admins' note about refused custom user properties.
pub fn properties_note(why: &str) -> String {
    format!(
        "For the Freshchat admin (zfsync, shown once): Freshchat refused the custom user properties zfsync adds to Zalo customers (Freshchat said: {why}). Customers are still created and their messages go through, but without these properties. To keep them, create these user properties in {PROPERTIES_ADMIN_PATH}: {} (and {PROP_ANONYMOUS} for anonymous chat-widget visitors). zfsync adds them to new customers once they exist; 'zfsync check' reports whether they are still missing.",
        USER_PROPERTIES.join(", ")
    )
}

/// The Freshchat user properties zfsync keeps for a Zalo user.
fn contact_properties(
    provider: &str,
    zalo_user_id: &str,
    oa_id: &str,
    first_seen: Option<&str>,
    follower: Option<bool>,
) -> Vec<Property> {
    let mut props = vec![
        Property {
            name: PROP_PROVIDER.into(),
            value: provider.to_string(),
        },
        Property {
            name: PROP_ZALO_USER_ID.into(),
            value: zalo_user_id.to_string(),
        },
        Property {
            name: PROP_OA_ID.into(),
            value: oa_id.to_string(),
        },
    ];
    if let Some(t) = first_seen {
        props.push(Property {
            name: PROP_FIRST_MESSAGE_AT.into(),
            value: t.to_string(),
        });
    }
    if let Some(f) = follower {
        props.push(Property {
            name: PROP_FOLLOWER.into(),
            value: f.to_string(),
        });
    }
    props
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn prop(name: &str, value: &str) -> Property {
        Property {
            name: name.into(),
            value: value.into(),
        }
    }

    #[test]
    fn merging_keeps_every_other_property_and_the_first_message_time() {
        let theirs = vec![
            prop("vip", "yes"),
            prop(PROP_FIRST_MESSAGE_AT, "2024-01-01T00:00:00.000Z"),
            prop(PROP_FOLLOWER, "true"),
        ];
        let ours = vec![
            prop(PROP_PROVIDER, "zalo"),
            prop(PROP_FIRST_MESSAGE_AT, "2025-05-05T00:00:00.000Z"),
            prop(PROP_FOLLOWER, "false"),
        ];
        let merged = merge_properties(theirs, ours);
        assert_eq!(
            merged,
            vec![
                prop("vip", "yes"),
                prop(PROP_FIRST_MESSAGE_AT, "2024-01-01T00:00:00.000Z"),
                prop(PROP_FOLLOWER, "false"),
                prop(PROP_PROVIDER, "zalo"),
            ]
        );
    }

    #[test]
    fn the_note_names_every_property_and_where_to_create_them() {
        let note = properties_note("Invalid user property: zalo_oa_id is not defined");
        for name in USER_PROPERTIES.iter().chain([&PROP_ANONYMOUS]) {
            assert!(note.contains(name), "{note}");
        }
        assert!(note.contains("Freshchat Admin"), "{note}");
        assert!(note.contains("is not defined"), "{note}");
    }
}
