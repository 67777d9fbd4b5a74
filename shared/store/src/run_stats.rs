//! A job's runs finished within a window, counted from its runs stream: the stream's ids are
//! the instants the runs finished, so a range of ids is the window (no index of its own).

use crate::record::lifecycle_of;
use crate::{Result, Store};
use chime_core::run::Outcome;
use std::collections::BTreeMap;

/// Entries read per `XRANGE`.
const PAGE: usize = 10_000;

/// The figures of a job's finished runs in a window ([`Store::job_run_stats`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RunStats {
    pub total: u64,
    pub success: u64,
    /// Each run's call duration (ms), in finish order; runs without one are left out.
    pub durations: Vec<u64>,
    /// Runs by failure reason.
    pub reasons: BTreeMap<String, u64>,
    /// More runs finished in the window than `limit`: the figures are of its oldest ones.
    pub sampled: bool,
    /// Each run as (when it finished (ms), it succeeded, its call duration (ms) if it has
    /// one), in finish order: what a series over the window is made of.
    pub runs: Vec<(i64, bool, Option<u64>)>,
}

impl RunStats {
    /// Counts one finished record: its stream id and fields (a flat list).
    fn add(&mut self, id: &str, fields: &[String]) {
        let get = |name: &str| {
            fields
                .chunks_exact(2)
                .find(|p| p[0] == name)
                .map(|p| p[1].as_str())
        };
        self.total += 1;
        let outcome = get("k")
            .and_then(|k| k.parse().ok())
            .and_then(lifecycle_of)
            .and_then(|(_, _, o)| o);
        let success = outcome == Some(Outcome::Success);
        if success {
            self.success += 1;
        }
        let duration = get("u").and_then(|u| u.parse().ok());
        if let Some(u) = duration {
            self.durations.push(u);
        }
        let at = id
            .split_once('-')
            .and_then(|(ms, _)| ms.parse().ok())
            .unwrap_or(0);
        self.runs.push((at, success, duration));
        if let Some(f) = get("f").filter(|f| !f.is_empty()) {
            *self.reasons.entry(f.to_string()).or_default() += 1;
        }
    }
}

impl Store {
    /// Job `job`'s runs that finished from `from` to `to` (ms, both inclusive; the tenant's
    /// retention hides older ones), reading at most `limit` of them, oldest first, in pages.
    pub async fn job_run_stats(
        &self,
        tenant: &str,
        job: u64,
        from: i64,
        to: i64,
        limit: usize,
    ) -> Result<RunStats> {
        let kept_since = chrono::Utc::now().timestamp_millis()
            - i64::try_from(self.tenant_retention(tenant).await?).unwrap_or(i64::MAX);
        let from = from.max(kept_since).max(0);
        let key = self.keys.job_runs(tenant, job);
        let mut stats = RunStats::default();
        let mut start = from.to_string();
        if from > to {
            return Ok(stats);
        }
        loop {
            let want = PAGE.min(limit + 1 - stats.total as usize);
            let page: Vec<(String, Vec<String>)> = redis::cmd("XRANGE")
                .arg(&key)
                .arg(&start)
                .arg(to)
                .arg("COUNT")
                .arg(want)
                .query_async(&mut self.c())
                .await?;
            for (id, fields) in &page {
                if stats.total as usize == limit {
                    stats.sampled = true;
                    return Ok(stats);
                }
                stats.add(id, fields);
            }
            match page.last() {
                Some((id, _)) if page.len() == want => start = format!("({id}"),
                _ => break,
            }
        }
        Ok(stats)
    }
}
