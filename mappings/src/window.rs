//! Zalo's reply window under the 2026 rules, as zfsync knows it. Since 2026-01-01 a consultation
//! reply is free and unlimited within 48 h of the customer's last interaction, billed to the OA from
//! 48 h to 7 days, and refused (-230) after 7 days. The daemon keeps the last interaction it saw and
//! passes it here with the time; the engine reads no clock.
//!
//! zfsync sees only some interactions (messages, follows, "chat now", shared info, widget consent):
//! calls, menu taps and group messages also open a window, so the window here is a lower bound: the
//! real one may be longer, never shorter.

use serde::Deserialize;

/// How long after the customer's last interaction replies are free.
pub const FREE_MS: i64 = 48 * 3600 * 1000;
/// How long after the customer's last interaction Zalo takes replies at all.
pub const OPEN_MS: i64 = 7 * 24 * 3600 * 1000;
/// The offset of the times agents read (Vietnam, UTC+7).
const DISPLAY_OFFSET_SECS: i32 = 7 * 3600;

/// Where a customer's reply window stands at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ReplyWindow {
    /// zfsync has seen no interaction of this customer.
    #[default]
    Unknown,
    /// Replies are free until `until`, then billed until `billed_until` (unix ms).
    Free {
        /// End of the free 48 h.
        until: i64,
        /// End of the 7 days.
        billed_until: i64,
    },
    /// Replies are billed to the OA (since `free_until`) until `until` (unix ms), then refused.
    Billed {
        /// End of the free 48 h.
        free_until: i64,
        /// End of the 7 days.
        until: i64,
    },
    /// Zalo refuses replies since `since` (unix ms) until the customer interacts again.
    Closed {
        /// End of the 7 days.
        since: i64,
    },
}

impl ReplyWindow {
    /// The window at `now` of a customer whose last interaction zfsync saw at `last_interaction`
    /// (all unix ms).
    pub fn at(last_interaction: Option<i64>, now: i64) -> ReplyWindow {
        let Some(last) = last_interaction else {
            return ReplyWindow::Unknown;
        };
        let (free, open) = (last.saturating_add(FREE_MS), last.saturating_add(OPEN_MS));
        if now < free {
            ReplyWindow::Free {
                until: free,
                billed_until: open,
            }
        } else if now < open {
            ReplyWindow::Billed {
                free_until: free,
                until: open,
            }
        } else {
            ReplyWindow::Closed { since: open }
        }
    }

    /// When Zalo starts refusing replies (unix ms), when known.
    pub fn closes_at(&self) -> Option<i64> {
        match *self {
            ReplyWindow::Unknown => None,
            ReplyWindow::Free { billed_until, .. } => Some(billed_until),
            ReplyWindow::Billed { until, .. } => Some(until),
            ReplyWindow::Closed { since } => Some(since),
        }
    }
}

/// A time as agents read it: "2026-03-01 14:05 (UTC+7)".
pub fn display_time(ms: i64) -> String {
    let Some(offset) = chrono::FixedOffset::east_opt(DISPLAY_OFFSET_SECS) else {
        return ms.to_string();
    };
    match chrono::DateTime::from_timestamp_millis(ms) {
        Some(t) => format!(
            "{} (UTC+7)",
            t.with_timezone(&offset).format("%Y-%m-%d %H:%M")
        ),
        None => ms.to_string(),
    }
}

/// The private notes about the reply window, in one language (`[quota.texts.<language>]`; the
/// language is the agents', `agents.language`).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct WindowTexts {
    /// The first billed reply of a window: `{date}`, when Zalo starts refusing replies.
    pub billed_note: String,
    /// A reply Zalo refused (-230) because the window closed: `{date}`, when it closed.
    pub closed_note: String,
    /// The resolve notice held back because it would be billed: `{date}`, when the free 48 h ended.
    pub resolve_held_billed_note: String,
    /// The resolve notice held back because Zalo would refuse it: `{date}`, when the window closed.
    pub resolve_held_closed_note: String,
    /// When Zalo still counts free replies, the "last free reply" note: `{remain}`, `{total}`.
    /// Added in a later release (older copies get the built-in text).
    #[serde(default)]
    pub last_free_reply_note: Option<String>,
    /// A billed reply when zfsync saw none of the customer's interactions (no date to give).
    /// Added in a later release (older copies get the built-in text).
    #[serde(default)]
    pub billed_unknown_note: Option<String>,
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const H: i64 = 3600 * 1000;

    #[test]
    fn free_then_billed_then_closed() {
        assert_eq!(ReplyWindow::at(None, 5), ReplyWindow::Unknown);
        assert_eq!(
            ReplyWindow::at(Some(0), 47 * H),
            ReplyWindow::Free {
                until: 48 * H,
                billed_until: 168 * H
            }
        );
        assert_eq!(
            ReplyWindow::at(Some(0), 48 * H),
            ReplyWindow::Billed {
                free_until: 48 * H,
                until: 168 * H
            }
        );
        assert_eq!(
            ReplyWindow::at(Some(0), 168 * H),
            ReplyWindow::Closed { since: 168 * H }
        );
        assert_eq!(ReplyWindow::at(Some(0), 50 * H).closes_at(), Some(168 * H));
    }

    #[test]
    fn times_read_in_vietnam() {
        // 2024-01-01 00:00 UTC is 07:00 in Vietnam.
        assert_eq!(display_time(1_704_067_200_000), "2024-01-01 07:00 (UTC+7)");
    }
}
