//! The Redis store: chime's system of record. Every read and write of tenants, keys, jobs,
//! schedules, the due index, the leader lease and run records goes through [`Store`].
//!
//! One multiplexed, self-reconnecting connection serves all callers; concurrent calls are
//! pipelined on it. Multi-key writes are Lua scripts (in `scripts/`) over keys of one hash
//! slot, so each is atomic and Redis-Cluster ready. The scripts build no key names: they get
//! their keys, or the key templates of [`keys`], from the calls.
//!
//! `Store` is a façade: this file holds the connection and what every part shares; each
//! aggregate is a module of `impl Store` blocks that owns its methods and its scripts:
//!
//! | module | holds | scripts |
//! | --- | --- | --- |
//! | `tenants` | tenants, API keys, tenant settings (retention, runs per minute) | |
//! | `signing` | a tenant's signing secrets (sealed): their creation on first use and their rotation | `signing_init`, `signing_rotate` |
//! | `jobs` | jobs, job names, schedules, the definitions of due entries, a schedule's deactivation by the service (finished, or unreachable too long), job deletion | `job_delete`, `schedule_deactivate` |
//! | `lifecycle` | the lifecycle rules' indexes (unreachable schedules, inactive one-time schedules), and the removal of a one-time schedule not run for long | `lifecycle_unmark`, `schedule_expire` |
//! | `replan` | writes that change what fires, atomic with their replan markers; the repair of what a crash left | `job_write`, `replan_done`, `name_release` |
//! | `due` | the due index and its deferred fires; the one owner of its partitions | `advance` |
//! | `lease` | the leader lease and its fencing epoch; the schedulers' and workers' heartbeats | `lease_acquire`, `lease_renew`, `lease_release` |
//! | `dead_letters` | the messages kept from the dead-letter queue until the operator replays or discards them | |
//! | `fleet` | the operations view: each shard's leader and epoch, the schedulers and workers alive, a tenant's runs in flight and pace | |
//! | `run_steps` | run records: materialize, start, complete (grouped calls), async reports, the retention trim | `runs` |
//! | `record` | a finished run's record as a stream entry, and the reading of either form | |
//! | `run_queries` | the run-log query engine, runs by id and number, schedule events, the audit trail | `runs_query`, `run_get` |
//! | `run_search` | the tenant-wide run search: filters decided on index entries, bounded work per call | `runs_search` |
//! | `tail` | the live tail's "done" streams, read for many jobs at once, and their announcements | |
//! | `retention` | the sweep of runs past their retention age | |
//! | `sessions` | the dashboard's sessions | |

pub mod keys;

mod dead_letters;
mod due;
mod fleet;
mod jobs;
mod lease;
mod lifecycle;
mod notes;
mod record;
mod replan;
mod retention;
mod run_queries;
mod run_search;
mod run_stats;
mod run_steps;
mod sessions;
mod signing;
mod tail;
mod tenants;

pub use dead_letters::{letter_id, KeptLetter};
pub use due::{Advance, Advanced, Deferral, Deferred};
pub use fleet::{SchedulerAlive, ShardLease, TenantActivity, WorkerAlive, PACE_SAMPLE};
pub use jobs::StoredSchedule;
pub use lifecycle::{Marked, Rule};
pub use notes::{
    deactivation_reason, note_state, DeactivationNote, Event, EventRun, Note, NoteAttempt,
};
pub use redis::RedisError;
pub use replan::{JobWrite, Replan, ScheduleWrite, WriteLimits, Written};
pub use run_queries::{
    ActionLog, Order, RunPage, RunQuery, ScheduleMarks, Scope, SkipSpan,
    DEACTIVATION_ON_COMPLETION, DEACTIVATION_ON_UNREACHABLE, DELETION_ON_EXPIRY, SERVICE_ACTOR,
    TENANT_WIDE,
};
pub use run_search::{is_search_cursor, RunSearch, SearchPage, SEARCH_BUDGET, SEARCH_READS};
pub use run_stats::RunStats;
pub use run_steps::{
    Checked, Completed, Materialized, Retried, Retrying, RunResult, RunStep, RunUpdate, Started,
    StepAnswer,
};
pub use sessions::UiSession;
pub use signing::{Rotated, SigningSecrets};
pub use tail::{DoneCursor, DoneEntry};
pub use tenants::{
    hash_secret, ApiKey, TenantLimit, TenantProfile, TenantState, TENANT_TOMBSTONE_MS,
};

use crate::keys::{KeyTemplate, Keys};
use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::cluster::ClusterClientBuilder;
use redis::cluster_async::ClusterConnection;
use redis::cluster_routing::Slot;
use redis::{Cmd, Pipeline, RedisFuture, Value};
use std::sync::Arc;
use std::time::Duration;

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
    /// A run-log cursor names no run of the log.
    #[error("the cursor names no run of this log")]
    UnknownCursor,
}

impl StoreError {
    /// Redis could not be reached or did not answer in time (down, restarting, a cluster
    /// without a master for a slot, no pooled connection): the call may succeed later, and
    /// what it was to write was not written, or is written again idempotently by a retry.
    pub fn is_unavailable(&self) -> bool {
        match self {
            StoreError::Redis(e) => {
                e.is_connection_dropped()
                    || e.is_connection_refusal()
                    || e.is_timeout()
                    || e.is_io_error()
                    || e.is_cluster_error()
                    || matches!(
                        e.kind(),
                        redis::ErrorKind::Server(
                            redis::ServerErrorKind::BusyLoading
                                | redis::ServerErrorKind::TryAgain
                                | redis::ServerErrorKind::ClusterDown
                                | redis::ServerErrorKind::MasterDown
                        )
                    )
            }
            StoreError::Pool(_) => true,
            _ => false,
        }
    }
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// The outcomes a finished run can have, by name.
pub mod outcome {
    pub const SUCCESS: &str = "success";
    pub const FAILURE: &str = "failure";
    pub const ERROR: &str = "error";
    pub const TIMEOUT: &str = "timeout";
}

/// The outcomes a finished run can have (each has a position stream per job, see
/// [`Keys::job_outcome`]).
pub const OUTCOMES: [&str; 4] = [
    outcome::SUCCESS,
    outcome::FAILURE,
    outcome::ERROR,
    outcome::TIMEOUT,
];

/// How long run records live and how many a stream keeps.
#[derive(Clone, Copy, Debug)]
pub struct Retention {
    pub ttl_ms: u64,
    pub per_stream: u64,
}

/// Runs per script call of [`Store::record_steps`] and entries per call of [`Store::advance_many`]:
/// large enough to make the call's fixed cost small, small enough to keep each call short
/// (Redis serves nothing else while a script runs).
const MAX_PER_CALL: usize = 32;

/// Most connections of the blocking pool: calls that block beyond this many wait for one.
/// Its only caller is the live tails' one reader of an API process, which holds at most four
/// at once (see `tail`), whatever the number of tails.
const BLOCKING_CONNECTIONS: usize = 8;

/// How long connecting to a Redis node may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// How long a command may wait for its answer (blocking calls excepted).
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(5);

/// Where the store's Redis is: one server, or a Redis Cluster.
#[derive(Clone, Copy, Debug)]
pub enum Target<'a> {
    /// One Redis server, by URL (`redis://host:port`).
    Single(&'a str),
    /// A Redis Cluster, by one or more seed nodes' URLs, comma-separated: the cluster client
    /// learns the rest of the cluster from them and follows its slots as they move.
    Cluster(&'a str),
}

impl<'a> Target<'a> {
    /// The target of the settings `CHIME_REDIS_URL` and `CHIME_REDIS_CLUSTER`.
    pub fn of(url: &'a str, cluster: bool) -> Target<'a> {
        if cluster {
            Target::Cluster(url)
        } else {
            Target::Single(url)
        }
    }
}

/// The store's connection: one multiplexed, self-reconnecting connection to one Redis, or the
/// cluster client's connection, which routes each command (a script call: by its first key)
/// to the node that serves its slot and follows redirections and failovers.
#[derive(Clone)]
pub enum Conn {
    Single(ConnectionManager),
    Cluster(ClusterConnection),
}

/// Whether a failed call is worth sending once more on a fresh connection: the connection
/// it went out on had dropped (Redis restarted, or the socket died while idle). The connection
/// manager reconnects on such an error, so the second try goes to the new connection. A
/// request the server had executed before its connection dropped is sent twice: chime's
/// writes are idempotent (keyed by run id, name or id, or a fenced compare-and-set), except
/// that an audit entry may be written twice and a job id skipped.
fn dropped(e: &RedisError) -> bool {
    e.is_connection_dropped()
}

impl ConnectionLike for Conn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Conn::Single(c) => Box::pin(async move {
                match c.req_packed_command(cmd).await {
                    Err(e) if dropped(&e) => c.req_packed_command(cmd).await,
                    other => other,
                }
            }),
            Conn::Cluster(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Conn::Single(c) => Box::pin(async move {
                match c.req_packed_commands(pipeline, offset, count).await {
                    Err(e) if dropped(&e) => c.req_packed_commands(pipeline, offset, count).await,
                    other => other,
                }
            }),
            Conn::Cluster(c) => c.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Conn::Single(c) => c.get_db(),
            Conn::Cluster(c) => c.get_db(),
        }
    }
}

/// Dedicated connections for calls that block (the live tail's `XREAD BLOCK`), which would
/// stall every caller of the shared multiplexed connection.
#[derive(Clone)]
enum Blocking {
    Single(deadpool_redis::Pool),
    Cluster(deadpool_redis::cluster::Pool),
}

/// The blocking pool made by a deadpool-redis pool builder (of one server's or a cluster's
/// connections): bounded, waits at most 10 s for a connection.
macro_rules! blocking_pool {
    ($builder:expr) => {
        $builder
            .max_size(BLOCKING_CONNECTIONS)
            .wait_timeout(Some(Duration::from_secs(10)))
            .create_timeout(Some(CONNECT_TIMEOUT))
            .runtime(deadpool_redis::Runtime::Tokio1)
            .build()
            .map_err(|e| StoreError::Pool(e.to_string()))?
    };
}

/// Handle on the Redis store; cheap to clone.
#[derive(Clone)]
pub struct Store {
    conn: Conn,
    blocking: Blocking,
    keys: Keys,
    retention: Retention,
    /// Partitions of the due index (every replica of a cluster must agree on it).
    due_partitions: u32,
    /// The leader's admission of runs into flight (see [`Admission`]).
    admission: Admission,
}

/// The cap on each tenant's runs in flight that the leader's materialize applies (a run is in
/// flight from its record's creation until its result is recorded, or its timeout plus
/// [`Admission::SLACK_MS`] has passed), while tenants contend. Shared by the clones of a
/// store, so the leader can change the cap as workers come and go, and say whether more than
/// one tenant is firing.
#[derive(Clone, Debug, Default)]
pub struct Admission {
    /// 0: no cap (the store of a service that does not fire).
    cap: Arc<std::sync::atomic::AtomicU64>,
    /// Whether more than one tenant fired lately: a tenant alone is not capped (its runs
    /// wait for no one else's).
    contended: Arc<std::sync::atomic::AtomicBool>,
    /// The timeout of a run whose job names none (ms).
    default_timeout_ms: u64,
}

impl Admission {
    /// How long after its timeout a run stops counting (its message lost or dead-lettered).
    pub const SLACK_MS: u64 = 120_000;

    pub fn set_cap(&self, cap: u64) {
        self.cap.store(cap, std::sync::atomic::Ordering::Relaxed);
    }

    /// The cap in force: 0 while no other tenant contends.
    pub fn cap(&self) -> u64 {
        if self.contended.load(std::sync::atomic::Ordering::Relaxed) {
            self.cap.load(std::sync::atomic::Ordering::Relaxed)
        } else {
            0
        }
    }

    pub fn set_contended(&self, contended: bool) {
        self.contended
            .store(contended, std::sync::atomic::Ordering::Relaxed);
    }
}

impl Store {
    /// Connects to one Redis server: [`Store::connect_to`] of [`Target::Single`].
    pub async fn connect(
        url: &str,
        namespace: &str,
        retention: Retention,
        due_partitions: u32,
    ) -> Result<Store> {
        Store::connect_to(Target::Single(url), namespace, retention, due_partitions).await
    }

    /// Connects to Redis (one server or a cluster). The connection reconnects by itself after
    /// Redis restarts (and, on a cluster, follows slots that move and replicas that take
    /// over). The store lays its keys out under `namespace`, keeps runs by `retention`, and
    /// spreads the due index over `due_partitions` sorted sets.
    pub async fn connect_to(
        target: Target<'_>,
        namespace: &str,
        retention: Retention,
        due_partitions: u32,
    ) -> Result<Store> {
        let pool_error = |e: &dyn std::fmt::Display| StoreError::Pool(e.to_string());
        let (conn, blocking) = match target {
            Target::Single(url) => {
                let client = redis::Client::open(url)?;
                let config = ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(CONNECT_TIMEOUT))
                    .set_response_timeout(Some(RESPONSE_TIMEOUT))
                    .set_number_of_retries(3)
                    .set_max_delay(Duration::from_secs(1));
                let conn = ConnectionManager::new_with_config(client, config).await?;
                let no_timeout = redis::AsyncConnectionConfig::new().set_response_timeout(None);
                let blocking = deadpool_redis::Manager::new_with_config(url, no_timeout)?;
                let blocking = blocking_pool!(deadpool_redis::Pool::builder(blocking));
                (Conn::Single(conn), Blocking::Single(blocking))
            }
            Target::Cluster(urls) => {
                let seeds: Vec<String> = chime_core::url_list(urls)
                    .into_iter()
                    .map(String::from)
                    .collect();
                let conn = ClusterClientBuilder::new(seeds.clone())
                    .connection_timeout(CONNECT_TIMEOUT)
                    .response_timeout(RESPONSE_TIMEOUT)
                    .retries(3)
                    .build()?
                    .get_async_connection()
                    .await?;
                // The cluster pool's connections have no response timeout: they block.
                let config = deadpool_redis::cluster::Config::from_urls(seeds);
                let blocking = blocking_pool!(config.builder().map_err(|e| pool_error(&e))?);
                (Conn::Cluster(conn), Blocking::Cluster(blocking))
            }
        };
        Ok(Store {
            conn,
            blocking,
            keys: Keys::new(namespace),
            retention,
            due_partitions: due_partitions.max(1),
            admission: Admission::default(),
        })
    }

    /// The same store with the leader's admission: each tenant's runs in flight are capped at
    /// `cap` (0: none; a tenant's own `max_in_flight` overrides it), runs without a timeout of
    /// their own counting `default_timeout_ms`.
    pub fn with_admission(mut self, cap: u64, default_timeout_ms: u64) -> Store {
        self.admission = Admission {
            cap: Arc::new(std::sync::atomic::AtomicU64::new(cap)),
            contended: Arc::default(),
            default_timeout_ms,
        };
        self
    }

    /// The admission of this store, to change its cap.
    pub fn admission(&self) -> &Admission {
        &self.admission
    }

    /// The same store with its due index in `shards` shards (`CHIME_SCHEDULER_SHARDS`; at most
    /// one a partition): each in a hash slot of its own, with its own lease and epoch, so
    /// several schedulers lead a share each. Every service of a deployment must agree on it.
    pub fn with_scheduler_shards(mut self, shards: u32) -> Store {
        self.keys = self.keys.with_shards(shards.clamp(1, self.due_partitions));
        self
    }

    /// Whether the store runs on a Redis Cluster.
    pub fn is_cluster(&self) -> bool {
        matches!(self.conn, Conn::Cluster(_))
    }

    /// A handle on the store's connection, for what the store has no method for (tests that
    /// inspect keys, tools). Cheap to clone; on a cluster, each command goes to its slot's
    /// node.
    pub fn connection(&self) -> Conn {
        self.c()
    }

    pub fn keys(&self) -> &Keys {
        &self.keys
    }

    fn c(&self) -> Conn {
        self.conn.clone()
    }

    /// `HGET` of many (key, field) pairs, in order: one pipeline on one Redis; on a cluster,
    /// one pipeline per hash slot (a pipeline goes to one node), all in flight at once.
    async fn hget_each<'a>(
        &self,
        pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Vec<Option<String>>> {
        let pairs: Vec<(&str, &str)> = pairs.into_iter().collect();
        let mut groups: Vec<(Option<Slot>, Vec<usize>)> = Vec::new();
        for (i, (key, _)) in pairs.iter().enumerate() {
            let slot = self.is_cluster().then(|| Slot::for_key(key));
            match groups.iter_mut().find(|(s, _)| *s == slot) {
                Some((_, members)) => members.push(i),
                None => groups.push((slot, vec![i])),
            }
        }
        let calls = groups.iter().map(|(_, members)| {
            let mut pipe = redis::pipe();
            for &i in members {
                pipe.hget(pairs[i].0, pairs[i].1);
            }
            let mut c = self.c();
            async move { pipe.query_async::<Vec<Option<String>>>(&mut c).await }
        });
        let replies = futures::future::join_all(calls).await;
        let mut out = vec![None; pairs.len()];
        for ((_, members), reply) in groups.iter().zip(replies) {
            for (&i, v) in members.iter().zip(reply?) {
                out[i] = v;
            }
        }
        Ok(out)
    }

    /// Round trip to Redis.
    pub async fn ping(&self) -> Result<()> {
        let _: String = redis::cmd("PING").query_async(&mut self.c()).await?;
        Ok(())
    }

    /// The key run messages are signed with: `configured` (the `cluster_secret` setting) if
    /// set, else the installation's own, 32 random bytes (as hex) that the first service to
    /// ask keeps in Redis.
    pub async fn cluster_secret(&self, configured: Option<&str>) -> Result<String> {
        if let Some(s) = configured.filter(|s| !s.is_empty()) {
            return Ok(s.to_string());
        }
        let fresh = format!(
            "{}{}",
            uuid::Uuid::new_v4().simple(),
            uuid::Uuid::new_v4().simple()
        );
        let key = self.keys.cluster_secret();
        let mut c = self.c();
        let _: Option<String> = redis::cmd("SET")
            .arg(&key)
            .arg(&fresh)
            .arg("NX")
            .query_async(&mut c)
            .await?;
        let kept: Option<String> = redis::cmd("GET").arg(&key).query_async(&mut c).await?;
        kept.ok_or_else(|| StoreError::Corrupt(format!("{key} vanished")))
    }

    /// Redis's clock in milliseconds: the one clock every replica decides "due" against.
    pub async fn now_ms(&self) -> Result<i64> {
        let (secs, micros): (i64, i64) = redis::cmd("TIME").query_async(&mut self.c()).await?;
        Ok(secs * 1000 + micros / 1000)
    }
}

/// Runs script calls at most two at a time: a large batch must not queue every other client's
/// commands behind all of its scripts at once.
async fn invoke_two_at_a_time(
    invocations: Vec<(redis::ScriptInvocation<'_>, Conn)>,
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

/// Hands key templates to a script, each as two arguments: its prefix, then its suffix.
fn template_args(
    inv: &mut redis::ScriptInvocation<'_>,
    templates: impl IntoIterator<Item = KeyTemplate>,
) {
    for t in templates {
        inv.arg(t.prefix).arg(t.suffix);
    }
}

/// The script of a file of `scripts/`, made once (its SHA-1 is computed when it is first used).
macro_rules! script {
    ($file:literal) => {
        std::sync::LazyLock::new(|| redis::Script::new(include_str!(concat!("scripts/", $file))))
    };
}
use script;

/// The script of a file of `scripts/` with another file of `scripts/` (functions it uses)
/// before it.
macro_rules! script_after {
    ($prelude:literal, $file:literal) => {
        std::sync::LazyLock::new(|| {
            redis::Script::new(concat!(
                include_str!(concat!("scripts/", $prelude)),
                include_str!(concat!("scripts/", $file))
            ))
        })
    };
}
use script_after;

/// The script of a file of `scripts/` that makes notes: `notes.lua` goes before it.
macro_rules! script_with_notes {
    ($file:literal) => {
        crate::script_after!("notes.lua", $file)
    };
}
use script_with_notes;

/// A query script of `scripts/`: `answered.lua` (a finished record as queries answer it) goes
/// before it.
macro_rules! query_script {
    ($file:literal) => {
        crate::script_after!("answered.lua", $file)
    };
}
use query_script;

fn to_json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).expect("domain types serialise")
}

fn from_json<T: serde::de::DeserializeOwned>(s: &str) -> Result<T> {
    serde_json::from_str(s).map_err(|e| StoreError::Corrupt(e.to_string()))
}
#[cfg(test)]
mod tests {
    use super::Target;

    #[test]
    fn the_cluster_setting_chooses_the_target() {
        assert!(matches!(Target::of("redis://x", true), Target::Cluster(_)));
        assert!(matches!(Target::of("redis://x", false), Target::Single(_)));
    }
}
