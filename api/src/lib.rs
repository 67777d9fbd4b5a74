//! The chime API: tenants and keys (admin), SAP-compatible jobs, schedules and run logs under
//! `/scheduler`, and the ops endpoints. Stateless: every request reads and writes Redis.
//!
//! Modules: [`auth`] (who is calling), [`error`] (the one error shape), [`input`] (request
//! validation), [`views`] (response shapes), [`routes`] (handlers), [`openapi`] (the OpenAPI
//! document served at `/openapi.json` and rendered at `/docs`).

pub mod auth;
pub mod dialects;
pub mod error;
pub mod input;
pub mod openapi;
pub mod routes;
pub mod views;

use anyhow::Context;
use chime_broker::{Publisher, Topology};
use chime_runtime::config::Settings;
use chime_store::{Retention, Store};
use std::net::SocketAddr;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// Shared by every handler.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub settings: Arc<Settings>,
    pub admin_token: Arc<str>,
    pub broker: Arc<Publisher>,
    /// API keys looked up in the last few seconds (saves a round trip per request).
    pub key_cache: auth::KeyCache,
}

/// A built API server; [`Api::run`] serves until cancelled.
pub struct Api {
    listener: tokio::net::TcpListener,
    router: axum::Router,
}

impl Api {
    /// Connects to Redis and binds `api_addr`. Refuses to start without an admin token.
    pub async fn build(settings: Settings) -> anyhow::Result<Api> {
        let admin_token = settings
            .admin_token
            .clone()
            .filter(|t| !t.is_empty())
            .context("CHIME_ADMIN_TOKEN must be set for the API")?;
        let retention = Retention {
            ttl_ms: settings.run_retention_days * 86_400_000,
            per_stream: settings.runs_per_schedule_cap,
        };
        let store = Store::connect(&settings.redis_url, &settings.namespace, retention)
            .await
            .context("connecting to Redis")?;
        let broker = Arc::new(Publisher::new(
            &settings.amqp_url,
            Topology::new(&settings.namespace, settings.delivery_limit),
        ));
        let listener = tokio::net::TcpListener::bind(&settings.api_addr)
            .await
            .with_context(|| format!("binding {}", settings.api_addr))?;
        let state = AppState {
            store,
            settings: Arc::new(settings),
            admin_token: admin_token.into(),
            broker,
            key_cache: auth::KeyCache::default(),
        };
        Ok(Api {
            listener,
            router: routes::router(state),
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
        axum::serve(self.listener, self.router)
            .with_graceful_shutdown(async move { cancel.cancelled().await })
            .await?;
        tracing::info!("api stopped");
        Ok(())
    }
}
