//! The conversation rules, which hold whoever triggers them (the API or a simulated agent): a
//! customer's message into a resolved conversation reopens it (`conversation_reopen` queued before
//! the `message_create`, both with the new `interaction_id`); resolving and reopening add a system
//! message (`message_source:"system"`, `meta_data.isResolved` / `isReopen`); every status change
//! and every message queues its webhook (shaped by `shapes`) under the lock, so a conversation's
//! webhooks are in event order. Operations on unknown ids fail with a 404 [`ApiErr`].

use serde_json::{json, Value};

use super::shapes;
use super::state::{Actor, MsgRec, NewMsg, SimState};
use super::wire::{self, ApiErr};

impl SimState {
    /// Creates a message (reopening a resolved conversation first when the customer writes),
    /// queues its webhook, and answers the message as the API returns it.
    pub(crate) fn add_message(&mut self, conv_id: &str, m: NewMsg) -> Result<Value, ApiErr> {
        let conv_id = self.conv_id(conv_id)?;
        if m.actor.kind == "user" && self.conv(&conv_id)?.status == "resolved" {
            self.reopen(&conv_id, &m.actor, "reopened")?;
        }
        let (ms, now) = self.now();
        let org_actor_id = self.org_actor_id(&m.actor);
        let c = self.conv_mut(&conv_id)?;
        let rec = MsgRec {
            id: uuid::Uuid::new_v4().to_string(),
            created_ms: ms,
            created_time: now.clone(),
            actor_type: m.actor.kind,
            actor_id: m.actor.id,
            org_actor_id,
            private: m.private,
            bots_private_note: m.bots_private_note,
            message_parts: m.message_parts,
            webhook_parts: m.webhook_parts,
            reply_parts: m.reply_parts,
            interaction_id: c.interaction_id.clone(),
            source: m.source,
            meta: m.meta,
        };
        c.updated_time = now;
        c.messages.push(rec);
        let c = self.conv(&conv_id)?;
        let ch = self.channel(&c.channel_id);
        let Some(rec) = c.messages.last() else {
            return Err(ApiErr::invalid("message vanished"));
        };
        let answer = shapes::message(self, c, ch, rec);
        if m.emit {
            let body = shapes::message_create(self, c, ch, rec, self.knobs.shape);
            let key = rec.id.clone();
            self.outbox
                .queue(&conv_id, wire::ACTION_MESSAGE_CREATE, key, &body);
        }
        Ok(answer)
    }

    fn org_actor_id(&self, actor: &Actor) -> Option<String> {
        let id = actor.id.as_deref()?;
        match actor.kind {
            "user" => self.users.get(id).map(|u| u.org_contact_id.clone()),
            "agent" => self.agent(id).map(|a| a.org_id.clone()),
            _ => None,
        }
    }

    /// A system notice in the conversation (listed, never sent as a webhook).
    fn system_message(&mut self, conv_id: &str, actor: &Actor, text: &str, meta: Value) {
        let mut m = NewMsg::new(
            actor.clone(),
            vec![json!({"text": {"content": text}})],
            "system",
        );
        m.meta = Some(meta);
        m.emit = false;
        let _ = self.add_message(conv_id, m);
    }

    fn actor_name(&self, actor: &Actor) -> String {
        match (actor.kind, actor.id.as_deref()) {
            ("agent", Some(id)) => self
                .agent(id)
                .map_or_else(|| "agent".to_owned(), |a| a.first_name.clone()),
            ("user", Some(id)) => self
                .users
                .get(id)
                .and_then(|u| u.fields.get("first_name"))
                .and_then(Value::as_str)
                .unwrap_or("user")
                .to_owned(),
            (kind, _) => kind.to_owned(),
        }
    }

    /// Resolves a conversation: status, system message, `conversation_resolution`.
    pub(crate) fn resolve(&mut self, conv_id: &str, actor: &Actor) -> Result<(), ApiErr> {
        let conv_id = self.conv_id(conv_id)?;
        if self.conv(&conv_id)?.status == "resolved" {
            return Ok(());
        }
        let (_, now) = self.now();
        let c = self.conv_mut(&conv_id)?;
        c.status = "resolved".into();
        c.updated_time = now.clone();
        let name = self.actor_name(actor);
        self.system_message(
            &conv_id,
            actor,
            &format!("Conversation was resolved by {name}."),
            json!({"isResolved": true}),
        );
        let body = shapes::resolution(self, self.conv(&conv_id)?, actor, &now, self.knobs.shape);
        let key = format!("{}:{conv_id}:{now}", wire::ACTION_RESOLUTION);
        self.outbox
            .queue(&conv_id, wire::ACTION_RESOLUTION, key, &body);
        Ok(())
    }

    /// Reopens a resolved conversation with a new `interaction_id`: status (`reopened`, or `new`
    /// when an update asked for it), system message, `conversation_reopen`.
    pub(crate) fn reopen(
        &mut self,
        conv_id: &str,
        actor: &Actor,
        status: &str,
    ) -> Result<(), ApiErr> {
        let conv_id = self.conv_id(conv_id)?;
        if self.conv(&conv_id)?.status != "resolved" {
            return Err(ApiErr::invalid(
                "only a resolved conversation can be reopened",
            ));
        }
        let (ms, now) = self.now();
        let c = self.conv_mut(&conv_id)?;
        c.status = status.to_owned();
        c.updated_time = now.clone();
        c.interaction_id = format!("{}-{ms}", c.internal);
        let body = shapes::reopen(self, self.conv(&conv_id)?, actor, &now, self.knobs.shape);
        let key = format!("{}:{conv_id}:{now}", wire::ACTION_REOPEN);
        self.outbox.queue(&conv_id, wire::ACTION_REOPEN, key, &body);
        let name = self.actor_name(actor);
        self.system_message(
            &conv_id,
            actor,
            &format!("Conversation was reopened by {name}."),
            json!({"isReopen": true}),
        );
        Ok(())
    }

    /// Changes the assigned agent and/or group (`Some("")` unassigns), then queues
    /// `conversation_assignment`. The status follows: `assigned` with an agent, else `new`
    /// (a resolved conversation keeps its status).
    pub(crate) fn assign(
        &mut self,
        conv_id: &str,
        agent: Option<String>,
        group: Option<String>,
        actor: &Actor,
    ) -> Result<(), ApiErr> {
        let conv_id = self.conv_id(conv_id)?;
        let (_, now) = self.now();
        let agent_group = agent
            .as_deref()
            .and_then(|a| self.agent(a.trim()))
            .map(|a| a.group_id.clone());
        let c = self.conv_mut(&conv_id)?;
        let from = (
            c.assigned_agent_id.clone().unwrap_or_default(),
            c.assigned_group_id.clone().unwrap_or_default(),
        );
        if let Some(a) = agent {
            let a = a.trim().to_owned();
            c.assigned_agent_id = (!a.is_empty()).then_some(a);
            if group.is_none() && c.assigned_group_id.is_none() {
                c.assigned_group_id = agent_group;
            }
        }
        if let Some(g) = group {
            let g = g.trim().to_owned();
            c.assigned_group_id = (!g.is_empty()).then_some(g);
        }
        if c.status != "resolved" {
            c.status = if c.assigned_agent_id.is_some() {
                "assigned".into()
            } else {
                "new".into()
            };
        }
        c.updated_time = now.clone();
        let c = self.conv(&conv_id)?;
        let body = shapes::assignment(self, c, actor, (&from.0, &from.1), &now, self.knobs.shape);
        let key = format!("{}:{conv_id}:{now}", wire::ACTION_ASSIGNMENT);
        self.outbox
            .queue(&conv_id, wire::ACTION_ASSIGNMENT, key, &body);
        Ok(())
    }
}
