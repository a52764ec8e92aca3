//! Contacts: the Freshchat user of a Zalo user. [`EnsureContact`] finds the user in the store, else
//! by `reference_id` in Freshchat (a lost store never duplicates users), else creates it as
//! "<display name> Zalo" with the `external_user_provider` property; a user created under a
//! fallback name (Zalo refused the profile) gets the real one later. [`RecordFollow`] keeps the
//! follow state in the store and in the Freshchat user's properties, merged into what the user has
//! (never erasing another property). [`RefreshContact`] follows a profile change; [`ForgetUser`]
//! deletes what zfsync holds about a user who withdrew consent and tells the agents.

use zfsync_freshchat::{NewUser, Property, UserUpdate};
use zfsync_mappings::{EnsureContact, ForgetUser, RecordFollow, RefreshContact};

use super::{iso_ms, Job, Run, SyncContext};
use crate::error::SyncError;
use crate::store::{now_ms, pairings, Contact};

/// How long after a failed attempt zfsync tries again to complete a contact's Zalo profile.
const PROFILE_RETRY_MS: i64 = 3600 * 1000;

impl Run for EnsureContact {
    type Output = Contact;

    async fn run(&self, cx: &SyncContext, job: Job<'_>) -> Result<Contact, SyncError> {
        if let Some(c) = cx.store.contact(self.zalo_user_id.clone()).await? {
            let due = c
                .profile_checked_at
                .is_none_or(|t| now_ms() - t >= PROFILE_RETRY_MS);
            if !c.profile_complete && due {
                complete_profile(cx, &c, &self.first_name, &self.last_name).await;
            }
            return Ok(c);
        }
        cx.store.begin_step(job.key, "ensure_contact", None).await?;
        // A user found by reference_id is reused: a lost store never duplicates users.
        let existing = cx
            .freshchat
            .find_users_by_reference_id(&self.reference_id)
            .await?;
        let found = existing
            .into_iter()
            .find(|u| u.reference_id.as_deref() == Some(self.reference_id.as_str()));
        let contact = match found {
            Some(u) => Contact {
                zalo_user_id: self.zalo_user_id.clone(),
                freshchat_user_id: u.id.clone(),
                display_name: u
                    .first_name
                    .clone()
                    .unwrap_or_else(|| self.fallback_display_name.clone()),
                avatar: u.avatar.as_ref().and_then(|a| a.url.clone()),
                profile_complete: u.first_name.as_deref()
                    != Some(self.fallback_display_name.as_str()),
                following: None,
                first_seen_at: now_ms(),
                profile_checked_at: None,
            },
            None => create_user(self, cx, job).await?,
        };
        let c2 = contact.clone();
        cx.store
            .finish_step(job.key, Some(contact.freshchat_user_id.clone()), move |c| {
                pairings::put_contact(c, &c2)
            })
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
        // The profile is optional: the message still goes through under a fallback name.
        let (name, avatar, complete) = match profile_of(cx, &step.zalo_user_id).await {
            Some((name, avatar)) => (name, avatar, true),
            None => (step.fallback_display_name.clone(), None, false),
        };
        let first_seen = iso_ms(job.row.received_at);
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
            properties: contact_properties(
                &step.provider,
                &step.zalo_user_id,
                &step.oa_id,
                Some(&first_seen),
                None,
            ),
        };
        let user = cx.freshchat.create_user(&new_user).await?;
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

/// Best effort: a contact created under a fallback name gets its Zalo profile once Zalo gives it.
async fn complete_profile(cx: &SyncContext, c: &Contact, first_name: &str, last_name: &str) {
    let (display_name, avatar) = match profile_of(cx, &c.zalo_user_id).await {
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

/// Writes a Zalo profile to the contact's Freshchat user and to the store.
async fn update_profile(
    cx: &SyncContext,
    c: &Contact,
    first_name: &str,
    last_name: &str,
    display_name: String,
    avatar: Option<String>,
) -> Result<(), SyncError> {
    let update = UserUpdate {
        first_name: Some(zfsync_mappings::template::fill(
            first_name,
            &[("display_name", &display_name)],
        )),
        last_name: Some(last_name.to_string()),
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

/// A Zalo user's display name and avatar: from `user/detail`, or, when Zalo refuses it (not a
/// follower, no permission), from the names the conversation history carries. None when neither
/// has a name.
async fn profile_of(cx: &SyncContext, zalo_user_id: &str) -> Option<(String, Option<String>)> {
    match cx.zalo.user_detail(zalo_user_id).await {
        Ok(p) if !p.display_name.trim().is_empty() => return Some((p.display_name, p.avatar)),
        Ok(_) => {}
        Err(e) => {
            tracing::info!(error = %e, "zalo profile refused; looking for the name in the history")
        }
    }
    let history = cx.zalo.conversation(zalo_user_id, 0, 10).await.ok()?;
    history.into_iter().find_map(|h| {
        let name = h
            .from_display_name
            .filter(|n| h.from_user && !n.trim().is_empty())?;
        Some((name, h.from_avatar))
    })
}

impl Run for RefreshContact {
    type Output = ();

    async fn run(&self, cx: &SyncContext, job: Job<'_>) -> Result<(), SyncError> {
        // A profile change never creates a contact: only a known one is refreshed.
        let Some(c) = cx.store.contact(self.zalo_user_id.clone()).await? else {
            return Ok(());
        };
        let Some((name, avatar)) = profile_of(cx, &self.zalo_user_id).await else {
            return Ok(());
        };
        cx.store
            .begin_step(job.key, "refresh_contact", None)
            .await?;
        let c_rules = &cx.rules.contact;
        if let Err(e) = update_profile(
            cx,
            &c,
            &c_rules.first_name,
            &c_rules.last_name,
            name,
            avatar,
        )
        .await
        {
            cx.abandon_unless_unknown(job.key, &e).await;
            return Err(e);
        }
        Ok(cx.store.finish_step(job.key, None, |_| Ok(())).await?)
    }
}

impl Run for ForgetUser {
    type Output = ();

    async fn run(&self, cx: &SyncContext, job: Job<'_>) -> Result<(), SyncError> {
        cx.store.begin_step(job.key, "forget_user", None).await?;
        // The note goes into a conversation zfsync already knows; none is created for it.
        if let Some(conv) = cx.store.conversation_of(self.zalo_user_id.clone()).await? {
            cx.post_note(&conv, self.note.clone()).await;
        }
        let rows = cx
            .store
            .forget_user(self.zalo_user_id.clone(), job.row.id)
            .await?;
        tracing::info!(
            rows,
            "the customer withdrew consent on Zalo; deleted what zfsync held about them"
        );
        Ok(cx.store.finish_step(job.key, None, |_| Ok(())).await?)
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
        cx.store.begin_step(job.key, "record_follow", None).await?;
        let props = contact_properties(
            &cx.rules.contact.provider,
            &self.zalo_user_id,
            &cx.oa_id(),
            None,
            Some(self.following),
        );
        let update = UserUpdate {
            first_name: None,
            last_name: None,
            avatar: None,
            properties: Some(props),
        };
        if let Err(e) = cx
            .freshchat
            .update_user(&c.freshchat_user_id, &update)
            .await
        {
            let err = SyncError::Freshchat(e);
            cx.abandon_unless_unknown(job.key, &err).await;
            return Err(err);
        }
        Ok(cx.store.finish_step(job.key, None, |_| Ok(())).await?)
    }
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
            name: "external_user_provider".into(),
            value: provider.to_string(),
        },
        Property {
            name: "zalo_user_id".into(),
            value: zalo_user_id.to_string(),
        },
        Property {
            name: "zalo_oa_id".into(),
            value: oa_id.to_string(),
        },
    ];
    if let Some(t) = first_seen {
        props.push(Property {
            name: "zalo_first_message_at".into(),
            value: t.to_string(),
        });
    }
    if let Some(f) = follower {
        props.push(Property {
            name: "zalo_follower".into(),
            value: f.to_string(),
        });
    }
    props
}
