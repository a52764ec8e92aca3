//! The mapping engine under parsed events: every event a parser accepts is planned under several
//! states of knowledge (linked or not, own echo or not, a send in flight, odd quoted texts) and
//! both languages of the built-in rules, and the plan must keep the engine's promises:
//!
//! - planning never panics;
//! - a plain text for Zalo fits Zalo's limit (`text_limit`, else it is a long text);
//! - a plan without steps says why (ignored, deferred, or re-read);
//! - a plan survives the journal's JSON round trip unchanged;
//! - the event has a dedupe key that is not blank (else every such delivery is one "duplicate").
//!
//! Failure: a broken promise is returned as a problem `(kind, detail)`; nothing here fails.

use std::panic::{catch_unwind, AssertUnwindSafe};

use zfsync_freshchat::WebhookEvent;
use zfsync_mappings::{
    plan_freshchat, plan_zalo, FreshchatKnowledge, Plan, Rules, Step, ZaloKnowledge, ZaloSend,
};
use zfsync_zalo::ZaloEvent;

use super::cases;
use super::mutate::input_seed;
use super::report::{Finding, TargetReport};
use super::{Options, Target};

/// A broken promise: its kind and what happened.
pub type Problem = (&'static str, String);

/// The rules plans are made with: the built-in rules in each language they ship.
pub fn rule_sets() -> Vec<Rules> {
    let mut sets = vec![Rules::default()];
    if let Ok(en) = Rules::default().with_language("en") {
        sets.push(en);
    }
    sets
}

/// A long text with odd characters, for quoted and reacted-to messages.
fn odd_quote() -> String {
    format!("{}\u{202e}😀&amp;<b>{{text}}", "Ệ\u{301}".repeat(300))
}

/// Plans a Zalo event under each state of knowledge; returns the number of plans and problems.
pub fn zalo(ev: &ZaloEvent, rules: &[Rules]) -> (u64, Vec<Problem>) {
    let mut problems = Vec::new();
    if ev.dedupe_key().trim().is_empty() {
        problems.push((
            "blank_dedupe_key",
            format!("Zalo event {:?} has a blank dedupe key", ev.event_name()),
        ));
    }
    let knowledge = [
        ZaloKnowledge::default(),
        ZaloKnowledge {
            oa_id: "388613280878808645".into(),
            own_message: true,
            own_send_in_flight: true,
            reacted_text: Some(odd_quote()),
            quoted_text: Some(odd_quote()),
            backfilled_at: Some(odd_quote()),
            app_user: Some(odd_quote()),
            rating_asked_in: Some(odd_quote()),
        },
        ZaloKnowledge {
            oa_id: String::new(),
            own_message: false,
            own_send_in_flight: true,
            reacted_text: Some(String::new()),
            quoted_text: Some(String::new()),
            backfilled_at: Some(String::new()),
            app_user: Some(String::new()),
            rating_asked_in: Some(String::new()),
        },
    ];
    let mut n = 0;
    for r in rules {
        for k in &knowledge {
            n += 1;
            match catch_unwind(AssertUnwindSafe(|| plan_zalo(ev, k, r))) {
                Ok(plan) => check(&plan, r, &mut problems),
                Err(p) => problems.push(("mapping_panic", panic_text(p.as_ref()))),
            }
        }
    }
    (n, problems)
}

/// Plans a Freshchat event under each state of knowledge; returns the number of plans and problems.
pub fn freshchat(ev: &WebhookEvent, rules: &[Rules]) -> (u64, Vec<Problem>) {
    let mut problems = Vec::new();
    if ev.dedupe_key().trim().is_empty() {
        problems.push((
            "blank_dedupe_key",
            format!("Freshchat event {:?} has a blank dedupe key", ev.action()),
        ));
    }
    let linked = Some("246845883529197922".to_string());
    let knowledge = [
        FreshchatKnowledge {
            zalo_user_id: linked.clone(),
            own_message: false,
            message_reread: false,
            reply_window: Default::default(),
        },
        FreshchatKnowledge {
            zalo_user_id: linked,
            own_message: false,
            message_reread: true,
            // Past the free 48 h: resolutions plan a private note instead of the notice.
            reply_window: zfsync_mappings::ReplyWindow::Billed {
                free_until: 0,
                until: 1,
            },
        },
        FreshchatKnowledge {
            zalo_user_id: None,
            own_message: true,
            message_reread: false,
            reply_window: Default::default(),
        },
    ];
    let mut n = 0;
    for r in rules {
        for k in &knowledge {
            n += 1;
            match catch_unwind(AssertUnwindSafe(|| plan_freshchat(ev, k, r))) {
                Ok(plan) => check(&plan, r, &mut problems),
                Err(p) => problems.push(("mapping_panic", panic_text(p.as_ref()))),
            }
        }
    }
    (n, problems)
}

fn check(plan: &Plan, rules: &Rules, problems: &mut Vec<Problem>) {
    let limit = rules.freshchat_to_zalo.text_limit;
    for step in &plan.steps {
        if let Step::SendToZalo(s) = step {
            if let ZaloSend::Text(t) = &s.message {
                let n = t.chars().count();
                if n > limit {
                    problems.push((
                        "zalo_text_over_limit",
                        format!("a Zalo text of {n} characters (limit {limit})"),
                    ));
                }
            }
        }
    }
    if plan.steps.is_empty() && plan.ignored.is_none() && !plan.defer && !plan.reread_message {
        problems.push(("silent_plan", "a plan with no steps and no reason".into()));
    }
    let back = serde_json::to_string(plan)
        .ok()
        .and_then(|s| serde_json::from_str::<Plan>(&s).ok());
    if back.as_ref() != Some(plan) {
        problems.push((
            "plan_round_trip",
            "the plan does not survive its JSON round trip".into(),
        ));
    }
}

/// The message of a panic payload.
pub fn panic_text(p: &(dyn std::any::Any + Send)) -> String {
    p.downcast_ref::<&str>()
        .map(|s| (*s).to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".into())
}

/// Plans input `index` of the mapping target: a mutated Zalo (even index) or Freshchat (odd)
/// body, parsed by its connector and, when accepted, planned under every state of knowledge.
pub fn one(shared: &super::cases::Shared, seed: u64, index: u64) -> TargetReport {
    let mut r = TargetReport::new(Target::Mapping);
    r.inputs = 1;
    let s = input_seed(seed, Target::Mapping.id(), index);
    let started = std::time::Instant::now();
    let (body, outcome) = catch_unwind(AssertUnwindSafe(|| {
        if index % 2 == 0 {
            let (body, server) = cases::zalo_body(&shared.corpus, s);
            let outcome = match zfsync_zalo::parse_webhook(&body, server.as_deref()) {
                Ok(ev) => Ok(zalo(&ev, &shared.rules)),
                Err(e) => Err(format!("zalo refused: {}", e.reason())),
            };
            (body, outcome)
        } else {
            let body = cases::freshchat_body(&shared.corpus, s);
            let outcome = match zfsync_freshchat::parse_event(&body) {
                Ok(ev) => Ok(freshchat(&ev, &shared.rules)),
                Err(e) => Err(format!("freshchat refused: {}", e.reason())),
            };
            (body, outcome)
        }
    }))
    .unwrap_or_else(|p| (Vec::new(), Ok((0, vec![("panic", panic_text(p.as_ref()))]))));
    r.slowest = started.elapsed();
    r.slowest_index = Some(index);
    let platform = if index % 2 == 0 { "zalo" } else { "freshchat" };
    match outcome {
        Err(refused) => r.outcome(refused),
        Ok((n, problems)) => {
            r.accepted = 1;
            r.plans = n;
            r.outcome(format!("{platform} planned"));
            for (kind, detail) in problems {
                if kind == "panic" || kind == "mapping_panic" {
                    r.panics += 1;
                }
                r.finding(Finding {
                    target: Target::Mapping,
                    seed,
                    index,
                    kind,
                    detail,
                    input: body.clone(),
                    context: vec![("platform".into(), platform.as_bytes().to_vec())],
                });
            }
        }
    }
    r
}

/// Runs the mapping target on `opts.workers` threads.
pub fn run(opts: &Options, shared: &super::cases::Shared) -> TargetReport {
    let started = std::time::Instant::now();
    let (first, end) = opts.range();
    let workers = opts.workers.max(1) as u64;
    let parts: Vec<TargetReport> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..workers)
            .map(|w| {
                s.spawn(move || {
                    let mut report = TargetReport::new(Target::Mapping);
                    let mut i = first + w;
                    while i < end {
                        report.absorb(one(shared, opts.seed, i));
                        i += workers;
                    }
                    report
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join().unwrap_or_else(|_| {
                    let mut r = TargetReport::new(Target::Mapping);
                    r.panics = 1;
                    r
                })
            })
            .collect()
    });
    let mut report = TargetReport::new(Target::Mapping);
    for p in parts {
        report.absorb(p);
    }
    report.elapsed = started.elapsed();
    report
}
