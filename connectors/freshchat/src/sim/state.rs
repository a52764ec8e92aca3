//! The simulated account's state: channels, groups, agents, users, conversations with their
//! messages, uploads, and the webhook outbox, with the indexes that keep every request O(1) or
//! O(log n) in the size of the account (no scan of all messages or conversations per request).
//!
//! The conversation rules (`rules.rs`) hold whoever triggers them (the API or a simulated agent):
//! a customer's message into a resolved conversation reopens it
//! (`conversation_reopen` queued before the `message_create`, both with the new `interaction_id`);
//! resolving and reopening add a system message (`message_source:"system"`,
//! `meta_data.isResolved` / `isReopen`); every status change and every message queues its webhook
//! under the lock, so a conversation's webhooks are in event order. Operations on unknown ids fail
//! with a 404 [`ApiErr`].

use std::collections::{HashMap, HashSet};

use bytes::Bytes;
use serde_json::{Map, Value};

use super::delivery::Outbox;
use super::wire::{iso_ms, ApiErr};
use super::{FileLinks, WebhookShape};

/// Who did something: `actor_type` and, when there is one, `actor_id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Actor {
    pub(crate) kind: &'static str,
    pub(crate) id: Option<String>,
}

impl Actor {
    pub(crate) fn new(kind: &'static str, id: impl Into<String>) -> Self {
        Self {
            kind,
            id: Some(id.into()),
        }
    }
}

pub(crate) struct ChannelRec {
    pub(crate) id: String,
    pub(crate) name: String,
    /// `freshchat_channel_id`: a numeric string.
    pub(crate) numeric_id: String,
}

pub(crate) struct AgentRec {
    pub(crate) id: String,
    pub(crate) first_name: String,
    pub(crate) email: String,
    pub(crate) org_id: String,
    pub(crate) group_id: String,
    pub(crate) created_time: String,
}

pub(crate) struct UserRec {
    pub(crate) id: String,
    pub(crate) org_contact_id: String,
    /// Plain fields as given: first_name, last_name, email, phone, reference_id, restore_id, avatar.
    pub(crate) fields: Map<String, Value>,
    pub(crate) properties: Vec<(String, String)>,
    pub(crate) created_time: String,
    pub(crate) updated_time: String,
}

impl UserRec {
    pub(crate) fn reference_id(&self) -> Option<&str> {
        self.fields.get("reference_id").and_then(Value::as_str)
    }
}

pub(crate) struct MsgRec {
    pub(crate) id: String,
    pub(crate) created_ms: i64,
    pub(crate) created_time: String,
    pub(crate) actor_type: &'static str,
    pub(crate) actor_id: Option<String>,
    pub(crate) org_actor_id: Option<String>,
    /// `message_type:"private"`.
    pub(crate) private: bool,
    /// A bot's internal note (`botsPrivateNote: true`).
    pub(crate) bots_private_note: bool,
    /// As stored and returned by the API.
    pub(crate) message_parts: Vec<Value>,
    /// What the webhook carries when it differs (file parts without `url`).
    pub(crate) webhook_parts: Option<Vec<Value>>,
    pub(crate) reply_parts: Vec<Value>,
    pub(crate) interaction_id: String,
    /// `message_source`: `web`, `api`, `system`.
    pub(crate) source: &'static str,
    pub(crate) meta: Option<Value>,
}

impl MsgRec {
    pub(crate) fn message_type(&self) -> &'static str {
        if self.private {
            "private"
        } else {
            "normal"
        }
    }
}

pub(crate) struct ConvRec {
    pub(crate) id: String,
    pub(crate) internal: u64,
    pub(crate) channel_id: String,
    pub(crate) user_id: String,
    pub(crate) status: String,
    pub(crate) assigned_agent_id: Option<String>,
    pub(crate) assigned_group_id: Option<String>,
    pub(crate) properties: Map<String, Value>,
    pub(crate) created_time: String,
    pub(crate) updated_time: String,
    pub(crate) interaction_id: String,
    /// Oldest first; `created_ms` strictly increases.
    pub(crate) messages: Vec<MsgRec>,
}

/// Where an uploaded or attached file is served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Host {
    /// `/v2/files/{token}/{name}` on the API host: Bearer key required.
    Api,
    /// `/{token}/{name}` on the anonymous CDN listener: a key sent there is refused.
    Cdn,
}

pub(crate) struct Upload {
    pub(crate) filename: String,
    pub(crate) content_type: String,
    pub(crate) bytes: Bytes,
    /// Kept elsewhere (signed storage): the API host answers `302 Found` to this location.
    pub(crate) location: Option<String>,
}

/// A message about to be created.
pub(crate) struct NewMsg {
    pub(crate) actor: Actor,
    pub(crate) private: bool,
    pub(crate) bots_private_note: bool,
    pub(crate) message_parts: Vec<Value>,
    pub(crate) webhook_parts: Option<Vec<Value>>,
    pub(crate) reply_parts: Vec<Value>,
    pub(crate) source: &'static str,
    pub(crate) meta: Option<Value>,
    /// System messages are listed but not sent as webhooks.
    pub(crate) emit: bool,
}

impl NewMsg {
    pub(crate) fn new(actor: Actor, parts: Vec<Value>, source: &'static str) -> Self {
        Self {
            actor,
            private: false,
            bots_private_note: false,
            message_parts: parts,
            webhook_parts: None,
            reply_parts: Vec::new(),
            source,
            meta: None,
            emit: true,
        }
    }
}

/// Behaviour switches that can change while the simulator runs.
pub(crate) struct Knobs {
    pub(crate) shape: WebhookShape,
    pub(crate) file_links: FileLinks,
    /// `Some`: only these custom user properties exist; others are refused.
    pub(crate) defined_properties: Option<HashSet<String>>,
}

pub(crate) struct SimState {
    pub(crate) app_id: String,
    pub(crate) account_id: u64,
    /// Scheme+host of the API, no trailing slash.
    pub(crate) api_base: String,
    /// Scheme+host of the CDN, no trailing slash (its address, or a storage host name set by
    /// [`super::FreshchatSim::set_cdn_host`]).
    pub(crate) cdn_base: String,
    /// The CDN's bases before the current one: links given out under them still work.
    pub(crate) cdn_bases_before: Vec<String>,
    /// Host names the CDN answers to besides its address (every name set so far).
    pub(crate) cdn_hosts: Vec<String>,
    pub(crate) service_account_id: String,
    pub(crate) bot_id: String,
    pub(crate) channels: Vec<ChannelRec>,
    pub(crate) groups: Vec<(String, String)>,
    pub(crate) agents: Vec<AgentRec>,
    pub(crate) users: HashMap<String, UserRec>,
    pub(crate) user_order: Vec<String>,
    pub(crate) by_reference: HashMap<String, Vec<String>>,
    pub(crate) convs: HashMap<String, ConvRec>,
    pub(crate) conv_order: Vec<String>,
    pub(crate) by_internal: HashMap<u64, String>,
    pub(crate) user_convs: HashMap<String, Vec<String>>,
    /// (user, channel) → the user's latest conversation on that channel.
    pub(crate) latest: HashMap<(String, String), String>,
    pub(crate) uploads: HashMap<String, Upload>,
    /// `file_hash` → upload token.
    pub(crate) by_hash: HashMap<String, (String, Host)>,
    pub(crate) knobs: Knobs,
    pub(crate) outbox: Outbox,
    last_ms: i64,
    next_internal: u64,
    next_org: u64,
}

impl SimState {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        app_id: String,
        api_base: String,
        cdn_base: String,
        channels: &[(String, String)],
        groups: &[(String, String)],
        knobs: Knobs,
        outbox: Outbox,
    ) -> Self {
        let mut st = Self {
            app_id,
            account_id: 681_406_910_844_650,
            api_base,
            cdn_base,
            cdn_bases_before: Vec::new(),
            cdn_hosts: Vec::new(),
            service_account_id: uuid::Uuid::new_v4().to_string(),
            bot_id: uuid::Uuid::new_v4().to_string(),
            channels: channels
                .iter()
                .enumerate()
                .map(|(i, (id, name))| ChannelRec {
                    id: id.clone(),
                    name: name.clone(),
                    numeric_id: (854_617 + i as u64).to_string(),
                })
                .collect(),
            groups: groups.to_vec(),
            agents: Vec::new(),
            users: HashMap::new(),
            user_order: Vec::new(),
            by_reference: HashMap::new(),
            convs: HashMap::new(),
            conv_order: Vec::new(),
            by_internal: HashMap::new(),
            user_convs: HashMap::new(),
            latest: HashMap::new(),
            uploads: HashMap::new(),
            by_hash: HashMap::new(),
            knobs,
            outbox,
            last_ms: 0,
            next_internal: 1_019_183_591_791_880,
            next_org: 1_940_890_452_607_479_808,
        };
        st.add_agent("Agent");
        st
    }

    /// The current time in ms and ISO form, strictly after every earlier call.
    pub(crate) fn now(&mut self) -> (i64, String) {
        let ms = chrono::Utc::now().timestamp_millis().max(self.last_ms + 1);
        self.last_ms = ms;
        (ms, iso_ms(ms))
    }

    /// A fresh numeric Freshworks id, as a string.
    pub(crate) fn org_id(&mut self) -> String {
        self.next_org += 1;
        self.next_org.to_string()
    }

    pub(crate) fn add_agent(&mut self, first_name: &str) -> String {
        let id = uuid::Uuid::new_v4().to_string();
        let org_id = self.org_id();
        let (_, now) = self.now();
        let group_id = self.groups.first().map(|g| g.0.clone()).unwrap_or_default();
        self.agents.push(AgentRec {
            id: id.clone(),
            first_name: first_name.to_owned(),
            email: format!("agent{}@example.com", self.agents.len() + 1),
            org_id,
            group_id,
            created_time: now,
        });
        id
    }

    pub(crate) fn agent(&self, id: &str) -> Option<&AgentRec> {
        self.agents.iter().find(|a| a.id == id)
    }

    pub(crate) fn channel(&self, id: &str) -> Option<&ChannelRec> {
        self.channels.iter().find(|c| c.id == id)
    }

    pub(crate) fn user(&self, id: &str) -> Result<&UserRec, ApiErr> {
        self.users
            .get(id)
            .ok_or_else(|| ApiErr::not_found("USER_NOT_FOUND", "user not found"))
    }

    /// A conversation by its id or its numeric twin.
    pub(crate) fn conv_id(&self, id: &str) -> Result<String, ApiErr> {
        if self.convs.contains_key(id) {
            return Ok(id.to_owned());
        }
        id.parse::<u64>()
            .ok()
            .and_then(|n| self.by_internal.get(&n).cloned())
            .ok_or_else(|| ApiErr::not_found("CONVERSATION_NOT_FOUND", "conversation not found"))
    }

    pub(crate) fn conv(&self, id: &str) -> Result<&ConvRec, ApiErr> {
        let id = self.conv_id(id)?;
        self.convs
            .get(&id)
            .ok_or_else(|| ApiErr::not_found("CONVERSATION_NOT_FOUND", "conversation not found"))
    }

    pub(crate) fn conv_mut(&mut self, id: &str) -> Result<&mut ConvRec, ApiErr> {
        self.convs
            .get_mut(id)
            .ok_or_else(|| ApiErr::not_found("CONVERSATION_NOT_FOUND", "conversation not found"))
    }

    pub(crate) fn is_latest(&self, conv: &ConvRec) -> bool {
        self.latest
            .get(&(conv.user_id.clone(), conv.channel_id.clone()))
            .is_none_or(|l| *l == conv.id)
    }

    pub(crate) fn insert_user(&mut self, u: UserRec) {
        // A user restored from an earlier run keeps its id: new ones are numbered after it.
        if let Ok(n) = u.org_contact_id.parse::<u64>() {
            self.next_org = self.next_org.max(n);
        }
        if let Some(r) = u.reference_id() {
            self.by_reference
                .entry(r.to_owned())
                .or_default()
                .push(u.id.clone());
        }
        self.user_order.push(u.id.clone());
        self.users.insert(u.id.clone(), u);
    }

    /// Re-indexes a user whose `reference_id` changed.
    pub(crate) fn reindex_reference(&mut self, user_id: &str, old: Option<String>) {
        if let Some(old) = old {
            if let Some(list) = self.by_reference.get_mut(&old) {
                list.retain(|u| u != user_id);
                if list.is_empty() {
                    self.by_reference.remove(&old);
                }
            }
        }
        if let Some(new) = self
            .users
            .get(user_id)
            .and_then(UserRec::reference_id)
            .map(str::to_owned)
        {
            let list = self.by_reference.entry(new).or_default();
            if !list.iter().any(|u| u == user_id) {
                list.push(user_id.to_owned());
            }
        }
    }

    /// Opens a conversation (no messages yet); it becomes the user's latest on its channel.
    pub(crate) fn open_conversation(
        &mut self,
        user_id: &str,
        channel_id: &str,
        status: &str,
        properties: Map<String, Value>,
    ) -> String {
        let (ms, now) = self.now();
        self.next_internal += 1;
        let internal = self.next_internal;
        let id = uuid::Uuid::new_v4().to_string();
        self.convs.insert(
            id.clone(),
            ConvRec {
                id: id.clone(),
                internal,
                channel_id: channel_id.to_owned(),
                user_id: user_id.to_owned(),
                status: status.to_owned(),
                assigned_agent_id: None,
                assigned_group_id: None,
                properties,
                created_time: now.clone(),
                updated_time: now,
                interaction_id: format!("{internal}-{ms}"),
                messages: Vec::new(),
            },
        );
        self.conv_order.push(id.clone());
        self.by_internal.insert(internal, id.clone());
        self.user_convs
            .entry(user_id.to_owned())
            .or_default()
            .push(id.clone());
        self.latest
            .insert((user_id.to_owned(), channel_id.to_owned()), id.clone());
        id
    }

    /// Puts back a conversation of an earlier run with its own ids, times and messages; it
    /// becomes its user's latest on its channel, and new conversations are numbered after it.
    pub(crate) fn insert_restored_conversation(&mut self, c: ConvRec) {
        self.next_internal = self.next_internal.max(c.internal);
        self.conv_order.push(c.id.clone());
        self.by_internal.insert(c.internal, c.id.clone());
        self.user_convs
            .entry(c.user_id.clone())
            .or_default()
            .push(c.id.clone());
        self.latest
            .insert((c.user_id.clone(), c.channel_id.clone()), c.id.clone());
        self.convs.insert(c.id.clone(), c);
    }

    /// Stores bytes to be served on `host`; answers (token, URL).
    pub(crate) fn store_upload(
        &mut self,
        host: Host,
        filename: &str,
        content_type: &str,
        bytes: Bytes,
    ) -> (String, String) {
        let token = uuid::Uuid::new_v4().simple().to_string();
        let name = percent_encoding::utf8_percent_encode(filename, SEGMENT).to_string();
        let url = match host {
            Host::Api => format!("{}/v2/files/{token}/{name}", self.api_base),
            Host::Cdn => format!("{}/{token}/{name}", self.cdn_base),
        };
        self.uploads.insert(
            token.clone(),
            Upload {
                filename: filename.to_owned(),
                content_type: content_type.to_owned(),
                bytes,
                location: None,
            },
        );
        (token, url)
    }

    /// Serves the CDN under `base` from now on; `host`, when given, is a name it answers to.
    pub(crate) fn set_cdn_base(&mut self, base: String, host: Option<&str>) {
        if let Some(h) = host {
            self.cdn_hosts.push(h.to_ascii_lowercase());
        }
        let before = std::mem::replace(&mut self.cdn_base, base);
        self.cdn_bases_before.push(before);
    }

    /// Whether `url` points at this simulator's own hosting and names nothing stored there (an
    /// image Freshchat cannot fetch: `IMAGE_EMPTY_CONTENT`).
    pub(crate) fn own_url_is_empty(&self, url: &str) -> bool {
        let api = format!("{}/v2/files/", self.api_base);
        let rest = std::iter::once(&self.cdn_base)
            .chain(&self.cdn_bases_before)
            .find_map(|base| url.strip_prefix(&format!("{base}/")))
            .or_else(|| url.strip_prefix(&api));
        rest.is_some_and(|r| {
            let token = r.split('/').next().unwrap_or_default();
            !self.uploads.contains_key(token)
        })
    }

    /// The URL an uploaded file hash is served at.
    pub(crate) fn url_of_hash(&self, hash: &str) -> Option<String> {
        let (token, host) = self.by_hash.get(hash)?;
        let up = self.uploads.get(token)?;
        let name = percent_encoding::utf8_percent_encode(&up.filename, SEGMENT).to_string();
        Some(match host {
            Host::Api => format!("{}/v2/files/{token}/{name}", self.api_base),
            Host::Cdn => format!("{}/{token}/{name}", self.cdn_base),
        })
    }
}

/// Characters escaped in a URL path segment.
const SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');
