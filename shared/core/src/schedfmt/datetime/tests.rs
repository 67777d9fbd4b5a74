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
