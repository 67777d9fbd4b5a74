use super::*;
use crate::zone::Tz;
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
        ("gggg-ww", "gggg"),
        ("GGGG-[W]WW-E", "GGGG"),
        ("YYYY-[W]WW", "WW"),
        ("YYYY-MM-DD HH:mm:ss.SSSSSSSSSS", "SSSSSSSSSS"),
        ("QQ YYYY", "QQ"),
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
    let msg = f("x", "QQ").to_string();
    assert!(msg.contains("'QQ'"), "{msg}");
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

fn berlin() -> Tz {
    Tz::Europe__Berlin
}

fn adelaide() -> Tz {
    Tz::Australia__Adelaide
}

/// `v` parsed in `tz` at `now`.
fn at_in(v: Value, now: DateTime<Utc>, tz: Tz) -> DateTime<Utc> {
    parse_sap_datetime_in(&v, now, tz).unwrap_or_else(|e| panic!("{v} in {tz}: {e}"))
}

fn rfc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .unwrap_or_else(|e| panic!("{s}: {e}"))
        .with_timezone(&Utc)
}

#[test]
fn sap_human_examples_that_name_a_weekday() {
    // now() is Friday 2024-05-10 14:30 UTC.
    assert_eq!(s("Friday at 2am"), utc(2024, 5, 17, 2, 0, 0));
    assert_eq!(s("next week monday at 5am"), utc(2024, 5, 13, 5, 0, 0));
    assert_eq!(s("Next Week Monday At 5AM"), utc(2024, 5, 13, 5, 0, 0));
    assert_eq!(s("tomorrow at 5am"), utc(2024, 5, 11, 5, 0, 0));
    assert_eq!(s("tomorrow at 2am"), utc(2024, 5, 11, 2, 0, 0));
}

#[test]
fn a_weekday_is_its_next_occurrence_at_or_after_now() {
    // Today is Friday: it counts while the time is still ahead.
    assert_eq!(s("friday at 3pm"), utc(2024, 5, 10, 15, 0, 0));
    assert_eq!(s("FRI 2:30pm"), now());
    assert_eq!(s("friday at 2:29pm"), utc(2024, 5, 17, 14, 29, 0));
    // Alone, a weekday is its next midnight.
    assert_eq!(s("friday"), utc(2024, 5, 17, 0, 0, 0));
    assert_eq!(s("monday"), utc(2024, 5, 13, 0, 0, 0));
    assert_eq!(s("Mon"), utc(2024, 5, 13, 0, 0, 0));
    assert_eq!(s("saturday, 10:30"), utc(2024, 5, 11, 10, 30, 0));
    for (name, day) in [
        ("sat", 11),
        ("sun", 12),
        ("mon", 13),
        ("tue", 14),
        ("tues", 14),
        ("wed", 15),
        ("WEDNESDAY", 15),
        ("thu", 16),
        ("thurs", 16),
        ("fri", 17),
    ] {
        assert_eq!(
            s(&format!("{name} at 9am")),
            utc(2024, 5, day, 9, 0, 0),
            "{name}"
        );
    }
    // The day may come last.
    assert_eq!(s("2am friday"), utc(2024, 5, 17, 2, 0, 0));
    assert_eq!(s("5am on monday"), utc(2024, 5, 13, 5, 0, 0));
    assert_eq!(s("at 9pm on sunday"), utc(2024, 5, 12, 21, 0, 0));
}

#[test]
fn this_next_and_next_week_weekdays() {
    // now() is Friday 2024-05-10 14:30 UTC.
    assert_eq!(s("this friday at 6pm"), utc(2024, 5, 10, 18, 0, 0));
    assert_eq!(s("this friday at 2pm"), utc(2024, 5, 17, 14, 0, 0));
    assert_eq!(s("this monday"), utc(2024, 5, 13, 0, 0, 0));
    // `next <weekday>`: the first one after today, never today.
    assert_eq!(s("next friday"), utc(2024, 5, 17, 0, 0, 0));
    assert_eq!(s("next friday at 6pm"), utc(2024, 5, 17, 18, 0, 0));
    assert_eq!(s("next saturday"), utc(2024, 5, 11, 0, 0, 0));
    assert_eq!(s("next mon at 9am"), utc(2024, 5, 13, 9, 0, 0));
    // `next week <weekday>`: that day of the week after this one (Monday to Sunday).
    assert_eq!(s("next week friday"), utc(2024, 5, 17, 0, 0, 0));
    assert_eq!(s("next week sunday at 10pm"), utc(2024, 5, 19, 22, 0, 0));
    assert_eq!(s("5am next week monday"), utc(2024, 5, 13, 5, 0, 0));
    let wednesday = utc(2024, 5, 8, 9, 0, 0);
    let on_wednesday = |text: &str| at_in(json!(text), wednesday, Tz::UTC);
    assert_eq!(on_wednesday("next friday"), utc(2024, 5, 10, 0, 0, 0));
    assert_eq!(on_wednesday("next week friday"), utc(2024, 5, 17, 0, 0, 0));
    assert_eq!(on_wednesday("next wednesday"), utc(2024, 5, 15, 0, 0, 0));
    assert_eq!(on_wednesday("wednesday at 10am"), utc(2024, 5, 8, 10, 0, 0));
    // On a Sunday, next week starts tomorrow.
    let sunday = utc(2024, 5, 12, 9, 0, 0);
    assert_eq!(
        at_in(json!("next week monday at 5am"), sunday, Tz::UTC),
        utc(2024, 5, 13, 5, 0, 0)
    );
}

#[test]
fn day_words_alone_and_next_units() {
    assert_eq!(s("tomorrow"), utc(2024, 5, 11, 0, 0, 0));
    assert_eq!(s("Today"), utc(2024, 5, 10, 0, 0, 0));
    assert_eq!(s("next week"), now() + Duration::days(7));
    assert_eq!(s("Next Month"), now() + Duration::days(30));
    assert_eq!(s("next year"), now() + Duration::days(365));
    assert_eq!(s("next day"), now() + Duration::days(1));
    assert_eq!(s("next hour"), now() + Duration::hours(1));
}

#[test]
fn rejects_human_forms_that_do_not_parse() {
    for (text, needle) in [
        ("tonight", "not an ISO-8601"),
        ("friday at teatime", "not an ISO-8601"),
        ("friday at", "not an ISO-8601"),
        ("funday at 2am", "not an ISO-8601"),
        ("next week at 5am", "not an ISO-8601"),
        ("next fortnight", "not an ISO-8601"),
        ("next weeks", "not an ISO-8601"),
        ("last friday", "not an ISO-8601"),
        ("friday at 25:00", "hour 25 out of range"),
        ("next week monday at 13pm", "hour 13 out of range 1..12"),
    ] {
        match bad(json!(text)) {
            FormatError::DateTime { value, problem } => {
                assert_eq!(value, text);
                assert!(problem.contains(needle), "{text}: {problem}");
            }
            other => panic!("{text}: unexpected {other:?}"),
        }
    }
}

#[test]
fn utc_is_the_default_zone() {
    for v in [
        json!("2015-10-20 04:30"),
        json!("2015-10-20T04:30:00.123456"),
        json!("2015-10-20"),
        json!("Friday at 2am"),
        json!("3.30pm"),
        json!("tomorrow"),
        json!("next week"),
        json!({ "date": "1st Mar 2015 04:30:00.25", "format": "Do MMM YYYY HH:mm:ss.SS" }),
        json!({ "date": "16:45", "format": "HH:mm" }),
    ] {
        assert_eq!(
            parse_sap_datetime(&v, now()),
            parse_sap_datetime_in(&v, now(), Tz::UTC),
            "{v}"
        );
    }
    assert_eq!(
        s("2015-10-20T04:30:00.123456"),
        utc(2015, 10, 20, 4, 30, 0) + Duration::microseconds(123_456)
    );
}

#[test]
fn local_values_are_wall_clock_times_of_the_zone() {
    // now() is 16:30 on Friday 2024-05-10 in Berlin (CEST, +2).
    let b = |v: Value| at_in(v, now(), berlin());
    assert_eq!(b(json!("2024-06-01 12:00")), utc(2024, 6, 1, 10, 0, 0));
    assert_eq!(b(json!("2024-01-15T12:00:00")), utc(2024, 1, 15, 11, 0, 0));
    assert_eq!(b(json!("2024-06-01")), utc(2024, 5, 31, 22, 0, 0));
    assert_eq!(b(json!("Friday at 2am")), utc(2024, 5, 17, 0, 0, 0));
    assert_eq!(b(json!("tomorrow at 4pm")), utc(2024, 5, 11, 14, 0, 0));
    assert_eq!(b(json!("tomorrow at 5am")), utc(2024, 5, 11, 3, 0, 0));
    assert_eq!(
        b(json!("next week monday at 5am")),
        utc(2024, 5, 13, 3, 0, 0)
    );
    assert_eq!(b(json!("this friday at 6pm")), utc(2024, 5, 10, 16, 0, 0));
    assert_eq!(b(json!("next friday")), utc(2024, 5, 16, 22, 0, 0));
    assert_eq!(b(json!("monday")), utc(2024, 5, 12, 22, 0, 0));
    // 4pm has passed in Berlin (16:30) but not in UTC (14:30).
    assert_eq!(b(json!("4pm")), utc(2024, 5, 11, 14, 0, 0));
    assert_eq!(s("4pm"), utc(2024, 5, 10, 16, 0, 0));
    assert_eq!(b(json!("5pm")), utc(2024, 5, 10, 15, 0, 0));
    assert_eq!(
        b(json!({ "date": "2024-06-01 12:00", "format": "YYYY-MM-DD HH:mm" })),
        utc(2024, 6, 1, 10, 0, 0)
    );
    assert_eq!(
        b(json!({ "date": "16:45", "format": "HH:mm" })),
        utc(2024, 5, 10, 14, 45, 0)
    );
}

#[test]
fn today_and_weekdays_follow_the_zones_calendar() {
    // 23:30 UTC on Friday is 01:30 on Saturday 2024-05-11 in Berlin.
    let late = utc(2024, 5, 10, 23, 30, 0);
    let b = |text: &str| at_in(json!(text), late, berlin());
    assert_eq!(b("today at 9am"), utc(2024, 5, 11, 7, 0, 0));
    assert_eq!(b("saturday at 9am"), utc(2024, 5, 11, 7, 0, 0));
    assert_eq!(b("tomorrow"), utc(2024, 5, 11, 22, 0, 0));
    assert_eq!(b("1am"), utc(2024, 5, 11, 23, 0, 0));
    assert_eq!(b("2am"), utc(2024, 5, 11, 0, 0, 0));
    assert_eq!(b("next week monday at 5am"), utc(2024, 5, 13, 3, 0, 0));
    // In UTC it is still Friday.
    assert_eq!(
        at_in(json!("saturday at 9am"), late, Tz::UTC),
        utc(2024, 5, 11, 9, 0, 0)
    );
    assert_eq!(
        at_in(json!("today at 9am"), late, Tz::UTC),
        utc(2024, 5, 10, 9, 0, 0)
    );
    // Relative forms are lengths of time, whatever the zone.
    assert_eq!(b("in 2 hours"), late + Duration::hours(2));
    assert_eq!(b("3 minutes ago"), late - Duration::minutes(3));
    assert_eq!(b("next week"), late + Duration::days(7));
    assert_eq!(b("now"), late);
}

#[test]
fn berlin_spring_gap_and_autumn_repeat() {
    let now = utc(2026, 3, 1, 12, 0, 0);
    let b = |v: Value| at_in(v, now, berlin());
    // 2026-03-29: 02:00 CET becomes 03:00 CEST at 01:00 UTC.
    assert_eq!(b(json!("2026-03-29 02:30")), rfc("2026-03-29T01:00:00Z"));
    assert_eq!(b(json!("2026-03-29T02:00:00")), rfc("2026-03-29T01:00:00Z"));
    assert_eq!(b(json!("2026-03-29 01:59")), rfc("2026-03-29T00:59:00Z"));
    assert_eq!(b(json!("2026-03-29 03:00")), rfc("2026-03-29T01:00:00Z"));
    assert_eq!(
        b(json!({ "date": "29.03.2026 02:30", "format": "DD.MM.YYYY HH:mm" })),
        rfc("2026-03-29T01:00:00Z")
    );
    // 2026-10-25: 03:00 CEST becomes 02:00 CET at 01:00 UTC; 02:30 is its first occurrence.
    assert_eq!(b(json!("2026-10-25 02:30")), rfc("2026-10-25T00:30:00Z"));
    assert_eq!(b(json!("2026-10-25 03:30")), rfc("2026-10-25T02:30:00Z"));
    // Human forms land in the gap too: Saturday 2026-03-28 at noon.
    let saturday = utc(2026, 3, 28, 11, 0, 0);
    let h = |text: &str| at_in(json!(text), saturday, berlin());
    assert_eq!(h("tomorrow at 2.30am"), rfc("2026-03-29T01:00:00Z"));
    assert_eq!(h("sunday at 2:30am"), rfc("2026-03-29T01:00:00Z"));
    assert_eq!(h("sunday at 4am"), rfc("2026-03-29T02:00:00Z"));
    assert_eq!(h("tomorrow at 1am"), rfc("2026-03-29T00:00:00Z"));
    // Next week is 7 × 24 hours, across the change.
    assert_eq!(h("next week"), saturday + Duration::days(7));
    // The Saturday before the repeat: Sunday's 02:30 is the first one.
    let before_repeat = utc(2026, 10, 24, 11, 0, 0);
    assert_eq!(
        at_in(json!("tomorrow at 2:30am"), before_repeat, berlin()),
        rfc("2026-10-25T00:30:00Z")
    );
}

#[test]
fn adelaide_half_hour_offsets() {
    // now() is exactly midnight starting Saturday 2024-05-11 in Adelaide (ACST, +9:30).
    let a = |text: &str| at_in(json!(text), now(), adelaide());
    assert_eq!(a("today"), now());
    assert_eq!(a("saturday"), now());
    assert_eq!(a("friday at 2am"), rfc("2024-05-16T16:30:00Z"));
    assert_eq!(a("tomorrow at 9am"), rfc("2024-05-11T23:30:00Z"));
    assert_eq!(a("next week monday at 5am"), rfc("2024-05-12T19:30:00Z"));
    assert_eq!(a("2024-05-11 12:00"), rfc("2024-05-11T02:30:00Z"));
    // Summer time (ACDT, +10:30), and the gap of 2026-10-04 (02:00 becomes 03:00).
    assert_eq!(a("2026-01-15 12:00"), rfc("2026-01-15T01:30:00Z"));
    assert_eq!(a("2026-10-04 02:15"), rfc("2026-10-03T16:30:00Z"));
    assert_eq!(
        at_in(
            json!({ "date": "4th Oct 2026 2:15", "format": "Do MMM YYYY H:mm" }),
            now(),
            adelaide()
        ),
        rfc("2026-10-03T16:30:00Z")
    );
}

#[test]
fn values_with_an_offset_ignore_the_zone() {
    for v in [
        json!("2015-10-20T04:30:00Z"),
        json!("2015-10-20T04:30:00+02:00"),
        json!("2026-03-29T02:30:00+01:00"),
        json!("2015-10-20 04:30 UTC"),
        json!("2013-02-08 09+07:00"),
        json!("Tue, 1 Jul 2003 10:52:37 +0200"),
        json!("1 Jul 2003 10:52:37 GMT"),
        json!({ "date": "2015-10-20 04:30 +0000", "format": "YYYY-MM-DD HH:mm Z" }),
        json!({ "date": "2015-10-20 04:30 Z", "format": "YYYY-MM-DD HH:mm ZZ" }),
        json!({ "date": "1410715640.579", "format": "X" }),
        json!({ "date": "1410715640579", "format": "x" }),
        json!("now"),
        json!("in 2 hours"),
        json!("next month"),
    ] {
        let in_utc = ok(v.clone());
        assert_eq!(at_in(v.clone(), now(), berlin()), in_utc, "{v}");
        assert_eq!(at_in(v.clone(), now(), adelaide()), in_utc, "{v}");
    }
}

#[test]
fn moment_quarter() {
    let f = |date: &str, format: &str| ok(json!({ "date": date, "format": format }));
    assert_eq!(f("2 2015", "Q YYYY"), utc(2015, 4, 1, 0, 0, 0));
    assert_eq!(f("2015-Q4", "YYYY-[Q]Q"), utc(2015, 10, 1, 0, 0, 0));
    assert_eq!(f("1", "Q"), utc(2024, 1, 1, 0, 0, 0));
    assert_eq!(f("3", "Q"), utc(2024, 7, 1, 0, 0, 0));
    // A month given too wins over the quarter.
    assert_eq!(f("3 2015 02", "Q YYYY MM"), utc(2015, 2, 1, 0, 0, 0));
    assert_eq!(
        f("Q2 15 10:00", "[Q]Q DD HH:mm"),
        utc(2024, 4, 15, 10, 0, 0)
    );
    for (date, needle) in [
        ("5 2015", "quarter 5 out of range 1..4"),
        ("0 2015", "quarter 0 out of range 1..4"),
        ("x 2015", "expected a quarter"),
        ("12 2015", "expected"),
    ] {
        let e = bad(json!({ "date": date, "format": "Q YYYY" }));
        assert!(matches!(e, FormatError::DateTime { .. }), "{date}: {e:?}");
        assert!(e.to_string().contains(needle), "{date}: {e}");
    }
}

#[test]
fn moment_ordinal_day() {
    let f = |date: &str, format: &str| ok(json!({ "date": date, "format": format }));
    for (day, text) in [
        (1, "1st"),
        (2, "2nd"),
        (3, "3rd"),
        (4, "4th"),
        (11, "11th"),
        (12, "12th"),
        (13, "13th"),
        (21, "21st"),
        (22, "22nd"),
        (23, "23rd"),
        (31, "31st"),
    ] {
        assert_eq!(
            f(&format!("{text} January 2015"), "Do MMMM YYYY"),
            utc(2015, 1, day, 0, 0, 0),
            "{text}"
        );
    }
    assert_eq!(
        f("22ND Oct 2015", "Do MMM YYYY"),
        utc(2015, 10, 22, 0, 0, 0)
    );
    assert_eq!(
        f("October 20th, 2015 4:30pm", "MMMM Do, YYYY h:mma"),
        utc(2015, 10, 20, 16, 30, 0)
    );
    assert_eq!(f("17th", "Do"), utc(2024, 5, 17, 0, 0, 0));
    for (date, needle) in [
        ("2th January 2015", "expected '2nd', got '2th'"),
        ("11st January 2015", "expected '11th', got '11st'"),
        ("1 January 2015", "expected '1st', got '1'"),
        ("32nd January 2015", "day 32 out of range"),
        ("0th January 2015", "day 0 out of range"),
        ("first January 2015", "expected a day of the month"),
        ("31st February 2015", "no day 31 in 2015-02"),
    ] {
        let e = bad(json!({ "date": date, "format": "Do MMMM YYYY" }));
        assert!(matches!(e, FormatError::DateTime { .. }), "{date}: {e:?}");
        assert!(e.to_string().contains(needle), "{date}: {e}");
    }
}

#[test]
fn moment_fractions_of_a_second() {
    let f = |date: &str, format: &str| ok(json!({ "date": date, "format": format }));
    let base = utc(2015, 10, 20, 4, 30, 5);
    assert_eq!(
        f("2015-10-20 04:30:05.2", "YYYY-MM-DD HH:mm:ss.S"),
        base + Duration::milliseconds(200)
    );
    assert_eq!(
        f("2015-10-20 04:30:05.25", "YYYY-MM-DD HH:mm:ss.SS"),
        base + Duration::milliseconds(250)
    );
    assert_eq!(
        f("2015-10-20 04:30:05.025", "YYYY-MM-DD HH:mm:ss.SSS"),
        base + Duration::milliseconds(25)
    );
    assert_eq!(
        f("2015-10-20 04:30:05.123456", "YYYY-MM-DD HH:mm:ss.SSSSSS"),
        base + Duration::microseconds(123_456)
    );
    assert_eq!(
        f("20151020043005 7", "YYYYMMDDHHmmss S"),
        base + Duration::milliseconds(700)
    );
    for (date, format, needle) in [
        (
            "2015-10-20 04:30:05.25",
            "YYYY-MM-DD HH:mm:ss.S",
            "exactly 1 digit ",
        ),
        (
            "2015-10-20 04:30:05.2",
            "YYYY-MM-DD HH:mm:ss.SS",
            "exactly 2 digits",
        ),
        (
            "2015-10-20 04:30:05.25",
            "YYYY-MM-DD HH:mm:ss.SSS",
            "exactly 3 digits",
        ),
        (
            "2015-10-20 04:30:05.x",
            "YYYY-MM-DD HH:mm:ss.S",
            "exactly 1 digit",
        ),
        (
            "2015-10-20 04:30:05.2 x",
            "YYYY-MM-DD HH:mm:ss.S",
            "unexpected text ' x'",
        ),
    ] {
        let e = bad(json!({ "date": date, "format": format }));
        assert!(matches!(e, FormatError::DateTime { .. }), "{date}: {e:?}");
        assert!(e.to_string().contains(needle), "{date}: {e}");
    }
}
