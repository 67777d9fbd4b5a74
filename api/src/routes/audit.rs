//! SAP's audit trail: `GET /scheduler/actionLogs?jobId=<id>[&scheduleId=<id>]`, newest first.
//! (Entries are recorded by [`crate::service`].)

use crate::auth::Tenant;
use crate::error::{ApiError, ApiResult};
use crate::lookup::{load_job, load_schedule};
use crate::query::QueryOf;
use crate::state::AppState;
use crate::wire::params::ActionLogQuery;
use crate::wire::sap::{ActionLogEntry, ActionLogList};
use axum::extract::State;
use axum::Json;

#[utoipa::path(
    get, path = "/scheduler/actionLogs", tag = "sap", operation_id = "actionLogs",
    summary = "The audit trail of a job (or one of its schedules), newest first",
    params(ActionLogQuery),
    responses(
        (status = 200, description = "The audit trail", body = ActionLogList),
        crate::error::SapErrors,
    ),
    security(("bearerKey" = []), ("basicKey" = []), ("apiKeyId" = [], "apiKeySecret" = []), ("authToken" = []))
)]
pub async fn action_logs(
    State(s): State<AppState>,
    tenant: Tenant,
    QueryOf(q): QueryOf<ActionLogQuery>,
) -> ApiResult<Json<ActionLogList>> {
    tenant.require("read")?;
    let raw = q.jobId.as_deref().ok_or_else(|| {
        ApiError::BadRequest("Error while fetching action logs: 'jobId' is required".into())
    })?;
    let job = load_job(&s, &tenant, raw).await?;
    let sched = q.scheduleId.as_deref();
    if let Some(sid) = sched {
        load_schedule(&s, &tenant, &job, sid).await?;
    }
    let logs = s.store.action_logs(&tenant.id, job.id, sched, 200).await?;
    let results: Vec<ActionLogEntry> = logs
        .iter()
        .map(|(ms, a)| ActionLogEntry::new(*ms, a))
        .collect();
    Ok(Json(ActionLogList {
        total: results.len() as u64,
        results,
    }))
}
