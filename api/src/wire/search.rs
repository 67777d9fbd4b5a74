//! SAP's search answers (`GET /scheduler/search/jobs` and `GET /scheduler/search/schedules`):
//! the fields SAP renames in search results (a job's `jobActive`, `jobStartTime`,
//! `jobEndTime`; a schedule's `scheduleDescription`), a schedule's `data` as a JSON string,
//! and a schedule result's `parent`.

use chime_core::model::{Job, Schedule};
use chime_core::time::format_instant;
use serde::Serialize;
use utoipa::ToSchema;

/// A schedule in a search result.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SearchSchedule {
    pub schedule_id: String,
    pub schedule_description: String,
    #[serde(rename = "type")]
    #[schema(value_type = crate::wire::sap::ScheduleType)]
    pub kind: String,
    pub active: bool,
    pub start_time: Option<String>,
    pub end_time: Option<String>,
    pub cron: Option<String>,
    pub repeat_interval: Option<String>,
    pub repeat_at: Option<String>,
    pub time: Option<String>,
    /// The data sent to the action, as a JSON string.
    #[schema(example = "{\"salesOrderId\":\"1234\"}")]
    pub data: Option<String>,
    /// The next fire, when the job and the schedule are active and it will fire again.
    pub next_run_at: Option<String>,
    /// chime: a schedule's Unix crontab, when it has one (its `cron` is then null).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub crontab: Option<String>,
    /// chime: the zone of the schedule's wall-clock times (absent: UTC).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<String>,
}

impl SearchSchedule {
    /// A schedule with its next fire (ms).
    pub fn new(s: &Schedule, next: Option<i64>) -> Self {
        SearchSchedule {
            schedule_id: s.schedule_id.clone(),
            schedule_description: s.description.clone(),
            kind: s.kind.to_string(),
            active: s.active,
            start_time: s.start_time.clone(),
            end_time: s.end_time.clone(),
            cron: s.cron.clone(),
            repeat_interval: s.repeat_interval.clone(),
            repeat_at: s.repeat_at.clone(),
            time: s.time.clone(),
            data: s.data.as_ref().map(|d| d.to_string()),
            next_run_at: next.map(format_instant),
            crontab: s.crontab.clone(),
            time_zone: s.time_zone.clone(),
        }
    }
}

/// A job in a search result.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SearchJob {
    #[serde(rename = "_id")]
    pub id: u64,
    pub name: String,
    pub description: String,
    pub action: String,
    /// Always null: chime's jobs belong to a tenant, not to a user.
    #[schema(value_type = Option<String>)]
    pub user: Option<()>,
    pub job_active: bool,
    #[schema(value_type = crate::wire::sap::ActionMethod)]
    pub http_method: String,
    pub job_start_time: Option<String>,
    pub job_end_time: Option<String>,
    /// Always 0.
    pub signature_version: u32,
    /// The job's schedules, unless `displaySchedules=false`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schedules: Option<Vec<SearchSchedule>>,
}

impl SearchJob {
    /// A job, with its schedules when given.
    pub fn new(j: &Job, schedules: Option<Vec<SearchSchedule>>) -> Self {
        SearchJob {
            id: j.id,
            name: j.name.clone(),
            description: j.description.clone(),
            action: chime_core::secrets::mask_userinfo(&j.action),
            user: None,
            job_active: j.active,
            http_method: j.http_method.to_string(),
            job_start_time: j.start_time.clone(),
            job_end_time: j.end_time.clone(),
            signature_version: 0,
            schedules,
        }
    }
}

/// The job a schedule result belongs to.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SearchParent {
    #[serde(rename = "_id")]
    pub id: u64,
    pub name: String,
    /// `/scheduler/jobs/{jobId}`.
    #[schema(example = "/scheduler/jobs/42")]
    pub job_url: String,
}

/// A schedule result: the schedule and its job.
#[derive(Serialize, ToSchema)]
pub struct SearchScheduleResult {
    #[serde(flatten)]
    pub schedule: SearchSchedule,
    pub parent: SearchParent,
}

impl SearchScheduleResult {
    /// Schedule `s` of job `j` with its next fire (ms).
    pub fn new(j: &Job, s: &Schedule, next: Option<i64>) -> Self {
        SearchScheduleResult {
            schedule: SearchSchedule::new(s, next),
            parent: SearchParent {
                id: j.id,
                name: j.name.clone(),
                job_url: format!("/scheduler/jobs/{}", j.id),
            },
        }
    }
}

/// A page of job search results.
#[derive(Serialize, ToSchema)]
pub struct SearchJobPage {
    /// Jobs matching `q`, over every page.
    pub total: u64,
    pub results: Vec<SearchJob>,
    /// `true` when `page_size` or `offset` is given; else every result is in `results`.
    pub pagination_enabled: bool,
    /// The previous page; null on the first page or without paging.
    pub prev_url: Option<String>,
    /// The next page; null on the last page or without paging.
    pub next_url: Option<String>,
}

/// A page of schedule search results.
#[derive(Serialize, ToSchema)]
pub struct SearchSchedulePage {
    /// Schedules matching `q`, over every page.
    pub total: u64,
    pub results: Vec<SearchScheduleResult>,
    /// `true` when `page_size` or `offset` is given; else every result is in `results`.
    pub pagination_enabled: bool,
    /// The previous page; null on the first page or without paging.
    pub prev_url: Option<String>,
    /// The next page; null on the last page or without paging.
    pub next_url: Option<String>,
}
