//! Retries: a failed attempt whose job's `retryPolicy` gives it another is recorded (the run
//! waits, unfinished, `SCHEDULED`), then its next attempt goes to the broker as a delayed
//! message (`Publisher::publish_after`: a delay queue that dead-letters to the runs queue),
//! and only then is the delivery acknowledged. No worker holds a waiting retry, so any worker
//! may die meanwhile. A worker that dies after recording the retry and before sending it
//! leaves the delivery unacknowledged: its redelivery's `start` answers that the run waits for
//! its retry, and the retry is sent again (a second copy, if the first went out, is refused by
//! `start` when it arrives after the first started).

use crate::executor::Outcome;
use crate::{chrono_now, dropped_gone, duplicate, retry, to_result, Inner, Step};
use anyhow::Context;
use chime_core::model::{Attempt, RunMessage};
use chime_core::retry::RetryPolicy;
use chime_core::run::Outcome as RunOutcome;
use chime_core::time::format_instant;
use chime_store::{Retried, Retrying, StepAnswer, StoreError};
use std::sync::Arc;
use std::time::Duration;

/// A retry to come: why, after how long (a step of the delay ladder), and the limits it sends
/// with.
pub(crate) struct RetryPlan {
    why: &'static str,
    delay: Duration,
    first_call_at: i64,
    policy: RetryPolicy,
}

impl Inner {
    /// The retry of attempt `attempt`, which ended as `o`, when the run's job has a policy that
    /// retries that end and has a retry left within its time limit.
    pub(crate) fn retry_plan(
        &self,
        msg: &RunMessage,
        attempt: u32,
        o: &Outcome,
    ) -> Option<RetryPlan> {
        let policy = msg.retry?;
        let why = chime_core::retry::retried(o.kind, o.http_status, o.sent)?;
        let first_call_at = msg
            .first_call_at
            .unwrap_or_else(|| o.started_at.timestamp_millis());
        let wait = policy.wait(attempt, rand::random::<f64>(), o.retry_after);
        let delay = chime_broker::step_for(wait, max_backoff(&policy))
            .map_or(Duration::ZERO, Duration::from_secs);
        let since = Duration::from_millis(u64::try_from(chrono_now() - first_call_at).unwrap_or(0));
        policy.allows(attempt, since, delay).then_some(RetryPlan {
            why,
            delay,
            first_call_at,
            policy,
        })
    }

    /// Records failed attempt `attempt` and sends its retry; the delivery is acknowledged
    /// after this returns.
    pub(crate) async fn retry(
        &self,
        msg: &Arc<RunMessage>,
        attempt: u32,
        o: &Outcome,
        plan: RetryPlan,
    ) -> anyhow::Result<&'static str> {
        let result = to_result(o).0;
        let next_at = chrono_now() + plan.delay.as_millis() as i64;
        let detail = match o.http_status {
            Some(h) => format!("HTTP {h}"),
            None => plan.why.to_string(),
        };
        let error = o.error.clone().unwrap_or_else(|| result.run_text.clone());
        let due = format_instant(next_at);
        let step = Retrying {
            failed: Attempt {
                attempt,
                executed_at: o.started_at.timestamp_millis(),
                duration_ms: o.duration.as_millis() as u64,
                http_status: o.http_status,
                outcome: result.outcome.unwrap_or(RunOutcome::Error),
                error: format!("{}: {error}", plan.why),
                delay_ms: plan.delay.as_millis() as u64,
                timing: Some(o.timing.encode()).filter(|g| !g.is_empty()),
                failure_reason: o.failure,
            },
            next_at,
            run_text: format!(
                "attempt {attempt} failed ({detail}); attempt {} at {due}",
                attempt + 1
            ),
            line: format!(
                "attempt {attempt} failed after {} ms ({detail}: {error}); retry {attempt} of {} in {} s, attempt {} due at {due}{}",
                o.duration.as_millis(),
                plan.policy.retry_count,
                plan.delay.as_secs(),
                attempt + 1,
                if o.retry_after.is_some() { " (Retry-After)" } else { "" },
            ),
        };
        let answer = retry(|| self.recorder.step(msg, Step::Retry(step.clone()))).await?;
        match answer {
            StepAnswer::Retried(Retried::Scheduled) => {}
            StepAnswer::Retried(Retried::AlreadyRecorded) => return Ok(duplicate()),
            StepAnswer::Retried(Retried::Gone) => return Ok(dropped_gone()),
            other => {
                return Err(StoreError::Corrupt(format!("a retry step answered {other:?}")).into())
            }
        }
        let mut next = (**msg).clone();
        next.first_call_at = Some(plan.first_call_at);
        self.send_retry(&next, attempt + 1, next_at).await?;
        metrics::counter!("chime_runs_retried_total", "reason" => plan.why).increment(1);
        tracing::info!(run_id = %msg.run_id, attempt, next = attempt + 1, delay_s = plan.delay.as_secs(), reason = plan.why, "run failed; retry sent");
        Ok("retry sent")
    }

    /// Sends attempt `attempt` of `msg`'s run to reach the runs queue at `at` (ms), or as soon
    /// after as the delay ladder allows, and waits for the broker's confirm.
    pub(crate) async fn send_retry(
        &self,
        msg: &RunMessage,
        attempt: u32,
        at: i64,
    ) -> anyhow::Result<()> {
        let mut next = msg.clone();
        next.attempt = attempt;
        next.fresh = false;
        next.retry_at = Some(at);
        if next.first_call_at.is_none() {
            next.first_call_at = Some(chrono_now());
        }
        let wait = Duration::from_millis(u64::try_from(at - chrono_now()).unwrap_or(0));
        let max = max_backoff(&next.retry.unwrap_or_default());
        self.publisher
            .publish_after(&next, wait, max)
            .await
            .with_context(|| format!("sending attempt {attempt} of run {}", msg.run_id))?;
        Ok(())
    }
}

fn max_backoff(p: &RetryPolicy) -> Duration {
    Duration::from_secs(u64::from(p.max_backoff_seconds))
}
