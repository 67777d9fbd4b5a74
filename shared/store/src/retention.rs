//! Retention: the sweep that trims every run stream and index of a tenant to its retention
//! age. The run scripts trim as runs are created, but streams of schedules that stopped firing
//! are otherwise trimmed only by the next fire; run records expire by themselves (TTL).

use crate::{Result, Store, OUTCOMES};
use redis::{AsyncCommands, Script};
use std::sync::LazyLock;

static RANK_TRIM: LazyLock<Script> = crate::script!("rank_trim.lua");

impl Store {
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
            .load_script(&RANK_TRIM)
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
                    RANK_TRIM
                        .key(self.keys.schedule_rank(tenant, sid))
                        .arg(minid),
                );
            }
            let counts: Vec<u64> = pipe.query_async(&mut c).await?;
            removed += counts.iter().sum::<u64>();
        }
        Ok(removed)
    }
}
