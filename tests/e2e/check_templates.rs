//! `zfsync check` on the rules' ZBS templates and the agents' language: the `mapping_rules` line
//! names the templates it checked and fails on what would break a send at run time (an id that is
//! not Zalo's number, a parameter no placeholder shows), warns about a user property the
//! customers' Freshchat users do not carry, and says how to fix a wrong `[mapping]
//! agent_language` (which is matched in any case).
#![allow(clippy::unwrap_used)]

use serde_json::Value;
use zfsync::tools::sandbox::{Env, EnvOptions};
use zfsync_mappings::rules::DEFAULT_RULES;

use crate::helpers::*;

/// The `mapping_rules` check of `zfsync check --json` on the environment's config.
async fn mapping_rules(env: &Env) -> Value {
    let out = tokio::time::timeout(
        COMMAND_TIMEOUT,
        zfsync()
            .arg("check")
            .arg("--json")
            .arg("--config")
            .arg(env.config_path())
            .output(),
    )
    .await
    .expect("zfsync check did not finish")
    .unwrap();
    named_check(&out.stdout, "mapping_rules")
}

fn mapping_lines(rules: &std::path::Path) -> String {
    format!(
        "rules = \"{}\"\n",
        rules.display().to_string().replace('\\', "\\\\")
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_names_the_templates_and_what_would_break_them() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules.toml");
    std::fs::write(
        &rules,
        format!(
            r#"{DEFAULT_RULES}
[[templates]]
name = "order_update"
template_id = "12056"
text = "Chào {{customer}}, đơn hàng {{order}} đã được giao."
[templates.params]
order = {{ argument = "order" }}
customer = {{ user_property = "first_name" }}

[[templates]]
name = "vip"
template_id = "12057"
text = "Hạng: {{tier}}"
[templates.params]
tier = {{ user_property = "loyalty_tier" }}
"#
        ),
    )
    .unwrap();
    let mut env = env_with(EnvOptions {
        mapping_toml: mapping_lines(&rules),
        ..EnvOptions::default()
    })
    .await;
    // A customer, so that check can look at a Freshchat user.
    start_conversation(&env, "5234000000000000705").await;
    env.stop_daemon().await;

    let c = mapping_rules(&env).await;
    let detail = c["detail"].as_str().unwrap();
    assert_eq!(c["level"], "warn", "{c:#}");
    assert!(
        detail.contains("templates checked: order_update, vip") && detail.contains("loyalty_tier"),
        "{c:#}"
    );
    assert!(!detail.contains("\"first_name\""), "{c:#}");

    // An id that is not a number, a parameter the text never shows: a send would be refused.
    let text = std::fs::read_to_string(&rules).unwrap().replace(
        "template_id = \"12057\"\ntext = \"Hạng: {tier}\"",
        "template_id = \"not a number!\"\ntext = \"Hạng của bạn\"",
    );
    std::fs::write(&rules, text).unwrap();
    let c = mapping_rules(&env).await;
    let detail = c["detail"].as_str().unwrap();
    assert_eq!(c["level"], "fail", "{c:#}");
    assert!(
        detail.contains("\"not a number!\" is not a Zalo template id")
            && detail.contains("parameter \"tier\" appears nowhere in the text"),
        "{c:#}"
    );
    assert!(
        c["fix"].as_str().unwrap().contains("[[templates]]"),
        "{c:#}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_agent_language_is_fixed_in_the_config_and_any_case_works() {
    let env = Env::new(EnvOptions {
        mapping_toml: "agent_language = \"fr\"\n".into(),
        ..EnvOptions::default()
    })
    .await
    .unwrap();
    let c = mapping_rules(&env).await;
    assert_eq!(c["level"], "fail", "{c:#}");
    let (detail, fix) = (c["detail"].as_str().unwrap(), c["fix"].as_str().unwrap());
    assert!(
        detail.contains("\"fr\"") && detail.contains("en, vi"),
        "{c:#}"
    );
    assert!(
        fix.contains("agent_language") && !fix.contains("mapping.rules"),
        "{c:#}"
    );

    let text = std::fs::read_to_string(env.config_path())
        .unwrap()
        .replace("agent_language = \"fr\"", "agent_language = \"EN\"");
    std::fs::write(env.config_path(), text).unwrap();
    let c = mapping_rules(&env).await;
    assert_eq!(c["level"], "ok", "{c:#}");
}
