//! Routing new conversations to Freshchat groups (`[routing]` of the rules), end to end: the
//! customer writes on the Zalo simulator, the daemon creates the conversation in the Freshchat
//! simulator with the `assigned_group_id` the first matching rule names (by id or by name), the
//! default group takes the rest; `zfsync check` fails on a group Freshchat does not have.
#![allow(clippy::unwrap_used)]

use chrono::Timelike;
use zfsync::tools::sandbox::{Env, EnvOptions};
use zfsync_zalo::sim::UserAction;

use crate::helpers::{add_user, customer_messages, fc_user, named_check, zfsync_output};

pub const SALES: &str = "5b1c7a1e-0000-4000-8000-000000000001";
pub const NIGHT: &str = "5b1c7a1e-0000-4000-8000-000000000002";
pub const VIP: &str = "5b1c7a1e-0000-4000-8000-000000000003";
pub const SHOP: &str = "5b1c7a1e-0000-4000-8000-000000000004";
/// The simulator's own group.
pub const SUPPORT: &str = "f8552a49-e96d-400f-bea0-add54b5ba6fc";

/// The built-in rules with `routing` in place of their `[routing]` table, and the `key = value`
/// lines of `tags` in place of those of `[tags]`.
pub fn rules_with(routing: &str, tags: Option<&str>) -> String {
    let rules = zfsync_mappings::rules::DEFAULT_RULES;
    let start = rules.find("[routing]\n").unwrap();
    let end = rules[start..].find("\n\n").unwrap() + start;
    let mut out = format!("{}{}\n{}", &rules[..start], routing.trim(), &rules[end..]);
    if let Some(tags) = tags {
        // Each `key = value` line replaces that key's line in `[tags]`.
        let start = out.find("[tags]\n").unwrap();
        let end = out[start..].find("\n\n").unwrap() + start;
        let mut table = out[start..end].to_string();
        for line in tags.lines().map(str::trim).filter(|l| !l.is_empty()) {
            let key = line.split('=').next().unwrap().trim();
            let old = table
                .lines()
                .find(|l| l.starts_with(&format!("{key} =")))
                .unwrap()
                .to_string();
            table = table.replace(&old, line);
        }
        out.replace_range(start..end, &table);
    }
    out
}

/// Both simulators (Freshchat with the groups above) and the daemon with `rules` (`{OA}` in them
/// is the simulated OA's id).
pub async fn env_with_rules(rules: &str) -> Env {
    let mut env = Env::new(EnvOptions::default()).await.unwrap();
    let rules = rules.replace("{OA}", &env.zalo.config().oa_id);
    env.freshchat.set_groups(vec![
        (SUPPORT.into(), "Support".into()),
        (SALES.into(), "Sales".into()),
        (NIGHT.into(), "Night shift".into()),
        (VIP.into(), "VIP".into()),
        (SHOP.into(), "Shop".into()),
    ]);
    let path = env.dir.path().join("rules.toml");
    std::fs::write(&path, rules).unwrap();
    let cfg = std::fs::read_to_string(env.config_path()).unwrap();
    std::fs::write(
        env.config_path(),
        format!("{cfg}\n[mapping]\nrules = \"{}\"\n", path.display()),
    )
    .unwrap();
    env.start_daemon().await.unwrap();
    env.connect_zalo().await.unwrap();
    env
}

/// The customer writes `text`; the group of the conversation the daemon opened for them.
pub async fn group_of_first(env: &Env, user: &str, text: &str) -> Option<String> {
    add_user(env, user, "Minh");
    env.zalo
        .user_sends(user, UserAction::Text(text.into()))
        .await;
    customer_messages(env, user, 1).await;
    let fc = fc_user(env, user).unwrap();
    env.fc_conversations()
        .into_iter()
        .find(|c| c.user_id.as_deref() == Some(fc.id.as_str()))
        .unwrap()
        .assigned_group_id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_keyword_in_the_first_message_routes_and_the_default_group_takes_the_rest() {
    let env = env_with_rules(&rules_with(
        r#"
[routing]
default_group = "Support"
[[routing.rules]]
name = "orders"
group = "Sales"
keywords = ["đơn hàng", "order"]
[[routing.rules]]
name = "switched off"
group = "VIP"
enabled = false
"#,
        None,
    ))
    .await;
    assert_eq!(
        group_of_first(
            &env,
            "4000000000000000001",
            "Cho hỏi ĐƠN HÀNG DH123 đâu rồi?"
        )
        .await,
        Some(SALES.into()),
        "matched by name, case-insensitively"
    );
    assert_eq!(
        group_of_first(&env, "4000000000000000002", "xin chào").await,
        Some(SUPPORT.into()),
        "no rule matches: the default group"
    );
    // A later message does not move the conversation.
    env.zalo
        .user_sends(
            "4000000000000000002",
            UserAction::Text("order please".into()),
        )
        .await;
    customer_messages(&env, "4000000000000000002", 2).await;
    let fc = fc_user(&env, "4000000000000000002").unwrap();
    let convs: Vec<_> = env
        .fc_conversations()
        .into_iter()
        .filter(|c| c.user_id.as_deref() == Some(fc.id.as_str()))
        .collect();
    assert_eq!(convs.len(), 1);
    assert_eq!(convs[0].assigned_group_id.as_deref(), Some(SUPPORT));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn business_hours_route_in_the_rules_time_zone() {
    // Hours built around the current time in Vietnam: one window from three hours ahead (now is
    // outside it, whatever the time of day), one from an hour ago to two hours ahead (now is
    // inside). Either may run past midnight.
    let hour = chrono::Utc::now()
        .with_timezone(&chrono_tz::Asia::Ho_Chi_Minh)
        .hour();
    let later = format!("daily {:02}:00-{:02}:00", (hour + 3) % 24, (hour + 5) % 24);
    let now = format!("daily {:02}:00-{:02}:00", (hour + 23) % 24, (hour + 2) % 24);
    let env = env_with_rules(&rules_with(
        &format!(
            r#"
[routing]
time_zone = "Asia/Ho_Chi_Minh"
[[routing.rules]]
name = "later team"
group = "Sales"
hours = ["{later}"]
[[routing.rules]]
name = "after the later team's hours"
group = "Night shift"
hours = ["{later}"]
outside_hours = true
keywords = ["night"]
[[routing.rules]]
name = "now team"
group = "{VIP}"
hours = ["{now}"]
"#
        ),
        None,
    ))
    .await;
    let when = format!("now {hour} h in Vietnam; later {later}, now {now}");
    assert_eq!(
        group_of_first(&env, "4000000000000000011", "night shift please").await,
        Some(NIGHT.into()),
        "outside the later team's hours: {when}"
    );
    assert_eq!(
        group_of_first(&env, "4000000000000000012", "hello").await,
        Some(VIP.into()),
        "within the now team's hours, the group named by id: {when}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pairing_and_the_oa_route() {
    let env = env_with_rules(&rules_with(
        r#"
[routing]
[[routing.rules]]
name = "shop pairing"
group = "Shop"
pairings = ["shop"]
[[routing.rules]]
name = "another OA"
group = "Sales"
oa_ids = ["1234567890"]
[[routing.rules]]
name = "this pairing's OA"
group = "VIP"
pairings = ["default"]
oa_ids = ["{OA}"]
"#,
        None,
    ))
    .await;
    assert_eq!(
        group_of_first(&env, "4000000000000000021", "hello").await,
        Some(VIP.into())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routing_switched_off_leaves_conversations_unassigned() {
    let env = env_with_rules(&rules_with(
        r#"
[routing]
enabled = false
default_group = "Support"
"#,
        None,
    ))
    .await;
    assert_eq!(
        group_of_first(&env, "4000000000000000031", "order").await,
        None
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_names_the_rule_whose_group_freshchat_does_not_have() {
    let mut env = env_with_rules(&rules_with(
        r#"
[routing]
default_group = "Support"
[[routing.rules]]
name = "orders"
group = "Sales"
keywords = ["order"]
[[routing.rules]]
name = "wholesale"
group = "Wholesale team"
keywords = ["sỉ"]
"#,
        None,
    ))
    .await;
    env.stop_daemon().await;
    let out = zfsync_output(&env, &["check", "--json"]).await;
    assert_eq!(out.status.code(), Some(1));
    let c = groups_check(&out.stdout);
    assert_eq!(c["level"], "fail", "{c:#}");
    let detail = c["detail"].as_str().unwrap();
    assert!(
        detail.contains("\"wholesale\"") && detail.contains("Wholesale team"),
        "{detail}"
    );
    assert!(
        !detail.contains("orders"),
        "a found group is not named: {detail}"
    );
    let fix = c["fix"].as_str().unwrap();
    assert!(fix.contains("\"Sales\"") && fix.contains(SALES), "{fix}");

    // Once the group exists, the check passes and names where each rule goes.
    env.freshchat.set_groups(vec![
        (SUPPORT.into(), "Support".into()),
        (SALES.into(), "Sales".into()),
        (
            "5b1c7a1e-0000-4000-8000-000000000009".into(),
            "Wholesale team".into(),
        ),
    ]);
    let out = zfsync_output(&env, &["check", "--json"]).await;
    let c = groups_check(&out.stdout);
    assert_eq!(c["level"], "ok", "{c:#}");
    assert!(c["detail"]
        .as_str()
        .unwrap()
        .contains("wholesale → Wholesale team"));
}

/// The `freshchat_groups` check of a `zfsync check --json` output.
fn groups_check(stdout: &[u8]) -> serde_json::Value {
    named_check(stdout, "freshchat_groups")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_names_a_rule_whose_pairing_does_not_exist() {
    let mut env = env_with_rules(&rules_with(
        r#"
[routing]
[[routing.rules]]
name = "shop two"
group = "Sales"
pairings = ["default", "shop-2"]
"#,
        None,
    ))
    .await;
    env.stop_daemon().await;
    let out = zfsync_output(&env, &["check", "--json"]).await;
    let c = named_check(&out.stdout, "mapping_rules");
    assert_eq!(c["level"], "warn", "{c:#}");
    let detail = c["detail"].as_str().unwrap();
    assert!(
        detail.contains("\"shop two\"") && detail.contains("\"shop-2\""),
        "{detail}"
    );
    assert!(!detail.contains("\"default\""), "default exists: {detail}");
    assert!(
        c["fix"].as_str().unwrap().contains("zfsync pairing list"),
        "{c:#}"
    );
}
