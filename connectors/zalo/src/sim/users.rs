//! What the simulated people do, turned into state and signed webhooks: users ([`UserAction`]: every
//! user event of the corpus), anonymous chat-widget visitors ([`AnonymousAction`]) and OA staff in
//! Zalo's chat tool ([`StaffAction`], echoed with `sender.admin_id`); plus past history seeded without
//! webhooks for backfill tests.
//!
//! Messages open the 7-day CS window and a new free-reply frame; so do follows, "chat now" clicks
//! and submitted forms. Reactions, read receipts, unfollows and management events do not. Media
//! bytes are kept and served on the API listener. Nothing here fails; a queue that is full makes the
//! caller wait.

use bytes::Bytes;
use serde_json::{json, Value};

use super::actions::{AnonymousAction, StaffAction, SubmittedInfo, UserAction};
use super::events::{self, AnonMsg, Event, Naming, OaMsg, UserMsg};
use super::state::{AssetKind, HistItem, St};
use super::wire;
use super::ZaloSim;

/// A 1×1 transparent GIF: the picture of every sticker.
const PIXEL_GIF: &[u8] = b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;";
/// A 1×1 transparent PNG: video thumbnails and the OA avatar.
pub(crate) const TINY_PNG: &[u8] = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89\x00\x00\x00\x0bIDATx\x9cc`\x00\x02\x00\x00\x05\x00\x01z^\xab?\x00\x00\x00\x00IEND\xaeB`\x82";

/// `info` of `user_submit_info`: the phone as a JSON number when it is all digits, as Zalo sends it.
fn info_json(i: &SubmittedInfo) -> Value {
    let phone = match i.phone.parse::<u64>() {
        Ok(n) if !i.phone.starts_with('0') => json!(n),
        _ => json!(i.phone),
    };
    json!({"address": i.address, "phone": phone, "city": i.city, "district": i.district,
        "name": i.name, "ward": i.ward})
}

/// What `user/detail` shows as `shared_info` afterwards (phone as a string there).
fn shared_info_json(i: &SubmittedInfo) -> Value {
    json!({"address": i.address, "city": i.city, "district": i.district, "phone": i.phone, "name": i.name})
}

impl ZaloSim {
    /// The URL of a served asset: on the API's address, or under the CDN host name set.
    pub(crate) fn media_url(&self, id: &str) -> String {
        let base = match super::lock(&self.core.media_host).as_deref() {
            Some(host) => format!("http://{host}:{}", self.core.api_base.port().unwrap_or(80)),
            None => self.core.api_base.as_str().trim_end_matches('/').to_owned(),
        };
        format!("{base}{}/{id}", wire::MEDIA_PREFIX)
    }

    /// A sticker's picture URL, with the literal `&amp;` Zalo's sticker URLs carry.
    pub(crate) fn sticker_url(&self, st: &mut St, sticker_id: &str, now: i64) -> String {
        let clean: String = sticker_id
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .collect();
        let id = format!("sticker-{clean}");
        if !st.assets.contains_key(&id) {
            st.assets.insert(
                id.clone(),
                super::state::Asset {
                    kind: AssetKind::Media,
                    filename: format!("{id}.gif"),
                    content_type: "image/gif".into(),
                    bytes: Bytes::from_static(PIXEL_GIF),
                    created_ms: now,
                },
            );
        }
        format!("{}?eid={clean}&amp;size=130", self.media_url(&id))
    }

    pub(crate) fn serve(
        &self,
        st: &mut St,
        name: &str,
        content_type: &str,
        bytes: Bytes,
        now: i64,
    ) -> String {
        let id = st.store_asset(AssetKind::Media, name, content_type, bytes, now);
        self.media_url(&id)
    }

    fn file_attachment(&self, st: &mut St, name: &str, bytes: Bytes, now: i64) -> (Value, String) {
        let ct = mime_guess::from_path(name)
            .first_or_octet_stream()
            .essence_str()
            .to_owned();
        let size = bytes.len();
        let checksum = wire::derived_hex(&format!(
            "{name}:{size}:{}",
            hex::encode(&bytes[..size.min(64)])
        ));
        let url = self.serve(st, name, &ct, bytes, now);
        (
            events::att_file(&url, name, size, &checksum, &wire::extension(name)),
            url,
        )
    }

    fn picture(&self, st: &mut St, bytes: Bytes, now: i64) -> String {
        let (name, ct) = if bytes.starts_with(b"\x89PNG") {
            ("image.png", "image/png")
        } else {
            ("image.jpg", "image/jpeg")
        };
        self.serve(st, name, ct, bytes, now)
    }

    /// A user acts: state, history and the signed webhook. See [`UserAction`] for the return value.
    pub(crate) async fn act(&self, user_id: &str, action: UserAction) -> String {
        let (event, returned) = self.apply_act(user_id, action);
        if let Some(e) = event {
            self.emit(e).await;
        }
        returned
    }

    fn apply_act(&self, user_id: &str, action: UserAction) -> (Option<Event>, String) {
        let cfg = self.config();
        let now = self.now_ms();
        let ctx = self.ctx(now);
        let msg_id = wire::new_msg_id();
        let mut st = self.st();
        let by_app = st.user_mut(user_id, &cfg).by_app.clone();
        let message = |name: &str, text: Option<&str>, quote: Option<&str>, att: Vec<Value>| {
            events::user_message(
                &ctx,
                UserMsg {
                    event_name: name,
                    user_id,
                    by_app: &by_app,
                    msg_id: &msg_id,
                    text,
                    quote,
                    attachments: att,
                },
            )
        };
        let (event, hist): (Option<Event>, Option<HistItem>) = match &action {
            UserAction::Text(t) => (
                Some(message("user_send_text", Some(t), None, vec![])),
                Some(HistItem::text(true, now, t, &msg_id)),
            ),
            UserAction::Reply { text, quote_msg_id } => (
                Some(message(
                    "user_send_text",
                    Some(text),
                    Some(quote_msg_id),
                    vec![],
                )),
                Some(HistItem::text(true, now, text, &msg_id)),
            ),
            UserAction::Image { caption, bytes } => {
                let url = self.picture(&mut st, bytes.clone(), now);
                let c = caption.as_deref();
                (
                    Some(message(
                        "user_send_image",
                        c,
                        None,
                        vec![events::att_picture("image", &url)],
                    )),
                    Some(HistItem::media(
                        true,
                        now,
                        "photo",
                        c.unwrap_or(""),
                        &url,
                        &msg_id,
                    )),
                )
            }
            UserAction::Gif { bytes } => {
                let url = self.serve(&mut st, "image.gif", "image/gif", bytes.clone(), now);
                (
                    Some(message(
                        "user_send_gif",
                        None,
                        None,
                        vec![events::att_picture("gif", &url)],
                    )),
                    Some(HistItem::media(true, now, "GIF", "", &url, &msg_id)),
                )
            }
            UserAction::Sticker { id } => {
                let url = self.sticker_url(&mut st, id, now);
                (
                    Some(message(
                        "user_send_sticker",
                        None,
                        None,
                        vec![events::att_sticker(&url, id)],
                    )),
                    Some(HistItem::media(true, now, "sticker", "", &url, &msg_id)),
                )
            }
            UserAction::File { name, bytes } => {
                let (att, url) = self.file_attachment(&mut st, name, bytes.clone(), now);
                let mut h = HistItem::media(true, now, "file", "", &url, &msg_id);
                h.description = Some(name.clone());
                (
                    Some(message("user_send_file", None, None, vec![att])),
                    Some(h),
                )
            }
            UserAction::Audio { bytes } => {
                let url = self.serve(&mut st, "voice.amr", "audio/amr", bytes.clone(), now);
                (
                    Some(message(
                        "user_send_audio",
                        None,
                        None,
                        vec![events::att_audio(&url)],
                    )),
                    Some(HistItem::media(true, now, "voice", "", &url, &msg_id)),
                )
            }
            UserAction::Video { bytes } => {
                let url = self.serve(&mut st, "video.mp4", "video/mp4", bytes.clone(), now);
                let thumb = self.serve(
                    &mut st,
                    "thumb.png",
                    "image/png",
                    Bytes::from_static(TINY_PNG),
                    now,
                );
                let mut h = HistItem::media(true, now, "video", "", &url, &msg_id);
                h.thumb = Some(thumb.clone());
                (
                    Some(message(
                        "user_send_video",
                        None,
                        None,
                        vec![events::att_video(&url, &thumb)],
                    )),
                    Some(h),
                )
            }
            UserAction::Location {
                latitude,
                longitude,
            }
            | UserAction::Place {
                latitude,
                longitude,
                ..
            } => {
                let name = match &action {
                    UserAction::Place { name, .. } => Some(name.as_str()),
                    _ => None,
                };
                let mut h = HistItem::text(true, now, name.unwrap_or(""), &msg_id);
                h.kind = "location";
                h.location = Some(json!({"latitude": latitude, "longitude": longitude}));
                let att = events::att_location(latitude, longitude);
                (
                    Some(message("user_send_location", name, None, vec![att])),
                    Some(h),
                )
            }
            UserAction::Link { url, title } => {
                let desc = title.clone().unwrap_or_default();
                let mut h = HistItem::media(true, now, "link", url, url, &msg_id);
                h.thumb = None;
                h.description = Some(desc.clone());
                let att = events::att_link("", &desc, url);
                (
                    Some(message("user_send_link", Some(url), None, vec![att])),
                    Some(h),
                )
            }
            UserAction::BusinessCard { name, phone } => {
                let qr = self.sticker_url(&mut st, &format!("qr{phone}"), now);
                let desc = json!({"phone": phone, "qrCodeUrl": qr}).to_string();
                let mut h = HistItem::media(true, now, "link", name, &qr, &msg_id);
                h.description = Some(desc.clone());
                let att = events::att_link(&qr, &desc, &qr);
                (
                    Some(message(
                        "user_send_business_card",
                        Some(name),
                        None,
                        vec![att],
                    )),
                    Some(h),
                )
            }
            UserAction::Reaction {
                msg_id: target,
                icon,
            } => (
                Some(events::reaction(
                    &ctx, user_id, &by_app, target, icon, false,
                )),
                None,
            ),
            UserAction::Follow => (
                Some(events::follow(&ctx, user_id, &by_app, "oa_profile", true)),
                None,
            ),
            UserAction::FollowVia { source } => (
                Some(events::follow(&ctx, user_id, &by_app, source, true)),
                None,
            ),
            UserAction::Unfollow => (
                Some(events::follow(&ctx, user_id, &by_app, "oa_profile", false)),
                None,
            ),
            UserAction::ClickChatNow => {
                // Sent once per user, and only to someone who never chatted with the OA.
                let u = st.user_mut(user_id, &cfg);
                let first = !u.has_written && !u.clicked_chatnow;
                u.clicked_chatnow = true;
                (
                    first.then(|| events::click_chatnow(&ctx, user_id, &by_app)),
                    None,
                )
            }
            UserAction::SubmitInfo(info) => {
                st.user_mut(user_id, &cfg).shared_info = Some(shared_info_json(info));
                (
                    Some(events::submit_info(&ctx, user_id, info_json(info))),
                    None,
                )
            }
            // As documented: `user_id` empty, the user named by `user_id_by_app` only.
            UserAction::UpdateInfo { method } => (
                Some(events::user_management(
                    &ctx,
                    "update_user_info",
                    user_id,
                    &by_app,
                    Naming::AppOnly,
                    Some(json!({"method": method})),
                )),
                None,
            ),
            UserAction::Withdraw => (
                Some(events::user_management(
                    &ctx,
                    "user_withdraw",
                    user_id,
                    &by_app,
                    Naming::Both,
                    None,
                )),
                None,
            ),
            UserAction::WithdrawUnlinked => (
                Some(events::user_management(
                    &ctx,
                    "user_withdraw",
                    user_id,
                    &by_app,
                    Naming::Unlinked,
                    None,
                )),
                None,
            ),
            UserAction::Seen { msg_ids } => {
                let ids = if msg_ids.is_empty() {
                    st.take_unseen(user_id)
                } else {
                    msg_ids.clone()
                };
                (
                    (!ids.is_empty()).then(|| events::receipt(&ctx, user_id, Some(&ids), "")),
                    None,
                )
            }
            UserAction::Received { msg_id: m } => {
                (Some(events::receipt(&ctx, user_id, None, m)), None)
            }
        };
        let u = st.user_mut(user_id, &cfg);
        match &action {
            UserAction::Follow | UserAction::FollowVia { .. } => {
                u.user.follower = true;
                u.interacted(now);
            }
            UserAction::Unfollow => u.user.follower = false,
            UserAction::ClickChatNow | UserAction::SubmitInfo(_) => u.interacted(now),
            _ if hist.is_some() => {
                u.interacted(now);
                u.has_written = true;
            }
            _ => {}
        }
        let returned = match &action {
            UserAction::Reaction { msg_id: target, .. } => target.clone(),
            _ if hist.is_some() => msg_id.clone(),
            _ => String::new(),
        };
        if let Some(h) = hist {
            st.push_history(user_id, h);
        }
        (event, returned)
    }

    /// An anonymous visitor sends something; returns its `msg_id`.
    pub(crate) async fn anonymous_act(
        &self,
        anonymous_id: &str,
        action: AnonymousAction,
    ) -> String {
        let (ev, msg_id) = self.apply_anonymous(anonymous_id, action);
        self.emit(ev).await;
        msg_id
    }

    fn apply_anonymous(&self, anonymous_id: &str, action: AnonymousAction) -> (Event, String) {
        let cfg = self.config();
        let now = self.now_ms();
        let ctx = self.ctx(now);
        let msg_id = wire::new_msg_id();
        let mut st = self.st();
        let conv = st
            .anonymous
            .entry(anonymous_id.to_owned())
            .or_insert_with(|| wire::derived_hex(&format!("conversation:{anonymous_id}")))
            .clone();
        let (name, text, att): (&str, Option<String>, Vec<Value>) = match action {
            AnonymousAction::Text(t) => ("anonymous_send_text", Some(t), vec![]),
            AnonymousAction::Image { caption, bytes } => {
                let url = self.picture(&mut st, bytes, now);
                (
                    "anonymous_send_image",
                    caption,
                    vec![events::att_picture("image", &url)],
                )
            }
            AnonymousAction::Sticker { id } => {
                let url = self.sticker_url(&mut st, &id, now);
                (
                    "anonymous_send_sticker",
                    None,
                    vec![events::att_sticker(&url, &id)],
                )
            }
            AnonymousAction::File { name, bytes } => {
                let (att, _) = self.file_attachment(&mut st, &name, bytes, now);
                ("anonymous_send_file", None, vec![att])
            }
        };
        drop(st);
        let by_app = wire::derived_digits(&format!("{}:{anonymous_id}", cfg.app_id));
        let ev = events::anonymous(
            &ctx,
            AnonMsg {
                event_name: name,
                anonymous_id,
                by_app: &by_app,
                conversation_id: &conv,
                msg_id: &msg_id,
                text: text.as_deref(),
                attachments: att,
                from_oa: false,
            },
        );
        (ev, msg_id)
    }

    /// Staff send from Zalo's chat tool: history (src 0) and an `oa_send_*` echo with `admin_id`.
    /// No window or quota applies (Zalo's tool enforces its own).
    pub(crate) async fn staff_act(
        &self,
        user_id: &str,
        admin_id: &str,
        action: StaffAction,
    ) -> String {
        let (ev, msg_id) = self.apply_staff(user_id, admin_id, action);
        self.emit(ev).await;
        msg_id
    }

    fn apply_staff(&self, user_id: &str, admin_id: &str, action: StaffAction) -> (Event, String) {
        let cfg = self.config();
        let now = self.now_ms();
        let ctx = self.ctx(now);
        let msg_id = wire::new_msg_id();
        let mut st = self.st();
        let by_app = st.user_mut(user_id, &cfg).by_app.clone();
        let (name, text, att, hist): (&str, Option<String>, Vec<Value>, HistItem) = match action {
            StaffAction::Text(t) => {
                let h = HistItem::text(false, now, &t, &msg_id);
                ("oa_send_text", Some(t), vec![], h)
            }
            StaffAction::Image { caption, bytes } => {
                let url = self.picture(&mut st, bytes, now);
                let h = HistItem::media(
                    false,
                    now,
                    "photo",
                    caption.as_deref().unwrap_or(""),
                    &url,
                    &msg_id,
                );
                (
                    "oa_send_image",
                    caption,
                    vec![events::att_picture("image", &url)],
                    h,
                )
            }
            StaffAction::File { name, bytes } => {
                let (att, url) = self.file_attachment(&mut st, &name, bytes, now);
                let mut h = HistItem::media(false, now, "file", "", &url, &msg_id);
                h.description = Some(name);
                ("oa_send_file", None, vec![att], h)
            }
            StaffAction::List(items) => {
                let att: Vec<Value> = items
                    .iter()
                    .map(|i| events::att_link(&i.thumbnail, &i.description, &i.url))
                    .collect();
                let mut h = HistItem::text(false, now, "", &msg_id);
                h.kind = "links";
                h.description = items.first().map(|i| i.description.clone());
                ("oa_send_list", None, att, h)
            }
            StaffAction::Template { template_id, text } => {
                let (att, h) = self.template_message(&mut st, &template_id, &text, &msg_id, now);
                ("oa_send_template", None, vec![att], h)
            }
        };
        st.push_history(user_id, hist);
        drop(st);
        let ev = events::oa_message(
            &ctx,
            OaMsg {
                event_name: name,
                user_id,
                by_app: &by_app,
                admin_id: Some(admin_id),
                msg_id: &msg_id,
                text: text.as_deref(),
                attachments: att,
            },
        );
        (ev, msg_id)
    }

    /// Past text messages, without webhooks; user messages count as interactions at their time.
    pub(crate) fn seed(&self, user_id: &str, items: &[(bool, &str, i64)]) -> Vec<String> {
        let cfg = self.config();
        let mut st = self.st();
        let mut ids = Vec::with_capacity(items.len());
        for (from_user, text, at) in items {
            let id = wire::new_msg_id();
            if *from_user {
                let u = st.user_mut(user_id, &cfg);
                u.interacted(*at);
                u.has_written = true;
            } else {
                st.user_mut(user_id, &cfg);
            }
            st.push_history(user_id, HistItem::text(*from_user, *at, text, &id));
            ids.push(id);
        }
        ids
    }
}
