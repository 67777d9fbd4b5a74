//! The operations view for the operator (the admin token): who leads each shard of the due
//! index under which epoch, the schedulers and workers alive, the queues' depths and each
//! tenant's runs in flight and pace.

use crate::auth::Admin;
use crate::error::ApiResult;
use crate::service;
use crate::state::AppState;
use crate::wire::fleet::{
    Operations, QueuesView, SchedulerView, ShardView, TenantView, WorkerView,
};
use axum::extract::State;
use axum::Json;
use chime_core::time::format_instant;
use futures::{StreamExt, TryStreamExt};

/// Tenants whose activity is read at once.
const TENANTS_AT_ONCE: usize = 32;

#[utoipa::path(
    get, path = "/admin/operations", tag = "admin", operation_id = "operations",
    summary = "The fleet: leaders, schedulers, workers, queues and each tenant's activity",
    description = "Each shard of the due index with its leader and fencing epoch, the schedulers and workers alive (from their heartbeats: a worker's runs in flight are as of its last heartbeat, every 5 s), the run and dead-letter queues' depths (`null` when the broker cannot be reached) and every tenant with its runs in flight and runs finished in the last minute, the busiest first.",
    responses(
        (status = 200, description = "The fleet now", body = Operations),
        (status = 401, description = "Missing or invalid admin token", body = crate::error::SapError),
        (status = 500, description = "A server fault", body = crate::error::SapError),
        (status = 503, description = "The store is unavailable", body = crate::error::SapError),
    ),
    security(("adminToken" = []))
)]
pub async fn operations(State(s): State<AppState>, _: Admin) -> ApiResult<Json<Operations>> {
    Ok(Json(operations_view(&s).await?))
}

/// The fleet now, as `GET /admin/operations` answers it (and the dashboard shows it).
pub(crate) async fn operations_view(s: &AppState) -> ApiResult<Operations> {
    let (now, _) = service::now(s).await?;
    let shards = s.store.shard_leases().await?;
    let schedulers = s.store.schedulers_alive().await?;
    let workers = s.store.workers_alive(now).await?;
    let queues = s.broker.depths().await.ok();
    let kept = s.store.letters_kept().await?;
    let ids = s.store.tenants().await?;
    let store = &s.store;
    let mut tenants: Vec<TenantView> = futures::stream::iter(ids)
        .map(|t| async move { store.tenant_activity(&t, now).await })
        .buffer_unordered(TENANTS_AT_ONCE)
        .map_ok(|a| TenantView {
            tenant_id: a.tenant,
            name: a.name,
            runs_in_flight: a.in_flight,
            runs_per_minute: a.per_minute,
        })
        .try_collect()
        .await?;
    tenants.sort_by(|a, b| {
        (b.runs_per_minute, b.runs_in_flight, &a.tenant_id).cmp(&(
            a.runs_per_minute,
            a.runs_in_flight,
            &b.tenant_id,
        ))
    });
    Ok(Operations {
        now: format_instant(now),
        shards: shards
            .into_iter()
            .map(|l| ShardView {
                shard: l.shard,
                leader: l.leader,
                epoch: l.epoch,
                lease_ttl_ms: l.ttl_ms,
            })
            .collect(),
        schedulers: schedulers
            .into_iter()
            .map(|a| SchedulerView {
                name: a.name,
                last_seen: format_instant(a.seen_ms),
                shards_led: a.shards,
            })
            .collect(),
        workers: workers
            .into_iter()
            .map(|w| WorkerView {
                id: w.id,
                concurrency: w.slots,
                in_flight: w.busy,
                alive_until: format_instant(w.until_ms),
            })
            .collect(),
        queues: queues.map(|(runs, dead_letter)| QueuesView {
            runs,
            dead_letter,
            dead_letter_kept: kept,
        }),
        tenants,
    })
}
