//! The Overview page (both connections, last events, queue depth, 24-hour charts, readiness) and
//! the Connect page ("Connect Zalo" through OAuth, "Run checks" with `crate::check`).
//!
//! Failure: a platform that does not answer within `PROBE_TIMEOUT` is shown as such; the page
//! itself always renders.

use std::time::{Duration, Instant};

use axum::extract::{Query, State};
use axum::response::Response;
use axum::Extension;
use maud::{html, Markup};
use serde::Deserialize;

use super::{ago, csrf_field, layout, Nav, Scope};
use crate::check::Level;
use crate::server::auth::Operator;
use crate::server::AppState;
use crate::store::{now_ms, HourlyCounts, Source};

/// How long the overview waits for each platform.
const PROBE_TIMEOUT: Duration = Duration::from_secs(4);
/// How long the platforms' details are reused.
const CACHE_FOR: Duration = Duration::from_secs(30);

/// What the overview shows of each platform.
#[derive(Debug, Clone)]
pub(crate) struct Platforms {
    /// Zalo's OA (name, id), or why it cannot be read.
    zalo: Result<(String, String), String>,
    /// Freshchat's account and channel, or why the key is refused.
    freshchat: Result<(String, String), String>,
}

async fn probe(state: &AppState, scope: &Scope) -> Platforms {
    let c = &state.console;
    let session = &scope.session;
    if let Ok(cache) = c.platform_cache.lock() {
        if let Some((at, p)) = cache.get(&scope.name) {
            if at.elapsed() < CACHE_FOR {
                return p.clone();
            }
        }
    }
    let zalo = async {
        if !session.zalo.tokens().status().connected {
            return Err("not connected".to_string());
        }
        let client = session.zalo.client().clone();
        let info = session
            .zalo
            .tokens()
            .call(|t| {
                let client = client.clone();
                async move { client.oa_info(&t).await }
            })
            .await
            .map_err(|e| e.to_string())?;
        Ok((info.name, info.oa_id))
    };
    let freshchat = async {
        let account = session
            .freshchat
            .account_configuration()
            .await
            .map_err(|e| e.to_string())?;
        let channels = session
            .freshchat
            .list_channels()
            .await
            .map_err(|e| e.to_string())?;
        let name = account
            .account_domain
            .clone()
            .or_else(|| account.account_id.as_ref().map(|v| v.to_string()))
            .unwrap_or_else(|| "(unnamed account)".into());
        let channel = match &session.channel {
            Some(want) => channels
                .iter()
                .find(|ch| &ch.id == want || ch.name.as_deref() == Some(want.as_str()))
                .map(|ch| format!("{} ({})", ch.name.as_deref().unwrap_or("unnamed"), ch.id))
                .unwrap_or_else(|| format!("{want} — not found in the account")),
            None => channels
                .first()
                .map(|ch| {
                    format!(
                        "{} ({}), the first channel",
                        ch.name.as_deref().unwrap_or("unnamed"),
                        ch.id
                    )
                })
                .unwrap_or_else(|| "the account has no channels".into()),
        };
        Ok((name, channel))
    };
    let (zalo, freshchat) = tokio::join!(
        tokio::time::timeout(PROBE_TIMEOUT, zalo),
        tokio::time::timeout(PROBE_TIMEOUT, freshchat)
    );
    let p = Platforms {
        zalo: zalo.unwrap_or_else(|_| Err("Zalo did not answer within 4 s".into())),
        freshchat: freshchat.unwrap_or_else(|_| Err("Freshchat did not answer within 4 s".into())),
    };
    if let Ok(mut cache) = c.platform_cache.lock() {
        cache.insert(scope.name.clone(), (Instant::now(), p.clone()));
    }
    p
}

/// One hour in milliseconds.
const HOUR_MS: i64 = 3_600_000;

/// The value axis of a chart: its top and the step between ticks (1, 2 or 5 × 10ⁿ, at most four
/// steps), so every tick is a whole number of messages.
fn value_scale(max: i64) -> (i64, i64) {
    let max = max.max(1);
    let mut power = 1_i64;
    loop {
        for m in [1, 2, 5] {
            let step = power.saturating_mul(m);
            let steps = (max - 1) / step + 1;
            if steps <= 4 {
                return (steps.saturating_mul(step), step);
            }
        }
        power = power.saturating_mul(10);
    }
}

/// "14:00" for the hour that starts at `ms` (UTC).
fn hour_label(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%H:00").to_string())
        .unwrap_or_default()
}

/// A bar chart of one direction's last 24 hours, one bar per hour (synced in blue, failed in red
/// above it), drawn on the server as SVG: a title, a legend, a value axis in messages per hour
/// with its ticks, an hour axis in UTC, and a text alternative (the SVG's title and description,
/// the caption, and the numbers per hour in a table under a disclosure).
fn chart(id: &str, label: &str, c: &HourlyCounts, now: i64) -> Markup {
    // The plot's box in the viewBox (360 × 186).
    const LEFT: f64 = 44.0;
    const RIGHT: f64 = 352.0;
    const TOP: f64 = 30.0;
    const BOTTOM: f64 = 150.0;
    let slot = (RIGHT - LEFT) / 24.0;
    let synced: i64 = c.synced.iter().sum();
    let failed: i64 = c.failed.iter().sum();
    let per_hour: Vec<i64> = (0..24).map(|i| c.synced[i] + c.failed[i]).collect();
    let max = per_hour.iter().copied().max().unwrap_or(0);
    let (top, step) = value_scale(max);
    let y = |v: i64| BOTTOM - v as f64 / top as f64 * (BOTTOM - TOP);
    let first_hour = (now / HOUR_MS - 23) * HOUR_MS;
    let hour_at = |i: usize| first_hour + i as i64 * HOUR_MS;
    let title = format!("{label}: messages per hour, last 24 hours");
    let busiest = per_hour
        .iter()
        .enumerate()
        .max_by_key(|(i, n)| (**n, *i))
        .filter(|(_, n)| **n > 0)
        .map(|(i, n)| {
            format!(
                "; the busiest hour, {} UTC, had {n}",
                hour_label(hour_at(i))
            )
        });
    let desc = format!(
        "Bar chart, one bar per hour from {} to {} UTC (the current hour): {synced} synced, {failed} failed{}.",
        hour_label(hour_at(0)),
        hour_label(hour_at(23)),
        busiest.unwrap_or_default()
    );
    let caption = if synced + failed == 0 {
        format!("{label}: no messages in the last 24 hours.")
    } else {
        format!("{label}: {synced} synced, {failed} failed in the last 24 hours.")
    };
    let ticks: Vec<i64> = (0..=top / step).map(|k| k * step).collect();
    html! {
        figure id=(id) {
            svg class="chart" role="img" aria-labelledby=(format!("{id}-title {id}-desc")) viewBox="0 0 360 186" width="100%" {
                title id=(format!("{id}-title")) { (title) }
                desc id=(format!("{id}-desc")) { (desc) }
                text class="title" x="0" y="13" { (label) }
                rect class="s" x="250" y="5" width="9" height="9" {}
                text x="262" y="13" { "synced" }
                rect class="f" x="306" y="5" width="9" height="9" {}
                text x="318" y="13" { "failed" }
                // The value axis: gridlines, ticks and their values, and its unit.
                @for v in &ticks {
                    @let ty = format!("{:.1}", y(*v));
                    line class="grid" x1=(LEFT) y1=(ty) x2=(RIGHT) y2=(ty) {}
                    line class="axis" x1=(LEFT - 4.0) y1=(ty) x2=(LEFT) y2=(ty) {}
                    text class="tick y" x=(LEFT - 6.0) y=(format!("{:.1}", y(*v) + 3.5)) text-anchor="end" { (v) }
                }
                text class="axis-label" x="10" y="90" text-anchor="middle" transform="rotate(-90 10 90)" { "messages per hour" }
                // The bars.
                @for i in 0..24 {
                    @let x = format!("{:.1}", LEFT + i as f64 * slot + 1.5);
                    @let w = format!("{:.1}", slot - 3.0);
                    @let hours = format!("{}–{} UTC", hour_label(hour_at(i)), hour_label(hour_at(i + 1)));
                    @if c.synced[i] > 0 {
                        rect class="s" x=(x) y=(format!("{:.1}", y(c.synced[i]))) width=(w) height=(format!("{:.1}", BOTTOM - y(c.synced[i]))) {
                            title { (hours) ": " (c.synced[i]) " synced" }
                        }
                    }
                    @if c.failed[i] > 0 {
                        rect class="f" x=(x) y=(format!("{:.1}", y(per_hour[i]))) width=(w) height=(format!("{:.1}", y(c.synced[i]) - y(per_hour[i]))) {
                            title { (hours) ": " (c.failed[i]) " failed" }
                        }
                    }
                }
                // The hour axis: its line, a tick every six hours and at the current hour, its unit.
                line class="axis" x1=(LEFT) y1=(BOTTOM) x2=(RIGHT) y2=(BOTTOM) {}
                line class="axis" x1=(LEFT) y1=(TOP) x2=(LEFT) y2=(BOTTOM) {}
                @for i in [0_usize, 6, 12, 18, 23] {
                    @let tx = format!("{:.1}", LEFT + i as f64 * slot);
                    line class="axis" x1=(tx) y1=(BOTTOM) x2=(tx) y2=(BOTTOM + 4.0) {}
                    text class="tick x" x=(tx) y=(BOTTOM + 15.0) text-anchor="middle" { (hour_label(hour_at(i))) }
                }
                text class="axis-label" x=((LEFT + RIGHT) / 2.0) y="182" text-anchor="middle" { "hour (UTC); the last bar is the current hour" }
            }
            figcaption { (caption) }
            details {
                summary { "Numbers per hour" }
                @if synced + failed == 0 {
                    p class="muted" { "No messages in the last 24 hours." }
                } @else {
                    table {
                        caption class="skip" { (title) }
                        thead { tr { th scope="col" { "Hour (UTC)" } th scope="col" { "Synced" } th scope="col" { "Failed" } } }
                        tbody {
                            @for i in (0..24).filter(|i| per_hour[*i] > 0) {
                                tr { td { (hour_label(hour_at(i))) } td { (c.synced[i]) } td { (c.failed[i]) } }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// `GET /console`.
pub async fn overview(
    State(state): State<AppState>,
    Extension(op): Extension<Operator>,
    scope: Scope,
) -> Response {
    let platforms = probe(&state, &scope).await;
    let store = &scope.session.store;
    let tokens = scope.session.zalo.tokens().status();
    let stats = store.stats().await;
    let now = now_ms();
    let hourly = store.hourly_counts(now).await;
    let ready = super::super::health::readiness(&state).await;
    let billed = store.billed_since(now_ms() - crate::status::DAY_MS).await;
    let in_billed = store.customers_in_billed_window(now_ms()).await;
    let ratings = store.ratings_per_day(now_ms() - RATING_DAYS * DAY_MS).await;
    let last = |src: Source| {
        stats
            .as_ref()
            .ok()
            .and_then(|s| s.iter().find(|(x, _)| *x == src).map(|(_, st)| st.clone()))
    };
    let (zs, fs) = (last(Source::Zalo), last(Source::Freshchat));
    let pending: i64 =
        zs.as_ref().map(|s| s.pending).unwrap_or(0) + fs.as_ref().map(|s| s.pending).unwrap_or(0);
    let body = html! {
        section class="card mb1" aria-labelledby="ready-h" {
            h2 id="ready-h" { "Readiness" }
            @match &ready {
                Ok(()) => p id="readiness" class="ok" { "Ready: messages flow both ways." },
                Err(reason) => p id="readiness" class="bad" { "Not ready: " (reason) },
            }
        }
        div class="cards" {
            section class="card" aria-labelledby="zalo-h" {
                h2 id="zalo-h" { "Zalo" }
                dl {
                    dt { "Official Account" }
                    @match &platforms.zalo {
                        Ok((name, id)) => dd id="zalo-oa" { (name) " (id " (id) ")" },
                        Err(e) => dd id="zalo-oa" class="bad" { (e) },
                    }
                    dt { "Access token" }
                    dd {
                        @match (tokens.connected, tokens.seconds_to_expiry) {
                            (false, _) => span class="bad" { "not connected" },
                            (true, Some(s)) if s > 0 => span class="ok" { "valid for " (s / 3600) " h " ((s % 3600) / 60) " min" },
                            (true, _) => span class="warn" { "expired; zfsync refreshes it" },
                        }
                    }
                    dt { "Authorization" }
                    @match &tokens.needs_reauth {
                        Some(r) => dd class="bad" { "needs re-authorization: " (r) " — " a href=(scope.link("/console/connect")) { "connect again" } },
                        None if tokens.token_error.is_some() => dd class="warn" { (tokens.token_error_text().unwrap_or_default()) },
                        None if tokens.connected => dd class="ok" { "valid" },
                        None => dd class="bad" { a href=(scope.link("/console/connect")) { "Connect Zalo" } },
                    }
                    dt { "Last event" }
                    dd { (ago(zs.as_ref().and_then(|s| s.last_received_at))) }
                }
            }
            section class="card" aria-labelledby="fc-h" {
                h2 id="fc-h" { "Freshchat" }
                dl {
                    @match &platforms.freshchat {
                        Ok((account, channel)) => {
                            dt { "Account" } dd id="fc-account" { (account) }
                            dt { "Channel" } dd { (channel) }
                            dt { "API key" } dd class="ok" { "valid" }
                        }
                        Err(e) => { dt { "API key" } dd id="fc-account" class="bad" { (e) } }
                    }
                    dt { "Last event" }
                    dd { (ago(fs.as_ref().and_then(|s| s.last_received_at))) }
                }
            }
            section class="card" aria-labelledby="queue-h" {
                h2 id="queue-h" { "Queue" }
                dl {
                    dt { "Waiting" } dd id="queue-depth" { (pending) }
                    dt { "Failed" } dd { a href=(scope.link("/console/failed")) { (zs.as_ref().map(|s| s.failed).unwrap_or(0) + fs.as_ref().map(|s| s.failed).unwrap_or(0)) } }
                }
            }
            (super::quota::billed_card(&billed, &in_billed, &scope.link("/console/activity")))
            (ratings_card(&ratings))
        }
        section class="mt1" aria-labelledby="charts-h" {
            h2 id="charts-h" { "Last 24 hours" }
            @match &hourly {
                Ok(h) => div class="cards" {
                    @for (src, counts) in h {
                        div class="card" {
                            @match src {
                                Source::Zalo => (chart("chart-to-freshchat", "Zalo → Freshchat", counts, now)),
                                Source::Freshchat => (chart("chart-to-zalo", "Freshchat → Zalo", counts, now)),
                            }
                        }
                    }
                },
                Err(e) => p class="bad" { "Cannot read the counts: " (e.to_string()) },
            }
        }
    };
    let _ = &op;
    layout("Overview", Nav::Overview, &op, &scope, body)
}

/// How many days of ratings the overview shows.
const RATING_DAYS: i64 = 7;
const DAY_MS: i64 = 24 * 3_600_000;

/// The customers' ratings after resolve (`[csat]`): the average of each of the last days. The
/// days are Vietnam's (UTC+7, as agents read times), not the charts' UTC hours: both say so.
fn ratings_card(days: &Result<Vec<crate::store::RatingsDay>, crate::store::StoreError>) -> Markup {
    html! {
        section class="card" aria-labelledby="csat-h" {
            h2 id="csat-h" { "Ratings (last 7 days)" }
            p class="muted" id="csat-zone" { "Days in Vietnam time (UTC+7), as agents read times; the charts above count hours in UTC." }
            @match days {
                Ok(days) if days.is_empty() => p id="csat-none" { "No ratings yet." },
                Ok(days) => table id="csat-days" {
                    thead { tr { th scope="col" { "Day (UTC+7)" } th scope="col" { "Ratings" } th scope="col" { "Average" } } }
                    tbody {
                        @for d in days.iter().rev() {
                            tr { td { (d.day) } td { (d.count) } td class="csat-average" { (format!("{:.1}/5", d.average)) } }
                        }
                    }
                },
                Err(e) => p class="bad" { "Cannot read the ratings: " (e.to_string()) },
            }
        }
    }
}

/// The Connect page's query: set after a successful consent.
#[derive(Debug, Deserialize)]
pub struct ConnectQuery {
    connected: Option<String>,
}

fn connect_body(
    op: &Operator,
    scope: &Scope,
    note: Option<Markup>,
    checks: Option<Markup>,
) -> Markup {
    let zalo = &scope.session.zalo;
    let tokens = zalo.tokens().status();
    let start = crate::routes::for_pairing(crate::server::ROUTE_OAUTH_START, &scope.name);
    html! {
        @if let Some(n) = note { (n) }
        section class="card mb1" aria-labelledby="zc-h" {
            h2 id="zc-h" { "Zalo Official Account" }
            p {
                @if tokens.connected && tokens.needs_reauth.is_none() {
                    span class="ok" { "Connected" } " to OA " (tokens.oa_id.clone().unwrap_or_default()) ". Connect again to renew the consent or after an OA admin revoked it."
                } @else {
                    span class="bad" { "Not connected." } " An admin of the OA signs in to Zalo and allows zfsync."
                }
            }
            @if zalo.oa_id().is_none() {
                p class="bad" id="no-oa-id" {
                    code { "zalo.oa_id" } " is not set, so zfsync does not know which OA to connect and refuses every consent. Set it to your OA's id (on the OA's page at oa.zalo.me) and restart zfsync."
                }
            }
            a class="button" id="connect-zalo" href=(format!("{start}?from=console")) { "Connect Zalo" }
        }
        section class="card" aria-labelledby="ck-h" {
            h2 id="ck-h" { "Checks" }
            p { "Probes the configuration, the store, Freshchat and Zalo, as " code { "zfsync check" } " does." }
            form method="post" action="/console/connect/checks" {
                (csrf_field(op))
                button type="submit" id="run-checks" { "Run checks" }
            }
            @if let Some(c) = checks { (c) }
        }
    }
}

/// `GET /console/connect`.
pub async fn connect(
    Extension(op): Extension<Operator>,
    scope: Scope,
    Query(q): Query<ConnectQuery>,
) -> Response {
    let note = q.connected.map(|_| {
        html! { p class="ok" role="status" id="connected-note" { "Zalo is connected." } }
    });
    let body = connect_body(&op, &scope, note, None);
    layout("Connect", Nav::Connect, &op, &scope, body)
}

/// `POST /console/connect/checks`: runs every check and shows them with their fixes.
pub async fn run_checks(
    State(state): State<AppState>,
    Extension(op): Extension<Operator>,
    scope: Scope,
) -> Response {
    let results = match &state.console.config_file {
        Some(path) => {
            let report = crate::check::run_checks(path, false).await;
            let failed = report.checks.iter().filter(|c| !c.ok).count();
            html! {
                p id="checks-summary" role="status" class=(if failed == 0 { "ok" } else { "bad" }) {
                    @if failed == 0 { "All " (report.checks.len()) " checks passed." }
                    @else { (failed) " of " (report.checks.len()) " checks failed." }
                }
                div class="scroll" {
                    table {
                        thead { tr { th scope="col" { "Result" } th scope="col" { "Check" } th scope="col" { "Found" } th scope="col" { "Fix" } } }
                        tbody {
                            @for c in &report.checks {
                                tr {
                                    td class=(match c.level { Level::Ok => "ok", Level::Warn => "warn", Level::Fail => "bad" }) {
                                        (match c.level { Level::Ok => "OK", Level::Warn => "Warning", Level::Fail => "Failed" })
                                    }
                                    td { (c.name) }
                                    td { (c.detail) }
                                    td { (c.fix.clone().unwrap_or_default()) }
                                }
                            }
                        }
                    }
                }
            }
        }
        None => {
            html! { p class="bad" { "This daemon was not started from a configuration file, so there is nothing to check." } }
        }
    };
    let body = connect_body(&op, &scope, None, Some(results));
    layout("Connect", Nav::Connect, &op, &scope, body)
}

#[cfg(test)]
mod tests {
    use super::{ratings_card, value_scale};
    use crate::store::RatingsDay;

    #[test]
    fn rating_days_say_they_are_vietnam_days() {
        let day = RatingsDay {
            day: "2026-12-08".into(),
            count: 2,
            average: 4.5,
        };
        let html = ratings_card(&Ok(vec![day])).into_string();
        assert!(html.contains("Day (UTC+7)"), "{html}");
        assert!(html.contains("Vietnam time (UTC+7)"), "{html}");
        assert!(
            html.contains("2026-12-08") && html.contains("4.5/5"),
            "{html}"
        );
        let none = ratings_card(&Ok(Vec::new())).into_string();
        assert!(
            none.contains("UTC+7") && none.contains("No ratings yet."),
            "{none}"
        );
    }

    #[test]
    fn the_value_axis_has_whole_ticks_and_at_most_four_steps() {
        assert_eq!(value_scale(0), (1, 1));
        assert_eq!(value_scale(3), (3, 1));
        assert_eq!(value_scale(7), (8, 2));
        assert_eq!(value_scale(19), (20, 5));
        assert_eq!(value_scale(31), (40, 10));
        assert_eq!(value_scale(1234), (1500, 500));
        assert!(value_scale(i64::MAX).1 > 0);
    }
}
