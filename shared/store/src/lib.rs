//! The Redis store: chime's system of record. Every read and write of tenants, keys, jobs,
//! schedules, the due index, the leader lease and run records goes through [`Store`].
//!
//! One multiplexed, self-reconnecting connection serves all callers; concurrent calls are
//! pipelined on it. Multi-key writes are Lua scripts (in `scripts/`) over keys of one hash
//! slot, so each is atomic and Redis-Cluster ready.

pub mod keys;

use crate::keys::Keys;
use chime_core::model::{Job, RunMessage, RunRecord, Schedule};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{AsyncCommands, Script};
use sha2::{Digest, Sha256};
use std::sync::Arc;
use std::time::Duration;

pub use redis::RedisError;

/// A failed store call.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("redis: {0}")]
    Redis(#[from] RedisError),
    #[error("unexpected reply from redis: {0}")]
    Parse(#[from] redis::ParsingError),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// No dedicated connection for a blocking call could be had.
    #[error("redis connection pool: {0}")]
    Pool(String),
    /// A grouped call carrying this one failed (the cause, as text: one error, many callers).
    #[error("{0}")]
    Grouped(String),
}

pub type Result<T> = std::result::Result<T, StoreError>;

struct Scripts {
    runs: Script,
    advance: Script,
    run_update: Script,
    runs_query: Script,
    runs_by_outcome: Script,
    lease_acquire: Script,
    lease_renew: Script,
    lease_release: Script,
    job_delete: Script,
    rank_trim: Script,
}

impl Scripts {
    fn new() -> Self {
        Scripts {
            runs: Script::new(include_str!("scripts/runs.lua")),
            advance: Script::new(include_str!("scripts/advance.lua")),
            run_update: Script::new(include_str!("scripts/run_update.lua")),
            runs_query: Script::new(include_str!("scripts/runs_query.lua")),
            runs_by_outcome: Script::new(include_str!("scripts/runs_by_outcome.lua")),
            lease_acquire: Script::new(include_str!("scripts/lease_acquire.lua")),
            lease_renew: Script::new(include_str!("scripts/lease_renew.lua")),
            lease_release: Script::new(include_str!("scripts/lease_release.lua")),
            job_delete: Script::new(include_str!("scripts/job_delete.lua")),
            rank_trim: Script::new(include_str!("scripts/rank_trim.lua")),
        }
    }
}

/// Runs per script call of [`Store::run_steps`] and entries per call of [`Store::advance_many`]:
/// large enough to make the call's fixed cost small, small enough to keep each call short
/// (Redis serves nothing else while a script runs).
const MAX_PER_CALL: usize = 32;

/// One step of a run's record, for [`Store::run_steps`].
#[derive(Clone, Copy, Debug)]
pub enum RunStep<'a> {
    /// The leader creates the record before publishing the fire (refused when inactive).
    Materialize,
    /// A worker takes a delivery and marks the run RUNNING/TRIGGERED, as attempt one more than
    /// the record says, or at least the given one (a redelivery of a run whose first attempt
    /// died before it was marked).
    Start(u32),
    /// A worker records the run's result.
    Complete(&'a RunResult),
}

/// One entry of a batch for [`Store::advance_many`].
#[derive(Clone, Debug)]
pub struct Advance<'a> {
    pub partition: u32,
    pub member: &'a str,
    /// The score the leader read.
    pub read: i64,
    /// The next fire, or `None` to remove the entry.
    pub next: Option<i64>,
    pub deferral: Deferral,
}

/// What an advance does to an entry's deferred nominal instant (see [`Keys::deferred`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Deferral {
    /// The entry was not deferred.
    None,
    /// The entry fired (or went away) after a deferral: forget its nominal instant.
    Clear,
    /// The fire is deferred to `next`: remember its nominal instant (the first one wins).
    Defer { nominal: i64 },
}

/// A stored API key.
#[derive(Clone, Debug)]
pub struct ApiKey {
    pub id: String,
    pub tenant: String,
    pub secret_sha256: String,
    pub scopes: Vec<String>,
}

/// How long run records live and how many a stream keeps.
#[derive(Clone, Copy, Debug)]
pub struct Retention {
    pub ttl_ms: u64,
    pub per_stream: u64,
}

/// The result a worker records for a run.
#[derive(Clone, Debug)]
pub struct RunResult {
    pub status: &'static str,
    pub state: &'static str,
    pub outcome: &'static str,
    pub http_status: Option<u16>,
    pub run_text: String,
    pub body: Option<String>,
    pub error: Option<String>,
    pub duration_ms: u64,
    pub executed_at: i64,
    /// An ERROR entry for the schedule's event log (e.g. the target was blocked).
    pub event: Option<String>,
}

/// Most connections of the blocking pool: calls that block beyond this many wait for one.
const BLOCKING_CONNECTIONS: usize = 256;

/// Handle on the Redis store; cheap to clone.
#[derive(Clone)]
pub struct Store {
    conn: ConnectionManager,
    /// Dedicated connections for calls that block (the live tail's `XREAD BLOCK`), which
    /// would stall every caller of the shared multiplexed connection.
    blocking: deadpool_redis::Pool,
    keys: Keys,
    scripts: Arc<Scripts>,
    retention: Retention,
}

/// Runs script calls at most two at a time: a large batch must not queue every other client's
/// commands behind all of its scripts at once.
async fn invoke_two_at_a_time(
    invocations: Vec<(redis::ScriptInvocation<'_>, ConnectionManager)>,
) -> Vec<redis::RedisResult<Vec<i64>>> {
    let mut replies = Vec::with_capacity(invocations.len());
    let mut rest = invocations.into_iter();
    loop {
        let window: Vec<_> = rest.by_ref().take(2).collect();
        if window.is_empty() {
            return replies;
        }
        let calls = window
            .into_iter()
            .map(|(inv, mut conn)| async move { inv.invoke_async::<Vec<i64>>(&mut conn).await });
        replies.extend(futures::future::join_all(calls).await);
    }
}

/// SHA-256 of an API key secret, hex.
pub fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

impl Store {
    /// Connects to Redis. The connection reconnects by itself after Redis restarts.
    pub async fn connect(url: &str, namespace: &str, retention: Retention) -> Result<Store> {
        let client = redis::Client::open(url)?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(2)))
            .set_response_timeout(Some(Duration::from_secs(5)))
            .set_number_of_retries(3)
            .set_max_delay(Duration::from_secs(1));
        let conn = ConnectionManager::new_with_config(client, config).await?;
        let no_timeout = redis::AsyncConnectionConfig::new().set_response_timeout(None);
        let blocking = deadpool_redis::Manager::new_with_config(url, no_timeout)?;
        let blocking = deadpool_redis::Pool::builder(blocking)
            .max_size(BLOCKING_CONNECTIONS)
            .wait_timeout(Some(Duration::from_secs(10)))
            .create_timeout(Some(Duration::from_secs(2)))
            .runtime(deadpool_redis::Runtime::Tokio1)
            .build()
            .map_err(|e| StoreError::Pool(e.to_string()))?;
        Ok(Store {
            conn,
            blocking,
            keys: Keys::new(namespace),
            scripts: Arc::new(Scripts::new()),
            retention,
        })
    }

    pub fn keys(&self) -> &Keys {
        &self.keys
    }

    fn c(&self) -> ConnectionManager {
        self.conn.clone()
    }

    /// Round trip to Redis.
    pub async fn ping(&self) -> Result<()> {
        let _: String = redis::cmd("PING").query_async(&mut self.c()).await?;
        Ok(())
    }

    /// Redis's clock in milliseconds: the one clock every replica decides "due" against.
    pub async fn now_ms(&self) -> Result<i64> {
        let (secs, micros): (i64, i64) = redis::cmd("TIME").query_async(&mut self.c()).await?;
        Ok(secs * 1000 + micros / 1000)
    }

    // ---- tenants and keys ----

    pub async fn create_tenant(&self, id: &str, name: &str, now: &str) -> Result<()> {
        let mut c = self.c();
        redis::pipe()
            .atomic()
            .hset_multiple(self.keys.tenant(id), &[("name", name), ("created", now)])
            .ignore()
            .sadd(self.keys.tenants(), id)
            .ignore()
            .query_async::<()>(&mut c)
            .await?;
        Ok(())
    }

    pub async fn tenant_exists(&self, id: &str) -> Result<bool> {
        Ok(self.c().exists(self.keys.tenant(id)).await?)
    }

    pub async fn create_api_key(&self, key: &ApiKey) -> Result<()> {
        let _: () = self
            .c()
            .hset_multiple(
                self.keys.api_key(&key.id),
                &[
                    ("tenant", key.tenant.as_str()),
                    ("secret", key.secret_sha256.as_str()),
                    ("scopes", &key.scopes.join(",")),
                ],
            )
            .await?;
        Ok(())
    }

    pub async fn api_key(&self, id: &str) -> Result<Option<ApiKey>> {
        let fields: Vec<(String, String)> = self.c().hgetall(self.keys.api_key(id)).await?;
        if fields.is_empty() {
            return Ok(None);
        }
        let get = |k: &str| {
            fields
                .iter()
                .find(|(f, _)| f == k)
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        };
        Ok(Some(ApiKey {
            id: id.to_string(),
            tenant: get("tenant"),
            secret_sha256: get("secret"),
            scopes: get("scopes")
                .split(',')
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect(),
        }))
    }

    // ---- jobs and schedules ----

    /// A new, globally unique job id.
    pub async fn next_job_id(&self) -> Result<u64> {
        Ok(self.c().incr(self.keys.job_seq(), 1).await?)
    }

    /// Reserves a job name for a job id; false when the tenant already has a job of that name.
    pub async fn reserve_job_name(&self, tenant: &str, name: &str, job: u64) -> Result<bool> {
        Ok(self
            .c()
            .hset_nx(self.keys.job_names(tenant), name, job)
            .await?)
    }

    pub async fn release_job_name(&self, tenant: &str, name: &str) -> Result<()> {
        let _: () = self.c().hdel(self.keys.job_names(tenant), name).await?;
        Ok(())
    }

    pub async fn job_id_by_name(&self, tenant: &str, name: &str) -> Result<Option<u64>> {
        Ok(self.c().hget(self.keys.job_names(tenant), name).await?)
    }

    /// Writes a job and its schedules (creation or full replacement), atomically.
    pub async fn put_job(&self, tenant: &str, job: &Job, schedules: &[Schedule]) -> Result<()> {
        let mut pipe = redis::pipe();
        pipe.atomic()
            .hset(self.keys.job(tenant, job.id), "def", to_json(job))
            .ignore()
            .zadd(self.keys.jobs(tenant), job.id, job.id)
            .ignore();
        for s in schedules {
            pipe.hset(
                self.keys.schedules(tenant, job.id),
                &s.schedule_id,
                to_json(s),
            )
            .ignore()
            .hset(self.keys.schedule_jobs(tenant), &s.schedule_id, job.id)
            .ignore();
        }
        pipe.query_async::<()>(&mut self.c()).await?;
        Ok(())
    }

    pub async fn job(&self, tenant: &str, job: u64) -> Result<Option<Job>> {
        let def: Option<String> = self.c().hget(self.keys.job(tenant, job), "def").await?;
        def.map(|d| from_json(&d)).transpose()
    }

    /// A page of the tenant's jobs in id order, and the total.
    pub async fn jobs_page(&self, tenant: &str, offset: u64, size: u64) -> Result<(u64, Vec<Job>)> {
        let mut c = self.c();
        let total: u64 = c.zcard(self.keys.jobs(tenant)).await?;
        if size == 0 || offset >= total {
            return Ok((total, vec![]));
        }
        let ids: Vec<u64> = c
            .zrange(
                self.keys.jobs(tenant),
                offset as isize,
                (offset + size - 1) as isize,
            )
            .await?;
        let mut pipe = redis::pipe();
        for id in &ids {
            pipe.hget(self.keys.job(tenant, *id), "def");
        }
        let defs: Vec<Option<String>> = pipe.query_async(&mut c).await?;
        let jobs = defs
            .into_iter()
            .flatten()
            .map(|d| from_json(&d))
            .collect::<Result<Vec<Job>>>()?;
        Ok((total, jobs))
    }

    /// Counts of the tenant's active and inactive jobs.
    pub async fn job_counts(&self, tenant: &str) -> Result<(u64, u64)> {
        let (total, jobs) = self.jobs_page(tenant, 0, u64::MAX / 2).await?;
        let active = jobs.iter().filter(|j| j.active).count() as u64;
        Ok((active, total.saturating_sub(active)))
    }

    pub async fn schedules(&self, tenant: &str, job: u64) -> Result<Vec<Schedule>> {
        let all: Vec<(String, String)> = self.c().hgetall(self.keys.schedules(tenant, job)).await?;
        let mut out = all
            .iter()
            .map(|(_, v)| from_json::<Schedule>(v))
            .collect::<Result<Vec<_>>>()?;
        out.sort_by(|a, b| {
            a.created_at
                .cmp(&b.created_at)
                .then_with(|| a.schedule_id.cmp(&b.schedule_id))
        });
        Ok(out)
    }

    pub async fn schedule(
        &self,
        tenant: &str,
        job: u64,
        schedule: &str,
    ) -> Result<Option<Schedule>> {
        let def: Option<String> = self
            .c()
            .hget(self.keys.schedules(tenant, job), schedule)
            .await?;
        def.map(|d| from_json(&d)).transpose()
    }

    /// Jobs and schedules of many due entries `(tenant, job, schedule)` in one pipeline, each
    /// job read once. `None` where either is gone.
    pub async fn due_definitions(
        &self,
        entries: &[(&str, u64, &str)],
    ) -> Result<Vec<Option<(Arc<Job>, Schedule)>>> {
        let mut jobs: Vec<(&str, u64)> = entries.iter().map(|(t, j, _)| (*t, *j)).collect();
        jobs.sort_unstable();
        jobs.dedup();
        let mut pipe = redis::pipe();
        for (t, j) in &jobs {
            pipe.hget(self.keys.job(t, *j), "def");
        }
        for (t, j, sid) in entries {
            pipe.hget(self.keys.schedules(t, *j), *sid);
        }
        let mut defs: Vec<Option<String>> = pipe.query_async(&mut self.c()).await?;
        let schedule_defs = defs.split_off(jobs.len());
        let mut parsed = std::collections::HashMap::with_capacity(jobs.len());
        for (key, def) in jobs.into_iter().zip(defs) {
            // A definition that cannot be read counts as gone: one bad entry must not stop
            // every other fire.
            match def.map(|d| from_json::<Job>(&d)).transpose() {
                Ok(Some(job)) => {
                    parsed.insert(key, Arc::new(job));
                }
                Ok(None) => {}
                Err(e) => {
                    tracing::error!(tenant = key.0, job = key.1, error = %e, "unreadable job")
                }
            }
        }
        Ok(entries
            .iter()
            .zip(schedule_defs)
            .map(|((t, j, sid), sdef)| {
                let job = parsed.get(&(*t, *j))?;
                match from_json::<Schedule>(&sdef?) {
                    Ok(s) => Some((job.clone(), s)),
                    Err(e) => {
                        tracing::error!(tenant = t, job = j, schedule = sid, error = %e, "unreadable schedule");
                        None
                    }
                }
            })
            .collect())
    }

    pub async fn put_schedule(&self, tenant: &str, job: u64, s: &Schedule) -> Result<()> {
        redis::pipe()
            .atomic()
            .hset(self.keys.schedules(tenant, job), &s.schedule_id, to_json(s))
            .ignore()
            .hset(self.keys.schedule_jobs(tenant), &s.schedule_id, job)
            .ignore()
            .query_async::<()>(&mut self.c())
            .await?;
        Ok(())
    }

    /// The job a schedule of the tenant belongs to.
    pub async fn job_of_schedule(&self, tenant: &str, schedule: &str) -> Result<Option<u64>> {
        Ok(self
            .c()
            .hget(self.keys.schedule_jobs(tenant), schedule)
            .await?)
    }

    pub async fn delete_schedule(&self, tenant: &str, job: u64, schedule: &str) -> Result<bool> {
        let (n, _): (u64, u64) = redis::pipe()
            .atomic()
            .hdel(self.keys.schedules(tenant, job), schedule)
            .hdel(self.keys.schedule_jobs(tenant), schedule)
            .query_async(&mut self.c())
            .await?;
        Ok(n > 0)
    }

    /// Deletes a job and everything under it. Due entries must be removed first by the caller.
    pub async fn delete_job(&self, tenant: &str, job: &Job) -> Result<bool> {
        let k = &self.keys;
        let sched_prefix = k.schedule_runs(tenant, "");
        let sched_prefix = sched_prefix.trim_end_matches(":runs");
        let r: i64 = self
            .scripts
            .job_delete
            .key(k.job(tenant, job.id))
            .key(k.schedules(tenant, job.id))
            .key(k.job_runs(tenant, job.id))
            .key(k.job_builds(tenant, job.id))
            .key(k.jobs(tenant))
            .key(k.job_names(tenant))
            .key(k.tenant_runs(tenant))
            .key(k.job_done(tenant, job.id))
            .key(k.schedule_jobs(tenant))
            .key(k.job_outcome(tenant, job.id, "success"))
            .key(k.job_outcome(tenant, job.id, "failure"))
            .key(k.job_outcome(tenant, job.id, "error"))
            .key(k.job_outcome(tenant, job.id, "timeout"))
            .arg(job.id)
            .arg(&job.name)
            .arg(k.run(tenant, ""))
            .arg(sched_prefix)
            .invoke_async(&mut self.c())
            .await?;
        Ok(r == 1)
    }

    // ---- due index ----

    fn due_key(&self, schedule: &str, partitions: u32) -> String {
        self.keys.due(Keys::partition_of(schedule, partitions))
    }

    /// Sets (or with `None` removes) a schedule's next fire in the due index.
    pub async fn set_due(
        &self,
        partitions: u32,
        tenant: &str,
        job: u64,
        schedule: &str,
        next: Option<i64>,
    ) -> Result<()> {
        let key = self.due_key(schedule, partitions);
        let member = Keys::due_member(tenant, job, schedule);
        // A new next fire replaces a deferred one along with its nominal instant.
        let mut pipe = redis::pipe();
        pipe.atomic();
        match next {
            Some(at) => pipe.zadd(key, &member, at).ignore(),
            None => pipe.zrem(key, &member).ignore(),
        };
        pipe.hdel(self.keys.deferred(), &member).ignore();
        pipe.query_async::<()>(&mut self.c()).await?;
        Ok(())
    }

    /// A schedule's next fire (ms), if it is in the due index.
    pub async fn due_of(
        &self,
        partitions: u32,
        tenant: &str,
        job: u64,
        schedule: &str,
    ) -> Result<Option<i64>> {
        let score: Option<f64> = self
            .c()
            .zscore(
                self.due_key(schedule, partitions),
                Keys::due_member(tenant, job, schedule),
            )
            .await?;
        Ok(score.map(|s| s as i64))
    }

    /// Up to `limit` entries of one partition due at or before `now`, earliest first.
    pub async fn due_batch(
        &self,
        partition: u32,
        now: i64,
        limit: usize,
    ) -> Result<Vec<(String, i64)>> {
        let out: Vec<(String, f64)> = self
            .c()
            .zrangebyscore_limit_withscores(
                self.keys.due(partition),
                "-inf",
                now,
                0,
                limit as isize,
            )
            .await?;
        Ok(out.into_iter().map(|(m, s)| (m, s as i64)).collect())
    }

    /// The nominal instants of deferred due entries (`None` where an entry is not deferred).
    pub async fn deferred_nominals(&self, members: &[&str]) -> Result<Vec<Option<i64>>> {
        if members.is_empty() {
            return Ok(vec![]);
        }
        let out: Vec<Option<i64>> = redis::cmd("HMGET")
            .arg(self.keys.deferred())
            .arg(members)
            .query_async(&mut self.c())
            .await?;
        Ok(out)
    }

    /// The score of one partition's earliest entry past the first `skip`, if any.
    pub async fn due_head(&self, partition: u32, skip: usize) -> Result<Option<i64>> {
        let out: Vec<(String, f64)> = self
            .c()
            .zrange_withscores(self.keys.due(partition), skip as isize, skip as isize)
            .await?;
        Ok(out.first().map(|(_, s)| *s as i64))
    }

    /// Entries in the whole due index.
    pub async fn due_len(&self, partitions: u32) -> Result<u64> {
        let mut pipe = redis::pipe();
        for p in 0..partitions {
            pipe.zcard(self.keys.due(p));
        }
        let lens: Vec<u64> = pipe.query_async(&mut self.c()).await?;
        Ok(lens.iter().sum())
    }

    /// Fenced compare-and-set of a due entry: 1 advanced, 0 changed meanwhile, -1 fenced off.
    pub async fn advance(
        &self,
        token: &str,
        partition: u32,
        member: &str,
        read: i64,
        next: Option<i64>,
    ) -> Result<i64> {
        let one = Advance {
            partition,
            member,
            read,
            next,
            deferral: Deferral::None,
        };
        Ok(self.advance_many(token, std::slice::from_ref(&one)).await?[0])
    }

    /// [`Store::advance`] for many entries: one script call per [`MAX_PER_CALL`] entries, two
    /// calls in flight at a time. Codes in order.
    pub async fn advance_many(&self, token: &str, entries: &[Advance<'_>]) -> Result<Vec<i64>> {
        let invocations: Vec<_> = entries
            .chunks(MAX_PER_CALL)
            .map(|chunk| {
                let mut inv = self.scripts.advance.prepare_invoke();
                inv.key(self.keys.lease()).arg(token);
                for e in chunk {
                    inv.arg(e.partition)
                        .arg(e.member)
                        .arg(e.read)
                        .arg(e.next.map(|n| n.to_string()).unwrap_or_default())
                        .arg(match e.deferral {
                            Deferral::None => String::new(),
                            Deferral::Clear => "x".into(),
                            Deferral::Defer { nominal } => nominal.to_string(),
                        });
                }
                (inv, self.c())
            })
            .collect();
        let replies = invoke_two_at_a_time(invocations).await;
        let mut codes = Vec::with_capacity(entries.len());
        for r in replies {
            codes.extend(r?);
        }
        Ok(codes)
    }

    // ---- leader lease ----

    /// Takes the lease if free: the new epoch, or 0 when another owner holds it.
    pub async fn lease_acquire(&self, owner: &str, ttl_ms: u64) -> Result<u64> {
        Ok(self
            .scripts
            .lease_acquire
            .key(self.keys.lease())
            .key(self.keys.epoch())
            .arg(owner)
            .arg(ttl_ms)
            .invoke_async(&mut self.c())
            .await?)
    }

    pub async fn lease_renew(&self, token: &str, ttl_ms: u64) -> Result<bool> {
        let r: i64 = self
            .scripts
            .lease_renew
            .key(self.keys.lease())
            .arg(token)
            .arg(ttl_ms)
            .invoke_async(&mut self.c())
            .await?;
        Ok(r == 1)
    }

    pub async fn lease_release(&self, token: &str) -> Result<bool> {
        let r: i64 = self
            .scripts
            .lease_release
            .key(self.keys.lease())
            .arg(token)
            .invoke_async(&mut self.c())
            .await?;
        Ok(r == 1)
    }

    /// The current lease holder token, if any.
    pub async fn lease_holder(&self) -> Result<Option<String>> {
        Ok(self.c().get(self.keys.lease()).await?)
    }

    // ---- runs ----

    /// Applies record steps to many runs: one script call per tenant and up to
    /// [`MAX_PER_CALL`] runs, two calls in flight at a time. Returns each step's code, in order:
    ///
    /// - materialize: 1 created, 0 existed, -1 job or schedule gone, -2 job or schedule inactive;
    /// - start: the attempt number to execute, 0 when the run already has its result, -1 when
    ///   its job is gone;
    /// - complete: 1 recorded, 0 already recorded, -1 job gone.
    ///
    /// Each step is idempotent on the run id, so a failed call can be retried whole.
    pub async fn run_steps(
        &self,
        steps: &[(&RunMessage, RunStep<'_>)],
        now: i64,
        worker: &str,
    ) -> Result<Vec<i64>> {
        let mut order: Vec<usize> = (0..steps.len()).collect();
        // By tenant (one call each), then by job: the script reads a job's definitions and
        // takes its run numbers once for all of the job's runs in a call. Stable, so the steps
        // of one run keep their order.
        order.sort_by(|a, b| {
            let (x, y) = (steps[*a].0, steps[*b].0);
            (&x.tenant, x.job_id).cmp(&(&y.tenant, y.job_id))
        });
        let mut calls: Vec<Vec<usize>> = Vec::new();
        for i in order {
            match calls.last_mut() {
                Some(c) if c.len() < MAX_PER_CALL && steps[c[0]].0.tenant == steps[i].0.tenant => {
                    c.push(i)
                }
                _ => calls.push(vec![i]),
            }
        }
        let now_txt = chime_core::schedule::format_instant(now);
        let invocations: Vec<_> = calls
            .iter()
            .map(|call| {
                let tenant = &steps[call[0]].0.tenant;
                let mut inv = self.scripts.runs.prepare_invoke();
                inv.key(self.keys.tenant(tenant))
                    .arg(now)
                    .arg(&now_txt)
                    .arg(self.retention.per_stream)
                    .arg(self.retention.ttl_ms)
                    .arg(tenant)
                    .arg(worker);
                for &i in call {
                    let (m, step) = &steps[i];
                    let op = match step {
                        RunStep::Materialize => "m",
                        RunStep::Start(_) => "s",
                        RunStep::Complete(_) => "c",
                    };
                    inv.arg(op)
                        .arg(&m.run_id)
                        .arg(m.job_id)
                        .arg(&m.schedule_id)
                        .arg(m.scheduled_at)
                        .arg(&m.owner)
                        .arg(m.epoch);
                    if let RunStep::Start(at_least) = step {
                        inv.arg(*at_least);
                    }
                    if let RunStep::Complete(r) = step {
                        inv.arg(r.status)
                            .arg(r.state)
                            .arg(r.outcome)
                            .arg(r.http_status.map(|s| s.to_string()).unwrap_or_default())
                            .arg(&r.run_text)
                            .arg(r.body.as_deref().unwrap_or(""))
                            .arg(r.error.as_deref().unwrap_or(""))
                            .arg(r.duration_ms)
                            .arg(r.executed_at)
                            .arg(r.event.as_deref().unwrap_or(""));
                    }
                }
                (inv, self.c())
            })
            .collect();
        let replies = invoke_two_at_a_time(invocations).await;
        let mut codes = vec![0; steps.len()];
        for (call, reply) in calls.iter().zip(replies) {
            let reply = reply?;
            if reply.len() != call.len() {
                return Err(StoreError::Corrupt(format!(
                    "run script answered {} codes for {} runs",
                    reply.len(),
                    call.len()
                )));
            }
            for (&i, code) in call.iter().zip(reply) {
                codes[i] = code;
            }
        }
        Ok(codes)
    }

    async fn run_step(
        &self,
        m: &RunMessage,
        step: RunStep<'_>,
        now: i64,
        worker: &str,
    ) -> Result<i64> {
        Ok(self.run_steps(&[(m, step)], now, worker).await?[0])
    }

    /// Creates the run record of a fire before it is published (idempotent on the run id):
    /// 1 created, 0 existed, -1 job or schedule gone, -2 job or schedule inactive.
    pub async fn materialize(&self, m: &RunMessage, now: i64) -> Result<i64> {
        self.run_step(m, RunStep::Materialize, now, "").await
    }

    /// Marks a delivered run RUNNING/TRIGGERED: the attempt number to execute, 0 when it already
    /// has its result, -1 when its job is gone.
    pub async fn run_start(&self, m: &RunMessage, now: i64, worker: &str) -> Result<i64> {
        self.run_step(m, RunStep::Start(1), now, worker).await
    }

    /// Records a run's result once: 1 recorded, 0 already recorded, -1 job gone.
    pub async fn run_complete(
        &self,
        m: &RunMessage,
        now: i64,
        worker: &str,
        r: &RunResult,
    ) -> Result<i64> {
        self.run_step(m, RunStep::Complete(r), now, worker).await
    }

    /// An asynchronous job's report on its run. `run` is (job id, schedule id, run id).
    pub async fn run_update(
        &self,
        tenant: &str,
        run: (u64, &str, &str),
        success: bool,
        message: &str,
        now: i64,
    ) -> Result<RunUpdate> {
        let (job, schedule, run) = run;
        let r: i64 = self
            .scripts
            .run_update
            .key(self.keys.run(tenant, run))
            .key(self.keys.job_done(tenant, job))
            .key(self.keys.run_log(tenant, run))
            .key(
                self.keys
                    .job_outcome(tenant, job, if success { "success" } else { "failure" }),
            )
            .arg(if success { "true" } else { "false" })
            .arg(message)
            .arg(now)
            .arg(chime_core::schedule::format_instant(now))
            .arg(job)
            .arg(schedule)
            .invoke_async(&mut self.c())
            .await?;
        Ok(match r {
            1 => RunUpdate::Updated,
            0 => RunUpdate::AlreadyCompleted,
            _ => RunUpdate::NoSuchRun,
        })
    }

    /// One run with its complete text log.
    pub async fn run(&self, tenant: &str, run: &str) -> Result<Option<RunRecord>> {
        let (fields, extra): (Vec<(String, String)>, Vec<String>) = redis::pipe()
            .hgetall(self.keys.run(tenant, run))
            .lrange(self.keys.run_log(tenant, run), 0, -1)
            .query_async(&mut self.c())
            .await?;
        Ok(RunRecord::from_fields(tenant, &fields).map(|mut r| {
            r.log = r.text_log(&extra);
            r
        }))
    }

    /// A page of a schedule's runs (newest first when `desc`) and the log's total: the query
    /// engine with no filter.
    pub async fn schedule_runs_page(
        &self,
        tenant: &str,
        schedule: &str,
        offset: u64,
        size: u64,
        desc: bool,
    ) -> Result<(u64, Vec<RunRecord>)> {
        let mut q = RunQuery::new(tenant, Scope::Schedule(schedule.to_string()));
        q.skip = offset;
        q.size = size;
        q.order = if desc {
            Order::NewestFirst
        } else {
            Order::OldestFirst
        };
        let page = self.query_runs(&q).await?;
        Ok((
            page.total.unwrap_or(0),
            page.runs.into_iter().map(|(_, r)| r).collect(),
        ))
    }

    /// The schedule's event log, newest first, at most `limit` entries: (ms, level, message).
    pub async fn schedule_events(
        &self,
        tenant: &str,
        schedule: &str,
        limit: usize,
    ) -> Result<Vec<(i64, String, String)>> {
        // Each fire's "Schedule invoked" derives from the schedule's run stream (one entry per
        // fire, under the id it got when it fired); the other events have their own stream.
        let (events, fires): (
            redis::streams::StreamRangeReply,
            redis::streams::StreamRangeReply,
        ) = redis::pipe()
            .xrevrange_count(self.keys.schedule_events(tenant, schedule), "+", "-", limit)
            .xrevrange_count(self.keys.schedule_runs(tenant, schedule), "+", "-", limit)
            .query_async(&mut self.c())
            .await?;
        let id_of = |id: &str| -> (i64, u64) {
            let mut it = id.split('-');
            let ms = it.next().and_then(|s| s.parse().ok()).unwrap_or(0);
            let seq = it.next().and_then(|s| s.parse().ok()).unwrap_or(0);
            (ms, seq)
        };
        let mut all: Vec<((i64, u64), String, String)> = events
            .ids
            .into_iter()
            .map(|e| {
                let get = |f: &str| e.get::<String>(f).unwrap_or_default();
                (id_of(&e.id), get("l"), get("m"))
            })
            .chain(
                fires
                    .ids
                    .into_iter()
                    .map(|e| (id_of(&e.id), "INFO".into(), "Schedule invoked".into())),
            )
            .collect();
        all.sort_by_key(|e| std::cmp::Reverse(e.0));
        all.truncate(limit);
        Ok(all.into_iter().map(|((ms, _), l, m)| (ms, l, m)).collect())
    }

    /// Appends an entry to a schedule's event log (kept to the latest 1,000).
    pub async fn schedule_event(
        &self,
        tenant: &str,
        schedule: &str,
        level: &str,
        message: &str,
    ) -> Result<()> {
        let _: String = redis::cmd("XADD")
            .arg(self.keys.schedule_events(tenant, schedule))
            .arg("MAXLEN")
            .arg("~")
            .arg(1000)
            .arg("*")
            .arg("m")
            .arg(message)
            .arg("l")
            .arg(level)
            .query_async(&mut self.c())
            .await?;
        Ok(())
    }
}

impl Store {
    /// Runs one [`RunQuery`] through the query engine (`runs_query.lua`).
    pub async fn query_runs(&self, q: &RunQuery) -> Result<RunPage> {
        let stream = match &q.scope {
            Scope::Schedule(s) => self.keys.schedule_runs(&q.tenant, s),
            Scope::Job(j) => self.keys.job_runs(&q.tenant, *j),
            Scope::Tenant => self.keys.tenant_runs(&q.tenant),
        };
        let (mut lo, mut hi) = (
            q.from_ms
                .map_or("-".to_string(), |m| format!("{}-0", m.max(0))),
            q.to_ms
                .map_or("+".to_string(), |m| format!("{m}-18446744073709551615")),
        );
        if let Some(c) = &q.after {
            match q.order {
                Order::NewestFirst => hi = format!("({c}"),
                Order::OldestFirst => lo = format!("({c}"),
            }
        }
        let order = match q.order {
            Order::NewestFirst => "desc",
            Order::OldestFirst => "asc",
        };
        let raw: Vec<redis::Value> = match (&q.scope, q.outcomes.is_empty(), &q.after) {
            // Outcome filters on a job: its outcome indexes.
            (Scope::Job(job), false, None) => {
                let mut inv = self.scripts.runs_by_outcome.prepare_invoke();
                inv.key(self.keys.tenant(&q.tenant));
                for o in &q.outcomes {
                    inv.key(self.keys.job_outcome(&q.tenant, *job, o));
                }
                inv.arg(q.from_ms.map_or("-inf".to_string(), |m| m.to_string()))
                    .arg(q.to_ms.map_or("+inf".to_string(), |m| m.to_string()))
                    .arg(order)
                    .arg(q.skip.min(MAX_SKIP))
                    .arg(q.size.min(MAX_SKIP))
                    .arg(self.keys.run(&q.tenant, ""))
                    .arg(self.retention.ttl_ms)
                    .arg(if q.count { "1" } else { "0" });
                inv.invoke_async(&mut self.c()).await?
            }
            _ => {
                let mut inv = self.scripts.runs_query.prepare_invoke();
                inv.key(stream).key(self.keys.tenant(&q.tenant));
                if let Scope::Schedule(sid) = &q.scope {
                    inv.key(self.keys.schedule_rank(&q.tenant, sid));
                }
                inv.arg(lo)
                    .arg(hi)
                    .arg(order)
                    .arg(q.skip.min(MAX_SKIP))
                    .arg(q.size.min(MAX_SKIP))
                    .arg(self.keys.run(&q.tenant, ""))
                    .arg(q.outcomes.join(","))
                    .arg(if q.count { "1" } else { "0" })
                    .arg(self.retention.ttl_ms);
                inv.invoke_async(&mut self.c()).await?
            }
        };
        let mut it = raw.into_iter();
        let total: i64 = it
            .next()
            .map(redis::from_redis_value)
            .transpose()?
            .unwrap_or(-1);
        let more: i64 = it
            .next()
            .map(redis::from_redis_value)
            .transpose()?
            .unwrap_or(0);
        let mut runs = Vec::new();
        while let (Some(id), Some(rec)) = (it.next(), it.next()) {
            let id: String = redis::from_redis_value(id)?;
            let pairs: Vec<String> = redis::from_redis_value(rec)?;
            let fields: Vec<(String, String)> = pairs
                .chunks(2)
                .filter(|c| c.len() == 2)
                .map(|c| (c[0].clone(), c[1].clone()))
                .collect();
            if let Some(r) = RunRecord::from_fields(&q.tenant, &fields) {
                runs.push((id, r));
            }
        }
        Ok(RunPage {
            total: (total >= 0).then_some(total as u64),
            has_more: more == 1,
            runs,
        })
    }

    /// The run id of a job's run number (Huawei's `build_no`).
    pub async fn run_by_number(
        &self,
        tenant: &str,
        job: u64,
        number: u64,
    ) -> Result<Option<String>> {
        Ok(self
            .c()
            .hget(self.keys.job_builds(tenant, job), number)
            .await?)
    }

    /// The stream id of a run (its position in every run stream), for cursors.
    pub async fn run_stream_id(&self, tenant: &str, run: &str) -> Result<Option<String>> {
        Ok(self.c().hget(self.keys.run(tenant, run), "xid").await?)
    }

    /// Sets how long the tenant's runs are kept (ms); `None` restores the default.
    pub async fn set_tenant_retention(&self, tenant: &str, ms: Option<u64>) -> Result<()> {
        self.set_tenant_setting(tenant, "retention_ms", ms).await
    }

    /// How long the tenant's runs are kept (ms).
    pub async fn tenant_retention(&self, tenant: &str) -> Result<u64> {
        Ok(self
            .tenant_setting(tenant, "retention_ms")
            .await?
            .unwrap_or(self.retention.ttl_ms))
    }

    /// A tenant's quota of runs per minute, if it has its own.
    pub async fn tenant_runs_per_minute(&self, tenant: &str) -> Result<Option<u64>> {
        self.tenant_setting(tenant, "runs_per_minute").await
    }

    /// Sets (or, with `None`, removes) a tenant's own quota of runs per minute.
    pub async fn set_tenant_runs_per_minute(&self, tenant: &str, n: Option<u64>) -> Result<()> {
        self.set_tenant_setting(tenant, "runs_per_minute", n).await
    }

    /// A numeric setting of the tenant's own (a field of its hash), if set.
    async fn tenant_setting(&self, tenant: &str, field: &str) -> Result<Option<u64>> {
        Ok(self.c().hget(self.keys.tenant(tenant), field).await?)
    }

    /// Sets a numeric setting of the tenant's own, or with `None` removes it (the default
    /// applies again).
    async fn set_tenant_setting(&self, tenant: &str, field: &str, v: Option<u64>) -> Result<()> {
        let mut c = self.c();
        match v {
            Some(v) => {
                c.hset::<_, _, _, ()>(self.keys.tenant(tenant), field, v)
                    .await?
            }
            None => c.hdel::<_, _, ()>(self.keys.tenant(tenant), field).await?,
        }
        Ok(())
    }

    /// Waits up to `block_ms` for run ids recorded on a job's "done" stream after stream id
    /// `after` (`$` for "from now"). The call blocks, so it takes a connection of the blocking
    /// pool.
    pub async fn wait_done(
        &self,
        tenant: &str,
        job: u64,
        after: &str,
        block_ms: usize,
    ) -> Result<Vec<(String, String)>> {
        let opts = redis::streams::StreamReadOptions::default()
            .block(block_ms)
            .count(100);
        let mut conn = self
            .blocking
            .get()
            .await
            .map_err(|e| StoreError::Pool(e.to_string()))?;
        let reply: Option<redis::streams::StreamReadReply> = conn
            .xread_options(&[self.keys.job_done(tenant, job)], &[after], &opts)
            .await?;
        Ok(reply
            .into_iter()
            .flat_map(|r| r.keys)
            .flat_map(|k| k.ids)
            .map(|e| {
                let run = e.get::<String>("r").unwrap_or_default();
                (e.id, run)
            })
            .collect())
    }

    /// Tells the run scripts that a live tail listens to the job's results, for the next 30 s:
    /// a tail calls it before it reads the stream's head, and again before every wait.
    pub async fn announce_tail(&self, tenant: &str, job: u64) -> Result<()> {
        let _: () = redis::cmd("SET")
            .arg(self.keys.job_tails(tenant, job))
            .arg(1)
            .arg("PX")
            .arg(30_000)
            .query_async(&mut self.c())
            .await?;
        Ok(())
    }

    /// The last id of a job's "done" stream ("0-0" when empty).
    pub async fn done_head(&self, tenant: &str, job: u64) -> Result<String> {
        let reply: redis::streams::StreamRangeReply = self
            .c()
            .xrevrange_count(self.keys.job_done(tenant, job), "+", "-", 1)
            .await?;
        Ok(reply
            .ids
            .first()
            .map_or("0-0".to_string(), |e| e.id.clone()))
    }

    /// Trims every run stream of the tenant to its retention age (streams of schedules that
    /// stopped firing are otherwise trimmed only by the next fire). Returns entries removed.
    pub async fn sweep_retention(&self, tenant: &str, now: i64) -> Result<u64> {
        let minid = (now - self.tenant_retention(tenant).await? as i64).max(0);
        let mut c = self.c();
        let jobs: Vec<u64> = c.zrange(self.keys.jobs(tenant), 0, -1).await?;
        let mut removed: u64 = redis::cmd("XTRIM")
            .arg(self.keys.tenant_runs(tenant))
            .arg("MINID")
            .arg(minid)
            .query_async(&mut c)
            .await?;
        // Loaded once for the pipelines below, which invoke it by its hash.
        redis::pipe()
            .load_script(&self.scripts.rank_trim)
            .ignore()
            .query_async::<()>(&mut c)
            .await?;
        for job in jobs {
            let scheds: Vec<String> = c.hkeys(self.keys.schedules(tenant, job)).await?;
            let mut pipe = redis::pipe();
            pipe.cmd("XTRIM")
                .arg(self.keys.job_runs(tenant, job))
                .arg("MINID")
                .arg(minid);
            for o in OUTCOMES {
                pipe.cmd("ZREMRANGEBYSCORE")
                    .arg(self.keys.job_outcome(tenant, job, o))
                    .arg("-inf")
                    .arg(format!("({minid}"));
            }
            for sid in &scheds {
                pipe.cmd("XTRIM")
                    .arg(self.keys.schedule_runs(tenant, sid))
                    .arg("MINID")
                    .arg(minid);
                pipe.invoke_script(
                    self.scripts
                        .rank_trim
                        .key(self.keys.schedule_rank(tenant, sid))
                        .arg(minid),
                );
            }
            let counts: Vec<u64> = pipe.query_async(&mut c).await?;
            removed += counts.iter().sum::<u64>();
        }
        Ok(removed)
    }

    /// Every tenant id.
    pub async fn tenants(&self) -> Result<Vec<String>> {
        Ok(self.c().smembers(self.keys.tenants()).await?)
    }

    /// Appends to the tenant's audit trail of configuration changes.
    pub async fn record_action(&self, tenant: &str, a: &ActionLog) -> Result<()> {
        let _: String = redis::cmd("XADD")
            .arg(self.keys.actions(tenant))
            .arg("MAXLEN")
            .arg("~")
            .arg(100_000)
            .arg("*")
            .arg("j")
            .arg(a.job_id)
            .arg("s")
            .arg(a.schedule_id.as_deref().unwrap_or(""))
            .arg("a")
            .arg(&a.action)
            .arg("d")
            .arg(&a.detail)
            .arg("k")
            .arg(&a.actor)
            .query_async(&mut self.c())
            .await?;
        Ok(())
    }

    /// The audit trail of a job (and one of its schedules), newest first, at most `limit`.
    pub async fn action_logs(
        &self,
        tenant: &str,
        job: u64,
        schedule: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(i64, ActionLog)>> {
        let mut out = Vec::new();
        let mut hi = "+".to_string();
        let job_s = job.to_string();
        loop {
            let reply: redis::streams::StreamRangeReply = self
                .c()
                .xrevrange_count(self.keys.actions(tenant), &hi, "-", 1000)
                .await?;
            let n = reply.ids.len();
            for e in &reply.ids {
                let get = |f: &str| e.get::<String>(f).unwrap_or_default();
                if get("j") != job_s || schedule.is_some_and(|s| get("s") != s) {
                    continue;
                }
                let ms =
                    e.id.split('-')
                        .next()
                        .and_then(|x| x.parse().ok())
                        .unwrap_or(0);
                let sched = get("s");
                out.push((
                    ms,
                    ActionLog {
                        job_id: job,
                        schedule_id: (!sched.is_empty()).then_some(sched),
                        action: get("a"),
                        detail: get("d"),
                        actor: get("k"),
                    },
                ));
                if out.len() >= limit {
                    return Ok(out);
                }
            }
            match reply.ids.last() {
                Some(last) if n == 1000 => hi = format!("({}", last.id),
                _ => return Ok(out),
            }
        }
    }
}

/// What an asynchronous run report did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunUpdate {
    Updated,
    /// The run already has its final result, which is written once.
    AlreadyCompleted,
    NoSuchRun,
}

/// The outcomes a finished run can have.
pub const OUTCOMES: [&str; 4] = ["success", "failure", "error", "timeout"];

/// Past any stream's length: larger skips and sizes are clamped to it.
const MAX_SKIP: u64 = 1 << 40;

/// Which runs a query reads.
#[derive(Clone, Debug, PartialEq)]
pub enum Scope {
    Schedule(String),
    Job(u64),
    Tenant,
}

/// The order of a run page.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Order {
    NewestFirst,
    OldestFirst,
}

/// One question to the run-log query engine; every dialect builds one of these.
#[derive(Clone, Debug)]
pub struct RunQuery {
    pub tenant: String,
    pub scope: Scope,
    /// Keep runs with one of these outcomes (`success`, `failure`, `error`, `timeout`); empty
    /// keeps every run, finished or not.
    pub outcomes: Vec<String>,
    /// Stream-time bounds (ms, inclusive): when the run was created, i.e. its fire.
    pub from_ms: Option<i64>,
    pub to_ms: Option<i64>,
    pub order: Order,
    /// Start after this stream id (cursor paging), in the query's order.
    pub after: Option<String>,
    pub skip: u64,
    pub size: u64,
    /// Count every match (the total); costs a walk of the range when filtered.
    pub count: bool,
}

impl RunQuery {
    pub fn new(tenant: &str, scope: Scope) -> RunQuery {
        RunQuery {
            tenant: tenant.to_string(),
            scope,
            outcomes: vec![],
            from_ms: None,
            to_ms: None,
            order: Order::NewestFirst,
            after: None,
            skip: 0,
            size: 10,
            count: true,
        }
    }
}

/// One page of runs: (stream id, record), in the query's order.
#[derive(Clone, Debug)]
pub struct RunPage {
    pub total: Option<u64>,
    pub has_more: bool,
    pub runs: Vec<(String, RunRecord)>,
}

/// An entry of the audit trail (SAP `actionLogs`).
#[derive(Clone, Debug, PartialEq)]
pub struct ActionLog {
    pub job_id: u64,
    pub schedule_id: Option<String>,
    pub action: String,
    pub detail: String,
    /// The API key that made the change.
    pub actor: String,
}

fn to_json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).expect("domain types serialise")
}

fn from_json<T: serde::de::DeserializeOwned>(s: &str) -> Result<T> {
    serde_json::from_str(s).map_err(|e| StoreError::Corrupt(e.to_string()))
}
