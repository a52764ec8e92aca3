//! Planning for Zalo events (customer → Freshchat).
//!
//! - A customer's message becomes "ensure the contact" then "post as the customer" (media parts are
//!   copied by the executor; a caption becomes a text part; links, locations and business cards
//!   become text).
//! - OA staff typing in Zalo's own chat tool (`oa_send_*` with `admin_id`) becomes a private note.
//! - zfsync's own sends coming back as `oa_send_*` are ignored; while a send is in flight and its id
//!   unknown, an `oa_send_*` without `admin_id` is deferred (it may be that echo).
//! - Reactions become private notes; receipts and follow/unfollow are recorded, never posted.
//! - A list or template the OA sent from Zalo's tools (`oa_send_list`, `oa_send_template`) becomes a
//!   note with its readable content.
//! - `update_user_info` refreshes the contact's name and avatar; `user_withdraw` forgets the user
//!   after a private note that tells agents what to delete in Freshchat.
//! - `update_user_info` and `user_withdraw` that name the customer only by `user_id_by_app` (an empty
//!   `user_id`, as Zalo documents `update_user_info`) act on the OA user the store knows for it.
//! - An anonymous chat-widget visitor's message is synced like a follower's, into a Freshchat user of
//!   its own (one per visitor conversation, see `zfsync_zalo::visitor_key`) named by the rules
//!   (`[anonymous]`), without a Zalo profile; the OA's echoes to them are recognised like others.
//! - Group (GMF) and call events are ignored by name, never read as a customer's message.
//! - Tag events (`add_user_to_tag`, `remove_user_from_tag`, `remove_tag`) update the customers'
//!   Freshchat tag property (`[tags]`, unless `sync = false`); a tag created with nobody in it
//!   changes nothing.
//! - A customer's lone digit from 1 to 5 answering the rating question of a resolve notice in time
//!   is recorded as their rating (`[csat]`), never posted as a message.
//! - `user_submit_info` (contact details the customer chose to give) fills the Freshchat user's
//!   fields `[contact_info]` switches on.
//! - ZNS receipts, widget events and unknown events are ignored with a named reason.

use zfsync_zalo::{
    AnonymousMessage, Attachment, OutOfScope, SubmittedInfo, TagEvent, TagEventKind, UserMessage,
    UserMessageKind, ZaloEvent,
};

use crate::agents::AgentText as A;
use crate::plan::{
    EnsureContact, ForgetUser, MediaKind, OutPart, Plan, PostToFreshchat, RecordFollow,
    RecordRating, RecordReceipt, RefreshContact, SaveContactInfo, Step, SyncZaloTags, TagChange,
    Visibility,
};
use crate::rules::Rules;
use crate::template::fill;

/// What the store knows that bears on a Zalo event.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ZaloKnowledge {
    /// The OA this daemon serves; events addressed to another OA are ignored.
    pub oa_id: String,
    /// The event's `msg_id` is a message zfsync itself sent (an echo).
    pub own_message: bool,
    /// A send from zfsync to this user is in flight and its id is not known yet.
    pub own_send_in_flight: bool,
    /// The text of the message a reaction points at, when known.
    pub reacted_text: Option<String>,
    /// The text of the message a customer's "Reply" quotes, when known.
    pub quoted_text: Option<String>,
    /// The event came from `zfsync backfill`: its original time, as agents should read it. A
    /// customer's message then carries this time; a message the OA sent becomes a note with it.
    pub backfilled_at: Option<String>,
    /// For `update_user_info` / `user_withdraw` with an empty `user_id`: the OA user the store
    /// knows for the event's `user_id_by_app`.
    pub app_user: Option<String>,
    /// For a customer's message: the conversation whose resolve notice asked them for a rating,
    /// when that question is unanswered and younger than `csat.window_hours`.
    pub rating_asked_in: Option<String>,
}

/// Plans one Zalo event.
pub fn plan_zalo(event: &ZaloEvent, k: &ZaloKnowledge, rules: &Rules) -> Plan {
    match event {
        ZaloEvent::UserMessage(m) => {
            if !same_oa(&m.oa_id, &k.oa_id) {
                return Plan::ignore(format!("message for another OA ({})", m.oa_id));
            }
            if let Some(step) = rating(m, k, rules) {
                return Plan::steps(vec![step]);
            }
            let mut parts = customer_parts(m, rules);
            if let Some(quoted) = k
                .quoted_text
                .as_deref()
                .filter(|_| m.quote_msg_id.is_some())
            {
                let line = fill(
                    &rules.zalo_to_freshchat.reply_quote,
                    &[("quoted", &preview(quoted, 200))],
                );
                match parts.first_mut() {
                    Some(OutPart::Text(t)) => *t = format!("{line}\n{t}"),
                    _ => parts.insert(0, OutPart::Text(line)),
                }
            }
            if parts.is_empty() {
                return Plan::ignore("empty message");
            }
            if let Some(time) = &k.backfilled_at {
                let line = fill(&rules.backfill_texts().customer_prefix, &[("time", time)]);
                match parts.first_mut() {
                    Some(OutPart::Text(t)) => *t = format!("{line}\n{t}"),
                    _ => parts.insert(0, OutPart::Text(line)),
                }
            }
            Plan::steps(vec![
                ensure_contact(&m.user_id, &k.oa_id, rules),
                Step::PostToFreshchat(PostToFreshchat {
                    zalo_user_id: m.user_id.clone(),
                    zalo_msg_id: Some(m.msg_id.clone()),
                    visibility: Visibility::Customer,
                    parts,
                }),
            ])
        }
        ZaloEvent::OaMessage(m) => {
            if !same_oa(&m.oa_id, &k.oa_id) {
                return Plan::ignore(format!("message from another OA ({})", m.oa_id));
            }
            if k.own_message {
                return Plan::ignore("echo of a message zfsync sent");
            }
            if let Some(time) = &k.backfilled_at {
                // Old history: whoever sent it, agents see it as part of the exchange.
                let text = describe(m.text.as_deref(), &m.attachments, rules);
                let note = fill(
                    &rules.backfill_texts().oa_note,
                    &[("time", time), ("text", &text)],
                );
                return note_plan(&m.user_id, &m.msg_id, &k.oa_id, note, rules);
            }
            let note = match &m.admin_id {
                Some(_) => staff_note(m.text.as_deref(), &m.attachments, rules),
                None if k.own_send_in_flight => return Plan::defer(),
                None => fill(
                    rules.agent_text(A::OtherAppNote),
                    &[("text", &describe(m.text.as_deref(), &m.attachments, rules))],
                ),
            };
            note_plan(&m.user_id, &m.msg_id, &k.oa_id, note, rules)
        }
        ZaloEvent::UserReacted {
            oa_id,
            user_id,
            msg_id,
            react_icon,
            ..
        } => {
            if !same_oa(oa_id, &k.oa_id) {
                return Plan::ignore(format!("reaction for another OA ({oa_id})"));
            }
            let icon = rules.reaction_icon(react_icon);
            let note = match &k.reacted_text {
                Some(quoted) => fill(
                    rules.agent_text(A::ReactionNote),
                    &[("icon", icon), ("quoted", &preview(quoted, 200))],
                ),
                None => fill(
                    rules.agent_text(A::ReactionNoteUnknown),
                    &[("icon", icon)],
                ),
            };
            let reaction_id = format!("reaction:{msg_id}:{react_icon}");
            note_plan(user_id, &reaction_id, &k.oa_id, note, rules)
        }
        ZaloEvent::OaReacted { .. } => Plan::ignore("reactions by the OA are not mirrored"),
        ZaloEvent::UserReceived {
            user_id, msg_ids, ..
        } => Plan::steps(vec![Step::RecordReceipt(RecordReceipt {
            zalo_user_id: user_id.clone(),
            msg_ids: msg_ids.clone(),
            seen: false,
        })]),
        ZaloEvent::UserSeen {
            user_id, msg_ids, ..
        } => Plan::steps(vec![Step::RecordReceipt(RecordReceipt {
            zalo_user_id: user_id.clone(),
            msg_ids: msg_ids.clone(),
            seen: true,
        })]),
        ZaloEvent::Follow { user_id, .. } => Plan::steps(vec![Step::RecordFollow(RecordFollow {
            zalo_user_id: user_id.clone(),
            following: true,
        })]),
        ZaloEvent::Unfollow { user_id, .. } => {
            Plan::steps(vec![Step::RecordFollow(RecordFollow {
                zalo_user_id: user_id.clone(),
                following: false,
            })])
        }
        ZaloEvent::UserClickChatNow { .. } => Plan::ignore(
            "the customer opened the chat; the conversation starts with their first message",
        ),
        ZaloEvent::UserSubmitInfo {
            oa_id,
            user_id,
            info,
            ..
        } => {
            if !same_oa(oa_id, &k.oa_id) {
                return Plan::ignore(format!("contact details for another OA ({oa_id})"));
            }
            plan_submitted(user_id, info, rules)
        }
        ZaloEvent::Anonymous(a) => plan_anonymous(a, k, rules),
        ZaloEvent::OutOfScope {
            kind, event_name, ..
        } => Plan::ignore(match kind {
            OutOfScope::Group => format!(
                "Zalo group chat (GMF) event {event_name}: zfsync syncs one-to-one conversations only"
            ),
            OutOfScope::Call => {
                format!("Zalo call event {event_name}: calls are not synced to Freshchat")
            }
        }),
        ZaloEvent::UpdateUserInfo { .. }
        | ZaloEvent::UserWithdraw { .. }
        | ZaloEvent::Tag(_)
        | ZaloEvent::Widget(_)
        | ZaloEvent::ZnsReceipt(_) => plan_management(event, k, rules),
        ZaloEvent::Unknown { event_name, .. } => Plan::ignore(format!(
            "no rule for Zalo event {}",
            event_name.as_deref().unwrap_or("without a name")
        )),
    }
}

/// A customer's lone digit answering a rating question in time: the rating, instead of a message.
fn rating(m: &UserMessage, k: &ZaloKnowledge, rules: &Rules) -> Option<Step> {
    let conversation = k.rating_asked_in.as_ref()?;
    if k.backfilled_at.is_some() || m.kind != UserMessageKind::Text || !m.attachments.is_empty() {
        return None;
    }
    let score = crate::csat::rating_of(m.text.as_deref()?)?;
    let note = fill(
        &rules.csat_texts(&rules.agents.language).rated_note,
        &[("score", &score.to_string())],
    );
    Some(Step::RecordRating(RecordRating {
        zalo_user_id: m.user_id.clone(),
        conversation_id: conversation.clone(),
        score,
        note,
        property: rules.csat.property.clone(),
    }))
}

/// The plan for a customer's `user_submit_info`: fill what the rules switch on, and a note naming
/// what the customer gave (`{fields}` is filled when Freshchat took it).
fn plan_submitted(user_id: &str, info: &SubmittedInfo, rules: &Rules) -> Plan {
    if user_id.is_empty() {
        return Plan::ignore("user_submit_info without a user");
    }
    let r = &rules.contact_info;
    let t = rules.contact_info_texts(&rules.agents.language);
    let label = |k: &str| t.labels.get(k).cloned().unwrap_or_else(|| k.to_string());
    let address = [&info.address, &info.ward, &info.district, &info.city]
        .into_iter()
        .flatten()
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(", ");
    let address = Some(address).filter(|a| !a.is_empty());
    let mut details = Vec::new();
    for (key, value) in [
        ("name", &info.name),
        ("phone", &info.phone),
        ("email", &info.email),
        ("address", &address),
    ] {
        if let Some(v) = value {
            details.push(format!("{}: {v}", label(key)));
        }
    }
    if details.is_empty() {
        return Plan::ignore("user_submit_info with no details");
    }
    let note = fill(&t.submitted_note, &[("details", &details.join("\n"))]);
    Plan::steps(vec![Step::SaveContactInfo(SaveContactInfo {
        zalo_user_id: user_id.to_string(),
        name: info.name.clone().filter(|_| r.fill_name),
        phone: info.phone.clone().filter(|_| r.fill_phone),
        email: info.email.clone().filter(|_| r.fill_email),
        address: address.filter(|_| !r.address_property.is_empty()),
        address_property: r.address_property.clone(),
        note,
    })])
}

/// User-management events, ZNS receipts, tag and widget events.
fn plan_management(event: &ZaloEvent, k: &ZaloKnowledge, rules: &Rules) -> Plan {
    let name = event.event_name();
    match event {
        ZaloEvent::UpdateUserInfo {
            oa_id,
            user_id,
            user_id_by_app,
            ..
        } => {
            if !same_oa(oa_id, &k.oa_id) {
                return Plan::ignore(format!("profile change for another OA ({oa_id})"));
            }
            match resolve_user(user_id, user_id_by_app.as_deref(), k) {
                Ok(user) => Plan::steps(vec![Step::RefreshContact(RefreshContact {
                    zalo_user_id: user,
                })]),
                Err(why) => Plan::ignore(format!("update_user_info {why}: no profile to refresh")),
            }
        }
        ZaloEvent::UserWithdraw {
            oa_id,
            user_id,
            user_id_by_app,
            ..
        } => {
            if !same_oa(oa_id, &k.oa_id) {
                return Plan::ignore(format!("consent withdrawn for another OA ({oa_id})"));
            }
            match resolve_user(user_id, user_id_by_app.as_deref(), k) {
                Ok(user) => Plan::steps(vec![Step::ForgetUser(ForgetUser {
                    zalo_user_id: user,
                    note: rules.agent_text(A::WithdrawNote).to_owned(),
                })]),
                Err(why) => Plan::ignore(format!(
                    "user_withdraw {why}: zfsync holds nothing about this customer"
                )),
            }
        }
        ZaloEvent::Tag(t) => plan_tag(t, k, rules),
        ZaloEvent::Widget(_) => {
            Plan::ignore(format!("Zalo chat-widget events are not synced ({name})"))
        }
        ZaloEvent::ZnsReceipt(_) => Plan::ignore(
            "ZNS delivery receipt: a Zalo Notification Service template sent to a phone number (another product), not an OA chat message",
        ),
        _ => Plan::ignore(format!("no rule for Zalo event {name}")),
    }
}

/// A tag event: the change, for the customers it names.
fn plan_tag(t: &TagEvent, k: &ZaloKnowledge, rules: &Rules) -> Plan {
    let name = t.kind.event_name();
    if !rules.tags.sync {
        return Plan::ignore(format!(
            "Zalo tag changes stay in Zalo ({name}; tags.sync is off)"
        ));
    }
    if !same_oa(&t.oa_id, &k.oa_id) {
        return Plan::ignore(format!("tag change for another OA ({})", t.oa_id));
    }
    if t.tag_name.trim().is_empty() {
        return Plan::ignore(format!("{name} without a tag name"));
    }
    let tag = t.tag_name.clone();
    let users: Vec<String> = t
        .user_ids
        .iter()
        .filter(|u| !u.is_empty())
        .cloned()
        .collect();
    let change = match t.kind {
        TagEventKind::TagRemoved => TagChange::Deleted(tag),
        // Zalo documents the creation of a tag under this name, without users.
        TagEventKind::UserAdded if users.is_empty() => {
            return Plan::ignore(format!(
                "Zalo tag {:?} created; no customer has it yet",
                t.tag_name
            ))
        }
        TagEventKind::UserAdded => TagChange::Added(tag),
        TagEventKind::UserRemoved if users.is_empty() => {
            return Plan::ignore(format!("{name} names no customer"))
        }
        TagEventKind::UserRemoved => TagChange::Removed(tag),
    };
    Plan::steps(vec![Step::SyncZaloTags(SyncZaloTags {
        zalo_user_ids: users,
        change,
    })])
}

/// The OA user a management event is about: its `user_id`, else the user the store knows for its
/// `user_id_by_app`. The error says why there is none (for the ignore reason).
fn resolve_user(
    user_id: &str,
    user_id_by_app: Option<&str>,
    k: &ZaloKnowledge,
) -> Result<String, String> {
    if !user_id.is_empty() {
        return Ok(user_id.to_string());
    }
    match (user_id_by_app, &k.app_user) {
        (Some(_), Some(user)) => Ok(user.clone()),
        (Some(by_app), None) => Err(format!(
            "names the customer only by their app-scoped id ({by_app}), which zfsync has not seen with an OA user id"
        )),
        (None, _) => Err("has neither a user_id nor a user_id_by_app".to_string()),
    }
}

/// An anonymous chat-widget visitor's message (or the OA's message to one).
fn plan_anonymous(a: &AnonymousMessage, k: &ZaloKnowledge, rules: &Rules) -> Plan {
    if !same_oa(&a.oa_id, &k.oa_id) {
        return Plan::ignore(format!("anonymous message for another OA ({})", a.oa_id));
    }
    if a.conversation_id.is_none() {
        return Plan::ignore(format!(
            "{} without a conversation_id: the visitor could not be answered",
            a.event_name
        ));
    }
    let visitor = a.visitor.as_str();
    if a.from_oa {
        if k.own_message {
            return Plan::ignore("echo of a message zfsync sent");
        }
        if k.own_send_in_flight {
            return Plan::defer();
        }
        let note = fill(
            rules.agent_text(A::OtherAppNote),
            &[("text", &describe(a.text.as_deref(), &a.attachments, rules))],
        );
        return Plan::steps(vec![
            ensure_visitor(visitor, &a.anonymous_id, &k.oa_id, rules),
            Step::PostToFreshchat(PostToFreshchat {
                zalo_user_id: visitor.to_string(),
                zalo_msg_id: Some(a.msg_id.clone()),
                visibility: Visibility::PrivateNote,
                parts: vec![OutPart::Text(note)],
            }),
        ]);
    }
    let mut parts = Vec::new();
    if let Some(t) = a.text.as_deref().filter(|t| !t.trim().is_empty()) {
        parts.push(OutPart::Text(t.to_string()));
    }
    parts.extend(
        a.attachments
            .iter()
            .filter_map(|x| attachment_part(x, rules)),
    );
    if parts.is_empty() {
        return Plan::ignore("empty message");
    }
    Plan::steps(vec![
        ensure_visitor(visitor, &a.anonymous_id, &k.oa_id, rules),
        Step::PostToFreshchat(PostToFreshchat {
            zalo_user_id: visitor.to_string(),
            zalo_msg_id: Some(a.msg_id.clone()),
            visibility: Visibility::Customer,
            parts,
        }),
    ])
}

/// The step that makes sure an anonymous visitor's conversation has a Freshchat user, named by the
/// rules from the anonymous id (a visitor has no Zalo profile).
fn ensure_visitor(visitor: &str, anonymous_id: &str, oa_id: &str, rules: &Rules) -> Step {
    let c = &rules.contact;
    let name = fill(
        &rules.anonymous_texts().display_name,
        &[("short_id", &short_id(anonymous_id))],
    );
    Step::EnsureContact(EnsureContact {
        zalo_user_id: visitor.to_string(),
        oa_id: oa_id.to_string(),
        reference_id: fill(
            &c.reference_id,
            &[("oa_id", oa_id), ("zalo_user_id", visitor)],
        ),
        first_name: c.first_name.clone(),
        last_name: c.last_name.clone(),
        fallback_display_name: name,
        provider: c.provider.clone(),
        anonymous: true,
    })
}

fn same_oa(event_oa: &str, ours: &str) -> bool {
    event_oa.is_empty() || ours.is_empty() || event_oa == ours
}

fn note_plan(user_id: &str, msg_id: &str, oa_id: &str, note: String, rules: &Rules) -> Plan {
    Plan::steps(vec![
        ensure_contact(user_id, oa_id, rules),
        Step::PostToFreshchat(PostToFreshchat {
            zalo_user_id: user_id.to_string(),
            zalo_msg_id: Some(msg_id.to_string()),
            visibility: Visibility::PrivateNote,
            parts: vec![OutPart::Text(note)],
        }),
    ])
}

/// The step that makes sure a Zalo user has a Freshchat user, with the naming rules filled in.
pub fn ensure_contact(user_id: &str, oa_id: &str, rules: &Rules) -> Step {
    let c = &rules.contact;
    Step::EnsureContact(EnsureContact {
        zalo_user_id: user_id.to_string(),
        oa_id: oa_id.to_string(),
        reference_id: fill(
            &c.reference_id,
            &[("oa_id", oa_id), ("zalo_user_id", user_id)],
        ),
        first_name: c.first_name.clone(),
        last_name: c.last_name.clone(),
        fallback_display_name: fallback_display_name(user_id, rules),
        provider: c.provider.clone(),
        anonymous: false,
    })
}

/// The name a customer's Freshchat user has while Zalo's profile is not known (or after the
/// details they gave were erased): `contact.fallback_display_name` filled in.
pub fn fallback_display_name(user_id: &str, rules: &Rules) -> String {
    fill(
        &rules.contact.fallback_display_name,
        &[("short_id", &short_id(user_id))],
    )
}

fn short_id(user_id: &str) -> String {
    let chars: Vec<char> = user_id.chars().collect();
    chars[chars.len().saturating_sub(4)..].iter().collect()
}

fn customer_parts(m: &UserMessage, rules: &Rules) -> Vec<OutPart> {
    let text = m.text.as_deref().map(str::trim).filter(|t| !t.is_empty());
    let mut parts = Vec::new();
    match m.kind {
        UserMessageKind::Text => {
            if let Some(t) = m.text.as_deref().filter(|t| !t.is_empty()) {
                parts.push(OutPart::Text(t.to_string()));
            }
        }
        UserMessageKind::Location => {
            for a in &m.attachments {
                if let Attachment::Location {
                    latitude,
                    longitude,
                } = a
                {
                    let vars = [
                        ("latitude", latitude.as_str()),
                        ("longitude", longitude.as_str()),
                    ];
                    parts.push(OutPart::Text(match text {
                        Some(title) => fill(
                            rules.agent_text(A::LocationWithTitle),
                            &[vars[0], vars[1], ("title", title)],
                        ),
                        None => fill(rules.agent_text(A::Location), &vars),
                    }));
                }
            }
        }
        UserMessageKind::BusinessCard => {
            let name = text.unwrap_or("");
            parts.push(OutPart::Text(fill(
                rules.agent_text(A::BusinessCard),
                &[("name", name)],
            )));
        }
        _ => {
            // A shared link's text is usually the URL itself, which the link part shows anyway.
            let repeats_a_link = |t: &str| {
                m.attachments
                    .iter()
                    .any(|a| matches!(a, Attachment::Link { url, .. } if url.trim() == t))
            };
            if let Some(caption) = text.filter(|t| !repeats_a_link(t)) {
                parts.push(OutPart::Text(caption.to_string()));
            }
            for a in &m.attachments {
                if let Some(p) = attachment_part(a, rules) {
                    parts.push(p);
                }
            }
        }
    }
    parts
}

fn media(
    kind: MediaKind,
    url: &str,
    filename: Option<&str>,
    size: Option<u64>,
    rules: &Rules,
) -> OutPart {
    let r = &rules.zalo_to_freshchat;
    let label = kind.label();
    OutPart::Media {
        kind,
        url: url.to_string(),
        filename: filename.map(str::to_string),
        size,
        max_bytes: r.max_media_bytes,
        fallback_text: fill(rules.agent_text(A::MediaFailed), &[("kind", label)]),
        // The note stays in Freshchat: the link without its query (often a signed credential).
        failure_note: fill(
            rules.agent_text(A::MediaFailedNote),
            &[("kind", label), ("url", &crate::redact::url(url))],
        ),
    }
}

fn attachment_part(a: &Attachment, rules: &Rules) -> Option<OutPart> {
    let r = &rules.zalo_to_freshchat;
    Some(match a {
        Attachment::Image { url, .. } => media(MediaKind::Image, url, None, None, rules),
        Attachment::Gif { url, .. } => media(MediaKind::Gif, url, None, None, rules),
        Attachment::Sticker { url: Some(url), .. } => {
            media(MediaKind::Sticker, url, None, None, rules)
        }
        Attachment::Sticker { url: None, id } => {
            OutPart::Text(format!("[sticker {}]", id.as_deref().unwrap_or("")))
        }
        Attachment::Audio { url } => media(MediaKind::Audio, url, None, None, rules),
        Attachment::Video { url, .. } => media(MediaKind::Video, url, None, None, rules),
        Attachment::File {
            url, name, size, ..
        } => media(MediaKind::File, url, name.as_deref(), *size, rules),
        Attachment::Link { url, .. } if url.is_empty() => {
            return readable_item(a, rules).map(OutPart::Text)
        }
        Attachment::Link {
            url,
            title,
            description,
            ..
        } => {
            // Zalo's own link events carry the page's description, not a title.
            let title = title.as_deref().or(description.as_deref());
            OutPart::Text(match title.filter(|t| !t.trim().is_empty()) {
                Some(title) => fill(&r.link_with_title, &[("url", url), ("title", title)]),
                None => fill(&r.link, &[("url", url)]),
            })
        }
        Attachment::Template { .. } => return readable_item(a, rules).map(OutPart::Text),
        Attachment::Location {
            latitude,
            longitude,
        } => OutPart::Text(fill(
            rules.agent_text(A::Location),
            &[("latitude", latitude), ("longitude", longitude)],
        )),
        Attachment::Other { .. } => return None,
    })
}

fn staff_note(text: Option<&str>, attachments: &[Attachment], rules: &Rules) -> String {
    let mut lines = Vec::new();
    if let Some(t) = readable(text, attachments, rules) {
        lines.push(fill(rules.agent_text(A::StaffNote), &[("text", &t)]));
    }
    for a in attachments {
        if let Some((kind, url)) = attachment_url(a) {
            lines.push(fill(
                rules.agent_text(A::StaffMediaNote),
                &[("kind", kind), ("url", &url)],
            ));
        }
    }
    if lines.is_empty() {
        lines.push(fill(
            rules.agent_text(A::StaffNote),
            &[("text", "(no text)")],
        ));
    }
    lines.join("\n")
}

/// The text of an OA message as a person reads it: its text, then the items of a list and the text
/// of a template (their links included). None when there is none of these.
fn readable(text: Option<&str>, attachments: &[Attachment], rules: &Rules) -> Option<String> {
    let mut lines: Vec<String> = text
        .filter(|t| !t.trim().is_empty())
        .map(str::to_string)
        .into_iter()
        .collect();
    lines.extend(attachments.iter().filter_map(|a| readable_item(a, rules)));
    (!lines.is_empty()).then(|| lines.join("\n"))
}

/// A list item (a link inside an OA message) or a template, as text.
fn readable_item(a: &Attachment, rules: &Rules) -> Option<String> {
    let r = &rules.zalo_events;
    let nonempty = |s: &Option<String>| s.clone().filter(|x| !x.trim().is_empty());
    match a {
        Attachment::Link {
            url,
            title,
            description,
            ..
        } => {
            let label = nonempty(title).or_else(|| nonempty(description));
            Some(match (label, url.is_empty()) {
                (Some(t), true) => fill(&r.list_item, &[("title", &t)]),
                (Some(t), false) => fill(&r.list_item_with_url, &[("title", &t), ("url", url)]),
                (None, false) => fill(&r.list_item, &[("title", url)]),
                (None, true) => return None,
            })
        }
        Attachment::Template {
            zinstant_id,
            text,
            link_url,
            ..
        } => {
            let t = nonempty(text).unwrap_or_else(|| zinstant_id.clone());
            Some(match link_url {
                Some(u) => fill(
                    rules.agent_text(A::EventTemplateWithUrl),
                    &[("text", &t), ("url", u)],
                ),
                None => fill(rules.agent_text(A::EventTemplate), &[("text", &t)]),
            })
        }
        _ => None,
    }
}

/// Media of an OA message: everything with a URL except list items and templates (those are text);
/// the kind and the link as a note shows it (no query string, no fragment: a storage link's query is
/// often its credential).
fn attachment_url(a: &Attachment) -> Option<(&'static str, String)> {
    let (kind, url) = match a {
        Attachment::Link { .. } | Attachment::Template { .. } => None,
        Attachment::Image { url, .. } => Some(("image", url)),
        Attachment::Gif { url, .. } => Some(("GIF", url)),
        Attachment::Sticker { url: Some(url), .. } => Some(("sticker", url)),
        Attachment::Audio { url } => Some(("voice message", url)),
        Attachment::Video { url, .. } => Some(("video", url)),
        Attachment::File { url, .. } => Some(("file", url)),
        _ => None,
    }?;
    Some((kind, crate::redact::url(url)))
}

fn describe(text: Option<&str>, attachments: &[Attachment], rules: &Rules) -> String {
    let mut out: Vec<String> = readable(text, attachments, rules).into_iter().collect();
    out.extend(
        attachments
            .iter()
            .filter_map(attachment_url)
            .map(|(k, u)| format!("[{k}] {u}")),
    );
    if out.is_empty() {
        "(no text)".into()
    } else {
        out.join("\n")
    }
}

fn preview(text: &str, max_chars: usize) -> String {
    if text.chars().count() <= max_chars {
        text.to_string()
    } else {
        let mut s: String = text.chars().take(max_chars).collect();
        s.push('…');
        s
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn submitted_details_fill_what_is_switched_on() {
        let mut rules = Rules::default().with_agent_language("en").unwrap();
        let info = SubmittedInfo {
            name: Some("Tò Trần".into()),
            phone: Some("841213333111".into()),
            address: Some("Aaaaaass".into()),
            city: Some("Vĩnh Long".into()),
            ..Default::default()
        };
        let Step::SaveContactInfo(s) = &plan_submitted("u1", &info, &rules).steps[0] else {
            panic!("not saved")
        };
        assert_eq!(s.name.as_deref(), Some("Tò Trần"));
        assert_eq!(s.phone.as_deref(), Some("841213333111"));
        assert_eq!(s.address.as_deref(), Some("Aaaaaass, Vĩnh Long"));
        assert!(s.note.contains("Phone: 841213333111"), "{}", s.note);
        rules.contact_info.fill_phone = false;
        rules.contact_info.address_property.clear();
        let Step::SaveContactInfo(s) = &plan_submitted("u1", &info, &rules).steps[0] else {
            panic!("not saved")
        };
        assert_eq!((s.phone.as_deref(), s.address.as_deref()), (None, None));
        assert!(plan_submitted("u1", &SubmittedInfo::default(), &rules)
            .steps
            .is_empty());
    }
}
