//! The run-log dialects of the other four seed services, each with its own paths, parameters,
//! paging, response shape and error shape, all answered by the one query engine
//! ([`chime_store::Store::query_runs`]); plus chime's live tail and export.
//!
//! - A1Base: `GET /v1/cron-jobs/{accountId}/logs/{cronJobId}` (the account is the tenant).
//! - Apify: `GET /v2/schedules/{scheduleId}/log` (the schedule's event log).
//! - Huawei CodeArts Build: `GET /v1/log/{jobId}/{buildNo}/real-time-log` (a run's text log).
//! - Losant: `GET /applications/{applicationId}/jobLogs[/{jobLogId}]` (the application is the
//!   tenant).
//! - chime: `GET /scheduler/jobs/{jobId}/runs/stream` (Server-Sent Events) and
//!   `GET /scheduler/jobs/{jobId}/runs/export` (NDJSON or CSV).

use crate::auth::{authenticate, Tenant};
use crate::error::ApiError;
use crate::AppState;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use chime_core::model::{Job, RunRecord};
use chime_core::schedule::format_instant;
use chime_store::{Order, RunQuery, Scope};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::convert::Infallible;

type Q = Query<HashMap<String, String>>;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/cron-jobs/{account}/logs/{job}", get(a1base_logs))
        .route("/v2/schedules/{schedule}/log", get(apify_log))
        .route("/v1/log/{job}/{build}/real-time-log", get(huawei_log))
        .route("/applications/{app}/jobLogs", get(losant_list))
        .route("/applications/{app}/jobLogs/{run}", get(losant_one))
        .route("/scheduler/jobs/{job}/runs/stream", get(live_tail))
        .route("/scheduler/jobs/{job}/runs/export", get(export))
}

/// Parses an ISO 8601 instant (RFC 3339, or a bare date meaning its midnight UTC).
pub fn parse_iso(s: &str) -> Option<i64> {
    if let Ok(d) = chrono::DateTime::parse_from_rfc3339(s) {
        return Some(d.timestamp_millis());
    }
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|d| d.and_utc().timestamp_millis())
}

/// An optional ISO 8601 query parameter in milliseconds; the error names it.
fn date_param(q: &HashMap<String, String>, name: &str) -> Result<Option<i64>, ApiError> {
    q.get(name)
        .map(|v| {
            parse_iso(v).ok_or_else(|| {
                ApiError::BadRequest(format!("'{name}' must be an ISO 8601 date, got '{v}'"))
            })
        })
        .transpose()
}

/// The oldest instant a query may show: now minus the tenant's retention.
async fn retention_floor(s: &AppState, tenant: &str) -> Result<i64, ApiError> {
    let now = s.store.now_ms().await?;
    let keep = s.store.tenant_retention(tenant).await? as i64;
    Ok((now - keep).max(0))
}

/// A dialect's error body for an [`ApiError`] (server faults are logged, not described).
fn dialect_error(e: ApiError, body: impl Fn(StatusCode, &str) -> Value) -> Response {
    let status = e.status();
    let msg = if let ApiError::Internal(inner) = &e {
        tracing::error!(error = ?inner, "request failed");
        "internal error".to_string()
    } else {
        e.to_string()
    };
    let mut resp = (status, Json(body(status, &msg))).into_response();
    if status == StatusCode::UNAUTHORIZED {
        resp.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            header::HeaderValue::from_static("Bearer realm=\"chime\", Basic realm=\"chime\""),
        );
    }
    resp
}

async fn job_of(s: &AppState, tenant: &str, raw: &str) -> Result<Option<Job>, ApiError> {
    match raw.parse::<u64>() {
        Ok(id) => Ok(s.store.job(tenant, id).await?),
        Err(_) => Ok(None),
    }
}

/// Parses an integer query parameter; `Err` names it.
fn int_param(q: &HashMap<String, String>, name: &str) -> Result<Option<i64>, String> {
    match q.get(name) {
        None => Ok(None),
        Some(v) => v
            .trim()
            .parse::<i64>()
            .map(Some)
            .map_err(|_| format!("'{name}' must be an integer, got '{v}'")),
    }
}

// ------------------------------------------------------------------------------------ A1Base

const A1BASE_STATUSES: [&str; 4] = ["success", "failure", "error", "timeout"];

fn a1base_error(e: ApiError) -> Response {
    dialect_error(
        e,
        |status, msg| json!({"success": false, "error": {"code": status.as_u16(), "message": msg}}),
    )
}

fn a1base_run(r: &RunRecord) -> Value {
    json!({
        "id": r.run_id,
        "cron_job_id": r.job_id.to_string(),
        "executed_at": r.executed_at.or(Some(r.scheduled_at)).map(format_instant),
        "status": r.outcome,
        "response_code": r.http_status,
        "response_body": r.response_body,
        "error_message": r.error,
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
        crate::openapi::A1BaseQuery,
    ),
    responses(
        (status = 200, description = "A page of executions", body = crate::openapi::A1BaseLogPage),
        crate::openapi::A1BaseErrors,
    ),
    security(("bearerKey" = []), ("basicKey" = []), ("apiKeyId" = [], "apiKeySecret" = []), ("authToken" = []))
)]
async fn a1base_logs(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path((account, raw)): Path<(String, String)>,
    Query(q): Q,
) -> Response {
    a1base_inner(&s, &headers, &account, &raw, &q)
        .await
        .unwrap_or_else(a1base_error)
}

async fn a1base_inner(
    s: &AppState,
    headers: &HeaderMap,
    account: &str,
    raw: &str,
    q: &HashMap<String, String>,
) -> Result<Response, ApiError> {
    let tenant = authenticate(s, headers, None).await?;
    tenant.require("read")?;
    if account != tenant.id {
        return Err(ApiError::NotFound(format!("account {account} not found")));
    }
    let job = job_of(s, &tenant.id, raw)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("cron job {raw} not found")))?;
    let bad = ApiError::BadRequest;
    let page = int_param(q, "page").map_err(bad)?.unwrap_or(1);
    if page < 1 {
        return Err(ApiError::BadRequest("'page' must be 1 or greater".into()));
    }
    let limit = int_param(q, "limit").map_err(bad)?.unwrap_or(20);
    if !(1..=100).contains(&limit) {
        return Err(ApiError::BadRequest(
            "'limit' must be between 1 and 100".into(),
        ));
    }
    let outcomes = match q.get("status") {
        None => A1BASE_STATUSES.iter().map(|s| s.to_string()).collect(),
        Some(st) if A1BASE_STATUSES.contains(&st.as_str()) => vec![st.clone()],
        Some(st) => {
            return Err(ApiError::BadRequest(format!(
                "'status' must be one of success, failure, error, timeout; got '{st}'"
            )))
        }
    };
    let date = |name: &str| date_param(q, name);
    let (start, end) = (date("start_date")?, date("end_date")?);
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
    query.skip = ((page - 1) as u64).saturating_mul(limit as u64);
    query.size = limit as u64;
    let res = s.store.query_runs(&query).await?;
    let total = res.total.unwrap_or(0);
    Ok(Json(json!({
        "data": res.runs.iter().map(|(_, r)| a1base_run(r)).collect::<Vec<_>>(),
        "pagination": {
            "page": page,
            "limit": limit,
            "total_items": total,
            "total_pages": total.div_ceil(limit as u64),
        }
    }))
    .into_response())
}

// ------------------------------------------------------------------------------------- Apify

fn apify_error(e: ApiError) -> Response {
    dialect_error(e, |status, msg| {
        let kind = match status {
            StatusCode::NOT_FOUND => "record-not-found",
            StatusCode::UNAUTHORIZED => "token-not-valid",
            StatusCode::FORBIDDEN => "insufficient-permissions",
            StatusCode::BAD_REQUEST => "invalid-input",
            _ => "internal-server-error",
        };
        json!({"error": {"type": kind, "message": msg}})
    })
}

/// Apify: the schedule's event log, oldest first, the latest 1,000 entries at most. The key
/// may also be given as the `token` query parameter, as Apify allows.
#[utoipa::path(
    get, path = "/v2/schedules/{scheduleId}/log", tag = "apify", operation_id = "apifyScheduleLog",
    summary = "A schedule's event log, oldest first (the latest 1,000 entries at most)",
    params(
        ("scheduleId" = String, Path, description = "The schedule id"),
        crate::openapi::ApifyQuery,
    ),
    responses(
        (status = 200, description = "The log", body = crate::openapi::ApifyLog),
        crate::openapi::ApifyErrors,
    ),
    security(("bearerKey" = []), ("basicKey" = []), ("apiKeyId" = [], "apiKeySecret" = []), ("authToken" = []), ("queryToken" = []))
)]
async fn apify_log(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path(schedule): Path<String>,
    Query(q): Q,
) -> Response {
    async {
        let tenant = authenticate(&s, &headers, q.get("token").map(String::as_str)).await?;
        tenant.require("read")?;
        s.store
            .job_of_schedule(&tenant.id, &schedule)
            .await?
            .ok_or_else(|| ApiError::NotFound("Schedule was not found".into()))?;
        let mut events = s.store.schedule_events(&tenant.id, &schedule, 1000).await?;
        events.reverse();
        Ok::<_, ApiError>(
            Json(json!({
                "data": events
                    .iter()
                    .map(|(ms, level, message)| json!({"message": message, "level": level, "createdAt": format_instant(*ms)}))
                    .collect::<Vec<_>>()
            }))
            .into_response(),
        )
    }
    .await
    .unwrap_or_else(apify_error)
}

// ------------------------------------------------------------------------------------ Huawei

fn huawei_error(e: ApiError) -> Response {
    dialect_error(
        e,
        |status, msg| json!({"error_code": format!("CHIME.{:08}", status.as_u16()), "error_msg": msg}),
    )
}

/// Huawei CodeArts Build: run number `build` of a job, its text log read by byte offsets.
/// `start_offset` and `end_offset` are required, `size` (0-1000) defaults to 1000; the answer holds the bytes
/// from `start_offset` up to `end_offset` or `size` bytes, whichever is first, and `has_more`
/// is true while the run is live or more text remains. `sort=DESC` returns the lines of that
/// slice newest first.
#[utoipa::path(
    get, path = "/v1/log/{jobId}/{buildNo}/real-time-log", tag = "huawei", operation_id = "huaweiRealTimeLog",
    summary = "A slice of a run's text log, by byte offsets",
    params(
        ("jobId" = String, Path, description = "The job id"),
        ("buildNo" = u64, Path, minimum = 1, description = "The run number (1, 2, 3 … in fire order)"),
        crate::openapi::HuaweiQuery,
    ),
    responses(
        (status = 200, description = "The slice", body = crate::openapi::HuaweiLog),
        crate::openapi::HuaweiErrors,
    ),
    security(("bearerKey" = []), ("basicKey" = []), ("apiKeyId" = [], "apiKeySecret" = []), ("authToken" = []))
)]
async fn huawei_log(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path((raw, build)): Path<(String, String)>,
    Query(q): Q,
) -> Response {
    async {
        let tenant = authenticate(&s, &headers, None).await?;
        tenant.require("read")?;
        let job = job_of(&s, &tenant.id, &raw)
            .await?
            .ok_or_else(|| ApiError::NotFound(format!("job {raw} not found")))?;
        let number: u64 = build.parse().ok().filter(|n| *n >= 1).ok_or_else(|| {
            ApiError::BadRequest(format!(
                "'build_no' must be an integer of 1 or more, got '{build}'"
            ))
        })?;
        let required = |name: &str| -> Result<u64, ApiError> {
            match int_param(&q, name).map_err(ApiError::BadRequest)? {
                None => Err(ApiError::BadRequest(format!("'{name}' is required"))),
                Some(v) if v < 0 => Err(ApiError::BadRequest(format!(
                    "'{name}' must be 0 or greater"
                ))),
                Some(v) => Ok(v as u64),
            }
        };
        let start = required("start_offset")?;
        let end = required("end_offset")?;
        // `size` is marked mandatory by the seed, with a default of 1000: absent means 1000.
        let size = if q.contains_key("size") {
            required("size")?
        } else {
            1000
        };
        if size > 1000 {
            return Err(ApiError::BadRequest("'size' must be at most 1000".into()));
        }
        let desc = match q.get("sort").map(|v| v.to_uppercase()) {
            None => false,
            Some(v) if v == "ASC" || v == "AES" => false,
            Some(v) if v == "DESC" => true,
            Some(v) => {
                return Err(ApiError::BadRequest(format!(
                    "'sort' must be ASC or DESC, got '{v}'"
                )))
            }
        };
        let run_id = s
            .store
            .run_by_number(&tenant.id, job.id, number)
            .await?
            .ok_or_else(|| ApiError::NotFound(format!("build {number} of job {raw} not found")))?;
        let run =
            s.store.run(&tenant.id, &run_id).await?.ok_or_else(|| {
                ApiError::NotFound(format!("build {number} of job {raw} not found"))
            })?;
        let log = run.log.as_str();
        let (from, to) = log_window(log, start, end, size);
        let mut text = log[from..to].to_string();
        if desc {
            text = text.split_inclusive('\n').rev().collect();
        }
        let live = run.status != "COMPLETED";
        Ok::<_, ApiError>(
            Json(json!({
                "result": {
                    "start_offset": from.to_string(),
                    "end_offset": to.to_string(),
                    "log": text,
                    "has_more": live || to < log.len(),
                    "location": "chime",
                },
                "error": null,
                "status": "success",
            }))
            .into_response(),
        )
    }
    .await
    .unwrap_or_else(huawei_error)
}

/// The byte window `[from, to)` of `log` for a request: from `start` up to `end` or `size`
/// bytes, whichever is first, never splitting a character (a window that would hold only part
/// of one holds the whole character), so reading on from `to` reassembles the text exactly.
fn log_window(log: &str, start: u64, end: u64, size: u64) -> (usize, usize) {
    let len = log.len();
    let mut from = (start.min(len as u64)) as usize;
    while !log.is_char_boundary(from) {
        from += 1;
    }
    let limit = (end.min(start.saturating_add(size)).min(len as u64) as usize).max(from);
    let mut to = limit;
    while !log.is_char_boundary(to) {
        to -= 1;
    }
    if to == from && limit > from {
        to = from + 1;
        while !log.is_char_boundary(to) {
            to += 1;
        }
    }
    (from, to)
}

// ------------------------------------------------------------------------------------ Losant

fn losant_error(e: ApiError) -> Response {
    dialect_error(e, |status, msg| {
        let kind = match status {
            StatusCode::NOT_FOUND => "NotFound",
            StatusCode::UNAUTHORIZED => "Unauthorized",
            StatusCode::FORBIDDEN => "Forbidden",
            StatusCode::BAD_REQUEST => "Validation",
            _ => "InternalError",
        };
        json!({"type": kind, "message": msg})
    })
}

/// Losant's job status of a run.
fn losant_status(r: &RunRecord) -> &'static str {
    match (r.status.as_str(), r.outcome.as_deref()) {
        ("SCHEDULED", _) => "queued",
        ("RUNNING", _) => "inProgress",
        (_, Some("success")) => "completed",
        (_, Some("failure")) => "failed",
        _ => "errored",
    }
}

fn losant_log(app: &str, r: &RunRecord, job_name: &str) -> Value {
    json!({
        "id": r.run_id,
        "applicationJobLogId": r.run_id,
        "applicationId": app,
        "resourceType": "job",
        "resourceId": r.job_id.to_string(),
        "name": job_name,
        "status": losant_status(r),
        "runQueuedAt": format_instant(r.created_at),
        "runStartedAt": r.executed_at.map(format_instant),
        "runCompletedAt": r.completed_at.map(format_instant),
        "scheduledAt": format_instant(r.scheduled_at),
        "details": {
            "scheduleId": r.schedule_id,
            "runNumber": r.number,
            "runStatus": r.status,
            "runState": r.state,
            "httpStatus": r.http_status,
            "outcome": r.outcome.as_deref().filter(|o| !o.is_empty()),
            "errorMessage": r.error,
            "responseBody": r.response_body,
        }
    })
}

async fn losant_tenant(s: &AppState, headers: &HeaderMap, app: &str) -> Result<Tenant, ApiError> {
    let tenant = authenticate(s, headers, None).await?;
    tenant.require("read")?;
    if app != tenant.id {
        return Err(ApiError::NotFound("Application was not found".into()));
    }
    Ok(tenant)
}

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
        ("applicationId" = String, Path, description = "The application: the key's tenant id"),
        ("jobLogId" = String, Path, description = "The job log: a run id"),
    ),
    responses(
        (status = 200, description = "The job log", body = crate::openapi::LosantJobLog),
        crate::openapi::LosantErrors,
    ),
    security(("bearerKey" = []), ("basicKey" = []), ("apiKeyId" = [], "apiKeySecret" = []), ("authToken" = []))
)]
async fn losant_one(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path((app, run)): Path<(String, String)>,
) -> Response {
    async {
        let tenant = losant_tenant(&s, &headers, &app).await?;
        let floor = retention_floor(&s, &tenant.id).await?;
        let r = s
            .store
            .run(&tenant.id, &run)
            .await?
            .filter(|r| r.created_at >= floor)
            .ok_or_else(|| ApiError::NotFound("Application job log was not found".into()))?;
        let names = job_names(&s, &tenant.id, &[&r]).await?;
        Ok::<_, ApiError>(Json(losant_log(&app, &r, &names[&r.job_id])).into_response())
    }
    .await
    .unwrap_or_else(losant_error)
}

/// Losant: the application's job logs, `page` (from 0), `perPage` (1-1000, default 100),
/// `sortField` (`runQueuedAt`, the only order the run log keeps), `sortDirection` (`asc`
/// default, or `desc`).
#[utoipa::path(
    get, path = "/applications/{applicationId}/jobLogs", tag = "losant", operation_id = "losantJobLogs",
    summary = "The application's job logs (runs)",
    params(
        ("applicationId" = String, Path, description = "The application: the key's tenant id"),
        crate::openapi::LosantQuery,
    ),
    responses(
        (status = 200, description = "A page of job logs", body = crate::openapi::LosantJobLogList),
        crate::openapi::LosantErrors,
    ),
    security(("bearerKey" = []), ("basicKey" = []), ("apiKeyId" = [], "apiKeySecret" = []), ("authToken" = []))
)]
async fn losant_list(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path(app): Path<String>,
    Query(q): Q,
) -> Response {
    async {
        let tenant = losant_tenant(&s, &headers, &app).await?;
        let bad = ApiError::BadRequest;
        let page = int_param(&q, "page").map_err(bad)?.unwrap_or(0);
        if page < 0 {
            return Err(ApiError::BadRequest("'page' must be 0 or greater".into()));
        }
        let per_page = int_param(&q, "perPage").map_err(bad)?.unwrap_or(100);
        if !(1..=1000).contains(&per_page) {
            return Err(ApiError::BadRequest(
                "'perPage' must be between 1 and 1000".into(),
            ));
        }
        let sort_field = q
            .get("sortField")
            .cloned()
            .unwrap_or_else(|| "runQueuedAt".into());
        if sort_field != "runQueuedAt" {
            return Err(ApiError::BadRequest(format!(
                "'sortField' {sort_field} is not supported; job logs are ordered by runQueuedAt"
            )));
        }
        let direction = q
            .get("sortDirection")
            .cloned()
            .unwrap_or_else(|| "asc".into());
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
        query.skip = (page as u64).saturating_mul(per_page as u64);
        query.size = per_page as u64;
        let res = s.store.query_runs(&query).await?;
        let records: Vec<&RunRecord> = res.runs.iter().map(|(_, r)| r).collect();
        let names = job_names(&s, &tenant.id, &records).await?;
        let items: Vec<Value> = records
            .iter()
            .map(|r| losant_log(&app, r, &names[&r.job_id]))
            .collect();
        Ok(Json(json!({
            "items": items,
            "count": items.len(),
            "totalCount": res.total.unwrap_or(0),
            "perPage": per_page,
            "page": page,
            "sortField": sort_field,
            "sortDirection": direction,
            "applicationId": app,
        }))
        .into_response())
    }
    .await
    .unwrap_or_else(losant_error)
}

// ------------------------------------------------------------------------ live tail, export

/// Server-Sent Events: each run of the job as its result is recorded (event `run`, SAP's
/// run-log entry with chime's details).
#[utoipa::path(
    get, path = "/scheduler/jobs/{jobId}/runs/stream", tag = "live", operation_id = "liveTail",
    summary = "Server-Sent Events: each run of the job as its result is recorded",
    description = "Each event is named `run`, has the run id as its id, and carries the run in detail (the `RunDetail` schema) as JSON data. Comments keep the connection alive.",
    params(("jobId" = String, Path, description = "The job id")),
    responses(
        (status = 200, description = "An endless event stream", content_type = "text/event-stream", body = String),
        crate::openapi::SapErrors,
    ),
    security(("bearerKey" = []), ("basicKey" = []), ("apiKeyId" = [], "apiKeySecret" = []), ("authToken" = []))
)]
async fn live_tail(
    State(s): State<AppState>,
    tenant: Tenant,
    Path(raw): Path<String>,
) -> Result<Response, ApiError> {
    tenant.require("read")?;
    let job = job_of(&s, &tenant.id, &raw)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("job {raw} does not exist")))?;
    // Announced before the head is read: every result recorded after the head is on the
    // stream.
    s.store.announce_tail(&tenant.id, job.id).await?;
    let start = s.store.done_head(&tenant.id, job.id).await?;
    let state = (s, tenant.id, job.id, start, Vec::<Event>::new());
    let stream =
        futures::stream::unfold(state, |(s, tenant, job, mut last, mut queue)| async move {
            loop {
                if let Some(ev) = queue.pop() {
                    return Some((Ok::<_, Infallible>(ev), (s, tenant, job, last, queue)));
                }
                let waited = async {
                    s.store.announce_tail(&tenant, job).await?;
                    s.store.wait_done(&tenant, job, &last, 5000).await
                };
                let batch = match waited.await {
                    Ok(b) => b,
                    Err(e) => {
                        tracing::warn!(error = %e, "live tail read failed; closing");
                        return None;
                    }
                };
                for (id, run) in batch {
                    last = id;
                    if let Ok(Some(r)) = s.store.run(&tenant, &run).await {
                        let data = crate::views::run_detail(&r).to_string();
                        queue.insert(
                            0,
                            Event::default()
                                .event("run")
                                .id(r.run_id.clone())
                                .data(data),
                        );
                    }
                }
            }
        });
    Ok(Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response())
}

/// Streams the job's runs oldest first as NDJSON (or CSV with `Accept: text/csv`), optionally
/// within `from` and `to` (ISO 8601).
#[utoipa::path(
    get, path = "/scheduler/jobs/{jobId}/runs/export", tag = "live", operation_id = "exportRuns",
    summary = "The job's runs, oldest first, as NDJSON or (with `Accept: text/csv`) CSV",
    params(
        ("jobId" = String, Path, description = "The job id"),
        ("Accept" = Option<String>, Header, nullable = false, description = "`text/csv` for CSV; NDJSON otherwise"),
        crate::openapi::ExportQuery,
    ),
    responses(
        (status = 200, description = "The runs: one `RunDetail` JSON object per line, or CSV with the header `runId,runNumber,scheduleId,scheduleTimestamp,executionTimestamp,completionTimestamp,runStatus,runState,outcome,httpStatus,durationMs,errorMessage`",
            content(
                (crate::openapi::RunDetail = "application/x-ndjson"),
                (String = "text/csv"),
            )),
        crate::openapi::SapErrors,
    ),
    security(("bearerKey" = []), ("basicKey" = []), ("apiKeyId" = [], "apiKeySecret" = []), ("authToken" = []))
)]
async fn export(
    State(s): State<AppState>,
    tenant: Tenant,
    headers: HeaderMap,
    Path(raw): Path<String>,
    Query(q): Q,
) -> Result<Response, ApiError> {
    tenant.require("read")?;
    let job = job_of(&s, &tenant.id, &raw)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("job {raw} does not exist")))?;
    let date = |name: &str| date_param(&q, name);
    let mut query = RunQuery::new(&tenant.id, Scope::Job(job.id));
    query.from_ms = date("from")?;
    query.to_ms = date("to")?;
    query.order = Order::OldestFirst;
    query.size = 500;
    query.count = false;
    let csv = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/csv"));
    const COLUMNS: &str = "runId,runNumber,scheduleId,scheduleTimestamp,executionTimestamp,completionTimestamp,runStatus,runState,outcome,httpStatus,durationMs,errorMessage\n";
    let head = if csv { Some(COLUMNS.to_string()) } else { None };
    let stream = futures::stream::unfold(
        (s, query, false, head),
        move |(s, mut query, done, head)| async move {
            if let Some(h) = head {
                return Some((Ok::<_, std::io::Error>(h), (s, query, done, None)));
            }
            if done {
                return None;
            }
            let page = match s.store.query_runs(&query).await {
                Ok(p) => p,
                Err(e) => {
                    return Some((
                        Err(std::io::Error::other(e.to_string())),
                        (s, query, true, None),
                    ))
                }
            };
            if page.runs.is_empty() {
                return None;
            }
            let mut chunk = String::new();
            for (_, r) in &page.runs {
                if csv {
                    chunk.push_str(&csv_line(r));
                } else {
                    chunk.push_str(&crate::views::run_detail(r).to_string());
                    chunk.push('\n');
                }
            }
            query.after = page.runs.last().map(|(id, _)| id.clone());
            let done = !page.has_more;
            Some((Ok(chunk), (s, query, done, None)))
        },
    );
    let ctype = if csv {
        "text/csv"
    } else {
        "application/x-ndjson"
    };
    Ok((
        [(header::CONTENT_TYPE, ctype)],
        axum::body::Body::from_stream(stream),
    )
        .into_response())
}

fn csv_field(v: &str) -> String {
    if v.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", v.replace('"', "\"\""))
    } else {
        v.to_string()
    }
}

fn csv_line(r: &RunRecord) -> String {
    let opt = |v: Option<i64>| v.map(format_instant).unwrap_or_default();
    [
        r.run_id.clone(),
        r.number.to_string(),
        r.schedule_id.clone(),
        format_instant(r.scheduled_at),
        opt(r.executed_at),
        opt(r.completed_at),
        r.status.clone(),
        r.state.clone(),
        r.outcome.clone().unwrap_or_default(),
        r.http_status.map(|h| h.to_string()).unwrap_or_default(),
        r.duration_ms.map(|d| d.to_string()).unwrap_or_default(),
        r.error.clone().unwrap_or_default(),
    ]
    .iter()
    .map(|f| csv_field(f))
    .collect::<Vec<_>>()
    .join(",")
        + "\n"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_dates() {
        assert_eq!(parse_iso("2024-01-01T00:00:00Z"), Some(1_704_067_200_000));
        assert_eq!(parse_iso("2024-01-01"), Some(1_704_067_200_000));
        assert_eq!(parse_iso("yesterday"), None);
    }

    #[test]
    fn log_windows_never_split_characters() {
        let log = "ab✓cd注文\n";
        let mut out = String::new();
        let mut at = 0u64;
        loop {
            let (from, to) = log_window(log, at, u64::MAX, 2);
            if from == to {
                break;
            }
            out.push_str(&log[from..to]);
            at = to as u64;
        }
        assert_eq!(out, log);
        assert_eq!(log_window(log, 3, 100, 1), (5, 5));
        assert_eq!(log_window(log, 2, 100, 1), (2, 5), "a whole character");
        assert_eq!(log_window(log, 0, 0, 10), (0, 0));
        assert_eq!(log_window(log, 100, 200, 10), (log.len(), log.len()));
    }

    #[test]
    fn csv_quotes_what_needs_it() {
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"x\""), "\"say \"\"x\"\"\"");
        assert_eq!(csv_field("plain"), "plain");
    }
}
