//! Looking agent texts up in the agents' language (the order is in [`crate::agents`]), Zalo error
//! notes among them, and checking that the agents' language has texts.

use std::collections::BTreeMap;

use crate::agents::{default_agent_language, AgentText, ZaloEventsTexts, ZaloToFreshchatTexts};
use crate::rules::{Rules, RulesError, DEFAULT_RULES};

/// The built-in rules as written (not validated again), for the texts a customer's copy lacks.
pub(crate) fn builtin() -> &'static Rules {
    static BUILTIN: std::sync::OnceLock<Rules> = std::sync::OnceLock::new();
    BUILTIN.get_or_init(|| {
        // The embedded file is checked by a unit test; parsing it cannot fail at run time.
        match toml::from_str::<Rules>(DEFAULT_RULES) {
            Ok(rules) => rules,
            Err(e) => panic!("built-in default.toml is invalid: {e}"),
        }
    })
}

/// One field of a per-language table: the file's table for `lang`, the built-in one, the built-in
/// Vietnamese; "" when none has it.
pub(crate) fn localized<'a, T>(
    own: &'a BTreeMap<String, T>,
    builtin: &'static BTreeMap<String, T>,
    lang: &str,
    field: fn(&T) -> Option<&String>,
) -> &'a str {
    let vi = default_agent_language();
    [own.get(lang), builtin.get(lang), builtin.get(&vi)]
        .into_iter()
        .flatten()
        .find_map(field)
        .map(String::as_str)
        .unwrap_or("")
}

impl Rules {
    /// An agent text in the agents' language (see the module's lookup order).
    pub fn agent_text(&self, which: AgentText) -> &str {
        use AgentText as A;
        let lang = self.agents.language.as_str();
        let b = builtin();
        let (z, bz) = (&self.zalo_to_freshchat, &b.zalo_to_freshchat);
        let zf = |f: fn(&ZaloToFreshchatTexts) -> Option<&String>| {
            localized(&z.texts, &bz.texts, lang, f)
        };
        let (e, be) = (&self.zalo_events, &b.zalo_events);
        let ev =
            |f: fn(&ZaloEventsTexts) -> Option<&String>| localized(&e.texts, &be.texts, lang, f);
        let (q, bq) = (&self.quota, &b.quota);
        let qt = |f: fn(&crate::window::WindowTexts) -> Option<&String>| {
            localized(&q.texts, &bq.texts, lang, f)
        };
        let own = match which {
            A::Location => &z.location,
            A::LocationWithTitle => &z.location_with_title,
            A::BusinessCard => &z.business_card,
            A::MediaFailed => &z.media_failed,
            A::MediaFailedNote => &z.media_failed_note,
            A::ReactionNote => &z.reaction_note,
            A::ReactionNoteUnknown => &z.reaction_note_unknown,
            A::StaffNote => &z.staff_note,
            A::StaffMediaNote => &z.staff_media_note,
            A::OtherAppNote => &z.other_app_note,
            A::UndeliveredNote => &self.freshchat_to_zalo.undelivered_note,
            A::WithdrawNote => &e.withdraw_note,
            A::EventTemplate => &e.template,
            A::EventTemplateWithUrl => &e.template_with_url,
            A::LastFreeReplyNote => &q.last_free_reply_note,
            A::BilledUnknownNote => &q.billed_note,
        };
        if let Some(t) = own {
            return t;
        }
        match which {
            A::Location => zf(|t| t.location.as_ref()),
            A::LocationWithTitle => zf(|t| t.location_with_title.as_ref()),
            A::BusinessCard => zf(|t| t.business_card.as_ref()),
            A::MediaFailed => zf(|t| t.media_failed.as_ref()),
            A::MediaFailedNote => zf(|t| t.media_failed_note.as_ref()),
            A::ReactionNote => zf(|t| t.reaction_note.as_ref()),
            A::ReactionNoteUnknown => zf(|t| t.reaction_note_unknown.as_ref()),
            A::StaffNote => zf(|t| t.staff_note.as_ref()),
            A::StaffMediaNote => zf(|t| t.staff_media_note.as_ref()),
            A::OtherAppNote => zf(|t| t.other_app_note.as_ref()),
            A::UndeliveredNote => localized(
                &self.freshchat_to_zalo.notes,
                &b.freshchat_to_zalo.notes,
                lang,
                |t| t.undelivered_note.as_ref(),
            ),
            A::WithdrawNote => ev(|t| t.withdraw_note.as_ref()),
            A::EventTemplate => ev(|t| t.template.as_ref()),
            A::EventTemplateWithUrl => ev(|t| t.template_with_url.as_ref()),
            A::LastFreeReplyNote => qt(|t| t.last_free_reply_note.as_ref()),
            A::BilledUnknownNote => qt(|t| t.billed_unknown_note.as_ref()),
        }
    }

    /// The private note for a Zalo error in the agents' language: the code's own text (a single
    /// text of the file, the file's or the built-in one for the language), else the default, with
    /// `{code}` and `{message}` filled in.
    pub fn zalo_error_note(&self, code: Option<i64>, message: &str) -> String {
        let code_text = code
            .map(|c| c.to_string())
            .unwrap_or_else(|| "error".into());
        let lang = self.agents.language.as_str();
        let b = &builtin().zalo_errors;
        let own = &self.zalo_errors;
        let vi = default_agent_language();
        let tables = [
            Some(&own.overrides),
            own.texts.get(lang),
            b.texts.get(lang),
            b.texts.get(&vi),
        ];
        let find = |key: &str| {
            tables
                .iter()
                .flatten()
                .find_map(|t| t.get(key))
                .map(String::as_str)
        };
        let template = find(&code_text)
            .or_else(|| find("default"))
            .unwrap_or("Not delivered to Zalo ({code}: {message}).");
        // Zalo's messages end in "!" ("template_id is invalid!"); the texts put their own stop.
        let message = message.trim_end_matches(['!', '.', ' ']);
        crate::template::fill(template, &[("code", &code_text), ("message", message)])
    }

    /// The languages agent texts exist in (built in, or given texts in these rules), the values
    /// `[mapping] agent_language` may take.
    pub fn agent_languages(&self) -> Vec<String> {
        known_languages(self)
    }
}

/// The languages agent texts exist in: the built-in ones and those the file gives any texts for.
fn known_languages(rules: &Rules) -> Vec<String> {
    let mut known: Vec<String> = Vec::new();
    for r in [rules, builtin()] {
        known.extend(r.zalo_to_freshchat.texts.keys().cloned());
        known.extend(r.zalo_errors.texts.keys().cloned());
        known.extend(r.zalo_events.texts.keys().cloned());
        known.extend(r.quota.texts.keys().cloned());
        known.extend(r.freshchat_to_zalo.notes.keys().cloned());
    }
    known.sort_unstable();
    known.dedup();
    known
}

/// The agents' language must have texts (the file's or the built-in ones).
pub(crate) fn validate(rules: &Rules) -> Result<(), RulesError> {
    let lang = &rules.agents.language;
    let known = known_languages(rules);
    if !known.iter().any(|k| k == lang) {
        return Err(RulesError::Invalid(format!(
            "the agents' language (agents.language, or mapping.agent_language in the configuration) is {lang:?}, which has no texts; use one of {} or add texts for it, e.g. a [zalo_errors.texts.{lang}] table",
            known.join(", ")
        )));
    }
    if !rules.zalo_errors.overrides.contains_key("default")
        && !rules
            .zalo_errors
            .texts
            .get(lang)
            .is_some_and(|t| t.contains_key("default"))
        && !builtin()
            .zalo_errors
            .texts
            .get(lang)
            .is_some_and(|t| t.contains_key("default"))
    {
        return Err(RulesError::Invalid(format!(
            "zalo_errors needs a \"default\" entry for codes without their own text (in [zalo_errors] or [zalo_errors.texts.{lang}])"
        )));
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn every_agent_text_exists_in_both_languages_and_they_differ() {
        let vi = Rules::default();
        let en = vi.clone().with_agent_language("en").unwrap();
        for t in AgentText::ALL {
            let (v, e) = (vi.agent_text(t), en.agent_text(t));
            assert!(!v.is_empty() && !e.is_empty(), "{t:?}");
            if !matches!(t, AgentText::LocationWithTitle) {
                assert_ne!(v, e, "{t:?} reads the same in both languages");
            }
        }
        assert!(vi
            .zalo_error_note(Some(-213), "x")
            .starts_with("Không gửi được qua Zalo (-213)"));
        assert!(en
            .zalo_error_note(Some(-213), "x")
            .contains("Zalo mobile app"));
        assert_eq!(
            vi.zalo_error_note(Some(-999), "odd"),
            "Không gửi được qua Zalo (-999: odd)."
        );
    }

    #[test]
    fn the_agents_language_is_apart_from_the_customers() {
        let rules = Rules::default().with_language("en").unwrap();
        assert_eq!(rules.agents.language, "vi");
        assert!(rules
            .agent_text(AgentText::StaffNote)
            .contains("Nhân viên OA"));
        let err = Rules::default()
            .with_agent_language("fr")
            .unwrap_err()
            .to_string();
        assert!(err.contains("\"fr\"") && err.contains("en, vi"), "{err}");
        let en = Rules::default().with_agent_language("EN").unwrap();
        assert_eq!(en.agents.language, "en");
        assert_eq!(en.agent_languages(), ["en", "vi"]);
        // Zalo's own "!" does not run into the text's full stop.
        assert_eq!(
            en.zalo_error_note(Some(-201), "template_id is invalid!"),
            "Not delivered to Zalo (-201: Zalo rejected a parameter: template_id is invalid)."
        );
    }

    /// A copy written before agent texts had languages: English single strings in each section.
    const OLD_STYLE: &str = r#"
[contact]
first_name = "{display_name}"
last_name = "Zalo"
fallback_display_name = "Zalo user {short_id}"
reference_id = "zalo:{oa_id}:{zalo_user_id}"
provider = "zalo"

[zalo_to_freshchat]
max_media_bytes = 25000000
location = "📍 Location: {latitude}, {longitude}"
location_with_title = "📍 {title}: {latitude}, {longitude}"
link = "🔗 {url}"
link_with_title = "🔗 {title}\n{url}"
business_card = "📇 Business card: {name}"
media_failed = "[{kind} from Zalo could not be transferred: {reason}]"
media_failed_note = "Could not copy the {kind} ({reason}): {url}"
reaction_note = "The customer reacted {icon} to: {quoted}"
reaction_note_unknown = "The customer reacted {icon} to a message."
staff_note = "Our staff on Zalo: {text}"
staff_media_note = "OA staff sent this {kind}: {url}"
other_app_note = "Another app: {text}"

[freshchat_to_zalo]
text_limit = 2000
long_text_filename = "reply.txt"
long_text_preview_chars = 200
send_resolve_notice = true
undelivered_note = "Not shown on Zalo: {parts}."

[zalo_errors]
"-213" = "Customer must write first (-213)."
default = "Zalo said no ({code}: {message})."

[zalo_events]
withdraw_note = "Consent withdrawn."
list_item = "• {title}"
list_item_with_url = "• {title}: {url}"
template = "[template] {text}"
template_with_url = "[template] {text}\n{url}"

[quota]
notes = true
low_threshold = 1
last_free_reply_note = "{remain} of {total} left."
billed_note = "Billed."
"#;

    #[test]
    fn an_old_style_copy_loads_and_its_english_texts_win() {
        let rules = Rules::from_toml(OLD_STYLE).unwrap();
        assert_eq!(rules.agents.language, "vi");
        assert_eq!(
            rules.agent_text(AgentText::StaffNote),
            "Our staff on Zalo: {text}"
        );
        assert_eq!(
            rules.agent_text(AgentText::WithdrawNote),
            "Consent withdrawn."
        );
        assert_eq!(rules.agent_text(AgentText::BilledUnknownNote), "Billed.");
        assert_eq!(
            rules.agent_text(AgentText::UndeliveredNote),
            "Not shown on Zalo: {parts}."
        );
        assert_eq!(
            rules.zalo_error_note(Some(-213), "m"),
            "Customer must write first (-213)."
        );
        // A code the copy has no text for: the copy's own default wins over the built-in one.
        assert_eq!(
            rules.zalo_error_note(Some(-999), "m"),
            "Zalo said no (-999: m)."
        );
        // A code the copy lacks but the built-in rules have: the built-in text, in the language.
        assert!(rules
            .zalo_error_note(Some(-230), "m")
            .starts_with("Không gửi được qua Zalo (-230)"));
        // A misspelt key is still named.
        let bad = OLD_STYLE.replace("staff_note =", "staf_note =");
        let err = Rules::from_toml(&bad).unwrap_err().to_string();
        assert!(err.contains("staf_note"), "{err}");
    }

    #[test]
    fn a_misspelt_key_in_a_language_table_is_named() {
        let bad = DEFAULT_RULES.replace(
            "[zalo_events.texts.vi]\n",
            "[zalo_events.texts.vi]\nwithdraw_nte = \"x\"\n",
        );
        let err = Rules::from_toml(&bad).unwrap_err().to_string();
        assert!(err.contains("withdraw_nte"), "{err}");
    }
}
