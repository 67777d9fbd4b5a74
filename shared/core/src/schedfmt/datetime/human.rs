//! Human-readable days and times of day: `tomorrow at 4pm`, `9pm tonight`, `Friday at
//! 2am`, `next friday`, `this friday at 2pm`, `next week monday at 5am` (semantics in the
//! module doc of `datetime`). Days are days of the zone's calendar; the result is the
//! instant of the wall-clock time.

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, Utc, Weekday};

use super::{parse_clock, Anchor};

/// A day named in words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Day {
    /// `today` (0) or `tomorrow` (1).
    Offset(i64),
    /// `tonight`: today, and a time of day is required.
    Tonight,
    /// `<weekday>`, `this <weekday>`: its next occurrence at the time, at or after now.
    This(Weekday),
    /// `next <weekday>`: the first one after today.
    Next(Weekday),
    /// `next week <weekday>`: that day of next week (weeks start on Monday).
    NextWeek(Weekday),
}

fn weekday(w: &str) -> Option<Weekday> {
    Some(match w {
        "monday" | "mon" => Weekday::Mon,
        "tuesday" | "tue" | "tues" => Weekday::Tue,
        "wednesday" | "wed" => Weekday::Wed,
        "thursday" | "thu" | "thur" | "thurs" => Weekday::Thu,
        "friday" | "fri" => Weekday::Fri,
        "saturday" | "sat" => Weekday::Sat,
        "sunday" | "sun" => Weekday::Sun,
        _ => return None,
    })
}

/// The day that `words` name, all of them.
fn day(words: &[&str]) -> Option<Day> {
    match words {
        ["today"] => Some(Day::Offset(0)),
        ["tomorrow"] => Some(Day::Offset(1)),
        ["tonight"] => Some(Day::Tonight),
        [w] | ["this", w] => weekday(w).map(Day::This),
        ["next", w] => weekday(w).map(Day::Next),
        ["next", "week", w] => weekday(w).map(Day::NextWeek),
        _ => None,
    }
}

/// Splits `words` into a day (at the start, or at the end after an optional `on`) and the
/// words of the time of day (an optional leading `at` dropped).
fn split_day<'a, 'w>(words: &'a [&'w str]) -> (Option<Day>, &'a [&'w str]) {
    let longest = words.len().min(3);
    let (day, mut clock) = (1..=longest)
        .rev()
        .find_map(|n| day(&words[..n]).map(|d| (Some(d), &words[n..])))
        .or_else(|| {
            (1..=longest).rev().find_map(|n| {
                let (clock, tail) = words.split_at(words.len() - n);
                day(tail).map(|d| (Some(d), clock.strip_suffix(&["on"]).unwrap_or(clock)))
            })
        })
        .unwrap_or((None, words));
    // `at` alone is no time of day.
    if let Some(rest) = clock.strip_prefix(&["at"]).filter(|r| !r.is_empty()) {
        clock = rest;
    }
    (day, clock)
}

/// Days from `from` forward to the next `wd` (0 when `from` is one).
fn days_until(from: NaiveDate, wd: Weekday) -> i64 {
    i64::from((7 + wd.num_days_from_monday() - from.weekday().num_days_from_monday()) % 7)
}

/// A time of day with an optional day (`today`, `tonight`, `tomorrow`, a weekday, `this`
/// / `next <weekday>`, `next week <weekday>`) and `at`; `None` if not of that shape.
pub(super) fn parse_day_and_clock(
    lower: &str,
    anchor: &Anchor,
) -> Option<Result<DateTime<Utc>, String>> {
    let spaced = lower.replace(',', " ");
    let words: Vec<&str> = spaced.split_whitespace().collect();
    let (day, clock_words) = split_day(&words);
    let time = if clock_words.is_empty() {
        match day {
            None | Some(Day::Tonight) => return None,
            Some(_) => NaiveTime::MIN,
        }
    } else {
        match parse_clock(&clock_words.concat()) {
            Ok(Some((h, m, s))) => NaiveTime::from_hms_opt(h, m, s)?,
            Ok(None) => return None,
            Err(e) => return Some(Err(e)),
        }
    };
    let today = anchor.today();
    let at = |date: NaiveDate| anchor.resolve(date.and_time(time));
    // The first of `date`, `date` + 7 days whose instant is at or after now.
    let at_or_after_now = |date: NaiveDate| -> Result<DateTime<Utc>, String> {
        let first = at(date)?;
        if first >= anchor.now {
            Ok(first)
        } else {
            at(date + Duration::days(7))
        }
    };
    Some(match day {
        None => {
            let first = at(today);
            match first {
                Ok(t) if t < anchor.now => at(today + Duration::days(1)),
                other => other,
            }
        }
        Some(Day::Offset(days)) => at(today + Duration::days(days)),
        Some(Day::Tonight) => at(today),
        Some(Day::This(wd)) => at_or_after_now(today + Duration::days(days_until(today, wd))),
        Some(Day::Next(wd)) => {
            let ahead = match days_until(today, wd) {
                0 => 7,
                n => n,
            };
            at(today + Duration::days(ahead))
        }
        Some(Day::NextWeek(wd)) => {
            let monday = today - Duration::days(i64::from(today.weekday().num_days_from_monday()));
            at(monday + Duration::days(7 + i64::from(wd.num_days_from_monday())))
        }
    })
}
