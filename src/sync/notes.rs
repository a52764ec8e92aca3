//! Private notes for the agents and admins in Freshchat: a note explaining what happened to a
//! message, the admins' one note per Freshchat account when it refused zfsync's custom user
//! properties, and the note about a refused identity claim (see [`super::identity`]).
//!
//! Failure: a note explains something that already happened, so a failed note is logged, never
//! returned; the admins' notes stay due and are tried again with the next post.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use tokio::sync::OnceCell;
use zfsync_freshchat::{FreshchatClient, MessagePart};
use zfsync_mappings::Rules;

use super::contact::{properties_note, META_PROPERTIES_REFUSED};
use super::to_freshchat::bot_note;
use crate::error::SyncError;
use crate::store::Store;

/// `meta`: `posted` once the admins were told about the refusal (one note per Freshchat account).
const META_PROPERTIES_NOTE: &str = "freshchat_properties_note";
const NOTE_POSTED: &str = "posted";

/// Posts notes for the agents; remembers whether the admins' property note is due.
#[derive(Debug, Clone)]
pub struct AgentNotes {
    freshchat: FreshchatClient,
    store: Store,
    rules: Arc<Rules>,
    properties: Arc<PropertiesNote>,
}

impl AgentNotes {
    /// Notes through `freshchat`, remembered in `store`, worded by `rules`.
    pub fn new(freshchat: FreshchatClient, store: Store, rules: Arc<Rules>) -> AgentNotes {
        AgentNotes {
            freshchat,
            store,
            rules,
            properties: Arc::default(),
        }
    }

    /// Posts a private note for the agents in a conversation; a failure is logged, not returned
    /// (the note explains something that already happened). No URL in it keeps its query string
    /// (an error's download link may be a signed one).
    pub(crate) async fn post(&self, conversation_id: &str, note: String) {
        let note = zfsync_mappings::redact::urls_in(&note);
        if let Err(e) = self
            .freshchat
            .post_message(
                conversation_id,
                &bot_note(vec![MessagePart::Text { content: note }]),
            )
            .await
        {
            tracing::warn!(error = %e, "could not post a note for the agents in Freshchat");
        }
    }

    /// Freshchat refused zfsync's custom user properties: remember it (for `zfsync check`), and
    /// make the admins' note due unless they were told already.
    pub(crate) async fn properties_refused(&self, why: &str) -> Result<(), SyncError> {
        let first = self
            .store
            .meta(META_PROPERTIES_REFUSED)
            .await?
            .is_none_or(|m| m.is_empty());
        if first {
            tracing::warn!(reason = %why, "Freshchat refused zfsync's custom user properties; customers are created without them (see 'zfsync check')");
        }
        self.store
            .set_meta(META_PROPERTIES_REFUSED, why.to_string())
            .await?;
        let told = self.store.meta(META_PROPERTIES_NOTE).await?.as_deref() == Some(NOTE_POSTED);
        self.load_properties_note().await;
        if !told {
            self.properties.due.store(true, Ordering::SeqCst);
        }
        Ok(())
    }

    /// Freshchat accepted zfsync's custom user properties: forget an earlier refusal.
    pub(crate) async fn properties_accepted(&self) -> Result<(), SyncError> {
        let refused = self
            .store
            .meta(META_PROPERTIES_REFUSED)
            .await?
            .is_some_and(|m| !m.is_empty());
        if refused {
            tracing::info!("Freshchat accepts zfsync's custom user properties again");
            self.store
                .set_meta(META_PROPERTIES_REFUSED, String::new())
                .await?;
            self.store
                .set_meta(META_PROPERTIES_NOTE, String::new())
                .await?;
            self.properties.due.store(false, Ordering::SeqCst);
        }
        Ok(())
    }

    /// Reads once from the store whether the admins' note is due (after a restart).
    async fn load_properties_note(&self) {
        self.properties
            .loaded
            .get_or_init(|| async {
                let refused = self.store.meta(META_PROPERTIES_REFUSED).await;
                let note = self.store.meta(META_PROPERTIES_NOTE).await;
                let due = matches!(&refused, Ok(Some(r)) if !r.is_empty())
                    && matches!(&note, Ok(n) if n.as_deref() != Some(NOTE_POSTED));
                self.properties.due.store(due, Ordering::SeqCst);
            })
            .await;
    }

    /// After a post into `conversation_id`: when Freshchat refused zfsync's custom user
    /// properties and the admins were not told yet, tells them there, once per Freshchat account.
    /// A failed note stays due and is tried with the next post; it is logged, not returned.
    pub(crate) async fn post_properties_note_if_due(&self, conversation_id: &str) {
        self.load_properties_note().await;
        if !self.properties.due.swap(false, Ordering::SeqCst) {
            return;
        }
        let why = match self.store.meta(META_PROPERTIES_REFUSED).await {
            Ok(Some(why)) if !why.is_empty() => why,
            Ok(_) => return,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the remembered property refusal");
                self.properties.due.store(true, Ordering::SeqCst);
                return;
            }
        };
        let note = bot_note(vec![zfsync_freshchat::MessagePart::Text {
            content: properties_note(&why),
        }]);
        let posted = match self.freshchat.post_message(conversation_id, &note).await {
            Ok(_) => self
                .store
                .set_meta(META_PROPERTIES_NOTE, NOTE_POSTED.into())
                .await
                .map_err(SyncError::from),
            Err(e) => Err(e.into()),
        };
        if let Err(e) = posted {
            tracing::warn!(error = %e, "could not tell the admins that Freshchat refused the user properties; trying again with the next message");
            self.properties.due.store(true, Ordering::SeqCst);
        }
    }

    /// After a post into `conversation_id`: when zfsync refused an existing user claiming this
    /// customer and created a new one, tells the admins there (once). A failed note stays due and
    /// is tried with the next post; it is logged, not returned.
    pub(crate) async fn post_clash_note_if_due(
        &self,
        oa_id: &str,
        zalo_user_id: &str,
        conversation_id: &str,
    ) {
        let refused = match self.store.identity_clash(zalo_user_id.to_string()).await {
            Ok(Some(r)) => r,
            Ok(None) => return,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read a pending identity clash");
                return;
            }
        };
        let reference = zfsync_mappings::template::fill(
            &self.rules.contact.reference_id,
            &[("oa_id", oa_id), ("zalo_user_id", zalo_user_id)],
        );
        let note = zfsync_mappings::template::fill(
            &self.rules.identity_texts().clash_note,
            &[
                ("users", &refused.replace(',', ", ")),
                ("reference_id", &reference),
            ],
        );
        let posted = self
            .freshchat
            .post_message(
                conversation_id,
                &bot_note(vec![MessagePart::Text { content: note }]),
            )
            .await;
        let told = match posted {
            Ok(_) => self
                .store
                .identity_clash_told(zalo_user_id.to_string())
                .await
                .map_err(SyncError::from),
            Err(e) => Err(e.into()),
        };
        if let Err(e) = told {
            tracing::warn!(error = %e, "could not tell the admins about a refused identity claim; trying again with the next message");
        }
    }
}

/// Whether the admins' note about refused properties is due: read from the store once, then kept
/// in memory (one daemon writes the store, so the in-memory flag is the claim on the note).
#[derive(Debug, Default)]
pub struct PropertiesNote {
    loaded: OnceCell<()>,
    due: AtomicBool,
}
