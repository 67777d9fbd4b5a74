//! The chaos suite's oracle: the nominal instants each schedule should have fired, against
//! the run records and the calls the targets received. One row per fault.

use chime_testkit::Hit;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

/// What the history of one phase (one fault) showed.
#[derive(Clone, Debug, Default)]
pub struct Row {
    pub fault: String,
    /// Nominal instants expected (grid schedules inside the phase's window).
    pub expected: usize,
    /// Expected instants without a run record.
    pub lost: usize,
    /// Instants with more than one run record.
    pub doubled: usize,
    /// Runs whose target was called more than once.
    pub duplicate_calls: usize,
    /// Calls made after their run had its result recorded.
    pub calls_after_finish: usize,
    /// Calls that arrived before their nominal instant.
    pub early: usize,
    /// The latest start after a nominal instant (ms).
    pub late_max_ms: i64,
    /// The longest gap between consecutive calls of one every-second schedule (ms).
    pub gap_max_ms: i64,
    /// Orphans: stored jobs that never fired, names answered 409 and 404.
    pub orphans: usize,
    /// API answers of 500 or more.
    pub api_5xx: usize,
    /// Other findings, as text.
    pub note: String,
}

impl Row {
    /// Whether the row breaks a promise: lost, doubled, early, orphaned, a finished run
    /// called again, or an API fault where a retry would have served.
    pub fn failed(&self) -> bool {
        self.lost
            + self.doubled
            + self.early
            + self.orphans
            + self.calls_after_finish
            + self.api_5xx
            > 0
    }
}

/// A run as recorded: its schedule, nominal instant, run id, and when its result was written.
#[derive(Clone, Debug)]
pub struct Recorded {
    pub schedule: String,
    pub nominal: i64,
    pub run_id: String,
    pub finished_at: Option<i64>,
}

/// Checks the window `[from, to)` of the every-second grid schedules `grid` against
/// `records` and `hits`.
pub fn check(
    fault: &str,
    (from, to): (i64, i64),
    grid: &[String],
    records: &[Recorded],
    hits: &[Hit],
) -> Row {
    let mut row = Row {
        fault: fault.to_string(),
        ..Row::default()
    };
    let in_window = |t: i64| t >= from && t < to;
    let mut by_instant: BTreeMap<(&str, i64), usize> = BTreeMap::new();
    for r in records.iter().filter(|r| in_window(r.nominal)) {
        *by_instant
            .entry((r.schedule.as_str(), r.nominal))
            .or_default() += 1;
    }
    for s in grid {
        let first = (from + 999) / 1000 * 1000;
        for t in (first..to).step_by(1000) {
            row.expected += 1;
            match by_instant.get(&(s.as_str(), t)).copied().unwrap_or(0) {
                0 => row.lost += 1,
                1 => {}
                _ => row.doubled += 1,
            }
        }
    }
    let run_of: BTreeMap<&str, &Recorded> =
        records.iter().map(|r| (r.run_id.as_str(), r)).collect();
    let mut calls: BTreeMap<&str, Vec<&Hit>> = BTreeMap::new();
    for h in hits {
        if let Some(id) = h.header("x-sap-job-run-id") {
            calls.entry(id).or_default().push(h);
        }
    }
    let mut last_call: BTreeMap<&str, Vec<i64>> = BTreeMap::new();
    for (id, hs) in &calls {
        let Some(r) = run_of.get(id) else { continue };
        if !in_window(r.nominal) {
            continue;
        }
        if hs.len() > 1 {
            row.duplicate_calls += 1;
        }
        for h in hs {
            if h.wall_ms < r.nominal {
                row.early += 1;
            }
            row.late_max_ms = row.late_max_ms.max(h.wall_ms - r.nominal);
            if r.finished_at.is_some_and(|f| h.wall_ms > f + 5) {
                row.calls_after_finish += 1;
            }
        }
        if grid.contains(&r.schedule) {
            last_call
                .entry(&r.schedule)
                .or_default()
                .push(hs[0].wall_ms);
        }
    }
    for (_, mut times) in last_call {
        times.sort_unstable();
        for w in times.windows(2) {
            row.gap_max_ms = row.gap_max_ms.max(w[1] - w[0]);
        }
    }
    row
}

/// Distinct phases (tens of ms within the second) of the interval schedules at the end of
/// `[from, to)`: each schedule's last fire in the window. Schedules started apart keep apart;
/// a leader change that brings them into step leaves fewer phases than schedules.
pub fn interval_phases(
    (from, to): (i64, i64),
    interval: &BTreeSet<String>,
    records: &[Recorded],
) -> usize {
    let mut last: BTreeMap<&str, i64> = BTreeMap::new();
    for r in records
        .iter()
        .filter(|r| interval.contains(&r.schedule) && r.nominal >= from && r.nominal < to)
    {
        let e = last.entry(r.schedule.as_str()).or_insert(r.nominal);
        *e = (*e).max(r.nominal);
    }
    let phases: BTreeSet<i64> = last.values().map(|t| t.rem_euclid(1000) / 10).collect();
    phases.len()
}

/// The table of `rows`, as Markdown.
pub fn table(rows: &[Row]) -> String {
    let mut out = String::from(
        "| fault | expected | lost | doubled | duplicate calls | calls after finish | early | late max (ms) | longest gap (ms) | orphans | API 5xx | notes |\n\
         | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |\n",
    );
    for r in rows {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            r.fault,
            r.expected,
            r.lost,
            r.doubled,
            r.duplicate_calls,
            r.calls_after_finish,
            r.early,
            r.late_max_ms,
            r.gap_max_ms,
            r.orphans,
            r.api_5xx,
            r.note
        );
    }
    out
}
