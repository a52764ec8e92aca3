//! What Zalo replies cost, in the console: the reply allowance per customer (on Activity, beside
//! the messages) and the replies Zalo billed (on the Overview). The figures are what Zalo's own
//! answers to zfsync's sends said (`data.quota` of `message/cs`); a customer zfsync has not
//! replied to yet has no row.

use maud::{html, Markup};

use super::{ago, utc};
use crate::store::quota::QuotaState;
use crate::store::{now_ms, StoreError};

/// How long after a customer's last message Zalo lets the OA reply for free.
const REPLY_WINDOW_MS: i64 = 48 * 3600 * 1000;
/// Customers listed on Activity.
pub(super) const QUOTA_ROWS: usize = 50;

/// An allowance in words an agent understands.
fn allowance(q: &QuotaState) -> &'static str {
    match q.allowance.as_str() {
        "reply" => "free replies (48 h after the customer writes)",
        "welcome_msg" => "welcome message",
        "sub_quota" => "OA package",
        "purchase_quota" => "purchased messages",
        "reward_quota" => "reward messages",
        "billed" => "billed to the OA",
        _ => "other allowance",
    }
}

/// "3 of 8", "unknown" when Zalo did not say.
fn left(q: &QuotaState) -> String {
    match (q.remaining, q.total) {
        (Some(r), Some(t)) => format!("{r} of {t}"),
        (Some(r), None) => r.to_string(),
        _ => "—".into(),
    }
}

/// The state's class: `bad` when billed or none left, `warn` at the last one.
fn class(q: &QuotaState) -> &'static str {
    match (q.allowance.as_str(), q.remaining) {
        ("billed", _) | (_, Some(0)) => "bad",
        (_, Some(1)) => "warn",
        _ => "ok",
    }
}

/// When the free-reply window ends, for the `reply` allowance.
fn window_end(q: &QuotaState, now: i64) -> Markup {
    match (q.allowance.as_str(), q.window_start) {
        ("reply" | "billed", Some(start)) => {
            let end = start + REPLY_WINDOW_MS;
            html! {
                (utc(end)) br;
                span class="muted" { @if end <= now { "ended" } @else { "in " ((end - now) / 3_600_000) " h" } }
            }
        }
        (_, _) => match &q.expires {
            Some(d) => html! { "package expires " (d) },
            None => html! { span class="muted" { "—" } },
        },
    }
}

/// The reply-allowance table of the Activity page.
pub(super) fn quota_section(list: &Result<Vec<QuotaState>, StoreError>) -> Markup {
    let now = now_ms();
    html! {
        section class="mt15" aria-labelledby="quota-h" {
            h2 id="quota-h" { "Reply quota per customer" }
            p class="muted" {
                "What Zalo said when zfsync last replied to each customer: which allowance paid for the "
                "reply and what is left. After the free replies a reply is billed to the OA (or refused); "
                "the next free replies start when the customer writes again."
            }
            @match list {
                Ok(l) => div class="scroll" {
                    table id="quota" {
                        caption class="skip" { "Reply quota per customer" }
                        thead { tr {
                            th scope="col" { "Customer" } th scope="col" { "Last reply paid by" }
                            th scope="col" { "Left" } th scope="col" { "Free window ends" } th scope="col" { "Last reply" }
                        } }
                        tbody {
                            @if l.is_empty() {
                                tr { td colspan="5" class="muted" { "No reply sent to Zalo yet." } }
                            }
                            @for q in l {
                                tr data-zalo-user=(q.zalo_user_id) {
                                    td class="customer" { (q.display_name.clone().unwrap_or_else(|| "(unknown)".into())) br; span class="muted id" { (q.zalo_user_id) } }
                                    td class=(class(q)) { (allowance(q)) }
                                    td class=(class(q)) { (left(q)) }
                                    td { (window_end(q, now)) }
                                    td { (ago(Some(q.updated_at))) }
                                }
                            }
                        }
                    }
                },
                Err(e) => p class="bad" { "Cannot read the reply quota: " (e.to_string()) },
            }
        }
    }
}

/// The Overview's card: replies billed in the last 24 h and customers at their last free reply.
pub(super) fn billed_card(
    billed_24h: &Result<i64, StoreError>,
    at_last: &Result<i64, StoreError>,
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
                dt { "Customers at their last free reply" }
                dd id="at-last-free-reply" { a href="/console/activity#quota-h" { (figure(at_last)) } }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(allowance: &str, remaining: Option<i64>) -> QuotaState {
        QuotaState {
            zalo_user_id: "42".into(),
            display_name: Some("Minh Khánh".into()),
            allowance: allowance.into(),
            remaining,
            total: Some(8),
            expires: None,
            window_start: Some(0),
            updated_at: 0,
        }
    }

    #[test]
    fn the_last_free_reply_warns_and_a_billed_one_is_bad() {
        assert_eq!(class(&state("reply", Some(3))), "ok");
        assert_eq!(class(&state("reply", Some(1))), "warn");
        assert_eq!(class(&state("reply", Some(0))), "bad");
        assert_eq!(class(&state("billed", None)), "bad");
        assert_eq!(left(&state("reply", Some(3))), "3 of 8");
    }

    #[test]
    fn the_window_ends_48_hours_after_the_customer_wrote() {
        let html = window_end(&state("reply", Some(3)), 3_600_000).into_string();
        assert!(html.contains("1970-01-03 00:00:00 UTC"), "{html}");
        assert!(html.contains("in 47 h"), "{html}");
    }
}
