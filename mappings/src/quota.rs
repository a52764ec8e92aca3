//! What to tell agents about Zalo's reply allowance, decided from what Zalo answered a send with,
//! what the current window already told them, and the customer's last interaction zfsync saw. Pure:
//! the daemon keeps the window in its store and passes the time.
//!
//! A window is the time between two interactions of the customer. Under Zalo's 2026 rules replies
//! are free and unlimited for 48 h, billed (no `quota` in the answer) until 7 days, then refused
//! (-230). Agents get one note per window at the first billed reply, naming the date Zalo starts
//! refusing; a reply Zalo refused gets a note naming the date the window closed. When Zalo still
//! counts free replies (`remain`/`total`, before 2026), the "last free reply" note comes too.

use zfsync_zalo::SendQuota;

use crate::agents::AgentText;
use crate::rules::Rules;
use crate::template::fill;
use crate::window::{display_time, ReplyWindow, WindowTexts, OPEN_MS};

/// What the current window already told the agents, and where it began.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QuotaWindow {
    /// The "last free reply" note was posted.
    pub low_noted: bool,
    /// The "billed" note was posted.
    pub billed_noted: bool,
    /// The customer's last interaction zfsync saw (unix ms): the window's start.
    pub last_interaction: Option<i64>,
}

/// The note for the agents after a send Zalo answered with `quota`, if any, and the window as it is
/// afterwards.
pub fn quota_note(
    quota: &SendQuota,
    window: QuotaWindow,
    rules: &Rules,
) -> (Option<String>, QuotaWindow) {
    let r = &rules.quota;
    if !r.notes {
        return (None, window);
    }
    match quota {
        SendQuota::Billed if !window.billed_noted => {
            let note = match window.last_interaction {
                Some(last) => fill(
                    &rules.window_texts().billed_note,
                    &[("date", &display_time(last.saturating_add(OPEN_MS)))],
                ),
                None => rules.agent_text(AgentText::BilledUnknownNote).to_owned(),
            };
            (
                Some(note),
                QuotaWindow {
                    billed_noted: true,
                    ..window
                },
            )
        }
        SendQuota::Reply {
            remain: Some(remain),
            total,
        } if *remain <= r.low_threshold && !window.low_noted => {
            let total = total.map(|t| t.to_string()).unwrap_or_else(|| "?".into());
            (
                Some(fill(
                    rules.agent_text(AgentText::LastFreeReplyNote),
                    &[("remain", &remain.to_string()), ("total", &total)],
                )),
                QuotaWindow {
                    low_noted: true,
                    ..window
                },
            )
        }
        _ => (None, window),
    }
}

/// The note for a reply Zalo refused because the window closed (-230), naming when it closed;
/// `None` when zfsync's own window does not say it closed by `now` (then the plain error note).
pub fn closed_note(last_interaction: Option<i64>, now: i64, rules: &Rules) -> Option<String> {
    match ReplyWindow::at(last_interaction, now) {
        ReplyWindow::Closed { since } => Some(fill(
            &rules.window_texts().closed_note,
            &[("date", &display_time(since))],
        )),
        _ => None,
    }
}

impl Rules {
    /// The reply-window notes in the agents' language: this file's, else the built-in ones, else
    /// the built-in Vietnamese.
    pub fn window_texts(&self) -> WindowTexts {
        let lang = &self.agents.language;
        let builtin = crate::rules::default_quota().texts;
        self.quota
            .texts
            .get(lang)
            .or_else(|| builtin.get(lang))
            .or_else(|| builtin.get("vi"))
            .cloned()
            .unwrap_or_else(|| WindowTexts {
                billed_note: "Zalo: replies are billed to the OA until the customer writes again; after {date} Zalo refuses them.".into(),
                closed_note: "Not delivered to Zalo (-230): the customer's reply window closed on {date}.".into(),
                resolve_held_billed_note: "The resolve notice was not sent: it would be billed to the OA (free until {date}).".into(),
                resolve_held_closed_note: "The resolve notice was not sent: Zalo refuses replies since {date}.".into(),
                last_free_reply_note: None,
                billed_unknown_note: None,
            })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn reply(remain: u64) -> SendQuota {
        SendQuota::Reply {
            remain: Some(remain),
            total: Some(8),
        }
    }

    #[test]
    fn nine_counted_replies_make_one_low_note_and_one_billed_note() {
        let rules = Rules::default();
        let mut w = QuotaWindow::default();
        let mut notes = Vec::new();
        let answers: Vec<SendQuota> = (0..8)
            .map(|i| reply(7 - i))
            .chain([SendQuota::Billed, SendQuota::Billed])
            .collect();
        for q in &answers {
            let (note, next) = quota_note(q, w, &rules);
            notes.extend(note);
            w = next;
        }
        assert_eq!(notes.len(), 2, "{notes:?}");
        assert!(
            notes[0].contains("còn 1/8 tin trả lời miễn phí"),
            "{}",
            notes[0]
        );
        assert!(notes[1].contains("bị tính phí"), "{}", notes[1]);
    }

    #[test]
    fn uncounted_free_replies_say_nothing_and_the_first_billed_one_names_the_date() {
        let rules = Rules::default().with_agent_language("en").unwrap();
        let free = SendQuota::Reply {
            remain: None,
            total: None,
        };
        let w = QuotaWindow {
            last_interaction: Some(1_704_067_200_000),
            ..QuotaWindow::default()
        };
        assert_eq!(quota_note(&free, w, &rules), (None, w));
        let (note, w) = quota_note(&SendQuota::Billed, w, &rules);
        let note = note.unwrap();
        assert!(
            note.contains("billed to the OA until the customer writes again"),
            "{note}"
        );
        // 7 days after 2024-01-01 07:00 in Vietnam.
        assert!(note.contains("2024-01-08 07:00 (UTC+7)"), "{note}");
        assert_eq!(quota_note(&SendQuota::Billed, w, &rules).0, None);
    }

    #[test]
    fn a_refusal_names_when_the_window_closed() {
        let rules = Rules::default().with_agent_language("en").unwrap();
        let day = 24 * 3600 * 1000;
        let note = closed_note(Some(1_704_067_200_000), 1_704_067_200_000 + 8 * day, &rules);
        assert!(note.unwrap().contains("closed on 2024-01-08 07:00 (UTC+7)"));
        assert_eq!(closed_note(Some(0), 3 * day, &rules), None);
        assert_eq!(closed_note(None, 3 * day, &rules), None);
    }

    #[test]
    fn notes_can_be_switched_off() {
        let mut rules = Rules::default();
        rules.quota.notes = false;
        let (note, _) = quota_note(&SendQuota::Billed, QuotaWindow::default(), &rules);
        assert!(note.is_none());
    }

    #[test]
    fn notes_follow_the_language() {
        let vi = Rules::default().window_texts();
        let en = Rules::default()
            .with_agent_language("en")
            .unwrap()
            .window_texts();
        assert_ne!(vi.billed_note, en.billed_note);
        assert!(en.billed_note.contains("{date}"), "{}", en.billed_note);
        assert!(vi.closed_note.contains("{date}"), "{}", vi.closed_note);
    }
}
