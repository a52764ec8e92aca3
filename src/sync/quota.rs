//! What a Zalo reply costs, made visible. Every send's answer says which allowance paid for it
//! (free replies within 48 h of the customer's last message, a package) or nothing (billed to the
//! OA's Zalo account). zfsync keeps the latest per customer, counts billed replies, and tells the
//! agents in the conversation, once per window, when the free replies run low and when a reply was
//! billed (the mapping engine decides; the wording is in the rules). A customer's new message opens a
//! new window silently.
//!
//! Failure: this never fails a send; a note or a record that cannot be written is logged.

use zfsync_zalo::{SendQuota, SentMessage};

use super::SyncContext;

impl SyncContext {
    /// After a send to a customer: record the allowance Zalo reported, and tell the agents when it
    /// matters.
    pub(crate) async fn after_send(&self, zalo_user_id: &str, sent: &SentMessage) {
        let window = match self.store.quota_window(zalo_user_id.to_string()).await {
            Ok(w) => w,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the reply allowance");
                return;
            }
        };
        let (note, next) = zfsync_mappings::quota_note(&sent.quota, window, &self.rules);
        if matches!(sent.quota, SendQuota::Billed) {
            metrics::counter!("zfsync_zalo_billed_messages_total").increment(1);
        }
        if let Err(e) = self
            .store
            .record_quota(
                zalo_user_id.to_string(),
                sent.message_id.clone(),
                sent.quota.clone(),
                next,
            )
            .await
        {
            tracing::warn!(error = %e, "cannot record the reply allowance");
            return;
        }
        let Some(note) = note else {
            return;
        };
        match self.store.conversation_of(zalo_user_id.to_string()).await {
            Ok(Some(conv)) => self.post_note(&conv, note).await,
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, "cannot find the conversation for a quota note"),
        }
    }

    /// The customer wrote at `at` (unix ms): a new window of free replies begins.
    pub(crate) async fn customer_wrote(&self, zalo_user_id: &str, at: i64) {
        if let Err(e) = self
            .store
            .quota_new_window(zalo_user_id.to_string(), at)
            .await
        {
            tracing::warn!(error = %e, "cannot open a new reply window");
        }
    }
}
