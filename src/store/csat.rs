//! Ratings after resolve and the contact details customers chose to give (migration 015).
//!
//! - `csat_asks`: one open rating question per customer (the conversation whose resolve notice
//!   asked, and when); closed by the rating, by any other message of the customer (recorded with
//!   the message's pairing, `put_message`), or replaced by the next question.
//! - `csat_ratings`: the ratings given, for the console's daily average.
//! - `given_contact`: which Freshchat user fields zfsync filled from a customer's
//!   `user_submit_info` (a JSON array of names), so that a withdrawal erases exactly those.
//!
//! A customer's rows go with the rest of their data (`Store::forget_user`).
//!
//! Failure: store errors only; a `given_contact` row that does not read as a list reads as none.

use super::db::params;
use super::{now_ms, Store, StoreError};

/// The ratings of one day (UTC+7, as agents read times).
#[derive(Debug, Clone, PartialEq)]
pub struct RatingsDay {
    /// `YYYY-MM-DD`.
    pub day: String,
    /// How many ratings.
    pub count: u64,
    /// Their average, 1 to 5.
    pub average: f64,
}

/// The offset of the days the console shows (Vietnam, UTC+7).
const DAY_OFFSET_MS: i64 = 7 * 3_600_000;

impl Store {
    /// Remembers that the customer was asked for a rating in this conversation at `asked_at`
    /// (unix ms).
    pub async fn set_rating_asked(
        &self,
        zalo_user_id: String,
        conversation_id: String,
        asked_at: i64,
    ) -> Result<(), StoreError> {
        let p = self.p();
        self.write(move |c| {
            c.execute(
                "INSERT INTO csat_asks (pairing, zalo_user_id, conversation_id, asked_at) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (pairing, zalo_user_id) DO UPDATE SET conversation_id = excluded.conversation_id,
                   asked_at = excluded.asked_at",
                params![p, zalo_user_id, conversation_id, asked_at],
            )?;
            Ok(())
        })
        .await
    }

    /// The conversation whose rating question the customer has not answered, when it was asked at
    /// or after `since` (unix ms).
    pub async fn rating_asked_in(
        &self,
        zalo_user_id: String,
        since: i64,
    ) -> Result<Option<String>, StoreError> {
        let p = self.p();
        self.lookup(move |c| {
            c.query_opt(
                "SELECT conversation_id FROM csat_asks WHERE pairing = ?1 AND zalo_user_id = ?2 AND asked_at >= ?3",
                params![p, zalo_user_id, since],
                |r| r.get::<String>(0),
            )
        })
        .await
    }

    /// Records a rating and closes the question it answered.
    pub async fn record_rating(
        &self,
        zalo_user_id: String,
        conversation_id: String,
        score: u8,
    ) -> Result<(), StoreError> {
        let p = self.p();
        self.write(move |c| {
            c.execute(
                "INSERT INTO csat_ratings (pairing, zalo_user_id, conversation_id, score, rated_at) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (pairing, zalo_user_id, rated_at) DO NOTHING",
                params![p, zalo_user_id, conversation_id, i64::from(score), now_ms()],
            )?;
            c.execute(
                "DELETE FROM csat_asks WHERE pairing = ?1 AND zalo_user_id = ?2",
                params![p, zalo_user_id],
            )?;
            Ok(())
        })
        .await
    }

    /// The ratings per day since `since` (unix ms), oldest first.
    pub async fn ratings_per_day(&self, since: i64) -> Result<Vec<RatingsDay>, StoreError> {
        let p = self.p();
        let rows = self
            .read(move |c| {
                c.query_map(
                    "SELECT rated_at, score FROM csat_ratings WHERE pairing = ?1 AND rated_at >= ?2 ORDER BY rated_at",
                    params![p, since],
                    |r| Ok((r.get::<i64>(0)?, r.get::<i64>(1)?)),
                )
            })
            .await?;
        let mut days: Vec<RatingsDay> = Vec::new();
        for (at, score) in rows {
            let day = chrono::DateTime::from_timestamp_millis(at + DAY_OFFSET_MS)
                .map(|t| t.format("%Y-%m-%d").to_string())
                .unwrap_or_default();
            match days.last_mut() {
                Some(d) if d.day == day => {
                    d.average = (d.average * d.count as f64 + score as f64) / (d.count + 1) as f64;
                    d.count += 1;
                }
                _ => days.push(RatingsDay {
                    day,
                    count: 1,
                    average: score as f64,
                }),
            }
        }
        Ok(days)
    }

    /// The Freshchat user fields zfsync filled from details the customer gave.
    pub async fn given_contact(&self, zalo_user_id: String) -> Result<Vec<String>, StoreError> {
        let p = self.p();
        let json = self
            .lookup(move |c| {
                c.query_opt(
                    "SELECT fields FROM given_contact WHERE pairing = ?1 AND zalo_user_id = ?2",
                    params![p, zalo_user_id],
                    |r| r.get::<String>(0),
                )
            })
            .await?;
        Ok(json
            .and_then(|j| serde_json::from_str(&j).ok())
            .unwrap_or_default())
    }

    /// Remembers the fields filled from the customer's details (added to those filled before).
    pub async fn add_given_contact(
        &self,
        zalo_user_id: String,
        fields: Vec<String>,
    ) -> Result<(), StoreError> {
        let mut all = self.given_contact(zalo_user_id.clone()).await?;
        for f in fields {
            if !all.contains(&f) {
                all.push(f);
            }
        }
        let json = serde_json::to_string(&all).unwrap_or_else(|_| "[]".into());
        let p = self.p();
        self.write(move |c| {
            c.execute(
                "INSERT INTO given_contact (pairing, zalo_user_id, fields, updated_at) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (pairing, zalo_user_id) DO UPDATE SET fields = excluded.fields,
                   updated_at = excluded.updated_at",
                params![p, zalo_user_id, json, now_ms()],
            )?;
            Ok(())
        })
        .await
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use crate::store::testing::on_both_backends;
    use crate::store::Store;

    on_both_backends!(
        a_question_is_answered_once_and_counted_per_day,
        given_fields_add_up_and_go_with_the_customer,
    );

    async fn a_question_is_answered_once_and_counted_per_day(store: Store) {
        store
            .set_rating_asked("u1".into(), "c1".into(), 5)
            .await
            .unwrap();
        let asked = |since: i64| store.rating_asked_in("u1".into(), since);
        assert_eq!(asked(0).await.unwrap().as_deref(), Some("c1"));
        assert_eq!(asked(6).await.unwrap(), None);
        store
            .record_rating("u1".into(), "c1".into(), 4)
            .await
            .unwrap();
        assert_eq!(asked(0).await.unwrap(), None);
        store
            .set_rating_asked("u2".into(), "c2".into(), 5)
            .await
            .unwrap();
        store
            .record_rating("u2".into(), "c2".into(), 1)
            .await
            .unwrap();
        let days = store.ratings_per_day(0).await.unwrap();
        assert_eq!(days.len(), 1);
        assert_eq!((days[0].count, days[0].average), (2, 2.5));
        store.forget_user("u1".into(), 0).await.unwrap();
        assert_eq!(store.ratings_per_day(0).await.unwrap()[0].count, 1);
    }

    async fn given_fields_add_up_and_go_with_the_customer(store: Store) {
        let given = |u: &str| store.given_contact(u.into());
        store
            .add_given_contact("u1".into(), vec!["phone".into()])
            .await
            .unwrap();
        store
            .add_given_contact("u1".into(), vec!["first_name".into(), "phone".into()])
            .await
            .unwrap();
        assert_eq!(given("u1").await.unwrap(), ["phone", "first_name"]);
        store.forget_user("u1".into(), 0).await.unwrap();
        assert!(given("u1").await.unwrap().is_empty());
    }
}
