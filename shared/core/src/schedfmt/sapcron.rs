//! SAP cron: parser and evaluator of the 7-field schedule format
//! `Year Month Day DayOfWeek Hour Minute Second` (all times UTC).
//!
//! Field syntax (every field unless noted):
//!
//! * `*` — any value.
//! * `*/a` — every value divisible by `a`. This is what makes the documented
//!   equivalence of `* */3 10 * 9 0 0` and `* 3,6,9,12 10 * 9 0 0` hold; for
//!   Hour, Minute and Second (which start at 0) it is the usual "every a-th value".
//!   For Year it selects the multiples of `a`, for DayOfWeek the weekday numbers
//!   divisible by `a` (0 = Sunday).
//! * `a:b` — the values from `a` to `b` inclusive.
//! * `a:b/c` — `a`, `a+c`, `a+2c`, … up to `b`.
//! * `a,b,c` — a list; each element may use any of the forms above.
//! * Day: `-31..=31` except 0; a negative value counts from the end of the month
//!   (`-1` = last day). Negative values are resolved for each month before
//!   matching, so `3:-2` means "from the 3rd to the second-to-last day". A day that
//!   a month does not have (the 31st of April, `-31` in February) never matches in
//!   that month. A range whose two ends have the same sign must be ascending.
//! * DayOfWeek: 3-letter names `sun mon tue wed thu fri sat` (case-insensitive) or
//!   the numbers `0..=6` with 0 = Sunday. A range may wrap around the week
//!   (`fri:mon` = Friday, Saturday, Sunday, Monday). `a.y` selects the `a`-th
//!   occurrence of weekday `y` in the month, `a` in `-5..=5` without 0
//!   (`2.mon` = second Monday, `-1.sun` = last Sunday).
//! * Year: 4-digit years `1970..=2199` (the range the scheduler evaluates).
//!
//! All fields must match for an instant to fire. In particular, when both Day and
//! DayOfWeek are restricted they combine with AND (`* * 13 fri 0 0 0` fires only
//! on Friday the 13th), unlike the OR rule of Unix cron.
//!
//! Parsing rejects expressions that can never fire between 1970 and 2199
//! (for example `* 2 30 * 0 0 0`).

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, Timelike, Utc};

/// First year a schedule can fire in.
pub const MIN_YEAR: i32 = 1970;
/// Exclusive upper bound on fire instants: nothing at or after 2200-01-01 fires.
pub const YEAR_LIMIT: i32 = 2200;

const YEAR_SPAN: usize = (YEAR_LIMIT - MIN_YEAR) as usize;
const YEAR_WORDS: usize = YEAR_SPAN.div_ceil(64);

const WEEKDAY_NAMES: [&str; 7] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

/// A parse error of an SAP cron expression. Messages name the field and the bad token.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum CronError {
    /// The expression does not have exactly 7 whitespace-separated fields.
    #[error(
        "cron expression needs 7 fields (Year Month Day DayOfWeek Hour Minute Second), {given} given"
    )]
    FieldCount {
        /// Number of fields found.
        given: usize,
    },
    /// A value lies outside the field's domain.
    #[error("cron field '{field}': value {value} out of range {range}")]
    OutOfRange {
        /// Field name (`Year`, `Month`, …).
        field: &'static str,
        /// The offending value.
        value: i64,
        /// The allowed range, e.g. `0..23`.
        range: &'static str,
    },
    /// A step (`/c`) of zero.
    #[error("cron field '{field}': step 0 in '{token}'")]
    ZeroStep {
        /// Field name.
        field: &'static str,
        /// The offending list element.
        token: String,
    },
    /// A range whose start lies after its end.
    #[error("cron field '{field}': range '{token}' starts after it ends")]
    ReversedRange {
        /// Field name.
        field: &'static str,
        /// The offending list element.
        token: String,
    },
    /// The occurrence number of an `a.y` DayOfWeek element is not in `-5..=5` or is 0.
    #[error(
        "cron field 'DayOfWeek': occurrence {value} in '{token}' out of range -5..5 (0 excluded)"
    )]
    BadOccurrence {
        /// The occurrence number.
        value: i64,
        /// The offending list element.
        token: String,
    },
    /// A token that does not follow the field syntax.
    #[error("cron field '{field}': malformed token '{token}' ({reason})")]
    Malformed {
        /// Field name.
        field: &'static str,
        /// The offending token (a list element, or the whole field).
        token: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The expression is valid but matches no instant between 1970 and 2199.
    #[error("cron expression '{expr}' never fires between 1970 and 2199")]
    NeverFires {
        /// The normalised expression.
        expr: String,
    },
}

/// A parsed SAP cron expression.
///
/// Fields are kept as bit sets, and the combination of Day and DayOfWeek is
/// precomputed for every (month length, weekday of the 1st) pair, so finding the
/// matching days of a month is a table look-up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SapCron {
    text: String,
    /// Bit `y - MIN_YEAR` is set when year `y` matches.
    years: [u64; YEAR_WORDS],
    /// Bits 1..=12.
    months: u64,
    /// Matching days (bits 1..=31) indexed by `[month length - 28][weekday of the 1st, 0 = Sunday]`.
    days: [[u64; 7]; 4],
    /// Bits 0..=23.
    hours: u64,
    /// Bits 0..=59.
    minutes: u64,
    /// Bits 0..=59.
    seconds: u64,
}

impl SapCron {
    /// First fire instant strictly after `after` (second resolution, UTC), or
    /// `None` if there is none before the year 2200 (exclusive).
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        // `timestamp()` floors, so sub-second parts of `after` are skipped over.
        let start = DateTime::from_timestamp(after.timestamp().checked_add(1)?, 0)?;
        self.next_at_or_after(start.naive_utc())
            .map(|t| t.and_utc())
    }

    /// The original text, normalised (fields separated by single spaces).
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// First matching instant at or after `start`. Walks year → month → day →
    /// hour → minute → second, jumping straight to the next set bit of each field
    /// and resetting the smaller units whenever a larger one moves forward.
    fn next_at_or_after(&self, start: NaiveDateTime) -> Option<NaiveDateTime> {
        let mut y = start.year();
        let (mut mo, mut d, mut h, mut mi, mut s) = (
            start.month(),
            start.day(),
            start.hour(),
            start.minute(),
            start.second(),
        );
        if y < MIN_YEAR {
            (y, mo, d, h, mi, s) = (MIN_YEAR, 1, 1, 0, 0, 0);
        }
        loop {
            if y >= YEAR_LIMIT {
                return None;
            }
            let year = self.next_year(y)?;
            if year != y {
                (y, mo, d, h, mi, s) = (year, 1, 1, 0, 0, 0);
            }
            let Some(month) = next_bit(self.months, mo) else {
                (y, mo, d, h, mi, s) = (y + 1, 1, 1, 0, 0, 0);
                continue;
            };
            if month != mo {
                (mo, d, h, mi, s) = (month, 1, 0, 0, 0);
            }
            let len = days_in_month(y, mo);
            let first = first_weekday(y, mo);
            let Some(day) = next_bit(self.days[(len - 28) as usize][first as usize], d) else {
                // Month 13 finds no bit and so rolls over into the next year.
                (mo, d, h, mi, s) = (mo + 1, 1, 0, 0, 0);
                continue;
            };
            if day != d {
                (d, h, mi, s) = (day, 0, 0, 0);
            }
            let Some(hour) = next_bit(self.hours, h) else {
                // Day 32 (or past the month's end) finds no bit: next month.
                (d, h, mi, s) = (d + 1, 0, 0, 0);
                continue;
            };
            if hour != h {
                (h, mi, s) = (hour, 0, 0);
            }
            let Some(minute) = next_bit(self.minutes, mi) else {
                (h, mi, s) = (h + 1, 0, 0);
                continue;
            };
            if minute != mi {
                (mi, s) = (minute, 0);
            }
            let Some(second) = next_bit(self.seconds, s) else {
                (mi, s) = (mi + 1, 0);
                continue;
            };
            return NaiveDate::from_ymd_opt(y, mo, d)?.and_hms_opt(h, mi, second);
        }
    }

    /// First matching year at or after `y`, if any before `YEAR_LIMIT`.
    fn next_year(&self, y: i32) -> Option<i32> {
        if y >= YEAR_LIMIT {
            return None;
        }
        let mut idx = (y.max(MIN_YEAR) - MIN_YEAR) as usize;
        while idx < YEAR_SPAN {
            let word = self.years[idx / 64] >> (idx % 64);
            if word != 0 {
                let found = idx + word.trailing_zeros() as usize;
                return (found < YEAR_SPAN).then_some(MIN_YEAR + found as i32);
            }
            idx = (idx / 64 + 1) * 64;
        }
        None
    }
}

impl fmt::Display for SapCron {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl FromStr for SapCron {
    type Err = CronError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let fields: Vec<&str> = s.split_whitespace().collect();
        if fields.len() != 7 {
            return Err(CronError::FieldCount {
                given: fields.len(),
            });
        }
        let years = parse_years(fields[0])?;
        let months = parse_plain(NumField::MONTH, fields[1])?;
        let day_sets = parse_days(fields[2])?;
        let dow = parse_weekdays(fields[3])?;
        let hours = parse_plain(NumField::HOUR, fields[4])?;
        let minutes = parse_plain(NumField::MINUTE, fields[5])?;
        let seconds = parse_plain(NumField::SECOND, fields[6])?;

        let mut days = [[0u64; 7]; 4];
        for (li, row) in days.iter_mut().enumerate() {
            let len = 28 + li as u32;
            for (first, mask) in row.iter_mut().enumerate() {
                for day in 1..=len {
                    if day_sets[li] & (1 << day) != 0 && dow.matches(first as u32, day, len) {
                        *mask |= 1 << day;
                    }
                }
            }
        }

        let cron = SapCron {
            text: fields.join(" "),
            years,
            months,
            days,
            hours,
            minutes,
            seconds,
        };
        let epoch = NaiveDate::from_ymd_opt(MIN_YEAR, 1, 1)
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .expect("valid epoch");
        if cron.next_at_or_after(epoch).is_none() {
            return Err(CronError::NeverFires { expr: cron.text });
        }
        Ok(cron)
    }
}

/// Lowest set bit of `mask` at position `from` or above.
fn next_bit(mask: u64, from: u32) -> Option<u32> {
    if from >= 64 {
        return None;
    }
    let m = mask & (u64::MAX << from);
    (m != 0).then(|| m.trailing_zeros())
}

fn is_leap(y: i32) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i32, m: u32) -> u32 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Weekday of the 1st of the month, 0 = Sunday.
fn first_weekday(y: i32, m: u32) -> u32 {
    NaiveDate::from_ymd_opt(y, m, 1)
        .map(|d| d.weekday().num_days_from_sunday())
        .unwrap_or(0)
}

/// One list element of a field before its values are resolved.
#[derive(Debug, Clone, Copy)]
enum Elem {
    /// `*` (step 1) or `*/c`.
    Every(u32),
    /// `a:b/c` (`a:b` has step 1; a single value is `a:a/1`).
    Range(i64, i64, u32),
}

/// Splits a field into list elements, rejecting empty ones.
fn elements<'a>(field: &'static str, text: &'a str) -> Result<Vec<&'a str>, CronError> {
    let parts: Vec<&str> = text.split(',').collect();
    if parts.iter().any(|p| p.is_empty()) {
        return Err(CronError::Malformed {
            field,
            token: text.to_string(),
            reason: "empty list element",
        });
    }
    Ok(parts)
}

/// Parses the `*`, `*/c`, `a`, `a:b` and `a:b/c` forms; `value` parses one value.
fn parse_elem(
    field: &'static str,
    token: &str,
    value: &dyn Fn(&str) -> Result<i64, CronError>,
) -> Result<Elem, CronError> {
    let (base, step) = match token.split_once('/') {
        Some((base, step)) => (base, Some(step)),
        None => (token, None),
    };
    let step = match step {
        None => 1,
        Some(st) => {
            if st.is_empty() || !st.bytes().all(|b| b.is_ascii_digit()) {
                return Err(CronError::Malformed {
                    field,
                    token: token.to_string(),
                    reason: "step must be a positive integer",
                });
            }
            match st.parse::<u32>() {
                Ok(0) => {
                    return Err(CronError::ZeroStep {
                        field,
                        token: token.to_string(),
                    })
                }
                Ok(n) => n,
                Err(_) => {
                    return Err(CronError::Malformed {
                        field,
                        token: token.to_string(),
                        reason: "step too large",
                    })
                }
            }
        }
    };
    if base == "*" {
        return Ok(Elem::Every(step));
    }
    if let Some((a, b)) = base.split_once(':') {
        return Ok(Elem::Range(value(a)?, value(b)?, step));
    }
    if step != 1 || token.contains('/') {
        return Err(CronError::Malformed {
            field,
            token: token.to_string(),
            reason: "a step needs '*' or a range 'a:b' before it",
        });
    }
    let v = value(base)?;
    Ok(Elem::Range(v, v, 1))
}

/// Parses a signed decimal integer, reporting `field`/`token` when it is not one.
fn parse_int(field: &'static str, token: &str, s: &str) -> Result<i64, CronError> {
    let digits = s.strip_prefix('-').unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(CronError::Malformed {
            field,
            token: token.to_string(),
            reason: "expected a number",
        });
    }
    s.parse::<i64>().map_err(|_| CronError::Malformed {
        field,
        token: token.to_string(),
        reason: "number too large",
    })
}

/// A field whose values are plain integers in `min..=max`.
struct NumField {
    name: &'static str,
    min: i64,
    max: i64,
    range: &'static str,
}

impl NumField {
    const YEAR: NumField = NumField {
        name: "Year",
        min: MIN_YEAR as i64,
        max: (YEAR_LIMIT - 1) as i64,
        range: "1970..2199",
    };
    const MONTH: NumField = NumField {
        name: "Month",
        min: 1,
        max: 12,
        range: "1..12",
    };
    const HOUR: NumField = NumField {
        name: "Hour",
        min: 0,
        max: 23,
        range: "0..23",
    };
    const MINUTE: NumField = NumField {
        name: "Minute",
        min: 0,
        max: 59,
        range: "0..59",
    };
    const SECOND: NumField = NumField {
        name: "Second",
        min: 0,
        max: 59,
        range: "0..59",
    };

    /// Parses the field into the list of values it selects, in order of elements.
    fn values(&self, text: &str) -> Result<Vec<i64>, CronError> {
        let mut out = Vec::new();
        for token in elements(self.name, text)? {
            let value = |s: &str| {
                let v = parse_int(self.name, token, s)?;
                if v < self.min || v > self.max {
                    return Err(CronError::OutOfRange {
                        field: self.name,
                        value: v,
                        range: self.range,
                    });
                }
                Ok(v)
            };
            match parse_elem(self.name, token, &value)? {
                Elem::Every(c) => {
                    out.extend((self.min..=self.max).filter(|v| v.rem_euclid(i64::from(c)) == 0))
                }
                Elem::Range(a, b, c) => {
                    if a > b {
                        return Err(CronError::ReversedRange {
                            field: self.name,
                            token: token.to_string(),
                        });
                    }
                    out.extend((a..=b).step_by(c as usize));
                }
            }
        }
        Ok(out)
    }
}

/// Month, Hour, Minute or Second as a bit set.
fn parse_plain(field: NumField, text: &str) -> Result<u64, CronError> {
    Ok(field
        .values(text)?
        .into_iter()
        .fold(0u64, |m, v| m | (1 << v)))
}

fn parse_years(text: &str) -> Result<[u64; YEAR_WORDS], CronError> {
    let mut words = [0u64; YEAR_WORDS];
    for y in NumField::YEAR.values(text)? {
        let idx = (y - i64::from(MIN_YEAR)) as usize;
        words[idx / 64] |= 1 << (idx % 64);
    }
    Ok(words)
}

/// The Day field as a set of days (bits 1..=31) for each month length 28..=31.
fn parse_days(text: &str) -> Result<[u64; 4], CronError> {
    const FIELD: &str = "Day";
    let mut sets = [0u64; 4];
    for token in elements(FIELD, text)? {
        let value = |s: &str| {
            let v = parse_int(FIELD, token, s)?;
            if v == 0 || !(-31..=31).contains(&v) {
                return Err(CronError::OutOfRange {
                    field: FIELD,
                    value: v,
                    range: "-31..31 (0 excluded)",
                });
            }
            Ok(v)
        };
        let elem = parse_elem(FIELD, token, &value)?;
        if let Elem::Range(a, b, _) = elem {
            if (a > 0) == (b > 0) && a > b {
                return Err(CronError::ReversedRange {
                    field: FIELD,
                    token: token.to_string(),
                });
            }
        }
        for (li, set) in sets.iter_mut().enumerate() {
            let len = 28 + li as i64;
            let resolve = |v: i64| if v > 0 { v } else { len + 1 + v };
            let (start, end, step) = match elem {
                Elem::Every(c) => {
                    let c = i64::from(c);
                    (c, len, c)
                }
                Elem::Range(a, b, c) => (resolve(a), resolve(b), i64::from(c)),
            };
            let mut v = start;
            while v <= end {
                if (1..=len).contains(&v) {
                    *set |= 1 << v;
                }
                v += step;
            }
        }
    }
    Ok(sets)
}

/// The DayOfWeek field: plain weekdays plus `a.y` occurrences.
struct WeekdaySpec {
    /// Bits 0..=6, 0 = Sunday.
    plain: u8,
    /// Per weekday: bits 0..=4 for occurrences 1..=5, bits 5..=9 for -1..=-5.
    nth: [u16; 7],
}

impl WeekdaySpec {
    /// Whether day `day` of a month of `len` days whose 1st falls on weekday `first` matches.
    fn matches(&self, first: u32, day: u32, len: u32) -> bool {
        let wd = ((first + day - 1) % 7) as usize;
        if self.plain & (1 << wd) != 0 {
            return true;
        }
        let forward = (day - 1) / 7; // 0-based occurrence from the start
        let backward = (len - day) / 7; // 0-based occurrence from the end
        self.nth[wd] & (1 << forward) != 0 || self.nth[wd] & (1 << (5 + backward)) != 0
    }
}

fn parse_weekday_value(token: &str, s: &str) -> Result<i64, CronError> {
    const FIELD: &str = "DayOfWeek";
    if let Some(i) = WEEKDAY_NAMES.iter().position(|n| n.eq_ignore_ascii_case(s)) {
        return Ok(i as i64);
    }
    if s.bytes().any(|b| b.is_ascii_alphabetic()) {
        return Err(CronError::Malformed {
            field: FIELD,
            token: token.to_string(),
            reason: "weekdays are sun, mon, tue, wed, thu, fri, sat or 0..6 with 0 = sun",
        });
    }
    let v = parse_int(FIELD, token, s)?;
    if !(0..=6).contains(&v) {
        return Err(CronError::OutOfRange {
            field: FIELD,
            value: v,
            range: "0..6 (0 = sun)",
        });
    }
    Ok(v)
}

fn parse_weekdays(text: &str) -> Result<WeekdaySpec, CronError> {
    const FIELD: &str = "DayOfWeek";
    let mut spec = WeekdaySpec {
        plain: 0,
        nth: [0; 7],
    };
    for token in elements(FIELD, text)? {
        if let Some((occ, day)) = token.split_once('.') {
            let n = parse_int(FIELD, token, occ)?;
            if n == 0 || !(-5..=5).contains(&n) {
                return Err(CronError::BadOccurrence {
                    value: n,
                    token: token.to_string(),
                });
            }
            let wd = parse_weekday_value(token, day)? as usize;
            let bit = if n > 0 { n - 1 } else { 4 - n };
            spec.nth[wd] |= 1 << bit;
            continue;
        }
        let value = |s: &str| parse_weekday_value(token, s);
        match parse_elem(FIELD, token, &value)? {
            Elem::Every(c) => {
                for wd in (0..7).filter(|w| w % c == 0) {
                    spec.plain |= 1 << wd;
                }
            }
            Elem::Range(a, b, c) => {
                // Ranges wrap around the week: `fri:mon` is fri, sat, sun, mon.
                let span = (b - a).rem_euclid(7);
                let mut off = 0;
                while off <= span {
                    spec.plain |= 1 << ((a + off) % 7);
                    off += i64::from(c);
                }
            }
        }
    }
    Ok(spec)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use proptest::prelude::*;

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, s).unwrap()
    }

    fn cron(s: &str) -> SapCron {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn next(expr: &str, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        cron(expr).next_after(after)
    }

    #[test]
    fn sap_example_every_half_hour_between_10_and_12() {
        let e = "* * * * 10:12 */30 0";
        assert_eq!(
            next(e, utc(2024, 5, 1, 9, 59, 59)),
            Some(utc(2024, 5, 1, 10, 0, 0))
        );
        assert_eq!(
            next(e, utc(2024, 5, 1, 10, 0, 0)),
            Some(utc(2024, 5, 1, 10, 30, 0))
        );
        assert_eq!(
            next(e, utc(2024, 5, 1, 12, 0, 0)),
            Some(utc(2024, 5, 1, 12, 30, 0))
        );
        assert_eq!(
            next(e, utc(2024, 5, 1, 12, 30, 0)),
            Some(utc(2024, 5, 2, 10, 0, 0))
        );
        assert_eq!(
            next(e, utc(2024, 12, 31, 23, 0, 0)),
            Some(utc(2025, 1, 1, 10, 0, 0))
        );
    }

    #[test]
    fn sap_example_fridays_of_2015() {
        let e = "2015 * * fri 12 0 0";
        // 2015-01-01 was a Thursday.
        assert_eq!(
            next(e, utc(2014, 6, 1, 0, 0, 0)),
            Some(utc(2015, 1, 2, 12, 0, 0))
        );
        assert_eq!(
            next(e, utc(2015, 1, 2, 12, 0, 0)),
            Some(utc(2015, 1, 9, 12, 0, 0))
        );
        // 2015-12-25 was the last Friday of 2015.
        assert_eq!(
            next(e, utc(2015, 12, 20, 0, 0, 0)),
            Some(utc(2015, 12, 25, 12, 0, 0))
        );
        assert_eq!(next(e, utc(2015, 12, 25, 12, 0, 0)), None);
        assert_eq!(next(e, utc(2024, 1, 1, 0, 0, 0)), None);
    }

    #[test]
    fn sap_example_third_to_second_to_last_day() {
        let e = "* * 3:-2 * 12:14 0 0";
        assert_eq!(
            next(e, utc(2024, 3, 1, 0, 0, 0)),
            Some(utc(2024, 3, 3, 12, 0, 0))
        );
        assert_eq!(
            next(e, utc(2024, 3, 3, 12, 0, 0)),
            Some(utc(2024, 3, 3, 13, 0, 0))
        );
        // February 2024 has 29 days: the second-to-last is the 28th.
        assert_eq!(
            next(e, utc(2024, 2, 27, 14, 0, 0)),
            Some(utc(2024, 2, 28, 12, 0, 0))
        );
        assert_eq!(
            next(e, utc(2024, 2, 28, 14, 0, 0)),
            Some(utc(2024, 3, 3, 12, 0, 0))
        );
        // February 2023 has 28 days: the second-to-last is the 27th.
        assert_eq!(
            next(e, utc(2023, 2, 27, 14, 0, 0)),
            Some(utc(2023, 3, 3, 12, 0, 0))
        );
        // April has 30 days: the 29th is the last match.
        assert_eq!(
            next(e, utc(2024, 4, 29, 13, 30, 0)),
            Some(utc(2024, 4, 29, 14, 0, 0))
        );
        assert_eq!(
            next(e, utc(2024, 4, 29, 14, 0, 0)),
            Some(utc(2024, 5, 3, 12, 0, 0))
        );
    }

    #[test]
    fn sap_example_last_sunday() {
        let e = "* * * -1.sun 9 0 0";
        assert_eq!(
            next(e, utc(2024, 3, 1, 0, 0, 0)),
            Some(utc(2024, 3, 31, 9, 0, 0))
        );
        assert_eq!(
            next(e, utc(2024, 3, 31, 9, 0, 0)),
            Some(utc(2024, 4, 28, 9, 0, 0))
        );
        assert_eq!(
            next(e, utc(2024, 2, 1, 0, 0, 0)),
            Some(utc(2024, 2, 25, 9, 0, 0))
        );
    }

    #[test]
    fn sap_example_every_three_months() {
        let e = "* */3 10 * 9 0 0";
        assert_eq!(
            next(e, utc(2024, 1, 15, 0, 0, 0)),
            Some(utc(2024, 3, 10, 9, 0, 0))
        );
        assert_eq!(
            next(e, utc(2024, 3, 10, 9, 0, 0)),
            Some(utc(2024, 6, 10, 9, 0, 0))
        );
        assert_eq!(
            next(e, utc(2024, 12, 10, 9, 0, 0)),
            Some(utc(2025, 3, 10, 9, 0, 0))
        );
        // The documentation gives both spellings for the same schedule.
        let a = cron(e);
        let b = cron("* 3,6,9,12 10 * 9 0 0");
        assert_eq!(a.months, b.months);
        assert_eq!(a.days, b.days);
    }

    #[test]
    fn sap_example_every_ten_minutes() {
        let e = "* * * * * */10 0";
        assert_eq!(
            next(e, utc(2024, 1, 1, 0, 0, 0)),
            Some(utc(2024, 1, 1, 0, 10, 0))
        );
        assert_eq!(
            next(e, utc(2024, 1, 1, 0, 5, 17)),
            Some(utc(2024, 1, 1, 0, 10, 0))
        );
        assert_eq!(
            next(e, utc(2024, 12, 31, 23, 55, 0)),
            Some(utc(2025, 1, 1, 0, 0, 0))
        );
    }

    #[test]
    fn strictly_after_with_subsecond_input() {
        let c = cron("* * * * * * *");
        let t = utc(2024, 1, 1, 0, 0, 0) + chrono::Duration::milliseconds(500);
        assert_eq!(c.next_after(t), Some(utc(2024, 1, 1, 0, 0, 1)));
        assert_eq!(
            c.next_after(utc(2024, 1, 1, 0, 0, 0)),
            Some(utc(2024, 1, 1, 0, 0, 1))
        );
    }

    #[test]
    fn day_and_weekday_combine_with_and() {
        // Friday the 13th: 2024-09-13, then 2024-12-13.
        let e = "* * 13 fri 0 0 0";
        assert_eq!(
            next(e, utc(2024, 1, 1, 0, 0, 0)),
            Some(utc(2024, 9, 13, 0, 0, 0))
        );
        assert_eq!(
            next(e, utc(2024, 9, 13, 0, 0, 0)),
            Some(utc(2024, 12, 13, 0, 0, 0))
        );
    }

    #[test]
    fn nth_weekday_and_names() {
        // Second Monday of January 2024 is the 8th.
        assert_eq!(
            next("* * * 2.MON 8 0 0", utc(2024, 1, 1, 0, 0, 0)),
            Some(utc(2024, 1, 8, 8, 0, 0))
        );
        // Fifth Friday: March 2024 has one (29th), April 2024 does not, May has the 31st.
        let e = "* * * 5.fri 0 0 0";
        assert_eq!(
            next(e, utc(2024, 3, 1, 0, 0, 0)),
            Some(utc(2024, 3, 29, 0, 0, 0))
        );
        assert_eq!(
            next(e, utc(2024, 3, 29, 0, 0, 0)),
            Some(utc(2024, 5, 31, 0, 0, 0))
        );
        // Numbers: 0 = Sunday. 2024-01-07 is a Sunday.
        assert_eq!(
            next("* * * 0 0 0 0", utc(2024, 1, 1, 0, 0, 0)),
            Some(utc(2024, 1, 7, 0, 0, 0))
        );
        // Wrapping range fri:mon; 2024-01-02 is a Tuesday, so Friday the 5th is next.
        assert_eq!(
            next("* * * fri:mon 0 0 0", utc(2024, 1, 2, 0, 0, 0)),
            Some(utc(2024, 1, 5, 0, 0, 0))
        );
        assert_eq!(
            next("* * * fri:mon 0 0 0", utc(2024, 1, 8, 0, 0, 0)),
            Some(utc(2024, 1, 12, 0, 0, 0))
        );
    }

    #[test]
    fn negative_days_and_day_31() {
        assert_eq!(
            next("* * -1 * 0 0 0", utc(2023, 2, 1, 0, 0, 0)),
            Some(utc(2023, 2, 28, 0, 0, 0))
        );
        assert_eq!(
            next("* * -1 * 0 0 0", utc(2024, 2, 1, 0, 0, 0)),
            Some(utc(2024, 2, 29, 0, 0, 0))
        );
        // The 31st fires only in months that have one.
        assert_eq!(
            next("* * 31 * 0 0 0", utc(2024, 4, 1, 0, 0, 0)),
            Some(utc(2024, 5, 31, 0, 0, 0))
        );
        // -31 is the 1st of 31-day months only.
        assert_eq!(
            next("* * -31 * 0 0 0", utc(2024, 2, 1, 0, 0, 0)),
            Some(utc(2024, 3, 1, 0, 0, 0))
        );
        // February 29th: next leap year.
        assert_eq!(
            next("* 2 29 * 0 0 0", utc(2024, 3, 1, 0, 0, 0)),
            Some(utc(2028, 2, 29, 0, 0, 0))
        );
        // 2100 is not a leap year.
        assert_eq!(
            next("* 2 29 * 0 0 0", utc(2096, 3, 1, 0, 0, 0)),
            Some(utc(2104, 2, 29, 0, 0, 0))
        );
    }

    #[test]
    fn year_forms_and_limit() {
        assert_eq!(
            next("2030:2040/5 1 1 * 0 0 0", utc(2024, 1, 1, 0, 0, 0)),
            Some(utc(2030, 1, 1, 0, 0, 0))
        );
        assert_eq!(
            next("2030:2040/5 1 1 * 0 0 0", utc(2030, 1, 1, 0, 0, 0)),
            Some(utc(2035, 1, 1, 0, 0, 0))
        );
        assert_eq!(
            next("*/4 2 29 * 0 0 0", utc(2024, 3, 1, 0, 0, 0)),
            Some(utc(2028, 2, 29, 0, 0, 0))
        );
        assert_eq!(next("* * * * * * *", utc(2199, 12, 31, 23, 59, 59)), None);
        assert_eq!(
            next("* * * * * * *", utc(2199, 12, 31, 23, 59, 58)),
            Some(utc(2199, 12, 31, 23, 59, 59))
        );
        assert_eq!(
            next("* * * * * * *", utc(1900, 5, 5, 5, 5, 5)),
            Some(utc(1970, 1, 1, 0, 0, 0))
        );
        assert_eq!(next("* * * * * * *", utc(2500, 1, 1, 0, 0, 0)), None);
    }

    #[test]
    fn normalises_text() {
        let c = cron("  *  *   3:-2 *\t12:14 0 0 ");
        assert_eq!(c.as_str(), "* * 3:-2 * 12:14 0 0");
        assert_eq!(c.to_string(), "* * 3:-2 * 12:14 0 0");
    }

    fn err(s: &str) -> CronError {
        s.parse::<SapCron>()
            .expect_err(&format!("'{s}' should be rejected"))
    }

    #[test]
    fn rejects_wrong_field_count() {
        assert_eq!(err("* * * * 4"), CronError::FieldCount { given: 5 });
        assert_eq!(err(""), CronError::FieldCount { given: 0 });
        assert_eq!(err("* * * * * * * *"), CronError::FieldCount { given: 8 });
        let msg = err("* * * * 4").to_string();
        assert!(msg.contains("7 fields") && msg.contains("5 given"), "{msg}");
    }

    #[test]
    fn rejects_out_of_range_values() {
        assert_eq!(
            err("* * * * 24 0 0").to_string(),
            "cron field 'Hour': value 24 out of range 0..23"
        );
        assert_eq!(
            err("* 13 * * 0 0 0").to_string(),
            "cron field 'Month': value 13 out of range 1..12"
        );
        assert_eq!(
            err("* 0 * * 0 0 0").to_string(),
            "cron field 'Month': value 0 out of range 1..12"
        );
        assert_eq!(
            err("* * 0 * 0 0 0").to_string(),
            "cron field 'Day': value 0 out of range -31..31 (0 excluded)"
        );
        assert_eq!(
            err("* * -32 * 0 0 0").to_string(),
            "cron field 'Day': value -32 out of range -31..31 (0 excluded)"
        );
        assert_eq!(
            err("* * * * 0 60 0").to_string(),
            "cron field 'Minute': value 60 out of range 0..59"
        );
        assert_eq!(
            err("* * * * 0 0 0:60").to_string(),
            "cron field 'Second': value 60 out of range 0..59"
        );
        assert_eq!(
            err("15 * * * 0 0 0").to_string(),
            "cron field 'Year': value 15 out of range 1970..2199"
        );
        assert_eq!(
            err("* * * 7 0 0 0").to_string(),
            "cron field 'DayOfWeek': value 7 out of range 0..6 (0 = sun)"
        );
        assert_eq!(
            err("* * * 6.mon 0 0 0").to_string(),
            "cron field 'DayOfWeek': occurrence 6 in '6.mon' out of range -5..5 (0 excluded)"
        );
        assert!(matches!(
            err("* * * 0.mon 0 0 0"),
            CronError::BadOccurrence { value: 0, .. }
        ));
        assert!(matches!(
            err("* * * * -1 0 0"),
            CronError::OutOfRange {
                field: "Hour",
                value: -1,
                ..
            }
        ));
    }

    #[test]
    fn rejects_zero_step_and_reversed_ranges() {
        assert_eq!(
            err("* * * * */0 0 0").to_string(),
            "cron field 'Hour': step 0 in '*/0'"
        );
        assert!(matches!(
            err("* * * * 1:5/0 0 0"),
            CronError::ZeroStep { field: "Hour", .. }
        ));
        assert_eq!(
            err("* * * * 14:12 0 0").to_string(),
            "cron field 'Hour': range '14:12' starts after it ends"
        );
        assert!(matches!(
            err("* * 20:3 * 0 0 0"),
            CronError::ReversedRange { field: "Day", .. }
        ));
        assert!(matches!(
            err("* * -2:-5 * 0 0 0"),
            CronError::ReversedRange { field: "Day", .. }
        ));
    }

    #[test]
    fn rejects_malformed_tokens() {
        for (expr, field, token) in [
            ("* * * * x 0 0", "Hour", "x"),
            ("* * * * 1,,2 0 0", "Hour", "1,,2"),
            ("* * * * 1, 0 0", "Hour", "1,"),
            ("* * * * 5/2 0 0", "Hour", "5/2"),
            ("* * * * */x 0 0", "Hour", "*/x"),
            ("* * * * 1:2:3 0 0", "Hour", "1:2:3"),
            ("* * * * ** 0 0", "Hour", "**"),
            ("* * * monday 0 0 0", "DayOfWeek", "monday"),
            ("* * * 1.xyz 0 0 0", "DayOfWeek", "1.xyz"),
            ("* * * 1.mon/2 0 0 0", "DayOfWeek", "1.mon/2"),
            ("* jan * * 0 0 0", "Month", "jan"),
            ("* * 1.5 * 0 0 0", "Day", "1.5"),
        ] {
            match err(expr) {
                CronError::Malformed {
                    field: f, token: t, ..
                } => {
                    assert_eq!((f, t.as_str()), (field, token), "{expr}");
                }
                other => panic!("{expr}: unexpected {other:?}"),
            }
        }
        let msg = err("* * * * x 0 0").to_string();
        assert!(msg.contains("'Hour'") && msg.contains("'x'"), "{msg}");
    }

    #[test]
    fn rejects_expressions_that_never_fire() {
        for e in [
            "* 2 30 * 0 0 0",
            "* 4 31 * 0 0 0",
            "* 2,4,6,9,11 31 * 0 0 0",
            "* 2 -30 * 0 0 0",
            "* * 31 1.mon 0 0 0",
            "* * 1 -1.mon 0 0 0",
            "2023 2 29 * 0 0 0",
            "2100 2 29 * 0 0 0",
        ] {
            assert!(
                matches!(err(e), CronError::NeverFires { .. }),
                "{e} should never fire"
            );
        }
        assert!(err("* 2 30 * 0 0 0").to_string().contains("never fires"));
        // These can fire.
        for e in [
            "* * 31 * 0 0 0",
            "* 2 29 * 0 0 0",
            "* * 29:31 -1.sun 0 0 0",
            "2015 * * * * * *",
            "2199 12 31 * 23 59 59",
            "* * -31:5 * 0 0 0",
            "* * -29:1 * 0 0 0",
        ] {
            cron(e);
        }
        // `-2:3` resolves to an empty range in every month, so alone it never fires.
        assert!(matches!(
            err("* * -2:3 * 0 0 0"),
            CronError::NeverFires { .. }
        ));
    }

    // ---- property test against an independent brute-force oracle ----

    /// One list element as generated: rendered to text and evaluated directly.
    #[derive(Debug, Clone, Copy)]
    enum M {
        Any,
        Every(i64),
        One(i64),
        Range(i64, i64),
        RangeStep(i64, i64, i64),
        Nth(i64, i64),
    }

    #[derive(Debug, Clone)]
    struct Expr {
        year: Vec<M>,
        month: Vec<M>,
        day: Vec<M>,
        dow: Vec<M>,
        dow_style: u8,
        hour: Vec<M>,
        minute: Vec<M>,
        second: Vec<M>,
    }

    fn render_field(f: &[M], val: &dyn Fn(i64) -> String) -> String {
        f.iter()
            .map(|m| match *m {
                M::Any => "*".to_string(),
                M::Every(c) => format!("*/{c}"),
                M::One(a) => val(a),
                M::Range(a, b) => format!("{}:{}", val(a), val(b)),
                M::RangeStep(a, b, c) => format!("{}:{}/{c}", val(a), val(b)),
                M::Nth(n, w) => format!("{n}.{}", val(w)),
            })
            .collect::<Vec<_>>()
            .join(",")
    }

    impl Expr {
        fn render(&self) -> String {
            let num = |v: i64| v.to_string();
            let style = self.dow_style;
            let wd = move |v: i64| match style {
                0 => v.to_string(),
                1 => WEEKDAY_NAMES[v as usize].to_string(),
                _ => WEEKDAY_NAMES[v as usize].to_uppercase(),
            };
            [
                render_field(&self.year, &num),
                render_field(&self.month, &num),
                render_field(&self.day, &num),
                render_field(&self.dow, &wd),
                render_field(&self.hour, &num),
                render_field(&self.minute, &num),
                render_field(&self.second, &num),
            ]
            .join(" ")
        }

        fn plain(f: &[M], v: i64) -> bool {
            f.iter().any(|m| match *m {
                M::Any => true,
                M::Every(c) => v % c == 0,
                M::One(a) => v == a,
                M::Range(a, b) => a <= v && v <= b,
                M::RangeStep(a, b, c) => a <= v && v <= b && (v - a) % c == 0,
                M::Nth(..) => unreachable!(),
            })
        }

        fn date_matches(&self, d: NaiveDate) -> bool {
            let len = i64::from(days_in_month(d.year(), d.month()));
            let day = i64::from(d.day());
            let wd = i64::from(d.weekday().num_days_from_sunday());
            let r = |x: i64| if x > 0 { x } else { len + 1 + x };
            let day_ok = self.day.iter().any(|m| match *m {
                M::Any => true,
                M::Every(c) => day % c == 0,
                M::One(a) => r(a) == day,
                M::Range(a, b) => r(a) <= day && day <= r(b),
                M::RangeStep(a, b, c) => r(a) <= day && day <= r(b) && (day - r(a)) % c == 0,
                M::Nth(..) => unreachable!(),
            });
            let dow_ok = self.dow.iter().any(|m| match *m {
                M::Any => true,
                M::Every(c) => wd % c == 0,
                M::One(a) => wd == a,
                M::Range(a, b) => (wd - a).rem_euclid(7) <= (b - a).rem_euclid(7),
                M::RangeStep(a, b, c) => {
                    let off = (wd - a).rem_euclid(7);
                    off <= (b - a).rem_euclid(7) && off % c == 0
                }
                M::Nth(n, w) => {
                    wd == w
                        && if n > 0 {
                            (day - 1) / 7 + 1 == n
                        } else {
                            (len - day) / 7 + 1 == -n
                        }
                }
            });
            Self::plain(&self.year, i64::from(d.year()))
                && Self::plain(&self.month, i64::from(d.month()))
                && day_ok
                && dow_ok
        }

        fn matches(&self, t: NaiveDateTime) -> bool {
            Self::plain(&self.second, i64::from(t.second()))
                && Self::plain(&self.minute, i64::from(t.minute()))
                && Self::plain(&self.hour, i64::from(t.hour()))
                && self.date_matches(t.date())
        }
    }

    fn ordered(lo: i64, hi: i64) -> impl Strategy<Value = (i64, i64)> + Clone {
        (lo..=hi, lo..=hi).prop_map(|(a, b)| (a.min(b), a.max(b)))
    }

    /// Elements for a plain field with values `lo..=hi`.
    fn plain_elem(lo: i64, hi: i64, max_step: i64) -> BoxedStrategy<M> {
        prop_oneof![
            (1..=max_step).prop_map(M::Every),
            (lo..=hi).prop_map(M::One),
            ordered(lo, hi).prop_map(|(a, b)| M::Range(a, b)),
            (ordered(lo, hi), 1..=max_step).prop_map(|((a, b), c)| M::RangeStep(a, b, c)),
        ]
        .boxed()
    }

    fn field(elem: BoxedStrategy<M>, any_weight: u32) -> BoxedStrategy<Vec<M>> {
        prop_oneof![
            any_weight => Just(vec![M::Any]),
            3 => elem.clone().prop_map(|e| vec![e]),
            1 => proptest::collection::vec(elem, 2..=3),
        ]
        .boxed()
    }

    fn day_value() -> impl Strategy<Value = i64> {
        prop_oneof![1i64..=31, -31i64..=-1]
    }

    fn day_elem() -> BoxedStrategy<M> {
        let range = prop_oneof![
            ordered(1, 31),
            ordered(-31, -1),
            (1i64..=31, -31i64..=-1),
            (-31i64..=-1, 1i64..=31),
        ];
        prop_oneof![
            (1i64..=5).prop_map(M::Every),
            day_value().prop_map(M::One),
            range.clone().prop_map(|(a, b)| M::Range(a, b)),
            (range, 1i64..=4).prop_map(|((a, b), c)| M::RangeStep(a, b, c)),
        ]
        .boxed()
    }

    fn dow_elem() -> BoxedStrategy<M> {
        prop_oneof![
            (1i64..=3).prop_map(M::Every),
            (0i64..=6).prop_map(M::One),
            (0i64..=6, 0i64..=6).prop_map(|(a, b)| M::Range(a, b)),
            (0i64..=6, 0i64..=6, 1i64..=3).prop_map(|(a, b, c)| M::RangeStep(a, b, c)),
            (prop_oneof![1i64..=5, -5i64..=-1], 0i64..=6).prop_map(|(n, w)| M::Nth(n, w)),
        ]
        .boxed()
    }

    /// Expressions with any date fields; fires may be far apart.
    fn sparse_expr() -> impl Strategy<Value = Expr> {
        (
            field(plain_elem(2023, 2028, 3), 4),
            field(plain_elem(1, 12, 4), 3),
            field(day_elem(), 3),
            field(dow_elem(), 3),
            0u8..3,
            field(plain_elem(0, 23, 6), 2),
            field(plain_elem(0, 59, 20), 2),
            field(plain_elem(0, 59, 20), 2),
        )
            .prop_map(
                |(year, month, day, dow, dow_style, hour, minute, second)| Expr {
                    year,
                    month,
                    day,
                    dow,
                    dow_style,
                    hour,
                    minute,
                    second,
                },
            )
    }

    /// Expressions whose date fields are mostly `*`, so fires are dense.
    fn dense_expr() -> impl Strategy<Value = Expr> {
        (
            field(day_elem(), 8),
            field(dow_elem(), 8),
            field(plain_elem(0, 23, 4), 2),
            field(plain_elem(0, 59, 10), 2),
            field(plain_elem(0, 59, 10), 2),
        )
            .prop_map(|(day, dow, hour, minute, second)| Expr {
                year: vec![M::Any],
                month: vec![M::Any],
                day,
                dow,
                dow_style: 1,
                hour,
                minute,
                second,
            })
    }

    fn start_instant() -> impl Strategy<Value = NaiveDateTime> {
        (
            2023i32..=2026,
            1u32..=12,
            1u32..=28,
            0u32..24,
            0u32..60,
            0u32..60,
        )
            .prop_map(|(y, mo, d, h, mi, s)| {
                NaiveDate::from_ymd_opt(y, mo, d)
                    .unwrap()
                    .and_hms_opt(h, mi, s)
                    .unwrap()
            })
    }

    /// Parses the rendered expression; `None` when it legitimately never fires.
    fn parse_generated(e: &Expr) -> Result<Option<SapCron>, TestCaseError> {
        match e.render().parse::<SapCron>() {
            Ok(c) => Ok(Some(c)),
            Err(CronError::NeverFires { .. }) => Ok(None),
            Err(other) => Err(TestCaseError::fail(format!(
                "'{}' rejected: {other}",
                e.render()
            ))),
        }
    }

    fn check(got: Option<DateTime<Utc>>, want: Option<NaiveDateTime>, end: NaiveDateTime) {
        match want {
            Some(w) => assert_eq!(got, Some(w.and_utc())),
            None => assert!(
                got.is_none_or(|g| g.naive_utc() >= end),
                "next_after gave {got:?}, oracle found nothing before {end}"
            ),
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(96))]

        /// Pure second-by-second walk over a two-day window.
        #[test]
        fn matches_second_by_second_oracle(e in dense_expr(), after in start_instant()) {
            let Some(c) = parse_generated(&e)? else { return Ok(()); };
            let end = after + chrono::Duration::days(2);
            let mut t = after + chrono::Duration::seconds(1);
            let mut want = None;
            while t < end {
                if e.matches(t) {
                    want = Some(t);
                    break;
                }
                t += chrono::Duration::seconds(1);
            }
            check(c.next_after(after.and_utc()), want, end);
        }

        /// Walk over a three-year window that steps second by second inside
        /// matching minutes and skips whole days, hours and minutes whose date,
        /// hour or minute does not match (no second inside them can match).
        #[test]
        fn matches_skipping_oracle(e in sparse_expr(), after in start_instant()) {
            let Some(c) = parse_generated(&e)? else { return Ok(()); };
            let end = after + chrono::Duration::days(3 * 366);
            let mut t = after + chrono::Duration::seconds(1);
            let mut want = None;
            while t < end {
                let midnight = t.date().and_hms_opt(0, 0, 0).unwrap();
                if !e.date_matches(t.date()) {
                    t = midnight + chrono::Duration::days(1);
                    continue;
                }
                let hour_start = midnight + chrono::Duration::hours(i64::from(t.hour()));
                if !Expr::plain(&e.hour, i64::from(t.hour())) {
                    t = hour_start + chrono::Duration::hours(1);
                    continue;
                }
                let minute_start = hour_start + chrono::Duration::minutes(i64::from(t.minute()));
                if !Expr::plain(&e.minute, i64::from(t.minute())) {
                    t = minute_start + chrono::Duration::minutes(1);
                    continue;
                }
                if e.matches(t) {
                    want = Some(t);
                    break;
                }
                t += chrono::Duration::seconds(1);
            }
            check(c.next_after(after.and_utc()), want, end);
        }

        /// Parsing never panics on arbitrary printable input.
        #[test]
        fn parse_never_panics(s in "[ -~]{0,40}") {
            let _ = s.parse::<SapCron>();
        }
    }
}
