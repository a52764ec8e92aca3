//! Who the client is and how much it may try, over HTTP on loopback: `X-Forwarded-For` believed only
//! from `server.trusted_proxies`, IPv6 keyed by /64, a bucket per route family with health outside
//! them, a ceiling on wrong tokens for all addresses together; the console's security headers and
//! live streams that end with their session; and unsigned webhooks that are counted, not each
//! logged.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use futures::StreamExt;
use reqwest::header::{COOKIE, SET_COOKIE};
use reqwest::redirect::Policy;
use reqwest::StatusCode;
use zfsync::server::limits::{ADDRESS_FAILED_LOGINS, GLOBAL_FAILED_LOGINS};
use zfsync::tools::sandbox::{wait_http_ok, Env, EnvOptions};

use crate::helpers::*;

/// The daemon trusts the test client (on loopback) as its reverse proxy.
const TRUST_LOOPBACK: &str = "trusted_proxies = [\"127.0.0.1/32\"]";

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .unwrap()
}

async fn env_trusting(list: &str) -> Env {
    env_with(EnvOptions {
        server_toml: list.into(),
        ..EnvOptions::default()
    })
    .await
}

/// A wrong token typed on the sign-in page, with this `X-Forwarded-For` (if any).
async fn guess(base: &str, forwarded: Option<&str>, token: &str) -> reqwest::Response {
    let mut r = client()
        .post(format!("{base}/console/login"))
        .form(&[("token", token)]);
    if let Some(f) = forwarded {
        r = r.header("x-forwarded-for", f);
    }
    r.send().await.unwrap()
}

/// Signs in through the form; returns the session cookie (`name=value`).
async fn sign_in(base: &str, token: &str) -> String {
    let r = guess(base, None, token).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let set = r.headers()[SET_COOKIE].to_str().unwrap();
    set.split(';').next().unwrap().to_string()
}

/// A stranger with a loopback peer sends a new made-up `X-Forwarded-For` with every guess: the
/// daemon trusts no proxy by default, so every guess counts against the one real address.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spoofed_forwarded_for_gives_no_more_guesses() {
    let env = env().await;
    let base = env.daemon_url();
    let mut statuses = Vec::new();
    for i in 0..(ADDRESS_FAILED_LOGINS + 10) {
        let r = guess(&base, Some(&format!("203.0.113.{i}")), "guess").await;
        statuses.push(r.status());
    }
    let refused = statuses
        .iter()
        .filter(|s| **s == StatusCode::UNAUTHORIZED)
        .count();
    assert_eq!(
        refused, ADDRESS_FAILED_LOGINS as usize,
        "only {ADDRESS_FAILED_LOGINS} tokens are checked, whatever the header says: {statuses:?}"
    );
    assert!(statuses[ADDRESS_FAILED_LOGINS as usize..]
        .iter()
        .all(|s| *s == StatusCode::TOO_MANY_REQUESTS));
    // A fresh made-up address is still the same client.
    let r = guess(&base, Some("198.51.100.250"), &env.admin_token).await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
}

/// Behind a chain of trusted proxies, the client is the rightmost address that is not a proxy:
/// rotating the inner hop or prepending made-up addresses does not change it, and another client
/// behind the same proxy has its own allowance.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_trusted_proxies_the_rightmost_untrusted_address_is_the_client() {
    let env = env_trusting("trusted_proxies = [\"127.0.0.1/32\", \"10.0.0.0/8\"]").await;
    let base = env.daemon_url();
    for i in 0..ADDRESS_FAILED_LOGINS {
        // What the client wrote, its real address as the edge proxy saw it, then an inner proxy.
        let chain = format!("192.0.2.{i}, 203.0.113.5, 10.0.0.{i}");
        let r = guess(&base, Some(&chain), "guess").await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{chain}");
    }
    let r = guess(&base, Some("198.51.100.1, 203.0.113.5, 10.9.9.9"), "guess").await;
    assert_eq!(
        r.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "203.0.113.5 has used its guesses"
    );
    // Another client behind the same proxies.
    let r = guess(&base, Some("203.0.113.5, 203.0.113.6, 10.0.0.1"), "guess").await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r = guess(&base, Some("203.0.113.6, 10.0.0.1"), &env.admin_token).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
}

/// IPv6 clients are one client per /64: changing the interface id gives no new guesses.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ipv6_clients_are_keyed_by_their_64() {
    let env = env_trusting(TRUST_LOOPBACK).await;
    let base = env.daemon_url();
    for i in 0..ADDRESS_FAILED_LOGINS {
        let r = guess(&base, Some(&format!("2001:db8:7:7::{:x}", i + 1)), "guess").await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    }
    let r = guess(&base, Some("2001:db8:7:7:ffff:ffff:ffff:1"), "guess").await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    let r = guess(&base, Some("2001:db8:7:8::1"), "guess").await;
    assert_eq!(
        r.status(),
        StatusCode::UNAUTHORIZED,
        "the next /64 is another client"
    );
}

/// A client guessing hosted-file links runs out of its files allowance only: health answers, and
/// the OAuth callback and sign-in page have buckets of their own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guessing_files_never_makes_health_answer_429() {
    let env = env().await;
    let base = env.daemon_url();
    let c = client();
    let mut limited = 0;
    for i in 0..150 {
        let r = c
            .get(format!("{base}/files/guess{i}"))
            .send()
            .await
            .unwrap();
        if r.status() == StatusCode::TOO_MANY_REQUESTS {
            limited += 1;
        }
    }
    assert!(limited > 0, "150 quick guesses hit the files limit");
    for path in ["/healthz", "/readyz"] {
        let r = c.get(format!("{base}{path}")).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{path}");
    }
    let r = c
        .get(format!("{base}/oauth/zalo/callback?code=x"))
        .send()
        .await
        .unwrap();
    assert_ne!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    let r = c.get(format!("{base}/console/login")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    // Health stays outside any limit, however often it is asked.
    for _ in 0..150 {
        let r = c.get(format!("{base}/healthz")).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
    }
}

/// Wrong tokens from many addresses together reach a ceiling: after it no token is checked, from
/// any address or as a Bearer header, until the backoff ends. Open sessions keep working.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotating_addresses_meet_the_global_ceiling() {
    let env = env_trusting(TRUST_LOOPBACK).await;
    let base = env.daemon_url();
    let session = sign_in(&base, &env.admin_token).await;
    let c = client();
    let mut checked = 0;
    for i in 0..GLOBAL_FAILED_LOGINS {
        // Every address guesses once, half on the form and half as a Bearer token.
        let addr = format!("198.51.{}.{}", 100 + i / 200, i % 200);
        let status = if i % 2 == 0 {
            guess(&base, Some(&addr), "guess").await.status()
        } else {
            c.get(format!("{base}/console"))
                .header("x-forwarded-for", &addr)
                .bearer_auth("guess")
                .send()
                .await
                .unwrap()
                .status()
        };
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{addr}");
        checked += 1;
    }
    assert_eq!(checked, GLOBAL_FAILED_LOGINS);
    // A new address, even with the right token: refused without a check, told when to come back.
    let r = guess(&base, Some("203.0.113.77"), &env.admin_token).await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    let after: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(after > 1, "a backoff, not a 1-second slowdown ({after})");
    let r = c
        .get(format!("{base}/console"))
        .header("x-forwarded-for", "203.0.113.78")
        .bearer_auth(&env.admin_token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    // The operator already signed in keeps working.
    let r = c
        .get(format!("{base}/console"))
        .header(COOKIE, &session)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
}

/// Every console response says: nothing from elsewhere, nothing inline, never in a frame, no
/// sniffing, no referrer. The pages hold no inline script or style; their assets are served.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_responses_carry_security_headers() {
    let env = env().await;
    let base = env.daemon_url();
    let c = client();
    let check = |r: &reqwest::Response, what: &str| {
        let h = r.headers();
        assert_eq!(
            h.get("content-security-policy")
                .map(|v| v.to_str().unwrap()),
            Some("default-src 'self'; frame-ancestors 'none'"),
            "{what}"
        );
        assert_eq!(h["x-content-type-options"], "nosniff", "{what}");
        assert_eq!(h["referrer-policy"], "no-referrer", "{what}");
    };
    let stranger = c
        .get(format!("{base}/console"))
        .header("accept", "text/html");
    let r = stranger.send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    check(&r, "the login page a stranger gets");
    let r = c.get(format!("{base}/console/login")).send().await.unwrap();
    check(&r, "/console/login");
    for path in [
        "/console",
        "/console/connect",
        "/console/activity",
        "/console/failed",
        "/console/backfill",
    ] {
        let r = c
            .get(format!("{base}{path}"))
            .bearer_auth(&env.admin_token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{path}");
        check(&r, path);
        let page = r.text().await.unwrap();
        assert!(
            !page.contains("<style") && !page.contains("style="),
            "{path}: inline style"
        );
        for script in page.split("<script").skip(1) {
            assert!(
                script.trim_start().starts_with("src=\"/console/assets/"),
                "{path}: inline script"
            );
        }
    }
    for (asset, kind) in [
        ("console.css", "text/css"),
        ("live.js", "text/javascript"),
        ("backfill.js", "text/javascript"),
    ] {
        let r = c
            .get(format!("{base}/console/assets/{asset}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{asset}");
        check(&r, asset);
        assert!(r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with(kind));
    }
}

/// A live stream opened by a session ends when that session signs out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_stream_ends_when_its_session_signs_out() {
    let env = env().await;
    let base = env.daemon_url();
    let session = sign_in(&base, &env.admin_token).await;
    let c = client();
    let page = c
        .get(format!("{base}/console/backfill"))
        .header(COOKIE, &session)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let at = page.find("name=\"csrf\" value=\"").unwrap() + "name=\"csrf\" value=\"".len();
    let csrf = &page[at..at + page[at..].find('"').unwrap()];
    let r = c
        .get(format!("{base}/console/live/backfill"))
        .header(COOKIE, &session)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let mut stream = r.bytes_stream();
    let first = stream.next().await.unwrap().unwrap();
    assert!(String::from_utf8_lossy(&first).contains("event: progress"));
    let r = c
        .post(format!("{base}/console/logout"))
        .header(COOKIE, &session)
        .form(&[("csrf", csrf)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    // The stream ends (the guard only stops a broken build from hanging: streams otherwise last
    // 5 minutes).
    let rest = tokio::time::timeout(WAIT, async {
        while let Some(chunk) = stream.next().await {
            if chunk.is_err() {
                break;
            }
        }
    })
    .await;
    assert!(rest.is_ok(), "the stream outlived its session");
}

/// 2,000 unsigned Zalo webhooks are counted by reason and summarised, not logged one by one; a
/// wrong token is logged with the client's address and without the token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unsigned_webhooks_are_counted_not_each_logged() {
    const BAD: usize = 2_000;
    let env = Env::new(EnvOptions::default()).await.unwrap();
    let log = env.dir.path().join("daemon.log");
    let mut daemon = spawn_daemon(&env, &["--log-format", "json"], "daemon.log");
    let base = env.daemon_url();
    wait_http_ok(&format!("{base}/healthz"), Duration::from_secs(30))
        .await
        .unwrap();
    let c = client();
    let body = r#"{"app_id":"1","event_name":"user_send_text","timestamp":"1700000000000"}"#;
    let statuses = futures::stream::iter(0..BAD)
        .map(|_| {
            let c = c.clone();
            let url = format!("{base}/webhooks/zalo");
            async move {
                c.post(url)
                    .header("x-zevent-signature", format!("mac={}", "0".repeat(64)))
                    .body(body)
                    .send()
                    .await
                    .unwrap()
                    .status()
            }
        })
        .buffer_unordered(16)
        .collect::<Vec<_>>()
        .await;
    assert!(statuses.iter().all(|s| *s == StatusCode::UNAUTHORIZED));
    let r = guess(&base, None, "not-the-token-5f3a").await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let metrics = c
        .get(format!("{base}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains(&format!(
            "zfsync_webhook_rejects_total{{pairing=\"default\",source=\"zalo\",reason=\"bad_signature\"}} {BAD}"
        )),
        "{metrics}"
    );
    // A graceful stop writes the summary of the period.
    sigterm(&daemon);
    let exit = tokio::time::timeout(COMMAND_TIMEOUT, daemon.wait())
        .await
        .expect("the daemon exits after SIGTERM")
        .unwrap();
    assert!(exit.success(), "{exit:?}");
    let text = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let message = |l: &serde_json::Value| l["message"].as_str().unwrap_or_default().to_string();
    let rejected = lines
        .iter()
        .filter(|l| message(l).starts_with("webhook rejected"))
        .count();
    assert!(
        rejected <= 2,
        "{rejected} log lines for {BAD} refusals: they are summarised"
    );
    let summary = lines
        .iter()
        .find(|l| message(l).starts_with("unsigned or unreadable webhook requests"))
        .unwrap_or_else(|| panic!("a summary line:\n{text}"));
    assert_eq!(
        summary["counts"].as_str(),
        Some(format!("zalo/bad_signature={BAD}").as_str()),
        "{summary}"
    );
    let refused = lines
        .iter()
        .find(|l| message(l).contains("sign-in refused"))
        .unwrap_or_else(|| panic!("the refused sign-in is logged:\n{text}"));
    assert_eq!(refused["client"], "127.0.0.1", "{refused}");
    assert!(
        !text.contains("not-the-token-5f3a"),
        "the token is never logged"
    );
}
