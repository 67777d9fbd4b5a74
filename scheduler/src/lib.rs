//! The chime scheduler: of all replicas, the one holding the Redis lease (the leader) turns due
//! schedules into runs.
//!
//! Per due entry the leader: reads the schedule, decides which nominal instants fire
//! ([`chime_core::schedule::Plan::fire`]), creates each run record (idempotent on the
//! deterministic run id), publishes the runs with publisher confirms, and only then advances
//! the entry with a fenced compare-and-set. A crash anywhere in between re-publishes the same
//! run ids, which the record scripts collapse; a deposed leader's advance is refused by the
//! fence, so it can neither skip nor double a fire.

use anyhow::Context;
use chime_broker::{Publisher, Sent, Topology};
use chime_core::model::{run_id, ActionSpec, Job, RunMessage, Schedule};
use chime_core::schedule::{parse_stored_instant, Plan};
use chime_runtime::config::Settings;
use chime_store::keys::Keys;
use chime_store::{Advance, Deferral, Retention, RunStep, Store};
use futures::future::join_all;
use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;

/// Passes whose confirms and advance may be outstanding at once: a pass publishes its fires and
/// leaves the wait for the broker's confirms and the advance to a task of its own, so fires
/// falling due meanwhile go out without waiting for them.
const PASSES_IN_FLIGHT: usize = 4;

/// The lease this replica holds.
#[derive(Clone, Debug)]
struct Lease {
    token: String,
    epoch: u64,
    /// Past this instant the replica stops acting as leader even without news of losing it.
    valid_until: Instant,
    renew_at: Instant,
}

/// A built scheduler replica; [`Scheduler::run`] drives it until cancelled.
pub struct Scheduler {
    settings: Settings,
    store: Store,
    publisher: Arc<Publisher>,
    owner: String,
    ops_addr: SocketAddr,
    ops_cancel: CancellationToken,
    quotas: Mutex<Quotas>,
    /// Offset of Redis's clock to the local one (ms), and when it was measured.
    clock: Mutex<Option<(i64, Instant)>>,
    /// The run queue's depth at the last look, and when.
    depth: Mutex<Option<(u64, Instant)>>,
    published_since_depth: AtomicU64,
    /// Runs and messages published since start: the queue counts messages, backpressure runs.
    published: (AtomicU64, AtomicU64),
    /// Due entries taken by passes not settled yet (their advance still to come).
    in_flight: Arc<InFlight>,
    /// One permit per pass not settled yet.
    passes: Arc<Semaphore>,
    /// The epoch in which a settling pass found this replica fenced off (0: none).
    fenced_epoch: AtomicU64,
}

/// The due entries of passes that are not settled yet: a later pass leaves them alone, and
/// each settled pass wakes the loop (its entries may be due again at once).
#[derive(Default)]
struct InFlight {
    state: Mutex<Claimed>,
    settled: Notify,
}

#[derive(Default)]
struct Claimed {
    /// Entries of passes not settled yet.
    members: HashSet<String>,
    /// Entries of settled passes, with the count of releases when theirs happened: a read of
    /// the due index that began before it may hold the entry as it was before its advance.
    released: HashMap<String, u64>,
    /// Releases so far.
    releases: u64,
}

impl Claimed {
    /// Forgets the releases a read that began after `releases` releases sees the effect of.
    fn seen_by_read_at(&mut self, releases: u64) {
        self.released.retain(|_, at| *at > releases);
    }

    /// Whether a pass may take the entry (as read by a read that began after the last call of
    /// [`Claimed::seen_by_read_at`]).
    fn free(&self, member: &str) -> bool {
        !self.members.contains(member) && !self.released.contains_key(member)
    }
}

/// A pass's hold on its due entries, released (and the loop woken) when dropped: when the pass
/// settles, or when it ends early without advancing them.
struct Claim {
    set: Arc<InFlight>,
    members: Vec<String>,
}

impl Drop for Claim {
    fn drop(&mut self) {
        if self.members.is_empty() {
            return;
        }
        let mut c = self.set.state.lock().unwrap();
        c.releases += 1;
        let at = c.releases;
        for member in self.members.drain(..) {
            c.members.remove(&member);
            c.released.insert(member, at);
        }
        drop(c);
        self.set.settled.notify_one();
    }
}

/// Per-tenant fire budgets, by the generic cell rate algorithm: a tenant allowed `q` runs per
/// minute fires one run every `60 000 / q` ms on average, with bursts of up to one second's
/// worth. A fire beyond that is deferred to the next free slot, which it reserves, so a tenant
/// over its quota is late instead of crowding the others out, and loses nothing (interval
/// schedules shift, cron fires replay within the misfire threshold). Held in the leader's
/// memory: a new leader starts with full budgets.
struct Quotas {
    default_per_minute: u64,
    tenants: HashMap<String, Budget>,
}

struct Budget {
    per_minute: u64,
    /// When the tenant's own quota was last read (`None`: not yet).
    checked: Option<Instant>,
    /// Theoretical arrival time of the next run (ms).
    tat: f64,
}

impl Quotas {
    /// How long a tenant's own quota is trusted before it is read again.
    const REFRESH: Duration = Duration::from_secs(10);
    /// Burst tolerance (ms): a second's worth of runs may fire at once.
    const TOLERANCE_MS: f64 = 1000.0;

    fn stale<'a>(&self, tenants: impl Iterator<Item = &'a str>) -> Vec<String> {
        let mut out: Vec<String> = tenants
            .filter(|t| {
                self.tenants
                    .get(*t)
                    .and_then(|b| b.checked)
                    .is_none_or(|at| at.elapsed() > Self::REFRESH)
            })
            .map(String::from)
            .collect();
        out.sort_unstable();
        out.dedup();
        out
    }

    fn set(&mut self, tenant: String, own: Option<u64>) {
        let per_minute = own.unwrap_or(self.default_per_minute);
        let b = self.budget(tenant);
        b.per_minute = per_minute;
        b.checked = Some(Instant::now());
    }

    /// The tenant's budget; a tenant not seen yet starts full, with the default quota.
    fn budget(&mut self, tenant: String) -> &mut Budget {
        let per_minute = self.default_per_minute;
        self.tenants.entry(tenant).or_insert_with(|| Budget {
            per_minute,
            checked: None,
            tat: 0.0,
        })
    }

    /// Takes one run of the tenant's budget at `now` (ms): `None` when it may fire now, or the
    /// instant (ms) of the slot reserved for it.
    fn take(&mut self, tenant: &str, now: i64) -> Option<i64> {
        let b = match self.tenants.get_mut(tenant) {
            Some(b) => b,
            None => self.budget(tenant.to_string()),
        };
        if b.per_minute == 0 {
            return None;
        }
        let per_minute = b.per_minute;
        let now = now as f64;
        let slot = b.tat.max(now);
        b.tat = slot + 60_000.0 / per_minute as f64;
        if slot - now <= Self::TOLERANCE_MS {
            None
        } else {
            Some((slot - Self::TOLERANCE_MS).ceil() as i64)
        }
    }
}

/// Settings of the store's run retention.
pub fn retention(s: &Settings) -> Retention {
    Retention {
        ttl_ms: s.run_retention_days * 86_400_000,
        per_stream: s.runs_per_schedule_cap,
    }
}

impl Scheduler {
    /// Connects to Redis, prepares the publisher and binds the ops endpoints.
    pub async fn build(settings: Settings) -> anyhow::Result<Scheduler> {
        let store = Store::connect(
            &settings.redis_url,
            &settings.namespace,
            retention(&settings),
        )
        .await
        .context("connecting to Redis")?;
        let topology = Topology::new(&settings.namespace, settings.delivery_limit);
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
        let quotas = Mutex::new(Quotas {
            default_per_minute: settings.tenant_runs_per_minute,
            tenants: HashMap::new(),
        });
        Ok(Scheduler {
            quotas,
            clock: Mutex::new(None),
            depth: Mutex::new(None),
            published_since_depth: AtomicU64::new(0),
            published: (AtomicU64::new(0), AtomicU64::new(0)),
            in_flight: Arc::default(),
            passes: Arc::new(Semaphore::new(PASSES_IN_FLIGHT)),
            fenced_epoch: AtomicU64::new(0),
            settings,
            store,
            publisher,
            owner,
            ops_addr,
            ops_cancel,
        })
    }

    pub fn ops_addr(&self) -> SocketAddr {
        self.ops_addr
    }

    pub fn owner(&self) -> &str {
        &self.owner
    }

    /// Runs the replica until `cancel` fires, then gives the lease up.
    pub async fn run(self, cancel: CancellationToken) -> anyhow::Result<()> {
        let this = Arc::new(self);
        let lease = this.drive(&cancel).await;
        // Let the passes in flight settle (their advances are fenced if the lease is gone).
        let settle = this.passes.acquire_many(PASSES_IN_FLIGHT as u32);
        if tokio::time::timeout(Duration::from_secs(10), settle)
            .await
            .is_err()
        {
            tracing::warn!("passes still settling at shutdown; their fires are published again by the next leader");
        }
        if let Some(l) = lease {
            let _ = this.store.lease_release(&l.token).await;
            tracing::info!(epoch = l.epoch, "lease released");
        }
        metrics::gauge!("chime_scheduler_leader").set(0.0);
        this.ops_cancel.cancel();
        tracing::info!("scheduler stopped");
        Ok(())
    }

    /// The replica's loop until `cancel` fires; returns the lease it still holds.
    async fn drive(self: &Arc<Self>, cancel: &CancellationToken) -> Option<Lease> {
        tracing::info!(owner = %self.owner, ops = %self.ops_addr, "scheduler started");
        let ttl = Duration::from_millis(self.settings.leader_ttl_ms);
        let mut lease: Option<Lease> = None;
        let mut last_sweep = Instant::now();
        let mut last_depth = Instant::now() - Duration::from_secs(60);
        while !cancel.is_cancelled() {
            let Some(l) = lease.clone() else {
                lease = self.try_acquire(ttl).await;
                if lease.is_none() {
                    pause(
                        cancel,
                        Duration::from_millis(self.settings.leader_ttl_ms / 6),
                    )
                    .await;
                }
                continue;
            };
            if Instant::now() >= l.renew_at {
                lease = self.renew(l, ttl).await;
                continue;
            }
            let step_down = if Instant::now() >= l.valid_until {
                Some("lease deadline passed without renewal; stepping down")
            } else if self.fenced_epoch.load(Ordering::Relaxed) == l.epoch {
                Some("fenced off by a newer leader; stepping down")
            } else {
                None
            };
            if let Some(why) = step_down {
                tracing::warn!(epoch = l.epoch, "{why}");
                lease = None;
                metrics::gauge!("chime_scheduler_leader").set(0.0);
                continue;
            }
            // Every 5 s the depth gauges are refreshed, unless backpressure looked meanwhile.
            if last_depth.elapsed() > Duration::from_secs(5) {
                last_depth = Instant::now();
                let looked = self.depth.lock().unwrap().map(|(_, at)| at.elapsed());
                if looked.is_none_or(|a| a > Duration::from_secs(5)) {
                    let _ = self.look_at_queues().await;
                }
            }
            if last_sweep.elapsed() > Duration::from_secs(self.settings.retention_sweep_secs) {
                last_sweep = Instant::now();
                self.sweep().await;
            }
            match self.tick(&l).await {
                Ok(TickResult::Worked) => {}
                Ok(TickResult::Idle(wait)) => {
                    // A settling pass may leave its entry due at once (a backlog, a failed
                    // publish): its end wakes the loop.
                    tokio::select! {
                        _ = pause(cancel, wait) => {}
                        _ = self.in_flight.settled.notified() => {}
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "scheduler pass failed; retrying");
                    pause(cancel, Duration::from_millis(200)).await;
                }
            }
        }
        lease
    }

    /// Trims every tenant's run streams to its retention age.
    async fn sweep(&self) {
        let Ok(now) = self.store.now_ms().await else {
            return;
        };
        let Ok(tenants) = self.store.tenants().await else {
            return;
        };
        let mut removed = 0;
        for t in tenants {
            match self.store.sweep_retention(&t, now).await {
                Ok(n) => removed += n,
                Err(e) => tracing::warn!(tenant = %t, error = %e, "retention sweep failed"),
            }
        }
        tracing::info!(removed, "retention sweep done");
    }

    async fn try_acquire(&self, ttl: Duration) -> Option<Lease> {
        let started = Instant::now();
        match self
            .store
            .lease_acquire(&self.owner, ttl.as_millis() as u64)
            .await
        {
            Ok(0) => None,
            Ok(epoch) => {
                tracing::info!(owner = %self.owner, epoch, "became leader");
                metrics::gauge!("chime_scheduler_leader").set(1.0);
                metrics::counter!("chime_leader_acquired_total").increment(1);
                Some(self.lease_from(format!("{}:{}", self.owner, epoch), epoch, started, ttl))
            }
            Err(e) => {
                tracing::warn!(error = %e, "lease acquisition failed");
                None
            }
        }
    }

    fn lease_from(&self, token: String, epoch: u64, sent: Instant, ttl: Duration) -> Lease {
        Lease {
            token,
            epoch,
            valid_until: sent + ttl - ttl / 5,
            renew_at: sent + ttl / 3,
        }
    }

    async fn renew(&self, l: Lease, ttl: Duration) -> Option<Lease> {
        let sent = Instant::now();
        match self
            .store
            .lease_renew(&l.token, ttl.as_millis() as u64)
            .await
        {
            Ok(true) => Some(self.lease_from(l.token, l.epoch, sent, ttl)),
            Ok(false) => {
                tracing::warn!(epoch = l.epoch, "lease lost");
                metrics::gauge!("chime_scheduler_leader").set(0.0);
                None
            }
            Err(e) => {
                tracing::warn!(error = %e, "lease renewal failed");
                // Keep acting until the deadline; retry the renewal shortly.
                Some(Lease {
                    renew_at: Instant::now() + Duration::from_millis(100),
                    ..l
                })
            }
        }
    }

    /// One look at every partition of the due index.
    async fn tick(self: &Arc<Self>, lease: &Lease) -> anyhow::Result<TickResult> {
        // A pass needs a free slot among the passes in flight (the broker's confirms are slow
        // when none comes free for long; the loop checks the lease meanwhile).
        let wait = Duration::from_millis(50);
        let Ok(Ok(permit)) = tokio::time::timeout(wait, self.passes.clone().acquire_owned()).await
        else {
            return Ok(TickResult::Worked);
        };
        let mut phase = Phases::start();
        // Backpressure: take no more due entries than the run queue has room for.
        let mut limit = self.settings.scheduler_batch;
        let max = self.settings.max_queued_runs;
        if max > 0 {
            let queued = self.queued_runs(max).await?;
            let room = max.saturating_sub(queued) as usize;
            if room == 0 {
                metrics::counter!("chime_scheduler_held_back_total").increment(1);
                return Ok(TickResult::Idle(Duration::from_millis(10)));
            }
            limit = limit.min(room.div_ceil(self.settings.due_partitions as usize));
        }
        let now = self.now_ms().await?;
        let parts = self.settings.due_partitions;
        // Entries of passes in flight are still due (they advance when their pass settles),
        // and this read may see an entry of a pass that settles while it runs as it was
        // before its advance: read past both, and leave them alone.
        let (taken, releases) = {
            let c = self.in_flight.state.lock().unwrap();
            (c.members.len() + c.released.len(), c.releases)
        };
        let batches = join_all((0..parts).map(|p| self.store.due_batch(p, now, limit + taken)))
            .await
            .into_iter()
            .collect::<Result<Vec<_>, _>>()?;
        // One combined batch over every partition: a pass costs a few round trips whatever
        // the number of partitions.
        let mut due: Vec<(u32, String, i64)> = Vec::new();
        let claim = {
            let mut c = self.in_flight.state.lock().unwrap();
            c.seen_by_read_at(releases);
            for (p, batch) in batches.iter().enumerate() {
                let free = batch.iter().filter(|(m, _)| c.free(m));
                due.extend(free.take(limit).map(|(m, s)| (p as u32, m.clone(), *s)));
            }
            c.members.extend(due.iter().map(|(_, m, _)| m.clone()));
            Claim {
                set: self.in_flight.clone(),
                members: due.iter().map(|(_, m, _)| m.clone()).collect(),
            }
        };
        if !due.is_empty() {
            phase.done("fetch");
            if Instant::now() >= lease.valid_until {
                return Ok(TickResult::Worked);
            }
            self.fire_batch(lease, due, now, claim, permit).await?;
            return Ok(TickResult::Worked);
        }
        // Nothing free is due: wait for the earliest entry past the due ones (all in flight).
        let heads =
            join_all((0..parts).map(|p| self.store.due_head(p, batches[p as usize].len()))).await;
        let earliest = heads.into_iter().filter_map(|h| h.ok().flatten()).min();
        let max_wait = self.settings.scheduler_tick_ms as i64;
        let wait = earliest.map_or(max_wait, |h| (h - now).clamp(1, max_wait));
        Ok(TickResult::Idle(Duration::from_millis(wait as u64)))
    }

    /// Redis's clock, read through the local one: "due" is decided against Redis's time, and
    /// a pass saves the round trip of asking. The offset is measured again every second.
    async fn now_ms(&self) -> anyhow::Result<i64> {
        let local = || chrono::Utc::now().timestamp_millis();
        if let Some((offset, at)) = *self.clock.lock().unwrap() {
            if at.elapsed() < Duration::from_secs(1) {
                return Ok(local() + offset);
            }
        }
        let before = local();
        let redis = self.store.now_ms().await?;
        let after = local();
        let offset = redis - (before + after) / 2;
        *self.clock.lock().unwrap() = Some((offset, Instant::now()));
        Ok(after + offset)
    }

    /// Runs waiting in the run queue, as of the last look plus what was published since. The
    /// queue is looked at again when that estimate passes half of `max`, or after a second.
    async fn queued_runs(&self, max: u64) -> anyhow::Result<u64> {
        {
            let d = self.depth.lock().unwrap();
            if let Some((queued, at)) = *d {
                let estimate = queued + self.published_since_depth.load(Ordering::Relaxed);
                if estimate < max / 2 && at.elapsed() < Duration::from_secs(1) {
                    return Ok(estimate);
                }
            }
        }
        self.look_at_queues().await
    }

    /// Reads the depths of the run and dead-letter queues into their gauges and the
    /// backpressure estimate; returns the runs waiting.
    async fn look_at_queues(&self) -> anyhow::Result<u64> {
        let (messages, dead) = self.publisher.depths().await?;
        metrics::gauge!("chime_queue_depth", "queue" => "runs").set(messages as f64);
        metrics::gauge!("chime_queue_depth", "queue" => "dead").set(dead as f64);
        // The queue counts messages: estimate its runs at the runs per message published so far.
        let runs = self.published.0.load(Ordering::Relaxed).max(1);
        let sent = self.published.1.load(Ordering::Relaxed).max(1);
        let queued = (messages as u64 * runs).div_ceil(sent);
        self.published_since_depth.store(0, Ordering::Relaxed);
        *self.depth.lock().unwrap() = Some((queued, Instant::now()));
        Ok(queued)
    }

    /// Reads the own quota of every tenant whose cached one is stale.
    async fn refresh_quotas<'a>(&self, tenants: impl Iterator<Item = &'a str>) {
        let stale = self.quotas.lock().unwrap().stale(tenants);
        if stale.is_empty() {
            return;
        }
        let own = join_all(stale.iter().map(|t| self.store.tenant_runs_per_minute(t))).await;
        let mut q = self.quotas.lock().unwrap();
        for (t, own) in stale.into_iter().zip(own) {
            match own {
                Ok(own) => q.set(t, own),
                Err(e) => tracing::warn!(tenant = %t, error = %e, "cannot read the tenant's quota"),
            }
        }
    }

    /// Fires a batch of due entries (partition, member, score): plans, records and publishes
    /// their runs, and leaves the confirms and the advance to a task of their own, which holds
    /// the pass's `claim` on the entries and its `permit` until it is done.
    async fn fire_batch(
        self: &Arc<Self>,
        lease: &Lease,
        batch: Vec<(u32, String, i64)>,
        now: i64,
        claim: Claim,
        permit: OwnedSemaphorePermit,
    ) -> anyhow::Result<()> {
        let parsed: Vec<Option<(&str, u64, &str)>> = batch
            .iter()
            .map(|(_, member, _)| Keys::parse_due_member(member))
            .collect();
        let wanted: Vec<(&str, u64, &str)> = parsed.iter().flatten().copied().collect();
        let mut phase = Phases::start();
        let members: Vec<&str> = batch.iter().map(|(_, m, _)| m.as_str()).collect();
        // Both reads go out together on the multiplexed connection.
        let (defs, deferred) = tokio::join!(
            self.store.due_definitions(&wanted),
            self.store.deferred_nominals(&members)
        );
        let (mut defs, deferred) = (defs?.into_iter(), deferred?);
        let loaded: Vec<Option<(String, Arc<Job>, Schedule)>> = parsed
            .iter()
            .map(|p| {
                let (tenant, _, _) = (*p)?;
                let (job, schedule) = defs.next().flatten()?;
                Some((tenant.to_string(), job, schedule))
            })
            .collect();
        self.refresh_quotas(loaded.iter().flatten().map(|(t, _, _)| t.as_str()))
            .await;
        let threshold = self.settings.misfire_threshold_secs as i64 * 1000;
        let mut plans: Vec<Planned> = Vec::with_capacity(batch.len());
        for (((partition, member, score), loaded), deferred) in
            batch.into_iter().zip(loaded).zip(deferred)
        {
            let mut planned = Planned {
                partition,
                member,
                score,
                next: None,
                msgs: vec![],
                one_time_done: None,
                deferral: if deferred.is_some() {
                    Deferral::Clear
                } else {
                    Deferral::None
                },
            };
            match loaded {
                Some((tenant, job, schedule)) if job.active && schedule.active => {
                    match Plan::from_schedule(&schedule) {
                        Ok(plan) => {
                            // A fire over its tenant's quota waits for its slot; a deferred
                            // fire reached its slot with its budget reserved.
                            if deferred.is_none() {
                                let slot = self.quotas.lock().unwrap().take(&tenant, now);
                                if let Some(slot) = slot {
                                    planned.next = Some(slot);
                                    planned.deferral = Deferral::Defer { nominal: score };
                                    metrics::counter!("chime_fires_deferred_total").increment(1);
                                    plans.push(planned);
                                    continue;
                                }
                            }
                            let d = plan.fire(deferred.unwrap_or(score), now, threshold);
                            let job_end = job.end_time.as_deref().and_then(parse_stored_instant);
                            planned.next = d.next.filter(|n| job_end.is_none_or(|e| *n <= e));
                            if d.skipped > 0 {
                                let _ = self
                                    .store
                                    .schedule_event(
                                        &tenant,
                                        &schedule.schedule_id,
                                        "WARNING",
                                        &format!(
                                            "{} missed fires were coalesced into the last one (outage longer than the misfire threshold)",
                                            d.skipped
                                        ),
                                    )
                                    .await;
                                metrics::counter!("chime_fires_coalesced_total")
                                    .increment(d.skipped);
                            }
                            for at in d.fire {
                                if job_end.is_some_and(|e| at > e) {
                                    continue;
                                }
                                planned.msgs.push(run_message(
                                    &tenant,
                                    &job,
                                    &schedule,
                                    at,
                                    &self.owner,
                                    lease.epoch,
                                ));
                            }
                            if matches!(plan.kind, chime_core::schedule::Kind::Time(_)) {
                                planned.one_time_done = Some((tenant, job.id, schedule));
                            }
                        }
                        Err(e) => {
                            tracing::warn!(member = %planned.member, error = %e, "unreadable schedule; removing from due index");
                        }
                    }
                }
                _ => {} // gone or inactive: remove the entry
            }
            plans.push(planned);
        }

        // Create the run records, then publish what exists and is active.
        let all: Vec<(usize, &RunMessage)> = plans
            .iter()
            .enumerate()
            .flat_map(|(i, p)| p.msgs.iter().map(move |m| (i, m)))
            .collect();
        phase.done("plan");
        let steps: Vec<(&RunMessage, RunStep)> = all
            .iter()
            .map(|(_, m)| (*m, RunStep::Materialize))
            .collect();
        let codes: Vec<Result<i64, String>> = match self.store.run_steps(&steps, now, "").await {
            Ok(c) => c.into_iter().map(Ok).collect(),
            Err(e) => vec![Err(e.to_string()); all.len()],
        };
        let mut to_publish: Vec<RunMessage> = Vec::new();
        let mut owner_of: Vec<usize> = Vec::new();
        let mut failed = vec![false; plans.len()];
        for ((i, m), code) in all.iter().zip(codes) {
            match code {
                Ok(0) | Ok(1) => {
                    to_publish.push((*m).clone());
                    owner_of.push(*i);
                }
                Ok(-2) => {
                    let _ = self
                        .store
                        .schedule_event(
                            &m.tenant,
                            &m.schedule_id,
                            "ERROR",
                            "Cannot start run: the job or the schedule is inactive",
                        )
                        .await;
                }
                Ok(_) => {} // job or schedule gone meanwhile: nothing to fire
                Err(e) => {
                    tracing::warn!(run_id = %m.run_id, error = %e, "materialize failed");
                    failed[*i] = true;
                }
            }
        }
        if Instant::now() >= lease.valid_until {
            return Ok(());
        }
        phase.done("materialize");
        let sent = self
            .publisher
            .send_all(&to_publish, self.settings.runs_per_message)
            .await;
        let runs = to_publish.len() as u64;
        self.published_since_depth
            .fetch_add(runs, Ordering::Relaxed);
        self.published.0.fetch_add(runs, Ordering::Relaxed);
        self.published
            .1
            .fetch_add(sent.messages() as u64, Ordering::Relaxed);
        phase.done("publish");
        let this = self.clone();
        let (token, epoch) = (lease.token.clone(), lease.epoch);
        let published = Published {
            plans,
            to_publish,
            owner_of,
            failed,
            sent,
            now,
        };
        tokio::spawn(async move {
            let fenced = this.settle(&token, published).await;
            if fenced {
                this.fenced_epoch.store(epoch, Ordering::Relaxed);
            }
            drop((claim, permit));
        });
        Ok(())
    }

    /// Waits for the broker's confirms of a pass's runs, then advances the entries whose every
    /// fire is durably published. Returns true when fenced off.
    async fn settle(&self, token: &str, pass: Published) -> bool {
        let Published {
            plans,
            to_publish,
            owner_of,
            mut failed,
            sent,
            now,
        } = pass;
        let mut phase = Phases::start();
        let results = self.publisher.confirmed(sent).await;
        phase.done("confirm");
        for ((m, r), i) in to_publish.iter().zip(results).zip(owner_of) {
            match r {
                Ok(()) => {
                    metrics::counter!("chime_runs_published_total").increment(1);
                    metrics::histogram!("chime_fire_lateness_seconds")
                        .record((now - m.scheduled_at).max(0) as f64 / 1000.0);
                    tracing::debug!(run_id = %m.run_id, job_id = m.job_id, schedule_id = %m.schedule_id, tenant = %m.tenant, "published");
                }
                Err(e) => {
                    tracing::warn!(run_id = %m.run_id, error = %e, "publish failed; will retry");
                    metrics::counter!("chime_publish_failures_total").increment(1);
                    failed[i] = true;
                }
            }
        }

        // Advance only entries whose every fire is durably published.
        let ready: Vec<&Planned> = plans
            .iter()
            .enumerate()
            .filter(|(i, _)| !failed[*i])
            .map(|(_, p)| p)
            .collect();
        let entries: Vec<Advance> = ready
            .iter()
            .map(|p| Advance {
                partition: p.partition,
                member: &p.member,
                read: p.score,
                next: p.next,
                deferral: p.deferral,
            })
            .collect();
        let advances: Vec<(&Planned, Result<i64, String>)> =
            match self.store.advance_many(token, &entries).await {
                Ok(codes) => ready.into_iter().zip(codes.into_iter().map(Ok)).collect(),
                Err(e) => ready.into_iter().map(|p| (p, Err(e.to_string()))).collect(),
            };
        let mut fenced = false;
        for (pl, r) in advances {
            match r {
                Ok(1) => {
                    if let (Some((tenant, job, schedule)), None) = (&pl.one_time_done, pl.next) {
                        let mut s = schedule.clone();
                        s.active = false;
                        let _ = self.store.put_schedule(tenant, *job, &s).await;
                        let _ = self
                            .store
                            .schedule_event(
                                tenant,
                                &s.schedule_id,
                                "INFO",
                                "Schedule deactivated on completion",
                            )
                            .await;
                    }
                }
                Ok(0) => {}
                Ok(_) => fenced = true,
                Err(e) => {
                    tracing::warn!(member = %pl.member, error = %e, "advance failed; will retry")
                }
            }
        }
        phase.done("advance");
        fenced
    }
}

/// Times the phases of a pass into `chime_scheduler_phase_seconds{phase}`.
struct Phases(Instant);

impl Phases {
    fn start() -> Self {
        Phases(Instant::now())
    }

    fn done(&mut self, phase: &'static str) {
        metrics::histogram!("chime_scheduler_phase_seconds", "phase" => phase)
            .record(self.0.elapsed().as_secs_f64());
        self.0 = Instant::now();
    }
}

struct Planned {
    partition: u32,
    member: String,
    score: i64,
    next: Option<i64>,
    msgs: Vec<RunMessage>,
    one_time_done: Option<(String, u64, Schedule)>,
    deferral: Deferral,
}

/// A pass whose runs are published, their confirms and its advance still to come.
struct Published {
    plans: Vec<Planned>,
    to_publish: Vec<RunMessage>,
    /// The plan of each run of `to_publish`.
    owner_of: Vec<usize>,
    /// Plans with a fire that could not be recorded or published (not advanced).
    failed: Vec<bool>,
    sent: Sent,
    /// The pass's instant (ms).
    now: i64,
}

enum TickResult {
    Worked,
    Idle(Duration),
}

/// The run message of the fire of `schedule` at nominal instant `at`.
pub fn run_message(
    tenant: &str,
    job: &Job,
    schedule: &Schedule,
    at: i64,
    owner: &str,
    epoch: u64,
) -> RunMessage {
    let method = job.http_method.to_uppercase();
    let mut url = job.action.clone();
    let mut body = None;
    let mut headers: Vec<(String, String)> = job
        .headers
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if let Some(data) = &schedule.data {
        if matches!(method.as_str(), "GET" | "DELETE" | "HEAD") {
            if let Some(q) = query_string(data) {
                url.push(if url.contains('?') { '&' } else { '?' });
                url.push_str(&q);
            }
        } else {
            body = Some(match data {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            });
            if !headers
                .iter()
                .any(|(k, _)| k.eq_ignore_ascii_case("content-type"))
            {
                headers.push(("content-type".into(), "application/json".into()));
            }
        }
    }
    RunMessage {
        run_id: run_id(&schedule.schedule_id, at),
        tenant: tenant.to_string(),
        job_id: job.id,
        schedule_id: schedule.schedule_id.clone(),
        scheduled_at: at,
        owner: owner.to_string(),
        epoch,
        action: ActionSpec {
            url,
            method,
            headers,
            body,
            timeout_ms: job.timeout_ms,
        },
    }
}

/// `data` as a query string: an object's members as `k=v` (strings unquoted), or a string as is.
fn query_string(data: &serde_json::Value) -> Option<String> {
    match data {
        serde_json::Value::Object(map) if !map.is_empty() => {
            let mut ser = url::form_urlencoded::Serializer::new(String::new());
            for (k, v) in map {
                let v = match v {
                    serde_json::Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                ser.append_pair(k, &v);
            }
            Some(ser.finish())
        }
        serde_json::Value::String(s) if !s.is_empty() => {
            Some(s.trim_start_matches('?').to_string())
        }
        _ => None,
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

#[cfg(test)]
mod tests {
    use super::*;

    fn quotas(default_per_minute: u64) -> Quotas {
        Quotas {
            default_per_minute,
            tenants: HashMap::new(),
        }
    }

    #[test]
    fn a_claimed_entry_is_left_alone_until_a_read_after_its_release() {
        let set = Arc::new(InFlight::default());
        let claim = Claim {
            set: set.clone(),
            members: vec!["a".into()],
        };
        set.state.lock().unwrap().members.insert("a".into());
        let before = set.state.lock().unwrap().releases;
        assert!(!set.state.lock().unwrap().free("a"), "claimed");
        assert!(set.state.lock().unwrap().free("b"));
        // The pass settles while a read that began before is under way: that read may hold
        // the entry as it was before its advance.
        drop(claim);
        let mut c = set.state.lock().unwrap();
        c.seen_by_read_at(before);
        assert!(!c.free("a"), "a read that began before the release");
        let after = c.releases;
        c.seen_by_read_at(after);
        assert!(c.free("a"), "a read that began after the release");
    }

    #[test]
    fn a_tenant_fires_a_seconds_worth_at_once_then_one_slot_per_interval() {
        let mut q = quotas(600); // 10 runs/s: one slot every 100 ms
        let now = 1_000_000;
        let fired = (0..30).filter(|_| q.take("a", now).is_none()).count();
        assert_eq!(fired, 11, "a second's burst, plus the run at `now`");
        // The 12th run got the next slot after the burst: reserved, so they never collide.
        let slots: Vec<i64> = (0..3).map(|_| q.take("a", now).unwrap()).collect();
        assert!(slots.windows(2).all(|w| w[1] - w[0] == 100), "{slots:?}");
        // Another tenant has a budget of its own.
        assert_eq!(q.take("b", now), None);
    }

    #[test]
    fn no_quota_means_no_limit_and_a_tenants_own_quota_wins() {
        let mut q = quotas(0);
        assert!((0..10_000).all(|_| q.take("a", 0).is_none()));
        q.set("b".into(), Some(60));
        assert_eq!(q.take("b", 0), None);
        assert_eq!(
            q.take("b", 0),
            None,
            "burst: a second's worth (1) plus the first"
        );
        assert_eq!(q.take("b", 0), Some(1_000));
        q.set("c".into(), Some(0));
        assert!((0..1_000).all(|_| q.take("c", 0).is_none()));
    }
}
