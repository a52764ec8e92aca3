//! Loading the rules: parse strictly, then validate once (text limit, reference id, both
//! languages' texts, the commands' usage lines, the templates), so a bad copy fails at start-up or
//! in `zfsync check` with the key and the fix, never later.

use crate::rules::{Rules, RulesError, DEFAULT_RULES};

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
    /// The same rules with customer texts in `language` (`vi`, `en`, or one the file defines).
    pub fn with_language(mut self, language: &str) -> Result<Rules, RulesError> {
        self.freshchat_to_zalo.language = language.to_string();
        self.validate()?;
        Ok(self)
    }

    /// The same rules with agent texts in `language` (`vi`, `en`, or one the file gives texts for).
    pub fn with_agent_language(mut self, language: &str) -> Result<Rules, RulesError> {
        // Language codes are matched without regard to case ("EN" is "en").
        self.agents.language = language.trim().to_lowercase();
        self.validate()?;
        Ok(self)
    }

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
        if self.contact.reference_id.trim().is_empty() {
            return Err(RulesError::Invalid(
                "contact.reference_id must not be empty".into(),
            ));
        }
        self.freshchat_to_zalo.validate()?;
        crate::agent_text::validate(self)?;
        crate::command_plan::validate(self)?;
        crate::zbs::validate(&self.templates).map_err(RulesError::Invalid)?;
        self.routing.validate().map_err(RulesError::Invalid)?;
        self.tags.validate().map_err(RulesError::Invalid)?;
        self.csat.validate().map_err(RulesError::Invalid)?;
        self.contact_info.validate().map_err(RulesError::Invalid)?;
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use crate::rules::{Rules, DEFAULT_RULES};

    const GOOD: &str = r#"
[[templates]]
name = "order_update"
template_id = "12056"
text = "Chào {customer}, đơn {order} của bạn đã giao tại {shop}."
[templates.params]
order = { argument = "order" }
customer = { user_property = "first_name" }
shop = { value = "Cửa hàng ABC" }
"#;

    fn load(extra: &str) -> Result<Rules, String> {
        Rules::from_toml(&format!("{DEFAULT_RULES}\n{extra}")).map_err(|e| e.to_string())
    }

    #[test]
    fn ratings_and_contact_details_are_checked_with_their_fix() {
        let rules = Rules::default();
        assert!(!rules.csat.ask && rules.csat.window_hours == 24);
        assert!(rules.contact_info.ask_command);
        let edit = |from: &str, to: &str| {
            assert!(DEFAULT_RULES.contains(from), "{from}");
            Rules::from_toml(&DEFAULT_RULES.replacen(from, to, 1)).map_err(|e| e.to_string())
        };
        let err = edit("window_hours = 24", "window_hours = 0").unwrap_err();
        assert!(err.contains("csat.window_hours"), "{err}");
        let err = edit(
            "rated_note = \"Customer rated {score}/5.\"",
            "rated_note = \"Rated.\"",
        )
        .unwrap_err();
        assert!(
            err.contains("csat.texts.en.rated_note") && err.contains("{score}"),
            "{err}"
        );
        let long = format!("title = \"{}\"", "x".repeat(101));
        let err = edit("title = \"Share your contact details\"", &long).unwrap_err();
        assert!(
            err.contains("contact_info.texts.en.title") && err.contains("100"),
            "{err}"
        );
        let err = edit(
            "image_url = \"\"",
            "image_url = \"http://shop.example/a.png\"",
        )
        .unwrap_err();
        assert!(err.contains("https"), "{err}");
        assert_ne!(rules.csat_texts("vi"), rules.csat_texts("en"));
        assert_ne!(
            rules.contact_info_texts("vi"),
            rules.contact_info_texts("en")
        );
        // Copies that predate the tables load with the built-in ones.
        let older = &DEFAULT_RULES[..DEFAULT_RULES.find("\n# Ratings after resolve").unwrap()];
        let older = format!(
            "{older}\n{}",
            &DEFAULT_RULES[DEFAULT_RULES.find("# /zalo commands.").unwrap()..]
        );
        let loaded = Rules::from_toml(&older).unwrap();
        assert_eq!(
            (loaded.csat, loaded.contact_info),
            (rules.csat, rules.contact_info)
        );
    }

    #[test]
    fn none_by_default_and_a_listed_template_loads() {
        assert!(Rules::default().templates.is_empty());
        let rules = load(GOOD).unwrap();
        let t = &rules.templates[0];
        assert_eq!(t.arguments(), vec!["order"]);
        assert_eq!(t.usage(), "/zalo template order_update order=…");
    }

    #[test]
    fn a_bad_template_is_named_with_its_fix() {
        let twice = format!("{GOOD}{}", GOOD.replace("12056", "9"));
        assert!(load(&twice).unwrap_err().contains("unique"));
        let no_source = GOOD.replace("shop = { value = \"Cửa hàng ABC\" }\n", "");
        let err = load(&no_source).unwrap_err();
        assert!(
            err.contains("{shop}") && err.contains("order_update"),
            "{err}"
        );
        let no_id = GOOD.replace("template_id = \"12056\"", "template_id = \" \"");
        assert!(load(&no_id).unwrap_err().contains("template_id"));
        let two_sources = GOOD.replace(
            "{ argument = \"order\" }",
            "{ argument = \"order\", value = \"x\" }",
        );
        assert!(load(&two_sources).is_err());
        let unknown_source = GOOD.replace("{ argument = \"order\" }", "{ agrument = \"order\" }");
        assert!(load(&unknown_source).unwrap_err().contains("agrument"));
        let bad_name = GOOD.replace("name = \"order_update\"", "name = \"order update\"");
        assert!(load(&bad_name).unwrap_err().contains("one word"));
    }
}
