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
mod tests;
