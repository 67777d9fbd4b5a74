//! Validation of SAP request bodies ([`crate::wire::requests`]) into stored jobs and
//! schedules: the rules the types cannot say (a job name's characters, lengths, one
//! scheduling mode, parseable dates and cron fields, …).
//!
//! Pure functions of the request and an explicit `now`; every error names the field.

mod policy;
mod sap_config;

use crate::error::ApiError;
use crate::wire::requests::{JobRequest, JobUpdateRequest, ScheduleRequest, ScheduleUpdateRequest};
use crate::wire::{given, SapBool};
use chime_core::model::MisfirePolicy;
use chime_core::model::{Job, Schedule, ScheduleKind};
use chime_core::run::HttpMethod;
use chime_core::schedfmt::{
    parse_repeat_at, parse_repeat_interval, parse_sap_datetime_in, Crontab, SapCron,
};
use chime_core::schedule::Misfire;
use chime_core::schedule::Plan;
use chime_core::time::format_instant;
use chime_core::zone::{self, Tz};
use chrono::{DateTime, Utc};
pub use policy::{concurrency_policy, retry_policy};
pub use sap_config::{ans_config, calm_config};
use serde_json::Value;
use std::collections::BTreeMap;

const MAX_NAME: usize = 255;
const MAX_TEXT: usize = 5000;
const MAX_TIMEOUT_MS: u64 = 600_000;

fn bad(msg: impl Into<String>) -> ApiError {
    ApiError::BadRequest(msg.into())
}

/// An instant field (`null` or absent: none).
fn instant(
    v: &Option<Value>,
    field: &str,
    ctx: &str,
    now: DateTime<Utc>,
    zone: Tz,
) -> Result<Option<String>, ApiError> {
    match given(v) {
        None => Ok(None),
        Some(v) => parse_sap_datetime_in(v, now, zone)
            .map(|d| Some(format_instant(d.timestamp_millis())))
            .map_err(|e| bad(format!("{ctx}: '{field}': {e}"))),
    }
}

fn check_len(value: &str, field: &str, max: usize, ctx: &str) -> Result<(), ApiError> {
    if value.len() > max {
        return Err(bad(format!(
            "{ctx}: '{field}' is longer than {max} characters"
        )));
    }
    Ok(())
}

/// Validates a job name: SAP forbids special characters and names of only digits.
pub fn job_name(name: &str, ctx: &str) -> Result<(), ApiError> {
    if name.is_empty() {
        return Err(bad(format!("{ctx}: 'name' must not be empty")));
    }
    check_len(name, "name", MAX_NAME, ctx)?;
    if name.chars().all(|c| c.is_ascii_digit()) {
        return Err(bad(format!(
            "{ctx}: 'name' must not consist of digits only"
        )));
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
    {
        return Err(bad(format!(
            "{ctx}: 'name' may contain only letters, digits, '_', '-' and '.'"
        )));
    }
    Ok(())
}

fn action_url(url: &str, ctx: &str) -> Result<(), ApiError> {
    http_url(url, "action", ctx)
}

/// An absolute http or https URL of at most 2048 characters, in field `field`.
fn http_url(url: &str, field: &str, ctx: &str) -> Result<(), ApiError> {
    check_len(url, field, 2048, ctx)?;
    let parsed = url::Url::parse(url)
        .map_err(|e| bad(format!("{ctx}: '{field}' is not a valid URL: {e}")))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host().is_none() {
        return Err(bad(format!(
            "{ctx}: '{field}' must be an absolute http or https URL"
        )));
    }
    Ok(())
}

/// A job's `notifications` (`null` or absent: none): the URL its events go to.
pub fn notifications(given: Option<&Value>, ctx: &str) -> Result<Option<String>, ApiError> {
    match given {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(url)) => {
            http_url(url, "notifications", ctx)?;
            Ok(Some(url.clone()))
        }
        Some(_) => Err(bad(format!(
            "{ctx}: 'notifications' must be a URL (a string) or null"
        ))),
    }
}

fn method(m: &str, ctx: &str) -> Result<HttpMethod, ApiError> {
    m.to_uppercase().parse().map_err(|_| {
        let names: Vec<&str> = HttpMethod::ALL.iter().map(|m| m.as_str()).collect();
        bad(format!(
            "{ctx}: 'httpMethod' must be one of {}",
            names.join(", ")
        ))
    })
}

/// A map of headers of a body (`field`: `headers` or `secretHeaders`): at most 50, each a
/// valid name and value.
fn headers(
    given: &Option<BTreeMap<String, String>>,
    field: &str,
    ctx: &str,
) -> Result<Option<BTreeMap<String, String>>, ApiError> {
    let Some(m) = given else { return Ok(None) };
    if m.len() > 50 {
        return Err(bad(format!("{ctx}: '{field}' may hold at most 50 entries")));
    }
    for (k, v) in m {
        http::HeaderName::from_bytes(k.as_bytes()).map_err(|_| {
            bad(format!(
                "{ctx}: '{field}': '{k}' is not a valid header name"
            ))
        })?;
        http::HeaderValue::from_str(v)
            .map_err(|_| bad(format!("{ctx}: '{field}.{k}' is not a valid header value")))?;
    }
    Ok(Some(m.clone()))
}

/// A name of `secret` that is also among the `plain` headers (names are case-insensitive).
fn both<'a>(
    secret: &'a BTreeMap<String, String>,
    plain: &BTreeMap<String, String>,
) -> Option<&'a String> {
    secret
        .keys()
        .find(|k| plain.keys().any(|p| p.eq_ignore_ascii_case(k)))
}

/// The secret headers of a body, their values still plain (`***`: keep the stored value; the
/// service seals them). A name may not also be among the plain `headers`.
fn secret_headers(
    given: &Option<BTreeMap<String, String>>,
    plain: &BTreeMap<String, String>,
    ctx: &str,
) -> Result<Option<BTreeMap<String, String>>, ApiError> {
    let secret = headers(given, "secretHeaders", ctx)?;
    if let Some(k) = secret.as_ref().and_then(|m| both(m, plain)) {
        return Err(bad(format!(
            "{ctx}: 'secretHeaders.{k}' is also in 'headers'"
        )));
    }
    Ok(secret)
}

/// Every secret header of `job` kept as stored (`***`), for a write that does not change them.
fn keep_secrets(job: &Job) -> BTreeMap<String, String> {
    job.secret_headers
        .keys()
        .map(|k| (k.clone(), chime_core::secrets::MASK.to_string()))
        .collect()
}

fn timeout(t: Option<u64>, ctx: &str) -> Result<Option<u64>, ApiError> {
    match t {
        Some(t) if !(1..=MAX_TIMEOUT_MS).contains(&t) => Err(bad(format!(
            "{ctx}: 'timeoutMs' must be an integer from 1 to {MAX_TIMEOUT_MS}"
        ))),
        t => Ok(t),
    }
}

/// A new job from a Create Job body (without schedules; see [`schedules_of`]).
pub fn new_job(
    req: &JobRequest,
    id: u64,
    default_timeout_ms: u64,
    now: DateTime<Utc>,
) -> Result<Job, ApiError> {
    let ctx = "Error while creating job";
    let name = req
        .name
        .clone()
        .ok_or_else(|| bad(format!("{ctx}: 'name' is required")))?;
    job_name(&name, ctx)?;
    let action = req
        .action
        .clone()
        .ok_or_else(|| bad(format!("{ctx}: 'action' is required")))?;
    action_url(&action, ctx)?;
    let description = req.description.clone().unwrap_or_default();
    check_len(&description, "description", MAX_TEXT, ctx)?;
    let http_method = method(req.http_method.as_deref().unwrap_or("POST"), ctx)?;
    let stamp = format_instant(now.timestamp_millis());
    let plain = headers(&req.headers, "headers", ctx)?.unwrap_or_default();
    let secret = secret_headers(&req.secret_headers, &plain, ctx)?.unwrap_or_default();
    Ok(Job {
        id,
        name,
        description,
        action,
        active: req.active.is_some_and(|SapBool(b)| b),
        http_method,
        start_time: instant(&req.start_time, "startTime", ctx, now, Tz::UTC)?,
        end_time: instant(&req.end_time, "endTime", ctx, now, Tz::UTC)?,
        headers: plain,
        secret_headers: secret,
        timeout_ms: timeout(req.timeout_ms, ctx)?.unwrap_or(default_timeout_ms),
        retry_policy: retry_policy(req.retry_policy.as_ref(), ctx)?,
        concurrency_policy: concurrency_policy(req.concurrency_policy.as_ref(), ctx)?,
        notifications: notifications(req.notifications.as_ref(), ctx)?,
        ans_config: ans_config(req.ans_config.as_ref(), ctx)?,
        calm_config: calm_config(req.calm_config.as_ref(), ctx)?,
        created_at: stamp.clone(),
        modified_at: stamp,
    })
}

/// Applies a Configure Job (by id) body: fields not given keep their values.
pub fn update_job(job: &Job, req: &JobUpdateRequest, now: DateTime<Utc>) -> Result<Job, ApiError> {
    let ctx = "Error while updating job";
    let mut j = job.clone();
    if let Some(name) = &req.name {
        job_name(name, ctx)?;
        j.name = name.clone();
    }
    if let Some(a) = &req.action {
        action_url(a, ctx)?;
        j.action = a.clone();
    }
    if let Some(d) = &req.description {
        check_len(d, "description", MAX_TEXT, ctx)?;
        j.description = d.clone();
    }
    if let Some(m) = &req.http_method {
        j.http_method = method(m, ctx)?;
    }
    if let Some(SapBool(a)) = req.active {
        j.active = a;
    }
    if req.start_time.is_some() {
        j.start_time = instant(&req.start_time, "startTime", ctx, now, Tz::UTC)?;
    }
    if req.end_time.is_some() {
        j.end_time = instant(&req.end_time, "endTime", ctx, now, Tz::UTC)?;
    }
    if let Some(h) = headers(&req.headers, "headers", ctx)? {
        j.headers = h;
    }
    j.secret_headers = match secret_headers(&req.secret_headers, &j.headers, ctx)? {
        Some(given) => given,
        None => {
            let kept = keep_secrets(job);
            if let Some(k) = both(&kept, &j.headers) {
                return Err(bad(format!(
                    "{ctx}: 'headers.{k}' is a secret header of the job"
                )));
            }
            kept
        }
    };
    if let Some(t) = timeout(req.timeout_ms, ctx)? {
        j.timeout_ms = t;
    }
    if let Some(given) = &req.retry_policy {
        j.retry_policy = retry_policy(Some(given), ctx)?;
    }
    if let Some(given) = &req.concurrency_policy {
        j.concurrency_policy = concurrency_policy(Some(given), ctx)?;
    }
    if let Some(given) = &req.notifications {
        j.notifications = notifications(Some(given), ctx)?;
    }
    if let Some(given) = &req.ans_config {
        j.ans_config = ans_config(Some(given), ctx)?;
    }
    if let Some(given) = &req.calm_config {
        j.calm_config = calm_config(Some(given), ctx)?;
    }
    j.modified_at = format_instant(now.timestamp_millis());
    Ok(j)
}

/// The schedules of a Create Job body.
pub fn schedules_of(req: &JobRequest, now: DateTime<Utc>) -> Result<Vec<Schedule>, ApiError> {
    let items = req.schedules.as_deref().unwrap_or_default();
    if items.len() > 100 {
        return Err(bad(
            "Error while creating job: at most 100 schedules per job",
        ));
    }
    items
        .iter()
        .enumerate()
        .map(|(i, sc)| {
            new_schedule(
                sc,
                &format!("Error while creating job: schedules[{i}]"),
                now,
            )
        })
        .collect()
}

/// The scheduling-mode fields of a body.
struct Modes<'a> {
    cron: Option<&'a str>,
    crontab: Option<&'a str>,
    /// The zone `time` is read in.
    zone: Tz,
    time: &'a Option<Value>,
    repeat_interval: Option<&'a str>,
    repeat_at: Option<&'a str>,
}

impl Modes<'_> {
    /// The names of the modes given (not `null`).
    fn given(&self) -> Vec<&'static str> {
        [
            ("cron", self.cron.is_some()),
            ("crontab", self.crontab.is_some()),
            ("time", given(self.time).is_some()),
            ("repeatInterval", self.repeat_interval.is_some()),
            ("repeatAt", self.repeat_at.is_some()),
        ]
        .into_iter()
        .filter(|(_, on)| *on)
        .map(|(m, _)| m)
        .collect()
    }
}

/// Validates the scheduling-mode field that is set and stores its normalised value.
fn apply_mode(
    s: &mut Schedule,
    modes: &Modes,
    ctx: &str,
    now: DateTime<Utc>,
) -> Result<(), ApiError> {
    let given = modes.given();
    match given.as_slice() {
        [] => Err(bad(format!(
            "{ctx}: one of 'cron', 'crontab', 'time', 'repeatInterval' or 'repeatAt' is required"
        ))),
        [_, _, ..] => Err(bad(format!(
            "{ctx}: only one scheduling mode may be given, found {}",
            given.join(", ")
        ))),
        [mode] => {
            s.cron = None;
            s.crontab = None;
            s.time = None;
            s.repeat_interval = None;
            s.repeat_at = None;
            match *mode {
                "cron" => {
                    let c = modes.cron.unwrap_or_default();
                    let parsed: SapCron =
                        c.parse().map_err(|e| bad(format!("{ctx}: 'cron': {e}")))?;
                    s.cron = Some(parsed.as_str().to_string());
                }
                "time" => s.time = instant(modes.time, "time", ctx, now, modes.zone)?,
                "crontab" => {
                    let c = modes.crontab.unwrap_or_default();
                    let parsed: Crontab = c
                        .parse()
                        .map_err(|e| bad(format!("{ctx}: 'crontab': {e}")))?;
                    s.crontab = Some(parsed.as_str().to_string());
                }
                "repeatInterval" => {
                    let v = modes.repeat_interval.unwrap_or_default();
                    parse_repeat_interval(v).map_err(|e| bad(format!("{ctx}: {e}")))?;
                    s.repeat_interval = Some(v.to_string());
                }
                _ => {
                    let v = modes.repeat_at.unwrap_or_default();
                    parse_repeat_at(v).map_err(|e| bad(format!("{ctx}: {e}")))?;
                    s.repeat_at = Some(v.to_string());
                }
            }
            s.kind = if s.time.is_some() {
                ScheduleKind::OneTime
            } else {
                ScheduleKind::Recurring
            };
            Ok(())
        }
    }
}

fn mode_of(s: &Schedule) -> &'static str {
    if s.cron.is_some() {
        "cron"
    } else if s.crontab.is_some() {
        "crontab"
    } else if s.time.is_some() {
        "time"
    } else if s.repeat_interval.is_some() {
        "repeatInterval"
    } else {
        "repeatAt"
    }
}

fn data(v: &Option<Value>, ctx: &str) -> Result<Option<Value>, ApiError> {
    match given(v) {
        None => Ok(None),
        Some(v @ (Value::Object(_) | Value::String(_))) => Ok(Some(v.clone())),
        Some(_) => Err(bad(format!("{ctx}: 'data' must be an object or a string"))),
    }
}

/// A new schedule from a Create Schedule body (or an element of a job's `schedules`).
pub fn new_schedule(
    req: &ScheduleRequest,
    ctx: &str,
    now: DateTime<Utc>,
) -> Result<Schedule, ApiError> {
    let stamp = format_instant(now.timestamp_millis());
    let given_zone = zone_of(req.time_zone.as_deref(), ctx)?;
    let zone = given_zone.map_or(Tz::UTC, |(_, tz)| tz);
    let mut s = Schedule {
        schedule_id: uuid::Uuid::new_v4().to_string(),
        description: req.description.clone().unwrap_or_default(),
        data: data(&req.data, ctx)?,
        kind: ScheduleKind::Recurring,
        cron: None,
        time: None,
        repeat_interval: None,
        repeat_at: None,
        active: req
            .active
            .ok_or_else(|| bad(format!("{ctx}: 'active' is required")))?
            .0,
        start_time: instant(&req.start_time, "startTime", ctx, now, zone)?,
        end_time: instant(&req.end_time, "endTime", ctx, now, zone)?,
        created_at: stamp.clone(),
        modified_at: stamp,
        crontab: None,
        time_zone: given_zone.map(|(name, _)| name.to_string()),
        misfire_policy: misfire_policy(req.misfire_policy.as_deref(), ctx)?,
        misfire_replay_per_second: req.misfire_replay_per_second,
        misfire_window_seconds: req.misfire_window_seconds,
    };
    check_misfire(&s, ctx)?;
    check_len(&s.description, "description", MAX_TEXT, ctx)?;
    let modes = Modes {
        cron: req.cron.as_deref(),
        crontab: req.crontab.as_deref(),
        zone,
        time: &req.time,
        repeat_interval: req.repeat_interval.as_deref(),
        repeat_at: req.repeat_at.as_deref(),
    };
    apply_mode(&mut s, &modes, ctx, now)?;
    check_window(&s, ctx)?;
    Ok(s)
}

/// Applies a Configure Schedule body (`fields`: the names it sent). Changing the scheduling
/// mode is refused (SAP).
pub fn update_schedule(
    old: &Schedule,
    req: &ScheduleUpdateRequest,
    fields: &[String],
    now: DateTime<Utc>,
) -> Result<Schedule, ApiError> {
    let ctx = "Error while updating schedule";
    if fields.is_empty() {
        return Err(bad(format!("{ctx}: at least one field is required")));
    }
    let mut s = old.clone();
    if let Some(d) = &req.description {
        check_len(d, "description", MAX_TEXT, ctx)?;
        s.description = d.clone();
    }
    if req.data.is_some() {
        s.data = data(&req.data, ctx)?;
    }
    if let Some(SapBool(a)) = req.active {
        s.active = a;
    }
    update_timing(&mut s, req, ctx)?;
    let zone = s
        .time_zone
        .as_deref()
        .and_then(zone::parse_zone)
        .unwrap_or(Tz::UTC);
    if req.start_time.is_some() {
        s.start_time = instant(&req.start_time, "startTime", ctx, now, zone)?;
    }
    if req.end_time.is_some() {
        s.end_time = instant(&req.end_time, "endTime", ctx, now, zone)?;
    }
    let modes = Modes {
        cron: req.cron.as_deref(),
        crontab: req.crontab.as_deref(),
        zone,
        time: &req.time,
        repeat_interval: req.repeat_interval.as_deref(),
        repeat_at: req.repeat_at.as_deref(),
    };
    let given = modes.given();
    if !given.is_empty() {
        let old_mode = mode_of(old);
        if given.iter().any(|m| *m != old_mode) {
            return Err(bad(format!(
                "{ctx}: the scheduling mode cannot be changed (schedule uses '{old_mode}')"
            )));
        }
        apply_mode(&mut s, &modes, ctx, now)?;
    }
    check_window(&s, ctx)?;
    s.modified_at = format_instant(now.timestamp_millis());
    Ok(s)
}

/// A `timeZone` checked against the tz database, with its zone, or `None` for UTC.
fn zone_of<'a>(name: Option<&'a str>, ctx: &str) -> Result<Option<(&'a str, Tz)>, ApiError> {
    match name {
        None => Ok(None),
        Some(n) => match zone::parse_zone(n) {
            Some(tz) => Ok(Some((n, tz))),
            None => Err(bad(format!(
                "{ctx}: 'timeZone': unknown time zone '{n}'; expected an IANA name such as Europe/Berlin or UTC"
            ))),
        },
    }
}

fn misfire_policy(v: Option<&str>, ctx: &str) -> Result<Option<MisfirePolicy>, ApiError> {
    v.map(|p| {
        p.parse::<MisfirePolicy>().map_err(|_| {
            bad(format!(
                "{ctx}: 'misfirePolicy' must be 'all', 'last' or 'skip', got '{p}'"
            ))
        })
    })
    .transpose()
}

/// Longest `misfireWindowSeconds`: a year.
const MAX_MISFIRE_WINDOW_SECS: u64 = 366 * 86_400;

fn check_misfire(s: &Schedule, ctx: &str) -> Result<(), ApiError> {
    if let Some(r) = s.misfire_replay_per_second {
        if !(1..=Misfire::MAX_REPLAY_PER_SECOND).contains(&r) {
            return Err(bad(format!(
                "{ctx}: 'misfireReplayPerSecond' must be between 1 and {}",
                Misfire::MAX_REPLAY_PER_SECOND
            )));
        }
        if s.misfire_policy != Some(MisfirePolicy::All) {
            return Err(bad(format!(
                "{ctx}: 'misfireReplayPerSecond' applies only with 'misfirePolicy' 'all'"
            )));
        }
    }
    if let Some(w) = s.misfire_window_seconds {
        if !(1..=MAX_MISFIRE_WINDOW_SECS).contains(&w) {
            return Err(bad(format!(
                "{ctx}: 'misfireWindowSeconds' must be between 1 and {MAX_MISFIRE_WINDOW_SECS}"
            )));
        }
    }
    Ok(())
}

/// A number field of an update body: `null` clears it.
fn number_of(v: &Value, field: &str, ctx: &str) -> Result<Option<u64>, ApiError> {
    match v {
        Value::Null => Ok(None),
        v => v
            .as_u64()
            .map(Some)
            .ok_or_else(|| bad(format!("{ctx}: '{field}' must be a positive integer"))),
    }
}

/// Applies the zone and misfire fields of a Configure Schedule body.
fn update_timing(s: &mut Schedule, req: &ScheduleUpdateRequest, ctx: &str) -> Result<(), ApiError> {
    let text = |v: &Value, field: &str| -> Result<Option<String>, ApiError> {
        match v {
            Value::Null => Ok(None),
            Value::String(t) => Ok(Some(t.clone())),
            _ => Err(bad(format!("{ctx}: '{field}' must be a string"))),
        }
    };
    if let Some(v) = &req.time_zone {
        let name = text(v, "timeZone")?;
        s.time_zone = zone_of(name.as_deref(), ctx)?.map(|(n, _)| n.to_string());
    }
    if let Some(v) = &req.misfire_policy {
        s.misfire_policy = misfire_policy(text(v, "misfirePolicy")?.as_deref(), ctx)?;
    }
    if let Some(v) = &req.misfire_replay_per_second {
        let n = number_of(v, "misfireReplayPerSecond", ctx)?;
        s.misfire_replay_per_second = n.map(|n| u32::try_from(n).unwrap_or(u32::MAX));
    }
    if let Some(v) = &req.misfire_window_seconds {
        s.misfire_window_seconds = number_of(v, "misfireWindowSeconds", ctx)?;
    }
    check_misfire(s, ctx)
}

fn check_window(s: &Schedule, ctx: &str) -> Result<(), ApiError> {
    if let (Some(a), Some(b)) = (&s.start_time, &s.end_time) {
        if b < a {
            return Err(bad(format!("{ctx}: 'endTime' is before 'startTime'")));
        }
    }
    Plan::from_schedule(s).map_err(|e| bad(format!("{ctx}: {e}")))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{decode, RequestBody};
    use serde_json::json;

    fn now() -> DateTime<Utc> {
        "2026-01-01T00:00:00Z".parse().unwrap()
    }

    fn obj<T: RequestBody>(v: Value) -> T {
        decode::<T>(v).unwrap().0
    }

    #[test]
    fn job_defaults_follow_sap() {
        let j = new_job(
            &obj(json!({"name": "n1", "action": "http://127.0.0.1:1/x"})),
            1,
            15000,
            now(),
        )
        .unwrap();
        assert!(!j.active);
        assert_eq!(j.http_method, HttpMethod::Post);
        assert_eq!(j.description, "");
        assert_eq!(j.end_time, None);
    }

    #[test]
    fn job_errors_name_the_field() {
        let cases = [
            (json!({"action": "http://a/"}), "'name'"),
            (json!({"name": "123", "action": "http://a/"}), "'name'"),
            (json!({"name": "a b", "action": "http://a/"}), "'name'"),
            (json!({"name": "a"}), "'action'"),
            (json!({"name": "a", "action": "ftp://a/"}), "'action'"),
            (
                json!({"name": "a", "action": "http://a/", "httpMethod": "TRACE"}),
                "'httpMethod'",
            ),
            (
                json!({"name": "a", "action": "http://a/", "active": 3}),
                "'active'",
            ),
            (
                json!({"name": "a", "action": "http://a/", "timeoutMs": 0}),
                "'timeoutMs'",
            ),
            (
                json!({"name": "a", "action": "http://a/", "headers": {"bad header": "x"}}),
                "'headers'",
            ),
            (
                json!({"name": "a", "action": "http://a/", "startTime": "yesterday-ish"}),
                "'startTime'",
            ),
        ];
        for (body, field) in cases {
            let e = decode::<JobRequest>(body.clone())
                .and_then(|(r, _)| new_job(&r, 1, 1, now()))
                .unwrap_err()
                .to_string();
            assert!(e.contains(field), "{body}: {e}");
        }
    }

    #[test]
    fn schedule_modes() {
        let s = new_schedule(
            &obj(json!({"cron": "* * * * * */10 0", "active": true})),
            "c",
            now(),
        )
        .unwrap();
        assert_eq!(s.kind, ScheduleKind::Recurring);
        let s = new_schedule(&obj(json!({"time": "now", "active": "true"})), "c", now()).unwrap();
        assert_eq!(s.kind, ScheduleKind::OneTime);
        assert_eq!(s.time.as_deref(), Some("2026-01-01T00:00:00.000Z"));
        let e = new_schedule(&obj(json!({"active": true})), "c", now())
            .unwrap_err()
            .to_string();
        assert!(e.contains("'cron'"), "{e}");
        let e = new_schedule(
            &obj(json!({"cron": "* * * * * * *", "time": "now", "active": true})),
            "c",
            now(),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("only one"), "{e}");
        let e = new_schedule(
            &obj(json!({"cron": "* 2 30 * 0 0 0", "active": true})),
            "c",
            now(),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("cron"), "{e}");
        let e = new_schedule(
            &obj(json!({"repeatInterval": "often", "active": true})),
            "c",
            now(),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("repeatInterval"), "{e}");
        let e = new_schedule(&obj(json!({"repeatInterval": "2 seconds"})), "c", now())
            .unwrap_err()
            .to_string();
        assert!(e.contains("'active'"), "{e}");
    }

    #[test]
    fn schedule_mode_cannot_change() {
        let s = new_schedule(
            &obj(json!({"cron": "* * * * * */10 0", "active": true})),
            "c",
            now(),
        )
        .unwrap();
        let e = update_schedule(
            &s,
            &obj(json!({"repeatInterval": "2 seconds"})),
            &["repeatInterval".into()],
            now(),
        )
        .unwrap_err();
        assert!(e.to_string().contains("cannot be changed"), "{e}");
        let u = update_schedule(
            &s,
            &obj(json!({"cron": "* * * * * */5 0"})),
            &["cron".into()],
            now(),
        )
        .unwrap();
        assert_eq!(u.cron.as_deref(), Some("* * * * * */5 0"));
    }
}
