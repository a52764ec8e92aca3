//! `zfsync status` and `zfsync failed list`: what an operator needs at a glance, as text or JSON.

use std::process::ExitCode;

use crate::services::Services;
use crate::store::Source;
use crate::time::ago;

/// A day in milliseconds: the window of the billed count (here and in the console).
pub const DAY_MS: i64 = 24 * 3600 * 1000;

/// `zfsync status`: counts, queue, tokens, quota, last webhooks; JSON with `json`.
pub async fn print_status(services: &Services, json: bool) -> anyhow::Result<ExitCode> {
    let stats = services.store.stats().await?;
    let tokens = services.tokens().status();
    let failed = services.store.failed_events(20).await?;
    if json {
        let per: serde_json::Map<String, serde_json::Value> = stats
            .iter()
            .map(|(s, st)| {
                let dir = match s {
                    Source::Zalo => "zalo_to_freshchat",
                    Source::Freshchat => "freshchat_to_zalo",
                };
                (
                    dir.to_string(),
                    serde_json::to_value(st).unwrap_or_default(),
                )
            })
            .collect();
        let out = serde_json::json!({
            "pairing": services.store.pairing_name(),
            "directions": per,
            "zalo_token": tokens,
            "contacts": services.store.contact_count().await?,
            "zalo_billed_last_24h": services.store.billed_since(crate::store::now_ms() - DAY_MS).await?,
            "zalo_customers_in_billed_window": services.store.customers_in_billed_window(crate::store::now_ms()).await?,
            "failed": failed.iter().map(|f| serde_json::json!({
                "id": f.id, "source": f.source.as_str(), "event": f.event_name, "attempts": f.attempts,
                "class": f.error_class, "reason": f.last_error,
            })).collect::<Vec<_>>(),
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "zfsync status of the pairing {} ({})",
        services.store.pairing_name(),
        services.store.path().display()
    );
    for (source, s) in &stats {
        let dir = match source {
            Source::Zalo => "Zalo → Freshchat",
            Source::Freshchat => "Freshchat → Zalo",
        };
        println!(
            "  {dir}: {} received, {} synced, {} ignored, {} failed, {} pending (oldest {}); last webhook {}",
            s.received,
            s.synced,
            s.ignored,
            s.failed,
            s.pending,
            ago(s.oldest_pending_received_at),
            ago(s.last_received_at)
        );
    }
    println!("  contacts: {}", services.store.contact_count().await?);
    println!(
        "  Zalo replies billed to the OA in the last 24 h: {}",
        services
            .store
            .billed_since(crate::store::now_ms() - DAY_MS)
            .await?
    );
    println!(
        "  Zalo customers whose replies are now billed (free 48 h over, within 7 days; at least, as zfsync sees only some interactions): {}",
        services
            .store
            .customers_in_billed_window(crate::store::now_ms())
            .await?
    );
    match (
        &tokens.needs_reauth,
        tokens.token_error_text(),
        tokens.connected,
    ) {
        (Some(reason), _, _) => {
            println!("  Zalo token: NEEDS RE-AUTHORIZATION ({reason}); run 'zfsync connect zalo'")
        }
        (None, Some(refused), _) => println!("  Zalo token: REFRESH REFUSED: {refused}"),
        (None, None, false) => println!("  Zalo token: not connected; run 'zfsync connect zalo'"),
        (None, None, true) => println!(
            "  Zalo token: valid for {} more (OA {})",
            tokens
                .seconds_to_expiry
                .map(|s| format!("{} min", s / 60))
                .unwrap_or_default(),
            tokens.oa_id.as_deref().unwrap_or("unknown")
        ),
    }
    if !failed.is_empty() {
        println!("  failed events (newest first; replay with 'zfsync failed retry ID'):");
        for f in &failed {
            println!(
                "    #{} {} {} — {}",
                f.id,
                f.source.as_str(),
                f.event_name,
                f.last_error.as_deref().unwrap_or("")
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `zfsync failed list`: the newest `limit` failed events with their reasons.
pub async fn print_failed(
    services: &Services,
    json: bool,
    limit: usize,
) -> anyhow::Result<ExitCode> {
    let failed = services.store.failed_events(limit).await?;
    if json {
        let rows: Vec<_> = failed
            .iter()
            .map(|f| {
                serde_json::json!({
                    "id": f.id, "source": f.source.as_str(), "event": f.event_name, "lane": f.lane,
                    "received_at": f.received_at, "attempts": f.attempts, "class": f.error_class, "reason": f.last_error,
                })
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&rows)?);
    } else if failed.is_empty() {
        println!("No failed events.");
    } else {
        for f in &failed {
            println!(
                "#{:<6} {:<9} {:<24} attempts {:<3} {} — {}",
                f.id,
                f.source.as_str(),
                f.event_name,
                f.attempts,
                f.error_class.as_deref().unwrap_or(""),
                f.last_error.as_deref().unwrap_or("")
            );
        }
        println!("\nReplay one with 'zfsync failed retry --config FILE ID', or all with '--all'.");
    }
    Ok(ExitCode::SUCCESS)
}

/// One pairing's health at a glance: `zfsync pairing list` and the console's Pairings page.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PairingHealth {
    /// Its name.
    pub pairing: String,
    /// Served (false: disabled).
    pub enabled: bool,
    /// Its OA (configured, else connected).
    pub oa_id: Option<String>,
    /// Its Freshchat API URL.
    pub freshchat: String,
    /// `connected`, `not connected` or `needs re-authorization`.
    pub zalo: String,
    /// Events waiting, both directions.
    pub pending: i64,
    /// Failed events, both directions.
    pub failed: i64,
    /// When the oldest waiting event was stored (unix ms).
    pub oldest_pending_at: Option<i64>,
    /// When the newest event of either side was stored (unix ms).
    pub last_event_at: Option<i64>,
    /// Why it cannot be served, when its stored settings do not validate.
    pub problem: Option<String>,
}

impl PairingHealth {
    /// A word for its state: `disabled`, `broken`, `needs re-authorization`, `not connected`,
    /// `failures`, `ok`.
    pub fn verdict(&self) -> &'static str {
        if self.problem.is_some() {
            "broken"
        } else if !self.enabled {
            "disabled"
        } else if self.zalo == ZALO_NEEDS_REAUTH {
            "needs re-authorization"
        } else if self.zalo == ZALO_NOT_CONNECTED {
            "not connected"
        } else if self.failed > 0 {
            "failures"
        } else {
            "ok"
        }
    }

    /// The pairing `name` whose stored settings do not validate (`problem` says why).
    pub fn broken(name: &str, enabled: bool, problem: String) -> PairingHealth {
        PairingHealth {
            pairing: name.into(),
            enabled,
            oa_id: None,
            freshchat: String::new(),
            zalo: String::new(),
            pending: 0,
            failed: 0,
            oldest_pending_at: None,
            last_event_at: None,
            problem: Some(problem),
        }
    }
}

const ZALO_NEEDS_REAUTH: &str = "needs re-authorization";
const ZALO_NOT_CONNECTED: &str = "not connected";

/// The health of the pairing `store` is scoped to, run with `config`.
pub async fn pairing_health(
    store: &crate::store::Store,
    config: &crate::config::Config,
    enabled: bool,
) -> PairingHealth {
    let tokens = store.tokens().await.ok().flatten();
    let zalo = match &tokens {
        None => ZALO_NOT_CONNECTED,
        Some(t) if t.needs_reauth.is_some() => ZALO_NEEDS_REAUTH,
        Some(_) => "connected",
    };
    let stats = store.stats().await.unwrap_or_default();
    let oldest = stats
        .iter()
        .filter_map(|(_, s)| s.oldest_pending_received_at)
        .min();
    let last = stats.iter().filter_map(|(_, s)| s.last_received_at).max();
    PairingHealth {
        pairing: store.pairing_name().to_string(),
        enabled,
        oa_id: config.zalo.oa_id.clone().or(tokens.and_then(|t| t.oa_id)),
        freshchat: config
            .freshchat
            .api_base
            .as_str()
            .trim_end_matches('/')
            .to_string(),
        zalo: zalo.into(),
        pending: stats.iter().map(|(_, s)| s.pending).sum(),
        failed: stats.iter().map(|(_, s)| s.failed).sum(),
        oldest_pending_at: oldest,
        last_event_at: last,
        problem: None,
    }
}

/// The health of every pairing of the deployment whose file is `config`: `default`, then the
/// registered ones in name order.
pub async fn pairings_health(
    config: &crate::config::Config,
    store: &crate::store::Store,
) -> Result<Vec<PairingHealth>, crate::store::StoreError> {
    let default = store.pairing(crate::config::DEFAULT_PAIRING);
    let mut rows = vec![pairing_health(&default, config, true).await];
    for p in store.registered_pairings().await? {
        let pconfig = serde_json::from_str(&p.settings)
            .ok()
            .zip(serde_json::from_str(&p.secrets).ok())
            .ok_or_else(|| "its stored settings cannot be read: add it again".to_string())
            .and_then(|(s, k)| config.for_pairing(&s, &k).map_err(|e| e.to_string()));
        rows.push(match pconfig {
            Ok(pconfig) => pairing_health(&store.pairing(&p.name), &pconfig, p.enabled).await,
            Err(problem) => PairingHealth::broken(&p.name, p.enabled, problem),
        });
    }
    Ok(rows)
}
