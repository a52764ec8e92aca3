//! The rules file (`default.toml` and customer copies): deserialised strictly, so a misspelt key is
//! an error naming the key rather than a silently ignored setting.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::agents::{
    AgentRules, FreshchatToZaloNotes, ZaloErrors, ZaloEventsTexts, ZaloToFreshchatTexts,
};
use crate::commands::CommandRules;
use crate::zbs::ZbsTemplate;

/// The built-in rules, the documented behaviour of zfsync.
pub const DEFAULT_RULES: &str = include_str!("../default.toml");

/// Why a rules file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum RulesError {
    /// Not valid TOML, a key misspelt or missing, or an unknown language; the text says which.
    #[error("the mapping rules are not valid: {0}")]
    Invalid(String),
}

/// Every rule of the mapping engine: the built-in `default.toml` or a customer's copy.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Rules {
    /// The language agents read (table `[agents]`). Added in a later release: older customer
    /// copies get Vietnamese.
    #[serde(default)]
    pub agents: AgentRules,
    /// How a Zalo sender appears in Freshchat (table `[contact]`).
    pub contact: ContactRules,
    /// How customer messages appear in Freshchat (table `[zalo_to_freshchat]`).
    pub zalo_to_freshchat: ZaloToFreshchat,
    /// How agent messages reach Zalo (table `[freshchat_to_zalo]`).
    pub freshchat_to_zalo: FreshchatToZalo,
    /// Private notes explaining Zalo error codes; key "default" for the rest.
    #[serde(default)]
    pub zalo_errors: ZaloErrors,
    /// Wording for Zalo events other than customer messages. Added in a later release: defaulted
    /// from the built-in rules so that older customer copies still load.
    #[serde(default = "default_zalo_events")]
    pub zalo_events: ZaloEvents,
    /// Telling agents what a Zalo reply costs. Defaulted from the built-in rules so that older
    /// customer copies still load.
    #[serde(default = "default_quota")]
    pub quota: QuotaRules,
    /// Wording for history brought in by `zfsync backfill`. Added in a later release: defaulted
    /// from the built-in rules so that older customer copies still load.
    #[serde(default = "default_backfill")]
    pub backfill: BackfillRules,
    /// Anonymous chat-widget visitors (table `[anonymous]`). Added in a later release: defaulted
    /// from the built-in rules so that older customer copies still load.
    #[serde(default = "default_anonymous")]
    pub anonymous: AnonymousRules,
    /// Identity clashes (table `[identity]`). Added in a later release: defaulted from the
    /// built-in rules so that older customer copies still load.
    #[serde(default = "default_identity")]
    pub identity: IdentityRules,
    /// `/zalo` commands agents type in private notes (table `[commands]`). Added in a later
    /// release: older customer copies get the built-in answers.
    #[serde(default)]
    pub commands: CommandRules,
    /// The approved ZBS template messages agents may send (`[[templates]]`); none by default.
    #[serde(default)]
    pub templates: Vec<ZbsTemplate>,
    /// Which Freshchat group a new conversation goes to (table `[routing]`). Added in a later
    /// release: absent, nothing is routed.
    #[serde(default)]
    pub routing: crate::routing::RoutingRules,
    /// Zalo tags ↔ Freshchat (table `[tags]`). Added in a later release: defaulted from the
    /// built-in rules so that older customer copies still load.
    #[serde(default = "default_tags")]
    pub tags: crate::tags::TagRules,
    /// Ratings after resolve (table `[csat]`). Added in a later release: defaulted from the
    /// built-in rules so that older customer copies still load.
    #[serde(default = "default_csat")]
    pub csat: crate::csat::CsatRules,
    /// Contact details the customer chose to give (table `[contact_info]`). Added in a later
    /// release: defaulted from the built-in rules so that older customer copies still load.
    #[serde(default = "default_contact_info")]
    pub contact_info: crate::contact_info::ContactInfoRules,
    /// The admins' note when Freshchat refuses a feature's user property (table `[properties]`).
    /// Added in a later release: defaulted from the built-in rules so that older customer copies
    /// still load.
    #[serde(default = "default_properties")]
    pub properties: PropertiesRules,
}

/// Private notes about Zalo's reply allowance (table `[quota]`).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct QuotaRules {
    /// Post the notes at all.
    pub notes: bool,
    /// The "last free reply" note comes when this many free replies are left (or fewer).
    pub low_threshold: u64,
    /// Single text, whatever the language, of `texts.<language>.last_free_reply_note`.
    #[serde(default)]
    pub last_free_reply_note: Option<String>,
    /// Single text, whatever the language, of `texts.<language>.billed_unknown_note`.
    #[serde(default)]
    pub billed_note: Option<String>,
    /// The reply-window notes per language (`[quota.texts.vi]`, `[quota.texts.en]`); languages
    /// missing here come from the built-in rules.
    #[serde(default)]
    pub texts: BTreeMap<String, crate::window::WindowTexts>,
}

pub(crate) fn default_quota() -> QuotaRules {
    #[derive(Deserialize)]
    struct Only {
        quota: QuotaRules,
    }
    // The embedded file is checked by a unit test; parsing it cannot fail at run time.
    match toml::from_str::<Only>(DEFAULT_RULES) {
        Ok(only) => only.quota,
        Err(e) => panic!("built-in default.toml has no valid [quota]: {e}"),
    }
}

/// How a Zalo sender appears in Freshchat (table `[contact]`).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ContactRules {
    /// The Freshchat first name: `{display_name}`.
    pub first_name: String,
    /// The Freshchat last name ("Zalo", so a sender reads "Minh Khánh Zalo").
    pub last_name: String,
    /// The display name while Zalo refuses the profile: `{short_id}`.
    pub fallback_display_name: String,
    /// The Freshchat `reference_id`: `{oa_id}`, `{zalo_user_id}`; lets a lost store be rebuilt.
    pub reference_id: String,
    /// The value of the `external_user_provider` user property.
    pub provider: String,
}

/// How customer messages appear in Freshchat (table `[zalo_to_freshchat]`).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ZaloToFreshchat {
    /// Media larger than this is not transferred; the agent gets a text part and a note instead.
    pub max_media_bytes: u64,
    /// Added in a later release: defaulted so that older customer copies of the rules still load.
    #[serde(default = "default_reply_quote")]
    pub reply_quote: String,
    /// A shared link: `{url}`.
    pub link: String,
    /// A shared link with a title: `{title}`, `{url}`.
    pub link_with_title: String,
    /// Single texts, whatever the agents' language, of the keys of `texts.<language>`.
    #[serde(default)]
    pub location: Option<String>,
    /// See `location`.
    #[serde(default)]
    pub location_with_title: Option<String>,
    /// See `location`.
    #[serde(default)]
    pub business_card: Option<String>,
    /// See `location`.
    #[serde(default)]
    pub media_failed: Option<String>,
    /// See `location`.
    #[serde(default)]
    pub media_failed_note: Option<String>,
    /// See `location`.
    #[serde(default)]
    pub reaction_note: Option<String>,
    /// See `location`.
    #[serde(default)]
    pub reaction_note_unknown: Option<String>,
    /// See `location`.
    #[serde(default)]
    pub staff_note: Option<String>,
    /// See `location`.
    #[serde(default)]
    pub staff_media_note: Option<String>,
    /// See `location`.
    #[serde(default)]
    pub other_app_note: Option<String>,
    /// What agents read around a customer's message, per language; languages and keys missing
    /// here come from the built-in rules.
    #[serde(default)]
    pub texts: BTreeMap<String, ZaloToFreshchatTexts>,
    /// Zalo's reaction codes and the emoji agents read for them.
    #[serde(default)]
    pub reaction_icons: BTreeMap<String, String>,
}

/// How agent messages become Zalo messages. The customer-visible texts are read from
/// `texts.<language>`; each `Option` text here, when set, overrides that one text whatever the
/// language (see [`FreshchatToZalo::text`]).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FreshchatToZalo {
    /// Zalo's text limit in characters; longer replies become a `.txt` file.
    pub text_limit: usize,
    /// Name of that file.
    pub long_text_filename: String,
    /// Override of `texts.<language>.long_text_link`.
    #[serde(default)]
    pub long_text_link: Option<String>,
    /// Characters of a long reply shown before its link.
    pub long_text_preview_chars: usize,
    /// Override of `texts.<language>.file_link`.
    #[serde(default)]
    pub file_link: Option<String>,
    /// Override of `texts.<language>.video_link`.
    #[serde(default)]
    pub video_link: Option<String>,
    /// Override of `texts.<language>.image_link`.
    #[serde(default)]
    pub image_link: Option<String>,
    /// Override of `texts.<language>.url_button`.
    #[serde(default)]
    pub url_button: Option<String>,
    /// Whether resolving a conversation sends the resolve notice.
    pub send_resolve_notice: bool,
    /// Who resolving a conversation sends the notice: Freshchat's `resolver` kinds (`agent`, `bot`,
    /// `system`, `user`). Freshchat's automatic resolutions (`system`) come when the customer has
    /// gone quiet, so by default only agents' do.
    #[serde(default = "default_resolve_notice_resolvers")]
    pub resolve_notice_resolvers: Vec<String>,
    /// Whether the resolve notice is sent when the customer's free 48 h are over (billed to the OA,
    /// or refused after 7 days). When not, the agents get a private note saying why it was not sent.
    #[serde(default)]
    pub resolve_notice_outside_free_window: bool,
    /// Override of `texts.<language>.resolve_notice`.
    #[serde(default)]
    pub resolve_notice: Option<String>,
    // ---- language and agent-message rendering ----
    /// The language of the texts the customer reads: a key of `texts` (`vi` or `en` built in).
    #[serde(default = "default_language")]
    pub language: String,
    /// Override of `texts.<language>.audio_link`.
    #[serde(default)]
    pub audio_link: Option<String>,
    /// Override of `texts.<language>.option_line`.
    #[serde(default)]
    pub option_line: Option<String>,
    /// Override of `texts.<language>.options_hint`.
    #[serde(default)]
    pub options_hint: Option<String>,
    /// Single text, whatever the agents' language, of `notes.<language>.undelivered_note`.
    #[serde(default)]
    pub undelivered_note: Option<String>,
    /// The agents' notes per language (`[freshchat_to_zalo.notes.<language>]`).
    #[serde(default)]
    pub notes: BTreeMap<String, FreshchatToZaloNotes>,
    /// The customer-visible texts per language; languages missing here come from the built-in rules.
    #[serde(default)]
    pub texts: BTreeMap<String, CustomerTexts>,
}

/// The texts a Zalo customer reads, in one language.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CustomerTexts {
    /// Sent when an agent resolves the conversation.
    pub resolve_notice: String,
    /// After the preview of a reply too long for one Zalo message; `{url}` is the file.
    pub long_text_link: String,
    /// A file zfsync hosts: `{name}`, `{url}`.
    pub file_link: String,
    /// A video zfsync hosts: `{url}`, `{name}`.
    pub video_link: String,
    /// A voice message or audio file zfsync hosts: `{url}`, `{name}`.
    pub audio_link: String,
    /// An image Zalo could not take: `{url}`, `{name}`.
    pub image_link: String,
    /// A link button: `{label}`, `{url}`.
    pub url_button: String,
    /// One numbered option of a quick reply, dropdown or carousel: `{number}`, `{label}`.
    pub option_line: String,
    /// Below numbered options: how to answer (empty for none).
    pub options_hint: String,
}

/// One customer-visible text, looked up by [`FreshchatToZalo::text`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CustomerText {
    /// [`CustomerTexts::resolve_notice`].
    ResolveNotice,
    /// [`CustomerTexts::long_text_link`].
    LongTextLink,
    /// [`CustomerTexts::file_link`].
    FileLink,
    /// [`CustomerTexts::video_link`].
    VideoLink,
    /// [`CustomerTexts::audio_link`].
    AudioLink,
    /// [`CustomerTexts::image_link`].
    ImageLink,
    /// [`CustomerTexts::url_button`].
    UrlButton,
    /// [`CustomerTexts::option_line`].
    OptionLine,
    /// [`CustomerTexts::options_hint`].
    OptionsHint,
}

fn default_language() -> String {
    "vi".into()
}

fn default_resolve_notice_resolvers() -> Vec<String> {
    vec!["agent".into()]
}

/// The texts of the built-in rules, for languages a customer's rules file does not define.
fn builtin_texts() -> &'static BTreeMap<String, CustomerTexts> {
    static BUILTIN: std::sync::OnceLock<BTreeMap<String, CustomerTexts>> =
        std::sync::OnceLock::new();
    BUILTIN.get_or_init(|| {
        #[derive(Deserialize)]
        struct Only {
            freshchat_to_zalo: OnlyTexts,
        }
        #[derive(Deserialize)]
        struct OnlyTexts {
            #[serde(default)]
            texts: BTreeMap<String, CustomerTexts>,
        }
        toml::from_str::<Only>(DEFAULT_RULES)
            .map(|o| o.freshchat_to_zalo.texts)
            .unwrap_or_default()
    })
}

impl FreshchatToZalo {
    /// A customer-visible text: this file's override, else `texts.<language>` from this file, else
    /// from the built-in rules.
    pub fn text(&self, which: CustomerText) -> &str {
        use CustomerText as T;
        let own = match which {
            T::ResolveNotice => &self.resolve_notice,
            T::LongTextLink => &self.long_text_link,
            T::FileLink => &self.file_link,
            T::VideoLink => &self.video_link,
            T::AudioLink => &self.audio_link,
            T::ImageLink => &self.image_link,
            T::UrlButton => &self.url_button,
            T::OptionLine => &self.option_line,
            T::OptionsHint => &self.options_hint,
        };
        if let Some(t) = own {
            return t;
        }
        let texts = self
            .texts
            .get(&self.language)
            .or_else(|| builtin_texts().get(&self.language))
            .or_else(|| builtin_texts().get(&default_language()));
        let Some(t) = texts else { return "" };
        match which {
            T::ResolveNotice => &t.resolve_notice,
            T::LongTextLink => &t.long_text_link,
            T::FileLink => &t.file_link,
            T::VideoLink => &t.video_link,
            T::AudioLink => &t.audio_link,
            T::ImageLink => &t.image_link,
            T::UrlButton => &t.url_button,
            T::OptionLine => &t.option_line,
            T::OptionsHint => &t.options_hint,
        }
    }

    pub(crate) fn validate(&self) -> Result<(), RulesError> {
        if !self.texts.contains_key(&self.language) && !builtin_texts().contains_key(&self.language)
        {
            let mut known: Vec<&str> = builtin_texts().keys().map(String::as_str).collect();
            known.extend(self.texts.keys().map(String::as_str));
            known.sort_unstable();
            known.dedup();
            return Err(RulesError::Invalid(format!(
                "freshchat_to_zalo.language is {:?}, which has no texts; use one of {} or add a [freshchat_to_zalo.texts.{}] table",
                self.language,
                known.join(", "),
                self.language
            )));
        }
        Ok(())
    }
}

/// Wording for Zalo events other than customer messages (table `[zalo_events]`).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ZaloEvents {
    /// An item of a list the OA sent from Zalo (`oa_send_list`), with `{title}`.
    pub list_item: String,
    /// The same with a link, with `{title}` and `{url}`.
    pub list_item_with_url: String,
    /// Single texts, whatever the agents' language, of the keys of `texts.<language>`.
    #[serde(default)]
    pub withdraw_note: Option<String>,
    /// See `withdraw_note`.
    #[serde(default)]
    pub template: Option<String>,
    /// See `withdraw_note`.
    #[serde(default)]
    pub template_with_url: Option<String>,
    /// The agent texts per language; languages and keys missing here come from the built-in rules.
    #[serde(default)]
    pub texts: BTreeMap<String, ZaloEventsTexts>,
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

/// How messages brought in from Zalo's history by `zfsync backfill` read in Freshchat (table
/// `[backfill]`), per language; the language is the agents' (`agents.language`).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct BackfillRules {
    /// The texts per language; languages missing here come from the built-in rules.
    #[serde(default)]
    pub texts: BTreeMap<String, BackfillTexts>,
}

/// The backfill texts in one language.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct BackfillTexts {
    /// The line above a customer's earlier message, with `{time}` (its original time).
    pub customer_prefix: String,
    /// The private note for a message the OA sent earlier, with `{time}` and `{text}`.
    pub oa_note: String,
}

/// The `[backfill]` table of the built-in rules, for customer copies that predate it.
fn default_backfill() -> BackfillRules {
    #[derive(Deserialize)]
    struct Only {
        backfill: BackfillRules,
    }
    // The embedded file is checked by a unit test; parsing it cannot fail at run time.
    match toml::from_str::<Only>(DEFAULT_RULES) {
        Ok(only) => only.backfill,
        Err(e) => panic!("built-in default.toml has no valid [backfill]: {e}"),
    }
}

impl Rules {
    /// The backfill texts in the agents' language: this file's, else the built-in ones, else the
    /// built-in Vietnamese.
    pub fn backfill_texts(&self) -> BackfillTexts {
        let lang = &self.agents.language;
        let builtin = default_backfill();
        self.backfill
            .texts
            .get(lang)
            .or_else(|| builtin.texts.get(lang))
            .or_else(|| builtin.texts.get(&default_language()))
            .cloned()
            .unwrap_or(BackfillTexts {
                customer_prefix: "🕘 {time}".into(),
                oa_note: "🕘 {time}: {text}".into(),
            })
    }
}

/// Anonymous chat-widget visitors (table `[anonymous]`): their wording per language.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AnonymousRules {
    /// The texts per language; languages missing here come from the built-in rules.
    #[serde(default)]
    pub texts: BTreeMap<String, AnonymousTexts>,
}

/// The anonymous-visitor texts in one language.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AnonymousTexts {
    /// The visitor's display name (then `contact.first_name`/`last_name` apply): `{short_id}`.
    pub display_name: String,
    /// The private note for an agent's attachment the visitor's chat cannot take: `{kind}`,
    /// `{name}`.
    pub unsupported_note: String,
}

/// The `[anonymous]` table of the built-in rules, for customer copies that predate it.
fn default_anonymous() -> AnonymousRules {
    #[derive(Deserialize)]
    struct Only {
        anonymous: AnonymousRules,
    }
    // The embedded file is checked by a unit test; parsing it cannot fail at run time.
    match toml::from_str::<Only>(DEFAULT_RULES) {
        Ok(only) => only.anonymous,
        Err(e) => panic!("built-in default.toml has no valid [anonymous]: {e}"),
    }
}

/// Identity clashes (table `[identity]`): their wording per language.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct IdentityRules {
    /// The texts per language; languages missing here come from the built-in rules.
    #[serde(default)]
    pub texts: BTreeMap<String, IdentityTexts>,
}

/// The identity texts in one language.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct IdentityTexts {
    /// The admins' private note in the customer's new conversation: `{users}` (the refused
    /// Freshchat user ids), `{reference_id}`.
    pub clash_note: String,
}

/// The `[identity]` table of the built-in rules, for customer copies that predate it.
pub(crate) fn default_identity() -> IdentityRules {
    #[derive(Deserialize)]
    struct Only {
        identity: IdentityRules,
    }
    // The embedded file is checked by a unit test; parsing it cannot fail at run time.
    match toml::from_str::<Only>(DEFAULT_RULES) {
        Ok(only) => only.identity,
        Err(e) => panic!("built-in default.toml has no valid [identity]: {e}"),
    }
}

impl Rules {
    /// The anonymous-visitor texts in the agents' language: this file's, else the built-in ones,
    /// else the built-in Vietnamese.
    pub fn anonymous_texts(&self) -> AnonymousTexts {
        let lang = &self.agents.language;
        let builtin = default_anonymous();
        self.anonymous
            .texts
            .get(lang)
            .or_else(|| builtin.texts.get(lang))
            .or_else(|| builtin.texts.get(&default_language()))
            .cloned()
            .unwrap_or(AnonymousTexts {
                display_name: "Zalo {short_id}".into(),
                unsupported_note: "{kind} {name}".into(),
            })
    }
}

/// The `[tags]` table of the built-in rules, for customer copies that predate it.
pub(crate) fn default_tags() -> crate::tags::TagRules {
    #[derive(Deserialize)]
    struct Only {
        tags: crate::tags::TagRules,
    }
    // The embedded file is checked by a unit test; parsing it cannot fail at run time.
    match toml::from_str::<Only>(DEFAULT_RULES) {
        Ok(only) => only.tags,
        Err(e) => panic!("built-in default.toml has no valid [tags]: {e}"),
    }
}

/// A table of the built-in rules, for customer copies that predate it.
fn builtin_table<T: serde::de::DeserializeOwned>(name: &str) -> T {
    // The embedded file is checked by a unit test; parsing it cannot fail at run time.
    let table = toml::from_str::<toml::Table>(DEFAULT_RULES)
        .ok()
        .and_then(|t| t.get(name).cloned())
        .map(T::deserialize);
    match table {
        Some(Ok(t)) => t,
        Some(Err(e)) => panic!("built-in default.toml has no valid [{name}]: {e}"),
        None => panic!("built-in default.toml has no [{name}]"),
    }
}

/// The admins' note about a refused property (table `[properties]`).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PropertiesRules {
    /// The texts per language; languages missing here come from the built-in rules.
    #[serde(default)]
    pub texts: BTreeMap<String, PropertiesTexts>,
}

/// The property texts in one language.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PropertiesTexts {
    /// The admins' private note, once per property: `{property}`, `{feature}` (the rules' setting
    /// that names it), `{reason}` (what Freshchat said).
    pub refused_note: String,
}

/// The `[properties]` table of the built-in rules, for customer copies that predate it.
pub(crate) fn default_properties() -> PropertiesRules {
    builtin_table("properties")
}

/// The `[csat]` table of the built-in rules.
pub(crate) fn default_csat() -> crate::csat::CsatRules {
    builtin_table("csat")
}

/// The `[contact_info]` table of the built-in rules.
pub(crate) fn default_contact_info() -> crate::contact_info::ContactInfoRules {
    builtin_table("contact_info")
}

impl Rules {
    /// The rating texts in `language`: this file's, else the built-in ones, else the built-in
    /// Vietnamese.
    pub fn csat_texts(&self, language: &str) -> crate::csat::CsatTexts {
        let builtin = default_csat();
        self.csat
            .texts
            .get(language)
            .or_else(|| builtin.texts.get(language))
            .or_else(|| builtin.texts.get(&default_language()))
            .cloned()
            .unwrap_or(crate::csat::CsatTexts {
                question: "1 2 3 4 5".into(),
                rated_note: "{score}/5".into(),
            })
    }

    /// The contact-details texts in `language`: this file's, else the built-in ones, else the
    /// built-in Vietnamese.
    pub fn contact_info_texts(&self, language: &str) -> crate::contact_info::ContactInfoTexts {
        let builtin = default_contact_info();
        self.contact_info
            .texts
            .get(language)
            .or_else(|| builtin.texts.get(language))
            .or_else(|| builtin.texts.get(&default_language()))
            .cloned()
            .unwrap_or_default()
    }

    /// The tag texts agents read in `language`: this file's, else the built-in ones, else the
    /// built-in Vietnamese.
    pub fn tag_texts(&self, language: &str) -> crate::tags::TagTexts {
        let builtin = default_tags();
        let in_builtin = || {
            builtin
                .texts
                .get(language)
                .or_else(|| builtin.texts.get(&default_language()))
        };
        let mut texts = self
            .tags
            .texts
            .get(language)
            .or_else(in_builtin)
            .cloned()
            .unwrap_or(crate::tags::TagTexts {
                tagged: "+ {tag}".into(),
                untagged: "- {tag}".into(),
                failed: "{tag}: {reason}".into(),
                commands_off: "off".into(),
                not_tagged: None,
            });
        if texts.not_tagged.is_none() {
            texts.not_tagged = in_builtin().and_then(|t| t.not_tagged.clone());
        }
        texts
    }
}

fn default_reply_quote() -> String {
    "↪ “{quoted}”".into()
}

impl Rules {
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
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn tag_texts_exist_in_both_languages() {
        let rules = Rules::default();
        assert!(rules.tags.sync && !rules.tags.agent_commands);
        assert_eq!(rules.tags.property, "zalo_tags");
        for lang in ["vi", "en"] {
            let t = rules.tag_texts(lang);
            assert!(
                t.tagged.contains("{tag}") && t.failed.contains("{reason}"),
                "{lang}"
            );
        }
        assert_ne!(rules.tag_texts("vi"), rules.tag_texts("en"));
        assert_eq!(rules.tag_texts("fr"), rules.tag_texts("vi"));
        let start = DEFAULT_RULES.find("[tags]").unwrap();
        let older = &DEFAULT_RULES[..start];
        assert_eq!(Rules::from_toml(older).unwrap().tags, rules.tags);
    }

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
    fn customer_texts_follow_the_language_and_single_overrides() {
        use CustomerText as T;
        let vi = Rules::default();
        assert_eq!(vi.freshchat_to_zalo.language, "vi");
        assert!(vi
            .freshchat_to_zalo
            .text(T::ResolveNotice)
            .contains("đã giải quyết"));
        let en = Rules::from_toml(&DEFAULT_RULES.replace("language = \"vi\"", "language = \"en\""))
            .unwrap();
        assert!(en
            .freshchat_to_zalo
            .text(T::ResolveNotice)
            .contains("resolved"));
        // Every text exists in both languages.
        for t in [
            T::ResolveNotice,
            T::LongTextLink,
            T::FileLink,
            T::VideoLink,
            T::AudioLink,
            T::ImageLink,
            T::UrlButton,
            T::OptionLine,
        ] {
            assert!(!vi.freshchat_to_zalo.text(t).is_empty(), "{t:?}");
            assert!(!en.freshchat_to_zalo.text(t).is_empty(), "{t:?}");
        }
        // One text overridden; the others still follow the language.
        let custom = DEFAULT_RULES.replace(
            "send_resolve_notice = true\n",
            "send_resolve_notice = true\nresolve_notice = \"Cảm ơn quý khách!\"\n",
        );
        let custom = Rules::from_toml(&custom).unwrap();
        assert_eq!(
            custom.freshchat_to_zalo.text(T::ResolveNotice),
            "Cảm ơn quý khách!"
        );
        assert_eq!(
            custom.freshchat_to_zalo.text(T::LongTextLink),
            vi.freshchat_to_zalo.text(T::LongTextLink)
        );
    }

    #[test]
    fn an_unknown_language_is_named() {
        let bad = DEFAULT_RULES.replace("language = \"vi\"", "language = \"fr\"");
        let err = Rules::from_toml(&bad).unwrap_err().to_string();
        assert!(err.contains("\"fr\"") && err.contains("en, vi"), "{err}");
    }

    #[test]
    fn a_rules_file_without_texts_uses_the_built_in_ones() {
        let start = DEFAULT_RULES.find("[freshchat_to_zalo.texts.vi]").unwrap();
        let end = DEFAULT_RULES
            .find("# Private notes explaining a Zalo error")
            .unwrap();
        let old = format!("{}{}", &DEFAULT_RULES[..start], &DEFAULT_RULES[end..]);
        let rules = Rules::from_toml(&old).unwrap();
        assert_eq!(
            rules.freshchat_to_zalo.text(CustomerText::ResolveNotice),
            Rules::default()
                .freshchat_to_zalo
                .text(CustomerText::ResolveNotice)
        );
    }

    #[test]
    fn zalo_events_default_for_older_copies() {
        let rules = Rules::default();
        assert!(rules
            .agent_text(crate::agents::AgentText::WithdrawNote)
            .contains("Freshchat"));
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
}
