//! The `{ "date", "format" }` form: moment.js format tokens, mostly translated to chrono
//! parse items; the quarter (`Q`), the ordinal day (`Do`) and fractions of a second
//! (`S`…) are read here.

use chrono::format::{parse_and_remainder, Fixed, Item, Numeric, Pad, Parsed};
use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime};

use super::{date_err, Anchor, When};
use crate::schedfmt::FormatError;

/// Moment tokens that chime does not parse (any run of these letters).
const UNSUPPORTED_LETTERS: &str = "deEwWgGkNyz";

/// One token of a format.
#[derive(Debug, Clone, PartialEq)]
enum Tok<'a> {
    /// Read by chrono.
    Chrono(Item<'a>),
    /// `Q`: the quarter, one digit 1–4.
    Quarter,
    /// `Do`: the day of the month with its ordinal suffix (`1st`, `22nd`).
    OrdinalDay,
    /// `S` repeated n times: exactly n digits of fraction of a second.
    Fraction(usize),
}

/// Translates a moment.js format into tokens.
fn moment_tokens(format: &str) -> Result<Vec<Tok<'_>>, FormatError> {
    let unsupported = |token: &str| FormatError::UnsupportedToken {
        token: token.to_string(),
        format: format.to_string(),
    };
    let mut toks = Vec::new();
    let mut rest = format;
    while let Some(ch) = rest.chars().next() {
        if ch == '[' {
            let body = &rest[1..];
            let end = body.find(']').unwrap_or(body.len());
            if end > 0 {
                toks.push(Tok::Chrono(Item::Literal(&body[..end])));
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
            ('Q', 1) => {
                toks.push(Tok::Quarter);
                rest = &rest[consumed..];
                continue;
            }
            ('M', 1 | 2) => Item::Numeric(Numeric::Month, Pad::Zero),
            ('M', 3) => Item::Fixed(Fixed::ShortMonthName),
            ('M', 4) => Item::Fixed(Fixed::LongMonthName),
            ('D', 1) if rest[1..].starts_with('o') => {
                toks.push(Tok::OrdinalDay);
                rest = &rest[2..];
                continue;
            }
            ('D', 1 | 2) => Item::Numeric(Numeric::Day, Pad::Zero),
            ('H', 1 | 2) => Item::Numeric(Numeric::Hour, Pad::Zero),
            ('h', 1 | 2) => Item::Numeric(Numeric::Hour12, Pad::Zero),
            ('a', 1) => Item::Fixed(Fixed::LowerAmPm),
            ('A', 1) => Item::Fixed(Fixed::UpperAmPm),
            ('m', 1 | 2) => Item::Numeric(Numeric::Minute, Pad::Zero),
            ('s', 1 | 2) => Item::Numeric(Numeric::Second, Pad::Zero),
            ('S', 1..=9) => {
                toks.push(Tok::Fraction(run));
                rest = &rest[consumed..];
                continue;
            }
            ('Z', 1 | 2) => Item::Fixed(Fixed::TimezoneOffsetZ),
            (
                'Y' | 'Q' | 'M' | 'D' | 'H' | 'h' | 'a' | 'A' | 'm' | 's' | 'S' | 'Z' | 'X' | 'x',
                _,
            ) => return Err(unsupported(token)),
            (c, _) if UNSUPPORTED_LETTERS.contains(c) => return Err(unsupported(token)),
            (c, _) if c.is_whitespace() => Item::Space(""),
            _ => {
                consumed = ch.len_utf8();
                Item::Literal(&rest[..consumed])
            }
        };
        toks.push(Tok::Chrono(item));
        rest = &rest[consumed..];
    }
    Ok(toks)
}

/// The English ordinal suffix of `n`.
fn ordinal_suffix(n: u32) -> &'static str {
    match (n % 10, n % 100) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    }
}

/// The leading ASCII digits of `s`, at most `max` of them.
fn leading_digits(s: &str, max: usize) -> &str {
    let n = s.bytes().take(max).take_while(u8::is_ascii_digit).count();
    &s[..n]
}

/// `Do`: the day and the rest of the input.
fn ordinal_day(s: &str) -> Result<(u32, &str), String> {
    let digits = leading_digits(s, 2);
    let expected = || "expected a day of the month with its suffix, such as '1st' or '22nd'";
    if digits.is_empty() {
        return Err(expected().to_string());
    }
    let day: u32 = digits.parse().map_err(|_| expected().to_string())?;
    if !(1..=31).contains(&day) {
        return Err(format!("day {day} out of range 1..31"));
    }
    let rest = &s[digits.len()..];
    let letters = rest
        .bytes()
        .take(2)
        .take_while(u8::is_ascii_alphabetic)
        .count();
    let (suffix, rest) = rest.split_at(letters);
    let want = ordinal_suffix(day);
    if !suffix.eq_ignore_ascii_case(want) {
        return Err(format!("expected '{day}{want}', got '{digits}{suffix}'"));
    }
    Ok((day, rest))
}

/// `Q`: the quarter and the rest of the input.
fn quarter(s: &str) -> Result<(u32, &str), String> {
    let digit = leading_digits(s, 1);
    match digit.parse::<u32>() {
        Ok(q @ 1..=4) => Ok((q, &s[1..])),
        Ok(q) => Err(format!("quarter {q} out of range 1..4")),
        Err(_) => Err("expected a quarter 1..4".to_string()),
    }
}

/// `S` × `n`: the nanoseconds and the rest of the input.
fn fraction(s: &str, n: usize) -> Result<(u32, &str), String> {
    let digits = leading_digits(s, n);
    if digits.len() != n || s[n..].starts_with(|c: char| c.is_ascii_digit()) {
        return Err(format!(
            "expected exactly {n} digit{} of fraction of a second",
            if n == 1 { "" } else { "s" }
        ));
    }
    let value: u32 = digits.parse().map_err(|_| "invalid fraction".to_string())?;
    Ok((value * 10u32.pow(9 - n as u32), &s[n..]))
}

/// Reads `date` into `parsed` token by token; returns the quarter if one was given.
fn read_tokens(date: &str, toks: &[Tok<'_>], parsed: &mut Parsed) -> Result<Option<u32>, String> {
    let mut rest = date;
    let mut q = None;
    let mut i = 0;
    while i < toks.len() {
        let run = toks[i..]
            .iter()
            .take_while(|t| matches!(t, Tok::Chrono(_)))
            .count();
        if run > 0 {
            let items = toks[i..i + run].iter().filter_map(|t| match t {
                Tok::Chrono(item) => Some(item),
                _ => None,
            });
            rest = parse_and_remainder(parsed, rest, items).map_err(|e| e.to_string())?;
            i += run;
            continue;
        }
        let conflict = |_| "the same field is given twice with different values".to_string();
        match toks[i] {
            Tok::Quarter => {
                let (v, r) = quarter(rest)?;
                q = Some(v);
                rest = r;
            }
            Tok::OrdinalDay => {
                let (v, r) = ordinal_day(rest)?;
                parsed.set_day(i64::from(v)).map_err(conflict)?;
                rest = r;
            }
            Tok::Fraction(n) => {
                let (v, r) = fraction(rest, n)?;
                parsed.set_nanosecond(i64::from(v)).map_err(conflict)?;
                rest = r;
            }
            Tok::Chrono(_) => {}
        }
        i += 1;
    }
    if !rest.is_empty() {
        return Err(format!("unexpected text '{rest}' at the end"));
    }
    Ok(q)
}

/// Parses `date` with a moment.js `format`: an instant when the format reads an offset, a
/// local time of the zone otherwise.
pub(super) fn parse_with_format(
    date: &str,
    format: &str,
    anchor: &Anchor,
) -> Result<When, FormatError> {
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
                .map(When::At)
                .ok_or_else(|| fail("Unix timestamp out of range".to_string()));
        }
        "x" => {
            let millis: i64 = date
                .trim()
                .parse()
                .map_err(|_| fail("expected Unix milliseconds for format 'x'".to_string()))?;
            return DateTime::from_timestamp_millis(millis)
                .map(When::At)
                .ok_or_else(|| fail("Unix timestamp out of range".to_string()));
        }
        _ => {}
    }
    let toks = moment_tokens(format)?;
    let mut parsed = Parsed::new();
    let quarter = read_tokens(date.trim(), &toks, &mut parsed)
        .map_err(|e| fail(format!("does not match format '{format}': {e}")))?;

    let today = anchor.today();
    let year = parsed.year().or_else(|| {
        parsed
            .year_mod_100()
            .map(|y| y + if y > 68 { 1900 } else { 2000 })
    });
    let month = parsed.month().or(quarter.map(|q| (q - 1) * 3 + 1));
    let day = parsed.day();
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
    let local = date_part.and_time(time);
    Ok(match parsed.offset() {
        Some(offset) => When::At((local - Duration::seconds(i64::from(offset))).and_utc()),
        None => When::Local(local),
    })
}
