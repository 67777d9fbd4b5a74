//! SAP's run logs: a schedule's run log (offset or cursor pages), one run in detail, and an
//! asynchronous job's result report.

use crate::auth::Tenant;
use crate::error::{ApiError, ApiResult};
use crate::extract::JsonBody;
use crate::lookup::{job_id, load_job};
use crate::query::{run_paging, QueryOf};
use crate::service;
use crate::state::AppState;
use crate::wire::params::RunLogQuery;
use crate::wire::requests::RunUpdateRequest;
use crate::wire::sap::{RunDetail, RunLogPage, SapRunLog};
use crate::wire::{decode, Success};
use axum::extract::{Path, State};
use axum::Json;
use chime_core::model::RunRecord;
use chime_store::{Order, RunQuery, RunUpdate, Scope, StoreError};

#[utoipa::path(
    get, path = "/scheduler/jobs/{jobId}/schedules/{scheduleId}/runs", tag = "sap", operation_id = "listRuns",
    summary = "A schedule's run log, newest first",
    params(("jobId" = String, Path, description = "The job id"), ("scheduleId" = String, Path, description = "The schedule id"), RunLogQuery),
    responses(
        (status = 200, description = "A page of the run log", body = RunLogPage),
        crate::error::SapErrors,
    ),
    security(("bearerKey" = []), ("basicKey" = []), ("apiKeyId" = [], "apiKeySecret" = []), ("authToken" = []))
)]
pub async fn list_runs(
    State(s): State<AppState>,
    tenant: Tenant,
    Path((raw, sid)): Path<(String, String)>,
    QueryOf(q): QueryOf<RunLogQuery>,
) -> ApiResult<Json<RunLogPage>> {
    tenant.require("read")?;
    let (skip, size) = run_paging(q.page_size.as_deref(), q.offset.as_deref())?;
    // The job and the schedule in one round trip (the connection pipelines them).
    let id = job_id(&raw)?;
    let (job, sched) = tokio::try_join!(
        s.store.job(&tenant.id, id),
        s.store.schedule(&tenant.id, id, &sid)
    )?;
    let job = job.ok_or_else(|| ApiError::NotFound(format!("job {raw} does not exist")))?;
    sched
        .ok_or_else(|| ApiError::NotFound(format!("schedule {sid} of job {raw} does not exist")))?;
    let mut query = RunQuery::new(&tenant.id, Scope::Schedule(sid.clone()));
    query.size = size;
    let backwards = q.prev.is_some();
    match (&q.next, &q.prev) {
        (Some(_), Some(_)) => {
            return Err(ApiError::BadRequest(
                "Error while fetching run logs: give either 'next' or 'prev', not both".into(),
            ))
        }
        (Some(n), None) => query.after = Some(n.clone()),
        (None, Some(p)) => {
            query.after = Some(p.clone());
            query.order = Order::OldestFirst;
        }
        (None, None) => query.skip = skip,
    }
    let mut page = s.store.query_runs(&query).await.map_err(|e| match e {
        StoreError::UnknownCursor => ApiError::BadRequest(format!(
            "Error while fetching run logs: unknown run id '{}' in the cursor",
            query.after.as_deref().unwrap_or_default()
        )),
        e => e.into(),
    })?;
    if query.after.is_some() {
        // A cursor page still reports the whole log's total, as offset pages do.
        let mut count = query.clone();
        count.after = None;
        count.order = Order::NewestFirst;
        count.size = 0;
        page.total = s.store.query_runs(&count).await?.total;
    }
    let mut runs: Vec<&RunRecord> = page.runs.iter().map(|(_, r)| r).collect();
    if backwards {
        runs.reverse();
    }
    // Cursor links, as SAP's run log gives them: omitted when there is nothing that way.
    let base = format!(
        "/scheduler/jobs/{}/schedules/{sid}/runs?page_size={size}",
        job.id
    );
    let (older, newer) = if backwards {
        (!runs.is_empty(), page.has_more)
    } else {
        (
            page.has_more,
            !runs.is_empty() && (query.skip > 0 || query.after.is_some()),
        )
    };
    Ok(Json(RunLogPage {
        total: page.total.unwrap_or(0),
        results: runs.iter().map(|r| SapRunLog::from(*r)).collect(),
        next_url: runs
            .last()
            .filter(|_| older)
            .map(|last| format!("{base}&next={}", last.run_id)),
        prev_url: runs
            .first()
            .filter(|_| newer)
            .map(|first| format!("{base}&prev={}", first.run_id)),
    }))
}

#[utoipa::path(
    get, path = "/scheduler/jobs/{jobId}/schedules/{scheduleId}/runs/{runId}", tag = "sap", operation_id = "getRun",
    summary = "One run in detail",
    params(("jobId" = String, Path, description = "The job id"), ("scheduleId" = String, Path, description = "The schedule id"), ("runId" = String, Path, description = "The run id")),
    responses(
        (status = 200, description = "The run", body = RunDetail),
        crate::error::SapErrors,
    ),
    security(("bearerKey" = []), ("basicKey" = []), ("apiKeyId" = [], "apiKeySecret" = []), ("authToken" = []))
)]
pub async fn get_run(
    State(s): State<AppState>,
    tenant: Tenant,
    Path((raw, sid, run)): Path<(String, String, String)>,
) -> ApiResult<Json<RunDetail>> {
    tenant.require("read")?;
    let job = load_job(&s, &tenant, &raw).await?;
    let rec = s
        .store
        .run(&tenant.id, &run)
        .await?
        .filter(|r| r.job_id == job.id && r.schedule_id == sid)
        .ok_or_else(|| ApiError::NotFound(format!("run {run} does not exist")))?;
    Ok(Json(RunDetail::from(&rec)))
}

#[utoipa::path(
    put, path = "/scheduler/jobs/{jobId}/schedules/{scheduleId}/runs/{runId}", tag = "sap", operation_id = "updateRun",
    summary = "Report an asynchronous job's result (scope `run-update` or `write`)",
    params(("jobId" = String, Path, description = "The job id"), ("scheduleId" = String, Path, description = "The schedule id"), ("runId" = String, Path, description = "The run id")),
    request_body = RunUpdateRequest,
    responses(
        (status = 200, description = "Recorded", body = Success),
        (status = 413, description = "The body is too large", body = crate::error::SapError),
        crate::error::SapErrors,
    ),
    security(("bearerKey" = []), ("basicKey" = []), ("apiKeyId" = [], "apiKeySecret" = []), ("authToken" = []))
)]
pub async fn update_run(
    State(s): State<AppState>,
    tenant: Tenant,
    Path((raw, sid, run)): Path<(String, String, String)>,
    JsonBody(body): JsonBody,
) -> ApiResult<Json<Success>> {
    tenant.require_any(&["run-update", "write"])?;
    let job = load_job(&s, &tenant, &raw).await?;
    let ctx = "Error while updating run log";
    let (req, _) = decode::<RunUpdateRequest>(body)?;
    let Some(success) = req.success else {
        return Err(ApiError::BadRequest(format!(
            "{ctx}: 'success' is required and must be a boolean"
        )));
    };
    let message = req.message.unwrap_or_default();
    if message.len() > 5000 {
        return Err(ApiError::BadRequest(format!(
            "{ctx}: 'message' must be a string of at most 5000 characters"
        )));
    }
    let (ms, _) = service::now(&s).await?;
    match s
        .store
        .run_update(&tenant.id, (job.id, &sid, &run), success, &message, ms)
        .await?
    {
        RunUpdate::Updated => Ok(Json(Success::YES)),
        RunUpdate::AlreadyCompleted => Err(ApiError::Conflict(format!(
            "{ctx}: run {run} is already completed; its result is written once"
        ))),
        RunUpdate::NoSuchRun => Err(ApiError::NotFound(format!("run {run} does not exist"))),
    }
}
