//! The chime scheduler: of all replicas, the one holding the Redis lease (the leader) turns due
//! schedules into runs.
//!
//! Per due entry the leader: reads the schedule, decides which nominal instants fire
//! ([`chime_core::schedule::Plan::fire_until`]), creates each run record (idempotent on the
//! deterministic run id), publishes the runs with publisher confirms, and only then advances
//! the entry with a fenced compare-and-set. A crash anywhere in between re-publishes the same
//! run ids, which the record scripts collapse; a deposed leader's advance is refused by the
//! fence, so it can neither skip nor double a fire.
//!
//! Layout, by phase:
//! - this file: [`Scheduler`]'s build and its loop (lease, upkeep, passes) until shutdown;
//! - `lease`: acquire, renew and step down; the fencing epoch and the lease's deadline;
//! - `clock`: Redis's clock, through the local one and a measured offset;
//! - `backpressure`: the run queue's depth, and the room a pass may fill;
//! - `quotas`: each tenant's fire budget, and the deferral of fires over it;
//! - `claims`: the in-memory claims of passes not settled yet, and their slots;
//! - `pass`: one pass: read the due entries, load their definitions, plan, materialise,
//!   publish;
//! - `settle`: a published pass's confirms, then its fenced advance;
//! - `manual`: manual fires ("run now"): their due entries' plan;
//! - `message`: the run message (the HTTP call) of a fire;
//! - `leader`: [`Leader::pass_once`], the passes of a leader stepped by its caller;
//! - `shards`: the due index's shards, one loop each, shared out among the schedulers alive;
//! - `retention`: the store's run retention and its periodic sweep.
//! - `repair`: the sweep that completes writes a crash left half done (replan markers, names
//!   without a job, active schedules without a due entry).
//! - `deadline`: the sweep that completes asynchronous runs (202) whose job did not report
//!   within its tenant's `ASYNC_EXEC_TIMEOUT` as `COMPLETED/UNKNOWN`.
//! - `lifecycle`: the sweep of SAP's lifecycle rules: a schedule whose endpoint has been
//!   unreachable too long is deactivated, an inactive one-time schedule not run for long is
//!   removed.

mod backpressure;
mod claims;
mod clock;
mod deadline;
mod leader;
mod lease;
mod lifecycle;
mod manual;
mod message;
mod pass;
mod quotas;
mod repair;
mod retention;
mod settle;
mod shards;

pub use leader::Leader;
pub use lifecycle::{Lifecycle, Limits, Swept};
pub use message::run_message;
pub use pass::PassReport;
pub use retention::retention;

use crate::backpressure::Backpressure;
use crate::claims::{InFlight, PASSES_IN_FLIGHT};
use crate::clock::Clock;
use crate::lease::{Fence, Lease};
use crate::pass::{Ended, Step};
use crate::quotas::Quotas;
use crate::shards::Shares;
use anyhow::Context;
use chime_broker::{Publisher, Topology};
use chime_runtime::config::Settings;
use chime_store::{Store, Target};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// How often the queue depth gauges are refreshed (unless backpressure looked meanwhile).
const DEPTH_GAUGES_EVERY: Duration = Duration::from_secs(5);
/// How often the leader of shard 0 reads the workers' slots for the cap on runs in flight.
const CAP_EVERY: Duration = Duration::from_secs(5);

/// The cap on each tenant's runs in flight: the setting, or the slots of the smallest worker
/// alive (`worker_slots`), or `worker_concurrency` while none is registered. One worker's
/// slots are half its prefetch: should every run of a tenant reach one worker (the others
/// died), its messages waiting there for the tenant's lane leave the other half of that
/// worker's prefetch to the other tenants.
fn in_flight_cap(settings: &Settings, worker_slots: u64) -> u64 {
    match (settings.tenant_max_in_flight, worker_slots) {
        (0, 0) => settings.worker_concurrency as u64,
        (0, slots) => slots,
        (cap, _) => cap,
    }
}
/// How long a pass waits for a slot among the passes in flight before the loop looks at the
/// lease again.
const SLOT_WAIT: Duration = Duration::from_millis(50);
/// The pause after a pass held back by backpressure.
const HELD_BACK_PAUSE: Duration = Duration::from_millis(10);
/// The pause after a failed pass.
const FAILED_PASS_PAUSE: Duration = Duration::from_millis(200);
/// How long shutdown waits for the passes in flight to settle.
const SETTLE_AT_SHUTDOWN: Duration = Duration::from_secs(10);

/// A built scheduler replica; [`Scheduler::run`] drives it until cancelled.
pub struct Scheduler {
    settings: Settings,
    store: Store,
    publisher: Arc<Publisher>,
    owner: String,
    ops_addr: SocketAddr,
    ops_cancel: CancellationToken,
    quotas: Quotas,
    clock: Clock,
    backpressure: Backpressure,
    /// Due entries taken by passes not settled yet (their advance still to come).
    in_flight: Arc<InFlight>,
    /// The tenants that fired lately, and when: the cap on runs in flight applies while more
    /// than one does.
    firing: Arc<pass::Firing>,
    fence: Fence,
    /// The shard of the due index this scheduler's loop leads when it holds its lease.
    shard: u32,
    /// What the process's shard loops share.
    shares: Arc<Shares>,
}

impl std::fmt::Debug for Scheduler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scheduler")
            .field("owner", &self.owner)
            .field("ops_addr", &self.ops_addr)
            .finish_non_exhaustive()
    }
}

impl Scheduler {
    /// Connects to Redis, prepares the publisher and binds the ops endpoints.
    pub async fn build(settings: Settings) -> anyhow::Result<Scheduler> {
        let store = Store::connect_to(
            Target::of(&settings.redis_url, settings.redis_cluster),
            &settings.namespace,
            retention(&settings),
            settings.due_partitions,
        )
        .await
        .context("connecting to Redis")?
        .with_scheduler_shards(settings.scheduler_shards)
        .with_admission(in_flight_cap(&settings, 0), settings.default_timeout_ms);
        let secret = store
            .cluster_secret(settings.cluster_secret.as_deref())
            .await
            .context("reading the cluster secret")?;
        let topology = Topology::new(&settings.namespace, settings.delivery_limit, &secret);
        let publisher = Arc::new(Publisher::new(&settings.amqp_url, topology));
        if let Err(e) = publisher.ready().await {
            tracing::warn!(error = %e, "RabbitMQ not reachable yet; will retry");
        }
        let owner = format!(
            "{}-{}",
            hostname(),
            &uuid::Uuid::new_v4().simple().to_string()[..8]
        );
        let ops_cancel = CancellationToken::new();
        let ready = {
            let store = store.clone();
            let publisher = publisher.clone();
            Arc::new(move || {
                let store = store.clone();
                let publisher = publisher.clone();
                Box::pin(async move {
                    store.ping().await.map_err(|e| format!("redis: {e}"))?;
                    publisher
                        .ready()
                        .await
                        .map_err(|e| format!("rabbitmq: {e}"))
                }) as futures::future::BoxFuture<'static, Result<(), String>>
            })
        };
        let ops_addr = chime_runtime::ops::serve(
            &settings.ops_addr,
            chime_runtime::ops::router(ready),
            ops_cancel.clone(),
        )
        .await
        .context("binding the ops address")?;
        let shards = store.keys().shards();
        Ok(Scheduler {
            quotas: Quotas::new(settings.tenant_runs_per_minute, shards),
            clock: Clock::default(),
            backpressure: Backpressure::default(),
            in_flight: InFlight::new(PASSES_IN_FLIGHT),
            firing: Arc::default(),
            fence: Fence::default(),
            shard: 0,
            shares: Shares::new(shards),
            settings,
            store,
            publisher,
            owner,
            ops_addr,
            ops_cancel,
        })
    }

    /// The scheduler of shard `shard`, sharing this one's process (its connections, owner
    /// name, shard shares and ops endpoints), with passes, quotas, a clock and a fence of its own.
    fn of_shard(&self, shard: u32) -> Scheduler {
        Scheduler {
            settings: self.settings.clone(),
            store: self.store.clone(),
            publisher: self.publisher.clone(),
            owner: self.owner.clone(),
            ops_addr: self.ops_addr,
            ops_cancel: self.ops_cancel.clone(),
            quotas: Quotas::new(self.settings.tenant_runs_per_minute, self.shards()),
            clock: Clock::default(),
            backpressure: Backpressure::default(),
            in_flight: InFlight::new(PASSES_IN_FLIGHT),
            firing: self.firing.clone(),
            fence: Fence::default(),
            shard,
            shares: self.shares.clone(),
        }
    }

    /// Sets the cap on each tenant's runs in flight from the workers alive.
    async fn refresh_in_flight_cap(&self) {
        if self.settings.tenant_max_in_flight != 0 {
            return;
        }
        let Ok(now) = self.store.now_ms().await else {
            return;
        };
        match self.store.smallest_worker_slots(now).await {
            Ok(slots) => {
                let cap = in_flight_cap(&self.settings, slots);
                self.store.admission().set_cap(cap);
                metrics::gauge!("chime_tenant_in_flight_cap").set(cap as f64);
            }
            Err(e) => chime_runtime::telemetry::warn_throttled(
                "worker_slots_failed",
                &format!("cannot read the workers' slots: {e}"),
            ),
        }
    }

    /// The shards of the due index.
    fn shards(&self) -> u32 {
        self.store.keys().shards()
    }

    pub fn ops_addr(&self) -> SocketAddr {
        self.ops_addr
    }

    pub fn owner(&self) -> &str {
        &self.owner
    }

    /// Runs the replica until `cancel` fires: a loop for each shard of the due index, and the
    /// heartbeat by which the schedulers alive share the shards out. Then gives its leases up.
    pub async fn run(self, cancel: CancellationToken) -> anyhow::Result<()> {
        let this = Arc::new(self);
        tracing::info!(owner = %this.owner, ops = %this.ops_addr, shards = this.shards(), "scheduler started");
        let beat = tokio::spawn(this.clone().heartbeat(cancel.clone()));
        let loops = (0..this.shards()).map(|k| {
            let shard = if k == 0 {
                this.clone()
            } else {
                Arc::new(this.of_shard(k))
            };
            let cancel = cancel.clone();
            tokio::spawn(async move { shard.run_shard(&cancel).await })
        });
        futures::future::join_all(loops).await;
        let _ = beat.await;
        this.ops_cancel.cancel();
        tracing::info!("scheduler stopped");
        Ok(())
    }

    /// The loop of this scheduler's shard until `cancel` fires; then lets its passes in flight
    /// settle and gives the shard's lease up.
    async fn run_shard(self: &Arc<Self>, cancel: &CancellationToken) {
        let held = self.drive(cancel).await;
        // Let the passes in flight settle (their advances are fenced if the lease is gone).
        if !self.in_flight.drain(SETTLE_AT_SHUTDOWN).await {
            tracing::warn!(shard = self.shard, "passes still settling at shutdown; their fires are published again by the next leader");
        }
        if let Some(l) = held {
            lease::release(&self.store, self.shard, &l).await;
            self.shares.lost();
        }
    }

    /// The shard's loop until `cancel` fires; returns the lease it still holds.
    async fn drive(self: &Arc<Self>, cancel: &CancellationToken) -> Option<Lease> {
        let ttl = lease::ttl(&self.settings);
        let mut held: Option<Lease> = None;
        let mut last_sweep = Instant::now();
        let mut last_repair = Instant::now();
        let mut last_cap = Instant::now() - CAP_EVERY;
        let mut repairer = repair::Repairer::default();
        let mut last_deadlines = Instant::now();
        let mut deadlines = deadline::Deadlines::default();
        let mut last_lifecycle = Instant::now();
        let mut lifecycle = Lifecycle::new(Limits::of(&self.settings));
        let mut last_depth = Instant::now() - Duration::from_secs(60);
        while !cancel.is_cancelled() {
            let Some(l) = held.clone() else {
                if self.shares.mine(self.shard) {
                    held = lease::acquire(&self.store, self.shard, &self.owner, ttl).await;
                }
                match held {
                    Some(_) => self.shares.took(),
                    None => pause(cancel, ttl / 6).await,
                }
                continue;
            };
            if l.renewal_due() {
                held = lease::renew(&self.store, self.shard, l, ttl).await;
                if held.is_none() {
                    self.shares.lost();
                }
                continue;
            }
            if let Some(why) = l.step_down(&self.fence) {
                tracing::warn!(shard = self.shard, epoch = l.epoch, "{why}");
                held = None;
                self.shares.lost();
                continue;
            }
            if self.shares.give_up(self.shard) {
                self.give_up(&l).await;
                held = None;
                pause(cancel, shards::AFTER_GIVING_UP).await;
                continue;
            }
            // The process's chores go with shard 0.
            if self.shard == 0 && last_depth.elapsed() > DEPTH_GAUGES_EVERY {
                last_depth = Instant::now();
                if !self.backpressure.looked_within(DEPTH_GAUGES_EVERY) {
                    let _ = self.backpressure.look_at_queues(&self.publisher).await;
                }
            }
            let sweep_every = Duration::from_secs(self.settings.retention_sweep_secs);
            if self.shard == 0 && last_sweep.elapsed() > sweep_every {
                last_sweep = Instant::now();
                retention::sweep(&self.store).await;
            }
            if self.shard == 0 && last_cap.elapsed() > CAP_EVERY {
                last_cap = Instant::now();
                self.refresh_in_flight_cap().await;
            }
            let repair_every = Duration::from_secs(self.settings.repair_sweep_secs.max(1));
            if self.shard == 0 && last_repair.elapsed() > repair_every {
                last_repair = Instant::now();
                if let Ok(now) = self.store.now_ms().await {
                    let age = i64::try_from(repair_every.as_millis()).unwrap_or(i64::MAX);
                    let done = repairer.sweep(&self.store, now, age).await;
                    if done != repair::Repaired::default() {
                        tracing::warn!(?done, "repair sweep repaired what a crash left");
                    }
                }
            }
            let deadlines_every = Duration::from_secs(self.settings.async_sweep_secs.max(1));
            if self.shard == 0 && last_deadlines.elapsed() > deadlines_every {
                last_deadlines = Instant::now();
                if let Ok(now) = self.store.now_ms().await {
                    deadlines.sweep(&self.store, now).await;
                }
            }
            let lifecycle_every = Duration::from_secs(self.settings.lifecycle_sweep_secs.max(1));
            if self.shard == 0 && last_lifecycle.elapsed() > lifecycle_every {
                last_lifecycle = Instant::now();
                if let Ok(now) = self.store.now_ms().await {
                    lifecycle.sweep(&self.store, now).await;
                }
            }
            match self.tick(&l).await {
                Ok(None) => {}
                Ok(Some(wait)) => {
                    // A settling pass may leave its entry due at once (a backlog, a failed
                    // publish): its end wakes the loop.
                    tokio::select! {
                        _ = pause(cancel, wait) => {}
                        _ = self.in_flight.settled() => {}
                    }
                }
                Err(e) => {
                    chime_runtime::telemetry::warn_throttled(
                        "pass_failed",
                        &format!(
                            "scheduler pass of shard {} failed; retrying: {e}",
                            self.shard
                        ),
                    );
                    pause(cancel, FAILED_PASS_PAUSE).await;
                }
            }
        }
        held
    }

    /// Gives the shard up to the scheduler whose share it now is: its passes in flight settle
    /// first.
    async fn give_up(&self, l: &Lease) {
        tracing::info!(
            shard = self.shard,
            epoch = l.epoch,
            "the shard is another scheduler's share now; giving it up"
        );
        self.in_flight.drain(SETTLE_AT_SHUTDOWN).await;
        lease::release(&self.store, self.shard, l).await;
        self.shares.lost();
    }

    /// One pass of the loop, whose published fires settle in a task of their own: how long to
    /// wait before the next (`None`: go on at once).
    async fn tick(self: &Arc<Self>, lease: &Lease) -> anyhow::Result<Option<Duration>> {
        // A pass needs a free slot among the passes in flight (the broker's confirms are slow
        // when none comes free for long; the loop checks the lease meanwhile).
        let Some(slot) = self.in_flight.slot(Some(SLOT_WAIT)).await else {
            return Ok(None);
        };
        match self.pass(lease, slot, None).await? {
            Step::Ended(Ended::HeldBack) => Ok(Some(HELD_BACK_PAUSE)),
            Step::Ended(Ended::Idle { now, next_due }) => {
                // Wait for the earliest entry past the due ones (all in flight).
                let max_wait = self.settings.scheduler_tick_ms as i64;
                let wait = next_due.map_or(max_wait, |h| (h - now).clamp(1, max_wait));
                Ok(Some(Duration::from_millis(wait as u64)))
            }
            Step::Ended(Ended::Abandoned { .. }) => Ok(None),
            Step::Published(pending) => {
                let this = self.clone();
                let (token, epoch) = (lease.token.clone(), lease.epoch);
                tokio::spawn(async move {
                    this.settle(&token, epoch, *pending).await;
                });
                Ok(None)
            }
        }
    }
}

async fn pause(cancel: &CancellationToken, d: Duration) {
    tokio::select! {
        _ = cancel.cancelled() => {},
        _ = tokio::time::sleep(d) => {},
    }
}

fn hostname() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| {
            std::fs::read_to_string("/etc/hostname")
                .ok()
                .map(|h| h.trim().to_string())
        })
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "scheduler".into())
}
