//! The query parameters of the SAP routes and of the live tail and export: the types the
//! handlers read the query string into ([`crate::query::QueryOf`]) and the document lists.
//! Values stay text here; each handler parses them, and its errors name the parameter.

use serde::Deserialize;
use utoipa::IntoParams;

/// `GET /scheduler/jobs` parameters.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(non_snake_case)]
pub struct JobListQuery {
    /// Page size, 1 to 100 (default 10). Not with `name` or `jobId`.
    #[param(value_type = Option<u64>, minimum = 1, maximum = 100)]
    pub page_size: Option<String>,
    /// Jobs to skip (default 0). Not with `name` or `jobId`.
    #[param(value_type = Option<u64>, minimum = 0)]
    pub offset: Option<String>,
    /// Fetch the one job of this name.
    pub name: Option<String>,
    /// Fetch the one job of this id.
    #[param(value_type = Option<u64>)]
    pub jobId: Option<String>,
    /// `true` to include each job's schedules.
    #[param(value_type = Option<bool>)]
    pub displaySchedules: Option<String>,
    /// `HTTP_ENDPOINT` (every chime job) or `CF_TASK` (none).
    #[param(value_type = Option<String>, example = "HTTP_ENDPOINT")]
    pub jobType: Option<String>,
    /// SAP's subscriber tenant of an XSUAA token. A chime key is one tenant: the list is
    /// always the key's tenant's jobs, whatever this says.
    pub tenantId: Option<String>,
    /// SAP's filter: `name eq 'x'`, `contains(name, 'x')` over `name`, `subDomain` and
    /// `tenantId`, joined by `and` (binds tighter) and `or`; `''` is a quote in a value.
    #[param(example = "contains(name, 'order') and tenantId eq 'acme'")]
    pub filter: Option<String>,
    /// Sort by this field: `_id`, `jobId`, `name`, `description`, `action`, `active`,
    /// `httpMethod`, `startTime`, `endTime`, `createdAt` or `modifiedAt` (default: the id).
    pub sort_by: Option<String>,
    /// `ASC` (default) or `DESC`.
    #[param(example = "ASC")]
    pub sort_order: Option<String>,
}

/// `GET /scheduler/search/jobs` parameters.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(non_snake_case)]
pub struct SearchJobsQuery {
    /// Free text and the qualifiers `active:true|false`, `startTime:<op><date>`,
    /// `endTime:<op><date>` (`<`, `>`, `<=`, `>=`; `YYYY-MM-DD` or `YYYY-MM-DDTHH:mm:ss`),
    /// separated by spaces; `"…"` quotes a phrase.
    #[param(required = true, example = "salesOrder active:true")]
    pub q: Option<String>,
    /// Page size, a positive number (10 when only `offset` is given). Without `page_size`
    /// and `offset`, every result.
    #[param(value_type = Option<u64>, minimum = 1)]
    pub page_size: Option<String>,
    /// Results to skip (default 0).
    #[param(value_type = Option<u64>, minimum = 0)]
    pub offset: Option<String>,
    /// `false` to leave out each job's schedules (default `true`).
    #[param(value_type = Option<bool>)]
    pub displaySchedules: Option<String>,
}

/// `GET /scheduler/search/schedules` parameters.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(non_snake_case)]
pub struct SearchSchedulesQuery {
    /// As for the job search; `active` is the schedule's.
    #[param(required = true, example = "daily active:true")]
    pub q: Option<String>,
    /// Page size, a positive number (10 when only `offset` is given). Without `page_size`
    /// and `offset`, every result.
    #[param(value_type = Option<u64>, minimum = 1)]
    pub page_size: Option<String>,
    /// Results to skip (default 0).
    #[param(value_type = Option<u64>, minimum = 0)]
    pub offset: Option<String>,
    /// Not supported here: given, the answer is 400.
    #[param(value_type = Option<bool>)]
    pub displaySchedules: Option<String>,
}

/// `displaySchedules` parameter.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(non_snake_case)]
pub struct DisplaySchedulesQuery {
    /// `true` to include the job's schedules.
    #[param(value_type = Option<bool>)]
    pub displaySchedules: Option<String>,
}

/// `displayLogs` parameter.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(non_snake_case)]
pub struct DisplayLogsQuery {
    /// `true` to include the schedule's run log (at most 200 runs).
    #[param(value_type = Option<bool>)]
    pub displayLogs: Option<String>,
}

/// Offset paging of schedules.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ScheduleListQuery {
    /// Page size, 1 to 100 (default 100).
    #[param(value_type = Option<u64>, minimum = 1, maximum = 100)]
    pub page_size: Option<String>,
    /// Schedules to skip (default 0).
    #[param(value_type = Option<u64>, minimum = 0)]
    pub offset: Option<String>,
}

/// Run-log paging: offsets, or a cursor (`next`/`prev`) from a previous page's links.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RunLogQuery {
    /// Page size, 1 to 200; 200 when neither `page_size` nor `offset` is given, 10 with only
    /// `offset`.
    #[param(value_type = Option<u64>, minimum = 1, maximum = 200)]
    pub page_size: Option<String>,
    /// 1-based: 0 and 1 skip nothing, `n` starts at the n-th newest run.
    #[param(value_type = Option<u64>, minimum = 0)]
    pub offset: Option<String>,
    /// Cursor: the runs older than this run id.
    pub next: Option<String>,
    /// Cursor: the runs newer than this run id (not with `next`).
    pub prev: Option<String>,
}

/// Audit-trail filter.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(non_snake_case)]
pub struct ActionLogQuery {
    /// The job (required); 0 for the tenant-wide entries (changes of its global parameters).
    #[param(value_type = u64)]
    pub jobId: Option<String>,
    /// Only this schedule's entries.
    pub scheduleId: Option<String>,
}

/// Export window.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExportQuery {
    /// Runs scheduled at or after this ISO 8601 instant or date (default: the retention
    /// window's start).
    pub from: Option<String>,
    /// Runs scheduled at or before this ISO 8601 instant or date.
    pub to: Option<String>,
}

/// The window and page of a schedule's fires.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FiresQuery {
    /// ISO-8601 instant with an offset; default an hour before `to`.
    #[param(value_type = Option<String>, example = "2026-01-01T08:00:00Z")]
    pub from: Option<String>,
    /// ISO-8601 instant with an offset; default now.
    #[param(value_type = Option<String>)]
    pub to: Option<String>,
    /// Page size, 1 to 1000 (default 1000).
    #[param(value_type = Option<u64>, minimum = 1, maximum = 1000)]
    pub page_size: Option<String>,
    /// Instants to skip, newest first (default 0).
    #[param(value_type = Option<u64>)]
    pub offset: Option<String>,
}

/// `GET /scheduler/jobs/{jobId}/stats` window.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StatsQuery {
    /// Runs finished at or after this ISO 8601 instant (default: `to` less 24 hours).
    pub from: Option<String>,
    /// Runs finished at or before this ISO 8601 instant (default: now). After `from`, at most
    /// 31 days after it.
    pub to: Option<String>,
    /// Also answer `series`: the window cut into this many equal buckets (1 to 500), each
    /// with its counts and latency, for a chart.
    #[param(value_type = Option<u32>, minimum = 1, maximum = 500)]
    pub buckets: Option<String>,
}
