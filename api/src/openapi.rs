//! The API's OpenAPI 3 contract, generated from the handlers' `#[utoipa::path]` annotations
//! and the schemas below. Served as `GET /openapi.json` and rendered by Swagger UI at
//! `GET /docs`.
//!
//! The schemas mirror the JSON the handlers build (see [`crate::views`] and
//! [`crate::dialects`]); they document the wire format and are not used to build responses.

use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;
use utoipa::openapi::path::{HttpMethod, OperationBuilder};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, ResponseBuilder};
use utoipa::{IntoParams, IntoResponses, Modify, OpenApi, ToSchema};

/// Security scheme names, as the operations refer to them.
pub const BEARER_KEY: &str = "bearerKey";
pub const BASIC_KEY: &str = "basicKey";
pub const API_KEY_ID: &str = "apiKeyId";
pub const API_KEY_SECRET: &str = "apiKeySecret";
pub const AUTH_TOKEN: &str = "authToken";
pub const QUERY_TOKEN: &str = "queryToken";
pub const ADMIN_TOKEN: &str = "adminToken";

// ------------------------------------------------------------------------------ shared shapes

/// SAP's error shape, used by the admin, `/scheduler` and live/export routes.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({"code": 400, "message": "Error while creating job: 'action' is required",
    "type": "Bad Request/Invalid Request", "detailedError": "Error while creating job: 'action' is required"}))]
pub struct SapError {
    /// The HTTP status code.
    pub code: u16,
    pub message: String,
    /// `Bad Request/Invalid Request`, `Unauthorized`, `Forbidden`, `Not Found`, `Conflict`,
    /// `Payload Too Large` or `Internal Server Error`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The same text as `message`.
    pub detailed_error: String,
}

/// The error answers every SAP-shaped tenant route can give.
#[derive(IntoResponses)]
pub enum SapErrors {
    /// The request is invalid; the message names the field or parameter.
    #[response(status = 400)]
    BadRequest(SapError),
    /// No credentials, malformed ones, or an unknown key or wrong secret. The answer carries
    /// `WWW-Authenticate: Bearer realm="chime", Basic realm="chime"`.
    #[response(status = 401)]
    Unauthorized(SapError),
    /// The key lacks the scope the call needs.
    #[response(status = 403)]
    Forbidden(SapError),
    /// The job, schedule or run does not exist (or belongs to another tenant).
    #[response(status = 404)]
    NotFound(SapError),
    /// A server fault; details are logged, not returned.
    #[response(status = 500)]
    Internal(SapError),
}

/// `{"success": true}`.
#[derive(Serialize, ToSchema)]
pub struct Success {
    pub success: bool,
}

// ------------------------------------------------------------------------------------- admin

/// Create Tenant body.
#[derive(Serialize, ToSchema)]
pub struct CreateTenantRequest {
    /// 1 to 255 characters.
    #[schema(min_length = 1, max_length = 255)]
    pub name: String,
}

/// A new tenant.
#[derive(Serialize, ToSchema)]
pub struct TenantCreated {
    /// The tenant id (24 hex digits); also the A1Base account and the Losant application.
    pub id: String,
    pub name: String,
}

/// An API key scope.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum KeyScope {
    Read,
    Write,
    RunUpdate,
    Admin,
}

/// Create API Key body.
#[derive(Serialize, ToSchema)]
pub struct CreateKeyRequest {
    /// The key's scopes; `["read", "write", "run-update"]` when not given.
    pub scopes: Option<Vec<KeyScope>>,
}

/// A new API key. The secret is shown only here.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApiKeyCreated {
    /// The key id.
    pub id: String,
    pub secret: String,
    /// `<id>.<secret>`, for `Authorization: Bearer`.
    pub token: String,
    pub scopes: Vec<KeyScope>,
    pub tenant_id: String,
}

/// Configure Tenant body: at most one of the two retention fields, and/or the quota; `null`
/// restores a default.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConfigureTenantRequest {
    /// How long runs are kept, in days (1 to 3650).
    #[schema(minimum = 1, maximum = 3650)]
    pub run_retention_days: Option<u64>,
    /// How long runs are kept, in seconds (1 to 315360000).
    #[schema(minimum = 1, maximum = 315_360_000)]
    pub run_retention_seconds: Option<u64>,
    /// Runs the tenant may fire per minute (0: no limit). Fires beyond it are deferred to the
    /// next free slot, in bursts of at most one second's worth.
    #[schema(minimum = 0, maximum = 100_000_000)]
    pub runs_per_minute: Option<u64>,
}

/// A tenant's effective run retention and fire quota.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TenantSettings {
    pub id: String,
    pub run_retention_seconds: u64,
    /// 0: no limit.
    pub runs_per_minute: u64,
}

// ---------------------------------------------------------------------------------------- SAP

/// The HTTP method of a job's action.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum ActionMethod {
    Get,
    Post,
    Put,
    Delete,
    Patch,
}

/// A schedule as given to Create Job or Create Schedule: exactly one of `cron`, `time`,
/// `repeatInterval` and `repeatAt`.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScheduleRequest {
    /// SAP's 7 cron fields `Year Month Day DayOfWeek Hour Minute Second`, in UTC.
    #[schema(example = "* * * * * */10 0")]
    pub cron: Option<String>,
    /// A one-time instant: ISO 8601, RFC 2822, `now` or `in 2 hours`.
    pub time: Option<String>,
    /// A fixed interval, e.g. `30 seconds` or `2 hours`.
    pub repeat_interval: Option<String>,
    /// A daily time (UTC), e.g. `4.40pm` or `18:40`.
    pub repeat_at: Option<String>,
    /// `true` or `false` (booleans or the strings `"true"`/`"false"`).
    pub active: bool,
    #[schema(max_length = 5000)]
    pub description: Option<String>,
    /// Sent to the action: as the body for POST, PUT and PATCH, as the query string for GET
    /// and DELETE. An object or a string.
    pub data: Option<Value>,
    /// When the schedule starts firing (same formats as `time`).
    pub start_time: Option<String>,
    /// When the schedule stops firing.
    pub end_time: Option<String>,
}

/// Configure Schedule body: any of the fields; the scheduling mode cannot change.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScheduleUpdateRequest {
    pub cron: Option<String>,
    pub time: Option<String>,
    pub repeat_interval: Option<String>,
    pub repeat_at: Option<String>,
    pub active: Option<bool>,
    #[schema(max_length = 5000)]
    pub description: Option<String>,
    pub data: Option<Value>,
    pub start_time: Option<String>,
    pub end_time: Option<String>,
}

/// Create Job body (also the body of Configure Job by name, which replaces the job).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct JobRequest {
    /// Letters, digits, `_`, `-` and `.`, not only digits; unique in the tenant.
    #[schema(min_length = 1, max_length = 255, example = "nightly-report")]
    pub name: String,
    /// The absolute http or https URL to call.
    #[schema(max_length = 2048, example = "https://example.com/jobs/report")]
    pub action: String,
    #[schema(max_length = 5000)]
    pub description: Option<String>,
    /// Default `false`.
    pub active: Option<bool>,
    /// Default `POST`.
    pub http_method: Option<ActionMethod>,
    pub start_time: Option<String>,
    pub end_time: Option<String>,
    /// Extra request headers sent with every call (at most 50).
    pub headers: Option<BTreeMap<String, String>>,
    /// Timeout of the call in milliseconds (1 to 600000).
    #[schema(minimum = 1, maximum = 600_000)]
    pub timeout_ms: Option<u64>,
    /// At most 100.
    pub schedules: Option<Vec<ScheduleRequest>>,
}

/// Configure Job body. By id: any of the fields, the others keep their values. By name: a
/// full job as in Create Job (`name` in the body, if given, must match the path).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct JobUpdateRequest {
    #[schema(min_length = 1, max_length = 255)]
    pub name: Option<String>,
    #[schema(max_length = 2048)]
    pub action: Option<String>,
    #[schema(max_length = 5000)]
    pub description: Option<String>,
    pub active: Option<bool>,
    pub http_method: Option<ActionMethod>,
    pub start_time: Option<String>,
    pub end_time: Option<String>,
    pub headers: Option<BTreeMap<String, String>>,
    #[schema(minimum = 1, maximum = 600_000)]
    pub timeout_ms: Option<u64>,
    /// Only for Configure Job by name.
    pub schedules: Option<Vec<ScheduleRequest>>,
}

/// A run's status.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum RunStatus {
    Scheduled,
    Running,
    Completed,
}

/// A run's state.
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
    pub run_status: RunStatus,
    pub run_state: RunState,
    /// The instant the run was scheduled for.
    pub schedule_timestamp: String,
    pub completion_timestamp: Option<String>,
}

/// A run's outcome once completed.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Success,
    Failure,
    Error,
    Timeout,
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
    pub outcome: Option<Outcome>,
    pub response_body: Option<String>,
    pub error_message: Option<String>,
    pub duration_ms: Option<u64>,
    /// The delivery attempt that executed the run.
    pub attempt: u32,
    /// The worker that executed the run.
    pub worker: Option<String>,
    /// The run's text log: one line per step, each starting with an RFC 3339 timestamp.
    pub log: String,
}

/// A schedule's type.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ScheduleType {
    OneTime,
    Recurring,
}

/// A schedule. Exactly one of `cron`, `time`, `repeatInterval` and `repeatAt` is present.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SapSchedule {
    pub schedule_id: String,
    pub job_id: u64,
    pub description: String,
    pub data: Option<Value>,
    #[serde(rename = "type")]
    pub kind: ScheduleType,
    pub active: bool,
    pub start_time: Option<String>,
    pub end_time: Option<String>,
    /// The next fire, when the job and the schedule are active and it will fire again.
    pub next_run_at: Option<String>,
    pub created_at: String,
    pub modified_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cron: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repeat_interval: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repeat_at: Option<String>,
    /// The run log (at most 200 runs, newest first), with `displayLogs=true`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub logs: Option<Vec<SapRunLog>>,
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
    pub http_method: ActionMethod,
    /// Always `HTTP_ENDPOINT`.
    #[schema(example = "HTTP_ENDPOINT")]
    pub job_type: String,
    /// Always 0.
    pub signature_version: u32,
    pub start_time: Option<String>,
    pub end_time: Option<String>,
    pub headers: BTreeMap<String, String>,
    pub timeout_ms: u64,
    pub created_at: String,
    pub modified_at: String,
    /// With `displaySchedules=true`, and in the answers of Create Job and Configure Job by
    /// name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schedules: Option<Vec<SapSchedule>>,
}

/// A page of jobs.
#[derive(Serialize, ToSchema)]
pub struct JobList {
    pub total: u64,
    pub results: Vec<SapJob>,
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
    One(SapJob),
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

/// Activate or deactivate all schedules of a job.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ActivationStatusRequest {
    /// A boolean, or the string `"true"` or `"false"`.
    pub activation_status: bool,
}

/// An asynchronous job's result.
#[derive(Serialize, ToSchema)]
pub struct RunUpdateRequest {
    pub success: bool,
    /// At most 5000 characters; becomes the run's `runText`.
    #[schema(max_length = 5000)]
    pub message: Option<String>,
}

/// Job counts of the tenant.
#[derive(Serialize, ToSchema)]
pub struct JobCount {
    pub active: u64,
    pub inactive: u64,
}

/// An entry of the audit trail.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ActionLogEntry {
    pub job_id: u64,
    pub schedule_id: Option<String>,
    /// E.g. `CREATE_JOB`, `UPDATE_JOB`, `DELETE_JOB`, `CREATE_SCHEDULE`, `UPDATE_SCHEDULE`,
    /// `DELETE_SCHEDULE`, `DELETE_ALL_SCHEDULES`, `ACTIVATE_ALL_SCHEDULES`,
    /// `DEACTIVATE_ALL_SCHEDULES`.
    pub action: String,
    pub message: String,
    /// The API key that made the change.
    pub user: String,
    pub timestamp: String,
}

/// The audit trail, newest first (at most 200 entries).
#[derive(Serialize, ToSchema)]
pub struct ActionLogList {
    pub total: u64,
    pub results: Vec<ActionLogEntry>,
}

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

// ------------------------------------------------------------------------------------- A1Base

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
    pub status: Option<A1BaseStatus>,
    pub response_code: Option<u16>,
    pub response_body: Option<String>,
    pub error_message: Option<String>,
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

/// A1Base parameters.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct A1BaseQuery {
    /// Page number, from 1 (default 1).
    #[param(minimum = 1)]
    pub page: Option<u64>,
    /// Page size, 1 to 100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u64>,
    /// Only executions with this status.
    #[param(inline)]
    pub status: Option<A1BaseStatus>,
    /// Executions at or after this ISO 8601 instant or date.
    pub start_date: Option<String>,
    /// Executions at or before this ISO 8601 instant or date.
    pub end_date: Option<String>,
}

// -------------------------------------------------------------------------------------- Apify

/// An entry of an Apify schedule log.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApifyLogEntry {
    pub message: String,
    /// E.g. `INFO` or `ERROR`.
    pub level: String,
    pub created_at: String,
}

/// An Apify schedule log, oldest first (the latest 1,000 entries at most).
#[derive(Serialize, ToSchema)]
pub struct ApifyLog {
    pub data: Vec<ApifyLogEntry>,
}

/// Apify error kinds.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ApifyErrorType {
    RecordNotFound,
    TokenNotValid,
    InsufficientPermissions,
    InvalidInput,
    InternalServerError,
}

/// The error detail of an Apify error.
#[derive(Serialize, ToSchema)]
pub struct ApifyErrorDetail {
    #[serde(rename = "type")]
    pub kind: ApifyErrorType,
    pub message: String,
}

/// Apify's error shape: `{"error": {"type", "message"}}`.
#[derive(Serialize, ToSchema)]
pub struct ApifyError {
    pub error: ApifyErrorDetail,
}

/// Apify errors.
#[derive(IntoResponses)]
pub enum ApifyErrors {
    /// An invalid request (`invalid-input`).
    #[response(status = 400)]
    BadRequest(ApifyError),
    /// Missing or invalid credentials (`token-not-valid`).
    #[response(status = 401)]
    Unauthorized(ApifyError),
    /// The key lacks the `read` scope (`insufficient-permissions`).
    #[response(status = 403)]
    Forbidden(ApifyError),
    /// The schedule does not exist (`record-not-found`).
    #[response(status = 404)]
    NotFound(ApifyError),
    /// A server fault (`internal-server-error`).
    #[response(status = 500)]
    Internal(ApifyError),
}

/// Apify parameters.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ApifyQuery {
    /// The API key as `<keyId>.<secret>`, instead of a header.
    pub token: Option<String>,
}

// ------------------------------------------------------------------------------------- Huawei

/// The slice of a run's text log.
#[derive(Serialize, ToSchema)]
pub struct HuaweiLogResult {
    /// Byte offset where the slice starts, as a string.
    pub start_offset: String,
    /// Byte offset where the slice ends, as a string.
    pub end_offset: String,
    pub log: String,
    /// True while the run is live or more text remains.
    pub has_more: bool,
    /// Always `chime`.
    pub location: String,
}

/// Huawei CodeArts Build's real-time log answer.
#[derive(Serialize, ToSchema)]
pub struct HuaweiLog {
    pub result: HuaweiLogResult,
    /// Always `null`.
    pub error: Option<String>,
    /// Always `success`.
    pub status: String,
}

/// Huawei's error shape: `{"error_code": "CHIME.<8-digit status>", "error_msg"}`.
#[derive(Serialize, ToSchema)]
pub struct HuaweiError {
    #[schema(example = "CHIME.00000404")]
    pub error_code: String,
    pub error_msg: String,
}

/// Huawei errors.
#[derive(IntoResponses)]
pub enum HuaweiErrors {
    /// An invalid or missing parameter.
    #[response(status = 400)]
    BadRequest(HuaweiError),
    /// Missing or invalid credentials.
    #[response(status = 401)]
    Unauthorized(HuaweiError),
    /// The key lacks the `read` scope.
    #[response(status = 403)]
    Forbidden(HuaweiError),
    /// The job or the build does not exist.
    #[response(status = 404)]
    NotFound(HuaweiError),
    /// A server fault.
    #[response(status = 500)]
    Internal(HuaweiError),
}

/// Log order.
#[derive(Serialize, ToSchema)]
pub enum HuaweiSort {
    #[serde(rename = "ASC")]
    Asc,
    #[serde(rename = "DESC")]
    Desc,
}

/// Huawei parameters.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct HuaweiQuery {
    /// Byte offset to start from (required).
    #[param(minimum = 0)]
    pub start_offset: u64,
    /// Byte offset to stop at (required).
    #[param(minimum = 0)]
    pub end_offset: u64,
    /// At most this many bytes, 0 to 1000 (required).
    #[param(minimum = 0, maximum = 1000)]
    pub size: u64,
    /// `DESC` returns the slice's lines newest first (case-insensitive; default `ASC`).
    #[param(inline)]
    pub sort: Option<HuaweiSort>,
}

// ------------------------------------------------------------------------------------- Losant

/// Losant's job status of a run.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub enum LosantStatus {
    Queued,
    InProgress,
    Completed,
    Failed,
    Errored,
}

/// chime's details of a Losant job log.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LosantJobLogDetails {
    pub schedule_id: String,
    pub run_number: u64,
    pub run_status: RunStatus,
    pub run_state: RunState,
    pub http_status: Option<u16>,
    pub outcome: Option<Outcome>,
    pub error_message: Option<String>,
    pub response_body: Option<String>,
}

/// A Losant application job log (a run).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LosantJobLog {
    pub id: String,
    /// The same as `id`.
    pub application_job_log_id: String,
    pub application_id: String,
    /// Always `job`.
    pub resource_type: String,
    /// The job id, as a string.
    pub resource_id: String,
    /// The job's name.
    pub name: String,
    pub status: LosantStatus,
    pub run_queued_at: String,
    pub run_started_at: Option<String>,
    pub run_completed_at: Option<String>,
    pub scheduled_at: String,
    pub details: LosantJobLogDetails,
}

/// A page of an application's job logs.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LosantJobLogList {
    pub items: Vec<LosantJobLog>,
    /// Items on this page.
    pub count: u64,
    pub total_count: u64,
    pub per_page: u64,
    pub page: u64,
    pub sort_field: String,
    pub sort_direction: String,
    pub application_id: String,
}

/// Losant error kinds.
#[derive(Serialize, ToSchema)]
pub enum LosantErrorType {
    NotFound,
    Unauthorized,
    Forbidden,
    Validation,
    InternalError,
}

/// Losant's error shape: `{"type", "message"}`.
#[derive(Serialize, ToSchema)]
pub struct LosantError {
    #[serde(rename = "type")]
    pub kind: LosantErrorType,
    pub message: String,
}

/// Losant errors.
#[derive(IntoResponses)]
pub enum LosantErrors {
    /// An invalid parameter (`Validation`).
    #[response(status = 400)]
    BadRequest(LosantError),
    /// Missing or invalid credentials.
    #[response(status = 401)]
    Unauthorized(LosantError),
    /// The key lacks the `read` scope.
    #[response(status = 403)]
    Forbidden(LosantError),
    /// The application is not the key's tenant, or the job log does not exist.
    #[response(status = 404)]
    NotFound(LosantError),
    /// A server fault.
    #[response(status = 500)]
    Internal(LosantError),
}

/// Losant sort direction.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum LosantSortDirection {
    Asc,
    Desc,
}

/// Losant sort field: job logs are ordered by `runQueuedAt` only.
#[derive(Serialize, ToSchema)]
pub enum LosantSortField {
    #[serde(rename = "runQueuedAt")]
    RunQueuedAt,
}

/// Losant parameters.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(non_snake_case)]
pub struct LosantQuery {
    /// Page number, from 0 (default 0).
    #[param(minimum = 0)]
    pub page: Option<u64>,
    /// Page size, 1 to 1000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub perPage: Option<u64>,
    /// Default `runQueuedAt`.
    #[param(inline)]
    pub sortField: Option<LosantSortField>,
    /// Default `asc`.
    #[param(inline)]
    pub sortDirection: Option<LosantSortDirection>,
}

// ---------------------------------------------------------------------------------- document

/// The OpenAPI document of the API.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "chime",
        description = "A multi-tenant, distributed HTTP job scheduler. Its API is the SAP BTP \
            Job Scheduling Service REST API under `/scheduler`, plus the run-log dialects of \
            A1Base, Apify, Huawei CodeArts Build and Losant, a live tail and an export of runs, \
            tenant administration and the ops endpoints.\n\nTenant calls take an API key in any \
            of these forms: `Authorization: Bearer <keyId>.<secret>`, `Authorization: Basic \
            base64(<keyId>:<secret>)`, `X-API-Key: <keyId>` with `X-API-Secret: <secret>`, or \
            `X-Auth-Token: <keyId>.<secret>`. Admin calls take `Authorization: Bearer \
            <admin token>`.",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    paths(
        crate::routes::healthz,
        crate::routes::readyz,
        crate::routes::metrics,
        crate::routes::create_tenant,
        crate::routes::configure_tenant,
        crate::routes::create_key,
        crate::routes::action_logs,
        crate::routes::list_jobs,
        crate::routes::create_job,
        crate::routes::job_count,
        crate::routes::get_job,
        crate::routes::put_job,
        crate::routes::delete_job,
        crate::routes::list_schedules,
        crate::routes::create_schedule,
        crate::routes::delete_schedules,
        crate::routes::activation_status,
        crate::routes::get_schedule,
        crate::routes::put_schedule,
        crate::routes::delete_schedule,
        crate::routes::list_runs,
        crate::routes::get_run,
        crate::routes::update_run,
        crate::dialects::a1base_logs,
        crate::dialects::apify_log,
        crate::dialects::huawei_log,
        crate::dialects::losant_list,
        crate::dialects::losant_one,
        crate::dialects::live_tail,
        crate::dialects::export,
    ),
    components(schemas(
        SapError, Success, CreateTenantRequest, TenantCreated, KeyScope, CreateKeyRequest,
        ApiKeyCreated, ConfigureTenantRequest, TenantSettings, ActionMethod, ScheduleRequest,
        ScheduleUpdateRequest, JobRequest, JobUpdateRequest, RunStatus, RunState, SapRunLog,
        Outcome, RunDetail, ScheduleType, SapSchedule, SapJob, JobList, JobListOrJob,
        ScheduleList, RunLogPage, ActivationStatusRequest, RunUpdateRequest, JobCount,
        ActionLogEntry, ActionLogList, A1BaseStatus, A1BaseExecution, A1BasePagination,
        A1BaseLogPage, A1BaseErrorDetail, A1BaseError, ApifyLogEntry, ApifyLog, ApifyErrorType,
        ApifyErrorDetail, ApifyError, HuaweiLogResult, HuaweiLog, HuaweiError, LosantStatus,
        LosantJobLogDetails, LosantJobLog, LosantJobLogList, LosantErrorType, LosantError,
    )),
    modifiers(&Security, &DocRoutes),
    tags(
        (name = "admin", description = "Tenants and API keys (admin token)."),
        (name = "sap", description = "SAP BTP Job Scheduling Service: jobs, schedules, run logs \
            and the audit trail."),
        (name = "a1base", description = "A1Base cron-job execution logs."),
        (name = "apify", description = "Apify schedule logs."),
        (name = "huawei", description = "Huawei CodeArts Build real-time logs."),
        (name = "losant", description = "Losant application job logs."),
        (name = "live", description = "chime's live tail (Server-Sent Events) and export of runs."),
        (name = "ops", description = "Health, readiness, metrics and this document."),
    ),
)]
pub struct ApiDoc;

/// Registers the security schemes.
struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            BEARER_KEY,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("<keyId>.<secret>")
                    .description(Some(
                        "An API key as `Authorization: Bearer <keyId>.<secret>`.",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            BASIC_KEY,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Basic)
                    .description(Some(
                        "An API key as `Authorization: Basic base64(<keyId>:<secret>)`.",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            API_KEY_ID,
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "X-API-Key",
                "The key id; sent together with `X-API-Secret`.",
            ))),
        );
        components.add_security_scheme(
            API_KEY_SECRET,
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "X-API-Secret",
                "The key's secret; sent together with `X-API-Key`.",
            ))),
        );
        components.add_security_scheme(
            AUTH_TOKEN,
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "X-Auth-Token",
                "An API key as `<keyId>.<secret>`.",
            ))),
        );
        components.add_security_scheme(
            QUERY_TOKEN,
            SecurityScheme::ApiKey(ApiKey::Query(ApiKeyValue::with_description(
                "token",
                "An API key as `<keyId>.<secret>` in the `token` query parameter (Apify only).",
            ))),
        );
        components.add_security_scheme(
            ADMIN_TOKEN,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "The operator's token (`CHIME_ADMIN_TOKEN`) as `Authorization: Bearer`.",
                    ))
                    .build(),
            ),
        );
    }
}

/// Adds `GET /openapi.json` and `GET /docs`, which Swagger UI's router serves.
struct DocRoutes;

impl Modify for DocRoutes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let get = |id: &str, summary: &str, ctype: &str, what: &str| {
            OperationBuilder::new()
                .tag("ops")
                .operation_id(Some(id))
                .summary(Some(summary))
                .response(
                    "200",
                    ResponseBuilder::new()
                        .description(what)
                        .content(ctype, ContentBuilder::new().build()),
                )
                .build()
        };
        openapi.paths.add_path_operation(
            "/openapi.json",
            vec![HttpMethod::Get],
            get(
                "openapi_json",
                "This OpenAPI document",
                "application/json",
                "The OpenAPI 3 document of the API.",
            ),
        );
        openapi.paths.add_path_operation(
            "/docs",
            vec![HttpMethod::Get],
            get(
                "docs",
                "Swagger UI",
                "text/html",
                "Swagger UI rendering this document (`/docs` redirects to `/docs/`).",
            ),
        );
    }
}
