//! Contact details a customer chose to give (table `[contact_info]`). Zalo forbids syncing a
//! profile's phone or name, but an agent may ask (`/zalo ask-info` sends Zalo's
//! `request_user_info` template, whose title, subtitle and image are the customer texts here), and
//! the customer's answer (`user_submit_info`) fills the Freshchat user's fields switched on here.
//! A later `user_withdraw` erases them again.
//!
//! Pure; nothing here fails.

use std::collections::BTreeMap;

use serde::Deserialize;

/// Zalo's limit on the template's title (characters).
pub const TITLE_MAX: usize = 100;
/// Zalo's limit on the template's subtitle (characters).
pub const SUBTITLE_MAX: usize = 500;

/// Contact details given with consent (table `[contact_info]`).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ContactInfoRules {
    /// Let agents ask with `/zalo ask-info`.
    pub ask_command: bool,
    /// The given name becomes the Freshchat user's first name (the last name is emptied).
    pub fill_name: bool,
    /// The given phone becomes the Freshchat user's phone.
    pub fill_phone: bool,
    /// A given email becomes the Freshchat user's email.
    pub fill_email: bool,
    /// The Freshchat user property that keeps the given address ("" for none).
    pub address_property: String,
    /// The wording per language; languages missing here come from the built-in rules.
    #[serde(default)]
    pub texts: BTreeMap<String, ContactInfoTexts>,
}

/// The contact-details texts in one language.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ContactInfoTexts {
    /// For the customer: the template's title (≤ 100 characters).
    pub title: String,
    /// For the customer: the template's subtitle (≤ 500 characters).
    pub subtitle: String,
    /// For the customer: the template's image (an https URL; "" for none).
    pub image_url: String,
    /// For the agents: the request was sent.
    pub asked_note: String,
    /// For the agents: the request was not sent: `{reason}`.
    pub ask_failed_note: String,
    /// For the agents: the command is switched off.
    pub ask_off_note: String,
    /// For the agents: the customer gave their details: `{details}` (one per line) and
    /// `{fields}` (what was filled in Freshchat).
    pub submitted_note: String,
    /// For the agents, after a withdrawal: the given details were erased from the Freshchat user.
    pub erased_note: String,
    /// How `{details}` names each item, per key: name, phone, email, address.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

impl ContactInfoRules {
    pub(crate) fn validate(&self) -> Result<(), String> {
        for (lang, t) in &self.texts {
            let title = crate::char_count(&t.title);
            if title == 0 || title > TITLE_MAX {
                return Err(format!(
                    "contact_info.texts.{lang}.title has {title} characters; Zalo takes 1 to {TITLE_MAX}"
                ));
            }
            let subtitle = crate::char_count(&t.subtitle);
            if subtitle > SUBTITLE_MAX {
                return Err(format!(
                    "contact_info.texts.{lang}.subtitle has {subtitle} characters; Zalo takes at most {SUBTITLE_MAX}"
                ));
            }
            if !t.image_url.is_empty() && !t.image_url.starts_with("https://") {
                return Err(format!(
                    "contact_info.texts.{lang}.image_url must be an https URL Zalo can fetch, or \"\" for none (it is {:?})",
                    t.image_url
                ));
            }
            if !t.ask_failed_note.contains("{reason}") {
                return Err(format!(
                    "contact_info.texts.{lang}.ask_failed_note must contain {{reason}}"
                ));
            }
            if !t.submitted_note.contains("{details}") {
                return Err(format!(
                    "contact_info.texts.{lang}.submitted_note must contain {{details}}"
                ));
            }
        }
        Ok(())
    }
}
