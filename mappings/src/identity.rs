//! Wording for identity clashes (table `[identity]`): the private note that tells the admins zfsync
//! refused an existing Freshchat user claiming a customer's `reference_id` and created a new one.
//! Per language; the language is the agents' (`agents.language`). The table's types and its built-in
//! default sit with the other tables in [`crate::rules`]; here is how a text is chosen.

use crate::rules::{default_identity, Rules};
pub use crate::rules::{IdentityRules, IdentityTexts};

/// The language used when the rules' language has no identity texts.
const FALLBACK_LANGUAGE: &str = "vi";

impl Rules {
    /// The identity texts in the agents' language: this file's, else the built-in ones, else the
    /// built-in Vietnamese.
    pub fn identity_texts(&self) -> IdentityTexts {
        let lang = &self.agents.language;
        let builtin = default_identity();
        self.identity
            .texts
            .get(lang)
            .or_else(|| builtin.texts.get(lang))
            .or_else(|| builtin.texts.get(FALLBACK_LANGUAGE))
            .cloned()
            .unwrap_or(IdentityTexts {
                clash_note: "zfsync did not reuse the Freshchat user(s) {users} claiming {reference_id}; this customer got a new user.".into(),
            })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::rules::DEFAULT_RULES;

    #[test]
    fn the_clash_note_exists_in_both_languages_and_defaults_for_older_copies() {
        let vi = Rules::default();
        assert!(vi.identity_texts().clash_note.contains("{users}"));
        let en = vi.clone().with_agent_language("en").unwrap();
        let note = en.identity_texts().clash_note;
        assert!(note.contains("{users}") && note.contains("{reference_id}"));
        assert_ne!(note, vi.identity_texts().clash_note);
        let start = DEFAULT_RULES.find("[identity").unwrap();
        let older = Rules::from_toml(&DEFAULT_RULES[..start]).unwrap();
        assert_eq!(older.identity_texts(), vi.identity_texts());
    }
}
