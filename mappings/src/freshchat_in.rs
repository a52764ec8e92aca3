//! Planning for Freshchat events (agent → Zalo).
//!
//! Only `message_create` with `message_type: normal` from an agent or a bot, in a conversation linked
//! to a Zalo user, and not posted by zfsync itself, is sent to Zalo: one Zalo message per part, in
//! order. Text over the limit becomes a `.txt` file. `conversation_resolution` sends the resolve
//! notice when the rules enable it. Everything else is ignored with a reason.

use zfsync_freshchat::{ActorType, Message, MessagePart, MessageType, WebhookEvent};

use crate::char_count;
use crate::plan::{Plan, SendToZalo, Step, ZaloSend};
use crate::rules::Rules;
use crate::template::fill;

/// What the store knows that bears on a Freshchat event.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FreshchatKnowledge {
    /// The Zalo user behind the event's conversation.
    pub zalo_user_id: Option<String>,
    /// The message was posted by zfsync itself.
    pub own_message: bool,
}

/// Plans one Freshchat event.
pub fn plan_freshchat(event: &WebhookEvent, k: &FreshchatKnowledge, rules: &Rules) -> Plan {
    match event {
        WebhookEvent::MessageCreate { message, .. } => plan_message(message, k, rules),
        WebhookEvent::ConversationResolution { .. } => {
            if !rules.freshchat_to_zalo.send_resolve_notice {
                return Plan::ignore("resolve notice switched off in the rules");
            }
            let Some(user) = &k.zalo_user_id else {
                return Plan::ignore("conversation is not linked to a Zalo user");
            };
            Plan::steps(vec![Step::SendToZalo(SendToZalo {
                zalo_user_id: user.clone(),
                freshchat_message_id: None,
                message: ZaloSend::Text(rules.freshchat_to_zalo.resolve_notice.clone()),
            })])
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

fn plan_message(m: &Message, k: &FreshchatKnowledge, rules: &Rules) -> Plan {
    match &m.message_type {
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
    if k.own_message {
        return Plan::ignore("posted by zfsync");
    }
    let Some(user) = &k.zalo_user_id else {
        return Plan::ignore("conversation is not linked to a Zalo user");
    };
    let mut sends = Vec::new();
    for part in &m.message_parts {
        part_sends(part, rules, &mut sends);
    }
    if sends.is_empty() {
        return Plan::ignore("no part that Zalo can show");
    }
    Plan::steps(
        sends
            .into_iter()
            .map(|message| {
                Step::SendToZalo(SendToZalo {
                    zalo_user_id: user.clone(),
                    freshchat_message_id: Some(m.id.clone()),
                    message,
                })
            })
            .collect(),
    )
}

fn part_sends(part: &MessagePart, rules: &Rules, out: &mut Vec<ZaloSend>) {
    let r = &rules.freshchat_to_zalo;
    match part {
        MessagePart::Text { content } => {
            let text = plain_text(content);
            if text.trim().is_empty() {
                return;
            }
            if char_count(&text) <= r.text_limit {
                out.push(ZaloSend::Text(text));
            } else {
                out.push(ZaloSend::LongText {
                    link_text: long_text_link(&text, rules),
                    filename: r.long_text_filename.clone(),
                    text,
                });
            }
        }
        MessagePart::Image { url } => out.push(ZaloSend::Image {
            url: url.clone(),
            link_text: fill(&r.image_link, &[("url", url)]),
        }),
        MessagePart::File {
            name,
            url: Some(url),
            ..
        } => {
            let name = name.clone().unwrap_or_else(|| "file".into());
            out.push(ZaloSend::File {
                link_text: fill(&r.file_link, &[("name", &name), ("url", url)]),
                url: url.clone(),
                name,
            })
        }
        MessagePart::File { url: None, .. } => {}
        MessagePart::Video { url, .. } => {
            out.push(ZaloSend::Text(fill(&r.video_link, &[("url", url)])))
        }
        MessagePart::UrlButton { url, label, .. } => out.push(ZaloSend::Text(fill(
            &r.url_button,
            &[("label", label), ("url", url)],
        ))),
        MessagePart::QuickReplyButton { label, .. } => out.push(ZaloSend::Text(label.clone())),
        MessagePart::Collection { sub_parts } => {
            for p in sub_parts {
                part_sends(p, rules, out);
            }
        }
        MessagePart::TemplateContent { .. } | MessagePart::Unknown(_) => {}
    }
}

/// The short text sent with the link to a hosted long reply: an intro plus a preview.
fn long_text_link(text: &str, rules: &Rules) -> String {
    let r = &rules.freshchat_to_zalo;
    let mut preview: String = text.chars().take(r.long_text_preview_chars).collect();
    if char_count(text) > r.long_text_preview_chars {
        preview.push('…');
    }
    format!("{preview}\n\n{}", r.long_text_link)
}

/// Formatting tags Freshchat's agent editor produces; only these are stripped, so text such as
/// "x<3 and y>2" passes untouched.
const FORMATTING_TAGS: &[&str] = &[
    "a", "b", "i", "u", "s", "em", "strong", "strike", "code", "pre", "span", "p", "div", "br",
    "ul", "ol", "li",
];

/// Agent text may carry light HTML (`<b>`, `<br/>`, entities). Zalo shows plain text, so line
/// breaks are kept, formatting tags dropped and the common entities decoded.
pub fn plain_text(content: &str) -> String {
    if !content.contains('<') && !content.contains('&') {
        return content.to_string();
    }
    let mut out = String::with_capacity(content.len());
    let mut rest = content;
    while let Some(lt) = rest.find('<') {
        out.push_str(&rest[..lt]);
        let after = &rest[lt + 1..];
        let tag = after
            .find('>')
            .map(|gt| &after[..gt])
            .filter(|t| !t.contains('<'));
        let name = tag.map(|t| {
            let t = t.trim().trim_start_matches('/');
            let end = t
                .find(|c: char| !c.is_ascii_alphanumeric())
                .unwrap_or(t.len());
            t[..end].to_ascii_lowercase()
        });
        match (tag, name) {
            (Some(tag), Some(name)) if FORMATTING_TAGS.contains(&name.as_str()) => {
                let closing = tag.trim_start().starts_with('/');
                if name == "br" || (closing && matches!(name.as_str(), "p" | "div" | "li")) {
                    out.push('\n');
                }
                rest = &after[tag.len() + 1..];
            }
            _ => {
                out.push('<');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    decode_entities(&out)
}

fn decode_entities(s: &str) -> String {
    if !s.contains('&') {
        return s.to_string();
    }
    const ENTITIES: &[(&str, &str)] = &[
        ("&nbsp;", " "),
        ("&lt;", "<"),
        ("&gt;", ">"),
        ("&quot;", "\""),
        ("&#39;", "'"),
        ("&apos;", "'"),
        ("&amp;", "&"),
    ];
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let tail = &rest[amp..];
        match ENTITIES.iter().find(|(e, _)| tail.starts_with(e)) {
            Some((e, v)) => {
                out.push_str(v);
                rest = &tail[e.len()..];
            }
            None => {
                out.push('&');
                rest = &tail[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::plain_text;

    #[test]
    fn plain_text_keeps_breaks_and_emoji() {
        assert_eq!(plain_text("Xin chào 😀"), "Xin chào 😀");
        assert_eq!(
            plain_text("<b>Hi</b><br/>there &amp; you"),
            "Hi\nthere & you"
        );
        assert_eq!(plain_text("<p>a</p><p>b</p>"), "a\nb\n");
        assert_eq!(plain_text("1 < 2"), "1 < 2");
        assert_eq!(plain_text("if x<3 and y>2"), "if x<3 and y>2");
        assert_eq!(plain_text("<script>x</script>"), "<script>x</script>");
        assert_eq!(plain_text("&amp;lt; stays &lt;"), "&lt; stays <");
        assert_eq!(plain_text("a & b"), "a & b");
    }
}
