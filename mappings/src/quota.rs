//! What to tell agents about Zalo's reply allowance, decided from what Zalo answered a send with
//! and what the current window already told them. Pure: the daemon keeps the window in its store.
//!
//! A window is the time between two messages of the customer: Zalo gives 8 free replies within 48 h
//! of the customer's last message (`reply`), then bills (no `quota` in the answer). Agents get at
//! most one "last free reply" note and one "billed" note per window.

use zfsync_zalo::SendQuota;

use crate::rules::Rules;
use crate::template::fill;

/// What the current window already told the agents.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QuotaWindow {
    /// The "last free reply" note was posted.
    pub low_noted: bool,
    /// The "billed" note was posted.
    pub billed_noted: bool,
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
        SendQuota::Billed if !window.billed_noted => (
            Some(r.billed_note.clone()),
            QuotaWindow {
                billed_noted: true,
                ..window
            },
        ),
        SendQuota::Reply {
            remain: Some(remain),
            total,
        } if *remain <= r.low_threshold && !window.low_noted => {
            let total = total.map(|t| t.to_string()).unwrap_or_else(|| "?".into());
            (
                Some(fill(
                    &r.last_free_reply_note,
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

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(remain: u64) -> SendQuota {
        SendQuota::Reply {
            remain: Some(remain),
            total: Some(8),
        }
    }

    #[test]
    fn nine_replies_make_one_low_note_and_one_billed_note() {
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
        assert!(notes[0].contains("1 free reply left of 8"), "{}", notes[0]);
        assert!(notes[1].contains("billed"), "{}", notes[1]);
    }

    #[test]
    fn notes_can_be_switched_off() {
        let mut rules = Rules::default();
        rules.quota.notes = false;
        let (note, _) = quota_note(&SendQuota::Billed, QuotaWindow::default(), &rules);
        assert!(note.is_none());
    }
}
