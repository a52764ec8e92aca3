//! What the store knows that bears on an event, for the mapping engine: whether an `oa_send_*` is
//! zfsync's own echo, the text a quote or reaction points at, the OA user behind an app-scoped id
//! (`user_id_by_app`, kept as events carry it), the Zalo user behind a Freshchat conversation
//! (rebuilt from Freshchat's `reference_id` when the store has lost it, for a user zfsync created
//! and on its channel only), and for a resolution the customer's reply window at this moment (the
//! engine reads no clock).

use zfsync_freshchat::{ActorType, FreshchatError, WebhookEvent};
use zfsync_mappings::{FreshchatKnowledge, ReplyWindow, Rules, ZaloKnowledge};
use zfsync_zalo::ZaloEvent;

use super::SyncContext;
use crate::error::SyncError;
use crate::store::{now_ms, Contact, Direction, Provenance};
use crate::telemetry::events::{IdentityOfOtherOa, InternalEvent};

/// The offset of the times agents read (Vietnam, UTC+7).
const DISPLAY_OFFSET_SECS: i32 = 7 * 3600;
/// How long a Freshchat conversation found not to belong to a Zalo user is remembered.
const UNLINKED_RECHECK_MS: i64 = 24 * 3600 * 1000;

/// What the engine needs to plan a Zalo event.
pub(crate) async fn zalo_knowledge(
    cx: &SyncContext,
    ev: &ZaloEvent,
) -> Result<ZaloKnowledge, SyncError> {
    let mut k = ZaloKnowledge {
        oa_id: cx.oa_id(),
        ..Default::default()
    };
    remember_app_user(cx, ev, &k.oa_id).await?;
    match ev {
        ZaloEvent::Anonymous(a) if a.from_oa => {
            // As for followers' echoes below: "in flight?" first, then "ours?".
            let in_flight = cx.store.zalo_send_in_flight(a.visitor.clone()).await?;
            k.own_message =
                cx.store.known_zalo_message(a.msg_id.clone()).await? == Some(Direction::ToZalo);
            k.own_send_in_flight = in_flight && !k.own_message;
        }
        ZaloEvent::UpdateUserInfo {
            user_id,
            user_id_by_app: Some(by_app),
            ..
        }
        | ZaloEvent::UserWithdraw {
            user_id,
            user_id_by_app: Some(by_app),
            ..
        } if user_id.is_empty() => {
            k.app_user = cx
                .store
                .user_by_app(k.oa_id.clone(), by_app.clone())
                .await?;
        }
        ZaloEvent::OaMessage(m) => {
            // Order matters: the journal marks a send `sent` and records its message id in one
            // transaction. Asking "in flight?" first means that when it says no, the id is
            // already there for the second question; the other order can miss both.
            let in_flight =
                m.admin_id.is_none() && cx.store.zalo_send_in_flight(m.user_id.clone()).await?;
            k.own_message =
                cx.store.known_zalo_message(m.msg_id.clone()).await? == Some(Direction::ToZalo);
            k.own_send_in_flight = in_flight && !k.own_message;
        }
        ZaloEvent::UserMessage(m) => {
            if let Some(q) = &m.quote_msg_id {
                k.quoted_text = cx.store.zalo_message_preview(q.clone()).await?;
            }
            // Only a lone digit can answer a rating question: look for one only then.
            if m.text
                .as_deref()
                .and_then(zfsync_mappings::csat::rating_of)
                .is_some()
            {
                let since = now_ms() - cx.rules.csat.window_ms();
                k.rating_asked_in = cx.store.rating_asked_in(m.user_id.clone(), since).await?;
            }
        }
        ZaloEvent::UserReacted { msg_id, .. } => {
            k.reacted_text = cx.store.zalo_message_preview(msg_id.clone()).await?;
        }
        _ => {}
    }
    Ok(k)
}

/// Keeps the app-scoped id an event carries beside its OA user id (written only when new), so
/// that a later event naming the user by `user_id_by_app` alone finds them.
async fn remember_app_user(cx: &SyncContext, ev: &ZaloEvent, oa_id: &str) -> Result<(), SyncError> {
    let (event_oa, user, by_app) = match ev {
        ZaloEvent::UserMessage(m) => (&m.oa_id, &m.user_id, m.user_id_by_app.as_deref()),
        ZaloEvent::OaMessage(m) => (&m.oa_id, &m.user_id, m.user_id_by_app.as_deref()),
        ZaloEvent::Follow {
            oa_id,
            user_id,
            user_id_by_app,
            ..
        }
        | ZaloEvent::Unfollow {
            oa_id,
            user_id,
            user_id_by_app,
            ..
        }
        | ZaloEvent::UserClickChatNow {
            oa_id,
            user_id,
            user_id_by_app,
            ..
        } => (oa_id, user_id, user_id_by_app.as_deref()),
        _ => return Ok(()),
    };
    // Another OA's event names another OA's user: nothing to keep for this one.
    let other_oa = !event_oa.is_empty() && !oa_id.is_empty() && event_oa != oa_id;
    let Some(by_app) = by_app.filter(|b| !b.is_empty() && !user.is_empty() && !other_oa) else {
        return Ok(());
    };
    app_user_seen(cx, oa_id, by_app, user).await
}

/// Records `by_app` → `user` for the OA unless the store already has exactly that.
pub(crate) async fn app_user_seen(
    cx: &SyncContext,
    oa_id: &str,
    by_app: &str,
    user: &str,
) -> Result<(), SyncError> {
    let known = cx
        .store
        .user_by_app(oa_id.to_string(), by_app.to_string())
        .await?;
    if known.as_deref() != Some(user) {
        cx.store
            .remember_app_user(oa_id.to_string(), by_app.to_string(), user.to_string())
            .await?;
    }
    Ok(())
}

/// What the engine needs to plan a Freshchat event.
pub(crate) async fn freshchat_knowledge(
    cx: &SyncContext,
    ev: &WebhookEvent,
) -> Result<FreshchatKnowledge, SyncError> {
    let mut k = FreshchatKnowledge::default();
    if let WebhookEvent::MessageCreate { message, .. } = ev {
        k.own_message = cx.store.own_freshchat_message(message.id.clone()).await?;
        // Only agent/bot normal messages and agents' commands need the Zalo side; skip the
        // lookups for the rest.
        let relevant = (!message.is_private_note()
            && matches!(message.actor_type, ActorType::Agent | ActorType::Bot))
            || zfsync_mappings::freshchat_in::command_of(message, &cx.rules).is_some();
        if !relevant {
            return Ok(k);
        }
    }
    if let Some(conv) = ev.conversation_id() {
        k.zalo_user_id = zalo_user_for_conversation(cx, conv).await?;
    }
    // Whether a resolve notice would be free: the customer's window now.
    if let (WebhookEvent::ConversationResolution { .. }, Some(user)) = (ev, &k.zalo_user_id) {
        let last = cx.store.last_interaction(user.clone()).await?;
        k.reply_window = ReplyWindow::at(last, now_ms());
    }
    Ok(k)
}

/// The Zalo user behind a Freshchat conversation: from the store, or rebuilt from Freshchat
/// (conversation → user → reference_id) when the store has lost it.
pub(crate) async fn zalo_user_for_conversation(
    cx: &SyncContext,
    conversation_id: &str,
) -> Result<Option<String>, SyncError> {
    if let Some(u) = cx
        .store
        .zalo_user_of_conversation(conversation_id.to_string())
        .await?
    {
        return Ok(Some(u));
    }
    // Conversations of other channels (website chat, ...) are looked up once a day, not on
    // every agent message.
    if let Some(t) = cx
        .store
        .unlinked_checked_at(conversation_id.to_string())
        .await?
    {
        if now_ms() - t < UNLINKED_RECHECK_MS {
            return Ok(None);
        }
    }
    let found = zalo_user_from_freshchat(cx, conversation_id).await?;
    if found.is_none() {
        cx.store.mark_unlinked(conversation_id.to_string()).await?;
    }
    Ok(found)
}

/// Rebuilds a conversation's Zalo pairing from Freshchat: conversation → user → reference_id.
async fn zalo_user_from_freshchat(
    cx: &SyncContext,
    conversation_id: &str,
) -> Result<Option<String>, SyncError> {
    let conv = match cx.freshchat.get_conversation(conversation_id).await {
        Ok(c) => c,
        Err(FreshchatError::NotFound { .. }) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    // Only conversations on zfsync's own channel can belong to a Zalo user: a reference id is
    // an identity claim anyone who can set a widget's externalId could make elsewhere.
    let channel = cx.conversations.channel().await?;
    if conv.channel_id.as_deref() != Some(channel.as_str()) {
        tracing::info!(
            conversation_id,
            channel_id = conv.channel_id.as_deref().unwrap_or(""),
            "not a conversation of zfsync's channel; not linked to Zalo"
        );
        return Ok(None);
    }
    let Some(user_id) = conv.user_id.clone() else {
        return Ok(None);
    };
    let user = match cx.freshchat.get_user(&user_id).await {
        Ok(u) => u,
        Err(FreshchatError::NotFound { .. }) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let oa_id = cx.oa_id();
    let zalo_user = match user
        .reference_id
        .as_deref()
        .and_then(|r| zalo_user_from_reference(r, &cx.rules))
    {
        Some((oa, zalo)) if oa.as_deref().is_none_or(|o| o == oa_id) => Some(zalo),
        Some((oa, _)) => {
            IdentityOfOtherOa {
                conversation_id,
                reference_oa: oa.as_deref().unwrap_or(""),
                oa_id: &oa_id,
            }
            .emit();
            None
        }
        None => None,
    };
    // The reference id alone is a claim: only a user zfsync created for this OA and customer,
    // talked to on zfsync's channel only, is that customer (see `identity`).
    let zalo_user = match zalo_user {
        Some(z) => match cx.identities.vouch(&user, &z, &oa_id).await? {
            Ok(()) => Some(z),
            Err(why) => {
                why.record(&user.id, "its conversation is not linked to Zalo");
                None
            }
        },
        None => None,
    };
    if let Some(z) = &zalo_user {
        tracing::info!(
            conversation_id,
            "rebuilt the Zalo pairing of a conversation from Freshchat"
        );
        let contact = Contact {
            zalo_user_id: z.clone(),
            freshchat_user_id: user.id.clone(),
            display_name: user.first_name.clone().unwrap_or_default(),
            avatar: user.avatar.as_ref().and_then(|a| a.url.clone()),
            profile_complete: true,
            following: None,
            first_seen_at: now_ms(),
            profile_checked_at: None,
        };
        cx.store
            .adopt_contact(contact, conversation_id.to_string())
            .await?;
    }
    Ok(zalo_user)
}

/// The OA id (when the template has one) and the Zalo user id inside a reference id built from the
/// rules' template (`zalo:{oa_id}:{zalo_user_id}`).
pub(crate) fn zalo_user_from_reference(
    reference: &str,
    rules: &Rules,
) -> Option<(Option<String>, String)> {
    let template = &rules.contact.reference_id;
    let (prefix, rest) = template.split_once("{zalo_user_id}")?;
    let prefix_parts: Vec<&str> = prefix.split("{oa_id}").collect();
    let mut r = reference;
    let mut oa = None;
    if prefix_parts.len() == 2 {
        r = r.strip_prefix(prefix_parts[0])?;
        let (o, after) = r.split_once(prefix_parts[1])?;
        oa = Some(o.to_string());
        r = after;
    } else {
        r = r.strip_prefix(prefix)?;
    }
    let id = r.strip_suffix(rest).unwrap_or(r);
    (!id.is_empty()).then(|| (oa, id.to_string()))
}

/// For a stored Zalo event that came from backfill (the inbox's `provenance`), the event's own
/// original time as agents read it ("2025-03-01 14:05 (UTC+7)"); None for anything else.
pub fn original_time(provenance: Provenance, time_ms: Option<i64>) -> Option<String> {
    if provenance != Provenance::Backfill {
        return None;
    }
    let offset = chrono::FixedOffset::east_opt(DISPLAY_OFFSET_SECS)?;
    let t = chrono::DateTime::from_timestamp_millis(time_ms?)?.with_timezone(&offset);
    Some(format!("{} (UTC+7)", t.format("%Y-%m-%d %H:%M")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_backfilled_events_carry_their_time() {
        // 2024-01-01 00:00 UTC is 07:00 in Vietnam.
        assert_eq!(
            original_time(Provenance::Backfill, Some(1_704_067_200_000)).as_deref(),
            Some("2024-01-01 07:00 (UTC+7)")
        );
        assert_eq!(original_time(Provenance::History, Some(1)), None);
        assert_eq!(original_time(Provenance::Webhook, Some(1)), None);
        assert_eq!(original_time(Provenance::Backfill, None), None);
    }

    #[test]
    fn reference_round_trip() {
        let rules = Rules::default();
        assert_eq!(
            zalo_user_from_reference("zalo:123:9876543210", &rules),
            Some((Some("123".into()), "9876543210".into()))
        );
        assert_eq!(zalo_user_from_reference("telegram:1", &rules), None);
    }
}
