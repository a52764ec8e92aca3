//! ZBS template messages the operator lists in the rules (`[[templates]]`): the only message Zalo
//! takes after a customer's 7-day window. Each has the name agents type, Zalo's template id, the
//! text as the customer sees it (with `{parameter}` placeholders) and where each parameter comes
//! from: an argument of the `/zalo template` command, a property of the customer's Freshchat user,
//! or a fixed value. Validation names the template and the fix; it never fails at run time.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// One approved template (an entry of `[[templates]]`).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ZbsTemplate {
    /// What agents type: `/zalo template <name> …`. Unique; letters, digits, `_`, `-`, `.`.
    pub name: String,
    /// Zalo's id of the approved template.
    pub template_id: String,
    /// What the customer reads, with `{parameter}` for each parameter.
    pub text: String,
    /// The parameters (`template_data` keys) and where each value comes from.
    #[serde(default)]
    pub params: BTreeMap<String, ParamSource>,
}

/// Where a template parameter's value comes from.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ParamSource {
    /// Typed by the agent: `name=value` after the template's name.
    Argument(String),
    /// The customer's Freshchat user: `first_name`, `last_name`, or the name of a user property.
    UserProperty(String),
    /// Always this value.
    Value(String),
}

fn is_name(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

/// The `{placeholders}` of a text.
pub fn placeholders(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find('{') {
        let after = &rest[start + 1..];
        let Some(end) = after.find('}') else { break };
        out.push(&after[..end]);
        rest = &after[end + 1..];
    }
    out
}

impl ZbsTemplate {
    /// The argument names agents type for it, in parameter order.
    pub fn arguments(&self) -> Vec<&str> {
        self.params
            .values()
            .filter_map(|s| match s {
                ParamSource::Argument(a) => Some(a.as_str()),
                _ => None,
            })
            .collect()
    }

    /// How to send it: `/zalo template <name> arg=… …`.
    pub fn usage(&self) -> String {
        let mut u = format!("{} template {}", crate::commands::PREFIX, self.name);
        for a in self.arguments() {
            u.push_str(&format!(" {a}=…"));
        }
        u
    }
}

/// Every template well-formed, names unique, each parameter with a source and each placeholder
/// of the text a parameter.
/// `Err` names the template and the fix.
pub(crate) fn validate(templates: &[ZbsTemplate]) -> Result<(), String> {
    let bad = |name: &str, why: String| Err(format!("[[templates]] {name:?}: {why}"));
    let mut seen = std::collections::BTreeSet::new();
    for t in templates {
        if !is_name(&t.name) {
            return bad(
                &t.name,
                "the name must be one word of letters, digits, '_', '-' or '.' (agents type it after /zalo template)".into(),
            );
        }
        if !seen.insert(t.name.to_lowercase()) {
            return bad(
                &t.name,
                "another template has this name; names must be unique".into(),
            );
        }
        if t.template_id.trim().is_empty() {
            return bad(
                &t.name,
                "template_id is empty; copy the approved template's id from Zalo".into(),
            );
        }
        if t.text.trim().is_empty() {
            return bad(
                &t.name,
                "text is empty; write the template as the customer sees it".into(),
            );
        }
        let mut args = std::collections::BTreeSet::new();
        for (key, source) in &t.params {
            let value = match source {
                ParamSource::Argument(a) | ParamSource::UserProperty(a) => a,
                ParamSource::Value(_) => continue,
            };
            if !is_name(value) {
                return bad(
                    &t.name,
                    format!("parameter {key:?} names {value:?}, which is not one word"),
                );
            }
            if matches!(source, ParamSource::Argument(_)) && !args.insert(value.as_str()) {
                return bad(
                    &t.name,
                    format!("two parameters take the argument {value:?}"),
                );
            }
        }
        for p in placeholders(&t.text) {
            if !t.params.contains_key(p) {
                return bad(
                    &t.name,
                    format!("the text has {{{p}}} but no parameter {p:?} says where its value comes from; add it under [templates.params], e.g. {p} = {{ argument = \"{p}\" }}"),
                );
            }
        }
    }
    Ok(())
}
