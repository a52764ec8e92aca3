//! Running agents' `/zalo` commands (parsed and planned in `zfsync_mappings::commands`): most
//! answer with a private note, planned as an ordinary [`zfsync_mappings::PostToFreshchat`]; the
//! template command is the [`SendTemplate`] step here.
//!
//! A template send is journalled like every Zalo send: `sending` before the call, `sent` with
//! Zalo's message id and the id pairing after it, so a redelivered command webhook (the inbox
//! drops it) or a retry after a crash never sends twice; a step found `sending` is reconciled
//! from the conversation's history first. The pairing also marks Zalo's `oa_send_template` echo
//! as zfsync's own, so it is not shown to agents again as a staff message.
//!
//! Failure: a parameter without a value and Zalo's permanent refusals are answered in the
//! conversation (the command is then done); transient failures return the error, so the event
//! is retried. The answer note itself is logged when it cannot be posted, never returned.

use std::collections::BTreeMap;

use zfsync_freshchat::User;
use zfsync_mappings::template::fill;
use zfsync_mappings::{SendTemplate, TemplateValue};
use zfsync_zalo::ZaloError;

use super::{Job, Reconcile, Run, SyncContext};
use crate::error::SyncError;
use crate::store::{Direction, MessagePair, Record};

/// A user property's value: the user's own `first_name`/`last_name`, else the property of that
/// name; `None` when empty or absent.
fn property(user: &User, name: &str) -> Option<String> {
    let v = match name {
        "first_name" => user.first_name.clone(),
        "last_name" => user.last_name.clone(),
        _ => user
            .properties
            .iter()
            .find(|p| p.name == name)
            .map(|p| p.value.clone()),
    };
    v.filter(|v| !v.trim().is_empty())
}

/// The parameters' values, reading the customer's Freshchat user when a parameter needs it;
/// `Err` with the parameters that have no value.
async fn resolve(
    step: &SendTemplate,
    cx: &SyncContext,
) -> Result<Result<BTreeMap<String, String>, Vec<String>>, SyncError> {
    let needs_user = step
        .values
        .values()
        .any(|v| matches!(v, TemplateValue::UserProperty(_)));
    let user = match needs_user {
        false => None,
        true => match cx.store.contact(step.zalo_user_id.clone()).await? {
            Some(c) => Some(cx.freshchat.get_user(&c.freshchat_user_id).await?),
            None => None,
        },
    };
    let mut data = BTreeMap::new();
    let mut missing = Vec::new();
    for (key, value) in &step.values {
        let v = match value {
            TemplateValue::Text(t) => Some(t.clone()),
            TemplateValue::UserProperty(p) => user.as_ref().and_then(|u| property(u, p)),
        };
        match v {
            Some(v) => {
                data.insert(key.clone(), v);
            }
            None => missing.push(key.clone()),
        }
    }
    Ok(if missing.is_empty() {
        Ok(data)
    } else {
        Err(missing)
    })
}

impl Run for SendTemplate {
    type Output = ();

    async fn run(&self, cx: &SyncContext, job: Job<'_>) -> Result<(), SyncError> {
        let data = match resolve(self, cx).await? {
            Ok(data) => data,
            Err(missing) => {
                // Only a user property can be empty here (arguments were checked when the
                // command was planned): name the properties, which agents can fill in.
                let properties: Vec<&str> = missing
                    .iter()
                    .filter_map(|k| match self.values.get(k) {
                        Some(TemplateValue::UserProperty(p)) => Some(p.as_str()),
                        _ => None,
                    })
                    .collect();
                let note = fill(
                    &self.missing_note,
                    &[
                        ("params", &missing.join(", ")),
                        ("properties", &properties.join(", ")),
                    ],
                );
                cx.notes.post(&self.conversation_id, note).await;
                return Ok(());
            }
        };
        let vars: Vec<(&str, &str)> = data.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let text = fill(&self.text, &vars);
        let client = cx.zalo.client();
        let explain = |e: &SyncError| refused_template(self, e);
        let sent = send_explained(
            cx,
            job,
            CommandSend {
                zalo_user_id: &self.zalo_user_id,
                conversation_id: &self.conversation_id,
                freshchat_message_id: &self.freshchat_message_id,
                preview: &text,
                failed_note: &self.failed_note,
                what: "a template message",
            },
            &explain,
            |t| {
                let data = &data;
                async move {
                    client
                        .send_template(&t, &self.zalo_user_id, &self.template_id, data)
                        .await
                }
            },
        )
        .await?;
        let Some(sent) = sent else {
            return Ok(());
        };
        tracing::info!(zalo_msg_id = %sent.message_id, template = %self.name, "template message sent to Zalo");
        let note = fill(&self.sent_note, &[("text", &text)]);
        cx.notes.post(&self.conversation_id, note).await;
        Ok(())
    }
}

/// Zalo's -201 on a template names what it refused (`template_id is invalid!`,
/// `template_data.<key> is invalid!`): both are mistakes in the rules' `[[templates]]`, so the
/// note says which, and that an admin must correct it; `None` for any other refusal.
fn refused_template(step: &SendTemplate, e: &SyncError) -> Option<String> {
    let SyncError::Zalo(ZaloError::Api {
        code: -201,
        message,
    }) = e
    else {
        return None;
    };
    let field = message.trim().strip_suffix("is invalid!")?.trim();
    if field == "template_id" && !step.id_refused_note.is_empty() {
        return Some(step.id_refused_note.clone());
    }
    let param = field.strip_prefix("template_data.")?;
    if step.param_refused_note.is_empty() {
        return None;
    }
    Some(fill(&step.param_refused_note, &[("param", param)]))
}

/// One message an agent's command sends to Zalo, and where its answers go.
pub(crate) struct CommandSend<'a> {
    /// The recipient.
    pub zalo_user_id: &'a str,
    /// Where the command was typed (a refusal is answered there).
    pub conversation_id: &'a str,
    /// The command note, paired with the message sent.
    pub freshchat_message_id: &'a str,
    /// The pairing's preview.
    pub preview: &'a str,
    /// The answer when Zalo refused: a template with `{reason}`.
    pub failed_note: &'a str,
    /// What is sent, for the log.
    pub what: &'a str,
}

/// Sends what an agent's command asks for (a template, the request for contact details),
/// journalled like every Zalo send: `sending` before the call, `sent` with Zalo's message id and
/// its pairing with the command note after it, so a retry or a crash never sends twice. A
/// transient failure is returned (the event is retried); a refusal is answered in the
/// conversation with the rules' note for Zalo's code and gives `None`.
pub(crate) async fn send_for_command<F, Fut>(
    cx: &SyncContext,
    job: Job<'_>,
    m: CommandSend<'_>,
    send: F,
) -> Result<Option<zfsync_zalo::SentMessage>, SyncError>
where
    F: Fn(secrecy::SecretString) -> Fut,
    Fut: std::future::Future<Output = Result<zfsync_zalo::SentMessage, ZaloError>>,
{
    send_explained(cx, job, m, &|_| None, send).await
}

/// [`send_for_command`], with `explain` giving the refusal's `{reason}` when it knows better than
/// the rules' note for Zalo's code.
async fn send_explained<F, Fut>(
    cx: &SyncContext,
    job: Job<'_>,
    m: CommandSend<'_>,
    explain: &(dyn Fn(&SyncError) -> Option<String> + Sync),
    send: F,
) -> Result<Option<zfsync_zalo::SentMessage>, SyncError>
where
    F: Fn(secrecy::SecretString) -> Fut,
    Fut: std::future::Future<Output = Result<zfsync_zalo::SentMessage, ZaloError>>,
{
    let journal = job.journal(&cx.store);
    journal.begin(Some(m.zalo_user_id)).await?;
    let sent = match cx.zalo.tokens().call(send).await {
        Ok(s) => s,
        Err(e) => {
            journal.abandon_unless_unknown(&e).await;
            if e.is_transient() {
                return Err(e);
            }
            tracing::warn!(error = %e, what = m.what, "Zalo refused what an agent's command sent");
            let reason = explain(&e).unwrap_or_else(|| refusal(cx, &e));
            let note = fill(m.failed_note, &[("reason", &reason)]);
            cx.notes.post(m.conversation_id, note).await;
            return Ok(None);
        }
    };
    let pair = MessagePair {
        direction: Direction::ToZalo,
        zalo_user_id: m.zalo_user_id.to_string(),
        zalo_msg_id: Some(sent.message_id.clone()),
        freshchat_message_id: Some(m.freshchat_message_id.to_string()),
        preview: Some(super::preview_text(m.preview)),
        from_customer: false,
    };
    journal
        .sent(Some(sent.message_id.clone()), Record::Message(pair))
        .await?;
    Ok(Some(sent))
}

/// Why Zalo refused a send, as the agents read it (the rules' note for its code).
pub(crate) fn refusal(cx: &SyncContext, e: &SyncError) -> String {
    match e {
        SyncError::Zalo(ZaloError::Api { code, message }) => {
            cx.rules.zalo_error_note(Some(*code), message)
        }
        SyncError::Zalo(other) => cx.rules.zalo_error_note(other.code(), &other.to_string()),
        other => other.to_string(),
    }
}

trait Pair {
    fn pair(&self, zalo_msg_id: &str, text: &str) -> MessagePair;
}

impl Pair for SendTemplate {
    /// The pairing of the template message with the command note that sent it.
    fn pair(&self, zalo_msg_id: &str, text: &str) -> MessagePair {
        MessagePair {
            direction: Direction::ToZalo,
            zalo_user_id: self.zalo_user_id.clone(),
            zalo_msg_id: Some(zalo_msg_id.to_string()),
            freshchat_message_id: Some(self.freshchat_message_id.clone()),
            preview: Some(super::preview_text(text)),
            from_customer: false,
        }
    }
}

impl Reconcile for SendTemplate {
    /// A send left `sending` (a crash, a timeout): the template is in the conversation's history
    /// when an OA message newer than the attempt is there that zfsync has not paired yet.
    async fn reconcile(
        &self,
        cx: &SyncContext,
        job: Job<'_>,
        since: i64,
    ) -> Result<bool, SyncError> {
        let history = cx.zalo.conversation(&self.zalo_user_id, 0, 10).await?;
        for h in history
            .iter()
            .filter(|h| !h.from_user && h.time_ms >= since)
        {
            if cx
                .store
                .known_zalo_message(h.message_id.clone())
                .await?
                .is_some()
            {
                continue;
            }
            tracing::info!(zalo_msg_id = %h.message_id, "reconciled: the template message had reached Zalo before the interruption");
            let text = h.text.clone().unwrap_or_default();
            job.journal(&cx.store)
                .sent(
                    Some(h.message_id.clone()),
                    Record::Message(self.pair(&h.message_id, &text)),
                )
                .await?;
            return Ok(true);
        }
        Ok(false)
    }
}
