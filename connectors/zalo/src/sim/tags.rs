//! OA tags (reference §4.5, §5.5): `tagfollower` (`{"user_id", "tag_name"}`, `user_id` a JSON
//! number or string; the tag is created when the OA has none of that name), `rmfollowerfromtag`,
//! `rmtag` (`{"tag_name"}`), `gettagsofoa` (`data` a flat array of names); `user/detail` shows a
//! user's tags in `tags_and_notes_info.tag_names`.
//!
//! Every change sends the event the documented examples show (`add_user_to_tag`,
//! `remove_user_from_tag` with `tag {user_ids, name}`, `remove_tag` with `tag {name}`), whether an
//! app called the API or someone used the OA's console ([`ZaloSim::console_tag_user`] and its
//! siblings, for tests). A change that changes nothing (a user tagged twice) sends nothing.
//!
//! Where the reference is silent, this simulator chooses: a user the OA has never met is refused
//! like `user/detail` refuses them (-213); an empty `tag_name`, and a `tag_name` the OA does not
//! have in `rmfollowerfromtag` or `rmtag`, are -201 (invalid parameter), while taking a user out
//! of a tag the OA has but the user lacks answers 0 and sends nothing; the events'
//! `user_id_by_app` is the tagged user's, or for OA-wide changes the acting admin's (a stable
//! derived id).

use serde_json::Value;

use super::events::{self, Event};
use super::wire::{self, ApiError, ApiResult};
use super::ZaloSim;

/// A change of the OA's tags.
#[derive(Debug, Clone)]
enum Change {
    Tag { user_id: String, tag: String },
    Untag { user_id: String, tag: String },
    Remove { tag: String },
    Create { tag: String },
}

/// Which tag call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TagCall {
    TagFollower,
    RmFollowerFromTag,
    RmTag,
}

impl ZaloSim {
    /// One of the POST tag calls, with its body.
    pub(crate) async fn tag_call(&self, oa: &str, call: TagCall, body: &[u8]) -> ApiResult {
        let v: Value = serde_json::from_slice(body)
            .ok()
            .filter(Value::is_object)
            .ok_or_else(|| ApiError::invalid("body"))?;
        if oa != self.config().oa_id {
            return Err(ApiError::new(wire::E_NOT_FOLLOWER, wire::MSG_NOT_FOLLOWER));
        }
        let tag = match v.get("tag_name") {
            Some(Value::String(t)) if !t.trim().is_empty() => t.clone(),
            _ => return Err(ApiError::invalid("tag_name")),
        };
        let change = match call {
            TagCall::TagFollower => Change::Tag {
                user_id: wire::loose_id_field(&v, "user_id")?,
                tag,
            },
            TagCall::RmFollowerFromTag => Change::Untag {
                user_id: wire::loose_id_field(&v, "user_id")?,
                tag,
            },
            TagCall::RmTag => Change::Remove { tag },
        };
        if let Some(ev) = self.apply_tags(change)? {
            self.emit(ev).await;
        }
        Ok(Value::Null)
    }

    /// `gettagsofoa`: the OA's tags.
    pub(crate) fn tags_of_oa(&self, oa: &str) -> ApiResult {
        if oa != self.config().oa_id {
            return Ok(Value::Array(Vec::new()));
        }
        Ok(Value::Array(
            self.st()
                .oa_tags
                .iter()
                .map(|t| Value::String(t.clone()))
                .collect(),
        ))
    }

    /// Someone tags a user in the OA's console (the tag is created when missing); the OA's app
    /// gets `add_user_to_tag`. Refused (-213) for a user the OA never met.
    pub async fn console_tag_user(&self, user_id: &str, tag: &str) -> Result<(), String> {
        self.console(Change::Tag {
            user_id: user_id.into(),
            tag: tag.into(),
        })
        .await
    }

    /// Someone takes a user out of a tag in the OA's console: `remove_user_from_tag`.
    pub async fn console_untag_user(&self, user_id: &str, tag: &str) -> Result<(), String> {
        self.console(Change::Untag {
            user_id: user_id.into(),
            tag: tag.into(),
        })
        .await
    }

    /// Someone deletes a tag in the OA's console (every user loses it): `remove_tag`.
    pub async fn console_remove_tag(&self, tag: &str) -> Result<(), String> {
        self.console(Change::Remove { tag: tag.into() }).await
    }

    /// Someone creates a tag in the OA's console: the event Zalo documents for it, named
    /// `add_user_to_tag` with no `user_ids`.
    pub async fn console_create_tag(&self, tag: &str) -> Result<(), String> {
        self.console(Change::Create { tag: tag.into() }).await
    }

    /// A user's tags, as `user/detail` shows them.
    pub fn user_tags(&self, user_id: &str) -> Vec<String> {
        self.st()
            .users
            .get(user_id)
            .map(|u| u.tags.clone())
            .unwrap_or_default()
    }

    async fn console(&self, change: Change) -> Result<(), String> {
        match self.apply_tags(change) {
            Ok(Some(ev)) => {
                self.emit(ev).await;
                Ok(())
            }
            Ok(None) => Ok(()),
            Err(e) => Err(format!("{} ({})", e.message, e.code)),
        }
    }

    /// Changes the state; the event to send when something changed.
    fn apply_tags(&self, change: Change) -> Result<Option<Event>, ApiError> {
        let cfg = self.config();
        let ctx = self.ctx(self.now_ms());
        let admin = wire::derived_digits(&format!("{}:oa-admin", cfg.app_id));
        let mut st = self.st();
        let created = |st: &mut super::state::St, tag: &str| {
            if !st.oa_tags.iter().any(|t| t == tag) {
                st.oa_tags.push(tag.to_owned());
            }
        };
        let event =
            match change {
                Change::Tag { user_id, tag } => {
                    created(&mut st, &tag);
                    let u = st.users.get_mut(&user_id).ok_or_else(|| {
                        ApiError::new(wire::E_NOT_FOLLOWER, wire::MSG_NOT_FOLLOWER)
                    })?;
                    if u.tags.contains(&tag) {
                        return Ok(None);
                    }
                    u.tags.push(tag.clone());
                    let ids = [user_id.clone()];
                    events::tag(
                        &ctx,
                        "add_user_to_tag",
                        &u.by_app,
                        &tag,
                        Some(&ids),
                        &user_id,
                    )
                }
                Change::Untag { user_id, tag } => {
                    if !st.oa_tags.contains(&tag) {
                        return Err(ApiError::invalid("tag_name"));
                    }
                    let u = st.users.get_mut(&user_id).ok_or_else(|| {
                        ApiError::new(wire::E_NOT_FOLLOWER, wire::MSG_NOT_FOLLOWER)
                    })?;
                    let before = u.tags.len();
                    u.tags.retain(|t| *t != tag);
                    if u.tags.len() == before {
                        return Ok(None);
                    }
                    let ids = [user_id.clone()];
                    events::tag(
                        &ctx,
                        "remove_user_from_tag",
                        &u.by_app,
                        &tag,
                        Some(&ids),
                        &user_id,
                    )
                }
                Change::Remove { tag } => {
                    if !st.oa_tags.contains(&tag) {
                        return Err(ApiError::invalid("tag_name"));
                    }
                    st.oa_tags.retain(|t| *t != tag);
                    for u in st.users.values_mut() {
                        u.tags.retain(|t| *t != tag);
                    }
                    events::tag(&ctx, "remove_tag", &admin, &tag, None, &cfg.oa_id)
                }
                Change::Create { tag } => {
                    if st.oa_tags.contains(&tag) {
                        return Ok(None);
                    }
                    created(&mut st, &tag);
                    events::tag(&ctx, "add_user_to_tag", &admin, &tag, None, &cfg.oa_id)
                }
            };
        Ok(Some(event))
    }
}
