//! Catching up from history: what the platforms hold that zfsync never received (it was down, a
//! delivery was lost, Zalo disabled the webhook after its retry ladder). Read at start-up and
//! every few minutes; each message found is stored under the same dedupe key its webhook would
//! have had, so a late webhook for it changes nothing, and it enters its lane by the platform's
//! time, so it goes out in its place.
//!
//! Failure: a conversation whose history cannot be read is logged and skipped; the pass goes on.

use zfsync_freshchat::{ActorType, FreshchatClient, MessageType};

use crate::error::SyncError;
use crate::lanes::LaneSignal;
use crate::store::{Ingested, Lane, NewEvent, Source, Store};
use crate::telemetry::timed;
use crate::tokens::ZaloSession;

/// The Freshchat event caught up from history.
const ACTION_MESSAGE_CREATE: &str = zfsync_freshchat::webhook::ACTION_MESSAGE_CREATE;
/// The prefix of Zalo customer message events.
const USER_SEND_PREFIX: &str = "user_send_";

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
    /// The configured OA (for rebuilt Zalo events); else the connected one.
    pub oa_id: Option<String>,
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
            let page = match timed(
                "freshchat",
                "list_messages",
                self.freshchat.list_messages(conversation_id, None, 50),
            )
            .await
            {
                Ok(p) => p,
                Err(e) => {
                    tracing::warn!(error = %e, conversation_id, "cannot read a conversation's history to catch up");
                    continue;
                }
            };
            let mut missed: Vec<_> = page
                .messages
                .into_iter()
                .filter(|m| {
                    matches!(m.message_type, MessageType::Normal)
                        && matches!(m.actor_type, ActorType::Agent | ActorType::Bot)
                })
                .filter_map(|m| {
                    let t = m
                        .created_time
                        .as_deref()
                        .and_then(crate::sync::parse_iso_ms)?;
                    (t > last_known).then_some((t, m))
                })
                .collect();
            missed.sort_by_key(|(t, _)| *t);
            for (t, m) in missed {
                let body = serde_json::json!({
                    "actor": { "actor_type": m.actor_type.as_str(), "actor_id": m.actor_id },
                    "action": ACTION_MESSAGE_CREATE,
                    "action_time": m.created_time,
                    "data": { "message": m },
                });
                let ev = NewEvent {
                    source: Source::Freshchat,
                    dedupe_key: m.id.clone(),
                    lane: lane.clone(),
                    event_name: ACTION_MESSAGE_CREATE.to_string(),
                    body: body.to_string().into_bytes(),
                    event_time: t,
                };
                if self.queue(ev).await? {
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

    /// Queues customer messages that never reached zfsync, read from `listrecentchat`. Only
    /// messages newer than the newest Zalo message already stored are taken (never old history on
    /// a first start).
    pub async fn zalo(&self, max_pages: u32) -> Result<usize, SyncError> {
        let Some(anchor) = self.store.newest_zalo_event_time(USER_SEND_PREFIX).await? else {
            return Ok(0);
        };
        if !self.zalo.tokens().status().connected {
            return Ok(0);
        }
        // Collect first, then queue oldest first: messages within one millisecond then keep their
        // order through the inbox id.
        let mut missed = Vec::new();
        'pages: for page in 0..max_pages {
            let history = self.zalo.recent_chats(page * 10, 10).await?;
            if history.is_empty() {
                break;
            }
            for h in history {
                if h.time_ms <= anchor {
                    break 'pages;
                }
                if h.from_user {
                    missed.push(h);
                }
            }
        }
        let mut queued = 0;
        for h in missed.iter().rev() {
            let oa_id = self
                .oa_id
                .clone()
                .or_else(|| self.zalo.tokens().status().oa_id)
                .unwrap_or_default();
            let (event_name, body) = history_event(h, self.zalo.client().app_id(), &oa_id);
            let ev = NewEvent {
                source: Source::Zalo,
                dedupe_key: h.message_id.clone(),
                lane: Lane::zalo(Some(&h.from_id)),
                event_name: event_name.to_string(),
                body: body.to_string().into_bytes(),
                event_time: h.time_ms,
            };
            if self.queue(ev).await? {
                queued += 1;
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

    /// Stores an event rebuilt from history. True when it was new (not already received).
    async fn queue(&self, ev: NewEvent) -> Result<bool, SyncError> {
        let ingested = super::store_event(&self.store, &self.lanes, ev).await?;
        Ok(matches!(ingested, Ingested::New(_)))
    }
}

/// A webhook-shaped event for a message read from Zalo's history (types: text, photo, GIF,
/// sticker, voice, video, file, link, location).
fn history_event(
    h: &zfsync_zalo::HistoryMessage,
    app_id: &str,
    oa_id: &str,
) -> (&'static str, serde_json::Value) {
    use serde_json::json;
    let url = h.url.clone().unwrap_or_default();
    let media = |kind: &str| json!([{ "type": kind, "payload": { "url": url, "thumbnail": url } }]);
    let (name, attachments) = match h.kind.to_ascii_lowercase().as_str() {
        "photo" | "image" if !url.is_empty() => ("user_send_image", media("image")),
        "gif" if !url.is_empty() => ("user_send_gif", media("gif")),
        "sticker" if !url.is_empty() => ("user_send_sticker", media("sticker")),
        "voice" | "audio" if !url.is_empty() => ("user_send_audio", media("audio")),
        "video" if !url.is_empty() => ("user_send_video", media("video")),
        "file" if !url.is_empty() => (
            "user_send_file",
            json!([{ "type": "file", "payload": { "url": url, "name": h.text.clone().unwrap_or_else(|| "file".into()) } }]),
        ),
        "link" | "links" if !url.is_empty() => (
            "user_send_link",
            json!([{ "type": "link", "payload": { "url": url } }]),
        ),
        _ => ("user_send_text", json!([])),
    };
    let text = match (name, &h.text) {
        ("user_send_text", Some(t)) if !t.is_empty() => Some(t.clone()),
        ("user_send_text", _) => Some(format!("[{} from Zalo history]", h.kind)),
        ("user_send_image", t) => t.clone().filter(|t| !t.is_empty()),
        _ => None,
    };
    let mut message = json!({ "msg_id": h.message_id, "attachments": attachments });
    if let Some(t) = text {
        message["text"] = serde_json::Value::String(t);
    }
    let body = json!({
        "app_id": app_id, "event_name": name, "sender": { "id": h.from_id }, "recipient": { "id": oa_id },
        "message": message, "timestamp": h.time_ms.to_string(), "source": "zfsync_history_catch_up",
    });
    (name, body)
}
