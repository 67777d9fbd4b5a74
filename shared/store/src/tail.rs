//! The live tail: while a tail of a job listens (it announces itself every few seconds), the
//! run scripts add each result of the job to its "done" stream, which the tail reads with a
//! blocking `XREAD` on a connection of the blocking pool.

use crate::{Result, Store, StoreError};
use redis::AsyncCommands;

fn pool_error(e: impl std::fmt::Display) -> StoreError {
    StoreError::Pool(e.to_string())
}

/// How long an announcement lasts (ms): a tail announces itself again before every wait.
const TAIL_TTL_MS: u64 = 30_000;

impl Store {
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
        let key = self.keys.job_done(tenant, job);
        let reply: Option<redis::streams::StreamReadReply> = match &self.blocking {
            crate::Blocking::Single(pool) => {
                let mut conn = pool.get().await.map_err(pool_error)?;
                conn.xread_options(&[key], &[after], &opts).await?
            }
            crate::Blocking::Cluster(pool) => {
                let mut conn = pool.get().await.map_err(pool_error)?;
                conn.xread_options(&[key], &[after], &opts).await?
            }
        };
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
            .arg(TAIL_TTL_MS)
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
}
