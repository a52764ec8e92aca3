//! Catching up from history: what the platforms hold that zfsync never received (it was down, a
//! delivery was lost, Zalo disabled the webhook after its retry ladder). Read at start-up and
//! every few minutes; each message found is stored under the same dedupe key its webhook would
//! have had, so a late webhook for it changes nothing, and it enters its lane by the platform's
//! time, so it goes out in its place.
//!
//! Failure: a conversation whose history cannot be read is logged and skipped; the pass goes on.

use zfsync_freshchat::{message_create_event, ActorType, FreshchatClient};
use zfsync_zalo::event_from_history;

use crate::error::SyncError;
use crate::lanes::LaneSignal;
use crate::store::{Ingested, Lane, NewEvent, Provenance, Store};
use crate::tokens::ZaloSession;

/// The Freshchat event caught up from history.
const ACTION_MESSAGE_CREATE: &str = zfsync_freshchat::webhook::ACTION_MESSAGE_CREATE;
/// The prefix of Zalo customer message events.
const USER_SEND_PREFIX: &str = "user_send_";
/// How many pages (10 messages each) of one conversation a catch-up reads at most.
const CONVERSATION_PAGES: u32 = 5;

/// The sources history is read from.
#[derive(Debug, Clone)]
pub struct CatchUp {
    /// The store.
    pub store: Store,
    /// Wakes the lanes of what is found.
    pub lanes: LaneSignal,
    /// Zalo's history.
    pub zalo: ZaloSession,
    /// Freshchat's history.
    pub freshchat: FreshchatClient,
}

impl CatchUp {
    /// One pass over both histories, each bounded in time so a slow platform never holds up the
    /// rest: Freshchat conversations active in the last `window_ms`, up to `zalo_pages` pages of
    /// Zalo's recent chats.
    pub async fn pass(&self, window_ms: i64, zalo_pages: u32) {
        let limit = std::time::Duration::from_secs(15);
        match tokio::time::timeout(limit, self.freshchat(window_ms)).await {
            Ok(Err(e)) => tracing::warn!(error = %e, "catching up from Freshchat history failed"),
            Err(_) => tracing::warn!(
                "catching up from Freshchat history took over 15 s; continuing without it"
            ),
            Ok(Ok(_)) => {}
        }
        match tokio::time::timeout(limit, self.zalo(zalo_pages)).await {
            Ok(Err(e)) => tracing::warn!(error = %e, "catching up from Zalo history failed"),
            Err(_) => {
                tracing::warn!(
                    "catching up from Zalo history took over 15 s; continuing without it"
                )
            }
            Ok(Ok(_)) => {}
        }
    }

    /// Queues agent replies that Freshchat created while zfsync could not receive them, read from
    /// each recently active conversation's history.
    pub async fn freshchat(&self, window_ms: i64) -> Result<usize, SyncError> {
        let lanes = self
            .store
            .recent_freshchat_lanes(window_ms, ACTION_MESSAGE_CREATE)
            .await?;
        let mut queued = 0;
        for (lane, last_known) in lanes {
            let Some(conversation_id) = lane.freshchat_conversation() else {
                continue;
            };
            let page = match self
                .freshchat
                .list_messages(conversation_id, None, 50)
                .await
            {
                Ok(p) => p,
                Err(e) => {
                    tracing::warn!(error = %e, conversation_id, "cannot read a conversation's history to catch up");
                    continue;
                }
            };
            // Only what could reach the customer: agents' and bots' messages, never notes or
            // system notices (the planner would ignore them anyway).
            let mut missed: Vec<_> = page
                .messages
                .iter()
                .filter(|m| {
                    !m.is_private_note()
                        && !m.is_status_notice()
                        && matches!(m.actor_type, ActorType::Agent | ActorType::Bot)
                })
                .map(message_create_event)
                .filter_map(|ev| {
                    let t = ev.time_ms()?;
                    (t > last_known).then_some((t, ev))
                })
                .collect();
            missed.sort_by_key(|(t, _)| *t);
            for (_, ev) in missed {
                let new = super::freshchat_event(&ev, ev.to_body(), Provenance::History);
                if self.queue(new).await? {
                    queued += 1;
                }
            }
        }
        if queued > 0 {
            tracing::info!(
                queued,
                "caught up agent replies that Freshchat created while zfsync was not receiving"
            );
        }
        Ok(queued)
    }

    /// Queues customer messages that never reached zfsync. `listrecentchat` names the
    /// conversations with activity (its newest message each, newest first, up to `max_pages`
    /// pages); each one whose newest message is newer than what zfsync holds for that user is read
    /// with `conversation` back to that point. Users zfsync has never heard of are caught up from
    /// the newest Zalo message it holds at all (never old history on a first start: that is
    /// `zfsync backfill`).
    pub async fn zalo(&self, max_pages: u32) -> Result<usize, SyncError> {
        let Some(global) = self.store.newest_zalo_event_time(USER_SEND_PREFIX).await? else {
            return Ok(0);
        };
        if !self.zalo.tokens().status().connected {
            return Ok(0);
        }
        let anchors = self
            .store
            .newest_zalo_event_time_by_lane(USER_SEND_PREFIX)
            .await?;
        let mut queued = 0;
        for page in 0..max_pages {
            let latest = self.zalo.recent_chats(page * 10, 10).await?;
            if latest.is_empty() {
                break;
            }
            for h in &latest {
                let user = if h.from_user { &h.from_id } else { &h.to_id };
                let anchor = anchors
                    .get(&Lane::zalo(Some(user)))
                    .copied()
                    .unwrap_or(global);
                if h.time_ms > anchor {
                    queued += self.zalo_conversation(user, anchor).await?;
                }
            }
            if latest.len() < 10 {
                break;
            }
        }
        if queued > 0 {
            tracing::info!(
                queued,
                "caught up customer messages that Zalo did not deliver"
            );
        }
        Ok(queued)
    }

    /// Queues a user's messages newer than `after` (unix ms), oldest first, read from their
    /// conversation (newest first, a few pages at most).
    async fn zalo_conversation(&self, user_id: &str, after: i64) -> Result<usize, SyncError> {
        let mut missed = Vec::new();
        'pages: for page in 0..CONVERSATION_PAGES {
            let history = self.zalo.conversation(user_id, page * 10, 10).await?;
            let full = history.len() == 10;
            for h in history {
                if h.time_ms <= after {
                    break 'pages;
                }
                if h.from_user {
                    missed.push(h);
                }
            }
            if !full {
                break;
            }
        }
        let oa_id = self.zalo.oa_id().unwrap_or_default();
        let mut queued = 0;
        // Oldest first: messages within one millisecond keep their order through the inbox id.
        for h in missed.iter().rev() {
            let h = event_from_history(h, self.zalo.client().app_id(), &oa_id);
            let body = h.body.to_string().into_bytes();
            if self
                .queue(super::zalo_event(&h.event, body, Provenance::History))
                .await?
            {
                queued += 1;
            }
        }
        Ok(queued)
    }

    /// Stores an event rebuilt from history. True when it was new (not already received).
    async fn queue(&self, ev: NewEvent) -> Result<bool, SyncError> {
        let ingested = super::store_event(&self.store, &self.lanes, ev, false).await?;
        Ok(matches!(ingested, Ingested::New(_)))
    }
}
