//! The API's writes that change what fires: creating, changing and deleting jobs and
//! schedules, and (de)activating them. This module is the only code of the API that writes
//! the due index (and the only one that reads it, for `nextRunAt`); each write also records
//! its entry in the tenant's audit trail. Handlers parse and validate, call here, and shape
//! the answer.

use crate::auth::Tenant;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use chime_core::model::{Job, Schedule};
use chime_core::schedule::Plan;
use chime_core::time::{format_instant, to_dt};
use chime_store::ActionLog;
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

/// Stores a new job with its schedules and plans them. 409 when the name is taken.
pub async fn create_job(
    s: &AppState,
    tenant: &Tenant,
    job: Job,
    schedules: Vec<Schedule>,
    ms: i64,
) -> ApiResult<(Job, Vec<Planned>)> {
    if !s
        .store
        .reserve_job_name(&tenant.id, &job.name, job.id)
        .await?
    {
        return Err(ApiError::Conflict(format!(
            "Error while creating job: a job named '{}' already exists",
            job.name
        )));
    }
    s.store.put_job(&tenant.id, &job, &schedules).await?;
    let planned = plan_all(s, &tenant.id, &job, schedules, ms).await?;
    tracing::info!(tenant = %tenant.id, job_id = job.id, schedules = planned.len(), "job created");
    let detail = format!(
        "job '{}' created with {} schedules",
        job.name,
        planned.len()
    );
    audit(s, tenant, job.id, None, "CREATE_JOB", detail).await;
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
    for sc in unschedule_all(s, &tenant.id, job.id).await? {
        s.store
            .delete_schedule(&tenant.id, job.id, &sc.schedule_id)
            .await?;
    }
    s.store.put_job(&tenant.id, &job, &schedules).await?;
    let planned = plan_all(s, &tenant.id, &job, schedules, ms).await?;
    let detail = format!("job '{}' replaced by name", job.name);
    audit(s, tenant, job.id, None, "UPDATE_JOB", detail).await;
    Ok((job, planned))
}

/// Stores a changed job (`fields`: the body's fields, for the audit trail); a new name is
/// reserved first (409 when taken), and the schedules are planned again when the job's
/// activity or end changed.
pub async fn update_job(
    s: &AppState,
    tenant: &Tenant,
    old: &Job,
    job: &Job,
    fields: &[&str],
    ms: i64,
) -> ApiResult<()> {
    if job.name != old.name {
        if !s
            .store
            .reserve_job_name(&tenant.id, &job.name, job.id)
            .await?
        {
            return Err(ApiError::Conflict(format!(
                "Error while updating job: a job named '{}' already exists",
                job.name
            )));
        }
        s.store.release_job_name(&tenant.id, &old.name).await?;
    }
    s.store.put_job(&tenant.id, job, &[]).await?;
    if job.active != old.active || job.end_time != old.end_time {
        for sc in s.store.schedules(&tenant.id, job.id).await? {
            plan(s, &tenant.id, job, &sc, ms).await?;
        }
    }
    let detail = format!("updated {}", fields.join(", "));
    audit(s, tenant, job.id, None, "UPDATE_JOB", detail).await;
    Ok(())
}

/// Deletes a job with its schedules and runs.
pub async fn delete_job(s: &AppState, tenant: &Tenant, job: &Job) -> ApiResult<()> {
    unschedule_all(s, &tenant.id, job.id).await?;
    s.store.delete_job(&tenant.id, job).await?;
    tracing::info!(tenant = %tenant.id, job_id = job.id, "job deleted");
    let detail = format!("job '{}' deleted with its runs", job.name);
    audit(s, tenant, job.id, None, "DELETE_JOB", detail).await;
    Ok(())
}

/// Stores a new schedule of `job` and plans it; returns its next fire.
pub async fn create_schedule(
    s: &AppState,
    tenant: &Tenant,
    job: &Job,
    sc: &Schedule,
    ms: i64,
) -> ApiResult<Option<i64>> {
    s.store.put_schedule(&tenant.id, job.id, sc).await?;
    let next = plan(s, &tenant.id, job, sc, ms).await?;
    let detail = format!("{} schedule created", sc.kind);
    audit(
        s,
        tenant,
        job.id,
        Some(&sc.schedule_id),
        "CREATE_SCHEDULE",
        detail,
    )
    .await;
    Ok(next)
}

/// Stores a changed schedule (`fields`: the body's fields) and plans it again; returns its
/// next fire.
pub async fn update_schedule(
    s: &AppState,
    tenant: &Tenant,
    job: &Job,
    sc: &Schedule,
    fields: &[&str],
    ms: i64,
) -> ApiResult<Option<i64>> {
    s.store.put_schedule(&tenant.id, job.id, sc).await?;
    let next = plan(s, &tenant.id, job, sc, ms).await?;
    let detail = format!("updated {}", fields.join(", "));
    audit(
        s,
        tenant,
        job.id,
        Some(&sc.schedule_id),
        "UPDATE_SCHEDULE",
        detail,
    )
    .await;
    Ok(next)
}

/// Deletes one schedule of `job`.
pub async fn delete_schedule(s: &AppState, tenant: &Tenant, job: &Job, sid: &str) -> ApiResult<()> {
    s.store.set_due(&tenant.id, job.id, sid, None).await?;
    s.store.delete_schedule(&tenant.id, job.id, sid).await?;
    let detail = "schedule deleted".to_string();
    audit(s, tenant, job.id, Some(sid), "DELETE_SCHEDULE", detail).await;
    Ok(())
}

/// Deletes every schedule of `job`.
pub async fn delete_schedules(s: &AppState, tenant: &Tenant, job: &Job) -> ApiResult<()> {
    for sc in unschedule_all(s, &tenant.id, job.id).await? {
        s.store
            .delete_schedule(&tenant.id, job.id, &sc.schedule_id)
            .await?;
    }
    let detail = "all schedules deleted".to_string();
    audit(s, tenant, job.id, None, "DELETE_ALL_SCHEDULES", detail).await;
    Ok(())
}

/// Activates or deactivates every schedule of `job`.
pub async fn set_activation(
    s: &AppState,
    tenant: &Tenant,
    job: &Job,
    active: bool,
    ms: i64,
) -> ApiResult<()> {
    for mut sc in s.store.schedules(&tenant.id, job.id).await? {
        sc.active = active;
        sc.modified_at = format_instant(ms);
        s.store.put_schedule(&tenant.id, job.id, &sc).await?;
        plan(s, &tenant.id, job, &sc, ms).await?;
    }
    let (action, detail) = if active {
        ("ACTIVATE_ALL_SCHEDULES", "all schedules activated")
    } else {
        ("DEACTIVATE_ALL_SCHEDULES", "all schedules deactivated")
    };
    audit(s, tenant, job.id, None, action, detail.to_string()).await;
    Ok(())
}

/// Plans each of a job's new schedules.
async fn plan_all(
    s: &AppState,
    tenant: &str,
    job: &Job,
    schedules: Vec<Schedule>,
    ms: i64,
) -> ApiResult<Vec<Planned>> {
    let mut out = Vec::with_capacity(schedules.len());
    for sc in schedules {
        let next = plan(s, tenant, job, &sc, ms).await?;
        out.push((sc, next));
    }
    Ok(out)
}

/// Puts a schedule's next fire in the due index (or takes it out when it will not fire).
async fn plan(
    s: &AppState,
    tenant: &str,
    job: &Job,
    sc: &Schedule,
    now: i64,
) -> ApiResult<Option<i64>> {
    let next = if job.active && sc.active {
        Plan::from_schedule(sc).ok().and_then(|p| p.first(now))
    } else {
        None
    };
    s.store
        .set_due(tenant, job.id, &sc.schedule_id, next)
        .await?;
    Ok(next)
}

/// Takes every schedule of a job out of the due index; returns the schedules.
async fn unschedule_all(s: &AppState, tenant: &str, job: u64) -> ApiResult<Vec<Schedule>> {
    let schedules = s.store.schedules(tenant, job).await?;
    for sc in &schedules {
        s.store.set_due(tenant, job, &sc.schedule_id, None).await?;
    }
    Ok(schedules)
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
            for needle in [".set_due(", ".due_of("] {
                assert!(
                    !text.contains(needle),
                    "{} names {needle}: the due index is service.rs's",
                    file.display()
                );
            }
        }
    }
}
