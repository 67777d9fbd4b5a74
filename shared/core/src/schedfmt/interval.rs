//! SAP `repeatInterval`: a human-readable duration such as "10 hours", "2 days"
//! or "1 hour 30 minutes".
//!
//! Grammar: one or more `<n> <unit>` parts, optionally separated by commas or
//! "and". `<n>` is a non-negative integer written in digits (number words such
//! as "twenty" are rejected, as SAP documents); the number may touch its unit
//! ("10minutes"). Units, singular or plural and case-insensitive: years,
//! months, weeks, days, hours, minutes, seconds. As in SAP, a month is 30 days
//! and a year is 365 days. The total must be greater than zero.

use std::time::Duration;

use crate::schedfmt::FormatError;

const NUMBER_WORDS: &[&str] = &[
    "a",
    "an",
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
    "twenty",
    "thirty",
    "forty",
    "fifty",
    "sixty",
    "seventy",
    "eighty",
    "ninety",
    "hundred",
    "thousand",
    "half",
    "couple",
    "few",
    "several",
];

const UNITS: &str = "years, months, weeks, days, hours, minutes or seconds";

/// Parses an SAP `repeatInterval` such as "5 minutes" or "1 hour 30 minutes".
pub fn parse_repeat_interval(s: &str) -> Result<Duration, FormatError> {
    parse_duration_phrase(s).map_err(|problem| FormatError::Interval {
        value: s.to_string(),
        problem,
    })
}

/// Seconds in one `unit` (singular or plural, any case), if it is a known unit.
pub(crate) fn unit_seconds(unit: &str) -> Option<u64> {
    let u = unit.to_ascii_lowercase();
    let u = u.strip_suffix('s').unwrap_or(&u);
    Some(match u {
        "year" => 365 * 86_400,
        "month" => 30 * 86_400,
        "week" => 7 * 86_400,
        "day" => 86_400,
        "hour" => 3_600,
        "minute" => 60,
        "second" => 1,
        _ => return None,
    })
}

#[derive(Debug, PartialEq)]
enum Token<'a> {
    Number(&'a str),
    Word(&'a str),
}

/// Splits into digit runs and letter runs; commas and whitespace separate.
fn tokens(s: &str) -> Result<Vec<Token<'_>>, String> {
    let mut out = Vec::new();
    let bytes = s.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if c.is_ascii_whitespace() || c == b',' {
            i += 1;
        } else if c.is_ascii_digit() {
            let start = i;
            while i < bytes.len() && bytes[i].is_ascii_digit() {
                i += 1;
            }
            let separator = bytes.get(i).is_some_and(|&b| b == b'.' || b == b',');
            if separator && bytes.get(i + 1).is_some_and(u8::is_ascii_digit) {
                return Err(format!(
                    "fractional amount in '{}' is not supported; use a smaller unit",
                    &s[start..]
                ));
            }
            out.push(Token::Number(&s[start..i]));
        } else if c.is_ascii_alphabetic() {
            let start = i;
            while i < bytes.len() && bytes[i].is_ascii_alphabetic() {
                i += 1;
            }
            out.push(Token::Word(&s[start..i]));
        } else {
            let ch = s[i..].chars().next().unwrap_or('?');
            return Err(if ch == '-' {
                "negative amounts are not allowed".to_string()
            } else {
                format!("unexpected character '{ch}'")
            });
        }
    }
    Ok(out)
}

/// Parses `<n> <unit>` parts into a duration; the error is the problem found.
pub(crate) fn parse_duration_phrase(s: &str) -> Result<Duration, String> {
    let toks: Vec<Token<'_>> = tokens(s)?
        .into_iter()
        .filter(|t| !matches!(t, Token::Word(w) if w.eq_ignore_ascii_case("and")))
        .collect();
    if toks.is_empty() {
        return Err("empty interval".to_string());
    }
    let mut total: u64 = 0;
    let mut it = toks.into_iter();
    while let Some(tok) = it.next() {
        let n = match tok {
            Token::Number(n) => n,
            Token::Word(w) => {
                let lw = w.to_ascii_lowercase();
                return Err(if NUMBER_WORDS.contains(&lw.as_str()) {
                    format!("number words are not supported ('{w}'); write the amount in digits")
                } else if unit_seconds(w).is_some() {
                    format!("missing amount before '{w}'")
                } else {
                    format!("expected an amount, found '{w}'")
                });
            }
        };
        let unit = match it.next() {
            Some(Token::Word(u)) => u,
            Some(Token::Number(m)) => {
                return Err(format!("missing unit between '{n}' and '{m}'"));
            }
            None => return Err(format!("missing unit after '{n}' (expected {UNITS})")),
        };
        let per = unit_seconds(unit)
            .ok_or_else(|| format!("unknown unit '{unit}' (expected {UNITS})"))?;
        let amount: u64 = n
            .parse()
            .map_err(|_| format!("amount '{n}' is too large"))?;
        total = amount
            .checked_mul(per)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(|| "interval is too large".to_string())?;
    }
    if total == 0 {
        return Err("interval must be greater than zero".to_string());
    }
    Ok(Duration::from_secs(total))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: &str) -> u64 {
        parse_repeat_interval(s)
            .unwrap_or_else(|e| panic!("{s}: {e}"))
            .as_secs()
    }

    fn problem(s: &str) -> String {
        match parse_repeat_interval(s) {
            Err(FormatError::Interval { value, problem }) => {
                assert_eq!(value, s);
                problem
            }
            other => panic!("{s}: expected an interval error, got {other:?}"),
        }
    }

    #[test]
    fn sap_examples() {
        assert_eq!(secs("10 hours"), 36_000);
        assert_eq!(secs("2 days"), 172_800);
        assert_eq!(secs("5 minutes"), 300);
    }

    #[test]
    fn every_unit_singular_and_plural_any_case() {
        assert_eq!(secs("1 year"), 365 * 86_400);
        assert_eq!(secs("2 Years"), 2 * 365 * 86_400);
        assert_eq!(secs("1 month"), 30 * 86_400);
        assert_eq!(secs("3 MONTHS"), 90 * 86_400);
        assert_eq!(secs("1 week"), 604_800);
        assert_eq!(secs("2 weeks"), 1_209_600);
        assert_eq!(secs("1 day"), 86_400);
        assert_eq!(secs("1 Hour"), 3_600);
        assert_eq!(secs("1 minute"), 60);
        assert_eq!(secs("1 second"), 1);
        assert_eq!(secs("45 seconds"), 45);
    }

    #[test]
    fn several_parts() {
        assert_eq!(secs("1 hour 30 minutes"), 5_400);
        assert_eq!(secs("1 hour, 30 minutes"), 5_400);
        assert_eq!(secs("1 day and 2 hours"), 93_600);
        assert_eq!(secs("  2 hours   15 minutes 10 seconds "), 8_110);
        assert_eq!(secs("10minutes"), 600);
        assert_eq!(secs("0 hours 5 minutes"), 300);
    }

    #[test]
    fn rejects_bad_input() {
        assert_eq!(problem(""), "empty interval");
        assert_eq!(problem("   "), "empty interval");
        assert_eq!(problem("0 minutes"), "interval must be greater than zero");
        assert!(problem("twenty minutes").contains("number words are not supported ('twenty')"));
        assert!(problem("an hour").contains("number words"));
        assert!(problem("10").contains("missing unit after '10'"));
        assert!(problem("10 fortnights").contains("unknown unit 'fortnights'"));
        assert!(problem("hours").contains("missing amount before 'hours'"));
        assert!(problem("every 5 minutes").contains("expected an amount, found 'every'"));
        assert!(problem("5 10 minutes").contains("missing unit between '5' and '10'"));
        assert!(problem("1.5 hours").contains("fractional"));
        assert!(problem("-5 minutes").contains("negative"));
        assert!(problem("5 minutes!").contains("unexpected character '!'"));
        assert!(problem("99999999999999999999 seconds").contains("too large"));
        assert!(problem("99999999999999 years").contains("too large"));
        let msg = parse_repeat_interval("twenty minutes")
            .unwrap_err()
            .to_string();
        assert!(msg.contains("'twenty minutes'"), "{msg}");
    }
}
