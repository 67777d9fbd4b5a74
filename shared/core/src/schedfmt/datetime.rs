//! SAP date values: `time`, `startTime` and `endTime` (a JSON string or a
//! `{ "date": ..., "format": ... }` object) and the daily `repeatAt` time.
//!
//! Results are always UTC. A value without an offset is taken as UTC.
//!
//! Accepted strings (tried in this order):
//! * `now` (any case);
//! * relative times: `in <interval>`, `<interval> from now`, `<interval> ago`,
//!   where `<interval>` uses the `repeatInterval` grammar (month = 30 days,
//!   year = 365 days);
//! * a time of day as accepted by [`parse_repeat_at`] (`3.30pm`, `16:40`),
//!   optionally with `today`, `tonight` or `tomorrow` and `at`
//!   (`tomorrow at 4pm`, `9pm tonight`); a bare time of day means its next
//!   occurrence at or after `now`;
//! * ISO-8601: calendar (`2013-02-08`, `20130208`, `2013-02`), week
//!   (`2013-W06-5`) and ordinal (`2013-039`) dates, optionally followed by `T` or
//!   spaces and a time `HH[:mm[:ss[.fff]]]` (or `HHmm[ss]`) and an offset `Z`,
//!   `UTC`, `GMT`, `±HH`, `±HHmm` or `±HH:mm`; this covers RFC 3339 and
//!   `YYYY-MM-DD HH:mm[:ss]`;
//! * RFC 2822 (`Tue, 1 Jul 2003 10:52:37 +0200`).
//!
//! With a `format`, the object's `date` is parsed with moment.js tokens
//! translated to chrono parse items. Supported tokens: `YYYY YY M MM MMM MMMM D DD
//! H HH h hh a A m mm s ss SSS Z ZZ`, and `X` / `x` (Unix seconds / milliseconds)
//! when they are the whole format. Text in `[brackets]` and letters that are not
//! moment tokens are literals. Other moment tokens (`Q`, `Do`, `DDD`, `w`, `W`,
//! `gggg`, `E`, `S`, `SS`, …) are rejected with an error naming the token.
//! Missing parts default as moment does: no date parts → today; only a day →
//! this month and year; a month without year → this year; smaller units → their
//! lowest value.

use chrono::format::{Fixed, Item, Numeric, Pad, Parsed, StrftimeItems};
use chrono::{
    DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, NaiveTime, Timelike, Utc, Weekday,
};
use serde_json::Value;

use crate::schedfmt::interval::parse_duration_phrase;
use crate::schedfmt::FormatError;

/// Parses an SAP date value (`time`, `startTime`, `endTime`) into a UTC instant.
///
/// `v` is a JSON string, or an object with a `date` string and an optional
/// `format` string of moment.js tokens. `now` anchors relative forms.
pub fn parse_sap_datetime(v: &Value, now: DateTime<Utc>) -> Result<DateTime<Utc>, FormatError> {
    match v {
        Value::String(s) => parse_date_string(s, now),
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
                None | Some(Value::Null) => parse_date_string(&date, now),
                Some(Value::String(f)) if f.trim().is_empty() => parse_date_string(&date, now),
                Some(Value::String(f)) => parse_with_format(&date, f, now),
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
fn parse_date_string(s: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, FormatError> {
    let t = s.trim();
    if t.is_empty() {
        return Err(date_err(s, "empty date"));
    }
    let lower = t.to_ascii_lowercase();
    if lower == "now" {
        return Ok(now);
    }
    if let Some(rel) = parse_relative(&lower, now) {
        return rel.map_err(|p| date_err(s, p));
    }
    if let Some(day) = parse_day_and_clock(&lower, now) {
        return day.map_err(|p| date_err(s, p));
    }
    let iso = match parse_iso(t) {
        Ok(dt) => return Ok(dt),
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
            "not an ISO-8601 or RFC 2822 date, 'now', a relative time such as 'in 2 hours' or a time of day such as '3.30pm'".to_string()
        },
    ))
}

/// ISO-8601 or RFC 2822 only (no human forms, no `now`).
fn parse_absolute(s: &str) -> Result<DateTime<Utc>, String> {
    match parse_iso(s) {
        Ok(dt) => Ok(dt),
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

/// `in <interval>`, `<interval> from now`, `<interval> ago`; `None` if not of that shape.
fn parse_relative(lower: &str, now: DateTime<Utc>) -> Option<Result<DateTime<Utc>, String>> {
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

/// A time of day with an optional `today` / `tonight` / `tomorrow` (and `at`);
/// `None` if not of that shape.
fn parse_day_and_clock(lower: &str, now: DateTime<Utc>) -> Option<Result<DateTime<Utc>, String>> {
    let mut words: Vec<&str> = lower.split_whitespace().collect();
    let day_word = |w: &&str| match *w {
        "today" | "tonight" => Some(0),
        "tomorrow" => Some(1),
        _ => None,
    };
    let mut day_offset = words.first().and_then(day_word);
    if day_offset.is_some() {
        words.remove(0);
    } else {
        day_offset = words.last().and_then(day_word);
        if day_offset.is_some() {
            words.pop();
        }
    }
    if words.first() == Some(&"at") {
        words.remove(0);
    }
    let clock = words.concat();
    let (h, m, s) = match parse_clock(&clock) {
        Ok(Some(hms)) => hms,
        Ok(None) => return None,
        Err(e) => return Some(Err(e)),
    };
    let time = NaiveTime::from_hms_opt(h, m, s)?;
    let today = now.date_naive();
    let at = |days: i64| (today + Duration::days(days)).and_time(time).and_utc();
    Some(Ok(match day_offset {
        Some(days) => at(days),
        None if at(0) >= now => at(0),
        None => at(1),
    }))
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

/// A byte cursor for the ISO-8601 parser.
struct Cursor<'a> {
    b: &'a [u8],
    i: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn peek_at(&self, k: usize) -> Option<u8> {
        self.b.get(self.i + k).copied()
    }

    fn eat(&mut self, c: u8) -> bool {
        if self.peek().is_some_and(|p| p.eq_ignore_ascii_case(&c)) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    fn digit_run(&self) -> usize {
        self.b[self.i..]
            .iter()
            .take_while(|c| c.is_ascii_digit())
            .count()
    }

    /// Exactly `n` digits.
    fn digits(&mut self, n: usize, what: &str) -> Result<u32, String> {
        let end = self.i + n;
        if end > self.b.len() || !self.b[self.i..end].iter().all(u8::is_ascii_digit) {
            return Err(format!("expected {n} digits for the {what}"));
        }
        let v = self.b[self.i..end]
            .iter()
            .fold(0u32, |acc, d| acc * 10 + u32::from(d - b'0'));
        self.i = end;
        Ok(v)
    }

    fn at_end(&self) -> bool {
        self.i >= self.b.len()
    }
}

/// ISO-8601 date, date-time or RFC 3339; the error is the problem found.
fn parse_iso(s: &str) -> Result<DateTime<Utc>, String> {
    let mut c = Cursor {
        b: s.trim().as_bytes(),
        i: 0,
    };
    let year = c.digits(4, "year")? as i32;
    let date = if c.eat(b'-') {
        if c.eat(b'W') {
            let week = c.digits(2, "ISO week")?;
            let wd = if c.eat(b'-') {
                c.digits(1, "ISO weekday")?
            } else {
                1
            };
            let weekday = match wd {
                1 => Weekday::Mon,
                2 => Weekday::Tue,
                3 => Weekday::Wed,
                4 => Weekday::Thu,
                5 => Weekday::Fri,
                6 => Weekday::Sat,
                7 => Weekday::Sun,
                _ => return Err(format!("ISO weekday {wd} out of range 1..7")),
            };
            NaiveDate::from_isoywd_opt(year, week, weekday)
                .ok_or_else(|| format!("no week {week} in ISO year {year}"))?
        } else if c.digit_run() == 3 {
            let ordinal = c.digits(3, "day of year")?;
            NaiveDate::from_yo_opt(year, ordinal)
                .ok_or_else(|| format!("no day {ordinal} in year {year}"))?
        } else {
            let month = c.digits(2, "month")?;
            let day = if c.eat(b'-') { c.digits(2, "day")? } else { 1 };
            ymd(year, month, day)?
        }
    } else if c.digit_run() == 4 {
        let month = c.digits(2, "month")?;
        let day = c.digits(2, "day")?;
        ymd(year, month, day)?
    } else if c.at_end() {
        ymd(year, 1, 1)?
    } else {
        return Err("expected '-' after the year".to_string());
    };
    if c.at_end() {
        return Ok(date.and_time(NaiveTime::MIN).and_utc());
    }

    // Time part.
    if !c.eat(b'T') {
        if !c.peek().is_some_and(|b| b.is_ascii_whitespace()) {
            return Err("expected 'T' or a space between date and time".to_string());
        }
        while c.peek().is_some_and(|b| b.is_ascii_whitespace()) {
            c.i += 1;
        }
    }
    let hour = c.digits(2, "hour")?;
    let (mut minute, mut second, mut nanos) = (0, 0, 0);
    let colon = c.eat(b':');
    if colon || c.digit_run() >= 2 {
        minute = c.digits(2, "minute")?;
        if (colon && c.eat(b':')) || (!colon && c.digit_run() >= 2) {
            second = c.digits(2, "second")?;
            if (c.peek() == Some(b'.') || c.peek() == Some(b',')) && c.peek_at(1).is_some() {
                c.i += 1;
                let n = c.digit_run();
                if n == 0 {
                    return Err("expected digits after the decimal point".to_string());
                }
                let frac = &c.b[c.i..c.i + n];
                nanos = (0..9).fold(0u32, |acc, k| {
                    acc * 10 + frac.get(k).map_or(0, |d| u32::from(d - b'0'))
                });
                c.i += n;
            }
        }
    }

    // Offset.
    while c.peek().is_some_and(|b| b.is_ascii_whitespace()) {
        c.i += 1;
    }
    let offset_secs: i64 = if c.at_end() || c.eat(b'Z') {
        0
    } else if c.b[c.i..].eq_ignore_ascii_case(b"UTC") || c.b[c.i..].eq_ignore_ascii_case(b"GMT") {
        c.i += 3;
        0
    } else if c.peek() == Some(b'+') || c.peek() == Some(b'-') {
        let sign = if c.peek() == Some(b'-') { -1 } else { 1 };
        c.i += 1;
        let oh = c.digits(2, "offset hours")?;
        let om = if c.eat(b':') || c.digit_run() >= 2 {
            c.digits(2, "offset minutes")?
        } else {
            0
        };
        if oh > 23 || om > 59 {
            return Err(format!("offset {oh:02}:{om:02} out of range"));
        }
        sign * i64::from(oh * 3600 + om * 60)
    } else {
        return Err("unexpected text after the time".to_string());
    };
    if !c.at_end() {
        return Err("unexpected text after the offset".to_string());
    }

    let naive = if hour == 24 && minute == 0 && second == 0 && nanos == 0 {
        (date + Duration::days(1)).and_time(NaiveTime::MIN)
    } else {
        if hour > 23 {
            return Err(format!("hour {hour} out of range 0..23"));
        }
        if minute > 59 {
            return Err(format!("minute {minute} out of range 0..59"));
        }
        if second > 59 {
            return Err(format!("second {second} out of range 0..59"));
        }
        let time = NaiveTime::from_hms_nano_opt(hour, minute, second, nanos)
            .ok_or_else(|| "invalid time of day".to_string())?;
        date.and_time(time)
    };
    Ok((naive - Duration::seconds(offset_secs)).and_utc())
}

fn ymd(year: i32, month: u32, day: u32) -> Result<NaiveDate, String> {
    if !(1..=12).contains(&month) {
        return Err(format!("month {month} out of range 1..12"));
    }
    NaiveDate::from_ymd_opt(year, month, day)
        .ok_or_else(|| format!("no day {day} in {year}-{month:02}"))
}

/// Moment tokens that chime does not parse (any run of these letters).
const UNSUPPORTED_LETTERS: &str = "QdeEwWgGkNyz";

/// Translates a moment.js format into chrono parse items.
fn moment_items(format: &str) -> Result<Vec<Item<'_>>, FormatError> {
    let unsupported = |token: &str| FormatError::UnsupportedToken {
        token: token.to_string(),
        format: format.to_string(),
    };
    let mut items = Vec::new();
    let mut rest = format;
    while let Some(ch) = rest.chars().next() {
        if ch == '[' {
            let body = &rest[1..];
            let end = body.find(']').unwrap_or(body.len());
            if end > 0 {
                items.push(Item::Literal(&body[..end]));
            }
            rest = body.get(end + 1..).unwrap_or("");
            continue;
        }
        let run = rest.chars().take_while(|&c| c == ch).count();
        let token = &rest[..run * ch.len_utf8()];
        let mut consumed = token.len();
        let item = match (ch, run) {
            ('Y', 4) => Item::Numeric(Numeric::Year, Pad::Zero),
            ('Y', 2) => Item::Numeric(Numeric::YearMod100, Pad::Zero),
            ('M', 1 | 2) => Item::Numeric(Numeric::Month, Pad::Zero),
            ('M', 3) => Item::Fixed(Fixed::ShortMonthName),
            ('M', 4) => Item::Fixed(Fixed::LongMonthName),
            ('D', 1) if rest[1..].starts_with('o') => return Err(unsupported("Do")),
            ('D', 1 | 2) => Item::Numeric(Numeric::Day, Pad::Zero),
            ('H', 1 | 2) => Item::Numeric(Numeric::Hour, Pad::Zero),
            ('h', 1 | 2) => Item::Numeric(Numeric::Hour12, Pad::Zero),
            ('a', 1) => Item::Fixed(Fixed::LowerAmPm),
            ('A', 1) => Item::Fixed(Fixed::UpperAmPm),
            ('m', 1 | 2) => Item::Numeric(Numeric::Minute, Pad::Zero),
            ('s', 1 | 2) => Item::Numeric(Numeric::Second, Pad::Zero),
            // `%3f`: exactly three digits of fraction, no leading dot.
            ('S', 3) => StrftimeItems::new("%3f")
                .next()
                .ok_or_else(|| unsupported(token))?,
            ('Z', 1 | 2) => Item::Fixed(Fixed::TimezoneOffsetZ),
            ('Y' | 'M' | 'D' | 'H' | 'h' | 'a' | 'A' | 'm' | 's' | 'S' | 'Z' | 'X' | 'x', _) => {
                return Err(unsupported(token))
            }
            (c, _) if UNSUPPORTED_LETTERS.contains(c) => return Err(unsupported(token)),
            (c, _) if c.is_whitespace() => Item::Space(""),
            _ => {
                consumed = ch.len_utf8();
                Item::Literal(&rest[..consumed])
            }
        };
        items.push(item);
        rest = &rest[consumed..];
    }
    Ok(items)
}

/// Parses `date` with a moment.js `format`.
fn parse_with_format(
    date: &str,
    format: &str,
    now: DateTime<Utc>,
) -> Result<DateTime<Utc>, FormatError> {
    let fail = |problem: String| date_err(date, problem);
    match format.trim() {
        "X" => {
            let secs: f64 = date
                .trim()
                .parse()
                .map_err(|_| fail("expected Unix seconds for format 'X'".to_string()))?;
            let millis = (secs * 1000.0).round();
            if !millis.is_finite() || millis.abs() > 1e17 {
                return Err(fail("Unix timestamp out of range".to_string()));
            }
            return DateTime::from_timestamp_millis(millis as i64)
                .ok_or_else(|| fail("Unix timestamp out of range".to_string()));
        }
        "x" => {
            let millis: i64 = date
                .trim()
                .parse()
                .map_err(|_| fail("expected Unix milliseconds for format 'x'".to_string()))?;
            return DateTime::from_timestamp_millis(millis)
                .ok_or_else(|| fail("Unix timestamp out of range".to_string()));
        }
        _ => {}
    }
    let items = moment_items(format)?;
    let mut parsed = Parsed::new();
    chrono::format::parse(&mut parsed, date.trim(), items.iter())
        .map_err(|e| fail(format!("does not match format '{format}': {e}")))?;

    let today = now.date_naive();
    let year = parsed.year().or_else(|| {
        parsed
            .year_mod_100()
            .map(|y| y + if y > 68 { 1900 } else { 2000 })
    });
    let (month, day) = (parsed.month(), parsed.day());
    let (y, m, d) = if year.is_none() && month.is_none() && day.is_none() {
        (today.year(), today.month(), today.day())
    } else {
        (
            year.unwrap_or(today.year()),
            month.unwrap_or(if year.is_some() { 1 } else { today.month() }),
            day.unwrap_or(1),
        )
    };
    let date_part = NaiveDate::from_ymd_opt(y, m, d)
        .ok_or_else(|| fail(format!("no day {d} in {y}-{m:02}")))?;
    let hour = match (parsed.hour_div_12(), parsed.hour_mod_12()) {
        (Some(div), Some(m12)) => div * 12 + m12,
        // `h` without `a`: the hour as written, 12 included.
        (None, Some(0)) => 12,
        (None, Some(m12)) => m12,
        _ => 0,
    };
    let time = NaiveTime::from_hms_nano_opt(
        hour,
        parsed.minute().unwrap_or(0),
        parsed.second().unwrap_or(0),
        parsed.nanosecond().unwrap_or(0),
    )
    .ok_or_else(|| fail("invalid time of day".to_string()))?;
    let offset = i64::from(parsed.offset().unwrap_or(0));
    let naive: NaiveDateTime = date_part.and_time(time) - Duration::seconds(offset);
    Ok(naive.and_utc())
}

#[cfg(test)]
mod tests;
