//! The daemon driven in process, for tools outside this crate: the fuzzer (`fuzz/`, the
//! `zfsync-fuzz` crate) posts its inputs to the daemon's real router, every layer included, over a
//! real store, without a socket. The daemon's modules are private to the crate; what such a tool
//! needs is named here, and nothing more.
//!
//! [`InProcess::new`] builds the routes' state with [`AppState`](crate::server::AppState)'s one
//! constructor, as `zfsync run` does, but with the secrets the caller gives ([`StateOptions`]):
//! the environment's `ZFSYNC_*` overrides never change what a tool signs with. It fails as
//! [`Services::new`](crate::services::Services::new) fails (the store cannot be opened, a client
//! cannot be built).

use axum::Router;

use crate::config::Config;
use crate::lanes::LaneSignal;
use crate::server::{router, AppState};
use crate::services::{Services, ServicesError};

pub use crate::ingest::NO_EVENT_TIME;
pub use crate::server::{StateOptions, WebhookSecrets};
pub use crate::store::{Source, Store, StoreError};

/// The daemon's router over the store that `config` names.
#[derive(Debug)]
pub struct InProcess {
    /// Every route and layer of `zfsync run`; call it with `tower::ServiceExt::oneshot`.
    pub router: Router,
    /// The store behind it.
    pub store: Store,
}

impl InProcess {
    /// Opens the store and the clients of `config` and builds the router with `options`' secrets
    /// and `config`'s body limit. Nothing is started: no lanes, no scheduler, no catch-up, so an
    /// event is stored and stays pending.
    pub async fn new(config: &Config, options: StateOptions) -> Result<InProcess, ServicesError> {
        let services = Services::new(config).await?;
        let state = AppState::build(config, &services, LaneSignal::new(), options);
        Ok(InProcess {
            router: router(state, config.server.max_body_bytes),
            store: services.store,
        })
    }

    /// How many events of `source` the inbox holds, whatever their state.
    pub async fn inbox_rows(&self, source: Source) -> Result<u64, StoreError> {
        let stats = self.store.stats().await?;
        Ok(stats
            .into_iter()
            .find(|(s, _)| *s == source)
            .map_or(0, |(_, s)| u64::try_from(s.received).unwrap_or(0)))
    }
}
