//! The crate's client against the simulator over loopback: the OAuth flow (PKCE, secrets, token
//! rotation).

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde_json::{json, Value};
use zfsync_zalo::sim::{Fault, SimConfig};
use zfsync_zalo::{ClientConfig, Pkce, ZaloClient, ZaloError};

use super::client::api_code;
use super::spawn;

#[tokio::test]
async fn oauth_flow_with_pkce_and_rotation() {
    // Zalo may echo `state` and `code_challenge` (the official example shows neither).
    let cfg = SimConfig {
        redirect_uri: Some("https://zfsync.example/oauth/zalo/callback".into()),
        callback_state: true,
        callback_code_challenge: true,
        ..SimConfig::default()
    };
    let (_sim, client) = spawn(cfg.clone()).await;
    let pkce = Pkce::generate().unwrap();
    let state = zfsync_zalo::random_state().unwrap();
    let url = client.permission_url(
        "https://zfsync.example/oauth/zalo/callback",
        &pkce.challenge,
        &state,
    );
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let resp = http.get(url).send().await.unwrap();
    assert_eq!(resp.status(), 302);
    let loc = url::Url::parse(resp.headers()["location"].to_str().unwrap()).unwrap();
    assert!(loc
        .as_str()
        .starts_with("https://zfsync.example/oauth/zalo/callback?"));
    let q: std::collections::HashMap<String, String> = loc.query_pairs().into_owned().collect();
    assert_eq!(q["oa_id"], cfg.oa_id);
    assert_eq!(q["state"], state);
    assert_eq!(q["code_challenge"], pkce.challenge);

    let pair = client
        .exchange_code(&q["code"], Some(&pkce.verifier))
        .await
        .unwrap();
    assert_eq!(pair.expires_in, Duration::from_secs(90_000));
    client.oa_info(&pair.access_token).await.unwrap();
    // Single use.
    let e = client
        .exchange_code(&q["code"], Some(&pkce.verifier))
        .await
        .unwrap_err();
    // The simulator's own code for a spent code (the reference lists none): refused, not retried.
    assert!(matches!(&e, ZaloError::OAuth { .. }), "{e:?}");
    assert!(!e.is_transient());

    // Rotation retires the old refresh and access tokens at once.
    let next = client.refresh_token(&pair.refresh_token).await.unwrap();
    assert_eq!(api_code(client.oa_info(&pair.access_token).await), -220);
    client.oa_info(&next.access_token).await.unwrap();
    let e = client.refresh_token(&pair.refresh_token).await.unwrap_err();
    assert_eq!(e.code(), Some(-14014));
    assert!(matches!(&e, ZaloError::OAuth { name: Some(n), .. } if n == "Invalid refresh token"));
    assert!(!e.is_transient());
    assert!(!e.to_string().contains(pair.refresh_token.expose_secret()));

    // Wrong redirect URI and app id.
    let bad = client.permission_url("https://evil.example/cb", &pkce.challenge, &state);
    let body: Value = http.get(bad).send().await.unwrap().json().await.unwrap();
    assert_eq!(body["error"], -14003);
    let mut bad = client.permission_url("https://zfsync.example/oauth/zalo/callback", "c", "s");
    bad.set_query(Some("app_id=1&redirect_uri=x"));
    let body: Value = http.get(bad).send().await.unwrap().json().await.unwrap();
    assert_eq!(body["error"], -14002);
}

#[tokio::test]
async fn oauth_enforces_pkce_and_secrets() {
    let (sim, client) = spawn(SimConfig::default()).await;
    let pkce = Pkce::generate().unwrap();
    let code = sim.issue_code(Some(&pkce.challenge));
    let e = client.exchange_code(&code, None).await.unwrap_err();
    assert!(matches!(e, ZaloError::OAuth { .. }), "{e:?}");
    let code = sim.issue_code(Some(&pkce.challenge));
    let other = Pkce::generate().unwrap();
    assert!(client
        .exchange_code(&code, Some(&other.verifier))
        .await
        .is_err());
    // Without a challenge, no verifier is needed.
    let code = sim.issue_code(None);
    client.exchange_code(&code, None).await.unwrap();
    // Unknown code.
    assert!(matches!(
        client.exchange_code("nope", None).await.unwrap_err(),
        ZaloError::OAuth { .. }
    ));
    // Wrong app secret.
    let cc = ClientConfig {
        app_secret: SecretString::from("wrong"),
        ..client.config().clone()
    };
    let wrong = ZaloClient::new(cc).unwrap();
    let code = sim.issue_code(None);
    assert!(matches!(
        wrong.exchange_code(&code, None).await,
        Err(ZaloError::OAuth { code: Some(_), .. })
    ));
    // HTTP control route issues codes and tokens.
    let http = reqwest::Client::new();
    let v: Value = http
        .post(sim.api_base().join("/sim/oauth/code").unwrap())
        .json(&json!({"code_challenge": pkce.challenge}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    client
        .exchange_code(v["code"].as_str().unwrap(), Some(&pkce.verifier))
        .await
        .unwrap();
    let v: Value = http
        .post(sim.api_base().join("/sim/tokens").unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let refresh = SecretString::from(v["refresh_token"].as_str().unwrap().to_owned());
    client.refresh_token(&refresh).await.unwrap();
    // Injected OAuth failure.
    sim.fail_next(
        "/v4/oa/access_token",
        1,
        Fault::Api {
            code: -14014,
            message: "Invalid refresh token".into(),
        },
    );
    let (_, r) = sim.issue_tokens();
    assert_eq!(
        client
            .refresh_token(&SecretString::from(r.clone()))
            .await
            .unwrap_err()
            .code(),
        Some(-14014)
    );
    client.refresh_token(&SecretString::from(r)).await.unwrap();
}
