//! A reconnect quicker than the daemon's look at the store: Zalo refuses the spent refresh token
//! (-14014, what a daemon restarted after being killed inside a refresh meets), the agent's reply
//! waits for a reconnect, and an operator (or a script) reconnects at once, the daemon running.
//! The reply goes out at once, not at the end of its wait: the daemon wakes what waited whenever a
//! new usable pair is stored, whether or not it ever saw the pairing "needs re-authorization".
//!
//! The waits are made long (`retry_base_ms` 60 s, so an event waiting for Zalo's tokens looks again
//! only after a minute): a delivery that came from the wait running out could not happen within
//! the test's waits.
#![allow(clippy::unwrap_used)]

use std::time::Instant;

use zfsync::store::now_ms;
use zfsync::tools::sandbox::{wait_for, Env, EnvOptions};
use zfsync_freshchat::sim::parts;
use zfsync_zalo::sim::Fault;

use crate::helpers::*;

const U: &str = "5234000000000000951";
const TOKEN_PATH: &str = "/v4/oa/access_token";

/// Retries and waits of a minute and more.
fn long_waits() -> EnvOptions {
    EnvOptions {
        sync_toml: "retry_base_ms = 60000\nretry_max_ms = 600000\n".into(),
        ..EnvOptions::default()
    }
}

/// The agent's reply holding `text` as it waits: its error class and its next attempt (unix ms).
async fn waiting_reply(env: &Env, text: &str) -> Option<(String, i64)> {
    let pending = InboxQuery::in_state(EventState::Pending).from(Source::Freshchat);
    let row = inbox(env, pending)
        .await
        .into_iter()
        .find(|r| String::from_utf8_lossy(&r.body).contains(text))?;
    Some((row.error_class?, row.next_attempt_at))
}

/// How many times the OA sent `text` to [`U`].
fn sent(env: &Env, text: &str) -> usize {
    env.zalo
        .sent_to(U)
        .iter()
        .filter(|s| zalo_text(s).as_deref() == Some(text))
        .count()
}

/// The daemon restarts (as after being killed inside a refresh), then Zalo refuses the next refresh
/// as a spent refresh token and the access token has died, so the agent's reply `text` needs a
/// refresh and waits for a reconnect. Returns when the reply's wait is recorded, with its next
/// attempt.
async fn reply_waits_for_a_reconnect(env: &mut Env, text: &str) -> i64 {
    let conv = start_conversation(env, U).await;
    env.stop_daemon().await;
    env.start_daemon().await.unwrap();
    env.zalo.expire_access_tokens();
    env.zalo.fail_next(
        TOKEN_PATH,
        1,
        Fault::Api {
            code: -14014,
            message: "Refresh token is invalid".into(),
        },
    );
    env.freshchat
        .agent_sends(
            &conv,
            &env.freshchat.default_agent_id(),
            vec![parts::text(text)],
        )
        .await
        .unwrap();
    let (class, next) = wait_for(WAIT, || async { waiting_reply(env, text).await })
        .await
        .expect("the reply waits for Zalo's tokens");
    assert_eq!(class, "zalo_needs_reauth");
    assert!(
        next > now_ms() + 30_000,
        "its next attempt is about a minute away: {next}"
    );
    assert_eq!(sent(env, text), 0);
    next
}

/// The reply goes out once, while its recorded next attempt is still in the future.
async fn goes_at_once(env: &Env, text: &str, next: i64, reconnected: Instant) {
    let delivered = wait_for(WAIT, || async { (sent(env, text) > 0).then_some(()) }).await;
    assert!(
        delivered.is_some(),
        "the waiting reply went out after the reconnect (not after its wait)"
    );
    assert!(
        now_ms() < next,
        "delivered before the wait it recorded ran out"
    );
    println!(
        "reply delivered {} ms after the reconnect",
        reconnected.elapsed().as_millis()
    );
    settle(env).await;
    assert_eq!(sent(env, text), 1, "exactly once");
    assert_eq!(stored_tokens(env).await.needs_reauth, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reconnect_from_a_shell_right_after_the_refusal_sends_the_waiting_reply_at_once() {
    let mut env = env_with(long_waits()).await;
    const TEXT: &str = "trả lời sau khi kết nối lại";
    let next = reply_waits_for_a_reconnect(&mut env, TEXT).await;
    let refused = Instant::now();
    // The operator's script reconnects at once, from another process, the daemon running.
    let code = env.zalo.issue_code(None);
    zfsync_stdout(&env, &["connect", "zalo", "--code", &code]).await;
    let reconnected = Instant::now();
    println!(
        "reconnected {} ms after the reply's wait was recorded",
        (reconnected - refused).as_millis()
    );
    goes_at_once(&env, TEXT, next, reconnected).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reconnect_through_the_daemon_right_after_the_refusal_sends_the_waiting_reply_at_once() {
    let mut env = env_with(long_waits()).await;
    const TEXT: &str = "trả lời sau khi đồng ý lại";
    let next = reply_waits_for_a_reconnect(&mut env, TEXT).await;
    let refused = Instant::now();
    // An admin consents again through the daemon's own OAuth callback.
    env.connect_zalo().await.unwrap();
    let reconnected = Instant::now();
    println!(
        "reconnected {} ms after the reply's wait was recorded",
        (reconnected - refused).as_millis()
    );
    goes_at_once(&env, TEXT, next, reconnected).await;
}
