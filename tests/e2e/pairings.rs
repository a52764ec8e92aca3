//! Pairings (one Zalo OA ↔ one Freshchat account) on their own webhook routes: the configured
//! customer is the pairing `default`, reachable on `/webhooks/<platform>/default` as on the plain
//! routes; a pairing the daemon does not serve is refused and nothing is stored.
#![allow(clippy::unwrap_used)]

use zfsync::store::{EventState, Source};
use zfsync_freshchat::MessagePart;
use zfsync_zalo::sim::UserAction;

use crate::helpers::*;

pub(crate) const U: &str = "5234000000000000991";

/// Both platforms deliver to the pairing's own routes: the customer's message reaches Freshchat
/// and the agent's reply reaches Zalo, as through the plain routes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_default_pairing_answers_on_its_own_routes() {
    let env = env().await;
    let base = env.daemon_url();
    env.zalo
        .set_webhook_url(Some(format!("{base}/webhooks/zalo/default")));
    env.freshchat
        .set_webhook_url(Some(format!("{base}/webhooks/freshchat/default")));
    add_user(&env, U, "Minh");
    env.zalo
        .user_sends(U, UserAction::Text("xin chào".into()))
        .await;
    let got = customer_messages(&env, U, 1).await;
    assert_eq!(texts(&got[0]), vec!["xin chào".to_string()]);
    let conv = conversation(&env, U).unwrap();
    env.agent_says(
        &conv,
        &env.freshchat.default_agent_id(),
        &[MessagePart::Text {
            content: "Dạ, em chào anh".into(),
        }],
    )
    .await
    .unwrap();
    let sent = zalo_sent(&env, U, 1).await;
    assert_eq!(zalo_text(&sent[0]).as_deref(), Some("Dạ, em chào anh"));
}

/// A webhook for a pairing this daemon does not serve is answered 404 `unknown_pairing` (so a
/// mistyped URL in a dashboard shows at once) and nothing is stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_pairing_is_refused_and_nothing_is_stored() {
    let env = env().await;
    let base = env.daemon_url();
    env.zalo
        .set_webhook_url(Some(format!("{base}/webhooks/zalo/shop-b")));
    add_user(&env, U, "Minh");
    env.zalo
        .user_sends(U, UserAction::Text("lost".into()))
        .await;
    let r = reqwest::Client::new()
        .post(format!("{base}/webhooks/freshchat/nobody"))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["error"], "unknown_pairing", "{body}");
    settle(&env).await;
    let stored = inbox(
        &env,
        InboxQuery {
            source: Some(Source::Zalo),
            ..InboxQuery::default()
        },
    )
    .await;
    assert!(
        stored.iter().all(|e| e.event_name != "user_send_text"),
        "{stored:?}"
    );
    assert_eq!(count_in_state(&env, EventState::Pending).await, 0);
}

/// A second pairing (its own Zalo OA and Freshchat account, here a second pair of simulators),
/// registered in the store, runs beside `default` in the same daemon: the same Zalo user id in
/// both OAs is two customers, each message reaches only its own Freshchat account, and each
/// agent's reply reaches only its own OA.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registered_pairing_runs_beside_default_and_neither_sees_the_other() {
    use zfsync_zalo::sim::SimUser;

    let mut env = zfsync::tools::sandbox::Env::new(zfsync::tools::sandbox::EnvOptions::default())
        .await
        .unwrap();
    let shop_b = env
        .add_pairing("shop-b", zfsync::tools::sandbox::own_app(2))
        .await
        .unwrap();
    let (zalo_b, fc_b) = (shop_b.zalo, shop_b.freshchat);
    let z = zalo_b.config();
    env.start_daemon().await.unwrap();
    env.connect_zalo().await.unwrap();

    add_user(&env, U, "Minh");
    zalo_b.add_user(SimUser {
        user_id: U.into(),
        display_name: "Lan".into(),
        avatar: None,
        follower: true,
    });
    env.zalo
        .user_sends(U, UserAction::Text("to shop A".into()))
        .await;
    zalo_b
        .user_sends(U, UserAction::Text("to shop B".into()))
        .await;

    let got_a = customer_messages(&env, U, 1).await;
    assert_eq!(texts(&got_a[0]), vec!["to shop A".to_string()]);
    // Shop B's Freshchat account holds shop B's customer and message, and nothing of shop A's.
    let b_messages = zfsync::tools::sandbox::wait_for(WAIT, || async {
        let conv = fc_b.conversations().into_iter().next()?;
        let id = conv["conversation_id"].as_str()?.to_string();
        let msgs = fc_b.messages(&id);
        (!msgs.is_empty()).then_some((id, msgs))
    })
    .await;
    let (conv_b, msgs_b) = b_messages.expect("shop B's customer reaches shop B's Freshchat");
    let shown = serde_json::to_string(&msgs_b).unwrap();
    assert!(
        shown.contains("to shop B") && !shown.contains("to shop A"),
        "{shown}"
    );
    let users_b = serde_json::to_string(&fc_b.users()).unwrap();
    assert!(
        users_b.contains(r#""first_name":"Lan""#)
            && users_b.contains(&format!("zalo:{}:{U}", z.oa_id))
            && !users_b.contains("Minh"),
        "{users_b}"
    );
    let users_a = serde_json::to_string(&env.freshchat.users()).unwrap();
    assert!(
        !users_a.contains(&z.oa_id) && !users_a.contains(r#""first_name":"Lan""#),
        "{users_a}"
    );

    // Shop B's agent replies: the customer of shop B's OA gets it, shop A's OA sends nothing.
    fc_b.agent_sends(
        &conv_b,
        &fc_b.default_agent_id(),
        vec![serde_json::json!({"text": {"content": "Shop B here"}})],
    )
    .await
    .unwrap();
    let sent_b = zfsync::tools::sandbox::wait_for(WAIT, || async {
        let sent = zalo_b.sent_to(U);
        (!sent.is_empty()).then_some(sent)
    })
    .await
    .expect("shop B's reply reaches shop B's OA");
    assert_eq!(zalo_text(&sent_b[0]).as_deref(), Some("Shop B here"));
    settle(&env).await;
    assert!(env.zalo.sent_to(U).is_empty(), "shop A's OA sent nothing");

    // Each pairing's figures carry its name (the metrics recorder is shared by the tests of
    // this process, so only the presence of each series is certain, not its count).
    let m = metrics(&env).await;
    for series in [
        r#"zfsync_messages_synced_total{pairing="shop-b",direction="to_freshchat"}"#,
        r#"zfsync_messages_synced_total{pairing="shop-b",direction="to_zalo"}"#,
        r#"zfsync_messages_synced_total{pairing="default",direction="to_freshchat"}"#,
        r#"zfsync_webhooks_total{pairing="shop-b",source="zalo""#,
        // The gauges read at scrape time: one series per pairing, none without one.
        r#"zfsync_queue_depth{pairing="default"}"#,
        r#"zfsync_queue_depth{pairing="shop-b"}"#,
        r#"zfsync_zalo_token_seconds_to_expiry{pairing="default"}"#,
        r#"zfsync_zalo_token_seconds_to_expiry{pairing="shop-b"}"#,
        r#"zfsync_zalo_customers_in_billed_window{pairing="shop-b"}"#,
    ] {
        assert!(m.contains(series), "{series} missing:\n{m}");
    }
    for gauge in [
        "zfsync_queue_depth",
        "zfsync_zalo_token_seconds_to_expiry",
        "zfsync_zalo_customers_in_billed_window",
    ] {
        assert!(
            !m.contains(&format!("{gauge}{{pairing=\"\"}}")),
            "{gauge} without a pairing:\n{m}"
        );
    }
}

/// A second Zalo OA and Freshchat account (a second pair of simulators) delivering to the pairing
/// `shop-b`'s routes of the daemon at `base`.
pub(crate) async fn second_pair(
    base: &str,
) -> (
    zfsync_zalo::sim::ZaloSim,
    zfsync_freshchat::sim::FreshchatSim,
) {
    second_pair_with(
        base,
        zfsync_zalo::sim::SimConfig {
            app_id: "2222222222222222222".into(),
            app_secret: "shop-b-app-secret-0123456789".into(),
            oa_id: "5555555555555555555".into(),
            oa_secret_key: "shop-b-oa-secret-key-0123456789".into(),
            webhook_url: Some(format!("{base}/webhooks/zalo/shop-b")),
            ..zfsync_zalo::sim::SimConfig::default()
        },
    )
    .await
}

/// A Zalo OA simulated with `zalo` and a Freshchat account delivering to `shop-b`'s route.
pub(crate) async fn second_pair_with(
    base: &str,
    zalo: zfsync_zalo::sim::SimConfig,
) -> (
    zfsync_zalo::sim::ZaloSim,
    zfsync_freshchat::sim::FreshchatSim,
) {
    use zfsync_freshchat::sim::{FreshchatSim, SimConfig as FcConfig};
    use zfsync_zalo::sim::ZaloSim;
    let bind = || tokio::net::TcpListener::bind("127.0.0.1:0");
    let zalo_b = ZaloSim::start(bind().await.unwrap(), bind().await.unwrap(), zalo)
        .await
        .unwrap();
    let fc_b = FreshchatSim::start(
        bind().await.unwrap(),
        FcConfig {
            webhook_url: Some(format!("{base}/webhooks/freshchat/shop-b")),
            ..FcConfig::default()
        },
    )
    .await
    .unwrap();
    (zalo_b, fc_b)
}

/// One Zalo app linked to two OAs delivers both OAs' events to one URL (the plain route, which
/// is `default`'s): each event is stored for the pairing that serves its OA, so shop B's customer
/// reaches shop B's Freshchat; an OA of the app that no pairing serves is refused 404
/// `unknown_oa` and nothing of it is stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_zalo_app_for_two_oas_routes_each_event_to_the_pairing_of_its_oa() {
    use zfsync_zalo::sim::{SimConfig, SimUser};

    let mut env = zfsync::tools::sandbox::Env::new(zfsync::tools::sandbox::EnvOptions::default())
        .await
        .unwrap();
    let base = env.daemon_url();
    let app = env.zalo.config();
    let same_app = |oa: &str| SimConfig {
        app_id: app.app_id.clone(),
        app_secret: app.app_secret.clone(),
        oa_secret_key: app.oa_secret_key.clone(),
        oa_id: oa.into(),
        webhook_url: Some(format!("{base}/webhooks/zalo")),
        ..SimConfig::default()
    };
    let shop_b = env
        .add_pairing("shop-b", same_app("5555555555555555555"))
        .await
        .unwrap();
    let (zalo_b, fc_b) = (shop_b.zalo, shop_b.freshchat);
    env.start_daemon().await.unwrap();
    env.connect_zalo().await.unwrap();

    zalo_b.add_user(SimUser {
        user_id: U.into(),
        display_name: "Lan".into(),
        avatar: None,
        follower: true,
    });
    zalo_b
        .user_sends(
            U,
            UserAction::Text("to shop B through the app's URL".into()),
        )
        .await;
    let reached = zfsync::tools::sandbox::wait_for(WAIT, || async {
        let conv = fc_b.conversations().into_iter().next()?;
        let id = conv["conversation_id"].as_str()?.to_string();
        let msgs = serde_json::to_string(&fc_b.messages(&id)).ok()?;
        msgs.contains("to shop B through the app's URL")
            .then_some(())
    })
    .await;
    assert!(
        reached.is_some(),
        "shop B's customer reaches shop B's Freshchat"
    );
    assert!(
        !serde_json::to_string(&env.freshchat.users())
            .unwrap()
            .contains("Lan"),
        "default's Freshchat holds nothing of shop B"
    );

    // A third OA linked to the same app, served by no pairing.
    let (zalo_c, _fc_c) = second_pair_with(&base, same_app("7777777777777777777")).await;
    zalo_c.add_user(SimUser {
        user_id: U.into(),
        display_name: "Nobody's".into(),
        avatar: None,
        follower: true,
    });
    zalo_c
        .user_sends(U, UserAction::Text("to an OA no pairing serves".into()))
        .await;
    let first = zfsync::tools::sandbox::wait_for(WAIT, || async {
        zalo_c
            .deliveries()
            .into_iter()
            .find(|d| d.event_name == "user_send_text" && d.status.is_some())
    })
    .await
    .expect("the third OA's event was delivered");
    assert_eq!(first.status, Some(404), "{first:?}");
    settle(&env).await;
    let stored = inbox(
        &env,
        InboxQuery {
            source: Some(Source::Zalo),
            ..InboxQuery::default()
        },
    )
    .await;
    // Neither OA's customer message is `default`'s: shop B's went to shop B, the third is refused.
    assert!(
        stored.iter().all(|e| e.event_name != "user_send_text"),
        "{stored:?}"
    );

    // An OA of another app, whose webhook URL was set to this one by mistake: its signature
    // cannot verify (it covers the app id), and the refusal names the app, not the OA Secret Key.
    let other_app = SimConfig {
        webhook_url: Some(format!("{base}/webhooks/zalo/shop-b")),
        ..zfsync::tools::sandbox::own_app(9)
    };
    let (zalo_d, _fc_d) = second_pair_with(&base, other_app).await;
    zalo_d.add_user(SimUser {
        user_id: U.into(),
        display_name: "Other app's".into(),
        avatar: None,
        follower: true,
    });
    zalo_d
        .user_sends(U, UserAction::Text("from another app".into()))
        .await;
    let refused = zfsync::tools::sandbox::wait_for(WAIT, || async {
        zalo_d
            .deliveries()
            .into_iter()
            .find(|d| d.event_name == "user_send_text" && d.status.is_some())
    })
    .await
    .expect("the other app's event was delivered");
    assert_eq!(refused.status, Some(401), "{refused:?}");
    let m = metrics(&env).await;
    assert!(
        m.lines()
            .any(|l| l.starts_with("zfsync_webhook_rejects_total")
                && l.contains("reason=\"other_app\"")),
        "{m}"
    );
}

/// Runs `zfsync <args>` with `stdin` on its standard input; (success, stdout, stderr).
pub(crate) async fn zfsync_with_stdin(args: &[&str], stdin: &str) -> (bool, String, String) {
    use tokio::io::AsyncWriteExt as _;
    let mut child = zfsync()
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin.as_bytes()).await.unwrap();
    drop(input);
    let out = tokio::time::timeout(COMMAND_TIMEOUT, child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

/// An operator adds a pairing from the command line (values checked live against the second
/// pair of platforms, secrets on standard input), sees it listed, connects its OA with tokens
/// pasted on standard input, and the daemon then serves it; a bad name is refused, and a disabled
/// pairing is listed as such.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pairings_are_added_listed_connected_and_disabled_from_the_command_line() {
    let mut env = zfsync::tools::sandbox::Env::new(zfsync::tools::sandbox::EnvOptions::default())
        .await
        .unwrap();
    let (zalo_b, fc_b) = second_pair(&env.daemon_url()).await;
    let z = zalo_b.config();
    let config = env.config_path().display().to_string();
    let fc_url = fc_b.base_url().to_string();
    let fc_key = fc_b.public_key_pem_one_line();
    let (api, oauth) = (
        zalo_b.api_base().to_string(),
        zalo_b.oauth_base().to_string(),
    );
    let add = |name: &'static str| {
        vec![
            "pairing",
            "add",
            name,
            "--config",
            &config,
            "--freshchat-api-url",
            &fc_url,
            "--freshchat-api-key",
            "-",
            "--freshchat-webhook-public-key",
            &fc_key,
            "--zalo-app-id",
            &z.app_id,
            "--zalo-app-secret",
            "-",
            "--zalo-oa-secret-key",
            "-",
            "--oa-id",
            &z.oa_id,
            "--zalo-api-base",
            &api,
            "--zalo-oauth-base",
            &oauth,
        ]
    };
    let secrets = format!(
        "{}\n{}\n{}\n",
        fc_b.api_key(),
        z.app_secret,
        z.oa_secret_key
    );
    let (ok, _, stderr) = zfsync_with_stdin(&add("Shop B"), &secrets).await;
    assert!(!ok && stderr.contains("cannot name a pairing"), "{stderr}");
    let (ok, stdout, stderr) = zfsync_with_stdin(&add("shop-b"), &secrets).await;
    assert!(ok, "{stdout}\n{stderr}");
    assert!(
        stdout.contains("/webhooks/zalo/shop-b") && stdout.contains("/webhooks/freshchat/shop-b"),
        "{stdout}"
    );
    assert!(!stdout.contains(&z.app_secret) && !stderr.contains(&z.app_secret));
    // The name is taken: another customer's settings are never replaced by a typo.
    let (ok, _, stderr) = zfsync_with_stdin(&add("shop-b"), &secrets).await;
    assert!(
        !ok && stderr.contains("exists") && stderr.contains("--replace"),
        "{stderr}"
    );
    // Replacing on purpose keeps the pairing's OA...
    let mut again = add("shop-b");
    again.push("--replace");
    let (ok, stdout, stderr) = zfsync_with_stdin(&again, &secrets).await;
    assert!(
        ok && stdout.contains("Pairing shop-b replaced"),
        "{stdout}\n{stderr}"
    );
    // ...and cannot move it to another OA (its customers and tokens belong to this one).
    let other_oa = "6000000000000000004";
    let moved: Vec<&str> = again
        .iter()
        .map(|a| if *a == z.oa_id { other_oa } else { a })
        .collect();
    let (ok, _, stderr) = zfsync_with_stdin(&moved, &secrets).await;
    assert!(
        !ok && stderr.contains("keeps its OA") && stderr.contains(other_oa),
        "{stderr}"
    );

    let list = |json: bool| {
        let config = config.clone();
        async move {
            let mut args = vec!["pairing", "list", "--config", config.as_str()];
            if json {
                args.push("--json");
            }
            let (ok, stdout, stderr) = zfsync_with_stdin(&args, "").await;
            assert!(ok, "{stderr}");
            stdout
        }
    };
    let listed: serde_json::Value = serde_json::from_str(&list(true).await).unwrap();
    let b = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["pairing"] == "shop-b")
        .unwrap()
        .clone();
    assert_eq!(
        (b["enabled"].as_bool(), b["zalo"].as_str()),
        (Some(true), Some("not connected"))
    );
    assert_eq!(b["oa_id"].as_str(), Some(z.oa_id.as_str()));

    let (access, refresh) = zalo_b.issue_tokens();
    let (ok, stdout, stderr) = zfsync_with_stdin(
        &[
            "connect",
            "zalo",
            "--config",
            &config,
            "--pairing",
            "shop-b",
            "--access-token",
            "-",
            "--refresh-token",
            "-",
        ],
        &format!("{access}\n{refresh}\n"),
    )
    .await;
    assert!(ok, "{stdout}\n{stderr}");
    assert!(list(true).await.contains("\"connected\""));

    env.start_daemon().await.unwrap();
    zalo_b.add_user(zfsync_zalo::sim::SimUser {
        user_id: U.into(),
        display_name: "Lan".into(),
        avatar: None,
        follower: true,
    });
    zalo_b
        .user_sends(U, UserAction::Text("added from the shell".into()))
        .await;
    let arrived = zfsync::tools::sandbox::wait_for(WAIT, || async {
        let conv = fc_b.conversations().into_iter().next()?;
        let msgs = fc_b.messages(conv["conversation_id"].as_str()?);
        serde_json::to_string(&msgs)
            .ok()
            .filter(|m| m.contains("added from the shell"))
    })
    .await;
    assert!(arrived.is_some(), "the added pairing is served");
    let line = list(false).await;
    assert!(
        line.lines()
            .any(|l| l.starts_with("shop-b") && l.contains(" ok ") && l.contains("0 failed")),
        "{line}"
    );

    let (ok, _, stderr) =
        zfsync_with_stdin(&["pairing", "disable", "shop-b", "--config", &config], "").await;
    assert!(ok, "{stderr}");
    assert!(list(false)
        .await
        .lines()
        .any(|l| l.starts_with("shop-b") && l.contains("disabled")));
    let (ok, _, stderr) =
        zfsync_with_stdin(&["pairing", "remove", "default", "--config", &config], "").await;
    assert!(
        !ok && stderr.contains("configuration file's pairing"),
        "{stderr}"
    );
}

/// One pairing's trouble stays its own: shop B's Zalo authorization expires for good and its
/// Freshchat key is refused while its customer keeps writing; `default` syncs both ways as ever,
/// and the health of each says which one needs the operator.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_pairing_never_holds_up_another() {
    use zfsync_zalo::sim::SimUser;

    let mut env = zfsync::tools::sandbox::Env::new(zfsync::tools::sandbox::EnvOptions::default())
        .await
        .unwrap();
    let shop_b = env
        .add_pairing("shop-b", zfsync::tools::sandbox::own_app(2))
        .await
        .unwrap();
    shop_b.zalo.expire_access_tokens();
    shop_b.zalo.expire_refresh_tokens();
    shop_b.freshchat.fail_next("/v2", u32::MAX, 401);
    env.start_daemon().await.unwrap();
    env.connect_zalo().await.unwrap();
    shop_b.zalo.add_user(SimUser {
        user_id: U.into(),
        display_name: "Lan".into(),
        avatar: None,
        follower: true,
    });
    add_user(&env, U, "Minh");
    for i in 0..5 {
        shop_b
            .zalo
            .user_sends(U, UserAction::Text(format!("B {i}")))
            .await;
        env.zalo
            .user_sends(U, UserAction::Text(format!("A {i}")))
            .await;
    }
    let got = customer_messages(&env, U, 5).await;
    assert_eq!(
        got.iter().flat_map(texts).collect::<Vec<_>>(),
        (0..5).map(|i| format!("A {i}")).collect::<Vec<_>>()
    );
    let conv = conversation(&env, U).unwrap();
    env.agent_says(
        &conv,
        &env.freshchat.default_agent_id(),
        &[MessagePart::Text {
            content: "A's agent answers".into(),
        }],
    )
    .await
    .unwrap();
    let sent = zalo_sent(&env, U, 1).await;
    assert_eq!(zalo_text(&sent[0]).as_deref(), Some("A's agent answers"));
    assert!(shop_b.freshchat.conversations().is_empty());

    // What the operator sees: default healthy, shop B waiting for them.
    let config = env.config_path().display().to_string();
    let verdicts = || async {
        let (ok, stdout, stderr) =
            zfsync_with_stdin(&["pairing", "list", "--config", &config, "--json"], "").await;
        assert!(ok, "{stderr}");
        let rows: serde_json::Value = serde_json::from_str(&stdout).unwrap();
        let zalo_of = |name: &str| {
            rows.as_array()
                .unwrap()
                .iter()
                .find(|r| r["pairing"] == name)
                .map(|r| {
                    (
                        r["zalo"].as_str().unwrap_or("").to_string(),
                        r["failed"].as_i64(),
                    )
                })
        };
        (zalo_of("default"), zalo_of("shop-b"))
    };
    let seen = zfsync::tools::sandbox::wait_for(WAIT, || async {
        let (a, b) = verdicts().await;
        (b.as_ref().map(|b| b.0.as_str()) == Some("needs re-authorization")).then_some((a, b))
    })
    .await;
    let (a, _) = seen.expect("shop B's lost authorization shows in its health");
    assert_eq!(a, Some(("connected".to_string(), Some(0))));
}
