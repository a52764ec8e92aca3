//! Putting back what an earlier run of the simulator held: users, and conversations with their
//! messages, as the API returned them ([`FreshchatSim::users`], [`FreshchatSim::conversations`],
//! [`FreshchatSim::messages`]). A real account keeps its customers across a client's upgrade; a
//! test that opens a store written by an earlier release restores them so that the store's ids
//! point at something. Ids, times and parts are kept; nothing is sent as a webhook.
//!
//! Failure: a value without a field the API always returns, an id already held, a conversation
//! whose user or channel is unknown, is [`SimError::Invalid`] naming it.

use serde_json::{Map, Value};

use super::state::{ConvRec, MsgRec, UserRec};
use super::wire::parse_iso;
use super::{FreshchatSim, SimError};

/// Fields of a user that are the record's own, not its plain fields.
const USER_OWN: &[&str] = &[
    "id",
    "created_time",
    "updated_time",
    "properties",
    "login_status",
    "org_contact_id",
];

fn text<'a>(v: &'a Value, field: &str, what: &str) -> Result<&'a str, SimError> {
    v.get(field)
        .and_then(Value::as_str)
        .ok_or_else(|| SimError::Invalid(format!("{what} without {field}")))
}

/// One of the names the simulator gives (`actor_type`, `message_source`), as its own constant.
fn known(name: &str, names: &[&'static str], field: &str) -> Result<&'static str, SimError> {
    names
        .iter()
        .find(|n| **n == name)
        .copied()
        .ok_or_else(|| SimError::Invalid(format!("unknown {field} {name:?}")))
}

fn message(m: &Value) -> Result<MsgRec, SimError> {
    let created_time = text(m, "created_time", "message")?.to_owned();
    let parts = |field: &str| match m.get(field) {
        Some(Value::Array(a)) => a.clone(),
        _ => Vec::new(),
    };
    Ok(MsgRec {
        id: text(m, "id", "message")?.to_owned(),
        created_ms: parse_iso(&created_time)?,
        created_time,
        actor_type: known(
            text(m, "actor_type", "message")?,
            &["user", "agent", "bot", "system"],
            "actor_type",
        )?,
        actor_id: m.get("actor_id").and_then(Value::as_str).map(str::to_owned),
        org_actor_id: m
            .get("org_actor_id")
            .and_then(Value::as_str)
            .map(str::to_owned),
        private: m.get("message_type").and_then(Value::as_str) == Some("private"),
        bots_private_note: m
            .get("botsPrivateNote")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        message_parts: parts("message_parts"),
        webhook_parts: None,
        reply_parts: parts("reply_parts"),
        interaction_id: text(m, "interaction_id", "message")?.to_owned(),
        source: known(
            m.get("message_source")
                .and_then(Value::as_str)
                .unwrap_or("api"),
            &["web", "api", "system"],
            "message_source",
        )?,
        meta: m.get("meta_data").cloned(),
    })
}

impl FreshchatSim {
    /// Puts back a user as `GET /v2/users/{id}` returned it (its id, reference id, names and
    /// properties kept).
    pub fn restore_user(&self, user: &Value) -> Result<(), SimError> {
        let id = text(user, "id", "user")?.to_owned();
        let fields: Map<String, Value> = user
            .as_object()
            .ok_or_else(|| SimError::Invalid("a user is an object".into()))?
            .iter()
            .filter(|(k, _)| !USER_OWN.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let properties = match user.get("properties") {
            Some(Value::Array(props)) => props
                .iter()
                .map(|p| {
                    Ok((
                        text(p, "name", "property")?.to_owned(),
                        text(p, "value", "property")?.to_owned(),
                    ))
                })
                .collect::<Result<Vec<_>, SimError>>()?,
            _ => Vec::new(),
        };
        let rec = UserRec {
            org_contact_id: text(user, "org_contact_id", "user")?.to_owned(),
            fields,
            properties,
            created_time: text(user, "created_time", "user")?.to_owned(),
            updated_time: text(user, "updated_time", "user")?.to_owned(),
            id: id.clone(),
        };
        let mut st = self.inner.lock();
        if st.users.contains_key(&id) {
            return Err(SimError::Invalid(format!("user {id} exists")));
        }
        st.insert_user(rec);
        Ok(())
    }

    /// Puts back a conversation as `GET /v2/conversations/{id}` returned it, with its messages
    /// as `GET …/messages` listed them (oldest first). Its user must be restored first; an
    /// assigned agent this simulator does not have is left out.
    pub fn restore_conversation(
        &self,
        conversation: &Value,
        messages: &[Value],
    ) -> Result<(), SimError> {
        let id = text(conversation, "conversation_id", "conversation")?.to_owned();
        let internal = conversation
            .get("conversation_internal_id")
            .and_then(Value::as_u64)
            .ok_or_else(|| {
                SimError::Invalid("conversation without conversation_internal_id".into())
            })?;
        let messages = messages
            .iter()
            .map(message)
            .collect::<Result<Vec<_>, _>>()?;
        let optional = |field: &str| {
            conversation
                .get(field)
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        let created_time = text(conversation, "created_time", "conversation")?.to_owned();
        let interaction_id = messages
            .last()
            .map(|m| m.interaction_id.clone())
            .unwrap_or_else(|| format!("{internal}-{}", parse_iso(&created_time).unwrap_or(0)));
        let mut rec = ConvRec {
            internal,
            channel_id: text(conversation, "channel_id", "conversation")?.to_owned(),
            user_id: text(conversation, "user_id", "conversation")?.to_owned(),
            status: text(conversation, "status", "conversation")?.to_owned(),
            assigned_agent_id: optional("assigned_agent_id"),
            assigned_group_id: optional("assigned_group_id"),
            properties: match conversation.get("properties") {
                Some(Value::Object(p)) => p.clone(),
                _ => Map::new(),
            },
            created_time,
            updated_time: text(conversation, "updated_time", "conversation")?.to_owned(),
            interaction_id,
            messages,
            id: id.clone(),
        };
        let mut st = self.inner.lock();
        if st.convs.contains_key(&id) || st.by_internal.contains_key(&internal) {
            return Err(SimError::Invalid(format!("conversation {id} exists")));
        }
        if !st.users.contains_key(&rec.user_id) {
            return Err(SimError::Invalid(format!(
                "conversation {id}: its user {} is not restored",
                rec.user_id
            )));
        }
        if st.channel(&rec.channel_id).is_none() {
            return Err(SimError::Invalid(format!(
                "conversation {id}: no channel {}",
                rec.channel_id
            )));
        }
        if rec
            .assigned_agent_id
            .as_deref()
            .is_some_and(|a| st.agent(a).is_none())
        {
            rec.assigned_agent_id = None;
        }
        st.insert_restored_conversation(rec);
        Ok(())
    }
}
