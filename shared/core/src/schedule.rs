//! Fire-time computation of a schedule: pure functions of the schedule and an explicit `now`.
//!
//! Times are milliseconds since the Unix epoch (UTC). A schedule has one [`Kind`]; its
//! optional start and end bound every fire. Grids (cron, crontab, `repeatAt`) are walked in
//! the schedule's zone by [`crate::zone`]'s DST rule. The leader asks [`Plan::first`] when a
//! schedule is created or activated and [`Plan::fire_until`] ([`Plan::fire`] bounded by the
//! job's end) when its due entry comes up; [`Plan::instants`] lists the nominal instants of a
//! window (what `fires` accounts for).

use crate::model::{MisfirePolicy, Schedule, ScheduleKind};
use crate::schedfmt::{parse_repeat_at, parse_repeat_interval, Crontab, FormatError, SapCron};
use crate::time::{parse_stored_instant, to_dt};
use crate::zone::{self, Tz};
use chrono::Timelike;

/// How a schedule fires.
#[derive(Clone, Debug)]
pub enum Kind {
    /// SAP 7-field cron, a fixed grid of wall-clock times.
    Cron(Box<SapCron>),
    /// Standard cron (5 or 6 fields, or a macro), a grid of wall-clock times.
    Crontab(Box<Crontab>),
    /// One-time at this instant.
    Time(i64),
    /// Every interval, measured from the previous run's start.
    Interval(i64),
    /// Daily at this wall-clock time of day (seconds after midnight).
    RepeatAt(i64),
}

/// What the leader does with instants it reaches late: the schedule's `misfirePolicy`,
/// `misfireReplayPerSecond` and `misfireWindowSeconds`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Misfire {
    /// `None`: SAP's rule (replay while less than the threshold late, then coalesce).
    pub policy: Option<MisfirePolicy>,
    /// With [`MisfirePolicy::All`]: missed instants replayed a second at most.
    pub replay_per_second: u32,
    /// Instants reached later than this (ms) are skipped whatever the policy.
    pub window_ms: Option<i64>,
}

impl Misfire {
    /// Replays a second when a schedule sets none.
    pub const DEFAULT_REPLAY_PER_SECOND: u32 = 10;
    /// The most replays a second a schedule may ask for.
    pub const MAX_REPLAY_PER_SECOND: u32 = 1_000;
}

impl Default for Misfire {
    fn default() -> Self {
        Misfire {
            policy: None,
            replay_per_second: Misfire::DEFAULT_REPLAY_PER_SECOND,
            window_ms: None,
        }
    }
}

/// The leader's lateness settings the plan is judged by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Lateness {
    /// SAP's rule: past this (ms), the missed instants of a schedule without a policy are
    /// coalesced into the last one.
    pub threshold_ms: i64,
    /// With a policy: an instant reached more than this (ms) after it is missed.
    pub grace_ms: i64,
}

/// A parsed schedule: its kind, its window, its zone and its misfire policy.
#[derive(Clone, Debug)]
pub struct Plan {
    pub kind: Kind,
    pub start: Option<i64>,
    pub end: Option<i64>,
    pub zone: Tz,
    pub misfire: Misfire,
}

/// What the leader does with a due entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FireDecision {
    /// Nominal instants to fire now (run ids derive from these).
    pub fire: Vec<i64>,
    /// Missed instants not fired (coalesced, skipped by the policy or the window).
    pub skipped: u64,
    /// The first and last of the skipped instants.
    pub skipped_span: Option<(i64, i64)>,
    /// Next nominal instant, or `None` when the schedule is finished.
    pub next: Option<i64>,
    /// A replay is throttled: `next` fires no earlier than this instant.
    pub not_before: Option<i64>,
}

impl FireDecision {
    fn new(fire: Vec<i64>, next: Option<i64>) -> Self {
        FireDecision {
            fire,
            skipped: 0,
            skipped_span: None,
            next,
            not_before: None,
        }
    }

    fn skip(&mut self, at: i64) {
        self.skipped += 1;
        self.skipped_span = Some(match self.skipped_span {
            Some((first, _)) => (first, at),
            None => (at, at),
        });
    }
}

const DAY_MS: i64 = 86_400_000;
/// Bound on the instants walked to find the last missed fire after a long outage.
const MAX_MISFIRE_WALK: u64 = 1_000_000;

impl Plan {
    /// The plan of a stored schedule (whose times are normalised RFC 3339).
    pub fn from_schedule(s: &Schedule) -> Result<Plan, FormatError> {
        let kind = if let Some(c) = &s.cron {
            Kind::Cron(Box::new(c.parse::<SapCron>()?))
        } else if let Some(c) = &s.crontab {
            Kind::Crontab(Box::new(c.parse::<Crontab>()?))
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
                problem: "schedule has no cron, crontab, time, repeatInterval or repeatAt".into(),
            });
        };
        let zone = match &s.time_zone {
            None => Tz::UTC,
            Some(name) => zone::parse_zone(name).ok_or_else(|| FormatError::TimeZone {
                value: name.clone(),
            })?,
        };
        Ok(Plan {
            kind,
            start: s.start_time.as_deref().and_then(parse_stored_instant),
            end: s.end_time.as_deref().and_then(parse_stored_instant),
            zone,
            misfire: Misfire {
                policy: s.misfire_policy,
                replay_per_second: s
                    .misfire_replay_per_second
                    .unwrap_or(Misfire::DEFAULT_REPLAY_PER_SECOND)
                    .clamp(1, Misfire::MAX_REPLAY_PER_SECOND),
                window_ms: s
                    .misfire_window_seconds
                    .map(|w| i64::try_from(w.saturating_mul(1000)).unwrap_or(i64::MAX)),
            },
        })
    }

    /// A plan of `kind` in UTC, unbounded, with SAP's misfire rule.
    pub fn of(kind: Kind) -> Plan {
        Plan {
            kind,
            start: None,
            end: None,
            zone: Tz::UTC,
            misfire: Misfire::default(),
        }
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
            Kind::Time(t) => {
                if *t < now && self.end.is_some_and(|e| e < now) {
                    return None;
                }
                *t
            }
            Kind::Interval(_) => from,
            Kind::Cron(_) | Kind::Crontab(_) | Kind::RepeatAt(_) => self.grid_after(from - 1)?,
        };
        self.within_end(at)
    }

    /// The next nominal instant strictly after `at` on the schedule's grid (cron, crontab,
    /// daily, in its zone), if any.
    fn grid_after(&self, at: i64) -> Option<i64> {
        let ms = |d: chrono::DateTime<chrono::Utc>| d.timestamp_millis();
        match &self.kind {
            Kind::Cron(c) => {
                zone::next_instant(self.zone, at, |l| c.next_after(zone::naive(l)).map(ms))
            }
            Kind::Crontab(c) => {
                zone::next_instant(self.zone, at, |l| c.next_after(zone::naive(l)).map(ms))
            }
            Kind::RepeatAt(secs) => {
                zone::next_instant(self.zone, at, |l| Some(next_daily(*secs, l)))
            }
            Kind::Time(_) | Kind::Interval(_) => None,
        }
    }

    /// The instant after `at` in the schedule's sequence (the grid's next, or one interval
    /// later), ignoring the window.
    fn after(&self, at: i64) -> Option<i64> {
        match &self.kind {
            Kind::Interval(every) => Some(at + every),
            Kind::Time(_) => None,
            _ => self.grid_after(at),
        }
    }

    /// The nominal instants in `[from, to]`, newest first, at most `limit`, with whether more
    /// were left out; within the schedule's own window. An interval schedule's grid is
    /// anchored at `anchor` (an instant it fired or is due at).
    pub fn instants(
        &self,
        from: i64,
        to: i64,
        anchor: Option<i64>,
        limit: usize,
    ) -> (Vec<i64>, bool) {
        let lo = self.start.map_or(from, |s| s.max(from));
        let hi = self.end.map_or(to, |e| e.min(to));
        let mut out = Vec::new();
        if lo > hi {
            return (out, false);
        }
        let mut at = match &self.kind {
            Kind::Time(t) => (lo..=hi).contains(t).then_some(*t),
            Kind::Interval(every) => anchor.map(|a| {
                let k = (lo - a).div_euclid(*every) + i64::from((lo - a).rem_euclid(*every) != 0);
                a + k * every
            }),
            _ => self.grid_after(lo - 1),
        };
        // Walked oldest first; a window holds at most `limit` newest ones.
        let mut more = false;
        let mut walked = 0u64;
        while let Some(a) = at.filter(|a| *a <= hi) {
            out.push(a);
            if out.len() > limit {
                out.remove(0);
                more = true;
            }
            walked += 1;
            if walked >= MAX_MISFIRE_WALK {
                more = true;
                break;
            }
            at = self.after(a);
        }
        out.reverse();
        (out, more)
    }

    /// Decides what to fire for the due entry scored `due`, looked at when Redis says `now`.
    ///
    /// Without a policy (SAP's rule): grid schedules replay every missed instant while the
    /// entry is less than `threshold_ms` late (each call fires one; the next one is due at
    /// once); past the threshold only the last missed instant fires and the rest are counted
    /// as skipped. Intervals never replay a backlog, and keep their phase: a late entry fires
    /// once, late, and its next fire is the first instant of its grid after `now`.
    ///
    /// With a policy, see [`Plan::fire_policy`].
    pub fn fire(&self, due: i64, now: i64, late: Lateness) -> FireDecision {
        match self.misfire.policy {
            Some(policy) => self.fire_policy(policy, due, now, late.grace_ms),
            None => self.fire_sap(due, now, late.threshold_ms),
        }
    }

    fn fire_sap(&self, due: i64, now: i64, misfire_threshold: i64) -> FireDecision {
        match &self.kind {
            Kind::Time(_) => FireDecision::new(vec![due], None),
            Kind::Interval(every) => {
                let next = if due + every > now {
                    due + every
                } else {
                    // The first instant of the grid after `now`: the phase is kept.
                    due + ((now - due) / every + 1) * every
                };
                FireDecision::new(vec![due], self.within_end(next))
            }
            Kind::Cron(_) | Kind::Crontab(_) | Kind::RepeatAt(_) => {
                let mut d = FireDecision::new(vec![], None);
                let mut last = due;
                if now - due >= misfire_threshold {
                    while let Some(n) = self.grid_after(last) {
                        if n > now || d.skipped >= MAX_MISFIRE_WALK {
                            break;
                        }
                        d.skip(last);
                        last = n;
                    }
                }
                d.fire = vec![last];
                d.next = self.grid_after(last).and_then(|n| self.within_end(n));
                d
            }
        }
    }

    /// A schedule's misfire policy at work. Instants older than the window are skipped first,
    /// whatever the policy. An instant reached within `grace_ms` of it is on time and fires.
    /// A missed one (reached later):
    /// - `all`: fires, oldest first; when the next one is due already, it waits its turn
    ///   (`misfireReplayPerSecond`);
    /// - `last`: of the instants due now only the most recent fires;
    /// - `skip`: none fires; the schedule resumes at its next instant on time.
    fn fire_policy(
        &self,
        policy: MisfirePolicy,
        due: i64,
        now: i64,
        grace_ms: i64,
    ) -> FireDecision {
        let mut d = FireDecision::new(vec![], None);
        let mut at = Some(due);
        // Outside the window: skipped.
        if let Some(window) = self.misfire.window_ms {
            while let Some(a) = at.filter(|a| now - a > window && d.skipped < MAX_MISFIRE_WALK) {
                d.skip(a);
                at = self.after(a);
            }
        }
        let missed = |a: i64| now - a > grace_ms;
        match policy {
            MisfirePolicy::All => {}
            MisfirePolicy::Last => {
                while let Some(a) = at.filter(|a| missed(*a)) {
                    match self.after(a) {
                        Some(n) if n <= now && d.skipped < MAX_MISFIRE_WALK => {
                            d.skip(a);
                            at = Some(n);
                        }
                        _ => break,
                    }
                }
            }
            MisfirePolicy::Skip => {
                while let Some(a) = at.filter(|a| missed(*a) && d.skipped < MAX_MISFIRE_WALK) {
                    d.skip(a);
                    at = self.after(a);
                }
            }
        }
        match at {
            Some(a) if a <= now => {
                d.fire = vec![a];
                d.next = self.after(a).and_then(|n| self.within_end(n));
                if let Some(n) = d.next.filter(|n| *n <= now && missed(a)) {
                    // A replay: the next one waits its turn.
                    let gap = 1000 / i64::from(self.misfire.replay_per_second.max(1));
                    d.not_before = Some((now + gap).max(n));
                }
            }
            later => d.next = later.and_then(|n| self.within_end(n)),
        }
        d
    }

    /// [`Plan::fire`] for a schedule of a job that ends at `job_end`: no instant past the job's
    /// end fires, and none past it is next. The job's end is checked when its entry comes up,
    /// since it can change after the entry was set; the misfires counted stay counted.
    pub fn fire_until(
        &self,
        due: i64,
        now: i64,
        late: Lateness,
        job_end: Option<i64>,
    ) -> FireDecision {
        let mut d = self.fire(due, now, late);
        if let Some(end) = job_end {
            d.fire.retain(|at| *at <= end);
            d.next = d.next.filter(|n| *n <= end);
            if d.next.is_none() {
                d.not_before = None;
            }
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

/// Next local time strictly after `after` (naive ms) whose time of day is `secs` after
/// midnight.
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
}
