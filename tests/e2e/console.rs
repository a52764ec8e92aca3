//! Operator access over HTTP: strangers are refused and learn nothing, the token works as a Bearer
//! header and through the login page's session cookie, a state-changing request without its CSRF
//! token is refused, and the public pages are rate limited per address while webhooks are not.
#![allow(clippy::unwrap_used)]

use reqwest::header::{COOKIE, SET_COOKIE};
use reqwest::redirect::Policy;
use reqwest::StatusCode;

use crate::helpers::*;

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .unwrap()
}

/// Signs in through the login form; returns the session cookie (`name=value`).
async fn login(base: &str, token: &str) -> String {
    let r = client()
        .post(format!("{base}/console/login"))
        .form(&[("token", token), ("next", "/console/failed")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()["location"], "/console/failed");
    let set = r.headers()[SET_COOKIE].to_str().unwrap().to_string();
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Strict") && set.contains("Max-Age="),
        "{set}"
    );
    assert!(
        !set.contains("Secure"),
        "plain-http sandbox: no Secure flag"
    );
    set.split(';').next().unwrap().to_string()
}

/// The hidden CSRF field of a page.
fn csrf_of(page: &str) -> String {
    let at = page.find("name=\"csrf\" value=\"").expect("a csrf field");
    let rest = &page[at + "name=\"csrf\" value=\"".len()..];
    rest[..rest.find('"').unwrap()].to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strangers_are_refused_and_operators_get_in() {
    let env = env().await;
    let base = env.daemon_url();
    let c = client();

    // A stranger: 401 everywhere an operator is needed, with nothing about the daemon.
    for path in [
        "/console",
        "/console/activity",
        "/console/failed",
        "/console/backfill",
        "/oauth/zalo/start",
    ] {
        let r = c.get(format!("{base}{path}")).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{path}");
        let body = r.text().await.unwrap();
        assert!(
            !body.contains("Zalo →") && !body.contains("oa_id"),
            "{path}: {body}"
        );
    }
    // A browser gets the login form with the 401.
    let r = c
        .get(format!("{base}/console/failed"))
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let page = r.text().await.unwrap();
    assert!(
        page.contains("Operator token") && page.contains("value=\"/console/failed\""),
        "{page}"
    );
    for bad in ["Bearer wrong", "Bearer ", "Basic abc"] {
        let r = c
            .get(format!("{base}/console"))
            .header("authorization", bad)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{bad}");
    }
    let r = c
        .post(format!("{base}/console/failed/retry"))
        .form(&[("id", "1")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    // /readyz: up or down only, unless the token asks.
    let r = c.get(format!("{base}/readyz")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.unwrap(), "ok");
    let r = c
        .get(format!("{base}/readyz"))
        .bearer_auth(&env.admin_token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.text().await.unwrap(), "ready");

    // Bearer works for scripts.
    let r = c
        .get(format!("{base}/console"))
        .bearer_auth(&env.admin_token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let page = r.text().await.unwrap();
    assert!(
        page.contains("Official Account") && page.contains("Ready"),
        "{page}"
    );

    // A wrong token on the login page is refused, and sets no cookie.
    let r = c
        .post(format!("{base}/console/login"))
        .form(&[("token", "guess")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(r.headers().get(SET_COOKIE).is_none());

    // Login → cookie → pages.
    let cookie = login(&base, &env.admin_token).await;
    let r = c
        .get(format!("{base}/console/failed"))
        .header(COOKIE, &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let page = r.text().await.unwrap();
    let csrf = csrf_of(&page);
    let r = c
        .get(format!("{base}/readyz"))
        .header(COOKIE, &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.text().await.unwrap(),
        "ready",
        "a session reads the reason too"
    );

    // A POST with the cookie but without the CSRF token is refused; with it, it goes through.
    let r = c
        .post(format!("{base}/console/connect/checks"))
        .header(COOKIE, &cookie)
        .form(&[("x", "1")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = c
        .post(format!("{base}/console/connect/checks"))
        .header(COOKIE, &cookie)
        .form(&[("csrf", "not-the-token")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = c
        .post(format!("{base}/console/connect/checks"))
        .header(COOKIE, &cookie)
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let page = r.text().await.unwrap();
    assert!(
        page.contains("freshchat_api") && page.contains("zalo_oa"),
        "{page}"
    );

    // Signing out ends the session.
    let r = c
        .post(format!("{base}/console/logout"))
        .header(COOKIE, &cookie)
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let r = c
        .get(format!("{base}/console"))
        .header(COOKIE, &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);

    // A one-time link signs in once.
    let link = env.console_login_link().unwrap();
    let r = c.get(&link).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers().get(SET_COOKIE).is_some());
    let r = c.get(&link).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn public_pages_are_rate_limited_per_address_but_webhooks_are_not() {
    let env = env().await;
    let base = env.daemon_url();
    let c = client();
    let mut limited = 0;
    for i in 0..200 {
        let r = c.get(format!("{base}/files/nope{i}")).send().await.unwrap();
        if r.status() == StatusCode::TOO_MANY_REQUESTS {
            limited += 1;
        }
    }
    assert!(
        limited > 0,
        "200 quick file requests from one address hit the limit"
    );
    // No proxy is trusted by default: a made-up X-Forwarded-For is the same client.
    let r = c
        .get(format!("{base}/files/nope"))
        .header("x-forwarded-for", "198.51.100.7")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    // Webhooks from the same address are never limited: Zalo's URL check still answers 200.
    for _ in 0..100 {
        let r = c
            .post(format!("{base}/webhooks/zalo"))
            .body("{}")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    // Login attempts have a stricter limit.
    let mut refused = 0;
    for _ in 0..20 {
        let r = c
            .post(format!("{base}/console/login"))
            .header("x-forwarded-for", "203.0.113.9")
            .form(&[("token", "guess")])
            .send()
            .await
            .unwrap();
        if r.status() == StatusCode::TOO_MANY_REQUESTS {
            refused += 1;
        }
    }
    assert!(
        refused >= 5,
        "guessing the token is slowed down ({refused} of 20 refused)"
    );
}
