//! Response shapes, as SAP documents them.

use chime_core::model::{Job, RunRecord, Schedule};
use chime_core::schedule::format_instant;
use serde_json::{json, Value};

/// A job, with its schedules when given.
pub fn job(j: &Job, schedules: Option<Vec<Value>>) -> Value {
    let mut v = json!({
        "_id": j.id,
        "name": j.name,
        "description": j.description,
        "action": j.action,
        "active": j.active,
        "httpMethod": j.http_method,
        "jobType": "HTTP_ENDPOINT",
        "signatureVersion": 0,
        "startTime": j.start_time,
        "endTime": j.end_time,
        "headers": j.headers,
        "timeoutMs": j.timeout_ms,
        "createdAt": j.created_at,
        "modifiedAt": j.modified_at,
    });
    if let Some(s) = schedules {
        v["schedules"] = Value::Array(s);
    }
    v
}

/// A schedule with its next run (`nextRunAt`, from the due index).
pub fn schedule(s: &Schedule, job_id: u64, next: Option<i64>) -> Value {
    let mut v = json!({
        "scheduleId": s.schedule_id,
        "jobId": job_id,
        "description": s.description,
        "data": s.data,
        "type": s.kind,
        "active": s.active,
        "startTime": s.start_time,
        "endTime": s.end_time,
        "nextRunAt": next.map(format_instant),
        "createdAt": s.created_at,
        "modifiedAt": s.modified_at,
    });
    for (field, value) in [
        ("cron", &s.cron),
        ("time", &s.time),
        ("repeatInterval", &s.repeat_interval),
        ("repeatAt", &s.repeat_at),
    ] {
        if let Some(x) = value {
            v[field] = Value::String(x.clone());
        }
    }
    v
}

/// A run-log entry of SAP's run-log list.
pub fn run(r: &RunRecord) -> Value {
    json!({
        "runId": r.run_id,
        "runText": r.run_text,
        "httpStatus": r.http_status,
        "executionTimestamp": r.executed_at.map(format_instant),
        "runStatus": r.status,
        "runState": r.state,
        "scheduleTimestamp": format_instant(r.scheduled_at),
        "completionTimestamp": r.completed_at.map(format_instant),
    })
}

/// One run in detail: SAP's fields and chime's (run number, outcome, body, log, ...).
pub fn run_detail(r: &RunRecord) -> Value {
    let mut v = run(r);
    let extra = json!({
        "jobId": r.job_id,
        "scheduleId": r.schedule_id,
        "runNumber": r.number,
        "outcome": r.outcome.as_deref().filter(|o| !o.is_empty()),
        "responseBody": r.response_body,
        "errorMessage": r.error,
        "durationMs": r.duration_ms,
        "attempt": r.attempt,
        "worker": r.worker,
        "log": if r.log.is_empty() { r.text_log(&[]) } else { r.log.clone() },
    });
    if let (Value::Object(a), Value::Object(b)) = (&mut v, extra) {
        a.extend(b);
    }
    v
}
