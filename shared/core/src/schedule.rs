//! Fire-time computation of a schedule: pure functions of the schedule and an explicit `now`.
//!
//! Times are milliseconds since the Unix epoch (UTC). A schedule has one [`Kind`]; its
//! optional start and end bound every fire, and so do its job's ([`Plan::for_job`]): SAP
//! "respects the start time of both the schedule and the job", and their end times. A
//! one-time schedule's `time` overrides both starts (SAP), not the ends. The API asks
//! [`Plan::first`] when a schedule is created or activated and the leader asks
//! [`Plan::fire_until`] ([`Plan::fire`] held to the window) when its due entry comes up. A
//! schedule with no instant left is finished: it is deactivated on completion
//! ([`completion_message`]).

use crate::model::{Job, Schedule, ScheduleKind};
use crate::schedfmt::{parse_repeat_at, parse_repeat_interval, FormatError, SapCron};
use crate::time::{parse_stored_instant, to_dt};
use chrono::Timelike;

/// How a schedule fires.
#[derive(Clone, Debug)]
pub enum Kind {
    /// SAP 7-field cron, a fixed grid.
    Cron(Box<SapCron>),
    /// One-time at this instant.
    Time(i64),
    /// Every interval, measured from the previous run's start.
    Interval(i64),
    /// Daily at this UTC time of day (seconds after midnight).
    RepeatAt(i64),
}

/// A parsed schedule: its kind and its window.
#[derive(Clone, Debug)]
pub struct Plan {
    pub kind: Kind,
    pub start: Option<i64>,
    pub end: Option<i64>,
}

/// What the leader does with a due entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FireDecision {
    /// Nominal instants to fire now (run ids derive from these).
    pub fire: Vec<i64>,
    /// Missed instants coalesced into the last one (outage past the misfire threshold).
    pub skipped: u64,
    /// Next nominal instant, or `None` when the schedule is finished.
    pub next: Option<i64>,
}

const DAY_MS: i64 = 86_400_000;
/// Bound on the instants walked to find the last missed fire after a long outage.
const MAX_MISFIRE_WALK: u64 = 1_000_000;

impl Plan {
    /// The plan of a stored schedule (whose times are normalised RFC 3339).
    pub fn from_schedule(s: &Schedule) -> Result<Plan, FormatError> {
        let kind = if let Some(c) = &s.cron {
            Kind::Cron(Box::new(c.parse::<SapCron>()?))
        } else if let Some(t) = &s.time {
            Kind::Time(
                parse_stored_instant(t).ok_or_else(|| FormatError::DateTime {
                    value: t.clone(),
                    problem: "not RFC 3339".into(),
                })?,
            )
        } else if let Some(i) = &s.repeat_interval {
            Kind::Interval(parse_repeat_interval(i)?.as_millis() as i64)
        } else if let Some(a) = &s.repeat_at {
            let (h, m, sec) = parse_repeat_at(a)?;
            Kind::RepeatAt((h * 3600 + m * 60 + sec) as i64)
        } else {
            return Err(FormatError::DateTime {
                value: String::new(),
                problem: "schedule has no cron, time, repeatInterval or repeatAt".into(),
            });
        };
        Ok(Plan {
            kind,
            start: s.start_time.as_deref().and_then(parse_stored_instant),
            end: s.end_time.as_deref().and_then(parse_stored_instant),
        })
    }

    /// The plan of a stored schedule of `job`: its window is the schedule's and the job's
    /// together (the later start, the earlier end).
    pub fn for_job(job: &Job, s: &Schedule) -> Result<Plan, FormatError> {
        let mut plan = Plan::from_schedule(s)?;
        let at = |t: &Option<String>| t.as_deref().and_then(parse_stored_instant);
        plan.start = plan.start.max(at(&job.start_time));
        plan.end = match (plan.end, at(&job.end_time)) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        Ok(plan)
    }

    fn within_end(&self, at: i64) -> Option<i64> {
        match self.end {
            Some(end) if at > end => None,
            _ => Some(at),
        }
    }

    /// The first nominal instant at or after `now` (and after the start), when the schedule is
    /// created or activated. A one-time schedule whose time has passed fires at once unless its
    /// end has passed too (SAP); an interval schedule fires at once, then every interval.
    pub fn first(&self, now: i64) -> Option<i64> {
        let from = self.start.map_or(now, |s| s.max(now));
        let at = match &self.kind {
            Kind::Cron(c) => c
                .next_after(to_dt(from - 1))
                .map(|d| d.timestamp_millis())?,
            Kind::Time(t) => {
                if *t < now && self.end.is_some_and(|e| e < now) {
                    return None;
                }
                *t
            }
            Kind::Interval(_) => from,
            Kind::RepeatAt(secs) => next_daily(*secs, from - 1),
        };
        self.within_end(at)
    }

    /// The next nominal instant strictly after `at` on the schedule's grid (cron, daily), if any.
    fn grid_after(&self, at: i64) -> Option<i64> {
        match &self.kind {
            Kind::Cron(c) => c.next_after(to_dt(at)).map(|d| d.timestamp_millis()),
            Kind::RepeatAt(secs) => Some(next_daily(*secs, at)),
            Kind::Time(_) | Kind::Interval(_) => None,
        }
    }

    /// Decides what to fire for the due entry scored `due`, looked at when Redis says `now`.
    ///
    /// Grid schedules (cron, daily) replay every missed instant while the entry is less than
    /// `misfire_threshold` late (each call fires one; the next one is due at once); past the
    /// threshold only the last missed instant fires and the rest are counted as skipped.
    /// Intervals never replay a backlog, and keep their phase: a late entry fires once, late,
    /// and its next fire is the first instant of its grid (due + k × interval) after `now`, so
    /// a leader change or an outage does not bring every interval schedule into step.
    pub fn fire(&self, due: i64, now: i64, misfire_threshold: i64) -> FireDecision {
        match &self.kind {
            Kind::Time(_) => FireDecision {
                fire: vec![due],
                skipped: 0,
                next: None,
            },
            Kind::Interval(every) => {
                let next = if due + every > now {
                    due + every
                } else {
                    // The first instant of the grid after `now`: the phase is kept.
                    due + ((now - due) / every + 1) * every
                };
                FireDecision {
                    fire: vec![due],
                    skipped: 0,
                    next: self.within_end(next),
                }
            }
            Kind::Cron(_) | Kind::RepeatAt(_) => {
                let mut last = due;
                let mut skipped = 0;
                if now - due >= misfire_threshold {
                    while let Some(n) = self.grid_after(last) {
                        if n > now || skipped >= MAX_MISFIRE_WALK {
                            break;
                        }
                        last = n;
                        skipped += 1;
                    }
                }
                FireDecision {
                    fire: vec![last],
                    skipped,
                    next: self.grid_after(last).and_then(|n| self.within_end(n)),
                }
            }
        }
    }

    /// [`Plan::fire`] held to the plan's window and to `job_end`: no instant before the start
    /// or past an end fires, and none past an end is next. The window is checked again when an
    /// entry comes up, since the job's or the schedule's times can change after the entry was
    /// set (a replan after such a change moves the entry, and this holds meanwhile): an entry
    /// due before the start fires nothing and moves to the first instant from the start (a
    /// one-time schedule's `time` overrides the start, SAP); the misfires counted stay
    /// counted.
    pub fn fire_until(
        &self,
        due: i64,
        now: i64,
        misfire_threshold: i64,
        job_end: Option<i64>,
    ) -> FireDecision {
        let mut d = match self.start {
            Some(start) if due < start && !self.is_one_time() => FireDecision {
                fire: vec![],
                skipped: 0,
                next: self.first(start),
            },
            _ => self.fire(due, now, misfire_threshold),
        };
        let end = match (self.end, job_end) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        if let Some(end) = end {
            d.fire.retain(|at| *at <= end);
            d.next = d.next.filter(|n| *n <= end);
        }
        d
    }

    /// Whether the schedule fires once (its entry's removal completes it).
    pub fn is_one_time(&self) -> bool {
        matches!(self.kind, Kind::Time(_))
    }

    /// SAP's `type` of the schedule.
    pub fn schedule_kind(&self) -> ScheduleKind {
        match self.kind {
            Kind::Time(_) => ScheduleKind::OneTime,
            _ => ScheduleKind::Recurring,
        }
    }
}

/// The action log's message for a schedule of `job` deactivated on completion (SAP's
/// `DEACTIVATION_ON_COMPLETION`): why it has no instant left. `fired`: its last instant has
/// just fired (the leader); otherwise it was found with none left when written (the API).
pub fn completion_message(job: &Job, s: &Schedule, fired: bool) -> String {
    let ends: Vec<String> = [
        ("its endTime", &s.end_time),
        ("its job's endTime", &job.end_time),
    ]
    .into_iter()
    .filter_map(|(what, at)| at.as_ref().map(|at| format!("{what} {at}")))
    .collect();
    match (s.kind, fired) {
        (ScheduleKind::OneTime, true) => "one-time schedule completed".into(),
        (_, _) if ends.is_empty() => format!("{} schedule completed: no future instant", s.kind),
        (ScheduleKind::OneTime, false) => format!(
            "one-time schedule completed without a run: its time is past {}",
            ends.join(" or ")
        ),
        (ScheduleKind::Recurring, _) => format!(
            "recurring schedule completed: no instant left before {}",
            ends.join(" or ")
        ),
    }
}

/// Whether two versions of a schedule fire alike: the same activity, mode, value and window
/// (its description and data aside). The leader deactivates a finished schedule only while
/// the stored version still fires as the one it planned.
pub fn fires_alike(a: &Schedule, b: &Schedule) -> bool {
    a.active == b.active
        && a.kind == b.kind
        && a.cron == b.cron
        && a.time == b.time
        && a.repeat_interval == b.repeat_interval
        && a.repeat_at == b.repeat_at
        && a.start_time == b.start_time
        && a.end_time == b.end_time
        && a.crontab == b.crontab
        && a.time_zone == b.time_zone
}

/// Next instant strictly after `after` whose UTC time of day is `secs` after midnight.
fn next_daily(secs: i64, after: i64) -> i64 {
    let day_start = after.div_euclid(DAY_MS) * DAY_MS;
    let candidate = day_start + secs * 1000;
    if candidate > after {
        candidate
    } else {
        candidate + DAY_MS
    }
}

/// Seconds after midnight of a UTC instant (used by tests and by `repeatAt` display).
pub fn seconds_of_day(ms: i64) -> u32 {
    to_dt(ms).num_seconds_from_midnight()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(kind: Kind) -> Plan {
        Plan {
            kind,
            start: None,
            end: None,
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
        let d = p.fire(t0, t0 + 35_000, 1_200_000);
        assert_eq!(
            d,
            FireDecision {
                fire: vec![t0],
                skipped: 0,
                next: Some(t0 + 10_000)
            }
        );
    }

    #[test]
    fn cron_coalesces_long_outages_into_the_last_instant() {
        let p = plan(Kind::Cron(Box::new("* * * * * * */10".parse().unwrap())));
        let t0 = ms("2026-01-01T00:00:00Z");
        let now = t0 + 3_600_000 + 5_000; // an hour and 5 s late
        let d = p.fire(t0, now, 1_200_000);
        assert_eq!(d.fire, vec![t0 + 3_600_000]);
        assert_eq!(d.skipped, 360);
        assert_eq!(d.next, Some(t0 + 3_610_000));
    }

    #[test]
    fn a_late_interval_fires_once_and_keeps_its_phase() {
        let p = plan(Kind::Interval(2_000));
        assert_eq!(p.first(5_000), Some(5_000));
        assert_eq!(p.fire(5_000, 5_050, 1_200_000).next, Some(7_000));
        assert_eq!(p.fire(5_000, 7_000, 1_200_000).next, Some(9_000));
        let late = p.fire(5_000, 9_500, 1_200_000);
        assert_eq!((late.fire, late.next), (vec![5_000], Some(11_000)));
        // However late, the next fire is on the grid, after now, within one interval.
        for now in (5_000..40_000).step_by(137) {
            let next = p.fire(5_000, now, 1_200_000).next.unwrap();
            assert_eq!((next - 5_000) % 2_000, 0, "at {now}");
            assert!(next > now && next <= now + 2_000, "at {now}: {next}");
        }
    }

    #[test]
    fn one_time_fires_once_even_if_late_unless_ended() {
        let mut p = plan(Kind::Time(1_000));
        assert_eq!(p.first(50_000), Some(1_000));
        assert_eq!(p.fire(1_000, 50_000, 10).fire, vec![1_000]);
        assert_eq!(p.fire(1_000, 50_000, 10).next, None);
        p.end = Some(2_000);
        assert_eq!(p.first(50_000), None);
    }

    #[test]
    fn window_bounds_fires() {
        let mut p = plan(Kind::Interval(1_000));
        p.start = Some(10_000);
        p.end = Some(12_500);
        assert_eq!(p.first(0), Some(10_000));
        assert_eq!(p.fire(12_000, 12_000, 1).next, None);
    }

    #[test]
    fn a_jobs_end_bounds_the_fires_and_the_next_instant() {
        let p = plan(Kind::Cron(Box::new("* * * * * * */10".parse().unwrap())));
        let t0 = ms("2026-01-01T00:00:00Z");
        // Within the job's window: the same decision as without it.
        assert_eq!(
            p.fire_until(t0, t0 + 1_000, 1_200_000, Some(t0 + 10_000)),
            p.fire(t0, t0 + 1_000, 1_200_000)
        );
        // The next instant is past the job's end: the schedule is finished.
        let d = p.fire_until(t0, t0 + 1_000, 1_200_000, Some(t0 + 9_999));
        assert_eq!((d.fire, d.next), (vec![t0], None));
        // The job ended before the due instant (its end moved): nothing fires, the misfires
        // coalesced are still counted.
        let d = p.fire_until(t0, t0 + 3_605_000, 1_200_000, Some(t0 - 1));
        assert_eq!((d.fire, d.skipped, d.next), (vec![], 360, None));
        // A one-time schedule's instant fires once; its entry is then removed.
        let once = plan(Kind::Time(t0));
        assert!(once.is_one_time() && !p.is_one_time());
        let d = once.fire_until(t0, t0, 1, Some(t0));
        assert_eq!((d.fire, d.next), (vec![t0], None));
        assert!(once.fire_until(t0, t0, 1, Some(t0 - 1)).fire.is_empty());
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
        let d = p.fire_until(t0, t0 + 10, 1_200_000, None);
        assert_eq!((d.fire, d.skipped, d.next), (vec![], 0, Some(t0 + 3_000)));
        // From the start on, as usual.
        let d = p.fire_until(t0 + 3_000, t0 + 3_010, 1_200_000, None);
        assert_eq!((d.fire, d.next), (vec![t0 + 3_000], Some(t0 + 4_000)));
        let mut cron = plan(Kind::Cron(Box::new("* * * * * * */10".parse().unwrap())));
        cron.start = Some(t0 + 15_000);
        let d = cron.fire_until(t0, t0 + 10, 1_200_000, None);
        assert_eq!((d.fire, d.next), (vec![], Some(t0 + 20_000)));
        // A one-time schedule's time overrides the start.
        let mut once = plan(Kind::Time(t0));
        once.start = Some(t0 + 15_000);
        assert_eq!(once.fire_until(t0, t0, 1, None).fire, vec![t0]);
    }

    #[test]
    fn no_instant_past_the_schedules_end_fires_after_a_long_outage() {
        let t0 = ms("2026-01-01T00:00:00Z");
        let mut p = plan(Kind::Cron(Box::new("* * * * * * */10".parse().unwrap())));
        p.end = Some(t0 + 30_000);
        // An hour late: the walk to the last missed instant passes the end.
        let d = p.fire_until(t0, t0 + 3_600_000, 1_200_000, None);
        assert!(d.fire.iter().all(|at| *at <= t0 + 30_000), "{d:?}");
        assert_eq!(d.next, None);
        // Within the end, unchanged.
        let d = p.fire_until(t0, t0 + 5, 1_200_000, None);
        assert_eq!((d.fire, d.next), (vec![t0], Some(t0 + 10_000)));
        let d = p.fire_until(t0 + 30_000, t0 + 30_005, 1_200_000, None);
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
        ] {
            let mut c = a.clone();
            change(&mut c);
            assert!(!fires_alike(&a, &c), "{c:?}");
        }
    }
}
