//! Writes that change what fires, atomic with their intent for the due index.
//!
//! The due index lives in the scheduler's slots, a job in its tenant's: on a Redis Cluster no
//! one step can write both. So a write stores the job, its name and its schedules together with
//! a **replan marker** per schedule whose next fire it decides (`job_write.lua`), then puts those
//! next fires in the due index and clears the markers (`replan_done.lua`). A writer that dies in
//! between leaves its markers, and the leader's repair sweep ([`Store::stale_replans`]) finishes
//! the write: a stored job never lacks the due entries its write meant to give it, and a name
//! is never held without its job.

use crate::{to_json, Result, Store, StoreError};
use chime_core::model::{Job, Schedule, ScheduleKind};
use redis::Script;
use std::sync::LazyLock;

static JOB_WRITE: LazyLock<Script> = crate::script!("job_write.lua");
static REPLAN_DONE: LazyLock<Script> = crate::script!("replan_done.lua");
static NAME_RELEASE: LazyLock<Script> = crate::script!("name_release.lua");

/// One schedule of a [`JobWrite`].
#[derive(Clone, Copy, Debug)]
pub struct ScheduleWrite<'a> {
    pub schedule_id: &'a str,
    /// Its definition to store; `None` leaves the stored one.
    pub def: Option<&'a Schedule>,
    /// Its next fire as the write decides it (`Some(None)`: it has none); `None`: the write
    /// does not decide it.
    pub next: Option<Option<i64>>,
}

/// A write of one job: any of its definition, its name, its schedules and their next fires.
#[derive(Clone, Debug, Default)]
pub struct JobWrite<'a> {
    pub job_id: u64,
    /// The job's definition to store; `None` leaves the stored one.
    pub job: Option<&'a Job>,
    /// A name to claim for the job: the write is refused if another job holds it.
    pub claim: Option<&'a str>,
    /// A name to release (only while it names this job).
    pub release: Option<&'a str>,
    pub schedules: Vec<ScheduleWrite<'a>>,
}

/// The limits on a tenant's jobs and schedules a [`JobWrite`] is checked against (0: none;
/// a tenant's own, set with [`Store::set_tenant_limit`], override them).
#[derive(Clone, Copy, Debug, Default)]
pub struct WriteLimits {
    pub max_jobs: u64,
    pub max_schedules: u64,
}

/// What a [`JobWrite`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Written {
    /// Written, with the due-index changes it decided.
    Done(Vec<Replan>),
    /// Not written: its name names another job.
    NameTaken,
    /// Not written: it would give the tenant more jobs than its limit.
    TooManyJobs(u64),
    /// Not written: it would give the tenant more schedules than its limit.
    TooManySchedules(u64),
    /// Not written: the tenant is being deleted.
    TenantDeleted,
}

/// A due-index change a write decided and did not confirm yet: a schedule's next fire.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Replan {
    pub job: u64,
    pub schedule: String,
    pub next: Option<i64>,
    /// The marker's value, which its clearing compares.
    value: String,
    /// When the marker was written (ms).
    pub written_at: i64,
}

impl Replan {
    fn field(&self) -> String {
        crate::keys::Keys::schedule_member(self.job, &self.schedule)
    }

    /// The marker of `field` holding `value`; `None` if either is malformed.
    fn parse(field: &str, value: &str) -> Option<Replan> {
        let (job, schedule) = field.split_once('|')?;
        let (next, at) = value.split_once('|')?;
        Some(Replan {
            job: job.parse().ok()?,
            schedule: schedule.to_string(),
            next: if next.is_empty() {
                None
            } else {
                Some(next.parse().ok()?)
            },
            value: value.to_string(),
            written_at: at.parse().ok()?,
        })
    }
}

/// What a schedule written is to the tenant's index of inactive one-time schedules (the
/// leader removes those not run for long, `Keys::one_time_expiry`): `+` an inactive one-time
/// schedule, counted from the write; `-` an active one, out of it; empty for anything else.
fn one_time_mark(def: Option<&Schedule>) -> &'static str {
    match def {
        Some(s) if s.kind == ScheduleKind::OneTime && s.active => "-",
        Some(s) if s.kind == ScheduleKind::OneTime => "+",
        _ => "",
    }
}

impl Store {
    /// Writes `w` of `tenant` at `now` (ms) with a replan marker for each schedule whose next
    /// fire it decides, in one step. `None` when the name to claim names another job (nothing
    /// is written); else the markers, for [`Store::apply_replans`].
    pub async fn write_job(
        &self,
        tenant: &str,
        w: &JobWrite<'_>,
        limits: WriteLimits,
        now: i64,
    ) -> Result<Written> {
        let k = &self.keys;
        let mut inv = JOB_WRITE.prepare_invoke();
        inv.key(k.job_names(tenant))
            .key(k.job(tenant, w.job_id))
            .key(k.jobs(tenant))
            .key(k.schedules(tenant, w.job_id))
            .key(k.schedule_jobs(tenant))
            .key(k.replan(tenant))
            .key(k.tenant(tenant))
            .key(k.one_time_expiry(tenant));
        inv.arg(w.job_id)
            .arg(w.job.map(to_json).unwrap_or_default())
            .arg(w.claim.unwrap_or_default())
            .arg(w.release.unwrap_or_default())
            .arg(now)
            .arg(limits.max_jobs)
            .arg(limits.max_schedules);
        let mut replans = Vec::new();
        for s in &w.schedules {
            let next = match s.next {
                None => "-".to_string(),
                Some(None) => String::new(),
                Some(Some(at)) => at.to_string(),
            };
            inv.arg(s.schedule_id)
                .arg(s.def.map(to_json).unwrap_or_default())
                .arg(&next)
                .arg(one_time_mark(s.def));
            if let Some(n) = s.next {
                replans.push(Replan {
                    job: w.job_id,
                    schedule: s.schedule_id.to_string(),
                    next: n,
                    value: format!("{next}|{now}"),
                    written_at: now,
                });
            }
        }
        let answer: Vec<i64> = inv.invoke_async(&mut self.c()).await?;
        let limit = answer.get(1).map_or(0, |n| u64::try_from(*n).unwrap_or(0));
        Ok(match answer.first() {
            Some(1) => Written::Done(replans),
            Some(0) => Written::NameTaken,
            Some(-1) => Written::TooManyJobs(limit),
            Some(-2) => Written::TooManySchedules(limit),
            Some(-3) => Written::TenantDeleted,
            _ => {
                return Err(StoreError::Corrupt(format!(
                    "the job write script answered {answer:?}"
                )))
            }
        })
    }

    /// Puts each replan's next fire in the due index, then clears the markers that still hold
    /// what `replans` read (a newer write's marker stays). Returns the markers cleared.
    pub async fn apply_replans(&self, tenant: &str, replans: &[Replan]) -> Result<usize> {
        if replans.is_empty() {
            return Ok(0);
        }
        for r in replans {
            self.set_due(tenant, r.job, &r.schedule, r.next).await?;
        }
        let mut inv = REPLAN_DONE.prepare_invoke();
        inv.key(self.keys.replan(tenant));
        for r in replans {
            inv.arg(r.field()).arg(&r.value);
        }
        let cleared: usize = inv.invoke_async(&mut self.c()).await?;
        Ok(cleared)
    }

    /// The tenant's replan markers written at or before `written_by` (ms): writes whose
    /// writer has had time to finish them, and did not. A malformed marker is dropped.
    pub async fn stale_replans(&self, tenant: &str, written_by: i64) -> Result<Vec<Replan>> {
        let all: Vec<(String, String)> = redis::cmd("HGETALL")
            .arg(self.keys.replan(tenant))
            .query_async(&mut self.c())
            .await?;
        let mut out = Vec::new();
        for (field, value) in all {
            match Replan::parse(&field, &value) {
                Some(r) if r.written_at <= written_by => out.push(r),
                Some(_) => {}
                None => {
                    tracing::warn!(tenant, field, value, "malformed replan marker dropped");
                    let _: () = redis::cmd("HDEL")
                        .arg(self.keys.replan(tenant))
                        .arg(&field)
                        .query_async(&mut self.c())
                        .await?;
                }
            }
        }
        Ok(out)
    }

    /// Names of the tenant that name no stored job (a crash of an older version between
    /// claiming a name and writing its job): each released while it still names that id.
    /// Returns the names released.
    pub async fn release_orphan_names(&self, tenant: &str) -> Result<Vec<String>> {
        let names: Vec<(String, u64)> = redis::cmd("HGETALL")
            .arg(self.keys.job_names(tenant))
            .query_async(&mut self.c())
            .await?;
        if names.is_empty() {
            return Ok(vec![]);
        }
        let mut pipe = redis::pipe();
        for (_, id) in &names {
            pipe.exists(self.keys.job(tenant, *id));
        }
        let exists: Vec<bool> = pipe.query_async(&mut self.c()).await?;
        let mut released = Vec::new();
        for ((name, id), exists) in names.into_iter().zip(exists) {
            if exists {
                continue;
            }
            let mut inv = NAME_RELEASE.prepare_invoke();
            inv.key(self.keys.job_names(tenant))
                .key(self.keys.job(tenant, id))
                .arg(&name)
                .arg(id);
            let n: i64 = inv.invoke_async(&mut self.c()).await?;
            if n == 1 {
                released.push(name);
            }
        }
        Ok(released)
    }
}

#[cfg(test)]
mod tests {
    use super::Replan;

    #[test]
    fn a_marker_reads_back_its_schedule_next_fire_and_age() {
        let r = Replan::parse("12|abc", "1700000000000|1699999990000").unwrap();
        assert_eq!((r.job, r.schedule.as_str()), (12, "abc"));
        assert_eq!(r.next, Some(1_700_000_000_000));
        assert_eq!(r.written_at, 1_699_999_990_000);
        assert_eq!(r.field(), "12|abc");
        let none = Replan::parse("3|s", "|5").unwrap();
        assert_eq!(none.next, None);
        for bad in [
            ("x|s", "1|2"),
            ("3", "1|2"),
            ("3|s", "1"),
            ("3|s", "a|2"),
            ("3|s", "1|b"),
        ] {
            assert!(Replan::parse(bad.0, bad.1).is_none(), "{bad:?}");
        }
    }
}
