//! The daemon's public paths, shared by the router ([`crate::server`]), the checks that probe them
//! and the wizard that prints them for the platforms' dashboards.

/// Zalo's webhook.
pub const ROUTE_ZALO_WEBHOOK: &str = "/webhooks/zalo";
/// Freshchat's webhook.
pub const ROUTE_FRESHCHAT_WEBHOOK: &str = "/webhooks/freshchat";
/// Zalo's webhook of one pairing (`{pairing}` is its name; the plain route is `default`'s).
pub const ROUTE_ZALO_WEBHOOK_PAIRING: &str = "/webhooks/zalo/{pairing}";
/// Freshchat's webhook of one pairing.
pub const ROUTE_FRESHCHAT_WEBHOOK_PAIRING: &str = "/webhooks/freshchat/{pairing}";
/// Starts the Zalo OAuth flow (for operators).
pub const ROUTE_OAUTH_START: &str = "/oauth/zalo/start";
/// Where Zalo redirects after consent.
pub const ROUTE_OAUTH_CALLBACK: &str = "/oauth/zalo/callback";
/// Starts the Zalo OAuth flow of one pairing (the plain route is `default`'s).
pub const ROUTE_OAUTH_START_PAIRING: &str = "/oauth/zalo/start/{pairing}";
/// Where Zalo redirects after consent for one pairing.
pub const ROUTE_OAUTH_CALLBACK_PAIRING: &str = "/oauth/zalo/callback/{pairing}";

/// `route` (ending in `/{pairing}`) for the pairing `name`; `plain` for `default`.
pub fn for_pairing(plain: &str, name: &str) -> String {
    if name == crate::config::DEFAULT_PAIRING {
        plain.to_string()
    } else {
        format!("{plain}/{name}")
    }
}

/// The public addresses of one pairing that go in the platforms' dashboards.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PairingUrls {
    /// Zalo app → Webhook page.
    pub zalo_webhook: String,
    /// Freshchat Admin → Webhooks.
    pub freshchat_webhook: String,
    /// Zalo app → Official Account → Callback URL.
    pub oauth_callback: String,
}

impl PairingUrls {
    /// The pairing `name`'s addresses under the deployment's public URL.
    pub fn of(config: &crate::config::Config, name: &str) -> PairingUrls {
        let at = |plain: &str| config.public_url(&for_pairing(plain, name));
        PairingUrls {
            zalo_webhook: at(ROUTE_ZALO_WEBHOOK),
            freshchat_webhook: at(ROUTE_FRESHCHAT_WEBHOOK),
            oauth_callback: at(ROUTE_OAUTH_CALLBACK),
        }
    }
}

/// Hosted files.
pub const ROUTE_FILES: &str = "/files/{token}";
