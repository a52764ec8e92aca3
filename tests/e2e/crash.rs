//! A daemon killed with SIGKILL mid-stream, then restarted: every message arrives exactly once,
//! in order. The daemon runs as a real child process; the simulators stay up and redeliver.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use zfsync::tools::sandbox::{wait_http_ok, Env, EnvOptions};
use zfsync_freshchat::MessagePart;
use zfsync_zalo::sim::UserAction;

use crate::helpers::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_stream_then_restart_delivers_exactly_once_in_order() {
    let env = Env::new(EnvOptions {
        zalo_time_scale: 1000.0,
        // Freshchat redelivers for ~9 s, long enough to cover the restart.
        freshchat_retry_delays: vec![
            Duration::from_millis(300),
            Duration::from_secs(1),
            Duration::from_secs(3),
            Duration::from_secs(5),
        ],
        ..EnvOptions::default()
    })
    .await
    .unwrap();
    let mut daemon = spawn_daemon(&env, &[], "daemon-1.log");
    wait_http_ok(
        &format!("{}/healthz", env.daemon_url()),
        Duration::from_secs(20),
    )
    .await
    .unwrap();
    env.connect_zalo().await.unwrap();

    let users: Vec<String> = (0..3).map(|i| format!("52340000000000009{i:02}")).collect();
    for (i, u) in users.iter().enumerate() {
        add_user(&env, u, &format!("Khách {i}"));
        env.zalo
            .user_sends(u, UserAction::Text(format!("{u} #00")))
            .await;
    }
    for u in &users {
        customer_messages(&env, u, 1).await;
    }
    // Slow both platforms a little so calls are in flight when the process dies.
    env.freshchat.set_latency(Duration::from_millis(15));
    env.zalo.set_latency(Duration::from_millis(15));

    let per_user = 25;
    let agent = env.freshchat.default_agent_id();
    let convs: Vec<String> = users
        .iter()
        .map(|u| conversation(&env, u).unwrap())
        .collect();
    let sender = {
        let (zalo, fc, users, convs, agent) = (
            env.zalo.clone(),
            env.freshchat.clone(),
            users.clone(),
            convs.clone(),
            agent.clone(),
        );
        tokio::spawn(async move {
            for n in 1..per_user {
                for (u, c) in users.iter().zip(&convs) {
                    zalo.user_sends(u, UserAction::Text(format!("{u} #{n:02}")))
                        .await;
                    fc.agent_sends(
                        c,
                        &agent,
                        crate::helpers::json_parts(vec![MessagePart::Text {
                            content: format!("reply {u} #{n:02}"),
                        }]),
                    )
                    .await
                    .unwrap();
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
    };
    // Kill the daemon while the stream is flowing.
    tokio::time::sleep(Duration::from_millis(350)).await;
    daemon.kill().await.unwrap(); // SIGKILL: no shutdown path runs
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut daemon = spawn_daemon(&env, &[], "daemon-2.log");
    wait_http_ok(
        &format!("{}/healthz", env.daemon_url()),
        Duration::from_secs(20),
    )
    .await
    .unwrap();
    sender.await.unwrap();

    for (u, _) in users.iter().zip(&convs) {
        let msgs = customer_messages(&env, u, per_user).await;
        let got: Vec<String> = msgs.iter().flat_map(texts).collect();
        let want: Vec<String> = (0..per_user).map(|n| format!("{u} #{n:02}")).collect();
        assert_eq!(
            got, want,
            "Zalo → Freshchat exactly once, in order, for {u}"
        );
        let sent = zalo_sent(&env, u, per_user - 1).await;
        let got: Vec<String> = sent.iter().filter_map(zalo_text).collect();
        let want: Vec<String> = (1..per_user)
            .map(|n| format!("reply {u} #{n:02}"))
            .collect();
        assert_eq!(
            got, want,
            "Freshchat → Zalo exactly once, in order, for {u}"
        );
    }
    settle(&env).await;
    for u in &users {
        assert_eq!(
            customer_messages(&env, u, per_user).await.len(),
            per_user,
            "no late duplicates"
        );
        assert_eq!(
            env.zalo.sent_to(u).len(),
            per_user - 1,
            "no late duplicates"
        );
    }
    let _ = daemon.kill().await;
}

/// A crash between an external call and its journal entry leaves the step `sending`. On the next
/// attempt the executor must find the message (Freshchat conversation / Zalo history) instead of
/// sending it again. This rewinds delivered events to exactly that state, in both directions.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_step_left_sending_is_reconciled_not_repeated() {
    let mut env = env().await;
    add_user(&env, "5234000000000000950", "Minh");
    let u = "5234000000000000950";
    env.zalo
        .user_sends(u, UserAction::Text("to freshchat".into()))
        .await;
    customer_messages(&env, u, 1).await;
    let conv = conversation(&env, u).unwrap();
    env.agent_says(
        &conv,
        &env.freshchat.default_agent_id(),
        &[MessagePart::Text {
            content: "to zalo".into(),
        }],
    )
    .await
    .unwrap();
    zalo_sent(&env, u, 1).await;
    settle(&env).await;
    env.stop_daemon().await;

    let rewound = crate::tamper::rewind_sends_to_before_their_journal_entry(&env);
    assert_eq!(rewound, 2, "one step per direction");

    env.start_daemon().await.unwrap();
    let done = zfsync::tools::sandbox::wait_for(WAIT, || async {
        (count_in_state(&env, EventState::Pending).await == 0).then_some(())
    })
    .await;
    assert!(done.is_some(), "the rewound events were handled");
    settle(&env).await;
    assert_eq!(
        customer_messages(&env, u, 1).await.len(),
        1,
        "found in Freshchat, not posted again"
    );
    assert_eq!(
        env.zalo.sent_to(u).len(),
        1,
        "found in Zalo's history, not sent again"
    );
    assert_eq!(
        store(&env)
            .sent_step_count(&["post_freshchat", "send_zalo"])
            .await
            .unwrap(),
        2
    );
    assert_eq!(
        store(&env).message_pair_count().await.unwrap(),
        2,
        "pairings restored by reconciliation"
    );
}

/// Messages Zalo never delivered (webhook off, or an outage past its retry ladder) are read from
/// Zalo's history at start-up and synced in order; older history is never imported.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_zalo_never_delivered_are_caught_up_from_history() {
    let mut env = env().await;
    let u = "5234000000000000960";
    add_user(&env, u, "Minh");
    env.zalo
        .user_sends(u, UserAction::Text("before".into()))
        .await;
    customer_messages(&env, u, 1).await;
    env.stop_daemon().await;
    // Zalo gives up on the webhook: these are never delivered.
    env.zalo.set_webhook_url(None);
    // Zalo orders by millisecond timestamps; a person never sends two messages in one.
    for i in 0..3 {
        env.zalo
            .user_sends(u, UserAction::Text(format!("while down {i}")))
            .await;
        tokio::time::sleep(Duration::from_millis(3)).await;
    }
    env.zalo
        .set_webhook_url(Some(format!("{}/webhooks/zalo", env.daemon_url())));
    env.start_daemon().await.unwrap();
    let msgs = customer_messages(&env, u, 4).await;
    let got: Vec<String> = msgs.iter().flat_map(texts).collect();
    assert_eq!(
        got,
        vec!["before", "while down 0", "while down 1", "while down 2"]
    );
    // A later live message follows, and nothing is doubled.
    env.zalo
        .user_sends(u, UserAction::Text("after".into()))
        .await;
    assert_eq!(customer_messages(&env, u, 5).await.len(), 5);
    settle(&env).await;
    assert_eq!(customer_messages(&env, u, 5).await.len(), 5);
}

/// While the daemon runs, a webhook Zalo stopped delivering (disabled after its retry ladder) does
/// not lose messages: the periodic pass reads them from Zalo's history.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_daemon_reconciles_from_history() {
    let env = env_with(EnvOptions {
        sync_toml: "retry_base_ms = 100\nretry_max_ms = 2000\nreconcile_cron = \"* * * * * *\"\n"
            .into(),
        ..EnvOptions::default()
    })
    .await;
    let u = "5234000000000000970";
    add_user(&env, u, "Minh");
    env.zalo
        .user_sends(u, UserAction::Text("live".into()))
        .await;
    customer_messages(&env, u, 1).await;
    env.zalo.set_webhook_url(None);
    env.zalo
        .user_sends(u, UserAction::Text("never delivered".into()))
        .await;
    let msgs = customer_messages(&env, u, 2).await;
    assert_eq!(
        msgs.iter().flat_map(texts).collect::<Vec<_>>(),
        vec!["live", "never delivered"]
    );
}
