//! SAP's run logs: a schedule's run log (offset or cursor pages), one run in detail, an
//! asynchronous job's result report, and chime's "run now" (a manual run of a schedule).

use crate::auth::Tenant;
use crate::error::{ApiError, ApiResult};
use crate::extract::JsonBody;
use crate::lookup::{job_id, load_job, load_schedule};
use crate::query::{run_paging, QueryOf};
use crate::service;
use crate::state::AppState;
use crate::wire::params::RunLogQuery;
use crate::wire::requests::RunUpdateRequest;
use crate::wire::sap::{RunDetail, RunLogPage, SapRunLog};
use crate::wire::{decode, Success};
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chime_core::model::RunRecord;
use chime_core::run::{RunState, RunStatus};
use chime_store::{Order, RunQuery, RunUpdate, Scope, StoreError};
use std::time::{Duration, Instant};

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
    get, path = "/scheduler/runs/{runId}", tag = "sap", operation_id = "getTenantRun",
    summary = "One run of the tenant by its id alone, with its job and schedule (chime's)",
    description = "The run's detail as `GET /scheduler/jobs/{jobId}/schedules/{scheduleId}/runs/{runId}` answers it (its `jobId` and `scheduleId` among the fields), found by the run id alone: one lookup in the tenant's index of run ids. 404 for a run the tenant does not have (another tenant's included).",
    params(("runId" = String, Path, description = "The run id")),
    responses(
        (status = 200, description = "The run", body = RunDetail),
        crate::error::SapErrors,
    ),
    security(("bearerKey" = []), ("basicKey" = []), ("apiKeyId" = [], "apiKeySecret" = []), ("authToken" = []), ("oauth2" = []))
)]
pub async fn get_tenant_run(
    State(s): State<AppState>,
    tenant: Tenant,
    Path(run): Path<String>,
) -> ApiResult<Json<RunDetail>> {
    tenant.require("read")?;
    let rec = s
        .store
        .run(&tenant.id, &run)
        .await?
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

#[utoipa::path(
    post, path = "/scheduler/jobs/{jobId}/schedules/{scheduleId}/runs", tag = "sap", operation_id = "runNow",
    summary = "Run the schedule once, now (chime; scope `write`)",
    description = "Fires the schedule once, now, whatever its timing and whether or not the schedule or its job is active: one run under a fresh run id, whose `scheduleTimestamp` is the request instant, marked `manual` in its log. The request is recorded durably and the leader fires it like any scheduled fire (same queue, workers and record; the tenant's quota of runs per minute and its cap of runs in flight apply). A body, if any, is ignored. 201 once the run's record exists; 202 (the same shape, `runStatus` and `runState` SCHEDULED, `runNumber` 0) when it does not yet after `CHIME_API_RUN_NOW_WAIT_MS` (the leader is down or busy, or the tenant is over its quota): the run will still fire, once.",
    params(("jobId" = String, Path, description = "The job id"), ("scheduleId" = String, Path, description = "The schedule id")),
    responses(
        (status = 201, description = "The run, created", body = RunDetail,
            headers(("Location" = String, description = "`/scheduler/jobs/{jobId}/schedules/{scheduleId}/runs/{runId}`"))),
        (status = 202, description = "The run is requested, not created yet; it will fire once", body = RunDetail,
            headers(("Location" = String, description = "`/scheduler/jobs/{jobId}/schedules/{scheduleId}/runs/{runId}`"))),
        crate::error::SapErrors,
    ),
    security(("bearerKey" = []), ("basicKey" = []), ("apiKeyId" = [], "apiKeySecret" = []), ("authToken" = []))
)]
pub async fn run_now(
    State(s): State<AppState>,
    tenant: Tenant,
    Path((raw, sid)): Path<(String, String)>,
) -> ApiResult<Response> {
    tenant.require("write")?;
    let job = load_job(&s, &tenant, &raw).await?;
    load_schedule(&s, &tenant, &job, &sid).await?;
    let (ms, _) = service::now(&s).await?;
    let run = service::run_now(&s, &tenant, &job, &sid, ms).await?;
    let location = format!("/scheduler/jobs/{}/schedules/{sid}/runs/{run}", job.id);
    // The leader creates the record within a pass (a tenth of a second when idle): wait for
    // it, up to the deadline.
    let deadline = Instant::now() + Duration::from_millis(s.settings.api_run_now_wait_ms);
    loop {
        if let Some(rec) = s.store.run(&tenant.id, &run).await? {
            let answer = Json(RunDetail::from(&rec));
            return Ok(
                (StatusCode::CREATED, [(header::LOCATION, location)], answer).into_response(),
            );
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        tokio::time::sleep(left.min(Duration::from_millis(25))).await;
    }
    // Not created yet: the request is durable and fires once the leader reaches it.
    let requested = RunRecord {
        run_id: run,
        tenant: tenant.id.clone(),
        job_id: job.id,
        schedule_id: sid,
        scheduled_at: ms,
        created_at: ms,
        status: RunStatus::Scheduled,
        state: RunState::Scheduled,
        manual: true,
        requested_by: Some(tenant.key_id.clone()),
        ..RunRecord::default()
    };
    let mut answer = RunDetail::from(&requested);
    answer.log = format!(
        "{} run requested now (manual) by key {}; not fired yet\n",
        chime_core::time::format_instant(ms),
        tenant.key_id
    );
    Ok((
        StatusCode::ACCEPTED,
        [(header::LOCATION, location)],
        Json(answer),
    )
        .into_response())
}
