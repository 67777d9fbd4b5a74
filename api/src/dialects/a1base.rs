//! A1Base: a cron job's execution history, `GET /v1/cron-jobs/{accountId}/logs/{cronJobId}`,
//! with A1Base's paging (`page` from 1, `limit`), filters and error shape.

use super::common::job_of;
use crate::auth::authenticate;
use crate::error::{dialect_error, ApiError};
use crate::query::{date_param, int_param, typed, Params, Q};
use crate::state::AppState;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Json;
use chime_core::model::RunRecord;
use chime_core::time::format_instant;
use chime_store::{RunQuery, Scope};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, IntoResponses, ToSchema};

const STATUSES: [&str; 4] = ["success", "failure", "error", "timeout"];

/// An A1Base execution status.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum A1BaseStatus {
    Success,
    Failure,
    Error,
    Timeout,
}

/// An A1Base cron-job execution (a run).
#[derive(Serialize, ToSchema)]
pub struct A1BaseExecution {
    pub id: String,
    /// The job id, as a string.
    pub cron_job_id: String,
    pub executed_at: Option<String>,
    #[schema(value_type = Option<A1BaseStatus>)]
    pub status: Option<String>,
    pub response_code: Option<u16>,
    /// How long the call took, reading the answer included (ms; chime's addition, `null`
    /// before a call).
    pub response_time_ms: Option<u64>,
    pub response_body: Option<String>,
    pub error_message: Option<String>,
}

impl From<&RunRecord> for A1BaseExecution {
    fn from(r: &RunRecord) -> Self {
        A1BaseExecution {
            id: r.run_id.clone(),
            cron_job_id: r.job_id.to_string(),
            executed_at: r.executed_at.or(Some(r.scheduled_at)).map(format_instant),
            status: r.outcome.map(|o| o.to_string()),
            response_code: r.http_status,
            response_time_ms: r.duration_ms,
            response_body: r.response_body.clone(),
            error_message: r.error.clone(),
        }
    }
}

/// A1Base paging.
#[derive(Serialize, ToSchema)]
pub struct A1BasePagination {
    pub page: u64,
    pub limit: u64,
    pub total_items: u64,
    pub total_pages: u64,
}

/// A page of a cron job's execution history, newest first.
#[derive(Serialize, ToSchema)]
pub struct A1BaseLogPage {
    pub data: Vec<A1BaseExecution>,
    pub pagination: A1BasePagination,
}

/// The error detail of an A1Base error.
#[derive(Serialize, ToSchema)]
pub struct A1BaseErrorDetail {
    pub code: u16,
    pub message: String,
}

/// A1Base's error shape: `{"success": false, "error": {"code", "message"}}`.
#[derive(Serialize, ToSchema)]
pub struct A1BaseError {
    /// Always `false`.
    pub success: bool,
    pub error: A1BaseErrorDetail,
}

/// A1Base errors.
#[derive(IntoResponses)]
pub enum A1BaseErrors {
    /// An invalid parameter.
    #[response(status = 400)]
    BadRequest(A1BaseError),
    /// Missing or invalid credentials.
    #[response(status = 401)]
    Unauthorized(A1BaseError),
    /// The key lacks the `read` scope.
    #[response(status = 403)]
    Forbidden(A1BaseError),
    /// The account is not the key's tenant, or the cron job does not exist.
    #[response(status = 404)]
    NotFound(A1BaseError),
    /// A server fault.
    #[response(status = 500)]
    Internal(A1BaseError),
}

/// A1Base parameters (read as text; [`logs`] parses them).
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct A1BaseQuery {
    /// Page number, from 1 (default 1).
    #[param(value_type = Option<u64>, minimum = 1)]
    pub page: Option<String>,
    /// Page size, 1 to 100 (default 20).
    #[param(value_type = Option<u64>, minimum = 1, maximum = 100)]
    pub limit: Option<String>,
    /// Only executions with this status.
    #[param(inline, value_type = Option<A1BaseStatus>)]
    pub status: Option<String>,
    /// Executions at or after this ISO 8601 instant or date.
    pub start_date: Option<String>,
    /// Executions at or before this ISO 8601 instant or date.
    pub end_date: Option<String>,
}

fn a1base_error(e: ApiError) -> Response {
    dialect_error(e, |status, message| A1BaseError {
        success: false,
        error: A1BaseErrorDetail {
            code: status.as_u16(),
            message,
        },
    })
}

/// A1Base: a cron job's execution history, newest first, with `page` (from 1), `limit`
/// (1-100, default 20), `status`, `start_date` and `end_date`. Only executed runs (those with
/// an outcome) are listed.
#[utoipa::path(
    get, path = "/v1/cron-jobs/{accountId}/logs/{cronJobId}", tag = "a1base", operation_id = "a1baseCronJobLogs",
    summary = "A cron job's execution history, newest first (executed runs only)",
    params(
        ("accountId" = String, Path, description = "The account: the key's tenant id"),
        ("cronJobId" = String, Path, description = "The cron job: a job id"),
        A1BaseQuery,
    ),
    responses(
        (status = 200, description = "A page of executions", body = A1BaseLogPage),
        A1BaseErrors,
    ),
    security(("bearerKey" = []), ("basicKey" = []), ("apiKeyId" = [], "apiKeySecret" = []), ("authToken" = []))
)]
pub async fn a1base_logs(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path((account, raw)): Path<(String, String)>,
    Query(q): Q,
) -> Response {
    logs(&s, &headers, &account, &raw, q)
        .await
        .map_or_else(a1base_error, |page| Json(page).into_response())
}

async fn logs(
    s: &AppState,
    headers: &HeaderMap,
    account: &str,
    raw: &str,
    q: Params,
) -> Result<A1BaseLogPage, ApiError> {
    let tenant = authenticate(s, headers, None).await?;
    tenant.require("read")?;
    if account != tenant.id {
        return Err(ApiError::NotFound(format!("account {account} not found")));
    }
    let job = job_of(s, &tenant.id, raw)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("cron job {raw} not found")))?;
    let q: A1BaseQuery = typed(q)?;
    let bad = ApiError::BadRequest;
    let page = int_param(q.page.as_deref(), "page")
        .map_err(bad)?
        .unwrap_or(1);
    if page < 1 {
        return Err(ApiError::BadRequest("'page' must be 1 or greater".into()));
    }
    let limit = int_param(q.limit.as_deref(), "limit")
        .map_err(bad)?
        .unwrap_or(20);
    if !(1..=100).contains(&limit) {
        return Err(ApiError::BadRequest(
            "'limit' must be between 1 and 100".into(),
        ));
    }
    let outcomes = match q.status {
        None => STATUSES.iter().map(|s| s.to_string()).collect(),
        Some(st) if STATUSES.contains(&st.as_str()) => vec![st],
        Some(st) => {
            return Err(ApiError::BadRequest(format!(
                "'status' must be one of success, failure, error, timeout; got '{st}'"
            )))
        }
    };
    let start = date_param(q.start_date.as_deref(), "start_date")?;
    let end = date_param(q.end_date.as_deref(), "end_date")?;
    if let (Some(a), Some(b)) = (start, end) {
        if a > b {
            return Err(ApiError::BadRequest(
                "'start_date' is after 'end_date'".into(),
            ));
        }
    }
    // The query engine itself hides what is past the tenant's retention age.
    let mut query = RunQuery::new(&tenant.id, Scope::Job(job.id));
    query.outcomes = outcomes;
    query.from_ms = start;
    query.to_ms = end;
    let (page, limit) = (page as u64, limit as u64);
    query.skip = (page - 1).saturating_mul(limit);
    query.size = limit;
    let res = s.store.query_runs(&query).await?;
    let total = res.total.unwrap_or(0);
    Ok(A1BaseLogPage {
        data: res.runs.iter().map(|(_, r)| r.into()).collect(),
        pagination: A1BasePagination {
            page,
            limit,
            total_items: total,
            total_pages: total.div_ceil(limit),
        },
    })
}
