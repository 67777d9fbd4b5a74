//! SAP date values: `time`, `startTime` and `endTime` (a JSON string or a
//! `{ "date": ..., "format": ... }` object) and the daily `repeatAt` time.
//!
//! Results are always UTC instants. A value that carries an offset (`Z`,
//! `+02:00`, an RFC 2822 zone, a `Z`/`ZZ` format token, Unix `X`/`x`) is that
//! instant. A value without one is a wall-clock time in the schedule's zone
//! ([`parse_sap_datetime_in`], `timeZone`; UTC for [`parse_sap_datetime`]),
//! placed by chime's DST rule ([`crate::zone::instant_of`]): a local time the
//! clocks skip is the first instant after the gap, a local time they repeat is
//! its first occurrence. `today`, `tomorrow` and weekdays are days of the zone's
//! calendar. Relative times (`in 2 hours`, `next week`) are lengths of time
//! from now: no zone applies to them.
//!
//! Accepted strings (tried in this order, any case):
//! * `now`;
//! * relative times: `in <interval>`, `<interval> from now`, `<interval> ago`,
//!   where `<interval>` uses the `repeatInterval` grammar (month = 30 days,
//!   year = 365 days), and `next <unit>` = `in 1 <unit>` (`next week` is now
//!   plus 7 days, `next month` now plus 30 days);
//! * a day and a time of day, either one optional, the day first (`tomorrow at
//!   4pm`, `friday 2am`) or last (`9pm tonight`, `5am on monday`). The time of
//!   day is one [`parse_repeat_at`] accepts (`3.30pm`, `16:40`, `noon`); a day
//!   without one means 00:00. Days:
//!   - `today`, `tonight` (needs a time), `tomorrow`: that day of the zone;
//!   - a weekday (`monday`, `mon`, `tues`, `thurs`, …) or `this <weekday>`:
//!     its next occurrence at the time of day, at or after now (today counts
//!     while that time is still ahead): `Friday at 2am` on a Friday at 01:00 is
//!     an hour later, at 03:00 a week later; `monday` is next Monday's midnight
//!     unless now is Monday 00:00 exactly;
//!   - `next <weekday>`: the first such day after today, never today (on a
//!     Wednesday, `next friday` is two days later);
//!   - `next week <weekday>`: that day of next week, weeks starting on Monday
//!     (`next week monday at 5am` is the Monday after this week's at 05:00);
//!
//!   With no day, a time of day is its next occurrence at or after now;
//! * ISO-8601: calendar (`2013-02-08`, `20130208`, `2013-02`), week
//!   (`2013-W06-5`) and ordinal (`2013-039`) dates, optionally followed by `T` or
//!   spaces and a time `HH[:mm[:ss[.fff]]]` (or `HHmm[ss]`) and an offset `Z`,
//!   `UTC`, `GMT`, `±HH`, `±HHmm` or `±HH:mm`; this covers RFC 3339 and
//!   `YYYY-MM-DD HH:mm[:ss]`;
//! * RFC 2822 (`Tue, 1 Jul 2003 10:52:37 +0200`).
//!
//! Anything else is rejected with an error naming the value.
//!
//! With a `format`, the object's `date` is parsed with moment.js tokens:
//! `YYYY YY Q M MM MMM MMMM D DD Do H HH h hh a A m mm s ss S SS SSS Z ZZ`, and
//! `X` / `x` (Unix seconds / milliseconds) when they are the whole format.
//! `Q` is the quarter (1–4), which sets the month to the quarter's first month
//! unless a month is also given; `Do` is the day of the month with its English
//! ordinal suffix, which must be the right one (`1st 2nd 3rd 4th 11th 12th 13th
//! 21st 22nd 23rd 31st`); `S`, `SS`, `SSS` (up to 9 `S`) are exactly that many
//! digits of fraction of a second (tenths, hundredths, milliseconds, …). Text in
//! `[brackets]` and letters that are not moment tokens are literals. Other
//! moment tokens (`DDD`, `DDDD`, `w`, `W`, `gggg`, `GGGG`, `e`, `E`, …) are
//! rejected with an error naming the token. Missing parts default as moment
//! does: no date parts → today; only a day → this month and year; a month (or
//! quarter) without year → this year; smaller units → their lowest value.

use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, Timelike, Utc};
use serde_json::Value;

use crate::schedfmt::interval::{parse_duration_phrase, unit_seconds};
use crate::schedfmt::FormatError;
use crate::zone::{self, Tz};

mod human;
mod iso;
mod moment;

use iso::parse_iso;
use moment::parse_with_format;

/// Parses an SAP date value (`time`, `startTime`, `endTime`) into a UTC instant,
/// wall-clock values taken as UTC.
///
/// `v` is a JSON string, or an object with a `date` string and an optional
/// `format` string of moment.js tokens. `now` anchors relative forms. The same
/// as [`parse_sap_datetime_in`] with the zone UTC.
pub fn parse_sap_datetime(v: &Value, now: DateTime<Utc>) -> Result<DateTime<Utc>, FormatError> {
    parse_sap_datetime_in(v, now, Tz::UTC)
}

/// Parses an SAP date value (`time`, `startTime`, `endTime`) of a schedule in
/// the zone `tz` into a UTC instant.
///
/// A value with an offset is that instant whatever `tz`; a value without one
/// (`2026-03-29 02:30`, `tomorrow at 4pm`, `Friday at 2am`) is a wall-clock
/// time of `tz`, `today` and weekdays taken from its calendar at `now`, and
/// placed by chime's DST rule ([`zone::instant_of`]). See the module doc for
/// the forms accepted.
pub fn parse_sap_datetime_in(
    v: &Value,
    now: DateTime<Utc>,
    tz: Tz,
) -> Result<DateTime<Utc>, FormatError> {
    let anchor = Anchor::new(now, tz);
    match v {
        Value::String(s) => parse_date_string(s, &anchor),
        Value::Object(map) => {
            let date = match map.get("date") {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Number(n)) => n.to_string(),
                Some(other) => {
                    return Err(FormatError::DateTime {
                        value: v.to_string(),
                        problem: format!("'date' must be a string, got {}", json_kind(other)),
                    })
                }
                None => {
                    return Err(FormatError::DateTime {
                        value: v.to_string(),
                        problem: "object has no 'date' field".to_string(),
                    })
                }
            };
            match map.get("format") {
                None | Some(Value::Null) => parse_date_string(&date, &anchor),
                Some(Value::String(f)) if f.trim().is_empty() => parse_date_string(&date, &anchor),
                Some(Value::String(f)) => {
                    let when = parse_with_format(&date, f, &anchor)?;
                    anchor.place(when).map_err(|p| date_err(&date, p))
                }
                Some(other) => Err(FormatError::DateTime {
                    value: v.to_string(),
                    problem: format!("'format' must be a string, got {}", json_kind(other)),
                }),
            }
        }
        other => Err(FormatError::DateTime {
            value: other.to_string(),
            problem: format!(
                "expected a string or an object with a 'date' field, got {}",
                json_kind(other)
            ),
        }),
    }
}

/// Parses an SAP `repeatAt` daily time into `(hour, minute, second)` UTC.
///
/// Accepts `4.40pm`, `18.40`, `6.20am`, `17.20:30`, `16:40`, `4pm`, `4 pm`,
/// `noon`, `midnight`, and ISO-8601 / RFC 2822 date-times (their UTC time of
/// day is used). Minutes and seconds take two digits after `.` or `:`.
///
/// SAP falls back to "now" and runs the job immediately on an invalid string;
/// chime rejects such a string instead, so a typo never triggers a run.
pub fn parse_repeat_at(s: &str) -> Result<(u32, u32, u32), FormatError> {
    let err = |problem: String| FormatError::RepeatAt {
        value: s.to_string(),
        problem,
    };
    let t = s.trim();
    if t.is_empty() {
        return Err(err("empty time".to_string()));
    }
    if let Some(hms) = parse_clock(t).map_err(err)? {
        return Ok(hms);
    }
    match parse_absolute(t) {
        Ok(dt) => {
            let tod = dt.time();
            Ok((tod.hour(), tod.minute(), tod.second()))
        }
        Err(_) => Err(err(
            "expected a time of day such as '4.40pm', '18.40' or '17.20:30', or an ISO-8601 / RFC 2822 date-time"
                .to_string(),
        )),
    }
}

/// A parsed value before the zone applies: an instant, or a wall-clock time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum When {
    /// The value carried its offset.
    At(DateTime<Utc>),
    /// A local time of the schedule's zone.
    Local(NaiveDateTime),
}

/// What a value is read against: the instant now and the zone of wall-clock times.
#[derive(Debug, Clone, Copy)]
struct Anchor {
    now: DateTime<Utc>,
    tz: Tz,
    /// The zone's wall clock at `now`.
    local_now: NaiveDateTime,
}

impl Anchor {
    fn new(now: DateTime<Utc>, tz: Tz) -> Self {
        let offset = zone::offset_ms(tz, now.timestamp_millis());
        let local_now = now.naive_utc() + Duration::milliseconds(offset);
        Anchor { now, tz, local_now }
    }

    /// Today on the zone's calendar.
    fn today(&self) -> NaiveDate {
        self.local_now.date()
    }

    /// The instant of a wall-clock time of the zone, by chime's DST rule.
    fn resolve(&self, local: NaiveDateTime) -> Result<DateTime<Utc>, String> {
        let naive = local.and_utc();
        let ms = naive.timestamp_millis();
        let at = zone::instant_of(self.tz, ms);
        let instant = DateTime::from_timestamp_millis(at)
            .ok_or_else(|| "date is out of range".to_string())?;
        // Below a millisecond the wall clock and the instant move together, except in a gap
        // (all of whose local times are its end).
        if zone::local_ms(self.tz, at) == ms {
            let sub_ms = naive - DateTime::from_timestamp_millis(ms).unwrap_or(naive);
            Ok(instant + sub_ms)
        } else {
            Ok(instant)
        }
    }

    fn place(&self, when: When) -> Result<DateTime<Utc>, String> {
        match when {
            When::At(t) => Ok(t),
            When::Local(local) => self.resolve(local),
        }
    }
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn date_err(value: &str, problem: impl Into<String>) -> FormatError {
    FormatError::DateTime {
        value: value.to_string(),
        problem: problem.into(),
    }
}

/// The string form of a date value.
fn parse_date_string(s: &str, anchor: &Anchor) -> Result<DateTime<Utc>, FormatError> {
    let t = s.trim();
    if t.is_empty() {
        return Err(date_err(s, "empty date"));
    }
    let lower = t.to_ascii_lowercase();
    if lower == "now" {
        return Ok(anchor.now);
    }
    if let Some(rel) = parse_relative(&lower, anchor.now) {
        return rel.map_err(|p| date_err(s, p));
    }
    if let Some(day) = human::parse_day_and_clock(&lower, anchor) {
        return day.map_err(|p| date_err(s, p));
    }
    let iso = match parse_iso(t) {
        Ok(when) => return anchor.place(when).map_err(|p| date_err(s, p)),
        Err(e) => e,
    };
    if let Ok(dt) = DateTime::parse_from_rfc2822(t) {
        return Ok(dt.with_timezone(&Utc));
    }
    let iso_shaped = t.len() >= 4 && t.as_bytes()[..4].iter().all(u8::is_ascii_digit);
    Err(date_err(
        s,
        if iso_shaped {
            iso
        } else {
            "not an ISO-8601 or RFC 2822 date, 'now', a relative time such as 'in 2 hours', a time of day such as '3.30pm' or a day such as 'friday at 2am'".to_string()
        },
    ))
}

/// ISO-8601 or RFC 2822 only (no human forms, no `now`); no offset is UTC.
fn parse_absolute(s: &str) -> Result<DateTime<Utc>, String> {
    match parse_iso(s) {
        Ok(When::At(dt)) => Ok(dt),
        Ok(When::Local(local)) => Ok(local.and_utc()),
        Err(e) => DateTime::parse_from_rfc2822(s)
            .map(|d| d.with_timezone(&Utc))
            .map_err(|_| e),
    }
}

fn add(now: DateTime<Utc>, d: std::time::Duration, forward: bool) -> Result<DateTime<Utc>, String> {
    let d = Duration::from_std(d).map_err(|_| "relative time is too large".to_string())?;
    let t = if forward {
        now.checked_add_signed(d)
    } else {
        now.checked_sub_signed(d)
    };
    t.ok_or_else(|| "relative time is out of range".to_string())
}

/// `in <interval>`, `<interval> from now`, `<interval> ago`, `next <unit>`; `None`
/// if not of that shape.
fn parse_relative(lower: &str, now: DateTime<Utc>) -> Option<Result<DateTime<Utc>, String>> {
    if let Some(unit) = lower.strip_prefix("next ") {
        let unit = unit.trim();
        if !unit.ends_with('s') && unit_seconds(unit).is_some() {
            return Some(
                parse_duration_phrase(&format!("1 {unit}")).and_then(|d| add(now, d, true)),
            );
        }
    }
    let (phrase, forward) = if let Some(p) = lower.strip_prefix("in ") {
        (p, true)
    } else if let Some(p) = lower.strip_suffix(" from now") {
        (p, true)
    } else if let Some(p) = lower.strip_suffix(" ago") {
        (p, false)
    } else {
        return None;
    };
    Some(parse_duration_phrase(phrase).and_then(|d| add(now, d, forward)))
}

/// A time of day: `H[H][(.|:)MM[(.|:)SS]][ ][am|pm|a.m.|p.m.]`, `noon`, `midnight`.
///
/// `Ok(None)` when `s` does not look like a time of day; `Err` when it does but
/// a value is out of range. Without am/pm, minutes are required.
fn parse_clock(s: &str) -> Result<Option<(u32, u32, u32)>, String> {
    let lower = s.trim().to_ascii_lowercase();
    match lower.as_str() {
        "noon" | "midday" => return Ok(Some((12, 0, 0))),
        "midnight" => return Ok(Some((0, 0, 0))),
        _ => {}
    }
    let b = lower.as_bytes();
    let mut i = 0;
    let digits = |i: &mut usize, max: usize| -> Option<u32> {
        let start = *i;
        while *i < b.len() && *i - start < max && b[*i].is_ascii_digit() {
            *i += 1;
        }
        (*i > start).then(|| lower[start..*i].parse().unwrap_or(u32::MAX))
    };
    let Some(hour) = digits(&mut i, 2) else {
        return Ok(None);
    };
    let mut parts = vec![];
    while parts.len() < 2 && i < b.len() && (b[i] == b'.' || b[i] == b':') {
        let start = i + 1;
        let mut j = start;
        match digits(&mut j, 2) {
            Some(v) if j - start == 2 => {
                parts.push(v);
                i = j;
            }
            _ => return Ok(None),
        }
    }
    let rest = lower[i..].trim_start();
    let meridiem = match rest {
        "" => None,
        "am" | "a.m." => Some(false),
        "pm" | "p.m." => Some(true),
        _ => return Ok(None),
    };
    if parts.is_empty() && meridiem.is_none() {
        return Ok(None);
    }
    let minute = parts.first().copied().unwrap_or(0);
    let second = parts.get(1).copied().unwrap_or(0);
    let hour = match meridiem {
        Some(pm) => {
            if !(1..=12).contains(&hour) {
                return Err(format!("hour {hour} out of range 1..12 for am/pm"));
            }
            hour % 12 + if pm { 12 } else { 0 }
        }
        None => {
            if hour > 23 {
                return Err(format!("hour {hour} out of range 0..23"));
            }
            hour
        }
    };
    if minute > 59 {
        return Err(format!("minute {minute} out of range 0..59"));
    }
    if second > 59 {
        return Err(format!("second {second} out of range 0..59"));
    }
    Ok(Some((hour, minute, second)))
}

#[cfg(test)]
mod tests;
