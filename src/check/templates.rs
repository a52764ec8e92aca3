//! What `zfsync check` says about the rules' ZBS templates (`[[templates]]`), on the
//! `mapping_rules` line: the templates checked, and what would make a send fail at run time that
//! loading the rules does not refuse (so a daemon keeps starting with rules it took before):
//! a `template_id` that is not Zalo's number, a parameter no `{placeholder}` of the text shows
//! (Zalo refuses `template_data` keys its template does not have), and a `user_property` the
//! Freshchat account may not define. Each finding names the template and the fix.
//!
//! The Freshchat account has no API listing its user properties; a property is known when it is
//! the user's own name, one zfsync writes, or carried by the newest customer's Freshchat user.
//! Anything else is a warning, never a failure. Freshchat is asked only when a template reads such
//! a property; when it cannot be asked the line says so and the `freshchat_api` check says why.

use zfsync_freshchat::FreshchatClient;
use zfsync_mappings::zbs::{placeholders, ParamSource};
use zfsync_mappings::Rules;

use crate::store::Store;
use crate::sync::contact::{PROPERTIES_ADMIN_PATH, PROP_ANONYMOUS, USER_PROPERTIES};

/// What the checks found: failures (a send would be refused) and warnings (it may be).
#[derive(Debug, Default)]
pub(super) struct TemplateFindings {
    /// The `mapping_rules` detail's addition: "; templates checked: a, b".
    pub summary: String,
    /// Findings that make the check fail.
    pub failures: Vec<String>,
    /// Findings that make it warn.
    pub warnings: Vec<String>,
}

/// Zalo's template ids are numbers (the documented echo's `templateId=12056`; the ids integrators
/// copy from Zalo's console are all digits).
fn is_zalo_template_id(id: &str) -> bool {
    !id.is_empty() && id.chars().all(|c| c.is_ascii_digit())
}

/// The findings that need no one's answer: ids and parameters against the texts.
pub(super) fn template_rule_findings(rules: &Rules) -> TemplateFindings {
    let mut f = TemplateFindings::default();
    if rules.templates.is_empty() {
        return f;
    }
    let names: Vec<&str> = rules.templates.iter().map(|t| t.name.as_str()).collect();
    f.summary = format!("; templates checked: {}", names.join(", "));
    for t in &rules.templates {
        let id = t.template_id.trim();
        if !is_zalo_template_id(id) {
            f.failures.push(format!(
                "[[templates]] {:?}: template_id {id:?} is not a Zalo template id (Zalo's ids are numbers, e.g. \"12056\"); copy the approved template's id from Zalo",
                t.name
            ));
        }
        let shown = placeholders(&t.text);
        for key in t.params.keys().filter(|k| !shown.contains(&k.as_str())) {
            f.failures.push(format!(
                "[[templates]] {:?}: the parameter {key:?} appears nowhere in the text, yet it is sent to Zalo, which refuses a parameter its template does not have; add {{{key}}} where the approved template shows it, or remove the parameter",
                t.name
            ));
        }
    }
    f
}

/// The user properties templates read that are neither the user's own names nor zfsync's:
/// (template, property) pairs.
fn custom_properties(rules: &Rules) -> Vec<(&str, &str)> {
    let known = |p: &str| {
        matches!(p, "first_name" | "last_name")
            || USER_PROPERTIES.contains(&p)
            || p == PROP_ANONYMOUS
    };
    let mut out = Vec::new();
    for t in &rules.templates {
        for source in t.params.values() {
            if let ParamSource::UserProperty(p) = source {
                if !known(p) {
                    out.push((t.name.as_str(), p.as_str()));
                }
            }
        }
    }
    out
}

/// Adds to `f` the user properties templates read that the newest customer's Freshchat user
/// does not carry (see the module's note on what can be known).
pub(super) async fn template_property_findings(
    rules: &Rules,
    client: Option<&FreshchatClient>,
    store: Option<&Store>,
    f: &mut TemplateFindings,
) {
    let wanted = custom_properties(rules);
    if wanted.is_empty() {
        return;
    }
    let (Some(client), Some(store)) = (client, store) else {
        f.summary
            .push_str(" (user properties not checked: see the freshchat_api and store checks)");
        return;
    };
    let user_id = match store.newest_freshchat_user().await {
        Ok(Some(id)) => id,
        Ok(None) => {
            f.summary.push_str(
                " (user properties are checked once zfsync has created a Freshchat user)",
            );
            return;
        }
        Err(_) => {
            f.summary
                .push_str(" (user properties not checked: see the store check)");
            return;
        }
    };
    let user = match client.get_user(&user_id).await {
        Ok(u) => u,
        Err(_) => {
            f.summary
                .push_str(" (user properties not checked: Freshchat did not answer)");
            return;
        }
    };
    for (template, property) in wanted {
        if !user.properties.iter().any(|p| p.name == property) {
            f.warnings.push(format!(
                "[[templates]] {template:?} reads the user property {property:?}, which the newest customer's Freshchat user does not carry; unless the account defines it ({PROPERTIES_ADMIN_PATH}) and customers have it, agents get \"{property} is empty\" instead of a sent template; check the name, or take the value as an argument"
            ));
        }
    }
}
