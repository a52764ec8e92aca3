//! The fuzzer, run briefly: 10⁴ inputs per target (the 10⁶ runs are a command, see
//! RELIABILITY.md), each of which must break no promise. Then the bugs it found, each pinned by a
//! delivery through the daemon's router over a real store. Without the real-world corpus the
//! fuzzing tests fail, naming it, unless `ZFSYNC_TEST_SKIP=realworld`; the pinned bugs need no corpus.
#![allow(clippy::unwrap_used)]

#[path = "../../tests/prerequisites.rs"]
mod prerequisites;

use axum::http::HeaderValue;
use zfsync::routes::{ROUTE_FRESHCHAT_WEBHOOK, ROUTE_ZALO_WEBHOOK};
use zfsync::testing::Source;
use zfsync_fuzz::cases::{self, Case, FreshchatSigner, Sig};
use zfsync_fuzz::webhooks::{Answer, Harness, BODY_LIMIT};
use zfsync_fuzz::{run, Options, Target};

const CI_INPUTS: u64 = 10_000;

fn corpus_present() -> bool {
    prerequisites::realworld(env!("CARGO_MANIFEST_DIR")).is_some()
}

async fn fuzz(target: Target) {
    if !corpus_present() {
        return;
    }
    let opts = Options {
        inputs: CI_INPUTS,
        targets: vec![target],
        ..Options::default()
    };
    let report = run(&opts).await.unwrap();
    println!("{report}");
    let t = &report.targets[0];
    assert_eq!(t.inputs, CI_INPUTS);
    // Both sides of every target were reached: some inputs accepted, some refused.
    assert!(t.accepted > CI_INPUTS / 20, "{report}");
    assert!(t.refused() > CI_INPUTS / 20, "{report}");
    assert!(report.clean(), "{report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zalo_webhook_route_keeps_its_promises_under_ten_thousand_inputs() {
    fuzz(Target::Zalo).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn freshchat_webhook_route_keeps_its_promises_under_ten_thousand_inputs() {
    fuzz(Target::Freshchat).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_loader_keeps_its_promises_under_ten_thousand_inputs() {
    fuzz(Target::Config).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mapping_engine_keeps_its_promises_under_ten_thousand_inputs() {
    fuzz(Target::Mapping).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_seed_rebuilds_the_same_inputs_and_answers() {
    if !corpus_present() {
        return;
    }
    let opts = Options {
        seed: 42,
        inputs: 300,
        targets: vec![Target::Zalo, Target::Config],
        concurrency: 8,
        ..Options::default()
    };
    let a = run(&opts).await.unwrap();
    let b = run(&Options {
        concurrency: 1,
        ..opts.clone()
    })
    .await
    .unwrap();
    for (x, y) in a.targets.iter().zip(&b.targets) {
        assert_eq!(by_answer(x), by_answer(y), "{}", x.target);
    }
    // Another seed, other inputs.
    let c = run(&Options { seed: 43, ..opts }).await.unwrap();
    assert_ne!(by_answer(&a.targets[0]), by_answer(&c.targets[0]));
}

/// Outcomes by answer alone. Which of two deliveries sharing a dedupe key is `stored` and which
/// `duplicate` depends on their order, so the way each was made (the label's suffix) may swap
/// between runs; how many of each there are may not.
fn by_answer(t: &zfsync_fuzz::TargetReport) -> std::collections::BTreeMap<String, u64> {
    let mut out = std::collections::BTreeMap::new();
    for (label, n) in &t.outcomes {
        let answer = label.split(" (").next().unwrap_or(label).to_string();
        *out.entry(answer).or_default() += n;
    }
    out
}

// ---- The bugs the fuzzer found, pinned ---------------------------------------------------------

fn zalo_case(body: &[u8], signature: Option<&[u8]>) -> Case {
    Case {
        body: body.to_vec(),
        headers: signature
            .map(|s| vec![(cases::ZALO_SIGNATURE, HeaderValue::from_bytes(s).unwrap())])
            .unwrap_or_default(),
        sig: Sig::Invalid,
        mode: "pinned",
        replay: false,
    }
}

fn signed_zalo(body: &str) -> Case {
    let ts = cases::zalo_timestamp(body.as_bytes()).unwrap();
    let mac = cases::zalo_mac(
        cases::ZALO_APP_ID,
        body.as_bytes(),
        &ts,
        cases::ZALO_OA_SECRET,
    );
    Case {
        sig: Sig::Valid,
        ..zalo_case(body.as_bytes(), Some(mac.as_bytes()))
    }
}

fn signed_freshchat(signer: &FreshchatSigner, body: &[u8]) -> Case {
    Case {
        body: body.to_vec(),
        headers: vec![(
            cases::FRESHCHAT_SIGNATURE,
            HeaderValue::from_str(&signer.sign(body)).unwrap(),
        )],
        sig: Sig::Valid,
        mode: "pinned",
        replay: false,
    }
}

fn says(a: &Answer, status: u16, error: &str) {
    assert_eq!(
        (a.status, a.error.as_deref()),
        (status, Some(error)),
        "{}",
        a.body.escape_ascii()
    );
}

async fn harness() -> (Harness, FreshchatSigner) {
    let signer = FreshchatSigner::generate().unwrap();
    (Harness::new(&signer, None).await.unwrap(), signer)
}

/// A body over `server.max_body_bytes` was answered 413 with axum's plain-text body: no JSON
/// `error` naming the reason, unlike every other refusal.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_over_the_limit_is_refused_with_a_named_reason() {
    let (h, signer) = harness().await;
    let big = format!(
        r#"{{"event_name":"user_send_text","timestamp":"1","message":{{"text":"{}"}}}}"#,
        "a".repeat(BODY_LIMIT)
    );
    says(
        &h.deliver(ROUTE_ZALO_WEBHOOK, &signed_zalo(&big)).await,
        413,
        "too_large",
    );
    says(
        &h.deliver(
            ROUTE_FRESHCHAT_WEBHOOK,
            &signed_freshchat(&signer, big.as_bytes()),
        )
        .await,
        413,
        "too_large",
    );
    assert_eq!(h.rows(Source::Zalo).await.unwrap(), 0);
    assert_eq!(h.rows(Source::Freshchat).await.unwrap(), 0);
}

/// A signature header whose bytes are not text was read as no header at all: on the Zalo route a
/// body naming no event then passed for Zalo's URL check (200), and a real event was refused as
/// "missing" a signature it carried; the Freshchat route said "missing" too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signature_header_that_is_not_text_is_malformed_not_absent() {
    let (h, _signer) = harness().await;
    let not_text: &[u8] = b"mac=\xff\xfe";
    let no_event = zalo_case(br#"{"timestamp":"15503500848","tag":{}}"#, Some(not_text));
    says(
        &h.deliver(ROUTE_ZALO_WEBHOOK, &no_event).await,
        401,
        "malformed_signature",
    );
    let event = zalo_case(
        br#"{"event_name":"user_send_text","timestamp":"1","message":{"msg_id":"m","text":"hi"}}"#,
        Some(not_text),
    );
    says(
        &h.deliver(ROUTE_ZALO_WEBHOOK, &event).await,
        401,
        "malformed_signature",
    );
    // Without any header, the URL check still answers 200.
    let check = h.deliver(ROUTE_ZALO_WEBHOOK, &zalo_case(b"{}", None)).await;
    assert_eq!(
        (check.status, check.status_field.as_deref()),
        (200, Some("ok"))
    );
    let fc = Case {
        body: br#"{"action":"message_create","data":{}}"#.to_vec(),
        headers: vec![(
            cases::FRESHCHAT_SIGNATURE,
            HeaderValue::from_bytes(b"\xff\xfe\xfd").unwrap(),
        )],
        sig: Sig::Invalid,
        mode: "pinned",
        replay: false,
    };
    says(
        &h.deliver(ROUTE_FRESHCHAT_WEBHOOK, &fc).await,
        401,
        "malformed_signature",
    );
    assert_eq!(h.rows(Source::Zalo).await.unwrap(), 0);
}

/// The Freshchat route named a body that is not JSON `not_json` when unsigned and `invalid_json`
/// when signed, and a JSON body that is not an object `not_an_object` where the Zalo route says
/// `not_object`: one refusal, one name, on both routes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_refusal_has_the_same_name_on_both_routes() {
    let (h, signer) = harness().await;
    for (body, reason) in [
        (&b"{\"action\":"[..], "not_json"),
        (b"[1, 2]", "not_object"),
    ] {
        says(
            &h.deliver(ROUTE_FRESHCHAT_WEBHOOK, &signed_freshchat(&signer, body))
                .await,
            400,
            reason,
        );
    }
    let unsigned = Case {
        headers: Vec::new(),
        sig: Sig::Absent,
        ..signed_freshchat(&signer, b"{\"action\":")
    };
    says(
        &h.deliver(ROUTE_FRESHCHAT_WEBHOOK, &unsigned).await,
        400,
        "not_json",
    );
}

/// A message whose id is blank (`" "`, `""`) used that blank as its dedupe key: every later
/// message with a blank id was answered `duplicate` and never stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_with_blank_ids_are_not_taken_for_duplicates() {
    let (h, signer) = harness().await;
    for text in ["first", "second"] {
        let body = format!(
            r#"{{"event_name":"user_send_text","sender":{{"id":"246845883529197922"}},"recipient":{{"id":"388613280878808645"}},"message":{{"msg_id":" ","text":"{text}"}},"timestamp":"17000000000{}"}}"#,
            text.len()
        );
        let a = h.deliver(ROUTE_ZALO_WEBHOOK, &signed_zalo(&body)).await;
        assert_eq!(
            (a.status, a.status_field.as_deref()),
            (200, Some("stored")),
            "{text}"
        );
    }
    for text in ["first", "second"] {
        let body = format!(
            r#"{{"action":"message_create","action_time":"2023-11-14T22:13:20.000Z","actor":{{"actor_type":"agent"}},"data":{{"message":{{"id":"","conversation_id":"c1","actor_type":"agent","message_parts":[{{"text":{{"content":"{text}"}}}}]}}}}}}"#
        );
        let case = signed_freshchat(&signer, body.as_bytes());
        let a = h.deliver(ROUTE_FRESHCHAT_WEBHOOK, &case).await;
        assert_eq!(
            (a.status, a.status_field.as_deref()),
            (200, Some("stored")),
            "{text}"
        );
        // The same delivery again is still a duplicate.
        let again = h.deliver(ROUTE_FRESHCHAT_WEBHOOK, &case).await;
        assert_eq!(again.status_field.as_deref(), Some("duplicate"));
    }
    assert_eq!(h.rows(Source::Zalo).await.unwrap(), 2);
    assert_eq!(h.rows(Source::Freshchat).await.unwrap(), 2);
}
