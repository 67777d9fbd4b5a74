//! Retention: the sweep that trims a tenant's runs to its retention age. The run script trims
//! a job's runs as they finish (every 32nd), but the runs of jobs that stopped firing, and runs
//! that never finished, are removed only by this sweep.

use crate::{Result, Store};
use redis::AsyncCommands;

impl Store {
    /// Trims every job's runs of the tenant, and its runs that never finished, to its
    /// retention age: their records, their entries in every run stream and their run ids and
    /// numbers. Returns the runs removed.
    pub async fn sweep_retention(&self, tenant: &str, now: i64) -> Result<u64> {
        let jobs: Vec<u64> = self.c().zrange(self.keys.jobs(tenant), 0, -1).await?;
        let mut removed = 0;
        for chunk in jobs.chunks(64) {
            removed += self.trim_runs(tenant, chunk, now).await?;
        }
        if jobs.is_empty() {
            removed += self.trim_runs(tenant, &[], now).await?;
        }
        Ok(removed)
    }
}
