//! Jobs and their schedules: job ids and names, the definitions (a job hash's `def`, a
//! schedules hash of JSON values), the tenant's schedule → job map, the definitions of due
//! entries the leader fires, a schedule's deactivation by the service (`schedule_deactivate.lua`:
//! a finished schedule's, and one past its endpoint's unreachable days), and a job's deletion
//! with everything under it (`job_delete.lua`).

use crate::keys::Keys;
use crate::{from_json, template_args, to_json, Result, Store, OUTCOMES};
use chime_core::model::{Job, Schedule, ScheduleKind};
use redis::{AsyncCommands, Script};
use std::sync::{Arc, LazyLock};

static JOB_DELETE: LazyLock<Script> = crate::script!("job_delete.lua");
static JOB_ID: LazyLock<Script> = crate::script!("job_id.lua");
static SCHEDULE_DEACTIVATE: LazyLock<Script> = crate::script_with_notes!("schedule_deactivate.lua");

/// The job hash's field of the job's JSON definition.
const DEF: &str = "def";

/// A schedule as stored: its JSON, which a compare-and-set compares, and what it says.
#[derive(Clone, Debug)]
pub struct StoredSchedule {
    pub json: String,
    pub schedule: Schedule,
}

impl Store {
    /// A new job id of the tenant's: each tenant counts its own, so no tenant learns from its
    /// ids how many jobs others create.
    pub async fn next_job_id(&self, tenant: &str) -> Result<u64> {
        let mut inv = JOB_ID.prepare_invoke();
        inv.key(self.keys.job_seq(tenant))
            .key(self.keys.jobs(tenant));
        Ok(inv.invoke_async(&mut self.c()).await?)
    }

    /// Reserves a job name for a job id; false when the tenant already has a job of that name.
    pub async fn reserve_job_name(&self, tenant: &str, name: &str, job: u64) -> Result<bool> {
        Ok(self
            .c()
            .hset_nx(self.keys.job_names(tenant), name, job)
            .await?)
    }

    pub async fn release_job_name(&self, tenant: &str, name: &str) -> Result<()> {
        let _: () = self.c().hdel(self.keys.job_names(tenant), name).await?;
        Ok(())
    }

    pub async fn job_id_by_name(&self, tenant: &str, name: &str) -> Result<Option<u64>> {
        Ok(self.c().hget(self.keys.job_names(tenant), name).await?)
    }

    /// Writes a job and its schedules (creation or full replacement), atomically.
    pub async fn put_job(&self, tenant: &str, job: &Job, schedules: &[Schedule]) -> Result<()> {
        let mut pipe = redis::pipe();
        pipe.atomic()
            .hset(self.keys.job(tenant, job.id), DEF, to_json(job))
            .ignore()
            .zadd(self.keys.jobs(tenant), job.id, job.id)
            .ignore();
        for s in schedules {
            pipe.hset(
                self.keys.schedules(tenant, job.id),
                &s.schedule_id,
                to_json(s),
            )
            .ignore()
            .hset(self.keys.schedule_jobs(tenant), &s.schedule_id, job.id)
            .ignore();
        }
        pipe.query_async::<()>(&mut self.c()).await?;
        Ok(())
    }

    pub async fn job(&self, tenant: &str, job: u64) -> Result<Option<Job>> {
        let def: Option<String> = self.c().hget(self.keys.job(tenant, job), DEF).await?;
        def.map(|d| from_json(&d)).transpose()
    }

    /// A page of the tenant's jobs in id order, and the total.
    pub async fn jobs_page(&self, tenant: &str, offset: u64, size: u64) -> Result<(u64, Vec<Job>)> {
        let mut c = self.c();
        let total: u64 = c.zcard(self.keys.jobs(tenant)).await?;
        if size == 0 || offset >= total {
            return Ok((total, vec![]));
        }
        let ids: Vec<u64> = c
            .zrange(
                self.keys.jobs(tenant),
                offset as isize,
                (offset + size - 1) as isize,
            )
            .await?;
        let mut pipe = redis::pipe();
        for id in &ids {
            pipe.hget(self.keys.job(tenant, *id), DEF);
        }
        let defs: Vec<Option<String>> = pipe.query_async(&mut c).await?;
        let jobs = defs
            .into_iter()
            .flatten()
            .map(|d| from_json(&d))
            .collect::<Result<Vec<Job>>>()?;
        Ok((total, jobs))
    }

    /// Counts of the tenant's active and inactive jobs.
    pub async fn job_counts(&self, tenant: &str) -> Result<(u64, u64)> {
        let (total, jobs) = self.jobs_page(tenant, 0, u64::MAX / 2).await?;
        let active = jobs.iter().filter(|j| j.active).count() as u64;
        Ok((active, total.saturating_sub(active)))
    }

    pub async fn schedules(&self, tenant: &str, job: u64) -> Result<Vec<Schedule>> {
        let all: Vec<(String, String)> = self.c().hgetall(self.keys.schedules(tenant, job)).await?;
        let mut out = all
            .iter()
            .map(|(_, v)| from_json::<Schedule>(v))
            .collect::<Result<Vec<_>>>()?;
        out.sort_by(|a, b| {
            a.created_at
                .cmp(&b.created_at)
                .then_with(|| a.schedule_id.cmp(&b.schedule_id))
        });
        Ok(out)
    }

    pub async fn schedule(
        &self,
        tenant: &str,
        job: u64,
        schedule: &str,
    ) -> Result<Option<Schedule>> {
        let stored = self.schedule_stored(tenant, job, schedule).await?;
        Ok(stored.map(|s| s.schedule))
    }

    /// Jobs and schedules of many due entries `(tenant, job, schedule)` in one pipeline, each
    /// job read once. `None` where either is gone.
    pub async fn due_definitions(
        &self,
        entries: &[(&str, u64, &str)],
    ) -> Result<Vec<Option<(Arc<Job>, Schedule)>>> {
        let mut jobs: Vec<(&str, u64)> = entries.iter().map(|(t, j, _)| (*t, *j)).collect();
        jobs.sort_unstable();
        jobs.dedup();
        let job_keys: Vec<String> = jobs.iter().map(|(t, j)| self.keys.job(t, *j)).collect();
        let defs = self
            .hget_each(job_keys.iter().map(|k| (k.as_str(), DEF)))
            .await?;
        let schedule_keys: Vec<String> = entries
            .iter()
            .map(|(t, j, _)| self.keys.schedules(t, *j))
            .collect();
        let schedule_defs = self
            .hget_each(
                schedule_keys
                    .iter()
                    .zip(entries)
                    .map(|(k, e)| (k.as_str(), e.2)),
            )
            .await?;
        let mut parsed = std::collections::HashMap::with_capacity(jobs.len());
        for (key, def) in jobs.into_iter().zip(defs) {
            // A definition that cannot be read counts as gone: one bad entry must not stop
            // every other fire.
            match def.map(|d| from_json::<Job>(&d)).transpose() {
                Ok(Some(job)) => {
                    parsed.insert(key, Arc::new(job));
                }
                Ok(None) => {}
                Err(e) => {
                    tracing::error!(tenant = key.0, job = key.1, error = %e, "unreadable job")
                }
            }
        }
        Ok(entries
            .iter()
            .zip(schedule_defs)
            .map(|((t, j, sid), sdef)| {
                let job = parsed.get(&(*t, *j))?;
                match from_json::<Schedule>(&sdef?) {
                    Ok(s) => Some((job.clone(), s)),
                    Err(e) => {
                        tracing::error!(tenant = t, job = j, schedule = sid, error = %e, "unreadable schedule");
                        None
                    }
                }
            })
            .collect())
    }

    /// Deactivates a finished schedule of `job` (SAP's deactivation on completion), `planned`
    /// being the version the leader planned: only while the stored version is still active
    /// and fires alike ([`chime_core::schedule::fires_alike`]); its other fields are kept as
    /// stored. The write is a compare-and-set on the stored definition read here, so a change
    /// the API makes meanwhile is never overwritten, and a deleted schedule is never written
    /// back. True when it was deactivated. A `note` (the job has a `notifications` URL) is
    /// made in the same step ([`crate::Note`]).
    pub async fn complete_schedule(
        &self,
        tenant: &str,
        job: u64,
        planned: &Schedule,
        note: Option<&crate::DeactivationNote<'_>>,
    ) -> Result<bool> {
        let Some(stored) = self
            .schedule_stored(tenant, job, &planned.schedule_id)
            .await?
        else {
            return Ok(false);
        };
        if !stored.schedule.active || !chime_core::schedule::fires_alike(&stored.schedule, planned)
        {
            return Ok(false);
        }
        self.deactivate_schedule(tenant, job, &stored, None, note)
            .await
    }

    /// A schedule as stored, `None` when it is gone.
    pub async fn schedule_stored(
        &self,
        tenant: &str,
        job: u64,
        schedule: &str,
    ) -> Result<Option<StoredSchedule>> {
        let json: Option<String> = self
            .c()
            .hget(self.keys.schedules(tenant, job), schedule)
            .await?;
        json.map(|json| {
            let schedule = from_json(&json)?;
            Ok(StoredSchedule { json, schedule })
        })
        .transpose()
    }

    /// Stores `stored` (a schedule of `job` as read) inactive, its other fields as they are,
    /// while it is still stored so (and, with `unreachable_since`, while its unreachable mark
    /// is still that instant): a compare-and-set (`schedule_deactivate.lua`). It leaves the
    /// tenant's unreachable schedules; a one-time schedule enters its inactive one-time
    /// schedules, counted from now. A `note` is made in the same step. True when deactivated.
    pub(crate) async fn deactivate_schedule(
        &self,
        tenant: &str,
        job: u64,
        stored: &StoredSchedule,
        unreachable_since: Option<i64>,
        note: Option<&crate::DeactivationNote<'_>>,
    ) -> Result<bool> {
        let mut now = stored.schedule.clone();
        now.active = false;
        let sid = &now.schedule_id;
        let one_time = now.kind == ScheduleKind::OneTime;
        let mut inv = SCHEDULE_DEACTIVATE.prepare_invoke();
        inv.key(self.keys.schedules(tenant, job))
            .arg(sid)
            .arg(&stored.json)
            .arg(to_json(&now))
            .arg(Keys::schedule_member(job, sid))
            .arg(unreachable_since.map(|m| m.to_string()).unwrap_or_default())
            .arg(if one_time { "1" } else { "" });
        let ms = chrono::Utc::now().timestamp_millis();
        self.deactivation_note_args(&mut inv, tenant, job, sid, ms, note);
        inv.key(self.keys.unreachable(tenant))
            .key(self.keys.one_time_expiry(tenant));
        let replaced: i64 = inv.invoke_async(&mut self.c()).await?;
        Ok(replaced == 1)
    }

    /// The job a schedule of the tenant belongs to.
    pub async fn job_of_schedule(&self, tenant: &str, schedule: &str) -> Result<Option<u64>> {
        Ok(self
            .c()
            .hget(self.keys.schedule_jobs(tenant), schedule)
            .await?)
    }

    pub async fn delete_schedule(&self, tenant: &str, job: u64, schedule: &str) -> Result<bool> {
        let member = Keys::schedule_member(job, schedule);
        let (n, _): (u64, u64) = redis::pipe()
            .atomic()
            .hdel(self.keys.schedules(tenant, job), schedule)
            .hdel(self.keys.schedule_jobs(tenant), schedule)
            .zrem(self.keys.unreachable(tenant), &member)
            .ignore()
            .zrem(self.keys.one_time_expiry(tenant), &member)
            .ignore()
            .query_async(&mut self.c())
            .await?;
        Ok(n > 0)
    }

    /// Deletes a job and everything under it. Due entries must be removed first by the caller.
    pub async fn delete_job(&self, tenant: &str, job: &Job) -> Result<bool> {
        let k = &self.keys;
        let mut inv = JOB_DELETE.prepare_invoke();
        inv.key(k.job(tenant, job.id))
            .key(k.schedules(tenant, job.id))
            .key(k.job_runs(tenant, job.id))
            .key(k.jobs(tenant))
            .key(k.job_names(tenant))
            .key(k.tenant_runs(tenant))
            .key(k.job_done(tenant, job.id))
            .key(k.schedule_jobs(tenant))
            .key(k.job_tails(tenant, job.id))
            .key(k.live(tenant))
            .key(k.async_runs(tenant))
            .key(k.unreachable(tenant))
            .key(k.one_time_expiry(tenant));
        for o in OUTCOMES {
            inv.key(k.tenant_outcome_runs(tenant, o));
        }
        inv.arg(job.id).arg(&job.name);
        template_args(
            &mut inv,
            [
                k.run_template(tenant),
                k.run_log_template(tenant),
                k.schedule_runs_template(tenant),
                k.schedule_events_template(tenant),
            ],
        );
        inv.arg(k.run_ids_template(tenant).prefix)
            .arg(k.job_builds_template(tenant).key(job.id))
            .arg(k.job_positions(tenant, job.id));
        for o in OUTCOMES {
            inv.arg(k.job_outcome(tenant, job.id, o));
        }
        let r: i64 = inv.invoke_async(&mut self.c()).await?;
        Ok(r == 1)
    }
}
