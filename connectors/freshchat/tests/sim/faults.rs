//! Faults for reliability tests: scripted failures, hangs, failures after the effect, the rate
//! limit with its headers, latency, and the seeded random fault rate.

use std::time::Duration;

use serde_json::json;
use zfsync_freshchat::sim::{Fault, RandomFaults, SimConfig};

use super::common::{start, Env};

fn has_rate_headers(h: &reqwest::header::HeaderMap) -> bool {
    [
        "x-ratelimit-limit",
        "x-ratelimit-remaining",
        "x-ratelimit-reset",
    ]
    .iter()
    .all(|k| {
        h.get(*k)
            .is_some_and(|v| v.to_str().unwrap().parse::<i64>().is_ok())
    })
}

#[tokio::test]
async fn scripted_failures_then_recovery() {
    let env = start(SimConfig::default()).await;
    env.sim.fail_next("/v2/users", 2, 503);
    for _ in 0..2 {
        let a = env.get("/v2/users?reference_id=x").await;
        assert_eq!(a.status, 503);
        assert_eq!(a.body["code"], 503);
        assert!(a.body["status"].is_string() && a.body["message"].is_string());
    }
    assert_eq!(env.get("/v2/users?reference_id=x").await.status, 200);
    // Another prefix is not affected.
    env.sim.fail_next("/v2/conversations", 1, 500);
    assert_eq!(env.get("/v2/channels").await.status, 200);
    assert_eq!(env.get("/v2/conversations/x").await.status, 500);
    // An injected 429 says when to come back.
    env.sim.fail_next("/v2/channels", 1, 429);
    let a = env.get("/v2/channels").await;
    assert_eq!(a.status, 429);
    assert_eq!(a.headers["retry-after"], "1");
    assert!(has_rate_headers(&a.headers));
    // Over HTTP too.
    let r = env
        .http
        .post(env.url("/sim/faults"))
        .json(&json!({"path_prefix": "/v2/accounts", "n": 1, "status": 502}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(env.get("/v2/accounts/configuration").await.status, 502);
    let stats = env.sim.fault_stats();
    assert_eq!((stats.server_errors, stats.rate_limited), (4, 1));
}

#[tokio::test]
async fn a_failure_after_the_effect_hides_that_it_happened() {
    let env = start(SimConfig::default()).await;
    env.sim
        .inject("/v2/users", 1, Fault::StatusAfterEffect(504));
    let a = env
        .post(
            "/v2/users",
            json!({"reference_id": "zalo:oa1:9", "first_name": "A"}),
        )
        .await;
    assert_eq!(a.status, 504);
    // The user was created all the same.
    let a = env.get("/v2/users?reference_id=zalo:oa1:9").await;
    assert_eq!(a.body["users"].as_array().unwrap().len(), 1);
    assert_eq!(env.sim.fault_stats().after_effect, 1);
}

#[tokio::test]
async fn hangs_and_latency_make_clients_time_out() {
    let env = start(SimConfig {
        hang_for: Duration::from_millis(400),
        ..SimConfig::default()
    })
    .await;
    let quick = reqwest::Client::builder()
        .timeout(Duration::from_millis(150))
        .build()
        .unwrap();
    let call = |c: &reqwest::Client| {
        c.get(env.url("/v2/channels"))
            .bearer_auth(env.sim.api_key())
            .send()
    };
    env.sim.inject("/v2/channels", 1, Fault::Hang);
    assert!(call(&quick).await.unwrap_err().is_timeout());
    assert_eq!(call(&quick).await.unwrap().status(), 200);
    // A hang ends on its own with a gateway timeout for a patient client.
    env.sim.inject("/v2/channels", 1, Fault::Hang);
    assert_eq!(env.get("/v2/channels").await.status, 504);
    env.sim.set_latency(Duration::from_millis(400));
    assert!(call(&quick).await.unwrap_err().is_timeout());
    let r = env
        .http
        .put(env.url("/sim/latency"))
        .json(&json!({"ms": 0}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(call(&quick).await.unwrap().status(), 200);
    env.sim
        .inject("/v2/channels", 1, Fault::Delay(Duration::from_millis(400)));
    assert!(call(&quick).await.unwrap_err().is_timeout());
    assert_eq!(env.sim.fault_stats().hangs, 2);
}

#[tokio::test]
async fn the_rate_limit_counts_per_minute() {
    let env = start(SimConfig {
        rate_limit_per_minute: Some(3),
        ..SimConfig::default()
    })
    .await;
    for i in 0..3 {
        let a = env.get("/v2/channels").await;
        assert_eq!(a.status, 200, "call {i}");
        assert!(has_rate_headers(&a.headers));
        assert_eq!(
            a.headers["x-ratelimit-remaining"],
            (2 - i).to_string().as_str()
        );
    }
    let a = env.get("/v2/channels").await;
    assert_eq!(a.status, 429);
    assert_eq!(a.body["code"], 429);
    let wait: u64 = a.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&wait), "{wait}");
    let reset: i64 = a.headers["x-ratelimit-reset"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(reset > chrono::Utc::now().timestamp() - 1);
    // Lifted over HTTP.
    let r = env
        .http
        .put(env.url("/sim/rate-limit"))
        .json(&json!({"per_minute": null}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let a = env.get("/v2/channels").await;
    assert_eq!(a.status, 200);
    assert!(a.headers.get("x-ratelimit-limit").is_none());
}

/// The outcome of each of `n` calls: status, or 0 for a timeout.
async fn outcomes(env: &Env, n: usize) -> Vec<u16> {
    let quick = reqwest::Client::builder()
        .timeout(Duration::from_millis(700))
        .build()
        .unwrap();
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let r = quick
            .get(env.url("/v2/accounts/configuration"))
            .bearer_auth(env.sim.api_key())
            .send()
            .await;
        out.push(match r {
            Ok(r) => r.status().as_u16(),
            Err(e) => {
                assert!(e.is_timeout(), "{e}");
                0
            }
        });
    }
    out
}

#[tokio::test]
async fn a_seeded_random_fault_rate() {
    let cfg = SimConfig {
        random_faults: Some(RandomFaults { rate: 0.2, seed: 7 }),
        // Far beyond the client's timeout below, which is itself far beyond a normal answer even
        // on a busy machine: a timeout here is a hang and nothing else.
        hang_for: Duration::from_millis(1500),
        ..SimConfig::default()
    };
    let a = start(cfg.clone()).await;
    let first = outcomes(&a, 200).await;
    let failed = first.iter().filter(|s| **s != 200).count();
    assert!((20..=70).contains(&failed), "{failed} of 200 failed");
    assert!(first.iter().any(|s| *s >= 500), "some 5xx");
    assert!(first.contains(&429), "some 429");
    assert!(first.contains(&0), "some timeouts");
    let stats = a.sim.fault_stats();
    assert_eq!(
        (stats.server_errors + stats.rate_limited + stats.hangs) as usize,
        failed
    );
    // The same seed gives the same sequence.
    let b = start(cfg).await;
    assert_eq!(outcomes(&b, 200).await, first);
    // Set over HTTP, and cleared from Rust.
    let r = b
        .http
        .put(b.url("/sim/faults/random"))
        .json(&json!({"rate": 1.0, "seed": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert!(outcomes(&b, 5).await.iter().all(|s| *s != 200));
    b.sim.set_random_faults(None);
    assert_eq!(outcomes(&b, 5).await, [200; 5]);
    let r = b
        .http
        .put(b.url("/sim/faults/random"))
        .json(&json!({"rate": 2.0}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
}
