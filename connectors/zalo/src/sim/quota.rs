//! Which allowance pays for a consultation message (reference §2.1, §4.6, the
//! `zalo-api-message-cs-success-*` and `zalo-api-quota-message` samples).
//!
//! In order: `welcome_msg` (a follower who followed but never wrote), `reply` (free within 48 h of
//! the user's last interaction; a new interaction starts a new frame), the OA package's
//! `sub_quota`, an owner allowance (`purchase_quota` / `reward_quota`, reported without remain/total),
//! else the message is billed (no `quota` object). Under Zalo's 2026 rules (the default,
//! [`ReplyModel::Unlimited2026`]) every reply within 48 h is free: `remain`/`total` are pinned to 8
//! until 2026-03-01 and absent after. Under the earlier rules ([`ReplyModel::Counted`]) a frame has
//! `reply_quota` free replies, counted down, after which a reply is billed — or, when configured,
//! refused with -211. Past 48 h (but within the 7-day window) a reply is never refused, only billed.

use serde_json::{json, Value};

use super::config::{OutOfReplies, QuotaState, ReplyModel, SimConfig};
use super::state::St;
use super::wire::{self, ApiError};

/// Charges one message to `user_id` (who must exist); returns the `quota` object, `None` = billed.
pub(crate) fn charge(
    st: &mut St,
    user_id: &str,
    cfg: &SimConfig,
    now_ms: i64,
) -> Result<Option<Value>, ApiError> {
    let sub_used = st.sub_quota_used;
    let Some(u) = st.users.get_mut(user_id) else {
        return Err(ApiError::new(wire::E_NOT_FOLLOWER, wire::MSG_NOT_FOLLOWER));
    };
    if u.user.follower && !u.has_written && u.welcome_used < cfg.welcome_quota {
        u.welcome_used += 1;
        return Ok(Some(json!({
            "quota_type": "welcome_msg",
            "remain": (cfg.welcome_quota - u.welcome_used).to_string(),
            "total": cfg.welcome_quota.to_string(),
        })));
    }
    let in_free = u
        .last_interaction_ms
        .is_some_and(|t| now_ms - t <= wire::FREE_WINDOW_MS);
    match cfg.reply_model {
        ReplyModel::Unlimited2026 if in_free => {
            u.replies_used = u.replies_used.saturating_add(1);
            if now_ms >= wire::REPLY_COUNTS_DROPPED_MS {
                return Ok(Some(json!({"quota_type": "reply"})));
            }
            let pinned = wire::PINNED_REPLY_COUNT.to_string();
            return Ok(Some(json!({
                "quota_type": "reply", "remain": pinned, "total": pinned,
            })));
        }
        ReplyModel::Counted if in_free && u.replies_used < cfg.reply_quota => {
            u.replies_used += 1;
            return Ok(Some(json!({
                "quota_type": "reply",
                "remain": (cfg.reply_quota - u.replies_used).to_string(),
                "total": cfg.reply_quota.to_string(),
            })));
        }
        _ => {}
    }
    if let Some(sq) = &cfg.sub_quota {
        if sub_used < sq.total {
            st.sub_quota_used += 1;
            return Ok(Some(json!({
                "quota_type": "sub_quota",
                "remain": (sq.total - st.sub_quota_used).to_string(),
                "total": sq.total.to_string(),
                "expired_date": sq.expired_date,
            })));
        }
    }
    if let Some(o) = cfg.owner_quota {
        return Ok(Some(json!({
            "quota_type": o.quota_type(), "owner_type": "OA", "owner_id": cfg.oa_id,
        })));
    }
    match cfg.out_of_replies {
        OutOfReplies::Refuse if in_free => Err(ApiError::new(wire::E_QUOTA, wire::MSG_QUOTA)),
        _ => Ok(None),
    }
}

/// What the simulator knows of a user's allowance.
pub(crate) fn state_of(st: &St, user_id: &str, cfg: &SimConfig, now_ms: i64) -> Option<QuotaState> {
    let u = st.users.get(user_id)?;
    let last = u.last_interaction_ms;
    Some(QuotaState {
        last_interaction_ms: last,
        cs_window_open: last.is_some_and(|t| now_ms - t <= wire::WINDOW_MS),
        free_window_open: last.is_some_and(|t| now_ms - t <= wire::FREE_WINDOW_MS),
        replies_used: u.replies_used,
        reply_total: (cfg.reply_model == ReplyModel::Counted).then_some(cfg.reply_quota),
        welcome_remain: if u.user.follower && !u.has_written {
            cfg.welcome_quota.saturating_sub(u.welcome_used)
        } else {
            0
        },
        sub_quota_remain: cfg
            .sub_quota
            .as_ref()
            .map(|s| s.total.saturating_sub(st.sub_quota_used)),
    })
}

/// `data` of `POST /v3.0/oa/quota/message {"user_id"}`: `last_interaction` a string of ms,
/// `cs_reply` and `promotion` numbers. Under the 2026 rules free replies are not counted: `cs_reply`
/// says the pinned 8 while the free window is open, 0 once it closed.
pub(crate) fn user_quota_json(q: &QuotaState) -> Value {
    let total = q.reply_total.unwrap_or(wire::PINNED_REPLY_COUNT);
    let remain = match (q.free_window_open, q.reply_total) {
        (false, _) => 0,
        (true, Some(t)) => t.saturating_sub(q.replies_used),
        (true, None) => total,
    };
    json!({
        "last_interaction": q.last_interaction_ms.unwrap_or(0).to_string(),
        "cs_reply": {"remain": remain, "total": total},
        // Promotion messages are discontinued; the simulator has none to give.
        "promotion": {"daily_remain": 0, "daily_total": 0, "monthly_remain": 0, "monthly_total": 0},
    })
}

/// `data` of the asset form of the quota call: the OA's package, if any.
pub(crate) fn assets_json(st: &St, cfg: &SimConfig) -> Value {
    match &cfg.sub_quota {
        Some(sq) => json!([{
            "asset_id": wire::derived_hex(&format!("asset:{}", cfg.oa_id)),
            "product_type": "cs", "quota_type": "sub_quota",
            "valid_through": sq.expired_date,
            "total": sq.total, "remain": sq.total.saturating_sub(st.sub_quota_used),
        }]),
        None => json!([]),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::sim::actions::SimUser;
    use crate::sim::config::{OwnerQuota, SubQuota};
    use crate::sim::state::UserState;

    fn world(follower: bool, written: bool) -> St {
        let mut st = St::default();
        let mut u = UserState::new(
            SimUser {
                user_id: "u".into(),
                display_name: "U".into(),
                avatar: None,
                follower,
            },
            "app",
        );
        u.has_written = written;
        u.interacted(1_000);
        st.users.insert("u".into(), u);
        st
    }

    fn kind(v: &Option<Value>) -> Option<&str> {
        v.as_ref().and_then(|q| q["quota_type"].as_str())
    }

    #[test]
    fn free_replies_then_package_then_owner_then_billed() {
        let mut st = world(false, true);
        let mut cfg = SimConfig {
            reply_model: ReplyModel::Counted,
            reply_quota: 2,
            sub_quota: Some(SubQuota {
                total: 1,
                expired_date: "11/02/2030".into(),
            }),
            ..SimConfig::default()
        };
        let q = charge(&mut st, "u", &cfg, 2_000).unwrap();
        assert_eq!(
            q,
            Some(json!({"quota_type": "reply", "remain": "1", "total": "2"}))
        );
        assert_eq!(
            kind(&charge(&mut st, "u", &cfg, 2_000).unwrap()),
            Some("reply")
        );
        let q = charge(&mut st, "u", &cfg, 2_000).unwrap().unwrap();
        assert_eq!(
            (q["quota_type"].as_str(), q["remain"].as_str()),
            (Some("sub_quota"), Some("0"))
        );
        cfg.owner_quota = Some(OwnerQuota::Reward);
        assert_eq!(
            kind(&charge(&mut st, "u", &cfg, 2_000).unwrap()),
            Some("reward_quota")
        );
        cfg.owner_quota = None;
        assert_eq!(charge(&mut st, "u", &cfg, 2_000).unwrap(), None);
        cfg.out_of_replies = OutOfReplies::Refuse;
        assert_eq!(
            charge(&mut st, "u", &cfg, 2_000).unwrap_err().code,
            wire::E_QUOTA
        );
        // Past 48 h a reply is billed, never refused.
        assert_eq!(charge(&mut st, "u", &cfg, 3 * wire::DAY_MS).unwrap(), None);
        // A new interaction opens a new frame.
        st.users.get_mut("u").unwrap().interacted(3 * wire::DAY_MS);
        assert_eq!(
            kind(&charge(&mut st, "u", &cfg, 3 * wire::DAY_MS).unwrap()),
            Some("reply")
        );
    }

    #[test]
    fn under_the_2026_rules_replies_within_48_hours_are_free_and_uncounted() {
        let mut st = world(false, true);
        let cfg = SimConfig::default();
        let after = wire::REPLY_COUNTS_DROPPED_MS;
        st.users.get_mut("u").unwrap().interacted(after);
        for _ in 0..20 {
            assert_eq!(
                charge(&mut st, "u", &cfg, after + 1_000).unwrap(),
                Some(json!({"quota_type": "reply"}))
            );
        }
        // Billed from 48 h on.
        assert_eq!(
            charge(&mut st, "u", &cfg, after + wire::FREE_WINDOW_MS + 1).unwrap(),
            None
        );
        // During the transition the counts are pinned to 8.
        let mut st = world(false, true);
        assert_eq!(
            charge(&mut st, "u", &cfg, 2_000).unwrap(),
            Some(json!({"quota_type": "reply", "remain": "8", "total": "8"}))
        );
        assert_eq!(state_of(&st, "u", &cfg, 2_000).unwrap().reply_total, None);
    }

    #[test]
    fn followers_who_never_wrote_get_welcome_messages() {
        let mut st = world(true, false);
        let cfg = SimConfig {
            reply_model: ReplyModel::Counted,
            ..SimConfig::default()
        };
        for remain in ["2", "1", "0"] {
            let q = charge(&mut st, "u", &cfg, 2_000).unwrap().unwrap();
            assert_eq!(
                (q["quota_type"].as_str(), q["remain"].as_str()),
                (Some("welcome_msg"), Some(remain))
            );
        }
        assert_eq!(
            kind(&charge(&mut st, "u", &cfg, 2_000).unwrap()),
            Some("reply")
        );
        let s = state_of(&st, "u", &cfg, 2_000).unwrap();
        assert_eq!(
            (s.replies_used, s.welcome_remain, s.cs_window_open),
            (1, 0, true)
        );
        let j = user_quota_json(&s);
        assert_eq!(j["cs_reply"], json!({"remain": 7, "total": 8}));
        assert_eq!(j["last_interaction"], "1000");
    }
}
