//! Backfill: bring the last N days of the OA's Zalo conversations into Freshchat, so agents see
//! what was said before zfsync was installed (or while it was away longer than catch-up looks).
//!
//! `listrecentchat` names the conversations active in the window (newest message first); each one
//! is then read with `conversation`, page by page, back to the start of the window. Every message
//! is stored in the inbox exactly as its webhook would have been (the connector's
//! `event_from_history`, the Zalo message id as dedupe key), with the inbox's `provenance` column
//! saying `backfill`, oldest first. The lanes then deliver them through the same rules as live
//! messages: a customer's message goes in as the customer with its original time above it, a
//! message the OA sent becomes a private note with its time, and zfsync's own sends are recognised
//! as echoes. A second run, or a late webhook for the same message, is a duplicate and changes
//! nothing. Backfill only queues work in the store, so it runs whether or not the daemon does; the
//! daemon delivers.
//!
//! History calls are paced ([`Backfill::pace`]) to stay well inside Zalo's rate limits.
//!
//! Failure: Zalo not connected, or the list of conversations unreadable, ends the run with the
//! reason; a single conversation that cannot be read is counted in `failed_conversations` and
//! skipped (run again later: what was queued is not queued twice).

use std::collections::HashSet;
use std::time::Duration;

use serde::Serialize;
use tokio::sync::watch;
use zfsync_zalo::{event_from_history, HistoryMessage};

use crate::error::SyncError;
use crate::lanes::LaneSignal;
use crate::store::{now_ms, Ingested, Provenance, Store};
use crate::tokens::ZaloSession;

/// Zalo's reply window, and the default number of days.
pub const DEFAULT_DAYS: u32 = 7;
/// The longest window a backfill reads.
pub const MAX_DAYS: u32 = 90;
/// Messages per history page (Zalo's maximum).
const PAGE: u32 = 10;
/// Pages of `listrecentchat` read at most (1,000 conversations).
const MAX_RECENT_PAGES: u32 = 100;
/// Pages of one conversation read at most (2,000 messages).
const MAX_CONVERSATION_PAGES: u32 = 200;
/// The default pause between two history calls (at most four calls a second).
pub const DEFAULT_PACE: Duration = Duration::from_millis(250);

/// Where a backfill run stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Not started.
    #[default]
    Idle,
    /// Finding the conversations of the window.
    Listing,
    /// Reading conversations and queuing their messages.
    Reading,
    /// Finished.
    Done,
    /// Stopped with an error.
    Failed,
}

/// Progress of one run (also its final report).
#[derive(Debug, Clone, Serialize, Default)]
pub struct Progress {
    /// Where it stands.
    pub phase: Phase,
    /// The window, in days.
    pub days: u32,
    /// Conversations active in the window.
    pub conversations: usize,
    /// Conversations read so far.
    pub conversations_done: usize,
    /// Conversations that could not be read (skipped).
    pub failed_conversations: usize,
    /// Messages found in the window.
    pub messages: usize,
    /// Messages queued for delivery (new to zfsync).
    pub queued: usize,
    /// Messages zfsync already had (nothing changed).
    pub already_known: usize,
    /// Why the run stopped, when it failed.
    pub error: Option<String>,
}

impl Progress {
    /// How far along the run is, 0 to 100.
    pub fn percent(&self) -> u8 {
        match self.phase {
            Phase::Idle | Phase::Listing => 0,
            Phase::Done => 100,
            Phase::Reading | Phase::Failed if self.conversations == 0 => 0,
            Phase::Reading | Phase::Failed => {
                (self.conversations_done * 100 / self.conversations).min(100) as u8
            }
        }
    }

    /// One line for people.
    pub fn summary(&self) -> String {
        match self.phase {
            Phase::Failed => format!(
                "backfill stopped: {}",
                self.error.as_deref().unwrap_or("unknown error")
            ),
            _ if self.conversations == 0 && self.failed_conversations == 0 => format!(
                "Zalo has no conversation of the last {} day{}, so there was nothing to bring in",
                self.days,
                if self.days == 1 { "" } else { "s" }
            ),
            _ => format!(
                "{} of {} conversations read; {} messages in the last {} days: {} queued, {} already in Freshchat{}",
                self.conversations_done,
                self.conversations,
                self.messages,
                self.days,
                self.queued,
                self.already_known,
                if self.failed_conversations > 0 {
                    format!("; {} conversations could not be read (run again later)", self.failed_conversations)
                } else {
                    String::new()
                }
            ),
        }
    }
}

/// What a backfill reads from and writes to.
#[derive(Debug, Clone)]
pub struct Backfill {
    /// The store the messages are queued in.
    pub store: Store,
    /// Wakes the lanes of what is queued (a daemon in this process delivers at once; another
    /// process's daemon finds them on its next sweep).
    pub lanes: LaneSignal,
    /// Zalo's history.
    pub zalo: ZaloSession,
    /// Pause between two history calls.
    pub pace: Duration,
}

impl Backfill {
    /// Reads the last `days` days and queues every message zfsync does not have, reporting progress
    /// on `progress` as it goes. Returns the final progress.
    pub async fn run(
        &self,
        days: u32,
        progress: &watch::Sender<Progress>,
    ) -> Result<Progress, SyncError> {
        let days = days.clamp(1, MAX_DAYS);
        let mut p = Progress {
            phase: Phase::Listing,
            days,
            ..Progress::default()
        };
        progress.send_replace(p.clone());
        match self.read_all(days, &mut p, progress).await {
            Ok(()) => {
                p.phase = Phase::Done;
                progress.send_replace(p.clone());
                tracing::info!(
                    days,
                    conversations = p.conversations,
                    queued = p.queued,
                    already_known = p.already_known,
                    "backfill finished"
                );
                Ok(p)
            }
            Err(e) => {
                p.phase = Phase::Failed;
                p.error = Some(e.to_string());
                progress.send_replace(p.clone());
                Err(e)
            }
        }
    }

    async fn read_all(
        &self,
        days: u32,
        p: &mut Progress,
        progress: &watch::Sender<Progress>,
    ) -> Result<(), SyncError> {
        if !self.zalo.tokens().status().connected {
            return Err(SyncError::NotConnected);
        }
        let since = now_ms() - i64::from(days) * 24 * 3600 * 1000;
        let users = self.conversations_since(since).await?;
        p.conversations = users.len();
        p.phase = Phase::Reading;
        progress.send_replace(p.clone());
        for user in users {
            match self.read_conversation(&user, since).await {
                Ok(items) => {
                    p.messages += items.len();
                    // Oldest first: the lane takes them in their own order either way, and messages
                    // within one millisecond keep theirs through the inbox id.
                    for h in items.iter().rev() {
                        if self.queue(h).await? {
                            p.queued += 1;
                        } else {
                            p.already_known += 1;
                        }
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "backfill cannot read a conversation; skipping it");
                    p.failed_conversations += 1;
                }
            }
            p.conversations_done += 1;
            progress.send_replace(p.clone());
        }
        Ok(())
    }

    /// The users whose conversations have a message since `since`, most recent first.
    async fn conversations_since(&self, since: i64) -> Result<Vec<String>, SyncError> {
        let mut seen = HashSet::new();
        let mut users = Vec::new();
        for page in 0..MAX_RECENT_PAGES {
            let items = self.zalo.recent_chats(page * PAGE, PAGE).await?;
            self.pause().await;
            let full = items.len() as u32 == PAGE;
            let mut older = false;
            for h in &items {
                if h.time_ms < since {
                    older = true;
                    continue;
                }
                let user = if h.from_user { &h.from_id } else { &h.to_id };
                if seen.insert(user.clone()) {
                    users.push(user.clone());
                }
            }
            if !full || older {
                break;
            }
        }
        Ok(users)
    }

    /// A user's messages since `since`, newest first.
    async fn read_conversation(
        &self,
        user: &str,
        since: i64,
    ) -> Result<Vec<HistoryMessage>, SyncError> {
        let mut out = Vec::new();
        'pages: for page in 0..MAX_CONVERSATION_PAGES {
            let items = self.zalo.conversation(user, page * PAGE, PAGE).await?;
            self.pause().await;
            let full = items.len() as u32 == PAGE;
            for h in items {
                if h.time_ms < since {
                    break 'pages;
                }
                out.push(h);
            }
            if !full {
                break;
            }
        }
        Ok(out)
    }

    /// Stores one history message as its webhook, with the backfill's provenance (the body is the
    /// connector's history copy, untouched). True when it was new.
    async fn queue(&self, h: &HistoryMessage) -> Result<bool, SyncError> {
        let oa_id = self.zalo.oa_id().unwrap_or_default();
        let ev = event_from_history(h, self.zalo.client().app_id(), &oa_id);
        let body = ev.body.to_string().into_bytes();
        let ingested = super::store_event(
            &self.store,
            &self.lanes,
            super::zalo_event(&ev.event, body, Provenance::Backfill),
            false,
        )
        .await?;
        Ok(matches!(ingested, Ingested::New(_)))
    }

    async fn pause(&self) {
        if !self.pace.is_zero() {
            tokio::time::sleep(self.pace).await;
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn percent_follows_conversations() {
        let mut p = Progress {
            phase: Phase::Reading,
            conversations: 4,
            conversations_done: 1,
            ..Progress::default()
        };
        assert_eq!(p.percent(), 25);
        p.phase = Phase::Done;
        assert_eq!(p.percent(), 100);
        p.phase = Phase::Listing;
        assert_eq!(p.percent(), 0);
    }
}
