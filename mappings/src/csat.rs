//! Ratings after resolve (table `[csat]`): the resolve notice can ask the customer to rate the help
//! from 1 to 5, and a reply of just that digit within `window_hours` is a rating, not a message.
//!
//! The question is a customer text (in the customers' language, `freshchat_to_zalo.language`);
//! the note "Customer rated 4/5" is an agent text (in `agents.language`). Both languages live in
//! `texts.<language>`.
//!
//! Pure; nothing here fails.

use std::collections::BTreeMap;

use serde::Deserialize;

/// Ratings after resolve (table `[csat]`).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CsatRules {
    /// Ask for a rating with the resolve notice.
    pub ask: bool,
    /// How long after the question a digit counts as the rating (hours).
    pub window_hours: u32,
    /// The Freshchat user property that keeps the customer's last rating ("" for none).
    pub property: String,
    /// The wording per language; languages missing here come from the built-in rules.
    #[serde(default)]
    pub texts: BTreeMap<String, CsatTexts>,
}

/// The rating texts in one language.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CsatTexts {
    /// For the customer, after the resolve notice: the question and the numbered options 1 to 5.
    pub question: String,
    /// For the agents, a private note: `{score}`.
    pub rated_note: String,
}

impl CsatRules {
    pub(crate) fn validate(&self) -> Result<(), String> {
        if !(1..=24 * 30).contains(&self.window_hours) {
            return Err(format!(
                "csat.window_hours is {}; it must be between 1 and 720 (30 days)",
                self.window_hours
            ));
        }
        for (lang, t) in &self.texts {
            if !t.rated_note.contains("{score}") {
                return Err(format!(
                    "csat.texts.{lang}.rated_note must contain {{score}} (the customer's rating)"
                ));
            }
            if self.ask && t.question.trim().is_empty() {
                return Err(format!(
                    "csat.texts.{lang}.question is empty; write the question or set csat.ask = false"
                ));
            }
        }
        Ok(())
    }

    /// How long a question waits for its digit, in ms.
    pub fn window_ms(&self) -> i64 {
        i64::from(self.window_hours) * 3_600_000
    }
}

/// The rating a customer's text gives: just one digit from 1 to 5 (spaces around it allowed).
pub fn rating_of(text: &str) -> Option<u8> {
    match text.trim().as_bytes() {
        [d @ b'1'..=b'5'] => Some(d - b'0'),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_lone_digit_from_1_to_5_is_a_rating() {
        assert_eq!(rating_of("4"), Some(4));
        assert_eq!(rating_of(" 5\n"), Some(5));
        for other in ["0", "6", "45", "4/5", "4 sao", "", "bốn", "١"] {
            assert_eq!(rating_of(other), None, "{other:?}");
        }
    }
}
