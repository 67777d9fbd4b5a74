//! The operations view (`GET /admin/operations`): the fleet's leaders, schedulers, workers,
//! queues and each tenant's activity.

use serde::Serialize;
use utoipa::ToSchema;

/// The fleet at one instant.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Operations {
    /// When this view was read (ISO 8601).
    pub now: String,
    /// Each shard of the due index with its leader (one shard unless
    /// `CHIME_SCHEDULER_SHARDS` is set).
    pub shards: Vec<ShardView>,
    /// The schedulers alive (a heartbeat within the lease's time).
    pub schedulers: Vec<SchedulerView>,
    /// The workers alive.
    pub workers: Vec<WorkerView>,
    /// The run queue's depths; `null` when the broker cannot be reached.
    pub queues: Option<QueuesView>,
    /// Every tenant, the busiest first.
    pub tenants: Vec<TenantView>,
}

/// A shard of the due index.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ShardView {
    pub shard: u32,
    /// The scheduler leading it; `null` while none does (a failover in progress).
    pub leader: Option<String>,
    /// The fencing epoch: it grows with every new leader.
    pub epoch: u64,
    /// How long the lease lasts unless renewed (ms).
    pub lease_ttl_ms: Option<u64>,
}

/// A scheduler alive.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SchedulerView {
    pub name: String,
    /// Its last heartbeat (ISO 8601).
    pub last_seen: String,
    /// How many shards it leads.
    pub shards_led: u32,
}

/// A worker alive.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WorkerView {
    pub id: String,
    /// Runs it executes at once (`CHIME_WORKER_CONCURRENCY`).
    pub concurrency: u64,
    /// Runs it was executing at its last heartbeat (every 5 s).
    pub in_flight: u64,
    /// When it is taken for dead unless heard of again (ISO 8601).
    pub alive_until: String,
}

/// The broker's queues.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct QueuesView {
    /// Messages waiting in the run queue (a message carries one or more runs).
    pub runs: u32,
    /// Messages in the broker's dead-letter queue: deliveries that failed
    /// `CHIME_DELIVERY_LIMIT` (5) times, or unsigned. `GET /admin/deadLetters` takes them into
    /// the store (`deadLetterKept`).
    pub dead_letter: u32,
    /// Dead letters kept in the store, waiting for the operator to replay or discard them.
    pub dead_letter_kept: u64,
}

/// A tenant's activity.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TenantView {
    pub tenant_id: String,
    pub name: String,
    /// Runs created and not finished yet (waiting for a worker, running, or acknowledged
    /// asynchronously and not reported).
    pub runs_in_flight: u64,
    /// Runs finished in the last minute (exact up to 1,000; past that, estimated from the
    /// time the newest 1,000 took).
    pub runs_per_minute: u64,
}

/// `GET /admin/deadLetters` parameters.
#[derive(serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeadLetterQuery {
    /// Messages to skip, oldest first (default 0).
    #[param(value_type = Option<u64>, minimum = 0)]
    pub offset: Option<String>,
    /// Page size, 1 to 100 (default 20).
    #[param(value_type = Option<u64>, minimum = 1, maximum = 100)]
    pub limit: Option<String>,
}

/// A page of the dead letters.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeadLetterPage {
    /// The messages kept, in all.
    pub total: u64,
    /// Oldest first.
    pub dead_letters: Vec<DeadLetterView>,
}

/// A message of the dead-letter queue.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeadLetterView {
    /// Its id (24 hex digits of the SHA-256 of its signature and body).
    pub id: String,
    /// When it was taken off the dead-letter queue (ISO 8601).
    pub kept_at: String,
    /// Why it cannot be replayed (no signature, a signature that does not hold, a body that
    /// is not runs); `null` when it can.
    pub refused: Option<String>,
    /// The runs it carries (none when `refused`).
    pub runs: Vec<DeadRunView>,
    /// Its size in bytes.
    pub bytes: usize,
}

/// A run in a dead letter.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeadRunView {
    pub run_id: String,
    pub tenant_id: String,
    pub job_id: u64,
    pub schedule_id: String,
    /// Its nominal instant (ISO 8601).
    pub scheduled_for: String,
    /// The attempt the message carried.
    pub attempt: u32,
    /// Whether it is a run requested with "run now".
    pub manual: bool,
}

/// What replaying or discarding a dead letter did.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeadLetterDone {
    pub id: String,
    /// The runs published again (replay) or finished as errors (discard); on a replay, a
    /// run already finished is skipped by the worker, on a discard it keeps its result.
    pub runs: usize,
}
