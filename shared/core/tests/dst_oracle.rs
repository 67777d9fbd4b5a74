//! The fire sequence of a schedule in a time zone, against a brute-force oracle.
//!
//! The oracle walks every second of a window around each transition of ten years
//! (2026–2035) in ten zones (half-hour and three-quarter-hour offsets, a half-hour DST shift,
//! a two-hour one, southern-hemisphere DST, zones without DST) and applies the DST rule as
//! written in `docs/API.md`: a local time fires at the first second at which the zone's wall
//! clock has reached it. Each second `s` fires when some grid time lies in
//! `(the latest wall-clock time shown before s, the wall-clock time at s]`. The plan under
//! test walks its sequence the way the leader does (`first`, then `fire(...).next`).

use chime_core::schedfmt::{Crontab, SapCron};
use chime_core::schedule::{Kind, Lateness, Plan};
use chrono::{DateTime, Offset, TimeZone};
use chrono_tz::Tz;
use proptest::prelude::*;

const ZONES: [Tz; 10] = [
    Tz::Europe__Berlin,
    Tz::America__New_York,
    Tz::Australia__Adelaide,
    Tz::Australia__Lord_Howe,
    Tz::Pacific__Chatham,
    Tz::America__Santiago,
    Tz::America__St_Johns,
    Tz::Antarctica__Troll,
    Tz::Asia__Kolkata,
    Tz::Asia__Kathmandu,
];

/// 2026-01-01T00:00:00Z and 2036-01-01T00:00:00Z, in seconds.
const FROM: i64 = 1_767_225_600;
const TO: i64 = 2_082_758_400;
/// Seconds walked either side of a transition.
const AROUND: i64 = 3 * 3600;

fn offset(tz: Tz, s: i64) -> i64 {
    let utc = DateTime::from_timestamp(s, 0).unwrap().naive_utc();
    i64::from(tz.offset_from_utc_datetime(&utc).fix().local_minus_utc())
}

/// The windows walked in a zone: around each transition of the ten years, or, in a zone
/// without any, one every 90 days.
fn windows(tz: Tz) -> Vec<(i64, i64)> {
    let mut at = Vec::new();
    let mut h = FROM;
    while h < TO {
        if offset(tz, h) != offset(tz, h + 3600) {
            at.push(h + 3600);
        }
        h += 3600;
    }
    if at.is_empty() {
        at = (FROM..TO).step_by(90 * 86_400).collect();
    }
    at.into_iter().map(|t| (t - AROUND, t + AROUND)).collect()
}

/// The grid's wall-clock times (naive seconds) covering a window, from the grid's own walk.
fn grid(next_local: &dyn Fn(i64) -> Option<i64>, lo: i64, hi: i64) -> Vec<i64> {
    let mut out = Vec::new();
    let mut at = next_local(lo);
    while let Some(l) = at.filter(|l| *l <= hi) {
        out.push(l);
        at = next_local(l);
    }
    out
}

/// The seconds of `[lo, hi]` that fire, walking every second.
fn oracle(tz: Tz, grid: &[i64], lo: i64, hi: i64) -> Vec<i64> {
    let mut shown = lo - 1 + offset(tz, lo - 1);
    let mut next = grid.partition_point(|g| *g <= shown);
    let mut out = Vec::new();
    for s in lo..=hi {
        let wall = s + offset(tz, s);
        if wall > shown {
            let from = next;
            while next < grid.len() && grid[next] <= wall {
                next += 1;
            }
            if next > from {
                out.push(s);
            }
            shown = wall;
        }
    }
    out
}

/// The plan's instants in `[lo, hi]` (seconds), walked as the leader walks them.
fn walked(plan: &Plan, lo: i64, hi: i64) -> Vec<i64> {
    let on_time = Lateness {
        threshold_ms: 1_200_000,
        grace_ms: 60_000,
    };
    let mut out = Vec::new();
    let mut due = plan.first(lo * 1000);
    while let Some(at) = due.filter(|at| *at <= hi * 1000) {
        assert_eq!(at % 1000, 0, "instants are whole seconds");
        out.push(at / 1000);
        let d = plan.fire(at, at, on_time);
        assert_eq!(d.fire, vec![at]);
        due = d.next;
        assert!(due.is_none_or(|n| n > at), "the sequence moves forward");
    }
    out
}

fn naive_next(kind: &Kind) -> Box<dyn Fn(i64) -> Option<i64> + '_> {
    let to = |s: i64| DateTime::from_timestamp(s, 0).unwrap();
    match kind {
        Kind::Cron(c) => Box::new(move |l| c.next_after(to(l)).map(|d| d.timestamp())),
        Kind::Crontab(c) => Box::new(move |l| c.next_after(to(l)).map(|d| d.timestamp())),
        Kind::RepeatAt(secs) => Box::new(move |l| {
            let day = l.div_euclid(86_400) * 86_400 + secs;
            Some(if day > l { day } else { day + 86_400 })
        }),
        _ => unreachable!("only grids live in a zone"),
    }
}

fn check(tz: Tz, kind: Kind) -> Result<(), TestCaseError> {
    let mut plan = Plan::of(kind);
    plan.zone = tz;
    let next_local = naive_next(&plan.kind);
    for (lo, hi) in windows(tz) {
        // Wall-clock times the window can show, with a day to spare either side.
        let g = grid(&*next_local, lo - 86_400, hi + 86_400);
        let want = oracle(tz, &g, lo, hi);
        let got = walked(&plan, lo, hi);
        prop_assert_eq!(
            &got,
            &want,
            "{} around {}",
            tz,
            DateTime::from_timestamp(lo + AROUND, 0).unwrap()
        );
    }
    Ok(())
}

fn crontab() -> impl Strategy<Value = Kind> {
    let minutes = prop::sample::select(vec![
        "0", "30", "15", "45", "*/15", "*/20", "5,35", "*/7", "*",
    ]);
    let hours = prop::sample::select(vec![
        "*", "0-4", "1", "2", "3", "0", "23", "*/2", "1-3", "22-23,0",
    ]);
    let seconds = prop::option::of(prop::sample::select(vec!["0", "30", "*/20"]));
    (seconds, minutes, hours).prop_map(|(s, m, h)| {
        let text = match s {
            Some(s) => format!("{s} {m} {h} * * *"),
            None => format!("{m} {h} * * *"),
        };
        Kind::Crontab(Box::new(text.parse::<Crontab>().unwrap()))
    })
}

fn sap_cron() -> impl Strategy<Value = Kind> {
    let hours = prop::sample::select(vec!["*", "0:4", "2", "1,2,3", "*/3"]);
    let minutes = prop::sample::select(vec!["0", "30", "*/15", "0,45"]);
    (hours, minutes).prop_map(|(h, m)| {
        let text = format!("* * * * {h} {m} 0");
        Kind::Cron(Box::new(text.parse::<SapCron>().unwrap()))
    })
}

fn repeat_at() -> impl Strategy<Value = Kind> {
    (0i64..5, prop::sample::select(vec![0i64, 15, 30, 45, 59]))
        .prop_map(|(h, m)| Kind::RepeatAt(h * 3600 + m * 60))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn the_fire_sequence_matches_the_oracle_in_every_zone(
        zone in prop::sample::select(ZONES.to_vec()),
        kind in prop_oneof![crontab(), sap_cron(), repeat_at()],
    ) {
        check(zone, kind)?;
    }
}

/// Every zone, with grids that touch every transition hour: a time every quarter hour and a
/// daily 02:30.
#[test]
fn every_zone_every_transition_of_ten_years() {
    for tz in ZONES {
        let quarter = Kind::Crontab(Box::new("*/15 * * * *".parse().unwrap()));
        check(tz, quarter).unwrap();
        check(tz, Kind::RepeatAt(2 * 3600 + 30 * 60)).unwrap();
    }
}
