//! The Pairings page: every pairing the deployment has (served, disabled or broken) with its
//! health in one row, links that show the other pages for it, and a form that adds one with the
//! wizard's live checks (the values of `zfsync pairing add`, typed in the page; its secrets are
//! sealed in the store like the tokens). Disabling and removing stay on the command line. The
//! daemon serves an added pairing after a restart.
//!
//! Failure: a value that fails its check, a name or an OA already taken, shows the form again
//! with the reason and every check that ran; nothing is stored then. Secrets are never written
//! back into the page.

use axum::extract::{Extension, State};
use axum::response::Response;
use axum::Form;
use maud::{html, Markup};
use secrecy::SecretString;
use serde::Deserialize;

use super::{ago, csrf_field, layout, Nav, Scope};
use crate::app::registry::add_pairing;
use crate::check::{Check, Level};
use crate::init::{pairing_from_form, Language, PairingForm};
use crate::routes::PairingUrls;
use crate::server::auth::Operator;
use crate::server::AppState;
use crate::status::{pairings_health, PairingHealth};

/// The page's path.
pub const ROUTE_PAIRINGS: &str = "/console/pairings";
/// Where the form posts.
pub const ROUTE_ADD_PAIRING: &str = "/console/pairings/add";

/// `GET /console/pairings`.
pub async fn page(
    State(state): State<AppState>,
    Extension(op): Extension<Operator>,
    scope: Scope,
) -> Response {
    render(&state, &op, &scope, &Outcome::default()).await
}

/// The form's fields (secrets never shown in `Debug`: there is none).
#[derive(Deserialize)]
pub struct AddForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    freshchat_api_url: String,
    #[serde(default = "blank")]
    freshchat_api_key: SecretString,
    #[serde(default)]
    freshchat_app_id: String,
    #[serde(default)]
    freshchat_channel: String,
    #[serde(default)]
    freshchat_webhook_public_key: String,
    #[serde(default)]
    zalo_app_id: String,
    #[serde(default = "blank")]
    zalo_app_secret: SecretString,
    #[serde(default = "blank")]
    zalo_oa_secret_key: SecretString,
    #[serde(default)]
    oa_id: String,
    #[serde(default)]
    language: String,
    #[serde(default)]
    agent_language: String,
    /// A checkbox: present when ticked.
    skip_checks: Option<String>,
    /// A checkbox: replace a pairing of that name.
    replace: Option<String>,
}

fn blank() -> SecretString {
    SecretString::from(String::new())
}

/// What the last submission gave, for the page to show.
#[derive(Default)]
struct Outcome {
    /// The values typed, secrets left out, to fill the form again.
    typed: Typed,
    /// Why nothing was added.
    error: Option<String>,
    /// The checks that ran.
    checks: Vec<Check>,
    /// The pairing added and its URLs.
    added: Option<(String, PairingUrls)>,
}

/// The form's plain values (never a secret).
#[derive(Default)]
struct Typed {
    name: String,
    freshchat_api_url: String,
    freshchat_app_id: String,
    freshchat_channel: String,
    freshchat_webhook_public_key: String,
    zalo_app_id: String,
    oa_id: String,
    language: String,
    agent_language: String,
}

/// `POST /console/pairings/add`: checks the values as `zfsync pairing add` does and stores the
/// pairing; the page shows the URLs to paste, or the form again with why not.
pub async fn add(
    State(state): State<AppState>,
    Extension(op): Extension<Operator>,
    scope: Scope,
    Form(form): Form<AddForm>,
) -> Response {
    let name = form.name.trim().to_string();
    let mut outcome = Outcome {
        typed: Typed {
            name: name.clone(),
            freshchat_api_url: form.freshchat_api_url.clone(),
            freshchat_app_id: form.freshchat_app_id.clone(),
            freshchat_channel: form.freshchat_channel.clone(),
            freshchat_webhook_public_key: form.freshchat_webhook_public_key.clone(),
            zalo_app_id: form.zalo_app_id.clone(),
            oa_id: form.oa_id.clone(),
            language: form.language.clone(),
            agent_language: form.agent_language.clone(),
        },
        ..Outcome::default()
    };
    let Some(config) = state.console.config.as_ref() else {
        outcome.error = Some("the daemon runs without a configuration file".into());
        return render(&state, &op, &scope, &outcome).await;
    };
    // The name and the OA first: no live check runs for values that cannot be added.
    if let Err(e) = crate::config::check_new_pairing(&name, Some(form.oa_id.trim())) {
        outcome.error = Some(e.to_string());
        return render(&state, &op, &scope, &outcome).await;
    }
    let replace = form.replace.is_some();
    let values = PairingForm {
        freshchat_api_url: form.freshchat_api_url,
        freshchat_api_key: form.freshchat_api_key,
        freshchat_app_id: form.freshchat_app_id,
        freshchat_channel: form.freshchat_channel,
        freshchat_webhook_public_key: form.freshchat_webhook_public_key,
        zalo_app_id: form.zalo_app_id,
        zalo_app_secret: form.zalo_app_secret,
        zalo_oa_secret_key: form.zalo_oa_secret_key,
        oa_id: form.oa_id,
        language: match form.language.as_str() {
            "en" => Some(Language::En),
            _ => Some(Language::Vi),
        },
        agent_language: match form.agent_language.as_str() {
            "en" => Some(Language::En),
            _ => Some(Language::Vi),
        },
        // The deployment's Zalo: the platform (or the sandbox's simulator) the file's pairing uses.
        zalo_api_base: Some(config.zalo.api_base.clone()),
        zalo_oauth_base: Some(config.zalo.oauth_base.clone()),
        skip_checks: form.skip_checks.is_some(),
    };
    let checked = pairing_from_form(&values).await;
    outcome.checks = checked.checks;
    match checked.result {
        Err(e) => outcome.error = Some(e.for_form()),
        Ok((settings, secrets)) => {
            match add_pairing(config, &state.store, &name, &settings, &secrets, replace).await {
                Ok(added) => {
                    outcome.added = Some((name, added.urls));
                    outcome.typed = Typed::default();
                }
                Err(e) => outcome.error = Some(e.to_string()),
            }
        }
    }
    render(&state, &op, &scope, &outcome).await
}

async fn render(state: &AppState, op: &Operator, scope: &Scope, outcome: &Outcome) -> Response {
    let rows = match state.console.config.as_ref() {
        Some(config) => pairings_health(config, &state.store)
            .await
            .map_err(|e| e.to_string()),
        None => Err("the daemon runs without a configuration file".to_string()),
    };
    let body = html! {
        @if let Some((name, urls)) = &outcome.added { (added(name, urls)) }
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
                        @for r in rows { (row(r, scope)) }
                        @for name in removed_but_served(rows, scope) {
                            tr data-pairing=(name) {
                                td { (name) }
                                td colspan="7" { span class="warn" data-restart="stop" { "removed; still served until the daemon restarts" } }
                            }
                        }
                    }
                } }
            }
        }
        (add_form(op, outcome))
        h2 { "Disable or remove a pairing" }
        p {
            "On the server: " code { "zfsync pairing disable|enable|remove NAME --config FILE" }
            ". Restart the daemon to serve a change. A pairing can also be added there: "
            code { "zfsync pairing add NAME" } " takes the values of " code { "zfsync init --non-interactive" } "."
        }
    };
    layout("Pairings", Nav::Pairings, op, scope, body)
}

fn added(name: &str, urls: &PairingUrls) -> Markup {
    html! {
        section class="card mb1" id="pairing-added" role="status" aria-labelledby="added-h" {
            h2 id="added-h" class="ok" { "Pairing " (name) " added" }
            p { "Its secrets are sealed in the store. Paste these in the platforms' dashboards:" }
            dl {
                dt { "Zalo app → Webhook page" } dd { code { (urls.zalo_webhook) } }
                dt { "Freshchat Admin → Webhooks" } dd { code { (urls.freshchat_webhook) } }
                dt { "Zalo app → Official Account → Callback URL" } dd { code { (urls.oauth_callback) } }
            }
            p {
                "Next: restart the daemon so that it serves " (name) ", then connect its OA: "
                a href=(format!("/console/connect?pairing={name}")) { "Connect" }
                " (or " code { "zfsync connect zalo --pairing " (name) } " on the server)."
            }
        }
    }
}

fn add_form(op: &Operator, outcome: &Outcome) -> Markup {
    let t = &outcome.typed;
    let text = |id: &str, label: &str, value: &str, required: bool, hint: &str| {
        html! {
            label for=(id) { (label) @if !required { " " span class="muted" { "(optional)" } } }
            @if !hint.is_empty() { p class="muted" id=(format!("{id}-hint")) { (hint) } }
            input id=(id) name=(id) type="text" value=(value) required[required] autocomplete="off"
                aria-describedby=[(!hint.is_empty()).then(|| format!("{id}-hint"))];
        }
    };
    let secret = |id: &str, label: &str, hint: &str| {
        html! {
            label for=(id) { (label) }
            p class="muted" id=(format!("{id}-hint")) { (hint) }
            input id=(id) name=(id) type="password" required autocomplete="off" aria-describedby=(format!("{id}-hint"));
        }
    };
    html! {
        section class="mt15" aria-labelledby="add-h" {
            h2 id="add-h" { "Add a pairing" }
            p { "One more Zalo OA ↔ Freshchat account served by this deployment, on its own webhook URLs. The values are checked with Freshchat and Zalo as " code { "zfsync init" } " checks them; the secrets are sealed in the store." }
            @if let Some(e) = &outcome.error { p class="bad" role="alert" id="add-error" { "Not added: " (e) } }
            @if !outcome.checks.is_empty() {
                ul id="add-checks" {
                    @for c in &outcome.checks {
                        li {
                            span class=(match c.level { Level::Ok => "ok", Level::Warn => "warn", Level::Fail => "bad" }) {
                                (match c.level { Level::Ok => "OK", Level::Warn => "WARN", Level::Fail => "FAIL" })
                            }
                            " " (c.detail)
                            @if let Some(fix) = &c.fix { br; span class="muted" { "fix: " (fix) } }
                        }
                    }
                }
            }
            form method="post" action=(ROUTE_ADD_PAIRING) id="add-pairing" {
                (csrf_field(op))
                (text("name", "Pairing name", &t.name, true, "lower-case letters, digits and '-'; it becomes part of the webhook URLs, e.g. shop-hanoi"))
                h3 { "Freshchat" }
                (text("freshchat_api_url", "Freshchat API URL", &t.freshchat_api_url, true, "Freshchat Admin → APIs for chat, e.g. https://yourcompany.freshchat.com"))
                (secret("freshchat_api_key", "Freshchat API key", "Freshchat Admin → APIs for chat → API key"))
                (text("freshchat_app_id", "Freshchat App ID", &t.freshchat_app_id, false, "blank: the account's"))
                (text("freshchat_channel", "Freshchat channel, by id or exact name", &t.freshchat_channel, false, "where new Zalo conversations go; blank: the channel named \"Zalo\", else the first enabled one"))
                label for="freshchat_webhook_public_key" { "Freshchat webhook public key" }
                p class="muted" id="freshchat_webhook_public_key-hint" { "Freshchat Admin → Webhooks: the RSA public key, BEGIN and END lines included" }
                textarea id="freshchat_webhook_public_key" name="freshchat_webhook_public_key" rows="5" required aria-describedby="freshchat_webhook_public_key-hint" { (t.freshchat_webhook_public_key) }
                h3 { "Zalo" }
                (text("zalo_app_id", "Zalo App ID", &t.zalo_app_id, true, "developers.zalo.me → your app → Settings"))
                (secret("zalo_app_secret", "Zalo App Secret Key", "developers.zalo.me → your app → Settings"))
                (secret("zalo_oa_secret_key", "Zalo OA Secret Key", "developers.zalo.me → your app → Webhook page (not the App Secret)"))
                (text("oa_id", "Zalo OA ID", &t.oa_id, true, "the Official Account this pairing serves: oa.zalo.me, under the OA's name"))
                label for="language" { "Language of the customers' texts" }
                select id="language" name="language" {
                    option value="vi" selected[t.language != "en"] { "Vietnamese" }
                    option value="en" selected[t.language == "en"] { "English" }
                }
                label for="agent_language" { "Language of the agents' notes (Zalo errors, reply costs, /zalo command answers)" }
                select id="agent_language" name="agent_language" {
                    option value="vi" selected[t.agent_language != "en"] { "Vietnamese" }
                    option value="en" selected[t.agent_language == "en"] { "English" }
                }
                label { input type="checkbox" name="skip_checks" value="1"; " Only check formats (do not contact Freshchat and Zalo)" }
                label { input type="checkbox" name="replace" value="1"; " Replace the settings of a pairing of this name" }
                p { button type="submit" id="add-pairing-submit" { "Check and add" } }
                @if outcome.error.is_some() { p class="muted" { "Secrets are not shown again: type them again." } }
            }
        }
    }
}

/// The pairings this daemon serves that the store no longer lists (removed since its start).
fn removed_but_served<'a>(rows: &[PairingHealth], scope: &'a Scope) -> Vec<&'a String> {
    scope
        .all
        .iter()
        .filter(|name| !rows.iter().any(|r| &r.pairing == *name))
        .collect()
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
            td {
                span class=(class) { (r.verdict()) }
                @if let Some(p) = &r.problem { br; span class="muted" { (p) } }
                // The store says what will be served; this daemon serves what it read at start.
                @if r.enabled && r.problem.is_none() && !served {
                    br; span class="warn" data-restart="serve" { "not served yet: restart the daemon" }
                } @else if !r.enabled && served {
                    br; span class="warn" data-restart="stop" { "still served until the daemon restarts" }
                }
            }
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
