//! Sync: the sinks. An event taken from its lane is planned by the mapping engine (with what the
//! store knows, see [`knowledge`]) and its steps run in order, every external effect journalled:
//! a step is recorded `sending` before its call and `sent` (with the remote id and the id pairing,
//! in one transaction) after it. A step found `sending` on a later attempt (a crash, a timeout) is
//! reconciled first: zfsync looks for the message in the Freshchat conversation or the Zalo history
//! and only sends again when it is not there, so a message is neither lost nor doubled. When the
//! remote side answered with an error the call certainly did not take effect, and the journal entry
//! is dropped so the retry needs no reconciliation.
//!
//! One file per kind of effect: [`contact`] (Freshchat users), [`tags`] (Zalo tags as a user
//! property, and agents' tagging), [`routing`] (a new conversation's group), [`to_freshchat`]
//! (posting), [`to_zalo`] (sending), [`commands`] (agents' `/zalo` commands that act, the template
//! send), [`csat`] (ratings after resolve), [`given_contact`] (contact details a customer gave), with [`media`] and [`hosted`] as the dependencies of the messages that
//! carry attachments or long text; [`identity`] decides whether a Freshchat user claiming a customer
//! is zfsync's own.
//!
//! [`SyncContext`] is data: the store, both platforms, the rules, the settings, and small owned
//! helpers built once, each holding only what it uses: [`Conversations`] (the current conversation
//! and zfsync's channel), [`AgentNotes`], [`Media`] (copy, upload, host, egress), [`ReplyQuota`]
//! (the 2026 reply window and its notes), [`Hosted`] (inside `Media`) and [`Identities`]. Only
//! handling an event (`handle`, `plan`, `run_step`, `reconcile`) is a method of the context.

pub mod commands;
pub mod contact;
pub mod conversations;
pub mod csat;
pub mod given_contact;
pub mod hosted;
pub mod identity;
pub mod knowledge;
pub mod media;
pub mod notes;
pub mod properties;
pub mod quota;
pub mod routing;
pub mod tags;
pub mod to_freshchat;
pub mod to_zalo;

use std::sync::Arc;

use zfsync_freshchat::FreshchatClient;
use zfsync_mappings::{plan_freshchat, plan_zalo, Plan, Rules, Step};

use crate::error::SyncError;
use crate::store::{InboxRow, Journal, JournalKey, Source, StepKind, StepState, Store};
use crate::telemetry::events::{InternalEvent, ZaloEventOutOfScope};
use crate::tokens::ZaloSession;
use routing::Router;

pub use conversations::{ChannelSettings, Conversations};
pub use hosted::Hosted;
pub use identity::Identities;
pub use media::Media;
pub use notes::AgentNotes;
pub use quota::ReplyQuota;

/// How far back (ms) reconciliation looks before a step's start for its message.
const RECONCILE_SLACK_MS: i64 = 120_000;

/// How handling an event ended (errors are returned separately).
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Every step ran.
    Done,
    /// Nothing to do, for this reason.
    Ignored(String),
    /// Try again shortly (an own send is in flight; this may be its echo).
    Deferred,
}

/// The settings sync needs from the configuration.
#[derive(Debug, Clone)]
pub struct SyncSettings {
    /// The Freshchat App ID sent with new conversations.
    pub freshchat_app_id: Option<String>,
    /// The channel new conversations go to, by id or by name.
    pub channel_id: Option<String>,
    /// The channel by name, when no id is configured.
    pub channel_name: Option<String>,
    /// The public URL hosted files are served under.
    pub public_url: String,
    /// How long hosted files stay downloadable.
    pub hosted_file_ttl_ms: i64,
    /// Where media may be fetched from.
    pub egress: crate::egress::EgressPolicy,
}

/// Everything a sync step needs: the store, both platforms, the rules, the settings, and the
/// helpers built from them once.
#[derive(Debug)]
pub struct SyncContext {
    /// The store.
    pub store: Store,
    /// Token-aware Zalo calls.
    pub zalo: ZaloSession,
    /// The Freshchat client.
    pub freshchat: FreshchatClient,
    /// The mapping rules.
    pub rules: Arc<Rules>,
    /// The customers' conversations and zfsync's channel.
    pub conversations: Conversations,
    /// Notes for the agents and admins.
    pub notes: AgentNotes,
    /// Media both ways, and hosted files.
    pub media: Media,
    /// The customers' reply windows.
    pub quota: ReplyQuota,
    /// Whether a Freshchat user is zfsync's own.
    pub identities: Identities,
}

/// One step of one event being run: the event, the step's place in its plan.
#[derive(Debug, Clone, Copy)]
pub struct Job<'a> {
    /// The event.
    pub row: &'a InboxRow,
    /// Its journal key.
    pub key: JournalKey,
    /// The step's kind, as journalled.
    pub kind: StepKind,
}

impl Job<'_> {
    /// The step's journal.
    pub fn journal(self, store: &Store) -> Journal<'_> {
        store.journal(self.key, self.kind)
    }
}

/// A kind of step the daemon carries out (implemented for each step struct of the plan).
pub(crate) trait Run {
    /// What the step yields to later code (usually nothing).
    type Output;
    /// Carries the step out, journalled where it has an external effect.
    async fn run(&self, cx: &SyncContext, job: Job<'_>) -> Result<Self::Output, SyncError>;
}

/// A step whose effect can be looked for after an interruption.
pub(crate) trait Reconcile {
    /// Looks for the step's effect made at or after `since` (unix ms); true when found, and then
    /// journalled as sent.
    async fn reconcile(
        &self,
        cx: &SyncContext,
        job: Job<'_>,
        since: i64,
    ) -> Result<bool, SyncError>;
}

impl SyncContext {
    /// A context over the store, both platforms, the rules and the settings.
    pub fn new(
        store: Store,
        zalo: ZaloSession,
        freshchat: FreshchatClient,
        rules: Arc<Rules>,
        settings: SyncSettings,
    ) -> SyncContext {
        let conversations = Conversations::new(
            store.clone(),
            freshchat.clone(),
            ChannelSettings {
                channel_id: settings.channel_id.clone(),
                channel_name: settings.channel_name.clone(),
                app_id: settings.freshchat_app_id.clone(),
            },
            Router::new(freshchat.clone(), rules.clone()),
        );
        let notes = AgentNotes::new(freshchat.clone(), store.clone(), rules.clone());
        let hosted = Hosted::new(
            store.clone(),
            settings.public_url.clone(),
            settings.hosted_file_ttl_ms,
        );
        let media = Media::new(
            zalo.clone(),
            freshchat.clone(),
            settings.egress.clone(),
            hosted,
            store.clone(),
        );
        let quota = ReplyQuota::new(store.clone(), rules.clone(), notes.clone());
        let identities = Identities::new(
            freshchat.clone(),
            conversations.clone(),
            rules.contact.provider.clone(),
        );
        SyncContext {
            store,
            zalo,
            freshchat,
            rules,
            conversations,
            notes,
            media,
            quota,
            identities,
        }
    }

    /// The OA zfsync serves: the configured one, else the connected one.
    pub fn oa_id(&self) -> String {
        self.zalo.oa_id().unwrap_or_default()
    }

    /// Handles one stored event: plan it, then run its steps.
    pub async fn handle(&self, row: &InboxRow) -> Result<Outcome, SyncError> {
        let plan = self.plan(row).await?;
        if plan.defer {
            return Ok(Outcome::Deferred);
        }
        if plan.steps.is_empty() {
            return Ok(Outcome::Ignored(
                plan.ignored.unwrap_or_else(|| "nothing to do".into()),
            ));
        }
        for (idx, step) in plan.steps.iter().enumerate() {
            let job = Job {
                row,
                key: JournalKey {
                    inbox_id: row.id,
                    idx: idx as i64,
                },
                kind: step.kind(),
            };
            self.run_step(job, step).await?;
        }
        Ok(Outcome::Done)
    }

    /// The plan for an event, with what the store (or, for a lost store, Freshchat) knows.
    pub async fn plan(&self, row: &InboxRow) -> Result<Plan, SyncError> {
        match row.source {
            Source::Zalo => {
                let ev = zfsync_zalo::parse_event(&row.body)
                    .map_err(|e| SyncError::BadEvent(e.to_string()))?;
                // The customer's reply window follows every interaction, whatever the plan does.
                self.quota.saw_interaction(&ev).await;
                if let zfsync_zalo::ZaloEvent::OutOfScope {
                    kind, event_name, ..
                } = &ev
                {
                    out_of_scope_seen(*kind, event_name);
                }
                let mut k = knowledge::zalo_knowledge(self, &ev).await?;
                k.backfilled_at = knowledge::original_time(row.provenance, ev.time_ms());
                Ok(plan_zalo(&ev, &k, &self.rules))
            }
            Source::Freshchat => {
                let ev = zfsync_freshchat::parse_event(&row.body)
                    .map_err(|e| SyncError::BadEvent(e.to_string()))?;
                let mut k = knowledge::freshchat_knowledge(self, &ev).await?;
                let plan = plan_freshchat(&ev, &k, &self.rules);
                if !plan.reread_message {
                    return Ok(plan);
                }
                // An attachment came without any URL: Freshchat's copy of the message has it.
                k.message_reread = true;
                let again = self.reread_message(&ev).await?;
                Ok(plan_freshchat(
                    again.as_ref().unwrap_or(&ev),
                    &k,
                    &self.rules,
                ))
            }
        }
    }

    /// Runs one step: skipped when the journal says it was sent, reconciled first when it says
    /// `sending`, otherwise carried out by the step's own code.
    async fn run_step(&self, job: Job<'_>, step: &Step) -> Result<(), SyncError> {
        if step.is_external() {
            if let Some(j) = self.store.step(job.key).await? {
                if j.state == StepState::Sent {
                    return Ok(());
                }
                // `sending`: the outcome of an earlier call is unknown. Look before sending again.
                if self.reconcile(job, step, j.started_at).await? {
                    return Ok(());
                }
            }
        }
        match step {
            Step::EnsureContact(s) => s.run(self, job).await.map(|_| ()),
            Step::PostToFreshchat(s) => s.run(self, job).await,
            Step::SendToZalo(s) => s.run(self, job).await,
            Step::RecordFollow(s) => s.run(self, job).await,
            Step::RecordReceipt(s) => s.run(self, job).await,
            Step::RefreshContact(s) => s.run(self, job).await,
            Step::ForgetUser(s) => s.run(self, job).await,
            Step::SyncZaloTags(s) => s.run(self, job).await,
            Step::SendTemplate(s) => s.run(self, job).await,
            Step::TagCustomer(s) => s.run(self, job).await,
            Step::AskedRating(s) => s.run(self, job).await,
            Step::RecordRating(s) => s.run(self, job).await,
            Step::AskContactInfo(s) => s.run(self, job).await,
            Step::SaveContactInfo(s) => s.run(self, job).await,
        }
    }

    /// Looks for the effect of a step left `sending`. True when it is found (and journalled).
    async fn reconcile(
        &self,
        job: Job<'_>,
        step: &Step,
        started_at: i64,
    ) -> Result<bool, SyncError> {
        let since = started_at - RECONCILE_SLACK_MS;
        match step {
            // Searching by reference_id before creating is this step's reconciliation; the others
            // are idempotent and simply run again.
            Step::EnsureContact(_)
            | Step::RecordFollow(_)
            | Step::RecordReceipt(_)
            | Step::RefreshContact(_)
            | Step::ForgetUser(_)
            | Step::SyncZaloTags(_)
            | Step::TagCustomer(_)
            | Step::AskedRating(_)
            | Step::RecordRating(_)
            | Step::SaveContactInfo(_) => Ok(false),
            // The request's echo would be paired had it been sent; sending it again is harmless
            // (the customer sees the form twice at worst).
            Step::AskContactInfo(_) => Ok(false),
            Step::PostToFreshchat(s) => s.reconcile(self, job, since).await,
            Step::SendToZalo(s) => s.reconcile(self, job, since).await,
            Step::SendTemplate(s) => s.reconcile(self, job, since).await,
        }
    }

    /// After a permanent failure of a Freshchat → Zalo event: tell the agents why, in the
    /// conversation (see [`to_zalo::explain_failure`]).
    pub async fn explain_failure(&self, row: &InboxRow, err: &SyncError) {
        to_zalo::explain_failure(self, row, err).await
    }

    /// The message of a `message_create` as Freshchat's API has it now (the webhook may lack an
    /// attachment's URL); None when it is not found in the conversation's recent messages.
    async fn reread_message(
        &self,
        ev: &zfsync_freshchat::WebhookEvent,
    ) -> Result<Option<zfsync_freshchat::WebhookEvent>, SyncError> {
        let zfsync_freshchat::WebhookEvent::MessageCreate { message, .. } = ev else {
            return Ok(None);
        };
        let Some(conv) = message.conversation_id.as_deref() else {
            return Ok(None);
        };
        let page = self.freshchat.list_messages(conv, None, 50).await?;
        Ok(page
            .messages
            .iter()
            .find(|m| m.id == message.id)
            .map(zfsync_freshchat::message_create_event))
    }
}

/// Counts a group or call event (`zfsync_zalo_events_ignored_total{kind}`) and logs it: the first
/// of each kind at INFO (so an operator learns that the OA has groups or calls), the rest at DEBUG.
fn out_of_scope_seen(kind: zfsync_zalo::OutOfScope, event_name: &str) {
    use std::sync::atomic::{AtomicBool, Ordering};
    static GROUP_LOGGED: AtomicBool = AtomicBool::new(false);
    static CALL_LOGGED: AtomicBool = AtomicBool::new(false);
    let logged = match kind {
        zfsync_zalo::OutOfScope::Group => &GROUP_LOGGED,
        zfsync_zalo::OutOfScope::Call => &CALL_LOGGED,
    };
    ZaloEventOutOfScope {
        kind: kind.label(),
        event: event_name,
        first_of_kind: !logged.swap(true, Ordering::Relaxed),
    }
    .emit();
}

/// The first 200 characters of a text (kept for quotes and reactions).
pub(crate) fn preview_text(t: &str) -> String {
    t.chars().take(200).collect()
}

/// A time in ISO-8601 UTC with milliseconds.
pub(crate) fn iso_ms(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_default()
}

/// Parses an ISO-8601 time to unix ms.
pub fn parse_iso_ms(s: &str) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.timestamp_millis())
}
