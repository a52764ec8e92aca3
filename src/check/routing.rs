//! The routing check: every Freshchat group the routing rules name (`[routing]`, by id or by
//! name) exists in the account (`GET /v2/groups`). A group Freshchat does not have would leave the
//! conversations its rule matches unassigned, so it is a FAIL naming the rule and the groups there
//! are. A failed probe is a [`Check`] at FAIL with the fix, never an error. Also the pairings the
//! rules name ([`unknown_pairings`]), which the `mapping_rules` check reports.

use super::freshchat::freshchat_failure;
use super::*;
use crate::sync::routing::find_group;
use zfsync_mappings::Rules;

/// The routing groups check.
pub async fn freshchat_groups(client: &FreshchatClient, base: &Url, rules: &Rules) -> Check {
    let named = rules.routing.groups();
    if named.is_empty() {
        return Check::ok(
            CHECK_FRESHCHAT_GROUPS,
            "no routing rule names a group: new conversations stay unassigned",
        );
    }
    let groups = match client.list_groups().await {
        Ok(g) => g,
        Err(e) => return freshchat_failure(CHECK_FRESHCHAT_GROUPS, &e, base),
    };
    let mut routes = Vec::new();
    let mut missing = Vec::new();
    for (rule, group) in named {
        match find_group(&groups, group) {
            Some(id) => routes.push(format!("{rule} → {group} ({id})")),
            None if rule == "default_group" => {
                missing.push(format!("routing.default_group names group {group:?}"))
            }
            None => missing.push(format!("routing rule {rule:?} names group {group:?}")),
        }
    }
    if missing.is_empty() {
        return Check::ok(
            CHECK_FRESHCHAT_GROUPS,
            format!("routing groups found: {}", routes.join("; ")),
        );
    }
    let there: Vec<String> = groups
        .iter()
        .map(|g| format!("\"{}\" ({})", g.name.as_deref().unwrap_or("unnamed"), g.id))
        .collect();
    let there = if there.is_empty() {
        "the account has no groups".to_string()
    } else {
        format!("the account has {}", there.join(", "))
    };
    Check::fail(
        CHECK_FRESHCHAT_GROUPS,
        format!(
            "{}, which Freshchat does not have; its conversations would stay unassigned",
            missing.join("; ")
        ),
        format!(
            "create the group in Freshchat Admin → Groups, or set the rule's group to a group's id or name ({there}) in the mapping rules ([routing])"
        ),
    )
}

/// The routing rules' `pairings` that this deployment does not have (`default`, the configuration
/// file's, and those `zfsync pairing add` registered), each with the rule naming it. A rule naming
/// only such pairings never matches.
pub(super) async fn unknown_pairings(
    store: &Store,
    rules: &Rules,
) -> Result<Vec<(String, String)>, StoreError> {
    let mut unknown = Vec::new();
    for rule in &rules.routing.rules {
        for pairing in &rule.pairings {
            if pairing == crate::store::DEFAULT_PAIRING {
                continue;
            }
            if !store.is_registered_pairing(pairing.clone()).await? {
                unknown.push((rule.name.clone(), pairing.clone()));
            }
        }
    }
    Ok(unknown)
}
