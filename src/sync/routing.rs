//! Routing a new conversation to a Freshchat group: the rules (`[routing]`, see
//! `zfsync_mappings::routing`) choose a group from what is known when zfsync creates the
//! conversation (the pairing, the OA, the first message and its time, the customer's Zalo tags as
//! the store has them); a group named by name is looked up in `GET /v2/groups` (kept for a few
//! minutes).
//!
//! Failure: the group list cannot be read → the error is returned (a transient one retries the
//! event). A group Freshchat does not have is logged at WARN and the conversation is created
//! unassigned: the customer's message is never held back by a routing mistake, and `zfsync check`
//! names the rule to fix.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Mutex;
use zfsync_freshchat::{FreshchatClient, Group};
use zfsync_mappings::routing::RouteFacts;
use zfsync_mappings::Rules;

use crate::error::SyncError;

/// How long the group list is trusted before it is read again.
const GROUPS_TTL: Duration = Duration::from_secs(300);

/// The account's groups and when they were read.
type GroupList = Option<(Instant, Vec<Group>)>;

/// The routing of new conversations (cheap to clone; clones share the group list).
#[derive(Debug, Clone)]
pub struct Router {
    freshchat: FreshchatClient,
    rules: Arc<Rules>,
    groups: Arc<Mutex<GroupList>>,
}

impl Router {
    /// Routing by `rules`, groups looked up through `freshchat`.
    pub fn new(freshchat: FreshchatClient, rules: Arc<Rules>) -> Router {
        Router {
            freshchat,
            rules,
            groups: Arc::default(),
        }
    }

    /// The Freshchat group id for a new conversation, or None (unassigned).
    pub async fn group_for(&self, facts: &RouteFacts<'_>) -> Result<Option<String>, SyncError> {
        let Some(route) = self.rules.routing.route(facts) else {
            return Ok(None);
        };
        let rule = route.rule.unwrap_or("default_group");
        let groups = self.groups(false).await?;
        let found = match find_group(&groups, route.group) {
            Some(id) => Some(id),
            // Maybe created since the list was read.
            None => find_group(&self.groups(true).await?, route.group),
        };
        match &found {
            Some(id) => tracing::info!(rule, group = %id, "routing the new conversation"),
            None => tracing::warn!(
                rule,
                group = route.group,
                "the routing rule names a group Freshchat does not have; the conversation stays unassigned (run 'zfsync check')"
            ),
        }
        Ok(found)
    }

    /// Forgets the group list (Freshchat refused a group from it).
    pub async fn forget_groups(&self) {
        *self.groups.lock().await = None;
    }

    async fn groups(&self, fresh: bool) -> Result<Vec<Group>, SyncError> {
        let mut cached = self.groups.lock().await;
        if let Some((at, list)) = cached.as_ref() {
            if !fresh && at.elapsed() < GROUPS_TTL {
                return Ok(list.clone());
            }
        }
        let list = self.freshchat.list_groups().await?;
        *cached = Some((Instant::now(), list.clone()));
        Ok(list)
    }
}

/// The id of the group `wanted` names: a group with that id, else one with that name (exactly,
/// then ignoring case).
pub fn find_group(groups: &[Group], wanted: &str) -> Option<String> {
    let wanted = wanted.trim();
    groups
        .iter()
        .find(|g| g.id == wanted)
        .or_else(|| groups.iter().find(|g| g.name.as_deref() == Some(wanted)))
        .or_else(|| {
            groups.iter().find(|g| {
                g.name
                    .as_deref()
                    .is_some_and(|n| n.to_lowercase() == wanted.to_lowercase())
            })
        })
        .map(|g| g.id.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group(id: &str, name: &str) -> Group {
        Group {
            id: id.into(),
            name: Some(name.into()),
        }
    }

    #[test]
    fn a_group_is_found_by_id_then_by_name() {
        let groups = [
            group("g1", "Sales"),
            group("g2", "sales"),
            group("Sales", "x"),
        ];
        assert_eq!(find_group(&groups, "g2").as_deref(), Some("g2"));
        assert_eq!(
            find_group(&groups, "Sales").as_deref(),
            Some("Sales"),
            "an id first"
        );
        assert_eq!(find_group(&groups[..2], "sales").as_deref(), Some("g2"));
        assert_eq!(find_group(&groups[..1], "SALES").as_deref(), Some("g1"));
        assert_eq!(find_group(&groups, "Support"), None);
    }
}
