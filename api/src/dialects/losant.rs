//! Losant: an application's job logs (runs), `GET /applications/{applicationId}/jobLogs` and
//! `GET /applications/{applicationId}/jobLogs/{jobLogId}`, with Losant's paging, sorting and
//! error shape. The application is the key's tenant.

use super::common::{params_of, path_of, retention_floor};
use crate::auth::{authenticate, Tenant};
use crate::error::{dialect_error, ApiError};
use crate::query::{int_param, typed, Params, Q};
use crate::state::AppState;
use crate::wire::sap::{Outcome, RunState, RunStatus};
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chime_core::model::RunRecord;
use chime_core::run;
use chime_core::time::format_instant;
use chime_store::{Order, RunQuery, Scope};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use utoipa::{IntoParams, IntoResponses, ToSchema};

/// Losant's job status of a run.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub enum LosantStatus {
    Queued,
    InProgress,
    Completed,
    Failed,
    Errored,
}

impl From<&RunRecord> for LosantStatus {
    fn from(r: &RunRecord) -> Self {
        match (r.status, r.outcome) {
            (run::RunStatus::Scheduled, _) => LosantStatus::Queued,
            (run::RunStatus::Running, _) => LosantStatus::InProgress,
            (_, Some(run::Outcome::Success)) => LosantStatus::Completed,
            (_, Some(run::Outcome::Failure)) => LosantStatus::Failed,
            _ => LosantStatus::Errored,
        }
    }
}

/// chime's details of a Losant job log.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LosantJobLogDetails {
    pub schedule_id: String,
    pub run_number: u64,
    #[schema(value_type = RunStatus)]
    pub run_status: String,
    #[schema(value_type = RunState)]
    pub run_state: String,
    pub http_status: Option<u16>,
    #[schema(value_type = Option<Outcome>)]
    pub outcome: Option<String>,
    pub error_message: Option<String>,
    pub response_body: Option<String>,
}

/// A Losant application job log (a run).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LosantJobLog {
    pub id: String,
    /// The same as `id`.
    pub application_job_log_id: String,
    pub application_id: String,
    /// Always `job`.
    pub resource_type: &'static str,
    /// The job id, as a string.
    pub resource_id: String,
    /// The job's name.
    pub name: String,
    pub status: LosantStatus,
    pub run_queued_at: String,
    pub run_started_at: Option<String>,
    pub run_completed_at: Option<String>,
    pub scheduled_at: String,
    pub details: LosantJobLogDetails,
}

impl LosantJobLog {
    /// Run `r` of application `app`, whose job is named `job_name`.
    fn new(app: &str, r: &RunRecord, job_name: &str) -> Self {
        LosantJobLog {
            id: r.run_id.clone(),
            application_job_log_id: r.run_id.clone(),
            application_id: app.to_string(),
            resource_type: "job",
            resource_id: r.job_id.to_string(),
            name: job_name.to_string(),
            status: r.into(),
            run_queued_at: format_instant(r.created_at),
            run_started_at: r.executed_at.map(format_instant),
            run_completed_at: r.completed_at.map(format_instant),
            scheduled_at: format_instant(r.scheduled_at),
            details: LosantJobLogDetails {
                schedule_id: r.schedule_id.clone(),
                run_number: r.number,
                run_status: r.status.to_string(),
                run_state: r.state.to_string(),
                http_status: r.http_status,
                outcome: r.outcome.map(|o| o.to_string()),
                error_message: r.error.clone(),
                response_body: r.response_body.clone(),
            },
        }
    }
}

/// A page of an application's job logs.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LosantJobLogList {
    pub items: Vec<LosantJobLog>,
    /// Items on this page.
    pub count: u64,
    pub total_count: u64,
    pub per_page: u64,
    pub page: u64,
    pub sort_field: String,
    pub sort_direction: String,
    pub application_id: String,
}

/// Losant error kinds.
#[derive(Serialize, ToSchema)]
pub enum LosantErrorType {
    NotFound,
    Unauthorized,
    Forbidden,
    Validation,
    InternalError,
}

/// Losant's error shape: `{"type", "message"}`.
#[derive(Serialize, ToSchema)]
pub struct LosantError {
    #[serde(rename = "type")]
    pub kind: LosantErrorType,
    pub message: String,
}

/// Losant errors.
#[derive(IntoResponses)]
pub enum LosantErrors {
    /// An invalid parameter, or an id that is not of Losant's form (`Validation`).
    #[response(status = 400)]
    BadRequest(LosantError),
    /// Missing or invalid credentials.
    #[response(status = 401)]
    Unauthorized(LosantError),
    /// The key lacks the `read` scope.
    #[response(status = 403)]
    Forbidden(LosantError),
    /// The application is not the key's tenant, or the job log does not exist.
    #[response(status = 404)]
    NotFound(LosantError),
    /// The key or its tenant is over its request rate (type `InternalError`, as Losant
    /// has no type of its own for it), with `Retry-After` and `throttling: 0`.
    #[response(status = 429)]
    TooManyRequests(LosantError),
    /// A server fault.
    #[response(status = 500)]
    Internal(LosantError),
}

/// Losant sort direction.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum LosantSortDirection {
    Asc,
    Desc,
}

/// Losant sort field: job logs are ordered by `runQueuedAt` only.
#[derive(Serialize, ToSchema)]
pub enum LosantSortField {
    #[serde(rename = "runQueuedAt")]
    RunQueuedAt,
}

/// Losant parameters (read as text; [`paging_of`] parses them).
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(non_snake_case)]
pub struct LosantQuery {
    /// Page number, from 0 (default 0).
    #[param(value_type = Option<u64>, minimum = 0)]
    pub page: Option<String>,
    /// Page size, 1 to 1000 (default 100).
    #[param(value_type = Option<u64>, minimum = 1, maximum = 1000)]
    pub perPage: Option<String>,
    /// Default `runQueuedAt`.
    #[param(inline, value_type = Option<LosantSortField>)]
    pub sortField: Option<String>,
    /// Default `asc`.
    #[param(inline, value_type = Option<LosantSortDirection>)]
    pub sortDirection: Option<String>,
}

fn losant_error(e: ApiError) -> Response {
    dialect_error(e, |status, message| {
        let kind = match status {
            StatusCode::NOT_FOUND => LosantErrorType::NotFound,
            StatusCode::UNAUTHORIZED => LosantErrorType::Unauthorized,
            StatusCode::FORBIDDEN => LosantErrorType::Forbidden,
            StatusCode::BAD_REQUEST => LosantErrorType::Validation,
            _ => LosantErrorType::InternalError,
        };
        LosantError { kind, message }
    })
}

/// Whether `id` is `len` hexadecimal digits (of either case).
fn is_hex_id(id: &str, len: usize) -> bool {
    id.len() == len && id.bytes().all(|b| b.is_ascii_hexdigit())
}

/// A malformed id is a 400, as Losant answers a malformed request: an application id is 24
/// hexadecimal digits (Losant's ids, and chime's tenant ids).
fn check_application_id(app: &str) -> Result<(), ApiError> {
    if is_hex_id(app, 24) {
        Ok(())
    } else {
        Err(ApiError::BadRequest(format!(
            "applicationId '{app}' is malformed: expected 24 hexadecimal digits"
        )))
    }
}

/// A job log id is 32 hexadecimal digits (chime's run ids) or 24 (Losant's own ids, which
/// are well formed but name no run here).
fn check_job_log_id(run: &str) -> Result<(), ApiError> {
    if is_hex_id(run, 32) || is_hex_id(run, 24) {
        Ok(())
    } else {
        Err(ApiError::BadRequest(format!(
            "jobLogId '{run}' is malformed: expected a run id of 32 hexadecimal digits"
        )))
    }
}

/// The key's tenant, once it may read and `app` is of Losant's form; application `app` must
/// be that tenant.
async fn losant_tenant(s: &AppState, headers: &HeaderMap, app: &str) -> Result<Tenant, ApiError> {
    let tenant = authenticate(s, headers, None).await?;
    tenant.require("read")?;
    check_application_id(app)?;
    if app != tenant.id {
        return Err(ApiError::NotFound("Application was not found".into()));
    }
    Ok(tenant)
}

/// The names of the runs' jobs (empty for a job deleted since).
async fn job_names(
    s: &AppState,
    tenant: &str,
    runs: &[&RunRecord],
) -> Result<HashMap<u64, String>, ApiError> {
    let mut names = HashMap::new();
    for r in runs {
        if let std::collections::hash_map::Entry::Vacant(e) = names.entry(r.job_id) {
            let name = s
                .store
                .job(tenant, r.job_id)
                .await?
                .map(|j| j.name)
                .unwrap_or_default();
            e.insert(name);
        }
    }
    Ok(names)
}

/// Losant: one job log (a run) of the application.
#[utoipa::path(
    get, path = "/applications/{applicationId}/jobLogs/{jobLogId}", tag = "losant", operation_id = "losantJobLog",
    summary = "One job log (a run) of the application",
    params(
        ("applicationId" = String, Path, description = "The application: the key's tenant id (24 hexadecimal digits)"),
        ("jobLogId" = String, Path, description = "The job log: a run id (32 hexadecimal digits)"),
    ),
    responses(
        (status = 200, description = "The job log", body = LosantJobLog),
        LosantErrors,
    ),
    security(("bearerKey" = []), ("basicKey" = []), ("apiKeyId" = [], "apiKeySecret" = []), ("authToken" = []))
)]
pub async fn losant_one(
    State(s): State<AppState>,
    headers: HeaderMap,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Response {
    let answer = async {
        let (app, run) = path_of(path)?;
        one(&s, &headers, &app, &run).await
    };
    answer
        .await
        .map_or_else(losant_error, |log| Json(log).into_response())
}

async fn one(
    s: &AppState,
    headers: &HeaderMap,
    app: &str,
    run: &str,
) -> Result<LosantJobLog, ApiError> {
    let tenant = losant_tenant(s, headers, app).await?;
    check_job_log_id(run)?;
    let floor = retention_floor(s, &tenant.id).await?;
    let r = s
        .store
        .run(&tenant.id, run)
        .await?
        .filter(|r| r.created_at >= floor)
        .ok_or_else(|| ApiError::NotFound("Application job log was not found".into()))?;
    let names = job_names(s, &tenant.id, &[&r]).await?;
    Ok(LosantJobLog::new(app, &r, &names[&r.job_id]))
}

/// Losant: the application's job logs, `page` (from 0), `perPage` (1-1000, default 100),
/// `sortField` (`runQueuedAt`, the only order the run log keeps), `sortDirection` (`asc`
/// default, or `desc`).
#[utoipa::path(
    get, path = "/applications/{applicationId}/jobLogs", tag = "losant", operation_id = "losantJobLogs",
    summary = "The application's job logs (runs)",
    params(
        ("applicationId" = String, Path, description = "The application: the key's tenant id (24 hexadecimal digits)"),
        LosantQuery,
    ),
    responses(
        (status = 200, description = "A page of job logs", body = LosantJobLogList),
        LosantErrors,
    ),
    security(("bearerKey" = []), ("basicKey" = []), ("apiKeyId" = [], "apiKeySecret" = []), ("authToken" = []))
)]
pub async fn losant_list(
    State(s): State<AppState>,
    headers: HeaderMap,
    path: Result<Path<String>, PathRejection>,
    query: Result<Q, QueryRejection>,
) -> Response {
    let answer = async {
        let app = path_of(path)?;
        list(&s, &headers, &app, params_of(query)?).await
    };
    answer
        .await
        .map_or_else(losant_error, |list| Json(list).into_response())
}

/// The paging and order a list request asks for: (page, perPage, sortField, direction).
fn paging_of(q: LosantQuery) -> Result<(u64, u64, String, String), ApiError> {
    let bad = ApiError::BadRequest;
    let page = int_param(q.page.as_deref(), "page")
        .map_err(bad)?
        .unwrap_or(0);
    if page < 0 {
        return Err(ApiError::BadRequest("'page' must be 0 or greater".into()));
    }
    let per_page = int_param(q.perPage.as_deref(), "perPage")
        .map_err(bad)?
        .unwrap_or(100);
    if !(1..=1000).contains(&per_page) {
        return Err(ApiError::BadRequest(
            "'perPage' must be between 1 and 1000".into(),
        ));
    }
    let sort_field = q.sortField.unwrap_or_else(|| "runQueuedAt".into());
    if sort_field != "runQueuedAt" {
        return Err(ApiError::BadRequest(format!(
            "'sortField' {sort_field} is not supported; job logs are ordered by runQueuedAt"
        )));
    }
    let direction = q.sortDirection.unwrap_or_else(|| "asc".into());
    Ok((page as u64, per_page as u64, sort_field, direction))
}

async fn list(
    s: &AppState,
    headers: &HeaderMap,
    app: &str,
    q: Params,
) -> Result<LosantJobLogList, ApiError> {
    let tenant = losant_tenant(s, headers, app).await?;
    let (page, per_page, sort_field, direction) = paging_of(typed(q)?)?;
    let order = match direction.as_str() {
        "asc" => Order::OldestFirst,
        "desc" => Order::NewestFirst,
        other => {
            return Err(ApiError::BadRequest(format!(
                "'sortDirection' must be asc or desc, got '{other}'"
            )))
        }
    };
    let mut query = RunQuery::new(&tenant.id, Scope::Tenant);
    query.order = order;
    query.skip = page.saturating_mul(per_page);
    query.size = per_page;
    let res = s.store.query_runs(&query).await?;
    let records: Vec<&RunRecord> = res.runs.iter().map(|(_, r)| r).collect();
    let names = job_names(s, &tenant.id, &records).await?;
    let items: Vec<LosantJobLog> = records
        .iter()
        .map(|r| LosantJobLog::new(app, r, &names[&r.job_id]))
        .collect();
    Ok(LosantJobLogList {
        count: items.len() as u64,
        items,
        total_count: res.total.unwrap_or(0),
        per_page,
        page,
        sort_field,
        sort_direction: direction,
        application_id: app.to_string(),
    })
}
