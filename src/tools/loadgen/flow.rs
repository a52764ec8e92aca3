//! The flow modes (steady, flood, backlog, slow): the daemon between both simulators, messages
//! both ways with images and duplicates, end-to-end latency and throughput, then the exactly-once
//! and in-order check. The daemon runs in this process or, with `daemon_binary`, as its own
//! process (optionally pinned). Fails when a message was lost, doubled or reordered, or did not
//! arrive before the deadline.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use bytes::Bytes;
use zfsync_freshchat::sim::WebhookMode;

use super::baseline;
use super::drive::{freshchat_sender, post, zalo_sender};
use super::process::DaemonProcess;
use super::report::{cpus_allowed, memory_kb_of, Backlog, DaemonAcks, Ingest, Report, Stats};
use super::shared::{Plan, Shared, Track};
use super::signer::ZaloSigner;
use super::verify::{conversations, verify, watch};
use super::{add_users, epoch_ms, lock, user_id, Mode, Options};
use crate::tools::sandbox::{wait_for, Env, EnvOptions, TINY_PNG};

/// Runs one flow-mode load and returns its figures, or an error when a message was lost, doubled or reordered.
pub async fn run(opts: Options) -> anyhow::Result<Report> {
    anyhow::ensure!(
        opts.users > 0 && opts.messages > 0,
        "--users and --messages must be at least 1"
    );
    let mut report = Report {
        mode: opts.mode.to_string(),
        users: opts.users,
        messages_per_user: opts.messages,
        ..Report::default()
    };
    let max_attempts = if opts.mode == Mode::Backlog {
        1_000_000
    } else {
        12
    };
    let env_opts = EnvOptions {
        sync_toml: format!(
            "retry_base_ms = 100\nretry_max_ms = 2000\nmax_attempts = {max_attempts}\nmax_concurrent_lanes = {}\n",
            opts.lanes
        ),
        // The SQLite path is what this mode measures (its file's size, its rows).
        store: crate::tools::sandbox::StoreBackend::Sqlite,
        ..EnvOptions::default()
    };
    // A daemon of its own process cannot be given the simulators' media host names.
    let env_opts = if opts.daemon_binary.is_some() {
        env_opts.loopback_media()
    } else {
        env_opts
    };
    let mut env = Env::new(env_opts).await?;
    let started = Instant::now();
    // The daemon in this process, or as its own `zfsync run` child (killed when dropped).
    let daemon = match &opts.daemon_binary {
        None => {
            anyhow::ensure!(
                opts.pin.is_none(),
                "--pin needs the daemon as its own process: add --daemon-binary target/release/zfsync"
            );
            env.start_daemon().await?;
            None
        }
        Some(bin) => Some(
            DaemonProcess::start(
                bin,
                env.config_path(),
                format!("{}/healthz", env.daemon_url()),
                env.dir.path().join("daemon.log"),
                opts.pin.as_ref().map(|c| c.daemon),
            )
            .await?,
        ),
    };
    let daemon_pid = daemon.as_ref().and_then(DaemonProcess::pid);
    report.daemon_process = daemon_pid.is_some();
    report.daemon_cpus = daemon_pid.and_then(cpus_allowed);
    report.startup_ms = started.elapsed().as_secs_f64() * 1000.0;
    env.connect_zalo().await?;
    report.rss_idle_kb = memory_kb_of(daemon_pid).0;

    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(1024)
        .timeout(Duration::from_secs(30))
        .build()?;
    let zcfg = env.zalo.config();
    let signer = ZaloSigner {
        app_id: zcfg.app_id.clone(),
        oa_id: zcfg.oa_id.clone(),
        key: env.zalo.oa_secret_key(),
        image_url: zalo_media_url(&env).await?,
    };
    add_users(&env, opts.users, true);
    // Warm-up: every user opens its conversation (contact and Freshchat conversation created).
    let url = format!("{}{}", env.daemon_url(), crate::routes::ROUTE_ZALO_WEBHOOK);
    let warm = futures::future::join_all((0..opts.users).map(|u| {
        let (body, sig) =
            signer.event(&user_id(u), &format!("lgw{u}"), &format!("lg {u} w"), false);
        let http = http.clone();
        let url = url.clone();
        async move { post(&http, &url, body, &sig).await }
    }))
    .await;
    for w in warm {
        w?;
    }
    let convs = wait_for(opts.timeout, || {
        let env = &env;
        async move { conversations(env, opts.users) }
    })
    .await
    .context("the warm-up messages did not all open a Freshchat conversation")?;
    wait_for(opts.timeout, || async {
        let z: usize = convs.iter().map(|c| env.fc_messages(c).len()).sum();
        (z >= opts.users).then_some(())
    })
    .await
    .context("the warm-up messages did not all reach Freshchat")?;

    if opts.freshchat_duplicates {
        env.freshchat.set_webhook_mode(WebhookMode::Duplicate);
    }
    if opts.mode == Mode::Slow {
        env.zalo.set_latency(opts.slow_latency);
        env.freshchat.set_latency(opts.slow_latency);
    }
    let fc_image =
        env.freshchat
            .upload_for_agent("lg.png", "image/png", Bytes::from_static(TINY_PNG));
    let agent = env.freshchat.default_agent_id();

    // Plans: steady spreads sends over the run at `rate`; the others send as fast as acknowledged.
    let with_fc = opts.mode != Mode::Backlog;
    let per_user = match opts.mode {
        Mode::Steady => {
            let dirs = if with_fc { 2.0 } else { 1.0 };
            let fit = (opts.rate * opts.duration.as_secs_f64() / (dirs * opts.users as f64)).floor()
                as usize;
            opts.messages.min(fit.max(1))
        }
        _ => opts.messages,
    };
    report.messages_per_user = per_user;
    let plan = |u: usize, dir: usize| -> Plan {
        (0..per_user)
            .map(|i| {
                let at = (opts.mode == Mode::Steady).then(|| {
                    let dirs = if with_fc { 2 } else { 1 };
                    let k = (i * opts.users + u) * dirs + dir;
                    Duration::from_secs_f64(k as f64 / opts.rate)
                });
                (at, i)
            })
            .collect()
    };

    if opts.baseline {
        report.baseline = Some(baseline::flow_load(&http, &signer, &opts, &plan).await?);
    }

    // The daemon's own answer times, from here to the end (the warm-up left out).
    let acks_before = daemon_acks(&http, &env).await;

    let shared = Arc::new(Shared {
        z: (0..opts.users)
            .map(|_| Mutex::new(Track::new(per_user)))
            .collect(),
        f: (0..opts.users)
            .map(|_| Mutex::new(Track::new(if with_fc { per_user } else { 0 })))
            .collect(),
        env,
        http,
        signer,
        agent,
        fc_image,
        convs,
        acks: Mutex::new(Vec::new()),
        dups: AtomicU64::new(0),
        dup_misses: AtomicU64::new(0),
        opts: opts.clone(),
    });
    if opts.mode == Mode::Backlog {
        // A long outage; healed below by using up what is left.
        shared.env.freshchat.fail_next("/v2", OUTAGE_CALLS, 503);
    }

    let t0 = Instant::now();
    let t0_epoch = epoch_ms();
    let mut tasks = tokio::task::JoinSet::new();
    for u in 0..opts.users {
        let s = shared.clone();
        let p = plan(u, 0);
        tasks.spawn(async move { zalo_sender(s, u, p, t0).await });
        if with_fc {
            let s = shared.clone();
            let p = plan(u, 1);
            tasks.spawn(async move { freshchat_sender(s, u, p, t0).await });
        }
    }
    let watcher = {
        let s = shared.clone();
        // Arrival times come from the platforms' own clocks (Freshchat `created_time`, Zalo
        // `sent_time_ms`), so the watcher can poll slowly: every poll clones whole conversations
        // from the simulator, and polling every few ms cost more CPU than the daemon itself.
        let poll = match opts.mode {
            Mode::Backlog => Duration::from_millis(250),
            _ => Duration::from_millis(50),
        };
        tokio::spawn(async move { watch(s, poll).await })
    };
    while let Some(r) = tasks.join_next().await {
        r.context("a sender task panicked")??;
    }
    let sent_done = t0.elapsed();
    let ingest_acks = lock(&shared.acks).clone();
    report.ingest = Ingest {
        requests: ingest_acks.len(),
        per_sec: ingest_acks.len() as f64 / sent_done.as_secs_f64().max(1e-9),
        ack: Stats::of(ingest_acks),
    };

    let mut heal_at = 0.0;
    if opts.mode == Mode::Backlog {
        let depth = queue_depth(&shared.http, &shared.env.daemon_url()).await;
        let rss = memory_kb_of(daemon_pid).0;
        heal_at = epoch_ms();
        heal_freshchat(&shared.http, &shared.env).await?;
        report.backlog = Some(Backlog {
            queued: per_user * opts.users,
            queue_depth_at_heal: depth,
            ingest_secs: sent_done.as_secs_f64(),
            rss_queued_kb: rss,
            ..Backlog::default()
        });
    }

    let deadline = Instant::now() + opts.timeout;
    loop {
        if watcher.is_finished() {
            break;
        }
        if Instant::now() >= deadline {
            watcher.abort();
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Late duplicates would show up now.
    shared
        .env
        .zalo
        .wait_deliveries_idle(Duration::from_secs(5))
        .await;
    shared
        .env
        .freshchat
        .wait_deliveries_idle(Duration::from_secs(5))
        .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    verify(&shared)?;

    let mut z_lat = Vec::new();
    let mut f_lat = Vec::new();
    let mut last_seen = t0_epoch;
    for u in 0..opts.users {
        for (track, out) in [(&shared.z[u], &mut z_lat), (&shared.f[u], &mut f_lat)] {
            let t = lock(track);
            out.extend(t.latencies());
            last_seen = t.seen.iter().flatten().fold(last_seen, |a, &b| a.max(b));
        }
    }
    report.sent_zalo = z_lat.len();
    report.sent_freshchat = f_lat.len();
    report.duplicates_posted = shared.dups.load(Ordering::Relaxed) as usize;
    report.e2e_zalo_to_freshchat = Stats::of(z_lat);
    report.e2e_freshchat_to_zalo = Stats::of(f_lat);
    report.wall_secs = (last_seen - t0_epoch) / 1000.0;
    report.messages_per_sec =
        (report.sent_zalo + report.sent_freshchat) as f64 / report.wall_secs.max(1e-9);
    if let Some(b) = report.backlog.as_mut() {
        b.drain_secs = (last_seen - heal_at) / 1000.0;
        b.drain_per_sec = b.queued as f64 / b.drain_secs.max(1e-9);
    }
    report.rss_peak_kb = memory_kb_of(daemon_pid).1;
    if let (Some(before), Some(after)) = (acks_before, daemon_acks(&shared.http, &shared.env).await)
    {
        report.daemon_acks = Some((after.0.since(&before.0), after.1.since(&before.1)));
    }
    let db = shared.env.dir.path().join("zfsync.db");
    report.store_bytes = ["", "-wal"]
        .iter()
        .filter_map(|suffix| std::fs::metadata(format!("{}{suffix}", db.display())).ok())
        .map(|m| m.len())
        .sum();
    let misses = shared.dup_misses.load(Ordering::Relaxed);
    anyhow::ensure!(
        misses == 0,
        "{misses} duplicate Zalo deliveries were not answered as duplicates"
    );
    Ok(report)
}

/// The daemon's acknowledgement histograms (Zalo, Freshchat) from its `/metrics`; None when it
/// cannot be read (the figures are then left out, not guessed).
async fn daemon_acks(http: &reqwest::Client, env: &Env) -> Option<(DaemonAcks, DaemonAcks)> {
    let url = format!("{}/metrics", env.daemon_url());
    let page = http.get(url).send().await.ok()?.text().await.ok()?;
    Some((
        DaemonAcks::parse(&page, "zalo"),
        DaemonAcks::parse(&page, "freshchat"),
    ))
}

/// Freshchat API calls that fail during the backlog outage (far more than lanes retry in it).
const OUTAGE_CALLS: u32 = 50_000;

/// A media URL served by the Zalo simulator: one image event is captured instead of delivered.
pub(super) async fn zalo_media_url(env: &Env) -> anyhow::Result<String> {
    let captured: Arc<Mutex<Vec<Bytes>>> = Arc::default();
    let c = captured.clone();
    let app = axum::Router::new().route(
        "/capture",
        axum::routing::post(move |body: Bytes| {
            let c = c.clone();
            async move {
                lock(&c).push(body);
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    env.zalo
        .set_webhook_url(Some(format!("http://{addr}/capture")));
    env.zalo
        .user_sends(
            "5234999999999999999",
            zfsync_zalo::sim::UserAction::Image {
                caption: None,
                bytes: Bytes::from_static(TINY_PNG),
            },
        )
        .await;
    env.zalo.wait_deliveries_idle(Duration::from_secs(5)).await;
    env.zalo.set_webhook_url(Some(format!(
        "{}{}",
        env.daemon_url(),
        crate::routes::ROUTE_ZALO_WEBHOOK
    )));
    server.abort();
    let body = lock(&captured)
        .first()
        .cloned()
        .context("the Zalo simulator did not deliver the image event")?;
    let v: serde_json::Value = serde_json::from_slice(&body)?;
    v.pointer("/message/attachments/0/payload/url")
        .and_then(|u| u.as_str())
        .map(str::to_string)
        .context("the image event has no media URL")
}

async fn queue_depth(http: &reqwest::Client, daemon: &str) -> Option<f64> {
    let text = http
        .get(format!("{daemon}/metrics"))
        .send()
        .await
        .ok()?
        .text()
        .await
        .ok()?;
    text.lines()
        .find(|l| l.starts_with("zfsync_queue_depth"))
        .and_then(|l| l.split_whitespace().last())
        .and_then(|v| v.parse().ok())
}

/// Ends the outage: uses up the injected failures until Freshchat answers again.
async fn heal_freshchat(http: &reqwest::Client, env: &Env) -> anyhow::Result<()> {
    let url = format!(
        "{}/v2/agents",
        env.freshchat.base_url().as_str().trim_end_matches('/')
    );
    let healed = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let (http, url, healed) = (http.clone(), url.clone(), healed.clone());
        set.spawn(async move {
            let deadline = Instant::now() + Duration::from_secs(120);
            while !healed.load(Ordering::Relaxed) && Instant::now() < deadline {
                if let Ok(r) = http.get(&url).send().await {
                    if r.status() != http::StatusCode::SERVICE_UNAVAILABLE {
                        healed.store(true, Ordering::Relaxed);
                    }
                }
            }
        });
    }
    while set.join_next().await.is_some() {}
    anyhow::ensure!(
        healed.load(Ordering::Relaxed),
        "the Freshchat simulator kept answering 503"
    );
    Ok(())
}
