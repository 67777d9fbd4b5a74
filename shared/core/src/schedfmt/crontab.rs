//! `crontab`: standard cron, as crontab(5) and every peer take it.
//!
//! Five fields (minute hour day-of-month month day-of-week), or six with seconds first, or a
//! macro (`@yearly`/`@annually`, `@monthly`, `@weekly`, `@daily`/`@midnight`, `@hourly`).
//! Day-of-week counts 0–6 from Sunday (7 is Sunday too); names (`MON`, `JAN`) are accepted;
//! when both day-of-month and day-of-week are restricted, a day matching either fires (Vixie
//! cron). Parsed and walked by the `croner` crate; the expression describes wall-clock times,
//! which [`crate::zone`] maps to instants.

use chrono::{DateTime, Utc};
use croner::parser::{CronParser, Seconds, Year};
use croner::Cron;

/// A parsed `crontab` expression.
#[derive(Clone, Debug)]
pub struct Crontab {
    cron: Cron,
    text: String,
}

/// A rejected `crontab` value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid crontab '{value}': {problem}")]
pub struct CrontabError {
    /// The value as given.
    pub value: String,
    /// What is wrong with it.
    pub problem: String,
}

const MACROS: &[(&str, &str)] = &[
    ("@yearly", "0 0 1 1 *"),
    ("@annually", "0 0 1 1 *"),
    ("@monthly", "0 0 1 * *"),
    ("@weekly", "0 0 * * 0"),
    ("@daily", "0 0 * * *"),
    ("@midnight", "0 0 * * *"),
    ("@hourly", "0 * * * *"),
];

impl std::str::FromStr for Crontab {
    type Err = CrontabError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = |problem: String| CrontabError {
            value: s.to_string(),
            problem,
        };
        let text = s.split_whitespace().collect::<Vec<_>>().join(" ");
        let expanded = if text.starts_with('@') {
            MACROS
                .iter()
                .find(|(name, _)| name.eq_ignore_ascii_case(&text))
                .map(|(_, e)| *e)
                .ok_or_else(|| {
                    err("unknown macro; use @yearly, @annually, @monthly, @weekly, @daily, @midnight or @hourly".into())
                })?
        } else {
            match text.split(' ').count() {
                5 | 6 => text.as_str(),
                n => {
                    return Err(err(format!(
                        "expected 5 fields (minute hour day-of-month month day-of-week) or 6 (seconds first), got {n}"
                    )))
                }
            }
        };
        let cron = CronParser::builder()
            .seconds(Seconds::Optional)
            .year(Year::Disallowed)
            .build()
            .parse(expanded)
            .map_err(|e| err(e.to_string()))?;
        Ok(Crontab { cron, text })
    }
}

impl Crontab {
    /// The first local time strictly after `after` (a naive local time in the UTC type) that
    /// the expression matches, or `None` when it matches none (`0 0 30 2 *`).
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        // Whole seconds: a time past `after`'s second is past `after`.
        let second = DateTime::from_timestamp(after.timestamp(), 0)?;
        self.cron.find_next_occurrence(&second, false).ok()
    }

    /// The expression, normalised (fields separated by single spaces).
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, s).unwrap()
    }

    fn next(expr: &str, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        expr.parse::<Crontab>().unwrap().next_after(after)
    }

    #[test]
    fn five_fields_count_minutes_and_sunday_is_zero_or_seven() {
        let t = at(2026, 12, 4, 10, 0, 0); // a Friday
        assert_eq!(next("*/15 * * * *", t), Some(at(2026, 12, 4, 10, 15, 0)));
        assert_eq!(next("0 9 * * 0", t), Some(at(2026, 12, 6, 9, 0, 0)));
        assert_eq!(next("0 9 * * 7", t), Some(at(2026, 12, 6, 9, 0, 0)));
        assert_eq!(next("0 9 * * SUN", t), Some(at(2026, 12, 6, 9, 0, 0)));
        assert_eq!(next("30 8 * * 1-5", t), Some(at(2026, 12, 7, 8, 30, 0)));
    }

    #[test]
    fn day_of_month_or_day_of_week_fires_as_vixie_cron() {
        // The 13th, or any Friday.
        let t = at(2026, 12, 4, 10, 0, 0);
        assert_eq!(next("0 0 13 * 5", t), Some(at(2026, 12, 11, 0, 0, 0)));
    }

    #[test]
    fn six_fields_start_with_seconds() {
        let t = at(2026, 12, 4, 10, 0, 0);
        assert_eq!(next("*/10 * * * * *", t), Some(at(2026, 12, 4, 10, 0, 10)));
    }

    #[test]
    fn macros_expand() {
        let t = at(2026, 12, 4, 10, 0, 0);
        assert_eq!(next("@hourly", t), Some(at(2026, 12, 4, 11, 0, 0)));
        assert_eq!(next("@daily", t), Some(at(2026, 12, 5, 0, 0, 0)));
        assert_eq!(next("@weekly", t), Some(at(2026, 12, 6, 0, 0, 0)));
        assert_eq!(next("@monthly", t), Some(at(2027, 1, 1, 0, 0, 0)));
        assert_eq!(next("@YEARLY", t), Some(at(2027, 1, 1, 0, 0, 0)));
        assert_eq!(next("@annually", t), Some(at(2027, 1, 1, 0, 0, 0)));
    }

    #[test]
    fn bad_expressions_say_what_is_wrong() {
        for bad in [
            "",
            "* * * *",
            "* * * * * * *",
            "61 * * * *",
            "* * * * 9",
            "@fortnightly",
            "x * * * *",
        ] {
            let e = bad.parse::<Crontab>().unwrap_err();
            assert!(e.to_string().starts_with("invalid crontab"), "{bad}: {e}");
        }
    }

    #[test]
    fn an_expression_with_no_instant_has_no_next() {
        assert_eq!(next("0 0 30 2 *", at(2026, 1, 1, 0, 0, 0)), None);
    }
}
