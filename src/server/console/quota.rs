//! What Zalo replies cost, in the console: each customer's reply window and the allowance of the last
//! reply (on Activity, beside the messages), and the replies Zalo billed (on the Overview).
//!
//! The window follows Zalo's 2026 rules (free for 48 h after the customer's last interaction, billed
//! until 7 days, then refused) from the interactions zfsync saw, so it is a lower bound: menu taps,
//! article comments and chatbot interactions also count and never reach zfsync. The allowance is
//! what Zalo's own answer to zfsync's last send said (`data.quota` of `message/cs`); Zalo stopped counting free replies in
//! 2026, so "left" shows only when an answer still carried a count.

use maud::{html, Markup};
use zfsync_mappings::ReplyWindow;

use super::{ago, utc};
use crate::store::QuotaState;
use crate::store::{now_ms, StoreError};

/// Customers listed on Activity.
pub(super) const QUOTA_ROWS: usize = 50;
/// One hour in milliseconds (for "in N h").
const HOUR_MS: i64 = 3_600_000;

/// An allowance in words an agent understands.
fn allowance(q: &QuotaState) -> &'static str {
    match q.allowance.as_deref() {
        None => "no reply yet",
        Some("reply") => "free reply (within 48 h)",
        Some("welcome_msg") => "welcome message",
        Some("sub_quota") => "OA package",
        Some("purchase_quota") => "purchased messages",
        Some("reward_quota") => "reward messages",
        Some("billed") => "billed to the OA",
        Some(_) => "other allowance",
    }
}

/// "3 of 8" when Zalo counted; "—" when it did not (the 2026 rules).
fn left(q: &QuotaState) -> String {
    match (q.remaining, q.total) {
        (Some(r), Some(t)) => format!("{r} of {t}"),
        (Some(r), None) => r.to_string(),
        _ => "—".into(),
    }
}

/// The allowance's class: `bad` when billed or none left, `warn` at the last one.
fn class(q: &QuotaState) -> &'static str {
    match (q.allowance.as_deref(), q.remaining) {
        (Some("billed"), _) | (_, Some(0)) => "bad",
        (_, Some(1)) => "warn",
        _ => "ok",
    }
}

/// "in 5 h" or "3 h ago".
fn relative(at: i64, now: i64) -> String {
    if at > now {
        format!("in {} h", (at - now) / HOUR_MS)
    } else {
        format!("{} h ago", (now - at) / HOUR_MS)
    }
}

/// The customer's window: free until, billed until, or closed since; its class and its state name.
fn window(q: &QuotaState, now: i64) -> (Markup, &'static str, &'static str) {
    match ReplyWindow::at(q.window_start, now) {
        ReplyWindow::Unknown => (
            html! { span class="muted" { "unknown: no interaction seen" } },
            "",
            "unknown",
        ),
        ReplyWindow::Free {
            until,
            billed_until,
        } => (
            html! {
                "free until " (utc(until)) br;
                span class="muted" { (relative(until, now)) "; billed until " (utc(billed_until)) }
            },
            "ok",
            "free",
        ),
        ReplyWindow::Billed { until, .. } => (
            html! {
                "billed until " (utc(until)) br;
                span class="muted" { (relative(until, now)) "; then Zalo refuses replies" }
            },
            "warn",
            "billed",
        ),
        ReplyWindow::Closed { since } => (
            html! {
                "closed since " (utc(since)) br;
                span class="muted" { "Zalo refuses replies until the customer writes" }
            },
            "bad",
            "closed",
        ),
    }
}

/// The reply-window table of the Activity page.
pub(super) fn quota_section(
    list: &Result<Vec<QuotaState>, StoreError>,
    customer: Option<&str>,
) -> Markup {
    let now = now_ms();
    html! {
        section class="mt15" aria-labelledby="quota-h" {
            h2 id="quota-h" { "Reply window per customer" }
            p class="muted" {
                "Zalo's rules since 2026: replies are free for 48 h after the customer's last interaction, "
                "billed to the OA until 7 days, then refused until the customer writes again. "
                "The window is a lower bound: it counts only the interactions zfsync sees (messages, "
                "follows, \"chat now\", shared info, the customer's own calls and group messages); "
                "menu taps, article comments and chatbot interactions also open a window, so Zalo may "
                "accept replies for longer. \"Last reply paid by\" is what Zalo said when zfsync last "
                "replied."
            }
            @match list {
                Ok(l) => div class="scroll" {
                    table id="quota" {
                        caption class="skip" { "Reply window per customer" }
                        thead { tr {
                            th scope="col" { "Customer" } th scope="col" { "Reply window (at least)" }
                            th scope="col" { "Last reply paid by" } th scope="col" { "Left" } th scope="col" { "Last reply" }
                        } }
                        tbody {
                            @if l.is_empty() {
                                tr { td colspan="5" class="muted" id="quota-none" {
                                    @match customer {
                                        Some(c) => { "No customer matches “" (c) "”." }
                                        None => "No customer interaction or reply seen yet.",
                                    }
                                } }
                            }
                            @for q in l {
                                @let (w, w_class, w_state) = window(q, now);
                                tr data-zalo-user=(q.zalo_user_id) data-window=(w_state) {
                                    td class="customer" { (q.display_name.clone().unwrap_or_else(|| "(unknown)".into())) br; span class="muted id" { (q.zalo_user_id) } }
                                    td class=(w_class) { (w) }
                                    td class=(class(q)) { (allowance(q)) }
                                    td class=(class(q)) { (left(q)) }
                                    td { (ago(q.updated_at)) }
                                }
                            }
                        }
                    }
                },
                Err(e) => p class="bad" { "Cannot read the reply windows: " (e.to_string()) },
            }
        }
    }
}

/// The Overview's card: replies billed in the last 24 h and customers whose replies are billed now.
pub(super) fn billed_card(
    billed_24h: &Result<i64, StoreError>,
    in_billed: &Result<i64, StoreError>,
    activity: &str,
) -> Markup {
    let figure = |r: &Result<i64, StoreError>| match r {
        Ok(n) => html! { (n) },
        Err(e) => html! { span class="bad" { "unknown: " (e.to_string()) } },
    };
    html! {
        section class="card" aria-labelledby="quota-card-h" {
            h2 id="quota-card-h" { "Zalo replies" }
            dl {
                dt { "Billed to the OA, last 24 h" }
                dd id="billed-24h" class=(if matches!(billed_24h, Ok(n) if *n > 0) { "warn" } else { "" }) { (figure(billed_24h)) }
                dt { "Customers whose replies are billed now (free 48 h over; at least)" }
                dd id="in-billed-window" { a href=(format!("{activity}#quota-h")) { (figure(in_billed)) } }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(allowance: &str, remaining: Option<i64>, window_start: Option<i64>) -> QuotaState {
        QuotaState {
            zalo_user_id: "42".into(),
            display_name: Some("Minh Khánh".into()),
            allowance: Some(allowance.into()),
            remaining,
            total: remaining.map(|_| 8),
            expires: None,
            window_start,
            updated_at: Some(0),
        }
    }

    #[test]
    fn counts_show_only_when_zalo_gave_them() {
        assert_eq!(class(&state("reply", Some(3), None)), "ok");
        assert_eq!(class(&state("reply", Some(1), None)), "warn");
        assert_eq!(class(&state("billed", None, None)), "bad");
        assert_eq!(left(&state("reply", Some(3), None)), "3 of 8");
        assert_eq!(left(&state("reply", None, None)), "—");
    }

    #[test]
    fn the_window_is_free_then_billed_then_closed() {
        let q = state("reply", None, Some(0));
        let (html, _, s) = window(&q, HOUR_MS);
        let html = html.into_string();
        assert_eq!(s, "free");
        assert!(
            html.contains("free until 1970-01-03 00:00:00 UTC"),
            "{html}"
        );
        assert!(html.contains("in 47 h"), "{html}");
        assert!(
            html.contains("billed until 1970-01-08 00:00:00 UTC"),
            "{html}"
        );
        assert_eq!(window(&q, 50 * HOUR_MS).2, "billed");
        assert_eq!(window(&q, 200 * HOUR_MS).2, "closed");
        assert_eq!(window(&state("reply", None, None), 0).2, "unknown");
    }
}
