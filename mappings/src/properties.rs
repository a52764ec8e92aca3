//! The Freshchat user properties zfsync's features write (`[tags] property`, `[csat] property`,
//! `[contact_info] address_property`): which ones the rules use, the shape of a name, and the
//! admins' note when Freshchat refuses one (table `[properties]`, in the agents' language). The
//! table's types and its built-in default sit with the other tables in [`crate::rules`]; here is
//! how they are read.
//!
//! Pure; nothing here fails.

use crate::rules::{default_properties, Rules};
pub use crate::rules::{PropertiesRules, PropertiesTexts};

/// Why a property name cannot be a Freshchat user property name, if it cannot. Names are what
/// Freshchat's API and its custom fields use (`external_user_provider`, `zalo_user_id`,
/// `cf_field2556`): a letter, then letters, digits or underscores.
pub fn name_problem(name: &str) -> Option<String> {
    let mut chars = name.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic());
    if first_ok && chars.all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return None;
    }
    let suggestion: String = name
        .trim()
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect::<String>()
        .split('_')
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join("_");
    let hint = if suggestion.starts_with(|c: char| c.is_ascii_alphabetic()) {
        format!(", e.g. \"{suggestion}\"")
    } else {
        String::new()
    };
    Some(format!(
        "{name:?} is not a Freshchat user property name: use a letter, then letters, digits or underscores{hint}"
    ))
}

impl Rules {
    /// The user properties the rules' features write, each with the setting that names it
    /// (`tags.property`, ...): only those switched on.
    pub fn feature_properties(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        if self.tags.sync && !self.tags.property.is_empty() {
            out.push(("tags.property", self.tags.property.clone()));
        }
        if self.csat.ask && !self.csat.property.is_empty() {
            out.push(("csat.property", self.csat.property.clone()));
        }
        if !self.contact_info.address_property.is_empty() {
            out.push((
                "contact_info.address_property",
                self.contact_info.address_property.clone(),
            ));
        }
        out
    }

    /// The admins' note about a refused property in the agents' language: this file's, else the
    /// built-in one, else the built-in Vietnamese.
    pub fn properties_texts(&self) -> PropertiesTexts {
        let lang = &self.agents.language;
        let builtin = default_properties();
        self.properties
            .texts
            .get(lang)
            .or_else(|| builtin.texts.get(lang))
            .or_else(|| builtin.texts.get("vi"))
            .cloned()
            .unwrap_or(PropertiesTexts {
                refused_note:
                    "Freshchat refused the user property {property} ({feature}): {reason}".into(),
            })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::rules::DEFAULT_RULES;

    #[test]
    fn names_are_a_letter_then_letters_digits_or_underscores() {
        for ok in ["zalo_tags", "zalo_last_rating", "cf_field2556", "Rating2"] {
            assert_eq!(name_problem(ok), None, "{ok}");
        }
        let why = name_problem("zalo last rating!").unwrap();
        assert!(why.contains("\"zalo_last_rating\""), "{why}");
        for bad in ["", "2nd", "_x", "đánh_giá", "a-b"] {
            assert!(name_problem(bad).is_some(), "{bad:?}");
        }
    }

    #[test]
    fn the_note_exists_in_both_languages_and_older_copies_get_it() {
        let vi = Rules::default();
        let en = vi.clone().with_agent_language("en").unwrap();
        let (v, e) = (vi.properties_texts(), en.properties_texts());
        assert_ne!(v, e);
        for t in [&v.refused_note, &e.refused_note] {
            assert!(t.contains("{property}") && t.contains("{reason}"), "{t}");
        }
        let start = DEFAULT_RULES
            .find("# The Freshchat user properties the features")
            .unwrap();
        let end = DEFAULT_RULES.find("# /zalo commands.").unwrap();
        let older = format!("{}{}", &DEFAULT_RULES[..start], &DEFAULT_RULES[end..]);
        assert_eq!(Rules::from_toml(&older).unwrap().properties_texts(), v);
    }

    #[test]
    fn the_properties_used_follow_the_switches() {
        let mut rules = Rules::default();
        let names = |r: &Rules| -> Vec<String> {
            r.feature_properties().into_iter().map(|(_, n)| n).collect()
        };
        assert_eq!(names(&rules), ["zalo_tags", "zalo_address"]);
        rules.csat.ask = true;
        assert_eq!(
            names(&rules),
            ["zalo_tags", "zalo_last_rating", "zalo_address"]
        );
        rules.tags.sync = false;
        rules.contact_info.address_property.clear();
        assert_eq!(names(&rules), ["zalo_last_rating"]);
    }
}
