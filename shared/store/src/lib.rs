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
//! | `jobs` | jobs, job names, schedules, the definitions of due entries, job deletion | `job_delete` |
//! | `due` | the due index and its deferred fires; the one owner of its partitions | `advance` |
//! | `lease` | the leader lease and its fencing epoch | `lease_acquire`, `lease_renew`, `lease_release` |
//! | `run_steps` | run records: materialize, start, complete (grouped calls), async reports, the retention trim | `runs` |
//! | `record` | a finished run's record as a stream entry, and the reading of either form | |
//! | `run_queries` | the run-log query engine, runs by id and number, schedule events, the audit trail | `runs_query`, `run_get` |
//! | `tail` | the live tail's "done" streams | |
//! | `retention` | the sweep of runs past their retention age | |

pub mod keys;

mod due;
mod jobs;
mod lease;
mod record;
mod retention;
mod run_queries;
mod run_steps;
mod tail;
mod tenants;

pub use due::{Advance, Advanced, Deferral};
pub use redis::RedisError;
pub use run_queries::{ActionLog, Order, RunPage, RunQuery, Scope};
pub use run_steps::{Completed, Materialized, RunResult, RunStep, RunUpdate, Started, StepAnswer};
pub use tenants::{hash_secret, ApiKey};

use crate::keys::{KeyTemplate, Keys};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
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
const BLOCKING_CONNECTIONS: usize = 256;

/// Handle on the Redis store; cheap to clone.
#[derive(Clone)]
pub struct Store {
    conn: ConnectionManager,
    /// Dedicated connections for calls that block (the live tail's `XREAD BLOCK`), which
    /// would stall every caller of the shared multiplexed connection.
    blocking: deadpool_redis::Pool,
    keys: Keys,
    retention: Retention,
    /// Partitions of the due index (every replica of a cluster must agree on it).
    due_partitions: u32,
}

impl Store {
    /// Connects to Redis. The connection reconnects by itself after Redis restarts. The store
    /// lays its keys out under `namespace`, keeps runs by `retention`, and spreads the due index
    /// over `due_partitions` sorted sets.
    pub async fn connect(
        url: &str,
        namespace: &str,
        retention: Retention,
        due_partitions: u32,
    ) -> Result<Store> {
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
            retention,
            due_partitions: due_partitions.max(1),
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

fn to_json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).expect("domain types serialise")
}

fn from_json<T: serde::de::DeserializeOwned>(s: &str) -> Result<T> {
    serde_json::from_str(s).map_err(|e| StoreError::Corrupt(e.to_string()))
}
