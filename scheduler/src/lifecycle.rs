//! The lifecycle rules SAP applies to schedules beside their completion, on the leader of
//! shard 0 (docs/ARCHITECTURE.md, "The lifecycle rules"):
//!
//! - **Unreachable.** A schedule whose endpoint has been unreachable for longer than
//!   [`Limits::unreachable_ms`] (SAP: more than 10 days) is deactivated, with
//!   `DEACTIVATION_ON_UNREACHABLE` in its tenant's audit trail, its due entry removed as the
//!   API's deactivation removes it, and a `schedule.deactivated` event (reason `unreachable`)
//!   for a job with a `notifications` URL. "Unreachable" is kept by `runs.lua` as runs
//!   finish: a run whose call got no connection (`dns`, `connect`, `tls`, or `blocked` by the
//!   address guard) marks its schedule with the first finish of the streak, a run with any HTTP
//!   answer takes the mark away.
//! - **One-time expiry.** An inactive one-time schedule that has not run for longer than
//!   [`Limits::one_time_ms`] (SAP: 30 days) is removed, as the API deletes a schedule, with
//!   `DELETION_ON_EXPIRY` in the audit trail. Its days count from the latest of when it became
//!   inactive (its run's completion, or a deactivation), its last write and its `time`.
//!
//! Both read a per-tenant index scored by the instant the days count from (`chime-store`'s
//! `lifecycle`), so a sweep reads only the schedules past their limit, and end a schedule
//! with a compare-and-set on its stored definition and the mark read: an API write made
//! meanwhile wins, and a run answered meanwhile keeps its schedule. Like the asynchronous
//! deadline, the sweep needs no fence (a deposed leader's round can only end what is past its
//! limit, once), and its state is all in Redis, so a new leader goes on where the last stopped.
//! A change by a client of an unreachable schedule or of its job (a new URL, an activation)
//! after the streak began counts its days from the change.

use crate::deadline::tenants_in_turn;
use crate::pass::level;
use chime_core::model::{Job, ScheduleKind};
use chime_core::time::{format_instant, parse_stored_instant};
use chime_runtime::config::Settings;
use chime_runtime::telemetry::warn_throttled;
use chime_store::{
    deactivation_reason, ActionLog, DeactivationNote, Marked, Rule, Store, StoredSchedule,
    DEACTIVATION_ON_UNREACHABLE, DELETION_ON_EXPIRY, SERVICE_ACTOR,
};

/// Tenants one round looks at, at most: two index reads each when nothing is past its limit.
const TENANTS_PER_ROUND: usize = 1_000;
/// Schedules one round ends (or looks at past their limit), at most; the rest wait for the
/// next round.
const SCHEDULES_PER_ROUND: usize = 1_000;
/// Marks read from one index at once.
const MARKS_PER_READ: usize = 100;

/// The rules' limits (ms); `None`: the rule is off.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Limits {
    pub unreachable_ms: Option<i64>,
    pub one_time_ms: Option<i64>,
}

impl Limits {
    pub fn of(settings: &Settings) -> Limits {
        Limits {
            unreachable_ms: settings.unreachable_deactivate_ms(),
            one_time_ms: settings.one_time_expiry_ms(),
        }
    }
}

/// What one round did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Swept {
    /// Schedules deactivated for an unreachable endpoint.
    pub deactivated: usize,
    /// One-time schedules removed.
    pub removed: usize,
}

/// The sweep: its limits, and the tenant the next round starts from.
#[derive(Debug)]
pub struct Lifecycle {
    limits: Limits,
    next_tenant: usize,
}

impl Lifecycle {
    pub fn new(limits: Limits) -> Lifecycle {
        Lifecycle {
            limits,
            next_tenant: 0,
        }
    }

    /// One round at `now` (ms on Redis's clock).
    pub async fn sweep(&mut self, store: &Store, now: i64) -> Swept {
        let mut swept = Swept::default();
        if self.limits == Limits::default() {
            return swept;
        }
        let Some((tenants, order)) =
            tenants_in_turn(store, &mut self.next_tenant, TENANTS_PER_ROUND).await
        else {
            return swept;
        };
        let mut budget = SCHEDULES_PER_ROUND;
        for i in order {
            let t = &tenants[i];
            let mut round = Round {
                store,
                tenant: t,
                now,
                budget: &mut budget,
            };
            if let Some(limit) = self.limits.unreachable_ms {
                let done = round.apply(Rule::Unreachable, limit).await;
                swept.deactivated += counted(done, "unreachable schedules", t);
            }
            if let Some(limit) = self.limits.one_time_ms {
                let done = round.apply(Rule::OneTimeExpiry, limit).await;
                swept.removed += counted(done, "expired one-time schedules", t);
            }
            if budget == 0 {
                // The next round starts with this tenant (it may have more).
                self.next_tenant = i;
                break;
            }
        }
        for (rule, n) in [
            ("unreachable", swept.deactivated),
            ("one_time_expiry", swept.removed),
        ] {
            if n > 0 {
                metrics::counter!("chime_lifecycle_total", "rule" => rule).increment(n as u64);
            }
        }
        if swept != Swept::default() {
            tracing::info!(?swept, "lifecycle rules applied");
        }
        swept
    }
}

/// One tenant's part of a round.
struct Round<'a> {
    store: &'a Store,
    tenant: &'a str,
    now: i64,
    budget: &'a mut usize,
}

/// What a round did with one mark.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Step {
    /// Its schedule was ended (deactivated, or removed).
    Ended,
    /// The mark left the index, or moved past the limit.
    Moved,
    /// The mark is still there (changed meanwhile, or a step failed): the next round sees it.
    Left,
}

impl Round<'_> {
    /// Applies `rule` to the tenant's marks past `limit` (ms), a page at a time within the
    /// round's budget; how many schedules it ended. A page with a mark left is the last.
    async fn apply(&mut self, rule: Rule, limit: i64) -> chime_store::Result<usize> {
        let mut done = 0;
        while *self.budget > 0 {
            let take = (*self.budget).min(MARKS_PER_READ);
            let upto = self.now - limit;
            let marks = self.store.marked(self.tenant, rule, upto, take).await?;
            *self.budget -= marks.len();
            let mut left = false;
            for m in &marks {
                let step = match rule {
                    Rule::Unreachable => self.unreachable(m, limit).await,
                    Rule::OneTimeExpiry => self.one_time(m, limit).await,
                };
                match step {
                    Ok(Step::Ended) => done += 1,
                    Ok(Step::Moved) => {}
                    Ok(Step::Left) => left = true,
                    Err(e) => {
                        left = true;
                        let (t, sid) = (self.tenant, &m.schedule);
                        warn_throttled("lifecycle", &format!("schedule {sid} of tenant {t}: {e}"));
                    }
                }
            }
            if left || marks.len() < take {
                break;
            }
        }
        Ok(done)
    }

    /// Deactivates the schedule of mark `m` if it is unreachable for more than `limit` ms.
    async fn unreachable(&self, m: &Marked, limit: i64) -> chime_store::Result<Step> {
        let (store, tenant) = (self.store, self.tenant);
        let job = store.job(tenant, m.job).await?;
        let stored = store.schedule_stored(tenant, m.job, &m.schedule).await?;
        let (Some(job), Some(stored)) = (job, stored) else {
            store.unmark(tenant, Rule::Unreachable, m).await?;
            return Ok(Step::Moved);
        };
        if !job.active || !stored.schedule.active {
            // Not firing: its streak ends here, and starts again with its next failure.
            store.unmark(tenant, Rule::Unreachable, m).await?;
            return Ok(Step::Moved);
        }
        let changed = [&job.modified_at, &stored.schedule.modified_at]
            .into_iter()
            .filter_map(|at| parse_stored_instant(at))
            .max()
            .filter(|at| *at > m.since);
        if let Some(at) = changed.filter(|at| *at > self.now - limit) {
            store.remark(tenant, Rule::Unreachable, m, at).await?;
            return Ok(Step::Moved);
        }
        self.deactivate(&job, m, &stored, limit).await
    }

    /// Deactivates schedule `stored` of `job`, unreachable since `m.since`, unless it was
    /// changed or answered meanwhile; then removes its due entry and records it.
    async fn deactivate(
        &self,
        job: &Job,
        m: &Marked,
        stored: &StoredSchedule,
        limit: i64,
    ) -> chime_store::Result<Step> {
        let (store, tenant, sid) = (self.store, self.tenant, &m.schedule);
        let message = format!(
            "endpoint unreachable since {}: no call got a connection for more than {}",
            format_instant(m.since),
            span(limit)
        );
        let note = job.notifications.as_deref().map(|url| DeactivationNote {
            url,
            job_name: &job.name,
            message: &message,
            reason: deactivation_reason::UNREACHABLE,
        });
        if !store
            .deactivate_unreachable(tenant, m, stored, note.as_ref())
            .await?
        {
            tracing::debug!(tenant, job_id = job.id, schedule_id = %sid, "unreachable schedule changed or answered meanwhile; left as it is");
            return Ok(Step::Left);
        }
        // As the API's deactivation: the due entry goes, and the schedule is idle from the
        // instant it would have fired next (for `fires`).
        let due = store.due_of(tenant, job.id, sid).await?;
        store.set_due(tenant, job.id, sid, None).await?;
        let idle_from = due.map_or(self.now, |d| d.min(self.now));
        let _ = store
            .schedule_firing(tenant, &[(sid.as_str(), false, idle_from)])
            .await;
        if note.is_some() {
            let _ = store.hint_notes(tenant).await;
        }
        tracing::info!(tenant, job_id = job.id, schedule_id = %sid, since = m.since, "schedule deactivated: its endpoint is unreachable");
        let event = format!("Schedule deactivated: {message}");
        let did = (DEACTIVATION_ON_UNREACHABLE, message);
        service_did(store, tenant, job.id, sid, Some(&event), did).await;
        Ok(Step::Ended)
    }

    /// Removes the inactive one-time schedule of mark `m` if it has not run for more than
    /// `limit` ms.
    async fn one_time(&self, m: &Marked, limit: i64) -> chime_store::Result<Step> {
        let (store, tenant) = (self.store, self.tenant);
        let Some(stored) = store.schedule_stored(tenant, m.job, &m.schedule).await? else {
            store.unmark(tenant, Rule::OneTimeExpiry, m).await?;
            return Ok(Step::Moved);
        };
        let sc = &stored.schedule;
        if sc.active || sc.kind != ScheduleKind::OneTime {
            // Active: waiting to fire (its job inactive, or its time ahead), never removed.
            store.unmark(tenant, Rule::OneTimeExpiry, m).await?;
            return Ok(Step::Moved);
        }
        // A time still ahead (or recent) counts: it could run then, once activated.
        let time = sc.time.as_deref().and_then(parse_stored_instant);
        if let Some(at) = time.filter(|at| *at > self.now - limit) {
            store.remark(tenant, Rule::OneTimeExpiry, m, at).await?;
            return Ok(Step::Moved);
        }
        if !store.expire_schedule(tenant, m, &stored).await? {
            return Ok(Step::Left);
        }
        store.set_due(tenant, m.job, &m.schedule, None).await?;
        tracing::info!(tenant, job_id = m.job, schedule_id = %m.schedule, "one-time schedule not run for long removed");
        let message = format!(
            "one-time schedule removed: not run for more than {} (inactive since {})",
            span(limit),
            format_instant(m.since)
        );
        let did = (DELETION_ON_EXPIRY, message);
        service_did(store, tenant, m.job, &m.schedule, None, did).await;
        Ok(Step::Ended)
    }
}

/// The schedules a rule ended in tenant `t`; its error logged (as 0: the next round tries
/// again).
fn counted(done: chime_store::Result<usize>, what: &str, t: &str) -> usize {
    done.unwrap_or_else(|e| {
        warn_throttled("lifecycle", &format!("the {what} of tenant {t}: {e}"));
        0
    })
}

/// A limit as the audit trail says it: whole days, else seconds.
fn span(ms: i64) -> String {
    const DAY: i64 = 86_400_000;
    match ms {
        DAY => "1 day".into(),
        ms if ms % DAY == 0 => format!("{} days", ms / DAY),
        ms => format!("{} s", ms / 1000),
    }
}

/// Records what the service did to schedule `sid` of job `job`: `event` in the schedule's
/// event log (when it has one left), and `did` (action, detail) in its tenant's audit trail,
/// the service its actor. Best effort: what it did is done.
pub(crate) async fn service_did(
    store: &Store,
    tenant: &str,
    job: u64,
    sid: &str,
    event: Option<&str>,
    did: (&str, String),
) {
    if let Some(event) = event {
        let _ = store.schedule_event(tenant, sid, level::INFO, event).await;
    }
    let (action, detail) = did;
    let entry = ActionLog {
        job_id: job,
        schedule_id: Some(sid.to_string()),
        action: action.to_string(),
        detail,
        actor: SERVICE_ACTOR.to_string(),
    };
    if let Err(e) = store.record_action(tenant, &entry).await {
        warn_throttled(
            "action_log_failed",
            &format!("the action log of schedule {sid} was not recorded: {e}"),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::span;

    #[test]
    fn a_limit_reads_in_days_or_seconds() {
        assert_eq!(span(864_000_000), "10 days");
        assert_eq!(span(86_400_000), "1 day");
        assert_eq!(span(4_000), "4 s");
    }
}
