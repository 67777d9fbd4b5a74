//! SAP's request bodies, as the handlers read them ([`super::decode`]) and the document shows
//! them. Types are checked here (a 400 names the field); the rules between fields (a job
//! name's characters, one scheduling mode, …) are [`crate::input`]'s.

use super::{present, RequestBody, SapBool};
use crate::wire::sap::ActionMethod;
use chime_core::run::ASYNC_EXEC_TIMEOUT_MAX_SECS;
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
    /// A one-time instant: ISO 8601, RFC 2822, `now` or `in 2 hours` (or SAP's
    /// `{"date", "format"}` object).
    #[schema(value_type = Option<String>)]
    pub time: Option<Value>,
    /// A fixed interval, e.g. `30 seconds` or `2 hours`.
    pub repeat_interval: Option<String>,
    /// A daily time (UTC), e.g. `4.40pm` or `18:40`.
    pub repeat_at: Option<String>,
    /// `true` or `false` (booleans or the strings `"true"`/`"false"`).
    #[schema(value_type = bool)]
    pub active: Option<SapBool>,
    #[schema(max_length = 5000)]
    pub description: Option<String>,
    /// Sent to the action: as the body for POST, PUT and PATCH, as the query string for GET
    /// and DELETE. An object or a string.
    pub data: Option<Value>,
    /// When the schedule starts firing (same formats as `time`).
    #[schema(value_type = Option<String>)]
    pub start_time: Option<Value>,
    /// When the schedule stops firing.
    #[schema(value_type = Option<String>)]
    pub end_time: Option<Value>,
    /// chime: a standard cron expression, 5 fields (`minute hour day-of-month month
    /// day-of-week`, Sunday 0 or 7), 6 with seconds first, or `@yearly`, `@monthly`,
    /// `@weekly`, `@daily`, `@hourly`.
    #[schema(example = "30 9 * * MON-FRI")]
    pub crontab: Option<String>,
    /// chime: the IANA time zone of `cron`, `crontab`, `repeatAt` and of `time`, `startTime`
    /// and `endTime` values without an offset (default `UTC`).
    #[schema(example = "Europe/Berlin")]
    pub time_zone: Option<String>,
    /// chime: `all`, `last` or `skip`: what the leader does with instants it reaches late
    /// (default: SAP's rule, every instant of an outage under 20 minutes, else the last).
    #[schema(example = "last")]
    pub misfire_policy: Option<String>,
    /// chime: with `misfirePolicy: all`, missed instants replayed a second at most (1–1000,
    /// default 10).
    pub misfire_replay_per_second: Option<u32>,
    /// chime: instants reached later than this many seconds are skipped whatever the policy.
    pub misfire_window_seconds: Option<u64>,
}

impl RequestBody for ScheduleRequest {
    const CONTEXT: &'static str = "Error while creating schedule";
}

/// Configure Schedule body: any of the fields; the scheduling mode cannot change. `null`
/// clears `data`, `startTime` and `endTime`.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScheduleUpdateRequest {
    pub cron: Option<String>,
    #[schema(value_type = Option<String>)]
    pub time: Option<Value>,
    pub repeat_interval: Option<String>,
    pub repeat_at: Option<String>,
    #[schema(value_type = Option<bool>)]
    pub active: Option<SapBool>,
    #[schema(max_length = 5000)]
    pub description: Option<String>,
    #[serde(default, deserialize_with = "present")]
    pub data: Option<Value>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub start_time: Option<Value>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub end_time: Option<Value>,
    pub crontab: Option<String>,
    /// `null` returns to UTC.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub time_zone: Option<Value>,
    /// `null` returns to SAP's rule.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub misfire_policy: Option<Value>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<u32>)]
    pub misfire_replay_per_second: Option<Value>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<u64>)]
    pub misfire_window_seconds: Option<Value>,
}

impl RequestBody for ScheduleUpdateRequest {
    const CONTEXT: &'static str = "Error while updating schedule";
}

/// Create Job body (also the body of Configure Job by name, which replaces the job).
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct JobRequest {
    /// Letters, digits, `_`, `-` and `.`, not only digits; unique in the tenant.
    #[schema(value_type = String, min_length = 1, max_length = 255, example = "nightly-report")]
    pub name: Option<String>,
    /// The absolute http or https URL to call.
    #[schema(value_type = String, max_length = 2048, example = "https://example.com/jobs/report")]
    pub action: Option<String>,
    #[schema(max_length = 5000)]
    pub description: Option<String>,
    /// Default `false`.
    #[schema(value_type = Option<bool>)]
    pub active: Option<SapBool>,
    /// Default `POST`.
    #[schema(value_type = Option<ActionMethod>)]
    pub http_method: Option<String>,
    #[schema(value_type = Option<String>)]
    pub start_time: Option<Value>,
    #[schema(value_type = Option<String>)]
    pub end_time: Option<Value>,
    /// Extra request headers sent with every call (at most 50).
    pub headers: Option<BTreeMap<String, String>>,
    /// Request headers whose values are secret (at most 50): stored encrypted, sent with every
    /// call, shown as `***` by every read and hidden from run logs. Sending `***` as a value
    /// keeps the stored one. Needs `CHIME_SECRET_KEYS`.
    pub secret_headers: Option<BTreeMap<String, String>>,
    /// Timeout of the call in milliseconds (1 to 600000).
    #[schema(minimum = 1, maximum = 600_000)]
    pub timeout_ms: Option<u64>,
    /// Retries of a failed call (5xx, 408, 429, timeouts, connection errors): Cloud
    /// Scheduler's model with full jitter. Absent or `null`: one call.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<RetryPolicyBody>)]
    pub retry_policy: Option<Value>,
    /// While a schedule's previous run is in progress, a fire `allow`s (the default: runs
    /// overlap), `forbid`s (skipped, reason `overlap`) or `replace`s it (the run in progress is
    /// cancelled, its call aborted).
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<ConcurrencyPolicy>)]
    pub concurrency_policy: Option<Value>,
    /// A URL (http or https, through the same address guard as `action`) that receives the
    /// job's events as signed JSON: `run.failed` (a run failed after its retries),
    /// `schedule.recovered` (its first success after failures), `schedule.deactivated`.
    /// Absent or `null`: none.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, max_length = 2048)]
    pub notifications: Option<Value>,
    /// SAP's alert notification settings: `{"onSuccess": bool, "onError": bool}`, stored and
    /// shown (chime's own events go to `notifications`).
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<AnsConfigBody>)]
    pub ans_config: Option<Value>,
    /// SAP's Cloud ALM setting: `{"enabled": bool}` (`enabled` required), stored and shown.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<CalmConfigBody>)]
    pub calm_config: Option<Value>,
    /// At most 100.
    pub schedules: Option<Vec<ScheduleRequest>>,
}

impl RequestBody for JobRequest {
    const CONTEXT: &'static str = "Error while creating job";
}

/// Configure Job body. By id: any of the fields, the others keep their values (`null` clears
/// `startTime` and `endTime`). By name: a full job as in Create Job (`name` in the body, if
/// given, must match the path).
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct JobUpdateRequest {
    #[schema(min_length = 1, max_length = 255)]
    pub name: Option<String>,
    #[schema(max_length = 2048)]
    pub action: Option<String>,
    #[schema(max_length = 5000)]
    pub description: Option<String>,
    #[schema(value_type = Option<bool>)]
    pub active: Option<SapBool>,
    #[schema(value_type = Option<ActionMethod>)]
    pub http_method: Option<String>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub start_time: Option<Value>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub end_time: Option<Value>,
    pub headers: Option<BTreeMap<String, String>>,
    /// Replaces the secret headers; a value `***` keeps the stored one.
    pub secret_headers: Option<BTreeMap<String, String>>,
    #[schema(minimum = 1, maximum = 600_000)]
    pub timeout_ms: Option<u64>,
    /// Replaces the retry policy; `null` removes it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<RetryPolicyBody>)]
    pub retry_policy: Option<Value>,
    /// Replaces the concurrency policy; `null` resets it to `allow`.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<ConcurrencyPolicy>)]
    pub concurrency_policy: Option<Value>,
    /// Replaces the notifications URL; `null` removes it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, max_length = 2048)]
    pub notifications: Option<Value>,
    /// Replaces `ansConfig`; `null` removes it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<AnsConfigBody>)]
    pub ans_config: Option<Value>,
    /// Replaces `calmConfig`; `null` removes it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<CalmConfigBody>)]
    pub calm_config: Option<Value>,
    /// Only for Configure Job by name.
    pub schedules: Option<Vec<ScheduleRequest>>,
}

impl RequestBody for JobUpdateRequest {
    const CONTEXT: &'static str = "Error while updating job";
}

impl From<JobUpdateRequest> for JobRequest {
    fn from(u: JobUpdateRequest) -> Self {
        JobRequest {
            name: u.name,
            action: u.action,
            description: u.description,
            active: u.active,
            http_method: u.http_method,
            start_time: u.start_time,
            end_time: u.end_time,
            headers: u.headers,
            secret_headers: u.secret_headers,
            timeout_ms: u.timeout_ms,
            retry_policy: u.retry_policy,
            concurrency_policy: u.concurrency_policy,
            notifications: u.notifications,
            ans_config: u.ans_config,
            calm_config: u.calm_config,
            schedules: u.schedules,
        }
    }
}

/// A job's concurrency policy.
#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
#[allow(dead_code)]
pub enum ConcurrencyPolicy {
    Allow,
    Forbid,
    Replace,
}

/// A job's retry policy (`retryPolicy`). Every field is optional.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct RetryPolicyBody {
    /// Retries after the first call (0 to 10; default 0).
    #[schema(minimum = 0, maximum = 10)]
    retry_count: Option<u32>,
    /// The first retry's delay ceiling (0 to 3600; default 5).
    #[schema(minimum = 0, maximum = 3600)]
    min_backoff_seconds: Option<u32>,
    /// The largest delay (0 to 3600, not below `minBackoffSeconds`; default 3600).
    #[schema(minimum = 0, maximum = 3600)]
    max_backoff_seconds: Option<u32>,
    /// Doublings of the delay before it grows linearly (0 to 16; default 5).
    #[schema(minimum = 0, maximum = 16)]
    max_doublings: Option<u32>,
    /// No retry starts later than this after the first call (0 to 604800; 0, the default:
    /// no limit).
    #[schema(minimum = 0, maximum = 604_800)]
    max_retry_seconds: Option<u32>,
}

/// Activate or deactivate all schedules of a job.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ActivationStatusRequest {
    /// A boolean, or the string `"true"` or `"false"`.
    #[schema(value_type = bool)]
    pub activation_status: Option<SapBool>,
}

impl RequestBody for ActivationStatusRequest {
    const CONTEXT: &'static str = "Error while changing activation status";
}

/// An asynchronous job's result.
#[derive(Deserialize, ToSchema)]
pub struct RunUpdateRequest {
    #[schema(value_type = bool)]
    pub success: Option<bool>,
    /// At most 5000 characters; becomes the run's `runText`.
    #[schema(max_length = 5000)]
    pub message: Option<String>,
}

impl RequestBody for RunUpdateRequest {
    const CONTEXT: &'static str = "Error while updating run log";
}

/// SAP's Update Global Parameters body: `ASYNC_EXEC_TIMEOUT`, the one parameter. Read with
/// [`async_exec_timeout`] (a 400 names the field at fault); this type documents it.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GlobalParametersRequest {
    /// Seconds a run acknowledged asynchronously (202) waits for its job's report before it
    /// becomes `COMPLETED/UNKNOWN`: 1 to 604800, a string of digits as SAP sends it, or an
    /// integer.
    #[serde(rename = "ASYNC_EXEC_TIMEOUT")]
    #[schema(value_type = String, example = "600")]
    pub async_exec_timeout: Value,
}

/// The name of SAP's one global parameter.
pub const ASYNC_EXEC_TIMEOUT: &str = "ASYNC_EXEC_TIMEOUT";

/// The `ASYNC_EXEC_TIMEOUT` (seconds) of an Update Global Parameters body: a string of
/// digits or a JSON integer, 1 to [`ASYNC_EXEC_TIMEOUT_MAX_SECS`]. The error names the field:
/// the parameter, or a key that is not one.
pub fn async_exec_timeout(body: &Value) -> Result<u64, String> {
    let Value::Object(map) = body else {
        return Err(format!(
            "the body must be a JSON object with '{ASYNC_EXEC_TIMEOUT}'"
        ));
    };
    if let Some(other) = map.keys().find(|k| *k != ASYNC_EXEC_TIMEOUT) {
        return Err(format!(
            "'{other}' is not a global parameter; the only one is '{ASYNC_EXEC_TIMEOUT}'"
        ));
    }
    let Some(v) = map.get(ASYNC_EXEC_TIMEOUT) else {
        return Err(format!("'{ASYNC_EXEC_TIMEOUT}' is required"));
    };
    let secs = match v {
        Value::String(s) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => {
            s.parse::<u64>().ok()
        }
        Value::Number(n) => n.as_u64(),
        _ => None,
    };
    secs.filter(|n| (1..=ASYNC_EXEC_TIMEOUT_MAX_SECS).contains(n))
        .ok_or_else(|| {
            format!(
                "'{ASYNC_EXEC_TIMEOUT}' must be a whole number of seconds from 1 to {ASYNC_EXEC_TIMEOUT_MAX_SECS} (a string of digits or an integer), got {v}"
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn async_exec_timeout_takes_digits_or_an_integer_in_range() {
        for (body, secs) in [
            (json!({"ASYNC_EXEC_TIMEOUT": "600"}), 600),
            (json!({"ASYNC_EXEC_TIMEOUT": 600}), 600),
            (json!({"ASYNC_EXEC_TIMEOUT": "1"}), 1),
            (json!({"ASYNC_EXEC_TIMEOUT": "0604800"}), 604_800),
            (json!({"ASYNC_EXEC_TIMEOUT": 604_800}), 604_800),
        ] {
            assert_eq!(async_exec_timeout(&body), Ok(secs), "{body}");
        }
    }

    #[test]
    fn a_bad_async_exec_timeout_names_the_field() {
        // The suite sends the usual mistakes (0, negative, 604801, null, {}) over HTTP; here,
        // what a string of digits must not be.
        let strings = [
            "",
            " 600",
            "600 ",
            "+600",
            "600s",
            "6e2",
            "600.0",
            "99999999999999999999",
        ];
        let others = [json!({"ASYNC_EXEC_TIMEOUT": true}), json!("600")];
        let bodies = strings.map(|v| json!({ "ASYNC_EXEC_TIMEOUT": v }));
        for body in bodies.into_iter().chain(others) {
            let e = async_exec_timeout(&body).unwrap_err();
            assert!(e.contains("'ASYNC_EXEC_TIMEOUT'"), "{body}: {e}");
        }
        let e = async_exec_timeout(&json!({"ASYNC_EXEC_TIMEOUT": "600", "FOO": 1})).unwrap_err();
        assert!(e.starts_with("'FOO' is not a global parameter"), "{e}");
    }
}

/// SAP's `ansConfig`.
#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct AnsConfigBody {
    on_success: Option<bool>,
    on_error: Option<bool>,
}

/// SAP's `calmConfig`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct CalmConfigBody {
    enabled: bool,
}
