//! The JSON the simulator answers and sends: users, conversations and messages as the API returns
//! them, and webhook bodies in the shapes of the real-world samples.
//!
//! Key order follows the samples (`serde_json` keeps insertion order), so a receiver that verifies
//! or parses raw bytes meets the same layout it would meet from Freshchat. Two webhook generations
//! are produced: the 2022 shape (the default: no `message_type` on normal messages, camelCase
//! `restrictResponse` / `botsPrivateNote` beside snake_case keys, `skill_id` / `sla_*` in
//! conversations, the resolving user in `conversation_resolution`) and the 2021 shape
//! (`message_type:"normal"`, `message_source`, `org_actor_id`). Rendering cannot fail.

use serde_json::{json, Map, Value};

use super::state::{Actor, ChannelRec, ConvRec, MsgRec, SimState, UserRec};
use super::wire::{ACTION_ASSIGNMENT, ACTION_MESSAGE_CREATE, ACTION_REOPEN, ACTION_RESOLUTION};
use super::WebhookShape;

/// A user as `GET /v2/users/{id}` returns it.
pub(crate) fn user(u: &UserRec) -> Value {
    let mut o = Map::new();
    o.insert("id".into(), json!(u.id));
    o.insert("created_time".into(), json!(u.created_time));
    o.insert("updated_time".into(), json!(u.updated_time));
    for (k, v) in &u.fields {
        o.insert(k.clone(), v.clone());
    }
    let props: Vec<Value> = u
        .properties
        .iter()
        .map(|(name, value)| json!({"name": name, "value": value}))
        .collect();
    o.insert("properties".into(), Value::Array(props));
    o.insert("login_status".into(), json!(false));
    o.insert("org_contact_id".into(), json!(u.org_contact_id));
    Value::Object(o)
}

/// A conversation as `GET /v2/conversations/{id}` returns it.
pub(crate) fn conversation(st: &SimState, c: &ConvRec) -> Value {
    let mut o = Map::new();
    o.insert("conversation_id".into(), json!(c.id));
    o.insert("conversation_internal_id".into(), json!(c.internal));
    o.insert("app_id".into(), json!(st.app_id));
    o.insert("status".into(), json!(c.status));
    o.insert("channel_id".into(), json!(c.channel_id));
    if let Some(a) = &c.assigned_agent_id {
        o.insert("assigned_agent_id".into(), json!(a));
        if let Some(org) = st.agent(a).map(|a| a.org_id.clone()) {
            o.insert("assigned_org_agent_id".into(), json!(org));
        }
    }
    if let Some(g) = &c.assigned_group_id {
        o.insert("assigned_group_id".into(), json!(g));
    }
    o.insert("skill_id".into(), json!(0));
    o.insert("properties".into(), Value::Object(c.properties.clone()));
    o.insert(
        "url".into(),
        json!(format!(
            "{}/a/{}/inbox/open/0/conversation/{}",
            st.api_base, st.account_id, c.internal
        )),
    );
    if let Some(u) = st.users.get(&c.user_id) {
        o.insert("org_contact_id".into(), json!(u.org_contact_id));
    }
    o.insert("created_time".into(), json!(c.created_time));
    o.insert("updated_time".into(), json!(c.updated_time));
    o.insert("user_id".into(), json!(c.user_id));
    Value::Object(o)
}

/// A message as the API returns it (`POST …/messages` answer and `GET …/messages` items).
pub(crate) fn message(st: &SimState, c: &ConvRec, ch: Option<&ChannelRec>, m: &MsgRec) -> Value {
    let mut o = Map::new();
    o.insert("bots_input".into(), json!(false));
    o.insert(
        "message_parts".into(),
        Value::Array(m.message_parts.clone()),
    );
    if !m.reply_parts.is_empty() {
        o.insert("reply_parts".into(), Value::Array(m.reply_parts.clone()));
    }
    o.insert("app_id".into(), json!(st.app_id));
    if let Some(a) = &m.actor_id {
        o.insert("actor_id".into(), json!(a));
    }
    if let Some(org) = &m.org_actor_id {
        o.insert("org_actor_id".into(), json!(org));
    }
    o.insert("id".into(), json!(m.id));
    o.insert("channel_id".into(), json!(c.channel_id));
    o.insert("conversation_id".into(), json!(c.id));
    o.insert(
        "freshchat_conversation_id".into(),
        json!(c.internal.to_string()),
    );
    if let Some(ch) = ch {
        o.insert("freshchat_channel_id".into(), json!(ch.numeric_id));
    }
    o.insert("interaction_id".into(), json!(m.interaction_id));
    o.insert("message_type".into(), json!(m.message_type()));
    o.insert("actor_type".into(), json!(m.actor_type));
    o.insert("created_time".into(), json!(m.created_time));
    o.insert("user_id".into(), json!(c.user_id));
    o.insert("restrictResponse".into(), json!(false));
    o.insert("botsPrivateNote".into(), json!(m.bots_private_note));
    o.insert("isBotsInput".into(), json!(false));
    o.insert("message_source".into(), json!(m.source));
    if let Some(meta) = &m.meta {
        o.insert("meta_data".into(), meta.clone());
    }
    Value::Object(o)
}

/// The `message_create` webhook body of a message.
pub(crate) fn message_create(
    st: &SimState,
    c: &ConvRec,
    ch: Option<&ChannelRec>,
    m: &MsgRec,
    shape: WebhookShape,
) -> Value {
    let parts = m.webhook_parts.as_ref().unwrap_or(&m.message_parts);
    let mut o = Map::new();
    o.insert("message_parts".into(), Value::Array(parts.clone()));
    if !m.reply_parts.is_empty() {
        o.insert("reply_parts".into(), Value::Array(m.reply_parts.clone()));
    }
    o.insert("app_id".into(), json!(st.app_id));
    if let Some(a) = &m.actor_id {
        o.insert("actor_id".into(), json!(a));
    }
    if shape == WebhookShape::V2021 {
        if let Some(org) = &m.org_actor_id {
            o.insert("org_actor_id".into(), json!(org));
        }
    }
    o.insert("id".into(), json!(m.id));
    o.insert("channel_id".into(), json!(c.channel_id));
    o.insert("conversation_id".into(), json!(c.id));
    if shape == WebhookShape::V2022 {
        o.insert(
            "freshchat_conversation_id".into(),
            json!(c.internal.to_string()),
        );
        if let Some(ch) = ch {
            o.insert("freshchat_channel_id".into(), json!(ch.numeric_id));
        }
    }
    o.insert("interaction_id".into(), json!(m.interaction_id));
    // 2022: normal messages carry no message_type; private notes still say so.
    if shape == WebhookShape::V2021 || m.private {
        o.insert("message_type".into(), json!(m.message_type()));
    }
    o.insert("actor_type".into(), json!(m.actor_type));
    o.insert("created_time".into(), json!(m.created_time));
    // A customer's own message names them only as the actor (no user_id), as in the samples.
    if m.actor_type != "user" {
        o.insert("user_id".into(), json!(c.user_id));
    }
    match shape {
        WebhookShape::V2022 => {
            o.insert("restrictResponse".into(), json!(false));
            o.insert("botsPrivateNote".into(), json!(m.bots_private_note));
        }
        WebhookShape::V2021 => {
            if m.bots_private_note {
                o.insert("botsPrivateNote".into(), json!(true));
            }
            o.insert("message_source".into(), json!(m.source));
        }
    }
    envelope(
        &Actor {
            kind: m.actor_type,
            id: m.actor_id.clone(),
        },
        ACTION_MESSAGE_CREATE,
        &m.created_time,
        "message",
        Value::Object(o),
    )
}

/// The conversation object inside resolution, reopen and assignment webhooks.
fn event_conversation(st: &SimState, c: &ConvRec, shape: WebhookShape) -> Value {
    let mut o = Map::new();
    o.insert("conversation_id".into(), json!(c.id));
    o.insert("app_id".into(), json!(st.app_id));
    o.insert("status".into(), json!(c.status));
    o.insert("channel_id".into(), json!(c.channel_id));
    if let Some(a) = &c.assigned_agent_id {
        o.insert("assigned_agent_id".into(), json!(a));
    }
    if let Some(g) = &c.assigned_group_id {
        o.insert("assigned_group_id".into(), json!(g));
    }
    if shape == WebhookShape::V2022 {
        o.insert("skill_id".into(), json!(0));
        o.insert("sla_policy_id".into(), json!(0));
        o.insert("sla_breached".into(), json!(false));
    }
    Value::Object(o)
}

/// `conversation_resolution`: `resolver`, `resolver_id`, the conversation, `interaction_id`
/// beside it, and (2022) the conversation's user.
pub(crate) fn resolution(
    st: &SimState,
    c: &ConvRec,
    actor: &Actor,
    time: &str,
    shape: WebhookShape,
) -> Value {
    let mut o = Map::new();
    o.insert("resolver".into(), json!(actor.kind));
    o.insert(
        "resolver_id".into(),
        json!(actor.id.clone().unwrap_or_default()),
    );
    o.insert("conversation".into(), event_conversation(st, c, shape));
    o.insert("interaction_id".into(), json!(c.interaction_id));
    if shape == WebhookShape::V2022 {
        if let Some(u) = st.users.get(&c.user_id) {
            o.insert("user".into(), user(u));
        }
    }
    envelope(actor, ACTION_RESOLUTION, time, "resolve", Value::Object(o))
}

/// `conversation_reopen`: `reopener`, `reopener_id`, the conversation, `interaction_id` beside it.
pub(crate) fn reopen(
    st: &SimState,
    c: &ConvRec,
    actor: &Actor,
    time: &str,
    shape: WebhookShape,
) -> Value {
    let o = json!({
        "reopener": actor.kind,
        "reopener_id": actor.id.clone().unwrap_or_default(),
        "conversation": event_conversation(st, c, shape),
        "interaction_id": c.interaction_id,
    });
    envelope(actor, ACTION_REOPEN, time, "reopen", o)
}

/// `conversation_assignment`; agents and groups that were not set are `""`, never null.
pub(crate) fn assignment(
    st: &SimState,
    c: &ConvRec,
    actor: &Actor,
    from: (&str, &str),
    time: &str,
    shape: WebhookShape,
) -> Value {
    let o = json!({
        "assignor": actor.kind,
        "assignor_id": actor.id.clone().unwrap_or_default(),
        "to_agent_id": c.assigned_agent_id.clone().unwrap_or_default(),
        "to_group_id": c.assigned_group_id.clone().unwrap_or_default(),
        "from_agent_id": from.0,
        "from_group_id": from.1,
        "conversation": event_conversation(st, c, shape),
        "interaction_id": c.interaction_id,
    });
    envelope(actor, ACTION_ASSIGNMENT, time, "assignment", o)
}

/// `{actor{actor_type, actor_id}, action, action_time, data{<key>: …}}`.
fn envelope(actor: &Actor, action: &str, time: &str, key: &str, inner: Value) -> Value {
    let mut a = Map::new();
    a.insert("actor_type".into(), json!(actor.kind));
    if let Some(id) = &actor.id {
        a.insert("actor_id".into(), json!(id));
    }
    let mut data = Map::new();
    data.insert(key.to_owned(), inner);
    json!({"actor": a, "action": action, "action_time": time, "data": data})
}
