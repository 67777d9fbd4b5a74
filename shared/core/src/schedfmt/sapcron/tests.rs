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
