//! The id pairings: Zalo user ↔ Freshchat user (contacts), Zalo user ↔ current Freshchat
//! conversation, Zalo message ↔ Freshchat message (both directions, with a short preview for
//! quotes and reactions), and the Freshchat conversations known to belong to no Zalo user.

use super::db::{params, Db, Row};

use super::model::{Contact, Direction, Lane, MessagePair};
use super::{now_ms, Store, StoreError};

fn contact_row(r: &Row<'_>) -> Result<Contact, StoreError> {
    Ok(Contact {
        zalo_user_id: r.get(0)?,
        freshchat_user_id: r.get(1)?,
        display_name: r.get(2)?,
        avatar: r.get(3)?,
        profile_complete: r.get::<i64>(4)? != 0,
        following: r.get::<Option<i64>>(5)?.map(|v| v != 0),
        first_seen_at: r.get(6)?,
        profile_checked_at: r.get(7)?,
    })
}

impl Store {
    /// A Zalo user's contact.
    pub async fn contact(&self, zalo_user_id: String) -> Result<Option<Contact>, StoreError> {
        let p = self.p();
        self.lookup(move |c| {
            c.query_opt(
                "SELECT zalo_user_id, freshchat_user_id, display_name, avatar, profile_complete, following, first_seen_at,
                        profile_checked_at
                 FROM contacts WHERE zalo_user_id = ?1 AND pairing = ?2",
                params![zalo_user_id, p],
                contact_row,
            )
        })
        .await
    }

    /// How many Zalo users are paired.
    pub async fn contact_count(&self) -> Result<i64, StoreError> {
        let p = self.p();
        self.read(move |c| {
            c.query_row(
                "SELECT COUNT(*) FROM contacts WHERE pairing = ?1",
                params![p],
                |r| r.get(0),
            )
        })
        .await
    }

    /// A Zalo user's current Freshchat conversation.
    pub async fn conversation_of(
        &self,
        zalo_user_id: String,
    ) -> Result<Option<String>, StoreError> {
        let p = self.p();
        self.lookup(move |c| {
            c.query_opt(
                "SELECT freshchat_conversation_id FROM conversations WHERE zalo_user_id = ?1 AND pairing = ?2",
                params![zalo_user_id, p],
                |r| r.get(0),
            )
        })
        .await
    }

    /// The Zalo user of a Freshchat conversation.
    pub async fn zalo_user_of_conversation(
        &self,
        conversation_id: String,
    ) -> Result<Option<String>, StoreError> {
        let p = self.p();
        self.lookup(move |c| {
            c.query_opt(
                "SELECT zalo_user_id FROM conversations WHERE freshchat_conversation_id = ?1 AND pairing = ?2",
                params![conversation_id, p],
                |r| r.get(0),
            )
        })
        .await
    }

    /// Points a Zalo user at a Freshchat conversation.
    pub async fn set_conversation(
        &self,
        zalo_user_id: String,
        conversation_id: String,
        internal_id: Option<String>,
    ) -> Result<(), StoreError> {
        let p = self.p();
        self.write(move |c| {
            put_conversation(
                c,
                &p,
                &zalo_user_id,
                &conversation_id,
                internal_id.as_deref(),
            )
        })
        .await
    }

    /// Forgets a Zalo user's conversation (Freshchat no longer has it; the next message opens one).
    pub async fn forget_conversation(&self, zalo_user_id: String) -> Result<(), StoreError> {
        let p = self.p();
        self.write(move |c| {
            c.execute(
                "DELETE FROM conversations WHERE zalo_user_id = ?1 AND pairing = ?2",
                params![zalo_user_id, p],
            )?;
            Ok(())
        })
        .await
    }

    /// Records the follow state; false when the user is not a contact yet.
    pub async fn set_following(
        &self,
        zalo_user_id: String,
        following: bool,
    ) -> Result<bool, StoreError> {
        let p = self.p();
        self.write(move |c| {
            let n = c.execute(
                "UPDATE contacts SET following = ?2, updated_at = ?3 WHERE zalo_user_id = ?1 AND pairing = ?4",
                params![zalo_user_id, following as i64, now_ms(), p],
            )?;
            Ok(n == 1)
        })
        .await
    }

    /// Records a failed attempt to complete a contact's profile (the next waits a while).
    pub async fn profile_check_failed(&self, zalo_user_id: String) -> Result<(), StoreError> {
        let p = self.p();
        self.write(move |c| {
            c.execute(
                "UPDATE contacts SET profile_checked_at = ?2 WHERE zalo_user_id = ?1 AND pairing = ?3",
                params![zalo_user_id, now_ms(), p],
            )?;
            Ok(())
        })
        .await
    }

    /// When a conversation was last found not to belong to a Zalo user.
    pub async fn unlinked_checked_at(
        &self,
        conversation_id: String,
    ) -> Result<Option<i64>, StoreError> {
        let p = self.p();
        self.lookup(move |c| {
            c.query_opt(
                "SELECT checked_at FROM unlinked_conversations WHERE freshchat_conversation_id = ?1 AND pairing = ?2",
                params![conversation_id, p],
                |r| r.get(0),
            )
        })
        .await
    }

    /// Remembers that a conversation belongs to no Zalo user.
    pub async fn mark_unlinked(&self, conversation_id: String) -> Result<(), StoreError> {
        let p = self.p();
        self.write(move |c| {
            c.execute(
                "INSERT INTO unlinked_conversations (freshchat_conversation_id, checked_at, pairing) VALUES (?1, ?2, ?3)
                 ON CONFLICT (pairing, freshchat_conversation_id) DO UPDATE SET checked_at = excluded.checked_at",
                params![conversation_id, now_ms(), p],
            )?;
            Ok(())
        })
        .await
    }

    /// Stores a contact's completed Zalo profile.
    pub async fn update_profile(
        &self,
        zalo_user_id: String,
        display_name: String,
        avatar: Option<String>,
    ) -> Result<(), StoreError> {
        let p = self.p();
        self.write(move |c| {
            c.execute(
                "UPDATE contacts SET display_name = ?2, avatar = ?3, profile_complete = 1, profile_checked_at = NULL,
                   updated_at = ?4 WHERE zalo_user_id = ?1 AND pairing = ?5",
                params![zalo_user_id, display_name, avatar, now_ms(), p],
            )?;
            Ok(())
        })
        .await
    }

    /// The direction of a known Zalo message (sent by zfsync, or already synced).
    pub async fn known_zalo_message(
        &self,
        zalo_msg_id: String,
    ) -> Result<Option<Direction>, StoreError> {
        let p = self.p();
        self.lookup(move |c| {
            c.query_opt(
                "SELECT direction FROM messages WHERE zalo_msg_id = ?1 AND pairing = ?2",
                params![zalo_msg_id, p],
                |r| r.get(0),
            )
        })
        .await
    }

    /// The preview kept for a Zalo message (for quotes and reactions).
    pub async fn zalo_message_preview(
        &self,
        zalo_msg_id: String,
    ) -> Result<Option<String>, StoreError> {
        let p = self.p();
        self.lookup(move |c| {
            Ok(c.query_opt(
                "SELECT preview FROM messages WHERE zalo_msg_id = ?1 AND pairing = ?2",
                params![zalo_msg_id, p],
                |r| r.get(0),
            )?
            .flatten())
        })
        .await
    }

    /// Whether zfsync itself posted this Freshchat message.
    pub async fn own_freshchat_message(&self, message_id: String) -> Result<bool, StoreError> {
        let p = self.p();
        self.lookup(move |c| {
            c.query_row(
                "SELECT EXISTS (SELECT 1 FROM messages WHERE pairing = ?3 AND direction = ?1 AND freshchat_message_id = ?2)",
                params![Direction::ToFreshchat, message_id, p],
                |r| r.get(0),
            )
        })
        .await
    }

    /// Deletes everything zfsync holds about a Zalo user (consent withdrawn): the contact, the
    /// conversation pairing, message pairings and previews, hosted files, and the events of the
    /// user's lanes (their bodies hold what the user wrote), except `keep_event` (the one being
    /// handled). Returns how many rows went.
    pub async fn forget_user(
        &self,
        zalo_user_id: String,
        keep_event: i64,
    ) -> Result<usize, StoreError> {
        let p = self.p();
        self.write(move |c| {
            let conversation: Option<String> = c.query_opt(
                "SELECT freshchat_conversation_id FROM conversations WHERE zalo_user_id = ?1 AND pairing = ?2",
                params![&zalo_user_id, &p],
                |r| r.get(0),
            )?;
            let mut lanes = vec![Lane::zalo(Some(&zalo_user_id))];
            if let Some(conv) = &conversation {
                lanes.push(Lane::freshchat(Some(conv)));
            }
            let mut n = 0;
            for lane in &lanes {
                n += c.execute(
                    "DELETE FROM steps WHERE inbox_id IN (SELECT id FROM inbox WHERE pairing = ?3 AND lane = ?1 AND id <> ?2)",
                    params![lane, keep_event, p],
                )?;
                n += c.execute(
                    "DELETE FROM inbox WHERE pairing = ?3 AND lane = ?1 AND id <> ?2",
                    params![lane, keep_event, p],
                )?;
            }
            for sql in [
                "DELETE FROM messages WHERE zalo_user_id = ?1 AND pairing = ?2",
                "DELETE FROM hosted_files WHERE zalo_user_id = ?1 AND pairing = ?2",
                "DELETE FROM quota WHERE zalo_user_id = ?1 AND pairing = ?2",
                "DELETE FROM billed_messages WHERE zalo_user_id = ?1 AND pairing = ?2",
                "DELETE FROM conversations WHERE zalo_user_id = ?1 AND pairing = ?2",
                "DELETE FROM contacts WHERE zalo_user_id = ?1 AND pairing = ?2",
                "DELETE FROM zalo_identities WHERE zalo_user_id = ?1 AND pairing = ?2",
                "DELETE FROM identity_clashes WHERE zalo_user_id = ?1 AND pairing = ?2",
                "DELETE FROM reply_windows WHERE zalo_user_id = ?1 AND pairing = ?2",
                "DELETE FROM zalo_tags WHERE zalo_user_id = ?1 AND pairing = ?2",
                "DELETE FROM csat_asks WHERE zalo_user_id = ?1 AND pairing = ?2",
                "DELETE FROM csat_ratings WHERE zalo_user_id = ?1 AND pairing = ?2",
                "DELETE FROM given_contact WHERE zalo_user_id = ?1 AND pairing = ?2",
            ] {
                n += c.execute(sql, params![&zalo_user_id, &p])?;
            }
            Ok(n)
        })
        .await
    }

    /// Records delivery or read receipts for messages zfsync sent.
    pub async fn record_receipts(
        &self,
        msg_ids: Vec<String>,
        seen: bool,
    ) -> Result<usize, StoreError> {
        let p = self.p();
        self.write(move |c| {
            let sql = if seen {
                "UPDATE messages SET seen_at = COALESCE(seen_at, ?2) WHERE zalo_msg_id = ?1 AND pairing = ?3"
            } else {
                "UPDATE messages SET delivered_at = COALESCE(delivered_at, ?2) WHERE zalo_msg_id = ?1 AND pairing = ?3"
            };
            let mut n = 0;
            for id in msg_ids {
                n += c.execute(sql, params![id, now_ms(), p])?;
            }
            Ok(n)
        })
        .await
    }
}

impl Store {
    /// Records a contact rebuilt from Freshchat together with the conversation it was found in.
    pub async fn adopt_contact(
        &self,
        contact: Contact,
        conversation_id: String,
    ) -> Result<(), StoreError> {
        let p = self.p();
        self.write(move |c| {
            put_contact(c, &p, &contact)?;
            put_conversation(c, &p, &contact.zalo_user_id, &conversation_id, None)
        })
        .await
    }

    /// The Freshchat user of the newest customer, if any (`check` reads its properties).
    pub async fn newest_freshchat_user(&self) -> Result<Option<String>, StoreError> {
        let p = self.p();
        self.read(move |c| {
            c.query_opt(
                "SELECT freshchat_user_id FROM contacts WHERE pairing = ?1 ORDER BY first_seen_at DESC, updated_at DESC LIMIT 1",
                params![p],
                |r| r.get::<String>(0),
            )
        })
        .await
    }
}

/// Inserts or refreshes a contact (used inside a step's transaction).
pub(super) fn put_contact(c: &Db<'_>, pairing: &str, contact: &Contact) -> Result<(), StoreError> {
    c.execute(
        "INSERT INTO contacts (zalo_user_id, freshchat_user_id, display_name, avatar, profile_complete, following, first_seen_at, updated_at, pairing)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
         ON CONFLICT (pairing, zalo_user_id) DO UPDATE SET freshchat_user_id = excluded.freshchat_user_id,
           display_name = excluded.display_name, avatar = excluded.avatar,
           profile_complete = excluded.profile_complete, updated_at = excluded.updated_at",
        params![
        contact.zalo_user_id,
        contact.freshchat_user_id,
        contact.display_name,
        contact.avatar,
        contact.profile_complete as i64,
        contact.following.map(|f| f as i64),
        contact.first_seen_at,
        now_ms(),
        pairing
    ],
    )?;
    Ok(())
}

/// Points a Zalo user at a conversation (used inside a step's transaction).
pub(super) fn put_conversation(
    c: &Db<'_>,
    pairing: &str,
    zalo_user_id: &str,
    conversation_id: &str,
    internal_id: Option<&str>,
) -> Result<(), StoreError> {
    // A conversation id moves to the newest Zalo user claiming it (cannot normally happen).
    c.execute(
        "DELETE FROM conversations WHERE pairing = ?3 AND freshchat_conversation_id = ?1 AND zalo_user_id <> ?2",
        params![conversation_id, zalo_user_id, pairing],
    )?;
    c.execute(
        "INSERT INTO conversations (zalo_user_id, freshchat_conversation_id, freshchat_internal_id, updated_at, pairing)
         VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (pairing, zalo_user_id) DO UPDATE SET freshchat_conversation_id = excluded.freshchat_conversation_id,
           freshchat_internal_id = excluded.freshchat_internal_id, updated_at = excluded.updated_at",
        params![zalo_user_id, conversation_id, internal_id, now_ms(), pairing],
    )?;
    Ok(())
}

/// Points a Zalo user at a conversation unless it already has one (used inside a transaction).
/// The insert decides, not a count read before it: of two replicas pointing the same user at once,
/// the second finds the first's row and changes nothing.
pub(super) fn put_conversation_if_none(
    c: &Db<'_>,
    pairing: &str,
    zalo_user_id: &str,
    conversation_id: &str,
) -> Result<(), StoreError> {
    let inserted: Option<i64> = c.query_opt(
        "INSERT INTO conversations (zalo_user_id, freshchat_conversation_id, freshchat_internal_id, updated_at, pairing)
         SELECT CAST(?1 AS TEXT), CAST(?2 AS TEXT), NULL, CAST(?3 AS BIGINT), CAST(?4 AS TEXT)
         WHERE NOT EXISTS (SELECT 1 FROM conversations WHERE pairing = ?4 AND freshchat_conversation_id = ?2 AND zalo_user_id <> ?1)
         ON CONFLICT (pairing, zalo_user_id) DO NOTHING
         RETURNING 1",
        params![zalo_user_id, conversation_id, now_ms(), pairing],
        |r| r.get(0),
    )?;
    if inserted.is_none() {
        // Either the user has a conversation (nothing to do), or another user still holds this
        // conversation id: it moves to this user, as `put_conversation` does.
        let has_one: Option<i64> = c.query_opt(
            "SELECT 1 FROM conversations WHERE zalo_user_id = ?1 AND pairing = ?2",
            params![zalo_user_id, pairing],
            |r| r.get(0),
        )?;
        if has_one.is_none() {
            put_conversation(c, pairing, zalo_user_id, conversation_id, None)?;
        }
    }
    Ok(())
}

/// Records a Zalo ↔ Freshchat message pairing (idempotent on the Zalo id). A customer's own
/// message also closes their open rating question, in the same write (no write of its own on the
/// path every message takes): whatever they wrote answered it.
pub(super) fn put_message(c: &Db<'_>, pairing: &str, m: &MessagePair) -> Result<(), StoreError> {
    if m.from_customer {
        c.execute(
            "DELETE FROM csat_asks WHERE pairing = ?1 AND zalo_user_id = ?2",
            params![pairing, m.zalo_user_id],
        )?;
    }
    c.execute(
        "INSERT INTO messages (direction, zalo_user_id, zalo_msg_id, freshchat_message_id, preview, created_at, pairing)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (pairing, zalo_msg_id) DO NOTHING",
        params![
        m.direction,
        m.zalo_user_id,
        m.zalo_msg_id,
        m.freshchat_message_id,
        m.preview,
        now_ms(),
        pairing
    ],
    )?;
    Ok(())
}
