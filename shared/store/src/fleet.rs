//! The fleet as the store sees it, for the operations view: each shard's leader and fencing
//! epoch, the schedulers and workers alive (from their heartbeats), and each tenant's runs in
//! flight and recent pace. Reads only, each bounded: nothing here walks a tenant's history.

use crate::{Result, Store};
use redis::AsyncCommands;

/// One shard of the due index and its lease.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShardLease {
    pub shard: u32,
    /// The scheduler holding the lease, `None` while nobody does.
    pub leader: Option<String>,
    /// The fencing epoch of the lease's newest holder (0: never held).
    pub epoch: u64,
    /// How long the lease lasts unless renewed (ms); `None` without a holder.
    pub ttl_ms: Option<u64>,
}

/// A scheduler alive.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SchedulerAlive {
    pub name: String,
    /// Its last heartbeat (ms).
    pub seen_ms: i64,
    /// The shards it leads.
    pub shards: u32,
}

/// A worker alive.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorkerAlive {
    pub id: String,
    /// Its slots (runs it executes at once).
    pub slots: u64,
    /// The runs it held at its last heartbeat.
    pub busy: u64,
    /// When it is taken for dead unless heard of again (ms).
    pub until_ms: i64,
}

/// A tenant's current activity.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TenantActivity {
    pub tenant: String,
    pub name: String,
    /// Runs created and not finished yet (waiting, running, or acknowledged asynchronously).
    pub in_flight: u64,
    /// Runs finished in the last minute: counted exactly up to [`PACE_SAMPLE`] of them, and
    /// past that estimated from the time the newest [`PACE_SAMPLE`] took.
    pub per_minute: u64,
}

/// Names with a number each, as a sorted set's members with scores or a hash's fields.
type Named<N> = Vec<(String, N)>;

/// The most finished runs a tenant's pace reads.
pub const PACE_SAMPLE: usize = 1000;

impl Store {
    /// Each shard's lease: its holder, epoch and time left.
    pub async fn shard_leases(&self) -> Result<Vec<ShardLease>> {
        let mut out = Vec::new();
        for shard in 0..self.keys.shards() {
            let (holder, ttl, epoch): (Option<String>, i64, Option<u64>) = redis::pipe()
                .get(self.keys.lease_of(shard))
                .pttl(self.keys.lease_of(shard))
                .get(self.keys.epoch_of(shard))
                .query_async(&mut self.c())
                .await?;
            let leader = holder
                .as_deref()
                .map(|t| t.rsplit_once(':').map_or(t, |(owner, _)| owner).to_string());
            out.push(ShardLease {
                shard,
                ttl_ms: leader.as_ref().and_then(|_| u64::try_from(ttl).ok()),
                leader,
                epoch: epoch.unwrap_or(0),
            });
        }
        Ok(out)
    }

    /// The schedulers alive at their last heartbeat, and the shards each leads.
    pub async fn schedulers_alive(&self) -> Result<Vec<SchedulerAlive>> {
        let (alive, held): (Named<i64>, Named<u32>) = redis::pipe()
            .zrange_withscores(self.keys.schedulers(), 0, -1)
            .hgetall(self.keys.schedulers_held())
            .query_async(&mut self.c())
            .await?;
        Ok(alive
            .into_iter()
            .map(|(name, seen_ms)| {
                let shards = held.iter().find(|(o, _)| *o == name).map_or(0, |(_, n)| *n);
                SchedulerAlive {
                    name,
                    seen_ms,
                    shards,
                }
            })
            .collect())
    }

    /// The workers alive at `now` (ms), each with the runs it holds; forgets the others'
    /// counts.
    pub async fn workers_alive(&self, now: i64) -> Result<Vec<WorkerAlive>> {
        let mut c = self.c();
        let alive: Vec<(String, i64)> = c
            .zrangebyscore_withscores(self.keys.workers(), now, "+inf")
            .await?;
        let busy: Vec<(String, u64)> = c.hgetall(self.keys.workers_busy()).await?;
        let workers: Vec<WorkerAlive> = alive
            .into_iter()
            .filter_map(|(member, until_ms)| {
                let (id, slots) = member.rsplit_once('|')?;
                let n = busy.iter().find(|(w, _)| w == id).map_or(0, |(_, n)| *n);
                Some(WorkerAlive {
                    id: id.to_string(),
                    slots: slots.parse().ok()?,
                    busy: n,
                    until_ms,
                })
            })
            .collect();
        let gone: Vec<&str> = busy
            .iter()
            .map(|(w, _)| w.as_str())
            .filter(|w| !workers.iter().any(|a| a.id == *w))
            .collect();
        if !gone.is_empty() {
            let _: () = c.hdel(self.keys.workers_busy(), gone).await?;
        }
        Ok(workers)
    }

    /// `tenant`'s name, runs in flight and runs finished per minute at `now` (ms).
    pub async fn tenant_activity(&self, tenant: &str, now: i64) -> Result<TenantActivity> {
        let since = now - 60_000;
        let (name, in_flight, newest): (Option<String>, u64, Vec<(String, ())>) = redis::pipe()
            .hget(self.keys.tenant(tenant), "name")
            .zcard(self.keys.live(tenant))
            .cmd("XREVRANGE")
            .arg(self.keys.tenant_runs(tenant))
            .arg("+")
            .arg(format!("{since}"))
            .arg("COUNT")
            .arg(PACE_SAMPLE)
            .query_async(&mut self.c())
            .await?;
        let per_minute = match newest.last() {
            Some((oldest, ())) if newest.len() == PACE_SAMPLE => {
                let ms = oldest
                    .split_once('-')
                    .and_then(|(ms, _)| ms.parse::<i64>().ok())
                    .unwrap_or(since);
                let span = (now - ms).clamp(1, 60_000) as u64;
                PACE_SAMPLE as u64 * 60_000 / span
            }
            _ => newest.len() as u64,
        };
        Ok(TenantActivity {
            tenant: tenant.to_string(),
            name: name.unwrap_or_default(),
            in_flight,
            per_minute,
        })
    }
}
