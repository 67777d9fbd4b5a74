//! What the dialects share: looking up a job by a path's id and the retention floor.

use crate::error::ApiError;
use crate::state::AppState;
use chime_core::model::Job;

/// The tenant's job of the path's id (`None` when the id is not a number or not a job).
pub async fn job_of(s: &AppState, tenant: &str, raw: &str) -> Result<Option<Job>, ApiError> {
    match raw.parse::<u64>() {
        Ok(id) => Ok(s.store.job(tenant, id).await?),
        Err(_) => Ok(None),
    }
}

/// The oldest instant a query may show: now minus the tenant's retention.
pub async fn retention_floor(s: &AppState, tenant: &str) -> Result<i64, ApiError> {
    let now = s.store.now_ms().await?;
    let keep = s.store.tenant_retention(tenant).await? as i64;
    Ok((now - keep).max(0))
}
