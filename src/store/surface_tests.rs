//! Every operation of the store's surface, run on both backends with the same expectations: each
//! statement prepares and binds on PostgreSQL as it does on SQLite, and answers the same.

#![allow(clippy::unwrap_used)]

use zfsync_mappings::QuotaWindow;
use zfsync_zalo::SendQuota;

use super::reads::InboxQuery;
use super::testing::on_both_backends;
use super::*;

on_both_backends!(
    the_inbox_lanes_and_retries_answer_alike,
    contacts_messages_and_activity_answer_alike,
    tokens_attempts_files_and_quota_answer_alike,
);

fn event(source: Source, key: &str, lane: &Lane, name: &str, time: i64) -> NewEvent {
    NewEvent {
        source,
        dedupe_key: key.into(),
        lane: lane.clone(),
        event_name: name.into(),
        body: key.as_bytes().to_vec(),
        event_time: time,
        provenance: Provenance::Webhook,
    }
}

async fn new_id(store: &Store, ev: NewEvent) -> i64 {
    match store.ingest(ev).await.unwrap() {
        Ingested::New(id) => id,
        Ingested::Duplicate => panic!("the event is new"),
    }
}

async fn the_inbox_lanes_and_retries_answer_alike(store: Store) {
    let (a, b) = (Lane::zalo(Some("a")), Lane::freshchat(Some("conv-b")));
    let a1 = new_id(&store, event(Source::Zalo, "a1", &a, "user_send_text", 20)).await;
    let a2 = new_id(&store, event(Source::Zalo, "a2", &a, "user_send_image", 10)).await;
    let b1 = new_id(
        &store,
        event(Source::Freshchat, "b1", &b, "message_create", 15),
    )
    .await;
    let now = now_ms();

    // Lane heads by their oldest event; a busy lane is skipped.
    assert_eq!(
        store.due_lane_heads(now, 10, vec![]).await.unwrap(),
        vec![a.clone(), b.clone()]
    );
    assert_eq!(
        store
            .due_lane_heads(now, 10, vec![a.clone()])
            .await
            .unwrap(),
        vec![b.clone()]
    );
    assert_eq!(store.due_lane_heads(now, 1, vec![]).await.unwrap().len(), 1);
    let next = store.lane_next(a.clone(), None, 10).await.unwrap();
    assert_eq!(next.iter().map(|r| r.id).collect::<Vec<_>>(), vec![a2, a1]);
    assert_eq!(next[1].body, b"a1");
    let after = store
        .lane_next(a.clone(), Some((10, a2)), 10)
        .await
        .unwrap();
    assert_eq!(after.len(), 1);

    // A retry waits; released by its class, it is due again.
    store
        .retry_event(a2, 1, now + 3_600_000, "later".into(), "zalo_token".into())
        .await
        .unwrap();
    assert_eq!(
        store.due_lane_heads(now, 10, vec![]).await.unwrap(),
        vec![b.clone()]
    );
    assert_eq!(
        store.release_waiting(&["zalo_token"]).await.unwrap(),
        vec![a.clone()]
    );
    // Failed, listed, replayed, finished.
    store
        .fail_event(b1, 3, "refused".into(), "permanent".into())
        .await
        .unwrap();
    let failed = store.failed_events(10).await.unwrap();
    assert_eq!(
        (failed.len(), failed[0].state, failed[0].attempts),
        (1, EventState::Failed, 3)
    );
    assert_eq!(store.failed_summary().await.unwrap(), (1, Some(b1)));
    assert_eq!(store.replay_failed(Some(b1)).await.unwrap(), 1);
    assert_eq!(store.replay_failed(None).await.unwrap(), 0);
    assert_eq!(store.failed_summary().await.unwrap(), (0, None));
    // Replayed through the console: the events put back, with their lanes.
    store
        .fail_event(b1, 3, "refused".into(), "permanent".into())
        .await
        .unwrap();
    assert_eq!(
        store.replay_failed_listed(None).await.unwrap(),
        vec![(b1, b.clone())]
    );
    assert!(store
        .replay_failed_listed(Some(b1))
        .await
        .unwrap()
        .is_empty());
    store.finish_event(a2, None).await.unwrap();
    store
        .finish_event(a1, Some("nothing".into()))
        .await
        .unwrap();
    let counts = store.state_counts(vec![a1, a2, b1, 999_999]).await.unwrap();
    assert_eq!(
        counts,
        StateCounts {
            pending: 1,
            done: 1,
            ignored: 1,
            failed: 0
        }
    );
    assert_eq!(store.pending_count().await.unwrap(), 1);
    assert_eq!(store.inbox_count().await.unwrap(), 3);
    assert_eq!(
        store.count_inbox_in_state(EventState::Done).await.unwrap(),
        1
    );

    let stats = store.stats().await.unwrap();
    let zalo = &stats.iter().find(|(s, _)| *s == Source::Zalo).unwrap().1;
    assert_eq!(
        (zalo.received, zalo.synced, zalo.ignored, zalo.pending),
        (2, 1, 1, 0)
    );
    assert!(zalo.last_received_at.is_some() && zalo.oldest_pending_received_at.is_none());
    assert_eq!(
        store
            .recent_freshchat_lanes(60_000, "message_create")
            .await
            .unwrap(),
        vec![(b.clone(), 15)]
    );
    assert_eq!(
        store.newest_zalo_event_time("user_send_").await.unwrap(),
        Some(20)
    );
    assert_eq!(store.newest_zalo_event_time("oa_").await.unwrap(), None);
    let by_lane = store
        .newest_zalo_event_time_by_lane("user_send_")
        .await
        .unwrap();
    assert_eq!(by_lane.get(&a), Some(&20));
    let query = InboxQuery {
        dedupe_key_prefix: Some("a".into()),
        ..InboxQuery::default()
    }
    .from(Source::Zalo);
    assert_eq!(store.inbox_events(query).await.unwrap().len(), 2);
    assert!(store.page_count().await.unwrap() > 0);
    store.ping().await.unwrap();
}

async fn contacts_messages_and_activity_answer_alike(store: Store) {
    let contact = Contact {
        zalo_user_id: "u1".into(),
        freshchat_user_id: "fc-u1".into(),
        display_name: "Lan Nguyen".into(),
        avatar: None,
        profile_complete: false,
        following: None,
        first_seen_at: 5,
        profile_checked_at: None,
    };
    store
        .adopt_contact(contact.clone(), "conv-1".into())
        .await
        .unwrap();
    assert_eq!(store.contact_count().await.unwrap(), 1);
    assert!(store.set_following("u1".into(), true).await.unwrap());
    assert!(!store.set_following("nobody".into(), true).await.unwrap());
    store.profile_check_failed("u1".into()).await.unwrap();
    let c = store.contact("u1".into()).await.unwrap().unwrap();
    assert_eq!(
        (
            c.following,
            c.profile_complete,
            c.profile_checked_at.is_some()
        ),
        (Some(true), false, true)
    );
    store
        .update_profile("u1".into(), "Lan N.".into(), Some("https://a/1".into()))
        .await
        .unwrap();
    let c = store.contact("u1".into()).await.unwrap().unwrap();
    assert!(c.profile_complete && c.profile_checked_at.is_none());
    assert_eq!(
        store
            .zalo_user_of_conversation("conv-1".into())
            .await
            .unwrap(),
        Some("u1".into())
    );
    assert_eq!(
        store.newest_freshchat_user().await.unwrap(),
        Some("fc-u1".into())
    );
    store.mark_unlinked("web-1".into()).await.unwrap();
    assert!(store
        .unlinked_checked_at("web-1".into())
        .await
        .unwrap()
        .is_some());
    assert_eq!(store.unlinked_conversation_count().await.unwrap(), 1);

    // A synced message of each direction, then the console's views of them.
    let zalo_lane = Lane::zalo(Some("u1"));
    let fc_lane = Lane::freshchat(Some("conv-1"));
    let z = new_id(
        &store,
        event(Source::Zalo, "zm1", &zalo_lane, "user_send_text", 1),
    )
    .await;
    let f = new_id(
        &store,
        event(Source::Freshchat, "fm1", &fc_lane, "message_create", 2),
    )
    .await;
    let journal = store.journal(
        JournalKey {
            inbox_id: z,
            idx: 0,
        },
        StepKind::PostFreshchat,
    );
    journal.begin(None).await.unwrap();
    let pair = |direction, zalo: &str, fc: &str| MessagePair {
        direction,
        zalo_user_id: "u1".into(),
        zalo_msg_id: Some(zalo.into()),
        freshchat_message_id: Some(fc.into()),
        preview: Some(format!("preview {zalo}")),
        from_customer: direction == Direction::ToFreshchat,
    };
    journal
        .sent(
            Some("fc-zm1".into()),
            Record::Message(pair(Direction::ToFreshchat, "zm1", "fc-zm1")),
        )
        .await
        .unwrap();
    let send = store.journal(
        JournalKey {
            inbox_id: f,
            idx: 0,
        },
        StepKind::SendZalo,
    );
    send.begin(Some("u1")).await.unwrap();
    for part in ["z-part-1", "z-part-2"] {
        send.sent(
            Some(part.into()),
            Record::Message(pair(Direction::ToZalo, part, "fm1")),
        )
        .await
        .unwrap();
    }
    store.finish_event(z, None).await.unwrap();
    store.finish_event(f, None).await.unwrap();
    assert_eq!(
        store
            .sent_step_count(&["post_freshchat", "send_zalo"])
            .await
            .unwrap(),
        2
    );
    assert!(store.own_freshchat_message("fc-zm1".into()).await.unwrap());
    assert!(!store.own_freshchat_message("fm1".into()).await.unwrap());
    assert_eq!(
        store.known_zalo_message("z-part-2".into()).await.unwrap(),
        Some(Direction::ToZalo)
    );
    assert_eq!(
        store.zalo_message_preview("zm1".into()).await.unwrap(),
        Some("preview zm1".into())
    );
    assert_eq!(
        store
            .record_receipts(vec!["z-part-1".into(), "gone".into()], true)
            .await
            .unwrap(),
        1
    );
    assert_eq!(store.message_pair_count().await.unwrap(), 3);
    // The customer is found by part of their name in any case, as SQLite's LIKE finds them.
    let activity = store.activity(Some("lan".into()), 10).await.unwrap();
    assert_eq!(activity.len(), 2);
    let to_zalo = activity
        .iter()
        .find(|a| a.direction == Direction::ToZalo)
        .unwrap();
    assert_eq!(to_zalo.zalo_msg_ids.len(), 2);
    assert_eq!(to_zalo.display_name.as_deref(), Some("Lan N."));
    assert!(store
        .activity(Some("nobody".into()), 10)
        .await
        .unwrap()
        .is_empty());
    let hours = store.hourly_counts(now_ms()).await.unwrap();
    let synced: i64 = hours
        .iter()
        .map(|(_, h)| h.synced.iter().sum::<i64>())
        .sum();
    assert_eq!(synced, 2);

    store.forget_conversation("u1".into()).await.unwrap();
    assert_eq!(store.conversation_of("u1".into()).await.unwrap(), None);
    assert!(store.forget_user("u1".into(), 0).await.unwrap() > 0);
    assert_eq!(
        store.kept_for_zalo_user("u1".into()).await.unwrap(),
        reads::KeptForUser::default()
    );
}

async fn tokens_attempts_files_and_quota_answer_alike(store: Store) {
    let tokens = StoredTokens {
        oa_id: Some("oa".into()),
        access_token: "at".into(),
        refresh_token: "rt".into(),
        access_expires_at: 10,
        refresh_expires_at: 20,
        updated_at: 1,
        needs_reauth: None,
        token_error: None,
        generation: 0,
    };
    store.save_tokens(tokens.clone()).await.unwrap();
    store.save_tokens(tokens).await.unwrap();
    let t = store.tokens().await.unwrap().unwrap();
    assert_eq!((t.access_token.as_str(), t.generation), ("at", 2));
    let e = store
        .set_token_error(2, Some(-1), "odd".into())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(e.code, Some(-1));
    let again = store
        .set_token_error(2, Some(-2), "odder".into())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (again.code, again.since),
        (Some(-2), e.since),
        "the first refusal's time stays"
    );
    assert!(store
        .set_token_error(1, None, "x".into())
        .await
        .unwrap()
        .is_none());
    store.set_needs_reauth(1, "stale".into()).await.unwrap();
    assert_eq!(store.tokens().await.unwrap().unwrap().needs_reauth, None);
    store.set_needs_reauth(2, "rejected".into()).await.unwrap();
    let t = store.tokens().await.unwrap().unwrap();
    assert_eq!(
        (t.needs_reauth.as_deref(), t.token_error),
        (Some("rejected"), None)
    );

    store
        .put_oauth_attempt(
            "st".into(),
            "ver".into(),
            "ch".into(),
            "https://x/cb".into(),
            None,
            60_000,
        )
        .await
        .unwrap();
    assert_eq!(store.pending_oauth_attempts().await.unwrap(), 1);
    for key in [
        AttemptKey::State("st".into()),
        AttemptKey::Challenge("ch".into()),
        AttemptKey::OnlyOne,
    ] {
        let a = store.find_oauth_attempt(key).await.unwrap().unwrap();
        assert_eq!(a.verifier, "ver");
    }
    store.mark_oauth_attempt_refused("st".into()).await.unwrap();
    assert!(store.consume_oauth_attempt("st".into()).await.unwrap());
    assert!(!store.consume_oauth_attempt("st".into()).await.unwrap());
    assert_eq!(store.oauth_attempt_count().await.unwrap(), 0);
    store
        .put_oauth_ticket("h".into(), Some("oa".into()), 60_000)
        .await
        .unwrap();
    assert_eq!(
        store.take_oauth_ticket("h".into()).await.unwrap(),
        Some(Some("oa".into()))
    );
    assert_eq!(store.take_oauth_ticket("h".into()).await.unwrap(), None);

    let file = HostedFile {
        zalo_user_id: Some("u1".into()),
        filename: "reply.txt".into(),
        content_type: "text/plain".into(),
        body: vec![0, 159, 146, 150],
    };
    store
        .put_hosted_file("tok".into(), file, 60_000)
        .await
        .unwrap();
    assert_eq!(
        store.hosted_file("tok".into()).await.unwrap().unwrap().body,
        vec![0, 159, 146, 150]
    );
    assert_eq!(
        store
            .hosted_file_count_of_type("text/plain".into())
            .await
            .unwrap(),
        1
    );
    store
        .set_secret_meta(META_ADMIN_TOKEN, "admin".into())
        .await
        .unwrap();
    assert_eq!(
        store
            .secret_meta(META_ADMIN_TOKEN)
            .await
            .unwrap()
            .as_deref(),
        Some("admin")
    );

    let hour = 3_600_000;
    let now = 1_000 * hour;
    store
        .saw_interaction("u1".into(), now - 50 * hour)
        .await
        .unwrap();
    let window = QuotaWindow {
        low_noted: true,
        billed_noted: false,
        last_interaction: None,
    };
    let reply = SendQuota::Reply {
        remain: Some(3),
        total: Some(8),
    };
    store
        .record_quota("u1".into(), "m1".into(), reply, window)
        .await
        .unwrap();
    store
        .record_quota("u2".into(), "m2".into(), SendQuota::Billed, window)
        .await
        .unwrap();
    store
        .saw_interaction("u1".into(), now - 49 * hour)
        .await
        .unwrap();
    assert!(!store.quota_window("u1".into()).await.unwrap().low_noted);
    assert_eq!(store.billed_since(0).await.unwrap(), 1);
    assert_eq!(store.customers_in_billed_window(now).await.unwrap(), 1);
    let states = store.quota_states(None, 10).await.unwrap();
    assert_eq!(states.len(), 2);
    let u1 = store.quota_states(Some("u1".into()), 10).await.unwrap();
    assert_eq!(
        (u1[0].remaining, u1[0].total, u1[0].window_start),
        (Some(3), Some(8), Some(now - 49 * hour))
    );
    // The billed reply is older than a millisecond's retention once a few have passed.
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    assert!(store.prune(1).await.unwrap() >= 1);
}
