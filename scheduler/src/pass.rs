//! Pass: one look at the due index, up to the publish of its fires.
//!
//! In order: the room the run queue has ([`crate::backpressure`]), the due entries of every
//! partition in one read (past those claimed by passes in flight, [`crate::claims`]), their
//! jobs, schedules and deferrals in one pipeline, the plan of each entry (quota, then
//! [`chime_core::schedule::Plan::fire_until`]), the run records (created once per run id), and
//! the publish of the runs that exist and are active. The pass then hands its confirms and its
//! advance to [`crate::settle`], as a [`Pending`] pass that holds its claim.

use crate::claims::Claim;
use crate::lease::Lease;
use crate::manual::{plan_manual, ManualFire};
use crate::message::run_message;
use crate::quotas::Quotas;
use crate::Scheduler;
use chime_broker::Sent;
use chime_core::model::{Job, MisfirePolicy, RunMessage, Schedule};
use chime_core::schedule::{Lateness, Plan};
use chime_core::time::parse_stored_instant;
use chime_store::keys::Keys;
use chime_store::{Deferral, Materialized, RunStep, SkipSpan, StepAnswer};
use futures::future::join_all;
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::OwnedSemaphorePermit;

/// Levels of a schedule's event log.
pub(crate) mod level {
    pub const INFO: &str = "INFO";
    pub const WARNING: &str = "WARNING";
    pub const ERROR: &str = "ERROR";
}

/// What one pass did, as [`crate::Leader::pass_once`] reports it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PassReport {
    /// The pass's instant (ms), on Redis's clock unless given; `None` when the pass was held
    /// back before it read the clock.
    pub now: Option<i64>,
    /// The run queue had no room: the pass took nothing.
    pub held_back: bool,
    /// Due entries the pass took.
    pub taken: usize,
    /// Runs published and confirmed by the broker, in publish order.
    pub published: Vec<RunMessage>,
    /// Entries moved to their next fire.
    pub advanced: usize,
    /// Entries moved to a later slot because their tenant is over its quota.
    pub deferred: usize,
    /// Entries removed from the due index: finished, gone or inactive.
    pub removed: usize,
    /// Entries left as they were: a fire not recorded or published, the entry changed
    /// meanwhile, the lease's deadline passed mid-pass, or the advance failed or was fenced.
    pub left: usize,
    /// The advance was refused: a newer leader holds the lease.
    pub fenced: bool,
    /// When nothing free was due: the instant (ms) of the earliest entry past those of passes
    /// in flight.
    pub next_due: Option<i64>,
}

/// What a pass came to, before it settles.
pub(crate) enum Step {
    /// The pass ended without publishing anything.
    Ended(Ended),
    /// The pass's fires are published; its confirms and its advance are still to come.
    Published(Box<Pending>),
}

/// How a pass ended without publishing.
pub(crate) enum Ended {
    /// The run queue has no room: nothing was read.
    HeldBack,
    /// Nothing free was due at `now`; the earliest entry past those in flight is `next_due`.
    Idle { now: i64, next_due: Option<i64> },
    /// The lease's deadline passed during the pass: its `taken` entries stay due.
    Abandoned { now: i64, taken: usize },
}

impl Ended {
    /// What the pass did.
    pub(crate) fn report(&self) -> PassReport {
        match *self {
            Ended::HeldBack => PassReport {
                held_back: true,
                ..PassReport::default()
            },
            Ended::Idle { now, next_due } => PassReport {
                now: Some(now),
                next_due,
                ..PassReport::default()
            },
            Ended::Abandoned { now, taken } => PassReport {
                now: Some(now),
                taken,
                left: taken,
                ..PassReport::default()
            },
        }
    }
}

/// A due entry the pass took, with what it loaded for it.
pub(crate) struct Entry {
    pub partition: u32,
    pub member: String,
    pub score: i64,
    /// The nominal instant of a fire deferred over its tenant's quota (its budget reserved).
    pub deferred: Option<i64>,
    /// The nominal instant of a missed one replaying in its turn (no budget reserved).
    pub replay: Option<i64>,
    /// The entry's tenant, job and schedule (`None`: gone or unreadable).
    pub loaded: Option<(String, Arc<Job>, Schedule)>,
}

/// The plan of one due entry: its fires and its advance.
pub(crate) struct Planned {
    pub partition: u32,
    pub member: String,
    /// The score the pass read.
    pub score: i64,
    pub next: Option<i64>,
    pub msgs: Vec<RunMessage>,
    /// A finished schedule's (tenant, job, schedule), its job and itself active and no
    /// instant left: deactivated on completion when its entry is removed.
    pub finished: Option<(String, Arc<Job>, Schedule)>,
    pub deferral: Deferral,
}

impl Planned {
    /// The plan that removes the entry `member` of `partition` read at `score`, forgetting the
    /// instant it remembered, if any: what a gone entry comes to, and where every plan starts.
    pub(crate) fn removal(partition: u32, member: String, score: i64, remembered: bool) -> Self {
        Planned {
            partition,
            member,
            score,
            next: None,
            msgs: vec![],
            finished: None,
            deferral: if remembered {
                Deferral::Clear
            } else {
                Deferral::None
            },
        }
    }

    /// Whether `tenant`'s fire budget has no room at `now`: then the plan fires nothing and
    /// its entry waits for the slot the quota reserved, remembering its instant by `wait`.
    pub(crate) fn waits_for_budget(
        &mut self,
        quotas: &Quotas,
        tenant: &str,
        now: i64,
        wait: Deferral,
    ) -> bool {
        let Some(slot) = quotas.take(tenant, now) else {
            return false;
        };
        self.next = Some(slot);
        self.deferral = wait;
        metrics::counter!("chime_fires_deferred_total").increment(1);
        true
    }
}

/// Missed fires of a schedule not fired: coalesced into the last one (SAP's rule) or
/// skipped by its policy or window.
struct Coalesced {
    tenant: String,
    schedule_id: String,
    skipped: u64,
    /// The first and last instants skipped.
    span: (i64, i64),
    policy: Option<MisfirePolicy>,
    /// The entry's own instant was skipped: its run message and the instant after it. A
    /// leader that died after creating its run and before moving the entry on left that run
    /// to be published again: it is, if its record exists.
    own: Option<(RunMessage, Option<i64>)>,
    /// The plan the entry made (its index in the pass).
    plan: usize,
}

/// A pass whose runs are published, their confirms and its advance still to come.
pub(crate) struct Pending {
    pub plans: Vec<Planned>,
    pub to_publish: Vec<RunMessage>,
    /// The plan of each run of `to_publish`.
    pub owner_of: Vec<usize>,
    /// Plans with a fire that could not be recorded or published (not advanced).
    pub failed: Vec<bool>,
    pub sent: Sent,
    /// The pass's instant (ms).
    pub now: i64,
    /// The pass's hold on its entries and its slot, released once it has settled.
    pub claim: Claim,
}

/// Times the phases of a pass into `chime_scheduler_phase_seconds{phase}`.
pub(crate) struct Phases(Instant);

impl Phases {
    pub(crate) fn start() -> Self {
        Phases(Instant::now())
    }

    pub(crate) fn done(&mut self, phase: &'static str) {
        metrics::histogram!("chime_scheduler_phase_seconds", "phase" => phase)
            .record(self.0.elapsed().as_secs_f64());
        self.0 = Instant::now();
    }
}

impl Scheduler {
    /// One pass for `lease` in the pass slot `slot`, at `now` (Redis's clock when `None`): takes
    /// the free due entries and publishes their fires.
    pub(crate) async fn pass(
        &self,
        lease: &Lease,
        slot: OwnedSemaphorePermit,
        now: Option<i64>,
    ) -> anyhow::Result<Step> {
        let mut phase = Phases::start();
        let s = &self.settings;
        let parts = self.partitions();
        let room = self
            .backpressure
            .limit(
                &self.publisher,
                s.scheduler_batch,
                s.max_queued_runs,
                parts.len() as u32,
            )
            .await?;
        let Some(limit) = room else {
            metrics::counter!("chime_scheduler_held_back_total").increment(1);
            return Ok(Step::Ended(Ended::HeldBack));
        };
        let now = match now {
            Some(now) => now,
            None => self.clock.now_ms(&self.store).await?,
        };
        // Read past the entries of passes in flight (see `InFlight::read_start`).
        let start = self.in_flight.read_start();
        let reads = parts
            .iter()
            .map(|&p| self.store.due_batch(p, now, limit + start.taken));
        let batches = join_all(reads)
            .await
            .into_iter()
            .collect::<Result<Vec<_>, _>>()?;
        // One combined batch over the shard's partitions: a pass costs a few round trips
        // whatever their number.
        let (mut due, claim) = self.in_flight.claim(&batches, start, limit, slot);
        for entry in &mut due {
            entry.0 = parts[entry.0 as usize];
        }
        if due.is_empty() {
            // Nothing free is due: the earliest entry past the due ones (all in flight).
            let heads = parts
                .iter()
                .zip(&batches)
                .map(|(&p, batch)| self.store.due_head(p, batch.len()));
            let next_due = join_all(heads)
                .await
                .into_iter()
                .filter_map(|h| h.ok().flatten())
                .min();
            drop(claim);
            return Ok(Step::Ended(Ended::Idle { now, next_due }));
        }
        phase.done("fetch");
        let taken = due.len();
        if lease.expired() {
            return Ok(Step::Ended(Ended::Abandoned { now, taken }));
        }
        self.fire(lease, due, now, claim, phase).await
    }

    /// Fires a batch of due entries (partition, member, score): plans, records and publishes
    /// their runs. The pending pass holds the `claim` on the entries.
    async fn fire(
        &self,
        lease: &Lease,
        batch: Vec<(u32, String, i64)>,
        now: i64,
        claim: Claim,
        mut phase: Phases,
    ) -> anyhow::Result<Step> {
        let taken = batch.len();
        let entries = self.load(batch).await?;
        let late = Lateness {
            threshold_ms: self.settings.misfire_threshold_secs as i64 * 1000,
            grace_ms: self.settings.misfire_grace_secs as i64 * 1000,
        };
        let mut plans: Vec<Planned> = Vec::with_capacity(entries.len());
        let mut coalesced = Vec::new();
        for entry in entries {
            let (planned, missed) = if let Some(manual) = ManualFire::of(&entry.member) {
                let epoch = lease.epoch;
                (
                    plan_manual(entry, manual, now, (&self.owner, epoch), &self.quotas),
                    None,
                )
            } else {
                plan_entry(entry, now, late, &self.owner, lease.epoch, &self.quotas)
            };
            coalesced.extend(missed.map(|mut c| {
                c.plan = plans.len();
                c
            }));
            plans.push(planned);
        }
        for mut c in coalesced {
            if !self.republish_own(&mut c, &mut plans).await {
                continue; // its one skipped instant had fired: nothing was skipped
            }
            let why = match c.policy {
                None => "coalesced into the last one (outage longer than the misfire threshold)",
                Some(MisfirePolicy::Skip) => "skipped (misfire policy skip)",
                Some(MisfirePolicy::Last) => {
                    "skipped for the most recent one (misfire policy last)"
                }
                Some(MisfirePolicy::All) => "skipped (older than the misfire window)",
            };
            let message = format!("{} missed fires were {why}", c.skipped);
            let skip = SkipSpan {
                reason: "misfire",
                first: c.span.0,
                last: c.span.1,
                count: c.skipped,
            };
            let _ = self
                .store
                .schedule_skip(&c.tenant, &c.schedule_id, level::WARNING, &message, &skip)
                .await;
            metrics::counter!("chime_fires_coalesced_total").increment(c.skipped);
        }
        phase.done("plan");
        let contended = self.firing.fired(
            plans
                .iter()
                .flat_map(|p| p.msgs.iter().map(|m| m.tenant.as_str())),
        );
        self.store.admission().set_contended(contended);
        let (to_publish, owner_of, failed, busy) = self.materialize(&plans, now).await;
        for (plan, at) in plans.iter_mut().zip(busy) {
            if let Some(at) = at {
                hold_for_capacity(plan, at, now);
            }
        }
        if lease.expired() {
            return Ok(Step::Ended(Ended::Abandoned { now, taken }));
        }
        phase.done("materialize");
        let sent = self
            .publisher
            .send_all(&to_publish, self.settings.runs_per_message)
            .await;
        self.backpressure
            .published(to_publish.len() as u64, sent.messages() as u64);
        phase.done("publish");
        Ok(Step::Published(Box::new(Pending {
            plans,
            to_publish,
            owner_of,
            failed,
            sent,
            now,
            claim,
        })))
    }

    /// A skipped span that starts with its entry's own instant: when that instant's run exists
    /// (created by a leader that died before moving the entry on), it goes out again (its
    /// record decides: published if unfinished) and leaves the span. Whether anything is left
    /// skipped.
    async fn republish_own(&self, c: &mut Coalesced, plans: &mut [Planned]) -> bool {
        let Some((m, after)) = c.own.take() else {
            return true;
        };
        match self.store.run(&m.tenant, &m.run_id).await {
            Ok(Some(_)) => {
                metrics::counter!("chime_fires_republished_total", "reason" => "misfire")
                    .increment(1);
                plans[c.plan].msgs.insert(0, m);
                c.skipped -= 1;
                match after.filter(|a| *a <= c.span.1) {
                    Some(a) => {
                        c.span.0 = a;
                        true
                    }
                    None => false,
                }
            }
            _ => true,
        }
    }

    /// Loads the entries' jobs, schedules and deferred instants, and refreshes the quotas of
    /// their tenants.
    async fn load(&self, batch: Vec<(u32, String, i64)>) -> anyhow::Result<Vec<Entry>> {
        let parsed: Vec<Option<(&str, u64, &str)>> = batch
            .iter()
            .map(|(_, member, _)| Keys::parse_due_member(member))
            .collect();
        let wanted: Vec<(&str, u64, &str)> = parsed.iter().flatten().copied().collect();
        let members: Vec<&str> = batch.iter().map(|(_, m, _)| m.as_str()).collect();
        // Both reads go out together on the multiplexed connection.
        let (defs, deferred) = tokio::join!(
            self.store.due_definitions(&wanted),
            self.store.deferred_nominals(self.shard, &members)
        );
        let (mut defs, deferred) = (defs?.into_iter(), deferred?);
        let loaded: Vec<Option<(String, Arc<Job>, Schedule)>> = parsed
            .iter()
            .map(|p| {
                let (tenant, _, _) = (*p)?;
                let (job, schedule) = defs.next().flatten()?;
                Some((tenant.to_string(), job, schedule))
            })
            .collect();
        let tenants = loaded.iter().flatten().map(|(t, _, _)| t.as_str());
        self.quotas.refresh(&self.store, tenants).await;
        Ok(batch
            .into_iter()
            .zip(loaded)
            .zip(deferred)
            .map(|(((partition, member, score), loaded), d)| Entry {
                partition,
                member,
                score,
                deferred: d.filter(|d| !d.replay).map(|d| d.nominal),
                replay: d.filter(|d| d.replay).map(|d| d.nominal),
                loaded,
            })
            .collect())
    }

    /// Creates the run records of the plans' fires: the runs to publish (those that exist and
    /// are active), the plan of each, the plans with a fire that could not be recorded, and
    /// for each plan the first instant its tenant's cap of runs in flight held back.
    async fn materialize(
        &self,
        plans: &[Planned],
        now: i64,
    ) -> (Vec<RunMessage>, Vec<usize>, Vec<bool>, Vec<Option<i64>>) {
        let all: Vec<(usize, &RunMessage)> = plans
            .iter()
            .enumerate()
            .flat_map(|(i, p)| p.msgs.iter().map(move |m| (i, m)))
            .collect();
        let steps: Vec<(&RunMessage, RunStep)> = all
            .iter()
            .map(|(_, m)| (*m, RunStep::Materialize))
            .collect();
        let answers: Vec<Result<StepAnswer, String>> =
            match self.store.record_steps(&steps, now, "").await {
                Ok(a) => a.into_iter().map(Ok).collect(),
                Err(e) => vec![Err(e.to_string()); all.len()],
            };
        let mut to_publish: Vec<RunMessage> = Vec::new();
        let mut owner_of: Vec<usize> = Vec::new();
        let mut failed = vec![false; plans.len()];
        let mut busy: Vec<Option<i64>> = vec![None; plans.len()];
        for ((i, m), answer) in all.iter().zip(answers) {
            match answer.map(|a| match a {
                StepAnswer::Materialized(m) => Ok(m),
                other => Err(format!("a materialize answered {other:?}")),
            }) {
                Ok(Ok(made @ (Materialized::Created | Materialized::Existed))) => {
                    let mut m = (*m).clone();
                    m.fresh = made == Materialized::Created;
                    to_publish.push(m);
                    owner_of.push(*i);
                }
                Ok(Ok(Materialized::Finished)) => {
                    // Published before and finished since (its advance was lost): only the
                    // advance is left to do.
                    metrics::counter!("chime_runs_republish_skipped_total").increment(1);
                }
                Ok(Ok(Materialized::Inactive)) => {
                    let message = "Cannot start run: the job or the schedule is inactive";
                    let _ = self
                        .store
                        .schedule_event(&m.tenant, &m.schedule_id, level::ERROR, message)
                        .await;
                }
                Ok(Ok(Materialized::Gone)) => {} // gone meanwhile: nothing to fire
                Ok(Ok(Materialized::Overlap)) => {
                    metrics::counter!("chime_fires_skipped_total", "reason" => "overlap")
                        .increment(1);
                    let span = chime_store::SkipSpan {
                        reason: "overlap",
                        first: m.scheduled_at,
                        last: m.scheduled_at,
                        count: 1,
                    };
                    let message = "Run skipped: the schedule's previous run is still in progress (concurrencyPolicy forbid)";
                    let _ = self
                        .store
                        .schedule_skip(&m.tenant, &m.schedule_id, level::INFO, message, &span)
                        .await;
                }
                Ok(Ok(Materialized::Busy)) => {
                    metrics::counter!("chime_fires_held_total", "reason" => "in_flight_cap")
                        .increment(1);
                    let at = busy[*i].get_or_insert(m.scheduled_at);
                    *at = (*at).min(m.scheduled_at);
                }
                Ok(Err(e)) | Err(e) => {
                    chime_runtime::telemetry::warn_throttled(
                        "materialize_failed",
                        &format!("materialize of run {} failed: {e}", m.run_id),
                    );
                    failed[*i] = true;
                }
            }
        }
        // Runs of one tenant together: a message carries one tenant's runs (broker::chunks).
        let mut runs: Vec<(RunMessage, usize)> = to_publish.into_iter().zip(owner_of).collect();
        runs.sort_by(|a, b| a.0.tenant.cmp(&b.0.tenant));
        let (to_publish, owner_of) = runs.into_iter().unzip();
        (to_publish, owner_of, failed, busy)
    }
}

/// The tenants that fired in the last [`Firing::WINDOW`]: a tenant alone is not held to the
/// cap on runs in flight (its runs wait for no one else's, and a cap would only slow it), two
/// or more are.
#[derive(Default)]
pub(crate) struct Firing {
    last: std::sync::Mutex<std::collections::HashMap<String, std::time::Instant>>,
}

impl Firing {
    const WINDOW: std::time::Duration = std::time::Duration::from_secs(5);

    /// Notes that `tenants` fire now; whether more than one tenant fired within the window.
    pub(crate) fn fired<'a>(&self, tenants: impl Iterator<Item = &'a str>) -> bool {
        let now = std::time::Instant::now();
        let mut last = self
            .last
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for t in tenants {
            match last.get_mut(t) {
                Some(at) => *at = now,
                None => {
                    last.insert(t.to_string(), now);
                }
            }
        }
        last.retain(|_, at| now.duration_since(*at) < Self::WINDOW);
        last.len() > 1
    }
}

/// How long a fire held back by its tenant's cap of runs in flight waits before the leader
/// tries it again.
const CAPACITY_RECHECK_MS: i64 = 250;

/// A plan whose fire at `at` (and those after it) its tenant's cap of runs in flight held
/// back: its entry waits [`CAPACITY_RECHECK_MS`] and then fires `at`, its nominal instant,
/// under the same run id (fires before `at` went out).
fn hold_for_capacity(plan: &mut Planned, at: i64, now: i64) {
    plan.next = Some(now + CAPACITY_RECHECK_MS);
    plan.deferral = Deferral::Defer { nominal: at };
    plan.finished = None;
}

/// Plans one due entry at `now`: its fires, stamped with the leader's `owner` and `epoch`, and
/// its advance; with the missed fires it coalesced, if any.
///
/// A fire of an active schedule over its tenant's quota waits for its slot (the entry moves to
/// the slot and remembers its nominal instant); a deferred fire reached its slot with its
/// budget reserved and fires its nominal instant. A gone, inactive or unreadable schedule's
/// entry is removed.
fn plan_entry(
    entry: Entry,
    now: i64,
    late: Lateness,
    owner: &str,
    epoch: u64,
    quotas: &Quotas,
) -> (Planned, Option<Coalesced>) {
    let Entry {
        partition,
        member,
        score,
        deferred,
        replay,
        loaded,
    } = entry;
    let remembered = deferred.is_some() || replay.is_some();
    let mut planned = Planned::removal(partition, member, score, remembered);
    let Some((tenant, job, schedule)) = loaded.filter(|(_, j, s)| j.active && s.active) else {
        return (planned, None); // gone or inactive: remove the entry
    };
    let plan = match Plan::for_job(&job, &schedule) {
        Ok(plan) => plan,
        Err(e) => {
            tracing::warn!(member = %planned.member, error = %e, "unreadable schedule; removing from due index");
            return (planned, None);
        }
    };
    // A replay takes from the budget like any fire.
    let wait = match replay {
        Some(nominal) => Deferral::Reserve { nominal },
        None => Deferral::Defer { nominal: score },
    };
    if deferred.is_none() && planned.waits_for_budget(quotas, &tenant, now, wait) {
        return (planned, None);
    }
    let job_end = job.end_time.as_deref().and_then(parse_stored_instant);
    let d = plan.fire_until(deferred.or(replay).unwrap_or(score), now, late, job_end);
    planned.next = d.next;
    if let (Some(nominal), Some(at)) = (d.next, d.not_before) {
        // A replay waits its turn, and then fires its nominal instant.
        planned.next = Some(at);
        planned.deferral = Deferral::Replay { nominal };
    }
    planned.msgs = d
        .fire
        .iter()
        .map(|at| run_message(&tenant, &job, &schedule, *at, owner, epoch))
        .collect();
    let own = deferred.or(replay).unwrap_or(score);
    let missed = d.skipped_span.map(|span| Coalesced {
        tenant: tenant.clone(),
        schedule_id: schedule.schedule_id.clone(),
        skipped: d.skipped,
        span,
        policy: plan.misfire.policy,
        own: (span.0 == own).then(|| {
            let m = run_message(&tenant, &job, &schedule, own, owner, epoch);
            (m, plan.after(own))
        }),
        plan: 0,
    });
    if d.next.is_none() {
        planned.finished = Some((tenant, job, schedule));
    }
    (planned, missed)
}

#[cfg(test)]
mod tests;
