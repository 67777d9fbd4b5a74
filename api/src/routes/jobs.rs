//! SAP's jobs: create, read, list, count, configure (by id, or by name: replace or create)
//! and delete. Writes go through [`crate::service`].

use crate::auth::Tenant;
use crate::error::{ApiError, ApiResult};
use crate::extract::JsonBody;
use crate::input;
use crate::lookup::load_job;
use crate::query::{flag, offset_links, query_u64, QueryOf};
use crate::routes::search;
use crate::select::filter::{self, Filter};
use crate::service::{self, Planned};
use crate::state::AppState;
use crate::wire::params::{DisplaySchedulesQuery, JobListQuery};
use crate::wire::requests::{JobRequest, JobUpdateRequest};
use crate::wire::sap::{JobCount, JobList, JobListOrJob, ListedJob, SapJob, SapSchedule};
use crate::wire::{decode, Success};
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chime_core::model::Job;
use chrono::{DateTime, Utc};

/// A job's answer with its planned schedules.
fn job_with(job: &Job, planned: &[Planned]) -> SapJob {
    let views = planned
        .iter()
        .map(|(sc, next)| SapSchedule::new(sc, job.id, *next))
        .collect();
    SapJob::new(job, Some(views))
}

/// 201 with the new job and its `Location`.
fn created(job: SapJob) -> Response {
    (
        StatusCode::CREATED,
        [(header::LOCATION, format!("/scheduler/jobs/{}", job.id))],
        Json(job),
    )
        .into_response()
}

/// A job's answer, with its schedules when `display`.
async fn job_view(s: &AppState, tenant: &str, job: &Job, display: bool) -> ApiResult<SapJob> {
    if !display {
        return Ok(SapJob::new(job, None));
    }
    Ok(job_with(job, &service::schedules(s, tenant, job.id).await?))
}

#[utoipa::path(
    post, path = "/scheduler/jobs", tag = "sap", operation_id = "createJob",
    summary = "Create a job with its schedules",
    request_body = JobRequest,
    responses(
        (status = 201, description = "The job with its schedules", body = SapJob,
            headers(("Location" = String, description = "`/scheduler/jobs/{jobId}`"))),
        (status = 409, description = "A job of that name exists", body = crate::error::SapError),
        (status = 413, description = "The body is too large", body = crate::error::SapError),
        crate::error::SapErrors,
    ),
    security(("bearerKey" = []), ("basicKey" = []), ("apiKeyId" = [], "apiKeySecret" = []), ("authToken" = []))
)]
pub async fn create_job(
    State(s): State<AppState>,
    tenant: Tenant,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    let (job, planned) = create_job_of(&s, &tenant, body).await?;
    Ok(created(job_with(&job, &planned)))
}

/// A new job of SAP's Create Job body (the API's route and the dashboard's form): checked,
/// stored with its schedules and planned.
pub async fn create_job_of(
    s: &AppState,
    tenant: &Tenant,
    body: serde_json::Value,
) -> ApiResult<(Job, Vec<Planned>)> {
    tenant.require("write")?;
    let (ms, now) = service::now(s).await?;
    let (req, _) = decode::<JobRequest>(body)?;
    let schedules = input::schedules_of(&req, now)?;
    if let Some(name) = &req.name {
        if s.store.job_id_by_name(&tenant.id, name).await?.is_some() {
            return Err(service::name_taken("Error while creating job", name));
        }
    }
    let job = service::new_job(s, tenant, &req, now).await?;
    service::create_job(s, tenant, job, schedules, ms).await
}

#[utoipa::path(
    get, path = "/scheduler/jobs/{jobId}", tag = "sap", operation_id = "getJob",
    summary = "Read a job",
    params(("jobId" = String, Path, description = "The job id"), DisplaySchedulesQuery),
    responses(
        (status = 200, description = "The job", body = SapJob),
        crate::error::SapErrors,
    ),
    security(("bearerKey" = []), ("basicKey" = []), ("apiKeyId" = [], "apiKeySecret" = []), ("authToken" = []))
)]
pub async fn get_job(
    State(s): State<AppState>,
    tenant: Tenant,
    Path(job): Path<String>,
    QueryOf(q): QueryOf<DisplaySchedulesQuery>,
) -> ApiResult<Json<SapJob>> {
    tenant.require("read")?;
    let job = load_job(&s, &tenant, &job).await?;
    let display = flag(q.displaySchedules.as_deref());
    Ok(Json(job_view(&s, &tenant.id, &job, display).await?))
}

#[utoipa::path(
    get, path = "/scheduler/jobs", tag = "sap", operation_id = "listJobs",
    summary = "List jobs, or fetch one by name or id",
    description = "A page of the tenant's jobs (`page_size`, `offset`), each with the counts \
        of its active and inactive schedules (`ACTIVECOUNT`, `INACTIVECOUNT`), selected by \
        `jobType` and `filter` and ordered by `sort_by` and `sort_order` (default: by id, \
        ascending). `next_url` and `prev_url` keep only `page_size` and `offset`, as SAP's \
        do. With `name` or `jobId`: that one job.",
    params(JobListQuery),
    responses(
        (status = 200, description = "A page of jobs; with `name` or `jobId`, the one job", body = JobListOrJob),
        crate::error::SapErrors,
    ),
    security(("bearerKey" = []), ("basicKey" = []), ("apiKeyId" = [], "apiKeySecret" = []), ("authToken" = []))
)]
pub async fn list_jobs(
    State(s): State<AppState>,
    tenant: Tenant,
    QueryOf(q): QueryOf<JobListQuery>,
) -> ApiResult<Json<JobListOrJob>> {
    tenant.require("read")?;
    let display = flag(q.displaySchedules.as_deref());
    let selection = Selection::of(&q)?;
    if q.name.is_some() || q.jobId.is_some() {
        if q.page_size.is_some() || q.offset.is_some() {
            return Err(ApiError::BadRequest(
                "Error while fetching job details: Invalid query".into(),
            ));
        }
        // With both, the job must be the one of that name and that id (SAP: "ensure that the
        // ID matches with the corresponding name"): a mismatch is no such job.
        let by_id = q.jobId.as_deref().map(|j| j.parse::<u64>().ok());
        let id = match (&q.name, by_id) {
            (Some(name), by_id) => s
                .store
                .job_id_by_name(&tenant.id, name)
                .await?
                .filter(|id| by_id.is_none_or(|j| j == Some(*id))),
            (None, by_id) => by_id.flatten(),
        };
        let job = match id {
            Some(id) => s.store.job(&tenant.id, id).await?,
            None => None,
        }
        .ok_or_else(|| ApiError::NotFound("job does not exist".into()))?;
        let one = job_view(&s, &tenant.id, &job, display).await?;
        return Ok(Json(JobListOrJob::One(Box::new(one))));
    }
    let ctx = filter::CTX;
    let size = query_u64(q.page_size.as_deref(), "page_size", ctx)
        .map_err(|_| ApiError::BadRequest(format!("{ctx}: Invalid Page Size")))?
        .unwrap_or(10);
    if !(1..=100).contains(&size) {
        return Err(ApiError::BadRequest(format!("{ctx}: Invalid Page Size")));
    }
    let offset = query_u64(q.offset.as_deref(), "offset", ctx)?.unwrap_or(0);
    let (total, jobs) = selection.page(&s, &tenant.id, offset, size).await?;
    let mut results = Vec::new();
    for j in &jobs {
        results.push(listed(&s, &tenant.id, j, display).await?);
    }
    let (next_url, prev_url) = offset_links("/scheduler/jobs", offset, size, total);
    Ok(Json(JobListOrJob::List(JobList {
        total,
        results,
        next_url,
        prev_url,
    })))
}

/// The job list's selection: `jobType`, `filter`, `sort_by` and `sort_order`. (`tenantId`
/// selects nothing: SAP applies it to XSUAA tokens of a subscriber tenant, and a chime key
/// is one tenant, whose jobs the list always is.)
struct Selection {
    /// `false` for `jobType=CF_TASK`: no chime job.
    http: bool,
    filter: Option<Filter>,
    sort_by: Option<String>,
    desc: bool,
}

impl Selection {
    fn of(q: &JobListQuery) -> ApiResult<Selection> {
        let bad = ApiError::BadRequest;
        let http = q.jobType.as_deref().map_or(Ok(true), filter::job_type);
        let parsed = q.filter.as_deref().map(Filter::parse).transpose();
        let (sort_by, desc) =
            filter::sort_of(q.sort_by.as_deref(), q.sort_order.as_deref()).map_err(bad)?;
        Ok(Selection {
            http: http.map_err(bad)?,
            filter: parsed.map_err(bad)?,
            sort_by,
            desc,
        })
    }

    /// The page at `offset` of `size` jobs, and the total selected. Without a filter or a
    /// sort, one page of the id index; else every job of the tenant (at most its `maxJobs`,
    /// see [`search::tenant_jobs`]) filtered and sorted.
    async fn page(
        &self,
        s: &AppState,
        tenant: &str,
        offset: u64,
        size: u64,
    ) -> ApiResult<(u64, Vec<Job>)> {
        if !self.http {
            return Ok((0, vec![]));
        }
        if self.filter.is_none() && self.sort_by.is_none() && !self.desc {
            return Ok(s.store.jobs_page(tenant, offset, size).await?);
        }
        let mut all = search::tenant_jobs(s, tenant).await?;
        if let Some(f) = &self.filter {
            all.retain(|j| f.matches(j, tenant));
        }
        filter::sort(&mut all, self.sort_by.as_deref(), self.desc);
        let skip = usize::try_from(offset).unwrap_or(usize::MAX);
        let take = usize::try_from(size).unwrap_or(usize::MAX);
        Ok((
            all.len() as u64,
            all.into_iter().skip(skip).take(take).collect(),
        ))
    }
}

/// A job of the list: with its schedules when `display`, and their counts.
async fn listed(s: &AppState, tenant: &str, job: &Job, display: bool) -> ApiResult<ListedJob> {
    let (view, actives): (SapJob, Vec<bool>) = if display {
        let planned = service::schedules(s, tenant, job.id).await?;
        let actives = planned.iter().map(|(sc, _)| sc.active).collect();
        (job_with(job, &planned), actives)
    } else {
        let scs = s.store.schedules(tenant, job.id).await?;
        (
            SapJob::new(job, None),
            scs.iter().map(|sc| sc.active).collect(),
        )
    };
    let active_count = actives.iter().filter(|a| **a).count() as u64;
    Ok(ListedJob {
        job_id: job.id,
        job: view,
        active_count,
        inactive_count: actives.len() as u64 - active_count,
    })
}

#[utoipa::path(
    put, path = "/scheduler/jobs/{jobId}", tag = "sap", operation_id = "configureJob",
    summary = "Configure a job by id, or replace or create one by name",
    params(("jobId" = String, Path, description = "The job id, or (for PUT) a job name: configuring by name replaces the job or creates it")),
    request_body = JobUpdateRequest,
    responses(
        (status = 200, description = "By id: `{\"success\": true}`. By name, an existing job: the job with its new schedules", body = Success),
        (status = 201, description = "By name, a new job: the job with its schedules", body = SapJob,
            headers(("Location" = String, description = "`/scheduler/jobs/{jobId}`"))),
        (status = 409, description = "Another job has that name", body = crate::error::SapError),
        (status = 413, description = "The body is too large", body = crate::error::SapError),
        crate::error::SapErrors,
    ),
    security(("bearerKey" = []), ("basicKey" = []), ("apiKeyId" = [], "apiKeySecret" = []), ("authToken" = []))
)]
pub async fn put_job(
    State(s): State<AppState>,
    tenant: Tenant,
    Path(raw): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    tenant.require("write")?;
    let (ms, now) = service::now(&s).await?;
    let (req, fields) = decode::<JobUpdateRequest>(body)?;
    if raw.parse::<u64>().is_err() {
        return upsert_job_by_name(&s, &tenant, &raw, req.into(), ms, now).await;
    }
    let old = load_job(&s, &tenant, &raw).await?;
    update_job_of(&s, &tenant, &old, &req, &fields, (ms, now)).await?;
    Ok(Json(Success::YES).into_response())
}

/// Job `old` changed by SAP's Configure Job body (`req`, whose fields are `fields`) at `at`
/// (the API's route and the dashboard's form): checked, stored, its schedules planned again
/// when its activity or bounds changed.
pub async fn update_job_of(
    s: &AppState,
    tenant: &Tenant,
    old: &Job,
    req: &JobUpdateRequest,
    fields: &[String],
    (ms, now): (i64, DateTime<Utc>),
) -> ApiResult<()> {
    let mut job = input::update_job(old, req, now)?;
    service::seal_secrets(
        s,
        &tenant.id,
        &mut job,
        Some(old),
        "Error while updating job",
    )?;
    let fields: Vec<&str> = fields.iter().map(String::as_str).collect();
    service::update_job(s, tenant, old, &job, &fields, ms).await
}

/// SAP's Configure Job (by name): full replacement of an existing job, or creation.
async fn upsert_job_by_name(
    s: &AppState,
    tenant: &Tenant,
    name: &str,
    mut req: JobRequest,
    ms: i64,
    now: DateTime<Utc>,
) -> ApiResult<Response> {
    input::job_name(name, "Error while updating job")?;
    if req.name.as_deref().is_some_and(|n| n != name) {
        return Err(ApiError::BadRequest(
            "Error while updating job: 'name' in the body must match the name in the path".into(),
        ));
    }
    req.name = Some(name.to_string());
    let schedules = input::schedules_of(&req, now)?;
    let timeout = s.settings.default_timeout_ms;
    match s.store.job_id_by_name(&tenant.id, name).await? {
        None => {
            let job = service::new_job(s, tenant, &req, now).await?;
            let (job, planned) = service::create_job(s, tenant, job, schedules, ms).await?;
            Ok(created(job_with(&job, &planned)))
        }
        Some(id) => {
            let old = s
                .store
                .job(&tenant.id, id)
                .await?
                .ok_or_else(|| ApiError::NotFound(format!("job {name} does not exist")))?;
            let mut job = input::new_job(&req, id, timeout, now)?;
            job.created_at = old.created_at.clone();
            service::seal_secrets(
                s,
                &tenant.id,
                &mut job,
                Some(&old),
                "Error while updating job",
            )?;
            let (job, planned) = service::replace_job(s, tenant, job, schedules, ms).await?;
            Ok(Json(job_with(&job, &planned)).into_response())
        }
    }
}

#[utoipa::path(
    delete, path = "/scheduler/jobs/{jobId}", tag = "sap", operation_id = "deleteJob",
    summary = "Delete a job with its schedules and runs",
    params(("jobId" = String, Path, description = "The job id")),
    responses(
        (status = 200, description = "Deleted", body = Success),
        crate::error::SapErrors,
    ),
    security(("bearerKey" = []), ("basicKey" = []), ("apiKeyId" = [], "apiKeySecret" = []), ("authToken" = []))
)]
pub async fn delete_job(
    State(s): State<AppState>,
    tenant: Tenant,
    Path(raw): Path<String>,
) -> ApiResult<Json<Success>> {
    tenant.require("write")?;
    let job = load_job(&s, &tenant, &raw).await?;
    service::delete_job(&s, &tenant, &job).await?;
    Ok(Json(Success::YES))
}

#[utoipa::path(
    get, path = "/scheduler/jobCount", tag = "sap", operation_id = "jobCount",
    summary = "Count the tenant's active and inactive jobs",
    responses(
        (status = 200, description = "The counts", body = JobCount),
        crate::error::SapErrors,
    ),
    security(("bearerKey" = []), ("basicKey" = []), ("apiKeyId" = [], "apiKeySecret" = []), ("authToken" = []))
)]
pub async fn job_count(State(s): State<AppState>, tenant: Tenant) -> ApiResult<Json<JobCount>> {
    tenant.require("read")?;
    let (active, inactive) = s.store.job_counts(&tenant.id).await?;
    Ok(Json(JobCount { active, inactive }))
}
