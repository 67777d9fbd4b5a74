//! SAP's search: `GET /scheduler/search/jobs` and `GET /scheduler/search/schedules`, over
//! the caller's tenant's jobs and schedules, by SAP's `q` ([`crate::select::q`]), with
//! SAP's paging (every result unless `page_size` or `offset` is given).

use crate::auth::Tenant;
use crate::error::{ApiError, ApiResult};
use crate::query::QueryOf;
use crate::select::q::{paging, Search, CTX};
use crate::service;
use crate::state::AppState;
use crate::wire::params::{SearchJobsQuery, SearchSchedulesQuery};
use crate::wire::search::{
    SearchJob, SearchJobPage, SearchSchedule, SearchSchedulePage, SearchScheduleResult,
};
use axum::extract::State;
use axum::Json;
use chime_core::model::{Job, Schedule};
use futures::{StreamExt, TryStreamExt};
use std::ops::Range;

/// Every job of the tenant, in id order. A tenant holds at most its `maxJobs` jobs (the
/// quota every create checks; 10,000 unless the tenant's own says otherwise), so reading
/// all its definitions is bounded by that quota (a tenant configured with `maxJobs: 0`,
/// no limit, by what it created).
pub async fn tenant_jobs(s: &AppState, tenant: &str) -> ApiResult<Vec<Job>> {
    Ok(s.store.jobs_page(tenant, 0, u64::MAX / 2).await?.1)
}

fn bad(msg: String) -> ApiError {
    ApiError::BadRequest(msg)
}

/// The slice of `total` results a search answers, and its paging fields.
struct Page {
    range: Range<usize>,
    enabled: bool,
    prev_url: Option<String>,
    next_url: Option<String>,
}

/// The page `paging` selects of `total` results of `q` at `path` (every result without
/// paging); the links keep `q` and `extra` (a `&name=value` tail).
fn page(path: &str, q: &str, extra: &str, paging: Option<(u64, u64)>, total: usize) -> Page {
    let Some((offset, size)) = paging else {
        return Page {
            range: 0..total,
            enabled: false,
            prev_url: None,
            next_url: None,
        };
    };
    let q: String = url::form_urlencoded::byte_serialize(q.as_bytes()).collect();
    let link = |at: u64| format!("{path}?q={q}&page_size={size}&offset={at}{extra}");
    let total64 = total as u64;
    let end = offset.saturating_add(size);
    let start = usize::try_from(offset.min(total64)).unwrap_or(total);
    let stop = usize::try_from(end.min(total64)).unwrap_or(total);
    Page {
        range: start..stop,
        enabled: true,
        prev_url: (offset > 0).then(|| link(offset.saturating_sub(size))),
        next_url: (end < total64).then(|| link(end)),
    }
}

#[utoipa::path(
    get, path = "/scheduler/search/jobs", tag = "sap", operation_id = "searchJobs",
    summary = "Search the tenant's jobs",
    description = "Free text (a job's `name` and `description`, case-insensitive) and the \
        qualifiers `active:true|false`, `startTime:<op><date>` and `endTime:<op><date>` \
        (`<`, `>`, `<=`, `>=`; `YYYY-MM-DD` or `YYYY-MM-DDTHH:mm:ss`, UTC), separated by \
        spaces and all required; `\"…\"` quotes a phrase. Results in id order, with the \
        fields SAP renames for search (`jobActive`, `jobStartTime`, `jobEndTime`, \
        `scheduleDescription`).",
    params(SearchJobsQuery),
    responses(
        (status = 200, description = "The matching jobs", body = SearchJobPage),
        crate::error::SapErrors,
    ),
    security(("bearerKey" = []), ("basicKey" = []), ("apiKeyId" = [], "apiKeySecret" = []), ("authToken" = []))
)]
pub async fn search_jobs(
    State(s): State<AppState>,
    tenant: Tenant,
    QueryOf(p): QueryOf<SearchJobsQuery>,
) -> ApiResult<Json<SearchJobPage>> {
    tenant.require("read")?;
    let search = Search::parse(p.q.as_deref()).map_err(bad)?;
    let paging = paging(p.page_size.as_deref(), p.offset.as_deref()).map_err(bad)?;
    let display = match p.displaySchedules.as_deref() {
        None | Some("true") => true,
        Some("false") => false,
        Some(v) => {
            return Err(bad(format!(
                "{CTX}: 'displaySchedules' must be true or false, got '{v}'"
            )))
        }
    };
    let hits: Vec<Job> = tenant_jobs(&s, &tenant.id)
        .await?
        .into_iter()
        .filter(|j| search.job(j))
        .collect();
    let extra = match p.displaySchedules {
        Some(_) => format!("&displaySchedules={display}"),
        None => String::new(),
    };
    let q = p.q.as_deref().unwrap_or_default();
    let pg = page("/scheduler/search/jobs", q, &extra, paging, hits.len());
    let mut results = Vec::new();
    for j in &hits[pg.range] {
        let schedules = if display {
            let planned = service::schedules(&s, &tenant.id, j.id).await?;
            Some(
                planned
                    .iter()
                    .map(|(sc, next)| SearchSchedule::new(sc, *next))
                    .collect(),
            )
        } else {
            None
        };
        results.push(SearchJob::new(j, schedules));
    }
    Ok(Json(SearchJobPage {
        total: hits.len() as u64,
        results,
        pagination_enabled: pg.enabled,
        prev_url: pg.prev_url,
        next_url: pg.next_url,
    }))
}

#[utoipa::path(
    get, path = "/scheduler/search/schedules", tag = "sap", operation_id = "searchSchedules",
    summary = "Search the tenant's schedules",
    description = "As the job search, over schedules: free text matches a schedule's \
        `description` or its job's `name`; `active`, `startTime` and `endTime` are the \
        schedule's. Results in job id order, then each job's schedules in creation order, \
        each with its job as `parent`. `displaySchedules` is refused (400).",
    params(SearchSchedulesQuery),
    responses(
        (status = 200, description = "The matching schedules", body = SearchSchedulePage),
        crate::error::SapErrors,
    ),
    security(("bearerKey" = []), ("basicKey" = []), ("apiKeyId" = [], "apiKeySecret" = []), ("authToken" = []))
)]
pub async fn search_schedules(
    State(s): State<AppState>,
    tenant: Tenant,
    QueryOf(p): QueryOf<SearchSchedulesQuery>,
) -> ApiResult<Json<SearchSchedulePage>> {
    tenant.require("read")?;
    if p.displaySchedules.is_some() {
        return Err(bad(format!("{CTX}: displaySchedules is not supported")));
    }
    let search = Search::parse(p.q.as_deref()).map_err(bad)?;
    let paging = paging(p.page_size.as_deref(), p.offset.as_deref()).map_err(bad)?;
    let jobs = tenant_jobs(&s, &tenant.id).await?;
    let (store, t) = (&s.store, tenant.id.as_str());
    let defs: Vec<(Job, Vec<Schedule>)> = futures::stream::iter(jobs)
        .map(|j| async move {
            let scs = store.schedules(t, j.id).await?;
            Ok::<_, ApiError>((j, scs))
        })
        .buffered(16)
        .try_collect()
        .await?;
    let hits: Vec<(&Job, &Schedule)> = defs
        .iter()
        .flat_map(|(j, scs)| scs.iter().map(move |sc| (j, sc)))
        .filter(|(j, sc)| search.schedule(j, sc))
        .collect();
    let q = p.q.as_deref().unwrap_or_default();
    let pg = page("/scheduler/search/schedules", q, "", paging, hits.len());
    let mut results = Vec::new();
    for (j, sc) in &hits[pg.range] {
        let next = service::next_run(&s, t, j.id, &sc.schedule_id).await?;
        results.push(SearchScheduleResult::new(j, sc, next));
    }
    Ok(Json(SearchSchedulePage {
        total: hits.len() as u64,
        results,
        pagination_enabled: pg.enabled,
        prev_url: pg.prev_url,
        next_url: pg.next_url,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_pages() {
        let p = page("/s", "a b", "", Some((0, 10)), 25);
        assert_eq!(p.range, 0..10);
        assert_eq!(
            p.next_url.as_deref(),
            Some("/s?q=a+b&page_size=10&offset=10")
        );
        assert_eq!(p.prev_url, None);
        let p = page("/s", "x", "&displaySchedules=false", Some((20, 10)), 25);
        assert_eq!(p.range, 20..25);
        assert_eq!(p.next_url, None);
        assert_eq!(
            p.prev_url.as_deref(),
            Some("/s?q=x&page_size=10&offset=10&displaySchedules=false")
        );
        let p = page("/s", "x", "", Some((40, u64::MAX)), 25);
        assert_eq!((p.range, p.next_url.is_none()), (25..25, true));
        let p = page("/s", "x", "", None, 3);
        assert_eq!((p.range, p.enabled, p.next_url), (0..3, false, None));
    }
}
