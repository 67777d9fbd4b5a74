//! SAP's request bodies. The handlers validate them field by field ([`crate::input`]), so
//! that each 400 names the field; these types name and document the fields.

use crate::wire::sap::ActionMethod;
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;
use utoipa::ToSchema;

/// A schedule as given to Create Job or Create Schedule: exactly one of `cron`, `time`,
/// `repeatInterval` and `repeatAt`.
#[derive(Deserialize, ToSchema)]
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
#[derive(Deserialize, ToSchema)]
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
#[derive(Deserialize, ToSchema)]
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
#[derive(Deserialize, ToSchema)]
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

/// Activate or deactivate all schedules of a job.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ActivationStatusRequest {
    /// A boolean, or the string `"true"` or `"false"`.
    pub activation_status: bool,
}

/// An asynchronous job's result.
#[derive(Deserialize, ToSchema)]
pub struct RunUpdateRequest {
    pub success: bool,
    /// At most 5000 characters; becomes the run's `runText`.
    #[schema(max_length = 5000)]
    pub message: Option<String>,
}
