//! The pass's planning of due entries, without I/O.
use super::*;
use chime_core::model::run_id;
use chime_core::time::format_instant;
use serde_json::json;

const T0: i64 = 1_800_000_000_000;

#[test]
fn one_tenant_firing_alone_does_not_contend_two_do() {
    let firing = Firing::default();
    assert!(!firing.fired(["a", "a"].into_iter()));
    assert!(!firing.fired(["a"].into_iter()));
    assert!(firing.fired(["b"].into_iter()), "a fired moments ago");
    assert!(firing.fired(std::iter::empty()));
}

fn job(active: bool, end: Option<i64>) -> Arc<Job> {
    Arc::new(
        serde_json::from_value(json!({
            "_id": 3, "name": "j", "description": "", "action": "http://t/",
            "active": active, "httpMethod": "POST", "startTime": null,
            "endTime": end.map(format_instant), "timeoutMs": 5000, "createdAt": "",
            "modifiedAt": "",
        }))
        .unwrap(),
    )
}

fn schedule(how: serde_json::Value) -> Schedule {
    let mut s = json!({
        "scheduleId": "s1", "description": "", "data": null, "type": "recurring",
        "cron": null, "time": null, "repeatInterval": null, "repeatAt": null,
        "active": true, "startTime": null, "endTime": null, "createdAt": "",
        "modifiedAt": "",
    });
    s.as_object_mut()
        .unwrap()
        .extend(how.as_object().unwrap().clone());
    serde_json::from_value(s).unwrap()
}

fn entry(job: Arc<Job>, schedule: Schedule, deferred: Option<i64>) -> Entry {
    Entry {
        partition: 1,
        member: "m".into(),
        score: T0,
        deferred,
        replay: None,
        loaded: Some(("t".into(), job, schedule)),
    }
}

fn plan(e: Entry, now: i64, quotas: &Quotas) -> (Planned, Option<Coalesced>) {
    let late = Lateness {
        threshold_ms: 1_200_000,
        grace_ms: 60_000,
    };
    plan_entry(e, now, late, "o", 5, quotas)
}

#[test]
fn a_due_entry_fires_its_instant_and_moves_to_the_next() {
    let q = Quotas::new(0, 1);
    let every = schedule(json!({"repeatInterval": "10 seconds"}));
    let (p, missed) = plan(entry(job(true, None), every, None), T0 + 5, &q);
    assert!(missed.is_none());
    assert_eq!((p.partition, p.score, p.next), (1, T0, Some(T0 + 10_000)));
    assert_eq!(p.deferral, Deferral::None);
    assert_eq!(p.msgs.len(), 1);
    assert_eq!(p.msgs[0].run_id, run_id("s1", T0));
    assert_eq!((p.msgs[0].epoch, p.msgs[0].owner.as_str()), (5, "o"));
    assert!(p.finished.is_none());
}

#[test]
fn a_fire_over_quota_is_deferred_and_later_fires_its_nominal_instant() {
    let q = Quotas::new(60, 1); // one a second, a second's burst
    let every = schedule(json!({"repeatInterval": "10 seconds"}));
    for _ in 0..2 {
        let (p, _) = plan(entry(job(true, None), every.clone(), None), T0, &q);
        assert_eq!(p.msgs.len(), 1, "within the burst");
    }
    let (p, _) = plan(entry(job(true, None), every.clone(), None), T0, &q);
    assert!(p.msgs.is_empty());
    assert_eq!(p.next, Some(T0 + 1_000), "the reserved slot");
    assert_eq!(p.deferral, Deferral::Defer { nominal: T0 });
    // At its slot the entry (scored at the slot) fires its nominal instant without taking
    // budget again, and forgets its deferral.
    let mut e = entry(job(true, None), every, Some(T0));
    e.score = T0 + 1_000;
    let (p, _) = plan(e, T0 + 1_000, &q);
    assert_eq!(p.msgs[0].scheduled_at, T0);
    assert_eq!(p.deferral, Deferral::Clear);
    assert_eq!(p.next, Some(T0 + 10_000));
}

#[test]
fn gone_inactive_and_finished_entries_are_removed() {
    let q = Quotas::new(0, 1);
    let every = schedule(json!({"repeatInterval": "10 seconds"}));
    let mut gone = entry(job(true, None), every.clone(), Some(T0));
    gone.loaded = None;
    let (p, _) = plan(gone, T0, &q);
    assert_eq!(
        (p.next, p.msgs.len(), p.deferral),
        (None, 0, Deferral::Clear)
    );
    assert!(p.finished.is_none(), "gone: not finished");
    let (p, _) = plan(entry(job(false, None), every.clone(), None), T0, &q);
    assert_eq!((p.next, p.msgs.len()), (None, 0));
    assert!(p.finished.is_none(), "inactive: not finished");
    // The job ends before the next instant: the last fire, then the entry is removed and
    // the schedule is finished.
    let (p, _) = plan(entry(job(true, Some(T0 + 1)), every.clone(), None), T0, &q);
    assert_eq!((p.next, p.msgs.len()), (None, 1));
    assert!(p.finished.is_some());
    // So it is when its own end comes before the next instant.
    let mut ending = every.clone();
    ending.end_time = Some(format_instant(T0 + 5_000));
    let (p, _) = plan(entry(job(true, None), ending, None), T0, &q);
    assert_eq!((p.next, p.msgs.len()), (None, 1));
    assert!(p.finished.is_some());
    // A job whose start is later than the entry (it moved): nothing fires before it.
    let mut later = (*job(true, None)).clone();
    later.start_time = Some(format_instant(T0 + 3_000));
    let (p, _) = plan(entry(Arc::new(later), every, None), T0, &q);
    assert_eq!((p.next, p.msgs.len()), (Some(T0 + 3_000), 0));
    assert!(p.finished.is_none());
    // A one-time schedule fires once and is completed.
    let once = schedule(json!({"type": "one-time", "time": format_instant(T0)}));
    let (p, _) = plan(entry(job(true, None), once, None), T0 + 50, &q);
    assert_eq!((p.next, p.msgs.len()), (None, 1));
    assert_eq!(p.finished.map(|(t, j, _)| (t, j.id)), Some(("t".into(), 3)));
}

#[test]
fn a_long_outage_is_coalesced_into_the_last_instant() {
    let q = Quotas::new(0, 1);
    let cron = schedule(json!({"cron": "* * * * * * */10"}));
    let (p, missed) = plan(entry(job(true, None), cron, None), T0 + 3_600_000, &q);
    let missed = missed.expect("coalesced");
    assert_eq!(
        (missed.tenant.as_str(), missed.schedule_id.as_str()),
        ("t", "s1")
    );
    assert_eq!(missed.skipped, 360);
    assert_eq!(p.msgs[0].scheduled_at, T0 + 3_600_000);
}

/// A manual fire's entry (run `4RUN` requested by key `k1`) of schedule `s1` of job 3.
fn manual(job: Arc<Job>, schedule: Schedule, deferred: Option<i64>) -> (Entry, ManualFire) {
    let mut e = entry(job, schedule, deferred);
    e.member = Keys::manual_due_member("t", 3, "s1", "4RUN", "k1");
    let m = ManualFire::of(&e.member).expect("a manual fire's member");
    (e, m)
}

#[test]
fn a_manual_entry_fires_its_own_run_now_whatever_the_schedule_and_is_removed() {
    let q = Quotas::new(0, 1);
    assert!(ManualFire::of(&Keys::due_member("t", 3, "s1")).is_none());
    let hourly = schedule(json!({"repeatInterval": "1 hour"}));
    let mut off = hourly.clone();
    off.active = false;
    // An active schedule not due for an hour, an inactive schedule, an inactive job.
    for (j, s) in [
        (job(true, None), hourly.clone()),
        (job(true, None), off),
        (job(false, None), hourly.clone()),
    ] {
        let (e, m) = manual(j, s, None);
        let p = plan_manual(e, m, T0 + 5, ("o", 5), &q);
        assert_eq!(p.msgs.len(), 1);
        let msg = &p.msgs[0];
        assert_eq!(msg.run_id, "4RUN", "the API's run id, never the schedule's");
        assert_ne!(msg.run_id, run_id("s1", T0));
        assert_eq!(msg.requested_by.as_deref(), Some("k1"));
        assert_eq!(
            msg.scheduled_at, T0,
            "the request instant (the entry's score)"
        );
        assert_eq!((msg.epoch, msg.owner.as_str(), msg.job_id), (5, "o", 3));
        assert_eq!((p.next, p.deferral), (None, Deferral::None), "removed");
        assert!(p.finished.is_none());
    }
    // A gone job or schedule: the entry is removed, nothing fires.
    let (mut gone, m) = manual(job(true, None), hourly, Some(T0));
    gone.loaded = None;
    let p = plan_manual(gone, m, T0, ("o", 5), &q);
    assert_eq!(
        (p.next, p.msgs.len(), p.deferral),
        (None, 0, Deferral::Clear)
    );
}

#[test]
fn a_manual_fire_over_quota_waits_for_its_slot_and_then_fires_its_request_instant() {
    let q = Quotas::new(60, 1); // one a second, a second's burst
    let hourly = schedule(json!({"repeatInterval": "1 hour"}));
    for _ in 0..2 {
        let (e, m) = manual(job(true, None), hourly.clone(), None);
        assert_eq!(plan_manual(e, m, T0, ("o", 5), &q).msgs.len(), 1);
    }
    let (e, m) = manual(job(true, None), hourly.clone(), None);
    let p = plan_manual(e, m, T0, ("o", 5), &q);
    assert!(p.msgs.is_empty(), "over quota: not fired now");
    assert_eq!(p.next, Some(T0 + 1_000), "the reserved slot");
    assert_eq!(p.deferral, Deferral::Defer { nominal: T0 });
    // At its slot it fires the same run at the request instant, without taking budget
    // again, and the entry goes away with its deferral.
    let (mut e, m) = manual(job(true, None), hourly, Some(T0));
    e.score = T0 + 1_000;
    let p = plan_manual(e, m, T0 + 1_000, ("o", 5), &q);
    assert_eq!(p.msgs.len(), 1);
    assert_eq!(
        (p.msgs[0].run_id.as_str(), p.msgs[0].scheduled_at),
        ("4RUN", T0)
    );
    assert_eq!((p.next, p.deferral), (None, Deferral::Clear));
}

#[test]
fn a_replay_takes_from_the_budget_and_over_it_waits_as_a_deferral() {
    let q = Quotas::new(60, 1); // one a second, a second's burst
    let mut every = schedule(json!({"crontab": "* * * * * *", "misfirePolicy": "all"}));
    every.misfire_replay_per_second = Some(1);
    // A replay of T0 waiting its turn, due at T0 + 90 s: the budget has room twice.
    let replay = |q: &Quotas| {
        let mut e = entry(job(true, None), every.clone(), None);
        e.replay = Some(T0);
        e.score = T0 + 90_000;
        plan(e, T0 + 90_000, q).0
    };
    for _ in 0..2 {
        let p = replay(&q);
        assert_eq!(p.msgs.len(), 1);
        assert_eq!(p.msgs[0].scheduled_at, T0);
        // The next missed instant replays in its turn, a second later.
        assert_eq!(
            p.deferral,
            Deferral::Replay {
                nominal: T0 + 1_000
            }
        );
        assert_eq!(p.next, Some(T0 + 91_000));
    }
    // Over the budget: no fire; the replay waits for its slot with its budget reserved.
    let p = replay(&q);
    assert!(p.msgs.is_empty());
    assert_eq!(p.deferral, Deferral::Reserve { nominal: T0 });
    assert_eq!(p.next, Some(T0 + 91_000));
}
