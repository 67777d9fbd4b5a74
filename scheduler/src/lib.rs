//! The chime scheduler: of all replicas, the one holding the Redis lease (the leader) turns due
//! schedules into runs.
//!
//! Per due entry the leader: reads the schedule, decides which nominal instants fire
//! ([`chime_shared::schedule::Plan::fire`]), creates each run record (idempotent on the
//! deterministic run id), publishes the runs with publisher confirms, and only then advances
//! the entry with a fenced compare-and-set. A crash anywhere in between re-publishes the same
//! run ids, which the record scripts collapse; a deposed leader's advance is refused by the
//! fence, so it can neither skip nor double a fire.

use anyhow::Context;
use chime_shared::broker::{Publisher, Topology};
use chime_shared::config::Settings;
use chime_shared::keys::Keys;
use chime_shared::model::{run_id, ActionSpec, Job, RunMessage, Schedule};
use chime_shared::schedule::{parse_stored_instant, Plan};
use chime_shared::store::{Retention, Store};
use futures::future::join_all;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

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
        let topology = Topology {
            keys: Keys::new(&settings.namespace),
            delivery_limit: settings.delivery_limit,
        };
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
        let ops_addr = chime_shared::ops::serve(
            &settings.ops_addr,
            chime_shared::ops::router(ready),
            ops_cancel.clone(),
        )
        .await
        .context("binding the ops address")?;
        Ok(Scheduler {
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
        tracing::info!(owner = %self.owner, ops = %self.ops_addr, "scheduler started");
        let ttl = Duration::from_millis(self.settings.leader_ttl_ms);
        let mut lease: Option<Lease> = None;
        let mut last_depth = Instant::now() - Duration::from_secs(60);
        let mut last_sweep = Instant::now();
        while !cancel.is_cancelled() {
            let Some(l) = lease.clone() else {
                lease = self.try_acquire(ttl).await;
                if lease.is_none() {
                    pause(
                        &cancel,
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
            if Instant::now() >= l.valid_until {
                tracing::warn!(
                    epoch = l.epoch,
                    "lease deadline passed without renewal; stepping down"
                );
                lease = None;
                metrics::gauge!("chime_scheduler_leader").set(0.0);
                continue;
            }
            if last_depth.elapsed() > Duration::from_secs(5) {
                last_depth = Instant::now();
                if let Ok((runs, dead)) = self.publisher.depths().await {
                    metrics::gauge!("chime_queue_depth", "queue" => "runs").set(runs as f64);
                    metrics::gauge!("chime_queue_depth", "queue" => "dead").set(dead as f64);
                }
            }
            if last_sweep.elapsed() > Duration::from_secs(self.settings.retention_sweep_secs) {
                last_sweep = Instant::now();
                self.sweep().await;
            }
            match self.tick(&l).await {
                Ok(TickResult::Worked) => {}
                Ok(TickResult::Idle(wait)) => pause(&cancel, wait).await,
                Ok(TickResult::Fenced) => {
                    tracing::warn!(
                        epoch = l.epoch,
                        "fenced off by a newer leader; stepping down"
                    );
                    lease = None;
                    metrics::gauge!("chime_scheduler_leader").set(0.0);
                }
                Err(e) => {
                    tracing::warn!(error = %e, "scheduler pass failed; retrying");
                    pause(&cancel, Duration::from_millis(200)).await;
                }
            }
        }
        if let Some(l) = lease {
            let _ = self.store.lease_release(&l.token).await;
            tracing::info!(epoch = l.epoch, "lease released");
        }
        metrics::gauge!("chime_scheduler_leader").set(0.0);
        self.ops_cancel.cancel();
        tracing::info!("scheduler stopped");
        Ok(())
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
    async fn tick(&self, lease: &Lease) -> anyhow::Result<TickResult> {
        let now = self.store.now_ms().await?;
        let parts = self.settings.due_partitions;
        let batches = join_all(
            (0..parts).map(|p| self.store.due_batch(p, now, self.settings.scheduler_batch)),
        )
        .await;
        // One combined batch over every partition: a pass costs a few round trips whatever
        // the number of partitions.
        let mut due: Vec<(u32, String, i64)> = Vec::new();
        for (p, batch) in batches.into_iter().enumerate() {
            due.extend(batch?.into_iter().map(|(m, s)| (p as u32, m, s)));
        }
        if !due.is_empty() {
            if Instant::now() >= lease.valid_until {
                return Ok(TickResult::Worked);
            }
            if self.fire_batch(lease, due, now).await? {
                return Ok(TickResult::Fenced);
            }
            return Ok(TickResult::Worked);
        }
        let heads = join_all((0..parts).map(|p| self.store.due_head(p))).await;
        let earliest = heads.into_iter().filter_map(|h| h.ok().flatten()).min();
        let max_wait = self.settings.scheduler_tick_ms as i64;
        let wait = earliest.map_or(max_wait, |h| (h - now).clamp(1, max_wait));
        Ok(TickResult::Idle(Duration::from_millis(wait as u64)))
    }

    /// Fires a batch of due entries (partition, member, score). Returns true when fenced off.
    async fn fire_batch(
        &self,
        lease: &Lease,
        batch: Vec<(u32, String, i64)>,
        now: i64,
    ) -> anyhow::Result<bool> {
        let loaded = join_all(batch.iter().map(|(_, member, _)| self.load(member))).await;
        let threshold = self.settings.misfire_threshold_secs as i64 * 1000;
        let mut plans: Vec<Planned> = Vec::with_capacity(batch.len());
        for ((partition, member, score), loaded) in batch.into_iter().zip(loaded) {
            let mut planned = Planned {
                partition,
                member,
                score,
                next: None,
                msgs: vec![],
                one_time_done: None,
            };
            match loaded? {
                Some((tenant, job, schedule)) if job.active && schedule.active => {
                    match Plan::from_schedule(&schedule) {
                        Ok(plan) => {
                            let d = plan.fire(score, now, threshold);
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
                            if matches!(plan.kind, chime_shared::schedule::Kind::Time(_)) {
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
        let codes = join_all(all.iter().map(|(_, m)| self.store.materialize(m, now))).await;
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
            return Ok(false);
        }
        let results = self.publisher.publish_all(&to_publish).await;
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
        let advances = join_all(plans.iter().enumerate().filter(|(i, _)| !failed[*i]).map(
            |(_, pl)| async move {
                let r = self
                    .store
                    .advance(&lease.token, pl.partition, &pl.member, pl.score, pl.next)
                    .await;
                (pl, r)
            },
        ))
        .await;
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
        Ok(fenced)
    }

    async fn load(&self, member: &str) -> anyhow::Result<Option<(String, Job, Schedule)>> {
        let Some((tenant, job_id, sid)) = Keys::parse_due_member(member) else {
            return Ok(None);
        };
        let (job, schedule) = tokio::try_join!(
            self.store.job(tenant, job_id),
            self.store.schedule(tenant, job_id, sid)
        )?;
        Ok(match (job, schedule) {
            (Some(j), Some(s)) => Some((tenant.to_string(), j, s)),
            _ => None,
        })
    }
}

struct Planned {
    partition: u32,
    member: String,
    score: i64,
    next: Option<i64>,
    msgs: Vec<RunMessage>,
    one_time_done: Option<(String, u64, Schedule)>,
}

enum TickResult {
    Worked,
    Idle(Duration),
    Fenced,
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
