//! Zalo OA tags as the Freshchat user property `zalo_tags` (table `[tags]`), kept in step from
//! Zalo's tag events and `user/detail`, and the wording of the agents' tag commands.
//!
//! A tag added by hand on either side is never removed unless the other side removed it. So zfsync
//! keeps, per customer, the tag set it last saw on Zalo; a change on Zalo is the difference between
//! that set and the new one, and only that difference is applied to the Freshchat property:
//! a tag an agent typed into the property stays until they remove it, and a tag Zalo still has but
//! an agent removed from the property is not put back until Zalo adds it again.
//!
//! Pure; nothing here fails.

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;

/// Zalo tags ↔ Freshchat (table `[tags]`).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TagRules {
    /// Keep the Freshchat user property in step with the customer's Zalo tags.
    pub sync: bool,
    /// The Freshchat user property holding the tags, comma-separated.
    pub property: String,
    /// Let agents tag and untag customers on Zalo from Freshchat (`/zalo tag <name>`,
    /// `/zalo untag <name>`).
    pub agent_commands: bool,
    /// The answers to those commands per language; languages missing here come from the
    /// built-in rules.
    #[serde(default)]
    pub texts: BTreeMap<String, TagTexts>,
}

/// The tag texts agents read, in one language.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TagTexts {
    /// The customer was tagged on Zalo: `{tag}`.
    pub tagged: String,
    /// The tag was taken off the customer on Zalo: `{tag}`.
    pub untagged: String,
    /// Zalo refused: `{tag}`, `{reason}`.
    pub failed: String,
    /// The commands are switched off in the rules.
    pub commands_off: String,
    /// `/zalo untag` of a tag the customer does not have on Zalo (as zfsync last saw their
    /// tags): `{tag}`. Added in a later release: older copies get the built-in text.
    #[serde(default)]
    pub not_tagged: Option<String>,
}

impl TagRules {
    pub(crate) fn validate(&self) -> Result<(), String> {
        if self.property.trim().is_empty() {
            return Err(
                "tags.property must name a Freshchat user property (e.g. \"zalo_tags\")".into(),
            );
        }
        Ok(())
    }
}

/// The tags of a property value: comma-separated, trimmed, without empties or repeats (first
/// place kept).
pub fn parse_property(value: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for t in value.split(',').map(str::trim).filter(|t| !t.is_empty()) {
        if !out.iter().any(|o| o == t) {
            out.push(t.to_string());
        }
    }
    out
}

/// A property value for `tags`: `"vip, wholesale"`.
pub fn format_property(tags: &[String]) -> String {
    tags.join(", ")
}

/// The Freshchat tag list after Zalo's tags went from `seen` (what zfsync last saw) to `now`:
/// the tags removed on Zalo leave, the tags added on Zalo join (at the end), every other tag of
/// `freshchat` (typed by an agent, or removed by one) stays as it is.
pub fn merge(seen: &BTreeSet<String>, freshchat: &[String], now: &BTreeSet<String>) -> Vec<String> {
    let mut out: Vec<String> = freshchat
        .iter()
        .filter(|t| now.contains(*t) || !seen.contains(*t))
        .cloned()
        .collect();
    for t in now.difference(seen) {
        if !out.contains(t) {
            out.push(t.clone());
        }
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn set(items: &[&str]) -> BTreeSet<String> {
        items.iter().map(|s| s.to_string()).collect()
    }
    fn list(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_change_on_zalo_moves_only_what_changed() {
        // Zalo added "vip" and removed "new"; the agent's own "callback" stays.
        let out = merge(
            &set(&["new", "shop"]),
            &list(&["callback", "new", "shop"]),
            &set(&["shop", "vip"]),
        );
        assert_eq!(out, list(&["callback", "shop", "vip"]));
    }

    #[test]
    fn a_hand_added_tag_of_the_same_name_is_not_removed_by_a_removal_zfsync_never_knew() {
        // The agent typed "vip"; Zalo removes a "vip" zfsync never saw on Zalo: nothing changes.
        let out = merge(&set(&[]), &list(&["vip"]), &set(&[]));
        assert_eq!(out, list(&["vip"]));
    }

    #[test]
    fn a_tag_an_agent_removed_is_not_put_back_until_zalo_adds_it_again() {
        let out = merge(&set(&["vip"]), &list(&[]), &set(&["vip"]));
        assert!(out.is_empty());
        let out = merge(&set(&[]), &list(&[]), &set(&["vip"]));
        assert_eq!(out, list(&["vip"]));
    }

    #[test]
    fn property_values_round_trip() {
        assert_eq!(parse_property(" vip ,, shop,vip "), list(&["vip", "shop"]));
        assert_eq!(format_property(&list(&["vip", "shop"])), "vip, shop");
        assert!(parse_property("").is_empty());
    }
}
