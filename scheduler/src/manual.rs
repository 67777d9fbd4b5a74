//! Manual fires ("run now"): the due entry the API writes for a manual run of a schedule
//! ([`Keys::manual_due_member`]: the schedule's member, the run id the API chose and the
//! requesting key), and its plan. A pass reads it with the other due entries and fires it
//! through the same steps (quota, materialize once per run id, the tenant's cap of runs in
//! flight, publish, settle); unlike a schedule's entry it fires one run, whatever the schedule's
//! timing and activation, and is then removed.

use crate::message::manual_message;
use crate::pass::{Entry, Planned};
use crate::quotas::Quotas;
use chime_store::keys::Keys;
use chime_store::Deferral;

/// A manual fire ("run now"), as its due entry's member names it: the run id the API chose
/// and the id of the API key that requested it.
pub(crate) struct ManualFire {
    run: String,
    key_id: String,
}

impl ManualFire {
    /// The manual fire a due entry's member names; `None` for a schedule's own entry.
    pub(crate) fn of(member: &str) -> Option<ManualFire> {
        Keys::parse_manual_due_member(member).map(|(run, key_id)| ManualFire {
            run: run.to_string(),
            key_id: key_id.to_string(),
        })
    }
}

/// Plans a manual fire's due entry at `now`, stamped with the leader's (owner, epoch): one run
/// under the run id the API chose, at its nominal instant (the request instant: the entry's
/// score, or the one a deferral kept), whether or not its job and schedule are active and
/// whatever the schedule's timing; then the entry is removed, never moved to a next fire.
///
/// Like any fire it takes from its tenant's quota, and over it waits for its slot (the entry
/// moves there and keeps its nominal instant); the tenant's cap of runs in flight and the
/// materialize step (once per run id) apply as to every fire. A gone job or schedule
/// removes the entry.
pub(crate) fn plan_manual(
    entry: Entry,
    manual: ManualFire,
    now: i64,
    (owner, epoch): (&str, u64),
    quotas: &Quotas,
) -> Planned {
    let Entry {
        partition,
        member,
        score,
        deferred,
        loaded,
        ..
    } = entry;
    let mut planned = Planned::removal(partition, member, score, deferred.is_some());
    let Some((tenant, job, schedule)) = loaded else {
        return planned; // the job or the schedule is gone: remove the entry
    };
    let wait = Deferral::Defer { nominal: score };
    if deferred.is_none() && planned.waits_for_budget(quotas, &tenant, now, wait) {
        return planned;
    }
    let at = deferred.unwrap_or(score);
    let fire = (manual.run.as_str(), manual.key_id.as_str());
    planned.msgs = vec![manual_message(
        &tenant, &job, &schedule, fire, at, owner, epoch,
    )];
    planned
}
