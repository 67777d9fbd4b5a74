//! SAP's response shapes: jobs, schedules, run logs, the audit trail and the global
//! parameters, built from the stored model.

use crate::wire::stats::TimingView;
use chime_core::model::{Job, RunRecord, Schedule};
use chime_core::time::format_instant;
use chime_core::timing::{FailureReason, Timing};
use chime_store::ActionLog;
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;
use utoipa::ToSchema;

/// The HTTP method of a job's action.
#[derive(Serialize, serde::Deserialize, ToSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum ActionMethod {
    Get,
    Post,
    Put,
    Delete,
    Patch,
}

/// A run's status (the values of `runStatus`).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum RunStatus {
    Scheduled,
    Running,
    Completed,
}

/// A run's state (the values of `runState`).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RunState {
    Scheduled,
    Triggered,
    AckRecvd,
    Success,
    Error,
    RequestError,
    Unknown,
}

/// A run's outcome once completed (the values of `outcome`).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Success,
    Failure,
    Error,
    Timeout,
}

/// A schedule's type (the values of `type`).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ScheduleType {
    OneTime,
    Recurring,
}

/// An entry of SAP's run log.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SapRunLog {
    pub run_id: String,
    /// The endpoint's answer text, or the reported message of an asynchronous job.
    pub run_text: String,
    /// The HTTP status the action answered with, once it has.
    pub http_status: Option<u16>,
    /// When the call was made (ISO 8601, UTC).
    pub execution_timestamp: Option<String>,
    #[schema(value_type = RunStatus)]
    pub run_status: String,
    #[schema(value_type = RunState)]
    pub run_state: String,
    /// The instant the run was scheduled for (a manual run's: the instant it was requested).
    pub schedule_timestamp: String,
    pub completion_timestamp: Option<String>,
    /// chime: `true` on a manual run (requested with `POST …/runs`, "run now"); absent on
    /// scheduled runs.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub manual: bool,
}

impl From<&RunRecord> for SapRunLog {
    fn from(r: &RunRecord) -> Self {
        SapRunLog {
            run_id: r.run_id.clone(),
            run_text: r.run_text.clone(),
            http_status: r.http_status,
            execution_timestamp: r.executed_at.map(format_instant),
            run_status: r.status.to_string(),
            run_state: r.state.to_string(),
            schedule_timestamp: format_instant(r.scheduled_at),
            completion_timestamp: r.completed_at.map(format_instant),
            manual: r.manual,
        }
    }
}

/// One run in detail: SAP's run-log fields and chime's.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RunDetail {
    #[serde(flatten)]
    pub run: SapRunLog,
    pub job_id: u64,
    pub schedule_id: String,
    /// Per-job run number, 1, 2, 3 … in fire order.
    pub run_number: u64,
    #[schema(value_type = Option<Outcome>)]
    pub outcome: Option<String>,
    pub response_body: Option<String>,
    pub error_message: Option<String>,
    pub duration_ms: Option<u64>,
    /// The delivery attempt that executed the run.
    pub attempt: u32,
    /// The worker that executed the run.
    pub worker: Option<String>,
    /// The run's text log: one line per step, each starting with an RFC 3339 timestamp.
    pub log: String,
    /// A run its job's `retryPolicy` retried: every attempt, oldest first (the last is the
    /// run's own outcome, or the one running). Absent for a run of one attempt.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub attempts: Vec<AttemptView>,
    /// While a retry waits: when its attempt is due (ISO 8601, UTC).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_attempt_at: Option<String>,
    /// The last call's timing split (absent before a call).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timing: Option<TimingView>,
    /// Why the run failed (chime's): `dns`, `connect`, `tls`, `timeout`, `http_4xx`,
    /// `http_5xx`, `blocked`, `cancelled`, `invalid` (`body_too_large` is reserved). Absent
    /// on a run that did not fail, and on one its job reported failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub failure_reason: Option<FailureReason>,
}

/// One attempt of a retried run.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AttemptView {
    /// 1 for the first call.
    pub attempt: u32,
    pub execution_timestamp: Option<String>,
    pub duration_ms: Option<u64>,
    pub http_status: Option<u16>,
    #[schema(value_type = Option<Outcome>)]
    pub outcome: Option<String>,
    /// Why the attempt failed (its retried reason first: `HTTP 5xx`, `HTTP 408`, `HTTP 429`,
    /// `timeout`, `connection error`).
    pub error: Option<String>,
    /// The wait before the next attempt (ms); absent on the last.
    pub delay_ms: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timing: Option<TimingView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub failure_reason: Option<FailureReason>,
}

impl AttemptView {
    /// Every attempt of `r`: the retried ones, then its own (finished, running or waiting).
    fn all(r: &RunRecord) -> Vec<AttemptView> {
        if r.retried.is_empty() {
            return vec![];
        }
        let mut out: Vec<AttemptView> = r
            .retried
            .iter()
            .map(|a| AttemptView {
                attempt: a.attempt,
                execution_timestamp: Some(format_instant(a.executed_at)),
                duration_ms: Some(a.duration_ms),
                http_status: a.http_status,
                outcome: Some(a.outcome.to_string()),
                error: Some(a.error.clone()),
                delay_ms: Some(a.delay_ms),
                timing: TimingView::of(
                    a.timing.as_deref().and_then(Timing::decode),
                    Some(a.duration_ms),
                ),
                failure_reason: a.failure_reason,
            })
            .collect();
        if r.next_attempt.is_none() {
            out.push(AttemptView {
                attempt: r.attempt,
                execution_timestamp: r.executed_at.map(format_instant),
                duration_ms: r.duration_ms,
                http_status: r.http_status,
                outcome: r.outcome.map(|o| o.to_string()),
                error: r.error.clone(),
                delay_ms: None,
                timing: TimingView::of(r.timing, r.duration_ms),
                failure_reason: r.failure_reason,
            });
        }
        out
    }
}

impl From<&RunRecord> for RunDetail {
    fn from(r: &RunRecord) -> Self {
        RunDetail {
            run: r.into(),
            job_id: r.job_id,
            schedule_id: r.schedule_id.clone(),
            run_number: r.number,
            outcome: r.outcome.map(|o| o.to_string()),
            response_body: r.response_body.clone(),
            error_message: r.error.clone(),
            duration_ms: r.duration_ms,
            attempt: r.attempt,
            worker: r.worker.clone(),
            log: if r.log.is_empty() {
                r.text_log(&[])
            } else {
                r.log.clone()
            },
            attempts: AttemptView::all(r),
            next_attempt_at: r.next_attempt.map(|(_, at)| format_instant(at)),
            timing: TimingView::of(r.timing, r.duration_ms),
            failure_reason: r.failure_reason,
        }
    }
}

/// A schedule. Exactly one of `cron`, `crontab`, `time`, `repeatInterval` and `repeatAt` is
/// present.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SapSchedule {
    pub schedule_id: String,
    pub job_id: u64,
    pub description: String,
    pub data: Option<Value>,
    #[serde(rename = "type")]
    #[schema(value_type = ScheduleType)]
    pub kind: String,
    pub active: bool,
    pub start_time: Option<String>,
    pub end_time: Option<String>,
    /// The next fire, when the job and the schedule are active and it will fire again.
    pub next_run_at: Option<String>,
    pub created_at: String,
    pub modified_at: String,
    /// SAP's four modes are each present, `null` but the schedule's own (as SAP answers).
    pub cron: Option<String>,
    pub time: Option<String>,
    pub repeat_interval: Option<String>,
    pub repeat_at: Option<String>,
    /// chime's mode (a Unix crontab line): present only on such a schedule.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub crontab: Option<String>,
    /// The zone of the schedule's wall-clock times (absent: UTC). `nextRunAt` stays in UTC.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub misfire_policy: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub misfire_replay_per_second: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub misfire_window_seconds: Option<u64>,
    /// The run log (at most 200 runs, newest first), with `displayLogs=true`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub logs: Option<Vec<ScheduleLog>>,
}

/// A run in a schedule's `displayLogs=true` answer: the run log's fields, SAP's
/// `statusMessage` for its state, and `locale` (`en`).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScheduleLog {
    #[serde(flatten)]
    pub run: SapRunLog,
    pub status_message: &'static str,
    pub locale: &'static str,
}

impl From<&RunRecord> for ScheduleLog {
    fn from(r: &RunRecord) -> Self {
        ScheduleLog {
            run: SapRunLog::from(r),
            status_message: status_message(r.state),
            locale: "en",
        }
    }
}

/// SAP's `statusMessage` of a run in state `state` (SAP's wording where its documents give
/// one: `SCHEDULED` and `REQUEST_ERROR`).
pub fn status_message(state: chime_core::run::RunState) -> &'static str {
    use chime_core::run::RunState as S;
    match state {
        S::Scheduled => "The job has been scheduled for a future run",
        S::Triggered => "The job execution request has been sent to the endpoint",
        S::AckRecvd => {
            "The endpoint acknowledged the job execution request; the job runs asynchronously"
        }
        S::Success => "The job run completed successfully",
        S::Error => "The endpoint reported an error while executing the job",
        S::RequestError => "Error encountered while sending job execution request to the endpoint",
        S::Unknown => "The job did not report its result within the asynchronous execution timeout",
    }
}

impl SapSchedule {
    /// A schedule of job `job_id` with its next fire (`nextRunAt`, from the due index).
    pub fn new(s: &Schedule, job_id: u64, next: Option<i64>) -> Self {
        SapSchedule {
            schedule_id: s.schedule_id.clone(),
            job_id,
            description: s.description.clone(),
            data: s.data.clone(),
            kind: s.kind.to_string(),
            active: s.active,
            start_time: s.start_time.clone(),
            end_time: s.end_time.clone(),
            next_run_at: next.map(format_instant),
            created_at: s.created_at.clone(),
            modified_at: s.modified_at.clone(),
            cron: s.cron.clone(),
            time: s.time.clone(),
            repeat_interval: s.repeat_interval.clone(),
            repeat_at: s.repeat_at.clone(),
            crontab: s.crontab.clone(),
            time_zone: s.time_zone.clone(),
            misfire_policy: s.misfire_policy.map(|p| p.to_string()),
            misfire_replay_per_second: s.misfire_replay_per_second,
            misfire_window_seconds: s.misfire_window_seconds,
            logs: None,
        }
    }
}

/// A job.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SapJob {
    #[serde(rename = "_id")]
    pub id: u64,
    pub name: String,
    pub description: String,
    pub action: String,
    pub active: bool,
    #[schema(value_type = ActionMethod)]
    pub http_method: String,
    /// Always `HTTP_ENDPOINT`.
    #[schema(example = "HTTP_ENDPOINT")]
    pub job_type: &'static str,
    /// Always 0.
    pub signature_version: u32,
    pub start_time: Option<String>,
    pub end_time: Option<String>,
    pub headers: BTreeMap<String, String>,
    /// The secret headers' names, each value shown as `***`.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub secret_headers: BTreeMap<String, String>,
    pub timeout_ms: u64,
    /// The job's retry policy, when it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<crate::wire::requests::RetryPolicyBody>)]
    pub retry_policy: Option<chime_core::retry::RetryPolicy>,
    /// The job's concurrency policy, when it sets one (else `allow`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<crate::wire::requests::ConcurrencyPolicy>)]
    pub concurrency_policy: Option<chime_core::model::ConcurrencyPolicy>,
    /// The URL the job's events go to, when it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notifications: Option<String>,
    /// SAP's technical user: chime has none (`null`).
    #[schema(value_type = Option<String>)]
    pub user: Option<String>,
    /// SAP's subscriber subdomain: chime's tenants are not subaccounts (`null`).
    #[schema(value_type = Option<String>)]
    pub sub_domain: Option<String>,
    /// SAP's alert notification settings (both `false` unless set).
    #[schema(value_type = crate::wire::requests::AnsConfigBody)]
    pub ans_config: chime_core::model::AnsConfig,
    /// SAP's Cloud ALM setting (`enabled` `false` unless set).
    #[schema(value_type = crate::wire::requests::CalmConfigBody)]
    pub calm_config: chime_core::model::CalmConfig,
    pub created_at: String,
    pub modified_at: String,
    /// With `displaySchedules=true`, and in the answers of Create Job and Configure Job by
    /// name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schedules: Option<Vec<SapSchedule>>,
}

impl SapJob {
    /// A job, with its schedules when given.
    pub fn new(j: &Job, schedules: Option<Vec<SapSchedule>>) -> Self {
        SapJob {
            id: j.id,
            name: j.name.clone(),
            description: j.description.clone(),
            action: chime_core::secrets::mask_userinfo(&j.action),
            active: j.active,
            http_method: j.http_method.to_string(),
            job_type: "HTTP_ENDPOINT",
            signature_version: 0,
            start_time: j.start_time.clone(),
            end_time: j.end_time.clone(),
            headers: j.headers.clone(),
            secret_headers: j
                .secret_headers
                .keys()
                .map(|k| (k.clone(), chime_core::secrets::MASK.to_string()))
                .collect(),
            timeout_ms: j.timeout_ms,
            retry_policy: j.retry_policy,
            concurrency_policy: j.concurrency_policy,
            notifications: j
                .notifications
                .as_deref()
                .map(chime_core::secrets::mask_userinfo),
            user: None,
            sub_domain: None,
            ans_config: j.ans_config.unwrap_or_default(),
            calm_config: j.calm_config.unwrap_or_default(),
            created_at: j.created_at.clone(),
            modified_at: j.modified_at.clone(),
            schedules,
        }
    }
}

/// A job in the job list: the job and the counts of its active and inactive schedules.
#[derive(Serialize, ToSchema)]
pub struct ListedJob {
    #[serde(flatten)]
    pub job: SapJob,
    /// The job id again, as SAP's list example shows it beside `_id`.
    #[serde(rename = "jobId")]
    pub job_id: u64,
    /// Its active schedules.
    #[serde(rename = "ACTIVECOUNT")]
    pub active_count: u64,
    /// Its inactive schedules.
    #[serde(rename = "INACTIVECOUNT")]
    pub inactive_count: u64,
}

/// A page of jobs.
#[derive(Serialize, ToSchema)]
pub struct JobList {
    pub total: u64,
    pub results: Vec<ListedJob>,
    /// The next page, or `null` on the last one.
    pub next_url: Option<String>,
    /// The previous page, or `null` on the first one.
    pub prev_url: Option<String>,
}

/// `GET /scheduler/jobs`: a page of jobs, or one job with `name` or `jobId`.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
pub enum JobListOrJob {
    List(JobList),
    One(Box<SapJob>),
}

/// A page of schedules.
#[derive(Serialize, ToSchema)]
pub struct ScheduleList {
    pub total: u64,
    pub results: Vec<SapSchedule>,
    pub next_url: Option<String>,
    pub prev_url: Option<String>,
}

/// A page of the run log, newest first (oldest first is never returned: `prev` pages are
/// reversed back).
#[derive(Serialize, ToSchema)]
pub struct RunLogPage {
    pub total: u64,
    pub results: Vec<SapRunLog>,
    /// The next (older) page, by cursor; omitted when there is none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_url: Option<String>,
    /// The previous (newer) page, by cursor; omitted when there is none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prev_url: Option<String>,
}

/// Job counts of the tenant.
#[derive(Serialize, ToSchema)]
pub struct JobCount {
    pub active: u64,
    pub inactive: u64,
}

/// SAP's global parameters of the tenant (Retrieve Global Parameters): `ASYNC_EXEC_TIMEOUT`.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"config": [{"CONFIG_NAME": "ASYNC_EXEC_TIMEOUT", "CONFIG_VALUE": "604800"}]}))]
pub struct GlobalParameters {
    pub config: Vec<GlobalParameter>,
}

/// One global parameter.
#[derive(Serialize, ToSchema)]
pub struct GlobalParameter {
    /// `ASYNC_EXEC_TIMEOUT`: seconds a run acknowledged asynchronously (202) waits for its
    /// job's report before it becomes `COMPLETED/UNKNOWN`.
    #[serde(rename = "CONFIG_NAME")]
    pub name: String,
    /// The value, as a string (SAP's form).
    #[serde(rename = "CONFIG_VALUE")]
    pub value: String,
}

impl GlobalParameters {
    /// The tenant's parameters: its `ASYNC_EXEC_TIMEOUT` of `secs`.
    pub fn of(async_exec_timeout_secs: u64) -> Self {
        GlobalParameters {
            config: vec![GlobalParameter {
                name: crate::wire::requests::ASYNC_EXEC_TIMEOUT.to_string(),
                value: async_exec_timeout_secs.to_string(),
            }],
        }
    }
}

/// An entry of the audit trail.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ActionLogEntry {
    pub job_id: u64,
    pub schedule_id: Option<String>,
    /// E.g. `CREATE_JOB`, `UPDATE_JOB`, `DELETE_JOB`, `CREATE_SCHEDULE`, `UPDATE_SCHEDULE`,
    /// `DELETE_SCHEDULE`, `DELETE_ALL_SCHEDULES`, `ACTIVATE_ALL_SCHEDULES`,
    /// `DEACTIVATE_ALL_SCHEDULES`, `RUN_NOW`, `UPDATE_GLOBAL_PARAMETERS` (a tenant-wide
    /// change: `jobId` 0), SAP's `DEACTIVATION_ON_COMPLETION` (the service deactivated a
    /// schedule with no instant left to fire at), `DEACTIVATION_ON_UNREACHABLE` (the service
    /// deactivated a schedule whose endpoint was unreachable too long) and
    /// `DELETION_ON_EXPIRY` (the service removed an inactive one-time schedule not run for
    /// long).
    pub action: String,
    pub message: String,
    /// The API key that made the change; `scheduler` for the service's own entries.
    pub user: String,
    pub timestamp: String,
}

impl ActionLogEntry {
    /// An entry recorded at `ms`.
    pub fn new(ms: i64, a: &ActionLog) -> Self {
        ActionLogEntry {
            job_id: a.job_id,
            schedule_id: a.schedule_id.clone(),
            action: a.action.clone(),
            message: a.detail.clone(),
            user: a.actor.clone(),
            timestamp: format_instant(ms),
        }
    }
}

/// The audit trail, newest first (at most 200 entries).
#[derive(Serialize, ToSchema)]
pub struct ActionLogList {
    pub total: u64,
    pub results: Vec<ActionLogEntry>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use chime_core::{model, run};
    use utoipa::PartialSchema;

    /// The values a documented enum lists.
    fn documented<T: PartialSchema>() -> Vec<String> {
        let schema = serde_json::to_value(T::schema()).unwrap();
        schema["enum"]
            .as_array()
            .unwrap_or_else(|| panic!("an enum schema: {schema}"))
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect()
    }

    fn names<T: std::fmt::Display>(all: &[T]) -> Vec<String> {
        all.iter().map(ToString::to_string).collect()
    }

    /// The document's enums list exactly the core's names, so the two cannot drift.
    #[test]
    fn documented_enums_are_the_cores() {
        assert_eq!(documented::<RunStatus>(), names(run::RunStatus::ALL));
        assert_eq!(documented::<RunState>(), names(run::RunState::ALL));
        assert_eq!(documented::<Outcome>(), names(run::Outcome::ALL));
        assert_eq!(documented::<ActionMethod>(), names(run::HttpMethod::ALL));
        assert_eq!(
            documented::<ScheduleType>(),
            names(model::ScheduleKind::ALL)
        );
    }
}

/// A schedule's nominal instants in a window with their fates, newest first.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FireList {
    pub from: String,
    pub to: String,
    /// Instants in the window.
    pub total: u64,
    pub results: Vec<FireEntry>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prev_url: Option<String>,
}

/// One nominal instant of a schedule and what became of it.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FireEntry {
    pub scheduled_for: String,
    /// `fired`, `manual`, `deferred`, `skipped` or `pending`.
    #[schema(example = "fired")]
    pub fate: &'static str,
    /// The run of a fired, manual or deferred instant.
    pub run_id: Option<String>,
    /// Why a skipped instant did not fire: `misfire`, `inactive`, `overlap`,
    /// `outsideWindow` or `deleted`.
    pub reason: Option<&'static str>,
    /// When its run was created (fired, manual, deferred).
    pub fired_at: Option<String>,
}
