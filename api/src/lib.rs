//! The chime API: tenants and keys (admin), SAP-compatible jobs, schedules and run logs under
//! `/scheduler`, the run-log dialects of four other services, chime's live tail and export,
//! and the ops endpoints. Stateless: every request reads and writes Redis.
//!
//! Layout (each module imports only modules listed before it; the crate root builds the
//! state and the router):
//!
//! - [`error`]: the one error type, SAP's error shape, the dialects' error mapping.
//! - [`hub`]: the live tails' one reader per process, fanning each job's runs out to its
//!   tails, and the caps on tails per API key and per tenant.
//! - [`tokens`]: OAuth access tokens (JWTs): their keys, issue and verification.
//! - [`ratelimit`]: the request rate limits per API key and per tenant (governor).
//! - [`state`]: [`AppState`], shared by every handler, and the API-key cache.
//! - [`auth`]: who is calling (admin token, API key or access token).
//! - [`lookup`]: reading the job and schedule a path names, with SAP's 404s.
//! - [`extract`]: the JSON body extractor (size cap, 400s).
//! - [`query`]: query-string parameters and paging.
//! - [`wire`]: the SAP and admin wire format: the request, parameter and answer types the
//!   handlers parse, return and document.
//! - [`select`]: SAP's search query (`q`) and the job list's `filter` and sort, over stored
//!   jobs and schedules.
//! - [`input`]: validation of SAP requests into stored jobs and schedules.
//! - [`service`]: the writes that change what fires; the only writer of the due index.
//! - [`dialects`]: A1Base, Apify, Huawei and Losant run logs, one module each.
//! - [`extras`]: chime's live tail (SSE) and export (NDJSON/CSV).
//! - [`openapi`]: the document's frame (info, tags, security schemes).
//! - [`routes`]: the handlers of the SAP, admin and ops routes, and the router that mounts
//!   every route with its documentation.
//! - [`ui`]: the dashboard at `/ui` (server-rendered HTML, a cookie session), merged into
//!   the router beside the documented routes.

pub mod auth;
pub mod dialects;
pub mod error;
pub mod extract;
pub mod extras;
pub mod hub;
pub mod input;
pub mod lookup;
pub mod openapi;
pub mod query;
pub mod ratelimit;
pub mod routes;
pub mod select;
pub mod serve;
pub mod service;
pub mod state;
pub mod tokens;
pub mod ui;
pub mod wire;

pub use state::AppState;

use anyhow::Context;
use chime_broker::{Publisher, Topology};
use chime_runtime::config::Settings;
use chime_store::{Retention, Store, Target};
use std::net::SocketAddr;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// A run as a live tail sends it: its detail (SAP's run-log entry with chime's details).
fn render_run(run: &chime_core::model::RunRecord) -> String {
    serde_json::to_string(&wire::sap::RunDetail::from(run)).expect("a run serialises")
}

/// A built API server; [`Api::run`] serves until cancelled.
pub struct Api {
    listener: tokio::net::TcpListener,
    router: axum::Router,
    limits: serve::Limits,
}

impl Api {
    /// Connects to Redis and binds `api_addr`. Refuses to start without an admin token.
    pub async fn build(settings: Settings) -> anyhow::Result<Api> {
        let admin_tokens = auth::AdminTokens::new(
            settings.admin_token.clone(),
            settings.admin_token_file.clone(),
        )?;
        let retention = Retention {
            ttl_ms: settings.run_retention_days * 86_400_000,
            per_stream: settings.runs_per_schedule_cap,
        };
        let (url, ns) = (&settings.redis_url, &settings.namespace);
        let target = Target::of(url, settings.redis_cluster);
        let store = Store::connect_to(target, ns, retention, settings.due_partitions)
            .await
            .context("connecting to Redis")?
            .with_scheduler_shards(settings.scheduler_shards);
        let secret = store
            .cluster_secret(settings.cluster_secret.as_deref())
            .await
            .context("reading the cluster secret")?;
        let broker = Arc::new(Publisher::new(
            &settings.amqp_url,
            Topology::new(&settings.namespace, settings.delivery_limit, &secret),
        ));
        let listener = tokio::net::TcpListener::bind(&settings.api_addr)
            .await
            .with_context(|| format!("binding {}", settings.api_addr))?;
        let limits = serve::Limits {
            header_timeout: std::time::Duration::from_millis(settings.api_header_timeout_ms),
            max_connections: settings.api_max_connections.max(1),
            grace: std::time::Duration::from_secs(settings.shutdown_grace_secs),
        };
        let targets = chime_core::targets::TargetPolicy::parse(&settings.allow_targets)
            .context("CHIME_ALLOW_TARGETS")?;
        let secrets = chime_core::secrets::Keyring::parse(&settings.secret_keys)?;
        let tails = hub::TailHub::new(
            store.clone(),
            render_run,
            hub::TailCaps {
                per_key: settings.tail_max_per_key,
                per_tenant: settings.tail_max_per_tenant,
            },
        );
        let tokens =
            tokens::TokenKeys::new(&settings.token_keys, &secret, settings.token_ttl_secs)?;
        let rates = ratelimit::RateLimits::new(
            settings.tenant_requests_per_second,
            settings.key_requests_per_second,
        );
        let state = AppState {
            store,
            settings: Arc::new(settings),
            admin_tokens: Arc::new(admin_tokens),
            broker,
            targets: Arc::new(targets),
            secrets: Arc::new(secrets),
            tails,
            tokens: Arc::new(tokens),
            limits: Arc::new(rates),
        };
        Ok(Api {
            listener,
            router: routes::router(state),
            limits,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("bound listener has an address")
    }

    /// Serves until `cancel` fires, then finishes in-flight requests.
    pub async fn run(self, cancel: CancellationToken) -> anyhow::Result<()> {
        tracing::info!(addr = %self.local_addr(), "api listening");
        serve::serve(self.listener, self.router, self.limits, cancel).await;
        tracing::info!("api stopped");
        Ok(())
    }
}
