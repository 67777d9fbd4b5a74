//! The API's writes that change what fires: creating, changing and deleting jobs and
//! schedules, (de)activating them, and requesting a run now; and the tenant's global
//! parameter (`ASYNC_EXEC_TIMEOUT`). This module is the only code of the API that writes
//! the due index (and the only one that reads it, for `nextRunAt`); each write also records
//! its entry in the tenant's audit trail. Handlers parse and validate, call here, and shape
//! the answer.
//!
//! A schedule is planned in its job's window ([`Plan::for_job`]): no fire before the job's
//! `startTime` nor after its `endTime`. An active schedule written with no instant left to
//! fire at (its end or its job's has passed, its cron has no future instant, a one-time
//! schedule's time and end have passed) is finished: it is stored inactive, and
//! `DEACTIVATION_ON_COMPLETION` goes to the audit trail, as when the leader completes one.

use crate::auth::Tenant;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use chime_core::model::{Job, Schedule};
use chime_core::schedule::{completion_message, Plan};
use chime_core::time::{format_instant, to_dt};
use chime_store::{
    ActionLog, JobWrite, ScheduleWrite, WriteLimits, Written, DEACTIVATION_ON_COMPLETION,
    SERVICE_ACTOR, TENANT_WIDE,
};
use chrono::{DateTime, Utc};

/// A schedule with its next fire (ms), as the due index holds it.
pub type Planned = (Schedule, Option<i64>);

/// Redis's clock, the one every replica decides "due" against: in ms and as a date.
pub async fn now(s: &AppState) -> ApiResult<(i64, DateTime<Utc>)> {
    let ms = s.store.now_ms().await?;
    Ok((ms, to_dt(ms)))
}

/// A schedule's next fire, if it is in the due index.
pub async fn next_run(s: &AppState, tenant: &str, job: u64, sid: &str) -> ApiResult<Option<i64>> {
    Ok(s.store.due_of(tenant, job, sid).await?)
}

/// A job's schedules with their next fires.
pub async fn schedules(s: &AppState, tenant: &str, job: u64) -> ApiResult<Vec<Planned>> {
    let mut out = Vec::new();
    for sc in s.store.schedules(tenant, job).await? {
        let next = next_run(s, tenant, job, &sc.schedule_id).await?;
        out.push((sc, next));
    }
    Ok(out)
}

/// Seals the secret header values of a job about to be written (`***` keeps `old`'s value,
/// sealed again under the current key if an older one sealed it and it opens), and keeps
/// `old`'s URL when the URL sent is the masked one a read showed.
pub fn seal_secrets(
    s: &AppState,
    tenant: &str,
    job: &mut Job,
    old: Option<&Job>,
    ctx: &str,
) -> ApiResult<()> {
    use chime_core::secrets::{mask_userinfo, place, MASK};
    if let Some(old) = old {
        if job.action != old.action && job.action == mask_userinfo(&old.action) {
            job.action = old.action.clone();
        }
    }
    let ring = &s.secrets;
    let no_key = || {
        ApiError::BadRequest(format!(
            "{ctx}: 'secretHeaders' need a secret key: set CHIME_SECRET_KEYS on the API and the workers"
        ))
    };
    let mut sealed = std::collections::BTreeMap::new();
    for (name, value) in std::mem::take(&mut job.secret_headers) {
        let here = place(tenant, job.id, &name);
        let stored = old.and_then(|o| {
            o.secret_headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(&name))
                .map(|(_, v)| v)
        });
        let value = match (value.as_str(), stored) {
            (MASK, Some(v)) if ring.is_current(v) => v.clone(),
            // Sealed under an older key: sealed again under the current one when it opens,
            // else kept as it is (the workers may still hold its key).
            (MASK, Some(v)) => ring
                .open(&here, v)
                .and_then(|plain| ring.seal(&here, &plain))
                .unwrap_or_else(|_| v.clone()),
            (MASK, None) => {
                return Err(ApiError::BadRequest(format!(
                "{ctx}: 'secretHeaders.{name}': '***' keeps a stored value, and the job has none"
            )))
            }
            (plain, _) => ring.seal(&here, plain).map_err(|_| no_key())?,
        };
        sealed.insert(name, value);
    }
    job.secret_headers = sealed;
    Ok(())
}

/// The conflict of a job name the tenant already has.
pub fn name_taken(ctx: &str, name: &str) -> ApiError {
    ApiError::Conflict(format!("{ctx}: a job named '{name}' already exists"))
}

/// A new job of `req` for `tenant`: its fields, its targets and its secret headers are checked
/// before it takes an id, so a refused body leaves the tenant's job ids as they were.
pub async fn new_job(
    s: &AppState,
    tenant: &Tenant,
    req: &crate::wire::requests::JobRequest,
    now: DateTime<Utc>,
) -> ApiResult<Job> {
    let ctx = "Error while creating job";
    let mut job = crate::input::new_job(req, 0, s.settings.default_timeout_ms, now)?;
    reachable(s, &job.action, ctx)?;
    notifiable(s, &job, ctx)?;
    // A secret is sealed to its job's id: a trial under no id first, then the real one.
    seal_secrets(s, &tenant.id, &mut job.clone(), None, ctx)?;
    job.id = s.store.next_job_id(&tenant.id).await?;
    seal_secrets(s, &tenant.id, &mut job, None, ctx)?;
    Ok(job)
}

/// Stores a new job (of [`new_job`], which checked it) with its schedules and plans them. 409
/// when the name is taken.
pub async fn create_job(
    s: &AppState,
    tenant: &Tenant,
    job: Job,
    schedules: Vec<Schedule>,
    ms: i64,
) -> ApiResult<(Job, Vec<Planned>)> {
    let (planned, finished) = plan_each(&job, schedules, ms);
    let w = JobWrite {
        job_id: job.id,
        job: Some(&job),
        claim: Some(&job.name),
        release: None,
        schedules: planned.iter().map(|(sc, next)| put(sc, *next)).collect(),
    };
    if !write(s, &tenant.id, &w, ms).await? {
        return Err(name_taken("Error while creating job", &job.name));
    }
    tracing::info!(tenant = %tenant.id, job_id = job.id, schedules = planned.len(), "job created");
    let detail = format!(
        "job '{}' created with {} schedules",
        job.name,
        planned.len()
    );
    audit(s, tenant, job.id, None, "CREATE_JOB", detail).await;
    completed(s, tenant, &job, finished_of(&planned, &finished)).await;
    Ok((job, planned))
}

/// Replaces an existing job (same id and name) and all its schedules (Configure Job by name).
pub async fn replace_job(
    s: &AppState,
    tenant: &Tenant,
    job: Job,
    schedules: Vec<Schedule>,
    ms: i64,
) -> ApiResult<(Job, Vec<Planned>)> {
    reachable(s, &job.action, "Error while updating job")?;
    notifiable(s, &job, "Error while updating job")?;
    drop_schedules(s, &tenant.id, job.id).await?;
    let (planned, finished) = plan_each(&job, schedules, ms);
    let w = JobWrite {
        job_id: job.id,
        job: Some(&job),
        schedules: planned.iter().map(|(sc, next)| put(sc, *next)).collect(),
        ..JobWrite::default()
    };
    write(s, &tenant.id, &w, ms).await?;
    let detail = format!("job '{}' replaced by name", job.name);
    audit(s, tenant, job.id, None, "UPDATE_JOB", detail).await;
    completed(s, tenant, &job, finished_of(&planned, &finished)).await;
    Ok((job, planned))
}

/// Stores a changed job (`fields`: the body's fields, for the audit trail); a new name is
/// claimed in the same step (409 when taken), and the schedules are planned again when the
/// job's activity, start or end changed (those left with no instant are finished).
pub async fn update_job(
    s: &AppState,
    tenant: &Tenant,
    old: &Job,
    job: &Job,
    fields: &[&str],
    ms: i64,
) -> ApiResult<()> {
    if job.action != old.action {
        reachable(s, &job.action, "Error while updating job")?;
    }
    if job.notifications != old.notifications {
        notifiable(s, job, "Error while updating job")?;
    }
    let renamed = job.name != old.name;
    let replan = job.active != old.active
        || job.start_time != old.start_time
        || job.end_time != old.end_time;
    let schedules = if replan {
        s.store.schedules(&tenant.id, job.id).await?
    } else {
        vec![]
    };
    let (planned, finished) = plan_each(job, schedules, ms);
    let w = JobWrite {
        job_id: job.id,
        job: Some(job),
        claim: renamed.then_some(job.name.as_str()),
        release: renamed.then_some(old.name.as_str()),
        schedules: planned
            .iter()
            .map(|(sc, next)| ScheduleWrite {
                schedule_id: &sc.schedule_id,
                // Only a finished schedule's definition changes (it is deactivated).
                def: finished.contains(&sc.schedule_id).then_some(sc),
                next: Some(*next),
            })
            .collect(),
    };
    if !write(s, &tenant.id, &w, ms).await? {
        return Err(name_taken("Error while updating job", &job.name));
    }
    let detail = format!("updated {}", fields.join(", "));
    audit(s, tenant, job.id, None, "UPDATE_JOB", detail).await;
    completed(s, tenant, job, finished_of(&planned, &finished)).await;
    Ok(())
}

/// Deletes a job with its schedules and runs: the job first, then its due entries (an entry
/// a crash leaves behind finds its job gone when it falls due and is removed).
pub async fn delete_job(s: &AppState, tenant: &Tenant, job: &Job) -> ApiResult<()> {
    remove_job(s, &tenant.id, job).await?;
    tracing::info!(tenant = %tenant.id, job_id = job.id, "job deleted");
    let detail = format!("job '{}' deleted with its runs", job.name);
    audit(s, tenant, job.id, None, "DELETE_JOB", detail).await;
    Ok(())
}

/// Deletes a job with everything under it, then its due entries.
async fn remove_job(s: &AppState, tenant: &str, job: &Job) -> ApiResult<()> {
    let schedules = s.store.schedules(tenant, job.id).await?;
    s.store.delete_job(tenant, job).await?;
    for sc in &schedules {
        s.store
            .set_due(tenant, job.id, &sc.schedule_id, None)
            .await?;
    }
    Ok(())
}

/// Deletes every job of a tenant (being deleted: no job is written meanwhile); returns how
/// many.
pub async fn delete_all_jobs(s: &AppState, tenant: &str) -> ApiResult<u64> {
    let (mut n, mut before) = (0, u64::MAX);
    loop {
        let (total, jobs) = s.store.jobs_page(tenant, 0, 100).await?;
        // An id whose job cannot be read is left to the purge of the tenant's keys.
        if jobs.is_empty() || total >= before {
            return Ok(n);
        }
        before = total;
        for job in &jobs {
            remove_job(s, tenant, job).await?;
            n += 1;
        }
    }
}

/// Stores a new schedule of `job` and plans it; returns it as stored (inactive when it has no
/// instant left) with its next fire.
pub async fn create_schedule(
    s: &AppState,
    tenant: &Tenant,
    job: &Job,
    sc: Schedule,
    ms: i64,
) -> ApiResult<Planned> {
    let (sc, next, finished) = put_schedule(s, &tenant.id, job, sc, ms).await?;
    let detail = format!("{} schedule created", sc.kind);
    let sid = Some(sc.schedule_id.as_str());
    audit(s, tenant, job.id, sid, "CREATE_SCHEDULE", detail).await;
    if finished {
        completed(s, tenant, job, [&sc]).await;
    }
    Ok((sc, next))
}

/// Stores a changed schedule (`fields`: the body's fields) and plans it again; returns it as
/// stored (inactive when it has no instant left) with its next fire.
pub async fn update_schedule(
    s: &AppState,
    tenant: &Tenant,
    job: &Job,
    sc: Schedule,
    fields: &[&str],
    ms: i64,
) -> ApiResult<Planned> {
    let (sc, next, finished) = put_schedule(s, &tenant.id, job, sc, ms).await?;
    let detail = format!("updated {}", fields.join(", "));
    let sid = Some(sc.schedule_id.as_str());
    audit(s, tenant, job.id, sid, "UPDATE_SCHEDULE", detail).await;
    if finished {
        completed(s, tenant, job, [&sc]).await;
    }
    Ok((sc, next))
}

/// Deletes one schedule of `job`: the schedule first, then its due entry.
pub async fn delete_schedule(s: &AppState, tenant: &Tenant, job: &Job, sid: &str) -> ApiResult<()> {
    s.store.delete_schedule(&tenant.id, job.id, sid).await?;
    s.store.set_due(&tenant.id, job.id, sid, None).await?;
    let detail = "schedule deleted".to_string();
    audit(s, tenant, job.id, Some(sid), "DELETE_SCHEDULE", detail).await;
    Ok(())
}

/// Deletes every schedule of `job`.
pub async fn delete_schedules(s: &AppState, tenant: &Tenant, job: &Job) -> ApiResult<()> {
    drop_schedules(s, &tenant.id, job.id).await?;
    let detail = "all schedules deleted".to_string();
    audit(s, tenant, job.id, None, "DELETE_ALL_SCHEDULES", detail).await;
    Ok(())
}

/// Activates or deactivates every schedule of `job`, in one step with their next fires.
pub async fn set_activation(
    s: &AppState,
    tenant: &Tenant,
    job: &Job,
    active: bool,
    ms: i64,
) -> ApiResult<()> {
    let mut schedules = s.store.schedules(&tenant.id, job.id).await?;
    for sc in &mut schedules {
        sc.active = active;
        sc.modified_at = format_instant(ms);
    }
    let (planned, finished) = plan_each(job, schedules, ms);
    let w = JobWrite {
        job_id: job.id,
        schedules: planned.iter().map(|(sc, next)| put(sc, *next)).collect(),
        ..JobWrite::default()
    };
    write(s, &tenant.id, &w, ms).await?;
    let (action, detail) = if active {
        ("ACTIVATE_ALL_SCHEDULES", "all schedules activated")
    } else {
        ("DEACTIVATE_ALL_SCHEDULES", "all schedules deactivated")
    };
    audit(s, tenant, job.id, None, action, detail.to_string()).await;
    completed(s, tenant, job, finished_of(&planned, &finished)).await;
    Ok(())
}

/// Sets the tenant's `ASYNC_EXEC_TIMEOUT` (SAP's Update Global Parameters; `secs` checked by
/// the caller) and records `UPDATE_GLOBAL_PARAMETERS` in its audit trail, tenant-wide. The
/// leader's deadline reads the value when it looks, so it applies to runs already waiting.
pub async fn set_async_timeout(s: &AppState, tenant: &Tenant, secs: u64) -> ApiResult<()> {
    let before = s.store.tenant_async_timeout(&tenant.id).await?;
    s.store.set_tenant_async_timeout(&tenant.id, secs).await?;
    let detail = format!("ASYNC_EXEC_TIMEOUT set to {secs} s (was {before} s)");
    audit(
        s,
        tenant,
        TENANT_WIDE,
        None,
        "UPDATE_GLOBAL_PARAMETERS",
        detail,
    )
    .await;
    Ok(())
}

/// Requests a manual fire ("run now") of schedule `sid` of `job`, at `ms` (Redis's clock): a
/// due entry of its own carrying a fresh run id (a random UUID, so it never collides with a
/// scheduled run's), which the leader fires through its passes like any due entry (quota,
/// backpressure, the tenant's cap of runs in flight, once per run id) and then removes.
/// Nothing is published from here. Returns the run id.
pub async fn run_now(
    s: &AppState,
    tenant: &Tenant,
    job: &Job,
    sid: &str,
    ms: i64,
) -> ApiResult<String> {
    let run = chime_core::model::manual_run_id(uuid::Uuid::new_v4().as_u128());
    s.store
        .request_run_now(&tenant.id, job.id, sid, &run, &tenant.key_id, ms)
        .await?;
    tracing::info!(tenant = %tenant.id, job_id = job.id, schedule_id = %sid, run_id = %run, "run requested now");
    let detail = format!("run {run} requested now");
    audit(s, tenant, job.id, Some(sid), "RUN_NOW", detail).await;
    Ok(run)
}

/// A schedule's next fire from `now`, as the due index should hold it: none when the job or
/// the schedule is inactive, or the schedule will not fire again. The job's window bounds it.
pub fn next_fire(job: &Job, sc: &Schedule, now: i64) -> Option<i64> {
    if job.active && sc.active {
        Plan::for_job(job, sc).ok().and_then(|p| p.first(now))
    } else {
        None
    }
}

/// Whether an active schedule of `job` has no instant left to fire at from `now` (whatever
/// the job's activity): it is finished, and is stored inactive.
pub fn is_finished(job: &Job, sc: &Schedule, now: i64) -> bool {
    sc.active
        && Plan::for_job(job, sc)
            .ok()
            .is_some_and(|p| p.first(now).is_none())
}

/// Plans a schedule of `job` from `ms`: itself as it is to be stored (deactivated when it is
/// finished), its next fire, and whether it was finished.
fn plan_one(job: &Job, mut sc: Schedule, ms: i64) -> (Schedule, Option<i64>, bool) {
    let finished = is_finished(job, &sc, ms);
    if finished {
        sc.active = false;
    }
    let next = next_fire(job, &sc, ms);
    (sc, next, finished)
}

/// Each schedule with its next fire from `ms`, and the ids of those finished (deactivated).
fn plan_each(job: &Job, schedules: Vec<Schedule>, ms: i64) -> (Vec<Planned>, Vec<String>) {
    let mut finished = Vec::new();
    let planned = schedules
        .into_iter()
        .map(|sc| {
            let (sc, next, done) = plan_one(job, sc, ms);
            if done {
                finished.push(sc.schedule_id.clone());
            }
            (sc, next)
        })
        .collect();
    (planned, finished)
}

/// A schedule to store with its next fire.
fn put(sc: &Schedule, next: Option<i64>) -> ScheduleWrite<'_> {
    ScheduleWrite {
        schedule_id: &sc.schedule_id,
        def: Some(sc),
        next: Some(next),
    }
}

/// Stores one schedule of `job` with its next fire; returns it as stored, its next fire and
/// whether it was finished.
async fn put_schedule(
    s: &AppState,
    tenant: &str,
    job: &Job,
    sc: Schedule,
    ms: i64,
) -> ApiResult<(Schedule, Option<i64>, bool)> {
    let (sc, next, finished) = plan_one(job, sc, ms);
    let w = JobWrite {
        job_id: job.id,
        schedules: vec![put(&sc, next)],
        ..JobWrite::default()
    };
    write(s, tenant, &w, ms).await?;
    Ok((sc, next, finished))
}

/// Makes a write with its replan markers, then the due-index changes it decided (a crash in
/// between leaves the markers to the leader's repair sweep). False when its name is taken.
/// Refuses (400, naming `action`) a job URL whose host is a literal address the SSRF guard
/// blocks: it would fail on every fire. Host names are checked when a worker resolves them.
fn reachable(s: &AppState, url: &str, ctx: &str) -> ApiResult<()> {
    guarded(s, url, "action", ctx)
}

/// The address check of `reachable` for the URL of field `field`.
fn guarded(s: &AppState, url: &str, field: &str, ctx: &str) -> ApiResult<()> {
    let Ok(parsed) = url::Url::parse(url.trim()) else {
        return Ok(()); // the input checks have answered this already
    };
    s.targets
        .check_url(&parsed)
        .map_err(|e| ApiError::BadRequest(format!("{ctx}: '{field}' cannot be called: {e}")))
}

/// Refuses (400, naming `notifications`) a notifications URL whose host is a literal address
/// the SSRF guard blocks.
fn notifiable(s: &AppState, job: &Job, ctx: &str) -> ApiResult<()> {
    match job.notifications.as_deref() {
        Some(url) => guarded(s, url, "notifications", ctx),
        None => Ok(()),
    }
}

/// A write that would take the tenant beyond its limit of jobs or schedules is refused with
/// 403, naming the limit.
async fn write(s: &AppState, tenant: &str, w: &JobWrite<'_>, ms: i64) -> ApiResult<bool> {
    let limits = WriteLimits {
        max_jobs: s.settings.tenant_max_jobs,
        max_schedules: s.settings.tenant_max_schedules,
    };
    // A schedule the write stops: an instant of it already due and not fired yet is never
    // fired (the write removes its entry), so it is idle from that instant on, for `fires`.
    let mut firing: Vec<(&str, bool, i64)> = Vec::new();
    for sw in &w.schedules {
        match sw.next {
            Some(Some(_)) => firing.push((sw.schedule_id, true, ms)),
            Some(None) => {
                let due = s.store.due_of(tenant, w.job_id, sw.schedule_id).await?;
                firing.push((sw.schedule_id, false, due.map_or(ms, |d| d.min(ms))));
            }
            None => {}
        }
    }
    let replans = match s.store.write_job(tenant, w, limits, ms).await? {
        Written::Done(replans) => replans,
        Written::NameTaken => return Ok(false),
        Written::TooManyJobs(n) => {
            return Err(ApiError::Forbidden(format!(
                "Quota exceeded: the tenant may have at most {n} jobs ('maxJobs')"
            )))
        }
        Written::TenantDeleted => {
            return Err(ApiError::Unauthorized("the tenant is being deleted".into()))
        }
        Written::TooManySchedules(n) => {
            return Err(ApiError::Forbidden(format!(
                "Quota exceeded: the tenant may have at most {n} schedules ('maxSchedules')"
            )))
        }
    };
    s.store.apply_replans(tenant, &replans).await?;
    // Whether each schedule fires from now on (best effort: the write is made).
    if let Err(e) = s.store.schedule_firing(tenant, &firing).await {
        tracing::warn!(error = %e, "could not mark the schedules' activity");
    }
    Ok(true)
}

/// Deletes every schedule of a job, then their due entries.
async fn drop_schedules(s: &AppState, tenant: &str, job: u64) -> ApiResult<()> {
    for sc in s.store.schedules(tenant, job).await? {
        s.store
            .delete_schedule(tenant, job, &sc.schedule_id)
            .await?;
        s.store.set_due(tenant, job, &sc.schedule_id, None).await?;
    }
    Ok(())
}

/// Records SAP's `DEACTIVATION_ON_COMPLETION` for each schedule of `job` a write found
/// finished (and stored inactive); the service is its actor.
async fn completed<'a>(
    s: &AppState,
    tenant: &Tenant,
    job: &Job,
    finished: impl IntoIterator<Item = &'a Schedule>,
) {
    for sc in finished {
        let entry = ActionLog {
            job_id: job.id,
            schedule_id: Some(sc.schedule_id.clone()),
            action: DEACTIVATION_ON_COMPLETION.to_string(),
            detail: completion_message(job, sc, false),
            actor: SERVICE_ACTOR.to_string(),
        };
        if let Err(e) = s.store.record_action(&tenant.id, &entry).await {
            tracing::warn!(error = %e, "could not record the action log");
        }
    }
}

/// The schedules of `planned` whose ids are in `finished`.
fn finished_of<'a>(
    planned: &'a [Planned],
    finished: &'a [String],
) -> impl Iterator<Item = &'a Schedule> {
    planned
        .iter()
        .map(|(sc, _)| sc)
        .filter(|sc| finished.contains(&sc.schedule_id))
}

/// Records a configuration change in the tenant's audit trail (best effort: a failure is
/// logged, the change itself has been made).
async fn audit(
    s: &AppState,
    tenant: &Tenant,
    job: u64,
    schedule: Option<&str>,
    action: &str,
    detail: String,
) {
    let entry = ActionLog {
        job_id: job,
        schedule_id: schedule.map(String::from),
        action: action.to_string(),
        detail,
        actor: tenant.key_id.clone(),
    };
    if let Err(e) = s.store.record_action(&tenant.id, &entry).await {
        tracing::warn!(error = %e, "could not record the action log");
    }
}

#[cfg(test)]
mod tests {
    /// Every `.rs` file under `dir`.
    fn sources(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                sources(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }

    #[test]
    fn only_the_service_touches_the_due_index() {
        let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut files = Vec::new();
        sources(&src, &mut files);
        assert!(files.len() > 10, "{files:?}");
        for file in files {
            if file.ends_with("service.rs") {
                continue;
            }
            let text = std::fs::read_to_string(&file).unwrap();
            for needle in [".set_due(", ".due_of(", ".request_run_now("] {
                assert!(
                    !text.contains(needle),
                    "{} names {needle}: the due index is service.rs's",
                    file.display()
                );
            }
        }
    }
}
