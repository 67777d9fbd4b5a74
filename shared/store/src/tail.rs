//! The live tail: while a tail of a job listens (it is announced every few seconds), the run
//! scripts add each result of the job to its "done" stream, which an API process's one
//! reader reads with a blocking `XREAD` on a connection of the blocking pool, for every job
//! it watches at once.

use crate::{Result, Store, StoreError};
use futures::StreamExt;
use redis::AsyncCommands;
use std::collections::HashMap;

fn pool_error(e: impl std::fmt::Display) -> StoreError {
    StoreError::Pool(e.to_string())
}

/// How long an announcement lasts (ms): a watched job is announced again well within it.
const TAIL_TTL_MS: u64 = 30_000;

/// Most reads of "done" streams in flight at once on a Redis Cluster, each on a connection
/// of the blocking pool (on one Redis, one read covers every stream).
const CONCURRENT_READS: usize = 4;

/// The shortest block of a read when more tenants are read than [`CONCURRENT_READS`] at once
/// (their reads then share the round's block time).
const MIN_BLOCK_MS: usize = 20;

/// Entries one read takes from each stream.
const READ_COUNT: usize = 100;

/// A job's "done" stream, read after stream id `after` (`0-0`: from its start).
#[derive(Clone, Copy, Debug)]
pub struct DoneCursor<'a> {
    pub tenant: &'a str,
    pub job: u64,
    pub after: &'a str,
}

/// A result recorded on a "done" stream: the index of its stream's cursor in the call, its
/// stream id and its run id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DoneEntry {
    pub cursor: usize,
    pub id: String,
    pub run: String,
}

impl Store {
    /// Waits up to about `block_ms` for results recorded on the "done" streams of `cursors`
    /// after each one's stream id, at most 100 a stream. On one Redis, one `XREAD` covers
    /// every stream; on a cluster, one covers each tenant's streams (a tenant's keys share a
    /// hash slot), at most [`CONCURRENT_READS`] at once, the block shared out when there are
    /// more. Each read blocks, so it takes a connection of the blocking pool, and it is never
    /// cut short (a pooled connection must not come back with a reply pending). One result a
    /// group read, in the order of each stream: a failed group's streams are read again from
    /// the same cursors.
    pub async fn wait_done_many(
        &self,
        cursors: &[DoneCursor<'_>],
        block_ms: usize,
    ) -> Vec<Result<Vec<DoneEntry>>> {
        let mut groups: Vec<Vec<usize>> = Vec::new();
        if self.is_cluster() {
            let mut by_tenant: HashMap<&str, usize> = HashMap::new();
            for (i, c) in cursors.iter().enumerate() {
                let g = *by_tenant.entry(c.tenant).or_insert_with(|| {
                    groups.push(Vec::new());
                    groups.len() - 1
                });
                groups[g].push(i);
            }
        } else if !cursors.is_empty() {
            groups.push((0..cursors.len()).collect());
        }
        let waves = groups.len().div_ceil(CONCURRENT_READS).max(1);
        let block = (block_ms / waves).max(MIN_BLOCK_MS);
        futures::stream::iter(groups)
            .map(|members| self.read_done(cursors, members, block))
            .buffer_unordered(CONCURRENT_READS)
            .collect()
            .await
    }

    /// One `XREAD` of the streams of `members` (indexes into `cursors`).
    async fn read_done(
        &self,
        cursors: &[DoneCursor<'_>],
        members: Vec<usize>,
        block_ms: usize,
    ) -> Result<Vec<DoneEntry>> {
        let opts = redis::streams::StreamReadOptions::default()
            .block(block_ms)
            .count(READ_COUNT);
        let keys: Vec<String> = members
            .iter()
            .map(|&i| self.keys.job_done(cursors[i].tenant, cursors[i].job))
            .collect();
        let ids: Vec<&str> = members.iter().map(|&i| cursors[i].after).collect();
        let reply: Option<redis::streams::StreamReadReply> = match &self.blocking {
            crate::Blocking::Single(pool) => {
                let mut conn = pool.get().await.map_err(pool_error)?;
                conn.xread_options(&keys, &ids, &opts).await?
            }
            crate::Blocking::Cluster(pool) => {
                let mut conn = pool.get().await.map_err(pool_error)?;
                conn.xread_options(&keys, &ids, &opts).await?
            }
        };
        let index: HashMap<&str, usize> = keys
            .iter()
            .zip(&members)
            .map(|(k, &i)| (k.as_str(), i))
            .collect();
        let mut entries = Vec::new();
        for stream in reply.into_iter().flat_map(|r| r.keys) {
            let Some(&cursor) = index.get(stream.key.as_str()) else {
                continue;
            };
            entries.extend(stream.ids.into_iter().map(|e| DoneEntry {
                cursor,
                run: e.get::<String>("r").unwrap_or_default(),
                id: e.id,
            }));
        }
        Ok(entries)
    }

    /// Tells the run scripts that a live tail listens to the job's results, for the next 30 s:
    /// a tail's first listener calls it before it reads the stream's head.
    pub async fn announce_tail(&self, tenant: &str, job: u64) -> Result<()> {
        self.announce_tails(tenant, &[job]).await
    }

    /// [`Store::announce_tail`] of several jobs of one tenant, in one round trip.
    pub async fn announce_tails(&self, tenant: &str, jobs: &[u64]) -> Result<()> {
        if jobs.is_empty() {
            return Ok(());
        }
        let mut pipe = redis::pipe();
        for &job in jobs {
            pipe.cmd("SET")
                .arg(self.keys.job_tails(tenant, job))
                .arg(1)
                .arg("PX")
                .arg(TAIL_TTL_MS)
                .ignore();
        }
        let _: () = pipe.query_async(&mut self.c()).await?;
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
}
