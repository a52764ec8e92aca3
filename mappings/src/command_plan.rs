//! Answering `/zalo` commands ([`crate::commands`] parses them): the answers' wording in the
//! agents' language, the help, and the plan of each command (an answer note, or a step that acts).
//! Pure, like all planning; it never fails.

use std::collections::BTreeMap;

use crate::commands::{Command, CommandText, Verb};
use crate::plan::{
    AskContactInfo, OutPart, Plan, PostToFreshchat, SendTemplate, Step, TagCustomer, TemplateValue,
    Visibility,
};
use crate::rules::{Rules, RulesError};
use crate::template::fill;
use crate::zbs::{ParamSource, ZbsTemplate};

impl Rules {
    /// An answer text in the agents' language (the file's, else the built-in one).
    pub fn command_text(&self, which: CommandText) -> &str {
        let b = crate::agent_text::builtin();
        let lang = self.agents.language.as_str();
        let own = &self.commands.texts;
        let vi = crate::agents::default_agent_language();
        [
            own.get(lang),
            b.commands.texts.get(lang),
            b.commands.texts.get(&vi),
        ]
        .into_iter()
        .flatten()
        .find_map(|t| which.of(t))
        .map(String::as_str)
        .unwrap_or("")
    }

    /// A command's usage line in the agents' language.
    pub fn command_usage(&self, verb: Verb) -> &str {
        let b = crate::agent_text::builtin();
        let lang = self.agents.language.as_str();
        let vi = crate::agents::default_agent_language();
        [
            self.commands.texts.get(lang),
            b.commands.texts.get(lang),
            b.commands.texts.get(&vi),
        ]
        .into_iter()
        .flatten()
        .find_map(|t| t.usage.get(verb.word()))
        .map(String::as_str)
        .unwrap_or(verb.word())
    }

    /// Whether a command is switched on in these rules (tag commands and ask-info have their own
    /// switches; the others are on whenever commands are).
    pub fn command_on(&self, verb: Verb) -> bool {
        match verb {
            Verb::Help | Verb::Template => true,
            Verb::Tag | Verb::Untag => self.tags.agent_commands,
            Verb::AskInfo => self.contact_info.ask_command,
        }
    }

    /// The help note: the usage line of every command that is switched on.
    pub fn command_help(&self) -> String {
        let lines: Vec<&str> = Verb::ALL
            .iter()
            .filter(|v| self.command_on(**v))
            .map(|v| self.command_usage(*v))
            .collect();
        fill(
            self.command_text(CommandText::Help),
            &[("commands", &lines.join("\n"))],
        )
    }

    /// The templates agents can send, as one line ("order_update (/zalo template order_update
    /// order=…), …"), or the "none" text.
    pub fn templates_line(&self) -> String {
        if self.templates.is_empty() {
            return self.command_text(CommandText::NoTemplates).to_owned();
        }
        let list: Vec<String> = self.templates.iter().map(ZbsTemplate::usage).collect();
        fill(
            self.command_text(CommandText::TemplatesList),
            &[("templates", &list.join("; "))],
        )
    }

    /// What to add to the note of a reply refused because the window closed: the templates
    /// that can still reach the customer; `None` when the rules list none, or when commands are
    /// off (agents could not send them).
    pub fn window_closed_templates(&self) -> Option<String> {
        if self.templates.is_empty() || !self.commands.enabled {
            return None;
        }
        let list: Vec<String> = self.templates.iter().map(ZbsTemplate::usage).collect();
        Some(fill(
            self.command_text(CommandText::WindowClosedTemplates),
            &[
                ("templates", &list.join("; ")),
                ("usage", self.command_usage(Verb::Template)),
            ],
        ))
    }
}

/// Every command has a usage line and every answer a text in the agents' language.
pub(crate) fn validate(rules: &Rules) -> Result<(), RulesError> {
    let lang = &rules.agents.language;
    for v in Verb::ALL {
        if rules.command_usage(v) == v.word() {
            return Err(RulesError::Invalid(format!(
                "the command /zalo {} has no usage line; add it under [commands.texts.{lang}.usage]",
                v.word()
            )));
        }
    }
    Ok(())
}

/// What the executor needs to answer: where the note was typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandContext<'a> {
    /// The Zalo user of the conversation.
    pub zalo_user_id: &'a str,
    /// The Freshchat conversation the note was typed in.
    pub conversation_id: &'a str,
    /// The note's Freshchat message id.
    pub message_id: &'a str,
}

fn answer(user: &str, text: String) -> Plan {
    Plan::steps(vec![Step::PostToFreshchat(PostToFreshchat {
        zalo_user_id: user.to_string(),
        zalo_msg_id: None,
        visibility: Visibility::PrivateNote,
        parts: vec![OutPart::Text(text)],
    })])
}

/// The plan for a command: an answer note, or the template send (whose step answers itself).
pub fn plan_command(command: &Command, cx: &CommandContext<'_>, rules: &Rules) -> Plan {
    use CommandText as C;
    let user = cx.zalo_user_id;
    match command {
        Command::Help => answer(user, rules.command_help()),
        Command::Unknown(word) => answer(
            user,
            fill(
                rules.command_text(C::Unknown),
                &[("command", word), ("help", &rules.command_help())],
            ),
        ),
        Command::BadArgument {
            verb,
            name,
            argument,
        } => {
            // A known template's own usage says which arguments it takes.
            let own = rules
                .templates
                .iter()
                .find(|t| *verb == Verb::Template && t.name.eq_ignore_ascii_case(name))
                .map(ZbsTemplate::usage);
            let usage = own.as_deref().unwrap_or(rules.command_usage(*verb));
            answer(
                user,
                fill(
                    rules.command_text(C::BadArgument),
                    &[("argument", argument), ("usage", usage)],
                ),
            )
        }
        Command::Template { name, args } => plan_template(name, args, cx, rules),
        Command::AskInfo => {
            let agents = rules.contact_info_texts(&rules.agents.language);
            if !rules.contact_info.ask_command {
                return answer(user, agents.ask_off_note);
            }
            let customer = rules.contact_info_texts(&rules.freshchat_to_zalo.language);
            Plan::steps(vec![Step::AskContactInfo(AskContactInfo {
                zalo_user_id: user.to_string(),
                conversation_id: cx.conversation_id.to_string(),
                freshchat_message_id: cx.message_id.to_string(),
                title: customer.title,
                subtitle: customer.subtitle,
                image_url: customer.image_url,
                asked_note: agents.asked_note,
                failed_note: agents.ask_failed_note,
            })])
        }
        Command::Tag { tag, add } => {
            let verb = if *add { Verb::Tag } else { Verb::Untag };
            if !rules.tags.agent_commands {
                answer(user, rules.tag_texts(&rules.agents.language).commands_off)
            } else if tag.trim().is_empty() {
                // No tag typed: how to use it is the whole answer.
                answer(user, rules.command_usage(verb).to_string())
            } else {
                Plan::steps(vec![Step::TagCustomer(TagCustomer {
                    zalo_user_id: user.to_string(),
                    conversation_id: cx.conversation_id.to_string(),
                    tag: tag.trim().to_string(),
                    add: *add,
                })])
            }
        }
    }
}

fn plan_template(
    name: &str,
    args: &[(String, String)],
    cx: &CommandContext<'_>,
    rules: &Rules,
) -> Plan {
    use CommandText as C;
    let user = cx.zalo_user_id;
    if name.is_empty() {
        return answer(
            user,
            fill(
                rules.command_text(C::TemplateNoName),
                &[
                    ("usage", rules.command_usage(Verb::Template)),
                    ("templates", &rules.templates_line()),
                ],
            ),
        );
    }
    let Some(t) = rules
        .templates
        .iter()
        .find(|t| t.name.eq_ignore_ascii_case(name))
    else {
        return answer(
            user,
            fill(
                rules.command_text(C::TemplateUnknown),
                &[("name", name), ("templates", &rules.templates_line())],
            ),
        );
    };
    let takes = t.arguments();
    let unexpected: Vec<&str> = args
        .iter()
        .map(|(k, _)| k.as_str())
        .filter(|k| !takes.contains(k))
        .collect();
    if !unexpected.is_empty() {
        return answer(
            user,
            fill(
                rules.command_text(C::TemplateUnexpected),
                &[
                    ("name", &t.name),
                    ("params", &unexpected.join(", ")),
                    ("usage", &t.usage()),
                ],
            ),
        );
    }
    // The same argument twice: which value was meant is a guess, and a sent template cannot be
    // taken back.
    let mut repeated: Vec<&str> = args
        .iter()
        .enumerate()
        .filter(|(i, (k, _))| args[..*i].iter().any(|(seen, _)| seen == k))
        .map(|(_, (k, _))| k.as_str())
        .collect();
    repeated.dedup();
    if !repeated.is_empty() {
        return answer(
            user,
            fill(
                rules.command_text(C::TemplateRepeated),
                &[
                    ("name", &t.name),
                    ("params", &repeated.join(", ")),
                    ("usage", &t.usage()),
                ],
            ),
        );
    }
    let mut values = BTreeMap::new();
    let mut missing = Vec::new();
    for (key, source) in &t.params {
        let value = match source {
            ParamSource::Value(v) => TemplateValue::Text(v.clone()),
            ParamSource::UserProperty(p) => TemplateValue::UserProperty(p.clone()),
            ParamSource::Argument(a) => match args.iter().find(|(k, _)| k == a) {
                Some((_, v)) if !v.trim().is_empty() => TemplateValue::Text(v.clone()),
                _ => {
                    missing.push(a.as_str());
                    continue;
                }
            },
        };
        values.insert(key.clone(), value);
    }
    if !missing.is_empty() {
        return answer(
            user,
            fill(
                rules.command_text(C::TemplateMissing),
                &[
                    ("name", &t.name),
                    ("params", &missing.join(", ")),
                    ("usage", &t.usage()),
                ],
            ),
        );
    }
    let vars = [("name", t.name.as_str())];
    Plan::steps(vec![Step::SendTemplate(SendTemplate {
        zalo_user_id: user.to_string(),
        conversation_id: cx.conversation_id.to_string(),
        freshchat_message_id: cx.message_id.to_string(),
        name: t.name.clone(),
        template_id: t.template_id.clone(),
        values,
        text: t.text.clone(),
        sent_note: fill(rules.command_text(C::TemplateSent), &vars),
        missing_note: fill(rules.command_text(C::TemplatePropertyEmpty), &vars),
        failed_note: fill(rules.command_text(C::TemplateFailed), &vars),
        id_refused_note: fill(
            rules.command_text(C::TemplateIdRefused),
            &[("name", &t.name), ("template_id", &t.template_id)],
        ),
        param_refused_note: fill(rules.command_text(C::TemplateParamRefused), &vars),
    })])
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn every_command_has_help_in_both_languages() {
        let vi = Rules::default();
        let en = vi.clone().with_agent_language("en").unwrap();
        for v in Verb::ALL {
            assert_ne!(vi.command_usage(v), v.word());
            assert_ne!(vi.command_usage(v), en.command_usage(v), "{v:?}");
        }
        for t in CommandText::ALL {
            assert!(!vi.command_text(t).is_empty(), "{t:?}");
            assert_ne!(vi.command_text(t), en.command_text(t), "{t:?}");
        }
        assert!(vi.command_help().contains("/zalo template"));
    }
}
