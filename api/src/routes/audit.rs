//! SAP's audit trail: `GET /scheduler/actionLogs?jobId=<id>[&scheduleId=<id>]`, newest first;
//! `jobId=0` lists the tenant-wide entries (changes of its global parameters). (Entries are
//! recorded by [`crate::service`].)

use crate::auth::Tenant;
use crate::error::{ApiError, ApiResult};
use crate::lookup::{load_job, load_schedule};
use crate::query::QueryOf;
use crate::state::AppState;
use crate::wire::params::ActionLogQuery;
use crate::wire::sap::{ActionLogEntry, ActionLogList};
use axum::extract::State;
use axum::Json;
use chime_store::TENANT_WIDE;

#[utoipa::path(
    get, path = "/scheduler/actionLogs", tag = "sap", operation_id = "actionLogs",
    summary = "The audit trail of a job (or one of its schedules), newest first; `jobId=0`: the tenant-wide entries",
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
    let sched = q.scheduleId.as_deref();
    // Job 0: the tenant-wide entries (its global parameters), which name no schedule.
    let job = if raw == TENANT_WIDE.to_string() && sched.is_none() {
        TENANT_WIDE
    } else {
        let job = load_job(&s, &tenant, raw).await?;
        if let Some(sid) = sched {
            load_schedule(&s, &tenant, &job, sid).await?;
        }
        job.id
    };
    let logs = s.store.action_logs(&tenant.id, job, sched, 200).await?;
    let results: Vec<ActionLogEntry> = logs
        .iter()
        .map(|(ms, a)| ActionLogEntry::new(*ms, a))
        .collect();
    Ok(Json(ActionLogList {
        total: results.len() as u64,
        results,
    }))
}
