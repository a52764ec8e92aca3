//! Planning for Freshchat events (agent → Zalo).
//!
//! An agent's private note beginning with `/zalo` is a command ([`crate::commands`]): it is run and
//! answered in a private note, never sent to the customer.
//!
//! Otherwise only a `message_create` whose message is normal (`message_type: normal`, or absent as in the 2022
//! payload), is not a bot's private note (`botsPrivateNote: true`), comes from an agent or a bot, is
//! in a conversation linked to a Zalo user and was not posted by zfsync itself reaches Zalo. Private
//! notes, bot notes, system messages and customer messages are ignored with a named reason.
//!
//! A message becomes Zalo messages in the agent's order: each text part one Zalo text (agent HTML
//! made plain, links kept; over the limit a `.txt` file), each attachment one
//! [`ZaloSend::Attachment`]. Options (quick replies and buttons in `message_parts` or `reply_parts`,
//! dropdowns, carousels) become text the customer can read: the question, then numbered options one
//! per line, then a hint. Whatever Zalo cannot show is named to the agent in a private note, never
//! dropped silently; for an anonymous chat-widget visitor that includes every attachment but
//! images and files (rule `anonymous.texts.<language>.unsupported_note`). An attachment without
//! any URL asks the daemon to re-read the message first ([`Plan::reread`]).
//! `conversation_resolution` sends the resolve notice when the rules enable it, for the resolvers
//! they name (agents by default, not Freshchat's automatic `system` resolutions), and, unless they
//! allow it, only while the customer's replies are free: past the free 48 h the agents get a
//! private note saying it was not sent, and why.
//! The customer-visible wording comes from the rules, in the configured language. Planning cannot
//! fail.

use zfsync_freshchat::{
    template_types, ActorType, FilePart, Message, MessagePart, MessageType, Template, WebhookEvent,
};

use crate::agents::AgentText;
use crate::char_count;
use crate::command_plan::{plan_command, CommandContext};
use crate::commands::{self, Command};
use crate::html::plain_text;
use crate::plan::{
    AskedRating, Attachment, MediaKind, OutPart, Plan, PostToFreshchat, SendToZalo, Step,
    Visibility, ZaloSend,
};
use crate::rules::{CustomerText, Rules};
use crate::template::fill;
use crate::window::{display_time, ReplyWindow};

/// What the store knows that bears on a Freshchat event.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FreshchatKnowledge {
    /// The Zalo user behind the event's conversation.
    pub zalo_user_id: Option<String>,
    /// The message was posted by zfsync itself.
    pub own_message: bool,
    /// The message is the API's copy, re-read after a plan asked for it ([`Plan::reread_message`]):
    /// an attachment still without a URL is then named to the agent instead of re-read again.
    pub message_reread: bool,
    /// The customer's reply window now, for a resolution (whether the notice would be free).
    pub reply_window: ReplyWindow,
}

/// Plans one Freshchat event.
pub fn plan_freshchat(event: &WebhookEvent, k: &FreshchatKnowledge, rules: &Rules) -> Plan {
    match event {
        WebhookEvent::MessageCreate { message, .. } => plan_message(message, k, rules),
        WebhookEvent::ConversationResolution { resolver, .. } => {
            plan_resolution(resolver, event.conversation_id(), k, rules)
        }
        WebhookEvent::ConversationAssignment { .. } => {
            Plan::ignore("assignment stays in Freshchat")
        }
        WebhookEvent::ConversationReopen { .. } => Plan::ignore("reopening stays in Freshchat"),
        WebhookEvent::Unknown { action, .. } => Plan::ignore(format!(
            "no rule for Freshchat action {}",
            action.as_deref().unwrap_or("without a name")
        )),
    }
}

/// The resolve notice: only for the resolvers the rules name, and (unless the rules allow it) only
/// while the customer's replies are free; otherwise the agents get a private note saying why not.
fn plan_resolution(
    resolver: &ActorType,
    conversation_id: Option<&str>,
    k: &FreshchatKnowledge,
    rules: &Rules,
) -> Plan {
    let r = &rules.freshchat_to_zalo;
    if !r.send_resolve_notice {
        return Plan::ignore("resolve notice switched off in the rules");
    }
    if !r
        .resolve_notice_resolvers
        .iter()
        .any(|w| w.eq_ignore_ascii_case(resolver.as_str()))
    {
        return Plan::ignore(format!(
            "resolved by {}: the rules send the resolve notice only for {}",
            if resolver.as_str().is_empty() {
                "an unnamed resolver"
            } else {
                resolver.as_str()
            },
            r.resolve_notice_resolvers.join(", ")
        ));
    }
    let Some(user) = &k.zalo_user_id else {
        return Plan::ignore("conversation is not linked to a Zalo user");
    };
    let held = match k.reply_window {
        _ if r.resolve_notice_outside_free_window => None,
        ReplyWindow::Billed { free_until, .. } => {
            Some((rules.window_texts().resolve_held_billed_note, free_until))
        }
        ReplyWindow::Closed { since } => {
            Some((rules.window_texts().resolve_held_closed_note, since))
        }
        ReplyWindow::Free { .. } | ReplyWindow::Unknown => None,
    };
    if let Some((note, at)) = held {
        return Plan::steps(vec![Step::PostToFreshchat(PostToFreshchat {
            zalo_user_id: user.clone(),
            zalo_msg_id: None,
            visibility: Visibility::PrivateNote,
            parts: vec![OutPart::Text(fill(&note, &[("date", &display_time(at))]))],
        })]);
    }
    let mut text = r.text(CustomerText::ResolveNotice).to_owned();
    // The rating question goes with the notice (never alone: a customer who was not told the
    // conversation ended is not asked to rate it).
    let question = conversation_id
        .filter(|_| rules.csat.ask)
        .map(|c| (c, rules.csat_texts(&r.language).question))
        .filter(|(_, q)| !q.trim().is_empty());
    if let Some((_, q)) = &question {
        text = format!("{text}\n\n{q}");
    }
    let mut steps = vec![Step::SendToZalo(SendToZalo {
        zalo_user_id: user.clone(),
        freshchat_message_id: None,
        message: ZaloSend::Text(text),
    })];
    if let Some((conversation, _)) = question {
        steps.push(Step::AskedRating(AskedRating {
            zalo_user_id: user.clone(),
            conversation_id: conversation.to_string(),
        }));
    }
    Plan::steps(steps)
}

/// The `/zalo` command of an agent's own private note, if it is one (and commands are on). Never
/// a bot's note (zfsync's own answers come back as those), never a normal message.
pub fn command_of(m: &Message, rules: &Rules) -> Option<Command> {
    if !rules.commands.enabled
        || m.bots_private_note == Some(true)
        || m.effective_type() != MessageType::Private
        || m.actor_type != ActorType::Agent
    {
        return None;
    }
    let text: Vec<String> = m
        .message_parts
        .iter()
        .filter_map(|p| match p {
            MessagePart::Text { content } => Some(plain_text(content)),
            _ => None,
        })
        .collect();
    commands::parse(&text.join("\n"))
}

fn plan_message(m: &Message, k: &FreshchatKnowledge, rules: &Rules) -> Plan {
    if let Some(command) = command_of(m, rules) {
        if k.own_message {
            return Plan::ignore("posted by zfsync");
        }
        let (Some(user), Some(conv)) = (&k.zalo_user_id, m.conversation_id.as_deref()) else {
            return Plan::ignore("command in a conversation not linked to a Zalo user");
        };
        let cx = CommandContext {
            zalo_user_id: user,
            conversation_id: conv,
            message_id: &m.id,
        };
        return plan_command(&command, &cx, rules);
    }
    // A bot's note is private whatever message_type says (the 2022 payload has none).
    if m.bots_private_note == Some(true) {
        return Plan::ignore("bot private note");
    }
    match m.effective_type() {
        MessageType::Normal => {}
        MessageType::Private => return Plan::ignore("private note"),
        MessageType::System => return Plan::ignore("system message"),
        MessageType::Other(t) => return Plan::ignore(format!("message type {t}")),
    }
    match &m.actor_type {
        ActorType::Agent | ActorType::Bot => {}
        ActorType::User => return Plan::ignore("customer message"),
        ActorType::System => return Plan::ignore("system message"),
        ActorType::Other(t) => return Plan::ignore(format!("actor type {t}")),
    }
    if m.is_status_notice() {
        return Plan::ignore("system message");
    }
    if k.own_message {
        return Plan::ignore("posted by zfsync");
    }
    let Some(user) = &k.zalo_user_id else {
        return Plan::ignore("conversation is not linked to a Zalo user");
    };
    let mut r = Render::new(rules);
    for part in &m.message_parts {
        r.part(part);
    }
    for part in &m.reply_parts {
        r.part(part);
    }
    r.flush_options();
    if r.needs_reread && !k.message_reread {
        return Plan::reread();
    }
    // An anonymous chat-widget visitor can receive text, images, files and stickers only: anything
    // else is named to the agent instead of being sent.
    let mut refused = Vec::new();
    if zfsync_zalo::parse_visitor_key(user).is_some() {
        let texts = rules.anonymous_texts();
        r.sends.retain(|s| match s {
            ZaloSend::Attachment(a) if !matches!(a.kind, MediaKind::Image | MediaKind::File) => {
                refused.push(fill(
                    &texts.unsupported_note,
                    &[
                        ("kind", a.kind.label()),
                        ("name", a.name.as_deref().unwrap_or("")),
                    ],
                ));
                false
            }
            _ => true,
        });
    }
    let mut steps: Vec<Step> = r
        .sends
        .into_iter()
        .map(|message| {
            Step::SendToZalo(SendToZalo {
                zalo_user_id: user.clone(),
                freshchat_message_id: Some(m.id.clone()),
                message,
            })
        })
        .collect();
    if !r.undelivered.is_empty() {
        let note = fill(
            rules.agent_text(AgentText::UndeliveredNote),
            &[("parts", &r.undelivered.join("; "))],
        );
        steps.push(Step::PostToFreshchat(PostToFreshchat {
            zalo_user_id: user.clone(),
            zalo_msg_id: None,
            visibility: Visibility::PrivateNote,
            parts: vec![OutPart::Text(note)],
        }));
    }
    for note in refused {
        steps.push(Step::PostToFreshchat(PostToFreshchat {
            zalo_user_id: user.clone(),
            zalo_msg_id: None,
            visibility: Visibility::PrivateNote,
            parts: vec![OutPart::Text(note)],
        }));
    }
    if steps.is_empty() {
        return Plan::ignore("no part that Zalo can show");
    }
    Plan::steps(steps)
}

/// Collects the Zalo messages of one Freshchat message and what could not be shown.
struct Render<'a> {
    rules: &'a Rules,
    sends: Vec<ZaloSend>,
    /// Named for the agent's note, in order.
    undelivered: Vec<String>,
    needs_reread: bool,
    /// Option-like parts met in a row (in `message_parts`, then `reply_parts`): shown as one
    /// numbered block once another kind of part, or the end, comes.
    pending: Options,
}

/// Lines of text the customer reads for a set of options.
#[derive(Default)]
struct Options {
    lines: Vec<String>,
    numbered: usize,
}

impl Options {
    fn numbered(&mut self, rules: &Rules, label: &str) {
        self.numbered += 1;
        let line = fill(
            rules.freshchat_to_zalo.text(CustomerText::OptionLine),
            &[("number", &self.numbered.to_string()), ("label", label)],
        );
        self.lines.push(line);
    }
}

impl<'a> Render<'a> {
    fn new(rules: &'a Rules) -> Self {
        Self {
            rules,
            sends: Vec::new(),
            undelivered: Vec::new(),
            needs_reread: false,
            pending: Options::default(),
        }
    }

    fn text(&self, which: CustomerText) -> &'a str {
        self.rules.freshchat_to_zalo.text(which)
    }

    fn part(&mut self, part: &MessagePart) {
        if matches!(
            part,
            MessagePart::UrlButton { .. }
                | MessagePart::QuickReplyButton { .. }
                | MessagePart::Callback { .. }
                | MessagePart::Collection { .. }
        ) {
            let mut o = std::mem::take(&mut self.pending);
            self.option(part, &mut o);
            self.pending = o;
            return;
        }
        self.flush_options();
        match part {
            MessagePart::Text { content } => self.push_text(plain(content)),
            MessagePart::Image { url } => {
                let kind = media_kind(None, Some(url), MediaKind::Image);
                self.attachment(kind, Some(url.clone()), None, None, None, None);
            }
            MessagePart::File(f) => self.file(f),
            MessagePart::Video { url, content_type } => {
                let kind = media_kind(content_type.as_deref(), Some(url), MediaKind::Video);
                let kind = match kind {
                    MediaKind::Audio => MediaKind::Audio,
                    _ => MediaKind::Video,
                };
                self.attachment(
                    kind,
                    Some(url.clone()),
                    None,
                    None,
                    content_type.clone(),
                    None,
                );
            }
            // Handled above, as pending options.
            MessagePart::UrlButton { .. }
            | MessagePart::QuickReplyButton { .. }
            | MessagePart::Callback { .. }
            | MessagePart::Collection { .. } => {}
            MessagePart::TemplateContent(t) => self.template(t),
            MessagePart::Unknown(v) => {
                let kind = part.kind();
                if matches!(kind, "image" | "file" | "video" | "audio") {
                    // An attachment Freshchat sent without a readable URL.
                    self.needs_reread = true;
                    self.undelivered
                        .push(format!("an attachment ({kind}) Freshchat gave no link to"));
                } else if kind.is_empty() {
                    self.undelivered
                        .push(format!("a part Zalo has no equivalent for ({})", brief(v)));
                } else {
                    self.undelivered.push(format!("a “{kind}” part"));
                }
            }
        }
    }

    /// Adds one option-like part to `o`; other parts are rendered on their own.
    fn option(&mut self, part: &MessagePart, o: &mut Options) {
        match part {
            MessagePart::QuickReplyButton { label, .. } | MessagePart::Callback { label, .. } => {
                o.numbered(self.rules, &plain_text(label))
            }
            MessagePart::UrlButton { url, label, .. } => o.lines.push(fill(
                self.text(CustomerText::UrlButton),
                &[("label", &plain_text(label)), ("url", url)],
            )),
            MessagePart::Text { content } => {
                let t = plain(content);
                if !t.trim().is_empty() {
                    o.lines.push(t);
                }
            }
            MessagePart::Collection { sub_parts } => {
                for p in sub_parts {
                    self.option(p, o);
                }
            }
            other => self.part(other),
        }
    }

    fn template(&mut self, t: &Template) {
        let mut o = Options::default();
        match t.template_type.as_str() {
            template_types::CAROUSEL => {
                for section in &t.sections {
                    for p in &section.parts {
                        match p {
                            MessagePart::TemplateContent(card) => self.card(card, &mut o),
                            other => self.option(other, &mut o),
                        }
                    }
                }
                // A carousel given as one flat card.
                if o.lines.is_empty() && t.section("title").is_some() {
                    self.card(t, &mut o);
                }
            }
            template_types::CAROUSEL_CARD => self.card(t, &mut o),
            _ => {
                for section in &t.sections {
                    for p in &section.parts {
                        match p {
                            MessagePart::TemplateContent(inner) => self.template(inner),
                            other => self.option(other, &mut o),
                        }
                    }
                }
            }
        }
        if o.lines.is_empty() {
            let name = if t.template_type.is_empty() {
                "a template".to_owned()
            } else {
                format!("a “{}” template", t.template_type)
            };
            self.undelivered.push(name);
        }
        self.push_options(o);
    }

    /// One carousel card: a numbered title, its description and link buttons.
    fn card(&mut self, card: &Template, o: &mut Options) {
        let texts = |name: &str| -> String {
            card.section(name)
                .unwrap_or_default()
                .iter()
                .filter_map(|p| match p {
                    MessagePart::Text { content } => Some(plain(content)),
                    _ => None,
                })
                .filter(|t| !t.trim().is_empty())
                .collect::<Vec<_>>()
                .join(" ")
        };
        let title = texts("title");
        let description = texts("description");
        let select = card
            .section("callback")
            .unwrap_or_default()
            .iter()
            .find_map(|p| match p {
                MessagePart::Callback { label, .. }
                | MessagePart::QuickReplyButton { label, .. } => Some(plain_text(label)),
                _ => None,
            });
        let label = [title, description.clone(), select.unwrap_or_default()]
            .into_iter()
            .find(|t| !t.trim().is_empty());
        let Some(label) = label else {
            self.undelivered.push("a carousel card without text".into());
            return;
        };
        o.numbered(self.rules, &label);
        if !description.is_empty() && description != label {
            o.lines.push(description);
        }
        for p in card.section("view").unwrap_or_default() {
            if let MessagePart::UrlButton { .. } = p {
                self.option(p, o);
            }
        }
        if card
            .section("hero_image")
            .is_some_and(|parts| !parts.is_empty())
            && !self.undelivered.iter().any(|u| u == CAROUSEL_PICTURES)
        {
            self.undelivered.push(CAROUSEL_PICTURES.into());
        }
    }

    /// Shows the option-like parts met so far as one block.
    fn flush_options(&mut self) {
        let o = std::mem::take(&mut self.pending);
        self.push_options(o);
    }

    /// Options join the text before them (the question) when that fits in one Zalo message.
    fn push_options(&mut self, o: Options) {
        if o.lines.is_empty() {
            return;
        }
        let mut block = o.lines.join("\n");
        let hint = self.text(CustomerText::OptionsHint);
        if o.numbered > 0 && !hint.trim().is_empty() {
            block.push('\n');
            block.push_str(hint);
        }
        let limit = self.rules.freshchat_to_zalo.text_limit;
        if let Some(ZaloSend::Text(question)) = self.sends.last_mut() {
            if char_count(question) + 1 + char_count(&block) <= limit {
                question.push('\n');
                question.push_str(&block);
                return;
            }
        }
        self.push_text(block);
    }

    fn push_text(&mut self, text: String) {
        if text.trim().is_empty() {
            return;
        }
        let r = &self.rules.freshchat_to_zalo;
        if char_count(&text) <= r.text_limit {
            self.sends.push(ZaloSend::Text(text));
        } else {
            self.sends.push(ZaloSend::LongText {
                link_text: long_text_link(&text, self.rules),
                filename: r.long_text_filename.clone(),
                text,
            });
        }
    }

    fn file(&mut self, f: &FilePart) {
        if f.source_url().is_none() {
            self.needs_reread = true;
            let name = f.name.as_deref().unwrap_or("a file");
            self.undelivered
                .push(format!("the file “{name}” (Freshchat gave no link to it)"));
            return;
        }
        let kind = media_kind(
            f.content_type.as_deref(),
            f.name.as_deref().or(f.source_url()),
            MediaKind::File,
        );
        self.attachment(
            kind,
            f.url.clone(),
            f.download_url.clone(),
            f.name.clone(),
            f.content_type.clone(),
            f.file_size_in_bytes,
        );
    }

    fn attachment(
        &mut self,
        kind: MediaKind,
        url: Option<String>,
        download_url: Option<String>,
        name: Option<String>,
        content_type: Option<String>,
        size: Option<u64>,
    ) {
        let shown_name = name
            .clone()
            .or_else(|| {
                url.as_deref()
                    .or(download_url.as_deref())
                    .and_then(last_segment)
            })
            .unwrap_or_else(|| kind.label().to_owned());
        let template = self.text(match kind {
            MediaKind::Image | MediaKind::Gif | MediaKind::Sticker => CustomerText::ImageLink,
            MediaKind::Video => CustomerText::VideoLink,
            MediaKind::Audio => CustomerText::AudioLink,
            MediaKind::File => CustomerText::FileLink,
        });
        // `{url}` stays for the executor: it is zfsync's own link, known only once hosted.
        let link_text = fill(template, &[("name", &shown_name)]);
        self.sends.push(ZaloSend::Attachment(Attachment {
            kind,
            url,
            download_url,
            name,
            content_type,
            size,
            link_text,
        }));
    }
}

const CAROUSEL_PICTURES: &str = "the carousel's pictures";

/// Agent HTML as plain text, without the line break a closing paragraph leaves at the end (it
/// would show as an empty line on Zalo, or between a question and its options).
fn plain(content: &str) -> String {
    plain_text(content)
        .trim_end_matches(['\n', '\r'])
        .to_owned()
}

/// The kind of an attachment from its MIME type, else its file name or URL, else `default`.
fn media_kind(
    content_type: Option<&str>,
    name_or_url: Option<&str>,
    default: MediaKind,
) -> MediaKind {
    let ct = content_type.unwrap_or("").trim().to_ascii_lowercase();
    let by_type = match ct.split(';').next().unwrap_or("") {
        "image/gif" => Some(MediaKind::Gif),
        t if t.starts_with("image/") => Some(MediaKind::Image),
        t if t.starts_with("video/") => Some(MediaKind::Video),
        t if t.starts_with("audio/") => Some(MediaKind::Audio),
        _ => None,
    };
    if let Some(k) = by_type {
        return k;
    }
    let ext = name_or_url
        .map(|s| s.split(['?', '#']).next().unwrap_or(s))
        .and_then(|s| s.rsplit_once('.'))
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "gif" => MediaKind::Gif,
        "jpg" | "jpeg" | "png" | "webp" | "bmp" | "heic" => MediaKind::Image,
        "mp4" | "mov" | "webm" | "mkv" | "avi" | "3gp" | "m4v" => MediaKind::Video,
        "mp3" | "m4a" | "aac" | "ogg" | "oga" | "opus" | "wav" | "amr" => MediaKind::Audio,
        _ => default,
    }
}

/// The last path segment of a URL, as a file name.
fn last_segment(url: &str) -> Option<String> {
    let path = url.split(['?', '#']).next().unwrap_or(url);
    path.rsplit('/')
        .next()
        .filter(|s| !s.is_empty() && !s.contains(':'))
        .map(str::to_owned)
}

/// A short description of an unreadable part for the agent's note.
fn brief(v: &serde_json::Value) -> String {
    let text = v.to_string();
    let mut out: String = text.chars().take(60).collect();
    if text.chars().count() > 60 {
        out.push('…');
    }
    out
}

/// The short text sent with the link to a hosted long reply: an intro plus a preview.
fn long_text_link(text: &str, rules: &Rules) -> String {
    let r = &rules.freshchat_to_zalo;
    let mut preview: String = text.chars().take(r.long_text_preview_chars).collect();
    if char_count(text) > r.long_text_preview_chars {
        preview.push('…');
    }
    format!("{preview}\n\n{}", r.text(CustomerText::LongTextLink))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_from_type_and_name() {
        assert_eq!(
            media_kind(Some("image/gif"), None, MediaKind::File),
            MediaKind::Gif
        );
        assert_eq!(
            media_kind(Some("audio/mpeg; x=1"), None, MediaKind::Video),
            MediaKind::Audio
        );
        assert_eq!(
            media_kind(None, Some("https://x/a.MP4?sig=1"), MediaKind::File),
            MediaKind::Video
        );
        assert_eq!(
            media_kind(None, Some("bao-gia.pdf"), MediaKind::File),
            MediaKind::File
        );
        assert_eq!(
            last_segment("https://x/a/b%20c.pdf?x=1").as_deref(),
            Some("b%20c.pdf")
        );
        assert_eq!(last_segment("https://x/"), None);
    }
}
