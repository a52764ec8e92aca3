//! The Pairings page: every pairing the deployment has (served, disabled or broken) with its
//! health in one row, and links that show the other pages for it. Pairings are added, enabled,
//! disabled and removed with `zfsync pairing …` (the page says how), which checks the values
//! live and seals the secrets; the daemon serves a change after a restart.

use axum::extract::{Extension, State};
use axum::response::Response;
use maud::html;

use super::{ago, layout, Nav, Scope};
use crate::server::auth::Operator;
use crate::server::AppState;
use crate::status::{pairings_health, PairingHealth};

/// The page's path.
pub const ROUTE_PAIRINGS: &str = "/console/pairings";

/// `GET /console/pairings`.
pub async fn page(
    State(state): State<AppState>,
    Extension(op): Extension<Operator>,
    scope: Scope,
) -> Response {
    let rows = match state.console.config.as_ref() {
        Some(config) => pairings_health(config, &state.store)
            .await
            .map_err(|e| e.to_string()),
        None => Err("the daemon runs without a configuration file".to_string()),
    };
    let body = html! {
        @match &rows {
            Err(e) => p class="bad" { "Cannot read the pairings: " (e) },
            Ok(rows) => {
                div class="scroll" { table id="pairings" {
                    caption class="skip" { "Pairings" }
                    thead { tr {
                        th scope="col" { "Pairing" } th scope="col" { "State" } th scope="col" { "OA" }
                        th scope="col" { "Zalo" } th scope="col" { "Pending" } th scope="col" { "Failed" }
                        th scope="col" { "Last event" } th scope="col" { "Freshchat" }
                    } }
                    tbody {
                        @for r in rows { (row(r, &scope)) }
                    }
                } }
            }
        }
        h2 { "Add, disable or remove a pairing" }
        p {
            "On the server, " code { "zfsync pairing add NAME --config FILE …" }
            " takes the values of " code { "zfsync init --non-interactive" }
            " (secrets on standard input), checks them with Freshchat and Zalo, seals the secrets in the store and prints the pairing's webhook and OAuth URLs; "
            code { "zfsync pairing disable|enable|remove NAME" } " change the rest. Restart the daemon to serve a change, then connect the OA: "
            code { "zfsync connect zalo --pairing NAME" } "."
        }
    };
    layout("Pairings", Nav::Pairings, &op, &scope, body)
}

fn row(r: &PairingHealth, scope: &Scope) -> maud::Markup {
    let served = scope.all.contains(&r.pairing);
    let class = match r.verdict() {
        "ok" => "ok",
        "disabled" => "muted",
        _ => "bad",
    };
    html! {
        tr data-pairing=(r.pairing) {
            td {
                @if served { a href=(format!("/console?pairing={}", r.pairing)) { (r.pairing) } }
                @else { (r.pairing) }
            }
            td { span class=(class) { (r.verdict()) } @if let Some(p) = &r.problem { br; span class="muted" { (p) } } }
            td { (r.oa_id.as_deref().unwrap_or("—")) }
            td { (r.zalo) }
            td { (r.pending) @if r.pending > 0 { " (oldest " (ago(r.oldest_pending_at)) ")" } }
            td {
                @if r.failed > 0 && served { a href=(format!("/console/failed?pairing={}", r.pairing)) { (r.failed) } }
                @else { (r.failed) }
            }
            td { (ago(r.last_event_at)) }
            td { (r.freshchat) }
        }
    }
}
