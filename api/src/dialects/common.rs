//! What the dialects share: reading a request's path and query so that even a request axum
//! cannot decode is answered in the dialect's error shape, looking up a job by a path's id,
//! and the retention floor.

use crate::error::ApiError;
use crate::query::{Params, Q};
use crate::state::AppState;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::Path;
use chime_core::model::Job;

/// A dialect's path parameters, or a 400 (in the dialect's shape) when the path cannot be
/// decoded (a percent-encoded byte that is not UTF-8, say).
pub fn path_of<T>(p: Result<Path<T>, PathRejection>) -> Result<T, ApiError> {
    p.map(|Path(v)| v)
        .map_err(|e| ApiError::BadRequest(format!("invalid path: {}", e.body_text())))
}

/// A dialect's query string as a map, or a 400 (in the dialect's shape) when it cannot be
/// decoded.
pub fn params_of(q: Result<Q, QueryRejection>) -> Result<Params, ApiError> {
    q.map(|q| q.0)
        .map_err(|e| ApiError::BadRequest(format!("invalid query string: {}", e.body_text())))
}

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
