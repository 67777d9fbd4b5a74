//! Run records as runs progress: the leader materializes a fire's record before publishing
//! it, a worker marks it started and records its result, an asynchronous job reports on it.
//! The hot path: steps of many runs go as one script call per tenant (`runs.lua`), and each
//! step's answer comes back typed ([`StepAnswer`]). An asynchronous report, the asynchronous
//! deadline and the retention trim are operations of the same script.

use crate::keys::KeyTemplate;
use crate::record::lifecycle_code;
use crate::{
    invoke_two_at_a_time, template_args, Admission, Result, Store, StoreError, MAX_PER_CALL,
    OUTCOMES,
};
use chime_core::model::RunMessage;
use chime_core::run::{
    Outcome, RunState, RunStatus, ASYNC_DEADLINE, ASYNC_EXEC_TIMEOUT_DEFAULT_SECS,
};
use redis::{Script, ScriptInvocation};
use std::sync::LazyLock;

static RUNS: LazyLock<Script> = crate::script_with_notes!("runs.lua");

/// One step of a run's record, for [`Store::record_steps`].
#[derive(Clone, Copy, Debug)]
pub enum RunStep<'a> {
    /// The leader creates the record before publishing the fire (refused when inactive, unless
    /// the run is manual: [`RunMessage::requested_by`]).
    Materialize,
    /// A worker takes a delivery and marks the run RUNNING/TRIGGERED, as attempt one more than
    /// the record says, or at least the given one (a redelivery of a run whose first attempt
    /// died before it was marked).
    Start(u32),
    /// A worker checks, writing nothing, that a fresh message's run may be called at once: its
    /// job and schedule exist and it has no result.
    Check,
    /// A worker records the run's result.
    Complete(&'a RunResult),
    /// A worker records a failed attempt whose retry it is about to send through a delay
    /// queue: the run waits, unfinished, for its next attempt.
    Retry(&'a Retrying),
}

/// A failed attempt and the retry to come, for [`RunStep::Retry`].
#[derive(Clone, Debug)]
pub struct Retrying {
    /// The failed attempt, as the record keeps it.
    pub failed: chime_core::model::Attempt,
    /// When the next attempt is due (ms).
    pub next_at: i64,
    /// The run's text while it waits.
    pub run_text: String,
    /// The line for the run's text log.
    pub line: String,
}

/// The result a worker records for a run.
#[derive(Clone, Debug)]
pub struct RunResult {
    pub status: RunStatus,
    pub state: RunState,
    /// `None` while the run is not finished (an asynchronous job's 202).
    pub outcome: Option<Outcome>,
    pub http_status: Option<u16>,
    pub run_text: String,
    pub body: Option<String>,
    pub error: Option<String>,
    pub duration_ms: u64,
    pub executed_at: i64,
    /// An ERROR entry for the schedule's event log (e.g. the target was blocked).
    pub event: Option<String>,
    /// The call's timing split.
    pub timing: chime_core::timing::Timing,
    /// Why the run failed (finished runs only).
    pub failure_reason: Option<chime_core::timing::FailureReason>,
}

/// What [`RunStep::Materialize`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Materialized {
    /// The record was created, with the job's next run number.
    Created,
    /// The record existed, unfinished (the step is idempotent on the run id).
    Existed,
    /// The run existed and has finished: it is not to be published again.
    Finished,
    /// The job or the schedule is gone: nothing to fire.
    Gone,
    /// The job or the schedule is inactive: nothing to fire.
    Inactive,
    /// Not created: the tenant has its cap of runs in flight. The leader fires it later.
    Busy,
    /// Not created: its job's `concurrencyPolicy` is `forbid` and the schedule's previous run
    /// is in progress. The fire is skipped.
    Overlap,
}

/// What [`RunStep::Start`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Started {
    /// Execute the run, as this attempt (1 for a first delivery).
    Attempt(u32),
    /// The run already has its result (completed, or acknowledged asynchronously): do not run
    /// it again.
    AlreadyRecorded,
    /// The run's job or schedule is gone.
    Gone,
    /// The run failed an earlier attempt and its retry, attempt `attempt`, is due at `at`
    /// (ms): this delivery is that attempt's message again (its worker died after recording the retry,
    /// perhaps before sending it), so the retry is to be sent (again) and nothing called.
    Waiting { attempt: u32, at: i64 },
}

/// What [`RunStep::Retry`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Retried {
    /// Recorded: send the retry.
    Scheduled,
    /// The attempt's retry was recorded already (a duplicate result), or the run has its
    /// result: send nothing.
    AlreadyRecorded,
    /// The run's job is gone.
    Gone,
}

/// What [`RunStep::Check`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Checked {
    /// Call it.
    Call,
    /// The run already has its result.
    AlreadyRecorded,
    /// The run's job or schedule is gone (its unfinished record is forgotten).
    Gone,
}

/// What [`RunStep::Complete`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Completed {
    Recorded,
    /// The run already had its result, which is written once.
    AlreadyRecorded,
    /// The run's job is gone.
    Gone,
}

/// The answer to one [`RunStep`], of the step's kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StepAnswer {
    Materialized(Materialized),
    Started(Started),
    Checked(Checked),
    Completed(Completed),
    Retried(Retried),
}

impl StepAnswer {
    /// Reads the run script's code for `step` (see `runs.lua`).
    fn of(step: &RunStep<'_>, code: i64) -> Result<StepAnswer> {
        let answer = match (step, code) {
            (RunStep::Materialize, 1) => StepAnswer::Materialized(Materialized::Created),
            (RunStep::Materialize, 0) => StepAnswer::Materialized(Materialized::Existed),
            (RunStep::Materialize, -1) => StepAnswer::Materialized(Materialized::Gone),
            (RunStep::Materialize, -2) => StepAnswer::Materialized(Materialized::Inactive),
            (RunStep::Materialize, -3) => StepAnswer::Materialized(Materialized::Finished),
            (RunStep::Materialize, -4) => StepAnswer::Materialized(Materialized::Busy),
            (RunStep::Materialize, -5) => StepAnswer::Materialized(Materialized::Overlap),
            (RunStep::Start(_), 0) => StepAnswer::Started(Started::AlreadyRecorded),
            (RunStep::Start(_), -1) => StepAnswer::Started(Started::Gone),
            (RunStep::Start(_), n) if n <= WAITING_BELOW => StepAnswer::Started(Started::Waiting {
                attempt: ((-n) % 16) as u32,
                at: (-n) / 16,
            }),
            (RunStep::Start(_), n) if n >= 1 => match u32::try_from(n) {
                Ok(n) => StepAnswer::Started(Started::Attempt(n)),
                Err(_) => return Err(bad_code(step, code)),
            },
            (RunStep::Check, 1) => StepAnswer::Checked(Checked::Call),
            (RunStep::Check, 0) => StepAnswer::Checked(Checked::AlreadyRecorded),
            (RunStep::Check, -1) => StepAnswer::Checked(Checked::Gone),
            (RunStep::Complete(_), 1) => StepAnswer::Completed(Completed::Recorded),
            (RunStep::Complete(_), 0) => StepAnswer::Completed(Completed::AlreadyRecorded),
            (RunStep::Complete(_), -1) => StepAnswer::Completed(Completed::Gone),
            (RunStep::Retry(_), 1) => StepAnswer::Retried(Retried::Scheduled),
            (RunStep::Retry(_), 0) => StepAnswer::Retried(Retried::AlreadyRecorded),
            (RunStep::Retry(_), -1) => StepAnswer::Retried(Retried::Gone),
            _ => return Err(bad_code(step, code)),
        };
        Ok(answer)
    }
}

/// The lifecycle code of a run a newer fire cancelled (`concurrencyPolicy: replace`):
/// `COMPLETED`/`REQUEST_ERROR`, outcome `error`.
static CANCELLED: LazyLock<u32> = LazyLock::new(|| {
    lifecycle_code(
        RunStatus::Completed,
        RunState::RequestError,
        Some(Outcome::Error),
    )
});

/// A start code at or below this is the retry a run waits for, negated: its due instant (ms)
/// times 16 plus its attempt's number (`runs.lua`).
const WAITING_BELOW: i64 = -1_000_000;

fn bad_code(step: &RunStep<'_>, code: i64) -> StoreError {
    StoreError::Corrupt(format!(
        "the run script answered {code} to a {} step",
        step.op()
    ))
}

impl RunStep<'_> {
    /// The script's name of the step.
    fn op(&self) -> &'static str {
        match self {
            RunStep::Materialize => "m",
            RunStep::Start(_) => "s",
            RunStep::Check => "e",
            RunStep::Complete(_) => "c",
            RunStep::Retry(_) => "r",
        }
    }
}

/// What an asynchronous run report did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunUpdate {
    Updated,
    /// The run already has its final result, which is written once (by an earlier report or
    /// by the asynchronous deadline); the late report is noted in the run's log.
    AlreadyCompleted,
    NoSuchRun,
}

impl Store {
    /// Applies record steps to many runs: one script call per tenant and up to
    /// [`MAX_PER_CALL`] runs, two calls in flight at a time. Returns each step's answer, in
    /// order. Each step is idempotent on the run id, so a failed call can be retried whole.
    pub async fn record_steps(
        &self,
        steps: &[(&RunMessage, RunStep<'_>)],
        now: i64,
        worker: &str,
    ) -> Result<Vec<StepAnswer>> {
        let codes = self.run_steps(steps, now, worker).await?;
        steps
            .iter()
            .zip(codes)
            .map(|((_, step), code)| StepAnswer::of(step, code))
            .collect()
    }

    /// [`Store::record_steps`] with the script's codes as they are, in order:
    ///
    /// - materialize: 1 created, 0 existed, -1 job or schedule gone, -2 job or schedule inactive,
    ///   -3 existed finished, -4 the tenant has its cap of runs in flight;
    /// - start: the attempt number to execute, 0 when the run already has its result, -1 when
    ///   its job or schedule is gone, minus the due instant of the retry it waits for (a
    ///   delivery of an earlier attempt's message);
    /// - check: 1 call it, 0 the run already has its result, -1 its job or schedule is gone;
    /// - complete: 1 recorded, 0 already recorded, -1 job gone;
    /// - retry: 1 recorded, 0 already recorded (or the run finished), -1 job gone.
    async fn run_steps(
        &self,
        steps: &[(&RunMessage, RunStep<'_>)],
        now: i64,
        worker: &str,
    ) -> Result<Vec<i64>> {
        let calls = calls_of(steps);
        let now_txt = chime_core::time::format_instant(now);
        let invocations: Vec<_> = calls
            .iter()
            .map(|call| {
                let tenant = &steps[call[0]].0.tenant;
                let mut inv = self.runs_invocation(tenant, now, &now_txt, worker);
                inv.arg("p").arg(*CANCELLED).arg(Admission::SLACK_MS);
                let cap = self.admission.cap();
                if cap > 0
                    && call
                        .iter()
                        .any(|&i| matches!(steps[i].1, RunStep::Materialize))
                {
                    inv.arg("a").arg(cap).arg(Admission::SLACK_MS);
                }
                let timeout = self.admission.default_timeout_ms;
                for &i in call {
                    step_args(&mut inv, steps[i].0, &steps[i].1, timeout);
                }
                (inv, self.c())
            })
            .collect();
        let replies = invoke_two_at_a_time(invocations).await;
        let mut codes = vec![0; steps.len()];
        for (call, reply) in calls.iter().zip(replies) {
            let reply = reply?;
            if reply.len() != call.len() {
                return Err(StoreError::Corrupt(format!(
                    "run script answered {} codes for {} runs",
                    reply.len(),
                    call.len()
                )));
            }
            for (&i, code) in call.iter().zip(reply) {
                codes[i] = code;
            }
        }
        Ok(codes)
    }

    /// A call of `runs.lua` for the tenant's runs, with everything but the runs: the clock,
    /// the retention, the worker and the templates of the keys the runs name, by family (a
    /// family's prefix once, then each key's suffix: fewer arguments for every call).
    fn runs_invocation(
        &self,
        tenant: &str,
        now: i64,
        now_txt: &str,
        worker: &str,
    ) -> ScriptInvocation<'static> {
        let k = &self.keys;
        let mut inv = RUNS.prepare_invoke();
        inv.key(k.tenant(tenant))
            .key(k.tenant_runs(tenant))
            .key(k.live(tenant))
            .key(k.in_flight(tenant))
            .key(k.async_runs(tenant))
            .key(k.notes_due(tenant));
        for o in OUTCOMES {
            inv.key(k.tenant_outcome_runs(tenant, o));
        }
        inv.key(k.unreachable(tenant));
        inv.arg(now)
            .arg(now_txt)
            .arg(self.retention.per_stream)
            .arg(self.retention.ttl_ms)
            .arg(worker)
            .arg(k.run_ids_template(tenant).prefix);
        family_args(
            &mut inv,
            [k.run_template(tenant), k.run_log_template(tenant)],
        );
        let job = family_args(
            &mut inv,
            [
                k.job_template(tenant),
                k.schedules_template(tenant),
                k.job_builds_template(tenant),
                k.job_runs_template(tenant),
                k.job_done_template(tenant),
                k.job_tails_template(tenant),
                k.job_positions_template(tenant),
            ],
        );
        family_args(
            &mut inv,
            [
                k.schedule_runs_template(tenant),
                k.schedule_events_template(tenant),
            ],
        );
        inv.arg(OUTCOMES.len());
        for o in OUTCOMES {
            let t = k.job_outcome_template(tenant, o);
            debug_assert_eq!(t.prefix, job, "an outcome index is a job's key");
            inv.arg(o).arg(t.suffix);
        }
        template_args(
            &mut inv,
            [k.note_template(tenant), k.job_notes_template(tenant)],
        );
        inv
    }

    async fn record_step(
        &self,
        m: &RunMessage,
        step: RunStep<'_>,
        now: i64,
        worker: &str,
    ) -> Result<StepAnswer> {
        Ok(self.record_steps(&[(m, step)], now, worker).await?[0])
    }

    /// Creates the run record of a fire before it is published (idempotent on the run id).
    pub async fn materialize(&self, m: &RunMessage, now: i64) -> Result<Materialized> {
        match self.record_step(m, RunStep::Materialize, now, "").await? {
            StepAnswer::Materialized(a) => Ok(a),
            other => Err(mismatch("materialize", other)),
        }
    }

    /// Marks a delivered run RUNNING/TRIGGERED: the attempt to execute, unless the run already
    /// has its result or its job is gone.
    pub async fn run_start(&self, m: &RunMessage, now: i64, worker: &str) -> Result<Started> {
        match self.record_step(m, RunStep::Start(1), now, worker).await? {
            StepAnswer::Started(a) => Ok(a),
            other => Err(mismatch("start", other)),
        }
    }

    /// Whether run `run` of `tenant` was cancelled while it ran (a newer fire of its
    /// schedule replaced it), or has finished elsewhere meanwhile: its call is to be
    /// abandoned.
    pub async fn run_cancelled(&self, tenant: &str, run: &str) -> Result<bool> {
        let key = self.keys.run(tenant, run);
        let (exists, cancel): (bool, Option<String>) = redis::pipe()
            .exists(&key)
            .hget(&key, "cancel")
            .query_async(&mut self.c())
            .await?;
        Ok(!exists || cancel.is_some())
    }

    /// Records a run's result once.
    pub async fn run_complete(
        &self,
        m: &RunMessage,
        now: i64,
        worker: &str,
        r: &RunResult,
    ) -> Result<Completed> {
        match self
            .record_step(m, RunStep::Complete(r), now, worker)
            .await?
        {
            StepAnswer::Completed(a) => Ok(a),
            other => Err(mismatch("complete", other)),
        }
    }

    /// An asynchronous job's report on its run. `run` is (job id, schedule id, run id).
    pub async fn run_update(
        &self,
        tenant: &str,
        run: (u64, &str, &str),
        success: bool,
        message: &str,
        now: i64,
    ) -> Result<RunUpdate> {
        let (job, schedule, run) = run;
        let (state, outcome) = if success {
            (RunState::Success, Outcome::Success)
        } else {
            (RunState::Error, Outcome::Failure)
        };
        let now_txt = chime_core::time::format_instant(now);
        let mut inv = self.runs_invocation(tenant, now, &now_txt, "");
        inv.arg("u")
            .arg(run)
            .arg(job)
            .arg(schedule)
            .arg(if success { "true" } else { "false" })
            .arg(message)
            .arg(lifecycle_code(RunStatus::Completed, state, Some(outcome)));
        let codes: Vec<i64> = inv.invoke_async(&mut self.c()).await?;
        Ok(match codes.first() {
            Some(1) => RunUpdate::Updated,
            Some(0) => RunUpdate::AlreadyCompleted,
            _ => RunUpdate::NoSuchRun,
        })
    }

    /// The asynchronous deadline at `now` (ms, Redis's clock): the tenant's runs acknowledged
    /// with 202 before `now` minus its `ASYNC_EXEC_TIMEOUT` (its value now) and not reported
    /// become `COMPLETED/UNKNOWN` (outcome `timeout`), at most `limit` of them, through the
    /// step that records a report (`runs.lua`). Returns how many it finished; fewer than
    /// `limit` when no more were overdue.
    pub async fn expire_async_runs(&self, tenant: &str, now: i64, limit: u32) -> Result<u32> {
        let now_txt = chime_core::time::format_instant(now);
        let life = ASYNC_DEADLINE;
        let mut inv = self.runs_invocation(tenant, now, &now_txt, "");
        inv.arg("d")
            .arg(ASYNC_EXEC_TIMEOUT_DEFAULT_SECS)
            .arg(limit)
            .arg(lifecycle_code(life.status, life.state, life.outcome));
        let codes: Vec<u32> = inv.invoke_async(&mut self.c()).await?;
        Ok(codes.first().copied().unwrap_or(0))
    }

    /// Trims the tenant's runs to its retention age: each job's finished runs (`jobs`) and the
    /// runs that never finished, a bounded number per call. Returns the runs removed.
    pub(crate) async fn trim_runs(&self, tenant: &str, jobs: &[u64], now: i64) -> Result<u64> {
        let now_txt = chime_core::time::format_instant(now);
        let mut removed = 0u64;
        let mut ops: Vec<Option<u64>> = jobs.iter().copied().map(Some).collect();
        ops.push(None);
        while !ops.is_empty() {
            let mut inv = self.runs_invocation(tenant, now, &now_txt, "");
            for op in &ops {
                match op {
                    Some(job) => inv.arg("t").arg(*job),
                    None => inv.arg("l").arg(""),
                };
            }
            let counts: Vec<i64> = inv.invoke_async(&mut self.c()).await?;
            removed += counts.iter().map(|&c| c.max(0) as u64).sum::<u64>();
            // A job trimmed of a full batch may have more: it goes again.
            ops = ops
                .into_iter()
                .zip(counts)
                .filter(|(_, c)| *c >= TRIM_BATCH)
                .map(|(op, _)| op)
                .collect();
        }
        Ok(removed)
    }
}

/// Runs a trim operation removes per call at most (`runs.lua`).
const TRIM_BATCH: i64 = 256;

/// The script calls of a batch of steps, as indexes into it: by tenant (one call each, split
/// at [`MAX_PER_CALL`]), then by job, since the script reads a job's definitions and takes
/// its run numbers once for all of the job's runs in a call. The sort is stable, so the steps
/// of one run keep their order.
fn calls_of(steps: &[(&RunMessage, RunStep<'_>)]) -> Vec<Vec<usize>> {
    let mut order: Vec<usize> = (0..steps.len()).collect();
    order.sort_by(|a, b| {
        let (x, y) = (steps[*a].0, steps[*b].0);
        (&x.tenant, x.job_id).cmp(&(&y.tenant, y.job_id))
    });
    let mut calls: Vec<Vec<usize>> = Vec::new();
    for i in order {
        match calls.last_mut() {
            Some(c) if c.len() < MAX_PER_CALL && steps[c[0]].0.tenant == steps[i].0.tenant => {
                c.push(i)
            }
            _ => calls.push(vec![i]),
        }
    }
    calls
}

/// Hands a family of key templates to `runs.lua`: their common prefix, then each one's
/// suffix. Returns the prefix.
fn family_args<const N: usize>(
    inv: &mut ScriptInvocation<'_>,
    templates: [KeyTemplate; N],
) -> String {
    let prefix = templates[0].prefix.clone();
    inv.arg(&prefix);
    for t in templates {
        debug_assert_eq!(t.prefix, prefix, "a family shares its prefix");
        inv.arg(t.suffix);
    }
    prefix
}

/// Adds one run's step to a call of `runs.lua`; a materialize names its run's timeout
/// (`default_timeout_ms` when its job names none), for the admission. A manual run's step
/// goes in its manual form (the op in upper case), with the requesting key's id last.
fn step_args(
    inv: &mut ScriptInvocation<'_>,
    m: &RunMessage,
    step: &RunStep<'_>,
    default_timeout_ms: u64,
) {
    let manual = m.requested_by.as_deref().map(|k| match k {
        "" => chime_core::model::MANUAL_BY_UNKNOWN,
        k => k,
    });
    match manual {
        Some(_) => inv.arg(step.op().to_ascii_uppercase()),
        None => inv.arg(step.op()),
    };
    inv.arg(&m.run_id)
        .arg(m.job_id)
        .arg(&m.schedule_id)
        .arg(m.scheduled_at)
        .arg(&m.owner)
        .arg(m.epoch);
    match step {
        RunStep::Materialize => {
            inv.arg(m.action.timeout_or(default_timeout_ms));
        }
        RunStep::Check => {}
        RunStep::Start(at_least) => {
            inv.arg(*at_least).arg(m.attempt.max(1));
        }
        RunStep::Retry(r) => {
            let failed = serde_json::to_string(&r.failed).expect("an attempt serialises");
            inv.arg(failed)
                .arg(r.failed.attempt + 1)
                .arg(r.next_at)
                .arg(&r.run_text)
                .arg(
                    r.failed
                        .http_status
                        .map(|s| s.to_string())
                        .unwrap_or_default(),
                )
                .arg(&r.line);
        }
        RunStep::Complete(r) => {
            inv.arg(r.status.as_str())
                .arg(r.state.as_str())
                .arg(r.outcome.map_or("", Outcome::as_str))
                .arg(r.http_status.map(|s| s.to_string()).unwrap_or_default())
                .arg(&r.run_text)
                .arg(r.body.as_deref().unwrap_or(""))
                .arg(r.error.as_deref().unwrap_or(""))
                .arg(r.duration_ms)
                .arg(r.executed_at)
                .arg(r.event.as_deref().unwrap_or(""))
                .arg(lifecycle_code(r.status, r.state, r.outcome))
                .arg(r.timing.encode())
                .arg(r.failure_reason.map_or("", |f| f.as_str()));
        }
    }
    if let Some(key) = manual {
        inv.arg(key);
    }
}

/// An answer of another kind than its step's (which [`StepAnswer::of`] rules out).
fn mismatch(step: &str, answer: StepAnswer) -> StoreError {
    StoreError::Corrupt(format!("a {step} step answered {answer:?}"))
}
