//! Several customers in one sandbox: pairings beside `default`, each a Zalo OA and a Freshchat
//! account of its own (one more pair of simulators), registered in the store with tokens for its
//! OA the way `zfsync pairing add` and `zfsync connect zalo --pairing` leave them.
//! `zfsync sandbox --pairings N` plays one conversation per pairing and checks that none of them
//! reaches another customer's accounts; the end-to-end tests use [`Env::add_pairing`] too.

use std::time::Duration;

use tokio::net::TcpListener;
use zfsync_freshchat::sim::{FreshchatSim, SimConfig as FreshchatSimConfig};
use zfsync_zalo::sim::{SimConfig as ZaloSimConfig, SimUser, UserAction, ZaloSim};

use super::{wait_for, Env, Transcript, FRESHCHAT_MEDIA_HOST, SANDBOX_USER};
use crate::config::{PairingSecrets, PairingSettings};
use crate::store::StoredTokens;

/// A pairing served beside `default`, with its own simulators.
#[derive(Debug)]
pub struct ExtraPairing {
    /// Its name.
    pub name: String,
    /// Its Zalo OA.
    pub zalo: ZaloSim,
    /// Its Freshchat account.
    pub freshchat: FreshchatSim,
}

/// The Zalo settings of the `n`th extra customer: an app, an OA and secrets of its own.
pub fn own_app(n: usize) -> ZaloSimConfig {
    ZaloSimConfig {
        app_id: format!("{:019}", 2_000_000_000_000_000_000u64 + n as u64),
        app_secret: format!("pairing-{n}-app-secret-0123456789"),
        oa_id: format!("{:019}", 5_000_000_000_000_000_000u64 + n as u64),
        oa_secret_key: format!("pairing-{n}-oa-secret-key-0123456789"),
        ..ZaloSimConfig::default()
    }
}

impl Env {
    /// Adds the pairing `name` to this environment's deployment (before [`Env::start_daemon`]):
    /// a Zalo OA simulated with `zalo` (delivering to the pairing's own webhook route unless it
    /// names another URL) and a Freshchat account of its own, registered in the store with its
    /// secrets sealed and tokens for its OA.
    pub async fn add_pairing(
        &self,
        name: &str,
        zalo: ZaloSimConfig,
    ) -> anyhow::Result<ExtraPairing> {
        let p = self.start_pairing(name, zalo).await?;
        self.register_pairing(name, &p.zalo, &p.freshchat).await?;
        Ok(p)
    }

    /// The simulators of the pairing `name` ([`Env::add_pairing`] without registering it).
    pub async fn start_pairing(
        &self,
        name: &str,
        mut zalo: ZaloSimConfig,
    ) -> anyhow::Result<ExtraPairing> {
        crate::config::check_pairing_name(name)?;
        let base = self.daemon_url();
        zalo.webhook_url
            .get_or_insert_with(|| format!("{base}/webhooks/zalo/{name}"));
        zalo.redirect_uri.get_or_insert_with(|| {
            format!(
                "{base}{}",
                crate::routes::for_pairing(crate::routes::ROUTE_OAUTH_CALLBACK, name)
            )
        });
        let bind = || TcpListener::bind("127.0.0.1:0");
        let zalo_sim = ZaloSim::start(bind().await?, bind().await?, zalo).await?;
        let freshchat = FreshchatSim::start(
            bind().await?,
            FreshchatSimConfig {
                webhook_url: Some(format!("{base}/webhooks/freshchat/{name}")),
                ..FreshchatSimConfig::default()
            },
        )
        .await?;
        freshchat.set_cdn_host(FRESHCHAT_MEDIA_HOST)?;
        Ok(ExtraPairing {
            name: name.into(),
            zalo: zalo_sim,
            freshchat,
        })
    }
}

impl Env {
    /// Registers the pairing `name` in this environment's store (before [`Env::start_daemon`])
    /// for the OA of `zalo` and the Freshchat account of `freshchat`, already running (several
    /// pairings may share them where only the deployment's size is measured), with its secrets
    /// sealed and tokens for that OA.
    pub async fn register_pairing(
        &self,
        name: &str,
        zalo: &ZaloSim,
        freshchat: &FreshchatSim,
    ) -> anyhow::Result<()> {
        let store = match self.daemon_store() {
            Some(store) => store.clone(),
            None => crate::services::open_store(&self.config()?)?,
        };
        register_in(&store, name, zalo, freshchat).await
    }
}

/// Registers the pairing `name` in `store` for the OA of `zalo` and the Freshchat account of
/// `freshchat`, with tokens for that OA (see [`Env::register_pairing`]).
pub async fn register_in(
    store: &crate::store::Store,
    name: &str,
    zalo: &ZaloSim,
    freshchat: &FreshchatSim,
) -> anyhow::Result<()> {
    let z = zalo.config();
    let settings = PairingSettings {
        zalo_app_id: z.app_id.clone(),
        zalo_oa_id: Some(z.oa_id.clone()),
        zalo_api_base: zalo.api_base(),
        zalo_oauth_base: zalo.oauth_base(),
        freshchat_api_base: freshchat.base_url(),
        freshchat_app_id: Some(freshchat.app_id().to_string()),
        freshchat_channel_id: None,
        freshchat_channel_name: None,
        mapping_rules: None,
        mapping_language: Some("en".into()),
    };
    let secrets = PairingSecrets {
        zalo_app_secret: z.app_secret.clone(),
        zalo_oa_secret_key: z.oa_secret_key.clone(),
        freshchat_api_key: freshchat.api_key().to_string(),
        freshchat_webhook_public_key: freshchat.public_key_pem(),
    };
    store
        .register_pairing(
            name.into(),
            serde_json::to_string(&settings)?,
            serde_json::to_string(&secrets)?,
        )
        .await?;
    let (access_token, refresh_token) = zalo.issue_tokens();
    let now = chrono::Utc::now().timestamp_millis();
    store
        .pairing(name)
        .save_tokens(StoredTokens {
            oa_id: Some(z.oa_id.clone()),
            access_token,
            refresh_token,
            access_expires_at: now + 3_600_000,
            refresh_expires_at: now + 90 * 86_400_000,
            updated_at: now,
            needs_reauth: None,
            token_error: None,
            generation: 0,
        })
        .await?;
    Ok(())
}

/// The conversation of each extra pairing's customer (the same Zalo user id in every OA: each
/// is a different customer), then the isolation checks: each Freshchat account holds its own
/// customer only, and each OA sent only its own agent's reply.
pub(super) async fn play(env: &Env, extra: &[ExtraPairing], tr: &mut Transcript) {
    const WAIT: Duration = Duration::from_secs(10);
    for (i, p) in extra.iter().enumerate() {
        let customer = format!("Khách {}", i + 2);
        p.zalo.add_user(SimUser {
            user_id: SANDBOX_USER.into(),
            display_name: customer.clone(),
            avatar: None,
            follower: true,
        });
        let text = format!("Chào {}, mình cần hỗ trợ", p.name);
        tr.line(
            &format!("[{}] Zalo customer", p.name),
            &format!("sends: {text}"),
        );
        p.zalo
            .user_sends(SANDBOX_USER, UserAction::Text(text.clone()))
            .await;
        let got = wait_for(WAIT, || async {
            let conv = p.freshchat.conversations().into_iter().next()?;
            let id = conv["conversation_id"].as_str()?.to_string();
            let shown = serde_json::to_string(&p.freshchat.messages(&id)).ok()?;
            shown.contains(&text).then_some(id)
        })
        .await;
        tr.check(
            got.is_some(),
            &format!("{}'s customer did not reach {}'s Freshchat", p.name, p.name),
        );
        let Some(conv) = got else { continue };
        tr.line(
            &format!("[{}] Freshchat agent", p.name),
            &format!("sees {customer} Zalo: {text}"),
        );
        let reply = format!("{} xin chào {customer}", p.name);
        tr.line(
            &format!("[{}] Freshchat agent", p.name),
            &format!("replies: {reply}"),
        );
        let agent = p.freshchat.default_agent_id();
        let sent = p
            .freshchat
            .agent_sends(
                &conv,
                &agent,
                vec![serde_json::json!({"text": {"content": reply}})],
            )
            .await;
        tr.check(sent.is_ok(), &format!("{}'s agent could not reply", p.name));
        let received = wait_for(WAIT, || async {
            let sent = p.zalo.sent_to(SANDBOX_USER);
            (!sent.is_empty()).then_some(sent)
        })
        .await
        .unwrap_or_default();
        tr.check(
            received.len() == 1,
            &format!("{}'s reply did not reach {}'s OA once", p.name, p.name),
        );
        for s in &received {
            tr.line(
                &format!("[{}] Zalo customer", p.name),
                &format!("receives: {}", super::describe_zalo(&s.message)),
            );
        }
    }
    // Isolation: every account holds its own customer and nobody else's.
    let default_users = serde_json::to_string(&env.fc_users()).unwrap_or_default();
    for (i, p) in extra.iter().enumerate() {
        let customer = format!("Khách {}", i + 2);
        tr.check(
            !default_users.contains(&customer),
            &format!("default's Freshchat holds {}'s customer", p.name),
        );
        for other in extra.iter().filter(|o| o.name != p.name) {
            let users = serde_json::to_string(&other.freshchat.users()).unwrap_or_default();
            tr.check(
                !users.contains(&customer),
                &format!("{}'s Freshchat holds {}'s customer", other.name, p.name),
            );
        }
    }
    tr.line(
        "isolation",
        &format!(
            "{} pairings checked: each Freshchat account holds its own customer only, each OA sent its own agent's reply only",
            extra.len() + 1
        ),
    );
}
