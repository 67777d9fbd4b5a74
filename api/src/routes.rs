//! Handlers and the router.

use crate::auth::{Admin, Tenant, SCOPES};
use crate::error::{ApiError, ApiResult};
use crate::input::{self, object, query_u64};
use crate::openapi::ApiDoc;
use crate::{views, AppState};
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, FromRequest, Path, Query, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use chime_core::model::{Job, Schedule};
use chime_core::schedule::Plan;
use chime_store::{hash_secret, ActionLog, ApiKey, Order, RunQuery, RunUpdate, Scope};
use chrono::{DateTime, TimeZone, Utc};
use rand::RngCore;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::time::Instant;
use utoipa::OpenApi;
use utoipa_swagger_ui::SwaggerUi;

type Q = Query<HashMap<String, String>>;

/// All routes of the API.
pub fn router(state: AppState) -> Router {
    let limit = state.settings.max_request_bytes;
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/admin/tenants", post(create_tenant))
        .route("/admin/tenants/{tenant}", put(configure_tenant))
        .route("/admin/tenants/{tenant}/keys", post(create_key))
        .route("/scheduler/actionLogs", get(action_logs))
        .route("/scheduler/jobs", get(list_jobs).post(create_job))
        .route("/scheduler/jobCount", get(job_count))
        .route(
            "/scheduler/jobs/{job}",
            get(get_job).put(put_job).delete(delete_job),
        )
        .route(
            "/scheduler/jobs/{job}/schedules",
            get(list_schedules)
                .post(create_schedule)
                .delete(delete_schedules),
        )
        .route(
            "/scheduler/jobs/{job}/schedules/activationStatus",
            post(activation_status),
        )
        .route(
            "/scheduler/jobs/{job}/schedules/{schedule}",
            get(get_schedule).put(put_schedule).delete(delete_schedule),
        )
        .route(
            "/scheduler/jobs/{job}/schedules/{schedule}/runs",
            get(list_runs),
        )
        .route(
            "/scheduler/jobs/{job}/schedules/{schedule}/runs/{run}",
            put(update_run).get(get_run),
        )
        .merge(crate::dialects::routes())
        .merge(SwaggerUi::new("/docs").url("/openapi.json", ApiDoc::openapi()))
        .fallback(|| async { ApiError::NotFound("no such route".into()) })
        .layer(DefaultBodyLimit::max(limit))
        .layer(middleware::from_fn(observe))
        .with_state(state)
}

async fn observe(req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = req.method().to_string();
    let resp = next.run(req).await;
    let status = resp.status().as_u16().to_string();
    metrics::counter!("chime_api_requests_total", "method" => method, "status" => status)
        .increment(1);
    metrics::histogram!("chime_api_request_duration_seconds")
        .record(started.elapsed().as_secs_f64());
    resp
}

#[utoipa::path(
    get, path = "/healthz", tag = "ops", operation_id = "healthz",
    summary = "Liveness",
    responses((status = 200, description = "The process is up", body = String, content_type = "text/plain", example = "ok"))
)]
async fn healthz() -> &'static str {
    "ok"
}

#[utoipa::path(
    get, path = "/metrics", tag = "ops", operation_id = "metrics",
    summary = "Prometheus metrics",
    responses((status = 200, description = "Metrics in the Prometheus text format", body = String, content_type = "text/plain"))
)]
async fn metrics() -> String {
    chime_runtime::telemetry::metrics().render()
}

#[utoipa::path(
    get, path = "/readyz", tag = "ops", operation_id = "readyz",
    summary = "Readiness: Redis and RabbitMQ reachable",
    responses(
        (status = 200, description = "Ready", body = String, content_type = "text/plain", example = "ready"),
        (status = 503, description = "Redis or RabbitMQ is not reachable; the text names which", body = String, content_type = "text/plain"),
    )
)]
async fn readyz(State(s): State<AppState>) -> Response {
    if let Err(e) = s.store.ping().await {
        return (StatusCode::SERVICE_UNAVAILABLE, format!("redis: {e}")).into_response();
    }
    if let Err(e) = s.broker.ready().await {
        return (StatusCode::SERVICE_UNAVAILABLE, format!("rabbitmq: {e}")).into_response();
    }
    (StatusCode::OK, "ready").into_response()
}

/// A JSON request body: 413 past the size cap, 400 naming the problem when malformed.
pub struct JsonBody(pub Value);

impl FromRequest<AppState> for JsonBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::PayloadTooLarge(state.settings.max_request_bytes)
            } else {
                ApiError::BadRequest(format!("cannot read the request body: {e}"))
            }
        })?;
        if bytes.is_empty() {
            return Err(ApiError::BadRequest(
                "the request body is empty; a JSON object is expected".into(),
            ));
        }
        serde_json::from_slice(&bytes)
            .map(JsonBody)
            .map_err(|e| ApiError::BadRequest(format!("malformed JSON in the request body: {e}")))
    }
}

fn utc(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms).single().unwrap_or_default()
}

async fn now(s: &AppState) -> ApiResult<(i64, DateTime<Utc>)> {
    let ms = s.store.now_ms().await?;
    Ok((ms, utc(ms)))
}

fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut buf);
    hex::encode(buf)
}

// ---------------------------------------------------------------- admin

#[utoipa::path(
    post, path = "/admin/tenants", tag = "admin", operation_id = "createTenant",
    summary = "Create a tenant",
    request_body = crate::openapi::CreateTenantRequest,
    responses(
        (status = 201, description = "The tenant", body = crate::openapi::TenantCreated),
        (status = 400, description = "Invalid body", body = crate::openapi::SapError),
        (status = 401, description = "Missing or invalid admin token", body = crate::openapi::SapError),
        (status = 413, description = "The body is too large", body = crate::openapi::SapError),
        (status = 500, description = "A server fault", body = crate::openapi::SapError),
    ),
    security(("adminToken" = []))
)]
async fn create_tenant(
    State(s): State<AppState>,
    _: Admin,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    let obj = object(&body, "Error while creating tenant")?;
    let name = match obj.get("name") {
        Some(Value::String(n)) if !n.trim().is_empty() && n.len() <= 255 => n.clone(),
        _ => {
            return Err(ApiError::BadRequest(
                "Error while creating tenant: 'name' must be a non-empty string of at most 255 characters".into(),
            ))
        }
    };
    let id = random_hex(12);
    let (ms, _) = now(&s).await?;
    s.store
        .create_tenant(&id, &name, &chime_core::schedule::format_instant(ms))
        .await?;
    tracing::info!(tenant = %id, "tenant created");
    Ok((StatusCode::CREATED, Json(json!({"id": id, "name": name}))).into_response())
}

#[utoipa::path(
    post, path = "/admin/tenants/{tenantId}/keys", tag = "admin", operation_id = "createKey",
    summary = "Create an API key for a tenant",
    params(("tenantId" = String, Path, description = "The tenant id")),
    request_body = crate::openapi::CreateKeyRequest,
    responses(
        (status = 201, description = "The key; its secret is shown only here", body = crate::openapi::ApiKeyCreated),
        (status = 400, description = "Invalid body", body = crate::openapi::SapError),
        (status = 401, description = "Missing or invalid admin token", body = crate::openapi::SapError),
        (status = 404, description = "No such tenant", body = crate::openapi::SapError),
        (status = 413, description = "The body is too large", body = crate::openapi::SapError),
        (status = 500, description = "A server fault", body = crate::openapi::SapError),
    ),
    security(("adminToken" = []))
)]
async fn create_key(
    State(s): State<AppState>,
    _: Admin,
    Path(tenant): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    if !s.store.tenant_exists(&tenant).await? {
        return Err(ApiError::NotFound(format!(
            "tenant {tenant} does not exist"
        )));
    }
    let obj = object(&body, "Error while creating key")?;
    let scopes: Vec<String> = match obj.get("scopes") {
        None => vec!["read".into(), "write".into(), "run-update".into()],
        Some(Value::Array(items)) => {
            let mut out = Vec::new();
            for it in items {
                match it.as_str() {
                    Some(sc) if SCOPES.contains(&sc) => out.push(sc.to_string()),
                    _ => {
                        return Err(ApiError::BadRequest(format!(
                            "Error while creating key: 'scopes' entries must be one of {}",
                            SCOPES.join(", ")
                        )))
                    }
                }
            }
            out
        }
        Some(_) => {
            return Err(ApiError::BadRequest(
                "Error while creating key: 'scopes' must be an array".into(),
            ))
        }
    };
    let id = format!("k{}", random_hex(8));
    let secret = random_hex(24);
    s.store
        .create_api_key(&ApiKey {
            id: id.clone(),
            tenant: tenant.clone(),
            secret_sha256: hash_secret(&secret),
            scopes: scopes.clone(),
        })
        .await?;
    tracing::info!(tenant = %tenant, key = %id, "api key created");
    Ok((
        StatusCode::CREATED,
        Json(json!({"id": id, "secret": secret, "token": format!("{id}.{secret}"), "scopes": scopes, "tenantId": tenant})),
    )
        .into_response())
}

// ---------------------------------------------------------------- jobs

fn job_id(raw: &str) -> ApiResult<u64> {
    raw.parse::<u64>()
        .map_err(|_| ApiError::NotFound(format!("job {raw} does not exist")))
}

async fn load_job(s: &AppState, tenant: &Tenant, raw: &str) -> ApiResult<Job> {
    let id = job_id(raw)?;
    s.store
        .job(&tenant.id, id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("job {raw} does not exist")))
}

/// Takes every schedule of a job out of the due index; returns the schedules.
async fn unschedule_all(s: &AppState, tenant: &str, job: u64) -> ApiResult<Vec<Schedule>> {
    let schedules = s.store.schedules(tenant, job).await?;
    for sc in &schedules {
        s.store
            .set_due(
                s.settings.due_partitions,
                tenant,
                job,
                &sc.schedule_id,
                None,
            )
            .await?;
    }
    Ok(schedules)
}

/// Puts a schedule's next fire in the due index (or takes it out when it will not fire).
async fn sync_due(
    s: &AppState,
    tenant: &str,
    job: &Job,
    sched: &Schedule,
    now: i64,
) -> ApiResult<Option<i64>> {
    let next = if job.active && sched.active {
        Plan::from_schedule(sched).ok().and_then(|p| p.first(now))
    } else {
        None
    };
    s.store
        .set_due(
            s.settings.due_partitions,
            tenant,
            job.id,
            &sched.schedule_id,
            next,
        )
        .await?;
    Ok(next)
}

async fn schedule_views(s: &AppState, tenant: &str, job: &Job) -> ApiResult<Vec<Value>> {
    let mut out = Vec::new();
    for sc in s.store.schedules(tenant, job.id).await? {
        let next = s
            .store
            .due_of(s.settings.due_partitions, tenant, job.id, &sc.schedule_id)
            .await?;
        out.push(views::schedule(&sc, job.id, next));
    }
    Ok(out)
}

#[utoipa::path(
    post, path = "/scheduler/jobs", tag = "sap", operation_id = "createJob",
    summary = "Create a job with its schedules",
    request_body = crate::openapi::JobRequest,
    responses(
        (status = 201, description = "The job with its schedules", body = crate::openapi::SapJob,
            headers(("Location" = String, description = "`/scheduler/jobs/{jobId}`"))),
        (status = 409, description = "A job of that name exists", body = crate::openapi::SapError),
        (status = 413, description = "The body is too large", body = crate::openapi::SapError),
        crate::openapi::SapErrors,
    ),
    security(("bearerKey" = []), ("basicKey" = []), ("apiKeyId" = [], "apiKeySecret" = []), ("authToken" = []))
)]
async fn create_job(
    State(s): State<AppState>,
    tenant: Tenant,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    tenant.require("write")?;
    let (ms, now) = now(&s).await?;
    let obj = object(&body, "Error while creating job")?;
    let id = s.store.next_job_id().await?;
    let job = input::new_job(&obj, id, s.settings.default_timeout_ms, now)?;
    let schedules = input::schedules_of(&obj, now)?;
    let (job, schedules) = store_new_job(&s, &tenant, job, schedules, ms).await?;
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, format!("/scheduler/jobs/{}", job.id))],
        Json(views::job(&job, Some(schedules))),
    )
        .into_response())
}

async fn store_new_job(
    s: &AppState,
    tenant: &Tenant,
    job: Job,
    schedules: Vec<Schedule>,
    ms: i64,
) -> ApiResult<(Job, Vec<Value>)> {
    if !s
        .store
        .reserve_job_name(&tenant.id, &job.name, job.id)
        .await?
    {
        return Err(ApiError::Conflict(format!(
            "Error while creating job: a job named '{}' already exists",
            job.name
        )));
    }
    s.store.put_job(&tenant.id, &job, &schedules).await?;
    let mut views_out = Vec::new();
    for sc in &schedules {
        let next = sync_due(s, &tenant.id, &job, sc, ms).await?;
        views_out.push(views::schedule(sc, job.id, next));
    }
    tracing::info!(tenant = %tenant.id, job_id = job.id, schedules = schedules.len(), "job created");
    audit(
        s,
        tenant,
        job.id,
        None,
        "CREATE_JOB",
        format!(
            "job '{}' created with {} schedules",
            job.name,
            schedules.len()
        ),
    )
    .await;
    Ok((job, views_out))
}

#[utoipa::path(
    get, path = "/scheduler/jobs/{jobId}", tag = "sap", operation_id = "getJob",
    summary = "Read a job",
    params(("jobId" = String, Path, description = "The job id"), crate::openapi::DisplaySchedulesQuery),
    responses(
        (status = 200, description = "The job", body = crate::openapi::SapJob),
        crate::openapi::SapErrors,
    ),
    security(("bearerKey" = []), ("basicKey" = []), ("apiKeyId" = [], "apiKeySecret" = []), ("authToken" = []))
)]
async fn get_job(
    State(s): State<AppState>,
    tenant: Tenant,
    Path(job): Path<String>,
    Query(q): Q,
) -> ApiResult<Json<Value>> {
    tenant.require("read")?;
    let job = load_job(&s, &tenant, &job).await?;
    let display = q.get("displaySchedules").is_some_and(|v| v == "true");
    let schedules = if display {
        Some(schedule_views(&s, &tenant.id, &job).await?)
    } else {
        None
    };
    Ok(Json(views::job(&job, schedules)))
}

#[utoipa::path(
    get, path = "/scheduler/jobs", tag = "sap", operation_id = "listJobs",
    summary = "List jobs, or fetch one by name or id",
    params(crate::openapi::JobListQuery),
    responses(
        (status = 200, description = "A page of jobs; with `name` or `jobId`, the one job", body = crate::openapi::JobListOrJob),
        crate::openapi::SapErrors,
    ),
    security(("bearerKey" = []), ("basicKey" = []), ("apiKeyId" = [], "apiKeySecret" = []), ("authToken" = []))
)]
async fn list_jobs(State(s): State<AppState>, tenant: Tenant, Query(q): Q) -> ApiResult<Response> {
    tenant.require("read")?;
    let display = q.get("displaySchedules").is_some_and(|v| v == "true");
    if q.contains_key("name") || q.contains_key("jobId") {
        if q.contains_key("page_size") || q.contains_key("offset") {
            return Err(ApiError::BadRequest(
                "Error while fetching job details: Invalid query".into(),
            ));
        }
        let id = if let Some(name) = q.get("name") {
            s.store.job_id_by_name(&tenant.id, name).await?
        } else {
            q.get("jobId").and_then(|j| j.parse::<u64>().ok())
        };
        let job = match id {
            Some(id) => s.store.job(&tenant.id, id).await?,
            None => None,
        }
        .ok_or_else(|| ApiError::NotFound("job does not exist".into()))?;
        let schedules = if display {
            Some(schedule_views(&s, &tenant.id, &job).await?)
        } else {
            None
        };
        return Ok(Json(views::job(&job, schedules)).into_response());
    }
    let ctx = "Error while fetching list of jobs";
    let size = query_u64(&q, "page_size", ctx)
        .map_err(|_| ApiError::BadRequest(format!("{ctx}: Invalid Page Size")))?
        .unwrap_or(10);
    if !(1..=100).contains(&size) {
        return Err(ApiError::BadRequest(format!("{ctx}: Invalid Page Size")));
    }
    let offset = query_u64(&q, "offset", ctx)?.unwrap_or(0);
    let (total, jobs) = s.store.jobs_page(&tenant.id, offset, size).await?;
    let mut results = Vec::new();
    for j in &jobs {
        let schedules = if display {
            Some(schedule_views(&s, &tenant.id, j).await?)
        } else {
            None
        };
        results.push(views::job(j, schedules));
    }
    let next_url = (offset + size < total)
        .then(|| format!("/scheduler/jobs?page_size={size}&offset={}", offset + size));
    let prev_url = (offset > 0).then(|| {
        format!(
            "/scheduler/jobs?page_size={size}&offset={}",
            offset.saturating_sub(size)
        )
    });
    Ok(Json(
        json!({"total": total, "results": results, "next_url": next_url, "prev_url": prev_url}),
    )
    .into_response())
}

#[utoipa::path(
    put, path = "/scheduler/jobs/{jobId}", tag = "sap", operation_id = "configureJob",
    summary = "Configure a job by id, or replace or create one by name",
    params(("jobId" = String, Path, description = "The job id, or (for PUT) a job name: configuring by name replaces the job or creates it")),
    request_body = crate::openapi::JobUpdateRequest,
    responses(
        (status = 200, description = "By id: `{\"success\": true}`. By name, an existing job: the job with its new schedules", body = crate::openapi::Success),
        (status = 201, description = "By name, a new job: the job with its schedules", body = crate::openapi::SapJob,
            headers(("Location" = String, description = "`/scheduler/jobs/{jobId}`"))),
        (status = 409, description = "Another job has that name", body = crate::openapi::SapError),
        (status = 413, description = "The body is too large", body = crate::openapi::SapError),
        crate::openapi::SapErrors,
    ),
    security(("bearerKey" = []), ("basicKey" = []), ("apiKeyId" = [], "apiKeySecret" = []), ("authToken" = []))
)]
async fn put_job(
    State(s): State<AppState>,
    tenant: Tenant,
    Path(raw): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    tenant.require("write")?;
    let (ms, now) = now(&s).await?;
    let obj = object(&body, "Error while updating job")?;
    if raw.parse::<u64>().is_err() {
        return upsert_job_by_name(&s, &tenant, &raw, obj, ms, now).await;
    }
    let old = load_job(&s, &tenant, &raw).await?;
    let job = input::update_job(&old, &obj, now)?;
    if job.name != old.name {
        if !s
            .store
            .reserve_job_name(&tenant.id, &job.name, job.id)
            .await?
        {
            return Err(ApiError::Conflict(format!(
                "Error while updating job: a job named '{}' already exists",
                job.name
            )));
        }
        s.store.release_job_name(&tenant.id, &old.name).await?;
    }
    s.store.put_job(&tenant.id, &job, &[]).await?;
    if job.active != old.active || job.end_time != old.end_time {
        for sc in s.store.schedules(&tenant.id, job.id).await? {
            sync_due(&s, &tenant.id, &job, &sc, ms).await?;
        }
    }
    let fields: Vec<&str> = obj.keys().map(String::as_str).collect();
    audit(
        &s,
        &tenant,
        job.id,
        None,
        "UPDATE_JOB",
        format!("updated {}", fields.join(", ")),
    )
    .await;
    Ok(Json(json!({"success": true})).into_response())
}

/// SAP's Configure Job (by name): full replacement of an existing job, or creation.
async fn upsert_job_by_name(
    s: &AppState,
    tenant: &Tenant,
    name: &str,
    mut obj: serde_json::Map<String, Value>,
    ms: i64,
    now: DateTime<Utc>,
) -> ApiResult<Response> {
    input::job_name(name, "Error while updating job")?;
    match obj.get("name") {
        Some(Value::String(n)) if n != name => {
            return Err(ApiError::BadRequest(
                "Error while updating job: 'name' in the body must match the name in the path"
                    .into(),
            ))
        }
        _ => {
            obj.insert("name".into(), Value::String(name.into()));
        }
    }
    let schedules = input::schedules_of(&obj, now)?;
    match s.store.job_id_by_name(&tenant.id, name).await? {
        None => {
            let id = s.store.next_job_id().await?;
            let job = input::new_job(&obj, id, s.settings.default_timeout_ms, now)?;
            let (job, views_out) = store_new_job(s, tenant, job, schedules, ms).await?;
            Ok((
                StatusCode::CREATED,
                [(header::LOCATION, format!("/scheduler/jobs/{}", job.id))],
                Json(views::job(&job, Some(views_out))),
            )
                .into_response())
        }
        Some(id) => {
            let old = s
                .store
                .job(&tenant.id, id)
                .await?
                .ok_or_else(|| ApiError::NotFound(format!("job {name} does not exist")))?;
            let mut job = input::new_job(&obj, id, s.settings.default_timeout_ms, now)?;
            job.created_at = old.created_at.clone();
            for sc in unschedule_all(s, &tenant.id, id).await? {
                s.store
                    .delete_schedule(&tenant.id, id, &sc.schedule_id)
                    .await?;
            }
            s.store.put_job(&tenant.id, &job, &schedules).await?;
            let mut views_out = Vec::new();
            for sc in &schedules {
                let next = sync_due(s, &tenant.id, &job, sc, ms).await?;
                views_out.push(views::schedule(sc, job.id, next));
            }
            audit(
                s,
                tenant,
                job.id,
                None,
                "UPDATE_JOB",
                format!("job '{}' replaced by name", job.name),
            )
            .await;
            Ok(Json(views::job(&job, Some(views_out))).into_response())
        }
    }
}

#[utoipa::path(
    delete, path = "/scheduler/jobs/{jobId}", tag = "sap", operation_id = "deleteJob",
    summary = "Delete a job with its schedules and runs",
    params(("jobId" = String, Path, description = "The job id")),
    responses(
        (status = 200, description = "Deleted", body = crate::openapi::Success),
        crate::openapi::SapErrors,
    ),
    security(("bearerKey" = []), ("basicKey" = []), ("apiKeyId" = [], "apiKeySecret" = []), ("authToken" = []))
)]
async fn delete_job(
    State(s): State<AppState>,
    tenant: Tenant,
    Path(raw): Path<String>,
) -> ApiResult<Json<Value>> {
    tenant.require("write")?;
    let job = load_job(&s, &tenant, &raw).await?;
    unschedule_all(&s, &tenant.id, job.id).await?;
    s.store.delete_job(&tenant.id, &job).await?;
    tracing::info!(tenant = %tenant.id, job_id = job.id, "job deleted");
    audit(
        &s,
        &tenant,
        job.id,
        None,
        "DELETE_JOB",
        format!("job '{}' deleted with its runs", job.name),
    )
    .await;
    Ok(Json(json!({"success": true})))
}

#[utoipa::path(
    get, path = "/scheduler/jobCount", tag = "sap", operation_id = "jobCount",
    summary = "Count the tenant's active and inactive jobs",
    responses(
        (status = 200, description = "The counts", body = crate::openapi::JobCount),
        crate::openapi::SapErrors,
    ),
    security(("bearerKey" = []), ("basicKey" = []), ("apiKeyId" = [], "apiKeySecret" = []), ("authToken" = []))
)]
async fn job_count(State(s): State<AppState>, tenant: Tenant) -> ApiResult<Json<Value>> {
    tenant.require("read")?;
    let (active, inactive) = s.store.job_counts(&tenant.id).await?;
    Ok(Json(json!({"active": active, "inactive": inactive})))
}

// ---------------------------------------------------------------- schedules

async fn load_schedule(s: &AppState, tenant: &Tenant, job: &Job, sid: &str) -> ApiResult<Schedule> {
    s.store
        .schedule(&tenant.id, job.id, sid)
        .await?
        .ok_or_else(|| {
            ApiError::NotFound(format!("schedule {sid} of job {} does not exist", job.id))
        })
}

#[utoipa::path(
    post, path = "/scheduler/jobs/{jobId}/schedules", tag = "sap", operation_id = "createSchedule",
    summary = "Create a schedule of a job",
    params(("jobId" = String, Path, description = "The job id")),
    request_body = crate::openapi::ScheduleRequest,
    responses(
        (status = 201, description = "The schedule", body = crate::openapi::SapSchedule,
            headers(("Location" = String, description = "`/scheduler/jobs/{jobId}/schedules/{scheduleId}`"))),
        (status = 413, description = "The body is too large", body = crate::openapi::SapError),
        crate::openapi::SapErrors,
    ),
    security(("bearerKey" = []), ("basicKey" = []), ("apiKeyId" = [], "apiKeySecret" = []), ("authToken" = []))
)]
async fn create_schedule(
    State(s): State<AppState>,
    tenant: Tenant,
    Path(raw): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    tenant.require("write")?;
    let job = load_job(&s, &tenant, &raw).await?;
    let (ms, now) = now(&s).await?;
    let obj = object(&body, "Error while creating schedule")?;
    let sc = input::new_schedule(&obj, "Error while creating schedule", now)?;
    if s.store.schedules(&tenant.id, job.id).await?.len() >= 100 {
        return Err(ApiError::BadRequest(
            "Error while creating schedule: a job has at most 100 schedules".into(),
        ));
    }
    s.store.put_schedule(&tenant.id, job.id, &sc).await?;
    let next = sync_due(&s, &tenant.id, &job, &sc, ms).await?;
    audit(
        &s,
        &tenant,
        job.id,
        Some(&sc.schedule_id),
        "CREATE_SCHEDULE",
        format!("{} schedule created", sc.kind),
    )
    .await;
    Ok((
        StatusCode::CREATED,
        [(
            header::LOCATION,
            format!("/scheduler/jobs/{}/schedules/{}", job.id, sc.schedule_id),
        )],
        Json(views::schedule(&sc, job.id, next)),
    )
        .into_response())
}

#[utoipa::path(
    get, path = "/scheduler/jobs/{jobId}/schedules", tag = "sap", operation_id = "listSchedules",
    summary = "List a job's schedules",
    params(("jobId" = String, Path, description = "The job id"), crate::openapi::ScheduleListQuery),
    responses(
        (status = 200, description = "A page of schedules", body = crate::openapi::ScheduleList),
        crate::openapi::SapErrors,
    ),
    security(("bearerKey" = []), ("basicKey" = []), ("apiKeyId" = [], "apiKeySecret" = []), ("authToken" = []))
)]
async fn list_schedules(
    State(s): State<AppState>,
    tenant: Tenant,
    Path(raw): Path<String>,
    Query(q): Q,
) -> ApiResult<Json<Value>> {
    tenant.require("read")?;
    let job = load_job(&s, &tenant, &raw).await?;
    let ctx = "Error while fetching schedules";
    let size = query_u64(&q, "page_size", ctx)?.unwrap_or(100);
    if !(1..=100).contains(&size) {
        return Err(ApiError::BadRequest(format!(
            "{ctx}: 'page_size' must be from 1 to 100"
        )));
    }
    let offset = query_u64(&q, "offset", ctx)?.unwrap_or(0);
    let all = schedule_views(&s, &tenant.id, &job).await?;
    let total = all.len() as u64;
    let results: Vec<Value> = all
        .into_iter()
        .skip(offset as usize)
        .take(size as usize)
        .collect();
    let base = format!("/scheduler/jobs/{}/schedules", job.id);
    let next_url = (offset + size < total)
        .then(|| format!("{base}?page_size={size}&offset={}", offset + size));
    let prev_url = (offset > 0).then(|| {
        format!(
            "{base}?page_size={size}&offset={}",
            offset.saturating_sub(size)
        )
    });
    Ok(Json(
        json!({"total": total, "results": results, "next_url": next_url, "prev_url": prev_url}),
    ))
}

#[utoipa::path(
    get, path = "/scheduler/jobs/{jobId}/schedules/{scheduleId}", tag = "sap", operation_id = "getSchedule",
    summary = "Read a schedule",
    params(("jobId" = String, Path, description = "The job id"), ("scheduleId" = String, Path, description = "The schedule id"), crate::openapi::DisplayLogsQuery),
    responses(
        (status = 200, description = "The schedule", body = crate::openapi::SapSchedule),
        crate::openapi::SapErrors,
    ),
    security(("bearerKey" = []), ("basicKey" = []), ("apiKeyId" = [], "apiKeySecret" = []), ("authToken" = []))
)]
async fn get_schedule(
    State(s): State<AppState>,
    tenant: Tenant,
    Path((raw, sid)): Path<(String, String)>,
    Query(q): Q,
) -> ApiResult<Json<Value>> {
    tenant.require("read")?;
    let job = load_job(&s, &tenant, &raw).await?;
    let sc = load_schedule(&s, &tenant, &job, &sid).await?;
    let next = s
        .store
        .due_of(s.settings.due_partitions, &tenant.id, job.id, &sid)
        .await?;
    let mut v = views::schedule(&sc, job.id, next);
    if q.get("displayLogs").is_some_and(|v| v == "true") {
        let (_, runs) = s
            .store
            .schedule_runs_page(&tenant.id, &sid, 0, 200, true)
            .await?;
        v["logs"] = Value::Array(runs.iter().map(views::run).collect());
    }
    Ok(Json(v))
}

#[utoipa::path(
    put, path = "/scheduler/jobs/{jobId}/schedules/{scheduleId}", tag = "sap", operation_id = "configureSchedule",
    summary = "Configure a schedule",
    params(("jobId" = String, Path, description = "The job id"), ("scheduleId" = String, Path, description = "The schedule id")),
    request_body = crate::openapi::ScheduleUpdateRequest,
    responses(
        (status = 200, description = "The schedule", body = crate::openapi::SapSchedule),
        (status = 413, description = "The body is too large", body = crate::openapi::SapError),
        crate::openapi::SapErrors,
    ),
    security(("bearerKey" = []), ("basicKey" = []), ("apiKeyId" = [], "apiKeySecret" = []), ("authToken" = []))
)]
async fn put_schedule(
    State(s): State<AppState>,
    tenant: Tenant,
    Path((raw, sid)): Path<(String, String)>,
    JsonBody(body): JsonBody,
) -> ApiResult<Json<Value>> {
    tenant.require("write")?;
    let job = load_job(&s, &tenant, &raw).await?;
    let old = load_schedule(&s, &tenant, &job, &sid).await?;
    let (ms, now) = now(&s).await?;
    let obj = object(&body, "Error while updating schedule")?;
    let sc = input::update_schedule(&old, &obj, now)?;
    s.store.put_schedule(&tenant.id, job.id, &sc).await?;
    let next = sync_due(&s, &tenant.id, &job, &sc, ms).await?;
    let fields: Vec<&str> = obj.keys().map(String::as_str).collect();
    audit(
        &s,
        &tenant,
        job.id,
        Some(&sid),
        "UPDATE_SCHEDULE",
        format!("updated {}", fields.join(", ")),
    )
    .await;
    Ok(Json(views::schedule(&sc, job.id, next)))
}

#[utoipa::path(
    delete, path = "/scheduler/jobs/{jobId}/schedules/{scheduleId}", tag = "sap", operation_id = "deleteSchedule",
    summary = "Delete a schedule",
    params(("jobId" = String, Path, description = "The job id"), ("scheduleId" = String, Path, description = "The schedule id")),
    responses(
        (status = 200, description = "Deleted", body = crate::openapi::Success),
        crate::openapi::SapErrors,
    ),
    security(("bearerKey" = []), ("basicKey" = []), ("apiKeyId" = [], "apiKeySecret" = []), ("authToken" = []))
)]
async fn delete_schedule(
    State(s): State<AppState>,
    tenant: Tenant,
    Path((raw, sid)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    tenant.require("write")?;
    let job = load_job(&s, &tenant, &raw).await?;
    load_schedule(&s, &tenant, &job, &sid).await?;
    s.store
        .set_due(s.settings.due_partitions, &tenant.id, job.id, &sid, None)
        .await?;
    s.store.delete_schedule(&tenant.id, job.id, &sid).await?;
    audit(
        &s,
        &tenant,
        job.id,
        Some(&sid),
        "DELETE_SCHEDULE",
        "schedule deleted".into(),
    )
    .await;
    Ok(Json(json!({"success": true})))
}

#[utoipa::path(
    delete, path = "/scheduler/jobs/{jobId}/schedules", tag = "sap", operation_id = "deleteSchedules",
    summary = "Delete all schedules of a job",
    params(("jobId" = String, Path, description = "The job id")),
    responses(
        (status = 200, description = "Deleted", body = crate::openapi::Success),
        crate::openapi::SapErrors,
    ),
    security(("bearerKey" = []), ("basicKey" = []), ("apiKeyId" = [], "apiKeySecret" = []), ("authToken" = []))
)]
async fn delete_schedules(
    State(s): State<AppState>,
    tenant: Tenant,
    Path(raw): Path<String>,
) -> ApiResult<Json<Value>> {
    tenant.require("write")?;
    let job = load_job(&s, &tenant, &raw).await?;
    for sc in unschedule_all(&s, &tenant.id, job.id).await? {
        s.store
            .delete_schedule(&tenant.id, job.id, &sc.schedule_id)
            .await?;
    }
    audit(
        &s,
        &tenant,
        job.id,
        None,
        "DELETE_ALL_SCHEDULES",
        "all schedules deleted".into(),
    )
    .await;
    Ok(Json(json!({"success": true})))
}

#[utoipa::path(
    post, path = "/scheduler/jobs/{jobId}/schedules/activationStatus", tag = "sap", operation_id = "activationStatus",
    summary = "Activate or deactivate all schedules of a job",
    params(("jobId" = String, Path, description = "The job id")),
    request_body = crate::openapi::ActivationStatusRequest,
    responses(
        (status = 200, description = "Done", body = crate::openapi::Success),
        (status = 413, description = "The body is too large", body = crate::openapi::SapError),
        crate::openapi::SapErrors,
    ),
    security(("bearerKey" = []), ("basicKey" = []), ("apiKeyId" = [], "apiKeySecret" = []), ("authToken" = []))
)]
async fn activation_status(
    State(s): State<AppState>,
    tenant: Tenant,
    Path(raw): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Json<Value>> {
    tenant.require("write")?;
    let job = load_job(&s, &tenant, &raw).await?;
    let ctx = "Error while changing activation status";
    let active = match object(&body, ctx)?.get("activationStatus") {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(v)) if v == "true" => true,
        Some(Value::String(v)) if v == "false" => false,
        _ => {
            return Err(ApiError::BadRequest(format!(
                "{ctx}: 'activationStatus' is required and must be a boolean"
            )))
        }
    };
    let (ms, now) = now(&s).await?;
    for mut sc in s.store.schedules(&tenant.id, job.id).await? {
        sc.active = active;
        sc.modified_at = chime_core::schedule::format_instant(now.timestamp_millis());
        s.store.put_schedule(&tenant.id, job.id, &sc).await?;
        sync_due(&s, &tenant.id, &job, &sc, ms).await?;
    }
    let action = if active {
        "ACTIVATE_ALL_SCHEDULES"
    } else {
        "DEACTIVATE_ALL_SCHEDULES"
    };
    audit(
        &s,
        &tenant,
        job.id,
        None,
        action,
        format!(
            "all schedules {}",
            if active { "activated" } else { "deactivated" }
        ),
    )
    .await;
    Ok(Json(json!({"success": true})))
}

// ---------------------------------------------------------------- runs

/// SAP run-log paging, as chime reads the seed: without `page_size` and `offset` at most 200
/// runs; with only `offset`, 10 runs. `offset` is 1-based: 0 and 1 (the default) skip nothing,
/// `offset=n` starts at the n-th newest run. `page_size` is 1..=200.
pub fn run_paging(q: &HashMap<String, String>) -> ApiResult<(u64, u64)> {
    let ctx = "Error while fetching run logs";
    let size = match q.get("page_size") {
        None => None,
        Some(v) => match v.trim().parse::<i64>() {
            Ok(n) if (1..=200).contains(&n) => Some(n as u64),
            _ => {
                return Err(ApiError::BadRequest(format!(
                    "{ctx}: 'page_size' must be an integer from 1 to 200, got '{v}'"
                )))
            }
        },
    };
    let offset = match q.get("offset") {
        None => None,
        Some(v) => match v.trim().parse::<i64>() {
            Ok(n) if n >= 0 => Some(n as u64),
            _ => {
                return Err(ApiError::BadRequest(format!(
                    "{ctx}: 'offset' must be a non-negative integer, got '{v}'"
                )))
            }
        },
    };
    let size = match (size, offset) {
        (Some(sz), _) => sz,
        (None, Some(_)) => 10,
        (None, None) => 200,
    };
    Ok((offset.unwrap_or(1).saturating_sub(1), size))
}

#[utoipa::path(
    get, path = "/scheduler/jobs/{jobId}/schedules/{scheduleId}/runs", tag = "sap", operation_id = "listRuns",
    summary = "A schedule's run log, newest first",
    params(("jobId" = String, Path, description = "The job id"), ("scheduleId" = String, Path, description = "The schedule id"), crate::openapi::RunLogQuery),
    responses(
        (status = 200, description = "A page of the run log", body = crate::openapi::RunLogPage),
        crate::openapi::SapErrors,
    ),
    security(("bearerKey" = []), ("basicKey" = []), ("apiKeyId" = [], "apiKeySecret" = []), ("authToken" = []))
)]
async fn list_runs(
    State(s): State<AppState>,
    tenant: Tenant,
    Path((raw, sid)): Path<(String, String)>,
    Query(q): Q,
) -> ApiResult<Json<Value>> {
    tenant.require("read")?;
    let (skip, size) = run_paging(&q)?;
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
    let cursor = |run: &str| {
        let (s, t) = (&s, &tenant);
        let run = run.to_string();
        async move {
            s.store.run_stream_id(&t.id, &run).await?.ok_or_else(|| {
                ApiError::BadRequest(format!(
                    "Error while fetching run logs: unknown run id '{run}' in the cursor"
                ))
            })
        }
    };
    let backwards = q.contains_key("prev");
    match (q.get("next"), q.get("prev")) {
        (Some(_), Some(_)) => {
            return Err(ApiError::BadRequest(
                "Error while fetching run logs: give either 'next' or 'prev', not both".into(),
            ))
        }
        (Some(n), None) => query.after = Some(cursor(n).await?),
        (None, Some(p)) => {
            query.after = Some(cursor(p).await?);
            query.order = Order::OldestFirst;
        }
        (None, None) => query.skip = skip,
    }
    let mut page = s.store.query_runs(&query).await?;
    if query.after.is_some() {
        // A cursor page still reports the whole log's total, as offset pages do.
        let mut count = query.clone();
        count.after = None;
        count.order = Order::NewestFirst;
        count.size = 0;
        page.total = s.store.query_runs(&count).await?.total;
    }
    let mut runs: Vec<&chime_core::model::RunRecord> = page.runs.iter().map(|(_, r)| r).collect();
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
    let mut body = json!({
        "total": page.total.unwrap_or(0),
        "results": runs.iter().map(|r| views::run(r)).collect::<Vec<_>>(),
    });
    if let (true, Some(last)) = (older, runs.last()) {
        body["next_url"] = json!(format!("{base}&next={}", last.run_id));
    }
    if let (true, Some(first)) = (newer, runs.first()) {
        body["prev_url"] = json!(format!("{base}&prev={}", first.run_id));
    }
    Ok(Json(body))
}

/// SAP's audit trail: `GET /scheduler/actionLogs?jobId=<id>[&scheduleId=<id>]`, newest first.
#[utoipa::path(
    get, path = "/scheduler/actionLogs", tag = "sap", operation_id = "actionLogs",
    summary = "The audit trail of a job (or one of its schedules), newest first",
    params(crate::openapi::ActionLogQuery),
    responses(
        (status = 200, description = "The audit trail", body = crate::openapi::ActionLogList),
        crate::openapi::SapErrors,
    ),
    security(("bearerKey" = []), ("basicKey" = []), ("apiKeyId" = [], "apiKeySecret" = []), ("authToken" = []))
)]
async fn action_logs(
    State(s): State<AppState>,
    tenant: Tenant,
    Query(q): Q,
) -> ApiResult<Json<Value>> {
    tenant.require("read")?;
    let raw = q.get("jobId").ok_or_else(|| {
        ApiError::BadRequest("Error while fetching action logs: 'jobId' is required".into())
    })?;
    let job = load_job(&s, &tenant, raw).await?;
    let sched = q.get("scheduleId").map(String::as_str);
    if let Some(sid) = sched {
        load_schedule(&s, &tenant, &job, sid).await?;
    }
    let logs = s.store.action_logs(&tenant.id, job.id, sched, 200).await?;
    let results: Vec<Value> = logs
        .iter()
        .map(|(ms, a)| {
            json!({
                "jobId": a.job_id,
                "scheduleId": a.schedule_id,
                "action": a.action,
                "message": a.detail,
                "user": a.actor,
                "timestamp": chime_core::schedule::format_instant(*ms),
            })
        })
        .collect();
    Ok(Json(json!({"total": results.len(), "results": results})))
}

/// Records a configuration change in the tenant's audit trail (best effort: a failure is
/// logged, the change itself has been made).
async fn audit(
    s: &AppState,
    tenant: &Tenant,
    job: u64,
    schedule: Option<&str>,
    action: &str,
    detail: String,
) {
    let entry = ActionLog {
        job_id: job,
        schedule_id: schedule.map(String::from),
        action: action.to_string(),
        detail,
        actor: tenant.key_id.clone(),
    };
    if let Err(e) = s.store.record_action(&tenant.id, &entry).await {
        tracing::warn!(error = %e, "could not record the action log");
    }
}

/// `PUT /admin/tenants/{tenantId}` `{ "runRetentionDays": n }` or `{ "runRetentionSeconds": n }`
/// (how long the tenant's runs are kept) and/or `{ "runsPerMinute": n }` (its fire quota; 0 no
/// limit); `null` restores a default.
#[utoipa::path(
    put, path = "/admin/tenants/{tenantId}", tag = "admin", operation_id = "configureTenant",
    summary = "Set a tenant's run retention and fire quota",
    params(("tenantId" = String, Path, description = "The tenant id")),
    request_body = crate::openapi::ConfigureTenantRequest,
    responses(
        (status = 200, description = "The effective settings", body = crate::openapi::TenantSettings),
        (status = 400, description = "Invalid body", body = crate::openapi::SapError),
        (status = 401, description = "Missing or invalid admin token", body = crate::openapi::SapError),
        (status = 404, description = "No such tenant", body = crate::openapi::SapError),
        (status = 413, description = "The body is too large", body = crate::openapi::SapError),
        (status = 500, description = "A server fault", body = crate::openapi::SapError),
    ),
    security(("adminToken" = []))
)]
async fn configure_tenant(
    State(s): State<AppState>,
    _: Admin,
    Path(tenant): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Json<Value>> {
    if !s.store.tenant_exists(&tenant).await? {
        return Err(ApiError::NotFound(format!(
            "tenant {tenant} does not exist"
        )));
    }
    let obj = object(&body, "Error while configuring tenant")?;
    let retention = match (obj.get("runRetentionDays"), obj.get("runRetentionSeconds")) {
        (None, None) => None,
        (Some(Value::Null), None) | (None, Some(Value::Null)) => Some(None),
        (Some(v), None) => Some(Some(
            v.as_u64()
                .filter(|d| (1..=3650).contains(d))
                .ok_or_else(|| ApiError::BadRequest("'runRetentionDays' must be an integer from 1 to 3650".into()))?
                * 86_400_000,
        )),
        (None, Some(v)) => Some(Some(
            v.as_u64()
                .filter(|d| (1..=315_360_000).contains(d))
                .ok_or_else(|| ApiError::BadRequest("'runRetentionSeconds' must be a positive integer".into()))?
                * 1000,
        )),
        _ => {
            return Err(ApiError::BadRequest(
                "Error while configuring tenant: give only one of 'runRetentionDays' or 'runRetentionSeconds'".into(),
            ))
        }
    };
    let quota = match obj.get("runsPerMinute") {
        None => None,
        Some(Value::Null) => Some(None),
        Some(v) => Some(Some(v.as_u64().filter(|n| *n <= 100_000_000).ok_or_else(
            || {
                ApiError::BadRequest(
                    "'runsPerMinute' must be an integer from 0 (no limit) to 100000000".into(),
                )
            },
        )?)),
    };
    if retention.is_none() && quota.is_none() {
        return Err(ApiError::BadRequest(
            "Error while configuring tenant: give 'runRetentionDays', 'runRetentionSeconds' or 'runsPerMinute'".into(),
        ));
    }
    if let Some(ms) = retention {
        s.store.set_tenant_retention(&tenant, ms).await?;
    }
    if let Some(n) = quota {
        s.store.set_tenant_runs_per_minute(&tenant, n).await?;
    }
    let effective = s.store.tenant_retention(&tenant).await?;
    let per_minute = s
        .store
        .tenant_runs_per_minute(&tenant)
        .await?
        .unwrap_or(s.settings.tenant_runs_per_minute);
    Ok(Json(
        json!({"id": tenant, "runRetentionSeconds": effective / 1000, "runsPerMinute": per_minute}),
    ))
}

#[utoipa::path(
    get, path = "/scheduler/jobs/{jobId}/schedules/{scheduleId}/runs/{runId}", tag = "sap", operation_id = "getRun",
    summary = "One run in detail",
    params(("jobId" = String, Path, description = "The job id"), ("scheduleId" = String, Path, description = "The schedule id"), ("runId" = String, Path, description = "The run id")),
    responses(
        (status = 200, description = "The run", body = crate::openapi::RunDetail),
        crate::openapi::SapErrors,
    ),
    security(("bearerKey" = []), ("basicKey" = []), ("apiKeyId" = [], "apiKeySecret" = []), ("authToken" = []))
)]
async fn get_run(
    State(s): State<AppState>,
    tenant: Tenant,
    Path((raw, sid, run)): Path<(String, String, String)>,
) -> ApiResult<Json<Value>> {
    tenant.require("read")?;
    let job = load_job(&s, &tenant, &raw).await?;
    let rec = s
        .store
        .run(&tenant.id, &run)
        .await?
        .filter(|r| r.job_id == job.id && r.schedule_id == sid)
        .ok_or_else(|| ApiError::NotFound(format!("run {run} does not exist")))?;
    Ok(Json(views::run_detail(&rec)))
}

#[utoipa::path(
    put, path = "/scheduler/jobs/{jobId}/schedules/{scheduleId}/runs/{runId}", tag = "sap", operation_id = "updateRun",
    summary = "Report an asynchronous job's result (scope `run-update` or `write`)",
    params(("jobId" = String, Path, description = "The job id"), ("scheduleId" = String, Path, description = "The schedule id"), ("runId" = String, Path, description = "The run id")),
    request_body = crate::openapi::RunUpdateRequest,
    responses(
        (status = 200, description = "Recorded", body = crate::openapi::Success),
        (status = 413, description = "The body is too large", body = crate::openapi::SapError),
        crate::openapi::SapErrors,
    ),
    security(("bearerKey" = []), ("basicKey" = []), ("apiKeyId" = [], "apiKeySecret" = []), ("authToken" = []))
)]
async fn update_run(
    State(s): State<AppState>,
    tenant: Tenant,
    Path((raw, sid, run)): Path<(String, String, String)>,
    JsonBody(body): JsonBody,
) -> ApiResult<Json<Value>> {
    tenant.require_any(&["run-update", "write"])?;
    let job = load_job(&s, &tenant, &raw).await?;
    let ctx = "Error while updating run log";
    let obj = object(&body, ctx)?;
    let success = match obj.get("success") {
        Some(Value::Bool(b)) => *b,
        _ => {
            return Err(ApiError::BadRequest(format!(
                "{ctx}: 'success' is required and must be a boolean"
            )))
        }
    };
    let message = match obj.get("message") {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(m)) if m.len() <= 5000 => m.clone(),
        _ => {
            return Err(ApiError::BadRequest(format!(
                "{ctx}: 'message' must be a string of at most 5000 characters"
            )))
        }
    };
    let (ms, _) = now(&s).await?;
    match s
        .store
        .run_update(&tenant.id, (job.id, &sid, &run), success, &message, ms)
        .await?
    {
        RunUpdate::Updated => Ok(Json(json!({"success": true}))),
        RunUpdate::AlreadyCompleted => Err(ApiError::Conflict(format!(
            "{ctx}: run {run} is already completed; its result is written once"
        ))),
        RunUpdate::NoSuchRun => Err(ApiError::NotFound(format!("run {run} does not exist"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn sap_run_paging() {
        assert_eq!(run_paging(&q(&[])).unwrap(), (0, 200));
        assert_eq!(run_paging(&q(&[("offset", "1")])).unwrap(), (0, 10));
        assert_eq!(run_paging(&q(&[("offset", "0")])).unwrap(), (0, 10));
        assert_eq!(
            run_paging(&q(&[("offset", "4"), ("page_size", "3")])).unwrap(),
            (3, 3)
        );
        assert_eq!(run_paging(&q(&[("page_size", "3")])).unwrap(), (0, 3));
        for bad in [
            ("page_size", "-1"),
            ("page_size", "0"),
            ("page_size", "201"),
            ("page_size", "x"),
            ("offset", "-2"),
        ] {
            let e = run_paging(&q(&[bad])).unwrap_err().to_string();
            assert!(e.contains(bad.0), "{e}");
        }
    }
}
