//! SAP's schedules of a job: create, list, read (with its run log), configure, delete one or
//! all, and (de)activate all. Writes go through [`crate::service`].

use crate::auth::Tenant;
use crate::error::{ApiError, ApiResult};
use crate::extract::JsonBody;
use crate::input;
use crate::lookup::{load_job, load_schedule};
use crate::query::{flag, offset_links, query_u64, QueryOf};
use crate::service;
use crate::state::AppState;
use crate::wire::params::{DisplayLogsQuery, ScheduleListQuery};
use crate::wire::requests::{ActivationStatusRequest, ScheduleRequest, ScheduleUpdateRequest};
use crate::wire::sap::{SapSchedule, ScheduleList, ScheduleLog};
use crate::wire::{decode, SapBool, Success};
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

#[utoipa::path(
    post, path = "/scheduler/jobs/{jobId}/schedules", tag = "sap", operation_id = "createSchedule",
    summary = "Create a schedule of a job",
    params(("jobId" = String, Path, description = "The job id")),
    request_body = ScheduleRequest,
    responses(
        (status = 201, description = "The schedule", body = SapSchedule,
            headers(("Location" = String, description = "`/scheduler/jobs/{jobId}/schedules/{scheduleId}`"))),
        (status = 413, description = "The body is too large", body = crate::error::SapError),
        crate::error::SapErrors,
    ),
    security(("bearerKey" = []), ("basicKey" = []), ("apiKeyId" = [], "apiKeySecret" = []), ("authToken" = []))
)]
pub async fn create_schedule(
    State(s): State<AppState>,
    tenant: Tenant,
    Path(raw): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    tenant.require("write")?;
    let job = load_job(&s, &tenant, &raw).await?;
    let (sc, next) = add_schedule(&s, &tenant, &job, body).await?;
    Ok((
        StatusCode::CREATED,
        [(
            header::LOCATION,
            format!("/scheduler/jobs/{}/schedules/{}", job.id, sc.schedule_id),
        )],
        Json(SapSchedule::new(&sc, job.id, next)),
    )
        .into_response())
}

/// A new schedule of `job`, of SAP's Create Schedule body (the API's route and the
/// dashboard's form): checked (at most 100 a job), stored and planned.
pub async fn add_schedule(
    s: &AppState,
    tenant: &Tenant,
    job: &chime_core::model::Job,
    body: serde_json::Value,
) -> ApiResult<service::Planned> {
    let (ms, now) = service::now(s).await?;
    let (req, _) = decode::<ScheduleRequest>(body)?;
    let sc = input::new_schedule(&req, "Error while creating schedule", now)?;
    if s.store.schedules(&tenant.id, job.id).await?.len() >= 100 {
        return Err(ApiError::BadRequest(
            "Error while creating schedule: a job has at most 100 schedules".into(),
        ));
    }
    service::create_schedule(s, tenant, job, sc, ms).await
}

#[utoipa::path(
    get, path = "/scheduler/jobs/{jobId}/schedules", tag = "sap", operation_id = "listSchedules",
    summary = "List a job's schedules",
    params(("jobId" = String, Path, description = "The job id"), ScheduleListQuery),
    responses(
        (status = 200, description = "A page of schedules", body = ScheduleList),
        crate::error::SapErrors,
    ),
    security(("bearerKey" = []), ("basicKey" = []), ("apiKeyId" = [], "apiKeySecret" = []), ("authToken" = []))
)]
pub async fn list_schedules(
    State(s): State<AppState>,
    tenant: Tenant,
    Path(raw): Path<String>,
    QueryOf(q): QueryOf<ScheduleListQuery>,
) -> ApiResult<Json<ScheduleList>> {
    tenant.require("read")?;
    let job = load_job(&s, &tenant, &raw).await?;
    let ctx = "Error while fetching schedules";
    // SAP: only `offset` given, a page is 10; neither, every schedule (a job has at most 100).
    let default_size = if q.offset.is_some() { 10 } else { 100 };
    let size = query_u64(q.page_size.as_deref(), "page_size", ctx)?.unwrap_or(default_size);
    if !(1..=100).contains(&size) {
        return Err(ApiError::BadRequest(format!(
            "{ctx}: 'page_size' must be from 1 to 100"
        )));
    }
    let offset = query_u64(q.offset.as_deref(), "offset", ctx)?.unwrap_or(0);
    let all = service::schedules(&s, &tenant.id, job.id).await?;
    let total = all.len() as u64;
    let results = all
        .iter()
        .skip(offset as usize)
        .take(size as usize)
        .map(|(sc, next)| SapSchedule::new(sc, job.id, *next))
        .collect();
    let base = format!("/scheduler/jobs/{}/schedules", job.id);
    let (next_url, prev_url) = offset_links(&base, offset, size, total);
    Ok(Json(ScheduleList {
        total,
        results,
        next_url,
        prev_url,
    }))
}

#[utoipa::path(
    get, path = "/scheduler/jobs/{jobId}/schedules/{scheduleId}", tag = "sap", operation_id = "getSchedule",
    summary = "Read a schedule",
    params(("jobId" = String, Path, description = "The job id"), ("scheduleId" = String, Path, description = "The schedule id"), DisplayLogsQuery),
    responses(
        (status = 200, description = "The schedule", body = SapSchedule),
        crate::error::SapErrors,
    ),
    security(("bearerKey" = []), ("basicKey" = []), ("apiKeyId" = [], "apiKeySecret" = []), ("authToken" = []))
)]
pub async fn get_schedule(
    State(s): State<AppState>,
    tenant: Tenant,
    Path((raw, sid)): Path<(String, String)>,
    QueryOf(q): QueryOf<DisplayLogsQuery>,
) -> ApiResult<Json<SapSchedule>> {
    tenant.require("read")?;
    let job = load_job(&s, &tenant, &raw).await?;
    let sc = load_schedule(&s, &tenant, &job, &sid).await?;
    let next = service::next_run(&s, &tenant.id, job.id, &sid).await?;
    let mut v = SapSchedule::new(&sc, job.id, next);
    if flag(q.displayLogs.as_deref()) {
        let (_, runs) = s
            .store
            .schedule_runs_page(&tenant.id, &sid, 0, 200, true)
            .await?;
        v.logs = Some(runs.iter().map(ScheduleLog::from).collect());
    }
    Ok(Json(v))
}

#[utoipa::path(
    put, path = "/scheduler/jobs/{jobId}/schedules/{scheduleId}", tag = "sap", operation_id = "configureSchedule",
    summary = "Configure a schedule",
    params(("jobId" = String, Path, description = "The job id"), ("scheduleId" = String, Path, description = "The schedule id")),
    request_body = ScheduleUpdateRequest,
    responses(
        (status = 200, description = "The schedule", body = SapSchedule),
        (status = 413, description = "The body is too large", body = crate::error::SapError),
        crate::error::SapErrors,
    ),
    security(("bearerKey" = []), ("basicKey" = []), ("apiKeyId" = [], "apiKeySecret" = []), ("authToken" = []))
)]
pub async fn put_schedule(
    State(s): State<AppState>,
    tenant: Tenant,
    Path((raw, sid)): Path<(String, String)>,
    JsonBody(body): JsonBody,
) -> ApiResult<Json<SapSchedule>> {
    tenant.require("write")?;
    let job = load_job(&s, &tenant, &raw).await?;
    let old = load_schedule(&s, &tenant, &job, &sid).await?;
    let (ms, now) = service::now(&s).await?;
    let (req, fields) = decode::<ScheduleUpdateRequest>(body)?;
    let sc = input::update_schedule(&old, &req, &fields, now)?;
    let fields: Vec<&str> = fields.iter().map(String::as_str).collect();
    let (sc, next) = service::update_schedule(&s, &tenant, &job, sc, &fields, ms).await?;
    Ok(Json(SapSchedule::new(&sc, job.id, next)))
}

#[utoipa::path(
    delete, path = "/scheduler/jobs/{jobId}/schedules/{scheduleId}", tag = "sap", operation_id = "deleteSchedule",
    summary = "Delete a schedule",
    params(("jobId" = String, Path, description = "The job id"), ("scheduleId" = String, Path, description = "The schedule id")),
    responses(
        (status = 200, description = "Deleted", body = Success),
        crate::error::SapErrors,
    ),
    security(("bearerKey" = []), ("basicKey" = []), ("apiKeyId" = [], "apiKeySecret" = []), ("authToken" = []))
)]
pub async fn delete_schedule(
    State(s): State<AppState>,
    tenant: Tenant,
    Path((raw, sid)): Path<(String, String)>,
) -> ApiResult<Json<Success>> {
    tenant.require("write")?;
    let job = load_job(&s, &tenant, &raw).await?;
    load_schedule(&s, &tenant, &job, &sid).await?;
    service::delete_schedule(&s, &tenant, &job, &sid).await?;
    Ok(Json(Success::YES))
}

#[utoipa::path(
    delete, path = "/scheduler/jobs/{jobId}/schedules", tag = "sap", operation_id = "deleteSchedules",
    summary = "Delete all schedules of a job",
    params(("jobId" = String, Path, description = "The job id")),
    responses(
        (status = 200, description = "Deleted", body = Success),
        crate::error::SapErrors,
    ),
    security(("bearerKey" = []), ("basicKey" = []), ("apiKeyId" = [], "apiKeySecret" = []), ("authToken" = []))
)]
pub async fn delete_schedules(
    State(s): State<AppState>,
    tenant: Tenant,
    Path(raw): Path<String>,
) -> ApiResult<Json<Success>> {
    tenant.require("write")?;
    let job = load_job(&s, &tenant, &raw).await?;
    service::delete_schedules(&s, &tenant, &job).await?;
    Ok(Json(Success::YES))
}

#[utoipa::path(
    post, path = "/scheduler/jobs/{jobId}/schedules/activationStatus", tag = "sap", operation_id = "activationStatus",
    summary = "Activate or deactivate all schedules of a job",
    params(("jobId" = String, Path, description = "The job id")),
    request_body = ActivationStatusRequest,
    responses(
        (status = 200, description = "Done", body = Success),
        (status = 413, description = "The body is too large", body = crate::error::SapError),
        crate::error::SapErrors,
    ),
    security(("bearerKey" = []), ("basicKey" = []), ("apiKeyId" = [], "apiKeySecret" = []), ("authToken" = []))
)]
pub async fn activation_status(
    State(s): State<AppState>,
    tenant: Tenant,
    Path(raw): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Json<Success>> {
    tenant.require("write")?;
    let job = load_job(&s, &tenant, &raw).await?;
    let ctx = "Error while changing activation status";
    let (req, _) = decode::<ActivationStatusRequest>(body)?;
    let Some(SapBool(active)) = req.activation_status else {
        return Err(ApiError::BadRequest(format!(
            "{ctx}: 'activationStatus' is required and must be a boolean"
        )));
    };
    let (ms, _) = service::now(&s).await?;
    service::set_activation(&s, &tenant, &job, active, ms).await?;
    Ok(Json(Success::YES))
}
