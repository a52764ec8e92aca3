//! Zalo events signed the way the platform signs them (`mac = sha256(app_id + body + timestamp +
//! oa_secret_key)`), for every mode that sends Zalo webhooks.

use bytes::Bytes;
use secrecy::SecretString;
use serde_json::json;

use super::epoch_ms;

/// Signs Zalo-shaped events the way the platform does.
#[derive(Clone)]
pub struct ZaloSigner {
    /// The Zalo app's id.
    pub app_id: String,
    /// The OA's id (the recipient).
    pub oa_id: String,
    /// The OA secret key that signs webhooks.
    pub key: SecretString,
    /// A media URL the Zalo simulator serves, for image events.
    pub image_url: String,
}

impl std::fmt::Debug for ZaloSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ZaloSigner")
            .field("app_id", &self.app_id)
            .field("oa_id", &self.oa_id)
            .finish_non_exhaustive()
    }
}

impl ZaloSigner {
    /// A `user_send_text` (or `user_send_image`) event from `user` and its signature.
    pub fn event(&self, user: &str, msg_id: &str, text: &str, image: bool) -> (Bytes, String) {
        let ts = (epoch_ms() as i64).to_string();
        let (name, message) = if image {
            (
                zfsync_zalo::webhook::names::USER_SEND_IMAGE,
                json!({"msg_id": msg_id, "text": text, "attachments": [{"type": "image",
                    "payload": {"thumbnail": self.image_url, "url": self.image_url}}]}),
            )
        } else {
            (
                zfsync_zalo::webhook::names::USER_SEND_TEXT,
                json!({"msg_id": msg_id, "text": text}),
            )
        };
        let body = json!({
            "app_id": self.app_id, "sender": {"id": user}, "user_id_by_app": format!("9{user}"),
            "recipient": {"id": self.oa_id}, "event_name": name, "message": message, "timestamp": ts,
        });
        let body = Bytes::from(body.to_string());
        let sig = zfsync_zalo::signature(&self.app_id, &body, &ts, &self.key);
        (body, sig)
    }
}
