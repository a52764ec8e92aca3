//! Zalo authorization: which failures at the token endpoint are passing trouble and which mean an
//! OA admin must consent again, and the OAuth callback when Zalo leaves `state` out.

use std::time::{Duration, Instant};

use zfsync::tools::sandbox::{wait_for, Env, EnvOptions};
use zfsync_freshchat::sim::parts;
use zfsync_zalo::sim::Fault;

use super::freshchat_event_with;
use crate::helpers::*;
use crate::tamper;

const U1: &str = "5234000000000000931";
const TOKEN_PATH: &str = "/v4/oa/access_token";

async fn needs_reauth(env: &Env) -> Option<String> {
    stored_tokens(env).await.needs_reauth
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transient_failures_at_the_token_endpoint_are_retried_never_reauthorization() {
    let env = env().await;
    let conv = start_conversation(&env, U1).await;
    let refresh_before = stored_tokens(&env).await.refresh_token;
    // The access token dies at Zalo; every refresh then meets one of these first.
    env.zalo.expire_access_tokens();
    for fault in [
        Fault::HttpStatus(503),
        Fault::HttpStatus(502),
        Fault::HttpStatus(429),
        Fault::Api {
            code: -32,
            message: "The request rate has exceeded the limit".into(),
        },
        Fault::Disconnect,
        // Held past the client's timeout.
        Fault::Hang,
    ] {
        env.zalo.fail_next(TOKEN_PATH, 1, fault);
    }
    env.freshchat
        .agent_sends(
            &conv,
            &env.freshchat.default_agent_id(),
            vec![parts::text("sau sự cố")],
        )
        .await
        .unwrap();
    // While Zalo's token endpoint fails, the pairing is never marked "needs re-authorization".
    let ready = format!("{}/readyz", env.daemon_url());
    let deadline = Instant::now() + Duration::from_secs(120);
    while env.zalo.sent_to(U1).is_empty() {
        assert_eq!(
            needs_reauth(&env).await,
            None,
            "a passing failure is not a refusal"
        );
        let page = operator_page(&env, &ready).await;
        assert!(!page.contains("re-authorization"), "{page}");
        assert!(Instant::now() < deadline, "the reply never went out");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let sent = zalo_sent(&env, U1, 1).await;
    assert_eq!(zalo_text(&sent[0]).as_deref(), Some("sau sự cố"));
    assert_ne!(
        stored_tokens(&env).await.refresh_token,
        refresh_before,
        "refreshed once Zalo answered, the new pair stored"
    );
    let attempts = freshchat_event_with(&env, "sau sự cố")
        .await
        .unwrap()
        .attempts;
    assert!(attempts >= 2, "retried with backoff: {attempts} attempts");
    assert_eq!(needs_reauth(&env).await, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zalos_documented_refusal_at_the_token_endpoint_needs_reauthorization() {
    let env = env().await;
    let conv = start_conversation(&env, U1).await;
    env.zalo.expire_access_tokens();
    env.zalo.fail_next(
        TOKEN_PATH,
        1,
        Fault::Api {
            code: -14014,
            message: "Refresh token is invalid".into(),
        },
    );
    env.freshchat
        .agent_sends(
            &conv,
            &env.freshchat.default_agent_id(),
            vec![parts::text("chờ kết nối lại")],
        )
        .await
        .unwrap();
    let reason = wait_for(WAIT, || async { needs_reauth(&env).await })
        .await
        .expect("marked as needing re-authorization");
    assert!(reason.contains("-14014"), "{reason}");
    let r = reqwest::Client::new()
        .get(format!("{}/readyz", env.daemon_url()))
        .bearer_auth(&env.admin_token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 503);
    assert!(r.text().await.unwrap().contains("re-authorization"));
    assert!(env.zalo.sent_to(U1).is_empty());
    // An admin consents again: the waiting reply goes out.
    env.connect_zalo().await.unwrap();
    let sent = zalo_sent(&env, U1, 1).await;
    assert_eq!(zalo_text(&sent[0]).as_deref(), Some("chờ kết nối lại"));
}

/// A code of Zalo's token endpoint that the reference does not list.
const UNLISTED: i64 = -14099;

/// The token endpoint answers every refresh with [`UNLISTED`] in Zalo's OAuth error body until the
/// fault is cleared, and the access token has died at Zalo, so the next send must refresh.
fn refuse_refreshes_with_an_unlisted_code(env: &Env) {
    env.zalo.expire_access_tokens();
    env.zalo.fail_until_cleared(
        TOKEN_PATH,
        Fault::Api {
            code: UNLISTED,
            message: "Unexpected error".into(),
        },
    );
}

/// `zfsync status` as an operator runs it (another process), text or JSON.
async fn status(env: &Env, json: bool) -> String {
    let args: &[&str] = if json {
        &["status", "--json"]
    } else {
        &["status"]
    };
    zfsync_stdout(env, args).await
}

/// `/readyz` as an operator reads it: status and reason.
async fn readyz(env: &Env) -> (u16, String) {
    let r = reqwest::Client::new()
        .get(format!("{}/readyz", env.daemon_url()))
        .bearer_auth(&env.admin_token)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

/// The state and last error of the agent's reply that holds `text`.
async fn reply_row(env: &Env, text: &str) -> (Option<String>, Option<String>) {
    match freshchat_event_with(env, text).await {
        Some(row) => (Some(row.state.as_str().to_string()), row.last_error),
        None => (None, None),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unlisted_refusal_at_the_token_endpoint_waits_shows_its_code_and_passes() {
    let env = env().await;
    let conv = start_conversation(&env, U1).await;
    refuse_refreshes_with_an_unlisted_code(&env);
    env.freshchat
        .agent_sends(
            &conv,
            &env.freshchat.default_agent_id(),
            vec![parts::text("khi Zalo trục trặc")],
        )
        .await
        .unwrap();
    // The reply waits for the tokens: neither failed nor sent, with the code as its reason.
    let (state, error) = wait_for(WAIT, || async {
        let (state, error) = reply_row(&env, "khi Zalo").await;
        error
            .as_deref()
            .is_some_and(|e| e.contains(&UNLISTED.to_string()))
            .then_some((state, error))
    })
    .await
    .expect("the reply records the token endpoint's code");
    assert_eq!(state.as_deref(), Some("pending"), "{error:?}");
    assert!(env.zalo.sent_to(U1).is_empty());
    // Not ready, with the code and since when; not (yet) "needs re-authorization".
    let (code, reason) = readyz(&env).await;
    assert_eq!(code, 503, "{reason}");
    assert!(
        reason.contains("error -14099") && reason.contains("since"),
        "{reason}"
    );
    assert!(reason.contains("retries with backoff"), "{reason}");
    assert!(!reason.contains("needs re-authorization"), "{reason}");
    assert_eq!(needs_reauth(&env).await, None);
    // `zfsync status` names the code, as text and as JSON.
    let text = status(&env, false).await;
    assert!(
        text.contains("REFRESH REFUSED") && text.contains("error -14099"),
        "{text}"
    );
    let v: serde_json::Value = serde_json::from_str(&status(&env, true).await).unwrap();
    assert_eq!(v["zalo_token"]["token_error"]["code"], UNLISTED, "{v}");
    assert!(v["zalo_token"]["token_error"]["since"].is_i64(), "{v}");
    assert!(v["zalo_token"]["needs_reauth"].is_null(), "{v}");

    // Zalo's token endpoint recovers: the next refresh works and the waiting reply goes out.
    env.zalo.clear_faults(TOKEN_PATH);
    let sent = zalo_sent(&env, U1, 1).await;
    assert_eq!(zalo_text(&sent[0]).as_deref(), Some("khi Zalo trục trặc"));
    let (code, reason) = wait_for(WAIT, || async {
        let (code, reason) = readyz(&env).await;
        (code == 200).then_some((code, reason))
    })
    .await
    .expect("ready again once a refresh worked");
    assert_eq!((code, reason.as_str()), (200, "ready"));
    assert_eq!(
        stored_tokens(&env).await.token_error.map(|e| e.since),
        None,
        "a refresh that worked clears the refusal"
    );
    let v: serde_json::Value = serde_json::from_str(&status(&env, true).await).unwrap();
    assert!(v["zalo_token"]["token_error"].is_null(), "{v}");
    // The reply's final state is written in the lane's next group commit, just after the send.
    let done = wait_for(WAIT, || async {
        let (state, _) = reply_row(&env, "khi Zalo").await;
        (state.as_deref() == Some("done")).then_some(())
    })
    .await;
    assert!(done.is_some(), "{:?}", reply_row(&env, "khi Zalo").await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unlisted_refusal_that_lasts_asks_for_a_reconnect() {
    let mut opts = EnvOptions::default();
    opts.sync_toml
        .push_str("token_error_reauth_after_secs = 1\n");
    let env = env_with(opts).await;
    let conv = start_conversation(&env, U1).await;
    refuse_refreshes_with_an_unlisted_code(&env);
    env.freshchat
        .agent_sends(
            &conv,
            &env.freshchat.default_agent_id(),
            vec![parts::text("chờ quá lâu")],
        )
        .await
        .unwrap();
    // Past the configured time the refusal becomes "needs re-authorization", with its code.
    let reason = wait_for(WAIT, || async { needs_reauth(&env).await })
        .await
        .expect("marked as needing re-authorization");
    assert!(
        reason.contains("error -14099") && reason.contains("for longer than 1 s"),
        "{reason}"
    );
    let (code, ready) = readyz(&env).await;
    assert_eq!(code, 503, "{ready}");
    assert!(
        ready.contains("re-authorization") && ready.contains("-14099"),
        "{ready}"
    );
    let text = status(&env, false).await;
    assert!(
        text.contains("NEEDS RE-AUTHORIZATION") && text.contains("zfsync connect zalo"),
        "{text}"
    );
    // The reply still waits (for the reconnect), it did not fail.
    assert_eq!(
        reply_row(&env, "chờ quá").await.0.as_deref(),
        Some("pending")
    );
    assert!(env.zalo.sent_to(U1).is_empty());
    // An admin consents again once Zalo answers: the waiting reply goes out.
    env.zalo.clear_faults(TOKEN_PATH);
    env.connect_zalo().await.unwrap();
    let sent = zalo_sent(&env, U1, 1).await;
    assert_eq!(zalo_text(&sent[0]).as_deref(), Some("chờ quá lâu"));
    assert_eq!(needs_reauth(&env).await, None);
}

/// A browser that shows redirects instead of following them.
fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// The `Location` a URL redirects to (asked with the operator token when given).
async fn redirect_of_as(url: &str, token: Option<&str>) -> String {
    let mut req = browser().get(url);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let r = req.send().await.unwrap();
    assert!(r.status().is_redirection(), "{url}: {}", r.status());
    r.headers()["location"].to_str().unwrap().to_string()
}

/// An operator opens the connect link: the consent URL of a new attempt.
async fn start_attempt(env: &Env) -> String {
    redirect_of_as(
        &format!("{}/oauth/zalo/start", env.daemon_url()),
        Some(&env.admin_token),
    )
    .await
}

/// The admin allows on Zalo's consent page; the browser then opens the callback. Answers the
/// callback URL Zalo redirected to, and the page the daemon answered.
async fn consent(consent_url: &str) -> (String, u16, String) {
    let callback = redirect_of_as(consent_url, None).await;
    let r = browser().get(&callback).send().await.unwrap();
    let status = r.status().as_u16();
    (callback, status, r.text().await.unwrap())
}

async fn pending_attempts(env: &Env) -> i64 {
    store(env).oauth_attempt_count().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_callback_without_state_completes_the_one_pending_attempt_or_says_what_to_do() {
    let mut env = Env::new(EnvOptions::default()).await.unwrap();
    env.start_daemon().await.unwrap();
    // One attempt pending: Zalo's documented callback (code and oa_id only) completes it.
    let url = start_attempt(&env).await;
    assert!(
        url.contains("state=") && url.contains("code_challenge="),
        "{url}"
    );
    let (callback, status, page) = consent(&url).await;
    assert!(
        !callback.contains("state=") && !callback.contains("code_challenge="),
        "{callback}"
    );
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("connected to Zalo"), "{page}");
    let access = stored_tokens(&env).await.access_token;

    // Two attempts pending and nothing to tell them apart: refused, nothing changed.
    let first = start_attempt(&env).await;
    let _second = start_attempt(&env).await;
    let (_, status, page) = consent(&first).await;
    assert_eq!(status, 400, "{page}");
    assert!(
        page.contains("more than one") && page.contains("start again"),
        "says what to do: {page}"
    );
    assert_eq!(stored_tokens(&env).await.access_token, access);

    // None pending any more (started over 15 minutes ago): refused with what to do.
    assert_eq!(pending_attempts(&env).await, 2);
    tamper::expire_oauth_attempts(&env);
    let code_url = format!(
        "{}/oauth/zalo/callback?code={}&oa_id={}",
        env.daemon_url(),
        env.zalo.issue_code(None),
        env.zalo.config().oa_id
    );
    let r = browser().get(&code_url).send().await.unwrap();
    assert_eq!(r.status(), 400);
    let page = r.text().await.unwrap();
    assert!(
        page.contains("15 minutes") && page.contains("start again"),
        "{page}"
    );
    assert_eq!(stored_tokens(&env).await.access_token, access);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_echoed_code_challenge_picks_the_attempt_among_several() {
    let mut env = Env::new(EnvOptions {
        zalo_callback_code_challenge: true,
        ..EnvOptions::default()
    })
    .await
    .unwrap();
    env.start_daemon().await.unwrap();
    let first = start_attempt(&env).await;
    let second = start_attempt(&env).await;
    assert_eq!(pending_attempts(&env).await, 2);
    // The second link is used first; Zalo checks the PKCE verifier, so only the matching
    // attempt's verifier can complete it.
    let (callback, status, page) = consent(&second).await;
    assert!(callback.contains("code_challenge="), "{callback}");
    assert_eq!(status, 200, "{page}");
    assert_eq!(pending_attempts(&env).await, 1);
    let (_, status, page) = consent(&first).await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(pending_attempts(&env).await, 0);
    assert_eq!(
        stored_tokens(&env).await.oa_id,
        Some(env.zalo.config().oa_id)
    );
}
