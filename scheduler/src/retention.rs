//! Retention: how long run records live, and the leader's periodic sweep of the run streams.

use chime_runtime::config::Settings;
use chime_store::{Retention, Store};

/// Settings of the store's run retention.
pub fn retention(s: &Settings) -> Retention {
    Retention {
        ttl_ms: s.run_retention_days * 86_400_000,
        per_stream: s.runs_per_schedule_cap,
    }
}

/// Trims every tenant's run streams to its retention age.
pub(crate) async fn sweep(store: &Store) {
    let Ok(now) = store.now_ms().await else {
        return;
    };
    let Ok(tenants) = store.tenants().await else {
        return;
    };
    let mut removed = 0;
    for t in tenants {
        match store.sweep_retention(&t, now).await {
            Ok(n) => removed += n,
            Err(e) => tracing::warn!(tenant = %t, error = %e, "retention sweep failed"),
        }
    }
    tracing::info!(removed, "retention sweep done");
}
