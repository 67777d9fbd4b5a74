//! Fire-time computation of a schedule: pure functions of the schedule and an explicit `now`.
//!
//! Times are milliseconds since the Unix epoch (UTC). A schedule has one [`Kind`]; its
//! optional start and end bound every fire, and so do its job's ([`Plan::for_job`]): SAP
//! "respects the start time of both the schedule and the job", and their end times. A
//! one-time schedule's `time` overrides both starts (SAP), not the ends. Grids (cron, crontab,
//! `repeatAt`) are walked in the schedule's zone by [`crate::zone`]'s DST rule. The API asks
//! [`Plan::first`] when a schedule is created or activated and the leader asks
//! [`Plan::fire_until`] ([`Plan::fire`] held to the window) when its due entry comes up;
//! [`Plan::instants`] lists the nominal instants of a window (what `fires` accounts for). A
//! schedule with no instant left is finished: it is deactivated on completion
//! ([`completion_message`]).

use crate::model::{Job, MisfirePolicy, Schedule, ScheduleKind};
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
    pub fn after(&self, at: i64) -> Option<i64> {
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
        let mut out = std::collections::VecDeque::new();
        if lo > hi {
            return (vec![], false);
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
            out.push_back(a);
            if out.len() > limit {
                out.pop_front();
                more = true;
            }
            walked += 1;
            if walked >= MAX_MISFIRE_WALK {
                more = true;
                break;
            }
            at = self.after(a);
        }
        (out.into_iter().rev().collect(), more)
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
        late: Lateness,
        job_end: Option<i64>,
    ) -> FireDecision {
        let mut d = match self.start {
            Some(start) if due < start && !self.is_one_time() => {
                FireDecision::new(vec![], self.first(start))
            }
            _ => self.fire(due, now, late),
        };
        let end = match (self.end, job_end) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        if let Some(end) = end {
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
    let how = |s: &Schedule| Schedule {
        description: String::new(),
        data: None,
        modified_at: String::new(),
        ..s.clone()
    };
    how(a) == how(b)
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
mod tests;
