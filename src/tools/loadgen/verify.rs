//! Checking: which messages became visible when (the flow modes' watcher), and whether every
//! conversation holds each message exactly once and in order, both ways, read from the
//! simulators' own records. A failed check is an error naming the conversations, what is missing,
//! what is doubled and where the order first differs.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::bail;
use zfsync_freshchat::{ActorType, MessagePart};

use super::shared::{is_image, Shared};
use super::{epoch_ms, lock, user_id};
use crate::tools::sandbox::Env;

/// Parses `lg <u> <tag>` (or any `<prefix> <u> <tag>`); returns the tag when `u` matches.
pub fn marker_with<'a>(prefix: &str, text: &'a str, u: usize) -> Option<&'a str> {
    let mut it = text.split_whitespace();
    (it.next()? == prefix && it.next()?.parse::<usize>().ok()? == u)
        .then_some(())
        .and(it.next())
}

/// Parses `lg <u> <tag>`; returns the tag.
pub fn marker(text: &str, u: usize) -> Option<&str> {
    marker_with("lg", text, u)
}

/// The number in a tag like `z12` for prefix `z`.
pub fn index(tag: &str, prefix: char) -> Option<usize> {
    tag.strip_prefix(prefix)?.parse().ok()
}

pub(super) fn fc_epoch(m: &zfsync_freshchat::Message) -> Option<f64> {
    let t = m.created_time.as_deref()?;
    chrono::DateTime::parse_from_rfc3339(t)
        .ok()
        .map(|d| d.timestamp_millis() as f64)
}

/// Records when each message first became visible, until all are or the task is stopped.
///
/// Freshchat: the earlier of the message's `created_time` and the moment it was seen (the
/// simulator nudges `created_time` forward to keep it unique, so under load it can run ahead).
/// Zalo: the simulator's `sent_time_ms`.
pub(super) async fn watch(s: Arc<Shared>, poll: Duration) {
    let users = s.opts.users;
    loop {
        let mut done = true;
        for u in 0..users {
            let (want, have) = {
                let t = lock(&s.z[u]);
                (t.sent.len(), t.seen_count())
            };
            if have < want {
                let now = epoch_ms();
                let msgs = s.env.fc_messages(&s.convs[u]);
                let mut t = lock(&s.z[u]);
                for m in msgs
                    .iter()
                    .filter(|m| matches!(m.actor_type, ActorType::User))
                {
                    let Some(i) = first_text(m)
                        .and_then(|x| marker(x, u))
                        .and_then(|tag| index(tag, 'z'))
                    else {
                        continue;
                    };
                    if let Some(slot) = t.seen.get_mut(i) {
                        if slot.is_none() {
                            *slot = Some(fc_epoch(m).map_or(now, |c| c.min(now)));
                        }
                    }
                }
                done &= t.seen_count() >= want;
            }
            let (want, have) = {
                let t = lock(&s.f[u]);
                (t.sent.len(), t.seen_count())
            };
            if have < want {
                let sent = s.env.zalo.sent_to(&user_id(u));
                let mut t = lock(&s.f[u]);
                for r in &sent {
                    let Some(i) = r
                        .message
                        .get("text")
                        .and_then(|x| x.as_str())
                        .and_then(|x| marker(x, u))
                        .and_then(|tag| index(tag, 'f'))
                    else {
                        continue;
                    };
                    if let Some(slot) = t.seen.get_mut(i) {
                        if slot.is_none() {
                            *slot = Some(r.sent_time_ms as f64);
                        }
                    }
                }
                done &= t.seen_count() >= want;
            }
        }
        if done {
            return;
        }
        tokio::time::sleep(poll).await;
    }
}

/// The first text part of a Freshchat message.
pub fn first_text(m: &zfsync_freshchat::Message) -> Option<&str> {
    m.message_parts.iter().find_map(|p| match p {
        MessagePart::Text { content } => Some(content.as_str()),
        _ => None,
    })
}

/// The flow modes' check: exactly once and in order, both directions, every conversation.
pub(super) fn verify(s: &Shared) -> anyhow::Result<()> {
    let mut problems = Vec::new();
    for u in 0..s.opts.users {
        let n_z = lock(&s.z[u]).sent.len();
        let n_f = lock(&s.f[u]).sent.len();
        // Zalo → Freshchat: the customer's messages, warm-up first.
        let mut want: Vec<String> = vec!["w".into()];
        want.extend((0..n_z).map(|i| {
            if is_image(&s.opts, i) {
                format!("z{i}+img")
            } else {
                format!("z{i}")
            }
        }));
        let got: Vec<String> = s
            .env
            .fc_messages(&s.convs[u])
            .iter()
            .filter(|m| matches!(m.actor_type, ActorType::User))
            .map(|m| {
                let tag = first_text(m)
                    .map(|t| marker(t, u).unwrap_or(t).to_string())
                    .unwrap_or_else(|| "<no text>".into());
                let img = m
                    .message_parts
                    .iter()
                    .any(|p| matches!(p, MessagePart::Image { .. }));
                if img {
                    format!("{tag}+img")
                } else {
                    tag
                }
            })
            .collect();
        if got != want {
            problems.push(format!(
                "user {u} Zalo → Freshchat: {}",
                describe_diff(&want, &got)
            ));
        }
        // Freshchat → Zalo: the texts, each image right after its text.
        let mut want = Vec::new();
        for i in 0..n_f {
            want.push(format!("f{i}"));
            if is_image(&s.opts, i) {
                want.push("img".into());
            }
        }
        let got: Vec<String> = s
            .env
            .zalo
            .sent_to(&user_id(u))
            .iter()
            .map(|r| match r.message.get("text").and_then(|t| t.as_str()) {
                Some(t) => marker(t, u).unwrap_or(t).to_string(),
                None => match r
                    .message
                    .pointer("/attachment/payload/elements/0/media_type")
                    .and_then(|t| t.as_str())
                {
                    Some("image") => "img".into(),
                    _ => r.message.to_string(),
                },
            })
            .collect();
        if got != want {
            problems.push(format!(
                "user {u} Freshchat → Zalo: {}",
                describe_diff(&want, &got)
            ));
        }
    }
    if problems.is_empty() {
        return Ok(());
    }
    let n = problems.len();
    problems.truncate(8);
    bail!(
        "{n} conversations did not receive every message exactly once and in order:\n  {}",
        problems.join("\n  ")
    )
}

/// What differs between the expected and the received sequence, in one line.
pub fn describe_diff(want: &[String], got: &[String]) -> String {
    let first = want
        .iter()
        .zip(got)
        .position(|(a, b)| a != b)
        .unwrap_or(want.len().min(got.len()));
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for g in got {
        *counts.entry(g.as_str()).or_default() += 1;
    }
    let doubled: Vec<&str> = counts
        .iter()
        .filter(|(_, &c)| c > 1)
        .map(|(k, _)| *k)
        .take(5)
        .collect();
    let missing: Vec<&str> = want
        .iter()
        .filter(|w| !counts.contains_key(w.as_str()))
        .map(String::as_str)
        .take(5)
        .collect();
    format!(
        "expected {} messages, got {}; first difference at #{first} (want {:?}, got {:?}); missing {missing:?}; doubled {doubled:?}",
        want.len(),
        got.len(),
        want.get(first),
        got.get(first)
    )
}

/// Each user's conversation, once all exist: found through the Freshchat user's reference id.
pub fn conversations(env: &Env, users: usize) -> Option<Vec<String>> {
    let mut by_fc_user = HashMap::new();
    for fu in env.fc_users() {
        let zalo = fu.reference_id.as_deref()?.rsplit(':').next()?.to_string();
        by_fc_user.insert(fu.id.clone(), zalo);
    }
    let mut by_zalo = HashMap::new();
    for c in env.fc_conversations() {
        if let Some(z) = c.user_id.as_deref().and_then(|id| by_fc_user.get(id)) {
            by_zalo.insert(z.clone(), c.conversation_id);
        }
    }
    (0..users)
        .map(|u| by_zalo.get(&user_id(u)).cloned())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_parse_only_their_user() {
        assert_eq!(marker("lg 3 z12", 3), Some("z12"));
        assert_eq!(marker("lg 3 z12", 4), None);
        assert_eq!(marker_with("sk", "sk 3 f1", 3), Some("f1"));
        assert_eq!(marker_with("sk", "lg 3 f1", 3), None);
        assert_eq!(index("z12", 'z'), Some(12));
        assert_eq!(index("f1", 'z'), None);
    }

    #[test]
    fn a_diff_names_the_first_difference_the_missing_and_the_doubled() {
        let want: Vec<String> = ["a", "b", "c"].map(String::from).to_vec();
        let got: Vec<String> = ["a", "a", "c"].map(String::from).to_vec();
        let d = describe_diff(&want, &got);
        assert!(d.contains("first difference at #1"), "{d}");
        assert!(d.contains(r#"missing ["b"]"#), "{d}");
        assert!(d.contains(r#"doubled ["a"]"#), "{d}");
    }
}
