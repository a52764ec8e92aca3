//! The `/v2` routes: account configuration, channels, groups, agents, users, conversations and
//! messages, read as JSON and answered with JSON the simulator builds.
//!
//! Strict where the reference is: Bearer auth (see `gate`), `{code,status,message}` errors, 201 on
//! creates, user `properties` as an array of `{name,value}` (and, on an account that defines its
//! properties, only defined names), conversation `properties` as an object, message parts with one
//! known key each, posts only into the user's latest conversation on its channel
//! (400 `INVALID_VALUE` "not the latest conversation"), conversations created or updated in a
//! group only when the account has it (404 `GROUP_NOT_FOUND` otherwise: the reference is silent
//! on this; §8.2's `AGENT_NOT_FOUND` shape), a users search with at least one filter,
//! messages newest first paged by a single root-relative `link.href` carrying `from_time`.
//! Every refusal is a 4xx naming what to fix; nothing here panics on input.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use bytes::Bytes;
use serde_json::{json, Map, Value};

use super::parts::check_part;
use super::shapes;
use super::state::{Actor, NewMsg, SimState, UserRec};
use super::wire::{created, error_response, ok, parse_iso, ApiErr, ApiResult, API_PREFIX};
use super::Inner;

/// Largest `items_per_page` for messages; other lists allow 100.
const MAX_MESSAGES_PAGE: usize = 50;
const MAX_LIST_PAGE: usize = 100;
/// Conversation statuses the API accepts.
const STATUSES: &[&str] = &["new", "assigned", "resolved", "reopened"];
/// User fields kept as given (strings), besides `avatar` and `properties`.
const USER_STRINGS: &[&str] = &[
    "first_name",
    "last_name",
    "email",
    "phone",
    "reference_id",
    "restore_id",
];

pub(crate) fn router(inner: Arc<Inner>) -> Router<Arc<Inner>> {
    Router::new()
        .route("/v2/accounts/configuration", get(account_configuration))
        .route("/v2/channels", get(list_channels))
        .route("/v2/groups", get(list_groups))
        .route("/v2/agents", get(list_agents))
        .route("/v2/agents/{id}", get(get_agent))
        .route("/v2/users", get(search_users).post(create_user))
        .route("/v2/users/{id}", get(get_user).put(update_user))
        .route("/v2/users/{id}/conversations", get(user_conversations))
        .route(
            "/v2/conversations",
            axum::routing::post(create_conversation),
        )
        .route(
            "/v2/conversations/{id}",
            get(get_conversation).put(update_conversation),
        )
        .route(
            "/v2/conversations/{id}/messages",
            get(list_messages).post(post_message),
        )
        .merge(super::uploads::api_routes(&inner.cfg))
        .fallback(|| async { error_response(404, "NOT_FOUND", "no such endpoint") })
        .method_not_allowed_fallback(|| async {
            error_response(
                405,
                "METHOD_NOT_ALLOWED",
                "method not allowed on this endpoint",
            )
        })
        .layer(axum::middleware::from_fn_with_state(
            inner,
            super::gate::gate,
        ))
}

/// The request body as a JSON object.
pub(crate) fn body_object(body: &[u8]) -> Result<Map<String, Value>, ApiErr> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(o)) => Ok(o),
        Ok(_) => Err(ApiErr::invalid("the request body must be a JSON object")),
        Err(e) => Err(ApiErr::invalid(format!("Invalid JSON payload: {e}"))),
    }
}

fn opt_str<'a>(o: &'a Map<String, Value>, key: &str) -> Result<Option<&'a str>, ApiErr> {
    match o.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(ApiErr::invalid(format!("{key} must be a string"))),
    }
}

async fn account_configuration(State(inner): State<Arc<Inner>>) -> Response {
    let account_id = inner.lock().account_id;
    ok(json!({
        "organisation_id": 345_162_432_277_281_455u64,
        "organisation_domain": "zfsync-sim.myfreshworks.com",
        "account_id": account_id,
        "account_domain": "zfsync-sim.freshchat.com",
        "app_id": inner.cfg.app_id,
        "bundle_id": 0,
        "bundle_type": "freshchat",
        "plan_type": "sim",
        "datacenter": "US",
    }))
}

/// `page` (from 1) and `items_per_page` (capped at `max`).
fn paging(
    q: &HashMap<String, String>,
    default: usize,
    max: usize,
) -> Result<(usize, usize), ApiErr> {
    let num = |k: &str, d: usize| -> Result<usize, ApiErr> {
        q.get(k).map_or(Ok(d), |v| {
            v.parse::<usize>()
                .map_err(|_| ApiErr::invalid(format!("{k} must be a number")))
        })
    };
    let (page, per) = (num("page", 1)?, num("items_per_page", default)?);
    if page == 0 || per == 0 {
        return Err(ApiErr::invalid("page and items_per_page start at 1"));
    }
    Ok((page, per.min(max)))
}

/// `{<key>: [...], pagination, links}` for lists other than messages.
fn paged_list(key: &str, path: &str, items: Vec<Value>, page: usize, per: usize) -> ApiResult {
    let total = items.len();
    let pages = total.div_ceil(per);
    if page > pages.max(1) {
        return Err(ApiErr::new(
            400,
            "WRONG_PAGE",
            "The page does not exist in the search result",
        ));
    }
    let slice: Vec<Value> = items.into_iter().skip((page - 1) * per).take(per).collect();
    let rel = key.trim_end_matches('s');
    let link = |p: usize| json!({"href": format!("{path}?page={p}&items_per_page={per}"), "rel": rel, "type": "GET"});
    let mut links = Map::new();
    links.insert("first_page".into(), link(1));
    links.insert("last_page".into(), link(pages.max(1)));
    if page < pages {
        links.insert("next_page".into(), link(page + 1));
    }
    if page > 1 {
        links.insert("previous_page".into(), link(page - 1));
    }
    Ok(ok(json!({
        key: slice,
        "pagination": {"total_items": total, "total_pages": pages, "current_page": page, "items_per_page": per},
        "links": links,
    })))
}

async fn list_channels(
    State(inner): State<Arc<Inner>>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult {
    let (page, per) = paging(&q, 10, MAX_LIST_PAGE)?;
    let items = inner
        .lock()
        .channels
        .iter()
        .map(|c| {
            json!({"id": c.id, "icon": {}, "updated_time": "2024-01-01T00:00:00.000Z",
                "enabled": true, "public": true, "name": c.name, "tags": [],
                "welcome_message": {"message_parts": [{"text": {"content": "Hello there! Need help? Reach out to us right here."}}],
                                    "message_type": "normal"},
                "locale": "", "source": "FRESHCHAT"})
        })
        .collect();
    paged_list("channels", "/v2/channels", items, page, per)
}

async fn list_groups(
    State(inner): State<Arc<Inner>>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult {
    let (page, per) = paging(&q, 10, MAX_LIST_PAGE)?;
    let items = inner
        .lock()
        .groups
        .iter()
        .map(|(id, name)| {
            json!({"id": id, "name": name, "description": "", "routing_type": "DISABLED"})
        })
        .collect();
    paged_list("groups", "/v2/groups", items, page, per)
}

fn agent_json(a: &super::state::AgentRec) -> Value {
    json!({"id": a.id, "created_time": a.created_time, "email": a.email, "first_name": a.first_name,
        "last_name": "", "avatar": {}, "groups": [a.group_id], "role_id": "AGENT", "role_name": "Agent",
        "availability_status": "AVAILABLE", "is_deactivated": false, "is_deleted": false,
        "locale": "vi", "timezone": "Asia/Ho_Chi_Minh", "routing_type": "INTELLIASSIGN",
        "agent_capacity": 10, "org_contact_id": a.org_id, "social_profiles": []})
}

async fn list_agents(
    State(inner): State<Arc<Inner>>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult {
    let (page, per) = paging(&q, 10, MAX_LIST_PAGE)?;
    let items = inner.lock().agents.iter().map(agent_json).collect();
    paged_list("agents", "/v2/agents", items, page, per)
}

async fn get_agent(State(inner): State<Arc<Inner>>, Path(id): Path<String>) -> ApiResult {
    let st = inner.lock();
    let a = st
        .agent(&id)
        .ok_or_else(|| ApiErr::not_found("AGENT_NOT_FOUND", "agent not found"))?;
    Ok(ok(agent_json(a)))
}

/// Plain fields and properties of a user create/update body.
type UserInput = (Map<String, Value>, Option<Vec<(String, String)>>);

fn read_user(o: &Map<String, Value>) -> Result<UserInput, ApiErr> {
    let mut fields = Map::new();
    for k in USER_STRINGS {
        if let Some(s) = opt_str(o, k)? {
            fields.insert((*k).to_owned(), json!(s));
        }
    }
    match o.get("avatar") {
        None | Some(Value::Null) => {}
        Some(Value::Object(a)) => {
            let url =
                opt_str(a, "url").map_err(|_| ApiErr::invalid("avatar.url must be a string"))?;
            fields.insert("avatar".into(), json!({"url": url.unwrap_or_default()}));
        }
        Some(_) => return Err(ApiErr::invalid("avatar must be an object {\"url\": ...}")),
    }
    let props =
        match o.get("properties") {
            None | Some(Value::Null) => None,
            Some(Value::Array(items)) => {
                let mut out = Vec::with_capacity(items.len());
                for p in items {
                    let name = p
                        .get("name")
                        .and_then(Value::as_str)
                        .filter(|n| !n.is_empty());
                    let value = match p.get("value") {
                        Some(Value::String(s)) => Some(s.clone()),
                        Some(v @ (Value::Number(_) | Value::Bool(_))) => Some(v.to_string()),
                        _ => None,
                    };
                    match (name, value) {
                        (Some(n), Some(v)) => out.push((n.to_owned(), v)),
                        _ => return Err(ApiErr::invalid(
                            "properties must be an array of {\"name\": string, \"value\": string}",
                        )),
                    }
                }
                Some(out)
            }
            Some(_) => {
                return Err(ApiErr::invalid(
                    "properties must be an array of {\"name\", \"value\"} objects",
                ))
            }
        };
    Ok((fields, props))
}

/// On an account that defines its properties, an undefined name is refused.
fn check_defined(st: &SimState, props: &Option<Vec<(String, String)>>) -> Result<(), ApiErr> {
    let (Some(defined), Some(props)) = (&st.knobs.defined_properties, props) else {
        return Ok(());
    };
    match props.iter().find(|(n, _)| !defined.contains(n)) {
        Some((name, _)) => Err(ApiErr::invalid(format!(
            "Invalid user property: {name} is not defined for this account"
        ))),
        None => Ok(()),
    }
}

async fn create_user(State(inner): State<Arc<Inner>>, body: Bytes) -> ApiResult {
    let (fields, props) = read_user(&body_object(&body)?)?;
    let mut st = inner.lock();
    check_defined(&st, &props)?;
    let (_, now) = st.now();
    let u = UserRec {
        id: uuid::Uuid::new_v4().to_string(),
        org_contact_id: st.org_id(),
        fields,
        properties: props.unwrap_or_default(),
        created_time: now.clone(),
        updated_time: now,
    };
    let answer = shapes::user(&u);
    st.insert_user(u);
    Ok(created(answer))
}

async fn search_users(
    State(inner): State<Arc<Inner>>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult {
    const FILTERS: &[&str] = &[
        "reference_id",
        "email",
        "phone",
        "first_name",
        "created_from",
        "created_to",
        "updated_from",
        "updated_to",
    ];
    if !q.keys().any(|k| FILTERS.contains(&k.as_str())) {
        return Err(ApiErr::invalid(
            "users requires 1 filtering query parameter (reference_id, email, created_from, ...)",
        ));
    }
    let (page, per) = paging(&q, 10, MAX_LIST_PAGE)?;
    let bound = |k: &str| q.get(k).map(|t| parse_iso(t)).transpose();
    let (cf, ct, uf, ut) = (
        bound("created_from")?,
        bound("created_to")?,
        bound("updated_from")?,
        bound("updated_to")?,
    );
    let st = inner.lock();
    let candidates: Vec<&String> = match q.get("reference_id") {
        Some(r) => st
            .by_reference
            .get(r)
            .map(|v| v.iter().collect())
            .unwrap_or_default(),
        None => st.user_order.iter().collect(),
    };
    let field_is = |u: &UserRec, k: &str| {
        q.get(k)
            .is_none_or(|want| u.fields.get(k).and_then(Value::as_str) == Some(want.as_str()))
    };
    let within = |t: &str, from: Option<i64>, to: Option<i64>| {
        let ms = parse_iso(t).unwrap_or(0);
        from.is_none_or(|f| ms >= f) && to.is_none_or(|u| ms <= u)
    };
    let items: Vec<Value> = candidates
        .into_iter()
        .filter_map(|id| st.users.get(id))
        .filter(|u| {
            ["email", "phone", "first_name"]
                .iter()
                .all(|k| field_is(u, k))
        })
        .filter(|u| within(&u.created_time, cf, ct) && within(&u.updated_time, uf, ut))
        .map(shapes::user)
        .collect();
    drop(st);
    paged_list("users", "/v2/users", items, page, per)
}

async fn get_user(State(inner): State<Arc<Inner>>, Path(id): Path<String>) -> ApiResult {
    Ok(ok(shapes::user(inner.lock().user(&id)?)))
}

async fn update_user(
    State(inner): State<Arc<Inner>>,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult {
    let (fields, props) = read_user(&body_object(&body)?)?;
    let mut st = inner.lock();
    st.user(&id)?;
    check_defined(&st, &props)?;
    let (_, now) = st.now();
    let old_ref = st
        .users
        .get(&id)
        .and_then(UserRec::reference_id)
        .map(str::to_owned);
    let Some(u) = st.users.get_mut(&id) else {
        return Err(ApiErr::not_found("USER_NOT_FOUND", "user not found"));
    };
    for (k, v) in fields {
        u.fields.insert(k, v);
    }
    if let Some(p) = props {
        u.properties = p;
    }
    u.updated_time = now;
    st.reindex_reference(&id, old_ref);
    Ok(ok(shapes::user(st.user(&id)?)))
}

async fn user_conversations(State(inner): State<Arc<Inner>>, Path(id): Path<String>) -> ApiResult {
    let st = inner.lock();
    st.user(&id)?;
    let ids: Vec<Value> = st
        .user_convs
        .get(&id)
        .map(|v| v.iter().map(|c| json!({"id": c})).collect())
        .unwrap_or_default();
    Ok(ok(json!({ "conversations": ids })))
}

/// Reads a message body (API post or inline on create) for a conversation of `user_id`.
fn read_message(
    st: &SimState,
    user_id: &str,
    channel_id: &str,
    o: &Map<String, Value>,
) -> Result<NewMsg, ApiErr> {
    let known = |h: &str| st.by_hash.contains_key(h);
    let parts = match o.get("message_parts") {
        Some(Value::Array(p)) if !p.is_empty() => p,
        _ => return Err(ApiErr::invalid("message_parts must be a non-empty array")),
    };
    parts.iter().try_for_each(|p| check_part(p, &known))?;
    let unreachable_image = parts
        .iter()
        .filter_map(|p| p.pointer("/image/url").and_then(Value::as_str))
        .any(|u| st.own_url_is_empty(u));
    if unreachable_image {
        return Err(ApiErr::invalid("IMAGE_EMPTY_CONTENT"));
    }
    let reply_parts = match o.get("reply_parts") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(r)) => {
            r.iter().try_for_each(|p| check_part(p, &known))?;
            r.clone()
        }
        Some(_) => return Err(ApiErr::invalid("reply_parts must be an array")),
    };
    let actor_id = opt_str(o, "actor_id")?.filter(|s| !s.is_empty());
    let private = match opt_str(o, "message_type")?.unwrap_or("normal") {
        "normal" => false,
        "private" => true,
        other => {
            return Err(ApiErr::invalid(format!(
                "message_type {other:?} is not allowed; use normal or private"
            )))
        }
    };
    let actor = match opt_str(o, "actor_type")? {
        Some("user") => {
            if actor_id != Some(user_id) {
                return Err(ApiErr::invalid(
                    "actor_id is not the user of this conversation",
                ));
            }
            if private {
                return Err(ApiErr::invalid("a user cannot write a private message"));
            }
            Actor::new("user", user_id)
        }
        Some("agent") => {
            let id = actor_id
                .ok_or_else(|| ApiErr::invalid("actor_id is required for an agent message"))?;
            if st.agent(id).is_none() {
                return Err(ApiErr::invalid("agent not found"));
            }
            Actor::new("agent", id)
        }
        Some("bot") => Actor {
            kind: "bot",
            id: actor_id.map(str::to_owned),
        },
        Some(other) => {
            return Err(ApiErr::invalid(format!(
                "actor_type {other:?} is not allowed; use user, agent or bot"
            )))
        }
        None => return Err(ApiErr::invalid("actor_type is required")),
    };
    if opt_str(o, "user_id")?.is_some_and(|u| u != user_id) {
        return Err(ApiErr::invalid(
            "user_id is not the user of this conversation",
        ));
    }
    if opt_str(o, "channel_id")?.is_some_and(|c| c != channel_id) {
        return Err(ApiErr::invalid(
            "channel_id is not the channel of this conversation",
        ));
    }
    if opt_str(o, "app_id")?.is_some_and(|a| a != st.app_id) {
        return Err(ApiErr::invalid("app_id does not belong to this account"));
    }
    // A file referenced by the hash of an upload is stored with its URL.
    let message_parts = parts
        .iter()
        .map(|p| {
            let mut p = p.clone();
            if let Some(f) = p.get_mut("file").and_then(Value::as_object_mut) {
                let hash = f
                    .get("fileHash")
                    .or_else(|| f.get("file_hash"))
                    .and_then(Value::as_str)
                    .map(str::to_owned);
                if let (false, Some(url)) =
                    (f.contains_key("url"), hash.and_then(|h| st.url_of_hash(&h)))
                {
                    f.insert("url".into(), json!(url));
                }
            }
            p
        })
        .collect();
    let mut m = NewMsg::new(actor, message_parts, "api");
    m.private = private;
    m.reply_parts = reply_parts;
    Ok(m)
}

fn read_properties(o: &Map<String, Value>) -> Result<Option<Map<String, Value>>, ApiErr> {
    match o.get("properties") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(p)) => Ok(Some(p.clone())),
        Some(_) => Err(ApiErr::invalid(
            "Conversation payload not valid: properties must be an object",
        )),
    }
}

async fn create_conversation(State(inner): State<Arc<Inner>>, body: Bytes) -> ApiResult {
    let o = body_object(&body)?;
    let properties = read_properties(&o)?;
    let channel_id = opt_str(&o, "channel_id")?
        .filter(|c| !c.is_empty())
        .ok_or_else(|| ApiErr::invalid("channel_id is required"))?
        .to_owned();
    let user_id = o
        .get("users")
        .and_then(Value::as_array)
        .and_then(|u| u.first())
        .and_then(|u| u.get("id"))
        .and_then(Value::as_str)
        .ok_or_else(|| ApiErr::invalid("users must name the conversation's user: [{\"id\": ...}]"))?
        .to_owned();
    let status = opt_str(&o, "status")?.unwrap_or("new");
    if !matches!(status, "new" | "assigned") {
        return Err(ApiErr::invalid(
            "status must be new (or assigned with assigned_agent_id)",
        ));
    }
    let messages = match o.get("messages") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(m)) => m.clone(),
        Some(_) => return Err(ApiErr::invalid("messages must be an array")),
    };
    let agent = opt_str(&o, "assigned_agent_id")?.filter(|a| !a.trim().is_empty());
    let group = opt_str(&o, "assigned_group_id")?
        .map(str::trim)
        .filter(|g| !g.is_empty());
    let answer = {
        let mut st = inner.lock();
        if st.channel(&channel_id).is_none() {
            return Err(ApiErr::invalid(format!("channel {channel_id} not found")));
        }
        if opt_str(&o, "app_id")?.is_some_and(|a| a != st.app_id) {
            return Err(ApiErr::invalid("app_id does not belong to this account"));
        }
        st.user(&user_id)?;
        if let Some(a) = agent {
            if st.agent(a).is_none() {
                return Err(ApiErr::not_found("AGENT_NOT_FOUND", "agent not found"));
            }
        }
        if status == "assigned" && agent.is_none() {
            return Err(ApiErr::invalid(
                "assigned_agent_id is required when status is assigned",
            ));
        }
        // An unknown group is refused as an update refuses it (the reference is silent on
        // creation; §8.2's `*_NOT_FOUND` shape).
        if let Some(g) = group {
            if !st.groups.iter().any(|(gid, _)| gid == g) {
                return Err(ApiErr::not_found("GROUP_NOT_FOUND", "group not found"));
            }
        }
        let mut new_msgs = Vec::with_capacity(messages.len());
        for m in &messages {
            let m = m
                .as_object()
                .ok_or_else(|| ApiErr::invalid("each message must be an object"))?;
            new_msgs.push(read_message(&st, &user_id, &channel_id, m)?);
        }
        let props = properties.unwrap_or_else(|| {
            let mut p = Map::new();
            p.insert("priority".into(), json!("Low"));
            p
        });
        let id = st.open_conversation(&user_id, &channel_id, "new", props);
        if let Some(g) = group {
            // Created in the group: no assignment took place, so no `conversation_assignment`.
            st.conv_mut(&id)?.assigned_group_id = Some(g.to_owned());
        }
        if let Some(a) = agent {
            let actor = Actor::new("system", st.service_account_id.clone());
            st.assign(&id, Some(a.to_owned()), None, &actor)?;
        }
        for m in new_msgs {
            st.add_message(&id, m)?;
        }
        shapes::conversation(&st, st.conv(&id)?)
    };
    inner.wait_for_room().await;
    Ok(created(answer))
}

async fn get_conversation(State(inner): State<Arc<Inner>>, Path(id): Path<String>) -> ApiResult {
    let st = inner.lock();
    Ok(ok(shapes::conversation(&st, st.conv(&id)?)))
}

async fn update_conversation(
    State(inner): State<Arc<Inner>>,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult {
    let o = body_object(&body)?;
    let properties =
        read_properties(&o).map_err(|_| ApiErr::invalid("Conversation payload not valid"))?;
    let status = opt_str(&o, "status")?;
    if let Some(s) = status {
        if !STATUSES.contains(&s) {
            return Err(ApiErr::invalid(format!(
                "status must be one of {}",
                STATUSES.join(", ")
            )));
        }
    }
    let agent = opt_str(&o, "assigned_agent_id")?;
    let group = opt_str(&o, "assigned_group_id")?;
    let answer = {
        let mut st = inner.lock();
        let id = st.conv_id(&id)?;
        if let Some(a) = agent.map(str::trim).filter(|a| !a.is_empty()) {
            if st.agent(a).is_none() {
                return Err(ApiErr::not_found("AGENT_NOT_FOUND", "agent not found"));
            }
        }
        if let Some(g) = group.map(str::trim).filter(|g| !g.is_empty()) {
            if !st.groups.iter().any(|(gid, _)| gid == g) {
                return Err(ApiErr::not_found("GROUP_NOT_FOUND", "group not found"));
            }
        }
        let has_agent = match agent.map(str::trim) {
            Some(a) => !a.is_empty(),
            None => st.conv(&id)?.assigned_agent_id.is_some(),
        };
        if status == Some("assigned") && !has_agent {
            return Err(ApiErr::invalid(
                "assigned_agent_id is required when status is assigned",
            ));
        }
        let actor = Actor::new("system", st.service_account_id.clone());
        if let Some(p) = properties {
            let (_, now) = st.now();
            if let Some(c) = st.convs.get_mut(&id) {
                c.properties.extend(p);
                c.updated_time = now;
            }
        }
        let was_resolved = st.conv(&id)?.status == "resolved";
        match status {
            Some("reopened" | "new") if was_resolved => {
                st.reopen(&id, &actor, status.unwrap_or("reopened"))?;
            }
            Some("assigned") if was_resolved => st.reopen(&id, &actor, "reopened")?,
            _ => {}
        }
        if agent.is_some() || group.is_some() {
            st.assign(
                &id,
                agent.map(str::to_owned),
                group.map(str::to_owned),
                &actor,
            )?;
        }
        match status {
            Some("resolved") => st.resolve(&id, &actor)?,
            Some("new") if !was_resolved && agent.is_none() => {
                if let Some(c) = st.convs.get_mut(&id) {
                    c.status = "new".into();
                }
            }
            _ => {}
        }
        shapes::conversation(&st, st.conv(&id)?)
    };
    inner.wait_for_room().await;
    Ok(ok(answer))
}

async fn post_message(
    State(inner): State<Arc<Inner>>,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult {
    let o = body_object(&body)?;
    let answer = {
        let mut st = inner.lock();
        let c = st.conv(&id)?;
        let (cid, user, channel) = (c.id.clone(), c.user_id.clone(), c.channel_id.clone());
        let m = read_message(&st, &user, &channel, &o)?;
        if !st.is_latest(st.conv(&cid)?) {
            return Err(ApiErr::invalid("not the latest conversation"));
        }
        st.add_message(&cid, m)?
    };
    inner.wait_for_room().await;
    Ok(created(answer))
}

/// Newest first. `from_time` keeps messages at or after a time; the `link` to the next (older)
/// page keeps `from_time` and adds `to_time` (exclusive, the oldest time on this page), so pages
/// do not shift while messages arrive. Binary search on the time-ordered list: O(log n + page).
async fn list_messages(
    State(inner): State<Arc<Inner>>,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult {
    let (page, per) = paging(&q, 20, MAX_MESSAGES_PAGE)?;
    let from = q.get("from_time").map(|s| parse_iso(s)).transpose()?;
    let to = q.get("to_time").map(|s| parse_iso(s)).transpose()?;
    let st = inner.lock();
    let c = st.conv(&id)?;
    let lo = from.map_or(0, |f| c.messages.partition_point(|m| m.created_ms < f));
    let hi = to.map_or(c.messages.len(), |t| {
        c.messages.partition_point(|m| m.created_ms < t)
    });
    let window = c.messages.get(lo..hi.max(lo)).unwrap_or_default();
    let skip = (page - 1) * per;
    let end = window.len().saturating_sub(skip);
    let start = end.saturating_sub(per);
    let ch = st.channel(&c.channel_id);
    let items: Vec<Value> = window[start..end]
        .iter()
        .rev()
        .map(|m| shapes::message(&st, c, ch, m))
        .collect();
    let mut out = Map::new();
    if start > 0 {
        let oldest = &window[start];
        let from_time = q
            .get("from_time")
            .cloned()
            .unwrap_or_else(|| c.created_time.clone());
        let mut href = url::Url::parse("http://sim.invalid/")
            .map_err(|_| ApiErr::invalid("cannot build the next-page link"))?;
        href.set_path(&format!("{API_PREFIX}/conversations/{}/messages", c.id));
        href.query_pairs_mut()
            .append_pair("page", "1")
            .append_pair("items_per_page", &per.to_string())
            .append_pair("from_time", &from_time)
            .append_pair("to_time", &oldest.created_time);
        let rel = format!("{}?{}", href.path(), href.query().unwrap_or_default());
        out.insert("link".into(), json!({ "href": rel }));
    }
    out.insert("messages".into(), Value::Array(items));
    Ok(ok(Value::Object(out)))
}
