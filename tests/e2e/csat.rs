//! Ratings after resolve, end to end through both simulators: with `csat.ask` on, an agent's
//! resolve sends the notice with the question; the customer's lone digit becomes a private note, the
//! `zalo_last_rating` property, the metric and the console's daily average, and opens no
//! conversation; any other reply is a normal message and answers the question (a later digit is a
//! message too), and so is a digit after the window.
#![allow(clippy::unwrap_used)]

use zfsync::tools::sandbox::{wait_for, Env};
use zfsync_freshchat::ConversationStatus;
use zfsync_mappings::rules::{CustomerText, DEFAULT_RULES};
use zfsync_mappings::Rules;
use zfsync_zalo::sim::UserAction;

use crate::helpers::{
    bot_notes, customer_messages, fc_user, metrics, operator_page, settle, start_conversation,
    store, zalo_sent, zalo_text, WAIT,
};
use crate::routing::env_with_rules;

/// The built-in rules with the question switched on.
fn rules_asking() -> String {
    let out = DEFAULT_RULES.replace("[csat]\nask = false\n", "[csat]\nask = true\n");
    assert_ne!(
        out, DEFAULT_RULES,
        "the [csat] table starts with ask = false"
    );
    out
}

/// The conversations of the customer's Freshchat user.
fn conversations(env: &Env, user: &str) -> Vec<zfsync_freshchat::Conversation> {
    let fc = fc_user(env, user).unwrap();
    env.fc_conversations()
        .into_iter()
        .filter(|c| c.user_id.as_deref() == Some(fc.id.as_str()))
        .collect()
}

/// Waits until a customer message reading `text` is in any of the customer's conversations (a
/// message after a resolve reopens the conversation or starts a new one, as Freshchat decides).
async fn customer_message_arrives(env: &Env, user: &str, text: &str) {
    let found = wait_for(WAIT, || async {
        conversations(env, user)
            .iter()
            .flat_map(|c| env.fc_messages(&c.conversation_id))
            .filter(|m| matches!(m.actor_type, zfsync_freshchat::ActorType::User))
            .any(|m| crate::helpers::texts(&m) == [text])
            .then_some(())
    })
    .await;
    assert!(
        found.is_some(),
        "{text:?} did not reach Freshchat as the customer's message"
    );
}

/// The `zalo_last_rating` property of the customer's Freshchat user ("" when absent).
fn rating_property(env: &Env, user: &str) -> String {
    fc_user(env, user)
        .and_then(|u| {
            u.properties
                .into_iter()
                .find(|p| p.name == "zalo_last_rating")
                .map(|p| p.value)
        })
        .unwrap_or_default()
}

/// Starts a conversation, has an agent resolve it, and waits for the notice with the question and
/// for zfsync to remember it asked. Returns the conversation.
async fn resolved_and_asked(env: &Env, user: &str) -> String {
    let conv = start_conversation(env, user).await;
    env.freshchat
        .resolve(&conv, &env.freshchat.default_agent_id())
        .await
        .unwrap();
    let sent = zalo_sent(env, user, 1).await;
    let text = zalo_text(&sent[0]).unwrap();
    let rules = Rules::default();
    let notice = rules.freshchat_to_zalo.text(CustomerText::ResolveNotice);
    let question = rules.csat_texts("vi").question;
    assert_eq!(text, format!("{notice}\n\n{question}"));
    let asked = wait_for(WAIT, || async {
        store(env)
            .rating_asked_in(user.into(), 0)
            .await
            .unwrap()
            .filter(|c| c == &conv)
    })
    .await;
    assert!(asked.is_some(), "zfsync did not remember asking");
    conv
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lone_digit_after_the_question_is_a_rating_and_opens_no_conversation() {
    let env = env_with_rules(&rules_asking()).await;
    let user = "5300000000000000001";
    let conv = resolved_and_asked(&env, user).await;

    env.zalo
        .user_sends(user, UserAction::Text(" 4 ".into()))
        .await;
    let notes = bot_notes(&env, user, 1).await;
    let want = Rules::default()
        .csat_texts("vi")
        .rated_note
        .replace("{score}", "4");
    assert!(notes.contains(&want), "{notes:?} should hold {want:?}");
    let property = wait_for(WAIT, || async {
        let p = rating_property(&env, user);
        (p == "4").then_some(p)
    })
    .await;
    assert_eq!(property.as_deref(), Some("4"), "zalo_last_rating");
    settle(&env).await;

    // The digit is not a message: no new conversation, the resolved one stays resolved, and the
    // customer's messages are still the first one only.
    let convs = conversations(&env, user);
    assert_eq!(convs.len(), 1, "{convs:?}");
    assert_eq!(convs[0].conversation_id, conv);
    assert_eq!(convs[0].status, Some(ConversationStatus::Resolved));
    assert_eq!(customer_messages(&env, user, 1).await.len(), 1);

    let m = metrics(&env).await;
    assert!(
        m.lines().any(|l| l.starts_with("zfsync_csat_ratings_total")
            && l.contains("score=\"4\"")
            && l.ends_with(" 1")),
        "{m}"
    );
    let page = operator_page(&env, "/console").await;
    assert!(
        page.contains("4.0/5"),
        "the overview shows the day's average"
    );

    // The question is answered: a second digit is a normal message.
    env.zalo
        .user_sends(user, UserAction::Text("5".into()))
        .await;
    customer_message_arrives(&env, user, "5").await;
    assert_eq!(rating_property(&env, user), "4");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_replies_and_late_digits_are_normal_messages() {
    let env = env_with_rules(&rules_asking()).await;

    // Words, not a lone digit: a message like any other, and it answers the question.
    let wordy = "5300000000000000002";
    resolved_and_asked(&env, wordy).await;
    env.zalo
        .user_sends(wordy, UserAction::Text("5 sao, cảm ơn".into()))
        .await;
    customer_message_arrives(&env, wordy, "5 sao, cảm ơn").await;
    assert_eq!(rating_property(&env, wordy), "");
    assert_eq!(
        store(&env).rating_asked_in(wordy.into(), 0).await.unwrap(),
        None,
        "the reply closed the question"
    );

    // A digit a day and more after the question (asked 25 h ago): a normal message.
    let late = "5300000000000000003";
    let conv_late = resolved_and_asked(&env, late).await;
    store(&env)
        .set_rating_asked(
            late.into(),
            conv_late,
            zfsync::store::now_ms() - 25 * 3_600_000,
        )
        .await
        .unwrap();
    env.zalo
        .user_sends(late, UserAction::Text("3".into()))
        .await;
    customer_message_arrives(&env, late, "3").await;
    settle(&env).await;
    assert_eq!(rating_property(&env, late), "");
    let rated = Rules::default()
        .csat_texts("vi")
        .rated_note
        .replace("{score}", "3");
    assert!(!crate::helpers::bot_notes_now(&env, late).contains(&rated));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_digit_answering_an_agent_after_another_reply_is_a_message() {
    let env = env_with_rules(&rules_asking()).await;
    let user = "5300000000000000005";
    resolved_and_asked(&env, user).await;

    // The customer answers with words: the conversation is active again.
    env.zalo
        .user_sends(user, UserAction::Text("4 thanks".into()))
        .await;
    customer_message_arrives(&env, user, "4 thanks").await;
    settle(&env).await;

    // The agent asks how many; the customer's "2" is the answer, not a rating.
    let conv = crate::helpers::conversation(&env, user).unwrap();
    let agent = env.freshchat.default_agent_id();
    env.agent_says(
        &conv,
        &agent,
        &[zfsync_freshchat::MessagePart::text(
            "Anh muốn mua mấy cái ạ?",
        )],
    )
    .await
    .unwrap();
    let sent = zalo_sent(&env, user, 2).await;
    assert_eq!(
        zalo_text(&sent[1]).as_deref(),
        Some("Anh muốn mua mấy cái ạ?")
    );
    env.zalo
        .user_sends(user, UserAction::Text("2".into()))
        .await;
    customer_message_arrives(&env, user, "2").await;
    settle(&env).await;

    assert_eq!(rating_property(&env, user), "");
    let rated = Rules::default()
        .csat_texts("vi")
        .rated_note
        .replace("{score}", "2");
    assert!(!crate::helpers::bot_notes_now(&env, user).contains(&rated));
    let m = metrics(&env).await;
    assert!(
        !m.lines()
            .any(|l| l.starts_with("zfsync_csat_ratings_total") && l.contains("score=\"2\"")),
        "{m}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_question_off_the_notice_is_unchanged_and_a_digit_is_a_message() {
    let env = crate::helpers::env().await;
    let user = "5300000000000000004";
    let conv = start_conversation(&env, user).await;
    env.freshchat
        .resolve(&conv, &env.freshchat.default_agent_id())
        .await
        .unwrap();
    let sent = zalo_sent(&env, user, 1).await;
    let notice = Rules::default()
        .freshchat_to_zalo
        .text(CustomerText::ResolveNotice)
        .to_string();
    assert_eq!(zalo_text(&sent[0]), Some(notice));
    env.zalo
        .user_sends(user, UserAction::Text("4".into()))
        .await;
    customer_message_arrives(&env, user, "4").await;
}
