//! Reading the job and the schedule a path names, with the SAP routes' 404s.

use crate::auth::Tenant;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use chime_core::model::{Job, Schedule};

/// A job id from the path; 404 when it is not a number (no such job).
pub fn job_id(raw: &str) -> ApiResult<u64> {
    raw.parse::<u64>()
        .map_err(|_| ApiError::NotFound(format!("job {raw} does not exist")))
}

/// The tenant's job of the path's id.
pub async fn load_job(s: &AppState, tenant: &Tenant, raw: &str) -> ApiResult<Job> {
    let id = job_id(raw)?;
    s.store
        .job(&tenant.id, id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("job {raw} does not exist")))
}

/// A schedule of `job`.
pub async fn load_schedule(
    s: &AppState,
    tenant: &Tenant,
    job: &Job,
    sid: &str,
) -> ApiResult<Schedule> {
    s.store
        .schedule(&tenant.id, job.id, sid)
        .await?
        .ok_or_else(|| {
            ApiError::NotFound(format!("schedule {sid} of job {} does not exist", job.id))
        })
}
