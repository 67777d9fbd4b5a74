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
mod tests {
    use super::*;
    use chrono::TimeZone;
    use serde_json::json;

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, s).unwrap()
    }

    fn now() -> DateTime<Utc> {
        utc(2024, 5, 10, 14, 30, 0)
    }

    fn ok(v: Value) -> DateTime<Utc> {
        parse_sap_datetime(&v, now()).unwrap_or_else(|e| panic!("{v}: {e}"))
    }

    fn s(text: &str) -> DateTime<Utc> {
        ok(json!(text))
    }

    fn bad(v: Value) -> FormatError {
        parse_sap_datetime(&v, now()).expect_err(&format!("{v} should be rejected"))
    }

    #[test]
    fn rfc3339_and_iso_with_offset() {
        assert_eq!(s("1994-11-05T08:15:30-05:00"), utc(1994, 11, 5, 13, 15, 30));
        assert_eq!(s("2015-10-20T04:30:00Z"), utc(2015, 10, 20, 4, 30, 0));
        assert_eq!(s("2015-10-20t04:30:00z"), utc(2015, 10, 20, 4, 30, 0));
        assert_eq!(s("2015-10-20T04:30:00+0200"), utc(2015, 10, 20, 2, 30, 0));
        assert_eq!(s("2015-10-20T04:30+02"), utc(2015, 10, 20, 2, 30, 0));
        assert_eq!(s("2015-10-20 04:30 +0000"), utc(2015, 10, 20, 4, 30, 0));
        assert_eq!(s("2013-02-08 09+07:00"), utc(2013, 2, 8, 2, 0, 0));
        assert_eq!(
            s("2015-10-20T04:30:00.123456Z"),
            utc(2015, 10, 20, 4, 30, 0) + Duration::microseconds(123_456)
        );
        assert_eq!(
            s("2015-10-20T04:30:00,5Z"),
            utc(2015, 10, 20, 4, 30, 0) + Duration::milliseconds(500)
        );
        assert_eq!(s("2015-10-20T04:30:00 UTC"), utc(2015, 10, 20, 4, 30, 0));
    }

    #[test]
    fn iso_without_offset_is_utc() {
        assert_eq!(s("2015-10-20T04:30:00"), utc(2015, 10, 20, 4, 30, 0));
        assert_eq!(s("2015-10-20 04:30"), utc(2015, 10, 20, 4, 30, 0));
        assert_eq!(s("2015-10-20 04:30:15"), utc(2015, 10, 20, 4, 30, 15));
        assert_eq!(s("2015-10-20T0430"), utc(2015, 10, 20, 4, 30, 0));
        assert_eq!(s("20151020T043015"), utc(2015, 10, 20, 4, 30, 15));
        assert_eq!(s("2015-10-20T24:00"), utc(2015, 10, 21, 0, 0, 0));
    }

    #[test]
    fn date_only_week_and_ordinal_dates() {
        assert_eq!(s("2015-10-20"), utc(2015, 10, 20, 0, 0, 0));
        assert_eq!(s("2015-10"), utc(2015, 10, 1, 0, 0, 0));
        assert_eq!(s("2015"), utc(2015, 1, 1, 0, 0, 0));
        assert_eq!(s("2015-W06-5"), utc(2015, 2, 6, 0, 0, 0));
        assert_eq!(s("2013-W06-5"), utc(2013, 2, 8, 0, 0, 0));
        assert_eq!(s("2013-W06"), utc(2013, 2, 4, 0, 0, 0));
        assert_eq!(s("2013-039"), utc(2013, 2, 8, 0, 0, 0));
        assert_eq!(s("2013-039T10:00Z"), utc(2013, 2, 8, 10, 0, 0));
        assert_eq!(
            ok(json!({ "date": "2015-W06-5" })),
            utc(2015, 2, 6, 0, 0, 0)
        );
    }

    #[test]
    fn rfc2822() {
        assert_eq!(
            s("Tue, 1 Jul 2003 10:52:37 +0200"),
            utc(2003, 7, 1, 8, 52, 37)
        );
        assert_eq!(s("1 Jul 2003 10:52:37 GMT"), utc(2003, 7, 1, 10, 52, 37));
    }

    #[test]
    fn now_and_relative_forms() {
        assert_eq!(s("now"), now());
        assert_eq!(s(" NOW "), now());
        assert_eq!(s("in 2 hours"), now() + Duration::hours(2));
        assert_eq!(s("In 1 hour 30 minutes"), now() + Duration::minutes(90));
        assert_eq!(s("10 hours from now"), now() + Duration::hours(10));
        assert_eq!(s("20 minutes from now"), now() + Duration::minutes(20));
        assert_eq!(s("1 month from now"), now() + Duration::days(30));
        assert_eq!(s("2 days ago"), now() - Duration::days(2));
    }

    #[test]
    fn time_of_day_forms() {
        // now() is 14:30 UTC.
        assert_eq!(s("3.30pm"), utc(2024, 5, 10, 15, 30, 0));
        assert_eq!(s("2pm"), utc(2024, 5, 11, 14, 0, 0));
        assert_eq!(s("14:30"), now());
        assert_eq!(s("9pm tonight"), utc(2024, 5, 10, 21, 0, 0));
        assert_eq!(s("tomorrow at 4pm"), utc(2024, 5, 11, 16, 0, 0));
        assert_eq!(s("today at 9am"), utc(2024, 5, 10, 9, 0, 0));
    }

    #[test]
    fn rejects_bad_strings() {
        for v in [
            json!(""),
            json!("   "),
            json!("yesterday-ish"),
            json!("2015-13-01"),
            json!("2015-02-30"),
            json!("2015-10-20T25:00"),
            json!("2015-10-20T04:61"),
            json!("2015-10-20T04:30+25:00"),
            json!("2015-10-20T04:30 nonsense"),
            json!("2015-W54-1"),
            json!("2015-366"),
            json!("in twenty minutes"),
            json!("in 0 minutes"),
            json!("5 fortnights from now"),
            json!("25:00"),
            json!("13pm"),
        ] {
            match bad(v.clone()) {
                FormatError::DateTime { value, problem } => {
                    assert!(!problem.is_empty(), "{v}");
                    assert_eq!(json!(value), v, "error names the value");
                }
                other => panic!("{v}: unexpected {other:?}"),
            }
        }
        let msg = bad(json!("2015-13-01")).to_string();
        assert!(
            msg.contains("2015-13-01") && msg.contains("month 13"),
            "{msg}"
        );
        assert!(bad(json!("in twenty minutes"))
            .to_string()
            .contains("number words"));
    }

    #[test]
    fn rejects_bad_json_shapes() {
        for v in [
            json!(42),
            json!(null),
            json!(true),
            json!([]),
            json!({}),
            json!({ "format": "YYYY" }),
            json!({ "date": [] }),
            json!({ "date": "2015", "format": 5 }),
        ] {
            assert!(matches!(bad(v), FormatError::DateTime { .. }));
        }
        assert!(bad(json!({})).to_string().contains("no 'date' field"));
    }

    #[test]
    fn object_with_moment_format() {
        let f = |date: &str, format: &str| ok(json!({ "date": date, "format": format }));
        assert_eq!(
            f("2015-10-20 04:30 +0000", "YYYY-MM-DD HH:mm Z"),
            utc(2015, 10, 20, 4, 30, 0)
        );
        assert_eq!(
            f("2015-10-20 04:30 +02:00", "YYYY-MM-DD HH:mm ZZ"),
            utc(2015, 10, 20, 2, 30, 0)
        );
        assert_eq!(
            f("2015-10-20 04:30 Z", "YYYY-MM-DD HH:mm Z"),
            utc(2015, 10, 20, 4, 30, 0)
        );
        assert_eq!(
            f("20/10/2015 4:5:6", "DD/MM/YYYY H:m:s"),
            utc(2015, 10, 20, 4, 5, 6)
        );
        assert_eq!(
            f("1.2.2015 07:08:09", "D.M.YYYY HH:mm:ss"),
            utc(2015, 2, 1, 7, 8, 9)
        );
        assert_eq!(
            f("2015-10-20T04:30:00.250", "YYYY-MM-DDTHH:mm:ss.SSS"),
            utc(2015, 10, 20, 4, 30, 0) + Duration::milliseconds(250)
        );
        assert_eq!(
            f("Oct 20 15 4:30 pm", "MMM DD YY h:mm a"),
            utc(2015, 10, 20, 16, 30, 0)
        );
        assert_eq!(
            f("October 20 1999 12:00 AM", "MMMM DD YYYY hh:mm A"),
            utc(1999, 10, 20, 0, 0, 0)
        );
        assert_eq!(
            f("at 2015-10-20", "[at] YYYY-MM-DD"),
            utc(2015, 10, 20, 0, 0, 0)
        );
        assert_eq!(
            f("1410715640.579", "X").timestamp_millis(),
            1_410_715_640_579
        );
        assert_eq!(
            f("1410715640579", "x").timestamp_millis(),
            1_410_715_640_579
        );
        // Moment defaults: time only → today; month only → this year; year → January 1st.
        assert_eq!(f("16:45", "HH:mm"), utc(2024, 5, 10, 16, 45, 0));
        assert_eq!(f("03", "MM"), utc(2024, 3, 1, 0, 0, 0));
        assert_eq!(f("2016", "YYYY"), utc(2016, 1, 1, 0, 0, 0));
        assert_eq!(f("17", "DD"), utc(2024, 5, 17, 0, 0, 0));
        // Without a format (or with null), the date is parsed like a string.
        assert_eq!(
            ok(json!({ "date": "2015-10-20T04:30:00Z" })),
            utc(2015, 10, 20, 4, 30, 0)
        );
        assert_eq!(
            ok(json!({ "date": "in 1 hour", "format": null })),
            now() + Duration::hours(1)
        );
    }

    #[test]
    fn moment_format_errors() {
        let f = |date: &str, format: &str| bad(json!({ "date": date, "format": format }));
        for (format, token) in [
            ("YYYY-DDDD", "DDDD"),
            ("Q YYYY", "Q"),
            ("Do MMMM", "Do"),
            ("gggg-ww", "gggg"),
            ("GGGG-[W]WW-E", "GGGG"),
            ("YYYY-[W]WW", "WW"),
            ("YYYY-MM-DD HH:mm:ss.S", "S"),
            ("YYY", "YYY"),
            ("X YYYY", "X"),
        ] {
            match f("whatever", format) {
                FormatError::UnsupportedToken {
                    token: t,
                    format: fm,
                } => {
                    assert_eq!((t.as_str(), fm.as_str()), (token, format));
                }
                other => panic!("{format}: unexpected {other:?}"),
            }
        }
        let msg = f("x", "Q").to_string();
        assert!(msg.contains("'Q'"), "{msg}");
        assert!(matches!(
            f("2015/10/20", "YYYY-MM-DD"),
            FormatError::DateTime { .. }
        ));
        assert!(matches!(
            f("2015-02-30", "YYYY-MM-DD"),
            FormatError::DateTime { .. }
        ));
        assert!(matches!(
            f("2015-10-20 extra", "YYYY-MM-DD"),
            FormatError::DateTime { .. }
        ));
        assert!(matches!(f("abc", "X"), FormatError::DateTime { .. }));
    }

    #[test]
    fn repeat_at_sap_examples() {
        assert_eq!(parse_repeat_at("4.40pm"), Ok((16, 40, 0)));
        assert_eq!(parse_repeat_at("18.40"), Ok((18, 40, 0)));
        assert_eq!(parse_repeat_at("6.20am"), Ok((6, 20, 0)));
        assert_eq!(parse_repeat_at("17.20:30"), Ok((17, 20, 30)));
        assert_eq!(parse_repeat_at("16:40"), Ok((16, 40, 0)));
    }

    #[test]
    fn repeat_at_other_forms() {
        assert_eq!(parse_repeat_at("4pm"), Ok((16, 0, 0)));
        assert_eq!(parse_repeat_at(" 4 PM "), Ok((16, 0, 0)));
        assert_eq!(parse_repeat_at("12am"), Ok((0, 0, 0)));
        assert_eq!(parse_repeat_at("12.05pm"), Ok((12, 5, 0)));
        assert_eq!(parse_repeat_at("11.59:59 p.m."), Ok((23, 59, 59)));
        assert_eq!(parse_repeat_at("0:00"), Ok((0, 0, 0)));
        assert_eq!(parse_repeat_at("noon"), Ok((12, 0, 0)));
        assert_eq!(parse_repeat_at("midnight"), Ok((0, 0, 0)));
        assert_eq!(
            parse_repeat_at("2015-10-20T16:40:05+02:00"),
            Ok((14, 40, 5))
        );
        assert_eq!(
            parse_repeat_at("Tue, 1 Jul 2003 10:52:37 +0000"),
            Ok((10, 52, 37))
        );
    }

    #[test]
    fn repeat_at_rejects_invalid() {
        for (input, needle) in [
            ("", "empty"),
            ("   ", "empty"),
            ("24:00", "hour 24 out of range 0..23"),
            ("13pm", "hour 13 out of range 1..12"),
            ("0am", "hour 0 out of range 1..12"),
            ("16:60", "minute 60 out of range 0..59"),
            ("16:40:60", "second 60 out of range 0..59"),
            ("16", "expected a time of day"),
            ("16.4", "expected a time of day"),
            ("teatime", "expected a time of day"),
            ("4.40 xm", "expected a time of day"),
        ] {
            match parse_repeat_at(input) {
                Err(FormatError::RepeatAt { value, problem }) => {
                    assert_eq!(value, input);
                    assert!(problem.contains(needle), "{input}: {problem}");
                }
                other => panic!("{input}: unexpected {other:?}"),
            }
        }
        let msg = parse_repeat_at("25:00").unwrap_err().to_string();
        assert!(msg.contains("'25:00'"), "{msg}");
    }
}
