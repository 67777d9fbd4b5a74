//! The query parameters of the SAP routes and of the live tail and export, as the document
//! lists them.

use utoipa::IntoParams;

/// `GET /scheduler/jobs` parameters.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(non_snake_case)]
pub struct JobListQuery {
    /// Page size, 1 to 100 (default 10). Not with `name` or `jobId`.
    #[param(minimum = 1, maximum = 100)]
    pub page_size: Option<u64>,
    /// Jobs to skip (default 0). Not with `name` or `jobId`.
    #[param(minimum = 0)]
    pub offset: Option<u64>,
    /// Fetch the one job of this name.
    pub name: Option<String>,
    /// Fetch the one job of this id.
    pub jobId: Option<u64>,
    /// `true` to include each job's schedules.
    pub displaySchedules: Option<bool>,
}

/// `displaySchedules` parameter.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(non_snake_case)]
pub struct DisplaySchedulesQuery {
    /// `true` to include the job's schedules.
    pub displaySchedules: Option<bool>,
}

/// `displayLogs` parameter.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(non_snake_case)]
pub struct DisplayLogsQuery {
    /// `true` to include the schedule's run log (at most 200 runs).
    pub displayLogs: Option<bool>,
}

/// Offset paging of schedules.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ScheduleListQuery {
    /// Page size, 1 to 100 (default 100).
    #[param(minimum = 1, maximum = 100)]
    pub page_size: Option<u64>,
    /// Schedules to skip (default 0).
    #[param(minimum = 0)]
    pub offset: Option<u64>,
}

/// Run-log paging: offsets, or a cursor (`next`/`prev`) from a previous page's links.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RunLogQuery {
    /// Page size, 1 to 200; 200 when neither `page_size` nor `offset` is given, 10 with only
    /// `offset`.
    #[param(minimum = 1, maximum = 200)]
    pub page_size: Option<u64>,
    /// 1-based: 0 and 1 skip nothing, `n` starts at the n-th newest run.
    #[param(minimum = 0)]
    pub offset: Option<u64>,
    /// Cursor: the runs older than this run id.
    pub next: Option<String>,
    /// Cursor: the runs newer than this run id (not with `next`).
    pub prev: Option<String>,
}

/// Audit-trail filter.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(non_snake_case)]
pub struct ActionLogQuery {
    /// The job (required).
    pub jobId: u64,
    /// Only this schedule's entries.
    pub scheduleId: Option<String>,
}

/// Export window.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExportQuery {
    /// Runs scheduled at or after this ISO 8601 instant or date (default: the retention
    /// window's start).
    pub from: Option<String>,
    /// Runs scheduled at or before this ISO 8601 instant or date.
    pub to: Option<String>,
}
