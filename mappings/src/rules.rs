//! The rules file (`default.toml` and customer copies): deserialised strictly, so a misspelt key is
//! an error naming the key rather than a silently ignored setting.

use std::collections::BTreeMap;

use serde::Deserialize;

/// The built-in rules, the documented behaviour of zfsync.
pub const DEFAULT_RULES: &str = include_str!("../default.toml");

#[derive(Debug, thiserror::Error)]
pub enum RulesError {
    #[error("the mapping rules are not valid: {0}")]
    Invalid(String),
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Rules {
    pub contact: ContactRules,
    pub zalo_to_freshchat: ZaloToFreshchat,
    pub freshchat_to_zalo: FreshchatToZalo,
    /// Private notes explaining Zalo error codes; key "default" for the rest.
    pub zalo_errors: BTreeMap<String, String>,
    /// Wording for Zalo events other than customer messages. Added in a later release: defaulted
    /// from the built-in rules so that older customer copies still load.
    #[serde(default = "default_zalo_events")]
    pub zalo_events: ZaloEvents,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ContactRules {
    pub first_name: String,
    pub last_name: String,
    pub fallback_display_name: String,
    pub reference_id: String,
    pub provider: String,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ZaloToFreshchat {
    pub max_media_bytes: u64,
    /// Added in a later release: defaulted so that older customer copies of the rules still load.
    #[serde(default = "default_reply_quote")]
    pub reply_quote: String,
    pub location: String,
    pub location_with_title: String,
    pub link: String,
    pub link_with_title: String,
    pub business_card: String,
    pub media_failed: String,
    pub media_failed_note: String,
    pub reaction_note: String,
    pub reaction_note_unknown: String,
    pub staff_note: String,
    pub staff_media_note: String,
    pub other_app_note: String,
    #[serde(default)]
    pub reaction_icons: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FreshchatToZalo {
    pub text_limit: usize,
    pub long_text_filename: String,
    pub long_text_link: String,
    pub long_text_preview_chars: usize,
    pub file_link: String,
    pub video_link: String,
    pub image_link: String,
    pub url_button: String,
    pub send_resolve_notice: bool,
    pub resolve_notice: String,
}

/// Wording for Zalo events other than customer messages (table `[zalo_events]`).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ZaloEvents {
    /// `user_withdraw`: the private note posted before zfsync forgets the user.
    pub withdraw_note: String,
    /// An item of a list the OA sent from Zalo (`oa_send_list`), with `{title}`.
    pub list_item: String,
    /// The same with a link, with `{title}` and `{url}`.
    pub list_item_with_url: String,
    /// A template message the OA sent from Zalo (`oa_send_template`), with `{text}`.
    pub template: String,
    /// The same with its link, with `{text}` and `{url}`.
    pub template_with_url: String,
}

/// The `[zalo_events]` table of the built-in rules, for customer copies that predate it.
fn default_zalo_events() -> ZaloEvents {
    #[derive(Deserialize)]
    struct Only {
        zalo_events: ZaloEvents,
    }
    // The embedded file is checked by a unit test; parsing it cannot fail at run time.
    match toml::from_str::<Only>(DEFAULT_RULES) {
        Ok(only) => only.zalo_events,
        Err(e) => panic!("built-in default.toml has no valid [zalo_events]: {e}"),
    }
}

fn default_reply_quote() -> String {
    "↪ “{quoted}”".into()
}

impl Default for Rules {
    fn default() -> Self {
        // The embedded file is checked by a unit test; parsing it cannot fail at run time.
        match Rules::from_toml(DEFAULT_RULES) {
            Ok(rules) => rules,
            Err(e) => panic!("built-in default.toml is invalid: {e}"),
        }
    }
}

impl Rules {
    /// Parses and validates a rules file.
    pub fn from_toml(text: &str) -> Result<Rules, RulesError> {
        let rules: Rules = toml::from_str(text).map_err(|e| RulesError::Invalid(e.to_string()))?;
        rules.validate()?;
        Ok(rules)
    }

    fn validate(&self) -> Result<(), RulesError> {
        let limit = self.freshchat_to_zalo.text_limit;
        if limit == 0 || limit > 2000 {
            return Err(RulesError::Invalid(format!(
                "freshchat_to_zalo.text_limit is {limit}; it must be between 1 and 2000 (Zalo's limit)"
            )));
        }
        if !self.zalo_errors.contains_key("default") {
            return Err(RulesError::Invalid(
                "zalo_errors needs a \"default\" entry for codes without their own text".into(),
            ));
        }
        if self.contact.reference_id.trim().is_empty() {
            return Err(RulesError::Invalid(
                "contact.reference_id must not be empty".into(),
            ));
        }
        Ok(())
    }

    /// The private note for a Zalo error: the code's own text, else the default, with `{code}` and
    /// `{message}` filled in.
    pub fn zalo_error_note(&self, code: Option<i64>, message: &str) -> String {
        let code_text = code
            .map(|c| c.to_string())
            .unwrap_or_else(|| "error".into());
        let template = self
            .zalo_errors
            .get(&code_text)
            .or_else(|| self.zalo_errors.get("default"))
            .map(String::as_str)
            .unwrap_or("Not delivered to Zalo ({code}: {message}).");
        crate::template::fill(template, &[("code", &code_text), ("message", message)])
    }

    /// The emoji for a Zalo reaction code, or the code itself.
    pub fn reaction_icon<'a>(&'a self, icon: &'a str) -> &'a str {
        self.zalo_to_freshchat
            .reaction_icons
            .get(icon)
            .map(String::as_str)
            .unwrap_or(icon)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_rules_parse() {
        let rules = Rules::from_toml(DEFAULT_RULES).expect("default.toml parses");
        assert_eq!(rules.contact.last_name, "Zalo");
        assert_eq!(rules.freshchat_to_zalo.text_limit, 2000);
        assert!(rules.freshchat_to_zalo.send_resolve_notice);
    }

    #[test]
    fn unknown_key_is_named() {
        let bad = DEFAULT_RULES.replace("[contact]\n", "[contact]\nfirst_nme = \"x\"\n");
        let err = Rules::from_toml(&bad)
            .expect_err("unknown key rejected")
            .to_string();
        assert!(err.contains("first_nme"), "{err}");
    }

    #[test]
    fn text_limit_above_zalo_limit_rejected() {
        let bad = DEFAULT_RULES.replace("text_limit = 2000", "text_limit = 5000");
        assert!(Rules::from_toml(&bad).is_err());
    }

    #[test]
    fn zalo_events_default_for_older_copies() {
        let rules = Rules::default();
        assert!(rules.zalo_events.withdraw_note.contains("Freshchat"));
        let start = DEFAULT_RULES
            .find("[zalo_events]")
            .expect("default.toml has [zalo_events]");
        let older = &DEFAULT_RULES[..start];
        let loaded = Rules::from_toml(older).expect("rules without [zalo_events] load");
        assert_eq!(loaded.zalo_events, rules.zalo_events);
        let bad = DEFAULT_RULES.replace("[zalo_events]\n", "[zalo_events]\nwithdraw_nte = \"x\"\n");
        let err = Rules::from_toml(&bad).expect_err("unknown key").to_string();
        assert!(err.contains("withdraw_nte"), "{err}");
    }

    #[test]
    fn error_notes() {
        let rules = Rules::default();
        assert!(rules
            .zalo_error_note(Some(-213), "x")
            .contains("Zalo mobile app"));
        assert!(rules
            .zalo_error_note(Some(-320), "x")
            .contains("Zalo Cloud"));
        assert_eq!(
            rules.zalo_error_note(Some(-999), "odd"),
            "Not delivered to Zalo (-999: odd)."
        );
    }
}
