//! Agents' `/zalo` commands and ZBS template messages through both simulators: a private note
//! beginning with `/zalo` is run and answered by zfsync's bot in a private note, in the agents'
//! language; nothing of it reaches the customer, and an ordinary private note is never sent. A
//! template goes out once (even when Freshchat delivers the command twice), its answer shows what
//! the customer read, and its echo from Zalo is not shown again; an unknown template, a missing
//! parameter and Zalo's refusal are answered; a reply refused after 7 days names the templates.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use zfsync::tools::sandbox::{Env, EnvOptions};
use zfsync_freshchat::sim::WebhookMode as FcWebhookMode;
use zfsync_freshchat::MessagePart;
use zfsync_mappings::rules::DEFAULT_RULES;
use zfsync_zalo::sim::{SimTemplate, UserAction};

use crate::helpers::*;

const DAY: Duration = Duration::from_secs(24 * 3600);

/// Two templates: one the agent fills (`order`) with the customer's first name from Freshchat,
/// and one Zalo approved for phone-number sends only.
const TEMPLATES: &str = r#"
[[templates]]
name = "order_update"
template_id = "12056"
text = "Chào {customer}, đơn hàng {order} đã được giao."
[templates.params]
order = { argument = "order" }
customer = { user_property = "first_name" }

[[templates]]
name = "otp"
template_id = "777"
text = "Mã xác nhận của bạn"
"#;

/// An environment whose agents read `agent_language`, with [`TEMPLATES`] in its rules and in
/// the Zalo simulator.
async fn env_reading(agent_language: &str, dir: &tempfile::TempDir) -> Env {
    let rules = dir.path().join("rules.toml");
    std::fs::write(&rules, format!("{DEFAULT_RULES}\n{TEMPLATES}")).unwrap();
    let env = env_with(EnvOptions {
        mapping_toml: format!(
            "rules = {}\nagent_language = \"{agent_language}\"\n",
            toml_string(&rules.display().to_string())
        ),
        ..EnvOptions::default()
    })
    .await;
    env.zalo.approve_template(SimTemplate {
        template_id: "12056".into(),
        params: vec!["order".into(), "customer".into()],
        text: "Chào <customer>, đơn hàng <order> đã được giao.".into(),
        by_uid: true,
    });
    env.zalo.approve_template(SimTemplate {
        template_id: "777".into(),
        params: vec![],
        text: "Mã xác nhận của bạn".into(),
        by_uid: false,
    });
    env
}

/// The customer `user` last wrote eight days ago (past Zalo's 7-day window); their conversation.
async fn wrote_eight_days_ago(env: &Env, user: &str) -> String {
    add_user(env, user, "Lan");
    env.zalo.rewind_clock(8 * DAY);
    env.zalo
        .user_sends(user, UserAction::Text("cho em hỏi".into()))
        .await;
    env.zalo.advance_clock(8 * DAY);
    customer_messages(env, user, 1).await;
    conversation(env, user).unwrap()
}

fn toml_string(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_answer_in_vietnamese_and_plain_notes_stay_in_freshchat() {
    let dir = tempfile::tempdir().unwrap();
    let env = env_reading("vi", &dir).await;
    let user = "5234000000000000701";
    let conv = start_conversation(&env, user).await;

    agent_note(&env, &conv, "/zalo help").await;
    let help = bot_notes(&env, user, 1).await;
    assert!(help[0].starts_with("Lệnh zfsync"), "{help:?}");
    assert!(
        help[0].contains("/zalo help") && help[0].contains("/zalo template <tên>"),
        "{help:?}"
    );

    // An unknown command answers with help.
    agent_note(&env, &conv, "/zalo frobnicate now").await;
    let unknown = bot_notes(&env, user, 2).await;
    assert!(
        unknown[1].contains("không có lệnh \"frobnicate\"") && unknown[1].contains("/zalo help"),
        "{unknown:?}"
    );

    // An ordinary note: not sent, not answered.
    agent_note(&env, &conv, "Khách VIP, ưu tiên giao nhanh").await;
    settle(&env).await;
    assert_eq!(bot_notes_now(&env, user).len(), 2);
    assert!(
        env.zalo.sent_to(user).is_empty(),
        "nothing reaches the customer"
    );
    assert!(env
        .zalo
        .sent_to(user)
        .iter()
        .all(|s| zalo_text(s).is_none_or(|t| !t.contains("/zalo"))));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_template_goes_out_once_and_every_refusal_is_answered_in_english() {
    let dir = tempfile::tempdir().unwrap();
    let env = env_reading("en", &dir).await;
    // Freshchat delivers every webhook twice: a command must still run once.
    env.freshchat.set_webhook_mode(FcWebhookMode::Duplicate);
    let user = "5234000000000000702";
    let conv = wrote_eight_days_ago(&env, user).await;

    // Eight days on, Zalo refuses a reply; the note names the templates and how to send one.
    let agent = env.freshchat.default_agent_id();
    env.agent_says(&conv, &agent, &[MessagePart::text("chào chị")])
        .await
        .unwrap();
    let refused = bot_notes(&env, user, 1).await;
    assert!(refused[0].contains("-230"), "{refused:?}");
    assert!(
        refused[0].contains("/zalo template order_update order=…")
            && refused[0].contains("/zalo template otp"),
        "{refused:?}"
    );

    // The template: sent once, to the customer, with the agent's argument and the customer's
    // first name from Freshchat; the answer shows what the customer read.
    agent_note(&env, &conv, "/zalo template order_update order=DH123").await;
    let sent = zalo_sent(&env, user, 1).await;
    assert_eq!(sent[0].message["template_id"], "12056");
    assert_eq!(sent[0].message["template_data"]["order"], "DH123");
    assert_eq!(
        sent[0].message["text"],
        "Chào Lan, đơn hàng DH123 đã được giao."
    );
    let answers = bot_notes(&env, user, 2).await;
    assert!(
        answers[1].starts_with("Template \"order_update\" sent")
            && answers[1].contains("Chào Lan, đơn hàng DH123 đã được giao."),
        "{answers:?}"
    );

    // Unknown template, a missing argument, an argument it does not take, Zalo's refusal.
    agent_note(&env, &conv, "/zalo template welcome").await;
    let n = bot_notes(&env, user, 3).await;
    assert!(
        n[2].contains("no template \"welcome\"") && n[2].contains("order_update"),
        "{n:?}"
    );
    agent_note(&env, &conv, "/zalo template order_update").await;
    let n = bot_notes(&env, user, 4).await;
    assert!(
        n[3].contains("no value for order") && n[3].contains("order=…"),
        "{n:?}"
    );
    agent_note(
        &env,
        &conv,
        "/zalo template order_update order=1 colour=red",
    )
    .await;
    let n = bot_notes(&env, user, 5).await;
    assert!(n[4].contains("no parameter colour"), "{n:?}");
    agent_note(&env, &conv, "/zalo template otp").await;
    let n = bot_notes(&env, user, 6).await;
    assert!(
        n[5].starts_with("Template \"otp\" not sent") && n[5].contains("-249"),
        "{n:?}"
    );

    // Everything settled: one template reached Zalo, its echo was not shown again as a message
    // from OA staff or another app, and no command text reached the customer.
    settle(&env).await;
    let sent = env.zalo.sent_to(user);
    assert_eq!(sent.len(), 1, "{sent:?}");
    let all = bot_notes_now(&env, user);
    assert_eq!(all.len(), 6, "{all:?}");
    assert!(
        all.iter().all(|n| !n.contains("[template]")),
        "the echo is zfsync's own: {all:?}"
    );
}

/// Templates whose sends go wrong in the ways an operator's rules can: a user property the
/// customer lacks, an id Zalo never approved, a parameter Zalo's template does not have.
const FAULTY_TEMPLATES: &str = r#"
[[templates]]
name = "vip"
template_id = "12057"
text = "Hạng thành viên của bạn: {tier}"
[templates.params]
tier = { user_property = "loyalty_tier" }

[[templates]]
name = "badid"
template_id = "99999"
text = "Xin chào"

[[templates]]
name = "code"
template_id = "778"
text = "Mã của bạn: {code}"
[templates.params]
code = { value = "123456" }
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn template_mistakes_are_answered_with_who_must_fix_what() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules.toml");
    std::fs::write(
        &rules,
        format!("{DEFAULT_RULES}\n{TEMPLATES}\n{FAULTY_TEMPLATES}"),
    )
    .unwrap();
    let env = env_with(EnvOptions {
        mapping_toml: format!(
            "rules = {}\nagent_language = \"vi\"\n",
            toml_string(&rules.display().to_string())
        ),
        ..EnvOptions::default()
    })
    .await;
    // Approved the way an integrator does it by hand: the simulator's control route.
    let http = reqwest::Client::new();
    for body in [
        serde_json::json!({"template_id": "12056", "text": "Chào <customer>, đơn hàng <order> đã được giao."}),
        serde_json::json!({"template_id": "12057", "text": "Hạng thành viên của bạn: <tier>"}),
        // Zalo's template takes `otp`, not the rules' `code`.
        serde_json::json!({"template_id": "778", "text": "Mã của bạn: <otp>"}),
    ] {
        let r = http
            .post(env.zalo.api_base().join("/sim/templates").unwrap())
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    let user = "5234000000000000703";
    let conv = start_conversation(&env, user).await;
    let mut seen = 0;
    let mut ask = |text: &'static str| {
        seen += 1;
        let (env, conv, n) = (&env, conv.clone(), seen);
        async move {
            agent_note(env, &conv, text).await;
            bot_notes(env, user, n).await.remove(n - 1)
        }
    };

    // The property the template reads is empty on the customer's Freshchat user.
    let n = ask("/zalo template vip").await;
    assert!(
        n.contains("loyalty_tier") && n.contains("Freshchat") && !n.contains("Cách dùng"),
        "{n}"
    );
    // Zalo does not know the id: the admin must correct the rules.
    let n = ask("/zalo template badid").await;
    assert!(
        n.contains("99999") && n.contains("[[templates]]") && !n.contains("!."),
        "{n}"
    );
    // Zalo's template has no parameter `code`.
    let n = ask("/zalo template code").await;
    assert!(
        n.contains("code") && n.contains("[templates.params]") && !n.contains("!."),
        "{n}"
    );
    // An argument typed twice is not guessed at.
    let n = ask("/zalo template order_update order=1 order=2").await;
    assert!(n.contains("hai lần") && n.contains("order=…"), "{n}");
    // No name: how to use it, and the templates there are.
    let n = ask("/zalo template").await;
    assert!(
        n.contains("/zalo template <tên>") && n.contains("order_update"),
        "{n}"
    );
    // The command word in any case; help lists only the commands that are on.
    let n = ask("/Zalo HELP").await;
    assert!(n.starts_with("Lệnh zfsync"), "{n}");
    assert!(
        !n.contains("/zalo tag") && !n.contains("/zalo untag") && n.contains("/zalo ask-info"),
        "tag commands are off, ask-info on: {n}"
    );
    // A bad argument shows the template's own usage.
    let n = ask("/zalo template order_update DH1").await;
    assert!(n.contains("/zalo template order_update order=…"), "{n}");
    assert!(env.zalo.sent_to(user).is_empty(), "nothing was sent so far");
    // Typographic quotes hold a value like straight ones and never reach the customer.
    let n = ask("/zalo template order_update order=“X 12”").await;
    assert!(n.starts_with("Đã gửi mẫu tin"), "{n}");
    let sent = zalo_sent(&env, user, 1).await;
    assert_eq!(sent[0].message["template_data"]["order"], "X 12");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_commands_off_a_refused_reply_offers_no_template() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules.toml");
    let off = DEFAULT_RULES.replacen(
        "[commands]\nenabled = true",
        "[commands]\nenabled = false",
        1,
    );
    assert_ne!(off, DEFAULT_RULES);
    std::fs::write(&rules, format!("{off}\n{TEMPLATES}")).unwrap();
    let env = env_with(EnvOptions {
        mapping_toml: format!(
            "rules = {}\nagent_language = \"en\"\n",
            toml_string(&rules.display().to_string())
        ),
        ..EnvOptions::default()
    })
    .await;
    let user = "5234000000000000704";
    let conv = wrote_eight_days_ago(&env, user).await;
    let agent = env.freshchat.default_agent_id();
    env.agent_says(&conv, &agent, &[MessagePart::text("chào chị")])
        .await
        .unwrap();
    let refused = bot_notes(&env, user, 1).await;
    assert!(refused[0].contains("-230"), "{refused:?}");
    assert!(
        !refused[0].contains("/zalo") && !refused[0].contains("template"),
        "commands are off: {refused:?}"
    );
}
