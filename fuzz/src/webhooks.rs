//! The two webhook targets: inputs from [`super::cases`] delivered to the daemon's real router
//! (`server::router`, every layer included) with `tower::ServiceExt::oneshot`, over a real store
//! (a fresh temporary SQLite file per chunk of inputs). Each answer is judged against the route's
//! promises:
//!
//! - no panic, no 5xx; only 200, 400, 401 and 413;
//! - a refusal is JSON whose `error` names the reason;
//! - a correctly signed body the connector's parser accepts is stored (200 `stored` or
//!   `duplicate`), one it refuses gets 400 with the parser's own reason; a body over the limit 413;
//! - nothing unsigned or wrongly signed is stored (Zalo's URL check, unsigned and naming no event,
//!   is answered 200 `ok` and not stored);
//! - every `stored` answer is a row in the inbox (counted per chunk), and an accepted delivery sent
//!   again is a `duplicate`;
//! - the accepted event's plans keep the mapping engine's promises ([`super::plans`]).
//!
//! Failure: building the daemon's state (store, clients) fails with a [`FuzzError`]; a broken
//! promise is a [`Finding`], never an error.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::http::{header, Request};
use axum::Router;
use futures::{FutureExt as _, StreamExt as _};
use secrecy::SecretString;
use serde_json::Value;
use tower::ServiceExt as _;
use zfsync_mappings::Rules;

use super::cases::{self, Case, FreshchatSigner, Shared, Sig, ZALO_SERVER};
use super::mutate::input_seed;
use super::plans;
use super::report::{Finding, TargetReport};
use super::{FuzzError, Options, Target};
use zfsync::config::Config;
use zfsync::routes::{ROUTE_FRESHCHAT_WEBHOOK, ROUTE_ZALO_WEBHOOK};
use zfsync::testing::{InProcess, Source, StateOptions, WebhookSecrets, NO_EVENT_TIME};

/// The daemon's own body limit (`server.max_body_bytes`, default).
pub const BODY_LIMIT: usize = 1024 * 1024;

/// The router over a fresh store.
pub struct Harness {
    daemon: InProcess,
    _dir: tempfile::TempDir,
}

impl std::fmt::Debug for Harness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Harness")
            .field("store", &self.daemon.store)
            .finish()
    }
}

impl Harness {
    /// A store in a new temporary folder (under `parent` when given) and the daemon's router over
    /// it, configured as a customer would be: the Zalo app of [`cases::ZALO_APP_ID`] and the
    /// Freshchat key of `signer`.
    pub async fn new(
        signer: &FreshchatSigner,
        parent: Option<&Path>,
    ) -> Result<Harness, FuzzError> {
        let dir = match parent {
            Some(p) => tempfile::Builder::new().prefix("zfsync-fuzz").tempdir_in(p),
            None => tempfile::Builder::new().prefix("zfsync-fuzz").tempdir(),
        }
        .map_err(FuzzError::TempDir)?;
        let store_path = dir.path().join("zfsync.db");
        let text = format!(
            r#"
[server]
public_url = "https://fuzz.zfsync.invalid"
max_body_bytes = {BODY_LIMIT}
[store]
path = {store}
[zalo]
app_id = "{app}"
app_secret = "zfz-app-secret-Q7v3"
oa_secret_key = "{oa}"
[freshchat]
api_base = "https://fuzz.freshchat.invalid"
api_key = "zfz-api-key-W4x8"
webhook_public_key = "{key}"
"#,
            store = toml::Value::String(store_path.display().to_string()),
            app = cases::ZALO_APP_ID,
            oa = cases::ZALO_OA_SECRET,
            key = signer.spki_b64,
        );
        let config = Config::from_toml(&text).map_err(FuzzError::Config)?;
        let freshchat_key = zfsync_freshchat::WebhookKey::parse(&signer.spki_b64)
            .map_err(|e| FuzzError::Key(e.to_string()))?;
        let options = StateOptions {
            admin_token: SecretString::from("zfz-admin-token-P5n1-0123456789"),
            // The constants, not the config: ZFSYNC_* in the environment must not change what
            // the inputs are signed with.
            webhooks: WebhookSecrets {
                zalo_app_id: cases::ZALO_APP_ID.to_string(),
                zalo_oa_secret: SecretString::from(cases::ZALO_OA_SECRET),
                freshchat_key,
                zalo_oa_id: None,
            },
            // The samples' own times are years old: a window that takes them keeps the store path
            // under test (only a time far in the future is still answered `ignored`).
            replay_window_ms: i64::MAX / 4,
            metrics: None,
        };
        let daemon = InProcess::new(&config, options)
            .await
            .map_err(|e| FuzzError::App(e.to_string()))?;
        Ok(Harness { daemon, _dir: dir })
    }

    /// Inbox rows of a source.
    pub async fn rows(&self, source: Source) -> Result<u64, FuzzError> {
        self.daemon
            .inbox_rows(source)
            .await
            .map_err(FuzzError::Store)
    }

    /// Delivers one case.
    pub async fn deliver(&self, route: &'static str, case: &Case) -> Answer {
        send(self.daemon.router.clone(), route, case).await
    }
}

/// What the route answered.
#[derive(Debug, Clone)]
pub struct Answer {
    /// HTTP status.
    pub status: u16,
    /// The JSON body's `error`, when there is one.
    pub error: Option<String>,
    /// The JSON body's `status`, when there is one.
    pub status_field: Option<String>,
    /// The body as received.
    pub body: Vec<u8>,
}

impl Answer {
    /// `200 stored`, `401 bad_signature`, `413 -`, ...
    pub fn label(&self) -> String {
        let what = self
            .error
            .as_deref()
            .or(self.status_field.as_deref())
            .unwrap_or("-");
        format!("{} {what}", self.status)
    }
}

async fn send(router: Router, route: &'static str, case: &Case) -> Answer {
    let mut req = Request::builder()
        .method("POST")
        .uri(route)
        .header(header::CONTENT_TYPE, "application/json");
    for (name, value) in &case.headers {
        req = req.header(*name, value.clone());
    }
    let req = match req.body(Body::from(case.body.clone())) {
        Ok(r) => r,
        Err(e) => {
            return Answer {
                status: 0,
                error: Some(format!("the request could not be built: {e}")),
                status_field: None,
                body: Vec::new(),
            }
        }
    };
    let resp = match router.oneshot(req).await {
        Ok(r) => r,
        Err(never) => match never {},
    };
    let status = resp.status().as_u16();
    let body = axum::body::to_bytes(resp.into_body(), 1 << 20)
        .await
        .map(|b| b.to_vec())
        .unwrap_or_default();
    let json: Option<Value> = serde_json::from_slice(&body).ok();
    let field = |k: &str| {
        json.as_ref()
            .and_then(|j| j.get(k))
            .and_then(Value::as_str)
            .filter(|s| !s.trim().is_empty())
            .map(str::to_owned)
    };
    Answer {
        status,
        error: field("error"),
        status_field: field("status"),
        body,
    }
}

/// What the connector's parser says of a body: accepted, or refused with this reason (an event
/// whose own time cannot be read is refused as `no_event_time`).
pub fn parser_verdict(target: Target, case: &Case) -> Result<(), &'static str> {
    let time = match target {
        Target::Zalo => zfsync_zalo::parse_webhook(&case.body, case.header_text(ZALO_SERVER))
            .map(|ev| ev.time_ms())
            .map_err(|e| e.reason())?,
        _ => zfsync_freshchat::parse_event(&case.body)
            .map(|ev| ev.time_ms())
            .map_err(|e| e.reason())?,
    };
    time.map(|_| ()).ok_or(NO_EVENT_TIME)
}

/// The route's promises for one answer; empty when all held.
pub fn judge(target: Target, case: &Case, a: &Answer) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    let signature = match target {
        Target::Zalo => cases::ZALO_SIGNATURE,
        _ => cases::FRESHCHAT_SIGNATURE,
    };
    let over = case.body.len() > BODY_LIMIT;
    let verdict = parser_verdict(target, case);
    if a.status >= 500 {
        out.push((
            "5xx",
            format!("answered {}: {}", a.status, a.body.escape_ascii()),
        ));
        return out;
    }
    if ![200, 400, 401, 413].contains(&a.status) {
        out.push(("unexpected_status", format!("answered {}", a.status)));
        return out;
    }
    if a.status >= 400 && a.error.is_none() {
        out.push((
            "no_reason",
            format!(
                "{} without a JSON `error`: {}",
                a.status,
                a.body.escape_ascii()
            ),
        ));
    }
    if over && a.status != 413 {
        out.push((
            "over_limit_not_413",
            format!("a {}-byte body answered {}", case.body.len(), a.label()),
        ));
        return out;
    }
    if a.status == 200 {
        match a.status_field.as_deref() {
            Some("stored" | "duplicate") => {
                if case.sig != Sig::Valid || verdict.is_err() {
                    out.push((
                        "accepted_invalid",
                        format!(
                            "stored although signature {:?}, parser {verdict:?}",
                            case.sig
                        ),
                    ));
                }
            }
            Some("ok") if target == Target::Zalo && !case.has_header(signature) => {}
            // A signed event whose own time is implausible: answered, not stored.
            Some("ignored") if case.sig == Sig::Valid && verdict.is_ok() => {}
            other => out.push((
                "accepted_invalid",
                format!(
                    "200 {other:?} (signature {:?}, parser {verdict:?})",
                    case.sig
                ),
            )),
        }
        return out;
    }
    if a.status == 413 {
        if !over {
            out.push((
                "refused_valid",
                format!("413 for a {}-byte body", case.body.len()),
            ));
        }
        return out;
    }
    let sig_reason = a.error.as_deref();
    match case.sig {
        Sig::Absent if matches!(sig_reason, Some("bad_signature" | "malformed_signature")) => out
            .push((
                "wrong_reason",
                format!("no signature header was sent, the route says {}", a.label()),
            )),
        Sig::Invalid
            if sig_reason == Some("missing_signature") && !case.header_blank(signature) =>
        {
            out.push((
                "wrong_reason",
                format!("a signature header was sent, the route says {}", a.label()),
            ))
        }
        _ => {}
    }
    if case.sig == Sig::Valid {
        match verdict {
            Ok(()) => out.push((
                "refused_valid",
                format!("a valid delivery got {}", a.label()),
            )),
            Err(reason) if a.status != 400 || a.error.as_deref() != Some(reason) => out.push((
                "wrong_reason",
                format!("the parser says {reason}, the route {}", a.label()),
            )),
            Err(_) => {}
        }
    }
    out
}

/// Plans an accepted body's event (for Zalo, also as the lanes read it back: without the
/// delivery's headers); returns the plans made and the problems found.
fn plan_accepted(target: Target, case: &Case, rules: &[Rules]) -> (u64, Vec<plans::Problem>) {
    match target {
        Target::Zalo => {
            let mut out = (0, Vec::new());
            if let Ok(ev) = zfsync_zalo::parse_webhook(&case.body, case.header_text(ZALO_SERVER)) {
                out = plans::zalo(&ev, rules);
            }
            // The lanes read the stored body again without its headers: plan that event too.
            if case.has_header(ZALO_SERVER) {
                if let Ok(ev) = zfsync_zalo::parse_event(&case.body) {
                    let (n, problems) = plans::zalo(&ev, rules);
                    out.0 += n;
                    out.1.extend(problems);
                }
            }
            out
        }
        _ => match zfsync_freshchat::parse_event(&case.body) {
            Ok(ev) => plans::freshchat(&ev, rules),
            Err(_) => (0, Vec::new()),
        },
    }
}

/// Builds input `index` of `target`.
pub fn case(target: Target, shared: &Shared, seed: u64, index: u64) -> Case {
    let s = input_seed(seed, target.id(), index);
    match target {
        Target::Zalo => cases::zalo_case(&shared.corpus, s),
        _ => cases::freshchat_case(&shared.corpus, &shared.signer, s),
    }
}

/// Delivers input `index` and judges it: a report of one input.
pub async fn one(
    target: Target,
    shared: &Shared,
    harness: &Harness,
    seed: u64,
    index: u64,
) -> TargetReport {
    let mut r = TargetReport::new(target);
    r.inputs = 1;
    let case = case(target, shared, seed, index);
    let route = match target {
        Target::Zalo => ROUTE_ZALO_WEBHOOK,
        _ => ROUTE_FRESHCHAT_WEBHOOK,
    };
    let finding = |kind: &'static str, detail: String| Finding {
        target,
        seed,
        index,
        kind,
        detail,
        input: case.body.clone(),
        context: case.shown_headers(),
    };
    let started = Instant::now();
    let answer = std::panic::AssertUnwindSafe(harness.deliver(route, &case))
        .catch_unwind()
        .await;
    r.slowest = started.elapsed();
    r.slowest_index = Some(index);
    let answer = match answer {
        Ok(a) => a,
        Err(p) => {
            r.panics = 1;
            r.outcome("panic");
            r.finding(finding("panic", plans::panic_text(p.as_ref())));
            return r;
        }
    };
    r.outcome(format!("{} ({})", answer.label(), case.mode));
    if answer.status >= 500 {
        r.server_errors = 1;
    }
    for (kind, detail) in judge(target, &case, &answer) {
        r.finding(finding(kind, detail));
    }
    let stored = answer.status_field.as_deref() == Some("stored") && answer.status == 200;
    if answer.status == 200 {
        r.accepted = 1;
    }
    if stored || answer.status_field.as_deref() == Some("duplicate") {
        let (n, problems) = plan_accepted(target, &case, &shared.rules);
        r.plans = n;
        for (kind, detail) in problems {
            if kind == "mapping_panic" {
                r.panics += 1;
            }
            r.finding(finding(kind, detail));
        }
    }
    if stored && case.replay {
        r.replays = 1;
        let again = harness.deliver(route, &case).await;
        if again.status != 200 || again.status_field.as_deref() != Some("duplicate") {
            r.finding(finding(
                "replay_not_duplicate",
                format!("delivered again, answered {}", again.label()),
            ));
        }
        if again.status >= 500 {
            r.server_errors += 1;
        }
    }
    r
}

/// Runs `opts.inputs` inputs of a webhook target, `opts.chunk` per fresh store.
pub async fn run(
    target: Target,
    opts: &Options,
    shared: Arc<Shared>,
) -> Result<TargetReport, FuzzError> {
    let mut report = TargetReport::new(target);
    let started = Instant::now();
    let (first, end) = opts.range();
    let mut next = first;
    while next < end {
        let stop = (next + opts.chunk.max(1)).min(end);
        let harness = Arc::new(Harness::new(&shared.signer, opts.work_dir.as_deref()).await?);
        let parts: Vec<TargetReport> = futures::stream::iter(next..stop)
            .map(|i| {
                let shared = shared.clone();
                let harness = harness.clone();
                let seed = opts.seed;
                async move {
                    tokio::spawn(async move { one(target, &shared, &harness, seed, i).await })
                        .await
                        .unwrap_or_else(|e| {
                            let mut r = TargetReport::new(target);
                            r.inputs = 1;
                            r.panics = 1;
                            r.outcome("panic");
                            r.finding(Finding {
                                target,
                                seed,
                                index: i,
                                kind: "panic",
                                detail: format!("the input's task ended: {e}"),
                                input: Vec::new(),
                                context: Vec::new(),
                            });
                            r
                        })
                }
            })
            .buffer_unordered(opts.concurrency.max(1))
            .collect()
            .await;
        let mut chunk = TargetReport::new(target);
        for p in parts {
            chunk.absorb(p);
        }
        // Store, then acknowledge: every `stored` answer of this chunk is a row of its store.
        let stored: u64 = chunk
            .outcomes
            .iter()
            .filter(|(label, _)| label.starts_with("200 stored"))
            .map(|(_, n)| *n)
            .sum();
        let source = match target {
            Target::Zalo => Source::Zalo,
            _ => Source::Freshchat,
        };
        let rows = harness.rows(source).await?;
        if rows != stored {
            chunk.finding(Finding {
                target,
                seed: opts.seed,
                index: next,
                kind: "stored_not_in_inbox",
                detail: format!(
                    "inputs {next}..{stop}: {stored} answered `stored`, {rows} rows in the inbox"
                ),
                input: Vec::new(),
                context: Vec::new(),
            });
        }
        report.absorb(chunk);
        if opts.progress {
            eprintln!(
                "[{target}] {}/{} inputs, {} findings, {:.0} s",
                stop - first,
                end - first,
                report.total_findings(),
                started.elapsed().as_secs_f64()
            );
        }
        next = stop;
    }
    report.elapsed = started.elapsed();
    Ok(report)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn case(body: &[u8], sig: Sig, header: Option<&[u8]>) -> Case {
        Case {
            body: body.to_vec(),
            headers: header
                .map(|h| vec![(cases::ZALO_SIGNATURE, HeaderValue::from_bytes(h).unwrap())])
                .unwrap_or_default(),
            sig,
            mode: "test",
            replay: false,
        }
    }

    fn answer(status: u16, json: &str) -> Answer {
        let v: Value = serde_json::from_str(json).unwrap_or(Value::Null);
        let field = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
        Answer {
            status,
            error: field("error"),
            status_field: field("status"),
            body: json.as_bytes().to_vec(),
        }
    }

    fn kinds(c: &Case, a: &Answer) -> Vec<&'static str> {
        judge(Target::Zalo, c, a)
            .into_iter()
            .map(|(k, _)| k)
            .collect()
    }

    const EVENT: &[u8] = br#"{"event_name":"user_send_text","timestamp":"1"}"#;

    #[test]
    fn the_judge_accepts_what_the_route_promises() {
        let valid = case(EVENT, Sig::Valid, Some(b"mac=x"));
        assert!(kinds(&valid, &answer(200, r#"{"status":"stored"}"#)).is_empty());
        assert!(kinds(&valid, &answer(200, r#"{"status":"duplicate"}"#)).is_empty());
        let forged = case(EVENT, Sig::Invalid, Some(b"mac=00"));
        assert!(kinds(&forged, &answer(401, r#"{"error":"bad_signature"}"#)).is_empty());
        let check = case(b"{}", Sig::Absent, None);
        assert!(kinds(&check, &answer(200, r#"{"status":"ok"}"#)).is_empty());
        let refused = case(b"[1]", Sig::Valid, Some(b"mac=x"));
        assert!(kinds(&refused, &answer(400, r#"{"error":"not_object"}"#)).is_empty());
    }

    #[test]
    fn the_judge_names_each_broken_promise() {
        let valid = case(EVENT, Sig::Valid, Some(b"mac=x"));
        let forged = case(EVENT, Sig::Invalid, Some(b"mac=00"));
        let unsigned = case(EVENT, Sig::Absent, None);
        assert_eq!(kinds(&valid, &answer(503, "{}")), ["5xx"]);
        assert_eq!(kinds(&valid, &answer(408, "{}")), ["unexpected_status"]);
        assert_eq!(
            kinds(&valid, &answer(400, r#"{"error":"not_json"}"#)),
            ["refused_valid"]
        );
        assert_eq!(
            kinds(&forged, &answer(200, r#"{"status":"stored"}"#)),
            ["accepted_invalid"]
        );
        assert_eq!(
            kinds(&forged, &answer(200, r#"{"status":"ok"}"#)),
            ["accepted_invalid"]
        );
        assert_eq!(
            kinds(&forged, &answer(401, r#"{"error":"missing_signature"}"#)),
            ["wrong_reason"]
        );
        assert_eq!(
            kinds(&unsigned, &answer(401, r#"{"error":"bad_signature"}"#)),
            ["wrong_reason"]
        );
        assert_eq!(
            kinds(&forged, &answer(401, "length limit exceeded")),
            ["no_reason"]
        );
        let wrong = case(b"[1]", Sig::Valid, Some(b"mac=x"));
        assert_eq!(
            kinds(&wrong, &answer(400, r#"{"error":"not_json"}"#)),
            ["wrong_reason"]
        );
        let big = case(&vec![b' '; BODY_LIMIT + 1], Sig::Invalid, Some(b"mac=0"));
        assert_eq!(
            kinds(&big, &answer(400, r#"{"error":"not_json"}"#)),
            ["over_limit_not_413"]
        );
        assert!(kinds(&big, &answer(413, r#"{"error":"too_large"}"#)).is_empty());
    }
}
