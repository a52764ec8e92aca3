//! The `freshchat_properties` check: zfsync's core user properties (see
//! [`super::freshchat::core_properties_check`]), then those the rules' features write
//! (`tags.property`, `csat.property`, `contact_info.address_property`): each name must have the
//! shape of a Freshchat property name, and none may be one Freshchat refused (the daemon
//! remembers each refusal until Freshchat takes the property). Freshchat has no API that lists the
//! user properties an account defines, so a property no customer was given yet cannot be probed;
//! the check says so. Problems are warnings (messages still go through) with the fix.

use super::freshchat::core_properties_check;
use super::*;
use crate::sync::contact::PROPERTIES_ADMIN_PATH;
use zfsync_mappings::Rules;

/// The core properties' check, with the features' properties folded in (`rules` when they load).
pub(super) async fn user_properties_check(
    client: &FreshchatClient,
    store: &Store,
    config: &Config,
    rules: Option<&Rules>,
) -> Check {
    let core = core_properties_check(client, store, config).await;
    let Some(rules) = rules else {
        return core;
    };
    if core.level == Level::Fail {
        return core;
    }
    let refused = match crate::sync::notes::refused_feature_properties(store).await {
        Ok(r) => r,
        Err(e) => {
            return Check::fail(
                CHECK_FRESHCHAT_PROPERTIES,
                format!("cannot read the store: {e}"),
                "fix the store check above",
            )
        }
    };
    let (mut details, mut fixes) = (Vec::new(), Vec::new());
    if core.level == Level::Warn {
        details.push(core.detail.clone());
        fixes.extend(core.fix.clone());
    }
    let named = [
        ("tags.property", &rules.tags.property),
        ("csat.property", &rules.csat.property),
        (
            "contact_info.address_property",
            &rules.contact_info.address_property,
        ),
    ];
    for (setting, name) in named.into_iter().filter(|(_, n)| !n.is_empty()) {
        if let Some(why) = zfsync_mappings::properties::name_problem(name) {
            details.push(format!("{setting}: {why}"));
            fixes.push(format!(
                "rename {setting} in the mapping rules to the name of a user property created in {PROPERTIES_ADMIN_PATH}"
            ));
        }
    }
    let used = rules.feature_properties();
    let refused_used: Vec<(&str, &String, &String)> = used
        .iter()
        .filter_map(|(setting, name)| refused.get(name).map(|why| (*setting, name, why)))
        .collect();
    for (setting, name, why) in &refused_used {
        details.push(format!(
            "Freshchat refused the user property {name} ({setting}; it said: {why})"
        ));
    }
    if !refused_used.is_empty() {
        let names: Vec<&str> = refused_used.iter().map(|(_, n, _)| n.as_str()).collect();
        fixes.push(format!(
            "create these user properties in {PROPERTIES_ADMIN_PATH}: {} (or switch the feature off, or name an existing property, in the mapping rules)",
            names.join(", ")
        ));
    }
    if details.is_empty() {
        let names: Vec<&str> = used.iter().map(|(_, n)| n.as_str()).collect();
        let detail = if names.is_empty() {
            core.detail
        } else {
            format!(
                "{}; the rules' features also write {} (not refused by Freshchat so far; create them in {PROPERTIES_ADMIN_PATH} if the account refuses unknown properties)",
                core.detail,
                names.join(", ")
            )
        };
        return Check::ok(CHECK_FRESHCHAT_PROPERTIES, detail);
    }
    Check::warn(
        CHECK_FRESHCHAT_PROPERTIES,
        details.join("; "),
        fixes.join("; "),
    )
}
