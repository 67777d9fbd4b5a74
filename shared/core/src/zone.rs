//! Time zones: a schedule's wall-clock times mapped to instants by chime's DST rule.
//!
//! A schedule in a zone (an IANA name, the tz database of `chrono-tz`) describes wall-clock
//! times: its grid (cron, crontab, `repeatAt`) is walked in local time, and each local time
//! becomes the instant given by [`instant_of`]:
//!
//! - a local time that exists once is that instant;
//! - a local time that exists twice (the clocks go back) is its **first** occurrence;
//! - a local time that does not exist (the clocks go forward) is the **first instant after
//!   the gap**, the transition itself.
//!
//! Put another way, local time `L` fires at the first instant at which the zone's wall clock
//! has reached `L`. Two local times of a gap land on the same instant, which fires once (a run
//! id is derived from the instant). Intervals are lengths of time, not wall-clock times: no
//! zone applies to them.

use chrono::{DateTime, Offset, TimeZone, Utc};
pub use chrono_tz::Tz;

/// Longest run of repeated local time a transition makes (Antarctica/Troll moves two hours),
/// with room to spare.
const MAX_SHIFT_MS: i64 = 3 * 3_600_000;

/// The zone of an IANA name (`Europe/Berlin`, `UTC`), or `None` when the tz database has no
/// such zone.
pub fn parse_zone(name: &str) -> Option<Tz> {
    name.parse::<Tz>().ok()
}

/// The zone's offset from UTC at instant `ms`, in milliseconds.
pub fn offset_ms(tz: Tz, ms: i64) -> i64 {
    let utc = crate::time::to_dt(ms).naive_utc();
    i64::from(tz.offset_from_utc_datetime(&utc).fix().local_minus_utc()) * 1000
}

/// The wall-clock time of instant `ms` in `tz`, as milliseconds of a naive (zone-less) time.
pub fn local_ms(tz: Tz, ms: i64) -> i64 {
    ms + offset_ms(tz, ms)
}

/// The instant (ms) at which the wall clock of `tz` first reads the local time `local` (ms of
/// a naive time): the DST rule of this module.
pub fn instant_of(tz: Tz, local: i64) -> i64 {
    if tz == Tz::UTC {
        return local;
    }
    let naive = crate::time::to_dt(local).naive_utc();
    match tz.from_local_datetime(&naive) {
        chrono::LocalResult::Single(d) => d.timestamp_millis(),
        chrono::LocalResult::Ambiguous(a, b) => a.timestamp_millis().min(b.timestamp_millis()),
        chrono::LocalResult::None => after_gap(tz, local),
    }
}

/// The instant that ends the gap holding the local time `local`: the first instant whose
/// wall-clock time is at or past it.
fn after_gap(tz: Tz, local: i64) -> i64 {
    // Taken with each offset around it, the local time brackets the transition.
    let (a, b) = (
        offset_ms(tz, local - MAX_SHIFT_MS - 86_400_000),
        offset_ms(tz, local + 86_400_000),
    );
    let (mut lo, mut hi) = (local - a.max(b) - 1, local - a.min(b));
    // Invariant: the wall clock at `lo` is before `local`, at `hi` at or past it.
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if local_ms(tz, mid) >= local {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    hi
}

/// The latest wall-clock time `tz` has shown up to instant `ms`: its wall clock at `ms`, or,
/// in the repeated hour after the clocks went back, the time shown just before they did.
pub fn local_high_water(tz: Tz, ms: i64) -> i64 {
    let now = local_ms(tz, ms);
    if tz == Tz::UTC {
        return now;
    }
    let earlier = ms - MAX_SHIFT_MS;
    if offset_ms(tz, earlier) <= offset_ms(tz, ms) {
        return now; // the clocks did not go back in the last hours
    }
    // Find the last instant before the clocks went back.
    let (mut lo, mut hi) = (earlier, ms);
    let before = offset_ms(tz, earlier);
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if offset_ms(tz, mid) == before {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    now.max(local_ms(tz, lo))
}

/// The next instant strictly after `after` of a wall-clock grid in `tz`, where `next_local`
/// gives the grid's first local time strictly after a local time (both as naive ms).
pub fn next_instant(tz: Tz, after: i64, next_local: impl Fn(i64) -> Option<i64>) -> Option<i64> {
    let seen = local_high_water(tz, after);
    let mut local = next_local(seen)?;
    loop {
        let at = instant_of(tz, local);
        if at > after {
            return Some(at);
        }
        // A local time in a gap just passed lands on the gap's end, which already fired.
        local = next_local(local)?;
    }
}

/// A naive local time of the UTC date-time type (how the formats walk a local grid).
pub fn naive(local: i64) -> DateTime<Utc> {
    crate::time::to_dt(local)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::{format_instant, parse_stored_instant};
    use chrono::NaiveDateTime;

    fn naive_ms(local: NaiveDateTime) -> i64 {
        local.and_utc().timestamp_millis()
    }

    fn ms(s: &str) -> i64 {
        parse_stored_instant(s).unwrap()
    }

    fn local(s: &str) -> i64 {
        naive_ms(NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").unwrap())
    }

    #[test]
    fn names_parse_to_zones_and_unknown_ones_do_not() {
        assert_eq!(parse_zone("Europe/Berlin"), Some(Tz::Europe__Berlin));
        assert_eq!(parse_zone("UTC"), Some(Tz::UTC));
        assert_eq!(parse_zone("Mars/Olympus"), None);
    }

    #[test]
    fn a_time_in_the_spring_gap_is_the_end_of_the_gap() {
        let berlin = Tz::Europe__Berlin;
        // 2026-03-29: 02:00 CET becomes 03:00 CEST (01:00 UTC).
        let end = ms("2026-03-29T01:00:00Z");
        assert_eq!(instant_of(berlin, local("2026-03-29 02:30:00")), end);
        assert_eq!(instant_of(berlin, local("2026-03-29 02:00:00")), end);
        assert_eq!(instant_of(berlin, local("2026-03-29 03:00:00")), end);
        assert_eq!(
            format_instant(instant_of(berlin, local("2026-03-29 01:59:59"))),
            "2026-03-29T00:59:59.000Z"
        );
    }

    #[test]
    fn a_repeated_time_is_its_first_occurrence() {
        let berlin = Tz::Europe__Berlin;
        // 2026-10-25: 03:00 CEST becomes 02:00 CET (01:00 UTC); 02:30 happens twice.
        assert_eq!(
            instant_of(berlin, local("2026-10-25 02:30:00")),
            ms("2026-10-25T00:30:00Z")
        );
        // In the second 02:30 the wall clock has been as far as 02:59:59.999 already.
        let second = ms("2026-10-25T01:30:00Z");
        assert_eq!(local_ms(berlin, second), local("2026-10-25 02:30:00"));
        assert_eq!(
            local_high_water(berlin, second),
            local("2026-10-25 02:59:59") + 999
        );
    }

    #[test]
    fn a_half_hour_southern_zone_moves_its_own_way() {
        let adelaide = Tz::Australia__Adelaide;
        // 2026-10-04: 02:00 ACST (+9:30) becomes 03:00 ACDT (+10:30), at 16:30 UTC the day
        // before.
        assert_eq!(
            instant_of(adelaide, local("2026-10-04 02:15:00")),
            ms("2026-10-03T16:30:00Z")
        );
    }
}
