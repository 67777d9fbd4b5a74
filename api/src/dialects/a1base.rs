//! A1Base: a cron job's execution history, `GET /v1/cron-jobs/{accountId}/logs/{cronJobId}`,
//! with A1Base's paging (`page` from 1, `limit`), filters and error shape.

use super::common::{job_of, params_of, path_of};
use crate::auth::authenticate;
use crate::error::{dialect_error, ApiError};
use crate::query::{date_param, int_param, typed, Params, Q};
use crate::state::AppState;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Json;
use chime_core::model::RunRecord;
use chime_core::run::Outcome;
use chime_core::time::format_instant;
use chime_store::{RunQuery, Scope};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, IntoResponses, ToSchema};

const STATUSES: [&str; 4] = ["success", "failure", "error", "timeout"];

/// Runs read per round trip while filtering in the API.
const WALK_BATCH: u64 = 500;

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

/// When an execution happened, as A1Base's `executed_at` shows it and its date filters read
/// it: when the call started (the fire's instant for a run that never called).
fn executed_ms(r: &RunRecord) -> i64 {
    r.executed_at.unwrap_or(r.scheduled_at)
}

/// Whether the endpoint answered a redirect (3xx, not followed: the call's final answer).
fn is_redirect(r: &RunRecord) -> bool {
    matches!(r.http_status, Some(300..=399))
}

/// A1Base's status of an executed run, by the seed's "Understanding Status Codes": `success`
/// when the endpoint returned a 2xx, `failure` for a 4xx or 5xx, `error` when it could not be
/// called, `timeout`. A 3xx is not the 2xx the seed counts as success, and the endpoint did
/// answer (so it is no network error): A1Base's status of a 3xx is `failure`. A reported
/// asynchronous result keeps the job's own verdict.
fn status_of(r: &RunRecord) -> Option<&'static str> {
    Some(match r.outcome? {
        Outcome::Success if is_redirect(r) => "failure",
        Outcome::Success => "success",
        Outcome::Failure => "failure",
        Outcome::Error => "error",
        Outcome::Timeout => "timeout",
    })
}

/// `ms` as seconds, without trailing zeros (`30`, `1.5`, `0.3`).
fn seconds(ms: u64) -> String {
    let text = format!("{}.{:03}", ms / 1000, ms % 1000);
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// The error message in the seed's wording where it gives one: `Endpoint returned status
/// code <n>` for an endpoint's non-2xx answer, `Request timed out after <n> seconds` for a
/// call that timed out (`n` the call's timeout); otherwise the run's own message.
fn error_message(r: &RunRecord, status: Option<&str>) -> Option<String> {
    match (status, r.http_status) {
        (Some("failure"), Some(code)) if code != 202 => {
            Some(format!("Endpoint returned status code {code}"))
        }
        (Some("timeout"), _) => r.error.as_deref().map(|e| {
            e.strip_prefix("request timed out after ")
                .and_then(|rest| rest.strip_suffix(" ms"))
                .and_then(|ms| ms.parse::<u64>().ok())
                .map_or_else(
                    || e.to_string(),
                    |ms| match seconds(ms).as_str() {
                        "1" => "Request timed out after 1 second".to_string(),
                        n => format!("Request timed out after {n} seconds"),
                    },
                )
        }),
        _ => r.error.clone(),
    }
}

impl From<&RunRecord> for A1BaseExecution {
    fn from(r: &RunRecord) -> Self {
        let status = status_of(r);
        A1BaseExecution {
            id: r.run_id.clone(),
            cron_job_id: r.job_id.to_string(),
            executed_at: Some(format_instant(executed_ms(r))),
            status: status.map(str::to_string),
            response_code: r.http_status,
            response_time_ms: r.duration_ms,
            response_body: r.response_body.clone(),
            error_message: error_message(r, status),
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
    /// The key or its tenant is over its request rate (`CHIME_KEY_REQUESTS_PER_SECOND`,
    /// `CHIME_TENANT_REQUESTS_PER_SECOND` or the tenant's `requestsPerSecond`), with
    /// `Retry-After` and `throttling: 0`.
    #[response(status = 429)]
    TooManyRequests(A1BaseError),
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
    /// Executions at or after this ISO 8601 instant or date (by `executed_at`).
    pub start_date: Option<String>,
    /// Executions at or before this ISO 8601 instant or date (by `executed_at`).
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
/// (1-100, default 20), `status`, and `start_date` and `end_date` on `executed_at`. Only
/// executed runs (those with an outcome) are listed; an endpoint's 3xx answer is a `failure`.
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
    path: Result<Path<(String, String)>, PathRejection>,
    query: Result<Q, QueryRejection>,
) -> Response {
    let answer = async {
        let (account, raw) = path_of(path)?;
        logs(&s, &headers, &account, &raw, params_of(query)?).await
    };
    answer
        .await
        .map_or_else(a1base_error, |page| Json(page).into_response())
}

/// What a request asks for: its page, and its filters in A1Base's terms.
struct Ask {
    page: u64,
    limit: u64,
    status: Option<String>,
    /// Bounds on `executed_at` (ms, inclusive).
    start: Option<i64>,
    end: Option<i64>,
}

impl Ask {
    fn of(q: A1BaseQuery) -> Result<Ask, ApiError> {
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
        if let Some(st) = q.status.as_deref().filter(|st| !STATUSES.contains(st)) {
            return Err(ApiError::BadRequest(format!(
                "'status' must be one of success, failure, error, timeout; got '{st}'"
            )));
        }
        let start = date_param(q.start_date.as_deref(), "start_date")?;
        let end = date_param(q.end_date.as_deref(), "end_date")?;
        if let (Some(a), Some(b)) = (start, end) {
            if a > b {
                return Err(ApiError::BadRequest(
                    "'start_date' is after 'end_date'".into(),
                ));
            }
        }
        Ok(Ask {
            page: page as u64,
            limit: limit as u64,
            status: q.status,
            start,
            end,
        })
    }

    /// The outcomes of the runs that may match (chime's; a 3xx is a `success` there).
    fn outcomes(&self) -> Vec<String> {
        match self.status.as_deref() {
            None => STATUSES.iter().map(|s| s.to_string()).collect(),
            Some("failure") => vec!["success".into(), "failure".into()],
            Some(st) => vec![st.to_string()],
        }
    }

    /// Whether the store's own filters answer exactly: no date bound (the store bounds runs by
    /// when they finished, not by `executed_at`) and no status that a 3xx moves.
    fn store_filters_suffice(&self) -> bool {
        self.start.is_none()
            && self.end.is_none()
            && !matches!(self.status.as_deref(), Some("success" | "failure"))
    }

    /// Whether an executed run matches.
    fn keeps(&self, r: &RunRecord) -> bool {
        let at = executed_ms(r);
        status_of(r).is_some_and(|st| self.status.as_deref().is_none_or(|want| want == st))
            && self.start.is_none_or(|s| at >= s)
            && self.end.is_none_or(|e| at <= e)
    }
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
    let ask = Ask::of(typed(q)?)?;
    // The query engine itself hides what is past the tenant's retention age.
    let mut query = RunQuery::new(&tenant.id, Scope::Job(job.id));
    query.outcomes = ask.outcomes();
    let skip = (ask.page - 1).saturating_mul(ask.limit);
    let (total, runs) = if ask.store_filters_suffice() {
        query.skip = skip;
        query.size = ask.limit;
        let res = s.store.query_runs(&query).await?;
        let runs = res.runs.into_iter().map(|(_, r)| r).collect();
        (res.total.unwrap_or(0), runs)
    } else {
        let lag = s.store.job_lag(&tenant.id, job.id).await?;
        dated(s, query, &ask, lag, skip).await?
    };
    Ok(A1BaseLogPage {
        data: runs.iter().map(A1BaseExecution::from).collect(),
        pagination: A1BasePagination {
            page: ask.page,
            limit: ask.limit,
            total_items: total,
            total_pages: total.div_ceil(ask.limit),
        },
    })
}

/// The runs `ask` selects (by execution time, and by a status the store cannot tell), newest
/// first (by when they finished): their number, and `ask.limit` of them after skipping `skip`.
///
/// Every run of the job finished within `lag` of its execution start (by the store's clock,
/// either way), so the runs that finished in [start + lag, end - lag] were all executed
/// within the dates: the store counts and pages that span by itself (when its outcome filter
/// is exact), and only the runs that finished within `lag` of a bound are read and filtered
/// here. Without such a span (a window narrower than twice the lag, or a status a 3xx moves),
/// every run that finished in [start - lag, end + lag] is read.
async fn dated(
    s: &AppState,
    query: RunQuery,
    ask: &Ask,
    lag: i64,
    skip: u64,
) -> Result<(u64, Vec<RunRecord>), ApiError> {
    let within = |from: Option<i64>, to: Option<i64>| {
        let mut q = query.clone();
        q.from_ms = from;
        q.to_ms = to;
        q
    };
    let keeps = |r: &RunRecord| ask.keeps(r);
    let (outer_from, outer_to) = (
        ask.start.map(|a| a.saturating_sub(lag)),
        ask.end.map(|b| b.saturating_add(lag)),
    );
    let (sure_from, sure_to) = (
        ask.start.map(|a| a.saturating_add(lag)),
        ask.end.map(|b| b.saturating_sub(lag)),
    );
    let exact = !matches!(ask.status.as_deref(), Some("success" | "failure"));
    let span = match (sure_from, sure_to) {
        (Some(f), Some(t)) => f <= t,
        _ => true,
    };
    if !(exact && span) {
        return walk(s, within(outer_from, outer_to), keeps, skip, ask.limit).await;
    }
    let (mut total, mut page) = (0u64, Vec::new());
    // Newest first: those that finished after the span, the span, those before it.
    if let (Some(t), Some(_)) = (sure_to, outer_to) {
        let (n, p) = walk(s, within(Some(t + 1), outer_to), keeps, skip, ask.limit).await?;
        total += n;
        page.extend(p);
    }
    let mut span = within(sure_from, sure_to);
    span.skip = skip.saturating_sub(total);
    span.size = (ask.limit - page.len() as u64).max(1);
    span.count = true;
    let res = s.store.query_runs(&span).await?;
    total += res.total.unwrap_or(0);
    page.extend(res.runs.into_iter().map(|(_, r)| r));
    page.truncate(ask.limit as usize);
    if let (Some(f), Some(_)) = (sure_from, outer_from) {
        let left = ask.limit - page.len() as u64;
        let before = within(outer_from, Some(f - 1));
        let (n, p) = walk(s, before, keeps, skip.saturating_sub(total), left).await?;
        total += n;
        page.extend(p);
    }
    Ok((total, page))
}

/// Reads every run `query` selects, in its order, a batch at a time, and keeps those `keeps`
/// accepts: their number, and `limit` of them after skipping `skip`.
async fn walk(
    s: &AppState,
    mut query: RunQuery,
    keeps: impl Fn(&RunRecord) -> bool,
    skip: u64,
    limit: u64,
) -> Result<(u64, Vec<RunRecord>), ApiError> {
    query.count = false;
    query.skip = 0;
    query.size = WALK_BATCH;
    let (mut total, mut page) = (0u64, vec![]);
    loop {
        let res = s.store.query_runs(&query).await?;
        let last = res.runs.last().map(|(_, r)| r.run_id.clone());
        for (_, r) in res.runs {
            if keeps(&r) {
                if total >= skip && total - skip < limit {
                    page.push(r);
                }
                total += 1;
            }
        }
        match last {
            Some(id) if res.has_more => query.after = Some(id),
            _ => return Ok((total, page)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_are_written_without_trailing_zeros() {
        assert_eq!(seconds(30_000), "30");
        assert_eq!(seconds(1_500), "1.5");
        assert_eq!(seconds(300), "0.3");
        assert_eq!(seconds(1_001), "1.001");
        assert_eq!(seconds(0), "0");
    }
}
