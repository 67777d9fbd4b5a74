//! The planner's tests, with explicit instants.
use super::*;

fn plan(kind: Kind) -> Plan {
    Plan::of(kind)
}

/// SAP's rule with this threshold.
fn sap(threshold_ms: i64) -> Lateness {
    Lateness {
        threshold_ms,
        grace_ms: 60_000,
    }
}

fn ms(s: &str) -> i64 {
    parse_stored_instant(s).unwrap()
}

#[test]
fn cron_fires_on_grid_and_replays_short_outages() {
    let p = plan(Kind::Cron(Box::new("* * * * * * */10".parse().unwrap())));
    let t0 = ms("2026-01-01T00:00:00Z");
    assert_eq!(p.first(t0 + 1), Some(t0 + 10_000));
    assert_eq!(p.first(t0), Some(t0));
    // 35 s late, under the threshold: fire the due instant, the next is already due.
    let d = p.fire(t0, t0 + 35_000, sap(1_200_000));
    assert_eq!(d, FireDecision::new(vec![t0], Some(t0 + 10_000)));
}

#[test]
fn cron_coalesces_long_outages_into_the_last_instant() {
    let p = plan(Kind::Cron(Box::new("* * * * * * */10".parse().unwrap())));
    let t0 = ms("2026-01-01T00:00:00Z");
    let now = t0 + 3_600_000 + 5_000; // an hour and 5 s late
    let d = p.fire(t0, now, sap(1_200_000));
    assert_eq!(d.fire, vec![t0 + 3_600_000]);
    assert_eq!(d.skipped, 360);
    assert_eq!(d.next, Some(t0 + 3_610_000));
}

#[test]
fn a_late_interval_fires_once_and_keeps_its_phase() {
    let p = plan(Kind::Interval(2_000));
    assert_eq!(p.first(5_000), Some(5_000));
    assert_eq!(p.fire(5_000, 5_050, sap(1_200_000)).next, Some(7_000));
    assert_eq!(p.fire(5_000, 7_000, sap(1_200_000)).next, Some(9_000));
    let late = p.fire(5_000, 9_500, sap(1_200_000));
    assert_eq!((late.fire, late.next), (vec![5_000], Some(11_000)));
    // However late, the next fire is on the grid, after now, within one interval.
    for now in (5_000..40_000).step_by(137) {
        let next = p.fire(5_000, now, sap(1_200_000)).next.unwrap();
        assert_eq!((next - 5_000) % 2_000, 0, "at {now}");
        assert!(next > now && next <= now + 2_000, "at {now}: {next}");
    }
}

#[test]
fn one_time_fires_once_even_if_late_unless_ended() {
    let mut p = plan(Kind::Time(1_000));
    assert_eq!(p.first(50_000), Some(1_000));
    assert_eq!(p.fire(1_000, 50_000, sap(10)).fire, vec![1_000]);
    assert_eq!(p.fire(1_000, 50_000, sap(10)).next, None);
    p.end = Some(2_000);
    assert_eq!(p.first(50_000), None);
}

#[test]
fn window_bounds_fires() {
    let mut p = plan(Kind::Interval(1_000));
    p.start = Some(10_000);
    p.end = Some(12_500);
    assert_eq!(p.first(0), Some(10_000));
    assert_eq!(p.fire(12_000, 12_000, sap(1)).next, None);
}

#[test]
fn a_jobs_end_bounds_the_fires_and_the_next_instant() {
    let p = plan(Kind::Cron(Box::new("* * * * * * */10".parse().unwrap())));
    let t0 = ms("2026-01-01T00:00:00Z");
    // Within the job's window: the same decision as without it.
    assert_eq!(
        p.fire_until(t0, t0 + 1_000, sap(1_200_000), Some(t0 + 10_000)),
        p.fire(t0, t0 + 1_000, sap(1_200_000))
    );
    // The next instant is past the job's end: the schedule is finished.
    let d = p.fire_until(t0, t0 + 1_000, sap(1_200_000), Some(t0 + 9_999));
    assert_eq!((d.fire, d.next), (vec![t0], None));
    // The job ended before the due instant (its end moved): nothing fires, the misfires
    // coalesced are still counted.
    let d = p.fire_until(t0, t0 + 3_605_000, sap(1_200_000), Some(t0 - 1));
    assert_eq!((d.fire, d.skipped, d.next), (vec![], 360, None));
    // A one-time schedule's instant fires once; its entry is then removed.
    let once = plan(Kind::Time(t0));
    assert!(once.is_one_time() && !p.is_one_time());
    let d = once.fire_until(t0, t0, sap(1), Some(t0));
    assert_eq!((d.fire, d.next), (vec![t0], None));
    assert!(once
        .fire_until(t0, t0, sap(1), Some(t0 - 1))
        .fire
        .is_empty());
}

#[test]
fn daily_repeat_at() {
    let p = plan(Kind::RepeatAt(16 * 3600 + 40 * 60));
    let day = ms("2026-03-01T00:00:00Z");
    assert_eq!(p.first(day), Some(day + (16 * 3600 + 40 * 60) * 1000));
    let late = day + 17 * 3600 * 1000;
    assert_eq!(
        p.first(late),
        Some(day + DAY_MS + (16 * 3600 + 40 * 60) * 1000)
    );
    assert_eq!(seconds_of_day(p.first(day).unwrap()), 16 * 3600 + 40 * 60);
}

fn with_policy(kind: Kind, policy: MisfirePolicy, window_s: Option<i64>) -> Plan {
    let mut p = plan(kind);
    p.misfire = Misfire {
        policy: Some(policy),
        replay_per_second: 2,
        window_ms: window_s.map(|w| w * 1000),
    };
    p
}

fn every_10s() -> Kind {
    Kind::Crontab(Box::new("*/10 * * * * *".parse().unwrap()))
}

const GRACE: Lateness = Lateness {
    threshold_ms: 1_200_000,
    grace_ms: 1_000,
};

#[test]
fn on_time_instants_fire_whatever_the_policy() {
    let t0 = ms("2026-01-01T00:00:00Z");
    for policy in MisfirePolicy::ALL {
        let p = with_policy(every_10s(), *policy, Some(30));
        let d = p.fire(t0, t0 + 500, GRACE);
        assert_eq!(
            d,
            FireDecision::new(vec![t0], Some(t0 + 10_000)),
            "{policy}"
        );
    }
}

#[test]
fn all_replays_every_missed_instant_oldest_first_throttled() {
    let t0 = ms("2026-01-01T00:00:00Z");
    let p = with_policy(every_10s(), MisfirePolicy::All, None);
    let now = t0 + 35_000;
    let d = p.fire(t0, now, GRACE);
    assert_eq!(
        (d.fire, d.next, d.skipped),
        (vec![t0], Some(t0 + 10_000), 0)
    );
    // Two a second: the next replay waits half a second.
    assert_eq!(d.not_before, Some(now + 500));
    // The last missed one is followed by an instant still ahead: no wait.
    let d = p.fire(t0 + 30_000, now, GRACE);
    assert_eq!((d.next, d.not_before), (Some(t0 + 40_000), None));
}

#[test]
fn the_window_skips_old_instants_whatever_the_policy() {
    let t0 = ms("2026-01-01T00:00:00Z");
    let now = t0 + 65_000; // instants t0 .. t0+60 s are due
    let p = with_policy(every_10s(), MisfirePolicy::All, Some(30));
    let d = p.fire(t0, now, GRACE);
    // t0 .. t0+30 s are more than 30 s old: skipped; t0+40 s replays first.
    assert_eq!(d.skipped_span, Some((t0, t0 + 30_000)));
    assert_eq!((d.skipped, d.fire.clone()), (4, vec![t0 + 40_000]));
    assert_eq!(d.next, Some(t0 + 50_000));
}

#[test]
fn last_fires_only_the_most_recent_missed_instant() {
    let t0 = ms("2026-01-01T00:00:00Z");
    let p = with_policy(every_10s(), MisfirePolicy::Last, None);
    let d = p.fire(t0, t0 + 65_000, GRACE);
    assert_eq!((d.skipped, d.skipped_span), (6, Some((t0, t0 + 50_000))));
    assert_eq!((d.fire, d.next), (vec![t0 + 60_000], Some(t0 + 70_000)));
}

#[test]
fn skip_fires_none_of_the_missed_and_resumes_on_time() {
    let t0 = ms("2026-01-01T00:00:00Z");
    let p = with_policy(every_10s(), MisfirePolicy::Skip, None);
    let d = p.fire(t0, t0 + 65_000, GRACE);
    assert_eq!((d.skipped, d.skipped_span), (7, Some((t0, t0 + 60_000))));
    assert_eq!((d.fire, d.next), (vec![], Some(t0 + 70_000)));
    // An instant within the grace still fires.
    let d = p.fire(t0, t0 + 60_500, GRACE);
    assert_eq!((d.skipped, d.fire), (6, vec![t0 + 60_000]));
    // A one-time schedule reached late never fires.
    let once = with_policy(Kind::Time(t0), MisfirePolicy::Skip, None);
    let d = once.fire(t0, t0 + 5_000, GRACE);
    assert_eq!((d.fire, d.next, d.skipped), (vec![], None, 1));
}

#[test]
fn a_cron_in_a_zone_fires_on_its_wall_clock() {
    let mut p = plan(Kind::Crontab(Box::new("0 9 * * *".parse().unwrap())));
    p.zone = Tz::Europe__Berlin;
    // 09:00 in Berlin is 08:00 UTC in winter, 07:00 UTC in summer.
    assert_eq!(
        p.first(ms("2026-01-10T00:00:00Z")),
        Some(ms("2026-01-10T08:00:00Z"))
    );
    assert_eq!(
        p.first(ms("2026-07-10T00:00:00Z")),
        Some(ms("2026-07-10T07:00:00Z"))
    );
    // 02:30 daily skips no day at the spring gap and doubles none at the fall back.
    let mut daily = plan(Kind::RepeatAt(2 * 3600 + 30 * 60));
    daily.zone = Tz::Europe__Berlin;
    let (spring, _) = daily.instants(
        ms("2026-03-28T00:00:00Z"),
        ms("2026-03-30T23:00:00Z"),
        None,
        10,
    );
    assert_eq!(
        spring,
        vec![
            ms("2026-03-30T00:30:00Z"),
            ms("2026-03-29T01:00:00Z"), // 02:30 does not exist: the end of the gap
            ms("2026-03-28T01:30:00Z"),
        ]
    );
    let (fall, _) = daily.instants(
        ms("2026-10-24T00:00:00Z"),
        ms("2026-10-26T23:00:00Z"),
        None,
        10,
    );
    assert_eq!(
        fall,
        vec![
            ms("2026-10-26T01:30:00Z"),
            ms("2026-10-25T00:30:00Z"), // the first 02:30, in summer time
            ms("2026-10-24T00:30:00Z"),
        ]
    );
}

#[test]
fn instants_of_a_window_are_newest_first_and_bounded() {
    let t0 = ms("2026-01-01T00:00:00Z");
    let p = plan(every_10s());
    let (all, more) = p.instants(t0, t0 + 60_000, None, 100);
    assert_eq!((all.len(), more), (7, false));
    assert_eq!(all[0], t0 + 60_000);
    let (some, more) = p.instants(t0, t0 + 60_000, None, 3);
    assert_eq!(
        (some, more),
        (vec![t0 + 60_000, t0 + 50_000, t0 + 40_000], true)
    );
    let every = plan(Kind::Interval(7_000));
    let (ivl, _) = every.instants(t0 + 10_000, t0 + 30_000, Some(t0), 10);
    assert_eq!(ivl, vec![t0 + 28_000, t0 + 21_000, t0 + 14_000]);
}

fn job_and_schedule(job: serde_json::Value, how: serde_json::Value) -> (Job, Schedule) {
    let mut j = serde_json::json!({
        "_id": 1, "name": "j", "description": "", "action": "http://t/", "active": true,
        "httpMethod": "POST", "startTime": null, "endTime": null, "timeoutMs": 5000,
        "createdAt": "", "modifiedAt": "",
    });
    let mut s = serde_json::json!({
        "scheduleId": "s1", "description": "", "data": null, "type": "recurring",
        "cron": null, "time": null, "repeatInterval": null, "repeatAt": null,
        "active": true, "startTime": null, "endTime": null, "createdAt": "",
        "modifiedAt": "",
    });
    j.as_object_mut()
        .unwrap()
        .extend(job.as_object().unwrap().clone());
    s.as_object_mut()
        .unwrap()
        .extend(how.as_object().unwrap().clone());
    (
        serde_json::from_value(j).unwrap(),
        serde_json::from_value(s).unwrap(),
    )
}

#[test]
fn a_jobs_window_and_the_schedules_make_one_window() {
    let t0 = ms("2026-01-01T00:00:00Z");
    let at = crate::time::format_instant;
    let (job, every) = job_and_schedule(
        serde_json::json!({"startTime": at(t0 + 5_000), "endTime": at(t0 + 60_000)}),
        serde_json::json!({"repeatInterval": "1 second", "startTime": at(t0 + 1_000),
            "endTime": at(t0 + 90_000)}),
    );
    let p = Plan::for_job(&job, &every).unwrap();
    assert_eq!((p.start, p.end), (Some(t0 + 5_000), Some(t0 + 60_000)));
    // The job's start bounds the first fire of a recurring schedule...
    assert_eq!(p.first(t0), Some(t0 + 5_000));
    assert_eq!(
        Plan::from_schedule(&every).unwrap().first(t0),
        Some(t0 + 1_000)
    );
    // ...but a one-time schedule's time overrides the starts (SAP), not the ends.
    let (_, once) = job_and_schedule(
        serde_json::json!({}),
        serde_json::json!({"type": "one-time", "time": at(t0 + 1_000)}),
    );
    let p = Plan::for_job(&job, &once).unwrap();
    assert_eq!(p.first(t0), Some(t0 + 1_000));
    assert_eq!(
        p.first(t0 + 70_000),
        None,
        "time and the job's end have passed"
    );
    // Only the job's window, only the schedule's.
    let (bare, _) = job_and_schedule(serde_json::json!({}), serde_json::json!({}));
    let p = Plan::for_job(&bare, &every).unwrap();
    assert_eq!((p.start, p.end), (Some(t0 + 1_000), Some(t0 + 90_000)));
    let (_, plain) = job_and_schedule(
        serde_json::json!({}),
        serde_json::json!({"repeatInterval": "1 second"}),
    );
    let p = Plan::for_job(&job, &plain).unwrap();
    assert_eq!((p.start, p.end), (Some(t0 + 5_000), Some(t0 + 60_000)));
}

#[test]
fn an_entry_due_before_the_start_fires_nothing_and_moves_to_the_start() {
    let t0 = ms("2026-01-01T00:00:00Z");
    let mut p = plan(Kind::Interval(1_000));
    p.start = Some(t0 + 3_000);
    // The job's start moved later after the entry was set.
    let d = p.fire_until(t0, t0 + 10, sap(1_200_000), None);
    assert_eq!((d.fire, d.skipped, d.next), (vec![], 0, Some(t0 + 3_000)));
    // From the start on, as usual.
    let d = p.fire_until(t0 + 3_000, t0 + 3_010, sap(1_200_000), None);
    assert_eq!((d.fire, d.next), (vec![t0 + 3_000], Some(t0 + 4_000)));
    let mut cron = plan(Kind::Cron(Box::new("* * * * * * */10".parse().unwrap())));
    cron.start = Some(t0 + 15_000);
    let d = cron.fire_until(t0, t0 + 10, sap(1_200_000), None);
    assert_eq!((d.fire, d.next), (vec![], Some(t0 + 20_000)));
    // A one-time schedule's time overrides the start.
    let mut once = plan(Kind::Time(t0));
    once.start = Some(t0 + 15_000);
    assert_eq!(once.fire_until(t0, t0, sap(1), None).fire, vec![t0]);
}

#[test]
fn no_instant_past_the_schedules_end_fires_after_a_long_outage() {
    let t0 = ms("2026-01-01T00:00:00Z");
    let mut p = plan(Kind::Cron(Box::new("* * * * * * */10".parse().unwrap())));
    p.end = Some(t0 + 30_000);
    // An hour late: the walk to the last missed instant passes the end.
    let d = p.fire_until(t0, t0 + 3_600_000, sap(1_200_000), None);
    assert!(d.fire.iter().all(|at| *at <= t0 + 30_000), "{d:?}");
    assert_eq!(d.next, None);
    // Within the end, unchanged.
    let d = p.fire_until(t0, t0 + 5, sap(1_200_000), None);
    assert_eq!((d.fire, d.next), (vec![t0], Some(t0 + 10_000)));
    let d = p.fire_until(t0 + 30_000, t0 + 30_005, sap(1_200_000), None);
    assert_eq!(
        (d.fire, d.next),
        (vec![t0 + 30_000], None),
        "the last instant"
    );
}

#[test]
fn completion_messages_name_what_ended_the_schedule() {
    let (job, once) = job_and_schedule(
        serde_json::json!({}),
        serde_json::json!({"type": "one-time", "time": "2026-01-01T00:00:00.000Z"}),
    );
    assert_eq!(
        completion_message(&job, &once, true),
        "one-time schedule completed"
    );
    let (ended, every) = job_and_schedule(
        serde_json::json!({"endTime": "2026-02-01T00:00:00.000Z"}),
        serde_json::json!({"repeatInterval": "1 second", "endTime": "2026-03-01T00:00:00.000Z"}),
    );
    assert_eq!(
        completion_message(&ended, &every, true),
        "recurring schedule completed: no instant left before its endTime \
         2026-03-01T00:00:00.000Z or its job's endTime 2026-02-01T00:00:00.000Z"
    );
    assert_eq!(
        completion_message(&ended, &once, false),
        "one-time schedule completed without a run: its time is past its job's endTime \
         2026-02-01T00:00:00.000Z"
    );
    let (_, cron) = job_and_schedule(
        serde_json::json!({}),
        serde_json::json!({"cron": "2020 * * * 0 0 0"}),
    );
    assert_eq!(
        completion_message(&job, &cron, false),
        "recurring schedule completed: no future instant"
    );
}

#[test]
fn versions_fire_alike_whatever_their_description_and_data() {
    let (_, a) = job_and_schedule(
        serde_json::json!({}),
        serde_json::json!({"repeatInterval": "1 second"}),
    );
    let mut b = a.clone();
    b.description = "changed".into();
    b.data = Some(serde_json::json!({"k": 1}));
    b.modified_at = "later".into();
    assert!(fires_alike(&a, &b));
    for change in [
        |s: &mut Schedule| s.active = false,
        |s: &mut Schedule| s.repeat_interval = Some("2 seconds".into()),
        |s: &mut Schedule| s.end_time = Some("2030-01-01T00:00:00.000Z".into()),
        |s: &mut Schedule| s.start_time = Some("2030-01-01T00:00:00.000Z".into()),
        |s: &mut Schedule| s.time_zone = Some("Europe/Berlin".into()),
        |s: &mut Schedule| s.misfire_policy = Some(MisfirePolicy::Skip),
    ] {
        let mut c = a.clone();
        change(&mut c);
        assert!(!fires_alike(&a, &c), "{c:?}");
    }
}
