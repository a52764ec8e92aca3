//! The console in a real browser: headless Chromium (Debian's `chromium` and `chromium-driver`)
//! driven over WebDriver. A stranger sees only the login page; the operator signs in, sees both
//! connections, runs the checks, watches Activity update live, retries a failed event and sees it
//! fail again (still listed) and then delivered, and runs a backfill whose progress bar reaches
//! 100 %. Each page is saved as a screenshot under `target/console-screenshots/`. Without Chromium
//! the test fails naming it, unless `ZFSYNC_TEST_SKIP=chromium` (CI installs it).
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;
use tokio::process::{Child, Command};
use zfsync::tools::sandbox::wait_for;
use zfsync_zalo::sim::UserAction;

use crate::console_pages::{failed_reply, refuse_next_reply};
use crate::helpers::*;

const CUSTOMER: &str = "5234000000000000801";
const OLD_CUSTOMER: &str = "5234000000000000802";

/// A headless Chromium behind its chromedriver; both end with it.
struct Browser {
    client: Client,
    _driver: Child,
    _profile: tempfile::TempDir,
    shots: PathBuf,
}

fn find(names: &[&str]) -> Option<PathBuf> {
    for n in names {
        let p = PathBuf::from(n);
        if p.is_absolute() && p.exists() {
            return Some(p);
        }
        if let Some(paths) = std::env::var_os("PATH") {
            for dir in std::env::split_paths(&paths) {
                let c = dir.join(n);
                if c.exists() {
                    return Some(c);
                }
            }
        }
    }
    None
}

impl Browser {
    /// Fails when Chromium or its driver is not installed, unless `ZFSYNC_TEST_SKIP` names
    /// `chromium` (then None).
    async fn start() -> Option<Browser> {
        Browser::start_sized(1280, 1000).await
    }

    /// As `start`, with a window of this size (also the largest it can be made later).
    async fn start_sized(width: u32, height: u32) -> Option<Browser> {
        let chromium = find(&["chromium", "chromium-browser", "google-chrome"]);
        let driver = find(&["chromedriver", "/usr/lib/chromium/chromedriver"]);
        let (Some(chromium), Some(driver)) = (chromium, driver) else {
            return crate::prerequisites::missing(
                "chromium",
                "Chromium or chromedriver is not installed: apt-get install chromium \
                 chromium-driver (.ci/run does)",
            );
        };
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(&driver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let url = format!("http://127.0.0.1:{port}");
        wait_for(Duration::from_secs(20), || async {
            reqwest::get(format!("{url}/status")).await.ok().map(|_| ())
        })
        .await
        .expect("chromedriver answers");
        let profile = tempfile::tempdir().unwrap();
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": chromium,
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                    "--disable-background-networking", "--disable-component-update", "--disable-sync",
                    "--disable-dev-shm-usage", format!("--window-size={width},{height}"),
                    format!("--user-data-dir={}", profile.path().display()),
                ],
            }),
        );
        let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps)
            .connect(&url)
            .await
            .expect("a Chromium session");
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"));
        let shots = target.join("console-screenshots");
        std::fs::create_dir_all(&shots).unwrap();
        Some(Browser {
            client,
            _driver: child,
            _profile: profile,
            shots,
        })
    }

    async fn shot(&self, name: &str) {
        let png = self.client.screenshot().await.unwrap();
        std::fs::write(self.shots.join(format!("{name}.png")), png).unwrap();
    }

    /// The text of the first element matching `css`, once `ok` accepts it.
    async fn wait_text(&self, css: &str, ok: impl Fn(&str) -> bool) -> String {
        let got = wait_for(WAIT, || async {
            let t = self
                .client
                .find(Locator::Css(css))
                .await
                .ok()?
                .text()
                .await
                .ok()?;
            ok(&t).then_some(t)
        })
        .await;
        match got {
            Some(t) => t,
            None => panic!(
                "{css} never showed what was expected; page:\n{}",
                self.client.source().await.unwrap_or_default()
            ),
        }
    }

    async fn click(&self, css: &str) {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
    }

    async fn type_into(&self, css: &str, text: &str) {
        let e = self.client.find(Locator::Css(css)).await.unwrap();
        e.clear().await.unwrap();
        e.send_keys(text).await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_in_a_real_browser() {
    let Some(b) = Browser::start().await else {
        return;
    };
    let env = env().await;
    let base = env.daemon_url();
    start_conversation(&env, CUSTOMER).await;
    let failed_id = failed_reply(&env, CUSTOMER, "Đơn hàng đã được gửi").await;

    // A stranger gets the login page, and a wrong token is refused.
    b.client.goto(&format!("{base}/console")).await.unwrap();
    b.wait_text("h1", |t| t.contains("zfsync console")).await;
    assert!(!b
        .client
        .source()
        .await
        .unwrap()
        .contains("Official Account"));
    b.type_into("#token", "not-the-token").await;
    b.click("button[type=submit]").await;
    b.wait_text("[role=alert]", |t| t.contains("not the operator token"))
        .await;
    b.shot("login").await;

    // The operator signs in and sees both connections and readiness.
    b.type_into("#token", &env.admin_token).await;
    b.click("button[type=submit]").await;
    let oa = b.wait_text("#zalo-oa", |t| t.contains("(id ")).await;
    // The stylesheet applies under the pages' Content-Security-Policy (served, never inline).
    let header_bg = b
        .client
        .execute(
            "return getComputedStyle(document.querySelector('header')).backgroundColor;",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(header_bg, json!("rgb(16, 41, 79)"));
    let sim = env.zalo.config();
    assert!(oa.contains(&sim.oa_id) && oa.contains(&sim.oa_name), "{oa}");
    b.wait_text("#fc-account", |t| !t.is_empty()).await;
    b.wait_text("#readiness", |t| t.starts_with("Ready")).await;
    b.shot("overview").await;

    // Connect: the checks run and show their results.
    b.click("nav a[href='/console/connect']").await;
    b.click("#run-checks").await;
    b.wait_text("#checks-summary", |t| t.contains("checks"))
        .await;
    b.shot("connect").await;

    // Activity: the conversation so far, then a new message appears without reloading.
    b.click("nav a[href='/console/activity']").await;
    b.wait_text("#activity-rows", |t| t.contains("Minh")).await;
    let rows = |b: &Browser| {
        let c = b.client.clone();
        async move {
            c.find_all(Locator::Css("#activity-rows tr[data-inbox-id]"))
                .await
                .map(|v| v.len())
                .unwrap_or(0)
        }
    };
    let before = rows(&b).await;
    env.zalo
        .user_sends(CUSTOMER, UserAction::Text("còn hàng không?".into()))
        .await;
    wait_for(WAIT, || async { (rows(&b).await > before).then_some(()) })
        .await
        .expect("the new message appears live in Activity");
    b.shot("activity").await;

    // Failed: a retry that Zalo refuses again turns, live, into "failed again" with the event
    // still listed; the next one into "delivered" with nothing listed.
    b.click("nav a[href='/console/failed']").await;
    b.wait_text("tbody", |t| t.contains("zalo_paid_feature"))
        .await;
    b.shot("failed").await;
    refuse_next_reply(&env);
    b.click(&format!("#retry-{failed_id}")).await;
    b.wait_text("#retry-outcome", |t| t.contains("failed again"))
        .await;
    assert!(b
        .client
        .find(Locator::Css(&format!("#retry-{failed_id}")))
        .await
        .is_ok());
    assert!(b.client.find(Locator::Css("#no-failed")).await.is_err());
    b.shot("failed-again").await;
    b.click(&format!("#retry-{failed_id}")).await;
    let line = b
        .wait_text("#retry-outcome", |t| t.contains("delivered"))
        .await;
    assert!(!line.contains("failed again"), "{line}");
    b.wait_text("#no-failed", |t| t == "No failed events.")
        .await;
    b.shot("failed-retried").await;
    let sent = zalo_sent(&env, CUSTOMER, 1).await;
    assert!(sent
        .iter()
        .any(|s| zalo_text(s).as_deref() == Some("Đơn hàng đã được gửi")));

    // Backfill: the progress bar reaches 100 % and the old message arrives.
    add_user(&env, OLD_CUSTOMER, "Tuấn");
    let now = env.zalo.now_ms();
    env.zalo
        .seed_history(OLD_CUSTOMER, &[(true, "hỏi hôm kia", now - 2 * 86_400_000)]);
    b.click("nav a[href='/console/backfill']").await;
    // Before any run, once the live stream has spoken, the page still says plainly that none ran.
    b.client
        .wait()
        .for_element(Locator::Css("#backfill-status[data-phase='idle']"))
        .await
        .unwrap();
    b.wait_text("#backfill-status", |t| {
        t.starts_with("No backfill has run") && !t.contains("0 of 0")
    })
    .await;
    b.type_into("#days", "7").await;
    b.click("#start-backfill").await;
    b.wait_text("#backfill-status", |t| {
        t.starts_with("Done: 2 conversations")
    })
    .await;
    // Finished: the button starts another.
    let enabled = b
        .client
        .execute(
            "return !document.getElementById('start-backfill').disabled;",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(enabled, json!(true));
    let value = b
        .client
        .execute(
            "return document.getElementById('backfill-bar').value;",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(value, json!(100));
    b.shot("backfill").await;
    let old = customer_messages(&env, OLD_CUSTOMER, 1).await;
    assert!(texts(&old[0])[0].contains("hỏi hôm kia"));

    // A phone's width: nothing scrolls sideways on the overview.
    b.client.set_window_size(390, 844).await.unwrap();
    b.click("nav a[href='/console']").await;
    b.wait_text("#readiness", |t| t.starts_with("Ready")).await;
    let fits = b
        .client
        .execute(
            "return document.documentElement.scrollWidth <= window.innerWidth;",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(fits, json!(true), "the overview fits a phone's width");
    b.shot("overview-phone").await;
    b.client.clone().close().await.unwrap();
}

/// The console's pages and the names of their screenshots.
const PAGES: [(&str, &str); 6] = [
    ("/console", "overview"),
    ("/console/connect", "connect"),
    ("/console/activity", "activity"),
    ("/console/failed", "failed"),
    ("/console/backfill", "backfill"),
    ("/console/pairings", "pairings"),
];

/// Writes the README's picture of the console, `docs/console-overview.png`, from a console with a
/// day of traffic (customers writing and agents replying at several hours, one reply Zalo refused),
/// and every page, empty and busy, into `target/console-screenshots/`. Run it when the console's look
/// changes: `cargo test -p zfsync --all-features --test e2e console_screenshots -- --ignored`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "writes docs/console-overview.png: run it on purpose when the console changes"]
async fn console_screenshots() {
    let Some(b) = Browser::start_sized(1280, 3000).await else {
        panic!("the screenshots need Chromium and chromedriver (apt-get install chromium chromium-driver)");
    };
    let env = env().await;
    let base = env.daemon_url();
    b.client.goto(&format!("{base}/console")).await.unwrap();
    b.type_into("#token", &env.admin_token).await;
    b.click("button[type=submit]").await;
    b.wait_text("#readiness", |t| t.starts_with("Ready")).await;
    // Every page with an empty store, as a new operator first sees them.
    for (path, name) in PAGES {
        b.client.goto(&format!("{base}{path}")).await.unwrap();
        b.wait_text("h1", |t| !t.is_empty()).await;
        b.shot(&format!("empty-{name}")).await;
    }
    let customers = [
        ("5234000000000000811", "Minh Khánh"),
        ("5234000000000000812", "Lan Anh"),
        ("5234000000000000813", "Tuấn"),
    ];
    for (id, name) in customers {
        add_user(&env, id, name);
    }
    let agent = env.freshchat.default_agent_id();
    // Each round's messages, then the hours until the next round: the bars spread over the day.
    let rounds: [(usize, u32); 8] = [
        (2, 4),
        (4, 3),
        (1, 4),
        (3, 2),
        (5, 3),
        (2, 1),
        (3, 2),
        (2, 0),
    ];
    let mut sent = std::collections::HashMap::new();
    for (n, then_hours) in rounds {
        for (k, (id, _)) in customers.iter().enumerate().take(n.min(customers.len())) {
            let count = sent.entry(*id).or_insert(0usize);
            for _ in 0..(n / customers.len() + 1) {
                env.zalo
                    .user_sends(id, UserAction::Text("còn hàng không ạ?".into()))
                    .await;
                *count += 1;
            }
            customer_messages(&env, id, *count).await;
            if k % 2 == 0 {
                let conv = conversation(&env, id).unwrap();
                env.agent_says(
                    &conv,
                    &agent,
                    &[zfsync_freshchat::MessagePart::Text {
                        content: "Dạ còn ạ, shop gửi anh/chị ngay.".into(),
                    }],
                )
                .await
                .unwrap();
            }
        }
        settle(&env).await;
        wait_for(WAIT, || async {
            (count_in_state(&env, EventState::Pending).await == 0).then_some(())
        })
        .await
        .expect("the round is delivered");
        if then_hours > 0 {
            crate::tamper::age_finished_events_by_hours(&env, then_hours);
        }
    }
    failed_reply(&env, customers[1].0, "Đơn hàng đã được gửi").await;

    b.client.goto(&format!("{base}/console")).await.unwrap();
    b.wait_text("#readiness", |t| t.starts_with("Ready")).await;
    // The whole page and no more: the window's height is the page's plus the window's own frame.
    let height = b
        .client
        .execute(
            "return Math.ceil(document.body.getBoundingClientRect().bottom) + window.outerHeight - window.innerHeight;",
            vec![],
        )
        .await
        .unwrap()
        .as_u64()
        .unwrap();
    b.client
        .set_window_size(1280, u32::try_from(height).unwrap())
        .await
        .unwrap();
    b.wait_text("#readiness", |t| t.starts_with("Ready")).await;
    let png = b.client.screenshot().await.unwrap();
    let docs = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("docs/console-overview.png");
    std::fs::write(&docs, &png).unwrap();
    std::fs::write(b.shots.join("readme-overview.png"), &png).unwrap();
    for (path, name) in PAGES {
        b.client.goto(&format!("{base}{path}")).await.unwrap();
        b.wait_text("h1", |t| !t.is_empty()).await;
        b.shot(&format!("busy-{name}")).await;
    }
    println!("wrote {}", docs.display());
    b.client.clone().close().await.unwrap();
}
