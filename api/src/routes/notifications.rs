//! chime's notifications of a job: `GET /scheduler/jobs/{jobId}/notifications`, the events
//! sent to its `notifications` URL and how each delivery went.

use crate::auth::Tenant;
use crate::error::ApiResult;
use crate::lookup::load_job;
use crate::state::AppState;
use crate::wire::notifications::{Delivery, NotificationList};
use axum::extract::{Path, State};
use axum::Json;

/// The notifications a job keeps.
const KEPT: usize = 100;

#[utoipa::path(
    get, path = "/scheduler/jobs/{jobId}/notifications", tag = "sap", operation_id = "jobNotifications",
    summary = "A job's notifications (its newest 100), newest first, each with its delivery",
    params(("jobId" = String, Path, description = "The job id")),
    responses(
        (status = 200, description = "The job's notifications", body = NotificationList),
        crate::error::SapErrors,
    ),
    security(("bearerKey" = []), ("basicKey" = []), ("apiKeyId" = [], "apiKeySecret" = []), ("authToken" = []))
)]
pub async fn job_notifications(
    State(s): State<AppState>,
    tenant: Tenant,
    Path(raw): Path<String>,
) -> ApiResult<Json<NotificationList>> {
    tenant.require("read")?;
    let job = load_job(&s, &tenant, &raw).await?;
    let notes = s.store.job_notes(&tenant.id, job.id, KEPT).await?;
    let results: Vec<Delivery> = notes.iter().map(Delivery::of).collect();
    Ok(Json(NotificationList {
        job_id: job.id,
        total: results.len(),
        results,
    }))
}
