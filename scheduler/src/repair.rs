//! Repair: the leader's sweep of what a crash or an older version left half written.
//!
//! - **Replan markers** older than the sweep period: a writer (the API) stored a change of what
//!   fires with its markers and died before it put the next fires in the due index; the sweep
//!   puts them there, exactly as the write decided, and clears the markers.
//! - **Names that name no job** (an older version claimed a name, then died before it wrote
//!   the job): released.
//! - **Active schedules of active jobs with no due entry and no marker** (an older version, or
//!   a crash between a leader's advance and its bookkeeping): a schedule found so in two sweeps
//!   in a row (so not one caught in the middle of a write or a pass) gets its next fire from
//!   now. Re-planning an instant that already fired is harmless: its run id is the same, and
//!   the leader publishes a finished run no more.
//!
//! Each repair counts in `chime_repairs_total{kind="replan"|"name"|"due_entry"}`. At most
//! [`SCHEDULES_PER_SWEEP`] schedules are checked per sweep, the tenants taken in turn.

use chime_core::schedule::Plan;
use chime_runtime::telemetry::warn_throttled as log_every;
use chime_store::Store;
use std::collections::{HashMap, HashSet};

/// Schedules the full check reads per sweep, at most: about 2,000 Redis calls per sweep, a
/// few hundred a second at the default period, whatever the installation's size (a safety
/// net for old leftovers crawls through a large one; markers are completed every sweep).
const SCHEDULES_PER_SWEEP: usize = 1_000;

/// What one sweep repaired.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Repaired {
    pub replans: usize,
    pub names: usize,
    pub due_entries: usize,
}

/// The sweep's memory between runs: the schedules found without a due entry last time, and
/// where the full check goes on.
#[derive(Debug, Default)]
pub struct Repairer {
    suspects: HashSet<(String, u64, String)>,
    next_tenant: usize,
}

impl Repairer {
    /// One sweep at `now` (ms on Redis's clock): markers written before `now - age_ms` are
    /// completed.
    pub async fn sweep(&mut self, store: &Store, now: i64, age_ms: i64) -> Repaired {
        let mut done = Repaired::default();
        let Ok(mut tenants) = store.tenants().await else {
            return done;
        };
        tenants.sort_unstable();
        // Each tenant's markers, read once: the stale ones are completed now, the young ones
        // (writes still in flight) keep their schedules out of the due-entry check below.
        let mut young: HashMap<&str, HashSet<(u64, String)>> = HashMap::new();
        for t in &tenants {
            let markers = match store.stale_replans(t, i64::MAX).await {
                Ok(m) => m,
                Err(e) => {
                    log_every("repair", &format!("reading {t}'s markers failed: {e}"));
                    continue;
                }
            };
            let (stale, fresh): (Vec<_>, Vec<_>) = markers
                .into_iter()
                .partition(|r| r.written_at <= now - age_ms);
            young.insert(t, fresh.into_iter().map(|r| (r.job, r.schedule)).collect());
            if !stale.is_empty() {
                match store.apply_replans(t, &stale).await {
                    Ok(n) => done.replans += n,
                    Err(e) => log_every("repair", &format!("replan of {t} failed: {e}")),
                }
            }
        }
        let mut suspects = HashSet::new();
        let mut visited = HashSet::new();
        let mut read = 0;
        let n = tenants.len();
        for k in 0..n {
            if read >= SCHEDULES_PER_SWEEP {
                self.next_tenant = (self.next_tenant + k) % n.max(1);
                break;
            }
            let t = &tenants[(self.next_tenant + k) % n];
            visited.insert(t.clone());
            match store.release_orphan_names(t).await {
                Ok(names) => {
                    for name in &names {
                        tracing::warn!(tenant = %t, name, "released a job name that named no job");
                    }
                    done.names += names.len();
                }
                Err(e) => log_every("repair", &format!("names of {t}: {e}")),
            }
            let pending = young.get(t.as_str()).cloned().unwrap_or_default();
            match self.check_due(store, t, now, &pending, &mut suspects).await {
                Ok((r, fixed)) => {
                    read += r;
                    done.due_entries += fixed;
                }
                Err(e) => log_every("repair", &format!("due entries of {t}: {e}")),
            }
        }
        // Suspects of tenants this sweep did not reach wait for their next visit.
        self.suspects.retain(|(t, _, _)| !visited.contains(t));
        self.suspects.extend(suspects);
        for (kind, n) in [
            ("replan", done.replans),
            ("name", done.names),
            ("due_entry", done.due_entries),
        ] {
            if n > 0 {
                metrics::counter!("chime_repairs_total", "kind" => kind).increment(n as u64);
            }
        }
        done
    }

    /// Checks the tenant's active schedules for a due entry (those with a `pending` marker
    /// aside): one missing in this sweep and the last gets its next fire from `now`; one
    /// missing only now becomes a suspect. Returns the
    /// schedules read and the entries put back.
    async fn check_due(
        &self,
        store: &Store,
        tenant: &str,
        now: i64,
        pending: &HashSet<(u64, String)>,
        suspects: &mut HashSet<(String, u64, String)>,
    ) -> chime_store::Result<(usize, usize)> {
        let (_, jobs) = store.jobs_page(tenant, 0, u64::MAX / 2).await?;
        let (mut read, mut fixed) = (0, 0);
        for job in jobs.iter().filter(|j| j.active) {
            for sc in store.schedules(tenant, job.id).await? {
                read += 1;
                let id = (job.id, sc.schedule_id.clone());
                if !sc.active || pending.contains(&id) {
                    continue;
                }
                if store
                    .due_of(tenant, job.id, &sc.schedule_id)
                    .await?
                    .is_some()
                {
                    continue;
                }
                let key = (tenant.to_string(), job.id, sc.schedule_id.clone());
                if !self.suspects.contains(&key) {
                    suspects.insert(key);
                    continue;
                }
                let Some(next) = Plan::for_job(job, &sc).ok().and_then(|p| p.first(now)) else {
                    continue;
                };
                store
                    .set_due(tenant, job.id, &sc.schedule_id, Some(next))
                    .await?;
                tracing::warn!(tenant, job_id = job.id, schedule_id = %sc.schedule_id, next, "an active schedule had no due entry; planned it again");
                fixed += 1;
            }
        }
        Ok((read, fixed))
    }
}
