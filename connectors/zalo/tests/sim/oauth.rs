//! The OAuth host over raw HTTP: the consent redirect and its switches, which OA approves, PKCE,
//! single-use codes (10 minutes) and refresh tokens (rotation retires the old access token), 25 h
//! access tokens, the two hosts kept apart, and faults at the token endpoint.

use std::collections::HashMap;
use std::time::Duration;

use serde_json::{json, Value};
use zfsync_zalo::sim::{Fault, SimConfig, ZaloSim};

use super::*;

const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// Opens the consent page; the redirect's query, or the error body.
async fn consent(
    sim: &ZaloSim,
    redirect: &str,
    challenge: &str,
    state: &str,
) -> Result<HashMap<String, String>, Value> {
    let mut u = sim.oauth_base().join("v4/oa/permission").unwrap();
    u.query_pairs_mut()
        .append_pair("app_id", &sim.config().app_id)
        .append_pair("redirect_uri", redirect)
        .append_pair("code_challenge", challenge)
        .append_pair("state", state);
    let r = no_redirects().get(u).send().await.unwrap();
    if r.status() == 302 {
        let loc = url::Url::parse(r.headers()["location"].to_str().unwrap()).unwrap();
        assert!(loc.as_str().starts_with(redirect));
        Ok(loc.query_pairs().into_owned().collect())
    } else {
        assert_eq!(r.status(), 200);
        Err(r.json().await.unwrap())
    }
}

async fn token_call(sim: &ZaloSim, form: &[(&str, &str)], secret: Option<&str>) -> Value {
    let cfg = sim.config();
    let mut form: Vec<(&str, &str)> = form.to_vec();
    form.push(("app_id", &cfg.app_id));
    reqwest::Client::new()
        .post(sim.oauth_base().join("v4/oa/access_token").unwrap())
        .header("secret_key", secret.unwrap_or(&cfg.app_secret))
        .form(&form)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

async fn exchange(sim: &ZaloSim, code: &str, verifier: Option<&str>) -> Value {
    let mut form = vec![("code", code), ("grant_type", "authorization_code")];
    if let Some(v) = verifier {
        form.push(("code_verifier", v));
    }
    token_call(sim, &form, None).await
}

async fn refresh(sim: &ZaloSim, rt: &str) -> Value {
    token_call(
        sim,
        &[("refresh_token", rt), ("grant_type", "refresh_token")],
        None,
    )
    .await
}

fn s<'a>(v: &'a Value, k: &str) -> &'a str {
    v[k].as_str().unwrap_or_else(|| panic!("{k} in {v}"))
}

#[tokio::test]
async fn consent_redirect_follows_the_switches_and_the_redirect_rule() {
    let cb = "https://zfsync.example/oauth/zalo/callback";
    let sim = start(SimConfig {
        redirect_uri: Some(cb.into()),
        ..SimConfig::default()
    })
    .await;
    let q = consent(&sim, cb, CHALLENGE, "st-1").await.unwrap();
    let mut keys: Vec<&str> = q.keys().map(String::as_str).collect();
    keys.sort();
    assert_eq!(keys, ["code", "oa_id"], "the documented callback");
    assert_eq!(q["oa_id"], sim.config().oa_id);
    let e = consent(&sim, "https://evil.example/cb", CHALLENGE, "s")
        .await
        .unwrap_err();
    assert_eq!(
        (e["error"].as_i64(), e.get("access_token")),
        (Some(-14003), None)
    );
    assert!(sim
        .permission_requests()
        .iter()
        .any(|r| r.contains(&("state".into(), "st-1".into()))));

    let sim = start(SimConfig {
        callback_state: true,
        callback_code_challenge: true,
        ..SimConfig::default()
    })
    .await;
    let q = consent(&sim, cb, CHALLENGE, "st-2").await.unwrap();
    assert_eq!(
        (q["state"].as_str(), q["code_challenge"].as_str()),
        ("st-2", CHALLENGE)
    );
    // Without a configured callback any http(s) URL is taken; other schemes are not.
    assert!(consent(&sim, "javascript:alert(1)", CHALLENGE, "s")
        .await
        .is_err());
    let mut u = sim.oauth_base().join("v4/oa/permission").unwrap();
    u.set_query(Some("app_id=999&redirect_uri=https%3A%2F%2Fx"));
    let e: Value = no_redirects()
        .get(u)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(e["error"], -14002);
}

#[tokio::test]
async fn an_attackers_oa_can_approve_and_its_tokens_say_so() {
    let sim = start(SimConfig::default()).await;
    add_user(&sim, USER);
    sim.user_sends(USER, zfsync_zalo::sim::UserAction::Text("hi".into()))
        .await;
    sim.approve_as("6660000000000000666");
    let q = consent(&sim, "https://zfsync.example/cb", CHALLENGE, "s")
        .await
        .unwrap();
    assert_eq!(q["oa_id"], "6660000000000000666");
    let pair = exchange(&sim, &q["code"], Some(VERIFIER)).await;
    let tok = s(&pair, "access_token");
    let (_, oa) = api_get(&sim, "/v2.0/oa/getoa", tok, None).await;
    assert_eq!(oa["data"]["oa_id"], "6660000000000000666");
    // The attacker's OA has none of our users.
    assert_eq!(send_text(&sim, tok, USER, "x").await["error"], -213);
    sim.approve_as(&sim.config().oa_id);
    let q = consent(&sim, "https://zfsync.example/cb", CHALLENGE, "s")
        .await
        .unwrap();
    assert_eq!(q["oa_id"], sim.config().oa_id);
}

#[tokio::test]
async fn pkce_and_single_use_codes_that_live_ten_minutes() {
    let sim = start(SimConfig::default()).await;
    // A wrong verifier consumes the code: the right one is refused afterwards.
    let code = sim.issue_code(Some(CHALLENGE));
    assert_eq!(
        exchange(
            &sim,
            &code,
            Some("wrong-verifier-wrong-verifier-wrong-verif")
        )
        .await["error"],
        -14019
    );
    assert_eq!(exchange(&sim, &code, Some(VERIFIER)).await["error"], -14019);
    let code = sim.issue_code(Some(CHALLENGE));
    assert!(exchange(&sim, &code, None)
        .await
        .get("access_token")
        .is_none());
    let code = sim.issue_code(Some(CHALLENGE));
    let ok = exchange(&sim, &code, Some(VERIFIER)).await;
    assert_eq!(s(&ok, "expires_in"), "90000");
    assert_eq!(
        exchange(&sim, &code, Some(VERIFIER)).await["error"],
        -14019,
        "single use"
    );
    // Without a challenge no verifier is needed.
    assert!(exchange(&sim, &sim.issue_code(None), None)
        .await
        .get("access_token")
        .is_some());
    // 10 minutes.
    let code = sim.issue_code(None);
    sim.advance_clock(Duration::from_secs(9 * 60));
    assert!(exchange(&sim, &code, None)
        .await
        .get("access_token")
        .is_some());
    let code = sim.issue_code(None);
    sim.advance_clock(Duration::from_secs(10 * 60 + 1));
    let e = exchange(&sim, &code, None).await;
    assert_eq!(
        (e["error"].as_i64(), e["error_name"].as_str()),
        (Some(-14019), Some("Invalid code"))
    );
    // Wrong secret_key, unknown grant.
    let e = token_call(
        &sim,
        &[
            ("code", &sim.issue_code(None)),
            ("grant_type", "authorization_code"),
        ],
        Some("nope"),
    )
    .await;
    assert_eq!(e["error"], -14004);
    assert!(e.get("access_token").is_none());
    assert_eq!(
        token_call(&sim, &[("grant_type", "password")], None).await["error"],
        -14001
    );
}

#[tokio::test]
async fn refresh_rotates_once_and_retires_the_old_access_token() {
    let sim = start(SimConfig::default()).await;
    let (access, rt) = sim.issue_tokens();
    let next = refresh(&sim, &rt).await;
    let (_, old) = api_get(&sim, "/v2.0/oa/getoa", &access, None).await;
    assert_eq!(old["error"], -220);
    let (_, new) = api_get(&sim, "/v2.0/oa/getoa", s(&next, "access_token"), None).await;
    assert_eq!(new["error"], 0);
    let again = refresh(&sim, &rt).await;
    assert_eq!(
        (again["error"].as_i64(), again["error_name"].as_str()),
        (Some(-14014), Some("Invalid refresh token"))
    );
    for k in ["error_reason", "error_description", "ref_doc"] {
        assert!(again[k].is_string(), "{k}");
    }
    // Refresh tokens expire too.
    sim.expire_refresh_tokens();
    assert_eq!(
        refresh(&sim, s(&next, "refresh_token")).await["error"],
        -14014
    );
}

/// A pair issued by an earlier run, taken back (a store kept across an upgrade holds it), works
/// like a fresh one: the access token calls the API, the refresh token rotates once. Tokens this
/// Zalo never issued stay refused.
#[tokio::test]
async fn a_pair_from_an_earlier_run_can_be_taken_back() {
    let earlier = start(SimConfig::default()).await;
    let (access, rt) = earlier.issue_tokens();
    earlier.shutdown();
    let sim = start(SimConfig::default()).await;
    assert_eq!(
        api_get(&sim, "/v2.0/oa/getoa", &access, None).await.1["error"],
        -216,
        "a token this run never issued"
    );
    sim.restore_tokens(&access, &rt);
    assert_eq!(
        api_get(&sim, "/v2.0/oa/getoa", &access, None).await.1["error"],
        0
    );
    let next = refresh(&sim, &rt).await;
    assert_eq!(
        api_get(&sim, "/v2.0/oa/getoa", s(&next, "access_token"), None)
            .await
            .1["error"],
        0
    );
    assert_eq!(refresh(&sim, &rt).await["error"], -14014);
    assert_eq!(sim.token_refreshes(), (1, 1));
}

#[tokio::test]
async fn access_tokens_live_25_hours() {
    let sim = start(SimConfig::default()).await;
    let tok = token(&sim);
    sim.advance_clock(Duration::from_secs(24 * 3600));
    assert_eq!(
        api_get(&sim, "/v2.0/oa/getoa", &tok, None).await.1["error"],
        0
    );
    sim.advance_clock(Duration::from_secs(3600 + 1));
    let (_, e) = api_get(&sim, "/v2.0/oa/getoa", &tok, None).await;
    assert_eq!(
        e,
        json!({"error": -216, "message": "Access token has expired"})
    );
}

#[tokio::test]
async fn the_two_hosts_do_not_answer_for_each_other() {
    let sim = start(SimConfig::default()).await;
    let http = reqwest::Client::new();
    // OpenAPI paths on the OAuth host, OAuth paths on the OpenAPI host.
    let v: Value = http
        .get(sim.oauth_base().join("v2.0/oa/getoa").unwrap())
        .header("access_token", token(&sim))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["error"], json!("404"));
    let v: Value = http
        .post(sim.api_base().join("v4/oa/access_token").unwrap())
        .form(&[("grant_type", "refresh_token")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["error"], json!(404));
    // The crate's client with the bases swapped fails on both sides.
    let mut cc = zfsync_zalo::ClientConfig::new(
        sim.config().app_id,
        secrecy::SecretString::from(sim.config().app_secret),
    );
    cc.api_base = sim.oauth_base();
    cc.oauth_base = sim.api_base();
    let swapped = zfsync_zalo::ZaloClient::new(cc).unwrap();
    let (_, rt) = sim.issue_tokens();
    assert!(swapped
        .refresh_token(&secrecy::SecretString::from(rt.clone()))
        .await
        .is_err());
    assert!(swapped
        .oa_info(&secrecy::SecretString::from(token(&sim)))
        .await
        .is_err());
    // The refresh token was not spent by the wrong host.
    assert!(refresh(&sim, &rt).await.get("access_token").is_some());
}

#[tokio::test]
async fn token_endpoint_faults() {
    let sim = start(SimConfig {
        hang: Duration::from_secs(10),
        ..SimConfig::default()
    })
    .await;
    let url = sim.oauth_base().join("v4/oa/access_token").unwrap();
    let (_, rt) = sim.issue_tokens();
    let form = |rt: &str| {
        vec![
            ("refresh_token".to_owned(), rt.to_owned()),
            ("grant_type".to_owned(), "refresh_token".to_owned()),
            ("app_id".to_owned(), sim.config().app_id),
        ]
    };
    let post = |rt: String, timeout: Duration| {
        let url = url.clone();
        let form = form(&rt);
        let secret = sim.config().app_secret;
        async move {
            reqwest::Client::builder()
                .timeout(timeout)
                .build()
                .unwrap()
                .post(url)
                .header("secret_key", secret)
                .form(&form)
                .send()
                .await
        }
    };
    let long = Duration::from_secs(5);
    sim.fail_next("/v4/oa/access_token", 1, Fault::HttpStatus(503));
    assert_eq!(post(rt.clone(), long).await.unwrap().status(), 503);
    sim.fail_next("/v4/oa/access_token", 1, Fault::HttpStatus(429));
    assert_eq!(post(rt.clone(), long).await.unwrap().status(), 429);
    sim.fail_next(
        "/v4/oa/access_token",
        1,
        Fault::Api {
            code: -32,
            message: "Your application reached limit call api".into(),
        },
    );
    let v: Value = post(rt.clone(), long).await.unwrap().json().await.unwrap();
    assert_eq!(
        (v["error"].as_i64(), v.get("access_token")),
        (Some(-32), None)
    );
    sim.fail_next("/v4/oa/access_token", 1, Fault::Hang);
    assert!(post(rt.clone(), Duration::from_millis(100))
        .await
        .unwrap_err()
        .is_timeout());
    sim.fail_next("/v4/oa/access_token", 1, Fault::Disconnect);
    assert!(post(rt.clone(), long).await.is_err());
    // None of those spent the refresh token...
    let v: Value = post(rt, long).await.unwrap().json().await.unwrap();
    let rt2 = s(&v, "refresh_token").to_owned();
    // ...but a lost answer does: Zalo rotated it, the caller never saw the new pair.
    sim.fail_next("/v4/oa/access_token", 1, Fault::LoseResponse);
    assert!(post(rt2.clone(), long).await.is_err());
    let v: Value = post(rt2, long).await.unwrap().json().await.unwrap();
    assert_eq!(v["error"], -14014);
}
