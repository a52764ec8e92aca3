//! New work wakes idle replicas (PostgreSQL only): the writer notifies [`WORK_CHANNEL`] at the
//! COMMIT of a transaction that stored new work, once per pairing, with the pairing's name as the
//! payload (see `writer::commit_notifying`); a lane lease given up while its lane still has
//! pending events notifies the same way. Every process keeps one connection listening on the
//! channel ([`Store::listen_for_work`]) and hands each pairing named to its caller, which wakes
//! that pairing's dispatcher to sweep for lanes it can take. Notifications of this process's own
//! writer are skipped: its webhooks already signal their lanes in memory.
//!
//! Failure: a listening connection that cannot be made or drops is made again with backoff (1 s,
//! doubling up to 30 s), logged at WARN; after it is back every pairing is woken once, since
//! notifications sent meanwhile were lost. Nothing is lost for good: the periodic sweep remains.

use std::time::Duration;

use postgres::fallible_iterator::FallibleIterator as _;
use tokio_util::sync::CancellationToken;

use super::writer::{WriterPid, WORK_CHANNEL};
use super::{Readers, Store};
use crate::telemetry::events::{InternalEvent, WorkNotified};

/// The first wait before connecting the listener again; doubled per failure up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_secs(1);
/// The longest wait before connecting the listener again.
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// How often the listening thread looks whether it should stop.
const POLL: Duration = Duration::from_millis(250);

/// What a listener hands its caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Wake {
    /// This pairing got new work in another process.
    Pairing(String),
    /// Notifications may have been missed (the listener connected again): look at every pairing.
    All,
}

impl Store {
    /// On PostgreSQL, starts this process's listener for new work (a thread of its own, on a
    /// connection of its own): `wake` is called for every pairing another process stored work for,
    /// and with [`Wake::All`] once the listener is (again) connected. Stops with `stop`. On SQLite
    /// there is no other process: nothing starts, and None is returned.
    pub fn listen_for_work(
        &self,
        wake: impl Fn(Wake) + Send + 'static,
        stop: CancellationToken,
    ) -> Option<std::thread::JoinHandle<()>> {
        let Readers::Postgres { target, .. } = &self.inner.readers else {
            return None;
        };
        let (target, own) = ((**target).clone(), self.inner.writer_pid.clone());
        let spawned = std::thread::Builder::new()
            .name("zfsync-store-listen".into())
            .spawn(move || {
                let mut backoff = FIRST_BACKOFF;
                while !stop.is_cancelled() {
                    match listen(&target, &own, &wake, &stop) {
                        // Stopped.
                        Ok(()) => return,
                        Err(e) => {
                            tracing::warn!(error = %e, retry_in_secs = backoff.as_secs(), "the store's listener for new work lost its connection; connecting again (the periodic sweep goes on meanwhile)");
                        }
                    }
                    let until = std::time::Instant::now() + backoff;
                    while !stop.is_cancelled() && std::time::Instant::now() < until {
                        std::thread::sleep(POLL);
                    }
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            });
        match spawned {
            Ok(handle) => Some(handle),
            Err(e) => {
                tracing::warn!(error = %e, "cannot start the store's listener for new work; other replicas' work is found by the periodic sweep only");
                None
            }
        }
    }
}

/// One listening connection's life: LISTEN, wake every pairing, then each notification, until
/// `stop` (Ok) or the connection fails (Err).
fn listen(
    target: &super::pg::PgTarget,
    own: &WriterPid,
    wake: &impl Fn(Wake),
    stop: &CancellationToken,
) -> Result<(), super::StoreError> {
    let conn = target.connect()?;
    let mut client = conn.into_client();
    client.batch_execute(&format!("LISTEN {WORK_CHANNEL}"))?;
    tracing::debug!("listening for new work of other replicas");
    wake(Wake::All);
    let mut notifications = client.notifications();
    loop {
        if stop.is_cancelled() {
            return Ok(());
        }
        // A wait of its own each time: one iterator's timer is reset only by a notification, so
        // once it has run out every later call returns at once and the thread spins a core.
        // None: nothing within POLL (a dropped connection is an error).
        if let Some(n) = notifications.timeout_iter(POLL).next()? {
            if n.channel() == WORK_CHANNEL && n.process_id() != own.get() {
                WorkNotified {
                    pairing: n.payload(),
                }
                .emit();
                wake(Wake::Pairing(n.payload().to_owned()));
            }
        }
    }
}
