//! Private notes for the agents and admins in Freshchat: a note explaining what happened to a
//! message, the admins' one note per Freshchat account when it refused zfsync's custom user
//! properties, one note per property when it refused one the features write (`zalo_tags`,
//! `zalo_last_rating`, `zalo_address`; see [`super::properties`]), and the note about a refused
//! identity claim (see [`super::identity`]).
//!
//! Failure: a note explains something that already happened, so a failed note is logged, never
//! returned; the admins' notes stay due and are tried again with the next post.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use tokio::sync::{Mutex, OnceCell};
use zfsync_freshchat::{FreshchatClient, MessagePart};
use zfsync_mappings::Rules;

use super::contact::{properties_note, META_PROPERTIES_REFUSED};
use super::to_freshchat::bot_note;
use crate::error::SyncError;
use crate::store::Store;

/// `meta`: `posted` once the admins were told about the refusal (one note per Freshchat account).
const META_PROPERTIES_NOTE: &str = "freshchat_properties_note";
const NOTE_POSTED: &str = "posted";
/// `meta`: the features' user properties Freshchat refused, as a JSON object of name → what it
/// said; a name leaves once Freshchat takes it.
pub const META_FEATURE_PROPERTIES_REFUSED: &str = "freshchat_feature_properties_refused";
/// `meta`: the refused feature properties the admins were told about (a JSON list of names).
const META_FEATURE_PROPERTIES_TOLD: &str = "freshchat_feature_properties_told";

/// Posts notes for the agents; remembers whether the admins' property note is due.
#[derive(Debug, Clone)]
pub struct AgentNotes {
    freshchat: FreshchatClient,
    store: Store,
    rules: Arc<Rules>,
    properties: Arc<PropertiesNote>,
    features: Arc<Mutex<Option<FeatureRefusals>>>,
}

impl AgentNotes {
    /// Notes through `freshchat`, remembered in `store`, worded by `rules`.
    pub fn new(freshchat: FreshchatClient, store: Store, rules: Arc<Rules>) -> AgentNotes {
        AgentNotes {
            freshchat,
            store,
            rules,
            properties: Arc::default(),
            features: Arc::default(),
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

    /// Freshchat refused a feature's user property `name`: remember it (for `zfsync check` and
    /// the admins' note). True the first time (until Freshchat takes it again).
    pub(crate) async fn feature_property_refused(
        &self,
        name: &str,
        why: &str,
    ) -> Result<bool, SyncError> {
        let mut guard = self.features.lock().await;
        let f = self.feature_refusals(&mut guard).await?;
        let first = !f.refused.contains_key(name);
        if f.refused.get(name).map(String::as_str) != Some(why) {
            f.refused.insert(name.to_string(), why.to_string());
            self.store
                .set_meta(META_FEATURE_PROPERTIES_REFUSED, to_json(&f.refused))
                .await?;
        }
        Ok(first)
    }

    /// Freshchat took a feature's user property `name`: forget an earlier refusal (a later one is
    /// told again). Only a remembered refusal costs a store write.
    pub(crate) async fn feature_property_accepted(&self, name: &str) -> Result<(), SyncError> {
        let mut guard = self.features.lock().await;
        let f = self.feature_refusals(&mut guard).await?;
        if f.refused.remove(name).is_some() {
            tracing::info!(property = %name, "Freshchat accepts the user property again");
            f.told.remove(name);
            self.store
                .set_meta(META_FEATURE_PROPERTIES_REFUSED, to_json(&f.refused))
                .await?;
            self.store
                .set_meta(META_FEATURE_PROPERTIES_TOLD, to_json(&f.told))
                .await?;
        }
        Ok(())
    }

    /// The remembered feature refusals, read from the store the first time.
    async fn feature_refusals<'a>(
        &self,
        slot: &'a mut Option<FeatureRefusals>,
    ) -> Result<&'a mut FeatureRefusals, SyncError> {
        if slot.is_none() {
            *slot = Some(read_feature_refusals(&self.store).await?);
        }
        // Filled just above.
        Ok(slot.get_or_insert_with(FeatureRefusals::default))
    }

    /// Tells the admins, in `conversation_id`, about each refused feature property they were not
    /// told about yet. A failed note stays due.
    async fn post_feature_notes_if_due(&self, conversation_id: &str) {
        let mut guard = self.features.lock().await;
        let f = match self.feature_refusals(&mut guard).await {
            Ok(f) => f,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the remembered property refusals");
                return;
            }
        };
        let due: Vec<(String, String)> = f
            .refused
            .iter()
            .filter(|(name, _)| !f.told.contains(*name))
            .map(|(n, w)| (n.clone(), w.clone()))
            .collect();
        for (name, why) in due {
            let setting = self
                .rules
                .feature_properties()
                .into_iter()
                .find(|(_, n)| *n == name)
                .map(|(s, _)| s)
                .unwrap_or("user property");
            let note = zfsync_mappings::template::fill(
                &self.rules.properties_texts().refused_note,
                &[
                    ("property", name.as_str()),
                    ("feature", setting),
                    ("reason", why.as_str()),
                ],
            );
            let posted = self
                .freshchat
                .post_message(
                    conversation_id,
                    &bot_note(vec![MessagePart::Text { content: note }]),
                )
                .await;
            if let Err(e) = posted {
                tracing::warn!(error = %e, property = %name, "could not tell the admins that Freshchat refused a user property; trying again with the next message");
                return;
            }
            f.told.insert(name);
            if let Err(e) = self
                .store
                .set_meta(META_FEATURE_PROPERTIES_TOLD, to_json(&f.told))
                .await
            {
                tracing::warn!(error = %e, "cannot remember that the admins were told about a refused property");
            }
        }
    }

    /// After a post into `conversation_id`: when Freshchat refused zfsync's custom user
    /// properties and the admins were not told yet, tells them there, once per Freshchat account;
    /// likewise once per refused feature property. A failed note stays due and is tried with the
    /// next post; it is logged, not returned.
    pub(crate) async fn post_properties_note_if_due(&self, conversation_id: &str) {
        self.post_feature_notes_if_due(conversation_id).await;
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

/// The features' user properties Freshchat refused (name → what it said), and those the admins
/// were told about.
#[derive(Debug, Default)]
struct FeatureRefusals {
    refused: BTreeMap<String, String>,
    told: BTreeSet<String>,
}

/// The features' user properties Freshchat refused (name → what it said), as the daemon
/// remembered them; a value that does not read as JSON reads as none.
pub async fn refused_feature_properties(
    store: &Store,
) -> Result<BTreeMap<String, String>, crate::store::StoreError> {
    Ok(store
        .meta(META_FEATURE_PROPERTIES_REFUSED)
        .await?
        .and_then(|j| serde_json::from_str(&j).ok())
        .unwrap_or_default())
}

/// Reads the remembered feature refusals.
async fn read_feature_refusals(store: &Store) -> Result<FeatureRefusals, SyncError> {
    let refused = refused_feature_properties(store).await?;
    let told = store
        .meta(META_FEATURE_PROPERTIES_TOLD)
        .await?
        .and_then(|j| serde_json::from_str(&j).ok())
        .unwrap_or_default();
    Ok(FeatureRefusals { refused, told })
}

fn to_json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "null".into())
}
