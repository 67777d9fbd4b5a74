//! The domain types that cross service boundaries: jobs and schedules as stored, the run
//! message on the queue, and the run record with SAP's lifecycle states.

use crate::run::{HttpMethod, Outcome, RunState, RunStatus};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A job as stored (`def` field of the job hash) and as the API shows it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Job {
    #[serde(rename = "_id")]
    pub id: u64,
    pub name: String,
    pub description: String,
    pub action: String,
    pub active: bool,
    pub http_method: HttpMethod,
    pub start_time: Option<String>,
    pub end_time: Option<String>,
    /// chime: extra request headers sent with every call.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// chime: request headers whose values are secret, each sealed at rest
    /// ([`crate::secrets`]); sent with every call, never shown.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub secret_headers: BTreeMap<String, String>,
    /// chime: HTTP timeout of the action in milliseconds.
    pub timeout_ms: u64,
    /// chime: retries of a failed call (`None`: one call, SAP's behaviour).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_policy: Option<crate::retry::RetryPolicy>,
    /// chime: what a fire does while its schedule's previous run is in progress (`None`:
    /// `allow`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub concurrency_policy: Option<ConcurrencyPolicy>,
    /// chime: the URL that receives the job's events (a run failed after its retries, a
    /// schedule recovered or was deactivated), signed like its calls.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notifications: Option<String>,
    /// SAP's alert notification settings, stored and shown as given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ans_config: Option<AnsConfig>,
    /// SAP's Cloud ALM monitoring setting, stored and shown as given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calm_config: Option<CalmConfig>,
    pub created_at: String,
    pub modified_at: String,
}

/// SAP's `ansConfig`: whether SAP Alert Notification is told of a run's success or error.
/// chime stores and shows it; its own events go to a job's `notifications` URL.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct AnsConfig {
    pub on_error: bool,
    pub on_success: bool,
}

/// SAP's `calmConfig`: whether SAP Cloud ALM monitors the job. Stored and shown.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct CalmConfig {
    pub enabled: bool,
}

named_enum!(
    /// What a fire does while its schedule's previous run is in progress (Kubernetes
    /// CronJob's three policies, for HTTP calls).
    ConcurrencyPolicy, "concurrencyPolicy", {
        /// Fire anyway: runs overlap.
        Allow = "allow",
        /// Skip the fire (the skip is in the schedule's event log and `fires`, reason
        /// `overlap`).
        Forbid = "forbid",
        /// Cancel the run in progress (its call is aborted) and fire.
        Replace = "replace",
    }
);

named_enum!(
    /// SAP's schedule `type`: a `time` schedule fires once, every other kind recurs.
    ScheduleKind, "type", {
        OneTime = "one-time",
        Recurring = "recurring",
    }
);

/// A schedule as stored (value in the job's schedules hash) and as the API shows it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Schedule {
    pub schedule_id: String,
    pub description: String,
    /// Sent as the body (POST, PUT, PATCH) or as the query string (GET, DELETE).
    pub data: Option<serde_json::Value>,
    #[serde(rename = "type")]
    pub kind: ScheduleKind,
    pub cron: Option<String>,
    pub time: Option<String>,
    pub repeat_interval: Option<String>,
    pub repeat_at: Option<String>,
    pub active: bool,
    pub start_time: Option<String>,
    pub end_time: Option<String>,
    pub created_at: String,
    pub modified_at: String,
    /// chime: a standard 5- or 6-field cron expression or a macro (`@daily`), in `time_zone`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crontab: Option<String>,
    /// chime: the IANA zone of the schedule's wall-clock times (`None`: UTC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<String>,
    /// chime: what the leader does with instants it reaches late (`None`: SAP's rule).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub misfire_policy: Option<MisfirePolicy>,
    /// chime: with `misfirePolicy: all`, how many missed instants replay a second at most.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub misfire_replay_per_second: Option<u32>,
    /// chime: instants reached later than this are skipped whatever the policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub misfire_window_seconds: Option<u64>,
}

named_enum!(
    /// What the leader does with the instants of a schedule it reaches late (a misfire: the
    /// scheduler was down, the queue full, or the tenant over its quota).
    MisfirePolicy, "misfirePolicy", {
        /// Replay every missed instant, oldest first, throttled.
        All = "all",
        /// Fire only the most recent missed instant.
        Last = "last",
        /// Fire none; resume at the next instant.
        Skip = "skip",
    }
);

/// What a worker needs to execute one run. A message on the runs queue carries one or more
/// (`broker::encode_runs`).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct RunMessage {
    pub run_id: String,
    pub tenant: String,
    pub job_id: u64,
    pub schedule_id: String,
    /// Nominal scheduled instant (ms since the epoch).
    pub scheduled_at: i64,
    /// Leader that published it, and its fencing epoch.
    pub owner: String,
    pub epoch: u64,
    /// Its record was created by the publish that sent this message, so nothing can have
    /// finished it before its first delivery: that delivery may call at once and mark the run
    /// later. Any other message (a re-publish, one of a tool) is marked before its call.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub fresh: bool,
    /// A manual run ("run now"): the id of the API key that requested it. `None` for a
    /// scheduled fire. A manual run fires whether or not its job and schedule are active.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested_by: Option<String>,
    pub action: ActionSpec,
    /// The job's retry policy, when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry: Option<crate::retry::RetryPolicy>,
    /// The attempt this message carries: 1 for a fire, `k + 1` for the retry after attempt
    /// `k` failed (a message a worker sent through a delay queue).
    #[serde(default = "first_attempt", skip_serializing_if = "is_first_attempt")]
    pub attempt: u32,
    /// When the run's first call began (ms), on a retry's message: `maxRetrySeconds` counts
    /// from it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_call_at: Option<i64>,
    /// When a retry's attempt is due (ms): its worker holds it until then on its own clock
    /// (the broker's delay can end a few milliseconds early).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_at: Option<i64>,
    /// Its job's `concurrencyPolicy` is `replace`: a newer fire of its schedule cancels it,
    /// so its worker watches for that during the call.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub replaceable: bool,
    /// Its job has a `notifications` URL: the worker that records its result hints the
    /// notifiers that its tenant may have a note due.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub notify: bool,
}

fn first_attempt() -> u32 {
    1
}

fn is_first_attempt(n: &u32) -> bool {
    *n <= 1
}

/// The HTTP call of a run.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ActionSpec {
    pub url: String,
    pub method: HttpMethod,
    pub headers: Vec<(String, String)>,
    /// The job's secret headers, still sealed: the worker opens them just before the call, so
    /// their values are in no message on the queue.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secret_headers: Vec<(String, String)>,
    pub body: Option<String>,
    pub timeout_ms: u64,
}

impl ActionSpec {
    /// The call's timeout (ms): its own, or `default_ms` when its job sets none (0).
    pub fn timeout_or(&self, default_ms: u64) -> u64 {
        match self.timeout_ms {
            0 => default_ms,
            ms => ms,
        }
    }
}

/// A run record as read back from Redis (the `run` hash).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct RunRecord {
    pub run_id: String,
    pub tenant: String,
    pub job_id: u64,
    pub schedule_id: String,
    /// Per-job run number, 1, 2, 3 … in fire order.
    pub number: u64,
    pub scheduled_at: i64,
    pub created_at: i64,
    pub status: RunStatus,
    pub state: RunState,
    pub executed_at: Option<i64>,
    pub completed_at: Option<i64>,
    pub http_status: Option<u16>,
    pub run_text: String,
    /// Once completed.
    pub outcome: Option<Outcome>,
    pub response_body: Option<String>,
    pub error: Option<String>,
    pub duration_ms: Option<u64>,
    pub attempt: u32,
    pub worker: Option<String>,
    /// Leader that materialised the run, and its fencing epoch.
    pub owner: String,
    pub epoch: u64,
    /// A manual run ("run now"), requested through the API rather than fired by its schedule.
    #[serde(default)]
    pub manual: bool,
    /// The API key that requested a manual run, when the record names it.
    #[serde(default)]
    pub requested_by: Option<String>,
    /// The run's text log: one line per step, each starting with an RFC 3339 timestamp.
    /// Filled by [`RunRecord::text_log`] where a caller asks for it.
    pub log: String,
    /// The attempts before the last one, each failed and retried (empty for a run of one
    /// attempt); the last attempt is the record's own fields.
    #[serde(default)]
    pub retried: Vec<Attempt>,
    /// While a retry waits: the attempt to come and when (ms).
    #[serde(default)]
    pub next_attempt: Option<(u32, i64)>,
    /// The last call's timing split, where the client exposed it.
    #[serde(default)]
    pub timing: Option<crate::timing::Timing>,
    /// Why the run failed, once it has.
    #[serde(default)]
    pub failure_reason: Option<crate::timing::FailureReason>,
}

/// One failed attempt of a run that was retried, as the run's record keeps it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Attempt {
    /// 1 for the first call.
    #[serde(rename = "n")]
    pub attempt: u32,
    /// When the call began (ms).
    #[serde(rename = "e")]
    pub executed_at: i64,
    #[serde(rename = "u")]
    pub duration_ms: u64,
    #[serde(rename = "h", default, skip_serializing_if = "Option::is_none")]
    pub http_status: Option<u16>,
    #[serde(rename = "o")]
    pub outcome: Outcome,
    /// Why it was retried (`HTTP 5xx`, `timeout`, …) and what the call said.
    #[serde(rename = "x")]
    pub error: String,
    /// The wait before the next attempt (ms).
    #[serde(rename = "w")]
    pub delay_ms: u64,
    /// The call's timing split ([`crate::timing::Timing::encode`]), when known.
    #[serde(rename = "g", default, skip_serializing_if = "Option::is_none")]
    pub timing: Option<String>,
    /// Why the attempt failed.
    #[serde(rename = "f", default, skip_serializing_if = "Option::is_none")]
    pub failure_reason: Option<crate::timing::FailureReason>,
}

impl Attempt {
    /// The attempts a record keeps, one JSON object a line; lines that do not read are
    /// skipped.
    pub fn parse_all(stored: &str) -> Vec<Attempt> {
        stored
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }
}

impl RunRecord {
    /// Builds a record of `tenant` (the tenant is in the record's key, not in its fields) from
    /// the flat field list of `HGETALL`; `None` when it has no id or a lifecycle name that is
    /// not SAP's.
    pub fn from_fields(tenant: &str, fields: &[(String, String)]) -> Option<RunRecord> {
        let mut r = RunRecord {
            tenant: tenant.to_string(),
            ..RunRecord::default()
        };
        let mut seen_id = false;
        for (k, v) in fields {
            match k.as_str() {
                "id" => {
                    r.run_id = v.clone();
                    seen_id = true;
                }
                "tenant" => r.tenant = v.clone(),
                "job" => r.job_id = v.parse().ok()?,
                "sched" => r.schedule_id = v.clone(),
                "n" => r.number = v.parse().unwrap_or(0),
                "sched_at" => r.scheduled_at = v.parse().unwrap_or(0),
                "created" => r.created_at = v.parse().unwrap_or(0),
                "status" => r.status = v.parse().ok()?,
                "state" => r.state = v.parse().ok()?,
                "exec_at" => r.executed_at = v.parse().ok(),
                "done_at" => r.completed_at = v.parse().ok(),
                "http" => r.http_status = v.parse().ok(),
                "text" => r.run_text = v.clone(),
                "outcome" if v.is_empty() => r.outcome = None,
                "outcome" => r.outcome = Some(v.parse().ok()?),
                "body" => r.response_body = Some(v.clone()),
                "err" => r.error = Some(v.clone()),
                "dur" => r.duration_ms = v.parse().ok(),
                "attempt" => r.attempt = v.parse().unwrap_or(0),
                "worker" => r.worker = Some(v.clone()),
                "owner" => r.owner = v.clone(),
                "epoch" => r.epoch = v.parse().unwrap_or(0),
                "manual" => r.set_manual(v),
                "tries" => r.retried = Attempt::parse_all(v),
                "timing" => r.timing = crate::timing::Timing::decode(v),
                "reason" => r.failure_reason = v.parse().ok(),
                "next" => {
                    let at = r.next_attempt.map_or(0, |(_, at)| at);
                    r.next_attempt = v.parse().ok().map(|n| (n, at));
                }
                "next_at" => {
                    let n = r.next_attempt.map_or(0, |(n, _)| n);
                    r.next_attempt = v.parse().ok().map(|at| (n, at));
                }
                "m" => {
                    // The materialised run's numbers in one field: "<n> <sched_at> <created>
                    // <epoch>".
                    let mut p = v.split(' ').map(|x| x.parse::<i64>().unwrap_or(0));
                    let mut int = || p.next().unwrap_or(0);
                    r.number = int() as u64;
                    r.scheduled_at = int();
                    r.created_at = int();
                    r.epoch = int() as u64;
                }
                _ => {}
            }
        }
        seen_id.then_some(r)
    }

    /// Marks the record manual from its stored `manual` value: the requesting key's id, or
    /// [`MANUAL_BY_UNKNOWN`] when the record does not know it.
    pub fn set_manual(&mut self, stored: &str) {
        self.manual = true;
        self.requested_by =
            (!stored.is_empty() && stored != MANUAL_BY_UNKNOWN).then(|| stored.to_string());
    }
}

/// The stored `manual` value of a manual run whose requesting key is not known.
pub const MANUAL_BY_UNKNOWN: &str = "-";

impl RunRecord {
    /// The run's text log: lines derived from the record's fields, merged in time order with
    /// the `extra` lines stored beside it (redeliveries, duplicates, async reports).
    ///
    /// Lines are ordered by their timestamp only, and lines of one millisecond keep the order
    /// the steps happened in: the run's creation; each earlier attempt's start, then the
    /// stored lines about that attempt (its end, its redelivery), in the order they were
    /// stored; the last attempt's start and end; then the other stored lines (reports,
    /// duplicates), in the order they were stored.
    pub fn text_log(&self, extra: &[String]) -> String {
        let at = crate::time::format_instant;
        let created = if self.manual {
            format!(
                "{} run {} requested now (manual) by key {} at {}, fired by leader {} (epoch {})",
                at(self.created_at),
                self.number,
                self.requested_by.as_deref().unwrap_or("(unknown)"),
                at(self.scheduled_at),
                self.owner,
                self.epoch
            )
        } else {
            format!(
                "{} run {} scheduled for {} by leader {} (epoch {})",
                at(self.created_at),
                self.number,
                at(self.scheduled_at),
                self.owner,
                self.epoch
            )
        };
        let stored: Vec<String> = extra
            .iter()
            .map(
                |l| match l.strip_prefix('@').and_then(|r| r.split_once(' ')) {
                    Some((ms, rest)) if ms.parse::<i64>().is_ok() => {
                        format!("{} {rest}", at(ms.parse().unwrap_or(0)))
                    }
                    _ => l.clone(),
                },
            )
            .collect();
        // The stored lines about an attempt before the last one (`attempt <n> …`).
        let last = self.executed_at.map(|_| self.attempt);
        let earlier =
            |line: &str| attempt_of_line(line).filter(|n| last.is_none_or(|last| *n < last));
        let mut attempts: Vec<u32> = self.retried.iter().map(|a| a.attempt).collect();
        attempts.extend(stored.iter().filter_map(|l| earlier(l)));
        attempts.sort_unstable();
        attempts.dedup();
        let mut lines = vec![created];
        for n in attempts {
            // A retried attempt's end is a line of the stored log (its worker wrote it).
            lines.extend(
                self.retried
                    .iter()
                    .filter(|a| a.attempt == n)
                    .map(|a| format!("{} attempt {} started", at(a.executed_at), a.attempt)),
            );
            lines.extend(stored.iter().filter(|l| earlier(l) == Some(n)).cloned());
        }
        lines.extend(self.last_attempt_lines());
        lines.extend(stored.iter().filter(|l| earlier(l).is_none()).cloned());
        // A stable sort on the timestamp alone: lines of one millisecond keep their order.
        lines.sort_by(|a, b| timestamp_of(a).cmp(timestamp_of(b)));
        let mut out = lines.join("\n");
        out.push('\n');
        out
    }

    /// The lines of the last attempt: its start, and its end once it has one.
    fn last_attempt_lines(&self) -> Vec<String> {
        let at = crate::time::format_instant;
        let Some(exec) = self.executed_at else {
            return vec![];
        };
        let mut lines = vec![format!(
            "{} attempt {} started on {}",
            at(exec),
            self.attempt,
            self.worker.as_deref().unwrap_or("a worker")
        )];
        if self.state != RunState::Triggered && self.status != RunStatus::Scheduled {
            // An asynchronous run's line stays as the worker saw it (ACK_RECVD); the job's
            // report is a line of its own, so the log only ever grows.
            let state = if self.http_status == Some(202) {
                RunState::AckRecvd
            } else {
                self.state
            };
            let end = exec + self.duration_ms.unwrap_or(0) as i64;
            let http = self
                .http_status
                .map(|h| format!(" HTTP {h}"))
                .unwrap_or_default();
            let err = self
                .error
                .as_ref()
                .map(|e| format!(" ({e})"))
                .unwrap_or_default();
            lines.push(format!(
                "{} attempt {}: {}{}{} in {} ms",
                at(end),
                self.attempt,
                state,
                http,
                err,
                self.duration_ms.unwrap_or(0)
            ));
        }
        lines
    }
}

/// A text-log line's timestamp: its first word (RFC 3339 in one width, so that text order is
/// time order).
fn timestamp_of(line: &str) -> &str {
    line.split_once(' ').map_or(line, |(ts, _)| ts)
}

/// The attempt a text-log line is about, when it says so first (`<ts> attempt <n> …`).
fn attempt_of_line(line: &str) -> Option<u32> {
    let rest = line.split_once(' ')?.1.strip_prefix("attempt ")?;
    let end = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    rest[..end].parse().ok()
}

/// The deterministic id of the run of `schedule` at nominal instant `at_ms`: 32 upper-case hex
/// digits (the shape of SAP's run ids), the same for every publish of that fire.
pub fn run_id(schedule: &str, at_ms: i64) -> String {
    const NS: uuid::Uuid = uuid::Uuid::from_u128(0x6368_696d_6500_4a6f_6252_756e_4964_0001);
    uuid::Uuid::new_v5(&NS, format!("{schedule}|{at_ms}").as_bytes())
        .simple()
        .to_string()
        .to_uppercase()
}

/// The id of a manual run ("run now"): `random` (16 random bytes) as a version-4 UUID, in the
/// shape of [`run_id`] (32 upper-case hex digits). A scheduled run's id is a version-5 UUID, so
/// the two never collide.
pub fn manual_run_id(random: u128) -> String {
    uuid::Builder::from_random_bytes(random.to_le_bytes())
        .into_uuid()
        .simple()
        .to_string()
        .to_uppercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_ids_are_deterministic_and_distinct() {
        let a = run_id("s1", 1_000);
        assert_eq!(a, run_id("s1", 1_000));
        assert_eq!(a.len(), 32);
        assert!(a
            .chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_lowercase()));
        assert_ne!(a, run_id("s1", 2_000));
        assert_ne!(a, run_id("s2", 1_000));
    }

    #[test]
    fn manual_run_ids_have_the_shape_of_run_ids_and_never_their_version() {
        let m = manual_run_id(0x0123_4567_89ab_cdef_0123_4567_89ab_cdef);
        assert_eq!(m.len(), 32);
        assert!(m
            .chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_lowercase()));
        assert_ne!(m, manual_run_id(1));
        // The UUID's version digit: 4 (random) for a manual run, 5 for a scheduled one.
        assert_eq!(&m[12..13], "4");
        assert_eq!(&run_id("s1", 1_000)[12..13], "5");
    }

    #[test]
    fn a_manual_record_says_so_and_names_its_key_in_its_log() {
        let r = RunRecord::from_fields(
            "t",
            &fields(&[
                ("id", "R"),
                ("job", "1"),
                ("status", "SCHEDULED"),
                ("state", "SCHEDULED"),
                ("owner", "l"),
                ("manual", "k1"),
                ("m", "7 1000 1005 2"),
            ]),
        )
        .unwrap();
        assert!(r.manual);
        assert_eq!(r.requested_by.as_deref(), Some("k1"));
        let log = r.text_log(&[]);
        assert!(
            log.starts_with("1970-01-01T00:00:01.005Z run 7 requested now (manual) by key k1"),
            "{log}"
        );
        let mut unknown = r.clone();
        unknown.set_manual(MANUAL_BY_UNKNOWN);
        assert_eq!((unknown.manual, unknown.requested_by), (true, None));
    }

    /// A completed run of attempt `attempt`, created, started and ended in one millisecond.
    fn one_millisecond_run(attempt: &str) -> RunRecord {
        RunRecord::from_fields(
            "t",
            &fields(&[
                ("id", "R"),
                ("job", "1"),
                ("status", "COMPLETED"),
                ("state", "SUCCESS"),
                ("owner", "l"),
                ("m", "3 1000 1000 1"),
                ("exec_at", "1000"),
                ("dur", "0"),
                ("http", "200"),
                ("outcome", "success"),
                ("attempt", attempt),
                ("worker", "w2"),
            ]),
        )
        .unwrap()
    }

    /// The lines of a text log without their timestamps.
    fn steps(log: &str) -> Vec<&str> {
        log.lines().map(|l| l.split_once(' ').unwrap().1).collect()
    }

    #[test]
    fn lines_of_one_millisecond_keep_the_order_of_their_steps() {
        let ts = "1970-01-01T00:00:01.000Z";
        let r = one_millisecond_run("2");
        let extra = [
            format!("{ts} duplicate delivery to worker w3 ignored: the run already has its result"),
            "@1000 attempt 1 started on w1".to_string(),
            format!("{ts} attempt 1 did not finish; run redelivered to worker w2"),
            format!("{ts} duplicate delivery to worker w1 ignored: the run already has its result"),
        ];
        assert_eq!(
            steps(&r.text_log(&extra)),
            [
                "run 3 scheduled for 1970-01-01T00:00:01.000Z by leader l (epoch 1)",
                "attempt 1 started on w1",
                "attempt 1 did not finish; run redelivered to worker w2",
                "attempt 2 started on w2",
                "attempt 2: SUCCESS HTTP 200 in 0 ms",
                "duplicate delivery to worker w3 ignored: the run already has its result",
                "duplicate delivery to worker w1 ignored: the run already has its result",
            ]
        );
        // Lines are only ordered by time: a later line stored first comes after.
        let later = ["1970-01-01T00:00:02.000Z job reported SUCCESS".to_string()];
        let log = r.text_log(&later);
        assert!(log.ends_with("job reported SUCCESS\n"), "{log}");
    }

    #[test]
    fn a_retried_attempt_ends_before_the_next_one_starts_in_one_millisecond() {
        let mut r = one_millisecond_run("2");
        r.retried = vec![Attempt {
            attempt: 1,
            executed_at: 1000,
            duration_ms: 0,
            http_status: Some(500),
            outcome: Outcome::Failure,
            error: "endpoint returned status code 500".into(),
            delay_ms: 0,
            timing: None,
            failure_reason: None,
        }];
        let extra =
            ["1970-01-01T00:00:01.000Z attempt 1 failed (HTTP 500); attempt 2 at once".into()];
        assert_eq!(
            steps(&r.text_log(&extra))[1..],
            [
                "attempt 1 started",
                "attempt 1 failed (HTTP 500); attempt 2 at once",
                "attempt 2 started on w2",
                "attempt 2: SUCCESS HTTP 200 in 0 ms",
            ]
        );
    }

    fn fields(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn a_record_reads_its_numbers_from_one_field_or_from_separate_ones() {
        let packed = RunRecord::from_fields(
            "acme",
            &fields(&[
                ("id", "R1"),
                ("job", "7"),
                ("sched", "s1"),
                ("owner", "leader one"),
                ("m", "12 1000 990 3"),
            ]),
        )
        .unwrap();
        // Records written before the numbers shared a field.
        let separate = RunRecord::from_fields(
            "acme",
            &fields(&[
                ("id", "R1"),
                ("tenant", "acme"),
                ("job", "7"),
                ("sched", "s1"),
                ("n", "12"),
                ("sched_at", "1000"),
                ("created", "990"),
                ("epoch", "3"),
                ("owner", "leader one"),
            ]),
        )
        .unwrap();
        assert_eq!(packed, separate);
        assert_eq!(
            (packed.number, packed.scheduled_at, packed.created_at),
            (12, 1000, 990)
        );
        assert_eq!(
            (packed.epoch, packed.tenant.as_str(), packed.owner.as_str()),
            (3, "acme", "leader one")
        );
    }
}
