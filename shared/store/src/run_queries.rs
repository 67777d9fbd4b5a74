//! Reading runs: the run-log query engine ([`RunQuery`] → [`RunPage`], `runs_query.lua` over a
//! scope's unfinished runs and one of its run streams), a schedule's pages, one run by id or
//! by number (`run_get.lua`), and the two logs beside the run log: a schedule's events and
//! the tenant's audit trail of configuration changes (with their appends).

use crate::record::record_of;
use crate::{template_args, Result, Store, StoreError, OUTCOMES};
use chime_core::model::RunRecord;
use redis::{AsyncCommands, Script};
use std::sync::LazyLock;

static RUNS_QUERY: LazyLock<Script> = crate::query_script!("runs_query.lua");
static RUN_GET: LazyLock<Script> = crate::script!("run_get.lua");

/// Past any stream's length: larger skips and sizes are clamped to it.
const MAX_SKIP: u64 = 1 << 40;

/// Entries a schedule's event log keeps (about).
const SCHEDULE_EVENTS_KEPT: u64 = 1000;
/// Entries the tenant's audit trail keeps (about).
const ACTIONS_KEPT: u64 = 100_000;
/// Entries of the audit trail read per round trip while looking for a job's.
const ACTIONS_PER_READ: usize = 1000;

/// Which runs a query reads.
#[derive(Clone, Debug, PartialEq)]
pub enum Scope {
    Schedule(String),
    Job(u64),
    Tenant,
}

/// The order of a run page.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Order {
    NewestFirst,
    OldestFirst,
}

impl Order {
    /// The scripts' name of the order.
    fn arg(self) -> &'static str {
        match self {
            Order::NewestFirst => "desc",
            Order::OldestFirst => "asc",
        }
    }
}

/// One question to the run-log query engine; every dialect builds one of these.
#[derive(Clone, Debug)]
pub struct RunQuery {
    pub tenant: String,
    pub scope: Scope,
    /// Keep runs with one of these outcomes (`success`, `failure`, `error`, `timeout`); empty
    /// keeps every run, finished or not.
    pub outcomes: Vec<String>,
    /// Time bounds (ms, inclusive) on the run's place in the log: when it finished, or, not
    /// finished yet, when it was created (its stream id's instant, [`Store::run_stream_id`]).
    pub from_ms: Option<i64>,
    pub to_ms: Option<i64>,
    pub order: Order,
    /// Start after this run (its id: cursor paging), in the query's order.
    pub after: Option<String>,
    pub skip: u64,
    pub size: u64,
    /// Count every match (the total); costs a walk of the range when filtered.
    pub count: bool,
}

impl RunQuery {
    pub fn new(tenant: &str, scope: Scope) -> RunQuery {
        RunQuery {
            tenant: tenant.to_string(),
            scope,
            outcomes: vec![],
            from_ms: None,
            to_ms: None,
            order: Order::NewestFirst,
            after: None,
            skip: 0,
            size: 10,
            count: true,
        }
    }
}

/// One page of runs: (stream id, record), in the query's order.
#[derive(Clone, Debug)]
pub struct RunPage {
    pub total: Option<u64>,
    pub has_more: bool,
    pub runs: Vec<(String, RunRecord)>,
}

/// The audit trail's action of a schedule the service deactivated because it has no instant
/// left to fire at (a one-time schedule that ran, a recurring one past its end or its job's,
/// a cron with no future instant), in SAP's wording.
pub const DEACTIVATION_ON_COMPLETION: &str = "DEACTIVATION_ON_COMPLETION";

/// The audit trail's action of a schedule the service deactivated because its endpoint has
/// been unreachable (no run's call got a connection) for longer than the installation allows
/// (SAP: more than 10 days); chime's name, after SAP's.
pub const DEACTIVATION_ON_UNREACHABLE: &str = "DEACTIVATION_ON_UNREACHABLE";

/// The audit trail's action of an inactive one-time schedule the service removed because it
/// has not run for longer than the installation allows (SAP: 30 days); chime's name, after
/// SAP's.
pub const DELETION_ON_EXPIRY: &str = "DELETION_ON_EXPIRY";

/// The actor of the audit trail's entries the service makes itself (not an API key).
pub const SERVICE_ACTOR: &str = "scheduler";

/// The job id of the audit trail's tenant-wide entries (a change of a global parameter): no
/// job has it (a tenant's job ids start at 1).
pub const TENANT_WIDE: u64 = 0;

/// An entry of the audit trail (SAP `actionLogs`).
#[derive(Clone, Debug, PartialEq)]
pub struct ActionLog {
    /// The job changed, or [`TENANT_WIDE`].
    pub job_id: u64,
    pub schedule_id: Option<String>,
    pub action: String,
    pub detail: String,
    /// The API key that made the change.
    pub actor: String,
}

impl Store {
    /// Runs one [`RunQuery`] through the query engine (`runs_query.lua`): the scope's
    /// unfinished runs, then its finished runs from positions (a schedule's, or a job's of the
    /// outcomes kept; a job with holes walks its runs stream) or from the tenant's runs
    /// stream. A cursor that names no run of the log is [`StoreError::UnknownCursor`].
    pub async fn query_runs(&self, q: &RunQuery) -> Result<RunPage> {
        let k = &self.keys;
        let t = &q.tenant;
        let mut outcomes: Vec<usize> = q
            .outcomes
            .iter()
            .filter_map(|o| OUTCOMES.iter().position(|k| k == o))
            .collect();
        outcomes.sort_unstable();
        outcomes.dedup();
        if !q.outcomes.is_empty() && outcomes.is_empty() {
            return Ok(RunPage {
                total: Some(0),
                has_more: false,
                runs: vec![],
            });
        }
        // Every outcome is every finished run: the positions themselves.
        let keeps = if q.outcomes.is_empty() {
            String::new()
        } else if outcomes.len() == OUTCOMES.len() {
            "*".to_string()
        } else {
            let codes: Vec<String> = outcomes.iter().map(|i| (i + 1).to_string()).collect();
            codes.join(",")
        };
        let (scope, job, sched) = match &q.scope {
            Scope::Schedule(s) => ("s", String::new(), s.as_str()),
            Scope::Job(j) => ("j", j.to_string(), ""),
            Scope::Tenant => ("t", String::new(), ""),
        };
        let mut inv = RUNS_QUERY.prepare_invoke();
        // The cursor's run-id bucket (any bucket when there is no cursor).
        let (bucket, field) = k.run_id_slot(t, q.after.as_deref().unwrap_or(""));
        inv.key(k.tenant(t))
            .key(bucket)
            .key(k.live(t))
            .key(k.tenant_runs(t))
            .key(k.schedule_jobs(t));
        inv.arg(scope)
            .arg(job)
            .arg(sched)
            // No run is older than the epoch: bounds before it are the epoch (stream ids and
            // positions cannot be negative).
            .arg(q.from_ms.map(|m| m.max(0).to_string()).unwrap_or_default())
            .arg(q.to_ms.map(|m| m.max(0).to_string()).unwrap_or_default())
            .arg(q.order.arg())
            .arg(q.after.as_deref().unwrap_or(""))
            .arg(q.skip.min(MAX_SKIP))
            .arg(q.size.min(MAX_SKIP))
            .arg(keeps)
            .arg(if q.count { "1" } else { "0" })
            .arg(self.retention.ttl_ms);
        template_args(&mut inv, [k.run_template(t)]);
        let job = k.job_template(t);
        inv.arg(&job.prefix)
            .arg(&job.suffix)
            .arg(k.job_runs_template(t).suffix);
        let positions = k.schedule_runs_template(t);
        inv.arg(&positions.prefix)
            .arg(&positions.suffix)
            .arg(k.job_positions_template(t).suffix);
        for o in OUTCOMES {
            inv.arg(k.job_outcome_template(t, o).suffix);
        }
        inv.arg(field);
        let raw: Vec<redis::Value> = match inv.invoke_async(&mut self.c()).await {
            Ok(raw) => raw,
            Err(e) if e.code() == Some("NOCURSOR") => return Err(StoreError::UnknownCursor),
            Err(e) => return Err(e.into()),
        };
        page_of(t, raw)
    }

    /// A page of a schedule's runs (newest first when `desc`) and the log's total: the query
    /// engine with no filter.
    pub async fn schedule_runs_page(
        &self,
        tenant: &str,
        schedule: &str,
        offset: u64,
        size: u64,
        desc: bool,
    ) -> Result<(u64, Vec<RunRecord>)> {
        let mut q = RunQuery::new(tenant, Scope::Schedule(schedule.to_string()));
        q.skip = offset;
        q.size = size;
        q.order = if desc {
            Order::NewestFirst
        } else {
            Order::OldestFirst
        };
        let page = self.query_runs(&q).await?;
        Ok((
            page.total.unwrap_or(0),
            page.runs.into_iter().map(|(_, r)| r).collect(),
        ))
    }

    /// Completes each run's text log with the lines stored for it (an earlier attempt's end,
    /// a duplicate delivery), in one pipeline: the records of a query carry their derived log
    /// only.
    pub async fn with_logs<'a>(
        &self,
        tenant: &str,
        runs: impl IntoIterator<Item = &'a mut RunRecord>,
    ) -> Result<()> {
        let mut runs: Vec<&mut RunRecord> = runs.into_iter().collect();
        if runs.is_empty() {
            return Ok(());
        }
        let mut pipe = redis::pipe();
        for r in runs.iter() {
            pipe.lrange(self.keys.run_log(tenant, &r.run_id), 0, -1);
        }
        let extra: Vec<Vec<String>> = pipe.query_async(&mut self.c()).await?;
        for (r, lines) in runs.iter_mut().zip(extra) {
            r.log = r.text_log(&lines);
        }
        Ok(())
    }

    /// When run `run` (of `job`'s schedule `schedule`) was acknowledged asynchronously (ms),
    /// while it waits for its job's report; its deadline is this plus the tenant's
    /// `ASYNC_EXEC_TIMEOUT`.
    pub async fn async_acknowledged_at(
        &self,
        tenant: &str,
        (job, schedule, run): (u64, &str, &str),
    ) -> Result<Option<i64>> {
        let member = format!("{job}|{schedule}|{run}");
        let score: Option<f64> = self
            .c()
            .zscore(self.keys.async_runs(tenant), member)
            .await?;
        Ok(score.map(|s| s as i64))
    }

    /// One run with its complete text log.
    pub async fn run(&self, tenant: &str, run: &str) -> Result<Option<RunRecord>> {
        let k = &self.keys;
        let job = k.job_template(tenant);
        let (fields, extra): (Vec<String>, Vec<String>) = RUN_GET
            .key(k.run(tenant, run))
            .key(k.run_id_slot(tenant, run).0)
            .key(k.tenant_runs(tenant))
            .key(k.run_log(tenant, run))
            .key(k.tenant(tenant))
            .arg(k.run_id_slot(tenant, run).1)
            .arg(&job.prefix)
            .arg(&job.suffix)
            .arg(k.job_runs_template(tenant).suffix)
            .arg(self.retention.ttl_ms)
            .invoke_async(&mut self.c())
            .await?;
        Ok(record_of(tenant, &pairs(fields)).map(|mut r| {
            r.log = r.text_log(&extra);
            r
        }))
    }

    /// The run id of a job's run number (Huawei's `build_no`).
    pub async fn run_by_number(
        &self,
        tenant: &str,
        job: u64,
        number: u64,
    ) -> Result<Option<String>> {
        let (bucket, field) = self.keys.job_build(tenant, job, number);
        Ok(self.c().hget(bucket, field).await?)
    }

    /// The stream id of a run (its place in the log's time order: when it finished, or, not
    /// finished yet, when it was created), for date bounds.
    pub async fn run_stream_id(&self, tenant: &str, run: &str) -> Result<Option<String>> {
        let (bucket, field) = self.keys.run_id_slot(tenant, run);
        let state: Option<String> = self.c().hget(bucket, field).await?;
        match state {
            Some(s) if s.is_empty() => Ok(self.c().hget(self.keys.run(tenant, run), "xid").await?),
            other => Ok(other),
        }
    }

    /// The most a finished run of the job has finished (its stream id's instant) before or
    /// after its execution started (ms; 0 when none has finished): a query bounded by
    /// execution time reads its runs that finished that much beyond its bounds.
    pub async fn job_lag(&self, tenant: &str, job: u64) -> Result<i64> {
        let lag: Option<i64> = self.c().hget(self.keys.job(tenant, job), "lag").await?;
        Ok(lag.unwrap_or(0).max(0))
    }

    /// The schedule's event log, newest first, at most `limit` entries: (ms, level, message).
    pub async fn schedule_events(
        &self,
        tenant: &str,
        schedule: &str,
        limit: usize,
    ) -> Result<Vec<(i64, String, String)>> {
        // Each fire's "Schedule invoked" derives from the schedule's runs (one each, at the
        // instant it was created); the other events have their own stream.
        let events: redis::streams::StreamRangeReply = self
            .c()
            .xrevrange_count(self.keys.schedule_events(tenant, schedule), "+", "-", limit)
            .await?;
        let mut q = RunQuery::new(tenant, Scope::Schedule(schedule.to_string()));
        q.size = limit as u64;
        q.count = false;
        let fires = self.query_runs(&q).await?;
        let id_of = |id: &str| -> (i64, u64) {
            let mut it = id.split('-');
            let ms = it.next().and_then(|s| s.parse().ok()).unwrap_or(0);
            let seq = it.next().and_then(|s| s.parse().ok()).unwrap_or(0);
            (ms, seq)
        };
        let mut all: Vec<((i64, u64), String, String)> = events
            .ids
            .into_iter()
            // Marks of whether the schedule fires (no message) are for `fires`, not the log.
            .filter(|e| e.map.contains_key("m"))
            .map(|e| {
                let get = |f: &str| e.get::<String>(f).unwrap_or_default();
                (id_of(&e.id), get("l"), get("m"))
            })
            .chain(
                fires
                    .runs
                    .into_iter()
                    .map(|(_, r)| ((r.created_at, 0), "INFO".into(), "Schedule invoked".into())),
            )
            .collect();
        all.sort_by_key(|e| std::cmp::Reverse(e.0));
        all.truncate(limit);
        Ok(all.into_iter().map(|((ms, _), l, m)| (ms, l, m)).collect())
    }

    /// The `XADD` of an entry with `fields` to a schedule's event log (kept to the latest
    /// 1,000).
    fn schedule_event_cmd(
        &self,
        tenant: &str,
        schedule: &str,
        fields: &[(&str, String)],
    ) -> redis::Cmd {
        let mut cmd = redis::cmd("XADD");
        cmd.arg(self.keys.schedule_events(tenant, schedule))
            .arg("MAXLEN")
            .arg("~")
            .arg(SCHEDULE_EVENTS_KEPT)
            .arg("*");
        for (k, v) in fields {
            cmd.arg(*k).arg(v);
        }
        cmd
    }

    /// Appends an entry to a schedule's event log (kept to the latest 1,000).
    pub async fn schedule_event(
        &self,
        tenant: &str,
        schedule: &str,
        level: &str,
        message: &str,
    ) -> Result<()> {
        let fields = [("m", message.to_string()), ("l", level.to_string())];
        let _: String = self
            .schedule_event_cmd(tenant, schedule, &fields)
            .query_async(&mut self.c())
            .await?;
        Ok(())
    }

    /// Appends an entry to a schedule's event log that accounts for instants not fired (read
    /// back by [`Store::schedule_marks`]).
    pub async fn schedule_skip(
        &self,
        tenant: &str,
        schedule: &str,
        level: &str,
        message: &str,
        skip: &SkipSpan,
    ) -> Result<()> {
        let fields = [
            ("m", message.to_string()),
            ("l", level.to_string()),
            ("k", skip.reason.to_string()),
            ("a", skip.first.to_string()),
            ("b", skip.last.to_string()),
            ("n", skip.count.to_string()),
        ];
        let _: String = self
            .schedule_event_cmd(tenant, schedule, &fields)
            .query_async(&mut self.c())
            .await?;
        Ok(())
    }

    /// Notes in the event logs of `schedules` whether each fires from its instant (ms) on (a
    /// write of the API decided it: active, or inactive or with nothing left to fire), for
    /// [`Store::schedule_marks`].
    pub async fn schedule_firing(
        &self,
        tenant: &str,
        schedules: &[(&str, bool, i64)],
    ) -> Result<()> {
        if schedules.is_empty() {
            return Ok(());
        }
        let mut pipe = redis::pipe();
        for (schedule, firing, at) in schedules {
            let kind = if *firing { "firing" } else { "idle" };
            let fields = [("k", kind.to_string()), ("a", at.to_string())];
            pipe.add_command(self.schedule_event_cmd(tenant, schedule, &fields))
                .ignore();
        }
        pipe.query_async::<()>(&mut self.c()).await?;
        Ok(())
    }

    /// What a schedule's event log says of the instants it did not fire: the spans skipped
    /// and the points from which it was (not) firing, both newest entry first.
    pub async fn schedule_marks(&self, tenant: &str, schedule: &str) -> Result<ScheduleMarks> {
        let events: redis::streams::StreamRangeReply = self
            .c()
            .xrevrange_count(
                self.keys.schedule_events(tenant, schedule),
                "+",
                "-",
                SCHEDULE_EVENTS_KEPT,
            )
            .await?;
        let mut marks = ScheduleMarks::default();
        for e in &events.ids {
            let (Some(kind), Some(first)) = (e.get::<String>("k"), e.get::<i64>("a")) else {
                continue;
            };
            match kind.as_str() {
                "firing" => marks.firing.push((first, true)),
                "idle" => marks.firing.push((first, false)),
                reason => {
                    let (Some(reason), Some(last)) = (
                        SkipSpan::REASONS.iter().find(|r| **r == reason),
                        e.get::<i64>("b"),
                    ) else {
                        continue;
                    };
                    marks.skips.push(SkipSpan {
                        reason,
                        first,
                        last,
                        count: e.get("n").unwrap_or(0),
                    });
                }
            }
        }
        Ok(marks)
    }

    /// Appends to the tenant's audit trail of configuration changes.
    pub async fn record_action(&self, tenant: &str, a: &ActionLog) -> Result<()> {
        let _: String = redis::cmd("XADD")
            .arg(self.keys.actions(tenant))
            .arg("MAXLEN")
            .arg("~")
            .arg(ACTIONS_KEPT)
            .arg("*")
            .arg("j")
            .arg(a.job_id)
            .arg("s")
            .arg(a.schedule_id.as_deref().unwrap_or(""))
            .arg("a")
            .arg(&a.action)
            .arg("d")
            .arg(&a.detail)
            .arg("k")
            .arg(&a.actor)
            .query_async(&mut self.c())
            .await?;
        Ok(())
    }

    /// The audit trail of a job (and one of its schedules), newest first, at most `limit`.
    pub async fn action_logs(
        &self,
        tenant: &str,
        job: u64,
        schedule: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(i64, ActionLog)>> {
        let mut out = Vec::new();
        let mut hi = "+".to_string();
        let job_s = job.to_string();
        loop {
            let reply: redis::streams::StreamRangeReply = self
                .c()
                .xrevrange_count(self.keys.actions(tenant), &hi, "-", ACTIONS_PER_READ)
                .await?;
            let n = reply.ids.len();
            for e in &reply.ids {
                let get = |f: &str| e.get::<String>(f).unwrap_or_default();
                if get("j") != job_s || schedule.is_some_and(|s| get("s") != s) {
                    continue;
                }
                let ms =
                    e.id.split('-')
                        .next()
                        .and_then(|x| x.parse().ok())
                        .unwrap_or(0);
                let sched = get("s");
                out.push((
                    ms,
                    ActionLog {
                        job_id: job,
                        schedule_id: (!sched.is_empty()).then_some(sched),
                        action: get("a"),
                        detail: get("d"),
                        actor: get("k"),
                    },
                ));
                if out.len() >= limit {
                    return Ok(out);
                }
            }
            match reply.ids.last() {
                Some(last) if n == ACTIONS_PER_READ => hi = format!("({}", last.id),
                _ => return Ok(out),
            }
        }
    }
}

/// A query script's reply as a page: total (-1 when not counted), has_more (0/1), then a
/// stream id and an `HGETALL` field list per run.
fn page_of(tenant: &str, raw: Vec<redis::Value>) -> Result<RunPage> {
    let mut it = raw.into_iter();
    let total: i64 = it
        .next()
        .map(redis::from_redis_value)
        .transpose()?
        .unwrap_or(-1);
    let more: i64 = it
        .next()
        .map(redis::from_redis_value)
        .transpose()?
        .unwrap_or(0);
    let mut runs = Vec::new();
    while let (Some(id), Some(rec)) = (it.next(), it.next()) {
        let id: String = redis::from_redis_value(id)?;
        if let Some(r) = record_of(tenant, &pairs(redis::from_redis_value(rec)?)) {
            runs.push((id, r));
        }
    }
    Ok(RunPage {
        total: (total >= 0).then_some(total as u64),
        has_more: more == 1,
        runs,
    })
}

/// A flat field list as (name, value) pairs.
pub(crate) fn pairs(flat: Vec<String>) -> Vec<(String, String)> {
    let mut it = flat.into_iter();
    let mut out = Vec::new();
    while let (Some(k), Some(v)) = (it.next(), it.next()) {
        out.push((k, v));
    }
    out
}

/// Instants of a schedule not fired, from the first to the last, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SkipSpan {
    /// One of [`SkipSpan::REASONS`].
    pub reason: &'static str,
    pub first: i64,
    pub last: i64,
    pub count: u64,
}

impl SkipSpan {
    /// The reasons a span is recorded for.
    pub const REASONS: &'static [&'static str] =
        &["misfire", "inactive", "overlap", "outsideWindow", "deleted"];
}

/// What a schedule's event log says of the instants it did not fire.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ScheduleMarks {
    /// Spans skipped, newest entry first.
    pub skips: Vec<SkipSpan>,
    /// (instant, whether it fires from then on), newest first.
    pub firing: Vec<(i64, bool)>,
}

impl ScheduleMarks {
    /// Whether the schedule was firing at `at`, if a mark says so.
    pub fn firing_at(&self, at: i64) -> Option<bool> {
        self.firing
            .iter()
            .filter(|(from, _)| *from <= at)
            .max_by_key(|(from, _)| *from)
            .map(|(_, firing)| *firing)
    }
}
