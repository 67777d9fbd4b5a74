//! The leases of the due index's shards: one scheduler replica holds a shard's lease at a time,
//! under a fencing epoch of the shard's that grows with every new holder (its token is
//! `<owner>:<epoch>`). A shard's lease and epoch counter share its partitions' slot, so their
//! writes can be fenced. And the schedulers' heartbeats, by which they share the shards out.

use crate::{Result, Store};
use redis::{AsyncCommands, Script};
use std::sync::LazyLock;

static ACQUIRE: LazyLock<Script> = crate::script!("lease_acquire.lua");
static RENEW: LazyLock<Script> = crate::script!("lease_renew.lua");
static RELEASE: LazyLock<Script> = crate::script!("lease_release.lua");

impl Store {
    /// Takes a shard's lease if free: its new fencing epoch, or `None` when another owner
    /// holds it.
    pub async fn lease_acquire(&self, shard: u32, owner: &str, ttl_ms: u64) -> Result<Option<u64>> {
        let epoch: u64 = ACQUIRE
            .key(self.keys.lease_of(shard))
            .key(self.keys.epoch_of(shard))
            .arg(owner)
            .arg(ttl_ms)
            .invoke_async(&mut self.c())
            .await?;
        Ok((epoch > 0).then_some(epoch))
    }

    /// Extends a shard's lease if `token` still holds it: false when it was lost.
    pub async fn lease_renew(&self, shard: u32, token: &str, ttl_ms: u64) -> Result<bool> {
        let r: i64 = RENEW
            .key(self.keys.lease_of(shard))
            .arg(token)
            .arg(ttl_ms)
            .invoke_async(&mut self.c())
            .await?;
        Ok(r == 1)
    }

    /// Gives a shard's lease up if `token` holds it: false when it did not.
    pub async fn lease_release(&self, shard: u32, token: &str) -> Result<bool> {
        let r: i64 = RELEASE
            .key(self.keys.lease_of(shard))
            .arg(token)
            .invoke_async(&mut self.c())
            .await?;
        Ok(r == 1)
    }

    /// Notes that scheduler `owner` is alive at `now` (ms), leading `held` shards, and forgets
    /// those not heard of for `ttl_ms`: the schedulers alive and the shards each leads.
    pub async fn scheduler_heartbeat(
        &self,
        owner: &str,
        held: u32,
        now: i64,
        ttl_ms: u64,
    ) -> Result<Vec<(String, u32)>> {
        let (alive_key, held_key) = (self.keys.schedulers(), self.keys.schedulers_held());
        let (_, _, _, alive, counts): ((), (), (), Vec<String>, Vec<(String, u32)>) = redis::pipe()
            .zadd(&alive_key, owner, now)
            .zrembyscore(&alive_key, "-inf", format!("({}", now - ttl_ms as i64))
            .hset(&held_key, owner, held)
            .zrange(&alive_key, 0, -1)
            .hgetall(&held_key)
            .query_async(&mut self.c())
            .await?;
        let dead: Vec<&str> = counts
            .iter()
            .filter(|(o, _)| !alive.contains(o))
            .map(|(o, _)| o.as_str())
            .collect();
        if !dead.is_empty() {
            let _: () = self.c().hdel(&held_key, dead).await?;
        }
        Ok(alive
            .into_iter()
            .map(|o| {
                let n = counts.iter().find(|(c, _)| *c == o).map_or(0, |(_, n)| *n);
                (o, n)
            })
            .collect())
    }

    /// Notes that worker `id`, with `slots` slots of which `busy` hold runs, is alive until
    /// `until` (ms).
    pub async fn worker_heartbeat(
        &self,
        id: &str,
        slots: usize,
        busy: usize,
        until: i64,
    ) -> Result<()> {
        let mut c = self.c();
        let _: () = c
            .zadd(self.keys.workers(), format!("{id}|{slots}"), until)
            .await?;
        let _: () = c.hset(self.keys.workers_busy(), id, busy).await?;
        Ok(())
    }

    /// Forgets worker `id` of `slots` slots (it stops).
    pub async fn worker_gone(&self, id: &str, slots: usize) -> Result<()> {
        let mut c = self.c();
        let _: () = c.zrem(self.keys.workers(), format!("{id}|{slots}")).await?;
        let _: () = c.hdel(self.keys.workers_busy(), id).await?;
        Ok(())
    }

    /// The slots of the smallest worker alive at `now` (ms), 0 when none is; forgets the
    /// others.
    pub async fn smallest_worker_slots(&self, now: i64) -> Result<u64> {
        let key = self.keys.workers();
        let (_, alive): ((), Vec<String>) = redis::pipe()
            .zrembyscore(&key, "-inf", format!("({now}"))
            .zrange(&key, 0, -1)
            .query_async(&mut self.c())
            .await?;
        Ok(alive
            .iter()
            .filter_map(|m| m.rsplit_once('|')?.1.parse::<u64>().ok())
            .min()
            .unwrap_or(0))
    }

    /// How many of `tenant`'s runs are in flight at `now` (ms): materialized by the leader,
    /// no result recorded yet (the leader's admission caps this).
    pub async fn runs_in_flight(&self, tenant: &str, now: i64) -> Result<u64> {
        let n: u64 = self
            .c()
            .zcount(self.keys.in_flight(tenant), now, "+inf")
            .await?;
        Ok(n)
    }

    /// Forgets scheduler `owner` (it stops).
    pub async fn scheduler_gone(&self, owner: &str) -> Result<()> {
        let _: () = self.c().zrem(self.keys.schedulers(), owner).await?;
        let _: () = self.c().hdel(self.keys.schedulers_held(), owner).await?;
        Ok(())
    }
}
