//! The simulator's world: users and what they did, the message history (per user, plus an index of
//! each conversation's latest message for `listrecentchat`), OAuth codes and tokens, uploaded assets,
//! messages the OA sent, injected faults and the rate-limit counter.
//!
//! All of it lives behind one mutex owned by the simulator; every operation here is O(1) or
//! O(log n) in the number of messages (no scans of all messages per request). Nothing here fails.

use std::cmp::Reverse;
use std::collections::{BTreeSet, HashMap, VecDeque};
use std::time::Duration;

use bytes::Bytes;
use serde_json::{json, Value};

use super::actions::SimUser;
use super::config::{Fault, RandomFaults, SentRecord, SimConfig};
use super::wire;

/// What an uploaded or served asset is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AssetKind {
    /// From `/upload/image`.
    Image,
    /// From `/upload/gif`.
    Gif,
    /// From `/upload/file`.
    File,
    /// Media a user or staff sent, or a sticker picture.
    Media,
}

/// Bytes the simulator serves or an upload it keeps.
#[derive(Debug, Clone)]
pub(crate) struct Asset {
    pub kind: AssetKind,
    pub filename: String,
    pub content_type: String,
    pub bytes: Bytes,
    pub created_ms: i64,
}

/// One user of an OA.
#[derive(Debug, Clone)]
pub(crate) struct UserState {
    pub user: SimUser,
    pub by_app: String,
    pub last_interaction_ms: Option<i64>,
    /// Whether the user ever wrote (a follower who never did gets welcome messages).
    pub has_written: bool,
    /// `user_click_chatnow` was sent (Zalo sends it once per user).
    pub clicked_chatnow: bool,
    pub blocked: bool,
    /// `user/detail` answers with this code instead of the profile.
    pub profile_refusal: Option<i64>,
    /// Free replies used since the last interaction.
    pub replies_used: u32,
    pub welcome_used: u32,
    /// What the user submitted through a request-user-info form.
    pub shared_info: Option<Value>,
    /// OA messages with a sequence number up to this one have been reported seen.
    pub seen_upto: u64,
    /// The OA's tags on the user (`tags_and_notes_info.tag_names`), in the order given.
    pub tags: Vec<String>,
}

impl UserState {
    pub fn new(user: SimUser, app_id: &str) -> Self {
        let by_app = wire::derived_digits(&format!("{app_id}:{}", user.user_id));
        UserState {
            user,
            by_app,
            last_interaction_ms: None,
            has_written: false,
            clicked_chatnow: false,
            blocked: false,
            profile_refusal: None,
            replies_used: 0,
            welcome_used: 0,
            shared_info: None,
            seen_upto: 0,
            tags: Vec::new(),
        }
    }

    /// Records an interaction that opens the CS window and a new free-reply frame.
    pub fn interacted(&mut self, at_ms: i64) {
        if self.last_interaction_ms.is_none_or(|t| t <= at_ms) {
            self.last_interaction_ms = Some(at_ms);
            self.replies_used = 0;
        }
    }
}

/// One message in a conversation (either direction).
#[derive(Debug, Clone)]
pub(crate) struct HistItem {
    pub seq: u64,
    pub time_ms: i64,
    pub from_user: bool,
    /// Zalo's history `type`: text, photo, GIF, sticker, voice, link, location, file, video.
    pub kind: &'static str,
    pub text: String,
    pub url: Option<String>,
    pub thumb: Option<String>,
    pub description: Option<String>,
    pub location: Option<Value>,
    pub message_id: String,
}

impl HistItem {
    /// A text message.
    pub fn text(from_user: bool, time_ms: i64, text: &str, message_id: &str) -> Self {
        HistItem {
            seq: 0,
            time_ms,
            from_user,
            kind: "text",
            text: text.to_owned(),
            url: None,
            thumb: None,
            description: None,
            location: None,
            message_id: message_id.to_owned(),
        }
    }

    /// A media message with its URL.
    pub fn media(
        from_user: bool,
        time_ms: i64,
        kind: &'static str,
        text: &str,
        url: &str,
        message_id: &str,
    ) -> Self {
        HistItem {
            kind,
            url: Some(url.to_owned()),
            thumb: Some(url.to_owned()),
            ..HistItem::text(from_user, time_ms, text, message_id)
        }
    }
}

/// Key of the recent-conversations index: newest first, then the later sequence number first.
type RecentKey = (Reverse<i64>, Reverse<u64>, String);

/// A pending authorization code.
#[derive(Debug, Clone)]
pub(crate) struct CodeState {
    pub challenge: Option<String>,
    pub oa_id: String,
    pub issued_ms: i64,
}

/// An access token.
#[derive(Debug, Clone)]
pub(crate) struct AccessState {
    pub oa_id: String,
    pub expires_ms: i64,
    /// Retired by a refresh.
    pub revoked: bool,
}

/// A refresh token.
#[derive(Debug, Clone)]
pub(crate) struct RefreshState {
    pub access: String,
    pub oa_id: String,
    pub used: bool,
    pub expires_ms: i64,
}

/// The whole simulated world.
#[derive(Debug, Default)]
pub(crate) struct St {
    /// OA id → name; the configured OA plus any that approved a consent.
    pub oas: HashMap<String, String>,
    /// The OA whose admin approves the next consents (None = the configured OA).
    pub consent_oa: Option<String>,
    /// Query parameters of every `/v4/oa/permission` call.
    pub permission_requests: Vec<Vec<(String, String)>>,
    pub users: HashMap<String, UserState>,
    /// Anonymous visitor id → conversation id.
    pub anonymous: HashMap<String, String>,
    history: HashMap<String, Vec<HistItem>>,
    recent: BTreeSet<RecentKey>,
    latest: HashMap<String, RecentKey>,
    /// Message id → the user whose conversation holds it.
    msg_owner: HashMap<String, String>,
    seq: u64,
    pub codes: HashMap<String, CodeState>,
    pub access: HashMap<String, AccessState>,
    pub refresh: HashMap<String, RefreshState>,
    pub assets: HashMap<String, Asset>,
    pub sent: HashMap<String, Vec<SentRecord>>,
    /// Approved ZBS templates by id.
    pub templates: HashMap<String, super::SimTemplate>,
    /// Templates sent so far (the allowance's `remain` counts them).
    pub templates_sent: u32,
    /// Messages of the OA package used so far.
    pub sub_quota_used: u32,
    pub faults: HashMap<String, VecDeque<Fault>>,
    /// Path → the fault every call gets (after the queued ones) until it is cleared.
    pub standing_faults: HashMap<String, Fault>,
    pub random: Option<(RandomFaults, fastrand::Rng)>,
    pub latency: Duration,
    pub rate_minute: i64,
    pub rate_count: u32,
    /// Every OpenAPI call: path and `data` query.
    pub calls: Vec<String>,
    /// Refresh grants the token endpoint refused (a refresh token unknown, expired or used).
    pub refresh_refused: u64,
    /// The OA's tags (`gettagsofoa`), in the order they were created.
    pub oa_tags: Vec<String>,
}

impl St {
    /// The user, created on first contact as a non-follower named like Zalo's placeholder.
    pub fn user_mut(&mut self, user_id: &str, cfg: &SimConfig) -> &mut UserState {
        self.users.entry(user_id.to_owned()).or_insert_with(|| {
            UserState::new(
                SimUser {
                    user_id: user_id.to_owned(),
                    display_name: format!("Zalo user {user_id}"),
                    avatar: None,
                    follower: false,
                },
                &cfg.app_id,
            )
        })
    }

    /// Adds a message to a user's conversation (kept sorted by time, then arrival) and to the indexes.
    pub fn push_history(&mut self, user_id: &str, mut item: HistItem) {
        self.seq += 1;
        item.seq = self.seq;
        let key: RecentKey = (Reverse(item.time_ms), Reverse(item.seq), user_id.to_owned());
        self.msg_owner
            .insert(item.message_id.clone(), user_id.to_owned());
        let conv = self.history.entry(user_id.to_owned()).or_default();
        if conv.last().is_none_or(|l| l.time_ms <= item.time_ms) {
            conv.push(item);
        } else {
            // Seeded (past) history: keep the conversation ordered by time.
            let at = conv.partition_point(|h| h.time_ms <= item.time_ms);
            conv.insert(at, item);
        }
        let newest = conv.last().map(|h| (h.time_ms, h.seq));
        if let Some((t, s)) = newest {
            let newest_key: RecentKey = (Reverse(t), Reverse(s), user_id.to_owned());
            if newest_key == key {
                if let Some(old) = self.latest.insert(user_id.to_owned(), key.clone()) {
                    self.recent.remove(&old);
                }
                self.recent.insert(key);
            }
        }
    }

    /// The user whose conversation holds `msg_id`.
    pub fn owner_of(&self, msg_id: &str) -> Option<&str> {
        self.msg_owner.get(msg_id).map(String::as_str)
    }

    /// One page of a conversation, newest first.
    pub fn conversation(&self, user_id: &str, offset: usize, count: usize) -> Vec<&HistItem> {
        self.history
            .get(user_id)
            .map(|c| c.iter().rev().skip(offset).take(count).collect())
            .unwrap_or_default()
    }

    /// One page of the latest message of each conversation, newest first.
    pub fn recent(&self, offset: usize, count: usize) -> Vec<(&str, &HistItem)> {
        self.recent
            .iter()
            .skip(offset)
            .take(count)
            .filter_map(|(_, _, u)| {
                let last = self.history.get(u)?.last()?;
                Some((u.as_str(), last))
            })
            .collect()
    }

    /// OA messages to `user_id` newer than the last reported seen; marks them seen.
    pub fn take_unseen(&mut self, user_id: &str) -> Vec<String> {
        let Some(conv) = self.history.get(user_id) else {
            return vec![];
        };
        let upto = self.users.get(user_id).map_or(0, |u| u.seen_upto);
        let ids: Vec<(u64, String)> = conv
            .iter()
            .rev()
            .take_while(|h| h.seq > upto || h.from_user)
            .filter(|h| !h.from_user && h.seq > upto)
            .map(|h| (h.seq, h.message_id.clone()))
            .collect();
        if let (Some(max), Some(u)) = (
            ids.iter().map(|(s, _)| *s).max(),
            self.users.get_mut(user_id),
        ) {
            u.seen_upto = max;
        }
        ids.into_iter().rev().map(|(_, id)| id).collect()
    }

    /// Number of messages kept (all conversations).
    pub fn message_count(&self) -> u64 {
        self.seq
    }

    /// Stores bytes to serve; returns the asset id.
    pub fn store_asset(
        &mut self,
        kind: AssetKind,
        filename: &str,
        content_type: &str,
        bytes: Bytes,
        now_ms: i64,
    ) -> String {
        let id = wire::new_token(27);
        self.assets.insert(
            id.clone(),
            Asset {
                kind,
                filename: filename.to_owned(),
                content_type: content_type.to_owned(),
                bytes,
                created_ms: now_ms,
            },
        );
        id
    }

    /// A fresh token pair for an OA.
    pub fn issue_pair(&mut self, oa_id: &str, ttl: Duration, now_ms: i64) -> (String, String) {
        let access = wire::new_token(48);
        let refresh = wire::new_token(48);
        self.keep_pair(oa_id, &access, &refresh, ttl, now_ms);
        (access, refresh)
    }

    /// Keeps a pair as issued at `now_ms`: the access token for `ttl`, the refresh token for
    /// Zalo's three months, single use.
    pub fn keep_pair(
        &mut self,
        oa_id: &str,
        access: &str,
        refresh: &str,
        ttl: Duration,
        now_ms: i64,
    ) {
        let (access, refresh) = (access.to_owned(), refresh.to_owned());
        let ttl_ms = i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX / 4);
        self.access.insert(
            access.clone(),
            AccessState {
                oa_id: oa_id.to_owned(),
                expires_ms: now_ms.saturating_add(ttl_ms),
                revoked: false,
            },
        );
        self.refresh.insert(
            refresh.clone(),
            RefreshState {
                access: access.clone(),
                oa_id: oa_id.to_owned(),
                used: false,
                expires_ms: now_ms.saturating_add(wire::REFRESH_TTL_MS),
            },
        );
    }
}

/// A history item as `listrecentchat` / `conversation` return it.
pub(crate) fn history_json(
    h: &HistItem,
    user: Option<&UserState>,
    user_id: &str,
    cfg: &SimConfig,
    oa_avatar: &str,
) -> Value {
    let name = user
        .map(|u| u.user.display_name.clone())
        .unwrap_or_default();
    let avatar = user.and_then(|u| u.user.avatar.clone()).unwrap_or_default();
    let (from_id, to_id, from_name, from_avatar, to_name, to_avatar) = if h.from_user {
        (
            user_id,
            cfg.oa_id.as_str(),
            name,
            avatar,
            cfg.oa_name.clone(),
            oa_avatar.to_owned(),
        )
    } else {
        (
            cfg.oa_id.as_str(),
            user_id,
            cfg.oa_name.clone(),
            oa_avatar.to_owned(),
            name,
            avatar,
        )
    };
    let mut m = json!({
        "src": i32::from(h.from_user), "time": h.time_ms, "type": h.kind, "message": h.text,
        "message_id": h.message_id, "from_id": from_id, "to_id": to_id,
        "from_display_name": from_name, "from_avatar": from_avatar,
        "to_display_name": to_name, "to_avatar": to_avatar,
    });
    if let Some(obj) = m.as_object_mut() {
        for (k, v) in [
            ("url", &h.url),
            ("thumb", &h.thumb),
            ("description", &h.description),
        ] {
            if let Some(v) = v {
                obj.insert(k.into(), Value::String(v.clone()));
            }
        }
        if let Some(l) = &h.location {
            obj.insert("location".into(), l.clone());
        }
    }
    m
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn history_is_ordered_and_indexed() {
        let mut st = St::default();
        st.push_history("a", HistItem::text(true, 100, "a1", "m1"));
        st.push_history("b", HistItem::text(true, 200, "b1", "m2"));
        st.push_history("a", HistItem::text(false, 300, "a2", "m3"));
        // A seeded past message does not become the latest.
        st.push_history("b", HistItem::text(true, 50, "b0", "m0"));
        let recent: Vec<&str> = st
            .recent(0, 10)
            .iter()
            .map(|(_, h)| h.text.as_str())
            .collect();
        assert_eq!(recent, ["a2", "b1"]);
        let conv: Vec<&str> = st
            .conversation("b", 0, 10)
            .iter()
            .map(|h| h.text.as_str())
            .collect();
        assert_eq!(conv, ["b1", "b0"]);
        assert_eq!(st.owner_of("m0"), Some("b"));
        assert_eq!(st.recent(1, 10).len(), 1);
        st.push_history("b", HistItem::text(false, 400, "b2", "m4"));
        assert_eq!(st.recent(0, 1)[0].0, "b");
        assert_eq!(st.recent.len(), 2);
    }

    #[test]
    fn unseen_oa_messages_are_reported_once() {
        let mut st = St::default();
        st.users.insert(
            "u".into(),
            UserState::new(
                SimUser {
                    user_id: "u".into(),
                    display_name: "U".into(),
                    avatar: None,
                    follower: true,
                },
                "app",
            ),
        );
        st.push_history("u", HistItem::text(false, 1, "x", "o1"));
        st.push_history("u", HistItem::text(true, 2, "y", "u1"));
        st.push_history("u", HistItem::text(false, 3, "z", "o2"));
        assert_eq!(st.take_unseen("u"), ["o1", "o2"]);
        assert!(st.take_unseen("u").is_empty());
    }
}
