//! Settle: a published pass waits for the broker's confirms, then advances its due entries.
//!
//! Only entries whose every fire is durably published advance, with a fenced compare-and-set
//! (the lease's token, and the score the pass read): a crash before it re-publishes the same
//! run ids, which the record scripts collapse, and a deposed leader's advance is refused. A
//! finished schedule whose entry is removed (a one-time schedule that fired, a recurring one
//! past its end or its job's, a cron with no future instant) is deactivated on completion, with
//! a compare-and-set that leaves a schedule changed meanwhile alone, and SAP's
//! `DEACTIVATION_ON_COMPLETION` in its tenant's audit trail. A pass that finds itself fenced
//! off marks its epoch, and only then releases its claim (which wakes the leader's loop).

use crate::lifecycle::service_did;
use crate::pass::{Pending, Phases, Planned};
use crate::{PassReport, Scheduler};
use chime_core::model::{Job, Schedule};
use chime_core::schedule::completion_message;
use chime_runtime::telemetry::warn_throttled;
use chime_store::{
    deactivation_reason, Advance, Advanced, DeactivationNote, Deferral, DEACTIVATION_ON_COMPLETION,
};

impl Scheduler {
    /// Settles a published pass of the lease `token` (of `epoch`): what it did.
    pub(crate) async fn settle(&self, token: &str, epoch: u64, pass: Pending) -> PassReport {
        let Pending {
            plans,
            to_publish,
            owner_of,
            mut failed,
            sent,
            now,
            claim,
        } = pass;
        let mut phase = Phases::start();
        let results = self.publisher.confirmed(sent).await;
        self.backpressure
            .confirmed(results.iter().any(|r| r.is_err()));
        phase.done("confirm");
        let mut published = Vec::with_capacity(to_publish.len());
        for ((m, r), i) in to_publish.into_iter().zip(results).zip(owner_of) {
            match r {
                Ok(()) => {
                    metrics::counter!("chime_runs_published_total").increment(1);
                    metrics::histogram!("chime_fire_lateness_seconds")
                        .record((now - m.scheduled_at).max(0) as f64 / 1000.0);
                    tracing::debug!(run_id = %m.run_id, job_id = m.job_id, schedule_id = %m.schedule_id, tenant = %m.tenant, "published");
                    published.push(m);
                }
                Err(e) => {
                    warn_throttled(
                        "publish_failed",
                        &format!("publish of run {} failed; will retry: {e}", m.run_id),
                    );
                    metrics::counter!("chime_publish_failures_total").increment(1);
                    failed[i] = true;
                }
            }
        }
        let mut report = PassReport {
            now: Some(now),
            taken: plans.len(),
            published,
            left: failed.iter().filter(|f| **f).count(),
            ..PassReport::default()
        };
        self.advance(token, &plans, &failed, &mut report).await;
        phase.done("advance");
        if report.fenced {
            self.fence.fence(epoch);
        }
        drop(claim);
        report
    }

    /// Advances the entries whose every fire is durably published (`failed` marks the others),
    /// and deactivates the schedules they finish; counts what it did in `report`.
    async fn advance(
        &self,
        token: &str,
        plans: &[Planned],
        failed: &[bool],
        report: &mut PassReport,
    ) {
        let ready: Vec<&Planned> = plans
            .iter()
            .zip(failed)
            .filter(|(_, failed)| !**failed)
            .map(|(p, _)| p)
            .collect();
        let entries: Vec<Advance> = ready
            .iter()
            .map(|p| Advance {
                partition: p.partition,
                member: &p.member,
                read: p.score,
                next: p.next,
                deferral: p.deferral,
            })
            .collect();
        let advances: Vec<(&Planned, Result<Advanced, String>)> =
            match self.store.advance_many(self.shard, token, &entries).await {
                Ok(codes) => ready.into_iter().zip(codes.into_iter().map(Ok)).collect(),
                Err(e) => ready.into_iter().map(|p| (p, Err(e.to_string()))).collect(),
            };
        for (pl, r) in advances {
            match r {
                Ok(Advanced::Moved) => {
                    match (pl.next, pl.deferral) {
                        (None, _) => report.removed += 1,
                        (Some(_), Deferral::Defer { .. } | Deferral::Reserve { .. }) => {
                            report.deferred += 1
                        }
                        (Some(_), _) => report.advanced += 1,
                    }
                    if let (Some((tenant, job, schedule)), None) = (&pl.finished, pl.next) {
                        self.complete(tenant, job, schedule, !pl.msgs.is_empty())
                            .await;
                    }
                }
                Ok(Advanced::Changed) => report.left += 1,
                Ok(Advanced::Fenced) => {
                    report.fenced = true;
                    report.left += 1;
                }
                Err(e) => {
                    warn_throttled(
                        "advance_failed",
                        &format!("advance of {} failed; will retry: {e}", pl.member),
                    );
                    report.left += 1;
                }
            }
        }
    }

    /// Deactivates a finished schedule whose entry is removed (`fired`: its last instant was
    /// among the pass's fires), unless it was changed, deactivated or deleted meanwhile (the
    /// newer write decided), and records it in the schedule's events and the audit trail.
    async fn complete(&self, tenant: &str, job: &Job, schedule: &Schedule, fired: bool) {
        let sid = &schedule.schedule_id;
        let message = completion_message(job, schedule, fired);
        let note = job.notifications.as_deref().map(|url| DeactivationNote {
            url,
            job_name: &job.name,
            message: &message,
            reason: deactivation_reason::COMPLETED,
        });
        match self
            .store
            .complete_schedule(tenant, job.id, schedule, note.as_ref())
            .await
        {
            Ok(true) => {
                if note.is_some() {
                    let _ = self.store.hint_notes(tenant).await;
                }
            }
            Ok(false) => {
                tracing::debug!(tenant, job_id = job.id, schedule_id = %sid, "finished schedule changed meanwhile; left as it is");
                return;
            }
            Err(e) => {
                warn_throttled(
                    "complete_failed",
                    &format!("deactivation of finished schedule {sid} failed: {e}"),
                );
                return;
            }
        }
        metrics::counter!("chime_schedules_completed_total").increment(1);
        let event = "Schedule deactivated on completion";
        let did = (DEACTIVATION_ON_COMPLETION, message);
        service_did(&self.store, tenant, job.id, sid, Some(event), did).await;
    }
}
