//! What the simulated people do: a Zalo user ([`SimUser`], [`UserAction`]), an anonymous chat-widget
//! visitor ([`AnonymousAction`]) and OA staff typing in Zalo's own chat tool ([`StaffAction`]).
//! Plain data: the simulator turns each into state changes and a signed webhook.

use bytes::Bytes;
use serde::{Deserialize, Serialize};

/// A simulated Zalo user of the OA.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimUser {
    /// OA-scoped user id (digits).
    pub user_id: String,
    /// Name shown in Zalo (profile and history).
    pub display_name: String,
    /// Avatar URL.
    #[serde(default)]
    pub avatar: Option<String>,
    /// Whether the user follows the OA.
    #[serde(default = "yes")]
    pub follower: bool,
}

fn yes() -> bool {
    true
}

/// What a user shares through the request-user-info form (`user_submit_info`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SubmittedInfo {
    /// Name.
    pub name: String,
    /// Phone; sent as a JSON number when it is all digits, as Zalo does.
    pub phone: String,
    /// Street address.
    #[serde(default)]
    pub address: String,
    /// City.
    #[serde(default)]
    pub city: String,
    /// District.
    #[serde(default)]
    pub district: String,
    /// Ward (often empty).
    #[serde(default)]
    pub ward: String,
}

/// Something a simulated user does. Messages return their `msg_id` from
/// [`crate::sim::ZaloSim::user_sends`]; a reaction returns the message reacted to; other events "".
#[derive(Debug, Clone, PartialEq)]
pub enum UserAction {
    /// `user_send_text`.
    Text(String),
    /// A text sent with Zalo's "Reply" on an earlier message (`message.quote_msg_id`).
    Reply {
        /// The text.
        text: String,
        /// The message quoted.
        quote_msg_id: String,
    },
    /// `user_send_image`; the bytes are served back at the attachment URL.
    Image {
        /// Caption (`message.text`).
        caption: Option<String>,
        /// Image bytes.
        bytes: Bytes,
    },
    /// `user_send_gif`.
    Gif {
        /// GIF bytes.
        bytes: Bytes,
    },
    /// `user_send_sticker`.
    Sticker {
        /// Sticker id (hex in Zalo).
        id: String,
    },
    /// `user_send_file`.
    File {
        /// File name with extension.
        name: String,
        /// File bytes.
        bytes: Bytes,
    },
    /// `user_send_audio` (a voice clip, `.amr`).
    Audio {
        /// Audio bytes.
        bytes: Bytes,
    },
    /// `user_send_video`.
    Video {
        /// Video bytes.
        bytes: Bytes,
    },
    /// `user_send_location`; coordinates are strings on the wire.
    Location {
        /// Latitude.
        latitude: String,
        /// Longitude.
        longitude: String,
    },
    /// `user_send_location` of a named place: `message.text` carries the name (as captured).
    Place {
        /// Place name.
        name: String,
        /// Latitude.
        latitude: String,
        /// Longitude.
        longitude: String,
    },
    /// `user_send_link`.
    Link {
        /// The URL.
        url: String,
        /// Page title (becomes the payload's `description`).
        title: Option<String>,
    },
    /// `user_send_business_card`: a `link` attachment whose description is a JSON string.
    BusinessCard {
        /// Contact name (`message.text`).
        name: String,
        /// Contact phone.
        phone: String,
    },
    /// `user_reacted_message`.
    Reaction {
        /// The message reacted to.
        msg_id: String,
        /// Icon, e.g. `/-heart`.
        icon: String,
    },
    /// `follow` from the OA profile (`source: "oa_profile"`).
    Follow,
    /// `follow` with another `source` (`message_invite`, `social_plugin`, `zalo`, ...).
    FollowVia {
        /// The `source` field.
        source: String,
    },
    /// `unfollow`.
    Unfollow,
    /// `user_click_chatnow`: pressed "Nhắn tin" on the OA (opens the CS window).
    ClickChatNow,
    /// `user_submit_info`: answered a request-user-info form.
    SubmitInfo(SubmittedInfo),
    /// `update_user_info` (`data.method`, e.g. `dynamic_url`) in the documented shape: `user_id`
    /// empty, the user named by `user_id_by_app` only.
    UpdateInfo {
        /// `data.method`.
        method: String,
    },
    /// `user_withdraw`: the user withdrew consent and asks for their data to be deleted (the
    /// documented example: `oa_id` and `user_id` set).
    Withdraw,
    /// `user_withdraw` as an app not linked to the OA receives it: `oa_id` and `user_id` empty,
    /// only `user_id_by_app`.
    WithdrawUnlinked,
    /// `user_seen_message` (`message.msg_ids`); an empty list means every OA message not yet seen.
    Seen {
        /// Messages read.
        msg_ids: Vec<String>,
    },
    /// `user_received_message` (`message.msg_id`).
    Received {
        /// The message delivered to the device.
        msg_id: String,
    },
}

/// Something an anonymous chat-widget visitor sends (`anonymous_send_*`); the visitor has a 20-hex id
/// and a `conversation_id` instead of a user id.
#[derive(Debug, Clone, PartialEq)]
pub enum AnonymousAction {
    /// `anonymous_send_text`.
    Text(String),
    /// `anonymous_send_image`.
    Image {
        /// Caption.
        caption: Option<String>,
        /// Image bytes.
        bytes: Bytes,
    },
    /// `anonymous_send_sticker`.
    Sticker {
        /// Sticker id.
        id: String,
    },
    /// `anonymous_send_file`.
    File {
        /// File name with extension.
        name: String,
        /// File bytes.
        bytes: Bytes,
    },
}

/// One item of a list message sent from Zalo's chat tool (`oa_send_list`): a `link` attachment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListItem {
    /// Text under the item.
    pub description: String,
    /// Image URL.
    #[serde(default)]
    pub thumbnail: String,
    /// Target URL ("" for none).
    #[serde(default)]
    pub url: String,
}

/// Something OA staff send from Zalo's own chat tool (echoed as `oa_send_*` with `sender.admin_id`).
#[derive(Debug, Clone, PartialEq)]
pub enum StaffAction {
    /// `oa_send_text`.
    Text(String),
    /// `oa_send_image`.
    Image {
        /// Caption.
        caption: Option<String>,
        /// Image bytes.
        bytes: Bytes,
    },
    /// `oa_send_file`.
    File {
        /// File name with extension.
        name: String,
        /// File bytes.
        bytes: Bytes,
    },
    /// `oa_send_list`.
    List(Vec<ListItem>),
    /// `oa_send_template` (a ZInstant template: `zinstant_id`, `text`, `link_url`, `checksum`).
    Template {
        /// Template id (becomes `zinstant_id: "templateId=<id>"`).
        template_id: String,
        /// The template's text.
        text: String,
    },
}
