//! ISO-8601 dates and date-times (RFC 3339 among them), with or without an offset.

use chrono::{Duration, NaiveDate, NaiveTime, Weekday};

use super::When;

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

/// ISO-8601 date, date-time or RFC 3339: an instant with an offset, a local time
/// without one. The error is the problem found.
pub(super) fn parse_iso(s: &str) -> Result<When, String> {
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
        return Ok(When::Local(date.and_time(NaiveTime::MIN)));
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

    let offset_secs = offset(&mut c)?;
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
    Ok(match offset_secs {
        Some(secs) => When::At((naive - Duration::seconds(secs)).and_utc()),
        None => When::Local(naive),
    })
}

/// The offset after a time, in seconds (`None` when there is none), up to the end of the
/// input or what follows it.
fn offset(c: &mut Cursor<'_>) -> Result<Option<i64>, String> {
    while c.peek().is_some_and(|b| b.is_ascii_whitespace()) {
        c.i += 1;
    }
    Ok(if c.at_end() {
        None
    } else if c.eat(b'Z') {
        Some(0)
    } else if c.b[c.i..].eq_ignore_ascii_case(b"UTC") || c.b[c.i..].eq_ignore_ascii_case(b"GMT") {
        c.i += 3;
        Some(0)
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
        Some(sign * i64::from(oh * 3600 + om * 60))
    } else {
        return Err("unexpected text after the time".to_string());
    })
}

pub(super) fn ymd(year: i32, month: u32, day: u32) -> Result<NaiveDate, String> {
    if !(1..=12).contains(&month) {
        return Err(format!("month {month} out of range 1..12"));
    }
    NaiveDate::from_ymd_opt(year, month, day)
        .ok_or_else(|| format!("no day {day} in {year}-{month:02}"))
}
