//! Notifications: the events of jobs that name a `notifications` URL, kept as notes until
//! delivered. A note is made in the step that causes it, so it is never lost: a run's finish
//! (`runs.lua`: `run.failed`, `schedule.recovered`) or a schedule's deactivation, on
//! completion or past its endpoint's unreachable days (`schedule_deactivate.lua`:
//! `schedule.deactivated`), both through `notes.lua`. Workers claim
//! due notes (`notes_claim.lua` moves each claimed note's due instant by a lease, so one
//! worker holds it while it calls), deliver them, and record each attempt here: delivered, or
//! due again later, or given up. A worker that dies holding a note lets its lease pass and
//! another delivers it: at least once.

use crate::{template_args, Result, Store};
use chime_core::time::format_instant;
use redis::{AsyncCommands, Script};
use serde::Serialize;
use std::collections::HashMap;
use std::sync::LazyLock;

static NOTES_CLAIM: LazyLock<Script> = crate::script!("notes_claim.lua");
static NOTE_ATTEMPT: LazyLock<Script> = crate::script!("note_attempt.lua");

/// A note's delivery state.
pub mod note_state {
    pub const PENDING: &str = "pending";
    pub const DELIVERED: &str = "delivered";
    /// Its attempts are spent (or its URL cannot be called): not tried again.
    pub const FAILED: &str = "failed";
}

/// Why the service deactivated a schedule: a `schedule.deactivated` event's `reason`.
pub mod deactivation_reason {
    /// It has no instant left (SAP's deactivation on completion).
    pub const COMPLETED: &str = "completed";
    /// Its endpoint has been unreachable for longer than the installation allows.
    pub const UNREACHABLE: &str = "unreachable";
}

/// One notification and its delivery, as stored.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Note {
    pub id: String,
    /// `run.failed`, `schedule.recovered` or `schedule.deactivated`.
    pub kind: String,
    pub job_id: u64,
    pub job_name: String,
    pub schedule_id: String,
    /// When it was made (ms).
    pub created_at: i64,
    /// Where it goes.
    pub url: String,
    /// The run it is about (`run.*`, `schedule.recovered`).
    pub run_id: Option<String>,
    pub scheduled_at: Option<i64>,
    pub outcome: Option<String>,
    pub http_status: Option<u16>,
    pub failure_reason: Option<String>,
    pub text: Option<String>,
    pub error: Option<String>,
    /// The calls the run made.
    pub attempts: Option<u32>,
    /// `run.failed`: the schedule's failures in a row, this one included; `schedule.recovered`:
    /// the failures before this success.
    pub streak: Option<u32>,
    /// `schedule.deactivated`: why.
    pub message: Option<String>,
    /// `schedule.deactivated`: one of [`deactivation_reason`].
    pub reason: Option<String>,
    /// One of [`note_state`].
    pub state: String,
    /// Delivery attempts made.
    pub tries: u32,
    pub last_attempt_at: Option<i64>,
    pub next_attempt_at: Option<i64>,
    pub delivered_at: Option<i64>,
    /// The last attempt's answer and error.
    pub last_status: Option<u16>,
    pub last_error: Option<String>,
}

impl Note {
    fn from_fields(id: String, f: &HashMap<String, String>) -> Note {
        let text = |k: &str| f.get(k).filter(|v| !v.is_empty()).cloned();
        let num = |k: &str| f.get(k).and_then(|v| v.parse::<i64>().ok());
        Note {
            id,
            kind: text("k").unwrap_or_default(),
            job_id: num("j").unwrap_or_default() as u64,
            job_name: text("name").unwrap_or_default(),
            schedule_id: text("s").unwrap_or_default(),
            created_at: num("at").unwrap_or_default(),
            url: text("u").unwrap_or_default(),
            run_id: text("r"),
            scheduled_at: num("a"),
            outcome: text("o"),
            http_status: num("h").map(|h| h as u16),
            failure_reason: text("f"),
            text: text("t"),
            error: text("x"),
            attempts: num("n").map(|n| n as u32),
            streak: num("c").map(|n| n as u32),
            message: text("m"),
            reason: text("w"),
            state: text("st").unwrap_or_else(|| note_state::PENDING.into()),
            tries: num("tries").unwrap_or_default() as u32,
            last_attempt_at: num("last_at"),
            next_attempt_at: num("next_at"),
            delivered_at: num("done_at"),
            last_status: num("lh").map(|h| h as u16),
            last_error: text("le"),
        }
    }
}

/// What one delivery attempt of a note came to.
#[derive(Clone, Debug)]
pub struct NoteAttempt<'a> {
    pub at: i64,
    pub http_status: Option<u16>,
    pub error: Option<&'a str>,
    /// Delivered (a 2xx answer).
    pub delivered: bool,
    /// Not delivered: when to try again; `None` gives up.
    pub retry_at: Option<i64>,
}

/// The fields of a `schedule.deactivated` note, made with the deactivation.
#[derive(Clone, Debug)]
pub struct DeactivationNote<'a> {
    pub url: &'a str,
    pub job_name: &'a str,
    pub message: &'a str,
    /// One of [`deactivation_reason`].
    pub reason: &'a str,
}

/// The JSON event a notification's URL receives.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Event<'a> {
    /// The event's id: the same in every attempt to deliver it (and its `webhook-id`).
    pub id: &'a str,
    /// `run.failed`, `schedule.recovered` or `schedule.deactivated`.
    #[serde(rename = "type")]
    pub kind: &'a str,
    pub occurred_at: String,
    pub job_id: u64,
    pub job_name: &'a str,
    pub schedule_id: &'a str,
    /// The run it is about (not for `schedule.deactivated`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run: Option<EventRun<'a>>,
    /// `run.failed`: the schedule's failed runs in a row, this one included.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub consecutive_failures: Option<u32>,
    /// `schedule.recovered`: the failed runs in a row before this success.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failures_before: Option<u32>,
    /// `schedule.deactivated`: why.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<&'a str>,
    /// `schedule.deactivated`: `completed` or `unreachable` ([`deactivation_reason`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<&'a str>,
}

/// The run an event is about.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EventRun<'a> {
    pub run_id: &'a str,
    pub scheduled_for: Option<String>,
    pub outcome: Option<&'a str>,
    pub http_status: Option<u16>,
    pub failure_reason: Option<&'a str>,
    /// The run's text (SAP's `runText`).
    pub run_text: Option<&'a str>,
    pub error: Option<&'a str>,
    /// The calls the run made, retries included.
    pub attempts: Option<u32>,
}

impl<'a> Event<'a> {
    pub fn of(note: &'a Note) -> Event<'a> {
        let streak = |kind: &str| note.streak.filter(|_| note.kind == kind);
        Event {
            id: &note.id,
            kind: &note.kind,
            occurred_at: format_instant(note.created_at),
            job_id: note.job_id,
            job_name: &note.job_name,
            schedule_id: &note.schedule_id,
            run: note.run_id.as_deref().map(|run_id| EventRun {
                run_id,
                scheduled_for: note.scheduled_at.map(format_instant),
                outcome: note.outcome.as_deref(),
                http_status: note.http_status,
                failure_reason: note.failure_reason.as_deref(),
                run_text: note.text.as_deref(),
                error: note.error.as_deref(),
                attempts: note.attempts,
            }),
            consecutive_failures: streak("run.failed"),
            failures_before: streak("schedule.recovered"),
            message: note.message.as_deref(),
            reason: note.reason.as_deref(),
        }
    }
}

impl Store {
    /// Claims up to `limit` of the tenant's notes due at `now` (ms) for `lease_ms`: no other
    /// claim takes them until then (or until their attempt is recorded).
    pub async fn claim_notes(
        &self,
        tenant: &str,
        now: i64,
        lease_ms: i64,
        limit: usize,
    ) -> Result<Vec<Note>> {
        let mut inv = NOTES_CLAIM.prepare_invoke();
        inv.key(self.keys.notes_due(tenant))
            .arg(now)
            .arg(lease_ms)
            .arg(limit);
        template_args(&mut inv, [self.keys.note_template(tenant)]);
        let claimed: Vec<(String, HashMap<String, String>)> =
            inv.invoke_async(&mut self.c()).await?;
        Ok(claimed
            .into_iter()
            .map(|(id, f)| Note::from_fields(id, &f))
            .collect())
    }

    /// Records an attempt to deliver note `id`: delivered, due again at `retry_at`, or given
    /// up. A note gone meanwhile (trimmed, or its tenant deleted) is left gone.
    pub async fn record_note_attempt(
        &self,
        tenant: &str,
        id: &str,
        attempt: &NoteAttempt<'_>,
    ) -> Result<()> {
        let state = match (attempt.delivered, attempt.retry_at) {
            (true, _) => note_state::DELIVERED,
            (false, Some(_)) => note_state::PENDING,
            (false, None) => note_state::FAILED,
        };
        let mut inv = NOTE_ATTEMPT.prepare_invoke();
        inv.key(self.keys.note_template(tenant).key(id))
            .key(self.keys.notes_due(tenant))
            .arg(id)
            .arg(attempt.at)
            .arg(state)
            .arg(
                attempt
                    .http_status
                    .map(|h| h.to_string())
                    .unwrap_or_default(),
            )
            .arg(attempt.error.unwrap_or_default())
            .arg(attempt.retry_at.map(|t| t.to_string()).unwrap_or_default());
        let _: i64 = inv.invoke_async(&mut self.c()).await?;
        Ok(())
    }

    /// The newest `limit` notes of a job, newest first.
    pub async fn job_notes(&self, tenant: &str, job: u64, limit: usize) -> Result<Vec<Note>> {
        let ids: Vec<String> = self
            .c()
            .zrevrange(
                self.keys.job_notes_template(tenant).key(job),
                0,
                limit.max(1) as isize - 1,
            )
            .await?;
        if ids.is_empty() {
            return Ok(vec![]);
        }
        let notes = self.keys.note_template(tenant);
        let mut pipe = redis::pipe();
        for id in &ids {
            pipe.hgetall(notes.key(id));
        }
        let fields: Vec<HashMap<String, String>> = pipe.query_async(&mut self.c()).await?;
        Ok(ids
            .into_iter()
            .zip(fields)
            .filter(|(_, f)| !f.is_empty())
            .map(|(id, f)| Note::from_fields(id, &f))
            .collect())
    }

    /// Hints that `tenant` has notes due (the notifiers look at the hinted tenants first).
    pub async fn hint_notes(&self, tenant: &str) -> Result<()> {
        let _: () = self.c().sadd(self.keys.notify_tenants(), tenant).await?;
        Ok(())
    }

    /// The tenants hinted to have notes due.
    pub async fn hinted_note_tenants(&self) -> Result<Vec<String>> {
        Ok(self.c().smembers(self.keys.notify_tenants()).await?)
    }

    /// The tenant's notes waiting for delivery, due or not.
    pub async fn notes_waiting(&self, tenant: &str) -> Result<u64> {
        Ok(self.c().zcard(self.keys.notes_due(tenant)).await?)
    }

    /// Drops the hint of a tenant found with no note waiting.
    pub async fn drop_note_hint(&self, tenant: &str) -> Result<()> {
        let _: () = self.c().srem(self.keys.notify_tenants(), tenant).await?;
        Ok(())
    }

    /// The arguments `schedule_deactivate.lua` takes for the note of a deactivation, from its
    /// notes due (its second key) and `now` on.
    pub(crate) fn deactivation_note_args(
        &self,
        inv: &mut redis::ScriptInvocation<'_>,
        tenant: &str,
        job: u64,
        schedule: &str,
        now: i64,
        note: Option<&DeactivationNote<'_>>,
    ) {
        inv.key(self.keys.notes_due(tenant)).arg(now);
        template_args(
            inv,
            [
                self.keys.note_template(tenant),
                self.keys.job_notes_template(tenant),
            ],
        );
        if let Some(n) = note {
            inv.arg(format!("{schedule}.deactivated.{now}"))
                .arg(job)
                .arg("k")
                .arg("schedule.deactivated")
                .arg("u")
                .arg(n.url)
                .arg("name")
                .arg(n.job_name)
                .arg("s")
                .arg(schedule)
                .arg("m")
                .arg(n.message)
                .arg("w")
                .arg(n.reason);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn a_failed_runs_note_is_its_event() {
        let f = stored(&[
            ("k", "run.failed"),
            ("j", "7"),
            ("name", "nightly"),
            ("s", "S1"),
            ("at", "1767225600000"),
            ("u", "http://127.0.0.1:9/events"),
            ("r", "R1"),
            ("a", "1767225599000"),
            ("o", "failure"),
            ("h", "503"),
            ("f", "http_5xx"),
            ("t", "HTTP 503"),
            ("x", ""),
            ("n", "3"),
            ("c", "2"),
            ("st", "pending"),
            ("tries", "1"),
            ("lh", "500"),
        ]);
        let note = Note::from_fields("R1.failed".into(), &f);
        assert_eq!((note.tries, note.last_status), (1, Some(500)));
        let event = serde_json::to_value(Event::of(&note)).unwrap();
        assert_eq!(
            event,
            serde_json::json!({
                "id": "R1.failed", "type": "run.failed",
                "occurredAt": "2026-01-01T00:00:00.000Z",
                "jobId": 7, "jobName": "nightly", "scheduleId": "S1",
                "run": {"runId": "R1", "scheduledFor": "2025-12-31T23:59:59.000Z",
                        "outcome": "failure", "httpStatus": 503, "failureReason": "http_5xx",
                        "runText": "HTTP 503", "error": null, "attempts": 3},
                "consecutiveFailures": 2
            })
        );
    }

    #[test]
    fn a_deactivation_note_has_no_run_and_says_why() {
        let f = stored(&[
            ("k", "schedule.deactivated"),
            ("j", "7"),
            ("s", "S1"),
            ("at", "0"),
            ("m", "one-time schedule completed"),
            ("w", "completed"),
        ]);
        let note = Note::from_fields("S1.deactivated.0".into(), &f);
        let event = serde_json::to_value(Event::of(&note)).unwrap();
        assert!(event.get("run").is_none(), "{event}");
        assert_eq!(event["message"], "one-time schedule completed");
        assert_eq!(event["reason"], "completed");
        assert!(event.get("consecutiveFailures").is_none(), "{event}");
        assert_eq!(note.state, note_state::PENDING);
    }
}
