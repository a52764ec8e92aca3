//! The console and pairings: every page for the pairing chosen, its health on the Pairings page,
//! and a pairing added from the page with the wizard's checks.

#![allow(clippy::unwrap_used)]

use zfsync_zalo::sim::UserAction;

use crate::helpers::*;
use crate::pairings::{second_pair_with, zfsync_with_stdin, U};

/// The console serves every pairing: the Pairings page lists each with its health, every page
/// shows the pairing named in `?pairing=` (its customers only, links keeping the choice), the
/// Connect page starts that pairing's own OAuth flow, and a pairing the daemon does not serve
/// is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_shows_each_pairing_on_its_own() {
    use zfsync_zalo::sim::SimUser;

    let mut env = zfsync::tools::sandbox::Env::new(zfsync::tools::sandbox::EnvOptions::default())
        .await
        .unwrap();
    let shop_b = env
        .add_pairing("shop-b", zfsync::tools::sandbox::own_app(2))
        .await
        .unwrap();
    env.start_daemon().await.unwrap();
    env.connect_zalo().await.unwrap();
    add_user(&env, U, "Minh");
    shop_b.zalo.add_user(SimUser {
        user_id: U.into(),
        display_name: "Lan".into(),
        avatar: None,
        follower: true,
    });
    env.zalo
        .user_sends(U, UserAction::Text("for default".into()))
        .await;
    shop_b
        .zalo
        .user_sends(U, UserAction::Text("for shop B".into()))
        .await;
    customer_messages(&env, U, 1).await;
    let reached = zfsync::tools::sandbox::wait_for(WAIT, || async {
        let conv = shop_b.freshchat.conversations().into_iter().next()?;
        (!shop_b
            .freshchat
            .messages(conv["conversation_id"].as_str()?)
            .is_empty())
        .then_some(())
    })
    .await;
    assert!(reached.is_some());
    settle(&env).await;

    let base = env.daemon_url();
    let get = |path: String| {
        let (base, token) = (base.clone(), env.admin_token.clone());
        async move {
            let r = reqwest::Client::new()
                .get(format!("{base}{path}"))
                .bearer_auth(token)
                .send()
                .await
                .unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        }
    };
    let (status, page) = get("/console/pairings".into()).await;
    assert_eq!(status, 200, "{page}");
    for name in ["default", "shop-b"] {
        let row = pairing_row(&page, name);
        assert!(row.contains(">ok<") && row.contains("connected"), "{row}");
    }

    let (status, activity_b) = get("/console/activity?pairing=shop-b".into()).await;
    assert_eq!(status, 200);
    assert!(
        activity_b.contains("Lan") && !activity_b.contains("Minh"),
        "{activity_b}"
    );
    assert!(
        activity_b.contains("href=\"/console/failed?pairing=shop-b\""),
        "the navigation keeps the pairing: {activity_b}"
    );
    let (_, activity_default) = get("/console/activity".into()).await;
    assert!(
        activity_default.contains("Minh") && !activity_default.contains("Lan"),
        "{activity_default}"
    );
    let (_, connect_b) = get("/console/connect?pairing=shop-b".into()).await;
    assert!(
        connect_b.contains("/oauth/zalo/start/shop-b?from=console"),
        "{connect_b}"
    );
    let (status, _) = get("/console/failed?pairing=nobody".into()).await;
    assert_eq!(status, 404);
    // The overview's links stay on the pairing shown.
    let (_, overview_b) = get("/console?pairing=shop-b".into()).await;
    assert!(
        overview_b.contains("href=\"/console/activity?pairing=shop-b#quota-h\""),
        "{overview_b}"
    );
    // A retry made on shop B's Failed page is told there, and only there.
    let r = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .post(format!("{base}/console/failed/retry?pairing=shop-b"))
        .bearer_auth(&env.admin_token)
        .form(&[("all", "1")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 303);
    assert_eq!(r.headers()["location"], "/console/failed?pairing=shop-b");
    let (_, failed_b) = get("/console/failed?pairing=shop-b".into()).await;
    assert!(
        failed_b.contains("Nothing was replayed")
            && failed_b.contains("there were no failed events"),
        "{failed_b}"
    );
    let (_, failed_default) = get("/console/failed".into()).await;
    assert!(
        !failed_default.contains("replayed") && failed_default.contains("No failed events."),
        "{failed_default}"
    );
    // A change made on the server shows as such until the daemon restarts: the store says what
    // will be served, the daemon serves what it read at start.
    let config = env.config_path().display().to_string();
    let (ok, _, stderr) =
        zfsync_with_stdin(&["pairing", "disable", "shop-b", "--config", &config], "").await;
    assert!(ok, "{stderr}");
    let (_, page) = get("/console/pairings".into()).await;
    let row = pairing_row(&page, "shop-b");
    assert!(
        row.contains("disabled") && row.contains("still served until the daemon restarts"),
        "{row}"
    );
    let (ok, _, stderr) =
        zfsync_with_stdin(&["pairing", "remove", "shop-b", "--config", &config], "").await;
    assert!(ok, "{stderr}");
    let (_, page) = get("/console/pairings".into()).await;
    assert!(
        page.contains("removed; still served until the daemon restarts"),
        "{page}"
    );
}

/// The Pairings page's row of the pairing `name`.
fn pairing_row<'a>(page: &'a str, name: &str) -> &'a str {
    let at = page
        .find(&format!("data-pairing=\"{name}\""))
        .unwrap_or_else(|| panic!("{name} listed: {page}"));
    &page[at..at + page[at..].find("</tr>").unwrap()]
}

/// An operator adds a pairing from the console's Pairings page: the values are checked live as
/// the wizard checks them (a wrong Freshchat key fails its check and nothing is stored), an OA
/// another pairing serves and a name already taken are refused, and a good form stores the
/// pairing with its secrets sealed and shows the URLs to paste, never a secret. After a restart
/// the daemon serves it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pairing_is_added_from_the_console_with_the_wizards_checks() {
    use zfsync_zalo::sim::SimConfig;

    let mut env = zfsync::tools::sandbox::Env::new(zfsync::tools::sandbox::EnvOptions::default())
        .await
        .unwrap();
    env.start_daemon().await.unwrap();
    let base = env.daemon_url();
    // The deployment's Zalo app, linked to a second OA; a second Freshchat account.
    let app = env.zalo.config();
    let (_zalo_c, fc_c) = second_pair_with(
        &base,
        SimConfig {
            app_id: app.app_id.clone(),
            app_secret: app.app_secret.clone(),
            oa_secret_key: app.oa_secret_key.clone(),
            oa_id: "6666666666666666666".into(),
            ..SimConfig::default()
        },
    )
    .await;
    let fc_url = fc_c.base_url().to_string();
    let fc_public_key = fc_c.public_key_pem_one_line();
    let fc_key = fc_c.api_key().to_string();
    let form = |name: &str, api_key: &str, oa_id: &str| {
        vec![
            ("name", name.to_string()),
            ("freshchat_api_url", fc_url.clone()),
            ("freshchat_api_key", api_key.to_string()),
            ("freshchat_webhook_public_key", fc_public_key.clone()),
            ("zalo_app_id", app.app_id.clone()),
            ("zalo_app_secret", app.app_secret.clone()),
            ("zalo_oa_secret_key", app.oa_secret_key.clone()),
            ("oa_id", oa_id.to_string()),
            ("language", "en".to_string()),
        ]
    };
    let post = |fields: Vec<(&'static str, String)>| {
        let (url, token) = (
            format!("{base}/console/pairings/add"),
            env.admin_token.clone(),
        );
        async move {
            let r = reqwest::Client::new()
                .post(url)
                .bearer_auth(token)
                .form(&fields)
                .send()
                .await
                .unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        }
    };
    let registered = |env: &zfsync::tools::sandbox::Env| {
        let store = store(env);
        async move {
            store
                .registered_pairings()
                .await
                .unwrap()
                .into_iter()
                .map(|p| p.name)
                .collect::<Vec<_>>()
        }
    };

    let page = operator_page(&env, "/console/pairings").await;
    assert!(page.contains("id=\"add-pairing\""), "{page}");

    // A wrong API key fails Freshchat's check: the form comes back with why, nothing is stored.
    let (status, page) = post(form(
        "shop-c",
        "not-the-key-0123456789",
        "6666666666666666666",
    ))
    .await;
    assert_eq!(status, 200);
    assert!(page.contains("id=\"add-error\""), "{page}");
    assert!(page.contains("Freshchat API key: Access denied"), "{page}");
    assert!(!page.contains("not-the-key-0123456789"));
    assert!(
        page.contains("value=\"shop-c\""),
        "the plain values are kept"
    );
    assert!(registered(&env).await.is_empty());

    // The default pairing's OA cannot be served twice.
    let (_, page) = post(form("shop-c", &fc_key, &app.oa_id)).await;
    assert!(
        page.contains("is served by the pairing &quot;default&quot;"),
        "{page}"
    );
    assert!(registered(&env).await.is_empty());

    // A good form: stored, sealed, the URLs shown, no secret on the page.
    let (status, page) = post(form("shop-c", &fc_key, "6666666666666666666")).await;
    assert_eq!(status, 200);
    assert!(page.contains("id=\"pairing-added\""), "{page}");
    assert!(
        page.contains(&format!("{base}/webhooks/zalo/shop-c")),
        "{page}"
    );
    assert!(page.contains(&format!("{base}/webhooks/freshchat/shop-c")));
    assert!(page.contains(&format!("{base}/oauth/zalo/callback/shop-c")));
    for secret in [&fc_key, &app.app_secret, &app.oa_secret_key] {
        assert!(!page.contains(secret.as_str()), "a secret on the page");
    }
    let stored = store(&env)
        .registered_pairings()
        .await
        .unwrap()
        .into_iter()
        .find(|p| p.name == "shop-c")
        .expect("shop-c stored");
    assert!(
        stored.secrets.contains(&fc_key),
        "the secrets open with the store key"
    );
    assert!(stored.settings.contains("6666666666666666666"));
    assert!(
        !stored.settings.contains(&fc_key),
        "no secret among the settings"
    );

    // The same name again is refused unless replacing is asked for.
    let (_, page) = post(form("shop-c", &fc_key, "6666666666666666666")).await;
    assert!(
        page.contains("a pairing named &quot;shop-c&quot; exists"),
        "{page}"
    );
    let mut again = form("shop-c", &fc_key, "6666666666666666666");
    again.push(("replace", "1".into()));
    let (_, page) = post(again).await;
    assert!(page.contains("id=\"pairing-added\""), "{page}");

    // Served after a restart: its row links to its own pages.
    env.stop_daemon().await;
    env.start_daemon().await.unwrap();
    let page = operator_page(&env, "/console/pairings").await;
    assert!(page.contains("href=\"/console?pairing=shop-c\""), "{page}");
}
