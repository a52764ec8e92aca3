//! Zalo OA tags ↔ the Freshchat user property `zalo_tags` (`[tags]` of the rules).
//!
//! zfsync keeps, per customer, the tag set it last saw on Zalo (the store's `zalo_tags`): from
//! `user/detail` when it creates the customer's Freshchat user or their profile changes, and from
//! the tag events ([`SyncZaloTags`]). A change is the difference between that set and the new one,
//! and only the difference is applied to the property (`zfsync_mappings::tags::merge`): a tag an
//! agent typed into the property is never removed because Zalo lacks it, and a tag an agent
//! removed is not put back until Zalo adds it again. The property is read, changed and written
//! back with every other property kept (Freshchat replaces the list on update).
//!
//! [`tag_customer`] is what an agent's `/zalo tag <name>` and `/zalo untag <name>` run: Zalo's tag
//! API, then the property and the store, so that the event Zalo sends back changes nothing more.
//!
//! Failure: Freshchat, Zalo and store errors are returned as [`SyncError`] (transient ones retry
//! the event). Freshchat refusing the property (an account that has not defined it) is not an
//! error: the tags stay in the store and in Zalo, and the admins are told once
//! ([`super::properties`]).

use std::collections::BTreeSet;

use zfsync_freshchat::Property;
use zfsync_mappings::tags::{format_property, merge, parse_property};
use zfsync_mappings::{Rules, SyncZaloTags, TagChange, TagCustomer};

use super::{Job, Run, SyncContext};
use crate::error::SyncError;
use crate::store::{Contact, Record};

impl Run for SyncZaloTags {
    type Output = ();

    /// Applies the change to every customer it concerns that zfsync knows (a customer it meets
    /// later gets their tags from `user/detail`).
    async fn run(&self, cx: &SyncContext, job: Job<'_>) -> Result<(), SyncError> {
        let users = match &self.change {
            TagChange::Deleted(tag) => cx.store.users_with_zalo_tag(tag.clone()).await?,
            _ => self.zalo_user_ids.clone(),
        };
        let journal = job.journal(&cx.store);
        journal.begin(None).await?;
        for user in users {
            if let Err(e) = change_one(cx, &user, &self.change).await {
                journal.abandon_unless_unknown(&e).await;
                return Err(e);
            }
        }
        Ok(journal.sent(None, Record::Nothing).await?)
    }
}

async fn change_one(cx: &SyncContext, user: &str, change: &TagChange) -> Result<(), SyncError> {
    let Some(contact) = cx.store.contact(user.to_string()).await? else {
        return Ok(());
    };
    let seen = seen_tags(cx, user).await?;
    let mut now = seen.clone();
    match change {
        TagChange::Added(t) => now.insert(t.clone()),
        TagChange::Removed(t) | TagChange::Deleted(t) => now.remove(t),
    };
    zalo_tags_now(cx, &contact, &seen, &now).await
}

/// The tags zfsync last saw on the customer on Zalo (none when it never looked).
async fn seen_tags(cx: &SyncContext, user: &str) -> Result<BTreeSet<String>, SyncError> {
    Ok(cx
        .store
        .zalo_tags(user.to_string())
        .await?
        .unwrap_or_default()
        .into_iter()
        .collect())
}

/// The customer's Zalo tags went from `seen` to `now`: the difference goes into the Freshchat
/// property, then `now` is remembered. Run again after a crash it changes nothing more (`seen` is
/// remembered last).
async fn zalo_tags_now(
    cx: &SyncContext,
    contact: &Contact,
    seen: &BTreeSet<String>,
    now: &BTreeSet<String>,
) -> Result<(), SyncError> {
    if seen != now {
        write_property(cx, contact, seen, now).await?;
    }
    cx.store
        .set_zalo_tags(contact.zalo_user_id.clone(), now.iter().cloned().collect())
        .await?;
    Ok(())
}

/// The tags `user/detail` gave for a customer zfsync knows (their profile was read again): kept in
/// step like an event's change. Does nothing with tag sync off or without a tag list.
pub(crate) async fn profile_tags(
    cx: &SyncContext,
    contact: &Contact,
    tags: Option<&[String]>,
) -> Result<(), SyncError> {
    let Some(tags) = tags.filter(|_| cx.rules.tags.sync) else {
        return Ok(());
    };
    let seen = seen_tags(cx, &contact.zalo_user_id).await?;
    let now: BTreeSet<String> = tags.iter().cloned().collect();
    zalo_tags_now(cx, contact, &seen, &now).await
}

/// The property a new Freshchat user starts with: the tags `user/detail` gave (None with tag sync
/// off, or no tags).
pub(crate) fn first_property(rules: &Rules, tags: Option<&[String]>) -> Option<Property> {
    let tags = tags.filter(|t| rules.tags.sync && !t.is_empty())?;
    Some(Property {
        name: rules.tags.property.clone(),
        value: format_property(tags),
    })
}

/// Remembers the tags a new customer was created with (see [`first_property`]).
pub(crate) async fn remember_first(
    cx: &SyncContext,
    zalo_user_id: &str,
    tags: Option<&[String]>,
) -> Result<(), SyncError> {
    if let Some(tags) = tags.filter(|_| cx.rules.tags.sync) {
        cx.store
            .set_zalo_tags(zalo_user_id.to_string(), tags.to_vec())
            .await?;
    }
    Ok(())
}

/// Reads the user, moves the Zalo difference into the tag property, writes the whole list back.
async fn write_property(
    cx: &SyncContext,
    contact: &Contact,
    seen: &BTreeSet<String>,
    now: &BTreeSet<String>,
) -> Result<(), SyncError> {
    let name = &cx.rules.tags.property;
    let user = cx.freshchat.get_user(&contact.freshchat_user_id).await?;
    let mut properties = user.properties;
    let current = properties
        .iter()
        .find(|p| &p.name == name)
        .map(|p| parse_property(&p.value))
        .unwrap_or_default();
    let merged = merge(seen, &current, now);
    if merged == current {
        return Ok(());
    }
    let value = format_property(&merged);
    match properties.iter_mut().find(|p| &p.name == name) {
        Some(p) => p.value = value,
        None => properties.push(Property {
            name: name.clone(),
            value,
        }),
    }
    super::properties::write_properties(cx, contact, name, properties, "tags").await?;
    Ok(())
}

/// Why an agent's tag command did nothing.
#[derive(Debug, thiserror::Error)]
pub enum TagCommandError {
    /// `tags.agent_commands` is off.
    #[error("Zalo tag commands are switched off; set tags.agent_commands = true in the rules")]
    Off,
    /// No tag name was given.
    #[error("no tag name given; write the tag after the command")]
    NoName,
    /// zfsync does not know the customer (no Freshchat user of theirs in the store).
    #[error("zfsync does not know Zalo customer {0}")]
    UnknownCustomer(String),
    /// Zalo, Freshchat or the store failed.
    #[error(transparent)]
    Sync(#[from] SyncError),
}

/// What an agent's tag command did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tagged {
    /// Zalo tagged or untagged the customer.
    Done,
    /// An untag of a tag the customer does not have (as zfsync last saw their Zalo tags): Zalo
    /// was asked anyway (zfsync's view may be behind), and had nothing to remove.
    NotTagged,
}

/// Tags (`add`) or untags a customer on Zalo on an agent's behalf (`/zalo tag <name>`,
/// `/zalo untag <name>`): Zalo's tag API, then the Freshchat property and the tags zfsync saw, so
/// that the event Zalo sends back changes nothing more. The answer for the agent is
/// [`tag_answer`].
pub async fn tag_customer(
    cx: &SyncContext,
    zalo_user_id: &str,
    tag: &str,
    add: bool,
) -> Result<Tagged, TagCommandError> {
    if !cx.rules.tags.agent_commands {
        return Err(TagCommandError::Off);
    }
    let tag = tag.trim();
    if tag.is_empty() {
        return Err(TagCommandError::NoName);
    }
    let contact = cx
        .store
        .contact(zalo_user_id.to_string())
        .await
        .map_err(SyncError::from)?
        .ok_or_else(|| TagCommandError::UnknownCustomer(zalo_user_id.to_string()))?;
    // Whether the customer had the tag, by the tags zfsync last saw (unknown when it never
    // looked, e.g. with tag sync off).
    let known = cx
        .store
        .zalo_tags(zalo_user_id.to_string())
        .await
        .map_err(SyncError::from)?;
    if add {
        cx.zalo.tag_user(zalo_user_id, tag).await?;
    } else {
        cx.zalo.untag_user(zalo_user_id, tag).await?;
    }
    let seen: BTreeSet<String> = known.clone().unwrap_or_default().into_iter().collect();
    let mut now = seen.clone();
    if add {
        now.insert(tag.to_string());
    } else {
        now.remove(tag);
    }
    zalo_tags_now(cx, &contact, &seen, &now).await?;
    let had = known.is_none_or(|k| k.iter().any(|t| t == tag));
    Ok(if add || had {
        Tagged::Done
    } else {
        Tagged::NotTagged
    })
}

impl Run for TagCustomer {
    type Output = ();

    /// Runs an agent's `/zalo tag|untag` and answers in the conversation it was typed in, in the
    /// agents' language. A transient failure is returned so the event is retried (tagging is
    /// idempotent on Zalo); any other is the answer.
    async fn run(&self, cx: &SyncContext, _job: Job<'_>) -> Result<(), SyncError> {
        let outcome = match tag_customer(cx, &self.zalo_user_id, &self.tag, self.add).await {
            Err(TagCommandError::Sync(e)) if e.is_transient() => return Err(e),
            other => other,
        };
        let note = tag_answer(
            &cx.rules,
            &cx.rules.agents.language,
            &self.tag,
            self.add,
            &outcome,
        );
        cx.notes.post(&self.conversation_id, note).await;
        Ok(())
    }
}

/// The private-note answer to a tag command, in `language` (the agents' language).
pub fn tag_answer(
    rules: &Rules,
    language: &str,
    tag: &str,
    add: bool,
    outcome: &Result<Tagged, TagCommandError>,
) -> String {
    let texts = rules.tag_texts(language);
    let fill = zfsync_mappings::template::fill;
    match outcome {
        Ok(Tagged::Done) if add => fill(&texts.tagged, &[("tag", tag)]),
        Ok(Tagged::NotTagged) if !add => {
            fill(texts.not_tagged.as_deref().unwrap_or(""), &[("tag", tag)])
        }
        Ok(_) => fill(&texts.untagged, &[("tag", tag)]),
        Err(TagCommandError::Off) => texts.commands_off,
        Err(e) => fill(&texts.failed, &[("tag", tag), ("reason", &e.to_string())]),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn answers_follow_the_outcome_and_the_language() {
        let rules = Rules::default();
        let ok = tag_answer(&rules, "en", "vip", true, &Ok(Tagged::Done));
        assert!(ok.contains("Tagged") && ok.contains("vip"), "{ok}");
        let ok = tag_answer(&rules, "vi", "vip", false, &Ok(Tagged::Done));
        assert!(ok.contains("gỡ") && ok.contains("vip"), "{ok}");
        let none = tag_answer(&rules, "en", "vip", false, &Ok(Tagged::NotTagged));
        assert_eq!(
            none,
            "The customer has no Zalo tag “vip”; nothing to remove."
        );
        let none = tag_answer(&rules, "vi", "vip", false, &Ok(Tagged::NotTagged));
        assert!(
            none.contains("không có nhãn") && none.contains("vip"),
            "{none}"
        );
        let off = tag_answer(&rules, "en", "vip", true, &Err(TagCommandError::Off));
        assert!(off.contains("switched off"), "{off}");
        let failed = tag_answer(
            &rules,
            "en",
            "vip",
            true,
            &Err(TagCommandError::UnknownCustomer("42".into())),
        );
        assert!(failed.contains("vip") && failed.contains("42"), "{failed}");
    }

    #[test]
    fn a_new_user_starts_with_the_tags_when_sync_is_on() {
        let mut rules = Rules::default();
        let tags = ["vip".to_string(), "shop".to_string()];
        let p = first_property(&rules, Some(&tags)).unwrap();
        assert_eq!(
            (p.name.as_str(), p.value.as_str()),
            ("zalo_tags", "vip, shop")
        );
        assert!(first_property(&rules, Some(&[])).is_none());
        rules.tags.sync = false;
        assert!(first_property(&rules, Some(&tags)).is_none());
    }
}
