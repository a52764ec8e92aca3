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
    println!("zfsync status ({})", services.store.path().display());
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
