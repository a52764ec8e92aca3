//! `/zalo` commands: an agent types a private note beginning with `/zalo` in a Freshchat
//! conversation; zfsync runs it and answers in a private note, in the agents' language. Commands
//! and their answers never reach the customer, and a private note that is not a command is never
//! sent either.
//!
//! Only an agent's own private note is a command: zfsync's notes are posted as its bot, so one
//! that came back as a webhook (or quoted a command) is never run, and nothing loops.
//!
//! # Adding a command
//! One entry each: a variant of [`Verb`] with its word in [`Verb::ALL`]/[`Verb::word`], its usage
//! line under `[commands.texts.<language>.usage]` in `default.toml` (`zfsync check` makes sure each
//! verb has one), and its arm in `plan_command` ([`crate::command_plan`]). `/zalo help` lists every
//! verb from that table.
//!
//! Parsing is pure and never fails: a note that is not a command is `None`; a command with a bad
//! argument is [`Command::BadArgument`], answered with how to use it.

use std::collections::BTreeMap;

use serde::Deserialize;

/// What a command note begins with.
pub const PREFIX: &str = "/zalo";

/// A command agents can type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    /// `/zalo help`: the list of commands.
    Help,
    /// `/zalo template <name> key=value …`: send an approved ZBS template message.
    Template,
    /// `/zalo tag <name>`: tag the customer on Zalo (when `tags.agent_commands`).
    Tag,
    /// `/zalo untag <name>`: remove a Zalo tag from the customer.
    Untag,
    /// `/zalo ask-info`: send Zalo's request-user-info template (when `contact_info.ask_command`).
    AskInfo,
}

impl Verb {
    /// Every command, in the order `/zalo help` lists them.
    pub const ALL: [Verb; 5] = [
        Verb::Help,
        Verb::Template,
        Verb::Tag,
        Verb::Untag,
        Verb::AskInfo,
    ];

    /// The word typed after `/zalo` (and the key of its usage line in the rules).
    pub fn word(self) -> &'static str {
        match self {
            Verb::Help => "help",
            Verb::Template => "template",
            Verb::Tag => "tag",
            Verb::Untag => "untag",
            Verb::AskInfo => "ask-info",
        }
    }

    fn from_word(word: &str) -> Option<Verb> {
        Verb::ALL
            .into_iter()
            .find(|v| v.word().eq_ignore_ascii_case(word))
    }
}

/// A parsed command note.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `/zalo help` (and a bare `/zalo`).
    Help,
    /// `/zalo template <name> key=value …`; `name` is empty when none was typed.
    Template {
        /// The template's name.
        name: String,
        /// The arguments, in the order typed.
        args: Vec<(String, String)>,
    },
    /// `/zalo tag <name>` (`add`) or `/zalo untag <name>`; `tag` is empty when none was typed.
    Tag {
        /// The tag's name (the rest of the note, quotes removed).
        tag: String,
        /// Tag (true) or untag.
        add: bool,
    },
    /// `/zalo ask-info` (anything after it is ignored).
    AskInfo,
    /// A word after `/zalo` that is no command.
    Unknown(String),
    /// An argument that is not `key=value` (or an unclosed quote).
    BadArgument {
        /// The command.
        verb: Verb,
        /// The template's name (`/zalo template <name> …`), so the answer shows its own usage;
        /// empty for other commands or when none was typed.
        name: String,
        /// The argument as typed.
        argument: String,
    },
}

/// Quote marks around a value: straight, and the typographic ones editors put in place of
/// straight quotes (“…”, „…“).
fn is_quote(c: char) -> bool {
    matches!(c, '"' | '“' | '”' | '„')
}

/// Splits on whitespace, keeping `"…"` (or `“…”`) together (quotes removed); `Err` with the rest
/// of the text when a quote is not closed.
fn words(text: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_quote = false;
    let mut started = false;
    for c in text.chars() {
        match c {
            c if is_quote(c) => {
                in_quote = !in_quote;
                started = true;
            }
            c if c.is_whitespace() && !in_quote => {
                if started {
                    out.push(std::mem::take(&mut cur));
                    started = false;
                }
            }
            c => {
                cur.push(c);
                started = true;
            }
        }
    }
    if in_quote {
        return Err(cur);
    }
    if started {
        out.push(cur);
    }
    Ok(out)
}

/// The command in a note's plain text, or `None` when the note is not a command (it does not
/// begin with `/zalo`, in any case, as a word of its own).
pub fn parse(text: &str) -> Option<Command> {
    let text = text.trim_start();
    let rest = text
        .get(..PREFIX.len())
        .filter(|p| p.eq_ignore_ascii_case(PREFIX))
        .and_then(|_| text.get(PREFIX.len()..))?;
    if rest.chars().next().is_some_and(|c| !c.is_whitespace()) {
        return None;
    }
    let mut split = rest.trim_start().splitn(2, char::is_whitespace);
    let word = split.next().unwrap_or("");
    let tail = split.next().unwrap_or("");
    if word.is_empty() {
        return Some(Command::Help);
    }
    let Some(verb) = Verb::from_word(word) else {
        return Some(Command::Unknown(word.to_string()));
    };
    match verb {
        Verb::Help => Some(Command::Help),
        Verb::AskInfo => Some(Command::AskInfo),
        Verb::Template => {
            let first = tail.split_whitespace().next().unwrap_or_default();
            let bad = |argument| {
                Some(Command::BadArgument {
                    verb,
                    name: first.to_string(),
                    argument,
                })
            };
            let words = match words(tail) {
                Ok(w) => w,
                Err(argument) => return bad(argument),
            };
            let mut it = words.into_iter();
            let name = it.next().unwrap_or_default();
            let mut args = Vec::new();
            for w in it {
                match w.split_once('=') {
                    Some((k, v)) if !k.is_empty() => args.push((k.to_string(), v.to_string())),
                    _ => return bad(w),
                }
            }
            Some(Command::Template { name, args })
        }
        Verb::Tag | Verb::Untag => match words(tail) {
            Ok(w) => Some(Command::Tag {
                tag: w.join(" "),
                add: verb == Verb::Tag,
            }),
            Err(argument) => Some(Command::BadArgument {
                verb,
                name: String::new(),
                argument,
            }),
        },
    }
}

/// `[commands]`: whether agents' command notes run, and the answers per language.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CommandRules {
    /// Run `/zalo` notes (when false they stay plain private notes).
    #[serde(default = "yes")]
    pub enabled: bool,
    /// The answers per language; languages and keys missing here come from the built-in rules.
    #[serde(default)]
    pub texts: BTreeMap<String, CommandTexts>,
}

fn yes() -> bool {
    true
}

impl Default for CommandRules {
    fn default() -> Self {
        CommandRules {
            enabled: true,
            texts: BTreeMap::new(),
        }
    }
}

/// The answers to commands in one language (`[commands.texts.<language>]`).
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CommandTexts {
    /// `/zalo help`: `{commands}`, one usage line each.
    pub help: Option<String>,
    /// An unknown command: `{command}`, `{help}`.
    pub unknown: Option<String>,
    /// An argument not `key=value`: `{argument}`, `{usage}`.
    pub bad_argument: Option<String>,
    /// No such template: `{name}`, `{templates}` (the list, or `no_templates`).
    pub template_unknown: Option<String>,
    /// Parameters without a value: `{name}`, `{params}`, `{usage}`.
    pub template_missing: Option<String>,
    /// Arguments the template does not take: `{name}`, `{params}`, `{usage}`.
    pub template_unexpected: Option<String>,
    /// An argument typed more than once: `{name}`, `{params}`, `{usage}`.
    pub template_repeated: Option<String>,
    /// Parameters read from the customer's Freshchat user, who has no value for them:
    /// `{name}`, `{params}`, `{properties}`.
    pub template_property_empty: Option<String>,
    /// Zalo refused the template's id (-201 "template_id is invalid!"): `{name}`, `{template_id}`.
    pub template_id_refused: Option<String>,
    /// Zalo refused one parameter (-201 "template_data.<key> is invalid!"): `{name}`, `{param}`.
    pub template_param_refused: Option<String>,
    /// `/zalo template` without a name: `{usage}`, `{templates}`.
    pub template_no_name: Option<String>,
    /// Sent: `{name}`, `{text}` (what the customer reads).
    pub template_sent: Option<String>,
    /// Zalo refused it: `{name}`, `{reason}` (the Zalo error note).
    pub template_failed: Option<String>,
    /// The templates one can send: `{templates}`.
    pub templates_list: Option<String>,
    /// There are none in the rules.
    pub no_templates: Option<String>,
    /// Added to the note of a reply Zalo refused because the 7-day window closed:
    /// `{templates}`, `{usage}`.
    pub window_closed_templates: Option<String>,
    /// One usage line per command, keyed by its word.
    #[serde(default)]
    pub usage: BTreeMap<String, String>,
}

/// One answer text, looked up by `Rules::command_text` ([`crate::command_plan`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommandText {
    /// [`CommandTexts::help`].
    Help,
    /// [`CommandTexts::unknown`].
    Unknown,
    /// [`CommandTexts::bad_argument`].
    BadArgument,
    /// [`CommandTexts::template_unknown`].
    TemplateUnknown,
    /// [`CommandTexts::template_missing`].
    TemplateMissing,
    /// [`CommandTexts::template_unexpected`].
    TemplateUnexpected,
    /// [`CommandTexts::template_repeated`].
    TemplateRepeated,
    /// [`CommandTexts::template_property_empty`].
    TemplatePropertyEmpty,
    /// [`CommandTexts::template_id_refused`].
    TemplateIdRefused,
    /// [`CommandTexts::template_param_refused`].
    TemplateParamRefused,
    /// [`CommandTexts::template_no_name`].
    TemplateNoName,
    /// [`CommandTexts::template_sent`].
    TemplateSent,
    /// [`CommandTexts::template_failed`].
    TemplateFailed,
    /// [`CommandTexts::templates_list`].
    TemplatesList,
    /// [`CommandTexts::no_templates`].
    NoTemplates,
    /// [`CommandTexts::window_closed_templates`].
    WindowClosedTemplates,
}

impl CommandText {
    /// Every answer text.
    pub const ALL: [CommandText; 16] = [
        CommandText::Help,
        CommandText::Unknown,
        CommandText::BadArgument,
        CommandText::TemplateUnknown,
        CommandText::TemplateMissing,
        CommandText::TemplateUnexpected,
        CommandText::TemplateRepeated,
        CommandText::TemplatePropertyEmpty,
        CommandText::TemplateIdRefused,
        CommandText::TemplateParamRefused,
        CommandText::TemplateNoName,
        CommandText::TemplateSent,
        CommandText::TemplateFailed,
        CommandText::TemplatesList,
        CommandText::NoTemplates,
        CommandText::WindowClosedTemplates,
    ];

    pub(crate) fn of(self, t: &CommandTexts) -> Option<&String> {
        use CommandText as C;
        match self {
            C::Help => t.help.as_ref(),
            C::Unknown => t.unknown.as_ref(),
            C::BadArgument => t.bad_argument.as_ref(),
            C::TemplateUnknown => t.template_unknown.as_ref(),
            C::TemplateMissing => t.template_missing.as_ref(),
            C::TemplateUnexpected => t.template_unexpected.as_ref(),
            C::TemplateRepeated => t.template_repeated.as_ref(),
            C::TemplatePropertyEmpty => t.template_property_empty.as_ref(),
            C::TemplateIdRefused => t.template_id_refused.as_ref(),
            C::TemplateParamRefused => t.template_param_refused.as_ref(),
            C::TemplateNoName => t.template_no_name.as_ref(),
            C::TemplateSent => t.template_sent.as_ref(),
            C::TemplateFailed => t.template_failed.as_ref(),
            C::TemplatesList => t.templates_list.as_ref(),
            C::NoTemplates => t.no_templates.as_ref(),
            C::WindowClosedTemplates => t.window_closed_templates.as_ref(),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn tag_commands_take_the_rest_of_the_note_as_the_tag() {
        let tag = |t: &str, add| Some(Command::Tag { tag: t.into(), add });
        assert_eq!(parse("/zalo tag vip"), tag("vip", true));
        assert_eq!(parse("/zalo UNTAG khách sỉ"), tag("khách sỉ", false));
        assert_eq!(parse("/zalo tag \"hà nội\""), tag("hà nội", true));
        assert_eq!(parse("/zalo tag"), tag("", true));
        assert!(matches!(
            parse("/zalo tag \"open"),
            Some(Command::BadArgument {
                verb: Verb::Tag,
                ..
            })
        ));
    }

    #[test]
    fn parses_commands_and_leaves_other_notes_alone() {
        assert_eq!(parse("/zalo help"), Some(Command::Help));
        assert_eq!(parse("  /zalo"), Some(Command::Help));
        assert_eq!(parse("/zalo HELP"), Some(Command::Help));
        assert_eq!(parse("/Zalo HELP"), Some(Command::Help));
        assert_eq!(parse("/ZALO"), Some(Command::Help));
        assert_eq!(parse("/Zalofoo"), None);
        assert_eq!(parse("/zal"), None);
        assert_eq!(parse("/zalofoo"), None);
        assert_eq!(parse("please /zalo help"), None);
        assert_eq!(parse("an ordinary note"), None);
        assert_eq!(
            parse("/zalo frobnicate x"),
            Some(Command::Unknown("frobnicate".into()))
        );
        assert_eq!(
            parse("/zalo template order_update order=DH123 note=\"giao trước 5 giờ\""),
            Some(Command::Template {
                name: "order_update".into(),
                args: vec![
                    ("order".into(), "DH123".into()),
                    ("note".into(), "giao trước 5 giờ".into())
                ]
            })
        );
        assert_eq!(
            parse("/zalo template"),
            Some(Command::Template {
                name: String::new(),
                args: vec![]
            })
        );
        assert_eq!(
            parse("/zalo template t DH123"),
            Some(Command::BadArgument {
                verb: Verb::Template,
                name: "t".into(),
                argument: "DH123".into()
            })
        );
        // Typographic quotes, as editors and phones type them, hold a value like straight ones.
        assert_eq!(
            parse("/zalo template t order=“X12 A” note=„b“"),
            Some(Command::Template {
                name: "t".into(),
                args: vec![
                    ("order".into(), "X12 A".into()),
                    ("note".into(), "b".into())
                ]
            })
        );
        assert!(matches!(
            parse("/zalo template t a=\"open"),
            Some(Command::BadArgument { .. })
        ));
    }
}
