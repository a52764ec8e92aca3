//! Injected failures, seen by a plain HTTP caller: Zalo error codes and HTTP statuses per endpoint,
//! a request that hangs, a connection that closes before Zalo acts and one that closes after (the
//! message is sent and echoed, the answer lost), latency, media faults, and a seeded random share of
//! failing calls set from Rust or from the control route.

use std::time::Duration;

use serde_json::{json, Value};
use zfsync_zalo::sim::{Fault, RandomFaults, SimConfig, UserAction, ZaloSim};

use super::*;

const CS: &str = "/v3.0/oa/message/cs";

async fn raw_send(
    sim: &ZaloSim,
    tok: &str,
    timeout: Duration,
) -> Result<(u16, String), reqwest::Error> {
    let r = reqwest::Client::builder()
        .timeout(timeout)
        .build()
        .unwrap()
        .post(sim.api_base().join(CS.trim_start_matches('/')).unwrap())
        .header("access_token", tok)
        .json(&json!({"recipient": {"user_id": USER}, "message": {"text": "x"}}))
        .send()
        .await?;
    let status = r.status().as_u16();
    Ok((status, r.text().await?))
}

#[tokio::test]
async fn queued_faults_hit_only_their_path_in_order() {
    let (sim, _c, recv) = with_receiver(SimConfig {
        hang: Duration::from_secs(10),
        ..SimConfig::default()
    })
    .await;
    let tok = token(&sim);
    active_user(&sim, USER);
    let long = Duration::from_secs(5);
    sim.fail_next(
        CS,
        1,
        Fault::Api {
            code: -320,
            message: "Your app needs to connect with Zalo Cloud Account to use paid features"
                .into(),
        },
    );
    sim.fail_next(CS, 2, Fault::HttpStatus(502));
    sim.fail_next(CS, 1, Fault::Hang);
    sim.fail_next(CS, 1, Fault::Disconnect);
    // Another path is untouched.
    assert_eq!(
        api_get(&sim, "/v2.0/oa/getoa", &tok, None).await.1["error"],
        0
    );
    let (s, b) = raw_send(&sim, &tok, long).await.unwrap();
    assert_eq!(
        (
            s,
            serde_json::from_str::<Value>(&b).unwrap()["error"].as_i64()
        ),
        (200, Some(-320))
    );
    assert_eq!(raw_send(&sim, &tok, long).await.unwrap().0, 502);
    assert_eq!(raw_send(&sim, &tok, long).await.unwrap().0, 502);
    assert!(raw_send(&sim, &tok, Duration::from_millis(100))
        .await
        .unwrap_err()
        .is_timeout());
    let e = raw_send(&sim, &tok, long).await.unwrap_err();
    assert!(!e.is_timeout(), "{e}");
    // None of those sent anything.
    assert!(sim.sent_to(USER).is_empty());
    let (s, b) = raw_send(&sim, &tok, long).await.unwrap();
    assert_eq!(
        (
            s,
            serde_json::from_str::<Value>(&b).unwrap()["error"].as_i64()
        ),
        (200, Some(0))
    );
    assert_eq!(sim.sent_to(USER).len(), 1);
    idle(&sim).await;
    assert_eq!(recv.events().len(), 1);
}

#[tokio::test]
async fn a_lost_answer_still_sent_the_message() {
    let (sim, client, recv) = with_receiver(SimConfig::default()).await;
    let tok = token(&sim);
    active_user(&sim, USER);
    sim.fail_next(CS, 1, Fault::LoseResponse);
    let e = client
        .send_message(
            &secrecy::SecretString::from(tok.clone()),
            USER,
            &zfsync_zalo::OutboundMessage::Text {
                text: "có gửi không?".into(),
                quote_message_id: None,
            },
        )
        .await
        .unwrap_err();
    assert!(e.is_transient(), "{e:?}");
    let sent = sim.sent_to(USER);
    assert_eq!(sent.len(), 1);
    idle(&sim).await;
    // The echo tells the caller what happened.
    let echo = recv.bodies().pop().unwrap();
    assert_eq!(echo["message"]["msg_id"], sent[0].message_id.as_str());
    // And the history does too.
    let (_, v) = api_get(
        &sim,
        "/v2.0/oa/conversation",
        &tok,
        Some(&json!({"user_id": USER, "offset": 0, "count": 1})),
    )
    .await;
    assert_eq!(v["data"][0]["message"], "có gửi không?");
}

#[tokio::test]
async fn latency_and_media_faults() {
    let sim = start(SimConfig::default()).await;
    let tok = token(&sim);
    sim.set_latency(Duration::from_secs(5));
    let impatient = reqwest::Client::builder()
        .timeout(Duration::from_millis(100))
        .build()
        .unwrap();
    let r = impatient
        .get(sim.api_base().join("v2.0/oa/getoa").unwrap())
        .header("access_token", &tok)
        .send()
        .await;
    assert!(r.unwrap_err().is_timeout());
    sim.set_latency(Duration::ZERO);
    sim.user_sends(
        USER,
        UserAction::Audio {
            bytes: bytes::Bytes::from_static(b"#!AMR"),
        },
    )
    .await;
    let (_, v) = api_get(
        &sim,
        "/v2.0/oa/listrecentchat",
        &tok,
        Some(&json!({"offset": 0, "count": 1})),
    )
    .await;
    let url = v["data"][0]["url"].as_str().unwrap().to_owned();
    sim.fail_next("/sim/media", 1, Fault::HttpStatus(503));
    assert_eq!(reqwest::get(&url).await.unwrap().status(), 503);
    let r = reqwest::get(&url).await.unwrap();
    assert_eq!(r.headers()["content-type"], "audio/amr");
    assert_eq!(r.bytes().await.unwrap().as_ref(), b"#!AMR");
    assert_eq!(
        reqwest::get(sim.api_base().join("sim/media/nope").unwrap())
            .await
            .unwrap()
            .status(),
        404
    );
}

/// Outcomes of `n` getoa calls: the error code, or the HTTP status as a negative number.
async fn outcomes(sim: &ZaloSim, tok: &str, n: usize) -> Vec<i64> {
    let mut out = vec![];
    for _ in 0..n {
        let r = reqwest::Client::new()
            .get(sim.api_base().join("v2.0/oa/getoa").unwrap())
            .header("access_token", tok)
            .send()
            .await;
        out.push(match r {
            Ok(r) if r.status() == 200 => {
                r.json::<Value>().await.unwrap()["error"].as_i64().unwrap()
            }
            Ok(r) => -i64::from(r.status().as_u16()),
            Err(_) => 1,
        });
    }
    out
}

#[tokio::test]
async fn random_faults_are_seeded_and_settable_over_http() {
    let cfg = SimConfig {
        hang: Duration::from_millis(10),
        ..SimConfig::default()
    };
    let a = start(cfg.clone()).await;
    let b = start(cfg).await;
    a.set_random_faults(Some(RandomFaults::new(0.2, 7)));
    let r: Value = reqwest::Client::new()
        .post(b.api_base().join("sim/faults/random").unwrap())
        .json(&json!({"rate": 0.2, "seed": 7}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(r["ok"], true);
    let (ta, tb) = (token(&a), token(&b));
    let oa = outcomes(&a, &ta, 200).await;
    let ob = outcomes(&b, &tb, 200).await;
    assert_eq!(oa, ob, "same seed, same faults");
    let failed = oa.iter().filter(|c| **c != 0).count();
    assert!(
        (20..=60).contains(&failed),
        "{failed} of 200 failed at 20 %"
    );
    for kind in [-502, -503, -429, -32, 1, -216] {
        assert!(oa.contains(&kind), "{kind} missing from {oa:?}");
    }
    // Off again; and the mix can be narrowed.
    a.set_random_faults(None);
    assert!(outcomes(&a, &ta, 20).await.iter().all(|c| *c == 0));
    a.set_random_faults(Some(RandomFaults {
        rate: 1.0,
        seed: 1,
        kinds: vec![Fault::HttpStatus(500)],
    }));
    assert_eq!(outcomes(&a, &ta, 3).await, [-500, -500, -500]);
    // A queued fault goes first.
    a.fail_next(
        "/v2.0/oa/getoa",
        1,
        Fault::Api {
            code: -211,
            message: "Out of quota".into(),
        },
    );
    assert_eq!(outcomes(&a, &ta, 2).await, [-211, -500]);
}
