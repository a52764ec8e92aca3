//! What simulated agents and bots do in the inbox: reply with any parts (text, images, files with
//! or without `url`, quick replies, URL buttons, dropdowns, carousels, parts of unknown kinds),
//! write private notes, post as a bot (and a bot's internal note, flagged only by
//! `botsPrivateNote: true`), resolve, reopen and assign.
//!
//! Agents work in the Freshchat UI, not through the API, so their parts are not checked like API
//! input: a part of a kind the client does not know reaches the webhook as it is. Each action
//! queues its webhook like the API does. Unknown conversations or agents answer
//! [`SimError::NotFound`]; empty messages and impossible transitions answer [`SimError::Invalid`].

use bytes::Bytes;
use serde_json::{json, Value};

use super::state::{Actor, Host, NewMsg};
use super::wire::ApiErr;
use super::{FileLinks, FreshchatSim, SimError};

/// A message a simulated agent or bot writes: parts as JSON (see [`super::parts`]).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AgentMessage {
    /// `message_parts`.
    pub message_parts: Vec<Value>,
    /// `reply_parts`: quick replies, dropdowns, carousels.
    pub reply_parts: Vec<Value>,
    /// A private note (`message_type:"private"`), agents only.
    pub private: bool,
    /// How file parts appear in the webhook, overriding [`super::SimConfig::file_links`].
    pub file_links: Option<FileLinks>,
}

impl AgentMessage {
    /// A normal message with these parts.
    pub fn new(message_parts: Vec<Value>) -> Self {
        Self {
            message_parts,
            ..Self::default()
        }
    }

    /// A normal text message.
    pub fn text(content: &str) -> Self {
        Self::new(vec![super::parts::text(content)])
    }

    /// Adds `reply_parts`.
    pub fn with_reply_parts(mut self, reply_parts: Vec<Value>) -> Self {
        self.reply_parts = reply_parts;
        self
    }

    /// Makes it a private note.
    pub fn private(mut self) -> Self {
        self.private = true;
        self
    }

    /// Sets how file parts appear in the webhook.
    pub fn with_file_links(mut self, links: FileLinks) -> Self {
        self.file_links = Some(links);
        self
    }
}

impl FreshchatSim {
    /// Adds an agent; returns its id.
    pub fn add_agent(&self, first_name: &str) -> String {
        self.inner.lock().add_agent(first_name)
    }

    /// The agent that exists from the start.
    pub fn default_agent_id(&self) -> String {
        self.inner
            .lock()
            .agents
            .first()
            .map(|a| a.id.clone())
            .unwrap_or_default()
    }

    /// The id the account's bot writes with.
    pub fn bot_id(&self) -> String {
        self.inner.lock().bot_id.clone()
    }

    /// An agent replies with these parts (a normal message; emits `message_create`). Answers the
    /// message as the API would return it.
    pub async fn agent_sends(
        &self,
        conversation_id: &str,
        agent_id: &str,
        parts: Vec<Value>,
    ) -> Result<Value, SimError> {
        self.agent_sends_message(conversation_id, agent_id, AgentMessage::new(parts))
            .await
    }

    /// An agent writes `message` (parts, reply parts, private or not).
    pub async fn agent_sends_message(
        &self,
        conversation_id: &str,
        agent_id: &str,
        message: AgentMessage,
    ) -> Result<Value, SimError> {
        let actor = self.agent_actor(agent_id)?;
        self.write(conversation_id, actor, message, false).await
    }

    /// An agent writes a private note (agents only; emits `message_create` with
    /// `message_type:"private"`).
    pub async fn agent_note(
        &self,
        conversation_id: &str,
        agent_id: &str,
        text: &str,
    ) -> Result<Value, SimError> {
        self.agent_sends_message(
            conversation_id,
            agent_id,
            AgentMessage::text(text).private(),
        )
        .await
    }

    /// An agent attaches an image: hosted on the anonymous CDN, sent as an `image` part.
    pub async fn agent_sends_image(
        &self,
        conversation_id: &str,
        agent_id: &str,
        filename: &str,
        content_type: &str,
        bytes: Bytes,
    ) -> Result<Value, SimError> {
        let (_, url) = self
            .inner
            .lock()
            .store_upload(Host::Cdn, filename, content_type, bytes);
        self.agent_sends(conversation_id, agent_id, vec![super::parts::image(url)])
            .await
    }

    /// An agent attaches a file: hosted on the API host (Bearer key needed), sent as a `file` part;
    /// `links` decides whether the webhook carries its `url` (default: the configured way).
    pub async fn agent_sends_file(
        &self,
        conversation_id: &str,
        agent_id: &str,
        filename: &str,
        content_type: &str,
        bytes: Bytes,
        links: Option<FileLinks>,
    ) -> Result<Value, SimError> {
        let size = bytes.len() as u64;
        let (_, url) = self
            .inner
            .lock()
            .store_upload(Host::Api, filename, content_type, bytes);
        let part = super::parts::file(filename, Some(&url), size, content_type);
        let mut m = AgentMessage::new(vec![part]);
        m.file_links = links;
        self.agent_sends_message(conversation_id, agent_id, m).await
    }

    /// The account's bot writes `message` (actor `bot`; `message_create` like any message).
    pub async fn bot_sends(
        &self,
        conversation_id: &str,
        message: AgentMessage,
    ) -> Result<Value, SimError> {
        let actor = Actor::new("bot", self.bot_id());
        self.write(conversation_id, actor, message, false).await
    }

    /// The bot's internal note: a bot message flagged only by `botsPrivateNote: true` (no
    /// `message_type` in the 2022 webhook, `"normal"` when read back), never meant for the customer.
    pub async fn bot_note(&self, conversation_id: &str, text: &str) -> Result<Value, SimError> {
        let actor = Actor::new("bot", self.bot_id());
        self.write(conversation_id, actor, AgentMessage::text(text), true)
            .await
    }

    /// An agent resolves the conversation (emits `conversation_resolution`).
    pub async fn resolve(&self, conversation_id: &str, agent_id: &str) -> Result<(), SimError> {
        let actor = self.agent_actor(agent_id)?;
        self.inner.lock().resolve(conversation_id, &actor)?;
        self.inner.wait_for_room().await;
        Ok(())
    }

    /// Freshchat resolves the conversation by itself, as its automatic resolution of quiet
    /// conversations does (emits `conversation_resolution` with `resolver: "system"` and no id).
    pub async fn resolve_by_system(&self, conversation_id: &str) -> Result<(), SimError> {
        let actor = Actor {
            kind: "system",
            id: None,
        };
        self.inner.lock().resolve(conversation_id, &actor)?;
        self.inner.wait_for_room().await;
        Ok(())
    }

    /// An agent reopens a resolved conversation (emits `conversation_reopen`).
    pub async fn reopen(&self, conversation_id: &str, agent_id: &str) -> Result<(), SimError> {
        let actor = self.agent_actor(agent_id)?;
        self.inner
            .lock()
            .reopen(conversation_id, &actor, "reopened")?;
        self.inner.wait_for_room().await;
        Ok(())
    }

    /// The agent takes the conversation (emits `conversation_assignment`; the agent's group comes
    /// along when the conversation had none).
    pub async fn assign(&self, conversation_id: &str, agent_id: &str) -> Result<(), SimError> {
        let actor = self.agent_actor(agent_id)?;
        self.inner
            .lock()
            .assign(conversation_id, Some(agent_id.to_owned()), None, &actor)?;
        self.inner.wait_for_room().await;
        Ok(())
    }

    /// Stores bytes as an agent's attachment and returns the URL it is served at: images on the
    /// anonymous CDN, anything else on the API host (Bearer key needed).
    pub fn upload_for_agent(&self, filename: &str, content_type: &str, bytes: Bytes) -> String {
        let host = if content_type.starts_with("image/") {
            Host::Cdn
        } else {
            Host::Api
        };
        self.inner
            .lock()
            .store_upload(host, filename, content_type, bytes)
            .1
    }

    /// An agent's file kept in storage elsewhere: its URL on the API host (Bearer key needed)
    /// answers `302 Found` to `location`, where a client must go without the key. Returns the
    /// API-host URL.
    pub fn upload_for_agent_elsewhere(&self, filename: &str, location: &str) -> String {
        let mut st = self.inner.lock();
        let (token, url) = st.store_upload(
            Host::Api,
            filename,
            "application/octet-stream",
            Bytes::new(),
        );
        if let Some(up) = st.uploads.get_mut(&token) {
            up.location = Some(location.to_owned());
        }
        url
    }

    fn agent_actor(&self, agent_id: &str) -> Result<Actor, SimError> {
        if self.inner.lock().agent(agent_id).is_none() {
            return Err(SimError::NotFound(format!("agent {agent_id}")));
        }
        Ok(Actor::new("agent", agent_id))
    }

    async fn write(
        &self,
        conversation_id: &str,
        actor: Actor,
        message: AgentMessage,
        bots_private_note: bool,
    ) -> Result<Value, SimError> {
        if message.message_parts.is_empty() && message.reply_parts.is_empty() {
            return Err(SimError::Invalid("the message has no parts".into()));
        }
        if let Some(bad) = message
            .message_parts
            .iter()
            .chain(&message.reply_parts)
            .find(|p| !p.is_object())
        {
            return Err(SimError::Invalid(format!(
                "a part must be an object: {bad}"
            )));
        }
        if message.private && actor.kind != "agent" {
            return Err(SimError::Invalid("only agents write private notes".into()));
        }
        let answer = {
            let mut st = self.inner.lock();
            let links = message.file_links.unwrap_or(st.knobs.file_links);
            let (stored, webhook) = file_links(message.message_parts, links);
            let mut m = NewMsg::new(actor, stored, "web");
            m.private = message.private;
            m.bots_private_note = bots_private_note;
            m.reply_parts = message.reply_parts;
            m.webhook_parts = webhook;
            st.add_message(conversation_id, m).map_err(SimError::from)?
        };
        self.inner.wait_for_room().await;
        Ok(answer)
    }
}

/// With [`FileLinks::DownloadUrlOnly`], file parts carry `download_url` and, in the webhook only,
/// no `url`. Answers (stored parts, webhook parts when different).
fn file_links(parts: Vec<Value>, links: FileLinks) -> (Vec<Value>, Option<Vec<Value>>) {
    let has_file_url = parts
        .iter()
        .any(|p| p.pointer("/file/url").and_then(Value::as_str).is_some());
    if links == FileLinks::Url || !has_file_url {
        return (parts, None);
    }
    let mut stored = parts;
    let mut webhook = Vec::with_capacity(stored.len());
    for p in &mut stored {
        let mut w = p.clone();
        if let Some(url) = p
            .pointer("/file/url")
            .and_then(Value::as_str)
            .map(str::to_owned)
        {
            if let Some(f) = p.get_mut("file").and_then(Value::as_object_mut) {
                f.insert("download_url".into(), json!(url));
            }
            if let Some(f) = w.get_mut("file").and_then(Value::as_object_mut) {
                f.remove("url");
                f.insert("download_url".into(), json!(url));
            }
        }
        webhook.push(w);
    }
    (stored, Some(webhook))
}

impl From<SimError> for ApiErr {
    fn from(e: SimError) -> Self {
        match e {
            SimError::NotFound(m) => ApiErr::not_found("NOT_FOUND", m),
            SimError::Invalid(m) => ApiErr::invalid(m),
        }
    }
}
